import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One client connection. All of its state lives on its own serial queue;
/// handlers run elsewhere and come back through `Responder`.
///
/// Requests on a connection are handled one at a time: the parser keeps any
/// pipelined bytes until the current response is written, so responses go
/// out in request order (RFC 9112 §9.3.2).
final class Connection: @unchecked Sendable {
    enum State { case reading, handling, closingAfterWrite, closed }

    let id: Int
    let fd: Int32
    let peer: String
    let queue: DispatchQueue
    private unowned let server: HTTPServer
    private let configuration: HTTPServerConfiguration
    private var tls: TLSSession?
    private var parser: RequestParser
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private var writeSourceActive = false
    private var output: [UInt8] = []
    private var outputOffset = 0
    private(set) var state = State.reading
    private var peerClosed = false
    private let gone = ClientGoneFlag()
    private var shuttingDown = false
    private var requestsServed = 0
    // timestamps (seconds, monotonic) for the timeouts
    private var headerStartedAt: Double
    private var bodyStartedAt: Double?
    private var idleSince: Double
    private var lastWriteProgress: Double
    private static let readChunk = 16 * 1024
    /// reused for every read(2) on this connection
    private var readBuffer = [UInt8](repeating: 0, count: Connection.readChunk)
    /// true while a handler runs synchronously on this queue: a response given
    /// during that call is written without another queue hop
    private var handlerRunningInline = false
    /// the in-flight request reached a handler (false: this layer answered it itself)
    private var handlerCalled = false
    /// stop reading ahead while a request is being handled once this much is buffered
    private static let readAheadLimit = 1 << 20

    init(id: Int, fd: Int32, peer: String, server: HTTPServer, tls: TLSContext?) {
        self.id = id
        self.fd = fd
        self.peer = peer
        self.server = server
        configuration = server.configuration
        parser = RequestParser(limits: server.configuration.limits)
        // Target the non-overcommit global queue: a plain serial queue targets the
        // overcommit pool, which starts a thread for every busy connection (we saw
        // 240 threads and a creeping RSS under 64 connections); this pool stays near
        // the core count.
        queue = DispatchQueue(label: "instructrec.http.connection.\(id)", target: Connection.pool)
        queue.setSpecific(key: Connection.queueKey, value: id)
        if let tls { self.tls = TLSSession(context: tls) }
        let now = Connection.now()
        headerStartedAt = now
        idleSince = now
        lastWriteProgress = now
    }

    static let pool = DispatchQueue.global(qos: .userInitiated)
    /// marks each connection's queue with its id: "am I on this connection's queue?"
    static let queueKey = DispatchSpecificKey<Int>()

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    func start() {
        queue.async {
            let source = DispatchSource.makeReadSource(fileDescriptor: self.fd, queue: self.queue)
            source.setEventHandler { [weak self] in self?.readAvailable() }
            self.readSource = source
            let writer = DispatchSource.makeWriteSource(fileDescriptor: self.fd, queue: self.queue)
            writer.setEventHandler { [weak self] in self?.flush() }
            self.writeSource = writer
            source.resume()
        }
    }

    // MARK: reading

