/// How a tensor's numbers are stored: plain floats, or GGUF's block formats
/// (32 weights per block sharing one f16 scale).
public enum TensorType: String, Sendable, CaseIterable {
    case f32, f16, bf16
    /// 32 signed bytes times a scale: 34 bytes per block.
    case q8_0
    /// 32 nibbles (value - 8) times a scale: 18 bytes per block.
    case q4_0

    /// Weights per block (1 for plain floats).
    public var blockElements: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q8_0, .q4_0: 32
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q8_0: 34
        case .q4_0: 18
        }
    }

    /// Bytes that `elements` weights take, or nil if they do not fill whole
    /// blocks or the size overflows.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockElements == 0 else { return nil }
        let (bytes, overflow) = (elements / blockElements).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }
}

/// A tensor inside a mapped file: its stored type, its shape (row-major,
/// outermost dimension first) and where its bytes are. Valid as long as the
/// file that holds it.
public struct TensorView: @unchecked Sendable {  // points into an immutable mapping
    public let name: String
    public let type: TensorType
    public let shape: [Int]
    public let data: UnsafeRawPointer
    public let byteCount: Int

    /// Elements; the readers have checked that this product does not overflow.
    public var elementCount: Int { shape.reduce(1, *) }
}
