@testable import Configuration
import Foundation
import XCTest
@testable import InstructRec
@testable import Service
import T5
import TestSupport
import Tokenizer

/// Auth, overload, drain, consistency and configuration, each against a fresh process.
final class OperationsTests: XCTestCase {
    func testAPIKeysGuardPostEndpointsButNotHealth() throws {
        let key = "k3y-0123456789abcdef"
        let service = try InProcessService(settings: ["api_keys": "\(key),another-key-0123456789"])
        defer { _ = service.terminate() }
        let denied = try service.request("POST", "/recommend", body: Bodies.recommend)
        XCTAssertEqual(denied.status, 401)
        XCTAssertEqual((denied.json?["error"] as? [String: Any])?["code"] as? String, "unauthorized")
        XCTAssertEqual(denied.headers["www-authenticate"], "Bearer")
        let wrong = try service.request("POST", "/recommend", body: Bodies.recommend,
                                        headers: ["Content-Type": "application/json", "Authorization": "Bearer k3y-0123456789abcdeX"])
        XCTAssertEqual(wrong.status, 401)
        let allowed = try service.request("POST", "/recommend", body: Bodies.recommend,
                                          headers: ["Content-Type": "application/json", "Authorization": "Bearer \(key)"])
        XCTAssertEqual(allowed.status, 200)
        XCTAssertEqual(try service.request("GET", "/healthz").status, 200)
        XCTAssertEqual(try service.request("GET", "/readyz").status, 200)
        // /info lists every setting with its source, and never a key.
        let info = try service.request("GET", "/info")
        XCTAssertFalse(info.body.contains(key) || info.body.contains("another-key"), "a key leaked into /info")
        let settings = try XCTUnwrap(info.json?["settings"] as? [String: [String: Any]])
        let retired: Set = ["unfamiliar_prior_weight", "familiarity_threshold"]
        for name in ServiceConfiguration.keys where !retired.contains(name) {
            XCTAssertNotNil(settings[name]?["source"] as? String, "\(name) is missing from /info")
        }
        XCTAssertEqual(settings["api_keys"]?["value"] as? String, "redacted (2 keys)")
        XCTAssertEqual(settings["api_keys"]?["source"] as? String, "--set api_keys")
        XCTAssertEqual(settings["model"]?["source"] as? String, "--model")
        XCTAssertEqual(settings["tokenizer"]?["source"] as? String, "--tokenizer")
        // a Float setting as written: 0.3 stays 0.3 in the JSON, not 0.30000001192092896
        XCTAssertEqual(RerankService.decimal(0.3), 0.3)
        XCTAssertEqual(RerankService.decimal(1), 1)
    }

    func testOverloadAnswers503WithRetryAfterWhileAcceptedRequestsSucceed() throws {
        let service = try InProcessService(settings: ["workers": "1", "queue_capacity": "1", "threads_per_worker": "1"])
        defer { _ = service.terminate() }
        let body = Bodies.manyCandidates(12)
        let statuses = Statuses()
        // Real threads: concurrentPerform would run only as many as there are cores.
        let group = DispatchGroup()
        for _ in 0..<12 {
            group.enter()
            Thread.detachNewThread {
                if let reply = try? service.request("POST", "/recommend", body: body) {
                    statuses.add(reply.status, retryAfter: reply.headers["retry-after"])
                }
                group.leave()
            }
        }
        group.wait()
        let all = statuses.all
        XCTAssertEqual(all.count, 12)
        XCTAssertTrue(all.contains { $0.0 == 503 && $0.1 == "1" }, "\(all)")
        XCTAssertTrue(all.contains { $0.0 == 200 }, "\(all)")
        XCTAssertTrue(all.allSatisfy { $0.0 == 200 || $0.0 == 503 }, "\(all)")
        // and it recovers at once
        XCTAssertEqual(try service.request("POST", "/recommend", body: Bodies.recommend).status, 200)
    }

    func testGracefulDrainDuringTrafficLosesNoRequest() throws {
        // The clients stop ~0.8 s after SIGTERM plus one /readyz round trip, but a request they decided to
        // send just before may connect only after its curl process started: seconds later on a machine whose
        // cores and disk are busy. The drain delay keeps the listener open well past both (what a load
        // balancer's probe interval times its failure threshold would be in production).
        let service = try ServiceProcess(settings: ["drain_delay_s": "8", "shutdown_deadline_s": "20"])
        let statuses = Statuses()
        let stop = Flag()
        let group = DispatchGroup()
        for _ in 0..<3 {
            group.enter()
            Thread.detachNewThread {
                while !stop.isSet {
                    let reply = try? service.request("POST", "/recommend", body: Bodies.recommend)
                    statuses.add(reply?.status ?? -1, retryAfter: nil)
                }
                group.leave()
            }
        }
        Thread.sleep(forTimeInterval: 1.0)
        kill(service.process.processIdentifier, SIGTERM)
        // Readiness turns false at once while requests still succeed.
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(try service.request("GET", "/readyz").status, 503)
        Thread.sleep(forTimeInterval: 0.5)
        stop.set()   // a load balancer stops sending once readiness is false
        group.wait()
        service.process.waitUntilExit()
        XCTAssertEqual(service.process.terminationStatus, 0)
        let all = statuses.all
        // each client finished at least one request (how many more depends on the machine's load)
        XCTAssertGreaterThanOrEqual(all.count, 3)
        XCTAssertTrue(all.allSatisfy { $0.0 == 200 }, "\(all.map(\.0))")
    }

