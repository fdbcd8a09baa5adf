import Configuration
import Foundation

/// POST /admin/reload's body and answer: `{"model": NAME}` reloads that model; no body (or `{}`) reloads
/// every model.
enum ReloadRequest {
    /// The model named in `body`, nil for every model (no body, `{}`, or a null `model`); 400 for malformed JSON,
    /// 422 for a `model` that is neither a string nor null, 404 for a name not served.
    static func modelName(in body: [UInt8], served: [String]) throws -> String? {
        guard body.contains(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) else { return nil }
        let json: JSONValue
        do { json = try JSONValue.parse(body) } catch {
            throw ServiceError(status: 400, code: "malformed_json", message: "malformed JSON at byte \(error.offset): \(error.message)",
                               offset: error.offset)
        }
        guard case let .object(members) = json else { throw ServiceError.invalid("$", "must be an object like {\"model\": \"NAME\"}") }
        for (key, _) in members where key != "model" { throw ServiceError.invalid("$.\(key)", "unknown field (the body may name a model)") }
        // Absent or null (as every optional field of the API): every model.
        guard let value = json["model"], value != .null else { return nil }
        guard case let .string(name) = value else { throw ServiceError.invalid("$.model", "must be a string, got \(value.typeName)") }
        guard served.contains(name) else {
            throw ServiceError(status: 404, code: "unknown_model",
                               message: "model '\(name)' is not served here; served: \(served.joined(separator: ", "))", field: "$.model")
        }
        return name
    }

    /// The answer: one model's fields at the top (as a single-model server always answered), and every
    /// reloaded model under "models".
    static func answer(_ reports: [RerankService.ModelReloadReport]) -> [String: Any] {
        let models: [[String: Any]] = reports.map { report in
            var fields: [String: Any] = ["model": report.model]
            switch report.outcome {
            case let .switched(hash, seconds):
                fields["status"] = "reloaded"
                fields["sha256"] = hash
                fields["load_seconds"] = (seconds * 1000).rounded() / 1000
            case let .unchanged(hash):
                fields["status"] = "unchanged"
                fields["sha256"] = hash
            case let .failed(reason):
                fields["status"] = "failed"
                fields["error"] = reason
            }
            return fields
        }
        var answer: [String: Any] = ["status": "reloaded", "models": models]
        if models.count == 1, let only = models.first {
            for (key, value) in only where key != "status" { answer[key] = value }
        }
        return answer
    }
}
