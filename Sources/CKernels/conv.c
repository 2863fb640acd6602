// TumorBoard's direct convolution kernels (issue 17); see include/CKernels.h.
//
// The micro-kernel computes TB_CO_BLOCK (6) output channels x TB_TILE (16) positions: per input
// value it broadcasts 6 packed weights and loads 2 vectors of 8 inputs, 12 fused multiply-adds
// into 12 accumulators (of the 16 AVX2 registers). The AVX-512 loops (below) run the same step on
// 16-float vectors, 32 positions a tile, with the same bits. Bias and activation are applied before the one
// store, so the output makes one trip through memory. The portable path is the same loop nest in
// plain C (the compiler vectorises the 16-wide inner loops for whatever the target has).
#include "CKernels.h"

#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

int tb_padded_width(int ow, int kw) { return (ow + TILE - 1) / TILE * TILE + kw - 1; }

size_t tb_packed_size(int cout, int kdim) { return (size_t)((cout + CO - 1) / CO) * (size_t)kdim * CO; }

void tb_pack_weights(const float *weight, int cout, int kdim, float *packed) { tb_pack_blocks(weight, cout, kdim, CO, packed); }


// ---------------------------------------------------------------- portable

static inline void store_tile(float acc[CO][TILE], const float *bias, int c0, int cout, float *y, size_t yplane,
                              int count, tb_act act) {
    for (int r = 0; r < CO && c0 + r < cout; r++) {
        float b = bias ? bias[c0 + r] : 0.0f;
        float *dst = y + (size_t)(c0 + r) * yplane;
        for (int i = 0; i < count; i++) dst[i] = tb_activate(acc[r][i] + b, act);
    }
}

// Rows [oy0, oy1) of tiles over [0, ow): row oy reads from x + oy*xw (planes `plane` apart, tap t
// at offset taps[t]) and writes to y + oy*yw (planes `yplane` apart); blocks [cb0, cb1) of packed
// weights. Every stride-1 path of the portable kernels runs this one loop nest (the strided kernel has
// its own, strided.c).
static void run_portable(const float *x, size_t plane, int xw, int cin, const int *taps, int ntaps, const float *packed,
                         const float *bias, int cout, float *y, size_t yplane, int yw, int ow, int oy0, int oy1,
                         int cb0, int cb1, tb_act act) {
    int kdim = cin * ntaps;
    float acc[CO][TILE];
    for (int cb = cb0; cb < cb1; cb++) {
        const float *wp0 = packed + (size_t)cb * kdim * CO;
        for (int oy = oy0; oy < oy1; oy++)
            for (int ox = 0; ox < ow; ox += TILE) {
                const float *x0 = x + (size_t)oy * xw + ox, *wp = wp0;
                for (int r = 0; r < CO; r++)
                    for (int i = 0; i < TILE; i++) acc[r][i] = 0;
                for (int ci = 0; ci < cin; ci++)
                    for (int t = 0; t < ntaps; t++) {
                        const float *v = x0 + (size_t)ci * plane + taps[t];
                        for (int r = 0; r < CO; r++) {
                            float w = wp[r];
                            for (int i = 0; i < TILE; i++) acc[r][i] += w * v[i];
                        }
                        wp += CO;
                    }
                store_tile(acc, bias, cb * CO, cout, y + (size_t)oy * yw + ox, yplane, ow - ox < TILE ? ow - ox : TILE, act);
            }
    }
}

// ---------------------------------------------------------------- AVX2 + FMA

#if defined(__x86_64__) || defined(__i386__)
// The weights of the next channels, a block's taps of one input channel (kh * kw * 6 floats) 512 floats
// ahead, for the blocks-outer order, where a block's weights come from memory (ResNet-18's 512 x 7x7: 9.4
// MB a layer, each weight used for 49 positions; its three calls took 5.35 ms without, 4.6-5.3 with,
// docs/performance.md "Seventh step"). A prefetch neither faults nor changes a value.
__attribute__((target("avx2,fma"), always_inline)) static inline void prefetch_weights(const float *wp, int taps) {
    const char *p = (const char *)(wp + 512);
    for (int b = 0; b < taps * CO * (int)sizeof(float); b += 64) _mm_prefetch(p + b, _MM_HINT_T0);
}

