/* Gathering rows and columns for bulk decoding: packets scattered through a segment file become
 * one row each, and a row of big-endian fields becomes one native-endian array per field. */
#include <string.h>

#include "gridfree.h"

int gf_gather_rows(const uint8_t *src, size_t src_len, const int64_t *offsets, size_t n, size_t width,
                   uint8_t *out)
{
    if ((!src && src_len) || (!offsets && n) || (!out && n > 0 && width > 0))
        return GF_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int64_t at = offsets[i];
        if (at < 0 || (size_t)at > src_len || width > src_len - (size_t)at)
            return GF_EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * width, src + offsets[i], width);
    return GF_OK;
}

static inline void put_field(uint8_t *dst, const uint8_t *f, uint32_t size, int swap)
{
    if (swap && size == 4) {
        uint32_t x;
        memcpy(&x, f, 4);
        x = __builtin_bswap32(x);
        memcpy(dst, &x, 4);
    } else if (swap && size == 8) {
        uint64_t x;
        memcpy(&x, f, 8);
        x = __builtin_bswap64(x);
        memcpy(dst, &x, 8);
    } else if (swap && size == 2) {
        uint16_t x;
        memcpy(&x, f, 2);
        x = __builtin_bswap16(x);
        memcpy(dst, &x, 2);
    } else if (swap) {
        for (uint32_t k = 0; k < size; k++)
            dst[k] = f[size - 1 - k];
    } else {
        memcpy(dst, f, size);
    }
}

static int check_columns(size_t row_len, size_t ncols, const uint32_t *col_offset, const uint32_t *col_size,
                         const uint8_t *col_swap, uint8_t *const *out)
{
    if (ncols && (!col_offset || !col_size || !col_swap || !out))
        return GF_EINVAL;
    for (size_t c = 0; c < ncols; c++)
        if (!out[c] || col_size[c] == 0 || col_offset[c] > row_len || col_size[c] > row_len - col_offset[c]
            || (col_swap[c] && col_size[c] > 8))
            return GF_EINVAL;
    return GF_OK;
}

int gf_unpack_columns(const uint8_t *rows, size_t n, size_t row_len, size_t ncols, const uint32_t *col_offset,
                      const uint32_t *col_size, const uint8_t *col_swap, uint8_t *const *out)
{
    if ((!rows && n) || check_columns(row_len, ncols, col_offset, col_size, col_swap, out) != GF_OK)
        return GF_EINVAL;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *row = rows + i * row_len;
        for (size_t c = 0; c < ncols; c++)
            put_field(out[c] + i * col_size[c], row + col_offset[c], col_size[c], col_swap[c]);
    }
    return GF_OK;
}

int gf_unpack_at(const uint8_t *src, size_t src_len, const int64_t *offsets, const int64_t *dest_rows, size_t n,
                 size_t row_len, size_t ncols, const uint32_t *col_offset, const uint32_t *col_size,
                 const uint8_t *col_swap, uint8_t *const *out, size_t out_rows)
{
    if ((!src && src_len) || ((!offsets || !dest_rows) && n)
        || check_columns(row_len, ncols, col_offset, col_size, col_swap, out) != GF_OK)
        return GF_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int64_t at = offsets[i];
        if (at < 0 || (size_t)at > src_len || row_len > src_len - (size_t)at || dest_rows[i] < 0
            || (size_t)dest_rows[i] >= out_rows)
            return GF_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *row = src + offsets[i];
        size_t r = (size_t)dest_rows[i];
        for (size_t c = 0; c < ncols; c++)
            put_field(out[c] + r * col_size[c], row + col_offset[c], col_size[c], col_swap[c]);
    }
    return GF_OK;
}
