import Configuration
import Dispatch
import Foundation
import HTTP
import InstructRec
import T5Scoring
import Tokenizer

/// GET /info: the serving model, its effective settings and where each came from, limits, kernels.
extension RerankService {
    func info() -> [String: Any] {
        let serving = current
        let configuration = serving.configuration
        var model = serving.engine.modelFields
        model["path"] = URL(fileURLWithPath: configuration.model).lastPathComponent
        model["sha256"] = serving.contentHash
        model["loaded_at"] = ISO8601DateFormatter().string(from: serving.loadedAt)
        model["load_seconds"] = (serving.loadSeconds * 1000).rounded() / 1000
        model["scorer"] = serving.pipeline.scorerKind.rawValue
        return [
            "service": "instructrec", "version": Self.version,
            "model": model,
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
            // Every effective setting and the layer it came from (secrets redacted).
            "settings": Dictionary(uniqueKeysWithValues: settingValues(configuration).map { key, value in
                (key, ["value": value, "source": configuration.sources[key] == "flag" ? configuration.origin(of: key)
                                                     : configuration.sources[key] ?? "default"] as [String: Any])
            }),
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
         "scoring": configuration.scoringMode.rawValue, "prior_weight": Double(configuration.priorWeight),
         "query_prior_weight": configuration.queryPriorWeight.map { Double($0) as Any } ?? NSNull(),
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
        ["host": configuration.host, "port": configuration.port, "workers": configuration.workers,
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
         "weights_dtype": configuration.weightsDType.rawValue]
    }
}
