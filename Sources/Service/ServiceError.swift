import HTTP
import InstructRec

/// A request the service refuses, with the HTTP status it maps to. Every
/// module's errors become one of these in `ServiceError.from`, the one place
/// that decides statuses.
struct ServiceError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    /// JSON path of the offending field ("$.candidates[2].title"), when there is one
    public var field: String?
    /// byte offset of a JSON syntax error
    public var offset: Int?
    public var retryAfterSeconds: Int?

    public init(status: Int, code: String, message: String, field: String? = nil, offset: Int? = nil, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.offset = offset
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(status) \(code): \(message)" }

    static func invalid(_ field: String, _ message: String, status: Int = 422) -> ServiceError {
        ServiceError(status: status, code: "invalid_field", message: "\(field): \(message)", field: field)
    }

    static let overloaded = ServiceError(status: 503, code: "overloaded",
                                         message: "the inference queue is full; retry shortly", retryAfterSeconds: 1)

    /// Maps any error to its status. Internal errors never expose paths or traces.
    static func from(_ error: Error) -> ServiceError {
        if let error = error as? ServiceError { return error }
        if let error = error as? InstructRecError {
            switch error {
            case .unknownTemplate:
                return ServiceError(status: 422, code: "unknown_template", message: error.description, field: "$.template")
            case let .missingContext(_, field):
                return ServiceError(status: 422, code: "missing_field", message: error.description, field: "$.\(field)")
            case let .unsupportedContext(_, field):
                return ServiceError(status: 422, code: "unsupported_field", message: error.description, field: "$.\(field)")
            case let .unsupportedField(field, reason):
                return ServiceError.invalid(field, reason)
            case let .instructionTooLong(field, _, _):
                return ServiceError(status: 422, code: "instruction_too_long", message: error.description, field: "$.\(field)")
            case let .scoringInput(message):
                return ServiceError(status: 422, code: "invalid_input", message: message)
            case .templateFile, .invalidTemplate, .catalogFile, .scoringFailed:
                break
            }
        }
        return ServiceError(status: 500, code: "internal_error", message: "internal error while scoring")
    }
}
