// The kernels of gpt_kernels.h: a portable C version of each, and an AVX2 +
// FMA + F16C version chosen at start-up when the CPU has those. The package
// is built for the baseline x86-64 (or arm64); only the functions marked
// AVX2 below are compiled for more, so the binary runs anywhere.
#include "gpt_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

// MARK: formats

typedef struct {
    uint16_t d;  // float16 scale
    int8_t qs[32];
} block_q8_0;

typedef struct {
    uint16_t d;
    uint8_t qs[16];  // weight j in the low nibble of byte j, weight j + 16 in its high nibble
} block_q4_0;

// An activation block for the integer products: 16-bit values, so that
// rounding the activations costs no accuracy worth measuring (1/65534 of
// the block's largest value), and a float scale.
typedef struct {
    float d;
    int16_t qs[32];
} block_act;

_Static_assert(sizeof(block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(block_act) == 68, "activation block");

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1F;
    uint32_t mantissa = h & 0x3FF;
    uint32_t bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000 | (mantissa << 13);  // inf, nan
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        exponent = 113;
        while (!(mantissa & 0x400)) { mantissa <<= 1; exponent--; }
        bits = sign | (exponent << 23) | ((mantissa & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float bf16_to_float(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

size_t gpt_row_bytes(gpt_type type, int columns) {
    switch (type) {
    case GPT_TYPE_F32: return (size_t)columns * 4;
    case GPT_TYPE_F16:
    case GPT_TYPE_BF16: return (size_t)columns * 2;
    case GPT_TYPE_Q8_0: return (size_t)columns / 32 * sizeof(block_q8_0);
    case GPT_TYPE_Q4_0: return (size_t)columns / 32 * sizeof(block_q4_0);
    }
    return 0;
}

size_t gpt_quantized_activation_bytes(int columns) { return (size_t)columns / 32 * sizeof(block_act); }

// MARK: dispatch

#if defined(__x86_64__)
static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
#else
static int cpu_has_avx2(void) { return 0; }
#endif

gpt_isa gpt_kernels_isa(void) {
    // Worked out once; threads that race here all find the same answer.
    static int best = -1;
    if (best < 0) best = cpu_has_avx2() ? GPT_ISA_AVX2 : GPT_ISA_PORTABLE;
    return (gpt_isa)best;
}

// MARK: portable kernels
// Each sums in eight interleaved partial sums, which compilers vectorise.

// A row of `type` weights, each widened by WIDEN, dotted with floats.
#define DOT_PORTABLE(name, type, WIDEN)                                                     \
    static float name(const type *w, const float *x, int n) {                              \
        float s[8] = {0};                                                                   \
        int i = 0;                                                                          \
        for (; i + 8 <= n; i += 8)                                                          \
            for (int k = 0; k < 8; k++) s[k] += WIDEN(w[i + k]) * x[i + k];                 \
        float total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));   \
        for (; i < n; i++) total += WIDEN(w[i]) * x[i];                                     \
        return total;                                                                       \
    }

#define AS_FLOAT(v) (v)
DOT_PORTABLE(dot_f32_portable, float, AS_FLOAT)
DOT_PORTABLE(dot_f16_portable, uint16_t, half_to_float)
DOT_PORTABLE(dot_bf16_portable, uint16_t, bf16_to_float)

static float dot_q8_0_portable(const block_q8_0 *w, const block_act *x, int blocks) {
    float total = 0;
    for (int b = 0; b < blocks; b++) {
        int32_t sum = 0;
        for (int k = 0; k < 32; k++) sum += (int32_t)w[b].qs[k] * x[b].qs[k];
        total += half_to_float(w[b].d) * x[b].d * (float)sum;
    }
    return total;
}

static float dot_q4_0_portable(const block_q4_0 *w, const block_act *x, int blocks) {
    float total = 0;
    for (int b = 0; b < blocks; b++) {
        int32_t sum = 0;
        for (int k = 0; k < 16; k++) {
            sum += ((w[b].qs[k] & 0x0F) - 8) * x[b].qs[k];
            sum += ((w[b].qs[k] >> 4) - 8) * x[b].qs[k + 16];
        }
        total += half_to_float(w[b].d) * x[b].d * (float)sum;
    }
    return total;
}

// MARK: AVX2 kernels
// Each reads its weight rows front to back (streams that the hardware
// prefetcher follows).

#if defined(__x86_64__)
AVX2 static float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static __m256 load_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

AVX2 static __m256 load_bf16(const uint16_t *p) {
    __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

// A row of `type` weights dotted with one or two tokens, for a step or a
// batch of decode steps: each weight load serves both tokens. One row at a
// time, so a thread reads its weights as one sequential stream, which the
// hardware prefetcher follows best (four rows side by side, four short
// streams, read f16 weights 40% slower). Four 8-lane sums per (row, token)
// hide the latency of the multiply-adds; they are added pairwise, then
// their lanes, then the scalar tail: the same steps whatever U, so a token
// gets the same bits alone or in a batch. Always inlined with constant U.
#define ROWS_AVX2(name, type, LOAD8, WIDEN)                                                         \
    AVX2 static inline __attribute__((always_inline)) void name(                                    \
        const type *w, const float *x, size_t x_stride, int n, const int U, float *out, size_t out_stride) { \
        __m256 sum[2][4];                                                                           \
        for (int u = 0; u < U; u++)                                                                 \
            for (int a = 0; a < 4; a++) sum[u][a] = _mm256_setzero_ps();                            \
        int i = 0;                                                                                  \
        for (; i + 32 <= n; i += 32)                                                                \
            for (int a = 0; a < 4; a++) {                                                           \
                const __m256 wv = LOAD8(w + i + 8 * a);                                             \
                for (int u = 0; u < U; u++)                                                         \
                    sum[u][a] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + u * x_stride + i + 8 * a), sum[u][a]); \
            }                                                                                       \
        for (; i + 8 <= n; i += 8) {                                                                \
            const __m256 wv = LOAD8(w + i);                                                         \
            for (int u = 0; u < U; u++) sum[u][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + u * x_stride + i), sum[u][0]); \
        }                                                                                           \
        for (int u = 0; u < U; u++) {                                                               \
            const __m256 pairs = _mm256_add_ps(_mm256_add_ps(sum[u][0], sum[u][1]), _mm256_add_ps(sum[u][2], sum[u][3])); \
            float total = horizontal_sum(pairs);                                                    \
            for (int j = i; j < n; j++) total = fmaf(WIDEN(w[j]), x[u * x_stride + j], total);      \
            out[u * out_stride] = total;                                                            \
        }                                                                                           \
    }                                                                                               \
                                                                                                    \
    /* out[t][first ..< last] for every token t < T, bias added. */                                 \
    AVX2 static void name##_all(const type *w, const float *x, const float *bias, float *out, int T, \
                                int IC, int OC, int first, int last) {                              \
        for (int o = first; o < last; o++) {                                                        \
            int t = 0;                                                                              \
            for (; t + 2 <= T; t += 2) name(w + (size_t)o * IC, x + (size_t)t * IC, IC, IC, 2, out + (size_t)t * OC + o, OC); \
            if (t < T) name(w + (size_t)o * IC, x + (size_t)t * IC, IC, IC, 1, out + (size_t)t * OC + o, OC); \
        }                                                                                           \
        if (bias)                                                                                   \
            for (int t = 0; t < T; t++)                                                             \
                for (int p = first; p < last; p++) out[(size_t)t * OC + p] += bias[p];              \
    }

