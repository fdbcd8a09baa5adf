import Foundation
import HTTP
import InstructRec

/// Prometheus metrics (text exposition format 0.0.4), kept without a client
/// library: counters and gauges with labels, and histograms.
final class Metrics: @unchecked Sendable {
    final class Counter: @unchecked Sendable {
        let name: String, help: String
        private let lock = NSLock()
        private var values: [[String: String]: Double] = [:]
        init(_ name: String, _ help: String) { self.name = name; self.help = help }
        func increment(_ labels: [String: String] = [:], by amount: Double = 1) {
            lock.lock(); values[labels, default: 0] += amount; lock.unlock()
        }
        func value(_ labels: [String: String] = [:]) -> Double { lock.lock(); defer { lock.unlock() }; return values[labels] ?? 0 }
        func render() -> String {
            lock.lock(); defer { lock.unlock() }
            var out = "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
            if values.isEmpty { out += "\(name) 0\n" }
            for (labels, value) in values.sorted(by: { Metrics.key($0.key) < Metrics.key($1.key) }) {
                out += "\(name)\(Metrics.format(labels)) \(Metrics.number(value))\n"
            }
            return out
        }
    }

    final class Gauge: @unchecked Sendable {
        let name: String, help: String
        private let lock = NSLock()
        private var value = 0.0
        init(_ name: String, _ help: String) { self.name = name; self.help = help }
        func set(_ newValue: Double) { lock.lock(); value = newValue; lock.unlock() }
        func add(_ delta: Double) { lock.lock(); value += delta; lock.unlock() }
        var current: Double { lock.lock(); defer { lock.unlock() }; return value }
        func render() -> String {
            lock.lock(); defer { lock.unlock() }
            return "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(Metrics.number(value))\n"
        }
    }

    final class Histogram: @unchecked Sendable {
        let name: String, help: String
        let buckets: [Double]
        private let lock = NSLock()
        private var series: [[String: String]: (counts: [Int], sum: Double, count: Int)] = [:]
        init(_ name: String, _ help: String, buckets: [Double]) { self.name = name; self.help = help; self.buckets = buckets }
        func observe(_ value: Double, _ labels: [String: String] = [:]) {
            lock.lock()
            var entry = series[labels] ?? (Array(repeating: 0, count: buckets.count), 0, 0)
            for (i, bound) in buckets.enumerated() where value <= bound { entry.counts[i] += 1 }
            entry.sum += value
            entry.count += 1
            series[labels] = entry
            lock.unlock()
        }
        func render() -> String {
            lock.lock(); defer { lock.unlock() }
            var out = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            for (labels, entry) in series.sorted(by: { Metrics.key($0.key) < Metrics.key($1.key) }) {
                for (i, bound) in buckets.enumerated() {
                    var l = labels
                    l["le"] = Metrics.number(bound)
                    out += "\(name)_bucket\(Metrics.format(l)) \(entry.counts[i])\n"
                }
                var inf = labels
                inf["le"] = "+Inf"
                out += "\(name)_bucket\(Metrics.format(inf)) \(entry.count)\n"
                out += "\(name)_sum\(Metrics.format(labels)) \(Metrics.number(entry.sum))\n"
                out += "\(name)_count\(Metrics.format(labels)) \(entry.count)\n"
            }
            return out
        }
    }

