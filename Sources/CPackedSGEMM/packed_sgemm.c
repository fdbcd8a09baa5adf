#define _GNU_SOURCE
#include "CPackedSGEMM.h"

#ifndef IR_PSG_X_ROWS
#define IR_PSG_X_ROWS 512
#endif
#define IR_PSG_WIDEN_ROWS 512   // a multiple of IR_PSG_ROW_BLOCK

#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// OpenBLAS's routine signatures (common_macro.h / kernel ABI): BLASLONG is long on LP64 Linux.
typedef int (*kernel_fn)(long m, long n, long k, float alpha, float *a, float *b, float *c, long ldc);
typedef int (*copy_fn)(long m, long n, float *a, long lda, float *b);

static kernel_fn kernel;
static copy_fn copy_weight;       // incopy: the transposed A operand, W
static copy_fn copy_activations;  // oncopy: the plain B operand, x

int ir_psg_resolve(const char *core) {
    if (core == NULL) return 0;
    char upper[64];
    size_t n = strlen(core);
    if (n == 0 || n >= sizeof(upper)) return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)core[i])) return 0;
        upper[i] = (char)toupper((unsigned char)core[i]);
    }
    upper[n] = 0;
    char name[96];
    snprintf(name, sizeof(name), "sgemm_kernel_%s", upper);
    kernel_fn k = (kernel_fn)dlsym(RTLD_DEFAULT, name);
    snprintf(name, sizeof(name), "sgemm_incopy_%s", upper);
    copy_fn w = (copy_fn)dlsym(RTLD_DEFAULT, name);
    snprintf(name, sizeof(name), "sgemm_oncopy_%s", upper);
    copy_fn x = (copy_fn)dlsym(RTLD_DEFAULT, name);
    if (k == NULL || w == NULL || x == NULL) return 0;
    kernel = k;
    copy_weight = w;
    copy_activations = x;
    return 1;
}

// The kernels read whole vectors and prefetch ahead of their panels; a little slack past each buffer keeps every
// read inside memory we own.
#define SLACK_FLOATS 256

size_t ir_psg_packed_elements(long rows, long columns) {
    return (size_t)rows * (size_t)columns + SLACK_FLOATS;
}

static inline long min_long(long a, long b) { return a < b ? a : b; }

/// `bytes` rounded up to whole cache lines, 64-byte aligned (C11 asks aligned_alloc for a multiple).
static void *alloc64(size_t bytes) { return aligned_alloc(64, (bytes + 63) & ~(size_t)63); }

static inline long block_width(long columns, long kb) {
    long rest = columns - kb;
    return rest < IR_PSG_K_BLOCK ? rest : IR_PSG_K_BLOCK;
}

/// The F32 block at element `offset` of `packed`, `count` elements: in place for F32, widened into `buffer` for bf16.
static inline float *block_at(const void *packed, int format, long offset, long count, float *buffer) {
    if (format == IR_PSG_F32) return (float *)packed + offset;
    const uint16_t *halves = (const uint16_t *)packed + offset;
    uint32_t *bits = (uint32_t *)buffer;
    for (long i = 0; i < count; i++) bits[i] = (uint32_t)halves[i] << 16;
    return buffer;
}

void ir_psg_pack(const float *w, long rows, long columns, int format, void *packed) {
    // bf16: each block packed as F32 into `staging`, then its values' top halves kept (exact: they were bf16).
    float *staging = format == IR_PSG_F32 ? NULL : alloc64(((size_t)IR_PSG_ROW_BLOCK * IR_PSG_K_BLOCK + SLACK_FLOATS) * sizeof(float));
    if (format != IR_PSG_F32 && staging == NULL) abort();  // out of memory for 17 KiB at load
    for (long kb = 0; kb < columns; kb += IR_PSG_K_BLOCK) {
        long ml = block_width(columns, kb);
        for (long r0 = 0; r0 < rows; r0 += IR_PSG_ROW_BLOCK) {
            long rb = rows - r0 < IR_PSG_ROW_BLOCK ? rows - r0 : IR_PSG_ROW_BLOCK;
            long offset = rows * kb + r0 * ml;
            float *to = format == IR_PSG_F32 ? (float *)packed + offset : staging;
            copy_weight(ml, rb, (float *)(w + r0 * columns + kb), columns, to);
            if (format != IR_PSG_F32) {
                const uint32_t *bits = (const uint32_t *)staging;
                uint16_t *halves = (uint16_t *)packed + offset;
                for (long i = 0; i < ml * rb; i++) halves[i] = (uint16_t)(bits[i] >> 16);
            }
        }
    }
    size_t total = (size_t)rows * (size_t)columns;
    if (format == IR_PSG_F32) memset((float *)packed + total, 0, SLACK_FLOATS * sizeof(float));
    else memset((uint16_t *)packed + total, 0, SLACK_FLOATS * sizeof(uint16_t));
    free(staging);
}

