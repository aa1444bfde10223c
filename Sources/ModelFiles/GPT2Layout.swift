/// The shape of a GPT-2 model. Letters as in llm.c: maxT (context), V
/// (vocabulary), L (layers), NH (heads), C (channels).
public struct GPT2Shape: Sendable, Equatable {
    public var maxT: Int
    public var vocabularySize: Int
    public var layers: Int
    public var heads: Int
    public var channels: Int

    public init(maxT: Int, vocabularySize: Int, layers: Int, heads: Int, channels: Int) {
        self.maxT = maxT
        self.vocabularySize = vocabularySize
        self.layers = layers
        self.heads = heads
        self.channels = channels
    }

    /// Refuses sizes the engine cannot run: non-positive ones, C not a multiple
    /// of NH, or tensors whose sizes overflow.
    func validate(file: String) throws {
        let fields = [("maxT (context length)", maxT), ("V (vocabulary size)", vocabularySize), ("L (layers)", layers),
                      ("NH (heads)", heads), ("C (channels)", channels)]
        for (name, value) in fields where value <= 0 {
            throw ModelFileError(file, "\(name) is \(value); it must be positive")
        }
        guard channels % heads == 0 else {
            throw ModelFileError(file, "C (channels) = \(channels) is not divisible by NH (heads) = \(heads)")
        }
        for tensor in GPT2Tensor.allCases {
            guard let count = Checked.product(tensor.fileShape(self, paddedVocabularySize: vocabularySize)), count < Int.max / 8 else {
                throw ModelFileError(file, "maxT=\(maxT) V=\(vocabularySize) L=\(layers) C=\(channels) describe an impossibly large model (tensor \(tensor))")
            }
        }
    }
}

/// GPT-2's parameter tensors in llm.c's file order. Matrices are [out, in].
public enum GPT2Tensor: String, CaseIterable, Sendable {
    case wte, wpe, ln1w, ln1b, qkvw, qkvb, attprojw, attprojb
    case ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb

    /// One tensor per layer, rather than one for the model.
    public var isPerLayer: Bool { !(self == .wte || self == .wpe || self == .lnfw || self == .lnfb) }

    /// The shape of one layer's slice (or of the whole tensor, for the others).
    public func layerShape(_ s: GPT2Shape) -> [Int] {
        let C = s.channels
        switch self {
        case .wte: return [s.vocabularySize, C]
        case .wpe: return [s.maxT, C]
        case .ln1w, .ln1b, .attprojb, .ln2w, .ln2b, .fcprojb, .lnfw, .lnfb: return [C]
        case .qkvw: return [3 * C, C]
        case .qkvb: return [3 * C]
        case .attprojw: return [C, C]
        case .fcw: return [4 * C, C]
        case .fcb: return [4 * C]
        case .fcprojw: return [C, 4 * C]
        }
    }

    /// The whole tensor as llm.c stores it: per-layer ones lead with L, wte has Vp rows.
    public func fileShape(_ s: GPT2Shape, paddedVocabularySize: Int) -> [Int] {
        if self == .wte { return [paddedVocabularySize, s.channels] }
        return isPerLayer ? [s.layers] + layerShape(s) : layerShape(s)
    }
}

/// One stored tensor and whether its matrix is stored transposed ([in, out],
/// as Hugging Face's GPT-2 Conv1D layers keep it).
public struct StoredTensor: Sendable {
    public let view: TensorView
    public let transposed: Bool
}

/// The files a GPT-2 model can come in.
public enum ModelFormat: String, Sendable {
    case llmc = "llm.c"
    case gguf = "GGUF"
    case huggingFace = "Hugging Face safetensors"
}
