import InstructRec
import Foundation

/// The InstructRec paper's ranking protocol: leave-one-out; for each user the
/// true next item is ranked against 9 items the user never touched (sampled
/// uniformly with a fixed seed, or in proportion to training popularity), or
/// against a given candidate list (BM25, SASRec) or the top N of our
/// co-occurrence retriever; test on the last item, select on the second-to-last.
/// With `rewriteTitles` every candidate is shown under another store's title
/// and the target is an item the id-based baselines have never seen.
/// HR@k and NDCG@k, beside popularity, last-item transitions and random
/// computed on the same users and candidates.
public struct Evaluator {
    public enum Split: String, Sendable { case test, valid }
    /// how negatives are drawn: uniformly over the catalogue, or in proportion to training interaction counts
    public enum NegativeSampling: String, Sendable, CaseIterable { case uniform, popularity }
    /// a first-stage retriever whose top `retrieverSize` items are the candidates
    public enum Retriever: String, Sendable, CaseIterable { case cooccurrence }

    public struct Options: Sendable {
        public var users = 5000
        public var negatives = 9
        public var seed: UInt64 = 42
        public var split = Split.test
        public var maxHistory = 10
        /// transitions baseline: history items used, most recent first (1: the last item only), and the
        /// weight decay^j of the j-th most recent. Chosen on the valid split (all users): HR@1 0.4515 with
        /// the last item only, 0.4975 with 5, 0.5049 with 10 (decay 1; decay 0.5 to 1 moves it by < 0.002).
        public var transitionWindow = 10
        public var transitionDecay = 1.0
        /// with a candidate pool: when the retriever missed the target, it replaces the pool's last
        /// (lowest-ranked) item, so every user measures ranking rather than retrieval recall
        public var insertTarget = false
        public var negativesFrom = NegativeSampling.uniform
        /// with a retriever the candidates are its top `retrieverSize` items (history excluded), a missed
        /// target replacing the lowest-ranked one; `Case.targetRetrieved` says whether it was retrieved
        public var retriever: Retriever?
        public var retrieverSize = 100
        /// out-of-catalog titles: every candidate is shown under a `StoreTitleRewriter` title
        /// (`Case.titleOverrides`), and the target is cold for the id-based baselines (`Case.cold`)
        public var rewriteTitles = false
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
        /// item id -> the title the model is shown instead of the catalogue's (empty unless rewriting titles)
        public var titleOverrides: [Int: String] = [:]
        /// items the id-based baselines treat as never seen (the target, with rewritten titles)
        public var cold: [Int] = []
        /// with a retriever: whether it retrieved the target before any insertion; nil otherwise
        public var targetRetrieved: Bool?
    }

    public let dataset: InteractionDataset
    public let options: Options
    public let popularity: [Int]
    public let transitions: TransitionBaseline
    /// built when `options.retriever` asks for it
    public let retriever: CooccurrenceRetriever?
    public let titleRewriter: StoreTitleRewriter
    /// cumulative training popularity of the items that popularity-drawn negatives may be
    let popularityCumulative: [Int]
    /// items with a title; of those, items seen in training
    let titledItems: Int, drawableItems: Int

    public init(dataset: InteractionDataset, options: Options) {
        self.dataset = dataset
        self.options = options
        popularity = dataset.trainingPopularity()
        transitions = TransitionBaseline(dataset: dataset, window: options.transitionWindow, decay: options.transitionDecay)
        retriever = options.retriever.map { _ in CooccurrenceRetriever(dataset: dataset) }
        titleRewriter = StoreTitleRewriter(seed: options.seed)
        titledItems = dataset.titles.filter { !$0.isEmpty }.count
        drawableItems = zip(popularity, dataset.titles).filter { $0 > 0 && !$1.isEmpty }.count
        var total = 0
        popularityCumulative = zip(popularity, dataset.titles).map { count, title in
            total += title.isEmpty ? 0 : count
            return total
        }
    }

    /// The title the model is shown for `item` in case `c`: its rewritten title when titles are
    /// rewritten, else the catalogue's.
    public func title(of item: Int, in c: Case) -> String {
        c.titleOverrides[item] ?? dataset.titles[item]
    }

    /// The fraction of cases whose target the retriever found (before insertion); nil without a retriever.
    public func retrieverRecall(_ cases: [Case]) -> Double? {
        let flags = cases.compactMap(\.targetRetrieved)
        guard options.retriever != nil, !flags.isEmpty else { return nil }
        return Double(flags.filter { $0 }.count) / Double(flags.count)
    }

