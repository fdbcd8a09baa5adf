import InstructRec
import Foundation

/// Rewrites a product title the way another store would list the same product, for
/// out-of-catalog evaluation (`instructrec eval --rewrite-titles`): the platform moved or
/// abbreviated ("Super Mario Odyssey - Nintendo Switch" -> "Nintendo Switch Super Mario
/// Odyssey", "Super Mario Odyssey (Switch)"; "PlayStation 4" <-> "PS4", "Xbox One" <-> "XB1"),
/// edition words added or dropped ("Standard Edition", "Game of the Year" <-> "GOTY"),
/// punctuation (":" -> " -", "&" <-> "and"), letter case. The title's own words stay (up to
/// case), so a reader can still tell which game it is.
///
/// Deterministic: the choice depends only on the seed, the item id and the title. Every
/// rewrite differs from its input (ignoring runs of spaces): when the randomly chosen
/// rewrites change nothing, the applicable ones are tried in a fixed order, then a case
/// change, then an added " Standard Edition".
public struct StoreTitleRewriter: Sendable {
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    /// Platform names and the name another store uses for them (full <-> short), longest first
    /// so that "PlayStation 4" is matched before "PlayStation".
    static let platforms: [(name: String, other: String)] = {
        let pairs: [(String, String)] = [
            ("PlayStation 4", "PS4"), ("PlayStation 3", "PS3"), ("PlayStation 2", "PS2"), ("PlayStation Vita", "PS Vita"),
            ("PlayStation", "PS1"), ("Sony PSP", "PSP"), ("Xbox One", "XB1"), ("Xbox 360", "X360"), ("Xbox", "Original Xbox"),
            ("Nintendo Switch", "Switch"), ("Nintendo 3DS", "3DS"), ("Nintendo DS", "NDS"), ("Nintendo Wii U", "Wii U"),
            ("Nintendo Wii", "Wii"), ("Nintendo NES", "NES"), ("Nintendo Super NES", "SNES"), ("Nintendo 64", "N64"),
            ("Game Boy Advance", "GBA"), ("Game Boy Color", "GBC"), ("Gamecube", "Nintendo GameCube"),
            ("Sega Genesis", "Genesis"), ("Sega Dreamcast", "Dreamcast"), ("Sega Saturn", "Saturn"), ("Sega Game Gear", "Game Gear"),
            ("PC", "Windows PC"), ("Mac", "macOS"),
        ]
        // the short forms map back (PS4 -> PlayStation 4, XB1 -> Xbox One, Wii -> Nintendo Wii, ...)
        let reverse: [(String, String)] = [("PS4", "PlayStation 4"), ("PS3", "PlayStation 3"), ("PS2", "PlayStation 2"),
                                           ("PSP", "Sony PSP"), ("XB1", "Xbox One"), ("X360", "Xbox 360"), ("3DS", "Nintendo 3DS"),
                                           ("Wii U", "Nintendo Wii U"), ("WiiU", "Nintendo Wii U"), ("Wii", "Nintendo Wii"),
                                           ("Switch", "Nintendo Switch")]
        return (pairs + reverse).sorted { $0.0.count > $1.0.count }.map { (name: $0.0, other: $0.1) }
    }()

    /// The title as another store would write it; never equal to `title` (up to runs of spaces)
    /// unless `title` is empty.
    public func rewrite(_ title: String, item: Int) -> String {
        let original = Self.squeeze(title)
        guard !original.isEmpty else { return title }
        var rng = SeededGenerator(seed: seed ^ (UInt64(bitPattern: Int64(item)) &* 0x9E37_79B9_7F4A_7C15) ^ 0x5151_7E57_0000_0001)
        // Draw every decision up front, so one rule's applicability does not shift the others' draws.
        let rolls = (0..<Self.rules.count).map { _ in Double(rng.next() >> 11) / Double(1 << 53) }
        let variants = (0..<Self.rules.count).map { _ in Int(rng.next() % 1024) }
        var text = original
        for (index, rule) in Self.rules.enumerated() where rolls[index] < rule.probability {
            if let changed = rule.apply(text, variants[index]) { text = Self.squeeze(changed) }
        }
        if text != original { return text }
        // Nothing changed: the first applicable rule that changes the title, in a fixed order.
        for (index, rule) in Self.rules.enumerated() {
            if let changed = rule.apply(original, variants[index]).map(Self.squeeze), changed != original { return changed }
        }
        return original + " Standard Edition"
    }

    struct Rule: Sendable {
        var probability: Double
        /// nil when the rule does not apply; `variant` picks among its forms
        var apply: @Sendable (String, Int) -> String?
    }

    static let rules: [Rule] = [
        Rule(probability: 0.8, apply: movePlatformSuffix),
        Rule(probability: 0.5, apply: renamePlatformInPlace),
        Rule(probability: 0.6, apply: changeEdition),
        Rule(probability: 0.5, apply: changePunctuation),
        Rule(probability: 0.3, apply: changeCase),
    ]

    // MARK: rules

