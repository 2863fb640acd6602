import Cases
import Diagnosis
import Foundation
import PACS
import Imaging

/// A decoded radiograph with the statistics the window presets need.
public struct LoadedImage: Sendable {
    public var image: Image
    public var minimum: Int, maximum: Int
    /// 0.5th and 99.5th percentiles of the samples.
    public var low: Int, high: Int

    public init(_ image: Image) {
        self.image = image
        let (lo, hi) = image.sampleRange()
        minimum = lo; maximum = hi
        var hist = [Int](repeating: 0, count: image.maxSampleValue + 1)
        switch image.samples {
        case .eightBit(let v): for s in v { hist[Int(s)] += 1 }
        case .sixteenBit(let v): for s in v { hist[Int(s)] += 1 }
        }
        let total = image.samples.count
        var acc = 0, l = lo, h = hi, foundLow = false
        for (value, n) in hist.enumerated() where n > 0 {
            acc += n
            if !foundLow, acc * 1000 >= total * 5 { l = value; foundLow = true }
            if acc * 1000 >= total * 995 { h = value; break }
        }
        low = l; high = max(h, l + 1)
    }

    /// PNG, JPEG or DICOM (by its preamble), through the case store's decoder.
    public static func decode(_ url: URL) throws -> LoadedImage {
        LoadedImage(try CaseFolder.decodeImage(url, field: url.lastPathComponent))
    }

    /// The window of preset n (1 full range, 2 auto percentiles, 3 bright half, 4 dark half).
    public func preset(_ n: Int) -> (Window, String) {
        let lo = Double(minimum), hi = Double(maximum), span = max(1, hi - lo)
        switch n {
        case 2: return (.spanning(minimum: Double(low), maximum: Double(high)), "auto")
        case 3: return (Window(center: lo + 0.7 * span, width: max(1, 0.5 * span)), "bone")
        case 4: return (Window(center: lo + 0.3 * span, width: max(1, 0.5 * span)), "soft tissue")
        default: return (.spanning(minimum: lo, maximum: hi), "full range")
        }
    }
}

/// Where the open case's diagnosis stands.
public enum DiagnosisDisplay: Sendable {
    case waiting
    case running
    case done(CaseDiagnosisResult)
    case failed(String)

    public var result: CaseDiagnosisResult? { if case .done(let r) = self { return r } else { return nil } }
}

/// The open case: its record, its images once decoded, its diagnosis, and how the pane looks.
public struct CaseViewState: Sendable {
    public var detail: CaseDetail
    public var loaded: LoadedImage?
    public var error: String?
    public var view: ImageViewState
    public var presetName = "full range"
    public var selectedBox: Int?
    public var diagnosis: DiagnosisDisplay = .waiting
    public var slide: LoadedImage?
    public var slideError: String?
    /// The pane shows the pathology slide instead of the radiograph.
    public var showingSlide = false
    /// First row of the side panel shown (it scrolls by section).
    public var sideTop = 0
    public var slideView = ImageViewState(window: Window(center: 128, width: 256))
    /// Tutor mode, when on.
    public var tutor: TutorState?
    /// The case's audit trail (store cases), oldest first, once read.
    public var history: [AuditEntry]?
}

public enum SortKey: String, CaseIterable, Sendable { case id = "ID", age, label, site, boxes, malignant = "p(malignant)" }

/// The case list's filter on the model's answer.
public enum PredictionFilter: Sendable, Equatable {
    case all, predicted(DiagnosisLabel), noLesion, notRun

    /// The order `F` steps through.
    public static let cycle: [PredictionFilter] = [.all] + DiagnosisLabel.tumourClasses.map { .predicted($0) } + [.noLesion, .notRun]

    public var name: String {
        switch self {
        case .all: "all"
        case .predicted(let c): c.rawValue
        case .noLesion: "no lesion"
        case .notRun: "not run"
        }
    }
}

/// "Run all" as the status bar shows it.
public struct BatchState: Sendable, Equatable {
    public var number: Int
    public var done: Int
    public var total: Int
    public var startedNs: UInt64
    public var finished = false
    public var cancelled = false

    /// Cases a second and seconds left, from the cases done so far.
    public func rate(nowNs: UInt64) -> (perSecond: Double, secondsLeft: Double?) {
        let s = Double(nowNs &- startedNs) / 1e9
        guard done > 0, s > 0 else { return (0, nil) }
        let r = Double(done) / s
        return (r, Double(total - done) / r)
    }
}

/// What the owner of background work is asked to do (taken by `Workstation.run`).
public enum BatchCommand: Sendable, Equatable { case start([String]), cancel }

