import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `instructrec-loadtest lb-test`: nginx on loopback in front of three
/// `instructrec serve` replicas, /recommend load for the whole run, and a
/// replica stopped gracefully and another killed while it runs.
///
/// Pass conditions:
/// - SIGTERM: no request fails (the replica drains; nginx retries on another
///   replica any connection that closes under it).
/// - SIGKILL: only requests in flight at that instant may fail, and none started after it.
/// - Both restarted replicas serve /recommend traffic within `--rejoin-within`
///   seconds of their /readyz turning 200.
/// - SIGHUP: replica 3 reloads its model (its directory, a copy, edited just before)
///   under load: no request fails and its /info model hash changes.
/// - After the load, every replica's queue gauges (instructrec_queue_depth,
///   instructrec_inflight_engine_calls) return to 0.
struct LBTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lb-test", abstract: "Load balancer fault test: nginx + 3 replicas, SIGTERM and SIGKILL under load.")

    @Option(help: "Seconds of load.") var duration = 60.0
    @Option(help: "Concurrent closed-loop clients.") var clients = 8
    @Option(help: "The instructrec binary.") var binary = ".build/release/instructrec"
    @Option(help: "The nginx binary.") var nginx = "/usr/sbin/nginx"
    @Option(help: "nginx configuration to test (lines marked lb-test: are rewritten for loopback).")
    var nginxConfig = "docker/nginx.conf"
    @Option(help: "Model directory for the replicas.") var model = "models/default"
    @Option(help: "Inference threads per replica.") var threads = 1
    @Option(help: "Replica drain_delay_s.") var drainDelay = 2.0
    @Option(help: "A restarted replica must serve traffic within this many seconds of /readyz 200.")
    var rejoinWithin = 5.0

    func run() throws {
        for (what, path) in [("instructrec", binary), ("nginx", nginx)] where !FileManager.default.isExecutableFile(atPath: path) {
            throw LoadTestError.setup("\(what) not found at \(path)" + (what == "nginx" ? " (apt-get install nginx-light)" : " (make build)"))
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("instructrec-lb-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o777])
        // The replicas serve a copy of the model, so the SIGHUP phase can change its files.
        let modelCopy = "\(directory)/model"
        try? FileManager.default.removeItem(atPath: modelCopy)
        try FileManager.default.copyItem(atPath: model, toPath: modelCopy)
        let listenPort = try Probe.freePort()
        let replicaPorts = try (0..<3).map { _ in try Probe.freePort() }
        let replicas = replicaPorts.enumerated().map { index, port in
            ServerProcess(name: "replica-\(index + 1)", executable: binary, arguments: [
                "serve", "--model", modelCopy, "--host", "127.0.0.1", "--port", String(port), "--threads", String(threads),
                "--set", "drain_delay_s=\(drainDelay)", "--set", "shutdown_deadline_s=20", "--set", "log_requests=false",
            ], logPath: "\(directory)/replica-\(index + 1).log")
        }
        let template = try String(contentsOfFile: nginxConfig, encoding: .utf8)
        let configPath = "\(directory)/nginx.conf"
        try NginxConfig.loopback(from: template, listenPort: listenPort, upstreamPorts: replicaPorts, directory: directory)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        let balancer = ServerProcess(name: "nginx", executable: nginx,
                                     arguments: ["-p", directory, "-c", configPath, "-g", "daemon off;"],
                                     logPath: "\(directory)/nginx.out")
        var load: LoadGenerator?
        defer {
            load?.stop()
            balancer.stop()
            for replica in replicas { replica.stop() }
        }

        print("lb-test: nginx :\(listenPort) -> replicas :\(replicaPorts.map(String.init).joined(separator: ", :")); " +
              "\(clients) clients, \(Int(duration)) s; logs in \(directory)")
        for (replica, port) in zip(replicas, replicaPorts) {
            try replica.start()
            guard Probe.waitUntilReady(port: port, timeout: 120, process: replica) != nil else {
                throw LoadTestError.setup("\(replica.name) did not become ready:\n\(replica.logTail())")
            }
        }
        try balancer.start()
        guard Probe.waitUntilReady(port: listenPort, timeout: 20, process: balancer) != nil else {
            throw LoadTestError.setup("nginx did not start:\n\(balancer.logTail())\n\((try? String(contentsOfFile: "\(directory)/nginx-error.log", encoding: .utf8)) ?? "")")
        }

        let generator = LoadGenerator(port: listenPort, timeoutSeconds: 60)
        load = generator
        let t0 = Clock.now
        func at(_ fraction: Double) -> Double { t0 + duration * fraction }
        func log(_ message: String) { print(String(format: "  t=%5.1fs  ", Clock.now - t0) + message) }
        generator.startClosedLoop(clients: clients)
        var breaches: [String] = []

        // 1. SIGTERM replica 1: it drains, exits 0, and no request fails.
        Clock.sleep(until: at(0.15))
        let servedBeforeTerm = Probe.servedRequests(port: replicaPorts[0], route: "/recommend") ?? 0
        let termTime = Clock.now
        replicas[0].signal(SIGTERM)
        log("SIGTERM replica-1 (it had served \(servedBeforeTerm) /recommend)")
        if servedBeforeTerm == 0 { breaches.append("replica-1 received no traffic before SIGTERM") }
        if !replicas[0].waitForExit(timeout: drainDelay + 30) { breaches.append("replica-1 did not exit after SIGTERM") }
        log("replica-1 exited with status \(replicas[0].exitStatus.map(String.init) ?? "?")")
        if replicas[0].exitStatus != 0 { breaches.append("replica-1 exit status \(replicas[0].exitStatus.map(String.init) ?? "?") after SIGTERM") }
        let termEnd = Clock.now
        let rejoin1 = try restart(replicas[0], port: replicaPorts[0], log: log, breaches: &breaches)

        // 2. SIGKILL replica 2: only requests in flight at that instant may fail.
        Clock.sleep(until: at(0.55))
        let killTime = Clock.now
        replicas[1].signal(SIGKILL)
        log("SIGKILL replica-2")
        replicas[1].waitForExit(timeout: 10)
        usleep(1_000_000)
        let rejoin2 = try restart(replicas[1], port: replicaPorts[1], log: log, breaches: &breaches)

        // 3. SIGHUP replica 3 after its model's files changed: it reloads under load, no request fails.
        Clock.sleep(until: at(0.8))
        let hashBefore = Probe.modelHash(port: replicaPorts[2])
        try Self.touchSettings(of: modelCopy)
        let hupTime = Clock.now
        replicas[2].signal(SIGHUP)
        log("SIGHUP replica-3 (model files changed)")
        var hashAfter = hashBefore
        while Clock.now < hupTime + 60 {
            hashAfter = Probe.modelHash(port: replicaPorts[2])
            if hashAfter != nil && hashAfter != hashBefore { break }
            usleep(50_000)
        }
        let reloaded = Clock.now
        if hashAfter == hashBefore || hashAfter == nil {
            breaches.append("replica-3's model hash did not change after SIGHUP (\(hashBefore ?? "?"))")
        } else {
            log(String(format: "replica-3 reloaded in %.2f s: sha256 %@… -> %@…", reloaded - hupTime,
                       String((hashBefore ?? "?").prefix(12)), String((hashAfter ?? "?").prefix(12))))
        }
        if replicas[2].exitStatus != nil { breaches.append("replica-3 exited after SIGHUP") }

        Clock.sleep(until: at(1.0))
        generator.stop()
        load = nil
        log("load stopped")

        // 4. At rest, the autoscaling gauges read 0 on every replica.
        for (index, port) in replicaPorts.enumerated() {
            var values: [Double?] = []
            let deadline = Clock.now + 5
            repeat {
                values = ["instructrec_queue_depth", "instructrec_inflight_engine_calls"].map { Probe.gauge(port: port, name: $0) }
                if values.allSatisfy({ $0 == 0 }) { break }
                usleep(50_000)
            } while Clock.now < deadline
            if !values.allSatisfy({ $0 == 0 }) {
                breaches.append("replica-\(index + 1)'s queue gauges at rest: \(values.map { $0.map { String($0) } ?? "missing" })")
            }
        }
        log("queue gauges at rest: 0 on every replica")

        // Report.
        let records = generator.log.all
        let failures = records.filter { !$0.succeeded }
        let inFlightAtKill = records.filter { $0.start <= killTime && $0.end >= killTime }
        let killFailures = failures.filter { $0.start <= killTime && $0.end >= killTime }
        let termFailures = failures.filter { $0.end >= termTime && $0.start <= rejoin1 }
        let otherFailures = failures.filter { !($0.start <= killTime && $0.end >= killTime) }
        let hupFailures = failures.filter { $0.end >= hupTime && $0.start <= reloaded }
        let latency = LatencySummary(records.filter(\.succeeded).map(\.latency))
        print("")
        print("requests        \(records.count) (\(String(format: "%.0f", Double(records.count) / duration)) req/s)")
        print("succeeded       \(records.count - failures.count)")
        print("failures        \(failures.count)")
        for (outcome, count) in outcomeTable(failures) { print("  \(outcome.padding(toLength: 22, withPad: " ", startingAt: 0)) \(count)") }
        print("latency (200)   p50 \(LatencySummary.milliseconds(latency.p50))  p99 \(LatencySummary.milliseconds(latency.p99))  max \(LatencySummary.milliseconds(latency.max))")
        print("SIGTERM window  \(termFailures.count) failures (drain took \(String(format: "%.1f", termEnd - termTime)) s)")
        print("SIGKILL         \(killFailures.count) failures; \(inFlightAtKill.count) requests in flight (all replicas) at that instant; " +
              "\(failures.filter { $0.start > killTime }.count) failures started after it")
        print("SIGHUP window   \(hupFailures.count) failures (reload took \(String(format: "%.1f", reloaded - hupTime)) s)")
        print("rejoin          replica-1 \(String(format: "%.2f", rejoin1 - termEnd)) s after exit, replica-2 \(String(format: "%.2f", rejoin2 - killTime)) s after kill")
        let served = replicaPorts.map { Probe.servedRequests(port: $0, route: "/recommend") ?? 0 }
        print("served by replicas since their (re)start: \(served.map(String.init).joined(separator: ", "))")

        if records.count < clients * 10 { breaches.append("only \(records.count) requests completed") }
        if !termFailures.isEmpty { breaches.append("\(termFailures.count) requests failed around the SIGTERM") }
        if !hupFailures.isEmpty { breaches.append("\(hupFailures.count) requests failed around the SIGHUP reload") }
        if !otherFailures.isEmpty { breaches.append("\(otherFailures.count) failures outside the instant of the SIGKILL") }
        if killFailures.count > inFlightAtKill.count { breaches.append("SIGKILL failures exceed the requests in flight") }
        if breaches.isEmpty {
            print("lb-test: PASS")
        } else {
            for breach in breaches { print("BREACH: \(breach)") }
            print("lb-test: FAIL (logs in \(directory))")
            throw ExitCode(1)
        }
    }

    /// Changes the model's settings file (a different prior_weight, as a retuned model would ship), so
    /// the model's content, and its hash, differ after a reload.
    static func touchSettings(of model: String) throws {
        let path = "\(model)/instructrec.json"
        var settings = (FileManager.default.contents(atPath: path)
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }) ?? [:]
        let weight = settings["prior_weight"] as? Double ?? 0.5
        settings["prior_weight"] = weight < 1 ? weight + 0.125 : weight - 0.125
        let data = try JSONSerialization.data(withJSONObject: settings, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Starts a replica again, waits for /readyz 200, then for it to serve
    /// /recommend traffic through nginx. Returns when it served its first request.
    private func restart(_ replica: ServerProcess, port: Int, log: (String) -> Void, breaches: inout [String]) throws -> Double {
        try replica.start()
        guard let ready = Probe.waitUntilReady(port: port, timeout: 60, process: replica) else {
            breaches.append("\(replica.name) did not become ready after restart")
            return Clock.now
        }
        log("\(replica.name) restarted, /readyz 200")
        while Clock.now < ready + rejoinWithin + 5 {
            if let served = Probe.servedRequests(port: port, route: "/recommend"), served > 0 {
                let delay = Clock.now - ready
                log(String(format: "\(replica.name) serving traffic again, %.2f s after ready", delay))
                if delay > rejoinWithin { breaches.append(String(format: "\(replica.name) rejoined after %.1f s", delay)) }
                return Clock.now
            }
            usleep(50_000)
        }
        breaches.append("\(replica.name) received no traffic within \(rejoinWithin) s of ready")
        return Clock.now
    }
}
