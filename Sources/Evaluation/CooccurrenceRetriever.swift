import InstructRec
import Foundation

/// A simple first-stage retriever for match-then-rerank evaluation: item-item
/// co-occurrence counts within `window` positions (either side) over the
/// training part of every sequence (all but each user's last two items, as
/// `TransitionBaseline` counts, so no validation or test target is ever
/// counted). A user's candidates are scored by the sum of their co-occurrence
/// with the user's `recent` most recent history items, the j-th most recent
/// weighted `decay^j`; items with no co-occurrence are filled in by training
/// popularity. Ties are broken by popularity, then by the smaller id, so a
/// retrieval is deterministic.
public struct CooccurrenceRetriever: Sendable {
    /// counts[a][b]: how often b occurred within `window` positions of a (symmetric)
    public let counts: [[Int: Int]]
    /// interaction counts over the same training parts
    public let popularity: [Int]
    /// items that may be retrieved at all (e.g. non-empty titles)
    public let retrievable: [Bool]
    public let window: Int
    public let recent: Int
    public let decay: Double
    /// retrievable items by popularity (descending), then id: the backoff order
    let byPopularity: [Int]

    /// Counts over `sequences` as given (callers pass training parts only).
    public init(trainingSequences sequences: [[Int]], itemCount: Int, retrievable: [Bool]? = nil,
                window: Int = 3, recent: Int = 10, decay: Double = 0.8) {
        var counts = [[Int: Int]](repeating: [:], count: itemCount)
        var popularity = [Int](repeating: 0, count: itemCount)
        let window = max(1, window)
        for raw in sequences {
            let items = raw.filter { $0 >= 0 && $0 < itemCount }
            for item in items { popularity[item] += 1 }
            for (i, a) in items.enumerated() {
                for j in (i + 1)..<min(items.count, i + window + 1) where items[j] != a {
                    counts[a][items[j], default: 0] += 1
                    counts[items[j]][a, default: 0] += 1
                }
            }
        }
        let allowed = retrievable.map { Array($0.prefix(itemCount)) + [Bool](repeating: false, count: max(0, itemCount - $0.count)) }
            ?? [Bool](repeating: true, count: itemCount)
        self.counts = counts
        self.popularity = popularity
        self.retrievable = allowed
        self.window = window
        self.recent = max(1, recent)
        self.decay = decay
        byPopularity = (0..<itemCount).filter { allowed[$0] }.sorted {
            popularity[$0] != popularity[$1] ? popularity[$0] > popularity[$1] : $0 < $1
        }
    }

    /// Counts over the training part (`items.dropLast(2)`) of every sequence of `dataset`; items
    /// with an empty title are never retrieved.
    public init(dataset: InteractionDataset, window: Int = 3, recent: Int = 10, decay: Double = 0.8) {
        self.init(trainingSequences: dataset.sequences.map { Array($0.items.dropLast(2)) },
                  itemCount: dataset.titles.count, retrievable: dataset.titles.map { !$0.isEmpty },
                  window: window, recent: recent, decay: decay)
    }

    /// The co-occurrence score of every item that co-occurs with the history's recent items.
    public func scores(history: [Int]) -> [Int: Double] {
        var scores: [Int: Double] = [:]
        var weight = 1.0
        for item in history.suffix(recent).reversed() {
            if item >= 0 && item < counts.count {
                for (other, count) in counts[item] { scores[other, default: 0] += weight * Double(count) }
            }
            weight *= decay
        }
        return scores
    }

    /// The top `count` items for a user with `history` (oldest first), best first: never an item of
    /// `history` or of `excluding`, never a non-retrievable item; co-occurrence first, then popularity.
    /// Exactly `count` items unless fewer are retrievable.
    public func retrieve(history: [Int], count: Int, excluding: Set<Int> = []) -> [Int] {
        guard count > 0 else { return [] }
        var banned = excluding
        banned.formUnion(history)
        let scored = scores(history: history).filter { $0.value > 0 && $0.key < retrievable.count && retrievable[$0.key] && !banned.contains($0.key) }
        var pool = scored.keys.sorted { a, b in
            let (sa, sb) = (scored[a]!, scored[b]!)
            if sa != sb { return sa > sb }
            if popularity[a] != popularity[b] { return popularity[a] > popularity[b] }
            return a < b
        }
        if pool.count > count { pool.removeLast(pool.count - count) }
        if pool.count < count {
            var taken = Set(pool)
            for item in byPopularity where pool.count < count {
                if !banned.contains(item) && !taken.contains(item) {
                    pool.append(item)
                    taken.insert(item)
                }
            }
        }
        return pool
    }
}
