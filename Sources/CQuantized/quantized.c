// Int8 products: quantization, packing, and one blocked driver over three kernels (scalar, AVX2,
// AVX-512 VNNI). See include/CQuantized.h for the layout and the contract.
//
// Why our own kernels rather than a library: the engine needs one product only, y = x W^T with both
// operands K-contiguous, and the few hundred lines below do it as fast as oneDNN does. Measured on one
// thread (AMD EPYC, AVX-512 VNNI), against oneDNN 2.6's u8 x s8 -> f32 matmul with per-column scales (its
// brgemm avx512_core_vnni kernel, primitive made beforehand, activations already quantized; ours
// quantizing them inside the time): 1980x2048x512 377 against 381 GOP/s, 1980x512x2048 388 against 421,
// 320x32128x512 (a vocabulary projection) 378 against 327, 200x1536x512 433 against 433. oneDNN would
// add a runtime library to the image and a primitive cache per shape for that one call; Debian's OpenBLAS
// 0.3.21 has no int8 or bf16 product. Built with -ffp-contract=off so the F32 epilogue rounds identically
// wherever it runs.
#include "CQuantized.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Rows of x per block. The VNNI block holds ROWS x 2 panels of 16 int32 sums in zmm registers
// (16 of 32); the AVX2 block one panel (2 ymm) per row, 4 rows (8 of 16 ymm).
#define BLOCK_ROWS 8
#define BLOCK_COLUMNS 32

// ---------------------------------------------------------------------------------------------
// CPU features

int irq8_path_available(int path) {
    switch (path) {
    case IRQ8_SCALAR:
        return 1;
#if defined(__x86_64__)
    case IRQ8_AVX2:
        return __builtin_cpu_supports("avx2") ? 1 : 0;
    case IRQ8_AVX512_VNNI:
        return (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
                && __builtin_cpu_supports("avx512vnni")) ? 1 : 0;
#endif
    default:
        return 0;
    }
}

/// The path that will actually run for a requested one: a vector path this CPU lacks runs scalar.
static int effective_path(int path) {
    return irq8_path_available(path) ? path : IRQ8_SCALAR;
}

int irq8_fastest_path(void) {
    if (irq8_path_available(IRQ8_AVX512_VNNI)) return IRQ8_AVX512_VNNI;
    if (irq8_path_available(IRQ8_AVX2)) return IRQ8_AVX2;
    return IRQ8_SCALAR;
}

// ---------------------------------------------------------------------------------------------
// Quantization and packing

size_t irq8_packed_bytes(int n, int k) {
    return (size_t)irq8_padded_n(n) * (size_t)irq8_padded_k(k);
}

static inline size_t packed_index(int row, int kk, int k4) {
    return ((size_t)(row / 16) * (size_t)k4 + (size_t)(kk / 4)) * 64 + (size_t)(row % 16) * 4 + (size_t)(kk % 4);
}

/// Symmetric scale of one row: max|v| / 127 (0 for a zero row), and the multiplier that quantizes.
static inline float row_scale(const float *v, int k, float *inverse) {
    float largest = 0;
    for (int i = 0; i < k; i++) {
        float a = fabsf(v[i]);
        largest = a > largest ? a : largest;
    }
    *inverse = largest > 0 ? 127.0f / largest : 0.0f;
    return largest / 127.0f;
}

/// Round half to even (the FPU's mode), clamped to the symmetric range: |q| <= 127 keeps the
/// AVX2 path's 16-bit pair sums below saturation and -128 never appears.
static inline int quantize(float v, float inverse) {
    long q = lrintf(v * inverse);
    return (int)(q > 127 ? 127 : (q < -127 ? -127 : q));
}

void irq8_quantize_weight_rows(const float *source, int n, int k, int first, int count,
                               int8_t *packed, float *scales, int32_t *sums) {
    int k4 = irq8_padded_k(k) / 4;
    (void)n;
    for (int i = 0; i < count; i++) {
        int row = first + i;
        const float *v = source + (size_t)i * (size_t)k;
        float inverse;
        scales[row] = row_scale(v, k, &inverse);
        int32_t sum = 0;
        for (int kk = 0; kk < k; kk++) {
            int q = quantize(v[kk], inverse);
            packed[packed_index(row, kk, k4)] = (int8_t)q;
            sum += q;
        }
        sums[row] = sum;
    }
}