/// The browsing UI's state and behaviour, with no terminal: keys in, a `Screen` out.
/// `Workstation.run` connects it to a `Terminal`; tests drive it directly.
public final class Browser {
    public let source: any CaseSource
    public private(set) var all: [CaseSummary]
    /// What the search looks in, per case (lower case), rebuilt when the cases change.
    private var haystacks: [String]
    /// Indices into `all` that pass the search, in sort order.
    public private(set) var visible: [Int] = []
    public private(set) var selected = 0
    var top = 0
    var pageSize = 20
    public private(set) var query = ""
    public private(set) var editingSearch = false
    public private(set) var sortKey: SortKey = .id
    public private(set) var ascending = true
    public private(set) var showingHelp = false
    public private(set) var caseView: CaseViewState?
    public private(set) var theme: Theme
    let themeFolder: String?
    public private(set) var graphics: GraphicsChoice
    let graphicsModes: [GraphicsMode]
    public private(set) var message: (text: String, error: Bool)?
    public private(set) var quit = false
    let pane = ImagePane()
    /// Images to decode off the main thread: (case ID, file, is the slide). The owner takes them.
    public var loadRequests: [(id: String, url: URL, slide: Bool)] = []
    /// Cases to diagnose (newest last; the owner keeps only the newest), and whether to ignore a kept result.
    public var diagnosisRequests: [(id: String, rerun: Bool)] = []
    public var batchCommand: BatchCommand?

    public private(set) var models: ModelsState = .loading(done: 0, total: ModelSet.parts.count, part: ModelSet.parts[0])
    /// What the model said of each case so far (kept results and this session's runs).
    public private(set) var predictions: [String: PredictionSummary] = [:]
    /// The case on the engine now.
    public private(set) var running: String?
    public private(set) var batch: BatchState?
    public private(set) var filter: PredictionFilter = .all
    /// Persist from case to case, as a reader expects.
    public private(set) var showHeatmap = true
    /// The evaluation report given with --report, and whether it is on screen.
    public private(set) var report: ReportView?
    public private(set) var showingReport = false
    /// A case opened from the report goes back to it.
    var returnToReport = false
    public private(set) var showTruth = true

    /// The form open over the case view, if one is.
    public private(set) var form: FormState?
    /// Edits to save in the background (case, the version the form was opened on, the edit).
    public var editRequests: [(id: String, version: Int?, edit: CaseEdit)] = []
    /// Tutor mode's scratch copies to diagnose (never kept).
    public var scratchRequests: [(id: String, record: CaseRecord)] = []
    /// Case reports to write: the case and the findings on screen.
    public var reportRequests: [(id: String, findings: Findings)] = []
    /// Audit trails to read (store cases).
    public var historyRequests: [String] = []
    /// Imports to run into the store (the import screen), and the running one's progress.
    public var importRequests: [ImportRequest] = []
    /// The PACS screen, when open; its searches and imports to run, and a cancel.
    public private(set) var pacs: PACSView?
    public var pacsSearchRequests: [(server: PACSServer, query: StudyQuery)] = []
    public var pacsImportRequests: [(server: PACSServer, study: String)] = []
    public var pacsCancel = false
    /// Where the PACS servers come from (tests point it elsewhere).
    public var pacsEnvironment = ProcessInfo.processInfo.environment
    public private(set) var importing: ImportProgress?
    /// The paper's figures page (tutor mode), and where docs/results.json is.
    public private(set) var showingFigures = false
    var figures: Result<PaperFigures, CaseSourceError>?
    var figuresTop = 0
    public var resultsFile: URL?
    let catalog: BiomarkerCatalog? = try? BiomarkerCatalog.bundled

    public init(source: any CaseSource, theme: Theme = .dark, themeFolder: String? = nil,
                graphics: GraphicsChoice, message: (String, Bool)? = nil) {
        self.source = source
        self.theme = theme
        self.themeFolder = themeFolder
        self.graphics = graphics
        var modes = [graphics.mode]
        for m in [GraphicsMode.blocks, .ascii] where !modes.contains(m) { modes.append(m) }
        graphicsModes = modes
        all = source.summaries()
        haystacks = all.map(Self.haystack)
        self.message = message.map { ($0.0, $0.1) }
        refilter()
    }

    /// What the search looks in for one case (lower case).
    static func haystack(_ s: CaseSummary) -> String {
        [s.id, s.label ?? "", s.subtype ?? "", s.site ?? "", s.ageSex].joined(separator: " ").lowercased()
    }

    public var selectedSummary: CaseSummary? { visible.isEmpty ? nil : all[visible[selected]] }
    public var lastFrame: FrameStats? { pane.lastStats }

    // MARK: keys

    public func handle(_ key: Key) {
        if key == .resize { return }
        if showingHelp { showingHelp = false; return }
        if editingSearch { editSearch(key); return }
        if form != nil { handleForm(key); return }
        if pacs != nil { handlePACS(key); return }
        if showingFigures { handleFigures(key); return }
        let context: KeyContext = caseView != nil ? (caseView?.tutor != nil ? .tutor : .caseView) : (showingReport ? .report : .list)
        guard let action = KeyMap.action(for: key, in: context) else {
            if case .char(let c) = key { message = ("'\(c)' does nothing here; ? shows the keys", false) }
            return
        }
        message = nil
        perform(action)
    }

