import Engine
import Foundation

/// The attention-gated fusion head (training/fusion.py, docs/method.md section 6):
///
///     h_i   = GELU(LayerNorm_i(W_i f_i + b_i))               proj.<i>.linear, proj.<i>.norm
///     s_i   = v . tanh(U h_i + c) + d                         attn.hidden, attn.score
///     a     = softmax(s, absent modalities at -1e9) * mask    absent ones weigh exactly 0
///     z     = sum_i a_i h_i
///     logit = W_o LayerNorm(z) + b_o                          head.norm, head.linear
///
/// Modality order: image, pathology, labs. Works on one case (vectors), since the workstation
/// diagnoses one case at a time.
///
/// How the present modalities are combined (`Combine`, issue 15, docs/method.md section 12):
/// `.attention` is the pass above with all of them; `.product` (the shipped rule since then, a
/// file with an `expert_temperature` tensor and `"combine": "product"` in its config) runs the
/// pass once per present modality alone and sums their calibrated log-probabilities,
///
///     logit = sum_i m_i log_softmax(pass(only i) / t_i)         t = expert_temperature
///
/// so each modality adds its own evidence; with nothing present every logit is 0.
public struct FusionHead: Sendable {
    public static let modalities = ["image", "pathology", "labs"]

    public enum Combine: Sendable, Equatable {
        case attention
        /// Per-modality temperatures, in modality order.
        case product(expertTemperatures: [Float])
    }

    struct Projection: Sendable {
        let linear: Linear
        let gamma: Tensor, beta: Tensor
    }

    let projections: [Projection]
    let attnHidden: Linear, attnScore: Linear
    let headGamma: Tensor, headBeta: Tensor
    let headLinear: Linear
    public let temperature: Float
    public let combine: Combine
    let eps: Float = 1e-5   // torch.nn.LayerNorm's default, as trained

    public var inputWidths: [Int] { projections.map { $0.linear.inFeatures } }
    public var classes: Int { headLinear.outFeatures }

    public init(_ w: Weights) throws {
        projections = try (0..<3).map { i in
            let p = w.scoped("proj.\(i)")
            return try Projection(linear: p.linear("linear"), gamma: p("norm.weight"), beta: p("norm.bias"))
        }
        attnHidden = try w.linear("attn.hidden")
        attnScore = try w.linear("attn.score")
        headGamma = try w("head.norm.weight"); headBeta = try w("head.norm.bias")
        headLinear = try w.linear("head.linear")
        temperature = try w.optional("temperature")?.item ?? 1
        combine = try Self.combineRule(w, modalities: projections.count)
        // Every width the passes combine must agree, or a pass would index past a vector.
        let d = headGamma.count
        let widths = projections.map { [$0.linear.outFeatures, $0.gamma.count, $0.beta.count] }.joined()
            + [attnHidden.inFeatures, attnScore.inFeatures == attnHidden.outFeatures ? d : -1, attnScore.outFeatures == 1 ? d : -1,
               headBeta.count, headLinear.inFeatures]
        guard d > 0, widths.allSatisfy({ $0 == d }), headLinear.outFeatures > 0 else {
            throw EngineError.weights(file: w.fileName, tensor: nil,
                                      problem: "fusion head widths disagree (projections, attention and head must all be \(d) wide, the score 1)")
        }
    }

