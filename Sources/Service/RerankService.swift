import Configuration
import Dispatch
import Foundation
import HTTP
import InstructRec
import T5Scoring
import Tokenizer

/// The InstructRec service: its models by name (each with its tokenizer, templates, settings and
/// inference queue), the workers they share, and metrics, exposed as HTTP routes. One instance per
/// process; each model's weights are loaded once and shared by every worker's scorer of it.
public final class RerankService: @unchecked Sendable {
    public static let version = "0.1.0"

    /// the settings the service started with (HTTP, timeouts, API keys); a reload may bring new model-bound ones
    public let configuration: ServiceConfiguration
    let metrics: Metrics
    /// the BLAS kernels and why (start-up log, /info)
    let kernel: KernelReport
    let stateLock = NSLock()
    private var ready = false
    private var draining = false
    /// the models serving new requests, by name (see `ServingModel`); a reload replaces one whole
    var registry: ModelRegistry
    /// the inference workers every model shares
    let pool: WorkerPool
    /// reloads run one at a time, off every request path
    let reloading = DispatchQueue(label: "instructrec.reload", qos: .utility)
    var reloadInProgress = false
    /// the configuration a reload loads (`serve` re-reads its layers, so an edited instructrec.json applies);
    /// nil: the one the current model was loaded with
    public var reloadConfiguration: (@Sendable () throws -> ServiceConfiguration)?

    /// The models new requests get. A request takes its model once and keeps it to its end.
    var models: ModelRegistry { stateLock.lock(); defer { stateLock.unlock() }; return registry }
    /// The default model (requests that name none).
    var current: ServingModel { models.defaultModel }
    public var pipeline: RankPipeline { current.pipeline }
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

    /// `serve`: the metrics already exist (the start-up router serves them while this loads). Every model of
    /// the configuration loads, in order; any that fails stops the start with its error.
    init(configuration: ServiceConfiguration, kernel: KernelReport, metrics: Metrics) throws {
        self.configuration = configuration
        self.kernel = kernel
        self.metrics = metrics
        threadPlan = ScoringEngine.planThreads(workers: configuration.workers, threadsPerWorker: configuration.threadsPerWorker)
        let pool = WorkerPool(workers: configuration.workers)
        self.pool = pool
        var loaded: [ServingModel] = []
        do {
            for settings in try configuration.modelConfigurations() {
                loaded.append(try ServingModel(configuration: settings, metrics: metrics, pool: pool))
            }
        } catch {
            pool.stop()
            throw error
        }
        registry = ModelRegistry(models: loaded[0], Array(loaded.dropFirst()), aliases: configuration.aliases,
                                 fallback: configuration.fallbackModel)
        for model in loaded { announce(model) }
        setReady(true)
    }

    /// With the engine and tokenizer already in memory (benchmarks, tests).
    public init(configuration: ServiceConfiguration, engine: any ScoringModel, tokenizer: Tokenizer, loadSeconds: Double = 0) throws {
        let kernel = KernelReport.current()
        self.configuration = configuration
        self.kernel = kernel
        metrics = Metrics(version: Self.version, blasCore: kernel.library.coreName)
        threadPlan = ScoringEngine.planThreads(workers: configuration.workers, threadsPerWorker: configuration.threadsPerWorker)
        let pool = WorkerPool(workers: configuration.workers)
        self.pool = pool
        let model = try ServingModel(configuration: configuration, engine: engine, tokenizer: tokenizer, loadSeconds: loadSeconds,
                                     metrics: metrics, pool: pool)
        registry = ModelRegistry(models: model)
        announce(model)
        setReady(true)
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

    /// Every model's queue refuses new jobs; the workers finish what waits, then exit.
    public func stop() { pool.stop() }

    /// Whether the engine's workers split products over helper teams (every engine thread has a core) or over
    /// Dispatch's shared pool, and the cores counted; logged at start-up.
    public let threadPlan: (spinning: Bool, cores: Int)

    /// The served models' names, the default first.
    public var modelNames: [String] { models.names }

    /// Each int8 or bf16 model's kernel by model name ("int8 avx512_vnni", "bf16 avx512_bf16"; start-up log), and
    /// whether it falls short of the fast path (the int8 reference loop, bf16 widened to F32).
    public var reducedPrecisionKernels: [String: (kernel: String, isReference: Bool)] {
        Dictionary(uniqueKeysWithValues: models.models.compactMap { model in
            let fields = model.engine.modelFields
            if let bf16 = fields["bf16_kernel"] as? String { return (model.name, ("bf16 " + bf16, bf16 != "avx512_bf16")) }
            return (fields["int8_kernel"] as? String).map { (model.name, ("int8 " + $0, fields["int8_kernel_is_reference"] as? Bool ?? false)) }
        })
    }

    /// Per model whose instruction_form is candidate_free: its serving templates that have no candidate-free
    /// counterpart, so requests that select them fall back to the list wording (a start-up warning).
    public var candidateFreeGaps: [String: [String]] {
        Dictionary(uniqueKeysWithValues: models.models.compactMap { model in
            guard model.configuration.instructionForm == .candidateFree else { return nil }
            let gaps = model.pipeline.builder.templates.servingTemplatesWithoutCandidateFree
            return gaps.isEmpty ? nil : (model.name, gaps)
        })
    }

    /// Bytes of weights held by every served model together (start-up log).
    public var weightBytes: Int { models.models.reduce(0) { $0 + $1.engine.weightBytes } }

    // MARK: routes

    public func makeRouter() -> Router {
        var router = Router()
        for path in ShapeRegistry.paths {
            router.add("POST", path) { [self] request in await rank(path, request) }
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
            // An admin action needs an API key: without api_keys configured the endpoint is off.
            guard !configuration.apiKeys.isEmpty else {
                fail(responder, route: route, start: start,
                     ServiceError(status: 403, code: "forbidden", message: "POST /admin/reload needs api_keys to be configured (or send SIGHUP)"))
                return
            }
            let name: String?
            do {
                try authorize(request)
                name = try ReloadRequest.modelName(in: request.body, served: modelNames)
            } catch {
                fail(responder, route: route, start: start, error)
                return
            }
            // One named model, or every model (without a body): each loaded again, changed or not.
            reload(model: name) { [self] result in
                guard case let .done(reports) = result else {
                    fail(responder, route: route, start: start,
                         ServiceError(status: 409, code: "reload_in_progress", message: "a reload is already running"))
                    return
                }
                if let failed = reports.first(where: { $0.outcome.failure != nil }), let reason = failed.outcome.failure {
                    fail(responder, route: route, start: start,
                         ServiceError(status: 500, code: "reload_failed",
                                      message: "model '\(failed.model)' did not load; the previous model keeps serving: \(reason)"))
                    return
                }
                respond(responder, route: route, start: start, .json(json(ReloadRequest.answer(reports))))
            }
        }
        router.add("GET", "/info") { [self] _, responder in
            respond(responder, route: "/info", start: .now(), .json(json(info())))
        }
        router.add("GET", "/v1/models") { [self] _, responder in
            respond(responder, route: "/v1/models", start: .now(), .json(json(modelList())))
        }
        router.add("GET", "/openapi.json") { [self] _, responder in
            let model = current
            respond(responder, route: "/openapi.json", start: .now(),
                    .json(json(OpenAPIDocument.make(version: Self.version, context: SchemaContext(limits: model.limits, scorer: model.pipeline.scorerKind)))))
        }
        return router
    }

}
