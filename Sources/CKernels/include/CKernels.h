// TumorBoard's own convolution kernels (issue 17): direct convolutions over NCHW input (stride-1
// 1x1 and 3x3 on their own loops, any other kernel and stride through a table of tap offsets),
// weights packed once into blocks of TB_CO_BLOCK output channels, bias and activation applied in
// the store. One C source, compiled for several instruction sets; the caller chooses the path
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
/// Output positions per micro-kernel tile (two 8-float vectors).
#define TB_TILE 16
/// Input channels (rows) up to which a last partial tile is copied on the kernel's own stack; above
/// it the caller passes a buffer of rows * TB_TILE floats (tb_gemm_panel).
#define TB_TAIL_STACK_ROWS 256

typedef enum { TB_KERNELS_PORTABLE = 0, TB_KERNELS_AVX2 = 1 } tb_kernels;
/// Activation applied in the store; the numbering matches nothing outside this file.
typedef enum { TB_ACT_NONE = 0, TB_ACT_RELU = 1, TB_ACT_SILU = 2, TB_ACT_SIGMOID = 3 } tb_act;

/// Whether this processor runs `k` (AVX2 needs AVX2 and FMA, checked with cpuid; portable always).
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
/// which the caller must then pass).
void tb_gemm_panel(tb_kernels k, const float *x, int cin, int n, const float *packed, const float *bias,
                   int cout, float *y, size_t yplane, int p0, int p1, int cb0, int cb1, tb_act act, float *tail_buffer);

/// A convolution of any kernel size as a table of tap offsets (strided convolutions, read through
/// phase planes: see Sources/Engine/ConvKernels.swift): output (oy, ox) of channel o is
/// sum over ci and t of w[o][ci*ntaps + t] * x[ci*plane + oy*xw + ox + taps[t]], over rows [oy0, oy1)
/// and blocks [cb0, cb1). Every tap of a tile must leave TB_TILE floats readable past it (and, on
/// maps 8 or fewer wide, the same one row of xw further down when another output row follows).
void tb_conv_taps(tb_kernels k, const float *x, int cin, size_t plane, int xw, const int *taps, int ntaps,
                  const float *packed, const float *bias, int cout, float *y, int oh, int ow, int oy0, int oy1,
                  int cb0, int cb1, tb_act act);

/// Winograd F(2x2, 3x3) (Sources/CKernels/winograd.c): a stride-1 3x3 convolution with padding 1.
/// The input is read from a zero-bordered copy (one row and column of border) of `rows` x `width`
/// per channel, as tb_phase_split writes it with stride 1 and border 1; the 2x2 output tiles run in
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

/// Max pooling of one plane: x is h x w (both at least 1), y oh x ow, a k x k window with stride s
/// and p columns and rows of padding (p <= k / 2, so every window holds at least one input; the
/// padding never wins). `row` is scratch for w + 2p floats. A NaN in a window makes its maximum NaN
/// (as in PyTorch).
void tb_maxpool_plane(const float *x, int h, int w, float *y, int oh, int ow, int k, int s, int p, float *row);

/// One channel's phase planes, the input of a strided convolution split by row and column
/// remainder modulo the stride (Sources/Engine: `PhaseLayout`, for our kernels' tap tables): sh x sw
/// planes of rows x width, phase (ry, rx) row i column j holding
/// x[(i - by) * sh + ry][(j - bx) * sw + rx], zero outside the h x w input (by and bx rows and
/// columns of border). Writes rows [i0, i1) of every phase, so that a caller can split the rows.
/// `k`: the kernels the caller runs (AVX2: stride-2 rows in one shuffled pass).
void tb_phase_split(tb_kernels k, const float *x, int h, int w, int sh, int sw, int by, int bx, int rows, int width,
                    float *out, int i0, int i1);

/// dst[t] = src[2t] for t < n, reading only src[0 .. avail) (avail >= 2n - 1): im2col's rows of a
/// stride-2 convolution straight from its input (vector shuffles with the AVX2 kernels `k`).
void tb_gather_stride2(tb_kernels k, const float *src, int n, int avail, float *dst);

/// The processor's multiply-add throughput, for `tumorboard bench --model peak` (the yardstick of
/// docs/performance.md): `iterations` steps of independent accumulators a = a * 1 + 1 from zero
/// (AVX2: 12 vectors of 8 lanes, fused; portable: 48 lanes in plain C, as the compiler vectorises
/// them). Writes the floating-point operations done to `flops` (2 per lane and step) and returns
/// the sum of every lane, which is flops / 2 exactly while iterations <= 2^24: the loop is checked
/// and cannot be optimised away.
double tb_fma_loop(tb_kernels k, long iterations, double *flops);

// The index of the first of `n` unaligned 32-bit (16-bit) values whose bits under `mask` are all set
// (a float's exponent: NaN or infinity), or -1. SafeTensors.checkFinite.
long tb_first_nonfinite32(const void *src, size_t n, uint32_t mask);
long tb_first_nonfinite16(const void *src, size_t n, uint16_t mask);

#ifdef __cplusplus
}
#endif
#endif
