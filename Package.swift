// swift-tools-version:6.0
// digits: handwritten digit recognition, from first principles to a daily tool.
//
// Targets, each depending only on those above it:
//   CBLAS, CZlib, CPNG, C libraries as system-library modules: OpenBLAS, zlib, libpng, libjpeg-turbo
//   CJPEG, CDeflate     and libdeflate (which inflates a PNG's image data in one call)
//   DigitsTensor        tensor core: Float32 storage with a shape, kernels, BLAS products, seeded RNG
//   DigitsNN            layers, losses, optimizers, sequential models
//   DigitsData          IDX files (raw or gzip), MNIST location and download, mini-batches; the file
//                       formats and checksums above them share (protobuf encoder, TFRecord, CRC-32C,
//                       SHA-256 through swift-crypto)
//   DigitsImaging       decoding pictures (PNG, JPEG, PGM/PPM) and preparing them as MNIST digits
//   Digits              application services: recipes, training runs, metrics, safetensors checkpoints,
//                       TensorBoard logs
//   DigitsExport        models in other formats (ONNX)
//   DigitsReport        charts drawn to PNG, the HTML model report, layer-by-layer explanations
//   DigitsServer        the HTTP API and the draw-a-digit page (Hummingbird)
//   DigitsFuzzTargets   what each libFuzzer target (Fuzz/) does with one input; its tests replay the inputs kept
//   DigitsCLI           the `digits` command: parses options, calls Digits
//   DigitsTestSupport   helpers the test targets share (a Python with given modules, a WebDriver client)
import PackageDescription
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// Speed settings are opt-in: `DIGITS_FAST=1 swift build -c release` (the Makefile, the README's commands and the
// benchmark script set it) builds the numeric kernels, DigitsTensor and DigitsNN, without overflow or bounds
// checks (-Ounchecked) and for the CPU that builds them (-target-cpu native: AVX2/FMA or AVX-512 on x86; such a
// binary is built where it runs). Without it the package carries no unsafe flags, so another package can depend
// on digits by version, and it runs on any CPU of its architecture. Either way the modules that parse input
// (files, pictures, requests, options) keep Swift's checks on.
let fastKernels = ProcessInfo.processInfo.environment["DIGITS_FAST"] == "1"
// DIGITS_HARDWARE_FMA tells the kernels (DigitsTensor/MultiplyAdd.swift) that the CPU fuses multiply-add, as
// every CPU digits is built on for itself does; the portable build multiplies and adds instead of calling the C
// library's software fmaf for every lane.
let numericKernelSettings: [SwiftSetting] = fastKernels ? [
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
    .unsafeFlags(["-target-cpu", "native"], .when(platforms: [.linux], configuration: .release)),
    .define("DIGITS_HARDWARE_FMA", .when(platforms: [.linux], configuration: .release)),
] : []

let package = Package(
    name: "digits",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Digits", targets: ["Digits"]),
        .library(name: "DigitsServer", targets: ["DigitsServer"]),
        .library(name: "DigitsFuzzTargets", targets: ["DigitsFuzzTargets"]),
        .executable(name: "digits", targets: ["DigitsCLI"]),
        .executable(name: "digits-bench", targets: ["DigitsBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        // The server's connection guard is a NIO channel handler over HTTPTypes parts (Hummingbird's own stack).
        .package(url: "https://github.com/apple/swift-nio", from: "2.60.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        // SHA-256 of datasets, downloads and weights.
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0" ..< "5.0.0"),
        // `swift package generate-documentation --target Digits` builds the DocC documentation.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .systemLibrary(
            name: "CPNG",
            providers: [.apt(["libpng-dev"]), .brew(["libpng"])]
        ),
        .systemLibrary(
            name: "CJPEG",
            providers: [.apt(["libjpeg62-turbo-dev"]), .brew(["jpeg-turbo"])]
        ),
        .systemLibrary(
            name: "CDeflate",
            providers: [.apt(["libdeflate-dev"]), .brew(["libdeflate"])]
        ),
        .target(
            name: "DigitsTensor",
            dependencies: [.target(name: "CBLAS", condition: .when(platforms: [.linux]))],
            swiftSettings: numericKernelSettings
        ),
        .target(
            name: "DigitsNN",
            dependencies: ["DigitsTensor"],
            swiftSettings: numericKernelSettings
        ),
        .target(
            name: "DigitsData",
            dependencies: ["DigitsTensor", "CZlib", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "DigitsImaging",
            dependencies: ["DigitsTensor", "CPNG", "CJPEG", "CDeflate"]
        ),
        .target(
            name: "Digits",
            dependencies: ["DigitsTensor", "DigitsNN", "DigitsData", "DigitsImaging"]
        ),
        .target(
            name: "DigitsExport",
            dependencies: ["Digits"]
        ),
        .target(
            name: "DigitsReport",
            dependencies: ["Digits"]
        ),
        .target(
            name: "DigitsServer",
            dependencies: ["Digits", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                           .product(name: "HTTPTypes", package: "swift-http-types")]
        ),
        .target(
            name: "DigitsFuzzTargets",
            dependencies: ["Digits", "DigitsServer"]
        ),
        .executableTarget(
            name: "DigitsCLI",
            dependencies: [
                "Digits",
                "DigitsExport",
                "DigitsReport",
                "DigitsServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "DigitsBench",
            dependencies: ["Digits"]
        ),
        .target(name: "DigitsTestSupport", path: "Tests/DigitsTestSupport"),
        .testTarget(name: "DigitsTensorTests", dependencies: ["DigitsTensor"]),
        .testTarget(name: "DigitsNNTests", dependencies: ["DigitsNN"]),
        .testTarget(name: "DigitsDataTests", dependencies: ["DigitsData"]),
        .testTarget(name: "DigitsTests", dependencies: ["Digits", "DigitsTestSupport"]),
        .testTarget(name: "DigitsCLITests", dependencies: ["DigitsCLI", "Digits"]),
        .testTarget(name: "DigitsImagingTests", dependencies: ["DigitsImaging"]),
        .testTarget(name: "DigitsExportTests", dependencies: ["DigitsExport", "DigitsTestSupport"]),
        .testTarget(name: "DigitsServerTests", dependencies: ["DigitsServer", "DigitsTestSupport"]),
        .testTarget(name: "DigitsReportTests", dependencies: ["DigitsReport", "DigitsTestSupport"]),
        .testTarget(name: "DigitsFuzzTargetsTests", dependencies: ["Digits", "DigitsFuzzTargets", "DigitsTestSupport"]),
    ]
)
