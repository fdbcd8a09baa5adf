import Foundation
import XCTest

/// A user's history asked again with other candidates: the second answer's context comes from the cache,
/// equals a server's without one within 1e-4, and /metrics and /info show the cache.
final class ContextCacheOverHTTPTests: XCTestCase {
    static func body(_ candidates: [String]) -> String {
        let list = candidates.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"history": ["Halo 3", "Gears of War", "Forza Motorsport 3"], "candidates": [\#(list)], "template": "generate.history"}"#
    }

    static func scores(_ reply: ServiceReply) -> [String: Double] {
        Dictionary(uniqueKeysWithValues: ((reply.json?["results"] as? [[String: Any]]) ?? []).map { ($0["title"] as? String ?? "", $0["score"] as? Double ?? .nan) })
    }

    func testARepeatedContextIsAHitAndAnswersAsWithoutTheCache() throws {
        let service = try InProcessService()
        let first = try service.request("POST", "/recommend", body: Self.body(["Halo 4", "Mario Kart 8"]))
        XCTAssertEqual(first.status, 200, first.body)
        let before = try service.request("GET", "/metrics").body
        let warm = try service.request("POST", "/recommend", body: Self.body(["Gears of War 4", "FIFA 19", "Tetris"]))
        XCTAssertEqual(warm.status, 200, warm.body)
        let after = try service.request("GET", "/metrics").body
        func value(_ text: String, _ name: String) -> Double {
            text.split(separator: "\n").first { $0.hasPrefix(name + "{model=\"default\"} ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? -1
        }
        XCTAssertGreaterThan(value(after, "instructrec_context_cache_hits_total"), value(before, "instructrec_context_cache_hits_total"),
                             "the second request's context came from the cache")
        XCTAssertGreaterThan(value(after, "instructrec_context_cache_bytes"), 0)
        let settings = try XCTUnwrap(try service.request("GET", "/info").json?["settings"] as? [String: [String: Any]])
        XCTAssertEqual(settings["context_cache_mb"]?["value"] as? Int, 64)

        let fresh = try InProcessService(settings: ["context_cache_mb": "0"])
        let expected = Self.scores(try fresh.request("POST", "/recommend", body: Self.body(["Gears of War 4", "FIFA 19", "Tetris"])))
        let got = Self.scores(warm)
        XCTAssertEqual(Set(got.keys), Set(expected.keys))
        for (title, score) in got { XCTAssertEqual(score, expected[title] ?? .nan, accuracy: 1e-4, title) }
        XCTAssertEqual(value(try fresh.request("GET", "/metrics").body, "instructrec_context_cache_hits_total"), -1, "no cache, no series")
    }
}
