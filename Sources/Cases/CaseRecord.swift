import Foundation

public enum Sex: String, Codable, Sendable, Equatable, CaseIterable {
    case female = "F"
    case male = "M"
}

/// The reference diagnosis a case carries when it comes from a labelled dataset or is a
/// sample (never a prediction: predictions are `Finding`s).
public enum DiagnosisLabel: String, Codable, Sendable, Equatable, CaseIterable {
    case normal, benign, intermediate, malignant

    /// The classes the classifier outputs, in the order of its logits (a lesion is assumed:
    /// "normal" is the detector's business).
    public static let tumourClasses: [DiagnosisLabel] = [.benign, .intermediate, .malignant]

    /// Order for sorting by severity (normal first).
    public var severity: Int { Self.allCases.firstIndex(of: self) ?? 0 }
}

/// A patient case as TumorBoard keeps it. `id` is pseudonymous: no name, no birth date.
public struct CaseRecord: Codable, Sendable, Equatable {
    public var id: String
    public var age: Int?
    public var sex: Sex?
    /// Anatomical site(s), free text as in BTXRD ("femur", "tibia;knee-joint").
    public var site: String?
    public var clinicalNote: String?
    /// Known diagnosis, for dataset cases and samples.
    public var label: DiagnosisLabel?
    public var subtype: String?
    /// Where the case came from and what it is ("synthetic sample, not a patient", "BTXRD IMG000123").
    public var provenance: String?
    public var radiographs: [Radiograph]
    public var slides: [SlideReference]
    public var labs: [LabResult]
    public var findings: [Finding]
    public var review: Review?

    public init(id: String, age: Int? = nil, sex: Sex? = nil, site: String? = nil, clinicalNote: String? = nil,
                label: DiagnosisLabel? = nil, subtype: String? = nil, provenance: String? = nil,
                radiographs: [Radiograph] = [], slides: [SlideReference] = [], labs: [LabResult] = [],
                findings: [Finding] = [], review: Review? = nil) {
        self.id = id
        self.age = age
        self.sex = sex
        self.site = site
        self.clinicalNote = clinicalNote
        self.label = label
        self.subtype = subtype
        self.provenance = provenance
        self.radiographs = radiographs
        self.slides = slides
        self.labs = labs
        self.findings = findings
        self.review = review
    }
}

/// A lesion box in pixel coordinates of the radiograph: x0, y0 inclusive, x1, y1 exclusive
/// (BTXRD's boxes.csv convention).
public struct LesionBox: Codable, Sendable, Equatable, Hashable {
    public var x0: Int, y0: Int, x1: Int, y1: Int
    public init(x0: Int, y0: Int, x1: Int, y1: Int) {
        self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1
    }
}

public struct Radiograph: Codable, Sendable, Equatable {
    /// Path relative to the case folder (in a manifest), or absolute (in the store).
    public var file: String
    /// frontal, lateral, oblique, ...
    public var view: String?
    /// ISO 8601 date of acquisition.
    public var acquired: String?
    /// Lowercase hex SHA-256 of the file's bytes, filled in on import.
    public var sha256: String?
    /// Reference lesion boxes (from a dataset's annotations), not predictions.
    public var boxes: [LesionBox]

    public init(file: String, view: String? = nil, acquired: String? = nil, sha256: String? = nil, boxes: [LesionBox] = []) {
        self.file = file
        self.view = view
        self.acquired = acquired
        self.sha256 = sha256
        self.boxes = boxes
    }
}

/// A pathology slide: its identifiers and the scanner file or image of it.
public struct SlideReference: Codable, Sendable, Equatable {
    public var slideID: String
    public var block: String?
    /// H&E, IHC marker, ...
    public var stain: String?
    public var file: String
    public var sha256: String?
    public var enteredBy: String?
    /// ISO 8601 date-time.
    public var enteredAt: String?

    public init(slideID: String, block: String? = nil, stain: String? = nil, file: String, sha256: String? = nil,
                enteredBy: String? = nil, enteredAt: String? = nil) {
        self.slideID = slideID
        self.block = block
        self.stain = stain
        self.file = file
        self.sha256 = sha256
        self.enteredBy = enteredBy
        self.enteredAt = enteredAt
    }
}

/// One prediction, kept with the models (weight hashes) that produced it.
public struct Finding: Codable, Sendable, Equatable {
    /// ISO 8601 date-time.
    public var createdAt: String
    /// Model name -> sha256 of its weights.
    public var models: [String: String]
    /// Class -> probability (benign, intermediate, malignant).
    public var probabilities: [String: Double]
    public var boxes: [LesionBox]
    /// Modalities present when predicted (image, pathology, labs).
    public var modalities: [String]
    public var note: String?

    public init(createdAt: String, models: [String: String], probabilities: [String: Double],
                boxes: [LesionBox] = [], modalities: [String] = [], note: String? = nil) {
        self.createdAt = createdAt
        self.models = models
        self.probabilities = probabilities
        self.boxes = boxes
        self.modalities = modalities
        self.note = note
    }
}

/// The reviewer's note and sign-off.
public struct Review: Codable, Sendable, Equatable {
    public var note: String?
    public var signedOffBy: String?
    public var signedOffAt: String?
    public init(note: String? = nil, signedOffBy: String? = nil, signedOffAt: String? = nil) {
        self.note = note
        self.signedOffBy = signedOffBy
        self.signedOffAt = signedOffAt
    }
}

/// One line of a case's audit trail.
public struct AuditEntry: Sendable, Equatable {
    public var caseID: String
    public var at: String
    public var user: String
    public var action: String
    public var detail: String

    public init(caseID: String, at: String, user: String, action: String, detail: String) {
        self.caseID = caseID; self.at = at; self.user = user; self.action = action; self.detail = detail
    }
}

/// The user for the audit trail: the operating system's login name for this process's user
/// (the password database, which a user cannot set from the environment), else USER, then
/// LOGNAME, then the numeric uid. `lookUp: false` reads the environment only (tests).
public func currentUserName(environment: [String: String] = ProcessInfo.processInfo.environment, lookUp: Bool = true) -> String {
    if lookUp, let pw = getpwuid(getuid()), let name = pw.pointee.pw_name {
        let s = String(cString: name)
        if !s.isEmpty { return s }
    }
    for key in ["USER", "LOGNAME"] {
        if let v = environment[key], !v.isEmpty { return v }
    }
    return "uid \(getuid())"
}

/// ISO 8601 UTC with milliseconds, e.g. 2026-11-27T10:03:10.123Z.
public func timestampNow() -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    f.timeZone = TimeZone(identifier: "UTC")
    return f.string(from: Date())
}
