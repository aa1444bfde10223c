#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A metadata value to write, with the GGUF type it is written as.
public enum GGUFMetadata {
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case string(String)
    case strings([String])
    case int32s([Int32])
}

/// A tensor to write: row-major shape (outermost first) and its bytes in `type`.
public struct TensorData {
    public let name: String
    public let type: TensorType
    public let shape: [Int]
    public let bytes: [UInt8]

    public init(name: String, type: TensorType, shape: [Int], bytes: [UInt8]) {
        precondition(type.byteCount(elements: shape.reduce(1, *)) == bytes.count, "tensor \(name): bytes do not match shape and type")
        self.name = name
        self.type = type
        self.shape = shape
        self.bytes = bytes
    }
}

/// Writes model files: GGUF version 3 and llm.c checkpoints. Each is written
/// to a temporary file and renamed into place, so an interrupted run never
/// leaves half a model under the final name.
public enum ModelFileWriter {
    /// GGUF version 3 with the default alignment of 32: header, metadata,
    /// tensor table, then each tensor's data at an aligned offset.
    public static func writeGGUF(to path: String, metadata: [(String, GGUFMetadata)], tensors: [TensorData]) throws {
        var out = [UInt8]()
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        func appendString(_ text: String) { append(UInt64(text.utf8.count)); out.append(contentsOf: text.utf8) }
        append(GGUFFile.magic)
        append(UInt32(3))
        append(UInt64(tensors.count))
        append(UInt64(metadata.count))
        for (key, value) in metadata {
            appendString(key)
            switch value {
            case .uint32(let number): append(UInt32(4)); append(number)
            case .int32(let number): append(UInt32(5)); append(number)
            case .float32(let number): append(UInt32(6)); append(number.bitPattern)
            case .string(let text): append(UInt32(8)); appendString(text)
            case .strings(let texts):
                append(UInt32(9)); append(UInt32(8)); append(UInt64(texts.count))
                texts.forEach(appendString)
            case .int32s(let numbers):
                append(UInt32(9)); append(UInt32(5)); append(UInt64(numbers.count))
                numbers.forEach { append($0) }
            }
        }
        let alignment = GGUFFile.defaultAlignment
        func padded(_ size: Int) -> Int { (size + alignment - 1) / alignment * alignment }
        var offset = 0
        for tensor in tensors {
            appendString(tensor.name)
            append(UInt32(tensor.shape.count))
            for extent in tensor.shape.reversed() { append(UInt64(extent)) }
            append(GGUFFile.typeID(tensor.type))
            append(UInt64(offset))
            offset = padded(offset + tensor.bytes.count)
        }
        out.append(contentsOf: repeatElement(0, count: padded(out.count) - out.count))
        try writeAtomically(path) { write in
            try write(out)
            for tensor in tensors {
                try write(tensor.bytes)
                try write([UInt8](repeating: 0, count: padded(tensor.bytes.count) - tensor.bytes.count))
            }
        }
    }

    /// An llm.c checkpoint: version 3 (f32) or 5 (bf16). `tensors` are whole
    /// tensors in `GPT2Tensor` order with llm.c's shapes (wte padded to Vp rows).
    public static func writeLlmc(to path: String, shape: GPT2Shape, paddedVocabularySize: Int, type: TensorType, tensors: [TensorData]) throws {
        guard let version = LlmcFile.versions.first(where: { $0.value == type })?.key else {
            throw ModelFileError(path, "llm.c checkpoints hold f32 (version 3) or bf16 (version 5), not \(type)")
        }
        var header = [Int32](repeating: 0, count: 256)
        header[0] = LlmcFile.magic
        header[1] = version
        for (index, value) in [shape.maxT, shape.vocabularySize, shape.layers, shape.heads, shape.channels, paddedVocabularySize].enumerated() {
            header[2 + index] = Int32(value)
        }
        try writeAtomically(path) { write in
            try write(header.withUnsafeBytes { Array($0) })
            for tensor in tensors { try write(tensor.bytes) }
        }
    }

    static func writeAtomically(_ path: String, _ body: (([UInt8]) throws -> Void) throws -> Void) throws {
        let temporary = path + ".\(getpid()).tmp"
        guard let stream = fopen(temporary, "wb") else {
            throw ModelFileError(path, "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        do {
            try body { bytes in
                guard bytes.isEmpty || fwrite(bytes, 1, bytes.count, stream) == bytes.count else {
                    throw ModelFileError(path, "cannot write: \(String(cString: strerror(errno)))")
                }
            }
            guard fclose(stream) == 0 else { throw ModelFileError(path, "cannot write: \(String(cString: strerror(errno)))") }
            guard rename(temporary, path) == 0 else {
                throw ModelFileError(path, "cannot move the written file into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