ROWS_AVX2(rows_f32_avx2, float, _mm256_loadu_ps, AS_FLOAT)
ROWS_AVX2(rows_f16_avx2, uint16_t, load_f16, _cvtsh_ss)
ROWS_AVX2(rows_bf16_avx2, uint16_t, load_bf16, bf16_to_float)

// A block's 32 weights as 16-bit integers: weights 0-15, then 16-31.
typedef struct {
    __m256i low, high;
} block_words;

AVX2 static inline block_words words_q8_0(const int8_t *qs) {
    return (block_words){_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)qs)),
                         _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(qs + 16)))};
}

// Bytes widened to 16 bits first, so each nibble is one AND or shift away
// (fewer shuffles than unpacking to bytes and widening twice).
AVX2 static inline block_words words_q4_0(const uint8_t *qs) {
    const __m256i bytes = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)qs));
    const __m256i eight = _mm256_set1_epi16(8);
    return (block_words){_mm256_sub_epi16(_mm256_and_si256(bytes, _mm256_set1_epi16(0x0F)), eight),
                         _mm256_sub_epi16(_mm256_srli_epi16(bytes, 4), eight)};
}

// Σ w·x over a block: 32 16-bit weights times 32 16-bit activations, as 8
// int32 lanes turned to floats (each lane at most 4 · 128 · 32767, far from
// overflow).
AVX2 static inline __m256 dot_block(block_words w, const int16_t *x) {
    const __m256i low = _mm256_madd_epi16(w.low, _mm256_loadu_si256((const __m256i *)x));
    const __m256i high = _mm256_madd_epi16(w.high, _mm256_loadu_si256((const __m256i *)(x + 16)));
    return _mm256_cvtepi32_ps(_mm256_add_epi32(low, high));
}

