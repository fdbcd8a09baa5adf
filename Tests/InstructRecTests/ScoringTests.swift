import XCTest
@testable import InstructRec

/// How a calibrated score is combined.
final class ScoringTests: XCTestCase {
    func testCalibratedSubtractsAlphaTimesThePriorAndOtherModesIgnoreIt() {
        XCTAssertEqual(Scoring(mode: .calibrated, priorWeight: 0.5).combine(likelihood: -10, prior: -20, weight: 0.5), 0)
        XCTAssertEqual(Scoring(mode: .calibrated, priorWeight: 1).combine(likelihood: -10, prior: -4, weight: 1), -6, "α = 1: pointwise mutual information")
        XCTAssertEqual(Scoring(mode: .sum, priorWeight: 0.5).combine(likelihood: -10, prior: -20, weight: 0.5), -10)
        XCTAssertEqual(Scoring(mode: .calibrated, priorWeight: 0.5).combine(likelihood: -10, prior: nil, weight: 0.5), -10)
        XCTAssertFalse(Scoring(mode: .calibrated, priorWeight: 0).usesPrior)
        XCTAssertFalse(Scoring(mode: .mean, priorWeight: 1).usesPrior)
        XCTAssertEqual(Scoring(mode: .mean).reduction, .mean)
        XCTAssertEqual(Scoring(mode: .calibrated).reduction, .sum)
    }
}

/// The request's α from its candidates' familiarity.
final class FamiliarityWeightTests: XCTestCase {
    let scoring = Scoring(mode: .calibrated, priorWeight: 0.375, unfamiliarPriorWeight: 0.9, familiarityThreshold: -5)

    func testFamiliarCandidatesGetTheFirstWeightAndUnfamiliarOnesTheSecond() {
        // priors per token −2 (memorised titles) and −8 (titles the model never saw), 4 tokens each
        XCTAssertEqual(scoring.weight(priors: [-8, -8, -8], tokens: [4, 4, 4]), 0.375, accuracy: 1e-4)
        XCTAssertEqual(scoring.weight(priors: [-32, -32, -32], tokens: [4, 4, 4]), 0.9, accuracy: 1e-4)
        XCTAssertEqual(scoring.weight(priors: [-20], tokens: [4]), (0.375 + 0.9) / 2, accuracy: 1e-6, "the midpoint at τ")
    }

    func testTheMedianDecidesSoOneOddCandidateDoesNotAndOrderNeverDoes() {
        let familiar: [Float] = [-8, -8, -8, -8, -40]   // one unfamiliar title among four familiar ones
        XCTAssertEqual(scoring.weight(priors: familiar, tokens: [4, 4, 4, 4, 4]), 0.375, accuracy: 1e-4)
        XCTAssertEqual(scoring.weight(priors: familiar.reversed(), tokens: [4, 4, 4, 4, 4]),
                       scoring.weight(priors: familiar, tokens: [4, 4, 4, 4, 4]))
        XCTAssertEqual(scoring.weight(priors: [-40, -9], tokens: [8, 2]), scoring.weight(priors: [-20, -18], tokens: [4, 4]),
                       "per token, not per title")
    }

    func testWithoutASecondWeightTheFirstIsEveryRequestsAndTheMergeReportsTheWeightUsed() throws {
        XCTAssertEqual(Scoring(mode: .calibrated, priorWeight: 0.5).weight(priors: [-40], tokens: [4]), 0.5)
        final class Constant: CandidateScorer, @unchecked Sendable {
            func score(_ groups: [ScoringGroup]) -> [Result<GroupScores, InstructRecError>] {
                groups.map { group in .success(GroupScores(scores: group.candidates.map { _ in group.instruction == [9, 1] ? -40 : -10 })) }
            }
        }
        let plan = InstructionPlan(template: "t", groups: [.init(text: "a", tokens: [5, 1], candidates: [0, 1])], priorInstruction: [9, 1],
                                   targets: [[3, 3, 3], [4, 4, 4]], historyItemsUsed: 0, historyItemsDropped: 0, historyItemsTrimmed: 0,
                                   historyTitlesShortened: 0)
        let (scores, _) = try Reranker.score(plan, scorer: Constant(), scoring: scoring)
        XCTAssertEqual(scores.priorWeight ?? 0, 0.9, accuracy: 1e-4, "−10 nats per token: unfamiliar")
        XCTAssertEqual(scores.scores[0], -10 + (scores.priorWeight ?? 0) * 40, accuracy: 1e-4)
    }
}
