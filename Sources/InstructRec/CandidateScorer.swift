/// One instruction and the candidate titles scored against it: what a model
/// sees of one `InstructionPlan.Group`.
public struct ScoringGroup: Sendable, Equatable {
    /// instruction token ids as the tokenizer produced them (</s> included)
    public var instruction: [Int32]
    /// per candidate: title token ids, without </s> (the scorer adds it)
    public var candidates: [[Int32]]
    /// nil: the candidates' title likelihoods. Set: a pointwise group (MonoT5, RankT5, yes/no): the
    /// instruction is one candidate's own input (a document window), `candidates` is empty, and the
    /// answer is the logits of these vocabulary ids at the first decoder step (`GroupScores.logits`).
    public var readout: [Int32]?

    public init(instruction: [Int32], candidates: [[Int32]]) {
        self.instruction = instruction
        self.candidates = candidates
        self.readout = nil
    }

    /// A pointwise group (see `readout`).
    public init(instruction: [Int32], readout: [Int32]) {
        self.instruction = instruction
        self.candidates = []
        self.readout = readout
    }
}

/// What the scorer found for one `ScoringGroup`: what the model said, not a score. Reductions
/// (`ScoreReduction`, `Scoring`, `PointwiseReadout`) turn it into scores.
public struct GroupScores: Sendable, Equatable {
    /// per candidate, in the group's order: log p of each title token, then of </s>
    public var tokenLogProbabilities: [[Float]]
    /// a pointwise group: the logits of its readout ids, in the readout's order
    public var logits: [Float] = []
    /// this group's share of the call's encoder and decoder time
    public var encodeSeconds: Double
    public var decodeSeconds: Double

    public init(tokenLogProbabilities: [[Float]], logits: [Float] = [], encodeSeconds: Double = 0, decodeSeconds: Double = 0) {
        self.tokenLogProbabilities = tokenLogProbabilities
        self.logits = logits
        self.encodeSeconds = encodeSeconds
        self.decodeSeconds = decodeSeconds
    }
}

/// A model that scores candidate titles by their log-likelihood given an
/// instruction. Everything above the engine (the reranker, the service's
/// inference queue, eval) knows scorers only through this protocol; the T5
/// engine conforms in the `T5Scoring` module.
///
/// The entry point takes several groups at once, possibly from several
/// requests, so a worker can score whatever is waiting in one call.
///
/// Contract:
/// - returns one result per group, in order; a success holds each candidate's token
///   log-probabilities, or for a pointwise group (`readout` set) one logit per readout id;
/// - a group with no candidates and no readout succeeds with no scores (and costs nothing);
/// - failures are per group: `InstructRecError.scoringInput` (the caller's tokens
///   cannot be scored: 4xx) or `InstructRecError.scoringFailed` (the model failed:
///   5xx). One group's bad input never fails the other groups of the call, which
///   may belong to other requests;
/// - one thread at a time per scorer (it owns scratch memory); it may move
///   between threads. Give each worker its own scorer.
public protocol CandidateScorer: AnyObject, Sendable {
    func score(_ groups: [ScoringGroup]) -> [Result<GroupScores, InstructRecError>]
}

extension GroupScores {
    /// Each candidate's whole log-probability as a single token (scorers that know only a total: fakes in tests).
    public init(scores: [Float], encodeSeconds: Double = 0, decodeSeconds: Double = 0) {
        self.init(tokenLogProbabilities: scores.map { [$0] }, encodeSeconds: encodeSeconds, decodeSeconds: decodeSeconds)
    }
}
