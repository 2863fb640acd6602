import CNcurses
import Cases
import Diagnosis
import Foundation
import Imaging

/// What `tumorboard open` hands the UI.
public struct WorkstationOptions {
    public var source: any CaseSource
    public var themeFolder: String?
    public var themeName: String
    public var environment: [String: String]
    /// A case to open at start (its ID), instead of the list.
    public var initialCase: String?
    /// The models folder; nil: no models (browsing only, the case view says so).
    public var modelsDirectory: URL?
    /// An evaluation report folder to show (E), opened at start unless a case is.
    public var report: URL?
    /// docs/results.json (tutor mode's page of the paper's figures beside ours).
    public var resultsFile: URL?

    public init(source: any CaseSource, themeFolder: String?, initialCase: String? = nil, modelsDirectory: URL? = nil,
                report: URL? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.initialCase = initialCase
        self.report = report
        self.modelsDirectory = modelsDirectory
        self.source = source
        self.themeFolder = themeFolder
        self.themeName = environment["TUMORBOARD_THEME"].flatMap { $0.isEmpty ? nil : $0 } ?? "dark"
        self.environment = environment
    }
}

/// Where a source's findings are kept: a store source's own case store (the store it already has
/// open, not a second connection to it), else the cache folder, else memory. Only a store source
/// has a store: there is no second way to name one, so no silent fall-back when opening it fails.
func findingsArchive(for source: any CaseSource, environment: [String: String]) -> any FindingsArchive {
    if let s = source as? StoreSource { return StoreFindingsArchive(store: s.store) }
    if let folder = FolderFindingsArchive.defaultFolder(environment: environment) { return FolderFindingsArchive(folder: folder) }
    return MemoryFindingsArchive()
}

