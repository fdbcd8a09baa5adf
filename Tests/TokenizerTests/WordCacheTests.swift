import Dispatch
import XCTest
@testable import Tokenizer

/// The word cache (`WordCache`, `WordBoundaries`): encoding word by word gives
/// the whole pipeline's ids, the cache stays bounded, and threads share it safely.
final class WordCacheTests: XCTestCase {
    static func flan() throws -> Tokenizer { try Tokenizer(tokenizerJSON: try ParityTests.fixture("tokenizer.json")) }

    /// Texts that probe every condition of a word boundary: non-ASCII and combining
    /// marks beside spaces, runs of spaces, special tokens, `▁` in the input,
    /// Prepend characters, controls, punctuation, leading and trailing spaces.
    static let awkwardTexts = [
        "The user has interacted with these items, oldest first: \"Super Mario 3 Deluxe Edition\", \"Zelda 2 - PlayStation 4\".",
        "a \u{301}b c\u{301} d", "e \u{301}", "Pokémon Sword &amp; Shield ™", "ゼルダの伝説 ブレス オブ ザ ワイルド",
        "  spaced   out  ", " leading", "trailing ", "a  b", "a   b c", "x</s> y", "x </s> y", "</s></s> a b",
        "a<extra_id_0> b", "▁a ▁b ▁ c", "\u{600}a b", "a \u{600}b", "1 2 3 4 5 6", "a\tb c\nd e\r\nf",
        "🇺🇸 🇫🇷 a 🇩🇪b", "👩‍👩‍👧 a b", "A", "", " ", "a b", "Ⅻ ｆｕｌｌ ｗｉｄｔｈ x y", "ﬁ ﬂ a b",
    ]

    func plainAndCached(_ name: String = "tokenizer.json") throws -> (plain: Tokenizer, cached: Tokenizer) {
        let tokenizer = try Tokenizer(tokenizerJSON: try ParityTests.fixture(name))
        return (tokenizer.withWordCache(capacity: 0), tokenizer)
    }

    func testTokenizerJSONPipelinesOfT5AndTheDefaultModelUseTheCache() throws {
        XCTAssertTrue(try Self.flan().usesWordCache)
        XCTAssertTrue(try Tokenizer(tokenizerJSON: try ParityTests.fixture("games-vocab/tokenizer.json")).usesWordCache)
        XCTAssertFalse(try Self.flan().withWordCache(capacity: 0).usesWordCache)
    }

    func testSentencePieceModelsNeverUseTheCacheBecauseTheirViterbiSpansTheWholeText() throws {
        XCTAssertFalse(try Tokenizer(sentencePieceModel: try ParityTests.fixture("spiece.model")).usesWordCache)
    }

    func testPipelinesThatCouldJoinWordsDoNotUseTheCache() throws {
        let metaspace = Metaspace(replacement: "\u{2581}", prependScheme: .always, split: true)
        XCTAssertTrue(WordBoundaries.supports(normalizers: [], metaspace: metaspace, specials: ["</s>"]))
        XCTAssertFalse(WordBoundaries.supports(normalizers: [], metaspace: Metaspace(replacement: "\u{2581}", prependScheme: .always, split: false), specials: []))
        XCTAssertFalse(WordBoundaries.supports(normalizers: [], metaspace: Metaspace(replacement: "\u{2581}", prependScheme: .first, split: true), specials: []))
        XCTAssertFalse(WordBoundaries.supports(normalizers: [], metaspace: metaspace, specials: ["<a b>"]))
        XCTAssertFalse(WordBoundaries.supports(normalizers: [.replaceLiteral(pattern: "x", content: " ")], metaspace: metaspace, specials: []))
        XCTAssertFalse(WordBoundaries.supports(normalizers: [.collapseRuns(character: " ", minimum: 1, content: "")], metaspace: metaspace, specials: []))
        XCTAssertTrue(WordBoundaries.supports(normalizers: [.collapseRuns(character: " ", minimum: 2, content: " ")], metaspace: metaspace, specials: []))
    }

