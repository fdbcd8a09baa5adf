@testable import Configuration
import Dispatch
import XCTest
@testable import Service

final class OperatorMetricsTests: XCTestCase {
    func testProcStatParsingSurvivesParenthesesInTheCommandName() throws {
        // pid (comm) state ppid ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24)
        let fields = (3...30).map { n -> String in
            switch n {
            case 3: return "S"
            case 14: return "250"
            case 15: return "50"
            case 22: return "1000"
            case 23: return "123456789"
            case 24: return "2048"
            default: return "0"
            }
        }
        let stat = try XCTUnwrap(ProcessMetrics.parseStat("4242 (odd) name) " + fields.joined(separator: " ")))
        XCTAssertEqual(stat, .init(utimeTicks: 250, stimeTicks: 50, startTicks: 1000, virtualBytes: 123456789, residentPages: 2048))
        XCTAssertEqual(ProcessMetrics.parseBootTime("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n"), 1_700_000_000)
        XCTAssertNil(ProcessMetrics.parseStat("garbage"))
        let current = try XCTUnwrap(ProcessMetrics.current())
        XCTAssertGreaterThan(current.residentMemoryBytes, 1_048_576)
        XCTAssertGreaterThan(current.maxFDs, current.openFDs)
    }

    /// The connection series exist before the server is watched (0), then read it at each scrape.
    func testConnectionSeriesExistFromTheStartAndReadTheServer() {
        let metrics = Metrics()
        let before = metrics.render()
        XCTAssertTrue(before.contains("# TYPE instructrec_open_connections gauge\ninstructrec_open_connections 0\n"), before)
        XCTAssertTrue(before.contains("# TYPE instructrec_rejected_connections_total counter\ninstructrec_rejected_connections_total 0\n"), before)
        metrics.connections = { (open: 3, rejected: 7) }
        let after = metrics.render()
        XCTAssertTrue(after.contains("instructrec_open_connections 3\n"), after)
        XCTAssertTrue(after.contains("instructrec_rejected_connections_total 7\n"), after)
    }

    func testBuildInfoAndDropReasonsAreSeries() {
        let metrics = Metrics(version: "9.9.9", blasCore: "Zen")
        // A model's queue makes its drop reasons series at 0.
        let queue = InferenceQueue(scorers: [], capacity: 1, metrics: metrics, model: "mono")
        defer { queue.pool.stop() }
        let text = metrics.render()
        XCTAssertTrue(text.contains("instructrec_build_info{blas_core=\"Zen\",version=\"9.9.9\"} 1\n"), text)
        XCTAssertTrue(text.contains("instructrec_dropped_jobs_total{model=\"mono\",reason=\"client_gone\"} 0\n"), text)
        XCTAssertTrue(text.contains("instructrec_dropped_jobs_total{model=\"mono\",reason=\"deadline\"} 0\n"), text)
        XCTAssertTrue(text.contains("instructrec_queue_depth{model=\"mono\"} 0\n"), text)
        XCTAssertTrue(text.contains("process_open_fds "), text)
    }

