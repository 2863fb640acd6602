import XCTest
@testable import Workstation

final class ScreenModelTests: XCTestCase {
    func testPutClipsAndFrameDraws() {
        var s = Screen(width: 10, height: 4)
        let st = Style(fg: .index(1))
        XCTAssertEqual(s.put("hello world", x: 3, y: 1, style: st), 7)
        XCTAssertEqual(s.row(1), "   hello w")
        XCTAssertEqual(s[3, 1].style, st)
        XCTAssertEqual(s.put("x", x: 0, y: 9, style: st), 0)
        s.frame(CellRect(x: 0, y: 0, width: 10, height: 4), style: .plain, title: "T")
        XCTAssertEqual(s.row(0), "┌─ T ────┐")
        XCTAssertEqual(s.row(3), "└────────┘")
        XCTAssertEqual(s.find("hello")?.x, 3)
        XCTAssertEqual(fit("abcdef", 4), "abc…")
        XCTAssertEqual(fit("ab", 4, right: true), "  ab")
    }

    func testKeyMapHasNoConflictsWithinAContext() {
        for context in KeyContext.allCases {
            var seen: [Key: Action] = [:]
            for b in KeyMap.bindings where b.context == context {
                for k in b.keys {
                    XCTAssertNil(seen[k], "\(k) bound twice in \(context)")
                    seen[k] = b.action
                }
            }
        }
        XCTAssertEqual(KeyMap.action(for: .char("q"), in: .caseView), .quit)
        XCTAssertEqual(KeyMap.action(for: .up, in: .list), .up)
        XCTAssertEqual(KeyMap.action(for: .up, in: .caseView), .panUp)
    }

    func testPaletteMapping() {
        XCTAssertEqual(Palette.greyIndex(0), 16)
        XCTAssertEqual(Palette.greyIndex(255), 231)
        XCTAssertEqual(Palette.rgb(244).0, 128)
        XCTAssertEqual(TermColor.index(244).downgraded(toColors: 8), .index(7))
        XCTAssertEqual(TermColor.index(244).downgraded(toColors: 16), .index(8))
        XCTAssertEqual(TermColor.index(231).downgraded(toColors: 16), .index(15))
        XCTAssertEqual(TermColor.index(196).downgraded(toColors: 8), .index(1))
    }
}
