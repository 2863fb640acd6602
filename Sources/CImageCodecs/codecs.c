// libpng / libjpeg wrappers with setjmp-based error recovery. See include/CImageCodecs.h.
// Rule for every function: locals changed between setjmp and a possible longjmp are volatile,
// every path frees what it allocated, and no library message reaches stderr.
#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>   // jpeglib.h needs FILE and size_t declared first
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

static void tb_set_message(char *message, size_t capacity, const char *text) {
    if (message != NULL && capacity > 0) snprintf(message, capacity, "%s", text);
}

static int tb_host_is_little_endian(void) {
    const uint16_t probe = 1;
    return *(const uint8_t *)&probe == 1;
}

void tb_free(void *pointer) { free(pointer); }

// MARK: - PNG decode

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
    int truncated;
    char *message;
    size_t capacity;
} tb_png_reader;

static void tb_png_read_error(png_structp png, png_const_charp text) {
    tb_png_reader *reader = (tb_png_reader *)png_get_error_ptr(png);
    if (reader != NULL) tb_set_message(reader->message, reader->capacity, text);
    png_longjmp(png, 1);
}

// Warnings (e.g. "iCCP: known incorrect sRGB profile") do not change pixels: keep them quiet.
static void tb_png_silent_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static void tb_png_read_from_memory(png_structp png, png_bytep destination, size_t length) {
    tb_png_reader *reader = (tb_png_reader *)png_get_io_ptr(png);
    if (length > reader->size - reader->offset) {
        reader->truncated = 1;
        char text[160];
        snprintf(text, sizeof text, "file ends after %zu bytes, before the image is complete",
                 reader->size);
        png_error(png, text);  // copied by tb_png_read_error before the jump
    }
    memcpy(destination, reader->data + reader->offset, length);
    reader->offset += length;
}

