import InstructRec
import Foundation

/// The last-item transitions baseline: item -> next-item counts over the
/// training part of every sequence (all but each user's last two items, the
/// data the model trains on, so no validation or test target is counted), a
/// candidate scored by its transition count from the user's most recent
/// history item (or a decayed sum over the last `window` items), with
/// training popularity as the backoff for zero counts and ties.
public struct TransitionBaseline: Sendable {
    /// counts[from][to]: how often `to` directly followed `from` in training sequences
    public let counts: [Int: [Int: Int]]
    public let popularity: [Int]
    /// history items used, most recent first (1: the last item only)
    public let window: Int
    /// weight of the j-th most recent history item is decay^j
    public let decay: Double

    /// Counts over `sequences` as given (callers pass training parts only).
    public init(trainingSequences sequences: [[Int]], itemCount: Int, window: Int = 1, decay: Double = 0.5) {
        var counts: [Int: [Int: Int]] = [:]
        var popularity = [Int](repeating: 0, count: itemCount)
        for items in sequences {
            for item in items where item >= 0 && item < itemCount { popularity[item] += 1 }
            for (from, to) in zip(items, items.dropFirst()) { counts[from, default: [:]][to, default: 0] += 1 }
        }
        self.counts = counts
        self.popularity = popularity
        self.window = max(1, window)
        self.decay = decay
    }

    /// Counts over the training part (`items.dropLast(2)`) of every sequence of `dataset`.
    public init(dataset: InteractionDataset, window: Int = 1, decay: Double = 0.5) {
        self.init(trainingSequences: dataset.sequences.map { Array($0.items.dropLast(2)) },
                  itemCount: dataset.titles.count, window: window, decay: decay)
    }

    /// Transition score plus the popularity backoff, scaled so that any
    /// nonzero transition outranks popularity alone: with weights w_j = decay^j,
    /// score = sum_j w_j * count(h_j -> c) + w_min * (popularity(c) + jitter_c / 2) / (maxPopularity + 1).
    /// `jitter` (values in [0, 1), aligned with `candidates`; zeros when absent)
    /// breaks the remaining ties below one popularity step.
    public func scores(history: [Int], candidates: [Int], jitter: [Double] = []) -> [Double] {
        let recent = Array(history.suffix(window).reversed())
        let weights = recent.indices.map { pow(decay, Double($0)) }
        let smallest = weights.filter { $0 > 0 }.min() ?? 1
        let maxPopularity = Double(popularity.max() ?? 0)
        return candidates.enumerated().map { position, candidate in
            var score = 0.0
            for (item, weight) in zip(recent, weights) { score += weight * Double(counts[item]?[candidate] ?? 0) }
            let pop = candidate >= 0 && candidate < popularity.count ? Double(popularity[candidate]) : 0
            let tie = position < jitter.count ? min(max(jitter[position], 0), 0.999) / 2 : 0
            return score + smallest * (pop + tie) / (maxPopularity + 1)
        }
    }
}
