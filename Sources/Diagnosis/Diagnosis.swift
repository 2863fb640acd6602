import Cases
import Dispatch
import Engine
import Foundation
import Imaging
import Models

/// One case's inputs. Missing modalities are normal in a clinic (no slide yet, no labs).
public struct DiagnosisInput: Sendable {
    public var radiograph: Image
    public var slide: Image?
    /// nil: no blood tests. An empty panel counts as none.
    public var labs: [LabResult]?
    /// The clinical context (REAL in BTXRD): with the site, it becomes the context sentence the
    /// text encoder reads before the lab sentence, so the text modality is present whenever any of
    /// age, sex or site is known, labs or not. It only shapes the benign / intermediate / malignant
    /// answer; the detector alone decides lesion or no lesion (it never sees these).
    public var age: Int?
    public var sex: Sex?
    /// Anatomical site(s), free text as in BTXRD ("femur", "tibia;fibula").
    public var site: String?

    public init(radiograph: Image, slide: Image? = nil, labs: [LabResult]? = nil, age: Int? = nil, sex: Sex? = nil, site: String? = nil) {
        self.radiograph = radiograph; self.slide = slide; self.labs = labs; self.age = age; self.sex = sex; self.site = site
    }
}

/// Case -> findings: detection, lesion crop, encoders, fusion, exact Shapley contributions and a
/// Grad-CAM heatmap. Stateless apart from the shared models: safe to call from a background queue.
public struct Diagnosis: Sendable {
    public let models: ModelSet
    public let catalog: BiomarkerCatalog

    public init(models: ModelSet, catalog: BiomarkerCatalog) {
        self.models = models; self.catalog = catalog
    }

    /// With the bundled biomarker definitions.
    public init(models: ModelSet) throws {
        do { self.init(models: models, catalog: try BiomarkerCatalog.bundled) }
        catch { throw DiagnosisError.models("biomarkers.json: \(error)") }
    }

    /// Detection and the image-only classification of the top lesion (what `tumorboard detect` reports).
    public func detect(_ radiograph: Image, threshold: Float? = nil, nmsIoU: Float? = nil) throws -> DetectionResult {
        let lb = try Preprocessing.letterbox(radiograph)
        let x = try Preprocessing.tensor(lb)
        let boxes = try models.detector.detect(x, threshold: threshold, iou: nmsIoU).boxes
        guard let top = boxes.first else {
            return DetectionResult(width: radiograph.width, height: radiograph.height, detections: [], probabilities: nil)
        }
        let logits = try models.encodeLesion(lb, box: top).logits
        return DetectionResult(width: radiograph.width, height: radiograph.height,
                               detections: boxes.map { BoxFinding($0, letterbox: lb) },
                               probabilities: ClassProbabilities(FusionHead.softmax(logits, temperature: models.lesionTemperature)))
    }

