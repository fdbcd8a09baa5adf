import Foundation

/// One tensor's entry in a safetensors header.
struct TensorEntry: Sendable {
    let name: String
    let dtypeName: String
    let shape: [Int]
    /// byte range inside the data section (after the 8-byte length and the header)
    let begin: Int
    let end: Int
}

/// A parsed, validated `.safetensors` file (format: 8-byte little-endian header
/// length N, N bytes of JSON header, then the raw tensor bytes).
///
/// Every structural promise the header makes is checked at open time: offsets
/// inside the file, byte lengths equal to shape x dtype width. A file that
/// lies is refused before any tensor is read.
final class SafeTensorsFile: @unchecked Sendable {
    let path: String
    private let mapping: MappedFile
    private(set) var entries: [String: TensorEntry] = [:]
    private let dataStart: Int

    init(path: String) throws {
        self.path = path
        mapping = try MappedFile(path: path)
        let bytes = mapping.bytes
        guard bytes.count >= 8 else {
            throw T5Error.safetensors(file: path, reason: "truncated: \(bytes.count) bytes, need at least 8 for the header length")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw T5Error.safetensors(file: path, reason: "truncated: header claims \(headerLength) bytes but the file has \(bytes.count - 8) after the length")
        }
        let headerEnd = 8 + Int(headerLength)
        dataStart = headerEnd
        let headerData = Data(bytes[8..<headerEnd])
        guard let object = try? JSONSerialization.jsonObject(with: headerData), let header = object as? [String: Any] else {
            throw T5Error.safetensors(file: path, reason: "header is not a JSON object")
        }
        // JSONSerialization keeps the last of two equal names: a file naming a tensor twice is ambiguous, refuse it.
        if let twice = Self.repeatedTopLevelName(Array(headerData)) {
            throw T5Error.safetensors(file: path, reason: "tensor '\(twice)' is named twice in the header")
        }
        let dataLength = bytes.count - headerEnd
        for (name, value) in header where name != "__metadata__" {
            guard let fields = value as? [String: Any],
                  let dtype = fields["dtype"] as? String,
                  let shape = fields["shape"] as? [Int],
                  let offsets = fields["data_offsets"] as? [Int], offsets.count == 2
            else {
                throw T5Error.safetensors(file: path, reason: "tensor '\(name)': header entry needs dtype, shape and two data_offsets")
            }
            let begin = offsets[0], end = offsets[1]
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw T5Error.safetensors(file: path, reason: "tensor '\(name)': negative dimension in shape \(shape)")
            }
            guard begin >= 0, begin <= end else {
                throw T5Error.safetensors(file: path, reason: "tensor '\(name)': data_offsets [\(begin), \(end)] are not an increasing range")
            }
            guard end <= dataLength else {
                throw T5Error.safetensors(file: path, reason: "tensor '\(name)': data_offsets end \(end) lies past the data section (\(dataLength) bytes); the file is truncated or the header lies")
            }
            if let known = TensorDType(rawValue: dtype) {
                let (count, overflow) = shape.reduce((1, false)) { acc, dim in
                    let product = acc.0.multipliedReportingOverflow(by: dim)
                    return (product.partialValue, acc.1 || product.overflow)
                }
                guard !overflow, count.multipliedReportingOverflow(by: known.byteWidth) == (count * known.byteWidth, false),
                      count * known.byteWidth == end - begin
                else {
                    throw T5Error.safetensors(file: path, reason: "tensor '\(name)': \(end - begin) bytes do not hold shape \(shape) of \(dtype)")
                }
            }
            entries[name] = TensorEntry(name: name, dtypeName: dtype, shape: shape, begin: begin, end: end)
        }
    }

    /// Copies the tensor into `destination`: widened to F32 (`widened`), or
    /// its bytes as stored. `destination` must hold exactly its elements.
    /// The file pages it came from are dropped from this process afterwards,
    /// so a loaded model does not keep both the file and its copy resident.
    /// The first member name the header's top-level object holds twice, or nil. A scan of the JSON text
    /// (already parsed, so well formed): strings are skipped with their escapes, and a string at depth 1 that a
    /// ':' follows is a member name (compared as written; safetensors' writers never escape tensor names).
    static func repeatedTopLevelName(_ json: [UInt8]) -> String? {
        var seen = Set<[UInt8]>()
        var depth = 0, i = 0
        while i < json.count {
            let byte = json[i]
            if byte == UInt8(ascii: "\"") {
                let start = i + 1
                i += 1
                while i < json.count && json[i] != UInt8(ascii: "\"") { i += json[i] == UInt8(ascii: "\\") ? 2 : 1 }
                let name = Array(json[start..<min(i, json.count)])
                i += 1
                var next = i
                while next < json.count && [0x20, 0x09, 0x0A, 0x0D].contains(json[next]) { next += 1 }
                if depth == 1 && next < json.count && json[next] == UInt8(ascii: ":") && !seen.insert(name).inserted {
                    return String(decoding: name, as: UTF8.self)
                }
                continue
            }
            if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
            if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") { depth -= 1 }
            i += 1
        }
        return nil
    }

    func read(_ entry: TensorEntry, widened: Bool, into destination: UnsafeMutableRawPointer) throws {
        guard let dtype = TensorDType(rawValue: entry.dtypeName) else {
            throw T5Error.unsupportedDType(file: path, tensor: entry.name, dtype: entry.dtypeName)
        }
        let count = (entry.end - entry.begin) / dtype.byteWidth
        guard let base = mapping.bytes.baseAddress else { return }
        let source = base + dataStart + entry.begin
        if widened {
            dtype.widen(source, count: count, into: destination.assumingMemoryBound(to: Float.self))
        } else {
            // safetensors does not promise alignment, so copy bytes, not elements.
            destination.copyMemory(from: source, byteCount: count * dtype.byteWidth)
        }
        mapping.release((dataStart + entry.begin)..<(dataStart + entry.end))
        // Widening keeps NaN and infinity, so the copy tells what the file holds.
        if let index = NonFiniteScan.firstNonFinite(UnsafeRawPointer(destination), count: count, dtype: widened ? .f32 : dtype) {
            throw T5Error.safetensors(file: path, reason: "tensor '\(entry.name)' holds NaN or infinity (element \(index) of \(count)): "
                                      + "the checkpoint is corrupt or overflowed when it was saved")
        }
    }
}
