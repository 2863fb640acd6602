import ArgumentParser
import Foundation

// Subcommands whose issues have not landed yet (moved unchanged from Open.swift).

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate the models on a dataset split (mAP, precision/recall/F1, AUC, calibration).",
        discussion: "Not built yet: it follows the diagnosis pipeline. Exits with status 3.")
    @Argument(help: "A dataset folder laid out like BTXRD.") var dataset: String?
    func run() throws { fail("eval is not built yet (it follows the diagnosis pipeline, issue 5); no output was produced") }
}
