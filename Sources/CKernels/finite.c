// The first NaN or infinity of a weight tensor (SafeTensors.checkFinite): every file is checked when it
// loads. In C so that it runs optimised in debug builds too: Swift's SIMD types at -Onone took about
// 1.5 s for the models' 30 million values, paid by every test that loads them.
#include "CKernels.h"
#include <string.h>

// 64 values a step without a branch (the compiler vectorises it), then the step that hit value by value.
#define FIRST_NONFINITE(T)                                                                                  \
    const unsigned char *p = src;                                                                           \
    size_t i = 0;                                                                                           \
    for (; i + 64 <= n; i += 64) {                                                                          \
        int hit = 0;                                                                                        \
        for (int k = 0; k < 64; k++) {                                                                      \
            T w;                                                                                            \
            memcpy(&w, p + sizeof(T) * (i + k), sizeof(T));                                                 \
            hit |= (w & mask) == mask;                                                                      \
        }                                                                                                   \
        if (hit) break;                                                                                     \
    }                                                                                                       \
    for (; i < n; i++) {                                                                                    \
        T w;                                                                                                \
        memcpy(&w, p + sizeof(T) * i, sizeof(T));                                                           \
        if ((w & mask) == mask) return (long)i;                                                             \
    }                                                                                                       \
    return -1

long tb_first_nonfinite32(const void *src, size_t n, uint32_t mask) { FIRST_NONFINITE(uint32_t); }

long tb_first_nonfinite16(const void *src, size_t n, uint16_t mask) { FIRST_NONFINITE(uint16_t); }
