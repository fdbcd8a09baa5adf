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
/// One α for every title of a request: a per-title α (larger for titles the model finds
/// unfamiliar, by their prior per token) was tried and measured worse on every validation
/// setting than either of its two weights alone (`scripts/select_scoring.py`, README): α
/// scales a prior that differs by tens of nats between titles, so unequal weights reorder
/// candidates by their priors rather than by the context.
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
    /// α, the weight of the prior subtracted in `calibrated` mode
    public var priorWeight: Float

    /// The α a request or a model may name.
    public static let priorWeightRange: ClosedRange<Float> = 0...2

    public init(mode: Mode = .sum, priorWeight: Float = 0) {
        self.mode = mode
        self.priorWeight = priorWeight
    }

    /// How the token log-probabilities of one title are reduced (the prior uses the same).
    public var reduction: ScoreReduction { mode == .mean ? .mean : .sum }

    /// Whether the title prior must be computed at all.
    public var usesPrior: Bool { mode == .calibrated && priorWeight != 0 }

    /// The score a candidate ranks by, from its likelihood and (calibrated) its prior.
    public func combine(likelihood: Float, prior: Float?) -> Float {
        guard usesPrior, let prior else { return likelihood }
        return likelihood - priorWeight * prior
    }
}
