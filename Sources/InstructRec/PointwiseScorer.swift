import Tokenizer

/// How a model turns a request's candidates into scores: `instructrec.json`'s `scorer`.
public enum ScorerKind: String, Sendable, CaseIterable {
    /// InstructRec's: the log-likelihood of each candidate's title given the instruction (`Scoring`)
    case likelihood
    /// MonoT5 (Nogueira et al. 2020): `Query: {q} Document: {d} Relevant:`, P(true) over {true, false}
    case monot5
    /// RankT5 encoder-decoder (Zhuang et al. 2023): `Query: {q} Document: {d}`, the raw logit of <extra_id_10>
    case rankt5
    /// a yes/no question (Flan-T5 zero-shot, InstructRec's T0 `pointwise.*` templates): P(yes) over {yes, no}
    case yesNo = "yes_no"

    public var isPointwise: Bool { self != .likelihood }
}

/// What a pointwise model reads at its first decoder step, and how that becomes a score.
public struct PointwiseReadout: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// two ids, yes then no: score = logit(yes) − logit(no), the log-odds; σ(score) is exactly the
        /// softmax over the two logits, P(yes) (MonoT5's relevance)
        case yesNo
        /// one id: score = its raw logit (RankT5; not a probability)
        case logit
    }

    public var kind: Kind
    /// vocabulary ids: [yes, no] or [token]
    public var tokens: [Int32]

    public init(kind: Kind, tokens: [Int32]) {
        self.kind = kind
        self.tokens = tokens
    }

    /// The candidate's score from the logits of `tokens`, in their order.
    public func score(_ logits: [Float]) -> Float {
        switch kind {
        case .yesNo: return ScoreReduction.yesNoLogOdds(yes: logits[0], no: logits[1])
        case .logit: return logits[0]
        }
    }

    /// What relevance_score means by default: P(yes) for a yes/no readout (σ of the log-odds,
    /// no fitted scale), the raw logit for RankT5.
    public var defaultRelevance: Relevance {
        switch kind {
        case .yesNo: return Relevance(mode: .logistic, scale: 1, bias: 0)
        case .logit: return Relevance(mode: .raw)
        }
    }
}

/// A pointwise model's set-up: the readout and the template of a query against one document.
public struct PointwiseScorer: Sendable {
    public let kind: ScorerKind
    public let readout: PointwiseReadout
    /// the input for a query and one document (`{intention}`/`{query}` and `{item}`/`{document}`)
    public let queryTemplate: Template
    /// whether `{item}` in `queryTemplate` is written with the template set's item_format (a
    /// template taken from the set by name) or as the document's bare text (built-in and literal ones)
    public let formatsItem: Bool

    /// MonoT5's and RankT5's own input texts.
    public static let monoT5Template = "Query: {query} Document: {document} Relevant:"
    public static let rankT5Template = "Query: {query} Document: {document}"
    /// the vocabulary pieces each reads
    public static let monoT5Tokens = ("▁true", "▁false")
    public static let rankT5Token = "<extra_id_10>"

    /// A configuration key at fault and why (the service names the file the key came from).
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let key: String
        public let reason: String
        public var description: String { "\(key): \(reason)" }
    }

    public init(kind: ScorerKind, readout: PointwiseReadout, queryTemplate: Template, formatsItem: Bool) {
        self.kind = kind
        self.readout = readout
        self.queryTemplate = queryTemplate
        self.formatsItem = formatsItem
    }

    /// The set-up for a pointwise `kind` (nil for `likelihood`), its tokens resolved with the model's tokenizer.
    /// - `yesNoTemplate`: a template name in `templates`, or a template text with `{query}` and `{document}`
    ///   (or `{intention}` and `{item}`); `yesToken`/`noToken`: a vocabulary piece as spelled there
    ///   ("▁yes") or a text the tokenizer makes exactly one piece of ("yes").
    /// Throws `Invalid` naming the key: a template without a document, a token that is no single piece,
    /// or one outside the model's vocabulary.
    public static func make(kind: ScorerKind, yesNoTemplate: String?, yesToken: String?, noToken: String?,
                            templates: TemplateSet, tokenizer: Tokenizer, vocabularySize: Int) throws -> PointwiseScorer? {
        func token(_ spelled: String, key: String) throws -> Int32 {
            let id: Int32
            if let piece = tokenizer.id(ofPiece: spelled) {
                id = piece
            } else {
                let ids = tokenizer.encode(spelled, addEOS: false)
                guard ids.count == 1 else {
                    throw Invalid(key: key, reason: "'\(spelled)' is not a single vocabulary piece (the tokenizer makes \(ids.count) pieces of it)")
                }
                id = ids[0]
            }
            guard id >= 0, Int(id) < vocabularySize else {
                throw Invalid(key: key, reason: "'\(spelled)' is id \(id), outside the model's vocabulary of \(vocabularySize)")
            }
            return id
        }
        func literal(_ text: String, key: String) throws -> Template {
            let template: Template
            do { template = try Template(name: key, text: text) } catch {
                throw Invalid(key: key, reason: "\(error)")
            }
            guard template.placeholders.contains(.item) else {
                throw Invalid(key: key, reason: "must contain {document} (or {item})")
            }
            guard template.placeholders.isSubset(of: [.intention, .item]) else {
                throw Invalid(key: key, reason: "may use only {query} and {document}")
            }
            return template
        }
        switch kind {
        case .likelihood:
            return nil
        case .monot5:
            let yes = try token(monoT5Tokens.0, key: "scorer"), no = try token(monoT5Tokens.1, key: "scorer")
            return PointwiseScorer(kind: kind, readout: PointwiseReadout(kind: .yesNo, tokens: [yes, no]),
                                   queryTemplate: try literal(monoT5Template, key: "scorer"), formatsItem: false)
        case .rankt5:
            return PointwiseScorer(kind: kind, readout: PointwiseReadout(kind: .logit, tokens: [try token(rankT5Token, key: "scorer")]),
                                   queryTemplate: try literal(rankT5Template, key: "scorer"), formatsItem: false)
        case .yesNo:
            let yes = try token(yesToken ?? "yes", key: "yes_token"), no = try token(noToken ?? "no", key: "no_token")
            guard yes != no else { throw Invalid(key: "no_token", reason: "is the same piece as yes_token") }
            let spelled = yesNoTemplate ?? "pointwise.query"
            let template: Template, formats: Bool
            if let named = templates.templates[spelled] {
                guard named.placeholders.contains(.item), named.placeholders.isSubset(of: [.intention, .item]) else {
                    throw Invalid(key: "yes_no_template", reason: "template '\(spelled)' must use {item} and may use {intention}, nothing else")
                }
                (template, formats) = (named, true)
            } else if spelled.contains("{") {
                (template, formats) = (try literal(spelled, key: "yes_no_template"), false)
            } else {
                throw Invalid(key: "yes_no_template", reason: "'\(spelled)' is neither a template in \(templates.source) nor a template text with {document}")
            }
            return PointwiseScorer(kind: kind, readout: PointwiseReadout(kind: .yesNo, tokens: [yes, no]),
                                   queryTemplate: template, formatsItem: formats)
        }
    }
}
