import Foundation
@testable import T5

/// A scratch directory removed when the value goes away.
final class TemporaryDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("instructrec-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Writes safetensors files for tests: shards of a fixture, and deliberately
/// broken files. Tensors are (name, dtype, shape, raw bytes).
enum SafeTensorsWriter {
    struct RawTensor {
        var name: String
        var dtype: String
        var shape: [Int]
        var bytes: Data
    }

    /// Reads every tensor of a file with a tiny independent parser (not the one under test).
    static func readAll(_ url: URL) throws -> [RawTensor] {
        let data = try Data(contentsOf: url)
        let length = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as! [String: Any]
        let base = 8 + length
        return header.filter { $0.key != "__metadata__" }.map { name, value in
            let fields = value as! [String: Any]
            let offsets = fields["data_offsets"] as! [Int]
            return RawTensor(name: name, dtype: fields["dtype"] as! String, shape: fields["shape"] as! [Int],
                             bytes: data.subdata(in: (base + offsets[0])..<(base + offsets[1])))
        }.sorted { $0.name < $1.name }
    }

    /// Serialises tensors; `headerOverride` lets a test lie about offsets.
    static func encode(_ tensors: [RawTensor], headerOverride: ((inout [String: Any]) -> Void)? = nil) throws -> Data {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var body = Data()
        for t in tensors {
            header[t.name] = ["dtype": t.dtype, "shape": t.shape, "data_offsets": [body.count, body.count + t.bytes.count]]
            body.append(t.bytes)
        }
        headerOverride?(&header)
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(body)
        return out
    }

    /// Splits a file into `shards` files plus model.safetensors.index.json, as save_pretrained does.
    static func split(_ source: URL, into directory: URL, shards: Int) throws {
        let tensors = try readAll(source)
        var weightMap: [String: String] = [:]
        for shard in 0..<shards {
            let name = String(format: "model-%05d-of-%05d.safetensors", shard + 1, shards)
            let part = tensors.enumerated().filter { $0.offset % shards == shard }.map(\.element)
            try encode(part).write(to: directory.appendingPathComponent(name))
            for t in part { weightMap[t.name] = name }
        }
        let index = try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": weightMap])
        try index.write(to: directory.appendingPathComponent("model.safetensors.index.json"))
    }
}
