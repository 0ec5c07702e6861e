// ONNXExporter: a digits model as an ONNX graph, so that onnxruntime, PyTorch or a browser can run it.
//
// Goals, in order: the ONNX graph computes exactly what `Model.probabilities` computes (to float
// rounding); it takes plain [0, 1] pixels whatever the model's encoding; the file is small and readable
// with `onnx.helper.printable_graph`.

import Foundation
import Digits

/// Why a model cannot be exported.
public enum ONNXExportError: Error, CustomStringConvertible, Equatable {
    /// A layer of a type the exporter does not know.
    case unsupportedLayer(index: Int, layer: String)
    /// The network's output is not one score per class ([N, classes]).
    case unsupportedOutputShape([Int])
    /// The model reads each picture in several views (test-time augmentation), which the graph does not hold.
    case testTimeAugmentation(views: Int)

    public var description: String {
        switch self {
        case .unsupportedLayer(let index, let layer):
            return "cannot export layer \(index) (\(layer)) to ONNX: the exporter knows Dense, Conv2D, MaxPool2D, AvgPool2D, "
                + "BatchNorm, Flatten, ReLU, Sigmoid, Tanh and Dropout. Remove the layer or add it to ONNXExporter."
        case .unsupportedOutputShape(let shape):
            return "cannot export to ONNX: the network's output per sample has shape \(shape), not [classes]. "
                + "End the network with Flatten and Dense."
        case .testTimeAugmentation(let views):
            return "cannot export to ONNX as it is: the model reads each picture in \(views) views (test-time augmentation) "
                + "and averages them, while the ONNX graph reads one; its scores would differ from digits'. "
                + "Export the single view with --tta none (the model then scores as `digits evaluate --tta none` says)."
        }
    }
}

/// Writes a `Model` as an ONNX model (IR version 7, opset 13).
///
/// The graph has one input and one output:
///
///     input          float [N, 1, 28, 28]   pixels scaled to [0, 1] (byte / 255), N symbolic
///     probabilities  float [N, classes]     each row sums to 1, as `Model.probabilities`
///
/// and computes, in order:
///
///     (x − 0.1307) / 0.3081          Sub, Div          when the encoding normalises
///     [N, 784]                       Flatten(axis 1)   when the layout is flat
///     each layer:  Dense → Gemm (W stored [in, out], so transB = 0), Conv2D → Conv (pads resolved for
///                  the layer's input size), MaxPool2D → MaxPool, AvgPool2D → AveragePool,
///                  BatchNorm → BatchNormalization (running statistics), Flatten → Flatten(axis 1),
///                  ReLU / Sigmoid / Tanh → Relu / Sigmoid / Tanh, Dropout → nothing (identity at inference)
///     softmax(scores)                Softmax(axis 1)   for `.softmax` and `.scores`
///     o / Σo  (o unchanged if Σo ≤ 0) ReduceSum, Greater, Where, Div   for `.sigmoid`
///
/// Weights are initializers named as in the checkpoint (`layers.0.weight`).
public enum ONNXExporter {
    /// The ONNX IR version written (7: ONNX 1.7 and later read it).
    public static let irVersion = 7
    /// The version of the default (ai.onnx) operator set used.
    public static let opsetVersion = 13
    /// The graph input's name.
    public static let inputName = "input"
    /// The graph output's name.
    public static let outputName = "probabilities"

