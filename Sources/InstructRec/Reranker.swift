import Foundation

/// One ranked candidate.
public struct RankedCandidate: Sendable, Equatable {
    /// position in the request
    public var index: Int
    public var id: String
    /// what the candidate ranks by (see `Scoring`): the log-likelihood of the title (+ </s>) given the
    /// instruction (sum or per-token mean), or that minus α times the title prior (calibrated)
    public var score: Float
    /// `Relevance` of the score, in 0...1
    public var relevance: Float
}

/// Timing and token accounting for one ranking.
public struct RankingUsage: Sendable, Equatable {
    /// encoder tokens over every instruction run (the prior instruction included)
    public var instructionTokens = 0
    /// title tokens (+ </s>) of the request's candidates
    public var candidateTokens = 0
    public var encodeSeconds = 0.0
    public var decodeSeconds = 0.0
    /// calibrated scoring: distinct titles whose prior was computed in this call, and found in the cache
    public var priorsComputed = 0
    public var priorsCached = 0
    /// pointwise scoring: encoder inputs scored (one per document window), documents scored over more than one
    public var windows = 0
    public var documentsWindowed = 0
    /// candidates whose text was cut (see `InstructionPlan.documentsTruncated`)
    public var documentsTruncated = 0
    /// candidates left out because the history holds them (`exclude_history`), never scored
    public var candidatesExcluded = 0
    /// tokens cut from a query too long for any instruction (TEI `truncate: true`; see `RankPipeline.plan`)
    public var queryTokensDropped = 0

    public init() {}
}

/// One score per candidate, in input order, and what it was made from.
public struct CandidateScores: Sendable, Equatable {
    /// what the candidates rank by
    public var scores: [Float]
    /// log P(title | instruction), reduced
    public var likelihoods: [Float]
    /// log P(title | empty context), reduced; nil when the scoring uses no prior
    public var priors: [Float]?
    /// the α the scores subtracted (calibrated: the context kind's, see `Scoring`); nil without a prior
    public var priorWeight: Float? = nil

    public init(scores: [Float], likelihoods: [Float], priors: [Float]?, priorWeight: Float? = nil) {
        self.scores = scores
        self.likelihoods = likelihoods
        self.priors = priors
        self.priorWeight = priorWeight
    }
}

/// What the scorer is asked for one plan: the plan's instructions with their candidates
/// (a group larger than `maxGroupTokens` split into chunks under the same instruction),
/// then, for calibrated scoring, the prior instruction with the distinct titles whose
/// prior is not cached. `Reranker.merge` turns the answers back into one score per candidate.
public struct ScoringWork: Sendable {
    public let groups: [ScoringGroup]
    public let scoring: Scoring
    /// per scored plan chunk (the first `chunks.count` groups): the candidate indices it holds
    let chunks: [[Int]]
    /// calibrated: the distinct titles, a candidate's entry in them, their cached priors
    let distinctTitles: [[Int32]]
    let titleOfCandidate: [Int]
    let cachedPriors: [Float?]
    /// indices into `distinctTitles`, in the order the prior groups hold them
    let missing: [Int]
    let priorInstruction: [Int32]
}

/// Scores a plan's groups with a `CandidateScorer` and merges them into one ranking.
public enum Reranker {
    /// Runs every group of the plan through the scorer in one call; returns one score per candidate (tests).
    static func score(_ plan: InstructionPlan, scorer: any CandidateScorer, scoring: Scoring = Scoring(),
                             priors: TitlePriorCache? = nil, maxGroupTokens: Int = .max) throws -> (CandidateScores, RankingUsage) {
        let work = work(plan, scoring: scoring, priors: priors, maxGroupTokens: maxGroupTokens)
        return try merge(plan, work, scorer.score(work.groups), priors: priors)
    }

