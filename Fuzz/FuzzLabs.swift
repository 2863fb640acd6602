// libFuzzer entry for lab panel files (`predict --labs`, `import --labs`: LabPanelFile in Cases),
// read from a file as the commands do, checked against the bundled biomarkers.json.
import Cases
import Foundation

let labsScratch = fuzzScratchPath("labs.json")
let labsCatalog: BiomarkerCatalog = {
    do { return try BiomarkerCatalog.bundled } catch { fatalError("fuzz setup: \(error) (scripts/fuzz sets TUMORBOARD_BIOMARKERS)") }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLabs(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard fuzzWrite(data, size, to: labsScratch) else { return 0 }
    do {
        let labs = try LabPanelFile.read(URL(fileURLWithPath: labsScratch), name: "labs.json", catalog: labsCatalog)
        for l in labs {
            guard l.value.isFinite, l.value >= 0, l.value < LabResult.implausible else {
                fuzzViolation("accepted \(l.marker) = \(l.value)")
            }
        }
    } catch {
        guard !error.description.isEmpty else { fuzzViolation("an error without a message") }
    }
    return 0
}
