import Dispatch

/// Scores in place, on a scorer the caller owns (one call at a time on it, as `CandidateScorer` asks).
public struct DirectBackend: ScoringBackend {
    public let scorer: any CandidateScorer

    public init(_ scorer: any CandidateScorer) {
        self.scorer = scorer
    }

    public func score(_ groups: [ScoringGroup], deadline: DispatchTime) async throws -> ScoredGroups {
        try Task.checkCancellation()
        return ScoredGroups(answers: scorer.score(groups))
    }
}
