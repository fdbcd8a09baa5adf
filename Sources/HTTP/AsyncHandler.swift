/// A route's handler as Hummingbird and FlyingFox write them: the request in, the response out,
/// `async throws`. The connection's state machine is unchanged: `Router.add(_:_:async:)` runs the
/// handler in a task and hands its response to the request's `Responder`, which the connection
/// carries into its state machine as any response. A client that goes away cancels the task.
public typealias AsyncHandler = @Sendable (HTTPRequest) async throws -> HTTPResponse

extension Router {
    /// Adds an async handler. An error the handler throws (it should answer its own errors) becomes
    /// `failure(error)`; without one, a 500 (RFC 9110 §15.6.1) that says nothing of the cause, worded by
    /// the application's `ErrorRenderer` for this route like every other answer of this layer.
    public mutating func add(_ method: String, _ path: String,
                             failure: (@Sendable (any Error) -> HTTPResponse)? = nil,
                             async handler: @escaping AsyncHandler) {
        add(method, path) { request, responder in
            let task = Task {
                // Either answer also forgets the action below: the connection keeps nothing of this request.
                do { responder.respond(try await handler(request)) } catch {
                    if let failure { responder.respond(failure(error)) } else { responder.refuse(.internalError) }
                }
            }
            responder.onClientGone { task.cancel() }
        }
    }
}
