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
        let second = ScoringGroup(instruction: [42, 1], candidates: [[7, 8, 9]])
        let both = try scorer.score([first, second]).map { try $0.get() }
        XCTAssertEqual(both.map(\.tokenLogProbabilities.count), [2, 1])
        // Groups are independent: scoring them in one call (one engine batch) or one by one agrees within float rounding.
        let alone = try [scorer.score([first])[0].get(), scorer.score([second])[0].get()]
        for (together, single) in zip(both, alone) {
            // per token, not reduced: the engine answers what the model said
            for (a, b) in zip(together.tokenLogProbabilities.joined(), single.tokenLogProbabilities.joined()) {
                XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)))
            }
        }
        XCTAssertEqual(both[1].tokenLogProbabilities[0].count, 4, "three title tokens and </s>")
        XCTAssertTrue(both.allSatisfy { $0.tokenLogProbabilities.joined().allSatisfy { $0.isFinite && $0 < 0 } }, "log-probabilities")
    }

    func testTokensOutsideTheVocabularyAreTheCallersErrorAnd422() throws {
        let engine = try ScoringEngine(modelDirectory: ServiceProcess.modelDirectory)
        let scorer = engine.makeScorer(threads: 1)
        let outside = Int32(engine.vocabularySize)
        XCTAssertThrowsError(try scorer.score([ScoringGroup(instruction: [5, 1], candidates: [[outside]])])[0].get()) { error in
            guard case let InstructRecError.scoringInput(message) = error else { return XCTFail("unmapped \(error)") }
            XCTAssertTrue(message.contains("outside"), message)
            let answer = ServiceError.from(error)
            XCTAssertEqual(answer.status, 422)
            XCTAssertEqual(answer.code, "invalid_input")
        }
        XCTAssertThrowsError(try scorer.score([ScoringGroup(instruction: [], candidates: [[5]])])[0].get()) { error in
            XCTAssertEqual(ServiceError.from(error).status, 422, "\(error)")
        }
    }

    func testABadGroupFailsAloneWhileTheOtherGroupsOfItsCallAreScored() throws {
        let engine = try ScoringEngine(modelDirectory: ServiceProcess.modelDirectory)
        let scorer = engine.makeScorer(threads: 1)
        let good = ScoringGroup(instruction: [100, 200, 1], candidates: [[300], [400, 500]])
        let bad = ScoringGroup(instruction: [5, 1], candidates: [[Int32(engine.vocabularySize)]])
        let answers = scorer.score([good, bad, good])
        guard case .failure(.scoringInput) = answers[1] else { return XCTFail("\(answers[1])") }
        let alone = try scorer.score([good])[0].get().tokenLogProbabilities.map { ScoreReduction.sum.reduce($0) }
        for answer in [answers[0], answers[2]] {
            for (a, b) in zip(try answer.get().tokenLogProbabilities.map { ScoreReduction.sum.reduce($0) }, alone) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b))) }
        }
    }

    func testAScorerFailureIsAnInternalErrorThatHidesItsMessage() {
        let answer = ServiceError.from(InstructRecError.scoringFailed("/secret/path: tensor broke"))
        XCTAssertEqual(answer.status, 500)
        XCTAssertFalse(answer.message.contains("/secret"))
    }
}
