import Configuration
import InstructRec

/// POST /rerank with `texts`: Hugging Face text-embeddings-inference's rerank
/// API. Ranked with the ⟨P0, I, T3⟩ search instruction (template search.specific).
struct TEIShape: APIShape {
    let name = "tei"
    let path = "/rerank"
    /// TEI serves one model per deployment: its body has no `model`, so its requests go to the default.
    let routesByModel = false
    var requestFields: [String] { Request.CodingKeys.allCases.map(\.rawValue) }

    struct Request: Decodable, Sendable {
        var query: String
        var texts: [String]
        /// false: `score` is the relevance (0..1, see `Relevance`; σ of a RankT5 logit); true: the score itself
        var raw_scores: Bool?
        var return_text: Bool?
        /// true: a text longer than a pointwise model's input is cut to one window (from the end named by
        /// truncation_direction) instead of being scored over windows; likelihood titles are always cut
        /// to max_target_tokens (with truncate, truncation_direction chooses which end they keep)
        var truncate: Bool?
        var truncation_direction: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case query, texts, raw_scores, return_text, truncate, truncation_direction }
    }

    struct Rank: Encodable { var index: Int; var score: Double; var text: String? }

    /// TEI's error body.
    struct Failure: Encodable { var error: String; var error_type: String }

    func claims(_ body: JSONValue) -> Bool { body["texts"] != nil }

    func query(_ r: Request, limits: RequestLimits) throws -> RankQuery {
        if let direction = r.truncation_direction, direction != "Left", direction != "Right" {
            throw ServiceError.invalid("$.truncation_direction", "must be \"Left\" or \"Right\"")
        }
        let texts = try r.texts.enumerated().map { index, text in
            Item(id: String(index), title: try FieldRules.text(text, "$.texts[\(index)]", limits))
        }
        var query = RankQuery(context: UserContext(intention: try FieldRules.text(r.query, "$.query", limits)),
                              candidates: try FieldRules.candidates(texts, "$.texts", limits))
        // TEI: truncation_direction applies when truncate is true.
        if r.truncate == true { query.truncation = r.truncation_direction == "Left" ? .keepEnd : .keepStart }
        return query
    }

    func response(_ r: Request, _ query: RankQuery, _ outcome: RankOutcome) -> [Rank] {
        let raw = r.raw_scores ?? false, text = r.return_text ?? false
        return outcome.ranked.map {
            // TEI's scores without raw_scores are σ of the model's logit: a raw relevance (RankT5) gets it here.
            let relevance = outcome.relevance == .raw ? Relevance.sigmoid(Double($0.score)) : Double($0.relevance)
            return Rank(index: $0.index, score: raw ? Double($0.score) : relevance, text: text ? query.candidates[$0.index].title : nil)
        }
    }

    func errorBody(_ error: ServiceError) -> ErrorEnvelope {
        let type: String
        switch error.status {
        case 401, 403: type = "Unauthorized"
        case 503, 429: type = "Overloaded"
        case 500..<600: type = "Backend"
        default: type = "Validation"
        }
        return ErrorEnvelope(Failure(error: error.message, error_type: type))
    }

    func schemas(_ context: SchemaContext) -> ShapeSchemas {
        let request = Schema.object("TEI rerank request", [
            "query": Schema.text("The search query (the intention of the search instruction)", context),
            "texts": Schema.array(Schema.text("A text", context), "Texts to rerank", minItems: 1, maxItems: context.limits.maxCandidates),
            "raw_scores": Schema.boolean("false (default): score is the relevance, 0..1 (σ of the calibrated score with the model's fitted scale; comparable across requests); true: the raw score (the model's default scoring)"),
            "return_text": Schema.boolean("Include each text in its result"),
            "truncate": Schema.boolean("Pointwise models: true cuts a text longer than the model's input to one window (see truncation_direction); false (default) scores it over overlapping windows and keeps the best (TEI would refuse it). Likelihood models score titles on at most max_target_tokens tokens either way. With true, a query too long for any input keeps the tokens that fit (its start, or its end with truncation_direction Left) instead of being refused; the X-Query-Tokens-Dropped header counts the rest"),
            "truncation_direction": Schema.string("Which end a cut keeps: Right (default) cuts the end, keeping the start; Left cuts the start", enumeration: ["Left", "Right"]),
        ], required: ["query", "texts"])
        let response = Schema.array(Schema.object("One text, best first", [
            "index": Schema.integer("Position of the text in the request", minimum: 0),
            "score": Schema.number("Relevance (0..1: P(yes) for a yes/no model such as MonoT5, σ(logit) for RankT5), or with raw_scores the score itself (log-likelihood; log-odds of yes; RankT5's logit)"),
            "text": Schema.string("The text (return_text)"),
        ], required: ["index", "score"], additional: true), "Texts sorted by score, best first")
        let error = Schema.object("TEI error", [
            "error": Schema.string("What was wrong, naming the field"),
            "error_type": Schema.string("Validation, Overloaded, Unauthorized or Backend"),
        ], required: ["error", "error_type"], additional: true)
        return ShapeSchemas(summary: "Rerank in TEI's shape (a body with texts)",
                            description: "Drop-in for text-embeddings-inference's /rerank. Ranks with the search.specific instruction.",
                            components: ["TEIRerankRequest": request, "TEIRerankResponse": response, "TEIError": error],
                            request: Schema.ref("TEIRerankRequest"), response: Schema.ref("TEIRerankResponse"), error: Schema.ref("TEIError"))
    }
}
