extension ScoreReduction {
    /// log P(title + </s> | instruction) = Σ of the per-token log-probabilities: InstructRec's
    /// ranking score (the paper's likelihood of the candidate given the instruction). Summed in
    /// double so the order of summation (a lane's, a batch's) stays out of the result.
    public static func sum(_ tokenLogProbabilities: [Float]) -> Float {
        Float(tokenLogProbabilities.reduce(0.0) { $0 + Double($1) })
    }
}