    func testScoresAgreeOverHTTPTheCLIAndTheEngine() throws {
        let service = try InProcessService()
        defer { _ = service.terminate() }
        let http = try XCTUnwrap(try service.request("POST", "/recommend", body: Bodies.recommend).json)
        let httpScores = Dictionary(uniqueKeysWithValues: (http["results"] as? [[String: Any]] ?? []).map { ($0["id"] as! String, $0["score"] as! Double) })

        // instructrec score
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServiceProcess.binary)
        process.arguments = ["score", "--model", ServiceProcess.modelDirectory, "--tokenizer", ServiceProcess.tokenizerFile,
                             "--templates", ServiceProcess.templatesFile, "--endpoint", "recommend"]
        process.currentDirectoryURL = ServiceProcess.root
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(Bodies.recommend.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let cli = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cliScores = Dictionary(uniqueKeysWithValues: (cli["results"] as? [[String: Any]] ?? []).map { ($0["id"] as! String, $0["score"] as! Double) })
        XCTAssertEqual(httpScores, cliScores)

        // the engine called directly on the same instruction
        let tokenizer = try Tokenizer(tokenizerJSON: URL(fileURLWithPath: ServiceProcess.tokenizerFile))
        let instruction = try XCTUnwrap((http["instructions"] as? [String])?.first)
        let titles = ["Mario Kart 8 Deluxe", "HDMI Cable 6ft", "Splatoon 2", "FIFA 19 - PlayStation 4"]
        let scorer = T5Scorer(weights: try T5Weights(directory: URL(fileURLWithPath: ServiceProcess.modelDirectory)), threads: 2)
        let direct = try scorer.score(instruction: tokenizer.encode(instruction),
                                      candidates: titles.map { tokenizer.encode($0, addEOS: false) })
        for (id, score) in zip(["mk8", "hdmi", "spl", "fifa"], direct) {
            XCTAssertEqual(httpScores[id] ?? .nan, Double(score), accuracy: 1e-6, id)
        }
    }

    func testLostClientsAreDroppedBeforeTheModel() throws {
        let service = try InProcessService(settings: ["workers": "1", "queue_capacity": "16", "threads_per_worker": "1",
                                                      "max_batch_requests": "1"])
        defer { _ = service.terminate() }
        // Fill the worker (two jobs of 1,000 candidates, one after the other on one thread: far longer than
        // the clients below take to give up), then queue requests whose clients give up at once.
        let busy = DispatchGroup()
        let started = Date()
        for _ in 0..<2 {
            busy.enter()
            DispatchQueue.global().async {
                _ = try? service.request("POST", "/recommend", body: Bodies.manyCandidates(1000))
                busy.leave()
            }
        }
        Thread.sleep(forTimeInterval: 0.1)
        for _ in 0..<4 {
            let client = try LoopbackHTTPClient(port: service.port)
            let body = Bodies.manyCandidates(12)
            client.send("POST /recommend HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            Thread.sleep(forTimeInterval: 0.05)
            client.close()
        }
        busy.wait()
        let busySeconds = Date().timeIntervalSince(started)
        Thread.sleep(forTimeInterval: 1)
        let metrics = try service.request("GET", "/metrics").body
        // The counter is exported at 0 from the start: the four abandoned jobs must show in its value.
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("instructrec_dropped_jobs_total{model=\"default\",reason=\"client_gone\"} ") }
        let dropped = line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        XCTAssertEqual(dropped, 4, "the worker was busy for \(busySeconds) s\n" + metrics)
    }

