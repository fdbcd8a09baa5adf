import Foundation

/// The architecture numbers of a T5 checkpoint, read from Hugging Face's
/// `config.json` with the defaults of `transformers.T5Config` for absent keys.
///
/// Two families are covered by the same fields:
/// - T5 v1.0: `feed_forward_proj = "relu"`, tied embeddings (decoder output is
///   scaled by d_model^-0.5 before the shared lm_head).
/// - T5 v1.1 / Flan-T5: `"gated-gelu"` (gelu_new), untied `lm_head`.
public struct T5Config: Equatable, Sendable {
    public let dModel: Int
    public let dKV: Int
    public let dFF: Int
    public let numLayers: Int
    public let numDecoderLayers: Int
    public let numHeads: Int
    public let vocabSize: Int
    /// "ACT" or "gated-ACT" as config.json spells it; the activation and
    /// gating below are derived from it and only from it.
    public let feedForwardProj: String
    private let feedForward: FeedForward
    public let tieWordEmbeddings: Bool
    /// Scale the decoder output by d_model^-0.5 before lm_head (T5 v1.0).
    /// transformers 4 derives it from tie_word_embeddings; transformers 5 saves
    /// it as `scale_decoder_outputs` and always writes tie_word_embeddings=true.
    public let scaleDecoderOutputs: Bool
    public let relativeAttentionNumBuckets: Int
    public let relativeAttentionMaxDistance: Int
    public let layerNormEpsilon: Float
    public let decoderStartTokenID: Int32
    public let eosTokenID: Int32
    public let padTokenID: Int32

    public var denseActivation: Activation { feedForward.activation }
    public var isGatedActivation: Bool { feedForward.gated }
    /// inner dimension of attention: num_heads * d_kv (need not equal d_model)
    public var innerDim: Int { numHeads * dKV }

    public init(
        dModel: Int, dKV: Int, dFF: Int, numLayers: Int, numDecoderLayers: Int? = nil, numHeads: Int,
        vocabSize: Int = 32128, feedForwardProj: String = "gated-gelu", tieWordEmbeddings: Bool? = nil,
        relativeAttentionNumBuckets: Int = 32, relativeAttentionMaxDistance: Int = 128,
        layerNormEpsilon: Float = 1e-6, decoderStartTokenID: Int32 = 0, eosTokenID: Int32 = 1, padTokenID: Int32 = 0
    ) throws {
        self.dModel = dModel
        self.dKV = dKV
        self.dFF = dFF
        self.numLayers = numLayers
        self.numDecoderLayers = numDecoderLayers ?? numLayers
        self.numHeads = numHeads
        self.vocabSize = vocabSize
        self.feedForwardProj = feedForwardProj
        let parsed = try T5Config.parseFeedForward(feedForwardProj, file: "<built-in>")
        self.feedForward = parsed
        self.tieWordEmbeddings = tieWordEmbeddings ?? !parsed.gated
        self.scaleDecoderOutputs = self.tieWordEmbeddings
        self.relativeAttentionNumBuckets = relativeAttentionNumBuckets
        self.relativeAttentionMaxDistance = relativeAttentionMaxDistance
        self.layerNormEpsilon = layerNormEpsilon
        self.decoderStartTokenID = decoderStartTokenID
        self.eosTokenID = eosTokenID
        self.padTokenID = padTokenID
        try validate(file: "<built-in>")
    }

