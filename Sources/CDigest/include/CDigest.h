// SHA-256's block compression (FIPS 180-4) in C, optimised in debug builds too: every weight file
// and image is referenced by its digest, and the plain-Swift loop of an unoptimised build took
// about 20 s for the models' 120 MB. The padding and the streaming stay in Swift (Cases/SHA256.swift).
#pragma once
#include <stddef.h>
#include <stdint.h>

// Compresses `blocks` whole 64-byte blocks at `p` into the eight state words `h`.
void tb_sha256_blocks(uint32_t h[8], const uint8_t *p, size_t blocks);
