import Foundation
@testable import Tokenizer
import XCTest
@testable import InstructRec

/// Planning's fast path (the tokenizer's word cache, titles formatted once per plan)
/// changes no plan: for large requests every group's text, token ids and candidates,
/// the targets and the usage numbers equal those of the plain path (no word cache),
/// and every group's text is what `TemplateSet.render` makes of the titles it holds.
final class InstructionBuilderFastPathTests: XCTestCase {
    static let root = InstructionBuilderTests.root

    struct Setup {
        let name: String
        let tokenizer: String
        let templates: String
        let historyCap: Int
    }

    static let setups = [
        Setup(name: "Flan-T5, service defaults", tokenizer: "Tests/TokenizerTests/Fixtures/tokenizer.json",
              templates: "config/templates.json", historyCap: 200),
        Setup(name: "default model", tokenizer: "models/default/tokenizer.json",
              templates: "models/default/templates.json", historyCap: 10),
    ]

    static let franchises = ["Super Mario", "Zelda", "Metroid Prime", "Halo", "Gears of War", "Forza Horizon", "Final Fantasy",
                             "Kingdom Hearts", "Resident Evil", "Dark Souls", "Pokémon", "ゼルダの伝説", "Tom Clancy's The Division",
                             "FIFA  Soccer", "Call of Duty®: Black Ops", "Mario & Sonic at the Olympic Games"]
    static let editions = ["Deluxe Edition", "for Nintendo Switch", "- PlayStation 4", "Game of the Year", "Xbox One",
                           "Remastered (Collector's Edition) with Steelbook, Art Book and Soundtrack CD, Limited Run"]

    static func items(_ prefix: String, _ count: Int, long: Bool = false) -> [Item] {
        (0..<count).map { i in
            let base = "\(franchises[(i * 7) % franchises.count]) \(i / 16 + 1) \(editions[(i * 5) % editions.count])"
            let title = long && i % 3 == 0 ? base + " " + String(repeating: "Extraordinarily Verbose Bonus Content ", count: 6) : base
            return Item(id: "\(prefix)\(i)", title: title)
        }
    }

    /// 100+ candidates, long titles, 200 history items, preferences and search intentions.
    static let requests: [(context: UserContext, candidates: [Item], template: String?)] = [
        (UserContext(history: items("h", 200)), items("c", 100), nil),
        (UserContext(history: items("h", 200, long: true)), items("c", 120, long: true), nil),
        (UserContext(history: items("h", 10)), items("c", 100), nil),
        (UserContext(history: items("h", 200), preference: "I like long open-world games with co-op, not horror"), items("c", 100), nil),
        (UserContext(history: items("h", 50), intention: "a racing game for two players", intentKind: .vague), items("c", 110), nil),
        (UserContext(history: items("h", 200), preference: "cozy games", intention: "something like Animal Crossing"),
         items("c", 100, long: true), nil),
        (UserContext(preference: "strategy and puzzles"), items("c", 100), nil),
        (UserContext(history: items("h", 3)), items("c", 20), nil),
    ]

    func builder(_ setup: Setup, wordCache: Bool) throws -> InstructionBuilder {
        let loaded = try Tokenizer(tokenizerJSON: Self.root.appendingPathComponent(setup.tokenizer))
        XCTAssertTrue(loaded.usesWordCache, "\(setup.name): the fast path is what is under test")
        var options = InstructionOptions()
        options.maxHistoryItems = setup.historyCap
        return InstructionBuilder(templates: try TemplateSet(contentsOf: Self.root.appendingPathComponent(setup.templates)),
                                  tokenizer: wordCache ? loaded : loaded.withWordCache(capacity: 0), options: options)
    }

    func testPlansWithTheWordCacheEqualPlansWithoutIt() throws {
        for setup in Self.setups {
            let fast = try builder(setup, wordCache: true), plain = try builder(setup, wordCache: false)
            var grouped = 0
            for (n, request) in Self.requests.enumerated() {
                // twice with the cache: once filling it, once reading it
                for pass in 0..<2 {
                    let expected = try plain.plan(context: request.context, candidates: request.candidates, template: request.template)
                    let actual = try fast.plan(context: request.context, candidates: request.candidates, template: request.template)
                    let label = "\(setup.name), request \(n), pass \(pass)"
                    XCTAssertEqual(actual.template, expected.template, label)
                    XCTAssertEqual(actual.groups.map(\.text), expected.groups.map(\.text), label)
                    XCTAssertEqual(actual.groups.map(\.tokens), expected.groups.map(\.tokens), label)
                    XCTAssertEqual(actual.groups.map(\.candidates), expected.groups.map(\.candidates), label)
                    XCTAssertEqual(actual.targets, expected.targets, label)
                    XCTAssertEqual(actual.historyItemsUsed, expected.historyItemsUsed, label)
                    XCTAssertEqual(actual.historyItemsDropped, expected.historyItemsDropped, label)
                    XCTAssertEqual(actual.historyItemsTrimmed, expected.historyItemsTrimmed, label)
                    XCTAssertEqual(actual.historyTitlesShortened, expected.historyTitlesShortened, label)
                    if pass == 0 && actual.groups.count > 1 { grouped += 1 }
                }
            }
            XCTAssertGreaterThanOrEqual(grouped, 4, "\(setup.name): most requests must need several groups to test the fitting")
        }
    }

    func testEveryGroupIsTheTemplateRenderedWithItsTitles() throws {
        for setup in Self.setups {
            let builder = try builder(setup, wordCache: true)
            for (n, request) in Self.requests.enumerated() {
                let plan = try builder.plan(context: request.context, candidates: request.candidates, template: request.template)
                guard plan.historyTitlesShortened == 0 else { continue }
                let template = try builder.templates.template(named: plan.template, for: request.context)
                let history = template.placeholders.contains(.history)
                    ? request.context.history.suffix(plan.historyItemsUsed).map(\.title) : []
                for group in plan.groups {
                    let text = builder.templates.render(template, history: history, preference: request.context.preference,
                                                        intention: request.context.intention,
                                                        candidates: group.candidates.map { request.candidates[$0].title })
                    XCTAssertEqual(group.text, text, "\(setup.name), request \(n)")
                    XCTAssertEqual(group.tokens, builder.tokenizer.withWordCache(capacity: 0).encode(text), "\(setup.name), request \(n)")
                }
            }
        }
    }
}
