import Configuration
import Dispatch
import Foundation
import HTTP
import InstructRec
import T5Scoring
import Tokenizer

/// GET /info: every served model (source, content hash, scorer, settings, weight bytes), the default model's
/// effective settings and where each came from, limits, kernels. GET /v1/models: the served names.
extension RerankService {
    /// One model as /info shows it.
    func modelFields(_ serving: ServingModel, isDefault: Bool) -> [String: Any] {
        let configuration = serving.configuration
        var model = serving.engine.modelFields
        model["name"] = serving.name
        model["default"] = isDefault
        model["source"] = configuration.modelHubID ?? configuration.model
        if configuration.modelHubID != nil { model["snapshot"] = configuration.model }
        model["path"] = URL(fileURLWithPath: configuration.model).lastPathComponent
        model["sha256"] = serving.contentHash
        model["loaded_at"] = ISO8601DateFormatter().string(from: serving.loadedAt)
        model["load_seconds"] = (serving.loadSeconds * 1000).rounded() / 1000
        model["scorer"] = serving.pipeline.scorerKind.rawValue
        model["weight_bytes"] = serving.engine.weightBytes
        model["tokenizer"] = URL(fileURLWithPath: serving.pipeline.builder.tokenizer.source).lastPathComponent
        model["templates"] = serving.pipeline.builder.templates.templates.keys.sorted()
        model["settings"] = settingsWithSources(configuration, only: Set(ModelEntry.settingKeys + ["model"]))
        return model
    }

    /// Settings as {key: {value, source}} (secrets redacted); `only`: just these keys.
    func settingsWithSources(_ configuration: ServiceConfiguration, only: Set<String>? = nil) -> [String: Any] {
        Dictionary(uniqueKeysWithValues: settingValues(configuration).filter { only?.contains($0.key) ?? true }.map { key, value in
            // No tokenizer set (absent or null, wherever): the model directory's, whatever layer said null.
            if key == "tokenizer" && configuration.tokenizer == nil {
                return (key, ["value": value, "source": "the model directory"] as [String: Any])
            }
            return (key, ["value": value, "source": configuration.sources[key] == "flag" ? configuration.origin(of: key)
                                                    : configuration.sources[key] ?? "default"] as [String: Any])
        })
    }

    /// A Float setting as the decimal it was written as (0.3, not 0.30000001192092896).
    static func decimal(_ value: Float) -> Double { Double("\(value)") ?? Double(value) }

    /// GET /v1/models, in the list shape of the OpenAI-style APIs vLLM and Infinity serve: every served model,
    /// then every alias (as a model whose `root` is the model it names).
    func modelList() -> [String: Any] {
        let served = models
        var data: [[String: Any]] = served.models.map { model in
            ["id": model.name, "object": "model", "created": Int(model.loadedAt.timeIntervalSince1970), "owned_by": "instructrec",
             "root": model.configuration.model, "parent": NSNull()]
        }
        for (alias, target) in served.aliases.sorted(by: { $0.key < $1.key }) {
            data.append(["id": alias, "object": "model", "created": Int(served.model(named: target)?.loadedAt.timeIntervalSince1970 ?? 0),
                         "owned_by": "instructrec", "root": target, "parent": target])
        }
        return ["object": "list", "data": data]
    }

    func info() -> [String: Any] {
        let served = models
        let serving = served.defaultModel
        let configuration = serving.configuration
        let model = modelFields(serving, isDefault: true)
        return [
            "service": "instructrec", "version": Self.version,
            "model": model,
            "models": served.models.enumerated().map { modelFields($1, isDefault: $0 == 0) },
            "aliases": served.aliases, "fallback_model": served.fallback ?? NSNull(),
            "weight_bytes": served.models.reduce(0) { $0 + $1.engine.weightBytes },
            "tokenizer": URL(fileURLWithPath: serving.pipeline.builder.tokenizer.source).lastPathComponent,
            "templates": serving.pipeline.builder.templates.templates.keys.sorted(),
            "limits": [
                "max_input_tokens": configuration.maxInputTokens, "max_target_tokens": configuration.maxTargetTokens,
                "max_candidates": configuration.maxCandidates, "max_history_items": configuration.maxHistoryItems,
                "request_timeout_ms": self.configuration.requestTimeoutMilliseconds,
                // HTTP settings are the start-up configuration's (a reload does not change them).
                "max_connections": self.configuration.maxConnections,
                "probe_reserve_connections": ServiceHost.probeReserve.slots,
            ],
            // Every effective setting of the default model and the layer it came from (secrets redacted).
            "settings": settingsWithSources(configuration),
            "api_shapes": ShapeRegistry.all.map { ["name": $0.name, "path": $0.path] },
            "workers": configuration.workers, "threads_per_worker": configuration.threadsPerWorker,
            "queue_capacity": configuration.queueCapacity, "blas": kernel.fields,
            "batching": ["max_batch_requests": configuration.maxBatchRequests, "max_batch_tokens": configuration.maxBatchTokens,
                         "call_tokens": configuration.batchLimits.maxTokens,
                         "batch_wait_ms": configuration.batchWaitMilliseconds, "reserve_scratch": configuration.reserveScratch],
        ]
    }

