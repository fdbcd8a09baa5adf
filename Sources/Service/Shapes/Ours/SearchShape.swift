import InstructRec

/// POST /search: product search ⟨P0, I1/I2, T3⟩, personalised with history or preference.
struct SearchShape: APIShape {
    let name = "ours.search"
    let path = "/search"
    var requestFields: [String] { Request.CodingKeys.allCases.map(\.rawValue) }

    struct Request: Decodable, Sendable {
        var query: String
        var intent: String?
        var history: [ItemInput<TitleKey>]?
        var preference: String?
        var candidates: [ItemInput<TitleKey>]
        var top_n: Int?
        var scoring: String?
        var prior_weight: Double?
        var relevance: String?
        var return_instruction: Bool?
        var template: String?
        var timeout_ms: Int?
        var exclude_history: Bool?
        /// which served model answers (routing reads it from the body; see `ModelRegistry`)
        var model: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case query, intent, history, preference, candidates, top_n, scoring, prior_weight, relevance, return_instruction, template, timeout_ms, exclude_history,
                 model
        }
    }

    func query(_ r: Request, limits: RequestLimits) throws -> RankQuery {
        let candidates = try ItemInput.candidates(r.candidates, "$.candidates", limits)
        return try OurFields.searchQuery(query: r.query, intent: r.intent, history: r.history, preference: r.preference,
                                         candidates: candidates, topN: r.top_n, scoring: r.scoring, priorWeight: r.prior_weight,
                                         relevance: r.relevance, template: r.template,
                                         timeout: r.timeout_ms, excludeHistory: r.exclude_history, limits: limits)
    }

    func response(_ r: Request, _ query: RankQuery, _ outcome: RankOutcome) -> RankingResponse {
        RankingResponse(outcome, query: query, returnInstruction: r.return_instruction ?? false, echo: .title)
    }

    func errorBody(_ error: ServiceError) -> ErrorEnvelope { ErrorEnvelope(RankingResponse.Failure(error)) }

    func schemas(_ context: SchemaContext) -> ShapeSchemas {
        var request = Schema.object("A query, optionally a history and/or preference, and the candidates to rank",
            OurFields.common(context, prefix: "search.").merging(OurFields.searchFields(context)) { a, _ in a }.merging([
                "candidates": OurFields.candidates(context, key: "title", what: "candidate", description: "Items to rank"),
            ]) { a, _ in a }, required: ["query", "candidates"])
        request["allOf"] = OurFields.templateRequirements(context, prefix: "search.")
        return ShapeSchemas(summary: "Product search ⟨P0, I1/I2, T3⟩, personalised with history or preference",
                            description: "Ranks the candidates by how well each matches the query (the intention) for this user.",
                            components: ["SearchRequest": request], request: Schema.ref("SearchRequest"),
                            response: Schema.ref("Ranking"), error: Schema.ref("Error"))
    }
}

extension OurFields {
    static func searchFields(_ context: SchemaContext) -> [String: Schema.Node] {
        ["query": Schema.text("What the user is looking for (the intention)", context),
         "intent": Schema.string("vague (I1) or specific (I2) wording of the instruction; default specific", enumeration: ["vague", "specific"])]
    }

    /// /search and our /rerank: the query is the intention.
    static func searchQuery(query: String, intent: String?, history: [ItemInput<TitleKey>]?, preference: String?, candidates: [Item],
                            topN: Int?, scoring: String?, priorWeight: Double?, relevance: String?, template: String?, timeout: Int?,
                            excludeHistory: Bool?, limits: RequestLimits) throws -> RankQuery {
        var context = UserContext(history: try ItemInput.items(history ?? [], "$.history", limits),
                                  preference: try FieldRules.optionalText(preference, "$.preference", limits),
                                  intention: try FieldRules.text(query, "$.query", limits))
        if let kind = try FieldRules.intent(intent) { context.intentKind = kind }
        var query = RankQuery(context: context, candidates: candidates, template: try OurFields.template(template, prefix: "search.", limits),
                         scoring: try FieldRules.scoring(scoring), priorWeight: try FieldRules.priorWeight(priorWeight),
                         relevance: try FieldRules.relevance(relevance), topN: try FieldRules.topN(topN),
                         timeoutMilliseconds: try FieldRules.timeout(timeout))
        query.excludeHistory = excludeHistory
        return query
    }
}
