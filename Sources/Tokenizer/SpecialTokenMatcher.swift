/// Splits raw text around special tokens (`</s>`, `<pad>`, `<unk>`,
/// `<extra_id_N>`) before normalization, as Hugging Face's AddedVocabulary
/// does: leftmost match, longest token first when several start at the same place.
struct SpecialTokenMatcher: Sendable {
    enum Segment: Equatable {
        case text(String)
        case special(id: Int32, content: String)
    }

    /// by first byte: (bytes, id), longest first
    private var byFirstByte: [UInt8: [([UInt8], Int32)]] = [:]
    let contents: [Int32: String]

    init(tokens: [(content: String, id: Int32)]) {
        var contents: [Int32: String] = [:]
        for (content, id) in tokens where !content.isEmpty {
            let bytes = Array(content.utf8)
            byFirstByte[bytes[0], default: []].append((bytes, id))
            contents[id] = content
        }
        for key in byFirstByte.keys { byFirstByte[key]?.sort { $0.0.count > $1.0.count } }
        self.contents = contents
    }

    var isEmpty: Bool { byFirstByte.isEmpty }

    func split(_ text: String) -> [Segment] {
        if byFirstByte.isEmpty { return text.isEmpty ? [] : [.text(text)] }
        let bytes = Array(text.utf8)
        var segments: [Segment] = []
        var textStart = 0
        var i = 0
        while i < bytes.count {
            if let candidates = byFirstByte[bytes[i]],
               let match = candidates.first(where: { token in
                   i + token.0.count <= bytes.count && bytes[i..<(i + token.0.count)].elementsEqual(token.0)
               }) {
                if textStart < i {
                    segments.append(.text(String(decoding: bytes[textStart..<i], as: UTF8.self)))
                }
                segments.append(.special(id: match.1, content: String(decoding: match.0, as: UTF8.self)))
                i += match.0.count
                textStart = i
            } else {
                i += 1
            }
        }
        if textStart < bytes.count {
            segments.append(.text(String(decoding: bytes[textStart...], as: UTF8.self)))
        }
        return segments
    }
}
