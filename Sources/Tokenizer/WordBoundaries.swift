/// Where raw text can be cut into words that tokenize independently:
/// `encode(a + " " + b) == encode(a) + encode(" " + b)` (without `</s>`) for a
/// cut at the space, which is what lets `WordCache` memoize words.
///
/// A boundary is a single space (0x20) between two printable, non-space ASCII
/// characters, each of which is its own grapheme: the character beyond each
/// neighbour is ASCII too (or the text ends). Why that is exact, step by step,
/// for a tokenizer.json pipeline that `supports(_:)` accepts:
/// - special tokens: none contains a space, so no special token spans the cut;
/// - Precompiled normalizer (spm_precompiled walks grapheme clusters): the
///   space cannot join a cluster with a printable ASCII neighbour (neither is
///   Extend, SpacingMark, ZWJ or Prepend), the neighbours are single-character
///   clusters, and the rules map every printable ASCII character and the space
///   to themselves (checked at load), so the text on each side normalizes alone
///   and the cut still sits at one space between non-spaces;
/// - Replace ` {2,}` -> ` `: a run of spaces never reaches across the cut (its
///   neighbours are not spaces), and the content is a single space, so the
///   neighbours stay what they were for any later step;
/// - Metaspace with `split` and prepend scheme "always": the space becomes `▁`
///   and the text is split before every `▁`, so the cut is a pre-token
///   boundary; `" " + b` already starts with `▁`, so nothing is prepended to it
///   (and `a` gets the `▁` the whole text would);
/// - the Unigram model runs Viterbi per pre-token, from score 0, as HF does.
///
/// spiece.model tokenizers never use it: sentencepiece runs one Viterbi over the
/// whole normalized text, summing scores in float. Even where no piece crosses a
/// `▁`, the accumulated prefix score changes how float rounding resolves
/// near-ties later on, so word-by-word results could differ from the reference.
enum WordBoundaries {
    @inline(__always)
    private static func isPrintableNonSpace(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7F }

    /// Start offsets of the words of `bytes`: 0, then each boundary space (which
    /// starts the next word). Empty text yields [0].
    static func wordStarts(_ bytes: UnsafeBufferPointer<UInt8>) -> [Int] {
        var starts = [0]
        let count = bytes.count
        guard count >= 3 else { return starts }
        for i in 1..<(count - 1) where bytes[i] == 0x20 {
            guard isPrintableNonSpace(bytes[i - 1]), isPrintableNonSpace(bytes[i + 1]),
                  i == 1 || bytes[i - 2] < 0x80, i + 2 == count || bytes[i + 2] < 0x80
            else { continue }
            starts.append(i)
        }
        return starts
    }

    /// Whether a tokenizer.json pipeline keeps words independent (see above).
    static func supports(normalizers: [NormalizerStep], metaspace: Metaspace, specials: [String]) -> Bool {
        guard metaspace.split, metaspace.prependScheme == .always else { return false }
        guard !specials.contains(where: { $0.utf8.contains(0x20) }) else { return false }
        for step in normalizers {
            switch step {
            case let .precompiled(charsmap):
                for byte in UInt8(0x20)..<0x7F {
                    let character = String(decoding: [byte], as: UTF8.self)
                    guard charsmap.normalizeHuggingFace(character) == character else { return false }
                }
            case let .collapseRuns(character, minimum, content):
                guard character == " ", minimum >= 2, content == " " else { return false }
            case .replaceLiteral, .replaceRegex:
                return false
            }
        }
        return true
    }
}
