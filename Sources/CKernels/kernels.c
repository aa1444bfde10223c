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

// The engine's layout of q8_0 and q4_0 matrices: rows interleaved in
// groups of 8, so that a group's blocks of one column range sit together,
// their 8 scales first. A decode step then reads its weights as one stream
// and turns 8 rows' integer sums into floats with one instruction each.
typedef struct {
    uint16_t d[8];
    int8_t qs[8][32];
} block_q8_0x8;

typedef struct {
    uint16_t d[8];
    uint8_t qs[8][16];
} block_q4_0x8;

// Activation blocks for the integer products. For q8_0 weights, 16-bit
// values: rounding the activations to 8 bits moved the bundled model's
// greedy tokens too much, and 16 bits cost no accuracy worth measuring
// (1/65534 of the block's largest value).
typedef struct {
    float d;
    int16_t qs[32];
} block_act16;

// For q4_0 weights, 8-bit values (1/254 of the block's largest value, small
// next to the weights' own rounding), as the byte products want them, and
// 8 · Σ qs: the products take the nibbles as stored (0-15) and this removes
// their offset of 8.
typedef struct {
    float d;
    int32_t offset;
    int8_t qs[32];
} block_act8;

_Static_assert(sizeof(block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(block_q8_0x8) == 8 * 34, "q8_0 group");
_Static_assert(sizeof(block_q4_0x8) == 8 * 18, "q4_0 group");
_Static_assert(sizeof(block_act16) == 68, "16-bit activation block");
_Static_assert(sizeof(block_act8) == 40, "8-bit activation block");

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
    case GPT_TYPE_Q8_0:
    case GPT_TYPE_Q8_0_X8: return (size_t)columns / 32 * sizeof(block_q8_0);
    case GPT_TYPE_Q4_0:
    case GPT_TYPE_Q4_0_X8: return (size_t)columns / 32 * sizeof(block_q4_0);
    }
    return 0;
}

size_t gpt_interleaved_bytes(gpt_type type, int columns, int rows) {
    return (size_t)(rows + 7) / 8 * 8 * gpt_row_bytes(type, columns);
}

// Where block b of row o of a q8_0 or q4_0 matrix keeps its scale and
// quants, in either layout (GGUF's rows, or interleaved in groups of 8).
static const uint16_t *block_at(gpt_type type, const void *w, int blocks, int o, int b, const void **qs) {
    switch (type) {
    case GPT_TYPE_Q8_0: {
        const block_q8_0 *block = (const block_q8_0 *)w + (size_t)o * blocks + b;
        *qs = block->qs;
        return &block->d;
    }
    case GPT_TYPE_Q4_0: {
        const block_q4_0 *block = (const block_q4_0 *)w + (size_t)o * blocks + b;
        *qs = block->qs;
        return &block->d;
    }
    case GPT_TYPE_Q8_0_X8: {
        const block_q8_0x8 *group = (const block_q8_0x8 *)w + (size_t)(o / 8) * blocks + b;
        *qs = group->qs[o % 8];
        return &group->d[o % 8];
    }
    default: {
        const block_q4_0x8 *group = (const block_q4_0x8 *)w + (size_t)(o / 8) * blocks + b;
        *qs = group->qs[o % 8];
        return &group->d[o % 8];
    }
    }
}

static int is_q4_0(gpt_type type) { return type == GPT_TYPE_Q4_0 || type == GPT_TYPE_Q4_0_X8; }

// In tiles of 32 x 32, whose rows and columns both stay in cache.
#define TRANSPOSE(T)                                                                                   \
    for (int r0 = 0; r0 < rows; r0 += 32)                                                              \
        for (int c0 = 0; c0 < columns; c0 += 32) {                                                     \
            const int rl = rows - r0 < 32 ? rows : r0 + 32, cl = columns - c0 < 32 ? columns : c0 + 32; \
            for (int r = r0; r < rl; r++)                                                              \
                for (int c = c0; c < cl; c++)                                                          \
                    ((T *)target)[(size_t)c * rows + r] = ((const T *)source)[(size_t)r * columns + c]; \
        }

