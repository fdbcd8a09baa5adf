import ArgumentParser
import Foundation
import Service

@main
struct InstructRecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instructrec",
        abstract: "InstructRec reranking service: T5 scores candidates by the likelihood of their titles given an instruction.",
        version: RerankService.version,
        subcommands: [ServeCommand.self, ScoreCommand.self, FetchCommand.self, InstructionsCommand.self, EvalCommand.self, TokenizeCommand.self]
    )

    /// No subcommand: a usage error (EX_USAGE, sysexits.h), not a success, with the help on stderr.
    func run() throws {
        FileHandle.standardError.write(Data((Self.helpMessage() + "\n").utf8))
        throw ExitCode.validationFailure
    }
}
