import Dispatch
import InstructRec

/// One request's scoring work as the inference queue sees it: data (the groups
/// and how to answer), so a worker can score several jobs in one scorer call.
/// The worker only scores: the request's pipeline merges the answers on its own task.
struct ScoringJob: Sendable {
    /// what the scorer is asked (the plan's groups, chunked, and any title priors not cached)
    let groups: [ScoringGroup]
    let deadline: DispatchTime
    /// when it was submitted (queue wait = taken − enqueued)
    let enqueued: DispatchTime
    /// the client disconnected: skip the work
    let isAbandoned: @Sendable () -> Bool
    /// Runs on the worker thread once the job's groups are scored: the scorer's answers to this
    /// job's groups (fewer when the scorer answered too few). `taken` is when a worker took it.
    let completed: @Sendable (_ answers: [Result<GroupScores, InstructRecError>], _ taken: DispatchTime) -> Void
    /// called instead of `completed` when the job is dropped before it is scored
    let dropped: @Sendable (InferenceQueue.DropReason) -> Void

    /// The job's size in a batch's token budget; counted once, here, not under the queue's lock each time a
    /// worker weighs the job.
    let size: BatchSize

    init(groups: [ScoringGroup], deadline: DispatchTime, enqueued: DispatchTime,
         isAbandoned: @escaping @Sendable () -> Bool,
         completed: @escaping @Sendable (_ answers: [Result<GroupScores, InstructRecError>], _ taken: DispatchTime) -> Void,
         dropped: @escaping @Sendable (InferenceQueue.DropReason) -> Void) {
        self.groups = groups
        self.deadline = deadline
        self.enqueued = enqueued
        self.isAbandoned = isAbandoned
        self.completed = completed
        self.dropped = dropped
        size = BatchSize(requests: 1,
                         instructionTokens: groups.reduce(0) { $0 + $1.instruction.count },
                         candidateTokens: groups.reduce(0) { total, group in group.candidates.reduce(total) { $0 + $1.count + 1 } })
    }
}