    /// What the scorer sees of a plan. Candidates keep the plan's order inside each group (canonical:
    /// see `InstructionBuilder`), so the same candidate set gives the same calls in any request order.
    public static func work(_ plan: InstructionPlan, scoring: Scoring, priors cache: TitlePriorCache? = nil,
                            maxGroupTokens: Int = .max) -> ScoringWork {
        if let readout = plan.readout {
            // Pointwise: one scorer group per window, read at the first decoder step; no priors.
            return ScoringWork(groups: plan.groups.map { ScoringGroup(instruction: $0.tokens, readout: readout.tokens) },
                               scoring: scoring, chunks: plan.groups.map(\.candidates), distinctTitles: [], titleOfCandidate: [],
                               cachedPriors: [], missing: [], priorInstruction: [])
        }
        var groups: [ScoringGroup] = []
        var chunks: [[Int]] = []
        for group in plan.groups {
            // A group without candidates stays one (empty) group: the scorer answers it with no scores, at no cost.
            let runs = group.candidates.isEmpty ? [[]]
                : split(group.candidates, instructionTokens: group.tokens.count, limit: maxGroupTokens, cost: { plan.targets[$0].count + 1 })
            for chunk in runs {
                groups.append(ScoringGroup(instruction: group.tokens, candidates: chunk.map { plan.targets[$0] }))
                chunks.append(chunk)
            }
        }
        guard scoring.usesPrior, !plan.priorInstruction.isEmpty else {
            return ScoringWork(groups: groups, scoring: scoring, chunks: chunks, distinctTitles: [], titleOfCandidate: [],
                               cachedPriors: [], missing: [], priorInstruction: [])
        }
        return withPriors(groups: groups, chunks: chunks, scoring: scoring, instruction: plan.priorInstruction, targets: plan.targets,
                          order: plan.groups.flatMap(\.candidates), priors: cache, maxGroupTokens: maxGroupTokens)
    }

    /// Only title priors (calibrated scoring's, summed): what warming the cache from a catalog asks (`merge`
    /// with an empty plan stores them).
    public static func priorWork(instruction: [Int32], titles: [[Int32]], priors cache: TitlePriorCache?,
                                 maxGroupTokens: Int = .max) -> ScoringWork {
        withPriors(groups: [], chunks: [], scoring: Scoring(mode: .calibrated, priorWeight: 1),
                   instruction: instruction, targets: titles, order: Array(titles.indices), priors: cache, maxGroupTokens: maxGroupTokens)
    }

    /// Appends the prior groups: the distinct titles of `targets` (in `order`) whose prior is not cached,
    /// in chunks under the prior instruction.
    private static func withPriors(groups: [ScoringGroup], chunks: [[Int]], scoring: Scoring, instruction: [Int32], targets: [[Int32]],
                                   order: [Int], priors cache: TitlePriorCache?, maxGroupTokens: Int) -> ScoringWork {
        let reduction = scoring.reduction
        var groups = groups
        var position: [[Int32]: Int] = [:]
        var distinct: [[Int32]] = []
        var titleOfCandidate = [Int](repeating: 0, count: targets.count)
        for candidate in order {
            let title = targets[candidate]
            if let known = position[title] { titleOfCandidate[candidate] = known; continue }
            position[title] = distinct.count
            titleOfCandidate[candidate] = distinct.count
            distinct.append(title)
        }
        let cached = cache?.lookup(instruction: instruction, titles: distinct, reduction: reduction)
            ?? [Float?](repeating: nil, count: distinct.count)
        let missing = distinct.indices.filter { cached[$0] == nil }
        for chunk in split(missing, instructionTokens: instruction.count, limit: maxGroupTokens, cost: { distinct[$0].count + 1 }) {
            groups.append(ScoringGroup(instruction: instruction, candidates: chunk.map { distinct[$0] }))
        }
        return ScoringWork(groups: groups, scoring: scoring, chunks: chunks, distinctTitles: distinct, titleOfCandidate: titleOfCandidate,
                           cachedPriors: cached, missing: missing, priorInstruction: instruction)
    }

    /// Splits `items` in order into runs whose cost, with the instruction, stays within `limit`
    /// (a single item over it forms its own run).
    static func split(_ items: [Int], instructionTokens: Int, limit: Int, cost: (Int) -> Int) -> [[Int]] {
        guard !items.isEmpty else { return [] }
        var runs: [[Int]] = [], current: [Int] = [], tokens = instructionTokens
        for item in items {
            let n = cost(item)
            if !current.isEmpty && tokens + n > limit {
                runs.append(current)
                current = []
                tokens = instructionTokens
            }
            current.append(item)
            tokens += n
        }
        runs.append(current)
        return runs
    }

