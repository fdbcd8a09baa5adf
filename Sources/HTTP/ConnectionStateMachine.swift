/// Every protocol decision about one HTTP/1.1 connection, with no I/O (in the
/// style of SwiftNIO's state machines): events go in (bytes read, EOF, a
/// response ready, the socket's progress, the timer, shutdown) and actions
/// come out (write these bytes, hand this request to the application, pause
/// or resume reading, arm or cancel the timer, log, close). `Connection`
/// carries the actions out on a socket; tests and the fuzzer drive the same
/// machine with event sequences alone.
///
/// Requests are handled one at a time: bytes that arrive while one is with
/// the application wait in the parser, so responses go out in request order
/// (RFC 9112 §9.3.2). A connection accepted beyond the limit (`reserve`)
/// serves one probe request and refuses anything else.
struct ConnectionStateMachine {
    enum State: Equatable {
        /// no request is with the application: bytes go to the parser
        case reading
        /// the application has this request; later bytes wait in the parser
        case handling(InFlight)
        /// the response that ends the connection is queued: close once the socket has taken it
        case closingAfterWrite
        case closed
    }

    /// What the response to the request in flight needs from its request.
    struct InFlight: Equatable {
        var sequence: Int
        var method: String
        var path: String
        var versionMinor: Int
        var keepAlive: Bool
        var requestID: String
        var trace: TraceContext?
        var startedAt: Double
        /// HEAD: the GET response's fields without its body (RFC 9110 §9.3.2)
        var headOnly: Bool
        /// Accept-Encoding allows gzip (RFC 9110 §12.5.3)
        var acceptsGzip: Bool
    }

    /// Whether bytes are read from the peer.
    enum Input: Equatable {
        case reading
        /// back-pressure: `readAheadLimit` bytes wait behind the request in flight
        case paused
        /// the peer sent EOF; it may still read what we send (a half-close)
        case closed
    }

    /// Whether the socket has taken everything written.
    enum Output: Equatable {
        case drained
        /// bytes wait for the socket; `since`: the last time it took any (the write deadline runs from there)
        case blocked(since: Double)
    }

    /// When each deadline started (monotonic seconds).
    struct Clocks {
        /// the connection's accept or the last response: the idle deadline runs from here
        var idleSince = 0.0
        /// the request's first byte (or the last response, for pipelined bytes): the header deadline
        var requestStartedAt = 0.0
        /// the end of the headers or the 100 Continue: the body deadline
        var bodyStartedAt: Double?
    }

    enum Action: Equatable {
        /// send these bytes (through TLS, if any)
        case write([UInt8])
        /// give the request to the application; answer with `responseReady` or `requestRefused` and this sequence
        case deliver(HTTPRequest, sequence: Int)
        case pauseReading
        case resumeReading
        /// call `resumeParsing` from the connection's queue later, not from inside this call:
        /// a long pipeline of inline answers cannot deepen the stack
        case parseBufferedLater
        /// call `timerFired` once the monotonic clock passes this; replaces any earlier deadline
        case armTimer(at: Double)
        case cancelTimer
        case recordAccess(AccessRecord)
        /// a request on a reserve connection (`ProbeReserve`) was not a probe and got the limit's 503:
        /// count it with the connections refused at accept
        case rejectedAtLimit
        case close(reason: String)
    }

    /// RFC 9110 §15.2.1, §10.1.1: the interim response that asks for the body.
    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    let configuration: HTTPServerConfiguration
    let errors: ErrorRenderer
    let peer: String
    /// stop reading ahead while a request is handled once this much is buffered
    let readAheadLimit: Int
    /// set on a connection accepted beyond the limit: it serves one probe request, nothing else
    let reserve: ProbeReserve?
    /// seconds to the end of a header section (shorter on a reserve connection)
    let headerTimeout: Double
    private(set) var state = State.reading
    private(set) var input = Input.reading
    private(set) var output = Output.drained
    /// graceful shutdown began: no more keep-alive, idle connections close
    private(set) var draining = false
    private var parser: RequestParser
    private var clocks = Clocks()
    private var requestsServed = 0
    private var nextSequence = 1
    private var armedDeadline: Double?

