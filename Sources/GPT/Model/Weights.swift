/// Read-only views of every parameter tensor, in the checkpoint's layout.
///
/// The floats live elsewhere (a mapped file, or a trainer's buffer); `owner`
/// keeps that storage alive as long as any copy of these views exists.
public struct Weights: @unchecked Sendable {  // immutable views; nobody writes through them
    public let config: GPTConfig
    private let owner: AnyObject
    private let tensors: [UnsafePointer<Float>]
    private let layerStrides: [Int]

    /// `parameters` points at all tensors back to back, in `ParameterTensor` order.
    public init(config: GPTConfig, parameters: UnsafePointer<Float>, owner: AnyObject) {
        self.config = config
        self.owner = owner
        var offset = 0
        var tensors: [UnsafePointer<Float>] = []
        for size in config.tensorSizes! {
            tensors.append(parameters + offset)
            offset += size
        }
        self.tensors = tensors
        layerStrides = ParameterTensor.allCases.map { $0.shape(config).dropFirst().reduce(1, *) }
    }

    /// The whole tensor (for per-layer tensors, layer 0's slice starts here).
    public subscript(tensor: ParameterTensor) -> UnsafePointer<Float> { tensors[tensor.rawValue] }

    /// Layer `l`'s slice of a per-layer tensor.
    public func layer(_ l: Int, _ tensor: ParameterTensor) -> UnsafePointer<Float> {
        tensors[tensor.rawValue] + l * layerStrides[tensor.rawValue]
    }
}
