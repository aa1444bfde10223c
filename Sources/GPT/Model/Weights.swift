/// Read-only views of every parameter tensor, in the checkpoint's layout.
///
/// The floats live elsewhere (a mapped file, a loader's converted buffers, or
/// a trainer's buffer); `owner` keeps that storage alive as long as any copy
/// of these views exists.
public struct Weights: @unchecked Sendable {  // immutable views; nobody writes through them
    public let config: GPTConfig
    private let owner: AnyObject
    /// For each tensor, layer l's slice at [l] (one entry for tensors that are not per layer).
    private let tensors: [[UnsafePointer<Float>]]

    /// `parameters` points at all tensors back to back, in `ParameterTensor` order.
    public init(config: GPTConfig, parameters: UnsafePointer<Float>, owner: AnyObject) {
        var offset = 0
        var tensors: [[UnsafePointer<Float>]] = []
        for (tensor, size) in zip(ParameterTensor.allCases, config.tensorSizes!) {
            let layerStride = tensor.shape(config).dropFirst().reduce(1, *)
            let count = tensor.isPerLayer ? config.layers : 1
            tensors.append((0..<count).map { parameters + offset + $0 * layerStride })
            offset += size
        }
        self.init(config: config, tensors: tensors, owner: owner)
    }

    /// Tensors wherever they are: `tensors[t.rawValue][l]` is tensor t of layer l
    /// (index 0 alone for tensors that are not per layer), each in the layout above.
    public init(config: GPTConfig, tensors: [[UnsafePointer<Float>]], owner: AnyObject) {
        precondition(tensors.count == ParameterTensor.allCases.count)
        self.config = config
        self.owner = owner
        self.tensors = tensors
    }

    /// The whole tensor (for per-layer tensors, layer 0's slice starts here).
    public subscript(tensor: ParameterTensor) -> UnsafePointer<Float> { tensors[tensor.rawValue][0] }

    /// Layer `l`'s slice of a per-layer tensor.
    public func layer(_ l: Int, _ tensor: ParameterTensor) -> UnsafePointer<Float> {
        tensors[tensor.rawValue][l]
    }
}
