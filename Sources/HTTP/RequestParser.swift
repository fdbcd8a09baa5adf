/// An incremental HTTP/1.1 request parser (RFC 9112), written as a state
/// machine with no I/O: bytes go in through `feed`, events come out of `next`.
/// Bytes may arrive split anywhere, one at a time included; pipelined
/// requests stay buffered until `next` is called again.
///
/// Everything the RFC lets a server reject to stay safe from request
/// smuggling is rejected with 400 and a connection close.
struct RequestParser: Sendable {
    enum Event: Equatable, Sendable {
        /// nothing complete yet
        case needMoreData
        /// headers are complete and the client sent `Expect: 100-continue`;
        /// answer "100 Continue" and keep feeding (emitted once per request)
        case continueExpected
        case request(HTTPRequest)
        /// answer with this error, then close the connection
        case failure(HTTPError)
    }

    /// Where the current request stands, for the server's timeouts.
    enum Phase: Sendable, Equatable { case idle, headers, body }

    enum State: Sendable {
        case requestLine
        /// the header section, or the trailer section after the last chunk (RFC 9112 §7.1.2)
        case fieldLines(FieldSection)
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case failed(HTTPError)
    }

    /// RFC 9112 §5 and §7.1.2: both sections are field lines up to an empty line, under one size and count limit.
    enum FieldSection: Sendable { case headers, trailers }

    let limits: ParserLimits
    private var state: State = .requestLine
    private var buffer: [UInt8] = []
    private var position = 0
    // the request being assembled
    private var method = ""
    private var target = ""
    /// the authority of an absolute-form target; it replaces the Host field (RFC 9112 §3.2.2)
    private var targetAuthority: String?
    private var versionMinor = 1
    private var headers = HTTPHeaders()
    private var trailers = HTTPHeaders()
    private var body: [UInt8] = []
    private var headerBytes = 0
    private var pendingContinue = false
    /// the current request's line was parsed (its method and target are this request's, not the previous one's)
    private var hasRequestLine = false

    /// The method and path of the request being parsed once its request line is in, else nil: an
    /// error answered mid-request (413, 431, a bad body) is counted and logged under its real route.
    var currentRequestLine: (method: String, path: String)? {
        guard hasRequestLine else { return nil }
        let path = target.firstIndex(of: "?").map { String(target[..<$0]) } ?? target
        return (method, path)
    }

    /// The header fields of the request being parsed that are in so far (all of them once the header
    /// section ended), nil before its request line: an error answered mid-request keeps the client's
    /// X-Request-ID and traceparent.
    var currentHeaders: HTTPHeaders? { hasRequestLine ? headers : nil }

    init(limits: ParserLimits = ParserLimits()) {
        self.limits = limits
        // Built once: they are passed on every line and must not cost an interpolation each time.
        headersTooLarge = HTTPError(status: 431, code: "header_fields_too_large",
                                    message: "header section exceeds \(limits.maxHeaderBytes) bytes or \(limits.maxHeaderCount) fields",
                                    closeConnection: true)
        bodyTooLarge = HTTPError(status: 413, code: "content_too_large",
                                 message: "request body exceeds \(limits.maxBodyBytes) bytes", closeConnection: true)
        requestLineTooLong = HTTPError(status: 414, code: "uri_too_long",
                                       message: "request line exceeds \(limits.maxRequestLineBytes) bytes", closeConnection: true)
        chunkLineTooLong = .badRequest("chunk-size line exceeds \(limits.maxChunkLineBytes) bytes")
    }

    private let headersTooLarge: HTTPError
    private let bodyTooLarge: HTTPError
    private let requestLineTooLong: HTTPError
    private let chunkLineTooLong: HTTPError
    private static let chunkNotTerminated = HTTPError.badRequest("chunk data is not followed by CRLF")

