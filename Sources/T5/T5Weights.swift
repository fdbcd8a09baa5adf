import Foundation
import Randomness

/// One encoder block. Matrices are HF `nn.Linear` weights, [out, in] row-major,
/// applied as y = x W^T.
struct EncoderLayerWeights: @unchecked Sendable {
    let attentionNorm: Tensor       // [d_model]
    let qkv: WeightMatrix           // [3*inner, d_model]  (q rows, then k, then v)
    let attentionOut: WeightMatrix  // [d_model, inner]
    let ffnNorm: Tensor             // [d_model]
    let ffnIn: WeightMatrix         // [d_ff, d_model], or [2*d_ff, d_model] gated (wi_0 rows, then wi_1)
    let ffnOut: WeightMatrix        // [d_model, d_ff]
}

/// One decoder block. Cross-attention K/V weights live in
/// `T5Weights.crossKV`, stacked for all layers (one load, one allocation);
/// the decoder multiplies one layer's rows of it at a time.
struct DecoderLayerWeights: @unchecked Sendable {
    let selfNorm: Tensor            // [d_model]
    let selfQKV: WeightMatrix       // [3*inner, d_model]
    let selfOut: WeightMatrix       // [d_model, inner]
    let crossNorm: Tensor           // [d_model]
    let crossQ: WeightMatrix        // [inner, d_model]
    let crossOut: WeightMatrix      // [d_model, inner]
    let ffnNorm: Tensor             // [d_model]
    let ffnIn: WeightMatrix         // [d_ff or 2*d_ff, d_model]
    let ffnOut: WeightMatrix        // [d_model, d_ff]
}

/// The element type weight matrices are kept in after loading (the
/// `weights_dtype` setting). Norms and relative biases are always F32.
public enum WeightsDType: String, Sendable, CaseIterable {
    /// the checkpoint's own type: BF16 and F16 stay 16-bit (half the memory)
    /// and are widened to F32 slice by slice inside each product; F32 stays F32
    case auto
    /// widen everything to F32 at load (twice the memory of a 16-bit checkpoint)
    case f32
    /// quantize every matrix to int8 at load, per output channel (a quarter of F32's memory); products
    /// run in int8 with the activations quantized per row (`Int8Kernel`), norms and softmaxes in F32
    case int8
    /// round every matrix to bfloat16 at load (half of F32's memory); on a CPU with AVX-512 BF16 products
    /// run in bf16 with F32 sums (activations rounded to bf16), elsewhere they widen to F32 as `auto` does
    case bf16
}

/// All weights of a T5 encoder-decoder, shared read-only by every scorer (one
/// copy per process, however many workers). Matrices are in the checkpoint's
/// element type or F32 (`WeightsDType`); the small vectors are F32.
public final class T5Weights: @unchecked Sendable {
    public let config: T5Config
    let embedding: WeightMatrix         // [vocab, d_model]  (HF `shared`)
    let lmHead: WeightMatrix            // [vocab, d_model]  (=== embedding when tied)
    let encoderRelativeBias: Tensor     // [num_buckets, num_heads]
    let decoderRelativeBias: Tensor     // [num_buckets, num_heads]
    let encoderLayers: [EncoderLayerWeights]
    let encoderFinalNorm: Tensor        // [d_model]
    let decoderLayers: [DecoderLayerWeights]
    let decoderFinalNorm: Tensor        // [d_model]
    let crossKV: WeightMatrix           // [num_decoder_layers*2*inner, d_model]  (layer l: k rows, then v rows)
    /// The int8 product every matrix is packed for (`weights_dtype: int8`); nil for floating-point weights.
    public let int8Kernel: Int8Kernel?
    /// `weights_dtype: bf16`: true when products run in bf16 (AVX-512 BF16), false when the bf16 matrices are
    /// widened to F32 inside each product; nil for other types.
    public let bf16Products: Bool?

    /// Bytes held by the weight matrices (the bulk of the model), for start-up logs and measurements.
    public var matrixBytes: Int {
        var matrices = [embedding, crossKV] + (lmHead === embedding ? [] : [lmHead])
        for layer in encoderLayers { matrices += [layer.qkv, layer.attentionOut, layer.ffnIn, layer.ffnOut] }
        for layer in decoderLayers {
            matrices += [layer.selfQKV, layer.selfOut, layer.crossQ, layer.crossOut, layer.ffnIn, layer.ffnOut]
        }
        return matrices.reduce(0) { $0 + $1.byteCount }
    }

    /// The element type the attention and feed-forward matrices are kept in ("F32", "BF16", "F16"; "F32" for the
    /// reduced-precision forms, whose own types their kernels name), for benchmarks' labels.
    public var matrixElement: String { encoderLayers.first?.qkv.element.rawValue ?? "none" }

    /// Whether any matrix is packed for OpenBLAS's own kernel (`packedForBLAS()`): F32 and bf16 matrices where
    /// packing is used; never F16 or reduced-precision ones.
    public var packsForBLAS: Bool { encoderLayers.first?.qkv.packed is BLASPackedMatrix }

