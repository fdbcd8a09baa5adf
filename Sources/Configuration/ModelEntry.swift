import Foundation

/// One model a replica serves by name: `--model NAME=SOURCE`, an entry of the config file's `models`
/// list, or `INSTRUCTREC_MODELS=NAME=SOURCE,...`. The first model of the list is the default: requests
/// that name none go to it, and it alone takes the top-level model-bound settings (`prior_weight`,
/// `max_input_tokens`, ...). Every other model takes its model-bound settings from its own directory
/// (`instructrec.json`, `templates.json`) and from the `settings` object of its config-file entry, never
/// from the top level, so a setting meant for one model never silently reaches another.
public struct ModelEntry: Sendable, Equatable {
    public var name: String
    /// a model directory (a hub id, once sources can be fetched)
    public var source: String
    /// settings for this model alone: the `settings` object of its config-file entry, key -> text
    public var settings: [String: String?]

    public init(name: String, source: String, settings: [String: String?] = [:]) {
        self.name = name
        self.source = source
        self.settings = settings
    }

    /// The name of the model a single `--model SOURCE` (or `model`) serves.
    public static let defaultName = "default"

    /// Keys an entry's `settings` may set: the model-bound ones, and the files and engine settings of a model.
    public static let settingKeys = ServiceConfiguration.modelBoundKeys + ["tokenizer", "templates", "prior_catalog", "weights_dtype"]

    /// A model name: letters, digits, '.', '_', '-' and ':' (so "rerank-v3.5" and "org:name" are names; a
    /// path is not), at most 128 characters.
    public static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 128
            && text.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-:".unicodeScalars.contains($0) }
            && text.unicodeScalars.allSatisfy(\.isASCII)
    }

    /// "NAME=SOURCE" (a name before the first '='), or nil for a bare source. An existing path is always a
    /// bare source, whatever it holds: a directory named "a=b" stays a directory.
    public static func named(_ text: String) -> ModelEntry? {
        guard !FileManager.default.fileExists(atPath: text), let equals = text.firstIndex(of: "=") else { return nil }
        let name = String(text[..<equals]), source = String(text[text.index(after: equals)...])
        guard isName(name), !source.isEmpty else { return nil }
        return ModelEntry(name: name, source: source)
    }

    /// The text form of a list, as flags and `INSTRUCTREC_MODELS` write it: "NAME=SOURCE,NAME=SOURCE";
    /// a bare SOURCE is the model named "default".
    static func parseList(_ text: String) throws -> [ModelEntry] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !parts.isEmpty else { throw ServiceConfiguration.Invalid(setting: "models", reason: "must name at least one model") }
        return parts.map { named($0) ?? ModelEntry(name: defaultName, source: $0) }
    }

    static func listText(_ entries: [ModelEntry]) -> String {
        entries.map { "\($0.name)=\($0.source)" }.joined(separator: ",")
    }

    /// The config file's `models`: a list of "NAME=SOURCE" strings or {"name", "source", "settings"} objects.
    /// Returns the list as text (what `apply` reads) and each named entry's settings.
    static func read(_ value: JSONValue, file: String) throws -> (text: String, settings: [String: [String: String?]]) {
        func invalid(_ reason: String) -> ServiceConfiguration.Invalid {
            ServiceConfiguration.Invalid(setting: "models", reason: reason, source: file)
        }
        guard case let .array(elements) = value else {
            throw invalid("must be a list of \"NAME=SOURCE\" strings or {\"name\": ..., \"source\": ..., \"settings\": {...}} objects")
        }
        var entries: [ModelEntry] = []
        var settings: [String: [String: String?]] = [:]
        for (index, element) in elements.enumerated() {
            switch element {
            case let .string(text):
                guard let entry = named(text) else { throw invalid("entry \(index): '\(text)' is not NAME=SOURCE") }
                entries.append(entry)
            case let .object(members):
                let fields = Dictionary(members, uniquingKeysWith: { $1 })
                for key in fields.keys where !["name", "source", "settings"].contains(key) {
                    throw invalid("entry \(index): unknown key '\(key)' (an entry has name, source and settings)")
                }
                guard case let .string(name)? = fields["name"], isName(name) else {
                    throw invalid("entry \(index): \"name\" must be a model name (letters, digits, . _ - :)")
                }
                guard case let .string(source)? = fields["source"], !source.isEmpty else {
                    throw invalid("entry \(index) (\(name)): \"source\" must be a model directory")
                }
                if let values = fields["settings"] {
                    guard case let .object(pairs) = values else { throw invalid("entry \(index) (\(name)): \"settings\" must be an object") }
                    var own: [String: String?] = [:]
                    for (key, value) in pairs {
                        guard settingKeys.contains(key) else {
                            throw invalid("entry \(index) (\(name)): '\(key)' cannot be set per model (these can: \(settingKeys.joined(separator: ", ")))")
                        }
                        own[key] = ServiceConfiguration.settingText(value)
                    }
                    settings[name] = own
                }
                entries.append(ModelEntry(name: name, source: source))
            default:
                throw invalid("entry \(index) must be a \"NAME=SOURCE\" string or an object")
            }
        }
        return (listText(entries), settings)
    }
}
