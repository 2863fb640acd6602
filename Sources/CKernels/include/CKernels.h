// TumorBoard's own convolution kernels (issue 17): direct convolutions over NCHW input (stride-1
// 1x1 and 3x3 on their own loops, weights packed once into blocks of TB_CO_BLOCK output channels;
// any other kernel and stride on the strided kernel, in blocks of TB_STRIDED_BLOCK), bias and
// activation applied in the store. One C source, compiled for several instruction sets; the caller chooses the path
// with tb_kernels_available (Sources/Engine/ConvKernels.swift).
#ifndef TB_CKERNELS_H
#define TB_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Output channels per packed weight block (the micro-kernel's rows).
#define TB_CO_BLOCK 6
/// Output positions per micro-kernel tile (two 8-float vectors; the AVX-512 loops take two tiles at once).
#define TB_TILE 16
/// Input channels (rows) up to which a last partial tile is copied on the kernel's own stack; above
/// it the caller passes a buffer of rows * TB_TILE floats (tb_gemm_panel).
#define TB_TAIL_STACK_ROWS 256

/// The kernels: plain C, AVX2 with FMA, or AVX-512 (AVX-512F, VL and DQ: the direct 1x1 and 3x3
/// loops on 16-float vectors, except on maps 8 or fewer wide and for a row's last 8 or fewer positions;
/// the strided kernel on tiles of 7 positions x 32 channels, or at stride 2 on outputs 64 or more wide on the
/// phase path's tiles of 8 channels x 32 positions of a row; Winograd, max pooling and the stride-2 gather on
/// their AVX2 code). AVX2 and AVX-512 give the same bits.
typedef enum { TB_KERNELS_PORTABLE = 0, TB_KERNELS_AVX2 = 1, TB_KERNELS_AVX512 = 2 } tb_kernels;
/// Activation applied in the store; the numbering matches nothing outside this file.
typedef enum { TB_ACT_NONE = 0, TB_ACT_RELU = 1, TB_ACT_SILU = 2, TB_ACT_SIGMOID = 3 } tb_act;

/// Whether this processor runs `k` (AVX2 needs AVX2 and FMA, AVX-512 needs those and AVX-512F, VL and
/// DQ, checked with cpuid; portable always).
int tb_kernels_available(tb_kernels k);

/// Floats of packed weights for `cout` output channels and `kdim` = cin*kh*kw inputs each.
size_t tb_packed_size(int cout, int kdim);
/// weight [cout][kdim] -> packed [ceil(cout/6)][kdim][6], zero rows past cout.
void tb_pack_weights(const float *weight, int cout, int kdim, float *packed);

/// One direct convolution, stride 1, dilation 1, one group, over output rows [oy0, oy1) and
/// packed channel blocks [cb0, cb1) of one image.
/// x: the input, already padded: cin planes of xh x xw, with xh >= oh + kh - 1 and
/// xw >= tb_padded_width(ow, kw) (ow rounded up to whole tiles, plus kw - 1), so that a tile never
/// reads past a plane. y: cout planes of oh x ow.
/// Every output is summed over (ci, ky, kx) in that order, whatever the ranges, so any split of
/// the work gives the same bits.
void tb_conv_direct(tb_kernels k, const float *x, int cin, int xh, int xw,
                    const float *packed, const float *bias, int cout, int kh, int kw,
                    float *y, int oh, int ow, int oy0, int oy1, int cb0, int cb1, tb_act act);

/// The padded input width tb_conv_direct needs for output width ow and kernel width kw.
int tb_padded_width(int ow, int kw);

