// swift-tools-version:6.0
// A small app that depends on digits the way another project would: by a git URL and a version, so that
// SwiftPM applies its rules for dependencies (no unsafe build flags). `scripts/check-package-consumer`
// tags the checkout in a scratch clone and points DIGITS_PACKAGE_URL at it.
import PackageDescription
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

let digitsURL = ProcessInfo.processInfo.environment["DIGITS_PACKAGE_URL"] ?? "https://github.com/digits-project/digits"

let package = Package(
    name: "DigitsConsumer",
    platforms: [.macOS(.v15)],
    dependencies: [.package(url: digitsURL, from: "1.0.0")],
    targets: [
        .executableTarget(name: "DigitsConsumer", dependencies: [.product(name: "Digits", package: "digits")]),
    ]
)
