import Diagnosis
import Dispatch
import Foundation

/// The browser joined to its background work, with no terminal: `Workstation.run` drives it
/// from its poll loop, and tests drive it the same way. Main thread only.
final class WorkstationSession {
    let browser: Browser
    let wake: WakeUp<LoopMessage>
    let work: BackgroundWork<LoopMessage>
    let service: DiagnosisService
    private let ids: [String]

    /// What a message did that the loop may want to time or act on.
    enum Event {
        case imageShown(id: String)
        case diagnosisShown(id: String, kept: Bool)
        case modelsReady
        case signal(Int32)
    }

    init(browser: Browser, archive: any FindingsArchive) {
        self.browser = browser
        wake = WakeUp<LoopMessage>()
        work = BackgroundWork(wake: wake)
        service = DiagnosisService(work: work, source: browser.source, archive: archive)
        ids = browser.all.map(\.id)
    }

    /// Starts loading the engine (after the first screen is drawn).
    func loadModels(_ loader: @escaping @Sendable (@escaping @Sendable (Int, String) -> Void) throws -> (any CaseEngine, [String])) {
        service.load(loader)
    }

    /// Hands what the browser asked for to the background work. Returns the case whose
    /// diagnosis was requested, if one was.
    @discardableResult
    func submit() -> String? {
        for req in browser.loadRequests {
            work.request(req.slide ? "slide" : "image", on: .decode) { _ in
                let result: Result<LoadedImage, CaseSourceError>
                do { result = .success(try LoadedImage.decode(req.url)) } catch {
                    result = .failure(CaseSourceError("\(req.url.lastPathComponent): \(error)"))
                }
                return .decoded(id: req.id, slide: req.slide, result)
            }
        }
        browser.loadRequests.removeAll()
        // Only the newest case matters: the earlier requests would be superseded anyway.
        let newest = browser.diagnosisRequests.last
        if let req = newest { service.diagnose(id: req.id, rerun: req.rerun) }
        browser.diagnosisRequests.removeAll()
        switch browser.batchCommand {
        case .start(let list): _ = service.runAll(ids: list)
        case .cancel: service.cancelAll()
        case nil: break
        }
        browser.batchCommand = nil
        return newest?.id
    }

    /// Applies one message from the background work to the browser.
    func apply(_ m: LoopMessage) -> Event? {
        switch m {
        case .models(let state):
            browser.modelsChanged(state)
            if case .ready = state {
                service.scanKept(ids: ids)
                return .modelsReady
            }
        case .started(let id): browser.diagnosisStarted(id: id)
        case .known(let found): browser.known(found)
        case .batch(let p): browser.batchProgress(p)
        case .diagnosed(let id, let result):
            browser.diagnosed(id: id, result)
            if browser.caseView?.detail.summary.id == id { return .diagnosisShown(id: id, kept: (try? result.get())?.kept == true) }
        case .decoded(let id, let slide, let result):
            browser.imageLoaded(id: id, slide: slide, result.mapError { $0 as any Error })
            if !slide { return .imageShown(id: id) }
        case .signal(let s): return .signal(s)
        }
        return nil
    }

    /// Stops a running "run all" (on the way out).
    func stop() { service.cancelAll() }
}
