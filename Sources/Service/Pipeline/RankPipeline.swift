import Dispatch
import Foundation
import InstructRec
import Tokenizer

/// The one rank pipeline: plan → score → rank. HTTP (through the inference
/// queue), `instructrec score` and `instructrec eval` all call it; decoding and
/// responding belong to the API shapes around it.
public struct RankPipeline: Sendable {
    public let builder: InstructionBuilder

    public init(builder: InstructionBuilder) {
        self.builder = builder
    }

    /// Templates and instruction options from a configuration (model-bound settings applied).
    public init(configuration: ServiceConfiguration, tokenizer: Tokenizer) throws {
        let templates = try TemplateSet(contentsOf: URL(fileURLWithPath: configuration.templates))
        self.init(builder: InstructionBuilder(templates: templates, tokenizer: tokenizer, options: configuration.instructionOptions))
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

    /// Scores a plan and ranks it (ties keep input order; relevance = softmax over all candidates).
    public func score(_ query: RankQuery, plan: InstructionPlan, scorer: any CandidateScorer) throws -> RankOutcome {
        let (scores, usage) = try Reranker.score(plan, scorer: scorer, reduction: query.reduction)
        return rank(query, plan: plan, scores: scores, usage: usage)
    }

    /// Ranks a plan's scores (from `Reranker.score`, or from a batch the inference queue scored).
    public func rank(_ query: RankQuery, plan: InstructionPlan, scores: [Float], usage: RankingUsage) -> RankOutcome {
        var ranked = Reranker.rank(scores: scores, ids: query.candidates.map(\.id))
        if let topN = query.topN, topN < ranked.count { ranked = Array(ranked.prefix(max(0, topN))) }
        var timing = RankOutcome.Timing()
        timing.encode = usage.encodeSeconds * 1e3
        timing.decode = usage.decodeSeconds * 1e3
        return RankOutcome(plan: plan, scores: scores, ranked: ranked, usage: usage, timing: timing, requestID: "")
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
