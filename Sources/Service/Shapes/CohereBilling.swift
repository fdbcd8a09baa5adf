import InstructRec

/// Cohere's `meta.billed_units.search_units`: "a single search unit is a query with up to 100 documents",
/// and a document split into chunks counts once per chunk. Clients that meter usage the way Cohere bills it
/// read the same number here: one unit per 100 documents scored, a windowed document counting once per window.
enum CohereBilling {
    static let documentsPerUnit = 100

    static func searchUnits(documents: Int, usage: RankingUsage) -> Int {
        // Pointwise scoring counts every window it scored (a short document is one); likelihood scoring has none.
        let scored = max(documents, usage.windows)
        return max(1, (scored + documentsPerUnit - 1) / documentsPerUnit)
    }

    static let description = "Billing units, as Cohere counts them: one search unit per 100 documents, a document scored over several windows counting once per window"
}
