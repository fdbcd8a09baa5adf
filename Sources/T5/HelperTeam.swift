import CThreadPlacement
import Dispatch
import Foundation
import Synchronization

/// The helper threads of one calling thread (a worker's scorer lane): `Parallel.forEach` hands them its other
/// chunks. A request runs a few hundred products and loops back to back, each split over the engine's threads;
/// a helper that went to sleep between two of them must be woken, and on a virtual machine that wake-up (the
/// host rescheduling a halted vCPU) can cost more than the chunk. So a helper that finished spins for a short
/// while (`spinSeconds`) before it sleeps: inside a request it is always awake; idle, it sleeps within a tenth
/// of a millisecond and costs nothing. (OpenMP runtimes do the same; Dispatch's pool sleeps at once.) Only
/// while every engine thread has a core: oversubscribed, `EngineThreads.plan` sends splits to Dispatch's pool.
///
/// One team per calling thread, made on its first split and kept for the thread's life (worker threads live as
/// long as the service); a chunk that itself splits runs its split alone (on a helper, or on the calling thread
/// while its team is busy), so helpers never make teams and a busy helper is never handed more.
///
/// Helpers stay off their caller's CPU. After an idle pause the kernel's wake-up placement puts a helper that
/// slept long on its waker's CPU (measured, not its documented intent), and a helper that spins beside its caller
/// then keeps that place for the whole request: measured on the default model's 20-candidate request with 2
/// threads, after 0.3 s idle 959 of 990 helper chunks ran on the caller's CPU and the request took 22 ms against
/// 10 back to back (18 on one thread). So each split first reads the caller's CPU (a vDSO call, no syscall) and,
/// when it moved, lets the helpers run anywhere the process may run but there (one syscall each, rare). The
/// caller itself stays free to move, and so do the helpers among the other CPUs, so a quota-limited container
/// whose affinity spans a whole node is not pinned to a few of its CPUs.
final class HelperTeam: @unchecked Sendable {
    /// How long a helper stays awake after its chunk: longer than the gaps between a request's products
    /// (tens of microseconds), far shorter than the gaps between requests. Half a millisecond measured 2 % fewer
    /// requests under load (the spin took cycles the HTTP threads plan requests with); a tenth did not.
    static let spinSeconds = 0.0001
    /// Whether helpers are kept off their caller's CPU (the default); the benchmarks time both.
    nonisolated(unsafe) static var keepsHelpersOffCallersCPU = true

    private let helpers: [Helper]
    /// A split is running on this team (only its own thread reads and writes it): one inside a chunk of it,
    /// on the calling thread, runs its chunks in turn rather than post to helpers that are busy.
    private var running = false
    /// The CPU the helpers were last told to avoid (-1: none); the calling thread writes it before posting.
    private(set) var avoidedCPU: Int32 = -1

    private init(helpers count: Int) {
        helpers = (0..<count).map { _ in Helper() }
    }

    /// Runs `body(chunk)` for every chunk in 0..<chunks: chunk 0 on the calling thread, the others on helpers;
    /// returns when all are done.
    func run(chunks: Int, _ body: @escaping @Sendable (Int) -> Void) {
        if running {
            for c in 0..<chunks { body(c) }
            return
        }
        running = true
        defer { running = false }
        // -1 (placement off, or the kernel cannot say): the helpers may run anywhere.
        let cpu = HelperTeam.keepsHelpersOffCallersCPU ? ir_current_cpu() : -1
        if cpu != avoidedCPU {
            // A helper whose thread has not started yet is placed on a later split.
            let placed = helpers.map { $0.avoid(cpu: cpu) }
            if !placed.contains(false) { avoidedCPU = cpu }
        }
        for c in 1..<chunks { helpers[c - 1].post { body(c) } }
        body(0)
        for c in 1..<chunks { helpers[c - 1].waitUntilDone() }
    }

