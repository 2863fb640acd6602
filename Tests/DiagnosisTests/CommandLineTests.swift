import Foundation
import Imaging
import TestSupport
import XCTest

/// Bad input to `tumorboard predict` and `tumorboard detect`, through the real executable: every
/// case ends with a message naming the file and the problem, a non-zero exit, and no crash.
final class CommandLineTests: XCTestCase {
    var dir: URL!

    var executable: URL? { builtTumorboard() }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tb-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    struct Run { let status: Int32; let signalled: Bool; let stdout: String; let stderr: String }

    func run(_ args: [String], environment: [String: String] = [:]) throws -> Run {
        guard let exe = executable else { throw XCTSkip("tumorboard executable not found next to the test bundle") }
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                   stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Bad files, each with the text its error must contain.
    func badImages() throws -> [(path: String, expect: [String])] {
        func write(_ name: String, _ data: Data) throws -> String {
            let url = dir.appendingPathComponent(name); try data.write(to: url); return url.path
        }
        let good = try Image(width: 40, height: 30, colour: .grey, pixels: [UInt8](repeating: 90, count: 1200))
        let goodURL = dir.appendingPathComponent("good.png")
        try good.writePNG(to: goodURL)
        let full = try Data(contentsOf: goodURL)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("folder.png"), withIntermediateDirectories: true)
        return [
            (dir.appendingPathComponent("absent.png").path, ["absent.png"]),
            (dir.appendingPathComponent("folder.png").path, ["folder.png"]),
            (try write("empty.png", Data()), ["empty.png", "empty"]),
            (try write("truncated.png", full.prefix(full.count / 2)), ["truncated.png"]),
            (try write("notes.png", Data("these are notes, not pixels\n".utf8)), ["notes.png", "not a PNG or JPEG"]),
            (try write("huge.png", pngDeclaring(width: 1_000_000, height: 1_000_000)), ["huge.png", "1000000 x 1000000"]),
            (try write("random.dcm", dicomLookingRandomBytes()), ["random.dcm"]),
        ]
    }

    func testPredictRefusesBadImagesClearly() throws {
        for (path, expect) in try badImages() {
            let r = try run(["predict", "--image", path, "--json"])
            XCTAssertFalse(r.signalled, "\(path): crashed")
            XCTAssertNotEqual(r.status, 0, "\(path): accepted")
            XCTAssertEqual(r.stdout, "", "\(path): printed output")
            for e in expect { XCTAssert(r.stderr.contains(e), "\(path): message '\(r.stderr)' lacks '\(e)'") }
        }
    }

