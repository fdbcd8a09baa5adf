/// The Unigram language model and its Viterbi segmentation
/// (sentencepiece `unigram_model.cc`, `EncodeOptimized`; Hugging Face
/// `Unigram::encode_optimized`).
///
/// `bestPathEndsAt[i]` holds the best segmentation of the first i bytes: its
/// score, the piece that ends it and where that piece starts. Positions are
/// visited left to right at character boundaries; every piece starting there
/// relaxes the node where it ends. A character no piece covers gets the unknown
/// id with score (min piece score - 10), so a path always exists; consecutive
/// unknowns are merged into one token afterwards, as both references do.
struct UnigramModel: Sendable {
    /// Which reference's arithmetic to follow: SentencePiece sums scores in
    /// float, Hugging Face in double. Near-ties can resolve differently.
    enum Precision: Sendable { case float, double }

    let pieces: [String]
    let scores: [Double]
    let unknownID: Int32
    let trie: PieceTrie
    /// the ids `trie` holds
    let trieIDs: [Int32]
    let unknownScore: Double
    let precision: Precision
    /// ids the lattice must never use (SentencePiece UNUSED pieces)
    let unusable: Set<Int32>

    static let unknownPenalty = 10.0

    init(pieces: [String], scores: [Double], unknownID: Int32, trieIDs: [Int32], precision: Precision,
         unusable: Set<Int32> = []) {
        self.pieces = pieces
        self.scores = scores
        self.unknownID = unknownID
        self.precision = precision
        self.unusable = unusable
        self.trieIDs = trieIDs
        trie = PieceTrie(pieces: trieIDs.map { (Array(pieces[Int($0)].utf8), $0) })
        let minimum = trieIDs.map { scores[Int($0)] }.min() ?? 0
        unknownScore = minimum - UnigramModel.unknownPenalty
    }

    /// The same model whose lattice never uses `ids` (their pieces leave the trie); the unknown score stays the
    /// one the whole vocabulary gave, so every other segmentation is unchanged.
    func excluding(_ ids: Set<Int32>) -> UnigramModel {
        let kept = trieIDs.filter { !ids.contains($0) }
        return UnigramModel(pieces: pieces, scores: scores, unknownID: unknownID, unknownScore: unknownScore,
                            precision: precision, unusable: unusable, trieIDs: kept,
                            trie: PieceTrie(pieces: kept.map { (Array(pieces[Int($0)].utf8), $0) }))
    }

    private init(pieces: [String], scores: [Double], unknownID: Int32, unknownScore: Double, precision: Precision,
                 unusable: Set<Int32>, trieIDs: [Int32], trie: PieceTrie) {
        self.pieces = pieces
        self.scores = scores
        self.unknownID = unknownID
        self.unknownScore = unknownScore
        self.precision = precision
        self.unusable = unusable
        self.trieIDs = trieIDs
        self.trie = trie
    }

    private struct Node {
        var score: Double = 0
        var startsAt: Int = -1
        var id: Int32 = -1
    }

    /// Segments UTF-8 bytes; returns (id, byte range) per token, unknown runs merged.
    func segment(_ bytes: UnsafeBufferPointer<UInt8>, into output: inout [(id: Int32, start: Int, end: Int)]) {
        let size = bytes.count
        if size == 0 { return }
        var best = [Node](repeating: Node(), count: size + 1)
        let float = precision == .float
        var startsAt = 0
        while startsAt < size {
            let scoreTillHere = best[startsAt].score
            let charLength = UnigramModel.utf8Length(bytes[startsAt])
            var hasSingleNode = false
            trie.prefixes(bytes, from: startsAt, to: size) { length, id in
                if !unusable.isEmpty, unusable.contains(id) { return }
                let target = startsAt + length
                let candidate = float ? Double(Float(scores[Int(id)]) + Float(scoreTillHere)) : scores[Int(id)] + scoreTillHere
                if best[target].startsAt < 0 || candidate > best[target].score {
                    best[target] = Node(score: candidate, startsAt: startsAt, id: id)
                }
                if length == charLength { hasSingleNode = true }
            }
            if !hasSingleNode {
                let target = min(startsAt + charLength, size)
                let candidate = float ? Double(Float(unknownScore) + Float(scoreTillHere)) : unknownScore + scoreTillHere
                if best[target].startsAt < 0 || candidate > best[target].score {
                    best[target] = Node(score: candidate, startsAt: startsAt, id: unknownID)
                }
            }
            startsAt += charLength
        }
        // Backtrack, merging runs of unknowns.
        var reversed: [(id: Int32, start: Int, end: Int)] = []
        var end = size
        while end > 0 {
            let node = best[end]
            let start = max(node.startsAt, 0)
            if node.id == unknownID, let last = reversed.last, last.id == unknownID, last.start == end {
                reversed[reversed.count - 1].start = start
            } else {
                reversed.append((node.id, start, end))
            }
            end = start
        }
        output.append(contentsOf: reversed.reversed())
    }

    /// Length of the UTF-8 sequence a lead byte starts (1 for stray continuation bytes).
    @inline(__always)
    static func utf8Length(_ lead: UInt8) -> Int {
        if lead < 0x80 { return 1 }
        if lead >> 5 == 0b110 { return 2 }
        if lead >> 4 == 0b1110 { return 3 }
        if lead >> 3 == 0b11110 { return 4 }
        return 1
    }
}
