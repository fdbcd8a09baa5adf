@testable import Configuration
import Foundation
import XCTest
@testable import InstructRec
@testable import Service
import T5Scoring

/// The inference queue's batching, in process: which jobs share a scorer call,
/// what each job gets back, and who is dropped before a batch forms.
final class InferenceQueueBatchingTests: XCTestCase {
    /// Holds its first call until `release` (so later jobs pile up in the queue), records
    /// every call's groups, and answers with `answer` (by default each candidate's first token id;
    /// a group whose instruction starts with -1 is the caller's bad input).
    final class GatedScorer: CandidateScorer, @unchecked Sendable {
        private let lock = NSLock()
        private var recorded: [[ScoringGroup]] = []
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        var answer: ([ScoringGroup]) -> [Result<GroupScores, InstructRecError>] = { groups in
            groups.map { group in
                group.instruction.first == -1 ? .failure(.scoringInput("instruction token 0 is id -1"))
                    : .success(GroupScores(scores: group.candidates.map { Float($0.first ?? 0) }))
            }
        }

        var calls: [[ScoringGroup]] { lock.lock(); defer { lock.unlock() }; return recorded }

        func score(_ groups: [ScoringGroup]) -> [Result<GroupScores, InstructRecError>] {
            lock.lock()
            recorded.append(groups)
            let first = recorded.count == 1
            lock.unlock()
            if first { entered.signal(); release.wait() }
            return answer(groups)
        }
    }

