#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Child processes to kill if the tool itself is interrupted (Ctrl-C, a CI
/// timeout's SIGTERM), so no replica or nginx outlives it. The handler only
/// calls kill and _exit, which are async-signal-safe, on a fixed C array.
enum ChildRegistry {
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<pid_t> = {
        let pointer = UnsafeMutablePointer<pid_t>.allocate(capacity: 64)
        pointer.initialize(repeating: 0, count: 64)
        return pointer
    }()

    static func installSignalHandlers() {
        _ = slots
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber) { received in
                for index in 0..<64 where ChildRegistry.slots[index] > 0 { kill(ChildRegistry.slots[index], SIGKILL) }
                _exit(128 + received)
            }
        }
    }

    static func add(_ pid: pid_t) {
        for index in 0..<64 where slots[index] == 0 { slots[index] = pid; return }
    }

    static func remove(_ pid: pid_t) {
        for index in 0..<64 where slots[index] == pid { slots[index] = 0 }
    }
}
