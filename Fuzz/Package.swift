// swift-tools-version:6.0
// libFuzzer targets for digits' parsers, built apart from the main package with
// `swift build --sanitize=fuzzer --sanitize=address` (scripts/fuzz does it; `make fuzz` runs each target).
//   fuzz-architecture  model architectures (as model files hold them) checked, built and run
//   fuzz-idx           IDX files, raw or gzip, into labelled images
//   fuzz-image         PNG / JPEG / PGM / PPM decoding, MNIST preprocessing, number segmentation
//   fuzz-safetensors   safetensors files into models, PyTorch weights and training checkpoints
//   fuzz-server        the HTTP API's body parsing: Content-Type, JSON pixels, uploaded pictures
import PackageDescription

// libFuzzer supplies `main`; each target only defines LLVMFuzzerTestOneInput.
let fuzzerEntry: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "digits-fuzz",
    dependencies: [.package(name: "digits", path: "..")],
    targets: [
        .executableTarget(name: "fuzz-architecture", dependencies: [.product(name: "DigitsFuzzTargets", package: "digits")],
                          path: "Sources/FuzzArchitecture", swiftSettings: fuzzerEntry),
        .executableTarget(name: "fuzz-idx", dependencies: [.product(name: "DigitsFuzzTargets", package: "digits")],
                          path: "Sources/FuzzIDX", swiftSettings: fuzzerEntry),
        .executableTarget(name: "fuzz-image", dependencies: [.product(name: "DigitsFuzzTargets", package: "digits")],
                          path: "Sources/FuzzImage", swiftSettings: fuzzerEntry),
        .executableTarget(name: "fuzz-safetensors", dependencies: [.product(name: "DigitsFuzzTargets", package: "digits")],
                          path: "Sources/FuzzSafetensors", swiftSettings: fuzzerEntry),
        .executableTarget(name: "fuzz-server", dependencies: [.product(name: "DigitsFuzzTargets", package: "digits")],
                          path: "Sources/FuzzServer", swiftSettings: fuzzerEntry),
    ]
)
