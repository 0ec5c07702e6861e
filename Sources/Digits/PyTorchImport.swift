// Importing weights trained in PyTorch: a `state_dict` saved as safetensors becomes a digits model.
//
// PyTorch names each tensor `<module>.<role>` (`fc1.weight`, `features.0.bias`, `0.running_mean`).
// A module's kind is told by what it holds: running statistics make a batch norm, a weight
// [out, in] a linear layer, a weight [out, in, kh, kw] a convolution. The modules of each kind are
// matched, in natural order of their names (`fc2` before `fc10`), to the model's layers of that kind
// in order, so naming schemes that mix kinds (`features.*` then `classifier.*`) still line up.
//
//   nn.Linear        weight [out, in]               → Dense weight [in, out] (transposed), bias [out]
//   nn.Conv2d        weight [out, in, kh, kw]       → Conv2D weight, same layout, bias [out]
//   nn.BatchNorm1d/2d weight, bias, running_mean, running_var [C] → BatchNorm, same; num_batches_tracked ignored
//
// A missing bias (bias=False) is zero; a batch norm without weight and bias (affine=False) has γ = 1, β = 0.
// Layers without parameters (activations, pooling, flatten) cannot be checked: the architecture must be
// the one the weights were trained in.

import Foundation
import DigitsTensor
import DigitsNN
import DigitsData

/// Turns PyTorch weights (a `state_dict` saved as safetensors) into a digits model.
public enum PyTorchImport {
    /// A model of `architecture` holding the weights in `file`, after checking every tensor's shape;
    /// `source` names the file in errors (`DigitsError.badImport`, naming the tensor that does not fit).
    public static func model(architecture: Architecture, weights file: SafetensorsFile, source: String) throws -> Model {
        func bad(_ reason: String) -> DigitsError { .badImport(path: source, reason: reason) }
        try architecture.validate()
        let model = Model(architecture: architecture, seed: 0)
        let modules = try Self.modules(of: file, bad: bad)
        var layersByKind: [ModuleKind: [(index: Int, layer: Layer)]] = [:]
        for (index, layer) in model.network.layers.enumerated() {
            switch layer {
            case is Dense: layersByKind[.linear, default: []].append((index, layer))
            case is Conv2D: layersByKind[.convolution, default: []].append((index, layer))
            case is BatchNorm: layersByKind[.batchNorm, default: []].append((index, layer))
            default:
                guard layer.parameters.isEmpty else { throw bad("layer \(index) has parameters digits cannot import") }
            }
        }
        for kind in ModuleKind.allCases {
            let ours = layersByKind[kind] ?? [], theirs = modules.filter { $0.kind == kind }
            guard ours.count == theirs.count else {
                let names = theirs.isEmpty ? "" : " (" + theirs.map { $0.name.isEmpty ? "<top>" : $0.name }.joined(separator: ", ") + ")"
                throw bad("it holds \(counted(theirs.count, "\(kind.rawValue) module"))\(names) but '\(architecture.name)' has "
                    + counted(ours.count, "\(kind.layerName) layer"))
            }
            for (layer, module) in zip(ours, theirs) {
                let what = "layer \(layer.index), \(architecture.layers[layer.index].displayName),"
                func values(_ role: String, _ shape: [Int], _ layout: String) throws -> [Float]? {
                    guard let t = module.tensors[role] else { return nil }
                    guard t.shape == shape else {
                        var hint = ""
                        // A one-hidden-layer recipe whose width differs: the file's first linear weight says the width.
                        if layer.layer is Dense, t.shape.count == 2, (try? Recipe.named(architecture.name)) != nil,
                           let first = modules.first(where: { $0.kind == .linear })?.tensors["weight"], first.shape.count == 2,
                           first.shape[1] == architecture.inputShape.reduce(1, *), t.name == first.name, first.shape[0] != shape[0],
                           architecture.layers.filter({ if case .dense = $0 { true } else { false } }).count == 2 {
                            hint = "; its hidden layer has \(first.shape[0]) units: import with --hidden \(first.shape[0])"
                        }
                        throw bad("tensor '\(t.name)' has shape \(t.shape) but \(what) needs \(shape) (\(layout))\(hint)")
                    }
                    guard t.values.allSatisfy(\.isFinite) else { throw bad("tensor '\(t.name)' holds NaN or infinite values") }
                    return t.values
                }
                func required(_ role: String, _ shape: [Int], _ layout: String) throws -> [Float] {
                    guard let v = try values(role, shape, layout) else { throw bad("tensor '\(module.prefix)\(role)' is missing") }
                    return v
                }
                switch layer.layer {
                case let dense as Dense:
                    let (n, m) = (dense.inputs, dense.outputs)
                    let w = try required("weight", [m, n], "PyTorch's Linear layout [out, in]")
                    var transposed = [Float](repeating: 0, count: n * m)
                    for o in 0..<m { for k in 0..<n { transposed[k * m + o] = w[o * n + k] } }       // W[k, o] = W_pt[o, k]
                    dense.weight.value = Tensor(shape: [n, m], values: transposed)
                    dense.bias.value = Tensor(shape: [m], values: try values("bias", [m], "[out]") ?? [Float](repeating: 0, count: m))
                case let conv as Conv2D:
                    let o = conv.outputChannels
                    let shape = [o, conv.inputChannels, conv.kernelHeight, conv.kernelWidth]
                    conv.weight.value = Tensor(shape: shape, values: try required("weight", shape, "[out, in, kh, kw]"))
                    conv.bias.value = Tensor(shape: [o], values: try values("bias", [o], "[out]") ?? [Float](repeating: 0, count: o))
                case let norm as BatchNorm:
                    let c = [norm.features]
                    norm.weight.value = Tensor(shape: c, values: try values("weight", c, "[C]") ?? [Float](repeating: 1, count: c[0]))
                    norm.bias.value = Tensor(shape: c, values: try values("bias", c, "[C]") ?? [Float](repeating: 0, count: c[0]))
                    norm.runningMean.value = Tensor(shape: c, values: try required("running_mean", c, "[C]"))
                    norm.runningVariance.value = Tensor(shape: c, values: try required("running_var", c, "[C]"))
                default:
                    break
                }
            }
        }
        return model
    }

