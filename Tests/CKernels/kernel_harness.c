// The one-thread C harness behind docs/performance.md's "Third step" figures on the kernels
// themselves (scripts/kernel-harness MODE): it links Sources/CKernels and times its functions
// directly, best of 20 repetitions, single-threaded, in the engine's own work split. Modes:
//   hot     the micro-kernel on data that stays in L1 (1x1 and 3x3), no activation
//   act     1x1 layers of YOLOv5n with SiLU in the store and without, interleaved
//   cold    1x1 layers with every cache flushed (a 64 MiB write) before each call
//   winograd  stride-1 3x3 layers of both networks: the direct loop against Winograd F(2x2, 3x3)
//   strided512  the strided kernel's AVX2 and AVX-512 code on the same shapes (and ResNet-18's 512 x 7x7 at
//           stride 1, which it takes under AVX-512), in turn, with the number of outputs whose bits differ
//   maxpool  max pooling over YOLOv5n's SPPF planes and ResNet-18's, plain C against the vector code
//   strided  the strided layers and stems of both networks: im2col + our GEMM (the engine's path
//           before the strided kernel) against tb_conv_strided in the engine's work items, with the
//           number of outputs whose bits differ (the `stem` mode of earlier figures went with the
//           stems' tap tables, which the strided kernel replaced)
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
static double peak;
// The vector kernels timed: AVX2, or AVX-512 with TB_HARNESS_KERNELS=avx512 (the peak loop too).
static tb_kernels K = TB_KERNELS_AVX2;
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
                tb_gemm_panel(K, x, cin, n, pk, b, cout, y, (size_t)n, p0, p0 + chunk < n ? p0 + chunk : n, cb,
                           cb + 8 < blocks ? cb + 8 : blocks, act, 0, NULL);
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
            tb_conv_direct(K, x, cin, xh, xw, pk, b, cout, 3, 3, y, oh, ow, 0, oh, 0, (cout + 5) / 6, TB_ACT_NONE);
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
        for (long r = 0; r < reps; r++) tb_gemm_panel(K, x, cin, n, pk, b, cout, y, (size_t)n, 0, n, 0, (cout + 5) / 6, TB_ACT_NONE, 0, NULL);
        double dt = (now() - t0) / reps;
        if (dt < best) best = dt;
    }
    free(x); free(w); free(b); free(y); free(pk);
    return best;
}

// A stride-1 3x3 layer (padding 1) from an unpadded input, as the engine runs it: the zero-bordered
// copy (tb_border_copy) then the direct loop in the engine's row and block chunks
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
        for (int ci = 0; ci < c; ci++) tb_border_copy(x + (size_t)ci * hw * hw, hw, hw, 1, 1, width, xp + ci * plane, 0, rows);
        if (winograd)
            tb_wino_conv(K, xp, c, plane, width, pk, b, c, y, oh, ow, 0, chunks, 0, blocks, TB_ACT_RELU, work);
        else
            for (int oy = 0; oy < oh; oy += rowChunk)
                for (int cb = 0; cb < blocks; cb += 8)
                    tb_conv_direct(K, xp, c, rows, width, pk, b, c, 3, 3, y, oh, ow, oy, oy + rowChunk < oh ? oy + rowChunk : oh,
                                   cb, cb + 8 < blocks ? cb + 8 : blocks, TB_ACT_RELU);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    *out = y;
    free(x); free(w); free(b); free(xp); free(pk); free(work);
    return best;
}