void gpt_transpose(const void *source, void *target, int rows, int columns, int element_bytes) {
    if (element_bytes == 4) {
        TRANSPOSE(uint32_t)
    } else {
        TRANSPOSE(uint16_t)
    }
}
#undef TRANSPOSE

void gpt_interleave_rows(gpt_type type, const void *weight, void *out, int columns, int rows) {
    const int blocks = columns / 32;
    const gpt_type interleaved = type == GPT_TYPE_Q8_0 ? GPT_TYPE_Q8_0_X8 : GPT_TYPE_Q4_0_X8;
    memset(out, 0, gpt_interleaved_bytes(type, columns, rows));  // padding rows: scale 0
    for (int o = 0; o < rows; o++) {
        for (int b = 0; b < blocks; b++) {
            const void *from, *to;
            const uint16_t *from_scale = block_at(type, weight, blocks, o, b, &from);
            // block_at hands out read-only places; `out` is ours to write.
            uint16_t *to_scale = (uint16_t *)block_at(interleaved, out, blocks, o, b, &to);
            *to_scale = *from_scale;
            memcpy((void *)to, from, is_q4_0(type) ? 16 : 32);
        }
    }
}

size_t gpt_quantized_activation_bytes(gpt_type type, int columns) {
    switch (type) {
    case GPT_TYPE_Q8_0_X8: return (size_t)columns / 32 * sizeof(block_act16);
    case GPT_TYPE_Q4_0_X8: return (size_t)columns / 32 * sizeof(block_act8);
    default: return 0;
    }
}

// MARK: dispatch

#if defined(__x86_64__)
// The runtime's checks include the operating system's support: AVX-512F
// only counts when the kernel saves the 512-bit registers.
static gpt_isa cpu_best_isa(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || !__builtin_cpu_supports("f16c"))
        return GPT_ISA_PORTABLE;
    return __builtin_cpu_supports("avx512f") ? GPT_ISA_AVX512 : GPT_ISA_AVX2;
}
#else
static gpt_isa cpu_best_isa(void) { return GPT_ISA_PORTABLE; }
#endif

// Worked out once; threads that race here all find the same answer.
static _Atomic int best_isa = -1, chosen_isa = -1;

gpt_isa gpt_kernels_best_isa(void) {
    if (best_isa < 0) best_isa = cpu_best_isa();
    return (gpt_isa)best_isa;
}

gpt_isa gpt_kernels_isa(void) {
    if (chosen_isa < 0) chosen_isa = gpt_kernels_best_isa();
    return (gpt_isa)chosen_isa;
}

