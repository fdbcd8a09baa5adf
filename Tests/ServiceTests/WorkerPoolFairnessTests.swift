import Foundation
import XCTest
@testable import InstructRec
@testable import Service

/// The workers every model shares: batches never mix models, and a flooded model's backlog does not
/// delay another model's job beyond the batch already running.
final class WorkerPoolFairnessTests: XCTestCase {
    typealias Gated = InferenceQueueBatchingTests.GatedScorer

    /// Records, across models, the order in which batches were scored.
    final class CallLog: @unchecked Sendable {
        private let lock = NSLock()
        private var names: [String] = []
        func add(_ name: String) { lock.lock(); names.append(name); lock.unlock() }
        var order: [String] { lock.lock(); defer { lock.unlock() }; return names }
    }

    /// Scores like `Gated`, holding its first call, and logs its model's name for every call.
    final class NamedScorer: CandidateScorer, @unchecked Sendable {
        let name: String, log: CallLog, gated = Gated()
        init(_ name: String, _ log: CallLog) { self.name = name; self.log = log }
        func score(_ groups: [ScoringGroup]) -> [Result<GroupScores, InstructRecError>] {
            log.add(name)
            return gated.score(groups)
        }
    }

    /// One worker and two models' queues, batches of one; the first model's first call is held until released.
    static func twoModels(_ first: String, _ second: String, _ log: CallLog)
        -> (WorkerPool, InferenceQueue, InferenceQueue, NamedScorer) {
        let pool = WorkerPool(workers: 1)
        let held = NamedScorer(first, log), free = NamedScorer(second, log)
        free.gated.release.signal()
        let limits = BatchLimits(maxRequests: 1), metrics = Metrics()
        return (pool, InferenceQueue(pool: pool, scorers: [held], capacity: 64, limits: limits, metrics: metrics, model: first),
                InferenceQueue(pool: pool, scorers: [free], capacity: 64, limits: limits, metrics: metrics, model: second), held)
    }

    func testAFloodedModelDelaysAnotherByOneBatchNotByItsBacklog() throws {
        let log = CallLog()
        let (pool, flood, other, floodScorer) = Self.twoModels("flood", "other", log)
        defer { pool.stop() }
        let outcomes = InferenceQueueBatchingTests.Outcomes()
        let plan = InferenceQueueBatchingTests.plan(instruction: 2, titles: [1])
        XCTAssertEqual(flood.submit(InferenceQueueBatchingTests.job(0, plan, outcomes)), .accepted)
        XCTAssertEqual(floodScorer.gated.entered.wait(timeout: .now() + 5), .success)
        // 20 more flood jobs wait, then one job of the other model arrives behind them.
        for number in 1...20 { XCTAssertEqual(flood.submit(InferenceQueueBatchingTests.job(number, plan, outcomes)), .accepted) }
        XCTAssertEqual(other.submit(InferenceQueueBatchingTests.job(100, plan, outcomes)), .accepted)
        floodScorer.gated.release.signal()
        XCTAssertEqual(outcomes.done.wait(timeout: .now() + 10), .success)
        let order = log.order
        XCTAssertEqual(order.count, 22)
        XCTAssertEqual(Array(order.prefix(3)), ["flood", "other", "flood"],
                       "the other model's job runs right after the batch that was running, not after the 20 waiting: \(order)")
        XCTAssertEqual(try outcomes[100]?.get(), [10])
        // Each model's calls held only its own jobs: every call above was one model's scorer.
        XCTAssertEqual(Set(order), ["flood", "other"])
    }

    func testTurnsAlternateWhileBothModelsWait() throws {
        let log = CallLog()
        let (pool, queueA, queueB, a) = Self.twoModels("a", "b", log)
        defer { pool.stop() }
        let outcomes = InferenceQueueBatchingTests.Outcomes()
        let plan = InferenceQueueBatchingTests.plan(instruction: 2, titles: [1])
        XCTAssertEqual(queueA.submit(InferenceQueueBatchingTests.job(0, plan, outcomes)), .accepted)
        XCTAssertEqual(a.gated.entered.wait(timeout: .now() + 5), .success)
        for number in 1...4 {
            XCTAssertEqual(queueA.submit(InferenceQueueBatchingTests.job(number, plan, outcomes)), .accepted)
            XCTAssertEqual(queueB.submit(InferenceQueueBatchingTests.job(number + 10, plan, outcomes)), .accepted)
        }
        a.gated.release.signal()
        XCTAssertEqual(outcomes.done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(log.order, ["a", "b", "a", "b", "a", "b", "a", "b", "a"])
    }

    func testAStoppedQueueLeavesThePoolOnceDrainedAndTheOthersServeOn() throws {
        let pool = WorkerPool(workers: 2)
        defer { pool.stop() }
        let metrics = Metrics()
        let old = InferenceQueue(pool: pool, scorers: [Gated(), Gated()].map { $0.release.signal(); $0.release.signal(); return $0 },
                                 capacity: 4, metrics: metrics, model: "m")
        let other = InferenceQueue(pool: pool, scorers: [Gated(), Gated()].map { $0.release.signal(); $0.release.signal(); return $0 },
                                   capacity: 4, metrics: metrics, model: "n")
        XCTAssertEqual(pool.queueCount, 2)
        old.stop()
        XCTAssertEqual(old.submit(InferenceQueueBatchingTests.job(1, InferenceQueueBatchingTests.plan(instruction: 1, titles: [1]),
                                                                  InferenceQueueBatchingTests.Outcomes())), .stopped)
        let outcomes = InferenceQueueBatchingTests.Outcomes()
        XCTAssertEqual(other.submit(InferenceQueueBatchingTests.job(2, InferenceQueueBatchingTests.plan(instruction: 1, titles: [1]), outcomes)),
                       .accepted)
        XCTAssertEqual(outcomes.done.wait(timeout: .now() + 5), .success)
        let deadline = Date().addingTimeInterval(5)
        while pool.queueCount != 1 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(pool.queueCount, 1, "the stopped, drained queue is let go")
    }
}