    func perform(_ action: Action) {
        if showingReport && caseView == nil, performInReport(action) { return }
        switch action {
        case .quit: quit = true
        case .help: showingHelp = true
        case .cycleTheme: cycleTheme()
        case .cycleGraphics:
            let i = graphicsModes.firstIndex(of: graphics.mode) ?? 0
            graphics.mode = graphicsModes[(i + 1) % graphicsModes.count]
            graphics.reason = "chosen with g"
        case .up: move(to: selected - 1)
        case .down: move(to: selected + 1)
        case .pageUp: move(to: selected - pageSize)
        case .pageDown: move(to: selected + pageSize)
        case .first: move(to: 0)
        case .last: move(to: visible.count - 1)
        case .open: openSelected()
        case .search: editingSearch = true
        case .clearSearch: query = ""; refilter()
        case .sort:
            let keys = SortKey.allCases
            sortKey = keys[((keys.firstIndex(of: sortKey) ?? 0) + 1) % keys.count]
            refilter()
        case .reverseSort: ascending.toggle(); refilter()
        case .back:
            caseView = nil
            if returnToReport { showingReport = true; returnToReport = false }
        case .showReport:
            guard report != nil else { message = ("no evaluation report: open with --report DIR (tumorboard eval writes one)", false); return }
            showingReport = true
        case .nextCase: move(to: selected + 1); openSelected()
        case .previousCase: move(to: selected - 1); openSelected()
        case .triage: sortKey = .malignant; ascending = false; refilter()
        case .filterPrediction:
            let cycle = PredictionFilter.cycle
            filter = cycle[((cycle.firstIndex(of: filter) ?? 0) + 1) % cycle.count]
            refilter()
            message = ("showing: \(filter.name)", false)
        case .runAll:
            if case .start = batchCommand {
                // Pressed again before the run was handed over: it never starts.
                batchCommand = nil; batch = nil
                message = ("run cancelled", false)
            } else if let b = batch, !b.finished {
                batchCommand = .cancel
                message = ("cancelling the run after the current case", false)
            } else {
                let ids = visible.map { all[$0].id }
                batchCommand = .start(ids)
                batch = BatchState(number: 0, done: 0, total: ids.count, startedNs: DispatchTime.now().uptimeNanoseconds)
            }
        case .toggleHeatmap:
            showHeatmap.toggle()
            message = ("heatmap \(showHeatmap ? "on" : "off")", false)
        case .toggleTruth:
            showTruth.toggle()
            message = ("truth boxes \(showTruth ? "shown" : "hidden")", false)
        case .toggleSlide: toggleSlide()
        case .nextSection, .previousSection: scrollSide(forward: action == .nextSection)
        case .rerun:
            guard let cv = caseView else { return }
            caseView?.diagnosis = .waiting
            diagnosisRequests.append((cv.detail.summary.id, true))
        case .addSlide, .editLab, .editNote, .signOff: openForm(for: action)
        case .pacs:
            let v = PACSView.load(environment: pacsEnvironment)
            pacs = v
            if !v.servers.isEmpty { form = FormState.pacsSearch(v) }
        case .importCases:
            guard let store = source as? StoreSource else {
                message = ("imports go into a case store: open one (tumorboard open STORE.sqlite), or run tumorboard import PATH", true)
                return
            }
            guard importing == nil else { message = ("an import is running", false); return }
            form = FormState.importCases(store: store.store.location)
        case .writeReport:
            guard let cv = caseView else { return }
            guard source is StoreSource else { message = ("reports are of store cases: import the case (tumorboard import), then open the store", true); return }
            guard let f = cv.diagnosis.result?.findings else { message = ("the report needs the diagnosis: wait for it (or r)", false); return }
            reportRequests.append((cv.detail.summary.id, f))
            message = ("writing the report of \(cv.detail.summary.id)…", false)
        case .tutor:
            guard var cv = caseView else { return }
            cv.tutor = cv.tutor == nil ? TutorState() : nil
            cv.sideTop = 0
            caseView = cv
            message = (caseView?.tutor != nil ? "tutor mode: 1 2 3 switch image, pathology, text; e changes a lab in a scratch copy; F the paper's figures; u leaves" : "tutor mode off", false)
        case .toggleModality(let m):
            guard var t = caseView?.tutor, let f = caseView?.diagnosis.result?.findings else { return }
            let present = [f.present.image, f.present.pathology, f.present.labs][m] == true
            guard present else { message = ("\(TutorPanel.names[m]) is absent from this case", false); return }
            t.on[m].toggle()
            caseView?.tutor = t
        case .scratchLab:
            guard let cv = caseView else { return }
            let labs = cv.tutor?.scratchLabs ?? cv.detail.record?.labs ?? []
            form = FormState.lab(caseID: cv.detail.summary.id, version: nil, catalog: catalog, scratch: true,
                                 prefill: (try? labs.panelForDiagnosis())?.first ?? labs.first)
        case .paperFigures:
            if figures == nil {
                if let url = resultsFile { figures = Result { try PaperFigures.load(url) }.mapError { ($0 as? CaseSourceError) ?? CaseSourceError("\($0)") } }
                else { figures = .failure(CaseSourceError("docs/results.json not found (it ships with the repository)")) }
            }
            showingFigures = true
            figuresTop = 0
        default: adjustView(action)
        }
    }

