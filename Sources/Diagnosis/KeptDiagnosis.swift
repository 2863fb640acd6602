import Cases
import Foundation

/// A case's findings, read back where they were kept while neither the case nor the models
/// changed, else run now and kept: the one path for the workstation, `tumorboard report` and
/// anything else that wants a case's answer without paying for the networks twice.
public struct KeptDiagnosis: Sendable {
    public var findings: Findings
    /// Read back from the archive (the models did not run).
    public var kept: Bool
    /// The result was run but could not be kept (worth a message, not fatal).
    public var keepProblem: String?

    public init(findings: Findings, kept: Bool, keepProblem: String? = nil) {
        self.findings = findings; self.kept = kept; self.keepProblem = keepProblem
    }

    /// The key is `InputKey.of(record, modelHashes:)`, which also refuses a file whose bytes are
    /// not those the case recorded before anything is read back. The case is decoded only when
    /// it has to run. `rerun` ignores a kept result (the new one is kept beside it).
    public static func findings(for record: CaseRecord, modelHashes: [String: String], archive: any FindingsArchive,
                                rerun: Bool = false, run: (DiagnosisInput) throws -> Findings) throws -> KeptDiagnosis {
        let key = try InputKey.of(record, modelHashes: modelHashes)
        if !rerun, let f = archive.lookup(caseID: record.id, key: key) {
            return KeptDiagnosis(findings: f, kept: true)
        }
        let findings = try run(DiagnosisInput(record: record))
        var problem: String?
        do { try archive.keep(findings, caseID: record.id, key: key) } catch { problem = "not kept: \(error)" }
        return KeptDiagnosis(findings: findings, kept: false, keepProblem: problem)
    }
}
