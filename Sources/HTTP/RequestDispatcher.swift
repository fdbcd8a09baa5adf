/// What happens to a parsed request before any handler runs: its body is
/// decoded (`ContentDecoding`), then its route is resolved (`Router`). Either
/// a handler gets it, or this layer refuses it (404, 405, 413, 415, 400) and
/// the application's `ErrorRenderer` words the answer.
struct RequestDispatcher: Sendable {
    enum Outcome {
        case handler(Handler, HTTPRequest)
        case refused(HTTPError)
    }

    let router: Router
    /// decoded size of a gzip request body before 413
    let maxDecodedBodyBytes: Int

    func dispatch(_ request: HTTPRequest) -> Outcome {
        let decoded: HTTPRequest
        switch ContentDecoding.decode(request, maxDecodedBytes: maxDecodedBodyBytes) {
        case let .success(value): decoded = value
        case let .failure(error): return .refused(error)
        }
        switch router.resolve(method: decoded.method, path: decoded.path) {
        case let .handler(handler):
            return .handler(handler, decoded)
        case .notFound:
            return .refused(HTTPError(status: 404, code: "not_found", message: "no route for \(decoded.path)"))
        case let .methodNotAllowed(allow):
            // RFC 9110 §15.5.6: a 405 names the methods the target does support.
            return .refused(HTTPError(status: 405, code: "method_not_allowed",
                                      message: "\(decoded.method) is not allowed on \(decoded.path)",
                                      headers: HTTPHeaders([("Allow", allow.joined(separator: ", "))])))
        }
    }
}
