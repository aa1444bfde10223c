import Foundation

/// Writes `gpt_checkpoint.bin` files, and makes random models for tests and benchmarks.
public enum CheckpointWriter {
    /// Writes header and parameters to `path` atomically (a temporary file renamed into place),
    /// so an interrupted write never leaves a half checkpoint behind.
    public static func write(config: GPTConfig, parameters: UnsafeBufferPointer<Float>, to path: String) throws {
        guard parameters.count == config.parameterCount else {
            throw CheckpointError(path, "refusing to write \(parameters.count) parameters; the shape needs \(config.parameterCount)")
        }
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw CheckpointError(path, "cannot create \(temporary.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try CheckpointHeader.encode(config).withUnsafeBytes { try handle.write(contentsOf: $0) }
            let chunk = 1 << 22  // floats per write: bounded memory for any model size
            var start = 0
            while start < parameters.count {
                let end = min(start + chunk, parameters.count)
                try handle.write(contentsOf: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: parameters[start..<end])))
                start = end
            }
            try handle.synchronize()
            guard rename(temporary.path, path) == 0 else {
                throw CheckpointError(path, "cannot move the written file into place: \(String(cString: strerror(errno)))")
            }
        } catch let error as CheckpointError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw CheckpointError(path, "cannot write: \(error.localizedDescription)")
        }
    }

    public static func write(config: GPTConfig, parameters: [Float], to path: String) throws {
        try parameters.withUnsafeBufferPointer { try write(config: config, parameters: $0, to: path) }
    }

    /// GPT-2's initialisation: weights ~ N(0, 0.02), residual projections scaled by
    /// 1/sqrt(2L), LayerNorm gains 1, biases 0, padding rows of wte 0.
    /// Deterministic for a given `seed`.
    public static func randomParameters(config: GPTConfig, seed: UInt64) -> [Float] {
        [Float](unsafeUninitializedCapacity: config.parameterCount) { buffer, count in
            randomize(buffer, config: config, seed: seed)
            count = config.parameterCount
        }
    }

    /// Fills `parameters` (all tensors, in file order) as `randomParameters` does, in place.
    public static func randomize(_ parameters: UnsafeMutableBufferPointer<Float>, config: GPTConfig, seed: UInt64) {
        precondition(parameters.count == config.parameterCount)
        var random = Xoshiro256StarStar(seed: seed)
        let residualScale = Float(1 / (2 * Double(config.layers)).squareRoot())
        var offset = 0
        for tensor in ParameterTensor.allCases {
            let count = tensor.shape(config).reduce(1, *)
            let slice = UnsafeMutableBufferPointer(rebasing: parameters[offset..<offset + count])
            offset += count
            if tensor.isLayerNormWeight {
                slice.initialize(repeating: 1)
            } else if tensor.isBias {
                slice.initialize(repeating: 0)
            } else {
                let std: Float = (tensor == .attprojw || tensor == .fcprojw) ? 0.02 * residualScale : 0.02
                let realCount = tensor == .wte ? config.vocabularySize * config.channels : count
                for i in 0..<realCount { slice[i] = std * random.nextGaussian() }
                for i in realCount..<count { slice[i] = 0 }
            }
        }
    }
}
