import Foundation

/// The InstructRec paper's ranking protocol: leave-one-out; for each user the
/// true next item is ranked against 9 items the user never touched (sampled
/// uniformly with a fixed seed), or against a given candidate list (BM25,
/// SASRec); test on the last item, select on the second-to-last.
/// HR@k and NDCG@k, beside popularity, last-item transitions and random
/// computed on the same users and candidates.
public struct Evaluator {
    public enum Split: String, Sendable { case test, valid }

    public struct Options: Sendable {
        public var users = 5000
        public var negatives = 9
        public var seed: UInt64 = 42
        public var split = Split.test
        public var maxHistory = 10
        public var reduction = ScoreReduction.sum
        /// transitions baseline: history items used, most recent first (1: the last item only), and the
        /// weight decay^j of the j-th most recent. Chosen on the valid split (all users): HR@1 0.4515 with
        /// the last item only, 0.4975 with 5, 0.5049 with 10 (decay 1; decay 0.5 to 1 moves it by < 0.002).
        public var transitionWindow = 10
        public var transitionDecay = 1.0
        /// with a candidate pool: when the retriever missed the target, it replaces the pool's last
        /// (lowest-ranked) item, so every user measures ranking rather than retrieval recall
        public var insertTarget = false
        public init() {}
    }

    /// Sums of per-user metrics; `mean` divides by users.
    public struct Metrics: Sendable {
        public var users = 0
        public var hits: [Int: Double] = [1: 0, 3: 0, 5: 0]
        public var ndcg: [Int: Double] = [3: 0, 5: 0]

        public init() {}

        public mutating func add(rank: Int?) {
            users += 1
            guard let rank else { return }  // target not among the candidates
            for k in hits.keys where rank <= k { hits[k, default: 0] += 1 }
            for k in ndcg.keys where rank <= k { ndcg[k, default: 0] += 1 / log2(Double(rank) + 1) }
        }

        /// the expectation for a uniformly random order of n candidates holding the target
        public mutating func addRandom(candidates n: Int, containsTarget: Bool) {
            users += 1
            guard containsTarget, n > 0 else { return }
            for k in hits.keys { hits[k, default: 0] += Double(min(k, n)) / Double(n) }
            for k in ndcg.keys {
                ndcg[k, default: 0] += (1...min(k, n)).reduce(0.0) { $0 + 1 / log2(Double($1) + 1) } / Double(n)
            }
        }

        public var summary: [String: Double] {
            let u = Double(max(users, 1))
            return ["HR@1": hits[1, default: 0] / u, "HR@3": hits[3, default: 0] / u, "HR@5": hits[5, default: 0] / u,
                    "NDCG@3": ndcg[3, default: 0] / u, "NDCG@5": ndcg[5, default: 0] / u]
        }
    }

    public struct Case: Sendable {
        public var userIndex: Int
        public var user: String
        /// the user's whole sequence before the target (`items[..<cut]`): what a
        /// sequential model trained on the training parts may read
        public var sequence: [Int]
        /// the last `maxHistory` items of `sequence`: what the model's instruction shows
        public var history: [Int]
        public var target: Int
        /// candidate ids in presentation order (shuffled)
        public var candidates: [Int]
    }

    public let dataset: InteractionDataset
    public let options: Options
    public let popularity: [Int]
    public let transitions: TransitionBaseline

    public init(dataset: InteractionDataset, options: Options) {
        self.dataset = dataset
        self.options = options
        popularity = dataset.trainingPopularity()
        transitions = TransitionBaseline(dataset: dataset, window: options.transitionWindow, decay: options.transitionDecay)
    }

    /// The users evaluated: a seeded sample of `options.users` (all when fewer),
    /// with their targets and candidates. `pools` (user id -> candidate ids)
    /// replaces the random negatives when given.
    public func cases(pools: [String: [Int]]? = nil) -> [Case] {
        var rng = SeededGenerator(seed: options.seed)
        var order = Array(dataset.sequences.indices)
        if let pools {
            order = order.filter { pools[dataset.sequences[$0].user] != nil }
        } else {
            order.shuffle(using: &rng)
            order = Array(order.prefix(options.users))
            order.sort()
        }
        return order.compactMap { index in
            let items = dataset.sequences[index].items
            let cut = options.split == .test ? items.count - 1 : items.count - 2
            guard cut >= 1 else { return nil }
            let target = items[cut]
            let history = Array(items[max(0, cut - options.maxHistory)..<cut])
            var userRNG = SeededGenerator(seed: options.seed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
            var candidates: [Int]
            if let pool = pools?[dataset.sequences[index].user] {
                candidates = pool
                if options.insertTarget && !pool.contains(target) && !pool.isEmpty {
                    candidates[candidates.count - 1] = target
                }
            } else {
                let touched = Set(items)
                var chosen = Set<Int>()
                while chosen.count < options.negatives {
                    let item = Int.random(in: 0..<dataset.titles.count, using: &userRNG)
                    if !touched.contains(item) && !dataset.titles[item].isEmpty { chosen.insert(item) }
                }
                candidates = Array(chosen).sorted() + [target]
            }
            candidates.shuffle(using: &userRNG)
            return Case(userIndex: index, user: dataset.sequences[index].user, sequence: Array(items[..<cut]),
                        history: history, target: target, candidates: candidates)
        }
    }

    /// 1-based rank of the target under `scores` (aligned with `candidates`; higher first;
    /// ties broken against the target), nil if absent.
    public static func rank<Score: Comparable>(of target: Int, candidates: [Int], scores: [Score]) -> Int? {
        guard let position = candidates.firstIndex(of: target), position < scores.count else { return nil }
        let mine = scores[position]
        return 1 + scores.enumerated().filter { $0.offset != position && $0.element >= mine }.count
    }

    /// Popularity ranks by training interaction counts, ties broken by a seeded order.
    public func popularityRank(_ c: Case) -> Int? {
        var rng = SeededGenerator(seed: options.seed &+ UInt64(c.userIndex))
        let jitter = c.candidates.map { _ in Float.random(in: 0..<0.5, using: &rng) }
        let scores = zip(c.candidates, jitter).map { Float(popularity[$0]) + $1 }
        return Self.rank(of: c.target, candidates: c.candidates, scores: scores)
    }

    /// Last-item transitions ranks (see `TransitionBaseline`), remaining ties broken by the same seeded order as popularity's.
    public func transitionRank(_ c: Case) -> Int? {
        var rng = SeededGenerator(seed: options.seed &+ UInt64(c.userIndex))
        let jitter = c.candidates.map { _ in Double.random(in: 0..<1, using: &rng) }
        let scores = transitions.scores(history: c.sequence, candidates: c.candidates, jitter: jitter)
        return Self.rank(of: c.target, candidates: c.candidates, scores: scores)
    }
}
