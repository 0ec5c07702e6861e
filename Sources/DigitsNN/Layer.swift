// The Layer protocol: a forward/backward pair over batched tensors.

import DigitsTensor

/// One step of a network: `forward` maps a batch of inputs to outputs; `backward` maps ∂L/∂output
/// to ∂L/∂input and stores ∂L/∂parameter in each parameter's `gradient`.
///
/// Shapes are batched, batch first: `[N, features]` or `[N, channels, height, width]` (NCHW).
public protocol Layer: AnyObject {
    /// The layer's trainable parameters (empty for activations).
    var parameters: [Parameter] { get }
    /// Non-trainable state saved with the model, such as batch norm's `running_mean` and `running_var`
    /// (empty for most layers). Named like parameters; optimizers never see them.
    var buffers: [Parameter] { get }
    /// A description of the layer that rebuilds it (without its weights).
    var spec: LayerSpec { get }
    /// The output shape for an input of `inputShape` (batch dimension included).
    func outputShape(for inputShape: [Int]) -> [Int]
    /// Computes the output for a batch. In `.training` mode the layer keeps what `backward` needs.
    func forward(_ input: Tensor, mode: Mode) -> Tensor
    /// Given ∂L/∂output of the latest training forward, sets each parameter's gradient and returns ∂L/∂input.
    /// When `needsInputGradient` is false (the first layer), the layer may skip computing ∂L/∂input and return an empty tensor.
    func backward(_ dOutput: Tensor, needsInputGradient: Bool) -> Tensor
}

extension Layer {
    /// No buffers: the default for layers whose only state is their parameters.
    public var buffers: [Parameter] { [] }
}

/// A layer that draws random numbers while training, such as dropout's masks. Its generator is part of
/// a training run's state: a checkpoint saves it so that a resumed run draws the same numbers.
public protocol RandomLayer: Layer {
    /// The generator the layer's next draws come from.
    var generator: SeededGenerator { get set }
}