    var phase: Phase {
        switch state {
        case .requestLine: return position < buffer.count ? .headers : .idle
        case .fieldLines(.headers): return .headers
        case .failed: return .idle
        default: return .body
        }
    }

    /// Bytes received but not yet consumed (pipelined requests, partial lines).
    var bufferedByteCount: Int { buffer.count - position }

    mutating func feed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if position > 0 && position == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            position = 0
        } else if position > 64 * 1024 {
            buffer.removeFirst(position)
            position = 0
        }
        buffer.append(contentsOf: bytes)
    }

    mutating func next() -> Event {
        while true {
            switch state {
            case let .failed(error):
                return .failure(error)
            case .requestLine:
                switch takeLine(limit: limits.maxRequestLineBytes, tooLong: requestLineTooLong) {
                case .incomplete: return .needMoreData
                case let .error(error): return fail(error)
                case let .line(line):
                    // RFC 9112 §2.2: ignore at least one empty line before the request-line.
                    if line.isEmpty { continue }
                    if let error = parseRequestLine(line) { return fail(error) }
                    hasRequestLine = true
                    headerBytes = 0
                    state = .fieldLines(.headers)
                }
            case let .fieldLines(section):
                switch takeLine(limit: limits.maxHeaderBytes - headerBytes, tooLong: headersTooLarge) {
                case .incomplete: return .needMoreData
                case let .error(error): return fail(error)
                case let .line(line):
                    headerBytes += line.count + 2
                    if line.isEmpty {
                        if section == .trailers { return finish() }
                        if let event = headersComplete() { return event }
                        continue
                    }
                    if let error = parseField(line, into: section) { return fail(error) }
                }
            case let .fixedBody(remaining):
                let left = takeBody(remaining)
                if left > 0 {
                    state = .fixedBody(remaining: left)
                    return .needMoreData
                }
                return finish()
            case .chunkSize:
                switch takeLine(limit: limits.maxChunkLineBytes, tooLong: chunkLineTooLong) {
                case .incomplete: return .needMoreData
                case let .error(error): return fail(error)
                case let .line(line):
                    switch parseChunkSize(line) {
                    case let .failure(error): return fail(error)
                    case let .success(size):
                        if size == 0 {
                            state = .fieldLines(.trailers)
                        } else {
                            if size > limits.maxBodyBytes - body.count { return fail(bodyTooLarge) }
                            state = .chunkData(remaining: size)
                        }
                    }
                }
            case let .chunkData(remaining):
                let left = takeBody(remaining)
                if left > 0 {
                    state = .chunkData(remaining: left)
                    return .needMoreData
                }
                state = .chunkDataEnd
            case .chunkDataEnd:
                // RFC 9112 §7.1: chunk-data is followed by CRLF and nothing else.
                switch takeLine(limit: 0, tooLong: RequestParser.chunkNotTerminated) {
                case .incomplete: return .needMoreData
                case let .error(error): return fail(error)
                case .line: state = .chunkSize
                }
            }
        }
    }

    /// Moves up to `remaining` buffered bytes into the body; returns how many are still to come.
    private mutating func takeBody(_ remaining: Int) -> Int {
        let available = min(remaining, buffer.count - position)
        body.append(contentsOf: buffer[position..<(position + available)])
        position += available
        return remaining - available
    }

    // MARK: - Lines

    private enum LineResult { case incomplete, line(ArraySlice<UInt8>), error(HTTPError) }

    /// The next line without its terminator. RFC 9112 §2.2: CRLF ends a line, a
    /// bare LF is accepted, a bare CR anywhere is rejected.
    private mutating func takeLine(limit: Int, tooLong: HTTPError) -> LineResult {
        var i = position
        let end = buffer.count
        while i < end {
            let byte = buffer[i]
            if byte == 0x0A {
                let line = buffer[position..<i]
                position = i + 1
                return .line(line)
            }
            if byte == 0x0D {
                if i + 1 >= end {
                    return i - position > max(limit, 0) ? .error(tooLong) : .incomplete
                }
                guard buffer[i + 1] == 0x0A else { return .error(.badRequest("bare CR in the message")) }
                let line = buffer[position..<i]
                position = i + 2
                return .line(line)
            }
            i += 1
            if i - position > max(limit, 0) { return .error(tooLong) }
        }
        return .incomplete
    }

    // MARK: - Request line (RFC 9112 §3)

    private mutating func parseRequestLine(_ line: ArraySlice<UInt8>) -> HTTPError? {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return .badRequest("request line must be 'METHOD target HTTP/1.x' separated by single spaces")
        }
        let methodBytes = parts[0], targetBytes = parts[1], versionBytes = parts[2]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(RequestParser.isTokenChar) else {
            return .badRequest("invalid method")
        }
        // request-target: visible ASCII only (RFC 3986 characters; no controls, spaces or non-ASCII).
        guard !targetBytes.isEmpty, targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .badRequest("invalid request target")
        }
        guard versionBytes.count == 8, versionBytes.starts(with: Array("HTTP/".utf8)),
              versionBytes[versionBytes.startIndex + 6] == UInt8(ascii: "."),
              let major = RequestParser.digit(versionBytes[versionBytes.startIndex + 5]),
              let minor = RequestParser.digit(versionBytes[versionBytes.startIndex + 7])
        else {
            return .badRequest("invalid HTTP version")
        }
        guard major == 1 else {
            return HTTPError(status: 505, code: "http_version_not_supported",
                             message: "only HTTP/1.0 and HTTP/1.1 are served", closeConnection: true)
        }
        method = String(decoding: methodBytes, as: UTF8.self)
        target = String(decoding: targetBytes, as: UTF8.self)
        targetAuthority = nil
        versionMinor = minor
        if targetBytes.first != UInt8(ascii: "/"), let absolute = RequestParser.absoluteForm(targetBytes) {
            switch absolute {
            case let .success((authority, originForm)):
                target = originForm
                targetAuthority = authority
            case let .failure(error):
                return error
            }
        }
        return nil
    }

    /// RFC 9112 §3.2.2: a server MUST accept the absolute-form (`http://host:port/path?query`).
    /// Returns nil when `bytes` does not begin with `scheme "://"` (then the target is left as sent:
    /// origin-form, or something no route matches). Otherwise the authority, and the path and query
    /// as an origin-form target (an empty path is "/", RFC 9112 §3.2.1), or why the target is rejected.
    static func absoluteForm(_ bytes: ArraySlice<UInt8>) -> Result<(authority: String, originForm: String), HTTPError>? {
        // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > bytes.startIndex else { return nil }
        let scheme = bytes[bytes.startIndex..<colon]
        let isAlpha: (UInt8) -> Bool = { ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") }
        guard isAlpha(scheme.first!),
              scheme.allSatisfy({ isAlpha($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2B || $0 == 0x2D || $0 == 0x2E }),
              bytes[colon...].starts(with: Array("://".utf8))
        else { return nil }
        // RFC 9110 §4.2: only the http and https schemes (case-insensitive) name this server;
        // §7.4: a target whose scheme we do not serve is rejected rather than routed.
        let schemeName = String(decoding: scheme, as: UTF8.self).lowercased()
        guard schemeName == "http" || schemeName == "https" else {
            return .failure(.badRequest("absolute-form target with a scheme other than http or https"))
        }
        let authorityStart = colon + 3
        let authorityEnd = bytes[authorityStart...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? bytes.endIndex
        let authority = bytes[authorityStart..<authorityEnd]
        // RFC 9110 §4.2.1: an http URI with an empty host MUST be rejected as invalid;
        // §4.2.4: userinfo is deprecated and a recipient SHOULD treat it as an error.
        guard !authority.isEmpty, authority.first != UInt8(ascii: ":") else {
            return .failure(.badRequest("absolute-form target without a host"))
        }
        if authority.contains(UInt8(ascii: "@")) {
            return .failure(.badRequest("absolute-form target with userinfo"))
        }
        // RFC 3986 §3.5: a fragment is not part of a request-target (RFC 9112 §3.2).
        if bytes.contains(UInt8(ascii: "#")) {
            return .failure(.badRequest("fragment in the request target"))
        }
        let rest = bytes[authorityEnd...]
        let originForm = rest.first == UInt8(ascii: "/") ? String(decoding: rest, as: UTF8.self) : "/" + String(decoding: rest, as: UTF8.self)
        return .success((String(decoding: authority, as: UTF8.self), originForm))
    }

    // MARK: - Fields (RFC 9112 §5, RFC 9110 §5.5)

    private mutating func parseField(_ line: ArraySlice<UInt8>, into section: FieldSection) -> HTTPError? {
        guard let first = line.first else { return .badRequest("empty header line") }
        // §5.2: obsolete line folding is rejected.
        if first == 0x20 || first == 0x09 { return .badRequest("obsolete line folding (obs-fold) is not accepted") }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return .badRequest("header line without a colon") }
        let name = line[line.startIndex..<colon]
        // §5.1: no whitespace between field name and colon.
        if let last = name.last, last == 0x20 || last == 0x09 {
            return .badRequest("whitespace between header name and colon")
        }
        guard !name.isEmpty, name.allSatisfy(RequestParser.isTokenChar) else {
            return .badRequest("invalid character in header name")
        }
        var value = line[(colon + 1)...]
        while let f = value.first, f == 0x20 || f == 0x09 { value.removeFirst() }
        while let l = value.last, l == 0x20 || l == 0x09 { value.removeLast() }
        // field-value: VCHAR, obs-text, SP, HTAB; CR, LF and NUL are never allowed.
        guard value.allSatisfy({ $0 == 0x09 || $0 == 0x20 || ($0 > 0x20 && $0 != 0x7F) }) else {
            return .badRequest("invalid character in the value of header '\(String(decoding: name, as: UTF8.self))'")
        }
        // One count for both sections: trailers cannot smuggle in more fields than headers may carry.
        if headers.fields.count + trailers.fields.count >= limits.maxHeaderCount { return headersTooLarge }
        let field = (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        switch section {
        case .headers: headers.add(field.0, field.1)
        case .trailers: trailers.add(field.0, field.1)
        }
        return nil
    }

    // MARK: - Message body length (RFC 9112 §6.3)

    private mutating func headersComplete() -> Event? {
        if versionMinor >= 1 {
            // RFC 9112 §3.2: exactly one Host field in HTTP/1.1.
            let hosts = headers.values("Host")
            if hosts.count != 1 { return fail(.badRequest(hosts.isEmpty ? "missing Host header" : "more than one Host header")) }
        }
        if let targetAuthority {
            // RFC 9112 §3.2.2: with an absolute-form target the server MUST ignore the received
            // Host field and use the target's authority instead (RFC 9110 §7.2: Host carries the
            // target URI's authority). The §3.2 rule above still applies: an HTTP/1.1 client MUST
            // send exactly one Host even with an absolute-form target, so its absence is a 400;
            // a Host that disagrees with the authority is replaced, not rejected.
            headers.set("Host", targetAuthority)
        }
        let transferCodings = headers.tokens("Transfer-Encoding")
        let lengths = headers.values("Content-Length")
        var chunked = false
        var contentLength = 0
        if !headers.values("Transfer-Encoding").isEmpty {
            // §6.1: Transfer-Encoding with Content-Length is a smuggling vector: reject.
            if !lengths.isEmpty { return fail(.badRequest("both Transfer-Encoding and Content-Length")) }
            // §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
            if versionMinor == 0 { return fail(.badRequest("Transfer-Encoding in an HTTP/1.0 request")) }
            // §6.3: chunked must be the final coding, and only once.
            guard transferCodings.last == "chunked", transferCodings.filter({ $0 == "chunked" }).count == 1 else {
                return fail(.badRequest("Transfer-Encoding must end with chunked"))
            }
            if transferCodings.count > 1 {
                return fail(HTTPError(status: 501, code: "not_implemented",
                                      message: "transfer codings other than chunked are not supported", closeConnection: true))
            }
            chunked = true
        } else if !lengths.isEmpty {
            // RFC 9110 §8.6: identical repeated values may be treated as one; differing ones are an error.
            var seen: Int?
            for element in lengths.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
                let text = element.trimmingOWS()
                guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                      let value = Int(text)
                else {
                    return fail(.badRequest("invalid Content-Length"))
                }
                if let seen, seen != value { return fail(.badRequest("conflicting Content-Length values")) }
                seen = value
            }
            contentLength = seen ?? 0
            if contentLength > limits.maxBodyBytes { return fail(bodyTooLarge) }
        }
        let expectations = headers.tokens("Expect")
        if !expectations.isEmpty {
            guard expectations == ["100-continue"] else {
                return fail(HTTPError(status: 417, code: "expectation_failed",
                                      message: "only 'Expect: 100-continue' is supported", closeConnection: true))
            }
            // Only worth answering when a body is still to come (RFC 9110 §10.1.1).
            pendingContinue = versionMinor >= 1 && (chunked || contentLength > 0)
        }
        if chunked {
            state = .chunkSize
        } else if contentLength > 0 {
            state = .fixedBody(remaining: contentLength)
        } else {
            return finish()
        }
        if pendingContinue {
            pendingContinue = false
            if buffer.count == position { return .continueExpected }
        }
        return nil
    }

    // MARK: - Chunked coding (RFC 9112 §7.1)

    private func parseChunkSize(_ line: ArraySlice<UInt8>) -> Result<Int, HTTPError> {
        var size = 0
        var digits = 0
        var index = line.startIndex
        while index < line.endIndex, let value = RequestParser.hexValue(line[index]) {
            digits += 1
            // 15 hex digits already exceed any body we accept; more is an overflow attempt.
            if digits > 15 { return .failure(.badRequest("chunk size overflows")) }
            size = size * 16 + value
            index += 1
        }
        guard digits > 0 else { return .failure(.badRequest("invalid chunk size")) }
        // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ); we validate and ignore them.
        var rest = line[index...]
        while let f = rest.first, f == 0x20 || f == 0x09 { rest.removeFirst() }
        if !rest.isEmpty {
            guard rest.first == UInt8(ascii: ";"),
                  rest.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) })
            else {
                return .failure(.badRequest("invalid chunk extension"))
            }
        }
        return .success(size)
    }

    // MARK: - Completion

    private mutating func finish() -> Event {
        let connectionTokens = headers.tokens("Connection")
        let keepAlive = versionMinor >= 1 ? !connectionTokens.contains("close") : connectionTokens.contains("keep-alive")
        let request = HTTPRequest(method: method, target: target, versionMinor: versionMinor, headers: headers,
                                  body: body, trailers: trailers, keepAlive: keepAlive)
        state = .requestLine
        hasRequestLine = false
        headers = HTTPHeaders()
        trailers = HTTPHeaders()
        body = []
        headerBytes = 0
        return .request(request)
    }

    private mutating func fail(_ error: HTTPError) -> Event {
        state = .failed(error)
        return .failure(error)
    }

    // MARK: - Character classes (RFC 9110 §5.6.2)

    static func isTokenChar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    static func digit(_ byte: UInt8) -> Int? {
        byte >= 0x30 && byte <= 0x39 ? Int(byte - 0x30) : nil
    }

    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: return Int(byte - 0x30)
        case 0x41...0x46: return Int(byte - 0x41 + 10)
        case 0x61...0x66: return Int(byte - 0x61 + 10)
        default: return nil
        }
    }
}
