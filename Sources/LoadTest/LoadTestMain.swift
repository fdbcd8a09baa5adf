import ArgumentParser
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `instructrec-loadtest`: operational tests against the real binary
/// (`make lb-test`, `make soak`, `make fairness`). A separate executable so the service binary
/// carries no test tooling.
@main
struct LoadTestMain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instructrec-loadtest",
        abstract: "Load balancer fault test, soak test and cross-model fairness for instructrec serve.",
        subcommands: [LBTestCommand.self, SoakCommand.self, FairnessCommand.self])

    static func main() {
        // Progress lines appear as they happen, also when stdout is a CI log file.
        setvbuf(stdout, nil, _IOLBF, 0)
        ChildRegistry.installSignalHandlers()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
