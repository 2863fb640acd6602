import ArgumentParser
import Cases
import Foundation
import Workstation

struct Open: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the workstation on a folder of cases (default: the bundled samples).",
        discussion: """
        PATH is a folder of case folders (case.json, docs/case-format.md), a dataset folder laid \
        out like BTXRD (images/, cases.csv, boxes.csv), or a case store (.sqlite). Press ? in the \
        workstation for the keys; docs/terminal.md describes the image modes.

        Environment: TUMORBOARD_GRAPHICS=sixel|kitty|blocks|ascii overrides the negotiated image \
        mode; TUMORBOARD_THEME=dark|light|high-contrast|PATH picks a theme (themes/); \
        TUMORBOARD_TIMING=FILE writes start-up, key-to-redraw and open-to-probabilities times there; \
        TUMORBOARD_FINDINGS_CACHE=DIR is where results of folder and dataset cases are kept \
        (default ~/.cache/tumorboard/findings; store cases keep them in the store).
        """)

    @Argument(help: "A folder of case folders, a dataset folder laid out like BTXRD (images/, cases.csv, boxes.csv), or a case store (.sqlite).")
    var path: String?

    @Option(help: "Open this case (its ID) at start instead of the list.")
    var `case`: String?

    @Option(help: "The models folder (default: $TUMORBOARD_MODELS, else models/ of this checkout). The workstation browses without it.")
    var models: String?

    @Option(help: "An evaluation report folder (tumorboard eval --out): shown at start, and with E; its most-wrong cases open from it.")
    var report: String?

    @Flag(help: "Print the bytes per frame and draw time for each image mode and window size (no terminal needed), for --case or the first case.")
    var measureFrames = false

    @Option(help: "With --measure-frames: the cell size in pixels, WxH.")
    var cell = "10x20"

    func run() throws {
        let folder = path ?? Open.samplesThroughStore(Open.defaultSamples())
        let source: any CaseSource
        do {
            source = try openCaseSource(path: folder)
        } catch {
            Output.err("tumorboard: \(error)\n")
            throw ExitCode(2)
        }
        if source.summaries().isEmpty {
            Output.err("""
                tumorboard: no cases in \(folder).
                Put case folders there (one folder per case with a radiograph PNG/JPEG), \
                or open a dataset: tumorboard open ../shared/data/btxrd

                """)
            throw ExitCode(2)
        }
        if measureFrames {
            let parts = cell.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2 else { throw ValidationError("--cell wants WxH, e.g. 10x20") }
            let size = CellSize(width: parts[0], height: parts[1])
            let id = `case` ?? source.summaries()[0].id
            let rows = try FrameBudget.measure(source: source, caseID: id, sizes: [(80, 24), (120, 40), (200, 60)], cell: size)
            print("case \(id), cell \(size) px")
            print(FrameBudget.table(rows, cell: size), terminator: "")
            return
        }
        do {
            var options = WorkstationOptions(source: source, themeFolder: Open.repositoryFolder("themes"),
                                             initialCase: `case`, modelsDirectory: Open.modelsDirectory(models),
                                             report: report.map { URL(fileURLWithPath: $0) })
            options.resultsFile = Open.repositoryFolder("docs").map { URL(fileURLWithPath: $0).appendingPathComponent("results.json") }
            if let signal = try Workstation.run(options) {
                // The terminal is restored; exit as the shell expects after a signal.
                throw ExitCode(128 + signal)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Output.err("tumorboard: \(error)\n")
            throw ExitCode(1)
        }
    }

    /// The bundled samples are opened through the case store: imported into the user's store
    /// (TUMORBOARD_STORE, else the data directory; cases already there are kept as they are)
    /// and read back from it, so slide references, notes and findings added in the workstation
    /// persist. If the store cannot be used, the folder is opened directly, with a warning.
    static func samplesThroughStore(_ samples: String) -> String {
        let url = URL(fileURLWithPath: samples)
        let hasCases = ((try? FileManager.default.contentsOfDirectory(atPath: samples)) ?? [])
            .contains { FileManager.default.fileExists(atPath: url.appendingPathComponent("\($0)/\(CaseFolder.manifestName)").path) }
        guard hasCases else { return samples }
        do {
            let store = try CaseStore()
            let report = try store.importCaseFolders(in: url)
            for r in report.refused {
                Output.err("tumorboard: sample \(r.path) not imported: \(r.message)\n")
            }
            return store.location
        } catch {
            Output.err("tumorboard: the case store is unavailable (\(error)); opening \(samples) directly\n")
            return samples
        }
    }

    /// samples/ of the repository checkout the executable was built in, or in the current folder.
    static func defaultSamples() -> String {
        if let env = ProcessInfo.processInfo.environment["TUMORBOARD_SAMPLES"] { return env }
        return repositoryFolder("samples") ?? FileManager.default.currentDirectoryPath + "/samples"
    }

    /// A folder next to Package.swift, looking up from the executable, then the current folder.
    static func repositoryFolder(_ name: String) -> String? {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.appendingPathComponent(name).path
            }
            url.deleteLastPathComponent()
        }
        let cwd = FileManager.default.currentDirectoryPath
        return FileManager.default.fileExists(atPath: cwd + "/" + name) ? cwd + "/" + name : nil
    }

    /// The models folder: --models, else $TUMORBOARD_MODELS, else models/ of the checkout.
    static func modelsDirectory(_ option: String?) -> URL {
        let path = option ?? ProcessInfo.processInfo.environment["TUMORBOARD_MODELS"]
            ?? repositoryFolder("models") ?? FileManager.default.currentDirectoryPath + "/models"
        return URL(fileURLWithPath: path)
    }
}
