import Foundation
import Service
import XCTest

/// exclude_history over HTTP: ids, titles, the whole history, top_n after the exclusion, and nothing left
/// (on EndpointTests' shared service).
extension EndpointTests {
    func rankExcluding(_ path: String, _ body: String) throws -> (ids: [String], indices: [Int], excluded: Int?) {
        let reply = try service.request("POST", path, body: body)
        XCTAssertEqual(reply.status, 200, reply.body)
        let json = try XCTUnwrap(reply.json)
        let results = try XCTUnwrap(json["results"] as? [[String: Any]])
        return (results.compactMap { $0["id"] as? String }, results.compactMap { $0["index"] as? Int },
                (json["usage"] as? [String: Any])?["candidates_excluded"] as? Int)
    }

    func testIdsMatchIdsAndTheIndexIsStillTheRequestPosition() throws {
        let body = #"""
        {"history": [{"id": "z1", "title": "The Legend of Zelda"}, {"id": "m1", "title": "Metroid Prime"}],
         "candidates": [{"id": "k1", "title": "Kirby"}, {"id": "z1", "title": "Zelda (another listing's title)"},
                        {"id": "z9", "title": "The Legend of Zelda"}, {"id": "m1", "title": "Metroid Prime"}],
         "exclude_history": true}
        """#
        let answer = try rankExcluding("/recommend", body)
        XCTAssertEqual(Set(answer.ids), ["k1", "z9"], "z1 and m1 are in the history; z9 is another item under the same title")
        XCTAssertEqual(answer.excluded, 2)
        XCTAssertEqual(Set(answer.indices), [0, 2], "positions in the request, not in what was scored")
        let kept = try rankExcluding("/recommend", body.replacingOccurrences(of: #""exclude_history": true"#, with: #""exclude_history": false"#))
        XCTAssertEqual(kept.ids.count, 4, "off: everything ranked")
        XCTAssertEqual(kept.excluded, 0)
    }

    func testTitlesMatchAfterNormalisationAgainstTheWholeHistoryAndTopNCountsAfter() throws {
        // 250 history items: far beyond the model's max_history_items, so the first ones never reach the instruction.
        let history = (0..<250).map { #""Game number \#($0)""# } + [#""Mario &amp; Luigi:  Superstar Saga""#]
        let body = """
        {"history": [\(history.joined(separator: ", "))],
         "candidates": ["game NUMBER 0", "mario & luigi: superstar saga", "Halo 3", "Splatoon 2", "Game number 249"],
         "exclude_history": true, "top_n": 2}
        """
        let answer = try rankExcluding("/recommend", body)
        XCTAssertEqual(answer.excluded, 3, "the oldest item, the entity-encoded title and the newest")
        XCTAssertEqual(Set(answer.indices), [2, 3], "top_n 2 of the two left, not of the five sent")
        let search = try rankExcluding("/search", """
        {"query": "halo", "history": ["Halo 3"], "candidates": ["halo 3", "Halo 4"], "exclude_history": true}
        """)
        XCTAssertEqual(search.indices, [1], "/search with a history excludes too")
    }

    func testEveryCandidateExcludedIsAnEmptyAnswerNotAnError() throws {
        let body = #"{"history": ["Halo 3", "Halo 4"], "candidates": ["Halo 4", "halo 3"], "exclude_history": true}"#
        let answer = try rankExcluding("/recommend", body)
        XCTAssertEqual(answer.ids, [])
        XCTAssertEqual(answer.excluded, 2)
        // It names the template and the history the instruction would have used, as the answer that ranks does.
        let empty = try XCTUnwrap(try service.request("POST", "/recommend", body: body).json)
        let ranked = try XCTUnwrap(try service.request("POST", "/recommend",
                                                       body: body.replacingOccurrences(of: "true", with: "false")).json)
        XCTAssertEqual(empty["template"] as? String, ranked["template"] as? String)
        XCTAssertFalse((empty["template"] as? String ?? "").isEmpty)
        let usage = try XCTUnwrap(empty["usage"] as? [String: Any])
        XCTAssertEqual(usage["history_items_used"] as? Int, 2)
    }

    func testAWrongTypeIsA422NamingTheField() throws {
        let reply = try service.request("POST", "/recommend", body: #"{"history": ["a"], "candidates": ["b"], "exclude_history": "yes"}"#)
        XCTAssertEqual(reply.status, 422, reply.body)
        XCTAssertTrue(reply.body.contains("$.exclude_history"), reply.body)
    }
}