    /// Loads `config.json` and the safetensors weights of a HF checkpoint
    /// directory, keeping matrices as `dtype` says.
    /// With `.int8`, `int8Kernel` is the product the matrices are packed for (the CPU's fastest by default).
    /// `packForBLAS`: F32 and bf16 matrices multiplied only as y = x W^T are packed for OpenBLAS's own kernel where it can
    /// be used (`packedForBLAS()`); off, every F32 product goes through `cblas_sgemm` (the same numbers within
    /// float rounding).
    public convenience init(directory: URL, dtype: WeightsDType = .auto, int8Kernel: Int8Kernel = .fastest,
                            packForBLAS: Bool = true) throws {
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
        try self.init(config: config, checkpoint: checkpoint, dtype: dtype, int8Kernel: int8Kernel, packForBLAS: packForBLAS)
    }

    init(config c: T5Config, checkpoint: CheckpointDirectory, dtype: WeightsDType, int8Kernel: Int8Kernel,
         packForBLAS: Bool = true) throws {
        config = c
        self.int8Kernel = dtype == .int8 ? int8Kernel : nil
        bf16Products = dtype == .bf16 ? BF16Matrix.isAvailable : nil
        let d = c.dModel, inner = c.innerDim, ff = c.dFF
        func matrix(_ name: String, _ shape: [Int]) throws -> WeightMatrix {
            try checkpoint.matrix([name], rowShape: shape, dtype: dtype, int8Kernel: int8Kernel)
        }
        func stacked(_ names: [String], _ rowShape: [Int]) throws -> WeightMatrix {
            try checkpoint.matrix(names, rowShape: rowShape, dtype: dtype, int8Kernel: int8Kernel)
        }
        // Each matrix multiplied only as y = x W^T is packed as soon as it is read, so the model is never held twice.
        let pack = packForBLAS && BLASPackedMatrix.isAvailable
        func linear(_ m: WeightMatrix) -> WeightMatrix { pack ? Self.packedForBLAS(m) : m }
        func ffnIn(_ prefix: String) throws -> WeightMatrix {
            linear(c.isGatedActivation
                ? try stacked(["\(prefix).wi_0.weight", "\(prefix).wi_1.weight"], [ff, d])
                : try matrix("\(prefix).wi.weight", [ff, d]))
        }
        // HF saves tied tensors once; `shared.weight` is canonical, the
        // embed_tokens aliases appear in some exports.
        let embeddingName = ["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]
            .first(where: checkpoint.contains) ?? "shared.weight"
        embedding = try matrix(embeddingName, [c.vocabSize, d])
        lmHead = c.tieWordEmbeddings ? embedding : linear(try matrix("lm_head.weight", [c.vocabSize, d]))

        let bias0 = "layer.0.SelfAttention.relative_attention_bias.weight"
        encoderRelativeBias = try checkpoint.tensor("encoder.block.0.\(bias0)", shape: [c.relativeAttentionNumBuckets, c.numHeads])
        decoderRelativeBias = try checkpoint.tensor("decoder.block.0.\(bias0)", shape: [c.relativeAttentionNumBuckets, c.numHeads])

        encoderLayers = try (0..<c.numLayers).map { i in
            let p = "encoder.block.\(i).layer"
            return EncoderLayerWeights(
                attentionNorm: try checkpoint.tensor("\(p).0.layer_norm.weight", shape: [d]),
                qkv: linear(try stacked(["q", "k", "v"].map { "\(p).0.SelfAttention.\($0).weight" }, [inner, d])),
                attentionOut: linear(try matrix("\(p).0.SelfAttention.o.weight", [d, inner])),
                ffnNorm: try checkpoint.tensor("\(p).1.layer_norm.weight", shape: [d]),
                ffnIn: try ffnIn("\(p).1.DenseReluDense"),
                ffnOut: linear(try matrix("\(p).1.DenseReluDense.wo.weight", [d, ff])))
        }
        encoderFinalNorm = try checkpoint.tensor("encoder.final_layer_norm.weight", shape: [d])

        var kvNames: [String] = []
        decoderLayers = try (0..<c.numDecoderLayers).map { i in
            let p = "decoder.block.\(i).layer"
            kvNames += ["\(p).1.EncDecAttention.k.weight", "\(p).1.EncDecAttention.v.weight"]
            return DecoderLayerWeights(
                selfNorm: try checkpoint.tensor("\(p).0.layer_norm.weight", shape: [d]),
                selfQKV: linear(try stacked(["q", "k", "v"].map { "\(p).0.SelfAttention.\($0).weight" }, [inner, d])),
                selfOut: linear(try matrix("\(p).0.SelfAttention.o.weight", [d, inner])),
                crossNorm: try checkpoint.tensor("\(p).1.layer_norm.weight", shape: [d]),
                crossQ: linear(try matrix("\(p).1.EncDecAttention.q.weight", [inner, d])),
                crossOut: linear(try matrix("\(p).1.EncDecAttention.o.weight", [d, inner])),
                ffnNorm: try checkpoint.tensor("\(p).2.layer_norm.weight", shape: [d]),
                ffnIn: try ffnIn("\(p).2.DenseReluDense"),
                ffnOut: linear(try matrix("\(p).2.DenseReluDense.wo.weight", [d, ff])))
        }
        decoderFinalNorm = try checkpoint.tensor("decoder.final_layer_norm.weight", shape: [d])
        crossKV = try stacked(kvNames, [inner, d])
    }

    /// Random weights for benchmarks: no checkpoint needed, same shapes and
    /// roughly HF's initialisation scales so activations stay finite.
    public init(randomWithConfig c: T5Config, seed: UInt64 = 42) {
        config = c
        int8Kernel = nil
        bf16Products = nil
        var rng = SplitMix64(seed: seed)
        let d = c.dModel, inner = c.innerDim, ff = c.dFF
        let ffRows = c.isGatedActivation ? 2 * ff : ff
        func random(_ shape: [Int], std: Float) -> Tensor {
            let t = Tensor(shape: shape, zeroed: false)
            for i in 0..<t.count { t.data[i] = rng.nextNormal() * std }
            return t
        }
        func random(_ shape: [Int], std: Float) -> WeightMatrix {
            let m = WeightMatrix(rows: shape[0], columns: shape[1], element: .f32)
            let data = m.bytes.bindMemory(to: Float.self, capacity: shape[0] * shape[1])
            for i in 0..<(shape[0] * shape[1]) { data[i] = rng.nextNormal() * std }
            return m
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

    /// These weights with every matrix quantized to int8 for `kernel` (the norms and biases shared):
    /// the int8 form of random benchmark weights, and the same checkpoint under each kernel in tests.
    public func quantized(kernel: Int8Kernel) -> T5Weights {
        T5Weights(converting: self, int8Kernel: kernel, bf16Products: nil) { WeightMatrix(quantizing: $0, kernel: kernel) }
    }

    /// These weights with every matrix rounded to bf16: packed for the AVX-512 BF16 product when `products` (and
    /// the CPU has it), else plain 16-bit matrices widened inside each product.
    public func roundedToBF16(products: Bool = true) -> T5Weights {
        let packed = products && BF16Matrix.isAvailable
        return T5Weights(converting: self, int8Kernel: nil, bf16Products: packed) {
            packed ? WeightMatrix(roundingToBF16: $0) : WeightMatrix(plainBF16: $0)
        }
    }

    /// These weights with every F32 or bf16 matrix whose products are all y = x W^T (attention, feed-forward, an
    /// untied lm_head) packed for OpenBLAS's own kernel (`BLASPackedMatrix`); the embedding and the cross K|V stack,
    /// which are also read by rows, stay as they are. The same weights where packing is unavailable.
    public func packedForBLAS() -> T5Weights {
        guard BLASPackedMatrix.isAvailable else { return self }
        return T5Weights(converting: self, int8Kernel: int8Kernel, bf16Products: bf16Products, rowsRead: { $0 },
                         Self.packedForBLAS)
    }

    /// `matrix` packed for OpenBLAS's kernel when it is F32 or bf16 and row-major (F16 and the reduced-precision
    /// forms stay as they are); otherwise itself.
    static func packedForBLAS(_ matrix: WeightMatrix) -> WeightMatrix {
        matrix.packed == nil && (matrix.element == .f32 || matrix.element == .bf16) ? WeightMatrix(packingForBLAS: matrix) : matrix
    }

    /// `q` converts the matrices only ever multiplied as y = x W^T, `rowsRead` the embedding and the cross K|V
    /// stack (also read by rows and untransposed; by default `q` too).
    private init(converting f: T5Weights, int8Kernel: Int8Kernel?, bf16Products: Bool?,
                 rowsRead: ((WeightMatrix) -> WeightMatrix)? = nil, _ q: (WeightMatrix) -> WeightMatrix) {
        config = f.config
        self.int8Kernel = int8Kernel
        self.bf16Products = bf16Products
        func other(_ m: WeightMatrix) -> WeightMatrix { rowsRead.map { $0(m) } ?? q(m) }
        embedding = other(f.embedding)
        lmHead = f.lmHead === f.embedding ? embedding : q(f.lmHead)
        encoderRelativeBias = f.encoderRelativeBias
        decoderRelativeBias = f.decoderRelativeBias
        encoderLayers = f.encoderLayers.map {
            EncoderLayerWeights(attentionNorm: $0.attentionNorm, qkv: q($0.qkv), attentionOut: q($0.attentionOut),
                                ffnNorm: $0.ffnNorm, ffnIn: q($0.ffnIn), ffnOut: q($0.ffnOut))
        }
        encoderFinalNorm = f.encoderFinalNorm
        decoderLayers = f.decoderLayers.map {
            DecoderLayerWeights(selfNorm: $0.selfNorm, selfQKV: q($0.selfQKV), selfOut: q($0.selfOut),
                                crossNorm: $0.crossNorm, crossQ: q($0.crossQ), crossOut: q($0.crossOut),
                                ffnNorm: $0.ffnNorm, ffnIn: q($0.ffnIn), ffnOut: q($0.ffnOut))
        }
        decoderFinalNorm = f.decoderFinalNorm
        crossKV = other(f.crossKV)
    }
}
