// Finding a Python that has the packages a test needs, and running it: the tests check digits'
// files with other tools' own readers (onnx and onnxruntime, TensorBoard).

import Foundation

/// What a finished child process returned: its exit status, standard output and standard error.
public struct ProcessOutput: Sendable {
    /// The exit status.
    public var status: Int32
    /// Everything written to standard output.
    public var output: String
    /// Everything written to standard error.
    public var errors: String
}

/// Runs `executable` with `arguments` to the end. Standard error goes through a temporary file, so a
/// chatty child cannot block on a full pipe while standard output is read.
public func runProcess(_ executable: URL, _ arguments: [String]) throws -> ProcessOutput {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let output = Pipe()
    let errorsURL = FileManager.default.temporaryDirectory.appendingPathComponent("digits-stderr-\(UUID().uuidString)")
    guard FileManager.default.createFile(atPath: errorsURL.path, contents: nil) else {
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: errorsURL.path])
    }
    defer { try? FileManager.default.removeItem(at: errorsURL) }
    let errorsHandle = try FileHandle(forWritingTo: errorsURL)
    process.standardOutput = output
    process.standardError = errorsHandle
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try errorsHandle.close()
    let errors = (try? String(contentsOf: errorsURL, encoding: .utf8)) ?? ""
    return ProcessOutput(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self), errors: errors)
}

/// The package's root folder (the one holding Package.swift).
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The folder of the real MNIST files the tests use: `$DIGITS_DATA`, else ../shared/datasets/mnist beside the package.
public var mnistFolder: String {
    ProcessInfo.processInfo.environment["DIGITS_DATA"]
        ?? packageRoot.deletingLastPathComponent().appendingPathComponent("shared/datasets/mnist").path
}

/// A Python interpreter that imports a given set of modules.
///
/// Interpreters are tried in this order: `$DIGITS_ONNX_PYTHON` (which `make test` points at the
/// package's `.venv-test`), the package's `.venv-test/bin/python`, `/tmp/onnxvenv/bin/python`, then
/// `python3` on the path. `scripts/setup` makes `.venv-test` with every module the tests use.
public struct TestPython: Sendable {
    /// The command that starts the interpreter (an executable and leading arguments).
    public let command: [String]

    /// The first interpreter that imports every one of `modules`, or nil when none does.
    public static func find(importing modules: [String]) -> TestPython? {
        cache.lookup(modules.sorted()) {
            candidates().first { candidate in
                (try? TestPython(command: candidate).run(["-c", "import " + modules.joined(separator: ", ")]).status) == 0
            }.map { TestPython(command: $0) }
        }
    }

    /// Why a test that needs `modules` is skipped, and how to set them up.
    public static func missingMessage(_ modules: [String]) -> String {
        let packages = Set(modules.map { $0.split(separator: ".").first.map(String.init) ?? $0 }).sorted()
        return "no Python with \(modules.joined(separator: ", ")) (tried $DIGITS_ONNX_PYTHON, .venv-test/bin/python, "
            + "/tmp/onnxvenv/bin/python, python3). Run scripts/setup, or point DIGITS_ONNX_PYTHON at an "
            + "interpreter that has them (pip install \(packages.joined(separator: " ")))."
    }

    /// Runs the interpreter with `arguments`.
    public func run(_ arguments: [String]) throws -> ProcessOutput {
        try runProcess(URL(fileURLWithPath: command[0]), Array(command.dropFirst()) + arguments)
    }

    /// Runs `source` as a script (`python -c`), its `sys.argv[1:]` being `arguments`.
    public func run(script source: String, arguments: [String]) throws -> ProcessOutput {
        try run(["-c", source] + arguments)
    }

    private static func candidates() -> [[String]] {
        var candidates: [[String]] = []
        if let path = ProcessInfo.processInfo.environment["DIGITS_ONNX_PYTHON"], !path.isEmpty { candidates.append([path]) }
        candidates.append([packageRoot.appendingPathComponent(".venv-test/bin/python").path])
        candidates.append(["/tmp/onnxvenv/bin/python"])
        candidates.append(["/usr/bin/env", "python3"])
        return candidates.filter { FileManager.default.isExecutableFile(atPath: $0[0]) }
    }

    /// The interpreters found so far, by module list, so each list is looked up once per test run.
    private static let cache = Cache()

    private final class Cache: @unchecked Sendable {
        private let lock = NSLock()
        private var found: [[String]: TestPython?] = [:]

        func lookup(_ key: [String], _ find: () -> TestPython?) -> TestPython? {
            lock.lock()
            defer { lock.unlock() }
            if let hit = found[key] { return hit }
            let result = find()
            found[key] = result
            return result
        }
    }
}
