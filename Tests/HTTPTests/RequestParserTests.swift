import XCTest
@testable import HTTP

/// The parser state machine, without sockets. Every case is fed whole, split
/// at every position into two pieces, and one byte at a time; all three must
/// produce the same requests or the same error.
final class RequestParserTests: XCTestCase {
    enum Outcome: Equatable {
        case requests([HTTPRequest])
        case failure(status: Int, after: Int)   // requests completed before the failure
    }

    func parse(_ pieces: [[UInt8]], limits: ParserLimits = ParserLimits()) -> (Outcome, continues: Int) {
        var parser = RequestParser(limits: limits)
        var requests: [HTTPRequest] = []
        var continues = 0
        for piece in pieces {
            parser.feed(piece)
            loop: while true {
                switch parser.next() {
                case .needMoreData: break loop
                case .continueExpected: continues += 1
                case let .request(request): requests.append(request)
                case let .failure(error): return (.failure(status: error.status, after: requests.count), continues)
                }
            }
        }
        return (.requests(requests), continues)
    }

    /// Asserts the outcome is the same for every way of splitting `raw`.
    @discardableResult
    func check(_ raw: String, limits: ParserLimits = ParserLimits(), file: StaticString = #filePath, line: UInt = #line) -> Outcome {
        let bytes = Array(raw.utf8)
        let (whole, _) = parse([bytes], limits: limits)
        for split in 0...bytes.count {
            let (outcome, _) = parse([Array(bytes[..<split]), Array(bytes[split...])], limits: limits)
            if outcome != whole {
                XCTFail("split at \(split) gives \(outcome), whole gives \(whole)", file: file, line: line)
                return whole
            }
        }
        let (byteWise, _) = parse(bytes.map { [$0] }, limits: limits)
        XCTAssertEqual(byteWise, whole, "byte-at-a-time differs", file: file, line: line)
        return whole
    }

    func requests(_ raw: String, file: StaticString = #filePath, line: UInt = #line) -> [HTTPRequest] {
        guard case let .requests(list) = check(raw, file: file, line: line) else {
            XCTFail("expected requests for \(raw.debugDescription)", file: file, line: line)
            return []
        }
        return list
    }

    func assertRejected(_ raw: String, status: Int = 400, limits: ParserLimits = ParserLimits(),
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(check(raw, limits: limits, file: file, line: line), .failure(status: status, after: 0),
                       raw.debugDescription, file: file, line: line)
    }

    // MARK: valid requests