/// The product of the packed weights and a panel (a GEMM over the flattened positions) over
/// positions [p0, p1) and blocks [cb0, cb1): x is cin rows of n positions, y cout planes `yplane`
/// floats apart (y points at position 0 of the panel in output plane 0). A 1x1 convolution is the
/// panel of its input planes with yplane = n; the strided layers pass the im2col columns of a band
/// of output rows, whose products land inside larger output planes. p0 must be a multiple of
/// TB_TILE; a last partial tile reads only inside the rows (it is copied, zero-padded, into a
/// buffer of cin * TB_TILE floats: on the stack up to TB_TAIL_STACK_ROWS rows, else `tail_buffer`,
/// which the caller must then pass). `stream` nonzero: the vector kernels write whole output vectors at
/// aligned addresses past the caches (non-temporal stores, fenced before the call returns), for outputs read
/// only much later (YOLOv5's detection heads); the same values either way.
void tb_gemm_panel(tb_kernels k, const float *x, int cin, int n, const float *packed, const float *bias,
                   int cout, float *y, size_t yplane, int p0, int p1, int cb0, int cb1, tb_act act, int stream,
                   float *tail_buffer);

/// Output channels per block of the strided kernel (two 8-float vectors) and positions per tile.
#define TB_STRIDED_BLOCK 16
#define TB_STRIDED_TILE 6
/// Positions a work item of tb_conv_strided should hold a multiple of: whole output rows where kernels `k`
/// take the phase path (AVX-512, stride 2 both ways, outputs 64 or more wide: tiles of 32 positions of
/// one row), else whole tiles of the strided loop (TB_STRIDED_TILE positions, 7 under AVX-512, whose tiles take two
/// blocks at once). Any split gives the same bits; this one wastes the
/// fewest lanes and copies the fewest rows.
int tb_strided_item_unit(tb_kernels k, int sh, int sw, int ow);

/// Floats of weights packed for tb_conv_strided: ceil(cout/16) blocks of kdim x 16.
size_t tb_strided_packed_size(int cout, int kdim);
/// weight [cout][kdim] -> packed [ceil(cout/16)][kdim][16], zero rows past cout.
void tb_strided_pack_weights(const float *weight, int cout, int kdim, float *packed);
/// Floats of work buffer tb_conv_strided needs for a range of `positions` (the band of bordered
/// input rows they read, and the sums held between passes over the input channels).
size_t tb_strided_work_floats(int cin, int w, int kh, int kw, int sh, int pw, int ow, int positions);
/// A convolution of any kernel, stride and padding, one group, dilation 1, from the unpadded NCHW
/// input x (cin planes of h x w) into y (cout planes of oh x ow), over positions [p0, p1) of the
/// flattened output plane and blocks [cb0, cb1) of 16 output channels (Sources/CKernels/strided.c).
/// Each output is summed over (ci, ky, kx) in that order, one fused multiply-add a term, as
/// tb_gemm_panel sums im2col's columns: the same bits, and the same bits for any split of the work.
/// `work`: tb_strided_work_floats(cin, w, kh, kw, sh, pw, ow, p1 - p0) floats.
void tb_conv_strided(tb_kernels k, const float *x, int cin, int h, int w, const float *packed, const float *bias, int cout,
                     int kh, int kw, int sh, int sw, int ph, int pw, float *y, int oh, int ow, int p0, int p1, int cb0, int cb1,
                     tb_act act, float *work);

/// Winograd F(2x2, 3x3) (Sources/CKernels/winograd.c): a stride-1 3x3 convolution with padding 1.
/// The input is read from a zero-bordered copy (one row and column of border) of `rows` x `width`
/// per channel, as tb_border_copy writes it with border 1; the 2x2 output tiles run in
/// `chunks` chunks of 8 consecutive tiles.
void tb_wino_layout(int oh, int ow, int *rows, int *width, int *chunks);
/// Floats of transformed, packed weights: 16 x tb_packed_size(cout, cin).
size_t tb_wino_weights_floats(int cout, int cin);
/// weight [cout][cin][3][3] -> U = G g G^T, laid out [16][ceil(cout/6)][cin][6] (zero past cout).
void tb_wino_pack_weights(const float *weight, int cout, int cin, float *u);
/// Floats of work buffer tb_wino_conv needs for `blocks` channel blocks.
size_t tb_wino_work_floats(int cin, int blocks);
/// Chunks [q0, q1) of output tiles (taken two at a time) and blocks [cb0, cb1) of output channels of
/// one image, bias and activation applied in the store. Every output is computed the same way
/// whatever the ranges, so any split of the work gives the same bits.
void tb_wino_conv(tb_kernels k, const float *xp, int cin, size_t plane, int width, const float *u, const float *bias, int cout,
                  float *y, int oh, int ow, int q0, int q1, int cb0, int cb1, tb_act act, float *work);

