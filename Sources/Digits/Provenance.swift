// Provenance: which code made a model. The digits version is compiled in; the source revision is
// looked up once per process, from the environment or from git, and left out when neither knows it.

import Foundation

/// Where the running code comes from, as recorded in the model files it writes.
public enum Provenance {
    /// The git revision of the code, if known: `$DIGITS_GIT_REVISION` when set, otherwise the commit
    /// `git rev-parse HEAD` reports in the current directory, with `-dirty` when tracked files have changes.
    public static let gitRevision: String? = gitRevision(environment: ProcessInfo.processInfo.environment,
                                                         directory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))

    /// The git revision for `environment` and `directory` (see `gitRevision`); nil when git is missing,
    /// fails, or `directory` is not in a repository.
    public static func gitRevision(environment: [String: String], directory: URL) -> String? {
        if let given = environment["DIGITS_GIT_REVISION"]?.trimmingCharacters(in: .whitespacesAndNewlines), !given.isEmpty {
            return given
        }
        guard let head = git(["rev-parse", "HEAD"], in: directory),
              head.count == 40 || head.count == 64, head.allSatisfy(\.isHexDigit) else { return nil }
        guard let changes = git(["status", "--porcelain", "--untracked-files=no"], in: directory) else { return head }
        return changes.isEmpty ? head : head + "-dirty"
    }

    /// The trimmed standard output of `git arguments` run in `directory`, or nil when it cannot run or fails.
    private static func git(_ arguments: [String], in directory: URL) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        process.currentDirectoryURL = directory
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
