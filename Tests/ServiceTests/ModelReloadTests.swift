import Foundation
@testable import Service
import XCTest

/// Model reload without downtime: SIGHUP or POST /admin/reload loads the model directory again,
/// warms it and switches new requests to it; a request never mixes two models; a model that
/// fails to load leaves the old one serving.
final class ModelReloadTests: XCTestCase {
    static let key = "reload-test-key-0123456789"

    /// A model directory holding a copy of a fixture checkpoint (its config.json and model.safetensors).
    static func modelDirectory(from fixture: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try install(fixture, into: directory)
        return directory
    }

    static func install(_ fixture: String, into directory: URL) throws {
        let source = ServiceProcess.root.appendingPathComponent("Tests/T5Tests/Fixtures/\(fixture)")
        for name in ["config.json", "model.safetensors"] {
            let target = directory.appendingPathComponent(name)
            // Write beside, then rename: a reader never sees half a file.
            let temporary = directory.appendingPathComponent(".\(name).tmp")
            try? FileManager.default.removeItem(at: temporary)
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: temporary)
            guard rename(temporary.path, target.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        }
    }

    static let body = """
    {"query": "zelda", "documents": ["The Legend of Zelda", "Mario Kart 8 Deluxe", "Tetris", "Halo 3", "Portal 2", "FIFA 19"]}
    """

    /// index -> score of one /rerank answer
    static func scores(_ reply: ServiceProcess.Reply) -> [Int: Double] {
        let results = (reply.json?["results"] as? [[String: Any]]) ?? []
        return Dictionary(uniqueKeysWithValues: results.map { ($0["index"] as? Int ?? -1, $0["score"] as? Double ?? .nan) })
    }

    /// The same scores within float rounding (batched requests may round differently from lone ones).
    static func close(_ a: [Int: Double], _ b: [Int: Double]) -> Bool {
        a.count == b.count && a.allSatisfy { index, value in b[index].map { abs($0 - value) <= 1e-4 } ?? false }
    }

