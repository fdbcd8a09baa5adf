import Foundation
import InstructRec
import T5

/// The typed form of a /recommend, /search or /rerank body, validated field by
/// field with JSON paths in every error.
struct RankRequest: Sendable {
    enum Endpoint: String, Sendable { case recommend, search, rerank }

    var endpoint: Endpoint
    var context: UserContext
    var candidates: [Item]
    var topN: Int?
    var reduction: ScoreReduction = .sum
    var returnInstruction = false
    /// /rerank: echo the document text in each result
    var returnDocuments = false
    var template: String?
    var timeoutMilliseconds: Int?
}

/// Size limits on requests (configurable).
struct RequestLimits: Sendable {
    var maxCandidates = 100
    var maxHistoryItems = 200
    var maxTextCharacters = 2000
}

enum RankRequestDecoder {
    static func decode(_ body: [UInt8], endpoint: RankRequest.Endpoint, limits: RequestLimits) throws -> RankRequest {
        let json: JSONValue
        do { json = try JSONValue.parse(body) } catch {
            throw ServiceError(status: 400, code: "malformed_json",
                               message: "malformed JSON at byte \(error.offset): \(error.message)", offset: error.offset)
        }
        guard case let .object(members) = json else {
            throw ServiceError.invalid("$", "the body must be a JSON object, got \(json.typeName)")
        }
        let known: Set<String> = ["history", "preference", "candidates", "documents", "query", "intent", "top_n", "scoring",
                                  "return_instruction", "return_documents", "template", "timeout_ms", "model"]
        if let unknown = members.first(where: { !known.contains($0.0) }) {
            throw ServiceError.invalid("$.\(unknown.0)", "unknown field")
        }
        var request = RankRequest(endpoint: endpoint, context: UserContext(), candidates: [])
        let candidateKey = endpoint == .rerank ? "documents" : "candidates"
        request.candidates = try items(json[candidateKey], path: "$.\(candidateKey)", required: true, limit: limits.maxCandidates,
                                       limits: limits, documentKey: endpoint == .rerank ? "text" : "title")
        if request.candidates.isEmpty {
            throw ServiceError.invalid("$.\(candidateKey)", "must contain at least one item")
        }
        var seen: [String: Int] = [:]
        for (index, item) in request.candidates.enumerated() {
            if let first = seen[item.id] {
                throw ServiceError.invalid("$.\(candidateKey)[\(index)].id", "duplicate id '\(item.id)' (also at index \(first))")
            }
            seen[item.id] = index
        }
        request.context.history = try items(json["history"], path: "$.history", required: endpoint == .recommend && json["preference"] == nil,
                                            limit: limits.maxHistoryItems, limits: limits, documentKey: "title")
        request.context.preference = try text(json["preference"], path: "$.preference", limits: limits)
        let query = try text(json["query"], path: "$.query", limits: limits)
        switch endpoint {
        case .recommend:
            if query != nil { throw ServiceError.invalid("$.query", "not accepted by /recommend (use /search)") }
            if request.context.history.isEmpty && (request.context.preference ?? "").isEmpty {
                throw ServiceError.invalid("$.history", "/recommend needs a non-empty history or a preference")
            }
        case .search, .rerank:
            guard let query else { throw ServiceError.invalid("$.query", "is required") }
            request.context.intention = query
        }
        if let intent = json["intent"] {
            guard case let .string(value) = intent, let kind = IntentKind(rawValue: value) else {
                throw ServiceError.invalid("$.intent", "must be \"vague\" or \"specific\"")
            }
            if endpoint == .recommend { throw ServiceError.invalid("$.intent", "not accepted by /recommend") }
            request.context.intentKind = kind
        }
        if let topN = json["top_n"] {
            guard case let .number(value) = topN, value.rounded() == value else {
                throw ServiceError.invalid("$.top_n", "must be an integer")
            }
            guard value >= 1, value <= Double(request.candidates.count) else {
                throw ServiceError.invalid("$.top_n", "must be between 1 and the number of \(candidateKey) (\(request.candidates.count))")
            }
            request.topN = Int(value)
        }
        if let scoring = json["scoring"] {
            guard case let .string(value) = scoring, let reduction = ScoreReduction(rawValue: value) else {
                throw ServiceError.invalid("$.scoring", "must be \"sum\" or \"mean\"")
            }
            request.reduction = reduction
        }
        request.returnInstruction = try flag(json["return_instruction"], path: "$.return_instruction")
        request.returnDocuments = try flag(json["return_documents"], path: "$.return_documents")
        if let template = json["template"] {
            guard case let .string(name) = template, !name.isEmpty else { throw ServiceError.invalid("$.template", "must be a template name") }
            request.template = name
        }
        if let timeout = json["timeout_ms"] {
            guard case let .number(value) = timeout, value.rounded() == value, value >= 1, value <= 3_600_000 else {
                throw ServiceError.invalid("$.timeout_ms", "must be an integer number of milliseconds between 1 and 3600000")
            }
            request.timeoutMilliseconds = Int(value)
        }
        return request
    }