// The 6 x 16 tile: 12 accumulators. kh and kw are constants where the caller inlines it. The
// second vector of inputs starts off1 floats after the first: 8 (16 positions of one row), or one
// row (8 positions of two rows, for maps 8 or fewer wide, such as ResNet-18's 7x7).
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile_avx2(const float *x0, int cin, size_t plane, int xw, int kh, int kw, const float *wp, __m256 acc[CO][2], size_t off1,
          int wpf, const int R) {
    ACC_6x16_DECLARE;
    for (int ci = 0; ci < cin; ci++) {
        const float *base = x0 + (size_t)ci * plane;
        if (wpf) prefetch_weights(wp, kh * kw);
        for (int ky = 0; ky < kh; ky++) {
            const float *row = base + (size_t)ky * xw;
            for (int kx = 0; kx < kw; kx++) {
                __m256 v0 = _mm256_loadu_ps(row + kx), v1 = _mm256_loadu_ps(row + kx + off1);
                STEP_6x16_R(v0, v1, wp, R);
                wp += CO;
            }
        }
    }
    ACC_6x16_STORE(acc);
}

// The 6 x 8 tile for a row's last 8 or fewer positions.
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile8_avx2(const float *x0, int cin, size_t plane, int xw, int kh, int kw, const float *wp, __m256 acc[CO][2], int wpf,
           const int R) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    for (int ci = 0; ci < cin; ci++) {
        const float *base = x0 + (size_t)ci * plane;
        if (wpf) prefetch_weights(wp, kh * kw);
        for (int ky = 0; ky < kh; ky++) {
            const float *row = base + (size_t)ky * xw;
            for (int kx = 0; kx < kw; kx++) {
                __m256 v = _mm256_loadu_ps(row + kx);
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(wp + 0), v, a0);
                if (R > 1) a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(wp + 1), v, a1);
                if (R > 2) a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(wp + 2), v, a2);
                if (R > 3) a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(wp + 3), v, a3);
                if (R > 4) a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(wp + 4), v, a4);
                if (R > 5) a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(wp + 5), v, a5);
                wp += CO;
            }
        }
    }
    acc[0][0] = a0; acc[1][0] = a1; acc[2][0] = a2; acc[3][0] = a3; acc[4][0] = a4; acc[5][0] = a5;
}

__attribute__((target("avx2,fma"))) static inline void
store_avx2(__m256 acc[CO][2], const float *bias, int c0, int cout, float *y, size_t yplane, int count, tb_act act, int stream) {
    for (int r = 0; r < CO && c0 + r < cout; r++) {
        __m256 b = _mm256_set1_ps(bias ? bias[c0 + r] : 0.0f);
        __m256 o0 = activate_avx2(_mm256_add_ps(acc[r][0], b), act);
        __m256 o1 = count > 8 ? activate_avx2(_mm256_add_ps(acc[r][1], b), act) : o0;
        float *dst = y + (size_t)(c0 + r) * yplane;
        if (count == TILE && stream && ((uintptr_t)dst & 31) == 0) {
            _mm256_stream_ps(dst, o0); _mm256_stream_ps(dst + 8, o1);
        } else if (count == TILE) {
            _mm256_storeu_ps(dst, o0); _mm256_storeu_ps(dst + 8, o1);
        } else if (count == 8) {
            _mm256_storeu_ps(dst, o0);
        } else {
            float tmp[TILE];
            _mm256_storeu_ps(tmp, o0); _mm256_storeu_ps(tmp + 8, o1);
            memcpy(dst, tmp, (size_t)count * sizeof(float));
        }
    }
}

