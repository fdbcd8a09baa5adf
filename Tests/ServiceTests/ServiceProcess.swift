import Foundation
import XCTest

/// The real `instructrec serve` binary on an ephemeral loopback port, with the
/// tiny T5 fixture model and the real Flan-T5 tokenizer: for what needs a process of
/// its own (signals, start-up, reload by signal, the kernel decision, the command
/// line). Endpoint tests use `InProcessService`.
final class ServiceProcess: @unchecked Sendable {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var modelDirectory: String { root.appendingPathComponent("Tests/T5Tests/Fixtures/t5-v1_1-tiny").path }
    static var tokenizerFile: String { root.appendingPathComponent("Tests/TokenizerTests/Fixtures/tokenizer.json").path }
    static var templatesFile: String { root.appendingPathComponent("config/templates.json").path }

    static var binary: String {
        get throws {
            // The test bundle lives among the built products (.build/<triple>/<config>/).
            let bundle = Bundle(for: ServiceProcess.self).bundleURL
            let candidates = [bundle, bundle.deletingLastPathComponent(), Bundle.main.bundleURL]
                .map { $0.appendingPathComponent("instructrec").path }
            guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw NSError(domain: "ServiceProcess", code: 2,
                              userInfo: [NSLocalizedDescriptionKey: "instructrec binary not found in \(candidates)"])
            }
            return path
        }
    }


    let process = Process()
    private(set) var port = 0
    private let logLock = NSLock()
    private var logLines: [String] = []
    var base: String { "http://127.0.0.1:\(port)" }

    /// - waitFor: the log message that ends start-up ("serving": ready; "listening": the socket is open, the model still loading)
    /// - arguments: replaces the fixture model, tokenizer and templates flags
    init(settings: [String: String] = [:], environment: [String: String] = [:], waitFor: String = "serving",
         arguments modelArguments: [String]? = nil, directory: URL? = nil) throws {
        process.executableURL = URL(fileURLWithPath: try Self.binary)
        var arguments = ["serve"] + (modelArguments ?? ["--model", Self.modelDirectory, "--tokenizer", Self.tokenizerFile,
                                                        "--templates", Self.templatesFile]) + ["--host", "127.0.0.1", "--port", "0"]
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) { arguments += ["--set", "\(key)=\(value)"] }
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? Self.root
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        let ready = DispatchSemaphore(value: 0)
        let portBox = PortBox()
        stderr.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard !data.isEmpty else { handle.readabilityHandler = nil; return }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                self?.record(String(line))
                if line.contains("\"msg\":\"\(waitFor)\""), let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let port = json["port"] as? Int {
                    portBox.port = port
                    ready.signal()
                }
            }
        }
        try process.run()
        guard ready.wait(timeout: .now() + 60) == .success else {
            process.terminate()
            throw NSError(domain: "ServiceProcess", code: 1, userInfo: [NSLocalizedDescriptionKey: "service did not start: \(logs.joined(separator: "\n"))"])
        }
        port = portBox.port
    }

    private func record(_ line: String) { logLock.lock(); logLines.append(line); logLock.unlock() }
    var logs: [String] { logLock.lock(); defer { logLock.unlock() }; return logLines }

    /// The parsed log lines whose msg is `message`.
    func logEntries(_ message: String) -> [[String: Any]] { ServiceReply.entries(logs, message) }

    /// Waits for the process to exit; its status, or nil when it is still running after `seconds`.
    func exitStatus(within seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { return nil }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Ends the process at once: SIGKILL, because SIGTERM would drain for `drain_delay_s` first. The tests of
    /// draining send their own signals.
    @discardableResult
    func terminate() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { terminate() }

    typealias Reply = ServiceReply

    /// One HTTP exchange through curl.
    func request(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = ["Content-Type": "application/json"]) throws -> Reply {
        try Self.curl(method, base + path, body: body, headers: headers)
    }

    static func curl(_ method: String, _ url: String, body: String? = nil, headers: [String: String] = [:]) throws -> Reply {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        var arguments = ["-s", "-S", "-i", "-X", method, "--max-time", "60"]
        for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
        if body != nil { arguments += ["--data-binary", "@-"] }
        arguments.append(url)
        process.arguments = arguments
        let output = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        try process.run()
        if let body { input.fileHandleForWriting.write(Data(body.utf8)) }
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return Reply(status: 0, headers: [:], body: text) }
        let head = text[..<split.lowerBound].split(separator: "\r\n")
        let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return Reply(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}

final class PortBox: @unchecked Sendable { var port = 0 }

/// Request bodies used across the tests.
enum Bodies {
    static let recommend = """
    {"history": ["Super Mario Odyssey", {"id": "z1", "title": "The Legend of Zelda: Breath of the Wild"}],
     "candidates": [{"id": "mk8", "title": "Mario Kart 8 Deluxe"}, {"id": "hdmi", "title": "HDMI Cable 6ft"},
                    {"id": "spl", "title": "Splatoon 2"}, {"id": "fifa", "title": "FIFA 19 - PlayStation 4"}],
     "return_instruction": true}
    """
    static let search = """
    {"query": "a racing game for kids", "intent": "vague",
     "candidates": ["Mario Kart 8 Deluxe", "Call of Duty: Black Ops 4", "Crash Team Racing Nitro-Fueled"]}
    """
    static let rerank = """
    {"query": "wireless controller", "documents": ["Xbox Wireless Controller - Black", {"id": "d2", "text": "USB charging cable"}],
     "top_n": 1, "return_documents": true}
    """
    static func manyCandidates(_ count: Int) -> String {
        let list = (0..<count).map { "{\"id\": \"c\($0)\", \"title\": \"Game number \($0) deluxe edition with extras\"}" }.joined(separator: ",")
        return "{\"history\": [\"Halo 3\", \"Gears of War\"], \"candidates\": [\(list)]}"
    }
}
