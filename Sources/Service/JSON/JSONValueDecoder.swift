import Configuration

/// `Decodable` over a parsed `JSONValue`, so request types are plain Swift
/// structs while errors keep what our own parser gives: a JSON path per field.
///
/// - A keyed container whose `CodingKeys` are `CaseIterable` accepts exactly
///   those member names; any other member is an error at its own path. The
///   allowed fields of a request are therefore its `CodingKeys`, nothing else.
/// - `null` reads as absent for optionals.
/// - Integers must be numbers with no fractional part, within the type's range.
/// Every failure is a `ServiceError` (422, `invalid_field`) naming the path.
enum JSONValueDecoder {
    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: ValueDecoder(value: value, codingPath: []))
    }

    /// "$", "$.documents[2].text": the path a client sees in `error.field`.
    static func path(_ codingPath: [CodingKey]) -> String {
        codingPath.reduce("$") { path, key in key.intValue.map { "\(path)[\($0)]" } ?? "\(path).\(key.stringValue)" }
    }
}

/// A coding key for array positions and paths built by hand.
struct IndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue; intValue = nil }
    init(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

/// Gives request types access to the raw value behind a decoder (string-or-object fields).
protocol JSONValueDecoding: Decoder {
    var value: JSONValue { get }
}

struct ValueDecoder: JSONValueDecoding {
    let value: JSONValue
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func fail(_ message: String) -> ServiceError { ServiceError.invalid(JSONValueDecoder.path(codingPath), message) }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case let .object(members) = value else { throw fail("must be an object, got \(value.typeName)") }
        if let iterable = Key.self as? any CaseIterable.Type {
            var allowed = Set<String>()
            for key in iterable.allCases as any Collection { if let key = key as? CodingKey { allowed.insert(key.stringValue) } }
            if let unknown = members.first(where: { !allowed.contains($0.0) }) {
                throw ServiceError.invalid(JSONValueDecoder.path(codingPath + [IndexKey(stringValue: unknown.0)]), "unknown field")
            }
        }
        return KeyedDecodingContainer(Keyed<Key>(members: Dictionary(members, uniquingKeysWith: { a, _ in a }), codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case let .array(elements) = value else { throw fail("must be an array, got \(value.typeName)") }
        return Unkeyed(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { Single(decoder: self) }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let members: [String: JSONValue]
        let codingPath: [CodingKey]
        var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

        func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }
        func decodeNil(forKey key: Key) throws -> Bool { members[key.stringValue].map { $0 == .null } ?? true }

        func child(_ key: Key) throws -> ValueDecoder {
            guard let value = members[key.stringValue] else {
                throw ServiceError.invalid(JSONValueDecoder.path(codingPath + [key]), "is required")
            }
            return ValueDecoder(value: value, codingPath: codingPath + [key])
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try T(from: child(key)) }
        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            guard let value = members[key.stringValue], value != .null else { return nil }
            return try T(from: ValueDecoder(value: value, codingPath: codingPath + [key]))
        }
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).singleValueContainer().decode(type) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).singleValueContainer().decode(type) }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try child(key).container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
        func superDecoder() throws -> Decoder { ValueDecoder(value: .object(members.map { ($0.key, $0.value) }), codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> Decoder { try child(key) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let elements: [JSONValue]
        let codingPath: [CodingKey]
        var currentIndex = 0
        var count: Int? { elements.count }
        var isAtEnd: Bool { currentIndex >= elements.count }

        init(elements: [JSONValue], codingPath: [CodingKey]) {
            self.elements = elements
            self.codingPath = codingPath
        }

        mutating func next() throws -> ValueDecoder {
            let key = IndexKey(intValue: currentIndex)
            guard !isAtEnd else { throw ServiceError.invalid(JSONValueDecoder.path(codingPath + [key]), "is required") }
            defer { currentIndex += 1 }
            return ValueDecoder(value: elements[currentIndex], codingPath: codingPath + [key])
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, elements[currentIndex] == .null else { return false }
            currentIndex += 1
            return true
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: next()) }
        mutating func decode(_ type: Bool.Type) throws -> Bool { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: String.Type) throws -> String { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: Double.Type) throws -> Double { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: Float.Type) throws -> Float { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: Int.Type) throws -> Int { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: UInt.Type) throws -> UInt { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().singleValueContainer().decode(type) }
        mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().singleValueContainer().decode(type) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try next().container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> Decoder { try next() }
    }

    struct Single: SingleValueDecodingContainer {
        let decoder: ValueDecoder
        var codingPath: [CodingKey] { decoder.codingPath }

        func decodeNil() -> Bool { decoder.value == .null }
        func decode(_ type: Bool.Type) throws -> Bool {
            guard case let .bool(flag) = decoder.value else { throw decoder.fail("must be true or false, got \(decoder.value.typeName)") }
            return flag
        }
        func decode(_ type: String.Type) throws -> String {
            guard case let .string(text) = decoder.value else { throw decoder.fail("must be a string, got \(decoder.value.typeName)") }
            return text
        }
        func decode(_ type: Double.Type) throws -> Double {
            guard case let .number(number) = decoder.value else { throw decoder.fail("must be a number, got \(decoder.value.typeName)") }
            return number
        }
        func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
        func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
            guard case let .number(number) = decoder.value, number.rounded() == number, let value = T(exactly: number) else {
                throw decoder.fail("must be an integer, got \(decoder.value == .null ? "null" : decoder.value.typeName)")
            }
            return value
        }
        func decode(_ type: Int.Type) throws -> Int { try integer(type) }
        func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
        func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
        func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
        func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
        func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: decoder) }
    }
}
