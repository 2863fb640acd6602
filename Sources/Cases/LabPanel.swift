import Foundation

/// One blood test result as entered or imported: marker id (as in biomarkers.json), value in
/// `unit`, and the date the sample was taken (ISO 8601 date, optional).
public struct LabResult: Codable, Sendable, Equatable, Hashable {
    /// Values at or above this are refused (no blood test in the catalogue's units comes near).
    public static let implausible = 1_000_000.0

    public var marker: String
    public var value: Double
    public var unit: String
    public var date: String?

    public init(marker: String, value: Double, unit: String, date: String? = nil) {
        self.marker = marker
        self.value = value
        self.unit = unit
        self.date = date
    }
}

public enum LabFlag: String, Codable, Sendable, Equatable {
    case low, normal, high
}

public enum LabSeverity: String, Codable, Sendable, Equatable {
    case mild, moderate, marked
}

/// A result read against its reference band. Comparisons are made on the values as printed
/// with the unit's decimals (the rule of training/labs.py), so the flag shown next to a value
/// always agrees with the clinical sentence.
public struct LabInterpretation: Sendable, Equatable {
    public let result: LabResult
    public let marker: BiomarkerCatalog.Marker
    /// Index of the marker in biomarkers.json (sentence order).
    public let markerIndex: Int
    public let unit: BiomarkerCatalog.UnitSpec
    public let band: BiomarkerCatalog.ReferenceBand
    /// The value in the marker's canonical unit.
    public let canonicalValue: Double
    /// printf("%.{d}f") of the value, the band's low and high in the result's unit.
    public let valueText: String
    public let lowText: String
    public let highText: String
    public let flag: LabFlag
    /// nil when normal.
    public let severity: LabSeverity?
    public let ratio: Double?

    public var isAbnormal: Bool { flag != .normal }
    /// The band's lower limit is 0: the reference reads "up to H".
    public var lowIsZero: Bool { band.low == 0 }
}

extension BiomarkerCatalog {
    /// Reads one result against the band for this patient. Refuses an unknown marker or unit,
    /// a negative or non-finite value, and an age without a band, naming which.
    public func interpret(_ result: LabResult, age: Int, sex: Sex) throws(LabError) -> LabInterpretation {
        let m = try marker(result.marker)
        // No blood test in these units reaches a million: 1e308 is a typing or unit error.
        guard result.value.isFinite, result.value >= 0, result.value < LabResult.implausible else {
            throw .invalidValue(marker: m.name, value: result.value)
        }
        let u = try unitSpec(marker: m.id, unit: result.unit)
        let band = try referenceBand(marker: m.id, age: age, sex: sex)
        let d = u.decimals
        let valueText = printf(result.value, decimals: d)
        let lowText = printf(band.low * u.factor, decimals: d)
        let highText = printf(band.high * u.factor, decimals: d)
        let v = Double(valueText)!, lo = Double(lowText)!, hi = Double(highText)!
        let s = m.severity
        var flag = LabFlag.normal, severity: LabSeverity? = nil, ratio: Double? = nil
        if v > hi {
            let r = v / hi
            flag = .high; ratio = r
            severity = r >= s.highMarked ? .marked : r >= s.highModerate ? .moderate : .mild
        } else if v < lo {
            let r = v / lo
            flag = .low; ratio = r
            severity = r <= s.lowMarked ? .marked : r <= s.lowModerate ? .moderate : .mild
        }
        let canonical = u.factor == 1.0 ? result.value : result.value / u.factor
        return LabInterpretation(result: result, marker: m, markerIndex: markerIndex(m.id)!, unit: u, band: band,
                                 canonicalValue: canonical, valueText: valueText, lowText: lowText,
                                 highText: highText, flag: flag, severity: severity, ratio: ratio)
    }

    /// Checks a result without a patient (marker, unit, value): what an import does before
    /// anything is written.
    public func validate(_ result: LabResult) throws(LabError) {
        let m = try marker(result.marker)
        // No blood test in these units reaches a million: 1e308 is a typing or unit error.
        guard result.value.isFinite, result.value >= 0, result.value < LabResult.implausible else {
            throw .invalidValue(marker: m.name, value: result.value)
        }
        _ = try unitSpec(marker: m.id, unit: result.unit)
    }
}

/// C printf "%.Nf": correctly rounded from the binary double, "." whatever the locale.
func printf(_ value: Double, decimals: Int) -> String {
    // -0 (a typed "-0", or a negative value rounded to zero) reads "0".
    let s = String(format: "%.\(decimals)f", locale: nil, value)
    return s.hasPrefix("-") && s.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) ? String(s.dropFirst()) : s
}
