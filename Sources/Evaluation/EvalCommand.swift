import Cases
import Diagnosis
import Dispatch
import Foundation

/// Set from a signal handler's queue, read by the evaluation loop.
final class StopFlag: @unchecked Sendable {
    // @unchecked: `stopped` is only read or written under `lock`.
    private let lock = NSLock()
    private var stopped = false
    func stop() { lock.withLock { stopped = true } }
    var isStopped: Bool { lock.withLock { stopped } }
}

/// `tumorboard eval` without the argument parsing: load, run with a progress line, stop
/// cleanly on Ctrl-C (no report), write the report all at once.
public struct EvalCommand {
    public var data: String
    public var split: String?
    public var cohort: URL?
    public var slides: URL?
    public var out: URL
    public var predictions: URL?
    /// For predictions: the score that splits candidates from detections.
    public var threshold: Double?
    public var modelsDirectory: URL
    public var limit: Int?

    public init(data: String, split: String?, cohort: URL?, slides: URL?, out: URL, predictions: URL?, threshold: Double?,
                modelsDirectory: URL, limit: Int?) {
        self.data = data; self.split = split; self.cohort = cohort; self.slides = slides; self.out = out
        self.predictions = predictions; self.threshold = threshold; self.modelsDirectory = modelsDirectory; self.limit = limit
    }

    public enum Outcome { case written(EvalReport), stopped(done: Int, total: Int) }

    /// `log` gets the progress and notes (standard error in the program).
    public func run(log: (String) -> Void) throws -> Outcome {
        let t0 = DispatchTime.now().uptimeNanoseconds
        var set = try EvalSet.load(path: data, split: split, cohort: cohort, slides: slides)
        if let limit { set.cases = Array(set.cases.prefix(limit)) }
        guard !set.cases.isEmpty else { throw EvalSetError("\(data): no labelled case to evaluate\(set.leftOut.first.map { " (first left out: \($0))" } ?? "")") }
        for l in set.leftOut.prefix(5) { log("eval: left out: \(l)") }
        if set.leftOut.count > 5 { log("eval: \(set.leftOut.count - 5) more left out (listed in the report)") }

        if let predictions {
            let (outcomes, leftOut) = try EvalRunner.score(set, predictions: predictions, threshold: threshold)
            for l in leftOut.prefix(5) { log("eval: left out: \(l)") }
            let report = try EvalReport.make(title: set.title, set: set, outcomes: outcomes, leftOut: leftOut,
                                         models: ["predictions": predictions.lastPathComponent], operatingThreshold: threshold,
                                         lesionTemperature: nil, fusionTemperature: nil, wallSeconds: seconds(since: t0),
                                         source: "the predictions in \(predictions.lastPathComponent)")
            try report.write(to: out)
            return .written(report)
        }

        let models = try ModelSet(directory: modelsDirectory)
        let diagnosis = try Diagnosis(models: models)
        let flag = StopFlag()
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { flag.stop() }
        source.resume()
        defer { source.cancel(); signal(SIGINT, SIG_DFL) }

        let total = set.cases.count
        var lastLog = DispatchTime.now().uptimeNanoseconds
        log("eval: \(total) cases of \(set.title); Ctrl-C stops (no report is written then)")
        let (outcomes, stopped) = EvalRunner.run(set, diagnosis: diagnosis, progress: { done, total in
            let now = DispatchTime.now().uptimeNanoseconds
            guard now - lastLog > 3_000_000_000 || done == total else { return }
            lastLog = now
            let s = Double(now - t0) / 1e9, rate = Double(done) / max(s, 1e-9)
            log(String(format: "eval: %d/%d cases · %.1f cases/s · %.0f s left", done, total, rate, Double(total - done) / max(rate, 1e-9)))
        }, shouldStop: { flag.isStopped })
        if stopped { return .stopped(done: outcomes.count, total: total) }
        let report = try EvalReport.make(title: set.title, set: set, outcomes: outcomes, leftOut: [], models: models.hashes,
                                     operatingThreshold: Double(models.detector.scoreThreshold),
                                     lesionTemperature: Double(models.lesionTemperature),
                                     fusionTemperature: models.fusion.map { Double($0.temperature) },
                                     wallSeconds: seconds(since: t0), source: "the models in \(modelsDirectory.path)")
        try report.write(to: out)
        return .written(report)
    }

    func seconds(since t0: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 }
}
