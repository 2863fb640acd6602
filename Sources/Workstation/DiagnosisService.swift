import Cases
import Diagnosis
import Dispatch
import Foundation
import PACS

/// What the models are doing: for the status bar and the case view.
public enum ModelsState: Sendable, Equatable {
    case loading(done: Int, total: Int, part: String)
    case ready(digests: [String: String], missing: [String])
    case failed(String)
}

/// Runs a case through the networks. `Diagnosis` in the program; a stand-in in tests.
public protocol CaseEngine: Sendable {
    var modelHashes: [String: String] { get }
    func run(_ input: DiagnosisInput) throws -> Findings
}

extension Diagnosis: CaseEngine {
    public var modelHashes: [String: String] { models.hashes }
}

/// The line of the case list that a diagnosis fills in.
public struct PredictionSummary: Sendable, Equatable {
    public var predicted: DiagnosisLabel
    /// The predicted class's probability.
    public var probability: Double
    public var malignant: Double
    /// False: nothing above the detector's threshold (the probabilities are then conditional on a lesion).
    public var lesionFound: Bool

    public init(_ f: Findings) {
        let p = f.probabilities.values
        let k = p.indices.max { p[$0] < p[$1] } ?? 0
        predicted = DiagnosisLabel(rawValue: f.predicted) ?? DiagnosisLabel.tumourClasses[k]
        probability = p[k]
        malignant = f.probabilities.malignant
        lesionFound = !f.detections.isEmpty
    }
}

/// One case's diagnosis as it reaches the UI.
public struct CaseDiagnosisResult: Sendable {
    public var caseID: String
    public var findings: Findings
    /// Read back from where results are kept (the store or the cache folder), not run now.
    public var kept: Bool
    /// From the request leaving the queue to the result: decode, hash, run or read back.
    public var milliseconds: Double
    /// The result could not be kept (shown, not fatal).
    public var keepProblem: String?
}

/// What background work hands the main loop through the wake-up pipe.
enum LoopMessage: Sendable {
    case decoded(id: String, slide: Bool, Result<LoadedImage, CaseSourceError>)
    case models(ModelsState)
    case started(id: String)
    case diagnosed(id: String, Result<CaseDiagnosisResult, CaseSourceError>)
    /// Kept results found by the start-up scan (case ID, summary).
    case known([KnownPrediction])
    case batch(BatchProgress)
    case signal(Int32)
    /// Tutor mode: the scratch copy's diagnosis (never kept).
    case scratchDiagnosed(id: String, Result<CaseDiagnosisResult, CaseSourceError>)
    /// An edit was saved or refused; `changed`: the cases the store refresh found changed.
    case edited(EditOutcome, changed: Set<String>?)
    /// The import screen's import: progress, then the report (or why it did not start).
    case importProgress(ImportProgress)
    case imported(Result<ImportReport, CaseSourceError>, changed: Set<String>?)
    /// The PACS screen: a search's studies, an import's progress and its end.
    case pacsFound(Result<[StudySummary], CaseSourceError>)
    case pacsProgress(PACSImportProgress)
    case pacsImported(Result<PACSImportReport, CaseSourceError>, changed: Set<String>?)
    /// A store case's audit trail, read for the side panel.
    case history(id: String, [AuditEntry])
    /// Another workstation (or this one) changed these cases in the store.
    case storeChanged(Set<String>)
    /// A case report was written (the folder) or not (why).
    case reportWritten(id: String, Result<String, CaseSourceError>)
}

public struct KnownPrediction: Sendable, Equatable {
    public var caseID: String
    public var summary: PredictionSummary
}

/// "Run all": one message per case done, and one at the end.
public struct BatchProgress: Sendable, Equatable {
    public var batch: Int
    public var done: Int
    public var total: Int
    public var finished: Bool
    public var cancelled: Bool
}

/// The inference service: one engine per process, loaded in the background after the first
/// screen; diagnoses run on the engine's serial queue, newest request first-come (a case the
/// user has left is dropped before it starts); results kept in the archive under the case's
/// `InputKey`, so reopening a case reads them back instead of running again.
final class DiagnosisService: Sendable {
    let work: BackgroundWork<LoopMessage>
    let source: any CaseSource
    let archive: any FindingsArchive
    private let engine = Locked<(any CaseEngine)?>(nil)
    private let state = Locked<ModelsState>(.loading(done: 0, total: ModelSet.parts.count, part: ModelSet.parts[0]))
    private let batches = Locked<Int>(0)

    init(work: BackgroundWork<LoopMessage>, source: any CaseSource, archive: any FindingsArchive) {
        self.work = work; self.source = source; self.archive = archive
    }

    var modelsState: ModelsState { state.current }

