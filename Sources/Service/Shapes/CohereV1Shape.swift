import Configuration
import InstructRec

/// POST /v1/rerank: Cohere's v1 rerank API (cohere SDK `Client.rerank`) and
/// Jina's rerank API, which share one body. Ranked with the ⟨P0, I, T3⟩ search
/// instruction (template search.specific). Documents may be structured: objects of
/// string fields, ranked on the ones `rank_fields` names (`StructuredDocument`).
struct CohereV1Shape: APIShape {
    let name = "cohere.v1"
    let path = "/v1/rerank"
    var requestFields: [String] { Request.CodingKeys.allCases.map(\.rawValue) }

    struct Request: Decodable, Sendable {
        var model: String?
        var query: String
        /// strings, or objects of string fields (and an optional id)
        var documents: [StructuredDocument]
        var top_n: Int?
        /// absent: Jina's default (true) for a Jina model name (`jina-…`), else Cohere's (false)
        var return_documents: Bool?
        /// the fields the model reads, in this order; absent: ["text"]
        var rank_fields: [String]?
        /// Cohere v1: a pointwise model scores at most this many windows per document (the first ones)
        var max_chunks_per_doc: Int?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case model, query, documents, top_n, return_documents, rank_fields, max_chunks_per_doc
        }
    }

    struct Response: Encodable {
        struct Result: Encodable { var index: Int; var relevance_score: Double; var document: Document? }
        /// The document as sent: all its fields, id included (a string document as {"text"}).
        struct Document: Encodable {
            var members: [(String, JSONValue)]
            func encode(to encoder: Encoder) throws {
                var container = encoder.container(keyedBy: IndexKey.self)
                for (name, value) in members {
                    switch value {
                    case let .string(text): try container.encode(text, forKey: IndexKey(stringValue: name))
                    // the one member that may be a number: an integer id
                    case let .number(number): try container.encode(Int64(number), forKey: IndexKey(stringValue: name))
                    default: try container.encodeNil(forKey: IndexKey(stringValue: name))
                    }
                }
            }
        }
        struct Meta: Encodable {
            struct APIVersion: Encodable { var version: String }
            struct BilledUnits: Encodable { var search_units: Int }
            var api_version: APIVersion
            var billed_units: BilledUnits
            /// Cohere's meta.warnings: documents capped by max_chunks_per_doc, cut or windowed (`CohereWarnings`)
            var warnings: [String]?
        }
        /// Jina's
        struct Usage: Encodable { var total_tokens: Int }
        var id: String
        var results: [Result]
        var meta: Meta
        var model: String
        var usage: Usage
    }

    /// Cohere reads `message`, Jina's clients `detail`.
    struct Failure: Encodable { var message: String; var detail: String }

    func query(_ r: Request, limits: RequestLimits) throws -> RankQuery {
        let chunks = try FieldRules.count(r.max_chunks_per_doc, "$.max_chunks_per_doc")
        let documents = try Self.items(r.documents, rankFields: r.rank_fields, limits)
        var query = RankQuery(context: UserContext(intention: try FieldRules.text(r.query, "$.query", limits)),
                              candidates: try FieldRules.candidates(documents, "$.documents", limits),
                              topN: try FieldRules.topN(r.top_n))
        query.maxWindows = chunks
        return query
    }

    /// Jina's API returns the documents unless told not to; Cohere's does not unless told to. The two share this
    /// body, and a Jina client names a Jina model (`jina-reranker-v2-base-multilingual`).
    static func isJinaModel(_ model: String?) -> Bool { model?.lowercased().hasPrefix("jina") ?? false }

    /// The documents as candidates, each read on `rankFields` (v1's, and Cohere's earlier v2 API's).
    static func items(_ documents: [StructuredDocument], rankFields: [String]?, _ limits: RequestLimits) throws -> [Item] {
        let fields = try Self.rankFields(rankFields)
        return try documents.enumerated().map { index, document in
            Item(id: document.id ?? String(index), title: try document.text(rankFields: fields, "$.documents[\(index)]", limits))
        }
    }

    /// Cohere v1: "If not provided, the model will use the default text field for ranking."
    /// Each field is named once; the order is the order the model reads them in.
    static func rankFields(_ fields: [String]?) throws -> [String] {
        guard let fields else { return ["text"] }
        if fields.isEmpty { throw ServiceError.invalid("$.rank_fields", "must name at least one field") }
        for (index, field) in fields.enumerated() {
            if field.isEmpty { throw ServiceError.invalid("$.rank_fields[\(index)]", "must not be empty") }
            if let earlier = fields[..<index].firstIndex(of: field) {
                throw ServiceError.invalid("$.rank_fields[\(index)]", "duplicate of $.rank_fields[\(earlier)] '\(field)'")
            }
        }
        return fields
    }

    func response(_ r: Request, _ query: RankQuery, _ outcome: RankOutcome) -> Response {
        let documents = r.return_documents ?? Self.isJinaModel(r.model)
        return Response(
            id: outcome.requestID,
            results: outcome.ranked.map {
                .init(index: $0.index, relevance_score: Double($0.relevance),
                      document: documents ? .init(members: r.documents[$0.index].members) : nil)
            },
            meta: .init(api_version: .init(version: "1"), billed_units: .init(search_units: CohereBilling.searchUnits(documents: r.documents.count,
                                                                                               usage: outcome.usage)),
                        warnings: CohereWarnings.warnings(query, outcome)),
            model: r.model ?? "instructrec",
            usage: .init(total_tokens: outcome.usage.instructionTokens + outcome.usage.candidateTokens))
    }

    func errorBody(_ error: ServiceError) -> ErrorEnvelope { ErrorEnvelope(Failure(message: error.message, detail: error.message)) }

    /// A structured document (v1, and Cohere's earlier v2 API).
    static func structuredDocumentSchema(_ context: SchemaContext) -> [String: Any] {
        var structured = Schema.object("A structured document: string fields, all echoed by return_documents. The model reads the rank_fields it has (text by default): one field's value alone, several as \"field: value\" lines in rank_fields order; a document with none of them is read on all its fields. Each field read is a text of at most max_text_chars characters (several: their lines together)", [
            "id": Schema.oneOf([Schema.string("Id", minLength: 1), Schema.integer("Id", minimum: -999_999_999_999_999, maximum: 999_999_999_999_999)],
                               "Our extension: the document's id (echoed back; results are found by index)"),
        ])
        structured["additionalProperties"] = Schema.nullable(Schema.text("A field (null reads as absent)", context))
        // at least one field besides the id, and not null: something to read
        structured["anyOf"] = [["minProperties": 2], ["not": ["required": ["id"]], "minProperties": 1]]
        return structured
    }

    static func rankFieldsSchema() -> [String: Any] {
        var rankFields = Schema.array(Schema.string("A field of the documents", minLength: 1),
                                      "The fields the model reads, in this order (default [\"text\"]); a string document has only text", minItems: 1)
        rankFields["uniqueItems"] = true
        return rankFields
    }

    static func maxChunksSchema() -> [String: Any] {
        Schema.integer("Pointwise models: score at most this many windows (chunks) of a long document, its first ones (default: all); likelihood models score titles and ignore it. Documents capped are counted in meta.warnings and the X-Documents-Truncated header", minimum: 1, maximum: FieldRules.maxCount)
    }

    static func returnedDocumentSchema() -> [String: Any] {
        Schema.object("The document as sent (return_documents): all its fields; a string document as {text}",
                      ["text": Schema.string("The document text")], additional: true)
    }

    func schemas(_ context: SchemaContext) -> ShapeSchemas {
        let structured = Self.structuredDocumentSchema(context)
        let request = Schema.object("Cohere v1 / Jina rerank request", [
            "model": Schema.string("The model to answer: a name GET /v1/models lists, or an alias; absent: the default model. With one model served, any value is accepted (echoed in the response)"),
            "query": Schema.text("The search query (the intention of the search instruction)", context),
            "documents": Schema.array(Schema.oneOf([
                Schema.text("A document (its text)", context),
                structured,
            ]), "Documents to rerank (ids are labels and may repeat; results are found by index)", minItems: 1, maxItems: context.limits.maxCandidates),
            "top_n": Schema.integer("Return the best N results (all when N exceeds the documents)", minimum: 1, maximum: FieldRules.maxCount),
            "return_documents": Schema.boolean("Include each document in its result (default false, as Cohere; true when model names a Jina model, jina-…, as Jina)"),
            "rank_fields": Self.rankFieldsSchema(),
            "max_chunks_per_doc": Self.maxChunksSchema(),
        ], required: ["query", "documents"])
        let response = Schema.object("Cohere v1 / Jina rerank response", [
            "id": Schema.string("Request id"),
            "results": Schema.array(Schema.object("One document, best first", [
                "index": Schema.integer("Position of the document in the request", minimum: 0),
                "relevance_score": Schema.number("0..1: σ(scale·score + bias) with the model's fitted scale and bias, a function of the document's own score (comparable across requests, usable with a threshold); the deployment setting relevance=softmax makes it the softmax over the request's documents"),
                "document": Self.returnedDocumentSchema(),
            ], required: ["index", "relevance_score"], additional: true), "Documents sorted by relevance, cut to top_n"),
            "meta": Schema.object("Cohere metadata", [
                "api_version": Schema.object("API version", ["version": Schema.string("Always \"1\"")], required: ["version"], additional: true),
                "billed_units": Schema.object(CohereBilling.description,
                                              ["search_units": Schema.integer("Search units", minimum: 0)], required: ["search_units"], additional: true),
                "warnings": Schema.array(Schema.string("One sentence per kind of event, with its count"), "Present when documents had more windows than max_chunks_per_doc (scored on their first ones), were cut (titles past max_target_tokens) or, with a pointwise model, were scored over several windows; the counts are also in the X-Documents-Truncated, X-Documents-Windowed and X-Document-Windows headers"),
            ], required: ["api_version", "billed_units"], additional: true),
            "model": Schema.string("The request's model name, or instructrec"),
            "usage": Schema.object("Jina usage", ["total_tokens": Schema.integer("Encoder plus decoder tokens", minimum: 0)],
                                   required: ["total_tokens"], additional: true),
        ], required: ["id", "results", "meta", "model", "usage"], additional: true)
        let error = Schema.object("Cohere / Jina error", [
            "message": Schema.string("What was wrong, naming the field (Cohere)"),
            "detail": Schema.string("The same text (Jina)"),
        ], required: ["message", "detail"], additional: true)
        return ShapeSchemas(summary: "Rerank in Cohere's v1 and Jina's shape",
                            description: "Drop-in for cohere Client.rerank and Jina's rerank API. Ranks with the search.specific instruction: the query is the intention, the documents are the candidates.",
                            components: ["CohereV1RerankRequest": request, "CohereV1RerankResponse": response, "CohereV1Error": error],
                            request: Schema.ref("CohereV1RerankRequest"), response: Schema.ref("CohereV1RerankResponse"),
                            error: Schema.ref("CohereV1Error"))
    }
}
