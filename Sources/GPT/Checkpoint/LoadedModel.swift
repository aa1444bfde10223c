import CKernels
import ModelFiles

/// A model file of any supported format, ready for the engine: the file's
/// shape and stored types, and the `Weights` the kernels read.
///
/// The kernels read matrices and embeddings in every stored type, so those
/// are used in place (zero-copy) when they are in the engine's layout: f32,
/// f16 and bf16 tensors of GGUF and llm.c files, Hugging Face's embeddings.
/// q8_0 and q4_0 matrices are copied once into the engine's interleaved
/// layout (groups of 8 rows, which decode steps read as one stream), and
/// the file's pages they came from are let go. Hugging Face's
/// Conv1D matrices are stored transposed ([in, out]) and are transposed
/// here, once, at load, keeping their type (the file's pages they came
/// from then let go as well); LayerNorm weights and biases of
/// another type than f32 are widened (a few kilobytes). An untied output
/// matrix is read like the other matrices.
///
/// With `hugePages`, every tensor the kernels read is copied instead into
/// one region of transparent huge pages (``HugePageArena``), and the file's
/// pages are let go as each is copied: faster decode, for a copy at load
/// and memory of the process's own (the file's pages in the page cache are
/// shared between processes and can be reclaimed; a copy cannot).
public final class LoadedModel: @unchecked Sendable {  // immutable after init
    public let file: GPT2ModelFile
    public let weights: Weights
    /// Bytes converted at load: interleaved, transposed or widened (0 when every tensor is used as stored; copies into huge pages are not counted).
    public let convertedBytes: Int
    /// Whether the weights were copied into huge pages (asked for, and the kernel offers them).
    public let inHugePages: Bool

    /// Opens and checks `path` (a file or a Hugging Face folder; the format comes from the content).
    public convenience init(path: String, hugePages: Bool = false) throws {
        self.init(file: try GPT2ModelFile.open(path), hugePages: hugePages)
    }

    public init(file: GPT2ModelFile, hugePages: Bool = false) {
        self.file = file
        let shape = file.shape
        let config = GPTConfig(maxT: shape.maxT, vocabularySize: shape.vocabularySize, layers: shape.layers,
                               heads: shape.heads, channels: shape.channels, paddedVocabularySize: shape.vocabularySize)
        // Room for every tensor, converted ones included (interleaving pads
        // at most 7 rows a matrix; widening at most doubles 16-bit norms).
        let arena = hugePages ? HugePageArena(capacity: 2 * file.files.reduce(0) { $0 + $1.bytes.count }) : nil
        let storage = Storage(files: file.files, arena: arena)
        var converted = 0
        /// Memory for a copy: in the arena, else (no arena, or full) on the heap.
        func allocate(_ byteCount: Int) -> UnsafeMutableRawPointer {
            if let memory = arena?.allocate(byteCount: byteCount) { return memory }
            let memory = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
            storage.raw.append(memory)
            return memory
        }
        /// The tensor itself, or with an arena its copy there (the file's pages then let go).
        func inPlace(_ view: TensorView, as type: TensorType) -> StoredTensor {
            guard arena != nil else { return StoredTensor(type: type, data: view.data) }
            let bytes = view.type.byteCount(elements: view.elementCount)!
            let copy = allocate(bytes)
            let range = UnsafeRawBufferPointer(start: view.data, count: bytes)
            if let source = file.files.first(where: { $0.contains(view.data) }) {
                source.copy(range, into: copy)
            } else {
                copy.copyMemory(from: view.data, byteCount: bytes)
            }
            MappedFile.evict(range)
            return StoredTensor(type: type, data: UnsafeRawPointer(copy))
        }
        // A tensor as the kernels read it: in place where possible, else a copy in the engine's layout.
        func place(_ part: ModelFiles.StoredTensor, isMatrix: Bool) -> StoredTensor {
            let view = part.view
            let aligned = Int(bitPattern: view.data) % MemoryLayout<Float>.alignment == 0
            if isMatrix && view.type.isBlockType {
                let columns = view.shape.last!, rows = view.elementCount / columns
                let fileLayout = StoredTensor(type: view.type, data: view.data).kernelType
                let bytes = gpt_interleaved_bytes(fileLayout, Int32(columns), Int32(rows))
                let buffer = allocate(bytes)
                converted += bytes
                gpt_interleave_rows(fileLayout, view.data, buffer, Int32(columns), Int32(rows))
                let fileBytes = view.type.byteCount(elements: view.elementCount)!
                MappedFile.evict(UnsafeRawBufferPointer(start: view.data, count: fileBytes))
                return StoredTensor(type: view.type, data: UnsafeRawPointer(buffer), interleaved: true)
            }
            if isMatrix && (view.type != .f32 || aligned || part.transposed) {
                guard part.transposed else { return inPlace(view, as: view.type) }
                // Stored [in, out]; the engine wants [out, in]: move whole elements (16-bit or f32).
                let (rows, columns) = (view.shape[0], view.shape[1])
                let size = view.type.blockBytes
                precondition(view.type.blockElements == 1, "Hugging Face matrices are f32, f16 or bf16")
                let buffer = allocate(rows * columns * size)
                converted += rows * columns * size
                gpt_transpose(view.data, buffer, Int32(rows), Int32(columns), Int32(size))
                // Never read again: its pages may go (a Hugging Face f32 124M peaked at 835 MB RSS with them, 511 without).
                MappedFile.evict(UnsafeRawBufferPointer(start: view.data, count: rows * columns * size))
                return StoredTensor(type: view.type, data: UnsafeRawPointer(buffer))
            }
            if view.type == .f32, aligned {
                return inPlace(view, as: .f32)
            }
            let count = view.elementCount
            let buffer = allocate(count * 4).bindMemory(to: Float.self, capacity: count)
            converted += count * 4
            NumberFormats.widen(view.data, type: view.type, count: count, into: buffer)
            return StoredTensor(type: .f32, data: UnsafeRawPointer(buffer))
        }
        let pointers = ParameterTensor.allCases.map { tensor in
            file.tensors[GPT2Tensor(rawValue: "\(tensor)")!]!.map { place($0, isMatrix: tensor.isMatrix) }
        }
        let output = file.output.map { place($0, isMatrix: true) }
        convertedBytes = converted
        inHugePages = arena != nil
        weights = Weights(config: config, tensors: pointers, output: output, owner: storage)
    }

    /// How the file is stored, for logs and `/model`: "GGUF v3", "llm.c v5", "Hugging Face safetensors".
    public var formatDescription: String {
        file.formatVersion.isEmpty ? file.format.rawValue : "\(file.format.rawValue) \(file.formatVersion)"
    }

    /// The stored type of the big matrices ("f32", "q8_0", ...).
    public var weightType: String { file.weightType.rawValue }

    /// What the weights point into: the mappings, the huge pages and the converted buffers.
    private final class Storage {
        let files: [MappedFile]
        let arena: HugePageArena?
        var raw: [UnsafeMutableRawPointer] = []
        init(files: [MappedFile], arena: HugePageArena?) {
            self.files = files
            self.arena = arena
        }
        deinit { raw.forEach { $0.deallocate() } }
    }
}
