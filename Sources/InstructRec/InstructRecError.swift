/// Failures of instruction building and ranking. `field` names the request
/// field (a JSON path) when the caller's input is the cause.
public enum InstructRecError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The templates file is unreadable or a template is malformed (start-up error).
    case templateFile(file: String, reason: String)
    case invalidTemplate(name: String, reason: String)
    /// The catalog file that warms the title-prior cache is unreadable or malformed (start-up error).
    case catalogFile(file: String, reason: String)
    /// A request names a template that does not exist.
    case unknownTemplate(name: String, known: [String])
    /// A request lacks what its template needs.
    case missingContext(template: String, field: String)
    /// A pointwise model that ranks documents for a query alone was given a history or a preference.
    case unsupportedContext(scorer: String, field: String)
    /// A request field the loaded model cannot honour (`field` is its JSON path): refused rather than ignored.
    case unsupportedField(field: String, reason: String)
    /// Even one candidate with no history cannot fit max_input_tokens.
    case instructionTooLong(field: String, tokens: Int, limit: Int)
    /// A `CandidateScorer` cannot score these tokens (ids outside the model's
    /// vocabulary, an empty or over-long instruction): the caller's input.
    case scoringInput(String)
    /// A `CandidateScorer` failed for a reason of its own (not the input).
    case scoringFailed(String)

    public var description: String {
        switch self {
        case let .templateFile(file, reason): return "\(file): \(reason)"
        case let .invalidTemplate(name, reason): return "template '\(name)': \(reason)"
        case let .catalogFile(file, reason): return "\(file): \(reason)"
        case let .unknownTemplate(name, known): return "unknown template '\(name)' (known: \(known.joined(separator: ", ")))"
        case let .missingContext(template, field): return "template '\(template)' needs '\(field)'"
        case let .unsupportedContext(scorer, field):
            return "'\(field)' cannot be used: this model (scorer \(scorer)) ranks documents for a query alone (a history or preference needs a likelihood model, or a yes_no model with pointwise.* templates)"
        case let .unsupportedField(field, reason): return "\(field): \(reason)"
        case let .instructionTooLong(field, tokens, limit):
            return "'\(field)' is too long: the instruction needs \(tokens) tokens with a single candidate and no history, more than max_input_tokens \(limit)"
        case let .scoringInput(message): return message
        case let .scoringFailed(message): return "scoring failed: \(message)"
        }
    }
}
