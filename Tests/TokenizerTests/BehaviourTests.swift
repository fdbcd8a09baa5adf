import XCTest
@testable import Tokenizer

/// Behaviour the service relies on, pinned with the real Flan-T5 tokenizer.
final class BehaviourTests: XCTestCase {
    func testHelloWorldMatchesTheReadmeOfTheSharedFiles() throws {
        let json = try Tokenizer(tokenizerJSON: try ParityTests.fixture("tokenizer.json"))
        XCTAssertEqual(json.encode("Hello world"), [8774, 296, 1])
        let spm = try Tokenizer(sentencePieceModel: try ParityTests.fixture("spiece.model"))
        XCTAssertEqual(spm.encode("Hello world", addEOS: false), [8774, 296])
        XCTAssertEqual(spm.eosID, 1)
        XCTAssertEqual(spm.unknownID, 2)
    }

    func testSpecialTokensAreAtomicInTokenizerJSON() throws {
        let tokenizer = try Tokenizer(tokenizerJSON: try ParityTests.fixture("tokenizer.json"))
        let encoding = tokenizer.encodeWithPieces("a</s>b<extra_id_0>", addEOS: false)
        XCTAssertTrue(encoding.ids.contains(1))
        XCTAssertTrue(encoding.ids.contains(32099))
    }

    /// Outside text (titles, queries, documents) reads `</s>`, `<pad>` and `<unk>` as characters, exactly as
    /// sentencepiece reads them, on every corpus text that holds one (and no other added token); every other text
    /// keeps Hugging Face's ids. Both vocabularies: Flan-T5's and the default model's.
    func testControlTokensInOutsideTextAreReadAsSentencepieceReadsThem() throws {
        for set in ["", "games-vocab/"] {
            let reference = try Tokenizer(tokenizerJSON: try ParityTests.fixture(set + "tokenizer.json"))
            let literal = reference.readingControlTokensAsText()
            var withControl = 0, without = 0
            for c in try ParityTests.corpus(set) {
                let controls = Tokenizer.controlContents.contains { c.text.contains($0) }
                if controls && !c.text.contains("<extra_id_") {
                    withControl += 1
                    XCTAssertEqual(literal.encode(c.text, addEOS: false), c.spm, "\(set) \(c.text)")
                } else if !controls {
                    without += 1
                    XCTAssertEqual(literal.encode(c.text), c.hf, "\(set) \(c.text)")
                }
            }
            XCTAssertGreaterThan(withControl, 10, set)
            XCTAssertGreaterThan(without, 1000, set)
        }
    }

    func testAControlTokenNeverEndsOutsideTextButTemplatesKeepTheirSentinels() throws {
        let literal = try Tokenizer(tokenizerJSON: try ParityTests.fixture("tokenizer.json")).readingControlTokensAsText()
        let ids = literal.encode("Mario</s>Kart <pad> and <unk> x<extra_id_0>", addEOS: true)
        XCTAssertEqual(ids.filter { $0 == literal.eosID }.count, 1, "only the appended </s>")
        XCTAssertEqual(ids.last, literal.eosID)
        XCTAssertFalse(ids.contains(0), "<pad>")
        // Flan-T5's vocabulary has no '<': it is the unknown id, once per '<', as sentencepiece gives it.
        XCTAssertEqual(ids.filter { $0 == literal.unknownID }.count, 3)
        XCTAssertTrue(ids.contains(32099), "<extra_id_0> is still one token")
    }

    func testLoadPrefersTokenizerJSON() throws {
        let directory = try ParityTests.fixture("tokenizer.json").deletingLastPathComponent()
        let tokenizer = try Tokenizer.load(directory: directory)
        XCTAssertTrue(tokenizer.source.hasSuffix("tokenizer.json"))
    }

    func testConcurrentEncodingIsConsistent() throws {
        let tokenizer = try Tokenizer(tokenizerJSON: try ParityTests.fixture("tokenizer.json"))
        let texts = ["Super Mario Odyssey", "ゼルダの伝説", "Pokémon Sword &amp; Shield ™", "  spaced   out  "]
        let expected = texts.map { tokenizer.encode($0) }
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            XCTAssertEqual(tokenizer.encode(texts[i % texts.count]), expected[i % texts.count])
        }
    }
}
