import Foundation

/// One ranked candidate.
public struct RankedCandidate: Sendable, Equatable {
    /// position in the request
    public var index: Int
    public var id: String
    /// log-likelihood of the title (+ </s>) given the instruction: sum, or per-token mean
    public var score: Float
    /// softmax of the scores over this request's candidates, in 0...1
    public var relevance: Float
}

/// Timing and token accounting for one ranking.
public struct RankingUsage: Sendable, Equatable {
    public var instructionTokens = 0
    public var candidateTokens = 0
    public var encodeSeconds = 0.0
    public var decodeSeconds = 0.0
}

/// Scores a plan's groups with a `CandidateScorer` and merges them into one ranking.
public enum Reranker {
    /// Runs every group of the plan through the scorer in one call; returns one score per candidate.
    public static func score(_ plan: InstructionPlan, scorer: any CandidateScorer, reduction: ScoreReduction) throws -> ([Float], RankingUsage) {
        let groups = scoringGroups(plan, reduction: reduction)
        return try merge(plan, scorer.score(groups))
    }

    /// What the scorer sees of a plan: one group per instruction, with its candidates' title tokens.
    /// (A caller batching several plans into one scorer call concatenates these and splits the results.)
    public static func scoringGroups(_ plan: InstructionPlan, reduction: ScoreReduction) -> [ScoringGroup] {
        plan.groups.map { group in
            ScoringGroup(instruction: group.tokens, candidates: group.candidates.map { plan.targets[$0] }, reduction: reduction)
        }
    }

    /// One score per candidate of the plan, in input order, from the scorer's answer to `scoringGroups(plan)`;
    /// throws the first group's failure.
    public static func merge(_ plan: InstructionPlan, _ answers: some Collection<Result<GroupScores, InstructRecError>>) throws -> ([Float], RankingUsage) {
        let results = try answers.map { try $0.get() }
        guard results.count == plan.groups.count,
              zip(plan.groups, results).allSatisfy({ $0.candidates.count == $1.scores.count })
        else {
            throw InstructRecError.scoringFailed("the scorer answered \(results.map(\.scores.count)) scores for groups of \(plan.groups.map(\.candidates.count)) candidates")
        }
        var scores = [Float](repeating: 0, count: plan.targets.count)
        var usage = RankingUsage()
        for (group, result) in zip(plan.groups, results) {
            for (position, candidate) in group.candidates.enumerated() { scores[candidate] = result.scores[position] }
            usage.instructionTokens += group.tokens.count
            usage.encodeSeconds += result.encodeSeconds
            usage.decodeSeconds += result.decodeSeconds
        }
        usage.candidateTokens = plan.targets.reduce(0) { $0 + $1.count + 1 }
        return (scores, usage)
    }

    /// Sorts by score, highest first; ties keep input order. Relevance is the
    /// softmax of the scores over all candidates of the request.
    public static func rank(scores: [Float], ids: [String]) -> [RankedCandidate] {
        let maximum = scores.max() ?? 0
        let exps = scores.map { Foundation.exp(Double($0 - maximum)) }
        let total = exps.reduce(0, +)
        let ranked = scores.indices.map { i in
            RankedCandidate(index: i, id: ids[i], score: scores[i], relevance: Float(total > 0 ? exps[i] / total : 0))
        }
        return ranked.sorted { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
    }
}
