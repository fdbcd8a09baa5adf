import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `instructrec-loadtest soak`: one `instructrec serve` under steady load,
/// two overload bursts at 4× its measured capacity, and misbehaving clients
/// throughout, while its memory and descriptors are sampled every second.
/// It serves two models (unless `--second-model none`): `default` (/recommend) and
/// a second one by name (`--second-share` of the load, /v2/rerank), one process,
/// one pool of workers; each answer must come from the model asked for (X-Model),
/// and latency is reported per model.
///
/// Timeline: warm-up (a burst of 2-5 s at the overload rate, so batch scratch
/// reaches its bound, then steady load until RSS is stable: 0.5% over the last
/// max(10 s, 5% of the run); between 10% and 40% of --duration), quiet sample;
/// then, as fractions of the time left: steady [0, .3), overload [.3, .45),
/// steady [.45, .7), overload [.7, .78), steady [.78, 1); quiet sample.
///
/// The server's context cache is kept full (`--context-cache-megabytes`, smaller than the load's contexts), so
/// the RSS check covers it at its bound, evicting.
///
/// Pass conditions:
/// - quiet RSS at the end ≤ 1.05 × quiet RSS after warm-up; open descriptors at the end ≤ after warm-up;
/// - overload: excess requests get 503 with Retry-After; 200s arrive within the request deadline; no 504;
/// - recovery: once the accepted backlog is served (queue_capacity / capacity
///   seconds after each overload), 5 s with no 503 and ≥ 90% of the steady rate served;
/// - steady phases: no request fails (at most 1% shed with 503 during a hiccup);
///   malformed requests get their 4xx (a model not served: 404); the server stays up;
/// - latency stays flat for each model: the p50 of its 200s in the last steady phase is at most
///   2 × its p50 in the first steady phase after warm-up + 5 ms.
struct SoakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak", abstract: "Soak test: steady load, 4x overload, abusive clients; RSS and fd leak check.")

    @Option(help: "Seconds (600 for the 10-minute check).") var duration = 600.0
    @Option(help: "The instructrec binary.") var binary = ".build/release/instructrec"
    @OptionGroup var models: ModelOptions
    @Option(help: "Inference threads.") var threads = 1
    @Option(help: "Server queue_capacity.") var queueCapacity = 16
    @Option(help: "Server request_timeout_ms: the deadline accepted requests must meet.") var requestTimeoutMs = 5000
    @Option(help: "Steady load as a fraction of measured capacity.") var steadyFraction = 0.5
    @Option(help: "Overload as a multiple of measured capacity.") var overload = 4.0
    @Option(help: "Open-loop client connections.") var connections = 64
    @Option(help: "Allowed RSS growth after warm-up (fraction).") var rssTolerance = 0.05
    @Option(help: "The server's context_cache_mb: small, so the load's contexts keep it full and evicting.")
    var contextCacheMegabytes = 4

    /// fds: the server's open descriptors minus the sockets our own clients hold open at that moment.
    /// timers: instructrec_deadline_timers, live 504 timers (must track requests in flight, not the rate × timeout).
    struct Sample { var time: Double; var rssKiB: Int; var fds: Int; var threads: Int; var timers: Int }

    /// " ESTABLISHED 127.0.0.1:8080<-127.0.0.1:5555" for "socket:[inode]", from /proc/net/tcp{,6}.
    static func tcpState(of target: String) -> String {
        guard target.hasPrefix("socket:["), let inode = target.dropFirst(8).split(separator: "]").first else { return "" }
        let states = ["01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
                      "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"]
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if fields.count > 9, fields[9] == inode {
                    return " \(states[String(fields[3])] ?? String(fields[3])) local \(fields[1]) remote \(fields[2])"
                }
            }
        }
        return " (not TCP)"
    }

    func validate() throws { try models.validateShare() }

    func run() throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw LoadTestError.setup("instructrec not found at \(binary) (make build)") }
        let second = try models.second()
        let mix = TrafficMix.of(second: second, share: models.secondShare)
        let modelNames = mix.modelNames
        let port = try Probe.freePort()
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("instructrec-soak-\(getpid()).log").path
        let server = ServerProcess(name: "instructrec", executable: binary, arguments: [
            "serve"] + ServedModel.serveArguments(defaultDirectory: models.model, second: second) + [
            "--host", "127.0.0.1", "--port", String(port), "--threads", String(threads),
            "--set", "queue_capacity=\(queueCapacity)", "--set", "request_timeout_ms=\(requestTimeoutMs)",
            "--set", "log_requests=false", "--set", "drain_delay_s=0",
            // A context cache smaller than the load's distinct contexts: full from the warm-up on, evicting
            // the whole run, so the leak check sees the cache at its bound.
            "--set", "context_cache_mb=\(contextCacheMegabytes)",
        ], logPath: logPath)
        try server.start()
        defer { server.stop() }
        guard Probe.waitUntilReady(port: port, timeout: 120, process: server) != nil else {
            throw LoadTestError.setup("server did not become ready:\n\(server.logTail())")
        }

        // Capacity: closed loop with enough clients to keep the queue busy.
        let calibration = LoadGenerator(port: port, timeoutSeconds: 30, mix: mix)
        let calibrationStart = Clock.now
        calibration.startClosedLoop(clients: 4)
        Clock.sleep(until: calibrationStart + 5)
        calibration.stop()
        let calibrated = calibration.log.all.filter(\.succeeded)
        let capacity = Double(calibrated.count) / (Clock.now - calibrationStart)
        guard capacity > 0 else { throw LoadTestError.setup("no request succeeded during calibration:\n\(server.logTail())") }
        let steadyRate = capacity * steadyFraction
        let overloadRate = capacity * overload
        print(String(format: "soak: %.0f s on :%d; capacity %.1f req/s (p50 %@); steady %.1f req/s, overload %.1f req/s; log %@",
                     duration, port, capacity, LatencySummary.milliseconds(LatencySummary(calibrated.map(\.latency)).p50),
                     steadyRate, overloadRate, logPath))
        if let second {
            print(String(format: "soak: models default (/recommend) and %@ (/v2/rerank, %.0f%% of requests); calibration p50 %@",
                         second.name, models.secondShare * 100,
                         byModel(calibrated, models: modelNames).map { "\($0.model) \(LatencySummary.milliseconds(LatencySummary($0.records.map(\.latency)).p50))" }
                            .joined(separator: ", ")))
        }

        let generator = LoadGenerator(port: port, timeoutSeconds: Double(requestTimeoutMs) / 1000 + 10, mix: mix)
        let chaos = ChaosClients(port: port, servesModelsByName: second != nil)
        var samples: [Sample] = []
        let t0 = Clock.now
        func at(_ fraction: Double) -> Double { t0 + duration * fraction }
        func sample() -> Sample? {
            guard let rss = server.residentKiB, let fds = server.openDescriptors else { return nil }
            return Sample(time: Clock.now - t0, rssKiB: rss, fds: fds - HTTPClientConnection.openCount.current,
                          threads: server.threadCount ?? 0,
                          timers: Int(Probe.gauge(port: port, name: "instructrec_deadline_timers") ?? -1))
        }
        /// Pauses all load, lets the server settle, and samples it quietly.
        func quietSample() -> Sample? {
            generator.setRate(0)
            chaos.setPaused(true)
            // Wait for the server to finish the work it accepted, then let closes settle.
            let limit = Clock.now + 30
            while Clock.now < limit {
                let queued = Probe.gauge(port: port, name: "instructrec_queue_depth") ?? 1
                let running = Probe.gauge(port: port, name: "instructrec_inflight_requests") ?? 1
                if queued == 0 && running == 0 { break }
                usleep(100_000)
            }
            // Then until the descriptor count holds still for a second (closes in flight finish).
            usleep(1_000_000)
            var settled = sample()
            let settleLimit = Clock.now + 10
            while Clock.now < settleLimit {
                usleep(1_000_000)
                let next = sample()
                if next?.fds == settled?.fds { break }
                settled = next
            }
            return settled
        }
        generator.startOpenLoop(connections: connections, requestsPerSecond: steadyRate)
        // Abuse at 20% of capacity in all (two threads): a quarter of it is
        // requests abandoned after sending, which still cost the server work
        // unless it notices the client left; the slow reader's requests cost
        // a full inference each too.
        chaos.start(abusers: 2, slowReaders: 1, pause: max(0.01, 2 / (0.2 * capacity)))

        // Warm-up: steady load until the allocator has reached its working set,
        // i.e. RSS changed by at most 0.5% over the last `window` seconds (at
        // least 10% of the run, at most 40%). Leaks are judged after that.
        // The warm-up opens with a short burst at the overload rate: full batches grow each worker's
        // scratch to its bound (max_batch_tokens) now, so the baseline below is the working set of
        // every load shape the run applies, and a later step to that bound is not read as a leak.
        var overloadWindows: [(start: Double, end: Double)] = []
        var steadyWindows: [(start: Double, end: Double)] = []
        let burst = min(5, max(2, duration * 0.03))
        print(String(format: "  t=%5.1fs  warm-up: %.0f s at the overload rate, then %.1f req/s", Clock.now - t0, burst, steadyRate))
        generator.setRate(overloadRate)
        while Clock.now < t0 + burst {
            if let s = sample() { samples.append(s) }
            Clock.sleep(until: min(t0 + burst, Clock.now + 1))
        }
        overloadWindows.append((0, Clock.now - t0))
        generator.setRate(steadyRate)
        let window = max(10, duration * 0.05)
        while Clock.now < at(0.4) {
            if let s = sample() { samples.append(s) }
            if server.exitStatus != nil { break }
            let elapsed = Clock.now - t0
            if elapsed >= duration * 0.1, let latest = samples.last,
               let earlier = samples.last(where: { $0.time <= elapsed - window }),
               Double(abs(latest.rssKiB - earlier.rssKiB)) <= 0.005 * Double(earlier.rssKiB) {
                break
            }
            Clock.sleep(until: Clock.now + 1)
        }
        let warmUpEnd = Clock.now - t0
        let baseline = quietSample()
        let baselineTargets = server.descriptorTargets
        chaos.setPaused(false)

        // The rest of the run, as fractions of what is left after warm-up.
        let remaining = duration - (Clock.now - t0)
        let origin = Clock.now
        let phases: [(start: Double, end: Double, rate: Double, name: String)] = [
            (0.0, 0.3, steadyRate, "steady"), (0.3, 0.45, overloadRate, "overload"), (0.45, 0.7, steadyRate, "steady"),
            (0.7, 0.78, overloadRate, "overload"), (0.78, 1.0, steadyRate, "steady"),
        ]
        for phase in phases {
            let start = Clock.now - t0
            generator.setRate(phase.rate)
            print(String(format: "  t=%5.1fs  %@ at %.1f req/s", start, phase.name, phase.rate))
            while Clock.now < origin + remaining * phase.end {
                if let s = sample() { samples.append(s) }
                if server.exitStatus != nil { break }
                Clock.sleep(until: min(origin + remaining * phase.end, Clock.now + 1))
            }
            if phase.name == "overload" { overloadWindows.append((start, Clock.now - t0)) } else { steadyWindows.append((start, Clock.now - t0)) }
        }
        let final = quietSample()
        let finalTargets = server.descriptorTargets
        generator.stop()
        chaos.stop()
        let healthy = Probe.get(port: port, path: "/healthz")?.status == 200

        // Analysis.
        let records = generator.log.all.map { record -> RequestRecord in
            var shifted = record; shifted.start -= t0; shifted.end -= t0; return shifted
        }
        let deadline = Double(requestTimeoutMs) / 1000
        // After an overload the server still owes the backlog it accepted: a
        // full queue takes queue_capacity / capacity seconds to serve.
        let backlog = Double(queueCapacity) / capacity + 0.5
        func inOverload(_ time: Double) -> Bool {
            overloadWindows.contains { time >= $0.start && time < $0.end + backlog }
        }
        let ok = records.filter(\.succeeded)
        let shed = records.filter { $0.status == 503 }
        let timeouts = records.filter { $0.status == 504 }
        let steadyFailures = records.filter { !$0.succeeded && !inOverload($0.start) }
        let overloadRecords = records.filter { inOverload($0.start) }
        let late = ok.filter { $0.latency > deadline }
        var breaches: [String] = []
        if !healthy || server.exitStatus != nil { breaches.append("the server is not healthy at the end") }
        if shed.isEmpty { breaches.append("overload produced no 503 (is the overload high enough?)") }
        if shed.contains(where: { !$0.hasRetryAfter }) { breaches.append("\(shed.filter { !$0.hasRetryAfter }.count) 503s without Retry-After") }
        if !timeouts.isEmpty { breaches.append("\(timeouts.count) requests hit their deadline (504)") }
        if !late.isEmpty { breaches.append("\(late.count) 200s arrived after the \(requestTimeoutMs) ms deadline") }
        let unexpected = overloadRecords.filter { !$0.succeeded && $0.status != 503 }
        if !unexpected.isEmpty { breaches.append("overload: \(unexpected.count) failures other than 503: \(outcomeTable(unexpected).prefix(3))") }
        // Steady load: nothing may fail; a stray 503 (a scheduling hiccup on a
        // shared machine filling the queue) is tolerated up to 1% of requests.
        let steadyRecords = records.filter { !inOverload($0.start) }
        let steadyShed = steadyFailures.filter { $0.status == 503 && $0.hasRetryAfter }
        let steadyErrors = steadyFailures.filter { !($0.status == 503 && $0.hasRetryAfter) }
        if !steadyErrors.isEmpty { breaches.append("steady load: \(steadyErrors.count) failures: \(outcomeTable(steadyErrors).prefix(3))") }
        if Double(steadyShed.count) > 0.01 * Double(steadyRecords.count) {
            breaches.append("steady load: \(steadyShed.count) of \(steadyRecords.count) requests shed with 503")
        }
        for end in overloadWindows.map(\.end) {
            // Five seconds, or what is left of the run when a short run ends sooner.
            let lastStart = records.map(\.start).max() ?? 0
            let length = min(5, lastStart - (end + backlog))
            guard length >= 2 else {
                print(String(format: "recovery after overload ending at %.0f s: not measured (the run ends %.1f s after the backlog)", end, max(0, length)))
                continue
            }
            let window = records.filter { $0.start >= end + backlog && $0.start < end + backlog + length }
            let served = Double(window.filter(\.succeeded).count) / length
            let rejected = window.filter { $0.status == 503 }.count
            print(String(format: "recovery after overload ending at %.0f s: %.1f req/s served (steady %.1f), %d 503s", end, served, steadyRate, rejected))
            if rejected > 0 || served < 0.9 * steadyRate {
                breaches.append(String(format: "no recovery after overload at %.0f s (%.1f req/s, %d 503s)", end, served, rejected))
            }
        }
        // Latency flat per model: each steady phase's 200s (the backlog after an overload left out), by model.
        func steadyLatency(_ window: (start: Double, end: Double), model: String) -> LatencySummary {
            LatencySummary(ok.filter { $0.model == model && $0.start >= window.start && $0.start < window.end && !inOverload($0.start) }.map(\.latency))
        }
        if let first = steadyWindows.first, let last = steadyWindows.last, steadyWindows.count > 1 {
            for name in modelNames {
                let early = steadyLatency(first, model: name), late = steadyLatency(last, model: name)
                if early.count >= 20, late.count >= 20, late.p50 > 2 * early.p50 + 0.005 {
                    breaches.append("model \(name): steady p50 grew from \(LatencySummary.milliseconds(early.p50)) (first steady phase) to \(LatencySummary.milliseconds(late.p50)) (last)")
                }
            }
        }
        if !chaos.wrongAnswers.isEmpty { breaches.append("malformed requests answered wrongly: \(chaos.wrongAnswers.prefix(5))") }
        if let baseline, let final {
            if Double(final.rssKiB) > Double(baseline.rssKiB) * (1 + rssTolerance) {
                breaches.append("RSS grew from \(baseline.rssKiB) KiB to \(final.rssKiB) KiB")
            }
            if final.timers != 0 {
                breaches.append("\(final.timers) deadline timers live with no request in flight")
            }
            if final.fds > baseline.fds {
                let added = finalTargets.filter { !baselineTargets.contains($0) }.map { $0 + Self.tcpState(of: $0) }
                breaches.append("open descriptors grew from \(baseline.fds) to \(final.fds); new: \(added.prefix(10)); " +
                                "our clients hold \(HTTPClientConnection.openCount.current) connections")
            }
        } else {
            breaches.append("could not sample the server's RSS and descriptors")
        }

        // Report.
        let latency = LatencySummary(ok.map(\.latency))
        print("")
        print("requests        \(records.count) (\(ok.count) 200, \(shed.count) 503 with Retry-After \(shed.filter(\.hasRetryAfter).count), \(timeouts.count) 504)")
        print("not sent        \(generator.skippedReleases) due requests (every client connection was busy)")
        print("outcomes        " + outcomeTable(records).map { "\($0.0): \($0.1)" }.joined(separator: ", "))
        print("steady phases   \(steadyRecords.count) requests, \(steadyShed.count) shed (503), \(steadyErrors.count) failed")
        print("latency (200)   p50 \(LatencySummary.milliseconds(latency.p50))  p99 \(LatencySummary.milliseconds(latency.p99))  max \(LatencySummary.milliseconds(latency.max))")
        for (name, subset) in byModel(records, models: modelNames) where modelNames.count > 1 {
            let okOfModel = LatencySummary(subset.filter(\.succeeded).map(\.latency))
            print("  model \(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(subset.count) requests, \(subset.filter(\.succeeded).count) 200; " +
                  "p50 \(LatencySummary.milliseconds(okOfModel.p50))  p99 \(LatencySummary.milliseconds(okOfModel.p99))  max \(LatencySummary.milliseconds(okOfModel.max))")
        }
        for name in modelNames {
            let phases = steadyWindows.map { window -> String in
                let summary = steadyLatency(window, model: name)
                return String(format: "[%.0f-%.0f s] p50 %@ p99 %@", window.start, window.end,
                              LatencySummary.milliseconds(summary.p50), LatencySummary.milliseconds(summary.p99))
            }
            print("steady \(name.padding(toLength: 9, withPad: " ", startingAt: 0))" + phases.joined(separator: ", "))
        }
        let overloadOK = LatencySummary(overloadRecords.filter(\.succeeded).map(\.latency))
        print("overload (200)  p50 \(LatencySummary.milliseconds(overloadOK.p50))  p99 \(LatencySummary.milliseconds(overloadOK.p99)) (deadline \(requestTimeoutMs) ms)")
        print("abusive clients " + chaos.counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        if let baseline, let final, let first = samples.first {
            let peak = samples.map(\.rssKiB).max() ?? 0
            print(String(format: "RSS             start %d KiB, after warm-up (%.0f s) %d KiB, end %d KiB (%+.1f%%), peak %d KiB",
                         first.rssKiB, warmUpEnd, baseline.rssKiB, final.rssKiB, (Double(final.rssKiB) / Double(baseline.rssKiB) - 1) * 100, peak))
            print("descriptors     start \(first.fds), after warm-up \(baseline.fds), end \(final.fds) " +
                  "(quiet samples; the server's own, not counting our clients' open connections)")
            print("threads         after warm-up \(baseline.threads), end \(final.threads), peak \(samples.map(\.threads).max() ?? 0)")
            print("deadline timers after warm-up \(baseline.timers), end \(final.timers), peak \(samples.map(\.timers).max() ?? 0) " +
                  "(live 504 timers; \(records.count) requests with a \(requestTimeoutMs) ms deadline)")
        }
        print("")
        let seconds = Int(duration.rounded(.up))
        var p50 = [Double](repeating: .nan, count: seconds), p99 = p50
        var perSecond = [[Double]](repeating: [], count: seconds)
        for record in ok { let s = Int(record.start); if s >= 0 && s < seconds { perSecond[s].append(record.latency) } }
        for s in 0..<seconds where !perSecond[s].isEmpty {
            let summary = LatencySummary(perSecond[s])
            p50[s] = summary.p50; p99[s] = summary.p99
        }
        var marks: [(at: Int, symbol: Character)] = [(Int(warmUpEnd), "W")]
        for window in overloadWindows { marks += [(Int(window.start), "O"), (Int(window.end), "|")] }
        print(AsciiPlot.render(samples.map { Double($0.rssKiB) / 1024 }, title: "RSS (MiB) over time   (W: warm-up ends, O: overload starts, |: ends)", unit: "MiB", marks: marks))
        print(AsciiPlot.render(p50.map { $0 * 1000 }, title: "p50 latency of 200s per second (ms)", unit: "ms", marks: marks))
        print(AsciiPlot.render(p99.map { $0 * 1000 }, title: "p99 latency of 200s per second (ms)", unit: "ms", marks: marks))
        try Verdict.finish("soak", breaches: breaches)
    }
}
