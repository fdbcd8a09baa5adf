import InstructRec

/// The response of /recommend, /search and our /rerank.
struct RankingResponse: Encodable {
    struct Result: Encodable {
        var index: Int
        var id: String
        var score: Double
        var relevance_score: Double
        /// /recommend and /search
        var title: String?
        /// /rerank with return_documents
        var document: Document?
    }
    struct Document: Encodable { var text: String }
    struct Usage: Encodable {
        var instruction_tokens: Int
        var candidate_tokens: Int
        var history_items_used: Int
        var history_items_dropped: Int
        var history_items_trimmed: Int
        var history_titles_shortened: Int
        var groups: Int
        /// pointwise scorers: encoder inputs (document windows) scored, and documents scored over more than one
        var windows: Int?
        var documents_windowed: Int?
        /// candidates whose text was cut before scoring
        var documents_truncated: Int
        /// candidates left out because the history holds them (exclude_history)
        var candidates_excluded: Int
    }

    var id: String
    var template: String
    var scoring: String
    /// α, with calibrated scoring
    var prior_weight: Double?
    var results: [Result]
    var usage: Usage
    var timing_ms: RankOutcome.Timing
    var instructions: [String]?

    /// What each result echoes of its candidate: the title (/recommend, /search), the document
    /// (/rerank with return_documents), or nothing.
    enum Echo { case title, document, nothing }

    init(_ outcome: RankOutcome, query: RankQuery, returnInstruction: Bool, echo: Echo) {
        id = outcome.requestID
        template = outcome.plan.template
        scoring = outcome.scorer.isPointwise ? outcome.scorer.rawValue : outcome.scoring.mode.rawValue
        // the Float α as written (0.3, not 0.30000001192092896)
        prior_weight = outcome.scoring.mode == .calibrated ? Double("\(outcome.scoring.priorWeight)") : nil
        results = outcome.ranked.map { ranked in
            let text = query.candidates[ranked.index].title
            return Result(index: ranked.index, id: ranked.id, score: Double(ranked.score), relevance_score: Double(ranked.relevance),
                          title: echo == .title ? text : nil, document: echo == .document ? Document(text: text) : nil)
        }
        let plan = outcome.plan
        usage = Usage(instruction_tokens: outcome.usage.instructionTokens, candidate_tokens: outcome.usage.candidateTokens,
                      history_items_used: plan.historyItemsUsed, history_items_dropped: plan.historyItemsDropped,
                      history_items_trimmed: plan.historyItemsTrimmed, history_titles_shortened: plan.historyTitlesShortened,
                      groups: plan.groups.count,
                      windows: outcome.scorer.isPointwise ? outcome.usage.windows : nil,
                      documents_windowed: outcome.scorer.isPointwise ? outcome.usage.documentsWindowed : nil,
                      documents_truncated: outcome.usage.documentsTruncated, candidates_excluded: outcome.usage.candidatesExcluded)
        timing_ms = outcome.timing.rounded
        instructions = returnInstruction ? plan.groups.map(\.text) : nil
    }

    /// Our error envelope: {"error": {"code", "message", "field"?, "offset"?}}.
    struct Failure: Encodable {
        struct Detail: Encodable { var code: String; var message: String; var field: String?; var offset: Int? }
        var error: Detail
        init(_ e: ServiceError) { error = Detail(code: e.code, message: e.message, field: e.field, offset: e.offset) }
    }

