import XCTest
@testable import InstructRec

/// The reranker against a scripted `CandidateScorer`: what it asks the scorer
/// for, and how the answers become one score per candidate.
final class RerankerTests: XCTestCase {
    /// Answers every group with the candidates' first token ids as scores, and records the calls.
    final class RecordingScorer: CandidateScorer, @unchecked Sendable {
        var calls: [[ScoringGroup]] = []
        var answer: (([ScoringGroup]) -> [Result<GroupScores, InstructRecError>])?

        func score(_ groups: [ScoringGroup]) -> [Result<GroupScores, InstructRecError>] {
            calls.append(groups)
            if let answer { return answer(groups) }
            return groups.map { group in
                .success(GroupScores(scores: group.candidates.map { Float($0.first ?? 0) }, encodeSeconds: 0.5, decodeSeconds: 0.25))
            }
        }
    }

    /// Candidates 0 and 2 in one group, candidate 1 in another (a split plan).
    let plan = InstructionPlan(
        template: "t",
        groups: [.init(text: "a", tokens: [5, 6, 1], candidates: [0, 2]), .init(text: "b", tokens: [7, 1], candidates: [1])],
        targets: [[10, 11], [20], [30, 31, 32]],
        historyItemsUsed: 0, historyItemsDropped: 0, historyItemsTrimmed: 0, historyTitlesShortened: 0)

    func testAllGroupsOfAPlanGoToTheScorerInOneCall() throws {
        let scorer = RecordingScorer()
        _ = try Reranker.score(plan, scorer: scorer, scoring: Scoring(mode: .mean))
        XCTAssertEqual(scorer.calls.count, 1)
        XCTAssertEqual(scorer.calls[0], [
            ScoringGroup(instruction: [5, 6, 1], candidates: [[10, 11], [30, 31, 32]]),
            ScoringGroup(instruction: [7, 1], candidates: [[20]]),
        ])
    }

    /// The scorer answers per token; the scoring's reduction is applied here, not in the engine.
    func testTheScoringsReductionTurnsTokenLogProbabilitiesIntoLikelihoods() throws {
        let scorer = RecordingScorer()
        scorer.answer = { groups in
            groups.map { group in .success(GroupScores(tokenLogProbabilities: group.candidates.map { $0.map { -Float($0) } + [-1] })) }
        }
        let sums = try Reranker.score(plan, scorer: scorer, scoring: Scoring(mode: .sum)).0.scores
        XCTAssertEqual(sums, [-22, -21, -94])
        let means = try Reranker.score(plan, scorer: scorer, scoring: Scoring(mode: .mean)).0.scores
        XCTAssertEqual(means, [-22.0 / 3, -21.0 / 2, -94.0 / 4])
    }

    func testScoresReturnToTheCandidatesInputOrderWithUsageSummedOverGroups() throws {
        let (scored, usage) = try Reranker.score(plan, scorer: RecordingScorer())
        let scores = scored.scores
        XCTAssertEqual(scores, [10, 20, 30])
        XCTAssertEqual(usage.instructionTokens, 5)
        XCTAssertEqual(usage.candidateTokens, 3 + 2 + 4, "title tokens plus </s> per candidate")
        XCTAssertEqual(usage.encodeSeconds, 1.0)
        XCTAssertEqual(usage.decodeSeconds, 0.5)
    }

    func testAScorerAnsweringTheWrongShapeIsAScoringFailureNotACrash() {
        let scorer = RecordingScorer()
        scorer.answer = { groups in groups.map { _ in .success(GroupScores(scores: [1])) } }   // the first group has two candidates
        XCTAssertThrowsError(try Reranker.score(plan, scorer: scorer)) { error in
            guard case InstructRecError.scoringFailed = error else { return XCTFail("\(error)") }
        }
        scorer.answer = { _ in [] }
        XCTAssertThrowsError(try Reranker.score(plan, scorer: scorer)) { error in
            guard case InstructRecError.scoringFailed = error else { return XCTFail("\(error)") }
        }
    }

    func testOneFailedGroupFailsThePlanWithThatGroupsError() {
        let scorer = RecordingScorer()
        scorer.answer = { groups in
            [.success(GroupScores(scores: [1, 2])), .failure(.scoringInput("candidate 0 token 0 is id 99999, outside [0, 100)"))]
        }
        XCTAssertThrowsError(try Reranker.score(plan, scorer: scorer)) { error in
            guard case let InstructRecError.scoringInput(message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("99999"), message)
        }
    }
}
