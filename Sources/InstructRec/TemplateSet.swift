import Foundation

/// The instruction templates of a deployment, loaded from a human-editable
/// JSON file (config/templates.json by default). Users who fine-tuned on their
/// own prompts point the service at their own file: matching training-time
/// wording exactly is what makes a fine-tune work.
///
/// File shape:
///     { "item_format": "\"{title}\"", "history_separator": ", ", "candidate_separator": ", ",
///       "templates": { "recommend.history": "... {history} ... {candidates} ...", ... } }
///
/// Serving (T3) names encode the InstructRec combination they render:
/// `recommend.{history|preference|history_preference}` for ⟨P, I0, T3⟩,
/// `search.{vague|specific}` for ⟨P0, I, T3⟩, and
/// `search.{history|preference|history_preference}.{vague|specific}` for personalised search.
/// Their candidate-free (T2) counterparts hold the same context without `{candidates}`:
/// `recommend.X` → `generate.X`, `search.Y` → `generate.search.Y` (`candidateFreeName`).
public struct TemplateSet: Sendable {
    public let templates: [String: Template]
    /// how one item is written inside a list; must contain {title}
    public let itemFormat: String
    public let historySeparator: String
    public let candidateSeparator: String
    public let source: String

    public init(contentsOf url: URL) throws {
        let file = url.path
        guard let data = try? Data(contentsOf: url) else {
            throw InstructRecError.templateFile(file: file, reason: "cannot read the templates file")
        }
        try self.init(jsonData: data, source: file)
    }

