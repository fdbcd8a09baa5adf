@testable import Configuration
import Foundation
@testable import InstructRec
import XCTest
@testable import Service

/// Each API shape against the bodies real clients send (Fixtures/clients: the cohere SDK's
/// captured by scripts/clients/capture_cohere_bodies.py; TEI's and Jina's written from their
/// documentation), its response in the client's shape, and its schema held to its decoder.
final class ShapeAdapterTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/clients")
    let limits = RequestLimits(maxCandidates: 100, maxTextCharacters: 2000,
                               templates: ["recommend.history", "recommend.preference", "recommend.history_preference",
                                           "search.vague", "search.specific", "search.history.vague", "search.history.specific"])

    struct Capture { var path: String; var body: JSONValue; var raw: Any }

    func capture(_ name: String) throws -> Capture {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent(name))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let body = try XCTUnwrap(object["body"])
        let bytes = try JSONSerialization.data(withJSONObject: body)
        return Capture(path: try XCTUnwrap(object["path"] as? String), body: try JSONValue.parse(Array(bytes)), raw: body)
    }

    func shape(for capture: Capture) throws -> AnyShape {
        try XCTUnwrap(ShapeRegistry.select(ShapeRegistry.shapes(at: capture.path), for: capture.body))
    }

    /// A made-up outcome: candidate i scores -i (so input order is the ranking).
    func outcome(_ query: RankQuery) -> RankOutcome {
        let scores = query.candidates.indices.map { -Float($0) }
        var ranked = Reranker.rank(scores: scores, ids: query.candidates.map(\.id), relevance: Relevance(mode: .softmax))
        if let topN = query.topN, topN < ranked.count { ranked = Array(ranked.prefix(topN)) }
        let plan = InstructionPlan(template: "search.specific", groups: [], targets: [], historyItemsUsed: 0, historyItemsDropped: 0,
                                   historyItemsTrimmed: 0, historyTitlesShortened: 0)
        var usage = RankingUsage()
        usage.instructionTokens = 20
        usage.candidateTokens = 10
        return RankOutcome(plan: plan, scoring: Scoring(), scores: scores,
                           components: CandidateScores(scores: scores, likelihoods: scores, priors: nil), ranked: ranked,
                           usage: usage, timing: .init(), requestID: "req-1")
    }

    func respond(_ capture: Capture) throws -> (shape: AnyShape, query: RankQuery, json: Any) {
        let shape = try shape(for: capture)
        let decoded = try shape.decode(capture.body, limits)
        let json = try JSONSerialization.jsonObject(with: Data(try decoded.encode(outcome(decoded.query))))
        let validator = SchemaValidator(document: OpenAPIDocument.make(version: "test", context: SchemaContext(limits: limits)))
        XCTAssertEqual(validator.errors(capture.raw, try validator.requestSchema(path: capture.path), at: "$"), [], "request schema")
        XCTAssertEqual(validator.errors(json, try validator.responseSchema(path: capture.path, method: "post", status: "200"), at: "$"), [],
                       "response schema")
        return (shape, decoded.query, json)
    }

    func testCohereV2() throws {
        let (shape, query, json) = try respond(try capture("cohere-v2-rerank.json"))
        XCTAssertEqual(shape.name, "cohere.v2")
        XCTAssertEqual(query.context.intention, "a racing game for my kids")
        XCTAssertEqual(query.candidates.map(\.title), ["Mario Kart 8 Deluxe", "HDMI Cable 6ft", "Crash Team Racing Nitro-Fueled"])
        let body = try XCTUnwrap(json as? [String: Any])
        let results = try XCTUnwrap(body["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["index"] as? Int }, [0, 1], "top_n 2")
        XCTAssertEqual(Set(results[0].keys), ["index", "relevance_score"])
        XCTAssertEqual(((body["meta"] as? [String: Any])?["api_version"] as? [String: Any])?["version"] as? String, "2")
        XCTAssertEqual(body["id"] as? String, "req-1")
    }

    func testCohereV2TopNBeyondTheDocumentsReturnsAllAndCapsTargetTokens() throws {
        let (_, query, json) = try respond(try capture("cohere-v2-rerank-max-tokens.json"))
        XCTAssertEqual(query.topN, 10)
        XCTAssertEqual(query.maxTargetTokens, 512)
        XCTAssertEqual(((json as? [String: Any])?["results"] as? [Any])?.count, 3)
    }

    /// Cohere's earlier v2 API (SDKs before max_tokens_per_doc) sent return_documents, rank_fields,
    /// max_chunks_per_doc and object documents: read as v1 reads them, answered in v2's shape.
    func testCohereV2TakesTheEarlierV2Fields() throws {
        let raw: [String: Any] = [
            "model": "rerank-v3.5", "query": "a racing game for my kids", "return_documents": true, "rank_fields": ["title"],
            "max_chunks_per_doc": 2,
            "documents": [["title": "Mario Kart 8 Deluxe", "year": "2017"], "HDMI Cable 6ft"],
        ]
        let body = try JSONValue.parse(Array(try JSONSerialization.data(withJSONObject: raw)))
        let (shape, query, json) = try respond(Capture(path: "/v2/rerank", body: body, raw: raw))
        XCTAssertEqual(shape.name, "cohere.v2")
        XCTAssertEqual(query.candidates.map(\.title), ["Mario Kart 8 Deluxe", "HDMI Cable 6ft"])
        XCTAssertEqual(query.maxWindows, 2)
        let answer = try XCTUnwrap(json as? [String: Any])
        let results = try XCTUnwrap(answer["results"] as? [[String: Any]])
        XCTAssertEqual(results[0]["document"] as? NSDictionary, ["title": "Mario Kart 8 Deluxe", "year": "2017"])
        XCTAssertEqual(results[1]["document"] as? NSDictionary, ["text": "HDMI Cable 6ft"])
        XCTAssertNil(answer["model"], "v2's shape: no v1 fields")
        // without return_documents, v2's plain results
        let plain = try respond(try capture("cohere-v2-rerank.json")).json as? [String: Any]
        XCTAssertEqual(Set(((plain?["results"] as? [[String: Any]])?.first ?? [:]).keys), ["index", "relevance_score"])
    }

    func testCohereV1StringsAndObjects() throws {
        for name in ["cohere-v1-rerank-strings.json", "cohere-v1-rerank-objects.json"] {
            let (shape, query, json) = try respond(try capture(name))
            XCTAssertEqual(shape.name, "cohere.v1", name)
            XCTAssertEqual(query.candidates.map(\.title), ["Mario Kart 8 Deluxe", "HDMI Cable 6ft", "Crash Team Racing Nitro-Fueled"], name)
            let body = try XCTUnwrap(json as? [String: Any])
            let results = try XCTUnwrap(body["results"] as? [[String: Any]])
            XCTAssertEqual((results[0]["document"] as? [String: Any])?["text"] as? String, "Mario Kart 8 Deluxe", name)
            XCTAssertEqual(body["model"] as? String, "rerank-english-v3.0")
            XCTAssertEqual((body["usage"] as? [String: Any])?["total_tokens"] as? Int, 30)
        }
    }

    /// Cohere v1 over structured documents: any string fields, ranked on rank_fields (one field's value alone,
    /// several as "field: value" lines in rank_fields order), every field echoed by return_documents.
    func testCohereV1RankFieldsOverStructuredDocuments() throws {
        let raw: [String: Any] = [
            "query": "a racing game for my kids", "rank_fields": ["title", "text"], "return_documents": true,
            "documents": [["title": "Mario Kart 8 Deluxe", "text": "Kart racing for the whole family", "year": "2017"],
                          ["title": "HDMI Cable 6ft", "text": "High speed", "sku": "H-6"]],
        ]
        let body = try JSONValue.parse(Array(try JSONSerialization.data(withJSONObject: raw)))
        let (shape, query, json) = try respond(Capture(path: "/v1/rerank", body: body, raw: raw))
        XCTAssertEqual(shape.name, "cohere.v1")
        XCTAssertEqual(query.candidates.map(\.title), ["title: Mario Kart 8 Deluxe\ntext: Kart racing for the whole family",
                                                       "title: HDMI Cable 6ft\ntext: High speed"])
        let results = try XCTUnwrap((json as? [String: Any])?["results"] as? [[String: Any]])
        XCTAssertEqual(results[0]["document"] as? NSDictionary,
                       ["title": "Mario Kart 8 Deluxe", "text": "Kart racing for the whole family", "year": "2017"])

        let shapes = Dictionary(uniqueKeysWithValues: ShapeRegistry.all.map { ($0.name, $0) })
        let v1 = try XCTUnwrap(shapes["cohere.v1"])
        func decode(_ text: String) throws -> RankQuery { try v1.decode(try JSONValue.parse(Array(text.utf8)), limits).query }
        // one field: its value alone, as text has always been read
        XCTAssertEqual(try decode(#"{"query": "q", "documents": [{"title": "Halo 3", "genre": "shooter"}], "rank_fields": ["title"]}"#)
            .candidates.map(\.title), ["Halo 3"])
        XCTAssertEqual(try decode(#"{"query": "q", "documents": [{"text": "Halo 3", "genre": "shooter"}]}"#).candidates.map(\.title), ["Halo 3"])
        func assertField(_ body: String, _ field: String, _ message: String, line: UInt = #line) {
            XCTAssertThrowsError(try decode(body), line: line) { error in
                XCTAssertEqual((error as? ServiceError)?.field, field, "\(error)", line: line)
                XCTAssertTrue((error as? ServiceError)?.message.contains(message) == true, "\(error)", line: line)
            }
        }
        // every document the schema allows is read: the rank fields it has, else all its fields; a string is its text
        XCTAssertEqual(try decode(#"{"query": "q", "documents": [{"title": "a", "text": "b"}, {"text": "c"}], "rank_fields": ["title", "text"]}"#)
            .candidates.map(\.title), ["title: a\ntext: b", "c"])
        XCTAssertEqual(try decode(#"{"query": "q", "documents": [{"title": "a", "year": "2017"}]}"#).candidates.map(\.title), ["title: a\nyear: 2017"])
        XCTAssertEqual(try decode(#"{"query": "q", "documents": ["a"], "rank_fields": ["title"]}"#).candidates.map(\.title), ["a"])
        XCTAssertEqual(try decode(#"{"query": "q", "documents": [{"id": "d1", "title": null}, {"title": null}, "b"]}"#).candidates.map(\.title),
                       ["", "", "b"], "only null fields: an empty text, not a refusal")
        assertField(#"{"query": "q", "documents": [{"id": "d1"}]}"#, "$.documents[0]", "no field besides its id")
        assertField(#"{"query": "q", "documents": [{"title": "a", "year": 2017}], "rank_fields": ["title"]}"#, "$.documents[0].year", "must be a string")
        assertField(#"{"query": "q", "documents": [{"title": " "}], "rank_fields": ["title"]}"#, "$.documents[0].title", "non-space")
        assertField(#"{"query": "q", "documents": [{"title": "a"}], "rank_fields": []}"#, "$.rank_fields", "at least one")
        assertField(#"{"query": "q", "documents": [{"title": "a"}], "rank_fields": ["title", "title"]}"#, "$.rank_fields[1]",
                    "duplicate of $.rank_fields[0]")
        let long = String(repeating: "x", count: 1990)
        assertField(#"{"query": "q", "documents": [{"title": "\#(long)", "text": "y"}], "rank_fields": ["title", "text"]}"#,
                    "$.documents[0]", "longer than 2000")
    }

    /// Ids are the client's labels: any two items may share one (the schema cannot say otherwise, and every
    /// result carries its index); an item without an id is named by its position.
    func testIdsAreLabelsAndMayRepeat() throws {
        for (path, body, ids) in [("/recommend", #"{"history": ["h"], "candidates": [{"id": "x", "title": "a"}, {"id": "x", "title": "b"}]}"#, ["x", "x"]),
                                  ("/rerank", #"{"query": "q", "documents": [{"id": 7, "text": "a"}, {"id": "7", "text": "b"}]}"#, ["7", "7"]),
                                  ("/v1/rerank", #"{"query": "q", "documents": [{"id": "d", "text": "a"}, "b"]}"#, ["d", "1"]),
                                  ("/search", #"{"query": "q", "candidates": ["a", "a"]}"#, ["0", "1"]),
                                  ("/v2/rerank", #"{"query": "q", "documents": ["a", "a"]}"#, ["0", "1"]),
                                  ("/recommend", #"{"history": ["h"], "candidates": ["a", {"id": "0", "title": "b"}]}"#, ["0", "0"]),
                                  ("/rerank", #"{"query": "q", "texts": ["a", "a"]}"#, ["0", "1"])] {
            let json = try JSONValue.parse(Array(body.utf8))
            let shape = try XCTUnwrap(ShapeRegistry.select(ShapeRegistry.shapes(at: path), for: json))
            XCTAssertEqual(try shape.decode(json, limits).query.candidates.map(\.id), ids, path)
        }
    }

    func testJina() throws {
        let (shape, _, json) = try respond(try capture("jina-rerank.json"))
        XCTAssertEqual(shape.name, "cohere.v1")
        XCTAssertEqual(((json as? [String: Any])?["results"] as? [Any])?.count, 3, "top_n 10 > 3 documents: all")
        // return_documents absent: Jina's default (true) for a Jina model, Cohere's (false) otherwise
        for (model, returned) in [("jina-reranker-v2-base-multilingual", true), ("rerank-english-v3.0", false)] {
            let raw: [String: Any] = ["model": model, "query": "q", "documents": ["Mario Kart 8 Deluxe"]]
            let body = try JSONValue.parse(Array(try JSONSerialization.data(withJSONObject: raw)))
            let results = try respond(Capture(path: "/v1/rerank", body: body, raw: raw)).json as? [String: Any]
            let first = try XCTUnwrap((results?["results"] as? [[String: Any]])?.first)
            XCTAssertEqual(first["document"] != nil, returned, model)
        }
    }

    func testTEIIsAnArraySortedByScoreWithText() throws {
        let (shape, _, json) = try respond(try capture("tei-rerank.json"))
        XCTAssertEqual(shape.name, "tei")
        let ranks = try XCTUnwrap(json as? [[String: Any]])
        XCTAssertEqual(ranks.map { $0["index"] as? Int }, [0, 1, 2])
        XCTAssertEqual(ranks[0]["text"] as? String, "Mario Kart 8 Deluxe")
        let scores = ranks.compactMap { $0["score"] as? Double }
        XCTAssertEqual(scores, scores.sorted(by: >))
        XCTAssertEqual(scores.reduce(0, +), 1, accuracy: 1e-6, "relevance unless raw_scores")
    }

    func testSearchUnitsAreCountedAsCohereBillsThem() throws {
        var usage = RankingUsage()
        XCTAssertEqual(CohereBilling.searchUnits(documents: 1, usage: usage), 1)
        XCTAssertEqual(CohereBilling.searchUnits(documents: 100, usage: usage), 1)
        XCTAssertEqual(CohereBilling.searchUnits(documents: 101, usage: usage), 2)
        XCTAssertEqual(CohereBilling.searchUnits(documents: 1000, usage: usage), 10)
        usage.windows = 230                                  // pointwise: 90 documents, some over several windows
        XCTAssertEqual(CohereBilling.searchUnits(documents: 90, usage: usage), 3)
    }

    func testErrorEnvelopes() throws {
        let error = ServiceError.invalid("$.texts", "must contain at least one item")
        func json(_ shape: AnyShape) throws -> [String: Any] {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(shape.errorBody(error).body)) as? [String: Any])
        }
        let shapes = Dictionary(uniqueKeysWithValues: ShapeRegistry.all.map { ($0.name, $0) })
        XCTAssertEqual(try json(try XCTUnwrap(shapes["tei"])) as NSDictionary,
                       ["error": "$.texts: must contain at least one item", "error_type": "Validation"])
        XCTAssertEqual(try json(try XCTUnwrap(shapes["cohere.v2"])) as NSDictionary, ["message": "$.texts: must contain at least one item"])
        XCTAssertEqual(try json(try XCTUnwrap(shapes["cohere.v1"]))["detail"] as? String, "$.texts: must contain at least one item")
        XCTAssertEqual((try json(try XCTUnwrap(shapes["ours.recommend"]))["error"] as? [String: Any])?["field"] as? String, "$.texts")
    }

    func testEachRequestSchemaListsExactlyItsDecodersFields() throws {
        let document = OpenAPIDocument.make(version: "test", context: SchemaContext(limits: limits))
        let schemas = try XCTUnwrap((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        for shape in ShapeRegistry.all {
            let name = try XCTUnwrap((shape.schemas(SchemaContext(limits: limits)).request["$ref"] as? String)?.split(separator: "/").last)
            let schema = try XCTUnwrap(schemas[String(name)] as? [String: Any])
            XCTAssertEqual(Set((schema["properties"] as? [String: Any] ?? [:]).keys), Set(shape.requestFields), shape.name)
            XCTAssertEqual(schema["additionalProperties"] as? Bool, false, shape.name)
            // and the decoder refuses anything else, naming it
            var members: [(String, JSONValue)] = [("surprise", .number(1))]
            if shape.name == "tei" { members.append(("texts", .array([.string("a")]))) }
            XCTAssertThrowsError(try shape.decode(.object(members), limits)) { error in
                XCTAssertEqual((error as? ServiceError)?.field, "$.surprise", shape.name)
            }
        }
    }

    func testEveryFieldHasADescription() throws {
        let document = OpenAPIDocument.make(version: "test", context: SchemaContext(limits: limits))
        var missing: [String] = []
        func walk(_ node: Any, _ path: String) {
            guard let object = node as? [String: Any] else { (node as? [Any])?.enumerated().forEach { walk($1, "\(path)[\($0)]") }; return }
            if let properties = object["properties"] as? [String: Any] {
                for (key, child) in properties {
                    if let child = child as? [String: Any], child["description"] == nil, child["$ref"] == nil { missing.append("\(path).\(key)") }
                }
            }
            for (key, child) in object where key != "properties" || true { walk(child, "\(path).\(key)") }
        }
        walk((document["components"] as? [String: Any])?["schemas"] as Any, "$")
        XCTAssertEqual(missing.filter { !$0.contains(".if.") && !$0.contains(".then.") && !$0.contains(".anyOf") }, [])
    }

    func testLimitsThatDoNotFailForNoReason() throws {
        let shapes = ShapeRegistry.shapes(at: "/recommend")
        let body = try JSONValue.parse(Array(#"{"history": ["a"], "candidates": ["x", "y"], "top_n": 5}"#.utf8))
        XCTAssertEqual(try shapes[0].decode(body, limits).query.topN, 5, "kept; the pipeline returns all 2")
        let long = try JSONValue.parse(Array(("{\"history\": [" + (0..<500).map { "\"h\($0)\"" }.joined(separator: ",") + "], \"candidates\": [\"x\"]}").utf8))
        XCTAssertEqual(try shapes[0].decode(long, limits).query.context.history.count, 500, "not refused: the builder trims to max_history_items")
        let many = try JSONValue.parse(Array(("{\"query\": \"q\", \"texts\": [" + (0..<101).map { "\"t\($0)\"" }.joined(separator: ",") + "]}").utf8))
        XCTAssertThrowsError(try ShapeRegistry.select(ShapeRegistry.shapes(at: "/rerank"), for: many)?.decode(many, limits)) { error in
            XCTAssertEqual((error as? ServiceError)?.status, 422)
            XCTAssertEqual((error as? ServiceError)?.field, "$.texts")
        }
    }
}
