#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

#if _endian(big)
#error("gpt_checkpoint.bin is little-endian and mapped as-is; big-endian hosts are not supported")
#endif

/// A checkpoint file that could not be used; the message names the file and the problem.
public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String
    init(_ path: String, _ problem: String) { description = "\(path): \(problem)" }
}

/// The checkpoint header: 256 little-endian int32.
public enum CheckpointHeader {
    public static let magic: Int32 = 20240326
    public static let version: Int32 = 3
    public static let byteCount = 256 * 4

    /// Reads and checks the fields that describe the model; `path` only names the file in errors.
    public static func parse(_ header: UnsafeBufferPointer<Int32>, path: String) throws -> GPTConfig {
        precondition(header.count >= 8)
        guard header[0] == magic else {
            throw CheckpointError(path, "bad magic number \(header[0]) (expected \(magic)); not an llm.c GPT-2 checkpoint")
        }
        guard header[1] == version else {
            throw CheckpointError(path, "checkpoint version \(header[1]) is not supported (only version \(version), float32)")
        }
        let fields = [(2, "maxT (context length)"), (3, "V (vocabulary size)"), (4, "L (layers)"),
                      (5, "NH (heads)"), (6, "C (channels)"), (7, "Vp (padded vocabulary size)")]
        for (index, name) in fields where header[index] <= 0 {
            throw CheckpointError(path, "header field \(index), \(name), is \(header[index]); it must be positive")
        }
        let config = GPTConfig(maxT: Int(header[2]), vocabularySize: Int(header[3]), layers: Int(header[4]),
                               heads: Int(header[5]), channels: Int(header[6]), paddedVocabularySize: Int(header[7]))
        guard config.channels % config.heads == 0 else {
            throw CheckpointError(path, "C (channels) = \(config.channels) is not divisible by NH (heads) = \(config.heads)")
        }
        guard config.paddedVocabularySize >= config.vocabularySize else {
            throw CheckpointError(path, "Vp (padded vocabulary) = \(config.paddedVocabularySize) is smaller than V (vocabulary) = \(config.vocabularySize)")
        }
        guard let sizes = config.tensorSizes, sizes.reduce(0, { $0 &+ $1 }) < Int.max / 8 else {
            throw CheckpointError(path, "header dimensions \(describe(config)) describe an impossibly large model")
        }
        return config
    }

    /// Exact file size in bytes for a model of this shape.
    public static func fileSize(for config: GPTConfig) -> Int { byteCount + 4 * config.parameterCount }

    /// The 256-int header for `config`, as written to disk.
    public static func encode(_ config: GPTConfig) -> [Int32] {
        var header = [Int32](repeating: 0, count: 256)
        header[0] = magic
        header[1] = version
        header[2] = Int32(config.maxT)
        header[3] = Int32(config.vocabularySize)
        header[4] = Int32(config.layers)
        header[5] = Int32(config.heads)
        header[6] = Int32(config.channels)
        header[7] = Int32(config.paddedVocabularySize)
        return header
    }

    static func describe(_ c: GPTConfig) -> String {
        "maxT=\(c.maxT) V=\(c.vocabularySize) L=\(c.layers) NH=\(c.heads) C=\(c.channels) Vp=\(c.paddedVocabularySize)"
    }
}

/// A `gpt_checkpoint.bin` mapped read-only into memory and validated.
///
/// The parameters are never copied: `weights` points into the mapping, so
/// loading costs one `mmap` and pages arrive as the model first reads them.
public final class Checkpoint: @unchecked Sendable {  // immutable after init; the mapping is read-only
    public let path: String
    public let config: GPTConfig
    private let mapping: UnsafeMutableRawPointer
    private let mappedLength: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CheckpointError(path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CheckpointError(path, "cannot stat: \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw CheckpointError(path, "not a regular file") }
        let size = Int(info.st_size)
        guard size >= CheckpointHeader.byteCount else {
            throw CheckpointError(path, "file is \(size) bytes, shorter than the \(CheckpointHeader.byteCount)-byte header (truncated or not a checkpoint)")
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw CheckpointError(path, "cannot map: \(String(cString: strerror(errno)))")
        }
        do {
            let header = UnsafeBufferPointer(start: base.assumingMemoryBound(to: Int32.self), count: 256)
            let config = try CheckpointHeader.parse(header, path: path)
            let expected = CheckpointHeader.fileSize(for: config)
            guard size == expected else {
                let what = size < expected ? "truncated: \(expected - size) bytes missing" : "\(size - expected) trailing bytes"
                throw CheckpointError(path, "file is \(size) bytes but a model with \(CheckpointHeader.describe(config)) needs exactly \(expected) (\(what))")
            }
            self.config = config
        } catch {
            munmap(base, size)
            throw error
        }
        mapping = base
        mappedLength = size
    }

    /// Views of every tensor; they keep this mapping alive.
    public var weights: Weights {
        let parameters = UnsafePointer((mapping + CheckpointHeader.byteCount).assumingMemoryBound(to: Float.self))
        return Weights(config: config, parameters: parameters, owner: self)
    }

    deinit { munmap(mapping, mappedLength) }
}
