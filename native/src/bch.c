/* BCH(63,56) code blocks of CCSDS 231.0-B-4 §3.3 (TC synchronization and channel coding).
 *
 * Generator g(x) = x^7 + x^6 + x^2 + 1. Each 8-octet code block is 56 information bits, the 7
 * parity bits *complemented* (so an all-zero block is not a codeword), and a filler bit 0. The
 * code has distance 4: one error per block is corrected, two are detected. The CLTU tail
 * sequence C5C5C5C5C5C5C579 is chosen to be uncorrectable, which is how a receiver finds the
 * end of a CLTU. */
#include "gridfree.h"

static int8_t SYNDROME_POS[128]; /* syndrome -> bit position 0..62 of a single error, or -1 */

static uint8_t clock_bits(uint8_t reg, uint8_t octet)
{
    for (int b = 7; b >= 0; b--) {
        int fb = ((reg >> 6) ^ (octet >> b)) & 1;
        reg = (uint8_t)((reg << 1) & 0x7F);
        if (fb)
            reg ^= 0x45; /* x^6 + x^2 + 1: g(x) without its x^7 term */
    }
    return reg;
}

/* Bit-serial on purpose: 7 octets per block is nothing next to a radio's bit rate, and the
 * plain shift register is the form the standard draws. */
static uint8_t parity_of(const uint8_t *d)
{
    uint8_t reg = 0;
    for (int i = 0; i < 7; i++)
        reg = clock_bits(reg, d[i]);
    return reg;
}

__attribute__((constructor)) static void build_bch_tables(void)
{
    for (int s = 0; s < 128; s++)
        SYNDROME_POS[s] = -1;
    /* Flip each of the 63 code bits of the zero codeword and record the resulting syndrome. */
    for (int pos = 0; pos < 63; pos++) {
        uint8_t info[7] = {0};
        uint8_t par = 0;
        if (pos < 56)
            info[pos / 8] = (uint8_t)(0x80 >> (pos % 8));
        else
            par = (uint8_t)(0x40 >> (pos - 56));
        uint8_t syn = (uint8_t)(parity_of(info) ^ par);
        SYNDROME_POS[syn] = (int8_t)pos;
    }
}

int gf_bch_encode(const uint8_t *data, size_t len, uint8_t *out, size_t out_len)
{
    if (len % 7 || out_len < len / 7 * 8)
        return GF_EINVAL;
    for (size_t b = 0; b < len / 7; b++) {
        const uint8_t *d = data + 7 * b;
        uint8_t *o = out + 8 * b;
        for (int i = 0; i < 7; i++)
            o[i] = d[i];
        o[7] = (uint8_t)(((~parity_of(d)) & 0x7F) << 1);
    }
    return GF_OK;
}

int64_t gf_bch_decode(const uint8_t *blocks, size_t len, uint8_t *out, size_t out_len,
                      size_t *corrected)
{
    size_t n = len / 8;
    if (out_len < n * 7 || !corrected)
        return GF_EINVAL;
    *corrected = 0;
    for (size_t b = 0; b < n; b++) {
        const uint8_t *blk = blocks + 8 * b;
        uint8_t info[7];
        for (int i = 0; i < 7; i++)
            info[i] = blk[i];
        uint8_t received = (uint8_t)((~blk[7] >> 1) & 0x7F);
        uint8_t syn = (uint8_t)(parity_of(info) ^ received);
        if (syn) {
            int pos = SYNDROME_POS[syn];
            if (pos < 0)
                return (int64_t)b; /* uncorrectable: the tail sequence, or a damaged block */
            if (pos < 56)
                info[pos / 8] ^= (uint8_t)(0x80 >> (pos % 8));
            (*corrected)++;
        }
        for (int i = 0; i < 7; i++)
            out[7 * b + i] = info[i];
    }
    return (int64_t)n;
}
