import Foundation

/// The way back to the client for one request. Safe to call from any thread;
/// only the first answer (`respond` or `refuse`) counts.
public final class Responder: @unchecked Sendable {
    /// What a handler answered: its own response, or an error this layer words (`ErrorRenderer`).
    enum Answer: Sendable {
        case response(HTTPResponse)
        case refusal(HTTPError)
    }

    private let lock = NSLock()
    private var delivered = false
    /// this request's actions on the connection's flag (`gone.remove` tokens), forgotten once it is answered
    private var actions: [Int] = []
    private let deliver: @Sendable (Answer) -> Void
    private let gone: ClientGoneFlag

    /// - refuse: carries a refusal to the connection, which words it (`ConnectionStateMachine.requestRefused`);
    ///   without one (tests, the fuzzer) a refusal is delivered as a plain-text response
    init(gone: ClientGoneFlag, refuse: (@Sendable (HTTPError) -> Void)? = nil, deliver: @escaping @Sendable (HTTPResponse) -> Void) {
        self.gone = gone
        self.deliver = { answer in
            switch answer {
            case let .response(response): deliver(response)
            case let .refusal(error):
                if let refuse { refuse(error) } else { deliver(ErrorRenderer.plainText.response(for: error)) }
            }
        }
    }

    /// The client closed its side (EOF or reset) while the request was pending:
    /// work for it can be dropped.
    var isClientGone: Bool { gone.isSet }

    /// Runs `action` once if the client goes away before this request is answered (at once if it already
    /// has): an async handler's task is cancelled this way (`Router.add(_:_:async:)`). The flag is the
    /// connection's, shared by every request of a kept-alive connection, so `respond` removes this
    /// request's actions, and one registered after the answer is dropped: a long-lived connection holds
    /// none for the requests it has served.
    public func onClientGone(_ action: @escaping @Sendable () -> Void) {
        lock.lock()
        let answered = delivered
        lock.unlock()
        // Registered outside the lock: if the client is already gone, `action` runs here, at once (no token).
        guard !answered, let token = gone.onSet(action) else { return }
        lock.lock()
        let late = delivered   // answered meanwhile: forget it now, as `respond` would have
        if !late { actions.append(token) }
        lock.unlock()
        if late { gone.remove(token) }
    }

    /// Sends the response; returns false (and sends nothing) if one was already sent.
    @discardableResult
    public func respond(_ response: HTTPResponse) -> Bool { answer(.response(response)) }

    /// Answers with `error` as this layer answers its own refusals: worded by the application's
    /// `ErrorRenderer` for the request's path, counted as an answer of this layer. Returns false (and
    /// sends nothing) if an answer was already sent.
    @discardableResult
    public func refuse(_ error: HTTPError) -> Bool { answer(.refusal(error)) }

    private func answer(_ answer: Answer) -> Bool {
        lock.lock()
        let first = !delivered
        delivered = true
        let registered = actions
        actions = []
        lock.unlock()
        for token in registered { gone.remove(token) }
        if first { deliver(answer) }
        return first
    }
}

/// Set once when the peer goes away; read from worker threads. Callbacks registered with `onSet`
/// run once, when it is set (or at once if it is already), unless removed first.
final class ClientGoneFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    private var callbacks: [Int: @Sendable () -> Void] = [:]
    private var nextToken = 0
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() {
        lock.lock()
        let pending = value ? [] : Array(callbacks.values)
        value = true
        callbacks = [:]
        lock.unlock()
        for callback in pending { callback() }
    }
    /// A token for `remove`; nil when the flag was already set and `callback` has run.
    @discardableResult
    func onSet(_ callback: @escaping @Sendable () -> Void) -> Int? {
        lock.lock()
        if value { lock.unlock(); callback(); return nil }
        nextToken += 1
        callbacks[nextToken] = callback
        let token = nextToken
        lock.unlock()
        return token
    }
    func remove(_ token: Int) { lock.lock(); callbacks[token] = nil; lock.unlock() }
    /// Callbacks waiting (tests: a kept-alive connection holds none once its requests are answered).
    var waiting: Int { lock.lock(); defer { lock.unlock() }; return callbacks.count }
}
