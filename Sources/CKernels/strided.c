// Strided convolutions without im2col (issue 17): the micro-kernel turned around. Where the stride-1
// kernels (conv.c) broadcast 6 weights and load 16 neighbouring inputs, this one broadcasts 6 inputs
// (one per output position) and loads 16 output channels' weights as two vectors: 12 accumulators,
// 12 fused multiply-adds per step. The inputs are single floats, so a stride costs nothing: output
// (oy, ox) reads input (oy*sh + ky, ox*sw + kx) of the zero-bordered input. Each call copies the band
// of bordered rows its positions read into its work buffer first (one sequential read of the input,
// which then stays in cache while the tiles go by). Positions are flattened over the output plane, 6
// to a tile, so that small maps waste few lanes. The accumulators (positions x channels) are transposed in
// the store, after bias and activation, into the NCHW output. Under AVX-512 a tile is 7 positions x 32
// channels instead (two blocks at once, one 16-float vector each: 14 accumulators; strided_avx512); and at stride 2 on
// outputs 64 or more wide the tile turns around again, over the band's rows split into even and odd columns:
// the phase path, strided_phases).
//
// Every output is summed over (ci, ky, kx) in that order from zero, with one fused multiply-add per
// term, as im2col + tb_gemm_panel sums it: the two give the same bits, and any split of the work
// gives the same bits.
#include "CKernels.h"

#include <string.h>

#include "internal.h"

#define SB TB_STRIDED_BLOCK
#define SP TB_STRIDED_TILE
// Positions per tile of the AVX-512 kernel, which takes two blocks (32 channels) at once: 14 accumulators.
// Seven positions fill ResNet-18's 7 x 7 maps (49) exactly.
#define SP5 7


size_t tb_strided_packed_size(int cout, int kdim) { return (size_t)((cout + SB - 1) / SB) * (size_t)kdim * SB; }

void tb_strided_pack_weights(const float *weight, int cout, int kdim, float *packed) { tb_pack_blocks(weight, cout, kdim, SB, packed); }

// Input channels per pass over the tiles: a block's weights for a pass (16 x 144 floats, 9 KiB, for
// 16 channels of a 3x3 kernel; two blocks' 18 KiB under AVX-512) stay in L1 while the tiles go by. Between passes the sums wait in
// `work`, as floats: the bits are those of one pass. Up to 288 terms (the 7x7 stem's 147) take one
// pass.
static int pass_channels(int cin, int kh, int kw) {
    if (cin * kh * kw <= 288) return cin;
    int cc = 144 / (kh * kw);   // below cin here: cin * kh * kw > 288
    return cc < 1 ? 1 : cc;
}

// The band of zero-bordered input rows that a range of positions reads: output rows [oy0, oy1) read
// padded rows [oy0*sh, (oy1 - 1)*sh + kh). Its rows are w + 2pw floats or a little more: a plane
// within 512 bytes of a multiple of 4 KiB puts the same column of neighbouring channels in one L1
// set (YOLOv5n's 320 x 320 and 160 x 160 maps would), so a row grows by a float at a time, at most
// 64 times, until it is not.
static int band_width(int w, int pw, int rows) {
    int wd = w + 2 * pw;
    for (int t = 0; t < 64; t++) {
        size_t r = ((size_t)rows * wd * 4) % 4096;
        if (r >= 512 && r <= 4096 - 512) break;
        wd++;
    }
    return wd;
}

// The phase path's band rows: the even phase, the odd phase from *eo (the even ones rounded up to whole
// vectors), the row a whole number of vectors; as band_width, a vector more (at most two) where the plane
// would sit within 512 bytes of a multiple of 4 KiB. At most w + 2pw + 62 floats, inside the bound of
// tb_strided_work_floats.
static int phase_width(int w, int pw, int rows, int *eo) {
    int wb = w + 2 * pw;
    *eo = ((wb + 1) / 2 + 15) / 16 * 16;
    int wd = *eo + (wb / 2 + 15) / 16 * 16;
    for (int t = 0; t < 2; t++) {
        size_t r = ((size_t)rows * wd * 4) % 4096;
        if (r >= 512 && r <= 4096 - 512) break;
        wd += 16;
    }
    return wd;
}

static int band_rows_bound(int kh, int sh, int ow, int positions) { return ((positions + ow - 1) / ow) * sh + kh; }

#define PH_CH 8
#define PH_POS 32
#define PH_MIN_WIDTH 64

// The floats past the band that the phase path reads: the over-read of a row's last tile (its lanes past
// the row are never stored).
#define PH_OVER_READ 64

