/// What a served model offers the layers above its engine: scorers for its groups (`CandidateScorer`),
/// a description of itself (/info), its weights' bytes and the compute kernels it runs on. T5
/// (`ScoringEngine`, in T5Scoring) is the first; the service's `ServingModel` and eval hold a model only
/// as `any ScoringModel`, so a second family, or a second model beside the first, is another value of it.
public protocol ScoringModel: AnyObject, Sendable {
    /// A new scorer with its own scratch over this model's weights: `threads` of its own per call,
    /// `passTokens` instruction + candidate tokens per engine pass, `reserve`: scratch for a full pass now.
    func makeScorer(threads: Int, passTokens: Int, reserve: Bool) -> any CandidateScorer
    /// token ids the model embeds (a tokenizer with more would index past it)
    var vocabularySize: Int { get }
    /// the engine's limits on one call's instruction and candidate tokens (the queue caps batches by them)
    var maxInstructionTokensPerCall: Int { get }
    var maxCandidateTokensPerCall: Int { get }
    /// what the model is, for /info (architecture, sizes)
    var modelFields: [String: Any] { get }
    /// bytes its weights hold in memory
    var weightBytes: Int { get }
    /// the compute kernels it runs on and why, for the start-up log and /info
    var kernelFields: [String: Any] { get }
    /// its cache of encoded contexts, for /metrics (nil: it keeps none)
    var contextCacheCounts: ContextCacheCounts? { get }
    /// the id that ends a sequence for it (nil: it does not say); a tokenizer whose `</s>` differs is not its own
    var endOfSequenceID: Int32? { get }
}

/// A model's cache of encoded contexts (instructions whose encoder pass and cross-attention K/V are kept):
/// what /metrics shows.
public struct ContextCacheCounts: Sendable, Equatable {
    public var hits: Int, misses: Int, evictions: Int, entries: Int, bytes: Int, capacityBytes: Int
    public init(hits: Int, misses: Int, evictions: Int, entries: Int, bytes: Int, capacityBytes: Int) {
        (self.hits, self.misses, self.evictions, self.entries, self.bytes, self.capacityBytes) = (hits, misses, evictions, entries, bytes, capacityBytes)
    }
}

extension ScoringModel {
    public var contextCacheCounts: ContextCacheCounts? { nil }
    public var endOfSequenceID: Int32? { nil }

    /// A scorer with the default pass size, growing its scratch as calls need it.
    public func makeScorer(threads: Int) -> any CandidateScorer {
        makeScorer(threads: threads, passTokens: 2048, reserve: false)
    }

    public func makeScorer(threads: Int, passTokens: Int) -> any CandidateScorer {
        makeScorer(threads: threads, passTokens: passTokens, reserve: false)
    }
}
