import XCTest
import InstructRec
@testable import Service
import T5Scoring

/// The T5 engine behind `CandidateScorer`, on the tiny fixture model: the
/// protocol's contract and the one mapping of engine errors to statuses.
final class ScoringEngineTests: XCTestCase {
    func testTheEngineScoresEveryGroupOfOneCallInOrder() throws {
        let scorer = try ScoringEngine(modelDirectory: ServiceProcess.modelDirectory).makeScorer(threads: 1)
        let first = ScoringGroup(instruction: [100, 200, 1], candidates: [[300], [400, 500]])
        let second = ScoringGroup(instruction: [42, 1], candidates: [[7, 8, 9]], reduction: .mean)
        let both = try scorer.score([first, second])
        XCTAssertEqual(both.map(\.scores.count), [2, 1])
        // Groups are independent: scoring them in one call or one by one agrees.
        XCTAssertEqual(both[0].scores, try scorer.score([first])[0].scores)
        XCTAssertEqual(both[1].scores, try scorer.score([second])[0].scores)
        XCTAssertTrue(both.allSatisfy { $0.scores.allSatisfy { $0.isFinite && $0 < 0 } }, "log-likelihoods")
    }

    func testTokensOutsideTheVocabularyAreTheCallersErrorAnd422() throws {
        let engine = try ScoringEngine(modelDirectory: ServiceProcess.modelDirectory)
        let scorer = engine.makeScorer(threads: 1)
        let outside = Int32(engine.vocabularySize)
        XCTAssertThrowsError(try scorer.score([ScoringGroup(instruction: [5, 1], candidates: [[outside]])])) { error in
            guard case let InstructRecError.scoringInput(message) = error else { return XCTFail("unmapped \(error)") }
            XCTAssertTrue(message.contains("outside"), message)
            let answer = ServiceError.from(error)
            XCTAssertEqual(answer.status, 422)
            XCTAssertEqual(answer.code, "invalid_input")
        }
        XCTAssertThrowsError(try scorer.score([ScoringGroup(instruction: [], candidates: [[5]])])) { error in
            XCTAssertEqual(ServiceError.from(error).status, 422, "\(error)")
        }
    }

    func testAScorerFailureIsAnInternalErrorThatHidesItsMessage() {
        let answer = ServiceError.from(InstructRecError.scoringFailed("/secret/path: tensor broke"))
        XCTAssertEqual(answer.status, 500)
        XCTAssertFalse(answer.message.contains("/secret"))
    }
}
