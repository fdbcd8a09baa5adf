import HTTP
import InstructRec

/// The one place an error becomes an answer: its status, code and message (`ServiceError.from` for the
/// modules' errors; a passed deadline, a client gone and a full or stopped queue here; the HTTP layer's own
/// framing errors as they came), in the envelope of the shape that took the body, or in the route's default
/// shape (`RouteErrorShape`) when no shape was selected yet. Retry-After and WWW-Authenticate as RFC 9110
/// §10.2.3 and §11.6.1 ask.
enum ErrorAnswer {
    /// The response for `error` in `shape`, or, with none selected, in the error shape of `path`'s route.
    /// `timeoutMilliseconds`: the request's deadline, which a 504 names.
    static func response(to error: any Error, shape: AnyShape?, path: String?,
                         timeoutMilliseconds: Int? = nil) -> HTTPResponse {
        let failure = serviceError(error, timeoutMilliseconds: timeoutMilliseconds)
        // The client hears "internal error" and nothing of paths or traces; the operator's log says what it was.
        if failure.code == "internal_error" {
            JSONLog.shared.error("internal error answering a request", ["path": path ?? "", "error": String(describing: error)])
        }
        return response(failure, in: shape ?? RouteErrorShape.shape(for: path))
    }

    /// The status, code and message the client gets for `error`.
    static func serviceError(_ error: any Error, timeoutMilliseconds: Int? = nil) -> ServiceError {
        switch error {
        case is DeadlinePassed:
            let within = timeoutMilliseconds.map { "within \($0) ms" } ?? "before its deadline"
            return ServiceError(status: 504, code: "deadline_exceeded", message: "the request did not finish \(within)")
        // The client left (its task was cancelled, or the worker dropped its job): 499, nginx's "client
        // closed request", counted in metrics; nobody reads it, and the connection closes at once.
        case is CancellationError:
            return ServiceError(status: 499, code: "client_closed_request", message: "the client closed the connection")
        case InferenceQueue.Refusal.full, InferenceQueue.Refusal.stopped:
            return .overloaded
        case let error as HTTPError:
            // The HTTP layer keeps the status and its protocol fields (Allow, Retry-After); the shape gives the body.
            return ServiceError(status: error.status, code: error.code, message: error.message)
        default:
            return ServiceError.from(error)
        }
    }

    private static func response(_ error: ServiceError, in shape: AnyShape) -> HTTPResponse {
        var response = HTTPResponse.json(shape.errorBody(error).body, status: error.status)
        if let seconds = error.retryAfterSeconds { response.headers.set("Retry-After", String(seconds)) }
        if error.status == 401 { response.headers.set("WWW-Authenticate", "Bearer") }
        return response
    }
}
