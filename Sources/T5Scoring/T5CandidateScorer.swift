import InstructRec
import T5

/// The T5 engine behind InstructRec's `CandidateScorer`: the one place where
/// T5's types and errors become the protocol's. `T5Error` is mapped here and
/// nowhere else: bad input → `InstructRecError.scoringInput`, anything else →
/// `InstructRecError.scoringFailed`.
final class T5CandidateScorer: CandidateScorer {
    private let scorer: T5Scorer

    init(_ scorer: T5Scorer) {
        self.scorer = scorer
    }

    /// Group by group for now (one encoder pass and one packed decoder batch
    /// each); the protocol lets a batched engine call replace this loop.
    func score(_ groups: [ScoringGroup]) throws -> [GroupScores] {
        do {
            return try groups.map { group in
                let result = try scorer.run(instruction: group.instruction, candidates: group.candidates,
                                            reduction: Self.engineReduction(group.reduction))
                return GroupScores(scores: result.scores, encodeSeconds: result.encodeSeconds, decodeSeconds: result.decodeSeconds)
            }
        } catch let error as T5Error {
            throw Self.mapped(error)
        }
    }

    static func engineReduction(_ reduction: InstructRec.ScoreReduction) -> T5.ScoreReduction {
        switch reduction {
        case .sum: return .sum
        case .mean: return .mean
        }
    }

    static func mapped(_ error: T5Error) -> InstructRecError {
        if case let .invalidInput(message) = error { return .scoringInput(message) }
        return .scoringFailed(error.description)
    }
}
