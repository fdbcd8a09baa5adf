import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One client connection's I/O: a non-blocking socket, its Dispatch sources,
/// TLS, and the output buffer. Every decision is the
/// `ConnectionStateMachine`'s; this class reports what the socket did and
/// carries out the actions it gets back. All of it runs on the connection's
/// own serial queue; handlers run elsewhere and come back through `Responder`.
final class Connection: @unchecked Sendable {
    typealias Action = ConnectionStateMachine.Action

    let id: Int
    let fd: Int32
    let peer: String
    let queue: DispatchQueue
    /// accepted beyond the limit, for one probe (`ProbeReserve`)
    let isReserve: Bool
    private unowned let server: HTTPServer
    private var machine: ConnectionStateMachine
    private var tls: TLSSession?
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    // Dispatch sources must be resumed as often as suspended, and before they are cancelled.
    private var readSourceSuspended = false
    private var writeSourceResumed = false
    private var output: [UInt8] = []
    private var outputOffset = 0
    /// the machine's armed deadline; the server's sweeper checks it
    private var timerDeadline: Double?
    private var closed = false
    private let gone = ClientGoneFlag()
    /// actions not yet carried out; events raised while carrying one out queue theirs behind it
    private var pending: [Action] = []
    private var performing = false
    private static let readChunk = 16 * 1024
    /// reused for every read(2) on this connection
    private var readBuffer = [UInt8](repeating: 0, count: Connection.readChunk)

    init(id: Int, fd: Int32, peer: String, server: HTTPServer, tls: TLSContext?, reserve: ProbeReserve?) {
        self.id = id
        self.fd = fd
        self.peer = peer
        self.server = server
        isReserve = reserve != nil
        machine = ConnectionStateMachine(configuration: server.configuration, errors: server.errors, peer: peer, reserve: reserve)
        // Target the non-overcommit global queue: a plain serial queue targets the
        // overcommit pool, which starts a thread for every busy connection (we saw
        // 240 threads and a creeping RSS under 64 connections); this pool stays near
        // the core count.
        queue = DispatchQueue(label: "instructrec.http.connection.\(id)", target: Connection.pool)
        queue.setSpecific(key: Connection.queueKey, value: id)
        if let tls { self.tls = TLSSession(context: tls) }
    }

    static let pool = DispatchQueue.global(qos: .userInitiated)
    /// marks each connection's queue with its id: "am I on this connection's queue?"
    static let queueKey = DispatchSpecificKey<Int>()

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    func start() {
        queue.async {
            let source = DispatchSource.makeReadSource(fileDescriptor: self.fd, queue: self.queue)
            source.setEventHandler { [weak self] in self?.readAvailable() }
            self.readSource = source
            let writer = DispatchSource.makeWriteSource(fileDescriptor: self.fd, queue: self.queue)
            writer.setEventHandler { [weak self] in self?.flush() }
            self.writeSource = writer
            source.resume()
            self.perform(self.machine.connectionOpened(now: Connection.now()))
        }
    }

    // MARK: events from the socket and the server (on this queue)

