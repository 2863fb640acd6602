import Engine
import Foundation

/// The BERT configuration, decoded from a Hugging Face config.json.
public struct BertConfig: Sendable, Codable {
    public var hiddenSize: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var layerNormEps: Float
    public var maxPositionEmbeddings: Int
    public var vocabSize: Int

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", numAttentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case layerNormEps = "layer_norm_eps", maxPositionEmbeddings = "max_position_embeddings"
        case vocabSize = "vocab_size"
    }

    public init(hiddenSize: Int, numAttentionHeads: Int, intermediateSize: Int, numHiddenLayers: Int,
                layerNormEps: Float = 1e-12, maxPositionEmbeddings: Int = 512, vocabSize: Int = 30522) {
        self.hiddenSize = hiddenSize; self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize; self.numHiddenLayers = numHiddenLayers
        self.layerNormEps = layerNormEps; self.maxPositionEmbeddings = maxPositionEmbeddings; self.vocabSize = vocabSize
    }

    public static func load(path: String) throws -> BertConfig {
        do { return try JSONDecoder().decode(BertConfig.self, from: Data(contentsOf: URL(fileURLWithPath: path))) }
        catch { throw EngineError.weights(file: path, tensor: nil, problem: "not a usable BERT config.json (\(error))") }
    }
}

/// A dense layer followed by a residual add and layer norm (BertSelfOutput / BertOutput).
struct DenseResidualNorm: Sendable {
    let dense: Linear
    let gamma: Tensor, beta: Tensor
    let eps: Float

    init(_ w: Weights, eps: Float) throws {
        dense = try w.linear("dense")
        gamma = try w("LayerNorm.weight"); beta = try w("LayerNorm.bias"); self.eps = eps
    }

    func callAsFunction(_ h: Tensor, residual: Tensor) throws -> Tensor {
        try Ops.layerNorm(Ops.add(dense(h), residual), gamma: gamma, beta: beta, eps: eps)
    }
}

/// One BERT encoder layer, Hugging Face names (attention.self.query, ..., output.LayerNorm).
public struct BertLayer: Sendable {
    let attention: MultiHeadSelfAttention
    let attentionOutput: DenseResidualNorm
    let intermediate: Linear
    let output: DenseResidualNorm

    public init(_ w: Weights, heads: Int, eps: Float = 1e-12) throws {
        let s = w.scoped("attention.self")
        // The output projection lives in attention.output.dense, applied by attentionOutput.
        attention = try MultiHeadSelfAttention(query: s.linear("query"), key: s.linear("key"), value: s.linear("value"),
                                               output: nil, heads: heads)
        attentionOutput = try DenseResidualNorm(w.scoped("attention.output"), eps: eps)
        intermediate = try w.linear("intermediate.dense", activation: .gelu)
        output = try DenseResidualNorm(w.scoped("output"), eps: eps)
    }

    public func callAsFunction(_ x: Tensor, mask: [[Int]]) throws -> Tensor {
        let a = try attentionOutput(attention(x, mask: mask), residual: x)
        return try output(intermediate(a), residual: a)
    }
}

/// A BERT encoder (embeddings + layers), mean pooled over real tokens and L2-normalised, as
/// sentence-transformers' all-MiniLM-L6-v2 is used.
public struct BertEncoder: Sendable {
    public let config: BertConfig
    let wordEmbeddings: Tensor, positionEmbeddings: Tensor, tokenTypeEmbeddings: Tensor
    let embGamma: Tensor, embBeta: Tensor
    let layers: [BertLayer]

    public init(_ w: Weights, config: BertConfig) throws {
        self.config = config
        let e = w.scoped("embeddings")
        wordEmbeddings = try e("word_embeddings.weight", shape: [config.vocabSize, config.hiddenSize])
        positionEmbeddings = try e("position_embeddings.weight")
        tokenTypeEmbeddings = try e("token_type_embeddings.weight")
        embGamma = try e("LayerNorm.weight"); embBeta = try e("LayerNorm.bias")
        layers = try (0..<config.numHiddenLayers).map {
            try BertLayer(w.scoped("encoder.layer.\($0)"), heads: config.numAttentionHeads, eps: config.layerNormEps)
        }
    }

    /// Token states [1, L, D] for one sequence of ids (all real tokens, token type 0).
    public func hiddenStates(ids: [Int]) throws -> Tensor {
        guard !ids.isEmpty, ids.count <= positionEmbeddings.shape[0] else {
            throw EngineError.argument(op: "bert", detail: "\(ids.count) tokens; the model takes 1 to \(positionEmbeddings.shape[0])")
        }
        let d = config.hiddenSize, l = ids.count
        let words = try Ops.embedding(wordEmbeddings, ids: ids)
        let pos = try Ops.embedding(positionEmbeddings, ids: Array(0..<l))
        let x = Tensor(uninitialized: [1, l, d])
        for i in 0..<(l * d) {
            x.pointer[i] = words.pointer[i] + pos.pointer[i] + tokenTypeEmbeddings.pointer[i % d]
        }
        var h = try Ops.layerNorm(x, gamma: embGamma, beta: embBeta, eps: config.layerNormEps)
        let mask = [[Int](repeating: 1, count: l)]
        for layer in layers { h = try layer(h, mask: mask) }
        return h
    }

    /// The sentence embedding: mean over tokens, then L2 normalisation. [1, D].
    public func embed(ids: [Int]) throws -> Tensor {
        let h = try hiddenStates(ids: ids)
        return try Ops.l2Normalize(Ops.meanPool(h, mask: [[Int](repeating: 1, count: ids.count)]))
    }
}
