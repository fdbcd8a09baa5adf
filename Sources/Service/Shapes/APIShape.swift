import Configuration
import Foundation
import InstructRec

/// One API shape: a request type with exactly its own fields, a response type,
/// an error envelope and the OpenAPI text for all three. Everything a shape
/// knows lives in its own file; `ShapeRegistry` lists them, `RerankService`
/// runs them through the one `RankPipeline`.
protocol APIShape: Sendable {
    associatedtype Request: Decodable & Sendable
    associatedtype Response: Encodable

    /// "ours.recommend", "cohere.v2", ...: metrics and logs
    var name: String { get }
    /// the route, e.g. "/v2/rerank"
    var path: String { get }
    /// The request's allowed fields: its CodingKeys (tests hold the schema to them).
    var requestFields: [String] { get }
    /// Whether the body's `model` field picks the served model (TEI's shape has none: its requests go to the default).
    var routesByModel: Bool { get }
    /// Shapes that share a path: whether this body is this shape's (default: yes).
    func claims(_ body: JSONValue) -> Bool
    /// Field rules beyond types; builds the shape-neutral query.
    func query(_ request: Request, limits: RequestLimits) throws -> RankQuery
    func response(_ request: Request, _ query: RankQuery, _ outcome: RankOutcome) -> Response
    /// The envelope this shape's clients expect for errors.
    func errorBody(_ error: ServiceError) -> ErrorEnvelope
    /// OpenAPI: request, response and error schemas (with every constraint `query` enforces).
    func schemas(_ context: SchemaContext) -> ShapeSchemas
}

extension APIShape {
    func claims(_ body: JSONValue) -> Bool { true }
    var routesByModel: Bool { true }

    /// Type-erased, as the registry and the service hold it.
    var erased: AnyShape {
        AnyShape(
            name: name, path: path, requestFields: requestFields, routesByModel: routesByModel, claims: { claims($0) },
            decode: { json, limits in
                let request = try JSONValueDecoder.decode(Request.self, from: json)
                let query = try query(request, limits: limits)
                return DecodedRequest(query: query, encode: { outcome in try ResponseJSON.encode(response(request, query, outcome)) })
            },
            errorBody: { errorBody($0) },
            schemas: { schemas($0) })
    }
}

/// An error body in some shape's envelope.
struct ErrorEnvelope {
    var body: [UInt8]

    init<T: Encodable>(_ value: T) {
        body = (try? ResponseJSON.encode(value)) ?? Array(#"{"error":"internal error"}"#.utf8)
    }
}

/// A decoded request: the query for the pipeline, and how to answer it in its shape.
struct DecodedRequest: Sendable {
    var query: RankQuery
    var encode: @Sendable (RankOutcome) throws -> [UInt8]
}

struct AnyShape: Sendable {
    let name: String
    let path: String
    let requestFields: [String]
    let routesByModel: Bool
    let claims: @Sendable (JSONValue) -> Bool

    /// The model the body names, when this shape routes by it: nil when absent (or null); 422 naming
    /// `$.model` when it is no string.
    func requestedModel(in body: JSONValue) throws -> String? {
        guard routesByModel, let value = body["model"] else { return nil }
        switch value {
        case .null: return nil
        case let .string(name): return name
        default: throw ServiceError.invalid("$.model", "must be a string, got \(value.typeName)")
        }
    }
    let decode: @Sendable (JSONValue, RequestLimits) throws -> DecodedRequest
    let errorBody: @Sendable (ServiceError) -> ErrorEnvelope
    let schemas: @Sendable (SchemaContext) -> ShapeSchemas
}

/// Responses: sorted keys, slashes as is.
enum ResponseJSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }
}
