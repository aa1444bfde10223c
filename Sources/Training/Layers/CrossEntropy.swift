import Foundation
import GPT

/// Softmax over the V logits of each position and the cross-entropy of its target.
enum CrossEntropy {
    /// losses (N) = -log softmax(logits[n])[targets[n]]; logits (N, V) become the
    /// probabilities, which the backward pass turns into the logits' gradient.
    ///
    /// The loss is log Σ exp(x - max) - (x_target - max), so a target with a
    /// probability too small for a float still gets a finite loss.
    static func forward(losses: UnsafeMutablePointer<Float>, logits: UnsafeMutablePointer<Float>,
                        targets: UnsafePointer<Int32>, N: Int, V: Int) {
        Parallel.forEachChunk(N, grain: 16) { rows in
            for n in rows {
                let x = logits + n * V
                let maximum = Vector.maximum(x, V)
                let target = x[Int(targets[n])] - maximum
                let m = Floats(repeating: maximum)
                var lanes = Floats()
                var i = 0
                while i + 16 <= V {
                    let e = vectorExp(load(x + i) - m)
                    store(e, x + i)
                    lanes += e
                    i += 16
                }
                var sum = lanes.sum()
                while i < V { x[i] = exp(x[i] - maximum); sum += x[i]; i += 1 }
                let inverse = 1 / sum
                for j in 0..<V { x[j] *= inverse }
                losses[n] = log(sum) - target
            }
        }
    }

    /// probs (N, V) ← ∂loss/∂logits = (probs - onehot(target)) · dloss, in place,
    /// where dloss is the weight of each position in the loss (1/N for the mean).
    static func backward(_ probs: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>,
                         dloss: Float, N: Int, V: Int) {
        Parallel.forEachChunk(N, grain: 16) { rows in
            for n in rows {
                let p = probs + n * V
                p[Int(targets[n])] -= 1
                for j in 0..<V { p[j] *= dloss }
            }
        }
    }
}
