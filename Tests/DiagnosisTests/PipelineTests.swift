import Cases
import Diagnosis
import Engine
import Foundation
import Imaging
import Models
import TestSupport
import XCTest

/// The Swift pipeline against the PyTorch reference, layer by layer, on the 20 test cases that
/// training/make_pipeline_fixtures.py wrote (Tests/Fixtures/pipeline/pipeline_cases.safetensors).
/// Radiographs are real (BTXRD test split); slides, labs and sentences are generated.
/// Tolerances: raw detector maps, features and logits |diff| <= 1e-3 * max(1, |ref|); boxes after
/// NMS IoU >= 0.99; probabilities within 1e-3; token ids exact.
final class PipelineTests: XCTestCase {
    struct Meta: Decodable {
        struct Case: Decodable {
            let key: String, image_id: String, label: String, has_slide: Bool, sentence: String, num_boxes: Int
            let age: Int, sex: String
            /// The REAL BTXRD site (none for normal images); `context` the context sentence alone,
            /// `sentence` the whole clinical text (context, then the generated lab sentence).
            let site: String?, context: String, lab_sentence: String
        }
        let cases: [Case]
    }

    static let fixturePath = Fixtures.repositoryRoot.appendingPathComponent("Tests/Fixtures/pipeline/pipeline_cases.safetensors")
    static let modelsDir = Fixtures.repositoryRoot.appendingPathComponent("models")

    // Loaded once for all tests.
    nonisolated(unsafe) static var loaded: (SafeTensors, Meta, ModelSet)?

    func load() throws -> (SafeTensors, Meta, ModelSet) {
        if let l = Self.loaded { return l }
        guard FileManager.default.fileExists(atPath: Self.fixturePath.path) else {
            throw XCTSkip("no pipeline fixture at \(Self.fixturePath.path) (training/make_pipeline_fixtures.py)")
        }
        for f in ["detector", "lesion_encoder", "pathology_encoder", "fusion_head"] {
            guard FileManager.default.fileExists(atPath: Self.modelsDir.appendingPathComponent("\(f).safetensors").path) else {
                throw XCTSkip("models/\(f).safetensors missing (training/run_all.sh)")
            }
        }
        guard FileManager.default.fileExists(atPath: Self.modelsDir.appendingPathComponent("text/all-MiniLM-L6-v2/model.safetensors").path) else {
            throw XCTSkip("text encoder not installed (scripts/fetch-text-encoder)")
        }
        let st = try SafeTensors(path: Self.fixturePath.path)
        let meta = try JSONDecoder().decode(Meta.self, from: Data(st.metadata["config"]!.utf8))
        let l = (st, meta, try ModelSet(directory: Self.modelsDir))
        Self.loaded = l
        return l
    }

    func close(_ got: [Float], _ ref: [Float], _ what: String, rtol: Float = 1e-3, file: StaticString = #filePath, line: UInt = #line) {
        assertClose(got, ref, what, rtol: rtol, file: file, line: line)
    }

