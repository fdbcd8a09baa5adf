/// How per-token log-probabilities become one candidate score.
public enum ScoreReduction: String, Sendable, CaseIterable {
    /// log p(title + </s> | instruction): the InstructRec ranking score
    case sum
    /// the same divided by the number of scored tokens (length-normalised)
    case mean
}
