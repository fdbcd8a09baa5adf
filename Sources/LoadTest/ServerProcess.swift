import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process (an `instructrec serve` replica or nginx) with its output
/// in a log file, signals, and /proc sampling.
final class ServerProcess: @unchecked Sendable {
    let name: String
    let executable: String
    let arguments: [String]
    let logPath: String
    private(set) var process: Process?

    init(name: String, executable: String, arguments: [String], logPath: String) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.logPath = logPath
    }

    var pid: Int32 { process?.processIdentifier ?? 0 }
    var isRunning: Bool { process?.isRunning ?? false }

    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        guard let log = FileHandle(forWritingAtPath: logPath) else { throw LoadTestError.setup("cannot write \(logPath)") }
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        do { try process.run() } catch { throw LoadTestError.setup("cannot start \(name) (\(executable)): \(error)") }
        ChildRegistry.add(process.processIdentifier)
        process.terminationHandler = { ChildRegistry.remove($0.processIdentifier) }
        self.process = process
    }

    func signal(_ number: Int32) {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, number)
    }

    /// Waits for exit; true if it exited within the time.
    @discardableResult
    func waitForExit(timeout: Double) -> Bool {
        let deadline = Clock.now + timeout
        while isRunning && Clock.now < deadline { usleep(20_000) }
        return !isRunning
    }

    func stop() {
        signal(SIGTERM)
        if !waitForExit(timeout: 10) { signal(SIGKILL); waitForExit(timeout: 5) }
    }

    var exitStatus: Int32? {
        guard let process, !process.isRunning else { return nil }
        return process.terminationStatus
    }

    /// Resident set size in KiB (VmRSS in /proc/<pid>/status).
    var residentKiB: Int? {
        guard pid > 0, let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    /// Open file descriptors (entries of /proc/<pid>/fd).
    var openDescriptors: Int? {
        guard pid > 0, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return nil }
        return entries.count
    }

    /// What each open descriptor points at ("socket:[123]", "pipe:[45]", a path).
    var descriptorTargets: [String] {
        guard pid > 0, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return [] }
        return entries.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)") }.sorted()
    }

    /// Threads (entries of /proc/<pid>/task).
    var threadCount: Int? {
        guard pid > 0, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return nil }
        return entries.count
    }

    func logTail(lines: Int = 20) -> String {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return "" }
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}

/// Simple GETs for probes (/readyz, /metrics) on a fresh connection each time.
enum Probe {
    static func get(port: Int, path: String, timeout: Double = 2) -> ClientResponse? {
        let connection = HTTPClientConnection(port: port, timeoutSeconds: timeout)
        defer { connection.close() }
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        return try? connection.request(Array(request.utf8))
    }

    /// Polls /readyz until 200; the time it turned ready, or nil on timeout.
    static func waitUntilReady(port: Int, timeout: Double, process: ServerProcess? = nil) -> Double? {
        let deadline = Clock.now + timeout
        while Clock.now < deadline {
            if let response = get(port: port, path: "/readyz", timeout: 1), response.status == 200 { return Clock.now }
            if let process, process.exitStatus != nil { return nil }
            usleep(25_000)
        }
        return nil
    }

    /// A POST with a JSON body on a fresh connection (POST /admin/reload answers when the reload ended).
    static func post(port: Int, path: String, body: String, authorization: String? = nil, timeout: Double = 60) -> ClientResponse? {
        let connection = HTTPClientConnection(port: port, timeoutSeconds: timeout)
        defer { connection.close() }
        let bytes = Array(body.utf8)
        var head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: \(bytes.count)\r\n"
        if let authorization { head += "Authorization: Bearer \(authorization)\r\n" }
        return try? connection.request(Array((head + "\r\n").utf8) + bytes)
    }

    /// Sum of instructrec_requests_total for a route over all statuses (and models, unless `model` names one).
    static func servedRequests(port: Int, route: String, model: String? = nil) -> Int? {
        var labels = ["route": route]
        if let model { labels["model"] = model }
        return metric(port: port, name: "instructrec_requests_total", labels: labels).map { Int($0) }
    }

    /// The value of a gauge on /metrics: the unlabelled series, or else the sum of its series
    /// (per model, once the service labels them).
    static func gauge(port: Int, name: String) -> Double? {
        metric(port: port, name: name)
    }

    /// A metric from /metrics: with `labels`, the sum of the series carrying all of them; without,
    /// the unlabelled series when there is one, else the sum of all its series. nil when no series matches.
    static func metric(port: Int, name: String, labels: [String: String] = [:]) -> Double? {
        guard let response = get(port: port, path: "/metrics"), response.status == 200 else { return nil }
        return metric(in: String(decoding: response.body, as: UTF8.self), name: name, labels: labels)
    }

    static func metric(in text: String, name: String, labels: [String: String] = [:]) -> Double? {
        var unlabelled: Double?
        var sum: Double?
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let rest = line.dropFirst(name.count)
            guard let value = Double(line.split(separator: " ").last ?? "") else { continue }
            if rest.first == " " {
                if labels.isEmpty { unlabelled = value }
            } else if rest.first == "{" {
                let labelText = rest.prefix { $0 != "}" }
                if labels.allSatisfy({ labelText.contains("\($0.key)=\"\($0.value)\"") }) { sum = (sum ?? 0) + value }
            }
        }
        return unlabelled ?? sum
    }

    /// /info as JSON.
    static func info(port: Int) -> [String: Any]? {
        guard let response = get(port: port, path: "/info"), response.status == 200 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
    }

    /// The default model's content hash (/info model.sha256).
    static func modelHash(port: Int) -> String? {
        (info(port: port)?["model"] as? [String: Any])?["sha256"] as? String
    }

    /// Each served model's content hash by name (/info models[].name, .sha256); a binary that
    /// serves one unnamed model answers ["default": model.sha256].
    static func modelHashes(port: Int) -> [String: String]? {
        guard let info = info(port: port) else { return nil }
        if let models = info["models"] as? [[String: Any]] {
            var hashes: [String: String] = [:]
            for model in models {
                if let name = model["name"] as? String, let hash = model["sha256"] as? String { hashes[name] = hash }
            }
            return hashes
        }
        return ((info["model"] as? [String: Any])?["sha256"] as? String).map { ["default": $0] }
    }

    /// A free loopback TCP port (bind to 0 and read it back).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoadTestError.setup("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw LoadTestError.setup("cannot bind a loopback port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
