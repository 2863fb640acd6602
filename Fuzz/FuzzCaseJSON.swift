// libFuzzer entry for case.json (Cases/CaseFolder.swift): the UTF-8 check and the manifest
// parser as `CaseFolder.read` runs them, then the record written back as a manifest, which must
// parse again to the same record (what export writes, import must read).
@testable import Cases
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCaseJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    do {
        let text = try decodeUTF8(bytes, file: "case.json")
        let record = try CaseFolder.parseManifest(text, file: "case.json")
        let written = CaseFolder.manifestJSON(record)
        guard let again = String(data: written, encoding: .utf8) else { fuzzViolation("manifestJSON wrote no UTF-8") }
        let reread: CaseRecord
        do { reread = try CaseFolder.parseManifest(again, file: "written case.json") } catch {
            fuzzViolation("the manifest written for a parsed record does not parse: \(error)\n\(again)")
        }
        guard reread == record else { fuzzViolation("round trip changed the record:\n\(record)\n\(reread)") }
    } catch {
        guard !error.description.isEmpty else { fuzzViolation("an error without a message") }
    }
    return 0
}
