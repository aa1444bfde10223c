import Foundation
import GPT

/// `optimizer.bin`: what a run needs besides the weights to resume exactly —
/// the step, the data seed and AdamW's two moments.
///
/// Layout (little-endian): 16 int64 header [magic "GPTADAMW", version 1,
/// maxT, V, L, NH, C, Vp, step, seed, parameter count, 0...], then m and v as
/// float32 in checkpoint tensor order. The model shape in the header lets a
/// resume refuse moments that belong to another model.
public enum OptimizerStateFile {
    static let magic = Int64(bitPattern: 0x574D_4144_4154_5047)  // "GPTADAMW" read as little-endian int64
    static let version: Int64 = 1
    static let headerCount = 16

    public struct Contents {
        public var step: Int
        public var seed: UInt64
    }

    /// Writes the optimizer's state atomically (temporary file renamed into place).
    public static func write(_ optimizer: AdamW, config: GPTConfig, seed: UInt64, to path: String) throws {
        var header = [Int64](repeating: 0, count: headerCount)
        let shape = CheckpointHeader.encode(config)[2..<8].map { Int64($0) }
        header[0] = magic
        header[1] = version
        header.replaceSubrange(2..<8, with: shape)
        header[8] = Int64(optimizer.step)
        header[9] = Int64(bitPattern: seed)
        header[10] = Int64(optimizer.firstMoment.count)
        let temporary = path + ".\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporary) else {
            throw TrainingError("\(path): cannot create \(temporary)")
        }
        do {
            defer { try? handle.close() }
            try header.withUnsafeBytes { try handle.write(contentsOf: $0) }
            try handle.write(contentsOf: UnsafeRawBufferPointer(optimizer.firstMoment))
            try handle.write(contentsOf: UnsafeRawBufferPointer(optimizer.secondMoment))
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw TrainingError("\(path): cannot write (\(error.localizedDescription))")
        }
        guard rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw TrainingError("\(path): cannot move the written file into place: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads the state into `optimizer` if it was written for a model of shape `config`.
    public static func read(into optimizer: AdamW, config: GPTConfig, from path: String) throws -> Contents {
        guard let data = FileManager.default.contents(atPath: path) else { throw TrainingError("\(path): cannot read the file") }
        let headerBytes = headerCount * 8
        guard data.count >= headerBytes else { throw TrainingError("\(path): too short for an optimizer state header") }
        let header = data.withUnsafeBytes { raw in (0..<headerCount).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) } }
        guard header[0] == magic else { throw TrainingError("\(path): not an optimizer state file (bad magic)") }
        guard header[1] == version else { throw TrainingError("\(path): optimizer state version \(header[1]) is not supported") }
        let shape = CheckpointHeader.encode(config)[2..<8].map { Int64($0) }
        guard Array(header[2..<8]) == shape else {
            throw TrainingError("\(path): written for a model of shape (maxT, V, L, NH, C, Vp) = \(header[2..<8].map { $0 }), "
                + "but the checkpoint is \(shape); they do not belong together")
        }
        let count = optimizer.firstMoment.count
        guard header[10] == Int64(count), data.count == headerBytes + 8 * count else {
            throw TrainingError("\(path): expected \(headerBytes + 8 * count) bytes for \(count) parameters, found \(data.count)")
        }
        guard header[8] >= 0 else { throw TrainingError("\(path): negative step \(header[8])") }
        data.withUnsafeBytes { raw in
            let moments = UnsafeRawBufferPointer(rebasing: raw[headerBytes...])
            UnsafeMutableRawBufferPointer(optimizer.firstMoment).copyMemory(from: UnsafeRawBufferPointer(rebasing: moments[0..<4 * count]))
            UnsafeMutableRawBufferPointer(optimizer.secondMoment).copyMemory(from: UnsafeRawBufferPointer(rebasing: moments[4 * count..<8 * count]))
        }
        optimizer.resume(atStep: Int(header[8]))
        return Contents(step: Int(header[8]), seed: UInt64(bitPattern: header[9]))
    }
}
