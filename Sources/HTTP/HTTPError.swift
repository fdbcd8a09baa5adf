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
}
