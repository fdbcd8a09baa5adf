// libFuzzer target for the connection state machine (built by `make fuzz`, not by SwiftPM).
//
// The input is the byte stream a client sends; it arrives in pieces chosen by
// the input itself, and between pieces the input also chooses what else
// happens: the application answers (inline, later, or by refusing), the socket
// blocks or takes bytes, the clock jumps and the timer fires, the peer sends
// EOF, the server shuts down. Requests go through the real `RequestDispatcher`
// (gzip request bodies, 404/405) and responses through the real encoder.
//
// Invariants (a violation traps, which libFuzzer reports as a crash):
// - at most one request is with the application at a time;
// - final responses go out in request order (their X-Request-ID follows the deliveries);
// - after a response that says `Connection: close` (or an error that ends the
//   connection) nothing more is delivered or written, and the connection closes
//   once the socket has taken it;
// - after `.close` no event produces any action;
// - no connection outlives its deadlines: answering everything, draining the
//   socket and letting time pass always ends in `.close`.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnectionStateMachine(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard !bytes.isEmpty else { return 0 }
    var run = FuzzConnection()
    var start = 0
    var cursor = 0
    while start < bytes.count && !run.isClosed {
        let selector = bytes[cursor % bytes.count]
        cursor += 1
        let end = min(bytes.count, start + 1 + Int(selector) % 23)
        run.receive(bytes[start..<end])
        start = end
        run.interleave(selector: selector, second: bytes[(cursor * 7) % bytes.count])
    }
    run.finish()
    return 0
}

/// The machine plus a pretend socket and application, checking the invariants as actions come out.
struct FuzzConnection {
    typealias Action = ConnectionStateMachine.Action

    var machine: ConnectionStateMachine
    let dispatcher: RequestDispatcher
    var now = 0.0
    var timer: Double?
    var isClosed = false
    var parseLaterDue = false
    var socketBlocked = false
    var unsent = 0
    /// the request with the application: its sequence and id, and a response it has given but we hold back
    var inFlight: (sequence: Int, requestID: String)?
    var heldResponse: HTTPResponse?
    var deliveredIDs: [String] = []
    var answeredIDs: [String] = []
    /// a response that ends the connection was written
    var endingWritten = false

    init() {
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxRequestLineBytes = 256
        configuration.limits.maxHeaderBytes = 1024
        configuration.limits.maxHeaderCount = 16
        configuration.limits.maxBodyBytes = 4096
        configuration.limits.maxChunkLineBytes = 64
        configuration.gzipMinimumBytes = 64
        machine = ConnectionStateMachine(configuration: configuration, errors: .plainText, peer: "fuzz", readAheadLimit: 512)
        var router = Router()
        router.add("GET", "/") { _, responder in responder.respond(.text("root")) }
        router.add("POST", "/echo") { request, responder in responder.respond(.json(request.body)) }
        router.add("GET", "/big") { _, responder in responder.respond(.json(Array(String(repeating: "{\"k\":1},", count: 40).utf8))) }
        router.add("GET", "/empty") { _, responder in responder.respond(HTTPResponse(status: 204)) }
        dispatcher = RequestDispatcher(router: router, maxDecodedBodyBytes: 2048)
        perform(machine.connectionOpened(now: now))
    }

    mutating func receive(_ piece: ArraySlice<UInt8>) {
        perform(machine.bytesReceived(piece, now: now))
    }

    /// What else happens after a piece arrives, as the input chooses.
    mutating func interleave(selector: UInt8, second: UInt8) {
        if selector & 0x01 != 0, let held = heldResponse, let request = inFlight {
            heldResponse = nil
            perform(machine.responseReady(held, sequence: request.sequence, now: now))
        }
        if selector & 0x02 != 0 && parseLaterDue {
            parseLaterDue = false
            perform(machine.resumeParsing(now: now))
        }
        switch second % 8 {
        case 0: socketBlocked.toggle()
        case 1: socketTakes(all: second & 0x10 != 0)
        case 2: now += Double(second % 5)
        case 3:
            // The clock jumps past the armed deadline and the timer fires.
            if let deadline = timer { now = max(now, deadline + Double(second % 3)); fireTimer() }
        default: break
        }
        if selector == 0xFF { perform(machine.peerClosed(now: now)) }
        if selector == 0xFE { perform(machine.shutdownBegan(now: now)) }
    }

