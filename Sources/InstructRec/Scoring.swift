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
/// One α does not fit every title. For titles the model learned (its catalog), the raw
/// likelihood carries real popularity and co-occurrence knowledge and a small α is best;
/// for titles it never saw (another store's spelling, a newer game) the likelihood is
/// mostly surface form and α near 1 is best (measured: `scripts/select_scoring.py`).
/// The model itself tells the two apart: its prior per token is high for titles it
/// memorised and low for unfamiliar ones. So a model may set a second weight for
/// unfamiliar titles, and α moves between the two along a logistic of the prior per token:
///
///     α(t) = α + (α_unfamiliar − α) · σ((τ − prior(t) / tokens(t)) / 0.5)
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
    /// α, the weight of the prior subtracted in `calibrated` mode (for familiar titles when
    /// `unfamiliarPriorWeight` is set)
    public var priorWeight: Float
    /// α for titles the model finds unfamiliar; nil: `priorWeight` for every title
    public var unfamiliarPriorWeight: Float?
    /// τ: the prior log-probability per token below which a title counts as unfamiliar (the logistic's midpoint)
    public var familiarityThreshold: Float
    /// the logistic's width in nats per token: wide enough that α moves smoothly across the
    /// catalog's and the unfamiliar titles' overlapping ranges (their deciles overlap by ~2 nats)
    public static let familiaritySpread: Float = 0.5

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

    /// α for a title whose prior (this scoring's reduction) covers `tokens` scored tokens.
    public func weight(prior: Float, tokens: Int) -> Float {
        guard let unfamiliar = unfamiliarPriorWeight else { return priorWeight }
        let perToken = reduction == .mean ? prior : prior / Float(max(1, tokens))
        let unfamiliarity = 1 / (1 + exp((perToken - familiarityThreshold) / Self.familiaritySpread))
        return priorWeight + (unfamiliar - priorWeight) * unfamiliarity
    }

    /// The score a candidate ranks by, from its likelihood and (calibrated) its prior.
    public func combine(likelihood: Float, prior: Float?, tokens: Int) -> Float {
        guard usesPrior, let prior else { return likelihood }
        return likelihood - weight(prior: prior, tokens: tokens) * prior
    }
}