    /// Reads `config.json`. Absent keys take `transformers.T5Config` defaults;
    /// wrong types, non-positive sizes and self-contradictions are errors
    /// naming the key.
    public init(contentsOf url: URL) throws {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw T5Error.config(file: file, key: "(file)", reason: "cannot read: \(error.localizedDescription)")
        }
        try self.init(jsonData: data, file: file)
    }

    public init(jsonData data: Data, file: String = "config.json") throws {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw T5Error.config(file: file, key: "(document)", reason: "not valid JSON")
        }
        guard let json = object as? [String: Any] else {
            throw T5Error.config(file: file, key: "(document)", reason: "top level must be a JSON object")
        }
        let reader = ConfigReader(json: json, file: file)
        dModel = try reader.int("d_model", default: 512)
        dKV = try reader.int("d_kv", default: 64)
        dFF = try reader.int("d_ff", default: 2048)
        numLayers = try reader.int("num_layers", default: 6)
        numDecoderLayers = try reader.optionalInt("num_decoder_layers") ?? numLayers
        numHeads = try reader.int("num_heads", default: 8)
        vocabSize = try reader.int("vocab_size", default: 32128)
        feedForwardProj = try reader.string("feed_forward_proj", default: "relu")
        let parsed = try T5Config.parseFeedForward(feedForwardProj, file: file)
        // transformers derives these two from feed_forward_proj; a config that
        // states them differently was edited by hand and cannot be trusted.
        if let stated = try reader.optionalString("dense_act_fn") {
            guard let act = Activation(hfName: stated) else {
                throw T5Error.config(file: file, key: "dense_act_fn", reason: "unsupported activation '\(stated)'")
            }
            guard act == parsed.activation else {
                throw T5Error.config(file: file, key: "dense_act_fn",
                                     reason: "'\(stated)' contradicts feed_forward_proj '\(feedForwardProj)'")
            }
        }
        if let statedGated = try reader.optionalBool("is_gated_act"), statedGated != parsed.gated {
            throw T5Error.config(file: file, key: "is_gated_act",
                                 reason: "\(statedGated) contradicts feed_forward_proj '\(feedForwardProj)'")
        }
        feedForward = parsed
        tieWordEmbeddings = try reader.optionalBool("tie_word_embeddings") ?? true
        scaleDecoderOutputs = try reader.optionalBool("scale_decoder_outputs") ?? tieWordEmbeddings
        relativeAttentionNumBuckets = try reader.int("relative_attention_num_buckets", default: 32)
        relativeAttentionMaxDistance = try reader.int("relative_attention_max_distance", default: 128)
        layerNormEpsilon = Float(try reader.double("layer_norm_epsilon", default: 1e-6))
        padTokenID = Int32(try reader.int("pad_token_id", default: 0, allowZero: true))
        eosTokenID = Int32(try reader.int("eos_token_id", default: 1, allowZero: true))
        // T5 starts decoding from the pad token when the key is absent.
        decoderStartTokenID = Int32(try reader.optionalInt("decoder_start_token_id", allowZero: true) ?? Int(padTokenID))
        try validate(file: file)
    }

    private func validate(file: String) throws {
        let positive: [(String, Int)] = [
            ("d_model", dModel), ("d_kv", dKV), ("d_ff", dFF), ("num_layers", numLayers),
            ("num_decoder_layers", numDecoderLayers), ("num_heads", numHeads), ("vocab_size", vocabSize),
            ("relative_attention_num_buckets", relativeAttentionNumBuckets),
            ("relative_attention_max_distance", relativeAttentionMaxDistance),
        ]
        for (key, value) in positive where value <= 0 {
            throw T5Error.config(file: file, key: key, reason: "must be positive, got \(value)")
        }
        // Bidirectional buckets are split in two halves, each with an exact half.
        if relativeAttentionNumBuckets < 4 {
            throw T5Error.config(file: file, key: "relative_attention_num_buckets", reason: "must be at least 4")
        }
        if relativeAttentionMaxDistance <= relativeAttentionNumBuckets / 4 {
            throw T5Error.config(file: file, key: "relative_attention_max_distance",
                                 reason: "must exceed relative_attention_num_buckets / 4")
        }
        if !(layerNormEpsilon > 0) || !layerNormEpsilon.isFinite {
            throw T5Error.config(file: file, key: "layer_norm_epsilon", reason: "must be a positive number")
        }
        for (key, id) in [("decoder_start_token_id", decoderStartTokenID), ("eos_token_id", eosTokenID),
                          ("pad_token_id", padTokenID)] where id < 0 || Int(id) >= vocabSize {
            throw T5Error.config(file: file, key: key, reason: "\(id) is outside the vocabulary [0, \(vocabSize))")
        }
    }

    /// `feed_forward_proj` is "ACT" or "gated-ACT"; "gated-gelu" means gelu_new (HF's rule).
    static func parseFeedForward(_ value: String, file: String) throws -> FeedForward {
        let parts = value.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        let gated = parts.count == 2 && parts[0] == "gated"
        guard parts.count == 1 || gated, let last = parts.last, let act = Activation(hfName: last) else {
            throw T5Error.config(file: file, key: "feed_forward_proj",
                                 reason: "'\(value)' is not a valid activation (use ACT or gated-ACT, e.g. relu, gated-gelu)")
        }
        if value == "gated-gelu" { return FeedForward(activation: .geluTanh, gated: true) }
        return FeedForward(activation: act, gated: gated)
    }

    /// What `feed_forward_proj` means: the activation, and whether wi is split into a gated pair.
    struct FeedForward: Equatable, Sendable {
        let activation: Activation
        let gated: Bool
    }
}