/// Max pooling of one plane: x is h x w (both at least 1), y oh x ow, a `kernel` x `kernel` window with
/// stride s and p columns and rows of padding (p <= kernel / 2, so every window holds at least one input;
/// the padding never wins). `row` is scratch for w + 2p + 16 floats. A NaN in a window makes its maximum NaN
/// (as in PyTorch). Kernels `k`: the AVX2 and AVX-512 ones run 8-float vectors (strides 1 and 2), the
/// same results as the plain C.
void tb_maxpool_plane(tb_kernels k, const float *x, int h, int w, float *y, int oh, int ow, int kernel, int s, int p, float *row);

/// Nearest-neighbour upsampling of one h x w plane by an integer factor f >= 1 into y (h*f x w*f): y[i][j] =
/// x[i / f][j / f] (Sources/CKernels/pool.c).
void tb_upsample_nearest_plane(const float *x, int h, int w, int f, float *y);

/// Rows [i0, i1) of one channel's zero-bordered copy, written from `out` on, `width` floats a row:
/// row i column j holds x[i - by][j - bx], zero outside the h x w input (by rows and bx columns of
/// border; the rows run past the input where the caller's layout asks). The stride-1 3x3 loop and
/// Winograd read such a copy; the strided kernel copies its band of rows with it.
void tb_border_copy(const float *x, int h, int w, int by, int bx, int width, float *out, int i0, int i1);

/// dst[t] = src[2t] for t < n, reading only src[0 .. avail) (avail >= 2n - 1): im2col's rows of a
/// stride-2 convolution straight from its input (vector shuffles with the AVX2 or AVX-512 kernels `k`,
/// which both run the AVX2 code).
void tb_gather_stride2(tb_kernels k, const float *src, int n, int avail, float *dst);

/// The processor's multiply-add throughput, for `tumorboard bench --model peak` (the yardstick of
/// docs/performance.md): `iterations` steps of independent accumulators a = a * 1 + 1 from zero
/// (AVX2: 12 vectors of 8 lanes, fused; AVX-512: 12 vectors of 16; portable: 48 lanes in plain C, as the compiler vectorises
/// them). Writes the floating-point operations done to `flops` (2 per lane and step) and returns
/// the sum of every lane, which is flops / 2 exactly while iterations <= 2^24: the loop is checked
/// and cannot be optimised away.
double tb_fma_loop(tb_kernels k, long iterations, double *flops);

/// The engine's parallel loop (Sources/CKernels/threads.c): body(ctx, i) for i in [0, n), on the calling
/// thread and up to threads - 1 workers of a process-wide pool, each taking the next i as it finishes one.
/// The workers spin for a while after a call (2 ms; TUMORBOARD_SPIN_US sets it, 0 to 1 000 000 us), then
/// sleep. Returns 1 once every i has run, or 0 at once, having run none, when another thread's call holds
/// the workers (the caller then runs the loop some other way).
typedef void (*tb_parallel_body)(void *ctx, long i);
int tb_parallel_for(long n, int threads, tb_parallel_body body, void *ctx);

// The index of the first of `n` unaligned 32-bit (16-bit) values whose bits under `mask` are all set
// (a float's exponent: NaN or infinity), or -1. SafeTensors.checkFinite.
long tb_first_nonfinite32(const void *src, size_t n, uint32_t mask);
long tb_first_nonfinite16(const void *src, size_t n, uint16_t mask);

#ifdef __cplusplus
}
#endif
#endif
