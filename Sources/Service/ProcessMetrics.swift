import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The standard Prometheus `process_*` metrics (the names client libraries
/// export), read from /proc at scrape time.
struct ProcessMetrics: Equatable {
    var residentMemoryBytes: Double
    var virtualMemoryBytes: Double
    var cpuSecondsTotal: Double
    var openFDs: Double
    var maxFDs: Double
    var startTimeSeconds: Double

    /// The fields of /proc/<pid>/stat that matter here. The command name (field 2)
    /// may hold spaces and parentheses, so fields are counted after its last ')'.
    struct Stat: Equatable {
        var utimeTicks: Double, stimeTicks: Double, startTicks: Double, virtualBytes: Double, residentPages: Double
    }

    static func parseStat(_ text: String) -> Stat? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        // fields[0] is field 3 (state)
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        func field(_ number: Int) -> Double? { number - 3 < fields.count ? Double(fields[number - 3]) : nil }
        guard let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23), let rss = field(24) else { return nil }
        return Stat(utimeTicks: utime, stimeTicks: stime, startTicks: start, virtualBytes: vsize, residentPages: rss)
    }

    /// `btime` of /proc/stat: boot time in seconds since the epoch.
    static func parseBootTime(_ text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// Reads this process's figures; nil off Linux.
    static func current() -> ProcessMetrics? {
        guard let statText = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let stat = parseStat(statText) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        let boot = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)).flatMap(parseBootTime) ?? 0
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count).map { Double(max(0, $0 - 1)) } ?? 0
        var limit = rlimit()
        let maxFDs = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : 0
        return ProcessMetrics(residentMemoryBytes: stat.residentPages * page, virtualMemoryBytes: stat.virtualBytes,
                              cpuSecondsTotal: (stat.utimeTicks + stat.stimeTicks) / ticks, openFDs: fds, maxFDs: maxFDs,
                              startTimeSeconds: boot + stat.startTicks / ticks)
    }

    func render() -> String {
        func metric(_ name: String, _ type: String, _ help: String, _ value: Double) -> String {
            "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(Metrics.number(value))\n"
        }
        return metric("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpuSecondsTotal)
            + metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", residentMemoryBytes)
            + metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", virtualMemoryBytes)
            + metric("process_open_fds", "gauge", "Number of open file descriptors.", openFDs)
            + metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", maxFDs)
            + metric("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", startTimeSeconds)
    }
}
