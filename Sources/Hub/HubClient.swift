import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The hub's HTTP protocol, as `huggingface_hub` speaks it (`hf_api.py`, `file_download.py`), over
/// FoundationNetworking's `URLSession` (libcurl: certificate checks, proxies from HTTPS_PROXY, HTTP/2):
///
/// - `GET {endpoint}/api/models/{repo}/revision/{revision}`: the commit (`sha`) and the file list (`siblings`);
/// - `HEAD {endpoint}/{repo}/resolve/{revision}/{file}`: `X-Repo-Commit`, `ETag` (a large file: `X-Linked-Etag`,
///   its SHA-256, and `X-Linked-Size`, with a 302 to the file store);
/// - `GET` of the same path, or of the 302's `Location` for a large file.
///
/// Redirects are followed by hand: a relative one (the hub renaming a repository) keeps the token, one to
/// another host (the file store, a CDN) never gets it, as `huggingface_hub` does.
///
/// The session keeps nothing on disk (ephemeral: the hub's files are cached by `HubCache`), but
/// FoundationNetworking still creates empty directories for its shared URL cache and cookie store under
/// $HOME/.cache and $HOME/.local/share when it can; on a read-only root it carries on without them.
public final class HubClient: NSObject, @unchecked Sendable {
    public let endpoint: URL
    let token: String?
    private var session: URLSession!
    private let transfersLock = NSLock()
    private var transfers: [Int: Transfer] = [:]

    public init(endpoint: URL, token: String?) {
        self.endpoint = endpoint
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        super.init()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        configuration.httpAdditionalHeaders = ["User-Agent": "instructrec (huggingface_hub protocol)"]
        session = URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
    }

    /// HF_ENDPOINT (default https://huggingface.co) and HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN).
    public convenience init(environment: [String: String]) {
        let endpoint = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : URL(string: $0) } ?? URL(string: "https://huggingface.co")!
        self.init(endpoint: endpoint, token: environment["HF_TOKEN"] ?? environment["HUGGING_FACE_HUB_TOKEN"])
    }

    deinit { session.invalidateAndCancel() }

    public struct Response: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: Data
        public func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    /// One request, redirects followed by hand (at most 5); the token goes only to the endpoint's host.
    func send(_ method: String, _ url: URL, downloadTo file: URL? = nil,
              progress: (@Sendable (Int64, Int64) -> Void)? = nil) throws -> Response {
        var url = url
        for _ in 0..<6 {
            var request = URLRequest(url: url)
            request.httpMethod = method
            request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
            if let token, url.host == endpoint.host, url.port == endpoint.port, url.scheme == endpoint.scheme {
                request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            }
            let response = try perform(request, downloadTo: file, progress: progress)
            // A HEAD of a large file answers the 302 itself: its headers are what the caller wants.
            guard [301, 302, 303, 307, 308].contains(response.status), method == "GET", let location = response.header("Location"),
                  let next = URL(string: location, relativeTo: url)?.absoluteURL else { return response }
            url = next
        }
        throw URLError(.httpTooManyRedirects)
    }

    /// One exchange, run by the session's delegate callbacks: the head, then the body into memory or, for a
    /// download, appended to `file` as it arrives (progress reported), then the end or the error.
    private func perform(_ request: URLRequest, downloadTo file: URL?, progress: (@Sendable (Int64, Int64) -> Void)?) throws -> Response {
        let transfer = Transfer(file: file, progress: progress)
        let task = session.dataTask(with: request)
        transfersLock.lock(); transfers[task.taskIdentifier] = transfer; transfersLock.unlock()
        task.resume()
        transfer.done.wait()
        transfersLock.lock(); transfers[task.taskIdentifier] = nil; transfersLock.unlock()
        try? transfer.handle?.close()
        if let error = transfer.error { throw error }
        guard let http = transfer.response else { throw URLError(.badServerResponse) }
        return Self.response(http, body: transfer.body)
    }

    /// One task's state, touched by the session's delegate queue (serial) and read after `done`.
    final class Transfer: @unchecked Sendable {
        let file: URL?
        let progress: (@Sendable (Int64, Int64) -> Void)?
        let done = DispatchSemaphore(value: 0)
        var response: HTTPURLResponse?
        var body = Data()
        var handle: FileHandle?
        var written: Int64 = 0
        var expected: Int64 = -1
        var error: Error?
        init(file: URL?, progress: (@Sendable (Int64, Int64) -> Void)?) { self.file = file; self.progress = progress }
    }

    private func transfer(_ task: URLSessionTask) -> Transfer? {
        transfersLock.lock(); defer { transfersLock.unlock() }; return transfers[task.taskIdentifier]
    }

    private static func response(_ http: HTTPURLResponse, body: Data) -> Response {
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        return Response(status: http.statusCode, headers: headers, body: body)
    }
}

extension HubClient: URLSessionDataDelegate {
    /// No redirect is followed by URLSession: `send` follows them, deciding where the token goes.
    public func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                           newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }

    public func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                           completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        guard let transfer = transfer(dataTask) else { completionHandler(.cancel); return }
        transfer.response = response as? HTTPURLResponse
        transfer.expected = response.expectedContentLength
        // Only a 200's body goes to the file; any other status's body is read into memory (an error message).
        if let file = transfer.file, transfer.response?.statusCode == 200 {
            if FileManager.default.createFile(atPath: file.path, contents: nil) {
                transfer.handle = FileHandle(forWritingAtPath: file.path)
            }
            if transfer.handle == nil { transfer.error = CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path]) }
        }
        completionHandler(transfer.error == nil ? .allow : .cancel)
    }

    public func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let transfer = transfer(dataTask) else { return }
        if let handle = transfer.handle {
            do { try handle.write(contentsOf: data) } catch { transfer.error = error; dataTask.cancel(); return }
            transfer.written += Int64(data.count)
            transfer.progress?(transfer.written, transfer.expected)
        } else {
            transfer.body.append(data)
        }
    }

    public func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        guard let transfer = transfer(task) else { return }
        if transfer.error == nil, let error { transfer.error = error }
        transfer.done.signal()
    }
}
