import Dispatch
import Foundation
import HTTP
import InstructRec
import T5
import Tokenizer

/// The InstructRec service: model, tokenizer, templates, inference queue and
/// metrics, exposed as HTTP routes. One instance per process; the weights are
/// loaded once and shared by every worker's scorer.
public final class RerankService: @unchecked Sendable {
    public static let version = "0.1.0"

    public let configuration: ServiceConfiguration
    let builder: InstructionBuilder
    let weights: T5Weights
    let metrics = Metrics()
    private(set) var queue: InferenceQueue!
    private let stateLock = NSLock()
    private var ready = false
    private var draining = false
    private let directScorer: T5Scorer
    private let directLock = NSLock()

    /// Loads everything and runs one warm-up inference. Throws errors that name
    /// the file or setting at fault.
    public convenience init(configuration: ServiceConfiguration) throws {
        try BLASSelfCheck.run()
        let started = DispatchTime.now().uptimeNanoseconds
        let weights = try T5Weights(directory: URL(fileURLWithPath: configuration.model))
        let tokenizerURL = URL(fileURLWithPath: configuration.tokenizer ?? configuration.model)
        let tokenizer: Tokenizer
        if tokenizerURL.pathExtension == "json" {
            tokenizer = try Tokenizer(tokenizerJSON: tokenizerURL)
        } else if tokenizerURL.pathExtension == "model" {
            tokenizer = try Tokenizer(sentencePieceModel: tokenizerURL)
        } else {
            tokenizer = try Tokenizer.load(directory: tokenizerURL)
        }
        try self.init(configuration: configuration, weights: weights, tokenizer: tokenizer,
                      loadSeconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }

    /// With weights and tokenizer already in memory (benchmarks, tests).
    public init(configuration: ServiceConfiguration, weights: T5Weights, tokenizer: Tokenizer, loadSeconds: Double = 0) throws {
        self.configuration = configuration
        self.weights = weights
        if tokenizer.vocabularySize > weights.config.vocabSize {
            throw ServiceConfiguration.Invalid(setting: "tokenizer",
                                               reason: "tokenizer has \(tokenizer.vocabularySize) ids but the model only \(weights.config.vocabSize)")
        }
        let templates = try TemplateSet(contentsOf: URL(fileURLWithPath: configuration.templates))
        builder = InstructionBuilder(templates: templates, tokenizer: tokenizer, options: configuration.instructionOptions)
        metrics.modelLoadSeconds.set(loadSeconds)
        var scorers: [T5Scorer] = []
        for _ in 0..<configuration.workers { scorers.append(T5Scorer(weights: weights, threads: configuration.threadsPerWorker)) }
        directScorer = T5Scorer(weights: weights, threads: configuration.threadsPerWorker)
        queue = InferenceQueue(scorers: scorers, capacity: configuration.queueCapacity, metrics: metrics)
        try warmUp(scorers + [directScorer])
        setReady(true)
    }

    /// The instruction plan the service would build for a request body (benchmarks).
    public func plan(endpoint: String, body: [UInt8]) throws -> InstructionPlan {
        guard let kind = RankRequest.Endpoint(rawValue: endpoint) else { throw ServiceError(status: 400, code: "unknown_endpoint", message: endpoint) }
        let rank = try RankRequestDecoder.decode(body, endpoint: kind, limits: configuration.requestLimits)
        return try builder.plan(context: rank.context, candidates: rank.candidates, template: rank.template)
    }

    /// One inference per scorer so the first real request does not pay for
    /// page faults and workspace allocation.
    private func warmUp(_ scorers: [T5Scorer]) throws {
        let plan = try builder.plan(context: UserContext(history: [Item(id: "w", title: "warm up")]),
                                    candidates: [Item(id: "a", title: "first item"), Item(id: "b", title: "second item")])
        for scorer in scorers { _ = try Reranker.score(plan, scorer: scorer, reduction: .sum) }
    }

    var isReady: Bool { stateLock.lock(); defer { stateLock.unlock() }; return ready && !draining }
    var isLoaded: Bool { stateLock.lock(); defer { stateLock.unlock() }; return ready }
    public var isDraining: Bool { stateLock.lock(); defer { stateLock.unlock() }; return draining }

    func setReady(_ value: Bool) {
        stateLock.lock(); ready = value; stateLock.unlock()
        metrics.ready.set(isReady ? 1 : 0)
    }

    /// SIGTERM: readiness turns false at once; the caller stops the listener later.
    public func beginDraining() {
        stateLock.lock(); draining = true; stateLock.unlock()
        metrics.ready.set(0)
    }

    public func stop() { queue.stop() }

    // MARK: routes

    public func makeRouter() -> Router {
        var router = Router()
        for endpoint in [RankRequest.Endpoint.recommend, .search, .rerank] {
            router.add("POST", "/\(endpoint.rawValue)") { [self] request, responder in
                handleRank(endpoint, request, responder)
            }
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
            var response = HTTPResponse.text(metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
            response.status = 200
            responder.respond(response)
        }
        router.add("GET", "/info") { [self] _, responder in
            respond(responder, route: "/info", start: .now(), .json(json(info())))
        }
        router.add("GET", "/openapi.json") { [self] _, responder in
            respond(responder, route: "/openapi.json", start: .now(), .json(json(OpenAPIDocument.make(version: Self.version))))
        }
        return router
    }

    private func info() -> [String: Any] {
        let c = weights.config
        return [
            "service": "instructrec", "version": Self.version,
            "model": [
                "path": URL(fileURLWithPath: configuration.model).lastPathComponent,
                "d_model": c.dModel, "d_ff": c.dFF, "d_kv": c.dKV, "num_heads": c.numHeads,
                "num_layers": c.numLayers, "num_decoder_layers": c.numDecoderLayers, "vocab_size": c.vocabSize,
                "feed_forward_proj": c.feedForwardProj, "tie_word_embeddings": c.tieWordEmbeddings,
            ],
            "tokenizer": URL(fileURLWithPath: builder.tokenizer.source).lastPathComponent,
            "templates": builder.templates.templates.keys.sorted(),
            "limits": [
                "max_input_tokens": configuration.maxInputTokens, "max_target_tokens": configuration.maxTargetTokens,
                "max_candidates": configuration.maxCandidates, "max_history_items": configuration.maxHistoryItems,
                "request_timeout_ms": configuration.requestTimeoutMilliseconds,
            ],
            "workers": configuration.workers, "threads_per_worker": configuration.threadsPerWorker,
            "queue_capacity": configuration.queueCapacity, "blas": GEMM.coreName,
        ]
    }

    // MARK: ranking

    private func handleRank(_ endpoint: RankRequest.Endpoint, _ request: HTTPRequest, _ responder: Responder) {
        let start = DispatchTime.now()
        let route = "/\(endpoint.rawValue)"
        do {
            try authorize(request)
            try checkContentType(request)
            // While draining, readiness is false but requests are still served: the
            // load balancer needs the drain delay to notice, and nothing may fail meanwhile.
            if !isLoaded { throw ServiceError(status: 503, code: "loading", message: "model is loading", retryAfterSeconds: 1) }
            let rank = try RankRequestDecoder.decode(request.body, endpoint: endpoint, limits: configuration.requestLimits)
            let tokenizeStart = DispatchTime.now()
            let plan = try builder.plan(context: rank.context, candidates: rank.candidates, template: rank.template)
            let tokenizeSeconds = seconds(since: tokenizeStart)
            let timeout = min(rank.timeoutMilliseconds ?? configuration.requestTimeoutMilliseconds, configuration.requestTimeoutMilliseconds)
            let deadline = start + .milliseconds(timeout)
            let requestID = request.requestID
            let enqueued = DispatchTime.now()
            let job = InferenceQueue.Job(
                isAbandoned: { responder.isClientGone },
                run: { [self] scorer in
                    let queueSeconds = seconds(since: enqueued)
                    metrics.queueWait.observe(queueSeconds)
                    do {
                        let (scores, usage) = try Reranker.score(plan, scorer: scorer, reduction: rank.reduction)
                        if DispatchTime.now() > deadline { throw timeoutError(timeout) }
                        let body = rankingResponse(rank, plan: plan, scores: scores, usage: usage, requestID: requestID,
                                                   timing: ["queue": queueSeconds, "tokenize": tokenizeSeconds,
                                                            "encode": usage.encodeSeconds, "decode": usage.decodeSeconds,
                                                            "total": seconds(since: start)])
                        metrics.tokens.increment(["kind": "instruction"], by: Double(usage.instructionTokens))
                        metrics.tokens.increment(["kind": "candidate"], by: Double(usage.candidateTokens))
                        metrics.candidates.increment(by: Double(rank.candidates.count))
                        respond(responder, route: route, start: start, .json(json(body)))
                    } catch {
                        fail(responder, route: route, start: start, ServiceError.from(error))
                    }
                },
                dropped: { [self] reason in
                    if reason == .deadline { fail(responder, route: route, start: start, timeoutError(timeout)) }
                    else {
                        // The client left before its job ran. Answer now (499, nginx's "client closed
                        // request", counted in metrics; nobody reads it) so the connection closes at
                        // once instead of sitting in CLOSE_WAIT until the deadline timer fires.
                        fail(responder, route: route, start: start,
                             ServiceError(status: 499, code: "client_closed_request", message: "the client closed the connection"))
                    }
                },
                deadline: deadline)
            guard queue.submit(job) else { throw ServiceError.overloaded }
            // Answer 504 on time even if the job is still waiting; the worker skips it then.
            DispatchQueue.global().asyncAfter(deadline: deadline + .milliseconds(5)) { [self] in
                fail(responder, route: route, start: start, timeoutError(timeout))
            }
        } catch {
            fail(responder, route: route, start: start, ServiceError.from(error))
        }
    }

    private func timeoutError(_ milliseconds: Int) -> ServiceError {
        ServiceError(status: 504, code: "deadline_exceeded", message: "the request did not finish within \(milliseconds) ms")
    }

    func rankingResponse(_ rank: RankRequest, plan: InstructionPlan, scores: [Float], usage: RankingUsage,
                         requestID: String, timing: [String: Double]) -> [String: Any] {
        var ranked = Reranker.rank(scores: scores, ids: rank.candidates.map(\.id))
        if let topN = rank.topN { ranked = Array(ranked.prefix(topN)) }
        let results: [[String: Any]] = ranked.map { r in
            var entry: [String: Any] = ["index": r.index, "id": r.id, "score": Double(r.score), "relevance_score": Double(r.relevance)]
            if rank.endpoint == .rerank {
                if rank.returnDocuments { entry["document"] = ["text": rank.candidates[r.index].title] }
            } else {
                entry["title"] = rank.candidates[r.index].title
            }
            return entry
        }
        var body: [String: Any] = [
            "id": requestID,
            "template": plan.template,
            "scoring": rank.reduction.rawValue,
            "results": results,
            "usage": [
                "instruction_tokens": usage.instructionTokens, "candidate_tokens": usage.candidateTokens,
                "history_items_used": plan.historyItemsUsed, "history_items_dropped": plan.historyItemsDropped,
                "history_titles_shortened": plan.historyTitlesShortened, "groups": plan.groups.count,
            ],
            "timing_ms": timing.mapValues { ($0 * 1e5).rounded() / 100 },
        ]
        if rank.returnInstruction { body["instructions"] = plan.groups.map(\.text) }
        return body
    }

    /// `instructrec score`: the same request and response as POST /<endpoint>, without HTTP.
    public func scoreDirectly(endpoint: String, body: [UInt8]) -> (status: Int, json: [UInt8]) {
        let start = DispatchTime.now()
        guard let kind = RankRequest.Endpoint(rawValue: endpoint) else {
            return (400, ServiceError(status: 400, code: "unknown_endpoint", message: "use recommend, search or rerank").response.body)
        }
        do {
            let rank = try RankRequestDecoder.decode(body, endpoint: kind, limits: configuration.requestLimits)
            let tokenizeStart = DispatchTime.now()
            let plan = try builder.plan(context: rank.context, candidates: rank.candidates, template: rank.template)
            let tokenizeSeconds = seconds(since: tokenizeStart)
            directLock.lock()
            defer { directLock.unlock() }
            let (scores, usage) = try Reranker.score(plan, scorer: directScorer, reduction: rank.reduction)
            let response = rankingResponse(rank, plan: plan, scores: scores, usage: usage, requestID: "cli",
                                           timing: ["queue": 0, "tokenize": tokenizeSeconds, "encode": usage.encodeSeconds,
                                                    "decode": usage.decodeSeconds, "total": seconds(since: start)])
            return (200, json(response))
        } catch {
            let failure = ServiceError.from(error)
            return (failure.status, failure.response.body)
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
        let elapsed = seconds(since: start)
        // Only the first answer counts (a 504 timer may race a late result).
        if responder.respond(response) {
            metrics.requests.increment(["route": route, "status": String(response.status)])
            metrics.latency.observe(elapsed, ["route": route])
        }
    }

    func fail(_ responder: Responder, route: String, start: DispatchTime, _ error: ServiceError) {
        var response = error.response
        if error.status == 401 { response.headers.set("WWW-Authenticate", "Bearer") }
        respond(responder, route: route, start: start, response)
    }

    func json(_ object: Any) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }

    private func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
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
