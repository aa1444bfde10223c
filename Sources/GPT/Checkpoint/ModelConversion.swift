import ModelFiles

/// Writes a loaded model as GGUF or as an llm.c checkpoint, with its weight
/// matrices and embeddings in a chosen type (norms and biases stay f32, as
/// llama.cpp keeps them). An untied output matrix goes to GGUF as
/// `output.weight`; llm.c files cannot hold one.
public enum ModelConversion {
    public enum OutputFormat: String, CaseIterable, Sendable {
        case gguf, llmc
    }

    /// llama.cpp's `general.file_type` for a model whose matrices are `type`.
    static let fileTypes: [TensorType: UInt32] = [.f32: 0, .f16: 1, .q4_0: 2, .q8_0: 7, .bf16: 32]

    /// Writes `model` to `path`. `vocabulary` goes into a GGUF file's metadata (GGUF only).
    public static func write(_ model: LoadedModel, vocabulary: GGUFVocabulary?, to path: String,
                             format: OutputFormat, type: TensorType) throws {
        let shape = model.file.shape
        let weights = model.weights
        let C = shape.channels
        // Every tensor widened to f32, in the engine's layout (matrices [out, in]).
        func encode(_ tensor: ParameterTensor, layer: Int, as type: TensorType, name: String) throws -> [UInt8] {
            try encode(weights.widened(tensor, layer: layer), as: type, name: name)
        }
        func encode(_ data: [Float], as type: TensorType, name: String) throws -> [UInt8] {
            guard data.allSatisfy(\.isFinite) else {
                throw ModelFileError(model.file.path, "tensor \(name) holds NaN or infinite values; refusing to convert it")
            }
            return data.withUnsafeBufferPointer { NumberFormats.narrow($0, to: type) }
        }
        switch format {
        case .llmc:
            guard type == .f32 || type == .bf16 else {
                throw ModelFileError(path, "llm.c checkpoints hold f32 (version 3) or bf16 (version 5); use --format gguf for \(type)")
            }
            if let output = model.file.output {
                throw ModelFileError(model.file.path, "tensor \(output.view.name) is an output matrix that differs from the token embedding; "
                    + "llm.c checkpoints tie the output to wte and have no place for it. Write GGUF instead (--format gguf)")
            }
            let Vp = (shape.vocabularySize + 127) / 128 * 128
            var tensors: [TensorData] = []
            for tensor in ParameterTensor.allCases {
                var bytes: [UInt8] = []
                for l in 0..<(tensor.isPerLayer ? shape.layers : 1) {
                    bytes += try encode(tensor, layer: l, as: type, name: "\(tensor)")
                }
                var fileShape = GPT2Tensor(rawValue: "\(tensor)")!.fileShape(shape, paddedVocabularySize: Vp)
                if tensor == .wte {
                    // Padding rows V..<Vp are zero in both types.
                    bytes += [UInt8](repeating: 0, count: (Vp - shape.vocabularySize) * C * type.blockBytes)
                    fileShape = [Vp, C]
                }
                tensors.append(TensorData(name: "\(tensor)", type: type, shape: fileShape, bytes: bytes))
            }
            try ModelFileWriter.writeLlmc(to: path, shape: shape, paddedVocabularySize: Vp, type: type, tensors: tensors)
        case .gguf:
            if type.blockElements > 1 {
                guard C % type.blockElements == 0 else {
                    throw ModelFileError(path, "\(type) stores rows in blocks of \(type.blockElements) but this model's rows have C = \(C) values")
                }
            }
            var tensors: [TensorData] = []
            for tensor in ParameterTensor.allCases {
                let fileTensor = GPT2Tensor(rawValue: "\(tensor)")!
                let layerShape = fileTensor.layerShape(shape)
                let tensorType = layerShape.count == 2 ? type : .f32
                let ggufName = GPT2ModelFile.ggufNames[fileTensor]!
                for l in 0..<(tensor.isPerLayer ? shape.layers : 1) {
                    let name = tensor.isPerLayer ? "blk.\(l).\(ggufName)" : ggufName
                    tensors.append(TensorData(name: name, type: tensorType, shape: layerShape,
                                              bytes: try encode(tensor, layer: l, as: tensorType, name: name)))
                }
            }
            if let output = weights.widenedOutput() {
                tensors.append(TensorData(name: "output.weight", type: type, shape: [shape.vocabularySize, C],
                                          bytes: try encode(output, as: type, name: "output.weight")))
            }
            var metadata: [(String, GGUFMetadata)] = [
                ("general.architecture", .string("gpt2")),
                ("general.name", .string(model.file.path.split(separator: "/").last.map(String.init) ?? "gpt2")),
                ("general.file_type", .uint32(fileTypes[type]!)),
                ("gpt2.context_length", .uint32(UInt32(shape.maxT))),
                ("gpt2.embedding_length", .uint32(UInt32(C))),
                ("gpt2.feed_forward_length", .uint32(UInt32(4 * C))),
                ("gpt2.block_count", .uint32(UInt32(shape.layers))),
                ("gpt2.attention.head_count", .uint32(UInt32(shape.heads))),
                ("gpt2.attention.layer_norm_epsilon", .float32(1e-5)),
            ]
            if let vocabulary {
                metadata += [
                    ("tokenizer.ggml.model", .string("gpt2")),
                    ("tokenizer.ggml.tokens", .strings(vocabulary.tokens)),
                    ("tokenizer.ggml.token_type", .int32s(vocabulary.types.map { Int32($0.rawValue) })),
                    ("tokenizer.ggml.merges", .strings(vocabulary.merges)),
                ]
                if let bos = vocabulary.bosID { metadata.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos)))) }
                if let eos = vocabulary.eosID { metadata.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))) }
            }
            try ModelFileWriter.writeGGUF(to: path, metadata: metadata, tensors: tensors)
        }
    }
}