void irq8_dequantize_rows(const int8_t *packed, const float *scales, int n, int k, int first, int count,
                          float *out) {
    int k4 = irq8_padded_k(k) / 4;
    (void)n;
    for (int i = 0; i < count; i++) {
        int row = first + i;
        float s = scales[row];
        const int8_t *panel = packed + (size_t)(row / 16) * (size_t)k4 * 64 + (size_t)(row % 16) * 4;
        float *o = out + (size_t)i * (size_t)k;
        for (int kk = 0; kk < k; kk++) o[kk] = (float)panel[(size_t)(kk / 4) * 64 + kk % 4] * s;
    }
}

/// One row, plain C: the reference for `quantize_row_avx2`.
static void quantize_row(const float *v, int k, int kp, int offset, uint8_t *out, float *scale) {
    float inverse;
    *scale = row_scale(v, k, &inverse);
    for (int kk = 0; kk < k; kk++) out[kk] = (uint8_t)(quantize(v[kk], inverse) + offset);
    for (int kk = k; kk < kp; kk++) out[kk] = (uint8_t)offset;
}

#if defined(__x86_64__)
/// One row, 8 floats at a time: the same numbers as `quantize_row` (the maximum is exact, the product
/// is the same single rounding, vcvtps2dq rounds half to even as lrintf does, NaN is skipped by the
/// maximum and clamps to -127 alike), several times faster: per-row quantization is O(rows x k) against
/// the product's O(rows x n x k), but plain C made it a third of an encoder projection's time.
__attribute__((target("avx2")))
static void quantize_row_avx2(const float *v, int k, int kp, int offset, uint8_t *out, float *scale) {
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 largest8 = _mm256_setzero_ps();
    int kk = 0;
    for (; kk + 8 <= k; kk += 8) largest8 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(v + kk), magnitude), largest8);
    float lanes[8];
    _mm256_storeu_ps(lanes, largest8);
    float largest = 0;
    for (int i = 0; i < 8; i++) largest = lanes[i] > largest ? lanes[i] : largest;
    for (; kk < k; kk++) {
        float a = fabsf(v[kk]);
        largest = a > largest ? a : largest;
    }
    float inverse = largest > 0 ? 127.0f / largest : 0.0f;
    *scale = largest / 127.0f;
    const __m256 inverse8 = _mm256_set1_ps(inverse);
    const __m256i high = _mm256_set1_epi32(127), low = _mm256_set1_epi32(-127);
    const __m128i flip = _mm_set1_epi8(offset ? (char)0x80 : 0);
    for (kk = 0; kk + 8 <= k; kk += 8) {
        __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(v + kk), inverse8));
        q = _mm256_max_epi32(_mm256_min_epi32(q, high), low);
        __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        __m128i bytes = _mm_xor_si128(_mm_packs_epi16(words, words), flip);   // +128 as uint8 is a flipped top bit
        _mm_storel_epi64((__m128i *)(out + kk), bytes);
    }
    for (; kk < k; kk++) out[kk] = (uint8_t)(quantize(v[kk], inverse) + offset);
    for (; kk < kp; kk++) out[kk] = (uint8_t)offset;
}
#endif

void irq8_quantize_activations(int path, const float *x, int m, int k, int ldx, uint8_t *q, float *scales) {
    int kp = irq8_padded_k(k);
    // VNNI multiplies unsigned by signed bytes: the activations go in as q + 128 (the driver takes
    // 128 x sum(w) back off); the other paths read two's-complement int8.
    int offset = effective_path(path) == IRQ8_AVX512_VNNI ? 128 : 0;
#if defined(__x86_64__)
    // The scalar path's quantizer too runs vectorised where it can: the numbers are the same.
    int vector = irq8_path_available(IRQ8_AVX2);
#else
    int vector = 0;
#endif
    for (int r = 0; r < m; r++) {
        const float *v = x + (size_t)r * (size_t)ldx;
        uint8_t *out = q + (size_t)r * (size_t)kp;
#if defined(__x86_64__)
        if (vector) { quantize_row_avx2(v, k, kp, offset, out, scales + r); continue; }
#endif
        quantize_row(v, k, kp, offset, out, scales + r);
    }
}