    /// A line for the status bar.
    public func note(_ text: String, error: Bool) { message = (text, error) }

    // MARK: workflows (forms, edits, live refresh)

    /// Opens the form for a slide, a lab, the review note, or the sign-off (reopen when signed).
    func openForm(for action: Action) {
        guard let cv = caseView else { return }
        let id = cv.detail.summary.id
        guard let store = source as? StoreSource else {
            message = ("edits go to the case store: import these cases (tumorboard import PATH), then open the store", true)
            return
        }
        let version = store.version(id: id)
        let review = cv.detail.record?.review
        if action == .signOff, let by = review?.signedOffBy {
            form = FormState.reopen(caseID: id, version: version, signedBy: by, at: review?.signedOffAt ?? "?")
            return
        }
        if let by = review?.signedOffBy {
            message = ("signed off by \(by) at \(review?.signedOffAt ?? "?"): read-only; S reopens it with a reason", true)
            return
        }
        switch action {
        case .addSlide: form = FormState.slide(caseID: id, version: version)
        case .editLab:
            let labs = cv.detail.record?.labs ?? []
            form = FormState.lab(caseID: id, version: version, catalog: catalog, scratch: false, prefill: labs.last)
        case .editNote: form = FormState.note(caseID: id, version: version, current: review?.note)
        case .signOff: form = FormState.signOff(caseID: id, version: version, user: store.store.user)
        default: break
        }
    }

    func handleForm(_ key: Key) {
        guard var f = form else { return }
        if key == .escape { form = nil; message = ("not saved", false); return }
        if f.saving { return }
        guard f.handle(key, catalog: catalog) else { form = f; return }
        if f.kind == .pacsSearch, var v = pacs {
            guard let (server, query) = f.pacsQuery(servers: v.servers) else { form = f; return }
            form = nil
            v.server = server
            v.searching = true
            pacs = v
            pacsSearchRequests.append((server, query))
            return
        }
        if f.kind == .importCases {
            guard let request = f.importRequest(directory: FileManager.default.currentDirectoryPath) else { form = f; return }
            form = nil
            importRequests.append(request)
            importing = ImportProgress(done: 0, total: 0)
            message = ("importing \(request.paths.joined(separator: " "))…", false)
            return
        }
        guard let edit = f.edit(catalog: catalog, existingSlides: caseView?.detail.record?.slides ?? []) else { form = f; return }
        if f.kind == .scratchLab {
            guard case .lab(let lab) = edit, let cv = caseView, var record = cv.detail.record else { form = nil; return }
            var labs = cv.tutor?.scratchLabs ?? record.labs
            labs.removeAll { $0.marker == lab.marker }
            labs.append(LabResult(marker: lab.marker, value: lab.value, unit: lab.unit))
            record.labs = labs
            var t = cv.tutor ?? TutorState()
            t.scratchLabs = labs
            t.scratch = .running
            caseView?.tutor = t
            scratchRequests.append((cv.detail.summary.id, record))
            form = nil
            message = ("scratch copy: \(lab.marker) \(DiagnosisPanel.formatValue(lab.value)) \(lab.unit); never saved", false)
            return
        }
        f.saving = true
        form = f
        editRequests.append((f.caseID, f.version, edit))
        message = ("saving the \(edit.name)…", false)
    }

    func handleFigures(_ key: Key) {
        switch key {
        case .escape, .char("F"), .char("q"), .backspace: showingFigures = false
        case .down, .char("j"): figuresTop += 1
        case .up, .char("k"): figuresTop = max(0, figuresTop - 1)
        case .pageDown, .char(" "): figuresTop += 10
        case .pageUp: figuresTop = max(0, figuresTop - 10)
        default: break
        }
        if case .success(let f) = figures { figuresTop = min(figuresTop, max(0, f.rows.count - 5)) }
    }

    /// A save came back from the store.
    /// (The cases it changed arrive next, through `casesChanged(_:own:)`.)
    public func edited(_ outcome: EditOutcome) {
        if var f = form, f.caseID == outcome.caseID, f.saving {
            if outcome.saved { form = nil } else { f.refused(outcome); form = f }
        }
        message = (outcome.message, !outcome.saved)
    }

