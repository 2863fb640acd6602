import CNcurses
import Foundation

public struct TerminalError: Error, CustomStringConvertible {
    public var description: String
}

/// A key as the screens see it.
public enum Key: Sendable, Equatable, Hashable {
    case char(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, escape, backspace, tab, backTab, resize
    case function(Int)
}

/// The one module that owns the terminal (htop's CRT.c): start, colours, rendering of the
/// screen model, keyboard, and teardown. Every call happens on the main thread.
public final class Terminal {
    public private(set) var width = 80
    public private(set) var height = 24
    public let colours: Int
    private var pairs: [UInt64: Int32] = [:]
    private var nextPair: Int32 = 1
    private var shownGraphics: [GraphicsLayer] = []
    private var forceGraphics = true
    private var stopped = false
    /// Bytes written for images in the last render (for the status bar and docs).
    public private(set) var lastGraphicsBytes = 0
    /// Synchronized output (DEC mode 2026): terminals that know it show the frame at once;
    /// others ignore the unknown mode.
    public var synchronizedOutput = true

    private let outputFD: Int32
    private let screenRef: OpaquePointer?

    /// On the process's terminal (stdin/stdout), or with `output`/`input` on any file
    /// descriptors (ncurses' newterm: tests and the byte counts render into a pipe).
    public init(termType: String? = nil, output: Int32 = 1, input: Int32 = 0) throws {
        setlocale(LC_ALL, "")
        // ESC alone should feel instant; escape sequences arrive together.
        setenv("ESCDELAY", "25", 0)
        outputFD = output
        guard let outFile = fdopen(dup(output), "w"), let inFile = fdopen(dup(input), "r") else {
            throw TerminalError(description: "cannot open the terminal's file descriptors")
        }
        guard let scr = newterm(termType ?? ProcessInfo.processInfo.environment["TERM"] ?? "xterm-256color", outFile, inFile) else {
            throw TerminalError(description: "ncurses cannot drive this terminal (TERM=\(ProcessInfo.processInfo.environment["TERM"] ?? "unset")); try TERM=xterm-256color")
        }
        screenRef = scr
        set_term(scr)
        cbreak()
        noecho()
        nonl()
        keypad(tb_stdscr(), true)
        nodelay(tb_stdscr(), true)
        curs_set(0)
        if has_colors() {
            start_color()
            use_default_colors()
        }
        colours = has_colors() ? Int(tb_colors()) : 0
        width = Int(tb_cols()); height = Int(tb_lines())
    }

    /// Restores the terminal. Safe to call more than once.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        if shownGraphics.contains(where: { $0.mode == .kitty }) { writeRaw(Array(KittyEncoder.deleteAll.utf8)) }
        erase(); refresh()
        endwin()
        writeRaw(Array("\u{1B}[?25h".utf8))
        if let screenRef { delscreen(screenRef) }
    }

    deinit { stop() }

    /// Re-reads the size after KEY_RESIZE (or when TIOCGWINSZ says it changed).
    public func updateSize() {
        var r: Int32 = 0, c: Int32 = 0, xp: Int32 = 0, yp: Int32 = 0
        if tb_winsize(outputFD, &r, &c, &xp, &yp) == 0, r > 0, c > 0, (Int(r) != height || Int(c) != width) {
            resizeterm(r, c)
        }
        width = Int(tb_cols()); height = Int(tb_lines())
        forceGraphics = true
        clearok(tb_stdscr(), true)
    }

    /// Whether the window size differs from the last one seen (a missed SIGWINCH).
    public func sizeChanged() -> Bool {
        var r: Int32 = 0, c: Int32 = 0, xp: Int32 = 0, yp: Int32 = 0
        return tb_winsize(outputFD, &r, &c, &xp, &yp) == 0 && r > 0 && (Int(r) != height || Int(c) != width)
    }

