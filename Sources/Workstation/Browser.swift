import Cases
import Foundation
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

/// The open case: its record, its image once decoded, and how the pane looks at it.
public struct CaseViewState: Sendable {
    public var detail: CaseDetail
    public var loaded: LoadedImage?
    public var error: String?
    public var view: ImageViewState
    public var presetName = "full range"
    public var selectedBox: Int?
}

public enum SortKey: String, CaseIterable, Sendable { case id = "ID", age, label, site, boxes }

/// The browsing UI's state and behaviour, with no terminal: keys in, a `Screen` out.
/// `Workstation.run` connects it to a `Terminal`; tests drive it directly.
public final class Browser {
    public let source: any CaseSource
    public private(set) var all: [CaseSummary]
    /// What the search looks in, per case (lower case), built once.
    private let haystacks: [String]
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
    /// Images to decode off the main thread: (case ID, file). The owner takes them.
    public var loadRequests: [(id: String, url: URL)] = []

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
        haystacks = all.map { s in [s.id, s.label ?? "", s.subtype ?? "", s.site ?? "", s.ageSex].joined(separator: " ").lowercased() }
        self.message = message.map { ($0.0, $0.1) }
        refilter()
    }

    public var selectedSummary: CaseSummary? { visible.isEmpty ? nil : all[visible[selected]] }
    public var lastFrame: FrameStats? { pane.lastStats }

    // MARK: keys

    public func handle(_ key: Key) {
        if key == .resize { return }
        if showingHelp { showingHelp = false; return }
        if editingSearch { editSearch(key); return }
        let context: KeyContext = caseView == nil ? .list : .caseView
        guard let action = KeyMap.action(for: key, in: context) else {
            if case .char(let c) = key { message = ("'\(c)' does nothing here; ? shows the keys", false) }
            return
        }
        message = nil
        perform(action)
    }

    func perform(_ action: Action) {
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
        case .back: caseView = nil
        case .nextCase: move(to: selected + 1); openSelected()
        case .previousCase: move(to: selected - 1); openSelected()
        default: adjustView(action)
        }
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
        let keep = words.isEmpty ? Array(all.indices) : all.indices.filter { i in words.allSatisfy { haystacks[i].contains($0) } }
        let severity = ["normal": 0, "benign": 1, "intermediate": 2, "malignant": 3]
        visible = keep.sorted { a, b in
            let x = all[a], y = all[b]
            let less: Bool
            switch sortKey {
            case .id: less = x.id < y.id
            case .age: less = (x.age ?? -1, x.id) < (y.age ?? -1, y.id)
            case .label: less = (severity[x.label ?? ""] ?? 9, x.id) < (severity[y.label ?? ""] ?? 9, y.id)
            case .site: less = (x.site ?? "~", x.id) < (y.site ?? "~", y.id)
            case .boxes: less = (x.boxCount, x.id) < (y.boxCount, y.id)
            }
            return ascending ? less : !less
        }
        selected = min(selected, max(0, visible.count - 1))
    }

    /// Selects the case with this ID (clearing the search) and opens it.
    public func open(id: String) {
        query = ""
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
            caseView = CaseViewState(detail: detail, loaded: nil, error: nil,
                                     view: ImageViewState(window: Window(center: 128, width: 256)))
            if let url = detail.radiograph { loadRequests.append((s.id, url)) } else { caseView?.error = "no radiograph in this case" }
        } catch {
            message = ("\(error)", true)
        }
    }

    /// A background decode finished (called on the main thread).
    public func imageLoaded(id: String, _ result: Result<LoadedImage, any Error>) {
        guard caseView?.detail.summary.id == id else { return }
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
        for r in reqs { imageLoaded(id: r.id, Result { try LoadedImage.decode(r.url) }) }
    }

    func adjustView(_ action: Action) {
        guard var cv = caseView, let img = cv.loaded else { return }
        var v = cv.view
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
            let boxes = cv.detail.boxes
            guard !boxes.isEmpty else { message = ("this case has no boxes", false); return }
            let k = ((cv.selectedBox ?? -1) + 1) % boxes.count
            cv.selectedBox = k
            let r = boxes[k].rect
            v.centre = (Double(r.x + r.x1) / 2, Double(r.y + r.y1) / 2)
            v.zoom = max(1, min(16, 0.5 * min(W / Double(max(1, r.width)), H / Double(max(1, r.height)))))
        default: break
        }
        cv.view = v
        caseView = cv
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
        } else if let cv = caseView {
            CaseViewScreen.draw(cv, browser: self, into: &screen)
        } else {
            pageSize = max(1, height - 6)
            CaseListScreen.draw(self, into: &screen)
        }
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
