import Configuration
import InstructRec

/// Size limits on requests (configurable), shared by every shape.
struct RequestLimits: Sendable {
    public var maxCandidates = 100
    public var maxTextCharacters = 2000
    /// the deployment's template names (the `template` field's enum)
    public var templates: [String] = []
    public init(maxCandidates: Int = 100, maxTextCharacters: Int = 2000, templates: [String] = []) {
        self.maxCandidates = maxCandidates
        self.maxTextCharacters = maxTextCharacters
        self.templates = templates
    }
}

/// The checks every shape applies to its fields, each stated once so that the
/// OpenAPI document can state the same rule (`FieldRules.schema...`).
enum FieldRules {
    /// Whitespace exactly as ECMA-262's `\s` (WhiteSpace and LineTerminator), the regex
    /// dialect of JSON Schema patterns, so that the schema's `pattern: "\\S"` and this
    /// check accept and refuse the same strings.
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x20, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF: return true
        default: return false
        }
    }

    /// A text field: at least one non-space character, at most maxTextCharacters
    /// Unicode scalars (JSON Schema's maxLength counts code points).
    static func text(_ text: String, _ path: String, _ limits: RequestLimits) throws -> String {
        if !text.unicodeScalars.contains(where: { !isSpace($0) }) {
            throw ServiceError.invalid(path, "must contain a non-space character")
        }
        if text.unicodeScalars.count > limits.maxTextCharacters {
            throw ServiceError.invalid(path, "is longer than \(limits.maxTextCharacters) characters")
        }
        return text
    }

    static func optionalText(_ text: String?, _ path: String, _ limits: RequestLimits) throws -> String? {
        try text.map { try self.text($0, path, limits) }
    }

    /// The candidate list: 1...maxCandidates items. Ids are the client's labels, echoed back; two items may
    /// share one (every result also carries its `index`, the one unambiguous name), so a body the schema
    /// allows is never refused for what the schema cannot say.
    static func candidates(_ items: [Item], _ path: String, _ limits: RequestLimits) throws -> [Item] {
        if items.isEmpty { throw ServiceError.invalid(path, "must contain at least one item") }
        if items.count > limits.maxCandidates {
            throw ServiceError.invalid(path, "has \(items.count) items, more than the limit \(limits.maxCandidates)")
        }
        return items
    }

    static func topN(_ value: Int?, _ path: String = "$.top_n") throws -> Int? {
        // Larger than the number of candidates: all of them (Cohere and TEI do the same).
        try count(value, path)
    }

    /// The largest count a request may name (top_n, max_tokens_per_doc, ...).
    static let maxCount = 2_147_483_647
    static func count(_ value: Int?, _ path: String) throws -> Int? {
        guard let value else { return nil }
        guard (1...maxCount).contains(value) else { throw ServiceError.invalid(path, "must be an integer between 1 and \(maxCount)") }
        return value
    }

    /// nil: the model's default scoring.
    static func scoring(_ value: String?) throws -> Scoring.Mode? {
        guard let value else { return nil }
        guard let mode = Scoring.Mode(rawValue: value) else {
            throw ServiceError.invalid("$.scoring", "must be \"sum\", \"mean\" or \"calibrated\"")
        }
        return mode
    }

    /// α of calibrated scoring; nil: the model's.
    static func priorWeight(_ value: Double?) throws -> Float? {
        guard let value else { return nil }
        let range = Scoring.priorWeightRange
        guard value.isFinite, Double(range.lowerBound)...Double(range.upperBound) ~= value else {
            throw ServiceError.invalid("$.prior_weight", "must be a number between \(range.lowerBound) and \(range.upperBound)")
        }
        return Float(value)
    }

    /// nil: the deployment's default (logistic).
    static func relevance(_ value: String?) throws -> Relevance.Mode? {
        guard let value else { return nil }
        guard let mode = Relevance.Mode(rawValue: value) else {
            throw ServiceError.invalid("$.relevance", "must be \"logistic\" or \"softmax\"")
        }
        return mode
    }

    static let timeoutRange = 1000...3_600_000
    static func timeout(_ value: Int?) throws -> Int? {
        guard let value else { return nil }
        guard timeoutRange.contains(value) else {
            throw ServiceError.invalid("$.timeout_ms", "must be an integer number of milliseconds between \(timeoutRange.lowerBound) and \(timeoutRange.upperBound)")
        }
        return value
    }

    static func intent(_ value: String?) throws -> IntentKind? {
        guard let value else { return nil }
        guard let kind = IntentKind(rawValue: value) else { throw ServiceError.invalid("$.intent", "must be \"vague\" or \"specific\"") }
        return kind
    }
}

extension ServiceConfiguration {
    var requestLimits: RequestLimits {
        RequestLimits(maxCandidates: maxCandidates, maxTextCharacters: maxTextCharacters)
    }
}
