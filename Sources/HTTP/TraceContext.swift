import Foundation

/// W3C Trace Context (https://www.w3.org/TR/trace-context/): the caller's `traceparent` and
/// `tracestate`, and this server's own span in that trace.
///
/// The response carries `traceparent` with the same trace id and this request's span id as its
/// parent-id (and `tracestate` as received), so a slow rerank shows up inside the caller's trace
/// and the access log line ties to it. A request without a valid `traceparent` starts a new
/// trace (flags 00: not sampled), as §4.3 lets a participant restart.
struct TraceContext: Sendable, Equatable {
    /// 32 lowercase hex digits, never all zeros
    var traceID: String
    /// the caller's span (16 hex), nil when this server started the trace
    var parentSpanID: String?
    /// this request's span (16 hex)
    var spanID: String
    /// trace-flags, 2 hex digits (bit 0: sampled)
    var flags: String
    /// the caller's tracestate, passed on unchanged (§3.3: vendors may not be understood; nil when absent or invalid)
    var traceState: String?

    /// `traceparent` for the response: version 00, our span as the parent.
    var traceparent: String { "00-\(traceID)-\(spanID)-\(flags)" }

    /// The context for a request: its valid `traceparent` continued, otherwise a new trace.
    /// A malformed header is ignored, never an error (§4.3, §3.2.2.*: "the vendor MUST ignore").
    static func resolve(traceparent: String?, tracestate: String?) -> TraceContext {
        let span = String(RequestIDGenerator.next().prefix(16))
        guard let traceparent, let parsed = parse(traceparent) else {
            return TraceContext(traceID: RequestIDGenerator.next(), parentSpanID: nil, spanID: span, flags: "00", traceState: nil)
        }
        return TraceContext(traceID: parsed.traceID, parentSpanID: parsed.parentID, spanID: span, flags: parsed.flags,
                            traceState: tracestate.flatMap(validTraceState))
    }

    /// version "-" trace-id "-" parent-id "-" trace-flags (§3.2.2). Version 00 is exactly 55 characters;
    /// a higher version is read by its 00 prefix when the next character is "-" (§3.2.4 forward compatibility);
    /// version ff, all-zero ids, upper case or non-hex digits are invalid.
    static func parse(_ header: String) -> (traceID: String, parentID: String, flags: String)? {
        let value = Array(header.trimmingCharacters(in: .whitespaces).utf8)
        guard value.count >= 55 else { return nil }
        func hex(_ range: Range<Int>) -> Bool { value[range].allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) } }
        func text(_ range: Range<Int>) -> String { String(decoding: value[range], as: UTF8.self) }
        guard hex(0..<2), value[2] == 0x2D, hex(3..<35), value[35] == 0x2D, hex(36..<52), value[52] == 0x2D, hex(53..<55) else { return nil }
        let version = text(0..<2)
        guard version != "ff" else { return nil }
        if version == "00" { guard value.count == 55 else { return nil } } else if value.count > 55 { guard value[55] == 0x2D else { return nil } }
        let traceID = text(3..<35), parentID = text(36..<52)
        guard traceID != String(repeating: "0", count: 32), parentID != String(repeating: "0", count: 16) else { return nil }
        return (traceID, parentID, text(53..<55))
    }

    /// tracestate is passed on only when it is plausible: at most 512 characters of visible ASCII, commas
    /// and spaces, without an empty list (§3.3.1). Its members are not interpreted.
    static func validTraceState(_ value: String) -> String? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 512, trimmed.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }),
              trimmed.split(separator: ",").contains(where: { $0.contains("=") }) else { return nil }
        return trimmed
    }
}
