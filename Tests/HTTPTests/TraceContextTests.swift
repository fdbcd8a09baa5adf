import XCTest
@testable import HTTP

/// W3C Trace Context: the caller's trace continued on the response and the access record;
/// malformed headers ignored, never refused.
final class TraceContextTests: XCTestCase {
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736", parent = "00f067aa0ba902b7"

    func testValidTraceparentIsParsed() throws {
        let parsed = try XCTUnwrap(TraceContext.parse("00-\(trace)-\(parent)-01"))
        XCTAssertEqual(parsed.traceID, trace)
        XCTAssertEqual(parsed.parentID, parent)
        XCTAssertEqual(parsed.flags, "01")
        // §3.2.4: a later version is read by its version-00 prefix when more fields follow.
        XCTAssertNotNil(TraceContext.parse("cc-\(trace)-\(parent)-01-what-the-future-holds"))
    }

    func testMalformedTraceparentsAreRejectedByTheParser() {
        let bad = [
            "", "00-\(trace)-\(parent)", "00-\(trace.uppercased())-\(parent)-01", "00-\(String(repeating: "0", count: 32))-\(parent)-01",
            "00-\(trace)-0000000000000000-01", "ff-\(trace)-\(parent)-01", "00-\(trace)-\(parent)-01-extra",
            "0-\(trace)-\(parent)-01", "00_\(trace)-\(parent)-01", "00-\(trace)-\(parent)-0g", "cc-\(trace)-\(parent)-01x",
        ]
        for header in bad { XCTAssertNil(TraceContext.parse(header), header) }
    }

    func testTheResponseContinuesTheCallersTraceWithItsOwnSpan() throws {
        var h = MachineHarness()
        h.receive("GET /a HTTP/1.1\r\nHost: x\r\ntraceparent: 00-\(trace)-\(parent)-01\r\ntracestate: congo=t61rcWkgMzE\r\n\r\n", at: 1)
        let delivered = try XCTUnwrap(h.delivered.first?.request.trace)
        XCTAssertEqual(delivered.traceID, trace)
        XCTAssertEqual(delivered.parentSpanID, parent)
        XCTAssertNotEqual(delivered.spanID, parent)
        h.respond(.text("hi"), at: 2)
        XCTAssertTrue(h.responses[0].contains("traceparent: 00-\(trace)-\(delivered.spanID)-01\r\n"), h.responses[0])
        XCTAssertTrue(h.responses[0].contains("tracestate: congo=t61rcWkgMzE\r\n"))
        XCTAssertTrue(h.responses[0].contains("X-Request-ID: "))
        XCTAssertEqual(h.records.last?.trace, delivered, "the access record carries the trace for the log line")
    }

    func testAMalformedTraceparentStartsANewTraceAndTheRequestIsServed() throws {
        var h = MachineHarness()
        h.receive("GET /a HTTP/1.1\r\nHost: x\r\ntraceparent: 00-nothex-\(parent)-01\r\ntracestate: a=b\r\n\r\n", at: 1)
        let delivered = try XCTUnwrap(h.delivered.first?.request.trace)
        XCTAssertNotEqual(delivered.traceID, trace)
        XCTAssertNil(delivered.parentSpanID)
        XCTAssertEqual(delivered.flags, "00")
        XCTAssertNil(delivered.traceState, "tracestate is dropped with an invalid traceparent (§3.3)")
        h.respond(.text("hi"), at: 2)
        XCTAssertTrue(h.responses[0].hasPrefix("HTTP/1.1 200 OK"))
        XCTAssertTrue(h.responses[0].contains("traceparent: 00-\(delivered.traceID)-\(delivered.spanID)-00\r\n"))
    }

    func testAHandlerCannotSetTheTraceHeadersItself() {
        var h = MachineHarness()
        h.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", at: 1)
        var response = HTTPResponse.text("hi")
        response.headers.set("traceparent", "00-\(trace)-\(parent)-01")
        h.respond(response, at: 2)
        XCTAssertEqual(h.responses[0].components(separatedBy: "traceparent:").count, 2, "one traceparent, the server's")
        XCTAssertFalse(h.responses[0].contains(parent))
    }
}
