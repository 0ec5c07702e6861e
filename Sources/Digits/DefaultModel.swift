// DefaultModel: the model `make train` leaves behind, which `digits predict`, `read` and `serve` use when
// no model file is named.

import Foundation

/// Where the default model lives, and how a command finds the model it should use.
///
/// The default model is `$DIGITS_MODEL` when that is set, else `models/default.safetensors` under the current
/// folder (git-ignored in the repository, where `make train` writes it).
public enum DefaultModel {
    /// The default model's path relative to the current folder, when `DIGITS_MODEL` is not set.
    public static let relativePath = "models/default.safetensors"

    /// The default model's location under `environment` (the process's own by default).
    public static func location(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let path = environment["DIGITS_MODEL"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: relativePath)
    }

    /// The model file to use: `explicit` when given, else the default model when it exists.
    /// - Throws: `DigitsError.invalidOption` saying how to make the default model when there is none.
    public static func resolve(_ explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        if let explicit { return URL(fileURLWithPath: explicit) }
        let url = location(environment: environment)
        guard FileManager.default.fileExists(atPath: url.path) else {
            let origin = environment["DIGITS_MODEL"].map { _ in " (from DIGITS_MODEL)" } ?? ""
            throw DigitsError.invalidOption("no model file was given and there is no default model at \(url.path)\(origin). "
                + "Make it with `make train` (or `digits train --output \(relativePath)`), or name a model file first")
        }
        return url
    }

    /// The file extensions taken for pictures rather than model files.
    public static let pictureExtensions: Set<String> = ["png", "jpg", "jpeg", "pgm", "ppm", "pnm"]

    /// Splits command-line paths into the model file and the pictures, for `predict [MODEL] PICTURE...` and
    /// `read [MODEL] PICTURE`: a single path is a picture; of several, the first is the model file unless its
    /// extension is a picture's (PNG, JPEG, PGM/PPM).
    public static func split(_ paths: [String]) -> (model: String?, rest: [String]) {
        guard paths.count >= 2, let first = paths.first else { return (nil, paths) }
        let ext = URL(fileURLWithPath: first).pathExtension.lowercased()
        return pictureExtensions.contains(ext) ? (nil, paths) : (first, Array(paths.dropFirst()))
    }
}
