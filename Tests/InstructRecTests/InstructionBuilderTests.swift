import Foundation
import Tokenizer
import XCTest
@testable import InstructRec

/// The paper-specific core of a request: how an instruction is fitted to the
/// encoder's budget. Each step of `InstructionBuilder.plan` in order: everything
/// fits; drop the oldest history; shorten long history titles; drop the history;
/// split the candidates into groups. Template text, intention and candidate
/// titles are never cut, and a plan's tokens are always its text's tokens.
final class InstructionBuilderTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tokenizer = try? Tokenizer(tokenizerJSON: root.appendingPathComponent("Tests/TokenizerTests/Fixtures/tokenizer.json"))
    static let templates = try? TemplateSet(contentsOf: root.appendingPathComponent("config/templates.json"))

    func builder(limit: Int, titleTokens: Int = 32) throws -> InstructionBuilder {
        var options = InstructionOptions()
        options.maxInputTokens = limit
        options.maxHistoryTitleTokens = titleTokens
        return InstructionBuilder(templates: try XCTUnwrap(Self.templates), tokenizer: try XCTUnwrap(Self.tokenizer), options: options)
    }

    func items(_ prefix: String, _ count: Int) -> [Item] {
        (1...count).map { Item(id: "\(prefix)\($0)", title: "\(prefix.capitalized) Game \($0)") }
    }

    /// tokens of the recommend.history instruction with no history items
    func bareTokens(_ candidates: [Item]) throws -> Int {
        let templates = try XCTUnwrap(Self.templates)
        let text = templates.render(try XCTUnwrap(templates.templates["recommend.history"]), candidates: candidates.map(\.title))
        return try XCTUnwrap(Self.tokenizer).encode(text).count
    }

    /// Invariants every plan keeps: tokens are the text's tokens, within the budget, and the
    /// groups cover each candidate exactly once (in the canonical order: see InstructionOrderTests).
    func assertConsistent(_ plan: InstructionPlan, candidates: Int, limit: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let tokenizer = try XCTUnwrap(Self.tokenizer)
        for group in plan.groups {
            XCTAssertEqual(group.tokens, tokenizer.encode(group.text), "tokens are the text's", file: file, line: line)
            XCTAssertLessThanOrEqual(group.tokens.count, limit, file: file, line: line)
        }
        XCTAssertEqual(plan.groups.flatMap(\.candidates).sorted(), Array(0..<candidates), file: file, line: line)
    }

    func testEverythingFitsInOneInstructionWithTheWholeHistory() throws {
        let history = items("h", 4), candidates = items("c", 3)
        let plan = try builder(limit: 512).plan(context: UserContext(history: history), candidates: candidates)
        XCTAssertEqual(plan.template, "recommend.history")
        XCTAssertEqual(plan.groups.count, 1)
        XCTAssertEqual(plan.historyItemsUsed, 4)
        XCTAssertEqual(plan.historyItemsDropped, 0)
        let templates = try XCTUnwrap(Self.templates)
        XCTAssertEqual(plan.groups[0].text, templates.render(try XCTUnwrap(templates.templates["recommend.history"]),
                                                             history: history.map(\.title), candidates: candidates.map(\.title)))
        try assertConsistent(plan, candidates: 3, limit: 512)
    }

    func testDropsTheOldestHistoryFirstAndKeepsAsMuchAsFits() throws {
        let history = items("h", 20), candidates = items("c", 3)
        let everything = try builder(limit: 512).plan(context: UserContext(history: history), candidates: candidates)
        let limit = everything.groups[0].tokens.count - 20  // a few history titles too many
        let plan = try builder(limit: limit).plan(context: UserContext(history: history), candidates: candidates)
        XCTAssertEqual(plan.groups.count, 1)
        XCTAssertLessThan(plan.historyItemsUsed, 20)
        XCTAssertGreaterThan(plan.historyItemsUsed, 0)
        XCTAssertEqual(plan.historyItemsDropped, 20 - plan.historyItemsUsed)
        let text = plan.groups[0].text
        XCTAssertTrue(text.contains("\"H Game 20\""), "the newest stays")
        XCTAssertFalse(text.contains("\"H Game 1\","), "the oldest goes first")
        // and it is the largest history that fits: one more item would not
        let oneMore = try builder(limit: 512).plan(context: UserContext(history: Array(history.suffix(plan.historyItemsUsed + 1))),
                                                   candidates: candidates)
        XCTAssertGreaterThan(oneMore.groups[0].tokens.count, limit)
        try assertConsistent(plan, candidates: 3, limit: limit)
    }

    func testShortensAnOverLongHistoryTitleWhenEvenOneItemDoesNotFit() throws {
        let long = Item(id: "long", title: String(repeating: "Extraordinarily Verbose Collector Edition ", count: 12))
        let candidates = items("c", 2)
        let limit = try bareTokens(candidates) + 20  // room for a short title, not for the long one
        let plan = try builder(limit: limit, titleTokens: 8).plan(context: UserContext(history: [long]), candidates: candidates)
        XCTAssertEqual(plan.historyItemsUsed, 1)
        XCTAssertEqual(plan.historyTitlesShortened, 1)
        XCTAssertTrue(plan.groups[0].text.contains("\"Extraordinarily Verbo"), "the first 8 tokens stay: \(plan.groups[0].text)")
        XCTAssertFalse(plan.groups[0].text.contains(long.title), "cut, not kept whole")
        try assertConsistent(plan, candidates: 2, limit: limit)
    }

    func testDropsTheHistoryAltogetherBeforeSplittingCandidates() throws {
        let candidates = items("c", 3)
        let limit = try bareTokens(candidates) + 2  // not even a shortened title fits
        let plan = try builder(limit: limit, titleTokens: 4).plan(context: UserContext(history: items("h", 5)), candidates: candidates)
        XCTAssertEqual(plan.groups.count, 1)
        XCTAssertEqual(plan.historyItemsUsed, 0)
        XCTAssertEqual(plan.historyItemsDropped, 5)
        try assertConsistent(plan, candidates: 3, limit: limit)
    }

    func testSplitsCandidatesIntoGroupsThatShareOneContext() throws {
        let history = items("h", 3), candidates = items("c", 40)
        let plan = try builder(limit: 96).plan(context: UserContext(history: history), candidates: candidates)
        XCTAssertGreaterThan(plan.groups.count, 1)
        try assertConsistent(plan, candidates: 40, limit: 96)
        // every group carries the same user context
        let contexts = Set(plan.groups.map { $0.text.components(separatedBy: "Which item").first ?? "" })
        XCTAssertEqual(contexts.count, 1, "\(contexts)")
        XCTAssertEqual(plan.targets.count, 40)
    }

    func testACandidateThatCannotFitAloneIsAClearErrorNamingTheField() throws {
        let huge = Item(id: "x", title: String(repeating: "Title ", count: 200))
        XCTAssertThrowsError(try builder(limit: 64).plan(context: UserContext(history: items("h", 2)), candidates: [huge])) { error in
            guard case let InstructRecError.instructionTooLong(field, tokens, limit) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(field, "candidates")
            XCTAssertGreaterThan(tokens, limit)
        }
    }

    func testANamedTemplateThatNeedsHistoryRefusesAnEmptyOne() throws {
        XCTAssertThrowsError(try builder(limit: 512).plan(context: UserContext(history: []), candidates: items("c", 2),
                                                          template: "recommend.history")) { error in
            guard case let InstructRecError.missingContext(template, field) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(template, "recommend.history")
            XCTAssertEqual(field, "history")
        }
    }

    func testCandidateTargetsAreCutToMaxTargetTokensWithoutEOS() throws {
        var options = InstructionOptions()
        options.maxTargetTokens = 3
        let builder = InstructionBuilder(templates: try XCTUnwrap(Self.templates), tokenizer: try XCTUnwrap(Self.tokenizer), options: options)
        let plan = try builder.plan(context: UserContext(history: items("h", 1)),
                                    candidates: [Item(id: "a", title: "The Legend of Zelda: Breath of the Wild")])
        XCTAssertEqual(plan.targets[0], Array(try XCTUnwrap(Self.tokenizer).encode("The Legend of Zelda: Breath of the Wild", addEOS: false).prefix(3)))
    }
}
