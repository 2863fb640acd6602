import Foundation
import XCTest
@testable import Workstation

/// ncurses rendering the screen model into a file (newterm on any file descriptor): what
/// reaches the terminal, and how many bytes a frame costs.
final class TerminalTests: XCTestCase {
    /// Renders `frames` with a Terminal writing to a temporary file; returns the bytes of each frame.
    func renderToFile(_ frames: [Screen], width: Int, height: Int) throws -> [[UInt8]] {
        let path = Fixtures.tempFolder("term").appendingPathComponent("out").path
        FileManager.default.createFile(atPath: path, contents: nil)
        let out = open(path, O_WRONLY)
        let inp = open("/dev/null", O_RDONLY)
        defer { close(out); close(inp) }
        setenv("LINES", "\(height)", 1); setenv("COLUMNS", "\(width)", 1)
        defer { unsetenv("LINES"); unsetenv("COLUMNS") }
        let t = try Terminal(termType: "xterm-256color", output: out, input: inp)
        var sizes: [Int] = []
        var last = 0
        for f in frames {
            t.render(f)
            let now = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            sizes.append(now - last); last = now
        }
        t.stop()
        let all = Array(FileManager.default.contents(atPath: path) ?? Data())
        var chunks: [[UInt8]] = []
        var off = 0
        for n in sizes { chunks.append(Array(all[off..<off + n])); off += n }
        chunks.append(Array(all[off...]))  // teardown
        return chunks
    }

    func testRendersTheModelAndRestoresOnStop() throws {
        let b = Browser(source: try RecordSource.dataset(at: try Fixtures.dataset().path), graphics: Fixtures.blocks)
        let list = b.draw(width: 80, height: 24)
        b.handle(.down)
        let moved = b.draw(width: 80, height: 24)
        let chunks = try renderToFile([list, moved], width: 80, height: 24)
        let first = String(decoding: chunks[0], as: UTF8.self)
        XCTAssertTrue(first.contains("IMG000001"))
        XCTAssertTrue(first.contains("\u{1B}[?2026h") && first.contains("\u{1B}[?2026l"), "synchronized output")
        XCTAssertTrue(first.contains("\u{1B}[?1049h"), "alternate screen")
        // Moving the selection sends only the two changed rows, not the screen.
        XCTAssertLessThan(chunks[1].count, chunks[0].count / 3)
        let teardown = String(decoding: chunks[2], as: UTF8.self)
        XCTAssertTrue(teardown.contains("\u{1B}[?1049l"), "leaves the alternate screen")
        XCTAssertTrue(teardown.contains("\u{1B}[?25h"), "cursor visible again")
    }

    func testSixelLayerIsSentOnceAndAfterAResize() throws {
        let b = Browser(source: try RecordSource.dataset(at: try Fixtures.dataset().path), graphics: Fixtures.sixel)
        b.handle(.enter); b.loadPendingSynchronously()
        let a = b.draw(width: 80, height: 24)
        let layer = try XCTUnwrap(a.graphics.first)
        let chunks = try renderToFile([a, a], width: 80, height: 24)
        XCTAssertGreaterThan(chunks[0].count, layer.bytes.count)
        XCTAssertLessThan(chunks[1].count, 200, "an unchanged image is not sent again")
    }
}