    static func components(_ context: SchemaContext) -> [String: Schema.Node] {
        let result = Schema.object("One candidate, best first", [
            "index": Schema.integer("Position of the candidate in the request", minimum: 0),
            "id": Schema.string("The candidate's id (its position when it was given as a plain string)"),
            "score": Schema.number("What the candidate ranks by, higher is better: for a pointwise model, the log-odds of yes (yes/no, MonoT5) or the raw logit (RankT5), the best of the document's windows; with scoring sum or mean, the log-likelihood of the title (+ </s>) given the instruction (sum or per-token mean of token log-probabilities); with calibrated, that minus prior_weight times the title's log-likelihood under the same template with an empty context"),
            "relevance_score": Schema.number("A pointwise yes/no model (MonoT5, yes_no): P(yes), 0..1; RankT5: the raw logit. Likelihood models, 0..1: logistic (default): σ(scale·score + bias) with the model's scale and bias for this kind of context (a history alone, or a query or preference), a function of this (context, candidate) pair alone: the other candidates, their number and order do not move it. Fitted so that 0.5 is even odds of relevance, the threshold to start from; softmax: the softmax of the scores over this request's candidates"),
            "title": Schema.string("The candidate's title (/recommend, /search)"),
            "document": Schema.object("The document (/rerank with return_documents)", ["text": Schema.string("The document text")],
                                      required: ["text"]),
        ], required: ["index", "id", "score", "relevance_score"])
        let count = { (d: String) in Schema.integer(d, minimum: 0) }
        let ms = { (d: String) in Schema.number(d) }
        let ranking = Schema.object("Candidates sorted by score, best first (ties in input order), cut to top_n", [
            "id": Schema.string("Request id (also the X-Request-ID header)"),
            "template": Schema.string("The template the instruction was built from"),
            "scoring": Schema.string("How the scores were computed: a likelihood model's scoring mode, or a pointwise model's scorer (monot5, rankt5, yes_no)",
                                     enumeration: Scoring.Mode.allCases.map(\.rawValue) + ScorerKind.allCases.filter(\.isPointwise).map(\.rawValue)),
            "prior_weight": Schema.number("α of calibrated scoring (only with scoring calibrated): the request's, or the model's for this kind of context (prior_weight for a history alone, query_prior_weight with a query or preference); never anything about the other candidates"),
            "results": Schema.array(Schema.ref("Result"), "Ranked candidates"),
            "usage": Schema.object("Token and history accounting", [
                "instruction_tokens": count("Encoder tokens over all instruction groups"),
                "candidate_tokens": count("Decoder tokens over all candidates (</s> included)"),
                "history_items_used": count("History items in the instruction"),
                "history_items_dropped": count("History items left out (trimmed by max_history_items, or dropped to fit max_input_tokens)"),
                "history_items_trimmed": count("Oldest history items beyond the model's max_history_items, trimmed before fitting"),
                "history_titles_shortened": count("History titles shortened to max_history_title_tokens"),
                "groups": Schema.integer("Encoder inputs: instructions the candidates were split into (1 normally); for a pointwise model one per document window", minimum: 1),
                "windows": count("Pointwise models: document windows scored (a document longer than the model's input is scored over overlapping windows, keeping the best)"),
                "documents_windowed": count("Pointwise models: documents scored over more than one window"),
                "candidates_excluded": count("Candidates left out unscored because the history holds them (exclude_history: the same id, or without ids the same title after HTML entities, case and white space); top_n counts after them"),
                "documents_truncated": count("Candidates whose text was cut before scoring: likelihood titles longer than max_target_tokens (or max_tokens_per_doc); pointwise documents cut by max_tokens_per_doc, truncate or max_chunks_per_doc"),
            ], required: ["documents_truncated", "candidates_excluded", "instruction_tokens", "candidate_tokens", "history_items_used", "history_items_dropped",
                          "history_items_trimmed", "history_titles_shortened", "groups"]),
            "timing_ms": Schema.object("Milliseconds per stage", [
                "queue": ms("Waiting for an inference worker"), "tokenize": ms("Tokenization and instruction fitting"),
                "encode": ms("Encoder"), "decode": ms("Decoder over all candidates"), "total": ms("Whole request"),
            ], required: ["queue", "tokenize", "encode", "decode", "total"]),
            "instructions": Schema.array(Schema.string("An instruction"), "The instruction text per group (return_instruction)"),
        ], required: ["id", "template", "scoring", "results", "usage", "timing_ms"])
        let error = Schema.object("An error", [
            "error": Schema.object("What was wrong", [
                "code": Schema.string("Machine-readable code, e.g. invalid_field, malformed_json, overloaded"),
                "message": Schema.string("What was wrong, naming the field"),
                "field": Schema.string("JSON path of the offending field, e.g. $.candidates[2].title"),
                "offset": Schema.integer("Byte offset of a JSON syntax error", minimum: 0),
            ], required: ["code", "message"]),
        ], required: ["error"])
        return ["Result": result, "Ranking": ranking, "Error": error]
    }
}

