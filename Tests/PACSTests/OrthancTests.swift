import Foundation
import XCTest
@testable import Cases
import Imaging
@testable import PACS
#if canImport(Glibc)
import Glibc
#endif

/// Search, retrieve and import through a real Orthanc with its DICOMweb plugin, started by
/// scripts/orthanc-test-server (which .ci/run calls) and loaded with the pydicom test files,
/// the DICOM sample of training/make_samples.py and two more of its phantoms (PB-0002,
/// PB-0003). Skipped, saying how to start it, when it is not running.
final class OrthancTests: XCTestCase {
    static let rg3Study = "1.3.6.1.4.1.5962.1.2.11.20040826185059.5457"
    static let j2kStudy = "2.25.4242001"

    func ids(_ studies: [StudySummary]) -> Set<String> { Set(studies.compactMap(\.patientID)) }

    // MARK: Search

    func testSearchByPatientID() throws {
        let orthanc = try OrthancTestServer.running()
        let found = try orthanc.client().searchStudies(StudyQuery(patientID: "11RG3"))
        XCTAssertEqual(found.count, 1)
        XCTAssertEqual(found.first?.studyInstanceUID, Self.rg3Study)
        XCTAssertEqual(found.first?.modalities, ["CR"])
        XCTAssertEqual(found.first?.studyDate, "20040826")
        XCTAssertEqual(found.first?.numberOfInstances, 1)
        XCTAssertEqual(found.first?.description, "Non-ossifying fibroma of distal tibia")
        // Wildcards; and a patient nobody has.
        XCTAssertTrue(ids(try orthanc.client().searchStudies(StudyQuery(patientID: "PB-000*"))).isSuperset(of: ["PB-0002", "PB-0003"]))
        XCTAssertEqual(try orthanc.client().searchStudies(StudyQuery(patientID: "NOBODY-\(UInt32.random(in: 0 ... .max))")), [])
    }

    func testSearchByModality() throws {
        let orthanc = try OrthancTestServer.running()
        let dx = ids(try orthanc.client().searchStudies(StudyQuery(modality: "DX")))
        XCTAssertTrue(dx.isSuperset(of: ["SAMPLE-07-DICOM-OSTEOFIBROMA", "PB-0002", "PB-0003"]), "\(dx)")
        XCTAssertTrue(dx.isDisjoint(with: ["11RG3", "1CT1", "4MR1", "8NM1"]), "\(dx)")
        let cr = ids(try orthanc.client().searchStudies(StudyQuery(modality: "cr")))
        XCTAssertTrue(cr.isSuperset(of: ["11RG3", "J2K-CR"]), "\(cr)")
        XCTAssertTrue(cr.isDisjoint(with: ["PB-0002", "1CT1"]), "\(cr)")
    }

    func testSearchByDate() throws {
        let orthanc = try OrthancTestServer.running()
        let recent = try orthanc.client().searchStudies(StudyQuery(since: "2020-01-01"))
        XCTAssertTrue(ids(recent).isSuperset(of: ["SAMPLE-07-DICOM-OSTEOFIBROMA", "PB-0003"]), "\(ids(recent))")
        XCTAssertTrue(ids(recent).isDisjoint(with: ["PB-0002", "11RG3", "1CT1"]), "\(ids(recent))")
        XCTAssertTrue(recent.allSatisfy { ($0.studyDate ?? "") >= "20200101" })
        // All three at once.
        let one = try orthanc.client().searchStudies(StudyQuery(patientID: "PB-0002", modality: "DX", since: "2019-03-12"))
        XCTAssertEqual(ids(one), ["PB-0002"])
        XCTAssertEqual(try orthanc.client().searchStudies(StudyQuery(patientID: "PB-0002", since: "2019-03-13")), [])
    }

    // MARK: Retrieve and import