    /// The real radiograph, read from the shared data at test time: the repository never holds
    /// the BTXRD images or images derived from them, only the reference outputs.
    func radiograph(_ id: String) throws -> Image {
        let data = ProcessInfo.processInfo.environment["TUMORBOARD_DATA"].map { URL(fileURLWithPath: $0) }
            ?? Fixtures.repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
        let url = data.appendingPathComponent("btxrd/images/\(id).png")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("BTXRD radiograph \(url.path) not available (the shared data is for developers and CI only)")
        }
        return try ImageDecoder().decode(contentsOf: url)
    }

    func slideImage(_ st: SafeTensors, _ k: String) throws -> Image {
        let px = try st.integers("\(k).slide_u8").map { UInt8($0) }
        let shape = try st.shape("\(k).slide_u8")
        return try Image(width: shape[1], height: shape[0], colour: .rgb, pixels: px)
    }

    /// Boxes after NMS against the reference's rows (x0, y0, x1, y1, score), matched as sets: boxes
    /// whose scores tie to float precision may come in either order.
    func assertBoxesMatch(_ boxes: [Detection], _ ref: [Float], count: Int, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        var unmatched = boxes
        for i in 0..<count {
            let r = Detection(x0: ref[i * 5], y0: ref[i * 5 + 1], x1: ref[i * 5 + 2], y1: ref[i * 5 + 3], score: ref[i * 5 + 4])
            if let j = unmatched.firstIndex(where: { $0.iou(r) >= 0.99 && abs($0.score - r.score) <= 1e-3 }) {
                unmatched.remove(at: j)
            } else {
                XCTFail("\(what): reference box \(i) \(r) has no Swift box with IoU >= 0.99 and score within 1e-3", file: file, line: line)
            }
        }
    }

    func testLayerByLayerAgainstPyTorch() throws {
        let (st, meta, models) = try load()
        XCTAssertEqual(meta.cases.count, 20)
        for c in meta.cases {
            let k = c.key
            // Detector input and raw maps.
            let lb = try Preprocessing.letterbox(radiograph(c.image_id))
            let x = try Preprocessing.tensor(lb)
            let (raw, boxes) = try models.detector.detect(x)
            for s in 0..<3 {
                close(raw[s].scalars, try st.tensor("\(k).det_raw\(s)").scalars, "\(k) det_raw\(s)")
            }
            // Boxes after NMS.
            let ref = try st.tensor("\(k).boxes").scalars
            XCTAssertEqual(boxes.count, c.num_boxes, "\(k): number of boxes")
            assertBoxesMatch(Array(boxes.prefix(c.num_boxes)), ref, count: c.num_boxes, k)
            if let top = boxes.first, c.num_boxes > 0 {
                XCTAssertGreaterThanOrEqual(top.iou(Detection(x0: ref[0], y0: ref[1], x1: ref[2], y1: ref[3], score: ref[4])), 0.99, "\(k): top box")
            }
            // Lesion crop, features, image-only head.
            let lesion = try models.encodeLesion(lb, box: boxes.first)
            let cp = lesion.crop
            close([cp.cx, cp.cy, cp.side], try st.tensor("\(k).crop_params").scalars, "\(k) crop params", rtol: 1e-3)
            let crop = try Preprocessing.lesionCrop(lb, cx: cp.cx, cy: cp.cy, side: cp.side)
            if st.contains("\(k).crop_checksum") {
                let v = crop.scalars.map(Double.init)
                let mean = v.reduce(0, +) / Double(v.count)
                let std = (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)).squareRoot()
                close([Float(v.reduce(0, +)), Float(std)], try st.tensor("\(k).crop_checksum").scalars, "\(k) crop sum and std", rtol: 1e-4)
            }
            let f = lesion.feature
            close(f.scalars, try st.tensor("\(k).image_features").scalars, "\(k) image features")
            close(lesion.logits, try st.tensor("\(k).image_logits").scalars, "\(k) image logits")
            // Slide.
            var features: [Tensor?] = [f, nil, nil]
            if c.has_slide {
                let pf = try models.pathologyEncoder!.features(Preprocessing.slideTensor(slideImage(st, k)))
                close(pf.scalars, try st.tensor("\(k).pathology_features").scalars, "\(k) pathology features")
                features[1] = pf
            }
            // Text.
            let ids = models.tokenizer!.encode(c.sentence)
            XCTAssertEqual(ids, try st.integers("\(k).token_ids"), "\(k) token ids")
            let emb = try models.textEncoder!.embed(ids: ids)
            close(emb.scalars, try st.tensor("\(k).text_embedding").scalars, "\(k) text embedding", rtol: 1e-4)
            features[2] = emb
            // Fusion and the 8 subset passes.
            let out = try models.fusion!(features)
            close(out.logits, try st.tensor("\(k).fusion_logits").scalars, "\(k) fusion logits")
            if case .attention = models.fusion!.combine {
                close(try XCTUnwrap(out.attention), try st.tensor("\(k).fusion_attention").scalars, "\(k) attention")
            } else {
                XCTAssertNil(out.attention, "\(k): a product has no attention weights")
            }
            close(out.probabilities, try st.tensor("\(k).probabilities").scalars, "\(k) probabilities")
            let subsets = try st.tensor("\(k).subset_logits").scalars
            for bits in 0..<8 {
                let m = (0..<3).map { bits >> $0 & 1 == 1 }
                let feats = features.enumerated().map { m[$0.offset] ? ($0.element ?? Tensor(zeros: [1, 256])) : $0.element }
                close(try models.fusion!(feats, present: m).logits, Array(subsets[bits * 3..<bits * 3 + 3]), "\(k) subset \(bits)")
            }
        }
    }

    /// A detector trained on an enlarged input (`input_side`, issue 15): the shipped weights read
    /// with input_side 384 and 320 against PyTorch's forward with the same config
    /// (training/make_detector_side_fixture.py): the letterbox resized as F.interpolate (bilinear),
    /// the raw maps at that side, and the boxes decoded back to 256-letterbox pixels.
    func testADetectorWithAnInputSideAgreesWithPyTorch() throws {
        struct SideMeta: Decodable {
            struct Case: Decodable { let key: String, image_id: String, input_side: Int, num_boxes: Int }
            let cases: [Case]
            let conf: Float, nms_iou: Float, detector: String
        }
        let path = Fixtures.repositoryRoot.appendingPathComponent("Tests/Fixtures/pipeline/detector_input_side.safetensors").path
        let detectorURL = Self.modelsDir.appendingPathComponent("detector.safetensors")
        guard FileManager.default.fileExists(atPath: detectorURL.path) else { throw XCTSkip("models/detector.safetensors missing (training/run_all.sh)") }
        let st = try SafeTensors(path: path)
        let meta = try JSONDecoder().decode(SideMeta.self, from: Data(try XCTUnwrap(st.metadata["config"]).utf8))
        XCTAssertEqual(try SHA256Digest.hex(ofFile: detectorURL), meta.detector,
                       "the fixture was made from other detector weights: python training/make_detector_side_fixture.py")
        let shipped = try SafeTensors(path: detectorURL.path)
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(shipped.metadata["config"]).utf8)) as? [String: Any])
        let tensors = try Dictionary(uniqueKeysWithValues: shipped.names.map { ($0, try shipped.tensor($0)) })
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-detside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(meta.cases.count, 3)
        var detectors: [Int: LesionDetector] = [:]   // one per side
        for c in meta.cases {
            if detectors[c.input_side] == nil {
                config["input_side"] = c.input_side
                let file = dir.appendingPathComponent("detector-\(c.input_side).safetensors").path
                let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
                try SafeTensorsWriter.write(tensors, metadata: ["config": json], to: file)
                detectors[c.input_side] = try LesionDetector(Weights(path: file))
            }
            let detector = try XCTUnwrap(detectors[c.input_side])
            let x = try Preprocessing.tensor(Preprocessing.letterbox(radiograph(c.image_id)))
            let (raw, boxes) = try detector.detect(x, threshold: meta.conf, iou: meta.nms_iou)
            for s in 0..<3 {
                let ref = try st.tensor("\(c.key).det_raw\(s)")
                XCTAssertEqual(Array(raw[s].shape.dropFirst()), ref.shape, "\(c.key) at \(c.input_side): raw map \(s) shape")
                close(raw[s].scalars, ref.scalars, "\(c.key) at \(c.input_side): det_raw\(s)")
            }
            XCTAssertGreaterThan(c.num_boxes, 0, "\(c.key): the fixture should hold boxes to compare")
            XCTAssertEqual(boxes.count, c.num_boxes, "\(c.key) at \(c.input_side): number of boxes")
            assertBoxesMatch(boxes, try st.tensor("\(c.key).boxes").scalars, count: c.num_boxes, "\(c.key) at \(c.input_side)")
        }
    }

    /// Grad-CAM from the hand-derived gradient against PyTorch autograd's Grad-CAM
    /// (training/make_gradcam_fixture.py), for the fused prediction and for the image-only head.
    func testGradCAMMatchesPyTorchAutograd() throws {
        let (st, meta, models) = try load()
        let camPath = Self.fixturePath.deletingLastPathComponent().appendingPathComponent("gradcam.safetensors")
        guard FileManager.default.fileExists(atPath: camPath.path) else { throw XCTSkip("no \(camPath.path)") }
        let cams = try SafeTensors(path: camPath.path)
        for c in meta.cases {
            let k = c.key
            let lb = try Preprocessing.letterbox(radiograph(c.image_id))
            let lesion = try models.encodeLesion(lb, box: models.detector.detect(Preprocessing.tensor(lb)).boxes.first)
            let (a, f) = (lesion.featureMap, lesion.feature)
            var features: [Tensor?] = [f, nil, try st.tensor("\(k).text_embedding").reshaped([1, -1])]
            if c.has_slide { features[1] = try st.tensor("\(k).pathology_features").reshaped([1, -1]) }
            let pass = try models.fusion!(features)
            let cls = try cams.integers("\(k).cam_fusion_class")[0]
            let g = try models.fusion!.gradientOfLogit(cls, withRespectToImageFeature: f, pass: pass)
            let ref = try cams.tensor("\(k).cam_fusion").scalars
            let scale = max(ref.max() ?? 0, 1e-6)
            close(GradCAM.map(featureMap: a, gradient: g).values.map { $0 / scale }, ref.map { $0 / scale }, "\(k) Grad-CAM (fusion)", rtol: 1e-3)

            let ci = try cams.integers("\(k).cam_image_class")[0]
            let fc = models.lesionEncoder.fc!
            let gi = Array(UnsafeBufferPointer(start: fc.weight.pointer + ci * fc.inFeatures, count: fc.inFeatures))
            let refI = try cams.tensor("\(k).cam_image").scalars
            let scaleI = max(refI.max() ?? 0, 1e-6)
            close(GradCAM.map(featureMap: a, gradient: gi).values.map { $0 / scaleI }, refI.map { $0 / scaleI }, "\(k) Grad-CAM (image only)", rtol: 1e-3)
        }
    }

    /// The whole `Diagnosis.run` on the same cases, with the lab panels of the committed cohort
    /// manifest: the Swift sentence must equal the reference's and the probabilities must agree.
    func testEndToEndDiagnosisAgreesWithPyTorch() throws {
        let (st, meta, models) = try load()
        let manifest = try CohortManifest.load(Fixtures.repositoryRoot.appendingPathComponent("training/cohort_manifest.csv"))
        let diagnosis = try Diagnosis(models: models)
        for c in meta.cases {
            let row = try XCTUnwrap(manifest[c.image_id], "\(c.image_id) not in the manifest")
            let input = DiagnosisInput(radiograph: try radiograph(c.image_id),
                                       slide: c.has_slide ? try slideImage(st, c.key) : nil,
                                       labs: row.labs, age: c.age, sex: Sex(rawValue: c.sex), site: c.site)
            let f = try diagnosis.run(input)
            XCTAssertEqual(f.sentence, c.sentence, "\(c.key) sentence")
            XCTAssertTrue(c.sentence.hasPrefix(c.context + " ") && c.sentence.hasSuffix(c.lab_sentence), "\(c.key): context, then labs")
            close(f.probabilities.values.map(Float.init), try st.tensor("\(c.key).probabilities").scalars, "\(c.key) probabilities")
            XCTAssertEqual(f.present.pathology, c.has_slide)
            let total = [f.contributions.image, f.contributions.pathology, f.contributions.labs].compactMap { $0 }.reduce(0, +)
            let subsets = try st.tensor("\(c.key).subset_logits").scalars
            let full = f.probabilities.values.map(Float.init)
            let predicted = full.indices.max { full[$0] < full[$1] }!
            let none = FusionHead.softmax(Array(subsets[0..<3]), temperature: models.fusion!.temperature)[predicted]
            XCTAssertEqual(total, full[predicted] - none, accuracy: 2e-3, "\(c.key): Shapley values add up to the gain")
        }
    }
}

