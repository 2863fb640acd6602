import Foundation
import Imaging

/// A case on disk: a folder holding `case.json` (the manifest) next to the image files it names.
/// The format is documented in docs/case-format.md. Reading checks everything (fields, paths,
/// that each image decodes, lab markers and units) before returning, so an import that
/// fails writes nothing.
public enum CaseFolder {
    public static let manifestName = "case.json"
    public static let formatName = "tumorboard-case"
    public static let formatVersion = 1
    /// Largest manifest accepted (a manifest is text; anything bigger is a wrong file).
    public static let maxManifestBytes = 4 << 20

    static let topLevelKeys: Set<String> = [
        "format", "format_version", "id", "synthetic", "description", "age", "sex", "site",
        "clinical_note", "label", "subtype", "radiographs", "slides", "labs", "findings", "review",
    ]

    /// How much of each referenced image is checked on read.
    public enum Verification: Sendable, Equatable {
        /// Decode every image (PNG, JPEG, DICOM) and hash it.
        case decodeAndHash
        /// Hash only (files must exist and be readable).
        case hashOnly
        /// Existence only.
        case existence
    }

    /// Reads and checks a case folder. Paths in the result are absolute; sha256 are filled in.
    public static func read(_ folder: URL, verification: Verification = .decodeAndHash,
                            catalog: BiomarkerCatalog? = nil) throws(CaseError) -> CaseRecord {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw .notAFolder(folder.path)
        }
        let manifestURL = folder.appendingPathComponent(manifestName)
        let name = manifestURL.path
        guard FileManager.default.fileExists(atPath: name) else {
            throw .missingFile(file: folder.path, field: "manifest", path: manifestName)
        }
        let data: Data
        do { data = try Data(contentsOf: manifestURL) } catch {
            throw .manifest(file: name, field: "(file)", problem: "cannot be read (\(error.localizedDescription))")
        }
        guard data.count <= maxManifestBytes else {
            throw .manifest(file: name, field: "(file)", problem: "\(data.count) bytes, more than the \(maxManifestBytes) a manifest may have")
        }
        guard !data.isEmpty else { throw .manifest(file: name, field: "(file)", problem: "file is empty") }
        let text = try decodeUTF8(data, file: name)
        var record = try parseManifest(text, file: name)
        let labCatalog: BiomarkerCatalog
        if let catalog { labCatalog = catalog } else {
            do { labCatalog = try BiomarkerCatalog.bundled } catch { throw .lab(file: name, field: "labs", error) }
        }
        try resolveAndVerify(&record, folder: folder, manifest: name, verification: verification, catalog: labCatalog)
        return record
    }

    /// Parses manifest text; paths stay as written (relative).
    public static func parseManifest(_ text: String, file: String) throws(CaseError) -> CaseRecord {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) } catch {
            throw .manifest(file: file, field: "(file)", problem: "not valid JSON (\(jsonErrorDetail(error)))")
        }
        guard let root = object as? [String: Any] else {
            throw .manifest(file: file, field: "(file)", problem: "expected a JSON object at the top level")
        }
        // The parser keeps the last of two equal keys without a word: a manifest saying two
        // things (two labels, two sha256) is refused, naming the key.
        if let duplicate = JSONDuplicateKeys.first(in: text) {
            throw .manifest(file: file, field: duplicate.field,
                            problem: "the key \"\(duplicate.key)\" appears twice in the same object (a JSON reader would silently keep the last); keep one")
        }
        let r = Fields(root, file: file, path: "")
        for key in root.keys.sorted() where !topLevelKeys.contains(key) {
            throw .manifest(file: file, field: key, problem: "unknown field; known: \(topLevelKeys.sorted().joined(separator: ", "))")
        }
        guard try r.string("format") == formatName else {
            throw .manifest(file: file, field: "format", problem: "must be \"\(formatName)\"")
        }
        let version = try r.int("format_version")
        guard version == formatVersion else {
            throw .manifest(file: file, field: "format_version", problem: "version \(version) is not supported (this program reads \(formatVersion))")
        }
        let id = try r.string("id")
        guard isValidCaseID(id) else {
            throw .manifest(file: file, field: "id", problem: "'\(id)' is not a case ID: use 1-64 letters, digits, '-', '_' or '.', not starting with '.'")
        }
        var record = CaseRecord(id: id)
        if let age = try r.optionalInt("age") {
            guard (0...150).contains(age) else { throw .manifest(file: file, field: "age", problem: "\(age) is not an age in years (0-150)") }
            record.age = age
        }
        if let sex = try r.optionalString("sex") {
            guard let s = Sex(rawValue: sex) else { throw .manifest(file: file, field: "sex", problem: "'\(sex)' is not F or M") }
            record.sex = s
        }
        record.site = try r.optionalString("site")
        record.clinicalNote = try r.optionalString("clinical_note")
        if let label = try r.optionalString("label") {
            guard let l = DiagnosisLabel(rawValue: label) else {
                throw .manifest(file: file, field: "label", problem: "'\(label)' is not one of \(DiagnosisLabel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            record.label = l
        }
        record.subtype = try r.optionalString("subtype")
        let synthetic = try r.optionalBool("synthetic")
        let description = try r.optionalString("description")
        if synthetic == true, description == nil {
            throw .manifest(file: file, field: "description", problem: "a synthetic case must say what it is")
        }
        record.provenance = description.map { synthetic == true ? "synthetic, not a patient: \($0)" : $0 }
            ?? (synthetic == true ? "synthetic, not a patient" : nil)

        for (i, item) in try r.objects("radiographs").enumerated() {
            let f = Fields(item, file: file, path: "radiographs[\(i)].")
            var boxes: [LesionBox] = []
            for (j, b) in try f.objects("boxes").enumerated() {
                let bf = Fields(b, file: file, path: "radiographs[\(i)].boxes[\(j)].")
                let box = LesionBox(x0: try bf.int("x0"), y0: try bf.int("y0"), x1: try bf.int("x1"), y1: try bf.int("y1"))
                guard box.x0 >= 0, box.y0 >= 0, box.x1 > box.x0, box.y1 > box.y0 else {
                    throw .manifest(file: file, field: "radiographs[\(i)].boxes[\(j)]", problem: "needs 0 <= x0 < x1 and 0 <= y0 < y1")
                }
                boxes.append(box)
            }
            record.radiographs.append(Radiograph(file: try f.string("file"), view: try f.optionalString("view"),
                                                 acquired: try f.optionalDate("acquired"),
                                                 sha256: try f.optionalSHA("sha256"), boxes: boxes))
        }
        for (i, item) in try r.objects("slides").enumerated() {
            let f = Fields(item, file: file, path: "slides[\(i)].")
            record.slides.append(SlideReference(slideID: try f.string("slide_id"), block: try f.optionalString("block"),
                                                stain: try f.optionalString("stain"), file: try f.string("file"),
                                                sha256: try f.optionalSHA("sha256"),
                                                enteredBy: try f.optionalString("entered_by"),
                                                enteredAt: try f.optionalString("entered_at")))
        }
        for (i, item) in try r.objects("labs").enumerated() {
            let f = Fields(item, file: file, path: "labs[\(i)].")
            let value = try f.double("value")
            record.labs.append(LabResult(marker: try f.string("marker"), value: value, unit: try f.string("unit"),
                                         date: try f.optionalDate("date")))
        }
        for (i, item) in try r.objects("findings").enumerated() {
            let f = Fields(item, file: file, path: "findings[\(i)].")
            record.findings.append(Finding(createdAt: try f.string("created_at"), models: try f.stringMap("models"),
                                           probabilities: try f.doubleMap("probabilities"),
                                           boxes: [], modalities: try f.strings("modalities"),
                                           note: try f.optionalString("note")))
        }
        if let review = root["review"] {
            guard let obj = review as? [String: Any] else {
                throw .manifest(file: file, field: "review", problem: "expected an object")
            }
            let f = Fields(obj, file: file, path: "review.")
            record.review = Review(note: try f.optionalString("note"), signedOffBy: try f.optionalString("signed_off_by"),
                                   signedOffAt: try f.optionalString("signed_off_at"))
        }
        return record
    }

    /// Case IDs are pseudonymous keys and folder names: 1-64 of [A-Za-z0-9._-], not starting with '.'.
    public static func isValidCaseID(_ id: String) -> Bool {
        guard (1...64).contains(id.utf8.count), !id.hasPrefix(".") else { return false }
        return id.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 46 || c == 95
        }
    }

    /// Resolves `relative` inside `folder`, refusing absolute paths, '..' and symlinks that leave it.
    static func resolveInside(_ folder: URL, _ relative: String, manifest: String, field: String) throws(CaseError) -> URL {
        guard !relative.isEmpty else { throw .manifest(file: manifest, field: field, problem: "empty path") }
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        if relative.hasPrefix("/") || relative.hasPrefix("~") || parts.contains("..") || relative.contains("\\") {
            throw .pathOutsideCase(file: manifest, field: field, path: relative)
        }
        let url = folder.appendingPathComponent(relative).standardizedFileURL
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw .missingFile(file: manifest, field: field, path: relative)
        }
        let root = folder.resolvingSymlinksInPath().standardizedFileURL.path
        let real = url.resolvingSymlinksInPath().standardizedFileURL.path
        guard real.hasPrefix(root + "/") else { throw .pathOutsideCase(file: manifest, field: field, path: relative) }
        return url
    }

    static func resolveAndVerify(_ record: inout CaseRecord, folder: URL, manifest: String,
                                 verification: Verification, catalog: BiomarkerCatalog) throws(CaseError) {
        for i in record.radiographs.indices {
            let field = "radiographs[\(i)].file"
            let url = try resolveInside(folder, record.radiographs[i].file, manifest: manifest, field: field)
            record.radiographs[i].file = url.path
            record.radiographs[i].sha256 = try verify(url, field: field, manifest: manifest,
                                                     expected: record.radiographs[i].sha256, verification: verification)
        }
        for i in record.slides.indices {
            let field = "slides[\(i)].file"
            let url = try resolveInside(folder, record.slides[i].file, manifest: manifest, field: field)
            record.slides[i].file = url.path
            if verification != .existence { try refuseDICOMSlide(url, field: field) }
            record.slides[i].sha256 = try verify(url, field: field, manifest: manifest,
                                                expected: record.slides[i].sha256, verification: verification)
        }
        // Age and sex not in the manifest come from a DICOM radiograph's patient tags.
        if record.age == nil || record.sex == nil {
            for g in record.radiographs where DICOMFile.looksLikeDICOM(URL(fileURLWithPath: g.file)) {
                guard let p = try? DICOMFile.patient(contentsOf: URL(fileURLWithPath: g.file)) else { continue }
                record.age = record.age ?? p.age
                record.sex = record.sex ?? p.sex
                break
            }
        }
        for (i, lab) in record.labs.enumerated() {
            do { try catalog.validate(lab) } catch { throw .lab(file: manifest, field: "labs[\(i)]", error) }
        }
    }

    static func verify(_ url: URL, field: String, manifest: String, expected: String?,
                       verification: Verification) throws(CaseError) -> String? {
        if case .existence = verification { return expected }
        if case .decodeAndHash = verification { _ = try decodeImage(url, field: field) }
        let digest: String
        do { digest = try SHA256Digest.hex(ofFile: url) } catch {
            throw .image(field: field, .unreadable(file: url.path, reason: error.localizedDescription))
        }
        if let expected, expected != digest {
            throw .manifest(file: manifest, field: field.replacingOccurrences(of: ".file", with: ".sha256"),
                            problem: "\(url.lastPathComponent) has sha256 \(digest), the manifest says \(expected): the file changed")
        }
        return digest
    }

    /// Decodes a radiograph or slide image: DICOM by its 'DICM' preamble, else PNG / JPEG.
    /// A pathology slide: a PNG or JPEG picture of the tissue, never a DICOM radiograph.
    public static func decodeSlide(_ url: URL, field: String = "slide") throws(CaseError) -> Image {
        try refuseDICOMSlide(url, field: field)
        return try decodeImage(url, field: field)
    }

    static func refuseDICOMSlide(_ url: URL, field: String) throws(CaseError) {
        let type = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.type] as? FileAttributeType
        guard type == .typeRegular, DICOMFile.looksLikeDICOM(url) else { return }
        var head: [UInt8] = []
        if let h = FileHandle(forReadingAtPath: url.path) { head = (try? h.read(upToCount: 4)).map { Array($0) } ?? []; try? h.close() }
        throw .image(field: field, .notAnImage(file: url.path, leadingBytes: head,
                     hint: "this is a DICOM file; a slide is a PNG or JPEG picture of the tissue (radiographs may be DICOM)"))
    }

    public static func decodeImage(_ url: URL, field: String = "file") throws(CaseError) -> Image {
        // Before anything opens it: opening a FIFO for reading blocks until a writer comes.
        // A symbolic link is judged by what it leads to.
        if let type = ImageDecoder.targetKind(url.path), type != .typeRegular, type != .typeDirectory {
            throw .image(field: field, .unreadable(file: url.path, reason: "not a regular file (\(ImageDecoder.kind(type)))"))
        }
        if DICOMFile.looksLikeDICOM(url) {
            // What a radiologist's viewer shows by default, and so what the models see (as for
            // PNG/JPEG, which hold display grey levels already): the modality LUT, the file's
            // first VOI window, MONOCHROME1 inverted, 8-bit. The stored values (often 12-bit)
            // would otherwise reach the models almost black.
            let d: DICOMFile
            do { d = try DICOMFile(contentsOf: url) } catch { throw .dicom(field: field, error) }
            do { return try d.displayImage() } catch { throw .image(field: field, error) }
        }
        do { return try ImageDecoder().decode(contentsOf: url) } catch { throw .image(field: field, error) }
    }

    /// The manifest JSON for a record, with paths made relative to `folder` where they lie in it.
    public static func manifestJSON(_ record: CaseRecord, relativeTo folder: URL? = nil) -> Data {
        func rel(_ path: String) -> String {
            guard let folder else { return path }
            let root = folder.standardizedFileURL.path + "/"
            return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
        }
        var root: [String: Any] = ["format": formatName, "format_version": formatVersion, "id": record.id]
        if let p = record.provenance {
            let prefix = "synthetic, not a patient: "
            if p.hasPrefix(prefix) { root["synthetic"] = true; root["description"] = String(p.dropFirst(prefix.count)) }
            else if p == "synthetic, not a patient" { root["synthetic"] = true; root["description"] = p }
            else { root["description"] = p }
        }
        if let v = record.age { root["age"] = v }
        if let v = record.sex { root["sex"] = v.rawValue }
        if let v = record.site { root["site"] = v }
        if let v = record.clinicalNote { root["clinical_note"] = v }
        if let v = record.label { root["label"] = v.rawValue }
        if let v = record.subtype { root["subtype"] = v }
        root["radiographs"] = record.radiographs.map { r -> [String: Any] in
            var o: [String: Any] = ["file": rel(r.file)]
            if let v = r.view { o["view"] = v }
            if let v = r.acquired { o["acquired"] = v }
            if let v = r.sha256 { o["sha256"] = v }
            if !r.boxes.isEmpty { o["boxes"] = r.boxes.map { ["x0": $0.x0, "y0": $0.y0, "x1": $0.x1, "y1": $0.y1] } }
            return o
        }
        root["slides"] = record.slides.map { s -> [String: Any] in
            var o: [String: Any] = ["slide_id": s.slideID, "file": rel(s.file)]
            if let v = s.block { o["block"] = v }
            if let v = s.stain { o["stain"] = v }
            if let v = s.sha256 { o["sha256"] = v }
            if let v = s.enteredBy { o["entered_by"] = v }
            if let v = s.enteredAt { o["entered_at"] = v }
            return o
        }
        root["labs"] = record.labs.map { l -> [String: Any] in
            var o: [String: Any] = ["marker": l.marker, "value": l.value, "unit": l.unit]
            if let v = l.date { o["date"] = v }
            return o
        }
        if !record.findings.isEmpty {
            root["findings"] = record.findings.map { f -> [String: Any] in
                var o: [String: Any] = ["created_at": f.createdAt, "models": f.models, "probabilities": f.probabilities,
                                        "modalities": f.modalities]
                if let v = f.note { o["note"] = v }
                return o
            }
        }
        if let review = record.review {
            var o: [String: Any] = [:]
            if let v = review.note { o["note"] = v }
            if let v = review.signedOffBy { o["signed_off_by"] = v }
            if let v = review.signedOffAt { o["signed_off_at"] = v }
            root["review"] = o
        }
        // Keys sorted so a manifest diff shows only what changed.
        return (try? JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }

    /// Writes `record` as a case folder `into/<id>/`: copies each image there (by file name)
    /// and writes the manifest last, atomically. Refuses to overwrite an existing folder.
    @discardableResult
    public static func export(_ record: CaseRecord, into parent: URL) throws(CaseError) -> URL {
        let folder = parent.appendingPathComponent(record.id)
        guard !FileManager.default.fileExists(atPath: folder.path) else {
            throw .writeFailed(file: folder.path, reason: "the folder exists already")
        }
        var copy = record
        var used = Set<String>()
        func place(_ path: String) throws(CaseError) -> String {
            var name = URL(fileURLWithPath: path).lastPathComponent
            var n = 2
            while used.contains(name) { name = "\(n)-" + URL(fileURLWithPath: path).lastPathComponent; n += 1 }
            used.insert(name)
            do { try FileManager.default.copyItem(atPath: path, toPath: folder.appendingPathComponent(name).path) } catch {
                throw .writeFailed(file: folder.appendingPathComponent(name).path, reason: error.localizedDescription)
            }
            return name
        }
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw .writeFailed(file: folder.path, reason: error.localizedDescription)
        }
        do {
            for i in copy.radiographs.indices { copy.radiographs[i].file = try place(copy.radiographs[i].file) }
            for i in copy.slides.indices { copy.slides[i].file = try place(copy.slides[i].file) }
            try atomicWrite(manifestJSON(copy), to: folder.appendingPathComponent(manifestName))
        } catch {
            try? FileManager.default.removeItem(at: folder)
            throw error
        }
        return folder
    }
}

