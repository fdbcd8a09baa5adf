@testable import Configuration
import Foundation
import XCTest
@testable import Service
import T5Scoring
@testable import T5

/// `weights_dtype` chooses between keeping 16-bit weights 16-bit (auto), widening them at load (f32) and
/// quantizing them to int8.
final class WeightsDTypeSettingTests: XCTestCase {
    func testValuesAreValidatedWithTheSettingNamed() throws {
        let model = ServiceProcess.modelDirectory, templates = ServiceProcess.templatesFile
        XCTAssertEqual(try ServiceConfiguration.load(file: nil, environment: [:], overrides: ["model": model, "templates": templates]).weightsDType, .auto)
        let widened = try ServiceConfiguration.load(file: nil, environment: ["INSTRUCTREC_WEIGHTS_DTYPE": "F32"],
                                                    overrides: ["model": model, "templates": templates])
        XCTAssertEqual(widened.weightsDType, .f32)
        XCTAssertThrowsError(try ServiceConfiguration.load(file: nil, environment: [:],
                                                           overrides: ["weights_dtype": "fp8", "model": model])) { error in
            XCTAssertTrue("\(error)".contains("'weights_dtype'") && "\(error)".contains("auto, f32, int8, bf16"), "\(error)")
        }
    }

    func testTheServiceLoadsTheModelInTheChosenType() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("weights-dtype-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = URL(fileURLWithPath: ServiceProcess.modelDirectory).deletingLastPathComponent().appendingPathComponent("t5-v1_1-tiny-bf16")
        for file in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: directory.appendingPathComponent(file))
        }
        var bytes: [WeightsDType: Int] = [:]
        for dtype in WeightsDType.allCases {
            let configuration = try ServiceConfiguration.load(
                file: nil, environment: [:],
                overrides: ["model": directory.path, "tokenizer": ServiceProcess.tokenizerFile,
                            "templates": ServiceProcess.templatesFile, "weights_dtype": dtype.rawValue])
            bytes[dtype] = try RerankService(configuration: configuration).current.engine.weightBytes
        }
        XCTAssertEqual(bytes[.f32], try XCTUnwrap(bytes[.auto]) * 2)
        // int8: a quarter of F32 plus a scale and a sum per row (8 bytes, much at this fixture's d_model of 16)
        XCTAssertLessThan(try XCTUnwrap(bytes[.int8]), try XCTUnwrap(bytes[.f32]) * 2 / 5)
        // bf16: half of F32, as a BF16 checkpoint kept 16-bit (packed rows padded to 16)
        XCTAssertLessThanOrEqual(try XCTUnwrap(bytes[.bf16]), try XCTUnwrap(bytes[.auto]) * 11 / 10)
    }

    /// /info names the int8 kernel that runs and whether it is the plain reference loop, and the bf16 one.
    func testInfoSaysWhichInt8KernelRuns() throws {
        let service = try InProcessService(settings: ["weights_dtype": "int8"])
        defer { service.terminate() }
        let info = try service.request("GET", "/info")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(info.body.utf8)) as? [String: Any])
        let model = try XCTUnwrap((object["models"] as? [[String: Any]])?.first)
        XCTAssertEqual(model["int8_kernel"] as? String, Int8Kernel.fastest.rawValue)
        XCTAssertEqual(model["int8_kernel_is_reference"] as? Bool, Int8Kernel.fastest == .scalar)
        let ranked = try service.request("POST", "/rerank", body: #"{"query": "a racing game", "documents": ["Forza Horizon", "Mario Kart 8", "Tetris"]}"#)
        XCTAssertEqual(ranked.status, 200, ranked.body)

        let bf16 = try InProcessService(settings: ["weights_dtype": "bf16"])
        defer { bf16.terminate() }
        let bf16Info = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try bf16.request("GET", "/info").body.utf8)) as? [String: Any])
        let bf16Model = try XCTUnwrap((bf16Info["models"] as? [[String: Any]])?.first)
        XCTAssertEqual(bf16Model["bf16_kernel"] as? String, BF16Matrix.isAvailable ? "avx512_bf16" : "widened_f32")
        XCTAssertNil(bf16Model["int8_kernel"])
        XCTAssertEqual(try bf16.request("POST", "/rerank", body: #"{"query": "a racing game", "documents": ["Forza Horizon", "Tetris"]}"#).status, 200)
    }
}
