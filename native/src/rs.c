/* Reed-Solomon RS(255,223) E = 16 of CCSDS 131.0-B-4 §4, dual basis on the wire, interleaving
 * depth I = 1..5, virtual fill (shortened codewords).
 *
 * Field GF(2^8) on F(x) = x^8 + x^7 + x^2 + x + 1, alpha a root of F. The generator is
 * g(x) = prod_{j=112}^{143} (x - beta^j) with beta = alpha^11: logarithms here are to base
 * beta, so the code reads as a textbook one with first consecutive root 112 and a codeword
 * symbol of degree e sits at the locator X = beta^e.
 *
 * Symbols travel in Berlekamp's dual basis (the standard's T matrix). Every step of the
 * encoder is GF(2)-linear, so the encoder's register is kept in the dual basis and its table
 * holds dual-basis products: encoding never converts an octet. The decoder converts only the
 * 32-octet remainder and its error values.
 *
 * Decoding: remainder of the received word by g(x) (the encoder's register plus the received
 * check symbols; zero means a clean codeword, the common case), 32 syndromes from it,
 * Berlekamp-Massey, Chien search over the transmitted positions only, Forney. A correction is
 * accepted only if the error pattern reproduces all 32 syndromes, so what comes out is always
 * a codeword within 16 symbols of what came in, or the codeword is left as received and
 * reported as -1. Nothing is written outside the block given. */
#include <string.h>

#include "gridfree.h"

#define RS_N 255
#define RS_2E 32
#define RS_E 16
#define RS_FCR 112

static uint8_t EXP[512];      /* beta^i for i in 0..511 (a sum of two logs needs no reduction) */
static uint8_t LOG[256];      /* LOG[beta^i] = i; LOG[0] is never read */
static uint8_t TO_DUAL[256];  /* conventional -> Berlekamp */
static uint8_t FROM_DUAL[256];
/* FEEDBACK[f] = the 32 products f * g_{31-i} (i = 0..31), all in the dual basis, octet i in
 * bits 8 (i % 8) of word i / 8: the whole register update for one input symbol. */
static uint64_t FEEDBACK[256][4];

/* T: row i is the dual-basis image of alpha^(7 - i) (CCSDS 131.0-B-4 §4, dual basis). */
static const uint8_t T_ROWS[8] = {0x8D, 0xEF, 0xEC, 0x86, 0xFA, 0x99, 0xAF, 0x7B};

static inline uint8_t gmul(uint8_t a, uint8_t b)
{
    return (a && b) ? EXP[LOG[a] + LOG[b]] : 0;
}

__attribute__((constructor)) static void build_rs_tables(void)
{
    uint8_t alpha[255];
    unsigned x = 1;
    for (int i = 0; i < 255; i++) {
        alpha[i] = (uint8_t)x;
        x <<= 1;
        if (x & 0x100)
            x ^= 0x187;
    }
    for (int i = 0; i < 512; i++)
        EXP[i] = alpha[(11 * i) % 255];
    for (int i = 0; i < 255; i++)
        LOG[EXP[i]] = (uint8_t)i;

    for (int c = 0; c < 256; c++) {
        uint8_t z = 0;
        for (int i = 0; i < 8; i++)
            if (c & (0x80 >> i))
                z ^= T_ROWS[i];
        TO_DUAL[c] = z;
        FROM_DUAL[z] = (uint8_t)c;
    }

    uint8_t g[RS_2E + 1] = {1}; /* g[k] = coefficient of x^k */
    for (int j = RS_FCR; j < RS_FCR + RS_2E; j++) {
        uint8_t root = EXP[j];
        for (int k = RS_2E; k > 0; k--)
            g[k] = (uint8_t)(g[k - 1] ^ gmul(g[k], root));
        g[0] = gmul(g[0], root);
    }
    for (int f = 0; f < 256; f++) {
        uint8_t fc = FROM_DUAL[f];
        for (int w = 0; w < 4; w++)
            FEEDBACK[f][w] = 0;
        for (int i = 0; i < RS_2E; i++)
            FEEDBACK[f][i / 8] |= (uint64_t)TO_DUAL[gmul(fc, g[RS_2E - 1 - i])] << (8 * (i % 8));
    }
}

