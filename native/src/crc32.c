/* CRC-32/ISO-HDLC (zlib, gzip, PNG; check 0xCBF43926) and CRC-32C (Castagnoli, iSCSI, ext4;
 * check 0xE3069283). Both are reflected (LSB first) with init and final xor 0xFFFFFFFF, and both
 * chain like zlib.crc32(data, crc): pass 0 for a fresh CRC, or a previous result to go on.
 *
 * Internally every path works on the raw shift register r = ~crc, so the paths can hand a
 * buffer's pieces to one another and only the public entry points invert.
 *
 * CRC-32: slice-by-16 (portable) and carry-less multiply folding (PCLMULQDQ) for long buffers.
 * CRC-32C: slice-by-8 (portable) and the SSE4.2 CRC32 instruction, three streams interleaved.
 * The x86 paths are compiled with __attribute__((target)) and picked once at load time with
 * __builtin_cpu_supports; never -march=native: the build machine may not be the run machine.
 * Tables and constants are built by a load-time constructor, before any caller can run. */
#include "gridfree.h"

#include <string.h>

#define POLY32 0xEDB88320u  /* 0x04C11DB7 reflected */
#define POLY32C 0x82F63B78u /* 0x1EDC6F41 reflected */

/* T[k][b]: the register contribution of byte b followed by k zero octets. */
static uint32_t T32[16][256];
static uint32_t T32C[8][256];

static void build_slices(uint32_t (*t)[256], int slices, uint32_t poly)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int b = 0; b < 8; b++)
            c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        t[0][i] = c;
    }
    for (int k = 1; k < slices; k++)
        for (unsigned i = 0; i < 256; i++)
            t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
}

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- CRC-32, portable ----------------------------------------------------------------- */

static uint32_t crc32_slice16_raw(uint32_t r, const uint8_t *p, size_t n)
{
    while (n >= 16) {
        uint32_t a = r ^ le32(p);
        r = T32[15][a & 0xFF] ^ T32[14][(a >> 8) & 0xFF] ^ T32[13][(a >> 16) & 0xFF] ^ T32[12][a >> 24] ^
            T32[11][p[4]] ^ T32[10][p[5]] ^ T32[9][p[6]] ^ T32[8][p[7]] ^ T32[7][p[8]] ^ T32[6][p[9]] ^
            T32[5][p[10]] ^ T32[4][p[11]] ^ T32[3][p[12]] ^ T32[2][p[13]] ^ T32[1][p[14]] ^ T32[0][p[15]];
        p += 16;
        n -= 16;
    }
    if (n >= 8) {
        uint32_t a = r ^ le32(p);
        r = T32[7][a & 0xFF] ^ T32[6][(a >> 8) & 0xFF] ^ T32[5][(a >> 16) & 0xFF] ^ T32[4][a >> 24] ^
            T32[3][p[4]] ^ T32[2][p[5]] ^ T32[1][p[6]] ^ T32[0][p[7]];
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        uint32_t a = r ^ le32(p);
        r = T32[3][a & 0xFF] ^ T32[2][(a >> 8) & 0xFF] ^ T32[1][(a >> 16) & 0xFF] ^ T32[0][a >> 24];
        p += 4;
        n -= 4;
    }
    while (n--)
        r = (r >> 8) ^ T32[0][(r ^ *p++) & 0xFF];
    return r;
}

uint32_t gf_crc32_slice16(uint32_t crc, const uint8_t *p, size_t n)
{
    return ~crc32_slice16_raw(~crc, p, n);
}

/* ---- CRC-32C, portable ---------------------------------------------------------------- */

static uint32_t crc32c_slice8_raw(uint32_t r, const uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint32_t a = r ^ le32(p);
        r = T32C[7][a & 0xFF] ^ T32C[6][(a >> 8) & 0xFF] ^ T32C[5][(a >> 16) & 0xFF] ^ T32C[4][a >> 24] ^
            T32C[3][p[4]] ^ T32C[2][p[5]] ^ T32C[1][p[6]] ^ T32C[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--)
        r = (r >> 8) ^ T32C[0][(r ^ *p++) & 0xFF];
    return r;
}

