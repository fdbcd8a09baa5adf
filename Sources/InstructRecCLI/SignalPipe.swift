import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM/SIGINT as bytes on a pipe (the self-pipe trick), read on a Dispatch queue.
///
/// Dispatch signal sources on Linux rely on SIG_IGN plus a signalfd registered
/// asynchronously; a signal that arrives before that registration, or that the
/// kernel hands to a thread not blocking it, is discarded. A real handler never
/// loses one: it runs in whichever thread gets the signal and only write(2)s its
/// number (async-signal-safe), from the first instruction after `install`.
enum SignalPipe {
    nonisolated(unsafe) private static var writeFD: Int32 = -1

    /// Installs the handler for `signals`; `handler` runs on `queue` once per signal received.
    static func install(_ signals: [Int32], queue: DispatchQueue, handler: @escaping @Sendable (Int32) -> Void) -> DispatchSourceRead? {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC); _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        writeFD = fds[1]
        let readFD = fds[0]
        let source = DispatchSource.makeReadSource(fileDescriptor: readFD, queue: queue)
        source.setEventHandler {
            var buffer = [UInt8](repeating: 0, count: 16)
            let count = buffer.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
            for index in 0..<max(0, count) { handler(Int32(buffer[index])) }
        }
        source.resume()
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(SignalPipe.writeFD, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(number, &action, nil)
        }
        return source
    }
}
