/// The residual connection, out = x + branch.
///
/// Its backward pass is the identity on both inputs, so the model keeps one
/// running gradient of the residual stream and adds each branch's input
/// gradient into it (see `TrainableGPT.backward`) instead of copying.
enum Residual {
    /// out (count) = x + branch.
    static func forward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                        _ branch: UnsafePointer<Float>, count: Int) {
        Parallel.forEachChunk(count, grain: 16384) { range in
            for i in range { out[i] = x[i] + branch[i] }
        }
    }

    /// dx += dout; dbranch += dout (for callers that keep separate gradients).
    static func backward(dx: UnsafeMutablePointer<Float>, dbranch: UnsafeMutablePointer<Float>,
                         _ dout: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            dx[i] += dout[i]
            dbranch[i] += dout[i]
        }
    }
}
