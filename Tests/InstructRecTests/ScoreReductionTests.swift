import Foundation
import XCTest
@testable import InstructRec

/// The reductions of the engine's raw outputs (ScoreReduction+Sum/Mean/YesNo; the calibrated one is
/// pinned in ScoringTests and CalibratedRerankerTests).
final class ScoreReductionTests: XCTestCase {
    func testSumIsTheLogLikelihoodWhateverTheOrderOfItsTokens() {
        // Float accumulation would lose the small terms beside the large one; the double sum keeps them
        // and gives the same value in any order (a lane's order, a batch's order).
        let tokens: [Float] = [-1e7, -0.25, -0.25, -0.25, -0.25, 1e7]
        XCTAssertEqual(ScoreReduction.sum(tokens), -1, accuracy: 1e-6)
        XCTAssertEqual(ScoreReduction.sum(tokens.reversed()), ScoreReduction.sum(tokens))
        XCTAssertEqual(ScoreReduction.sum.reduce([-1, -2.5]), -3.5)
        XCTAssertEqual(ScoreReduction.sum([]), 0)
    }

    func testMeanDividesByTheScoredTokensAndIsZeroForNone() {
        XCTAssertEqual(ScoreReduction.mean.reduce([-1, -2, -3]), -2)
        XCTAssertEqual(ScoreReduction.mean([]), 0)
        // length-normalised: a long title no longer loses only for paying more tokens
        let short: [Float] = [-3, -1], long: [Float] = [-2, -2, -2, -1]
        XCTAssertGreaterThan(ScoreReduction.sum(short), ScoreReduction.sum(long))
        XCTAssertGreaterThan(ScoreReduction.mean(long), ScoreReduction.mean(short))
    }

    func testYesNoLogOddsIsTheTwoWaySoftmax() {
        for (yes, no) in [(Float(2.5), Float(-1)), (-3, 4), (0.5, 0.5), (30, -30)] {
            let logOdds = ScoreReduction.yesNoLogOdds(yes: yes, no: no)
            let softmaxYes = exp(Double(yes)) / (exp(Double(yes)) + exp(Double(no)))
            XCTAssertEqual(Relevance.sigmoid(Double(logOdds)), softmaxYes, accuracy: 1e-9)
            XCTAssertEqual(PointwiseReadout(kind: .yesNo, tokens: [1, 2]).score([yes, no]), logOdds)
        }
        XCTAssertEqual(PointwiseReadout(kind: .logit, tokens: [7]).score([1.25]), 1.25)
    }
}