    /// Loads the models on the engine queue (so every diagnosis queued after waits for them),
    /// posting progress, then scans the kept results of every case in the background.
    func load(_ loader: @escaping @Sendable (_ progress: @escaping @Sendable (Int, String) -> Void) throws -> (any CaseEngine, [String])) {
        work.run(on: .engine) { [state, engine, work] in
            let total = ModelSet.parts.count
            do {
                let (e, missing) = try loader { k, part in
                    let s = ModelsState.loading(done: k, total: total, part: part)
                    state.withLock { $0 = s }
                    work.wake.post(.models(s))
                }
                engine.withLock { $0 = e }
                let s = ModelsState.ready(digests: e.modelHashes, missing: missing)
                state.withLock { $0 = s }
                return .models(s)
            } catch {
                let s = ModelsState.failed("\(error)")
                state.withLock { $0 = s }
                return .models(s)
            }
        }
    }

    /// Reads back the kept result of every case (none is run), so the list shows what is known.
    func scanKept(ids: [String]) {
        work.run(on: .scan) { [self] in
            guard let e = engine.current else { return nil }
            var found: [KnownPrediction] = []
            for id in ids {
                guard let r = try? source.record(id: id), let key = try? InputKey.of(r, modelHashes: e.modelHashes),
                      let f = archive.lookup(caseID: id, key: key) else { continue }
                found.append(KnownPrediction(caseID: id, summary: PredictionSummary(f)))
                if found.count == 256 { work.wake.post(.known(found)); found.removeAll() }
            }
            return found.isEmpty ? nil : .known(found)
        }
    }

    /// The case on screen: supersedes the previous request (dropped if it has not started).
    /// `rerun` ignores a kept result.
    func diagnose(id: String, rerun: Bool = false) {
        work.request("case", on: .engine) { [self] isCurrent in
            .diagnosed(id: id, self.diagnoseNow(id: id, rerun: rerun))
        }
    }

    /// Every case, in order, one at a time, with single requests let in between. Returns the
    /// batch number its progress messages carry.
    func runAll(ids: [String]) -> Int {
        let n = batches.withLock { $0 += 1; return $0 }
        let total = ids.count
        work.batch("all", on: .engine, items: ids, step: { [self] i, id in
            let result = self.diagnoseNow(id: id, rerun: false)
            work.wake.post(.diagnosed(id: id, result))
            return .batch(BatchProgress(batch: n, done: i + 1, total: total, finished: false, cancelled: false))
        }, finished: { done, cancelled in
            .batch(BatchProgress(batch: n, done: done, total: total, finished: true, cancelled: cancelled))
        })
        return n
    }

    func cancelAll() { work.cancel("all") }

    /// Tutor mode: a scratch copy of a case (a lab value changed) through the models; the
    /// result is shown, never kept, and a newer scratch request supersedes this one.
    func diagnoseScratch(id: String, record: CaseRecord) {
        work.request("scratch", on: .engine) { [self] _ in
            guard let e = engine.current else { return .scratchDiagnosed(id: id, .failure(CaseSourceError("models not loaded yet"))) }
            let t0 = DispatchTime.now().uptimeNanoseconds
            do {
                let f = try e.run(DiagnosisInput(record: record))
                return .scratchDiagnosed(id: id, .success(CaseDiagnosisResult(caseID: id, findings: f, kept: false,
                                                                              milliseconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)))
            } catch {
                return .scratchDiagnosed(id: id, .failure(CaseSourceError("\(error)")))
            }
        }
    }

    /// On the engine queue.
    private func diagnoseNow(id: String, rerun: Bool) -> Result<CaseDiagnosisResult, CaseSourceError> {
        guard let e = engine.current else {
            if case .failed(let why) = state.current { return .failure(CaseSourceError("models not loaded: \(why)")) }
            return .failure(CaseSourceError("models not loaded yet"))
        }
        work.wake.post(.started(id: id))
        let t0 = DispatchTime.now().uptimeNanoseconds
        func ms() -> Double { Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 }
        do {
            let record = try source.record(id: id)
            let r = try KeptDiagnosis.findings(for: record, modelHashes: e.modelHashes, archive: archive, rerun: rerun) { try e.run($0) }
            return .success(CaseDiagnosisResult(caseID: id, findings: r.findings, kept: r.kept, milliseconds: ms(), keepProblem: r.keepProblem))
        } catch {
            return .failure(CaseSourceError("\(error)"))
        }
    }

    /// The production engine: the models folder, with progress; the optional parts missing.
    static func loader(directory: URL) -> @Sendable (@escaping @Sendable (Int, String) -> Void) throws -> (any CaseEngine, [String]) {
        { progress in
            do {
                let set = try ModelSet(directory: directory, progress: progress)
                return (try Diagnosis(models: set), set.missing)
            } catch {
                throw DiagnosisError.models(withRemedy("\(error)"))
            }
        }
    }

    /// A model error with the command that fetches or rebuilds the file, when it does not say.
    static func withRemedy(_ message: String) -> String {
        if message.contains("run_all.sh") || message.contains("fetch-text-encoder") { return message }
        if message.contains("text/") || message.contains("MiniLM") || message.contains("vocab") {
            return message + " (fetch it again with scripts/fetch-text-encoder)"
        }
        return message + " (rebuild with training/run_all.sh, or restore the shipped weights: git checkout -- models/)"
    }
}
