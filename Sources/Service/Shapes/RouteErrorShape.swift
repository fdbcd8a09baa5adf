import HTTP

/// The error shape of a route for the answers given before a body selects a shape: the HTTP layer's own
/// (400, 404, 405, 408, 413, 415, 431, 503 at the connection limit, 500 for a handler that threw), the
/// start-up router's 503 while the model loads, and the route's own checks (API key, Content-Type, malformed
/// JSON); `ErrorAnswer` words them. A ranking route answers in its shape's envelope, so its
/// clients parse every error the same way (Cohere's {"message"} on /v1/rerank and /v2/rerank); /rerank,
/// which ours and TEI's share, is worded by the first registered there (ours), since no decoded body says
/// which it is; every other path, and an answer before the request line was read, gets ours.
enum RouteErrorShape {
    static func shape(for path: String?) -> AnyShape {
        path.flatMap { ShapeRegistry.shapes(at: $0).first } ?? ShapeRegistry.all[0]
    }

    /// What the service installs in the HTTP layer (`HTTPServer(errors:)`): the HTTP layer keeps the status
    /// and its protocol fields (Allow, Retry-After); the route's shape gives the body (`ErrorAnswer`).
    static let renderer = ErrorRenderer(byPath: { error, path in
        ErrorAnswer.response(to: error, shape: nil, path: path)
    })
}
