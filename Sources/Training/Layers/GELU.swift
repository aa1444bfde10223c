import Foundation
import GPT

/// GELU, tanh approximation: gelu(x) = 0.5 · x · (1 + tanh(s · (x + 0.044715 x³))), s = sqrt(2/π).
///
/// Both passes use 0.5 · (1 + tanh u) = σ(2u), so one vector exp serves sixteen lanes.
enum GELU {
    static let s: Float = 0.797_884_56  // sqrt(2/π)

    /// out (count) = gelu(inp): the engine's kernel, on a copy.
    static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
        Parallel.forEachChunk(count, grain: 16384) { range in
            (out + range.lowerBound).update(from: inp + range.lowerBound, count: range.count)
            Kernels.gelu(out + range.lowerBound, count: range.count)
        }
    }

    /// dinout (count) ← gelu'(inp) · dinout, in place.
    ///
    /// With g = σ(2u), u = s · (x + 0.044715 x³):
    /// gelu'(x) = g + x · 2g(1 - g) · s · (1 + 3 · 0.044715 x²),
    /// since d/du 0.5 · (1 + tanh u) = 0.5 · sech² u = 2g(1 - g).
    static func backward(_ dinout: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
        Parallel.forEachChunk(count, grain: 16384) { range in
            var i = range.lowerBound
            while i + 16 <= range.upperBound {
                let x = load(inp + i)
                let x2 = x * x
                let u: Floats = x * (1 + 0.044715 * x2)
                let g: Floats = 1 / (1 + vectorExp(-2 * s * u))
                let slope: Floats = s * (1 + 3 * 0.044715 * x2)
                let grad: Floats = g + 2 * x * g * (1 - g) * slope
                store(grad * load(dinout + i), dinout + i)
                i += 16
            }
            while i < range.upperBound {
                let x = inp[i]
                let x2 = x * x
                let g = 1 / (1 + exp(-2 * s * x * (1 + 0.044715 * x2)))
                dinout[i] *= g + x * 2 * g * (1 - g) * s * (1 + 3 * 0.044715 * x2)
                i += 1
            }
        }
    }
}
