import Foundation

/// Bytes a frame costs on the wire and the time to compute it, per image mode and window size,
/// measured without a terminal: the browser draws the case view and `Terminal` renders it with
/// ncurses into a file (TERM=xterm-256color), whose growth is the frame's size on the wire.
public enum FrameBudget {
    public struct Row: Sendable {
        public var mode: GraphicsMode
        public var columns: Int, rows: Int
        public var paneCells: CellRect
        public var panePixels: (Int, Int)
        /// The image's own escape sequence (sixel, kitty); 0 for text modes.
        public var imageBytes: Int
        /// Everything sent for the first full frame of the case view.
        public var firstFrameBytes: Int
        /// Everything sent for the frame after a zoom step (image redrawn, text mostly unchanged).
        public var zoomFrameBytes: Int
        /// Median time to rasterize and encode the pane (the draw), milliseconds.
        public var drawMs: Double
    }

    public static func measure(source: any CaseSource, caseID: String, sizes: [(Int, Int)], cell: CellSize,
                               modes: [GraphicsMode] = GraphicsMode.allCases, repeats: Int = 5) throws -> [Row] {
        var rows: [Row] = []
        for mode in modes {
            for (w, h) in sizes {
                let choice = GraphicsChoice(mode: mode, reason: "measure", cellSize: cell)
                let b = Browser(source: source, graphics: choice)
                b.open(id: caseID)
                b.loadPendingSynchronously()
                guard b.caseView?.loaded != nil else { throw CaseSourceError("\(caseID): \(b.caseView?.error ?? "no image")") }
                let first = b.draw(width: w, height: h)
                b.handle(.char("+"))
                let zoomed = b.draw(width: w, height: h)
                let sizes = try wireBytes([first, zoomed], width: w, height: h)
                var times: [Double] = []
                for k in 0..<repeats {
                    b.handle(.char(k % 2 == 0 ? "-" : "+"))
                    _ = b.draw(width: w, height: h)
                    times.append(b.lastFrame?.milliseconds ?? 0)
                }
                times.sort()
                let f = b.lastFrame
                rows.append(Row(mode: mode, columns: w, rows: h, paneCells: f?.cells ?? CellRect(x: 0, y: 0, width: 0, height: 0),
                                panePixels: (f?.pixelWidth ?? 0, f?.pixelHeight ?? 0),
                                imageBytes: first.graphics.first?.bytes.count ?? 0,
                                firstFrameBytes: sizes[0], zoomFrameBytes: sizes[1], drawMs: times[times.count / 2]))
            }
        }
        return rows
    }

    /// Renders the frames one after another with ncurses into a file; the bytes each added.
    static func wireBytes(_ frames: [Screen], width: Int, height: Int) throws -> [Int] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tb-frames-\(getpid())").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = open(path, O_WRONLY), inp = open("/dev/null", O_RDONLY)
        defer { close(out); close(inp) }
        setenv("LINES", "\(height)", 1); setenv("COLUMNS", "\(width)", 1)
        defer { unsetenv("LINES"); unsetenv("COLUMNS") }
        let t = try Terminal(termType: "xterm-256color", output: out, input: inp)
        defer { t.stop() }
        var sizes: [Int] = [], last = 0
        for f in frames {
            t.render(f)
            var st = stat()
            fstat(out, &st)
            sizes.append(Int(st.st_size) - last)
            last = Int(st.st_size)
        }
        return sizes
    }

    public static func table(_ rows: [Row], cell: CellSize) -> String {
        var s = "| mode | window (cells) | pane (cells) | pane (pixels) | image bytes | first frame bytes | zoom frame bytes | draw ms |\n"
        s += "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |\n"
        for r in rows {
            s += "| \(r.mode) | \(r.columns)x\(r.rows) | \(r.paneCells.width)x\(r.paneCells.height) | \(r.panePixels.0)x\(r.panePixels.1) | "
            s += "\(r.imageBytes) | \(r.firstFrameBytes) | \(r.zoomFrameBytes) | \(String(format: "%.1f", r.drawMs)) |\n"
        }
        return s
    }
}
