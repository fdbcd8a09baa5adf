import XCTest
@testable import InstructRec

/// How a calibrated score is combined: one α, or α moving with the title's familiarity.
final class ScoringTests: XCTestCase {
    func testOneWeightSubtractsThatMultipleOfThePrior() {
        let scoring = Scoring(mode: .calibrated, priorWeight: 0.5)
        XCTAssertEqual(scoring.combine(likelihood: -10, prior: -20, tokens: 5), 0)
        XCTAssertEqual(Scoring(mode: .sum, priorWeight: 0.5).combine(likelihood: -10, prior: -20, tokens: 5), -10, "sum ignores the prior")
        XCTAssertFalse(Scoring(mode: .calibrated, priorWeight: 0).usesPrior)
        XCTAssertTrue(Scoring(mode: .calibrated, priorWeight: 0, unfamiliarPriorWeight: 1).usesPrior)
    }

    func testTheWeightMovesFromFamiliarToUnfamiliarTitlesAlongTheirPriorPerToken() {
        let scoring = Scoring(mode: .calibrated, priorWeight: 0.25, unfamiliarPriorWeight: 1, familiarityThreshold: -5)
        XCTAssertEqual(scoring.weight(prior: -2 * 4, tokens: 4), 0.25, accuracy: 0.01, "a memorised title: −2 nats per token")
        XCTAssertEqual(scoring.weight(prior: -8 * 4, tokens: 4), 1, accuracy: 0.01, "an unfamiliar one: −8 nats per token")
        XCTAssertEqual(scoring.weight(prior: -5 * 4, tokens: 4), 0.625, accuracy: 1e-6, "the midpoint at τ")
        XCTAssertEqual(scoring.weight(prior: -5 * 4, tokens: 8), scoring.weight(prior: -2.5 * 4, tokens: 4), "per token, not per title")
        XCTAssertEqual(scoring.combine(likelihood: -10, prior: -20, tokens: 4), -10 + 0.625 * 20, accuracy: 1e-5)
        let mean = Scoring(mode: .mean, priorWeight: 0.25, unfamiliarPriorWeight: 1, familiarityThreshold: -5)
        XCTAssertEqual(mean.weight(prior: -5, tokens: 9), 0.625, accuracy: 1e-6, "a mean prior is already per token")
    }
}
