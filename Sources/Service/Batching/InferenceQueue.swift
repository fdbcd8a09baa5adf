import Foundation
import InstructRec

/// One model's bounded FIFO of scoring jobs, served by the shared `WorkerPool` (each of its workers
/// scores this model's batches with this queue's scorer for that worker, over the model's shared weights).
///
/// Admission: `submit` refuses when this model's queue is full (the caller answers 503 with
/// Retry-After); another model's queue is not affected.
///
/// Batching: a free worker takes the waiting jobs in order while `BatchLimits`
/// admits them (requests, tokens, the engine's per-call limits; a job larger
/// than the budget runs alone), waits up to `batch_wait_ms` for more when the
/// batch is not full (0: never), and scores all their groups in one scorer
/// call. Each job then completes, or fails with its own error, on its own.
/// A job whose client has gone, or whose deadline has passed, is dropped
/// before it joins a batch.
///
/// State is guarded by the pool's condition (`...Locked` members are called with it held).
final class InferenceQueue: @unchecked Sendable {
    /// the `reason` label of instructrec_dropped_jobs_total
    enum DropReason: String, CaseIterable { case clientGone = "client_gone", deadline }

    let pool: WorkerPool
    private var condition: NSCondition { pool.condition }
    private var jobs: [ScoringJob] = []
    private var head = 0
    private var running = 0
    private var stopped = false
    let capacity: Int
    let limits: BatchLimits
    /// one per pool worker
    private let scorers: [any CandidateScorer]
    private let metrics: Metrics
    /// the `model` label of this queue's metrics
    let labels: [String: String]

    /// A queue of its own pool with one worker per scorer (tests, and any single-model user).
    convenience init(scorers: [any CandidateScorer], capacity: Int, limits: BatchLimits = BatchLimits(), metrics: Metrics,
                     model: String = "default") {
        self.init(pool: WorkerPool(workers: scorers.count), scorers: scorers, capacity: capacity, limits: limits, metrics: metrics,
                  model: model)
    }

    /// Joins `pool`; `scorers` holds one scorer per pool worker.
    init(pool: WorkerPool, scorers: [any CandidateScorer], capacity: Int, limits: BatchLimits = BatchLimits(), metrics: Metrics,
         model: String) {
        precondition(scorers.count == pool.workerCount, "one scorer per worker")
        self.pool = pool
        self.scorers = scorers
        self.capacity = capacity
        self.limits = limits
        self.metrics = metrics
        labels = ["model": model]
        metrics.queueDepth.set(0, labels)
        metrics.inFlight.set(0, labels)
        metrics.engineCalls.add(0, labels)
        for reason in DropReason.allCases { metrics.dropped.increment(labels.merging(["reason": reason.rawValue]) { $1 }, by: 0) }
        pool.register(self)
    }

    /// What `submit` did with a job.
    enum Admission: Equatable {
        case accepted
        /// `capacity` jobs wait already (the caller answers 503 with Retry-After)
        case full
        /// the queue was stopped (shutdown, or a reload replaced its model): submit to the new one
        case stopped
    }

    /// Enqueues the job, or says why not.
    func submit(_ job: ScoringJob) -> Admission {
        condition.lock()
        defer { condition.unlock() }
        if stopped { return .stopped }
        guard jobs.count - head < capacity else { return .full }
        jobs.append(job)
        metrics.queueDepth.set(Double(jobs.count - head), labels)
        // Every waiter: one may be a worker filling another model's batch, which would not take this job.
        condition.broadcast()
        return .accepted
    }

    /// No new jobs (a reload replaced the model, or shutdown); the waiting ones still run.
    func stop() {
        condition.lock()
        stopLocked()
        condition.broadcast()
        condition.unlock()
    }

    func stopLocked() { stopped = true }

    var hasWaitingLocked: Bool { head < jobs.count }
    var isFinishedLocked: Bool { stopped && head == jobs.count && running == 0 }

    /// A batch of waiting jobs in order, and the stale ones met on the way (dropped outside the lock).
    /// Called with the pool's condition held, when a job waits.
    func formBatchLocked(_ condition: NSCondition) -> (batch: [ScoringJob], stale: [(ScoringJob, DropReason)]) {
        var batch: [ScoringJob] = []
        var size = BatchSize()
        var stale: [(ScoringJob, DropReason)] = []
        let waitUntil = Date(timeIntervalSinceNow: Double(limits.waitMilliseconds) / 1e3)
        var timedOut = false
        while true {
            var blocked = false
            while head < jobs.count {
                let job = jobs[head]
                if let reason = staleness(job) {
                    stale.append((job, reason))
                } else if limits.admits(job.size, into: size) {
                    batch.append(job)
                    size = size + job.size
                } else {
                    blocked = true   // the next job waits for the next batch: queue order is kept
                    break
                }
                head += 1
            }
            if blocked || timedOut || stopped || batch.isEmpty || limits.waitMilliseconds == 0 || limits.isFull(size) { break }
            timedOut = !condition.wait(until: waitUntil)
        }
        if head > 1024 && head * 2 > jobs.count { jobs.removeFirst(head); head = 0 }
        running += batch.count
        metrics.queueDepth.set(Double(jobs.count - head), labels)
        metrics.inFlight.set(Double(running), labels)
        return (batch, stale)
    }

    /// On worker `worker`'s thread, outside the lock: drops the stale jobs, scores the batch, and counts it done.
    func finish(batch: [ScoringJob], stale: [(ScoringJob, DropReason)], worker: Int) {
        for (job, reason) in stale {
            metrics.dropped.increment(labels.merging(["reason": reason.rawValue]) { $1 })
            job.dropped(reason)
        }
        if !batch.isEmpty { score(batch, with: scorers[worker]) }
        condition.lock()
        running -= batch.count
        metrics.inFlight.set(Double(running), labels)
        if isFinishedLocked { condition.broadcast() }   // the pool lets a drained, stopped queue go
        condition.unlock()
    }

    private func staleness(_ job: ScoringJob) -> DropReason? {
        if job.isAbandoned() { return .clientGone }
        if DispatchTime.now() >= job.deadline { return .deadline }
        return nil
    }

    /// Every job's groups in one scorer call; each job gets its own slice of the answers.
    private func score(_ batch: [ScoringJob], with scorer: any CandidateScorer) {
        let taken = DispatchTime.now()
        var tokens = 0
        for job in batch {
            metrics.queueWait.observe(Double(taken.uptimeNanoseconds &- job.enqueued.uptimeNanoseconds) / 1e9, labels)
            tokens += job.size.tokens
        }
        metrics.batchRequests.observe(Double(batch.count), labels)
        metrics.batchTokens.observe(Double(tokens), labels)
        let groups = batch.map(\.groups)
        metrics.engineCalls.add(1, labels)
        let answers = scorer.score(groups.flatMap { $0 })
        metrics.engineCalls.add(-1, labels)
        var start = 0
        for (job, jobGroups) in zip(batch, groups) {
            let end = start + jobGroups.count
            // A scorer answering too few groups fails the jobs it left out (their merge reports the mismatch).
            let answered = end <= answers.count ? Array(answers[start..<end]) : []
            start = end
            job.completed(answered, taken)
        }
    }
}
