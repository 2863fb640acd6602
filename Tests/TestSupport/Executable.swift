import Foundation

/// The `tumorboard` binary built next to the test bundle (`swift build --build-tests` builds both), or nil.
public func builtTumorboard() -> URL? {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    for _ in 0..<3 {
        url.deleteLastPathComponent()
        let candidate = url.appendingPathComponent("tumorboard")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    return nil
}