gpt_isa gpt_kernels_use_isa(gpt_isa isa) {
    const gpt_isa best = gpt_kernels_best_isa();
    chosen_isa = isa < best ? isa : best;
    return (gpt_isa)chosen_isa;
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

// Row o of an interleaved q8_0 or q4_0 matrix dotted with quantized
// activations: each block's integer sum, made a float and scaled, added to
// one sum in block order. The AVX2 kernels take the same steps for 8 rows
// side by side, so both give the same bits.
static float dot_x8_portable(gpt_type type, const void *w, int blocks, int o, const void *x) {
    float total = 0;
    for (int b = 0; b < blocks; b++) {
        const void *qs;
        const float weight_scale = half_to_float(*block_at(type, w, blocks, o, b, &qs));
        int32_t sum = 0;
        float activation_scale;
        if (type == GPT_TYPE_Q8_0_X8) {
            const block_act16 *a = (const block_act16 *)x + b;
            for (int k = 0; k < 32; k++) sum += (int32_t)((const int8_t *)qs)[k] * a->qs[k];
            activation_scale = a->d;
        } else {
            const block_act8 *a = (const block_act8 *)x + b;
            const uint8_t *nibbles = qs;
            for (int k = 0; k < 16; k++) sum += (nibbles[k] & 0x0F) * a->qs[k] + (nibbles[k] >> 4) * a->qs[k + 16];
            sum -= a->offset;
            activation_scale = a->d;
        }
        total = fmaf(weight_scale * activation_scale, (float)sum, total);
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

// Rows of `type` weights dotted with several tokens at once: R rows by U
// tokens per call (R · U · A at most 12 sums, so that they stay in the 16
// registers beside the tokens' values), the first row read PREFETCH bytes
// ahead (0: not). Each weight load serves U tokens and each activation load
// R rows. Each (row, token) is summed in A 8-lane sums
// (A = 1, 2 or 4, over i in steps of 8 taken in turn), added pairwise, then
// their lanes, then the scalar tail: the same steps whatever R and U, so a
// token's result does not depend on the other tokens of the pass, nor a
// row's on its neighbours; then the row's bias, when `bias` is not NULL
// (the same addition as a pass over the outputs would make, without the
// pass). When `next` is not NULL, the call also asks for the R rows from
// `next` into the cache, a line for each line it reads: the next group's
// reads from memory then overlap this group's arithmetic, which with
// several tokens otherwise runs while the memory waits. Always inlined with
// constant R, U and A, so the sums stay in registers.
#define ROWS_AVX2(name, type, LOAD8, WIDEN)                                                         \
    AVX2 static inline __attribute__((always_inline)) void name(                                    \
        const type *w, size_t row_stride, const float *x, size_t x_stride, int n, const int R,       \
        const int U, const int A, const float *bias, float *out, size_t out_stride, const type *next) { \
        __m256 sum[4][4][4];                                                                        \
        for (int r = 0; r < R; r++)                                                                 \
            for (int u = 0; u < U; u++)                                                             \
                for (int a = 0; a < A; a++) sum[r][u][a] = _mm256_setzero_ps();                     \
        int i = 0;                                                                                  \
        for (; i + 8 * A <= n; i += 8 * A)                                                          \
            for (int a = 0; a < A; a++) {                                                           \
                if (PREFETCH && a == 0) _mm_prefetch((const char *)(w + i) + PREFETCH, _MM_HINT_T0); \
                if (next && ((i + 8 * a) * sizeof(type)) % 64 == 0)                                 \
                    for (int r = 0; r < R; r++) _mm_prefetch((const char *)(next + r * row_stride + i + 8 * a), _MM_HINT_T0); \
                __m256 xs[4];                                                                       \
                for (int u = 0; u < U; u++) xs[u] = _mm256_loadu_ps(x + u * x_stride + i + 8 * a);  \
                for (int r = 0; r < R; r++) {                                                       \
                    const __m256 wv = LOAD8(w + r * row_stride + i + 8 * a);                        \
                    for (int u = 0; u < U; u++) sum[r][u][a] = _mm256_fmadd_ps(wv, xs[u], sum[r][u][a]); \
                }                                                                                   \
            }                                                                                       \
        for (; i + 8 <= n; i += 8)                                                                  \
            for (int r = 0; r < R; r++) {                                                           \
                const __m256 wv = LOAD8(w + r * row_stride + i);                                    \
                for (int u = 0; u < U; u++)                                                         \
                    sum[r][u][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + u * x_stride + i), sum[r][u][0]); \
            }                                                                                       \
        for (int r = 0; r < R; r++)                                                                 \
            for (int u = 0; u < U; u++) {                                                           \
                __m256 *s = sum[r][u];                                                              \
                const __m256 all = A == 4 ? _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3])) \
                                 : A == 2 ? _mm256_add_ps(s[0], s[1]) : s[0];                       \
                float total = horizontal_sum(all);                                                  \
                for (int j = i; j < n; j++) total = fmaf(WIDEN(w[r * row_stride + j]), x[u * x_stride + j], total); \
                out[u * out_stride + r] = bias ? total + bias[r] : total;                           \
            }                                                                                       \
    }                                                                                               \
                                                                                                    \
    /* out[t][first ..< last] for every token t < T: R rows at a time, their */                     \
    /* tokens U at a time, then 2, then 1; the first call of a group asks */                         \
    /* for the next group's rows when NEXT_GROUP. */                                                 \
    AVX2 static inline __attribute__((always_inline)) void name##_all(                              \
        const type *w, const float *x, const float *bias, float *out, int T, int IC, int OC, int first, \
        int last, const int R, const int U, const int A, const int NEXT_GROUP) {                    \
        int o = first;                                                                              \
        for (; o + R <= last; o += R) {                                                             \
            const float *b = bias ? bias + o : NULL;                                                \
            const type *rows = w + (size_t)o * IC;                                                  \
            const type *next = NEXT_GROUP && o + 2 * R <= last ? rows + (size_t)R * IC : NULL;      \
            int t = 0;                                                                              \
            for (; t + U <= T; t += U, next = NULL)                                                 \
                name(rows, IC, x + (size_t)t * IC, IC, IC, R, U, A, b, out + (size_t)t * OC + o, OC, next); \
            for (; t + 2 <= T; t += 2, next = NULL)                                                 \
                name(rows, IC, x + (size_t)t * IC, IC, IC, R, 2, A, b, out + (size_t)t * OC + o, OC, next); \
            if (t < T) name(rows, IC, x + (size_t)t * IC, IC, IC, R, 1, A, b, out + (size_t)t * OC + o, OC, next); \
        }                                                                                           \
        for (; o < last; o++) {                                                                     \
            const float *b = bias ? bias + o : NULL;                                                \
            int t = 0;                                                                              \
            for (; t + 2 <= T; t += 2)                                                              \
                name(w + (size_t)o * IC, IC, x + (size_t)t * IC, IC, IC, 1, 2, A, b, out + (size_t)t * OC + o, OC, NULL); \
            if (t < T) name(w + (size_t)o * IC, IC, x + (size_t)t * IC, IC, IC, 1, 1, A, b, out + (size_t)t * OC + o, OC, NULL); \
        }                                                                                           \
    }

