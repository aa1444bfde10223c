import Foundation
import GPT

/// AdamW (Loshchilov & Hutter): Adam's update plus weight decay applied to
/// the parameters directly, on the matrices only (`ParameterLayout.takesWeightDecay`).
public final class AdamW {
    public let beta1: Float
    public let beta2: Float
    public let eps: Float
    public let weightDecay: Float
    /// Updates done so far; the bias corrections use it.
    public private(set) var step: Int
    let m: FloatBuffer  // (parameterCount) first moment
    let v: FloatBuffer  // (parameterCount) second moment
    private let layout: ParameterLayout

    public init(layout: ParameterLayout, weightDecay: Float = 0.1, beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8) {
        self.layout = layout
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        step = 0
        m = FloatBuffer(count: layout.count)
        v = FloatBuffer(count: layout.count)
    }

    /// The moments, for saving and restoring (same layout as the parameters).
    public var firstMoment: UnsafeMutableBufferPointer<Float> { m.buffer }
    public var secondMoment: UnsafeMutableBufferPointer<Float> { v.buffer }

    /// Restores the step count of a saved run (the moments are restored through their buffers).
    public func resume(atStep step: Int) { self.step = step }

    /// One update of `parameters` with `gradients` · `gradientScale` (the clipping factor).
    ///
    /// m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g²,
    /// p -= lr · (m̂ / (sqrt(v̂) + eps) + wd · p) with m̂, v̂ bias-corrected.
    public func update(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>,
                       learningRate lr: Float, gradientScale: Float = 1) {
        precondition(parameters.count == layout.count && gradients.count == layout.count)
        step += 1
        let correction1 = 1 - pow(beta1, Float(step))
        let correction2 = 1 - pow(beta2, Float(step))
        let (p, g, m, v) = (parameters.baseAddress!, gradients.baseAddress!, self.m.pointer, self.v.pointer)
        for tensor in ParameterTensor.allCases {
            let range = layout.range(tensor)
            let decay = ParameterLayout.takesWeightDecay(tensor) ? weightDecay : 0
            let constants = Constants(lr: lr, scale: gradientScale, beta1: beta1, beta2: beta2, eps: eps, decay: decay,
                                      correction1: correction1, correction2: correction2)
            Parallel.forEachChunk(range.count, grain: 32768) { chunk in
                let start = range.lowerBound + chunk.lowerBound
                Self.update(p + start, g + start, m + start, v + start, count: chunk.count, constants)
            }
        }
    }

    private struct Constants {
        let lr, scale, beta1, beta2, eps, decay, correction1, correction2: Float
    }

    /// The update of `count` consecutive parameters, sixteen lanes at a time.
    private static func update(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
                               _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                               count: Int, _ k: Constants) {
        var i = 0
        while i + 16 <= count {
            let grad = load(g + i) * k.scale
            let mi = k.beta1 * load(m + i) + (1 - k.beta1) * grad
            let vi = k.beta2 * load(v + i) + (1 - k.beta2) * grad * grad
            let mHat = mi / k.correction1
            let vHat = vi / k.correction2
            let pi = load(p + i)
            store(pi - k.lr * (mHat / (vHat.squareRoot() + k.eps) + k.decay * pi), p + i)
            store(mi, m + i)
            store(vi, v + i)
            i += 16
        }
        while i < count {
            let grad = g[i] * k.scale
            m[i] = k.beta1 * m[i] + (1 - k.beta1) * grad
            v[i] = k.beta2 * v[i] + (1 - k.beta2) * grad * grad
            let mHat = m[i] / k.correction1
            let vHat = v[i] / k.correction2
            p[i] -= k.lr * (mHat / (vHat.squareRoot() + k.eps) + k.decay * p[i])
            i += 1
        }
    }
}