    func testWordBoundariesAreSingleSpacesBetweenSingleCharacterASCIINeighbours() {
        func starts(_ text: String) -> [Int] { Array(text.utf8).withUnsafeBufferPointer { WordBoundaries.wordStarts($0) } }
        XCTAssertEqual(starts("ab cd ef"), [0, 2, 5])
        XCTAssertEqual(starts("a  b"), [0], "a run of spaces is not a boundary")
        XCTAssertEqual(starts(" a b"), [0, 2], "a leading space stays with the first word")
        XCTAssertEqual(starts("a b "), [0, 1])
        XCTAssertEqual(starts("é b"), [0], "a neighbour after a non-ASCII character may join its grapheme")
        XCTAssertEqual(starts("a b\u{301}"), [0], "a combining mark may join the neighbour")
        XCTAssertEqual(starts(""), [0])
    }

    func testEncodingByWordsGivesThePipelinesIdsOnAwkwardTexts() throws {
        for name in ["tokenizer.json", "games-vocab/tokenizer.json"] {
            let (plain, cached) = try plainAndCached(name)
            for text in Self.awkwardTexts {
                // twice: the first fills the cache, the second reads it
                XCTAssertEqual(cached.encode(text), plain.encode(text), "\(name): \(text.debugDescription)")
                XCTAssertEqual(cached.encode(text, addEOS: false), plain.encode(text, addEOS: false), "\(name): \(text.debugDescription)")
            }
        }
    }

    func testEncodingByWordsGivesThePipelinesIdsOnTheParityCorpus() throws {
        let (plain, cached) = try plainAndCached()
        let texts = try ParityTests.corpus().map(\.text)
        let joined = stride(from: 0, to: texts.count, by: 7).map { texts[$0..<min($0 + 7, texts.count)].joined(separator: " ") }
        for text in texts + joined {
            XCTAssertEqual(cached.encode(text), plain.encode(text), text.debugDescription)
        }
    }

    func testTheCacheStaysWithinItsCapacityAndEvictedWordsEncodeTheSame() throws {
        let tokenizer = try Self.flan()
        let small = tokenizer.withWordCache(capacity: 8)
        let plain = tokenizer.withWordCache(capacity: 0)
        let cache = try XCTUnwrap(small.wordCache)
        let words = (0..<40).map { "Word\($0)" }
        for round in 0..<3 {
            for word in words {
                let text = "Super \(word) Edition"
                XCTAssertEqual(small.encode(text), plain.encode(text), "round \(round): \(text)")
                XCTAssertLessThanOrEqual(cache.count, 8)
            }
        }
        XCTAssertFalse(cache.contains(" Word0"), "the oldest words were evicted")
        XCTAssertTrue(cache.contains(" Word39"), "the newest words are kept")
        XCTAssertTrue(cache.contains(" Edition"), "a word in use survives eviction")
    }

    func testWordsLongerThanTheLimitAreEncodedButNotCached() throws {
        let tokenizer = try Self.flan()
        let cache = try XCTUnwrap(tokenizer.wordCache)
        let long = " " + String(repeating: "x", count: WordCache.maximumWordBytes + 1)
        XCTAssertEqual(tokenizer.encode("a" + long), tokenizer.withWordCache(capacity: 0).encode("a" + long))
        XCTAssertFalse(cache.contains(long))
        XCTAssertTrue(cache.contains("a"))
    }

    func testThreadsEncodingAtOnceGetTheSameIdsAsOneThreadWithoutACache() throws {
        let tokenizer = try Self.flan().withWordCache(capacity: 64)  // small: threads also evict under each other
        let plain = tokenizer.withWordCache(capacity: 0)
        let texts = (0..<64).map { i in
            "The user has interacted with \"Title \(i) Deluxe\", \"Game \(i % 7) Remastered\" and \(i * 31) more. " + Self.awkwardTexts[i % Self.awkwardTexts.count]
        }
        let expected = texts.map { plain.encode($0) }
        let results = LockedResults([[Int32]](repeating: [], count: 8 * texts.count))
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for (n, text) in texts.enumerated().shuffled() { results.set(thread * texts.count + n, tokenizer.encode(text)) }
        }
        for thread in 0..<8 {
            for n in texts.indices { XCTAssertEqual(results.get(thread * texts.count + n), expected[n], "thread \(thread), text \(n)") }
        }
    }
}

/// Results written by concurrent threads, one distinct slot each, under a lock.
private final class LockedResults: @unchecked Sendable {
    private var values: [[Int32]]
    private let lock = NSLock()
    init(_ values: [[Int32]]) { self.values = values }
    func set(_ index: Int, _ value: [Int32]) { lock.withLock { values[index] = value } }
    func get(_ index: Int) -> [Int32] { lock.withLock { values[index] } }
}
