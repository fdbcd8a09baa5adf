import Foundation
import Randomness

/// One encoder block. Matrices are HF `nn.Linear` weights, [out, in] row-major,
/// applied as y = x W^T.
struct EncoderLayerWeights: @unchecked Sendable {
    let attentionNorm: Tensor   // [d_model]
    let qkv: Tensor             // [3*inner, d_model]  (q rows, then k, then v)
    let attentionOut: Tensor    // [d_model, inner]
    let ffnNorm: Tensor         // [d_model]
    let ffnIn: Tensor           // [d_ff, d_model], or [2*d_ff, d_model] gated (wi_0 rows, then wi_1)
    let ffnOut: Tensor          // [d_model, d_ff]
}

/// One decoder block. Cross-attention K/V weights live in
/// `T5Weights.crossKV` for all layers at once (one GEMM per request).
struct DecoderLayerWeights: @unchecked Sendable {
    let selfNorm: Tensor        // [d_model]
    let selfQKV: Tensor         // [3*inner, d_model]
    let selfOut: Tensor         // [d_model, inner]
    let crossNorm: Tensor       // [d_model]
    let crossQ: Tensor          // [inner, d_model]
    let crossOut: Tensor        // [d_model, inner]
    let ffnNorm: Tensor         // [d_model]
    let ffnIn: Tensor           // [d_ff or 2*d_ff, d_model]
    let ffnOut: Tensor          // [d_model, d_ff]
}

/// All weights of a T5 encoder-decoder, held as F32 and shared read-only by
/// every scorer (one copy per process, however many workers).
public final class T5Weights: @unchecked Sendable {
    public let config: T5Config
    let embedding: Tensor               // [vocab, d_model]  (HF `shared`)
    let lmHead: Tensor                  // [vocab, d_model]  (=== embedding when tied)
    let encoderRelativeBias: Tensor     // [num_buckets, num_heads]
    let decoderRelativeBias: Tensor     // [num_buckets, num_heads]
    let encoderLayers: [EncoderLayerWeights]
    let encoderFinalNorm: Tensor        // [d_model]
    let decoderLayers: [DecoderLayerWeights]
    let decoderFinalNorm: Tensor        // [d_model]
    let crossKV: Tensor                 // [num_decoder_layers*2*inner, d_model]  (layer l: k rows, then v rows)

