import Cases
import Foundation
import Imaging
import TestSupport
import XCTest
@testable import Diagnosis

/// `tumorboard report`: the annotated radiograph pixel by pixel on a synthetic image and synthetic
/// findings, the Markdown against the record and the findings, the folder rules, and the command
/// on a temporary store with a bundled sample (the second report reads the kept result back).
final class CaseReportTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    // MARK: fixtures

    static let grey: UInt8 = 100
    static let lesionBox = [20.0, 30, 80, 90], otherBox = [120.0, 40, 170, 100]
    /// Half-pixel edges put a pixel centre on every cell centre (so the hottest pixel is exactly 1);
    /// the pixels covered are x 10..<90, y 20..<100.
    static let heatBox = [10.5, 20.5, 90.5, 100.5]
    /// A 4 x 4 grid over heatBox (20 px cells); the hottest cell is column 2, row 1, the coldest row 3.
    static let heatValues: [Float] = [0.2, 0.5, 0.9, 0.4,
                                      0.3, 0.6, 2.4, 0.5,
                                      0.1, 0.3, 0.7, 0.2,
                                      0.0, 0.0, 0.0, 0.0]
    static let digests = ["detector.safetensors": String(repeating: "a1", count: 32),
                          "fusion_head.safetensors": String(repeating: "b2", count: 32)]
    static let sentence = "Markedly elevated alkaline phosphatase for age."

    /// Findings in the `predict` JSON format (the way a kept result comes back).
    static func findings(width: Int = 200, height: Int = 160, lesion: Bool = true) throws -> Findings {
        let json = """
        {"width": \(width), "height": \(height),
         "detections": [{"box": [20, 30, 80, 90], "score": 0.913}, {"box": [120, 40, 170, 100], "score": 0.42}],
         "lesion": \(lesion ? #"{"box": [20, 30, 80, 90], "score": 0.913}"# : "null"),
         "probabilities": {"benign": 0.123456, "intermediate": 0.234567, "malignant": 0.641977},
         "image_only_probabilities": {"benign": 0.2, "intermediate": 0.30004, "malignant": 0.49996},
         "predicted": "malignant",
         "present": {"image": true, "pathology": false, "labs": true},
         "contributions": {"image": 0.30121, "pathology": null, "labs": -0.04118},
         "attention": {"image": 0.7, "pathology": 0, "labs": 0.3},
         "sentence": "\(sentence)",
         "heatmap": {"box": \(heatBox), "width": 4, "height": 4, "values": \(heatValues), "target": "malignant"},
         "models": {"detector.safetensors": "\(digests["detector.safetensors"]!)", "fusion_head.safetensors": "\(digests["fusion_head.safetensors"]!)"},
         "timings_ms": {"total": 12.5}}
        """
        return try Findings.fromJSON(json)
    }

    func radiographFile(width: Int = 200, height: Int = 160) throws -> URL {
        let url = dir.appendingPathComponent("radiograph-\(width)x\(height).png")
        try Image(width: width, height: height, colour: .grey, pixels: [UInt8](repeating: Self.grey, count: width * height)).writePNG(to: url)
        return url
    }

    func record(signed: Bool, provenance: String? = "synthetic, not a patient: a test image") throws -> CaseRecord {
        let file = try radiographFile()
        return CaseRecord(
            id: "TEST-07", age: 15, sex: .male, site: "femur", clinicalNote: "Night pain | swelling", label: .malignant,
            subtype: "osteosarcoma", provenance: provenance,
            radiographs: [Radiograph(file: file.path, view: "frontal", sha256: try SHA256Digest.hex(ofFile: file))],
            labs: [LabResult(marker: "alp", value: 700, unit: "U/L", date: "2026-01-02"),
                   LabResult(marker: "alp", value: 1200, unit: "U/L", date: "2026-01-14"),
                   LabResult(marker: "calcium", value: 9.6, unit: "mg/dL", date: "2026-01-14")],
            review: signed ? Review(note: "Agree: aggressive lesion.", signedOffBy: "drsmith", signedOffAt: "2026-02-01T10:00:00.000Z")
                           : Review(note: "Looking.", signedOffBy: nil, signedOffAt: nil))
    }

    // MARK: the annotated radiograph

    func testBoxesAreOutlinedInTheirColoursAndTheRestStaysGrey() throws {
        let g = Self.grey
        let image = try Image(width: 200, height: 160, colour: .grey, pixels: [UInt8](repeating: g, count: 200 * 160))
        let a = try AnnotatedRadiograph(radiograph: image, findings: Self.findings())
        XCTAssertEqual(a.width, 200)
        XCTAssertEqual(a.radiographHeight, 160)
        XCTAssertGreaterThan(a.height, 160, "a legend strip below the picture")
        func same(_ p: AnnotatedRadiograph.RGB?, _ q: AnnotatedRadiograph.RGB, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
            guard let p else { return XCTFail("\(what): outside the canvas", file: file, line: line) }
            XCTAssertTrue(p == q, "\(what): \(p), expected \(q)", file: file, line: line)
        }
        // Edges: x0 and y0 inclusive, x1 and y1 exclusive (the last pixel of the box is x1 - 1).
        same(a.pixel(x: 120, y: 70), AnnotatedRadiograph.modelBoxColour, "the other box's left edge")
        same(a.pixel(x: 169, y: 70), AnnotatedRadiograph.modelBoxColour, "the other box's right edge")
        same(a.pixel(x: 145, y: 99), AnnotatedRadiograph.modelBoxColour, "the other box's bottom edge")
        same(a.pixel(x: 145, y: 70), (g, g, g), "inside the other box (no heat there)")
        same(a.pixel(x: 170, y: 70), (g, g, g), "just right of the other box")
        let red = AnnotatedRadiograph.classColour("malignant")
        same(a.pixel(x: 20, y: 60), red, "the lesion's left edge, in the class colour over the heat")
        same(a.pixel(x: 79, y: 60), red, "the lesion's right edge")
        same(a.pixel(x: 50, y: 89), red, "the lesion's bottom edge")

        // Outside the heatmap's box, the boxes and their labels (above each box), every pixel is grey.
        let lh = PixelFont.height + 2
        func excluded(_ x: Int, _ y: Int) -> Bool {
            func inside(_ b: [Double], labelWidth: Int) -> Bool {
                x >= Int(b[0]) && x < max(Int(b[2]), Int(b[0]) + labelWidth) && y >= Int(b[1]) - lh && y < Int(b[3])
            }
            return (x >= 10 && x < 90 && y >= 20 && y < 100)
                || inside(Self.lesionBox, labelWidth: PixelFont.textWidth("MALIGNANT 0.91", scale: 1))
                || inside(Self.otherBox, labelWidth: PixelFont.textWidth("0.42", scale: 1))
        }
        var notGrey: [(Int, Int)] = []
        for y in 0..<160 { for x in 0..<200 where !excluded(x, y) {
            if let p = a.pixel(x: x, y: y), !(p == (g, g, g)) { notGrey.append((x, y)) }
        } }
        XCTAssertTrue(notGrey.isEmpty, "\(notGrey.count) pixels outside the heatmap and the boxes changed, first \(notGrey.prefix(3))")
        // The labels are drawn: the lesion's plate is its class colour just above its top edge.
        same(a.pixel(x: 20, y: 30 - lh), red, "the lesion's label plate")
    }

    /// Reading the colour map backwards over the heatmap's box finds the hottest cell where the
    /// grid has it, the coldest row left grey.
    func testTheHottestCellIsWhereTheColourSaysHot() throws {
        let g = Self.grey
        let image = try Image(width: 200, height: 160, colour: .grey, pixels: [UInt8](repeating: g, count: 200 * 160))
        // Without a lesion box nothing is drawn over the heat.
        let a = try AnnotatedRadiograph(radiograph: image, findings: Self.findings(lesion: false))
        XCTAssertTrue(a.heatDrawn)
        let ramp = (0...1000).map { k -> (Float, AnnotatedRadiograph.RGB) in
            let h = AnnotatedRadiograph.heatFloor + (1 - AnnotatedRadiograph.heatFloor) * Float(k) / 1000
            return (h, AnnotatedRadiograph.blend((g, g, g), heat: h))
        }
        func readHeat(_ p: AnnotatedRadiograph.RGB) -> Float? {
            if p == (g, g, g) { return 0 }
            func d(_ q: AnnotatedRadiograph.RGB) -> Int { abs(Int(p.0) - Int(q.0)) + abs(Int(p.1) - Int(q.1)) + abs(Int(p.2) - Int(q.2)) }
            guard let best = ramp.min(by: { d($0.1) < d($1.1) }), d(best.1) <= 3 else { return nil }
            return best.0
        }
        var hottest: (x: Int, y: Int, h: Float) = (0, 0, -1)
        for y in 20..<100 { for x in 10..<90 {
            // The detection [20, 30, 80, 90] and its label are drawn over the heat; skip them.
            if x >= 20 && x < 80 && y >= 30 - PixelFont.height - 2 && y < 90 && (x == 20 || x == 79 || y == 30 || y == 89 || y < 30) { continue }
            guard let p = a.pixel(x: x, y: y) else { continue }
            guard let h = readHeat(p) else { XCTFail("(\(x), \(y)): \(p) is no colour of the map over grey"); return }
            if h > hottest.h { hottest = (x, y, h) }
        } }
        // Column 2, row 1 of 20 px cells from (10, 20): x 50..<70, y 40..<60; its centre is exactly 1.
        XCTAssertTrue((50..<70).contains(hottest.x) && (40..<60).contains(hottest.y), "hottest pixel at \(hottest)")
        XCTAssertGreaterThan(hottest.h, 0.99)
        XCTAssertTrue(a.pixel(x: 60, y: 50)! == AnnotatedRadiograph.blend((g, g, g), heat: 1), "the hottest cell's centre")
        XCTAssertEqual(readHeat(a.pixel(x: 30, y: 95)!), 0, "the coldest row stays grey")
        // Hot reads hot: the map's top is light and warm, its bottom dark.
        let top = AnnotatedRadiograph.heatColour(1), bottom = AnnotatedRadiograph.heatColour(0)
        XCTAssertGreaterThan(Int(top.0) + Int(top.1), Int(bottom.0) + Int(bottom.1) + 300)
        XCTAssertGreaterThan(top.0, top.2)
        // The legend's ramp ends at the map's hottest colour.
        var legendHot = false
        for y in a.radiographHeight..<a.height { for x in 0..<a.width where a.pixel(x: x, y: y)! == top { legendHot = true } }
        XCTAssertTrue(legendHot, "the legend shows the hot end of the map")
    }

    /// A kept result is data: a grid that does not fit its size, boxes past the edges or of no
    /// area are drawn clipped or left out, never a crash.
    func testMalformedHeatmapsAndBoxesAreLeftOutOrClipped() throws {
        var f = try Self.findings()
        f.heatmap.width = 3
        f.detections = try JSONDecoder().decode([BoxFinding].self, from: Data(#"[{"box": [-50, -50, 1e12, 5], "score": 0.5}, {"box": [30, 30, 30, 60], "score": 0.4}, {"box": [1, 2], "score": 0.3}]"#.utf8))
        f.lesion = nil
        let g = Self.grey
        let image = try Image(width: 200, height: 160, colour: .grey, pixels: [UInt8](repeating: g, count: 200 * 160))
        let a = try AnnotatedRadiograph(radiograph: image, findings: f)
        XCTAssertFalse(a.heatDrawn)
        XCTAssertTrue(a.pixel(x: 0, y: 0)! == AnnotatedRadiograph.modelBoxColour, "the clipped box's corner")
        XCTAssertTrue(a.pixel(x: 199, y: 4)! == AnnotatedRadiograph.modelBoxColour, "the clipped box's bottom right")
        // Below the clipped box and its label nothing was drawn: no heat, no empty box.
        var changed = 0
        for y in 20..<160 { for x in 0..<200 where !(a.pixel(x: x, y: y)! == (g, g, g)) { changed += 1 } }
        XCTAssertEqual(changed, 0)
    }

    func testFindingsForAnotherImageSizeAreRefused() throws {
        let image = try Image(width: 120, height: 160, colour: .grey, pixels: [UInt8](repeating: 9, count: 120 * 160))
        XCTAssertThrowsError(try AnnotatedRadiograph(radiograph: image, findings: Self.findings())) { e in
            XCTAssertTrue("\(e)".contains("200 x 160") && "\(e)".contains("120 x 160"), "\(e)")
        }
    }

    // MARK: the Markdown

    func testTheMarkdownHoldsWhatTheFindingsAndTheRecordSay() throws {
        let f = try Self.findings()
        // The audit trail as a store keeps it.
        let store = try CaseStore(path: dir.appendingPathComponent("audit.sqlite").path, user: "drsmith")
        XCTAssertTrue(try store.add(try record(signed: false)))
        try store.setReviewNote("TEST-07", "Agree | aggressive")
        let audit = try store.auditTrail("TEST-07")
        let m = CaseReport(record: try record(signed: true), findings: f, audit: audit, kept: true).markdown
        XCTAssertTrue(m.hasPrefix("# TumorBoard case report: TEST-07\n"))
        // Probabilities and contributions to four decimal places, as the findings hold them.
        XCTAssertEqual(CaseReport.decimals, 4)
        for row in ["| benign | 0.1235 | 0.2000 |", "| intermediate | 0.2346 | 0.3000 |", "| malignant (answer) | 0.6420 | 0.5000 |",
                    "| radiograph | yes | +0.3012 | 0.7000 |", "| pathology slide | no | — | — |", "| labs | yes | -0.0412 | 0.3000 |"] {
            XCTAssertTrue(m.contains(row), "no row '\(row)' in:\n\(m)")
        }
        for (k, c) in ["benign", "intermediate", "malignant"].enumerated() {
            XCTAssertTrue(m.contains(String(format: "%.4f", f.probabilities.values[k])), c)
        }
        XCTAssertTrue(m.contains("> \(Self.sentence)"), "the clinical sentence")
        XCTAssertTrue(m.contains("| Alkaline phosphatase | 1200 | U/L | 138–511 | **high**"), m)
        XCTAssertTrue(m.contains("| Alkaline phosphatase | 700 | U/L | 138–511 | **high** (mild) | 2026-01-02 | no (an older result) |"), m)
        for (file, hash) in Self.digests { XCTAssertTrue(m.contains("| \(file) | `\(hash)` |"), file) }
        XCTAssertTrue(m.contains("- Signed off by: drsmith\n- Signed off at: 2026-02-01T10:00:00.000Z\n"), m)
        XCTAssertTrue(m.contains("Signed off by **drsmith** at 2026-02-01T10:00:00.000Z."))
        XCTAssertFalse(m.contains("NOT SIGNED OFF"))
        XCTAssertTrue(m.contains("- Reviewer's note: Agree: aggressive lesion."))
        XCTAssertTrue(m.contains("not a medical device"))
        XCTAssertTrue(m.contains("| radiograph | radiograph-200x160.png, 200 x 160 px, frontal") && m.contains("| GENERATED (synthetic case, not a patient) |"), m)
        XCTAssertTrue(m.contains("**Generated inputs.**"))
        XCTAssertTrue(m.contains("| clinical note | Night pain \\| swelling |"), "a | in free text must not split the table")
        XCTAssertEqual(audit.count, 2)
        for a in audit { XCTAssertTrue(m.contains("| \(a.at) | drsmith | \(a.action) |"), "audit row '\(a.action)' in:\n\(m)") }
        XCTAssertTrue(m.contains("| review note edited | Agree \\| aggressive |"), m)
        XCTAssertTrue(m.contains("box [20, 30, 80, 90]") && m.contains("detector score 0.91"))
        XCTAssertTrue(m.contains("read back from an earlier run"))
        XCTAssertTrue(m.contains("![The radiograph with the model's boxes and the Grad-CAM heatmap](radiograph.png)"))

        // Findings of a head that combines by product carry no attention: the table has no such
        // column, and the text says why.
        var product = f
        product.attention = nil
        let p = CaseReport(record: try record(signed: true), findings: product, audit: audit, kept: true).markdown
        for row in ["| modality | present | contribution |\n", "| radiograph | yes | +0.3012 |\n", "| pathology slide | no | — |\n", "| labs | yes | -0.0412 |\n"] {
            XCTAssertTrue(p.contains(row), "no row '\(row)' in:\n\(p)")
        }
        XCTAssertFalse(p.contains("attention |"), p)
        XCTAssertTrue(p.contains("a product of experts"), p)
    }

    func testAnUnsignedCaseSaysSoAndARealRadiographIsMarkedReal() throws {
        let btxrd = "BTXRD IMG000123: a real radiograph (Yao et al., Sci Data 2025; CC BY-NC-ND 4.0; research and education only)"
        let m = CaseReport(record: try record(signed: false, provenance: btxrd), findings: try Self.findings()).markdown
        XCTAssertTrue(m.contains("> **NOT SIGNED OFF.**"), m)
        XCTAssertTrue(m.contains("- **Not signed off.**"))
        XCTAssertFalse(m.contains("Signed off by"))
        XCTAssertTrue(m.contains("| REAL (BTXRD, Yao et al. 2025) |"), m)
        XCTAssertTrue(m.contains("| labs | 3 results (the table below) | GENERATED (the BTXRD cohort's slides and labs are generated"), m)
        XCTAssertFalse(m.contains("## Audit trail"), "no audit given, no section")
        let none = CaseReport(record: try record(signed: false, provenance: nil), findings: try Self.findings(lesion: false)).markdown
        XCTAssertFalse(none.contains("GENERATED") || none.contains("REAL"), "nothing guessed without a provenance")
        XCTAssertTrue(none.contains("**No lesion found**"))
    }

    // MARK: writing

    func testTheReportIsWrittenAndThePictureDecodesBack() throws {
        let report = CaseReport(record: try record(signed: true), findings: try Self.findings())
        let out = dir.appendingPathComponent("reports/TEST-07")
        let files = try report.write(to: out)
        XCTAssertEqual(files.report.lastPathComponent, "report.md")
        XCTAssertEqual(try String(contentsOf: files.report, encoding: .utf8), report.markdown)
        let png = try ImageDecoder().decode(contentsOf: files.image)
        let expected = try report.annotatedRadiograph()
        XCTAssertEqual(png.width, 200)
        XCTAssertEqual(png.height, expected.height)
        XCTAssertEqual(png.colour, .rgb)
        XCTAssertEqual(png, try expected.image(), "the PNG holds the annotated radiograph")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("reports").path), ["TEST-07"], "no staging left")
        // Again into the same folder: the earlier report of the same case is replaced.
        XCTAssertNoThrow(try report.write(to: out))
    }

    func testAFolderThatIsNotThisCasesReportIsRefusedUntouched() throws {
        let report = CaseReport(record: try record(signed: false), findings: try Self.findings())
        let fm = FileManager.default
        // Somebody's notes.
        let notes = dir.appendingPathComponent("notes")
        try fm.createDirectory(at: notes, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: notes.appendingPathComponent("todo.txt"))
        XCTAssertThrowsError(try report.write(to: notes)) { XCTAssertTrue("\($0)".contains("holds no TumorBoard case report"), "\($0)") }
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: notes.path), ["todo.txt"])
        // Another case's report.
        let other = dir.appendingPathComponent("other")
        try fm.createDirectory(at: other, withIntermediateDirectories: true)
        try Data("# TumorBoard case report: CASE-99\n".utf8).write(to: other.appendingPathComponent("report.md"))
        XCTAssertThrowsError(try report.write(to: other)) { XCTAssertTrue("\($0)".contains("report of case CASE-99, not TEST-07"), "\($0)") }
        // This case's report with a file of the user's beside it: it would be lost.
        let mixed = dir.appendingPathComponent("mixed")
        try report.write(to: mixed)
        try Data("mine".utf8).write(to: mixed.appendingPathComponent("my-notes.md"))
        XCTAssertThrowsError(try report.write(to: mixed)) { XCTAssertTrue("\($0)".contains("my-notes.md"), "\($0)") }
        XCTAssertTrue(fm.fileExists(atPath: mixed.appendingPathComponent("my-notes.md").path))
        // A file in the way.
        let file = dir.appendingPathComponent("a-file")
        try Data().write(to: file)
        XCTAssertThrowsError(try report.write(to: file)) { XCTAssertTrue("\($0)".contains("is a file"), "\($0)") }
    }

    func testARadiographChangedSinceTheCaseRecordedItIsRefused() throws {
        var r = try record(signed: false)
        r.radiographs[0].sha256 = String(repeating: "cd", count: 32)
        let out = dir.appendingPathComponent("out")
        XCTAssertThrowsError(try CaseReport(record: r, findings: Self.findings()).write(to: out)) { e in
            XCTAssertTrue("\(e)".contains("the file changed"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing written")
    }

    // MARK: the shared path and the command

    func testKeptFindingsAreReadBackUnlessRerun() throws {
        let r = try record(signed: false)
        let archive = MemoryFindingsArchive()
        var runs = 0
        let hashes = Self.digests
        let first = try KeptDiagnosis.findings(for: r, modelHashes: hashes, archive: archive) { _ in runs += 1; return try Self.findings() }
        XCTAssertFalse(first.kept)
        XCTAssertNil(first.keepProblem)
        let second = try KeptDiagnosis.findings(for: r, modelHashes: hashes, archive: archive) { _ in runs += 1; return try Self.findings() }
        XCTAssertTrue(second.kept)
        XCTAssertEqual(runs, 1, "the kept result was read back")
        _ = try KeptDiagnosis.findings(for: r, modelHashes: hashes, archive: archive, rerun: true) { _ in runs += 1; return try Self.findings() }
        XCTAssertEqual(runs, 2, "--rerun runs")
        var other = hashes
        other["detector.safetensors"] = String(repeating: "ff", count: 32)
        XCTAssertFalse(try KeptDiagnosis.findings(for: r, modelHashes: other, archive: archive) { _ in try Self.findings() }.kept, "new weights, new run")
    }

    struct Run { let status: Int32; let stdout: String; let stderr: String }

    func run(_ args: [String]) throws -> Run {
        guard let exe = builtTumorboard() else { throw XCTSkip("tumorboard executable not found next to the test bundle (swift build --product tumorboard)") }
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        // Weight digests remembered in the temporary folder, never in the user's cache.
        p.environment = ProcessInfo.processInfo.environment.merging(["TUMORBOARD_DIGEST_CACHE": dir.appendingPathComponent("digests.json").path]) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "\(args): killed by a signal")
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func testTheCommandWritesTheReportAndTheSecondRunReadsTheKeptResult() throws {
        let repo = Fixtures.repositoryRoot, models = repo.appendingPathComponent("models")
        guard FileManager.default.fileExists(atPath: models.appendingPathComponent("detector.safetensors").path) else {
            throw XCTSkip("no models in \(models.path)")
        }
        let storePath = dir.appendingPathComponent("cases.sqlite").path
        let id = "SAMPLE-01-OSTEOCHONDROMA"
        do {
            let store = try CaseStore(path: storePath, user: "tester")
            let imported = try store.importCaseFolders(in: repo.appendingPathComponent("samples"))
            XCTAssertTrue(imported.imported.contains(id), "\(imported)")
        }
        func findingRows() throws -> Int { try CaseStore(path: storePath).load(id).findings.count }
        let out = dir.appendingPathComponent("report-\(id)")
        let args = ["report", id, "--out", out.path, "--store", storePath, "--models", models.path]

        // A folder that is not this case's report is refused before the models run.
        let busy = dir.appendingPathComponent("busy")
        try FileManager.default.createDirectory(at: busy, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: busy.appendingPathComponent("notes.txt"))
        let refused = try run(["report", id, "--out", busy.path, "--store", storePath, "--models", models.path])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("\(id): \(busy.path): is not empty and holds no TumorBoard case report"), refused.stderr)
        XCTAssertEqual(try findingRows(), 0, "refused before any model ran")

        let first = try run(args)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(first.stdout, "\(out.path)/report.md\n\(out.path)/radiograph.png\n")
        XCTAssertTrue(first.stderr.contains("findings computed by the models"), first.stderr)
        XCTAssertEqual(try findingRows(), 1, "the result was kept in the store")
        let md = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(md.hasPrefix("# TumorBoard case report: \(id)\n"))
        XCTAssertTrue(md.contains("> **NOT SIGNED OFF.**"))
        XCTAssertTrue(md.contains("GENERATED (synthetic case, not a patient)"))
        XCTAssertTrue(md.contains("| detector.safetensors | `"), "the digests")
        let png = try ImageDecoder().decode(contentsOf: out.appendingPathComponent("radiograph.png"))
        let source = try ImageDecoder().decode(contentsOf: repo.appendingPathComponent("samples/\(id)/radiograph.png"))
        XCTAssertEqual(png.width, source.width)
        XCTAssertGreaterThan(png.height, source.height, "the picture and its legend")

        // Signed off in the store meanwhile: the review is not an input, so the kept result holds.
        try CaseStore(path: storePath, user: "drsmith").signOff(id)
        let second = try run(args)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("kept findings read back"), second.stderr)
        XCTAssertEqual(try findingRows(), 1, "no model run: no new finding row")
        let md2 = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(md2.contains("- Signed off by: drsmith\n"), md2)
        XCTAssertFalse(md2.contains("NOT SIGNED OFF"))
        XCTAssertTrue(md2.contains("| signed off | by drsmith |"), "the audit trail")
        // The probabilities are those of the first run.
        let probabilities = { (text: String) in text.split(separator: "\n").filter { $0.hasPrefix("| benign") || $0.hasPrefix("| intermediate") || $0.hasPrefix("| malignant") } }
        XCTAssertEqual(probabilities(md), probabilities(md2))
    }

    func testTheCommandNamesAMissingCaseOrStore() throws {
        let storePath = dir.appendingPathComponent("cases.sqlite").path
        _ = try CaseStore(path: storePath)
        let missing = try run(["report", "NO-SUCH-CASE", "--out", dir.appendingPathComponent("r").path, "--store", storePath])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("NO-SUCH-CASE"), missing.stderr)
        let noStore = dir.appendingPathComponent("typo.sqlite").path
        let r = try run(["report", "X", "--out", dir.appendingPathComponent("r").path, "--store", noStore])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("typo.sqlite: case store: no case store there"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: noStore), "no store created by a typo")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("r").path), "nothing written")
    }
}
