@testable import Configuration
import Foundation
@testable import Service
import XCTest

/// Cohere bodies say what happened to the documents (meta.warnings): windowed documents on /v2/rerank and
/// /v1/rerank, documents capped by v1's max_chunks_per_doc; every body valid against /openapi.json's schema.
/// The MonoT5-shaped fixture reads 64 tokens at once (its golden.json holds how many windows each document takes).
final class CohereWarningsTests: XCTestCase {
    /// The golden case with the 5,000-character document, and that document's index and window count.
    static func longDocumentCase() throws -> (query: String, documents: [String], long: Int, windows: Int) {
        let golden = try PointwiseScorerTests.golden("monot5-tiny")
        let item = try XCTUnwrap(golden.cases.first { $0.documents.contains { $0.count == 5000 } })
        let long = try XCTUnwrap(item.documents.firstIndex { $0.count == 5000 })
        return (item.query, item.documents, long, item.results[long].windows)
    }

    /// The body's meta.warnings after checking the body against the route's response schema.
    func warnings(_ service: RerankService, _ path: String, _ body: [String: Any],
                  file: StaticString = #filePath, line: UInt = #line) throws -> [String]? {
        let (status, answer) = try PointwiseScorerTests.json(service, path, body)
        XCTAssertEqual(status, 200, "\(answer)", file: file, line: line)
        let document = OpenAPIDocument.make(version: "test", context: SchemaContext(limits: service.current.limits, scorer: service.current.pipeline.scorerKind))
        let validator = SchemaValidator(document: document)
        XCTAssertEqual(validator.errors(answer, try validator.responseSchema(path: path, method: "post", status: "200"), at: "$"), [],
                       "\(path) response schema", file: file, line: line)
        let meta = try XCTUnwrap((answer as? [String: Any])?["meta"] as? [String: Any], file: file, line: line)
        return meta["warnings"] as? [String]
    }

    func testAWindowedDocumentIsReportedOnCohereV2() throws {
        let (query, documents, _, windows) = try Self.longDocumentCase()
        XCTAssertGreaterThan(windows, 2)
        let service = try PointwiseScorerTests.service("monot5-tiny")
        let total = windows + documents.count - 1
        XCTAssertEqual(try warnings(service, "/v2/rerank", ["query": query, "documents": documents]), [
            "1 document(s) were longer than one model input (max_input_tokens): each was scored over several windows and ranked by its best (\(total) windows in all)",
        ])
        XCTAssertNil(try warnings(service, "/v2/rerank", ["query": query, "documents": ["Tetris", "Zelda"]]),
                     "nothing happened: no warnings")
    }

    func testACappedDocumentIsReportedOnCohereV1() throws {
        let (query, documents, _, windows) = try Self.longDocumentCase()
        let service = try PointwiseScorerTests.service("monot5-tiny")
        let capped = "1 document(s) had more than max_chunks_per_doc (1) windows: each was scored on its first 1 window(s) only"
        XCTAssertEqual(try warnings(service, "/v1/rerank", ["query": query, "documents": documents, "max_chunks_per_doc": 1]), [capped],
                       "one window each: capped, not windowed")
        XCTAssertEqual(try warnings(service, "/v1/rerank", ["query": query, "documents": documents, "max_chunks_per_doc": 2]), [
            "1 document(s) had more than max_chunks_per_doc (2) windows: each was scored on its first 2 window(s) only",
            "1 document(s) were longer than one model input (max_input_tokens): each was scored over several windows and ranked by its best (\(documents.count + 1) windows in all)",
        ])
        XCTAssertEqual(try warnings(service, "/v1/rerank", ["query": query, "documents": documents, "max_chunks_per_doc": windows]), [
            "1 document(s) were longer than one model input (max_input_tokens): each was scored over several windows and ranked by its best (\(windows + documents.count - 1) windows in all)",
        ], "a cap the document does not reach cuts nothing")
        XCTAssertNil(try warnings(service, "/v1/rerank", ["query": query, "documents": ["Tetris", "Zelda"], "max_chunks_per_doc": 1]))
    }

    /// A likelihood model ignores max_chunks_per_doc; titles it cuts at max_target_tokens are said to be truncated.
    func testCohereV1ReportsTitlesALikelihoodModelCut() throws {
        let service = try RerankService(configuration: ServiceConfiguration.load(file: nil, environment: [:], overrides: [
            "model": ServiceProcess.modelDirectory, "tokenizer": ServiceProcess.tokenizerFile,
            "templates": ServiceProcess.templatesFile, "max_target_tokens": "8"]))
        let long = "The Legend of Zelda: Breath of the Wild, Nintendo Switch edition with the expansion pass"
        XCTAssertEqual(try warnings(service, "/v1/rerank", ["query": "zelda", "documents": [long, "Tetris"], "max_chunks_per_doc": 1]),
                       ["1 document(s) were truncated before scoring"])
    }
}
