// Winograd F(2x2, 3x3) on our own micro-kernel (issue 17; Lavin & Gray 2016): a stride-1 3x3
// convolution with padding 1 as 16 products [cout x cin] x [cin x tiles], one per point of the 4x4
// transformed tile, 16 multiply-adds per input channel and 2x2 outputs instead of 36.
//
// Tiles of 2x2 outputs run in chunks of 8 consecutive tiles (flattened over the tile rows, so a
// small map wastes few lanes), two chunks per 16-lane panel. Per panel: the input transform writes
// V[16][cin][16] straight in the micro-kernel's layout (no packing pass), the 6 x 16 micro-kernel
// multiplies it by the transformed weights U[16][block][cin][6] (packed once) into M, and the
// output transform applies bias and activation as it stores. The transforms use only additions
// (and, for the weights, halvings in double), so the result stays within float rounding of the
// direct convolution; every output is computed the same way whatever the work split, so 1 and 2
// threads give identical bits.
#include "CKernels.h"

#include <string.h>

#include "internal.h"

#define WL 8   // tiles per chunk: one vector of lanes

void tb_wino_layout(int oh, int ow, int *rows, int *width, int *chunks) {
    int th = (oh + 1) / 2, tw = (ow + 1) / 2;
    *rows = 2 * th + 2;
    *width = 2 * tw + 2;
    *chunks = (th * tw + WL - 1) / WL;
}

size_t tb_wino_weights_floats(int cout, int cin) { return 16 * tb_packed_size(cout, cin); }

size_t tb_wino_work_floats(int cin, int blocks) { return (size_t)16 * cin * 16 + (size_t)16 * blocks * CO * 16; }

void tb_wino_pack_weights(const float *weight, int cout, int cin, float *u) {
    size_t per = tb_packed_size(cout, cin);
    memset(u, 0, 16 * per * sizeof(float));
    for (int o = 0; o < cout; o++)
        for (int c = 0; c < cin; c++) {
            // U = G g G^T, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], in double, rounded once.
            const float *g = weight + ((size_t)o * cin + c) * 9;
            double gg[4][3], t[4][4];
            for (int j = 0; j < 3; j++) {
                double a = g[j], b = g[3 + j], d = g[6 + j];
                gg[0][j] = a; gg[1][j] = (a + b + d) * 0.5; gg[2][j] = (a - b + d) * 0.5; gg[3][j] = d;
            }
            for (int r = 0; r < 4; r++) {
                double a = gg[r][0], b = gg[r][1], d = gg[r][2];
                t[r][0] = a; t[r][1] = (a + b + d) * 0.5; t[r][2] = (a - b + d) * 0.5; t[r][3] = d;
            }
            for (int xi = 0; xi < 16; xi++) u[xi * per + ((size_t)(o / CO) * cin + c) * CO + o % CO] = (float)t[xi / 4][xi % 4];
        }
}

// V = B^T d B for the 8 tiles of chunk q of one channel (xc: its padded plane, rows `width` floats),
// into lanes v[xi * xstride + j]. B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
__attribute__((always_inline)) static inline void wino_input(const float *xc, int width, int th, int tw, int q, float *v,
                                                             size_t xstride) {
    int t0 = q * WL, total = th * tw, ty = t0 / tw, tx0 = t0 - ty * tw;
    float d[4][4][WL], u[4][4][WL];
    if (t0 + WL <= total && tx0 + WL <= tw) {   // one tile row: 18 consecutive floats per input row
        for (int i = 0; i < 4; i++) {
            const float *r = xc + (size_t)(2 * ty + i) * width + 2 * tx0;
            for (int j = 0; j < WL; j++) {
                d[i][0][j] = r[2 * j]; d[i][1][j] = r[2 * j + 1]; d[i][2][j] = r[2 * j + 2]; d[i][3][j] = r[2 * j + 3];
            }
        }
    } else {
        for (int j = 0; j < WL; j++) {
            int t = t0 + j, yy = t / tw, xx = t - yy * tw;
            const float *r = xc + (size_t)(2 * yy) * width + 2 * xx;
            for (int i = 0; i < 4; i++)
                for (int c = 0; c < 4; c++) d[i][c][j] = t < total ? r[(size_t)i * width + c] : 0.0f;
        }
    }
    for (int i = 0; i < 4; i++)   // d B, along each row
        for (int j = 0; j < WL; j++) {
            u[i][0][j] = d[i][0][j] - d[i][2][j]; u[i][1][j] = d[i][1][j] + d[i][2][j];
            u[i][2][j] = d[i][2][j] - d[i][1][j]; u[i][3][j] = d[i][1][j] - d[i][3][j];
        }
    for (int c = 0; c < 4; c++)   // B^T (d B), down each column
        for (int j = 0; j < WL; j++) {
            v[(0 + c) * xstride + j] = u[0][c][j] - u[2][c][j];
            v[(4 + c) * xstride + j] = u[1][c][j] + u[2][c][j];
            v[(8 + c) * xstride + j] = u[2][c][j] - u[1][c][j];
            v[(12 + c) * xstride + j] = u[1][c][j] - u[3][c][j];
        }
}

