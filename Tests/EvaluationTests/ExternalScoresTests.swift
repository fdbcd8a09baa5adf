import Foundation
import XCTest
@testable import Evaluation
import InstructRec

/// Cases dumped for external baselines and their scores read back.
final class ExternalScoresTests: XCTestCase {
    func cases() throws -> (Evaluator, [Evaluator.Case]) {
        let dataset = try TransitionBaselineTests.dataset(items: 60, sequences: (0..<12).map { u in (0..<6).map { (u * 7 + $0 * 3) % 60 } })
        var options = Evaluator.Options()
        options.users = 5
        let evaluator = Evaluator(dataset: dataset, options: options)
        return (evaluator, evaluator.cases())
    }

    func testDumpedCasesCarryTheWholeSequenceBeforeTheTarget() throws {
        let (evaluator, cases) = try cases()
        let data = try CaseRecord.jsonLines(cases, split: .test)
        let lines = data.split(separator: 0x0A)
        XCTAssertEqual(lines.count, cases.count)
        for (line, c) in zip(lines, cases) {
            let record = try JSONDecoder().decode(CaseRecord.self, from: Data(line))
            let items = evaluator.dataset.sequences[c.userIndex].items
            XCTAssertEqual(record.sequence, Array(items.dropLast()))
            XCTAssertEqual(record.history, Array(items.dropLast().suffix(10)))
            XCTAssertEqual(record.target, items.last)
            XCTAssertEqual(record.candidates, c.candidates)
            XCTAssertEqual(record.user, evaluator.dataset.sequences[c.userIndex].user)
            XCTAssertEqual(record.userIndex, c.userIndex)
        }
        XCTAssertTrue(String(decoding: lines[0], as: UTF8.self).contains("\"user_index\""))
    }

    func testScoresAreRankedWithTheSameTieRule() throws {
        let (_, cases) = try cases()
        let lines = cases.map { c in
            // the target ties with one other candidate: rank 2, as for every row
            let scores = c.candidates.enumerated().map { $0.element == c.target || $0.offset == (c.candidates.firstIndex(of: c.target) == 0 ? 1 : 0) ? 5.0 : 1.0 }
            return "{\"user_index\": \(c.userIndex), \"user\": \"\(c.user)\", \"candidates\": \(c.candidates), \"scores\": \(scores)}"
        }
        let external = try ExternalScores(name: "x", file: "x.jsonl", data: Data((lines.joined(separator: "\n") + "\n").utf8))
        for c in cases { XCTAssertEqual(try external.rank(c), 2) }
    }

    func testMissingOrMismatchedCasesFailClearly() throws {
        let (_, cases) = try cases()
        let c = cases[0]
        let partial = try ExternalScores(name: "x", file: "x.jsonl",
                                         data: Data("{\"user_index\": \(c.userIndex), \"scores\": \(c.candidates.map { _ in 0.0 })}\n".utf8))
        XCTAssertNoThrow(try partial.scores(for: c))
        XCTAssertThrowsError(try partial.scores(for: cases[1])) { error in
            XCTAssertTrue("\(error)".contains("no scores for user_index \(cases[1].userIndex)"), "\(error)")
        }
        let short = try ExternalScores(name: "x", file: "x.jsonl", data: Data("{\"user_index\": \(c.userIndex), \"scores\": [1]}".utf8))
        XCTAssertThrowsError(try short.scores(for: c))
        let reordered = try ExternalScores(name: "x", file: "x.jsonl", data: Data(
            "{\"user_index\": \(c.userIndex), \"candidates\": \(Array(c.candidates.reversed())), \"scores\": \(c.candidates.map { _ in 0.0 })}".utf8))
        XCTAssertThrowsError(try reordered.scores(for: c))
        XCTAssertThrowsError(try ExternalScores(name: "x", file: "x.jsonl", data: Data("{\"scores\": [1]}\n".utf8)))
        XCTAssertThrowsError(try ExternalScores(name: "x", file: "x.jsonl", data: Data("{\"user_index\": 1, \"scores\": [NaN]}\n".utf8)))
    }
}