    func testReloadUnderTrafficLosesNoRequestAndMixesNoModels() throws {
        let directory = try Self.modelDirectory(from: "t5-v1_1-tiny")
        defer { try? FileManager.default.removeItem(at: directory) }
        let service = try ServiceProcess(settings: ["api_keys": Self.key, "workers": "2", "threads_per_worker": "1"],
                                         arguments: ["--model", directory.path, "--tokenizer", ServiceProcess.tokenizerFile,
                                                     "--templates", ServiceProcess.templatesFile])
        defer { _ = service.terminate() }
        let auth = ["Content-Type": "application/json", "Authorization": "Bearer \(Self.key)"]
        let hashBefore = try XCTUnwrap((try service.request("GET", "/info").json?["model"] as? [String: Any])?["sha256"] as? String)
        let first = Self.scores(try service.request("POST", "/rerank", body: Self.body, headers: auth))
        XCTAssertEqual(first.count, 6)

        // Traffic from 4 clients while the model directory changes and is reloaded twice (by HTTP, then by SIGHUP).
        let replies = ReplyLog()
        let stop = ManagedAtomicFlag()
        let clients = (0..<4).map { _ in
            Thread {
                while !stop.isSet {
                    let reply = (try? service.request("POST", "/rerank", body: Self.body, headers: auth))
                        ?? ServiceProcess.Reply(status: -1, headers: [:], body: "transport error")
                    replies.append(reply)
                }
            }
        }
        clients.forEach { $0.start() }
        Thread.sleep(forTimeInterval: 0.5)
        try Self.install("t5-v1_1-tiny-bf16", into: directory)
        let reload = try service.request("POST", "/admin/reload", headers: auth)
        XCTAssertEqual(reload.status, 200, reload.body)
        let validator = SchemaValidator(document: try XCTUnwrap(try service.request("GET", "/openapi.json").json))
        XCTAssertEqual(validator.errors(reload.json as Any, try validator.responseSchema(path: "/admin/reload", method: "post", status: "200"), at: "$"), [],
                       "the answer is the one /openapi.json documents: " + reload.body)
        let hashAfter = try XCTUnwrap(reload.json?["sha256"] as? String)
        XCTAssertNotEqual(hashAfter, hashBefore)
        Thread.sleep(forTimeInterval: 0.5)
        let second = Self.scores(try service.request("POST", "/rerank", body: Self.body, headers: auth))
        XCTAssertFalse(Self.close(first, second), "the BF16 weights score differently: \(first) \(second)")
        try Self.install("t5-v1_1-tiny", into: directory)
        kill(service.process.processIdentifier, SIGHUP)
        var info: [String: Any]?
        for _ in 0..<200 {
            info = try service.request("GET", "/info").json?["model"] as? [String: Any]
            if info?["sha256"] as? String == hashBefore { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertEqual(info?["sha256"] as? String, hashBefore, "SIGHUP reloaded the first weights")
        Thread.sleep(forTimeInterval: 0.5)
        stop.set()
        Thread.sleep(forTimeInterval: 1)   // the clients' last requests finish
        let all = replies.all
        // Every client answered at least once across the two reloads (how many more depends on the machine's load).
        XCTAssertGreaterThanOrEqual(all.count, 4)
        for reply in all {
            XCTAssertEqual(reply.status, 200, reply.body)
            let scores = Self.scores(reply)
            // One model per request: every answer is exactly one model's, never a mixture.
            XCTAssertTrue(Self.close(scores, first) || Self.close(scores, second), "\(scores)")
        }
        let metrics = try service.request("GET", "/metrics").body
        XCTAssertTrue(metrics.contains("instructrec_model_reloads_total{model=\"default\"} 2"), metrics)
        XCTAssertTrue(metrics.contains("instructrec_model_info{model=\"default\",path=\"\(directory.lastPathComponent)\",scorer=\"likelihood\",sha256=\"\(hashBefore)\"} 1"))
    }

    /// A service on a copy of the tiny fixture, with API keys: `body` gets the copy's directory, the service, the
    /// headers its reloads need and the scores it gave `Self.body` before anything changed.
    static func withReloadableService(_ body: (URL, ServiceProcess, [String: String], [Int: Double]) throws -> Void) throws {
        let directory = try modelDirectory(from: "t5-v1_1-tiny")
        defer { try? FileManager.default.removeItem(at: directory) }
        let service = try ServiceProcess(settings: ["api_keys": key],
                                         arguments: ["--model", directory.path, "--tokenizer", ServiceProcess.tokenizerFile,
                                                     "--templates", ServiceProcess.templatesFile])
        defer { _ = service.terminate() }
        let auth = ["Content-Type": "application/json", "Authorization": "Bearer \(key)"]
        try body(directory, service, auth, scores(try service.request("POST", "/rerank", body: Self.body, headers: auth)))
    }

    func testACorruptModelKeepsTheOldOneServing() throws {
        try Self.withReloadableService { directory, service, auth, before in
            let hash = (try service.request("GET", "/info").json?["model"] as? [String: Any])?["sha256"] as? String
            try Data("not a safetensors file".utf8).write(to: directory.appendingPathComponent("model.safetensors"))
            let reload = try service.request("POST", "/admin/reload", headers: auth)
            XCTAssertEqual(reload.status, 500, reload.body)
            XCTAssertTrue(reload.body.contains("previous model keeps serving"), reload.body)
            XCTAssertTrue(Self.close(Self.scores(try service.request("POST", "/rerank", body: Self.body, headers: auth)), before))
            XCTAssertEqual((try service.request("GET", "/info").json?["model"] as? [String: Any])?["sha256"] as? String, hash)
            XCTAssertTrue(try service.request("GET", "/metrics").body.contains("instructrec_model_reload_failures_total{model=\"default\"} 1"))
            XCTAssertFalse(service.logEntries("model reload failed; the previous model keeps serving").isEmpty)
            // Without the key, or on a service without api_keys, the endpoint refuses.
            XCTAssertEqual(try service.request("POST", "/admin/reload").status, 401)
        }
    }

    /// Finite weights that overflow in float32 (the lm_head at ±3e38) load, but their warm-up scores are not
    /// finite: the reload fails and the old model keeps serving, instead of a model that answers 500 to all.
    func testAModelWhoseScoresOverflowKeepsTheOldOneServing() throws {
        try Self.withReloadableService { directory, service, auth, before in
            // Rewrite lm_head.weight's F32 values in place of the file (beside it, then renamed).
            let file = directory.appendingPathComponent("model.safetensors")
            var bytes = try Data(contentsOf: file)
            let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + headerLength))) as? [String: Any])
            let entry = try XCTUnwrap(header["lm_head.weight"] as? [String: Any])
            XCTAssertEqual(entry["dtype"] as? String, "F32")
            let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int])
            for (n, start) in stride(from: 8 + headerLength + offsets[0], to: 8 + headerLength + offsets[1], by: 4).enumerated() {
                let value = (n % 2 == 0 ? Float(3e38) : -3e38).bitPattern.littleEndian
                withUnsafeBytes(of: value) { bytes.replaceSubrange(start..<(start + 4), with: $0) }
            }
            let temporary = directory.appendingPathComponent(".overflow.tmp")
            try bytes.write(to: temporary)
            XCTAssertEqual(rename(temporary.path, file.path), 0)
            let reload = try service.request("POST", "/admin/reload", headers: auth)
            XCTAssertEqual(reload.status, 500, reload.body)
            XCTAssertTrue(reload.body.contains("warm-up request scored"), reload.body)
            XCTAssertTrue(Self.close(Self.scores(try service.request("POST", "/rerank", body: Self.body, headers: auth)), before))
        }
    }

    func testAdminReloadIsOffWithoutAPIKeys() throws {
        let service = try ServiceProcess()
        defer { _ = service.terminate() }
        let refused = try service.request("POST", "/admin/reload")
        XCTAssertEqual(refused.status, 403)
        let validator = SchemaValidator(document: try XCTUnwrap(try service.request("GET", "/openapi.json").json))
        XCTAssertEqual(validator.errors(refused.json as Any, try validator.responseSchema(path: "/admin/reload", method: "post", status: "403"), at: "$"), [],
                       refused.body)
    }
}

/// Replies collected from several client threads.
final class ReplyLog: @unchecked Sendable {
    private let lock = NSLock()
    private var replies: [ServiceProcess.Reply] = []
    func append(_ reply: ServiceProcess.Reply) { lock.lock(); replies.append(reply); lock.unlock() }
    var all: [ServiceProcess.Reply] { lock.lock(); defer { lock.unlock() }; return replies }
}

/// A flag set once, read from many threads.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
