import Foundation

/// A catalog's titles, read to warm the title-prior cache. One item a line, in any of
/// the forms a team is likely to export:
/// - a plain title;
/// - `id<TAB>title` (the first tab separates; a RecBole-style header such as
///   `item_id:token<TAB>title:token_seq` is skipped);
/// - a JSON object with a string "title".
/// Blank lines are skipped; HTML entities are decoded as the dataset loader does.
public enum TitleCatalog {
    public static func read(path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw InstructRecError.catalogFile(file: path, reason: "cannot read the catalog file (UTF-8 text expected)")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws -> [String] {
        var titles: [String] = []
        // `isNewline`, not "\n": a CRLF file's "\r\n" is one Character, which a split at "\n" never sees.
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            var title: String
            if line.first == "{" {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let value = object["title"] as? String else {
                    throw InstructRecError.catalogFile(file: source, reason: "line \(number + 1): a JSON line needs a string \"title\"")
                }
                title = value
            } else if let tab = line.firstIndex(of: "\t") {
                if number == 0 && line[..<tab].contains(":token") { continue }
                title = String(line[line.index(after: tab)...])
            } else {
                title = String(line)
            }
            title = HTMLEntities.decode(title).trimmingCharacters(in: .whitespaces)
            if !title.isEmpty { titles.append(title) }
        }
        return titles
    }
}
