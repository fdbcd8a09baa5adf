/// How the engine's raw outputs for one candidate become the one number it ranks by.
///
/// The engine returns per-token log-probabilities for a teacher-forced title
/// (`GroupScores.tokenLogProbabilities`: its title's tokens, then </s>) and the readout logits for
/// a pointwise model; reducing them is InstructRec's, so a new reduction never changes the engine
/// (as in CTranslate2, where the cumulated and normalised scores are views of the per-token ones).
/// One file per reduction:
///
///     ScoreReduction+Sum.swift          log P(title + </s> | instruction)        the InstructRec score
///     ScoreReduction+Mean.swift         the same per scored token                length-normalised
///     ScoreReduction+Calibrated.swift   sum − α · title prior                    `Scoring`'s calibrated mode
///     ScoreReduction+YesNo.swift        logit(yes) − logit(no)                   pointwise yes/no readouts
///
/// The cases are the reductions of one token sequence; calibrated scoring combines two of them
/// (a likelihood and a prior, each reduced with `Scoring.reduction`), and a yes/no readout reduces
/// two logits (`PointwiseReadout.score`).
public enum ScoreReduction: String, Sendable, CaseIterable {
    /// log p(title + </s> | instruction): the InstructRec ranking score
    case sum
    /// the same divided by the number of scored tokens (length-normalised)
    case mean

    /// One candidate's value from its per-token log-probabilities.
    public func reduce(_ tokenLogProbabilities: [Float]) -> Float {
        switch self {
        case .sum: return Self.sum(tokenLogProbabilities)
        case .mean: return Self.mean(tokenLogProbabilities)
        }
    }
}
