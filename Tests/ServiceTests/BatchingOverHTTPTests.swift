import Foundation
import XCTest
@testable import Service

/// Cross-request batching seen from clients: concurrent requests of different
/// lengths and candidate counts get the scores they get alone.
final class BatchingOverHTTPTests: XCTestCase {
    static func body(history: [String], candidates: Int) -> String {
        let list = (0..<candidates).map { "{\"id\": \"c\($0)\", \"title\": \"Game \($0) \(String(repeating: "deluxe ", count: $0 % 4))edition\"}" }
        let items = history.map { "\"\($0)\"" }.joined(separator: ",")
        return "{\"history\": [\(items)], \"candidates\": [\(list.joined(separator: ","))]}"
    }

    static func scores(_ reply: ServiceReply) -> [String: Double] {
        let results = reply.json?["results"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: results.compactMap { result in
            (result["id"] as? String).flatMap { id in (result["score"] as? Double).map { (id, $0) } }
        })
    }

    func testConcurrentRequestsScoreAsTheyDoAlone() throws {
        // 15 requests queue behind one single-threaded worker of a debug build: on a machine whose cores are
        // busy the last waits longer than the default 30 s deadline, which this test is not about.
        let service = try InProcessService(settings: ["workers": "1", "threads_per_worker": "1", "max_batch_requests": "4",
                                                    "request_timeout_ms": "300000"])
        defer { _ = service.terminate() }
        let bodies = [Self.body(history: ["Halo 3"], candidates: 2),
                      Self.body(history: ["Halo 3", "Gears of War", "Forza Horizon 4", "Super Mario Odyssey"], candidates: 9),
                      Self.body(history: ["Tetris"], candidates: 5),
                      Self.body(history: ["Portal 2", "Half-Life"], candidates: 14),
                      Bodies.recommend]
        var alone: [[String: Double]] = []
        for body in bodies {
            let reply = try service.request("POST", "/recommend", body: body)
            XCTAssertEqual(reply.status, 200, reply.body)
            alone.append(Self.scores(reply))
        }
        let replies = Replies()
        let group = DispatchGroup()
        for _ in 0..<3 {
            for (index, body) in bodies.enumerated() {
                group.enter()
                Thread.detachNewThread {
                    replies.add(index, try? service.request("POST", "/recommend", body: body))
                    group.leave()
                }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success)
        let together = replies.all
        XCTAssertEqual(together.count, 15)
        for (index, reply) in together {
            let reply = try XCTUnwrap(reply)
            XCTAssertEqual(reply.status, 200, reply.body)
            let scores = Self.scores(reply)
            XCTAssertEqual(Set(scores.keys), Set(alone[index].keys))
            for (id, score) in scores {
                XCTAssertEqual(score, alone[index][id] ?? .nan, accuracy: 1e-4 * max(1, abs(score)), "body \(index) \(id)")
            }
        }
        let metrics = try service.request("GET", "/metrics").body
        XCTAssertTrue(metrics.contains("# TYPE instructrec_batch_requests histogram"), metrics)
        XCTAssertTrue(metrics.contains("instructrec_batch_requests_bucket{le=\"4\",model=\"default\"}"), metrics)
        XCTAssertFalse(metrics.contains("instructrec_batch_requests_bucket{le=\"+Inf\",model=\"default\"} 0\n"), metrics)
    }
}

final class Replies: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [(Int, ServiceReply?)] = []
    func add(_ index: Int, _ reply: ServiceReply?) { lock.lock(); values.append((index, reply)); lock.unlock() }
    var all: [(Int, ServiceReply?)] { lock.lock(); defer { lock.unlock() }; return values }
}
