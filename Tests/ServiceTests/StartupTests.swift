import Foundation
import XCTest

/// Start-up, signals, kernels, metrics and configuration of the real `instructrec serve` binary.
final class StartupTests: XCTestCase {
    /// The fixture model behind a load that lasts `seconds` (INSTRUCTREC_TEST_LOAD_DELAY_S).
    static func slowLoad(_ seconds: Double) -> [String: String] { ["INSTRUCTREC_TEST_LOAD_DELAY_S": String(seconds)] }

    func testListensWhileLoadingThenServes() throws {
        let service = try ServiceProcess(environment: Self.slowLoad(3), waitFor: "listening")
        defer { _ = service.terminate() }
        XCTAssertEqual(try service.request("GET", "/healthz").status, 200)
        let ready = try service.request("GET", "/readyz")
        XCTAssertEqual(ready.status, 503)
        XCTAssertEqual(ready.json?["status"] as? String, "loading")
        // 503 in the route's error shape (Cohere's {"message"} on /v2/rerank), with the request's id in the access log.
        for (method, path, keys) in [("POST", "/recommend", ["error"]), ("POST", "/v2/rerank", ["message"]), ("GET", "/info", ["error"]),
                                     ("GET", "/anything", ["error"])] {
            let id = "loading-\(path.count)"
            let reply = try service.request(method, path, body: method == "POST" ? Bodies.recommend : nil,
                                            headers: ["Content-Type": "application/json", "X-Request-ID": id])
            XCTAssertEqual(reply.status, 503, path)
            XCTAssertEqual(reply.headers["retry-after"], "1", path)
            XCTAssertEqual(reply.headers["x-request-id"], id, path)
            XCTAssertEqual(reply.json?.keys.sorted(), keys, path + " " + reply.body)
            XCTAssertTrue(HTTPLayerAnswersTests.eventually { service.logEntries("request").contains { $0["request_id"] as? String == id } }, path)
        }
        let metrics = try service.request("GET", "/metrics").body
        XCTAssertTrue(metrics.contains("instructrec_ready 0"), metrics)
        var status = 0
        for _ in 0..<400 where status != 200 {
            status = try service.request("GET", "/readyz").status
            if status != 200 { Thread.sleep(forTimeInterval: 0.05) }
        }
        XCTAssertEqual(status, 200)
        XCTAssertEqual(try service.request("POST", "/recommend", body: Bodies.recommend).status, 200)
    }

    func testSignalsDuringTheLoadExitAtOnceWithStatusZero() throws {
        for signal in [SIGTERM, SIGINT] {
            let service = try ServiceProcess(environment: Self.slowLoad(60), waitFor: "listening")
            let sent = Date()
            kill(service.process.processIdentifier, signal)
            let status = service.exitStatus(within: 1.0)
            XCTAssertEqual(status, 0, "signal \(signal): still running or failed after \(Date().timeIntervalSince(sent)) s")
            Thread.sleep(forTimeInterval: 0.1)
            let exiting = service.logEntries("exiting")
            XCTAssertEqual(exiting.count, 1, service.logs.joined(separator: "\n"))
            XCTAssertTrue((exiting.first?["reason"] as? String ?? "").contains("loading"))
            if service.process.isRunning { _ = service.terminate() }
        }
    }

    func testSecondSIGINTSkipsTheDrainDelay() throws {
        let service = try ServiceProcess(settings: ["drain_delay_s": "30"])
        kill(service.process.processIdentifier, SIGINT)
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertTrue(service.process.isRunning, "the first SIGINT drains")
        XCTAssertEqual(try service.request("GET", "/readyz").status, 503)
        kill(service.process.processIdentifier, SIGINT)
        XCTAssertEqual(service.exitStatus(within: 1.0), 0)
    }