// M (6 rows of 16 lanes, contiguous) = U block (cin x 6) times V (cin x 16).
static void wino_gemm_portable(const float *v, int cin, const float *wp, float *m) {
    float acc[CO][TILE] = {{0}};
    for (int k = 0; k < cin; k++, v += TILE, wp += CO)
        for (int r = 0; r < CO; r++) {
            float w = wp[r];
            for (int i = 0; i < TILE; i++) acc[r][i] += w * v[i];
        }
    memcpy(m, acc, sizeof acc);
}

static void act8_portable(float *o, tb_act act) {
    if (act == TB_ACT_NONE) return;
    for (int j = 0; j < WL; j++) o[j] = tb_activate(o[j], act);
}

#ifdef TB_HAVE_AVX2
// The product of one point's inputs and a block's weights; R its rows that hold channels (a constant in each
// instantiation: the last block's zero rows take no multiply-adds, and their products stay zero).
__attribute__((target("avx2,fma"), always_inline)) static inline void wino_gemm_rows_avx2(const float *v, int cin, const float *wp,
                                                                                        float *m, const int R) {
    ACC_6x16_DECLARE;
    for (int k = 0; k < cin; k++, v += TILE, wp += CO) {
        __m256 v0 = _mm256_loadu_ps(v), v1 = _mm256_loadu_ps(v + 8);
        STEP_6x16_R(v0, v1, wp, R);
    }
    __m256 acc[CO][2];
    ACC_6x16_STORE(acc);
    for (int r = 0; r < CO; r++) { _mm256_storeu_ps(m + r * TILE, acc[r][0]); _mm256_storeu_ps(m + r * TILE + 8, acc[r][1]); }
}

__attribute__((target("avx2,fma"))) static void wino_gemm_avx2(const float *v, int cin, const float *wp, float *m, int rows) {
    TB_ROWS_DISPATCH(rows, wino_gemm_rows_avx2(v, cin, wp, m, R_));
}

// wino_input's one-tile-row case with vectors: the same additions in the same order, so the same
// bits as the lane loops.
__attribute__((target("avx2,fma"))) static void wino_input_row_avx2(const float *r, int width, float *v, size_t xstride) {
    __m256 u[4][4];
    for (int i = 0; i < 4; i++, r += width) {
        __m256 d0, d1, d2, d3;
        even_odd_avx2(r, &d0, &d1);
        even_odd_avx2(r + 2, &d2, &d3);
        u[i][0] = _mm256_sub_ps(d0, d2); u[i][1] = _mm256_add_ps(d1, d2);
        u[i][2] = _mm256_sub_ps(d2, d1); u[i][3] = _mm256_sub_ps(d1, d3);
    }
    for (int c = 0; c < 4; c++) {
        _mm256_storeu_ps(v + (0 + c) * xstride, _mm256_sub_ps(u[0][c], u[2][c]));
        _mm256_storeu_ps(v + (4 + c) * xstride, _mm256_add_ps(u[1][c], u[2][c]));
        _mm256_storeu_ps(v + (8 + c) * xstride, _mm256_sub_ps(u[2][c], u[1][c]));
        _mm256_storeu_ps(v + (12 + c) * xstride, _mm256_sub_ps(u[1][c], u[3][c]));
    }
}

