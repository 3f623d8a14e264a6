/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, MSB first, no xorout), check 0x29B1.
 *
 * Three paths, picked once at load time: byte-at-a-time (the reference the others are tested
 * against), slice-by-16 (portable, ~4-5 GB/s), and carry-less multiply folding (PCLMULQDQ) for
 * long buffers on x86-64. Never -march=native: the build machine may not be the run machine. */
#include "gridfree.h"


static uint16_t T[16][256];

__attribute__((constructor)) static void build_tables(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int b = 0; b < 8; b++)
            c = (c & 0x8000) ? (uint16_t)((c << 1) ^ 0x1021) : (uint16_t)(c << 1);
        T[0][i] = c;
    }
    /* T[k][b]: CRC contribution of byte b followed by k zero octets. */
    for (int k = 1; k < 16; k++)
        for (unsigned i = 0; i < 256; i++)
            T[k][i] = (uint16_t)((T[k - 1][i] << 8) ^ T[0][T[k - 1][i] >> 8]);
}

uint16_t gf_crc16_bytewise(const uint8_t *p, size_t len, uint16_t crc)
{
    while (len--)
        crc = (uint16_t)((crc << 8) ^ T[0][((crc >> 8) ^ *p++) & 0xFF]);
    return crc;
}

uint16_t gf_crc16_slice16(const uint8_t *p, size_t len, uint16_t crc)
{
    while (len >= 16) {
        crc = T[15][p[0] ^ (crc >> 8)] ^ T[14][p[1] ^ (crc & 0xFF)] ^ T[13][p[2]] ^ T[12][p[3]] ^
              T[11][p[4]] ^ T[10][p[5]] ^ T[9][p[6]] ^ T[8][p[7]] ^ T[7][p[8]] ^ T[6][p[9]] ^
              T[5][p[10]] ^ T[4][p[11]] ^ T[3][p[12]] ^ T[2][p[13]] ^ T[1][p[14]] ^ T[0][p[15]];
        p += 16;
        len -= 16;
    }
    if (len >= 8) {
        crc = T[7][p[0] ^ (crc >> 8)] ^ T[6][p[1] ^ (crc & 0xFF)] ^ T[5][p[2]] ^ T[4][p[3]] ^
              T[3][p[4]] ^ T[2][p[5]] ^ T[1][p[6]] ^ T[0][p[7]];
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        crc = T[3][p[0] ^ (crc >> 8)] ^ T[2][p[1] ^ (crc & 0xFF)] ^ T[1][p[2]] ^ T[0][p[3]];
        p += 4;
        len -= 4;
    }
    return gf_crc16_bytewise(p, len, crc);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Carry-less multiply folding (Intel, "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ", 2009), MSB-first. A 128-bit accumulator A = H*x^64 + L stays congruent, modulo
 * P(x) = x^16 + x^12 + x^5 + 1, to the message folded so far: moving it 128 bits on is
 * H*(x^192 mod P) + L*(x^128 mod P), and four accumulators 512 bits apart hide the multiplier's
 * latency. The 16-octet remainder then goes through the table path, which finishes the CRC
 * exactly. The constants are x^k mod P, computed at load time so they can be checked. */
static uint64_t K128_HI, K128_LO, K512_HI, K512_LO;

static uint64_t xpow_mod(unsigned k)
{
    uint64_t r = 1;
    for (unsigned i = 0; i < k; i++) {
        r <<= 1;
        if (r & 0x10000)
            r ^= 0x11021;
    }
    return r;
}

__attribute__((constructor)) static void build_clmul_constants(void)
{
    K128_HI = xpow_mod(192);
    K128_LO = xpow_mod(128);
    K512_HI = xpow_mod(576);
    K512_LO = xpow_mod(512);
}

static inline __attribute__((target("pclmul,sse4.1"))) __m128i load_be(const uint8_t *p)
{
    const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), rev);
}

static inline __attribute__((target("pclmul,sse4.1"))) __m128i fold(__m128i acc, __m128i k)
{
    return _mm_xor_si128(_mm_clmulepi64_si128(acc, k, 0x11), _mm_clmulepi64_si128(acc, k, 0x00));
}

__attribute__((target("pclmul,sse4.1"))) uint16_t gf_crc16_clmul(const uint8_t *p, size_t len,
                                                                 uint16_t crc)
{
    if (len < 128)
        return gf_crc16_slice16(p, len, crc);
    const __m128i k128 = _mm_set_epi64x((long long)K128_HI, (long long)K128_LO);
    const __m128i k512 = _mm_set_epi64x((long long)K512_HI, (long long)K512_LO);
    /* The initial CRC acts as an xor into the message's first 16 bits. */
    __m128i a0 = _mm_xor_si128(load_be(p), _mm_set_epi64x((long long)((uint64_t)crc << 48), 0));
    __m128i a1 = load_be(p + 16), a2 = load_be(p + 32), a3 = load_be(p + 48);
    p += 64;
    len -= 64;
    while (len >= 64) {
        a0 = _mm_xor_si128(fold(a0, k512), load_be(p));
        a1 = _mm_xor_si128(fold(a1, k512), load_be(p + 16));
        a2 = _mm_xor_si128(fold(a2, k512), load_be(p + 32));
        a3 = _mm_xor_si128(fold(a3, k512), load_be(p + 48));
        p += 64;
        len -= 64;
    }
    __m128i acc = _mm_xor_si128(fold(a0, k128), a1);
    acc = _mm_xor_si128(fold(acc, k128), a2);
    acc = _mm_xor_si128(fold(acc, k128), a3);
    while (len >= 16) {
        acc = _mm_xor_si128(fold(acc, k128), load_be(p));
        p += 16;
        len -= 16;
    }
    const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    uint8_t rest[16];
    _mm_storeu_si128((__m128i *)rest, _mm_shuffle_epi8(acc, rev));
    crc = gf_crc16_slice16(rest, 16, 0);
    return gf_crc16_slice16(p, len, crc);
}

int gf_crc16_have_clmul(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}
#else
uint16_t gf_crc16_clmul(const uint8_t *p, size_t len, uint16_t crc)
{
    return gf_crc16_slice16(p, len, crc);
}
int gf_crc16_have_clmul(void) { return 0; }
#endif

typedef uint16_t (*crc_fn)(const uint8_t *, size_t, uint16_t);
static crc_fn crc_impl = gf_crc16_slice16;
static const char *crc_impl_name = "slice16";

__attribute__((constructor(200))) static void pick_impl(void)
{
    if (gf_crc16_have_clmul()) {
        crc_impl = gf_crc16_clmul;
        crc_impl_name = "clmul";
    }
}

uint16_t gf_crc16(const uint8_t *data, size_t len, uint16_t init)
{
    /* Short packets go straight to slice-by-16; folding only pays off on long buffers. */
    return len < 256 ? gf_crc16_slice16(data, len, init) : crc_impl(data, len, init);
}

const char *gf_crc16_impl_name(void) { return crc_impl_name; }

/* Same CRC for callers holding a Python bytes object: cffi passes bytes to a char pointer
 * without building a buffer view, which is most of the cost for a 100-octet packet. */
uint16_t gf_crc16_chars(const char *data, size_t len, uint16_t init)
{
    return gf_crc16((const uint8_t *)data, len, init);
}
