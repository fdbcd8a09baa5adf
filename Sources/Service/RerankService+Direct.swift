import Configuration
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
        // One read of the served models: the body's model gives the decoding limits, pipeline and scorer.
        scoreDirectly(endpoint: endpoint, body: body, on: models)
    }

    /// `scoreDirectly` on one set of models, whatever a reload makes current meanwhile.
    func scoreDirectly(endpoint: String, body: [UInt8], on served: ModelRegistry) -> (status: Int, json: [UInt8]) {
        let path = endpoint.hasPrefix("/") ? endpoint : "/" + endpoint
        guard !ShapeRegistry.shapes(at: path).isEmpty else {
            let known = ShapeRegistry.paths.map { String($0.dropFirst()) }.joined(separator: ", ")
            return answer(ErrorAnswer.response(
                to: ServiceError(status: 400, code: "unknown_endpoint", message: "unknown endpoint '\(endpoint)'; use one of \(known)"),
                shape: nil, path: nil))
        }
        // The same straight path as the HTTP route: parsed once, the shape selected once, decoded once.
        let shape: AnyShape, json: JSONValue
        do { (shape, json) = try ShapeRegistry.select(path: path, body: body) } catch {
            return answer(ErrorAnswer.response(to: error, shape: nil, path: path))
        }
        do {
            let model = try served.resolve(try shape.requestedModel(in: json))
            let decoded = try shape.decode(json, model.limits)
            model.directLock.lock()
            defer { model.directLock.unlock() }
            var outcome = try model.pipeline.run(decoded.query, scorer: model.directScorer)   // RankPipeline.run, waited for
            outcome.requestID = "cli"
            return (200, try decoded.encode(outcome))
        } catch {
            return answer(ErrorAnswer.response(to: error, shape: shape, path: path))
        }
    }

    private func answer(_ response: HTTPResponse) -> (status: Int, json: [UInt8]) { (response.status, response.body) }
}
