import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Misbehaving clients for the soak: each loop iteration picks one abuse.
/// Abuses whose answer we can check (malformed requests) must get a 4xx;
/// the rest (disconnects, slow reads) must simply not hurt the server.
final class ChaosClients: @unchecked Sendable {
    let port: Int
    private let lock = NSLock()
    private var stopping = false
    private var paused = false
    private let finished = DispatchGroup()
    private(set) var counts: [String: Int] = [:]
    /// Malformed requests that did not get the 4xx they deserve.
    private(set) var wrongAnswers: [String] = []
    /// The malformed requests sent: `malformed`, and with two models served, one naming a model
    /// the server does not serve (404 unknown_model).
    let cases: [(String, String, Int)]

    init(port: Int, servesModelsByName: Bool = false) {
        self.port = port
        cases = Self.malformed + (servesModelsByName ? [Self.unknownModel] : [])
    }

    /// A well-formed /recommend naming a model that is not served.
    static let unknownModel = ("unknown_model", {
        let body = "{\"model\": \"no-such-model\", \"history\": [\"Halo 3\"], \"candidates\": [\"Halo 5: Guardians\"]}"
        return "POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }(), 404)

    /// (name, raw request, expected status) — each must be refused with that
    /// status: 400 for bytes that are not valid HTTP or JSON, 422 for valid
    /// JSON that breaks the request schema, 404/431 from the HTTP layer.
    static let malformed: [(String, String, Int)] = {
        func post(_ path: String, _ body: String, type: String = "application/json") -> String {
            "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }
        return [
            ("invalid_json", post("/recommend", "{\"history\": [\"a\", "), 400),
            ("missing_candidates", post("/recommend", "{\"history\": [\"Halo 3\"]}"), 422),
            ("wrong_type", post("/recommend", "{\"history\": \"Halo 3\", \"candidates\": [\"a\"]}"), 422),
            ("empty_body", post("/search", ""), 400),
            ("unknown_path", post("/nope", "{}"), 404),
            ("garbage_request_line", "\u{1}\u{2}GARBAGE\r\n\r\n", 400),
            ("bad_content_length", "POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
            ("huge_header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 70_000))\r\n\r\n", 431),
        ]
    }()

    private var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return stopping }

    private func count(_ name: String, wrong: String? = nil) {
        lock.lock()
        counts[name, default: 0] += 1
        if let wrong, wrongAnswers.count < 20 { wrongAnswers.append(wrong) }
        lock.unlock()
    }

    /// `abusers` threads of mixed abuse, `slowReaders` threads that read each response a few bytes at a time.
    func start(abusers: Int, slowReaders: Int, pause: Double) {
        for index in 0..<abusers { spawn { [self] in
            var step = index
            while !isStopping {
                if isPaused { usleep(50_000); continue }
                step += 1
                abuse(step)
                usleep(useconds_t(pause * 1e6))
            }
        } }
        for _ in 0..<slowReaders { spawn { [self] in
            while !isStopping {
                if isPaused { usleep(50_000); continue }
                slowRead()
            }
        } }
    }

    /// Paused clients finish what they are doing and then wait.
    func setPaused(_ value: Bool) { lock.lock(); paused = value; lock.unlock() }
    private var isPaused: Bool { lock.lock(); defer { lock.unlock() }; return paused }

    func stop() {
        lock.lock(); stopping = true; lock.unlock()
        finished.wait()
    }

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        finished.enter()
        Thread { body(); self.finished.leave() }.start()
    }

    private func abuse(_ step: Int) {
        let connection = HTTPClientConnection(port: port, timeoutSeconds: 10)
        defer { connection.close() }
        let full = RecommendPayload.request(variant: step)
        do {
            switch step % 4 {
            case 0:
                // Disconnect mid-request: headers and half the body, then close.
                try connection.send(Array(full.prefix(full.count / 2)))
                count("disconnect_mid_body")
            case 1:
                // Whole request, then close without reading the answer (the server drops the job as client_gone or writes into a closed socket).
                try connection.send(full)
                count("disconnect_before_response")
            default:
                let (name, raw, expected) = cases[(step / 4 * 2 + step % 4) % cases.count]
                let response = try connection.request(Array(raw.utf8))
                count("malformed")
                if response.status != expected {
                    count("malformed_wrong_status", wrong: "\(name): expected \(expected), got \(response.status)")
                } else if !String(decoding: response.body, as: UTF8.self).contains("\"error\"") {
                    count("malformed_wrong_status", wrong: "\(name): \(response.status) without a JSON error body")
                }
            }
        } catch {
            // A refused connection (server at its connection limit) is an answer too; anything else is noted.
            count("abuse_error_\((error as? LoadTestError)?.cause ?? "other")")
        }
    }

    static func endOfHeaders(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 3..<bytes.count where bytes[i - 3] == 13 && bytes[i - 2] == 10 && bytes[i - 1] == 13 && bytes[i] == 10 { return i + 1 }
        return nil
    }

    /// Sends a request and reads the answer 64 bytes every 20 ms.
    private func slowRead() {
        let connection = HTTPClientConnection(port: port, timeoutSeconds: 30)
        defer { connection.close() }
        do {
            try connection.connect()
            try connection.send(RecommendPayload.request(variant: 7, host: "slow"))
            var received: [UInt8] = []
            var expectedTotal = Int.max
            while received.count < expectedTotal, !isStopping, let bytes = try connection.readSome(max: 64) {
                received += bytes
                if expectedTotal == Int.max, let headerEnd = Self.endOfHeaders(received) {
                    let head = String(decoding: received[..<headerEnd], as: UTF8.self).lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    expectedTotal = headerEnd + length
                }
                usleep(20_000)
            }
            count("slow_read")
        } catch {
            count("slow_read_error_\((error as? LoadTestError)?.cause ?? "other")")
        }
    }
}
