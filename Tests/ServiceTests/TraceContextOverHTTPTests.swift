import Foundation
import XCTest

/// A caller's W3C traceparent reaches the access log line and comes back on the response.
final class TraceContextOverHTTPTests: XCTestCase {
    func testTraceparentAppearsInTheAccessLogAndTheResponse() throws {
        let service = try InProcessService()
        defer { _ = service.terminate() }
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736", parent = "00f067aa0ba902b7"
        let reply = try service.request("POST", "/rerank", body: Bodies.rerank,
                                        headers: ["Content-Type": "application/json", "traceparent": "00-\(trace)-\(parent)-01"])
        XCTAssertEqual(reply.status, 200, reply.body)
        let echoed = try XCTUnwrap(reply.headers["traceparent"])
        XCTAssertTrue(echoed.hasPrefix("00-\(trace)-") && echoed.hasSuffix("-01"), echoed)
        let span = echoed.split(separator: "-")[2]
        XCTAssertNotNil(reply.headers["x-request-id"])
        var line: [String: Any]?
        for _ in 0..<50 where line == nil {
            line = service.logEntries("request").first { $0["trace_id"] as? String == trace }
            if line == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        let entry = try XCTUnwrap(line, "the access line names the trace")
        XCTAssertEqual(entry["span_id"] as? String, String(span))
        XCTAssertEqual(entry["parent_span_id"] as? String, parent)
        XCTAssertEqual(entry["request_id"] as? String, reply.headers["x-request-id"])

        let malformed = try service.request("POST", "/rerank", body: Bodies.rerank,
                                            headers: ["Content-Type": "application/json", "traceparent": "garbage"])
        XCTAssertEqual(malformed.status, 200, "a malformed traceparent is ignored, never refused")
        XCTAssertFalse(malformed.headers["traceparent"]?.contains(trace) ?? true)
    }
}
