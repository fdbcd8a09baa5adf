import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `instructrec-loadtest fairness`: does one model's flood starve the other model of a replica?
///
/// One `instructrec serve` with two models and one inference worker (`--workers 1`): every engine
/// call of both models goes through that worker, one batch (of one model) at a time. Measured:
///
/// 1. the probe model alone: one closed-loop client (by default the second model, `mono`, on
///    /v2/rerank), p50 and p99 of its latency;
/// 2. the flooding model alone: `--flood-clients` closed-loop clients on the other model (by default
///    `default`, /recommend), enough to keep the queue full; its throughput and the time of one of
///    its batches, `T_batch` = seconds / engine calls (instructrec_batch_requests_count) while the
///    worker does nothing else;
/// 3. the probe again, beside that flood (the flood keeps running).
///
/// The bound. With round-robin admission across models, a probe job that arrives while the worker
/// runs a flood batch waits for that batch only: when the batch ends, the next batch is the probe
/// model's (its turn), however many flood jobs are queued. So its latency beside the flood is about
/// its own time plus one flood batch: p99 beside ≈ p99 alone + T_batch. The bound allows twice each:
///
///     bound = 2 × p99(probe alone) + batches × T_batch + slack      (batches 2, slack 5 ms by default)
///
/// - 2 × its own time: beside the flood, the probe's own request (HTTP, parsing, planning, its
///   engine call) shares a small machine's cores with the flood's request handling — hundreds of
///   requests a second parsed and planned outside the worker — which slowed it by 1.5-1.7× in our
///   2-core runs when the flood was the cheap model;
/// - a second T_batch: T_batch is a mean, and a batch's time varies with its contents and with the
///   same CPU contention;
/// - the slack: timer and scheduling noise of a loaded machine, which matters when both models are fast.
///
/// First-come-first-served admission would fail it when the flood's model is the expensive one: a
/// probe job would wait behind every flood job queued before it — with C flood clients and batches
/// of B requests, about C / B batches (32 / 8 = 4 by default) — and the tool prints that estimate
/// beside the bound. (When the flood's model is the cheap one, its whole queue drains within the
/// bound; that direction, `--probe default`, shows the cost of sharing the CPU, not the admission.)
/// Exit status 1 when the probe's p99 beside the flood exceeds the bound or any request fails.
struct FairnessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fairness",
        abstract: "Cross-model fairness: one model's latency alone and beside a flood of the other (one worker).")

    @Option(help: "The instructrec binary.") var binary = ".build/release/instructrec"
    @OptionGroup var models: ModelOptions
    @Option(help: "The model whose latency is measured (the other one floods): the second model's name (the default) or default.")
    var probe: String?
    @Option(help: "Closed-loop clients flooding the other model.") var floodClients = 32
    @Option(help: "Seconds of each measurement.") var seconds = 10.0
    @Option(help: "Inference threads of the one worker.") var threads = 1
    @Option(help: "Flood batches the probe may wait for in the bound.") var batches = 2.0
    @Option(help: "Multiple of the probe's p99 alone in the bound (its own time, slowed by sharing the CPU with the flood).")
    var ownFactor = 2.0
    @Option(help: "Slack added to the bound, in milliseconds.") var slackMs = 5.0

    func validate() throws {
        guard floodClients >= 1, seconds >= 2, batches >= 1, ownFactor >= 1 else {
            throw ValidationError("--flood-clients ≥ 1, --seconds ≥ 2, --batches ≥ 1 and --own-factor ≥ 1")
        }
    }

    func run() throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw LoadTestError.setup("instructrec not found at \(binary) (make build)") }
        guard let second = try models.second() else { throw ValidationError("fairness needs two models: --second-model NAME=DIR") }
        let defaultKind = RequestKind.recommend(model: ServedModel.defaultName)
        let secondKind = RequestKind.rerank(model: second.name)
        let probeName = probe ?? second.name
        let (probeKind, floodKind): (RequestKind, RequestKind)
        switch probeName {
        case second.name: (probeKind, floodKind) = (secondKind, defaultKind)
        case ServedModel.defaultName: (probeKind, floodKind) = (defaultKind, secondKind)
        default: throw ValidationError("--probe must be \(second.name) or \(ServedModel.defaultName)")
        }

        let port = try Probe.freePort()
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("instructrec-fairness-\(getpid()).log").path
        // The queue holds every flood client's job and the probe's, so nothing is shed.
        let queueCapacity = max(64, 2 * (floodClients + 1))
        let server = ServerProcess(name: "instructrec", executable: binary, arguments: [
            "serve"] + ServedModel.serveArguments(defaultDirectory: models.model, second: second) + [
            "--host", "127.0.0.1", "--port", String(port), "--workers", "1", "--threads", String(threads),
            "--set", "queue_capacity=\(queueCapacity)", "--set", "log_requests=false", "--set", "drain_delay_s=0",
        ], logPath: logPath)
        try server.start()
        defer { server.stop() }
        guard Probe.waitUntilReady(port: port, timeout: 120, process: server) != nil else {
            throw LoadTestError.setup("server did not become ready:\n\(server.logTail())")
        }
        let batching = Probe.info(port: port)?["batching"] as? [String: Any]
        let maxBatchRequests = batching?["max_batch_requests"] as? Int ?? 8
        print("fairness: :\(port), 1 worker × \(threads) thread(s), models default + \(second.name); " +
              "probe \(probeName) (\(probeKind.route)), flood \(floodKind.expectedModel) (\(floodKind.route), \(floodClients) clients); " +
              "max_batch_requests \(maxBatchRequests); \(Int(seconds)) s per measurement; log \(logPath)")

        var failed: [RequestRecord] = []
        func closedLoop(_ kind: RequestKind, clients: Int) -> LoadGenerator {
            let generator = LoadGenerator(port: port, timeoutSeconds: 60, mix: .only(kind))
            generator.startClosedLoop(clients: clients)
            return generator
        }
        func finish(_ generator: LoadGenerator) -> [RequestRecord] {
            generator.stop()
            let records = generator.log.all
            failed += records.filter { !$0.succeeded }
            return records
        }
        func log(_ message: String) { print("  " + message) }

        // 0. Warm-up: both models answer, caches (title priors, word cache) fill.
        let warm = [closedLoop(probeKind, clients: 2), closedLoop(floodKind, clients: 2)]
        Clock.sleep(until: Clock.now + 2)
        for generator in warm { _ = finish(generator) }

        // 1. The probe model alone.
        let alone = finish(measure(closedLoop(probeKind, clients: 1), seconds: seconds))
        let aloneLatency = LatencySummary(alone.filter(\.succeeded).map(\.latency))
        log("\(probeName) alone: \(alone.count) requests, p50 \(LatencySummary.milliseconds(aloneLatency.p50)), p99 \(LatencySummary.milliseconds(aloneLatency.p99))")

        // 2. The flood alone: its throughput and batch time while the worker runs nothing else.
        let flood = closedLoop(floodKind, clients: floodClients)
        Clock.sleep(until: Clock.now + 1)  // the queue fills
        let floodStart = Clock.now
        let callsBefore = Probe.metric(port: port, name: "instructrec_batch_requests_count")
        let jobsBefore = Probe.metric(port: port, name: "instructrec_batch_requests_sum")
        Clock.sleep(until: floodStart + max(3, seconds / 2))
        let floodEnd = Clock.now
        let callsAfter = Probe.metric(port: port, name: "instructrec_batch_requests_count")
        let jobsAfter = Probe.metric(port: port, name: "instructrec_batch_requests_sum")
        let floodAloneDone = flood.log.all.filter { $0.succeeded && $0.end >= floodStart && $0.end < floodEnd }.count
        let floodAloneRate = Double(floodAloneDone) / (floodEnd - floodStart)
        let batchTime: Double
        let batchSize: Double
        if let callsBefore, let callsAfter, callsAfter > callsBefore {
            batchTime = (floodEnd - floodStart) / (callsAfter - callsBefore)
            batchSize = (jobsAfter ?? 0) - (jobsBefore ?? 0) > 0 ? ((jobsAfter ?? 0) - (jobsBefore ?? 0)) / (callsAfter - callsBefore) : .nan
        } else {
            // No batch histogram: a full batch takes at most B requests' share of the throughput.
            batchSize = Double(min(maxBatchRequests, floodClients))
            batchTime = floodAloneRate > 0 ? batchSize / floodAloneRate : .nan
        }
        log(String(format: "%@ flood alone: %.1f req/s, %.1f requests per engine call, T_batch %@",
                   floodKind.expectedModel, floodAloneRate, batchSize, LatencySummary.milliseconds(batchTime)))

        // 3. The probe beside the flood.
        let besideStart = Clock.now
        let beside = finish(measure(closedLoop(probeKind, clients: 1), seconds: seconds))
        let besideEnd = Clock.now
        let floodRecords = finish(flood)
        let floodBesideRate = Double(floodRecords.filter { $0.succeeded && $0.end >= besideStart && $0.end < besideEnd }.count) / (besideEnd - besideStart)
        let besideLatency = LatencySummary(beside.filter(\.succeeded).map(\.latency))
        let besideSorted = beside.filter(\.succeeded).map(\.latency).sorted()
        let p90 = besideSorted.isEmpty ? .nan : besideSorted[min(besideSorted.count - 1, Int(Double(besideSorted.count) * 0.9))]
        log("\(probeName) beside the flood: \(beside.count) requests, p50 \(LatencySummary.milliseconds(besideLatency.p50)), " +
            "p90 \(LatencySummary.milliseconds(p90)), p99 \(LatencySummary.milliseconds(besideLatency.p99)), max \(LatencySummary.milliseconds(besideLatency.max)); " +
            String(format: "flood meanwhile %.1f req/s", floodBesideRate))

        let bound = ownFactor * aloneLatency.p99 + batches * batchTime + slackMs / 1000
        let fifoEstimate = floodAloneRate > 0 ? Double(floodClients) / floodAloneRate : .nan
        print("")
        print("probe \(probeName) (\(probeKind.route)), flood \(floodKind.expectedModel) × \(floodClients) clients, 1 worker")
        print("alone           p50 \(LatencySummary.milliseconds(aloneLatency.p50))  p99 \(LatencySummary.milliseconds(aloneLatency.p99))  (\(alone.count) requests)")
        print("beside flood    p50 \(LatencySummary.milliseconds(besideLatency.p50))  p99 \(LatencySummary.milliseconds(besideLatency.p99))  (\(beside.count) requests)")
        print(String(format: "ratio           p50 %.1fx  p99 %.1fx", besideLatency.p50 / aloneLatency.p50, besideLatency.p99 / aloneLatency.p99))
        print("flood           T_batch \(LatencySummary.milliseconds(batchTime)) (\(String(format: "%.1f", batchSize)) requests per call); " +
              String(format: "%.1f req/s alone, %.1f req/s beside the probe", floodAloneRate, floodBesideRate))
        print("bound           \(String(format: "%g", ownFactor)) × p99 alone + \(String(format: "%g", batches)) × T_batch + \(String(format: "%g", slackMs)) ms = \(LatencySummary.milliseconds(bound))  " +
              "(first-come-first-served would wait about \(floodClients) / \(String(format: "%.1f", floodAloneRate)) req/s = \(LatencySummary.milliseconds(fifoEstimate))" +
              (fifoEstimate < bound ? ", within the bound: this direction cannot tell the two apart)" : ")"))

        var breaches: [String] = []
        if !failed.isEmpty { breaches.append("\(failed.count) requests failed: \(outcomeTable(failed).prefix(4))") }
        if besideSorted.count < 50 { breaches.append("only \(besideSorted.count) probe requests beside the flood (too few for a p99)") }
        if !bound.isFinite { breaches.append("no bound: the flood's batch time was not measured") }
        if besideLatency.p99 > bound {
            breaches.append("\(probeName)'s p99 beside the flood, \(LatencySummary.milliseconds(besideLatency.p99)), exceeds the bound \(LatencySummary.milliseconds(bound))")
        }
        if server.exitStatus != nil { breaches.append("the server exited:\n\(server.logTail())") }
        try Verdict.finish("fairness", breaches: breaches)
    }

    /// Lets a generator run for `seconds`; returns it (still running).
    private func measure(_ generator: LoadGenerator, seconds: Double) -> LoadGenerator {
        Clock.sleep(until: Clock.now + seconds)
        return generator
    }
}
