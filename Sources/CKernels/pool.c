// Max pooling over one plane (see include/CKernels.h): the window's rows first, as a whole row at
// a time (contiguous, so the compiler vectorises it), then the window's columns along that row.
#include "CKernels.h"

#include <math.h>
#include <string.h>

#include "internal.h"

// NaN propagates, as in PyTorch: a NaN anywhere in a window makes its maximum NaN.
static inline float max2(float a, float b) { return (a > b || a != a) ? a : b; }

void tb_maxpool_plane(const float *x, int h, int w, float *y, int oh, int ow, int k, int s, int p, float *row) {
    // row: the column maxima of the window's rows, with p columns of -inf on each side.
    float *r = row + p;
    for (int j = 0; j < p; j++) { row[j] = -INFINITY; r[w + j] = -INFINITY; }
    for (int oy = 0; oy < oh; oy++) {
        int y0 = oy * s - p, y1 = y0 + k;
        if (y0 < 0) y0 = 0;
        if (y1 > h) y1 = h;
        const float *first = x + (size_t)y0 * w;
        for (int j = 0; j < w; j++) r[j] = first[j];
        for (int iy = y0 + 1; iy < y1; iy++) {
            const float *line = x + (size_t)iy * w;
            for (int j = 0; j < w; j++) r[j] = max2(r[j], line[j]);
        }
        float *out = y + (size_t)oy * ow;
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

// Phase planes (see include/CKernels.h): each output line is zeros, a strided copy of one input
// row, zeros; stride 1 a plain copy, stride 2 along rows both column phases from one pass
// (AVX2, `phase_split_columns2`), any other stride a strided loop.
#ifdef TB_HAVE_AVX2
// dst[0..7] = src[0, 2, ..., 14].
__attribute__((target("avx2,fma"))) static void gather8_stride2_avx2(const float *src, float *dst) {
    __m256 even, odd;
    even_odd_avx2(src, &even, &odd);
    _mm256_storeu_ps(dst, even);
}

// d0[t] = src[2t] for t < n0 and d1[t] = src[2t + 1] for t < n1 (n1 <= n0 <= n1 + 1): both column
// phases of a stride-2 row in one pass, 8 of each from 16 floats, with the AVX2 shuffles.
__attribute__((target("avx2,fma"))) static void deinterleave_row_avx2(const float *src, float *d0, float *d1, int n0, int n1) {
    int t = 0;
    for (; t + 8 <= n1; t += 8) {   // reads src[2t .. 2t + 15], all inside: 2t + 15 = 2(t + 7) + 1 < 2 n1
        __m256 e, o;
        even_odd_avx2(src + 2 * t, &e, &o);
        _mm256_storeu_ps(d0 + t, e);
        _mm256_storeu_ps(d1 + t, o);
    }
    for (int u = t; u < n0; u++) d0[u] = src[2 * u];
    for (int u = t; u < n1; u++) d1[u] = src[2 * u + 1];
}
#endif

void tb_gather_stride2(tb_kernels k, const float *src, int n, int avail, float *dst) {
    int t = 0;
#ifdef TB_HAVE_AVX2
    if (k == TB_KERNELS_AVX2) {
        // 8 outputs from src[2t .. 2t + 15]: only while that stays inside the `avail` floats.
        int vec = (avail - 16) / 2 + 1;   // t + 8 <= vec  <=>  2t + 15 < avail
        if (vec > n) vec = n;
        for (; t + 8 <= vec; t += 8) gather8_stride2_avx2(src + 2 * t, dst + t);
    }
#endif
    (void)k; (void)avail;
    for (; t < n; t++) dst[t] = src[2 * t];
}

// Stride 2 along rows: both column phases of each input row in one pass (AVX2). Returns 0 for
// other kernels, for the general loop.
static int phase_split_columns2(tb_kernels k, const float *x, int h, int w, int sh, int by, int bx, int rows, int width, float *out, int i0,
                                int i1) {
#ifdef TB_HAVE_AVX2
    if (k != TB_KERNELS_AVX2) return 0;
    int jlo = bx < width ? bx : width, n[2];
    for (int rx = 0; rx < 2; rx++) {
        n[rx] = w - 1 - rx < 0 ? 0 : (w - 1 - rx) / 2 + 1;
        if (n[rx] > width - jlo) n[rx] = width - jlo;
    }
    if (n[1] > n[0] || n[0] > n[1] + 1) return 0;
    for (int ry = 0; ry < sh; ry++)
        for (int i = i0; i < i1; i++) {
            float *line[2];
            for (int rx = 0; rx < 2; rx++) line[rx] = out + (size_t)(ry * 2 + rx) * rows * width + (size_t)i * width;
            int iy = (i - by) * sh + ry;
            if (i < by || iy >= h) {
                for (int rx = 0; rx < 2; rx++) memset(line[rx], 0, (size_t)width * sizeof(float));
                continue;
            }
            for (int rx = 0; rx < 2; rx++) memset(line[rx], 0, (size_t)jlo * sizeof(float));
            deinterleave_row_avx2(x + (size_t)iy * w, line[0] + jlo, line[1] + jlo, n[0], n[1]);
            for (int rx = 0; rx < 2; rx++) memset(line[rx] + jlo + n[rx], 0, (size_t)(width - jlo - n[rx]) * sizeof(float));
        }
    return 1;
#else
    (void)k; (void)x; (void)h; (void)w; (void)sh; (void)by; (void)bx; (void)rows; (void)width; (void)out; (void)i0; (void)i1;
    return 0;
#endif
}

void tb_phase_split(tb_kernels k, const float *x, int h, int w, int sh, int sw, int by, int bx, int rows, int width,
                    float *out, int i0, int i1) {
    if (sw == 2 && phase_split_columns2(k, x, h, w, sh, by, bx, rows, width, out, i0, i1)) return;
    for (int ry = 0; ry < sh; ry++)
        for (int rx = 0; rx < sw; rx++) {
            float *plane = out + (size_t)(ry * sw + rx) * rows * width;
            // Output column bx + t reads input column t * sw + rx (rx < sw, so t >= 0 is inside on
            // the left); n columns are inside on the right.
            int jlo = bx < width ? bx : width;
            int n = w - 1 - rx < 0 ? 0 : (w - 1 - rx) / sw + 1;
            if (n > width - jlo) n = width - jlo;
            for (int i = i0; i < i1; i++) {
                float *line = plane + (size_t)i * width;
                int iy = (i - by) * sh + ry;
                if (i < by || iy >= h) {
                    memset(line, 0, (size_t)width * sizeof(float));
                    continue;
                }
                const float *src = x + (size_t)iy * w + rx;
                float *dst = line + jlo;
                memset(line, 0, (size_t)jlo * sizeof(float));
                if (sw == 1) {
                    memcpy(dst, src, (size_t)n * sizeof(float));
                } else if (sw == 2) {
                    for (int t = 0; t < n; t++) dst[t] = src[2 * t];
                } else {
                    for (int t = 0; t < n; t++) dst[t] = src[(size_t)t * sw];
                }
                memset(dst + n, 0, (size_t)(width - jlo - n) * sizeof(float));
            }
        }
}
