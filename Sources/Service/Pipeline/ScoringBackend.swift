import Dispatch
import Foundation
import InstructRec

/// What `RankPipeline.run` scores a plan's work with: the inference queue (HTTP: batched with other
/// requests on the workers' threads) or a scorer in the caller's hands (`instructrec score`, eval).
/// Either way the answer is the plan's scores merged (`Reranker.merge`), and how long the work waited.
protocol ScoringBackend: Sendable {
    func score(_ plan: InstructionPlan, _ work: ScoringWork, priors: TitlePriorCache?, deadline: DispatchTime) async throws -> ScoredWork
}

/// A plan's scores, its usage, and how long its work waited for a worker (0 when scored in place).
struct ScoredWork: Sendable {
    public var scores: CandidateScores
    public var usage: RankingUsage
    public var queueMilliseconds: Double
}

/// Scores in place, on a scorer the caller owns (one call at a time on it, as `CandidateScorer` asks).
struct DirectBackend: ScoringBackend {
    public let scorer: any CandidateScorer

    public init(_ scorer: any CandidateScorer) {
        self.scorer = scorer
    }

    public func score(_ plan: InstructionPlan, _ work: ScoringWork, priors: TitlePriorCache?, deadline: DispatchTime) async throws -> ScoredWork {
        try Task.checkCancellation()
        let (scores, usage) = try Reranker.merge(plan, work, scorer.score(work.groups), priors: priors)
        return ScoredWork(scores: scores, usage: usage, queueMilliseconds: 0)
    }
}

/// Runs async work to its end from synchronous code (the CLI's `score` and `eval` loops, benchmarks):
/// the calling thread waits; the work runs on the cooperative pool, never on the waiting thread.
enum Blocking {
    static func run<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await work()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }

    private final class ResultBox<T>: @unchecked Sendable { var result: Result<T, any Error>? }
}
