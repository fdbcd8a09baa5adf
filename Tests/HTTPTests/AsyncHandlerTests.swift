import Foundation
import XCTest
@testable import HTTP

/// The async route bridge: a kept-alive connection serves request after request without keeping anything
/// per request (each request's "cancel my task when the client leaves" action is removed once it answered),
/// and a client that leaves cancels the handler's task.
final class AsyncHandlerTests: XCTestCase {
    func testAnsweredRequestsLeaveNoCancellationActionOnTheConnection() throws {
        var router = Router()
        router.add("GET", "/a") { _ in HTTPResponse.text("ok") }
        guard case let .handler(handler) = router.resolve(method: "GET", path: "/a") else { return XCTFail("no route") }
        let gone = ClientGoneFlag()   // one connection's flag, shared by all its requests
        for _ in 0..<200 {
            let answered = DispatchSemaphore(value: 0)
            handler(HTTPRequest(method: "GET", target: "/a"), Responder(gone: gone) { _ in answered.signal() })
            XCTAssertEqual(answered.wait(timeout: .now() + 5), .success)
        }
        var waiting = gone.waiting
        for _ in 0..<100 where waiting > 0 { Thread.sleep(forTimeInterval: 0.01); waiting = gone.waiting }
        XCTAssertEqual(waiting, 0, "a long-lived connection must not hold one action per request it served")
    }

    func testAClientThatLeavesCancelsTheHandlersTask() throws {
        let cancelled = DispatchSemaphore(value: 0)
        var router = Router()
        router.add("GET", "/slow") { _ in
            do { try await Task.sleep(nanoseconds: 30_000_000_000) } catch { cancelled.signal(); throw error }
            return HTTPResponse.text("late")
        }
        guard case let .handler(handler) = router.resolve(method: "GET", path: "/slow") else { return XCTFail("no route") }
        let gone = ClientGoneFlag()
        handler(HTTPRequest(method: "GET", target: "/slow"), Responder(gone: gone) { _ in })
        gone.set()
        XCTAssertEqual(cancelled.wait(timeout: .now() + 5), .success)
    }
}
