import Configuration

/// Every API shape the service answers, in route order. A new shape is one
/// file under Shapes/ and one line here; routing, OpenAPI, metrics and
/// `instructrec score --endpoint` follow from this list.
enum ShapeRegistry {
    static let all: [AnyShape] = [
        RecommendShape().erased,
        SearchShape().erased,
        RerankShape().erased,   // POST /rerank without `texts`
        TEIShape().erased,      // POST /rerank with `texts`
        CohereV1Shape().erased, // also Jina
        CohereV2Shape().erased,
    ]

    /// Paths in first-seen order.
    static var paths: [String] {
        var seen = Set<String>()
        return all.map(\.path).filter { seen.insert($0).inserted }
    }

    static func shapes(at path: String) -> [AnyShape] { all.filter { $0.path == path } }

    /// The shape that takes this body at this path: the first that claims it.
    static func select(_ shapes: [AnyShape], for body: JSONValue) -> AnyShape? {
        shapes.first { $0.claims(body) } ?? shapes.first
    }

    /// A ranking body parsed once, and the shape selected once for it at `path`: 400 for malformed JSON
    /// (with its byte offset), 404 for a path no shape is registered at.
    static func select(path: String, body: [UInt8]) throws -> (shape: AnyShape, json: JSONValue) {
        let json: JSONValue
        do { json = try JSONValue.parse(body) } catch {
            throw ServiceError(status: 400, code: "malformed_json",
                               message: "malformed JSON at byte \(error.offset): \(error.message)", offset: error.offset)
        }
        guard let shape = select(shapes(at: path), for: json) else {
            throw ServiceError(status: 404, code: "unknown_endpoint", message: "no API shape at \(path); use one of \(paths.joined(separator: ", "))")
        }
        return (shape, json)
    }
}
