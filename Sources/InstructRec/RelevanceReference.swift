import Foundation

/// The context's reference score: contextual calibration of `relevance_score` (after Zhao et al. 2021,
/// "Calibrate Before Use", which calibrates with content-free inputs; here with fixed reference outputs).
///
/// Some contexts lift every title: a one-word query naming a big franchise makes any game title several
/// nats likelier than under the empty context, so even an unrelated game gets a high PMI and a threshold
/// on it admits too much; a long, specific query does the opposite. The lift belongs to the context, so it
/// is measured on the context alone: a fixed list of reference titles, a model's own (`relevance_reference_titles`
/// in its `instructrec.json`, typical titles of its catalog), is scored under the request's instruction beside
/// the candidates, and the median of their scores is subtracted inside the relevance logistic:
///
///     relevance(t) = σ(scale · (score(t) − median over references r of score(r)) + bias)
///
/// The references are the same for every request, so the offset depends on the context alone, never on the
/// request's other candidates; the median, not the mean, so one reference that happens to match the query
/// does not move it. It changes `relevance_score` only: the order within a request (by `score`) is the same.
/// Only candidate-free instructions take references (a list instruction would have to show them to the model),
/// and only query contexts: on the default model's validation pairs (`instructrec eval --split valid
/// --fit-relevance`, 5,000 users) the offset raised the query pairs' ROC AUC from 0.915 to 0.920 and lowered
/// the history pairs' from 0.868 to 0.863, where the history already sets the level.
public struct RelevanceReference: Sendable, Equatable {
    /// reference titles, tokenized and cut as candidate titles are
    public let targets: [[Int32]]

    public init(targets: [[Int32]]) {
        self.targets = targets
    }

    public var isEmpty: Bool { targets.isEmpty }

    /// The offset from the references' scores: their median (the mean of the middle two for an even count).
    public static func offset(_ scores: [Float]) -> Float {
        guard !scores.isEmpty else { return 0 }
        let sorted = scores.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
