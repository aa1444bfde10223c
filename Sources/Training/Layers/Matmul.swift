import GPT

/// A linear layer, out = inp · weightᵀ + bias, on the worker pool's sgemm
/// tiles for both passes.
enum Matmul {
    /// out (N, OC) = inp (N, IC) · weight (OC, IC)ᵀ + bias (OC).
    /// The engine's kernel, so training and inference compute the same numbers.
    static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, N: Int, IC: Int, OC: Int) {
        Kernels.matmul(out, inp, weight, bias, T: N, IC: IC, OC: OC)
    }

    /// dinp (N, IC) = dout (N, OC) · weight (OC, IC)   (overwritten, not accumulated);
    /// dweight (OC, IC) += doutᵀ · inp (N, IC);
    /// dbias (OC) += Σ_n dout[n].
    static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                         dbias: UnsafeMutablePointer<Float>?, _ dout: UnsafePointer<Float>,
                         _ inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         N: Int, IC: Int, OC: Int) {
        let pool = WorkerPool.shared
        pool.sgemm(M: N, N: IC, K: OC, dout, lda: OC, weight, ldb: IC, dinp, ldc: IC)
        pool.sgemm(transposeA: true, M: OC, N: IC, K: N, dout, lda: OC, inp, ldb: IC, beta: 1, dweight, ldc: IC)
        if let dbias {
            // Column sums of dout, a block of columns per chunk, rows in order.
            pool.forEachRange(OC, grain: 64) { columns in
                for n in 0..<N {
                    let row = dout + n * OC
                    for o in columns { dbias[o] += row[o] }
                }
            }
        }
    }
}
