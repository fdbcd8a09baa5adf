import Foundation
import XCTest
@testable import Evaluation
import InstructRec

/// Out-of-catalog titles: every title changes, deterministically, keeping the words that
/// name the game; with --rewrite-titles the evaluator shows them and the target is cold.
final class StoreTitleRewriterTests: XCTestCase {
    static let titles = [
        "Super Mario Odyssey - Nintendo Switch",
        "Call of Duty: Modern Warfare 3 - PlayStation 3",
        "Halo 5: Guardians - Xbox One",
        "The Elder Scrolls V: Skyrim - Game of the Year Edition - PC",
        "Monster Hunter 4 Ultimate Standard Edition with Felyne Pin - Nintendo 3DS",
        "Grim Adventures Of Billy & Mandy - Nintendo Wii",
        "Ratchet and Clank - PlayStation 4 Standard Edition",
        "ButterFox Thumb Grips 6 Pack for PS4 Controllers (PlayStation 4)",
        "PS2 Wireless Controller",
        "Zombies Ate My Neighbors",
        "Yoshi",
        "1942",
        "Rayman 3",
        "WCW MAYHEM",
        "anno 2070",
    ]

    /// Lower-cased words of letters and digits.
    static func words(_ text: String) -> Set<String> {
        Set(text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init))
    }

    func testEveryTitleChanges() {
        for seed: UInt64 in [1, 42, 99] {
            let rewriter = StoreTitleRewriter(seed: seed)
            for (item, title) in Self.titles.enumerated() {
                let rewritten = rewriter.rewrite(title, item: item)
                XCTAssertNotEqual(StoreTitleRewriter.squeeze(rewritten), StoreTitleRewriter.squeeze(title), "seed \(seed)")
                XCTAssertFalse(rewritten.isEmpty)
            }
            // many items, the same title: each rewrite differs from it
            for item in 0..<300 {
                XCTAssertNotEqual(rewriter.rewrite("Super Mario Odyssey - Nintendo Switch", item: item),
                                  "Super Mario Odyssey - Nintendo Switch")
            }
        }
    }

    func testRewritesAreDeterministicAndVary() {
        let a = StoreTitleRewriter(seed: 42), b = StoreTitleRewriter(seed: 42)
        for (item, title) in Self.titles.enumerated() {
            XCTAssertEqual(a.rewrite(title, item: item), b.rewrite(title, item: item))
        }
        let forms = Set((0..<200).map { a.rewrite("Super Mario Odyssey - Nintendo Switch", item: $0) })
        XCTAssertGreaterThan(forms.count, 4, "several store styles: \(forms.sorted())")
        XCTAssertTrue(forms.contains { $0.hasPrefix("Nintendo Switch Super Mario Odyssey") }, "\(forms.sorted())")
        XCTAssertTrue(forms.contains { $0.contains("(Switch)") }, "\(forms.sorted())")
    }

    func testCoreTitleWordsStay() {
        let rewriter = StoreTitleRewriter(seed: 42)
        for item in 0..<200 {
            let mario = Self.words(rewriter.rewrite("Super Mario Odyssey - Nintendo Switch", item: item))
            XCTAssertTrue(mario.isSuperset(of: ["super", "mario", "odyssey"]), "\(mario)")
            let cod = Self.words(rewriter.rewrite("Call of Duty: Modern Warfare 3 - PlayStation 3", item: item))
            XCTAssertTrue(cod.isSuperset(of: ["call", "of", "duty", "modern", "warfare", "3"]), "\(cod)")
        }
        // every title: all its words except platform, edition and "and" words survive
        let replaceable: Set<String> = ["nintendo", "switch", "playstation", "xbox", "one", "pc", "wii", "3ds", "4", "3", "ps4",
                                        "standard", "edition", "game", "of", "the", "year", "goty", "and", "ps2"]
        for (item, title) in Self.titles.enumerated() {
            let kept = Self.words(rewriter.rewrite(title, item: item))
            let core = Self.words(title).subtracting(replaceable)
            XCTAssertTrue(kept.isSuperset(of: core), "\(title) -> \(kept)")
        }
    }

    func testPlatformAbbreviations() {
        XCTAssertEqual(StoreTitleRewriter.renamePlatformInPlace("Uncharted 4 - PlayStation 4", 0), "Uncharted 4 - PS4")
        XCTAssertEqual(StoreTitleRewriter.renamePlatformInPlace("Halo 5 - Xbox One", 0), "Halo 5 - XB1")
        XCTAssertEqual(StoreTitleRewriter.renamePlatformInPlace("Halo 5 (XB1)", 0), "Halo 5 (Xbox One)")
        XCTAssertEqual(StoreTitleRewriter.movePlatformSuffix("Super Mario Odyssey - Nintendo Switch", 0), "Nintendo Switch Super Mario Odyssey")
        XCTAssertEqual(StoreTitleRewriter.movePlatformSuffix("Super Mario Odyssey - Nintendo Switch", 1), "Super Mario Odyssey (Switch)")
        XCTAssertNil(StoreTitleRewriter.movePlatformSuffix("Zombies Ate My Neighbors", 0))
        XCTAssertEqual(StoreTitleRewriter.changeEdition("Ratchet - PlayStation 4 Standard Edition", 0), "Ratchet - PlayStation 4")
        XCTAssertEqual(StoreTitleRewriter.changePunctuation("Halo 5: Guardians", 0), "Halo 5 - Guardians")
        XCTAssertEqual(StoreTitleRewriter.changePunctuation("Billy & Mandy", 0), "Billy and Mandy")
    }

    func testEvaluatorShowsRewrittenTitlesAndMakesTheTargetCold() throws {
        // the target 9 is everyone's most popular training item and always follows 1: warm, it ranks first
        var sequences = (0..<30).map { u in [2 + u % 5, 1, 9, 20 + u % 5, 30 + u % 5] }
        sequences.append([3, 4, 5, 1, 9])
        let dataset = try TransitionBaselineTests.dataset(items: 40, sequences: sequences)
        var options = Evaluator.Options()
        options.users = 100
        let warm = Evaluator(dataset: dataset, options: options)
        guard let plain = warm.cases().first(where: { $0.userIndex == 30 }) else { return XCTFail("user 30 evaluated") }
        XCTAssertEqual(plain.target, 9)
        XCTAssertEqual(warm.popularityRank(plain), 1)
        XCTAssertEqual(warm.transitionRank(plain), 1)
        XCTAssertTrue(plain.titleOverrides.isEmpty && plain.cold.isEmpty)
        XCTAssertEqual(warm.title(of: 9, in: plain), "Game 9")

        options.rewriteTitles = true
        let evaluator = Evaluator(dataset: dataset, options: options)
        guard let c = evaluator.cases().first(where: { $0.userIndex == 30 }) else { return XCTFail("user 30 evaluated") }
        XCTAssertEqual(c.candidates, plain.candidates, "the same candidates")
        XCTAssertEqual(c.cold, [9])
        XCTAssertEqual(Set(c.titleOverrides.keys), Set(c.candidates), "every candidate, target and negatives alike")
        for item in c.candidates {
            XCTAssertNotEqual(evaluator.title(of: item, in: c), dataset.titles[item])
            XCTAssertEqual(evaluator.title(of: item, in: c), c.titleOverrides[item])
        }
        XCTAssertEqual(evaluator.title(of: 1, in: c), "Game 1", "history items keep their titles")
        XCTAssertEqual(evaluator.popularityRank(c), c.candidates.count, "cold: below every candidate")
        XCTAssertEqual(evaluator.transitionRank(c), c.candidates.count)

        let record = try JSONSerialization.jsonObject(with: CaseRecord.jsonLines([c], split: .test)) as? [String: Any]
        XCTAssertEqual(record?["cold"] as? [Int], [9])
        let plainRecord = try JSONSerialization.jsonObject(with: CaseRecord.jsonLines([plain], split: .test)) as? [String: Any]
        XCTAssertNil(plainRecord?["cold"], "no cold field without rewritten titles")
    }
}
