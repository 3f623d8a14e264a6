/* SECDED Hamming(72,64) EDAC for data held in RAM for hours (model weights, resident buffers).
 *
 * The code is the textbook extended Hamming code, shortened to 64 data bits. Codeword positions
 * 1..71 hold the seven Hamming check bits at the powers of two (1, 2, 4, ..., 64) and data bits
 * 0..63 (of the uint64_t value, bit 0 least significant) at the other positions in increasing
 * order (3, 5, 6, 7, 9, ...); position 0 is the overall parity bit. Check byte of a word:
 *   bit i (i = 0..6)  the Hamming bit at position 2^i: parity of the data bits whose position has
 *                     bit i set, so that the positions of all set bits among 1..71 XOR to zero;
 *   bit 7             overall parity: all 72 bits together have even parity.
 * Distance 4: one flipped bit anywhere in the 72 is corrected, two are detected.
 *
 * The check byte is linear in the data, so it is the XOR of per-chunk contributions. Scrubbing
 * computes x = check(data) ^ stored check:
 *   x == 0                 the word is clean (the fast path; words are checked a block at a time);
 *   parity(x) == 1         one bit flipped, at position x & 0x7F (0: the overall parity bit) --
 *                          unless that position lies past 71, which only three or more errors
 *                          can produce: uncorrectable;
 *   parity(x) == 0, x != 0 two bits flipped: uncorrectable, the word is left as it is.
 * (parity(x) is the parity of all 72 received bits, because the overall bit makes every
 * codeword's check byte carry the parity of its data.) FIX[x] holds the decision per x.
 *
 * Two paths, picked once at load time (never -march=native: the build machine may not be the
 * run machine), both correcting through the same scalar repair():
 *   table  portable C99: six lookups per word in tables of 2048 entries, one per 11-bit chunk
 *          (12 KiB, in L1; measured a quarter faster than eight 256-entry byte tables);
 *   gfni   AVX-512 VBMI + GFNI, eight words at a time: one byte permutation gathers byte k of
 *          the eight words into 64-bit lane k, one GF2P8AFFINEQB multiplies every byte of lane k
 *          by the 8x8 bit matrix of byte k's contribution, and XOR-folding the eight lanes
 *          leaves the eight check bytes in word order. Several times the table path's speed,
 *          so a scrub runs at the speed memory streams. */
#include "gridfree.h"

#include <string.h>

enum { FIX_UNCORRECTABLE = -1, FIX_CHECK_BIT = 64 }; /* FIX[x]: 0..63 data bit, 64..71 check bit */

static uint8_t BIT_CHECK[64]; /* check byte of the word whose only set bit is data bit j */
static uint8_t ENC[6][2048];  /* ENC[k][v]: check byte of the word (uint64_t)v << 11k */
static int8_t FIX[256];

static void build_tables(void)
{
    uint8_t pos[64]; /* codeword position of each data bit */
    for (unsigned p = 3, j = 0; j < 64; p++)
        if (p & (p - 1))
            pos[j++] = (uint8_t)p;

    for (int j = 0; j < 64; j++) {
        unsigned ones = 1; /* the data bit itself, then the Hamming bits it sets */
        for (int i = 0; i < 7; i++)
            ones += pos[j] >> i & 1;
        BIT_CHECK[j] = (uint8_t)(pos[j] | (ones & 1) << 7);
    }
    for (int k = 0; k < 6; k++)
        for (unsigned v = 0; v < 2048; v++) {
            uint8_t c = 0;
            for (int b = 0; b < 11 && 11 * k + b < 64; b++)
                if (v >> b & 1)
                    c ^= BIT_CHECK[11 * k + b];
            ENC[k][v] = c;
        }

    for (int x = 0; x < 256; x++)
        FIX[x] = FIX_UNCORRECTABLE;
    for (int j = 0; j < 64; j++)
        FIX[BIT_CHECK[j]] = (int8_t)j;
    for (int i = 0; i < 8; i++)
        FIX[1 << i] = (int8_t)(FIX_CHECK_BIT + i);
}

static inline uint8_t check_of(uint64_t w)
{
    return ENC[0][w & 0x7FF] ^ ENC[1][(w >> 11) & 0x7FF] ^ ENC[2][(w >> 22) & 0x7FF] ^
           ENC[3][(w >> 33) & 0x7FF] ^ ENC[4][(w >> 44) & 0x7FF] ^ ENC[5][w >> 55];
}

/* ---- table path (portable) -------------------------------------------------------------- */

static void encode_table(const uint64_t *data, size_t n, uint8_t *check)
{
    for (size_t i = 0; i < n; i++)
        check[i] = check_of(data[i]);
}

/* Decide and repair each word of data[0..n), whose indices in the whole buffer start at base:
 * the slow path, and the only code that changes memory. */
static void repair(uint64_t *data, uint8_t *check, size_t n, size_t base, gf_edac_stats *st)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t x = check_of(data[i]) ^ check[i];
        if (!x)
            continue;
        int fix = FIX[x];
        if (fix == FIX_UNCORRECTABLE) {
            if (!st->uncorrectable++)
                st->first_uncorrectable = (int64_t)(base + i);
        } else {
            if (fix < FIX_CHECK_BIT)
                data[i] ^= (uint64_t)1 << fix;
            else
                check[i] ^= (uint8_t)(1u << (fix - FIX_CHECK_BIT));
            st->corrected++;
        }
    }
}

#define BLOCK 16 /* words checked together before any branch: errors are rare */