    static func flag(_ value: JSONValue?, path: String) throws -> Bool {
        guard let value else { return false }
        guard case let .bool(flag) = value else { throw ServiceError.invalid(path, "must be true or false") }
        return flag
    }

    static func text(_ value: JSONValue?, path: String, limits: RequestLimits) throws -> String? {
        guard let value, value != .null else { return nil }
        guard case let .string(text) = value else { throw ServiceError.invalid(path, "must be a string, got \(value.typeName)") }
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ServiceError.invalid(path, "must not be empty") }
        if text.count > limits.maxTextCharacters {
            throw ServiceError.invalid(path, "is longer than \(limits.maxTextCharacters) characters", status: 413)
        }
        return text
    }

    /// A list of items: plain strings (titles) or {"id", "title"} objects
    /// (`text` instead of `title` for /rerank documents).
    static func items(_ value: JSONValue?, path: String, required: Bool, limit: Int, limits: RequestLimits,
                      documentKey: String) throws -> [Item] {
        guard let value, value != .null else {
            if required { throw ServiceError.invalid(path, "is required") }
            return []
        }
        guard case let .array(elements) = value else { throw ServiceError.invalid(path, "must be an array, got \(value.typeName)") }
        if elements.count > limit {
            throw ServiceError.invalid(path, "has \(elements.count) items, more than the limit \(limit)", status: 413)
        }
        return try elements.enumerated().map { index, element in
            let itemPath = "\(path)[\(index)]"
            switch element {
            case let .string(title):
                return Item(id: String(index), title: try checkedTitle(title, path: itemPath, limits: limits))
            case .object:
                let keys: Set<String> = ["id", documentKey, "title", "text"]
                if case let .object(members) = element, let unknown = members.first(where: { !keys.contains($0.0) }) {
                    throw ServiceError.invalid("\(itemPath).\(unknown.0)", "unknown field")
                }
                let titleValue = element[documentKey] ?? element["title"] ?? element["text"]
                guard let titleValue else { throw ServiceError.invalid("\(itemPath).\(documentKey)", "is required") }
                guard case let .string(title) = titleValue else {
                    throw ServiceError.invalid("\(itemPath).\(documentKey)", "must be a string, got \(titleValue.typeName)")
                }
                var id = String(index)
                switch element["id"] {
                case nil, .some(.null): break
                case let .some(.string(text)) where !text.isEmpty: id = text
                case let .some(.number(number)) where number.rounded() == number && abs(number) < 1e15: id = String(Int64(number))
                case let .some(other): throw ServiceError.invalid("\(itemPath).id", "must be a non-empty string or an integer, got \(other.typeName)")
                }
                return Item(id: id, title: try checkedTitle(title, path: "\(itemPath).\(documentKey)", limits: limits))
            default:
                throw ServiceError.invalid(itemPath, "must be a string or an object with '\(documentKey)', got \(element.typeName)")
            }
        }
    }

    static func checkedTitle(_ title: String, path: String, limits: RequestLimits) throws -> String {
        if title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ServiceError.invalid(path, "must not be empty") }
        if title.count > limits.maxTextCharacters {
            throw ServiceError.invalid(path, "is longer than \(limits.maxTextCharacters) characters", status: 413)
        }
        return title
    }
}
