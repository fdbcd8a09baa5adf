import Foundation
import XCTest
@testable import T5

/// Every broken checkpoint gets a typed error whose message names the file
/// and the tensor or key, never a crash.
final class BadModelFileTests: XCTestCase {
    var source: URL!
    var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        source = try Fixtures.model("t5-v1_0-tiny")
        directory = try TemporaryDirectory()
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"),
                                         to: directory.url.appendingPathComponent("config.json"))
    }

    var modelFile: URL { directory.url.appendingPathComponent("model.safetensors") }

    func writeModel(_ mutate: (inout [SafeTensorsWriter.RawTensor]) -> Void,
                    header: ((inout [String: Any]) -> Void)? = nil) throws {
        var tensors = try SafeTensorsWriter.readAll(source.appendingPathComponent("model.safetensors"))
        mutate(&tensors)
        try SafeTensorsWriter.encode(tensors, headerOverride: header).write(to: modelFile)
    }

    func assertLoadFails(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try T5Weights(directory: directory.url), file: file, line: line) { error in
            XCTAssertTrue(error is T5Error, "untyped error \(error)", file: file, line: line)
            let message = "\(error)"
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "'\(message)' should mention '\(fragment)'", file: file, line: line)
            }
        }
    }

    func testTruncatedFileIsRejected() throws {
        let bytes = try Data(contentsOf: source.appendingPathComponent("model.safetensors"))
        try bytes.prefix(bytes.count - 1000).write(to: modelFile)
        assertLoadFails(["model.safetensors", "past the data section"])
    }

    func testFileShorterThanItsHeaderLengthIsRejected() throws {
        try Data([0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0x7B]).write(to: modelFile)
        assertLoadFails(["model.safetensors", "truncated"])
    }

    func testHeaderThatLiesAboutOffsetsIsRejected() throws {
        try writeModel({ _ in }, header: { header in
            var entry = header["shared.weight"] as! [String: Any]
            let offsets = entry["data_offsets"] as! [Int]
            entry["data_offsets"] = [offsets[0], offsets[1] - 4]
            header["shared.weight"] = entry
        })
        assertLoadFails(["model.safetensors", "shared.weight", "do not hold shape"])
    }

    /// A NaN or an infinity anywhere in the weights is refused at load, naming the tensor: served, it would
    /// score every request NaN (and JSON cannot carry one).
    func testNonFiniteWeightsAreRefusedNamingTheTensor() throws {
        for (name, bits) in [("encoder.block.0.layer.0.SelfAttention.q.weight", UInt32(0x7FC0_0000)),   // NaN
                             ("decoder.final_layer_norm.weight", UInt32(0xFF80_0000))] {                 // -infinity
            try writeModel { tensors in
                guard let index = tensors.firstIndex(where: { $0.name == name }) else { return XCTFail(name) }
                XCTAssertEqual(tensors[index].dtype, "F32")
                var bytes = tensors[index].bytes
                withUnsafeBytes(of: bits.littleEndian) { bytes.replaceSubrange(12..<16, with: $0) }   // element 3
                tensors[index].bytes = bytes
            }
            assertLoadFails(["model.safetensors", name, "NaN or infinity", "element 3"])
        }
    }

    func testNonFiniteScanFindsTheFirstInEachStoredType() {
        func first<T>(_ values: [T], _ dtype: TensorDType) -> Int? {
            values.withUnsafeBytes { NonFiniteScan.firstNonFinite($0.baseAddress!, count: values.count, dtype: dtype) }
        }
        XCTAssertNil(first([0, -0.0, 1, -Float.greatestFiniteMagnitude, .leastNonzeroMagnitude, Float.greatestFiniteMagnitude], .f32))
        XCTAssertEqual(first([1, 2, Float.nan, .infinity], .f32), 2)
        XCTAssertEqual(first([1, 2, 3, -Float.infinity], .f32), 3)
        XCTAssertEqual(first(Array(repeating: Float(1), count: 1000) + [-Float.nan], .f32), 1000)
        // bf16: exponent 0x7F80; f16: 0x7C00 (sign bit ignored)
        XCTAssertNil(first([UInt16(0x7F7F), 0xFF7F, 0x0001, 0x3F80], .bf16))
        XCTAssertEqual(first([UInt16(0x3F80), 0xFF80], .bf16), 1)
        XCTAssertEqual(first([UInt16(0x7FC1)], .bf16), 0)
        XCTAssertNil(first([UInt16(0x7BFF), 0xFBFF, 0x3C00], .f16))
        XCTAssertEqual(first([UInt16(0x3C00), 0x3C00, 0x7E00], .f16), 2)
        XCTAssertEqual(first([UInt16(0xFC00)], .f16), 0)
    }

    /// A directory or a FIFO where the weights file should be: named at once (a FIFO never blocks the load).
    func testAWeightsPathThatIsNoRegularFileIsNamed() throws {
        try FileManager.default.createDirectory(at: modelFile, withIntermediateDirectories: false)
        assertLoadFails(["model.safetensors", "is a directory"])
        try FileManager.default.removeItem(at: modelFile)
        XCTAssertEqual(mkfifo(modelFile.path, 0o600), 0)
        assertLoadFails(["model.safetensors", "is not a regular file"])
    }

    /// A header naming a tensor twice is ambiguous (a JSON reader keeps either): refused, naming it.
    func testATensorNamedTwiceIsRefused() throws {
        try writeModel({ _ in })
        var bytes = try Data(contentsOf: modelFile)
        let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        var header = String(decoding: bytes.subdata(in: 8..<(8 + length)), as: UTF8.self)
        // the same entry again, first in the object (the length grows by exactly what is inserted)
        let entry = try XCTUnwrap(header.range(of: #""shared.weight":\{[^}]*\}"#, options: .regularExpression))
        header.insert(contentsOf: header[entry] + ",", at: header.index(after: header.startIndex))
        var prefix = Data(count: 8)
        for i in 0..<8 { prefix[i] = UInt8((header.utf8.count >> (8 * i)) & 0xFF) }
        bytes = prefix + Data(header.utf8) + bytes.subdata(in: (8 + length)..<bytes.count)
        try bytes.write(to: modelFile)
        assertLoadFails(["model.safetensors", "tensor 'shared.weight' is named twice"])
        XCTAssertNil(SafeTensorsFile.repeatedTopLevelName(Array(#"{"a": {"a": 1, "b": "x\"a\":"}, "b": [1, {"a": 2}]}"#.utf8)))
        XCTAssertEqual(SafeTensorsFile.repeatedTopLevelName(Array(#"{"a": 1, "b\"": 2, "a" : 3}"#.utf8)), "a")
    }

    func testMissingTensorIsNamed() throws {
        try writeModel { $0.removeAll { $0.name == "decoder.block.1.layer.2.DenseReluDense.wo.weight" } }
        assertLoadFails(["model.safetensors", "missing tensor", "decoder.block.1.layer.2.DenseReluDense.wo.weight"])
    }

    func testWrongShapeIsNamed() throws {
        try writeModel { tensors in
            let i = tensors.firstIndex { $0.name == "encoder.final_layer_norm.weight" }!
            tensors[i].shape = [3, 4]
        }
        assertLoadFails(["encoder.final_layer_norm.weight", "[3, 4]", "expected [12]"])
    }

    func testUnsupportedDTypeIsNamed() throws {
        try writeModel { tensors in
            let i = tensors.firstIndex { $0.name == "encoder.final_layer_norm.weight" }!
            tensors[i].dtype = "I32"
        }
        assertLoadFails(["encoder.final_layer_norm.weight", "unsupported dtype I32"])
    }

    func testConfigWithMissingFieldIsRejected() throws {
        try FileManager.default.copyItem(at: source.appendingPathComponent("model.safetensors"), to: modelFile)
        // d_model absent: HF's default (512) disagrees with the weights, which the shape check names.
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as! [String: Any]
        json.removeValue(forKey: "d_model")
        try JSONSerialization.data(withJSONObject: json).write(to: directory.url.appendingPathComponent("config.json"))
        assertLoadFails(["shared.weight", "expected [32128, 512]"])
    }

    func testConfigWithWrongTypeNamesTheKey() throws {
        try FileManager.default.copyItem(at: source.appendingPathComponent("model.safetensors"), to: modelFile)
        try writeConfig { $0["num_heads"] = "three" }
        assertLoadFails(["config.json", "num_heads", "integer"])
        // an integer past the engine's bound says so, as the integer it is
        try writeConfig { $0["num_layers"] = 1_000_000_000 }
        assertLoadFails(["config.json", "num_layers", "must be below 1,000,000,000, got 1000000000"])
    }

    func testContradictoryConfigIsRejected() throws {
        try FileManager.default.copyItem(at: source.appendingPathComponent("model.safetensors"), to: modelFile)
        try writeConfig { $0["is_gated_act"] = true }  // feed_forward_proj is "relu"
        assertLoadFails(["config.json", "is_gated_act", "contradicts feed_forward_proj"])
        try writeConfig { $0["feed_forward_proj"] = "gated-gelu"; $0["dense_act_fn"] = "relu"; $0["is_gated_act"] = true }
        assertLoadFails(["config.json", "dense_act_fn", "contradicts"])
        try writeConfig { $0["decoder_start_token_id"] = 40000 }
        assertLoadFails(["config.json", "decoder_start_token_id", "outside the vocabulary"])
    }

    func testEmptyDirectoryIsRejected() throws {
        let empty = try TemporaryDirectory()
        XCTAssertThrowsError(try T5Weights(directory: empty.url)) { error in
            XCTAssertTrue("\(error)".contains(empty.url.path) && "\(error)".contains("no config.json"), "\(error)")
        }
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"),
                                         to: empty.url.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try T5Weights(directory: empty.url)) { error in
            XCTAssertTrue("\(error)".contains("no model.safetensors"), "\(error)")
        }
    }

    func testShardIndexPointingToAMissingShardIsRejected() throws {
        let index = ["weight_map": ["shared.weight": "model-00001-of-00002.safetensors"]]
        try JSONSerialization.data(withJSONObject: index)
            .write(to: directory.url.appendingPathComponent("model.safetensors.index.json"))
        assertLoadFails(["model.safetensors.index.json", "model-00001-of-00002.safetensors", "does not exist"])
    }

    func writeConfig(_ mutate: (inout [String: Any]) -> Void) throws {
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as! [String: Any]
        mutate(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: directory.url.appendingPathComponent("config.json"))
    }
}
