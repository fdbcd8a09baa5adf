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
            return Item(id: input.id ?? String(index), title: text)
        }
    }

    /// The candidate list: `items`, then `FieldRules.candidates` (its size, no id twice).
    static func candidates(_ inputs: [ItemInput], _ path: String, _ limits: RequestLimits) throws -> [Item] {
        try FieldRules.candidates(items(inputs, path, limits), path, limits, givenID: { inputs[$0].id != nil })
    }
}
