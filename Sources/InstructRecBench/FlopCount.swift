import T5

/// Floating-point operations of one scoring request, counted as 2·M·N·K over
/// every matrix product (attention included; norms, softmax and activations
/// are not counted). Used to report achieved GFLOP/s.
enum FlopCount {
    /// The request as asked: every candidate's decoder rows computed on their own (no prefix sharing).
    static func scoring(config c: T5Config, instructionTokens L: Int, candidateLengths: [Int]) -> Double {
        let d = Double(c.dModel), inner = Double(c.innerDim), dkv = Double(c.dKV), heads = Double(c.numHeads)
        let ffRows = Double(c.isGatedActivation ? 2 * c.dFF : c.dFF), ff = Double(c.dFF)
        let l = Double(L)
        // target length of each candidate includes </s>
        let lengths = candidateLengths.map { Double($0 + 1) }
        let n = lengths.reduce(0, +)
        func ffn(_ rows: Double) -> Double { 2 * rows * ffRows * d + 2 * rows * d * ff }
        let encoderLayer = 2 * l * 3 * inner * d          // fused q, k, v
            + 2 * 2 * l * l * dkv * heads                // scores and context
            + 2 * l * d * inner                          // o
            + ffn(l)
        let crossKV = 2 * l * Double(c.numDecoderLayers) * 2 * inner * d
        let selfAttention = lengths.reduce(0) { $0 + 2 * 2 * $1 * $1 * dkv * heads }
        let decoderLayer = 2 * n * 3 * inner * d + selfAttention + 2 * n * d * inner
            + 2 * n * inner * d + 2 * 2 * n * l * dkv * heads + 2 * n * d * inner
            + ffn(n)
        let lmHead = 2 * n * Double(c.vocabSize) * d
        return Double(c.numLayers) * encoderLayer + crossKV + Double(c.numDecoderLayers) * decoderLayer + lmHead
    }

    /// The products the engine really runs for these candidates: with
    /// `sharing` the decoder and lm_head rows are the prefix tree's nodes, and
    /// each candidate's self-attention covers only the nodes it adds (against
    /// its whole path), as `DecoderSharing` counts them. Without sharing this
    /// equals `scoring(config:instructionTokens:candidateLengths:)`.
    static func scoring(config c: T5Config, instructionTokens L: Int, candidates: [[Int32]], sharing: Bool) -> Double {
        let unshared = scoring(config: c, instructionTokens: L, candidateLengths: candidates.map(\.count))
        guard sharing else { return unshared }
        let counts = DecoderSharing(candidates: candidates)
        let d = Double(c.dModel), inner = Double(c.innerDim), dkv = Double(c.dKV), heads = Double(c.numHeads)
        let ffRows = Double(c.isGatedActivation ? 2 * c.dFF : c.dFF), ff = Double(c.dFF), l = Double(L)
        let layers = Double(c.numDecoderLayers)
        func decoderRowsWork(_ n: Double) -> Double {
            // per decoder row: self qkv, self o, cross q, cross scores+context, cross o, FFN; plus the lm_head
            layers * (2 * n * 3 * inner * d + 2 * n * d * inner + 2 * n * inner * d
                + 2 * 2 * n * l * dkv * heads + 2 * n * d * inner + 2 * n * ffRows * d + 2 * n * d * ff)
                + 2 * n * Double(c.vocabSize) * d
        }
        func selfAttention(_ pairs: Int) -> Double { layers * 2 * 2 * Double(pairs) * dkv * heads }
        return unshared - decoderRowsWork(Double(counts.unsharedRows)) - selfAttention(counts.unsharedAttentionPairs)
            + decoderRowsWork(Double(counts.sharedRows)) + selfAttention(counts.sharedAttentionPairs)
    }
}

extension T5Config {
    /// Architecture numbers of the public Flan-T5 releases, for benchmarks
    /// that need no checkpoint.
    static func flanT5(_ size: String) -> T5Config? {
        switch size {
        case "small": return try? T5Config(dModel: 512, dKV: 64, dFF: 1024, numLayers: 8, numHeads: 6, tieWordEmbeddings: false)
        case "base": return try? T5Config(dModel: 768, dKV: 64, dFF: 2048, numLayers: 12, numHeads: 12, tieWordEmbeddings: false)
        case "large": return try? T5Config(dModel: 1024, dKV: 64, dFF: 2816, numLayers: 24, numHeads: 16, tieWordEmbeddings: false)
        case "xl": return try? T5Config(dModel: 2048, dKV: 64, dFF: 5120, numLayers: 24, numHeads: 32, tieWordEmbeddings: false)
        default: return nil
        }
    }
}