static int strided_tile(tb_kernels k) { return k == TB_KERNELS_AVX512 ? SP5 : SP; }

// Whether kernels `k` take the phase path (below) on this stride and output width.
static int phase_path(tb_kernels k, int sh, int sw, int ow) { return k == TB_KERNELS_AVX512 && sh == 2 && sw == 2 && ow >= PH_MIN_WIDTH; }

int tb_strided_item_unit(tb_kernels k, int sh, int sw, int ow) { return phase_path(k, sh, sw, ow) ? ow : strided_tile(k); }

size_t tb_strided_work_floats(int cin, int w, int kh, int kw, int sh, int pw, int ow, int positions) {
    size_t band = (size_t)cin * band_rows_bound(kh, sh, ow, positions) * (size_t)(w + 2 * pw + 64);
    // the sums between passes: a tile of 6 positions x 16 channels (AVX2, portable) or of 7 x 32 (AVX-512)
    size_t p6 = (size_t)((positions + SP - 1) / SP) * SP * SB, p7 = (size_t)((positions + SP5 - 1) / SP5) * SP5 * 2 * SB;
    size_t partial = pass_channels(cin, kh, kw) < cin ? (p6 > p7 ? p6 : p7) : 0;
    // the phase path (AVX-512, stride 2 on wide maps) holds no sums between passes, and reads PH_OVER_READ past the band
    size_t phases = sh == 2 && ow >= PH_MIN_WIDTH ? PH_OVER_READ : 0;
    return band + (partial > phases ? partial : phases);
}

// Where a tile's inputs are read: position p's window at x + ci*plane + ky*xw + off[p] + kx.
typedef struct {
    const float *x;
    size_t plane;
    long xw;
    long off[SP5];
} tile_src;

// The tile of positions [q, q + count) of the flattened output (`size` positions a tile: SP, or SP5 for
// the AVX-512 tiles), in a band whose first row is output row oy0's (the positions past count repeat
// the first; their sums are not stored).
static tile_src tile_source(const float *band, size_t plane, int width, int sh, int sw, int ow, int oy0, int q, int count, int size) {
    tile_src s;
    s.x = band; s.plane = plane; s.xw = width;
    int oy = q / ow, ox = q - oy * ow;
    for (int p = 0; p < size; p++) {
        if (p < count) {
            s.off[p] = (long)(oy - oy0) * sh * width + (long)ox * sw;
            if (++ox == ow) { ox = 0; oy++; }
        } else {
            s.off[p] = s.off[0];
        }
    }
    return s;
}

// ---------------------------------------------------------------- portable

static void tile_portable(const tile_src *s, int cin, int kh, int kw, const float *wp, const float *init, float acc[SP][SB]) {
    for (int p = 0; p < SP; p++)
        for (int r = 0; r < SB; r++) acc[p][r] = init ? init[p * SB + r] : 0;
    for (int ci = 0; ci < cin; ci++)
        for (int ky = 0; ky < kh; ky++) {
            const float *row = s->x + ci * s->plane + ky * s->xw;
            for (int kx = 0; kx < kw; kx++) {
                for (int p = 0; p < SP; p++) {
                    float v = row[s->off[p] + kx];
                    for (int r = 0; r < SB; r++) acc[p][r] += v * wp[r];
                }
                wp += SB;
            }
        }
}

static void store_portable(float acc[SP][SB], const float *bias, int c0, int cout, float *y, size_t yplane, int q, int count,
                           tb_act act) {
    for (int r = 0; r < SB && c0 + r < cout; r++) {
        float b = bias ? bias[c0 + r] : 0.0f;
        float *dst = y + (size_t)(c0 + r) * yplane + q;
        for (int p = 0; p < count; p++) dst[p] = tb_activate(acc[p][r] + b, act);
    }
}

// ---------------------------------------------------------------- AVX2 + FMA

#ifdef TB_HAVE_AVX2
// One step: 6 broadcast inputs (one per position) times the block's two vectors of weights.
#define SSTEP(kx)                                                                                          \
    do {                                                                                                   \
        __m256 w0 = _mm256_loadu_ps(wp), w1 = _mm256_loadu_ps(wp + 8), v;                                 \
        v = _mm256_broadcast_ss(r0 + (kx)); a00 = _mm256_fmadd_ps(v, w0, a00); a01 = _mm256_fmadd_ps(v, w1, a01); \
        v = _mm256_broadcast_ss(r1 + (kx)); a10 = _mm256_fmadd_ps(v, w0, a10); a11 = _mm256_fmadd_ps(v, w1, a11); \
        v = _mm256_broadcast_ss(r2 + (kx)); a20 = _mm256_fmadd_ps(v, w0, a20); a21 = _mm256_fmadd_ps(v, w1, a21); \
        v = _mm256_broadcast_ss(r3 + (kx)); a30 = _mm256_fmadd_ps(v, w0, a30); a31 = _mm256_fmadd_ps(v, w1, a31); \
        v = _mm256_broadcast_ss(r4 + (kx)); a40 = _mm256_fmadd_ps(v, w0, a40); a41 = _mm256_fmadd_ps(v, w1, a41); \
        v = _mm256_broadcast_ss(r5 + (kx)); a50 = _mm256_fmadd_ps(v, w0, a50); a51 = _mm256_fmadd_ps(v, w1, a51); \
        wp += SB;                                                                                          \
    } while (0)

