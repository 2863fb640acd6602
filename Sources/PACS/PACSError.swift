import Cases
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Why a PACS search, retrieve or import did not happen. Every message names the server (its
/// name and DICOMweb URL) and what failed; none holds a password or a patient's name, and
/// nothing was written to the case store.
public enum PACSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The servers file cannot be used.
    case config(file: String, problem: String)
    /// A server's credentials file cannot be used (missing, readable by others, malformed).
    case credentials(server: String, file: String, problem: String)
    /// `--server NAME` names no server of the servers file.
    case unknownServer(name: String, configFile: String, known: [String])
    /// The request does not fit together (a bad date, UID or option).
    case usage(String)
    /// No connection (refused, host unknown, lost mid-transfer), after `attempts` tries.
    case unreachable(server: String, what: String, detail: String, attempts: Int)
    /// No byte for `seconds` (connecting or mid-transfer), after `attempts` tries.
    case timedOut(server: String, what: String, seconds: Double, attempts: Int)
    /// 401 / 403.
    case unauthorized(server: String, what: String, status: Int, hadCredentials: Bool)
    /// Any other HTTP status that is not success.
    case http(server: String, what: String, status: Int, detail: String, attempts: Int)
    /// The study is not (or no longer) on the server.
    case studyNotFound(server: String, study: String)
    /// An answer that is not what DICOMweb promises (not JSON, a broken multipart, not DICOM).
    case badAnswer(server: String, what: String, problem: String)
    /// The server sent (or holds, and could not convert) a transfer syntax TumorBoard cannot decode.
    case compressed(server: String, study: String, uid: String, name: String, detail: String)
    /// A retrieved instance is DICOM that TumorBoard cannot read (see `DICOMFile`).
    case unreadableInstance(server: String, study: String, problem: String)
    /// Neither --case-id nor a PatientID that is a case ID.
    case needsCaseID(server: String, study: String, why: String)
    /// Another import of the same study into the same store is running (its folder is fresh).
    case busy(server: String, study: String, folder: String)
    /// The study holds no CR / DX radiograph.
    case noRadiographs(server: String, study: String, modalities: [String])
    /// Stopped by the caller (the workstation's cancel, Ctrl-C).
    case cancelled(server: String, what: String)
    /// The retrieved files could not be written under the store's folder.
    case files(path: String, problem: String)
    /// The store cannot be used, or the request does not fit (Importer's refusal), before any request.
    case importer(ImportError)

    public var description: String {
        switch self {
        case .config(let file, let problem): return "\(file): PACS servers file: \(problem)"
        case .credentials(let server, let file, let problem):
            return "\(server): credentials file \(file): \(problem)"
        case .unknownServer(let name, let configFile, let known):
            let list = known.isEmpty ? "it lists no server" : "it lists \(known.joined(separator: ", "))"
            return "no PACS server named '\(name)' in \(configFile) (\(list)); give a name from it or a DICOMweb URL (http://host:port/dicom-web)"
        case .usage(let m): return m
        case .unreachable(let server, let what, let detail, let attempts):
            return "\(server): \(what) failed: \(detail)\(Self.tries(attempts)); is the server up and the URL right?"
        case .timedOut(let server, let what, let seconds, let attempts):
            return "\(server): \(what) failed: no answer within \(Self.seconds(seconds))\(Self.tries(attempts)); the server is down or overloaded"
        case .unauthorized(let server, let what, let status, let hadCredentials):
            let why = hadCredentials
                ? "the user name or password in the credentials file was refused"
                : "the server asks for a user name and password; give the server a credentials file in the PACS servers file"
            return "\(server): \(what) refused (HTTP \(status) \(Self.reason(status))): \(why)"
        case .http(let server, let what, let status, let detail, let attempts):
            return "\(server): \(what) failed: HTTP \(status) \(Self.reason(status))\(detail.isEmpty ? "" : " (\(detail))")\(Self.tries(attempts))"
        case .studyNotFound(let server, let study):
            return "\(server): study \(study) is not on the server (deleted or moved since the search?); nothing was imported"
        case .badAnswer(let server, let what, let problem):
            return "\(server): \(what): the answer is not DICOMweb (\(problem)); is the URL the server's DICOMweb root?"
        case .compressed(let server, let study, let uid, let name, let detail):
            return "\(server): study \(study): the radiographs are in transfer syntax \(uid) (\(name)), which TumorBoard cannot decode, and \(detail); nothing was imported. Ask the PACS to convert them to uncompressed (e.g. Orthanc with its GDCM plugin), or convert the files (dcmtk: dcmdjpeg / dcmconv +te) and import them"
        case .unreadableInstance(let server, let study, let problem):
            return "\(server): study \(study): \(problem); nothing was imported"
        case .needsCaseID(let server, let study, let why):
            return "\(server): study \(study): no usable case ID: its PatientID is \(why); give one with --case-id (a pseudonym, never a name); nothing was imported"
        case .busy(let server, let study, let folder):
            return "\(server): study \(study): another import of it into this store seems to be running (\(folder) was written moments ago); try again in a minute"
        case .noRadiographs(let server, let study, let modalities):
            let m = modalities.isEmpty ? "no series" : "only \(modalities.joined(separator: ", "))"
            return "\(server): study \(study) holds no radiograph (CR or DX), \(m); nothing was imported"
        case .cancelled(let server, let what): return "\(server): \(what) cancelled; nothing was imported"
        case .files(let path, let problem): return "\(path): \(problem); nothing was imported"
        case .importer(let e): return "\(e)"
        }
    }

    static func tries(_ n: Int) -> String { n > 1 ? " (\(n) attempts)" : "" }
    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s)
    }
    static func reason(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 406: return "Not Acceptable"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return HTTPURLResponse.localizedString(forStatusCode: status).capitalized
        }
    }
}

extension PACSError: LocalizedError {
    public var errorDescription: String? { description }
}