    func testSimpleGet() {
        let list = requests("GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n")
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list.first?.method, "GET")
        XCTAssertEqual(list.first?.path, "/healthz")
        XCTAssertEqual(list.first?.query, "x=1")
        XCTAssertEqual(list.first?.headers["user-agent"], "t")
        XCTAssertEqual(list.first?.keepAlive, true)
    }

    /// RFC 9112 §3.2.2: the absolute-form is accepted; it routes by its path and query,
    /// and its authority replaces the Host field.
    func testAbsoluteFormTargetRoutesByPathAndTakesItsAuthorityAsHost() {
        let list = requests("GET http://api.example:8080/healthz?x=1 HTTP/1.1\r\nHost: other\r\n\r\n")
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list.first?.target, "/healthz?x=1")
        XCTAssertEqual(list.first?.path, "/healthz")
        XCTAssertEqual(list.first?.query, "x=1")
        XCTAssertEqual(list.first?.headers.values("host"), ["api.example:8080"])

        // scheme is case-insensitive; an empty path is "/" (RFC 9112 §3.2.1); query without path
        XCTAssertEqual(requests("GET HTTPS://h HTTP/1.1\r\nHost: h\r\n\r\n").first?.target, "/")
        XCTAssertEqual(requests("GET http://h?q=2 HTTP/1.1\r\nHost: h\r\n\r\n").first?.target, "/?q=2")
        // HTTP/1.0 needs no Host: the authority supplies it
        let old = requests("GET http://[::1]:9/metrics HTTP/1.0\r\n\r\n")
        XCTAssertEqual(old.first?.path, "/metrics")
        XCTAssertEqual(old.first?.headers["Host"], "[::1]:9")
        // pipelined: the next (origin-form) request does not inherit the authority
        let two = requests("GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\nGET /y HTTP/1.1\r\nHost: b\r\n\r\n")
        XCTAssertEqual(two.map(\.target), ["/x", "/y"])
        XCTAssertEqual(two.map { $0.headers["Host"] }, ["a", "b"])
    }

    func testInvalidAbsoluteFormTargetsAreRejected() {
        assertRejected("GET http:///healthz HTTP/1.1\r\nHost: a\r\n\r\n")          // empty host (RFC 9110 §4.2.1)
        assertRejected("GET http://:80/healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        assertRejected("GET http://u:p@a/healthz HTTP/1.1\r\nHost: a\r\n\r\n")     // userinfo (RFC 9110 §4.2.4)
        assertRejected("GET ftp://a/healthz HTTP/1.1\r\nHost: a\r\n\r\n")          // not a scheme we serve
        assertRejected("GET http://a/healthz#f HTTP/1.1\r\nHost: a\r\n\r\n")       // fragment
        assertRejected("GET http://a/healthz HTTP/1.1\r\n\r\n")                      // HTTP/1.1 still needs Host (RFC 9112 §3.2)
        assertRejected("GET http://a/healthz HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n")
    }

    func testContentLengthBody() {
        let list = requests("POST /r HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world")
        XCTAssertEqual(list.first.map { String(decoding: $0.body, as: UTF8.self) }, "hello world")
    }

    func testChunkedBodyWithExtensionsAndTrailers() {
        let list = requests("POST /r HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1;q=\"x y\"\r\nhello\r\n6\r\n world\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n")
        XCTAssertEqual(list.first.map { String(decoding: $0.body, as: UTF8.self) }, "hello world0123456789")
        XCTAssertEqual(list.first?.trailers["x-trailer"], "yes")
    }

    func testPipelinedRequestsComeOutInOrder() {
        let list = requests("GET /a HTTP/1.1\r\nHost: a\r\n\r\nPOST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(list.map(\.path), ["/a", "/b", "/c"])
        XCTAssertEqual(list.map(\.keepAlive), [true, true, false])
    }

    func testHTTP10KeepAliveRules() {
        XCTAssertEqual(requests("GET / HTTP/1.0\r\n\r\n").first?.keepAlive, false)
        XCTAssertEqual(requests("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").first?.keepAlive, true)
        XCTAssertEqual(requests("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n").first?.keepAlive, false)
    }

    func testLeadingEmptyLineAndBareLFAreAccepted() {
        XCTAssertEqual(requests("\r\nGET / HTTP/1.1\nHost: a\n\n").count, 1)
    }

    func testIdenticalDuplicateContentLengthIsAccepted() {
        XCTAssertEqual(requests("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok").first?.body, Array("ok".utf8))
    }

    func testExpectContinueIsAnnouncedOnce() {
        let raw = Array("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n".utf8)
        let (outcome, continues) = parse([raw, Array("abc".utf8)])
        XCTAssertEqual(continues, 1)
        if case let .requests(list) = outcome { XCTAssertEqual(list.first?.body, Array("abc".utf8)) } else { XCTFail() }
        assertRejected("POST / HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\nContent-Length: 3\r\n\r\nabc", status: 417)
    }

    func testHeaderValueWhitespaceIsTrimmed() {
        XCTAssertEqual(requests("GET / HTTP/1.1\r\nHost: a\r\nX-A: \t value with  spaces \t\r\n\r\n").first?.headers["x-a"], "value with  spaces")
    }

    // MARK: framing attacks and malformed input (400, connection closed)

    func testContentLengthWithTransferEncodingIsRejected() {
        assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    }

    func testDifferingContentLengthsAreRejected() {
        assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
        assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!")
        assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello")
        assertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n")
    }

    func testTransferEncodingOtherThanChunkedLastIsRejected() {
        assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")
        assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n")
        assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        assertRejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", status: 501)
    }

    func testObsFoldIsRejected() {
        assertRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n")
    }

    func testBareCRIsRejected() {
        assertRejected("GET / HTTP/1.1\rHost: a\r\n\r\n")
        assertRejected("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n")
    }

    func testInvalidChunkSizesAreRejected() {
        for size in ["g", "", " 5", "-1", "0x5", "1ffffffffffffffff", "ffffffffffffffff", "5 x"] {
            assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nhello\r\n0\r\n\r\n")
        }
        assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n")
    }

    func testInvalidHeaderNamesAreRejected() {
        for name in ["X A", "X(A)", "X\u{01}A", "Ä", "X@A", ""] {
            assertRejected("GET / HTTP/1.1\r\nHost: a\r\n\(name): v\r\n\r\n")
        }
        assertRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: v\u{00}w\r\n\r\n")
    }

    func testWhitespaceBeforeColonIsRejected() {
        assertRejected("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello")
        assertRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A\t: v\r\n\r\n")
    }

    func testMalformedRequestLinesAreRejected() {
        assertRejected("GET  / HTTP/1.1\r\nHost: a\r\n\r\n")
        assertRejected("GET / HTTP/1.1 \r\nHost: a\r\n\r\n")
        assertRejected("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n")
        assertRejected("G(T / HTTP/1.1\r\nHost: a\r\n\r\n")
        assertRejected("GET / HTTP/1.x\r\nHost: a\r\n\r\n")
        assertRejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505)
        assertRejected("GET / HTTP/1.1\r\n\r\n")  // no Host
        assertRejected("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    }

    // MARK: limits

    func testLimitsAnswerWithTheirStatuses() {
        var limits = ParserLimits()
        limits.maxRequestLineBytes = 64
        limits.maxHeaderBytes = 256
        limits.maxHeaderCount = 5
        limits.maxBodyBytes = 10
        assertRejected("GET /\(String(repeating: "a", count: 100)) HTTP/1.1\r\nHost: a\r\n\r\n", status: 414, limits: limits)
        assertRejected("GET / HTTP/1.1\r\nHost: a\r\nX: \(String(repeating: "v", count: 300))\r\n\r\n", status: 431, limits: limits)
        assertRejected("GET / HTTP/1.1\r\nHost: a\r\n" + (0..<6).map { "X\($0): v\r\n" }.joined() + "\r\n", status: 431, limits: limits)
        // announced by Content-Length: 413 before any body byte arrives
        var parser = RequestParser(limits: limits)
        parser.feed(Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n".utf8))
        XCTAssertEqual(parser.next(), .failure(HTTPError(status: 413, code: "content_too_large",
                                                          message: "request body exceeds 10 bytes", closeConnection: true)))
        assertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n", status: 413, limits: limits)
    }

    func testPhaseTracksWhereTheRequestIs() {
        var parser = RequestParser()
        XCTAssertEqual(parser.phase, .idle)
        parser.feed(Array("GET / HT".utf8))
        _ = parser.next()
        XCTAssertEqual(parser.phase, .headers)
        parser.feed(Array("TP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab".utf8))
        _ = parser.next()
        XCTAssertEqual(parser.phase, .body)
        parser.feed(Array("cd".utf8))
        if case .request = parser.next() {} else { XCTFail() }
        XCTAssertEqual(parser.phase, .idle)
    }
}
