#include "cpng.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Everything a callback or the error path touches lives here, reached through
// a pointer, so nothing depends on locals surviving a longjmp.
typedef struct {
    char *err;
    size_t err_len;
    // encode: growing output buffer
    uint8_t *out;
    size_t out_size;
    size_t out_cap;
    // decode: input cursor
    const uint8_t *in;
    size_t in_size;
    size_t in_pos;
    // decode: output and row pointers, freed on error
    uint8_t *pixels;
    png_bytep *rows;
} cpng_ctx;

static void set_err(cpng_ctx *ctx, const char *msg) {
    if (ctx->err && ctx->err_len > 0) {
        snprintf(ctx->err, ctx->err_len, "%s", msg ? msg : "unknown libpng error");
    }
}

static void on_error(png_structp png, png_const_charp msg) {
    cpng_ctx *ctx = (cpng_ctx *)png_get_error_ptr(png);
    set_err(ctx, msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void write_data(png_structp png, png_bytep data, png_size_t len) {
    cpng_ctx *ctx = (cpng_ctx *)png_get_io_ptr(png);
    if (ctx->out_size + len > ctx->out_cap) {
        size_t cap = ctx->out_cap ? ctx->out_cap : 65536;
        while (cap < ctx->out_size + len) cap *= 2;
        uint8_t *grown = realloc(ctx->out, cap);
        if (!grown) png_error(png, "out of memory");
        ctx->out = grown;
        ctx->out_cap = cap;
    }
    memcpy(ctx->out + ctx->out_size, data, len);
    ctx->out_size += len;
}

static void flush_data(png_structp png) { (void)png; }

static void read_data(png_structp png, png_bytep data, png_size_t len) {
    cpng_ctx *ctx = (cpng_ctx *)png_get_io_ptr(png);
    if (len > ctx->in_size - ctx->in_pos) png_error(png, "truncated PNG data");
    memcpy(data, ctx->in + ctx->in_pos, len);
    ctx->in_pos += len;
}

int cpng_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, size_t stride,
                    int level, uint8_t **out, size_t *out_size,
                    char *err, size_t err_len) {
    cpng_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.err = err;
    ctx.err_len = err_len;
    if (width == 0 || height == 0) {
        set_err(&ctx, "empty image");
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    if (!png) {
        set_err(&ctx, "png_create_write_struct failed");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        set_err(&ctx, "png_create_info_struct failed");
        return -1;
    }
    png_bytep *rows = NULL;
    cpng_ctx *volatile pctx = &ctx;
    png_bytep *volatile *prows = &rows;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(*prows);
        free(pctx->out);
        return -1;
    }
    png_set_write_fn(png, &ctx, write_data, flush_data);
    png_set_compression_level(png, level < 0 ? 0 : (level > 9 ? 9 : level));
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_set_compression_buffer_size(png, 1 << 17);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_BASE, PNG_FILTER_TYPE_BASE);
    rows = malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory");
    for (uint32_t y = 0; y < height; y++) rows[y] = (png_bytep)(rgb + (size_t)y * stride);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    *out = ctx.out;
    *out_size = ctx.out_size;
    return 0;
}

int cpng_decode_rgb(const uint8_t *data, size_t size,
                    uint8_t **out_rgb, uint32_t *width, uint32_t *height,
                    char *err, size_t err_len) {
    cpng_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.err = err;
    ctx.err_len = err_len;
    ctx.in = data;
    ctx.in_size = size;
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        set_err(&ctx, "not a PNG file (bad signature)");
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    if (!png) {
        set_err(&ctx, "png_create_read_struct failed");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        set_err(&ctx, "png_create_info_struct failed");
        return -1;
    }
    cpng_ctx *volatile pctx = &ctx;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pctx->rows);
        free(pctx->pixels);
        return -1;
    }
    png_set_read_fn(png, &ctx, read_data);
    // Refuse absurd dimensions before allocating (64 Mpixel).
    png_set_user_limits(png, 16384, 16384);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info);
    png_uint_32 h = png_get_image_height(png, info);
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    if (depth == 16) png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) png_error(png, "unexpected row layout");
    ctx.pixels = malloc((size_t)w * h * 3);
    ctx.rows = malloc(sizeof(png_bytep) * h);
    if (!ctx.pixels || !ctx.rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) ctx.rows[y] = ctx.pixels + (size_t)y * w * 3;
    png_read_image(png, ctx.rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(ctx.rows);
    *out_rgb = ctx.pixels;
    *width = w;
    *height = h;
    return 0;
}

void cpng_free(void *p) { free(p); }