    init(configuration: HTTPServerConfiguration, errors: ErrorRenderer, peer: String, readAheadLimit: Int = 1 << 20,
         reserve: ProbeReserve? = nil) {
        self.configuration = configuration
        self.errors = errors
        self.peer = peer
        self.readAheadLimit = readAheadLimit
        self.reserve = reserve
        headerTimeout = reserve.map { min($0.headerTimeout, configuration.headerTimeout) } ?? configuration.headerTimeout
        parser = RequestParser(limits: configuration.limits)
    }

    // MARK: events

    /// The connection was accepted: a first request is due within the header timeout.
    mutating func connectionOpened(now: Double) -> [Action] {
        clocks.idleSince = now
        clocks.requestStartedAt = now
        return withTimer([])
    }

    mutating func bytesReceived<Bytes: Collection>(_ bytes: Bytes, now: Double) -> [Action] where Bytes.Element == UInt8 {
        var actions: [Action] = []
        switch state {
        case .reading:
            if parser.phase == .idle && parser.bufferedByteCount == 0 { clocks.requestStartedAt = now }
            parser.feed(bytes)
            parse(now, into: &actions)
        case .handling:
            parser.feed(bytes)
            if parser.bufferedByteCount > readAheadLimit && input == .reading {
                input = .paused
                actions.append(.pauseReading)
            }
        case .closingAfterWrite, .closed:
            // Nothing more will be answered; reading on drains the socket so the close is not a reset.
            return []
        }
        return withTimer(actions)
    }

    /// EOF from the peer: it may have only half-closed (shutdown(SHUT_WR)), so
    /// requests already complete are answered and queued responses written
    /// before the connection closes (RFC 9112 §9.6).
    mutating func peerClosed(now: Double) -> [Action] {
        guard state != .closed, input != .closed else { return [] }
        var actions: [Action] = []
        if input == .reading { actions.append(.pauseReading) }
        input = .closed
        if state == .reading { parse(now, into: &actions) }
        return withTimer(actions)
    }

    /// After `parseBufferedLater`: pipelined bytes.
    mutating func resumeParsing(now: Double) -> [Action] {
        guard state == .reading else { return [] }
        var actions: [Action] = []
        parse(now, into: &actions)
        return withTimer(actions)
    }

    /// A handler's response to request `sequence`.
    mutating func responseReady(_ response: HTTPResponse, sequence: Int, now: Double) -> [Action] {
        answer(sequence, response, answeredByHTTPLayer: false, mustClose: false, now: now)
    }

    /// This layer refuses request `sequence` (no route, wrong method, a content coding, a handler that threw):
    /// the application words it for the request's path.
    mutating func requestRefused(_ error: HTTPError, sequence: Int, now: Double) -> [Action] {
        guard case let .handling(inFlight) = state, inFlight.sequence == sequence else { return [] }
        return answer(sequence, errors.response(for: error, path: inFlight.path), answeredByHTTPLayer: true,
                      mustClose: error.closeConnection, now: now)
    }

    /// The socket took `sent` bytes; `remaining` still wait for it.
    mutating func flushed(sent: Int, remaining: Int, now: Double) -> [Action] {
        guard state != .closed else { return [] }
        var actions: [Action] = []
        if remaining == 0 {
            output = .drained
            if state == .closingAfterWrite { close("done", into: &actions) }
        } else if sent > 0 || output == .drained {
            output = .blocked(since: now)
        }
        return withTimer(actions)
    }

    /// The armed deadline passed.
    mutating func timerFired(now: Double) -> [Action] {
        guard state != .closed else { return [] }
        armedDeadline = nil
        var actions: [Action] = []
        if case let .blocked(since) = output, now >= since + configuration.writeTimeout {
            close("write timeout", into: &actions)
        } else if state == .reading {
            enforceReadDeadline(now, into: &actions)
        }
        return withTimer(actions)
    }

    /// Graceful shutdown: an idle connection closes now (once its queued
    /// responses are written), a busy one after its response.
    mutating func shutdownBegan(now: Double) -> [Action] {
        draining = true
        guard state == .reading, parser.phase == .idle else { return [] }
        var actions: [Action] = []
        closeAfterOutput("shutdown", into: &actions)
        return withTimer(actions)
    }

    /// The transport failed (read, write or TLS error) or the server stops: close at once.
    mutating func closeNow(reason: String) -> [Action] {
        guard state != .closed else { return [] }
        var actions: [Action] = []
        close(reason, into: &actions)
        return withTimer(actions)
    }

