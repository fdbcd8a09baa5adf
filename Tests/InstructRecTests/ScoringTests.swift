import XCTest
@testable import InstructRec

/// How a calibrated score is combined.
final class ScoringTests: XCTestCase {
    func testCalibratedSubtractsAlphaTimesThePriorAndOtherModesIgnoreIt() {
        XCTAssertEqual(Scoring(mode: .calibrated, priorWeight: 0.5).combine(likelihood: -10, prior: -20), 0)
        XCTAssertEqual(Scoring(mode: .calibrated, priorWeight: 1).combine(likelihood: -10, prior: -4), -6, "α = 1: pointwise mutual information")
        XCTAssertEqual(Scoring(mode: .sum, priorWeight: 0.5).combine(likelihood: -10, prior: -20), -10)
        XCTAssertEqual(Scoring(mode: .calibrated, priorWeight: 0.5).combine(likelihood: -10, prior: nil), -10)
        XCTAssertFalse(Scoring(mode: .calibrated, priorWeight: 0).usesPrior)
        XCTAssertFalse(Scoring(mode: .mean, priorWeight: 1).usesPrior)
        XCTAssertEqual(Scoring(mode: .mean).reduction, .mean)
        XCTAssertEqual(Scoring(mode: .calibrated).reduction, .sum)
    }
}
