import Configuration
import Foundation

/// The models a replica serves, by name, and how a request's `model` field finds one.
///
/// - No `model` field (and TEI, whose shape has none): the default model, the first configured.
/// - One model served: any value is accepted and answered by it, as clients that send a vendor's
///   model name (`rerank-v3.5`) expect of a single-model server.
/// - Several: the model of that name, or of that alias (`aliases`), or else `fallback_model` when one is
///   set; otherwise 404 `unknown_model`, naming the models served.
///
/// A value: the service swaps in a new registry when a reload replaces one model.
struct ModelRegistry: Sendable {
    /// the served models in configured order; the first is the default
    private(set) var models: [ServingModel]
    let aliases: [String: String]
    let fallback: String?

    init(models first: ServingModel, _ rest: [ServingModel] = [], aliases: [String: String] = [:], fallback: String? = nil) {
        models = [first] + rest
        self.aliases = aliases
        self.fallback = fallback
    }

    var defaultModel: ServingModel { models[0] }
    var names: [String] { models.map(\.name) }

    func model(named name: String) -> ServingModel? { models.first { $0.name == name } }

    /// The model that answers a request naming `requested` (nil: none named).
    func resolve(_ requested: String?) throws -> ServingModel {
        guard let requested, models.count > 1 else { return defaultModel }
        if let model = model(named: requested) { return model }
        if let target = aliases[requested], let model = model(named: target) { return model }
        if let fallback, let model = model(named: fallback) { return model }
        let aliasText = aliases.isEmpty ? "" : "; aliases: " + aliases.keys.sorted().map { "\($0) (\(aliases[$0] ?? ""))" }.joined(separator: ", ")
        throw ServiceError(status: 404, code: "unknown_model",
                           message: "model '\(requested)' is not served here; served: \(names.joined(separator: ", "))\(aliasText)",
                           field: "$.model")
    }

    /// The same registry with `replacement` serving under its name; the model it replaced.
    func replacing(with replacement: ServingModel) -> (registry: ModelRegistry, replaced: ServingModel?) {
        var copy = self
        guard let index = models.firstIndex(where: { $0.name == replacement.name }) else { return (self, nil) }
        let old = copy.models[index]
        copy.models[index] = replacement
        return (copy, old)
    }
}
