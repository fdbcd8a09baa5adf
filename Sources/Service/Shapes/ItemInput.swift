import Configuration
import InstructRec

/// Which member holds an item's text: "title" for candidates and history, "text" for documents.
protocol ItemTextKey: Sendable { static var name: String { get } }
enum TitleKey: ItemTextKey { static let name = "title" }
enum TextKey: ItemTextKey { static let name = "text" }

/// One list element: a plain string, or an object `{"id"?, "<title|text>"}`.
/// A string's id is its position; an object's id is a non-empty string or an integer.
struct ItemInput<TextField: ItemTextKey>: Decodable, Sendable {
    var id: String?
    var text: String

    init(from decoder: Decoder) throws {
        let path = JSONValueDecoder.path(decoder.codingPath)
        let value = (decoder as? JSONValueDecoding)?.value
        switch value {
        case let .string(text)?:
            id = nil
            self.text = text
        case let .object(members)?:
            for (key, _) in members where key != "id" && key != TextField.name {
                throw ServiceError.invalid("\(path).\(key)", "unknown field")
            }
            guard let textValue = members.first(where: { $0.0 == TextField.name })?.1 else {
                throw ServiceError.invalid("\(path).\(TextField.name)", "is required")
            }
            guard case let .string(text) = textValue else {
                throw ServiceError.invalid("\(path).\(TextField.name)", "must be a string, got \(textValue.typeName)")
            }
            self.text = text
            id = try Self.id(members, path)
        default:
            throw ServiceError.invalid(path, "must be a string or an object with '\(TextField.name)', got \(value?.typeName ?? "nothing")")
        }
    }

    /// An object's `id` member: absent or null, a non-empty string, or an integer (as text).
    static func id(_ members: [(String, JSONValue)], _ path: String) throws -> String? {
        switch members.first(where: { $0.0 == "id" })?.1 {
        case nil, .null?: return nil
        case let .string(text)? where !text.isEmpty: return text
        case let .number(number)? where number.rounded() == number && abs(number) < 1e15: return String(Int64(number))
        case let other?: throw ServiceError.invalid("\(path).id", "must be a non-empty string or an integer, got \(other.typeName)")
        }
    }

    /// Items with their ids (position when none), each text checked.
    static func items(_ inputs: [ItemInput], _ path: String, _ limits: RequestLimits) throws -> [Item] {
        try inputs.enumerated().map { index, input in
            let itemPath = "\(path)[\(index)]"
            let text = try FieldRules.text(input.text, input.id == nil ? itemPath : "\(itemPath).\(TextField.name)", limits)
            return Item(id: input.id ?? String(index), title: text, idIsPosition: input.id == nil)
        }
    }

    /// The candidate list: `items`, then `FieldRules.candidates` (its size, no id twice).
    static func candidates(_ inputs: [ItemInput], _ path: String, _ limits: RequestLimits) throws -> [Item] {
        try FieldRules.candidates(items(inputs, path, limits), path, limits, givenID: { inputs[$0].id != nil })
    }
}

/// A Cohere v1 document: a string, or an object of string fields (the cohere SDK's
/// `RerankDocument = Dict[str, str]`: "If a document is provided the text fields is required
/// and all other fields will be preserved in the response"), with our optional `id`.
/// `rank_fields` names the fields the model reads; `text` when it is absent.
struct StructuredDocument: Decodable, Sendable {
    var id: String?
    /// the members in document order, null ones dropped (null reads as absent); a string document is `{"text": it}`
    var members: [(String, JSONValue)]
    var isString: Bool

    init(from decoder: Decoder) throws {
        let path = JSONValueDecoder.path(decoder.codingPath)
        let value = (decoder as? JSONValueDecoding)?.value
        switch value {
        case let .string(text)?:
            id = nil
            members = [("text", .string(text))]
            isString = true
        case let .object(members)?:
            for (key, value) in members where key != "id" {
                switch value {
                case .string, .null: continue
                default: throw ServiceError.invalid("\(path).\(key)", "must be a string, got \(value.typeName)")
                }
            }
            id = try ItemInput<TextKey>.id(members, path)
            self.members = members.filter { $0.1 != .null }
            isString = false
        default:
            throw ServiceError.invalid(path, "must be a string or an object of string fields, got \(value?.typeName ?? "nothing")")
        }
    }

    /// What the model reads: the one rank field's value alone (so `text`, the default, reads as
    /// before), or with several, one "field: value" line each in `rank_fields` order (Cohere
    /// ranks "using the values in title, author, text sequentially" and recommends structured data
    /// as YAML strings: these lines are that YAML for flat string fields).
    func text(rankFields: [String], _ path: String, _ limits: RequestLimits) throws -> String {
        let values = try rankFields.enumerated().map { index, field in
            guard let value = members.first(where: { $0.0 == field })?.1 else {
                if isString { throw ServiceError.invalid(path, "is a string, its one field is text, but $.rank_fields[\(index)] names '\(field)'") }
                throw ServiceError.invalid("\(path).\(field)", rankFields == ["text"] ? "is required" : "is required: $.rank_fields[\(index)] names it")
            }
            guard case let .string(text) = value else {
                throw ServiceError.invalid("\(path).\(field)", "must be a string to rank on, got \(value.typeName)")
            }
            return text
        }
        if values.count == 1 { return try FieldRules.text(values[0], isString ? path : "\(path).\(rankFields[0])", limits) }
        let lines = zip(rankFields, values).map { "\($0): \($1)" }.joined(separator: "\n")
        if lines.unicodeScalars.count > limits.maxTextCharacters {
            throw ServiceError.invalid(path, "is longer than \(limits.maxTextCharacters) characters as \"field: value\" lines of its rank_fields")
        }
        return lines
    }
}
