import ArgumentParser
import Foundation

/// The command line: argument parsing only; the work lives in the library targets.
@main
struct TumorBoard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tumorboard",
        abstract: "A terminal workstation for multimodal bone-tumour diagnosis (radiograph, pathology slide, blood tests).",
        discussion: """
        Research software reproducing Sang et al., J Bone Oncol 2025. Not a medical device.
        With no subcommand, opens the workstation on the bundled samples.
        """,
        subcommands: [Open.self, Import.self, Pacs.self, Predict.self, Detect.self, Eval.self, Report.self, Slide.self, Labs.self, ReviewCommand.self, Audit.self, StoreCommand.self, Bench.self],
        defaultSubcommand: Open.self)
}
