import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP/1.1 server: a non-blocking listener and one `Connection` per
/// client, driven by Dispatch sources. It knows nothing of models; the
/// service plugs in through `Router` and words errors through `ErrorRenderer`.
public final class HTTPServer: @unchecked Sendable {
    public typealias AccessRecord = HTTP.AccessRecord

    public let configuration: HTTPServerConfiguration
    /// the application's error bodies
    public let errors: ErrorRenderer
    private var currentRouter: Router
    private let acceptQueue = DispatchQueue(label: "instructrec.http.accept", target: Connection.pool)
    private let lock = NSLock()
    private var listenFD: Int32 = -1
    private var acceptSource: DispatchSourceRead?
    private var sweeper: DispatchSourceTimer?
    private var connections: [Int: Connection] = [:]
    /// connections in `connections` that hold a probe reserve slot (`ProbeReserve`)
    private var reserveInUse = 0
    private var rejected = 0
    private var rejectionWarnings = RejectionWarnings()
    private var nextConnectionID = 0
    private var tlsContext: TLSContext?
    private var shuttingDown = false
    private var drainedCallbacks: [@Sendable () -> Void] = []
    /// the port actually bound (useful with port 0)
    public private(set) var port = 0
    /// per-request access log hook (in addition to the JSON log line)
    public var onAccess: (@Sendable (AccessRecord) -> Void)?
    public var accessLogEnabled = true

    public init(configuration: HTTPServerConfiguration, router: Router, errors: ErrorRenderer = .plainText) {
        self.configuration = configuration
        currentRouter = router
        self.errors = errors
    }

    /// The routes requests are resolved against; `replaceRouter` swaps them while
    /// the server runs (the service listens with a start-up router while it loads).
    public var router: Router { lock.lock(); defer { lock.unlock() }; return currentRouter }

    /// Requests already dispatched finish with the old routes; every later one gets the new.
    public func replaceRouter(_ router: Router) {
        lock.lock(); currentRouter = router; lock.unlock()
    }

    /// Content decoding and routing over the current routes.
    var dispatcher: RequestDispatcher {
        RequestDispatcher(router: router, maxDecodedBodyBytes: configuration.maxDecompressedBodyBytes)
    }

    public var isShuttingDown: Bool { lock.lock(); defer { lock.unlock() }; return shuttingDown }
    public var openConnections: Int { lock.lock(); defer { lock.unlock() }; return connections.count }
    /// Connections refused since the start: answered 503 at accept (over the limit and its reserve, or
    /// while shutting down), or on a probe reserve connection with a request that is not a probe.
    public var rejectedConnections: Int { lock.lock(); defer { lock.unlock() }; return rejected }

    /// Binds and starts accepting. Throws on bind failure or bad TLS files.
    public func start() throws {
        if let certificate = configuration.tlsCertificatePath, let key = configuration.tlsKeyPath {
            tlsContext = try TLSContext(certificatePath: certificate, keyPath: key)
        }
        let (fd, boundPort) = try Socket.listen(host: configuration.host, port: configuration.port, backlog: configuration.backlog)
        listenFD = fd
        port = boundPort
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
        source.setEventHandler { [weak self] in self?.acceptAll() }
        source.setCancelHandler { Glibc.close(fd) }
        acceptSource = source
        source.resume()
        let timer = DispatchSource.makeTimerSource(queue: acceptQueue)
        timer.schedule(deadline: .now() + 0.25, repeating: 0.25)
        timer.setEventHandler { [weak self] in self?.sweep() }
        sweeper = timer
        timer.resume()
    }

