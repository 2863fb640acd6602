import Foundation
import XCTest

/// The real program driven in tmux (send-keys, capture-pane): open, move, search, open a case,
/// zoom, change the window, resize, help, quit, and find the terminal restored.
/// Skips with a message when tmux is missing, and the dataset run when ../shared/data is absent.
final class EndToEndTests: XCTestCase {
    /// A tmux server of its own (-L), so nothing touches anyone else's sessions.
    final class Tmux {
        nonisolated(unsafe) static var count = 0
        /// One socket per session: a server still shutting down must not meet the next one.
        let socket: String
        let session = "ws"
        let log: String

        init(command: String, width: Int, height: Int, timingLog: String) throws {
            log = timingLog
            Tmux.count += 1
            socket = "tb-e2e-\(getpid())-\(Tmux.count)"
            try? FileManager.default.removeItem(atPath: timingLog)
            let conf = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-tmux.conf").path
            try "set -g default-terminal tmux-256color\nset -g status off\nset -g escape-time 10\n".write(toFile: conf, atomically: true, encoding: .utf8)
            // The server this starts keeps inherited descriptors open: give it no pipe to hold.
            run(["-f", conf, "new-session", "-d", "-s", session, "-x", "\(width)", "-y", "\(height)", command], capture: false)
        }

        deinit {
            run(["kill-server"], capture: false)
            let dir = (ProcessInfo.processInfo.environment["TMUX_TMPDIR"] ?? "/tmp") + "/tmux-\(getuid())"
            try? FileManager.default.removeItem(atPath: "\(dir)/\(socket)")
        }

        /// posix_spawn and waitpid: Foundation's Process missed the exit of tmux's client here
        /// (the client forks the server), so the test hung. Output goes through a file.
        @discardableResult
        func run(_ args: [String], capture: Bool = true) -> String {
            let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-out-\(getpid())").path
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, capture ? outPath : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            let argv = [EndToEndTests.tmuxPath!, "-L", socket] + args
            var cargs = argv.map { strdup($0) } + [nil]
            defer { for a in cargs { free(a) } }
            var pid: pid_t = 0
            guard posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ) == 0 else { return "" }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            guard capture else { return "" }
            return (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        }

        func keys(_ k: String...) { run(["send-keys", "-t", session] + k) }
        func text(_ s: String) { run(["send-keys", "-t", session, "-l", s]) }
        func screen() -> String { run(["capture-pane", "-p", "-t", session]) }
        func resize(_ w: Int, _ h: Int) { run(["resize-window", "-t", session, "-x", "\(w)", "-y", "\(h)"]) }

        /// Waits until the screen contains `needle`; fails with the screen when it does not.
        @discardableResult
        func wait(for needle: String, timeout: Double = 15, file: StaticString = #filePath, line: UInt = #line) -> String {
            let end = Date().addingTimeInterval(timeout)
            var s = ""
            while Date() < end {
                s = screen()
                if s.contains(needle) { return s }
                usleep(50_000)
            }
            XCTFail("screen never showed \"\(needle)\"; it shows:\n\(s)", file: file, line: line)
            return s
        }

        func timing() -> [String] {
            (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        }
    }

    /// Results of folder and dataset cases go here, not into the user's cache.
    static let findingsCache = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-findings-\(getpid())").path

