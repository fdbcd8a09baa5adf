import Foundation

/// A SentencePiece Unigram tokenizer that reproduces either reference exactly:
/// Hugging Face `tokenizers` for `tokenizer.json`, or Google's `sentencepiece`
/// for `spiece.model`. Immutable and thread-safe.
public final class Tokenizer: Sendable {
    /// Which reference pipeline this tokenizer follows.
    enum Pipeline: Sendable {
        /// tokenizer.json: special tokens split first, then normalizer steps,
        /// Metaspace pre-tokenizer, Viterbi per pre-token (double scores).
        case huggingFace(normalizers: [NormalizerStep], metaspace: Metaspace, specials: SpecialTokenMatcher)
        /// spiece.model: charsmap (longest match), whitespace rules, Viterbi
        /// over the whole normalized text (float scores).
        case sentencePiece(charsmap: PrecompiledCharsmap?, spec: SentencePieceNormalizerSpec)
    }

    let pipeline: Pipeline
    let model: UnigramModel
    /// ids that decode to nothing when skipping special tokens
    let specialIDs: Set<Int32>
    /// SentencePiece control pieces (decode to nothing in sentencepiece)
    let controlIDs: Set<Int32>
    /// Memoized word ids (tokenizer.json pipelines whose words are independent,
    /// see `WordBoundaries`); nil where the reference's result is not word by word.
    let wordCache: WordCache?
    public let eosID: Int32
    public var unknownID: Int32 { model.unknownID }
    /// Number of ids the tokenizer can produce.
    public var vocabularySize: Int { model.pieces.count }
    public let source: String

    init(pipeline: Pipeline, model: UnigramModel, specialIDs: Set<Int32>, controlIDs: Set<Int32>,
         eosID: Int32, source: String, wordCacheCapacity: Int = WordCache.defaultCapacity) {
        self.pipeline = pipeline
        self.model = model
        self.specialIDs = specialIDs
        self.controlIDs = controlIDs
        self.eosID = eosID
        self.source = source
        switch pipeline {
        case let .huggingFace(normalizers, metaspace, specials)
            where wordCacheCapacity > 0
            && WordBoundaries.supports(normalizers: normalizers, metaspace: metaspace, specials: Array(specials.contents.values)):
            wordCache = WordCache(capacity: wordCacheCapacity)
        default:
            wordCache = nil
        }
    }

    /// The same tokenizer with a word cache of `capacity` entries (0: none, every
    /// text goes through the whole pipeline). Ids are the same either way; tests
    /// compare the two, and `capacity` small forces eviction.
    func withWordCache(capacity: Int) -> Tokenizer {
        Tokenizer(pipeline: pipeline, model: model, specialIDs: specialIDs, controlIDs: controlIDs, eosID: eosID,
                  source: source, wordCacheCapacity: capacity)
    }

    /// Whether `encode` memoizes words (tokenizer.json with a word-independent pipeline).
    public var usesWordCache: Bool { wordCache != nil }

    /// Loads a tokenizer from wherever a setting or flag points: a `.json` file
    /// (Hugging Face tokenizer.json), a `.model` file (SentencePiece), or a
    /// directory holding one of them (`load(directory:)`).
    public static func load(path: String) throws -> Tokenizer {
        let url = URL(fileURLWithPath: path)
        switch url.pathExtension {
        case "json": return try Tokenizer(tokenizerJSON: url)
        case "model": return try Tokenizer(sentencePieceModel: url)
        default: return try load(directory: url)
        }
    }