tb_status tb_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                        void *pixels, size_t capacity, tb_image_info *info,
                        char *message, size_t message_capacity) {
    if (info == NULL) return TB_ERR_ARGUMENT;
    memset(info, 0, sizeof *info);
    tb_set_message(message, message_capacity, "");
    if (data == NULL || size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        tb_set_message(message, message_capacity, "no PNG signature");
        return size < 8 ? TB_ERR_TRUNCATED : TB_ERR_CORRUPT;
    }

    tb_png_reader reader = {data, size, 0, 0, message, message_capacity};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader,
                                             tb_png_read_error, tb_png_silent_warning);
    if (png == NULL) {
        tb_set_message(message, message_capacity, "out of memory creating the PNG reader");
        return TB_ERR_NO_MEMORY;
    }
    png_infop png_info = png_create_info_struct(png);
    if (png_info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        tb_set_message(message, message_capacity, "out of memory creating the PNG reader");
        return TB_ERR_NO_MEMORY;
    }

    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_read_struct(&png, &png_info, NULL);
        return reader.truncated ? TB_ERR_TRUNCATED : TB_ERR_CORRUPT;
    }

    // Our own pixel limit below gives the better message; lift libpng's 1e6-per-side limit.
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    /* No chunk this program reads needs more than 8 MB: a text chunk declaring 2 GB is refused
       before its buffer is allocated. Text chunks (never used here) are skipped unread. */
    png_set_chunk_malloc_max(png, 8u * 1024u * 1024u);
    png_set_chunk_cache_max(png, 128);
    {
        static const png_byte ignored[] = { 't', 'E', 'X', 't', '\0', 'z', 'T', 'X', 't', '\0', 'i', 'T', 'X', 't', '\0' };
        png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, ignored, 3);
    }
    png_set_read_fn(png, &reader, tb_png_read_from_memory);
    png_read_info(png, png_info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, colour_type = 0;
    png_get_IHDR(png, png_info, &width, &height, &bit_depth, &colour_type, NULL, NULL, NULL);
    if ((uint64_t)width * (uint64_t)height > max_pixels) {
        png_destroy_read_struct(&png, &png_info, NULL);
        info->width = width;
        info->height = height;
        snprintf(message, message_capacity,
                 "header declares %u x %u pixels, more than the limit of %llu pixels",
                 (unsigned)width, (unsigned)height, (unsigned long long)max_pixels);
        return TB_ERR_TOO_LARGE;
    }

    const int has_trns = png_get_valid(png, png_info, PNG_INFO_tRNS) != 0;
    const int had_alpha = (colour_type & PNG_COLOR_MASK_ALPHA) != 0 || has_trns;
    if (colour_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (colour_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (had_alpha) png_set_strip_alpha(png);
    if (bit_depth == 16 && tb_host_is_little_endian()) png_set_swap(png);
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, png_info);

    const uint32_t channels = png_get_channels(png, png_info);
    const uint32_t out_depth = png_get_bit_depth(png, png_info);
    const size_t row_bytes = png_get_rowbytes(png, png_info);
    if ((channels != 1 && channels != 3) || (out_depth != 8 && out_depth != 16) ||
        row_bytes != (size_t)width * channels * (out_depth / 8)) {
        png_destroy_read_struct(&png, &png_info, NULL);
        snprintf(message, message_capacity,
                 "unexpected PNG layout after conversion (%u channels, %u bit)",
                 (unsigned)channels, (unsigned)out_depth);
        return TB_ERR_UNSUPPORTED;
    }
    if (height != 0 && row_bytes > SIZE_MAX / height) png_error(png, "image too large for memory");
    info->width = width;
    info->height = height;
    info->channels = channels;
    info->bit_depth = out_depth;
    info->had_alpha = (uint32_t)had_alpha;
    info->byte_count = row_bytes * height;
    if (pixels == NULL) {  // probe only
        png_destroy_read_struct(&png, &png_info, NULL);
        return TB_OK;
    }
    if (capacity < info->byte_count) {
        png_destroy_read_struct(&png, &png_info, NULL);
        snprintf(message, message_capacity, "pixel buffer of %zu bytes, %zu needed", capacity,
                 info->byte_count);
        return TB_ERR_ARGUMENT;
    }

    rows = (png_bytep *)malloc(sizeof(png_bytep) * (height ? height : 1));
    if (rows == NULL) png_error(png, "out of memory for the row table");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = (png_bytep)pixels + (size_t)y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    free(rows);
    png_destroy_read_struct(&png, &png_info, NULL);
    return TB_OK;
}

// MARK: - JPEG decode

typedef struct {
    struct jpeg_error_mgr base;  // first member: libjpeg hands us a pointer to it
    jmp_buf jump;
    char *message;
    size_t capacity;
    int truncated;
} tb_jpeg_errors;

static void tb_jpeg_error_exit(j_common_ptr cinfo) {
    tb_jpeg_errors *errors = (tb_jpeg_errors *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    tb_set_message(errors->message, errors->capacity, text);
    longjmp(errors->jump, 1);
}

// libjpeg reports corruption (and a truncated file, for which it invents an end marker and
// fills grey) only as warnings. A radiograph with invented pixels must not be shown as if
// whole, so every warning about the data ends the decode; metadata-only ones are ignored.
static void tb_jpeg_emit_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;  // trace messages
    const int code = cinfo->err->msg_code;
    cinfo->err->num_warnings++;
    if (code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM || code == JWRN_BOGUS_ICC) return;
    tb_jpeg_errors *errors = (tb_jpeg_errors *)cinfo->err;
    errors->truncated = (code == JWRN_JPEG_EOF);
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    tb_set_message(errors->message, errors->capacity, text);
    longjmp(errors->jump, 1);
}

static void tb_jpeg_silent_output(j_common_ptr cinfo) { (void)cinfo; }

tb_status tb_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                         void *pixels, size_t capacity, tb_image_info *info,
                         char *message, size_t message_capacity) {
    if (info == NULL) return TB_ERR_ARGUMENT;
    memset(info, 0, sizeof *info);
    tb_set_message(message, message_capacity, "");
    if (data == NULL || size == 0) {
        tb_set_message(message, message_capacity, "no data");
        return TB_ERR_TRUNCATED;
    }

    struct jpeg_decompress_struct cinfo;
    tb_jpeg_errors errors;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&errors, 0, sizeof errors);
    cinfo.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = tb_jpeg_error_exit;
    errors.base.emit_message = tb_jpeg_emit_message;
    errors.base.output_message = tb_jpeg_silent_output;
    errors.message = message;
    errors.capacity = message_capacity;

    if (setjmp(errors.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return errors.truncated ? TB_ERR_TRUNCATED : TB_ERR_CORRUPT;
    }

    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)size);
    (void)jpeg_read_header(&cinfo, TRUE);

    const uint32_t width = cinfo.image_width, height = cinfo.image_height;
    if ((uint64_t)width * (uint64_t)height > max_pixels) {
        jpeg_destroy_decompress(&cinfo);
        info->width = width;
        info->height = height;
        snprintf(message, message_capacity,
                 "header declares %u x %u pixels, more than the limit of %llu pixels",
                 (unsigned)width, (unsigned)height, (unsigned long long)max_pixels);
        return TB_ERR_TOO_LARGE;
    }
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr:
    case JCS_RGB: cinfo.out_color_space = JCS_RGB; break;
    default:
        jpeg_destroy_decompress(&cinfo);
        snprintf(message, message_capacity,
                 "JPEG colour space %d (CMYK/YCCK or unknown) is not supported; "
                 "save the image as greyscale or RGB", (int)cinfo.jpeg_color_space);
        return TB_ERR_UNSUPPORTED;
    }

    jpeg_calc_output_dimensions(&cinfo);
    const uint32_t channels = (uint32_t)cinfo.output_components;
    if (channels != 1 && channels != 3) ERREXIT(&cinfo, JERR_CONVERSION_NOTIMPL);
    const size_t row_bytes = (size_t)cinfo.output_width * channels;
    info->width = cinfo.output_width;
    info->height = cinfo.output_height;
    info->channels = channels;
    info->bit_depth = 8;
    info->had_alpha = 0;
    info->byte_count = row_bytes * cinfo.output_height;
    if (pixels == NULL) {  // probe only
        jpeg_destroy_decompress(&cinfo);
        return TB_OK;
    }
    if (capacity < info->byte_count) {
        jpeg_destroy_decompress(&cinfo);
        snprintf(message, message_capacity, "pixel buffer of %zu bytes, %zu needed", capacity,
                 info->byte_count);
        return TB_ERR_ARGUMENT;
    }

    (void)jpeg_start_decompress(&cinfo);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = (JSAMPROW)pixels + (size_t)cinfo.output_scanline * row_bytes;
        (void)jpeg_read_scanlines(&cinfo, &row, 1);
    }
    (void)jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return TB_OK;
}

