import XCTest
@testable import HTTP

/// The connection's protocol rules as pure event sequences: no sockets, no
/// clock. `MachineHarness` plays the socket (it takes every write unless told
/// it is blocked) and the application (it answers when the test says).
final class ConnectionStateMachineTests: XCTestCase {
    // Timeouts of the harness: header 10 s, body 30 s, idle 75 s, write 30 s (the defaults).

    func testRequestIsDeliveredAndAnsweredOnAKeptAliveConnection() {
        var h = MachineHarness()
        h.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", at: 1)
        XCTAssertEqual(h.delivered.map(\.request.path), ["/a"])
        h.respond(.text("hi"), at: 2)
        XCTAssertEqual(h.responses.count, 1)
        XCTAssertTrue(h.responses[0].hasPrefix("HTTP/1.1 200 OK\r\n"), h.responses[0])
        XCTAssertFalse(h.responses[0].contains("Connection: close"))
        XCTAssertTrue(h.responses[0].hasSuffix("\r\n\r\nhi"))
        XCTAssertEqual(h.machine.state, .reading)
        XCTAssertNil(h.closedReason)
        // RFC 9112 §9.5: the idle deadline runs from the response.
        XCTAssertEqual(h.timer, 2 + 75)
    }

    func testConnectionCloseIsAnnouncedAndTheConnectionClosesOnceTheResponseIsWritten() {
        var h = MachineHarness()
        h.socketTakesWrites = false
        h.receive("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", at: 1)
        h.respond(.text("bye"), at: 1)
        XCTAssertTrue(h.responses[0].contains("Connection: close\r\n"))
        XCTAssertNil(h.closedReason, "still writing")
        h.socketDrains(at: 2)
        XCTAssertEqual(h.closedReason, "done")
    }

    func testHTTP10ClosesUnlessItAsksForKeepAlive() {
        var plain = MachineHarness()
        plain.receive("GET /a HTTP/1.0\r\n\r\n", at: 0)
        plain.respond(.text("x"), at: 0)
        XCTAssertTrue(plain.responses[0].hasPrefix("HTTP/1.0 200"))
        XCTAssertTrue(plain.responses[0].contains("Connection: close"))
        XCTAssertEqual(plain.closedReason, "done")

        var kept = MachineHarness()
        kept.receive("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", at: 0)
        kept.respond(.text("x"), at: 0)
        XCTAssertTrue(kept.responses[0].contains("Connection: keep-alive"))
        XCTAssertNil(kept.closedReason)
    }

    func testPipelinedRequestsGoToTheApplicationOneAtATimeAndAreAnsweredInOrder() {
        var h = MachineHarness()
        h.receive("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n", at: 0)
        XCTAssertEqual(h.delivered.map(\.request.path), ["/1"], "the second waits for the first's response")
        h.respond(.text("one"), at: 1)
        XCTAssertEqual(h.parseLaterRequests, 1)
        h.runParseLater(at: 1)
        XCTAssertEqual(h.delivered.map(\.request.path), ["/1", "/2"])
        h.respond(.text("two"), at: 2)
        h.runParseLater(at: 2)
        h.respond(.text("three"), at: 3)
        XCTAssertEqual(h.responses.map { $0.components(separatedBy: "\r\n\r\n").last }, ["one", "two", "three"])
    }

    func testAResponseForAnotherSequenceIsIgnored() {
        var h = MachineHarness()
        h.receive("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n", at: 0)
        let sequence = h.delivered[0].sequence
        h.perform(h.machine.responseReady(.text("stale"), sequence: sequence + 1, now: 1))
        XCTAssertTrue(h.responses.isEmpty)
        h.respond(.text("right"), at: 1)
        h.perform(h.machine.responseReady(.text("again"), sequence: sequence, now: 1))
        XCTAssertEqual(h.responses.count, 1)
    }

