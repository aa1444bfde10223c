// The product of many activation rows with a weight matrix (prefill):
// register-blocked (6 rows by 16 columns of C in twelve AVX2 registers, or
// by 32 columns, two panels, in twelve AVX-512 registers),
// cache-blocked (256 values of K at a time) and on packed panels, the
// weights widened from their stored type while they are packed.
//
// Every element of C is one chain of fused multiply-adds over k in order,
// from zero or from C's value: the same steps whatever the shape of the
// call, the element's place in it, or the instruction set, so a row gets the
// same bits alone, in a longer prompt, or beside other sequences.
#include "gpt_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))
#endif

enum { MR = GPT_GEMM_ROWS, NR = GPT_GEMM_COLUMNS, KC = GPT_GEMM_DEPTH, MC = 96, NC = 64 };

size_t gpt_gemm_packed_floats(int rows, int K) { return (size_t)(rows + MR - 1) / MR * MR * K; }

void gpt_gemm_pack(const float *A, int lda, int rows, int K, float *packed) {
    for (int i = 0; i < rows; i += MR) {
        float *block = packed + (size_t)i * K;
        const int R = rows - i < MR ? rows - i : MR;
        for (int k = 0; k < K; k++) {
            for (int r = 0; r < R; r++) block[k * MR + r] = A[(size_t)(i + r) * lda + k];
            for (int r = R; r < MR; r++) block[k * MR + r] = 0;
        }
    }
}

#if defined(__x86_64__)
// dst[i][j] = r[j][i]: 8 rows of 8 floats, stored transposed.
AVX2 static void store_transposed8x8(__m256 r[8], float *dst, size_t dst_stride) {
    __m256 t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
}

// dst[i][j] = src[j][i] for an 8 x 8 block of floats.
AVX2 static void transpose8x8(const float *src, size_t src_stride, float *dst, size_t dst_stride) {
    __m256 r[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * src_stride);
    store_transposed8x8(r, dst, dst_stride);
}

// The same for an 8 x 8 block of f16 or bf16 weights, widened on the way
// (exactly, so the panel holds the same floats as through gpt_widen_span_isa).
AVX2 static void widen_transpose8x8(gpt_type type, const uint16_t *src, size_t src_stride, float *dst,
                                    size_t dst_stride) {
    __m256 r[8];
    for (int i = 0; i < 8; i++) {
        const __m128i halves = _mm_loadu_si128((const __m128i *)(src + i * src_stride));
        r[i] = type == GPT_TYPE_F16 ? _mm256_cvtph_ps(halves)
                                    : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(halves), 16));
    }
    store_transposed8x8(r, dst, dst_stride);
}
#endif

// Where W[n][k] is: rows of `type` (row_bytes apart, k contiguous), or for
// f32 any two strides (attention's keys, and its values read transposed).
typedef struct {
    gpt_type type;
    const void *data;
    size_t n_stride, k_stride;  // in floats, for f32
} weight_source;

// W's rows n in [first, first + NR) (fewer at the matrix's end:
// zeros) for k in [k0, k0 + kc), as kc groups of NR floats. Float rows
// along k are transposed where they are, and with AVX2 so are f16 and bf16
// rows, widened on the way; other types (and edges) are widened into `rows`
// (NR x KC floats) first; floats along n are copied as they are.
static void pack_panel(gpt_isa isa, const weight_source *w, int K, int first, int last, int k0, int kc, float *panel,
                       float *rows) {
    const int count = last - first < NR ? last - first : NR;
    if (w->type == GPT_TYPE_F32 && w->k_stride != 1) {  // n contiguous: W is stored transposed
        for (int k = 0; k < kc; k++) {
            const float *source = (const float *)w->data + (size_t)first * w->n_stride + (size_t)(k0 + k) * w->k_stride;
            memcpy(panel + (size_t)k * NR, source, (size_t)count * sizeof(float));
            memset(panel + (size_t)k * NR + count, 0, (size_t)(NR - count) * sizeof(float));
        }
        return;
    }
#if defined(__x86_64__)
    // 16-bit rows go straight from the weights to the panel, 8 x 8 at a time.
    if (isa >= GPT_ISA_AVX2 && (w->type == GPT_TYPE_F16 || w->type == GPT_TYPE_BF16) && count == NR && kc % 8 == 0) {
        const uint16_t *rows16 = (const uint16_t *)w->data + (size_t)first * K + k0;
        for (int k = 0; k < kc; k += 8)
            for (int j = 0; j < NR; j += 8)
                widen_transpose8x8(w->type, rows16 + (size_t)j * K + k, (size_t)K, panel + (size_t)k * NR + j, NR);
        return;
    }
#endif
    const float *source;
    size_t stride;
    if (w->type == GPT_TYPE_F32 && count == NR) {
        source = (const float *)w->data + (size_t)first * w->n_stride + k0;
        stride = w->n_stride;
    } else {
        for (int j = 0; j < count; j++) {
            float *row = rows + (size_t)j * KC;
            if (w->type == GPT_TYPE_F32) {
                memcpy(row, (const float *)w->data + (size_t)(first + j) * w->n_stride + k0, (size_t)kc * sizeof(float));
            } else {
                // Whole blocks for the block types: k0 and kc are multiples of 32.
                gpt_widen_span_isa(isa, w->type, w->data, K, first + j, k0, kc, row);
            }
        }
        for (int j = count; j < NR; j++) memset(rows + (size_t)j * KC, 0, (size_t)kc * sizeof(float));
        source = rows;
        stride = KC;
    }
    int k = 0;
#if defined(__x86_64__)
    if (isa >= GPT_ISA_AVX2)
        for (; k + 8 <= kc; k += 8)
            for (int j = 0; j < NR; j += 8) transpose8x8(source + j * stride + k, stride, panel + (size_t)k * NR + j, NR);
#endif
    for (; k < kc; k++)
        for (int j = 0; j < NR; j++) panel[(size_t)k * NR + j] = source[j * stride + k];
}