    static let tmuxPath: String? = ["/usr/bin/tmux", "/usr/local/bin/tmux", "/opt/homebrew/bin/tmux"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The tumorboard built next to this test bundle (same build folder), or TUMORBOARD_BIN.
    static var binary: String? {
        if let b = ProcessInfo.processInfo.environment["TUMORBOARD_BIN"] { return b }
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [dir, dir.deletingLastPathComponent(), Bundle.main.bundleURL.deletingLastPathComponent()]
            .map { $0.appendingPathComponent("tumorboard").path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func prerequisites() throws -> String {
        guard EndToEndTests.tmuxPath != nil else { throw XCTSkip("tmux is not installed: end-to-end UI tests skipped (scripts/setup --test installs it)") }
        guard let bin = EndToEndTests.binary else { throw XCTSkip("the tumorboard executable is not built next to the tests: run swift build first, or set TUMORBOARD_BIN") }
        return bin
    }

    /// A shell line (which outlives a Ctrl-C: trap) that marks the screen, runs the program, then prints its exit status and the
    /// terminal modes that a crashed curses program leaves off (icanon, echo).
    func wrapped(_ bin: String, _ args: String, env: String = "", log: String) -> String {
        Self.wrapped(bin, args, env: env, log: log)
    }

    static func wrapped(_ bin: String, _ args: String, env: String = "", log: String) -> String {
        "sh -c 'trap true INT; echo BEFORE-TUMORBOARD; TUMORBOARD_FINDINGS_CACHE=\(EndToEndTests.findingsCache) \(env) TUMORBOARD_TIMING=\(log) \(bin) \(args); echo EXITED $?; "
            + "stty -a | tr \" ;\" \"\\n\\n\" | grep -E \"^-?(icanon|echo|isig)$\" | tr \"\\n\" \" \"; echo STTY-DONE; sleep 300'"
    }

    func assertRestored(_ s: String, status: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(s.contains("EXITED \(status)"), "exit status \(status); screen:\n\(s)", file: file, line: line)
        XCTAssertTrue(s.contains("icanon echo isig") || s.contains("isig icanon") || (s.contains("icanon") && !s.contains("-icanon") && !s.contains("-echo ")),
                      "terminal modes restored; screen:\n\(s)", file: file, line: line)
        XCTAssertTrue(s.contains("BEFORE-TUMORBOARD"), "the screen before the program is back (alternate screen left)", file: file, line: line)
    }

    func logTimings(_ t: Tmux, _ name: String) {
        for l in t.timing() { print("e2e \(name): \(l)") }
    }

    func testDatasetBrowsing() throws {
        let bin = try prerequisites()
        guard let data = Fixtures.sharedDataset else {
            throw XCTSkip("BTXRD not found (../shared/data/btxrd or TUMORBOARD_DATA): dataset end-to-end test skipped")
        }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-dataset.log").path
        let t = try Tmux(command: wrapped(bin, "open \(data)", log: log), width: 100, height: 32, timingLog: log)
        t.wait(for: "3164 cases · normal 1586 · benign 1210 · intermediate 78 · malignant 290")
        XCTAssertTrue(t.screen().contains("blocks"), "inside tmux the ladder falls to blocks")
        t.keys("j", "j")
        t.keys("/"); t.text("osteosarcoma"); t.keys("Enter")
        t.wait(for: "showing 253")
        t.keys("Down", "Enter")
        var s = t.wait(for: "full range · zoom 1.00x")
        XCTAssertTrue(s.contains("─ Diagnosis") && s.contains("osteosarcoma"))
        XCTAssertTrue(s.contains("▀"), "the radiograph in half blocks")
        t.keys("+"); t.wait(for: "zoom 1.25x")
        t.keys("3"); t.wait(for: "bone · zoom 1.25x")
        t.keys("w"); t.wait(for: "manual · zoom 1.25x")
        t.keys("Right"); t.keys("Tab"); t.wait(for: "─ Boxes")
        // Resize: everything redrawn at the new size, the status bar on the new last row.
        t.resize(130, 40)
        // Wait for the whole redraw (the old screen already shows "? help"; a loaded machine
        // takes longer than a fixed pause).
        func redrawn(_ screen: String) -> Bool {
            let l = screen.split(separator: "\n", omittingEmptySubsequences: false)
            return l.count >= 40 && l[39].hasPrefix(" blocks") && l[1].count == 130
        }
        let end = Date().addingTimeInterval(15)
        s = t.screen()
        while !redrawn(s) && Date() < end { usleep(50_000); s = t.screen() }
        let lines = s.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertTrue(lines.count >= 40, "40 rows after the resize")
        XCTAssertTrue(lines[39].hasPrefix(" blocks"), "status bar on row 40: \(lines[39])")
        XCTAssertTrue(lines[0].hasSuffix("? help"), "title bar spans 130 columns: \(lines[0])")
        XCTAssertEqual(lines[1].count, 130, "pane and side panel fill the new width")
        t.keys("?"); t.wait(for: "Case view")
        t.keys("x"); t.wait(for: "─ Diagnosis")
        t.keys("Escape"); t.wait(for: "showing 253")
        t.keys("q")
        assertRestored(t.wait(for: "STTY-DONE"), status: 0)
        logTimings(t, "dataset")
        let timing = t.timing()
        XCTAssertTrue(timing.contains { $0.contains("startup_ms=") })
        XCTAssertTrue(timing.contains { $0.contains("key=") && $0.contains("redraw_ms=") })
    }

    func testCaseFoldersAndSignals() throws {
        let bin = try prerequisites()
        let root = try Fixtures.caseFolders()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-cases.log").path
        var t: Tmux? = try Tmux(command: wrapped(bin, "open \(root.path)", env: "TUMORBOARD_GRAPHICS=ascii", log: log),
                                width: 90, height: 28, timingLog: log)
        t!.wait(for: "2 cases · benign 1 · malignant 1")
        t!.keys("Enter")
        let s = t!.wait(for: "zoom 1.00x")
        XCTAssertTrue(s.contains("ascii"), "the override picks ASCII")
        XCTAssertTrue(s.contains("+..."), "the reference box's dotted outline in ASCII")
        t!.keys("-"); t!.keys("i"); t!.wait(for: "inverted")
        // SIGTERM: the program restores the terminal and exits 143.
        let pid = t!.timing().first { $0.hasPrefix("pid=") }.flatMap { Int32($0.dropFirst(4).prefix { $0.isNumber }) }
        XCTAssertNotNil(pid)
        if let pid { kill(pid, SIGTERM) }
        assertRestored(t!.wait(for: "STTY-DONE"), status: 143)
        t = nil

        // A crash (a Swift trap) after the first frame: the terminal is restored all the same.
        t = try Tmux(command: wrapped(bin, "open \(root.path)", env: "TUMORBOARD_TEST_CRASH=1 SWIFT_BACKTRACE=enable=no", log: log), width: 90, height: 28, timingLog: log)
        let crashed = t!.wait(for: "STTY-DONE")
        XCTAssertFalse(crashed.contains("EXITED 0"), crashed)
        assertRestored(crashed, status: Int(crashed.components(separatedBy: "EXITED ").last?.prefix { $0.isNumber } ?? "") ?? -1)
        t = nil

        // Ctrl-C: the same, status 130.
        t = try Tmux(command: wrapped(bin, "open \(root.path)", log: log), width: 90, height: 28, timingLog: log)
        t!.wait(for: "2 cases")
        t!.keys("C-c")
        assertRestored(t!.wait(for: "STTY-DONE"), status: 130)
    }

    func testSamples() throws {
        let bin = try prerequisites()
        let samples = Fixtures.repositoryRoot.appendingPathComponent("samples")
        let folders = ((try? FileManager.default.contentsOfDirectory(atPath: samples.path)) ?? [])
            .filter { FileManager.default.fileExists(atPath: samples.appendingPathComponent("\($0)/case.json").path) }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-samples.log").path
        // The samples open through a case store: a fresh one, so the count is the samples'.
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + suffix) } }
        let t = try Tmux(command: wrapped(bin, "", env: "TUMORBOARD_SAMPLES=\(samples.path) TUMORBOARD_STORE=\(store)", log: log), width: 100, height: 30, timingLog: log)
        if folders.isEmpty {
            // No samples yet: the program says where to put cases and exits 2.
            let s = t.wait(for: "STTY-DONE")
            XCTAssertTrue(s.contains("no cases in \(samples.path)"), s)
            XCTAssertTrue(s.contains("EXITED 2"))
            throw XCTSkip("samples/ holds no case folders yet: checked the 'where to put cases' message only")
        }
        t.wait(for: "\(folders.count) cases")
        t.keys("Enter"); t.wait(for: "zoom 1.00x")
        t.keys("+"); t.wait(for: "zoom 1.25x")
        t.keys("Escape", "q")
        assertRestored(t.wait(for: "STTY-DONE"), status: 0)
    }

