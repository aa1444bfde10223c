import GPT

/// Where each parameter tensor lives in one flat float array, in checkpoint
/// order, so parameters, gradients and both AdamW moments share one layout
/// and the parameters can be written as `gpt_checkpoint.bin` directly.
public struct ParameterLayout: Sendable {
    public let config: GPTConfig
    /// Floats in all tensors (padding rows of wte included).
    public let count: Int
    private let offsets: [Int]
    private let sizes: [Int]
    private let layerStrides: [Int]

    public init(config: GPTConfig) {
        self.config = config
        sizes = config.tensorSizes!
        var offsets: [Int] = []
        var offset = 0
        for size in sizes {
            offsets.append(offset)
            offset += size
        }
        self.offsets = offsets
        count = offset
        layerStrides = ParameterTensor.allCases.map { $0.shape(config).dropFirst().reduce(1, *) }
    }

    /// Offset of `tensor` (of layer `l`'s slice for a per-layer tensor).
    public func offset(_ tensor: ParameterTensor, layer l: Int = 0) -> Int {
        offsets[tensor.rawValue] + l * layerStrides[tensor.rawValue]
    }

    /// The floats of the whole tensor (all layers).
    public func range(_ tensor: ParameterTensor) -> Range<Int> {
        offsets[tensor.rawValue]..<offsets[tensor.rawValue] + sizes[tensor.rawValue]
    }

    /// Weight decay applies to the matrices (embeddings and linear weights),
    /// not to biases or LayerNorm gains, as in GPT-2 training.
    public static func takesWeightDecay(_ tensor: ParameterTensor) -> Bool {
        !tensor.isBias && !tensor.isLayerNormWeight
    }
}

/// Pointers into one flat buffer laid out by a `ParameterLayout`.
struct ParameterPointers {
    let layout: ParameterLayout
    let base: UnsafeMutablePointer<Float>

    subscript(_ tensor: ParameterTensor) -> UnsafeMutablePointer<Float> { base + layout.offset(tensor) }
    subscript(_ tensor: ParameterTensor, _ l: Int) -> UnsafeMutablePointer<Float> { base + layout.offset(tensor, layer: l) }
}
