import Dispatch
import Foundation

/// The bottom line: model loading and "run all" progress, the last message, the image mode.
enum StatusBar {
    static func draw(_ b: Browser, into s: inout Screen) {
        let y = s.height - 1, t = b.theme
        s.fill(CellRect(x: 0, y: y, width: s.width, height: 1), style: t[.status])
        let g = b.graphics
        var x = s.put(" \(g.mode) · theme \(t.name)", x: 0, y: y, style: t[.status])
        var work: [String] = []
        switch b.models {
        case .loading(let done, let total, let part): work.append("loading models \(done)/\(total) (\(part))")
        case .failed: work.append("models not loaded")
        case .ready: break
        }
        if let bt = b.batch, !bt.finished {
            let (rate, left) = bt.rate(nowNs: DispatchTime.now().uptimeNanoseconds)
            let eta = left.map { $0 >= 60 ? String(format: "%.0f min left", $0 / 60) : String(format: "%.0f s left", $0) } ?? "…"
            work.append(String(format: "run all %d/%d · %.1f cases/s · %@ · R cancels", bt.done, bt.total, rate, eta))
        }
        if !work.isEmpty { x += s.put(" │ " + work.joined(separator: " · "), x: x, y: y, style: t[.status], maxWidth: s.width - x) }
        if let m = b.message {
            x += s.put("  ", x: x, y: y, style: t[.status])
            s.put(" \(m.text) ", x: x, y: y, style: m.error ? t[.error] : t[.status], maxWidth: s.width - x)
        } else {
            s.put("  (\(g.cellSize)px cells, \(g.reason))", x: x, y: y, style: t[.status], maxWidth: s.width - x)
        }
    }
}
