@testable import Configuration
import Foundation
import InstructRec
import Randomness
import Service
import T5Scoring
import Tokenizer
import XCTest

/// The same candidates in any order get the same scores and the same ranking, with the
/// shipped default model and its own settings (calibrated, candidate-free), and with
/// list instructions (canonical order, split into groups above what one instruction holds).
final class OrderIndependenceTests: XCTestCase {
    static let modelDirectory = ServiceProcess.root.appendingPathComponent("models/default").path

    /// `count` store-style titles: franchises × numbers × platforms, of mixed lengths.
    static func titles(_ count: Int) -> [String] {
        let franchises = ["Halo", "Mario Kart", "The Legend of Zelda", "FIFA", "Madden NFL", "Call of Duty: Black Ops", "Pokemon",
                          "Dark Souls", "Forza Horizon", "Tetris", "Final Fantasy", "Assassin's Creed", "Street Fighter", "Gran Turismo"]
        let platforms = ["", " - PlayStation 4", " - Nintendo Switch", " - Xbox One", " (PC)", " Deluxe Edition - PS4"]
        return (0..<count).map { i in "\(franchises[i % franchises.count]) \(i / franchises.count + 2)\(platforms[(i / 3) % platforms.count])" }
    }

    func pipeline(_ overrides: [String: String]) throws -> RankPipeline {
        let configuration = try ServiceConfiguration.load(file: nil, environment: [:],
                                                          overrides: ["model": Self.modelDirectory].merging(overrides) { $1 })
        return try configuration.makePipeline(tokenizer: try Tokenizer.load(path: Self.modelDirectory))
    }

    func testFourOrdersGiveTheSameScoresAndTopTen() throws {
        let scorer = try ScoringEngine(modelDirectory: Self.modelDirectory).makeScorer(threads: 2)
        let history = ["Halo 3 - Xbox 360", "Gears of War 2", "Forza Motorsport 3"].map { Item(id: $0, title: $0) }
        for (name, overrides) in [("model defaults", [String: String]()), ("list, canonical order", ["instruction_form": "list"])] {
            let pipeline = try pipeline(overrides)
            for count in [20, 100] {
                let candidates = Self.titles(count).enumerated().map { Item(id: "c\($0)", title: $1) }
                var generator = SplitMix64(seed: UInt64(count))
                var reference: [String: Float]?
                var referenceTop: [String]?
                for round in 0..<4 {
                    let order = round == 0 ? candidates : candidates.shuffled(using: &generator)
                    let outcome = try pipeline.run(RankQuery(context: UserContext(history: history), candidates: order), scorer: scorer)
                    let scores = Dictionary(uniqueKeysWithValues: zip(order.map(\.id), outcome.scores))
                    let top = outcome.ranked.prefix(10).map(\.id)
                    if let reference, let referenceTop {
                        XCTAssertEqual(top, referenceTop, "\(name), \(count) candidates, order \(round)")
                        for (id, score) in scores {
                            let expected = try XCTUnwrap(reference[id])
                            XCTAssertEqual(score, expected, accuracy: 1e-5 * max(1, abs(expected)), "\(name), \(count), \(id)")
                        }
                    } else {
                        reference = scores
                        referenceTop = top
                        if name == "list, canonical order" && count == 100 { XCTAssertGreaterThan(outcome.plan.groups.count, 1) }
                    }
                }
            }
        }
    }
}