    public init(jsonData data: Data, source: String) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw InstructRecError.templateFile(file: source, reason: "not a JSON object")
        }
        // A key misspelt or of the wrong type would otherwise fall back to a default in silence, and the model
        // would be prompted in wording it was not trained on.
        let known = ["templates", "item_format", "history_separator", "candidate_separator"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw InstructRecError.templateFile(file: source, reason: "unknown key '\(unknown)' (known: \(known.joined(separator: ", ")))")
        }
        guard let raw = object["templates"] as? [String: Any], !raw.isEmpty else {
            throw InstructRecError.templateFile(file: source, reason: "'templates' must be a non-empty object of name -> text")
        }
        func text(_ key: String, default value: String) throws -> String {
            guard let member = object[key] else { return value }
            guard let text = member as? String else {
                throw InstructRecError.templateFile(file: source, reason: "'\(key)' must be a string")
            }
            return text
        }
        itemFormat = try text("item_format", default: "\"{title}\"")
        guard itemFormat.contains("{title}") else {
            throw InstructRecError.templateFile(file: source, reason: "'item_format' must contain {title}")
        }
        historySeparator = try text("history_separator", default: ", ")
        candidateSeparator = try text("candidate_separator", default: ", ")
        var templates: [String: Template] = [:]
        for (name, value) in raw.sorted(by: { $0.key < $1.key }) {
            // Every template error names the file: several models may each have their own.
            do {
                guard let text = value as? String, !text.isEmpty else {
                    throw InstructRecError.invalidTemplate(name: name, reason: "must be a non-empty string")
                }
                let template = try Template(name: name, text: text)
                try TemplateSet.validate(template)
                templates[name] = template
            } catch let error as InstructRecError {
                throw InstructRecError.templateFile(file: source, reason: error.description)
            }
        }
        self.templates = templates
        self.source = source
    }

    /// A serving name must use exactly the context its name promises; a candidate-free
    /// (`generate.`) counterpart of one the same context, and no candidates.
    static func validate(_ template: Template) throws {
        // `name` picks the rules (a candidate-free template follows its serving counterpart's); errors name the template.
        var name = template.name
        let used = template.placeholders
        let candidateFree = isCandidateFree(name)
        if candidateFree {
            guard let serving = servingName(forCandidateFree: name) else { return }
            if used.contains(.candidates) || used.contains(.item) {
                throw InstructRecError.invalidTemplate(name: name, reason: "must not contain {candidates} or {item} (a candidate-free template scores each candidate against the context alone)")
            }
            name = serving
        }
        guard name.hasPrefix("recommend.") || name.hasPrefix("search.") else { return }
        func require(_ p: Template.Placeholder, _ needed: Bool) throws {
            if needed && !used.contains(p) {
                throw InstructRecError.invalidTemplate(name: template.name, reason: "must contain {\(p.rawValue)}")
            }
            if !needed && used.contains(p) {
                throw InstructRecError.invalidTemplate(name: template.name, reason: "must not contain {\(p.rawValue)} (its name says the request has none)")
            }
        }
        let parts = name.split(separator: ".").map(String.init)
        let preferenceKind = parts.count >= 2 && ["history", "preference", "history_preference"].contains(parts[1]) ? parts[1] : nil
        if !candidateFree { try require(.candidates, true) }
        try require(.item, false)
        try require(.history, preferenceKind == "history" || preferenceKind == "history_preference")
        try require(.preference, preferenceKind == "preference" || preferenceKind == "history_preference")
        try require(.intention, parts[0] == "search")
    }

    /// The template for a request: the named one, or the one the context selects.
    /// Without a name, `form` decides between the list template and its candidate-free counterpart
    /// (when the set has one).
    public func template(named requested: String?, for context: UserContext, form: InstructionForm = .list) throws -> Template {
        if let requested {
            guard let template = templates[requested] else {
                throw InstructRecError.unknownTemplate(name: requested, known: templates.keys.sorted())
            }
            return template
        }
        let name = TemplateSet.name(for: context)
        if form == .candidateFree, let free = templates[TemplateSet.candidateFreeName(for: name)] { return free }
        guard let template = templates[name] else {
            throw InstructRecError.unknownTemplate(name: name, known: templates.keys.sorted())
        }
        return template
    }

    /// Serving templates of this set without a candidate-free counterpart: a model whose instruction_form is
    /// candidate_free is prompted with their list wording instead (`template(named:for:form:)`), which it may
    /// not have been trained on.
    public var servingTemplatesWithoutCandidateFree: [String] {
        templates.keys.filter { ($0.hasPrefix("recommend.") || $0.hasPrefix("search.")) && templates[TemplateSet.candidateFreeName(for: $0)] == nil }
            .sorted()
    }

    /// The serving template name for a context's ⟨P, I⟩ combination.
    public static func name(for context: UserContext) -> String {
        let hasHistory = !context.history.isEmpty
        let hasPreference = !(context.preference ?? "").isEmpty
        let preference: String? = hasHistory && hasPreference ? "history_preference"
            : hasHistory ? "history" : hasPreference ? "preference" : nil
        guard let intention = context.intention, !intention.isEmpty else {
            return "recommend.\(preference ?? "history")"
        }
        let kind = context.intentKind.rawValue
        return preference.map { "search.\($0).\(kind)" } ?? "search.\(kind)"
    }

    /// Whether a template name is a candidate-free one (`generate.`): its instruction holds the context alone.
    public static func isCandidateFree(_ name: String) -> Bool { name.hasPrefix("generate.") }

    /// The candidate-free (T2) counterpart of a serving name: `recommend.X` → `generate.X`,
    /// `search.Y` → `generate.search.Y`.
    public static func candidateFreeName(for serving: String) -> String {
        if serving.hasPrefix("recommend.") { return "generate." + serving.dropFirst("recommend.".count) }
        return "generate." + serving
    }

    /// The serving name a candidate-free name stands for, or nil when it names no ⟨P, I⟩ combination.
    static func servingName(forCandidateFree name: String) -> String? {
        guard isCandidateFree(name) else { return nil }
        let rest = String(name.dropFirst("generate.".count))
        if rest.hasPrefix("search.") { return rest }
        return ["history", "preference", "history_preference"].contains(rest) ? "recommend." + rest : nil
    }

    /// One item as written in a list.
    public func format(_ title: String) -> String {
        itemFormat.replacingOccurrences(of: "{title}", with: title)
    }

    /// Renders a template the one way both serving and training-data generation
    /// use, so what a model is trained on is exactly what it is served.
    public func render(_ template: Template, history: [String] = [], preference: String? = nil, intention: String? = nil,
                       candidates: [String] = [], item: String? = nil) -> String {
        render(template, formattedHistory: history.map(format), preference: preference, intention: intention,
               formattedCandidates: candidates.map(format), formattedItem: item.map(format))
    }

    /// `render` with the titles already passed through `format`: for callers that render
    /// the same titles many times (InstructionBuilder's fitting), so each is formatted once.
    public func render(_ template: Template, formattedHistory: [String], preference: String? = nil, intention: String? = nil,
                       formattedCandidates: [String], formattedItem: String? = nil) -> String {
        var values: [Template.Placeholder: String] = [:]
        values[.history] = formattedHistory.joined(separator: historySeparator)
        values[.preference] = preference ?? ""
        values[.intention] = intention ?? ""
        values[.candidates] = formattedCandidates.joined(separator: candidateSeparator)
        values[.item] = formattedItem ?? ""
        return template.render(values)
    }

    /// The text before and after a template's first `{item}`, everything else rendered as `render` does;
    /// with `formatsItem` the item_format's text around `{title}` is included on either side. A pointwise
    /// input is `before + document + after`; long documents are windowed between the two.
    public func renderAroundItem(_ template: Template, formattedHistory: [String], preference: String? = nil,
                                 intention: String? = nil, formatsItem: Bool) -> (before: String, after: String) {
        var values: [Template.Placeholder: String] = [:]
        values[.history] = formattedHistory.joined(separator: historySeparator)
        values[.preference] = preference ?? ""
        values[.intention] = intention ?? ""
        values[.candidates] = ""
        var before = "", after = "", seenItem = false
        for segment in template.segments {
            let text: String
            switch segment {
            case let .literal(literal): text = literal
            case .placeholder(.item) where !seenItem:
                seenItem = true
                if formatsItem, let range = itemFormat.range(of: "{title}") {
                    before += itemFormat[..<range.lowerBound]
                    after += itemFormat[range.upperBound...]
                }
                continue
            case let .placeholder(p): text = values[p] ?? ""
            }
            if seenItem { after += text } else { before += text }
        }
        return (before, after)
    }
}
