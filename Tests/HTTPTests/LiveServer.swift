import Foundation
import XCTest
@testable import HTTP
import TestSupport
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
