import Foundation
#if canImport(Randomness)  // the fuzz build (make fuzz) compiles SplitMix64.swift into its one module
import Randomness
#endif

/// The id that ties a request to its response (X-Request-ID) and its log line.
enum RequestID {
    /// The client's own X-Request-ID when it is short visible ASCII; a fresh one otherwise.
    static func resolve(_ header: String?) -> String {
        if let header, !header.isEmpty, header.utf8.count <= 128,
           header.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return header
        }
        return RequestIDGenerator.next()
    }
}

/// 128-bit random request ids as 32 hex digits. A SplitMix64 stream (the
/// project's one generator, in Randomness) seeded once from the system
/// generator: unique and cheap (no syscall per request).
enum RequestIDGenerator {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var generator = SplitMix64(seed: UInt64.random(in: .min ... .max))
    private static let digits = Array("0123456789abcdef".utf8)

    static func next() -> String {
        lock.lock()
        let a = generator.next(), b = generator.next()
        lock.unlock()
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<16 {
            bytes[i] = digits[Int((a >> (60 - 4 * UInt64(i))) & 0xF)]
            bytes[16 + i] = digits[Int((b >> (60 - 4 * UInt64(i))) & 0xF)]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
