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

// im2col's stride-2 gather and the zero-bordered copy (see include/CKernels.h).
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
