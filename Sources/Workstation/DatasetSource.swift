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

/// A folder of case folders: each holds a radiograph (radiograph.png/.jpg, or the first PNG/JPEG)
/// and optionally case.json ({"age": 12, "sex": "M", "site": "femur", "label": "malignant",
/// "boxes": [{"x0":..,"y0":..,"x1":..,"y1":..,"label":".."}]}).
/// Stand-in until the case store (issue 6) defines case folders; then this goes.
public struct CaseFolderSource: CaseSource {
    public let folder: String
    let ids: [String]

    public init(folder: String) throws {
        self.folder = folder
        let fm = FileManager.default
        let entries = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
        ids = entries.filter { name in
            var d: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: "\(folder)/\(name)", isDirectory: &d) && d.boolValue
        }.sorted()
    }

    public var title: String { "\((folder as NSString).lastPathComponent) (\(ids.count) case folders)" }

    struct Meta: Decodable {
        var age: Int?; var sex: String?; var site: String?; var label: String?; var subtype: String?
        var boxes: [BoxMeta]?
        struct BoxMeta: Decodable { var x0: Int; var y0: Int; var x1: Int; var y1: Int; var label: String? }
    }

    func meta(_ id: String) -> Meta? {
        guard let data = FileManager.default.contents(atPath: "\(folder)/\(id)/case.json") else { return nil }
        return try? JSONDecoder().decode(Meta.self, from: data)
    }

    public func summaries() -> [CaseSummary] {
        ids.map { id in
            let m = meta(id)
            return CaseSummary(id: id, label: m?.label, subtype: m?.subtype, age: m?.age, sex: m?.sex, site: m?.site,
                               boxCount: m?.boxes?.count ?? 0)
        }
    }

    public func detail(id: String) throws -> CaseDetail {
        guard ids.contains(id) else { throw CaseSourceError("\(id): no such case folder in \(folder)") }
        let m = meta(id)
        let s = summaries().first { $0.id == id }!
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: "\(folder)/\(id)")) ?? []).sorted()
        let images = files.filter { ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }
        let pick = images.first { $0.lowercased().hasPrefix("radiograph") } ?? images.first
        let boxes = (m?.boxes ?? []).enumerated().map { k, b in
            LabelledBox(rect: PixelRect(x0: b.x0, y0: b.y0, x1: b.x1, y1: b.y1), label: "\(k + 1) \(b.label ?? s.label ?? "lesion")",
                        role: Role.forLabel(s.label))
        }
        var details: [(String, String)] = [("Case", id)]
        if let l = s.label { details.append(("Label", l)) }
        if let st = s.subtype { details.append(("Subtype", st)) }
        if let a = s.age { details.append(("Age", "\(a)")) }
        if let x = s.sex { details.append(("Sex", x)) }
        if let si = s.site { details.append(("Site", si)) }
        if let pick { details.append(("Radiograph", pick)) }
        return CaseDetail(summary: s, radiograph: pick.map { URL(fileURLWithPath: "\(folder)/\(id)/\($0)") }, boxes: boxes, details: details)
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
