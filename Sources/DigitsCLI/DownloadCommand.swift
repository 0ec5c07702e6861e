// `digits download`: fetches the four MNIST files from public mirrors and checks their SHA-256.

import ArgumentParser
import Foundation
import DigitsData

struct DownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download MNIST from the public mirrors, checking each file's SHA-256.")

    @Option(name: .long, help: "Folder to write the files to.")
    var to: String = "data/mnist"
    @Option(name: .long, help: "A mirror base URL to try first (repeatable); the defaults follow.")
    var mirror: [String] = []

    func run() throws {
        let dest = URL(fileURLWithPath: to)
        try FileManager.default.createDirectory(at: dest, withIntermediateDirectories: true)
        var mirrors = try mirror.map { text -> URL in
            guard let url = URL(string: text.hasSuffix("/") ? text : text + "/"), url.scheme != nil else {
                throw ValidationError("--mirror '\(text)' is not a URL")
            }
            return url
        }
        mirrors += MNISTDownloader.defaultMirrors
        let live = isatty(2) != 0
        let downloader = MNISTDownloader(mirrors: mirrors, destination: dest) { p in
            if live { FileHandle.standardError.write(Data("\r\(p.description)\u{1B}[K".utf8)) }
        }
        let files = try downloader.run()
        if live { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        for f in files { print("ok  \(f.path)") }
    }
}