    public func run(_ input: DiagnosisInput) throws -> Findings {
        var timings: [String: Double] = [:]
        func timed<T>(_ stage: String, _ body: () throws -> T) rethrows -> T {
            let t0 = DispatchTime.now().uptimeNanoseconds
            defer { timings[stage, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 }
            return try body()
        }
        let total0 = DispatchTime.now().uptimeNanoseconds

        // Radiograph: letterbox, detect, crop the top lesion (or the whole image), encode.
        let lb = try timed("preprocess") { try Preprocessing.letterbox(input.radiograph) }
        let x = try timed("preprocess") { try Preprocessing.tensor(lb) }
        let boxes = try timed("detect") { try models.detector.detect(x).boxes }
        let top = boxes.first
        let lesion = try timed("lesion_encoder") { try models.encodeLesion(lb, box: top) }
        let (cp, featureMap, imageFeature) = (lesion.crop, lesion.featureMap, lesion.feature)
        let imageOnly = FusionHead.softmax(lesion.logits, temperature: models.lesionTemperature)

        // No fusion head, no fused answer: never report the image-only one in its place. Checked
        // before the other encoders run (a missing text encoder is the lesser news).
        guard let fusion = models.fusion else {
            throw DiagnosisError.models("\(models.directory.appendingPathComponent("fusion_head.safetensors").path): missing (train with training/run_all.sh); without it there is no fused answer (tumorboard detect gives the radiograph-only one)")
        }
        let (slideFeature, textFeature, sentence) = try otherFeatures(input) { stage, body in try timed(stage, body) }
        let features: [Tensor?] = [imageFeature, slideFeature, textFeature]
        let present = features.map { $0 != nil }

        // Fusion, the 8 subset passes, exact Shapley values, Grad-CAM.
        let full = try timed("fusion") { try fusion(features) }
        let probabilities = full.probabilities
        let attention = full.attention   // nil under a product of the modalities' passes
        let predicted = probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0
        let subsetTable = try timed("shapley") { try ModalityShapley.table(fusion: fusion, features: features, present: present) }
        let contributions = ModalityShapley.values(table: subsetTable.mapValues { $0[predicted] }, players: ModalitySubset(present))
        let classGradient = try timed("gradcam") { try fusion.gradientOfLogit(predicted, withRespectToImageFeature: imageFeature, pass: full) }
        let cam = timed("gradcam") { GradCAM.map(featureMap: featureMap, gradient: classGradient) }
        let lesionBox = lb.boxToSource(x0: Double(cp.cx - cp.side / 2), y0: Double(cp.cy - cp.side / 2),
                                       x1: Double(cp.cx + cp.side / 2), y1: Double(cp.cy + cp.side / 2))
        timings["total"] = Double(DispatchTime.now().uptimeNanoseconds - total0) / 1e6

        return Findings(
            width: input.radiograph.width, height: input.radiograph.height,
            detections: boxes.map { BoxFinding($0, letterbox: lb) },
            lesion: top.map { BoxFinding($0, letterbox: lb) },
            probabilities: ClassProbabilities(probabilities),
            imageOnlyProbabilities: ClassProbabilities(imageOnly),
            predicted: ModelSet.classes[predicted],
            present: ModalityValues(present.map { $0 }),
            contributions: ModalityValues(contributions),
            attention: attention.map { ModalityValues($0.map { Optional($0) }) },
            sentence: sentence,
            heatmap: Heatmap(box: [lesionBox.x0, lesionBox.y0, lesionBox.x1, lesionBox.y1],
                             width: cam.width, height: cam.height, values: cam.values,
                             target: ModelSet.classes[predicted]),
            models: models.hashes,
            timingsMs: timings,
            subsets: Dictionary(uniqueKeysWithValues: subsetTable.map { (ModalitySubset(mask: $0.key).name, ClassProbabilities($0.value)) }))
    }
}

extension Diagnosis {
    /// The slide's and the clinical text's feature vectors (nil when absent) and the text the
    /// encoder read: the context sentence (age, sex, site) then the lab sentence
    /// (`ClinicalSentence.clinicalText`, training/labs.py `clinical_text`). `timed(stage, body)`
    /// wraps each encoder (for the timings).
    func otherFeatures(_ input: DiagnosisInput,
                       timed: (String, () throws -> Tensor) throws -> Tensor = { try $1() }) throws -> (Tensor?, Tensor?, String?) {
        var slideFeature: Tensor?
        if let slide = input.slide {
            guard let enc = models.pathologyEncoder else {
                throw DiagnosisError.models("a slide was given but \(models.directory.path)/pathology_encoder.safetensors is missing")
            }
            slideFeature = try timed("pathology_encoder") { try enc.features(Preprocessing.slideTensor(slide)) }
        }
        var labSentence: String?
        if let labs = input.labs, !labs.isEmpty {
            guard let age = input.age, let sex = input.sex else {
                throw DiagnosisError.input("labs need the patient's age and sex (the reference ranges depend on both)")
            }
            do { labSentence = try ClinicalSentence.text(panel: labs.panelForDiagnosis(), age: age, sex: sex, catalog: catalog) }
            catch { throw DiagnosisError.input("labs: \(error)") }
        }
        let context: String
        do { context = try ClinicalSentence.context(age: input.age, sex: input.sex, site: input.site) }
        catch { throw DiagnosisError.input("clinical context: \(error)") }
        guard let sentence = ClinicalSentence.clinicalText(context: context, labs: labSentence) else {
            return (slideFeature, nil, nil)
        }
        guard let tok = models.tokenizer, let bert = models.textEncoder else {
            throw DiagnosisError.models("\(labSentence != nil ? "labs were" : "the clinical context (age, sex, site) was") given but the text encoder is missing from \(models.directory.path)/text (run scripts/fetch-text-encoder)")
        }
        let textFeature = try timed("text_encoder") { try bert.embed(ids: tok.encode(sentence)) }
        return (slideFeature, textFeature, sentence)
    }
}

/// Exact Shapley values over the three modalities.
public enum ModalityShapley {
    /// The fusion head's probabilities for every subset of the present modalities (8 passes at
    /// most, on the cached features), keyed by subset mask.
    public static func table(fusion: FusionHead, features: [Tensor?], present: [Bool]) throws -> [Int: [Float]] {
        var out: [Int: [Float]] = [:]
        for mask in 0..<8 where (0..<3).allSatisfy({ mask & (1 << $0) == 0 || present[$0] }) {
            out[mask] = try fusion(features, present: (0..<3).map { mask & (1 << $0) != 0 }).probabilities
        }
        return out
    }

