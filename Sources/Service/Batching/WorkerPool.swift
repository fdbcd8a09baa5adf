import Foundation
import InstructRec

/// The inference workers every served model shares: the cores are the limit, so a replica has one
/// set of `workers` threads however many models it serves. Each model has its own `InferenceQueue`
/// (its jobs, its capacity, its batch limits, one scorer per worker); a free worker takes its next batch
/// from the queues that hold waiting jobs **in turn** (round robin, one batch each), so a model flooded
/// with requests delays another model's job by at most the batches already running — never by its
/// own backlog. Batches never mix models: a batch is formed inside one queue.
///
/// All queues' state is guarded by the pool's one condition: a worker weighs every queue at once.
final class WorkerPool: @unchecked Sendable {
    let condition = NSCondition()
    let workerCount: Int
    /// the queues with work or a future (a stopped queue leaves once it is empty and idle)
    private var queues: [InferenceQueue] = []
    /// where the next round-robin turn starts
    private var turn = 0
    private var stopped = false
    private var threads: [Thread] = []

    init(workers: Int) {
        workerCount = workers
        for index in 0..<workers {
            let thread = Thread { [weak self] in self?.work(index) }
            thread.name = "inference-\(index)"
            thread.stackSize = 8 << 20
            threads.append(thread)
            thread.start()
        }
    }

    /// A model's queue joins the turns. Called by `InferenceQueue.init`.
    func register(_ queue: InferenceQueue) {
        condition.lock()
        queues.append(queue)
        condition.unlock()
    }

    /// Shutdown: every queue refuses new jobs; the workers finish what waits, then exit.
    func stop() {
        condition.lock()
        stopped = true
        for queue in queues { queue.stopLocked() }
        condition.broadcast()
        condition.unlock()
    }

    /// The number of queues still held (tests: a replaced model's queue leaves once drained).
    var queueCount: Int { condition.lock(); defer { condition.unlock() }; return queues.count }

    private func work(_ index: Int) {
        while let (queue, batch, stale) = take() {
            queue.finish(batch: batch, stale: stale, worker: index)
        }
    }

    /// Blocks until some queue has a waiting job (nil once stopped with nothing left), then forms a batch
    /// from the next such queue in turn.
    private func take() -> (InferenceQueue, [ScoringJob], [(ScoringJob, InferenceQueue.DropReason)])? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            // A stopped queue with nothing waiting or running is done: its scorers (and the model's
            // weights, with its last reference) go with it.
            queues.removeAll { $0.isFinishedLocked }
            if !queues.isEmpty {
                let order = (0..<queues.count).map { (turn + $0) % queues.count }
                if let chosen = order.first(where: { queues[$0].hasWaitingLocked }) {
                    let queue = queues[chosen]
                    turn = (chosen + 1) % queues.count
                    let (batch, stale) = queue.formBatchLocked(condition)
                    // Another queue (or more of this one) may still wait: let an idle worker take it now.
                    if queues.contains(where: { $0.hasWaitingLocked }) { condition.signal() }
                    return (queue, batch, stale)
                }
            }
            if stopped { return nil }
            condition.wait()
        }
    }
}