    func settingValues(_ configuration: ServiceConfiguration) -> [String: Any] {
        ["max_input_tokens": configuration.maxInputTokens, "max_history_items": configuration.maxHistoryItems,
         "max_history_title_tokens": configuration.maxHistoryTitleTokens, "max_target_tokens": configuration.maxTargetTokens,
         "templates": configuration.templates, "model": configuration.model,
         "scoring": configuration.scoringMode.rawValue, "prior_weight": Self.decimal(configuration.priorWeight),
         "query_prior_weight": configuration.queryPriorWeight.map { Self.decimal($0) as Any } ?? NSNull(),
         "query_relevance_scale": configuration.queryRelevanceScale ?? NSNull(),
         "query_relevance_bias": configuration.queryRelevanceBias ?? NSNull(),
         "exclude_history": configuration.excludeHistory,
         "relevance_reference_titles": configuration.relevanceReferenceTitles,
         "instruction_form": configuration.instructionForm.rawValue, "relevance": configuration.relevanceMode.rawValue,
         "relevance_scale": configuration.relevanceScale, "relevance_bias": configuration.relevanceBias,
         "prior_cache_entries": configuration.priorCacheEntries, "prior_cache_mb": configuration.priorCacheMegabytes,
         "prior_catalog": configuration.priorCatalog ?? NSNull(),
         "scorer": configuration.scorer.rawValue, "yes_no_template": configuration.yesNoTemplate ?? NSNull(),
         "yes_token": configuration.yesToken ?? NSNull(), "no_token": configuration.noToken ?? NSNull(),
         "tokenizer": configuration.tokenizer ?? configuration.model]
            .merging(processSettingValues(self.configuration)) { model, _ in model }
    }

    /// The settings of the process (listening, workers, limits, security, shutdown): the start-up configuration's,
    /// since a reload does not change them. Secrets are redacted: `api_keys` shows how many keys there are.
    func processSettingValues(_ configuration: ServiceConfiguration) -> [String: Any] {
        let names: [String] = [configuration.modelName] + configuration.additionalModels.map(\.name)
        let aliases: [String] = configuration.aliases.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let served: [String: Any] = ["models": names.joined(separator: ","), "aliases": aliases.joined(separator: ","),
                                     "fallback_model": configuration.fallbackModel ?? NSNull()]
        return served.merging(["host": configuration.host, "port": configuration.port, "workers": configuration.workers,
         "threads_per_worker": configuration.threadsPerWorker, "queue_capacity": configuration.queueCapacity,
         "max_batch_requests": configuration.maxBatchRequests, "max_batch_tokens": configuration.maxBatchTokens,
         "batch_wait_ms": configuration.batchWaitMilliseconds, "reserve_scratch": configuration.reserveScratch,
         "request_timeout_ms": configuration.requestTimeoutMilliseconds, "max_candidates": configuration.maxCandidates,
         "max_text_chars": configuration.maxTextCharacters, "max_body_bytes": configuration.maxBodyBytes,
         "max_connections": configuration.maxConnections,
         "api_keys": configuration.apiKeys.isEmpty ? "none" : "redacted (\(configuration.apiKeys.count) key\(configuration.apiKeys.count == 1 ? "" : "s"))",
         "tls_cert": configuration.tlsCertificate ?? NSNull(), "tls_key": configuration.tlsKey ?? NSNull(),
         "drain_delay_s": configuration.drainDelaySeconds, "shutdown_deadline_s": configuration.shutdownDeadlineSeconds,
         "idle_timeout_s": configuration.idleTimeoutSeconds, "log_requests": configuration.logRequests,
         "weights_dtype": configuration.weightsDType.rawValue, "context_cache_mb": configuration.contextCacheMegabytes]) { a, _ in a }
    }
}
