/// LayerNorm over the C channels of each of N rows, eps 1e-5 as in GPT-2.
enum LayerNorm {
    static let eps: Float = 1e-5

    /// out (N, C) = (inp - mean) · rstd · weight + bias, keeping mean (N) and
    /// rstd (N) = 1 / sqrt(var + eps) for the backward pass.
    static func forward(_ out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                        rstd: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, N: Int, C: Int) {
        Parallel.forEachChunk(N, grain: 64) { rows in
            for n in rows {
                let x = inp + n * C
                let y = out + n * C
                let m = Vector.sum(x, C) / Float(C)
                let variance = Vector.squaredDeviation(x, from: m, C) / Float(C)
                let s = 1 / (variance + eps).squareRoot()
                for i in 0..<C { y[i] = (x[i] - m) * s * weight[i] + bias[i] }
                mean[n] = m
                rstd[n] = s
            }
        }
    }

    /// dinp (N, C) += ∂loss/∂inp; dweight (C) += Σ_n norm · dout; dbias (C) += Σ_n dout,
    /// where norm = (inp - mean) · rstd.
    ///
    /// With dnorm = weight · dout, the input gradient is
    /// rstd · (dnorm - mean(dnorm) - norm · mean(dnorm · norm)): the two means
    /// are what the mean and variance of the row pass back.
    static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                         dbias: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                         _ inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int, C: Int) {
        // Each worker sums its rows' dweight and dbias privately (2C floats), then they are added up.
        Parallel.forEachChunk(N, grain: 64, scratchCount: 2 * C, { rows, partial in
            let dnorm = UnsafeMutablePointer<Float>.allocate(capacity: C)  // (C)
            let norm = UnsafeMutablePointer<Float>.allocate(capacity: C)   // (C)
            defer { dnorm.deallocate(); norm.deallocate() }
            let dw = partial, db = partial + C
            for n in rows {
                let x = inp + n * C, d = dout + n * C, dx = dinp + n * C
                let (m, s) = (mean[n], rstd[n])
                for i in 0..<C {
                    norm[i] = (x[i] - m) * s
                    dnorm[i] = weight[i] * d[i]
                    dw[i] += norm[i] * d[i]
                    db[i] += d[i]
                }
                let dnormMean = Vector.sum(dnorm, C) / Float(C)
                let dnormNormMean = Vector.dot(dnorm, norm, C) / Float(C)
                for i in 0..<C { dx[i] += (dnorm[i] - dnormMean - norm[i] * dnormNormMean) * s }
            }
        }, combine: { partial in
            for i in 0..<C {
                dweight[i] += partial[i]
                dbias[i] += partial[C + i]
            }
        })
    }
}