/* One information symbol (dual basis) into the register: octet 0 (the next check symbol to
 * be sent, the highest degree) leaves, the others move up one place, the feedback is added. */
static inline void lfsr_step(uint64_t r[4], uint8_t d)
{
    const uint64_t *t = FEEDBACK[(uint8_t)(d ^ (uint8_t)r[0])];
    r[0] = ((r[0] >> 8) | (r[1] << 56)) ^ t[0];
    r[1] = ((r[1] >> 8) | (r[2] << 56)) ^ t[1];
    r[2] = ((r[2] >> 8) | (r[3] << 56)) ^ t[2];
    r[3] = (r[3] >> 8) ^ t[3];
}

static inline uint8_t reg_octet(const uint64_t r[4], int i)
{
    return (uint8_t)(r[i / 8] >> (8 * (i % 8)));
}

/* The registers of the `depth` interleaved codewords after their k information symbols. */
static void remainders(const uint8_t *block, size_t k, int depth, uint64_t reg[][4])
{
    memset(reg, 0, sizeof(uint64_t) * 4 * (size_t)depth);
    for (size_t m = 0; m < k; m++) {
        const uint8_t *row = block + m * (size_t)depth;
        for (int j = 0; j < depth; j++)
            lfsr_step(reg[j], row[j]);
    }
}

/* n = block_len / depth symbols per codeword, 33..255; 0 if the arguments are out of range. */
static size_t codeword_len(size_t len, size_t block_len, int depth)
{
    if (depth < 1 || depth > GF_RS_MAX_DEPTH || block_len == 0 || len % block_len ||
        block_len % (size_t)depth)
        return 0;
    size_t n = block_len / (size_t)depth;
    return (n > RS_2E && n <= RS_N) ? n : 0;
}

int gf_rs_encode(uint8_t *blocks, size_t len, size_t block_len, int depth)
{
    size_t n = codeword_len(len, block_len, depth);
    if (!n)
        return GF_EINVAL;
    size_t k = n - RS_2E;
    uint64_t reg[GF_RS_MAX_DEPTH][4];
    for (size_t at = 0; at < len; at += block_len) {
        uint8_t *block = blocks + at;
        remainders(block, k, depth, reg);
        for (int i = 0; i < RS_2E; i++)
            for (int j = 0; j < depth; j++)
                block[(k + (size_t)i) * (size_t)depth + (size_t)j] = reg_octet(reg[j], i);
    }
    return GF_OK;
}

/* Correct codeword j of a block of n-symbol codewords whose remainder (dual basis, highest
 * degree first) is rem; returns the symbols corrected or -1 (block untouched). */
