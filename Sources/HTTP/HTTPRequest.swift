/// One complete request as the parser hands it to the server.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// the request-target in origin-form (path and query): as sent, or, for an absolute-form
    /// target (`http://host/path?query`, RFC 9112 §3.2.2), its path and query, with the
    /// target's authority put in the Host header
    public var target: String
    public var versionMinor: Int     // HTTP/1.<minor>
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// chunked trailer fields, if any
    public var trailers: HTTPHeaders
    /// whether the connection may carry another request after this one
    public var keepAlive: Bool
    /// set by the server: echoed X-Request-ID or a generated one
    public var requestID: String = ""
    /// set by the server: the W3C trace context (the caller's continued, or a new trace)
    var trace: TraceContext?
    /// set by the server: "ip:port" of the client
    public var peer: String = ""

    /// the target without its query
    public var path: String {
        if let q = target.firstIndex(of: "?") { return String(target[..<q]) }
        return target
    }

    /// the query string after "?", or ""
    public var query: String {
        if let q = target.firstIndex(of: "?") { return String(target[target.index(after: q)...]) }
        return ""
    }

    public init(method: String, target: String, versionMinor: Int = 1, headers: HTTPHeaders = HTTPHeaders(),
                body: [UInt8] = [], trailers: HTTPHeaders = HTTPHeaders(), keepAlive: Bool = true) {
        self.method = method
        self.target = target
        self.versionMinor = versionMinor
        self.headers = headers
        self.body = body
        self.trailers = trailers
        self.keepAlive = keepAlive
    }
}
