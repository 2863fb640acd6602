import Foundation
import Imaging
import XCTest
@testable import Workstation

/// Sixel and kitty rungs, and the negotiation that picks a rung.
final class GraphicsTests: XCTestCase {
    func paneRaster(_ w: Int, _ h: Int) throws -> PaneRaster {
        let img = try Fixtures.gradient()
        let box = LabelledBox(rect: PixelRect(x0: 10, y0: 10, x1: 30, y1: 30), label: "1 benign", role: .benign)
        return try PaneRasterizer.rasterize(img, boxes: [box], view: ImageViewState(window: .spanning(minimum: 0, maximum: 255)),
                                            width: w, height: h, theme: .dark, drawBoxes: true, thickness: 2, labelScale: 2)
    }

    func testSixelDecodesBackToThePaneSize() throws {
        for (w, h) in [(40, 30), (333, 201), (600, 480)] {
            let bytes = try SixelEncoder.encode(try paneRaster(w, h))
            XCTAssertEqual(Array(bytes.prefix(2)), [0x1B, 0x50], "starts with DCS")
            XCTAssertEqual(Array(bytes.suffix(2)), [0x1B, 0x5C], "ends with ST")
            let attrs = try XCTUnwrap(SixelEncoder.rasterAttributes(bytes))
            XCTAssertEqual(attrs.width, w); XCTAssertEqual(attrs.height, h)
            let decoded = try XCTUnwrap(SixelEncoder.decode(bytes), "libsixel decodes it")
            XCTAssertEqual(decoded.width, w)
            XCTAssertEqual(decoded.height, h)
            XCTAssertLessThanOrEqual(decoded.colours, SixelEncoder.defaultColours)
        }
    }