// The tile's 6 x 16 sums over `cin` channels, from zero or from the sums `init` ([6][16]); KH and KW
// are constants where the caller inlines it.
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile_avx2s(const tile_src *s, int cin, int KH, int KW, const float *wp, const float *init, __m256 acc[SP][2]) {
    ACC_6x16_DECLARE;
    if (init) {
        a00 = _mm256_loadu_ps(init); a01 = _mm256_loadu_ps(init + 8); a10 = _mm256_loadu_ps(init + 16);
        a11 = _mm256_loadu_ps(init + 24); a20 = _mm256_loadu_ps(init + 32); a21 = _mm256_loadu_ps(init + 40);
        a30 = _mm256_loadu_ps(init + 48); a31 = _mm256_loadu_ps(init + 56); a40 = _mm256_loadu_ps(init + 64);
        a41 = _mm256_loadu_ps(init + 72); a50 = _mm256_loadu_ps(init + 80); a51 = _mm256_loadu_ps(init + 88);
    }
    const long o0 = s->off[0], o1 = s->off[1], o2 = s->off[2], o3 = s->off[3], o4 = s->off[4], o5 = s->off[5];
    const long xw = s->xw;
    const size_t plane = s->plane;
    for (int ci = 0; ci < cin; ci++) {
        const float *base = s->x + ci * plane;
        for (int ky = 0; ky < KH; ky++) {
            const float *row = base + ky * xw;
            const float *r0 = row + o0, *r1 = row + o1, *r2 = row + o2, *r3 = row + o3, *r4 = row + o4, *r5 = row + o5;
            for (int kx = 0; kx < KW; kx++) SSTEP(kx);
        }
    }
    ACC_6x16_STORE(acc);
}

// Bias, activation, and the transposed store of positions [q, q + count) of the block's channels:
// a whole tile of 8 channels through shuffles (channel c's positions 0-3 from the 4 x 4 transposes of
// positions 0-3, its positions 4-5 from the interleave of positions 4 and 5), else through a buffer.
__attribute__((target("avx2,fma"))) static void
store_avx2s(__m256 acc[SP][2], const float *bias, int c0, int cout, float *y, size_t yplane, int q, int count, tb_act act) {
    int rows = cout - c0 < SB ? cout - c0 : SB;
    for (int half = 0; half < 2 && 8 * half < rows; half++) {
        int c = c0 + 8 * half, n = rows - 8 * half < 8 ? rows - 8 * half : 8;
        __m256 b, v[SP];
        if (!bias) b = _mm256_setzero_ps();
        else if (n == 8) b = _mm256_loadu_ps(bias + c);
        else {
            float bb[8] = {0};
            memcpy(bb, bias + c, (size_t)n * sizeof(float));
            b = _mm256_loadu_ps(bb);
        }
        for (int p = 0; p < SP; p++) v[p] = activate_avx2(_mm256_add_ps(acc[p][half], b), act);
        float *d = y + (size_t)c * yplane + q;
        if (n == 8 && count == SP) {
            __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
            __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
            __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
            __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m128 u4 = _mm256_castps256_ps128(t4), h4 = _mm256_extractf128_ps(t4, 1);
            __m128 u5 = _mm256_castps256_ps128(t5), h5 = _mm256_extractf128_ps(t5, 1);
            _mm_storeu_ps(d, _mm256_castps256_ps128(s0)); _mm_storel_pi((__m64 *)(d + 4), u4); d += yplane;
            _mm_storeu_ps(d, _mm256_castps256_ps128(s1)); _mm_storeh_pi((__m64 *)(d + 4), u4); d += yplane;
            _mm_storeu_ps(d, _mm256_castps256_ps128(s2)); _mm_storel_pi((__m64 *)(d + 4), u5); d += yplane;
            _mm_storeu_ps(d, _mm256_castps256_ps128(s3)); _mm_storeh_pi((__m64 *)(d + 4), u5); d += yplane;
            _mm_storeu_ps(d, _mm256_extractf128_ps(s0, 1)); _mm_storel_pi((__m64 *)(d + 4), h4); d += yplane;
            _mm_storeu_ps(d, _mm256_extractf128_ps(s1, 1)); _mm_storeh_pi((__m64 *)(d + 4), h4); d += yplane;
            _mm_storeu_ps(d, _mm256_extractf128_ps(s2, 1)); _mm_storel_pi((__m64 *)(d + 4), h5); d += yplane;
            _mm_storeu_ps(d, _mm256_extractf128_ps(s3, 1)); _mm_storeh_pi((__m64 *)(d + 4), h5);
        } else {
            float t[SP][8];
            for (int p = 0; p < SP; p++) _mm256_storeu_ps(t[p], v[p]);
            for (int r = 0; r < n; r++, d += yplane)
                for (int p = 0; p < count; p++) d[p] = t[p][r];
        }
    }
}

