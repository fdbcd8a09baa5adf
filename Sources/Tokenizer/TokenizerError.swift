/// Every failure of the Tokenizer module; messages name the file and the part
/// of it that is wrong.
public enum TokenizerError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file cannot be read.
    case unreadable(file: String, reason: String)
    /// `tokenizer.json` is not what we can load (no model, wrong model type, bad field).
    case invalidTokenizerJSON(file: String, reason: String)
    /// A normalizer, pre-tokenizer or decoder type we do not implement.
    case unsupportedComponent(file: String, component: String, type: String)
    /// The precompiled charsmap blob (base64 or protobuf bytes) is corrupt.
    case invalidCharsmap(file: String, reason: String)
    /// `spiece.model` is not a valid SentencePiece ModelProto.
    case invalidSentencePieceModel(file: String, reason: String)
    /// A directory has neither tokenizer.json nor spiece.model.
    case noTokenizer(directory: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read tokenizer: \(reason)"
        case let .invalidTokenizerJSON(file, reason): return "\(file): invalid tokenizer.json: \(reason)"
        case let .unsupportedComponent(file, component, type):
            return "\(file): unsupported \(component) type '\(type)'"
        case let .invalidCharsmap(file, reason): return "\(file): corrupt precompiled_charsmap: \(reason)"
        case let .invalidSentencePieceModel(file, reason): return "\(file): invalid SentencePiece model: \(reason)"
        case let .noTokenizer(directory): return "\(directory): no tokenizer.json or spiece.model"
        }
    }
}