    private func readAvailable() {
        guard !closed else { return }
        let n = readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
            closeNow(reason: "read error")
            return
        }
        if n == 0 {
            gone.set()
            perform(machine.peerClosed(now: Connection.now()))
            return
        }
        guard let tls else {
            // Plain HTTP: the bytes go straight from the read buffer to the parser (one copy).
            perform(machine.bytesReceived(readBuffer[0..<n], now: Connection.now()))
            return
        }
        switch tls.receive(Array(readBuffer[0..<n])) {
        case let .data(plaintext):
            let handshake = tls.drain()
            if !handshake.isEmpty { queueOutput(handshake) }
            if !plaintext.isEmpty { perform(machine.bytesReceived(plaintext, now: Connection.now())) }
        case .closed:
            gone.set()
            perform(machine.peerClosed(now: Connection.now()))
        case let .failed(message):
            if !tls.handshakeDone {
                JSONLog.shared.warning("tls handshake failed", ["peer": peer, "error": message])
            }
            queueOutput(tls.drain())
            closeNow(reason: "tls error")
        }
    }

    /// The server's sweeper: fires the machine's timer once its deadline has passed.
    func timerTick(now: Double) {
        guard !closed, let deadline = timerDeadline, now > deadline else { return }
        timerDeadline = nil
        perform(machine.timerFired(now: now))
    }

    func beginShutdown() {
        perform(machine.shutdownBegan(now: Connection.now()))
    }

    /// Closes at once (tests).
    func stop() { closeNow(reason: "stop") }

    /// A handler's answer, from any thread.
    private func answerArrived(_ answer: Responder.Answer, sequence: Int) {
        let deliver: @Sendable () -> Void = { [self] in
            // Closed: the answer is late and the server (unowned) may be gone.
            guard !closed else { return }
            // A response that races the server's shutdown already says Connection: close.
            if server.isShuttingDown { perform(machine.shutdownBegan(now: Connection.now())) }
            switch answer {
            case let .response(response): perform(machine.responseReady(response, sequence: sequence, now: Connection.now()))
            case let .refusal(error): perform(machine.requestRefused(error, sequence: sequence, now: Connection.now()))
            }
        }
        // On this queue (the handler answered inline) no hop is needed: `perform` queues the
        // actions behind the ones being carried out. From anywhere else, hop: never touch the
        // machine beside this queue.
        if DispatchQueue.getSpecific(key: Connection.queueKey) == id { deliver() } else { queue.async(execute: deliver) }
    }

    // MARK: carrying out actions

    /// Carries out `actions` in order. Events raised meanwhile (a handler that
    /// answers inline, the socket taking a write) queue their actions behind
    /// these instead of recursing.
    private func perform(_ actions: [Action]) {
        guard !performing else { pending.append(contentsOf: actions); return }
        performing = true
        // These first (the common case: nothing else is raised), then whatever they raised, in order.
        for action in actions where !closed { carryOut(action) }
        var next = 0
        while next < pending.count && !closed {
            let action = pending[next]
            next += 1
            carryOut(action)
        }
        pending.removeAll(keepingCapacity: true)
        performing = false
    }

    private func carryOut(_ action: Action) {
        switch action {
        case let .write(bytes):
            if let tls {
                guard tls.send(bytes) else { closeNow(reason: "tls write error"); return }
                queueOutput(tls.drain())
            } else {
                queueOutput(bytes)
            }
        case let .deliver(request, sequence):
            switch server.dispatcher.dispatch(request) {
            case let .refused(error):
                perform(machine.requestRefused(error, sequence: sequence, now: Connection.now()))
            case let .handler(handler, request):
                // Handlers run on this queue and must not block: work that takes
                // time (inference) is queued elsewhere and answers later.
                handler(request, Responder(gone: gone, refuse: { [weak self] in self?.answerArrived(.refusal($0), sequence: sequence) },
                                           deliver: { [weak self] in self?.answerArrived(.response($0), sequence: sequence) }))
            }
        case .pauseReading:
            if !readSourceSuspended { readSource?.suspend(); readSourceSuspended = true }
        case .resumeReading:
            if readSourceSuspended { readSource?.resume(); readSourceSuspended = false }
        case .parseBufferedLater:
            queue.async { [weak self] in
                guard let self, !self.closed else { return }
                self.perform(self.machine.resumeParsing(now: Connection.now()))
            }
        case let .armTimer(deadline):
            timerDeadline = deadline
        case .cancelTimer:
            timerDeadline = nil
        case let .recordAccess(record):
            server.recordAccess(record)
        case .rejectedAtLimit:
            server.connectionRejected()
        case let .close(reason):
            close(reason: reason)
        }
    }

    // MARK: writing

    private func queueOutput(_ bytes: [UInt8]) {
        output.append(contentsOf: bytes)
        flush()
    }

    /// Writes as much as the socket takes (partial writes, EAGAIN) and tells the machine.
    private func flush() {
        guard !closed else { return }
        var sent = 0
        while outputOffset < output.count {
            let n = output.withUnsafeBytes { send(fd, $0.baseAddress! + outputOffset, output.count - outputOffset, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                outputOffset += n
                sent += n
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                if !writeSourceResumed { writeSource?.resume(); writeSourceResumed = true }
                break
            }
            closeNow(reason: "write error")
            return
        }
        if outputOffset == output.count {
            output.removeAll(keepingCapacity: output.count < 1 << 20)
            outputOffset = 0
            if writeSourceResumed { writeSource?.suspend(); writeSourceResumed = false }
        }
        perform(machine.flushed(sent: sent, remaining: output.count - outputOffset, now: Connection.now()))
    }

    // MARK: closing

    /// The transport failed or the server stops: the close happens now, ahead of any queued action.
    private func closeNow(reason: String) {
        gone.set()
        for action in machine.closeNow(reason: reason) { carryOut(action) }
    }

    private func close(reason: String) {
        guard !closed else { return }
        closed = true
        gone.set()
        if let tls, machine.input != .closed {
            tls.shutdown()
            let alert = tls.drain()
            if !alert.isEmpty { _ = alert.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) } }
        }
        if readSourceSuspended { readSource?.resume(); readSourceSuspended = false }
        if !writeSourceResumed { writeSource?.resume(); writeSourceResumed = true }
        let descriptor = fd
        let counter = CancelCounter(count: 2) { _ = Glibc.close(descriptor) }
        readSource?.setCancelHandler { counter.done() }
        writeSource?.setCancelHandler { counter.done() }
        readSource?.cancel()
        writeSource?.cancel()
        if readSource == nil { _ = Glibc.close(descriptor) }
        server.connectionClosed(self)
    }
}

/// Closes the descriptor once both Dispatch sources have been cancelled.
final class CancelCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var remaining: Int
    private let action: () -> Void
    init(count: Int, action: @escaping () -> Void) {
        remaining = count
        self.action = action
    }
    func done() {
        lock.lock()
        remaining -= 1
        let fire = remaining == 0
        lock.unlock()
        if fire { action() }
    }
}
