import CNcurses
import Foundation

/// What the terminal said about itself, parsed from its replies.
public struct ProbeReplies: Sendable, Equatable {
    /// DA1 (CSI c) attributes after the class: 4 means sixel.
    public var deviceAttributes: [Int]?
    /// XTVERSION (CSI > 0 q): the terminal's name and version, e.g. "xterm(379)".
    public var terminalName: String?
    /// CSI 16 t: the cell size in pixels.
    public var cellSize: CellSize?
    /// The kitty graphics query was answered OK.
    public var kittyGraphics = false

    public init() {}
    public var sixel: Bool { deviceAttributes?.contains(4) ?? false }

    /// Parses everything a terminal may answer to `TerminalProbe.queries`, in any order.
    public static func parse(_ bytes: [UInt8]) -> ProbeReplies {
        var r = ProbeReplies()
        let s = String(decoding: bytes, as: UTF8.self)
        // DA1: ESC [ ? Pc ; Pa ; ... c
        if let m = s.firstMatch(of: /\x1B\[\?([0-9;]*)c/) {
            let nums = m.1.split(separator: ";").compactMap { Int($0) }
            r.deviceAttributes = Array(nums.dropFirst())
        }
        // XTVERSION: DCS > | text ST
        if let m = s.firstMatch(of: /\x1BP>\|([^\x1B]*)\x1B\\/) { r.terminalName = String(m.1) }
        // CSI 6 ; height ; width t
        if let m = s.firstMatch(of: /\x1B\[6;([0-9]+);([0-9]+)t/), let h = Int(m.1), let w = Int(m.2), h > 0, w > 0 {
            r.cellSize = CellSize(width: w, height: h)
        }
        // kitty: APC G i=31 ; OK ST
        if s.firstMatch(of: /\x1B_Gi=31;OK\x1B\\/) != nil { r.kittyGraphics = true }
        return r
    }
}

/// The outcome of negotiation: the mode and why, for the status bar and docs.
public struct GraphicsChoice: Sendable, Equatable {
    public var mode: GraphicsMode
    public var reason: String
    public var cellSize: CellSize
    public var terminalName: String?
    /// A problem worth telling the user (a bad override value).
    public var warning: String?
}

public enum TerminalProbe {
    /// Sent in this order; DA1 goes last because every terminal answers it, so its reply ends
    /// the wait early (the trick notcurses and chafa use).
    public static let queries = "\u{1B}_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\u{1B}\\" + "\u{1B}[>0q" + "\u{1B}[16t" + "\u{1B}[c"

    public static let defaultTimeoutMs = 300

    /// Chooses the rung of the ladder from the environment, the replies (nil when no query
    /// was made) and the number of colours ncurses reports.
    public static func decide(environment env: [String: String], replies: ProbeReplies?,
                              colours: Int, windowCellSize: CellSize? = nil) -> GraphicsChoice {
        let cell = replies?.cellSize ?? windowCellSize ?? .assumed
        let textMode: GraphicsMode = colours >= 256 ? .blocks : .ascii
        var warning: String?
        if let raw = env["TUMORBOARD_GRAPHICS"], !raw.isEmpty {
            if let mode = GraphicsMode(rawValue: raw.lowercased()) {
                return GraphicsChoice(mode: mode, reason: "TUMORBOARD_GRAPHICS=\(raw)", cellSize: cell, terminalName: replies?.terminalName)
            }
            warning = "TUMORBOARD_GRAPHICS=\(raw) is not one of sixel, kitty, blocks, ascii; negotiating instead"
        }
        if insideMultiplexer(env) {
            return GraphicsChoice(mode: textMode, reason: "inside tmux/screen (sixel is usually stripped; TUMORBOARD_GRAPHICS overrides)",
                                  cellSize: cell, terminalName: nil, warning: warning)
        }
        guard let replies else {
            return GraphicsChoice(mode: textMode, reason: "no terminal to ask", cellSize: cell, terminalName: nil, warning: warning)
        }
        if replies.kittyGraphics {
            return GraphicsChoice(mode: .kitty, reason: "kitty graphics query answered OK", cellSize: cell, terminalName: replies.terminalName, warning: warning)
        }
        if replies.sixel {
            return GraphicsChoice(mode: .sixel, reason: "DA1 lists sixel (4)", cellSize: cell, terminalName: replies.terminalName, warning: warning)
        }
        let why = replies.deviceAttributes == nil ? "no DA1 reply within the timeout" : "no sixel in DA1, no kitty graphics"
        return GraphicsChoice(mode: textMode, reason: why + (colours >= 256 ? "" : "; \(colours) colours"),
                              cellSize: cell, terminalName: replies.terminalName, warning: warning)
    }

    static func insideMultiplexer(_ env: [String: String]) -> Bool {
        if env["TMUX"] != nil || env["STY"] != nil { return true }
        let term = env["TERM"] ?? ""
        return term.hasPrefix("screen") || term.hasPrefix("tmux")
    }

    /// Asks the terminal on fds `input`/`output` (raw mode for the duration), reading until the
    /// DA1 reply or `timeoutMs`, whichever comes first. Nil when they are not a terminal.
    public static func query(input: Int32 = 0, output: Int32 = 1, timeoutMs: Int = defaultTimeoutMs) -> ProbeReplies? {
        guard isatty(input) == 1, isatty(output) == 1 else { return nil }
        var saved = termios()
        guard tcgetattr(input, &saved) == 0 else { return nil }
        var raw = saved
        cfmakeraw(&raw)
        raw.c_oflag = saved.c_oflag  // keep output processing
        tcsetattr(input, TCSANOW, &raw)
        defer { tcsetattr(input, TCSANOW, &saved) }
        let q = Array(queries.utf8)
        _ = q.withUnsafeBufferPointer { write(output, $0.baseAddress, $0.count) }
        var bytes: [UInt8] = []
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutMs) * 1_000_000
        var buf = [UInt8](repeating: 0, count: 1024)
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            if now >= deadline { break }
            var pfd = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
            let left = Int32((deadline - now) / 1_000_000) + 1
            let n = poll(&pfd, 1, left)
            if n <= 0 { if n < 0 && errno == EINTR { continue }; break }
            let got = read(input, &buf, buf.count)
            if got <= 0 { break }
            bytes += buf[0..<got]
            if String(decoding: bytes, as: UTF8.self).firstMatch(of: /\x1B\[\?[0-9;]*c/) != nil { break }
        }
        return ProbeReplies.parse(bytes)
    }

    /// The cell size from TIOCGWINSZ, where the terminal fills in the pixel fields.
    public static func windowCellSize(fd: Int32 = 1) -> CellSize? {
        var rows: Int32 = 0, cols: Int32 = 0, xp: Int32 = 0, yp: Int32 = 0
        guard tb_winsize(fd, &rows, &cols, &xp, &yp) == 0, rows > 0, cols > 0, xp > 0, yp > 0 else { return nil }
        return CellSize(width: Int(xp / cols), height: Int(yp / rows))
    }
}

/// A pseudo-terminal pair (master, slave): a terminal that tests can answer, or not.
func openPseudoTerminal() -> (master: Int32, slave: Int32)? {
    var m: Int32 = -1, s: Int32 = -1
    return tb_open_pty(&m, &s) == 0 ? (m, s) : nil
}
