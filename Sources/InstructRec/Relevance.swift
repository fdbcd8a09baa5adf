import Foundation

/// What `relevance_score` means.
///
/// - `logistic` (the default): σ(scale · score + bias), a function of the (context, candidate)
///   pair alone: the candidate's own score under the α of its context kind (see `Scoring`), mapped
///   with that kind's scale and bias. So it does not depend on the other candidates of the request,
///   their number or their order, and one threshold means the same in every request. A model's
///   `instructrec.json` carries the two mappings fitted on its validation split by
///   `instructrec eval --fit-relevance` (history contexts: the user's next item against the other
///   candidates; query contexts: a query made from that item's title, against the same candidates),
///   each with the classes weighted equally, so the value estimates the probability that the candidate
///   is relevant at even odds: 0.5 is the natural threshold. Without fitted values it is σ(score).
/// - `raw`: the score itself; a pointwise RankT5 model's default (its logit is not a probability).
/// - `softmax`: the softmax of the scores over the request's candidates (sums to 1; a lone
///   candidate always gets 1.0): a within-request share, not a relevance.
public struct Relevance: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        case logistic, softmax
        /// the score itself (RankT5's raw logit; not bounded to 0...1)
        case raw
    }

    public var mode: Mode
    /// the logistic of a history context (and of every context when no query mapping is set)
    public var scale: Double
    public var bias: Double
    /// the logistic of a query context (an intention or a preference); nil: `scale` and `bias`
    public var queryScale: Double?
    public var queryBias: Double?

    public init(mode: Mode = .logistic, scale: Double = 1, bias: Double = 0, queryScale: Double? = nil, queryBias: Double? = nil) {
        self.mode = mode
        self.scale = scale
        self.bias = bias
        self.queryScale = queryScale
        self.queryBias = queryBias
    }

    /// The mapping of one context kind (its scale and bias as the only ones).
    public func resolved(for kind: ContextKind) -> Relevance {
        guard kind == .query, let queryScale, let queryBias else { return Relevance(mode: mode, scale: scale, bias: bias) }
        return Relevance(mode: mode, scale: queryScale, bias: queryBias)
    }

    /// One value per score, in 0...1 (`raw`: the scores). `offset` is the context's reference score (see
    /// `RelevanceReference`), subtracted inside the logistic only.
    public func values(_ scores: [Float], offset: Float = 0) -> [Float] {
        switch mode {
        case .raw:
            return scores
        case .logistic:
            return scores.map { Float(Self.sigmoid(scale * Double($0 - offset) + bias)) }
        case .softmax:
            let maximum = scores.max() ?? 0
            let exps = scores.map { Foundation.exp(Double($0 - maximum)) }
            let total = exps.reduce(0, +)
            return exps.map { Float(total > 0 ? $0 / total : 0) }
        }
    }

    /// A numerically stable logistic.
    public static func sigmoid(_ x: Double) -> Double {
        x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
    }

    /// Fits `scale` and `bias` by weighted logistic regression (Newton's method with a backtracking
    /// line search, so a start far from the optimum cannot overshoot) on scores labelled true
    /// (relevant) or false: the fitted logistic then approximates P(relevant | score) at the labels'
    /// weighted base rate (equal class weights: even odds). `weights` default to 1 each.
    public static func fit(scores: [Float], labels: [Bool], weights: [Double]? = nil, iterations: Int = 100) -> (scale: Double, bias: Double) {
        let x = scores.map(Double.init)
        let w = weights ?? [Double](repeating: 1, count: x.count)
        guard !x.isEmpty, w.count == x.count, labels.contains(true), labels.contains(false) else { return (1, 0) }
        // Start from the flat logistic at the weighted base rate: log-likelihood scores sit tens of nats below 0,
        // where σ(1 · score) is flat and Newton's step from there is no direction at all.
        let positive = zip(w, labels).reduce(0) { $0 + ($1.1 ? $1.0 : 0) }
        let total = w.reduce(0, +)
        var a = 0.0, b = Foundation.log(positive / (total - positive))
        /// the weighted negative log-likelihood, computed stably: log(1 + e^z) − y·z
        func loss(_ a: Double, _ b: Double) -> Double {
            var total = 0.0
            for i in x.indices {
                let z = a * x[i] + b
                let softplus = z > 0 ? z + Foundation.log1p(Foundation.exp(-z)) : Foundation.log1p(Foundation.exp(z))
                total += w[i] * (softplus - (labels[i] ? z : 0))
            }
            return total
        }
        var current = loss(a, b)
        for _ in 0..<iterations {
            var ga = 0.0, gb = 0.0, haa = 1e-9, hab = 0.0, hbb = 1e-9
            for i in x.indices {
                let (xi, wi) = (x[i], w[i])
                let p = sigmoid(a * xi + b)
                let r = wi * (p - (labels[i] ? 1 : 0))
                let h = wi * p * (1 - p)
                ga += r * xi; gb += r
                haa += h * xi * xi; hab += h * xi; hbb += h
            }
            let det = haa * hbb - hab * hab
            guard det > 0 else { break }
            let da = (hbb * ga - hab * gb) / det
            let db = (haa * gb - hab * ga) / det
            var step = 1.0
            var next = loss(a - da, b - db)
            while next > current && step > 1e-6 {
                step /= 2
                next = loss(a - step * da, b - step * db)
            }
            guard next <= current else { break }
            a -= step * da; b -= step * db
            let improvement = current - next
            current = next
            if improvement < 1e-10 * max(1, current) { break }
        }
        return (a, b)
    }

    /// ROC AUC of `scores` for `labels`, each pair weighted by its two weights: the probability that a
    /// relevant item outscores an irrelevant one (ties count one half). NaN without both classes.
    public static func rocAUC(scores: [Float], labels: [Bool], weights: [Double]? = nil) -> Double {
        let w = weights ?? [Double](repeating: 1, count: scores.count)
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var negativeBelow = 0.0, wins = 0.0, positives = 0.0, negatives = 0.0
        var start = 0
        while start < order.count {
            var end = start
            while end < order.count && scores[order[end]] == scores[order[start]] { end += 1 }
            var tiedPositive = 0.0, tiedNegative = 0.0
            for i in order[start..<end] { if labels[i] { tiedPositive += w[i] } else { tiedNegative += w[i] } }
            wins += tiedPositive * (negativeBelow + tiedNegative / 2)
            negativeBelow += tiedNegative
            positives += tiedPositive
            negatives += tiedNegative
            start = end
        }
        return positives > 0 && negatives > 0 ? wins / (positives * negatives) : .nan
    }
}