void irq8_quantize_activations_reference(int path, const float *x, int m, int k, int ldx, uint8_t *q, float *scales) {
    int kp = irq8_padded_k(k);
    int offset = effective_path(path) == IRQ8_AVX512_VNNI ? 128 : 0;
    for (int r = 0; r < m; r++)
        quantize_row(x + (size_t)r * (size_t)ldx, k, kp, offset, q + (size_t)r * (size_t)kp, scales + r);
}

// ---------------------------------------------------------------------------------------------
// Kernels: each fills tile[r][j] (r < rows, j < 16 x panels) with the int32 sums of x's rows
// (xq, rows kp apart) against `panels` consecutive panels of packed W starting at `b`.

typedef int32_t Tile[BLOCK_ROWS][BLOCK_COLUMNS];

static void block_scalar(int rows, int k4, const uint8_t *xq, int kp, const int8_t *b, int panels, Tile tile) {
    for (int r = 0; r < rows; r++) {
        const int8_t *a = (const int8_t *)(xq + (size_t)r * (size_t)kp);
        for (int p = 0; p < panels; p++) {
            const int8_t *panel = b + (size_t)p * (size_t)k4 * 64;
            for (int c = 0; c < 16; c++) {
                int32_t sum = 0;
                for (int g = 0; g < k4; g++) {
                    const int8_t *w = panel + (size_t)g * 64 + c * 4;
                    const int8_t *x = a + g * 4;
                    sum += x[0] * w[0] + x[1] * w[1] + x[2] * w[2] + x[3] * w[3];
                }
                tile[r][p * 16 + c] = sum;
            }
        }
    }
}

#if defined(__x86_64__)

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define AVX2 __attribute__((target("avx2")))

/// acc[r][p] += the int32 sums of ROWS rows of x against PANELS panels, over all of K: per step of 4 k, PANELS
/// loads of W and ROWS broadcasts of x. ROWS and PANELS are constants at every call site, so the accumulators
/// live in registers.
static inline __attribute__((always_inline)) VNNI
void vnni_sums(const int ROWS, const int PANELS, int k4, const uint8_t *xq, int kp, const int8_t *b,
               __m512i acc[BLOCK_ROWS][2]) {
    const size_t panelBytes = (size_t)k4 * 64;
    for (int g = 0; g < k4; g++) {
        __m512i w[2];
        for (int p = 0; p < PANELS; p++) w[p] = _mm512_loadu_si512((const void *)(b + p * panelBytes + (size_t)g * 64));
        for (int r = 0; r < ROWS; r++) {
            int32_t four;
            memcpy(&four, xq + (size_t)r * (size_t)kp + (size_t)g * 4, 4);
            __m512i a = _mm512_set1_epi32(four);
            for (int p = 0; p < PANELS; p++) acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], a, w[p]);
        }
    }
}

/// The sums into the tile, from zero (the driver corrects the offset).
static inline __attribute__((always_inline)) VNNI
void block_vnni_fixed(const int ROWS, const int PANELS, int k4, const uint8_t *xq, int kp, const int8_t *b,
                      Tile tile) {
    __m512i acc[BLOCK_ROWS][2];
    for (int r = 0; r < ROWS; r++)
        for (int p = 0; p < PANELS; p++) acc[r][p] = _mm512_setzero_si512();
    vnni_sums(ROWS, PANELS, k4, xq, kp, b, acc);
    for (int r = 0; r < ROWS; r++)
        for (int p = 0; p < PANELS; p++) _mm512_storeu_si512((void *)&tile[r][p * 16], acc[r][p]);
}

