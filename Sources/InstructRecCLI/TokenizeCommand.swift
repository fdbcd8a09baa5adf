import ArgumentParser
import Foundation
import Tokenizer

/// `instructrec tokenize`: the ids and pieces of a text as JSON, for debugging prompts.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids and pieces of a text as JSON (reads stdin when no text is given, less one final line ending)."
    )

    @Option(help: "Directory with tokenizer.json or spiece.model, or the path of either file.")
    var tokenizer = "models/default"

    @Flag(help: "Do not append </s>.")
    var noEOS = false

    @Argument(help: "Text to tokenize.")
    var text: String?

    func run() throws {
        let tokenizer = try Tokenizer.load(path: tokenizer)
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
