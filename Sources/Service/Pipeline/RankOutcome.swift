import InstructRec

/// A scored and ranked query: what every shape's response is made from.
public struct RankOutcome: Sendable {
    public var plan: InstructionPlan
    /// one per candidate, in input order
    public var scores: [Float]
    /// best first, cut to top_n
    public var ranked: [RankedCandidate]
    public var usage: RankingUsage
    public var timing: Timing
    /// X-Request-ID over HTTP, "cli" for `instructrec score`
    public var requestID: String

    /// Milliseconds per stage.
    public struct Timing: Sendable, Encodable {
        public var queue = 0.0
        public var tokenize = 0.0
        public var encode = 0.0
        public var decode = 0.0
        public var total = 0.0

        /// rounded to 0.01 ms for the response
        var rounded: Timing {
            func r(_ x: Double) -> Double { (x * 100).rounded() / 100 }
            return Timing(queue: r(queue), tokenize: r(tokenize), encode: r(encode), decode: r(decode), total: r(total))
        }
    }
}