    func testPredictRefusesBadLabs() throws {
        let image = dir.appendingPathComponent("r.png")
        try Image(width: 32, height: 32, colour: .grey, pixels: [UInt8](repeating: 100, count: 1024)).writePNG(to: image)
        let cases: [(String, String, [String])] = [
            ("unknown-marker.json", #"[{"marker": "troponin", "value": 3, "unit": "ng/L"}]"#, ["unknown-marker.json", "troponin"]),
            ("wrong-unit.json", #"[{"marker": "alp", "value": 300, "unit": "mg/dL"}]"#, ["wrong-unit.json", "mg/dL"]),
            ("not-labs.json", #"{"hello": 1}"#, ["not-labs.json", "not a lab panel"]),
            ("string-value.json", #"[{"marker": "alp", "value": "812", "unit": "U/L"}]"#, ["string-value.json: entry 0, value: expected a number, got the text \"812\""]),
            ("null-value.json", #"[{"marker": "alp", "value": 3, "unit": "U/L"}, {"marker": "ldh", "value": null, "unit": "U/L"}]"#, ["entry 1, value: expected a number, got null"]),
            ("bool-value.json", #"[{"marker": "alp", "value": true, "unit": "U/L"}]"#, ["entry 0, value: expected a number, got true"]),
            ("no-unit.json", #"[{"marker": "alp", "value": 300}]"#, ["entry 0, unit: expected a text", "missing"]),
            ("bad-date.json", #"[{"marker": "alp", "value": 300, "unit": "U/L", "date": "2026-13-45"}]"#, ["entry 0, date: expected a calendar date"]),
            ("huge.json", #"[{"marker": "alp", "value": 1e308, "unit": "U/L"}]"#, ["entry 0 (alp)", "under 1000000"]),
            ("duplicate.json", #"[{"marker": "alp", "value": 300, "unit": "U/L"}, {"marker": "alp", "value": 900, "unit": "U/L"}]"#,
             ["alp: 2 results and no single newest date"]),
            ("duplicate-key.json", #"[{"marker": "alp", "value": 300, "value": 900, "unit": "U/L"}]"#,
             ["duplicate-key.json", "[0].value", "appears twice"]),
            ("empty.json", "", ["empty.json", "empty file"]),
        ]
        for (name, text, expect) in cases {
            let url = dir.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            let r = try run(["predict", "--image", image.path, "--labs", url.path, "--age", "30", "--sex", "F", "--json"])
            XCTAssertFalse(r.signalled)
            XCTAssertNotEqual(r.status, 0, name)
            for e in expect { XCTAssert(r.stderr.contains(e), "\(name): message '\(r.stderr)' lacks '\(e)'") }
        }
    }

    func testDetectReportsBadImagesOnTheirLineAndGoesOn() throws {
        let models = Fixtures.repositoryRoot.appendingPathComponent("models")
        guard FileManager.default.fileExists(atPath: models.appendingPathComponent("detector.safetensors").path) else {
            throw XCTSkip("trained models not in \(models.path) (training/run_all.sh makes them)")
        }
        let bad = try badImages()
        let good = dir.appendingPathComponent("radiograph-300x200.png")
        try Image(width: 300, height: 200, colour: .grey, pixels: (0..<60000).map { UInt8($0 % 251) }).writePNG(to: good)
        let paths = [good.path] + bad.map(\.path) + [good.path]
        let r = try run(["detect"] + paths + ["--jsonl", "--models", models.path])
        XCTAssertFalse(r.signalled)
        XCTAssertEqual(r.status, 1)
        let lines = r.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(lines.count, paths.count, "one line per image")
        for (i, line) in lines.enumerated() {
            XCTAssertEqual(line["image"] as? String, paths[i])
            if i == 0 || i == paths.count - 1 {
                XCTAssertNil(line["error"]); XCTAssertEqual(line["width"] as? Int, 300)
                XCTAssertNotNil(line["detections"] as? [Any])
            } else {
                let message = line["error"] as? String ?? ""
                for e in bad[i - 1].expect { XCTAssert(message.contains(e), "line \(i): '\(message)' lacks '\(e)'") }
            }
        }
    }

    /// A full disk or a closed pipe on standard output: a message and exit 1, never a crash
    /// (Foundation's FileHandle.write died with SIGILL here).
    func testAFailedWriteToStandardOutputIsReported() throws {
        guard let exe = executable else { throw XCTSkip("tumorboard executable not found next to the test bundle") }
        guard let full = FileHandle(forWritingAtPath: "/dev/full") else { throw XCTSkip("no /dev/full on this system") }
        let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("samples/SAMPLE-04-NO-LESION")
        for args in [["predict", "--case", samples.path, "--json"], ["detect", samples.appendingPathComponent("radiograph.png").path]] {
            let p = Process()
            p.executableURL = exe
            p.arguments = args
            p.standardOutput = full
            let err = Pipe()
            p.standardError = err
            try p.run()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .exit, "\(args[0]): killed by a signal")
            XCTAssertEqual(p.terminationStatus, 1, "\(args[0]): \(stderr)")
            XCTAssertTrue(stderr.contains("cannot write to standard output: No space left on device"), "\(args[0]): \(stderr)")
        }
    }

    /// `predict --case` refuses a radiograph whose bytes are not those the manifest records (as
    /// import does), naming the case, the file and the mismatch.
    func testPredictRefusesASwappedRadiograph() throws {
        let sample = Fixtures.repositoryRoot.appendingPathComponent("samples/SAMPLE-04-NO-LESION")
        let copy = dir.appendingPathComponent("swapped")
        try FileManager.default.copyItem(at: sample, to: copy)
        var manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: copy.appendingPathComponent("case.json"))) as? [String: Any])
        var rads = try XCTUnwrap(manifest["radiographs"] as? [[String: Any]])
        rads[0]["sha256"] = String(repeating: "ab", count: 32)
        manifest["radiographs"] = rads
        try JSONSerialization.data(withJSONObject: manifest).write(to: copy.appendingPathComponent("case.json"))
        let r = try run(["predict", "--case", copy.path, "--json"])
        XCTAssertFalse(r.signalled)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.contains("radiograph.png") && r.stderr.contains("the file changed"), r.stderr)
    }

    /// Usage errors that used to pass: a threshold that is not a score, an empty --case.
    func testScoresAndPathsAreChecked() throws {
        let image = dir.appendingPathComponent("r.png")
        try Image(width: 32, height: 32, colour: .grey, pixels: [UInt8](repeating: 100, count: 1024)).writePNG(to: image)
        for t in ["nan", "inf", "-1", "2"] {
            let r = try run(["detect", image.path, "--threshold=\(t)"])
            XCTAssertEqual(r.status, 64, "--threshold \(t): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--threshold must be a score in [0, 1]"), r.stderr)
        }
        let r = try run(["predict", "--case", "", "--json"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--case needs a folder"), r.stderr)
        let both = try run(["predict", "--case", dir.path, "--site", "femur", "--json"])
        XCTAssertEqual(both.status, 64, both.stderr)
        XCTAssertTrue(both.stderr.contains("the case folder carries them"), both.stderr)
        let negative = try run(["predict", "--image", image.path, "--age=-3", "--json"])
        XCTAssertEqual(negative.status, 64, negative.stderr)
        XCTAssertTrue(negative.stderr.contains("--age must be a whole number of years >= 0"), negative.stderr)
    }

    /// `predict --image --age --sex --site` without labs: the context sentence is the text the
    /// encoder reads, and the text modality is present (issue 15).
    func testPredictReadsTheClinicalContext() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: repo.appendingPathComponent("models/fusion_head.safetensors").path),
              FileManager.default.fileExists(atPath: repo.appendingPathComponent("models/text/all-MiniLM-L6-v2/model.safetensors").path) else {
            throw XCTSkip("no fusion head or text encoder in models/")
        }
        let image = dir.appendingPathComponent("r.png")
        try Image(width: 64, height: 48, colour: .grey, pixels: (0..<3072).map { UInt8(($0 * 7) % 251) }).writePNG(to: image)
        func findings(_ extra: [String]) throws -> [String: Any] {
            let r = try run(["predict", "--image", image.path] + extra + ["--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        }
        let with = try findings(["--age", "18", "--sex", "M", "--site", "Tibia;knee-joint"])
        XCTAssertEqual(with["sentence"] as? String, "An 18-year-old male with a lesion of the tibia and knee joint.")
        XCTAssertEqual((with["present"] as? [String: Any])?["labs"] as? Bool, true)
        let without = try findings([])
        XCTAssertTrue(without["sentence"] == nil || without["sentence"] is NSNull, "no context, no labs: no text")
        XCTAssertEqual((without["present"] as? [String: Any])?["labs"] as? Bool, false)
        let other = try findings(["--age", "18", "--sex", "M", "--site", "humerus"])
        XCTAssertNotEqual((other["probabilities"] as? [String: Double]), (with["probabilities"] as? [String: Double]), "the site changes the answer")
    }
}
