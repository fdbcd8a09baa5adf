import Foundation
import XCTest
@testable import HTTP
#if canImport(Glibc)
import Glibc
#endif

/// A server on an ephemeral loopback port with a few test routes.
final class LiveServer {
    let server: HTTPServer
    var port: Int { server.port }
    var base: String { "\(scheme)://127.0.0.1:\(port)" }
    let scheme: String

    init(configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws {
        var configuration = HTTPServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configure(&configuration)
        scheme = configuration.tlsCertificatePath == nil ? "http" : "https"
        var router = Router()
        router.add("GET", "/hello") { _, responder in responder.respond(.text("hello")) }
        router.add("GET", "/big") { _, responder in
            let items = (0..<2000).map { "{\"id\": \($0), \"title\": \"item number \($0)\"}" }.joined(separator: ",")
            responder.respond(.json(Array("[\(items)]".utf8)))
        }
        router.add("POST", "/echo") { request, responder in
            let object: [String: Any] = ["length": request.body.count, "body": String(decoding: request.body, as: UTF8.self),
                                         "method": request.method, "request_id": request.requestID]
            responder.respond(.json(Array(try! JSONSerialization.data(withJSONObject: object))))
        }
        router.add("GET", "/slow") { request, responder in
            let seconds = Double(request.query.split(separator: "=").last ?? "1") ?? 1
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                responder.respond(.text(responder.isClientGone ? "gone" : "slow done"))
            }
        }
        router.add("GET", "/huge") { _, responder in
            responder.respond(HTTPResponse(status: 200, headers: HTTPHeaders([("Content-Type", "application/octet-stream")]),
                                           body: [UInt8](repeating: 0x61, count: 32 * 1024 * 1024)))
        }
        JSONLog.shared.enabled = false
        server = HTTPServer(configuration: configuration, router: router, errors: .jsonEnvelope)
        try server.start()
    }

    deinit { server.stop() }
}

/// A blocking loopback client on a raw socket, for what curl cannot do.
final class RawClient {
    let fd: Int32

    init(port: Int, receiveTimeout: Double = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw NSError(domain: "connect", code: Int(errno)) }
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int(receiveTimeout.truncatingRemainder(dividingBy: 1) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) { sendBytes(Array(text.utf8)) }

    func sendBytes(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Everything until the server closes (or the receive timeout).
    func readAll() -> String {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads until `count` complete responses (framed by Content-Length) arrived.
    func readResponses(_ count: Int) -> [String] {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        var responses: [String] = []
        while responses.count < count {
            if let (response, used) = RawClient.firstResponse(data) {
                responses.append(response)
                data.removeFirst(used)
                continue
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return responses
    }

    static func firstResponse(_ data: [UInt8]) -> (String, Int)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, data.count - 3)).first(where: { Array(data[$0..<($0 + 4)]) == separator }) else { return nil }
        let head = String(decoding: data[0..<end], as: UTF8.self)
        let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        guard data.count >= end + 4 + length else { return nil }
        return (String(decoding: data[0..<(end + 4 + length)], as: UTF8.self), end + 4 + length)
    }

    /// true when the server has closed the connection (EOF within the timeout)
    func isClosedByServer() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, 0)
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }
}

/// Runs a command, returning (exit status, stdout, stderr).
@discardableResult
func runProcess(_ executable: String, _ arguments: [String], stdin: Data? = nil) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}
