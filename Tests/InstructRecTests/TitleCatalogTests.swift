import XCTest
@testable import InstructRec

/// The catalog file that warms the title-prior cache: the forms a team exports.
final class TitleCatalogTests: XCTestCase {
    func testPlainTabSeparatedAndJSONLinesWithARecBoleHeader() throws {
        let text = "item_id:token\ttitle:token_seq\nHalo 3\n7\tMario Kart 8 &amp; More\r\n{\"id\": 9, \"title\": \"Splatoon 2\"}\n\n  \n"
        XCTAssertEqual(try TitleCatalog.parse(text, source: "t"), ["Halo 3", "Mario Kart 8 & More", "Splatoon 2"])
    }

    func testAHeaderIsOnlySkippedOnTheFirstLine() throws {
        XCTAssertEqual(try TitleCatalog.parse("Halo\nitem_id:token\ttitle:token_seq", source: "t"), ["Halo", "title:token_seq"])
    }

    func testAJSONLineWithoutATitleNamesTheFileAndLine() {
        XCTAssertThrowsError(try TitleCatalog.parse("Halo\n{\"name\": \"x\"}", source: "cat.jsonl")) { error in
            XCTAssertEqual(error as? InstructRecError, .catalogFile(file: "cat.jsonl", reason: "line 2: a JSON line needs a string \"title\""))
        }
    }

    func testAMissingFileIsAClearError() {
        XCTAssertThrowsError(try TitleCatalog.read(path: "/nonexistent/catalog.txt")) { error in
            guard case .catalogFile(let file, _)? = error as? InstructRecError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "/nonexistent/catalog.txt")
        }
    }
}
