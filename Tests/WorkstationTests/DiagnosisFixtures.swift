import Cases
import Diagnosis
import Foundation
import Imaging
@testable import Workstation

/// Made-up diagnosis results (JSON, as `predict` writes them) and a stand-in engine.
enum DiagnosisFixtures {
    /// A `Findings` with the given probabilities, contributions (nil: absent) and detections.
    static func findings(width: Int = 64, height: Int = 48, probabilities p: [Double] = [0.1, 0.2, 0.7],
                         imageOnly q: [Double] = [0.3, 0.3, 0.4],
                         contributions c: [Double?] = [0.2, -0.1, nil], detections: [[Double]] = [[8, 10, 30, 28]],
                         sentence: String? = nil, heat: [Float] = [0, 0.5, 1, 0.25]) -> Findings {
        let classes = DiagnosisLabel.tumourClasses.map(\.rawValue)
        let k = p.indices.max { p[$0] < p[$1] }!
        func num(_ v: Double?) -> Any { v.map { $0 as Any } ?? NSNull() }
        let json: [String: Any] = [
            "width": width, "height": height,
            "detections": detections.map { ["box": $0, "score": 0.81] },
            "lesion": detections.first.map { ["box": $0, "score": 0.81] as Any } ?? NSNull(),
            "probabilities": Dictionary(uniqueKeysWithValues: zip(classes, p)),
            "image_only_probabilities": Dictionary(uniqueKeysWithValues: zip(classes, q)),
            "predicted": classes[k],
            "present": ["image": c[0] != nil, "pathology": c[1] != nil, "labs": c[2] != nil],
            "contributions": ["image": num(c[0]), "pathology": num(c[1]), "labs": num(c[2])],
            "sentence": sentence as Any? ?? NSNull(),
            "heatmap": ["box": [4, 4, 36, 36], "width": 2, "height": 2, "values": heat, "target": classes[k]],
            "models": ["detector.safetensors": "ab12cd34ef56"],
            "timings_ms": ["total": 12.5, "detect": 3.0],
        ]
        let data = try! JSONSerialization.data(withJSONObject: json)  // test data built above: cannot fail
        return try! JSONDecoder().decode(Findings.self, from: data)
    }

    static func result(_ id: String, _ f: Findings, kept: Bool = false) -> CaseDiagnosisResult {
        CaseDiagnosisResult(caseID: id, findings: f, kept: kept, milliseconds: 1)
    }

    /// Cases whose radiographs differ in width (40, 41, ...), so a result tells which case it is of.
    static func source(count: Int) throws -> RecordSource {
        let root = Fixtures.tempFolder("service")
        var records: [CaseRecord] = []
        for i in 0..<count {
            let file = root.appendingPathComponent("r\(i).png")
            try Fixtures.gradient(width: 40 + i, height: 32).writePNG(to: file)
            records.append(CaseRecord(id: String(format: "C%02d", i), age: 30, sex: .female,
                                      label: [DiagnosisLabel.benign, .malignant][i % 2],
                                      radiographs: [Radiograph(file: file.path)]))
        }
        return RecordSource(title: "test", records: records)
    }
}

/// Sleeps, then answers with the radiograph's width as the result's width: which case it ran on.
final class SlowEngine: CaseEngine, @unchecked Sendable {
    // @unchecked: `ran` is only touched under `lock`.
    let delay: useconds_t
    let modelHashes: [String: String]
    private let lock = NSLock()
    private var ran: [Int] = []

    init(delayMs: Int, hashes: [String: String] = ["detector.safetensors": "v1"]) {
        delay = useconds_t(delayMs * 1000); modelHashes = hashes
    }

    var widthsRun: [Int] { lock.withLock { ran } }

    func run(_ input: DiagnosisInput) throws -> Findings {
        usleep(delay)
        lock.withLock { ran.append(input.radiograph.width) }
        let malignant = input.radiograph.width % 2 == 1
        return DiagnosisFixtures.findings(width: input.radiograph.width, probabilities: malignant ? [0.1, 0.1, 0.8] : [0.7, 0.2, 0.1])
    }
}