static VNNI void block_vnni(int rows, int k4, const uint8_t *xq, int kp, const int8_t *b, int panels, Tile tile) {
#define CASE(R)                                                                            \
    case R:                                                                                \
        if (panels == 2) block_vnni_fixed(R, 2, k4, xq, kp, b, tile);                      \
        else block_vnni_fixed(R, 1, k4, xq, kp, b, tile);                                  \
        break;
    switch (rows) {
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
    }
#undef CASE
}

/// The same sums, finished in registers: the accumulators start at -128 x sum(w) (the
/// offset correction), and each output leaves as ((float)sum x xscale) x wscale (+ y), the driver's epilogue
/// in the same order, so the floats are the same bits; columns past `columns` are masked off.
static inline __attribute__((always_inline)) VNNI
void block_vnni_direct(const int ROWS, const int PANELS, int k4, const uint8_t *xq, int kp, const int8_t *b,
                       const int32_t *wsums, const float *xscales, const float *wscales, int columns,
                       float *y, int ldy, int accumulate) {
    __m512i acc[BLOCK_ROWS][2], start[2];
    __mmask16 mask[2];
    for (int p = 0; p < PANELS; p++) {
        start[p] = _mm512_mullo_epi32(_mm512_set1_epi32(-128), _mm512_loadu_si512((const void *)(wsums + 16 * p)));
        int left = columns - 16 * p;
        mask[p] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (left > 0 ? left : 0)) - 1);
    }
    for (int r = 0; r < ROWS; r++)
        for (int p = 0; p < PANELS; p++) acc[r][p] = start[p];
    vnni_sums(ROWS, PANELS, k4, xq, kp, b, acc);
    __m512 sw[2];
    for (int p = 0; p < PANELS; p++) sw[p] = _mm512_loadu_ps(wscales + 16 * p);
    for (int r = 0; r < ROWS; r++) {
        __m512 sx = _mm512_set1_ps(xscales[r]);
        for (int p = 0; p < PANELS; p++) {
            __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][p]), sx), sw[p]);
            float *out = y + (size_t)r * (size_t)ldy + 16 * p;
            if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask[p], out), v);
            _mm512_mask_storeu_ps(out, mask[p], v);
        }
    }
}

static VNNI void block_vnni_floats(int rows, int k4, const uint8_t *xq, int kp, const int8_t *b, int panels,
                                   const int32_t *wsums, const float *xscales, const float *wscales, int columns,
                                   float *y, int ldy, int accumulate) {
#define CASE(R)                                                                                              \
    case R:                                                                                                  \
        if (panels == 2) block_vnni_direct(R, 2, k4, xq, kp, b, wsums, xscales, wscales, columns, y, ldy, accumulate); \
        else block_vnni_direct(R, 1, k4, xq, kp, b, wsums, xscales, wscales, columns, y, ldy, accumulate); \
        break;
    switch (rows) {
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
    }
#undef CASE
}

/// One panel for ROWS rows: 16 outputs as two ymm of 8 int32 each.
static inline __attribute__((always_inline)) AVX2
void block_avx2_fixed(const int ROWS, int k4, const uint8_t *xq, int kp, const int8_t *panel, int32_t *out,
                      int ldout) {
    __m256i acc[4][2];
    for (int r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    for (int g = 0; g < k4; g++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(panel + (size_t)g * 64));
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(panel + (size_t)g * 64 + 32));
        for (int r = 0; r < ROWS; r++) {
            int32_t four;
            memcpy(&four, xq + (size_t)r * (size_t)kp + (size_t)g * 4, 4);
            __m256i a = _mm256_set1_epi32(four);
            __m256i magnitude = _mm256_abs_epi8(a);
            // |a| (unsigned) x (w with a's sign): each 16-bit pair sum is at most 2 x 127 x 127.
            __m256i p0 = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w0, a));
            __m256i p1 = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w1, a));
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(p0, ones));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(p1, ones));
        }
    }
    for (int r = 0; r < ROWS; r++) {
        _mm256_storeu_si256((__m256i *)(out + (size_t)r * (size_t)ldout), acc[r][0]);
        _mm256_storeu_si256((__m256i *)(out + (size_t)r * (size_t)ldout + 8), acc[r][1]);
    }
}

