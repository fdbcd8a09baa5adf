import Dispatch
import Foundation
import Tokenizer

/// The one rank pipeline: plan → score → merge → rank. HTTP (through the inference
/// queue), `instructrec score` and `instructrec eval` all call it; decoding and
/// responding belong to the API shapes around it. Configured by `RankingSettings`.
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
    /// a pointwise model's set-up (MonoT5, RankT5, yes/no); nil: titles are scored by likelihood
    public let pointwise: PointwiseScorer?
    /// whether a request that does not say leaves out the candidates its history holds (the model's `exclude_history`)
    public let excludeHistory: Bool
    /// the model's relevance reference titles, scored beside candidate-free requests (see `RelevanceReference`)
    public let reference: RelevanceReference
    /// the offsets the references gave recent contexts, shared by every request of this model
    public let referenceOffsets = ReferenceOffsetCache()

    public init(builder: InstructionBuilder, defaultScoring: Scoring = Scoring(), relevance: Relevance = Relevance(),
                priors: TitlePriorCache = TitlePriorCache(), maxGroupTokens: Int = 2048, pointwise: PointwiseScorer? = nil,
                excludeHistory: Bool = false, reference: RelevanceReference = RelevanceReference(targets: [])) {
        self.builder = builder
        self.defaultScoring = defaultScoring
        self.relevance = relevance
        self.priors = priors
        self.maxGroupTokens = maxGroupTokens
        self.pointwise = pointwise
        self.excludeHistory = excludeHistory
        self.reference = reference
    }

    /// A pipeline as `settings` describe it: the template set read from its file, the pointwise scorer's
    /// tokens resolved (a bad one throws `PointwiseScorer.Invalid` naming the key), the reference titles
    /// tokenized once.
    public init(settings: RankingSettings, tokenizer: Tokenizer) throws {
        // Titles, queries and documents are outside text: a `</s>` in one is characters, never the end of it.
        let tokenizer = tokenizer.readingControlTokensAsText()
        let templates = try TemplateSet(contentsOf: URL(fileURLWithPath: settings.templates))
        let pointwise = try PointwiseScorer.make(kind: settings.scorer, yesNoTemplate: settings.yesNoTemplate,
                                                 yesToken: settings.yesToken, noToken: settings.noToken,
                                                 templates: templates, tokenizer: tokenizer, vocabularySize: tokenizer.vocabularySize)
        // A yes/no readout's relevance is P(yes) itself, RankT5's the raw logit: the likelihood model's
        // fitted logistic does not apply. The deployment may still ask for the softmax.
        var relevance = settings.relevance
        if let pointwise, relevance.mode != .softmax { relevance = pointwise.readout.defaultRelevance }
        let options = settings.instruction
        let reference = RelevanceReference(targets: pointwise != nil ? [] : settings.relevanceReferenceTitles.map {
            Array(tokenizer.encode($0, addEOS: false).prefix(options.maxTargetTokens))
        })
        self.init(builder: InstructionBuilder(templates: templates, tokenizer: tokenizer, options: options),
                  defaultScoring: settings.scoring, relevance: relevance,
                  priors: TitlePriorCache(maxEntries: settings.priorCacheEntries, maxBytes: settings.priorCacheBytes),
                  maxGroupTokens: settings.maxGroupTokens, pointwise: pointwise, excludeHistory: settings.excludeHistory,
                  reference: reference)
    }

    /// The scorer kind requests are ranked with.
    public var scorerKind: ScorerKind { pointwise?.kind ?? .likelihood }

    /// The request's scoring with the model's defaults filled in: one α, the request's `prior_weight`, else
    /// the model's for the request's context kind (see `Scoring`); never anything about its candidates.
    public func scoring(for query: RankQuery) -> Scoring {
        var scoring = defaultScoring.resolved(for: query.context.kind)
        if let mode = query.scoring { scoring.mode = mode }
        if let weight = query.priorWeight { scoring.priorWeight = weight }
        return scoring
    }

    /// What relevance_score means for this request: its mode, else the model's, with the logistic of its context kind.
    public func relevance(for query: RankQuery) -> Relevance {
        var relevance = self.relevance.resolved(for: query.context.kind)
        if let mode = query.relevance { relevance.mode = mode }
        return relevance
    }

    /// Tokenization and instruction fitting: CPU work that runs before the
    /// inference queue (off the connection's queue).
    ///
    /// A query too long for any instruction is refused, unless the request asks for truncation (TEI's
    /// `truncate: true`, which cuts the query-document pair to the model's input): then the query keeps as
    /// many of its tokens as still fit, its first ones (`truncation_direction: Right`) or its last (`Left`),
    /// and the plan counts the tokens dropped.
    public func plan(_ query: RankQuery) throws -> InstructionPlan {
        do {
            return try fittedPlan(query)
        } catch let InstructRecError.instructionTooLong(field, tokens, limit) where field == "query" && query.truncation != nil {
            guard let intention = query.context.intention else { throw InstructRecError.instructionTooLong(field: field, tokens: tokens, limit: limit) }
            let ids = builder.tokenizer.encode(intention, addEOS: false)
            let keepsEnd = query.truncation == .keepEnd
            func shortened(_ kept: Int) -> RankQuery {
                var shorter = query
                shorter.context.intention = builder.tokenizer.decode(Array(keepsEnd ? ids.suffix(kept) : ids.prefix(kept)))
                return shorter
            }
            // The longest query that fits: fitting is monotone in the query's length, so a binary search over it.
            var low = 1, high = ids.count - 1, best: InstructionPlan?, bestKept = 0
            while low <= high {
                let kept = (low + high) / 2
                if let plan = try? fittedPlan(shortened(kept)) {
                    (best, bestKept, low) = (plan, kept, kept + 1)
                } else {
                    high = kept - 1
                }
            }
            guard var plan = best else { throw InstructRecError.instructionTooLong(field: field, tokens: tokens, limit: limit) }
            plan.queryTokensDropped = ids.count - bestKept
            return plan
        }
    }

    private func fittedPlan(_ query: RankQuery) throws -> InstructionPlan {
        if let pointwise {
            // Likelihood-only fields are refused rather than ignored: a client asking for them expects their effect.
            let scorer = pointwise.kind.rawValue
            if query.scoring != nil {
                throw InstructRecError.unsupportedField(field: "$.scoring", reason: "this model scores pointwise (scorer \(scorer)); sum, mean and calibrated apply to likelihood models")
            }
            if query.priorWeight != nil {
                throw InstructRecError.unsupportedField(field: "$.prior_weight", reason: "this model scores pointwise (scorer \(scorer)); prior_weight applies to calibrated likelihood scoring")
            }
            if query.template != nil {
                throw InstructRecError.unsupportedField(field: "$.template", reason: "this model scores pointwise (scorer \(scorer)) with its own input template")
            }
            return try builder.pointwisePlan(context: query.context, candidates: query.candidates, scorer: pointwise,
                                             truncation: query.truncation ?? .windows, maxDocumentTokens: query.maxTargetTokens,
                                             maxWindows: query.maxWindows)
        }
        var plan = try builder.plan(context: query.context, candidates: query.candidates, template: query.template)
        let cap = min(query.maxTargetTokens ?? .max, builder.options.maxTargetTokens)
        // The request's cap and keep_end cut the plan's own title tokens (never tokenized again).
        if query.truncation == .keepEnd {
            // Titles over the cap keep their last tokens (TEI's truncation_direction Left).
            plan.targets = plan.titleTokens.map { Array($0.suffix(cap)) }
        } else if cap < builder.options.maxTargetTokens {
            plan.targets = plan.targets.map { Array($0.prefix(cap)) }
        }
        if cap < builder.options.maxTargetTokens || query.truncation == .keepEnd {
            plan.documentsTruncated = plan.titleTokens.filter { $0.count > cap }.count
        }
        // The relevance references go beside the candidates of a candidate-free instruction (its one group) with
        // the user's words (see `RelevanceReference` for why a query context only).
        if !reference.isEmpty, query.context.kind == .query, relevance(for: query).mode == .logistic,
           TemplateSet.isCandidateFree(plan.template), plan.groups.count == 1 {
            if let known = referenceOffsets.offset(for: referenceKey(query, plan: plan)) {
                plan.referenceOffset = known
            } else {
                plan.groups[0].candidates += plan.targets.count..<(plan.targets.count + reference.targets.count)
                plan.targets += reference.targets
                plan.referenceTargets = reference.targets.count
            }
        }
        return plan
    }

    /// What a context's relevance offset depends on: its instruction and the scoring its scores use.
    func referenceKey(_ query: RankQuery, plan: InstructionPlan) -> ReferenceOffsetCache.Key {
        let scoring = scoring(for: query)
        return ReferenceOffsetCache.Key(instruction: plan.groups.first?.tokens ?? [], mode: scoring.mode,
                                        priorWeight: scoring.usesPrior ? scoring.priorWeight : 0)
    }

    /// What the scorer is asked for a plan (cache lookups for calibrated scoring happen here).
    public func work(_ query: RankQuery, plan: InstructionPlan) -> ScoringWork {
        Reranker.work(plan, scoring: scoring(for: query), priors: priors, maxGroupTokens: maxGroupTokens)
    }

    /// Ranks a plan's scores (from `score`, or from a batch the inference queue scored).
    public func rank(_ query: RankQuery, plan: InstructionPlan, scores: CandidateScores, usage: RankingUsage) -> RankOutcome {
        let mapping = relevance(for: query)
        var (plan, scores, usage) = (plan, scores, usage)
        var offset = plan.referenceOffset
        if plan.referenceTargets > 0 {
            // The references' scores make the context's offset; everything after this sees the candidates only.
            let n = query.candidates.count
            let computed = RelevanceReference.offset(Array(scores.scores[n...]))
            referenceOffsets.insert(computed, for: referenceKey(query, plan: plan))
            offset = computed
            scores = CandidateScores(scores: Array(scores.scores.prefix(n)), likelihoods: Array(scores.likelihoods.prefix(n)),
                                     priors: scores.priors.map { Array($0.prefix(n)) }, priorWeight: scores.priorWeight)
            usage.candidateTokens -= plan.targets[n...].reduce(0) { $0 + $1.count + 1 }
            plan.targets = Array(plan.targets.prefix(n))
            plan.groups = plan.groups.map { group in
                var group = group
                group.candidates = group.candidates.filter { $0 < n }
                return group
            }
            plan.referenceTargets = 0
        }
        var ranked = Reranker.rank(scores: scores.scores, ids: query.candidates.map(\.id), relevance: mapping, offset: offset ?? 0)
        if let topN = query.topN, topN < ranked.count { ranked = Array(ranked.prefix(max(0, topN))) }
        var timing = RankOutcome.Timing()
        timing.encode = usage.encodeSeconds * 1e3
        timing.decode = usage.decodeSeconds * 1e3
        let scoring = scoring(for: query)
        var outcome = RankOutcome(plan: plan, scoring: scoring, scorer: scorerKind, relevance: mapping.mode, scores: scores.scores,
                                  components: scores, ranked: ranked, usage: usage, timing: timing, requestID: "")
        outcome.relevanceOffset = offset ?? 0
        return outcome
    }

    /// Computes and caches the title priors of a catalog for the templates requests get by default (a
    /// history-only and a query-only context, in the model's instruction form), `batch` titles per
    /// scorer call; stops once the cache is full. Returns the priors computed.
    @discardableResult
    public func warmPriors(titles: [String], scorer: any CandidateScorer, batch: Int = 512) throws -> Int {
        guard pointwise == nil, defaultScoring.usesPrior, priors.maxEntries > 0 else { return 0 }
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

    /// The one rank pipeline, what HTTP, `instructrec score` and `instructrec eval` all run: plan (tokenize,
    /// fit the instruction), score the plan's work on `backend` (the inference queue, or a scorer in
    /// place), rank. `deadline` is the backend's (the queue drops a job whose deadline passed).
    public func run(_ query: RankQuery, backend: some ScoringBackend, deadline: DispatchTime = .distantFuture) async throws -> RankOutcome {
        let start = DispatchTime.now()
        // exclude_history: the candidates the history holds are never scored; what is scored keeps its
        // positions in the request (`kept` maps back), and top_n applies to what is left.
        let kept = query.excludeHistory ?? excludeHistory
            ? HistoryExclusion.kept(query.candidates, history: query.context.history) : Array(query.candidates.indices)
        if kept.isEmpty && !query.candidates.isEmpty {
            // Planned all the same (nothing is scored): the answer names the template and the history the
            // instruction would have used, and a request the plan refuses is refused as it would be otherwise.
            return excludedOutcome(query, plan: try self.plan(query), excluded: query.candidates.count, start: start)
        }
        var scoredQuery = query
        if kept.count < query.candidates.count { scoredQuery.candidates = kept.map { query.candidates[$0] } }
        let plan = try self.plan(scoredQuery)
        let planned = DispatchTime.now()
        let work = work(scoredQuery, plan: plan)
        let scored = try await backend.score(work.groups, deadline: deadline)
        // The merge runs here, on the request's task: the backend only scored.
        let (scores, usage) = try Reranker.merge(plan, work, scored.answers, priors: priors)
        var outcome = rank(scoredQuery, plan: plan, scores: scores, usage: usage)
        if kept.count < query.candidates.count {
            outcome.ranked = outcome.ranked.map { var candidate = $0; candidate.index = kept[candidate.index]; return candidate }
            outcome.usage.candidatesExcluded = query.candidates.count - kept.count
        }
        outcome.timing.queue = scored.queueMilliseconds
        outcome.timing.tokenize = milliseconds(start, planned)
        outcome.timing.total = milliseconds(start, .now())
        return outcome
    }

    /// Every candidate was in the history: an empty ranking that says how many were left out (not an error), with
    /// the template and history counts of `full`, the plan of the whole request, whose instruction is not run.
    private func excludedOutcome(_ query: RankQuery, plan full: InstructionPlan, excluded: Int, start: DispatchTime) -> RankOutcome {
        let plan = InstructionPlan(template: full.template, groups: [], targets: [], historyItemsUsed: full.historyItemsUsed,
                                   historyItemsDropped: full.historyItemsDropped, historyItemsTrimmed: full.historyItemsTrimmed,
                                   historyTitlesShortened: full.historyTitlesShortened)
        var usage = RankingUsage()
        usage.candidatesExcluded = excluded
        var outcome = RankOutcome(plan: plan, scoring: scoring(for: query), scorer: scorerKind, relevance: relevance(for: query).mode,
                                  scores: [], components: CandidateScores(scores: [], likelihoods: [], priors: nil), ranked: [],
                                  usage: usage, timing: RankOutcome.Timing(), requestID: "")
        outcome.timing.total = milliseconds(start, .now())
        return outcome
    }

    /// `run` on a scorer in place, from synchronous code (eval's loops, benchmarks): the calling thread waits.
    public func run(_ query: RankQuery, scorer: any CandidateScorer) throws -> RankOutcome {
        let pipeline = self
        return try Blocking.run { try await pipeline.run(query, backend: DirectBackend(scorer)) }
    }
}
