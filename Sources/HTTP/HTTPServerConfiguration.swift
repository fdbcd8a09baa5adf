/// Everything an operator can tune about the HTTP layer.
public struct HTTPServerConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var port = 8080
    /// listen(2) backlog
    public var backlog = 512
    /// open connections beyond this get 503 and are closed at once (but see `probeReserve`)
    public var maxConnections = 1024
    /// connections beyond `maxConnections` kept for liveness and readiness probes
    public var probeReserve = ProbeReserve.none
    /// response header -> access-log field: what the application tells the access line through its answers
    /// (the service: X-Model -> model); the header is sent as well
    public var accessLogHeaders: [String: String] = [:]
    public var limits = ParserLimits()
    /// decoded size of a gzip request body before 413 (zip-bomb guard)
    public var maxDecompressedBodyBytes = 16 * 1024 * 1024
    /// seconds from a request's first byte (or the connection's accept) to its last header byte; then 408
    public var headerTimeout = 10.0
    /// seconds from the end of the headers to the end of the body; then 408
    public var bodyTimeout = 30.0
    /// seconds an idle keep-alive connection stays open; longer than common
    /// load-balancer idle timeouts (60 s) so the balancer closes first
    public var idleTimeout = 75.0
    /// seconds a response may wait for a client that does not read
    public var writeTimeout = 30.0
    /// responses at least this large are gzipped when the client accepts gzip
    public var gzipMinimumBytes = 1024
    public var gzipLevel: Int32 = 6
    /// PEM files; both set means HTTPS
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// on SIGTERM: seconds between readiness turning false and the listener closing
    public var drainDelay = 5.0
    /// on SIGTERM: seconds until the process exits even with requests in flight
    public var shutdownDeadline = 30.0

    public init() {}
}
