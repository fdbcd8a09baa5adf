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
        XCTAssertTrue(Scoring(mode: .calibrated, priorWeight: 0, queryPriorWeight: 1).usesPrior)
        XCTAssertFalse(Scoring(mode: .mean, priorWeight: 1).usesPrior)
        XCTAssertEqual(Scoring(mode: .mean).reduction, .mean)
        XCTAssertEqual(Scoring(mode: .calibrated).reduction, .sum)
    }
}

/// One α per context kind, and nothing about the candidates.
final class ContextKindWeightTests: XCTestCase {
    let scoring = Scoring(mode: .calibrated, priorWeight: 0.4, queryPriorWeight: 1)

    func testAHistoryAloneGetsPriorWeightAndTheUsersWordsGetQueryPriorWeight() {
        XCTAssertEqual(UserContext(history: [Item(id: "1", title: "Halo 3")]).kind, .history)
        XCTAssertEqual(UserContext(history: [Item(id: "1", title: "Halo 3")], intention: "halo").kind, .query)
        XCTAssertEqual(UserContext(preference: "I like racing games").kind, .query)
        XCTAssertEqual(scoring.resolved(for: .history), Scoring(mode: .calibrated, priorWeight: 0.4))
        XCTAssertEqual(scoring.resolved(for: .query), Scoring(mode: .calibrated, priorWeight: 1))
        XCTAssertEqual(Scoring(mode: .calibrated, priorWeight: 0.4).resolved(for: .query).priorWeight, 0.4,
                       "without a query weight every context gets prior_weight")
    }

    func testTheMergeSubtractsTheResolvedWeightWhateverTheCandidatesPriors() throws {
        final class Constant: CandidateScorer, @unchecked Sendable {
            func score(_ groups: [ScoringGroup]) -> [Result<GroupScores, InstructRecError>] {
                groups.map { group in .success(GroupScores(scores: group.candidates.map { _ in group.instruction == [9, 1] ? -40 : -10 })) }
            }
        }
        let plan = InstructionPlan(template: "t", groups: [.init(text: "a", tokens: [5, 1], candidates: [0, 1])], priorInstruction: [9, 1],
                                   targets: [[3, 3, 3], [4, 4, 4]], historyItemsUsed: 0, historyItemsDropped: 0, historyItemsTrimmed: 0,
                                   historyTitlesShortened: 0)
        let (scores, _) = try Reranker.score(plan, scorer: Constant(), scoring: scoring.resolved(for: .query))
        XCTAssertEqual(scores.priorWeight, 1)
        XCTAssertEqual(scores.scores, [30, 30], "−10 − 1 · (−40)")
    }
}
