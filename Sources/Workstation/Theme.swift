import Foundation

/// A colour theme: one style per `Role`. Read from a file in themes/ (one theme a file):
///
///     # comment
///     name = dark
///     text = 252 on 234          # fg on bg: 0-255, a colour name, or "default"
///     title = 255 on 24 bold     # attributes: bold, reverse, underline
///
/// Every role must be given; unknown keys, bad colours and missing roles are errors with the
/// file name and line, and the caller falls back to the built-in dark theme.
public struct Theme: Sendable, Equatable {
    public var name: String
    public var styles: [Role: Style]

    public subscript(role: Role) -> Style { styles[role] ?? .plain }

    /// The dark reading-room theme, built in so the UI never starts without one.
    /// themes/dark.theme is this same theme (a test checks it).
    public static let dark = try! Theme.parse(darkSource, file: "built-in dark")

    static let darkSource = """
    # Dark reading-room theme (the default): dim surroundings, no bright areas next to the image.
    name = dark
    text = 250 on 233
    dim = 243 on 233
    title = 252 on 236 bold
    status = 250 on 236
    selection = 255 on 24 bold
    header = 110 on 233 bold
    border = 239 on 233
    key = 179 on 233 bold
    search = 233 on 179
    error = 231 on 124 bold
    normal = 114 on 233
    benign = 150 on 233
    intermediate = 179 on 233 bold
    malignant = 203 on 233 bold
    box = 220 on 233
    # model boxes not classified (only the top lesion is), contributions for and against the
    # predicted class, the Grad-CAM ramp (hot on cool), the empty part of a bar
    prediction = 81 on 233
    gain = 75 on 233
    loss = 209 on 233
    heatmap = 196 on 19
    track = 237 on 233
    image-background = 16 on 16
    """

    static let colourNames: [String: UInt8] = [
        "black": 0, "red": 1, "green": 2, "yellow": 3, "blue": 4, "magenta": 5, "cyan": 6, "white": 7,
        "brightblack": 8, "grey": 8, "gray": 8, "brightred": 9, "brightgreen": 10, "brightyellow": 11,
        "brightblue": 12, "brightmagenta": 13, "brightcyan": 14, "brightwhite": 15,
    ]

    public static func parse(_ text: String, file: String) throws(ThemeError) -> Theme {
        var name: String?
        var styles: [Role: Style] = [:]
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first
                .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if line.isEmpty { continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ThemeError(file: file, line: n + 1, message: "expected 'key = value', got '\(line)'")
            }
            if parts[0] == "name" { name = parts[1]; continue }
            guard let role = Role(rawValue: parts[0]) else {
                throw ThemeError(file: file, line: n + 1, message: "unknown key '\(parts[0])' (keys: name, \(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            styles[role] = try parseStyle(parts[1], file: file, line: n + 1)
        }
        let missing = Role.allCases.filter { styles[$0] == nil }
        guard missing.isEmpty else {
            throw ThemeError(file: file, line: nil, message: "missing \(missing.map(\.rawValue).joined(separator: ", "))")
        }
        return Theme(name: name ?? (file as NSString).lastPathComponent, styles: styles)
    }

    static func parseStyle(_ value: String, file: String, line: Int) throws(ThemeError) -> Style {
        let words = value.lowercased().split(separator: " ").map(String.init)
        var style = Style()
        var i = 0
        func colour(_ w: String) throws(ThemeError) -> TermColor {
            if w == "default" { return .default }
            if let n = Int(w), (0...255).contains(n) { return .index(UInt8(n)) }
            if let n = colourNames[w] { return .index(n) }
            throw ThemeError(file: file, line: line, message: "'\(w)' is not a colour (0-255, a name such as red or brightwhite, or default)")
        }
        guard !words.isEmpty else { throw ThemeError(file: file, line: line, message: "empty style") }
        style.fg = try colour(words[0]); i = 1
        if i < words.count, words[i] == "on" {
            guard i + 1 < words.count else { throw ThemeError(file: file, line: line, message: "'on' needs a background colour") }
            style.bg = try colour(words[i + 1]); i += 2
        }
        while i < words.count {
            switch words[i] {
            case "bold": style.bold = true
            case "reverse": style.reverse = true
            case "underline": style.underline = true
            default: throw ThemeError(file: file, line: line, message: "unknown attribute '\(words[i])' (bold, reverse, underline)")
            }
            i += 1
        }
        return style
    }

    /// Loads `<folder>/<name>.theme`, or the file at `name` when it is a path.
    public static func load(named name: String, folder: String?) throws(ThemeError) -> Theme {
        let path = name.contains("/") || name.hasSuffix(".theme") ? name : "\(folder ?? "themes")/\(name).theme"
        guard let data = FileManager.default.contents(atPath: path) else {
            if name == "dark" { return .dark }
            throw ThemeError(file: path, line: nil, message: "cannot read the theme file")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    /// A theme by name, or the default with the reason it was not used.
    public static func loadOrDefault(named name: String, folder: String?) -> (Theme, String?) {
        do { return (try load(named: name, folder: folder), nil) } catch { return (.dark, "\(error.description); using the dark theme") }
    }

    /// Theme names in a folder (file names without .theme), sorted, dark first.
    public static func available(in folder: String?) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder ?? "themes")) ?? []
        let names = files.filter { $0.hasSuffix(".theme") }.map { String($0.dropLast(6)) }.sorted()
        return ["dark"] + names.filter { $0 != "dark" }
    }
}

public struct ThemeError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var message: String
    public var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}
