import Cases
import Foundation
import Imaging

/// Cases read through the Cases module: a folder of case folders (case.json manifests, read
/// and checked by `CaseFolder.read`), shown from their `CaseRecord`s.
public struct RecordSource: CaseSource {
    public let title: String
    let records: [CaseRecord]
    /// Folders that were refused, with the reason (shown once in the status bar).
    public let problems: [String]
    /// Record index by case ID.
    let index: [String: Int]

    public init(title: String, records: [CaseRecord], problems: [String] = []) {
        self.title = title; self.records = records; self.problems = problems
        var index: [String: Int] = [:]
        for (i, r) in records.enumerated() where index[r.id] == nil { index[r.id] = i }
        self.index = index
    }

    public func record(id: String) throws -> CaseRecord {
        guard let i = index[id] else { throw CaseSourceError("\(id): no such case") }
        return records[i]
    }

    /// Every sub-folder of `folder` that holds a case.json.
    public static func caseFolders(in folder: String) -> RecordSource {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        var records: [CaseRecord] = [], problems: [String] = []
        for name in names {
            let url = URL(fileURLWithPath: folder).appendingPathComponent(name)
            guard fm.fileExists(atPath: url.appendingPathComponent(CaseFolder.manifestName).path) else { continue }
            do { records.append(try CaseFolder.read(url, verification: .existence)) } catch { problems.append("\(name): \(error)") }
        }
        let base = (folder as NSString).lastPathComponent
        return RecordSource(title: "\(base) (\(records.count) case folders)", records: records, problems: problems)
    }

    public func summaries() -> [CaseSummary] { records.map(Self.summary) }

    static func summary(_ r: CaseRecord) -> CaseSummary {
        CaseSummary(id: r.id, label: r.label?.rawValue, subtype: r.subtype, age: r.age, sex: r.sex?.rawValue,
                    site: r.site, boxCount: r.radiographs.first?.boxes.count ?? 0,
                    review: r.review?.signedOffAt != nil ? "signed" : (r.review?.note != nil ? "reviewed" : nil))
    }

    public func detail(id: String) throws -> CaseDetail {
        let r = try record(id: id)
        let s = Self.summary(r)
        let radiograph = r.radiographs.first
        let name = s.subtype ?? s.label ?? "lesion"
        let boxes = (radiograph?.boxes ?? []).enumerated().map { k, b in
            LabelledBox(rect: PixelRect(x0: b.x0, y0: b.y0, x1: b.x1, y1: b.y1), label: "truth \(k + 1) \(name)", role: .box, dashed: true)
        }
        var details: [(String, String)] = [("Case", r.id)]
        if let v = s.label { details.append(("Label", v)) }
        if let v = s.subtype { details.append(("Subtype", v)) }
        if let v = r.age { details.append(("Age", "\(v)")) }
        if let v = s.sex { details.append(("Sex", v)) }
        if let v = r.site { details.append(("Site", v)) }
        if let v = radiograph?.view { details.append(("View", v)) }
        if let f = radiograph?.file { details.append(("Image", (f as NSString).lastPathComponent)) }
        if r.radiographs.count > 1 { details.append(("Images", "\(r.radiographs.count) (first shown)")) }
        details.append(("Slides", "\(r.slides.count)"))
        details.append(("Labs", "\(r.labs.count) results"))
        if let v = r.clinicalNote { details.append(("Note", v)) }
        if let v = r.provenance { details.append(("Source", v)) }
        return CaseDetail(summary: s, radiograph: radiograph.map { URL(fileURLWithPath: $0.file) }, boxes: boxes, details: details, record: r)
    }
}