static int correct_codeword(uint8_t *block, size_t n, int depth, int j, const uint8_t rem[RS_2E])
{
    uint8_t s[RS_2E] = {0};
    for (int i = 0; i < RS_2E; i++) { /* S_k = rem(beta^(112 + k)), rem's x^(31 - i) term */
        uint8_t c = FROM_DUAL[rem[i]];
        if (!c)
            continue;
        int e = RS_2E - 1 - i;
        int lg = (LOG[c] + e * RS_FCR) % 255;
        for (int k = 0; k < RS_2E; k++) {
            s[k] ^= EXP[lg];
            lg += e;
            if (lg >= 255)
                lg -= 255;
        }
    }

    /* Berlekamp-Massey: the shortest LFSR (the error locator Lambda) that generates S. */
    uint8_t lambda[RS_2E + 1] = {1}, prev[RS_2E + 1] = {1}, tmp[RS_2E + 1];
    int L = 0, shift = 1;
    uint8_t prev_d = 1;
    for (int r = 0; r < RS_2E; r++) {
        uint8_t d = s[r];
        for (int i = 1; i <= L; i++)
            d ^= gmul(lambda[i], s[r - i]);
        if (!d) {
            shift++;
            continue;
        }
        uint8_t coef = EXP[LOG[d] + 255 - LOG[prev_d]];
        int grow = 2 * L <= r;
        if (grow)
            memcpy(tmp, lambda, sizeof lambda);
        for (int i = 0; i + shift <= RS_2E; i++)
            lambda[i + shift] ^= gmul(coef, prev[i]);
        if (grow) {
            L = r + 1 - L;
            memcpy(prev, tmp, sizeof prev);
            prev_d = d;
            shift = 1;
        } else {
            shift++;
        }
    }
    if (L > RS_E)
        return -1;
    for (int i = L + 1; i <= RS_2E; i++)
        if (lambda[i])
            return -1;

    /* Chien search over the transmitted degrees 0..n-1: Lambda(beta^-e) = 0 marks an error. */
    int lg[RS_E + 1];
    for (int i = 1; i <= L; i++)
        lg[i] = lambda[i] ? LOG[lambda[i]] : -1;
    int where[RS_E];
    int found = 0;
    for (int e = 0; e < (int)n && found < L; e++) {
        uint8_t sum = 1;
        for (int i = 1; i <= L; i++) {
            if (lg[i] < 0)
                continue;
            sum ^= EXP[lg[i]];
            lg[i] -= i; /* next e: times beta^-i */
            if (lg[i] < 0)
                lg[i] += 255;
        }
        if (!sum)
            where[found++] = e;
    }
    if (found != L)
        return -1;

    /* Omega = S Lambda mod x^L (a valid Lambda leaves nothing of higher degree). */
    uint8_t omega[RS_E];
    for (int i = 0; i < L; i++) {
        uint8_t acc = 0;
        for (int t = 0; t <= i; t++)
            acc ^= gmul(lambda[t], s[i - t]);
        omega[i] = acc;
    }
    /* Forney: e = X^(1 - 112) Omega(X^-1) / Lambda'(X^-1), X = beta^e. */
    uint8_t value[RS_E];
    for (int l = 0; l < L; l++) {
        int xinv = (255 - where[l]) % 255;
        uint8_t num = 0, den = 0;
        for (int i = 0; i < L; i++)
            if (omega[i])
                num ^= EXP[(LOG[omega[i]] + xinv * i) % 255];
        for (int i = 1; i <= L; i += 2)
            if (lambda[i])
                den ^= EXP[(LOG[lambda[i]] + xinv * (i - 1)) % 255];
        if (!num || !den)
            return -1;
        value[l] = EXP[(LOG[num] + 255 - LOG[den] + (where[l] * (255 - RS_FCR + 1)) % 255) % 255];
    }
    /* Accept only an error pattern that reproduces every syndrome: then the result is a
     * codeword within L <= 16 symbols of the received word. */
    for (int k = 0; k < RS_2E; k++) {
        uint8_t acc = 0;
        for (int l = 0; l < L; l++)
            acc ^= EXP[(LOG[value[l]] + (where[l] * (RS_FCR + k)) % 255) % 255];
        if (acc != s[k])
            return -1;
    }
    for (int l = 0; l < L; l++)
        block[(n - 1 - (size_t)where[l]) * (size_t)depth + (size_t)j] ^= TO_DUAL[value[l]];
    return L;
}

int64_t gf_rs_decode(uint8_t *blocks, size_t len, size_t block_len, int depth, int8_t *corrected,
                     size_t corrected_len)
{
    size_t n = codeword_len(len, block_len, depth);
    if (!n)
        return GF_EINVAL;
    if (corrected_len < len / block_len * (size_t)depth)
        return GF_ECAPACITY;
    size_t k = n - RS_2E;
    int64_t bad = 0;
    uint64_t reg[GF_RS_MAX_DEPTH][4];
    for (size_t at = 0, b = 0; at < len; at += block_len, b++) {
        uint8_t *block = blocks + at;
        remainders(block, k, depth, reg);
        for (int j = 0; j < depth; j++) {
            uint8_t rem[RS_2E];
            uint8_t any = 0;
            for (int i = 0; i < RS_2E; i++) {
                rem[i] = (uint8_t)(reg_octet(reg[j], i) ^ block[(k + (size_t)i) * (size_t)depth + (size_t)j]);
                any |= rem[i];
            }
            int c = any ? correct_codeword(block, n, depth, j, rem) : 0;
            corrected[b * (size_t)depth + (size_t)j] = (int8_t)c;
            bad += c < 0;
        }
    }
    return bad;
}
