import Foundation
import TestSupport
import XCTest

/// The answers the HTTP layer gives before a route runs, through the real binary: each carries a request id (the
/// client's X-Request-ID when it came in, else a fresh one) that its access-log line has too, in the error
/// shape of the route it was sent to; and at max_connections the probes still answer and the refusals show.
final class HTTPLayerAnswersTests: XCTestCase {
    func testEarlyAnswersCarryTheRequestIDAndTheRoutesErrorShape() throws {
        let service = try InProcessService()
        defer { _ = service.terminate() }
        let manyFields = (0..<100).map { "X-F\($0): v\r\n" }.joined()
        // (request, status, the id it sent or nil, the body's top-level keys)
        let cases: [(String, Int, String?, [String])] = [
            // 413 before the body is read (max_body_bytes is 4 MiB): Cohere v2's body on /v2/rerank, v1's on /v1/rerank
            ("POST /v2/rerank HTTP/1.1\r\nHost: a\r\nX-Request-ID: big-v2\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n",
             413, "big-v2", ["message"]),
            ("POST /v1/rerank HTTP/1.1\r\nHost: a\r\nX-Request-ID: big-v1\r\nContent-Length: 5000000\r\n\r\n", 413, "big-v1", ["detail", "message"]),
            ("POST /recommend HTTP/1.1\r\nHost: a\r\nX-Request-ID: big-ours\r\nContent-Length: 5000000\r\n\r\n", 413, "big-ours", ["error"]),
            // 431 (more than 100 fields) and a malformed message (400) on Cohere's route
            ("POST /v2/rerank HTTP/1.1\r\nHost: a\r\nX-Request-ID: wide-v2\r\n" + manyFields + "\r\n", 431, "wide-v2", ["message"]),
            ("POST /v2/rerank HTTP/1.1\r\nHost: a\r\nX-Request-ID: bad-v2\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
             400, "bad-v2", ["message"]),
            // no request line: no route, our envelope, a fresh id
            ("\u{1}\r\n\r\n", 400, nil, ["error"]),
        ]
        for (request, status, sent, keys) in cases {
            let client = try LoopbackHTTPClient(port: service.port, receiveTimeout: 20)
            client.send(request)
            let response = try client.readResponse()
            XCTAssertEqual(response.status, status, response.text)
            let id = try XCTUnwrap(response.header("X-Request-ID"), response.text)
            if let sent { XCTAssertEqual(id, sent) } else { XCTAssertEqual(id.count, 32) }
            let body = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], response.text)
            XCTAssertEqual(body.keys.sorted(), keys, response.text)
            XCTAssertTrue(Self.eventually { service.logEntries("request").contains { $0["request_id"] as? String == id && $0["status"] as? Int == status } },
                          "the access-log line of the \(status) has \(id)")
        }
    }

    /// max_connections held by idle keep-alive clients: /healthz and /readyz still answer 200 (the probe reserve),
    /// anything else gets the limit's 503 in its route's shape with its id, the refusals are counted in
    /// /metrics, and the log warns about them at most once a second, with counts.
    func testProbesAnswerAtTheConnectionLimitAndRefusalsShow() throws {
        let service = try InProcessService(settings: ["max_connections": "2"])
        defer { _ = service.terminate() }
        let limits = try XCTUnwrap(try service.request("GET", "/info").json?["limits"] as? [String: Any])
        XCTAssertEqual(limits["max_connections"] as? Int, 2)
        let reserve = try XCTUnwrap(limits["probe_reserve_connections"] as? Int)
        XCTAssertTrue(Self.eventually { Self.metric("instructrec_open_connections", try? service.request("GET", "/metrics").body) == 1 },
                      "only the scrape itself is open")

        // The scrapes' connections are closed on the server's side too before the two regular slots are taken
        // (a late close would send a held client to the probe reserve, which answers one probe and closes).
        XCTAssertTrue(Self.eventually { service.server.openConnections == 0 })
        let held = try (0..<2).map { _ in try LoopbackHTTPClient(port: service.port) }
        for client in held {
            client.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
            XCTAssertEqual(try client.readResponse().status, 200)
        }
        for path in ["/healthz", "/readyz"] { XCTAssertEqual(try service.request("GET", path).status, 200, "\(path) at the limit") }

        let start = Date()
        let other = try LoopbackHTTPClient(port: service.port)
        let body = #"{"query": "q", "documents": ["a"]}"#
        other.send("POST /v2/rerank HTTP/1.1\r\nHost: a\r\nX-Request-ID: over-1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let refused = try other.readResponse()
        XCTAssertEqual(refused.status, 503, refused.text)
        XCTAssertEqual(refused.header("Retry-After"), "1")
        XCTAssertEqual(refused.header("X-Request-ID"), "over-1")
        let refusal = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(refused.body)) as? [String: Any])
        XCTAssertEqual(refusal.keys.sorted(), ["message"], "Cohere's error body on /v2/rerank")
        XCTAssertTrue(Self.eventually { service.logEntries("request").contains { $0["request_id"] as? String == "over-1" && $0["status"] as? Int == 503 } })

        // A burst of connections that send nothing: the reserve takes the first (408 after its short wait),
        // the rest are refused at accept, each 503 with its own id.
        let burst = try (0..<(reserve + 20)).map { _ in try LoopbackHTTPClient(port: service.port, receiveTimeout: 20) }
        var refusedAtAccept = 0
        for client in burst {
            let response = try client.readResponse()
            XCTAssertNotNil(response.header("X-Request-ID"), response.text)
            XCTAssertTrue([503, 408].contains(response.status), response.text)
            if response.status == 503 { refusedAtAccept += 1 }
        }
        XCTAssertGreaterThanOrEqual(refusedAtAccept, 20)
        var rejected = 1 + refusedAtAccept
        // A scrape is a probe too; should it come before the reserve's last 408 is closed, it is one more refusal.
        var scrape = try service.request("GET", "/metrics")
        for _ in 0..<50 where scrape.status == 503 {
            rejected += 1
            Thread.sleep(forTimeInterval: 0.1)
            scrape = try service.request("GET", "/metrics")
        }
        let metrics = scrape.body
        XCTAssertEqual(Self.metric("instructrec_rejected_connections_total", metrics), Double(rejected), metrics)
        XCTAssertGreaterThanOrEqual(Self.metric("instructrec_open_connections", metrics) ?? 0, 2, metrics)

        // Every refusal is in a warning's count, and the warnings come at most once a second.
        XCTAssertTrue(Self.eventually {
            service.logEntries("connections rejected").reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == rejected
        }, service.logEntries("connections rejected").description)
        let lines = service.logEntries("connections rejected")
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertLessThanOrEqual(lines.count, Int(elapsed) + 2, "\(rejected) refusals in \(elapsed) s: \(lines)")
        XCTAssertLessThan(lines.count, rejected)
        for client in held { client.close() }
    }

    /// The value of an unlabelled series in Prometheus text.
    static func metric(_ name: String, _ text: String?) -> Double? {
        text?.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
    }

    /// Polls `condition` until it holds or `seconds` pass (generous: the machine may be busy).
    static func eventually(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return true
    }
}