private func jsonErrorDetail(_ error: Error) -> String {
    let ns = error as NSError
    return (ns.userInfo["NSDebugDescription"] as? String) ?? ns.localizedDescription
}

/// Typed access to one JSON object's fields, with messages naming the field path.
struct Fields {
    let object: [String: Any]
    let file: String
    let path: String
    init(_ object: [String: Any], file: String, path: String) {
        self.object = object; self.file = file; self.path = path
    }

    func fail(_ key: String, _ problem: String) -> CaseError { .manifest(file: file, field: path + key, problem: problem) }

    func describe(_ v: Any) -> String {
        if v is NSNull { return "null" }
        if let s = v as? String { return "the text \"\(s.prefix(40))\"" }
        if v is [Any] { return "a list" }
        if v is [String: Any] { return "an object" }
        return "\(v)"
    }

    func string(_ key: String) throws(CaseError) -> String {
        guard let v = object[key] else { throw fail(key, "missing (required)") }
        guard let s = v as? String else { throw fail(key, "expected text, got \(describe(v))") }
        guard !s.trimmingCharacters(in: .whitespaces).isEmpty else { throw fail(key, "is empty") }
        return s
    }
    func optionalString(_ key: String) throws(CaseError) -> String? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        guard let s = v as? String else { throw fail(key, "expected text, got \(describe(v))") }
        return s
    }
    func optionalDate(_ key: String) throws(CaseError) -> String? {
        guard let s = try optionalString(key) else { return nil }
        guard ISODate.isValidDay(s) else { throw fail(key, "'\(s)' is not a calendar date in ISO 8601 (YYYY-MM-DD)") }
        return s
    }
    func optionalSHA(_ key: String) throws(CaseError) -> String? {
        guard let s = try optionalString(key) else { return nil }
        guard s.count == 64, s.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw fail(key, "expected 64 lowercase hex digits")
        }
        return s
    }
    func number(_ key: String) throws(CaseError) -> Double? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        guard let d = jsonNumber(v) else { throw fail(key, "expected a number, got \(describe(v))") }
        return d
    }
    func int(_ key: String) throws(CaseError) -> Int {
        guard let v = try optionalInt(key) else { throw fail(key, "missing (required)") }
        return v
    }
    func optionalInt(_ key: String) throws(CaseError) -> Int? {
        guard let d = try number(key) else { return nil }
        guard d.isFinite, d.rounded() == d, abs(d) < 1e15 else { throw fail(key, "expected a whole number, got \(d)") }
        return Int(d)
    }
    func double(_ key: String) throws(CaseError) -> Double {
        guard let d = try number(key) else { throw fail(key, "missing (required)") }
        return d
    }
    func optionalBool(_ key: String) throws(CaseError) -> Bool? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, isBoolNumber(n) else { throw fail(key, "expected true or false, got \(describe(v))") }
        return n.boolValue
    }
    func objects(_ key: String) throws(CaseError) -> [[String: Any]] {
        guard let v = object[key], !(v is NSNull) else { return [] }
        guard let list = v as? [Any] else { throw fail(key, "expected a list, got \(describe(v))") }
        var out: [[String: Any]] = []
        for (i, item) in list.enumerated() {
            guard let o = item as? [String: Any] else { throw fail("\(key)[\(i)]", "expected an object, got \(describe(item))") }
            out.append(o)
        }
        return out
    }
    func strings(_ key: String) throws(CaseError) -> [String] {
        guard let v = object[key], !(v is NSNull) else { return [] }
        guard let list = v as? [String] else { throw fail(key, "expected a list of text") }
        return list
    }
    func stringMap(_ key: String) throws(CaseError) -> [String: String] {
        guard let v = object[key], !(v is NSNull) else { return [:] }
        guard let m = v as? [String: String] else { throw fail(key, "expected an object of text values") }
        return m
    }
    func doubleMap(_ key: String) throws(CaseError) -> [String: Double] {
        guard let v = object[key], !(v is NSNull) else { return [:] }
        guard let m = v as? [String: Any] else { throw fail(key, "expected an object of numbers") }
        var out: [String: Double] = [:]
        for (k, item) in m {
            guard let d = jsonNumber(item) else { throw fail(key, "expected an object of numbers, got \(describe(item)) for \"\(k)\"") }
            out[k] = d
        }
        return out
    }
}

/// A JSON number as JSONSerialization hands it over, as the double its text denotes; nil for
/// anything else, true and false included (they come as NSNumber too). JSONSerialization on Linux
/// gives numbers as NSNumber whose `doubleValue` is not always the double nearest to the text:
/// about half of random doubles in [0, 1], written by JSONSerialization itself, came back one or
/// two units in the last place off (the fuzz target casejson found a record whose probabilities
/// changed on the round trip). The NSNumber's `description` keeps the digits, and Swift's
/// `Double(String)` rounds them correctly.
public func jsonNumber(_ v: Any?) -> Double? {
    guard let n = v as? NSNumber, !isBoolNumber(n) else { return nil }
    return Double(n.description) ?? n.doubleValue
}

/// JSONSerialization gives booleans as NSNumber; tell them apart from 0 and 1.
/// JSON true/false as JSONSerialization hands them over (an NSNumber, like a number).
public func isBoolNumber(_ n: NSNumber) -> Bool {
    #if canImport(Darwin)
    return CFGetTypeID(n) == CFBooleanGetTypeID()
    #else
    return n === NSNumber(value: true) || n === NSNumber(value: false) || String(cString: n.objCType) == "c"
    #endif
}