public enum Workstation {
    /// Runs the browsing UI until q, SIGINT, SIGTERM or SIGHUP; the terminal is restored on
    /// every way out, including a thrown error. Returns the signal that ended it, if one did.
    @discardableResult
    public static func run(_ options: WorkstationOptions) throws -> Int32? {
        let env = options.environment
        let timing = env["TUMORBOARD_TIMING"].flatMap { $0.isEmpty ? nil : TimingLog(path: $0) }
        // Ask the terminal before ncurses owns it (the replies would otherwise arrive as keys).
        let overridden = env["TUMORBOARD_GRAPHICS"].flatMap { GraphicsMode(rawValue: $0.lowercased()) } != nil
        var replies: ProbeReplies? = nil
        var probeMs = 0.0
        if !overridden && !TerminalProbe.insideMultiplexer(env) {
            let t = DispatchTime.now().uptimeNanoseconds
            let timeout = env["TUMORBOARD_PROBE_TIMEOUT_MS"].flatMap { Int($0) } ?? TerminalProbe.defaultTimeoutMs
            replies = TerminalProbe.query(timeoutMs: timeout)
            // A reply that came in part after the timeout must not reach the UI as keys.
            tcflush(0, TCIFLUSH)
            probeMs = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        }
        tb_install_crash_restore(1)
        let terminal = try Terminal()
        defer { terminal.stop() }
        let choice = TerminalProbe.decide(environment: env, replies: replies, colours: terminal.colours,
                                          windowCellSize: TerminalProbe.windowCellSize())
        let (theme, problem) = Theme.loadOrDefault(named: options.themeName, folder: options.themeFolder)
        let refused = options.source.problems
        let note = problem ?? choice.warning
            ?? (refused.isEmpty ? nil : "\(refused.count) not opened: \(refused[0])")
        let browser = Browser(source: options.source, theme: theme, themeFolder: options.themeFolder,
                              graphics: choice, message: note.map { ($0, true) })

        if let folder = options.report {
            do { browser.setReport(try ReportDocument.load(folder), show: options.initialCase == nil) }
            catch { browser.note("\(error)", error: true) }
        }
        browser.resultsFile = options.resultsFile
        if let id = options.initialCase { browser.open(id: id) }
        let session = WorkstationSession(browser: browser, archive: findingsArchive(for: options.source, environment: env),
                                         engineIdleDrain: .seconds(30))
        let wake = session.wake
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler { wake.post(.signal(sig)) }
            src.resume()
            sources.append(src)
        }
        defer { for (s, sig) in zip(sources, [SIGINT, SIGTERM, SIGHUP]) { s.cancel(); signal(sig, SIG_DFL) } }
        var dirty = true
        var modelsRequested = false
        let loopStart = DispatchTime.now().uptimeNanoseconds
        var diagnosisTime: [String: UInt64] = [:]
        var firstFrame = true
        var keyTime: UInt64?
        var keyName = ""
        var openTime: [String: UInt64] = [:]
        var exitSignal: Int32?
        while !browser.quit && exitSignal == nil {
            if dirty {
                let screen = browser.draw(width: terminal.width, height: terminal.height)
                terminal.render(screen)
                dirty = false
                let now = DispatchTime.now().uptimeNanoseconds
                if firstFrame {
                    firstFrame = false
                    // Test hook for the end-to-end test of crash restore.
                    if env["TUMORBOARD_TEST_CRASH"] == "1" { fatalError("TUMORBOARD_TEST_CRASH=1: crashing on purpose after the first frame") }
                    timing?.write("pid=\(getpid()) startup_ms=\(TimingLog.sinceProcessStart()) probe_ms=\(String(format: "%.1f", probeMs)) mode=\(choice.mode) reason=\"\(choice.reason)\" terminal=\"\(choice.terminalName ?? "")\" cell=\(choice.cellSize)")
                }
                // The weights load after the first screen is up, never before it.
                if !modelsRequested {
                    modelsRequested = true
                    if let dir = options.modelsDirectory {
                        session.loadModels(DiagnosisService.loader(directory: dir))
                    } else {
                        browser.modelsChanged(.failed("no models folder (set TUMORBOARD_MODELS, or run training/run_all.sh)"))
                    }
                }
                if let k = keyTime {
                    let f = browser.lastFrame
                    timing?.write("key=\(keyName) redraw_ms=\(String(format: "%.2f", Double(now - k) / 1e6)) mode=\(browser.graphics.mode) graphics_bytes=\(terminal.lastGraphicsBytes) frame_ms=\(String(format: "%.2f", f?.milliseconds ?? 0)) size=\(terminal.width)x\(terminal.height)")
                    keyTime = nil
                }
            }
            let imageIDs = browser.loadRequests.filter { !$0.slide }.map(\.id)
            for id in imageIDs { openTime[id] = DispatchTime.now().uptimeNanoseconds }
            if let id = session.submit() { diagnosisTime[id] = DispatchTime.now().uptimeNanoseconds }
            session.tick()

            var fds = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 2, 100)
            if terminal.sizeChanged() { terminal.updateSize(); dirty = true }
            for m in wake.drain() {
                dirty = true
                switch session.apply(m) {
                case .modelsReady:
                    timing?.write("models_ready_ms=\(String(format: "%.1f", Double(DispatchTime.now().uptimeNanoseconds - loopStart) / 1e6))")
                case .diagnosisShown(let id, let kept):
                    if let t = diagnosisTime.removeValue(forKey: id) {
                        terminal.render(browser.draw(width: terminal.width, height: terminal.height))
                        dirty = false
                        let ms = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
                        timing?.write("open_to_probabilities_ms=\(String(format: "%.2f", ms)) case=\(id) kept=\(kept)")
                    }
                case .imageShown(let id):
                    if let t = openTime.removeValue(forKey: id) {
                        terminal.render(browser.draw(width: terminal.width, height: terminal.height))
                        dirty = false
                        let ms = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
                        timing?.write("open_to_image_ms=\(String(format: "%.2f", ms)) case=\(id) mode=\(browser.graphics.mode) graphics_bytes=\(terminal.lastGraphicsBytes) frame_ms=\(String(format: "%.2f", browser.lastFrame?.milliseconds ?? 0))")
                    }
                case .signal(let s): exitSignal = s
                case nil: break
                }
            }
            for key in terminal.readKeys() {
                if key == .resize { terminal.updateSize() }
                browser.handle(key)
                if keyTime == nil { keyTime = DispatchTime.now().uptimeNanoseconds; keyName = "\(key)" }
                dirty = true
            }
        }
        session.stop()
        timing?.write(exitSignal.map { "exit signal=\($0)" } ?? "exit quit")
        return exitSignal
    }
}

/// `TUMORBOARD_TIMING=path`: one line per event (start-up, key to redraw, case to image).
final class TimingLog {
    let handle: FileHandle
    init?(path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let h = FileHandle(forWritingAtPath: path) else { return nil }
        handle = h
    }
    func write(_ line: String) { handle.write(Data((line + "\n").utf8)) }

    /// Milliseconds since the process started (the kernel's start time, 10 ms ticks).
    static func sinceProcessStart() -> String {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return "?" }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]) else { return "?" }
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        let nowMs = Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        return String(format: "%.0f", nowMs - ticks * 1000 / hz)
    }
}
