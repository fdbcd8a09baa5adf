import Foundation

/// A model on a Hugging Face-style hub: `org/name`, optionally `@revision` (a branch, a tag or a commit).
/// A model source of that form is a hub id only when no directory of that path exists: `models/default`
/// looks like one, and an existing directory always wins.
public struct HubModelID: Sendable, Equatable, CustomStringConvertible {
    public let repository: String
    public let revision: String

    public static let defaultRevision = "main"

    /// nil when `text` is not of the form org/name[@revision] (or names an existing path).
    public init?(_ text: String) {
        guard !FileManager.default.fileExists(atPath: text) else { return nil }
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let repository = parts[0]
        let names = repository.split(separator: "/", omittingEmptySubsequences: false)
        guard names.count == 2, names.allSatisfy(Self.isNamePart) else { return nil }
        if parts.count == 2 {
            guard !parts[1].isEmpty, !parts[1].contains(" "), !parts[1].hasPrefix("/"), !parts[1].contains("..") else { return nil }
            revision = parts[1]
        } else {
            revision = Self.defaultRevision
        }
        self.repository = repository
    }

    /// Letters, digits, '-', '_', '.' (not leading, no ".."), at most 96 characters, as the hub allows.
    static func isNamePart(_ part: Substring) -> Bool {
        guard let first = part.unicodeScalars.first, !part.isEmpty, part.count <= 96, !part.contains("..") else { return false }
        guard CharacterSet.alphanumerics.contains(first) else { return false }
        return part.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    /// A full commit hash: the revision names one snapshot for good.
    public var revisionIsCommit: Bool {
        revision.count == 40 && revision.unicodeScalars.allSatisfy { "0123456789abcdef".unicodeScalars.contains($0) }
    }

    /// `models--org--name`: the folder `huggingface_hub` keeps this repository's files in.
    public var cacheFolder: String { "models--" + repository.replacingOccurrences(of: "/", with: "--") }

    public var description: String { revision == Self.defaultRevision ? repository : "\(repository)@\(revision)" }
}
