/// Every key binding, in one place: the screens dispatch through it and the help screen is
/// printed from it, so the two cannot disagree.
public enum Action: Sendable, Equatable {
    case quit, help, cycleTheme, cycleGraphics
    case up, down, pageUp, pageDown, first, last, open, search, clearSearch, sort, reverseSort
    case back, nextCase, previousCase
    case zoomIn, zoomOut, panLeft, panRight, panUp, panDown
    case windowNarrower, windowWider, levelDown, levelUp, preset(Int), invert, resetView, toggleBoxes, nextBox
    case toggleHeatmap, toggleTruth, toggleSlide, nextSection, previousSection, rerun
    case runAll, filterPrediction, triage
    case showReport, nextPlot, previousPlot, nextWrongCase, openWrongCase
    case addSlide, editLab, editNote, signOff, writeReport, tutor
    case toggleModality(Int), scratchLab, paperFigures, importCases, pacs
}

public enum KeyContext: String, Sendable, CaseIterable {
    case global = "Everywhere", list = "Case list", caseView = "Case view", tutor = "Tutor mode (case view)", report = "Evaluation report"
}

public struct Binding: Sendable {
    public var keys: [Key]
    public var names: String
    public var action: Action
    public var context: KeyContext
    public var help: String
}

public enum KeyMap {
    static func chars(_ s: String) -> [Key] { s.map { .char($0) } }

