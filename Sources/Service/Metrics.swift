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

    /// A gauge, with labelled series (a model's queue depth) or one unlabelled value; 0 while it has none.
    final class Gauge: @unchecked Sendable {
        let name: String, help: String
        private let lock = NSLock()
        private var values: [[String: String]: Double] = [:]
        init(_ name: String, _ help: String) { self.name = name; self.help = help }
        func set(_ newValue: Double, _ labels: [String: String] = [:]) { lock.lock(); values[labels] = newValue; lock.unlock() }
        func add(_ delta: Double, _ labels: [String: String] = [:]) { lock.lock(); values[labels, default: 0] += delta; lock.unlock() }
        func current(_ labels: [String: String] = [:]) -> Double { lock.lock(); defer { lock.unlock() }; return values[labels] ?? 0 }
        func render() -> String {
            lock.lock(); defer { lock.unlock() }
            var out = "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            if values.isEmpty { out += "\(name) 0\n" }
            for (labels, value) in values.sorted(by: { Metrics.key($0.key) < Metrics.key($1.key) }) {
                out += "\(name)\(Metrics.format(labels)) \(Metrics.number(value))\n"
            }
            return out
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

    let requests = Counter("instructrec_requests_total", "HTTP requests by route and status (and model, for ranking routes).")
    let latency = Histogram("instructrec_request_duration_seconds", "End-to-end request latency by route (and model, for ranking routes).",
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
    let modelLoadSeconds = Gauge("instructrec_model_load_seconds", "Seconds spent loading each model (at start-up, or its last reload).")
    let ready = Gauge("instructrec_ready", "1 when the service accepts traffic.")
    let reloads = Counter("instructrec_model_reloads_total", "Model reloads that switched a model's traffic to its newly loaded version (SIGHUP or POST /admin/reload), by model.")
    let reloadFailures = Counter("instructrec_model_reload_failures_total", "Model reloads that failed, by model; that model's previous version kept serving (the log says why).")
    let modelLoadedAt = Gauge("instructrec_model_loaded_timestamp_seconds", "Unix time each serving model finished loading.")
    let deadlineTimers = Gauge("instructrec_deadline_timers", "Live 504 deadline timers (one per request awaiting its answer; cancelled when it is sent).")
    /// labels of instructrec_build_info
    let buildInfo: [String: String]
    /// each model's title-prior cache, by model name, read at each scrape (set as models load)
    private let priorCacheLock = NSLock()
    private var priorCacheSources: [String: TitlePriorCache] = [:]
    func setPriorCache(_ cache: TitlePriorCache, model: String) {
        priorCacheLock.lock(); priorCacheSources[model] = cache; priorCacheLock.unlock()
    }
    var priorCaches: [String: TitlePriorCache] { priorCacheLock.lock(); defer { priorCacheLock.unlock() }; return priorCacheSources }

    /// each model's cache of encoded contexts, read at each scrape (set as models load)
    private var contextCacheSources: [String: @Sendable () -> ContextCacheCounts?] = [:]
    func setContextCache(model: String, _ counts: @escaping @Sendable () -> ContextCacheCounts?) {
        priorCacheLock.lock(); contextCacheSources[model] = counts; priorCacheLock.unlock()
    }

    /// Each model's context cache: hits, misses, evictions, entries and bytes, by model.
    func renderContextCache() -> String {
        priorCacheLock.lock(); let sources = contextCacheSources; priorCacheLock.unlock()
        let counts = sources.keys.sorted().compactMap { name in sources[name]?().map { (labels: Metrics.format(["model": name]), statistics: $0) } }
        let series: [(String, String, String, (ContextCacheCounts) -> Int)] = [
            ("instructrec_context_cache_hits_total", "counter", "Instructions whose encoder pass and cross-attention K/V came from the context cache.", \.hits),
            ("instructrec_context_cache_misses_total", "counter", "Instructions encoded because the context cache lacked them.", \.misses),
            ("instructrec_context_cache_evictions_total", "counter", "Contexts evicted (least recently used) to stay within context_cache_mb.", \.evictions),
            ("instructrec_context_cache_entries", "gauge", "Contexts cached.", \.entries),
            ("instructrec_context_cache_bytes", "gauge", "Bytes the cached contexts hold (at most context_cache_mb).", \.bytes),
        ]
        return Self.render(series, counts)
    }

    /// Series of a cache, one line per (labels, statistics) pair; a lone unlabelled 0 where there are none.
    static func render<Statistics>(_ series: [(String, String, String, (Statistics) -> Int)],
                                   _ values: [(labels: String, statistics: Statistics)]) -> String {
        series.map { name, type, help, value in
            "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
                + (values.isEmpty ? "\(name) 0\n" : values.map { "\(name)\($0.labels) \(value($0.statistics))\n" }.joined())
        }.joined()
    }

    /// the HTTP server's open connections and those refused at the limit, read at each scrape (set once it exists)
    private let connectionsLock = NSLock()
    private var connectionsSource: (@Sendable () -> (open: Int, rejected: Int))?
    var connections: (@Sendable () -> (open: Int, rejected: Int))? {
        get { connectionsLock.lock(); defer { connectionsLock.unlock() }; return connectionsSource }
        set { connectionsLock.lock(); connectionsSource = newValue; connectionsLock.unlock() }
    }

    /// each serving model's identity (instructrec_model_info's labels, `model` among them), set at load and on reload
    private let modelLock = NSLock()
    private var modelLabels: [String: [String: String]] = [:]
    func setModel(_ labels: [String: String]) {
        modelLock.lock(); modelLabels[labels["model"] ?? ""] = labels; modelLock.unlock()
    }
    private func renderModelInfo() -> String {
        modelLock.lock(); let all = modelLabels; modelLock.unlock()
        guard !all.isEmpty else { return "" }
        return "# HELP instructrec_model_info Each serving model: name, directory, content hash (SHA-256 over its files), scorer (always 1).\n"
            + "# TYPE instructrec_model_info gauge\n"
            + all.keys.sorted().map { "instructrec_model_info\(Metrics.format(all[$0] ?? [:])) 1\n" }.joined()
    }

    init(version: String = "unknown", blasCore: String = "unknown") {
        buildInfo = ["version": version, "blas_core": blasCore]
        // Counters are series from the start, so rate() and alerts see 0 rather than nothing: an empty counter
        // renders one unlabelled 0 until its first series; each model, once loaded, adds its own at 0 (reloads,
        // reload failures, its queue's dropped-job reasons), and no unlabelled series stays beside them.
    }

    func render() -> String {
        let build = "# HELP instructrec_build_info Version and BLAS core type of this process (always 1).\n# TYPE instructrec_build_info gauge\n"
            + "instructrec_build_info\(Metrics.format(buildInfo)) 1\n"
        return [build, requests.render(), latency.render(), queueWait.render(), queueDepth.render(), inFlight.render(), engineCalls.render(),
                tokens.render(), candidates.render(), dropped.render(), batchRequests.render(), batchTokens.render(), modelLoadSeconds.render(),
                renderModelInfo(), modelLoadedAt.render(), reloads.render(), reloadFailures.render(), ready.render(), deadlineTimers.render(),
                renderPriorCache(), renderContextCache(), renderConnections(), ProcessMetrics.current()?.render() ?? ""].joined()
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

    /// Each model's title-prior cache: counters and size, by model (zero, unlabelled, until a model is loaded).
    func renderPriorCache() -> String {
        let caches = priorCaches
        let stats = caches.keys.sorted().map { (labels: Metrics.format(["model": $0]), statistics: caches[$0]?.current ?? TitlePriorCache.Statistics()) }
        let series: [(String, String, String, (TitlePriorCache.Statistics) -> Int)] = [
            ("instructrec_prior_cache_hits_total", "counter", "Title-prior lookups answered from the cache (calibrated scoring).", \.hits),
            ("instructrec_prior_cache_misses_total", "counter", "Title-prior lookups computed in the request's engine call.", \.misses),
            ("instructrec_prior_cache_evictions_total", "counter", "Title priors evicted (least recently used) to stay within prior_cache_entries / prior_cache_mb.", \.evictions),
            ("instructrec_prior_cache_entries", "gauge", "Title priors cached.", \.entries),
            ("instructrec_prior_cache_bytes", "gauge", "Bytes charged to cached title priors.", \.bytes),
        ]
        return Self.render(series, stats)
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