uint32_t gf_crc32c_portable(uint32_t crc, const uint8_t *p, size_t n)
{
    return ~crc32c_slice8_raw(~crc, p, n);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* ---- CRC-32 by carry-less multiply folding --------------------------------------------
 * Intel, "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ" (2009), reflected form.
 * A 16-octet lane loaded little-endian holds a 128-bit stretch of the message with its first
 * bit (the highest power of x) in bit 0. Moving an accumulator A = H*x^64 + L forward by D bits
 * is H*(x^(D+64) mod P) + L*(x^D mod P); in the reflected lane, multiplying by the constant
 * bitrev32(x^e mod P) << 1 yields the product times x^32, so the constants are x^(D+32) mod P
 * for the low half (H) and x^(D-32) mod P for the high half (L): the familiar k1..k4. Four
 * accumulators 512 bits apart hide the multiplier's latency. The final 128-bit accumulator is
 * then run through the table path as 16 octets of message, which reduces it exactly, so no
 * Barrett step is needed. The constants are computed at load time from the polynomial. */
static uint64_t K128_LO, K128_HI, K512_LO, K512_HI;

static uint64_t fold_constant(unsigned e)
{
    uint64_t r = 1; /* x^e mod P, MSB-first, P = x^32 + 0x04C11DB7 */
    for (unsigned i = 0; i < e; i++) {
        r <<= 1;
        if (r & 0x100000000ull)
            r ^= 0x104C11DB7ull;
    }
    uint64_t out = 0; /* bit i of r goes to bit 32 - i: bit-reversed over 32 bits, then << 1 */
    for (unsigned i = 0; i < 32; i++)
        if (r >> i & 1)
            out |= 1ull << (32 - i);
    return out;
}

static inline __attribute__((target("pclmul"))) __m128i fold(__m128i acc, __m128i k)
{
    return _mm_xor_si128(_mm_clmulepi64_si128(acc, k, 0x00), _mm_clmulepi64_si128(acc, k, 0x11));
}

static inline __attribute__((target("pclmul"))) __m128i load(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

static __attribute__((target("pclmul"))) uint32_t crc32_clmul_raw(uint32_t r, const uint8_t *p, size_t n)
{
    if (n < 64)
        return crc32_slice16_raw(r, p, n);
    const __m128i k128 = _mm_set_epi64x((long long)K128_HI, (long long)K128_LO);
    const __m128i k512 = _mm_set_epi64x((long long)K512_HI, (long long)K512_LO);
    /* The register acts as an xor into the message's first 32 bits. */
    __m128i a0 = _mm_xor_si128(load(p), _mm_cvtsi32_si128((int)r));
    __m128i a1 = load(p + 16), a2 = load(p + 32), a3 = load(p + 48);
    p += 64;
    n -= 64;
    while (n >= 64) {
        a0 = _mm_xor_si128(fold(a0, k512), load(p));
        a1 = _mm_xor_si128(fold(a1, k512), load(p + 16));
        a2 = _mm_xor_si128(fold(a2, k512), load(p + 32));
        a3 = _mm_xor_si128(fold(a3, k512), load(p + 48));
        p += 64;
        n -= 64;
    }
    __m128i acc = _mm_xor_si128(fold(a0, k128), a1);
    acc = _mm_xor_si128(fold(acc, k128), a2);
    acc = _mm_xor_si128(fold(acc, k128), a3);
    while (n >= 16) {
        acc = _mm_xor_si128(fold(acc, k128), load(p));
        p += 16;
        n -= 16;
    }
    uint8_t rest[16];
    _mm_storeu_si128((__m128i *)rest, acc);
    return crc32_slice16_raw(crc32_slice16_raw(0, rest, 16), p, n);
}

uint32_t gf_crc32_clmul(uint32_t crc, const uint8_t *p, size_t n)
{
    return ~crc32_clmul_raw(~crc, p, n);
}

int gf_crc32_have_clmul(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul");
}

/* ---- CRC-32C with the SSE4.2 CRC32 instruction ----------------------------------------
 * The instruction has a latency of 3 cycles and a throughput of 1, so one dependent chain runs
 * at a third of the speed the unit can give. Long buffers are therefore cut into runs of three
 * STREAM-octet blocks, each block's CRC computed in its own chain from 0, and the three joined:
 * r(A|B|C) = shift(2*STREAM, r(A)) ^ shift(STREAM, r(B)) ^ r(C), where shift(L, r) is the
 * register after L zero octets from r, a linear map on 32 bits, so four 256-entry tables give it. */
#define STREAM 512

static uint32_t SHIFT1[4][256], SHIFT2[4][256]; /* shift by STREAM and by 2 * STREAM octets */

static void build_shift(uint32_t (*t)[256], size_t octets)
{
    uint32_t basis[32];
    for (int i = 0; i < 32; i++) {
        uint32_t r = 1u << i;
        for (size_t k = 0; k < octets; k++)
            r = (r >> 8) ^ T32C[0][r & 0xFF];
        basis[i] = r;
    }
    for (int k = 0; k < 4; k++)
        for (unsigned b = 0; b < 256; b++) {
            uint32_t r = 0;
            for (int j = 0; j < 8; j++)
                if (b >> j & 1)
                    r ^= basis[8 * k + j];
            t[k][b] = r;
        }
}

static inline uint32_t shift(const uint32_t (*t)[256], uint32_t r)
{
    return t[0][r & 0xFF] ^ t[1][(r >> 8) & 0xFF] ^ t[2][(r >> 16) & 0xFF] ^ t[3][r >> 24];
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* x86 is little-endian, as the instruction expects */
    return v;
}

static __attribute__((target("sse4.2"))) uint32_t crc32c_sse42_raw(uint32_t r, const uint8_t *p, size_t n)
{
    while (n >= 3 * STREAM) {
        uint64_t a = r, b = 0, c = 0;
        for (size_t i = 0; i < STREAM; i += 8) {
            a = _mm_crc32_u64(a, load64(p + i));
            b = _mm_crc32_u64(b, load64(p + STREAM + i));
            c = _mm_crc32_u64(c, load64(p + 2 * STREAM + i));
        }
        r = shift(SHIFT2, (uint32_t)a) ^ shift(SHIFT1, (uint32_t)b) ^ (uint32_t)c;
        p += 3 * STREAM;
        n -= 3 * STREAM;
    }
    uint64_t w = r;
    while (n >= 8) {
        w = _mm_crc32_u64(w, load64(p));
        p += 8;
        n -= 8;
    }
    r = (uint32_t)w;
    while (n--)
        r = _mm_crc32_u8(r, *p++);
    return r;
}

uint32_t gf_crc32c_sse42(uint32_t crc, const uint8_t *p, size_t n)
{
    return ~crc32c_sse42_raw(~crc, p, n);
}

int gf_crc32c_have_sse42(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}

static void build_x86(void)
{
    K128_LO = fold_constant(128 + 32);
    K128_HI = fold_constant(128 - 32);
    K512_LO = fold_constant(512 + 32);
    K512_HI = fold_constant(512 - 32);
    build_shift(SHIFT1, STREAM);
    build_shift(SHIFT2, 2 * STREAM);
}
#else
static uint32_t crc32_clmul_raw(uint32_t r, const uint8_t *p, size_t n)
{
    return crc32_slice16_raw(r, p, n);
}
static uint32_t crc32c_sse42_raw(uint32_t r, const uint8_t *p, size_t n)
{
    return crc32c_slice8_raw(r, p, n);
}
uint32_t gf_crc32_clmul(uint32_t crc, const uint8_t *p, size_t n) { return gf_crc32_slice16(crc, p, n); }
uint32_t gf_crc32c_sse42(uint32_t crc, const uint8_t *p, size_t n) { return gf_crc32c_portable(crc, p, n); }
int gf_crc32_have_clmul(void) { return 0; }
int gf_crc32c_have_sse42(void) { return 0; }
static void build_x86(void) {}
#endif

/* ---- dispatch --------------------------------------------------------------------------- */

typedef uint32_t (*raw_fn)(uint32_t, const uint8_t *, size_t);
static raw_fn crc32_impl = crc32_slice16_raw, crc32c_impl = crc32c_slice8_raw;
static const char *crc32_name = "slice16", *crc32c_name = "slice8";

/* One constructor, so the order is plain: tables, then what depends on them, then the choice. */
__attribute__((constructor)) static void crc32_init(void)
{
    build_slices(T32, 16, POLY32);
    build_slices(T32C, 8, POLY32C);
    build_x86();
    if (gf_crc32_have_clmul()) {
        crc32_impl = crc32_clmul_raw;
        crc32_name = "clmul";
    }
    if (gf_crc32c_have_sse42()) {
        crc32c_impl = crc32c_sse42_raw;
        crc32c_name = "sse42";
    }
}

uint32_t gf_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    /* Folding only pays off once its setup is amortised; record headers stay on the tables. */
    return ~(n < 128 ? crc32_slice16_raw(~crc, p, n) : crc32_impl(~crc, p, n));
}

uint32_t gf_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
    return ~crc32c_impl(~crc, p, n);
}

/* The same CRCs for callers holding a Python bytes object (see gf_crc16_chars). */
uint32_t gf_crc32_chars(uint32_t crc, const char *p, size_t n)
{
    return gf_crc32(crc, (const uint8_t *)p, n);
}

uint32_t gf_crc32c_chars(uint32_t crc, const char *p, size_t n)
{
    return gf_crc32c(crc, (const uint8_t *)p, n);
}

const char *gf_crc32_impl_name(void) { return crc32_name; }
const char *gf_crc32c_impl_name(void) { return crc32c_name; }