// One pass of one block over one tile: the sums of channels [c0, c0 + n) added to `partial` (from
// zero on the first pass), stored as they are between passes, stored through bias and activation
// on the last.
__attribute__((target("avx2,fma"))) static void
pass_avx2s(const tile_src *s, int n, int kh, int kw, const float *wp, int first, int last, float *partial, const float *bias,
           int c0, int cout, float *y, size_t yplane, int q, int count, tb_act act) {
    __m256 acc[SP][2];
    const float *init = first ? NULL : partial;
    if (kh == 3 && kw == 3) tile_avx2s(s, n, 3, 3, wp, init, acc);
    else if (kh == 1 && kw == 1) tile_avx2s(s, n, 1, 1, wp, init, acc);
    else tile_avx2s(s, n, kh, kw, wp, init, acc);
    if (last) {
        store_avx2s(acc, bias, c0, cout, y, yplane, q, count, act);
    } else {
        for (int p = 0; p < SP; p++) { _mm256_storeu_ps(partial + p * SB, acc[p][0]); _mm256_storeu_ps(partial + p * SB + 8, acc[p][1]); }
    }
}

// ---------------------------------------------------------------- AVX-512

// Tiles of 7 positions x 32 output channels (two blocks of 16, one 16-float vector each): a step
// broadcasts 7 inputs and loads the two blocks' weights, 14 fused multiply-adds. A last odd block runs
// alone (7 accumulators). Each output's terms are summed as on the other paths: the same bits.
#define S5(p)                                                                                              \
    do {                                                                                                   \
        __m512 v_ = _mm512_set1_ps(r##p[kx]);                                                              \
        a##p##0 = _mm512_fmadd_ps(v_, w0, a##p##0);                                                        \
        if (TWO) a##p##1 = _mm512_fmadd_ps(v_, w1, a##p##1);                                               \
    } while (0)

TB_TARGET_AVX512 __attribute__((always_inline)) static inline void
tile_avx512s(const tile_src *s, int cin, int KH, int KW, const float *wp0, const float *wp1, const int TWO, const float *init,
             __m512 acc[SP5][2]) {
    __m512 a00 = _mm512_setzero_ps(), a10 = a00, a20 = a00, a30 = a00, a40 = a00, a50 = a00, a60 = a00;
    __m512 a01 = a00, a11 = a00, a21 = a00, a31 = a00, a41 = a00, a51 = a00, a61 = a00;
    if (init) {
        a00 = _mm512_loadu_ps(init); a10 = _mm512_loadu_ps(init + 32); a20 = _mm512_loadu_ps(init + 64);
        a30 = _mm512_loadu_ps(init + 96); a40 = _mm512_loadu_ps(init + 128); a50 = _mm512_loadu_ps(init + 160);
        a60 = _mm512_loadu_ps(init + 192);
        if (TWO) {
            a01 = _mm512_loadu_ps(init + 16); a11 = _mm512_loadu_ps(init + 48); a21 = _mm512_loadu_ps(init + 80);
            a31 = _mm512_loadu_ps(init + 112); a41 = _mm512_loadu_ps(init + 144); a51 = _mm512_loadu_ps(init + 176);
            a61 = _mm512_loadu_ps(init + 208);
        }
    }
    const long o0 = s->off[0], o1 = s->off[1], o2 = s->off[2], o3 = s->off[3], o4 = s->off[4], o5 = s->off[5], o6 = s->off[6];
    const long xw = s->xw;
    const size_t plane = s->plane;
    for (int ci = 0; ci < cin; ci++) {
        const float *base = s->x + ci * plane;
        for (int ky = 0; ky < KH; ky++) {
            const float *row = base + ky * xw;
            const float *r0 = row + o0, *r1 = row + o1, *r2 = row + o2, *r3 = row + o3, *r4 = row + o4, *r5 = row + o5, *r6 = row + o6;
            for (int kx = 0; kx < KW; kx++) {
                __m512 w0 = _mm512_loadu_ps(wp0), w1 = TWO ? _mm512_loadu_ps(wp1) : w0;
                S5(0); S5(1); S5(2); S5(3); S5(4); S5(5); S5(6);
                wp0 += SB; wp1 += SB;
            }
        }
    }
    acc[0][0] = a00; acc[1][0] = a10; acc[2][0] = a20; acc[3][0] = a30; acc[4][0] = a40; acc[5][0] = a50; acc[6][0] = a60;
    acc[0][1] = a01; acc[1][1] = a11; acc[2][1] = a21; acc[3][1] = a31; acc[4][1] = a41; acc[5][1] = a51; acc[6][1] = a61;
}
#undef S5

// r[c] = column c of the 8 x 8 matrix whose rows are r[0..7].
__attribute__((target("avx2,fma"))) static inline void transpose8_avx2(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20); r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20); r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31); r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31); r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Bias, activation (activate_avx512: the same bits as the AVX2 store) and the transposed store of
// positions [q, q + count) of `nb` blocks from channel c0 on: each 8 channels' 7 positions through
// an 8 x 8 transpose, stored under a mask of `count` lanes.
TB_TARGET_AVX512 static void store_avx512s(__m512 acc[SP5][2], int nb, const float *bias, int c0, int cout, float *y, size_t yplane,
                                           int q, int count, tb_act act) {
    __mmask8 m = (__mmask8)((1u << count) - 1);
    for (int b = 0; b < nb && c0 + SB * b < cout; b++) {
        int cb = c0 + SB * b, rows = cout - cb < SB ? cout - cb : SB;
        __m512 bv = bias ? _mm512_maskz_loadu_ps(tb_first_lanes(rows), bias + cb) : _mm512_setzero_ps();
        __m256 lo[8], hi[8];
        for (int p = 0; p < SP5; p++) {
            __m512 z = activate_avx512(_mm512_add_ps(acc[p][b], bv), act);
            lo[p] = _mm512_castps512_ps256(z);
            hi[p] = _mm512_extractf32x8_ps(z, 1);
        }
        lo[7] = hi[7] = _mm256_setzero_ps();
        transpose8_avx2(lo);
        float *d = y + (size_t)cb * yplane + q;
        for (int r = 0; r < rows && r < 8; r++, d += yplane) _mm256_mask_storeu_ps(d, m, lo[r]);
        if (rows > 8) {
            transpose8_avx2(hi);
            for (int r = 8; r < rows; r++, d += yplane) _mm256_mask_storeu_ps(d, m, hi[r - 8]);
        }
    }
}

