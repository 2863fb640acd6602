import AtomicFiles
import Cases
import Foundation

/// Where whole diagnosis results are kept between runs, under the case's `InputKey`: the case
/// store for store cases, a cache folder for case folders and datasets (nothing is ever written
/// into a user's case folder or dataset folder).
public protocol FindingsArchive: Sendable {
    /// The kept result, or nil (never kept, or unreadable: then the case simply runs again).
    func lookup(caseID: String, key: String) -> Findings?
    func keep(_ findings: Findings, caseID: String, key: String) throws
    /// Where results go, for messages ("findings kept in ...").
    var location: String { get }
}

extension Findings {
    /// The summary row the case store keeps for a prediction (boxes rounded outwards to pixels).
    public var storeFinding: Finding {
        var probs: [String: Double] = [:]
        for (c, p) in zip(DiagnosisLabel.tumourClasses, probabilities.values) { probs[c.rawValue] = p }
        let boxes = detections.map { d in
            LesionBox(x0: Int(d.box[0].rounded(.down)), y0: Int(d.box[1].rounded(.down)),
                      x1: Int(d.box[2].rounded(.up)), y1: Int(d.box[3].rounded(.up)))
        }
        let present = [("image", self.present.image), ("pathology", self.present.pathology), ("labs", self.present.labs)]
            .filter { $0.1 == true }.map(\.0)
        return Finding(createdAt: timestampNow(), models: models, probabilities: probs, boxes: boxes, modalities: present,
                       note: detections.isEmpty ? "no lesion found above the detector's threshold" : nil)
    }

    public func jsonText() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }

    public static func fromJSON(_ text: String) throws -> Findings {
        try JSONDecoder().decode(Findings.self, from: Data(text.utf8))
    }
}

/// Results in the store's findings table (with the audit row every finding gets).
public struct StoreFindingsArchive: FindingsArchive {
    public let store: CaseStore
    public init(store: CaseStore) { self.store = store }
    public var location: String { store.path }

    public func lookup(caseID: String, key: String) -> Findings? {
        guard let text = try? store.storedResult(caseID, inputKey: key) else { return nil }
        return try? Findings.fromJSON(text)
    }

    public func keep(_ findings: Findings, caseID: String, key: String) throws {
        try store.addFinding(caseID, findings.storeFinding, inputKey: key, result: try findings.jsonText())
    }
}

/// Results as one JSON file per input key in a cache folder: TUMORBOARD_FINDINGS_CACHE, else
/// $XDG_CACHE_HOME/tumorboard/findings, else ~/.cache/tumorboard/findings. The key already
/// holds the case's content and the models, so the case ID is not part of the name.
public struct FolderFindingsArchive: FindingsArchive {
    public let folder: URL
    public init(folder: URL) { self.folder = folder }
    public var location: String { folder.path }

    public static func defaultFolder(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let p = environment["TUMORBOARD_FINDINGS_CACHE"], !p.isEmpty { return URL(fileURLWithPath: p) }
        if let x = environment["XDG_CACHE_HOME"], x.hasPrefix("/") { return URL(fileURLWithPath: x + "/tumorboard/findings") }
        if let h = environment["HOME"], h.hasPrefix("/") { return URL(fileURLWithPath: h + "/.cache/tumorboard/findings") }
        return nil
    }

    func file(_ key: String) -> URL { folder.appendingPathComponent("\(key).json") }

    public func lookup(caseID: String, key: String) -> Findings? {
        guard let data = try? Data(contentsOf: file(key)) else { return nil }
        return try? JSONDecoder().decode(Findings.self, from: data)
    }

    public func keep(_ findings: Findings, caseID: String, key: String) throws {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try AtomicFile.write(Data(try findings.jsonText().utf8), to: file(key))
        } catch {
            throw DiagnosisError.input("cannot keep the result in \(folder.path): \(error.localizedDescription)")
        }
    }
}

/// Results for this process only (no cache folder can be had).
public final class MemoryFindingsArchive: FindingsArchive, @unchecked Sendable {
    // @unchecked: the dictionary is only touched under `lock`.
    private let lock = NSLock()
    private var results: [String: Findings] = [:]
    public init() {}
    public var location: String { "memory (this session only)" }
    public func lookup(caseID: String, key: String) -> Findings? { lock.withLock { results[key] } }
    public func keep(_ findings: Findings, caseID: String, key: String) throws { lock.withLock { results[key] = findings } }
}