    /// Loads `tokenizer.json` from a directory, or `spiece.model` when there is none.
    public static func load(directory: URL) throws -> Tokenizer {
        let json = directory.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: json.path) { return try Tokenizer(tokenizerJSON: json) }
        let spiece = directory.appendingPathComponent("spiece.model")
        if FileManager.default.fileExists(atPath: spiece.path) { return try Tokenizer(sentencePieceModel: spiece) }
        throw TokenizerError.noTokenizer(directory: directory.path)
    }

    /// Token ids and pieces of one text.
    public struct Encoding: Sendable, Equatable {
        public var ids: [Int32]
        /// the vocabulary piece of each id (for unknown tokens, the text they cover)
        public var pieces: [String]
    }

    /// `tokenizer(text)` of the reference: ids, with `</s>` appended when `addEOS`.
    public func encode(_ text: String, addEOS: Bool = true) -> [Int32] {
        guard let wordCache else { return encode(text, addEOS: addEOS, collectPieces: false).ids }
        var ids = encodeByWords(text, cache: wordCache)
        if addEOS { ids.append(eosID) }
        return ids
    }

    /// `encode` as the concatenation of its words' ids (exact: see `WordBoundaries`),
    /// each taken from the cache or, on a miss, from the whole pipeline.
    private func encodeByWords(_ text: String, cache: WordCache) -> [Int32] {
        var text = text
        return text.withUTF8 { bytes -> [Int32] in
            let starts = WordBoundaries.wordStarts(bytes)
            var words: [String] = []
            words.reserveCapacity(starts.count)
            for (n, start) in starts.enumerated() {
                let end = n + 1 < starts.count ? starts[n + 1] : bytes.count
                words.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
            }
            var found = cache.lookUp(words)
            var computed: [(word: String, ids: [Int32])] = []
            for (n, ids) in found.enumerated() where ids == nil {
                let wordIDs = encode(words[n], addEOS: false, collectPieces: false).ids
                found[n] = wordIDs
                computed.append((words[n], wordIDs))
            }
            if !computed.isEmpty { cache.insert(computed) }
            var ids: [Int32] = []
            ids.reserveCapacity(bytes.count / 2 + 1)
            for wordIDs in found { if let wordIDs { ids.append(contentsOf: wordIDs) } }
            return ids
        }
    }

    /// Ids and the piece of each (for `instructrec tokenize` and debugging).
    public func encodeWithPieces(_ text: String, addEOS: Bool = true) -> Encoding {
        encode(text, addEOS: addEOS, collectPieces: true)
    }

    /// The one encoding path. Pieces are strings, so the hot path (`encode`, run for every
    /// instruction probe and candidate title) does not build them only to drop them.
    private func encode(_ text: String, addEOS: Bool, collectPieces: Bool) -> Encoding {
        var encoding = Encoding(ids: [], pieces: [])
        switch pipeline {
        case let .huggingFace(normalizers, metaspace, specials):
            var first = true
            for segment in specials.split(text) {
                switch segment {
                case let .special(id, content):
                    encoding.ids.append(id)
                    if collectPieces { encoding.pieces.append(content) }
                case let .text(raw):
                    var normalized = raw
                    for step in normalizers { normalized = step.apply(normalized) }
                    for preToken in metaspace.preTokenize(normalized, isFirstSegment: first) {
                        appendSegmentation(of: Array(preToken.utf8), to: &encoding, collectPieces: collectPieces)
                    }
                }
                first = false
            }
        case let .sentencePiece(charsmap, spec):
            appendSegmentation(of: spec.normalize(text, charsmap: charsmap), to: &encoding, collectPieces: collectPieces)
        }
        if addEOS {
            encoding.ids.append(eosID)
            if collectPieces { encoding.pieces.append(model.pieces[Int(eosID)]) }
        }
        return encoding
    }

    private func appendSegmentation(of bytes: [UInt8], to encoding: inout Encoding, collectPieces: Bool) {
        var tokens: [(id: Int32, start: Int, end: Int)] = []
        bytes.withUnsafeBufferPointer { model.segment($0, into: &tokens) }
        for token in tokens {
            encoding.ids.append(token.id)
            guard collectPieces else { continue }
            encoding.pieces.append(token.id == model.unknownID
                ? String(decoding: bytes[token.start..<token.end], as: UTF8.self) : model.pieces[Int(token.id)])
        }
    }

    /// The reference's decode: `tokenizers` `decode(ids, skip_special_tokens)`
    /// or sentencepiece `decode(ids)` (control pieces vanish, unknown is " ⁇ ").
    /// Ids outside the vocabulary are skipped.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) -> String {
        let valid = ids.filter { $0 >= 0 && Int($0) < model.pieces.count }
        switch pipeline {
        case let .huggingFace(_, metaspace, _):
            let tokens = valid.filter { !(skipSpecialTokens && specialIDs.contains($0)) }.map { model.pieces[Int($0)] }
            return metaspace.decode(tokens)
        case let .sentencePiece(_, spec):
            var out = String()
            var atStart = true
            for id in valid {
                if controlIDs.contains(id) { continue }
                if id == model.unknownID { out += " \u{2047} "; atStart = false; continue }
                var piece = Substring(model.pieces[Int(id)])
                if atStart && spec.addDummyPrefix && piece.hasPrefix("\u{2581}") { piece = piece.dropFirst() }
                out += piece.replacingOccurrences(of: "\u{2581}", with: " ")
                atStart = false
            }
            return out
        }
    }
}

extension Tokenizer {
    /// The pieces that end, pad or stand for an unknown in a sequence.
    static let controlContents: Set<String> = ["</s>", "<pad>", "<unk>"]

    /// The same tokenizer reading `</s>`, `<pad>` and `<unk>` in a text as the characters they are, as
    /// sentencepiece reads any text (its control pieces never match): what a service tokenizing outside text
    /// needs, where a title or document holding `</s>` (an HTML strikethrough's closing tag, or an attempt to
    /// end a candidate early) must not end its sequence. Hugging Face `tokenizers` splits them out as special
    /// tokens, and even with `encode_special_tokens` its Unigram lattice still matches them as pieces; here they
    /// leave both the special-token split and the lattice, so `Mario</s>Kart` is `▁Mario < / s > Kart` (pieces
    /// as the vocabulary has them). Other added tokens (`<extra_id_N>`, a checkpoint's own) are still split out:
    /// templates may use them. A text without these three strings gets the reference's ids unchanged.
    public func readingControlTokensAsText() -> Tokenizer {
        guard case let .huggingFace(normalizers, metaspace, specials) = pipeline else { return self }   // sentencepiece already does
        let literal = specials.contents.filter { Tokenizer.controlContents.contains($0.value) }
        guard !literal.isEmpty else { return self }
        let kept = specials.contents.filter { literal[$0.key] == nil }.map { (content: $0.value, id: $0.key) }
        return Tokenizer(pipeline: .huggingFace(normalizers: normalizers, metaspace: metaspace,
                                                specials: SpecialTokenMatcher(tokens: kept.sorted { $0.id < $1.id })),
                         model: model.excluding(Set(literal.keys)), specialIDs: specialIDs, controlIDs: controlIDs,
                         eosID: eosID, source: source, wordCacheCapacity: wordCache == nil ? 0 : WordCache.defaultCapacity)
    }

    /// The id of a vocabulary piece spelled exactly as the vocabulary holds it ("▁true",
    /// "<extra_id_10>"), or nil. A linear search: for configuration, not for requests.
    public func id(ofPiece piece: String) -> Int32? {
        model.pieces.firstIndex(of: piece).map { Int32($0) }
    }
}
