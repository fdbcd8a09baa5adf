import Foundation
import XCTest
@testable import Evaluation
import InstructRec
import Randomness

/// Instruction data: template coverage, determinism and no leakage of
/// validation/test targets, on a synthetic interaction log in the Games format.
final class InstructionDataTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func makeDataset(users: Int = 60, items: Int = 200) throws -> InteractionDataset {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("games-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var rng = SeededGenerator(seed: 1)
        var itemLines = ["item_id:token\ttitle:token_seq"]
        for id in 0..<items { itemLines.append("\(id)\tGame &amp; Title \(id) - Console \(id % 7);") }
        try itemLines.joined(separator: "\n").write(to: directory.appendingPathComponent("Games.item"), atomically: true, encoding: .utf8)
        var interLines = ["user_id:token\titem_id_list:token_seq\titem_id:token"]
        for user in 0..<users {
            let length = Int.random(in: 5...12, using: &rng)
            var sequence: [Int] = []
            while sequence.count < length {
                let item = Int.random(in: 0..<items, using: &rng)
                if !sequence.contains(item) { sequence.append(item) }
            }
            interLines.append("\(user)\t\(sequence.dropLast().map(String.init).joined(separator: " "))\t\(sequence.last!)")
        }
        try interLines.joined(separator: "\n").write(to: directory.appendingPathComponent("Games-6k.test.inter"), atomically: true, encoding: .utf8)
        return try InteractionDataset(directory: directory)
    }

    func generator(_ dataset: InteractionDataset) throws -> InstructionDataGenerator {
        try InstructionDataGenerator(dataset: dataset, templates: try TemplateSet(contentsOf: Self.root.appendingPathComponent("config/templates.json")))
    }

    func testTitlesAreUnescaped() throws {
        let dataset = try makeDataset()
        XCTAssertEqual(dataset.titles[3], "Game & Title 3 - Console 3")
        XCTAssertEqual(HTMLEntities.decode("Tom Clancy&#39;s &reg; &#x2019; &bogus; & more"), "Tom Clancy's ® ’ &bogus; & more")
    }

    func testValidationAndTestTargetsNeverAppearInTrainingData() throws {
        let dataset = try makeDataset()
        let generator = try generator(dataset)
        var examples = 0
        for (index, sequence) in dataset.sequences.enumerated() {
            let heldOut = Set(sequence.items.suffix(2))
            let heldOutTitles = heldOut.map { dataset.titles[$0] }
            for example in generator.examples(forUserAt: index) {
                examples += 1
                XCTAssertTrue(heldOut.isDisjoint(with: example.itemIDs), "user \(sequence.user) leaks \(heldOut) in \(example.template)")
                for title in heldOutTitles {
                    XCTAssertFalse(example.instruction.contains("\"\(title)\""), "held-out title in instruction")
                    XCTAssertNotEqual(example.target, title)
                }
            }
        }
        XCTAssertGreaterThan(examples, 100)
    }

    func testAtLeastEightTemplatesAcrossT0T2T3() throws {
        let dataset = try makeDataset(users: 200)
        let generator = try generator(dataset)
        let all = dataset.sequences.indices.flatMap { generator.examples(forUserAt: $0) }
        let templates = Set(all.map(\.template))
        XCTAssertGreaterThanOrEqual(templates.count, 8, "\(templates)")
        XCTAssertTrue(Set(all.map(\.task)).isSuperset(of: ["T0", "T2", "T3"]))
        // T3 examples list the target among the candidates; T0 answers yes or no.
        for example in all where example.task == "T3" { XCTAssertTrue(example.instruction.contains("\"\(example.target)\"")) }
        for example in all where example.task == "T0" { XCTAssertTrue(["yes", "no"].contains(example.target)) }
    }

    func testGenerationIsDeterministicForASeed() throws {
        let dataset = try makeDataset()
        let a = try generator(dataset).examples(forUserAt: 5).map(\.instruction)
        let b = try generator(dataset).examples(forUserAt: 5).map(\.instruction)
        XCTAssertEqual(a, b)
    }

    func testEvaluationProtocolAndMetrics() throws {
        let dataset = try makeDataset(users: 80)
        var options = Evaluator.Options()
        options.users = 50
        let evaluator = Evaluator(dataset: dataset, options: options)
        let cases = evaluator.cases()
        XCTAssertEqual(cases.count, 50)
        for c in cases {
            let sequence = dataset.sequences[c.userIndex].items
            XCTAssertEqual(c.target, sequence.last)
            XCTAssertEqual(c.candidates.count, 10)
            XCTAssertEqual(Set(c.candidates).intersection(sequence), [c.target], "negatives are never-touched items")
            XCTAssertFalse(c.history.contains(c.target))
        }
        XCTAssertEqual(evaluator.cases().map(\.candidates), cases.map(\.candidates), "seeded")
        XCTAssertEqual(Evaluator.rank(of: 7, candidates: [1, 7, 3], scores: [0.5, 0.9, 0.1]), 1)
        XCTAssertEqual(Evaluator.rank(of: 7, candidates: [1, 7, 3], scores: [0.9, 0.9, 0.1]), 2, "ties count against the target")
        var random = Evaluator.Metrics()
        random.addRandom(candidates: 10, containsTarget: true)
        XCTAssertEqual(random.summary["HR@1"] ?? 0, 0.1, accuracy: 1e-12)
        XCTAssertEqual(random.summary["HR@5"] ?? 0, 0.5, accuracy: 1e-12)
        XCTAssertEqual(random.summary["NDCG@3"] ?? 0, (1 + 1 / log2(3.0) + 0.5) / 10, accuracy: 1e-12)
    }

    func testQueriesComeFromTitleContentWords() {
        XCTAssertEqual(InstructionDataGenerator.query(from: "Mario Kart 8 Deluxe - Nintendo Switch"), "mario kart 8 deluxe")
        XCTAssertEqual(InstructionDataGenerator.query(from: "The Legend of Zelda: Twilight Princess"), "legend zelda twilight princess")
    }
}
