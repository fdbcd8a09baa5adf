import Foundation
import HTTP
@testable import InstructRec
import XCTest
@testable import Service

/// `ErrorAnswer`, the one place an error becomes a response: each kind of error's status, code and
/// headers, in the selected shape's envelope or, before one was selected, in the route's.
final class ErrorAnswerTests: XCTestCase {
    private func body(_ response: HTTPResponse) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    private func shape(_ name: String) throws -> AnyShape {
        try XCTUnwrap(ShapeRegistry.all.first { $0.name.hasPrefix(name) }, name)
    }

    func testRouteErrorsMapToTheirStatuses() throws {
        let deadline = ErrorAnswer.response(to: DeadlinePassed(), shape: nil, path: "/recommend", timeoutMilliseconds: 250)
        XCTAssertEqual(deadline.status, 504)
        let failure = try XCTUnwrap(try body(deadline)["error"] as? [String: Any])
        XCTAssertEqual(failure["code"] as? String, "deadline_exceeded")
        XCTAssertEqual(failure["message"] as? String, "the request did not finish within 250 ms")

        XCTAssertEqual(ErrorAnswer.response(to: CancellationError(), shape: nil, path: "/recommend").status, 499)
        for refusal in [InferenceQueue.Refusal.full, .stopped] {
            let overloaded = ErrorAnswer.response(to: refusal, shape: nil, path: "/recommend")
            XCTAssertEqual(overloaded.status, 503)
            XCTAssertEqual(overloaded.headers["Retry-After"], "1")
        }
        let unauthorized = ErrorAnswer.response(to: ServiceError(status: 401, code: "unauthorized", message: "no key"), shape: nil, path: "/recommend")
        XCTAssertEqual(unauthorized.headers["WWW-Authenticate"], "Bearer")
        let template = ErrorAnswer.response(to: InstructRecError.unknownTemplate(name: "nope", known: ["default"]), shape: nil, path: "/recommend")
        XCTAssertEqual(template.status, 422)
        XCTAssertEqual((try body(template)["error"] as? [String: Any])?["field"] as? String, "$.template")
    }

    func testTheSelectedShapeWordsTheErrorElseTheRoutes() throws {
        let error = ServiceError.invalid("$.texts", "must not be empty")
        // /rerank: ours until a body selects TEI's
        XCTAssertNotNil(try body(ErrorAnswer.response(to: error, shape: nil, path: "/rerank"))["error"] as? [String: Any])
        let tei = try body(ErrorAnswer.response(to: error, shape: try shape("tei"), path: "/rerank"))
        XCTAssertEqual(tei["error_type"] as? String, "Validation")
        // the HTTP layer's own answers, in the route's shape: Cohere's {"message"} on /v2/rerank
        let tooLarge = HTTPError(status: 413, code: "content_too_large", message: "body too large")
        let cohere = ErrorAnswer.response(to: tooLarge, shape: nil, path: "/v2/rerank")
        XCTAssertEqual(cohere.status, 413)
        XCTAssertEqual(try body(cohere)["message"] as? String, "body too large")
    }
}
