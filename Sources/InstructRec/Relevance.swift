import Foundation

/// What `relevance_score` means.
///
/// - `logistic` (the default): σ(scale · score + bias), a function of the candidate's own
///   score only, so it is comparable across requests and usable with a threshold. A model's
///   `instructrec.json` carries the scale and bias fitted on its validation split
///   (`instructrec eval --fit-relevance`) so that the value approximates the probability
///   that the candidate is the user's next item among a retriever's top 100; without
///   fitted values it is σ(score).
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
    public var scale: Double
    public var bias: Double

    public init(mode: Mode = .logistic, scale: Double = 1, bias: Double = 0) {
        self.mode = mode
        self.scale = scale
        self.bias = bias
    }

    /// One value per score, in 0...1 (`raw`: the scores).
    public func values(_ scores: [Float]) -> [Float] {
        switch mode {
        case .raw:
            return scores
        case .logistic:
            return scores.map { Float(Self.sigmoid(scale * Double($0) + bias)) }
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

    /// Fits `scale` and `bias` by logistic regression (Newton's method with a backtracking line
    /// search, so a start far from the optimum cannot overshoot) on scores labelled true (the
    /// user's next item) or false: the fitted logistic then approximates P(next item | score)
    /// at the labels' base rate.
    public static func fit(scores: [Float], labels: [Bool], iterations: Int = 100) -> (scale: Double, bias: Double) {
        var a = 1.0, b = 0.0
        let x = scores.map(Double.init)
        guard !x.isEmpty, labels.contains(true), labels.contains(false) else { return (a, b) }
        /// the negative log-likelihood, computed stably: log(1 + e^z) − y·z
        func loss(_ a: Double, _ b: Double) -> Double {
            zip(x, labels).reduce(0) { total, pair in
                let z = a * pair.0 + b
                let softplus = z > 0 ? z + Foundation.log1p(Foundation.exp(-z)) : Foundation.log1p(Foundation.exp(z))
                return total + softplus - (pair.1 ? z : 0)
            }
        }
        var current = loss(a, b)
        for _ in 0..<iterations {
            var ga = 0.0, gb = 0.0, haa = 1e-9, hab = 0.0, hbb = 1e-9
            for (xi, yi) in zip(x, labels) {
                let p = sigmoid(a * xi + b)
                let r = p - (yi ? 1 : 0)
                let w = p * (1 - p)
                ga += r * xi; gb += r
                haa += w * xi * xi; hab += w * xi; hbb += w
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
}
