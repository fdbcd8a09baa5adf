import Foundation

/// Validates JSON values against the subset of JSON Schema our OpenAPI
/// document uses: type, properties, required, additionalProperties (false or a schema), items,
/// enum, oneOf and $ref into components.
struct SchemaValidator {
    let document: [String: Any]

    struct Missing: Error, CustomStringConvertible { let description: String }

    func responseSchema(path: String, method: String, status: String) throws -> [String: Any] {
        guard let operation = ((document["paths"] as? [String: Any])?[path] as? [String: Any])?[method] as? [String: Any],
              let response = (operation["responses"] as? [String: Any])?[status] as? [String: Any],
              let schema = ((response["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
        else { throw Missing(description: "no schema for \(method) \(path) \(status)") }
        return schema
    }

    func requestSchema(path: String) throws -> [String: Any] {
        guard let operation = ((document["paths"] as? [String: Any])?[path] as? [String: Any])?["post"] as? [String: Any],
              let body = operation["requestBody"] as? [String: Any],
              let schema = ((body["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
        else { throw Missing(description: "no request schema for \(path)") }
        return schema
    }

    /// A JSON true/false (NSNumber 0 and 1 also cast to Bool, so look at the type).
    static func isBool(_ value: Any) -> Bool {
        if type(of: value) == Bool.self { return true }
        // Linux Foundation: JSON booleans are __NSCFBoolean with objCType "c"; integers are "i"/"q".
        if let number = value as? NSNumber { return String(cString: number.objCType) == "c" }
        return false
    }

    /// JSONSerialization yields Int, Double or NSNumber depending on the platform.
    static func number(_ value: Any) -> Double? {
        if let v = value as? Int { return Double(v) }
        if let v = value as? Double { return v }
        if let v = value as? NSNumber { return v.doubleValue }
        return nil
    }

    func resolve(_ schema: [String: Any]) -> [String: Any] {
        guard let ref = schema["$ref"] as? String else { return schema }
        let name = ref.split(separator: "/").last.map(String.init) ?? ""
        return ((document["components"] as? [String: Any])?["schemas"] as? [String: Any])?[name] as? [String: Any] ?? [:]
    }

    func errors(_ value: Any, _ raw: [String: Any], at path: String) -> [String] {
        let schema = resolve(raw)
        if let options = schema["oneOf"] as? [[String: Any]] {
            let matching = options.filter { errors(value, $0, at: path).isEmpty }
            return matching.count == 1 ? [] : ["\(path): matches \(matching.count) of oneOf"]
        }
        if let options = schema["anyOf"] as? [[String: Any]], !options.contains(where: { errors(value, $0, at: path).isEmpty }) {
            return ["\(path): matches none of anyOf"]
        }
        if value is NSNull, let types = schema["type"] as? [String], types.contains("null") { return [] }
        if let allowed = (schema["enum"] as? [Any])?.compactMap({ $0 as? String }), let text = value as? String, !allowed.contains(text) {
            return ["\(path): '\(text)' not in enum"]
        }
        switch (schema["type"] as? String) ?? (schema["type"] as? [String])?.first(where: { $0 != "null" }) {
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path): expected object"] }
            var found: [String] = []
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { found.append("\(path).\(key): required") }
            for (key, child) in object {
                if let property = properties[key] as? [String: Any] {
                    found += errors(child, property, at: "\(path).\(key)")
                } else if let additional = schema["additionalProperties"] as? [String: Any] {
                    found += errors(child, additional, at: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false {
                    found.append("\(path).\(key): not allowed")
                }
            }
            return found
        case "array":
            guard let array = value as? [Any] else { return ["\(path): expected array"] }
            guard let items = schema["items"] as? [String: Any] else { return [] }
            return array.enumerated().flatMap { errors($1, items, at: "\(path)[\($0)]") }
        case "string": return value is String ? [] : ["\(path): expected string"]
        case "integer":
            guard !SchemaValidator.isBool(value), let number = SchemaValidator.number(value), number.rounded() == number else { return ["\(path): expected integer"] }
            return []
        case "number": return !SchemaValidator.isBool(value) && SchemaValidator.number(value) != nil ? [] : ["\(path): expected number"]
        case "boolean": return SchemaValidator.isBool(value) ? [] : ["\(path): expected boolean"]
        default: return []
        }
    }
}
