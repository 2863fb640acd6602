import Cases
import Foundation

extension RecordSource {
    /// Every case in a case store (SQLite), read in one snapshot.
    public static func store(at path: String) throws -> RecordSource {
        let records = try CaseStore(path: path).allRecords()
        return RecordSource(title: "\((path as NSString).lastPathComponent) (store, \(records.count) cases)", records: records,
                            storePath: path)
    }

    /// A dataset folder laid out like BTXRD (images/, cases.csv, boxes.csv), read by the case
    /// store's reader (`DatasetLayout`), without hashing the images (opening stays fast).
    public static func dataset(at folder: String) throws -> RecordSource {
        let records = try DatasetLayout.read(URL(fileURLWithPath: folder), hashImages: false)
        let base = (folder as NSString).lastPathComponent
        return RecordSource(title: "\(base) (dataset, \(records.count) images)", records: records)
    }
}