    private func readAvailable() {
        guard state != .closed else { return }
        let n = readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
            gone.set()
            close(reason: "read error")
            return
        }
        if n == 0 {
            peerClosedInput()
            return
        }
        if tls == nil {
            // Plain HTTP: hand the bytes straight from the read buffer to the parser (one copy).
            if parser.phase == .idle && parser.bufferedByteCount == 0 { headerStartedAt = Connection.now() }
            parser.feed(readBuffer[0..<n])
            afterFeed()
            return
        }
        var bytes = Array(readBuffer[0..<n])
        if let tls {
            switch tls.receive(bytes) {
            case let .data(plaintext): bytes = plaintext
            case .closed: peerClosedInput(); return
            case let .failed(message):
                if !tls.handshakeDone {
                    JSONLog.shared.warning("tls handshake failed", ["peer": peer, "error": message])
                }
                output.append(contentsOf: tls.drain())
                flush()
                close(reason: "tls error")
                return
            }
            let handshake = tls.drain()
            if !handshake.isEmpty { output.append(contentsOf: handshake); flush() }
            if bytes.isEmpty { return }
        }
        if parser.phase == .idle && parser.bufferedByteCount == 0 { headerStartedAt = Connection.now() }
        parser.feed(bytes)
        afterFeed()
    }

    private func afterFeed() {
        if state == .reading { processBuffered() } else if parser.bufferedByteCount > Connection.readAheadLimit {
            // A request is in flight: stop reading ahead until it is answered.
            readSource?.suspend()
            readSuspended = true
        }
    }
    private var readSuspended = false

    /// EOF from the peer: it may have only half-closed (shutdown(SHUT_WR)), so a
    /// pending response is still written, then the connection closes.
    private func peerClosedInput() {
        peerClosed = true
        gone.set()
        if !readSuspended { readSource?.suspend(); readSuspended = true }
        switch state {
        case .reading:
            // Requests already complete in the buffer are still answered.
            processBuffered()
            if state == .reading { close(reason: "peer closed") }
        case .handling, .closingAfterWrite, .closed:
            break
        }
    }

    private func processBufferedIfReading() {
        guard state == .reading else { return }
        processBuffered()
        if peerClosed && state == .reading { close(reason: "peer closed") }
    }

    /// Runs the parser over buffered bytes while no request is in flight.
    private func processBuffered() {
        while state == .reading {
            let wasPhase = parser.phase
            switch parser.next() {
            case .needMoreData:
                if parser.phase == .body && wasPhase != .body || (parser.phase == .body && bodyStartedAt == nil) {
                    bodyStartedAt = bodyStartedAt ?? Connection.now()
                }
                if peerClosed && parser.phase != .idle { close(reason: "peer closed mid-request") }
                return
            case .continueExpected:
                // RFC 9110 §10.1.1: tell the client to send the body.
                writeRaw(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                bodyStartedAt = Connection.now()
            case let .request(request):
                bodyStartedAt = nil
                dispatch(request)
            case let .failure(error):
                respondAndClose(error: error, versionMinor: 1)
            }
        }
    }

    // MARK: handling

    private func dispatch(_ incoming: HTTPRequest) {
        state = .handling
        var request = incoming
        request.peer = peer
        request.requestID = Connection.requestID(from: request.headers["X-Request-ID"])
        let started = Connection.now()
        let headOnly = request.method == "HEAD"
        let acceptsGzip = ResponseEncoder.acceptsGzip(request.headers["Accept-Encoding"])
        let framing = request  // what the response needs: version, keep-alive, id, path for the log
        handlerCalled = false
        let finish: @Sendable (HTTPResponse) -> Void = { [weak self] response in
            guard let self else { return }
            // Inline only when called on this connection's own queue during the handler. A handler
            // that hands work to another queue may answer from there before the handler has
            // returned (handlerRunningInline still true): that answer must hop, never run
            // `complete` beside this queue (a data race that once left a write source suspended
            // at deinit and crashed the process).
            if DispatchQueue.getSpecific(key: Connection.queueKey) == self.id && self.handlerRunningInline {
                // Called from inside the handler, on this queue: no hop needed.
                self.complete(request: framing, response: response, started: started, headOnly: headOnly, acceptsGzip: acceptsGzip)
            } else {
                self.queue.async { self.complete(request: framing, response: response, started: started, headOnly: headOnly, acceptsGzip: acceptsGzip) }
            }
        }
        // RFC 9110 §8.4: decode gzip request bodies; other codings are 415.
        if let encoding = request.headers["Content-Encoding"]?.trimmingOWS().lowercased(), !encoding.isEmpty, encoding != "identity" {
            guard encoding == "gzip" || encoding == "x-gzip" else {
                finish(.error(status: 415, code: "unsupported_content_encoding",
                              message: "Content-Encoding '\(encoding)' is not supported (use gzip or identity)"))
                return
            }
            switch Gzip.decompress(request.body, limit: configuration.maxDecompressedBodyBytes) {
            case let .success(body):
                request.body = body
                request.headers.remove("Content-Encoding")
            case .failure(.tooLarge):
                finish(.error(status: 413, code: "content_too_large",
                              message: "decompressed body exceeds \(configuration.maxDecompressedBodyBytes) bytes"))
                return
            case .failure(.corrupt):
                finish(.error(status: 400, code: "bad_request", message: "request body is not valid gzip"))
                return
            }
        }
        switch server.router.resolve(method: request.method, path: request.path) {
        case .notFound:
            finish(.error(status: 404, code: "not_found", message: "no route for \(request.path)"))
        case let .methodNotAllowed(allow):
            var response = HTTPResponse.error(status: 405, code: "method_not_allowed",
                                              message: "\(request.method) is not allowed on \(request.path)")
            response.headers.set("Allow", allow.joined(separator: ", "))
            finish(response)
        case let .handler(handler):
            // Handlers run on this connection's queue and must not block: work
            // that takes time (inference) is queued elsewhere and answers later.
            let responder = Responder(gone: gone, deliver: finish)
            handlerCalled = true
            handlerRunningInline = true
            handler(request, responder)
            handlerRunningInline = false
        }
    }

    private func complete(request: HTTPRequest, response: HTTPResponse, started: Double, headOnly: Bool, acceptsGzip: Bool) {
        guard state == .handling else { return }
        requestsServed += 1
        let keepAlive = request.keepAlive && !shuttingDown && !peerClosed && !server.isShuttingDown
        let bytes = ResponseEncoder.encode(response, versionMinor: request.versionMinor, keepAlive: keepAlive,
                                           requestID: request.requestID, headOnly: headOnly, acceptsGzip: acceptsGzip,
                                           configuration: configuration)
        server.recordAccess(request: request, status: response.status, bytes: bytes.count,
                            seconds: Connection.now() - started, byHTTPLayer: !handlerCalled)
        state = keepAlive ? .reading : .closingAfterWrite
        writeRaw(bytes)
        if state == .reading {
            idleSince = Connection.now()
            headerStartedAt = idleSince
            if readSuspended && !peerClosed { readSource?.resume(); readSuspended = false }
            // Pipelined bytes: continue from the queue, not recursively, so a long
            // pipeline cannot deepen the stack.
            if parser.bufferedByteCount > 0 || peerClosed {
                queue.async { [weak self] in self?.processBufferedIfReading() }
            }
        }
    }

    private func respondAndClose(error: HTTPError, versionMinor: Int) {
        let response = HTTPResponse.error(error)
        let bytes = ResponseEncoder.encode(response, versionMinor: versionMinor, keepAlive: false, requestID: "",
                                           headOnly: false, acceptsGzip: false, configuration: configuration)
        server.recordAccess(request: HTTPRequest(method: "-", target: "-"), status: error.status, bytes: bytes.count,
                            seconds: 0, peer: peer, byHTTPLayer: true)
        state = .closingAfterWrite
        writeRaw(bytes)
    }

    // MARK: writing

    private func writeRaw(_ bytes: [UInt8]) {
        guard state != .closed else { return }
        if let tls {
            guard tls.send(bytes) else { close(reason: "tls write error"); return }
            output.append(contentsOf: tls.drain())
        } else {
            output.append(contentsOf: bytes)
        }
        if output.count - outputOffset > 0 && !writeSourceActive { lastWriteProgress = Connection.now() }
        flush()
    }

    /// Writes as much as the socket takes; survives partial writes and EAGAIN.
    private func flush() {
        guard state != .closed else { return }
        while outputOffset < output.count {
            let n = output.withUnsafeBytes { send(fd, $0.baseAddress! + outputOffset, output.count - outputOffset, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                outputOffset += n
                lastWriteProgress = Connection.now()
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                if !writeSourceActive { writeSource?.resume(); writeSourceActive = true }
                return
            }
            gone.set()
            close(reason: "write error")
            return
        }
        output.removeAll(keepingCapacity: output.count < 1 << 20)
        outputOffset = 0
        if writeSourceActive { writeSource?.suspend(); writeSourceActive = false }
        if state == .closingAfterWrite { close(reason: "done") }
    }

    // MARK: timeouts and shutdown

    /// Called periodically by the server's sweeper (on this queue).
    func checkTimeouts(now: Double) {
        guard state != .closed else { return }
        if outputOffset < output.count, now - lastWriteProgress > configuration.writeTimeout {
            close(reason: "write timeout")
            return
        }
        guard state == .reading else { return }
        switch parser.phase {
        case .headers:
            if now - headerStartedAt > configuration.headerTimeout {
                respondAndClose(error: HTTPError(status: 408, code: "request_timeout",
                                                 message: "headers not received within \(configuration.headerTimeout) s", closeConnection: true),
                                versionMinor: 1)
            }
        case .body:
            if now - (bodyStartedAt ?? headerStartedAt) > configuration.bodyTimeout {
                respondAndClose(error: HTTPError(status: 408, code: "request_timeout",
                                                 message: "body not received within \(configuration.bodyTimeout) s", closeConnection: true),
                                versionMinor: 1)
            }
        case .idle:
            // A fresh connection must start its request within the header timeout;
            // a kept-alive one may idle for the idle timeout.
            let limit = requestsServed == 0 ? configuration.headerTimeout : configuration.idleTimeout
            if now - idleSince > limit {
                if requestsServed == 0 {
                    respondAndClose(error: HTTPError(status: 408, code: "request_timeout",
                                                     message: "no request within \(configuration.headerTimeout) s", closeConnection: true),
                                    versionMinor: 1)
                } else {
                    close(reason: "idle timeout")
                }
            }
        }
    }

    /// Graceful shutdown: idle connections close now, busy ones after their response.
    func beginShutdown() {
        shuttingDown = true
        if state == .reading && parser.phase == .idle { close(reason: "shutdown") }
    }

    func close(reason: String) {
        guard state != .closed else { return }
        state = .closed
        gone.set()
        if let tls, peerClosed == false {
            tls.shutdown()
            let alert = tls.drain()
            if !alert.isEmpty { _ = alert.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) } }
        }
        // Resume suspended sources before cancelling: Dispatch requires it.
        if readSuspended { readSource?.resume(); readSuspended = false }
        if !writeSourceActive { writeSource?.resume(); writeSourceActive = true }
        let descriptor = fd
        let counter = CancelCounter(count: 2) { _ = Glibc.close(descriptor) }
        readSource?.setCancelHandler { counter.done() }
        writeSource?.setCancelHandler { counter.done() }
        readSource?.cancel()
        writeSource?.cancel()
        if readSource == nil { _ = Glibc.close(descriptor) }
        server.connectionClosed(self)
    }

    // MARK: request ids

    static func requestID(from header: String?) -> String {
        if let header, !header.isEmpty, header.utf8.count <= 128,
           header.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return header
        }
        return RequestIDGenerator.next()
    }
}

/// 128-bit random request ids as 32 hex digits. A SplitMix64 stream seeded
/// once from the system generator: unique and cheap (no syscall per request).
enum RequestIDGenerator {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var state: UInt64 = UInt64.random(in: .min ... .max)
    private static let digits = Array("0123456789abcdef".utf8)

    static func next() -> String {
        lock.lock()
        let a = step(), b = step()
        lock.unlock()
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<16 {
            bytes[i] = digits[Int((a >> (60 - 4 * UInt64(i))) & 0xF)]
            bytes[16 + i] = digits[Int((b >> (60 - 4 * UInt64(i))) & 0xF)]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func step() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Closes the descriptor once both Dispatch sources have been cancelled.
final class CancelCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var remaining: Int
    private let action: () -> Void
    init(count: Int, action: @escaping () -> Void) {
        remaining = count
        self.action = action
    }
    func done() {
        lock.lock()
        remaining -= 1
        let fire = remaining == 0
        lock.unlock()
        if fire { action() }
    }
}
