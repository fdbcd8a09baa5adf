import Foundation

/// Turns a response into bytes (RFC 9112 §4 status line, §6 framing).
enum ResponseEncoder {
    /// - Parameters:
    ///   - headOnly: HEAD: keep Content-Length, send no body (RFC 9110 §9.3.2)
    ///   - acceptsGzip: the request's Accept-Encoding allows gzip
    static func encode(_ response: HTTPResponse, versionMinor: Int, keepAlive: Bool, requestID: String,
                       trace: TraceContext? = nil, headOnly: Bool, acceptsGzip: Bool, configuration: HTTPServerConfiguration) -> [UInt8] {
        var body = response.body
        var contentEncoding: String?
        let contentType = response.headers["Content-Type"]
        let compressible = isCompressible(contentType)
        // RFC 9110 §8.4 / §12.5.3: gzip only what is worth it and only when the client accepts it.
        if acceptsGzip, compressible, body.count >= configuration.gzipMinimumBytes, response.headers["Content-Encoding"] == nil,
           let compressed = Gzip.compress(body, level: configuration.gzipLevel), compressed.count < body.count {
            body = compressed
            contentEncoding = "gzip"
        }
        let noBodyStatus = response.status < 200 || response.status == 204 || response.status == 304
        var out: [UInt8] = []
        out.reserveCapacity(160 + body.count)
        out.append(contentsOf: "HTTP/1.\(versionMinor == 0 ? 0 : 1) \(response.status) \(HTTPResponse.reason(response.status))\r\n".utf8)
        func field(_ name: String, _ value: String) {
            out.append(contentsOf: name.utf8)
            out.append(0x3A)
            out.append(0x20)
            // never let a handler inject a line break into the header section
            if value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) {
                out.append(contentsOf: value.utf8.filter { $0 != 0x0D && $0 != 0x0A })
            } else {
                out.append(contentsOf: value.utf8)
            }
            out.append(0x0D)
            out.append(0x0A)
        }
        for (name, value) in response.headers where !ResponseEncoder.isManaged(name) { field(name, value) }
        if let contentEncoding { field("Content-Encoding", contentEncoding) }
        if compressible { field("Vary", "Accept-Encoding") }
        // RFC 9112 §6.2: every response is framed by Content-Length (no chunked responses).
        if !noBodyStatus { field("Content-Length", String(body.count)) }
        // RFC 9110 §6.6.1: an origin server with a clock sends Date.
        field("Date", HTTPDate.now())
        // RFC 9112 §9.6: announce the close; §9.3: HTTP/1.0 needs an explicit keep-alive.
        if !keepAlive { field("Connection", "close") } else if versionMinor == 0 { field("Connection", "keep-alive") }
        if !requestID.isEmpty { field("X-Request-ID", requestID) }
        // W3C Trace Context §3: our span in the caller's trace, and its tracestate unchanged.
        if let trace {
            field("traceparent", trace.traceparent)
            if let state = trace.traceState { field("tracestate", state) }
        }
        out.append(0x0D)
        out.append(0x0A)
        if !headOnly && !noBodyStatus { out.append(contentsOf: body) }
        return out
    }

    /// Fields the encoder writes itself; a handler's own values for them are dropped.
    static func isManaged(_ name: String) -> Bool {
        switch name.utf8.count {
        case 4: return name.caseInsensitiveEquals("Date") || name.caseInsensitiveEquals("Vary")
        case 10: return name.caseInsensitiveEquals("Connection") || name.caseInsensitiveEquals("tracestate")
        case 11: return name.caseInsensitiveEquals("traceparent")
        case 12: return name.caseInsensitiveEquals("X-Request-ID")
        case 14: return name.caseInsensitiveEquals("Content-Length")
        default: return false
        }
    }

    static func isCompressible(_ contentType: String?) -> Bool {
        guard let type = contentType?.lowercased() else { return false }
        return type.hasPrefix("application/json") || type.hasPrefix("text/") || type.contains("+json")
            || type.hasPrefix("application/openmetrics-text")
    }

    /// RFC 9110 §12.5.3: gzip (or *) with a non-zero q value.
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        var gzip: Double?, star: Double?
        for element in header.split(separator: ",") {
            let parts = element.split(separator: ";").map { $0.trimmingOWS().lowercased() }
            guard let coding = parts.first else { continue }
            var q = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") { q = Double(parameter.dropFirst(2)) ?? 0 }
            if coding == "gzip" || coding == "x-gzip" { gzip = q } else if coding == "*" { star = q }
        }
        return (gzip ?? star ?? 0) > 0
    }
}

/// IMF-fixdate for the Date header (RFC 9110 §5.6.7), cached per second.
enum HTTPDate {
    nonisolated(unsafe) private static var cachedSecond = 0
    nonisolated(unsafe) private static var cachedValue = ""
    private static let lock = NSLock()

    static func now() -> String {
        let seconds = Int(Date().timeIntervalSince1970)
        lock.lock()
        defer { lock.unlock() }
        if seconds != cachedSecond {
            var time = time_t(seconds)
            var parts = tm()
            gmtime_r(&time, &parts)
            let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
            let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            cachedValue = String(format: "%@, %02d %@ %04d %02d:%02d:%02d GMT", days[Int(parts.tm_wday)], parts.tm_mday,
                                 months[Int(parts.tm_mon)], parts.tm_year + 1900, parts.tm_hour, parts.tm_min, parts.tm_sec)
            cachedSecond = seconds
        }
        return cachedValue
    }
}
