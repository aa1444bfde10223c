#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A GPT-2 model read from any supported file or folder: its shape and every
/// tensor, each a view into the mapped file in its stored type. The format is
/// recognised from the content, never from the name.
public struct GPT2ModelFile: @unchecked Sendable {  // views into immutable mappings, kept alive by `files`
    public let path: String
    public let format: ModelFormat
    /// "v3", "v5" (llm.c), "v2", "v3" (GGUF), or "" (safetensors).
    public let formatVersion: String
    public let shape: GPT2Shape
    /// For each tensor, one entry per layer (per-layer tensors) or one.
    public let tensors: [GPT2Tensor: [StoredTensor]]
    /// The output matrix (V, C) that turns the final hidden state into
    /// logits, when the file has one that differs from the token embedding
    /// (GGUF `output.weight`, Hugging Face `lm_head.weight`); nil when the
    /// output is tied to `wte`, as in GPT-2 itself.
    public let output: StoredTensor?
    /// A GGUF file's own tokenizer, from its metadata.
    public let vocabulary: GGUFVocabulary?
    /// The tokenizer.json beside a Hugging Face model, when there is one.
    public let tokenizerFile: String?
    /// The mappings the views point into.
    public let files: [MappedFile]

    public func tensor(_ tensor: GPT2Tensor, layer: Int = 0) -> StoredTensor { tensors[tensor]![tensor.isPerLayer ? layer : 0] }

    /// The stored type of the big matrices (the attention's qkv weights), which
    /// decides the model's size and speed; embeddings and norms may differ.
    public var weightType: TensorType { tensor(.qkvw).view.type }

    /// Opens `path`: a GGUF file, an llm.c checkpoint, a safetensors file or
    /// the index of a model saved in several (with config.json beside it), or
    /// a Hugging Face folder.
    public static func open(_ path: String) throws -> GPT2ModelFile {
        var info = stat()
        guard stat(path, &info) == 0 else { throw ModelFileError(path, "cannot open: \(String(cString: strerror(errno)))") }
        if (info.st_mode & S_IFMT) == S_IFDIR { return try huggingFaceFolder(path) }
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        func starts(with prefix: [UInt8]) -> Bool { bytes.count >= prefix.count && zip(bytes, prefix).allSatisfy { $0 == $1 } }
        if starts(with: Array("GGUF".utf8)) { return try gguf(file) }
        if bytes.count >= 4, bytes.loadUnaligned(as: Int32.self) == LlmcFile.magic { return try llmc(file) }
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let folder = parent.isEmpty ? "." : parent
        if bytes.count >= 9, bytes.load(fromByteOffset: 8, as: UInt8.self) == UInt8(ascii: "{") {
            return try huggingFace(safetensors: file, folder: folder)
        }
        // JSON: the index of a model saved in shards (a safetensors header also starts with "{", but at byte 8).
        if bytes.first(where: { !Self.jsonWhitespace.contains($0) }) == UInt8(ascii: "{") {
            return try huggingFaceShards(index: path, folder: folder)
        }
        if starts(with: [0x50, 0x4B, 0x03, 0x04]) || starts(with: [0x80]) {
            throw ModelFileError(path, "a PyTorch pickle (pytorch_model.bin) is not read: pickles can run code. Convert it to model.safetensors "
                + "(for example with the transformers library's save_pretrained(..., safe_serialization=True))")
        }
        throw ModelFileError(path, "not a model file this project reads: expected a GGUF file, an llm.c checkpoint (magic 20240326), "
            + "a .safetensors file, a \(SafetensorsIndex.fileName) or a Hugging Face folder")
    }

