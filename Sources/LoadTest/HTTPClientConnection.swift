import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A response as the load generator needs it.
struct ClientResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    var closesConnection: Bool

    func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }
}

/// A blocking HTTP/1.1 client connection to a loopback port with keep-alive
/// (one request at a time). Deliberately independent of the server's HTTP
/// module, so the tool tests the server rather than sharing its bugs.
final class HTTPClientConnection {
    /// Connections open right now, over all instances (the soak subtracts
    /// its own clients' sockets from the server's descriptor count).
    static let openCount = Counter()
    let port: UInt16
    let timeoutSeconds: Double
    private var socketFD: Int32 = -1
    private var buffer: [UInt8] = []

    init(port: Int, timeoutSeconds: Double) {
        self.port = UInt16(port)
        self.timeoutSeconds = timeoutSeconds
    }

    deinit { close() }

    var isConnected: Bool { socketFD >= 0 }

    func connect() throws {
        close()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoadTestError.connectFailed(errno: errno) }
        var timeout = timeval(tv_sec: Int(timeoutSeconds), tv_usec: Int((timeoutSeconds - Double(Int(timeoutSeconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw LoadTestError.connectFailed(errno: code)
        }
        socketFD = fd
        Self.openCount.add(1)
        buffer.removeAll(keepingCapacity: true)
    }

    func close() {
        if socketFD >= 0 {
            Glibc.close(socketFD)
            Self.openCount.add(-1)
        }
        socketFD = -1
    }

    /// True when an idle keep-alive connection has something to read: the
    /// server closed it (EOF) or answered without a request (408 after its
    /// first-request deadline, RFC 9110 §15.5.9). Such a connection is not
    /// reused; HTTP clients such as Go's check the same before reuse.
    private var isStale: Bool {
        var poller = pollfd(fd: socketFD, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, 0) != 0
    }

    /// Sends raw bytes (connecting first, or again when the idle connection went stale).
    func send(_ bytes: [UInt8]) throws {
        if socketFD >= 0 && buffer.isEmpty && isStale { close() }
        if socketFD < 0 { try connect() }
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(socketFD, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                close()
                if code == EAGAIN || code == EWOULDBLOCK { throw LoadTestError.timedOut }
                if code == ECONNRESET || code == EPIPE { throw LoadTestError.connectionReset }
                throw LoadTestError.sendFailed(errno: code)
            }
            sent += n
        }
    }

    /// One request, one response. The connection stays open unless the
    /// response says otherwise or anything fails.
    func request(_ bytes: [UInt8]) throws -> ClientResponse {
        try send(bytes)
        do {
            let response = try readResponse()
            if response.closesConnection { close() }
            return response
        } catch {
            close()
            throw error
        }
    }

    /// Reads at most `count` bytes (for slow readers); nil at end of stream.
    func readSome(max count: Int) throws -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: count)
        let n = chunk.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress!, count, 0) }
        if n == 0 { return nil }
        if n < 0 { throw errno == EAGAIN || errno == EWOULDBLOCK ? LoadTestError.timedOut : LoadTestError.connectionReset }
        return Array(chunk[..<n])
    }

    // MARK: response parsing (RFC 9112 §6: Content-Length or chunked)

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress!, 16384, 0) }
            if n > 0 { buffer.append(contentsOf: chunk[..<n]); return }
            if n == 0 { throw LoadTestError.connectionClosed }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw LoadTestError.timedOut }
            throw LoadTestError.connectionReset
        }
    }

    private func takeLine() throws -> [UInt8] {
        while true {
            if let end = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[..<end])
                buffer.removeSubrange(...end)
                if line.last == 0x0D { line.removeLast() }
                return line
            }
            try fill()
        }
    }

    private func take(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        let bytes = Array(buffer[..<count])
        buffer.removeSubrange(..<count)
        return bytes
    }

    private func readResponse() throws -> ClientResponse {
        let statusLine = String(decoding: try takeLine(), as: UTF8.self)
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw LoadTestError.malformedResponse("status line '\(statusLine.prefix(80))'")
        }
        var headers: [(String, String)] = []
        while true {
            let line = try takeLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: 0x3A) else { throw LoadTestError.malformedResponse("header line") }
            headers.append((String(decoding: line[..<colon], as: UTF8.self),
                            String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)))
        }
        var response = ClientResponse(status: status, headers: headers, body: [], closesConnection: false)
        response.closesConnection = response.header("Connection")?.lowercased() == "close"
        if status == 204 || status == 304 || (100..<200).contains(status) { return response }
        if response.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = String(decoding: try takeLine(), as: UTF8.self)
                guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                    throw LoadTestError.malformedResponse("chunk size")
                }
                if size == 0 {
                    while !(try takeLine()).isEmpty {}
                    break
                }
                response.body += try take(size)
                _ = try takeLine()
            }
        } else if let length = response.header("Content-Length").flatMap({ Int($0) }) {
            response.body = try take(length)
        } else {
            // Delimited by close (RFC 9112 §6.3 rule 8).
            do { while true { try fill() } } catch LoadTestError.connectionClosed {}
            response.body = buffer
            buffer.removeAll()
            response.closesConnection = true
        }
        return response
    }
}

/// A thread-safe integer.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add(_ delta: Int) { lock.lock(); value += delta; lock.unlock() }
    var current: Int { lock.lock(); defer { lock.unlock() }; return value }
}
