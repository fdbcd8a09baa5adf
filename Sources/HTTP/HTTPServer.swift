import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP/1.1 server: a non-blocking listener and one `Connection` per
/// client, driven by Dispatch sources. It knows nothing of models; the
/// service plugs in through `Router`.
public final class HTTPServer: @unchecked Sendable {
    public let configuration: HTTPServerConfiguration
    private var currentRouter: Router
    private let acceptQueue = DispatchQueue(label: "instructrec.http.accept", target: Connection.pool)
    private let lock = NSLock()
    private var listenFD: Int32 = -1
    private var acceptSource: DispatchSourceRead?
    private var sweeper: DispatchSourceTimer?
    private var connections: [Int: Connection] = [:]
    private var nextConnectionID = 0
    private var tlsContext: TLSContext?
    private var shuttingDown = false
    private var drainedCallbacks: [@Sendable () -> Void] = []
    /// the port actually bound (useful with port 0)
    public private(set) var port = 0
    /// per-request access log hook (in addition to the JSON log line)
    public var onAccess: (@Sendable (AccessRecord) -> Void)?
    public var accessLogEnabled = true

    public struct AccessRecord: Sendable {
        public var method: String
        public var path: String
        public var status: Int
        public var bytes: Int
        public var seconds: Double
        public var requestID: String
        public var peer: String
        /// true when this layer answered without calling a handler: no route (404),
        /// wrong method (405), a framing error (400, 408, 413, 431, ...), an
        /// unsupported Content-Encoding, or a connection over the limit (503)
        public var answeredByHTTPLayer: Bool
    }

    public init(configuration: HTTPServerConfiguration, router: Router) {
        self.configuration = configuration
        currentRouter = router
    }

    /// The routes requests are resolved against; `replaceRouter` swaps them while
    /// the server runs (the service listens with a start-up router while it loads).
    public var router: Router { lock.lock(); defer { lock.unlock() }; return currentRouter }

    /// Requests already dispatched finish with the old routes; every later one gets the new.
    public func replaceRouter(_ router: Router) {
        lock.lock(); currentRouter = router; lock.unlock()
    }

    public var isShuttingDown: Bool { lock.lock(); defer { lock.unlock() }; return shuttingDown }
    public var openConnections: Int { lock.lock(); defer { lock.unlock() }; return connections.count }

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
            lock.lock()
            let full = connections.count >= configuration.maxConnections || shuttingDown
            var connection: Connection?
            if !full {
                nextConnectionID += 1
                let c = Connection(id: nextConnectionID, fd: fd, peer: Socket.describe(storage), server: self, tls: tlsContext)
                connections[c.id] = c
                connection = c
            }
            lock.unlock()
            if let connection {
                connection.start()
            } else {
                rejectOverCapacity(fd)
            }
        }
    }

    /// Beyond the connection limit: a best-effort 503 and close, never a hang.
    private func rejectOverCapacity(_ fd: Int32) {
        if tlsContext == nil {
            let body = #"{"error":{"code":"overloaded","message":"too many open connections"}}"#
            let response = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n\(body)"
            _ = Array(response.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        }
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
        onAccess?(AccessRecord(method: "-", path: "-", status: 503, bytes: 0, seconds: 0, requestID: "",
                               peer: "", answeredByHTTPLayer: true))
        JSONLog.shared.warning("connection rejected", ["reason": isShuttingDown ? "shutting down" : "connection limit"])
    }

    private func sweep() {
        let now = Connection.now()
        lock.lock()
        let all = Array(connections.values)
        lock.unlock()
        for connection in all {
            connection.queue.async { connection.checkTimeouts(now: now) }
        }
    }

    func connectionClosed(_ connection: Connection) {
        lock.lock()
        connections.removeValue(forKey: connection.id)
        let callbacks = connections.isEmpty && shuttingDown ? drainedCallbacks : []
        if !callbacks.isEmpty { drainedCallbacks = [] }
        lock.unlock()
        for callback in callbacks { callback() }
    }

    func recordAccess(request: HTTPRequest, status: Int, bytes: Int, seconds: Double, peer: String? = nil, byHTTPLayer: Bool) {
        let record = AccessRecord(method: request.method, path: request.path, status: status, bytes: bytes,
                                  seconds: seconds, requestID: request.requestID, peer: peer ?? request.peer,
                                  answeredByHTTPLayer: byHTTPLayer)
        onAccess?(record)
        guard accessLogEnabled else { return }
        JSONLog.shared.info("request", [
            "method": record.method, "path": record.path, "status": record.status, "bytes": record.bytes,
            "duration_ms": (record.seconds * 1e5).rounded() / 100, "request_id": record.requestID, "peer": record.peer,
        ])
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
        for connection in all { connection.queue.sync { connection.close(reason: "stop") } }
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