// One pass of `nb` (1 or 2) blocks over one tile: as pass_avx2s, the sums held between passes in
// `partial` (7 positions x 32 channels).
TB_TARGET_AVX512 static void pass_avx512s(const tile_src *s, int n, int kh, int kw, const float *wp0, const float *wp1, int nb,
                                          int first, int last, float *partial, const float *bias, int c0, int cout, float *y,
                                          size_t yplane, int q, int count, tb_act act) {
    __m512 acc[SP5][2];
    const float *init = first ? NULL : partial;
    if (nb == 2) {
        if (kh == 3 && kw == 3) tile_avx512s(s, n, 3, 3, wp0, wp1, 1, init, acc);
        else tile_avx512s(s, n, kh, kw, wp0, wp1, 1, init, acc);
    } else {
        if (kh == 3 && kw == 3) tile_avx512s(s, n, 3, 3, wp0, wp1, 0, init, acc);
        else tile_avx512s(s, n, kh, kw, wp0, wp1, 0, init, acc);
    }
    if (last) {
        store_avx512s(acc, nb, bias, c0, cout, y, yplane, q, count, act);
    } else {
        for (int p = 0; p < SP5; p++) {
            _mm512_storeu_ps(partial + p * 2 * SB, acc[p][0]);
            if (nb == 2) _mm512_storeu_ps(partial + p * 2 * SB + SB, acc[p][1]);
        }
    }
}

