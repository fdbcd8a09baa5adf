import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A model hub on loopback that speaks the protocol `huggingface_hub` speaks (`hf_api.py`, `file_download.py`),
/// with its file store on another host name (`localhost` against the hub's `127.0.0.1`):
///
/// - `GET /api/models/{repo}/revision/{revision}`: `{"sha", "siblings": [{"rfilename"}]}`;
/// - `HEAD|GET /{repo}/resolve/{revision}/{file}`: a small file answered here (`ETag`: its git blob id,
///   `X-Repo-Commit`); a large one (`.safetensors`, `tokenizer.json`) a 302 to the store with `X-Linked-Etag`
///   (its SHA-256) and `X-Linked-Size`;
/// - 401 without the token when one is required, 404 with `X-Error-Code` (RepoNotFound, RevisionNotFound,
///   EntryNotFound).
///
/// Every request's `Authorization` is recorded per host, and the store can drop its connection halfway
/// through a file, once.
final class LocalHub: @unchecked Sendable {
    struct Repository {
        var files: [String: Data]
        var commit: String
    }

    private let lock = NSLock()
    private var repositories: [String: Repository] = [:]
    private var seen: [(host: String, method: String, path: String, authorization: String?)] = []
    var requiredToken: String?
    /// the store drops the connection after half of the next large file it sends
    var dropNextLargeFile = false
    /// false: the model info lists no siblings, and the files come from the tree listing only
    var listsSiblings = true
    private(set) var hub: RawHTTPServer!
    private(set) var store: RawHTTPServer!

    var endpoint: String { "http://127.0.0.1:\(hub.port)" }

    init() throws {
        hub = try RawHTTPServer { [unowned self] request in self.answerHub(request) }
        store = try RawHTTPServer { [unowned self] request in self.answerStore(request) }
    }

    func stop() { hub.stop(); store.stop() }

    func add(_ repository: String, files: [String: Data], commit: String = String(repeating: "c", count: 40)) {
        lock.lock(); repositories[repository] = Repository(files: files, commit: commit); lock.unlock()
    }

    /// The Authorization headers each host received ("hub", "store").
    func authorizations(_ host: String) -> [String?] {
        lock.lock(); defer { lock.unlock() }; return seen.filter { $0.host == host }.map(\.authorization)
    }

    /// "METHOD path" of every request a host received.
    func requests(_ host: String) -> [String] {
        lock.lock(); defer { lock.unlock() }; return seen.filter { $0.host == host }.map { "\($0.method) \($0.path)" }
    }

    static func isLarge(_ file: String) -> Bool { file.hasSuffix(".safetensors") || file == "tokenizer.json" || file == "spiece.model" }

    /// A git blob id (what the hub sends as a small file's ETag).
    static func gitBlobID(_ data: Data) -> String { String(digest("sha1sum", Data("blob \(data.count)\u{0}".utf8) + data).prefix(40)) }

    static func sha256(_ data: Data) -> String { String(digest("sha256sum", data).prefix(64)) }