    /// The rule from the file: the `expert_temperature` tensor means a product; the config's
    /// `combine`, where the file has a config, must agree.
    static func combineRule(_ w: Weights, modalities: Int) throws -> Combine {
        var named: String?
        if let json = w.metadata["config"] {
            guard let data = json.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw EngineError.weights(file: w.fileName, tensor: nil, problem: "the config in the metadata is not a JSON object")
            }
            if let c = object["combine"] {
                guard let c = c as? String, c == "attention" || c == "product" else {
                    throw EngineError.weights(file: w.fileName, tensor: nil,
                                              problem: "fusion combine rule \(c) is not one this program knows (attention, product)")
                }
                named = c
            }
        }
        guard let t = try w.optional("expert_temperature") else {
            if named == "product" {
                throw EngineError.weights(file: w.fileName, tensor: "expert_temperature", problem: "the config says combine: product but the tensor is missing")
            }
            return .attention
        }
        if named == "attention" {
            throw EngineError.weights(file: w.fileName, tensor: "expert_temperature", problem: "present, but the config says combine: attention")
        }
        guard t.count == modalities, t.scalars.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw EngineError.weights(file: w.fileName, tensor: "expert_temperature",
                                      problem: "needs \(modalities) positive values, one per modality, got \(t.scalars)")
        }
        return .product(expertTemperatures: t.scalars)
    }

    /// What one fusion pass computed.
    public struct Output: Sendable {
        /// The combined logits (`combine`).
        public let logits: [Float]
        /// Softmax of logits / temperature.
        public let probabilities: [Float]
        /// Attention weight of each modality (0 where absent); nil under `.product`, whose answer
        /// no attention weight decides (the findings then leave it out).
        public let attention: [Float]?
        let h: [[Float]]        // projected modality vectors of an attention pass (empty under .product)
        let z: [Float]
        let present: [Bool]
        /// Under `.product`: each present modality's pass alone (nil where absent).
        let alone: [Output?]
    }

    /// One pass. `features[i]` may be nil where the modality is absent (its mask is then 0).
    public func callAsFunction(_ features: [Tensor?], present: [Bool]? = nil) throws -> Output {
        guard features.count == 3 else {
            throw EngineError.argument(op: "fusion", detail: "needs 3 modality slots (image, pathology, labs), got \(features.count)")
        }
        let mask = present ?? features.map { $0 != nil }
        guard case .product(let t) = combine else { return try joint(features, mask: mask) }
        var logits = [Float](repeating: 0, count: classes)
        var alone: [Output?] = [nil, nil, nil]
        for i in 0..<3 where mask[i] {
            let pass = try self.joint(features, mask: (0..<3).map { $0 == i })
            alone[i] = pass
            let l = Self.logSoftmax(pass.logits.map { $0 / t[i] })
            for c in 0..<classes { logits[c] += l[c] }
        }
        return Output(logits: logits, probabilities: Self.softmax(logits, temperature: temperature),
                      attention: nil, h: [], z: [], present: mask, alone: alone)
    }

    static func logSoftmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        let lse = m + log(x.reduce(0) { $0 + exp($1 - m) })
        return x.map { $0 - lse }
    }

    /// The attention-pooled pass over the modalities in `mask`.
    func joint(_ features: [Tensor?], mask: [Bool]) throws -> Output {
        var h: [[Float]] = []
        var scores: [Float] = []
        for (i, f) in features.enumerated() {
            let d = projections[i].linear.outFeatures
            guard mask[i], let f else { h.append([Float](repeating: 0, count: d)); scores.append(-1e9); continue }
            guard f.count == projections[i].linear.inFeatures else {
                throw EngineError.shape(op: "fusion", detail: "\(Self.modalities[i]) feature has \(f.count) values, the head expects \(projections[i].linear.inFeatures)")
            }
            let u = try projections[i].linear(f.reshaped([1, f.count]))
            let n = try Ops.layerNorm(u, gamma: projections[i].gamma, beta: projections[i].beta, eps: eps)
            let hi = Ops.gelu(n).scalars
            h.append(hi)
            let t = try attnHidden(Tensor(shape: [1, d], values: hi))
            scores.append(try attnScore(t.tanhApplied()).item)
        }
        // Masked softmax; with nothing present every weight is 0.
        var a = [Float](repeating: 0, count: 3)
        if mask.contains(true) {
            let m = zip(scores, mask).filter { $0.1 }.map { $0.0 }.max()!
            var sum: Float = 0
            for i in 0..<3 where mask[i] { a[i] = exp(scores[i] - m); sum += a[i] }
            for i in 0..<3 { a[i] = mask[i] ? a[i] / sum : 0 }
        }
        let d = h[0].count
        var z = [Float](repeating: 0, count: d)
        for i in 0..<3 where a[i] != 0 { for k in 0..<d { z[k] += a[i] * h[i][k] } }
        let zn = try Ops.layerNorm(Tensor(shape: [1, d], values: z), gamma: headGamma, beta: headBeta, eps: eps)
        let logits = try headLinear(zn).scalars
        return Output(logits: logits, probabilities: Self.softmax(logits, temperature: temperature),
                      attention: a, h: h, z: z, present: mask, alone: [nil, nil, nil])
    }

    public static func softmax(_ logits: [Float], temperature: Float = 1) -> [Float] {
        let s = logits.map { $0 / temperature }
        let m = s.max() ?? 0
        let e = s.map { exp($0 - m) }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
    }

    /// d logit[c] / d f_image: the gradient of one class logit with respect to the image
    /// feature (the lesion encoder's pooled features), derived by hand through the head: the
    /// class row of head.linear, back through head.norm, through z = sum a_i h_i (both the
    /// direct path a_0 and the attention path via s_0), GELU, proj.0.norm and proj.0.linear.
    /// Grad-CAM needs exactly this, because the encoder ends in global average pooling.
    /// Under `.product` only the image's own pass depends on f, and the combined logit holds
    /// log_softmax(l / t_0)[c] of it: d/df = (grad l_c - sum_k p_k grad l_k) / t_0, p = softmax(l / t_0).
    public func gradientOfLogit(_ c: Int, withRespectToImageFeature f: Tensor, pass: Output) throws -> [Float] {
        guard pass.present[0] else { throw EngineError.argument(op: "fusion", detail: "no image feature in this pass") }
        guard case .product(let t) = combine else { return try jointGradientOfLogit(c, withRespectToImageFeature: f, pass: pass) }
        guard let image = pass.alone[0] else { throw EngineError.argument(op: "fusion", detail: "the pass holds no image-alone pass") }
        let p = Self.softmax(image.logits, temperature: t[0])
        let gc = try jointGradientOfLogit(c, withRespectToImageFeature: f, pass: image)
        var g = gc
        for k in 0..<classes where p[k] != 0 {
            let gk = k == c ? gc : try jointGradientOfLogit(k, withRespectToImageFeature: f, pass: image)
            for j in g.indices { g[j] -= p[k] * gk[j] }
        }
        return g.map { $0 / t[0] }
    }

    func jointGradientOfLogit(_ c: Int, withRespectToImageFeature f: Tensor, pass: Output) throws -> [Float] {
        let d = pass.z.count
        // dlogit/dz through head.linear and head.norm.
        let wRow = Array(UnsafeBufferPointer(start: headLinear.weight.pointer + c * d, count: d))
        let gz = Self.layerNormBackward(x: pass.z, gamma: headGamma.scalars, upstream: wRow, eps: eps)
        // dlogit/dh0 = a0 gz + a0 (gz.h0 - gz.z) ds0/dh0, with ds0/dh0 = U^T (v * (1 - tanh^2(U h0 + c))).
        let a0 = pass.attention?[0] ?? 0
        let h0 = pass.h[0]
        let dot = { (x: [Float], y: [Float]) -> Float in zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
        let coef = a0 * (dot(gz, h0) - dot(gz, pass.z))
        let hidden = attnHidden.outFeatures
        let pre = try attnHidden(Tensor(shape: [1, d], values: h0)).scalars
        var gPre = [Float](repeating: 0, count: hidden)
        for j in 0..<hidden { let t = tanh(pre[j]); gPre[j] = attnScore.weight.pointer[j] * (1 - t * t) }
        var gh0 = gz.map { a0 * $0 }
        for j in 0..<hidden where gPre[j] != 0 {
            for k in 0..<d { gh0[k] += coef * gPre[j] * attnHidden.weight.pointer[j * d + k] }
        }
        // Through GELU (erf form): GELU'(x) = Phi(x) + x phi(x), at x = LayerNorm(u0).
        let proj = projections[0]
        let u = try proj.linear(f.reshaped([1, f.count]))
        let n = try Ops.layerNorm(u, gamma: proj.gamma, beta: proj.beta, eps: eps).scalars
        let gn = zip(gh0, n).map { g, x -> Float in
            let phi = exp(-0.5 * x * x) / (2 * Float.pi).squareRoot()
            return g * (0.5 * (1 + erf(x / Float(2).squareRoot())) + x * phi)
        }
        let gu = Self.layerNormBackward(x: u.scalars, gamma: proj.gamma.scalars, upstream: gn, eps: eps)
        // Through proj.0.linear: gf = W^T gu.
        let inF = proj.linear.inFeatures
        var gf = [Float](repeating: 0, count: inF)
        for o in 0..<d where gu[o] != 0 {
            let row = proj.linear.weight.pointer + o * inF
            for k in 0..<inF { gf[k] += gu[o] * row[k] }
        }
        return gf
    }

    /// Gradient through y = (x - mean) / sqrt(var + eps) * gamma + beta, given dL/dy.
    static func layerNormBackward(x: [Float], gamma: [Float], upstream g: [Float], eps: Float) -> [Float] {
        let n = Float(x.count)
        let mean = x.reduce(0, +) / n
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
        let inv = 1 / (variance + eps).squareRoot()
        let xhat = x.map { ($0 - mean) * inv }
        let gg = zip(g, gamma).map { $0 * $1 }
        let meanG = gg.reduce(0, +) / n
        let meanGX = zip(gg, xhat).reduce(0) { $0 + $1.0 * $1.1 } / n
        return (0..<x.count).map { inv * (gg[$0] - meanG - xhat[$0] * meanGX) }
    }
}

extension Tensor {
    /// Element-wise tanh (a new tensor).
    func tanhApplied() -> Tensor {
        let y = copy()
        for i in 0..<count { y.pointer[i] = tanh(y.pointer[i]) }
        return y
    }
}