    // MARK: one team per thread

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        // The thread ended: its helpers stop.
        pthread_key_create(&key) { pointer in
            guard let pointer else { return }
            let team = Unmanaged<HelperTeam>.fromOpaque(pointer).takeRetainedValue()
            for helper in team.helpers { helper.stop() }
        }
        return key
    }()

    /// Whether the current thread is a helper (its chunk's own splits run alone).
    static var onHelper: Bool { Helper.current }

    /// The calling thread's team, with at least `count` helpers.
    static func current(helpers count: Int) -> HelperTeam {
        if let pointer = pthread_getspecific(key) {
            let team = Unmanaged<HelperTeam>.fromOpaque(pointer).takeUnretainedValue()
            if team.helpers.count >= count { return team }
            pthread_setspecific(key, nil)
            for helper in team.helpers { helper.stop() }
            Unmanaged<HelperTeam>.fromOpaque(pointer).release()
        }
        let team = HelperTeam(helpers: count)
        pthread_setspecific(key, Unmanaged.passRetained(team).toOpaque())
        return team
    }
}

/// One helper thread: it waits for work (spinning `HelperTeam.spinSeconds`, then on a semaphore), runs it, and
/// says it is done. `posted` and `finished` count its chunks; the caller waits for `finished` to catch up.
private final class Helper: @unchecked Sendable {
    private let posted = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let sleeping = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    /// The helper's pthread_t once its thread has started (0 before): what `avoid` places.
    private let thread = Atomic<UInt>(0)
    private let wake = DispatchSemaphore(value: 0)
    /// written by the caller before `posted` is raised (release), read by the helper after it sees it (acquire)
    private var work: (@Sendable () -> Void)?

    private static let marker: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var current: Bool { pthread_getspecific(marker) != nil }

    init() {
        let thread = Thread { [self] in loop() }
        thread.name = "instructrec-helper"
        thread.start()
    }

    func post(_ work: @escaping @Sendable () -> Void) {
        self.work = work
        posted.add(1, ordering: .sequentiallyConsistent)
        if sleeping.load(ordering: .sequentiallyConsistent) { wake.signal() }
    }

    /// Spins while the chunk runs (it is as long as the caller's own), yielding the core if it takes long.
    func waitUntilDone() {
        let target = posted.load(ordering: .relaxed)
        var spins = 0
        while finished.load(ordering: .acquiring) != target {
            spins += 1
            if spins > 4096 { sched_yield() }
        }
    }

    /// Lets the helper run on any CPU of the process but `cpu` (-1: on any); false when its thread has not started
    /// yet. Where `cpu` is the only CPU, or the kernel refuses, the helper runs where the kernel puts it.
    func avoid(cpu: Int32) -> Bool {
        let id = thread.load(ordering: .acquiring)
        guard id != 0 else { return false }
        _ = ir_thread_avoid_cpu(pthread_t(id), cpu)
        return true
    }

    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        posted.add(1, ordering: .sequentiallyConsistent)
        wake.signal()
    }

    private func loop() {
        pthread_setspecific(Self.marker, UnsafeRawPointer(bitPattern: 1))
        thread.store(UInt(pthread_self()), ordering: .releasing)
        var seen = 0
        while true {
            var deadline: UInt64 = 0
            var spins = 0
            while posted.load(ordering: .acquiring) == seen {
                spins += 1
                if spins & 63 != 0 { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                if deadline == 0 { deadline = now + UInt64(HelperTeam.spinSeconds * 1e9); continue }
                if now < deadline { continue }
                // Sleep, unless work arrived after the last look (the poster signals whoever it saw asleep).
                sleeping.store(true, ordering: .sequentiallyConsistent)
                if posted.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
                sleeping.store(false, ordering: .sequentiallyConsistent)
                deadline = 0
            }
            if stopping.load(ordering: .acquiring) { return }
            seen = posted.load(ordering: .acquiring)
            work?()
            work = nil
            finished.store(seen, ordering: .releasing)
        }
    }
}
