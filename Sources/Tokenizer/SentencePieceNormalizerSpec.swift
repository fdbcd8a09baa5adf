/// SentencePiece's `NormalizerSpec` and `Normalizer::Normalize`: charsmap
/// rules by longest match, then whitespace handling:
/// - remove_extra_whitespaces: drop leading spaces, collapse runs, drop trailing;
/// - add_dummy_prefix: start the text with a space, so "world" and
///   "hello world" both yield "▁world";
/// - escape_whitespaces: spaces become `▁` (U+2581).
struct SentencePieceNormalizerSpec: Sendable {
    var addDummyPrefix = true
    var removeExtraWhitespaces = true
    var escapeWhitespaces = true

    static let spaceSymbol: [UInt8] = Array("\u{2581}".utf8)

    /// Normalized UTF-8 bytes of `text`.
    func normalize(_ text: String, charsmap: PrecompiledCharsmap?) -> [UInt8] {
        var input = Array(text.utf8)
        return input.withUnsafeMutableBufferPointer { buffer -> [UInt8] in
            let bytes = UnsafeBufferPointer(buffer)
            var position = 0
            var piece: [UInt8] = []
            /// NormalizePrefix: (replacement bytes into `piece`, bytes consumed)
            func normalizePrefix() -> Int {
                piece.removeAll(keepingCapacity: true)
                if let charsmap, let consumed = charsmap.longestMatch(bytes, at: position, into: &piece) {
                    return consumed
                }
                let length = min(UnigramModel.utf8Length(bytes[position]), bytes.count - position)
                piece.append(contentsOf: bytes[position..<(position + length)])
                return length
            }
            // Ignore leading whitespace.
            if removeExtraWhitespaces {
                while position < bytes.count {
                    let saved = position
                    let consumed = normalizePrefix()
                    if piece != [0x20] { position = saved; break }
                    position += consumed
                }
            }
            if position >= bytes.count { return [] }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 8)
            func appendSpace() { out.append(contentsOf: escapeWhitespaces ? SentencePieceNormalizerSpec.spaceSymbol : [0x20]) }
            if addDummyPrefix { appendSpace() }
            var isPreviousSpace = removeExtraWhitespaces
            while position < bytes.count {
                let consumed = normalizePrefix()
                var start = 0
                // Drop leading spaces of this piece when the previous one ended in a space.
                while isPreviousSpace, start < piece.count, piece[start] == 0x20 { start += 1 }
                if start < piece.count {
                    for byte in piece[start...] {
                        if escapeWhitespaces && byte == 0x20 { appendSpace() } else { out.append(byte) }
                    }
                    isPreviousSpace = piece.last == 0x20
                }
                position += consumed
                if !removeExtraWhitespaces { isPreviousSpace = false }
            }
            // Ignore trailing whitespace.
            if removeExtraWhitespaces {
                let space = escapeWhitespaces ? SentencePieceNormalizerSpec.spaceSymbol : [0x20]
                while out.count >= space.count, Array(out[(out.count - space.count)...]) == space {
                    out.removeLast(space.count)
                }
            }
            return out
        }
    }
}
