/// What to do with a document longer than a pointwise model's input budget.
public enum DocumentTruncation: String, Sendable, CaseIterable {
    /// score every window (overlapping; see `DocumentWindows`) and keep the best, as Cohere scores
    /// a long document by the maximum over its chunks
    case windows
    /// one window: the document's first tokens (TEI `truncate: true`, `truncation_direction: Right`)
    case keepStart = "keep_start"
    /// one window: the document's last tokens (TEI `truncate: true`, `truncation_direction: Left`)
    case keepEnd = "keep_end"
}

/// Where a long document's windows start.
///
/// A window holds `width` document tokens; consecutive windows overlap by a quarter of a window
/// (stride = width − width/4), so a passage cut by one window's edge sits whole inside the next
/// (MaxP-style passage scoring, Dai & Callan 2019, used half-window strides; a quarter costs fewer
/// windows for the same guarantee on passages up to a quarter window long). The last window is
/// aligned to the document's end rather than left short: a short tail window would be scored on
/// little text and, with max aggregation, only add noise.
///
/// `scripts/fixtures/make_pointwise_fixtures.py` implements the same rule for the golden fixtures.
public enum DocumentWindows {
    public static func starts(length: Int, width: Int) -> [Int] {
        guard width > 0, length > width else { return [0] }
        let stride = width - width / 4
        var starts: [Int] = []
        var start = 0
        while true {
            starts.append(start)
            if start + width >= length { break }
            start = min(start + stride, length - width)
        }
        return starts
    }
}
