import Foundation

/// How a ranking turns the model's token log-probabilities into one score per
/// candidate: the `scoring` field of a request, or the model's default.
///
/// `calibrated` answers surface-form competition (Holtzman et al. 2021; Zhao et al.
/// 2021, "Calibrate Before Use"): log P(title | instruction) favours short, common-looking
/// titles whatever the instruction says, so the score subtracts a weighted title prior,
/// the title's log-likelihood under the same template with an empty context:
///
///     score = log P(title | instruction) − α · log P(title | template, empty context)
///
/// α = 0 is the raw likelihood, α = 1 pointwise mutual information (PMI).
///
/// A score, and the relevance made from it, belongs to the (context, candidate) pair alone: α may
/// depend on the context, never on the other candidates of the request, their number or their order
/// (so a threshold on `relevance_score` means the same in every request). Two kinds of context want
/// different weights, and a model may set one for each:
///
/// - a history alone (`/recommend`): the raw likelihood carries real popularity, which predicts the
///   next item, so a small α is best (`prior_weight`; the default model's was chosen on its validation
///   split, `scripts/eval/select_scoring.py`);
/// - the user's own words, an intention or a stated preference (`/search`, `/rerank`, the Cohere,
///   Jina and TEI shapes): relevance to the words is the point and a title's popularity and length
///   are noise, so α near 1 (`query_prior_weight`; PMI by default).
///
/// An α that followed the candidates' familiarity (their median prior per token) was tried and
/// dropped: it made a document's score depend on its company.
public struct Scoring: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// log P(title + </s> | instruction): the InstructRec ranking score
        case sum
        /// the same divided by the number of scored tokens (length-normalised)
        case mean
        /// `sum` minus α times the title prior
        case calibrated
    }

    public var mode: Mode
    /// α, the weight of the prior subtracted in `calibrated` mode, for a context that is a history alone
    public var priorWeight: Float
    /// α for a context with the user's words (an intention or a preference); nil: `priorWeight`
    public var queryPriorWeight: Float?

    /// The α a request or a model may name.
    public static let priorWeightRange: ClosedRange<Float> = 0...2

    public init(mode: Mode = .sum, priorWeight: Float = 0, queryPriorWeight: Float? = nil) {
        self.mode = mode
        self.priorWeight = priorWeight
        self.queryPriorWeight = queryPriorWeight
    }

    /// How the token log-probabilities of one title are reduced (the prior uses the same).
    public var reduction: ScoreReduction { mode == .mean ? .mean : .sum }

    /// Whether the title prior must be computed at all.
    public var usesPrior: Bool { mode == .calibrated && (priorWeight != 0 || (queryPriorWeight ?? 0) != 0) }

    /// This scoring for one context: α is the context kind's, and the only one.
    public func resolved(for kind: ContextKind) -> Scoring {
        guard kind == .query, let queryPriorWeight else { return Scoring(mode: mode, priorWeight: priorWeight) }
        return Scoring(mode: mode, priorWeight: queryPriorWeight)
    }
}

/// What a context gives the model to go on, which decides its α and its relevance mapping.
public enum ContextKind: String, Sendable, CaseIterable {
    /// a history (and nothing said): what the user will want next
    case history
    /// the user's words, an intention or a stated preference, with or without a history
    case query
}

extension UserContext {
    /// `query` when the user said something (an intention or a preference), else `history`.
    public var kind: ContextKind { intention != nil || preference != nil ? .query : .history }
}
