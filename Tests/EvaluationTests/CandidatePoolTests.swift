import Foundation
import XCTest
@testable import Evaluation
import InstructRec

/// Match-then-rerank cases from a retriever's candidate pools: the pool is used as
/// given, and `insertTarget` swaps a missed target in for the pool's last item.
final class CandidatePoolTests: XCTestCase {
    func testPoolsAreUsedAsGivenUnlessTheTargetIsInserted() throws {
        // users u0 (test target 5) and u1 (test target 9)
        let dataset = try TransitionBaselineTests.dataset(items: 12, sequences: [[1, 2, 3, 4, 5], [6, 7, 8, 2, 9]])
        let pools = ["u0": [5, 10, 11], "u1": [10, 11, 0]]
        var options = Evaluator.Options()
        let asGiven = Evaluator(dataset: dataset, options: options).cases(pools: pools)
        XCTAssertEqual(asGiven.map { Set($0.candidates) }, [[5, 10, 11], [10, 11, 0]])
        XCTAssertEqual(asGiven.map(\.target), [5, 9])

        options.insertTarget = true
        let inserted = Evaluator(dataset: dataset, options: options).cases(pools: pools)
        XCTAssertEqual(Set(inserted[0].candidates), [5, 10, 11], "a retrieved target stays where it is")
        XCTAssertEqual(Set(inserted[1].candidates), [10, 11, 9], "a missed target replaces the lowest-ranked item")
        XCTAssertEqual(inserted[1].candidates.count, 3)
    }
}