    let requests = Counter("instructrec_requests_total", "HTTP requests by route and status.")
    let latency = Histogram("instructrec_request_duration_seconds", "End-to-end request latency by route.",
                            buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])
    let queueWait = Histogram("instructrec_queue_wait_seconds", "Time scoring jobs waited in the inference queue.",
                              buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
    let queueDepth = Gauge("instructrec_queue_depth", "Scoring jobs waiting in the inference queue (use for autoscaling).")
    let inFlight = Gauge("instructrec_inflight_requests", "Scoring jobs running on workers.")
    let engineCalls = Gauge("instructrec_inflight_engine_calls", "Engine calls running (one per busy worker; at most workers). With instructrec_queue_depth, what queue-based autoscaling reads.")
    let tokens = Counter("instructrec_tokens_total", "Tokens processed, by kind (instruction, candidate).")
    let candidates = Counter("instructrec_candidates_total", "Candidates scored.")
    let dropped = Counter("instructrec_dropped_jobs_total", "Scoring jobs dropped before inference, by reason (client_gone, deadline).")
    let batchRequests = Histogram("instructrec_batch_requests", "Requests scored per engine call (1: alone; see max_batch_requests).",
                                  buckets: [1, 2, 4, 8, 16, 32])
    let batchTokens = Histogram("instructrec_batch_tokens", "Instruction and candidate tokens per engine call (see max_batch_tokens).",
                                buckets: [256, 1024, 2048, 4096, 8192, 16384, 32768, 65536])
    let modelLoadSeconds = Gauge("instructrec_model_load_seconds", "Seconds spent loading the model at start-up.")
    let ready = Gauge("instructrec_ready", "1 when the service accepts traffic.")
    let reloads = Counter("instructrec_model_reloads_total", "Model reloads that switched traffic to a newly loaded model (SIGHUP or POST /admin/reload).")
    let reloadFailures = Counter("instructrec_model_reload_failures_total", "Model reloads that failed; the previous model kept serving (the log says why).")
    let modelLoadedAt = Gauge("instructrec_model_loaded_timestamp_seconds", "Unix time the serving model finished loading.")
    let deadlineTimers = Gauge("instructrec_deadline_timers", "Live 504 deadline timers (one per request awaiting its answer; cancelled when it is sent).")
    /// labels of instructrec_build_info
    let buildInfo: [String: String]
    /// the title-prior cache, read at each scrape (set once the model is loaded)
    private let priorCacheLock = NSLock()
    private var priorCacheSource: TitlePriorCache?
    var priorCache: TitlePriorCache? {
        get { priorCacheLock.lock(); defer { priorCacheLock.unlock() }; return priorCacheSource }
        set { priorCacheLock.lock(); priorCacheSource = newValue; priorCacheLock.unlock() }
    }

    /// the HTTP server's open connections and those refused at the limit, read at each scrape (set once it exists)
    private let connectionsLock = NSLock()
    private var connectionsSource: (@Sendable () -> (open: Int, rejected: Int))?
    var connections: (@Sendable () -> (open: Int, rejected: Int))? {
        get { connectionsLock.lock(); defer { connectionsLock.unlock() }; return connectionsSource }
        set { connectionsLock.lock(); connectionsSource = newValue; connectionsLock.unlock() }
    }

    /// the serving model's identity (instructrec_model_info's labels), set at load and on reload
    private let modelLock = NSLock()
    private var modelLabels: [String: String] = [:]
    func setModel(_ labels: [String: String]) { modelLock.lock(); modelLabels = labels; modelLock.unlock() }
    private func renderModelInfo() -> String {
        modelLock.lock(); let labels = modelLabels; modelLock.unlock()
        guard !labels.isEmpty else { return "" }
        return "# HELP instructrec_model_info The serving model: directory, content hash (SHA-256 over its files), scorer (always 1).\n"
            + "# TYPE instructrec_model_info gauge\ninstructrec_model_info\(Metrics.format(labels)) 1\n"
    }

    init(version: String = "unknown", blasCore: String = "unknown") {
        buildInfo = ["version": version, "blas_core": blasCore]
        // Every reason is a series from the start, so rate() and alerts see 0 rather than nothing.
        for reason in InferenceQueue.DropReason.allCases { dropped.increment(["reason": reason.rawValue], by: 0) }
        reloads.increment(by: 0)
        reloadFailures.increment(by: 0)
    }

    func render() -> String {
        let build = "# HELP instructrec_build_info Version and BLAS core type of this process (always 1).\n# TYPE instructrec_build_info gauge\n"
            + "instructrec_build_info\(Metrics.format(buildInfo)) 1\n"
        return [build, requests.render(), latency.render(), queueWait.render(), queueDepth.render(), inFlight.render(), engineCalls.render(),
                tokens.render(), candidates.render(), dropped.render(), batchRequests.render(), batchTokens.render(), modelLoadSeconds.render(),
                renderModelInfo(), modelLoadedAt.render(), reloads.render(), reloadFailures.render(), ready.render(), deadlineTimers.render(),
                renderPriorCache(), renderConnections(), ProcessMetrics.current()?.render() ?? ""].joined()
    }

    /// Open connections and the connections refused at max_connections (zero until the server is watched).
    func renderConnections() -> String {
        let counts = connections?() ?? (open: 0, rejected: 0)
        let series: [(String, String, String, Int)] = [
            ("instructrec_open_connections", "gauge", "Open client connections, probe reserve included (the limit, max_connections, is in /info).", counts.open),
            ("instructrec_rejected_connections_total", "counter", "Connections refused with 503 at max_connections: at accept (also while shutting down), or on a probe reserve connection with a request other than a probe.", counts.rejected),
        ]
        return series.map { name, type, help, value in "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n" }.joined()
    }

    /// The title-prior cache's counters and size (zero until the model is loaded).
    func renderPriorCache() -> String {
        let stats = priorCache?.current ?? TitlePriorCache.Statistics()
        let series: [(String, String, String, Int)] = [
            ("instructrec_prior_cache_hits_total", "counter", "Title-prior lookups answered from the cache (calibrated scoring).", stats.hits),
            ("instructrec_prior_cache_misses_total", "counter", "Title-prior lookups computed in the request's engine call.", stats.misses),
            ("instructrec_prior_cache_evictions_total", "counter", "Title priors evicted (least recently used) to stay within prior_cache_entries / prior_cache_mb.", stats.evictions),
            ("instructrec_prior_cache_entries", "gauge", "Title priors cached.", stats.entries),
            ("instructrec_prior_cache_bytes", "gauge", "Bytes charged to cached title priors.", stats.bytes),
        ]
        return series.map { name, type, help, value in "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n" }.joined()
    }

    /// GET /metrics
    func response() -> HTTPResponse {
        HTTPResponse.text(render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    static func key(_ labels: [String: String]) -> String { labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }

    static func format(_ labels: [String: String]) -> String {
        guard !labels.isEmpty else { return "" }
        let body = labels.sorted { $0.key < $1.key }.map { key, value in
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            return "\(key)=\"\(escaped)\""
        }.joined(separator: ",")
        return "{\(body)}"
    }

    static func number(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
