@testable import Configuration
import Foundation
import InstructRec
@testable import Service
import Tokenizer
import XCTest

/// Pointwise rerankers (MonoT5- and RankT5-shaped checkpoints: T5 v1.0, ReLU, tied embeddings,
/// random weights) through the service's own path — configuration, input template, windows,
/// engine, readout, shapes — against transformers (`scripts/fixtures/make_pointwise_fixtures.py`).
final class PointwiseScorerTests: XCTestCase {
    struct Golden: Decodable {
        struct Window: Decodable { let score: Float; let relevance: Float; let inputs: [[Int32]] }
        struct Result: Decodable { let score: Float; let relevance: Float; let windows: Int; let window_scores: [Float]; let inputs: [[Int32]] }
        struct Case: Decodable {
            let query: String
            let documents: [String]
            let results: [Result]
            let keep_start: [Window]
            let keep_end: [Window]
            let max_tokens_8: [Window]
        }
        let max_input_tokens: Int
        let cases: [Case]
    }

    static func fixture(_ name: String) -> String { ServiceProcess.root.appendingPathComponent("Tests/ServiceTests/Fixtures/\(name)").path }

    static func golden(_ model: String) throws -> Golden {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: URL(fileURLWithPath: fixture("\(model)/golden.json"))))
    }

    static func service(_ model: String, settings: [String: String] = [:]) throws -> RerankService {
        var overrides = ["model": fixture(model), "tokenizer": ServiceProcess.tokenizerFile, "threads_per_worker": "2"]
        for (key, value) in settings { overrides[key] = value }
        return try RerankService(configuration: ServiceConfiguration.load(file: nil, environment: [:], overrides: overrides))
    }

    static func json(_ service: RerankService, _ endpoint: String, _ body: [String: Any]) throws -> (Int, Any) {
        let reply = service.scoreDirectly(endpoint: endpoint, body: Array(try JSONSerialization.data(withJSONObject: body)))
        return (reply.status, try JSONSerialization.jsonObject(with: Data(reply.json)))
    }

    /// index -> value from a Cohere v2 answer
    static func cohere(_ answer: Any, _ key: String = "relevance_score") -> [Int: Double] {
        let results = ((answer as? [String: Any])?["results"] as? [[String: Any]]) ?? []
        return Dictionary(uniqueKeysWithValues: results.map { ($0["index"] as? Int ?? -1, $0[key] as? Double ?? .nan) })
    }

    /// index -> score from a TEI answer
    static func tei(_ answer: Any) -> [Int: Double] {
        let results = (answer as? [[String: Any]]) ?? []
        return Dictionary(uniqueKeysWithValues: results.map { ($0["index"] as? Int ?? -1, $0["score"] as? Double ?? .nan) })
    }

    func testMonoT5RelevanceIsTransformersPTrueOnCohereV2AndTEI() throws {
        let golden = try Self.golden("monot5-tiny")
        let service = try Self.service("monot5-tiny")
        var worst = 0.0
        for item in golden.cases {
            let (status, v2) = try Self.json(service, "/v2/rerank", ["query": item.query, "documents": item.documents])
            XCTAssertEqual(status, 200, "\(v2)")
            let relevance = Self.cohere(v2)
            let (teiStatus, teiAnswer) = try Self.json(service, "/rerank", ["query": item.query, "texts": item.documents])
            XCTAssertEqual(teiStatus, 200)
            let teiScores = Self.tei(teiAnswer)
            let (_, raw) = try Self.json(service, "/rerank", ["query": item.query, "texts": item.documents, "raw_scores": true])
            let rawScores = Self.tei(raw)
            for (index, expected) in item.results.enumerated() {
                let got = try XCTUnwrap(relevance[index])
                XCTAssertEqual(got, Double(expected.relevance), accuracy: 1e-4, "document \(index)")
                XCTAssertEqual(try XCTUnwrap(teiScores[index]), Double(expected.relevance), accuracy: 1e-4)
                XCTAssertEqual(try XCTUnwrap(rawScores[index]), Double(expected.score), accuracy: 1e-4, "raw: log-odds of true")
                worst = max(worst, abs(got - Double(expected.relevance)))
            }
            // Sorted best first by P(true).
            let order = ((v2 as? [String: Any])?["results"] as? [[String: Any]] ?? []).compactMap { $0["index"] as? Int }
            XCTAssertEqual(order, item.results.indices.sorted { item.results[$0].relevance > item.results[$1].relevance })
        }
        print("monot5 P(true) vs transformers: worst |Δ| \(worst)")
    }

    func testRankT5ScoreIsTheRawLogit() throws {
        let golden = try Self.golden("rankt5-tiny")
        let service = try Self.service("rankt5-tiny")
        for item in golden.cases {
            let (status, v2) = try Self.json(service, "/v2/rerank", ["query": item.query, "documents": item.documents])
            XCTAssertEqual(status, 200, "\(v2)")
            let relevance = Self.cohere(v2)
            let (_, raw) = try Self.json(service, "/rerank", ["query": item.query, "texts": item.documents, "raw_scores": true])
            let (_, squashed) = try Self.json(service, "/rerank", ["query": item.query, "texts": item.documents])
            for (index, expected) in item.results.enumerated() {
                XCTAssertEqual(try XCTUnwrap(relevance[index]), Double(expected.score), accuracy: 1e-4, "relevance_score is the raw logit")
                XCTAssertEqual(try XCTUnwrap(Self.tei(raw)[index]), Double(expected.score), accuracy: 1e-4)
                XCTAssertEqual(try XCTUnwrap(Self.tei(squashed)[index]), 1 / (1 + exp(-Double(expected.score))), accuracy: 1e-4,
                               "TEI without raw_scores: σ(logit)")
            }
        }
    }

    /// The plan's encoder inputs are the reference's, window by window (tokenization, template, windows).
    func testInputsAndWindowsMatchTheReference() throws {
        for model in ["monot5-tiny", "rankt5-tiny"] {
            let golden = try Self.golden(model)
            let service = try Self.service(model)
            for item in golden.cases {
                let query = RankQuery(context: UserContext(intention: item.query),
                                      candidates: item.documents.enumerated().map { Item(id: String($0), title: $1) })
                let plan = try service.pipeline.plan(query)
                for (index, expected) in item.results.enumerated() {
                    let inputs = plan.groups.filter { $0.candidates == [index] }.map(\.tokens)
                    XCTAssertEqual(inputs, expected.inputs, "\(model) document \(index)")
                }
            }
        }
    }

    /// The MonoT5 fixture carries its tokenizer (the one its golden inputs were made with): given only the
    /// fixture's directory, the service plans exactly the reference's inputs.
    func testTheMonoT5FixtureServesWithItsOwnTokenizer() throws {
        let golden = try Self.golden("monot5-tiny")
        let service = try RerankService(configuration: ServiceConfiguration.load(file: nil, environment: [:], overrides: ["model": Self.fixture("monot5-tiny")]))
        XCTAssertEqual(service.pipeline.builder.tokenizer.source, Self.fixture("monot5-tiny") + "/tokenizer.json")
        for item in golden.cases {
            let query = RankQuery(context: UserContext(intention: item.query),
                                  candidates: item.documents.enumerated().map { Item(id: String($0), title: $1) })
            let plan = try service.pipeline.plan(query)
            for (index, expected) in item.results.enumerated() {
                XCTAssertEqual(plan.groups.filter { $0.candidates == [index] }.map(\.tokens), expected.inputs, "document \(index)")
            }
        }
    }

    func testALongDocumentIsScoredOverWindowsAndReported() throws {
        let golden = try Self.golden("monot5-tiny")
        let item = try XCTUnwrap(golden.cases.first { $0.documents.contains { $0.count == 5000 } })
        let long = try XCTUnwrap(item.documents.firstIndex { $0.count == 5000 })
        XCTAssertGreaterThan(item.results[long].windows, 1)
        let service = try Self.service("monot5-tiny")
        let (status, answer) = try Self.json(service, "/rerank", ["query": item.query, "documents": item.documents])
        XCTAssertEqual(status, 200, "\(answer)")
        let object = try XCTUnwrap(answer as? [String: Any])
        let usage = try XCTUnwrap(object["usage"] as? [String: Any])
        XCTAssertEqual(usage["windows"] as? Int, item.results.reduce(0) { $0 + $1.windows })
        XCTAssertEqual(usage["documents_windowed"] as? Int, 1)
        XCTAssertEqual(usage["documents_truncated"] as? Int, 0)
        XCTAssertEqual(object["scoring"] as? String, "monot5")
        let results = try XCTUnwrap(object["results"] as? [[String: Any]])
        let best = try XCTUnwrap(results.first { $0["index"] as? Int == long })
        XCTAssertEqual(try XCTUnwrap(best["relevance_score"] as? Double), Double(item.results[long].relevance), accuracy: 1e-4,
                       "the best window's P(true)")
    }

    func testTruncationSettingsFollowTEIAndCohere() throws {
        for model in ["monot5-tiny", "rankt5-tiny"] {
            let golden = try Self.golden(model)
            let service = try Self.service(model)
            for item in golden.cases {
                let (_, start) = try Self.json(service, "/rerank", ["query": item.query, "texts": item.documents, "truncate": true, "raw_scores": true])
                let (_, end) = try Self.json(service, "/rerank", ["query": item.query, "texts": item.documents, "truncate": true,
                                                                   "truncation_direction": "Left", "raw_scores": true])
                let (_, v2) = try Self.json(service, "/v2/rerank", ["query": item.query, "documents": item.documents, "max_tokens_per_doc": 8])
                for index in item.documents.indices {
                    XCTAssertEqual(try XCTUnwrap(Self.tei(start)[index]), Double(item.keep_start[index].score), accuracy: 1e-4, "\(model) keep_start \(index)")
                    XCTAssertEqual(try XCTUnwrap(Self.tei(end)[index]), Double(item.keep_end[index].score), accuracy: 1e-4, "\(model) keep_end \(index)")
                    XCTAssertEqual(try XCTUnwrap(Self.cohere(v2)[index]), Double(item.max_tokens_8[index].relevance), accuracy: 1e-4,
                                   "\(model) max_tokens_per_doc 8, document \(index)")
                }
                let cut = item.documents.filter { service.pipeline.builder.tokenizer.encode($0, addEOS: false).count > 8 }.count
                let warnings = ((v2 as? [String: Any])?["meta"] as? [String: Any])?["warnings"] as? [String]
                XCTAssertEqual(warnings?.first?.hasPrefix("\(cut) document"), cut > 0 ? true : nil)
            }
        }
    }

    func testPermutingDocumentsChangesNoScore() throws {
        let golden = try Self.golden("monot5-tiny")
        let service = try Self.service("monot5-tiny")
        let documents = golden.cases.flatMap(\.documents)
        let (_, forward) = try Self.json(service, "/rerank", ["query": "a castle game", "texts": documents, "raw_scores": true])
        let reversed = Array(documents.reversed())
        let (_, backward) = try Self.json(service, "/rerank", ["query": "a castle game", "texts": reversed, "raw_scores": true])
        let a = Self.tei(forward), b = Self.tei(backward)
        for index in documents.indices {
            XCTAssertEqual(a[index], b[documents.count - 1 - index], "document \(index): identical, not merely close")
        }
    }

    func testLikelihoodOnlyFieldsAndContextsAreRefusedNamingTheField() throws {
        let service = try Self.service("monot5-tiny")
        let cases: [(String, [String: Any], String)] = [
            ("/rerank", ["query": "q", "documents": ["a"], "scoring": "calibrated"], "$.scoring"),
            ("/rerank", ["query": "q", "documents": ["a"], "prior_weight": 0.5], "$.prior_weight"),
            ("/rerank", ["query": "q", "documents": ["a"], "history": ["Mario"]], "$.history"),
            ("/recommend", ["history": ["Mario"], "candidates": ["Zelda"]], "$.history"),
        ]
        for (endpoint, body, field) in cases {
            let (status, answer) = try Self.json(service, endpoint, body)
            XCTAssertEqual(status, 422, "\(endpoint) \(body)")
            let error = (answer as? [String: Any])?["error"] as? [String: Any]
            XCTAssertEqual(error?["field"] as? String, field, "\(answer)")
        }
    }

    func testBadScorerConfigurationsNameTheFileAndKey() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pointwise-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for file in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(atPath: Self.fixture("monot5-tiny/\(file)"), toPath: directory.appendingPathComponent(file).path)
        }
        let settings = directory.appendingPathComponent("instructrec.json")
        func load(_ json: String) throws -> RerankService {
            try Data(json.utf8).write(to: settings)
            return try RerankService(configuration: ServiceConfiguration.load(
                file: nil, environment: [:], overrides: ["model": directory.path, "tokenizer": ServiceProcess.tokenizerFile]))
        }
        let cases: [(String, String, String)] = [
            (#"{"scorer": "bert"}"#, "scorer", "must be one of likelihood, monot5, rankt5, yes_no"),
            (#"{"scorer": "yes_no", "yes_token": "yes please"}"#, "yes_token", "not a single vocabulary piece"),
            (#"{"scorer": "yes_no", "no_token": "<no such piece>"}"#, "no_token", "not a single vocabulary piece"),
            (#"{"scorer": "yes_no", "yes_no_template": "Is {document} good?"}"#, "", ""),
            (#"{"scorer": "yes_no", "yes_no_template": "Is it good?"}"#, "yes_no_template", "neither a template"),
            (#"{"scorer": "monot5", "yes_token": "yes"}"#, "yes_token", "applies only to scorer yes_no"),
        ]
        for (json, key, reason) in cases {
            do {
                _ = try load(json)
                XCTAssertEqual(key, "", "\(json) loaded")
            } catch let error as ServiceConfiguration.Invalid {
                XCTAssertEqual(error.setting, key, "\(json): \(error)")
                XCTAssertTrue(error.description.contains(reason), "\(json): \(error)")
                XCTAssertTrue(error.description.contains(settings.path), "names the file: \(error)")
            }
        }
    }

    /// A yes/no model answers with InstructRec's own pointwise templates: /search by its query template,
    /// /recommend by the template set's pointwise.history.
    func testYesNoScorerUsesThePointwiseTemplates() throws {
        let service = try Self.service("monot5-tiny", settings: ["scorer": "yes_no", "yes_token": "yes", "no_token": "no"])
        let (status, answer) = try Self.json(service, "/recommend", ["history": ["Super Mario Bros."], "candidates": ["Zelda", "Tetris"],
                                                                    "return_instruction": true])
        XCTAssertEqual(status, 200, "\(answer)")
        let object = try XCTUnwrap(answer as? [String: Any])
        XCTAssertEqual(object["template"] as? String, "pointwise.history")
        let instructions = try XCTUnwrap(object["instructions"] as? [String])
        XCTAssertEqual(instructions.sorted(), [
            "The user has interacted with these items, oldest first: \"Super Mario Bros.\". Will the user want \"Tetris\"? Answer yes or no.",
            "The user has interacted with these items, oldest first: \"Super Mario Bros.\". Will the user want \"Zelda\"? Answer yes or no.",
        ])
        let (searchStatus, search) = try Self.json(service, "/search", ["query": "plumber", "candidates": ["Zelda", "Tetris"]])
        XCTAssertEqual(searchStatus, 200, "\(search)")
        XCTAssertEqual((search as? [String: Any])?["template"] as? String, "pointwise.query")
        for result in ((search as? [String: Any])?["results"] as? [[String: Any]]) ?? [] {
            let p = try XCTUnwrap(result["relevance_score"] as? Double)
            XCTAssertEqual(p, 1 / (1 + exp(-(result["score"] as? Double ?? .nan))), accuracy: 1e-6, "P(yes) = σ(log-odds)")
        }
    }

    /// The likelihood scorer cuts titles at max_target_tokens: it says so instead of cutting silently.
    func testLikelihoodScorerReportsTheDocumentsItCut() throws {
        let service = try RerankService(configuration: ServiceConfiguration.load(file: nil, environment: [:], overrides: [
            "model": ServiceProcess.modelDirectory, "tokenizer": ServiceProcess.tokenizerFile,
            "templates": ServiceProcess.templatesFile, "max_target_tokens": "8"]))
        let long = "The Legend of Zelda: Breath of the Wild, Nintendo Switch edition with the expansion pass"
        let (status, answer) = try Self.json(service, "/rerank", ["query": "zelda", "documents": [long, "Tetris"]])
        XCTAssertEqual(status, 200, "\(answer)")
        let usage = (answer as? [String: Any])?["usage"] as? [String: Any]
        XCTAssertEqual(usage?["documents_truncated"] as? Int, 1)
        XCTAssertNil(usage?["windows"], "windows are a pointwise model's")
        let (_, v2) = try Self.json(service, "/v2/rerank", ["query": "zelda", "documents": [long, "Tetris"]])
        XCTAssertEqual(((v2 as? [String: Any])?["meta"] as? [String: Any])?["warnings"] as? [String],
                       ["1 document(s) were truncated before scoring"])
    }

    /// The real binary serving a MonoT5-shaped checkpoint: Cohere v2 and TEI over HTTP, the usage
    /// headers, and /info and /openapi.json naming the scorer.
    func testTheBinaryServesAMonoT5CheckpointOverHTTP() throws {
        let golden = try Self.golden("monot5-tiny")
        let item = try XCTUnwrap(golden.cases.first { $0.documents.contains { $0.count == 5000 } })
        let service = try InProcessService(files: ["model": Self.fixture("monot5-tiny"), "tokenizer": ServiceProcess.tokenizerFile])
        defer { _ = service.terminate() }
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["query": item.query, "documents": item.documents]), as: UTF8.self)
        let v2 = try service.request("POST", "/v2/rerank", body: body)
        XCTAssertEqual(v2.status, 200, v2.body)
        XCTAssertEqual(v2.headers["x-document-windows"], String(item.results.reduce(0) { $0 + $1.windows }))
        XCTAssertEqual(v2.headers["x-documents-windowed"], "1")
        XCTAssertEqual(v2.headers["x-documents-truncated"], "0")
        let relevance = Self.cohere(try JSONSerialization.jsonObject(with: Data(v2.body.utf8)))
        for (index, expected) in item.results.enumerated() {
            XCTAssertEqual(try XCTUnwrap(relevance[index]), Double(expected.relevance), accuracy: 1e-4)
        }
        let teiBody = String(decoding: try JSONSerialization.data(withJSONObject: ["query": item.query, "texts": item.documents]), as: UTF8.self)
        let tei = try service.request("POST", "/rerank", body: teiBody)
        XCTAssertEqual(tei.status, 200, tei.body)
        let scores = Self.tei(try JSONSerialization.jsonObject(with: Data(tei.body.utf8)))
        for (index, expected) in item.results.enumerated() {
            XCTAssertEqual(try XCTUnwrap(scores[index]), Double(expected.relevance), accuracy: 1e-4)
        }
        let info = try service.request("GET", "/info").json
        XCTAssertEqual(((info?["settings"] as? [String: Any])?["scorer"] as? [String: Any])?["value"] as? String, "monot5")
        let openapi = try service.request("GET", "/openapi.json").json
        XCTAssertEqual((openapi?["info"] as? [String: Any])?["x-instructrec-scorer"] as? String, "monot5")
    }
}
