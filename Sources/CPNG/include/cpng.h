// A small wrapper around libpng. libpng reports errors with longjmp, which
// Swift cannot catch, so every call here sets its own setjmp point and turns
// the jump into a return code plus a message.
#ifndef VIGIE_CPNG_H
#define VIGIE_CPNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Encodes packed 8-bit RGB rows (`stride` bytes apart) as a PNG in memory,
/// with the given zlib level (0...9) and row filters off.
/// On success returns 0 and sets `*out`/`*out_size` (free with cpng_free).
/// On failure returns -1 and writes a NUL-terminated message into `err`.
int cpng_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, size_t stride,
                    int level, uint8_t **out, size_t *out_size,
                    char *err, size_t err_len);

/// Decodes a PNG held in memory to packed 8-bit RGB (alpha dropped, gray and
/// palette expanded, 16-bit stripped). On success returns 0 and sets
/// `*out_rgb` (width*height*3 bytes, free with cpng_free), `*width`, `*height`.
/// On failure returns -1 and writes a NUL-terminated message into `err`.
int cpng_decode_rgb(const uint8_t *png, size_t size,
                    uint8_t **out_rgb, uint32_t *width, uint32_t *height,
                    char *err, size_t err_len);

/// Frees a buffer returned by this library.
void cpng_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