// C block (MR, NR) = (from zero, or from C when `load`) + Σ over kc of a · w.
// `rows` and `columns` say how much of the block lies inside C.
static void block_portable(int kc, const float *a, const float *w, float *c, int ldc, int load, int rows, int columns) {
    float acc[MR][NR];
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) acc[r][j] = load && r < rows && j < columns ? c[(size_t)r * ldc + j] : 0;
    for (int k = 0; k < kc; k++)
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++) acc[r][j] = fmaf(a[k * MR + r], w[k * NR + j], acc[r][j]);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < columns; j++) c[(size_t)r * ldc + j] = acc[r][j];
}

#if defined(__x86_64__)
AVX2 static void block_avx2(int kc, const float *a, const float *w, float *c, int ldc, int load, int rows, int columns) {
    // A block at C's edge goes through a full-size copy, so the kernel has one shape.
    float edge[MR * NR];
    float *target = c;
    int stride = ldc;
    if (rows < MR || columns < NR) {
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++) edge[r * NR + j] = load && r < rows && j < columns ? c[(size_t)r * ldc + j] : 0;
        target = edge;
        stride = NR;
        load = 1;
    }
    __m256 acc[MR][2];
    for (int r = 0; r < MR; r++) {
        acc[r][0] = load ? _mm256_loadu_ps(target + (size_t)r * stride) : _mm256_setzero_ps();
        acc[r][1] = load ? _mm256_loadu_ps(target + (size_t)r * stride + 8) : _mm256_setzero_ps();
    }
#pragma clang loop unroll_count(4)
    for (int k = 0; k < kc; k++) {
        const __m256 w0 = _mm256_loadu_ps(w + k * NR), w1 = _mm256_loadu_ps(w + k * NR + 8);
        for (int r = 0; r < MR; r++) {
            const __m256 x = _mm256_broadcast_ss(a + k * MR + r);
            acc[r][0] = _mm256_fmadd_ps(x, w0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, w1, acc[r][1]);
        }
    }
    for (int r = 0; r < MR; r++) {
        _mm256_storeu_ps(target + (size_t)r * stride, acc[r][0]);
        _mm256_storeu_ps(target + (size_t)r * stride + 8, acc[r][1]);
    }
    if (target == edge)
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < columns; j++) c[(size_t)r * ldc + j] = edge[r * NR + j];
}

