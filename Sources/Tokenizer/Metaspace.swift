/// Hugging Face's Metaspace pre-tokenizer and decoder: spaces become `▁`, a
/// `▁` is prepended (scheme "always"; "first" only for the first segment), and
/// with `split` the text is cut before every `▁` (MergedWithNext).
struct Metaspace: Sendable {
    enum PrependScheme: String, Sendable { case always, first, never }

    let replacement: Character
    let prependScheme: PrependScheme
    let split: Bool

    /// Pre-tokens of one normalized segment. `isFirstSegment` matters for "first".
    func preTokenize(_ normalized: String, isFirstSegment: Bool) -> [String] {
        // An empty segment (e.g. only characters the normalizer deletes) yields no tokens.
        if normalized.isEmpty { return [] }
        var text = String()
        text.reserveCapacity(normalized.utf8.count + 3)
        let prepend: Bool
        switch prependScheme {
        case .always: prepend = true
        case .first: prepend = isFirstSegment
        case .never: prepend = false
        }
        // HF replaces ' ' first, then prepends unless the text already starts with ▁.
        for scalar in normalized.unicodeScalars {
            if scalar == " " { text.append(replacement) } else { text.unicodeScalars.append(scalar) }
        }
        // Compare scalars, not Characters: "▁" followed by a combining mark is one grapheme.
        let replacementScalar = replacement.unicodeScalars.first
        if prepend, text.unicodeScalars.first != replacementScalar {
            text.unicodeScalars.insert(contentsOf: replacement.unicodeScalars, at: text.unicodeScalars.startIndex)
        }
        guard split else { return text.isEmpty ? [] : [text] }
        var pieces: [String] = []
        var current = String()
        for scalar in text.unicodeScalars {
            if scalar == replacementScalar, !current.isEmpty {
                pieces.append(current)
                current = String()
            }
            current.unicodeScalars.append(scalar)
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// The decoder: `▁` becomes a space, except in the first token, where it is dropped.
    func decode(_ tokens: [String]) -> String {
        var out = String()
        let replacementScalar = replacement.unicodeScalars.first
        for (i, token) in tokens.enumerated() {
            for scalar in token.unicodeScalars {
                if scalar == replacementScalar {
                    if i == 0 && prependScheme != .never { continue }
                    out.unicodeScalars.append(" ")
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
