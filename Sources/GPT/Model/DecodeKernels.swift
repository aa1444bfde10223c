import CKernels

/// The attention kernel of a decode step (one token of a sequence, alone or
/// in a batch), one head at a time so that ``WorkerPool`` can spread them over threads:
/// CKernels' `gpt_attention_scores` and `gpt_attention_mix` around the softmax.
/// Its plain twin is `attentionReference` in Kernels.swift. (The products of
/// such passes are `gpt_matmul_rows` in the CKernels target.)
extension Kernels {
    /// Attention of one token to the first N rows of the cache (itself and
    /// what came before it), for head `h` only:
    /// out[h·hs ..< (h+1)·hs] = softmax(q·Kᵀ / √hs) · V.
    /// - q: the token's query row (its first C columns of qkv).
    /// - keys, values: ≥ N rows, the token's own at N - 1.
    /// - scores: scratch of N floats, this head's own.
    static func attendOneToken(_ out: UnsafeMutablePointer<Float>, query q: UnsafePointer<Float>,
                               keys: CacheRows, values: CacheRows,
                               scores: UnsafeMutablePointer<Float>, N: Int, C: Int, NH: Int, head h: Int) {
        let hs = C / NH
        let offset = h * hs
        gpt_attention_scores(q + offset, keys.head(h), keys.rowStride, Int32(N), Int32(hs), 1 / Float(hs).squareRoot(),
                             scores)
        softmax(scores, count: N, width: N)
        gpt_attention_mix(scores, values.head(h), values.rowStride, Int32(N), Int32(hs), out + offset)
    }
}
