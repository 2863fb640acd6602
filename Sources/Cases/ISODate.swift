/// ISO 8601 calendar days ("2026-01-14", or the first ten characters of a date-time): the one
/// check for every date a case carries (lab results, acquisition dates).
public enum ISODate {
    /// True when `s` starts with a real calendar day YYYY-MM-DD (2026-02-29 and 2026-13-45 are not).
    public static func isValidDay(_ s: String) -> Bool {
        let d = Array(s.prefix(10))
        guard d.count == 10, d[4] == "-", d[7] == "-",
              d.enumerated().allSatisfy({ i, c in i == 4 || i == 7 || (c.isASCII && c.isNumber) }),
              let y = Int(String(d[0..<4])), let m = Int(String(d[5..<7])), let day = Int(String(d[8..<10])),
              (1...12).contains(m), day >= 1 else { return false }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        return day <= days
    }

    /// A DICOM date (DA, "YYYYMMDD") as YYYY-MM-DD when it is a real day, else nil.
    public static func fromDICOM(_ s: String?) -> String? {
        guard let s, s.count == 8, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let day = "\(s.prefix(4))-\(s.dropFirst(4).prefix(2))-\(s.suffix(2))"
        return isValidDay(day) ? day : nil
    }
}