    /// The store changed (another workstation, or this one): the list, and the open case if it
    /// is one of them, are brought up to date; a case whose inputs changed runs again.
    public func casesChanged(_ ids: Set<String>, own: String? = nil) {
        all = source.summaries()
        haystacks = all.map(Self.haystack)
        refilterKeepingSelection()
        guard var cv = caseView, ids.contains(cv.detail.summary.id) else { return }
        let id = cv.detail.summary.id
        guard let detail = try? source.detail(id: id) else {
            caseView = nil
            form = nil
            message = ("case \(id) is no longer in the store", true)
            return
        }
        let before = cv.detail.record
        cv.detail = detail
        historyRequests.append(id)
        let after = detail.record
        if before?.slides.first?.file != after?.slides.first?.file {
            cv.slide = nil; cv.slideError = nil
            if cv.showingSlide, let url = detail.slideFile { loadRequests.append((id, url, true)) } else { cv.showingSlide = false }
        }
        let inputsChanged = before?.labs != after?.labs || before?.slides != after?.slides || before?.radiographs != after?.radiographs
            || before?.age != after?.age || before?.sex != after?.sex
        if inputsChanged {
            cv.diagnosis = .waiting
            if var t = cv.tutor { t.scratchLabs = nil; t.scratch = .waiting; cv.tutor = t }
            diagnosisRequests.append((id, false))
        }
        caseView = cv
        if own != id {
            message = ("case \(id) was changed in the store" + (inputsChanged ? "; running it again" : ""), false)
        } else if inputsChanged, let m = message {
            message = (m.text + "; running the case again", m.error)
        }
    }

    func handlePACS(_ key: Key) {
        guard var v = pacs else { return }
        switch key {
        case .escape, .backspace:
            if v.importRunning {
                pacsCancel = true
                v.status = "cancelling the retrieve…"
            } else { pacs = nil; return }
        case .up, .char("k"): v.selected = max(0, v.selected - 1)
        case .down, .char("j"): v.selected = min(max(0, v.results.count - 1), v.selected + 1)
        case .char("/"):
            guard !v.servers.isEmpty else { return }
            form = FormState.pacsSearch(v)
        case .char("?"): showingHelp = true
        case .char("q"): quit = true
        case .enter:
            guard !v.importRunning, v.results.indices.contains(v.selected), let server = v.server else { return }
            guard source is StoreSource else {
                v.status = "imports go into a case store: open one (tumorboard open STORE.sqlite)"
                v.statusIsError = true
                break
            }
            let study = v.results[v.selected].studyInstanceUID
            v.importRunning = true
            v.importing = nil
            v.importingStudy = study
            pacsImportRequests.append((server, study))
        default: break
        }
        let rows = 20
        if v.selected < v.top { v.top = v.selected } else if v.selected >= v.top + rows { v.top = v.selected - rows + 1 }
        pacs = v
    }

    public func pacsFound(_ result: Result<[StudySummary], CaseSourceError>) {
        guard var v = pacs else { return }
        v.searching = false
        switch result {
        case .success(let studies):
            v.results = studies; v.selected = 0; v.top = 0
            v.status = "\(studies.count) stud\(studies.count == 1 ? "y" : "ies"); Enter imports the chosen one"
            v.statusIsError = false
        case .failure(let e): v.status = e.description; v.statusIsError = true
        }
        pacs = v
    }

    public func pacsProgressed(_ p: PACSImportProgress) {
        guard pacs?.importRunning == true else { return }
        pacs?.importing = p
    }

    /// An import from the PACS ended: the case opens when there is one.
    public func pacsImported(_ result: Result<PACSImportReport, CaseSourceError>) {
        guard var v = pacs else { return }
        v.importing = nil
        v.importRunning = false
        v.importingStudy = nil
        pacsCancel = false
        switch result {
        case .success(let r):
            v.status = r.summaryLines.first ?? "done"
            v.statusIsError = !r.importReport.refused.isEmpty
            pacs = v
            if let id = r.caseID ?? r.importReport.imported.first, all.contains(where: { $0.id == id }),
               r.importReport.refused.isEmpty {
                pacs = nil
                open(id: id)
                message = (r.summaryLines.first ?? "imported", false)
            }
        case .failure(let e):
            v.status = e.description
            v.statusIsError = true
            pacs = v
        }
    }

    public func importProgressed(_ p: ImportProgress) {
        importing = p
        message = ("importing \(p.done)/\(p.total)…", false)
    }

    /// An import finished: the summary's counts in the status line (the new cases arrive by the
    /// store's refresh, like anyone else's).
    public func imported(_ result: Result<ImportReport, CaseSourceError>) {
        importing = nil
        switch result {
        case .success(let r):
            var text = "imported \(r.imported.count), already present \(r.alreadyStored.count), refused \(r.refused.count)"
            if let first = r.refused.first { text += ": " + ImportReport.line(path: first.path, message: first.message) }
            message = (text, !r.refused.isEmpty)
        case .failure(let e): message = ("import: \(e)", true)
        }
    }

