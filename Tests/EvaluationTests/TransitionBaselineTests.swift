import Foundation
import XCTest
@testable import Evaluation
import InstructRec

/// The last-item transitions baseline on tiny synthetic logs: counts come from
/// the training parts only, the last history item decides, popularity backs off.
final class TransitionBaselineTests: XCTestCase {
    /// Writes a Games-format dataset of `items` items and the given full sequences (test target last).
    static func dataset(items: Int, sequences: [[Int]]) throws -> InteractionDataset {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("transitions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let itemLines = ["item_id:token\ttitle:token_seq"] + (0..<items).map { "\($0)\tGame \($0)" }
        try itemLines.joined(separator: "\n").write(to: directory.appendingPathComponent("Games.item"), atomically: true, encoding: .utf8)
        let interLines = ["user_id:token\titem_id_list:token_seq\titem_id:token"]
            + sequences.enumerated().map { "u\($0.offset)\t\($0.element.dropLast().map(String.init).joined(separator: " "))\t\($0.element.last ?? 0)" }
        try interLines.joined(separator: "\n").write(to: directory.appendingPathComponent("Games-6k.test.inter"), atomically: true, encoding: .utf8)
        return try InteractionDataset(directory: directory)
    }

    func testCountsOnlyTheTrainingPartOfEachSequence() throws {
        // training parts: [1, 2, 3] and [4, 1, 5]; the held-out 3->4, 4->5, 5->6 and 6->7 are never counted
        let dataset = try Self.dataset(items: 10, sequences: [[1, 2, 3, 4, 5], [4, 1, 5, 6, 7]])
        let baseline = TransitionBaseline(dataset: dataset)
        XCTAssertEqual(baseline.counts[1], [2: 1, 5: 1])
        XCTAssertEqual(baseline.counts[2], [3: 1])
        XCTAssertEqual(baseline.counts[4], [1: 1])
        XCTAssertNil(baseline.counts[3])
        XCTAssertNil(baseline.counts[5])
        XCTAssertEqual(baseline.popularity, dataset.trainingPopularity())
    }

    func testLastItemTransitionsOutrankPopularityWhichBreaksZeroCounts() {
        // 0->1 twice, 0->2 once; item 3 is the most popular but never follows 0
        let baseline = TransitionBaseline(trainingSequences: [[0, 1], [0, 1], [0, 2], [3, 3, 3, 3, 4]], itemCount: 6)
        let scores = baseline.scores(history: [4, 0], candidates: [3, 2, 1, 5])
        XCTAssertEqual(scores.indices.sorted { scores[$0] > scores[$1] }.map { [3, 2, 1, 5][$0] }, [1, 2, 3, 5])
        XCTAssertGreaterThan(scores[1], 1, "one transition")
        XCTAssertLessThan(scores[0], 1, "popularity alone stays below one transition")
        XCTAssertEqual(scores[3], 0, "unseen and unpopular")
        XCTAssertEqual(baseline.scores(history: [], candidates: [3, 5]).map { $0 > 0 }, [true, false], "no history: popularity")
    }

    func testDecayedWindowAddsOlderHistoryItems() {
        let baseline = TransitionBaseline(trainingSequences: [[7, 1], [7, 1], [7, 1], [0, 2]], itemCount: 8, window: 2, decay: 0.5)
        // last item 0 -> 2 (1.0); item before it 7 -> 1 (3 x 0.5); the popularity backoff adds less than 0.5
        let scores = baseline.scores(history: [7, 0], candidates: [2, 1])
        XCTAssertTrue((1..<1.5).contains(scores[0]), "\(scores)")
        XCTAssertTrue((1.5..<2).contains(scores[1]), "\(scores)")
        XCTAssertGreaterThan(scores[1], scores[0])
        let lastOnly = TransitionBaseline(trainingSequences: [[7, 1], [7, 1], [7, 1], [0, 2]], itemCount: 8)
        let last = lastOnly.scores(history: [7, 0], candidates: [2, 1])
        XCTAssertGreaterThan(last[0], last[1])
    }

    func testJitterBreaksTiesBelowOnePopularityStep() {
        let baseline = TransitionBaseline(trainingSequences: [[0, 1, 2], [2]], itemCount: 4)
        let scores = baseline.scores(history: [3], candidates: [1, 3, 2], jitter: [0.999, 0.5, 0])
        XCTAssertGreaterThan(scores[2], scores[0], "popularity 2 over popularity 1 whatever the jitter")
        XCTAssertGreaterThan(scores[0], scores[1])
    }

    func testEvaluatorRanksTheUsualNextItemFirst() throws {
        // everyone goes 1 -> 2 in training; the test user's last history item is 1 and its target 2
        var sequences = (0..<20).map { [5 + $0 % 3, 1, 2, 3 + $0 % 2, 9] }
        sequences.append([4, 6, 7, 1, 2])
        let dataset = try Self.dataset(items: 40, sequences: sequences)
        var options = Evaluator.Options()
        options.users = 100
        let evaluator = Evaluator(dataset: dataset, options: options)
        guard let c = evaluator.cases().first(where: { $0.userIndex == 20 }) else { return XCTFail("user 20 evaluated") }
        XCTAssertEqual(c.sequence, [4, 6, 7, 1])
        XCTAssertEqual(c.target, 2)
        XCTAssertEqual(evaluator.transitionRank(c), 1)
        XCTAssertEqual(evaluator.transitionRank(c), evaluator.transitionRank(c), "seeded")
    }

    func testNoValidationOrTestTargetIsCounted() throws {
        // 8 -> 9 happens only as users' last two items, so it must score like never seen
        let dataset = try Self.dataset(items: 12, sequences: (0..<10).map { [$0 % 3, 3 + $0 % 3, 6, 8, 9] })
        let baseline = TransitionBaseline(dataset: dataset)
        XCTAssertNil(baseline.counts[8])
        XCTAssertNil(baseline.counts[6]?[8])
    }
}
