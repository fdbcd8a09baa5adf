@testable import Configuration
import Foundation
import InstructRec
import Randomness
import Service
import T5Scoring
import Tokenizer
import XCTest

/// The shipped model's relevance_score belongs to the (context, document) pair: the same document gets the
/// same value alone, among twenty others and in any order, with the model's own weights (no request α),
/// in a history context and in a query context; and alone, a relevant document gets more than an irrelevant one.
final class DefaultModelRelevanceTests: XCTestCase {
    func testRelevanceIgnoresTheOtherDocumentsTheirNumberAndTheirOrder() throws {
        let directory = ServiceProcess.root.appendingPathComponent("models/default").path
        let configuration = try ServiceConfiguration.load(file: nil, environment: [:], overrides: ["model": directory])
        XCTAssertEqual(configuration.relevance.mode, .logistic)
        XCTAssertNotNil(configuration.queryRelevanceScale, "the shipped model carries a fitted query mapping")
        let pipeline = try configuration.makePipeline(tokenizer: try Tokenizer.load(path: directory))
        let scorer = try ScoringEngine(modelDirectory: directory).makeScorer(threads: 2)
        let cable = Item(id: "cable", title: "HDMI Cable 6ft")
        let company = [
            "Pokemon Sword - Nintendo Switch", "Super Mario Odyssey - Nintendo Switch", "Halo 5: Guardians - Xbox One",
            "Xbox Wireless Controller - White", "FIFA 19 - PlayStation 4", "Minecraft - Nintendo Switch", "Pokemon Moon - Nintendo 3DS",
            "Logitech G502 Gaming Mouse", "Mario Kart 8 Deluxe", "The Sims 4 - PC", "Splatoon 2", "Tetris Effect", "Persona 5",
            "Nintendo Switch Pro Controller", "God of War - PlayStation 4", "Just Dance 2019", "Kirby Star Allies",
            "PlayStation 4 Pro 1TB Console", "Xbox Gift Card $25", "Forza Horizon 4 - Xbox One",
        ].enumerated().map { Item(id: "c\($0.offset)", title: $0.element) }
        XCTAssertEqual(company.count, 20)
        var generator = SplitMix64(seed: 11)
        for context in [UserContext(intention: "pokemon"),
                        UserContext(history: [Item(id: "h1", title: "Pokemon X - Nintendo 3DS"), Item(id: "h2", title: "Pokemon Y")])] {
            func relevance(_ candidates: [Item]) throws -> Float {
                let outcome = try pipeline.run(RankQuery(context: context, candidates: candidates), scorer: scorer)
                return try XCTUnwrap(outcome.ranked.first { $0.id == "cable" }?.relevance)
            }
            let alone = try relevance([cable])
            let sword = Item(id: "cable", title: "Pokemon Sword - Nintendo Switch")   // the id the helper reads
            XCTAssertLessThan(alone, try relevance([sword]), "\(context.kind): alone, the cable is less relevant than a Pokemon game")
            var orders = [[cable] + company, company + [cable]]
            for _ in 0..<2 { orders.append(orders[0].shuffled(using: &generator)) }
            for order in orders {
                XCTAssertEqual(try relevance(order), alone, accuracy: 1e-6, "\(context.kind): among 20 others, in 4 orders")
            }
        }
        // A query context scores the model's reference titles beside the candidates; they never show as candidates.
        let searched = try pipeline.run(RankQuery(context: UserContext(intention: "pokemon"), candidates: [cable] + company), scorer: scorer)
        XCTAssertEqual(searched.ranked.count, 21)
        XCTAssertEqual(searched.plan.targets.count, 21, "the references are gone from the outcome's plan")
        XCTAssertNotEqual(searched.relevanceOffset, 0)
        let mapping = configuration.relevance.resolved(for: .query)
        for ranked in searched.ranked {
            XCTAssertEqual(Double(ranked.relevance), Relevance.sigmoid(mapping.scale * Double(ranked.score - searched.relevanceOffset) + mapping.bias),
                           accuracy: 1e-6)
        }
        // The same query again: its offset comes from the cache, the references are not scored again, nothing moves.
        let again = RankQuery(context: UserContext(intention: "pokemon"), candidates: [cable] + company)
        XCTAssertEqual(try pipeline.plan(again).referenceTargets, 0)
        XCTAssertEqual(try pipeline.plan(again).referenceOffset, searched.relevanceOffset)
        let repeated = try pipeline.run(again, scorer: scorer)
        XCTAssertEqual(repeated.ranked.map(\.relevance), searched.ranked.map(\.relevance))
        let recommended = try pipeline.run(RankQuery(context: UserContext(history: [cable]), candidates: company), scorer: scorer)
        XCTAssertEqual(recommended.relevanceOffset, 0, "a history context takes no references")
        var softmax = RankQuery(context: UserContext(intention: "pokemon"), candidates: [cable])
        softmax.relevance = .softmax
        XCTAssertEqual(try pipeline.run(softmax, scorer: scorer).ranked[0].relevance, 1, "the softmax, by name, is a share")
    }
}