    // MARK: reading

    /// Runs the parser over buffered bytes while no request is in flight.
    private mutating func parse(_ now: Double, into actions: inout [Action]) {
        while state == .reading {
            switch parser.next() {
            case .needMoreData:
                if parser.phase == .body && clocks.bodyStartedAt == nil { clocks.bodyStartedAt = now }
                if input == .closed {
                    // No complete request is left and none can come: a partial one is dropped unanswered.
                    closeAfterOutput(parser.phase == .idle ? "peer closed" : "peer closed mid-request", into: &actions)
                }
                return
            case .continueExpected:
                // RFC 9110 §10.1.1: tell the client to send the body.
                actions.append(.write(Self.continueResponse))
                clocks.bodyStartedAt = now
            case let .request(request):
                clocks.bodyStartedAt = nil
                deliver(request, now: now, into: &actions)
            case let .failure(error):
                // RFC 9112 §9.6 and the smuggling rules (§6.3, §11.2): after a framing error the
                // byte stream cannot be trusted, so the answer ends the connection.
                refuseAndClose(error, now: now, into: &actions)
            }
        }
    }

    private mutating func deliver(_ parsed: HTTPRequest, now: Double, into actions: inout [Action]) {
        var request = parsed
        request.peer = peer
        request.requestID = RequestID.resolve(request.headers["X-Request-ID"])
        request.trace = TraceContext.resolve(traceparent: request.headers["traceparent"], tracestate: request.headers["tracestate"])
        let inFlight = InFlight(sequence: nextSequence, method: request.method, path: request.path,
                                versionMinor: request.versionMinor, keepAlive: request.keepAlive,
                                requestID: request.requestID, trace: request.trace, startedAt: now, headOnly: request.method == "HEAD",
                                acceptsGzip: ResponseEncoder.acceptsGzip(request.headers["Accept-Encoding"]))
        nextSequence += 1
        state = .handling(inFlight)
        if let reserve, !reserve.admits(method: request.method, path: request.path) {
            // A reserve connection is for probes; anything else meets the limit it came in over.
            actions += requestRefused(.connectionLimit, sequence: inFlight.sequence, now: now)
            actions.append(.rejectedAtLimit)
            return
        }
        actions.append(.deliver(request, sequence: inFlight.sequence))
    }

    // MARK: answering

    private mutating func answer(_ sequence: Int, _ response: HTTPResponse, answeredByHTTPLayer: Bool, mustClose: Bool,
                                 now: Double) -> [Action] {
        guard case let .handling(inFlight) = state, inFlight.sequence == sequence else { return [] }
        // RFC 9112 §9.3: persistent unless the request said close (or was HTTP/1.0 without keep-alive);
        // a draining server, a peer that sent EOF or a reserve connection's one probe ends it too.
        let keepAlive = inFlight.keepAlive && !mustClose && !draining && input != .closed && reserve == nil
        let bytes = ResponseEncoder.encode(response, versionMinor: inFlight.versionMinor, keepAlive: keepAlive,
                                           requestID: inFlight.requestID, trace: inFlight.trace, headOnly: inFlight.headOnly,
                                           acceptsGzip: inFlight.acceptsGzip, configuration: configuration)
        requestsServed += 1
        var record = AccessRecord(method: inFlight.method, path: inFlight.path, status: response.status,
                                  bytes: bytes.count, seconds: now - inFlight.startedAt, requestID: inFlight.requestID,
                                  peer: peer, answeredByHTTPLayer: answeredByHTTPLayer, trace: inFlight.trace)
        for (header, field) in configuration.accessLogHeaders {
            if let value = response.headers[header] { record.fields[field] = value }
        }
        var actions: [Action] = [.recordAccess(record), .write(bytes)]
        if keepAlive {
            state = .reading
            clocks.idleSince = now
            clocks.requestStartedAt = now
            if input == .paused {
                input = .reading
                actions.append(.resumeReading)
            }
            if parser.bufferedByteCount > 0 { actions.append(.parseBufferedLater) }
        } else {
            state = .closingAfterWrite
        }
        return withTimer(actions)
    }

