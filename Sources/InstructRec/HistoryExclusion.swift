import Foundation

/// `exclude_history`: which candidates the user's history already holds, so a recommendation
/// never offers back what was consumed.
///
/// A candidate and a history item are the same item when both carry an id the client gave and the
/// ids are equal; when either has none (a plain string, whose id is only its position), when their
/// titles are equal after `normalizedTitle` (HTML entities decoded, case folded, white space
/// collapsed), the same normalisation catalogue titles get. The whole history as sent counts, not
/// only the items the instruction kept.
public enum HistoryExclusion {
    /// The indices of `candidates` to keep, in order.
    public static func kept(_ candidates: [Item], history: [Item]) -> [Int] {
        guard !history.isEmpty else { return Array(candidates.indices) }
        let historyIDs = Set(history.filter { !$0.idIsPosition }.map(\.id))
        let allTitles = Set(history.map { normalizedTitle($0.title) })
        let titlesWithoutID = Set(history.filter(\.idIsPosition).map { normalizedTitle($0.title) })
        return candidates.indices.filter { index in
            let candidate = candidates[index]
            let title = normalizedTitle(candidate.title)
            if candidate.idIsPosition { return !allTitles.contains(title) }
            return !historyIDs.contains(candidate.id) && !titlesWithoutID.contains(title)
        }
    }

    /// A title as compared: HTML entities decoded, lower-cased, runs of white space as one space, trimmed.
    public static func normalizedTitle(_ title: String) -> String {
        HTMLEntities.decode(title).lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