    /// Exact Shapley values of the present modalities for the predicted class's calibrated
    /// probability: v(S) is the fusion output with only S present; absent modalities are no
    /// players and get nil.
    public static func values(fusion: FusionHead, features: [Tensor?], present: [Bool], target: Int) throws -> [Float?] {
        let t = try table(fusion: fusion, features: features, present: present)
        return values(table: t.mapValues { $0[target] }, players: ModalitySubset(present))
    }

    /// The same from a table of v(S) by subset mask (every subset of `players` must be in it;
    /// a missing one counts as nil for its players): what tutor mode computes when modalities
    /// are switched off, without running the fusion head again.
    public static func values(table value: [Int: Float], players on: ModalitySubset) -> [Float?] {
        let players = (0..<3).filter { on.contains($0) }
        let n = players.count
        func fact(_ k: Int) -> Float { k <= 1 ? 1 : Float((2...k).reduce(1, *)) }
        var phi: [Float?] = [nil, nil, nil]
        player: for i in players {
            var s: Float = 0
            let others = players.filter { $0 != i }
            for subset in 0..<(1 << others.count) {
                var mask = 0, size = 0
                for (k, p) in others.enumerated() where subset & (1 << k) != 0 { mask |= 1 << p; size += 1 }
                let weight = fact(size) * fact(n - size - 1) / fact(n)
                guard let with = value[mask | (1 << i)], let without = value[mask] else { continue player }
                s += weight * (with - without)
            }
            phi[i] = s
        }
        return phi
    }
}

/// Grad-CAM for an encoder that ends in global average pooling: the weight of channel k is the
/// gradient of the class score with respect to pooled feature k divided by h*w (the pooling's
/// derivative), so the map is ReLU(sum_k g_k A_k) / (h w), normalised to 0...1 by its maximum.
public enum GradCAM {
    public static func map(featureMap a: Tensor, gradient g: [Float]) -> (width: Int, height: Int, values: [Float]) {
        let (c, h, w) = (a.shape[1], a.shape[2], a.shape[3])
        var cam = [Float](repeating: 0, count: h * w)
        for k in 0..<min(c, g.count) where g[k] != 0 {
            let plane = a.pointer + k * h * w
            let alpha = g[k] / Float(h * w)
            for p in 0..<(h * w) { cam[p] += alpha * plane[p] }
        }
        cam = cam.map { max(0, $0) }
        return (w, h, cam)
    }

    /// The map scaled to 0...1 by its maximum (all zero stays zero).
    public static func normalised(_ values: [Float]) -> [Float] {
        let m = values.max() ?? 0
        return m > 0 ? values.map { $0 / m } : values
    }
}
