import Foundation
import Imaging

/// A dataset folder laid out like BTXRD (../shared/data/btxrd): images/<id>.png, cases.csv
/// (image_id,label,subtype,age,sex,center,site,region,view), boxes.csv (image_id,x0,y0,x1,y1,area;
/// x1, y1 exclusive) and optionally splits.csv (image_id,split).
/// Stand-in until the case store (issue 6) reads datasets; then this goes.
public struct DatasetSource: CaseSource {
    public let folder: String
    let rows: [[String: String]]
    let order: [String]
    let boxes: [String: [PixelRect]]
    let splits: [String: String]

    public init(folder: String) throws {
        self.folder = folder
        let cases = try CSV.read(folder + "/cases.csv")
        guard cases.header.contains("image_id") else {
            throw CaseSourceError("\(folder)/cases.csv: no image_id column (found: \(cases.header.joined(separator: ", ")))")
        }
        var rows: [[String: String]] = [], order: [String] = []
        for r in cases.rows { if let id = r["image_id"] { rows.append(r); order.append(id) } }
        self.rows = rows; self.order = order
        var boxes: [String: [PixelRect]] = [:]
        if let b = try? CSV.read(folder + "/boxes.csv") {
            for r in b.rows {
                guard let id = r["image_id"], let x0 = Int(r["x0"] ?? ""), let y0 = Int(r["y0"] ?? ""),
                      let x1 = Int(r["x1"] ?? ""), let y1 = Int(r["y1"] ?? "") else { continue }
                boxes[id, default: []].append(PixelRect(x0: x0, y0: y0, x1: x1, y1: y1))
            }
        }
        self.boxes = boxes
        var splits: [String: String] = [:]
        if let s = try? CSV.read(folder + "/splits.csv") {
            for r in s.rows { if let id = r["image_id"], let sp = r["split"] { splits[id] = sp } }
        }
        self.splits = splits
    }

    public var title: String { "\((folder as NSString).lastPathComponent) (dataset, \(order.count) images)" }

    public func summaries() -> [CaseSummary] {
        rows.map { summary($0) }
    }

    func summary(_ r: [String: String]) -> CaseSummary {
        let id = r["image_id"] ?? "?"
        func v(_ k: String) -> String? { r[k].flatMap { $0.isEmpty ? nil : $0 } }
        return CaseSummary(id: id, label: v("label"), subtype: v("subtype"), age: v("age").flatMap { Int($0) },
                           sex: v("sex"), site: v("site"), boxCount: boxes[id]?.count ?? 0)
    }

    public func detail(id: String) throws -> CaseDetail {
        guard let i = order.firstIndex(of: id) else { throw CaseSourceError("\(id): not in \(folder)/cases.csv") }
        let r = rows[i]
        let s = summary(r)
        let image = ["png", "jpg", "jpeg"].map { URL(fileURLWithPath: "\(folder)/images/\(id).\($0)") }
            .first { FileManager.default.fileExists(atPath: $0.path) }
        let label = s.subtype ?? s.label ?? "lesion"
        let boxes = (boxes[id] ?? []).enumerated().map { k, rect in
            LabelledBox(rect: rect, label: "\(k + 1) \(label)", role: s.labelRole)
        }
        var details: [(String, String)] = [("Image", id)]
        for (key, name) in [("label", "Label"), ("subtype", "Subtype"), ("age", "Age"), ("sex", "Sex"), ("site", "Site"),
                            ("region", "Region"), ("view", "View"), ("center", "Centre")] {
            if let v = r[key], !v.isEmpty { details.append((name, v)) }
        }
        if let sp = splits[id] { details.append(("Split", sp)) }
        return CaseDetail(summary: s, radiograph: image, boxes: boxes, details: details)
    }
}

/// Comma-separated values with a header row; double-quoted fields may hold commas and "".
enum CSV {
    static func read(_ path: String) throws -> (header: [String], rows: [[String: String]]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw CaseSourceError("\(path): cannot read") }
        let lines = parse(String(decoding: data, as: UTF8.self))
        guard let header = lines.first else { throw CaseSourceError("\(path): empty") }
        let rows = lines.dropFirst().filter { !($0.count == 1 && $0[0].isEmpty) }.map { fields in
            Dictionary(zip(header, fields).map { ($0, $1) }, uniquingKeysWith: { a, _ in a })
        }
        return (header, rows)
    }

    static func parse(_ text: String) -> [[String]] {
        var out: [[String]] = [], row: [String] = [], field = ""
        var quoted = false
        var it = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        while let c = pending ?? it.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let n = it.next() { if n == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = n } } else { quoted = false }
                } else { field.unicodeScalars.append(c) }
                continue
            }
            switch c {
            case "\"": quoted = true
            case ",": row.append(field); field = ""
            case "\n": row.append(field); out.append(row); row = []; field = ""
            case "\r": break
            default: field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); out.append(row) }
        return out
    }
}
