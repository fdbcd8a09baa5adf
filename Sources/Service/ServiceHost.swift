import Configuration
import Dispatch
import Foundation
import HTTP
import T5Scoring

/// `instructrec serve` before and around the `RerankService`: the metrics that
/// exist from the first second, the router that answers while the model loads,
/// and the counting of responses the HTTP layer gives by itself.
public final class ServiceHost: @unchecked Sendable {
    public let configuration: ServiceConfiguration
    public let kernel: KernelReport
    let metrics: Metrics
    /// where hub settings are read (HF_HOME, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE): the process's
    public var environment = ProcessInfo.processInfo.environment

    /// seconds to wait before loading (end-to-end tests of the loading phase only)
    static let testLoadDelayVariable = "INSTRUCTREC_TEST_LOAD_DELAY_S"

    public init(configuration: ServiceConfiguration, kernel: KernelReport) {
        self.configuration = configuration
        self.kernel = kernel
        metrics = Metrics(version: RerankService.version, blasCore: kernel.library.coreName)
    }

    /// While loading: /healthz 200 (the process is alive), /readyz 503 "loading",
    /// /metrics as usual, and every other request 503 with Retry-After
    /// (RFC 9110 §15.6.4, §10.2.3): the service will be there shortly.
    func startupRouter() -> Router {
        var router = Router()
        router.add("GET", "/healthz") { [self] _, responder in
            answer(responder, route: "/healthz", .json(Array(#"{"status":"ok"}"#.utf8)))
        }
        router.add("GET", "/readyz") { [self] _, responder in
            answer(responder, route: "/readyz", .json(Array(#"{"status":"loading"}"#.utf8), status: 503))
        }
        router.add("GET", "/metrics") { [self] _, responder in
            answer(responder, route: "/metrics", metrics.response())
        }
        router.fallback = { [self] request, responder in
            let response = ErrorAnswer.response(
                to: ServiceError(status: 503, code: "loading", message: "the model is loading; retry shortly", retryAfterSeconds: 1),
                shape: nil, path: request.path)
            answer(responder, route: Self.routeLabel(request.path), response)
        }
        return router
    }

    /// The errors the HTTP layer answers by itself (400, 404, 405, 408, 413, 415, 431, 500, 503 ...)
    /// in the error shape of the route they were sent to (`RouteErrorShape`), like every other error we send.
    static let httpErrors = RouteErrorShape.renderer

    /// Liveness, readiness and the metrics stay reachable at `max_connections` (`ProbeReserve` weighs this
    /// against a probe port): 8 connections beyond the limit, each for one GET of these paths. /metrics is
    /// among them so that a scrape at the limit shows it (instructrec_rejected_connections_total).
    static let probeReserve = ProbeReserve(slots: 8, paths: ["/healthz", "/readyz", "/metrics"], headerTimeout: 2)

    /// The HTTP server's settings: the configuration's, with the probe reserve.
    var httpConfiguration: HTTPServerConfiguration {
        var http = configuration.httpConfiguration
        http.probeReserve = Self.probeReserve
        http.accessLogHeaders = [RerankService.modelHeader: "model"]
        return http
    }

    /// The HTTP server `serve` runs (and the in-process tests): this host's settings with the probe reserve,
    /// the start-up router until `load()` hands over, errors in their route's shape, the access log as
    /// configured, and the answers the HTTP layer gives by itself counted in /metrics.
    public func makeServer() -> HTTPServer {
        let server = HTTPServer(configuration: httpConfiguration, router: startupRouter(), errors: Self.httpErrors)
        server.accessLogEnabled = configuration.logRequests
        server.onAccess = { [self] record in countHTTPLayerResponse(record) }
        watchConnections(of: server)
        return server
    }

    /// /metrics reads the server's open and rejected connections at each scrape.
    func watchConnections(of server: HTTPServer) {
        metrics.connections = { [weak server] in (open: server?.openConnections ?? 0, rejected: server?.rejectedConnections ?? 0) }
    }

    private func answer(_ responder: Responder, route: String, _ response: HTTPResponse) {
        if responder.respond(response) { metrics.requests.increment(["route": route, "status": String(response.status)]) }
    }

    /// Hub models fetched (or found in the cache), then self-check, weights, tokenizer and warm-up: the slow
    /// part of start-up, while the start-up router answers /healthz 200 and /readyz 503.
    public func load() throws -> RerankService {
        // Tests: a load that lasts as long as they need (a fixture model loads in milliseconds).
        if let delay = ProcessInfo.processInfo.environment[Self.testLoadDelayVariable].flatMap(Double.init), delay > 0 {
            Thread.sleep(forTimeInterval: delay)
        }
        return try RerankService(configuration: configuration.fetchingHubModels(environment: environment), kernel: kernel, metrics: metrics)
    }

    /// HTTPServer.onAccess: counts the answers no handler gave (404, 405, 400, 408,
    /// 413, 431, 415 for a content coding, 503 over the connection limit); handlers
    /// count their own, so every response is counted once.
    func countHTTPLayerResponse(_ record: HTTPServer.AccessRecord) {
        guard record.answeredByHTTPLayer else { return }
        metrics.requests.increment(["route": Self.routeLabel(record.path), "status": String(record.status)])
    }

    /// Known routes keep their own label (a 413 on /v2/rerank is /v2/rerank's); anything else shares
    /// "other", so scans of random paths cannot grow the series.
    static func routeLabel(_ path: String) -> String {
        let known = ShapeRegistry.paths + ["/healthz", "/readyz", "/metrics", "/info", "/v1/models", "/openapi.json", "/admin/reload"]
        return known.contains(path) ? path : "other"
    }
}