// The same for two panels side by side, w0's 16 columns and then w1's, all
// 32 inside C (rows may be fewer): twice the columns for each broadcast of
// A, and each of A's and the panels' loads feeds twice the multiply-adds.
AVX512 static void block_avx512(int kc, const float *a, const float *w0, const float *w1, float *c, int ldc, int load,
                                int rows) {
    __m512 acc[MR][2];
    for (int r = 0; r < MR; r++) {
        const int from_c = load && r < rows;
        acc[r][0] = from_c ? _mm512_loadu_ps(c + (size_t)r * ldc) : _mm512_setzero_ps();
        acc[r][1] = from_c ? _mm512_loadu_ps(c + (size_t)r * ldc + NR) : _mm512_setzero_ps();
    }
#pragma clang loop unroll_count(4)
    for (int k = 0; k < kc; k++) {
        const __m512 v0 = _mm512_loadu_ps(w0 + k * NR), v1 = _mm512_loadu_ps(w1 + k * NR);
        for (int r = 0; r < MR; r++) {
            const __m512 x = _mm512_set1_ps(a[k * MR + r]);
            acc[r][0] = _mm512_fmadd_ps(x, v0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, v1, acc[r][1]);
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm512_storeu_ps(c + (size_t)r * ldc, acc[r][0]);
        _mm512_storeu_ps(c + (size_t)r * ldc + NR, acc[r][1]);
    }
}
#endif

size_t gpt_gemm_scratch_floats(void) { return (size_t)KC * NC + (size_t)NR * KC; }

// Loops, inner to outer: a register block of MR rows by one panel of NR
// columns over KC values of k (the panel, KC · NR floats, stays in L1);
// every MR rows of an MC-row block (MC · KC floats of A, in L2) against
// that panel; every panel of NC columns (packed once per KC, in L2); every
// MC-row block; every KC; every NC columns.
static void gemm(gpt_isa isa, const weight_source *w, const float *packed, int rows, int K, int first, int last,
                 float *C, int ldc, int accumulate, float *scratch) {
    float *panels = scratch, *row = scratch + (size_t)KC * NC;
    for (int jb = first; jb < last; jb += NC) {
        const int jl = last - jb < NC ? last : jb + NC;
        for (int k0 = 0; k0 < K; k0 += KC) {
            const int kc = K - k0 < KC ? K - k0 : KC;
            const int load = accumulate || k0 > 0;
            for (int j = jb; j < jl; j += NR) pack_panel(isa, w, K, j, jl, k0, kc, panels + (size_t)(j - jb) * KC, row);
            for (int ib = 0; ib < rows; ib += MC) {
                const int il = rows - ib < MC ? rows : ib + MC;
                for (int j = jb; j < jl; j += NR) {
                    const float *panel = panels + (size_t)(j - jb) * KC;
                    const int columns = jl - j < NR ? jl - j : NR;
                    // Two whole panels at a time with AVX-512.
                    const int pair = isa >= GPT_ISA_AVX512 && jl - j >= 2 * NR;
                    for (int i = ib; i < il; i += MR) {
                        const float *a = packed + (size_t)i * K + (size_t)k0 * MR;
                        float *c = C + (size_t)i * ldc + j;
                        const int R = il - i < MR ? il - i : MR;
#if defined(__x86_64__)
                        if (pair) {
                            block_avx512(kc, a, panel, panel + (size_t)NR * KC, c, ldc, load, R);
                            continue;
                        }
                        if (isa >= GPT_ISA_AVX2) {
                            block_avx2(kc, a, panel, c, ldc, load, R, columns);
                            continue;
                        }
#endif
                        block_portable(kc, a, panel, c, ldc, load, R, columns);
                    }
                    if (pair) j += NR;
                }
            }
        }
    }
}

void gpt_gemm(gpt_type type, const float *packed, int rows, int K, const void *W, int first, int last, float *C,
              int ldc, int accumulate, float *scratch) {
    gpt_gemm_isa(gpt_kernels_isa(), type, packed, rows, K, W, first, last, C, ldc, accumulate, scratch);
}

void gpt_gemm_isa(gpt_isa isa, gpt_type type, const float *packed, int rows, int K, const void *W, int first,
                  int last, float *C, int ldc, int accumulate, float *scratch) {
    const weight_source w = {type, W, (size_t)K, 1};
    gemm(isa, &w, packed, rows, K, first, last, C, ldc, accumulate, scratch);
}

void gpt_gemm_strided(const float *packed, int rows, int K, const float *W, size_t n_stride, size_t k_stride,
                      int first, int last, float *C, int ldc, int accumulate, float *scratch) {
    gpt_gemm_strided_isa(gpt_kernels_isa(), packed, rows, K, W, n_stride, k_stride, first, last, C, ldc, accumulate,
                         scratch);
}

void gpt_gemm_strided_isa(gpt_isa isa, const float *packed, int rows, int K, const float *W, size_t n_stride,
                          size_t k_stride, int first, int last, float *C, int ldc, int accumulate, float *scratch) {
    const weight_source w = {GPT_TYPE_F32, W, n_stride, k_stride};
    gemm(isa, &w, packed, rows, K, first, last, C, ldc, accumulate, scratch);
}