// A strided layer as the engine ran it before the strided kernel: bands of output rows of about
// 64 Ki floats of im2col columns (Conv2d.forward), each gathered (tb_gather_stride2 at stride 2)
// and multiplied by tb_gemm_panel (`mode` 0); or tb_conv_strided in the engine's work items
// (DirectConvPlan.runStrided, `mode` 1). Returns the best of 20 and the output.
static double strided(int cin, int cout, int h, int kk, int s, int p, int mode, float **out) {
    int w = h, oh = (h + 2 * p - kk) / s + 1, ow = (w + 2 * p - kk) / s + 1, kdim = cin * kk * kk, n = oh * ow;
    float *x = rnd((size_t)cin * h * w), *wt = rnd((size_t)cout * kdim), *b = rnd(cout);
    float *y = aligned_alloc(64, (size_t)cout * oh * ow * 4 + 64);
    float *pk = aligned_alloc(64, (mode ? tb_strided_packed_size(cout, kdim) : tb_packed_size(cout, kdim)) * 4);
    if (mode) tb_strided_pack_weights(wt, cout, kdim, pk);
    else tb_pack_weights(wt, cout, kdim, pk);
    int bandRows = (1 << 16) / (kdim * ow);
    if (bandRows < 1) bandRows = 1;
    if (bandRows > oh) bandRows = oh;
    float *col = aligned_alloc(64, (size_t)kdim * bandRows * ow * 4 + 64);
    float *tail = aligned_alloc(64, (size_t)kdim * 16 * 4 + 64);
    int blocks = mode ? (cout + 15) / 16 : (cout + 5) / 6;
    // runStrided's items on 2 threads (DirectConvPlan.runStrided and evenSplit, Sources/Engine/ConvKernels.swift):
    // bands of about 64 Ki floats of bordered input rows in whole units (tiles, or rows on the phase path), the
    // blocks split where the bands are fewer than 8 (whole pairs under AVX-512), and, where the items are fewer
    // than 32, as many more bands as make them even in number
    int bandOut = ((1 << 16) / (cin * (w + 2 * p)) - kk) / s + 1;
    if (bandOut < 1) bandOut = 1;
    int tile = tb_strided_item_unit(K, s, s, ow), units = (n + tile - 1) / tile, target = bandOut * ow / tile;
    if (target < 1) target = 1;
    int bands = (units + target - 1) / target, wanted = bands >= 8 ? 1 : (8 + bands - 1) / bands;
    if (wanted > blocks) wanted = blocks;
    int pair = K == TB_KERNELS_AVX512 ? 2 : 1, bchunk = ((blocks + wanted - 1) / wanted + pair - 1) / pair * pair;
    int cbchunks = (blocks + bchunk - 1) / bchunk, pchunks = bands < units ? bands : units;
    if (pchunks * cbchunks < 32)
        while ((pchunks * cbchunks) % 2 != 0 && pchunks < units) pchunks++;
    int chunk = (units + pchunks - 1) / pchunks * tile;   // the largest
    float *work = aligned_alloc(64, (tb_strided_work_floats(cin, w, kk, kk, s, p, ow, chunk) * 4 + 127) / 64 * 64);
    double best = 1e9;
    for (int rep = 0; rep < 20; rep++) {
        double t0 = now();
        if (mode) {
            for (int pc = 0; pc < pchunks; pc++) {
                int p0 = (int)((long)pc * units / pchunks) * tile, p1 = (int)((long)(pc + 1) * units / pchunks) * tile;
                for (int cb = 0; cb < blocks; cb += bchunk)
                    tb_conv_strided(K, x, cin, h, w, pk, b, cout, kk, kk, s, s, p, p, y, oh, ow, p0, p1 < n ? p1 : n, cb,
                                    cb + bchunk < blocks ? cb + bchunk : blocks, TB_ACT_SILU, work);
            }
        } else {
            for (int oy0 = 0; oy0 < oh; oy0 += bandRows) {
                int oy1 = oy0 + bandRows < oh ? oy0 + bandRows : oh, cols = (oy1 - oy0) * ow;
                for (int r = 0; r < kdim; r++) {
                    int c = r / (kk * kk), i = (r / kk) % kk, j = r % kk, xOff = j - p;
                    int oxLo = xOff < 0 ? (-xOff + s - 1) / s : 0, oxHi = (w - 1 - xOff) / s + 1;
                    if (oxLo > ow) oxLo = ow;
                    if (oxHi > ow) oxHi = ow;
                    for (int oy = oy0; oy < oy1; oy++) {
                        float *row = col + (size_t)r * cols + (oy - oy0) * ow;
                        int iy = oy * s - p + i;
                        if (iy < 0 || iy >= h) { memset(row, 0, ow * 4); continue; }
                        const float *line = x + ((size_t)c * h + iy) * w;
                        for (int ox = 0; ox < oxLo; ox++) row[ox] = 0;
                        int ix = oxLo * s + xOff;
                        if (s == 2) tb_gather_stride2(K, line + ix, oxHi - oxLo, w - ix, row + oxLo);
                        else for (int ox = oxLo; ox < oxHi; ox++) row[ox] = line[ox * s + xOff];
                        for (int ox = oxHi; ox < ow; ox++) row[ox] = 0;
                    }
                }
                tb_gemm_panel(K, col, kdim, cols, pk, b, cout, y + oy0 * ow, (size_t)n, 0, cols, 0, blocks,
                              TB_ACT_SILU, 0, tail);
            }
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    *out = y;
    free(x); free(wt); free(b); free(pk); free(col); free(tail); free(work);
    return best;
}

static const int thin[][3] = {{64, 255, 6400}, {64, 64, 1600}, {32, 16, 25600}, {16, 32, 25600}, {64, 32, 6400},
                              {128, 64, 1600}, {256, 128, 400}, {512, 256, 400}, {64, 64, 6400}};

// One strided shape run twice (`mode` 0 or 1 of strided(), on kernels k0 and k1) and reported as a pair, with the
// outputs that differ between the two: the strided and strided512 modes.
static void strided_pair(int ci, int co, int hw, int kk, int st, int pd, int mode0, tb_kernels k0, const char *name0,
                         int mode1, tb_kernels k1, const char *name1) {
    char what[128];
    int o = (hw + 2 * pd - kk) / st + 1;
    double flop = 2.0 * ci * co * kk * kk * o * o;
    float *y0, *y1;
    K = k0; srand(1);
    double t0 = strided(ci, co, hw, kk, st, pd, mode0, &y0);
    K = k1; srand(1);
    double t1 = strided(ci, co, hw, kk, st, pd, mode1, &y1);
    size_t diff = 0;
    for (size_t j = 0; j < (size_t)co * o * o; j++) diff += memcmp(&y0[j], &y1[j], 4) != 0;
    snprintf(what, sizeof what, "%dx%d/%d %d -> %d at %d, %s", kk, kk, st, ci, co, hw, name0);
    report(what, flop, t0);
    snprintf(what, sizeof what, "  %s (%zu outputs differ)", name1, diff);
    report(what, flop, t1);
    free(y0); free(y1);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    const char *kv = getenv("TB_HARNESS_KERNELS");
    if (kv && !strcmp(kv, "avx512")) K = TB_KERNELS_AVX512;
    else if (kv && strcmp(kv, "avx2")) { fprintf(stderr, "kernel-harness: TB_HARNESS_KERNELS is avx2 or avx512\n"); return 2; }
    if (!tb_kernels_available(K)) { fprintf(stderr, "kernel-harness: this processor cannot run the %s kernels\n", K == TB_KERNELS_AVX512 ? "AVX-512" : "AVX2 and FMA"); return 1; }
    for (int r = 0; r < 5; r++) {   // the best of five: a moment of other load lowers one
        double f, t0 = now();
        tb_fma_loop(K, 1 << 24, &f);
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
    } else if (!strcmp(mode, "strided")) {
        // cin, cout, input side, kernel, stride, padding: YOLOv5n's six strided 3x3 layers and its stem,
        // ResNet-18's three strided 3x3 layers, its 1x1/2 shortcuts and its stem. (The engine runs the 1x1/2 on
        // the 1x1 loop over its subsampled input, which beat the strided kernel there: its row is that comparison.)
        int sh[][6] = {{16, 32, 320, 3, 2, 1}, {32, 64, 160, 3, 2, 1}, {64, 128, 80, 3, 2, 1}, {128, 256, 40, 3, 2, 1},
                       {64, 64, 80, 3, 2, 1}, {128, 128, 40, 3, 2, 1}, {3, 16, 640, 6, 2, 2},
                       {64, 128, 56, 3, 2, 1}, {128, 256, 28, 3, 2, 1}, {256, 512, 14, 3, 2, 1},
                       {64, 128, 56, 1, 2, 0}, {3, 64, 224, 7, 2, 3}};
        for (int i = 0; i < 12; i++)
            strided_pair(sh[i][0], sh[i][1], sh[i][2], sh[i][3], sh[i][4], sh[i][5], 0, K, "im2col", 1, K, "strided kernel");
    } else if (!strcmp(mode, "strided512")) {
        if (!tb_kernels_available(TB_KERNELS_AVX512)) { fprintf(stderr, "kernel-harness: strided512 needs AVX-512\n"); return 1; }
        int sh[][6] = {{16, 32, 320, 3, 2, 1}, {32, 64, 160, 3, 2, 1}, {64, 128, 80, 3, 2, 1}, {128, 256, 40, 3, 2, 1},
                       {64, 64, 80, 3, 2, 1}, {128, 128, 40, 3, 2, 1}, {3, 16, 640, 6, 2, 2},
                       {64, 128, 56, 3, 2, 1}, {128, 256, 28, 3, 2, 1}, {256, 512, 14, 3, 2, 1}, {512, 512, 7, 3, 1, 1},
                       {3, 64, 224, 7, 2, 3}};
        for (int i = 0; i < 12; i++)
            strided_pair(sh[i][0], sh[i][1], sh[i][2], sh[i][3], sh[i][4], sh[i][5], 1, TB_KERNELS_AVX2, "AVX2", 1,
                         TB_KERNELS_AVX512, "AVX-512");
    } else if (!strcmp(mode, "maxpool")) {
        // planes, side, kernel, stride, padding: YOLOv5n's SPPF pool, ResNet-18's pool
        int sh[][5] = {{128, 20, 5, 1, 2}, {64, 112, 3, 2, 1}};
        for (int i = 0; i < 2; i++) {
            int c = sh[i][0], h = sh[i][1], k = sh[i][2], st = sh[i][3], p = sh[i][4], o = (h + 2 * p - k) / st + 1;
            float *x = rnd((size_t)c * h * h), *y = aligned_alloc(64, (size_t)c * o * o * 4 + 64), *row = malloc((size_t)(h + 2 * p + 16) * 4);
            for (int v = 0; v < 2; v++) {
                tb_kernels kv = v ? K : TB_KERNELS_PORTABLE;
                double best = 1e9;
                for (int r = 0; r < 50; r++) {
                    double t0 = now();
                    for (int q = 0; q < c; q++) tb_maxpool_plane(kv, x + (size_t)q * h * h, h, h, y + (size_t)q * o * o, o, o, k, st, p, row);
                    double dt = now() - t0;
                    if (dt < best) best = dt;
                }
                printf("maxpool %d planes of %dx%d k%d s%d p%d, %-8s %8.3f ms\n", c, h, h, k, st, p, v ? "vector" : "plain C", best * 1e3);
            }
            free(x); free(y); free(row);
        }
    } else {
        fprintf(stderr, "usage: scripts/kernel-harness hot|act|cold|winograd|strided|strided512|maxpool\n");
        return 2;
    }
    return 0;
}
