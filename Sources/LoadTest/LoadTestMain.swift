import ArgumentParser

/// `instructrec-loadtest`: operational tests against the real binary
/// (`make lb-test`, `make soak`). A separate executable so the service binary
/// carries no test tooling.
@main
struct LoadTestMain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instructrec-loadtest",
        abstract: "Load balancer fault test and soak test for instructrec serve.",
        subcommands: [LBTestCommand.self, SoakCommand.self])
}