    func testImportAStudy() throws {
        let orthanc = try OrthancTestServer.running()
        let original = dicomSamples.appendingPathComponent("RG3_UNCR.dcm")
        guard FileManager.default.fileExists(atPath: original.path) else { throw XCTSkip("RG3_UNCR.dcm missing: scripts/fetch-dicom-samples") }
        let storeFolder = try temporaryFolder(self)
        let storePath = storeFolder.appendingPathComponent("cases.sqlite").path
        let stages = Locked<[PACSImportProgress.Stage]>([])
        let job = PACSStudyImport(client: try orthanc.client(), storePath: storePath)
        let report = try job.run(study: Self.rg3Study, progress: { p in stages.withLock { if $0.last != p.stage { $0.append(p.stage) } } })
        XCTAssertTrue(report.imported, report.summaryLines.joined(separator: "\n"))
        XCTAssertEqual(report.caseID, "11RG3")
        XCTAssertEqual(report.retrieved, 1)
        XCTAssertEqual(stages.current, [.listing, .retrieving, .importing])

        let store = try CaseStore(path: storePath)
        let record = try store.load("11RG3")
        // Age and sex from the tags: PatientSex F, born 1979-04-08, studied 2004-08-26.
        let tags = try DICOMFile(contentsOf: original).patient
        XCTAssertEqual(record.sex, .female)
        XCTAssertEqual(record.age, 25)
        XCTAssertEqual(record.sex, tags.sex)
        XCTAssertEqual(record.age, tags.age)
        XCTAssertEqual(record.radiographs.count, 1)
        XCTAssertEqual(record.radiographs.first?.acquired, "2004-08-26")
        XCTAssertTrue(record.provenance?.contains("PACS orthanc-test, study \(Self.rg3Study)") ?? false, "\(String(describing: record.provenance))")
        // The stored file is under <store folder>/pacs/<case>/<study>/ and has the original's pixels.
        let stored = try XCTUnwrap(record.radiographs.first?.file)
        XCTAssertTrue(stored.hasPrefix(storeFolder.appendingPathComponent("pacs/11RG3/\(Self.rg3Study)/").path), stored)
        XCTAssertEqual(try DICOMFile(contentsOf: URL(fileURLWithPath: stored)).image, try DICOMFile(contentsOf: original).image)
        XCTAssertEqual(record.radiographs.first?.sha256, try SHA256Digest.hex(ofFile: URL(fileURLWithPath: stored)))
        // The patient's name is nowhere in the store.
        let tables = try Data(contentsOf: URL(fileURLWithPath: storePath))
        if let name = tags.name, !name.isEmpty { XCTAssertNil(tables.range(of: Data(name.utf8)), "the name is in the store") }
        let trail = try store.auditTrail("11RG3")
        XCTAssertEqual(trail.count, 1)
        XCTAssertTrue(trail.first?.detail.contains("study \(Self.rg3Study)") ?? false)

        // Again: already present, nothing retrieved, nothing changed.
        let again = try job.run(study: Self.rg3Study)
        XCTAssertFalse(again.imported)
        XCTAssertEqual(again.importReport.alreadyStored, ["11RG3"])
        XCTAssertEqual(again.retrieved, 0)
        XCTAssertEqual(try store.auditTrail("11RG3").count, 1)

        // --case-id: the same study as another case.
        let other = try job.run(study: Self.rg3Study, caseID: "TB-PACS-1")
        XCTAssertEqual(other.importReport.imported, ["TB-PACS-1"])
        XCTAssertEqual(try store.load("TB-PACS-1").radiographs.count, 1)
    }

