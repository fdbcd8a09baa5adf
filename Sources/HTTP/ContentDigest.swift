import CHTTPShims
import Foundation

/// SHA-256 over files (OpenSSL, linked for TLS already): how the service names the content of
/// the model it serves (/info, instructrec_model_info), so a reload that changed nothing and one
/// that changed the weights can be told apart.
public enum ContentDigest {
    public struct Failure: Error, CustomStringConvertible { public let description: String }

    private static let lock = NSLock()   // the C side reads through one static buffer

    /// Lowercase hex SHA-256 over `paths` in order, each preceded by its base name.
    public static func sha256(files paths: [String]) throws -> String { try digest(paths, withNames: true) }

    /// Lowercase hex SHA-256 of one file's bytes (how a model hub names a large file: its LFS object id).
    public static func sha256(file path: String) throws -> String { try digest([path], withNames: false) }

    private static func digest(_ paths: [String], withNames: Bool) throws -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var error = [CChar](repeating: 0, count: 512)
        let cStrings = paths.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = cStrings.map { UnsafePointer($0) }
        lock.lock()
        let status = pointers.withUnsafeBufferPointer { list in
            ir_sha256_files(list.baseAddress, paths.count, withNames ? 1 : 0, &digest, &error, error.count)
        }
        lock.unlock()
        guard status == 0 else { throw Failure(description: String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}
