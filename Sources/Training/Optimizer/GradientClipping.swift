/// Global gradient-norm clipping: when ‖g‖₂ over all parameters exceeds
/// `maxNorm`, every gradient is scaled by maxNorm / ‖g‖, so one bad batch
/// cannot throw the weights far.
public enum GradientClipping {
    /// ‖g‖₂, accumulated in Double.
    public static func norm(_ gradients: UnsafeBufferPointer<Float>) -> Double {
        let g = gradients.baseAddress!
        // A fixed number of parts, summed in order: the same norm for any thread count.
        let chunks = 16
        var partials = [Double](repeating: 0, count: chunks)
        partials.withUnsafeMutableBufferPointer { partials in
            Parallel.forEachChunk(chunks, grain: 1) { ks in
                for k in ks {
                    let range = k * gradients.count / chunks..<(k + 1) * gradients.count / chunks
                    var sum: Double = 0
                    var start = range.lowerBound
                    // Float blocks of 4096 are exact enough and vectorise; Double between them.
                    while start < range.upperBound {
                        let count = min(4096, range.upperBound - start)
                        sum += Double(Vector.dot(g + start, g + start, count))
                        start += count
                    }
                    partials[k] = sum
                }
            }
        }
        return partials.reduce(0, +).squareRoot()
    }

    /// The factor to multiply the gradients by: 1, or maxNorm / norm above the limit.
    public static func scale(norm: Double, maxNorm: Double) -> Float {
        norm > maxNorm && norm.isFinite ? Float(maxNorm / norm) : 1
    }
}
