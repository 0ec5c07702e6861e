// Sequential: layers applied one after another, with backpropagation in reverse order.

import DigitsTensor

/// A network that applies its layers in order. Parameters and buffers are named `layers.<i>.<role>`.
public final class Sequential {
    /// The layers, input first.
    public let layers: [Layer]

    /// The order `forward` runs the layers in: as declared, except that a ReLU directly followed by a max-pooling
    /// runs after it. Max-pooling picks the first largest value of each window, and ReLU keeps the order of
    /// values, so max(relu(a), relu(b), …) = relu(max(a, b, …)): the same outputs, and the same gradients (a
    /// window whose maximum is ≤ 0 passes none back either way), with ReLU's work on a tensor K² times smaller.
    public let order: [Int]

    /// A network of the given layers; names each parameter and buffer after its layer's index. Also has the
    /// process keep freed memory for reuse (`Memory.retainFreedBlocks`): a network allocates and frees its
    /// activations at every pass.
    public init(_ layers: [Layer]) {
        Memory.retainFreedBlocks()
        self.layers = layers
        var order = Array(layers.indices)
        var i = 0
        while i + 1 < layers.count {
            if layers[i] is ReLU && layers[i + 1] is MaxPool2D {
                order.swapAt(i, i + 1)
                i += 2
            } else {
                i += 1
            }
        }
        self.order = order
        for (i, layer) in layers.enumerated() {
            for p in layer.parameters + layer.buffers where !p.name.hasPrefix("layers.") {
                p.name = "layers.\(i).\(p.name)"
            }
        }
    }

    /// Builds a network from layer specs, drawing initial weights with `initializer` and `seed`.
    public convenience init(specs: [LayerSpec], initializer: WeightInitializer, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        self.init(specs.map { $0.makeLayer(initializer: initializer, rng: &rng) })
    }

    /// Every trainable parameter, in layer order.
    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    /// Every non-trainable buffer (such as batch norm's running statistics), in layer order.
    public var buffers: [Parameter] { layers.flatMap(\.buffers) }

    /// The layers that draw random numbers in training, each with its name `layers.<i>`.
    public var randomLayers: [(name: String, layer: any RandomLayer)] {
        layers.enumerated().compactMap { i, layer in (layer as? any RandomLayer).map { ("layers.\(i)", $0) } }
    }

    /// The specs that rebuild this network.
    public var specs: [LayerSpec] { layers.map(\.spec) }

    /// The total number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Runs the batch through every layer (a ReLU before a max-pooling after it: see `order`).
    public func forward(_ input: Tensor, mode: Mode) -> Tensor {
        order.reduce(input) { x, i in layers[i].forward(x, mode: mode) }
    }

    /// Backpropagates ∂L/∂output through the layers in reverse (chain rule), filling every parameter's gradient.
    /// The first layer's input gradient is not needed and is skipped.
    public func backward(_ dOutput: Tensor) {
        var g = dOutput
        for (step, i) in order.enumerated().reversed() {
            g = layers[i].backward(g, needsInputGradient: step > 0)
        }
    }

    /// The parameter with the given name, if any.
    public func parameter(named name: String) -> Parameter? {
        parameters.first { $0.name == name }
    }
}
