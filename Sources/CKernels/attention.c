// One query row's attention over a sequence's cached keys and values, for
// one head (decode steps): the scores q · k_j, and after the caller's
// softmax, the mix Σ_j p_j · v_j. Keys and values are rows of the cache,
// `stride` floats apart, the head's channels at the same offset in each.
//
// The plain loops run one long dependency chain per score and per output
// channel; the AVX2 versions take 4 keys at a time (4 independent chains,
// reduced together) and 32 output channels at a time (4 vector chains per
// key), so the multiply-adds' latency overlaps.
#include "gpt_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

static void scores_portable(const float *q, const float *keys, size_t stride, int N, int hs, float scale,
                            float *scores) {
    for (int j = 0; j < N; j++) {
        const float *k = keys + (size_t)j * stride;
        float sum = 0;
        for (int i = 0; i < hs; i++) sum += q[i] * k[i];
        scores[j] = sum * scale;
    }
}

static void mix_portable(const float *p, const float *values, size_t stride, int N, int hs, float *out) {
    for (int i = 0; i < hs; i++) out[i] = 0;
    for (int j = 0; j < N; j++) {
        const float *v = values + (size_t)j * stride;
        for (int i = 0; i < hs; i++) out[i] += p[j] * v[i];
    }
}

#if defined(__x86_64__)
// The sums of 4 vectors' lanes, in that order.
AVX2 static __m128 sum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);
    const __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

AVX2 static void scores_avx2(const float *q, const float *keys, size_t stride, int N, int hs, float scale,
                             float *scores) {
    const int vector = hs / 8 * 8;
    int j = 0;
    for (; j < N; j += 4) {
        // The last group may have fewer than 4 keys: its missing ones repeat the last.
        const float *k[4];
        for (int u = 0; u < 4; u++) k[u] = keys + (size_t)(j + u < N ? j + u : N - 1) * stride;
        __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        for (int i = 0; i < vector; i += 8) {
            const __m256 qv = _mm256_loadu_ps(q + i);
            for (int u = 0; u < 4; u++) s[u] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k[u] + i), s[u]);
        }
        float sums[4];
        _mm_storeu_ps(sums, sum4(s[0], s[1], s[2], s[3]));
        for (int u = 0; u < 4 && j + u < N; u++) {
            for (int i = vector; i < hs; i++) sums[u] += q[i] * k[u][i];
            scores[j + u] = sums[u] * scale;
        }
    }
}

AVX2 static void mix_avx2(const float *p, const float *values, size_t stride, int N, int hs, float *out) {
    int i = 0;
    for (; i + 32 <= hs; i += 32) {
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
        for (int j = 0; j < N; j++) {
            const float *v = values + (size_t)j * stride + i;
            const __m256 w = _mm256_broadcast_ss(p + j);
            s0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v), s0);
            s1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 8), s1);
            s2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 16), s2);
            s3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 24), s3);
        }
        _mm256_storeu_ps(out + i, s0);
        _mm256_storeu_ps(out + i + 8, s1);
        _mm256_storeu_ps(out + i + 16, s2);
        _mm256_storeu_ps(out + i + 24, s3);
    }
    for (; i + 8 <= hs; i += 8) {
        __m256 s = _mm256_setzero_ps();
        for (int j = 0; j < N; j++)
            s = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), _mm256_loadu_ps(values + (size_t)j * stride + i), s);
        _mm256_storeu_ps(out + i, s);
    }
    for (; i < hs; i++) {
        float s = 0;
        for (int j = 0; j < N; j++) s += p[j] * values[(size_t)j * stride + i];
        out[i] = s;
    }
}
#endif

void gpt_attention_scores(const float *q, const float *keys, size_t stride, int N, int hs, float scale, float *scores) {
    gpt_attention_scores_isa(gpt_kernels_isa(), q, keys, stride, N, hs, scale, scores);
}

void gpt_attention_scores_isa(gpt_isa isa, const float *q, const float *keys, size_t stride, int N, int hs,
                              float scale, float *scores) {
#if defined(__x86_64__)
    if (isa >= GPT_ISA_AVX2) {
        scores_avx2(q, keys, stride, N, hs, scale, scores);
        return;
    }
#endif
    scores_portable(q, keys, stride, N, hs, scale, scores);
}

void gpt_attention_mix(const float *p, const float *values, size_t stride, int N, int hs, float *out) {
    gpt_attention_mix_isa(gpt_kernels_isa(), p, values, stride, N, hs, out);
}

void gpt_attention_mix_isa(gpt_isa isa, const float *p, const float *values, size_t stride, int N, int hs,
                           float *out) {
#if defined(__x86_64__)
    if (isa >= GPT_ISA_AVX2) {
        mix_avx2(p, values, stride, N, hs, out);
        return;
    }
#endif
    mix_portable(p, values, stride, N, hs, out);
}
