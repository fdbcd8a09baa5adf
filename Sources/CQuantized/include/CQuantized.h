// Int8 products for the T5 engine's opt-in `weights_dtype: int8`: weights quantized
// symmetrically per output channel at load, activations per row at run time, int32
// accumulation, scales applied in F32. The engine's other products stay in OpenBLAS.
//
// Three paths compute the same int32 sums, chosen at run time from the CPU's features:
//   IRQ8_SCALAR       plain C, the reference every vector path is tested against;
//   IRQ8_AVX2         AVX2: |a| x (w * sign a) in 16-bit pairs (no saturation: |a|, |w| <= 127);
//   IRQ8_AVX512_VNNI  AVX-512 VNNI: vpdpbusd on (a + 128) x w, less 128 x sum(w) per output.
// The sums are exact integers, so every path gives the scalar path's F32 results bit for bit.
#ifndef INSTRUCTREC_CQUANTIZED_H
#define INSTRUCTREC_CQUANTIZED_H

#include <stddef.h>
#include <stdint.h>

enum {
    IRQ8_SCALAR = 0,
    IRQ8_AVX2 = 1,
    IRQ8_AVX512_VNNI = 2,
};

/// 1 when this CPU (and this build) can run `path`, else 0.
int irq8_path_available(int path);
/// The fastest path this CPU runs.
int irq8_fastest_path(void);

/// K rounded up to a multiple of 4 (a VNNI step); quantized rows are this long, zero padded.
static inline int irq8_padded_k(int k) { return (k + 3) & ~3; }
/// N rounded up to a multiple of 16 (one panel); scales and sums of weights are this long.
static inline int irq8_padded_n(int n) { return (n + 15) & ~15; }

/// Bytes of packed weights W [n, k]: panels of 16 output rows, K in steps of 4,
///   packed[((n / 16) * (kp / 4) + kk / 4) * 64 + (n % 16) * 4 + kk % 4] = q(W[n][kk]),
/// so one 64-byte load holds 4 consecutive k of 16 outputs (the operand of one vpdpbusd).
size_t irq8_packed_bytes(int n, int k);

/// Quantizes rows [first, first + count) of W [n, k] (F32, `source` holds those rows, k apart) into
/// `packed` (irq8_packed_bytes(n, k), zeroed by the caller), with scale[r] = max|W[r]| / 127 and
/// sums[r] = sum_k q(W[r][k]) (scale and sums hold irq8_padded_n(n), the padding zero).
void irq8_quantize_weight_rows(const float *source, int n, int k, int first, int count,
                               int8_t *packed, float *scales, int32_t *sums);

/// Rows [first, first + count) of packed W back to F32 [count, k] (q x scale): the lookup of an
/// embedding row and the operand of products that are not `y = x W^T`.
void irq8_dequantize_rows(const int8_t *packed, const float *scales, int n, int k, int first, int count,
                          float *out);

/// x [m, k] (rows ldx apart) to int8 [m, irq8_padded_k(k)] with scale[r] = max|x[r]| / 127, for `path`:
/// two's-complement int8, or for IRQ8_AVX512_VNNI the same values plus 128 as uint8.
void irq8_quantize_activations(int path, const float *x, int m, int k, int ldx, uint8_t *q, float *scales);
/// The same in plain C, never vectorised: what the tests hold irq8_quantize_activations to, byte for byte.
void irq8_quantize_activations_reference(int path, const float *x, int m, int k, int ldx, uint8_t *q, float *scales);

/// y[r][j] (rows ldy apart) = sum_kk q(x)[r][kk] q(W)[n0 + j][kk] x xscale[r] x wscale[n0 + j], plus y when
/// `accumulate`, for j in [0, n1 - n0), r in [0, m). xq comes from
/// irq8_quantize_activations with the same path.
void irq8_gemm(int path, int m, int k, const uint8_t *xq, const float *xscales,
               const int8_t *packed, const float *wscales, const int32_t *wsums, int n0, int n1,
               float *y, int ldy, int accumulate);

/// The exact int32 sums of irq8_gemm (acc[r][j], rows ldacc apart), for the tests that pin every path to the
/// scalar one.
void irq8_gemm_int32(int path, int m, int k, const uint8_t *xq, const int8_t *packed, const int32_t *wsums,
                     int n0, int n1, int32_t *acc, int ldacc);

// ---------------------------------------------------------------------------------------------
// BF16 products (`weights_dtype: bf16`): weights and activations rounded to bfloat16 (round to
// nearest even), products accumulated in F32 by AVX-512 BF16's vdpbf16ps, two k per lane per step.
// Each output is one F32 sum over k in order, the pair's odd term added before its even one, as the
// instruction defines, so the scalar reference reproduces the vector kernel exactly (normal numbers;
// the instruction flushes denormals to zero).

enum {
    IRQ16_SCALAR = 0,
    IRQ16_AVX512_BF16 = 1,
};

/// 1 when this CPU (and this build) can run `path`, else 0.
int irq16_path_available(int path);

/// K rounded up to a multiple of 2 (one vdpbf16ps step); converted rows are this long, zero padded.
static inline int irq16_padded_k(int k) { return (k + 1) & ~1; }

/// Elements (uint16) of packed W [n, k]: panels of 16 output rows, K in steps of 2,
///   packed[((n / 16) * (kp / 2) + kk / 2) * 32 + (n % 16) * 2 + kk % 2] = bf16(W[n][kk]).
size_t irq16_packed_elements(int n, int k);

/// Rounds rows [first, first + count) of W [n, k] (F32, `source` holds those rows, k apart) into `packed`
/// (irq16_packed_elements(n, k), zeroed by the caller).
void irq16_pack_weight_rows(const float *source, int n, int k, int first, int count, uint16_t *packed);

/// Rows [first, first + count) of packed W back to F32 [count, k] (exact: every bf16 is an F32).
void irq16_unpack_rows(const uint16_t *packed, int n, int k, int first, int count, float *out);

/// `count` floats to bf16, round to nearest even (NaN stays NaN), row-major as they are: a 16-bit copy of
/// a matrix for the widening path on CPUs without AVX-512 BF16.
void irq16_round(const float *source, size_t count, uint16_t *out);

/// x [m, k] (rows ldx apart) to bf16 [m, irq16_padded_k(k)], zero padded (vectorised where it can be; the
/// same bits as the scalar rounding for normal numbers).
void irq16_convert_activations(const float *x, int m, int k, int ldx, uint16_t *out);

/// y[r][j] (rows ldy apart) = sum_kk xb[r][kk] W[n0 + j][kk] (F32 accumulation), plus y when `accumulate`,
/// for j in [0, n1 - n0), r in [0, m).
void irq16_gemm(int path, int m, int k, const uint16_t *xb, const uint16_t *packed, int n0, int n1,
                float *y, int ldy, int accumulate);

#endif