// Stores a two-row tile: acc[r][0] to row 0, acc[r][1] to the row `ystride` floats on.
__attribute__((target("avx2,fma"))) static inline void
store_rows_avx2(__m256 acc[CO][2], const float *bias, int c0, int cout, float *y, size_t yplane, size_t ystride, int count,
                tb_act act) {
    for (int r = 0; r < CO && c0 + r < cout; r++) {
        __m256 b = _mm256_set1_ps(bias ? bias[c0 + r] : 0.0f);
        float *dst = y + (size_t)(c0 + r) * yplane;
        for (int half = 0; half < 2; half++) {
            __m256 o = activate_avx2(_mm256_add_ps(acc[r][half], b), act);
            float *d = dst + half * ystride;
            if (count == 8) {
                _mm256_storeu_ps(d, o);
            } else {
                float tmp[8];
                _mm256_storeu_ps(tmp, o);
                memcpy(d, tmp, (size_t)count * sizeof(float));
            }
        }
    }
}

// One tile: 16 positions of a row, or 8 where the row has 8 or fewer left; on maps 8 or fewer
// wide, 8 positions of two rows at once.
#define TILE_AVX2(KH, KW, OY, OX, WPF)                                                                    \
    do {                                                                                                  \
        __m256 acc[CO][2];                                                                                \
        int left = ow - (OX), count = left < TILE ? left : TILE;                                          \
        const float *src = x + (size_t)(OY) * xw + (OX);                                                  \
        if (ow <= 8 && (OY) + 1 < oy1) {                                                                  \
            TB_ROWS_DISPATCH(cout - cb * CO, tile_avx2(src, cin, plane, xw, KH, KW, wp, acc, (size_t)xw, WPF, R_)); \
            store_rows_avx2(acc, bias, cb * CO, cout, y + (size_t)(OY) * yw + (OX), yplane, (size_t)yw, ow, act); \
        } else {                                                                                          \
            if (count <= 8) TB_ROWS_DISPATCH(cout - cb * CO, tile8_avx2(src, cin, plane, xw, KH, KW, wp, acc, WPF, R_)); \
            else TB_ROWS_DISPATCH(cout - cb * CO, tile_avx2(src, cin, plane, xw, KH, KW, wp, acc, 8, WPF, R_)); \
            store_avx2(acc, bias, cb * CO, cout, y + (size_t)(OY) * yw + (OX), yplane, count, act, stream); \
        }                                                                                                 \
    } while (0)

// Rows advance by two where a tile takes two rows.
#define ROW_STEP (ow <= 8 ? 2 : 1)

// Blocks outer when the packed weights are large (each block's weights stay in cache while the
// positions stream by); positions outer when they are small (each input tile stays in cache while
// every block uses it). Either way each output is one tile call, so the bits are the same.
#define RUN_AVX2_BODY(KH, KW)                                                                           \
    if (weights_small) {                                                                                \
        for (int oy = oy0; oy < oy1; oy += ROW_STEP)                                                    \
            for (int ox = 0; ox < ow; ox += TILE)                                                       \
                for (int cb = cb0; cb < cb1; cb++) {                                                    \
                    const float *wp = packed + (size_t)cb * kdim * CO;                                  \
                    TILE_AVX2(KH, KW, oy, ox, 0);                                                       \
                }                                                                                       \
    } else {                                                                                            \
        for (int cb = cb0; cb < cb1; cb++) {                                                            \
            const float *wp = packed + (size_t)cb * kdim * CO;                                          \
            for (int oy = oy0; oy < oy1; oy += ROW_STEP)                                                \
                for (int ox = 0; ox < ow; ox += TILE) TILE_AVX2(KH, KW, oy, ox, (KH) * (KW) > 1);       \
        }                                                                                               \
    }