    func testExpect100ContinueIsAnsweredBeforeTheBodyAndStartsTheBodyDeadline() {
        var h = MachineHarness()
        h.receive("POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", at: 4)
        XCTAssertEqual(h.responses, ["HTTP/1.1 100 Continue\r\n\r\n"])
        XCTAssertEqual(h.timer, 4 + 30, "body deadline from the 100 Continue")
        h.receive("abc", at: 5)
        XCTAssertEqual(h.delivered.first?.request.body, Array("abc".utf8))
    }

    // MARK: deadlines

    func testAConnectionThatSendsNothingGets408AfterTheHeaderTimeout() {
        var h = MachineHarness()
        XCTAssertEqual(h.timer, 10)
        h.fireTimer(at: 9.9)
        XCTAssertTrue(h.responses.isEmpty, "not yet")
        XCTAssertEqual(h.timer, 10, "re-armed")
        h.fireTimer(at: 10.1)
        XCTAssertTrue(h.responses.first?.hasPrefix("HTTP/1.1 408 Request Timeout") ?? false, h.responses.first ?? "")
        XCTAssertTrue(h.responses[0].contains("no request within 10.0 s"))
        XCTAssertEqual(h.closedReason, "done")
        XCTAssertEqual(h.records.last?.answeredByHTTPLayer, true)
    }

    func testHeadersThatTrickleInGet408FromTheirFirstByte() {
        var h = MachineHarness()
        h.receive("GET /a HTTP/1.1\r\nHo", at: 3)
        XCTAssertEqual(h.timer, 3 + 10)
        h.receive("st: x\r\n", at: 12)
        h.fireTimer(at: 13.1)
        XCTAssertTrue(h.responses.first?.contains("headers not received within") ?? false)
        XCTAssertEqual(h.closedReason, "done")
    }

    func testABodyThatTricklesInGets408AfterTheBodyTimeout() {
        var h = MachineHarness()
        h.receive("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab", at: 1)
        XCTAssertEqual(h.timer, 1 + 30)
        h.fireTimer(at: 31.1)
        XCTAssertTrue(h.responses.first?.contains("body not received within 30.0 s") ?? false)
        XCTAssertTrue(h.delivered.isEmpty)
    }

    func testAKeptAliveConnectionThatStaysQuietClosesWithoutAResponse() {
        var h = MachineHarness()
        h.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", at: 0)
        h.respond(.text("x"), at: 2)
        h.fireTimer(at: 77.1)
        XCTAssertEqual(h.responses.count, 1, "no 408 on an idle kept-alive connection")
        XCTAssertEqual(h.closedReason, "idle timeout")
    }

    func testNoReadDeadlineRunsWhileTheApplicationHandlesARequest() {
        var h = MachineHarness()
        h.receive("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", at: 0)
        XCTAssertNil(h.timer)
        h.respond(.text("late"), at: 500)
        XCTAssertEqual(h.timer, 500 + 75)
        XCTAssertNil(h.closedReason)
    }

    func testAClientThatStopsReadingIsCutOffByTheWriteDeadlineButAReadingOneIsNot() {
        var h = MachineHarness()
        h.socketTakesWrites = false
        h.receive("GET /big HTTP/1.1\r\nHost: x\r\n\r\n", at: 0)
        h.respond(.text(String(repeating: "x", count: 100)), at: 1)
        XCTAssertEqual(h.timer, 1 + 30, "the write deadline is the earliest")
        h.socketTakesSome(at: 20)
        XCTAssertEqual(h.timer, 20 + 30, "progress moves it")
        h.fireTimer(at: 49)
        XCTAssertNil(h.closedReason)
        h.fireTimer(at: 50.1)
        XCTAssertEqual(h.closedReason, "write timeout")
    }

    // MARK: half-close and shutdown

    func testAHalfClosedClientGetsItsResponseAndThenTheConnectionCloses() {
        var h = MachineHarness()
        h.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", at: 0, thenEOF: true)
        XCTAssertTrue(h.readingPaused, "no more reads after EOF")
        XCTAssertEqual(h.delivered.count, 1)
        XCTAssertNil(h.closedReason)
        h.respond(.text("hello"), at: 1)
        XCTAssertTrue(h.responses[0].contains("Connection: close"))
        XCTAssertEqual(h.closedReason, "done")
    }