    public static let bindings: [Binding] = [
        Binding(keys: chars("q"), names: "q", action: .quit, context: .global, help: "quit"),
        Binding(keys: chars("?") + [.function(1)], names: "? F1", action: .help, context: .global, help: "this help"),
        Binding(keys: chars("t"), names: "t", action: .cycleTheme, context: .global, help: "next colour theme"),
        Binding(keys: chars("g"), names: "g", action: .cycleGraphics, context: .global, help: "next image mode (ladder)"),

        Binding(keys: [.up] + chars("k"), names: "↑ k", action: .up, context: .list, help: "previous case"),
        Binding(keys: [.down] + chars("j"), names: "↓ j", action: .down, context: .list, help: "next case"),
        Binding(keys: [.pageUp], names: "PgUp", action: .pageUp, context: .list, help: "page up"),
        Binding(keys: [.pageDown, .char(" ")], names: "PgDn Space", action: .pageDown, context: .list, help: "page down"),
        Binding(keys: [.home], names: "Home", action: .first, context: .list, help: "first case"),
        Binding(keys: [.end], names: "End", action: .last, context: .list, help: "last case"),
        Binding(keys: [.enter, .right], names: "Enter →", action: .open, context: .list, help: "open the case"),
        Binding(keys: chars("/"), names: "/", action: .search, context: .list, help: "search (ID, label, site)"),
        Binding(keys: [.escape], names: "Esc", action: .clearSearch, context: .list, help: "clear the search"),
        Binding(keys: chars("s"), names: "s", action: .sort, context: .list, help: "sort by the next column"),
        Binding(keys: chars("r"), names: "r", action: .reverseSort, context: .list, help: "reverse the order"),
        Binding(keys: chars("M"), names: "M", action: .triage, context: .list, help: "triage: p(malignant) first"),
        Binding(keys: chars("F"), names: "F", action: .filterPrediction, context: .list, help: "filter by predicted class"),
        Binding(keys: chars("R"), names: "R", action: .runAll, context: .list, help: "run all cases / cancel the run"),
        Binding(keys: chars("E"), names: "E", action: .showReport, context: .list, help: "the evaluation report (--report)"),
        Binding(keys: chars("I"), names: "I", action: .importCases, context: .list, help: "import cases into the store"),
        Binding(keys: chars("P"), names: "P", action: .pacs, context: .list, help: "the PACS: search, import"),

        Binding(keys: [.escape, .backspace], names: "Esc Bksp", action: .back, context: .caseView, help: "back to the case list"),
        Binding(keys: chars("n") + [.pageDown], names: "n PgDn", action: .nextCase, context: .caseView, help: "next case in the list"),
        Binding(keys: chars("p") + [.pageUp], names: "p PgUp", action: .previousCase, context: .caseView, help: "previous case in the list"),
        Binding(keys: chars("+="), names: "+ =", action: .zoomIn, context: .caseView, help: "zoom in (x1.25)"),
        Binding(keys: chars("-_"), names: "-", action: .zoomOut, context: .caseView, help: "zoom out"),
        Binding(keys: [.left] + chars("h"), names: "← h", action: .panLeft, context: .caseView, help: "pan left"),
        Binding(keys: [.right] + chars("l"), names: "→ l", action: .panRight, context: .caseView, help: "pan right"),
        Binding(keys: [.up] + chars("k"), names: "↑ k", action: .panUp, context: .caseView, help: "pan up"),
        Binding(keys: [.down] + chars("j"), names: "↓ j", action: .panDown, context: .caseView, help: "pan down"),
        Binding(keys: chars("w"), names: "w", action: .windowNarrower, context: .caseView, help: "narrower window"),
        Binding(keys: chars("W"), names: "W", action: .windowWider, context: .caseView, help: "wider window"),
        Binding(keys: chars("c"), names: "c", action: .levelDown, context: .caseView, help: "lower centre (brighter)"),
        Binding(keys: chars("C"), names: "C", action: .levelUp, context: .caseView, help: "raise centre (darker)"),
        Binding(keys: chars("1"), names: "1", action: .preset(1), context: .caseView, help: "preset: full range"),
        Binding(keys: chars("2"), names: "2", action: .preset(2), context: .caseView, help: "preset: auto (0.5-99.5 %)"),
        Binding(keys: chars("3"), names: "3", action: .preset(3), context: .caseView, help: "preset: bone (bright half)"),
        Binding(keys: chars("4"), names: "4", action: .preset(4), context: .caseView, help: "preset: soft tissue (dark)"),
        Binding(keys: chars("i"), names: "i", action: .invert, context: .caseView, help: "invert grey levels"),
        Binding(keys: chars("0f"), names: "0 f", action: .resetView, context: .caseView, help: "fit: reset zoom and pan"),
        Binding(keys: chars("b"), names: "b", action: .toggleBoxes, context: .caseView, help: "show / hide all boxes"),
        Binding(keys: chars("T"), names: "T", action: .toggleTruth, context: .caseView, help: "show / hide the truth boxes"),
        Binding(keys: [.tab], names: "Tab", action: .nextBox, context: .caseView, help: "zoom to the next box"),
        Binding(keys: chars("m"), names: "m", action: .toggleHeatmap, context: .caseView, help: "Grad-CAM heatmap on / off"),
        Binding(keys: chars("s"), names: "s", action: .toggleSlide, context: .caseView, help: "radiograph / pathology slide"),
        Binding(keys: chars("]"), names: "]", action: .nextSection, context: .caseView, help: "side panel: next section"),
        Binding(keys: chars("["), names: "[", action: .previousSection, context: .caseView, help: "side panel: previous section"),
        Binding(keys: chars("r"), names: "r", action: .rerun, context: .caseView, help: "run the diagnosis again"),
        Binding(keys: chars("P"), names: "P", action: .addSlide, context: .caseView, help: "add a slide reference"),
        Binding(keys: chars("L"), names: "L", action: .editLab, context: .caseView, help: "add or correct a lab result"),
        Binding(keys: chars("N"), names: "N", action: .editNote, context: .caseView, help: "the review note"),
        Binding(keys: chars("S"), names: "S", action: .signOff, context: .caseView, help: "sign off / reopen if signed"),
        Binding(keys: chars("x"), names: "x", action: .writeReport, context: .caseView, help: "write the case report"),
        Binding(keys: chars("u"), names: "u", action: .tutor, context: .caseView, help: "tutor mode on / off"),

        Binding(keys: chars("1"), names: "1", action: .toggleModality(0), context: .tutor, help: "image on / off"),
        Binding(keys: chars("2"), names: "2", action: .toggleModality(1), context: .tutor, help: "pathology on / off"),
        Binding(keys: chars("3"), names: "3", action: .toggleModality(2), context: .tutor, help: "clinical text on / off"),
        Binding(keys: chars("e"), names: "e", action: .scratchLab, context: .tutor, help: "change a lab (scratch copy)"),
        Binding(keys: chars("F"), names: "F", action: .paperFigures, context: .tutor, help: "paper's figures beside ours"),
        Binding(keys: chars("u") + [.escape], names: "u Esc", action: .tutor, context: .tutor, help: "leave tutor mode"),

        Binding(keys: [.escape, .backspace] + chars("E"), names: "Esc E", action: .back, context: .report, help: "back to the case list"),
        Binding(keys: [.up] + chars("k"), names: "↑ k", action: .up, context: .report, help: "scroll up"),
        Binding(keys: [.down] + chars("j"), names: "↓ j", action: .down, context: .report, help: "scroll down"),
        Binding(keys: [.pageUp], names: "PgUp", action: .pageUp, context: .report, help: "page up"),
        Binding(keys: [.pageDown, .char(" ")], names: "PgDn Space", action: .pageDown, context: .report, help: "page down"),
        Binding(keys: chars("]"), names: "]", action: .nextPlot, context: .report, help: "next plot"),
        Binding(keys: chars("["), names: "[", action: .previousPlot, context: .report, help: "previous plot"),
        Binding(keys: [.tab], names: "Tab", action: .nextWrongCase, context: .report, help: "next of the most-wrong cases"),
        Binding(keys: [.enter], names: "Enter", action: .openWrongCase, context: .report, help: "open that case"),
    ]

    /// The action for `key` in `context` (a context's own bindings win over global ones).
    public static func action(for key: Key, in context: KeyContext) -> Action? {
        // Tutor mode is the case view with a few keys of its own.
        if context == .tutor, let a = bindings.first(where: { $0.context == .tutor && $0.keys.contains(key) })?.action { return a }
        let context = context == .tutor ? .caseView : context
        return bindings.first { $0.context == context && $0.keys.contains(key) }?.action
            ?? bindings.first { $0.context == .global && $0.keys.contains(key) }?.action
    }
}
