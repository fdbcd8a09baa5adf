import ArgumentParser
import Foundation
import Tokenizer

/// `instructrec-bench tokenizer`: single-threaded tokens/s and MB/s over a
/// corpus (one JSON object with a "text" field per line, or plain lines).
struct TokenizerBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Benchmark the tokenizer (single thread) on a corpus file."
    )

    @Option(help: "tokenizer.json, spiece.model, or a directory holding one.")
    var tokenizer = "Tests/TokenizerTests/Fixtures/tokenizer.json"

    @Option(help: "Corpus: JSON lines with a \"text\" field, or plain text lines.")
    var corpus = "Tests/TokenizerTests/Fixtures/corpus.jsonl"

    @Option(help: "Passes over the corpus (the median pass is reported).")
    var passes = 5

    func run() throws {
        let tokenizer = try Tokenizer.load(path: tokenizer)
        let texts = try readCorpus(corpus)
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        var tokens = 0
        for text in texts { tokens += tokenizer.encode(text).count }  // warm-up
        let times = measure(repeats: passes) {
            for text in texts { _ = tokenizer.encode(text) }
        }
        let med = median(times)
        print(String(format: "swift tokenizer (%@): %d strings, %d tokens, %.2f MB: median pass %.1f ms = %.0f tokens/s, %.2f MB/s",
                     (tokenizer.source as NSString).lastPathComponent, texts.count, tokens, Double(bytes) / 1e6,
                     med * 1e3, Double(tokens) / med, Double(bytes) / 1e6 / med))
    }
}

func readCorpus(_ path: String) throws -> [String] {
    let content = try String(contentsOfFile: path, encoding: .utf8)
    return content.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line -> String? in
        if line.isEmpty { return nil }
        if line.hasPrefix("{"), let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
           let text = object["text"] as? String {
            return text
        }
        return String(line)
    }
}