__attribute__((target("avx2,fma"))) static void
run_avx2(const float *x, size_t plane, int xw, int cin, int kh, int kw, const float *packed, int kdim,
         const float *bias, int cout, float *y, size_t yplane, int yw, int ow, int oy0, int oy1, int cb0, int cb1, tb_act act,
         int stream) {
    int weights_small = (size_t)(cb1 - cb0) * kdim * CO * sizeof(float) <= (64u << 10);
    if (kh == 3 && kw == 3) {
        RUN_AVX2_BODY(3, 3)
    } else if (kh == 1 && kw == 1) {
        RUN_AVX2_BODY(1, 1)
    } else {
        RUN_AVX2_BODY(kh, kw)
    }
}

// 12 independent chains: FMA latency (4-5 cycles) times 2 pipes is at most 10 in flight, so the
// loop runs at throughput, not latency. The empty asm keeps the accumulators in registers and the
// compiler from folding the multiply by one. One body for the W-bit vectors (W 256 or 512) of LANES floats.
#define TB_FMA_LOOP(W, VEC, LANES)                                                                           \
    {                                                                                                        \
        VEC a0 = _mm##W##_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, \
            a9 = a0, a10 = a0, a11 = a0;                                                                     \
        VEC m = _mm##W##_set1_ps(one), c = _mm##W##_set1_ps(one);                                            \
        for (long i = 0; i < iterations; i++) {                                                              \
            a0 = _mm##W##_fmadd_ps(a0, m, c); a1 = _mm##W##_fmadd_ps(a1, m, c); a2 = _mm##W##_fmadd_ps(a2, m, c); \
            a3 = _mm##W##_fmadd_ps(a3, m, c); a4 = _mm##W##_fmadd_ps(a4, m, c); a5 = _mm##W##_fmadd_ps(a5, m, c); \
            a6 = _mm##W##_fmadd_ps(a6, m, c); a7 = _mm##W##_fmadd_ps(a7, m, c); a8 = _mm##W##_fmadd_ps(a8, m, c); \
            a9 = _mm##W##_fmadd_ps(a9, m, c); a10 = _mm##W##_fmadd_ps(a10, m, c); a11 = _mm##W##_fmadd_ps(a11, m, c); \
            __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), \
                             "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));                                      \
        }                                                                                                    \
        /* Each lane holds `iterations` exactly (up to 2^24); the lanes are added in double. */             \
        VEC acc[12] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};                                    \
        double sum = 0;                                                                                      \
        for (int j = 0; j < 12; j++) {                                                                       \
            float lanes[LANES];                                                                              \
            _mm##W##_storeu_ps(lanes, acc[j]);                                                               \
            for (int i = 0; i < LANES; i++) sum += lanes[i];                                                 \
        }                                                                                                    \
        return sum;                                                                                          \
    }

__attribute__((target("avx2,fma"))) static double fma_loop_avx2(long iterations, float one) TB_FMA_LOOP(256, __m256, 8)

static int cpu_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// ---------------------------------------------------------------- AVX-512

// The same loops on 16-float vectors: a tile is 6 output channels x 32 positions (two vectors of 16, 12
// accumulators), a row's last 16 or fewer positions one vector (6 accumulators), and on maps 9 to 16
// wide 16 positions of two rows. Every output is summed over (ci, ky, kx) in the same order with one
// multiply-add per term, and activated by the same operations, as on AVX2: the same bits. The last
// partial vector is stored under a mask; the loads stay inside the rows' padding (tb_padded_width)
// exactly as the AVX2 tiles' do. Maps 8 or fewer wide run the AVX2 tiles (8 positions of two rows),
// which waste less of a vector there (the engine sends the stride-1 3x3 layers of 512 channels on such maps,
// ResNet-18's 7x7 stage, to the strided kernel instead: DirectConvPlan.path).
// R: the block's rows that hold channels (CO but in a layer's last block; a constant where inlined, so that the
// multiply-adds of the zero rows past cout are not done). Rows R and on are left zero.
__attribute__((always_inline)) TB_TARGET_AVX512 static inline void
tile_avx512(const float *x0, int cin, size_t plane, int xw, int kh, int kw, const float *wp, __m512 acc[CO][2], size_t off1,
            const int R) {
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
    __m512 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
    for (int ci = 0; ci < cin; ci++) {
        const float *base = x0 + (size_t)ci * plane;
        for (int ky = 0; ky < kh; ky++) {
            const float *row = base + (size_t)ky * xw;
            // 1x1: each input row (one per channel) read 64 floats ahead, in the 32-position tile (again
            // for each channel block of a tile: cheap, the line is in flight). In the network, where a thin
            // layer's input comes from memory, not cache, this took YOLOv5n's pass from 28.9 to 27.6 ms
            // (docs/performance.md, "Seventh step"); the AVX2 tiles measured no gain from it.
            if (kh == 1 && kw == 1) _mm_prefetch((const char *)(row + 64), _MM_HINT_T0);
            for (int kx = 0; kx < kw; kx++) {
                __m512 v0 = _mm512_loadu_ps(row + kx), v1 = _mm512_loadu_ps(row + kx + off1), w;
                w = _mm512_set1_ps(wp[0]); a00 = _mm512_fmadd_ps(w, v0, a00); a01 = _mm512_fmadd_ps(w, v1, a01);
                if (R > 1) { w = _mm512_set1_ps(wp[1]); a10 = _mm512_fmadd_ps(w, v0, a10); a11 = _mm512_fmadd_ps(w, v1, a11); }
                if (R > 2) { w = _mm512_set1_ps(wp[2]); a20 = _mm512_fmadd_ps(w, v0, a20); a21 = _mm512_fmadd_ps(w, v1, a21); }
                if (R > 3) { w = _mm512_set1_ps(wp[3]); a30 = _mm512_fmadd_ps(w, v0, a30); a31 = _mm512_fmadd_ps(w, v1, a31); }
                if (R > 4) { w = _mm512_set1_ps(wp[4]); a40 = _mm512_fmadd_ps(w, v0, a40); a41 = _mm512_fmadd_ps(w, v1, a41); }
                if (R > 5) { w = _mm512_set1_ps(wp[5]); a50 = _mm512_fmadd_ps(w, v0, a50); a51 = _mm512_fmadd_ps(w, v1, a51); }
                wp += CO;
            }
        }
    }
    acc[0][0] = a00; acc[0][1] = a01; acc[1][0] = a10; acc[1][1] = a11; acc[2][0] = a20; acc[2][1] = a21;
    acc[3][0] = a30; acc[3][1] = a31; acc[4][0] = a40; acc[4][1] = a41; acc[5][0] = a50; acc[5][1] = a51;
}

__attribute__((always_inline)) TB_TARGET_AVX512 static inline void
tile16_avx512(const float *x0, int cin, size_t plane, int xw, int kh, int kw, const float *wp, __m512 acc[CO][2], const int R) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    for (int ci = 0; ci < cin; ci++) {
        const float *base = x0 + (size_t)ci * plane;
        for (int ky = 0; ky < kh; ky++) {
            const float *row = base + (size_t)ky * xw;
            for (int kx = 0; kx < kw; kx++) {
                __m512 v = _mm512_loadu_ps(row + kx);
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(wp[0]), v, a0);
                if (R > 1) a1 = _mm512_fmadd_ps(_mm512_set1_ps(wp[1]), v, a1);
                if (R > 2) a2 = _mm512_fmadd_ps(_mm512_set1_ps(wp[2]), v, a2);
                if (R > 3) a3 = _mm512_fmadd_ps(_mm512_set1_ps(wp[3]), v, a3);
                if (R > 4) a4 = _mm512_fmadd_ps(_mm512_set1_ps(wp[4]), v, a4);
                if (R > 5) a5 = _mm512_fmadd_ps(_mm512_set1_ps(wp[5]), v, a5);
                wp += CO;
            }
        }
    }
    acc[0][0] = a0; acc[1][0] = a1; acc[2][0] = a2; acc[3][0] = a3; acc[4][0] = a4; acc[5][0] = a5;
}


