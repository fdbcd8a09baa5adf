import Foundation

/// The cores this process may use: the CPUs it may run on (its affinity, as `nproc` counts them), fewer
/// when a cgroup v2 quota (`cpu.max`, a container's CPU limit) allows less, rounded up.
public struct CPUBudget: Sendable, Equatable {
    public var cores: Int

    public init(cores: Int) { self.cores = max(1, cores) }

    /// The quota in `cpu.max` ("max 100000" or "QUOTA PERIOD") as cores, rounded up; nil without a limit.
    static func quotaCores(cpuMax text: String) -> Int? {
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let quota = Double(fields[0]), let period = Double(fields[1]), period > 0 else { return nil }
        return max(1, Int((quota / period).rounded(.up)))
    }

    public static func current() -> CPUBudget {
        var cores = ProcessInfo.processInfo.activeProcessorCount
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/cpu.max", encoding: .utf8), let quota = quotaCores(cpuMax: text) {
            cores = min(cores, quota)
        }
        return CPUBudget(cores: cores)
    }
}

/// How the engine splits its products over threads, set once for the process from how many threads its
/// scorers run together (`workers × threads per worker`) against the cores it has.
public enum EngineThreads {
    /// Plans the splits for `threadsInUse` engine threads on `budget`: every engine thread has a core of its own,
    /// so each worker keeps a `HelperTeam` whose helpers spin between products; or there are more threads than
    /// cores, and splits go to Dispatch's pool, sized to the cores and shared by every worker (measured: with
    /// 2 workers × 2 threads on 2 cores, per-worker helpers that spin lost a fifth of the throughput, and
    /// helpers that sleep at once still had a higher p99 than the shared pool). Returns whether teams are used.
    @discardableResult
    public static func plan(threadsInUse: Int, budget: CPUBudget = .current()) -> Bool {
        Parallel.usesHelperTeams = threadsInUse <= budget.cores
        return Parallel.usesHelperTeams
    }
}
