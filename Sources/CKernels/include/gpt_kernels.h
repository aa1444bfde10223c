// Products of weight rows with activation rows, for every weight type the
// engine reads, with the instruction set chosen when the process starts:
// decode steps' row products (kernels.c) and attention (attention.c), and
// the packed gemm of prompts (gemm.c). The Swift side (Sources/GPT/Model)
// cuts the work into ranges of rows or columns and spreads them over its
// worker pool; these functions run one range.
#ifndef GPT_KERNELS_H
#define GPT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// How weights are stored. q8_0 and q4_0 are GGUF's blocks of 32 weights
/// with one float16 scale: 32 int8 (34 bytes), or 32 packed 4-bit values
/// less 8 (18 bytes; low nibbles are weights 0-15, high nibbles 16-31).
/// The _X8 types are the same blocks as the engine keeps them (written by
/// gpt_interleave_rows): rows in groups of 8, and for each group and each
/// block column, the 8 rows' scales, then the 8 rows' quants.
typedef enum {
    GPT_TYPE_F32 = 0,
    GPT_TYPE_F16 = 1,
    GPT_TYPE_BF16 = 2,
    GPT_TYPE_Q8_0 = 3,
    GPT_TYPE_Q4_0 = 4,
    GPT_TYPE_Q8_0_X8 = 5,
    GPT_TYPE_Q4_0_X8 = 6,
} gpt_type;

/// Instruction sets of the kernels, each a superset of the one before.
typedef enum {
    GPT_ISA_PORTABLE = 0,  // plain C, any CPU
    GPT_ISA_AVX2 = 1,      // x86-64 with AVX2, FMA and F16C
    GPT_ISA_AVX512 = 2,    // AVX2's kernels, and AVX-512F register blocks in the gemm
} gpt_isa;

/// The instruction set the kernels use: the best this CPU has, unless
/// gpt_kernels_use_isa chose a lower one.
gpt_isa gpt_kernels_isa(void);

/// The best instruction set this CPU has.
gpt_isa gpt_kernels_best_isa(void);

/// Makes the kernels use `isa`, or the CPU's best if that is lower, and
/// returns the one in use: for benchmarks that compare instruction sets.
gpt_isa gpt_kernels_use_isa(gpt_isa isa);

/// Bytes of one row of `columns` weights (a multiple of 32 for the block types).
size_t gpt_row_bytes(gpt_type type, int columns);

/// Bytes of a q8_0 or q4_0 matrix of `rows` rows interleaved (rows rounded
/// up to a multiple of 8).
size_t gpt_interleaved_bytes(gpt_type type, int columns, int rows);

/// Writes a GGUF-layout q8_0 or q4_0 matrix (`type`) in the engine's
/// interleaved layout (the matching _X8 type); padding rows are zeros.
void gpt_interleave_rows(gpt_type type, const void *weight, void *out, int columns, int rows);

/// target (columns, rows) = source (rows, columns) transposed, elements of
/// `element_bytes` (2 or 4) moved as they are: Hugging Face's Conv1D
/// matrices, stored [in, out], into the engine's [out, in].
void gpt_transpose(const void *source, void *target, int rows, int columns, int element_bytes);

/// Bytes of one activation row of `columns` floats quantized by
/// gpt_quantize_activations for weights of an _X8 `type` (0 for others).
size_t gpt_quantized_activation_bytes(gpt_type type, int columns);

/// Rounds `rows` rows of `columns` floats (a multiple of 32) to integers with
/// a scale per block of 32, for the integer products of an _X8 `type`:
/// 16 bits for q8_0 weights (8 bits, as llama.cpp uses, moved the bundled
/// model's greedy tokens too much), 8 bits for q4_0 (small next to the
/// weights' own rounding, and twice the products per instruction).
void gpt_quantize_activations(gpt_type type, const float *x, void *out, int rows, int columns);

/// out[t * OC + o] = Σ_i weight[o][i] · x[t][i] + bias[o], for rows
/// o in [first, last) and tokens t < T, for f32, f16, bf16 and the _X8
/// types. `x` is T rows of IC floats, or for the _X8 types the same rows
/// quantized by gpt_quantize_activations. Every (row, token) is summed the
/// same way whatever T, first and last are, so a token gets the same bits
/// alone or in a batch. `bias` may be NULL.
void gpt_matmul_rows(gpt_type type, float *out, const void *x, const void *weight, const float *bias,
                     int T, int IC, int OC, int first, int last);

