import Dispatch
import Foundation
import InstructRec
import Tokenizer

/// The one rank pipeline: plan → score → rank. HTTP (through the inference
/// queue), `instructrec score` and `instructrec eval` all call it; decoding and
/// responding belong to the API shapes around it.
public struct RankPipeline: Sendable {
    public let builder: InstructionBuilder
    /// the scoring a request gets when it names none (the model's `scoring` and `prior_weight`)
    public let defaultScoring: Scoring
    /// what relevance_score means by default, with the model's fitted scale and bias
    public let relevance: Relevance
    /// title priors for calibrated scoring, shared by every request of this model
    public let priors: TitlePriorCache
    /// an instruction's candidates are scored in chunks of at most this many instruction + title
    /// tokens (one engine pass), so a 1,000-candidate request is several bounded passes
    public let maxGroupTokens: Int

    public init(builder: InstructionBuilder, defaultScoring: Scoring = Scoring(), relevance: Relevance = Relevance(),
                priors: TitlePriorCache = TitlePriorCache(), maxGroupTokens: Int = 2048) {
        self.builder = builder
        self.defaultScoring = defaultScoring
        self.relevance = relevance
        self.priors = priors
        self.maxGroupTokens = maxGroupTokens
    }

    /// Templates, instruction options and scoring defaults from a configuration (model-bound settings applied).
    public init(configuration: ServiceConfiguration, tokenizer: Tokenizer) throws {
        let templates = try TemplateSet(contentsOf: URL(fileURLWithPath: configuration.templates))
        self.init(builder: InstructionBuilder(templates: templates, tokenizer: tokenizer, options: configuration.instructionOptions),
                  defaultScoring: configuration.defaultScoring, relevance: configuration.relevance,
                  priors: TitlePriorCache(maxEntries: configuration.priorCacheEntries, maxBytes: configuration.priorCacheBytes),
                  maxGroupTokens: configuration.maxBatchTokens)
    }

    /// The request's scoring with the model's defaults filled in. A request's `prior_weight` is its α,
    /// whatever its candidates' familiarity (the model's two weights apply only when it names none).
    public func scoring(for query: RankQuery) -> Scoring {
        var scoring = defaultScoring
        if let mode = query.scoring { scoring.mode = mode }
        if let weight = query.priorWeight {
            scoring.priorWeight = weight
            scoring.unfamiliarPriorWeight = nil
        }
        return scoring
    }

    /// Tokenization and instruction fitting: CPU work that runs before the
    /// inference queue (off the connection's queue).
    public func plan(_ query: RankQuery) throws -> InstructionPlan {
        var plan = try builder.plan(context: query.context, candidates: query.candidates, template: query.template)
        if let cap = query.maxTargetTokens, cap < builder.options.maxTargetTokens {
            plan.targets = plan.targets.map { Array($0.prefix(cap)) }
        }
        return plan
    }

    /// What the scorer is asked for a plan (cache lookups for calibrated scoring happen here).
    public func work(_ query: RankQuery, plan: InstructionPlan) -> ScoringWork {
        Reranker.work(plan, scoring: scoring(for: query), priors: priors, maxGroupTokens: maxGroupTokens)
    }

    /// Scores a plan and ranks it (ties keep input order).
    public func score(_ query: RankQuery, plan: InstructionPlan, scorer: any CandidateScorer) throws -> RankOutcome {
        let work = work(query, plan: plan)
        let (scores, usage) = try Reranker.merge(plan, work, scorer.score(work.groups), priors: priors)
        return rank(query, plan: plan, scores: scores, usage: usage)
    }

    /// Ranks a plan's scores (from `score`, or from a batch the inference queue scored).
    public func rank(_ query: RankQuery, plan: InstructionPlan, scores: CandidateScores, usage: RankingUsage) -> RankOutcome {
        var relevance = self.relevance
        if let mode = query.relevance { relevance.mode = mode }
        var ranked = Reranker.rank(scores: scores.scores, ids: query.candidates.map(\.id), relevance: relevance)
        if let topN = query.topN, topN < ranked.count { ranked = Array(ranked.prefix(max(0, topN))) }
        var timing = RankOutcome.Timing()
        timing.encode = usage.encodeSeconds * 1e3
        timing.decode = usage.decodeSeconds * 1e3
        var scoring = scoring(for: query)
        if let used = scores.priorWeight { scoring.priorWeight = used }   // the α this request's scores subtracted
        return RankOutcome(plan: plan, scoring: scoring, scores: scores.scores, components: scores, ranked: ranked,
                           usage: usage, timing: timing, requestID: "")
    }

    /// Computes and caches the title priors of a catalog for the templates requests get by default (a
    /// history-only and a query-only context, in the model's instruction form), `batch` titles per
    /// scorer call; stops once the cache is full. Returns the priors computed.
    @discardableResult
    public func warmPriors(titles: [String], scorer: any CandidateScorer, batch: Int = 512) throws -> Int {
        guard defaultScoring.usesPrior, priors.maxEntries > 0 else { return 0 }
        let contexts = [UserContext(history: [Item(id: "", title: "x")]), UserContext(intention: "x")]
        let tokenizer = builder.tokenizer
        let targets = titles.map { Array(tokenizer.encode($0, addEOS: false).prefix(builder.options.maxTargetTokens)) }
        var computed = 0
        for context in contexts {
            let template = try builder.templates.template(named: nil, for: context, form: builder.options.form)
            let instruction = builder.priorInstruction(for: template)
            for start in stride(from: 0, to: targets.count, by: max(1, batch)) {
                if priors.current.entries >= priors.maxEntries { return computed }
                let chunk = Array(targets[start..<min(targets.count, start + max(1, batch))])
                let work = Reranker.priorWork(instruction: instruction, titles: chunk, priors: priors, maxGroupTokens: maxGroupTokens)
                let empty = InstructionPlan(template: template.name, groups: [], targets: [], historyItemsUsed: 0,
                                            historyItemsDropped: 0, historyItemsTrimmed: 0, historyTitlesShortened: 0)
                let (_, usage) = try Reranker.merge(empty, work, scorer.score(work.groups), priors: priors)
                computed += usage.priorsComputed
            }
        }
        return computed
    }

    /// Plan and score in the caller's thread (CLI, eval).
    public func run(_ query: RankQuery, scorer: any CandidateScorer) throws -> RankOutcome {
        let start = DispatchTime.now()
        let plan = try self.plan(query)
        let planned = DispatchTime.now()
        var outcome = try score(query, plan: plan, scorer: scorer)
        outcome.timing.tokenize = milliseconds(start, planned)
        outcome.timing.total = milliseconds(start, .now())
        return outcome
    }
}

func milliseconds(_ from: DispatchTime, _ to: DispatchTime) -> Double {
    Double(to.uptimeNanoseconds &- from.uptimeNanoseconds) / 1e6
}
