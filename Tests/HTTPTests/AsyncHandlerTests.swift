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

    /// A handler that throws is answered 500 by this layer, worded by the application's `ErrorRenderer` for the
    /// route (the connection gets the refusal, not a body this layer made up); a `failure` closure overrides it.
    func testAThrowingHandlerIsRefusedWithA500ForTheApplicationToWord() throws {
        struct Broken: Error {}
        var router = Router()
        router.add("GET", "/throws") { _ in throw Broken() }
        router.add("GET", "/own", failure: { _ in HTTPResponse.text("own", status: 502) }) { _ in throw Broken() }
        let refused = Box<HTTPError>(), responded = Box<HTTPResponse>()
        let done = DispatchSemaphore(value: 0)
        for path in ["/throws", "/own"] {
            guard case let .handler(handler) = router.resolve(method: "GET", path: path) else { return XCTFail("no route") }
            handler(HTTPRequest(method: "GET", target: path),
                    Responder(gone: ClientGoneFlag(), refuse: { refused.value = $0; done.signal() },
                              deliver: { responded.value = $0; done.signal() }))
            XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        }
        XCTAssertEqual(refused.value, .internalError)
        XCTAssertEqual(responded.value?.status, 502)
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

final class Box<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value?
    var value: Value? {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