    /// Loads `config.json` and the safetensors weights of a HF checkpoint directory.
    public convenience init(directory: URL) throws {
        let configURL = directory.appendingPathComponent("config.json")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw T5Error.modelDirectory(path: directory.path, reason: "does not exist or is not a directory")
        }
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw T5Error.modelDirectory(path: directory.path, reason: "no config.json")
        }
        let config = try T5Config(contentsOf: configURL)
        let checkpoint = try CheckpointDirectory(directory: directory)
        try self.init(config: config, checkpoint: checkpoint)
    }

    init(config c: T5Config, checkpoint: CheckpointDirectory) throws {
        config = c
        let d = c.dModel, inner = c.innerDim, ff = c.dFF
        let ffRows = c.isGatedActivation ? 2 * ff : ff
        func ffnIn(_ prefix: String) throws -> Tensor {
            c.isGatedActivation
                ? try checkpoint.stacked(["\(prefix).wi_0.weight", "\(prefix).wi_1.weight"], rowShape: [ff, d])
                : try checkpoint.tensor("\(prefix).wi.weight", shape: [ffRows, d])
        }
        // HF saves tied tensors once; `shared.weight` is canonical, the
        // embed_tokens aliases appear in some exports.
        let embeddingName = ["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]
            .first(where: checkpoint.contains) ?? "shared.weight"
        embedding = try checkpoint.tensor(embeddingName, shape: [c.vocabSize, d])
        lmHead = c.tieWordEmbeddings ? embedding : try checkpoint.tensor("lm_head.weight", shape: [c.vocabSize, d])

        let bias0 = "layer.0.SelfAttention.relative_attention_bias.weight"
        encoderRelativeBias = try checkpoint.tensor("encoder.block.0.\(bias0)", shape: [c.relativeAttentionNumBuckets, c.numHeads])
        decoderRelativeBias = try checkpoint.tensor("decoder.block.0.\(bias0)", shape: [c.relativeAttentionNumBuckets, c.numHeads])

        encoderLayers = try (0..<c.numLayers).map { i in
            let p = "encoder.block.\(i).layer"
            return EncoderLayerWeights(
                attentionNorm: try checkpoint.tensor("\(p).0.layer_norm.weight", shape: [d]),
                qkv: try checkpoint.stacked(["q", "k", "v"].map { "\(p).0.SelfAttention.\($0).weight" }, rowShape: [inner, d]),
                attentionOut: try checkpoint.tensor("\(p).0.SelfAttention.o.weight", shape: [d, inner]),
                ffnNorm: try checkpoint.tensor("\(p).1.layer_norm.weight", shape: [d]),
                ffnIn: try ffnIn("\(p).1.DenseReluDense"),
                ffnOut: try checkpoint.tensor("\(p).1.DenseReluDense.wo.weight", shape: [d, ff]))
        }
        encoderFinalNorm = try checkpoint.tensor("encoder.final_layer_norm.weight", shape: [d])

        var kvNames: [String] = []
        decoderLayers = try (0..<c.numDecoderLayers).map { i in
            let p = "decoder.block.\(i).layer"
            kvNames += ["\(p).1.EncDecAttention.k.weight", "\(p).1.EncDecAttention.v.weight"]
            return DecoderLayerWeights(
                selfNorm: try checkpoint.tensor("\(p).0.layer_norm.weight", shape: [d]),
                selfQKV: try checkpoint.stacked(["q", "k", "v"].map { "\(p).0.SelfAttention.\($0).weight" }, rowShape: [inner, d]),
                selfOut: try checkpoint.tensor("\(p).0.SelfAttention.o.weight", shape: [d, inner]),
                crossNorm: try checkpoint.tensor("\(p).1.layer_norm.weight", shape: [d]),
                crossQ: try checkpoint.tensor("\(p).1.EncDecAttention.q.weight", shape: [inner, d]),
                crossOut: try checkpoint.tensor("\(p).1.EncDecAttention.o.weight", shape: [d, inner]),
                ffnNorm: try checkpoint.tensor("\(p).2.layer_norm.weight", shape: [d]),
                ffnIn: try ffnIn("\(p).2.DenseReluDense"),
                ffnOut: try checkpoint.tensor("\(p).2.DenseReluDense.wo.weight", shape: [d, ff]))
        }
        decoderFinalNorm = try checkpoint.tensor("decoder.final_layer_norm.weight", shape: [d])
        crossKV = try checkpoint.stacked(kvNames, rowShape: [inner, d])
    }

    /// Random weights for benchmarks: no checkpoint needed, same shapes and
    /// roughly HF's initialisation scales so activations stay finite.
    public init(randomWithConfig c: T5Config, seed: UInt64 = 42) {
        config = c
        var rng = SplitMix64(seed: seed)
        let d = c.dModel, inner = c.innerDim, ff = c.dFF
        let ffRows = c.isGatedActivation ? 2 * ff : ff
        func random(_ shape: [Int], std: Float) -> Tensor {
            let t = Tensor(shape: shape, zeroed: false)
            for i in 0..<t.count { t.data[i] = rng.nextNormal() * std }
            return t
        }
        func ones(_ n: Int) -> Tensor {
            let t = Tensor(shape: [n], zeroed: false)
            t.data.update(repeating: 1, count: n)
            return t
        }
        let sd = 1 / Float(d).squareRoot(), sInner = 1 / Float(inner).squareRoot(), sff = 1 / Float(ff).squareRoot()
        embedding = random([c.vocabSize, d], std: 1)
        lmHead = c.tieWordEmbeddings ? embedding : random([c.vocabSize, d], std: sd)
        encoderRelativeBias = random([c.relativeAttentionNumBuckets, c.numHeads], std: 1)
        decoderRelativeBias = random([c.relativeAttentionNumBuckets, c.numHeads], std: 1)
        encoderLayers = (0..<c.numLayers).map { _ in
            EncoderLayerWeights(attentionNorm: ones(d), qkv: random([3 * inner, d], std: sd * 0.5),
                                attentionOut: random([d, inner], std: sInner), ffnNorm: ones(d),
                                ffnIn: random([ffRows, d], std: sd), ffnOut: random([d, ff], std: sff))
        }
        encoderFinalNorm = ones(d)
        decoderLayers = (0..<c.numDecoderLayers).map { _ in
            DecoderLayerWeights(selfNorm: ones(d), selfQKV: random([3 * inner, d], std: sd * 0.5),
                                selfOut: random([d, inner], std: sInner), crossNorm: ones(d),
                                crossQ: random([inner, d], std: sd * 0.5), crossOut: random([d, inner], std: sInner),
                                ffnNorm: ones(d), ffnIn: random([ffRows, d], std: sd), ffnOut: random([d, ff], std: sff))
        }
        decoderFinalNorm = ones(d)
        crossKV = random([c.numDecoderLayers * 2 * inner, d], std: sd * 0.5)
    }
}