/// gpt_matmul_rows with a given instruction set, which the CPU must have
/// (tests hold every path to the plain reference).
void gpt_matmul_rows_isa(gpt_isa isa, gpt_type type, float *out, const void *x, const void *weight,
                         const float *bias, int T, int IC, int OC, int first, int last);

/// Rows [first, last) of a weight matrix with IC columns, widened to floats
/// (out holds (last - first) rows of IC): embedding rows, converters, and the
/// gemm's weight panels as it packs them.
void gpt_widen_rows(gpt_type type, const void *weight, float *out, int IC, int first, int last);

/// gpt_widen_rows with a given instruction set, which the CPU must have.
void gpt_widen_rows_isa(gpt_isa isa, gpt_type type, const void *weight, float *out, int IC, int first, int last);

/// Columns [k0, k0 + count) of row `row` widened to floats (k0 and count
/// multiples of 32 for the block types): the gemm's panels.
void gpt_widen_span_isa(gpt_isa isa, gpt_type type, const void *weight, int IC, int row, int k0, int count, float *out);


// MARK: a decode step's attention (attention.c)

/// scores[j] = scale · Σ_i q[i] · k_j[i] for keys j < N, k_j = keys + j · stride
/// (hs channels each): one query row against one head's cached keys.
void gpt_attention_scores(const float *q, const float *keys, size_t stride, int N, int hs, float scale, float *scores);

/// gpt_attention_scores with a given instruction set, which the CPU must have.
void gpt_attention_scores_isa(gpt_isa isa, const float *q, const float *keys, size_t stride, int N, int hs,
                              float scale, float *scores);

/// out[i] = Σ_j p[j] · v_j[i] for channels i < hs and values j < N,
/// v_j = values + j · stride: one head's cached values mixed by the softmax `p`.
void gpt_attention_mix(const float *p, const float *values, size_t stride, int N, int hs, float *out);

/// gpt_attention_mix with a given instruction set, which the CPU must have.
void gpt_attention_mix_isa(gpt_isa isa, const float *p, const float *values, size_t stride, int N, int hs,
                           float *out);


// MARK: products of many rows (gemm.c)

/// Rows of C per register block, columns per packed weight panel, and values
/// of K per cache block.
#define GPT_GEMM_ROWS 6
#define GPT_GEMM_COLUMNS 16
#define GPT_GEMM_DEPTH 256

/// Floats that gpt_gemm_pack writes for `rows` rows of K (rows rounded up to
/// a multiple of GPT_GEMM_ROWS).
size_t gpt_gemm_packed_floats(int rows, int K);

/// Packs `rows` rows of A (row-major, lda) for gpt_gemm: groups of
/// GPT_GEMM_ROWS rows, K-major, the last group padded with zeros.
void gpt_gemm_pack(const float *A, int lda, int rows, int K, float *packed);

/// Floats of scratch that one gpt_gemm call needs, whatever its shape (each concurrent call its own).
size_t gpt_gemm_scratch_floats(void);

/// C[m][n] = Σ_k A[m][k] · W[n][k] (plus C[m][n]'s value when `accumulate`)
/// for rows m < rows and columns n in [first, last): A packed by
/// gpt_gemm_pack, W (N, K) stored as `type` (K a multiple of 32 for q8_0 and
/// q4_0), C row-major with ldc. Each element is one chain of fused
/// multiply-adds over k in order, starting from 0 (or C): the same bits
/// whatever `rows`, `first`, `last` and the instruction set.
void gpt_gemm(gpt_type type, const float *packed, int rows, int K, const void *W, int first, int last, float *C,
              int ldc, int accumulate, float *scratch);

/// gpt_gemm with a given instruction set, which the CPU must have.
void gpt_gemm_isa(gpt_isa isa, gpt_type type, const float *packed, int rows, int K, const void *W, int first,
                  int last, float *C, int ldc, int accumulate, float *scratch);

/// gpt_gemm for f32 W anywhere: W[n][k] at W + n · n_stride + k · k_stride,
/// with k_stride 1 (rows along k, such as attention's keys) or n_stride 1
/// (W stored transposed, such as attention's values).
void gpt_gemm_strided(const float *packed, int rows, int K, const float *W, size_t n_stride, size_t k_stride,
                      int first, int last, float *C, int ldc, int accumulate, float *scratch);

/// gpt_gemm_strided with a given instruction set, which the CPU must have.
void gpt_gemm_strided_isa(gpt_isa isa, const float *packed, int rows, int K, const float *W, size_t n_stride,
                          size_t k_stride, int first, int last, float *C, int ldc, int accumulate, float *scratch);

#endif