    static let jsonWhitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]

    // MARK: llm.c

    static func llmc(_ file: MappedFile) throws -> GPT2ModelFile {
        let llmc = try LlmcFile(bytes: file.bytes, file: file.path)
        var tensors: [GPT2Tensor: [StoredTensor]] = [:]
        for (tensor, whole) in llmc.tensors {
            let layerShape = tensor.layerShape(llmc.shape)
            let bytes = llmc.type.byteCount(elements: layerShape.reduce(1, *))!
            let count = tensor.isPerLayer ? llmc.shape.layers : 1
            tensors[tensor] = (0..<count).map { l in
                StoredTensor(view: TensorView(name: tensor.isPerLayer ? "\(tensor)[\(l)]" : "\(tensor)", type: llmc.type, shape: layerShape,
                                              data: whole.data + l * bytes, byteCount: bytes), transposed: false)
            }
        }
        return GPT2ModelFile(path: file.path, format: .llmc, formatVersion: "v\(llmc.version)", shape: llmc.shape, tensors: tensors,
                             output: nil, vocabulary: nil, tokenizerFile: nil, files: [file])
    }

    // MARK: GGUF

    /// llama.cpp's names for GPT-2's tensors.
    public static let ggufNames: [GPT2Tensor: String] = [
        .wte: "token_embd.weight", .wpe: "position_embd.weight",
        .ln1w: "attn_norm.weight", .ln1b: "attn_norm.bias", .qkvw: "attn_qkv.weight", .qkvb: "attn_qkv.bias",
        .attprojw: "attn_output.weight", .attprojb: "attn_output.bias", .ln2w: "ffn_norm.weight", .ln2b: "ffn_norm.bias",
        .fcw: "ffn_up.weight", .fcb: "ffn_up.bias", .fcprojw: "ffn_down.weight", .fcprojb: "ffn_down.bias",
        .lnfw: "output_norm.weight", .lnfb: "output_norm.bias",
    ]

    static func gguf(_ file: MappedFile) throws -> GPT2ModelFile {
        try gguf(bytes: file.bytes, path: file.path, files: [file])
    }

    /// A GPT-2 model from GGUF bytes; `files` keeps the bytes alive.
    static func gguf(bytes: UnsafeRawBufferPointer, path: String, files: [MappedFile]) throws -> GPT2ModelFile {
        let gguf = try GGUFFile(bytes: bytes, file: path)
        guard case .string(let architecture)? = gguf.value("general.architecture") else {
            throw ModelFileError(path, "metadata general.architecture is \(gguf.value("general.architecture").map { "\($0)" } ?? "missing"); expected \"gpt2\"")
        }
        guard architecture == "gpt2" else {
            throw ModelFileError(path, "general.architecture is \"\(architecture)\"; only \"gpt2\" is supported")
        }
        func integer(_ key: String) throws -> Int {
            guard let value = gguf.value("gpt2.\(key)") else { throw ModelFileError(path, "metadata gpt2.\(key) is missing") }
            guard let number = value.integer, number > 0 else { throw ModelFileError(path, "metadata gpt2.\(key) is \(value); expected a positive integer") }
            return number
        }
        let byName = Dictionary(uniqueKeysWithValues: gguf.tensors.map { ($0.name, $0) })
        guard let embedding = byName["token_embd.weight"] else { throw ModelFileError(path, "tensor token_embd.weight is missing") }
        guard embedding.shape.count == 2 else {
            throw ModelFileError(path, "tensor token_embd.weight has shape \(embedding.shape); expected [V, C]")
        }
        let shape = GPT2Shape(maxT: try integer("context_length"), vocabularySize: embedding.shape[0], layers: try integer("block_count"),
                              heads: try integer("attention.head_count"), channels: try integer("embedding_length"))
        try shape.validate(file: path)
        if let feedForward = gguf.value("gpt2.feed_forward_length"), feedForward.integer != 4 * shape.channels {
            throw ModelFileError(path, "metadata gpt2.feed_forward_length is \(feedForward); only 4 × embedding_length (\(4 * shape.channels)) is supported")
        }
        if let epsilon = gguf.value("gpt2.attention.layer_norm_epsilon") {
            guard case .float(let value) = epsilon, abs(value - 1e-5) <= 1e-9 else {
                throw ModelFileError(path, "metadata gpt2.attention.layer_norm_epsilon is \(epsilon); only 1e-05 is supported")
            }
        }
        try checkTensorCount(gguf.tensors.count, layers: shape.layers, key: "metadata gpt2.block_count", file: path)
        var used = Set<String>()
        func take(_ name: String, _ tensor: GPT2Tensor) throws -> StoredTensor {
            guard let view = byName[name] else { throw ModelFileError(path, "tensor \(name) is missing") }
            try check(view, tensor.layerShape(shape), file: path)
            used.insert(name)
            return StoredTensor(view: view, transposed: false)
        }
        var tensors: [GPT2Tensor: [StoredTensor]] = [:]
        for tensor in GPT2Tensor.allCases {
            let name = ggufNames[tensor]!
            tensors[tensor] = try tensor.isPerLayer ? (0..<shape.layers).map { try take("blk.\($0).\(name)", tensor) } : [take(name, tensor)]
        }
        let output = try byName["output.weight"].flatMap { try untiedOutput($0, embedding: embedding, shape: shape, file: path) }
        used.insert("output.weight")
        if let extra = gguf.tensors.first(where: { !used.contains($0.name) }) {
            throw ModelFileError(path, "tensor \(extra.name) is not a GPT-2 tensor this reader knows (llama.cpp's gpt2 names: token_embd, position_embd, blk.N.attn_norm, ...)")
        }
        let vocabulary = try GGUFVocabulary(gguf, file: path)
        if let vocabulary, vocabulary.tokens.count > shape.vocabularySize {
            throw ModelFileError(path, "tokenizer.ggml.tokens has \(vocabulary.tokens.count) tokens but token_embd.weight has only \(shape.vocabularySize) rows")
        }
        return GPT2ModelFile(path: path, format: .gguf, formatVersion: "v\(gguf.version)", shape: shape, tensors: tensors,
                             output: output, vocabulary: vocabulary, tokenizerFile: nil, files: files)
    }

    // MARK: Hugging Face

    static func huggingFaceFolder(_ folder: String) throws -> GPT2ModelFile {
        let weights = folder + "/model.safetensors"
        if access(weights, F_OK) == 0 { return try huggingFace(safetensors: try MappedFile(path: weights), folder: folder) }
        let index = folder + "/" + SafetensorsIndex.fileName
        if access(index, F_OK) == 0 { return try huggingFaceShards(index: index, folder: folder) }
        if access(folder + "/pytorch_model.bin", F_OK) == 0 {
            throw ModelFileError(folder, "has pytorch_model.bin but no model.safetensors; pickles are not read because they can run code. "
                + "Save the model as safetensors (transformers: save_pretrained(..., safe_serialization=True))")
        }
        throw ModelFileError(folder, "no model.safetensors or \(SafetensorsIndex.fileName) in this folder (a Hugging Face GPT-2 folder needs "
            + "config.json and model.safetensors, or an index and the shards it names)")
    }

    /// Hugging Face's names: `h.N.attn.c_attn` and the rest, with or without a `transformer.` prefix.
    static let huggingFaceNames: [GPT2Tensor: String] = [
        .wte: "wte.weight", .wpe: "wpe.weight",
        .ln1w: "ln_1.weight", .ln1b: "ln_1.bias", .qkvw: "attn.c_attn.weight", .qkvb: "attn.c_attn.bias",
        .attprojw: "attn.c_proj.weight", .attprojb: "attn.c_proj.bias", .ln2w: "ln_2.weight", .ln2b: "ln_2.bias",
        .fcw: "mlp.c_fc.weight", .fcb: "mlp.c_fc.bias", .fcprojw: "mlp.c_proj.weight", .fcprojb: "mlp.c_proj.bias",
        .lnfw: "ln_f.weight", .lnfb: "ln_f.bias",
    ]

    static func huggingFace(safetensors file: MappedFile, folder: String) throws -> GPT2ModelFile {
        try huggingFace(path: file.path, folder: folder, shards: [(file, try SafetensorsFile(bytes: file.bytes, file: file.path))])
    }

    /// A model saved in several safetensors files: every shard the index
    /// names is mapped, and each tensor must be in exactly the shard the
    /// index's weight_map puts it in.
    static func huggingFaceShards(index path: String, folder: String) throws -> GPT2ModelFile {
        let index = try SafetensorsIndex(bytes: try readSmallFile(path, needed: "the index of a model saved in shards"), file: path)
        var shards: [(file: MappedFile, table: SafetensorsFile)] = []
        var foundIn: [String: String] = [:]
        for shard in index.shards {
            let file: MappedFile
            do { file = try MappedFile(path: folder + "/" + shard) } catch {
                let tensor = index.shardOf.filter { $0.value == shard }.keys.min()!
                throw ModelFileError(path, "weight_map puts tensor \(tensor) in shard \(shard), which cannot be read: \(error)")
            }
            let table = try SafetensorsFile(bytes: file.bytes, file: file.path)
            for view in table.tensors {
                if let other = foundIn.updateValue(shard, forKey: view.name) {
                    throw ModelFileError(path, "tensor \(view.name) is in two shards, \(other) and \(shard); a tensor must be in one")
                }
            }
            shards.append((file, table))
        }
        // After every shard is read, so that a tensor in two shards is named as such.
        for (tensor, shard) in foundIn.sorted(by: { $0.key < $1.key }) {
            guard let mapped = index.shardOf[tensor] else {
                throw ModelFileError(folder + "/" + shard, "tensor \(tensor) is in this shard but not in \(SafetensorsIndex.fileName)'s weight_map")
            }
            guard mapped == shard else {
                throw ModelFileError(folder + "/" + shard, "tensor \(tensor) is in this shard, but \(SafetensorsIndex.fileName)'s weight_map puts it in \(mapped)")
            }
        }
        if let (tensor, shard) = index.shardOf.sorted(by: { $0.key < $1.key }).first(where: { foundIn[$0.key] == nil }) {
            throw ModelFileError(folder + "/" + shard, "has no tensor \(tensor), which \(SafetensorsIndex.fileName)'s weight_map puts in it")
        }
        return try huggingFace(path: path, folder: folder, shards: shards)
    }

    /// A model from the tensors of one or more safetensors files, by
    /// Hugging Face's names; errors about a tensor name the file that holds it,
    /// and `path` (the file, or the index of shards) otherwise.
    static func huggingFace(path: String, folder: String, shards: [(file: MappedFile, table: SafetensorsFile)]) throws -> GPT2ModelFile {
        let configPath = folder + "/config.json"
        let config = try HuggingFaceConfig(bytes: try readSmallFile(configPath, needed: "a Hugging Face GPT-2 folder needs config.json beside its weights"),
                                           file: configPath)
        let shape = config.shape
        var byName: [String: (view: TensorView, file: String)] = [:]
        for (file, table) in shards {
            for view in table.tensors {
                let name = view.name.hasPrefix("transformer.") ? String(view.name.dropFirst("transformer.".count)) : view.name
                guard byName.updateValue((view, file.path), forKey: name) == nil else {
                    throw ModelFileError(file.path, "tensor \(name) appears both with and without the transformer. prefix")
                }
            }
        }
        try checkTensorCount(byName.count, layers: shape.layers, key: "\(configPath): n_layer", file: path)
        var used = Set<String>()
        func take(_ name: String, _ tensor: GPT2Tensor) throws -> StoredTensor {
            guard let (view, file) = byName[name] else { throw ModelFileError(path, "tensor \(name) (or transformer.\(name)) is missing") }
            // Conv1D keeps its weight as [in, out].
            let transposed = [.qkvw, .attprojw, .fcw, .fcprojw].contains(tensor)
            let expected = tensor.layerShape(shape)
            try check(view, transposed ? expected.reversed() : expected, file: file)
            used.insert(name)
            return StoredTensor(view: view, transposed: transposed)
        }
        var tensors: [GPT2Tensor: [StoredTensor]] = [:]
        for tensor in GPT2Tensor.allCases {
            let name = huggingFaceNames[tensor]!
            tensors[tensor] = try tensor.isPerLayer ? (0..<shape.layers).map { try take("h.\($0).\(name)", tensor) } : [take(name, tensor)]
        }
        // lm_head is a Linear, [out, in] = [V, C]: the engine's layout, no transpose.
        let output = try byName["lm_head.weight"].flatMap { try untiedOutput($0.view, embedding: tensors[.wte]![0].view, shape: shape, file: $0.file) }
        used.insert("lm_head.weight")
        // Attention masks that older transformers versions saved as buffers: not parameters.
        let buffers = byName.keys.filter { $0.hasSuffix(".attn.bias") || $0.hasSuffix(".attn.masked_bias") }
        if let extra = byName.keys.sorted().first(where: { !used.contains($0) && !buffers.contains($0) }) {
            throw ModelFileError(byName[extra]!.file, "tensor \(extra) is not a GPT-2 tensor (expected wte, wpe, h.N.ln_1, h.N.attn.c_attn, ..., ln_f, lm_head)")
        }
        let tokenizer = folder + "/tokenizer.json"
        return GPT2ModelFile(path: path, format: .huggingFace, formatVersion: "", shape: shape, tensors: tensors, output: output,
                             vocabulary: nil, tokenizerFile: access(tokenizer, F_OK) == 0 ? tokenizer : nil, files: shards.map(\.file))
    }

    /// The output matrix `view` as the model's own, after checking its shape
    /// against the embedding's; nil when it is a copy of the embedding (a
    /// tied output saved twice), which is then read once.
    static func untiedOutput(_ view: TensorView, embedding: TensorView, shape: GPT2Shape, file: String) throws -> StoredTensor? {
        try check(view, GPT2Tensor.wte.layerShape(shape), file: file)
        let tied = view.type == embedding.type && view.byteCount == embedding.byteCount && memcmp(view.data, embedding.data, view.byteCount) == 0
        return tied ? nil : StoredTensor(view: view, transposed: false)
    }

    /// Refuses a layer count larger than the file's tensor count before
    /// anything is sized by it, so a huge count in the metadata costs nothing
    /// (each layer needs 12 tensors; the missing ones are then named one by one).
    static func checkTensorCount(_ count: Int, layers: Int, key: String, file: String) throws {
        guard layers <= count else {
            throw ModelFileError(file, "\(key) says \(layers) layers, but the file has only \(count) tensors (GPT-2 needs 12 per layer)")
        }
    }

    static func check(_ view: TensorView, _ expected: [Int], file: String) throws {
        guard view.shape == expected else {
            throw ModelFileError(file, "tensor \(view.name) has shape \(view.shape); expected \(expected)")
        }
    }

    /// Reads a configuration file, refusing anything too large to be one.
    static func readSmallFile(_ path: String, needed: String, limit: Int = 1 << 20) throws -> [UInt8] {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch {
            throw ModelFileError(path, "cannot read (\(needed)): \(error)")
        }
        guard file.bytes.count <= limit else { throw ModelFileError(path, "is \(file.bytes.count) bytes; a config file is at most \(limit)") }
        return Array(file.bytes)
    }
}