static AVX2 void block_avx2(int rows, int k4, const uint8_t *xq, int kp, const int8_t *b, int panels, Tile tile) {
    for (int p = 0; p < panels; p++) {
        const int8_t *panel = b + (size_t)p * (size_t)k4 * 64;
        for (int r0 = 0; r0 < rows; r0 += 4) {
            const uint8_t *x = xq + (size_t)r0 * (size_t)kp;
            int32_t *out = &tile[r0][p * 16];
            switch (rows - r0 < 4 ? rows - r0 : 4) {
            case 1: block_avx2_fixed(1, k4, x, kp, panel, out, BLOCK_COLUMNS); break;
            case 2: block_avx2_fixed(2, k4, x, kp, panel, out, BLOCK_COLUMNS); break;
            case 3: block_avx2_fixed(3, k4, x, kp, panel, out, BLOCK_COLUMNS); break;
            default: block_avx2_fixed(4, k4, x, kp, panel, out, BLOCK_COLUMNS); break;
            }
        }
    }
}

#endif

// ---------------------------------------------------------------------------------------------
// The driver: blocks of 32 outputs (two panels) by BLOCK_ROWS rows, each block's sums finished
// by one epilogue shared by every path.

typedef void (*BlockKernel)(int, int, const uint8_t *, int, const int8_t *, int, Tile);

static BlockKernel kernel_for(int path) {
#if defined(__x86_64__)
    switch (effective_path(path)) {
    case IRQ8_AVX512_VNNI: return block_vnni;
    case IRQ8_AVX2: return block_avx2;
    default: break;
    }
#endif
    (void)path;
    return block_scalar;
}

/// Walks the blocks (from n0's panel: n0 need not be a multiple of 16); `FINISH(r0, rows, n, skip, columns,
/// tile)` receives each block's exact sums, of which columns [skip, columns) are wanted (outputs n + j).
#define FOR_EACH_BLOCK(path, m, k, xq, packed, wsums, n0, n1, FINISH)                                      \
    do {                                                                                                   \
        int kp_ = irq8_padded_k(k), k4_ = kp_ / 4;                                                         \
        BlockKernel kernel_ = kernel_for(path);                                                            \
        int offset_ = effective_path(path) == IRQ8_AVX512_VNNI;                              \
        Tile tile_;                                                                                        \
        for (int n_ = (n0) & ~15; n_ < (n1); n_ += BLOCK_COLUMNS) {                                        \
            int columns_ = (n1) - n_ < BLOCK_COLUMNS ? (n1) - n_ : BLOCK_COLUMNS;                          \
            int skip_ = (n0) > n_ ? (n0) - n_ : 0;                                                         \
            int panels_ = columns_ > 16 ? 2 : 1;                                                           \
            const int8_t *b_ = (packed) + (size_t)(n_ / 16) * (size_t)k4_ * 64;                            \
            for (int r0_ = 0; r0_ < (m); r0_ += BLOCK_ROWS) {                                              \
                int rows_ = (m) - r0_ < BLOCK_ROWS ? (m) - r0_ : BLOCK_ROWS;                               \
                kernel_(rows_, k4_, (xq) + (size_t)r0_ * (size_t)kp_, kp_, b_, panels_, tile_);            \
                if (offset_)                                                                               \
                    for (int r_ = 0; r_ < rows_; r_++)                                                     \
                        for (int j_ = skip_; j_ < columns_; j_++) tile_[r_][j_] -= 128 * (wsums)[n_ + j_]; \
                FINISH(r0_, rows_, n_, skip_, columns_, tile_);                                                   \
            }                                                                                              \
        }                                                                                                  \
    } while (0)

