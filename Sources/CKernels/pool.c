// Max pooling over one plane (see include/CKernels.h): the window's rows first, as a whole row at
// a time (contiguous, so the compiler vectorises it), then the window's columns along that row.
#include "CKernels.h"

#include <math.h>
#include <string.h>

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
// row, zeros; strides 1 and 2 get their own loops, which the compiler vectorises.
void tb_phase_split(const float *x, int h, int w, int sh, int sw, int by, int bx, int rows, int width, float *out,
                    int i0, int i1) {
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