AVX2 static __m256i unpack_q4_0(const uint8_t *qs) {
    __m128i packed = _mm_loadu_si128((const __m128i *)qs);
    __m256i nibbles = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);  // high half: the high nibbles
    return _mm256_sub_epi8(_mm256_and_si256(nibbles, _mm256_set1_epi8(0x0F)), _mm256_set1_epi8(8));
}

// The product of a weight block's float16 scale and an activation block's
// scale, in every lane. (The scalar _cvtsh_ss compiles to an insert into
// whatever register is at hand, here the accumulator, so each block's scale
// waited for the previous block's FMA; a broadcast has no such dependency.)
AVX2 static inline __m256 block_scale(uint16_t weight_scale, const float *activation_scale) {
    return _mm256_mul_ps(_mm256_cvtph_ps(_mm_set1_epi16((short)weight_scale)), _mm256_broadcast_ss(activation_scale));
}

// A row of blocks dotted with quantized activations: WORDS gives a block's 32 weights.
#define DOT_BLOCKS_AVX2(name, block_type, WORDS)                                           \
    AVX2 static float name(const block_type *w, const block_act *x, int blocks) {          \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;                                           \
        int b = 0;                                                                          \
        for (; b + 2 <= blocks; b += 2) {                                                   \
            __m256 s0 = dot_block(WORDS(w[b].qs), x[b].qs);                                \
            __m256 s1 = dot_block(WORDS(w[b + 1].qs), x[b + 1].qs);                        \
            a0 = _mm256_fmadd_ps(block_scale(w[b].d, &x[b].d), s0, a0);                     \
            a1 = _mm256_fmadd_ps(block_scale(w[b + 1].d, &x[b + 1].d), s1, a1);             \
        }                                                                                   \
        for (; b < blocks; b++) {                                                           \
            __m256 s = dot_block(WORDS(w[b].qs), x[b].qs);                                 \
            a0 = _mm256_fmadd_ps(block_scale(w[b].d, &x[b].d), s, a0);                      \
        }                                                                                   \
        return horizontal_sum(_mm256_add_ps(a0, a1));                                       \
    }

DOT_BLOCKS_AVX2(dot_q8_0_avx2, block_q8_0, words_q8_0)
DOT_BLOCKS_AVX2(dot_q4_0_avx2, block_q4_0, words_q4_0)

