import Dispatch
import Foundation
import HTTP
import InstructRec
import T5Scoring
import Tokenizer

/// `instructrec score`: a ranking body answered in-process, without HTTP.
extension RerankService {
    /// `instructrec score`: the same request and response as POST <path>, without HTTP.
    /// `endpoint` is a path ("/v2/rerank") or a name without the slash ("recommend", "v1/rerank").
    public func scoreDirectly(endpoint: String, body: [UInt8]) -> (status: Int, json: [UInt8]) {
        // One read of the serving model: decoding limits, pipeline and scorer all come from it.
        scoreDirectly(endpoint: endpoint, body: body, on: current)
    }

    /// `scoreDirectly` on one model, whatever a reload makes current meanwhile.
    func scoreDirectly(endpoint: String, body: [UInt8], on model: ServingModel) -> (status: Int, json: [UInt8]) {
        let path = endpoint.hasPrefix("/") ? endpoint : "/" + endpoint
        let shapes = ShapeRegistry.shapes(at: path)
        guard let primary = shapes.first else {
            let known = ShapeRegistry.paths.map { String($0.dropFirst()) }.joined(separator: ", ")
            let error = ServiceError(status: 400, code: "unknown_endpoint", message: "unknown endpoint '\(endpoint)'; use one of \(known)")
            return (400, ShapeRegistry.all[0].errorBody(error).body)
        }
        var shape = primary
        do {
            let (chosen, decoded) = try decode(path: path, body: body, limits: model.limits)
            shape = chosen
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
}
