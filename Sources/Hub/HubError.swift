/// Why a model could not be had from the hub or its cache; every case names the repository, and the file
/// where there is one, so the start-up error says what to fix.
public enum HubError: Error, Equatable, CustomStringConvertible {
    /// the hub answered 404 for the repository (or hides a private one without a token)
    case unknownRepository(String)
    case unknownRevision(repository: String, revision: String)
    case unknownFile(repository: String, file: String)
    /// 401/403: the token is missing, wrong, or has no access
    case refused(repository: String, file: String?, status: Int)
    /// HF_HUB_OFFLINE=1 and the cache lacks the snapshot or a file of it
    case offlineMiss(repository: String, file: String?, cache: String)
    /// the repository has no weights or config the engine can read
    case notAModel(repository: String, reason: String)
    /// the bytes did not match the hub's SHA-256 (X-Linked-Etag)
    case checksum(repository: String, file: String, expected: String, got: String)
    /// the connection failed, or the hub answered something unexpected
    case transfer(repository: String, file: String?, reason: String)

    public var description: String {
        switch self {
        case let .unknownRepository(repository):
            return "hub repository \(repository) not found (check the id; a private or gated repository needs HF_TOKEN)"
        case let .unknownRevision(repository, revision):
            return "hub repository \(repository) has no revision '\(revision)'"
        case let .unknownFile(repository, file):
            return "hub repository \(repository) has no file \(file)"
        case let .refused(repository, file, status):
            return "the hub refused \(repository)\(file.map { "/\($0)" } ?? "") (HTTP \(status)): set HF_TOKEN to a token with access"
        case let .offlineMiss(repository, file, cache):
            return "HF_HUB_OFFLINE is set and the cache \(cache) has no \(file.map { "file \($0) of " } ?? "snapshot of ")\(repository); fetch it once online (or with huggingface-cli download)"
        case let .notAModel(repository, reason):
            return "hub repository \(repository) is not a model the engine reads: \(reason)"
        case let .checksum(repository, file, expected, got):
            return "\(repository)/\(file): the download's SHA-256 is \(got), the hub says \(expected); the file was not kept"
        case let .transfer(repository, file, reason):
            return "fetching \(repository)\(file.map { "/\($0)" } ?? ""): \(reason)"
        }
    }
}