    /// TUMORBOARD_PACS_FOLDER (a folder every server mounts, for a PostgreSQL store they share)
    /// takes the retrieved files instead of the store's folder; a relative one is refused before
    /// anything is retrieved.
    func testRetrievedStudiesGoToTheChosenFolder() throws {
        let orthanc = try OrthancTestServer.running()
        let storeFolder = try temporaryFolder(self), shared = try temporaryFolder(self)
        let storePath = storeFolder.appendingPathComponent("cases.sqlite").path
        defer { unsetenv("TUMORBOARD_PACS_FOLDER") }
        setenv("TUMORBOARD_PACS_FOLDER", "relative/pacs", 1)
        let job = PACSStudyImport(client: try orthanc.client(), storePath: storePath)
        XCTAssertThrowsError(try job.run(study: Self.rg3Study)) { e in
            XCTAssertTrue("\(e)".contains("TUMORBOARD_PACS_FOLDER must be an absolute path"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: storePath), "nothing was created")
        setenv("TUMORBOARD_PACS_FOLDER", shared.appendingPathComponent("pacs").path, 1)
        let report = try job.run(study: Self.rg3Study)
        XCTAssertTrue(report.imported, report.summaryLines.joined(separator: "\n"))
        let stored = try XCTUnwrap(try CaseStore(path: storePath).load("11RG3").radiographs.first?.file)
        XCTAssertTrue(stored.hasPrefix(shared.appendingPathComponent("pacs/11RG3/\(Self.rg3Study)/").path), stored)
        XCTAssertTrue(FileManager.default.fileExists(atPath: stored))
        XCTAssertFalse(FileManager.default.fileExists(atPath: storeFolder.appendingPathComponent("pacs").path))
    }

    func testAStudyOfSeveralSeriesAndModalities() throws {
        // Two DX radiographs in two series and a CT series, in one study: one case of two
        // radiographs, the CT named and skipped.
        let orthanc = try OrthancTestServer.running()
        let study = freshUID(), pid = "PT-\(UInt32.random(in: 0 ... .max))"
        var ap = TestDICOM(patientID: pid, sex: "M", age: "017Y", studyDate: "20250101", studyUID: study, seed: 1)
        ap.bodyPart = "TIBIA"
        var lateral = ap
        lateral.seriesUID = freshUID(); lateral.sopUID = freshUID(); lateral.seed = 2
        var ct = ap
        ct.modality = "CT"; ct.seriesUID = freshUID(); ct.sopUID = freshUID(); ct.seed = 3
        try orthanc.upload([ap.data(), lateral.data(), ct.data()])
        defer { try? orthanc.deleteStudy(study) }

        let storePath = try temporaryFolder(self).appendingPathComponent("cases.sqlite").path
        let report = try PACSStudyImport(client: try orthanc.client(), storePath: storePath).run(study: study)
        XCTAssertEqual(report.importReport.imported, [pid])
        XCTAssertEqual(report.retrieved, 2)
        XCTAssertEqual(report.skipped.count, 1)
        XCTAssertTrue(report.skipped.first?.contains("series \(ct.seriesUID) (CT, 1 instance): not a radiograph") ?? false, "\(report.skipped)")
        let record = try CaseStore(path: storePath).load(pid)
        XCTAssertEqual(record.radiographs.count, 2)
        XCTAssertEqual(record.age, 17)
        XCTAssertEqual(record.sex, .male)
        XCTAssertEqual(record.site, "tibia")
        let stored = try record.radiographs.map { try DICOMFile(contentsOf: URL(fileURLWithPath: $0.file)).image }
        for sent in try [ap, lateral].map({ try DICOMFile(data: $0.data(), name: "x").image }) {
            XCTAssertTrue(stored.contains(sent), "a radiograph's pixels differ from the file loaded into Orthanc")
        }
        XCTAssertFalse(report.summaryLines.joined().contains("SECRET"), "the name is never shown")
    }

    // MARK: Faults against the real server

    func testWrongPassword() throws {
        let orthanc = try OrthancTestServer.running()
        let folder = try temporaryFolder(self)
        let wrong = folder.appendingPathComponent("wrong.credentials")
        let user = try String(contentsOfFile: orthanc.credentialsFile, encoding: .utf8).split(separator: ":").first.map(String.init) ?? "u"
        try writeFile(wrong, "\(user):not-the-password-8c1f\n", mode: 0o600)
        let client = try DICOMwebClient(server: orthanc.pacsServer(credentials: wrong.path))
        let e = expectPACSError { try client.searchStudies(StudyQuery()) }
        assertMessage(e, contains: ["PACS 'orthanc-test' (\(orthanc.dicomWeb.absoluteString))", "the study search refused (HTTP 401 Unauthorized)",
                                    "the user name or password in the credentials file was refused"],
                      lacks: ["not-the-password-8c1f"])
        // The import: the same message, and nothing written.
        let store = try temporaryFolder(self)
        let i = expectPACSError { try PACSStudyImport(client: client, storePath: store.appendingPathComponent("cases.sqlite").path).run(study: Self.rg3Study) }
        assertMessage(i, contains: ["HTTP 401"], lacks: ["not-the-password-8c1f"])
        assertStoreUntouched(store)
        // No credentials at all.
        let none = try DICOMwebClient(server: PACSServer(name: "anonymous", baseURL: orthanc.dicomWeb))
        assertMessage(expectPACSError { try none.searchStudies(StudyQuery()) }, contains: ["HTTP 401", "give the server a credentials file"])
    }

    func testStudyDeletedBetweenSearchAndRetrieve() throws {
        let orthanc = try OrthancTestServer.running()
        let pid = "GONE-\(UInt32.random(in: 0 ... .max))"
        let dicom = TestDICOM(patientID: pid, modality: "CR")
        try orthanc.upload([dicom.data()])
        let found = try orthanc.client().searchStudies(StudyQuery(patientID: pid))
        XCTAssertEqual(found.map(\.studyInstanceUID), [dicom.studyUID])
        try orthanc.deleteStudy(dicom.studyUID)
        let store = try temporaryFolder(self)
        let e = expectPACSError { try PACSStudyImport(client: orthanc.client(), storePath: store.appendingPathComponent("cases.sqlite").path).run(study: dicom.studyUID) }
        guard case .studyNotFound? = e else { return XCTFail("\(String(describing: e))") }
        assertMessage(e, contains: ["PACS 'orthanc-test'", "study \(dicom.studyUID) is not on the server", "nothing was imported"])
        assertStoreUntouched(store)
        // The retrieve alone (a screen that listed the series before the deletion): not found too.
        let r = expectPACSError { try orthanc.client().retrieveSeries(study: dicom.studyUID, series: dicom.seriesUID) }
        guard case .studyNotFound? = r else { return XCTFail("\(String(describing: r))") }
    }

    func testCompressedStudyTheServerCannotConvert() throws {
        // JPEG2000.dcm as a CR radiograph (the script makes it): Orthanc 1.10 has no JPEG 2000
        // decoder, answers HTTP 500 to the request for Explicit VR Little Endian; the import names
        // the syntax it holds and refuses.
        let orthanc = try OrthancTestServer.running()
        guard !(try orthanc.client().searchStudies(StudyQuery(patientID: "J2K-CR"))).isEmpty else {
            throw XCTSkip("the test Orthanc has no J2K-CR study (JPEG2000.dcm missing: scripts/fetch-dicom-samples)")
        }
        let store = try temporaryFolder(self)
        let e = expectPACSError { try PACSStudyImport(client: orthanc.client(), storePath: store.appendingPathComponent("cases.sqlite").path).run(study: Self.j2kStudy) }
        guard case .compressed(_, _, let uid, _, _)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(uid, "1.2.840.10008.1.2.4.91")
        assertMessage(e, contains: ["PACS 'orthanc-test'", "study \(Self.j2kStudy)", "1.2.840.10008.1.2.4.91 (JPEG 2000 Image Compression)",
                                    "could not send them uncompressed (HTTP 500", "nothing was imported"])
        assertStoreUntouched(store)
    }

    func testNoRadiographsInTheStudy() throws {
        let orthanc = try OrthancTestServer.running()
        let ct = try XCTUnwrap(try orthanc.client().searchStudies(StudyQuery(patientID: "1CT1")).first)
        let store = try temporaryFolder(self)
        let e = expectPACSError { try PACSStudyImport(client: orthanc.client(), storePath: store.appendingPathComponent("cases.sqlite").path).run(study: ct.studyInstanceUID) }
        assertMessage(e, contains: ["holds no radiograph (CR or DX), only CT"])
        assertStoreUntouched(store)
    }

    func testPatientIDThatIsNotACaseID() throws {
        let orthanc = try OrthancTestServer.running()
        let dicom = TestDICOM(patientID: "Doe Jane 1970", modality: "DX")
        try orthanc.upload([dicom.data()])
        defer { try? orthanc.deleteStudy(dicom.studyUID) }
        let store = try temporaryFolder(self)
        let storePath = store.appendingPathComponent("cases.sqlite").path
        let e = expectPACSError { try PACSStudyImport(client: orthanc.client(), storePath: storePath).run(study: dicom.studyUID) }
        assertMessage(e, contains: ["no usable case ID", "give one with --case-id"], lacks: ["Doe"])
        assertStoreUntouched(store)
        let report = try PACSStudyImport(client: orthanc.client(), storePath: storePath).run(study: dicom.studyUID, caseID: "TB-0042")
        XCTAssertEqual(report.importReport.imported, ["TB-0042"])
    }

    func testServerStoppedMidTransfer() throws {
        // A private Orthanc of its own (so the others keep theirs), a study too big to sit in the
        // socket buffers, and the server killed (SIGKILL) when the first bytes of the retrieve
        // arrive: the connection breaks mid-answer, the retries find nobody, the store is untouched.
        let folder = try temporaryFolder(self, "orthanc")
        let orthanc = try OrthancTestServer.startPrivate(in: folder)
        defer { orthanc.stopPrivate() }
        let study = freshUID()
        var image = TestDICOM(patientID: "PT-KILL", studyUID: study)
        image.rows = 2500; image.columns = 2500  // 12.5 MB each
        var files: [Data] = []
        for seed in 0..<4 {
            image.sopUID = freshUID(); image.seed = seed
            files.append(image.data())
        }
        try orthanc.upload(files)

        let store = try temporaryFolder(self)
        let seen = Locked<(received: Int64, expected: Int64?, killed: Bool)>((0, nil, false))
        let pid = orthanc.pid
        let job = PACSStudyImport(client: try DICOMwebClient(server: orthanc.pacsServer(timeout: 5, retries: 2)),
                                  storePath: store.appendingPathComponent("cases.sqlite").path)
        let start = Date()
        let e = expectPACSError {
            try job.run(study: study, progress: { p in
                guard p.stage == .retrieving, p.bytes > 0 else { return }
                seen.withLock { s in
                    if !s.killed { kill(pid, SIGKILL); s.killed = true }
                    s.received = max(s.received, p.bytes); s.expected = p.expectedBytes
                }
            })
        }
        let s = seen.current
        XCTAssertTrue(s.killed, "the retrieve never started")
        if let expected = s.expected { XCTAssertLessThan(s.received, expected, "the whole answer arrived before the kill") }
        guard case .unreachable(_, let what, let detail, let attempts)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertTrue(what.contains("the retrieve of study \(study)"), what)
        XCTAssertEqual(attempts, 3)
        XCTAssertTrue(detail.contains("connection refused"), "after the loss the retries find nobody: \(detail)")
        assertMessage(e, contains: ["PACS 'orthanc-test'", "is the server up"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        assertStoreUntouched(store)
    }
}

/// A value shared with the progress callback's threads.
final class Locked<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is only read or written while `lock` is held.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
    var current: Value { withLock { $0 } }
}