    /// An error this layer answers before any request reached the application (a framing error, a
    /// timeout): then close (RFC 9112 §9.6). It is traceable like any answer: its X-Request-ID is the
    /// client's when that field line came in before the error, else a fresh one, and the access record
    /// carries the same id.
    private mutating func refuseAndClose(_ error: HTTPError, now: Double, into actions: inout [Action]) {
        // The request line may be in already (a 413 for its body, a 431 for its fields): log and count it under
        // its route, and let the application word it in that route's error shape.
        let line = parser.currentRequestLine
        let fields = parser.currentHeaders
        let requestID = RequestID.resolve(fields?["X-Request-ID"])
        let trace = fields.map { TraceContext.resolve(traceparent: $0["traceparent"], tracestate: $0["tracestate"]) }
        let bytes = ResponseEncoder.encode(errors.response(for: error, path: line?.path), versionMinor: 1, keepAlive: false,
                                           requestID: requestID, trace: trace, headOnly: false, acceptsGzip: false,
                                           configuration: configuration)
        actions.append(.recordAccess(AccessRecord(method: line?.method ?? "-", path: line?.path ?? "-", status: error.status,
                                                  bytes: bytes.count, seconds: max(0, now - clocks.requestStartedAt),
                                                  requestID: requestID, peer: peer, answeredByHTTPLayer: true, trace: trace)))
        actions.append(.write(bytes))
        state = .closingAfterWrite
    }

    // MARK: deadlines

    /// 408 for a request that is too slow to arrive (RFC 9110 §15.5.9); a quiet
    /// kept-alive connection just closes (RFC 9112 §9.5).
    private mutating func enforceReadDeadline(_ now: Double, into actions: inout [Action]) {
        // The same sums as `readDeadline()`, compared the same way as the timer that fired: with
        // `now - start > timeout` instead, a timer that fired at a deadline `start + timeout` could
        // find the difference rounded down to `timeout` and enforce nothing.
        guard let deadline = readDeadline(), now >= deadline else { return }
        switch parser.phase {
        case .headers:
            refuseAndClose(timeout("headers not received within \(headerTimeout) s"), now: now, into: &actions)
        case .body:
            refuseAndClose(timeout("body not received within \(configuration.bodyTimeout) s"), now: now, into: &actions)
        case .idle:
            // A fresh connection must start its request within the header timeout;
            // a kept-alive one may idle for the idle timeout.
            if requestsServed == 0 {
                refuseAndClose(timeout("no request within \(headerTimeout) s"), now: now, into: &actions)
            } else {
                close("idle timeout", into: &actions)
            }
        }
    }

    /// While reading: when the request (or the idle wait) in progress runs out of time.
    private func readDeadline() -> Double? {
        guard state == .reading else { return nil }
        switch parser.phase {
        case .headers: return clocks.requestStartedAt + headerTimeout
        case .body: return (clocks.bodyStartedAt ?? clocks.requestStartedAt) + configuration.bodyTimeout
        case .idle: return clocks.idleSince + (requestsServed == 0 ? headerTimeout : configuration.idleTimeout)
        }
    }

    private func timeout(_ message: String) -> HTTPError {
        HTTPError(status: 408, code: "request_timeout", message: message, closeConnection: true)
    }

    /// The earliest deadline now running: the write deadline while output is
    /// blocked, and while reading the header, body or idle deadline.
    private func deadline() -> Double? {
        guard state != .closed else { return nil }
        var earliest: Double?
        if case let .blocked(since) = output { earliest = since + configuration.writeTimeout }
        if let read = readDeadline() {
            earliest = min(earliest ?? read, read)
        }
        return earliest
    }

    /// `actions`, then the timer change this event made, if any.
    private mutating func withTimer(_ actions: [Action]) -> [Action] {
        let wanted = deadline()
        guard wanted != armedDeadline else { return actions }
        armedDeadline = wanted
        return actions + [wanted.map { .armTimer(at: $0) } ?? .cancelTimer]
    }

    // MARK: closing

    /// Closes now, or once queued responses are written.
    private mutating func closeAfterOutput(_ reason: String, into actions: inout [Action]) {
        if output == .drained { close(reason, into: &actions) } else { state = .closingAfterWrite }
    }

    private mutating func close(_ reason: String, into actions: inout [Action]) {
        state = .closed
        actions.append(.close(reason: reason))
    }
}
