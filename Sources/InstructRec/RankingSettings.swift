/// Everything a `RankPipeline` is configured by: the model-bound settings (templates, instruction
/// limits, scoring, relevance, the scorer kind) and the prior cache's bounds. The service builds one
/// from its configuration (`ServiceConfiguration.rankingSettings`); eval and tests may build their own.
public struct RankingSettings: Sendable {
    /// the template set's file (templates.json)
    public var templates = "config/templates.json"
    public var instruction = InstructionOptions()
    /// the scoring of a request that names none (mode, α per context kind)
    public var scoring = Scoring()
    /// relevance_score's default meaning with the model's fitted logistics
    public var relevance = Relevance()
    /// leave out candidates the request's history holds, when a request does not say
    public var excludeHistory = false
    /// titles scored beside candidate-free requests with the user's words (`RelevanceReference`)
    public var relevanceReferenceTitles: [String] = []
    /// how the model scores candidates (likelihood, or pointwise: monot5, rankt5, yes_no)
    public var scorer = ScorerKind.likelihood
    /// scorer yes_no: the query template and the two vocabulary pieces it reads (nil: the defaults)
    public var yesNoTemplate: String?
    public var yesToken: String?
    public var noToken: String?
    /// the title-prior cache's bounds
    public var priorCacheEntries = 200_000
    public var priorCacheBytes = 64 << 20
    /// an instruction's candidates are scored in chunks of at most this many instruction + title tokens
    public var maxGroupTokens = 2048

    public init() {}
}
