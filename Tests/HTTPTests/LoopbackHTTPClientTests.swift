import XCTest
@testable import HTTP
import TestSupport

/// The shared loopback client's framing, against the live test server: what
/// the end-to-end bench and the tests rely on.
final class LoopbackHTTPClientTests: XCTestCase {
    func testExchangesOnOneKeepAliveConnectionReturnEachResponseWhole() throws {
        let live = try LiveServer()
        let client = try LoopbackHTTPClient(port: live.port)
        let hello = try client.exchange(Array("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        XCTAssertEqual(hello.status, 200)
        XCTAssertEqual(String(decoding: hello.body, as: UTF8.self), "hello")
        XCTAssertEqual(hello.header("content-length"), "5")
        let echo = try client.exchange(Array("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc".utf8))
        XCTAssertEqual(echo.status, 200)
        XCTAssertTrue(String(decoding: echo.body, as: UTF8.self).contains("\"body\":\"abc\""))
        let missing = try client.exchange(Array("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        XCTAssertEqual(missing.status, 404)
    }

    /// RFC 9112 §6.3: a HEAD response ends at its head although it carries the GET's Content-Length,
    /// so the next response on the connection is read whole, not swallowed as a body.
    func testAHeadResponseHasNoBodyAndTheNextResponseIsReadWhole() throws {
        let live = try LiveServer()
        let client = try LoopbackHTTPClient(port: live.port, receiveTimeout: 2)
        let head = try client.exchange(Array("HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("content-length"), "5")
        XCTAssertTrue(head.body.isEmpty)
        let hello = try client.exchange(Array("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        XCTAssertEqual(hello.status, 200)
        XCTAssertEqual(String(decoding: hello.body, as: UTF8.self), "hello")
    }

    func testAResponseThatNeverCompletesIsAnErrorNotAHang() throws {
        let live = try LiveServer()
        let client = try LoopbackHTTPClient(port: live.port, receiveTimeout: 0.5)
        client.send("GET /slow?s=3 HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertThrowsError(try client.readResponse())
    }
}
