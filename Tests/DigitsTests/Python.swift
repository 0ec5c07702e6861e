import Foundation
import XCTest

/// Runs `python3 -c script arguments...` (the interpreter `$DIGITS_PYTHON` names, when set); returns its
/// exit status, standard output and standard error. `directory` holds a scratch file for the errors.
func runPython(_ script: String, _ arguments: [String], directory: URL) throws -> (status: Int32, output: String, errors: String) {
    let process = Process()
    if let python = ProcessInfo.processInfo.environment["DIGITS_PYTHON"], !python.isEmpty {
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script] + arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
    }
    let output = Pipe()
    let errorsURL = directory.appendingPathComponent("python-stderr-\(UUID().uuidString).txt")
    _ = FileManager.default.createFile(atPath: errorsURL.path, contents: nil)
    let errorsHandle = try FileHandle(forWritingTo: errorsURL)
    process.standardOutput = output
    process.standardError = errorsHandle
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try errorsHandle.close()
    let errors = (try? String(contentsOf: errorsURL, encoding: .utf8)) ?? ""
    try? FileManager.default.removeItem(at: errorsURL)
    return (process.terminationStatus, String(decoding: data, as: UTF8.self), errors)
}

/// Skips the test unless Python can import `module`.
func requirePython(_ module: String, directory: URL) throws {
    let result = try runPython("import \(module)", [], directory: directory)
    if result.status != 0 {
        throw XCTSkip("python3 with \(module) is not available (set DIGITS_PYTHON to an interpreter that has it)")
    }
}