// The AVX-512 loop of tb_conv_strided: pairs of blocks, passes over the input channels, tiles of 7.
static void strided_avx512(const float *band, size_t plane, int width, int cin, const float *packed, const float *bias, int cout,
                           int kh, int kw, int sh, int sw, float *y, int ow, size_t yplane, int oy0, int p0, int p1, int cb0,
                           int cb1, tb_act act, float *partials) {
    int kdim = cin * kh * kw, cc = pass_channels(cin, kh, kw);
    for (int cb = cb0; cb < cb1; cb += 2) {
        int nb = cb1 - cb < 2 ? 1 : 2;
        for (int c0 = 0; c0 < cin; c0 += cc) {
            int n = cin - c0 < cc ? cin - c0 : cc, first = c0 == 0, last = c0 + n == cin;
            const float *wp0 = packed + ((size_t)cb * kdim + (size_t)c0 * kh * kw) * SB;
            const float *wp1 = nb == 2 ? wp0 + (size_t)kdim * SB : wp0;
            float *partial = partials;
            for (int q = p0; q < p1; q += SP5, partial += SP5 * 2 * SB) {
                int count = p1 - q < SP5 ? p1 - q : SP5;
                tile_src s = tile_source(band + c0 * plane, plane, width, sh, sw, ow, oy0, q, count, SP5);
                pass_avx512s(&s, n, kh, kw, wp0, wp1, nb, first, last, partial, bias, cb * SB, cout, y, yplane, q, count, act);
            }
        }
    }
}

// ---------------------------------------------------------------- AVX-512, stride 2 on wide maps

