// Runs CKernels' gemm inside the emulator, freestanding (no libc, no OS):
// every shape on the AVX-512 and AVX2 paths and on the portable one, and
// counts the output elements whose bits differ. The gemm promises one chain
// of fused multiply-adds per element on every path, so the count must be 0.
#include "gpt_kernels.h"

#include <stddef.h>
#include <stdint.h>

// What the kernels take from libc and from the compiler's runtime. The CPU
// checks are never reached: every call names its instruction set.
__attribute__((no_builtin("memcpy"))) void *memcpy(void *to, const void *from, size_t n) {
    char *d = to;
    const char *s = from;
    while (n--) *d++ = *s++;
    return to;
}
__attribute__((no_builtin("memset"))) void *memset(void *to, int value, size_t n) {
    char *d = to;
    while (n--) *d++ = (char)value;
    return to;
}
__attribute__((target("fma"))) float fmaf(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
float fmaxf(float a, float b) { return a > b ? a : b; }
float fabsf(float a) { return a < 0 ? -a : a; }
long lrintf(float a) { return __builtin_ia32_cvtss2si((__attribute__((vector_size(16))) float){a, 0, 0, 0}); }
struct { unsigned vendor, type, subtype, features[1]; } __cpu_model;
unsigned __cpu_features2[4];
int __cpu_indicator_init(void) { return 0; }

enum { MAX_ROWS = 100, MAX_N = 130, MAX_K = 800 };
static float a[MAX_ROWS * MAX_K], packed[(MAX_ROWS + GPT_GEMM_ROWS) * MAX_K], w[MAX_N * MAX_K];
static float expected[MAX_ROWS * MAX_N], actual[MAX_ROWS * MAX_N], scratch[GPT_GEMM_DEPTH * 80];
static uint16_t w16[MAX_N * MAX_K];

static uint64_t seed = 88172645463325252ull;
static uint64_t next(void) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}
static float value(void) { return (float)(int)(next() % 20001) / 10000 - 1; }

// Read by emulate.py: mismatched elements, products compared, and 0x600d when done.
volatile uint64_t result[3];

typedef struct {
    int rows, N, K, first, last;
} shape;

// One product on `isa` and on the portable path from the same start; W is
// f32 rows (stride 0), or f32 stored transposed (n_stride 1, k_stride N).
static uint64_t mismatches(gpt_isa isa, gpt_type type, const void *weights, int transposed, shape s, int accumulate) {
    for (int i = 0; i < s.rows * s.N; i++) expected[i] = actual[i] = value();
    if (transposed) {
        gpt_gemm_strided_isa(GPT_ISA_PORTABLE, packed, s.rows, s.K, weights, 1, (size_t)s.N, s.first, s.last,
                             expected, s.N, accumulate, scratch);
        gpt_gemm_strided_isa(isa, packed, s.rows, s.K, weights, 1, (size_t)s.N, s.first, s.last, actual, s.N,
                             accumulate, scratch);
    } else {
        gpt_gemm_isa(GPT_ISA_PORTABLE, type, packed, s.rows, s.K, weights, s.first, s.last, expected, s.N, accumulate,
                     scratch);
        gpt_gemm_isa(isa, type, packed, s.rows, s.K, weights, s.first, s.last, actual, s.N, accumulate, scratch);
    }
    uint64_t count = 0;
    for (int i = 0; i < s.rows * s.N; i++) count += ((const uint32_t *)expected)[i] != ((const uint32_t *)actual)[i];
    return count;
}

__attribute__((section(".text.entry"))) void entry(void) {
    // Rows across register blocks of 6 and the 96-row blocks; columns across
    // pairs of 16-column panels and the 64-column blocks, whole and cut; K
    // across blocks of 256.
    static const shape shapes[] = {{23, 37, 544, 0, 37},   {6, 32, 32, 0, 32},    {1, 70, 288, 5, 69},
                                   {40, 128, 768, 0, 128}, {13, 130, 256, 2, 130}, {7, 96, 800, 32, 96},
                                   {97, 130, 288, 2, 130}};
    uint64_t bad = 0, compared = 0;
    for (unsigned i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape s = shapes[i];
        for (int j = 0; j < s.rows * s.K; j++) a[j] = value();
        for (int j = 0; j < s.N * s.K; j++) w[j] = value();
        // Finite f16 and bf16 values of both signs.
        for (int j = 0; j < s.N * s.K; j++) w16[j] = (uint16_t)(next() & 0xbbff);
        gpt_gemm_pack(a, s.K, s.rows, s.K, packed);
        for (int accumulate = 0; accumulate < 2; accumulate++) {
            for (gpt_isa isa = GPT_ISA_AVX2; isa <= GPT_ISA_AVX512; isa++) {
                bad += mismatches(isa, GPT_TYPE_F32, w, 0, s, accumulate);
                bad += mismatches(isa, GPT_TYPE_F32, w, 1, s, accumulate);
                bad += mismatches(isa, GPT_TYPE_F16, w16, 0, s, accumulate);
                bad += mismatches(isa, GPT_TYPE_BF16, w16, 0, s, accumulate);
                compared += 4;
            }
        }
    }
    result[0] = bad;
    result[1] = compared;
    result[2] = 0x600d;
    for (;;) __asm__ volatile("hlt");  // privileged at ring 3: the emulator stops on the fault
}
