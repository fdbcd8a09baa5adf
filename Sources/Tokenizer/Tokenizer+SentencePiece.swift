import Foundation

extension Tokenizer {
    /// Loads a SentencePiece `spiece.model` (ModelProto), parsing the protobuf
    /// ourselves: field 1 pieces {1 piece, 2 score, 3 type}, field 3
    /// normalizer_spec {2 precompiled_charsmap, 3 add_dummy_prefix,
    /// 4 remove_extra_whitespaces, 5 escape_whitespaces}.
    public convenience init(sentencePieceModel url: URL) throws {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadable(file: file, reason: error.localizedDescription)
        }
        let bytes = [UInt8](data)
        var pieces: [String] = []
        var scores: [Double] = []
        var types: [Int] = []
        var spec = SentencePieceNormalizerSpec()
        var charsmapBytes: [UInt8]?
        do {
            var reader = ProtobufReader(bytes[...])
            while let (number, field) = try reader.next() {
                switch (number, field) {
                case let (1, .bytes(message)):
                    var pieceReader = ProtobufReader(message)
                    var piece: String?
                    var score: Float = 0
                    var type = 1
                    while let (n, f) = try pieceReader.next() {
                        switch (n, f) {
                        case let (1, .bytes(text)):
                            guard let s = String(validating: text, as: UTF8.self) else {
                                throw ProtobufReader.Malformed(reason: "piece \(pieces.count) is not UTF-8")
                            }
                            piece = s
                        case let (2, .fixed32(bits)): score = Float(bitPattern: bits)
                        case let (3, .varint(value)): type = Int(value)
                        default: break
                        }
                    }
                    guard let piece else { throw ProtobufReader.Malformed(reason: "piece \(pieces.count) has no text") }
                    pieces.append(piece)
                    scores.append(Double(score))
                    types.append(type)
                case let (3, .bytes(message)):
                    var specReader = ProtobufReader(message)
                    while let (n, f) = try specReader.next() {
                        switch (n, f) {
                        case let (2, .bytes(blob)): charsmapBytes = Array(blob)
                        case let (3, .varint(v)): spec.addDummyPrefix = v != 0
                        case let (4, .varint(v)): spec.removeExtraWhitespaces = v != 0
                        case let (5, .varint(v)): spec.escapeWhitespaces = v != 0
                        default: break
                        }
                    }
                default: break
                }
            }
        } catch let error as ProtobufReader.Malformed {
            throw TokenizerError.invalidSentencePieceModel(file: file, reason: error.reason)
        }
        guard !pieces.isEmpty else {
            throw TokenizerError.invalidSentencePieceModel(file: file, reason: "no pieces")
        }
        // Piece types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
        if let bad = types.firstIndex(where: { $0 == 4 || $0 == 6 }) {
            throw TokenizerError.unsupportedComponent(file: file, component: "piece",
                                                      type: types[bad] == 4 ? "USER_DEFINED ('\(pieces[bad])')" : "BYTE")
        }
        guard let unknown = types.firstIndex(of: 2) else {
            throw TokenizerError.invalidSentencePieceModel(file: file, reason: "no UNKNOWN piece")
        }
        guard let eos = pieces.firstIndex(of: "</s>") else {
            throw TokenizerError.invalidSentencePieceModel(file: file, reason: "no </s> piece")
        }
        let charsmap = try charsmapBytes.flatMap { $0.isEmpty ? nil : try PrecompiledCharsmap(blob: $0, file: file) }
        let lattice = types.indices.filter { [1, 5].contains(types[$0]) }.map { Int32($0) }
        let model = UnigramModel(pieces: pieces, scores: scores, unknownID: Int32(unknown), trieIDs: lattice,
                                 precision: .float,
                                 unusable: Set(types.indices.filter { types[$0] == 5 }.map { Int32($0) }))
        let controls = Set(types.indices.filter { types[$0] == 3 }.map { Int32($0) })
        self.init(pipeline: .sentencePiece(charsmap: charsmap, spec: spec), model: model,
                  specialIDs: controls.union([Int32(unknown)]), controlIDs: controls,
                  eosID: Int32(eos), source: file)
    }
}
