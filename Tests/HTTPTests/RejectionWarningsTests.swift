import XCTest
@testable import HTTP

/// Refusals at the connection limit are logged at most once a second, each line with the count since the last.
final class RejectionWarningsTests: XCTestCase {
    func testABurstIsOneLineNowAndOneLineWithTheRestASecondLater() {
        var warnings = RejectionWarnings(interval: 1)
        XCTAssertEqual(warnings.rejected("connection limit", now: 10), ["connection limit": 1], "the first refusal is told at once")
        for i in 1...4_977 { XCTAssertNil(warnings.rejected("connection limit", now: 10 + Double(i) * 1e-4)) }
        XCTAssertNil(warnings.due(now: 10.9), "not within the second")
        XCTAssertEqual(warnings.due(now: 11), ["connection limit": 4_977], "the rest, counted, once the second has passed")
        XCTAssertNil(warnings.due(now: 20), "nothing more to tell")
    }

    func testReasonsAreCountedApartInOneLine() {
        var warnings = RejectionWarnings(interval: 1)
        _ = warnings.rejected("connection limit", now: 0)
        XCTAssertNil(warnings.rejected("connection limit", now: 0.5))
        XCTAssertNil(warnings.rejected("shutting down", now: 0.6))
        XCTAssertEqual(warnings.rejected("shutting down", now: 1.2), ["connection limit": 1, "shutting down": 2])
    }
}
