import CHTTPShims

/// A server TLS configuration (OpenSSL) loaded from PEM files.
final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(certificatePath: String, keyPath: String) throws {
        var error = [CChar](repeating: 0, count: 512)
        guard let context = ir_tls_context_new(certificatePath, keyPath, &error, error.count) else {
            let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw Failure(description: "TLS: \(message) (certificate \(certificatePath), key \(keyPath))")
        }
        self.context = context
    }

    deinit { ir_tls_context_free(context) }
}

/// One TLS connection over memory BIOs: ciphertext from the socket goes in,
/// plaintext comes out, and the reverse for writes. The socket I/O stays in
/// `Connection`, so plain and TLS connections share one code path.
final class TLSSession {
    private let session: OpaquePointer
    private var scratch = [UInt8](repeating: 0, count: 16 * 1024)
    private var error = [CChar](repeating: 0, count: 256)

    enum ReadResult {
        case data([UInt8])
        case closed
        case failed(String)
    }

    init?(context: TLSContext) {
        guard let session = ir_tls_session_new(context.context) else { return nil }
        self.session = session
    }

    deinit { ir_tls_session_free(session) }

    var handshakeDone: Bool { ir_tls_handshake_done(session) == 1 }

    /// Feeds ciphertext and returns all plaintext now available.
    func receive(_ ciphertext: [UInt8]) -> ReadResult {
        var offset = 0
        while offset < ciphertext.count {
            let fed = ciphertext[offset...].withUnsafeBufferPointer { ir_tls_feed(session, $0.baseAddress, $0.count) }
            if fed <= 0 { return .failed("TLS: cannot buffer ciphertext") }
            offset += Int(fed)
        }
        var plaintext: [UInt8] = []
        while true {
            let n = scratch.withUnsafeMutableBufferPointer { ir_tls_read(session, $0.baseAddress, $0.count, &error, error.count) }
            if n > 0 { plaintext.append(contentsOf: scratch[0..<Int(n)]); continue }
            if n == 0 { return .data(plaintext) }
            if n == -2 { return plaintext.isEmpty ? .closed : .data(plaintext) }
            return .failed(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    /// Encrypts plaintext; returns false on a fatal TLS error.
    func send(_ plaintext: [UInt8]) -> Bool {
        var offset = 0
        while offset < plaintext.count {
            let n = plaintext[offset...].withUnsafeBufferPointer { ir_tls_write(session, $0.baseAddress, $0.count, &error, error.count) }
            if n <= 0 { return false }
            offset += Int(n)
        }
        return true
    }

    /// Ciphertext waiting to go to the socket.
    func drain() -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let n = scratch.withUnsafeMutableBufferPointer { ir_tls_drain(session, $0.baseAddress, $0.count) }
            if n <= 0 { return out }
            out.append(contentsOf: scratch[0..<Int(n)])
        }
    }

    func shutdown() { ir_tls_shutdown(session) }
}
