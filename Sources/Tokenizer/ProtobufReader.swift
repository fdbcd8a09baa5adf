/// Just enough of the protobuf wire format to read a SentencePiece
/// ModelProto: varints, 32-bit floats and length-delimited fields. Every read
/// is bounds-checked; a truncated message is an error, never a crash.
struct ProtobufReader {
    enum Field {
        case varint(UInt64)
        case fixed32(UInt32)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
    }

    struct Malformed: Error { let reason: String }

    private let bytes: ArraySlice<UInt8>
    private var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    var isAtEnd: Bool { position >= bytes.endIndex }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.endIndex else { throw Malformed(reason: "truncated varint at byte \(position)") }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw Malformed(reason: "varint longer than 10 bytes at byte \(position)") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// The next (field number, value), or nil at the end.
    mutating func next() throws -> (number: Int, field: Field)? {
        if isAtEnd { return nil }
        let key = try varint()
        let number = Int(key >> 3)
        guard number > 0 else { throw Malformed(reason: "field number 0 at byte \(position)") }
        switch key & 7 {
        case 0: return (number, .varint(try varint()))
        case 1:
            guard position + 8 <= bytes.endIndex else { throw Malformed(reason: "truncated fixed64 field \(number)") }
            var value: UInt64 = 0
            for i in 0..<8 { value |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += 8
            return (number, .fixed64(value))
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.endIndex - position) else {
                throw Malformed(reason: "field \(number) claims \(length) bytes, \(bytes.endIndex - position) remain")
            }
            let start = position
            position += Int(length)
            return (number, .bytes(bytes[start..<position]))
        case 5:
            guard position + 4 <= bytes.endIndex else { throw Malformed(reason: "truncated fixed32 field \(number)") }
            var value: UInt32 = 0
            for i in 0..<4 { value |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
            position += 4
            return (number, .fixed32(value))
        default:
            throw Malformed(reason: "unsupported wire type \(key & 7) for field \(number)")
        }
    }
}
