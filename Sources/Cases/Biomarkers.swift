import Foundation

/// The one definition of TumorBoard's blood biomarkers, read from `Resources/biomarkers.json`
/// (the file training/labs.py reads too; its schema is in docs/cohort.md). Nothing about a
/// marker (unit, factor, range, display name) is written anywhere else in Swift.
public struct BiomarkerCatalog: Sendable, Equatable {
    public let schemaVersion: Int
    /// In file order: this order is the order of the clinical sentence.
    public let markers: [Marker]

    public struct Marker: Sendable, Equatable, Decodable {
        public let id: String
        public let name: String
        public let abbreviation: String
        /// The canonical unit: ranges are written in it.
        public let unit: String
        public let decimals: Int
        public let alternateUnits: [AlternateUnit]
        public let severity: SeverityThresholds
        public let ranges: [ReferenceBand]

        enum CodingKeys: String, CodingKey {
            case id, name, abbreviation, unit, decimals, severity, ranges
            case alternateUnits = "alternate_units"
        }

        /// Every unit a value may be entered in, canonical first.
        public var acceptedUnits: [String] { [unit] + alternateUnits.map(\.unit) }
    }

    /// value_in_alternate_unit = value_in_canonical_unit * factor.
    public struct AlternateUnit: Sendable, Equatable, Decodable {
        public let unit: String
        public let factor: Double
        public let decimals: Int
    }

    /// A unit as used for one value: canonical (factor 1) or an alternate.
    public struct UnitSpec: Sendable, Equatable {
        public let unit: String
        public let factor: Double
        public let decimals: Int
        public let isCanonical: Bool
    }

    public struct SeverityThresholds: Sendable, Equatable, Decodable {
        public let highModerate: Double
        public let highMarked: Double
        public let lowModerate: Double
        public let lowMarked: Double
        enum CodingKeys: String, CodingKey {
            case highModerate = "high_moderate", highMarked = "high_marked"
            case lowModerate = "low_moderate", lowMarked = "low_marked"
        }
    }

    /// One age/sex band. `low` and `high` are in the canonical unit and inclusive.
    public struct ReferenceBand: Sendable, Equatable, Decodable {
        /// "M", "F" or "any".
        public let sex: String
        public let ageMin: Int
        public let ageMax: Int
        public let low: Double
        public let high: Double
        public let source: String?
        public let note: String?
        enum CodingKeys: String, CodingKey {
            case sex, low, high, source, note
            case ageMin = "age_min", ageMax = "age_max"
        }
    }

    struct File: Decodable {
        let schema_version: Int
        let markers: [Marker]
    }

    /// Parses a biomarkers.json document.
    public init(jsonData: Data, name: String = "biomarkers.json") throws(LabError) {
        do {
            let file = try JSONDecoder().decode(File.self, from: jsonData)
            schemaVersion = file.schema_version
            markers = file.markers
        } catch {
            throw .definitionUnreadable(file: name, reason: "\(error)")
        }
        guard schemaVersion == 1 else {
            throw .definitionUnreadable(file: name, reason: "schema_version \(schemaVersion) is not 1")
        }
    }

    /// The bundled definition (Bundle.module), read once.
    public static var bundled: BiomarkerCatalog {
        get throws(LabError) { try bundledResult.get() }
    }

    private static let bundledResult: Result<BiomarkerCatalog, LabError> = {
        guard let url = bundledURL() else {
            return .failure(.definitionUnreadable(file: "biomarkers.json", reason: "not found next to the executable (TumorBoard_Cases.resources) nor in the source checkout; set TUMORBOARD_BIOMARKERS to its path"))
        }
        guard let data = try? Data(contentsOf: url) else {
            return .failure(.definitionUnreadable(file: url.path, reason: "cannot be read"))
        }
        return Result { () throws(LabError) in try BiomarkerCatalog(jsonData: data, name: url.path) }
    }()

