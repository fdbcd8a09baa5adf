import Foundation

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
            let registration = CancellationRegistration()
            let task = Task {
                let response: HTTPResponse
                do { response = try await handler(request) } catch { response = failure(error) }
                responder.respond(response)
                // Answered: the connection (kept alive, perhaps for thousands of requests) forgets this task.
                registration.finish { responder.removeClientGoneAction($0) }
            }
            registration.register(responder.onClientGone { task.cancel() })
        }
    }

    public static let internalError: @Sendable (any Error) -> HTTPResponse = { _ in
        HTTPResponse.json(Array(#"{"error":{"code":"internal_error","message":"internal error"}}"#.utf8), status: 500)
    }
}

/// The token of a task's "client gone" action, which the task removes once it has answered; the two may
/// happen in either order (a fast handler answers before its action is even registered).
final class CancellationRegistration: @unchecked Sendable {
    private let lock = NSLock()
    private var token: Int?
    private var finished = false

    func register(_ token: Int) {
        lock.lock()
        if finished {
            let remove = self.remove
            lock.unlock()
            remove?(token)
            return
        }
        self.token = token
        lock.unlock()
    }

    private var remove: ((Int) -> Void)?

    func finish(_ remove: @escaping (Int) -> Void) {
        lock.lock()
        finished = true
        self.remove = remove
        let token = self.token
        lock.unlock()
        if let token { remove(token) }
    }
}