static void scrub_table(uint64_t *data, uint8_t *check, size_t n, gf_edac_stats *st)
{
    size_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK) {
        uint8_t any = 0;
        for (int j = 0; j < BLOCK; j++)
            any |= check_of(data[i + j]) ^ check[i + j];
        if (any)
            repair(data + i, check + i, BLOCK, i, st);
    }
    repair(data + i, check + i, n - i, i, st);
}

/* ---- gfni path (AVX-512 VBMI + GFNI) ------------------------------------------------------ */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define GFNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vbmi,gfni")))

static uint8_t GATHER[64]; /* byte 8k + t of the permuted vector = byte k of word t */
static uint8_t MATRIX[64]; /* 64-bit lane k: the 8x8 bit matrix taking byte k to its check bits */

static void build_gfni(void)
{
    for (int k = 0; k < 8; k++)
        for (int t = 0; t < 8; t++)
            GATHER[8 * k + t] = (uint8_t)(8 * t + k);
    /* GF2P8AFFINEQB sets bit i of each result byte to the parity of (source byte & matrix byte
     * 7 - i), so matrix byte 7 - i lists the bits of data byte k that feed check bit i. */
    for (int k = 0; k < 8; k++)
        for (int i = 0; i < 8; i++) {
            uint8_t row = 0;
            for (int b = 0; b < 8; b++)
                row |= (uint8_t)((BIT_CHECK[8 * k + b] >> i & 1) << b);
            MATRIX[8 * k + 7 - i] = row;
        }
}

/* The check bytes of data[0..8), byte t of the result for word t (x86 is little-endian). */
static inline GFNI_TARGET uint64_t check8(const uint64_t *data, __m512i gather, __m512i matrix)
{
    __m512i v = _mm512_permutexvar_epi8(gather, _mm512_loadu_si512(data));
    v = _mm512_gf2p8affine_epi64_epi8(v, matrix, 0);
    __m256i h = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i q = _mm_xor_si128(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    return (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(q, _mm_unpackhi_epi64(q, q)));
}

static GFNI_TARGET void encode_gfni(const uint64_t *data, size_t n, uint8_t *check)
{
    const __m512i gather = _mm512_loadu_si512(GATHER), matrix = _mm512_loadu_si512(MATRIX);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t c = check8(data + i, gather, matrix);
        memcpy(check + i, &c, 8);
    }
    encode_table(data + i, n - i, check + i);
}

static GFNI_TARGET void scrub_gfni(uint64_t *data, uint8_t *check, size_t n, gf_edac_stats *st)
{
    const __m512i gather = _mm512_loadu_si512(GATHER), matrix = _mm512_loadu_si512(MATRIX);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t stored;
        memcpy(&stored, check + i, 8);
        if (check8(data + i, gather, matrix) != stored)
            repair(data + i, check + i, 8, i, st);
    }
    repair(data + i, check + i, n - i, i, st);
}

int gf_edac_have_gfni(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("gfni");
}
#else
static void build_gfni(void) {}
static void encode_gfni(const uint64_t *data, size_t n, uint8_t *check) { encode_table(data, n, check); }
static void scrub_gfni(uint64_t *data, uint8_t *check, size_t n, gf_edac_stats *st)
{
    scrub_table(data, check, n, st);
}
int gf_edac_have_gfni(void) { return 0; }
#endif

/* ---- dispatch and entry points ------------------------------------------------------------ */

typedef void (*encode_fn)(const uint64_t *, size_t, uint8_t *);
typedef void (*scrub_fn)(uint64_t *, uint8_t *, size_t, gf_edac_stats *);
static encode_fn encode_impl = encode_table;
static scrub_fn scrub_impl = scrub_table;
static const char *impl_name = "table";

__attribute__((constructor)) static void edac_init(void)
{
    build_tables();
    build_gfni();
    if (gf_edac_have_gfni()) {
        encode_impl = encode_gfni;
        scrub_impl = scrub_gfni;
        impl_name = "gfni";
    }
}

static int run_encode(encode_fn fn, const uint64_t *data, size_t nwords, uint8_t *check)
{
    if (nwords && (!data || !check))
        return GF_EINVAL;
    fn(data, nwords, check);
    return GF_OK;
}

static int run_scrub(scrub_fn fn, uint64_t *data, uint8_t *check, size_t nwords, gf_edac_stats *st)
{
    if (!st || (nwords && (!data || !check)))
        return GF_EINVAL;
    memset(st, 0, sizeof *st);
    st->first_uncorrectable = -1;
    fn(data, check, nwords, st);
    return GF_OK;
}

int gf_edac_encode(const uint64_t *data, size_t nwords, uint8_t *check)
{
    return run_encode(encode_impl, data, nwords, check);
}

int gf_edac_scrub(uint64_t *data, uint8_t *check, size_t nwords, gf_edac_stats *st)
{
    return run_scrub(scrub_impl, data, check, nwords, st);
}

int gf_edac_encode_table(const uint64_t *data, size_t nwords, uint8_t *check)
{
    return run_encode(encode_table, data, nwords, check);
}

int gf_edac_scrub_table(uint64_t *data, uint8_t *check, size_t nwords, gf_edac_stats *st)
{
    return run_scrub(scrub_table, data, check, nwords, st);
}

/* Without the instructions these fall back to the table path rather than fault. */
int gf_edac_encode_gfni(const uint64_t *data, size_t nwords, uint8_t *check)
{
    return run_encode(gf_edac_have_gfni() ? encode_gfni : encode_table, data, nwords, check);
}

int gf_edac_scrub_gfni(uint64_t *data, uint8_t *check, size_t nwords, gf_edac_stats *st)
{
    return run_scrub(gf_edac_have_gfni() ? scrub_gfni : scrub_table, data, check, nwords, st);
}

const char *gf_edac_impl_name(void) { return impl_name; }
