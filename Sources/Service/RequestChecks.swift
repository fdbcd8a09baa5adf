import Dispatch
import Foundation
import HTTP
import InstructRec
import T5Scoring
import Tokenizer

/// What every ranking request passes before decoding (API key, Content-Type), and the answers routes share.
extension RerankService {

    func authorize(_ request: HTTPRequest) throws {
        guard !configuration.apiKeys.isEmpty else { return }
        let header = request.headers["Authorization"] ?? ""
        let presented = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : ""
        // Compare against every key in constant time, so timing reveals neither which key nor how much matched.
        var matched = false
        for key in configuration.apiKeys { matched = constantTimeEquals(presented, key) || matched }
        if !matched {
            var error = ServiceError(status: 401, code: "unauthorized", message: "missing or invalid 'Authorization: Bearer <key>' header")
            error.field = nil
            throw error
        }
    }

    /// While draining, readiness is false but requests are still served: the load balancer needs the drain
    /// delay to notice, and nothing may fail meanwhile. Only a model not loaded yet refuses.
    func checkLoaded() throws {
        if !isLoaded { throw ServiceError(status: 503, code: "loading", message: "model is loading", retryAfterSeconds: 1) }
    }

    func checkContentType(_ request: HTTPRequest) throws {
        let type = request.headers["Content-Type"]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard type == "application/json" else {
            throw ServiceError(status: 415, code: "unsupported_media_type",
                               message: "Content-Type must be application/json, got '\(request.headers["Content-Type"] ?? "none")'",
                               field: "Content-Type")
        }
    }

    func respond(_ responder: Responder, route: String, start: DispatchTime, _ response: HTTPResponse) {
        // Only the first answer counts.
        if responder.respond(response) { count(response, route: route, start: start, model: nil) }
    }

    /// An error of a route that takes no ranking body (/admin/reload), in the route's error shape (ours).
    func fail(_ responder: Responder, route: String, start: DispatchTime, _ error: any Error) {
        respond(responder, route: route, start: start, ErrorAnswer.response(to: error, shape: nil, path: route))
    }

    func json(_ object: Any) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }
}

/// Compares two strings in time that depends only on their lengths.
func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) {
        difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return difference == 0
}
