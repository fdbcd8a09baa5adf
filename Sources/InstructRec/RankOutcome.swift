
/// A scored and ranked query: what every shape's response is made from.
public struct RankOutcome: Sendable {
    public var plan: InstructionPlan
    /// the scoring the ranking used (the request's, else the model's default)
    public var scoring: Scoring
    /// the model's scorer (pointwise ones ignore `scoring`)
    public var scorer: ScorerKind = .likelihood
    /// what `RankedCandidate.relevance` means for this request
    public var relevance: Relevance.Mode = .logistic
    /// one per candidate, in input order: what they rank by
    public var scores: [Float]
    /// one per candidate, in input order: the likelihoods and (calibrated) priors the scores came from
    public var components: CandidateScores
    /// best first, cut to top_n
    public var ranked: [RankedCandidate]
    public var usage: RankingUsage
    public var timing: Timing
    /// X-Request-ID over HTTP, "cli" for `instructrec score`
    public var requestID: String
    /// the context's relevance offset (`RelevanceReference`): the logistic reads score − offset; 0 without references
    public var relevanceOffset: Float = 0

    public init(plan: InstructionPlan, scoring: Scoring, scorer: ScorerKind = .likelihood, relevance: Relevance.Mode = .logistic,
                scores: [Float], components: CandidateScores, ranked: [RankedCandidate], usage: RankingUsage, timing: Timing,
                requestID: String) {
        self.plan = plan
        self.scoring = scoring
        self.scorer = scorer
        self.relevance = relevance
        self.scores = scores
        self.components = components
        self.ranked = ranked
        self.usage = usage
        self.timing = timing
        self.requestID = requestID
    }

    /// Milliseconds per stage.
    public struct Timing: Sendable, Encodable {
        public var queue = 0.0
        public var tokenize = 0.0
        public var encode = 0.0
        public var decode = 0.0
        public var total = 0.0

        public init(queue: Double = 0, tokenize: Double = 0, encode: Double = 0, decode: Double = 0, total: Double = 0) {
            self.queue = queue
            self.tokenize = tokenize
            self.encode = encode
            self.decode = decode
            self.total = total
        }

        /// rounded to 0.01 ms for the response
        public var rounded: Timing {
            func r(_ x: Double) -> Double { (x * 100).rounded() / 100 }
            return Timing(queue: r(queue), tokenize: r(tokenize), encode: r(encode), decode: r(decode), total: r(total))
        }
    }
}
