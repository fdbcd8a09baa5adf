// libFuzzer target for the HTTP request parser (built by `make fuzz`, not by SwiftPM).
//
// Differential check: the input is parsed whole and again split into pieces
// chosen by the input itself; both must give the same requests or the same
// error. Any crash, trap or sanitizer report is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = ParserLimits()
    limits.maxRequestLineBytes = 256
    limits.maxHeaderBytes = 1024
    limits.maxHeaderCount = 16
    limits.maxBodyBytes = 4096
    limits.maxChunkLineBytes = 64
    let whole = outcome([bytes[...]], limits: limits)
    // Split points derived from the bytes themselves.
    var pieces: [ArraySlice<UInt8>] = []
    var start = 0
    var cursor = 0
    while start < bytes.count {
        let step = 1 + Int(bytes[cursor % bytes.count]) % 7
        cursor += 1
        let end = min(bytes.count, start + step)
        pieces.append(bytes[start..<end])
        start = end
    }
    let split = outcome(pieces, limits: limits)
    if whole != split {
        fatalError("split parse differs: \(whole) vs \(split)")
    }
    return 0
}

private func outcome(_ pieces: [ArraySlice<UInt8>], limits: ParserLimits) -> [String] {
    var parser = RequestParser(limits: limits)
    var events: [String] = []
    for piece in pieces {
        parser.feed(piece)
        loop: while true {
            switch parser.next() {
            case .needMoreData: break loop
            case .continueExpected: break
            case let .request(request):
                events.append("\(request.method) \(request.target) \(request.body.count) \(request.keepAlive)")
            case let .failure(error):
                events.append("error \(error.status)")
                return events
            }
        }
    }
    return events
}
