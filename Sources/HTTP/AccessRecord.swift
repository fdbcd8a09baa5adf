/// One answered request (or refused connection), for the access log and `HTTPServer.onAccess`.
public struct AccessRecord: Sendable, Equatable {
    public var method: String
    public var path: String
    public var status: Int
    public var bytes: Int
    public var seconds: Double
    public var requestID: String
    public var peer: String
    /// true when this layer answered without calling a handler: no route (404),
    /// wrong method (405), a framing error (400, 408, 413, 431, ...), an
    /// unsupported Content-Encoding, or a connection over the limit (503)
    public var answeredByHTTPLayer: Bool
    /// the request's trace (W3C Trace Context), nil for answers without a request
    var trace: TraceContext? = nil
    /// access-log fields taken from the response's headers (`HTTPServerConfiguration.accessLogHeaders`)
    public var fields: [String: String] = [:]
}
