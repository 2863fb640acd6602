import XCTest
@testable import Workstation

final class ThemeTests: XCTestCase {
    let folder = Fixtures.repositoryRoot.appendingPathComponent("themes").path

    func testShippedThemesParseAndDarkFileIsTheBuiltInDefault() throws {
        let dark = try Theme.load(named: "dark", folder: folder)
        XCTAssertEqual(dark, Theme.dark)
        for name in ["light", "high-contrast"] {
            let t = try Theme.load(named: name, folder: folder)
            XCTAssertEqual(t.name, name)
            XCTAssertEqual(Set(t.styles.keys), Set(Role.allCases))
        }
        XCTAssertEqual(Theme.available(in: folder), ["dark", "high-contrast", "light"])
    }

    func testStyleSyntax() throws {
        XCTAssertEqual(try Theme.parseStyle("brightwhite on 24 bold underline", file: "t", line: 1),
                       Style(fg: .index(15), bg: .index(24), bold: true, underline: true))
        XCTAssertEqual(try Theme.parseStyle("default", file: "t", line: 1), Style())
    }

    func testBrokenFileGivesClearMessageAndTheDefault() throws {
        let dir = Fixtures.tempFolder("themes")
        let bad = Theme.darkSource.replacingOccurrences(of: "box = 220 on 233", with: "box = 220 on purple")
        try bad.write(to: dir.appendingPathComponent("broken.theme"), atomically: true, encoding: .utf8)
        let (t, message) = Theme.loadOrDefault(named: "broken", folder: dir.path)
        XCTAssertEqual(t, Theme.dark)
        let m = try XCTUnwrap(message)
        XCTAssertTrue(m.contains("broken.theme:17:"), m)
        XCTAssertTrue(m.contains("'purple' is not a colour"), m)
        XCTAssertTrue(m.hasSuffix("using the dark theme"), m)

        try "name = x\ntext = 1 on 2\n".write(to: dir.appendingPathComponent("short.theme"), atomically: true, encoding: .utf8)
        let (_, m2) = Theme.loadOrDefault(named: "short", folder: dir.path)
        XCTAssertTrue(m2?.contains("missing dim, title") ?? false, m2 ?? "")
        let (_, m3) = Theme.loadOrDefault(named: "absent", folder: dir.path)
        XCTAssertTrue(m3?.contains("cannot read") ?? false)
    }
}
