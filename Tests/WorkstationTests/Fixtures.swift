import Cases
import Foundation
import Imaging
@testable import Workstation

/// Small made-up images and case folders (no patient data).
enum Fixtures {
    /// A grey gradient with a bright square: width x height, 8-bit.
    static func gradient(width: Int = 64, height: Int = 48) throws -> Image {
        var px = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height { for x in 0..<width {
            px[y * width + x] = UInt8((x * 255) / max(1, width - 1) / 2 + (x > width / 2 && y > height / 2 ? 120 : 0))
        } }
        return try Image(width: width, height: height, colour: .grey, pixels: px)
    }

    static func tempFolder(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tb-ws-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A BTXRD-like dataset folder with `n` generated images.
    static func dataset(n: Int = 5) throws -> URL {
        let root = tempFolder("dataset")
        let images = root.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        var cases = "image_id,label,subtype,age,sex,center,site,region,view\n"
        var boxes = "image_id,x0,y0,x1,y1,area\n"
        let labels = ["normal", "benign", "malignant", "intermediate", "benign"]
        for i in 0..<n {
            let id = String(format: "IMG%06d", i + 1)
            try gradient(width: 64, height: 48).writePNG(to: images.appendingPathComponent("\(id).png"))
            let label = labels[i % labels.count]
            let subtype = label == "normal" ? "" : (label == "malignant" ? "osteosarcoma" : label == "intermediate" ? "giant cell tumor" : "osteochondroma")
            cases += "\(id),\(label),\(subtype),\(10 + i * 7),\(i % 2 == 0 ? "F" : "M"),1,\(label == "normal" ? "" : "femur;tibia"),lower limb,frontal\n"
            if label != "normal" { boxes += "\(id),\(8 + i),10,\(30 + i),28,100\n" }
        }
        try cases.write(to: root.appendingPathComponent("cases.csv"), atomically: true, encoding: .utf8)
        try boxes.write(to: root.appendingPathComponent("boxes.csv"), atomically: true, encoding: .utf8)
        return root
    }

    /// A folder of case folders (the Cases module's case.json) with generated radiographs.
    static func caseFolders() throws -> URL {
        let root = tempFolder("cases")
        for (i, label) in [DiagnosisLabel.benign, .malignant].enumerated() {
            let dir = root.appendingPathComponent("case-\(i + 1)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try gradient().writePNG(to: dir.appendingPathComponent("radiograph.png"))
            let record = CaseRecord(id: "case-\(i + 1)", age: 20 + i, sex: .female, site: "femur", label: label,
                                    provenance: "synthetic, not a patient: test gradient",
                                    radiographs: [Radiograph(file: "radiograph.png", boxes: [LesionBox(x0: 5, y0: 6, x1: 20, y1: 30)])])
            try CaseFolder.manifestJSON(record).write(to: dir.appendingPathComponent("case.json"))
        }
        return root
    }

    static let blocks = GraphicsChoice(mode: .blocks, reason: "test", cellSize: CellSize(width: 10, height: 20))
    static let sixel = GraphicsChoice(mode: .sixel, reason: "test", cellSize: CellSize(width: 10, height: 20))

    /// The shared BTXRD folder, or nil (tests then skip with a message).
    static var sharedDataset: String? {
        let env = ProcessInfo.processInfo.environment["TUMORBOARD_DATA"]
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [env.map { $0 + "/btxrd" }, env, Optional(repo.appendingPathComponent("../shared/data/btxrd").standardized.path)]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0 + "/cases.csv") }
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}
