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
