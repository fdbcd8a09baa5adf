import Foundation
import XCTest
@testable import Tokenizer

/// Broken tokenizer files give a typed error naming the problem, never a crash.
final class MalformedFileTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func tokenizerJSON() throws -> [String: Any] {
        let data = try Data(contentsOf: try ParityTests.fixture("tokenizer.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func write(_ json: [String: Any]) throws -> URL {
        let url = directory.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        return url
    }

    func assertFails(_ body: @autoclosure () throws -> Tokenizer, mentions fragments: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertTrue(error is TokenizerError, "untyped \(error)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue("\(error)".contains(fragment), "'\(error)' should mention '\(fragment)'", file: file, line: line)
            }
        }
    }

    func testTruncatedProtobufIsRejected() throws {
        let bytes = try Data(contentsOf: try ParityTests.fixture("spiece.model"))
        let url = directory.appendingPathComponent("spiece.model")
        try bytes.prefix(bytes.count / 2).write(to: url)
        assertFails(try Tokenizer(sentencePieceModel: url), mentions: ["spiece.model", "invalid SentencePiece model"])
    }

    func testGarbageProtobufIsRejected() throws {
        let url = directory.appendingPathComponent("spiece.model")
        try Data([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]).write(to: url)
        assertFails(try Tokenizer(sentencePieceModel: url), mentions: ["invalid SentencePiece model"])
        try Data().write(to: url)
        assertFails(try Tokenizer(sentencePieceModel: url), mentions: ["no pieces"])
    }

    func testJSONWithoutModelIsRejected() throws {
        var json = try tokenizerJSON()
        json.removeValue(forKey: "model")
        assertFails(try Tokenizer(tokenizerJSON: try write(json)), mentions: ["tokenizer.json", "no 'model' object"])
    }

    func testNonUnigramModelIsRejected() throws {
        var json = try tokenizerJSON()
        json["model"] = ["type": "BPE", "vocab": [:], "merges": []]
        assertFails(try Tokenizer(tokenizerJSON: try write(json)), mentions: ["unsupported model type 'BPE'"])
    }

    func testUnknownNormalizerTypeIsRejected() throws {
        var json = try tokenizerJSON()
        json["normalizer"] = ["type": "Sequence", "normalizers": [["type": "NFKC"]]]
        assertFails(try Tokenizer(tokenizerJSON: try write(json)), mentions: ["unsupported normalizer type 'NFKC'"])
    }

    func testCorruptBase64CharsmapIsRejected() throws {
        var json = try tokenizerJSON()
        json["normalizer"] = ["type": "Precompiled", "precompiled_charsmap": "###not base64###"]
        assertFails(try Tokenizer(tokenizerJSON: try write(json)), mentions: ["precompiled_charsmap", "base64"])
    }

    func testCharsmapWithLyingTrieSizeIsRejected() throws {
        var json = try tokenizerJSON()
        json["normalizer"] = ["type": "Precompiled", "precompiled_charsmap": Data([0xFF, 0xFF, 0, 0, 1, 2, 3, 4]).base64EncodedString()]
        assertFails(try Tokenizer(tokenizerJSON: try write(json)), mentions: ["corrupt precompiled_charsmap", "trie size"])
    }

    func testNotJSONIsRejected() throws {
        let url = directory.appendingPathComponent("tokenizer.json")
        try Data("{\"model\": ".utf8).write(to: url)
        assertFails(try Tokenizer(tokenizerJSON: url), mentions: ["not a JSON object"])
    }

    func testDirectoryWithoutTokenizerIsRejected() {
        XCTAssertThrowsError(try Tokenizer.load(directory: directory)) { error in
            XCTAssertEqual(error as? TokenizerError, .noTokenizer(directory: directory.path))
        }
    }

    func testCorruptTrieUnitsNeverCrash() throws {
        // A structurally valid blob whose units point anywhere: lookups stay in bounds.
        var blob: [UInt8] = [16, 0, 0, 0]
        for _ in 0..<4 { blob += [0xFF, 0xFF, 0xFF, 0x7F] }
        blob += Array("x\0".utf8)
        var json = try tokenizerJSON()
        json["normalizer"] = ["type": "Precompiled", "precompiled_charsmap": Data(blob).base64EncodedString()]
        let tokenizer = try Tokenizer(tokenizerJSON: try write(json))
        XCTAssertFalse(tokenizer.encode("hello wörld ✓").isEmpty)
    }
}
