import XCTest
@testable import InstructRec

/// Calibrated scoring in the reranker: which extra group it asks the scorer for, what it
/// caches, and how the answers combine; and how a large group is split into chunks.
final class CalibratedRerankerTests: XCTestCase {
    /// Answers each candidate with minus its first token, or minus ten times it under the prior instruction [9, 1].
    final class ScriptedScorer: CandidateScorer, @unchecked Sendable {
        var calls: [[ScoringGroup]] = []
        func score(_ groups: [ScoringGroup]) -> [Result<GroupScores, InstructRecError>] {
            calls.append(groups)
            return groups.map { group in
                let factor: Float = group.instruction == [9, 1] ? 10 : 1
                return .success(GroupScores(scores: group.candidates.map { -factor * Float($0.first ?? 0) }))
            }
        }
    }

    /// Candidates 0 and 2 share a title; one instruction.
    let plan = InstructionPlan(template: "generate.history", groups: [.init(text: "a", tokens: [5, 6, 1], candidates: [1, 0, 2])],
                               priorInstruction: [9, 1], targets: [[2, 7], [3], [2, 7]],
                               historyItemsUsed: 1, historyItemsDropped: 0, historyItemsTrimmed: 0, historyTitlesShortened: 0)

    func testTheScoreIsTheLikelihoodMinusAlphaTimesThePrior() throws {
        let scorer = ScriptedScorer()
        let (scores, usage) = try Reranker.score(plan, scorer: scorer, scoring: Scoring(mode: .calibrated, priorWeight: 0.5))
        XCTAssertEqual(scores.likelihoods, [-2, -3, -2])
        XCTAssertEqual(scores.priors, [-20, -30, -20])
        XCTAssertEqual(scores.scores, [-2 + 10, -3 + 15, -2 + 10])
        XCTAssertEqual(scorer.calls.count, 1, "the priors are computed in the same call")
        XCTAssertEqual(scorer.calls[0].last, ScoringGroup(instruction: [9, 1], candidates: [[3], [2, 7]]),
                       "one prior group: each distinct title once, in the plan's order")
        XCTAssertEqual(usage.priorsComputed, 2)
        XCTAssertEqual(usage.instructionTokens, 3 + 2)
    }

    func testCachedPriorsAreNotComputedAgain() throws {
        let cache = TitlePriorCache()
        let scorer = ScriptedScorer()
        let scoring = Scoring(mode: .calibrated, priorWeight: 1)
        let first = try Reranker.score(plan, scorer: scorer, scoring: scoring, priors: cache).0
        let second = try Reranker.score(plan, scorer: scorer, scoring: scoring, priors: cache)
        XCTAssertEqual(scorer.calls[1].count, 1, "no prior group once every title is cached")
        XCTAssertEqual(second.0, first)
        XCTAssertEqual(second.1.priorsCached, 2)
        XCTAssertEqual(second.1.priorsComputed, 0)
    }

    func testRawModesAndAlphaZeroAskForNoPrior() throws {
        for scoring in [Scoring(mode: .sum), Scoring(mode: .mean, priorWeight: 1), Scoring(mode: .calibrated, priorWeight: 0)] {
            let scorer = ScriptedScorer()
            let (scores, _) = try Reranker.score(plan, scorer: scorer, scoring: scoring)
            XCTAssertEqual(scorer.calls[0].count, 1, "\(scoring)")
            XCTAssertNil(scores.priors)
            XCTAssertEqual(scores.scores, [-2, -3, -2])
        }
    }

    func testAGroupLargerThanThePassBudgetIsScoredInChunksUnderTheSameInstruction() throws {
        let targets = (0..<10).map { [Int32($0 + 1), 4, 4] }   // 4 tokens each with </s>
        let big = InstructionPlan(template: "t", groups: [.init(text: "a", tokens: [5, 6, 1], candidates: Array((0..<10).reversed()))],
                                  targets: targets, historyItemsUsed: 0, historyItemsDropped: 0, historyItemsTrimmed: 0,
                                  historyTitlesShortened: 0)
        let scorer = ScriptedScorer()
        let (scores, _) = try Reranker.score(big, scorer: scorer, maxGroupTokens: 3 + 4 * 3)
        XCTAssertEqual(scorer.calls[0].map(\.candidates.count), [3, 3, 3, 1])
        XCTAssertTrue(scorer.calls[0].allSatisfy { $0.instruction == [5, 6, 1] })
        XCTAssertEqual(scores.scores, (0..<10).map { -Float($0 + 1) }, "answers return to input order")
    }
}
