import Foundation
import GPT
import Testing

/// Finite-difference checks for the backward passes, in the kernels' own
/// Float arithmetic: central differences with a step large enough that float
/// rounding in the objective stays far below the derivative being measured.
enum GradientCheck {
    /// Compares `analytic` with (f(x + eps·e_i) - f(x - eps·e_i)) / 2eps for the
    /// given indices (all when nil), changing `x` in place and restoring it.
    /// Passes when ‖numeric - analytic‖ ≤ tolerance · max(‖numeric‖, ‖analytic‖) + floor.
    static func expectMatches(_ name: String, x: inout [Float], analytic: [Float], indices: [Int]? = nil,
                              eps: Float = 1e-2, tolerance: Double = 1e-2, floor: Double = 1e-5,
                              sourceLocation: SourceLocation = #_sourceLocation,
                              objective: ([Float]) -> Double) {
        let indices = indices ?? Array(x.indices)
        var difference: Double = 0, numericNorm: Double = 0, analyticNorm: Double = 0
        var worst = (index: -1, numeric: 0.0, analytic: 0.0)
        for i in indices {
            let saved = x[i]
            x[i] = saved + eps
            let plus = objective(x)
            x[i] = saved - eps
            let minus = objective(x)
            x[i] = saved
            let numeric = (plus - minus) / (2 * Double(eps))
            let exact = Double(analytic[i])
            if abs(numeric - exact) > abs(worst.numeric - worst.analytic) { worst = (i, numeric, exact) }
            difference += (numeric - exact) * (numeric - exact)
            numericNorm += numeric * numeric
            analyticNorm += exact * exact
        }
        let error = difference.squareRoot()
        let scale = max(numericNorm, analyticNorm).squareRoot()
        #expect(scale > 0 || indices.isEmpty, "\(name): every gradient checked is zero; the check proves nothing",
                sourceLocation: sourceLocation)
        #expect(error <= tolerance * scale + floor,
                "\(name): ‖numeric - analytic‖ = \(error) vs ‖grad‖ = \(scale); worst index \(worst.index): numeric \(worst.numeric), analytic \(worst.analytic)",
                sourceLocation: sourceLocation)
    }

    /// Σ out[i] · weights[i], in Double: a scalar objective whose gradient with
    /// respect to `out` is `weights`.
    static func project(_ out: [Float], _ weights: [Float]) -> Double {
        zip(out, weights).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
}

/// Seeded normal samples for test inputs.
struct Gaussians {
    var random: Xoshiro256StarStar
    init(seed: UInt64) { random = Xoshiro256StarStar(seed: seed) }
    mutating func next(_ count: Int, std: Float = 1, mean: Float = 0) -> [Float] {
        (0..<count).map { _ in mean + std * random.nextGaussian() }
    }
}