// wino_output's transform with vectors (the same operations in the same order), then its
// one-tile-row store as interleaved rows; returns 0 where the chunk needs the lane-by-lane store,
// having left the 4 output vectors in o.
__attribute__((target("avx2,fma"))) static int wino_output_avx2(const float *m, size_t xstride, float b, tb_act act, float o[4][WL],
                                                               float *r0, int ow, int second_row, int row_store) {
    __m256 s0[4], s1[4];
    for (int c = 0; c < 4; c++) {
        __m256 m0 = _mm256_loadu_ps(m + c * xstride), m1 = _mm256_loadu_ps(m + (4 + c) * xstride),
               m2 = _mm256_loadu_ps(m + (8 + c) * xstride), m3 = _mm256_loadu_ps(m + (12 + c) * xstride);
        s0[c] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
        s1[c] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    __m256 bv = _mm256_set1_ps(b);
    __m256 o0 = activate_avx2(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s0[0], s0[1]), s0[2]), bv), act);
    __m256 o1 = activate_avx2(_mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s0[1], s0[2]), s0[3]), bv), act);
    __m256 o2 = activate_avx2(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s1[0], s1[1]), s1[2]), bv), act);
    __m256 o3 = activate_avx2(_mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s1[1], s1[2]), s1[3]), bv), act);
    if (!row_store) {
        _mm256_storeu_ps(o[0], o0); _mm256_storeu_ps(o[1], o1); _mm256_storeu_ps(o[2], o2); _mm256_storeu_ps(o[3], o3);
        return 0;
    }
    __m256 lo = _mm256_unpacklo_ps(o0, o1), hi = _mm256_unpackhi_ps(o0, o1);
    _mm256_storeu_ps(r0, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(r0 + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    if (second_row) {
        lo = _mm256_unpacklo_ps(o2, o3); hi = _mm256_unpackhi_ps(o2, o3);
        _mm256_storeu_ps(r0 + ow, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_storeu_ps(r0 + ow + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
    return 1;
}
#endif

// Y = A^T M A (A^T = [1 1 1 0; 0 1 -1 -1]) plus bias, activated, for chunk q of one output channel
// (m: its 8 lanes, the 16 points `xstride` floats apart; yc: its output plane).
__attribute__((always_inline)) static inline void wino_output(int avx2, const float *m, size_t xstride, float b, tb_act act,
                                                              float *yc, int oh, int ow, int th, int tw, int q) {
    int t0 = q * WL, total = th * tw, ty = t0 / tw, tx0 = t0 - ty * tw;
    int row_store = t0 + WL <= total && tx0 + WL <= tw && 2 * (tx0 + WL) <= ow;
    float o[4][WL];
#ifdef TB_HAVE_AVX2
    if (avx2) {
        if (wino_output_avx2(m, xstride, b, act, o, yc + (size_t)(2 * ty) * ow + 2 * tx0, ow, 2 * ty + 1 < oh, row_store)) return;
    } else
#endif
    {
        float s0[4][WL], s1[4][WL];
        for (int c = 0; c < 4; c++)
            for (int j = 0; j < WL; j++) {
                float m0 = m[c * xstride + j], m1 = m[(4 + c) * xstride + j], m2 = m[(8 + c) * xstride + j],
                      m3 = m[(12 + c) * xstride + j];
                s0[c][j] = m0 + m1 + m2; s1[c][j] = m1 - m2 - m3;
            }
        for (int j = 0; j < WL; j++) {
            o[0][j] = s0[0][j] + s0[1][j] + s0[2][j] + b; o[1][j] = s0[1][j] - s0[2][j] - s0[3][j] + b;
            o[2][j] = s1[0][j] + s1[1][j] + s1[2][j] + b; o[3][j] = s1[1][j] - s1[2][j] - s1[3][j] + b;
        }
        for (int k = 0; k < 4; k++) act8_portable(o[k], act);
        if (row_store) {
            float *r0 = yc + (size_t)(2 * ty) * ow + 2 * tx0;
            for (int j = 0; j < WL; j++) { r0[2 * j] = o[0][j]; r0[2 * j + 1] = o[1][j]; }
            if (2 * ty + 1 < oh)
                for (int j = 0; j < WL; j++) { r0[ow + 2 * j] = o[2][j]; r0[ow + 2 * j + 1] = o[3][j]; }
            return;
        }
    }
    for (int j = 0; j < WL && t0 + j < total; j++) {   // lane by lane: chunks across row ends, cut tiles
        int t = t0 + j, oy = 2 * (t / tw), ox = 2 * (t % tw);
        float *r0 = yc + (size_t)oy * ow + ox;
        r0[0] = o[0][j];
        if (ox + 1 < ow) r0[1] = o[1][j];
        if (oy + 1 < oh) {
            r0[ow] = o[2][j];
            if (ox + 1 < ow) r0[ow + 1] = o[3][j];
        }
    }
}

__attribute__((always_inline)) static inline void wino_run(int avx2, const float *xp, int cin, size_t plane, int width,
                                                           const float *u, const float *bias, int cout, float *y, int oh,
                                                           int ow, int q0, int q1, int cb0, int cb1, tb_act act, float *work) {
    int th = (oh + 1) / 2, tw = (ow + 1) / 2, nb = cb1 - cb0;
    size_t per = tb_packed_size(cout, cin), vx = (size_t)cin * TILE, mx = (size_t)nb * CO * TILE, yplane = (size_t)oh * ow;
    float *V = work, *M = work + 16 * vx;
    for (int q = q0; q < q1; q += 2) {
        for (int h = 0; h < 2; h++)
            for (int ci = 0; ci < cin; ci++) {
                float *v = V + (size_t)ci * TILE + h * WL;
                if (q + h < q1) {
#ifdef TB_HAVE_AVX2
                    int t0 = (q + h) * WL, ty = t0 / tw, tx0 = t0 - ty * tw;
                    if (avx2 && t0 + WL <= th * tw && tx0 + WL <= tw) {
                        wino_input_row_avx2(xp + (size_t)ci * plane + (size_t)(2 * ty) * width + 2 * tx0, width, v, vx);
                        continue;
                    }
#endif
                    wino_input(xp + (size_t)ci * plane, width, th, tw, q + h, v, vx);
                }
                else
                    for (int xi = 0; xi < 16; xi++) memset(v + xi * vx, 0, WL * sizeof(float));
            }
        for (int xi = 0; xi < 16; xi++)
            for (int cb = cb0; cb < cb1; cb++) {
                const float *wp = u + xi * per + (size_t)cb * cin * CO;
                float *m = M + xi * mx + (size_t)(cb - cb0) * CO * TILE;
#ifdef TB_HAVE_AVX2
                if (avx2) { wino_gemm_avx2(V + xi * vx, cin, wp, m, cout - cb * CO); continue; }
#endif
                wino_gemm_portable(V + xi * vx, cin, wp, m);
            }
        for (int cb = cb0; cb < cb1; cb++)
            for (int r = 0; r < CO && cb * CO + r < cout; r++) {
                int o = cb * CO + r;
                for (int h = 0; h < 2 && q + h < q1; h++)
                    wino_output(avx2, M + ((size_t)(cb - cb0) * CO + r) * TILE + h * WL, mx, bias ? bias[o] : 0.0f, act,
                                y + (size_t)o * yplane, oh, ow, th, tw, q + h);
            }
    }
}

static void wino_portable(const float *xp, int cin, size_t plane, int width, const float *u, const float *bias, int cout,
                          float *y, int oh, int ow, int q0, int q1, int cb0, int cb1, tb_act act, float *work) {
    wino_run(0, xp, cin, plane, width, u, bias, cout, y, oh, ow, q0, q1, cb0, cb1, act, work);
}

#ifdef TB_HAVE_AVX2
__attribute__((target("avx2,fma"))) static void wino_avx2(const float *xp, int cin, size_t plane, int width, const float *u,
                                                          const float *bias, int cout, float *y, int oh, int ow, int q0, int q1,
                                                          int cb0, int cb1, tb_act act, float *work) {
    wino_run(1, xp, cin, plane, width, u, bias, cout, y, oh, ow, q0, q1, cb0, cb1, act, work);
}
#endif

void tb_wino_conv(tb_kernels k, const float *xp, int cin, size_t plane, int width, const float *u, const float *bias, int cout,
                  float *y, int oh, int ow, int q0, int q1, int cb0, int cb1, tb_act act, float *work) {
#ifdef TB_HAVE_AVX2
    if (tb_runs_avx2_code(k)) { wino_avx2(xp, cin, plane, width, u, bias, cout, y, oh, ow, q0, q1, cb0, cb1, act, work); return; }
#endif
    wino_portable(xp, cin, plane, width, u, bias, cout, y, oh, ow, q0, q1, cb0, cb1, act, work);
}
