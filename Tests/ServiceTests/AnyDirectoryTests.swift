import Foundation
import XCTest

/// Every subcommand finds the model, its tokenizer and the data the way `serve` does
/// (`testServeWorksFromAnyDirectoryWithTheDefaults`): run here from a fresh directory under /tmp, with
/// the defaults, nothing relative to the repository on the command line.
final class AnyDirectoryTests: XCTestCase {
    var elsewhere: URL!

    override func setUpWithError() throws {
        elsewhere = URL(fileURLWithPath: "/tmp").appendingPathComponent("instructrec-cwd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: elsewhere) }

    func run(_ arguments: [String], input: String? = nil) throws -> (status: Int32, log: String, output: String) {
        try StartupTests.run(arguments, input: input, directory: elsewhere)
    }

    var defaultModel: String { ServiceProcess.root.appendingPathComponent("models/default").path }

    func testTokenizeLoadsTheServedTokenizer() throws {
        let run = try run(["tokenize", "--no-eos", "Mario"])
        XCTAssertEqual(run.status, 0, run.log)
        let answer = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], run.output)
        XCTAssertEqual(answer["tokenizer"] as? String, defaultModel + "/tokenizer.json", "the default model's, as serve loads it")
        XCTAssertEqual(answer["text"] as? String, "Mario")
    }

    func testScoreLoadsTheDefaultModel() throws {
        let run = try run(["score"], input: Bodies.search)
        XCTAssertEqual(run.status, 0, run.log)
        let answer = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], run.output)
        XCTAssertEqual((answer["results"] as? [Any])?.count, 3, run.output)
    }

    /// A tiny dataset of our own (five users, twenty items) ranked by the default model.
    func testEvalLoadsTheDefaultModel() throws {
        let data = elsewhere.appendingPathComponent("games")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let titles = (0..<20).map { "Game number \($0)" }
        try ("item_id:token\ttitle:token_seq\n" + titles.enumerated().map { "\($0)\t\($1)\n" }.joined())
            .write(to: data.appendingPathComponent("Games.item"), atomically: true, encoding: .utf8)
        let users = (0..<5).map { user in (0..<5).map { String((user * 3 + $0) % 20) } }
        try ("user_id:token\titem_id_list:token_seq\titem_id:token\n"
             + users.enumerated().map { "\($0)\t\($1.dropLast().joined(separator: " "))\t\($1.last ?? "0")\n" }.joined())
            .write(to: data.appendingPathComponent("Games-6k.test.inter"), atomically: true, encoding: .utf8)
        let output = elsewhere.appendingPathComponent("eval.json").path
        let run = try run(["eval", "--data", data.path, "--users", "5", "--negatives", "4", "--output", output])
        XCTAssertEqual(run.status, 0, run.log + run.output)
        XCTAssertTrue(run.output.contains("model \(defaultModel)\n"), run.output)
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any])
        XCTAssertEqual(result["model"] as? String, defaultModel)
        XCTAssertEqual(result["users"] as? Int, 5)
        XCTAssertNotNil((result["metrics"] as? [String: Any])?["model"], "the model row")
    }

    /// The default --data is ../shared/data/games from the repository root: found from here when it is there,
    /// else the message names the repository's place for it and the flag.
    func testEvalLooksForItsDefaultDatasetFromTheRepositoryRoot() throws {
        let shared = ServiceProcess.root.deletingLastPathComponent().appendingPathComponent("shared/data/games").standardizedFileURL
        let run = try run(["eval", "--no-model", "--users", "3", "--output", elsewhere.appendingPathComponent("eval.json").path])
        if FileManager.default.fileExists(atPath: shared.appendingPathComponent("Games.item").path) {
            XCTAssertEqual(run.status, 0, run.log)
            XCTAssertTrue(run.output.contains("3 users, split test"), run.output)
        } else {
            XCTAssertEqual(run.status, 2, run.log)
            XCTAssertTrue(run.log.contains("  " + shared.path + "\n"), "names where it looked: \(run.log)")
            XCTAssertTrue(run.log.contains("with --data DIR"), run.log)
        }
    }

    func testEvalWithAMissingDatasetSaysWhatIsMissingAndHowToPointAtIt() throws {
        let missing = elsewhere.appendingPathComponent("no-such-data")
        let run = try run(["eval", "--no-model", "--data", missing.path])
        XCTAssertEqual(run.status, 2, run.log)
        XCTAssertTrue(run.log.hasPrefix("no dataset at \(missing.path): missing Games.item, Games-6k.test.inter\n"), run.log)
        XCTAssertTrue(run.log.contains("point at another with --data DIR"), run.log)
        XCTAssertTrue(run.log.contains("scripts/data/convert_amazon2018.py"), "how to make one: \(run.log)")
        XCTAssertEqual(run.output, "")

        try FileManager.default.createDirectory(at: missing, withIntermediateDirectories: true)
        try "item_id:token\ttitle:token_seq\n0\tTetris\n".write(to: missing.appendingPathComponent("Games.item"), atomically: true, encoding: .utf8)
        let half = try self.run(["eval", "--no-model", "--data", missing.path])
        XCTAssertEqual(half.status, 2, half.log)
        XCTAssertTrue(half.log.hasPrefix("no dataset at \(missing.path): missing Games-6k.test.inter\n"), "exactly what is missing: \(half.log)")
    }
}
