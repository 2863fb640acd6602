import Cases
import Foundation
import Imaging

/// One row of the case list.
public struct CaseSummary: Sendable, Equatable {
    public var id: String
    /// normal, benign, intermediate, malignant; nil when not known.
    public var label: String?
    public var subtype: String?
    public var age: Int?
    public var sex: String?
    public var site: String?
    public var boxCount: Int
    /// "reviewed" (a review note) or "signed" (signed off); nil when neither.
    public var review: String?

    public init(id: String, label: String? = nil, subtype: String? = nil, age: Int? = nil, sex: String? = nil,
                site: String? = nil, boxCount: Int = 0, review: String? = nil) {
        self.id = id; self.label = label; self.subtype = subtype; self.age = age; self.sex = sex
        self.site = site; self.boxCount = boxCount; self.review = review
    }

    public var ageSex: String { "\(age.map(String.init) ?? "?")\(sex ?? "")" }

    /// The theme role that colours the label.
    public var labelRole: Role { Role.forLabel(label) }
}

extension Role {
    static func forLabel(_ label: String?) -> Role {
        forLabel(label.flatMap { DiagnosisLabel(rawValue: $0.lowercased()) })
    }

    static func forLabel(_ label: DiagnosisLabel?) -> Role {
        switch label {
        case .normal: .normal
        case .benign: .benign
        case .intermediate: .intermediate
        case .malignant: .malignant
        case nil: .box
        }
    }
}

/// What the case view shows.
public struct CaseDetail: Sendable {
    public var summary: CaseSummary
    public var radiograph: URL?
    public var boxes: [LabelledBox]
    /// Label / value lines for the details panel, in display order.
    public var details: [(String, String)]
    /// The whole case (labs, slides), when the source has it.
    public var record: CaseRecord?

    public init(summary: CaseSummary, radiograph: URL?, boxes: [LabelledBox], details: [(String, String)], record: CaseRecord? = nil) {
        self.summary = summary; self.radiograph = radiograph; self.boxes = boxes; self.details = details; self.record = record
    }

    /// The first slide's image file, if the case has a slide.
    public var slideFile: URL? { record?.slides.first.map { URL(fileURLWithPath: $0.file) } }
}

/// Where the UI reads cases from. The UI only sees this protocol, so the case store can replace
/// the readers below without touching a screen.
public protocol CaseSource: Sendable {
    /// What the title bar says: the folder and its kind.
    var title: String { get }
    func summaries() -> [CaseSummary]
    func detail(id: String) throws -> CaseDetail
    /// Entries that could not be read, with the reason (shown once at start).
    var problems: [String] { get }
    /// The case as the Cases module keeps it: what the diagnosis reads.
    func record(id: String) throws -> CaseRecord
}

extension CaseSource {
    public var problems: [String] { [] }
}

public struct CaseSourceError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Opens `path` as a case store (an existing .sqlite file), a dataset folder (cases.csv +
/// images/) or a folder of case folders.
public func openCaseSource(path: String) throws -> any CaseSource {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    if StoreLocation.isURL(path) || (fm.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue && path.hasSuffix(".sqlite")) {
        return try StoreSource(store: CaseStore(path: path))
    }
    guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
        throw CaseSourceError("\(path): no such folder. Put case folders there, or run: tumorboard open PATH")
    }
    guard isDir.boolValue else {
        throw CaseSourceError("\(path): a file, not a folder or a case store (.sqlite): open a folder of case folders, a dataset folder, or a store")
    }
    if fm.fileExists(atPath: path + "/cases.csv") { return try RecordSource.dataset(at: path) }
    return RecordSource.caseFolders(in: path)
}