    /// The ONNX file's bytes for `model`; throws `ONNXExportError` for a layer it cannot express, or for a model
    /// that reads pictures in several views (make it read one with `model.read(in: nil)` first).
    public static func export(_ model: Model) throws -> [UInt8] {
        if let views = model.architecture.testTimeAugmentation?.views {
            throw ONNXExportError.testTimeAugmentation(views: views.count)
        }
        var graph = GraphBuilder(input: inputName)
        try graph.addInputEncoding(model.architecture.encoding)
        var shape = [1] + model.inputShape                                  // batched shape entering each layer
        for (index, layer) in model.network.layers.enumerated() {
            try graph.addLayer(layer, index: index, inputShape: shape)
            shape = layer.outputShape(for: shape)
        }
        guard shape.count == 2, shape[1] > 0 else { throw ONNXExportError.unsupportedOutputShape(Array(shape.dropFirst())) }
        graph.addProbabilities(model.architecture.output)

        var graphMessage = ProtobufWriter()                                 // GraphProto
        for node in graph.nodes { graphMessage.writeMessage(field: 1, node) }
        graphMessage.writeString(field: 2, model.architecture.name)
        for tensor in graph.initializers { graphMessage.writeMessage(field: 5, tensor) }
        graphMessage.writeMessage(field: 11, ONNX.valueInfo(name: inputName,
                                                            shape: [.parameter("N"), .value(1), .value(28), .value(28)]))
        graphMessage.writeMessage(field: 12, ONNX.valueInfo(name: outputName, shape: [.parameter("N"), .value(shape[1])]))

        var modelMessage = ProtobufWriter()                                 // ModelProto
        modelMessage.writeInt64(field: 1, Int64(irVersion))
        modelMessage.writeString(field: 2, "digits")
        modelMessage.writeString(field: 3, "1")
        modelMessage.writeMessage(field: 7, graphMessage)
        modelMessage.writeMessage(field: 8, ONNX.operatorSet(domain: "", version: opsetVersion))
        return modelMessage.bytes
    }

    /// Exports `model` and writes it to `url` atomically (a temporary file renamed into place), so `url`
    /// is never left half-written.
    public static func write(_ model: Model, to url: URL) throws {
        let bytes = try export(model)
        do {
            try AtomicFile.write(bytes, to: url)
        } catch let error as AtomicFileError {
            throw DigitsError.unwritableOutput(path: url.path, reason: "\(error.operation) failed: \(error.message)")
        }
    }
}

extension Model {
    /// This model as an ONNX file's bytes (see `ONNXExporter`).
    public func onnxBytes() throws -> [UInt8] { try ONNXExporter.export(self) }
}

/// The nodes and initializers of a graph under construction, threading the name of the latest output.
struct GraphBuilder {
    /// `NodeProto`s in execution order.
    private(set) var nodes: [ProtobufWriter] = []
    /// `TensorProto`s: weights and constants.
    private(set) var initializers: [ProtobufWriter] = []
    /// The name of the value the next node reads.
    private(set) var current: String

    init(input: String) { current = input }

    /// Appends node `op` reading `current` then `extraInputs`; its output, named `name`, becomes `current`.
    mutating func add(_ op: String, name: String, extraInputs: [String] = [], attributes: [(String, ONNX.Attribute)] = []) {
        nodes.append(ONNX.node(op, name: name, inputs: [current] + extraInputs, outputs: [name], attributes: attributes))
        current = name
    }

    /// Adds a float initializer and returns its name.
    @discardableResult
    mutating func constant(_ name: String, shape: [Int], values: [Float]) -> String {
        initializers.append(ONNX.tensor(name: name, shape: shape, values: values))
        return name
    }

    /// Adds a parameter's value as an initializer under its own name, and returns the name.
    mutating func constant(_ parameter: Parameter) -> String {
        constant(parameter.name, shape: parameter.value.shape, values: parameter.value.storage)
    }

    /// [0, 1] pixels [N, 1, 28, 28] → the model's encoded input: standardised, then flattened.
    mutating func addInputEncoding(_ encoding: InputEncoding) throws {
        if encoding.normalize {                                         // (x − mean) / std, as InputEncoding.table
            let mean = constant("encoding.mean", shape: [], values: [InputEncoding.mnistMean])
            let std = constant("encoding.std", shape: [], values: [InputEncoding.mnistStd])
            add("Sub", name: "encoding.centered", extraInputs: [mean])
            add("Div", name: "encoding.standardized", extraInputs: [std])
        }
        if encoding.layout == .flat {
            add("Flatten", name: "encoding.flat", attributes: [("axis", .int(1))])
        }
    }