    /// Draws the screen model: cells through ncurses (which sends only what changed), then
    /// the image layers whose content or place changed, all inside one synchronized update.
    public func render(_ screen: Screen) {
        let layersMoved = shownGraphics.map(\.rect) != screen.graphics.map(\.rect)
            || shownGraphics.map(\.mode) != screen.graphics.map(\.mode)
        if layersMoved && !shownGraphics.isEmpty {
            // Old pixels must go: a full repaint erases sixels; kitty images are deleted.
            if shownGraphics.contains(where: { $0.mode == .kitty }) { writeRaw(Array(KittyEncoder.deleteAll.utf8)) }
            clearok(tb_stdscr(), true)
            forceGraphics = true
        }
        let rows = min(screen.height, height), cols = min(screen.width, width)
        for y in 0..<rows {
            for x in 0..<cols {
                let cell = screen[x, y]
                let scalar = cell.char.unicodeScalars.first.map { wchar_t(bitPattern: $0.value) } ?? 32
                _ = tb_put_cell(Int32(y), Int32(x), scalar, attributes(cell.style), pair(cell.style))
            }
        }
        if let c = screen.cursor { move(Int32(c.y), Int32(c.x)); curs_set(1) } else { curs_set(0) }
        if synchronizedOutput { writeRaw(Array("\u{1B}[?2026h".utf8)) }
        wnoutrefresh(tb_stdscr())
        doupdate()
        var sent = 0
        for (i, layer) in screen.graphics.enumerated() {
            let same = !forceGraphics && i < shownGraphics.count && shownGraphics[i].key == layer.key
            if same { continue }
            var bytes = Array("\u{1B}7\u{1B}[\(layer.rect.y + 1);\(layer.rect.x + 1)H".utf8)
            bytes += layer.bytes
            bytes += Array("\u{1B}8".utf8)
            writeRaw(bytes)
            sent += layer.bytes.count
        }
        if synchronizedOutput { writeRaw(Array("\u{1B}[?2026l".utf8)) }
        lastGraphicsBytes = sent
        shownGraphics = screen.graphics
        forceGraphics = false
    }

    /// Keys waiting on the keyboard (non-blocking).
    public func readKeys() -> [Key] {
        var keys: [Key] = []
        while true {
            var ch: wint_t = 0
            let rc = wget_wch(tb_stdscr(), &ch)
            if rc == tb_err() { break }
            if rc == tb_key_code_yes() {
                if let k = Terminal.functionKey(Int32(ch)) { keys.append(k) }
            } else if let k = Terminal.charKey(UInt32(ch)) {
                keys.append(k)
            }
        }
        return keys
    }

    static func charKey(_ code: UInt32) -> Key? {
        switch code {
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 9: return .tab
        default: return Unicode.Scalar(code).map { .char(Character($0)) }
        }
    }

    static func functionKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_UP: .up
        case KEY_DOWN: .down
        case KEY_LEFT: .left
        case KEY_RIGHT: .right
        case KEY_PPAGE: .pageUp
        case KEY_NPAGE: .pageDown
        case KEY_HOME: .home
        case KEY_END: .end
        case KEY_ENTER: .enter
        case KEY_BACKSPACE: .backspace
        case KEY_BTAB: .backTab
        case tb_key_resize(): .resize
        case KEY_F0 + 1...KEY_F0 + 12: .function(Int(code - KEY_F0))
        default: nil
        }
    }

    private func attributes(_ s: Style) -> attr_t {
        var a: attr_t = 0
        if s.bold { a |= tb_a_bold() }
        if s.reverse { a |= tb_a_reverse() }
        if s.underline { a |= tb_a_underline() }
        return a
    }

    private func colourNumber(_ c: TermColor) -> Int32 {
        switch c {
        case .default: return -1
        case .index(let i):
            if colours >= 256 { return Int32(i) }
            if colours <= 0 { return -1 }
            if case .index(let j) = c.downgraded(toColors: colours) { return Int32(j) }
            return -1
        }
    }

    private func pair(_ s: Style) -> Int32 {
        guard colours > 0 else { return 0 }
        let fg = colourNumber(s.fg), bg = colourNumber(s.bg)
        let key = UInt64(UInt32(bitPattern: fg)) << 32 | UInt64(UInt32(bitPattern: bg))
        if let p = pairs[key] { return p }
        guard nextPair < tb_color_pairs() else { return 0 }
        let p = nextPair
        nextPair += 1
        init_extended_pair(p, fg, bg)
        pairs[key] = p
        return p
    }

    private func writeRaw(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBufferPointer { write(outputFD, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; return }
            off += n
        }
    }
}
