/// How the application words the errors this layer answers by itself: framing
/// errors (400, 413, 414, 431, 501, 505), timeouts (408), an unsupported
/// Content-Encoding (415), no route (404), a wrong method (405), the
/// connection limit (503) and a handler that threw (500). The application
/// gives the body and its Content-Type for the request's path — when the
/// request line was read, so that a route's clients get the error shape they
/// parse (an application with several API shapes picks the one at that path);
/// nil before that. This layer keeps the status (RFC 9110 §15 is its decision)
/// and adds the fields the protocol asks for beside it (`HTTPError.headers`:
/// Allow, RFC 9110 §10.2.1; Retry-After, §10.2.3).
public struct ErrorRenderer: Sendable {
    private let render: @Sendable (HTTPError, String?) -> HTTPResponse

    /// One body for every route.
    public init(_ render: @escaping @Sendable (HTTPError) -> HTTPResponse) {
        self.render = { error, _ in render(error) }
    }

    /// A body per route: `path` is the request's path without its query, nil when
    /// the answer comes before the request line was read.
    public init(byPath render: @escaping @Sendable (_ error: HTTPError, _ path: String?) -> HTTPResponse) {
        self.render = render
    }

    /// What an application that says nothing gets: "<code>: <message>" as text.
    public static let plainText = ErrorRenderer { error in
        .text("\(error.code): \(error.message)\n", status: error.status)
    }

    /// The response for `error` on `path`: the application's body with the error's status and fields.
    public func response(for error: HTTPError, path: String? = nil) -> HTTPResponse {
        var response = render(error, path)
        response.status = error.status
        for (name, value) in error.headers { response.headers.set(name, value) }
        return response
    }
}
