import InstructRec

/// POST /recommend: sequential recommendation ⟨P1/P2, I0, T3⟩.
struct RecommendShape: APIShape {
    let name = "ours.recommend"
    let path = "/recommend"
    var requestFields: [String] { Request.CodingKeys.allCases.map(\.rawValue) }

    struct Request: Decodable, Sendable {
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
            case history, preference, candidates, top_n, scoring, prior_weight, relevance, return_instruction, template, timeout_ms, exclude_history,
                 model
        }
    }

    func query(_ r: Request, limits: RequestLimits) throws -> RankQuery {
        let candidates = try ItemInput.candidates(r.candidates, "$.candidates", limits)
        let history = try ItemInput.items(r.history ?? [], "$.history", limits)
        let preference = try FieldRules.optionalText(r.preference, "$.preference", limits)
        if history.isEmpty && preference == nil {
            throw ServiceError.invalid("$.history", "/recommend needs a non-empty history or a preference")
        }
        var query = RankQuery(context: UserContext(history: history, preference: preference), candidates: candidates,
                         template: try OurFields.template(r.template, prefix: "recommend.", limits),
                         scoring: try FieldRules.scoring(r.scoring), priorWeight: try FieldRules.priorWeight(r.prior_weight),
                         relevance: try FieldRules.relevance(r.relevance), topN: try FieldRules.topN(r.top_n),
                         timeoutMilliseconds: try FieldRules.timeout(r.timeout_ms))
        query.excludeHistory = r.exclude_history
        return query
    }

    func response(_ r: Request, _ query: RankQuery, _ outcome: RankOutcome) -> RankingResponse {
        RankingResponse(outcome, query: query, returnInstruction: r.return_instruction ?? false, echo: .title)
    }

    func errorBody(_ error: ServiceError) -> ErrorEnvelope { ErrorEnvelope(RankingResponse.Failure(error)) }

    func schemas(_ context: SchemaContext) -> ShapeSchemas {
        var request = Schema.object("A user's history and/or preference, and the candidates to rank",
            OurFields.common(context, prefix: "recommend.").merging([
                "candidates": OurFields.candidates(context, key: "title", what: "candidate", description: "Items to rank"),
            ]) { a, _ in a }, required: ["candidates"])
        request["anyOf"] = [["required": ["history"], "properties": ["history": ["type": "array", "minItems": 1]]],
                            ["required": ["preference"], "properties": ["preference": ["type": "string"]]]]
        request["allOf"] = OurFields.templateRequirements(context, prefix: "recommend.")
        return ShapeSchemas(summary: "Sequential recommendation ⟨P1/P2, I0, T3⟩",
                            description: "Ranks the candidates by how likely the user wants each next, given a non-empty history (oldest first) and/or a preference.",
                            components: ["RecommendRequest": request], request: Schema.ref("RecommendRequest"),
                            response: Schema.ref("Ranking"), error: Schema.ref("Error"))
    }
}
