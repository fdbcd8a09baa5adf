/// The operator's endpoints in the OpenAPI document: POST /admin/reload.
extension OpenAPIDocument {
    /// POST /admin/reload (`RerankService.makeRouter`, `RerankService.reload`): its answers, our error envelope for each refusal.
    static func adminReload() -> (path: [String: Any], components: [String: Schema.Node]) {
        func json(_ description: String, _ schema: Schema.Node) -> [String: Any] {
            ["description": description, "content": ["application/json": ["schema": schema]]]
        }
        let error = Schema.ref("Error")
        let one = Schema.object("One model reloaded", [
            "model": Schema.string("Its name"),
            "status": Schema.string("reloaded", enumeration: ["reloaded"]),
            "sha256": Schema.string("Content hash of the new version (SHA-256 over its files; also instructrec_model_info)"),
            "load_seconds": Schema.number("Seconds the load and warm-up took"),
        ], required: ["model", "status", "sha256"], additional: true)
        let reloaded = Schema.object("The new versions serve; with one model reloaded, its fields are also at the top", [
            "status": Schema.string("reloaded", enumeration: ["reloaded"]),
            "models": Schema.array(one, "Each model reloaded, in served order"),
            "model": Schema.string("The model reloaded (one only)"),
            "sha256": Schema.string("Content hash of the new version (one model only)"),
            "load_seconds": Schema.number("Seconds the load and warm-up took (one model only)"),
        ], required: ["status", "models"], additional: true)
        let operation: [String: Any] = [
            "summary": "Reload one model, or every model, without a restart",
            "description": "Loads the named model (body {\"model\": NAME}; no body: every model) again from its source (the configuration's layers are read again, so an edited instructrec.json or templates.json applies), warms it beside its serving version, then switches new requests to it; requests already planned finish on the old version, and the other models serve on. SIGHUP does the same for every model whose files or settings changed. Needs api_keys: without them the endpoint is off (403) and SIGHUP is the way. Both versions of a model are in memory while the new one loads.",
            "security": [["bearer": [String]()]],
            "requestBody": ["required": false, "content": ["application/json": ["schema": Schema.object("Which model", [
                "model": Schema.string("A served model's name; absent: every model"),
            ], additional: false)]]],
            "responses": [
                "200": json("Reloaded: the new model serves", Schema.ref("Reloaded")),
                "401": json("Missing or wrong API key", error),
                "404": json("The named model is not served (the message names those that are)", error),
                "400": json("Malformed JSON", error),
                "422": json("A body field other than model, or a model that is no string", error),
                "403": json("api_keys is not configured: the endpoint is off (send SIGHUP instead)", error),
                "409": json("A reload is already running", error),
                "500": json("A model did not load; its previous version keeps serving (the message names it and says why)", error),
                "503": json("The service is still loading its first model; see Retry-After", error),
            ],
        ]
        return (["post": operation], ["Reloaded": reloaded])
    }
}
