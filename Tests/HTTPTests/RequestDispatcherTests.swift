import XCTest
@testable import HTTP

/// Content decoding and routing, before any handler runs, without sockets.
final class RequestDispatcherTests: XCTestCase {
    func dispatcher(maxDecodedBodyBytes: Int = 1000) -> RequestDispatcher {
        var router = Router()
        router.add("GET", "/hello") { _, responder in responder.respond(.text("hello")) }
        router.add("POST", "/echo") { request, responder in responder.respond(HTTPResponse(body: request.body)) }
        return RequestDispatcher(router: router, maxDecodedBodyBytes: maxDecodedBodyBytes)
    }

    func request(_ method: String, _ target: String, body: [UInt8] = [], encoding: String? = nil) -> HTTPRequest {
        var headers = HTTPHeaders([("Host", "x")])
        if let encoding { headers.add("Content-Encoding", encoding) }
        return HTTPRequest(method: method, target: target, headers: headers, body: body)
    }

    func refusal(_ outcome: RequestDispatcher.Outcome, file: StaticString = #filePath, line: UInt = #line) -> HTTPError? {
        guard case let .refused(error) = outcome else { XCTFail("expected a refusal", file: file, line: line); return nil }
        return error
    }

    func handled(_ outcome: RequestDispatcher.Outcome, file: StaticString = #filePath, line: UInt = #line) -> HTTPRequest? {
        guard case let .handler(_, request) = outcome else { XCTFail("expected a handler", file: file, line: line); return nil }
        return request
    }

    func testAGzipBodyIsDecodedAndItsContentEncodingRemoved() throws {
        let compressed = try XCTUnwrap(Gzip.compress(Array("hello gzip".utf8)))
        for coding in ["gzip", " x-gzip ", "GZIP"] {
            let decoded = handled(dispatcher().dispatch(request("POST", "/echo", body: compressed, encoding: coding)))
            XCTAssertEqual(decoded?.body, Array("hello gzip".utf8), coding)
            XCTAssertNil(decoded?.headers["Content-Encoding"])
        }
        XCTAssertEqual(handled(dispatcher().dispatch(request("POST", "/echo", body: [1, 2], encoding: "identity")))?.body, [1, 2])
    }

    func testAGzipBombIs413AndCorruptGzipIs400AndOtherCodingsAre415() throws {
        let bomb = try XCTUnwrap(Gzip.compress([UInt8](repeating: 0, count: 100_000)))
        XCTAssertEqual(refusal(dispatcher(maxDecodedBodyBytes: 1000).dispatch(request("POST", "/echo", body: bomb, encoding: "gzip")))?.status, 413)
        XCTAssertEqual(refusal(dispatcher().dispatch(request("POST", "/echo", body: [1, 2, 3], encoding: "gzip")))?.status, 400)
        let brotli = refusal(dispatcher().dispatch(request("POST", "/echo", body: [1], encoding: "br")))
        XCTAssertEqual(brotli?.status, 415)
        XCTAssertEqual(brotli?.code, "unsupported_content_encoding")
        // Decoding comes first: a bad coding on an unknown path is still 415.
        XCTAssertEqual(refusal(dispatcher().dispatch(request("POST", "/nope", body: [1], encoding: "br")))?.status, 415)
    }

    func testAnUnknownPathIs404AndAWrongMethodIs405WithAllow() {
        let missing = refusal(dispatcher().dispatch(request("GET", "/nope?x=1")))
        XCTAssertEqual(missing?.status, 404)
        XCTAssertEqual(missing?.message, "no route for /nope")
        let wrong = refusal(dispatcher().dispatch(request("DELETE", "/hello")))
        XCTAssertEqual(wrong?.status, 405)
        XCTAssertEqual(wrong?.headers["Allow"], "GET, HEAD")
        XCTAssertEqual(wrong?.closeConnection, false, "a routing refusal keeps the connection")
    }

    func testHEADIsServedByTheGETHandlerAndAFallbackTakesWhatNoRouteMatches() {
        XCTAssertEqual(handled(dispatcher().dispatch(request("HEAD", "/hello")))?.method, "HEAD")
        var router = Router()
        router.add("GET", "/healthz") { _, responder in responder.respond(.text("ok")) }
        router.fallback = { _, responder in responder.respond(.text("loading", status: 503)) }
        let loading = RequestDispatcher(router: router, maxDecodedBodyBytes: 10)
        XCTAssertNotNil(handled(loading.dispatch(request("GET", "/anything"))))
        XCTAssertNotNil(handled(loading.dispatch(request("DELETE", "/healthz"))))
    }

    func testTheApplicationWordsErrorsAndTheLayerKeepsStatusAndProtocolFields() {
        let renderer = ErrorRenderer { error in .text("custom \(error.code)", status: 200) }
        let response = renderer.response(for: HTTPError(status: 503, code: "overloaded", message: "m",
                                                         headers: HTTPHeaders([("Retry-After", "1")])))
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.headers["Retry-After"], "1")
        XCTAssertEqual(response.body, Array("custom overloaded".utf8))
        let plain = ErrorRenderer.plainText.response(for: HTTPError(status: 404, code: "not_found", message: "no route for /x"))
        XCTAssertEqual(String(decoding: plain.body, as: UTF8.self), "not_found: no route for /x\n")
        XCTAssertEqual(plain.headers["Content-Type"], "text/plain; charset=utf-8")
    }
}
