/// A request the server refuses: the status to answer with, a code and a
/// message for the application's error body (`ErrorRenderer`), the header
/// fields the protocol asks for beside that status (Allow for 405,
/// Retry-After for 503), and whether the connection must close (always, for
/// framing errors: after them the byte stream cannot be trusted).
public struct HTTPError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var closeConnection: Bool
    public var headers: HTTPHeaders

    public init(status: Int, code: String, message: String, closeConnection: Bool = false, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.code = code
        self.message = message
        self.closeConnection = closeConnection
        self.headers = headers
    }

    public var description: String { "\(status) \(code): \(message)" }

    static func badRequest(_ message: String) -> HTTPError {
        HTTPError(status: 400, code: "bad_request", message: message, closeConnection: true)
    }

    /// Over the connection limit: RFC 9110 §15.6.4 (unavailable for now) with §10.2.3's Retry-After, and the
    /// connection closes (it holds a slot the limit does not have).
    static let connectionLimit = HTTPError(status: 503, code: "overloaded", message: "too many open connections",
                                           closeConnection: true, headers: HTTPHeaders([("Retry-After", "1")]))

    /// A handler that threw instead of answering: RFC 9110 §15.6.1, saying nothing of the cause.
    static let internalError = HTTPError(status: 500, code: "internal_error", message: "internal error")
}