    func testOpenAPIDescribesRealResponses() throws {
        let service = try InProcessService()
        defer { _ = service.terminate() }
        let document = try XCTUnwrap(try service.request("GET", "/openapi.json").json)
        let validator = SchemaValidator(document: document)
        for (path, body) in [("/recommend", Bodies.recommend), ("/search", Bodies.search), ("/rerank", Bodies.rerank),
                             ("/rerank", #"{"query": "q", "texts": ["a", "b"]}"#), ("/v1/rerank", #"{"query": "q", "documents": ["a"]}"#),
                             ("/v2/rerank", #"{"query": "q", "documents": ["a"]}"#)] {
            let reply = try service.request("POST", path, body: body)
            XCTAssertEqual(reply.status, 200)
            let schema = try validator.responseSchema(path: path, method: "post", status: "200")
            let replyJSON = try JSONSerialization.jsonObject(with: Data(reply.body.utf8))  // TEI answers with an array
            XCTAssertEqual(validator.errors(replyJSON, schema, at: "$"), [], path + " " + reply.body)
            let requestSchema = try validator.requestSchema(path: path)
            XCTAssertEqual(validator.errors(try JSONSerialization.jsonObject(with: Data(body.utf8)), requestSchema, at: "$"), [], path)
            let bad = try service.request("POST", path, body: "{}")
            XCTAssertEqual(validator.errors(bad.json as Any, try validator.responseSchema(path: path, method: "post", status: String(bad.status)), at: "$"), [])
        }
        for path in ["/healthz", "/readyz", "/info", "/v1/models"] {
            let reply = try service.request("GET", path)
            XCTAssertEqual(validator.errors(reply.json as Any, try validator.responseSchema(path: path, method: "get", status: "200"), at: "$"), [], path)
        }
    }

    func testModelBoundSettingsSitBetweenDefaultsAndTheConfigFile() throws {
        let model = FileManager.default.temporaryDirectory.appendingPathComponent("model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: model) }
        try #"{"max_input_tokens": 256, "max_history_items": 10}"#.write(to: model.appendingPathComponent("instructrec.json"), atomically: true, encoding: .utf8)
        try Data(contentsOf: URL(fileURLWithPath: ServiceProcess.templatesFile)).write(to: model.appendingPathComponent("templates.json"))
        let fromModel = try ServiceConfiguration.load(file: nil, environment: [:], overrides: ["model": model.path])
        XCTAssertEqual(fromModel.maxInputTokens, 256)
        XCTAssertEqual(fromModel.instructionOptions.maxHistoryItems, 10)
        XCTAssertEqual(fromModel.maxTargetTokens, 64, "built-in default")
        XCTAssertEqual(fromModel.templates, model.appendingPathComponent("templates.json").path)
        XCTAssertEqual(fromModel.sources["max_input_tokens"], model.appendingPathComponent("instructrec.json").path)
        XCTAssertEqual(fromModel.sources["max_target_tokens"], "default")
        // the operator still wins: environment over the model, flags over the environment
        let operatorSet = try ServiceConfiguration.load(file: nil, environment: ["INSTRUCTREC_MAX_HISTORY_ITEMS": "20"],
                                                     overrides: ["model": model.path, "max_input_tokens": "384", "templates": ServiceProcess.templatesFile])
        XCTAssertEqual(operatorSet.maxHistoryItems, 20)
        XCTAssertEqual(operatorSet.sources["max_history_items"], "INSTRUCTREC_MAX_HISTORY_ITEMS")
        XCTAssertEqual(operatorSet.maxInputTokens, 384)
        XCTAssertEqual(operatorSet.sources["max_input_tokens"], "flag")
        XCTAssertEqual(operatorSet.templates, ServiceProcess.templatesFile)
        // a model directory may set only model-bound keys
        try #"{"port": 1}"#.write(to: model.appendingPathComponent("instructrec.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ServiceConfiguration.load(file: nil, environment: [:], overrides: ["model": model.path])) { error in
            XCTAssertTrue("\(error)".contains("'port'") && "\(error)".contains("model directory"), "\(error)")
        }
    }

    func testConfigurationErrorsNameTheSetting() throws {
        XCTAssertThrowsError(try ServiceConfiguration.load(file: nil, environment: ["INSTRUCTREC_PORT": "eighty"], overrides: [:])) { error in
            XCTAssertTrue("\(error)".contains("'port'"), "\(error)")
        }
        XCTAssertThrowsError(try ServiceConfiguration.load(file: nil, environment: [:], overrides: ["workers": "0", "model": ServiceProcess.modelDirectory])) { error in
            XCTAssertTrue("\(error)".contains("'workers'"), "\(error)")
        }
        XCTAssertThrowsError(try ServiceConfiguration.load(file: nil, environment: [:], overrides: ["model": "/nonexistent"])) { error in
            XCTAssertTrue("\(error)".contains("'model'"), "\(error)")
        }
        // flags beat the environment, which beats the file
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString).json")
        try Data("{\"port\": 1111, \"workers\": 3, \"model\": \"\(ServiceProcess.modelDirectory)\", \"templates\": \"\(ServiceProcess.templatesFile)\"}".utf8).write(to: file)
        let configuration = try ServiceConfiguration.load(file: file.path, environment: ["INSTRUCTREC_PORT": "2222", "INSTRUCTREC_WORKERS": "4"],
                                                          overrides: ["port": "3333"])
        XCTAssertEqual(configuration.port, 3333)
        XCTAssertEqual(configuration.workers, 4)
    }

    /// api_keys set to separators alone would leave the service open: refused, naming the setting.
    func testAPIKeysOfSeparatorsAloneAreRefused() throws {
        XCTAssertThrowsError(try ServiceConfiguration.load(file: nil, environment: ["INSTRUCTREC_API_KEYS": " , ,,"], overrides: [:])) { error in
            XCTAssertTrue("\(error)".contains("api_keys") && "\(error)".contains("holds no key"), "\(error)")
        }
        XCTAssertEqual(try ServiceConfiguration.load(file: nil, environment: ["INSTRUCTREC_API_KEYS": ""], overrides: [:]).apiKeys, [])
    }

    /// A tokenizer whose </s> is not the model's end of sequence (another vocabulary, or ids shifted by a missing
    /// piece) is refused at start-up instead of ranking garbage.
    func testATokenizerThatIsNotTheModelsIsAStartupError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eos-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = URL(fileURLWithPath: ServiceProcess.modelDirectory)
        try FileManager.default.copyItem(at: source.appendingPathComponent("model.safetensors"), to: directory.appendingPathComponent("model.safetensors"))
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as? [String: Any])
        config["eos_token_id"] = 2
        try JSONSerialization.data(withJSONObject: config).write(to: directory.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try InProcessService(files: ["model": directory.path, "tokenizer": ServiceProcess.tokenizerFile,
                                                          "templates": ServiceProcess.templatesFile])) { error in
            XCTAssertTrue("\(error)".contains("its </s> is id 1, but the model ends sequences with id 2"), "\(error)")
        }
    }

    func testMalformedTemplateIsAStartupErrorNamingIt() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tpl-\(UUID().uuidString).json")
        try Data(#"{"templates": {"recommend.history": "History: {history}. Pick one."}}"#.utf8).write(to: file)
        XCTAssertThrowsError(try TemplateSet(contentsOf: file)) { error in
            XCTAssertEqual("\(error)", "\(file.path): template 'recommend.history': must contain {candidates}")
        }
        try Data(#"{"templates": {"mine": "Items {histroy} {candidates}"}}"#.utf8).write(to: file)
        XCTAssertThrowsError(try TemplateSet(contentsOf: file)) { error in
            XCTAssertTrue("\(error)".contains("\(file.path): template 'mine': unknown placeholder '{histroy}'"), "\(error)")
        }
        // A candidate-free template is held to its serving counterpart's rules, and named itself.
        try Data(#"{"templates": {"generate.history": "Predict the next item."}}"#.utf8).write(to: file)
        XCTAssertThrowsError(try TemplateSet(contentsOf: file)) { error in
            XCTAssertEqual("\(error)", "\(file.path): template 'generate.history': must contain {history}")
        }
        // Serving templates without a candidate-free counterpart are listed (serve warns for candidate_free models).
        let set = try TemplateSet(jsonData: Data(#"{"templates": {"recommend.history": "{history} {candidates}", "generate.history": "{history}", "search.vague": "{intention} {candidates}"}}"#.utf8),
                                  source: "inline")
        XCTAssertEqual(set.servingTemplatesWithoutCandidateFree, ["search.vague"])
        XCTAssertEqual(try TemplateSet(contentsOf: ServiceProcess.root.appendingPathComponent("models/default/templates.json"))
            .servingTemplatesWithoutCandidateFree, [], "the shipped model's set is complete")
        // A misspelt key or a wrong type is refused, not replaced by a default.
        for (body, message) in [(#"{"templates": {"mine": "{candidates}"}, "itemformat": "{title}"}"#, "unknown key 'itemformat'"),
                                (#"{"templates": {"mine": "{candidates}"}, "item_format": 7}"#, "'item_format' must be a string"),
                                (#"{"templates": {"mine": "{candidates}"}, "history_separator": null}"#, "'history_separator' must be a string")] {
            try Data(body.utf8).write(to: file)
            XCTAssertThrowsError(try TemplateSet(contentsOf: file)) { error in
                XCTAssertTrue("\(error)".hasPrefix("\(file.path): ") && "\(error)".contains(message), "\(error)")
            }
        }
    }
}

final class Statuses: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [(Int, String?)] = []
    func add(_ status: Int, retryAfter: String?) { lock.lock(); values.append((status, retryAfter)); lock.unlock() }
    var all: [(Int, String?)] { lock.lock(); defer { lock.unlock() }; return values }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