    /// What the jobs got, by job number.
    final class Outcomes: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Int: Result<[Float], any Error>] = [:]
        private var drops: [Int: InferenceQueue.DropReason] = [:]
        let done = DispatchGroup()
        func set(_ job: Int, _ value: Result<[Float], any Error>) { lock.lock(); values[job] = value; lock.unlock(); done.leave() }
        func drop(_ job: Int, _ reason: InferenceQueue.DropReason) { lock.lock(); drops[job] = reason; lock.unlock(); done.leave() }
        subscript(job: Int) -> Result<[Float], any Error>? { lock.lock(); defer { lock.unlock() }; return values[job] }
        func dropReason(_ job: Int) -> InferenceQueue.DropReason? { lock.lock(); defer { lock.unlock() }; return drops[job] }
    }

    /// A plan of one group: `instruction` tokens (all `marker`) and candidates of the given title lengths,
    /// each title starting with its candidate number + 10 (so the scripted score says which candidate it is).
    static func plan(instruction: Int, titles: [Int], marker: Int32 = 7) -> InstructionPlan {
        let targets = titles.enumerated().map { index, length in [Int32(index + 10)] + [Int32](repeating: 3, count: max(0, length - 1)) }
        return InstructionPlan(template: "t", groups: [.init(text: "i", tokens: [Int32](repeating: marker, count: instruction),
                                                             candidates: Array(targets.indices))],
                               targets: targets, historyItemsUsed: 0, historyItemsDropped: 0, historyItemsTrimmed: 0,
                               historyTitlesShortened: 0)
    }

    static func job(_ number: Int, _ plan: InstructionPlan, _ outcomes: Outcomes, deadline: DispatchTime = .distantFuture,
                    abandoned: Bool = false) -> ScoringJob {
        outcomes.done.enter()
        let work = Reranker.work(plan, scoring: Scoring())
        return ScoringJob(groups: work.groups, deadline: deadline, enqueued: .now(), isAbandoned: { abandoned },
                          completed: { answers, _ in outcomes.set(number, Result { try Reranker.merge(plan, work, answers).0.scores }) },
                          dropped: { outcomes.drop(number, $0) })
    }

    /// One worker busy with job 0 while `jobs` are queued behind it; then released. Returns the calls after the first.
    func batches(limits: BatchLimits, metrics: Metrics = Metrics(), _ jobs: (Outcomes) -> [ScoringJob],
                 scorer: GatedScorer = GatedScorer()) throws -> (calls: [[ScoringGroup]], outcomes: Outcomes) {
        let outcomes = Outcomes()
        let queue = InferenceQueue(scorers: [scorer], capacity: 64, limits: limits, metrics: metrics)
        defer { queue.stop() }
        XCTAssertEqual(queue.submit(Self.job(0, Self.plan(instruction: 2, titles: [1]), outcomes)), .accepted)
        XCTAssertEqual(scorer.entered.wait(timeout: .now() + 5), .success)
        for job in jobs(outcomes) { XCTAssertEqual(queue.submit(job), .accepted) }
        scorer.release.signal()
        XCTAssertEqual(outcomes.done.wait(timeout: .now() + 5), .success)
        return (Array(scorer.calls.dropFirst()), outcomes)
    }

    func testWaitingJobsShareOneCallUpToMaxBatchRequestsInQueueOrder() throws {
        let (calls, outcomes) = try batches(limits: BatchLimits(maxRequests: 3, maxTokens: 100_000)) { outcomes in
            (1...7).map { Self.job($0, Self.plan(instruction: $0, titles: [2, 3]), outcomes) }
        }
        XCTAssertEqual(calls.map(\.count), [3, 3, 1])
        XCTAssertEqual(calls.flatMap { $0 }.map(\.instruction.count), Array(1...7), "queue order")
        for number in 1...7 { XCTAssertEqual(try outcomes[number]?.get(), [10, 11]) }
    }

    func testABatchStaysWithinMaxBatchTokensAndALargerJobRunsAlone() throws {
        // sizes: instruction + titles + one </s> per candidate
        let (calls, outcomes) = try batches(limits: BatchLimits(maxRequests: 8, maxTokens: 20)) { outcomes in
            [Self.job(1, Self.plan(instruction: 5, titles: [2]), outcomes),        // 8
             Self.job(2, Self.plan(instruction: 5, titles: [2, 2]), outcomes),     // 11: 19 together
             Self.job(3, Self.plan(instruction: 30, titles: [4]), outcomes),       // 35: over the budget, alone
             Self.job(4, Self.plan(instruction: 4, titles: [1]), outcomes)]        // 6
        }
        XCTAssertEqual(calls.map { $0.map(\.instruction.count) }, [[5, 5], [30], [4]])
        XCTAssertEqual(try outcomes[3]?.get(), [10])
    }

    func testTheEnginesPerCallTokenLimitsCapABatch() throws {
        var limits = BatchLimits(maxRequests: 8, maxTokens: 100_000)
        limits.maxInstructionTokens = 10
        limits.maxCandidateTokens = 6
        let (calls, _) = try batches(limits: limits) { outcomes in
            [Self.job(1, Self.plan(instruction: 6, titles: [1]), outcomes),
             Self.job(2, Self.plan(instruction: 6, titles: [1]), outcomes),     // instruction tokens 12 > 10
             Self.job(3, Self.plan(instruction: 1, titles: [2, 1]), outcomes),  // candidate tokens 2 + 5 > 6
             Self.job(4, Self.plan(instruction: 1, titles: []), outcomes)]      // 5 + 0: joins
        }
        XCTAssertEqual(calls.map { $0.map(\.instruction.count) }, [[6], [6], [1, 1]])
    }

    func testMaxBatchRequestsOneScoresEveryJobAlone() throws {
        let (calls, _) = try batches(limits: BatchLimits(maxRequests: 1)) { outcomes in
            (1...3).map { Self.job($0, Self.plan(instruction: 2, titles: [1]), outcomes) }
        }
        XCTAssertEqual(calls.map(\.count), [1, 1, 1])
    }

    func testABadInputFailsOnlyItsOwnJobWhileItsBatchMatesSucceed() throws {
        let (calls, outcomes) = try batches(limits: BatchLimits()) { outcomes in
            [Self.job(1, Self.plan(instruction: 3, titles: [1, 2]), outcomes),
             Self.job(2, Self.plan(instruction: 3, titles: [1], marker: -1), outcomes),
             Self.job(3, Self.plan(instruction: 4, titles: [2, 2, 2]), outcomes)]
        }
        XCTAssertEqual(calls.map(\.count), [3], "one call")
        XCTAssertEqual(try outcomes[1]?.get(), [10, 11])
        XCTAssertEqual(try outcomes[3]?.get(), [10, 11, 12])
        XCTAssertThrowsError(try outcomes[2]?.get()) { error in
            XCTAssertEqual(ServiceError.from(error).status, 422, "\(error)")
        }
    }

    func testAbandonedAndExpiredJobsAreDroppedBeforeTheBatchFormsAndCounted() throws {
        let metrics = Metrics()
        let (calls, outcomes) = try batches(limits: BatchLimits(), metrics: metrics) { outcomes in
            [Self.job(1, Self.plan(instruction: 3, titles: [1]), outcomes),
             Self.job(2, Self.plan(instruction: 4, titles: [1]), outcomes, abandoned: true),
             Self.job(3, Self.plan(instruction: 5, titles: [1]), outcomes, deadline: .now()),
             Self.job(4, Self.plan(instruction: 6, titles: [1]), outcomes)]
        }
        XCTAssertEqual(calls.map { $0.map(\.instruction.count) }, [[3, 6]])
        XCTAssertEqual(outcomes.dropReason(2), .clientGone)
        XCTAssertEqual(outcomes.dropReason(3), .deadline)
        XCTAssertNil(outcomes[2])
        XCTAssertEqual(metrics.dropped.value(["model": "default", "reason": "client_gone"]), 1)
        XCTAssertEqual(metrics.dropped.value(["model": "default", "reason": "deadline"]), 1)
        let text = metrics.render()
        XCTAssertTrue(text.contains("instructrec_batch_requests_bucket{le=\"2\",model=\"default\"} 2\n"), text)   // the blocker alone, then 2
        XCTAssertTrue(text.contains("instructrec_batch_requests_count{model=\"default\"} 2\n"), text)
    }

    func testALoneRequestNeverWaitsWithBatchWaitZeroAndWaitsAtMostBatchWaitOtherwise() throws {
        func loneJobSeconds(waitMilliseconds: Int) -> Double {
            let outcomes = Outcomes()
            let scorer = GatedScorer()
            scorer.release.signal()   // no gate
            let queue = InferenceQueue(scorers: [scorer], capacity: 4,
                                       limits: BatchLimits(waitMilliseconds: waitMilliseconds), metrics: Metrics())
            defer { queue.stop() }
            Thread.sleep(forTimeInterval: 0.05)   // the worker is idle, waiting
            let start = DispatchTime.now()
            XCTAssertEqual(queue.submit(Self.job(1, Self.plan(instruction: 2, titles: [1]), outcomes)), .accepted)
            XCTAssertEqual(outcomes.done.wait(timeout: .now() + 5), .success)
            return Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        }
        XCTAssertLessThan(loneJobSeconds(waitMilliseconds: 0), 0.1)
        let waited = loneJobSeconds(waitMilliseconds: 300)
        XCTAssertGreaterThanOrEqual(waited, 0.29)
        XCTAssertLessThan(waited, 2)
    }

    func testAWaitingWorkerTakesJobsThatArriveWithinBatchWait() throws {
        let outcomes = Outcomes()
        let scorer = GatedScorer()
        scorer.release.signal()
        let queue = InferenceQueue(scorers: [scorer], capacity: 4, limits: BatchLimits(maxRequests: 2, waitMilliseconds: 1000),
                                   metrics: Metrics())
        defer { queue.stop() }
        Thread.sleep(forTimeInterval: 0.05)
        let start = DispatchTime.now()
        XCTAssertEqual(queue.submit(Self.job(1, Self.plan(instruction: 2, titles: [1]), outcomes)), .accepted)
        Thread.sleep(forTimeInterval: 0.05)
        XCTAssertEqual(queue.submit(Self.job(2, Self.plan(instruction: 3, titles: [1]), outcomes)), .accepted)
        XCTAssertEqual(outcomes.done.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(scorer.calls.map(\.count), [2])
        XCTAssertLessThan(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9, 0.9,
                          "a full batch stops waiting")
    }

    /// The real engine: jobs of different lengths and candidate counts batched together score as they do alone,
    /// and one job's tokens outside the vocabulary fail that job alone with 422.
    func testBatchedJobsOnTheEngineScoreAsAloneAndABadJobFailsAlone() throws {
        let engine = try ScoringEngine(modelDirectory: ServiceProcess.modelDirectory)
        let t5 = engine.makeScorer(threads: 1)
        let scorer = GatedScorer()
        scorer.answer = { t5.score($0) }
        let outside = Int32(engine.vocabularySize)
        let plans = [Self.plan(instruction: 3, titles: [1, 2]), Self.plan(instruction: 17, titles: [4, 1, 3, 3, 2]),
                     Self.plan(instruction: 9, titles: [6])]
        var bad = Self.plan(instruction: 5, titles: [2])
        bad.targets[0][1] = outside
        let (calls, outcomes) = try batches(limits: BatchLimits(), {
            outcomes in (plans + [bad]).enumerated().map { Self.job($0 + 1, $1, outcomes) }
        }, scorer: scorer)
        XCTAssertEqual(calls.map(\.count), [4], "one call")
        for (number, plan) in plans.enumerated() {
            let alone = try Reranker.score(plan, scorer: t5).0.scores
            let batched = try XCTUnwrap(outcomes[number + 1]).get()
            XCTAssertEqual(batched.count, alone.count)
            for (a, b) in zip(batched, alone) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }
        }
        XCTAssertThrowsError(try outcomes[4]?.get()) { error in
            XCTAssertEqual(ServiceError.from(error).status, 422, "\(error)")
        }
    }

    func testBatchSettingsAreValidatedNamingTheSetting() {
        for (key, value) in [("max_batch_requests", "0"), ("max_batch_tokens", "0"), ("batch_wait_ms", "1001"), ("batch_wait_ms", "-1"),
                             ("max_batch_requests", "many"), ("reserve_scratch", "maybe")] {
            XCTAssertThrowsError(try ServiceConfiguration.load(file: nil, environment: [:],
                                                               overrides: [key: value, "model": ServiceProcess.modelDirectory,
                                                                           "templates": ServiceProcess.templatesFile])) { error in
                XCTAssertTrue("\(error)".contains("'\(key)'"), "\(error)")
            }
        }
    }

    func testBatchingIsOnByDefaultAndSettableFromEveryLayer() throws {
        let defaults = ServiceConfiguration()
        XCTAssertGreaterThan(defaults.maxBatchRequests, 1)
        XCTAssertEqual(defaults.batchWaitMilliseconds, 0)
        let configuration = try ServiceConfiguration.load(
            file: nil, environment: ["INSTRUCTREC_MAX_BATCH_TOKENS": "4096", "INSTRUCTREC_BATCH_WAIT_MS": "3"],
            overrides: ["max_batch_requests": "1", "model": ServiceProcess.modelDirectory, "templates": ServiceProcess.templatesFile])
        // max_batch_tokens bounds a pass; a call carries one pass per worker thread.
        XCTAssertEqual(configuration.batchLimits, BatchLimits(maxRequests: 1, maxTokens: 4096 * configuration.threadsPerWorker,
                                                              waitMilliseconds: 3))
        XCTAssertEqual(configuration.sources["max_batch_tokens"], "INSTRUCTREC_MAX_BATCH_TOKENS")
    }

    /// Scratch grows with load unless the operator asks for it up front (a flat RSS from start-up).
    func testScratchIsReservedOnlyWhenAsked() throws {
        XCTAssertFalse(ServiceConfiguration().reserveScratch)
        let configuration = try ServiceConfiguration.load(
            file: nil, environment: ["INSTRUCTREC_RESERVE_SCRATCH": "true"],
            overrides: ["model": ServiceProcess.modelDirectory, "templates": ServiceProcess.templatesFile])
        XCTAssertTrue(configuration.reserveScratch)
        XCTAssertEqual(configuration.sources["reserve_scratch"], "INSTRUCTREC_RESERVE_SCRATCH")
    }
}
