// The one-thread C harness behind docs/performance.md's "Third step" figures on the kernels
// themselves (scripts/kernel-harness MODE): it links Sources/CKernels and times its functions
// directly, best of 20 repetitions, single-threaded, in the engine's own work split. Modes:
//   hot     the micro-kernel on data that stays in L1 (1x1 and 3x3), no activation
//   act     1x1 layers of YOLOv5n with SiLU in the store and without, interleaved
//   cold    1x1 layers with every cache flushed (a 64 MiB write) before each call
//   stem    the YOLOv5n and ResNet-18 stems: phase split plus tap tables, as the engine runs them
//   winograd  stride-1 3x3 layers of both networks: the direct loop against Winograd F(2x2, 3x3)
// Each line gives GFLOP/s and the share of the one-core peak measured at the start (tb_fma_loop).
#include "CKernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static float *rnd(size_t n) {
    float *p = aligned_alloc(64, (n * 4 + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++) p[i] = (float)(rand() % 1000) / 1000.0f - 0.5f;
    return p;
}
static char *flushbuf;
static void flush(void) { for (size_t i = 0; i < (64u << 20); i += 64) flushbuf[i]++; }
static int floordiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static double peak;
static void report(const char *what, double flop, double s) {
    printf("%-44s %8.3f ms %6.1f GFLOP/s %4.0f%% of peak\n", what, s * 1e3, flop / s / 1e9, 100 * flop / s / 1e9 / peak);
}

