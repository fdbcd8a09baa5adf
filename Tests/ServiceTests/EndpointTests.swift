@testable import Configuration
import Foundation
import Service
import XCTest

/// End-to-end: the real binary over HTTP, every endpoint and every error.
final class EndpointTests: XCTestCase {
    nonisolated(unsafe) static var shared: InProcessService?

    var service: InProcessService {
        get throws {
            if let s = Self.shared { return s }
            let s = try InProcessService()
            Self.shared = s
            return s
        }
    }

    override class func tearDown() {
        _ = shared?.terminate()
        shared = nil
    }

    func testRecommendRanksAllCandidatesWithScoresAndUsage() throws {
        let reply = try service.request("POST", "/recommend", body: Bodies.recommend)
        XCTAssertEqual(reply.status, 200, reply.body)
        let json = try XCTUnwrap(reply.json)
        let results = try XCTUnwrap(json["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 4)
        let scores = results.compactMap { $0["score"] as? Double }
        XCTAssertEqual(scores, scores.sorted(by: >), "sorted by score, best first")
        // relevance_score is the logistic of the candidate's own score (the test model has no fitted scale: σ(score))
        for result in results {
            let score = try XCTUnwrap(result["score"] as? Double), relevance = try XCTUnwrap(result["relevance_score"] as? Double)
            XCTAssertEqual(relevance, 1 / (1 + exp(-score)), accuracy: 1e-6 + 1e-4 * relevance)
        }
        XCTAssertEqual(Set(results.compactMap { $0["id"] as? String }), ["mk8", "hdmi", "spl", "fifa"])
        XCTAssertEqual(json["template"] as? String, "recommend.history")
        let usage = try XCTUnwrap(json["usage"] as? [String: Any])
        XCTAssertEqual(usage["groups"] as? Int, 1)
        XCTAssertEqual(usage["history_items_dropped"] as? Int, 0)
        let instructions = try XCTUnwrap(json["instructions"] as? [String])
        XCTAssertTrue(instructions[0].contains("\"Super Mario Odyssey\", \"The Legend of Zelda: Breath of the Wild\""), instructions[0])
        XCTAssertNotNil((json["timing_ms"] as? [String: Any])?["encode"])
        XCTAssertEqual(reply.headers["x-request-id"], json["id"] as? String)
    }

    func testSearchAndPersonalizedSearchPickTheirTemplates() throws {
        let plain = try service.request("POST", "/search", body: Bodies.search).json
        XCTAssertEqual(plain?["template"] as? String, "search.vague")
        let personal = try service.request("POST", "/search", body: """
        {"query": "blue controller", "history": ["Halo 3"], "preference": "I like shooters", "candidates": ["a", "b"]}
        """).json
        XCTAssertEqual(personal?["template"] as? String, "search.history_preference.specific")
    }

    func testRerankHasTheCohereShape() throws {
        let json = try XCTUnwrap(try service.request("POST", "/rerank", body: Bodies.rerank).json)
        let results = try XCTUnwrap(json["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 1, "top_n")
        XCTAssertNotNil(results[0]["relevance_score"])
        XCTAssertNotNil((results[0]["document"] as? [String: Any])?["text"])
    }

    func testTiesKeepInputOrder() throws {
        let json = try XCTUnwrap(try service.request("POST", "/recommend", body: """
        {"history": ["Halo 3"], "candidates": [{"id": "x", "title": "Same Title"}, {"id": "y", "title": "Same Title"}]}
        """).json)
        let ids = (json["results"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        XCTAssertEqual(ids, ["x", "y"])
    }

    func testOperationsEndpoints() throws {
        let health = try service.request("GET", "/healthz")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(try service.request("GET", "/readyz").status, 200)
        _ = try service.request("POST", "/recommend", body: Bodies.recommend)
        let metrics = try service.request("GET", "/metrics")
        XCTAssertEqual(metrics.status, 200)
        for name in ["instructrec_requests_total{model=\"default\",route=\"/recommend\",status=\"200\"}", "instructrec_request_duration_seconds_bucket",
                     "instructrec_queue_depth", "instructrec_inflight_requests", "instructrec_tokens_total{kind=\"instruction\",model=\"default\"}",
                     "instructrec_candidates_total", "instructrec_model_load_seconds"] {
            XCTAssertTrue(metrics.body.contains(name), "missing \(name)")
        }
        let info = try XCTUnwrap(try service.request("GET", "/info").json)
        XCTAssertEqual((info["model"] as? [String: Any])?["d_model"] as? Int, 16)
        XCTAssertTrue((info["templates"] as? [String])?.contains("recommend.history") ?? false)
        let openapi = try XCTUnwrap(try service.request("GET", "/openapi.json").json)
        XCTAssertEqual(openapi["openapi"] as? String, "3.1.0")
    }

    // MARK: bad input: every case names the field and the rule

    func assertError(_ path: String, _ body: String, status: Int, code: String, field: String? = nil,
                     headers: [String: String] = ["Content-Type": "application/json"], file: StaticString = #filePath, line: UInt = #line) throws {
        let reply = try service.request("POST", path, body: body, headers: headers)
        XCTAssertEqual(reply.status, status, reply.body, file: file, line: line)
        let error = reply.json?["error"] as? [String: Any]
        XCTAssertEqual(error?["code"] as? String, code, reply.body, file: file, line: line)
        if let field { XCTAssertEqual(error?["field"] as? String, field, reply.body, file: file, line: line) }
        XCTAssertNotNil(error?["message"] as? String, file: file, line: line)
    }

    func testMalformedJSONGetsTheByteOffset() throws {
        let reply = try service.request("POST", "/recommend", body: "{\"history\": [\"a\",, ]}")
        XCTAssertEqual(reply.status, 400)
        let error = reply.json?["error"] as? [String: Any]
        XCTAssertEqual(error?["code"] as? String, "malformed_json")
        XCTAssertEqual(error?["offset"] as? Int, 17)
        try assertError("/recommend", String(repeating: "[", count: 10_000), status: 400, code: "malformed_json")
    }

    func testWrongTypesAndMissingFieldsName422Paths() throws {
        try assertError("/recommend", #"{"history": "Halo", "candidates": ["a"]}"#, status: 422, code: "invalid_field", field: "$.history")
        try assertError("/recommend", #"{"history": ["Halo"], "candidates": [{"id": "a", "title": 5}]}"#, status: 422, code: "invalid_field", field: "$.candidates[0].title")
        try assertError("/recommend", #"{"history": ["Halo"]}"#, status: 422, code: "invalid_field", field: "$.candidates")
        try assertError("/search", #"{"candidates": ["a"]}"#, status: 422, code: "invalid_field", field: "$.query")
        try assertError("/recommend", #"{"history": ["Halo"], "candidates": ["a"], "scoring": "max"}"#, status: 422, code: "invalid_field", field: "$.scoring")
        try assertError("/recommend", #"{"history": ["Halo"], "candidates": ["a"], "colour": 1}"#, status: 422, code: "invalid_field", field: "$.colour")
        try assertError("/recommend", #"[1, 2]"#, status: 422, code: "invalid_field", field: "$")
    }

    /// TEI's truncate cuts the query-document pair to the model's input: a query too long for any instruction
    /// keeps what fits (its start; with truncation_direction Left, its end), and the header counts the rest.
    func testTEITruncateCutsAQueryTooLongForTheModel() throws {
        let query = String(repeating: "q", count: 1500)
        let refused = try service.request("POST", "/rerank", body: #"{"query": "\#(query)", "texts": ["Halo 3", "HDMI Cable"]}"#)
        XCTAssertEqual(refused.status, 422, refused.body)
        XCTAssertTrue((refused.json?["error"] as? String)?.contains("'query' is too long") ?? false, refused.body)
        for direction in ["Right", "Left"] {
            let reply = try service.request("POST", "/rerank",
                                            body: #"{"query": "\#(query)", "texts": ["Halo 3", "HDMI Cable"], "truncate": true, "truncation_direction": "\#(direction)"}"#)
            XCTAssertEqual(reply.status, 200, reply.body)
            XCTAssertEqual(((try? JSONSerialization.jsonObject(with: Data(reply.body.utf8))) as? [Any])?.count, 2, reply.body)
            XCTAssertGreaterThan(Int(reply.headers["x-query-tokens-dropped"] ?? "") ?? 0, 0, direction)
        }
        // a query that fits is never cut
        let short = try service.request("POST", "/rerank", body: #"{"query": "halo", "texts": ["Halo 3"], "truncate": true}"#)
        XCTAssertEqual(short.status, 200, short.body)
        XCTAssertNil(short.headers["x-query-tokens-dropped"])
    }

    func testCandidateRules() throws {
        try assertError("/recommend", #"{"history": ["Halo"], "candidates": []}"#, status: 422, code: "invalid_field", field: "$.candidates")
        try assertError("/recommend", #"{"history": ["Halo"], "candidates": ["ok", "  "]}"#, status: 422, code: "invalid_field", field: "$.candidates[1]")
        try assertError("/recommend", #"{"history": ["Halo"], "candidates": ["a", "b"], "top_n": 0}"#, status: 422, code: "invalid_field", field: "$.top_n")
        try assertError("/recommend", #"{"history": ["Halo"], "candidates": ["a"], "documents": ["b"]}"#, status: 422, code: "invalid_field", field: "$.documents")
        // top_n beyond the candidates: all of them (as Cohere and TEI)
        let all = try service.request("POST", "/recommend", body: #"{"history": ["Halo"], "candidates": ["a", "b"], "top_n": 3}"#)
        XCTAssertEqual((all.json?["results"] as? [Any])?.count, 2, all.body)
    }

    func testSizeLimits() throws {
        try assertError("/recommend", Bodies.manyCandidates(1001), status: 422, code: "invalid_field", field: "$.candidates")
        // a retriever's 1,000 candidates are accepted and every one is ranked. Twenty distinct titles: the decoder's
        // prefix tree shares the repeats, so this debug build is quick (its lm_head over 32k pieces is slow); the
        // release build's latency with 1,000 distinct titles is `make bench`'s
        let manyTitles = (0..<1000).map { "{\"id\": \"c\($0)\", \"title\": \"game \($0 % 20)\"}" }.joined(separator: ",")
        let manyBody = "{\"history\": [\"Halo 3\"], \"candidates\": [\(manyTitles)]}"
        let thousand = try service.request("POST", "/recommend", body: manyBody)
        XCTAssertEqual(thousand.status, 200, String(thousand.body.prefix(300)))
        XCTAssertEqual((thousand.json?["results"] as? [Any])?.count, 1000)
        // a history over max_history_items (200) is trimmed to its newest items, not refused
        let history = (0..<201).map { "\"item \($0)\"" }.joined(separator: ",")
        let trimmed = try service.request("POST", "/recommend", body: "{\"history\": [\(history)], \"candidates\": [\"a\"]}")
        XCTAssertEqual(trimmed.status, 200, trimmed.body)
        XCTAssertEqual((trimmed.json?["usage"] as? [String: Any])?["history_items_trimmed"] as? Int, 1, trimmed.body)
        // a text over max_text_chars (50,000: pointwise models window long documents) is refused naming it;
        // a query under it that cannot fit the instruction is refused naming it too
        let overLimit = String(repeating: "x", count: 50_001)
        try assertError("/search", "{\"query\": \"\(overLimit)\", \"candidates\": [\"a\"]}", status: 422, code: "invalid_field", field: "$.query")
        let long = String(repeating: "x ", count: 1000)
        try assertError("/search", "{\"query\": \"\(long)\", \"candidates\": [\"a\"]}", status: 422, code: "instruction_too_long", field: "$.query")
    }

    func testScoringFieldsAreValidatedNamingTheField() throws {
        try assertError("/recommend", #"{"history": ["Halo"], "candidates": ["a"], "scoring": "pmi"}"#, status: 422, code: "invalid_field", field: "$.scoring")
        try assertError("/search", #"{"query": "halo", "candidates": ["a"], "prior_weight": 3}"#, status: 422, code: "invalid_field", field: "$.prior_weight")
        try assertError("/rerank", #"{"query": "halo", "documents": ["a"], "prior_weight": "half"}"#, status: 422, code: "invalid_field", field: "$.prior_weight")
        try assertError("/recommend", #"{"history": ["Halo"], "candidates": ["a"], "relevance": "sigmoid"}"#, status: 422, code: "invalid_field", field: "$.relevance")
    }

    func testCalibratedScoringAndSoftmaxRelevanceOverHTTP() throws {
        let body = #"{"history": ["Halo 3"], "candidates": ["Halo 4", "HDMI Cable", "Halo 4"], "scoring": "calibrated", "prior_weight": 0.5, "relevance": "softmax"}"#
        let reply = try service.request("POST", "/recommend", body: body)
        XCTAssertEqual(reply.status, 200, reply.body)
        let json = try XCTUnwrap(reply.json)
        XCTAssertEqual(json["scoring"] as? String, "calibrated")
        XCTAssertEqual(json["prior_weight"] as? Double, 0.5)
        let results = try XCTUnwrap(json["results"] as? [[String: Any]])
        XCTAssertEqual(results.compactMap { $0["relevance_score"] as? Double }.reduce(0, +), 1, accuracy: 1e-5, "softmax by name")
        let raw = try XCTUnwrap(try service.request("POST", "/recommend", body: body.replacingOccurrences(of: "\"calibrated\"", with: "\"sum\"")).json)
        XCTAssertNil(raw["prior_weight"])
        let rawScores = Dictionary(uniqueKeysWithValues: ((raw["results"] as? [[String: Any]]) ?? []).map { ($0["index"] as? Int ?? -1, $0["score"] as? Double ?? 0) })
        let calibrated = Dictionary(uniqueKeysWithValues: results.map { ($0["index"] as? Int ?? -1, $0["score"] as? Double ?? 0) })
        XCTAssertEqual(calibrated[0], calibrated[2], "the same title, the same score")
        XCTAssertNotEqual(calibrated[0], rawScores[0], "the prior moved the score")
        // the prior is cached: the second request asked for no new priors, and /metrics counts both
        let metrics = try service.request("GET", "/metrics").body
        XCTAssertTrue(metrics.contains("instructrec_prior_cache_entries{model=\"default\"} "), metrics)
        let hits = metrics.split(separator: "\n").first { $0.hasPrefix("instructrec_prior_cache_misses_total{model=\"default\"} ") }
        XCTAssertNotNil(hits)
    }

    func testAPriorCatalogWarmsTheCacheBeforeReadiness() throws {
        let catalog = FileManager.default.temporaryDirectory.appendingPathComponent("instructrec-catalog-\(getpid()).txt")
        try "item_id:token\ttitle:token_seq\nHalo 4\n7\tMario Kart 8 Deluxe\n{\"title\": \"Splatoon 2\"}\n\nHalo 4\n".write(to: catalog, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: catalog) }
        let warmed = try InProcessService(settings: ["scoring": "calibrated", "prior_catalog": catalog.path])
        defer { _ = warmed.terminate() }
        let metrics = try warmed.request("GET", "/metrics").body
        // three distinct titles, for the history template and the query template
        XCTAssertTrue(metrics.contains("instructrec_prior_cache_entries{model=\"default\"} 6\n"), metrics)
        let reply = try warmed.request("POST", "/search", body: #"{"query": "halo", "candidates": ["Halo 4", "Splatoon 2"]}"#)
        XCTAssertEqual(reply.status, 200, reply.body)
        XCTAssertTrue(try warmed.request("GET", "/metrics").body.contains("instructrec_prior_cache_hits_total{model=\"default\"} 2\n"))
        XCTAssertThrowsError(try ServiceConfiguration.load(file: nil, environment: [:], overrides: ["prior_catalog": "/nonexistent/catalog.txt"])) { error in
            XCTAssertTrue("\(error)".contains("prior_catalog"), "\(error)")
        }
    }

    func testUnknownTemplateAndContentType() throws {
        try assertError("/recommend", #"{"history": ["Halo"], "candidates": ["a"], "template": "nope"}"#, status: 422, code: "unknown_template", field: "$.template")
        try assertError("/recommend", Bodies.recommend, status: 415, code: "unsupported_media_type", headers: ["Content-Type": "text/plain"])
        try assertError("/recommend", Bodies.recommend, status: 415, code: "unsupported_media_type", headers: [:])
    }

    func testDeadlineExceededIs504() throws {
        try assertError("/recommend", "{\"history\": [\"Halo\"], \"candidates\": [\"a\", \"b\"], \"timeout_ms\": 1}", status: 422, code: "invalid_field", field: "$.timeout_ms")
        let strict = try InProcessService(settings: ["request_timeout_ms": "1"])
        defer { _ = strict.terminate() }
        let reply = try strict.request("POST", "/recommend", body: Bodies.manyCandidates(40))
        XCTAssertEqual(reply.status, 504, reply.body)
        XCTAssertEqual((reply.json?["error"] as? [String: Any])?["code"] as? String, "deadline_exceeded")
    }

    func testForeignShapesOverHTTP() throws {
        let tei = try service.request("POST", "/rerank", body: #"{"query": "racing", "texts": ["Mario Kart", "HDMI cable"], "return_text": true}"#)
        XCTAssertEqual(tei.status, 200, tei.body)
        XCTAssertTrue(tei.body.hasPrefix("["), tei.body)
        let teiError = try service.request("POST", "/rerank", body: #"{"query": "racing", "texts": []}"#)
        XCTAssertEqual(teiError.status, 422)
        XCTAssertEqual(teiError.json?["error_type"] as? String, "Validation", teiError.body)
        let v2 = try service.request("POST", "/v2/rerank", body: #"{"model": "m", "query": "racing", "documents": ["a", "b"], "top_n": 9}"#)
        XCTAssertEqual((v2.json?["results"] as? [Any])?.count, 2, v2.body)
        let v1 = try service.request("POST", "/v1/rerank", body: #"{"query": "racing", "documents": [{"text": "a"}], "return_documents": true}"#)
        XCTAssertEqual(((v1.json?["results"] as? [[String: Any]])?.first?["document"] as? [String: Any])?["text"] as? String, "a", v1.body)
        let v1Error = try service.request("POST", "/v1/rerank", body: #"{"query": "racing", "documents": []}"#)
        XCTAssertEqual(v1Error.status, 422)
        XCTAssertEqual(v1Error.json?["message"] as? String, v1Error.json?["detail"] as? String)
    }
}