// Per-thread scratch, grown on demand and freed when the thread ends: one chunk of x packed for one column block
// ([at most IR_PSG_X_ROWS, IR_PSG_K_BLOCK] in the copy routine's layout), the partial blocks ([m, 16] column-major,
// two of them), and for a bf16 W one block widened and, with several chunks of x, a group of blocks widened.
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
struct scratch { float *data; size_t floats; };

static void scratch_free(void *p) {
    struct scratch *s = p;
    free(s->data);
    free(s);
}

static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }

static float *scratch_get(size_t floats) {
    pthread_once(&scratch_once, scratch_init);
    struct scratch *s = pthread_getspecific(scratch_key);
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL) return NULL;
        pthread_setspecific(scratch_key, s);
    }
    if (s->floats < floats) {
        float *grown = alloc64(floats * sizeof(float));
        if (grown == NULL) return NULL;
        free(s->data);
        s->data = grown;
        s->floats = floats;
    }
    return s->data;
}

void ir_psg_product(const void *packed, int format, long rows, long columns, const float *x, long m, long ldx,
                    long first, long count, float *y, long ldy, int accumulate) {
    if (m <= 0 || count <= 0) return;
    long end = first + count;
    // Blocks of 16 rows from the one holding `first` to the one holding `end - 1`. A block only partly inside
    // [first, end) runs into a [m, 16] buffer of its own (column-major) and its wanted columns are added to y
    // after the last column block: the first block and the last, at most.
    long blockFirst = first - first % IR_PSG_ROW_BLOCK;
    long blockLast = (end - 1) - (end - 1) % IR_PSG_ROW_BLOCK;
    int headPartial = blockFirst < first || min_long(blockFirst + IR_PSG_ROW_BLOCK, rows) > end;
    int tailPartial = blockLast != blockFirst && min_long(blockLast + IR_PSG_ROW_BLOCK, rows) > end;
    size_t xFloats = (size_t)(m < IR_PSG_X_ROWS ? m : IR_PSG_X_ROWS) * IR_PSG_K_BLOCK + SLACK_FLOATS;
    size_t partFloats = (size_t)m * IR_PSG_ROW_BLOCK;
    size_t blockFloats = (size_t)IR_PSG_ROW_BLOCK * IR_PSG_K_BLOCK + SLACK_FLOATS;
    // A bf16 W is widened a block at a time just before the kernel reads it. With more than one chunk of x that
    // would widen every block again per chunk, so then groups of IR_PSG_WIDEN_ROWS rows are widened once per column
    // block and every chunk passes over the group.
    int grouped = format != IR_PSG_F32 && m > IR_PSG_X_ROWS;
    long groupRows = grouped ? IR_PSG_WIDEN_ROWS : end - blockFirst;
    size_t groupFloats = grouped ? (size_t)IR_PSG_WIDEN_ROWS * IR_PSG_K_BLOCK + SLACK_FLOATS : 0;
    float *scratch = scratch_get(xFloats + 2 * partFloats + blockFloats + groupFloats + SLACK_FLOATS);
    if (scratch == NULL) abort();  // out of memory for a few hundred KiB: nothing sensible remains to be done
    float *xp = scratch;                       // [m, ml] packed by the copy routine
    float *head = scratch + xFloats;           // [m, 16] column-major (ldc 16)
    float *tail = head + partFloats;           // [m, 16] column-major (ldc 16)
    float *widened = tail + partFloats;        // one block of a bf16 W as F32 [ml * rb] in the copy's layout
    float *group = widened + blockFloats;      // with `grouped`: IR_PSG_WIDEN_ROWS rows of it, block after block
    if (headPartial) memset(head, 0, partFloats * sizeof(float));
    if (tailPartial) memset(tail, 0, partFloats * sizeof(float));
    if (!accumulate) {
        for (long j = 0; j < m; j++) memset(y + j * ldy, 0, (size_t)count * sizeof(float));
    }
    for (long kb = 0; kb < columns; kb += IR_PSG_K_BLOCK) {
        long ml = block_width(columns, kb);
        for (long g0 = blockFirst; g0 < end; g0 += groupRows) {
            long g1 = min_long(end, g0 + groupRows);
            if (grouped) {   // the group's blocks, contiguous in the packed layout, widened once for every chunk of x
                long lastStart = (g1 - 1) - (g1 - 1) % IR_PSG_ROW_BLOCK;
                long groupEnd = min_long(lastStart + IR_PSG_ROW_BLOCK, rows);
                block_at(packed, format, rows * kb + g0 * ml, (groupEnd - g0) * ml, group);
            }
            // x in chunks of IR_PSG_X_ROWS rows, so its packed copy stays in L2 while every block of W passes over it.
            for (long j0 = 0; j0 < m; j0 += IR_PSG_X_ROWS) {
                long mj = m - j0 < IR_PSG_X_ROWS ? m - j0 : IR_PSG_X_ROWS;
                copy_activations(ml, mj, (float *)(x + j0 * ldx + kb), ldx, xp);
                for (long r0 = g0; r0 < g1; r0 += IR_PSG_ROW_BLOCK) {
                    long rb = rows - r0 < IR_PSG_ROW_BLOCK ? rows - r0 : IR_PSG_ROW_BLOCK;
                    float *a = grouped ? group + (r0 - g0) * ml
                                       : block_at(packed, format, rows * kb + r0 * ml, ml * rb, widened);
                    if (r0 == blockFirst && headPartial) {
                        kernel(rb, mj, ml, 1.0f, a, xp, head + j0 * IR_PSG_ROW_BLOCK, IR_PSG_ROW_BLOCK);
                    } else if (r0 == blockLast && tailPartial) {
                        kernel(rb, mj, ml, 1.0f, a, xp, tail + j0 * IR_PSG_ROW_BLOCK, IR_PSG_ROW_BLOCK);
                    } else {
                        kernel(rb, mj, ml, 1.0f, a, xp, y + j0 * ldy + (r0 - first), ldy);
                    }
                }
            }
        }
    }
    // The wanted columns of the partial blocks: rows [max(first, r0), min(end, r0 + 16)) of W.
    for (int which = 0; which < 2; which++) {
        int partial = which == 0 ? headPartial : tailPartial;
        if (!partial) continue;
        long r0 = which == 0 ? blockFirst : blockLast;
        const float *part = which == 0 ? head : tail;
        long lo = first > r0 ? first : r0;
        long hi = min_long(end, min_long(r0 + IR_PSG_ROW_BLOCK, rows));
        for (long j = 0; j < m; j++) {
            float *row = y + j * ldy + (lo - first);
            const float *from = part + j * IR_PSG_ROW_BLOCK + (lo - r0);
            for (long i = 0; i < hi - lo; i++) row[i] += from[i];
        }
    }
}

