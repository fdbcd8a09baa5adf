import CThreadPlacement
import Dispatch
import Foundation
import XCTest
@testable import T5

/// `Parallel.forEach` on helper teams: every item exactly once, per-worker chunks as Dispatch would split them,
/// a chunk's own split run alone (no team of helpers' helpers), many calling threads each with its own team,
/// and results visible to the caller when `forEach` returns.
final class HelperTeamTests: XCTestCase {
    /// Service tests in the same process plan threads for their own worker counts: these run on teams.
    private var planned = true
    override func setUp() { planned = Parallel.usesHelperTeams; Parallel.usesHelperTeams = true }
    override func tearDown() { Parallel.usesHelperTeams = planned }

    func testEveryItemRunsOnceInItsWorkersChunk() {
        for count in [1, 2, 3, 7, 64, 1001] {
            for threads in [1, 2, 3, 4] {
                var seen = [Int](repeating: -1, count: count)
                seen.withUnsafeMutableBufferPointer { buffer in
                    let seen = buffer
                    Parallel.forEach(count, threads: threads) { range, worker in
                        for i in range { seen[i] = seen[i] == -1 ? worker : -2 }
                    }
                }
                let workers = min(threads, count)
                let expected = (0..<count).map { i in (0..<workers).first { w in count * w / workers <= i && i < count * (w + 1) / workers }! }
                XCTAssertEqual(seen, expected, "count \(count) threads \(threads)")
            }
        }
    }

    func testNestedSplitsAndManyCallsGiveTheSerialSums() {
        let n = 4096
        let values = (0..<n).map { Double($0 % 97) }
        let expected = values.reduce(0, +)
        for _ in 0..<2000 {
            var partial = [Double](repeating: 0, count: 4)
            partial.withUnsafeMutableBufferPointer { slots in
                let slots = slots
                Parallel.forEach(n, threads: 2) { range, worker in
                    // A chunk that splits again: run alone on whichever thread holds it.
                    var inner = [Double](repeating: 0, count: 2)
                    inner.withUnsafeMutableBufferPointer { innerSlots in
                        let innerSlots = innerSlots
                        Parallel.forEach(range.count, threads: 2) { r, w in
                            for i in r { innerSlots[w] += values[range.lowerBound + i] }
                        }
                    }
                    slots[worker] = inner[0] + inner[1]
                }
            }
            XCTAssertEqual(partial.reduce(0, +), expected)
        }
    }

    func testCallingThreadsEachUseTheirOwnTeam() {
        let n = 10_000
        let failures = UncheckedSendable(UnsafeMutablePointer<Int>.allocate(capacity: 8))
        failures.value.initialize(repeating: 0, count: 8)
        defer { failures.value.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 8) { caller in
            for _ in 0..<200 {
                var hits = [Int](repeating: 0, count: n)
                hits.withUnsafeMutableBufferPointer { buffer in
                    let buffer = buffer
                    Parallel.forEach(n, threads: 2) { range, _ in for i in range { buffer[i] += 1 } }
                }
                if hits.contains(where: { $0 != 1 }) { failures.value[caller] += 1 }
            }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: failures.value, count: 8)), [Int](repeating: 0, count: 8))
    }

    func testTeamsOnlyWhenEveryEngineThreadHasACore() {
        XCTAssertTrue(EngineThreads.plan(threadsInUse: 2, budget: CPUBudget(cores: 2)))
        XCTAssertTrue(Parallel.usesHelperTeams)
        XCTAssertFalse(EngineThreads.plan(threadsInUse: 4, budget: CPUBudget(cores: 2)))
        XCTAssertFalse(Parallel.usesHelperTeams)
        // On Dispatch's pool the splits still run every item once.
        var hits = [Int](repeating: 0, count: 1000)
        hits.withUnsafeMutableBufferPointer { buffer in
            let buffer = buffer
            for _ in 0..<50 { Parallel.forEach(1000, threads: 2) { range, _ in for i in range { buffer[i] += 1 } } }
        }
        XCTAssertEqual(Set(hits), [50])
    }

    /// The kernel keeps a thread told to avoid a CPU off it (what the team relies on).
    func testAThreadToldToAvoidACPUNeverRunsThere() throws {
        guard ProcessInfo.processInfo.activeProcessorCount >= 2 else { throw XCTSkip("needs two CPUs") }
        let result = UncheckedSendable(UnsafeMutablePointer<Int32>.allocate(capacity: 3))   // [avoided, code, hits]
        defer { result.value.deallocate() }
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let cpu = ir_current_cpu()
            result.value[0] = cpu
            result.value[1] = ir_thread_avoid_cpu(pthread_self(), cpu)
            var hits: Int32 = 0
            for _ in 0..<2000 {
                if ir_current_cpu() == cpu { hits += 1 }
                sched_yield()
            }
            result.value[2] = hits
            done.signal()
        }
        thread.start()
        done.wait()
        XCTAssertGreaterThanOrEqual(result.value[0], 0, "sched_getcpu answers on Linux")
        XCTAssertEqual(result.value[1], 0, "the mask was set")
        XCTAssertEqual(result.value[2], 0, "runs on the avoided CPU")
    }

    /// A team tells its helpers the caller's CPU before it posts, so no helper chunk runs there: the wake-up after
    /// an idle pause that put both on one CPU cannot happen.
    func testHelpersRunOffTheirCallersCPU() throws {
        guard ProcessInfo.processInfo.activeProcessorCount >= 2 else { throw XCTSkip("needs two CPUs") }
        let counts = UncheckedSendable(UnsafeMutablePointer<Int>.allocate(capacity: 2))      // [checked, beside]
        counts.value.initialize(repeating: 0, count: 2)
        defer { counts.value.deallocate() }
        let done = DispatchSemaphore(value: 0)
        // A thread of its own, so the team is new; its first split may come before the helper thread started.
        let thread = Thread {
            for round in 0..<300 {
                if round % 60 == 59 { Thread.sleep(forTimeInterval: 0.15) }    // idle: the kernel may wake both on one CPU
                let team = HelperTeam.current(helpers: 1)                       // the team forEach uses
                Parallel.forEach(2, threads: 2) { _, worker in
                    guard worker == 1 else { return }
                    let avoided = team.avoidedCPU
                    guard avoided >= 0 else { return }
                    counts.value[0] += 1
                    if ir_current_cpu() == avoided { counts.value[1] += 1 }
                }
            }
            done.signal()
        }
        thread.start()
        done.wait()
        XCTAssertGreaterThan(counts.value[0], 250, "helper chunks that ran with the caller's CPU known")
        XCTAssertEqual(counts.value[1], 0, "helper chunks on the caller's CPU")
    }

    func testAContainersCPULimitCountsRoundedUp() {
        XCTAssertNil(CPUBudget.quotaCores(cpuMax: "max 100000\n"))
        XCTAssertEqual(CPUBudget.quotaCores(cpuMax: "150000 100000\n"), 2)
        XCTAssertEqual(CPUBudget.quotaCores(cpuMax: "200000 100000"), 2)
        XCTAssertEqual(CPUBudget.quotaCores(cpuMax: "50000 100000"), 1)
        XCTAssertNil(CPUBudget.quotaCores(cpuMax: "garbage"))
        XCTAssertGreaterThanOrEqual(CPUBudget.current().cores, 1)
    }
}