/// The fields and rules /recommend, /search and /rerank share.
enum OurFields {
    static func common(_ context: SchemaContext, prefix: String) -> [String: Schema.Node] {
        [
            "top_n": Schema.integer("Return the best N results (all when N exceeds the candidates)", minimum: 1, maximum: FieldRules.maxCount),
            "model": Schema.string("The model to answer: a name GET /v1/models lists, or an alias; absent: the default model. With one model served, any value is accepted. This document states the default model's constraints (templates, scoring fields); another model applies its own and names any field it refuses (422)"),
            "scoring": Schema.string("sum: the InstructRec ranking score; mean: length-normalised; calibrated: sum minus prior_weight times the title prior. Default: the model's (see /info → settings.scoring)",
                                     enumeration: Scoring.Mode.allCases.map(\.rawValue)),
            "prior_weight": Schema.number("α of calibrated scoring, \(Scoring.priorWeightRange.lowerBound)..\(Scoring.priorWeightRange.upperBound); default: the model's (settings.prior_weight)",
                                          minimum: Double(Scoring.priorWeightRange.lowerBound), maximum: Double(Scoring.priorWeightRange.upperBound)),
            "relevance": Schema.string("What relevance_score means: logistic (default; comparable across requests) or softmax (over this request's candidates)",
                                       enumeration: Relevance.Mode.allCases.map(\.rawValue)),
            "return_instruction": Schema.boolean("Include the instruction text(s) in the response"),
            "template": Schema.string("A template name from the deployment's template set (see the template's placeholders for the fields it needs); default: picked from the fields present",
                                      enumeration: templates(context, prefix: prefix)),
            "timeout_ms": Schema.integer("Deadline for this request in milliseconds (capped by request_timeout_ms); 504 when exceeded",
                                         minimum: FieldRules.timeoutRange.lowerBound, maximum: FieldRules.timeoutRange.upperBound),
            "history": Schema.array(item(context, key: "title", what: "history item"),
                                    "Items the user interacted with, oldest first; only the newest max_history_items are used"),
            "preference": Schema.text("The user's own words about their taste (P2)", context),
            "exclude_history": Schema.boolean("Leave out candidates the history already holds (the same id; without ids, the same title after HTML entities, case and white space), against the whole history as sent; usage.candidates_excluded counts them and top_n applies after. Default: the model's exclude_history (see /info → settings)"),
        ]
    }

    static func templates(_ context: SchemaContext, prefix: String) -> [String] {
        templates(context.limits.templates, prefix: prefix)
    }

    /// The template names an endpoint accepts: its serving templates (`recommend.` or `search.`) and
    /// their candidate-free counterparts (`generate.X` or `generate.search.Y`).
    static func templates(_ names: [String], prefix: String) -> [String] {
        names.filter { name in
            if name.hasPrefix(prefix) { return true }
            if prefix == "search." { return name.hasPrefix("generate.search.") }
            return ["generate.history", "generate.preference", "generate.history_preference"].contains(name)
        }.sorted()
    }

    static func item(_ context: SchemaContext, key: String, what: String) -> Schema.Node {
        Schema.oneOf([
            Schema.text("The \(what)'s \(key); its id is its position", context),
            Schema.object("A \(what) with an id", [
                "id": Schema.oneOf([Schema.string("Id", minLength: 1), Schema.integer("Id", minimum: -999_999_999_999_999, maximum: 999_999_999_999_999)],
                                   "Echoed in the result"),
                key: Schema.text("The \(what)'s \(key)", context),
            ], required: [key]),
        ])
    }

    static func candidates(_ context: SchemaContext, key: String, what: String, description: String) -> Schema.Node {
        Schema.array(item(context, key: key, what: what), description + " (ids are the client's labels, echoed as sent, and may repeat: index, the position, tells results apart)", minItems: 1, maxItems: context.limits.maxCandidates)
    }

    /// A template that names {history} or {preference} needs that field: if/then per template.
    static func templateRequirements(_ context: SchemaContext, prefix: String) -> [Schema.Node] {
        let names = templates(context, prefix: prefix)
        var rules: [Schema.Node] = []
        let history = names.filter { $0.contains("history") }
        if !history.isEmpty {
            rules.append(["if": ["properties": ["template": ["enum": history]], "required": ["template"]],
                          "then": ["properties": ["history": ["type": "array", "minItems": 1]], "required": ["history"]]])
        }
        let preference = names.filter { $0.contains("preference") }
        if !preference.isEmpty {
            rules.append(["if": ["properties": ["template": ["enum": preference]], "required": ["template"]],
                          "then": ["properties": ["preference": ["type": "string"]], "required": ["preference"]]])
        }
        return rules
    }

    static func template(_ name: String?, prefix: String, _ limits: RequestLimits) throws -> String? {
        guard let name else { return nil }
        let allowed = templates(limits.templates, prefix: prefix)
        guard allowed.contains(name) else {
            throw ServiceError(status: 422, code: "unknown_template",
                               message: "$.template: unknown template '\(name)' for this endpoint; known: \(allowed.joined(separator: ", "))",
                               field: "$.template")
        }
        return name
    }
}
