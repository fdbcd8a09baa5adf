/// Everything that can go wrong in the load-test tool, and how a failed
/// request is classified in the reports ("failures by cause").
enum LoadTestError: Error, CustomStringConvertible {
    case connectFailed(errno: Int32)
    case sendFailed(errno: Int32)
    case connectionClosed
    case connectionReset
    case timedOut
    case malformedResponse(String)
    case setup(String)

    /// A short, stable label for tables and counters.
    var cause: String {
        switch self {
        case .connectFailed: return "connect_failed"
        case .sendFailed: return "send_failed"
        case .connectionClosed: return "closed_before_response"
        case .connectionReset: return "connection_reset"
        case .timedOut: return "client_timeout"
        case .malformedResponse: return "malformed_response"
        case .setup: return "setup"
        }
    }

    var description: String {
        switch self {
        case .connectFailed(let code): return "connect failed (errno \(code))"
        case .sendFailed(let code): return "send failed (errno \(code))"
        case .connectionClosed: return "connection closed before a complete response"
        case .connectionReset: return "connection reset"
        case .timedOut: return "timed out waiting for the response"
        case .malformedResponse(let detail): return "malformed response: \(detail)"
        case .setup(let detail): return detail
        }
    }
}
