import Foundation
import Tokenizer
import XCTest
@testable import InstructRec

/// Instructions depend on the candidate set, not on the order a retriever sent it in; and
/// the candidate-free form picks the `generate.` counterpart of the serving template.
final class InstructionOrderTests: XCTestCase {
    static let root = InstructionBuilderTests.root

    func builder(form: InstructionForm, limit: Int = 512) throws -> InstructionBuilder {
        var options = InstructionOptions()
        options.maxInputTokens = limit
        options.form = form
        return InstructionBuilder(templates: try XCTUnwrap(InstructionBuilderTests.templates),
                                  tokenizer: try XCTUnwrap(InstructionBuilderTests.tokenizer), options: options)
    }

    /// 60 titles of mixed lengths, some sharing prefixes, one duplicated under two ids.
    var candidates: [Item] {
        let franchises = ["Halo", "Mario Kart", "Zelda", "FIFA", "Madden NFL", "Call of Duty", "Pokemon", "Dark Souls", "Forza", "Tetris"]
        var items = (0..<58).map { Item(id: "c\($0)", title: "\(franchises[$0 % 10]) \($0 / 10 + 1)\($0 % 3 == 0 ? " - Nintendo Switch" : "")") }
        items.append(Item(id: "dup-a", title: "Halo 3"))
        items.append(Item(id: "dup-b", title: "Halo 3"))
        return items
    }

    /// The plan's layout with indices mapped back to ids: what must not depend on the input order.
    func layout(_ plan: InstructionPlan, _ items: [Item]) -> [[String]] {
        plan.groups.map { $0.candidates.map { items[$0].id } }
    }

    func testPermutedCandidatesGetTheSameInstructionsAndLayout() throws {
        for form in InstructionForm.allCases {
            for limit in [512, 160] {   // 160: the list form splits into groups
                let builder = try builder(form: form, limit: limit)
                let context = UserContext(history: [Item(id: "h", title: "Halo 2")])
                let reference = try builder.plan(context: context, candidates: candidates)
                if form == .list && limit == 160 { XCTAssertGreaterThan(reference.groups.count, 1) }
                var generator = SystemRandomNumberGenerator()
                for _ in 0..<4 {
                    let shuffled = candidates.shuffled(using: &generator)
                    let plan = try builder.plan(context: context, candidates: shuffled)
                    XCTAssertEqual(plan.groups.map(\.text), reference.groups.map(\.text), "\(form) \(limit)")
                    XCTAssertEqual(layout(plan, shuffled), layout(reference, candidates), "\(form) \(limit)")
                    XCTAssertEqual(plan.priorInstruction, reference.priorInstruction)
                }
            }
        }
    }

    func testCanonicalOrderIsByTitleThenId() {
        let items = [Item(id: "2", title: "b"), Item(id: "1", title: "b"), Item(id: "0", title: "a"), Item(id: "9", title: "B")]
        XCTAssertEqual(InstructionBuilder.canonicalOrder(items), [3, 2, 1, 0])
    }

    func testTheCandidateFreeFormUsesTheGenerateCounterpartAndTheEmptyContextForThePrior() throws {
        let templates = try XCTUnwrap(InstructionBuilderTests.templates)
        let tokenizer = try XCTUnwrap(InstructionBuilderTests.tokenizer)
        let free = try builder(form: .candidateFree)
        let history = UserContext(history: [Item(id: "h", title: "Halo 2")])
        let plan = try free.plan(context: history, candidates: candidates)
        XCTAssertEqual(plan.template, "generate.history")
        XCTAssertEqual(plan.groups.count, 1, "one instruction for any number of candidates")
        XCTAssertFalse(plan.groups[0].text.contains("Mario Kart"), "no candidate in a candidate-free instruction")
        let generate = try XCTUnwrap(templates.templates["generate.history"])
        XCTAssertEqual(plan.priorInstruction, tokenizer.encode(templates.render(generate, history: [])))
        let search = try free.plan(context: UserContext(history: [Item(id: "h", title: "Halo 2")], intention: "racing", intentKind: .vague),
                                   candidates: candidates)
        XCTAssertEqual(search.template, "generate.search.history.vague")
        XCTAssertEqual(try builder(form: .list).plan(context: history, candidates: candidates).template, "recommend.history")
        XCTAssertEqual(try free.plan(context: history, candidates: candidates, template: "recommend.history").template, "recommend.history",
                       "a named template wins over the form")
    }

    func testCandidateFreeTemplatesAreValidatedLikeTheirServingNames() {
        func load(_ templates: [String: String]) throws -> TemplateSet {
            try TemplateSet(jsonData: try JSONSerialization.data(withJSONObject: ["templates": templates]), source: "test")
        }
        XCTAssertNoThrow(try load(["generate.search.history.specific": "{history} then {intention}"]))
        XCTAssertThrowsError(try load(["generate.history": "{history} from {candidates}"])) { error in
            XCTAssertTrue("\(error)".contains("must not contain {candidates}"), "\(error)")
        }
        XCTAssertThrowsError(try load(["generate.search.specific": "{history} {intention}"])) { error in
            XCTAssertTrue("\(error)".contains("must not contain {history}"), "\(error)")
        }
        XCTAssertThrowsError(try load(["generate.search.vague": "nothing"])) { error in
            XCTAssertTrue("\(error)".contains("must contain {intention}"), "\(error)")
        }
        XCTAssertEqual(TemplateSet.candidateFreeName(for: "recommend.history_preference"), "generate.history_preference")
        XCTAssertEqual(TemplateSet.candidateFreeName(for: "search.preference.vague"), "generate.search.preference.vague")
    }
}
