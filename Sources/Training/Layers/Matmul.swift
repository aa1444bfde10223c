import CBLAS
import GPT

/// A linear layer, out = inp · weightᵀ + bias, on OpenBLAS for both passes.
enum Matmul {
    /// out (N, OC) = inp (N, IC) · weight (OC, IC)ᵀ + bias (OC).
    /// The engine's kernel, so training and inference compute the same numbers.
    static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, N: Int, IC: Int, OC: Int) {
        Kernels.matmul(out, inp, weight, bias, T: N, IC: IC, OC: OC)
    }

    /// dinp (N, IC) = dout (N, OC) · weight (OC, IC)   (overwritten, not accumulated);
    /// dweight (OC, IC) += doutᵀ · inp (N, IC);
    /// dbias (OC) += Σ_n dout[n], as doutᵀ · ones (N).
    static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
                         dbias: UnsafeMutablePointer<Float>?, _ dout: UnsafePointer<Float>,
                         _ inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, ones: UnsafePointer<Float>,
                         N: Int, IC: Int, OC: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(N), Int32(IC), Int32(OC),
                    1, dout, Int32(OC), weight, Int32(IC), 0, dinp, Int32(IC))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(OC), Int32(IC), Int32(N),
                    1, dout, Int32(OC), inp, Int32(IC), 1, dweight, Int32(IC))
        if let dbias {
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(N), Int32(OC), 1, dout, Int32(OC), ones, 1, 1, dbias, 1)
        }
    }
}
