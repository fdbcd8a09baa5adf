import InstructRec
import Foundation

/// JSON Schema 2020-12 fragments (as OpenAPI 3.1 uses them), each with a description.
enum Schema {
    typealias Node = [String: Any]

    static func string(_ description: String, minLength: Int? = nil, maxLength: Int? = nil, pattern: String? = nil,
                       enumeration: [String]? = nil) -> Node {
        var node: Node = ["type": "string", "description": description]
        if let minLength { node["minLength"] = minLength }
        if let maxLength { node["maxLength"] = maxLength }
        if let pattern { node["pattern"] = pattern }
        if let enumeration { node["enum"] = enumeration }
        return node
    }

    static func integer(_ description: String, minimum: Int? = nil, maximum: Int? = nil) -> Node {
        var node: Node = ["type": "integer", "description": description]
        if let minimum { node["minimum"] = minimum }
        if let maximum { node["maximum"] = maximum }
        return node
    }

    static func number(_ description: String) -> Node { ["type": "number", "description": description] }

    static func number(_ description: String, minimum: Double, maximum: Double) -> Node {
        ["type": "number", "description": description, "minimum": minimum, "maximum": maximum]
    }
    static func boolean(_ description: String) -> Node { ["type": "boolean", "description": description] }

    static func array(_ items: Node, _ description: String, minItems: Int? = nil, maxItems: Int? = nil) -> Node {
        var node: Node = ["type": "array", "items": items, "description": description]
        if let minItems { node["minItems"] = minItems }
        if let maxItems { node["maxItems"] = maxItems }
        return node
    }

    /// An object. `additional: false` marks a request object (its decoder refuses unknown
    /// members): there an optional member may also be `null`, which the decoder reads as absent.
    static func object(_ description: String, _ properties: [String: Node], required: [String] = [], additional: Bool = false) -> Node {
        var members = properties
        if !additional {
            for (key, node) in properties where !required.contains(key) { members[key] = nullable(node) }
        }
        return ["type": "object", "description": description, "properties": members, "required": required.sorted(),
                "additionalProperties": additional]
    }

    static func nullable(_ node: Node) -> Node {
        var node = node
        if let type = node["type"] as? String {
            node["type"] = [type, "null"]
            if let values = node["enum"] as? [Any] { node["enum"] = values + [NSNull()] }
            return node
        }
        let description = node.removeValue(forKey: "description")
        var wrapped: Node = ["anyOf": [node, ["type": "null"]]]
        if let description { wrapped["description"] = description }
        return wrapped
    }

    static func ref(_ name: String) -> Node { ["$ref": "#/components/schemas/\(name)"] }
    static func oneOf(_ options: [Node], _ description: String? = nil) -> Node {
        var node: Node = ["oneOf": options]
        if let description { node["description"] = description }
        return node
    }

    /// A human text field: FieldRules.text's rule (a non-space character, at most max_text_chars code points).
    static func text(_ description: String, _ context: SchemaContext) -> Node {
        string(description, minLength: 1, maxLength: context.limits.maxTextCharacters, pattern: "\\S")
    }
}

/// What the schemas depend on at run time: the configured limits and templates.
struct SchemaContext {
    var limits: RequestLimits
    /// the loaded model's scorer: what scores and relevance_score mean
    var scorer: ScorerKind = .likelihood
}

/// A shape's schemas: named components and how its request, response and errors refer to them.
struct ShapeSchemas {
    var summary: String
    var description: String
    var components: [String: Schema.Node]
    var request: Schema.Node
    var response: Schema.Node
    var error: Schema.Node
}
