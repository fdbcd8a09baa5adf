import Foundation
import InstructRec

/// A bounded FIFO of scoring jobs served by a fixed set of worker threads,
/// each with its own scorer over the shared weights.
///
/// Admission: `submit` refuses when the queue is full (the caller answers 503
/// with Retry-After). A job whose client has gone, or whose deadline has
/// passed, is dropped before it reaches the model.
final class InferenceQueue: @unchecked Sendable {
    struct Job {
        /// the client disconnected: skip the work
        let isAbandoned: @Sendable () -> Bool
        /// runs on a worker thread with that worker's scorer
        let run: @Sendable (any CandidateScorer) -> Void
        /// called instead of `run` when the job is dropped
        let dropped: @Sendable (DropReason) -> Void
        let deadline: DispatchTime
    }

    /// the `reason` label of instructrec_dropped_jobs_total
    enum DropReason: String, CaseIterable { case clientGone = "client_gone", deadline }

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var head = 0
    private var running = 0
    private var stopped = false
    let capacity: Int
    private var threads: [Thread] = []
    private let metrics: Metrics

    init(scorers: [any CandidateScorer], capacity: Int, metrics: Metrics) {
        self.capacity = capacity
        self.metrics = metrics
        for (index, scorer) in scorers.enumerated() {
            let thread = Thread { [weak self] in self?.work(scorer) }
            thread.name = "inference-\(index)"
            thread.stackSize = 8 << 20
            threads.append(thread)
            thread.start()
        }
    }

    /// Enqueues; false when the queue is full.
    func submit(_ job: Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped, jobs.count - head < capacity else { return false }
        jobs.append(job)
        metrics.queueDepth.set(Double(jobs.count - head))
        condition.signal()
        return true
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func work(_ scorer: any CandidateScorer) {
        while true {
            condition.lock()
            while head == jobs.count && !stopped { condition.wait() }
            if head == jobs.count && stopped { condition.unlock(); return }
            let job = jobs[head]
            head += 1
            if head > 1024 && head * 2 > jobs.count { jobs.removeFirst(head); head = 0 }
            running += 1
            metrics.queueDepth.set(Double(jobs.count - head))
            metrics.inFlight.set(Double(running))
            condition.unlock()

            if job.isAbandoned() {
                metrics.dropped.increment(["reason": DropReason.clientGone.rawValue])
                job.dropped(.clientGone)
            } else if DispatchTime.now() >= job.deadline {
                metrics.dropped.increment(["reason": DropReason.deadline.rawValue])
                job.dropped(.deadline)
            } else {
                job.run(scorer)
            }

            condition.lock()
            running -= 1
            metrics.inFlight.set(Double(running))
            condition.unlock()
        }
    }
}
