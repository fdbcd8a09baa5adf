/// RFC 9110 §8.4: a request body sent with a content coding is decoded before
/// any handler sees it. gzip (and its alias x-gzip, §8.4.1.3) is decoded up to
/// a size limit (zip-bomb guard); identity passes; any other coding is 415
/// (§15.5.16).
enum ContentDecoding {
    /// The request with its body decoded and Content-Encoding removed, or why it is refused.
    static func decode(_ request: HTTPRequest, maxDecodedBytes: Int) -> Result<HTTPRequest, HTTPError> {
        guard let encoding = request.headers["Content-Encoding"]?.trimmingOWS().lowercased(),
              !encoding.isEmpty, encoding != "identity"
        else { return .success(request) }
        guard encoding == "gzip" || encoding == "x-gzip" else {
            return .failure(HTTPError(status: 415, code: "unsupported_content_encoding",
                                      message: "Content-Encoding '\(encoding)' is not supported (use gzip or identity)"))
        }
        switch Gzip.decompress(request.body, limit: maxDecodedBytes) {
        case let .success(body):
            var decoded = request
            decoded.body = body
            decoded.headers.remove("Content-Encoding")
            return .success(decoded)
        case .failure(.tooLarge):
            return .failure(HTTPError(status: 413, code: "content_too_large",
                                      message: "decompressed body exceeds \(maxDecodedBytes) bytes"))
        case .failure(.corrupt):
            return .failure(HTTPError(status: 400, code: "bad_request", message: "request body is not valid gzip"))
        }
    }
}
