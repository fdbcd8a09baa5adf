import InstructRec

/// POST /v2/rerank: Cohere's v2 rerank API (cohere SDK `ClientV2.rerank`).
/// Ranked with the ⟨P0, I, T3⟩ search instruction (template search.specific):
/// the query is the intention, the documents the candidates. Cohere's earlier v2 API (SDKs before
/// `max_tokens_per_doc`) also sent `return_documents`, `rank_fields`, `max_chunks_per_doc` and documents as
/// objects; they are read as v1 reads them, so those clients work unchanged.
struct CohereV2Shape: APIShape {
    let name = "cohere.v2"
    let path = "/v2/rerank"
    var requestFields: [String] { Request.CodingKeys.allCases.map(\.rawValue) }

    struct Request: Decodable, Sendable {
        var model: String?
        var query: String
        /// strings; objects of string fields (Cohere's earlier v2 API), read as v1 reads them
        var documents: [StructuredDocument]
        var top_n: Int?
        var max_tokens_per_doc: Int?
        /// Cohere's earlier v2 API, read as v1 reads them
        var return_documents: Bool?
        var rank_fields: [String]?
        var max_chunks_per_doc: Int?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case model, query, documents, top_n, max_tokens_per_doc, return_documents, rank_fields, max_chunks_per_doc
        }
    }

    struct Response: Encodable {
        struct Result: Encodable {
            var index: Int
            var relevance_score: Double
            /// with return_documents (Cohere's earlier v2 API): the document as sent, a string as {"text"}
            var document: CohereV1Shape.Response.Document?
        }
        struct Meta: Encodable {
            struct APIVersion: Encodable { var version: String }
            struct BilledUnits: Encodable { var search_units: Int }
            var api_version: APIVersion
            var billed_units: BilledUnits
            /// Cohere's meta.warnings: documents cut or windowed (`CohereWarnings`)
            var warnings: [String]?
        }
        var id: String
        var results: [Result]
        var meta: Meta
    }

    /// Cohere's error body: {"message": ...}.
    struct Failure: Encodable { var message: String }

    func query(_ r: Request, limits: RequestLimits) throws -> RankQuery {
        let documents = try CohereV1Shape.items(r.documents, rankFields: r.rank_fields, limits)
        _ = try FieldRules.count(r.max_tokens_per_doc, "$.max_tokens_per_doc")
        var query = RankQuery(context: UserContext(intention: try FieldRules.text(r.query, "$.query", limits)),
                              candidates: try FieldRules.candidates(documents, "$.documents", limits),
                              topN: try FieldRules.topN(r.top_n), maxTargetTokens: r.max_tokens_per_doc)
        query.maxWindows = try FieldRules.count(r.max_chunks_per_doc, "$.max_chunks_per_doc")
        return query
    }

    func response(_ r: Request, _ query: RankQuery, _ outcome: RankOutcome) -> Response {
        let documents = r.return_documents ?? false
        return Response(id: outcome.requestID,
                 results: outcome.ranked.map {
                     .init(index: $0.index, relevance_score: Double($0.relevance),
                           document: documents ? .init(members: r.documents[$0.index].members) : nil)
                 },
                 meta: .init(api_version: .init(version: "2"), billed_units: .init(search_units: CohereBilling.searchUnits(documents: r.documents.count,
                                                                                               usage: outcome.usage)),
                             warnings: CohereWarnings.warnings(query, outcome)))
    }

    func errorBody(_ error: ServiceError) -> ErrorEnvelope { ErrorEnvelope(Failure(message: error.message)) }

    func schemas(_ context: SchemaContext) -> ShapeSchemas {
        let request = Schema.object("Cohere v2 rerank request", [
            "model": Schema.string("The model to answer: a name GET /v1/models lists, or an alias; absent: the default model. With one model served, any value is accepted (so a Cohere client's rerank-v3.5 works against a single model, or through aliases)"),
            "query": Schema.text("The search query (the intention of the search instruction)", context),
            "documents": Schema.array(Schema.oneOf([
                Schema.text("A document (its text)", context),
                CohereV1Shape.structuredDocumentSchema(context),
            ]), "Documents to rerank: texts (objects of string fields, as Cohere's earlier v2 API and v1 take them, are read on rank_fields)",
                                      minItems: 1, maxItems: context.limits.maxCandidates),
            "return_documents": Schema.boolean("Cohere's earlier v2 API: include each document in its result (default false)"),
            "rank_fields": CohereV1Shape.rankFieldsSchema(),
            "max_chunks_per_doc": CohereV1Shape.maxChunksSchema(),
            "top_n": Schema.integer("Return the best N results (all when N exceeds the documents)", minimum: 1, maximum: FieldRules.maxCount),
            "max_tokens_per_doc": Schema.integer("Score each document on at most this many tokens: its first ones (a pointwise model then windows what is left; a likelihood model never scores more than max_target_tokens). Documents cut are counted in meta.warnings and the X-Documents-Truncated header", minimum: 1, maximum: FieldRules.maxCount),
        ], required: ["query", "documents"])
        let response = Schema.object("Cohere v2 rerank response", [
            "id": Schema.string("Request id"),
            "results": Schema.array(Schema.object("One document, best first", [
                "index": Schema.integer("Position of the document in the request", minimum: 0),
                "relevance_score": Schema.number("0..1: σ(scale·score + bias) with the model's fitted scale and bias, a function of the document's own score (comparable across requests, usable with a threshold); the deployment setting relevance=softmax makes it the softmax over the request's documents"),
                "document": CohereV1Shape.returnedDocumentSchema(),
            ], required: ["index", "relevance_score"], additional: true), "Documents sorted by relevance, cut to top_n"),
            "meta": Schema.object("Cohere metadata", [
                "api_version": Schema.object("API version", ["version": Schema.string("Always \"2\"")], required: ["version"], additional: true),
                "billed_units": Schema.object(CohereBilling.description,
                                              ["search_units": Schema.integer("Search units", minimum: 0)], required: ["search_units"], additional: true),
                "warnings": Schema.array(Schema.string("One sentence per kind of event, with its count"), "Present when documents were cut (truncated to max_tokens_per_doc or max_target_tokens) or, with a pointwise model, scored over several windows; the counts are also in the X-Documents-Truncated, X-Documents-Windowed and X-Document-Windows headers"),
            ], required: ["api_version", "billed_units"], additional: true),
        ], required: ["id", "results", "meta"], additional: true)
        let error = Schema.object("Cohere error", ["message": Schema.string("What was wrong, naming the field")], required: ["message"], additional: true)
        return ShapeSchemas(summary: "Rerank in Cohere's v2 shape",
                            description: "Drop-in for cohere ClientV2.rerank. Ranks with the search.specific instruction: the query is the intention, the documents are the candidates.",
                            components: ["CohereV2RerankRequest": request, "CohereV2RerankResponse": response, "CohereError": error],
                            request: Schema.ref("CohereV2RerankRequest"), response: Schema.ref("CohereV2RerankResponse"),
                            error: Schema.ref("CohereError"))
    }
}
