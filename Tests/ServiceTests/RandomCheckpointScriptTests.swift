@testable import Configuration
import Foundation
@testable import Service
import XCTest

/// scripts/fixtures/make_random_t5_checkpoint.py writes a checkpoint that `serve` loads as it is (weights, a
/// tokenizer, an instructrec.json for the shape asked), with the standard library alone: no torch, no numpy.
final class RandomCheckpointScriptTests: XCTestCase {
    static var script: String { ServiceProcess.root.appendingPathComponent("scripts/fixtures/make_random_t5_checkpoint.py").path }
    static var tinyConfig: String { ServiceProcess.root.appendingPathComponent("Tests/ServiceTests/Fixtures/monot5-tiny/config.json").path }

    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("random-checkpoint-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// python3 from PATH; CI installs it (scripts/system-packages.txt, group ci).
    static func python() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard let found = path.split(separator: ":").map({ "\($0)/python3" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("python3 is not on PATH: make_random_t5_checkpoint.py needs it (any Python 3, standard library only)")
        }
        return found
    }

    /// Runs the script: exit status and standard error.
    func make(_ arguments: [String]) throws -> (status: Int32, log: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.python())
        process.arguments = [Self.script] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let log = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: log, as: UTF8.self))
    }

    func settings() throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent("instructrec.json"))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The MonoT5 shape through the real binary, given only --model: a Cohere v2 answer, one long document windowed.
    func testTheMonoT5CheckpointIsServedAsItIs() throws {
        let made = try make([Self.tinyConfig, directory.path, "--shape", "monot5"])
        XCTAssertEqual(made.status, 0, made.log)
        XCTAssertEqual(try settings()["scorer"] as? String, "monot5")
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("tokenizer.json").path))
        let service = try ServiceProcess(arguments: ["--model", directory.path])
        defer { _ = service.terminate() }
        let long = String(repeating: "A knight explores the frozen castle before sunrise. ", count: 60)
        let body = String(decoding: try JSONSerialization.data(withJSONObject: [
            "query": "a castle game", "documents": ["Castle of Illusion", "HDMI Cable 6ft", long], "top_n": 2,
        ]), as: UTF8.self)
        let reply = try service.request("POST", "/v2/rerank", body: body)
        XCTAssertEqual(reply.status, 200, reply.body)
        let results = try XCTUnwrap(reply.json?["results"] as? [[String: Any]], reply.body)
        XCTAssertEqual(results.count, 2, "top_n")
        for result in results {
            let relevance = try XCTUnwrap(result["relevance_score"] as? Double)
            XCTAssertTrue(relevance > 0 && relevance < 1, "P(true): \(relevance)")
        }
        XCTAssertEqual(reply.headers["x-documents-windowed"], "1", "the long document is read in windows, as a pointwise model's")
        let info = try service.request("GET", "/info").json
        XCTAssertEqual(((info?["settings"] as? [String: Any])?["scorer"] as? [String: Any])?["value"] as? String, "monot5")
        XCTAssertEqual(service.logEntries("loading model").first?["model"] as? String, directory.path)
    }

    /// The RankT5 and InstructRec shapes load too (in-process: the same configuration and model loading as serve).
    func testTheRankT5AndInstructRecShapesLoad() throws {
        for (shape, scorer) in [("rankt5", "rankt5"), ("instructrec", "likelihood")] {
            try? FileManager.default.removeItem(at: directory)
            let made = try make([Self.tinyConfig, directory.path, "--shape", shape])
            XCTAssertEqual(made.status, 0, made.log)
            XCTAssertEqual(try settings()["scorer"] as? String, scorer, shape)
            let service = try RerankService(configuration: ServiceConfiguration.load(
                file: nil, environment: [:], overrides: ["model": directory.path, "templates": ServiceProcess.templatesFile]))
            XCTAssertEqual(service.pipeline.scorerKind.rawValue, scorer, shape)
            let request = Array(try JSONSerialization.data(withJSONObject: ["query": "a castle game", "documents": ["Castle of Illusion", "Tetris"]]))
            let reply = service.scoreDirectly(endpoint: "/v2/rerank", body: request)
            XCTAssertEqual(reply.status, 200, "\(shape): \(String(decoding: reply.json, as: UTF8.self))")
            service.stop()
        }
    }

    func testATokenizerThatDoesNotFitIsRefused() throws {
        let defaultModel = ServiceProcess.root.appendingPathComponent("models/default")
        // The T5 tokenizer (32,100 pieces) against a config of 8,000.
        let tooLarge = try make([defaultModel.appendingPathComponent("config.json").path, directory.path])
        XCTAssertNotEqual(tooLarge.status, 0)
        XCTAssertTrue(tooLarge.log.contains("outside the config's vocab_size 8000"), tooLarge.log)
        // A vocabulary without MonoT5's readout pieces.
        let noReadout = try make([Self.tinyConfig, directory.path, "--shape", "monot5", "--tokenizer", defaultModel.path])
        XCTAssertNotEqual(noReadout.status, 0)
        XCTAssertTrue(noReadout.log.contains("lacks ▁true, ▁false"), noReadout.log)
    }
}
