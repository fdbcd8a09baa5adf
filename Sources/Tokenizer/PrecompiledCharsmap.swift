import Foundation

/// SentencePiece's precompiled normalization rules (`nmt_nfkc` for T5): a
/// double-array trie from UTF-8 byte sequences to replacement strings.
///
/// Blob layout: little-endian UInt32 trie size in bytes, the trie units, then
/// a pool of NUL-terminated replacement strings that leaf values index into.
///
/// The two references apply the same rules differently, and we reproduce
/// both exactly:
/// - SentencePiece (C++, `Normalizer::NormalizePrefix`): at each byte
///   position take the *longest* matching rule; with no rule, copy one
///   character.
/// - Hugging Face (`spm_precompiled`): walk extended grapheme clusters; a
///   cluster under 6 bytes is replaced whole by the *shortest* rule matching a
///   prefix of it; otherwise each character is replaced by its own rule or kept.
///   ("Yes, this seems broken ... If you question this code, check this
///   normalizer against XNLI" — the maintainers' own comment; parity wins.)
struct PrecompiledCharsmap: Sendable {
    let trie: DoubleArrayTrie
    /// replacement strings, NUL-terminated, indexed by trie values
    let pool: [UInt8]

    init(blob: [UInt8], file: String) throws {
        guard blob.count >= 4 else {
            throw TokenizerError.invalidCharsmap(file: file, reason: "\(blob.count) bytes, too short for the trie size")
        }
        let trieSize = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard trieSize % 4 == 0, trieSize >= 4, 4 + trieSize <= blob.count else {
            throw TokenizerError.invalidCharsmap(file: file, reason: "trie size \(trieSize) does not fit the \(blob.count)-byte blob")
        }
        var units = [UInt32](repeating: 0, count: trieSize / 4)
        for i in 0..<units.count {
            let b = 4 + 4 * i
            units[i] = UInt32(blob[b]) | UInt32(blob[b + 1]) << 8 | UInt32(blob[b + 2]) << 16 | UInt32(blob[b + 3]) << 24
        }
        trie = DoubleArrayTrie(units: units)
        pool = Array(blob[(4 + trieSize)...])
        guard String(validating: pool, as: UTF8.self) != nil || pool.isEmpty else {
            throw TokenizerError.invalidCharsmap(file: file, reason: "replacement pool is not UTF-8")
        }
    }

    /// Bytes of the replacement string at `offset` (up to its NUL).
    @inline(__always)
    private func replacement(at offset: Int, into out: inout [UInt8]) -> Bool {
        guard offset >= 0, offset < pool.count else { return false }
        var i = offset
        while i < pool.count, pool[i] != 0 { out.append(pool[i]); i += 1 }
        return true
    }

    // MARK: SentencePiece semantics

    /// NormalizePrefix: the replacement for the longest rule at `start` and the
    /// number of input bytes it consumes, or nil when no rule matches.
    func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int, into out: inout [UInt8]) -> Int? {
        var best: (length: Int, value: Int)?
        trie.commonPrefixSearch(bytes, from: start, to: bytes.count) { length, value in
            if best == nil || length > best!.length { best = (length, value) }
            return true
        }
        guard let best, replacement(at: best.value, into: &out) else { return nil }
        return best.length
    }

    // MARK: Hugging Face semantics

    /// spm_precompiled's `transform`: the replacement of the shortest rule that
    /// matches a prefix of `chunk`; the whole chunk is replaced by it.
    private func transform(_ chunk: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        var value: Int?
        trie.commonPrefixSearch(chunk, from: 0, to: chunk.count) { _, v in value = v; return false }
        guard let value else { return false }
        return replacement(at: value, into: &out)
    }

    /// spm_precompiled's `normalize_string`.
    func normalizeHuggingFace(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 8)
        for grapheme in text {
            var bytes = Array(grapheme.utf8)
            let done: Bool = bytes.count < 6 ? bytes.withUnsafeBufferPointer { transform($0, into: &out) } : false
            if done { continue }
            for scalar in grapheme.unicodeScalars {
                bytes.removeAll(keepingCapacity: true)
                bytes.append(contentsOf: String(scalar).utf8)
                let replaced = bytes.withUnsafeBufferPointer { transform($0, into: &out) }
                if !replaced { out.append(contentsOf: bytes) }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
