import CBLAS
import GPT

/// Causal multi-head self-attention over B sequences of T tokens.
///
/// Per sequence b and head h, with Q, K, V the head's (T, hs) slices of qkv:
/// att = softmax(Q·Kᵀ / sqrt(hs)) with row t seeing keys 0...t, out = att·V.
/// Each (sequence, head) pair is a chunk for the worker pool: its products
/// are single-threaded sgemms on strided views (leading dimension 3C for
/// qkv, C for out), with the row softmaxes between them.
enum Attention {
    /// out (B, T, C) and att (B, NH, T, T), kept for the backward pass, from qkv (B, T, 3C).
    static func forward(_ out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>,
                        _ qkv: UnsafePointer<Float>, B: Int, T: Int, C: Int, NH: Int) {
        let hs = C / NH
        let scale = 1 / Float(hs).squareRoot()
        Parallel.pool.forEachChunk(B * NH) { pair in
            let (b, h) = pair.quotientAndRemainder(dividingBy: NH)
            let a = att + pair * T * T                // (T, T)
            let q = qkv + b * T * 3 * C + h * hs      // (T, hs), leading dimension 3C
            let k = q + C, v = q + 2 * C
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(hs),
                        scale, q, Int32(3 * C), k, Int32(3 * C), 0, a, Int32(T))
            // Row t: softmax over keys 0...t, zeros after.
            for t in 0..<T { Kernels.softmax(a + t * T, count: t + 1, width: T) }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(hs), Int32(T),
                        1, a, Int32(T), v, Int32(3 * C), 0, out + b * T * C + h * hs, Int32(C))
        }
    }

    /// dqkv (B, T, 3C), overwritten, from dout (B, T, C); datt (B, NH, T, T) is scratch.
    ///
    /// dV = attᵀ·dout and datt = dout·Vᵀ; through the softmax,
    /// dpre = att ⊙ (datt - Σ_j att·datt) per row (masked entries have att = 0,
    /// so they get no gradient); then dQ = dpre·K / sqrt(hs), dK = dpreᵀ·Q / sqrt(hs).
    static func backward(dqkv: UnsafeMutablePointer<Float>, datt: UnsafeMutablePointer<Float>,
                         _ dout: UnsafePointer<Float>, _ qkv: UnsafePointer<Float>, att: UnsafePointer<Float>,
                         B: Int, T: Int, C: Int, NH: Int) {
        let hs = C / NH
        let scale = 1 / Float(hs).squareRoot()
        Parallel.pool.forEachChunk(B * NH) { pair in
            let (b, h) = pair.quotientAndRemainder(dividingBy: NH)
            let a = att + pair * T * T                 // (T, T)
            let da = datt + pair * T * T               // (T, T)
            let d = dout + b * T * C + h * hs          // (T, hs), leading dimension C
            let q = qkv + b * T * 3 * C + h * hs       // (T, hs), leading dimension 3C
            let k = q + C, v = q + 2 * C
            let dq = dqkv + b * T * 3 * C + h * hs
            let dk = dq + C, dv = dq + 2 * C
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(hs),
                        1, d, Int32(C), v, Int32(3 * C), 0, da, Int32(T))
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(T), Int32(hs), Int32(T),
                        1, a, Int32(T), d, Int32(C), 0, dv, Int32(3 * C))
            for t in 0..<T {
                let visible = t + 1
                let aRow = a + t * T, daRow = da + t * T
                let weighted = Vector.dot(aRow, daRow, visible)
                for j in 0..<visible { daRow[j] = aRow[j] * (daRow[j] - weighted) }
                for j in visible..<T { daRow[j] = 0 }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(hs), Int32(T),
                        scale, da, Int32(T), k, Int32(3 * C), 0, dq, Int32(3 * C))
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(T), Int32(hs), Int32(T),
                        scale, da, Int32(T), q, Int32(3 * C), 0, dk, Int32(3 * C))
        }
    }
}