// MARK: - PNG encode

typedef struct {
    uint8_t *bytes;
    size_t size;
    size_t capacity;
    char *message;
    size_t message_capacity;
} tb_png_writer;

static void tb_png_write_error(png_structp png, png_const_charp text) {
    tb_png_writer *writer = (tb_png_writer *)png_get_error_ptr(png);
    if (writer != NULL) tb_set_message(writer->message, writer->message_capacity, text);
    png_longjmp(png, 1);
}

static void tb_png_write_to_memory(png_structp png, png_bytep source, size_t length) {
    tb_png_writer *writer = (tb_png_writer *)png_get_io_ptr(png);
    if (length > writer->capacity - writer->size) {
        size_t capacity = writer->capacity ? writer->capacity : 4096;
        while (capacity - writer->size < length) {
            if (capacity > SIZE_MAX / 2) png_error(png, "PNG too large for memory");
            capacity *= 2;
        }
        uint8_t *grown = (uint8_t *)realloc(writer->bytes, capacity);
        if (grown == NULL) png_error(png, "out of memory while encoding PNG");
        writer->bytes = grown;
        writer->capacity = capacity;
    }
    memcpy(writer->bytes + writer->size, source, length);
    writer->size += length;
}

static void tb_png_flush_nothing(png_structp png) { (void)png; }

tb_status tb_png_encode(const void *pixels, uint32_t width, uint32_t height,
                        uint32_t channels, uint32_t bit_depth, int compression_level,
                        uint8_t **out_png, size_t *out_size,
                        char *message, size_t message_capacity) {
    tb_set_message(message, message_capacity, "");
    if (out_png == NULL || out_size == NULL) return TB_ERR_ARGUMENT;
    *out_png = NULL;
    *out_size = 0;
    if (pixels == NULL || width == 0 || height == 0 || (channels != 1 && channels != 3) ||
        (bit_depth != 8 && bit_depth != 16)) {
        snprintf(message, message_capacity,
                 "cannot encode %u x %u, %u channels, %u bit as PNG",
                 (unsigned)width, (unsigned)height, (unsigned)channels, (unsigned)bit_depth);
        return TB_ERR_ARGUMENT;
    }

    tb_png_writer writer = {NULL, 0, 0, message, message_capacity};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &writer,
                                              tb_png_write_error, tb_png_silent_warning);
    if (png == NULL) return TB_ERR_NO_MEMORY;
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        return TB_ERR_NO_MEMORY;
    }
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(writer.bytes);
        png_destroy_write_struct(&png, &info);
        return TB_ERR_CORRUPT;
    }

    png_set_write_fn(png, &writer, tb_png_write_to_memory, tb_png_flush_nothing);
    if (compression_level >= 0 && compression_level <= 9)
        png_set_compression_level(png, compression_level);
    png_set_IHDR(png, info, width, height, (int)bit_depth,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (bit_depth == 16 && tb_host_is_little_endian()) png_set_swap(png);

    const size_t row_bytes = (size_t)width * channels * (bit_depth / 8);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (rows == NULL) png_error(png, "out of memory while encoding PNG");
    for (uint32_t y = 0; y < height; y++)
        rows[y] = (png_bytep)((const uint8_t *)pixels + (size_t)y * row_bytes);
    png_write_image(png, rows);
    png_write_end(png, NULL);

    free(rows);
    png_destroy_write_struct(&png, &info);
    *out_png = writer.bytes;
    *out_size = writer.size;
    return TB_OK;
}