// The identity of a whole column block, packed as the copy routine packs x: made once, read by every thread.
static float *full_identity;
static pthread_once_t full_identity_once = PTHREAD_ONCE_INIT;

/// I [width, width] packed by the activations' copy routine into a new buffer (the caller frees it), or NULL.
static float *packed_identity(long width) {
    float *identity = calloc((size_t)width * (size_t)width, sizeof(float));                 // [width, width]
    float *packed = alloc64(((size_t)width * (size_t)width + SLACK_FLOATS) * sizeof(float));
    if (identity == NULL || packed == NULL) { free(identity); free(packed); return NULL; }
    for (long i = 0; i < width; i++) identity[i * width + i] = 1;
    copy_activations(width, width, identity, width, packed);
    free(identity);
    return packed;
}

static void full_identity_init(void) { full_identity = packed_identity(IR_PSG_K_BLOCK); }

void ir_psg_unpack_rows(const void *packed, int format, long rows, long columns, long first, long count, float *out) {
    // W[first ..< end] as (I . W[rows]^T)^T: the kernel multiplies each packed block by an identity as wide as the
    // column block, and each sum's one nonzero term gives its element back unchanged. No layout is assumed.
    if (count <= 0) return;
    pthread_once(&full_identity_once, full_identity_init);
    float block[IR_PSG_ROW_BLOCK * IR_PSG_K_BLOCK + SLACK_FLOATS] __attribute__((aligned(64)));   // [ml, 16] column-major
    float widened[IR_PSG_ROW_BLOCK * IR_PSG_K_BLOCK + SLACK_FLOATS] __attribute__((aligned(64)));  // a bf16 block as F32
    long end = first + count;
    for (long kb = 0; kb < columns; kb += IR_PSG_K_BLOCK) {
        long ml = block_width(columns, kb);
        float *narrow = ml == IR_PSG_K_BLOCK ? NULL : packed_identity(ml);   // a narrow last column block's own
        float *identity = ml == IR_PSG_K_BLOCK ? full_identity : narrow;
        if (identity == NULL) abort();  // out of memory for at most 256 KiB: nothing sensible remains to be done
        for (long r0 = first - first % IR_PSG_ROW_BLOCK; r0 < end; r0 += IR_PSG_ROW_BLOCK) {
            long rb = rows - r0 < IR_PSG_ROW_BLOCK ? rows - r0 : IR_PSG_ROW_BLOCK;
            // block[i + j * 16] = W[r0 + i, kb + j]
            memset(block, 0, (size_t)IR_PSG_ROW_BLOCK * (size_t)ml * sizeof(float));
            float *a = block_at(packed, format, rows * kb + r0 * ml, ml * rb, widened);
            kernel(rb, ml, ml, 1.0f, a, identity, block, IR_PSG_ROW_BLOCK);
            for (long i = 0; i < rb; i++) {
                long r = r0 + i;
                if (r < first || r >= end) continue;
                for (long j = 0; j < ml; j++) out[(r - first) * columns + kb + j] = block[i + j * IR_PSG_ROW_BLOCK];
            }
        }
        free(narrow);
    }
}
