import Dispatch

/// What `RankPipeline.run` has a plan's groups scored on: the service's inference queue (batched with
/// other requests on the workers' threads) or a scorer in the caller's hands (`instructrec score`, eval).
/// A backend answers the scorer's answers only, one per group; the pipeline merges them
/// (`Reranker.merge`) on the request's own task.
public protocol ScoringBackend: Sendable {
    func score(_ groups: [ScoringGroup], deadline: DispatchTime) async throws -> ScoredGroups
}

/// The scorer's answer to a plan's groups (one `Result` per group, in order), and how long they waited
/// for a worker (0 when scored in place).
public struct ScoredGroups: Sendable {
    public var answers: [Result<GroupScores, InstructRecError>]
    public var queueMilliseconds: Double

    public init(answers: [Result<GroupScores, InstructRecError>], queueMilliseconds: Double = 0) {
        self.answers = answers
        self.queueMilliseconds = queueMilliseconds
    }
}
