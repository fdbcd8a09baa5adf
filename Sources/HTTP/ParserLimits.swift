/// Size limits the parser enforces while bytes arrive, each with the status
/// RFC 9110/6585 assigns to it.
public struct ParserLimits: Sendable, Equatable {
    /// request-line bytes before 414 URI Too Long
    public var maxRequestLineBytes = 8 * 1024
    /// all header-section bytes before 431 (RFC 6585 §5)
    public var maxHeaderBytes = 32 * 1024
    /// header fields before 431
    public var maxHeaderCount = 100
    /// body bytes (after de-chunking) before 413 Content Too Large
    public var maxBodyBytes = 4 * 1024 * 1024
    /// a chunk-size line (size plus extensions) before 400
    public var maxChunkLineBytes = 4 * 1024

    public init() {}
}
