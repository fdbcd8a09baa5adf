import Synchronization

/// Memoized token ids of words (the text between two word boundaries, see
/// `WordBoundaries`), shared by every thread that encodes with one tokenizer.
///
/// Rationale: an instruction is rendered and tokenized many times while it is
/// fitted (each probe differs only in how many history items or candidates it
/// holds), and its words repeat across probes, requests and users. Hugging Face
/// `tokenizers` keeps the same kind of cache in its Unigram model; ours sits one
/// step earlier (raw word -> ids), so a hit also skips normalization and the
/// Metaspace split, which cost more than the Viterbi for short words.
///
/// Bounded by two generations of `capacity / 2` entries: a word is looked up in
/// the current generation, then in the previous one (and promoted on a hit);
/// when the current one is full it becomes the previous one and the old previous
/// one is dropped. Words in use survive, words not seen for a whole generation go,
/// and memory stays under `capacity` entries without per-entry bookkeeping.
///
/// One `Mutex`, taken once per encode for all of its lookups and once for all of
/// its insertions (not per word), so concurrent planners hold it for a few
/// microseconds at a time.
final class WordCache: Sendable {
    /// Words longer than this are encoded every time: they are rare (long
    /// numbers, URLs) and would let a few inputs fill the memory bound.
    static let maximumWordBytes = 64
    static let defaultCapacity = 65_536

    private struct Generations {
        var current: [String: [Int32]] = [:]
        var previous: [String: [Int32]] = [:]
    }

    let capacity: Int
    private let generations = Mutex(Generations())

    /// `capacity` >= 2: the most entries held at once.
    init(capacity: Int) {
        self.capacity = max(2, capacity)
    }

    private var generationCapacity: Int { capacity / 2 }

    /// The ids of each word, nil where the word is not cached.
    func lookUp(_ words: [String]) -> [[Int32]?] {
        generations.withLock { state in
            words.map { word -> [Int32]? in
                if let ids = state.current[word] { return ids }
                guard let ids = state.previous[word] else { return nil }
                Self.insert(word, ids, into: &state, generationCapacity: generationCapacity)
                return ids
            }
        }
    }

    func insert(_ entries: [(word: String, ids: [Int32])]) {
        generations.withLock { state in
            for (word, ids) in entries where word.utf8.count <= Self.maximumWordBytes {
                Self.insert(word, ids, into: &state, generationCapacity: generationCapacity)
            }
        }
    }

    private static func insert(_ word: String, _ ids: [Int32], into state: inout Generations, generationCapacity: Int) {
        if state.current.count >= generationCapacity {
            state.previous = state.current
            state.current = [:]
            state.current.reserveCapacity(generationCapacity)
        }
        state.current[word] = ids
    }

    /// Entries held now (both generations; a promoted word may count twice).
    var count: Int { generations.withLock { $0.current.count + $0.previous.count } }

    func contains(_ word: String) -> Bool {
        generations.withLock { $0.current[word] != nil || $0.previous[word] != nil }
    }
}