// Stores `count` positions of each row (32, or 16 or fewer: TILE_N512): acc[r][0] to the first 16,
// acc[r][1] to the next 16, or (two-row tiles) to the row `second` floats on, with `count` positions
// in each row.
TB_TARGET_AVX512 static inline void
store_avx512(__m512 acc[CO][2], const float *bias, int c0, int cout, float *y, size_t yplane, int count, int two_rows,
             size_t second, tb_act act, int stream) {
    int n0 = two_rows ? count : (count < 16 ? count : 16), n1 = two_rows ? count : count - 16;
    __mmask16 m0 = tb_first_lanes(n0), m1 = n1 > 0 ? tb_first_lanes(n1) : 0;
    for (int r = 0; r < CO && c0 + r < cout; r++) {
        __m512 b = _mm512_set1_ps(bias ? bias[c0 + r] : 0.0f);
        float *dst = y + (size_t)(c0 + r) * yplane;
        __m512 o0 = activate_avx512(_mm512_add_ps(acc[r][0], b), act);
        if (n0 == 16 && stream && ((uintptr_t)dst & 63) == 0) _mm512_stream_ps(dst, o0);
        else if (n0 == 16) _mm512_storeu_ps(dst, o0);
        else _mm512_mask_storeu_ps(dst, m0, o0);
        if (n1 > 0) {
            __m512 o1 = activate_avx512(_mm512_add_ps(acc[r][1], b), act);
            float *d1 = dst + (two_rows ? second : 16);
            if (n1 == 16 && stream && ((uintptr_t)d1 & 63) == 0) _mm512_stream_ps(d1, o1);
            else if (n1 == 16) _mm512_storeu_ps(d1, o1);
            else _mm512_mask_storeu_ps(d1, m1, o1);
        }
    }
}

