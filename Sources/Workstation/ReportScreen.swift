import Evaluation
import Foundation
import Imaging

/// An evaluation report (`tumorboard eval --out DIR`) as the workstation shows it: the text of
/// report.md, the plots through the graphics ladder, and the cases it got most wrong, which open
/// in the case view.
public struct ReportDocument: Sendable {
    public var folder: URL
    public var lines: [String]
    public var plots: [(name: String, image: LoadedImage?, problem: String?)]
    public var mostWrong: [EvalReport.Miss]

    public static let plotNames = ["pr_curve", "roc", "reliability", "confusion"]

    /// Reads the folder; a missing or unreadable part is noted, never fatal.
    public static func load(_ folder: URL) throws -> ReportDocument {
        guard let md = try? String(contentsOf: folder.appendingPathComponent("report.md"), encoding: .utf8) else {
            throw CaseSourceError("\(folder.path): no report.md (write one with tumorboard eval --out \(folder.path))")
        }
        var wrong: [EvalReport.Miss] = []
        if let data = try? Data(contentsOf: folder.appendingPathComponent("report.json")) {
            let d = JSONDecoder()
            d.keyDecodingStrategy = .convertFromSnakeCase
            d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            wrong = (try? d.decode(EvalReport.self, from: data))?.mostWrong ?? []
        }
        var plots: [(String, LoadedImage?, String?)] = []
        for name in plotNames {
            let url = folder.appendingPathComponent("\(name).png")
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            do { plots.append((name, try LoadedImage.decode(url), nil)) } catch { plots.append((name, nil, "\(name).png: \(error)")) }
        }
        return ReportDocument(folder: folder, lines: md.components(separatedBy: "\n"), plots: plots, mostWrong: wrong)
    }
}

/// Where the report screen is.
public struct ReportView: Sendable {
    public var document: ReportDocument
    public var top = 0
    public var plot = 0
    public var selectedCase = 0
}

enum ReportScreen {
    static func layout(width: Int, height: Int) -> (text: CellRect, plot: CellRect) {
        let plotW = min(width / 2, max(30, width * 2 / 5))
        return (CellRect(x: 0, y: 1, width: width - plotW, height: height - 2), CellRect(x: width - plotW, y: 1, width: plotW, height: height - 2))
    }

    static func draw(_ r: ReportView, browser b: Browser, into s: inout Screen) {
        let t = b.theme
        s.fill(CellRect(x: 0, y: 0, width: s.width, height: 1), style: t[.title])
        s.put(" Evaluation report · \(r.document.folder.lastPathComponent)", x: 0, y: 0, style: t[.title], maxWidth: s.width - 8)
        s.put("? help", x: s.width - 7, y: 0, style: t[.title])
        let (textRect, plotRect) = layout(width: s.width, height: s.height)
        s.frame(textRect, style: t[.border], title: "report.md (↑↓ PgUp PgDn)", titleStyle: t[.header])
        // The most-wrong case picked with Tab, on the first line.
        var y = textRect.y + 1
        let innerW = textRect.width - 3
        if !r.document.mostWrong.isEmpty {
            let w = r.document.mostWrong[min(r.selectedCase, r.document.mostWrong.count - 1)]
            s.put("Tab case \(r.selectedCase + 1)/\(r.document.mostWrong.count): \(w.id) \(w.truth)→\(w.predicted) · Enter opens",
                  x: textRect.x + 2, y: y, style: t[.key], maxWidth: innerW)
            y += 1
        }
        let rows = textRect.y + textRect.height - 1 - y
        for (k, line) in r.document.lines.dropFirst(r.top).prefix(max(0, rows)).enumerated() {
            let style = line.hasPrefix("#") ? t[.header] : (line.hasPrefix("|") ? t[.text] : t[.dim])
            s.put(line, x: textRect.x + 2, y: y + k, style: style, maxWidth: innerW)
        }
        let plots = r.document.plots
        let title = plots.isEmpty ? "no plots" : "\(plots[r.plot].name).png (\(r.plot + 1)/\(plots.count), ] [)"
        s.frame(plotRect, style: t[.border], title: title, titleStyle: t[.header])
        let inner = CellRect(x: plotRect.x + 1, y: plotRect.y + 1, width: plotRect.width - 2, height: plotRect.height - 2)
        guard !plots.isEmpty else { return }
        let p = plots[r.plot]
        if let img = p.image {
            do {
                try b.pane.draw(img.image, id: "report/\(r.document.folder.path)/\(p.name)", boxes: [],
                                view: ImageViewState(window: .spanning(minimum: 0, maximum: 255)), in: inner,
                                graphics: b.graphics, theme: t, into: &s)
            } catch {
                s.put("cannot draw: \(error)", x: inner.x + 1, y: inner.y + 1, style: t[.error], maxWidth: inner.width - 2)
            }
        } else {
            s.put(p.problem ?? "unreadable", x: inner.x + 1, y: inner.y + 1, style: t[.error], maxWidth: inner.width - 2)
        }
    }
}
