import Foundation
import XCTest
@testable import InstructRec
import Evaluation

/// Training renders what the service renders: scripts/train/train.py writes its instructions with
/// scripts/train/templates.py, a Python port of `TemplateSet.render`. Fixtures/train-render-parity.json holds that
/// renderer's output for fixed cases (every template of models/default/templates.json, its item_format and
/// separators, and two other item formats / separator pairs); each must come out of `TemplateSet.render` byte for
/// byte. Regenerate after changing either renderer or the templates: `python3 scripts/train/render_parity.py`.
///
/// Not compared, because they are not rendering: InstructionBuilder's fitting (dropping old history, shortening
/// long history titles) and its canonical candidate order. The fixture gives both renderers the same lists.
final class TrainRenderParityTests: XCTestCase {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let root = here.deletingLastPathComponent().deletingLastPathComponent()
    static let fixtureURL = here.appendingPathComponent("Fixtures/train-render-parity.json")
    static let regenerate = "regenerate with `python3 scripts/train/render_parity.py`"

    struct Fixture: Decodable {
        struct Case: Decodable {
            let name: String
            let template: String
            let history: [String]?
            let preference: String?
            let intention: String?
            let candidates: [String]?
            let item: String?
            let rendered: String
        }

        struct Variant: Decodable {
            let name: String
            /// keys of the templates file replaced for this variant (item_format, history_separator, candidate_separator)
            let overrides: [String: String]
            let itemFormat: String
            let historySeparator: String
            let candidateSeparator: String
            let cases: [Case]

            enum CodingKeys: String, CodingKey {
                case name, overrides, cases
                case itemFormat = "item_format", historySeparator = "history_separator", candidateSeparator = "candidate_separator"
            }
        }

        struct Query: Decodable {
            let title: String
            let query: String
        }

        let templatesFile: String
        let sets: [Variant]
        let queries: [Query]

        // Explicit keys, not .convertFromSnakeCase: that strategy would also rewrite the keys of `overrides`.
        enum CodingKeys: String, CodingKey {
            case templatesFile = "templates_file", sets, queries
        }
    }

    func loadFixture() throws -> Fixture {
        let data = try Data(contentsOf: Self.fixtureURL)
        return try JSONDecoder().decode(Fixture.self, from: data)
    }

    /// The fixture's templates file with a variant's overrides applied.
    func templateSet(_ fixture: Fixture, _ variant: Fixture.Variant) throws -> TemplateSet {
        let url = Self.root.appendingPathComponent(fixture.templatesFile)
        if variant.overrides.isEmpty { return try TemplateSet(contentsOf: url) }
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        for (key, value) in variant.overrides { object[key] = value }
        return try TemplateSet(jsonData: try JSONSerialization.data(withJSONObject: object),
                               source: "\(fixture.templatesFile) (\(variant.name))")
    }

    func testTemplateSetRendersWhatTrainPyRenders() throws {
        let fixture = try loadFixture()
        XCTAssertFalse(fixture.sets.isEmpty)
        for variant in fixture.sets {
            let templates = try templateSet(fixture, variant)
            XCTAssertEqual(templates.itemFormat, variant.itemFormat, "\(variant.name): item_format differs; \(Self.regenerate)")
            XCTAssertEqual(templates.historySeparator, variant.historySeparator, "\(variant.name): history_separator differs; \(Self.regenerate)")
            XCTAssertEqual(templates.candidateSeparator, variant.candidateSeparator, "\(variant.name): candidate_separator differs; \(Self.regenerate)")
            XCTAssertFalse(variant.cases.isEmpty, variant.name)
            for example in variant.cases {
                guard let template = templates.templates[example.template] else {
                    XCTFail("\(variant.name) / \(example.name): no template \(example.template) in \(fixture.templatesFile); \(Self.regenerate)")
                    continue
                }
                let rendered = templates.render(template, history: example.history ?? [], preference: example.preference,
                                          intention: example.intention, candidates: example.candidates ?? [], item: example.item)
                // Bytes, not String ==: Swift compares strings by canonical equivalence, the model sees bytes.
                XCTAssertTrue(rendered.utf8.elementsEqual(example.rendered.utf8),
                              "\(variant.name) / \(example.name) (\(example.template)):\n  Swift:    \(rendered)\n  train.py: \(example.rendered)")
            }
        }
    }

    /// Every template the default model is served with has a case (a template added since the fixture was made fails here).
    func testFixtureCoversEveryTemplateOfTheFile() throws {
        let fixture = try loadFixture()
        let templates = try TemplateSet(contentsOf: Self.root.appendingPathComponent(fixture.templatesFile))
        let plain = try XCTUnwrap(fixture.sets.first(where: { $0.overrides.isEmpty }), "the fixture has no set without overrides")
        let covered = Swift.Set(plain.cases.map(\.template))
        XCTAssertEqual(Swift.Set(templates.templates.keys).subtracting(covered).sorted(), [],
                       "templates without a parity case; \(Self.regenerate)")
    }

    /// train.py's search intentions come from templates.query_from, a port of InstructionDataGenerator.query(from:).
    func testQueryFromTitleMatchesTrainPy() throws {
        let fixture = try loadFixture()
        XCTAssertFalse(fixture.queries.isEmpty)
        for entry in fixture.queries {
            let query = InstructionDataGenerator.query(from: entry.title)
            XCTAssertTrue(query.utf8.elementsEqual(entry.query.utf8),
                          "query(from: \(entry.title.debugDescription)): Swift \(query.debugDescription), train.py \(entry.query.debugDescription)")
        }
    }
}
