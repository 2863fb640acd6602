// Shared by the C kernels (conv.c, winograd.c, strided.c), not part of the library's interface: the block
// and tile sizes, exp and the activations (scalar, AVX2 and AVX-512), the stride-2 column split, and the
// 6 x 16 micro-kernel's step.
#ifndef TB_KERNELS_INTERNAL_H
#define TB_KERNELS_INTERNAL_H

#include "CKernels.h"

#define CO TB_CO_BLOCK
#define TILE TB_TILE

// exp as the engine's Swift fastExp (Activations.swift): x = n ln2 + r, a degree-6 polynomial,
// 2^n through the exponent bits; relative error below 2e-7 on [-87, 88].
static inline float tb_exp(float x) {
    float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float t = xc * 1.442695040888963f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = xc - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { float f; unsigned u; } bits = { t };
    union { unsigned u; float f; } scale = { (bits.u - 0x4B3FFF81u) << 23 };
    return p * scale.f;
}

// weight [cout][kdim] -> packed [ceil(cout/block)][kdim][block], zero rows past cout: the layout of
// the direct kernels' weights (blocks of 6 for conv.c, of 16 for strided.c; Winograd packs its
// transformed weights in blocks of 6 in its own layout).
static inline void tb_pack_blocks(const float *weight, int cout, int kdim, int block, float *packed) {
    int blocks = (cout + block - 1) / block;
    for (int b = 0; b < blocks; b++)
        for (int k = 0; k < kdim; k++)
            for (int r = 0; r < block; r++) {
                int o = b * block + r;
                packed[((size_t)b * kdim + k) * block + r] = o < cout ? weight[(size_t)o * kdim + k] : 0.0f;
            }
}