    /// One score per candidate of the plan, in input order, from the scorer's answer to `work.groups`;
    /// throws the first group's failure. New priors go into the cache.
    public static func merge(_ plan: InstructionPlan, _ work: ScoringWork, _ answers: some Collection<Result<GroupScores, InstructRecError>>,
                             priors cache: TitlePriorCache? = nil) throws -> (CandidateScores, RankingUsage) {
        let results = try answers.map { try $0.get() }
        if let readout = plan.readout {
            return try mergePointwise(plan, work, results, readout: readout)
        }
        guard results.count == work.groups.count,
              zip(work.groups, results).allSatisfy({ $0.candidates.count == $1.tokenLogProbabilities.count })
        else {
            throw InstructRecError.scoringFailed("the scorer answered \(results.map(\.tokenLogProbabilities.count)) candidates for groups of \(work.groups.map(\.candidates.count))")
        }
        // The scorer says what the model said per token; the scoring's reduction makes each candidate's likelihood.
        let reduction = work.scoring.reduction
        var likelihoods = [Float](repeating: 0, count: plan.targets.count)
        var usage = RankingUsage()
        for (index, (group, result)) in zip(work.groups, results).enumerated() {
            if index < work.chunks.count {
                for (position, candidate) in work.chunks[index].enumerated() {
                    likelihoods[candidate] = reduction.reduce(result.tokenLogProbabilities[position])
                }
            }
            usage.instructionTokens += group.instruction.count
            usage.encodeSeconds += result.encodeSeconds
            usage.decodeSeconds += result.decodeSeconds
        }
        usage.candidateTokens = plan.targets.reduce(0) { $0 + $1.count + 1 }
        usage.documentsTruncated = plan.documentsTruncated
        usage.queryTokensDropped = plan.queryTokensDropped
        guard work.scoring.usesPrior, !work.priorInstruction.isEmpty else {
            return (CandidateScores(scores: likelihoods, likelihoods: likelihoods, priors: nil), usage)
        }
        var distinctPriors = work.cachedPriors
        let computed = results[work.chunks.count...].flatMap { $0.tokenLogProbabilities.map(reduction.reduce) }
        for (title, prior) in zip(work.missing, computed) { distinctPriors[title] = prior }
        cache?.insert(instruction: work.priorInstruction, titles: work.missing.map { work.distinctTitles[$0] },
                      priors: computed, reduction: work.scoring.reduction)
        usage.priorsComputed = work.missing.count
        usage.priorsCached = work.distinctTitles.count - work.missing.count
        let priors = work.titleOfCandidate.map { distinctPriors[$0] ?? 0 }
        // One α for every candidate (the context's, see `Scoring`): a score never depends on its company.
        let scores = zip(likelihoods, priors).map { work.scoring.combine(likelihood: $0, prior: $1) }
        return (CandidateScores(scores: scores, likelihoods: likelihoods, priors: priors, priorWeight: work.scoring.priorWeight), usage)
    }

    /// Pointwise: a candidate's score is the best of its windows' scores (Cohere's max over chunks).
    static func mergePointwise(_ plan: InstructionPlan, _ work: ScoringWork, _ results: [GroupScores],
                               readout: PointwiseReadout) throws -> (CandidateScores, RankingUsage) {
        guard results.count == work.groups.count, results.allSatisfy({ $0.logits.count == readout.tokens.count }) else {
            throw InstructRecError.scoringFailed("the scorer answered \(results.map(\.logits.count)) logits for \(work.groups.count) pointwise inputs of \(readout.tokens.count) readout ids")
        }
        var scores = [Float](repeating: -.infinity, count: plan.targets.count)
        var usage = RankingUsage()
        for (index, (group, result)) in zip(work.groups, results).enumerated() {
            let score = readout.score(result.logits)
            for candidate in work.chunks[index] where score > scores[candidate] || scores[candidate] == -.infinity {
                scores[candidate] = score
            }
            usage.instructionTokens += group.instruction.count
            usage.encodeSeconds += result.encodeSeconds
            usage.decodeSeconds += result.decodeSeconds
        }
        usage.windows = work.groups.count
        usage.documentsWindowed = plan.documentsWindowed
        usage.documentsTruncated = plan.documentsTruncated
        usage.queryTokensDropped = plan.queryTokensDropped
        return (CandidateScores(scores: scores, likelihoods: scores, priors: nil), usage)
    }

    /// Sorts by score, highest first; ties keep input order.
    public static func rank(scores: [Float], ids: [String], relevance: Relevance = Relevance(), offset: Float = 0) -> [RankedCandidate] {
        let values = relevance.values(scores, offset: offset)
        let ranked = scores.indices.map { i in
            RankedCandidate(index: i, id: ids[i], score: scores[i], relevance: values[i])
        }
        return ranked.sorted { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
    }
}
