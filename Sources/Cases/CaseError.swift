import Foundation
import Imaging

/// Why a case, case folder, dataset or store operation was refused. Every message names the
/// file and, where there is one, the field; nothing is written when one of these is thrown.
public enum CaseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A manifest field is missing, of the wrong type, or has a value that is not allowed.
    case manifest(file: String, field: String, problem: String)
    /// The file is not valid UTF-8 text; `offset` is the first bad byte.
    case notUTF8(file: String, offset: Int)
    /// A referenced file is absolute or leaves the case folder (../, symlink).
    case pathOutsideCase(file: String, field: String, path: String)
    case missingFile(file: String, field: String, path: String)
    case image(field: String, ImagingError)
    case dicom(field: String, DICOMError)
    case lab(file: String, field: String, LabError)
    /// A dataset table (cases.csv, boxes.csv) with a bad row.
    case dataset(file: String, line: Int, problem: String)
    case notAFolder(String)
    case store(file: String, problem: String)
    case caseNotFound(String)
    case duplicateCase(String)
    case writeFailed(file: String, reason: String)
    /// The case changed since the editor read it (the per-case version check): nothing saved.
    case conflict(caseID: String, by: String, at: String, action: String)
    /// A signed case is read-only until it is reopened with a reason.
    case signedOff(caseID: String, by: String, at: String)

    public var description: String {
        switch self {
        case .manifest(let file, let field, let problem): return "\(file): field '\(field)': \(problem)"
        case .notUTF8(let file, let offset): return "\(file): not UTF-8 text (invalid byte at offset \(offset))"
        case .pathOutsideCase(let file, let field, let path):
            return "\(file): field '\(field)': '\(path)' is outside the case folder; use a path relative to the case folder, without '..'"
        case .missingFile(let file, let field, let path): return "\(file): field '\(field)': file '\(path)' does not exist"
        case .image(let field, let error): return "\(error) (field '\(field)')"
        case .dicom(let field, let error): return "\(error) (field '\(field)')"
        case .lab(let file, let field, let error): return "\(file): field '\(field)': \(error)"
        case .dataset(let file, let line, let problem): return "\(file): line \(line): \(problem)"
        case .notAFolder(let path): return "\(path): not a folder"
        case .store(let file, let problem): return "\(file): case store: \(problem)"
        case .caseNotFound(let id): return "no case '\(id)' in the store"
        case .duplicateCase(let id): return "a case '\(id)' is already in the store"
        case .writeFailed(let file, let reason): return "\(file): could not write (\(reason)); nothing was changed"
        case .conflict(let id, let by, let at, let action):
            return "case \(id) was changed by \(by) at \(at) (\(action)) after you opened it; nothing was saved: look at the change, then try again"
        case .signedOff(let id, let by, let at):
            return "case \(id) is signed off by \(by) at \(at) and read-only; reopen it with a reason first (tumorboard review \(id) --reopen REASON)"
        }
    }
}

extension CaseError: LocalizedError {
    public var errorDescription: String? { description }
}

/// Decodes bytes as UTF-8 or says where they stop being UTF-8.
func decodeUTF8(_ data: Data, file: String) throws(CaseError) -> String {
    if let s = String(data: data, encoding: .utf8) { return s }
    // Find the first invalid byte for the message.
    var decoder = UTF8()
    var iterator = data.makeIterator()
    var offset = 0
    var good = 0
    loop: while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar):
            good += UTF8.width(scalar)
            offset = good
        case .emptyInput: break loop
        case .error: break loop
        }
    }
    throw .notUTF8(file: file, offset: offset)
}
