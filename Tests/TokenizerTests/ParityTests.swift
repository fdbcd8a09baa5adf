import Foundation
import XCTest
@testable import Tokenizer

/// Our tokenizer against the references on the committed corpus
/// (scripts/fixtures/make_tokenizer_fixtures.py): Hugging Face `tokenizers` for
/// tokenizer.json, Google `sentencepiece` for spiece.model. Two vocabularies:
/// Flan-T5's (`Fixtures/`) and the default model's 8,000-piece domain
/// vocabulary (`Fixtures/games-vocab/`, made by scripts/train/vocab.py).
final class ParityTests: XCTestCase {
    struct Case: Decodable {
        let text: String
        let has_special: Bool
        let hf: [Int32]
        let hf_decode: String
        let hf_decode_all: String
        let spm: [Int32]
        let spm_decode: String
    }

    static func fixture(_ name: String) throws -> URL {
        guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw XCTSkip("fixtures missing")
        }
        return root.appendingPathComponent(name)
    }

    static func corpus(_ set: String = "") throws -> [Case] {
        let text = try String(contentsOf: try fixture(set + "corpus.jsonl"), encoding: .utf8)
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { try decoder.decode(Case.self, from: Data($0.utf8)) }
    }

    func report(_ mismatches: [String], of total: Int, _ what: String) {
        print("\(what): \(total - mismatches.count)/\(total) identical")
        for line in mismatches.prefix(10) { print("  \(line)") }
    }

    func testTokenizerJSONMatchesHuggingFaceOnTheWholeCorpus() throws {
        try checkTokenizerJSON(set: "")
    }

    func testDomainVocabularyTokenizerJSONMatchesHuggingFaceOnTheWholeCorpus() throws {
        try checkTokenizerJSON(set: "games-vocab/")
    }

    func testSentencePieceModelMatchesSentencePieceOnTheCorpusWithoutSpecialTokens() throws {
        try checkSentencePiece(set: "")
    }

    func testDomainVocabularySentencePieceModelMatchesSentencePiece() throws {
        try checkSentencePiece(set: "games-vocab/")
    }

    func checkTokenizerJSON(set: String) throws {
        let tokenizer = try Tokenizer(tokenizerJSON: try Self.fixture(set + "tokenizer.json"))
        let corpus = try Self.corpus(set)
        XCTAssertGreaterThanOrEqual(corpus.count, 5000)
        var idMismatches: [String] = [], decodeMismatches: [String] = []
        for c in corpus {
            let ids = tokenizer.encode(c.text)
            if ids != c.hf { idMismatches.append("\(c.text.debugDescription): got \(ids) expected \(c.hf)") }
            let decoded = tokenizer.decode(c.hf)
            let decodedAll = tokenizer.decode(c.hf, skipSpecialTokens: false)
            if decoded != c.hf_decode || decodedAll != c.hf_decode_all {
                decodeMismatches.append("\(c.text.debugDescription): decoded \(decoded.debugDescription) expected \(c.hf_decode.debugDescription)")
            }
        }
        report(idMismatches, of: corpus.count, "\(set)tokenizer.json ids")
        report(decodeMismatches, of: corpus.count, "\(set)tokenizer.json decode")
        XCTAssertEqual(idMismatches.count, 0)
        XCTAssertEqual(decodeMismatches.count, 0)
    }

    func checkSentencePiece(set: String) throws {
        let tokenizer = try Tokenizer(sentencePieceModel: try Self.fixture(set + "spiece.model"))
        let corpus = try Self.corpus(set).filter { !$0.has_special }
        var idMismatches: [String] = [], decodeMismatches: [String] = []
        for c in corpus {
            let ids = tokenizer.encode(c.text, addEOS: false)
            if ids != c.spm { idMismatches.append("\(c.text.debugDescription): got \(ids) expected \(c.spm)") }
            let decoded = tokenizer.decode(c.spm)
            if decoded != c.spm_decode {
                decodeMismatches.append("\(c.text.debugDescription): decoded \(decoded.debugDescription) expected \(c.spm_decode.debugDescription)")
            }
        }
        report(idMismatches, of: corpus.count, "\(set)spiece.model ids")
        report(decodeMismatches, of: corpus.count, "\(set)spiece.model decode")
        XCTAssertEqual(idMismatches.count, 0)
        XCTAssertEqual(decodeMismatches.count, 0)
    }
}