extension PipelineTests {
    /// The same cases without labs (`predict --image F --age N --sex S --site X`): the text
    /// modality is the REAL context sentence alone, present, and the answer agrees with PyTorch's.
    func testContextWithoutLabsAgreesWithPyTorch() throws {
        let (st, meta, models) = try load()
        let diagnosis = try Diagnosis(models: models)
        var sited = 0
        for c in meta.cases {
            let input = DiagnosisInput(radiograph: try radiograph(c.image_id), slide: c.has_slide ? try slideImage(st, c.key) : nil,
                                       labs: nil, age: c.age, sex: Sex(rawValue: c.sex), site: c.site)
            let f = try diagnosis.run(input)
            XCTAssertEqual(f.sentence, c.context, "\(c.key) context sentence")
            XCTAssertEqual(f.present.labs, true, "\(c.key): the context makes the text modality present")
            close(f.probabilities.values.map(Float.init), try st.tensor("\(c.key).context_probabilities").scalars, "\(c.key) probabilities, context only")
            if c.site != nil { sited += 1; XCTAssertTrue(c.context.contains(" with a lesion of the "), c.context) }
            if c.label == "normal" { XCTAssertNil(c.site, "BTXRD records no site for normal images") }
        }
        XCTAssertEqual(sited, meta.cases.filter { $0.label != "normal" }.count, "every tumour case has its site")
    }
}

/// The lab panels of training/cohort_manifest.csv (generated values), by image id.
enum CohortManifest {
    struct Row { let labs: [LabResult] }

    static func load(_ url: URL) throws -> [String: Row] {
        var lines = try String(contentsOf: url, encoding: .utf8).split(whereSeparator: \.isNewline).map(String.init)
        let header = DatasetLayout.splitCSV(lines.removeFirst())
        let col = Dictionary(uniqueKeysWithValues: header.enumerated().map { ($1, $0) })
        let markers = header.filter { $0.hasSuffix("_value") }.map { String($0.dropLast(6)) }
        var out: [String: Row] = [:]
        for line in lines {
            let r = DatasetLayout.splitCSV(line)
            guard r.count == header.count else { continue }
            let labs = markers.compactMap { m -> LabResult? in
                guard let v = Double(r[col["\(m)_value"]!]) else { return nil }
                return LabResult(marker: m, value: v, unit: r[col["\(m)_unit"]!])
            }
            out[r[col["image_id"]!]] = Row(labs: labs)
        }
        return out
    }
}
