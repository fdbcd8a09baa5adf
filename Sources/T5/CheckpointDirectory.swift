import Foundation

/// The tensors of a Hugging Face checkpoint directory: `model.safetensors`, or
/// shards listed in `model.safetensors.index.json` (`weight_map`: tensor name
/// -> shard file name).
final class CheckpointDirectory: @unchecked Sendable {
    let directory: URL
    private var shards: [String: SafeTensorsFile] = [:]
    /// tensor name -> shard file name
    private var location: [String: String] = [:]

    init(directory: URL) throws {
        self.directory = directory
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw T5Error.modelDirectory(path: directory.path, reason: "does not exist or is not a directory")
        }
        let single = directory.appendingPathComponent("model.safetensors")
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        if fm.fileExists(atPath: single.path) {
            let file = try SafeTensorsFile(path: single.path)
            shards["model.safetensors"] = file
            for name in file.entries.keys { location[name] = "model.safetensors" }
        } else if fm.fileExists(atPath: index.path) {
            try loadIndex(index)
        } else {
            let contents = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
            let hint = contents.contains("pytorch_model.bin")
                ? " (found pytorch_model.bin: convert it with save_pretrained(safe_serialization=True))" : ""
            throw T5Error.modelDirectory(path: directory.path,
                                         reason: "no model.safetensors or model.safetensors.index.json\(hint)")
        }
    }

    private func loadIndex(_ index: URL) throws {
        guard let data = try? Data(contentsOf: index),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let weightMap = object["weight_map"] as? [String: String]
        else {
            throw T5Error.safetensors(file: index.path, reason: "index must be a JSON object with a 'weight_map' of tensor name -> shard file")
        }
        for (tensor, shardName) in weightMap {
            // Shard names are plain file names inside the directory.
            guard !shardName.contains("/"), !shardName.hasPrefix(".") else {
                throw T5Error.safetensors(file: index.path, reason: "tensor '\(tensor)' points to invalid shard name '\(shardName)'")
            }
            if shards[shardName] == nil {
                let path = directory.appendingPathComponent(shardName).path
                guard FileManager.default.fileExists(atPath: path) else {
                    throw T5Error.safetensors(file: index.path, reason: "shard '\(shardName)' of tensor '\(tensor)' does not exist")
                }
                shards[shardName] = try SafeTensorsFile(path: path)
            }
            guard shards[shardName]?.entries[tensor] != nil else {
                throw T5Error.missingTensor(file: directory.appendingPathComponent(shardName).path, tensor: tensor)
            }
            location[tensor] = shardName
        }
    }

    func contains(_ name: String) -> Bool { location[name] != nil }

    /// A description of where `name` would be found, for error messages.
    var describedFiles: String {
        let names = shards.keys.sorted()
        return names.count == 1 ? directory.appendingPathComponent(names[0]).path
            : "\(directory.path)/{\(names.joined(separator: ","))}"
    }

    /// Where `name` is and its element type, after checking that its shape is `expected`.
    private func locate(_ name: String, shape expected: [Int]) throws -> (SafeTensorsFile, TensorEntry, TensorDType) {
        guard let shardName = location[name], let shard = shards[shardName], let entry = shard.entries[name] else {
            throw T5Error.missingTensor(file: describedFiles, tensor: name)
        }
        guard let dtype = TensorDType(rawValue: entry.dtypeName) else {
            throw T5Error.unsupportedDType(file: shard.path, tensor: name, dtype: entry.dtypeName)
        }
        guard entry.shape == expected else {
            throw T5Error.shapeMismatch(file: shard.path, tensor: name, expected: expected, found: entry.shape)
        }
        return (shard, entry, dtype)
    }

    /// Loads `name` as F32, checking that its shape is `expected` (norms, relative biases).
    func tensor(_ name: String, shape expected: [Int]) throws -> Tensor {
        let (shard, entry, _) = try locate(name, shape: expected)
        let tensor = Tensor(shape: expected, zeroed: false)
        try shard.read(entry, widened: true, into: tensor.data)
        return tensor
    }

    /// Loads tensors of the same [rows, columns] shape stacked along rows into
    /// one matrix, e.g. q, k, v into [3*inner, d_model] for a single fused
    /// GEMM (one name: the tensor itself).
    ///
    /// With `.auto` a matrix whose parts are all BF16 (or all F16) stays in
    /// that type; anything else, and every matrix with `.f32`, is widened to F32 here; with `.int8` the
    /// F32 matrix is then quantized for `int8Kernel` (one matrix in F32 at a time), with `.bf16` rounded to bf16.
    func matrix(_ names: [String], rowShape: [Int], dtype choice: WeightsDType,
                int8Kernel: Int8Kernel = .fastest) throws -> WeightMatrix {
        let rows = rowShape[0], columns = rowShape[1]
        let parts = try names.map { try locate($0, shape: rowShape) }
        var element = TensorDType.f32
        if choice == .auto, let first = parts.first?.2, first != .f32, parts.allSatisfy({ $0.2 == first }) {
            element = first
        }
        let result = WeightMatrix(rows: rows * names.count, columns: columns, element: element)
        let partBytes = rows * columns * element.byteWidth
        for (i, (shard, entry, _)) in parts.enumerated() {
            try shard.read(entry, widened: element == .f32, into: result.bytes + i * partBytes)
        }
        if choice == .int8 { return WeightMatrix(quantizing: result, kernel: int8Kernel) }
        if choice == .bf16 { return BF16Matrix.isAvailable ? WeightMatrix(roundingToBF16: result) : WeightMatrix(plainBF16: result) }
        return result
    }
}
