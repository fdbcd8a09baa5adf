/// How a candidate's token log-probabilities (its title's tokens, then </s>) become one number.
/// The engine returns the per-token log-probabilities (`GroupScores.tokenLogProbabilities`);
/// reducing them is InstructRec's, here, so a new reduction never changes the engine. Calibrated
/// scoring combines two reduced likelihoods (`Scoring.combine`); pointwise models read logits
/// instead (`PointwiseReadout.score`).
public enum ScoreReduction: String, Sendable, CaseIterable {
    /// log p(title + </s> | instruction): the InstructRec ranking score
    case sum
    /// the same divided by the number of scored tokens (length-normalised)
    case mean

    /// One candidate's value, summed in double so the order of summation stays out of it.
    public func reduce(_ tokenLogProbabilities: [Float]) -> Float {
        let total = tokenLogProbabilities.reduce(0.0) { $0 + Double($1) }
        switch self {
        case .sum: return Float(total)
        case .mean: return Float(total / Double(max(1, tokenLogProbabilities.count)))
        }
    }
}
