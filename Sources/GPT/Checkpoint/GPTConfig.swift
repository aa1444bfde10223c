/// The shape of a GPT-2 model, as stored in the checkpoint header.
///
/// Dimension letters follow llm.c: maxT (context), V (vocabulary), Vp (V padded
/// to a multiple of 128), L (layers), NH (heads), C (channels), hs = C / NH.
public struct GPTConfig: Sendable, Equatable, Codable {
    /// maxT: positions in the position embedding, the longest context.
    public var maxT: Int
    /// V: real vocabulary size; logits exist only for ids below it.
    public var vocabularySize: Int
    /// Vp: rows of the token embedding (V rounded up; rows V..<Vp are zero).
    public var paddedVocabularySize: Int
    /// L: transformer blocks.
    public var layers: Int
    /// NH: attention heads per block.
    public var heads: Int
    /// C: channels of the residual stream.
    public var channels: Int

    /// Vp defaults to V rounded up to a multiple of 128, as llm.c writes it.
    public init(maxT: Int, vocabularySize: Int, layers: Int, heads: Int, channels: Int, paddedVocabularySize: Int? = nil) {
        self.maxT = maxT
        self.vocabularySize = vocabularySize
        self.paddedVocabularySize = paddedVocabularySize ?? (vocabularySize + 127) / 128 * 128
        self.layers = layers
        self.heads = heads
        self.channels = channels
    }

    /// hs: channels per attention head.
    public var headSize: Int { channels / heads }

    /// The shape of GPT-2 124M (`--synthetic 124M` in gpt-bench).
    public static let gpt2Small = GPTConfig(maxT: 1024, vocabularySize: 50257, layers: 12, heads: 12, channels: 768)

    /// Named shapes for benchmarks and random models.
    public static let presets: [String: GPTConfig] = [
        "124M": gpt2Small,
        "350M": GPTConfig(maxT: 1024, vocabularySize: 50257, layers: 24, heads: 16, channels: 1024),
        "shakespeare-small": GPTConfig(maxT: 256, vocabularySize: 4096, layers: 6, heads: 6, channels: 384),
    ]
}

/// The parameter tensors in file order, each row-major, Linear weights as [out, in].
public enum ParameterTensor: Int, CaseIterable, Sendable {
    case wte, wpe, ln1w, ln1b, qkvw, qkvb, attprojw, attprojb
    case ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb

    /// The tensor's shape for `config`; per-layer tensors lead with L.
    public func shape(_ config: GPTConfig) -> [Int] {
        let (Vp, maxT, L, C) = (config.paddedVocabularySize, config.maxT, config.layers, config.channels)
        switch self {
        case .wte: return [Vp, C]
        case .wpe: return [maxT, C]
        case .ln1w, .ln1b, .attprojb, .ln2w, .ln2b, .fcprojb: return [L, C]
        case .qkvw: return [L, 3 * C, C]
        case .qkvb: return [L, 3 * C]
        case .attprojw: return [L, C, C]
        case .fcw: return [L, 4 * C, C]
        case .fcb: return [L, 4 * C]
        case .fcprojw: return [L, C, 4 * C]
        case .lnfw, .lnfb: return [C]
        }
    }

    /// One slice per layer, rather than one tensor for the model.
    public var isPerLayer: Bool { !(self == .wte || self == .wpe || self == .lnfw || self == .lnfb) }

    /// Weights that training and random initialisation treat as LayerNorm gains (start at 1).
    public var isLayerNormWeight: Bool { self == .ln1w || self == .ln2w || self == .lnfw }
    /// Biases and LayerNorm shifts (start at 0).
    public var isBias: Bool {
        switch self {
        case .ln1b, .qkvb, .attprojb, .ln2b, .fcb, .fcprojb, .lnfb: return true
        default: return false
        }
    }
}

extension GPTConfig {
    /// Element count of each tensor in file order, or nil if a count overflows `Int`.
    public var tensorSizes: [Int]? {
        var sizes: [Int] = []
        for tensor in ParameterTensor.allCases {
            var count = 1
            for dimension in tensor.shape(self) {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                if overflow { return nil }
                count = product
            }
            sizes.append(count)
        }
        return sizes
    }

    /// Total float parameters in the file, padding rows included.
    public var parameterCount: Int { tensorSizes?.reduce(0, +) ?? 0 }

    /// Parameters that matter: padding rows of wte excluded.
    public var effectiveParameterCount: Int {
        parameterCount - (paddedVocabularySize - vocabularySize) * channels
    }
}
