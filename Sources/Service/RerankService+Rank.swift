import Configuration
import Dispatch
import Foundation
import HTTP
import InstructRec

/// The ranking routes: one straight path per request. The body is parsed once, its shape selected once and
/// decoded once; `RankPipeline.run` ranks it on the serving model; the same shape encodes the answer.
extension RerankService {
    // MARK: ranking

    /// A ranking request. Every answer, errors included, is the returned response (counted once here).
    func rank(_ path: String, _ request: HTTPRequest) async -> HTTPResponse {
        let start = DispatchTime.now()
        let response = await answer(path, request, start: start)
        count(response, route: path, start: start)
        return response
    }

    /// Checks, selection, decoding, ranking. An error before a shape is selected is worded in the route's
    /// error shape; after, in the selected one; a deadline passed names the request's timeout (`ErrorAnswer`).
    private func answer(_ path: String, _ request: HTTPRequest, start: DispatchTime) async -> HTTPResponse {
        let model: ServingModel, shape: AnyShape, json: JSONValue
        do {
            try authorize(request)
            try checkContentType(request)
            try checkLoaded()
            // One model for the whole request (its limits decode it, its pipeline ranks it), even if a reload
            // switches models meanwhile.
            model = current
            (shape, json) = try ShapeRegistry.select(path: path, body: request.body)
        } catch {
            return ErrorAnswer.response(to: error, shape: nil, path: path)
        }
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
            metrics.tokens.increment(["kind": "instruction"], by: Double(outcome.usage.instructionTokens))
            metrics.tokens.increment(["kind": "candidate"], by: Double(outcome.usage.candidateTokens))
            metrics.candidates.increment(by: Double(decoded.query.candidates.count))
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
                model = current
            }
        }
        throw ServiceError.overloaded
    }

    /// Counts a ranking answer (route, status, latency).
    func count(_ response: HTTPResponse, route: String, start: DispatchTime) {
        metrics.requests.increment(["route": route, "status": String(response.status)])
        metrics.latency.observe(milliseconds(start, .now()) / 1e3, ["route": route])
    }

    /// The instruction plan the service would build for a request body at a path (benchmarks).
    public func plan(path: String, body: [UInt8]) throws -> InstructionPlan {
        let model = current
        let (shape, json) = try ShapeRegistry.select(path: path, body: body)
        return try model.pipeline.plan(shape.decode(json, model.limits).query)
    }
}
