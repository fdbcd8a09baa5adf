import HTTP
import InstructRec

/// Document accounting every shape reports, whatever its body can hold (TEI's is a bare array):
/// `X-Documents-Truncated` on every ranking, `X-Document-Windows` for pointwise models, `X-Query-Tokens-Dropped`
/// when a query too long for the model was cut (TEI `truncate: true`).
enum UsageHeaders {
    static func set(_ outcome: RankOutcome, on headers: inout HTTPHeaders) {
        headers.set("X-Documents-Truncated", String(outcome.usage.documentsTruncated))
        if outcome.usage.queryTokensDropped > 0 { headers.set("X-Query-Tokens-Dropped", String(outcome.usage.queryTokensDropped)) }
        if outcome.scorer.isPointwise {
            headers.set("X-Document-Windows", String(outcome.usage.windows))
            headers.set("X-Documents-Windowed", String(outcome.usage.documentsWindowed))
        }
    }
}
