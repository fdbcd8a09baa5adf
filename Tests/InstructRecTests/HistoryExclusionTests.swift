import XCTest
@testable import InstructRec

/// exclude_history: ids where both sides have them, normalised titles otherwise, the whole history.
final class HistoryExclusionTests: XCTestCase {
    func testGivenIdsMatchByIdAndNotByTitle() {
        let history = [Item(id: "b1", title: "Zelda")]
        let candidates = [Item(id: "b1", title: "Another spelling"), Item(id: "b2", title: "Zelda"), Item(id: "b3", title: "Metroid")]
        XCTAssertEqual(HistoryExclusion.kept(candidates, history: history), [1, 2],
                       "the same id is the same item; another id is another listing, even under the same title")
    }

    func testWithoutIdsTitlesMatchAfterEntitiesCaseAndWhiteSpace() {
        let history = [Item(id: "0", title: "Mario &amp; Luigi:  Superstar Saga", idIsPosition: true)]
        let candidates = [Item(id: "0", title: "mario & luigi: superstar saga ", idIsPosition: true),
                          Item(id: "1", title: "Mario & Sonic", idIsPosition: true),
                          Item(id: "c9", title: "MARIO & LUIGI: SUPERSTAR SAGA")]
        XCTAssertEqual(HistoryExclusion.kept(candidates, history: history), [1],
                       "a plain-string history item matches by title whether or not the candidate has an id")
        XCTAssertEqual(HistoryExclusion.normalizedTitle(" A&amp;B \t c "), "a&b c")
    }

    func testPositionIdsNeverMatchEachOther() {
        let history = [Item(id: "0", title: "Halo 3", idIsPosition: true)]
        let candidates = [Item(id: "0", title: "Halo 4", idIsPosition: true)]
        XCTAssertEqual(HistoryExclusion.kept(candidates, history: history), [0], "positions are not ids")
    }

    func testTheWholeHistoryCountsAndAnEmptyHistoryKeepsEverything() {
        let history = (0..<300).map { Item(id: "h\($0)", title: "Game \($0)") }
        let candidates = [Item(id: "h0", title: "Game 0"), Item(id: "new", title: "New game")]
        XCTAssertEqual(HistoryExclusion.kept(candidates, history: history), [1], "the oldest item, far beyond any history cap")
        XCTAssertEqual(HistoryExclusion.kept(candidates, history: []), [0, 1])
    }
}
