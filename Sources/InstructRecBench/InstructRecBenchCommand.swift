import ArgumentParser

/// `instructrec-bench`: the measurements behind `make bench`, `make bench-tokenizer`
/// and `make bench-http`. Kept out of the `instructrec` binary, which ships only
/// what the service and its operators need.
@main
struct InstructRecBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instructrec-bench",
        abstract: "Benchmarks of the InstructRec engine, tokenizer and HTTP layer.",
        subcommands: [BenchCommand.self, TokenizerBenchCommand.self, HTTPBenchServerCommand.self, CandidateCountBench.self, PointwiseBench.self],
        defaultSubcommand: BenchCommand.self
    )
}
