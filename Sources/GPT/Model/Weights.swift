import CKernels
import ModelFiles

/// Read-only views of every parameter tensor, in the checkpoint's layout.
///
/// The bytes live elsewhere (a mapped file, a loader's converted buffers, or
/// a trainer's buffer); `owner` keeps that storage alive as long as any copy
/// of these views exists. The matrices and embeddings may be stored in any
/// ``TensorType`` the kernels read (f32, f16, bf16, q8_0, q4_0); LayerNorm
/// weights and biases are always f32. The logits come from the token
/// embedding (GPT-2's tied output) unless the model has an output matrix of its own.
public struct Weights: @unchecked Sendable {  // immutable views; nobody writes through them
    public let config: GPTConfig
    private let owner: AnyObject
    /// For each tensor, layer l's slice at [l] (one entry for tensors that are not per layer).
    private let tensors: [[StoredTensor]]
    /// The untied output matrix (V, C), or nil when the output is tied to wte.
    public let output: StoredTensor?

    /// `parameters` points at all tensors back to back, in `ParameterTensor` order, all f32.
    public init(config: GPTConfig, parameters: UnsafePointer<Float>, owner: AnyObject) {
        var offset = 0
        var tensors: [[StoredTensor]] = []
        for (tensor, size) in zip(ParameterTensor.allCases, config.tensorSizes!) {
            let layerStride = tensor.shape(config).dropFirst().reduce(1, *)
            let count = tensor.isPerLayer ? config.layers : 1
            tensors.append((0..<count).map { StoredTensor(type: .f32, data: UnsafeRawPointer(parameters + offset + $0 * layerStride)) })
            offset += size
        }
        self.init(config: config, tensors: tensors, owner: owner)
    }

    /// Tensors wherever they are: `tensors[t.rawValue][l]` is tensor t of layer l
    /// (index 0 alone for tensors that are not per layer), each in the layout above;
    /// `output` is an untied output matrix (V, C), in any type the kernels read.
    public init(config: GPTConfig, tensors: [[StoredTensor]], output: StoredTensor? = nil, owner: AnyObject) {
        precondition(tensors.count == ParameterTensor.allCases.count)
        for tensor in ParameterTensor.allCases where !tensor.isMatrix {
            precondition(tensors[tensor.rawValue].allSatisfy { $0.type == .f32 }, "\(tensor) must be f32")
        }
        self.config = config
        self.owner = owner
        self.tensors = tensors
        self.output = output
    }

    /// The whole f32 tensor (for per-layer tensors, layer 0's slice starts here).
    public subscript(tensor: ParameterTensor) -> UnsafePointer<Float> { floats(tensors[tensor.rawValue][0], tensor) }

    /// Layer `l`'s slice of a per-layer f32 tensor.
    public func layer(_ l: Int, _ tensor: ParameterTensor) -> UnsafePointer<Float> { floats(tensors[tensor.rawValue][l], tensor) }

    /// A matrix or embedding (of layer `l` for per-layer ones) as it is stored.
    public func stored(_ tensor: ParameterTensor, layer l: Int = 0) -> StoredTensor { tensors[tensor.rawValue][l] }

    /// The matrix (V, C) whose product with the final hidden state gives the logits.
    public var logitMatrix: StoredTensor { output ?? stored(.wte) }

    /// For logs: "separate" when the model has an output matrix of its own, "tied" when wte serves.
    public var outputKind: String { output == nil ? "tied" : "separate" }

    /// The type of the weight matrices (the first layer's qkv weights stand for all).
    public var matrixType: TensorType { stored(.qkvw).type }

    /// Bytes of every tensor as stored: what a decode step reads, the padding rows of wte aside.
    public var storedBytes: Int {
        let outputBytes = output.map { $0.type.byteCount(elements: config.vocabularySize * config.channels)! } ?? 0
        return ParameterTensor.allCases.reduce(outputBytes) { total, tensor in
            let elements = tensor.shape(config).dropFirst(tensor.isPerLayer ? 1 : 0).reduce(1, *)
            return total + tensors[tensor.rawValue].reduce(0) { $0 + $1.type.byteCount(elements: elements)! }
        }
    }

    /// A slice of a tensor (of layer `l`) widened to f32, whatever its type: for converters and tests.
    public func widened(_ tensor: ParameterTensor, layer l: Int = 0) -> [Float] {
        let rows = tensor.shape(config).dropFirst(tensor.isPerLayer ? 1 : 0)
        return Self.widened(tensors[tensor.rawValue][l], count: rows.reduce(1, *), columns: rows.last!)
    }

    /// The untied output matrix (V, C) widened to f32, or nil when the output is tied.
    public func widenedOutput() -> [Float]? {
        output.map { Self.widened($0, count: config.vocabularySize * config.channels, columns: config.channels) }
    }

    private static func widened(_ part: StoredTensor, count: Int, columns: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            gpt_widen_rows(part.kernelType, part.data, buffer.baseAddress!, Int32(columns), 0, Int32(count / columns))
            initialized = count
        }
    }

    private func floats(_ part: StoredTensor, _ tensor: ParameterTensor) -> UnsafePointer<Float> {
        precondition(part.type == .f32, "\(tensor) is stored as \(part.type); read it with stored(_:layer:)")
        return part.data.assumingMemoryBound(to: Float.self)
    }
}

/// One tensor (or one layer's slice of one) as it is stored: its type and
/// where its bytes start. Rows are contiguous, in GGUF's layout for the
/// type, or for q8_0 and q4_0 matrices that the engine reads, `interleaved`
/// in groups of 8 rows (`gpt_interleave_rows`).
public struct StoredTensor: @unchecked Sendable {  // points into immutable storage
    public let type: TensorType
    public let data: UnsafeRawPointer
    public let interleaved: Bool

    public init(type: TensorType, data: UnsafeRawPointer, interleaved: Bool = false) {
        precondition(!interleaved || type.isBlockType, "only q8_0 and q4_0 rows are interleaved")
        self.type = type
        self.data = data
        self.interleaved = interleaved
    }

    /// The type and layout as the kernels name them.
    var kernelType: gpt_type {
        switch type {
        case .f32: GPT_TYPE_F32
        case .f16: GPT_TYPE_F16
        case .bf16: GPT_TYPE_BF16
        case .q8_0: interleaved ? GPT_TYPE_Q8_0_X8 : GPT_TYPE_Q8_0
        case .q4_0: interleaved ? GPT_TYPE_Q4_0_X8 : GPT_TYPE_Q4_0
        }
    }
}

extension TensorType {
    /// GGUF's blocks of 32 weights with a scale, which the engine keeps
    /// interleaved and multiplies with activations rounded to integers.
    public var isBlockType: Bool { self == .q8_0 || self == .q4_0 }
}

extension ParameterTensor {
    /// The tensors that may be stored in any type: the four matrices of a layer and both embeddings.
    public var isMatrix: Bool { [.wte, .wpe, .qkvw, .attprojw, .fcw, .fcprojw].contains(self) }
}
