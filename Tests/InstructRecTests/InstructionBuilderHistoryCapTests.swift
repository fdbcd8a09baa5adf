import Foundation
import Tokenizer
import XCTest
@testable import InstructRec

/// `InstructionOptions.maxHistoryItems`: the model's history length. Only the
/// newest items are kept, before the token budget is considered.
final class InstructionBuilderHistoryCapTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func builder(maxHistoryItems: Int, maxInputTokens: Int = 512) throws -> InstructionBuilder {
        let tokenizer = try Tokenizer(tokenizerJSON: Self.root.appendingPathComponent("Tests/TokenizerTests/Fixtures/tokenizer.json"))
        let templates = try TemplateSet(contentsOf: Self.root.appendingPathComponent("config/templates.json"))
        var options = InstructionOptions()
        options.maxHistoryItems = maxHistoryItems
        options.maxInputTokens = maxInputTokens
        return InstructionBuilder(templates: templates, tokenizer: tokenizer, options: options)
    }

    let history = (1...12).map { Item(id: "h\($0)", title: "Game \($0)") }
    let candidates = [Item(id: "a", title: "Mario Kart"), Item(id: "b", title: "HDMI Cable")]

    func testKeepsTheNewestItemsAndReportsTheTrimmed() throws {
        let plan = try builder(maxHistoryItems: 3).plan(context: UserContext(history: history), candidates: candidates)
        XCTAssertEqual(plan.historyItemsUsed, 3)
        XCTAssertEqual(plan.historyItemsTrimmed, 9)
        XCTAssertEqual(plan.historyItemsDropped, 9)
        let text = plan.groups[0].text
        XCTAssertTrue(text.contains("\"Game 10\", \"Game 11\", \"Game 12\""), text)
        XCTAssertFalse(text.contains("\"Game 9\""), text)
    }

    func testNoCapKeepsEverythingThatFits() throws {
        let plan = try builder(maxHistoryItems: .max).plan(context: UserContext(history: history), candidates: candidates)
        XCTAssertEqual(plan.historyItemsUsed, 12)
        XCTAssertEqual(plan.historyItemsTrimmed, 0)
    }

    func testTrimmingComesBeforeFittingAndBothAreCounted() throws {
        // 48 tokens fit the template, two candidates and only a couple of history titles
        let plan = try builder(maxHistoryItems: 6, maxInputTokens: 48).plan(context: UserContext(history: history), candidates: candidates)
        XCTAssertEqual(plan.historyItemsTrimmed, 6)
        XCTAssertLessThan(plan.historyItemsUsed, 6)
        XCTAssertEqual(plan.historyItemsDropped, 12 - plan.historyItemsUsed)
        XCTAssertLessThanOrEqual(plan.groups[0].tokens.count, 48)
    }

    func testZeroKeepsNoHistoryButThePreferenceStillCounts() throws {
        let context = UserContext(history: history, preference: "racing games")
        let plan = try builder(maxHistoryItems: 0).plan(context: context, candidates: candidates)
        XCTAssertEqual(plan.historyItemsUsed, 0)
        XCTAssertEqual(plan.historyItemsTrimmed, 12)
    }
}