static inline float tb_activate(float v, tb_act act) {
    switch (act) {
    case TB_ACT_RELU: return v > 0 ? v : 0;
    case TB_ACT_SILU: return v / (1.0f + tb_exp(-v));
    case TB_ACT_SIGMOID: return 1.0f / (1.0f + tb_exp(-v));
    default: return v;
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TB_HAVE_AVX2 1

// The exponential's range reduction and polynomial on W-bit vectors (W 256 or 512), written once so that
// exp_avx2 and exp_avx512 run the same operations in the same order (the same bits): x clamped to [-87, 88],
// t = x log2(e) + 1.5 * 2^23 (n = round(x log2 e) in its low bits), r = x - n ln 2 in two parts, p = e^r by
// a degree-6 polynomial. Each caller then multiplies p by 2^n its own way.
#define TB_EXP_POLY(W, VEC, x, t, n, p)                                                                    \
    do {                                                                                                   \
        x = _mm##W##_min_ps(_mm##W##_max_ps(x, _mm##W##_set1_ps(-87.0f)), _mm##W##_set1_ps(88.0f));        \
        t = _mm##W##_fmadd_ps(x, _mm##W##_set1_ps(1.442695040888963f), _mm##W##_set1_ps(12582912.0f));     \
        n = _mm##W##_sub_ps(t, _mm##W##_set1_ps(12582912.0f));                                             \
        VEC r_ = _mm##W##_fnmadd_ps(n, _mm##W##_set1_ps(0.693145751953125f), x);                           \
        r_ = _mm##W##_fnmadd_ps(n, _mm##W##_set1_ps(1.428606765330187e-06f), r_);                          \
        p = _mm##W##_set1_ps(1.0f / 720.0f);                                                               \
        p = _mm##W##_fmadd_ps(p, r_, _mm##W##_set1_ps(1.0f / 120.0f));                                     \
        p = _mm##W##_fmadd_ps(p, r_, _mm##W##_set1_ps(1.0f / 24.0f));                                      \
        p = _mm##W##_fmadd_ps(p, r_, _mm##W##_set1_ps(1.0f / 6.0f));                                       \
        p = _mm##W##_fmadd_ps(p, r_, _mm##W##_set1_ps(0.5f));                                              \
        p = _mm##W##_fmadd_ps(p, r_, _mm##W##_set1_ps(1.0f));                                              \
        p = _mm##W##_fmadd_ps(p, r_, _mm##W##_set1_ps(1.0f));                                              \
    } while (0)

// 2^n built from t's bits: n sits in its mantissa's low bits; subtracting 0x4B3FFF81 leaves n + 127,
// shifted into the exponent field.
__attribute__((target("avx2,fma"))) static inline __m256 exp_avx2(__m256 x) {
    __m256 t, n, p;
    TB_EXP_POLY(256, __m256, x, t, n, p);
    __m256i e = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B3FFF81)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// The activations on W-bit vectors with the exponential EXP, written once for activate_avx2 and
// activate_avx512 (the same operations, so the same bits).
#define TB_ACTIVATE(W, EXP, v, act)                                                                        \
    switch (act) {                                                                                         \
    case TB_ACT_RELU: return _mm##W##_max_ps(v, _mm##W##_setzero_ps());                                    \
    case TB_ACT_SILU:                                                                                      \
        return _mm##W##_div_ps(v, _mm##W##_add_ps(_mm##W##_set1_ps(1.0f), EXP(_mm##W##_sub_ps(_mm##W##_setzero_ps(), v)))); \
    case TB_ACT_SIGMOID:                                                                                   \
        return _mm##W##_div_ps(_mm##W##_set1_ps(1.0f),                                                     \
                               _mm##W##_add_ps(_mm##W##_set1_ps(1.0f), EXP(_mm##W##_sub_ps(_mm##W##_setzero_ps(), v)))); \
    default: return v;                                                                                    \
    }

__attribute__((target("avx2,fma"))) static inline __m256 activate_avx2(__m256 v, tb_act act) { TB_ACTIVATE(256, exp_avx2, v, act) }

// Whether `k` runs the AVX2 code: the AVX2 kernels, and the AVX-512 ones wherever they have no
// 16-float code of their own (everything but the direct 1x1 and 3x3 loops, conv.c, and the strided
// kernel, strided.c).
static inline int tb_runs_avx2_code(tb_kernels k) { return k == TB_KERNELS_AVX2 || k == TB_KERNELS_AVX512; }

#define TB_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma")))

// The mask of a 16-float vector's first `count` lanes (all from 16 on).
static inline __mmask16 tb_first_lanes(int count) { return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1); }

// exp_avx2 on 16 floats: the same TB_EXP_POLY (so the same bits), with 2^n applied by scalef instead of
// through the exponent bits (both exact: the clamp keeps n in [-126, 127] and p * 2^n normal).
// kernels-asan and DirectKernelTests compare the paths bit for bit where the processor has AVX-512. The identity also
// needs the compiler not to fuse exp_avx2's last multiply into the add after it; clang (SwiftPM's C
// compiler, and the scripts') does not contract across intrinsics.
TB_TARGET_AVX512 static inline __m512 exp_avx512(__m512 x) {
    __m512 t, n, p;
    TB_EXP_POLY(512, __m512, x, t, n, p);
    return _mm512_scalef_ps(p, n);
}

TB_TARGET_AVX512 static inline __m512 activate_avx512(__m512 v, tb_act act) { TB_ACTIVATE(512, exp_avx512, v, act) }

// Columns 0, 2, ..., 14 and 1, 3, ..., 15 of the 16 floats at r: the stride-2 split of Winograd's
// input rows and of im2col's stride-2 gather (tb_gather_stride2).
__attribute__((target("avx2,fma"))) static inline void even_odd_avx2(const float *r, __m256 *even, __m256 *odd) {
    __m256 a = _mm256_loadu_ps(r), b = _mm256_loadu_ps(r + 8);
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}

// The 6 x 16 tile's 12 accumulators, one step of it (6 broadcast weights times two vectors of
// inputs), and their hand-over; shared by the stride-1 tiles and Winograd's products (the strided
// kernel's tiles, strided.c, use the same 12 accumulators).
#define ACC_6x16_DECLARE                                                                                   \
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;              \
    __m256 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00
// R: the rows of the block that hold channels (6, or 1 to 5 in a layer's last block), a constant where the
// caller is inlined, so that the zero rows past cout take no multiply-adds (their accumulators stay zero).
#define STEP_6x16_R(v0, v1, wp, R)                                                                         \
    do {                                                                                                   \
        __m256 w_;                                                                                         \
        w_ = _mm256_broadcast_ss((wp) + 0); a00 = _mm256_fmadd_ps(w_, v0, a00); a01 = _mm256_fmadd_ps(w_, v1, a01); \
        if ((R) > 1) { w_ = _mm256_broadcast_ss((wp) + 1); a10 = _mm256_fmadd_ps(w_, v0, a10); a11 = _mm256_fmadd_ps(w_, v1, a11); } \
        if ((R) > 2) { w_ = _mm256_broadcast_ss((wp) + 2); a20 = _mm256_fmadd_ps(w_, v0, a20); a21 = _mm256_fmadd_ps(w_, v1, a21); } \
        if ((R) > 3) { w_ = _mm256_broadcast_ss((wp) + 3); a30 = _mm256_fmadd_ps(w_, v0, a30); a31 = _mm256_fmadd_ps(w_, v1, a31); } \
        if ((R) > 4) { w_ = _mm256_broadcast_ss((wp) + 4); a40 = _mm256_fmadd_ps(w_, v0, a40); a41 = _mm256_fmadd_ps(w_, v1, a41); } \
        if ((R) > 5) { w_ = _mm256_broadcast_ss((wp) + 5); a50 = _mm256_fmadd_ps(w_, v0, a50); a51 = _mm256_fmadd_ps(w_, v1, a51); } \
    } while (0)
// CALL (a call naming R_) with R_ = the rows of a block that hold channels: ROWS if 1 to 5 (a layer's last
// block), else CO. One instantiation of CALL per count, each with R_ a constant.
#define TB_ROWS_DISPATCH(ROWS, CALL)                                                                       \
    do {                                                                                                   \
        switch (ROWS) {                                                                                    \
        case 1: { const int R_ = 1; CALL; break; }                                                         \
        case 2: { const int R_ = 2; CALL; break; }                                                         \
        case 3: { const int R_ = 3; CALL; break; }                                                         \
        case 4: { const int R_ = 4; CALL; break; }                                                         \
        case 5: { const int R_ = 5; CALL; break; }                                                         \
        default: { const int R_ = CO; CALL; break; }                                                       \
        }                                                                                                  \
    } while (0)
#define ACC_6x16_STORE(acc)                                                                                \
    do {                                                                                                   \
        acc[0][0] = a00; acc[0][1] = a01; acc[1][0] = a10; acc[1][1] = a11; acc[2][0] = a20; acc[2][1] = a21; \
        acc[3][0] = a30; acc[3][1] = a31; acc[4][0] = a40; acc[4][1] = a41; acc[5][0] = a50; acc[5][1] = a51; \
    } while (0)

#endif

#endif
