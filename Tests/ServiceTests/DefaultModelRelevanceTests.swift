import Foundation
import InstructRec
import Service
import T5Scoring
import Tokenizer
import XCTest

/// The shipped model's relevance_score is a probability of its own, not a share of the request:
/// a lone irrelevant document is not certain, and with one α the same candidate scores the same in any company.
final class DefaultModelRelevanceTests: XCTestCase {
    func testALoneIrrelevantDocumentIsNotCertainAndRelevanceIgnoresTheOtherCandidates() throws {
        let directory = ServiceProcess.root.appendingPathComponent("models/default").path
        let configuration = try ServiceConfiguration.load(file: nil, environment: [:], overrides: ["model": directory])
        XCTAssertEqual(configuration.relevance.mode, .logistic)
        XCTAssertNotEqual(configuration.relevanceScale, 1, "the shipped model carries a fitted scale")
        let pipeline = try RankPipeline(configuration: configuration, tokenizer: try Tokenizer.load(path: directory))
        let scorer = try ScoringEngine(modelDirectory: directory).makeScorer(threads: 2)
        let cable = Item(id: "cable", title: "HDMI Cable 6ft")
        let alone = try pipeline.run(RankQuery(context: UserContext(intention: "pokemon"), candidates: [cable]), scorer: scorer)
        XCTAssertLessThan(alone.ranked[0].relevance, 0.5)
        // With one α (a request's prior_weight) a candidate's relevance is its own: the company does not move it.
        // (With the model's two weights the company moves it only through the request's α, a familiarity median.)
        func relevance(of candidates: [Item]) throws -> Float {
            let query = RankQuery(context: UserContext(intention: "pokemon"), candidates: candidates, priorWeight: 0.5)
            return try pipeline.run(query, scorer: scorer).ranked.first { $0.id == "cable" }?.relevance ?? -1
        }
        XCTAssertEqual(try relevance(of: [Item(id: "p", title: "Pokemon Sword - Nintendo Switch"), cable]), try relevance(of: [cable]),
                       accuracy: 1e-6)
        var softmax = RankQuery(context: UserContext(intention: "pokemon"), candidates: [cable])
        softmax.relevance = .softmax
        XCTAssertEqual(try pipeline.run(softmax, scorer: scorer).ranked[0].relevance, 1, "the softmax, by name, is a share")
    }
}
