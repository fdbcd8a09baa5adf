#ifndef CPACKEDSGEMM_H
#define CPACKEDSGEMM_H

#include <stddef.h>

// F32 weight matrices packed once, at load, by OpenBLAS's own packing routine, and multiplied by OpenBLAS's own
// single-precision kernel: the arithmetic of `cblas_sgemm`, without repacking the weight on every call.
//
// `cblas_sgemm` copies both operands into the kernel's panel layout on every call. For y = x W^T with a weight
// read from memory once per request, copying W is a pass over it at memory speed before any arithmetic (about a
// tenth of a flan-t5-small request). Packed here, the kernel streams W straight from the packed copy; only the
// activations x are copied, as sgemm copies them.
//
// OpenBLAS 0.3 builds with DYNAMIC_ARCH (Debian's) export each core type's routines by name: sgemm_kernel_<CORE>,
// sgemm_incopy_<CORE>, sgemm_oncopy_<CORE>. They are the routines sgemm's transposed-A driver calls for
// C = A^T B (column-major), which is y^T = W x^T: A is W ([rows, columns] row-major is column-major
// [columns, rows]), B is x. Nothing here assumes their panel widths: W is packed in independent blocks of 16
// rows (of at most IR_PSG_K_BLOCK columns each) and the kernel is called on one block at a time, so any unroll
// that divides or exceeds 16 reads back exactly what its own copy routine wrote.
//
// Each product copies x in chunks of 512 rows per column block (512 KiB, inside L2), and every block of W passes
// over the chunk from L1. The gain is the copy of W that sgemm makes per call, so it is largest where x has few rows
// (a request's few hundred): with thousands of rows (pointwise batches) sgemm's copy of W is amortised and the two
// run alike.
//
// Layout of a packed [rows, columns] matrix, `ir_psg_packed_elements` elements, 64-byte aligned:
//   for each column block starting at column kb, IR_PSG_K_BLOCK wide (the last may be narrower, width ml):
//     at element rows * kb: for each block of 16 rows r0 (the last may hold fewer, count rb):
//       at + r0 * ml: incopy(ml, rb) of W[r0 ..< r0 + rb, kb ..< kb + ml], ml * rb elements
//
// Elements are F32, or bfloat16 (IR_PSG_BF16: a BF16 checkpoint kept 16-bit): the copy routine packs the widened
// values and each packed value keeps its top 16 bits, exactly, since it came from bf16. A product then widens one
// block of W at a time into an F32 buffer the size of L1's share (16 x 256 floats) just before the kernel reads it.

#include <stdint.h>

#define IR_PSG_K_BLOCK 256
#define IR_PSG_ROW_BLOCK 16
#define IR_PSG_F32 0
#define IR_PSG_BF16 1

/// Finds the routines of the core type OpenBLAS runs (`core`, as openblas_get_corename() names it, any case).
/// 1 when all three are exported, 0 otherwise (a build without DYNAMIC_ARCH, another BLAS): then nothing else
/// here may be called.
int ir_psg_resolve(const char *core);

/// Elements to allocate (64-byte aligned) for a packed [rows, columns] matrix; includes slack past the end for the
/// kernel's read-ahead.
size_t ir_psg_packed_elements(long rows, long columns);

/// Packs w [rows, columns] (row-major, F32; with IR_PSG_BF16 every value a bfloat16's) into `packed`, whose elements
/// are `format`'s.
void ir_psg_pack(const float *w, long rows, long columns, int format, void *packed);

/// y[m, count] (rows `ldy` apart) = x[m, columns] (rows `ldx` apart) . W[first ..< first + count]^T,
/// or += when `accumulate`. On the calling thread; its scratch is per thread and kept for the next call.
void ir_psg_product(const void *packed, int format, long rows, long columns, const float *x, long m, long ldx,
                    long first, long count, float *y, long ldy, int accumulate);

/// W[first ..< first + count] (row-major F32, [count, columns]) read back from the packed form, exactly.
void ir_psg_unpack_rows(const void *packed, int format, long rows, long columns, long first, long count, float *out);

#endif
