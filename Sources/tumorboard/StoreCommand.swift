import ArgumentParser
import Cases
import Foundation

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "The case store itself: move a department's cases between back ends.",
        subcommands: [Copy.self])

    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy every case, finding and audit row from one store to another (e.g. SQLite to PostgreSQL), then verify by counts and checksums. Running it again copies nothing twice.",
            discussion: """
            Example: tumorboard store copy --from ~/.local/share/tumorboard/cases.sqlite --to postgresql://tumorboard@db.example:5432/tumorboard?sslmode=verify-full
            The password comes from ~/.pgpass (or PGPASSFILE, or passfile= in the URL), never from the command line.
            Exit status 1 when anything could not be verified, or a case in the destination differs from the source.
            """)
        @Option(help: "The store to copy from: a file (SQLite) or a postgresql:// URL.") var from: String
        @Option(help: "The store to copy into (created or migrated as needed).") var to: String

        func run() throws {
            try workflow("store copy") {
                let source = try CaseStore.openExisting(path: from)
                let destination = try Importer.openChecked(to)
                let report = try source.copy(to: destination)
                try Output.out(Data((report.summary + "\n").utf8))
                if !report.verified { throw ExitCode(1) }
            }
        }
    }
}
