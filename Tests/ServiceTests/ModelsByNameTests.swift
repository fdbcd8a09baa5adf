import Foundation
import XCTest
@testable import Service

/// Two models in one replica, over HTTP in process: routing by the body's `model`, the default answering
/// exactly as a single-model server does, the refusals, and what names the model (header, access log,
/// /v1/models, /info, /metrics).
final class ModelsByNameTests: XCTestCase {
    static let mono = PointwiseScorerTests.fixture("monot5-tiny")
    static let key = "models-test-key-0123456789"

    /// `default` (the tiny T5 fixture with the Flan tokenizer and the repository's templates) and `mono`
    /// (a MonoT5-shaped checkpoint with its own tokenizer and settings).
    static func twoModels(_ settings: [String: String] = [:]) throws -> InProcessService {
        try InProcessService(settings: ["models": "default=\(ServiceProcess.modelDirectory),mono=\(mono)"].merging(settings) { $1 },
                             files: ["tokenizer": ServiceProcess.tokenizerFile, "templates": ServiceProcess.templatesFile])
    }

    /// An answer's results without its per-request fields (ids, timings).
    static func results(_ reply: ServiceReply) -> NSArray? { reply.json?["results"] as? NSArray }

    static let bodies: [(String, String)] = [
        ("/recommend", Bodies.recommend), ("/search", Bodies.search), ("/rerank", Bodies.rerank),
        ("/v2/rerank", #"{"query": "racing", "documents": ["Mario Kart 8 Deluxe", "HDMI Cable 6ft"]}"#),
    ]

    func testTheDefaultAnswersExactlyAsASingleModelServer() throws {
        let single = try InProcessService()
        let alone = try Self.bodies.map { path, body in try single.request("POST", path, body: body) }
        single.terminate()
        let service = try Self.twoModels()
        for ((path, body), expected) in zip(Self.bodies, alone) {
            XCTAssertEqual(expected.status, 200, expected.body)
            let unnamed = try service.request("POST", path, body: body)
            XCTAssertEqual(unnamed.status, 200, unnamed.body)
            XCTAssertEqual(Self.results(unnamed), Self.results(expected), "\(path) without model")
            XCTAssertEqual(unnamed.headers["x-model"], "default")
            let named = body.replacingOccurrences(of: "{", with: #"{"model": "default", "#, options: [], range: body.range(of: "{"))
            let reply = try service.request("POST", path, body: named)
            XCTAssertEqual(reply.status, 200, reply.body)
            XCTAssertEqual(Self.results(reply), Self.results(expected), "\(path) with model default")
        }
    }

    func testMonoAnswersTransformersPTrueAndEveryShapeRoutesByModel() throws {
        let service = try Self.twoModels()
        let golden = try PointwiseScorerTests.golden("monot5-tiny")
        var worst = 0.0
        for item in golden.cases {
            let body = String(decoding: try JSONSerialization.data(withJSONObject: ["model": "mono", "query": item.query, "documents": item.documents]),
                              as: UTF8.self)
            let reply = try service.request("POST", "/v2/rerank", body: body)
            XCTAssertEqual(reply.status, 200, reply.body)
            XCTAssertEqual(reply.headers["x-model"], "mono")
            let relevance = PointwiseScorerTests.cohere(try JSONSerialization.jsonObject(with: Data(reply.body.utf8)))
            for (index, expected) in item.results.enumerated() {
                worst = max(worst, abs((relevance[index] ?? .nan) - Double(expected.relevance)))
            }
        }
        XCTAssertLessThanOrEqual(worst, 1e-4, "worst |P(true) − transformers'|")
        // Cohere v1 (and Jina) and ours route by model too; TEI's body has none and goes to the default.
        let v1 = try service.request("POST", "/v1/rerank", body: #"{"model": "mono", "query": "castle", "documents": ["Castle of Illusion"]}"#)
        XCTAssertEqual(v1.headers["x-model"], "mono", v1.body)
        let ours = try service.request("POST", "/rerank", body: #"{"model": "mono", "query": "castle", "documents": ["Castle of Illusion"]}"#)
        XCTAssertEqual(ours.headers["x-model"], "mono", ours.body)
        XCTAssertEqual((ours.json?["scoring"] as? String), "monot5")
        let tei = try service.request("POST", "/rerank", body: #"{"query": "castle", "texts": ["Castle of Illusion"]}"#)
        XCTAssertEqual(tei.status, 200, tei.body)
        XCTAssertEqual(tei.headers["x-model"], "default")
        // A model's own limits and templates decide: the pointwise model refuses a history-only /recommend.
        let refused = try service.request("POST", "/recommend", body: #"{"model": "mono", "history": ["Halo"], "candidates": ["a"]}"#)
        XCTAssertEqual(refused.status, 422, refused.body)
        XCTAssertEqual(refused.headers["x-model"], "mono")
    }

    func testUnknownNamesAre404NamingTheModelsAndWhatNamesThemIsSeen() throws {
        let service = try Self.twoModels()
        let unknown = try service.request("POST", "/v2/rerank", body: #"{"model": "rerank-v3.5", "query": "q", "documents": ["a"]}"#)
        XCTAssertEqual(unknown.status, 404, unknown.body)
        let message = unknown.json?["message"] as? String ?? ""
        XCTAssertTrue(message.contains("default") && message.contains("mono") && message.contains("rerank-v3.5"), unknown.body)
        let ours = try service.request("POST", "/recommend", body: #"{"model": "nope", "history": ["Halo"], "candidates": ["a"]}"#)
        XCTAssertEqual(ours.status, 404, ours.body)
        XCTAssertEqual((ours.json?["error"] as? [String: Any])?["code"] as? String, "unknown_model")
        let wrongType = try service.request("POST", "/recommend", body: #"{"model": 7, "history": ["Halo"], "candidates": ["a"]}"#)
        XCTAssertEqual(wrongType.status, 422, wrongType.body)
        XCTAssertEqual((wrongType.json?["error"] as? [String: Any])?["field"] as? String, "$.model")

        let list = try XCTUnwrap(try service.request("GET", "/v1/models").json)
        XCTAssertEqual(list["object"] as? String, "list")
        XCTAssertEqual((list["data"] as? [[String: Any]])?.map { $0["id"] as? String }, ["default", "mono"])
        let info = try XCTUnwrap(try service.request("GET", "/info").json)
        let models = try XCTUnwrap(info["models"] as? [[String: Any]])
        XCTAssertEqual(models.map { $0["name"] as? String }, ["default", "mono"])
        XCTAssertEqual(models.map { $0["scorer"] as? String }, ["likelihood", "monot5"])
        XCTAssertEqual(models.map { $0["default"] as? Bool }, [true, false])
        for model in models {
            XCTAssertNotNil(model["sha256"] as? String)
            XCTAssertNotNil(model["source"] as? String)
            XCTAssertGreaterThan(model["weight_bytes"] as? Int ?? 0, 0)
            XCTAssertNotNil(model["settings"] as? [String: Any])
        }
        XCTAssertEqual(info["weight_bytes"] as? Int, models.reduce(0) { $0 + ($1["weight_bytes"] as? Int ?? 0) })

        _ = try service.request("POST", "/v2/rerank", body: #"{"model": "mono", "query": "q", "documents": ["a"]}"#)
        let metrics = try service.request("GET", "/metrics").body
        for line in ["instructrec_requests_total{model=\"mono\",route=\"/v2/rerank\",status=\"200\"} 1",
                     "instructrec_queue_depth{model=\"mono\"} 0", "instructrec_queue_depth{model=\"default\"} 0",
                     "instructrec_request_duration_seconds_count{model=\"mono\",route=\"/v2/rerank\"} 1"] {
            XCTAssertTrue(metrics.contains(line + "\n"), line)
        }
        XCTAssertTrue(metrics.contains("instructrec_model_info{model=\"mono\""), metrics)
        var logged: [String: Any]?
        for _ in 0..<50 where logged == nil {
            logged = service.logEntries("request").last { $0["path"] as? String == "/v2/rerank" && $0["status"] as? Int == 200 }
            if logged == nil { Thread.sleep(forTimeInterval: 0.02) }
        }
        XCTAssertEqual(logged?["model"] as? String, "mono", "the access line names the model")
    }

    func testAliasesAndTheFallbackModel() throws {
        let aliased = try Self.twoModels(["aliases": "rerank-v3.5=mono,jina-reranker-v2=default"])
        let reply = try aliased.request("POST", "/v2/rerank", body: #"{"model": "rerank-v3.5", "query": "q", "documents": ["a"]}"#)
        XCTAssertEqual(reply.status, 200, reply.body)
        XCTAssertEqual(reply.headers["x-model"], "mono")
        XCTAssertEqual(try aliased.request("POST", "/v1/rerank", body: #"{"model": "jina-reranker-v2", "query": "q", "documents": ["a"]}"#)
                        .headers["x-model"], "default")
        XCTAssertEqual(try aliased.request("POST", "/v2/rerank", body: #"{"model": "other", "query": "q", "documents": ["a"]}"#).status, 404)
        let ids = (try aliased.request("GET", "/v1/models").json?["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        XCTAssertEqual(ids, ["default", "mono", "jina-reranker-v2", "rerank-v3.5"])
        aliased.terminate()

        let fallback = try Self.twoModels(["fallback_model": "mono"])
        let canary = try fallback.request("POST", "/v2/rerank", body: #"{"model": "rerank-v3.5", "query": "q", "documents": ["a"]}"#)
        XCTAssertEqual(canary.status, 200, canary.body)
        XCTAssertEqual(canary.headers["x-model"], "mono")
        XCTAssertEqual(try fallback.request("POST", "/v2/rerank", body: #"{"query": "q", "documents": ["a"]}"#).headers["x-model"], "default",
                       "no model: the default, not the fallback")
    }

    func testOneModelAcceptsAnyNameAsBefore() throws {
        let service = try InProcessService()
        let reply = try service.request("POST", "/v2/rerank", body: #"{"model": "rerank-v3.5", "query": "racing", "documents": ["a", "b"]}"#)
        XCTAssertEqual(reply.status, 200, reply.body)
        XCTAssertEqual(reply.headers["x-model"], "default")
        let v1 = try service.request("POST", "/v1/rerank", body: #"{"model": "rerank-english-v3.0", "query": "racing", "documents": ["a"]}"#)
        XCTAssertEqual(v1.json?["model"] as? String, "rerank-english-v3.0", "Cohere v1 echoes the model asked for")
    }

    /// The command line: `--model NAME=DIR`, repeated, and the start-up log's total weight bytes.
    func testServeTakesRepeatedNameEqualsDirFlags() throws {
        let service = try ServiceProcess(arguments: ["--model", "default=\(ServiceProcess.modelDirectory)", "--model", "mono=\(Self.mono)",
                                                     "--tokenizer", ServiceProcess.tokenizerFile, "--templates", ServiceProcess.templatesFile])
        defer { service.terminate() }
        let ids = (try service.request("GET", "/v1/models").json?["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        XCTAssertEqual(ids, ["default", "mono"])
        let reply = try service.request("POST", "/v2/rerank", body: #"{"model": "mono", "query": "castle", "documents": ["Castle of Illusion"]}"#)
        XCTAssertEqual(reply.headers["x-model"], "mono", reply.body)
        let serving = try XCTUnwrap(service.logEntries("serving").first)
        XCTAssertEqual(serving["models"] as? [String], ["default", "mono"])
        XCTAssertGreaterThan(serving["weight_bytes"] as? Int ?? 0, 0)
        let settings = try XCTUnwrap(try service.request("GET", "/info").json?["settings"] as? [String: [String: Any]])
        XCTAssertEqual(settings["models"]?["value"] as? String, "default,mono")
        XCTAssertEqual(settings["model"]?["source"] as? String, "--model")
    }

    func testReloadingOneModelLeavesTheOtherServing() throws {
        let service = try Self.twoModels(["api_keys": Self.key])
        let auth = ["Content-Type": "application/json", "Authorization": "Bearer \(Self.key)"]
        let reloaded = try service.request("POST", "/admin/reload", body: #"{"model": "mono"}"#, headers: auth)
        XCTAssertEqual(reloaded.status, 200, reloaded.body)
        XCTAssertEqual(reloaded.json?["model"] as? String, "mono")
        XCTAssertEqual((reloaded.json?["models"] as? [[String: Any]])?.count, 1)
        let metrics = try service.request("GET", "/metrics").body
        XCTAssertTrue(metrics.contains("instructrec_model_reloads_total{model=\"mono\"} 1\n"), metrics)
        XCTAssertTrue(metrics.contains("instructrec_model_reloads_total{model=\"default\"} 0\n"), metrics)
        XCTAssertFalse(metrics.contains("instructrec_model_reloads_total 0"), "no unlabelled series beside the models'")
        XCTAssertEqual(try service.request("POST", "/admin/reload", body: #"{"model": "nope"}"#, headers: auth).status, 404)
        XCTAssertEqual(try service.request("POST", "/admin/reload", body: #"{"modle": "mono"}"#, headers: auth).status, 422)
        XCTAssertEqual(try service.request("POST", "/admin/reload", body: #"{"model": 3}"#, headers: auth).status, 422)
        let nullModel = try service.request("POST", "/admin/reload", body: #"{"model": null}"#, headers: auth)
        XCTAssertEqual((nullModel.json?["models"] as? [[String: Any]])?.count, 2, "null, as absent: every model")
        let all = try service.request("POST", "/admin/reload", headers: auth)
        XCTAssertEqual(all.status, 200, all.body)
        XCTAssertEqual((all.json?["models"] as? [[String: Any]])?.compactMap { $0["model"] as? String }, ["default", "mono"])
        XCTAssertEqual(try service.request("POST", "/v2/rerank", body: #"{"model": "mono", "query": "q", "documents": ["a"]}"#,
                                           headers: auth).status, 200)
    }
}
