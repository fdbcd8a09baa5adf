import Foundation

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

/// 128-bit random request ids as 32 hex digits. A SplitMix64 stream seeded
/// once from the system generator: unique and cheap (no syscall per request).
enum RequestIDGenerator {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var state: UInt64 = UInt64.random(in: .min ... .max)
    private static let digits = Array("0123456789abcdef".utf8)

    static func next() -> String {
        lock.lock()
        let a = step(), b = step()
        lock.unlock()
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<16 {
            bytes[i] = digits[Int((a >> (60 - 4 * UInt64(i))) & 0xF)]
            bytes[16 + i] = digits[Int((b >> (60 - 4 * UInt64(i))) & 0xF)]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func step() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