// Widening (embedding rows, the gemm's panels): eight values per instruction group.
AVX2 static void widen_row_avx2(gpt_type type, const char *row, float *y, int IC) {
    int i = 0;
    switch (type) {
    case GPT_TYPE_F32:
        memcpy(y, row, (size_t)IC * 4);
        return;
    case GPT_TYPE_F16:
        for (; i + 8 <= IC; i += 8) _mm256_storeu_ps(y + i, load_f16((const uint16_t *)row + i));
        for (; i < IC; i++) y[i] = _cvtsh_ss(((const uint16_t *)row)[i]);
        return;
    case GPT_TYPE_BF16:
        for (; i + 8 <= IC; i += 8) _mm256_storeu_ps(y + i, load_bf16((const uint16_t *)row + i));
        for (; i < IC; i++) y[i] = bf16_to_float(((const uint16_t *)row)[i]);
        return;
    case GPT_TYPE_Q8_0:
    case GPT_TYPE_Q4_0:
        for (int b = 0; b < IC / 32; b++) {
            __m256i q;
            float d;
            if (type == GPT_TYPE_Q8_0) {
                const block_q8_0 *block = (const block_q8_0 *)row + b;
                q = _mm256_loadu_si256((const __m256i *)block->qs);
                d = _cvtsh_ss(block->d);
            } else {
                const block_q4_0 *block = (const block_q4_0 *)row + b;
                q = unpack_q4_0(block->qs);
                d = _cvtsh_ss(block->d);
            }
            const __m256 scale = _mm256_set1_ps(d);
            __m128i low = _mm256_castsi256_si128(q), high = _mm256_extracti128_si256(q, 1);
            _mm256_storeu_ps(y + b * 32, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(low))));
            _mm256_storeu_ps(y + b * 32 + 8, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(low, 8)))));
            _mm256_storeu_ps(y + b * 32 + 16, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(high))));
            _mm256_storeu_ps(y + b * 32 + 24, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(high, 8)))));
        }
        return;
    }
}
#endif

// MARK: entry points

// One (row, token) product; the row pointer is to its first byte.
static float dot_row(gpt_type type, int use_avx2, const void *row, const void *x, int IC) {
#if defined(__x86_64__)
    if (use_avx2) {
        switch (type) {
        case GPT_TYPE_Q8_0: return dot_q8_0_avx2(row, x, IC / 32);
        case GPT_TYPE_Q4_0: return dot_q4_0_avx2(row, x, IC / 32);
        default: break;  // float rows go through rows_*_avx2_all
        }
    }
#endif
    (void)use_avx2;
    switch (type) {
    case GPT_TYPE_F32: return dot_f32_portable(row, x, IC);
    case GPT_TYPE_F16: return dot_f16_portable(row, x, IC);
    case GPT_TYPE_BF16: return dot_bf16_portable(row, x, IC);
    case GPT_TYPE_Q8_0: return dot_q8_0_portable(row, x, IC / 32);
    case GPT_TYPE_Q4_0: return dot_q4_0_portable(row, x, IC / 32);
    }
    return 0;
}

void gpt_matmul_rows(gpt_type type, float *out, const void *x, const void *weight, const float *bias,
                     int T, int IC, int OC, int first, int last) {
    gpt_matmul_rows_isa(gpt_kernels_isa(), type, out, x, weight, bias, T, IC, OC, first, last);
}

