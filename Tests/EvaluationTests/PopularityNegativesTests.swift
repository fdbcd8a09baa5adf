import Foundation
import XCTest
@testable import Evaluation
import InstructRec

/// Popularity-drawn negatives: never an item the user touched, drawn in proportion to
/// training interaction counts, seeded per user; uniform draws are unchanged.
final class PopularityNegativesTests: XCTestCase {
    /// 400 users over 60 items: item 1 is in every training part, item 2 in one user's only;
    /// items 40...59 never occur in training. Each user's own items come from 3...39 besides.
    static func dataset() throws -> InteractionDataset {
        var sequences = (0..<400).map { u in [1, 3 + u % 37, 3 + (u + 11) % 37, 3 + (u + 23) % 37, 40 + u % 20] }
        sequences[0] = [2, 1, 5, 6, 7]
        return try TransitionBaselineTests.dataset(items: 60, sequences: sequences)
    }

    func testPopularityNegativesNeverIncludeTouchedItems() throws {
        let dataset = try Self.dataset()
        var options = Evaluator.Options()
        options.users = 400
        options.negatives = 20
        options.negativesFrom = .popularity
        let cases = Evaluator(dataset: dataset, options: options).cases()
        XCTAssertEqual(cases.count, 400)
        for c in cases {
            let items = dataset.sequences[c.userIndex].items
            let negatives = c.candidates.filter { $0 != c.target }
            XCTAssertEqual(c.candidates.count, 21)
            XCTAssertEqual(Set(c.candidates).count, 21, "distinct")
            XCTAssertTrue(Set(negatives).isDisjoint(with: items), "user \(c.userIndex): \(negatives) vs \(items)")
            XCTAssertTrue(negatives.allSatisfy { $0 < 40 }, "items never seen in training are never drawn")
        }
    }

    func testPopularityNegativesFollowPopularity() throws {
        // item 30 occurs in about 3 of every 37 training parts, item 2 in one: draw 1 negative per user,
        // over users who touched neither
        var sequences = (0..<600).map { u in [3 + u % 27, 30, 31 + u % 5, 36 + u % 3, 45 + u % 10] }
        for u in 0..<300 { sequences[u] = [3 + u % 27, 4 + u % 25, 31 + u % 5, 41, 42] }  // 300 users without item 30
        sequences[599] = [2, 40, 39, 41, 42]
        let dataset = try TransitionBaselineTests.dataset(items: 60, sequences: sequences)
        var options = Evaluator.Options()
        options.users = 600
        options.negatives = 1
        options.negativesFrom = .popularity
        let evaluator = Evaluator(dataset: dataset, options: options)
        let negatives = evaluator.cases().filter { $0.userIndex < 300 }.flatMap { c in c.candidates.filter { $0 != c.target } }
        let popular = negatives.filter { $0 == 30 }.count, rare = negatives.filter { $0 == 2 }.count
        // item 30: 300 of about 1,500 training interactions -> about 20% of draws; item 2: 1 -> about 0.07%
        XCTAssertGreaterThan(popular, 30, "\(popular) draws of the popular item")
        XCTAssertLessThan(rare, 5, "\(rare) draws of the rare item")
        XCTAssertGreaterThan(popular, 10 * max(rare, 1))

        // uniform draws do not favour it: about 1 in 50 eligible items
        options.negativesFrom = .uniform
        let uniform = Evaluator(dataset: dataset, options: options).cases().filter { $0.userIndex < 300 }
            .flatMap { c in c.candidates.filter { $0 != c.target } }
        XCTAssertLessThan(uniform.filter { $0 == 30 }.count, popular / 2)
    }

    func testPopularityNegativesAreSeededPerUser() throws {
        let dataset = try Self.dataset()
        var options = Evaluator.Options()
        options.users = 50
        options.negatives = 10
        options.negativesFrom = .popularity
        let first = Evaluator(dataset: dataset, options: options).cases()
        let second = Evaluator(dataset: dataset, options: options).cases()
        XCTAssertEqual(first.map(\.candidates), second.map(\.candidates))
        options.seed = 7
        let other = Evaluator(dataset: dataset, options: options).cases()
        XCTAssertNotEqual(first.map(\.candidates), other.map(\.candidates))
    }

    func testFewerEligibleItemsThanNegativesTakesThemAll() throws {
        // 6 items; only 0...3 occur in training; the user touched 0, 1 and 4, 5
        let dataset = try TransitionBaselineTests.dataset(items: 6, sequences: [[0, 1, 4, 5], [2, 3, 0, 1]])
        var options = Evaluator.Options()
        options.negatives = 99
        options.negativesFrom = .popularity
        let cases = Evaluator(dataset: dataset, options: options).cases()
        XCTAssertEqual(Set(cases[0].candidates), [2, 3, 5])
        options.negativesFrom = .uniform
        XCTAssertEqual(Set(Evaluator(dataset: dataset, options: options).cases()[0].candidates), [2, 3, 5])
    }
}
