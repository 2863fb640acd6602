// swift-tools-version:6.0
// TumorBoard: a terminal workstation for multimodal bone-tumour diagnosis.
// Layering (see docs/ and ../shared/design/ARCHITECTURE.md): the executable parses arguments only;
// Engine knows nothing of tumours; the C shims are thin and hold C only where Swift cannot.
import PackageDescription

// PostgreSQL support (the case store on a department's server, issue 18) is built in unless
// TUMORBOARD_POSTGRESQL=0; scripts/test-tsan sets it, as the thread-sanitizer run tests the
// workstation's background work, and compiling SwiftNIO and BoringSSL once more costs CI minutes.
let withPostgres = Context.environment["TUMORBOARD_POSTGRESQL"] != "0"
let postgresPackages: [Package.Dependency] = withPostgres ? [
    .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.25.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.5.3"),
] : []
let postgresProducts: [Target.Dependency] = withPostgres ? [
    .product(name: "PostgresNIO", package: "postgres-nio"),
    .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log"),
] : []
let postgresSettings: [SwiftSetting] = withPostgres ? [.define("TUMORBOARD_POSTGRESQL")] : []
let casesDependencies: [Target.Dependency] = ["Imaging", "AtomicFiles", "CDigest", .product(name: "GRDB", package: "GRDB.swift")] + postgresProducts

let package = Package(
    name: "TumorBoard",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "tumorboard", targets: ["tumorboard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ] + postgresPackages,
    targets: [
        // C shims (system libraries).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CNcurses", path: "Sources/CNcurses", pkgConfig: "ncursesw",
                       providers: [.apt(["libncursesw5-dev"])]),
        .systemLibrary(name: "CSixel", path: "Sources/CSixel", pkgConfig: "libsixel",
                       providers: [.apt(["libsixel-dev"])]),
        // libpng / libjpeg decoding with setjmp-based error recovery (Swift cannot call setjmp).
        .target(name: "CImageCodecs", path: "Sources/CImageCodecs",
                linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),

        // TumorBoard's own convolution kernels (issue 17): direct 1x1 and 3x3, packed weights, fused
        // epilogue; portable C and AVX2 + FMA, chosen at run time. Optimised in debug builds too,
        // since the tests run them on whole networks.
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O2"])]),

        // SHA-256's block compression, optimised in debug builds too (the tests digest the models
        // many times; the plain-Swift loop took about 20 s a time unoptimised).
        .target(name: "CDigest", path: "Sources/CDigest", cSettings: [.unsafeFlags(["-O2"])]),

        // The one atomic file writer (temporary file, fsync, rename), below every layer that writes.
        .target(name: "AtomicFiles"),
        // Tensors, ops, safetensors, threading. Knows nothing of tumours.
        .target(name: "Engine", dependencies: ["CBLAS", "CKernels", "AtomicFiles"]),
        // Decode PNG / JPEG, window/level, resize, draw.
        .target(name: "Imaging", dependencies: ["CImageCodecs", "AtomicFiles"]),
        // Networks built on the engine (ResNet, YOLOv5-style detector, BERT).
        .target(name: "Models", dependencies: ["Engine"]),
        // Case records, lab panels and reference ranges, DICOM import, the case store (SQLite through
        // GRDB, or PostgreSQL through PostgresNIO: one store logic over two SQL back ends).
        .target(name: "Cases", dependencies: casesDependencies, resources: [.copy("Resources")], swiftSettings: postgresSettings),
        // Case -> findings: detection, crops, encoders, fusion, Shapley contributions, Grad-CAM.
        .target(name: "Diagnosis", dependencies: ["Models", "Imaging", "Cases", "AtomicFiles"]),
        // `tumorboard eval`: datasets, the pipeline over them, mAP@0.5, precision/recall/F1, ROC AUC,
        // calibration, the ablation, the report (Markdown, JSON, PNG plots).
        .target(name: "Evaluation", dependencies: ["Diagnosis", "Cases", "Imaging", "AtomicFiles"]),
        // The hospital's PACS over DICOMweb: QIDO-RS search, WADO-RS retrieve, import through Cases'
        // one import path. UI-free: the command line and the workstation's PACS screen call it.
        .target(name: "PACS", dependencies: ["Cases", "AtomicFiles"]),
        // The terminal UI: capability probe, screens, panes, themes, key map.
        // Depends on Diagnosis for findings and the models it runs in the background; never on Engine.
        .target(name: "Workstation", dependencies: ["Imaging", "Cases", "Diagnosis", "Evaluation", "PACS", "CNcurses", "CSixel"]),

        .executableTarget(name: "tumorboard", dependencies: [
            "Engine", "Imaging", "Models", "Cases", "Diagnosis", "Workstation", "Evaluation", "PACS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Fixture reading and tolerances shared by the test targets.
        .target(name: "TestSupport", dependencies: ["Engine"], path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"]),
        .testTarget(name: "DiagnosisTests", dependencies: ["Diagnosis", "Models", "Engine", "Imaging", "Cases", "TestSupport"]),
        .testTarget(name: "CasesTests", dependencies: ["Cases", "Imaging"], swiftSettings: postgresSettings),
        .testTarget(name: "WorkstationTests", dependencies: ["Workstation", "Cases", "Imaging", "Diagnosis", "Evaluation", "PACS", "Engine"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Diagnosis", "Cases", "Imaging", "TestSupport"]),
        .testTarget(name: "PACSTests", dependencies: ["PACS", "Cases", "Imaging"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Engine", "TestSupport"], exclude: ["Fixtures"]),
    ]
)