    func testEveryResponseIsCountedAndProcessMetricsAreExported() throws {
        let service = try InProcessService()
        defer { _ = service.terminate() }
        XCTAssertEqual(try service.request("GET", "/no-such-route").status, 404)
        XCTAssertEqual(try service.request("DELETE", "/healthz").status, 405)
        let huge = String(repeating: "a", count: 70_000)
        XCTAssertEqual(try service.request("GET", "/healthz", headers: ["X-Big": huge]).status, 431)
        // a body over max_body_bytes (4 MiB): 413, counted under its own route
        let tooLarge = "{\"query\": \"" + String(repeating: "x", count: 4_200_000) + "\"}"
        XCTAssertEqual(try service.request("POST", "/v2/rerank", body: tooLarge).status, 413)
        for _ in 0..<20 { XCTAssertEqual(try service.request("POST", "/recommend", body: Bodies.recommend).status, 200) }
        let metrics = try service.request("GET", "/metrics").body
        for line in ["instructrec_requests_total{route=\"other\",status=\"404\"} 1",
                     "instructrec_requests_total{route=\"/healthz\",status=\"405\"} 1",
                     "instructrec_requests_total{route=\"/healthz\",status=\"431\"} 1",
                     "instructrec_requests_total{route=\"/v2/rerank\",status=\"413\"} 1",
                     "instructrec_queue_depth{model=\"default\"} 0", "instructrec_inflight_engine_calls{model=\"default\"} 0",
                     "instructrec_requests_total{model=\"default\",route=\"/recommend\",status=\"200\"} 20",
                     "instructrec_dropped_jobs_total{model=\"default\",reason=\"deadline\"} 0",
                     // answered requests leave no 504 timer behind (request_timeout_ms is 30 s)
                     "instructrec_deadline_timers 0"] {
            XCTAssertTrue(metrics.contains(line + "\n"), line + "\n" + metrics)
        }
        XCTAssertTrue(metrics.contains("instructrec_build_info{blas_core=\""), metrics)
        for name in ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "process_max_fds", "process_start_time_seconds"] {
            let value = metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
            XCTAssertGreaterThan(value ?? 0, 0, name)
        }
    }

    func testInfoAndLogNameTheKernels() throws {
        let service = try ServiceProcess()
        defer { _ = service.terminate() }
        let blas = try XCTUnwrap(try service.request("GET", "/info").json?["blas"] as? [String: Any])
        XCTAssertEqual(blas["library"] as? String, "OpenBLAS")
        for key in ["version", "core_type", "openblas_coretype", "decision", "config"] { XCTAssertNotNil(blas[key] as? String, key) }
        let cpu = try XCTUnwrap(blas["cpu"] as? [String: Any])
        XCTAssertNotNil(cpu["model"] as? String)
        XCTAssertNotNil(cpu["vector_features"] as? [String])
        XCTAssertEqual(service.logEntries("blas kernels").last?["core_type"] as? String, blas["core_type"] as? String)
    }

    func testUnknownCoreTypeIsAStartupError() throws {
        let (status, log, _) = try Self.run(["serve", "--port", "0"], environment: ["OPENBLAS_CORETYPE": "Bogus"])
        XCTAssertEqual(status, 2)
        XCTAssertTrue(log.contains("OPENBLAS_CORETYPE=Bogus is not a core type"), log)
    }

    /// Forces real generic kernels (OPENBLAS_CORETYPE=Prescott, decided as if unset): the
    /// process must re-execute itself once with the best core type and serve with it.
    func testGenericFallbackReexecutesWithTheBestCoreType() throws {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        guard flags.contains("avx2") && flags.contains("fma") else { throw XCTSkip("needs a CPU with AVX2/FMA") }
        let service = try ServiceProcess(environment: ["OPENBLAS_CORETYPE": "Prescott", "INSTRUCTREC_BLAS_SIMULATE_UNSET": "1"])
        defer { _ = service.terminate() }
        let lines = service.logEntries("blas kernels")
        XCTAssertEqual(lines.count, 2, service.logs.joined(separator: "\n"))
        XCTAssertEqual(lines.first?["core_type"] as? String, "Prescott")
        XCTAssertTrue((lines.first?["decision"] as? String ?? "").hasPrefix("re-executing with OPENBLAS_CORETYPE="))
        let blas = try XCTUnwrap(try service.request("GET", "/info").json?["blas"] as? [String: Any])
        let chosen = try XCTUnwrap(blas["core_type"] as? String)
        XCTAssertTrue(["Zen", "Haswell", "SkylakeX", "Cooperlake"].contains(chosen), chosen)
        XCTAssertEqual(blas["openblas_coretype"] as? String, chosen)
        XCTAssertEqual(try service.request("POST", "/recommend", body: Bodies.recommend).status, 200, "the self-check passed with it")
    }

    func testServeWorksFromAnyDirectoryWithTheDefaults() throws {
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("cwd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let service = try ServiceProcess(environment: ["INSTRUCTREC_PORTT": "1"], arguments: [], directory: elsewhere)
        defer { _ = service.terminate() }
        XCTAssertEqual(try service.request("POST", "/recommend", body: Bodies.recommend).status, 200)
        let model = service.logEntries("loading model").first?["model"] as? String ?? ""
        XCTAssertTrue(model.hasSuffix("models/default"), model)
        let warning = service.logEntries("configuration").first?["warning"] as? String ?? ""
        XCTAssertTrue(warning.contains("INSTRUCTREC_PORTT") && warning.contains("did you mean INSTRUCTREC_PORT?"), warning)
    }

    func testConfigurationErrorsNameTheirSource() throws {
        let (status, log, _) = try Self.run(["serve", "--port", "0"], environment: ["INSTRUCTREC_WORKERS": "zero"])
        XCTAssertEqual(status, 2)
        XCTAssertTrue(log.contains("'workers' (from INSTRUCTREC_WORKERS)"), log)
        let (_, flagLog, _) = try Self.run(["serve", "--port", "70000"])
        XCTAssertTrue(flagLog.contains("'port' (from --port)"), flagLog)
    }

    func testVersionAndPerCommandOptions() throws {
        XCTAssertEqual(try Self.run(["--version"]).output.trimmingCharacters(in: .whitespacesAndNewlines), "0.1.0")
        let scoreHelp = try Self.run(["score", "--help"]).output
        XCTAssertTrue(scoreHelp.contains("--endpoint") && scoreHelp.contains("--model"), scoreHelp)
        XCTAssertFalse(scoreHelp.contains("--port") || scoreHelp.contains("--workers") || scoreHelp.contains("--host"), scoreHelp)
        XCTAssertTrue(try Self.run(["serve", "--help"]).output.contains("--port"))
    }

    func testScoreInfersTheEndpointOrNamesTheFlag() throws {
        let fixture = ["--model", ServiceProcess.modelDirectory, "--tokenizer", ServiceProcess.tokenizerFile, "--templates", ServiceProcess.templatesFile]
        let search = try Self.run(["score"] + fixture, input: Bodies.search)
        XCTAssertEqual(search.status, 0, search.log)
        XCTAssertNotNil((try? JSONSerialization.jsonObject(with: Data(search.output.utf8))) as? [String: Any])
        // the README's /rerank body also fits /v1/rerank: it is /rerank's
        let readme = try Self.run(["score"] + fixture, input: """
            {"query": "wireless controller", "documents": ["Xbox Wireless Controller", "USB charging cable"],
             "top_n": 1, "return_documents": true}
            """)
        XCTAssertEqual(readme.status, 0, readme.log)
        let answer = (try? JSONSerialization.jsonObject(with: Data(readme.output.utf8))) as? [String: Any]
        XCTAssertNotNil(answer?["template"], "our /rerank's response: \(readme.output)")
        XCTAssertEqual((answer?["results"] as? [[String: Any]])?.count, 1, readme.output)
        // a body no endpoint takes: one line naming the flag (EX_USAGE), no usage text
        let unclear = try Self.run(["score"] + fixture, input: #"{"query": "q"}"#)
        XCTAssertEqual(unclear.status, 64)
        XCTAssertEqual(unclear.log.split(separator: "\n").count, 1, unclear.log)
        XCTAssertTrue(unclear.log.contains("--endpoint"), unclear.log)
    }

    func testNoSubcommandPrintsHelpAndExits64() throws {
        let bare = try Self.run([])
        XCTAssertEqual(bare.status, 64, "EX_USAGE")
        XCTAssertTrue(bare.log.contains("SUBCOMMANDS") && bare.log.contains("serve"), bare.log)
        XCTAssertEqual(try Self.run(["--help"]).status, 0)
    }

    /// `echo Mario | instructrec tokenize`: the line ending echo adds is not part of the text; exactly one is trimmed.
    func testTokenizeTrimsOneTrailingNewlineFromStdin() throws {
        func tokenize(_ arguments: [String], input: String? = nil) throws -> [String: Any] {
            let run = try Self.run(["tokenize", "--no-eos", "--tokenizer", ServiceProcess.tokenizerFile] + arguments, input: input)
            XCTAssertEqual(run.status, 0, run.log)
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], run.output)
        }
        let argument = try tokenize(["Mario"])
        for input in ["Mario\n", "Mario\r\n", "Mario"] {
            let piped = try tokenize([], input: input)
            XCTAssertEqual(piped["text"] as? String, "Mario", input.debugDescription)
            XCTAssertEqual(piped["pieces"] as? [String], argument["pieces"] as? [String], input.debugDescription)
        }
        XCTAssertEqual(try tokenize([], input: "Mario\n\n")["text"] as? String, "Mario\n", "only one line ending")
        // as the service reads outside text: '</s>' is characters, and only the appended end of sequence is id 1
        let run = try Self.run(["tokenize", "--model", "models/default", "Mario</s>Kart"])
        XCTAssertEqual(run.status, 0, run.log)
        let ids = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])?["ids"] as? [Int])
        XCTAssertEqual(ids.filter { $0 == 1 }.count, 1, "\(ids)")
        XCTAssertEqual(ids.last, 1)
    }

    /// Runs the binary to completion (in the repository root unless `directory` says otherwise): exit status,
    /// standard error, standard output.
    static func run(_ arguments: [String], environment: [String: String] = [:], input: String? = nil,
                    directory: URL? = nil) throws -> (status: Int32, log: String, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServiceProcess.binary)
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? ServiceProcess.root
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let output = Pipe(), errors = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: err, as: UTF8.self), String(decoding: out, as: UTF8.self))
    }
}