    func testEOFInTheMiddleOfARequestClosesWithoutAnAnswer() {
        var h = MachineHarness()
        h.receive("GET /a HTTP/1.1\r\nHo", at: 0, thenEOF: true)
        XCTAssertTrue(h.responses.isEmpty)
        XCTAssertEqual(h.closedReason, "peer closed mid-request")
    }

    func testEOFWhileAResponseIsStillBeingWrittenWaitsForTheWrite() {
        var h = MachineHarness()
        h.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", at: 0)
        h.socketTakesWrites = false
        h.respond(.text("pending"), at: 1)
        h.perform(h.machine.peerClosed(now: 2))
        XCTAssertNil(h.closedReason)
        h.socketDrains(at: 3)
        XCTAssertEqual(h.closedReason, "done")
    }

    func testShutdownClosesAnIdleConnectionAtOnceAndABusyOneAfterItsResponse() {
        var idle = MachineHarness()
        idle.perform(idle.machine.shutdownBegan(now: 1))
        XCTAssertEqual(idle.closedReason, "shutdown")

        var busy = MachineHarness()
        busy.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", at: 0)
        busy.perform(busy.machine.shutdownBegan(now: 1))
        XCTAssertNil(busy.closedReason)
        busy.respond(.text("last"), at: 2)
        XCTAssertTrue(busy.responses[0].contains("Connection: close"))
        XCTAssertEqual(busy.closedReason, "done")

        var halfRead = MachineHarness()
        halfRead.receive("GET /a HTTP/1.1\r\n", at: 0)
        halfRead.perform(halfRead.machine.shutdownBegan(now: 1))
        XCTAssertNil(halfRead.closedReason, "a request already arriving is finished")
    }

    // MARK: errors

    func testAnErrorBeforeTheRequestLineIsRecordedWithoutARoute() {
        var h = MachineHarness()
        h.receive("GET /" + String(repeating: "a", count: 70_000) + " HTTP/1.1\r\n\r\n", at: 0)
        XCTAssertTrue(h.responses[0].hasPrefix("HTTP/1.1 414"), h.responses[0])
        XCTAssertEqual(h.records.last?.path, "-")
        // After a served request, the next request's early error does not borrow the previous path.
        var kept = MachineHarness()
        kept.receive("GET /first HTTP/1.1\r\nHost: x\r\n\r\n", at: 0)
        kept.respond(.text("ok"), at: 0)
        kept.receive("GET /" + String(repeating: "b", count: 70_000), at: 1)
        XCTAssertEqual(kept.records.last?.path, "-")
    }

