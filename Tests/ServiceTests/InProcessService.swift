import Configuration
import Foundation
import HTTP
import Service
import TestSupport
import XCTest

/// The service as `instructrec serve` assembles it (`ServiceHost.makeServer()`, then the loaded
/// `RerankService`'s router), in this process on an ephemeral loopback port, with the tiny T5 fixture
/// model, the real Flan-T5 tokenizer and the repository's config file, reached over real sockets by
/// the loopback client. Every endpoint test runs here; `ServiceProcess` keeps what needs a process of its
/// own: signals, start-up, reload by signal, the kernel decision and the command line.
final class InProcessService: @unchecked Sendable {
    typealias Reply = ServiceReply

    let host: ServiceHost
    let server: HTTPServer
    let service: RerankService
    private let firstLogLine: Int
    var port: Int { server.port }
    var base: String { "http://127.0.0.1:\(port)" }

    /// - settings: `--set key=value` flags, as `ServiceProcess` takes them
    /// - files: `--model`, `--tokenizer`, `--templates` as "model": path ...; a model directory alone is served
    ///   with its own tokenizer and templates. Default: the fixture model, the Flan-T5 tokenizer, config/templates.json
    /// - environment: added to the process's, for the configuration and the hub (HF_HOME, HF_ENDPOINT, ...)
    init(settings: [String: String] = [:], files: [String: String]? = nil, environment: [String: String] = [:]) throws {
        firstLogLine = TestLog.shared.start()
        var overrides = files
            ?? ["model": ServiceProcess.modelDirectory, "tokenizer": ServiceProcess.tokenizerFile, "templates": ServiceProcess.templatesFile]
        var spellings = ["model": "--model", "tokenizer": "--tokenizer", "templates": "--templates", "host": "--host", "port": "--port"]
        overrides["host"] = "127.0.0.1"
        overrides["port"] = "0"
        for (key, value) in settings {
            overrides[key] = value
            spellings[key] = "--set \(key)"
        }
        // As `serve` run from the repository root finds it: config/instructrec.json, paths from the root.
        let root = ServiceProcess.root.path
        let environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let configuration = try ServiceConfiguration.load(
            file: root + "/config/instructrec.json", environment: environment,
            overrides: overrides, flagSpellings: spellings, baseDirectories: [root, root + "/config"])
        host = ServiceHost(configuration: configuration, kernel: .current())
        host.environment = environment
        server = host.makeServer()
        try server.start()
        do { service = try host.load() } catch { server.stop(); throw error }
        server.replaceRouter(service.makeRouter())
    }

    /// Stops the listener, closes every connection and the inference workers; 0, as a clean exit.
    @discardableResult
    func terminate() -> Int32 {
        server.stop()
        service.stop()
        return 0
    }

    deinit { terminate() }

    /// The log lines written since this service was made (the access log, warnings).
    var logs: [String] { TestLog.shared.lines(from: firstLogLine) }

    /// The parsed log lines whose msg is `message`.
    func logEntries(_ message: String) -> [[String: Any]] { ServiceReply.entries(logs, message) }

    /// One HTTP/1.1 exchange on a new connection, as `curl --data-binary` sends it: the request line, Host,
    /// the given headers, and with a body its Content-Length (RFC 9112 §6.2) and, where no Content-Type
    /// is given, curl's form type (so a test of a missing JSON type checks what a curl user meets).
    func request(_ method: String, _ path: String, body: String? = nil,
                 headers: [String: String] = ["Content-Type": "application/json"]) throws -> Reply {
        let client = try LoopbackHTTPClient(port: port, receiveTimeout: 60)
        defer { client.close() }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: */*\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        let bytes = Array((body ?? "").utf8)
        if body != nil {
            if !headers.keys.contains(where: { $0.lowercased() == "content-type" }) {
                head += "Content-Type: application/x-www-form-urlencoded\r\n"
            }
            head += "Content-Length: \(bytes.count)\r\n"
        }
        let response = try client.exchange(Array((head + "\r\n").utf8) + bytes)
        return ServiceReply(response)
    }
}

/// One response as the service tests read it: status, headers by lower-cased name (the last of a
/// repeated name), and the body as text.
struct ServiceReply {
    var status: Int
    var headers: [String: String]
    var body: String
    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] }

    init(status: Int, headers: [String: String], body: String) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    init(_ response: LoopbackHTTPClient.Response) {
        var headers: [String: String] = [:]
        for line in response.head.split(separator: "\r\n").dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        self.init(status: response.status, headers: headers, body: String(decoding: response.body, as: UTF8.self))
    }

    /// The parsed JSON log lines whose msg is `message`.
    static func entries(_ lines: [String], _ message: String) -> [[String: Any]] {
        lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }.filter { $0["msg"] as? String == message }
    }
}

/// The process's structured log while in-process services run: every line kept (tests read what a
/// service wrote since it started) instead of written to standard error.
final class TestLog: @unchecked Sendable {
    static let shared = TestLog()
    private let lock = NSLock()
    private var kept: [String] = []

    /// Captures `JSONLog.shared` from now on (once); the index of the next line.
    func start() -> Int {
        lock.lock()
        defer { lock.unlock() }
        JSONLog.shared.enabled = true
        if JSONLog.shared.sink == nil { JSONLog.shared.sink = { [self] line in append(line) } }
        return kept.count
    }

    private func append(_ line: String) { lock.lock(); kept.append(line); lock.unlock() }

    func lines(from index: Int) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return Array(kept[min(index, kept.count)...])
    }
}
