/// One instruction template: literal text with named placeholders in braces,
/// `{history}`, `{preference}`, `{intention}`, `{candidates}`, `{item}` (T0 / T2).
/// `{{` and `}}` are literal braces.
public struct Template: Sendable, Equatable {
    public enum Segment: Sendable, Equatable {
        case literal(String)
        case placeholder(Placeholder)
    }

    public enum Placeholder: String, Sendable, CaseIterable {
        case history, preference, intention, candidates, item
    }

    /// Other spellings: a reranker's "Query: {query} Document: {document}" reads as it would be written.
    static let aliases: [String: Placeholder] = ["query": .intention, "document": .item]

    public let name: String
    public let text: String
    public let segments: [Segment]

    public var placeholders: Set<Placeholder> {
        Set(segments.compactMap { if case let .placeholder(p) = $0 { return p } else { return nil } })
    }

    /// A template that renders nothing (a placeholder for lookups that cannot fail).
    public static let empty = Template(name: "", text: "", segments: [])

    private init(name: String, text: String, segments: [Segment]) {
        self.name = name
        self.text = text
        self.segments = segments
    }

    public init(name: String, text: String) throws {
        self.name = name
        self.text = text
        var segments: [Segment] = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            if character == "{" {
                if next < text.endIndex, text[next] == "{" { literal.append("{"); index = text.index(after: next); continue }
                guard let close = text[next...].firstIndex(of: "}") else {
                    throw InstructRecError.invalidTemplate(name: name, reason: "unclosed '{'")
                }
                let key = String(text[next..<close])
                // {query} and {document} are the pointwise templates' names for {intention} and {item}.
                guard let placeholder = Placeholder(rawValue: key) ?? Self.aliases[key] else {
                    throw InstructRecError.invalidTemplate(
                        name: name, reason: "unknown placeholder '{\(key)}' (use \(Placeholder.allCases.map { "{\($0.rawValue)}" }.joined(separator: ", ")))")
                }
                if !literal.isEmpty { segments.append(.literal(literal)); literal = "" }
                segments.append(.placeholder(placeholder))
                index = text.index(after: close)
            } else if character == "}" {
                guard next < text.endIndex, text[next] == "}" else {
                    throw InstructRecError.invalidTemplate(name: name, reason: "unmatched '}' (write '}}' for a literal brace)")
                }
                literal.append("}")
                index = text.index(after: next)
            } else {
                literal.append(character)
                index = next
            }
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        self.segments = segments
    }

    /// Substitutes placeholder values; absent values render as "".
    public func render(_ values: [Placeholder: String]) -> String {
        var out = ""
        for segment in segments {
            switch segment {
            case let .literal(text): out += text
            case let .placeholder(p): out += values[p] ?? ""
            }
        }
        return out
    }
}
