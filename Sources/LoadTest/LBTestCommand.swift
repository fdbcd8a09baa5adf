import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `instructrec-loadtest lb-test`: nginx on loopback in front of three
/// `instructrec serve` replicas, load for the whole run, and a replica stopped
/// gracefully and another killed while it runs.
///
/// Every replica serves two models (unless `--second-model none`): `default` (the
/// /recommend load, half of it without a model field, half naming "default") and a
/// second one, `mono` (MonoT5; `--second-share` of the load, /v2/rerank with
/// `"model": "mono"`). Every answer must come from the model asked for (its
/// `X-Model` header), and every condition below holds for each model's requests.
///
/// Pass conditions:
/// - The interface (two models): /info lists both models with the default marked,
///   each answers with its X-Model, an unknown name is 404 (`unknown_model` on /recommend;
///   Cohere's envelope on /v2/rerank has a message only, which names the model).
/// - SIGTERM: no request fails (the replica drains; nginx retries on another
///   replica any connection that closes under it).
/// - One model reloaded (two models): replica 3 reloads only the second model
///   (`POST /admin/reload {"model": NAME}`, its directory edited just before) under
///   load: the reload answers 200, that model's /info hash changes and the default's
///   does not, and no request of either model fails meanwhile.
/// - SIGKILL: only requests in flight at that instant may fail, and none started after it.
/// - Both restarted replicas serve /recommend traffic within `--rejoin-within`
///   seconds of their /readyz turning 200.
/// - SIGHUP: replica 3 reloads its default model (its directory, a copy, edited just
///   before) under load: no request fails and its /info hash changes; the second
///   model, whose files did not change, keeps its hash and is not reloaded.
/// - After the load, every replica's queue gauges (instructrec_queue_depth,
///   instructrec_inflight_engine_calls) return to 0.
struct LBTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lb-test",
        abstract: "Load balancer fault test: nginx + 3 replicas serving two models; SIGTERM, SIGKILL, one model's reload and SIGHUP under load.")

    @Option(help: "Seconds of load.") var duration = 60.0
    @Option(help: "Concurrent closed-loop clients.") var clients = 8
    @Option(help: "The instructrec binary.") var binary = ".build/release/instructrec"
    @Option(help: "The nginx binary.") var nginx = "/usr/sbin/nginx"
    @Option(help: "nginx configuration to test (lines marked lb-test: are rewritten for loopback).")
    var nginxConfig = "docker/nginx.conf"
    @OptionGroup var models: ModelOptions
    @Option(help: "Inference threads per replica.") var threads = 1
    @Option(help: "Replica drain_delay_s.") var drainDelay = 2.0
    @Option(help: "A restarted replica must serve traffic within this many seconds of /readyz 200.")
    var rejoinWithin = 5.0

    /// The replicas' API key when they serve two models (POST /admin/reload needs one; every
    /// request of the load then carries it).
    static let apiKey = "lb-test-reload-key-0123456789"

    func validate() throws { try models.validateShare() }

    func run() throws {
        for (what, path) in [("instructrec", binary), ("nginx", nginx)] where !FileManager.default.isExecutableFile(atPath: path) {
            throw LoadTestError.setup("\(what) not found at \(path)" + (what == "nginx" ? " (apt-get install nginx-light)" : " (make build)"))
        }
        let second = try models.second()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("instructrec-lb-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o777])
        // The replicas serve copies of the models, so the reload phases can change their files.
        let modelCopy = "\(directory)/model"
        try? FileManager.default.removeItem(atPath: modelCopy)
        try FileManager.default.copyItem(atPath: models.model, toPath: modelCopy)
        var secondCopy: ServedModel?
        if let second {
            let path = "\(directory)/model-\(second.name)"
            try? FileManager.default.removeItem(atPath: path)
            guard FileManager.default.fileExists(atPath: second.directory) else {
                throw LoadTestError.setup("the second model's directory \(second.directory) does not exist (--second-model NAME=DIR, or none)")
            }
            try FileManager.default.copyItem(atPath: second.directory, toPath: path)
            secondCopy = ServedModel(name: second.name, directory: path)
        }
        let mix = TrafficMix.of(second: secondCopy, share: models.secondShare)
        let modelNames = mix.modelNames
        let key: String? = secondCopy == nil ? nil : Self.apiKey
        let listenPort = try Probe.freePort()
        let replicaPorts = try (0..<3).map { _ in try Probe.freePort() }
        let replicas = replicaPorts.enumerated().map { index, port in
            ServerProcess(name: "replica-\(index + 1)", executable: binary, arguments: [
                "serve"] + ServedModel.serveArguments(defaultDirectory: modelCopy, second: secondCopy) + [
                "--host", "127.0.0.1", "--port", String(port), "--threads", String(threads),
                "--set", "drain_delay_s=\(drainDelay)", "--set", "shutdown_deadline_s=20", "--set", "log_requests=false",
            ] + (key.map { ["--set", "api_keys=\($0)"] } ?? []), logPath: "\(directory)/replica-\(index + 1).log")
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

        let served = secondCopy.map { "models default + \($0.name) (\(Int((models.secondShare * 100).rounded()))% of requests)" } ?? "model default"
        print("lb-test: nginx :\(listenPort) -> replicas :\(replicaPorts.map(String.init).joined(separator: ", :")); " +
              "\(clients) clients, \(Int(duration)) s, \(served); logs in \(directory)")
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
        var breaches: [String] = []
        if let secondCopy {
            breaches += Self.checkInterface(port: replicaPorts[0], second: secondCopy.name, authorization: key)
            breaches += Self.checkInterface(port: listenPort, second: secondCopy.name, authorization: key, through: "nginx")
        }

        let generator = LoadGenerator(port: listenPort, timeoutSeconds: 60, mix: mix, authorization: key)
        load = generator
        let t0 = Clock.now
        func at(_ fraction: Double) -> Double { t0 + duration * fraction }
        func log(_ message: String) { print(String(format: "  t=%5.1fs  ", Clock.now - t0) + message) }
        generator.startClosedLoop(clients: clients)

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

        // 2. One model reloaded on replica 3 under load (two models): only that model changes, nothing fails.
        var modelReload: (start: Double, end: Double)?
        if let secondCopy, let key {
            Clock.sleep(until: at(0.35))
            modelReload = try reloadOneModel(secondCopy, port: replicaPorts[2], key: key, log: log, breaches: &breaches)
            if replicas[2].exitStatus != nil { breaches.append("replica-3 exited after reloading \(secondCopy.name)") }
        }

        // 3. SIGKILL replica 2: only requests in flight at that instant may fail.
        Clock.sleep(until: at(0.55))
        let killTime = Clock.now
        replicas[1].signal(SIGKILL)
        log("SIGKILL replica-2")
        replicas[1].waitForExit(timeout: 10)
        usleep(1_000_000)
        let rejoin2 = try restart(replicas[1], port: replicaPorts[1], log: log, breaches: &breaches)

        // 4. SIGHUP replica 3 after its default model's files changed: it reloads that model under load,
        //    no request fails; the second model's files did not change, so it is not reloaded.
        Clock.sleep(until: at(0.8))
        let hashesBefore = Probe.modelHashes(port: replicaPorts[2]) ?? [:]
        let hashBefore = hashesBefore[ServedModel.defaultName]
        let secondReloadsBefore = secondCopy.flatMap { Self.reloadCount(port: replicaPorts[2], model: $0.name) }
        try Self.touchSettings(of: modelCopy)
        let hupTime = Clock.now
        replicas[2].signal(SIGHUP)
        log("SIGHUP replica-3 (default model's files changed)")
        var hashesAfter = hashesBefore
        while Clock.now < hupTime + 60 {
            hashesAfter = Probe.modelHashes(port: replicaPorts[2]) ?? [:]
            if let after = hashesAfter[ServedModel.defaultName], after != hashBefore { break }
            usleep(50_000)
        }
        let reloaded = Clock.now
        let hashAfter = hashesAfter[ServedModel.defaultName]
        if hashAfter == hashBefore || hashAfter == nil {
            breaches.append("replica-3's default model hash did not change after SIGHUP (\(hashBefore ?? "?"))")
        } else {
            log(String(format: "replica-3 reloaded default in %.2f s: sha256 %@… -> %@…", reloaded - hupTime,
                       String((hashBefore ?? "?").prefix(12)), String((hashAfter ?? "?").prefix(12))))
        }
        if let secondCopy {
            // The reload counter moves after the hash: give an unwanted second reload a moment to show.
            usleep(500_000)
            let name = secondCopy.name
            if let before = hashesBefore[name], let after = (Probe.modelHashes(port: replicaPorts[2]) ?? [:])[name], before != after {
                breaches.append("SIGHUP changed replica-3's \(name) hash although its files did not change")
            }
            if let before = secondReloadsBefore, let after = Self.reloadCount(port: replicaPorts[2], model: name), after != before {
                breaches.append("SIGHUP reloaded replica-3's \(name) although its files did not change (instructrec_model_reloads_total{model=\"\(name)\"} \(Int(before)) -> \(Int(after)))")
            }
        }
        if replicas[2].exitStatus != nil { breaches.append("replica-3 exited after SIGHUP") }

        Clock.sleep(until: at(1.0))
        generator.stop()
        load = nil
        log("load stopped")

        // 5. At rest, the autoscaling gauges read 0 on every replica (all models).
        var atRest = true
        for (index, port) in replicaPorts.enumerated() {
            var values: [Double?] = []
            let deadline = Clock.now + 5
            repeat {
                values = ["instructrec_queue_depth", "instructrec_inflight_engine_calls"].map { Probe.gauge(port: port, name: $0) }
                if values.allSatisfy({ $0 == 0 }) { break }
                usleep(50_000)
            } while Clock.now < deadline
            if !values.allSatisfy({ $0 == 0 }) {
                atRest = false
                breaches.append("replica-\(index + 1)'s queue gauges at rest: \(values.map { $0.map { String($0) } ?? "missing" })")
            }
        }
        if atRest { log("queue gauges at rest: 0 on every replica") }

        // Report.
        let records = generator.log.all
        let failures = records.filter { !$0.succeeded }
        func inFlight(_ record: RequestRecord, at time: Double) -> Bool { record.start <= time && record.end >= time }
        let inFlightAtKill = records.filter { inFlight($0, at: killTime) }
        let killFailures = failures.filter { inFlight($0, at: killTime) }
        let termFailures = failures.filter { $0.end >= termTime && $0.start <= rejoin1 }
        let otherFailures = failures.filter { !inFlight($0, at: killTime) }
        let hupFailures = failures.filter { $0.end >= hupTime && $0.start <= reloaded }
        let reloadFailures = modelReload.map { window in failures.filter { $0.end >= window.start && $0.start <= window.end } } ?? []
        /// "default 0, mono 1" (one model: "0").
        func perModel(_ subset: [RequestRecord]) -> String {
            guard modelNames.count > 1 else { return "\(subset.count)" }
            return modelNames.map { name in "\(name) \(subset.filter { $0.model == name }.count)" }.joined(separator: ", ")
        }
        let latency = LatencySummary(records.filter(\.succeeded).map(\.latency))
        print("")
        print("requests        \(records.count) (\(String(format: "%.0f", Double(records.count) / duration)) req/s)")
        print("succeeded       \(records.count - failures.count)")
        print("failures        \(failures.count)")
        for (outcome, count) in outcomeTable(failures) { print("  \(outcome.padding(toLength: 22, withPad: " ", startingAt: 0)) \(count)") }
        print("latency (200)   p50 \(LatencySummary.milliseconds(latency.p50))  p99 \(LatencySummary.milliseconds(latency.p99))  max \(LatencySummary.milliseconds(latency.max))")
        if modelNames.count > 1 {
            for (name, subset) in byModel(records, models: modelNames) {
                let ok = LatencySummary(subset.filter(\.succeeded).map(\.latency))
                let failed = subset.filter { !$0.succeeded }.count
                print("  model \(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(subset.count) requests (\(String(format: "%.0f", Double(subset.count) / duration)) req/s), " +
                      "\(failed) failed; p50 \(LatencySummary.milliseconds(ok.p50))  p99 \(LatencySummary.milliseconds(ok.p99))  max \(LatencySummary.milliseconds(ok.max))")
            }
        }
        print("SIGTERM window  \(perModel(termFailures)) failures (drain took \(String(format: "%.1f", termEnd - termTime)) s)")
        if let modelReload, let secondCopy {
            let during = records.filter { $0.end >= modelReload.start && $0.start <= modelReload.end }
            let otherLatency = LatencySummary(during.filter { $0.model != secondCopy.name && $0.succeeded }.map(\.latency))
            print("\(secondCopy.name) reload     \(perModel(reloadFailures)) failures (reload took \(String(format: "%.2f", modelReload.end - modelReload.start)) s; " +
                  "\(during.count) requests meanwhile, the other model's p99 \(LatencySummary.milliseconds(otherLatency.p99)))")
        }
        print("SIGKILL         \(perModel(killFailures)) failures; \(perModel(inFlightAtKill)) requests in flight (all replicas) at that instant; " +
              "\(failures.filter { $0.start > killTime }.count) failures started after it")
        print("SIGHUP window   \(perModel(hupFailures)) failures (reload took \(String(format: "%.1f", reloaded - hupTime)) s)")
        print("rejoin          replica-1 \(String(format: "%.2f", rejoin1 - termEnd)) s after exit, replica-2 \(String(format: "%.2f", rejoin2 - killTime)) s after kill")
        var servedLines: [String] = []
        for route in Set(([RequestKind.recommend()] + [mix.secondKind].compactMap { $0 }).map(\.route)).sorted() {
            let counts = replicaPorts.map { Probe.servedRequests(port: $0, route: route) ?? 0 }
            servedLines.append("\(route) \(counts.map(String.init).joined(separator: ", "))")
        }
        print("served by replicas since their (re)start: \(servedLines.joined(separator: "; "))")

        if records.count < clients * 10 { breaches.append("only \(records.count) requests completed") }
        for (name, subset) in byModel(records, models: modelNames) where subset.count < 10 {
            breaches.append("only \(subset.count) requests to model \(name) completed")
        }
        func modelBreach(_ subset: [RequestRecord], _ what: String) {
            for (name, ofModel) in byModel(subset, models: modelNames) where !ofModel.isEmpty {
                breaches.append("\(ofModel.count) \(modelNames.count > 1 ? "\(name) " : "")requests \(what): \(outcomeTable(ofModel).prefix(3))")
            }
        }
        modelBreach(termFailures, "failed around the SIGTERM")
        if let secondCopy { modelBreach(reloadFailures, "failed while replica-3 reloaded \(secondCopy.name)") }
        modelBreach(hupFailures, "failed around the SIGHUP reload")
        modelBreach(otherFailures, "failed outside the instant of the SIGKILL")
        for (name, ofModel) in byModel(killFailures, models: modelNames)
        where ofModel.count > inFlightAtKill.filter({ $0.model == name }).count {
            breaches.append("SIGKILL: \(ofModel.count) \(name) failures exceed its requests in flight")
        }
        try Verdict.finish("lb-test", breaches: breaches, detail: "logs in \(directory)")
    }

    /// The interface of a replica serving two models, checked once before the load: /info's model list,
    /// X-Model on each model's answer, 404 `unknown_model` for a name it does not serve.
    static func checkInterface(port: Int, second: String, authorization: String?, through: String? = nil) -> [String] {
        let `where` = through ?? "port \(port)"
        var problems: [String] = []
        if through == nil {
            let info = Probe.info(port: port)
            let listed = (info?["models"] as? [[String: Any]]) ?? []
            let names = listed.compactMap { $0["name"] as? String }
            let defaults = listed.filter { ($0["default"] as? Bool) == true }.compactMap { $0["name"] as? String }
            if Set(names) != [ServedModel.defaultName, second] {
                problems.append("/info models on \(`where`): \(names), expected [\(ServedModel.defaultName), \(second)]")
            }
            if defaults != [ServedModel.defaultName] { problems.append("/info on \(`where`) marks \(defaults) as default") }
        }
        let asks: [(RequestKind, String)] = [(.recommend(), "/recommend without a model"),
                                            (.recommend(model: ServedModel.defaultName), "/recommend naming default"),
                                            (.rerank(model: second), "/v2/rerank naming \(second)")]
        for (kind, what) in asks {
            let response = Probe.post(port: port, path: kind.route, body: kind.body(variant: 1), authorization: authorization, timeout: 30)
            let answered = response?.header("X-Model")
            if response?.status != 200 || answered != kind.expectedModel {
                problems.append("\(what) on \(`where`): \(response.map { "\($0.status), X-Model \(answered ?? "missing")" } ?? "no response"), " +
                                "expected 200 from \(kind.expectedModel): \(response.map { String(decoding: $0.body.prefix(300), as: UTF8.self) } ?? "")")
            }
        }
        // 404 for a model not served: our envelope names the code; Cohere's has a message only, which names the model.
        for (kind, mark) in [(RequestKind.recommend(model: "no-such-model"), "unknown_model"), (.rerank(model: "no-such-model"), "no-such-model")] {
            let response = Probe.post(port: port, path: kind.route, body: kind.body(variant: 1), authorization: authorization, timeout: 30)
            let body = response.map { String(decoding: $0.body, as: UTF8.self) } ?? ""
            if response?.status != 404 || !body.contains(mark) {
                problems.append("\(kind.route) naming no-such-model on \(`where`): \(response.map { "\($0.status) \(body.prefix(300))" } ?? "no response"), expected 404 naming \(mark)")
            }
        }
        return problems.map { "interface: \($0)" }
    }

    /// instructrec_model_reloads_total for one model (nil when the counter has no model label).
    static func reloadCount(port: Int, model: String) -> Double? {
        Probe.metric(port: port, name: "instructrec_model_reloads_total", labels: ["model": model])
    }

    /// Edits one model's files on disk and reloads that model alone on one replica with
    /// POST /admin/reload; its hash must change and every other model's must not. The window the
    /// reload took, for the failures counted in it.
    private func reloadOneModel(_ model: ServedModel, port: Int, key: String, log: (String) -> Void,
                                breaches: inout [String]) throws -> (start: Double, end: Double) {
        let before = Probe.modelHashes(port: port) ?? [:]
        try Self.touchSettings(of: model.directory, key: "max_input_tokens")
        let start = Clock.now
        log("POST /admin/reload {\"model\": \"\(model.name)\"} on replica-3 (its files changed)")
        let response = Probe.post(port: port, path: "/admin/reload", body: "{\"model\": \"\(model.name)\"}", authorization: key, timeout: 60)
        let end = Clock.now
        let after = Probe.modelHashes(port: port) ?? [:]
        let answer = response.map { "\($0.status) \(String(decoding: $0.body.prefix(300), as: UTF8.self))" } ?? "no response"
        if response?.status != 200 {
            breaches.append("POST /admin/reload {\"model\": \"\(model.name)\"} answered \(answer)")
        } else {
            log(String(format: "replica-3 reloaded %@ in %.2f s: %@", model.name, end - start, answer))
        }
        if before[model.name] == nil || before[model.name] == after[model.name] {
            breaches.append("replica-3's \(model.name) hash did not change after its reload (\(before[model.name] ?? "?"))")
        }
        for (name, hash) in before where name != model.name && after[name] != hash {
            breaches.append("reloading \(model.name) changed replica-3's \(name) hash (\(hash.prefix(12))… -> \((after[name] ?? "?").prefix(12))…)")
        }
        return (start, end)
    }

    /// Changes a model's settings file (the default model: a different prior_weight, as a retuned model
    /// would ship; `key: "max_input_tokens"`: 8 tokens fewer, or back), so the model's content, and its
    /// hash, differ after a reload.
    static func touchSettings(of model: String, key: String = "prior_weight") throws {
        let path = "\(model)/instructrec.json"
        var settings = (FileManager.default.contents(atPath: path)
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }) ?? [:]
        if key == "max_input_tokens" {
            let tokens = settings[key] as? Int ?? 512
            settings[key] = tokens % 16 == 0 ? tokens - 8 : tokens + 8
        } else {
            let weight = settings[key] as? Double ?? 0.5
            settings[key] = weight < 1 ? weight + 0.125 : weight - 0.125
        }
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
