import Configuration
import Foundation
import HTTP
import InstructRec
import Service
import T5
import T5Scoring
import TestSupport
import Tokenizer

/// The rerank-20 workload end to end: POST /recommend over a keep-alive
/// loopback connection to an in-process server, beside the engine alone on
/// the same instruction and candidates. The difference is what HTTP, JSON,
/// tokenization and instruction building cost.
enum EndToEndBench {
    /// `json`: where to write the ids scored and the medians, for the transformers reference
    /// (`scripts/bench/bench_hf_t5.py --ids`), which scores the same ids.
    static func run(config: T5Config, threads: Int, iterations: Int, warmup: Int, json: String? = nil) throws {
        let tokenizerPath = ["../shared/data/t5/tokenizer.json", "Tests/TokenizerTests/Fixtures/tokenizer.json"]
            .first { FileManager.default.fileExists(atPath: $0) }
        guard let tokenizerPath else { print("  end-to-end: skipped (no tokenizer.json found)"); return }
        let tokenizer = try Tokenizer(tokenizerJSON: URL(fileURLWithPath: tokenizerPath))
        var configuration = ServiceConfiguration()
        configuration.workers = 1
        configuration.threadsPerWorker = threads
        configuration.templates = "config/templates.json"
        configuration.model = "(random weights)"
        let weights = T5Weights(randomWithConfig: config, seed: 3).packedForBLAS()   // as served
        let service = try RerankService(configuration: configuration, engine: try ScoringEngine(weights: weights), tokenizer: tokenizer)
        var http = HTTPServerConfiguration()
        http.host = "127.0.0.1"
        http.port = 0
        let server = HTTPServer(configuration: http, router: service.makeRouter())
        server.accessLogEnabled = false
        JSONLog.shared.enabled = false
        try server.start()
        defer { server.stop(); service.stop() }

        let body = Array(requestBody().utf8)
        let plan = try service.plan(path: "/recommend", body: body)
        let instructionTokens = plan.groups.map(\.tokens.count).reduce(0, +)

        // Engine alone, same instruction and targets, its own scorer.
        let scorer = T5Scorer(weights: weights, threads: threads)
        let group = plan.groups[0]
        let targets = group.candidates.map { plan.targets[$0] }
        let client = try LoopbackHTTPClient(port: server.port, receiveTimeout: 60)
        let request = Array("POST /recommend HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        for _ in 0..<warmup {
            _ = try scorer.score(instruction: group.tokens, candidates: targets)
            _ = try client.exchange(request)
        }
        // Interleaved, so drift in machine load hits both sides alike.
        var engine: [Double] = [], endToEnd: [Double] = []
        for _ in 0..<iterations {
            var start = DispatchTime.now().uptimeNanoseconds
            _ = try scorer.score(instruction: group.tokens, candidates: targets)
            engine.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            start = DispatchTime.now().uptimeNanoseconds
            let status = try client.exchange(request).status
            endToEnd.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            guard status == 200 else { throw BenchFailure(message: "HTTP status \(status)") }
        }
        let e = median(engine), h = median(endToEnd)
        print(String(format: "  rerank-20 end to end (%d instruction tokens, %d candidates, plans %d group): engine %.1f ms, HTTP %.1f ms, overhead %.1f ms = %.2f%% of end-to-end",
                     instructionTokens, targets.count, plan.groups.count, e * 1e3, h * 1e3, (h - e) * 1e3, 100 * (h - e) / h))
        if let json {
            let record: [String: Any] = ["instruction": group.tokens.map(Int.init), "candidates": targets.map { $0.map(Int.init) },
                                         "http_ms": h * 1e3, "engine_ms": e * 1e3, "threads": threads,
                                         "body": String(decoding: body, as: UTF8.self), "path": "/recommend",
                                         "tokenizer": tokenizerPath, "templates": "config/templates.json"]
            try JSONSerialization.data(withJSONObject: record).write(to: URL(fileURLWithPath: json))
            print("  wrote the ids and medians to \(json) (scripts/bench/bench_hf_t5.py --ids \(json) scores the same ids)")
        }
    }

    /// A user with 12 games in the history and 20 candidates: about 384 instruction tokens with the Flan-T5
    /// tokenizer and config/templates.json (the figure printed is the count planned).
    static func requestBody() -> String {
        let franchises = ["Super Mario", "Zelda", "Metroid", "Halo", "Gears of War", "Forza Horizon", "Final Fantasy", "Kingdom Hearts",
                          "Resident Evil", "Dark Souls", "Call of Duty", "Battlefield", "FIFA", "Madden NFL", "Pokemon", "Animal Crossing"]
        let editions = ["Deluxe Edition", "for Nintendo Switch", "- PlayStation 4", "Game of the Year", "Xbox One", "Remastered"]
        var history: [String] = []
        for i in 0..<12 { history.append("\"\(franchises[i % franchises.count]) \(i / 4 + 2) \(editions[i % editions.count])\"") }
        var candidates: [String] = []
        for i in 0..<20 {
            candidates.append("{\"id\": \"c\(i)\", \"title\": \"\(franchises[(i * 7) % franchises.count]) \(editions[(i * 5) % editions.count]) Bundle \(i)\"}")
        }
        return "{\"history\": [\(history.joined(separator: ", "))], \"candidates\": [\(candidates.joined(separator: ", "))]}"
    }
}

struct BenchFailure: Error, CustomStringConvertible { let message: String; var description: String { message } }