    /// Answer everything, drain the socket, let time pass: the connection must close.
    mutating func finish() {
        var rounds = 0
        while !isClosed {
            rounds += 1
            precondition(rounds < 10_000, "the connection never closes")
            if let held = heldResponse, let request = inFlight {
                heldResponse = nil
                perform(machine.responseReady(held, sequence: request.sequence, now: now))
            } else if parseLaterDue {
                parseLaterDue = false
                perform(machine.resumeParsing(now: now))
            } else if unsent > 0 || socketBlocked {
                socketBlocked = false
                socketTakes(all: true)
            } else if let deadline = timer {
                now = max(now, deadline) + 1
                fireTimer()
            } else {
                preconditionFailure("open, idle and no deadline armed: inFlight \(String(describing: inFlight)), state \(machine.state)")
            }
        }
        precondition(answeredIDs == Array(deliveredIDs.prefix(answeredIDs.count)), "responses out of request order")
    }

    mutating func fireTimer() {
        guard let deadline = timer, now > deadline else { return }
        timer = nil
        perform(machine.timerFired(now: now))
    }

    mutating func socketTakes(all: Bool) {
        let sent = all ? unsent : unsent / 2
        unsent -= sent
        perform(machine.flushed(sent: sent, remaining: unsent, now: now))
    }

    /// Carries out actions in order, as `Connection` does; events they raise queue behind them.
    mutating func perform(_ actions: [Action]) {
        var queue = actions
        var next = 0
        while next < queue.count && !isClosed {
            let action = queue[next]
            next += 1
            switch action {
            case let .write(bytes):
                precondition(!endingWritten, "a write after the response that ends the connection")
                checkResponse(bytes)
                unsent += bytes.count
                if socketBlocked {
                    queue += machine.flushed(sent: 0, remaining: unsent, now: now)
                } else {
                    let sent = unsent
                    unsent = 0
                    queue += machine.flushed(sent: sent, remaining: 0, now: now)
                }
            case let .deliver(request, sequence):
                precondition(inFlight == nil, "two requests with the application at once")
                precondition(!endingWritten, "a request delivered after the response that ends the connection")
                inFlight = (sequence, request.requestID)
                deliveredIDs.append(request.requestID)
                switch dispatcher.dispatch(request) {
                case let .refused(error):
                    queue += machine.requestRefused(error, sequence: sequence, now: now)
                case let .handler(handler, decoded):
                    let box = ResponseBox()
                    handler(decoded, Responder(gone: ClientGoneFlag()) { box.response = $0 })
                    // Odd sequences answer inline; even ones later, when the input says so.
                    if sequence % 2 == 1, let response = box.response {
                        queue += machine.responseReady(response, sequence: sequence, now: now)
                    } else {
                        heldResponse = box.response
                    }
                }
            case .pauseReading, .resumeReading, .recordAccess, .rejectedAtLimit:
                break
            case .parseBufferedLater:
                parseLaterDue = true
            case let .armTimer(at):
                timer = at
            case .cancelTimer:
                timer = nil
            case .close:
                isClosed = true
                timer = nil
            }
        }
        if isClosed {
            // Nothing after close.
            precondition(machine.bytesReceived([0x47], now: now).isEmpty && machine.timerFired(now: now + 1_000).isEmpty
                         && machine.peerClosed(now: now).isEmpty && machine.flushed(sent: 0, remaining: 0, now: now).isEmpty,
                         "a closed machine still acts")
        }
    }

    /// Final responses follow the deliveries; one that ends the connection is the last.
    mutating func checkResponse(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if text.hasPrefix("HTTP/1.1 100 ") { return }
        let head = text.components(separatedBy: "\r\n\r\n").first ?? ""
        let requestID = head.components(separatedBy: "\r\n").first { $0.hasPrefix("X-Request-ID: ") }.map { String($0.dropFirst(14)) }
        precondition(requestID != nil, "a response without an id")
        if let inFlight {
            precondition(inFlight.requestID == requestID, "a response for a request not in flight")
            answeredIDs.append(inFlight.requestID)
            self.inFlight = nil
        } else {
            // An answer of the HTTP layer before any request reached the application (a framing error, a
            // timeout): it has its own id and ends the connection.
            precondition(head.contains("\r\nConnection: close"), "an early answer that keeps the connection")
        }
        if head.contains("\r\nConnection: close") { endingWritten = true }
    }
}

final class ResponseBox: @unchecked Sendable {
    var response: HTTPResponse?
}
