@testable import Configuration
import XCTest
@testable import Service

/// RFC 8259 edge cases, our choices where it leaves room, and the decoder built on it.
final class JSONValueTests: XCTestCase {
    func parse(_ text: String, maxDepth: Int = 64) throws -> JSONValue { try JSONValue.parse(Array(text.utf8), maxDepth: maxDepth) }

    func assertFails(_ text: String, at offset: Int? = nil, _ message: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try JSONValue.parse(Array(text.utf8))
            XCTFail("accepted \(text)", file: file, line: line)
        } catch {
            if let offset { XCTAssertEqual(error.offset, offset, "\(text): \(error.message)", file: file, line: line) }
            if let message { XCTAssertTrue(error.message.contains(message), error.message, file: file, line: line) }
        }
    }

    func testScalarsAtTheTopLevel() throws {
        // RFC 8259 §2: any value may be the whole text (RFC 4627 allowed only objects and arrays).
        XCTAssertEqual(try parse("1"), .number(1))
        XCTAssertEqual(try parse(" \"x\" "), .string("x"))
        XCTAssertEqual(try parse("null"), .null)
        XCTAssertEqual(try parse("\t\r\n true \n"), .bool(true))
        // §8.1: a leading byte order mark is ignored; anywhere else it is not JSON.
        XCTAssertEqual(try JSONValue.parse([0xEF, 0xBB, 0xBF] + Array(#"{"a": 1}"#.utf8)), .object([("a", .number(1))]))
        assertFails("1\u{FEFF}", at: 1)
        assertFails("\u{FEFF}\u{FEFF}1", at: 3)
    }

    func testNumbers() throws {
        XCTAssertEqual(try parse("-0"), .number(-0.0))
        XCTAssertEqual(try parse("1E+2"), .number(100))
        XCTAssertEqual(try parse("1.5e-3"), .number(0.0015))
        XCTAssertEqual(try parse("123456789012345678901234567890"), .number(1.2345678901234568e29))
        for bad in ["01", "+1", ".5", "1.", "1e", "-", "0x10", "NaN", "Infinity", "1.0e+"] { assertFails(bad) }
        assertFails("1e400", at: 0, "out of range")  // §6: we refuse what a double cannot hold
    }

    func testStrings() throws {
        XCTAssertEqual(try parse(#""\"\\\/\b\f\n\r\t""#), .string("\"\\/\u{08}\u{0C}\n\r\t"))
        XCTAssertEqual(try parse(#""\u00e9\u20AC""#), .string("é€"))
        XCTAssertEqual(try parse(#""\ud83d\ude00""#), .string("😀"))  // §7: surrogate pair
        XCTAssertEqual(try parse("\"😀 raw\""), .string("😀 raw"))
        assertFails(#""\ud83d""#, "unpaired surrogate")
        assertFails(#""\ude00""#, "unpaired surrogate")
        assertFails(#""\ud83d\u0041""#, "low surrogate")
        assertFails("\"a\u{01}b\"", at: 2, "control character")  // §7: U+0000..U+001F must be escaped
        assertFails(#""\x41""#, "invalid escape")
        assertFails(#""\u12G4""#, "hex digit")
        assertFails("\"abc", at: 0, "unterminated")
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]))  // §8.1: invalid UTF-8
    }

    func testStructure() throws {
        XCTAssertEqual(try parse("[]"), .array([]))
        XCTAssertEqual(try parse("{}"), .object([]))
        XCTAssertEqual(try parse(#"{"a": [1, {"b": null}]}"#)["a"], .array([.number(1), .object([("b", .null)])]))
        assertFails("[1,]", at: 3)
        assertFails(#"{"a":1,}"#, at: 7, "string key")
        assertFails("[1 2]", at: 3)
        assertFails("{'a': 1}", at: 1)
        assertFails("[1] x", at: 4, "after the JSON value")
        assertFails("", at: 0, "end of input")
    }

    func testDuplicateNamesAreRefusedAtTheSecondOccurrence() throws {
        // RFC 8259 §4 leaves duplicates to the receiver; we refuse them so no two readers disagree.
        assertFails(#"{"top_n": 1, "top_n": 2}"#, at: 13, "duplicate member name \"top_n\"")
        assertFails(#"{"a": {"x": 1, "x": 1}}"#, at: 15, "duplicate")
        XCTAssertNoThrow(try parse(#"{"a": {"x": 1}, "b": {"x": 1}}"#))  // same name in different objects is fine
        XCTAssertNoThrow(try parse(#"{"a": 1, "A": 2}"#))  // names are case-sensitive
    }

    func testDepthLimit() throws {
        let ok = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        XCTAssertNoThrow(try parse(ok))
        let deep = String(repeating: "[", count: 66) + String(repeating: "]", count: 66)
        XCTAssertThrowsError(try parse(deep)) { error in
            XCTAssertTrue((error as? JSONValue.ParseError)?.message.contains("deeper than 64") ?? false, "\(error)")
        }
        // far past any stack: refused by the limit, not by a crash
        XCTAssertThrowsError(try parse(String(repeating: "[", count: 1_000_000)))
        XCTAssertThrowsError(try parse(String(repeating: #"{"a":"#, count: 100) + "1" + String(repeating: "}", count: 100), maxDepth: 10))
    }

    // MARK: the typed decoder

    struct Sample: Decodable {
        var name: String
        var count: Int?
        var tags: [String]?
        enum CodingKeys: String, CodingKey, CaseIterable { case name, count, tags }
    }

    func decodeError(_ text: String) -> ServiceError? {
        do { _ = try JSONValueDecoder.decode(Sample.self, from: try parse(text)); return nil } catch { return error as? ServiceError }
    }

    func testDecoderNamesTheFieldAndRefusesUnknownMembers() throws {
        let sample = try JSONValueDecoder.decode(Sample.self, from: try parse(#"{"name": "x", "count": 3.0, "tags": null}"#))
        XCTAssertEqual(sample.name, "x")
        XCTAssertEqual(sample.count, 3)
        XCTAssertNil(sample.tags, "null reads as absent")
        XCTAssertEqual(decodeError(#"{"name": "x", "colour": 1}"#)?.field, "$.colour")
        XCTAssertEqual(decodeError(#"{"count": 1}"#)?.message, "$.name: is required")
        XCTAssertEqual(decodeError(#"{"name": 5}"#)?.message, "$.name: must be a string, got number")
        XCTAssertEqual(decodeError(#"{"name": "x", "count": 1.5}"#)?.field, "$.count")
        XCTAssertEqual(decodeError(#"{"name": "x", "count": 1e30}"#)?.field, "$.count")
        XCTAssertEqual(decodeError(#"{"name": "x", "count": true}"#)?.field, "$.count")
        XCTAssertEqual(decodeError(#"{"name": "x", "tags": ["a", 2]}"#)?.field, "$.tags[1]")
        XCTAssertEqual(decodeError(#"[1]"#)?.message, "$: must be an object, got array")
    }
}
