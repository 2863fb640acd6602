import Foundation
import XCTest
@testable import Cases

/// Issue 14: case.json with a key twice in one object was read as whichever came last.
final class DuplicateKeyTests: XCTestCase {
    let head = #""format": "tumorboard-case", "format_version": 1"#

    func testATopLevelKeyTwiceIsRefusedNamingFileAndKey() {
        let text = "{\(head), \"id\": \"TB-1\", \"label\": \"benign\", \"age\": 30, \"label\": \"malignant\"}"
        assertThrowsMessage({ _ = try CaseFolder.parseManifest(text, file: "/cases/TB-1/case.json") },
                            contains: ["/cases/TB-1/case.json", "field 'label'", "the key \"label\" appears twice"])
    }

    func testANestedKeyTwiceIsNamedByItsPath() {
        let sha = String(repeating: "a", count: 64), other = String(repeating: "b", count: 64)
        let radiographs = "{\(head), \"id\": \"TB-1\", \"radiographs\": [{\"file\": \"a.png\"}, {\"file\": \"b.png\", \"sha256\": \"\(sha)\", \"sha256\": \"\(other)\"}]}"
        assertThrowsMessage({ _ = try CaseFolder.parseManifest(radiographs, file: "case.json") },
                            contains: ["field 'radiographs[1].sha256'"])
        let labs = "{\(head), \"id\": \"TB-1\", \"labs\": [{\"marker\": \"alp\", \"value\": 100, \"unit\": \"U/L\"}, {\"marker\": \"ldh\", \"value\": 1, \"value\": 900, \"unit\": \"U/L\"}]}"
        assertThrowsMessage({ _ = try CaseFolder.parseManifest(labs, file: "case.json") }, contains: ["field 'labs[1].value'"])
        let boxes = "{\(head), \"id\": \"TB-1\", \"radiographs\": [{\"file\": \"a.png\", \"boxes\": [{\"x0\": 1, \"y0\": 1, \"x1\": 5, \"y1\": 5, \"x1\": 9}]}]}"
        assertThrowsMessage({ _ = try CaseFolder.parseManifest(boxes, file: "case.json") }, contains: ["field 'radiographs[0].boxes[0].x1'"])
        let review = "{\(head), \"id\": \"TB-1\", \"review\": {\"note\": \"a\", \"signed_off_by\": \"x\", \"signed_off_by\": \"y\"}}"
        assertThrowsMessage({ _ = try CaseFolder.parseManifest(review, file: "case.json") }, contains: ["field 'review.signed_off_by'"])
    }

    func testAnEscapedSpellingOfTheSameKeyIsADuplicate() {
        // "\u0069d" is "id"; "\u00e9" and "e\u0301" are the same Swift string.
        let text = "{\(head), \"id\": \"TB-1\", \"\\u0069d\": \"TB-2\"}"
        assertThrowsMessage({ _ = try CaseFolder.parseManifest(text, file: "case.json") }, contains: ["field 'id'"])
        XCTAssertEqual(JSONDuplicateKeys.first(in: #"{"caf\u00e9": 1, "cafe\u0301": 2}"#)?.key, "café")
        XCTAssertEqual(JSONDuplicateKeys.first(in: #"{"a\"b\\": 1, "a\u0022b\u005c": 2}"#)?.key, "a\"b\\")
        XCTAssertEqual(JSONDuplicateKeys.first(in: #"{"\ud83e\uddb4": 1, "🦴": 2}"#)?.key, "🦴")
    }

    func testEqualKeysInDifferentObjectsAndKeyLikeTextAreFine() throws {
        let text = """
        {\(head), "id": "TB-1", "clinical_note": "{\\"id\\": 1, \\"id\\": 2} [\\"x\\"]",
         "radiographs": [{"file": "a.png", "view": "AP"}, {"file": "b.png", "view": "lateral"}],
         "labs": [{"marker": "alp", "value": 100, "unit": "U/L"}, {"marker": "ldh", "value": 200, "unit": "U/L"}],
         "review": {"note": "id"}}
        """
        let r = try CaseFolder.parseManifest(text, file: "case.json")
        XCTAssertEqual(r.radiographs.map(\.file), ["a.png", "b.png"])
        XCTAssertEqual(r.labs.count, 2)
        XCTAssertNil(JSONDuplicateKeys.first(in: #"[{"a": 1}, {"a": 2}, [{"a": {"a": {"a": 3}}}]]"#))
        XCTAssertNil(JSONDuplicateKeys.first(in: #"{"a": {"b": 1}, "b": {"a": 2}}"#))
    }

    func testDeepNestingAndMalformedBytesEndWithoutAnAnswer() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertNil(JSONDuplicateKeys.first(in: deep))
        XCTAssertEqual(JSONDuplicateKeys.first(in: String(repeating: "[", count: 5000) + #"{"k": 1, "k": 2}"#)?.field,
                       String(repeating: "[0]", count: 5000) + ".k")
        for junk in ["", "}", "]]]", "{\"a", "{\"a\\", "{\"a\\u12", "\"\\ud800\"", "{,,,\"a\":1,,\"a\"", "\u{0}\u{1}"] {
            _ = JSONDuplicateKeys.first(in: junk)   // must return, whatever it says
        }
        XCTAssertEqual(JSONDuplicateKeys.first(in: "{,,,\"a\":1,,\"a\"")?.key, "a")
    }

    func testAFolderWithADuplicateIsRefusedByRead() throws {
        let dir = try temporaryFolder(self)
        let folder = try makeCase(in: dir)
        let url = folder.appendingPathComponent("case.json")
        var text = try String(contentsOf: url, encoding: .utf8)
        let brace = try XCTUnwrap(text.lastIndex(of: "}"))
        text.replaceSubrange(brace...brace, with: ", \"label\": \"benign\"}")
        try text.write(to: url, atomically: true, encoding: .utf8)
        assertThrowsMessage({ _ = try CaseFolder.read(folder) }, contains: [url.path, "field 'label'", "appears twice"])
    }
}