    /// The hex digest coreutils' `tool` prints for `data`.
    private static func digest(_ tool: String, _ data: Data) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/\(tool)")
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try? process.run()
        input.fileHandleForWriting.write(data)
        try? input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text
    }

    private func record(_ host: String, _ request: RawHTTPServer.Request) {
        lock.lock(); seen.append((host, request.method, request.path, request.headers["authorization"])); lock.unlock()
    }

    private func notFound(_ code: String) -> RawHTTPServer.Answer {
        .init(status: 404, headers: ["X-Error-Code": code, "Content-Type": "application/json"], body: Data(#"{"error":"\#(code)"}"#.utf8))
    }

    private func answerHub(_ request: RawHTTPServer.Request) -> RawHTTPServer.Answer {
        record("hub", request)
        if let token = requiredToken, request.headers["authorization"] != "Bearer \(token)" {
            return .init(status: 401, headers: ["X-Error-Code": "GatedRepo"], body: Data())
        }
        let parts = request.path.split(separator: "/").map(String.init)
        lock.lock(); let repositories = self.repositories; lock.unlock()
        if parts.count == 6, parts[0] == "api", parts[1] == "models", parts[4] == "revision" || parts[4].hasPrefix("tree") {
            guard let repository = repositories["\(parts[2])/\(parts[3])"] else { return notFound("RepoNotFound") }
            let revision = String(parts[5].split(separator: "?").first ?? "")
            guard revision == "main" || revision == repository.commit else { return notFound("RevisionNotFound") }
            if parts[4] == "tree" {
                let entries = repository.files.keys.sorted().map { ["type": "file", "path": $0] }
                return .init(status: 200, headers: ["Content-Type": "application/json"], body: try! JSONSerialization.data(withJSONObject: entries))
            }
            var info: [String: Any] = ["id": "\(parts[2])/\(parts[3])", "sha": repository.commit]
            if listsSiblings { info["siblings"] = repository.files.keys.sorted().map { ["rfilename": $0] } }
            return .init(status: 200, headers: ["Content-Type": "application/json"], body: try! JSONSerialization.data(withJSONObject: info))
        }
        guard parts.count >= 5, parts[2] == "resolve" else { return notFound("EntryNotFound") }
        guard let repository = repositories["\(parts[0])/\(parts[1])"] else { return notFound("RepoNotFound") }
        guard parts[3] == "main" || parts[3] == repository.commit else { return notFound("RevisionNotFound") }
        let file = parts[4...].joined(separator: "/")
        guard let data = repository.files[file] else { return notFound("EntryNotFound") }
        if Self.isLarge(file) {
            let digest = Self.sha256(data)
            return .init(status: 302, headers: ["Location": "http://localhost:\(store.port)/blobs/\(digest)", "X-Repo-Commit": repository.commit,
                                                "X-Linked-Etag": "\"\(digest)\"", "X-Linked-Size": String(data.count),
                                                "ETag": "\"\(Self.gitBlobID(data))\""], body: Data())
        }
        return .init(status: 200, headers: ["X-Repo-Commit": repository.commit, "ETag": "\"\(Self.gitBlobID(data))\"",
                                            "Content-Type": "application/octet-stream"], body: data, headOnly: request.method == "HEAD")
    }

    private func answerStore(_ request: RawHTTPServer.Request) -> RawHTTPServer.Answer {
        record("store", request)
        lock.lock(); let repositories = self.repositories; lock.unlock()
        let digest = request.path.split(separator: "/").last.map(String.init) ?? ""
        for repository in repositories.values {
            for (_, data) in repository.files where Self.sha256(data) == digest {
                lock.lock()
                let drop = dropNextLargeFile
                dropNextLargeFile = false
                lock.unlock()
                return .init(status: 200, headers: ["Content-Type": "application/octet-stream"], body: data,
                             headOnly: request.method == "HEAD", truncateAt: drop ? data.count / 2 : nil)
            }
        }
        return .init(status: 404, headers: [:], body: Data())
    }
}

/// An HTTP/1.1 server on raw loopback sockets that answers each connection's one request and closes it
/// (`Connection: close`, RFC 9112 §9.6) — or, when told, closes it halfway through the body.
final class RawHTTPServer: @unchecked Sendable {
    struct Request { var method: String; var path: String; var headers: [String: String] }
    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: Data
        var headOnly = false
        var truncateAt: Int?
    }

    let port: Int
    private let fd: Int32
    private let handler: @Sendable (Request) -> Answer
    private let stopped = NSLock()
    private var isStopped = false

    init(_ handler: @escaping @Sendable (Request) -> Answer) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); throw NSError(domain: "RawHTTPServer", code: Int(errno)) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    func stop() {
        stopped.lock(); isStopped = true; stopped.unlock()
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func acceptLoop() {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 {
                stopped.lock(); let done = isStopped; stopped.unlock()
                if done { return }
                continue
            }
            Thread.detachNewThread { [self] in serve(client) }
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var received: [UInt8] = []
        while received.count < 1 << 20 {
            let n = recv(client, &buffer, buffer.count, 0)
            if n <= 0 { return }
            received += buffer[0..<n]
            if let end = String(decoding: received, as: UTF8.self).range(of: "\r\n\r\n") {
                let head = String(String(decoding: received, as: UTF8.self)[..<end.lowerBound])
                let lines = head.split(separator: "\r\n").map(String.init)
                let first = lines.first?.split(separator: " ").map(String.init) ?? []
                guard first.count >= 2 else { return }
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    if let colon = line.firstIndex(of: ":") {
                        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    }
                }
                respond(client, handler(Request(method: first[0], path: first[1], headers: headers)))
                return
            }
        }
    }

    private func respond(_ client: Int32, _ answer: Answer) {
        var head = "HTTP/1.1 \(answer.status) \(answer.status == 200 ? "OK" : "Status")\r\nConnection: close\r\nContent-Length: \(answer.body.count)\r\n"
        for (name, value) in answer.headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if !answer.headOnly { bytes += Array(answer.body.prefix(answer.truncateAt ?? answer.body.count)) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(client, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
        if answer.truncateAt != nil { shutdown(client, Int32(SHUT_RDWR)) }
    }
}