/// Feed-forward activations that T5 checkpoints use.
public enum Activation: String, Sendable {
    case relu
    /// gelu with the tanh approximation (HF `gelu_new`, `gelu_pytorch_tanh`)
    case geluTanh
    /// exact gelu with erf (HF `gelu`)
    case geluErf
    /// x * sigmoid(x) (HF `silu`, `swish`)
    case silu

    init?(hfName: String) {
        switch hfName {
        case "relu": self = .relu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "gelu": self = .geluErf
        case "silu", "swish": self = .silu
        default: return nil
        }
    }
}

/// Typed access to config.json keys; each failure names the key.
private struct ConfigReader {
    let json: [String: Any]
    let file: String

    func optionalInt(_ key: String, allowZero: Bool = false) throws -> Int? {
        guard let raw = json[key], !(raw is NSNull) else { return nil }
        // JSONSerialization yields NSNumber; reject booleans and fractions.
        guard let number = raw as? NSNumber, !isBool(number) else {
            throw T5Error.config(file: file, key: key, reason: "must be an integer")
        }
        let double = number.doubleValue
        guard double.rounded() == double else {
            throw T5Error.config(file: file, key: key, reason: "must be an integer, got \(double)")
        }
        guard abs(double) < 1e9 else {
            throw T5Error.config(file: file, key: key, reason: "must be below 1,000,000,000, got \(number)")
        }
        let value = Int(double)
        if value < 0 || (!allowZero && value == 0) {
            throw T5Error.config(file: file, key: key, reason: "must be \(allowZero ? "non-negative" : "positive"), got \(value)")
        }
        return value
    }

    func int(_ key: String, default value: Int, allowZero: Bool = false) throws -> Int {
        try optionalInt(key, allowZero: allowZero) ?? value
    }

    func double(_ key: String, default value: Double) throws -> Double {
        guard let raw = json[key], !(raw is NSNull) else { return value }
        guard let number = raw as? NSNumber, !isBool(number) else {
            throw T5Error.config(file: file, key: key, reason: "must be a number")
        }
        return number.doubleValue
    }

    func optionalString(_ key: String) throws -> String? {
        guard let raw = json[key], !(raw is NSNull) else { return nil }
        guard let string = raw as? String else {
            throw T5Error.config(file: file, key: key, reason: "must be a string")
        }
        return string
    }

    func string(_ key: String, default value: String) throws -> String {
        try optionalString(key) ?? value
    }

    func optionalBool(_ key: String) throws -> Bool? {
        guard let raw = json[key], !(raw is NSNull) else { return nil }
        guard let number = raw as? NSNumber, isBool(number) else {
            throw T5Error.config(file: file, key: key, reason: "must be true or false")
        }
        return number.boolValue
    }

    private func isBool(_ number: NSNumber) -> Bool {
        // On Linux Foundation, JSON booleans come back as NSNumber of type 'c'/'B'.
        let type = String(cString: number.objCType)
        return type == "c" || type == "B"
    }
}
