import Foundation
import InstructRec
import T5

/// The `weights_dtype` setting's values, named here so the layers above need not import T5.
public typealias WeightsDType = T5.WeightsDType

/// T5 as a `ScoringModel`, and the only way the layers above reach it:
/// process set-up (BLAS self-check, OpenBLAS threads), the weights, what
/// /info says about the model, and scorers that speak `CandidateScorer`.
///
/// One engine per model; its weights are shared by every scorer it makes.
public final class ScoringEngine: ScoringModel {
    let weights: T5Weights
    /// the encoded contexts every scorer of this engine shares (nil: none; `context_cache_mb`)
    public let contextCache: ContextCache?

    public var contextCacheCounts: ContextCacheCounts? {
        contextCache.map {
            let s = $0.current
            return ContextCacheCounts(hits: s.hits, misses: s.misses, evictions: s.evictions, entries: s.entries, bytes: s.bytes,
                                      capacityBytes: s.capacityBytes)
        }
    }

    /// Prepares the process, then loads a Hugging Face checkpoint directory.
    /// Throws `T5Error` naming the file and tensor or key at fault (a start-up error).
    /// `weightsDType` is the `weights_dtype` setting: `.auto` keeps BF16/F16 matrices 16-bit, `.f32` widens at load,
    /// `.int8` quantizes every matrix for the CPU's fastest int8 kernel (`Int8Kernel`).
    /// `contextCacheBytes`: encoded contexts kept for its scorers (0: none).
    public convenience init(modelDirectory: String, weightsDType: WeightsDType = .auto, contextCacheBytes: Int = 0) throws {
        try Self.prepareProcess()
        try self.init(prepared: T5Weights(directory: URL(fileURLWithPath: modelDirectory), dtype: weightsDType),
                      contextCacheBytes: contextCacheBytes)
    }

    /// Weights already in memory (benchmarks on random weights, tests).
    public convenience init(weights: T5Weights, contextCacheBytes: Int = 0) throws {
        try Self.prepareProcess()
        self.init(prepared: weights, contextCacheBytes: contextCacheBytes)
    }

    private init(prepared weights: T5Weights, contextCacheBytes: Int) {
        self.weights = weights
        contextCache = contextCacheBytes > 0 ? ContextCache(capacityBytes: contextCacheBytes) : nil
    }

    /// Once per process, before the first scorer: checks that BLAS multiplies
    /// correctly on this CPU (a reranker that ranks with wrong numbers is worse
    /// than one that refuses to start) and runs OpenBLAS single-threaded, since
    /// the engine splits every product over its own threads (`GEMM.linear`).
    /// Later calls return the first call's outcome.
    public static func prepareProcess() throws {
        try processSetUp.get()
    }

    private static let processSetUp = Result<Void, any Error> {
        // The self-check verifies whichever kernels run, chosen by the library, OPENBLAS_CORETYPE or us.
        try BLASSelfCheck.run()
        GEMM.setThreads(1)
    }

    /// A new scorer with its own scratch memory over this engine's weights.
    /// `threads` of our own run each request's products and loops.
    /// `passTokens` bounds one engine pass (instruction + candidate tokens; larger calls are split, see
    /// `T5Scorer.Options.maxPassTokens`); `reserve` sizes the scratch for a full pass now (a batching worker's
    /// resident memory from the start) instead of growing it under load.
    public func makeScorer(threads: Int, passTokens: Int, reserve: Bool) -> any CandidateScorer {
        var options = T5Scorer.Options()
        options.maxPassTokens = max(1, passTokens)
        let scorer = T5Scorer(weights: weights, threads: threads, options: options)
        scorer.contextCache = contextCache
        if reserve { scorer.reservePass() }
        return T5CandidateScorer(scorer)
    }

    /// The engine's limits on one call's instruction tokens and candidate tokens (title tokens + </s>):
    /// its guard on scratch memory, which grows with the sum over a batch. The inference queue caps
    /// its batches by them.
    public var maxInstructionTokensPerCall: Int { T5Scorer.Options().maxEncoderTokens }
    public var maxCandidateTokensPerCall: Int { T5Scorer.Options().maxDecoderTokens }

    /// Token ids the model embeds: a tokenizer with more would index past the embedding.
    public var vocabularySize: Int { weights.config.vocabSize }
    /// config.json's eos_token_id
    public var endOfSequenceID: Int32? { weights.config.eosTokenID }

    /// Bytes the weight matrices hold in memory (half for BF16/F16 kept 16-bit), for /info and tests.
    public var weightBytes: Int { weights.matrixBytes }

    /// Plans the engine's threads for a process whose workers score at once: each worker keeps helper threads that
    /// spin between a request's products when `workers × threadsPerWorker` engine threads each have a core, else
    /// splits go to Dispatch's shared pool (`EngineThreads`). Returns whether helper teams are used, and the cores
    /// counted (affinity, and a container's CPU limit).
    @discardableResult
    public static func planThreads(workers: Int, threadsPerWorker: Int) -> (spinning: Bool, cores: Int) {
        let budget = CPUBudget.current()
        return (EngineThreads.plan(threadsInUse: workers * threadsPerWorker, budget: budget), budget.cores)
    }

    /// The BLAS library and CPU this process multiplies with.
    public var kernelFields: [String: Any] { KernelReport.current().fields }

    /// The architecture, for /info.
    public var modelFields: [String: Any] {
        let c = weights.config
        return ["d_model": c.dModel, "d_ff": c.dFF, "d_kv": c.dKV, "num_heads": c.numHeads,
                "num_layers": c.numLayers, "num_decoder_layers": c.numDecoderLayers, "vocab_size": c.vocabSize,
                "feed_forward_proj": c.feedForwardProj, "tie_word_embeddings": c.tieWordEmbeddings,
                "weight_matrix_bytes": weights.matrixBytes]
            .merging(reducedPrecisionFields) { a, _ in a }
    }

    /// With int8 weights: the kernel that runs, and whether it is the plain reference loop (a CPU without
    /// AVX2 or VNNI, where int8 is slower than F32); with bf16: whether products run in bf16 (AVX-512 BF16) or
    /// widen to F32.
    var reducedPrecisionFields: [String: Any] {
        if let products = weights.bf16Products { return ["bf16_kernel": products ? "avx512_bf16" : "widened_f32"] }
        guard let kernel = weights.int8Kernel else { return [:] }
        return ["int8_kernel": kernel.rawValue, "int8_kernel_is_reference": kernel.isReference]
    }
}
