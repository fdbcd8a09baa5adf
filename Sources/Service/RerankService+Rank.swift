import Configuration
import Dispatch
import Foundation
import HTTP
import InstructRec
import T5Scoring
import Tokenizer

/// The ranking routes: decode → `RankPipeline.run` on the serving model → encode, one answer each.
extension RerankService {
    // MARK: ranking

    /// A ranking request: decode → `RankPipeline.run` on the serving model's queue → encode, in the shape
    /// that took the body. Every answer, errors included, is the returned response (counted once here).
    /// One model for the whole request, even if a reload switches models meanwhile; a request that meets a
    /// queue stopped by a reload runs again on the new model (never answered 503 for it).
    func rank(_ path: String, _ shapes: [AnyShape], _ request: HTTPRequest) async -> HTTPResponse {
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

    func rankOnServingModel(_ path: String, _ request: HTTPRequest, start: DispatchTime,
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
    func failure(_ error: any Error, timeout: Int) -> ServiceError {
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
    func count(_ response: HTTPResponse, route: String, start: DispatchTime) {
        metrics.requests.increment(["route": route, "status": String(response.status)])
        metrics.latency.observe(milliseconds(start, .now()) / 1e3, ["route": route])
    }

    func timeoutError(_ milliseconds: Int) -> ServiceError {
        ServiceError(status: 504, code: "deadline_exceeded", message: "the request did not finish within \(milliseconds) ms")
    }

    /// The instruction plan the service would build for a request body at a path (benchmarks).
    public func plan(path: String, body: [UInt8]) throws -> InstructionPlan {
        let model = current
        let decoded = try decode(path: path, body: body, limits: model.limits).decoded
        return try model.pipeline.plan(decoded.query)
    }

    /// Parses a body and decodes it with the shape that takes it at `path`.
    func decode(path: String, body: [UInt8], limits: RequestLimits) throws -> (shape: AnyShape, decoded: DecodedRequest) {
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
}

/// A decoding error together with the shape whose envelope must carry it.
struct ShapedError: Error {
    let shape: AnyShape
    let error: ServiceError
}
