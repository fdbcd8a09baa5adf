import Foundation

/// Sends `/recommend` traffic from client threads, each with one keep-alive
/// connection, and records every request.
///
/// Closed loop: each client sends its next request when the last one is
/// answered (lb-test: constant concurrency). Open loop: requests are due at a
/// fixed rate whether or not earlier ones were answered, which is how
/// overload looks from the server's side (soak).
final class LoadGenerator: @unchecked Sendable {
    let port: Int
    let timeoutSeconds: Double
    let log = RecordLog()
    private let lock = NSLock()
    private var stopping = false
    private var rate = 0.0
    private var nextDue = 0.0
    private var sequence = 0
    private let finished = DispatchGroup()

    init(port: Int, timeoutSeconds: Double = 30) {
        self.port = port
        self.timeoutSeconds = timeoutSeconds
    }

    private var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return stopping }

    private func nextVariant() -> Int {
        lock.lock(); defer { lock.unlock() }
        sequence += 1
        return sequence
    }

    func startClosedLoop(clients: Int) {
        for _ in 0..<clients { spawn { connection in
            while !self.isStopping { self.send(on: connection) }
        } }
    }

    /// Requests per second for the open loop; may change while it runs.
    func setRate(_ requestsPerSecond: Double) {
        lock.lock()
        rate = requestsPerSecond
        nextDue = max(nextDue, Clock.now)
        lock.unlock()
    }

    func startOpenLoop(connections: Int, requestsPerSecond: Double) {
        setRate(requestsPerSecond)
        for _ in 0..<connections { spawn { connection in
            // Connect up front so the server's descriptor count is stable from the start.
            try? connection.connect()
            while let ticket = self.takeTicket() {
                Clock.sleep(until: ticket.due)
                if self.isStopping { break }
                if ticket.send { self.send(on: connection) }
            }
        } }
    }

    /// The time the next open-loop request is due (send false: paused, rate 0).
    /// When every connection is busy the schedule slips rather than building
    /// a burst to replay later.
    private func takeTicket() -> (due: Double, send: Bool)? {
        lock.lock(); defer { lock.unlock() }
        if stopping { return nil }
        let now = Clock.now
        if rate <= 0 { return (now + 0.05, false) }
        if nextDue < now - 0.05 { nextDue = now - 0.05 }
        let due = nextDue
        nextDue += 1 / rate
        return (due, true)
    }

    private func spawn(_ body: @escaping @Sendable (HTTPClientConnection) -> Void) {
        finished.enter()
        let thread = Thread { [self] in
            let connection = HTTPClientConnection(port: port, timeoutSeconds: timeoutSeconds)
            body(connection)
            connection.close()
            finished.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func send(on connection: HTTPClientConnection) {
        let request = RecommendPayload.request(variant: nextVariant())
        let start = Clock.now
        var record = RequestRecord(start: start, end: start, status: nil, error: nil)
        do {
            let response = try connection.request(request)
            record.status = response.status
            record.hasRetryAfter = response.header("Retry-After") != nil
            if response.status == 200, !String(decoding: response.body, as: UTF8.self).contains("\"results\"") {
                record.error = "bad_body"
            }
        } catch let error as LoadTestError {
            record.error = error.cause
        } catch {
            record.error = "\(error)"
        }
        record.end = Clock.now
        log.append(record)
    }

    /// Stops every client and waits for its last request to finish.
    func stop() {
        lock.lock(); stopping = true; lock.unlock()
        finished.wait()
    }
}
