@testable import Configuration
import Foundation
@testable import Service
import XCTest

/// `instructrec score`'s path takes the serving model once: a reload between two scoring calls switches
/// the second call to the new model whole, and a call that took the old model finishes on it alone.
final class DirectScoringReloadTests: XCTestCase {
    static let body = Array(#"{"query": "zelda", "documents": ["The Legend of Zelda", "Tetris"], "scoring": "sum"}"#.utf8)

    static func configuration(_ model: String) throws -> ServiceConfiguration {
        try ServiceConfiguration.load(file: nil, environment: [:], overrides: [
            "model": model, "tokenizer": ServiceProcess.tokenizerFile, "templates": ServiceProcess.templatesFile])
    }

    /// The ranked results of an answer (its timings differ between calls).
    static func results(_ json: [UInt8]) throws -> NSArray? {
        (try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])?["results"] as? NSArray
    }

    /// Reloads to the configuration `next` gives and waits for the switch.
    static func reload(_ service: RerankService, to next: ServiceConfiguration) throws {
        service.reloadConfiguration = { next }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var switched = false
        service.reload { result in
            if case let .done(reports) = result, case .switched? = reports.first?.outcome { switched = true }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        XCTAssertTrue(switched, "the reload switched models")
    }

    func testAReloadBetweenTwoScoringCallsSwitchesTheSecondWholeAndTheFirstModelStaysWhole() throws {
        // A likelihood model takes `scoring`; a pointwise one refuses it: each answer says which model it had.
        let service = try RerankService(configuration: Self.configuration(ServiceProcess.modelDirectory))
        let first = service.scoreDirectly(endpoint: "/rerank", body: Self.body)
        XCTAssertEqual(first.status, 200, String(decoding: first.json, as: UTF8.self))
        let old = service.current
        try Self.reload(service, to: Self.configuration(PointwiseScorerTests.fixture("monot5-tiny")))
        XCTAssertFalse(old === service.current)

        let second = service.scoreDirectly(endpoint: "/rerank", body: Self.body)
        XCTAssertEqual(second.status, 422, "the new (pointwise) model refuses scoring: \(String(decoding: second.json, as: UTF8.self))")
        XCTAssertTrue(String(decoding: second.json, as: UTF8.self).contains("scores pointwise"))

        // A call that took the old model before the reload decodes, plans and scores on it alone.
        let inFlight = service.scoreDirectly(endpoint: "/rerank", body: Self.body, on: ModelRegistry(models: old))
        XCTAssertEqual(inFlight.status, 200, String(decoding: inFlight.json, as: UTF8.self))
        XCTAssertEqual(try Self.results(inFlight.json), try Self.results(first.json), "the old model answers as it did before the reload")
    }
}