// One tile of n positions from (OY, OX): 32 (two vectors), 9 to 16 (one vector, masked where fewer), 8
// or fewer (the AVX2 tile of 8: half the multiply-adds of a 16-float vector there), or on maps 9 to 16
// wide 16 positions of two rows.
#define TILE_AVX512(KH, KW, OY, OX, N)                                                                    \
    do {                                                                                                  \
        __m512 acc[CO][2];                                                                                \
        const float *src = x + (size_t)(OY) * xw + (OX);                                                  \
        float *dst = y + (size_t)(OY) * yw + (OX);                                                        \
        if (ow <= TILE && (OY) + 1 < oy1) {                                                               \
            TB_ROWS_DISPATCH(cout - cb * CO, tile_avx512(src, cin, plane, xw, KH, KW, wp, acc, (size_t)xw, R_));              \
            store_avx512(acc, bias, cb * CO, cout, dst, yplane, ow, 1, (size_t)yw, act, 0);               \
        } else if ((N) > TILE) {                                                                          \
            TB_ROWS_DISPATCH(cout - cb * CO, tile_avx512(src, cin, plane, xw, KH, KW, wp, acc, TILE, R_));                    \
            store_avx512(acc, bias, cb * CO, cout, dst, yplane, N, 0, 0, act, stream);                   \
        } else if ((N) > 8) {                                                                             \
            TB_ROWS_DISPATCH(cout - cb * CO, tile16_avx512(src, cin, plane, xw, KH, KW, wp, acc, R_));                        \
            store_avx512(acc, bias, cb * CO, cout, dst, yplane, N, 0, 0, act, stream);                   \
        } else {                                                                                          \
            __m256 acc8[CO][2];                                                                           \
            TB_ROWS_DISPATCH(cout - cb * CO, tile8_avx2(src, cin, plane, xw, KH, KW, wp, acc8, 0, R_));   \
            store_avx2(acc8, bias, cb * CO, cout, dst, yplane, N, act, 0);                                \
        }                                                                                                 \
    } while (0)

