import InstructRec

/// Cohere's `meta.warnings` (v1 and v2 bodies): one sentence per thing that happened to documents on
/// their way to a score, so a client reading only the body learns it. The counts themselves stay in
/// `usage` (our shapes) and the `X-Documents-*` headers (`UsageHeaders`).
enum CohereWarnings {
    /// The warnings of one ranking; nil when every document was scored whole in one input.
    ///
    /// - Documents cut: titles past max_target_tokens (likelihood models), documents cut to the request's
    ///   max_tokens_per_doc (v2), or documents with more windows than the request's max_chunks_per_doc (v1),
    ///   which are scored on their first windows only.
    /// - Documents windowed (pointwise models): longer than one model input, scored over several windows
    ///   and ranked by their best one.
    static func warnings(_ query: RankQuery, _ outcome: RankOutcome) -> [String]? {
        var warnings: [String] = []
        let usage = outcome.usage
        if usage.documentsTruncated > 0 {
            warnings.append(cutWarning(query, outcome))
        }
        if outcome.scorer.isPointwise && usage.documentsWindowed > 0 {
            warnings.append("\(usage.documentsWindowed) document(s) were longer than one model input (max_input_tokens): "
                            + "each was scored over several windows and ranked by its best (\(usage.windows) windows in all)")
        }
        return warnings.isEmpty ? nil : warnings
    }

    /// A pointwise plan cuts a document only for a token cap (max_tokens_per_doc), a keep-start/keep-end
    /// truncation or a window cap; with neither of the first two, every cut document met the window cap.
    private static func cutWarning(_ query: RankQuery, _ outcome: RankOutcome) -> String {
        let count = outcome.usage.documentsTruncated
        if let cap = query.maxWindows, outcome.scorer.isPointwise, query.maxTargetTokens == nil,
           (query.truncation ?? .windows) == .windows {
            let kept = max(1, cap)
            return "\(count) document(s) had more than max_chunks_per_doc (\(kept)) windows: "
                + "each was scored on its first \(kept) window(s) only"
        }
        return "\(count) document(s) were truncated before scoring"
    }
}
