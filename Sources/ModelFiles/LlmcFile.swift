/// llm.c's GPT-2 checkpoint: 256 little-endian int32 of header, then every
/// parameter tensor back to back in `GPT2Tensor` order, f32 (version 3) or
/// bf16 (version 5).
public struct LlmcFile {
    public static let magic: Int32 = 20240326
    public static let headerBytes = 1024
    public static let versions: [Int32: TensorType] = [3: .f32, 5: .bf16]

    public let version: Int32
    public let shape: GPT2Shape
    /// Vp: rows of the stored token embedding (V padded; extra rows are zero).
    public let paddedVocabularySize: Int
    public let type: TensorType
    /// Each tensor whole; per-layer tensors lead with L.
    public let tensors: [GPT2Tensor: TensorView]

    public init(bytes: UnsafeRawBufferPointer, file: String) throws {
        guard bytes.count >= Self.headerBytes else {
            throw ModelFileError(file, "file is \(bytes.count) bytes, shorter than the \(Self.headerBytes)-byte llm.c header")
        }
        func field(_ index: Int) -> Int32 { bytes.loadUnaligned(fromByteOffset: 4 * index, as: Int32.self) }
        guard field(0) == Self.magic else {
            throw ModelFileError(file, "bad magic number \(field(0)) (expected \(Self.magic)); not an llm.c GPT-2 checkpoint")
        }
        version = field(1)
        guard let type = Self.versions[version] else {
            throw ModelFileError(file, "llm.c checkpoint version \(version) is not supported (3 is float32, 5 is bfloat16)")
        }
        self.type = type
        let names = ["maxT (context length)", "V (vocabulary size)", "L (layers)", "NH (heads)", "C (channels)", "Vp (padded vocabulary size)"]
        for (index, name) in zip(2..., names) where field(index) <= 0 {
            throw ModelFileError(file, "header field \(index), \(name), is \(field(index)); it must be positive")
        }
        shape = GPT2Shape(maxT: Int(field(2)), vocabularySize: Int(field(3)), layers: Int(field(4)), heads: Int(field(5)), channels: Int(field(6)))
        paddedVocabularySize = Int(field(7))
        guard paddedVocabularySize >= shape.vocabularySize else {
            throw ModelFileError(file, "Vp (padded vocabulary) = \(paddedVocabularySize) is smaller than V (vocabulary) = \(shape.vocabularySize)")
        }
        try shape.validate(file: file)
        var offset = Self.headerBytes
        var tensors: [GPT2Tensor: TensorView] = [:]
        for tensor in GPT2Tensor.allCases {
            let tensorShape = tensor.fileShape(shape, paddedVocabularySize: paddedVocabularySize)
            guard let count = Checked.product(tensorShape), let size = type.byteCount(elements: count),
                  let end = Checked.sum(offset, size) else {
                throw ModelFileError(file, "header dimensions describe an impossibly large model (tensor \(tensor))")
            }
            guard end <= bytes.count else {
                throw ModelFileError(file, "truncated: tensor \(tensor) \(tensorShape) needs bytes \(offset)..<\(end) but the file has \(bytes.count)")
            }
            tensors[tensor] = TensorView(name: "\(tensor)", type: type, shape: tensorShape, data: bytes.baseAddress! + offset, byteCount: size)
            offset = end
        }
        guard offset == bytes.count else {
            throw ModelFileError(file, "\(bytes.count - offset) trailing bytes after the last tensor (a model of this shape takes \(offset))")
        }
        self.tensors = tensors
    }
}
