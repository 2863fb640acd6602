import Foundation
import XCTest
@testable import PACS

/// The QIDO-RS (DICOM JSON model) parser and the search's query, against hand-written answers.
final class QIDOTests: XCTestCase {
    /// Two studies as Orthanc and dcm4chee write them: IS as a number and as text, ModalitiesInStudy
    /// as several values and as one "CR\\DX" value, and a PatientName, which is never read.
    let twoStudies = Data("""
    [
      {"00080020": {"vr": "DA", "Value": ["20240702"]},
       "00080050": {"vr": "SH", "Value": ["ACC-77"]},
       "00080061": {"vr": "CS", "Value": ["CR", "DX"]},
       "00081030": {"vr": "LO", "Value": ["Knee left"]},
       "00100010": {"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE"}]},
       "00100020": {"vr": "LO", "Value": ["PB-0003"]},
       "0020000D": {"vr": "UI", "Value": ["1.2.840.113619.2.55.3"]},
       "00201206": {"vr": "IS", "Value": [2]},
       "00201208": {"vr": "IS", "Value": [3]}},
      {"00080061": {"vr": "CS", "Value": ["CR\\\\DX"]},
       "00100010": {"vr": "PN"},
       "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
       "00201208": {"vr": "IS", "Value": ["12"]}}
    ]
    """.utf8)

    func testStudies() throws {
        let studies = try DICOMJSON.studies(twoStudies)
        XCTAssertEqual(studies.count, 2)
        XCTAssertEqual(studies[0], StudySummary(studyInstanceUID: "1.2.840.113619.2.55.3", patientID: "PB-0003", studyDate: "20240702",
                                                modalities: ["CR", "DX"], description: "Knee left", accessionNumber: "ACC-77",
                                                numberOfInstances: 3, numberOfSeries: 2))
        XCTAssertEqual(studies[0].isoDate, "2024-07-02")
        XCTAssertEqual(studies[1].modalities, ["CR", "DX"])
        XCTAssertEqual(studies[1].numberOfInstances, 12)
        XCTAssertNil(studies[1].patientID)
        XCTAssertNil(studies[1].isoDate)
        // The name is in the answer but nowhere in what was parsed or is shown.
        let shown = "\(studies)" + StudySummary.table(studies).joined() + "\(studies.map(\.jsonObject))"
        XCTAssertFalse(shown.contains("DOE"), shown)
    }

    func testSeries() throws {
        let series = try DICOMJSON.series(Data("""
        [{"0020000E": {"vr": "UI", "Value": ["1.2.3.1"]}, "00080060": {"vr": "CS", "Value": ["dx"]},
          "0008103E": {"vr": "LO", "Value": ["AP"]}, "00201209": {"vr": "IS", "Value": [1]}},
         {"0020000E": {"vr": "UI", "Value": ["1.2.3.2"]}, "00080060": {"vr": "CS", "Value": ["CT"]}},
         {"0020000E": {"vr": "UI", "Value": ["1.2.3.3"]}}]
        """.utf8))
        XCTAssertEqual(series.map(\.seriesInstanceUID), ["1.2.3.1", "1.2.3.2", "1.2.3.3"])
        XCTAssertEqual(series.map(\.isRadiograph), [true, false, false])
        XCTAssertEqual(series[0].modality, "DX")
        XCTAssertEqual(series[0].numberOfInstances, 1)
    }

    func testEmptyAnswersAreNoMatch() throws {
        XCTAssertEqual(try DICOMJSON.studies(Data()), [])
        XCTAssertEqual(try DICOMJSON.studies(Data("[]".utf8)), [])
        XCTAssertEqual(try DICOMJSON.studies(Data(" \r\n".utf8)), [])
    }

    func testGarbageIsRefusedNamingWhat() {
        let cases: [(String, String)] = [
            ("<html><body>Login</body></html>", "not JSON (it starts with '<html><body>Login</body>...' (31 bytes))"),
            ("{\"0020000D\": {}}", "not a list"),
            ("[1, 2]", "entry 0 is not an object"),
            ("[{\"00100020\": {\"vr\": \"LO\", \"Value\": [\"P1\"]}}]", "study 0 has no valid StudyInstanceUID"),
            ("[{\"0020000D\": {\"vr\": \"UI\", \"Value\": [\"1.2.x; rm -rf /\"]}}]", "study 0 has no valid StudyInstanceUID"),
        ]
        for (body, expected) in cases {
            do {
                let s = try DICOMJSON.studies(Data(body.utf8))
                XCTFail("accepted \(s)")
            } catch {
                XCTAssertTrue(error.problem.contains(expected), "'\(error.problem)' lacks '\(expected)'")
            }
        }
    }

    func testUIDs() {
        for good in ["1.2.3", "2.25.123456789012345678901234567890", "0"] { XCTAssertTrue(DICOMJSON.isValidUID(good), good) }
        for bad in ["", "1..2", ".1", "1.", "1.2.a", "1.2/3", String(repeating: "1", count: 65), "1.2.3 "] {
            XCTAssertFalse(DICOMJSON.isValidUID(bad), bad)
        }
    }

    func testQueryParameters() throws {
        let q = StudyQuery(patientID: "PB*", modality: "dx", since: "2020-02-29", limit: 5)
        let items = try q.queryItems()
        XCTAssertEqual(items.first { $0.name == "PatientID" }?.value, "PB*")
        XCTAssertEqual(items.first { $0.name == "ModalitiesInStudy" }?.value, "DX")
        XCTAssertEqual(items.first { $0.name == "StudyDate" }?.value, "20200229-")
        XCTAssertEqual(items.first { $0.name == "limit" }?.value, "5")
        XCTAssertTrue(items.contains { $0.name == "includefield" && $0.value == "00201208" })
        XCTAssertFalse(items.contains { $0.value == "00100010" }, "the patient's name is never asked for")
        XCTAssertEqual(try StudyQuery.dicomDate("20191231"), "20191231")
        for bad in ["2021-02-29", "yesterday", "2021-13-01", "202101"] {
            XCTAssertThrowsError(try StudyQuery(since: bad).queryItems(), bad)
        }
        XCTAssertThrowsError(try StudyQuery(modality: "CR&x=1").queryItems())
        XCTAssertThrowsError(try StudyQuery(patientID: "A\\B").queryItems())
    }

    func testSearchURLEncodesTheQuery() throws {
        let client = try DICOMwebClient(server: PACSServer(name: "x", baseURL: URL(string: "https://pacs.example.org/dicom-web")!))
        let url = try client.url(path: ["studies"], query: [URLQueryItem(name: "PatientID", value: "A+B C&D")])
        XCTAssertEqual(url.absoluteString, "https://pacs.example.org/dicom-web/studies?PatientID=A%2BB%20C%26D")
    }

    func testPrintableStripsTerminalEscapes() {
        XCTAssertEqual(DICOMJSON.printable("Knee\u{1B}]0;owned\u{07}\n left"), "Knee ]0;owned left")
        XCTAssertEqual(DICOMJSON.printable(String(repeating: "a", count: 100), max: 10), "aaaaaaaaa…")
        let lines = StudySummary.table([StudySummary(studyInstanceUID: "1.2", patientID: "P\u{1B}[2J", studyDate: "20200101",
                                                     modalities: ["CR"], numberOfInstances: 1)])
        XCTAssertEqual(lines, ["2020-01-01  P [2J  CR  -  1 instance  1.2"])
    }
}
