import XCTest
@testable import Service

final class ServiceLifecycleTests: XCTestCase {
    func testSignalsWhileLoadingExitAtOnce() {
        for signal in [ServiceLifecycle.Signal.interrupt, .terminate] {
            var lifecycle = ServiceLifecycle()
            XCTAssertEqual(lifecycle.received(signal), .exitNow(reason: "\(signal.rawValue) while the model was loading"))
            XCTAssertEqual(lifecycle.loaded(), .none, "a load that finishes after the signal serves nothing")
        }
    }

    func testFirstSignalDrainsSecondInterruptExits() {
        var lifecycle = ServiceLifecycle()
        XCTAssertEqual(lifecycle.loaded(), .startServing)
        XCTAssertEqual(lifecycle.received(.terminate), .drain)
        XCTAssertEqual(lifecycle.received(.terminate), .none, "a repeated SIGTERM does not cut the drain short")
        XCTAssertEqual(lifecycle.received(.interrupt), .exitNow(reason: "second SIGINT while draining"))
        XCTAssertEqual(lifecycle.phase, .exiting)
        XCTAssertEqual(lifecycle.received(.interrupt), .none)
    }
}
