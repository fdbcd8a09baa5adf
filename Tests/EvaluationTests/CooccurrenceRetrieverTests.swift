import Foundation
import XCTest
@testable import Evaluation
import InstructRec

/// The co-occurrence retriever on tiny synthetic logs: counts come from the training parts
/// only, history items are never retrieved, a retrieval is exactly N items and deterministic,
/// and the evaluator inserts a missed target and reports recall.
final class CooccurrenceRetrieverTests: XCTestCase {
    func testCountsOnlyTheTrainingPartOfEachSequence() throws {
        // training parts [1, 2, 3] and [4, 1, 5]; 3-4, 4-5 (user 0) and 5-6, 6-7 (user 1) are held out
        let dataset = try TransitionBaselineTests.dataset(items: 10, sequences: [[1, 2, 3, 4, 5], [4, 1, 5, 6, 7]])
        let retriever = CooccurrenceRetriever(dataset: dataset, window: 3)
        XCTAssertEqual(retriever.counts[1], [2: 1, 3: 1, 4: 1, 5: 1])
        XCTAssertEqual(retriever.counts[3], [1: 1, 2: 1])
        XCTAssertEqual(retriever.counts[6], [:], "6 and 7 occur only as held-out items")
        XCTAssertEqual(retriever.counts[7], [:])
        XCTAssertNil(retriever.counts[5][6], "the validation -> test pair of user 1")
        XCTAssertEqual(retriever.popularity, dataset.trainingPopularity())
    }

    func testWindowLimitsTheCoOccurrence() {
        let retriever = CooccurrenceRetriever(trainingSequences: [[0, 1, 2, 3, 4]], itemCount: 5, window: 2)
        XCTAssertEqual(retriever.counts[0], [1: 1, 2: 1])
        XCTAssertEqual(retriever.counts[2], [0: 1, 1: 1, 3: 1, 4: 1])
    }

    func testNeverReturnsHistoryItemsAndReturnsExactlyN() {
        // 0 co-occurs with 1..5; 9 is the most popular item overall (backoff)
        let sequences = [[0, 1, 2, 3], [0, 4, 5], [9, 8], [9, 7], [9, 6], [9, 10]]
        let retriever = CooccurrenceRetriever(trainingSequences: sequences, itemCount: 12)
        for n in [1, 3, 5, 8, 10] {
            let pool = retriever.retrieve(history: [0, 1], count: n)
            XCTAssertEqual(pool.count, n)
            XCTAssertEqual(Set(pool).count, n, "no duplicates")
            XCTAssertFalse(pool.contains(0) || pool.contains(1), "history items are never retrieved: \(pool)")
        }
        let pool = retriever.retrieve(history: [0, 1], count: 8)
        XCTAssertEqual(Set(pool.prefix(4)), [2, 3, 4, 5], "co-occurring items first")
        XCTAssertEqual(pool[4], 9, "then popularity")
        XCTAssertEqual(retriever.retrieve(history: [0, 1], count: 100).count, 10, "all retrievable items when fewer than N")
        XCTAssertFalse(retriever.retrieve(history: [0], count: 10, excluding: [2, 9]).contains { $0 == 2 || $0 == 9 })
    }

    func testRecentHistoryWeighsMore() {
        // 5 co-occurs with the older history item 0 twice, 6 with the most recent item 1 twice
        let retriever = CooccurrenceRetriever(trainingSequences: [[0, 5], [0, 5], [1, 6], [1, 6]], itemCount: 8, decay: 0.5)
        XCTAssertEqual(retriever.retrieve(history: [0, 1], count: 2), [6, 5])
        XCTAssertEqual(retriever.retrieve(history: [1, 0], count: 2), [5, 6])
    }

    func testEvaluatorPoolsInsertMissedTargetsAndAreDeterministic() throws {
        // 30 users; targets 20...29 are rare and never co-occur with anything in training
        let sequences = (0..<30).map { u in [u % 5, 5 + u % 5, 10 + u % 3, 30 + u % 4, 20 + u % 10] }
        let dataset = try TransitionBaselineTests.dataset(items: 40, sequences: sequences)
        var options = Evaluator.Options()
        options.users = 30
        options.retriever = .cooccurrence
        options.retrieverSize = 6
        let evaluator = Evaluator(dataset: dataset, options: options)
        let cases = evaluator.cases()
        XCTAssertEqual(cases.count, 30)
        for c in cases {
            XCTAssertEqual(c.candidates.count, 6)
            XCTAssertEqual(Set(c.candidates).count, 6)
            XCTAssertTrue(c.candidates.contains(c.target), "the target is inserted where missed")
            XCTAssertTrue(Set(c.candidates).isDisjoint(with: c.sequence), "no history item in the pool")
            XCTAssertEqual(c.targetRetrieved, false, "test targets never co-occur and are unpopular in training")
        }
        XCTAssertEqual(evaluator.retrieverRecall(cases), 0)
        let again = Evaluator(dataset: dataset, options: options).cases()
        XCTAssertEqual(cases.map(\.candidates), again.map(\.candidates), "deterministic")
        // presentation order is shuffled: the target is not always in the last slot
        XCTAssertTrue(cases.contains { $0.candidates.last != $0.target })
    }

    func testRetrievedTargetsCountTowardsRecall() throws {
        // 20 users: 1, 2, 3 in training, then 4 (valid target) and 5 (test target), both held out;
        // user 20 trains on 1, 2, 7 and its test target 3 co-occurs with its history items 1 and 2
        var sequences = (0..<20).map { _ in [1, 2, 3, 4, 5] }
        sequences.append([1, 2, 7, 8, 3])  // test target 3 co-occurs with 1 and 2 in training
        let dataset = try TransitionBaselineTests.dataset(items: 12, sequences: sequences)
        var options = Evaluator.Options()
        options.users = 100
        options.retriever = .cooccurrence
        options.retrieverSize = 2
        let evaluator = Evaluator(dataset: dataset, options: options)
        let cases = evaluator.cases()
        guard let last = cases.first(where: { $0.userIndex == 20 }) else { return XCTFail("user 20 evaluated") }
        XCTAssertEqual(last.targetRetrieved, true)
        // the 20 others: history [1, 2, 3, 4], target 5, which never occurs in any training part
        XCTAssertEqual(cases.filter { $0.targetRetrieved == true }.count, 1)
        XCTAssertEqual(evaluator.retrieverRecall(cases) ?? -1, 1.0 / 21, accuracy: 1e-12)
    }
}