    public func historyRead(id: String, _ trail: [AuditEntry]) {
        guard caseView?.detail.summary.id == id else { return }
        caseView?.history = trail
    }

    public func scratchDiagnosed(id: String, _ result: Result<CaseDiagnosisResult, CaseSourceError>) {
        guard caseView?.detail.summary.id == id, var t = caseView?.tutor, t.scratchLabs != nil else { return }
        switch result {
        case .success(let r): t.scratch = .done(r)
        case .failure(let e): t.scratch = .failed(e.description)
        }
        caseView?.tutor = t
    }

    /// Sets the report shown with E (from `--report`).
    public func setReport(_ document: ReportDocument, show: Bool) {
        report = ReportView(document: document)
        showingReport = show
    }

    /// The report screen's keys; false when the action is not the report's.
    func performInReport(_ action: Action) -> Bool {
        guard var r = report else { return false }
        let page = 20
        switch action {
        case .back: showingReport = false
        case .up: r.top = max(0, r.top - 1)
        case .down: r.top = min(max(0, r.document.lines.count - 5), r.top + 1)
        case .pageUp: r.top = max(0, r.top - page)
        case .pageDown: r.top = min(max(0, r.document.lines.count - 5), r.top + page)
        case .nextPlot, .previousPlot:
            let n = max(1, r.document.plots.count)
            r.plot = (r.plot + (action == .nextPlot ? 1 : n - 1)) % n
        case .nextWrongCase:
            guard !r.document.mostWrong.isEmpty else { message = ("the report lists no wrong case", false); return true }
            r.selectedCase = (r.selectedCase + 1) % r.document.mostWrong.count
        case .openWrongCase:
            guard !r.document.mostWrong.isEmpty else { return true }
            let id = r.document.mostWrong[min(r.selectedCase, r.document.mostWrong.count - 1)].id
            report = r
            showingReport = false
            open(id: id)
            if caseView != nil { returnToReport = true } else { showingReport = true }
            return true
        default: return false
        }
        report = r
        return true
    }

    func toggleSlide() {
        guard var cv = caseView else { return }
        guard let url = cv.detail.slideFile else { message = ("this case has no slide", false); return }
        cv.showingSlide.toggle()
        if cv.showingSlide, cv.slide == nil, cv.slideError == nil { loadRequests.append((cv.detail.summary.id, url, true)) }
        caseView = cv
    }

    /// Section starts of the side panel, as last drawn (rows).
    var sideSections: [Int] = []

    func scrollSide(forward: Bool) {
        guard let cv = caseView else { return }
        let top = cv.sideTop
        let next = forward ? sideSections.first { $0 > top } : sideSections.last { $0 < top }
        caseView?.sideTop = next ?? (forward ? top : 0)
    }

    func editSearch(_ key: Key) {
        switch key {
        case .enter: editingSearch = false
        case .escape: editingSearch = false; query = ""
        case .backspace: if !query.isEmpty { query.removeLast() }
        case .char(let c): query.append(c)
        default: return
        }
        refilter()
    }

    func move(to i: Int) {
        selected = max(0, min(visible.count - 1, i))
    }

    func cycleTheme() {
        let names = Theme.available(in: themeFolder)
        let i = names.firstIndex(of: theme.name) ?? -1
        let next = names[(i + 1) % names.count]
        let (t, problem) = Theme.loadOrDefault(named: next, folder: themeFolder)
        theme = t
        message = problem.map { ($0, true) } ?? ("theme: \(t.name)", false)
    }

    /// The search: every word must occur in the ID, label, subtype, site or age/sex.
    func refilter() {
        let words = query.lowercased().split(separator: " ").map(String.init)
        let byText = words.isEmpty ? Array(all.indices) : all.indices.filter { i in words.allSatisfy { haystacks[i].contains($0) } }
        let keep = byText.filter { passesFilter(all[$0].id) }
        func severity(_ label: String?) -> Int { label.flatMap { DiagnosisLabel(rawValue: $0) }?.severity ?? 9 }
        visible = keep.sorted { a, b in
            let x = all[a], y = all[b]
            let less: Bool
            switch sortKey {
            case .id: less = x.id < y.id
            case .age: less = (x.age ?? -1, x.id) < (y.age ?? -1, y.id)
            case .label: less = (severity(x.label), x.id) < (severity(y.label), y.id)
            case .malignant: less = (predictions[x.id]?.malignant ?? -1, x.id) < (predictions[y.id]?.malignant ?? -1, y.id)
            case .site: less = (x.site ?? "~", x.id) < (y.site ?? "~", y.id)
            case .boxes: less = (x.boxCount, x.id) < (y.boxCount, y.id)
            }
            return ascending ? less : !less
        }
        selected = min(selected, max(0, visible.count - 1))
    }