#define PREFETCH 0
ROWS_AVX2(rows_f32_avx2, float, _mm256_loadu_ps, AS_FLOAT)
#undef PREFETCH
#define PREFETCH 1024
ROWS_AVX2(rows_f16_avx2, uint16_t, load_f16, _cvtsh_ss)
ROWS_AVX2(rows_bf16_avx2, uint16_t, load_bf16, bf16_to_float)
#undef PREFETCH

// The shapes measured best (a kernel benchmark over the 124M shape's
// matrices, then `gpt-bench --sequences`, interleaved runs). f32: 4 rows
// side by side, one sum each, so a pass of one or two steps loads the
// fewest values per multiply-add (one row at a time was level alone and 12%
// slower for 8 tokens). For 4 to 7 tokens, 2 rows by 4 tokens, each group
// asking for the next one's rows while it computes: a group's arithmetic
// and the next group's reads from memory otherwise took turns (4 sequences
// of the 124M shape +9% at 2 threads and +15% at 1, 6 sequences +7%).
// Asking ahead did not pay for 1, 2 or 8 tokens (124M decode 7% slower
// alone; with 4 rows by 2 tokens, 8 sequences 10% slower). 16-bit weights:
// one row at a time, so a thread reads its weights as one sequential
// stream, which the hardware prefetcher follows best (4 rows side by side,
// 4 short streams, was 25-40% slower alone), with 4 sums to hide the
// multiply-adds' latency, and a prefetch 1 kB ahead in the stream (10-30%
// faster on a host whose memory others were using; level on a quiet one;
// 2 kB no better; for f32's four rows, slower).
AVX2 static void matmul_f32_avx2(const float *w, const float *x, const float *bias, float *out, int T, int IC, int OC,
                                 int first, int last) {
    if (T >= 4 && T < 8) rows_f32_avx2_all(w, x, bias, out, T, IC, OC, first, last, 2, 4, 1, 1);
    else rows_f32_avx2_all(w, x, bias, out, T, IC, OC, first, last, 4, 2, 1, 0);
}

AVX2 static void matmul_f16_avx2(const uint16_t *w, const float *x, const float *bias, float *out, int T, int IC,
                                 int OC, int first, int last) {
    rows_f16_avx2_all(w, x, bias, out, T, IC, OC, first, last, 1, 2, 4, 0);
}

AVX2 static void matmul_bf16_avx2(const uint16_t *w, const float *x, const float *bias, float *out, int T, int IC,
                                  int OC, int first, int last) {
    rows_bf16_avx2_all(w, x, bias, out, T, IC, OC, first, last, 1, 2, 4, 0);
}

AVX2 static __m256i unpack_q4_0(const uint8_t *qs) {
    __m128i packed = _mm_loadu_si128((const __m128i *)qs);
    __m256i nibbles = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);  // high half: the high nibbles
    return _mm256_and_si256(nibbles, _mm256_set1_epi8(0x0F));
}

