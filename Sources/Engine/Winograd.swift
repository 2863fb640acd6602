import Foundation

/// Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1 and no dilation (Lavin & Gray 2016):
/// each 2x2 output tile costs 16 multiplications per input channel instead of 36, done as 16
/// GEMMs [Cout x Cin] x [Cin x tiles]. The transforms use only additions and halvings, so the
/// result stays within float32 rounding of the direct convolution.
struct Winograd2x3: Sendable {
    /// U_k = (G g G^T)[k] for k in 0..<16, laid out [16][Cout][Cin].
    let u: TensorStorage
    let cout: Int, cin: Int

    init(weight: Tensor) {
        cout = weight.shape[0]; cin = weight.shape[1]
        u = TensorStorage(count: 16 * cout * cin, zeroed: false)
        let plane = cout * cin
        for o in 0..<cout {
            for c in 0..<cin {
                let g = weight.pointer + (o * cin + c) * 9
                // Gg: 4x3, rows g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2 (g as rows of 3).
                var gg = [Float](repeating: 0, count: 12)
                for j in 0..<3 {
                    let a = g[j], b = g[3 + j], d = g[6 + j]
                    gg[j] = a; gg[3 + j] = (a + b + d) * 0.5; gg[6 + j] = (a - b + d) * 0.5; gg[9 + j] = d
                }
                for r in 0..<4 {
                    let a = gg[r * 3], b = gg[r * 3 + 1], d = gg[r * 3 + 2]
                    let row = [a, (a + b + d) * 0.5, (a - b + d) * 0.5, d]
                    for s in 0..<4 { u.pointer[(r * 4 + s) * plane + o * cin + c] = row[s] }
                }
            }
        }
    }

    /// y[n] = conv(x[n]) for one image: x [cin, h, w] -> y [cout, oh, ow] (oh = h + 2p - 2).
    func run(x: UnsafeMutablePointer<Float>, h: Int, w: Int, padding: (Int, Int),
             y: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>?, activation: Activation) {
        let (ph, pw) = padding
        let oh = h + 2 * ph - 2, ow = w + 2 * pw - 2
        let th = (oh + 1) / 2, tw = (ow + 1) / 2, tiles = th * tw
        // Work buffers: a pass's sizes repeat, so TensorBufferPool hands the same pages back.
        let v = TensorStorage(count: 16 * cin * tiles, zeroed: false)
        let m = TensorStorage(count: 16 * cout * tiles, zeroed: false)
        defer { withExtendedLifetime((v, m)) {} }   // read below only through raw pointers
        let vp = v.pointer, mp = m.pointer
        let cinT = cin * tiles, coutT = cout * tiles

        // Input transform V = B^T d B for every 4x4 input tile (stride 2), per channel.
        EngineThreads.parallelFor(cin, minWorkPerChunk: tiles * 32) { c in
            let plane = x + c * h * w
            var d = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0),
                     Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
            for ty in 0..<th {
                let iy0 = 2 * ty - ph
                for tx in 0..<tw {
                    let ix0 = 2 * tx - pw
                    withUnsafeMutableBytes(of: &d) { raw in
                        let dp = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                        if iy0 >= 0 && iy0 + 4 <= h && ix0 >= 0 && ix0 + 4 <= w {
                            for i in 0..<4 {
                                let src = plane + (iy0 + i) * w + ix0
                                dp[i * 4] = src[0]; dp[i * 4 + 1] = src[1]; dp[i * 4 + 2] = src[2]; dp[i * 4 + 3] = src[3]
                            }
                        } else {
                            for i in 0..<4 {
                                let iy = iy0 + i
                                for j in 0..<4 {
                                    let ix = ix0 + j
                                    dp[i * 4 + j] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? plane[iy * w + ix] : 0
                                }
                            }
                        }
                        // t = B^T d (rows), then V = t B (columns).
                        let t0 = (dp[0] - dp[8], dp[1] - dp[9], dp[2] - dp[10], dp[3] - dp[11])
                        let t1 = (dp[4] + dp[8], dp[5] + dp[9], dp[6] + dp[10], dp[7] + dp[11])
                        let t2 = (dp[8] - dp[4], dp[9] - dp[5], dp[10] - dp[6], dp[11] - dp[7])
                        let t3 = (dp[4] - dp[12], dp[5] - dp[13], dp[6] - dp[14], dp[7] - dp[15])
                        let tile = ty * tw + tx
                        let base = vp + c * tiles + tile
                        @inline(__always) func store(_ r: Int, _ q: (Float, Float, Float, Float)) {
                            base[(r * 4 + 0) * cinT] = q.0 - q.2
                            base[(r * 4 + 1) * cinT] = q.1 + q.2
                            base[(r * 4 + 2) * cinT] = q.2 - q.1
                            base[(r * 4 + 3) * cinT] = q.1 - q.3
                        }
                        store(0, t0); store(1, t1); store(2, t2); store(3, t3)
                    }
                }
            }
        }

        // 16 GEMMs: M_k [cout x tiles] = U_k [cout x cin] * V_k [cin x tiles].
        for k in 0..<16 {
            GEMM.sgemm(m: cout, n: tiles, k: cin, a: u.pointer + k * cout * cin, lda: cin,
                       b: vp + k * cinT, ldb: tiles, c: mp + k * coutT, ldc: tiles, countFlops: false)
        }

        // Output transform Y = A^T M A, then bias and activation, per output channel.
        EngineThreads.parallelFor(cout, minWorkPerChunk: tiles * 32) { o in
            let out = y + o * oh * ow
            let src = mp + o * tiles
            for ty in 0..<th {
                for tx in 0..<tw {
                    let tile = ty * tw + tx
                    @inline(__always) func mk(_ k: Int) -> Float { src[k * coutT + tile] }
                    // s = A^T m: rows s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 (over the 4 rows of 4).
                    let s00 = mk(0) + mk(4) + mk(8), s01 = mk(1) + mk(5) + mk(9)
                    let s02 = mk(2) + mk(6) + mk(10), s03 = mk(3) + mk(7) + mk(11)
                    let s10 = mk(4) - mk(8) - mk(12), s11 = mk(5) - mk(9) - mk(13)
                    let s12 = mk(6) - mk(10) - mk(14), s13 = mk(7) - mk(11) - mk(15)
                    let oy = 2 * ty, ox = 2 * tx
                    out[oy * ow + ox] = s00 + s01 + s02
                    if ox + 1 < ow { out[oy * ow + ox + 1] = s01 - s02 - s03 }
                    if oy + 1 < oh {
                        out[(oy + 1) * ow + ox] = s10 + s11 + s12
                        if ox + 1 < ow { out[(oy + 1) * ow + ox + 1] = s11 - s12 - s13 }
                    }
                }
            }
            if bias != nil || activation != .none {
                applyActivation(activation, out, oh * ow, bias: bias?[o] ?? 0)
            }
        }
    }
}
