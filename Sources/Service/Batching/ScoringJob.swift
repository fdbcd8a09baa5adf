import Dispatch
import InstructRec

/// One request's scoring work as the inference queue sees it: data (the plan
/// and how to answer), so a worker can score several jobs in one scorer call.
struct ScoringJob: Sendable {
    /// the request's instructions and candidate titles
    let plan: InstructionPlan
    /// what the scorer is asked (the plan's groups, chunked, and any title priors not cached)
    let work: ScoringWork
    /// where computed title priors go (the pipeline's cache)
    let priors: TitlePriorCache?
    let deadline: DispatchTime
    /// when it was submitted (queue wait = taken − enqueued)
    let enqueued: DispatchTime
    /// the client disconnected: skip the work
    let isAbandoned: @Sendable () -> Bool
    /// Runs on the worker thread once the job's groups are scored: one score per
    /// candidate and the usage, or this job's own error. `taken` is when a worker took it.
    let completed: @Sendable (_ result: Result<(CandidateScores, RankingUsage), any Error>, _ taken: DispatchTime) -> Void
    /// called instead of `completed` when the job is dropped before it is scored
    let dropped: @Sendable (InferenceQueue.DropReason) -> Void

    /// What the scorer sees of this job.
    var groups: [ScoringGroup] { work.groups }

    /// The job's size in a batch's token budget; counted once, here, not under the queue's lock each time a
    /// worker weighs the job.
    let size: BatchSize

    init(plan: InstructionPlan, work: ScoringWork, priors: TitlePriorCache?, deadline: DispatchTime, enqueued: DispatchTime,
         isAbandoned: @escaping @Sendable () -> Bool,
         completed: @escaping @Sendable (_ result: Result<(CandidateScores, RankingUsage), any Error>, _ taken: DispatchTime) -> Void,
         dropped: @escaping @Sendable (InferenceQueue.DropReason) -> Void) {
        self.plan = plan
        self.work = work
        self.priors = priors
        self.deadline = deadline
        self.enqueued = enqueued
        self.isAbandoned = isAbandoned
        self.completed = completed
        self.dropped = dropped
        size = BatchSize(requests: 1,
                         instructionTokens: work.groups.reduce(0) { $0 + $1.instruction.count },
                         candidateTokens: work.groups.reduce(0) { total, group in group.candidates.reduce(total) { $0 + $1.count + 1 } })
    }
}
