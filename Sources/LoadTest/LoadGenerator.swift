import Foundation

/// Sends ranking traffic (`TrafficMix`: /recommend to the default model, and
/// /v2/rerank to a second model by name) from client threads, each with one
/// keep-alive connection, and records every request. An answer must come from
/// the model asked for: its `X-Model` header names it.
///
/// Closed loop: each client sends its next request when the last one is
/// answered (lb-test: constant concurrency). Open loop: requests are due at a
/// fixed rate whether or not earlier ones were answered, which is how
/// overload looks from the server's side (soak).
final class LoadGenerator: @unchecked Sendable {
    let port: Int
    let timeoutSeconds: Double
    let mix: TrafficMix
    /// Sent as `Authorization: Bearer` on every request (replicas with api_keys).
    let authorization: String?
    let log = RecordLog()
    private let lock = NSLock()
    private var stopping = false
    private var rate = 0.0
    private var nextDue = 0.0
    private var sequence = 0
    private var busy = 0
    private var skipped = 0
    private let finished = DispatchGroup()

    init(port: Int, timeoutSeconds: Double = 30, mix: TrafficMix = .defaultOnly, authorization: String? = nil) {
        self.port = port
        self.timeoutSeconds = timeoutSeconds
        self.mix = mix
        self.authorization = authorization
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

    /// Requests per second for the open loop; may change while it runs (0 pauses it).
    func setRate(_ requestsPerSecond: Double) {
        lock.lock()
        rate = requestsPerSecond
        nextDue = max(nextDue, Clock.now)
        lock.unlock()
    }

    /// A scheduler thread releases one request at each due time to an idle
    /// connection. Nothing is scheduled ahead, so a rate change takes effect
    /// at once; when every connection is busy the release is dropped (and
    /// counted) rather than replayed later as a burst.
    func startOpenLoop(connections: Int, requestsPerSecond: Double) {
        setRate(requestsPerSecond)
        let released = DispatchSemaphore(value: 0)
        for _ in 0..<connections { spawn { connection in
            while true {
                released.wait()
                if self.isStopping { break }
                self.send(on: connection)
                self.lock.lock(); self.busy -= 1; self.lock.unlock()
            }
        } }
        finished.enter()
        Thread { [self] in
            while !isStopping {
                lock.lock()
                let currentRate = rate, due = nextDue
                lock.unlock()
                if currentRate <= 0 { usleep(20_000); continue }
                // Short sleeps, so a rate change or stop is seen within 50 ms.
                if due > Clock.now { Clock.sleep(until: min(due, Clock.now + 0.05)); continue }
                lock.lock()
                nextDue = max(due + 1 / currentRate, Clock.now - 0.05)
                let free = busy < connections
                if free { busy += 1 } else { skipped += 1 }
                lock.unlock()
                if free { released.signal() }
            }
            for _ in 0..<connections { released.signal() }
            finished.leave()
        }.start()
    }

    /// Releases dropped because every connection was busy.
    var skippedReleases: Int { lock.lock(); defer { lock.unlock() }; return skipped }

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
        let variant = nextVariant()
        let kind = mix.kind(for: variant)
        let request = kind.request(variant: variant, authorization: authorization)
        let start = Clock.now
        var record = RequestRecord(start: start, end: start, status: nil, error: nil)
        record.model = kind.expectedModel
        do {
            let response = try connection.request(request)
            record.status = response.status
            record.hasRetryAfter = response.header("Retry-After") != nil
            if response.status == 200, !String(decoding: response.body, as: UTF8.self).contains("\"results\"") {
                record.error = "bad_body"
            } else if response.status == 200 {
                switch response.header("X-Model") {
                case nil where mix.requiresModelHeader: record.error = "missing_x_model"
                case let answered? where answered != kind.expectedModel: record.error = "wrong_x_model(\(answered))"
                default: break
                }
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