    /// "Title - Platform[ Standard Edition]" or "Title (Platform)" -> "Platform Title", "Title (Short)",
    /// "Title [Platform]", "Title for Short".
    static func movePlatformSuffix(_ title: String, _ variant: Int) -> String? {
        guard let (core, platform, tail) = platformSuffix(of: title) else { return nil }
        let other = platforms.first { $0.name.caseInsensitiveCompare(platform) == .orderedSame }?.other ?? platform
        let (full, short) = other.count > platform.count ? (other, platform) : (platform, other)
        let rest = tail.isEmpty ? core : core + " " + tail
        switch variant % 4 {
        case 0: return full + " " + rest
        case 1: return rest + " (" + short + ")"
        case 2: return rest + " [" + full + "]"
        default: return rest + " for " + short
        }
    }

    /// The platform at the end of a title: " - Platform" (optionally followed by "Standard Edition" or
    /// "Digital Code") or " (Platform)". Returns the title before it, the platform as written, the tail.
    static func platformSuffix(of title: String) -> (core: String, platform: String, tail: String)? {
        for tail in ["", "Standard Edition", "Digital Code"] {
            let body = tail.isEmpty ? title : (title.hasSuffix(" " + tail) ? String(title.dropLast(tail.count + 1)) : nil)
            guard let body else { continue }
            for (name, _) in platforms {
                for (open, close) in [(" - ", ""), (" (", ")")] {
                    let suffix = open + name + close
                    if body.count > suffix.count, body.lowercased().hasSuffix(suffix.lowercased()) {
                        let core = String(body.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
                        let written = String(body.suffix(suffix.count).dropFirst(open.count).dropLast(close.count))
                        if !core.isEmpty { return (core, written, tail) }
                    }
                }
            }
        }
        return nil
    }

    /// Names too ambiguous to rename inside a title ("Xbox Live", "PC Gaming Headset", "Switch Case").
    static let ambiguousInPlace: Set<String> = ["Xbox", "PC", "Mac", "Switch", "PlayStation"]

    /// The first platform name anywhere in the title (as a whole word) replaced by its other name.
    static func renamePlatformInPlace(_ title: String, _ variant: Int) -> String? {
        for (name, other) in platforms where !ambiguousInPlace.contains(name) {
            if let range = wholeWordRange(of: name, in: title) { return title.replacingCharacters(in: range, with: other) }
        }
        return nil
    }

    /// Drops "Standard Edition", swaps "Game of the Year" and "GOTY", or (a game listing with a platform
    /// suffix and no edition, one time in three) adds "Standard Edition" before the platform.
    static func changeEdition(_ title: String, _ variant: Int) -> String? {
        if let range = wholeWordRange(of: "Standard Edition", in: title) {
            var text = title.replacingCharacters(in: range, with: "")
            text = text.replacingOccurrences(of: " -  - ", with: " - ")
            return trimSeparators(text)
        }
        if let range = wholeWordRange(of: "Game of the Year", in: title) { return title.replacingCharacters(in: range, with: "GOTY") }
        if let range = wholeWordRange(of: "GOTY", in: title) { return title.replacingCharacters(in: range, with: "Game of the Year") }
        if wholeWordRange(of: "Edition", in: title) != nil || variant % 3 != 0 { return nil }
        if let (core, platform, tail) = platformSuffix(of: title), tail.isEmpty {
            return core + " Standard Edition - " + platform
        }
        return nil
    }

    /// ":" -> " -", "&" <-> "and", " - " inside the title -> ": ", "[Download]" -> "(Download)".
    static func changePunctuation(_ title: String, _ variant: Int) -> String? {
        var options: [String] = []
        if title.contains(":") { options.append(title.replacingOccurrences(of: ":", with: " -")) }
        if title.contains("&") { options.append(title.replacingOccurrences(of: " & ", with: " and ").replacingOccurrences(of: "&", with: " and ")) }
        if let range = wholeWordRange(of: "and", in: title) { options.append(title.replacingCharacters(in: range, with: "&")) }
        if let range = title.range(of: "[Download]", options: .caseInsensitive) {
            options.append(title.replacingCharacters(in: range, with: "(Download)"))
        }
        if platformSuffix(of: title) == nil, let range = title.range(of: " - ") {
            options.append(title.replacingCharacters(in: range, with: ": "))
        }
        return options.isEmpty ? nil : options[variant % options.count]
    }

    /// UPPER CASE, lower case or Capitalized Words.
    static func changeCase(_ title: String, _ variant: Int) -> String? {
        let forms = [title.uppercased(), title.lowercased(), title.capitalized].filter { $0 != title }
        return forms.isEmpty ? nil : forms[variant % forms.count]
    }

    // MARK: helpers

    /// `word` in `text` (case-insensitive), not inside a longer word.
    static func wholeWordRange(of word: String, in text: String) -> Range<String.Index>? {
        var start = text.startIndex
        while let range = text.range(of: word, options: .caseInsensitive, range: start..<text.endIndex) {
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
            let isWordCharacter: (Character?) -> Bool = { $0.map { $0.isLetter || $0.isNumber } ?? false }
            if !isWordCharacter(before) && !isWordCharacter(after) { return range }
            start = text.index(after: range.lowerBound)
        }
        return nil
    }

    /// Trailing or doubled separators left after a removal.
    static func trimSeparators(_ text: String) -> String {
        var text = squeeze(text)
        for separator in [" -", ",", ":", "-"] where text.hasSuffix(separator) { text = String(text.dropLast(separator.count)) }
        return squeeze(text.replacingOccurrences(of: "()", with: "").replacingOccurrences(of: "[]", with: ""))
    }

    /// Runs of spaces collapsed, ends trimmed.
    static func squeeze(_ text: String) -> String {
        text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}