void irq8_gemm(int path, int m, int k, const uint8_t *xq, const float *xscales,
               const int8_t *packed, const float *wscales, const int32_t *wsums, int n0, int n1,
               float *y, int ldy, int accumulate) {
#if defined(__x86_64__)
    // VNNI from a panel boundary: the offset correction and the epilogue in registers (the same bits).
    if (effective_path(path) == IRQ8_AVX512_VNNI && (n0 & 15) == 0) {
        int kp = irq8_padded_k(k), k4 = kp / 4;
        for (int n = n0; n < n1; n += BLOCK_COLUMNS) {
            int columns = n1 - n < BLOCK_COLUMNS ? n1 - n : BLOCK_COLUMNS;
            const int8_t *b = packed + (size_t)(n / 16) * (size_t)k4 * 64;
            for (int r0 = 0; r0 < m; r0 += BLOCK_ROWS) {
                int rows = m - r0 < BLOCK_ROWS ? m - r0 : BLOCK_ROWS;
                block_vnni_floats(rows, k4, xq + (size_t)r0 * (size_t)kp, kp, b, columns > 16 ? 2 : 1, wsums + n,
                                  xscales + r0, wscales + n, columns, y + (size_t)r0 * (size_t)ldy + (n - n0), ldy,
                                  accumulate);
            }
        }
        return;
    }
#endif
#define FINISH_FLOAT(r0, rows, n, skip, columns, tile)                                                           \
    for (int r = 0; r < rows; r++) {                                                                       \
        float sx = xscales[r0 + r];                                                                        \
        float *out = y + (size_t)(r0 + r) * (size_t)ldy + (n - n0);                                        \
        const float *sw = wscales + n;                                                                     \
        if (accumulate)                                                                                    \
            for (int j = skip; j < columns; j++) out[j] += (float)tile[r][j] * sx * sw[j];                    \
        else                                                                                               \
            for (int j = skip; j < columns; j++) out[j] = (float)tile[r][j] * sx * sw[j];                     \
    }
    FOR_EACH_BLOCK(path, m, k, xq, packed, wsums, n0, n1, FINISH_FLOAT);
#undef FINISH_FLOAT
}

void irq8_gemm_int32(int path, int m, int k, const uint8_t *xq, const int8_t *packed, const int32_t *wsums,
                     int n0, int n1, int32_t *acc, int ldacc) {
#define FINISH_INT(r0, rows, n, skip, columns, tile)                                                             \
    for (int r = 0; r < rows; r++)                                                                         \
        memcpy(acc + (size_t)(r0 + r) * (size_t)ldacc + (n + skip - n0), &tile[r][skip],                      \
               (size_t)(columns - skip) * sizeof(int32_t));
    FOR_EACH_BLOCK(path, m, k, xq, packed, wsums, n0, n1, FINISH_INT);
#undef FINISH_INT
}

// =============================================================================================
// BF16

int irq16_path_available(int path) {
    switch (path) {
    case IRQ16_SCALAR:
        return 1;
#if defined(__x86_64__)
    case IRQ16_AVX512_BF16:
        return (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
                && __builtin_cpu_supports("avx512bf16")) ? 1 : 0;
#endif
    default:
        return 0;
    }
}

size_t irq16_packed_elements(int n, int k) {
    return (size_t)irq8_padded_n(n) * (size_t)irq16_padded_k(k);
}

/// F32 to bf16, round to nearest even; NaN kept a (quiet) NaN; denormals flushed to a signed zero, as
/// vcvtneps2bf16 does.
static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline size_t packed16_index(int row, int kk, int k2) {
    return ((size_t)(row / 16) * (size_t)k2 + (size_t)(kk / 2)) * 32 + (size_t)(row % 16) * 2 + (size_t)(kk % 2);
}

void irq16_pack_weight_rows(const float *source, int n, int k, int first, int count, uint16_t *packed) {
    int k2 = irq16_padded_k(k) / 2;
    (void)n;
    for (int i = 0; i < count; i++)
        for (int kk = 0; kk < k; kk++)
            packed[packed16_index(first + i, kk, k2)] = to_bf16(source[(size_t)i * (size_t)k + kk]);
}