#define ROW_STEP512 (ow <= TILE ? 2 : 1)
// The positions of the tile at ox: 32 while that many are left, then 16, then the rest.
#define TILE_N512(ox) (ow - (ox) >= 2 * TILE ? 2 * TILE : ow - (ox) > TILE ? TILE : ow - (ox))

#define RUN_AVX512_BODY(KH, KW)                                                                         \
    if (weights_small) {                                                                                \
        for (int oy = oy0; oy < oy1; oy += ROW_STEP512)                                                 \
            for (int ox = 0, n = TILE_N512(0); ox < ow; ox += n, n = TILE_N512(ox))                     \
                for (int cb = cb0; cb < cb1; cb++) {                                                    \
                    const float *wp = packed + (size_t)cb * kdim * CO;                                  \
                    TILE_AVX512(KH, KW, oy, ox, n);                                                     \
                }                                                                                       \
    } else {                                                                                            \
        for (int cb = cb0; cb < cb1; cb++) {                                                            \
            const float *wp = packed + (size_t)cb * kdim * CO;                                          \
            for (int oy = oy0; oy < oy1; oy += ROW_STEP512)                                             \
                for (int ox = 0, n = TILE_N512(0); ox < ow; ox += n, n = TILE_N512(ox))                 \
                    TILE_AVX512(KH, KW, oy, ox, n);                                                     \
        }                                                                                               \
    }

TB_TARGET_AVX512 static void
run_avx512(const float *x, size_t plane, int xw, int cin, int kh, int kw, const float *packed, int kdim,
           const float *bias, int cout, float *y, size_t yplane, int yw, int ow, int oy0, int oy1, int cb0, int cb1, tb_act act,
           int stream) {
    int weights_small = (size_t)(cb1 - cb0) * kdim * CO * sizeof(float) <= (64u << 10);
    if (kh == 3 && kw == 3) {
        RUN_AVX512_BODY(3, 3)
    } else {
        RUN_AVX512_BODY(1, 1)   // 1x1: run() sends no other kernel size here
    }
}

TB_TARGET_AVX512 static double fma_loop_avx512(long iterations, float one) TB_FMA_LOOP(512, __m512, 16)

static int cpu_has_avx512(void) {
    __builtin_cpu_init();
    return cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq");
}
#endif

int tb_kernels_available(tb_kernels k) {
    switch (k) {
    case TB_KERNELS_PORTABLE: return 1;
#ifdef TB_HAVE_AVX2
    case TB_KERNELS_AVX2: return cpu_has_avx2_fma();
    case TB_KERNELS_AVX512: return cpu_has_avx512();
#endif
    default: return 0;
    }
}

// `stream`: full vectors of output at aligned addresses go past the caches (the AVX2 and AVX-512 stores).
static void run(tb_kernels k, const float *x, size_t plane, int xw, int cin, int kh, int kw, const float *packed,
                const float *bias, int cout, float *y, size_t yplane, int yw, int ow, int oy0, int oy1, int cb0, int cb1,
                tb_act act, int stream) {
    int kdim = cin * kh * kw;
#ifdef TB_HAVE_AVX2
    // The AVX-512 loops take the 1x1 and 3x3 kernels (the only direct ones the engine runs) on maps over 8
    // wide; anything else runs the AVX2 loops, with the same bits.
    if (k == TB_KERNELS_AVX512 && ow > 8 && kh == kw && (kh == 1 || kh == 3)) {
        run_avx512(x, plane, xw, cin, kh, kw, packed, kdim, bias, cout, y, yplane, yw, ow, oy0, oy1, cb0, cb1, act, stream);
        return;
    }
    if (tb_runs_avx2_code(k)) {
        run_avx2(x, plane, xw, cin, kh, kw, packed, kdim, bias, cout, y, yplane, yw, ow, oy0, oy1, cb0, cb1, act, stream);
        return;
    }
#endif
    (void)stream;
    int taps[kh * kw];   // stride 1: tap (ky, kx) is ky rows and kx columns on
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++) taps[ky * kw + kx] = ky * xw + kx;
    run_portable(x, plane, xw, cin, taps, kh * kw, packed, bias, cout, y, yplane, yw, ow, oy0, oy1, cb0, cb1, act);
}

