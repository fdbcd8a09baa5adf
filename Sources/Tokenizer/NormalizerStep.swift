import Foundation

/// One step of a Hugging Face normalizer sequence. Only the steps SentencePiece
/// tokenizers use are implemented; any other type is a load error, never an
/// approximation.
enum NormalizerStep: Sendable {
    case precompiled(PrecompiledCharsmap)
    /// Replace every run of `character` of length >= `minimum` by `content`
    /// (the regex `' {2,}'` of T5's tokenizer.json). Works on scalars, as the
    /// regex does: a space followed by a combining mark is one Character but
    /// still a space to the regex.
    case collapseRuns(character: Unicode.Scalar, minimum: Int, content: String)
    /// Replace a literal string.
    case replaceLiteral(pattern: String, content: String)
    /// Replace a general regex (NSRegularExpression; slower path).
    case replaceRegex(UncheckedRegex, content: String)

    func apply(_ text: String) -> String {
        switch self {
        case let .precompiled(charsmap):
            return charsmap.normalizeHuggingFace(text)
        case let .collapseRuns(character, minimum, content):
            var out = String.UnicodeScalarView()
            var run = 0
            func flush() {
                if run >= minimum { out.append(contentsOf: content.unicodeScalars) } else {
                    for _ in 0..<run { out.append(character) }
                }
                run = 0
            }
            for scalar in text.unicodeScalars {
                if scalar == character { run += 1 } else { flush(); out.append(scalar) }
            }
            flush()
            return String(out)
        case let .replaceLiteral(pattern, content):
            return pattern.isEmpty ? text : text.replacingOccurrences(of: pattern, with: content)
        case let .replaceRegex(regex, content):
            let range = NSRange(text.startIndex..., in: text)
            return regex.value.stringByReplacingMatches(in: text, range: range,
                                                        withTemplate: NSRegularExpression.escapedTemplate(for: content))
        }
    }

    /// Recognises `X{n,}` for a single literal character X.
    static func runPattern(_ pattern: String) -> (Unicode.Scalar, Int)? {
        guard pattern.count >= 5, pattern.hasSuffix(",}"), let open = pattern.firstIndex(of: "{"),
              pattern.distance(from: pattern.startIndex, to: open) == 1,
              let first = pattern.unicodeScalars.first, !"\\.[]()*+?^$|{}".unicodeScalars.contains(first),
              let minimum = Int(pattern[pattern.index(after: open)..<pattern.index(pattern.endIndex, offsetBy: -2)]),
              minimum >= 1
        else { return nil }
        return (first, minimum)
    }
}

/// NSRegularExpression is immutable after creation; safe to share.
struct UncheckedRegex: @unchecked Sendable {
    let value: NSRegularExpression
}
