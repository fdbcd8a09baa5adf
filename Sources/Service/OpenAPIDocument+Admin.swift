/// The operator's endpoints in the OpenAPI document: POST /admin/reload.
extension OpenAPIDocument {
    /// POST /admin/reload (`RerankService.makeRouter`, `RerankService.reload`): its answers, our error envelope for each refusal.
    static func adminReload() -> (path: [String: Any], components: [String: Schema.Node]) {
        func json(_ description: String, _ schema: Schema.Node) -> [String: Any] {
            ["description": description, "content": ["application/json": ["schema": schema]]]
        }
        let error = Schema.ref("Error")
        let reloaded = Schema.object("The new model serves", [
            "status": Schema.string("reloaded", enumeration: ["reloaded"]),
            "sha256": Schema.string("Content hash of the new model (SHA-256 over its files; also instructrec_model_info)"),
            "load_seconds": Schema.number("Seconds the load and warm-up took"),
        ], required: ["status", "sha256", "load_seconds"], additional: true)
        let operation: [String: Any] = [
            "summary": "Reload the configured model without a restart (as SIGHUP)",
            "description": "Loads the configured model directory again (the configuration's layers are read again, so an edited instructrec.json or templates.json applies), warms it beside the serving model, then switches new requests to it; requests already planned finish on the old one. Needs api_keys: without them the endpoint is off (403) and SIGHUP is the way. Both models are in memory while the new one loads.",
            "security": [["bearer": [String]()]],
            "responses": [
                "200": json("Reloaded: the new model serves", Schema.ref("Reloaded")),
                "401": json("Missing or wrong API key", error),
                "403": json("api_keys is not configured: the endpoint is off (send SIGHUP instead)", error),
                "409": json("A reload is already running", error),
                "500": json("The new model did not load; the previous one keeps serving (the message says why)", error),
                "503": json("The service is still loading its first model; see Retry-After", error),
            ],
        ]
        return (["post": operation], ["Reloaded": reloaded])
    }
}
