/// Handles one request; must call `responder.respond` exactly once, from any
/// thread. It is called on the connection's queue and must not block: cheap
/// work answers inline, slow work (inference) is handed to another queue.
public typealias Handler = @Sendable (HTTPRequest, Responder) -> Void

/// Exact-path routing by method. HEAD is served by the GET handler with the
/// body dropped (RFC 9110 §9.3.2); a known path with another method gets 405
/// and an Allow header (RFC 9110 §15.5.6).
public struct Router: Sendable {
    private var routes: [String: [String: Handler]] = [:]
    /// Answers every request no route matches (instead of 404/405): the
    /// service's start-up router answers 503 this way while the model loads.
    public var fallback: Handler?

    public init() {}

    public mutating func add(_ method: String, _ path: String, _ handler: @escaping Handler) {
        routes[path, default: [:]][method.uppercased()] = handler
    }

    enum Resolution {
        case handler(Handler)
        case notFound
        case methodNotAllowed(allow: [String])
    }

    func resolve(method: String, path: String) -> Resolution {
        guard let methods = routes[path] else { return fallback.map { .handler($0) } ?? .notFound }
        if let handler = methods[method] { return .handler(handler) }
        if method == "HEAD", let get = methods["GET"] { return .handler(get) }
        if let fallback { return .handler(fallback) }
        var allow = Set(methods.keys)
        if allow.contains("GET") { allow.insert("HEAD") }
        return .methodNotAllowed(allow: allow.sorted())
    }
}
