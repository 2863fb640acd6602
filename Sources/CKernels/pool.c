// Max pooling over one plane (see include/CKernels.h): the window's rows first, as a whole row at
// a time, then the window's columns along that row; on 8-float vectors with the AVX2 and AVX-512 kernels
// (strides 1 and 2), else in plain C.
#include "CKernels.h"

#include <math.h>
#include <string.h>

#include "internal.h"

// NaN propagates, as in PyTorch: a NaN anywhere in a window makes its maximum NaN.
static inline float max2(float a, float b) { return (a > b || a != a) ? a : b; }

#ifdef TB_HAVE_AVX2
// max2 on 8 lanes, the same result in every case: max_ps gives a where a > b, else b (b when either is
// NaN, b of two zeros), and a NaN a is put back.
__attribute__((target("avx2,fma"))) static inline __m256 max2_avx2(__m256 a, __m256 b) {
    return _mm256_blendv_ps(_mm256_max_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
}

// The window's rows of one output row: r[j] = max over lines [y0, y1) of x[line][j], 8 columns a
// step; a last partial step is the last 8 columns again (the same values rewritten; w >= 8).
__attribute__((target("avx2,fma"))) static void rows_avx2(const float *x, int w, int y0, int y1, float *r) {
    for (int j0 = 0; j0 < w; j0 += 8) {
        int j = j0 + 8 <= w ? j0 : w - 8;
        __m256 m = _mm256_loadu_ps(x + (size_t)y0 * w + j);
        for (int iy = y0 + 1; iy < y1; iy++) m = max2_avx2(m, _mm256_loadu_ps(x + (size_t)iy * w + j));
        _mm256_storeu_ps(r + j, m);
    }
}

// The window's columns along the row maxima `row` (its p columns of -inf included): 8 outputs a step,
// at stride 1 from unaligned loads, at stride 2 from the even and odd halves of 16 floats
// (even_odd_avx2; the odd half of the last load of a step may read a float past row's w + 2p, into the
// scratch's tail of 16, and is not used). A last partial step recomputes the last 8 (ow >= 8).
__attribute__((target("avx2,fma"))) static void columns_avx2(const float *row, float *out, int ow, int k, int s) {
    for (int o0 = 0; o0 < ow; o0 += 8) {
        int ox = o0 + 8 <= ow ? o0 : ow - 8;
        __m256 m;
        if (s == 1) {
            m = _mm256_loadu_ps(row + ox);
            for (int t = 1; t < k; t++) m = max2_avx2(m, _mm256_loadu_ps(row + ox + t));
        } else {
            __m256 even, odd;
            even_odd_avx2(row + 2 * ox, &even, &odd);
            m = even;
            for (int t = 1; t < k; t++) {
                if (t % 2 == 0) even_odd_avx2(row + 2 * ox + t, &even, &odd);
                m = max2_avx2(m, t % 2 ? odd : even);
            }
        }
        _mm256_storeu_ps(out + ox, m);
    }
}
#endif

void tb_maxpool_plane(tb_kernels kern, const float *x, int h, int w, float *y, int oh, int ow, int k, int s, int p, float *row) {
    // row: the column maxima of the window's rows, with p columns of -inf on each side (and 16 more
    // after them, for the stride-2 vector loads).
    float *r = row + p;
    for (int j = 0; j < p; j++) { row[j] = -INFINITY; r[w + j] = -INFINITY; }
    for (int j = 0; j < 16; j++) r[w + p + j] = -INFINITY;
#ifdef TB_HAVE_AVX2
    int vec = tb_runs_avx2_code(kern);
#else
    int vec = 0;
    (void)kern;
#endif
    for (int oy = 0; oy < oh; oy++) {
        int y0 = oy * s - p, y1 = y0 + k;
        if (y0 < 0) y0 = 0;
        if (y1 > h) y1 = h;
        float *out = y + (size_t)oy * ow;
#ifdef TB_HAVE_AVX2
        if (vec && w >= 8) rows_avx2(x, w, y0, y1, r);
        else
#endif
        {
            const float *first = x + (size_t)y0 * w;
            for (int j = 0; j < w; j++) r[j] = first[j];
            for (int iy = y0 + 1; iy < y1; iy++) {
                const float *line = x + (size_t)iy * w;
                for (int j = 0; j < w; j++) r[j] = max2(r[j], line[j]);
            }
        }
#ifdef TB_HAVE_AVX2
        if (vec && ow >= 8 && (s == 1 || s == 2)) {
            columns_avx2(row, out, ow, k, s);
            continue;
        }
#endif
        if (s == 1) {
            for (int ox = 0; ox < ow; ox++) out[ox] = row[ox];
            for (int t = 1; t < k; t++)
                for (int ox = 0; ox < ow; ox++) out[ox] = max2(out[ox], row[ox + t]);
        } else {
            for (int ox = 0; ox < ow; ox++) {
                const float *win = row + (size_t)ox * s;
                float m = win[0];
                for (int t = 1; t < k; t++) m = max2(m, win[t]);
                out[ox] = m;
            }
        }
    }
}

// im2col's stride-2 gather and the zero-bordered copy (see include/CKernels.h); nearest-neighbour upsampling at the end.
#ifdef TB_HAVE_AVX2
// dst[0..7] = src[0, 2, ..., 14].
__attribute__((target("avx2,fma"))) static void gather8_stride2_avx2(const float *src, float *dst) {
    __m256 even, odd;
    even_odd_avx2(src, &even, &odd);
    _mm256_storeu_ps(dst, even);
}

#endif

void tb_gather_stride2(tb_kernels k, const float *src, int n, int avail, float *dst) {
    int t = 0;
#ifdef TB_HAVE_AVX2
    if (tb_runs_avx2_code(k)) {
        // 8 outputs from src[2t .. 2t + 15]: only while that stays inside the `avail` floats.
        int vec = (avail - 16) / 2 + 1;   // t + 8 <= vec  <=>  2t + 15 < avail
        if (vec > n) vec = n;
        for (; t + 8 <= vec; t += 8) gather8_stride2_avx2(src + 2 * t, dst + t);
    }
#endif
    (void)k; (void)avail;
    for (; t < n; t++) dst[t] = src[2 * t];
}

void tb_border_copy(const float *x, int h, int w, int by, int bx, int width, float *out, int i0, int i1) {
    int jlo = bx < width ? bx : width, n = w < width - jlo ? w : width - jlo;
    for (int i = i0; i < i1; i++) {
        float *line = out + (size_t)(i - i0) * width;
        int iy = i - by;
        if (iy < 0 || iy >= h) {
            memset(line, 0, (size_t)width * sizeof(float));
            continue;
        }
        memset(line, 0, (size_t)jlo * sizeof(float));
        memcpy(line + jlo, x + (size_t)iy * w, (size_t)n * sizeof(float));
        memset(line + jlo + n, 0, (size_t)(width - jlo - n) * sizeof(float));
    }
}

void tb_upsample_nearest_plane(const float *x, int h, int w, int f, float *y) {
    size_t ow = (size_t)w * f;
    for (int iy = 0; iy < h; iy++) {
        const float *src = x + (size_t)iy * w;
        float *row = y + (size_t)iy * f * ow;
        if (f == 2) {
            for (int ix = 0; ix < w; ix++) { row[2 * ix] = src[ix]; row[2 * ix + 1] = src[ix]; }   // vectorised by the compiler
        } else {
            for (int ix = 0; ix < w; ix++)
                for (int k = 0; k < f; k++) row[(size_t)ix * f + k] = src[ix];
        }
        for (int r = 1; r < f; r++) memcpy(row + (size_t)r * ow, row, ow * sizeof(float));
    }
}