// A 1x1 layer in the engine's split (DirectConvPlan.run: position chunks of 128 KiB of input,
// chunks of 8 channel blocks). Returns the best time of 20.
static double conv1x1(int cin, int cout, int n, tb_act act, int cold) {
    float *x = rnd((size_t)cin * n), *w = rnd((size_t)cin * cout), *b = rnd(cout), *y = aligned_alloc(64, (size_t)cout * n * 4 + 64);
    float *pk = aligned_alloc(64, tb_packed_size(cout, cin) * 4);
    tb_pack_weights(w, cout, cin, pk);
    int blocks = (cout + 5) / 6, chunk = (32768 / cin) / 16 * 16;
    if (chunk < 16) chunk = 16;
    double best = 1e9;
    for (int r = 0; r < 20; r++) {
        if (cold) flush();
        double t0 = now();
        for (int p0 = 0; p0 < n; p0 += chunk)
            for (int cb = 0; cb < blocks; cb += 8)
                tb_gemm_panel(TB_KERNELS_AVX2, x, cin, n, pk, b, cout, y, (size_t)n, p0, p0 + chunk < n ? p0 + chunk : n, cb,
                           cb + 8 < blocks ? cb + 8 : blocks, act, NULL);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    free(x); free(w); free(b); free(y); free(pk);
    return best;
}

// A repeated small 3x3 (padding 1) on a padded input that stays in L1.
static double hot3x3(int cin, int cout, int oh, int ow) {
    int xw = tb_padded_width(ow, 3), xh = oh + 2;
    float *x = rnd((size_t)cin * xh * xw), *w = rnd((size_t)cin * cout * 9), *b = rnd(cout), *y = aligned_alloc(64, (size_t)cout * oh * ow * 4 + 64);
    float *pk = aligned_alloc(64, tb_packed_size(cout, cin * 9) * 4);
    tb_pack_weights(w, cout, cin * 9, pk);
    double flop = 2.0 * cin * cout * 9 * oh * ow, best = 1e9;
    long reps = (long)(2e8 / flop) + 1;
    for (int k = 0; k < 20; k++) {
        double t0 = now();
        for (long r = 0; r < reps; r++)
            tb_conv_direct(TB_KERNELS_AVX2, x, cin, xh, xw, pk, b, cout, 3, 3, y, oh, ow, 0, oh, 0, (cout + 5) / 6, TB_ACT_NONE);
        double dt = (now() - t0) / reps;
        if (dt < best) best = dt;
    }
    free(x); free(w); free(b); free(y); free(pk);
    return best;
}

static double hot1x1(int cin, int cout, int n) {
    float *x = rnd((size_t)cin * n), *w = rnd((size_t)cin * cout), *b = rnd(cout), *y = aligned_alloc(64, (size_t)cout * n * 4 + 64);
    float *pk = aligned_alloc(64, tb_packed_size(cout, cin) * 4);
    tb_pack_weights(w, cout, cin, pk);
    double flop = 2.0 * cin * cout * n, best = 1e9;
    long reps = (long)(2e8 / flop) + 1;
    for (int k = 0; k < 20; k++) {
        double t0 = now();
        for (long r = 0; r < reps; r++) tb_gemm_panel(TB_KERNELS_AVX2, x, cin, n, pk, b, cout, y, (size_t)n, 0, n, 0, (cout + 5) / 6, TB_ACT_NONE, NULL);
        double dt = (now() - t0) / reps;
        if (dt < best) best = dt;
    }
    free(x); free(w); free(b); free(y); free(pk);
    return best;
}

// A stem as the engine runs it: PhaseLayout's sizes and tap table (Sources/Engine/ConvKernels.swift),
// tb_phase_split per channel, then tb_conv_taps in the engine's row and block chunks.
static double stem(int cin, int cout, int h, int kk, int s, int p) {
    int w = h, oh = (h + 2 * p - kk) / s + 1, ow = (w + 2 * p - kk) / s + 1;
    int by = -floordiv(-p, s), bx = by, qmax = floordiv(kk - 1 - p, s);
    int rows = oh + qmax + by, width = (ow + 15) / 16 * 16 + qmax + bx;
    size_t plane = (size_t)s * s * rows * width;
    int *taps = malloc(sizeof(int) * kk * kk), ti = 0;
    for (int ky = 0; ky < kk; ky++)
        for (int kx = 0; kx < kk; kx++) {
            int ay = ky - p, ax = kx - p, qy = floordiv(ay, s), qx = floordiv(ax, s), ry = ay - qy * s, rx = ax - qx * s;
            taps[ti++] = (ry * s + rx) * rows * width + (qy + by) * width + (qx + bx);
        }
    float *x = rnd((size_t)h * w * cin), *xp = rnd((size_t)cin * plane), *wt = rnd((size_t)cout * cin * kk * kk), *b = rnd(cout);
    float *pk = aligned_alloc(64, tb_packed_size(cout, cin * kk * kk) * 4), *y = aligned_alloc(64, (size_t)cout * oh * ow * 4 + 64);
    tb_pack_weights(wt, cout, cin * kk * kk, pk);
    int blocks = (cout + 5) / 6, rowChunk = (oh + 7) / 8, m = (256 + ow - 1) / ow;
    if (m > rowChunk) rowChunk = m;
    if (rowChunk > oh) rowChunk = oh;
    double best = 1e9;
    for (int r = 0; r < 20; r++) {
        double t0 = now();
        for (int c = 0; c < cin; c++) tb_phase_split(TB_KERNELS_AVX2, x + (size_t)c * h * w, h, w, s, s, by, bx, rows, width, xp + c * plane, 0, rows);
        for (int oy = 0; oy < oh; oy += rowChunk)
            for (int cb = 0; cb < blocks; cb += 8)
                tb_conv_taps(TB_KERNELS_AVX2, xp, cin, plane, width, taps, kk * kk, pk, b, cout, y, oh, ow, oy,
                             oy + rowChunk < oh ? oy + rowChunk : oh, cb, cb + 8 < blocks ? cb + 8 : blocks, TB_ACT_SILU);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    free(taps); free(x); free(xp); free(wt); free(b); free(pk); free(y);
    return best;
}

// A stride-1 3x3 layer (padding 1) from an unpadded input, as the engine runs it: the zero-bordered
// copy (tb_phase_split, stride 1) then the direct loop in the engine's row and block chunks
// (`winograd` 0), or Winograd F(2x2, 3x3) over all tile chunks and blocks (1). Returns the best of
// 20 and the output.
static double conv3x3(int c, int hw, int winograd, float **out) {
    int oh = hw, ow = hw, blocks = (c + 5) / 6;
    float *x = rnd((size_t)c * hw * hw), *w = rnd((size_t)c * c * 9), *b = rnd(c), *y = aligned_alloc(64, (size_t)c * oh * ow * 4 + 64);
    int rows, width, chunks;
    if (winograd) tb_wino_layout(oh, ow, &rows, &width, &chunks);
    else { rows = oh + 2; width = tb_padded_width(ow, 3); chunks = 0; }
    size_t plane = (size_t)rows * width;
    float *xp = aligned_alloc(64, (size_t)c * plane * 4 + 64);
    float *pk = aligned_alloc(64, (winograd ? tb_wino_weights_floats(c, c) : tb_packed_size(c, c * 9)) * 4);
    float *work = winograd ? aligned_alloc(64, tb_wino_work_floats(c, blocks) * 4) : NULL;
    if (winograd) tb_wino_pack_weights(w, c, c, pk);
    else tb_pack_weights(w, c, c * 9, pk);
    int rowChunk = (oh + 7) / 8, m = (256 + ow - 1) / ow;
    if (m > rowChunk) rowChunk = m;
    if (rowChunk > oh) rowChunk = oh;
    double best = 1e9;
    for (int r = 0; r < 20; r++) {
        double t0 = now();
        for (int ci = 0; ci < c; ci++) tb_phase_split(TB_KERNELS_AVX2, x + (size_t)ci * hw * hw, hw, hw, 1, 1, 1, 1, rows, width, xp + ci * plane, 0, rows);
        if (winograd)
            tb_wino_conv(TB_KERNELS_AVX2, xp, c, plane, width, pk, b, c, y, oh, ow, 0, chunks, 0, blocks, TB_ACT_RELU, work);
        else
            for (int oy = 0; oy < oh; oy += rowChunk)
                for (int cb = 0; cb < blocks; cb += 8)
                    tb_conv_direct(TB_KERNELS_AVX2, xp, c, rows, width, pk, b, c, 3, 3, y, oh, ow, oy, oy + rowChunk < oh ? oy + rowChunk : oh,
                                   cb, cb + 8 < blocks ? cb + 8 : blocks, TB_ACT_RELU);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    *out = y;
    free(x); free(w); free(b); free(xp); free(pk); free(work);
    return best;
}

static const int thin[][3] = {{64, 255, 6400}, {64, 64, 1600}, {32, 16, 25600}, {16, 32, 25600}, {64, 32, 6400},
                              {128, 64, 1600}, {256, 128, 400}, {512, 256, 400}, {64, 64, 6400}};

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!tb_kernels_available(TB_KERNELS_AVX2)) { fprintf(stderr, "kernel-harness: this processor has no AVX2 and FMA\n"); return 1; }
    for (int r = 0; r < 5; r++) {   // the best of five: a moment of other load lowers one
        double f, t0 = now();
        tb_fma_loop(TB_KERNELS_AVX2, 1 << 24, &f);
        double g = f / (now() - t0) / 1e9;
        if (g > peak) peak = g;
    }
    printf("one-core peak %.1f GFLOP/s (tb_fma_loop, best of 5)\n", peak);
    char what[96];
    if (!strcmp(mode, "hot")) {
        int s1[][3] = {{64, 48, 16}, {64, 48, 64}, {128, 48, 32}, {256, 12, 64}};
        for (int i = 0; i < 4; i++) {
            snprintf(what, sizeof what, "1x1 %d -> %d, %d positions, in L1", s1[i][0], s1[i][1], s1[i][2]);
            report(what, 2.0 * s1[i][0] * s1[i][1] * s1[i][2], hot1x1(s1[i][0], s1[i][1], s1[i][2]));
        }
        int s3[][4] = {{8, 12, 4, 16}, {16, 12, 4, 32}, {32, 48, 8, 16}};
        for (int i = 0; i < 3; i++) {
            snprintf(what, sizeof what, "3x3 %d -> %d at %dx%d, in L1", s3[i][0], s3[i][1], s3[i][2], s3[i][3]);
            report(what, 2.0 * s3[i][0] * s3[i][1] * 9 * s3[i][2] * s3[i][3], hot3x3(s3[i][0], s3[i][1], s3[i][2], s3[i][3]));
        }
    } else if (!strcmp(mode, "act") || !strcmp(mode, "cold")) {
        int cold = !strcmp(mode, "cold");
        if (cold) flushbuf = calloc(64u << 20, 1);
        for (int i = 0; i < 9; i++) {
            double flop = 2.0 * thin[i][0] * thin[i][1] * thin[i][2];
            snprintf(what, sizeof what, "1x1 %d -> %d, %d positions, SiLU%s", thin[i][0], thin[i][1], thin[i][2], cold ? ", cold" : "");
            report(what, flop, conv1x1(thin[i][0], thin[i][1], thin[i][2], TB_ACT_SILU, cold));
            if (!cold) {
                snprintf(what, sizeof what, "  the same without activation");
                report(what, flop, conv1x1(thin[i][0], thin[i][1], thin[i][2], TB_ACT_NONE, 0));
            }
        }
    } else if (!strcmp(mode, "stem")) {
        report("stem 6x6/2, 3 -> 16 at 640 (YOLOv5n)", 2.0 * 3 * 16 * 36 * 320 * 320, stem(3, 16, 640, 6, 2, 2));
        report("stem 7x7/2, 3 -> 64 at 224 (ResNet-18)", 2.0 * 3 * 64 * 49 * 112 * 112, stem(3, 64, 224, 7, 2, 3));
    } else if (!strcmp(mode, "winograd")) {
        int sh[][2] = {{64, 56}, {128, 28}, {256, 14}, {512, 7}, {16, 160}, {32, 80}, {64, 40}, {128, 20}};
        for (int i = 0; i < 8; i++) {
            int c = sh[i][0], hw = sh[i][1];
            double flop = 2.0 * c * c * 9 * hw * hw, err = 0, scale = 0;
            float *y0, *y1;
            srand(1);
            double td = conv3x3(c, hw, 0, &y0);
            srand(1);
            double tw = conv3x3(c, hw, 1, &y1);
            for (size_t j = 0; j < (size_t)c * hw * hw; j++) {
                double e = y1[j] - y0[j];
                if (e < 0) e = -e;
                if (e > err) err = e;
                if (y0[j] > scale) scale = y0[j];
            }
            snprintf(what, sizeof what, "3x3 %d at %dx%d, direct", c, hw, hw);
            report(what, flop, td);
            snprintf(what, sizeof what, "  Winograd (max diff %.1e of max %.1f)", err, scale);
            report(what, flop, tw);
            free(y0); free(y1);
        }
    } else {
        fprintf(stderr, "usage: scripts/kernel-harness hot|act|cold|stem|winograd\n");
        return 2;
    }
    return 0;
}
