import CHTTPShims

/// gzip through zlib (RFC 1952): request bodies in, responses out.
enum Gzip {
    enum Failure: Error, Equatable {
        case tooLarge
        case corrupt
    }

    static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8]? {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let status = bytes.withUnsafeBufferPointer { ir_gzip_compress($0.baseAddress, $0.count, level, &output, &length) }
        guard status == 0, let output else { return nil }
        defer { ir_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: length))
    }

    /// Decompresses, refusing to produce more than `limit` bytes (zip-bomb guard).
    static func decompress(_ bytes: [UInt8], limit: Int) -> Result<[UInt8], Failure> {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let status = bytes.withUnsafeBufferPointer { ir_gzip_decompress($0.baseAddress, $0.count, limit, &output, &length) }
        if status == -100 { return .failure(.tooLarge) }
        guard status == 0, let output else { return .failure(.corrupt) }
        defer { ir_free(output) }
        return .success(Array(UnsafeBufferPointer(start: output, count: length)))
    }
}
