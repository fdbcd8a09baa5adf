import InstructRec
/// The OpenAPI 3.1 description of every endpoint, served at /openapi.json.
/// Each API shape contributes its own request, response and error schemas
/// (Shapes/*); tests validate real responses and the captured client bodies
/// against it, and check that each request schema lists exactly the fields its
/// decoder accepts.
enum OpenAPIDocument {
    static func make(version: String, context: SchemaContext) -> [String: Any] {
        func jsonBody(_ schema: Schema.Node) -> [String: Any] { ["content": ["application/json": ["schema": schema]]] }
        func either(_ nodes: [Schema.Node]) -> Schema.Node {
            var unique: [Schema.Node] = []
            for node in nodes where !unique.contains(where: { NSDictionaryEquality.same($0, node) }) { unique.append(node) }
            return unique.count == 1 ? unique[0] : Schema.oneOf(unique)
        }
        var paths: [String: Any] = [:]
        var components: [String: Any] = [:]
        for path in ShapeRegistry.paths {
            let shapes = ShapeRegistry.shapes(at: path).map { $0.schemas(context) }
            for shape in shapes { components.merge(shape.components) { a, _ in a } }
            let error = either(shapes.map(\.error))
            func failure(_ description: String) -> [String: Any] { ["description": description].merging(jsonBody(error)) { a, _ in a } }
            paths[path] = ["post": [
                "summary": shapes.map(\.summary).joined(separator: "; "),
                "description": shapes.map(\.description).joined(separator: " "),
                "requestBody": ["required": true].merging(jsonBody(either(shapes.map(\.request)))) { a, _ in a },
                "security": [["bearer": [String]()], [String: Any]()],
                "responses": [
                    "200": ["description": "Ranked results, best first"].merging(jsonBody(either(shapes.map(\.response)))) { a, _ in a },
                    "400": failure("Malformed JSON (with the byte offset), or duplicate member names"),
                    "401": failure("Missing or wrong API key"),
                    "404": failure("With several models served: a model field that names none of them, nor an alias, and no fallback_model (the message names the served models)"),
                    "413": failure("Too large (body, list or text)"),
                    "415": failure("Content-Type is not application/json"),
                    "422": failure("A field is invalid (the message names its JSON path)"),
                    "503": failure("Queue full, loading or draining; see Retry-After"),
                    "504": failure("Deadline exceeded"),
                ],
            ] as [String: Any]]
        }
        let status = Schema.object("Status", ["status": Schema.string("ok, ready, loading or draining")], required: ["status"], additional: true)
        func get(_ summary: String, _ schema: Schema.Node, extra: [String: Any] = [:]) -> [String: Any] {
            ["get": ["summary": summary, "responses": ["200": ["description": summary].merging(jsonBody(schema)) { a, _ in a }].merging(extra) { a, _ in a }]]
        }
        paths["/healthz"] = get("Liveness; never touches the model", status)
        paths["/readyz"] = get("Readiness: 200 once the model is loaded and warmed up; 503 while loading or draining", status,
                               extra: ["503": ["description": "Loading or draining"].merging(jsonBody(status)) { a, _ in a }])
        paths["/metrics"] = ["get": ["summary": "Prometheus metrics", "responses": ["200": ["description": "Prometheus text format 0.0.4",
                                                                                         "content": ["text/plain": ["schema": Schema.string("Metrics")]]]]]]
        paths["/info"] = get("Model, effective settings (with their sources), templates and API shapes", Schema.ref("Info"))
        paths["/openapi.json"] = get("This document", Schema.object("OpenAPI 3.1 document", [:], additional: true))
        paths["/v1/models"] = get("The served models and their aliases, in the list shape of OpenAI-style APIs (vLLM, Infinity); a ranking body's model field names one", Schema.ref("ModelList"))
        components["ModelList"] = Schema.object("Served models", [
            "object": Schema.string("list", enumeration: ["list"]),
            "data": Schema.array(Schema.object("A model name a request may send", [
                "id": Schema.string("The name (a model, or an alias of one)"),
                "object": Schema.string("model", enumeration: ["model"]),
                "created": Schema.integer("Unix time the model finished loading", minimum: 0, maximum: Int(Int32.max) * 4),
                "owned_by": Schema.string("instructrec"),
                "root": Schema.string("A model's source directory; an alias's model name"),
            ], required: ["id", "object", "created", "owned_by"], additional: true), "Every served model (the default first), then every alias"),
        ], required: ["object", "data"], additional: true)
        let reload = adminReload()
        paths["/admin/reload"] = reload.path
        components.merge(reload.components) { a, _ in a }
        components.merge(RankingResponse.components(context)) { a, _ in a }
        components["Info"] = Schema.object("Service summary", [
            "service": Schema.string("instructrec"), "version": Schema.string("Service version"),
            "model": Schema.object("The default model (as in models)", [:], additional: true),
            "models": Schema.array(Schema.object("A served model: name, default, source, sha256, scorer, weight_bytes, settings", [:], additional: true),
                                   "Every served model, the default first"),
            "templates": Schema.array(Schema.string("Template name"), "Template names"),
            "settings": Schema.object("Effective model-bound settings: {value, source} each", [:], additional: true),
            "limits": Schema.object("Request limits, request_timeout_ms, and the connection limit: max_connections (beyond it 503; instructrec_open_connections and instructrec_rejected_connections_total in /metrics) and probe_reserve_connections (connections beyond it kept for GET /healthz, /readyz and /metrics)", [:], additional: true),
        ], required: ["service", "version", "model", "templates", "settings"], additional: true)
        return [
            "openapi": "3.1.0",
            "info": ["title": "instructrec", "version": version, "description": description(context.scorer),
                     "x-instructrec-scorer": context.scorer.rawValue],
            "paths": paths,
            "components": ["securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]], "schemas": components],
        ]
    }
}

extension OpenAPIDocument {
    /// What the loaded model's scores mean, for the document's description.
    static func description(_ scorer: ScorerKind) -> String {
        let clients = "Cohere (/v1/rerank, /v2/rerank), Jina (/v1/rerank) and TEI (/rerank with texts) clients work unchanged."
        switch scorer {
        case .likelihood:
            return "InstructRec reranking (scorer likelihood): a T5 model scores each candidate by the log-likelihood of its title given an instruction built from the user's history, preference and intention (scoring sum, mean, or calibrated: minus α times the title's prior). relevance_score is a logistic of the score with the model's fitted scale and bias (comparable across requests), or the softmax over the request with relevance=softmax. " + clients + " They rank with the search.specific instruction."
        case .monot5, .yesNo:
            return "Pointwise reranking (scorer \(scorer.rawValue)): each document (or each window of a long one) is its own input to a T5 model, which answers yes/no at its first decoder step. score = logit(yes) − logit(no), relevance_score = P(yes) = σ(score), per document and comparable across requests; a document longer than the model's input is scored over overlapping windows, keeping the best (usage.windows, X-Document-Windows). " + clients
        case .rankt5:
            return "Pointwise reranking (scorer rankt5): each document (or each window of a long one) is its own input to a RankT5 encoder-decoder; score = relevance_score = the raw logit of <extra_id_10> at the first decoder step (TEI without raw_scores: σ of it). A document longer than the model's input is scored over overlapping windows, keeping the best. " + clients
        }
    }
}

/// Structural equality of two JSON-like values (schemas are [String: Any]).
enum NSDictionaryEquality {
    static func same(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case let (x as [String: Any], y as [String: Any]):
            return x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
        case let (x as [Any], y as [Any]): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case let (x as String, y as String): return x == y
        case let (x as Int, y as Int): return x == y
        case let (x as Bool, y as Bool): return x == y
        default: return false
        }
    }
}
