import Configuration
import Dispatch
import Foundation
import HTTP
import InstructRec

/// The ranking routes: one straight path per request. The body is parsed once, its shape selected once and
/// decoded once; `RankPipeline.run` ranks it on the serving model; the same shape encodes the answer.
extension RerankService {
    // MARK: ranking

    /// The response header that names the model that answered (and the access log's `model` field).
    public static let modelHeader = "X-Model"

    /// A ranking request. Every answer, errors included, is the returned response (counted once here, by
    /// route, status and model).
    func rank(_ path: String, _ request: HTTPRequest) async -> HTTPResponse {
        let start = DispatchTime.now()
        let response = await answer(path, request, start: start)
        count(response, route: path, start: start, model: response.headers[Self.modelHeader])
        return response
    }

    /// Checks, selection, decoding, ranking. An error before a shape is selected is worded in the route's
    /// error shape; after, in the selected one; a deadline passed names the request's timeout (`ErrorAnswer`).
    private func answer(_ path: String, _ request: HTTPRequest, start: DispatchTime) async -> HTTPResponse {
        let shape: AnyShape, json: JSONValue
        do {
            try authorize(request)
            try checkContentType(request)
            try checkLoaded()
            (shape, json) = try ShapeRegistry.select(path: path, body: request.body)
        } catch {
            return ErrorAnswer.response(to: error, shape: nil, path: path)
        }
        // One model for the whole request, by the body's `model` (its limits decode it, its pipeline ranks it),
        // even if a reload replaces it meanwhile.
        let model: ServingModel
        do { model = try models.resolve(try shape.requestedModel(in: json)) } catch {
            return ErrorAnswer.response(to: error, shape: shape, path: path)
        }
        var response = await answer(shape, json, on: model, request: request, start: start)
        response.headers.set(Self.modelHeader, model.name)
        return response
    }

    /// Decoding with the model's limits, ranking on it, the answer in the shape.
    private func answer(_ shape: AnyShape, _ json: JSONValue, on model: ServingModel, request: HTTPRequest,
                        start: DispatchTime) async -> HTTPResponse {
        let path = shape.path
        let decoded: DecodedRequest
        do { decoded = try shape.decode(json, model.limits) } catch {
            return ErrorAnswer.response(to: error, shape: shape, path: path)
        }
        let limit = configuration.requestTimeoutMilliseconds
        let timeout = min(decoded.query.timeoutMilliseconds ?? limit, limit)
        do {
            let deadline = start + .milliseconds(timeout)
            var outcome = try await rank(decoded.query, on: model, deadline: deadline)
            if DispatchTime.now() > deadline { throw DeadlinePassed() }
            outcome.requestID = request.requestID
            outcome.timing.total = milliseconds(start, .now())
            var response = HTTPResponse.json(try decoded.encode(outcome))
            UsageHeaders.set(outcome, on: &response.headers)
            metrics.tokens.increment(["kind": "instruction", "model": model.name], by: Double(outcome.usage.instructionTokens))
            metrics.tokens.increment(["kind": "candidate", "model": model.name], by: Double(outcome.usage.candidateTokens))
            metrics.candidates.increment(["model": model.name], by: Double(decoded.query.candidates.count))
            return response
        } catch {
            return ErrorAnswer.response(to: error, shape: shape, path: path, timeoutMilliseconds: timeout)
        }
    }

    /// `RankPipeline.run` on `model`'s queue, raced against the deadline. A query that meets a queue stopped by
    /// a reload runs again, as decoded, on the model that replaced it (never answered 503 for it); a queue
    /// still stopped after three models (shutdown) is overloaded.
    private func rank(_ query: RankQuery, on model: ServingModel, deadline: DispatchTime) async throws -> RankOutcome {
        var model = model
        for _ in 0..<3 {
            let pipeline = model.pipeline, queue = model.queue
            do {
                return try await Deadline.race(deadline, live: metrics.deadlineTimers) {
                    try await pipeline.run(query, backend: queue, deadline: deadline)
                }
            } catch InferenceQueue.Refusal.stopped {
                // A reload replaced this model: its new version, by name (shutdown: the same stopped queue).
                guard let replacement = models.model(named: model.name) else { break }
                model = replacement
            }
        }
        throw ServiceError.overloaded
    }

    /// Counts a ranking answer (route, status, latency; the model, once one was chosen).
    func count(_ response: HTTPResponse, route: String, start: DispatchTime, model: String?) {
        var labels = ["route": route]
        if let model { labels["model"] = model }
        metrics.requests.increment(labels.merging(["status": String(response.status)]) { $1 })
        metrics.latency.observe(milliseconds(start, .now()) / 1e3, labels)
    }

    /// The instruction plan the service would build for a request body at a path (benchmarks).
    public func plan(path: String, body: [UInt8]) throws -> InstructionPlan {
        let (shape, json) = try ShapeRegistry.select(path: path, body: body)
        let model = try models.resolve(try shape.requestedModel(in: json))
        return try model.pipeline.plan(shape.decode(json, model.limits).query)
    }
}