    func testAFramingErrorIsAnsweredWithTheApplicationsBodyAndCloses() {
        var h = MachineHarness()
        h.receive("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", at: 0)
        XCTAssertTrue(h.responses[0].hasPrefix("HTTP/1.1 400 Bad Request"))
        XCTAssertTrue(h.responses[0].contains("Connection: close"))
        XCTAssertTrue(h.responses[0].contains(#"{"error":{"code":"bad_request""#), h.responses[0])
        // The request line was in: the record names its method and path (the error is counted under its route).
        let record = h.records.last
        XCTAssertEqual(record?.method, "POST")
        XCTAssertEqual(record?.path, "/")
        XCTAssertEqual(record?.status, 400)
        XCTAssertEqual(record?.bytes, h.responses[0].utf8.count)
        XCTAssertEqual(record?.peer, "198.51.100.7:4242")
        XCTAssertEqual(record?.answeredByHTTPLayer, true)
        XCTAssertEqual(h.closedReason, "done")
        XCTAssertEqual(h.perform(h.machine.bytesReceived(Array("GET / HTTP/1.1\r\n\r\n".utf8), now: 1)), [])
    }

    func testARefusalKeepsTheConnectionAndCarriesTheProtocolFields() {
        var h = MachineHarness()
        h.receive("DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n", at: 0)
        h.perform(h.machine.requestRefused(HTTPError(status: 405, code: "method_not_allowed", message: "no",
                                                     headers: HTTPHeaders([("Allow", "GET, HEAD")])),
                                           sequence: h.delivered[0].sequence, now: 1))
        XCTAssertTrue(h.responses[0].hasPrefix("HTTP/1.1 405 Method Not Allowed"))
        XCTAssertTrue(h.responses[0].contains("Allow: GET, HEAD\r\n"))
        XCTAssertTrue(h.responses[0].hasSuffix(#"{"error":{"code":"method_not_allowed","message":"no"}}"#))
        XCTAssertEqual(h.records.last?.answeredByHTTPLayer, true)
        XCTAssertEqual(h.machine.state, .reading)
    }

    /// 400, 408, 413 and 431 come before any request reaches the application; each still carries a request id,
    /// the client's when its X-Request-ID came in before the error, and its access record carries the same one.
    func testEarlyAnswersCarryARequestIDAndTheirRecordHasIt() {
        let cases: [(name: String, bytes: String, timerAt: Double?, status: Int, id: String?)] = [
            ("400", "POST /a HTTP/1.1\r\nHost: x\r\nX-Request-ID: bad-1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", nil, 400, "bad-1"),
            ("413", "POST /a HTTP/1.1\r\nHost: x\r\nX-Request-ID: big-1\r\nContent-Length: 99999999\r\n\r\n", nil, 413, "big-1"),
            ("431", "GET /a HTTP/1.1\r\nHost: x\r\nX-Request-ID: wide-1\r\nX-Big: " + String(repeating: "b", count: 40_000) + "\r\n\r\n", nil, 431, "wide-1"),
            ("408 mid-headers", "GET /a HTTP/1.1\r\nX-Request-ID: slow-1\r\nHo", 11, 408, "slow-1"),
            ("408 silent", "", 11, 408, nil),
            ("400 unsafe id", "GET /a HTTP/1.1\r\nX-Request-ID: has space\r\nBad Header\r\n\r\n", nil, 400, nil),
        ]
        for c in cases {
            var h = MachineHarness()
            if !c.bytes.isEmpty { h.receive(c.bytes, at: 0) }
            if let at = c.timerAt { h.fireTimer(at: at) }
            XCTAssertTrue(h.responses.first?.hasPrefix("HTTP/1.1 \(c.status) ") ?? false, "\(c.name): \(h.responses.first ?? "none")")
            let header = h.responses.first.flatMap(MachineHarness.requestID)
            let record = h.records.last
            XCTAssertEqual(record?.status, c.status, c.name)
            XCTAssertEqual(record?.requestID, header, "\(c.name): the access record has the id the response carries")
            if let id = c.id {
                XCTAssertEqual(header, id, c.name)
            } else {
                XCTAssertEqual(header?.count, 32, "\(c.name): a fresh id")
                XCTAssertTrue(header?.allSatisfy(\.isHexDigit) ?? false, c.name)
            }
            XCTAssertEqual(h.closedReason, "done", c.name)
        }
    }

    /// The application words an early answer for the route whose request line was read (nil before one was).
    func testEarlyAnswersAreWordedForTheirRoute() {
        let renderer = ErrorRenderer(byPath: { error, path in .text("\(error.status) on \(path ?? "no route")") })
        var big = MachineHarness(errors: renderer)
        big.receive("POST /v2/rerank?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", at: 0)
        XCTAssertTrue(big.responses[0].hasSuffix("413 on /v2/rerank"), big.responses[0])
        var silent = MachineHarness(errors: renderer)
        silent.fireTimer(at: 11)
        XCTAssertTrue(silent.responses[0].hasSuffix("408 on no route"), silent.responses[0])
        var refused = MachineHarness(errors: renderer)
        refused.receive("GET /v1/rerank HTTP/1.1\r\nHost: x\r\n\r\n", at: 0)
        refused.perform(refused.machine.requestRefused(.internalError, sequence: refused.delivered[0].sequence, now: 0))
        XCTAssertTrue(refused.responses[0].hasSuffix("500 on /v1/rerank"), refused.responses[0])
    }

    // MARK: the probe reserve

    func testAReserveConnectionServesOneProbeAndThenCloses() {
        var h = MachineHarness(reserve: ProbeReserve(slots: 1, paths: ["/healthz"], headerTimeout: 2))
        XCTAssertEqual(h.timer, 2, "a reserve connection waits briefly for its request")
        h.receive("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", at: 1)
        XCTAssertEqual(h.delivered.map(\.request.path), ["/healthz"])
        h.respond(.text("ok"), at: 1)
        XCTAssertTrue(h.responses[0].hasPrefix("HTTP/1.1 200"))
        XCTAssertTrue(h.responses[0].contains("Connection: close\r\n"), "one probe, then the slot is free")
        XCTAssertEqual(h.closedReason, "done")
        XCTAssertEqual(h.rejections, 0)
    }

    func testAReserveConnectionRefusesAnythingButAProbeAsTheLimitDoes() {
        for request in ["POST /v2/rerank HTTP/1.1\r\nHost: x\r\nX-Request-ID: over-1\r\nContent-Length: 2\r\n\r\n{}",
                        "POST /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: over-1\r\nContent-Length: 0\r\n\r\n"] {
            var h = MachineHarness(reserve: ProbeReserve(slots: 1, paths: ["/healthz"]))
            h.receive(request, at: 0)
            XCTAssertTrue(h.delivered.isEmpty, "never reaches the application")
            XCTAssertTrue(h.responses[0].hasPrefix("HTTP/1.1 503 Service Unavailable"), h.responses[0])
            XCTAssertTrue(h.responses[0].contains("Retry-After: 1\r\n"))
            XCTAssertTrue(h.responses[0].contains("X-Request-ID: over-1\r\n"))
            XCTAssertEqual(h.records.last?.requestID, "over-1")
            XCTAssertEqual(h.records.last?.answeredByHTTPLayer, true)
            XCTAssertEqual(h.rejections, 1, "counted with the connections refused at accept")
            XCTAssertEqual(h.closedReason, "done")
        }
    }

    // MARK: back-pressure, ids, HEAD

    func testReadingPausesWhenTooMuchIsBufferedBehindARequestAndResumesAfterIt() {
        var h = MachineHarness(readAheadLimit: 64)
        h.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", at: 0)
        h.receive(String(repeating: "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", count: 3), at: 0)
        XCTAssertTrue(h.readingPaused)
        h.respond(.text("a"), at: 1)
        XCTAssertFalse(h.readingPaused)
        XCTAssertEqual(h.parseLaterRequests, 1)
    }

    func testRequestIDsAreEchoedWhenSafeAndGeneratedOtherwise() {
        var h = MachineHarness()
        h.receive("GET /a HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc-123\r\n\r\n", at: 0)
        XCTAssertEqual(h.delivered[0].request.requestID, "abc-123")
        XCTAssertEqual(h.delivered[0].request.peer, "198.51.100.7:4242")
        h.respond(.text("x"), at: 0)
        XCTAssertTrue(h.responses[0].contains("X-Request-ID: abc-123\r\n"))
        XCTAssertEqual(h.records.last?.requestID, "abc-123")
        h.receive("GET /a HTTP/1.1\r\nHost: x\r\nX-Request-ID: has space\r\n\r\n", at: 1)
        let generated = h.delivered[1].request.requestID
        XCTAssertEqual(generated.count, 32)
        XCTAssertTrue(generated.allSatisfy(\.isHexDigit))
    }

    func testHEADGetsTheFieldsWithoutTheBody() {
        var h = MachineHarness()
        h.receive("HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n", at: 0)
        h.respond(.text("hello"), at: 0)
        XCTAssertTrue(h.responses[0].contains("Content-Length: 5\r\n"))
        XCTAssertTrue(h.responses[0].hasSuffix("\r\n\r\n"))
    }

    func testAClosedMachineIgnoresEverything() {
        var h = MachineHarness()
        h.perform(h.machine.closeNow(reason: "read error"))
        XCTAssertEqual(h.closedReason, "read error")
        XCTAssertEqual(h.timer, nil)
        XCTAssertEqual(h.machine.bytesReceived(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), now: 1), [])
        XCTAssertEqual(h.machine.timerFired(now: 100), [])
        XCTAssertEqual(h.machine.peerClosed(now: 100), [])
    }
}

/// Plays the socket and the application around a `ConnectionStateMachine`,
/// carrying out its actions the way `Connection` does (in order; events raised
/// meanwhile queue behind them).
struct MachineHarness {
    typealias Action = ConnectionStateMachine.Action

    var machine: ConnectionStateMachine
    /// every write, as text (responses and interim responses)
    var responses: [String] = []
    var delivered: [(request: HTTPRequest, sequence: Int)] = []
    var records: [AccessRecord] = []
    /// `rejectedAtLimit` actions
    var rejections = 0
    var timer: Double?
    var closedReason: String?
    var readingPaused = false
    var parseLaterRequests = 0
    /// false: writes stay queued until `socketDrains` or `socketTakesSome`
    var socketTakesWrites = true
    private var unsent = 0
    private var now = 0.0

    init(readAheadLimit: Int = 1 << 20, errors: ErrorRenderer = .jsonEnvelope, reserve: ProbeReserve? = nil) {
        machine = ConnectionStateMachine(configuration: HTTPServerConfiguration(), errors: errors,
                                         peer: "198.51.100.7:4242", readAheadLimit: readAheadLimit, reserve: reserve)
        perform(machine.connectionOpened(now: 0))
    }

    /// The X-Request-ID of a response's head.
    static func requestID(_ response: String) -> String? {
        let head = response.components(separatedBy: "\r\n\r\n").first ?? ""
        return head.components(separatedBy: "\r\n").first { $0.hasPrefix("X-Request-ID: ") }.map { String($0.dropFirst(14)) }
    }

    mutating func receive(_ text: String, at time: Double, thenEOF: Bool = false) {
        now = time
        perform(machine.bytesReceived(Array(text.utf8), now: time))
        if thenEOF { perform(machine.peerClosed(now: time)) }
    }

    /// Answers the request in flight.
    mutating func respond(_ response: HTTPResponse, at time: Double) {
        now = time
        guard let last = delivered.last else { return XCTFail("nothing delivered") }
        perform(machine.responseReady(response, sequence: last.sequence, now: time))
    }

    mutating func runParseLater(at time: Double) {
        now = time
        perform(machine.resumeParsing(now: time))
    }

    mutating func fireTimer(at time: Double) {
        now = time
        guard let deadline = timer, time > deadline else { return }
        timer = nil
        perform(machine.timerFired(now: time))
    }

    mutating func socketDrains(at time: Double) {
        now = time
        let sent = unsent
        unsent = 0
        perform(machine.flushed(sent: sent, remaining: 0, now: time))
    }

    mutating func socketTakesSome(at time: Double) {
        now = time
        let sent = max(1, unsent / 2)
        unsent -= sent
        perform(machine.flushed(sent: sent, remaining: unsent, now: time))
    }

    @discardableResult
    mutating func perform(_ actions: [Action]) -> [Action] {
        var queue = actions
        var next = 0
        while next < queue.count && closedReason == nil {
            let action = queue[next]
            next += 1
            switch action {
            case let .write(bytes):
                responses.append(String(decoding: bytes, as: UTF8.self))
                unsent += bytes.count
                if socketTakesWrites {
                    let sent = unsent
                    unsent = 0
                    queue += machine.flushed(sent: sent, remaining: 0, now: now)
                } else {
                    queue += machine.flushed(sent: 0, remaining: unsent, now: now)
                }
            case let .deliver(request, sequence):
                delivered.append((request, sequence))
            case .pauseReading: readingPaused = true
            case .resumeReading: readingPaused = false
            case .parseBufferedLater: parseLaterRequests += 1
            case let .armTimer(at): timer = at
            case .cancelTimer: timer = nil
            case let .recordAccess(record): records.append(record)
            case .rejectedAtLimit: rejections += 1
            case let .close(reason): closedReason = reason; timer = nil
            }
        }
        return actions
    }
}
