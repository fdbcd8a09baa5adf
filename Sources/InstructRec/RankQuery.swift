
/// What every API shape's request becomes: the user context, the candidates
/// and the scoring options. The pipeline knows nothing about the shape it came from.
public struct RankQuery: Sendable {
    public var context: UserContext
    public var candidates: [Item]
    /// a template name; nil: the ⟨P, I⟩ combination present picks one
    public var template: String?
    /// `scoring` (sum, mean, calibrated); nil: the model's default
    public var scoring: Scoring.Mode?
    /// α for calibrated scoring; nil: the model's
    public var priorWeight: Float?
    /// what relevance_score means; nil: the deployment's default (logistic)
    public var relevance: Relevance.Mode?
    /// results kept after ranking; nil or more than the candidates: all
    public var topN: Int?
    /// candidate titles are scored on at most this many tokens (Cohere's max_tokens_per_doc),
    /// never more than the model's max_target_tokens
    public var maxTargetTokens: Int?
    /// a document longer than a pointwise model's input: windows (nil: the default) or one window from
    /// the start or the end (TEI's truncate + truncation_direction); for likelihood scoring, keep_end
    /// keeps a long title's last tokens
    public var truncation: DocumentTruncation?
    /// pointwise: at most this many windows per document (Cohere v1's max_chunks_per_doc)
    public var maxWindows: Int?
    /// per-request deadline, capped by the service's request_timeout_ms
    public var timeoutMilliseconds: Int?
    /// leave out the candidates the history holds (`HistoryExclusion`); nil: the model's `exclude_history`
    public var excludeHistory: Bool?

    public init(context: UserContext, candidates: [Item], template: String? = nil, scoring: Scoring.Mode? = nil,
                priorWeight: Float? = nil, relevance: Relevance.Mode? = nil,
                topN: Int? = nil, maxTargetTokens: Int? = nil, timeoutMilliseconds: Int? = nil) {
        self.context = context
        self.candidates = candidates
        self.template = template
        self.scoring = scoring
        self.priorWeight = priorWeight
        self.relevance = relevance
        self.topN = topN
        self.maxTargetTokens = maxTargetTokens
        self.timeoutMilliseconds = timeoutMilliseconds
    }
}
