import Dispatch
import Foundation
import HTTP
import InstructRec
import T5Scoring
import Tokenizer

/// The InstructRec service: model, tokenizer, templates, inference queue and
/// metrics, exposed as HTTP routes. One instance per process; the engine's
/// weights are loaded once and shared by every worker's scorer.
public final class RerankService: @unchecked Sendable {
    public static let version = "0.1.0"

    /// the settings the service started with (HTTP, timeouts, API keys); a reload may bring new model-bound ones
    public let configuration: ServiceConfiguration
    let metrics: Metrics
    /// the BLAS kernels and why (start-up log, /info)
    let kernel: KernelReport
    private let stateLock = NSLock()
    private var ready = false
    private var draining = false
    /// the model serving new requests (see `ServingModel`); replaced whole by `reload`
    private var serving: ServingModel
    /// reloads run one at a time, off every request path
    private let reloading = DispatchQueue(label: "instructrec.reload", qos: .utility)
    private var reloadInProgress = false
    /// the configuration a reload loads (`serve` re-reads its layers, so an edited instructrec.json applies);
    /// nil: the one the current model was loaded with
    public var reloadConfiguration: (@Sendable () throws -> ServiceConfiguration)?

    /// The model new requests get. A request takes it once and keeps it to its end.
    var current: ServingModel { stateLock.lock(); defer { stateLock.unlock() }; return serving }
    public var pipeline: RankPipeline { current.pipeline }
    var builder: InstructionBuilder { current.pipeline.builder }
    var engine: ScoringEngine { current.engine }
    var limits: RequestLimits { current.limits }
    /// prior_catalog at start-up: titles read, priors computed, seconds (nil without a catalog)
    public var priorWarmUp: (titles: Int, computed: Int, seconds: Double)? { current.priorWarmUp }
    /// the serving model's content hash (SHA-256 over its files)
    public var modelHash: String { current.contentHash }

    /// Loads everything and runs one warm-up inference. Throws errors that name the file or setting at fault.
    public convenience init(configuration: ServiceConfiguration) throws {
        let kernel = KernelReport.current()
        try self.init(configuration: configuration, kernel: kernel,
                      metrics: Metrics(version: Self.version, blasCore: kernel.library.coreName))
    }

    /// `serve`: the metrics already exist (the start-up router serves them while this loads).
    init(configuration: ServiceConfiguration, kernel: KernelReport, metrics: Metrics) throws {
        self.configuration = configuration
        self.kernel = kernel
        self.metrics = metrics
        serving = try ServingModel(configuration: configuration, metrics: metrics)
        announce(serving)
        setReady(true)
    }

    /// With the engine and tokenizer already in memory (benchmarks, tests).
    public init(configuration: ServiceConfiguration, engine: ScoringEngine, tokenizer: Tokenizer, loadSeconds: Double = 0) throws {
        let kernel = KernelReport.current()
        self.configuration = configuration
        self.kernel = kernel
        metrics = Metrics(version: Self.version, blasCore: kernel.library.coreName)
        serving = try ServingModel(configuration: configuration, engine: engine, tokenizer: tokenizer, loadSeconds: loadSeconds,
                                   metrics: metrics)
        announce(serving)
        setReady(true)
    }

    /// Metrics that describe the serving model.
    private func announce(_ model: ServingModel) {
        metrics.modelLoadSeconds.set(model.loadSeconds)
        metrics.modelLoadedAt.set(model.loadedAt.timeIntervalSince1970)
        metrics.setModel(model.identity)
        metrics.priorCache = model.pipeline.priors
    }

    /// What a reload ended with.
    public enum ReloadOutcome: Sendable {
        /// the new model serves; its content hash
        case switched(hash: String, seconds: Double)
        /// the old model keeps serving; why the new one did not load
        case failed(String)
        /// another reload is running; this one was not started
        case alreadyRunning
    }

