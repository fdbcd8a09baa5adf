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

    /// The candidate list: `items`, then `FieldRules.candidates` (its size).
    static func candidates(_ inputs: [ItemInput], _ path: String, _ limits: RequestLimits) throws -> [Item] {
        try FieldRules.candidates(items(inputs, path, limits), path, limits)
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
    /// fields besides the id as sent, nulls included: a document with none is refused (the schema's minProperties)
    var sentFields = 1

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
            sentFields = members.filter { $0.0 != "id" }.count
            if sentFields == 0 { throw ServiceError.invalid(path, "has no field besides its id: nothing to rank") }
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
    ///
    /// Any document the schema allows is read, never refused for the fields it lacks: a string document is
    /// its text whatever `rank_fields` names (the fields describe structured documents); an object is read
    /// on the rank fields it has, and one that has none of them on all its string fields, in its own order.
    func text(rankFields: [String], _ path: String, _ limits: RequestLimits) throws -> String {
        // The string fields (nulls were dropped at decoding), each held to the text rule whether it is read or not,
        // as the schema says (a non-space character, max_text_chars); a string document's is its own path.
        let fields = try members.compactMap { key, value -> (name: String, text: String)? in
            guard key != "id", case let .string(text) = value else { return nil }
            return (key, try FieldRules.text(text, isString ? path : "\(path).\(key)", limits))
        }
        let named = isString ? fields : rankFields.compactMap { name in fields.first { $0.name == name } }
        let read = named.isEmpty ? fields : named
        // Nothing to read (only null fields): the document is ranked as an empty text.
        guard read.count > 1 else { return read.first?.text ?? "" }
        let lines = read.map { "\($0.name): \($0.text)" }.joined(separator: "\n")
        if lines.unicodeScalars.count > limits.maxTextCharacters {
            throw ServiceError.invalid(path, "is longer than \(limits.maxTextCharacters) characters as \"field: value\" lines of its rank_fields")
        }
        return lines
    }
}
