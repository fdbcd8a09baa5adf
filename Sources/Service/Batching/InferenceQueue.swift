import Foundation
import InstructRec

/// A bounded FIFO of scoring jobs served by a fixed set of worker threads,
/// each with its own scorer over the shared weights.
///
/// Admission: `submit` refuses when the queue is full (the caller answers 503
/// with Retry-After).
///
/// Batching: a free worker takes the waiting jobs in order while `BatchLimits`
/// admits them (requests, tokens, the engine's per-call limits; a job larger
/// than the budget runs alone), waits up to `batch_wait_ms` for more when the
/// batch is not full (0: never), and scores all their groups in one scorer
/// call. Each job then completes, or fails with its own error, on its own.
/// A job whose client has gone, or whose deadline has passed, is dropped
/// before it joins a batch.
final class InferenceQueue: @unchecked Sendable {
    /// the `reason` label of instructrec_dropped_jobs_total
    enum DropReason: String, CaseIterable { case clientGone = "client_gone", deadline }

    private let condition = NSCondition()
    private var jobs: [ScoringJob] = []
    private var head = 0
    private var running = 0
    private var stopped = false
    let capacity: Int
    let limits: BatchLimits
    private var threads: [Thread] = []
    private let metrics: Metrics

    init(scorers: [any CandidateScorer], capacity: Int, limits: BatchLimits = BatchLimits(), metrics: Metrics) {
        self.capacity = capacity
        self.limits = limits
        self.metrics = metrics
        for (index, scorer) in scorers.enumerated() {
            let thread = Thread { [weak self] in self?.work(scorer) }
            thread.name = "inference-\(index)"
            thread.stackSize = 8 << 20
            threads.append(thread)
            thread.start()
        }
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
        metrics.queueDepth.set(Double(jobs.count - head))
        condition.signal()
        return .accepted
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func work(_ scorer: any CandidateScorer) {
        while let (batch, stale) = take() {
            for (job, reason) in stale {
                metrics.dropped.increment(["reason": reason.rawValue])
                job.dropped(reason)
            }
            if !batch.isEmpty { score(batch, with: scorer) }

            condition.lock()
            running -= batch.count
            metrics.inFlight.set(Double(running))
            condition.unlock()
        }
    }

    /// Blocks until a job waits (nil once stopped with nothing left), then forms
    /// a batch. Stale jobs met on the way are returned to be dropped (outside the lock).
    private func take() -> (batch: [ScoringJob], stale: [(ScoringJob, DropReason)])? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count && !stopped { condition.wait() }
        if head == jobs.count && stopped { return nil }

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
        // A submit wakes one waiter; if that was this worker waiting to fill its batch and the new job did
        // not fit, pass the wake-up on so an idle worker takes it now instead of after this batch.
        if head < jobs.count { condition.signal() }
        running += batch.count
        metrics.queueDepth.set(Double(jobs.count - head))
        metrics.inFlight.set(Double(running))
        return (batch, stale)
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
            metrics.queueWait.observe(Double(taken.uptimeNanoseconds &- job.enqueued.uptimeNanoseconds) / 1e9)
            tokens += job.size.tokens
        }
        metrics.batchRequests.observe(Double(batch.count))
        metrics.batchTokens.observe(Double(tokens))
        let groups = batch.map(\.groups)
        metrics.engineCalls.add(1)
        let answers = scorer.score(groups.flatMap { $0 })
        metrics.engineCalls.add(-1)
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
