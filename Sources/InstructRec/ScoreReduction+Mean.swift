extension ScoreReduction {
    /// The sum per scored token (title tokens and </s>): a length-normalised likelihood, which
    /// stops short titles winning only by having fewer tokens to pay for. An empty sequence
    /// (no scored token) is 0, never a division by zero.
    public static func mean(_ tokenLogProbabilities: [Float]) -> Float {
        let total = tokenLogProbabilities.reduce(0.0) { $0 + Double($1) }
        return Float(total / Double(max(1, tokenLogProbabilities.count)))
    }
}
