import Foundation
import XCTest

/// The Makefile's newcomer targets, read with `make -n` (prints the recipes, runs nothing).
final class MakefileTests: XCTestCase {
    func serveLine(_ arguments: [String]) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/make") else { throw XCTSkip("no /usr/bin/make") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        process.arguments = ["-n", "run"] + arguments
        process.currentDirectoryURL = RuntimeImageTests.root
        // a PORT in the test's own environment would be read as the make variable
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key != "PORT" && !$0.key.hasPrefix("MAKE") }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = Pipe()
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, output)
        return try XCTUnwrap(output.split(separator: "\n").last { $0.contains(" serve ") }.map(String.init), output)
    }

    func testMakeRunTakesAPort() throws {
        XCTAssertTrue(try serveLine(["PORT=8081"]).hasSuffix(" --port 8081"))
        XCTAssertFalse(try serveLine([]).contains("--port"), "without PORT: the configured port")
    }
}