    /// Reads the PyTorch weights at `url` (F32, or F16, BF16, F64 converted) into a model of `architecture`,
    /// as a model file that records where they came from (`imported_from`, `imported_sha256`).
    public static func modelFile(contentsOf url: URL, architecture: Architecture) throws -> ModelFile {
        let bytes = try SafetensorsFile.readAll(url)
        let file = try SafetensorsFile.decode(bytes, source: url.path, dtypes: .convertToFloat32)
        if let format = file.metadata["format"], format == ModelFile.formatTag || format == TrainingCheckpoint.formatTag {
            throw DigitsError.badImport(path: url.path, reason: "it already is a digits \(format == ModelFile.formatTag ? "model" : "checkpoint") "
                + "file; use it as it is (digits evaluate, predict, serve), no import needed")
        }
        var result = ModelFile(model: try model(architecture: architecture, weights: file, source: url.path), options: nil, history: [])
        result.metadata["imported_from"] = url.lastPathComponent
        result.metadata["imported_sha256"] = SHA256.hexDigest(bytes)
        result.metadata["imported_layout"] = "pytorch"
        return result
    }

    /// "1 dense layer", "3 dense layers".
    static func counted(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    /// The kinds of PyTorch module that hold parameters.
    enum ModuleKind: String, CaseIterable {
        case linear = "linear"
        case convolution = "convolution"
        case batchNorm = "batch-norm"

        /// The digits layer of this kind, as errors name it.
        var layerName: String {
            switch self {
            case .linear: return "dense"
            case .convolution: return "convolution"
            case .batchNorm: return "batch-norm"
            }
        }
    }

    /// One PyTorch module: its name, its tensors by role, and its kind.
    struct Module {
        var name: String
        var tensors: [String: SafetensorsTensor]
        var kind: ModuleKind
        /// The module's name as the start of its tensors' names (`fc1.`, or nothing at the top level).
        var prefix: String { name.isEmpty ? "" : name + "." }
    }

    /// The roles a tensor may have: the last part of its name.
    static let roles: Set<String> = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]

    /// The file's modules in natural order of their names, each with its kind.
    static func modules(of file: SafetensorsFile, bad: (String) -> DigitsError) throws -> [Module] {
        var tensorsByModule: [String: [String: SafetensorsTensor]] = [:]
        for t in file.tensors {
            let dot = t.name.lastIndex(of: ".")
            let module = dot.map { String(t.name[..<$0]) } ?? ""
            let role = dot.map { String(t.name[t.name.index(after: $0)...]) } ?? t.name
            guard roles.contains(role) else {
                throw bad("tensor '\(t.name)' is not a module's \(roles.sorted().joined(separator: ", "))")
            }
            if role != "num_batches_tracked" { tensorsByModule[module, default: [:]][role] = t }
        }
        let modules = try tensorsByModule.map { name, tensors -> Module in
            let kind: ModuleKind
            if tensors["running_mean"] != nil || tensors["running_var"] != nil {
                kind = .batchNorm
            } else if let weight = tensors["weight"], weight.shape.count == 2 || weight.shape.count == 4 {
                kind = weight.shape.count == 2 ? .linear : .convolution
            } else if let weight = tensors["weight"] {
                throw bad("tensor '\(weight.name)' has shape \(weight.shape): neither a linear weight [out, in] nor a convolution weight [out, in, kh, kw]")
            } else {
                throw bad("module '\(name)' has a bias but no weight")
            }
            return Module(name: name, tensors: tensors, kind: kind)
        }
        return modules.sorted { naturallyBefore($0.name, $1.name) }
    }

    /// Whether `a` comes before `b` when runs of digits compare as numbers (`fc2` before `fc10`).
    static func naturallyBefore(_ a: String, _ b: String) -> Bool {
        func runs(_ s: String) -> [String] {
            var result: [String] = []
            for c in s {
                if let last = result.last?.last, last.isNumber == c.isNumber { result[result.count - 1].append(c) } else { result.append(String(c)) }
            }
            return result
        }
        for (x, y) in zip(runs(a), runs(b)) where x != y {
            if let i = Int(x), let j = Int(y), i != j { return i < j }
            return x < y
        }
        return a.count < b.count
    }
}