void gpt_matmul_rows_isa(gpt_isa isa, gpt_type type, float *out, const void *x, const void *weight,
                         const float *bias, int T, int IC, int OC, int first, int last) {
    const int use_avx2 = isa == GPT_ISA_AVX2;
    const size_t row_bytes = gpt_row_bytes(type, IC);
    const int quantized = type == GPT_TYPE_Q8_0 || type == GPT_TYPE_Q4_0;
    const size_t x_bytes = quantized ? gpt_quantized_activation_bytes(IC) : (size_t)IC * 4;
#if defined(__x86_64__)
    if (use_avx2 && !quantized) {
        switch (type) {
        case GPT_TYPE_F32: rows_f32_avx2_all(weight, x, bias, out, T, IC, OC, first, last); return;
        case GPT_TYPE_F16: rows_f16_avx2_all(weight, x, bias, out, T, IC, OC, first, last); return;
        case GPT_TYPE_BF16: rows_bf16_avx2_all(weight, x, bias, out, T, IC, OC, first, last); return;
        default: break;
        }
    }
#endif
    for (int o = first; o < last; o++) {
        const char *row = (const char *)weight + (size_t)o * row_bytes;
        const float b = bias ? bias[o] : 0;
        // The row comes from memory for the first token and from the L1 cache for the others.
        for (int t = 0; t < T; t++) {
            out[(size_t)t * OC + o] = dot_row(type, use_avx2, row, (const char *)x + (size_t)t * x_bytes, IC) + b;
        }
    }
}

void gpt_quantize_activations(const float *x, void *out, int rows, int columns) {
    block_act *blocks = out;
    const int per_row = columns / 32;
    for (int r = 0; r < rows; r++) {
        for (int b = 0; b < per_row; b++) {
            const float *v = x + (size_t)r * columns + b * 32;
            block_act *block = &blocks[(size_t)r * per_row + b];
            float largest = 0;
            for (int k = 0; k < 32; k++) largest = fmaxf(largest, fabsf(v[k]));
            block->d = largest / 32767;
            const float inverse = largest > 0 ? 32767 / largest : 0;
            for (int k = 0; k < 32; k++) block->qs[k] = (int16_t)lrintf(v[k] * inverse);
        }
    }
}

void gpt_widen_rows(gpt_type type, const void *weight, float *out, int IC, int first, int last) {
    gpt_widen_rows_isa(gpt_kernels_isa(), type, weight, out, IC, first, last);
}

void gpt_widen_rows_isa(gpt_isa isa, gpt_type type, const void *weight, float *out, int IC, int first, int last) {
    const size_t row_bytes = gpt_row_bytes(type, IC);
#if defined(__x86_64__)
    if (isa == GPT_ISA_AVX2) {
        for (int o = first; o < last; o++) {
            widen_row_avx2(type, (const char *)weight + (size_t)o * row_bytes, out + (size_t)(o - first) * IC, IC);
        }
        return;
    }
#endif
    for (int o = first; o < last; o++) {
        const char *row = (const char *)weight + (size_t)o * row_bytes;
        float *y = out + (size_t)(o - first) * IC;
        switch (type) {
        case GPT_TYPE_F32:
            memcpy(y, row, (size_t)IC * 4);
            break;
        case GPT_TYPE_F16:
            for (int i = 0; i < IC; i++) y[i] = half_to_float(((const uint16_t *)row)[i]);
            break;
        case GPT_TYPE_BF16:
            for (int i = 0; i < IC; i++) y[i] = bf16_to_float(((const uint16_t *)row)[i]);
            break;
        case GPT_TYPE_Q8_0:
            for (int b = 0; b < IC / 32; b++) {
                const block_q8_0 *block = (const block_q8_0 *)row + b;
                const float d = half_to_float(block->d);
                for (int k = 0; k < 32; k++) y[b * 32 + k] = d * block->qs[k];
            }
            break;
        case GPT_TYPE_Q4_0:
            for (int b = 0; b < IC / 32; b++) {
                const block_q4_0 *block = (const block_q4_0 *)row + b;
                const float d = half_to_float(block->d);
                for (int k = 0; k < 16; k++) {
                    y[b * 32 + k] = d * ((block->qs[k] & 0x0F) - 8);
                    y[b * 32 + k + 16] = d * ((block->qs[k] >> 4) - 8);
                }
            }
            break;
        }
    }
}
