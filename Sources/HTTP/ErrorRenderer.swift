/// How the application words the errors this layer answers by itself: framing
/// errors (400, 413, 414, 431, 501, 505), timeouts (408), an unsupported
/// Content-Encoding (415), no route (404), a wrong method (405) and the
/// connection limit (503). The application gives the body and its
/// Content-Type; this layer keeps the status (RFC 9110 §15 is its decision)
/// and adds the fields the protocol asks for beside it (`HTTPError.headers`:
/// Allow, RFC 9110 §10.2.1; Retry-After, §10.2.3).
public struct ErrorRenderer: Sendable {
    private let render: @Sendable (HTTPError) -> HTTPResponse

    public init(_ render: @escaping @Sendable (HTTPError) -> HTTPResponse) {
        self.render = render
    }

    /// What an application that says nothing gets: "<code>: <message>" as text.
    public static let plainText = ErrorRenderer { error in
        .text("\(error.code): \(error.message)\n", status: error.status)
    }

    /// The response for `error`: the application's body with the error's status and fields.
    public func response(for error: HTTPError) -> HTTPResponse {
        var response = render(error)
        response.status = error.status
        for (name, value) in error.headers { response.headers.set(name, value) }
        return response
    }
}