// Eight vectors of 8 int32 to one: lane r is the sum of v[r]'s lanes.
AVX2 static inline __m256i sum_lanes8(const __m256i v[8]) {
    const __m256i low = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    const __m256i high = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(low, high, 0x20), _mm256_permute2x128_si256(low, high, 0x31));
}

// One group of 8 interleaved rows dotted with one token's activations:
// out[r] for r < 8. Per block, each row's exact integer sum (8 lanes of
// pair products, then the lanes added), lane r holding row r's, then made
// floats, scaled and added to one sum per row, as dot_x8_portable does.
AVX2 static void group_q8_0_avx2(const block_q8_0x8 *w, const block_act16 *x, int blocks, float *out) {
    __m256 total = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        // The group's block 1 kB ahead, as the 16-bit rows do (+0-15% decode).
        for (int line = 0; line < (int)sizeof(*w); line += 64) _mm_prefetch((const char *)(w + b) + 1024 + line, _MM_HINT_T0);
        const __m256i a_low = _mm256_loadu_si256((const __m256i *)x[b].qs);
        const __m256i a_high = _mm256_loadu_si256((const __m256i *)(x[b].qs + 16));
        __m256i v[8];
        for (int r = 0; r < 8; r++) {
            const __m256i w_low = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w[b].qs[r]));
            const __m256i w_high = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w[b].qs[r] + 16)));
            v[r] = _mm256_add_epi32(_mm256_madd_epi16(w_low, a_low), _mm256_madd_epi16(w_high, a_high));
        }
        const __m256 scale = _mm256_mul_ps(load_f16(w[b].d), _mm256_broadcast_ss(&x[b].d));
        total = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sum_lanes8(v)), total);
    }
    _mm256_storeu_ps(out, total);
}

// The same for q4_0: unsigned nibbles times signed bytes (pairs summed to
// 16 bits, at most 2 · 15 · 127, then to 32), less the activations' offset.
// Two rows' quants (32 bytes, side by side in the group) are unpacked and
// multiplied at once against the block's activations repeated in both
// halves, so the lanes of the three horizontal adds come out in the order
// rows 0, 2, 4, 6, 1, 3, 5, 7: the scales are put in that order, and the
// sums back in row order at the end.
AVX2 static void group_q4_0_avx2(const block_q4_0x8 *w, const block_act8 *x, int blocks, float *out) {
    __m256 total = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1), nibble = _mm256_set1_epi8(0x0F);
    const __m256i pair_order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    for (int b = 0; b < blocks; b++) {
        const __m256i a_low = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)x[b].qs));
        const __m256i a_high = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(x[b].qs + 16)));
        __m256i pairs[4];
        for (int k = 0; k < 4; k++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)w[b].qs[2 * k]);  // rows 2k and 2k + 1
            const __m256i low = _mm256_maddubs_epi16(_mm256_and_si256(q, nibble), a_low);
            const __m256i high = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), nibble), a_high);
            pairs[k] = _mm256_madd_epi16(_mm256_add_epi16(low, high), ones);
        }
        const __m256i sums = _mm256_hadd_epi32(_mm256_hadd_epi32(pairs[0], pairs[1]), _mm256_hadd_epi32(pairs[2], pairs[3]));
        const __m256 scale = _mm256_mul_ps(_mm256_permutevar8x32_ps(load_f16(w[b].d), pair_order), _mm256_broadcast_ss(&x[b].d));
        total = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(_mm256_sub_epi32(sums, _mm256_set1_epi32(x[b].offset))), total);
    }
    _mm256_storeu_ps(out, _mm256_permutevar8x32_ps(total, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}
#endif

#if defined(__x86_64__)
// Widening (embedding rows, the gemm's panels): eight values per instruction group.
AVX2 static void widen_avx2(gpt_type type, const void *w, int IC, int o, int k0, int count, float *y) {
    int i = 0;
    switch (type) {
    case GPT_TYPE_F16:
    case GPT_TYPE_BF16: {
        const uint16_t *row = (const uint16_t *)w + (size_t)o * IC + k0;
        if (type == GPT_TYPE_F16) {
            for (; i + 8 <= count; i += 8) _mm256_storeu_ps(y + i, load_f16(row + i));
            for (; i < count; i++) y[i] = _cvtsh_ss(row[i]);
        } else {
            for (; i + 8 <= count; i += 8) _mm256_storeu_ps(y + i, load_bf16(row + i));
            for (; i < count; i++) y[i] = bf16_to_float(row[i]);
        }
        return;
    }
    default:
        for (int b = k0 / 32; b < (k0 + count) / 32; b++, y += 32) {
            const void *qs;
            const __m256 scale = _mm256_set1_ps(_cvtsh_ss(*block_at(type, w, IC / 32, o, b, &qs)));
            const __m256i q = is_q4_0(type) ? _mm256_sub_epi8(unpack_q4_0(qs), _mm256_set1_epi8(8))
                                            : _mm256_loadu_si256((const __m256i *)qs);
            const __m128i low = _mm256_castsi256_si128(q), high = _mm256_extracti128_si256(q, 1);
            _mm256_storeu_ps(y, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(low))));
            _mm256_storeu_ps(y + 8, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(low, 8)))));
            _mm256_storeu_ps(y + 16, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(high))));
            _mm256_storeu_ps(y + 24, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(high, 8)))));
        }
        return;
    }
}
#endif

