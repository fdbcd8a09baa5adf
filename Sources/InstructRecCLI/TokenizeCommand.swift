import ArgumentParser
import Configuration
import Foundation
import Service
import Tokenizer

/// `instructrec tokenize`: the ids and pieces of a text as JSON, for debugging prompts.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids and pieces of a text as JSON (reads stdin when no text is given, less one final line ending)."
    )

    @Option(help: "Directory with tokenizer.json or spiece.model, or the path of either file (default: the one serve loads: the configured tokenizer, else the model directory, found from any directory).")
    var tokenizer: String?

    @Option(help: "A model directory: its tokenizer (instead of --tokenizer).")
    var model: String?

    @Flag(help: "Do not append </s>.")
    var noEOS = false

    @Argument(help: "Text to tokenize.")
    var text: String?

    func run() throws {
        if model != nil && self.tokenizer != nil { throw ValidationError("give --model or --tokenizer, not both") }
        // As the service tokenizes: </s>, <pad> and <unk> in the text are characters (RankPipeline).
        let tokenizer = try Tokenizer.load(path: try model ?? self.tokenizer ?? Self.servedTokenizer()).readingControlTokensAsText()
        let input = text ?? Self.line(String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self))
        let encoding = tokenizer.encodeWithPieces(input, addEOS: !noEOS)
        let object: [String: Any] = [
            "text": input,
            "ids": encoding.ids.map { Int($0) },
            "pieces": encoding.pieces,
            "count": encoding.ids.count,
            "decoded": tokenizer.decode(encoding.ids),
            "tokenizer": tokenizer.source,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }

    /// The tokenizer `serve` would load: its configuration (config/instructrec.json here or beside the
    /// binary, INSTRUCTREC_* variables) read the way `serve` reads it, so relative defaults are found
    /// from any directory; the configured tokenizer, else the model directory.
    static func servedTokenizer() throws -> String {
        do {
            let file = try ConfigurationLocation.configFile(explicit: nil)
            let configuration = try ServiceConfiguration.load(file: file, environment: ProcessInfo.processInfo.environment, overrides: [:],
                                                              baseDirectories: ConfigurationLocation.baseDirectories(configFile: file))
                .fetchingHubModels()
            return configuration.tokenizer ?? configuration.model
        } catch {
            throw ValidationError("no --tokenizer given, and the configuration serve reads names none: \(error). Pass --tokenizer PATH.")
        }
    }

    /// Standard input without the one line ending that `echo` or a file's last line adds ("\n" or "\r\n"),
    /// which is not part of the text; any other trailing whitespace is kept.
    static func line(_ input: String) -> String {
        var bytes = Array(input.utf8)
        if bytes.last == UInt8(ascii: "\n") {
            bytes.removeLast()
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