    /// SIGHUP and POST /admin/reload: loads the configured model directory in the background, warms it,
    /// then switches new requests to it atomically. Requests already planned finish on the old model
    /// (its queue is stopped, its waiting jobs still run), which is freed after them. A load that fails
    /// keeps the old model serving, is logged and counted (`instructrec_model_reload_failures_total`).
    /// Both models are in memory while the new one loads.
    public func reload(completion: (@Sendable (ReloadOutcome) -> Void)? = nil) {
        stateLock.lock()
        if reloadInProgress { stateLock.unlock(); completion?(.alreadyRunning); return }
        reloadInProgress = true
        stateLock.unlock()
        reloading.async { [self] in
            let started = DispatchTime.now()
            let outcome: ReloadOutcome
            do {
                let configuration = try reloadConfiguration?() ?? current.configuration
                let model = try ServingModel(configuration: configuration, metrics: metrics)
                stateLock.lock()
                let old = serving
                serving = model
                stateLock.unlock()
                old.queue.stop()
                announce(model)
                metrics.reloads.increment()
                outcome = .switched(hash: model.contentHash, seconds: milliseconds(started, .now()) / 1e3)
                JSONLog.shared.info("model reloaded", ["model": configuration.model, "sha256": model.contentHash,
                                                       "previous_sha256": old.contentHash,
                                                       "load_ms": (milliseconds(started, .now()) * 100).rounded() / 100])
            } catch {
                metrics.reloadFailures.increment()
                outcome = .failed(String(describing: error))
                JSONLog.shared.error("model reload failed; the previous model keeps serving", ["error": String(describing: error)])
            }
            stateLock.lock(); reloadInProgress = false; stateLock.unlock()
            completion?(outcome)
        }
    }

    /// The instruction plan the service would build for a request body at a path (benchmarks).
    public func plan(path: String, body: [UInt8]) throws -> InstructionPlan {
        let model = current
        let decoded = try decode(path: path, body: body, limits: model.limits).decoded
        return try model.pipeline.plan(decoded.query)
    }

    /// Parses a body and decodes it with the shape that takes it at `path`.
    func decode(path: String, body: [UInt8], limits: RequestLimits? = nil) throws -> (shape: AnyShape, decoded: DecodedRequest) {
        let limits = limits ?? self.limits
        let shapes = ShapeRegistry.shapes(at: path)
        let json = try parseJSON(body)
        guard let shape = ShapeRegistry.select(shapes, for: json) else {
            throw ServiceError(status: 404, code: "unknown_endpoint", message: "no API shape at \(path); use one of \(ShapeRegistry.paths.joined(separator: ", "))")
        }
        do { return (shape, try shape.decode(json, limits)) } catch let error as ServiceError { throw ShapedError(shape: shape, error: error) }
    }

    func parseJSON(_ body: [UInt8]) throws -> JSONValue {
        do { return try JSONValue.parse(body) } catch {
            throw ServiceError(status: 400, code: "malformed_json",
                               message: "malformed JSON at byte \(error.offset): \(error.message)", offset: error.offset)
        }
    }

    var isReady: Bool { stateLock.lock(); defer { stateLock.unlock() }; return ready && !draining }
    var isLoaded: Bool { stateLock.lock(); defer { stateLock.unlock() }; return ready }

    func setReady(_ value: Bool) {
        stateLock.lock(); ready = value; stateLock.unlock()
        metrics.ready.set(isReady ? 1 : 0)
    }

    /// SIGTERM: readiness turns false at once; the caller stops the listener later.
    public func beginDraining() {
        stateLock.lock(); draining = true; stateLock.unlock()
        metrics.ready.set(0)
    }

    public func stop() { current.queue.stop() }

    // MARK: routes