    func passesFilter(_ id: String) -> Bool {
        // The open case stays in the list while it is open, so n and p keep their place.
        if id == caseView?.detail.summary.id { return true }
        let p = predictions[id]
        switch filter {
        case .all: return true
        case .notRun: return p == nil
        case .noLesion: return p.map { !$0.lesionFound } ?? false
        case .predicted(let c): return p?.lesionFound == true && p?.predicted == c
        }
    }

    /// Selects the case with this ID (clearing the search) and opens it.
    public func open(id: String) {
        query = ""
        filter = .all
        refilter()
        // The dataset reader prefixes IDs (BTXRD-IMG000001): the bare image ID finds it too.
        guard let i = visible.firstIndex(where: { all[$0].id == id }) ?? visible.firstIndex(where: { all[$0].id.hasSuffix("-" + id) }) else {
            message = ("no case \(id) here", true)
            return
        }
        selected = i
        openSelected()
    }

    func openSelected() {
        guard let s = selectedSummary else { return }
        do {
            let detail = try source.detail(id: s.id)
            var view = ImageViewState(window: Window(center: 128, width: 256))
            view.showBoxes = caseView?.view.showBoxes ?? true
            caseView = CaseViewState(detail: detail, loaded: nil, error: nil, view: view)
            if source is StoreSource { historyRequests.append(s.id) }
            if let url = detail.radiograph {
                loadRequests.append((s.id, url, false))
                diagnosisRequests.append((s.id, false))
            } else { caseView?.error = "no radiograph in this case" }
        } catch {
            message = ("\(error)", true)
        }
    }

    /// A background decode finished (called on the main thread).
    public func imageLoaded(id: String, slide: Bool = false, _ result: Result<LoadedImage, any Error>) {
        guard caseView?.detail.summary.id == id else { return }
        if slide {
            switch result {
            case .success(let img):
                caseView?.slide = img
                caseView?.slideView.window = img.preset(1).0
            case .failure(let e): caseView?.slideError = "\(e)"
            }
            return
        }
        switch result {
        case .success(let img):
            caseView?.loaded = img
            let (w, name) = img.preset(1)
            caseView?.view.window = w
            caseView?.presetName = name
        case .failure(let e):
            caseView?.error = "\(e)"
        }
    }

    /// Decodes the pending images here and now (tests, and the first frame's measurement).
    public func loadPendingSynchronously() {
        let reqs = loadRequests
        loadRequests.removeAll()
        for r in reqs { imageLoaded(id: r.id, slide: r.slide, Result { try LoadedImage.decode(r.url) }) }
    }

    // MARK: diagnosis (called on the main thread with what the background work posts)

    public func modelsChanged(_ state: ModelsState) {
        models = state
        if case .failed(let why) = state { message = ("models: \(why)", true) }
    }

    public func diagnosisStarted(id: String) {
        running = id
        if caseView?.detail.summary.id == id, caseView?.diagnosis.result == nil { caseView?.diagnosis = .running }
    }

    /// A diagnosis arrived. It lands in the case view only if that case is the one shown.
    public func diagnosed(id: String, _ result: Result<CaseDiagnosisResult, CaseSourceError>) {
        if running == id { running = nil }
        if case .success(let r) = result {
            predictions[id] = PredictionSummary(r.findings)
            if let p = r.keepProblem { message = (p, true) }
        }
        if caseView?.detail.summary.id == id {
            switch result {
            case .success(let r): caseView?.diagnosis = .done(r)
            case .failure(let e): caseView?.diagnosis = .failed(e.description)
            }
        }
        if sortKey == .malignant || filter != .all { refilterKeepingSelection() }
    }

    public func known(_ found: [KnownPrediction]) {
        for k in found where predictions[k.caseID] == nil { predictions[k.caseID] = k.summary }
        if sortKey == .malignant || filter != .all { refilterKeepingSelection() }
    }

    public func batchProgress(_ p: BatchProgress) {
        guard var b = batch else { return }
        if b.number == 0 { b.number = p.batch }
        guard b.number == p.batch else { return }
        b.done = p.done; b.total = p.total; b.finished = p.finished; b.cancelled = p.cancelled
        batch = b
        if p.finished { message = (p.cancelled ? "run cancelled after \(p.done) of \(p.total)" : "run finished: \(p.done) cases", false) }
    }

    /// Re-sorts without moving the selection off the case it is on.
    func refilterKeepingSelection() {
        let id = selectedSummary?.id
        refilter()
        if let id, let i = visible.firstIndex(where: { all[$0].id == id }) { selected = i }
    }

