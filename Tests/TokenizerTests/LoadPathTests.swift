import XCTest
@testable import Tokenizer

/// `Tokenizer.load(path:)`: the one reading of a tokenizer setting or flag.
final class LoadPathTests: XCTestCase {
    func testAFileIsReadByItsExtensionAndADirectoryPrefersTokenizerJSON() throws {
        let json = try ParityTests.fixture("tokenizer.json"), spiece = try ParityTests.fixture("spiece.model")
        XCTAssertEqual(try Tokenizer.load(path: json.path).source, json.path)
        XCTAssertEqual(try Tokenizer.load(path: spiece.path).source, spiece.path)
        let directory = json.deletingLastPathComponent()
        XCTAssertEqual(try Tokenizer.load(path: directory.path).source, directory.appendingPathComponent("tokenizer.json").path)
    }

    func testADirectoryWithoutATokenizerIsANamedError() {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("no-tokenizer-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        XCTAssertThrowsError(try Tokenizer.load(path: empty.path)) { error in
            XCTAssertTrue("\(error)".contains(empty.path), "\(error)")
        }
    }
}