    /// What `tumorboard predict` says of a sample: the predicted class and its percentage as the
    /// case view prints it ("▶ MALIGNANT 99.4%"), computed by another process.
    func predicted(_ bin: String, sample: URL) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["predict", "--case", sample.path, "--json"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cls = try XCTUnwrap(json["predicted"] as? String)
        let probs = try XCTUnwrap(json["probabilities"] as? [String: Double])
        return "▶ \(cls.uppercased()) \(String(format: "%.1f%%", 100 * (probs[cls] ?? -1)))"
    }

    /// The diagnosis on screen: probabilities and contributions for SAMPLE-03, a burst of n faster
    /// than inference ending on a case whose shown answer is what `predict` says of it, the
    /// heatmap toggled, a resize to 80x24, q.
    func testDiagnosisOnScreen() throws {
        let bin = try prerequisites()
        let samples = Fixtures.repositoryRoot.appendingPathComponent("samples")
        guard FileManager.default.fileExists(atPath: samples.appendingPathComponent("SAMPLE-03-OSTEOSARCOMA/case.json").path) else {
            throw XCTSkip("samples/SAMPLE-03-OSTEOSARCOMA is missing")
        }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-diagnosis.log").path
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("tb-e2e-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + suffix) } }
        let t = try Tmux(command: wrapped(bin, "open --case SAMPLE-03-OSTEOSARCOMA",
                                          env: "TUMORBOARD_SAMPLES=\(samples.path) TUMORBOARD_STORE=\(store)", log: log),
                         width: 110, height: 34, timingLog: log)
        // The first load may hash the weights (a debug build, no digest cache): allow for it.
        // The sum line is the contributions' last row: once it is on screen, the rows above are too
        // (capture-pane can catch a frame that ncurses is still writing).
        var s = t.wait(for: "p(all) − p(none)", timeout: 120)
        XCTAssertTrue(s.contains("SAMPLE-03-OSTEOSARCOMA"))
        for cls in ["benign", "intermediate", "malignant"] {
            let line = s.split(separator: "\n").first { $0.contains("│  \(cls) ") || $0.contains("│ ▶\(cls) ") }
            XCTAssertNotNil(line.flatMap { $0.range(of: #"\d+\.\d%.*\d+\.\d%"#, options: .regularExpression) }, "\(cls) with fused and image-only percentages:\n\(s)")
        }
        for modality in ["image", "pathology", "text"] {
            let line = s.split(separator: "\n").first { $0.contains("│ \(modality) ") }
            XCTAssertNotNil(line.flatMap { $0.range(of: #"[+-]0\.\d{3}"#, options: .regularExpression) }, "\(modality) contribution:\n\(s)")
        }
        XCTAssertTrue(s.contains(try predicted(bin, sample: samples.appendingPathComponent("SAMPLE-03-OSTEOSARCOMA"))), "the screen agrees with predict:\n\(s)")

        // n three times in one burst: faster than inference. The answer shown must be the shown case's.
        t.keys("n", "n", "n")
        s = t.wait(for: "SAMPLE-06")
        let deadline = Date().addingTimeInterval(60)
        while !(s.contains("SAMPLE-06") && s.contains("p(all) − p(none)")) && Date() < deadline { usleep(100_000); s = t.screen() }
        XCTAssertTrue(s.contains("SAMPLE-06") && s.contains("Contributions to p("), s)
        XCTAssertTrue(s.contains(try predicted(bin, sample: samples.appendingPathComponent("SAMPLE-06-MALIGNANT-NO-LABS"))),
                      "the answer on screen is SAMPLE-06's own:\n\(s)")
        // No labs, but its age, sex and site make a clinical text: the text modality is present.
        XCTAssertNotNil(s.split(separator: "\n").first { $0.contains("│ text ") }.flatMap { $0.range(of: #"[+-]0\.\d{3}"#, options: .regularExpression) },
                        "SAMPLE-06's clinical text (age, sex, site) has a contribution:\n\(s)")

        // Heatmap off and on.
        XCTAssertTrue(s.contains("· heatmap"))
        t.keys("m")
        let deadline2 = Date().addingTimeInterval(10)
        while t.screen().contains("· heatmap") && Date() < deadline2 { usleep(50_000) }
        XCTAssertFalse(t.screen().contains("· heatmap"), "m turns the heatmap off")
        t.keys("m"); t.wait(for: "· heatmap")

        // 80x24: the answer still fits, the status bar on the last row.
        t.resize(80, 24)
        usleep(500_000)
        s = t.wait(for: "Contributions to p(")
        let lines = s.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertTrue(lines.count >= 24 && lines[23].hasPrefix(" blocks"), "status bar on row 24: \(lines.count > 23 ? String(lines[23]) : "")")
        t.keys("q")
        assertRestored(t.wait(for: "STTY-DONE"), status: 0)
        logTimings(t, "diagnosis")
        XCTAssertTrue(t.timing().contains { $0.contains("open_to_probabilities_ms=") })
    }
}