    private func acceptAll() {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(listenFD, $0, &length)
                }
            }
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE {
                    JSONLog.shared.error("accept failed: out of file descriptors")
                }
                return
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            do { try Socket.setNonBlocking(fd) } catch { Glibc.close(fd); continue }
            Socket.setNoDelay(fd)
            let peer = Socket.describe(storage)
            lock.lock()
            let reserve = configuration.probeReserve
            var connection: Connection?
            if !shuttingDown {
                if connections.count - reserveInUse < configuration.maxConnections {
                    connection = Connection(id: nextConnectionID + 1, fd: fd, peer: peer, server: self, tls: tlsContext, reserve: nil)
                } else if reserve.isEnabled && reserveInUse < reserve.slots {
                    connection = Connection(id: nextConnectionID + 1, fd: fd, peer: peer, server: self, tls: tlsContext, reserve: reserve)
                    reserveInUse += 1
                }
            }
            if let connection {
                nextConnectionID += 1
                connections[connection.id] = connection
            }
            lock.unlock()
            if let connection {
                connection.start()
            } else {
                rejectOverCapacity(fd, peer: peer)
            }
        }
    }

    /// Beyond the connection limit and its probe reserve: a best-effort 503 and close, never a hang. Nothing
    /// was read, so the answer has no route (the application's default error shape) and a fresh request id,
    /// which its access record carries too.
    private func rejectOverCapacity(_ fd: Int32, peer: String) {
        let reason = isShuttingDown ? "shutting down" : "connection limit"
        let requestID = RequestIDGenerator.next()
        var bytes = 0
        if tlsContext == nil {
            // RFC 9110 §15.6.4, §10.2.3: unavailable for now; try again in a second.
            let response = ResponseEncoder.encode(errors.response(for: .connectionLimit), versionMinor: 1, keepAlive: false,
                                                  requestID: requestID, headOnly: false, acceptsGzip: false, configuration: configuration)
            bytes = response.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        }
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
        recordAccess(AccessRecord(method: "-", path: "-", status: 503, bytes: max(bytes, 0), seconds: 0, requestID: requestID,
                                  peer: peer, answeredByHTTPLayer: true))
        connectionRejected(reason: reason)
    }

    /// Counts a connection refused at the limit (at accept, or a reserve connection's request that is not a
    /// probe) and warns about refusals at most once a second (`RejectionWarnings`).
    func connectionRejected(reason: String = "connection limit") {
        lock.lock()
        rejected += 1
        let line = rejectionWarnings.rejected(reason, now: Connection.now())
        lock.unlock()
        if let line { warnRejected(line) }
    }

    private func warnRejected(_ counts: [String: Int]) {
        JSONLog.shared.warning("connections rejected", [
            "count": counts.values.reduce(0, +), "reasons": counts,
            "open_connections": openConnections, "max_connections": configuration.maxConnections,
        ])
    }

    private func sweep() {
        let now = Connection.now()
        lock.lock()
        let all = Array(connections.values)
        let heldBack = rejectionWarnings.due(now: now)
        lock.unlock()
        if let heldBack { warnRejected(heldBack) }
        for connection in all {
            connection.queue.async { connection.timerTick(now: now) }
        }
    }

    func connectionClosed(_ connection: Connection) {
        lock.lock()
        if connections.removeValue(forKey: connection.id) != nil, connection.isReserve { reserveInUse -= 1 }
        let callbacks = connections.isEmpty && shuttingDown ? drainedCallbacks : []
        if !callbacks.isEmpty { drainedCallbacks = [] }
        lock.unlock()
        for callback in callbacks { callback() }
    }

    func recordAccess(_ record: AccessRecord) {
        onAccess?(record)
        guard accessLogEnabled else { return }
        var fields: [String: Any] = [
            "method": record.method, "path": record.path, "status": record.status, "bytes": record.bytes,
            "duration_ms": (record.seconds * 1e5).rounded() / 100, "request_id": record.requestID, "peer": record.peer,
        ]
        for (name, value) in record.fields where fields[name] == nil { fields[name] = value }
        if let trace = record.trace {
            fields["trace_id"] = trace.traceID
            fields["span_id"] = trace.spanID
            if let parent = trace.parentSpanID { fields["parent_span_id"] = parent }
        }
        JSONLog.shared.info("request", fields)
    }

    /// Stops accepting, closes idle keep-alive connections, lets in-flight
    /// requests finish, and calls `completion` when every connection is gone
    /// or `deadline` seconds have passed.
    public func shutdown(deadline: Double, completion: @escaping @Sendable () -> Void) {
        lock.lock()
        shuttingDown = true
        let all = Array(connections.values)
        let alreadyDrained = connections.isEmpty
        let once = OnceFlag()
        let finish: @Sendable () -> Void = { if once.claim() { completion() } }
        if !alreadyDrained { drainedCallbacks.append(finish) }
        lock.unlock()
        acceptSource?.cancel()
        acceptSource = nil
        for connection in all { connection.queue.async { connection.beginShutdown() } }
        if alreadyDrained { finish(); return }
        DispatchQueue.global().asyncAfter(deadline: .now() + deadline) { [weak self] in
            if let self, self.openConnections > 0 {
                JSONLog.shared.warning("shutdown deadline reached", ["open_connections": self.openConnections])
            }
            finish()
        }
    }

    /// Stops everything at once (tests).
    public func stop() {
        acceptSource?.cancel()
        acceptSource = nil
        sweeper?.cancel()
        lock.lock()
        let all = Array(connections.values)
        lock.unlock()
        for connection in all { connection.queue.sync { connection.stop() } }
    }
}

/// True for exactly one caller.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var claimed = false
    func claim() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if claimed { return false }
        claimed = true
        return true
    }
}