static void widen_portable(gpt_type type, const void *w, int IC, int o, int k0, int count, float *y) {
    switch (type) {
    case GPT_TYPE_F16:
    case GPT_TYPE_BF16: {
        const uint16_t *row = (const uint16_t *)w + (size_t)o * IC + k0;
        for (int i = 0; i < count; i++) y[i] = type == GPT_TYPE_F16 ? half_to_float(row[i]) : bf16_to_float(row[i]);
        return;
    }
    default:
        for (int b = k0 / 32; b < (k0 + count) / 32; b++, y += 32) {
            const void *qs;
            const float d = half_to_float(*block_at(type, w, IC / 32, o, b, &qs));
            for (int k = 0; k < 32; k++) {
                if (is_q4_0(type)) {
                    const uint8_t byte = ((const uint8_t *)qs)[k % 16];
                    y[k] = d * ((k < 16 ? byte & 0x0F : byte >> 4) - 8);
                } else {
                    y[k] = d * ((const int8_t *)qs)[k];
                }
            }
        }
        return;
    }
}

// MARK: entry points

void gpt_matmul_rows(gpt_type type, float *out, const void *x, const void *weight, const float *bias,
                     int T, int IC, int OC, int first, int last) {
    gpt_matmul_rows_isa(gpt_kernels_isa(), type, out, x, weight, bias, T, IC, OC, first, last);
}

// Rows [first, last) of an interleaved matrix: whole groups of 8 computed
// (a row's bits do not depend on which of its group's rows are wanted),
// only the wanted rows stored, each plus its bias.
static void matmul_groups(gpt_isa isa, gpt_type type, float *out, const void *x, const void *weight,
                          const float *bias, int T, int IC, int OC, int first, int last) {
    const int blocks = IC / 32;
    const size_t x_bytes = gpt_quantized_activation_bytes(type, IC);
    for (int g = first / 8; g * 8 < last; g++) {
        const int from = g * 8 > first ? g * 8 : first, to = g * 8 + 8 < last ? g * 8 + 8 : last;
        for (int t = 0; t < T; t++) {
            const void *activations = (const char *)x + (size_t)t * x_bytes;
            float rows[8];
#if defined(__x86_64__)
            if (isa >= GPT_ISA_AVX2 && type == GPT_TYPE_Q8_0_X8) {
                group_q8_0_avx2((const block_q8_0x8 *)weight + (size_t)g * blocks, activations, blocks, rows);
            } else if (isa >= GPT_ISA_AVX2) {
                group_q4_0_avx2((const block_q4_0x8 *)weight + (size_t)g * blocks, activations, blocks, rows);
            } else
#endif
            {
                for (int o = from; o < to; o++) rows[o - g * 8] = dot_x8_portable(type, weight, blocks, o, activations);
            }
            for (int o = from; o < to; o++) out[(size_t)t * OC + o] = bias ? rows[o - g * 8] + bias[o] : rows[o - g * 8];
        }
    }
    (void)isa;
}