    /// A request's deadline is a race: the work's value when it ends first, DeadlinePassed on time when it
    /// does not (the work is cancelled), and no race is left counted afterwards.
    func testDeadlineRacesEndOnTimeAndLeaveNothingBehind() async throws {
        let live = Metrics().deadlineTimers
        let value = try await Deadline.race(.now() + 30, live: live) { 7 }
        XCTAssertEqual(value, 7)
        let cancelled = CancelledFlag()
        let start = DispatchTime.now()
        do {
            _ = try await Deadline.race(.now() + .milliseconds(50), live: live) { () async throws -> Int in
                do { try await Task.sleep(nanoseconds: 30_000_000_000) } catch { cancelled.set(); throw error }
                return 1
            }
            XCTFail("the deadline should have won")
        } catch is DeadlinePassed {}
        let waited = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        XCTAssertLessThan(waited, 10, "answered at the deadline, not when the work would have ended")
        XCTAssertTrue(cancelled.isSet, "the losing work is cancelled")
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<200 { group.addTask { _ = try? await Deadline.race(.now() + 30, live: live) { 1 } } }
        }
        XCTAssertEqual(live.current(), 0)
    }

    func testConfigurationErrorsNameTheFileVariableOrFlag() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString).json")
        try Data(#"{"port": "eighty"}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let cases: [(String?, [String: String], [String: String], String)] = [
            (file.path, [:], [:], "'port' (from \(file.path))"),
            (nil, ["INSTRUCTREC_PORT": "eighty"], [:], "'port' (from INSTRUCTREC_PORT)"),
            (nil, [:], ["port": "eighty"], "'port' (from --port)"),
            (nil, [:], ["queue_capacity": "0"], "'queue_capacity' (from --set queue_capacity)"),
            (nil, [:], ["model": "/nonexistent"], "'model' (from --model)"),
        ]
        for (path, environment, overrides, expected) in cases {
            XCTAssertThrowsError(try ServiceConfiguration.load(file: path, environment: environment, overrides: overrides,
                                                               flagSpellings: ["port": "--port", "model": "--model", "queue_capacity": "--set queue_capacity"])) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) lacks \(expected)")
            }
        }
    }

    func testMalformedConfigFileNamesTheByteOffset() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        for (text, expected) in [(#"{"port": 8080, "workers":"#, "at byte 25: unexpected end of input"),
                                 (#"{"port": 8080 "workers": 2}"#, "at byte 14: expected ',' or '}' in object"),
                                 (#"{"port": 1, "port": 2}"#, "at byte 12: duplicate member name \"port\""),
                                 ("[8080]", "is not a JSON object")] {
            try Data(text.utf8).write(to: file)
            XCTAssertThrowsError(try ServiceConfiguration.load(file: file.path, environment: [:], overrides: [:])) { error in
                XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains(file.path), "\(error) lacks \(expected)")
            }
        }
        // values read as before: integers without ".0", lists joined, null unset
        try Data(#"{"port": 8081, "relevance_bias": -2.5, "api_keys": ["a", "b"], "tls_cert": null, "log_requests": false}"#.utf8).write(to: file)
        let settings = try ServiceConfiguration.readJSONSettings(file.path, allowed: ["port", "relevance_bias", "api_keys", "tls_cert", "log_requests"])
        XCTAssertEqual(settings.map { "\($0.0)=\($0.1 ?? "nil")" }, ["api_keys=a,b", "log_requests=false", "port=8081", "relevance_bias=-2.5", "tls_cert=nil"])
    }

    func testUnknownVariablesWarnWithTheNearestSetting() {
        let warnings = ServiceConfiguration.unknownVariableWarnings(["INSTRUCTREC_PORTT": "1", "INSTRUCTREC_PORT": "1", "HOME": "/",
                                                                    "INSTRUCTREC_BLAS_CHOSEN": "Zen", "INSTRUCTREC_ZZZZZZZZZZZZZZZZZZ": "1"])
        XCTAssertEqual(warnings, ["INSTRUCTREC_PORTT is not an instructrec setting and is ignored (did you mean INSTRUCTREC_PORT?)",
                                  "INSTRUCTREC_ZZZZZZZZZZZZZZZZZZ is not an instructrec setting and is ignored"])
    }

    func testDefaultPathsResolveFromTheBaseDirectories() throws {
        // From a directory that has neither models/ nor config/, with the repository as a base.
        let root = ServiceProcess.root.path
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(FileManager.default.temporaryDirectory.path))
        defer { XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(previous)) }
        let configuration = try ServiceConfiguration.load(file: nil, environment: [:], overrides: [:], baseDirectories: ["/nonexistent", root])
        XCTAssertEqual(configuration.model, root + "/models/default")
        XCTAssertTrue(FileManager.default.fileExists(atPath: configuration.templates), configuration.templates)
    }

    func testEndpointInference() {
        XCTAssertEqual(EndpointInference.infer(body: Array(Bodies.recommend.utf8)), .endpoint("recommend"))
        XCTAssertEqual(EndpointInference.infer(body: Array(Bodies.search.utf8)), .endpoint("search"))
        XCTAssertEqual(EndpointInference.infer(body: Array(#"{"query": "q", "texts": ["a"]}"#.utf8)), .endpoint("rerank"))
        // fits /rerank and the Cohere shapes: /rerank's (the README's example)
        XCTAssertEqual(EndpointInference.infer(body: Array(#"{"query": "q", "documents": ["a", "b"], "top_n": 1, "return_documents": true}"#.utf8)),
                       .endpoint("rerank"))
        XCTAssertEqual(EndpointInference.infer(body: Array(#"{"query": "q", "documents": ["a"], "max_tokens_per_doc": 9}"#.utf8)), .endpoint("v2/rerank"))
        XCTAssertEqual(EndpointInference.infer(body: Array(#"{"query": "q", "documents": ["a"], "rank_fields": ["text"]}"#.utf8)), .endpoint("v1/rerank"))
        guard case let .unclear(message) = EndpointInference.infer(body: Array(#"{"nothing": 1}"#.utf8)) else { return XCTFail() }
        XCTAssertTrue(message.contains("--endpoint"), message)
    }
}

final class CancelledFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