    func testKittyChunksAndPNGSize() throws {
        let bytes = try KittyEncoder.encode(try paneRaster(300, 200), columns: 30, rows: 10)
        let s = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(s.hasPrefix(KittyEncoder.deleteAll))
        let chunks = s.dropFirst(KittyEncoder.deleteAll.count).components(separatedBy: "\u{1B}\\").filter { !$0.isEmpty }
        XCTAssertTrue(chunks[0].hasPrefix("\u{1B}_Ga=T,f=100,i=\(KittyEncoder.imageID),c=30,r=10,"))
        var payload = ""
        for (i, c) in chunks.enumerated() {
            let parts = c.split(separator: ";", maxSplits: 1)
            XCTAssertTrue(parts[0].contains("m=\(i == chunks.count - 1 ? 0 : 1)"))
            XCTAssertLessThanOrEqual(parts[1].count, 4096)
            payload += parts[1]
        }
        let png = try XCTUnwrap(Data(base64Encoded: payload))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        // IHDR width and height, big-endian at bytes 16 and 20.
        let be = { (o: Int) in png[o..<o + 4].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(be(16), 300); XCTAssertEqual(be(20), 200)
    }

    func testParsesTerminalReplies() {
        let xterm = "\u{1B}P>|XTerm(379)\u{1B}\\\u{1B}[6;13;6t\u{1B}[?63;1;2;4;6;9;15;22c"
        let r = ProbeReplies.parse(Array(xterm.utf8))
        XCTAssertEqual(r.terminalName, "XTerm(379)")
        XCTAssertEqual(r.cellSize, CellSize(width: 6, height: 13))
        XCTAssertEqual(r.deviceAttributes, [1, 2, 4, 6, 9, 15, 22])
        XCTAssertTrue(r.sixel)
        XCTAssertFalse(r.kittyGraphics)
        let kitty = ProbeReplies.parse(Array("\u{1B}_Gi=31;OK\u{1B}\\\u{1B}P>|kitty(0.26.5)\u{1B}\\\u{1B}[?62;c".utf8))
        XCTAssertTrue(kitty.kittyGraphics)
        XCTAssertFalse(kitty.sixel)
        XCTAssertEqual(ProbeReplies.parse([]), ProbeReplies())
        // A plain VT100-class answer: no sixel.
        XCTAssertFalse(ProbeReplies.parse(Array("\u{1B}[?1;2c".utf8)).sixel)
    }

    func testDecisionLadder() {
        var sixel = ProbeReplies(); sixel.deviceAttributes = [4]
        var kitty = ProbeReplies(); kitty.kittyGraphics = true; kitty.deviceAttributes = [4]
        let silent = ProbeReplies()
        let env = ["TERM": "xterm-256color"]
        XCTAssertEqual(TerminalProbe.decide(environment: env, replies: kitty, colours: 256).mode, .kitty)
        XCTAssertEqual(TerminalProbe.decide(environment: env, replies: sixel, colours: 256).mode, .sixel)
        XCTAssertEqual(TerminalProbe.decide(environment: env, replies: silent, colours: 256).mode, .blocks)
        XCTAssertEqual(TerminalProbe.decide(environment: env, replies: silent, colours: 8).mode, .ascii)
        XCTAssertEqual(TerminalProbe.decide(environment: env, replies: nil, colours: 256).mode, .blocks)
        // tmux / screen: blocks even when the outer terminal said sixel, unless overridden.
        XCTAssertEqual(TerminalProbe.decide(environment: ["TMUX": "/tmp/x,1,0", "TERM": "tmux-256color"], replies: sixel, colours: 256).mode, .blocks)
        XCTAssertEqual(TerminalProbe.decide(environment: ["TERM": "screen"], replies: sixel, colours: 8).mode, .ascii)
        XCTAssertEqual(TerminalProbe.decide(environment: ["TMUX": "x", "TUMORBOARD_GRAPHICS": "sixel"], replies: nil, colours: 256).mode, .sixel)
        XCTAssertEqual(TerminalProbe.decide(environment: ["TUMORBOARD_GRAPHICS": "ASCII"], replies: kitty, colours: 256).mode, .ascii)
        let bad = TerminalProbe.decide(environment: ["TUMORBOARD_GRAPHICS": "png"], replies: sixel, colours: 256)
        XCTAssertEqual(bad.mode, .sixel)
        XCTAssertTrue(bad.warning?.contains("not one of sixel, kitty, blocks, ascii") ?? false)
        // Cell size: the CSI 16 t reply, else the window's pixels, else assumed.
        var cs = sixel; cs.cellSize = CellSize(width: 7, height: 14)
        XCTAssertEqual(TerminalProbe.decide(environment: env, replies: cs, colours: 256, windowCellSize: CellSize(width: 9, height: 18)).cellSize, CellSize(width: 7, height: 14))
        XCTAssertEqual(TerminalProbe.decide(environment: env, replies: sixel, colours: 256, windowCellSize: CellSize(width: 9, height: 18)).cellSize, CellSize(width: 9, height: 18))
        XCTAssertEqual(TerminalProbe.decide(environment: env, replies: sixel, colours: 256).cellSize, .assumed)
    }

    func testSilentTerminalTimesOut() throws {
        // A pseudo-terminal nobody answers: the probe returns within its timeout.
        guard let (master, slave) = openPTY() else { throw XCTSkip("no pseudo-terminals here") }
        defer { close(master); close(slave) }
        let t0 = Date()
        let r = TerminalProbe.query(input: slave, output: slave, timeoutMs: 150)
        let elapsed = Date().timeIntervalSince(t0)
        XCTAssertNotNil(r)
        XCTAssertNil(r?.deviceAttributes)
        XCTAssertLessThan(elapsed, 1.0)
        XCTAssertGreaterThanOrEqual(elapsed, 0.14)
    }

    func testAnsweringTerminalEndsTheWaitEarly() throws {
        guard let (master, slave) = openPTY() else { throw XCTSkip("no pseudo-terminals here") }
        defer { close(master); close(slave) }
        let reply = Array("\u{1B}[6;20;10t\u{1B}[?62;4c".utf8)
        let m = master
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { _ = reply.withUnsafeBufferPointer { write(m, $0.baseAddress, $0.count) } }
        let t0 = Date()
        let r = TerminalProbe.query(input: slave, output: slave, timeoutMs: 2000)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1.0)
        XCTAssertEqual(r?.sixel, true)
        XCTAssertEqual(r?.cellSize, CellSize(width: 10, height: 20))
    }

    func openPTY() -> (Int32, Int32)? { openPseudoTerminal() }
}