    /// TUMORBOARD_BIOMARKERS; else the Cases resource bundle next to the executable (where
    /// SwiftPM puts it); else the source checkout's copy. Not `Bundle.module`: its accessor
    /// ends the process (fatalError) when the bundle is missing, as after copying the binary.
    static func bundledURL() -> URL? {
        let env = ProcessInfo.processInfo.environment
        if let path = env["TUMORBOARD_BIOMARKERS"], !path.isEmpty { return URL(fileURLWithPath: path) }
        var folders = [Bundle.main.bundleURL]
        if let exe = Bundle.main.executableURL { folders.append(exe.resolvingSymlinksInPath().deletingLastPathComponent()) }
        for folder in folders {
            let bundlePath = folder.appendingPathComponent("TumorBoard_Cases.resources").path
            if let b = Bundle(path: bundlePath),
               let url = b.url(forResource: "biomarkers", withExtension: "json", subdirectory: "Resources")
                ?? b.url(forResource: "biomarkers", withExtension: "json") {
                return url
            }
            let direct = URL(fileURLWithPath: bundlePath + "/Resources/biomarkers.json")
            if FileManager.default.fileExists(atPath: direct.path) { return direct }
        }
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Resources/biomarkers.json")
        return FileManager.default.fileExists(atPath: source.path) ? source : nil
    }

    public func marker(_ id: String) throws(LabError) -> Marker {
        guard let m = markers.first(where: { $0.id == id }) else {
            throw .unknownMarker(id, known: markers.map(\.id))
        }
        return m
    }

    public func markerIndex(_ id: String) -> Int? { markers.firstIndex { $0.id == id } }

    /// The unit spec for `unit` of marker `id`, matched by exact string.
    public func unitSpec(marker id: String, unit: String) throws(LabError) -> UnitSpec {
        let m = try marker(id)
        if unit == m.unit { return UnitSpec(unit: unit, factor: 1.0, decimals: m.decimals, isCanonical: true) }
        if let alt = m.alternateUnits.first(where: { $0.unit == unit }) {
            return UnitSpec(unit: unit, factor: alt.factor, decimals: alt.decimals, isCanonical: false)
        }
        throw .unknownUnit(marker: m.name, unit: unit, accepted: m.acceptedUnits)
    }

    /// The first band (file order) whose sex is the patient's or "any" and whose age span holds `age`.
    public func referenceBand(marker id: String, age: Int, sex: Sex) throws(LabError) -> ReferenceBand {
        let m = try marker(id)
        guard age >= 0 else { throw .invalidAge(age) }
        if let band = m.ranges.first(where: { ($0.sex == sex.rawValue || $0.sex == "any") && $0.ageMin <= age && age <= $0.ageMax }) {
            return band
        }
        throw .noRange(marker: id, age: age, sex: sex.rawValue)
    }

    /// Converts through the canonical unit: canonical = v / factor_from; out = canonical * factor_to.
    public func convert(_ value: Double, marker id: String, from: String, to: String) throws(LabError) -> Double {
        let a = try unitSpec(marker: id, unit: from), b = try unitSpec(marker: id, unit: to)
        let canonical = a.factor == 1.0 ? value : value / a.factor
        return b.factor == 1.0 ? canonical : canonical * b.factor
    }
}

/// A lab value or definition that cannot be interpreted. Each message names the marker, unit,
/// age or file concerned.
public enum LabError: Error, Sendable, Equatable, CustomStringConvertible {
    case definitionUnreadable(file: String, reason: String)
    case unknownMarker(String, known: [String])
    case unknownUnit(marker: String, unit: String, accepted: [String])
    case invalidValue(marker: String, value: Double)
    case invalidAge(Int)
    case noRange(marker: String, age: Int, sex: String)
    /// Several results for one marker and no single newest date among them.
    case ambiguousResults(marker: String, count: Int)

    public var description: String {
        switch self {
        case .definitionUnreadable(let file, let reason):
            return "\(file): the biomarker definition cannot be read (\(reason))"
        case .unknownMarker(let id, let known):
            return "unknown blood biomarker '\(id)'; known: \(known.joined(separator: ", "))"
        case .unknownUnit(let marker, let unit, let accepted):
            return "\(marker): unit '\(unit)' not accepted; use one of \(accepted.joined(separator: ", "))"
        case .invalidValue(let marker, let value):
            return "\(marker): value must be a finite number from 0 to under 1000000, got \(value)"
        case .invalidAge(let age):
            return "age must be a whole number of years >= 0, got \(age)"
        case .noRange(let marker, let age, let sex):
            return "no reference range for \(marker) at age \(age), sex \(sex)"
        case .ambiguousResults(let marker, let count):
            return "\(marker): \(count) results and no single newest date among them; keep one, or date them (the newest dated result is used)"
        }
    }
}

extension LabError: LocalizedError {
    public var errorDescription: String? { description }
}
