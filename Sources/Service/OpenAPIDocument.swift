/// The OpenAPI 3.1 description of every endpoint, served at /openapi.json and
/// kept true by a test that validates real responses against it.
enum OpenAPIDocument {
    static func make(version: String) -> [String: Any] {
        let string: [String: Any] = ["type": "string"]
        let integer: [String: Any] = ["type": "integer"]
        let number: [String: Any] = ["type": "number"]
        let boolean: [String: Any] = ["type": "boolean"]
        func object(_ properties: [String: Any], required: [String] = [], additional: Bool = true) -> [String: Any] {
            ["type": "object", "properties": properties, "required": required, "additionalProperties": additional]
        }
        func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
        func jsonBody(_ schema: [String: Any]) -> [String: Any] { ["content": ["application/json": ["schema": schema]]] }
        func responses(_ ok: [String: Any], description: String) -> [String: Any] {
            [
                "200": ["description": description] .merging(jsonBody(ok)) { a, _ in a },
                "400": ["description": "Malformed JSON (with the byte offset)"].merging(jsonBody(ref("Error"))) { a, _ in a },
                "401": ["description": "Missing or wrong API key"].merging(jsonBody(ref("Error"))) { a, _ in a },
                "413": ["description": "Too large (body, list or text)"].merging(jsonBody(ref("Error"))) { a, _ in a },
                "415": ["description": "Content-Type is not application/json"].merging(jsonBody(ref("Error"))) { a, _ in a },
                "422": ["description": "A field is invalid (its JSON path is in error.field)"].merging(jsonBody(ref("Error"))) { a, _ in a },
                "503": ["description": "Queue full or draining; see Retry-After"].merging(jsonBody(ref("Error"))) { a, _ in a },
                "504": ["description": "Deadline exceeded"].merging(jsonBody(ref("Error"))) { a, _ in a },
            ]
        }
        let item: [String: Any] = ["oneOf": [string, object(["id": ["oneOf": [string, integer]], "title": string], required: ["title"], additional: false)]]
        let document: [String: Any] = ["oneOf": [string, object(["id": ["oneOf": [string, integer]], "text": string], required: ["text"], additional: false)]]
        let common: [String: Any] = [
            "top_n": integer, "scoring": ["type": "string", "enum": ["sum", "mean"]], "return_instruction": boolean,
            "template": string, "timeout_ms": integer, "history": ["type": "array", "items": item], "preference": string,
        ]
        let result = object([
            "index": integer, "id": string, "title": string, "score": number, "relevance_score": number,
            "document": object(["text": string], required: ["text"]),
        ], required: ["index", "id", "score", "relevance_score"])
        let ranking = object([
            "id": string, "template": string, "scoring": string,
            "results": ["type": "array", "items": ref("Result")],
            "usage": object(["instruction_tokens": integer, "candidate_tokens": integer, "history_items_used": integer,
                             "history_items_dropped": integer, "history_titles_shortened": integer, "groups": integer],
                            required: ["instruction_tokens", "candidate_tokens", "history_items_dropped", "groups"]),
            "timing_ms": object(["queue": number, "tokenize": number, "encode": number, "decode": number, "total": number],
                                required: ["queue", "tokenize", "encode", "decode", "total"]),
            "instructions": ["type": "array", "items": string],
        ], required: ["id", "template", "results", "usage", "timing_ms"])
        let recommendRequest = object(common.merging(["candidates": ["type": "array", "items": item]]) { a, _ in a },
                                      required: ["candidates"], additional: false)
        let searchRequest = object(common.merging(["candidates": ["type": "array", "items": item], "query": string,
                                                   "intent": ["type": "string", "enum": ["vague", "specific"]]]) { a, _ in a },
                                   required: ["query", "candidates"], additional: false)
        let rerankRequest = object(common.merging(["documents": ["type": "array", "items": document], "query": string,
                                                   "return_documents": boolean, "model": string,
                                                   "intent": ["type": "string", "enum": ["vague", "specific"]]]) { a, _ in a },
                                   required: ["query", "documents"], additional: false)
        let status = object(["status": string], required: ["status"])
        func post(_ summary: String, _ request: String) -> [String: Any] {
            ["post": ["summary": summary, "requestBody": ["required": true].merging(jsonBody(ref(request))) { a, _ in a },
                      "security": [["bearer": [String]()], [String: Any]()],
                      "responses": responses(ref("Ranking"), description: "Candidates sorted by score, best first")]]
        }
        func get(_ summary: String, _ schema: [String: Any], extra: [String: Any] = [:]) -> [String: Any] {
            ["get": ["summary": summary, "responses": ["200": ["description": summary].merging(jsonBody(schema)) { a, _ in a }].merging(extra) { a, _ in a }]]
        }
        return [
            "openapi": "3.1.0",
            "info": ["title": "instructrec", "version": version,
                     "description": "InstructRec reranking: a T5 model scores each candidate by the log-likelihood of its title given an instruction built from the user's history, preference and intention. score = sum (or mean) of token log-probabilities of title + </s>; relevance_score = softmax of the scores over the request's candidates."],
            "paths": [
                "/recommend": post("Sequential recommendation ⟨P1/P2, I0, T3⟩", "RecommendRequest"),
                "/search": post("Product search ⟨P0, I1/I2, T3⟩, personalised with history or preference", "SearchRequest"),
                "/rerank": post("Generic rerank in the Cohere / TEI shape", "RerankRequest"),
                "/healthz": get("Liveness; never touches the model", status),
                "/readyz": get("Readiness: 200 once the model is loaded and warmed up; 503 while loading or draining", status,
                               extra: ["503": ["description": "Loading or draining"].merging(jsonBody(status)) { a, _ in a }]),
                "/metrics": ["get": ["summary": "Prometheus metrics", "responses": ["200": ["description": "Prometheus text format 0.0.4",
                                                                                           "content": ["text/plain": ["schema": string]]]]]],
                "/info": get("Model configuration summary, version and templates", ref("Info")),
                "/openapi.json": get("This document", object([:])),
            ],
            "components": [
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]],
                "schemas": [
                    "RecommendRequest": recommendRequest, "SearchRequest": searchRequest, "RerankRequest": rerankRequest,
                    "Result": result, "Ranking": ranking,
                    "Error": object(["error": object(["code": string, "message": string, "field": string, "offset": integer],
                                                     required: ["code", "message"])], required: ["error"]),
                    "Info": object(["service": string, "version": string, "model": object([:]), "templates": ["type": "array", "items": string]],
                                   required: ["service", "version", "model", "templates"]),
                ],
            ],
        ]
    }
}