    public func makeRouter() -> Router {
        var router = Router()
        for path in ShapeRegistry.paths {
            let shapes = ShapeRegistry.shapes(at: path)
            router.add("POST", path) { [self] request in await rank(path, shapes, request) }
        }
        router.add("GET", "/healthz") { [self] _, responder in
            respond(responder, route: "/healthz", start: .now(), .json(Array(#"{"status":"ok"}"#.utf8)))
        }
        router.add("GET", "/readyz") { [self] _, responder in
            let state = isReady ? "ready" : (draining ? "draining" : "loading")
            respond(responder, route: "/readyz", start: .now(),
                    .json(Array("{\"status\":\"\(state)\"}".utf8), status: isReady ? 200 : 503))
        }
        router.add("GET", "/metrics") { [self] _, responder in
            respond(responder, route: "/metrics", start: .now(), metrics.response())
        }
        router.add("POST", "/admin/reload") { [self] request, responder in
            let start = DispatchTime.now(), route = "/admin/reload"
            let errors = ShapeRegistry.all[0]
            // An admin action needs an API key: without api_keys configured the endpoint is off.
            guard !configuration.apiKeys.isEmpty else {
                fail(responder, route: route, start: start, errors,
                     ServiceError(status: 403, code: "forbidden", message: "POST /admin/reload needs api_keys to be configured (or send SIGHUP)"))
                return
            }
            do { try authorize(request) } catch {
                fail(responder, route: route, start: start, errors, ServiceError.from(error))
                return
            }
            reload { [self] outcome in
                switch outcome {
                case let .switched(hash, seconds):
                    respond(responder, route: route, start: start,
                            .json(json(["status": "reloaded", "sha256": hash, "load_seconds": (seconds * 1000).rounded() / 1000])))
                case let .failed(reason):
                    fail(responder, route: route, start: start, errors,
                         ServiceError(status: 500, code: "reload_failed", message: "the previous model keeps serving: \(reason)"))
                case .alreadyRunning:
                    fail(responder, route: route, start: start, errors,
                         ServiceError(status: 409, code: "reload_in_progress", message: "a reload is already running"))
                }
            }
        }
        router.add("GET", "/info") { [self] _, responder in
            respond(responder, route: "/info", start: .now(), .json(json(info())))
        }
        router.add("GET", "/openapi.json") { [self] _, responder in
            let model = current
            respond(responder, route: "/openapi.json", start: .now(),
                    .json(json(OpenAPIDocument.make(version: Self.version, context: SchemaContext(limits: model.limits, scorer: model.pipeline.scorerKind)))))
        }
        return router
    }

    private func info() -> [String: Any] {
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
            ],
            // The effective model-bound settings and the layer each came from.
            "settings": Dictionary(uniqueKeysWithValues: settingValues(configuration).map { key, value in
                (key, ["value": value, "source": configuration.sources[key] ?? "default"] as [String: Any])
            }),
            "api_shapes": ShapeRegistry.all.map { ["name": $0.name, "path": $0.path] },
            "workers": configuration.workers, "threads_per_worker": configuration.threadsPerWorker,
            "queue_capacity": configuration.queueCapacity, "blas": kernel.fields,
            "batching": ["max_batch_requests": configuration.maxBatchRequests, "max_batch_tokens": configuration.maxBatchTokens,
                         "call_tokens": configuration.batchLimits.maxTokens,
                         "batch_wait_ms": configuration.batchWaitMilliseconds, "reserve_scratch": configuration.reserveScratch],
        ]
    }

    private func settingValues(_ configuration: ServiceConfiguration) -> [String: Any] {
        ["max_input_tokens": configuration.maxInputTokens, "max_history_items": configuration.maxHistoryItems,
         "max_history_title_tokens": configuration.maxHistoryTitleTokens, "max_target_tokens": configuration.maxTargetTokens,
         "templates": configuration.templates, "model": configuration.model,
         "scoring": configuration.scoringMode.rawValue, "prior_weight": Double(configuration.priorWeight),
         "unfamiliar_prior_weight": configuration.unfamiliarPriorWeight.map { Double($0) as Any } ?? NSNull(),
         "familiarity_threshold": Double(configuration.familiarityThreshold),
         "instruction_form": configuration.instructionForm.rawValue, "relevance": configuration.relevanceMode.rawValue,
         "relevance_scale": configuration.relevanceScale, "relevance_bias": configuration.relevanceBias,
         "prior_cache_entries": configuration.priorCacheEntries, "prior_cache_mb": configuration.priorCacheMegabytes,
         "prior_catalog": configuration.priorCatalog ?? NSNull(),
         "scorer": configuration.scorer.rawValue, "yes_no_template": configuration.yesNoTemplate ?? NSNull(),
         "yes_token": configuration.yesToken ?? NSNull(), "no_token": configuration.noToken ?? NSNull(),
         "tokenizer": configuration.tokenizer ?? configuration.model]
    }

    // MARK: ranking

    /// A ranking request: decode → `RankPipeline.run` on the serving model's queue → encode, in the shape
    /// that took the body. Every answer, errors included, is the returned response (counted once here).
    /// One model for the whole request, even if a reload switches models meanwhile; a request that meets a
    /// queue stopped by a reload runs again on the new model (never answered 503 for it).
    private func rank(_ path: String, _ shapes: [AnyShape], _ request: HTTPRequest) async -> HTTPResponse {
        let start = DispatchTime.now()
        var shape = shapes[0]
        var timeout = configuration.requestTimeoutMilliseconds
        let response: HTTPResponse
        do {
            try authorize(request)
            try checkContentType(request)
            // While draining, readiness is false but requests are still served: the load balancer needs
            // the drain delay to notice, and nothing may fail meanwhile.
            if !isLoaded { throw ServiceError(status: 503, code: "loading", message: "model is loading", retryAfterSeconds: 1) }
            response = try await rankOnServingModel(path, request, start: start, shape: &shape, timeout: &timeout)
        } catch let shaped as ShapedError {
            response = shaped.shape.errorResponse(shaped.error)
        } catch {
            response = shape.errorResponse(failure(error, timeout: timeout))
        }
        count(response, route: path, start: start)
        return response
    }

    private func rankOnServingModel(_ path: String, _ request: HTTPRequest, start: DispatchTime,
                                    shape: inout AnyShape, timeout: inout Int) async throws -> HTTPResponse {
        for _ in 0..<3 {
            let model = current
            let decoded: DecodedRequest
            (shape, decoded) = try decode(path: path, body: request.body, limits: model.limits)
            timeout = min(decoded.query.timeoutMilliseconds ?? configuration.requestTimeoutMilliseconds, configuration.requestTimeoutMilliseconds)
            let deadline = start + .milliseconds(timeout)
            var outcome: RankOutcome
            do {
                let pipeline = model.pipeline, queue = model.queue, query = decoded.query
                outcome = try await Deadline.race(deadline, live: metrics.deadlineTimers) {
                    try await pipeline.run(query, backend: queue, deadline: deadline)
                }
            } catch InferenceQueue.Refusal.stopped {
                continue
            }
            if DispatchTime.now() > deadline { throw DeadlinePassed() }
            outcome.requestID = request.requestID
            outcome.timing.total = milliseconds(start, .now())
            let json = try decoded.encode(outcome)
            metrics.tokens.increment(["kind": "instruction"], by: Double(outcome.usage.instructionTokens))
            metrics.tokens.increment(["kind": "candidate"], by: Double(outcome.usage.candidateTokens))
            metrics.candidates.increment(by: Double(decoded.query.candidates.count))
            var response = HTTPResponse.json(json)
            UsageHeaders.set(outcome, on: &response.headers)
            return response
        }
        throw ServiceError.overloaded
    }

    /// The error of a ranking request as the client gets it.
    private func failure(_ error: any Error, timeout: Int) -> ServiceError {
        switch error {
        case is DeadlinePassed: return timeoutError(timeout)
        // The client left (its task was cancelled, or the worker dropped its job): 499, nginx's "client
        // closed request", counted in metrics; nobody reads it, and the connection closes at once.
        case is CancellationError:
            return ServiceError(status: 499, code: "client_closed_request", message: "the client closed the connection")
        case InferenceQueue.Refusal.full, InferenceQueue.Refusal.stopped: return .overloaded
        case let shaped as ShapedError: return shaped.error
        default: return ServiceError.from(error)
        }
    }

    /// Counts a ranking answer (route, status, latency).
    private func count(_ response: HTTPResponse, route: String, start: DispatchTime) {
        metrics.requests.increment(["route": route, "status": String(response.status)])
        metrics.latency.observe(milliseconds(start, .now()) / 1e3, ["route": route])
    }

    private func timeoutError(_ milliseconds: Int) -> ServiceError {
        ServiceError(status: 504, code: "deadline_exceeded", message: "the request did not finish within \(milliseconds) ms")
    }

    /// `instructrec score`: the same request and response as POST <path>, without HTTP.
    /// `endpoint` is a path ("/v2/rerank") or a name without the slash ("recommend", "v1/rerank").
    public func scoreDirectly(endpoint: String, body: [UInt8]) -> (status: Int, json: [UInt8]) {
        let path = endpoint.hasPrefix("/") ? endpoint : "/" + endpoint
        let shapes = ShapeRegistry.shapes(at: path)
        guard let primary = shapes.first else {
            let known = ShapeRegistry.paths.map { String($0.dropFirst()) }.joined(separator: ", ")
            let error = ServiceError(status: 400, code: "unknown_endpoint", message: "unknown endpoint '\(endpoint)'; use one of \(known)")
            return (400, ShapeRegistry.all[0].errorBody(error).body)
        }
        var shape = primary
        do {
            let (chosen, decoded) = try decode(path: path, body: body, limits: limits)
            shape = chosen
            let model = current
            model.directLock.lock()
            defer { model.directLock.unlock() }
            var outcome = try model.pipeline.run(decoded.query, scorer: model.directScorer)   // RankPipeline.run, waited for
            outcome.requestID = "cli"
            return (200, try decoded.encode(outcome))
        } catch {
            let (errorShape, failure) = (error as? ShapedError).map { ($0.shape, $0.error) } ?? (shape, ServiceError.from(error))
            return (failure.status, errorShape.errorBody(failure).body)
        }
    }

    // MARK: helpers

    private func authorize(_ request: HTTPRequest) throws {
        guard !configuration.apiKeys.isEmpty else { return }
        let header = request.headers["Authorization"] ?? ""
        let presented = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : ""
        // Compare against every key in constant time, so timing reveals neither which key nor how much matched.
        var matched = false
        for key in configuration.apiKeys { matched = constantTimeEquals(presented, key) || matched }
        if !matched {
            var error = ServiceError(status: 401, code: "unauthorized", message: "missing or invalid 'Authorization: Bearer <key>' header")
            error.field = nil
            throw error
        }
    }

    private func checkContentType(_ request: HTTPRequest) throws {
        let type = request.headers["Content-Type"]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard type == "application/json" else {
            throw ServiceError(status: 415, code: "unsupported_media_type",
                               message: "Content-Type must be application/json, got '\(request.headers["Content-Type"] ?? "none")'",
                               field: "Content-Type")
        }
    }

    func respond(_ responder: Responder, route: String, start: DispatchTime, _ response: HTTPResponse) {
        let elapsed = milliseconds(start, .now()) / 1e3
        // Only the first answer counts (a 504 timer may race a late result).
        if responder.respond(response) {
            metrics.requests.increment(["route": route, "status": String(response.status)])
            metrics.latency.observe(elapsed, ["route": route])
        }
    }

    func fail(_ responder: Responder, route: String, start: DispatchTime, _ shape: AnyShape, _ error: ServiceError) {
        respond(responder, route: route, start: start, shape.errorResponse(error))
    }

    func json(_ object: Any) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }

}

/// Compares two strings in time that depends only on their lengths.
func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) {
        difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return difference == 0
}

/// A decoding error together with the shape whose envelope must carry it.
struct ShapedError: Error {
    let shape: AnyShape
    let error: ServiceError
}