void irq16_unpack_rows(const uint16_t *packed, int n, int k, int first, int count, float *out) {
    int k2 = irq16_padded_k(k) / 2;
    (void)n;
    for (int i = 0; i < count; i++)
        for (int kk = 0; kk < k; kk++)
            out[(size_t)i * (size_t)k + kk] = from_bf16(packed[packed16_index(first + i, kk, k2)]);
}

void irq16_round(const float *source, size_t count, uint16_t *out) {
    for (size_t i = 0; i < count; i++) out[i] = to_bf16(source[i]);
}

#if defined(__x86_64__)
#define BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

static BF16 void convert_row_bf16(const float *v, int k, uint16_t *out) {
    int kk = 0;
    for (; kk + 16 <= k; kk += 16) {
        __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(v + kk));
        _mm256_storeu_si256((__m256i *)(out + kk), (__m256i)h);
    }
    for (; kk < k; kk++) out[kk] = to_bf16(v[kk]);
}
#endif

void irq16_convert_activations(const float *x, int m, int k, int ldx, uint16_t *out) {
    int kp = irq16_padded_k(k);
#if defined(__x86_64__)
    int vector = irq16_path_available(IRQ16_AVX512_BF16);
#endif
    for (int r = 0; r < m; r++) {
        const float *v = x + (size_t)r * (size_t)ldx;
        uint16_t *o = out + (size_t)r * (size_t)kp;
#if defined(__x86_64__)
        if (vector) convert_row_bf16(v, k, o);
        else
#endif
            for (int kk = 0; kk < k; kk++) o[kk] = to_bf16(v[kk]);
        for (int kk = k; kk < kp; kk++) o[kk] = 0;
    }
}

typedef float TileF[BLOCK_ROWS][BLOCK_COLUMNS];

static void block16_scalar(int rows, int k2, const uint16_t *xb, int kp, const uint16_t *b, int panels, TileF tile) {
    for (int r = 0; r < rows; r++) {
        const uint16_t *a = xb + (size_t)r * (size_t)kp;
        for (int p = 0; p < panels; p++) {
            const uint16_t *panel = b + (size_t)p * (size_t)k2 * 32;
            for (int c = 0; c < 16; c++) {
                float sum = 0;
                for (int g = 0; g < k2; g++) {
                    const uint16_t *w = panel + (size_t)g * 32 + c * 2;
                    // vdpbf16ps: the odd term first, then the even one, each product exact in F32.
                    sum += from_bf16(a[2 * g + 1]) * from_bf16(w[1]);
                    sum += from_bf16(a[2 * g]) * from_bf16(w[0]);
                }
                tile[r][p * 16 + c] = sum;
            }
        }
    }
}

#if defined(__x86_64__)
/// ROWS x PANELS sums of bf16 products, stored (or added) straight to y, columns past `columns` masked off;
/// ROWS and PANELS are constants at every call site, so the accumulators live in registers.
static inline __attribute__((always_inline)) BF16
void block16_direct(const int ROWS, const int PANELS, int k2, const uint16_t *xb, int kp, const uint16_t *b,
                    int columns, float *y, int ldy, int accumulate) {
    __m512 acc[BLOCK_ROWS][2];
    __mmask16 mask[2];
    for (int p = 0; p < PANELS; p++) {
        int left = columns - 16 * p;
        mask[p] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (left > 0 ? left : 0)) - 1);
    }
    for (int r = 0; r < ROWS; r++)
        for (int p = 0; p < PANELS; p++) acc[r][p] = _mm512_setzero_ps();
    const size_t panelElements = (size_t)k2 * 32;
    for (int g = 0; g < k2; g++) {
        __m512i w[2];
        for (int p = 0; p < PANELS; p++) w[p] = _mm512_loadu_si512((const void *)(b + p * panelElements + (size_t)g * 32));
        for (int r = 0; r < ROWS; r++) {
            int32_t two;
            memcpy(&two, xb + (size_t)r * (size_t)kp + (size_t)g * 2, 4);
            __m512i a = _mm512_set1_epi32(two);
            for (int p = 0; p < PANELS; p++) acc[r][p] = _mm512_dpbf16_ps(acc[r][p], (__m512bh)a, (__m512bh)w[p]);
        }
    }
    for (int r = 0; r < ROWS; r++)
        for (int p = 0; p < PANELS; p++) {
            float *out = y + (size_t)r * (size_t)ldy + 16 * p;
            __m512 v = acc[r][p];
            if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask[p], out), v);
            _mm512_mask_storeu_ps(out, mask[p], v);
        }
}

