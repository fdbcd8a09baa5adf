import ArgumentParser
import Service

@main
struct InstructRecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instructrec",
        abstract: "InstructRec reranking service: T5 scores candidates by the likelihood of their titles given an instruction.",
        version: RerankService.version,
        subcommands: [ServeCommand.self, ScoreCommand.self, InstructionsCommand.self, EvalCommand.self, TokenizeCommand.self]
    )
}
