/// A route's handler as Hummingbird and FlyingFox write them: the request in, the response out,
/// `async throws`. The connection's state machine is unchanged: `Router.add(_:_:async:)` runs the
/// handler in a task and hands its response to the request's `Responder`, which the connection
/// carries into its state machine as any response. A client that goes away cancels the task.
public typealias AsyncHandler = @Sendable (HTTPRequest) async throws -> HTTPResponse

extension Router {
    /// Adds an async handler. An error the handler throws (it should answer its own errors) becomes
    /// `failure(error)`, by default a bare 500 (RFC 9110 §15.6.1) that says nothing of the cause.
    public mutating func add(_ method: String, _ path: String,
                             failure: @escaping @Sendable (any Error) -> HTTPResponse = Router.internalError,
                             async handler: @escaping AsyncHandler) {
        add(method, path) { request, responder in
            let task = Task {
                let response: HTTPResponse
                do { response = try await handler(request) } catch { response = failure(error) }
                responder.respond(response)   // also forgets the action below: the connection keeps nothing of this request
            }
            responder.onClientGone { task.cancel() }
        }
    }

    public static let internalError: @Sendable (any Error) -> HTTPResponse = { _ in
        HTTPResponse.json(Array(#"{"error":{"code":"internal_error","message":"internal error"}}"#.utf8), status: 500)
    }
}

