import XCTest
@testable import InstructRec

/// The title-prior cache: what it counts, and which entries go first when a bound is reached.
final class TitlePriorCacheTests: XCTestCase {
    let instruction: [Int32] = [5, 6, 1]

    func testLookupsCountHitsAndMissesAndReturnWhatWasInserted() {
        let cache = TitlePriorCache()
        XCTAssertEqual(cache.lookup(instruction: instruction, titles: [[1, 2], [3]], reduction: .sum), [nil, nil])
        cache.insert(instruction: instruction, titles: [[1, 2]], priors: [-4.5], reduction: .sum)
        XCTAssertEqual(cache.lookup(instruction: instruction, titles: [[1, 2], [3]], reduction: .sum), [-4.5, nil])
        XCTAssertEqual(cache.current.hits, 1)
        XCTAssertEqual(cache.current.misses, 3)
        XCTAssertEqual(cache.current.entries, 1)
        XCTAssertEqual(cache.current.bytes, TitlePriorCache.cost(titleTokens: 2))
    }

    func testTheInstructionAndTheReductionArePartOfTheKey() {
        let cache = TitlePriorCache()
        cache.insert(instruction: instruction, titles: [[1]], priors: [-1], reduction: .sum)
        XCTAssertEqual(cache.lookup(instruction: [9, 1], titles: [[1]], reduction: .sum), [nil])
        XCTAssertEqual(cache.lookup(instruction: instruction, titles: [[1]], reduction: .mean), [nil])
        XCTAssertEqual(cache.lookup(instruction: instruction, titles: [[1]], reduction: .sum), [-1])
    }

    func testTheLeastRecentlyUsedEntryIsEvictedAtTheEntryBound() {
        let cache = TitlePriorCache(maxEntries: 2)
        cache.insert(instruction: instruction, titles: [[1], [2]], priors: [-1, -2], reduction: .sum)
        _ = cache.lookup(instruction: instruction, titles: [[1]], reduction: .sum)   // [1] is now the most recent
        cache.insert(instruction: instruction, titles: [[3]], priors: [-3], reduction: .sum)
        XCTAssertEqual(cache.lookup(instruction: instruction, titles: [[1], [2], [3]], reduction: .sum), [-1, nil, -3])
        XCTAssertEqual(cache.current.evictions, 1)
        XCTAssertEqual(cache.current.entries, 2)
    }

    func testTheByteBoundEvictsAsManyOldEntriesAsNeededAndRefusesAnEntryLargerThanItself() {
        let bytes = TitlePriorCache.cost(titleTokens: 1) * 3
        let cache = TitlePriorCache(maxEntries: 100, maxBytes: bytes)
        cache.insert(instruction: instruction, titles: [[1], [2], [3]], priors: [-1, -2, -3], reduction: .sum)
        XCTAssertEqual(cache.current.bytes, bytes)
        // two tokens cost more than one: both of the two oldest entries must go
        cache.insert(instruction: instruction, titles: [[4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]],
                     priors: [-4], reduction: .sum)
        XCTAssertLessThanOrEqual(cache.current.bytes, bytes)
        XCTAssertEqual(cache.lookup(instruction: instruction, titles: [[1], [2], [3]], reduction: .sum), [nil, nil, -3])
        XCTAssertEqual(cache.current.evictions, 2)
        let huge = [Int32](repeating: 7, count: bytes)
        cache.insert(instruction: instruction, titles: [huge], priors: [-9], reduction: .sum)
        XCTAssertEqual(cache.lookup(instruction: instruction, titles: [huge], reduction: .sum), [nil], "larger than the whole bound: not stored")
    }

    func testAZeroEntryCacheStoresNothing() {
        let cache = TitlePriorCache(maxEntries: 0)
        cache.insert(instruction: instruction, titles: [[1]], priors: [-1], reduction: .sum)
        XCTAssertEqual(cache.current.entries, 0)
    }

    func testEvictedSlotsAreReusedAndTheListStaysConsistentUnderChurn() {
        let cache = TitlePriorCache(maxEntries: 50)
        for round in 0..<20 {
            let titles = (0..<30).map { [Int32(round * 30 + $0)] }
            cache.insert(instruction: instruction, titles: titles, priors: titles.map { -Float($0[0]) }, reduction: .sum)
            _ = cache.lookup(instruction: instruction, titles: Array(titles.prefix(5)), reduction: .sum)
        }
        XCTAssertEqual(cache.current.entries, 50)
        let newest = (0..<30).map { [Int32(19 * 30 + $0)] }
        XCTAssertEqual(cache.lookup(instruction: instruction, titles: newest, reduction: .sum), newest.map { -Float($0[0]) })
    }
}