static BF16 void block16_avx512_floats(int rows, int k2, const uint16_t *xb, int kp, const uint16_t *b, int panels,
                                       int columns, float *y, int ldy, int accumulate) {
#define CASE(R)                                                                                   \
    case R:                                                                                       \
        if (panels == 2) block16_direct(R, 2, k2, xb, kp, b, columns, y, ldy, accumulate);       \
        else block16_direct(R, 1, k2, xb, kp, b, columns, y, ldy, accumulate);                   \
        break;
    switch (rows) {
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
    }
#undef CASE
}

/// The driver's tile form (a block starting off a panel boundary): the same sums, into the tile.
static BF16 void block16_avx512(int rows, int k2, const uint16_t *xb, int kp, const uint16_t *b, int panels, TileF tile) {
    block16_avx512_floats(rows, k2, xb, kp, b, panels, 16 * panels, &tile[0][0], BLOCK_COLUMNS, 0);
}
#endif

void irq16_gemm(int path, int m, int k, const uint16_t *xb, const uint16_t *packed, int n0, int n1,
                float *y, int ldy, int accumulate) {
    int kp = irq16_padded_k(k), k2 = kp / 2;
#if defined(__x86_64__)
    // From a panel boundary the sums go straight to y (the same bits: a store is a store).
    if (path == IRQ16_AVX512_BF16 && irq16_path_available(IRQ16_AVX512_BF16) && (n0 & 15) == 0) {
        for (int n = n0; n < n1; n += BLOCK_COLUMNS) {
            int columns = n1 - n < BLOCK_COLUMNS ? n1 - n : BLOCK_COLUMNS;
            const uint16_t *b = packed + (size_t)(n / 16) * (size_t)k2 * 32;
            for (int r0 = 0; r0 < m; r0 += BLOCK_ROWS) {
                int rows = m - r0 < BLOCK_ROWS ? m - r0 : BLOCK_ROWS;
                block16_avx512_floats(rows, k2, xb + (size_t)r0 * (size_t)kp, kp, b, columns > 16 ? 2 : 1, columns,
                                      y + (size_t)r0 * (size_t)ldy + (n - n0), ldy, accumulate);
            }
        }
        return;
    }
#endif
    void (*kernel)(int, int, const uint16_t *, int, const uint16_t *, int, TileF) = block16_scalar;
#if defined(__x86_64__)
    if (path == IRQ16_AVX512_BF16 && irq16_path_available(IRQ16_AVX512_BF16)) kernel = block16_avx512;
#endif
    (void)path;
    TileF tile;
    for (int n = n0 & ~15; n < n1; n += BLOCK_COLUMNS) {
        int columns = n1 - n < BLOCK_COLUMNS ? n1 - n : BLOCK_COLUMNS;
        int skip = n0 > n ? n0 - n : 0;
        int panels = columns > 16 ? 2 : 1;
        const uint16_t *b = packed + (size_t)(n / 16) * (size_t)k2 * 32;
        for (int r0 = 0; r0 < m; r0 += BLOCK_ROWS) {
            int rows = m - r0 < BLOCK_ROWS ? m - r0 : BLOCK_ROWS;
            kernel(rows, k2, xb + (size_t)r0 * (size_t)kp, kp, b, panels, tile);
            for (int r = 0; r < rows; r++) {
                float *out = y + (size_t)(r0 + r) * (size_t)ldy + (n - n0);
                if (accumulate)
                    for (int j = skip; j < columns; j++) out[j] += tile[r][j];
                else
                    for (int j = skip; j < columns; j++) out[j] = tile[r][j];
            }
        }
    }
}