    func adjustView(_ action: Action) {
        guard var cv = caseView, let img = cv.showingSlide ? cv.slide : cv.loaded else { return }
        var v = cv.showingSlide ? cv.slideView : cv.view
        let W = Double(img.image.width), H = Double(img.image.height)
        let (cx, cy) = v.centre ?? (W / 2, H / 2)
        let stepX = W / v.zoom / 8, stepY = H / v.zoom / 8
        let range = Double(max(1, img.maximum - img.minimum))
        switch action {
        case .zoomIn: v.zoom = min(16, v.zoom * 1.25)
        case .zoomOut: v.zoom = max(1, v.zoom / 1.25); if v.zoom == 1 { v.centre = nil }
        case .panLeft: v.centre = (max(0, cx - stepX), cy)
        case .panRight: v.centre = (min(W, cx + stepX), cy)
        case .panUp: v.centre = (cx, max(0, cy - stepY))
        case .panDown: v.centre = (cx, min(H, cy + stepY))
        case .windowNarrower: v.window.width = max(1, v.window.width / 1.25); cv.presetName = "manual"
        case .windowWider: v.window.width = min(4 * range, v.window.width * 1.25); cv.presetName = "manual"
        case .levelDown: v.window.center -= range / 20; cv.presetName = "manual"
        case .levelUp: v.window.center += range / 20; cv.presetName = "manual"
        case .preset(let n): (v.window, cv.presetName) = img.preset(n)
        case .invert: v.invert.toggle()
        case .resetView: v.zoom = 1; v.centre = nil; cv.selectedBox = nil
        case .toggleBoxes: v.showBoxes.toggle()
        case .nextBox:
            let boxes = cv.showingSlide ? [] : Self.boxes(for: cv, showTruth: showTruth)
            guard !boxes.isEmpty else { message = ("no boxes shown", false); return }
            let k = ((cv.selectedBox ?? -1) + 1) % boxes.count
            cv.selectedBox = k
            let r = boxes[k].rect
            v.centre = (Double(r.x + r.x1) / 2, Double(r.y + r.y1) / 2)
            v.zoom = max(1, min(16, 0.5 * min(W / Double(max(1, r.width)), H / Double(max(1, r.height)))))
        default: break
        }
        if cv.showingSlide { cv.slideView = v } else { cv.view = v }
        caseView = cv
    }

    /// The boxes drawn over the radiograph: the model's (the classified lesion first, coloured
    /// by the predicted class; the others in the prediction role), then the reference boxes.
    static func boxes(for cv: CaseViewState, showTruth: Bool) -> [LabelledBox] {
        var out: [LabelledBox] = []
        if let f = cv.diagnosis.result?.findings {
            let predicted = DiagnosisLabel(rawValue: f.predicted)
            for (k, d) in f.detections.enumerated() where d.box.count == 4 {
                let rect = PixelRect(x0: Int(d.box[0].rounded(.down)), y0: Int(d.box[1].rounded(.down)),
                                     x1: max(Int(d.box[0].rounded(.down)) + 1, Int(d.box[2].rounded(.up))),
                                     y1: max(Int(d.box[1].rounded(.down)) + 1, Int(d.box[3].rounded(.up))))
                let score = String(format: "%.2f", d.score)
                out.append(k == 0
                    ? LabelledBox(rect: rect, label: "\(f.predicted) \(score)", role: Role.forLabel(predicted))
                    : LabelledBox(rect: rect, label: "lesion? \(score)", role: .prediction))
            }
        }
        if showTruth { out += cv.detail.boxes }
        return out
    }

    /// The Grad-CAM overlay for the shown case, normalised, when it is on.
    func heatOverlay(for cv: CaseViewState) -> HeatOverlay? {
        guard showHeatmap, !cv.showingSlide, let h = cv.diagnosis.result?.findings.heatmap, h.box.count == 4 else { return nil }
        return HeatOverlay(x0: h.box[0], y0: h.box[1], x1: h.box[2], y1: h.box[3], width: h.width, height: h.height,
                           values: GradCAM.normalised(h.values))
    }

    // MARK: drawing

    public func draw(width: Int, height: Int) -> Screen {
        var screen = Screen(width: width, height: height, fill: theme[.text])
        guard width >= 20, height >= 6 else {
            screen.put("Window too small", x: 0, y: 0, style: theme[.error])
            return screen
        }
        if showingHelp {
            HelpScreen.draw(into: &screen, theme: theme)
        } else if let v = pacs {
            PACSScreen.draw(v, theme: theme, into: &screen)
        } else if showingFigures, let f = figures {
            PaperFigures.draw(f, top: figuresTop, theme: theme, into: &screen)
        } else if let cv = caseView {
            CaseViewScreen.draw(cv, browser: self, into: &screen)
        } else if showingReport, let r = report {
            ReportScreen.draw(r, browser: self, into: &screen)
        } else {
            pageSize = max(1, height - 6)
            CaseListScreen.draw(self, into: &screen)
        }
        if let f = form, !showingHelp { FormScreen.draw(f, theme: theme, into: &screen) }
        StatusBar.draw(self, into: &screen)
        return screen
    }

    func scrollTop(rows: Int) -> Int {
        if selected < top { top = selected }
        if selected >= top + rows { top = selected - rows + 1 }
        top = max(0, min(top, max(0, visible.count - rows)))
        return top
    }
}
