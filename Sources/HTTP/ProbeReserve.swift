/// Liveness at the connection limit: a few connections beyond `maxConnections`, each
/// for one probe request.
///
/// Without it, a replica whose `maxConnections` are all open (busy, or held by idle
/// keep-alive clients) answers its liveness probe 503, and the orchestrator restarts a
/// process that is only busy. Two ways out were weighed: a separate probe port, or
/// reserved slots on the serving port. The reserve is the choice:
/// - the probes stay where the manifests already point them (docker/k8s: `/healthz` and
///   `/readyz` on the `http` port; the image's HEALTHCHECK and compose read `/readyz`
///   there too), with the same TLS; a second port would be a second listener to bind,
///   secure and keep out of the Service and the load balancer;
/// - it costs nothing until the limit is reached.
///
/// A reserve connection is accepted only while the regular ones are all taken. It
/// serves one request and closes (no keep-alive: its slot is free again at once), and
/// it waits at most `headerTimeout` for that request (then 408), so a client that opens
/// one and says nothing holds it briefly. A GET or HEAD of one of `paths` is served as
/// usual; any other request gets the limit's 503 (RFC 9110 §15.6.4, Retry-After 1), now
/// with its request id and in its route's error shape, since its request line was read.
/// Connections beyond the reserve too get that 503 at once, before reading anything.
/// This keeps a busy replica alive; it does not make one proof against a flood that
/// fills the reserve as well (limits in front of the service are for that).
public struct ProbeReserve: Sendable, Equatable {
    /// connections accepted beyond `maxConnections`, each for one probe request
    public var slots: Int
    /// what a reserve connection may ask for (with GET or HEAD); the rest is answered 503
    public var paths: Set<String>
    /// seconds a reserve connection waits for its request line and header section (then 408);
    /// never longer than the server's `headerTimeout`
    public var headerTimeout: Double

    public init(slots: Int = 0, paths: Set<String> = [], headerTimeout: Double = 2) {
        self.slots = slots
        self.paths = paths
        self.headerTimeout = headerTimeout
    }

    /// no reserve: every connection over the limit gets 503 at once
    public static let none = ProbeReserve()

    var isEnabled: Bool { slots > 0 && !paths.isEmpty }

    /// Whether a reserve connection serves this request (RFC 9110 §9.3.2: HEAD is GET without the body).
    func admits(method: String, path: String) -> Bool {
        (method == "GET" || method == "HEAD") && paths.contains(path)
    }
}
