// CImageCodecs: thin C wrappers around libpng 1.6 and libjpeg-turbo 2.1.
//
// Why C: both libraries report fatal errors by longjmp (libjpeg's default handler even calls
// exit()), and Swift cannot call setjmp. Each function here sets its own jump point, installs
// error handlers that copy the library's message into `message`, and returns a status code.
// Nothing here prints, exits or aborts. All functions are reentrant (no globals), so they may
// run on any thread.
#ifndef TB_IMAGE_CODECS_H
#define TB_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes. On anything but TB_OK, `message` holds a NUL-terminated explanation.
typedef enum {
    TB_OK = 0,
    TB_ERR_CORRUPT = 1,      ///< the library refused the data (message is the library's)
    TB_ERR_TRUNCATED = 2,    ///< the data ended before the image did
    TB_ERR_TOO_LARGE = 3,    ///< declared width*height exceeds max_pixels (width/height are set)
    TB_ERR_UNSUPPORTED = 4,  ///< valid file, but a kind we do not decode (e.g. CMYK JPEG)
    TB_ERR_NO_MEMORY = 5,
    TB_ERR_ARGUMENT = 6,     ///< bad arguments from the caller
} tb_status;

/// What a decode produces (or, when probing, will produce): interleaved samples, row-major,
/// top row first, no row padding; byte_count = width * height * channels * bit_depth / 8.
/// bit_depth 8: uint8_t samples; bit_depth 16: native-endian uint16_t. channels 1 (grey) or
/// 3 (RGB). Alpha is dropped, palettes are expanded to RGB, 1/2/4-bit grey is scaled to 8 bit
/// (as libpng and PIL's convert("L") do).
typedef struct {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    uint32_t bit_depth;
    uint32_t had_alpha;      ///< 1 if the file carried an alpha channel that was dropped
    size_t byte_count;
} tb_image_info;

/// Decodes a PNG held in memory, in two calls so the caller owns the pixel memory:
/// 1. pixels == NULL: reads the header only, fills *info, checks width*height against
///    max_pixels (TB_ERR_TOO_LARGE, with info->width/height set). Nothing large is allocated.
/// 2. pixels != NULL, capacity >= info->byte_count: decodes the image into pixels.
tb_status tb_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                        void *pixels, size_t capacity, tb_image_info *info,
                        char *message, size_t message_capacity);

/// The same two-call protocol for a baseline or progressive 8-bit JPEG (greyscale -> 1
/// channel, YCbCr/RGB -> 3). Corruption warnings (premature end of file, bad Huffman code, ...)
/// are treated as errors.
tb_status tb_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                         void *pixels, size_t capacity, tb_image_info *info,
                         char *message, size_t message_capacity);

/// Encodes samples laid out as tb_image_info describes (bit_depth 16: native-endian) as PNG:
/// channels 1 or 3, bit_depth 8 or 16. On success *out_png (release with tb_free) holds
/// *out_size bytes.
tb_status tb_png_encode(const void *pixels, uint32_t width, uint32_t height,
                        uint32_t channels, uint32_t bit_depth, int compression_level,
                        uint8_t **out_png, size_t *out_size,
                        char *message, size_t message_capacity);

void tb_free(void *pointer);

#ifdef __cplusplus
}
#endif
#endif