    /// The nodes of layer `index`, whose input has batched shape `inputShape`.
    mutating func addLayer(_ layer: Layer, index: Int, inputShape: [Int]) throws {
        let prefix = "layers.\(index)"
        switch layer {
        case let dense as Dense:                                        // y = x·W + b, W [in, out]
            let w = constant(dense.weight), b = constant(dense.bias)
            add("Gemm", name: "\(prefix).gemm", extraInputs: [w, b], attributes: [("transB", .int(0))])
        case let conv as Conv2D:
            let w = constant(conv.weight), b = constant(conv.bias)
            let pad = conv.padding.resolved(inputHeight: inputShape[2], inputWidth: inputShape[3],
                                            kernelHeight: conv.kernelHeight, kernelWidth: conv.kernelWidth,
                                            strideHeight: conv.strideHeight, strideWidth: conv.strideWidth)
            add("Conv", name: "\(prefix).conv", extraInputs: [w, b], attributes: [
                ("kernel_shape", .ints([conv.kernelHeight, conv.kernelWidth])),
                ("strides", .ints([conv.strideHeight, conv.strideWidth])),
                ("pads", .ints([pad.top, pad.left, pad.bottom, pad.right])),     // [begin H, begin W, end H, end W]
            ])
        case let pool as MaxPool2D:
            add("MaxPool", name: "\(prefix).maxpool", attributes: [
                ("kernel_shape", .ints([pool.kernelSize, pool.kernelSize])), ("strides", .ints([pool.stride, pool.stride])),
            ])
        case let pool as AvgPool2D:
            add("AveragePool", name: "\(prefix).avgpool", attributes: [
                ("kernel_shape", .ints([pool.kernelSize, pool.kernelSize])), ("strides", .ints([pool.stride, pool.stride])),
            ])
        case let norm as BatchNorm:                                     // γ·(x − running_mean)/√(running_var + ε) + β
            let inputs = [constant(norm.weight), constant(norm.bias), constant(norm.runningMean), constant(norm.runningVariance)]
            add("BatchNormalization", name: "\(prefix).batchnorm", extraInputs: inputs,
                attributes: [("epsilon", .float(norm.epsilon))])
        case is Flatten:
            add("Flatten", name: "\(prefix).flatten", attributes: [("axis", .int(1))])
        case is ReLU:
            add("Relu", name: "\(prefix).relu")
        case is Sigmoid:
            add("Sigmoid", name: "\(prefix).sigmoid")
        case is Tanh:
            add("Tanh", name: "\(prefix).tanh")
        case is Dropout:
            break                                                       // identity at inference
        default:
            throw ONNXExportError.unsupportedLayer(index: index, layer: String(describing: type(of: layer)))
        }
    }

    /// The last layer's outputs → "probabilities", as `Model.toProbabilities`.
    mutating func addProbabilities(_ kind: OutputKind) {
        switch kind {
        case .softmax, .scores:
            add("Softmax", name: ONNXExporter.outputName, attributes: [("axis", .int(1))])
        case .sigmoid:                                                  // o / Σo, rows with Σo ≤ 0 left as they are
            let outputs = current
            initializers.append(ONNX.tensor(name: "output.axes", shape: [1], int64Values: [1]))
            let zero = constant("output.zero", shape: [], values: [0])
            let one = constant("output.one", shape: [], values: [1])
            add("ReduceSum", name: "output.sum", extraInputs: ["output.axes"], attributes: [("keepdims", .int(1))])
            let sum = current
            nodes.append(ONNX.node("Greater", name: "output.positive", inputs: [sum, zero], outputs: ["output.positive"]))
            nodes.append(ONNX.node("Where", name: "output.divisor", inputs: ["output.positive", sum, one],
                                   outputs: ["output.divisor"]))
            nodes.append(ONNX.node("Div", name: ONNXExporter.outputName, inputs: [outputs, "output.divisor"],
                                   outputs: [ONNXExporter.outputName]))
            current = ONNXExporter.outputName
        }
    }
}
