import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 client on a raw loopback socket, for tests and the
/// end-to-end benchmark: it sends exactly the bytes it is given (pipelined
/// requests, half requests, smuggling attempts: what curl cannot do) and reads
/// responses framed by Content-Length.
///
/// Framing (RFC 9112 §6.3): a response's body is the Content-Length bytes after
/// the blank line that ends its head; a response without Content-Length is taken
/// to have none, which holds for every response our server sends (it never
/// answers with chunked coding and never closes to delimit a body).
public final class LoopbackHTTPClient {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// One response: the status code, the head (status line and headers) and the body.
    public struct Response {
        public var status: Int
        public var head: String
        public var body: [UInt8]
        /// head, blank line and body as text, as the server sent them
        public var text: String { head + "\r\n\r\n" + String(decoding: body, as: UTF8.self) }
        /// the first header with this name (case-insensitive), trimmed
        public func header(_ name: String) -> String? {
            let prefix = name.lowercased() + ":"
            return head.split(separator: "\r\n").dropFirst().first { $0.lowercased().hasPrefix(prefix) }
                .map { $0.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces) }
        }
    }

    /// the socket, for tests that set options on it (SO_RCVBUF)
    public let fd: Int32
    private var closed = false
    /// bytes received but not yet returned as a response
    private var pending: [UInt8] = []

    /// Connects to 127.0.0.1:`port`. Reads give up after `receiveTimeout` seconds
    /// of silence. Nagle is off, so small requests leave at once.
    public init(port: Int, receiveTimeout: Double = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw Failure(description: "connect to 127.0.0.1:\(port): errno \(code)")
        }
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int(receiveTimeout.truncatingRemainder(dividingBy: 1) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close() }

    public func send(_ text: String) { sendBytes(Array(text.utf8)) }

    public func sendBytes(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }  // the server closed: the test reads what it answered
            offset += n
        }
    }

    /// Half-close: the server sees EOF, the client can still read.
    public func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Closes the socket (once; later calls do nothing).
    public func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    /// Sends a request and returns its response (a HEAD request's response has no body).
    public func exchange(_ request: [UInt8]) throws -> Response {
        sendBytes(request)
        return try readResponse(toHead: request.starts(with: Array("HEAD ".utf8)))
    }

    /// The next complete response; throws when the connection closes or goes silent first.
    /// `toHead`: it answers a HEAD request, so it has no body whatever its Content-Length says.
    public func readResponse(toHead: Bool = false) throws -> Response {
        while true {
            if let response = takeResponse(toHead: toHead) { return response }
            guard receive() else { throw Failure(description: "the connection closed or timed out before a whole response") }
        }
    }

    /// Up to `count` complete responses, as text; fewer when the connection closes or goes silent.
    public func readResponses(_ count: Int) -> [String] {
        var responses: [String] = []
        while responses.count < count {
            if let response = takeResponse() { responses.append(response.text); continue }
            if !receive() { break }
        }
        return responses
    }

    /// Everything until the server closes (or the receive timeout), as text.
    public func readAll() -> String {
        while receive() {}
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// true when the server has closed the connection (EOF or reset within the timeout)
    public func isClosedByServer() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, 0)
        if n == 1 { pending.append(byte) }
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }

    /// One recv into `pending`; false on EOF, error or timeout.
    private func receive() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        pending.append(contentsOf: buffer[0..<n])
        return true
    }

    /// Removes and returns the first complete response in `pending`, if there is one.
    /// Framing as RFC 9112 §6.3: responses to HEAD, and 1xx, 204 and 304 responses, end at the head;
    /// others carry Content-Length bytes (our server never sends chunked responses).
    private func takeResponse(toHead: Bool = false) -> Response? {
        guard let end = Self.headEnd(pending) else { return nil }
        let head = String(decoding: pending[0..<end], as: UTF8.self)
        var response = Response(status: 0, head: head, body: [])
        response.status = head.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        let bodiless = toHead || (100..<200).contains(response.status) || response.status == 204 || response.status == 304
        let length = bodiless ? 0 : response.header("Content-Length").flatMap { Int($0) } ?? 0
        let total = end + 4 + length
        guard pending.count >= total else { return nil }
        response.body = Array(pending[(end + 4)..<total])
        pending.removeFirst(total)
        return response
    }

    /// Offset of the CRLF CRLF that ends the head (RFC 9112 §2.1).
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }
}