// Stride 2 in both directions on maps at least PH_MIN_WIDTH outputs wide: the band's rows are copied
// split into their even and their odd columns (a row's phases), so that output ox reads, at tap kx,
// column ox + kx / 2 of phase kx % 2: neighbouring outputs read neighbouring floats at every tap. The
// tile turns around once more, as in the stride-1 loops (conv.c): 8 channels' weights broadcast, 32
// positions loaded as two 16-float vectors, 16 accumulators; the sums are stored straight into the
// output rows, with no transpose. The same sums in the same order from zero, the same bias add and
// activation: the same bits as the tiles above. (On narrower maps a row's last partial vector wastes too
// many lanes, and the tiles above run.)
// The lanes [lo, hi) of a 16-float vector (none where the range is empty).
static inline __mmask16 lanes_between(int lo, int hi) {
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    return hi <= lo ? 0 : (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

// One band row in phases: dst[0, e) the e = (wb + 1) / 2 even columns of the zero-bordered row (pw zeros,
// the w floats of src, zeros to wb = w + 2pw; src NULL: a row of the border), dst[eo, eo + wb/2) its odd
// ones (eo >= e, a whole number of vectors, so that both phases start aligned where dst is), the rest of the
// row's `width` floats zero. Bordered
// columns [2j, 2j + 32) are src[2j - pw, 2j - pw + 32), loaded under the mask of the lanes inside the row
// (masked-out lanes read nothing), then split by two permutes.
TB_TARGET_AVX512 static void phase_row(const float *src, int w, int pw, float *dst, int eo, int width) {
    int wb = w + 2 * pw, e = (wb + 1) / 2, o = wb / 2;
    if (!src) {
        memset(dst, 0, (size_t)width * sizeof(float));
        return;
    }
    // the gaps after each phase, read only by lanes that are never stored: zeros, not whatever the buffer held
    memset(dst + e, 0, (size_t)(eo - e) * sizeof(float));
    memset(dst + eo + o, 0, (size_t)(width - eo - o) * sizeof(float));
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    // whole vectors, inside the row and inside both phases: from the first j (a multiple of 16) with 2j >= pw
    int j = (pw + 31) / 32 * 16, j0 = j < e ? j : e;
    for (j = j0; 2 * j - pw + 32 <= w && j + 16 <= o; j += 16) {
        __m512 a = _mm512_loadu_ps(src + 2 * j - pw), b = _mm512_loadu_ps(src + 2 * j - pw + 16);
        _mm512_storeu_ps(dst + j, _mm512_permutex2var_ps(a, ie, b));
        _mm512_storeu_ps(dst + eo + j, _mm512_permutex2var_ps(a, io, b));
    }
    int j1 = j;
    // the first and last vectors, under masks
    for (j = 0; j < e; j += 16) {
        if (j >= j0 && j < j1) continue;
        int s0 = 2 * j - pw, s1 = s0 + 16;
        __m512 a = _mm512_maskz_loadu_ps(lanes_between(-s0, w - s0), src + s0);
        __m512 b = _mm512_maskz_loadu_ps(lanes_between(-s1, w - s1), src + s1);
        _mm512_mask_storeu_ps(dst + j, tb_first_lanes(e - j), _mm512_permutex2var_ps(a, ie, b));
        if (o > j) _mm512_mask_storeu_ps(dst + eo + j, tb_first_lanes(o - j), _mm512_permutex2var_ps(a, io, b));
    }
}

#define PSTEP(r)                                                                                           \
    do {                                                                                                   \
        __m512 w_ = _mm512_set1_ps(wp[r]);                                                                 \
        a##r##0 = _mm512_fmadd_ps(w_, v0, a##r##0);                                                        \
        if (TWO) a##r##1 = _mm512_fmadd_ps(w_, v1, a##r##1);                                               \
    } while (0)

// The sums of 8 channels (the weights at wp, 16 floats a term) at 32 positions (TWO) or 16, from the
// phased band at x (position 0's window; row stride xw, odd phase e floats after the even one).
TB_TARGET_AVX512 __attribute__((always_inline)) static inline void
phase_tile(const float *x, int cin, size_t plane, long xw, long e, int KH, int KW, const float *wp, const int TWO, __m512 acc[PH_CH][2]) {
    __m512 a00 = _mm512_setzero_ps(), a10 = a00, a20 = a00, a30 = a00, a40 = a00, a50 = a00, a60 = a00, a70 = a00;
    __m512 a01 = a00, a11 = a00, a21 = a00, a31 = a00, a41 = a00, a51 = a00, a61 = a00, a71 = a00;
    for (int ci = 0; ci < cin; ci++) {
        const float *base = x + ci * plane;
        for (int ky = 0; ky < KH; ky++) {
            const float *row = base + ky * xw;
            for (int kx = 0; kx < KW; kx++) {
                const float *r = row + (kx & 1) * e + (kx >> 1);
                __m512 v0 = _mm512_loadu_ps(r), v1 = TWO ? _mm512_loadu_ps(r + 16) : v0;
                PSTEP(0); PSTEP(1); PSTEP(2); PSTEP(3); PSTEP(4); PSTEP(5); PSTEP(6); PSTEP(7);
                wp += SB;
            }
        }
    }
    acc[0][0] = a00; acc[1][0] = a10; acc[2][0] = a20; acc[3][0] = a30; acc[4][0] = a40; acc[5][0] = a50; acc[6][0] = a60; acc[7][0] = a70;
    acc[0][1] = a01; acc[1][1] = a11; acc[2][1] = a21; acc[3][1] = a31; acc[4][1] = a41; acc[5][1] = a51; acc[6][1] = a61; acc[7][1] = a71;
}
#undef PSTEP

// Bias, activation and the store of `count` positions (32 or fewer) of `rows` channels from c on, each a
// row of y from `dst` (channel c's), yplane floats apart.
TB_TARGET_AVX512 static void phase_store(__m512 acc[PH_CH][2], int rows, const float *bias, int c, float *dst, size_t yplane, int count,
                                         tb_act act) {
    int n0 = count < 16 ? count : 16, n1 = count - 16;
    __mmask16 m0 = tb_first_lanes(n0), m1 = n1 > 0 ? tb_first_lanes(n1) : 0;
    for (int r = 0; r < rows; r++, dst += yplane) {
        __m512 b = _mm512_set1_ps(bias ? bias[c + r] : 0.0f);
        __m512 o0 = activate_avx512(_mm512_add_ps(acc[r][0], b), act);
        if (n0 == 16) _mm512_storeu_ps(dst, o0);
        else _mm512_mask_storeu_ps(dst, m0, o0);
        if (n1 > 0) {
            __m512 o1 = activate_avx512(_mm512_add_ps(acc[r][1], b), act);
            if (n1 == 16) _mm512_storeu_ps(dst + 16, o1);
            else _mm512_mask_storeu_ps(dst + 16, m1, o1);
        }
    }
}

// The phase loop of tb_conv_strided: output rows, tiles of 32 positions, then the blocks' halves of 8
// channels on each tile (whose inputs, 2 x 3 rows x 32 floats of each channel for a 3x3, then stay in L1).
TB_TARGET_AVX512 static void strided_phases(const float *band, size_t plane, long xw, long e, int cin, const float *packed,
                                            const float *bias, int cout, int kh, int kw, float *y, int ow, size_t yplane, int oy0,
                                            int p0, int p1, int cb0, int cb1, tb_act act) {
    int kdim = cin * kh * kw;
    for (int oy = p0 / ow; oy * ow < p1; oy++) {
        int xa = p0 - oy * ow > 0 ? p0 - oy * ow : 0, xb = p1 - oy * ow < ow ? p1 - oy * ow : ow;
        for (int ox = xa; ox < xb; ox += PH_POS) {
            int count = xb - ox < PH_POS ? xb - ox : PH_POS;
            const float *src = band + (size_t)(oy - oy0) * 2 * xw + ox;
            for (int c = cb0 * SB; c < cb1 * SB && c < cout; c += PH_CH) {
                int rows = cout - c < PH_CH ? cout - c : PH_CH;
                const float *wp = packed + (size_t)(c / SB) * kdim * SB + c % SB;
                __m512 acc[PH_CH][2];
                if (kh == 3 && kw == 3) {
                    if (count > 16) phase_tile(src, cin, plane, xw, e, 3, 3, wp, 1, acc);
                    else phase_tile(src, cin, plane, xw, e, 3, 3, wp, 0, acc);
                } else if (count > 16) phase_tile(src, cin, plane, xw, e, kh, kw, wp, 1, acc);
                else phase_tile(src, cin, plane, xw, e, kh, kw, wp, 0, acc);
                phase_store(acc, rows, bias, c, y + (size_t)c * yplane + (size_t)oy * ow + ox, yplane, count, act);
            }
        }
    }
}
#endif

void tb_conv_strided(tb_kernels k, const float *x, int cin, int h, int w, const float *packed, const float *bias, int cout,
                     int kh, int kw, int sh, int sw, int ph, int pw, float *y, int oh, int ow, int p0, int p1, int cb0, int cb1,
                     tb_act act, float *work) {
    if (p0 >= p1 || cb0 >= cb1) return;
    size_t yplane = (size_t)oh * ow;
    // The band of bordered input rows these positions read, copied into `work` (in cache while the tiles go by).
    int oy0 = p0 / ow, oy1 = (p1 - 1) / ow + 1, rows = (oy1 - 1 - oy0) * sh + kh;
    float *band = work;
#ifdef TB_HAVE_AVX2
    if (phase_path(k, sh, sw, ow)) {
        // the band in phases: each row's even columns, then its odd ones from the next whole vector on, the
        // rows whole vectors long (vectors start aligned where the work buffer is), then the zeroed over-read
        int eo, pwidth = phase_width(w, pw, rows, &eo);
        size_t pplane = (size_t)rows * pwidth;
        memset(band + (size_t)cin * pplane, 0, PH_OVER_READ * sizeof(float));
        for (int ci = 0; ci < cin; ci++)
            for (int r = 0; r < rows; r++) {
                int iy = oy0 * sh + r - ph;
                phase_row(iy >= 0 && iy < h ? x + ((size_t)ci * h + iy) * w : NULL, w, pw, band + ci * pplane + (size_t)r * pwidth, eo, pwidth);
            }
        strided_phases(band, pplane, pwidth, eo, cin, packed, bias, cout, kh, kw, y, ow, yplane, oy0, p0, p1, cb0, cb1, act);
        return;
    }
#endif
    // The other paths: the band as bordered rows, then the sums between passes over the input channels after it.
    int kdim = cin * kh * kw, cc = pass_channels(cin, kh, kw), width = band_width(w, pw, rows);
    size_t plane = (size_t)rows * width;
    float *partials = work + (size_t)cin * plane;
    for (int ci = 0; ci < cin; ci++)
        tb_border_copy(x + (size_t)ci * h * w, h, w, ph, pw, width, band + ci * plane, oy0 * sh, oy0 * sh + rows);
#ifdef TB_HAVE_AVX2
    if (k == TB_KERNELS_AVX512) {
        strided_avx512(band, plane, width, cin, packed, bias, cout, kh, kw, sh, sw, y, ow, yplane, oy0, p0, p1, cb0, cb1, act, partials);
        return;
    }
#endif
    for (int cb = cb0; cb < cb1; cb++)
        for (int c0 = 0; c0 < cin; c0 += cc) {
            int n = cin - c0 < cc ? cin - c0 : cc, first = c0 == 0, last = c0 + n == cin;
            const float *wp = packed + ((size_t)cb * kdim + (size_t)c0 * kh * kw) * SB;
            float *partial = partials;
            for (int q = p0; q < p1; q += SP, partial += SP * SB) {
                int count = p1 - q < SP ? p1 - q : SP;
                tile_src s = tile_source(band + c0 * plane, plane, width, sh, sw, ow, oy0, q, count, SP);
#ifdef TB_HAVE_AVX2
                if (k == TB_KERNELS_AVX2) {
                    pass_avx2s(&s, n, kh, kw, wp, first, last, partial, bias, cb * SB, cout, y, yplane, q, count, act);
                    continue;
                }
#endif
                float acc[SP][SB];
                tile_portable(&s, n, kh, kw, wp, first ? NULL : partial, acc);
                if (last) store_portable(acc, bias, cb * SB, cout, y, yplane, q, count, act);
                else memcpy(partial, acc, sizeof acc);
            }
        }
}
