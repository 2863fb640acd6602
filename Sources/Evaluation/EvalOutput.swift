import AtomicFiles
import Foundation

extension EvalReport {
    func f(_ v: Double?, _ digits: Int = 3) -> String { v.map { String(format: "%.\(digits)f", $0) } ?? "n/a" }

    /// The fullest fusion row (all three modalities), else the image-only row: the model's answer.
    public var headline: Classification? {
        classification.first { $0.subset.count == 3 } ?? classification.last { $0.subset.count > 0 } ?? classification.first
    }

    /// report.md: every table with its inputs named (real or generated) and the paper's figures beside.
    public var markdown: String {
        var m = "# TumorBoard evaluation: \(title)\n\n"
        m += "Research software, not a medical device. Computed by the Swift engine (`tumorboard eval`) from \(source).\n\n"
        m += "- cases scored: \(cases)" + (split.map { " (\($0) split)" } ?? "") + "; wall time \(f(wallSeconds, 1)) s\n"
        for k in EvalReport.modalityNames { if let v = inputs[k] { m += "- \(k): \(v)\n" } }
        m += "- models: " + models.sorted { $0.key < $1.key }.map { "`\($0.key)` \($0.value.prefix(12))" }.joined(separator: ", ") + "\n"
        if !leftOut.isEmpty || !casesWithErrors.isEmpty {
            m += "- left out: \(leftOut.count + casesWithErrors.count) (listed at the end)\n"
        }
        if let d = detection {
            m += "\n## Detection (inputs: \(d.inputs))\n\n"
            m += "| figure | TumorBoard | paper |\n| --- | ---: | ---: |\n"
            m += "| mAP@0.5 (COCO 101-point, every candidate) | \(f(d.map50, 4)) | \(f(PaperFigures.detectionMAP50, 4)) |\n"
            m += "| mAP@0.5, tumour images only | \(f(d.map50TumourImagesOnly, 4)) | |\n"
            m += "| recall at the operating threshold \(f(d.operatingThreshold)) | \(f(d.recall, 4)) (\(d.truePositives) of \(d.boxes) boxes) | |\n"
            m += "| precision at the operating threshold | \(f(d.precision, 4)) (\(d.falsePositives) false positives) | |\n"
            m += "| normal images with a detection | \(d.normalImagesWithADetection) of \(d.normalImages) | |\n"
            m += "| tumour images with a detection | \(d.tumourImagesWithADetection) of \(d.tumourImages) | |\n"
            m += "| image level, lesion / no lesion: AUC of the top candidate's score | \(f(d.imageLevelAUC, 4)) | |\n"
            m += "| image level: specificity / sensitivity at the operating threshold | \(f(d.specificityAtOperating, 4)) / \(f(d.sensitivityAtOperating, 4)) | |\n\n"
            m += "Setting: \(d.setting). Plot: `pr_curve.png`.\n\n"
            if !d.recallBySize.isEmpty {
                m += "Recall by lesion size (terciles of the reference boxes' areas):\n\n| box area (px²) | boxes | recall at the operating threshold | recall at any score |\n| --- | ---: | ---: | ---: |\n"
                for b in d.recallBySize {
                    m += "| \(Int(b.area[0]))–\(b.area[1] < 0 ? "" : String(Int(b.area[1]))) | \(b.boxes) | \(f(b.recallAtOperating)) | \(f(b.recallAnyScore)) |\n"
                }
            }
        }
        if !classification.isEmpty {
            m += "\n## Classification of the tumour cases (\(classification[0].cases) cases)\n\n"
            m += "The classifier knows the tumour classes only; normal radiographs are the detector's business.\n\n"
            m += "| modalities | inputs | cases | macro precision | macro recall | macro F1 | macro AUC | accuracy | ECE (15 bins) |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
            for r in classification {
                m += "| \(r.name) | \(r.inputs) | \(r.cases) | \(f(r.macroPrecision, 4)) | \(f(r.macroRecall, 4)) | \(f(r.macroF1, 4)) | \(f(r.macroAUC, 4)) | \(f(r.accuracy, 4)) | \(f(r.ece15)) |\n"
            }
            m += "| paper (trimodal) | radiograph, slide, labs of real patients | | \(f(PaperFigures.macroPrecision, 4)) | | \(f(PaperFigures.macroF1, 4)) | \(f(PaperFigures.macroAUC, 4)) | | |\n\n"
            m += "Precision, F1, AUC and the first ECE from the softmax of the logits (temperature 1); the workstation shows the calibrated probabilities (shipped temperatures): ECE of those in report.json (`ece15_shown`).\n"
            if let h = headline {
                m += "\n### \(h.name): per class\n\n| class | precision | recall | F1 | AUC |\n| --- | ---: | ---: | ---: | ---: |\n"
                for (k, c) in EvalReport.classes.enumerated() {
                    m += "| \(c) | \(f(h.precision[k])) | \(f(h.recall[k])) | \(f(h.f1[k])) | \(f(h.auc[k])) |\n"
                }
                m += "\nConfusion (rows truth, columns predicted: benign, intermediate, malignant): "
                m += h.confusion.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(separator: " ") + "\n"
                m += "\nPlots: `roc.png`, `reliability.png`, `confusion.png`.\n"
            }
        }
        if !mostWrong.isEmpty {
            m += "\n## The cases it got most wrong\n\nOpen one with `tumorboard open DATA --case ID`.\n\n| case | truth | answer | p(truth) | note |\n| --- | --- | --- | ---: | --- |\n"
            for w in mostWrong { m += "| \(w.id) | \(w.truth) | \(w.predicted) | \(w.truth == "normal" ? "" : f(w.probabilityOfTruth)) | \(w.note) |\n" }
        }
        if !leftOut.isEmpty || !casesWithErrors.isEmpty {
            m += "\n## Left out\n\n"
            for l in leftOut + casesWithErrors { m += "- \(l)\n" }
        }
        return m
    }

    public var json: Data {
        get throws {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            e.keyEncodingStrategy = .convertToSnakeCase
            e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            return try e.encode(self)
        }
    }

    /// Writes report.md, report.json and the plots into `folder`, all or nothing: into a new
    /// folder beside it, which then takes its place.
    public func write(to folder: URL) throws {
        let fm = FileManager.default
        // Only an empty folder or an earlier report is replaced: --out must never take a user's data.
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: folder.path, isDirectory: &isDir) {
            let entries = isDir.boolValue ? ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? []) : ["(a file)"]
            let isReport = entries.contains("report.json") || entries.contains("report.md")
            guard entries.isEmpty || isReport else {
                throw EvalSetError("\(folder.path): exists and is not a TumorBoard report (no report.json); choose another --out, nothing was written")
            }
        }
        do {
            try AtomicFolder.replace(folder) { staging in
                try Data(markdown.utf8).write(to: staging.appendingPathComponent("report.md"))
                try json.write(to: staging.appendingPathComponent("report.json"))
                if let d = detection, !d.prCurve.isEmpty { try Plots.prCurve(d).write(to: staging.appendingPathComponent("pr_curve.png")) }
                if let h = headline {
                    try Plots.roc(h).write(to: staging.appendingPathComponent("roc.png"))
                    try Plots.reliability(h).write(to: staging.appendingPathComponent("reliability.png"))
                    try Plots.confusion(h).write(to: staging.appendingPathComponent("confusion.png"))
                }
            }
        } catch {
            throw EvalSetError("\(folder.path): the report could not be written (\(error.localizedDescription)); the earlier report, if any, is as it was")
        }
    }
}
