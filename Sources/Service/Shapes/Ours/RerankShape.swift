import Configuration
import InstructRec

/// POST /rerank (our own shape, the one without `texts`): a query and documents,
/// Cohere-like, with our extras (scoring, history, preference, template).
struct RerankShape: APIShape {
    let name = "ours.rerank"
    let path = "/rerank"
    var requestFields: [String] { Request.CodingKeys.allCases.map(\.rawValue) }

    struct Request: Decodable, Sendable {
        var query: String
        var documents: [ItemInput<TextKey>]
        var intent: String?
        var history: [ItemInput<TitleKey>]?
        var preference: String?
        var top_n: Int?
        var scoring: String?
        var prior_weight: Double?
        var relevance: String?
        var return_instruction: Bool?
        var return_documents: Bool?
        var template: String?
        var timeout_ms: Int?
        var model: String?
        var exclude_history: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case query, documents, intent, history, preference, top_n, scoring, prior_weight, relevance, return_instruction, return_documents, template, timeout_ms, model, exclude_history
        }
    }

    /// TEI's body has `texts`; ours has `documents`.
    func claims(_ body: JSONValue) -> Bool { body["texts"] == nil }

    func query(_ r: Request, limits: RequestLimits) throws -> RankQuery {
        let documents = try ItemInput.candidates(r.documents, "$.documents", limits)
        return try OurFields.searchQuery(query: r.query, intent: r.intent, history: r.history, preference: r.preference,
                                         candidates: documents, topN: r.top_n, scoring: r.scoring, priorWeight: r.prior_weight,
                                         relevance: r.relevance, template: r.template,
                                         timeout: r.timeout_ms, excludeHistory: r.exclude_history, limits: limits)
    }

    func response(_ r: Request, _ query: RankQuery, _ outcome: RankOutcome) -> RankingResponse {
        RankingResponse(outcome, query: query, returnInstruction: r.return_instruction ?? false,
                        echo: r.return_documents == true ? .document : .nothing)
    }

    func errorBody(_ error: ServiceError) -> ErrorEnvelope { ErrorEnvelope(RankingResponse.Failure(error)) }

    func schemas(_ context: SchemaContext) -> ShapeSchemas {
        var request = Schema.object("A query and the documents to rerank (our shape; a body with `texts` is TEI's)",
            OurFields.common(context, prefix: "search.").merging(OurFields.searchFields(context)) { a, _ in a }.merging([
                "documents": OurFields.candidates(context, key: "text", what: "document", description: "Documents to rerank"),
                "return_documents": Schema.boolean("Echo each document's text in its result"),
                "model": Schema.string("The model to answer: a name GET /v1/models lists, or an alias; absent: the default model. With one model served, any value is accepted. This document states the default model's constraints (templates, scoring fields); another model applies its own and names any field it refuses (422)"),
            ]) { a, _ in a }, required: ["query", "documents"])
        request["allOf"] = OurFields.templateRequirements(context, prefix: "search.")
        return ShapeSchemas(summary: "Rerank documents for a query (our shape)",
                            description: "The ⟨P0, I, T3⟩ search instruction: the query is the intention, the documents are the candidates.",
                            components: ["RerankRequest": request], request: Schema.ref("RerankRequest"),
                            response: Schema.ref("Ranking"), error: Schema.ref("Error"))
    }
}
