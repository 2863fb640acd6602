import Cases
import Foundation

extension RecordSource {
    /// A dataset folder laid out like BTXRD (images/, cases.csv, boxes.csv), read by the case
    /// store's reader (`DatasetLayout`), without hashing the images (opening stays fast).
    public static func dataset(at folder: String) throws -> RecordSource {
        let records = try DatasetLayout.read(URL(fileURLWithPath: folder), hashImages: false)
        let base = (folder as NSString).lastPathComponent
        return RecordSource(title: "\(base) (dataset, \(records.count) images)", records: records)
    }
}
