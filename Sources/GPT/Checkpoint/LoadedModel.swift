import ModelFiles

/// A model file of any supported format, ready for the engine: the file's
/// shape and stored types, and `Weights` the f32 kernels read.
///
/// The engine computes in f32 today. Tensors stored as f32 in the engine's
/// layout, suitably aligned, are used in place (zero-copy: llm.c v3, f32 GGUF,
/// f32 safetensors norms and embeddings); the rest (f16, bf16, q8_0, q4_0, and
/// Hugging Face's transposed Conv1D matrices) are widened into buffers owned
/// here, once, at load. Typed kernels can later read `file`'s views directly.
public final class LoadedModel: @unchecked Sendable {  // immutable after init
    public let file: GPT2ModelFile
    public let weights: Weights
    /// Bytes converted to f32 at load (0 when every tensor is used in place).
    public let convertedBytes: Int

    /// Opens and checks `path` (a file or a Hugging Face folder; the format comes from the content).
    public convenience init(path: String) throws {
        self.init(file: try GPT2ModelFile.open(path))
    }

    public init(file: GPT2ModelFile) {
        self.file = file
        let shape = file.shape
        let config = GPTConfig(maxT: shape.maxT, vocabularySize: shape.vocabularySize, layers: shape.layers,
                               heads: shape.heads, channels: shape.channels, paddedVocabularySize: shape.vocabularySize)
        var pointers: [[UnsafePointer<Float>]] = []
        let storage = Storage(files: file.files)
        var converted = 0
        for tensor in ParameterTensor.allCases {
            let stored = file.tensors[GPT2Tensor(rawValue: "\(tensor)")!]!
            pointers.append(stored.map { part in
                let view = part.view
                if view.type == .f32, !part.transposed, Int(bitPattern: view.data) % MemoryLayout<Float>.alignment == 0 {
                    return view.data.assumingMemoryBound(to: Float.self)
                }
                let count = view.elementCount
                let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
                storage.buffers.append(buffer)
                converted += count * 4
                if part.transposed {
                    let transposedBuffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
                    defer { transposedBuffer.deallocate() }
                    NumberFormats.widen(view.data, type: view.type, count: count, into: transposedBuffer)
                    // Stored [in, out]; the engine wants [out, in].
                    let (rows, columns) = (view.shape[0], view.shape[1])
                    for r in 0..<rows {
                        for c in 0..<columns { buffer[c * rows + r] = transposedBuffer[r * columns + c] }
                    }
                } else {
                    NumberFormats.widen(view.data, type: view.type, count: count, into: buffer)
                }
                return UnsafePointer(buffer)
            })
        }
        convertedBytes = converted
        weights = Weights(config: config, tensors: pointers, owner: storage)
    }

    /// How the file is stored, for logs and `/model`: "GGUF v3", "llm.c v5", "Hugging Face safetensors".
    public var formatDescription: String {
        file.formatVersion.isEmpty ? file.format.rawValue : "\(file.format.rawValue) \(file.formatVersion)"
    }

    /// The stored type of the big matrices ("f32", "q8_0", ...).
    public var weightType: String { file.weightType.rawValue }

    /// What the weights point into: the mappings and the converted buffers.
    private final class Storage {
        let files: [MappedFile]
        var buffers: [UnsafeMutablePointer<Float>] = []
        init(files: [MappedFile]) { self.files = files }
        deinit { buffers.forEach { $0.deallocate() } }
    }
}