void gpt_matmul_rows_isa(gpt_isa isa, gpt_type type, float *out, const void *x, const void *weight,
                         const float *bias, int T, int IC, int OC, int first, int last) {
    // Every path adds the bias as it stores a row's sum.
    if (type == GPT_TYPE_Q8_0_X8 || type == GPT_TYPE_Q4_0_X8) {
        matmul_groups(isa, type, out, x, weight, bias, T, IC, OC, first, last);
    } else
#if defined(__x86_64__)
    if (isa >= GPT_ISA_AVX2) {
        switch (type) {
        case GPT_TYPE_F32: matmul_f32_avx2(weight, x, bias, out, T, IC, OC, first, last); break;
        case GPT_TYPE_F16: matmul_f16_avx2(weight, x, bias, out, T, IC, OC, first, last); break;
        default: matmul_bf16_avx2(weight, x, bias, out, T, IC, OC, first, last); break;
        }
    } else
#endif
    {
        for (int o = first; o < last; o++) {
            // The row comes from memory for the first token and from the L1 cache for the others.
            for (int t = 0; t < T; t++) {
                const float *token = (const float *)x + (size_t)t * IC;
                float sum;
                switch (type) {
                case GPT_TYPE_F32: sum = dot_f32_portable((const float *)weight + (size_t)o * IC, token, IC); break;
                case GPT_TYPE_F16: sum = dot_f16_portable((const uint16_t *)weight + (size_t)o * IC, token, IC); break;
                default: sum = dot_bf16_portable((const uint16_t *)weight + (size_t)o * IC, token, IC); break;
                }
                out[(size_t)t * OC + o] = bias ? sum + bias[o] : sum;
            }
        }
    }
}

void gpt_quantize_activations(gpt_type type, const float *x, void *out, int rows, int columns) {
    const int per_row = columns / 32;
    // 8-bit values for q4_0 weights, 16-bit for q8_0.
    const float top = type == GPT_TYPE_Q4_0_X8 ? 127 : 32767;
    for (int r = 0; r < rows; r++) {
        for (int b = 0; b < per_row; b++) {
            const float *v = x + (size_t)r * columns + b * 32;
            float largest = 0;
            for (int k = 0; k < 32; k++) largest = fmaxf(largest, fabsf(v[k]));
            const float inverse = largest > 0 ? top / largest : 0;
            if (type == GPT_TYPE_Q4_0_X8) {
                block_act8 *block = (block_act8 *)out + (size_t)r * per_row + b;
                int32_t sum = 0;
                for (int k = 0; k < 32; k++) sum += block->qs[k] = (int8_t)lrintf(v[k] * inverse);
                block->d = largest / top;
                block->offset = 8 * sum;
            } else {
                block_act16 *block = (block_act16 *)out + (size_t)r * per_row + b;
                for (int k = 0; k < 32; k++) block->qs[k] = (int16_t)lrintf(v[k] * inverse);
                block->d = largest / top;
            }
        }
    }
}

void gpt_widen_rows(gpt_type type, const void *weight, float *out, int IC, int first, int last) {
    gpt_widen_rows_isa(gpt_kernels_isa(), type, weight, out, IC, first, last);
}

void gpt_widen_rows_isa(gpt_isa isa, gpt_type type, const void *weight, float *out, int IC, int first, int last) {
    for (int o = first; o < last; o++) gpt_widen_span_isa(isa, type, weight, IC, o, 0, IC, out + (size_t)(o - first) * IC);
}

void gpt_widen_span_isa(gpt_isa isa, gpt_type type, const void *weight, int IC, int row, int k0, int count, float *out) {
    if (type == GPT_TYPE_F32) {
        memcpy(out, (const float *)weight + (size_t)row * IC + k0, (size_t)count * 4);
        return;
    }
#if defined(__x86_64__)
    if (isa >= GPT_ISA_AVX2) {
        widen_avx2(type, weight, IC, row, k0, count, out);
        return;
    }
#endif
    (void)isa;
    widen_portable(type, weight, IC, row, k0, count, out);
}