void tb_conv_direct(tb_kernels k, const float *x, int cin, int xh, int xw, const float *packed, const float *bias,
                    int cout, int kh, int kw, float *y, int oh, int ow, int oy0, int oy1, int cb0, int cb1, tb_act act) {
    run(k, x, (size_t)xh * xw, xw, cin, kh, kw, packed, bias, cout, y, (size_t)oh * ow, ow, ow, oy0, oy1, cb0, cb1, act, 0);
}

void tb_gemm_panel(tb_kernels k, const float *x, int cin, int n, const float *packed, const float *bias, int cout,
                   float *y, size_t yplane, int p0, int p1, int cb0, int cb1, tb_act act, int stream, float *tail_buffer) {
    int full = (p1 - p0) / TILE * TILE, tail = p1 - p0 - full;
    if (full > 0) run(k, x + p0, (size_t)n, 0, cin, 1, 1, packed, bias, cout, y + p0, yplane, 0, full, 0, 1, cb0, cb1, act, stream);
    if (tail > 0) {
        // The last partial tile from a zero-padded copy, so that no load reads past a plane: on
        // the stack up to TB_TAIL_STACK_ROWS input channels, else in the caller's buffer.
        float stackbuf[TB_TAIL_STACK_ROWS * TILE];
        float *tmp = cin <= TB_TAIL_STACK_ROWS ? stackbuf : tail_buffer;
        for (int ci = 0; ci < cin; ci++) {
            memcpy(tmp + (size_t)ci * TILE, x + (size_t)ci * n + p0 + full, (size_t)tail * sizeof(float));
            memset(tmp + (size_t)ci * TILE + tail, 0, (size_t)(TILE - tail) * sizeof(float));
        }
        run(k, tmp, TILE, 0, cin, 1, 1, packed, bias, cout, y + p0 + full, yplane, 0, tail, 0, 1, cb0, cb1, act, stream);
    }
#ifdef TB_HAVE_AVX2
    // Streaming stores are weakly ordered: fence them before the caller's thread hands the output on.
    if (stream && tb_runs_avx2_code(k)) _mm_sfence();
#endif
}

double tb_fma_loop(tb_kernels k, long iterations, double *flops) {
    volatile float one_v = 1.0f;
    float one = one_v;   // not a constant: the compiler cannot fold the multiply by one
#ifdef TB_HAVE_AVX2
    if (k == TB_KERNELS_AVX512) {
        *flops = 384.0 * (double)iterations;
        return fma_loop_avx512(iterations, one);
    }
    if (k == TB_KERNELS_AVX2) {
        *flops = 192.0 * (double)iterations;
        return fma_loop_avx2(iterations, one);
    }
#endif
    // 6 x 8 lanes: 12 SSE registers, 6 NEON quads pairs; more would spill on a 16-register target.
    float acc[6][8] = {{0}};
    for (long i = 0; i < iterations; i++)
        for (int j = 0; j < 6; j++)
            for (int l = 0; l < 8; l++) acc[j][l] = acc[j][l] * one + one;
    double sum = 0;
    for (int j = 0; j < 6; j++)
        for (int l = 0; l < 8; l++) sum += acc[j][l];
    *flops = 96.0 * (double)iterations;
    return sum;
}
