import Cases
import Diagnosis
import Dispatch
import Foundation
import PACS

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

    /// `engineIdleDrain`: how long the engine stays idle before its freed buffers go back to the
    /// system (`BackgroundWork.engineIdleDrain`; nil: kept).
    init(browser: Browser, archive: any FindingsArchive, engineIdleDrain: DispatchTimeInterval? = nil) {
        self.browser = browser
        wake = WakeUp<LoopMessage>()
        work = BackgroundWork(wake: wake, engineIdleDrain: engineIdleDrain)
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
        if let store = browser.source as? StoreSource { submitStoreWork(store) }
        browser.editRequests.removeAll()
        browser.historyRequests.removeAll()
        browser.importRequests.removeAll()
        browser.reportRequests.removeAll()
        submitPACS()
        for req in browser.scratchRequests { service.diagnoseScratch(id: req.id, record: req.record) }
        browser.scratchRequests.removeAll()
        return newest?.id
    }

    /// Edits, audit trails, imports and reports: on the store queue, each edit and import
    /// followed by a refresh whose changed cases come back with its message.
    func submitStoreWork(_ store: StoreSource) {
        for req in browser.editRequests {
            work.run(on: .store) {
                let outcome = store.store.apply(req.edit, to: req.id, expectedVersion: req.version)
                return .edited(outcome, changed: (try? store.refresh()) ?? nil)
            }
        }
        for id in browser.historyRequests {
            work.request("history", on: .store) { _ in .history(id: id, (try? store.store.auditTrail(id)) ?? []) }
        }
        for req in browser.importRequests {
            work.run(on: .store) { [wake] in
                let throttle = ProgressThrottle()
                let result: Result<ImportReport, CaseSourceError>
                do {
                    result = .success(try Importer(storePath: store.store.location, user: store.store.user).run(req) { p in
                        if throttle.due(last: p.done == p.total) { wake.post(.importProgress(p)) }
                    })
                } catch { result = .failure(CaseSourceError("\(error)")) }
                return .imported(result, changed: (try? store.refresh()) ?? nil)
            }
        }
        let folder = reportsFolder
        for req in browser.reportRequests {
            work.run(on: .store) {
                do {
                    let report = CaseReport(record: try store.store.load(req.id), findings: req.findings, audit: try store.store.auditTrail(req.id))
                    let files = try report.write(to: folder.appendingPathComponent(req.id))
                    return .reportWritten(id: req.id, .success(files.report.deletingLastPathComponent().path))
                } catch {
                    return .reportWritten(id: req.id, .failure(CaseSourceError("\(error)")))
                }
            }
        }
    }

    /// Where `x` writes case reports: TUMORBOARD_REPORTS, else ~/tumorboard-reports (one folder a case).
    var reportsFolder: URL = {
        let env = ProcessInfo.processInfo.environment
        if let r = env["TUMORBOARD_REPORTS"], !r.isEmpty { return URL(fileURLWithPath: r) }
        return URL(fileURLWithPath: env["HOME"] ?? NSHomeDirectory()).appendingPathComponent("tumorboard-reports")
    }()

    /// The PACS screen's searches and imports, on the network queue (latest wins; Esc cancels
    /// an import until its store transaction starts).
    func submitPACS() {
        for req in browser.pacsSearchRequests {
            work.request("pacs-search", on: .network) { isCurrent in
                do {
                    let client = try DICOMwebClient(server: req.server)
                    return .pacsFound(.success(try client.searchStudies(req.query, isCancelled: { !isCurrent() })))
                } catch { return .pacsFound(.failure(CaseSourceError("\(error)"))) }
            }
        }
        browser.pacsSearchRequests.removeAll()
        if browser.pacsCancel { work.cancel("pacs-import") }
        guard let store = browser.source as? StoreSource else { browser.pacsImportRequests.removeAll(); return }
        for req in browser.pacsImportRequests {
            work.request("pacs-import", on: .network) { [wake] isCurrent in
                let result: Result<PACSImportReport, CaseSourceError>
                do {
                    let client = try DICOMwebClient(server: req.server)
                    let throttle = ProgressThrottle()
                    result = .success(try PACSStudyImport(client: client, storePath: store.store.location, user: store.store.user)
                        .run(study: req.study, progress: { p in if throttle.due() { wake.post(.pacsProgress(p)) } },
                             isCancelled: { !isCurrent() }))
                } catch { result = .failure(CaseSourceError("\(error)")) }
                return .pacsImported(result, changed: (try? store.refresh()) ?? nil)
            }
        }
        browser.pacsImportRequests.removeAll()
    }

    private var lastRefresh: UInt64 = 0
    /// How often the store is asked whether anything changed (one cheap query).
    static let refreshIntervalNs: UInt64 = 500_000_000

    /// Called from the loop: every half second, a store source looks for changes made by
    /// other workstations (in the background; a change comes back as a message).
    func tick(now: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        guard let store = browser.source as? StoreSource, now - lastRefresh >= Self.refreshIntervalNs else { return }
        lastRefresh = now
        work.request("refresh", on: .store) { _ in
            do {
                guard let changed = try store.refresh() else { return nil }
                return .storeChanged(changed)
            } catch {
                return .edited(EditOutcome(caseID: "", saved: false, message: "the store could not be read: \(error)"), changed: nil)
            }
        }
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
        case .scratchDiagnosed(let id, let result): browser.scratchDiagnosed(id: id, result)
        case .history(let id, let trail): browser.historyRead(id: id, trail)
        case .importProgress(let p): browser.importProgressed(p)
        case .pacsFound(let result): browser.pacsFound(result)
        case .pacsProgress(let p): browser.pacsProgressed(p)
        case .pacsImported(let result, let changed):
            storeChanged(changed)    // first: the imported case must be in the list to open
            browser.pacsImported(result)
        case .imported(let result, let changed):
            browser.imported(result)
            storeChanged(changed)
        case .edited(let outcome, let changed):
            browser.edited(outcome)
            storeChanged(changed, own: outcome.saved ? outcome.caseID : nil)
        case .storeChanged(let changed): storeChanged(changed)
        case .reportWritten(let id, let result):
            switch result {
            case .success(let folder): browser.note("report of \(id) written to \(folder)", error: false)
            case .failure(let e): browser.note("report of \(id) not written: \(e)", error: true)
            }
        }
        return nil
    }

    /// Cases the store refresh found changed: the browser follows, and their kept results are read.
    private func storeChanged(_ changed: Set<String>?, own: String? = nil) {
        guard let changed else { return }
        browser.casesChanged(changed, own: own)
        service.scanKept(ids: Array(changed))
    }

    /// Stops a running "run all" (on the way out).
    func stop() { service.cancelAll() }
}

/// At most one progress message every 100 ms (and the last one) from a background job: the
/// main loop redraws on each, and an import of thousands of small cases would flood it.
final class ProgressThrottle: Sendable {
    private let lastNs = Locked<UInt64>(0)
    func due(last: Bool = false) -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        return lastNs.withLock { t in
            guard last || now - t > 100_000_000 else { return false }
            t = now
            return true
        }
    }
}