    /// `count` distinct items the user never touched, drawn with `rng`: uniformly over the items with a
    /// title, or in proportion to training popularity (items never seen in training are never drawn).
    /// Fewer when fewer such items exist.
    func negatives(_ count: Int, touched: Set<Int>, rng: inout SeededGenerator) -> [Int] {
        var chosen = Set<Int>()
        switch options.negativesFrom {
        case .uniform:
            let titled = { (item: Int) in !dataset.titles[item].isEmpty }
            let available = titledItems - touched.filter(titled).count
            let wanted = min(count, available)
            while chosen.count < wanted {
                let item = Int.random(in: 0..<dataset.titles.count, using: &rng)
                if !touched.contains(item) && !dataset.titles[item].isEmpty { chosen.insert(item) }
            }
        case .popularity:
            let total = popularityCumulative.last ?? 0
            let drawable = { (item: Int) in popularity[item] > 0 && !dataset.titles[item].isEmpty }
            let available = drawableItems - touched.filter(drawable).count
            let wanted = min(count, available)
            while chosen.count < wanted {
                let draw = Int.random(in: 0..<total, using: &rng)
                // the first item whose cumulative count exceeds the draw
                var (low, high) = (0, popularityCumulative.count - 1)
                while low < high {
                    let mid = (low + high) / 2
                    if popularityCumulative[mid] > draw { high = mid } else { low = mid + 1 }
                }
                if !touched.contains(low) { chosen.insert(low) }
            }
        }
        return Array(chosen).sorted()
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
            var targetRetrieved: Bool?
            if let pool = pools?[dataset.sequences[index].user] {
                candidates = pool
                if options.insertTarget && !pool.contains(target) && !pool.isEmpty {
                    candidates[candidates.count - 1] = target
                }
            } else if let retriever {
                // the retriever reads the sequence before the target; the user's later items (the test
                // item on the valid split) are kept out of the pool like every touched item of the negatives
                let sequence = Array(items[..<cut])
                candidates = retriever.retrieve(history: sequence, count: options.retrieverSize,
                                                excluding: Set(items[(cut + 1)...]))
                targetRetrieved = candidates.contains(target)
                if targetRetrieved == false {
                    if candidates.count < options.retrieverSize { candidates.append(target) }
                    else if !candidates.isEmpty { candidates[candidates.count - 1] = target }
                }
            } else {
                candidates = negatives(options.negatives, touched: Set(items), rng: &userRNG) + [target]
            }
            candidates.shuffle(using: &userRNG)
            var c = Case(userIndex: index, user: dataset.sequences[index].user, sequence: Array(items[..<cut]),
                         history: history, target: target, candidates: candidates)
            c.targetRetrieved = targetRetrieved
            if options.rewriteTitles {
                c.titleOverrides = Dictionary(uniqueKeysWithValues: candidates.map { ($0, titleRewriter.rewrite(dataset.titles[$0], item: $0)) })
                c.cold = [target]
            }
            return c
        }
    }

    /// 1-based rank of the target under `scores` (aligned with `candidates`; higher first;
    /// ties broken against the target), nil if absent.
    public static func rank<Score: Comparable>(of target: Int, candidates: [Int], scores: [Score]) -> Int? {
        guard let position = candidates.firstIndex(of: target), position < scores.count else { return nil }
        let mine = scores[position]
        return 1 + scores.enumerated().filter { $0.offset != position && $0.element >= mine }.count
    }

    /// Popularity ranks by training interaction counts, ties broken by a seeded order. A cold item
    /// (`Case.cold`) scores 0 without the tie-break, so it ranks below every other item and ties count against it.
    public func popularityRank(_ c: Case) -> Int? {
        var rng = SeededGenerator(seed: options.seed &+ UInt64(c.userIndex))
        let jitter = c.candidates.map { _ in Float.random(in: 0..<0.5, using: &rng) }
        let cold = Set(c.cold)
        let scores = zip(c.candidates, jitter).map { cold.contains($0) ? 0 : Float(popularity[$0]) + $1 }
        return Self.rank(of: c.target, candidates: c.candidates, scores: scores)
    }

    /// Last-item transitions ranks (see `TransitionBaseline`), remaining ties broken by the same seeded order as
    /// popularity's; a cold item (`Case.cold`) scores 0.
    public func transitionRank(_ c: Case) -> Int? {
        var rng = SeededGenerator(seed: options.seed &+ UInt64(c.userIndex))
        let jitter = c.candidates.map { _ in Double.random(in: 0..<1, using: &rng) }
        var scores = transitions.scores(history: c.sequence, candidates: c.candidates, jitter: jitter)
        // a cold item has no transitions and no popularity: 0, at or below every other score
        for (position, item) in c.candidates.enumerated() where c.cold.contains(item) { scores[position] = 0 }
        return Self.rank(of: c.target, candidates: c.candidates, scores: scores)
    }
}
