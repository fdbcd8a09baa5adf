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
/// α = 0 is the raw likelihood, α = 1 pointwise mutual information; the model's
/// `instructrec.json` carries the α chosen on its validation split.
///
/// How much to trust the likelihood depends on whether the model knows the titles: for titles
/// it learned (its catalog) the raw likelihood carries real popularity and a small α is best;
/// for titles it never saw (newer games, another store's spelling) the likelihood is mostly
/// surface form and α near 1 is best (validation, `scripts/eval/select_scoring.py`). The model tells
/// the two apart itself: its prior per token is high for titles it memorised. So a model may set
/// a second weight, and each request gets one α from its candidates' familiarity, the median of
/// their priors per token m:
///
///     α = α_familiar + (α_unfamiliar − α_familiar) · σ((τ − m) / 0.25)
///
/// One α per request keeps the candidates of a request comparable with each other (a per-title
/// α was measured worse on every setting than either weight alone: α scales priors that differ
/// by tens of nats between titles, so unequal weights reorder candidates by their priors). The
/// median is over the candidate set, so the α, like everything else, ignores the order.
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
    /// α, the weight of the prior subtracted in `calibrated` mode (for familiar candidates when
    /// `unfamiliarPriorWeight` is set)
    public var priorWeight: Float
    /// α for a request whose candidates the model finds unfamiliar; nil: `priorWeight` always
    public var unfamiliarPriorWeight: Float?
    /// τ: the median prior log-probability per token below which a request's candidates count as unfamiliar
    public var familiarityThreshold: Float
    /// the logistic's width, in nats per token: the catalog's medians sit above −4.7 for nine
    /// requests in ten and rewritten titles' below −5.4, so α moves within that gap
    public static let familiaritySpread: Float = 0.25

    /// The α a request or a model may name.
    public static let priorWeightRange: ClosedRange<Float> = 0...2

    public init(mode: Mode = .sum, priorWeight: Float = 0, unfamiliarPriorWeight: Float? = nil, familiarityThreshold: Float = -5) {
        self.mode = mode
        self.priorWeight = priorWeight
        self.unfamiliarPriorWeight = unfamiliarPriorWeight
        self.familiarityThreshold = familiarityThreshold
    }

    /// How the token log-probabilities of one title are reduced (the prior uses the same).
    public var reduction: ScoreReduction { mode == .mean ? .mean : .sum }

    /// Whether the title prior must be computed at all.
    public var usesPrior: Bool { mode == .calibrated && (priorWeight != 0 || (unfamiliarPriorWeight ?? 0) != 0) }
}
