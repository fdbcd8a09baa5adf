/// Every failure the T5 module can report. Messages name the file and, where
/// there is one, the tensor or config key, so an operator can fix the
/// checkpoint without reading our code.
public enum T5Error: Error, Equatable, CustomStringConvertible, Sendable {
    /// The model directory does not exist or holds no usable files.
    case modelDirectory(path: String, reason: String)
    /// `config.json` is unreadable, has a missing/invalid key, or contradicts itself.
    case config(file: String, key: String, reason: String)
    /// A safetensors file is structurally broken (truncated, bad header, lying offsets).
    case safetensors(file: String, reason: String)
    /// A tensor the architecture needs is absent from every shard.
    case missingTensor(file: String, tensor: String)
    /// A tensor exists but its shape disagrees with the config.
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])
    /// A tensor is stored in a dtype we do not load.
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// The BLAS library computed a wrong product at start-up.
    case blasSelfCheckFailed(String)
    /// Bad arguments to the scoring API (ids out of range, empty instruction).
    case invalidInput(String)

    public var description: String {
        switch self {
        case let .modelDirectory(path, reason):
            return "model directory \(path): \(reason)"
        case let .config(file, key, reason):
            return "\(file): config key '\(key)': \(reason)"
        case let .safetensors(file, reason):
            return "\(file): invalid safetensors: \(reason)"
        case let .missingTensor(file, tensor):
            return "\(file): missing tensor '\(tensor)'"
        case let .shapeMismatch(file, tensor, expected, found):
            return "\(file): tensor '\(tensor)' has shape \(found), expected \(expected)"
        case let .unsupportedDType(file, tensor, dtype):
            return "\(file): tensor '\(tensor)' has unsupported dtype \(dtype) (supported: F32, BF16, F16)"
        case let .blasSelfCheckFailed(message):
            return message
        case let .invalidInput(message):
            return message
        }
    }
}
