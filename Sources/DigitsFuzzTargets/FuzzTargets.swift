// What each fuzz target does with one input, shared by the libFuzzer executables in Fuzz/ and by the
// regression tests that replay the inputs the fuzzers found (Fuzz/regressions/) and their seeds
// (Fuzz/corpus/). Each function must return for any bytes: errors are thrown and caught, never a crash,
// a hang or an allocation sized by what the input merely claims.

import Foundation
import Digits
import DigitsServer

/// One function per parser that reads bytes from outside.
public enum FuzzTargets {
    /// The targets by name, as the folders under Fuzz/corpus and Fuzz/regressions are named.
    public static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "architecture": architecture, "idx": idx, "image": image, "safetensors": safetensors, "server": server,
    ]

    /// The limits the picture targets decode under: 1 MiB encoded, 1 Mpixel decoded.
    public static let imageLimits = ImageLimits(maxEncodedBytes: 1 << 20, maxPixels: 1 << 20)

    /// `bytes` as an IDX file, inflated first when gzip (as far as its header says, within 16 MiB), then paired with itself as images
    /// and labels.
    public static func idx(_ bytes: [UInt8]) {
        do {
            let raw = try IDXFile.inflatedIfCompressed(bytes, source: "fuzz", maxBytes: 1 << 24).bytes
            let file = try IDXFile.parse(raw, source: "fuzz")
            _ = file.serialized()
            _ = try LabeledImages(images: file, labels: file)
        } catch {}
    }

    /// `bytes` as a picture (PNG, JPEG, PGM/PPM by signature); what decodes is prepared as an MNIST digit and
    /// segmented as a number.
    public static func image(_ bytes: [UInt8]) {
        guard let picture = try? ImageDecoder.decode(bytes, source: "fuzz", limits: imageLimits) else { return }
        _ = try? MNISTPreprocessor.prepare(picture)
        _ = try? NumberSegmenter.segment(picture)
    }

    /// `bytes` as a safetensors file (every dtype converted, as imports allow), then as a digits model file, a
    /// training checkpoint, and PyTorch weights for `lenet5`.
    public static func safetensors(_ bytes: [UInt8]) {
        guard let file = try? SafetensorsFile.decode(bytes, source: "fuzz", dtypes: .convertToFloat32) else { return }
        if let model = try? ModelFile.decode(file, source: "fuzz").model { runOnce(model) }
        _ = try? TrainingCheckpoint.decode(file, source: "fuzz")
        _ = try? PyTorchImport.model(architecture: Recipe.lenet5.architecture, weights: file, source: "fuzz")
        _ = try? file.encoded()
    }

    /// The most parameters a network may have for the architecture target to build and run it (4 Mi), so that
    /// each input stays fast; larger valid ones are checked but not built.
    public static let architectureParameterLimit = 1 << 22

    /// `bytes` as the JSON of a model's architecture, as a model file's metadata holds it: checked
    /// (`Architecture.validate`); when valid and small enough, built and run on one picture; and as a crafted
    /// model file with that architecture and no weights, which must be refused, not built.
    public static func architecture(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let crafted = SafetensorsFile(tensors: [], metadata: ["format": ModelFile.formatTag, "architecture": text])
        _ = try? ModelFile.decode(crafted, source: "fuzz")
        guard let architecture = try? JSONDecoder().decode(Architecture.self, from: Data(bytes)),
              (try? architecture.validate()) != nil,
              architecture.layers.map(\.parameterCount).reduce(0, +) <= architectureParameterLimit else { return }
        runOnce(Model(architecture: architecture, seed: 1))
    }

    /// One picture through `model`, in the views its architecture asks for.
    static func runOnce(_ model: Model) {
        _ = model.probabilities(pixels: [Float](repeating: 0.5, count: 28 * 28))
    }

    /// `bytes` as a request to the HTTP API, as far as digits parses it: the first byte picks the route
    /// (even: `POST /api/predict`, odd: `POST /api/read`), the bytes up to the first newline are the
    /// Content-Type (none when empty), the rest is the body, read as JSON pixels or as a picture and then
    /// prepared or segmented as the handlers do.
    public static func server(_ bytes: [UInt8]) {
        guard let route = bytes.first else { return }
        let rest = bytes.dropFirst()
        let newline = rest.firstIndex(of: 10) ?? rest.startIndex
        let line = String(decoding: rest[rest.startIndex..<newline], as: UTF8.self)
        let body = Array(rest[(newline == rest.endIndex ? newline : newline + 1)...])
        let predict = route % 2 == 0
        do {
            let kind = try RequestParsing.bodyKind(contentType: line.isEmpty ? nil : line, allowJSON: predict)
            if kind == .json {
                _ = try RequestParsing.pixels(fromJSON: body)
            } else {
                let picture = try RequestParsing.image(from: body, limits: imageLimits)
                if predict { _ = try? MNISTPreprocessor.prepare(picture) } else { _ = try? NumberSegmenter.segment(picture) }
            }
        } catch {}
    }
}
