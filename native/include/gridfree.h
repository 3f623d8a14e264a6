/* gridfree native core: the hot paths of the wire protocols.
 *
 * Every function is pure (no I/O, no globals beyond read-only tables built once) and reports
 * errors by return code; the Python wrappers in gridfree.native turn codes into exceptions.
 * Buffers are (pointer, length) pairs; output arrays are caller-allocated with a capacity, and a
 * function never writes past a capacity it was given. */
#ifndef GRIDFREE_H
#define GRIDFREE_H

#include <stddef.h>
#include <stdint.h>

enum {
    GF_OK = 0,
    GF_EINVAL = -1,    /* an argument is out of its documented range */
    GF_ECAPACITY = -2, /* an output array is too small (a wrapper bug, never input-dependent) */
};

/* ---- CRC-16/CCITT-FALSE: poly 0x1021, no reflection, no final xor ------------------------ */
/* Pass init 0xFFFF for a fresh CRC, or a previous result to continue over a further buffer. */
uint16_t gf_crc16(const uint8_t *data, size_t len, uint16_t init);
uint16_t gf_crc16_chars(const char *data, size_t len, uint16_t init);
uint16_t gf_crc16_bytewise(const uint8_t *data, size_t len, uint16_t init);
uint16_t gf_crc16_slice16(const uint8_t *data, size_t len, uint16_t init);
uint16_t gf_crc16_clmul(const uint8_t *data, size_t len, uint16_t init); /* needs PCLMUL+SSE4.1 */
int gf_crc16_have_clmul(void);
const char *gf_crc16_impl_name(void);

/* ---- TM transfer frames (CCSDS 132.0-B) behind the ASM 0x1ACFFC1D (CCSDS 131.0-B) -------- */
typedef struct {
    int64_t *offset;  /* frame start (first octet after the ASM) within buf */
    uint16_t *scid;
    uint8_t *vcid;
    uint8_t *mc_count;
    uint8_t *vc_count;
    uint16_t *fhp;
    uint8_t *fecf_ok;
    size_t capacity;
    size_t count;
} gf_frames;

typedef struct {
    size_t consumed;      /* octets of buf fully processed; the rest is a partial frame/ASM */
    size_t resyncs;       /* times the sync was (re)acquired by searching */
    size_t bytes_skipped; /* octets passed over while searching */
    int locked;           /* in/out: the last frame ended at `consumed` with the sync held */
} gf_deframe_stats;

int gf_deframe_tm(const uint8_t *buf, size_t len, size_t frame_len, int has_fecf, gf_frames *out,
                  gf_deframe_stats *stats);

/* ---- Space packets (CCSDS 133.0-B-2) inside TM frames ------------------------------------ */
#define GF_MAX_PACKET_LEN 65542
#define GF_VC_COUNT 8

typedef struct {
    uint8_t buf[GF_MAX_PACKET_LEN];
    uint32_t have;     /* octets of the packet in progress held in buf */
    uint32_t need;     /* total length once the header is known, 0 while it is not */
    int active;        /* a packet is in progress */
    int expect_vc;     /* next VC frame count, -1 if unknown */
} gf_vc_state;

typedef struct {
    gf_vc_state vc[GF_VC_COUNT];
} gf_extract_state;

typedef struct {
    uint16_t *apid;
    uint16_t *seq_count;
    uint8_t *vcid;
    int64_t *frame_index;
    int64_t *offset;      /* into buf, or into spill when spans */
    uint32_t *length;
    uint8_t *crc_ok;
    uint8_t *spans;
    size_t capacity;
    size_t count;
    uint8_t *spill;
    size_t spill_capacity;
    size_t spill_used;
    size_t packets_dropped;
    size_t idle_packets;
    size_t malformed;
} gf_packets;

void gf_extract_init(gf_extract_state *state);
int gf_extract_packets(const uint8_t *buf, size_t len, const gf_frames *frames, size_t frame_len,
                       int has_ocf, int has_fecf, int has_pec, gf_extract_state *state,
                       gf_packets *out);

/* ---- BCH(63,56) code blocks for CLTUs (CCSDS 231.0-B-4 §3.3) ----------------------------- */
/* Encode len/7 code blocks of 8 octets each (len must be a multiple of 7). */
int gf_bch_encode(const uint8_t *data, size_t len, uint8_t *out, size_t out_len);
/* Decode 8-octet blocks until the end or the first uncorrectable block; single-error correction.
 * Returns the number of blocks decoded (their 7 information octets each written to out). */
int64_t gf_bch_decode(const uint8_t *blocks, size_t len, uint8_t *out, size_t out_len,
                      size_t *corrected);

/* ---- CRC-32/ISO-HDLC (zlib.crc32) and CRC-32C (Castagnoli) ------------------------------- */
/* Both chain like zlib.crc32(data, crc): pass 0 for a fresh CRC, or a previous result. */
uint32_t gf_crc32(uint32_t crc, const uint8_t *data, size_t len);
uint32_t gf_crc32_chars(uint32_t crc, const char *data, size_t len);
uint32_t gf_crc32_slice16(uint32_t crc, const uint8_t *data, size_t len);
uint32_t gf_crc32_clmul(uint32_t crc, const uint8_t *data, size_t len); /* needs PCLMUL */
int gf_crc32_have_clmul(void);
const char *gf_crc32_impl_name(void);
uint32_t gf_crc32c(uint32_t crc, const uint8_t *data, size_t len);
uint32_t gf_crc32c_chars(uint32_t crc, const char *data, size_t len);
uint32_t gf_crc32c_portable(uint32_t crc, const uint8_t *data, size_t len);
uint32_t gf_crc32c_sse42(uint32_t crc, const uint8_t *data, size_t len); /* needs SSE4.2 */
int gf_crc32c_have_sse42(void);
const char *gf_crc32c_impl_name(void);

/* ---- Archive segment records (format: ground/archive/layout.py) -------------------------- */
typedef struct {
    int64_t *data_offset; /* first data octet of each intact record within buf */
    uint32_t *data_len;
    double *t_rx;
    uint16_t *link;
    uint16_t *flags;
    size_t capacity;      /* len / 28 + 1 always suffices */
    size_t count;
} gf_records;

typedef struct {
    size_t records_ok;
    size_t records_damaged; /* damaged stretches, each counted as its good headers, at least 1 */
    size_t bytes_skipped;   /* octets in damaged stretches */
    size_t torn_tail_bytes; /* octets after the last intact record that hold no record, else 0 */
    size_t consumed;        /* end of the last intact record: a tailing reader resumes here */
} gf_scan_stats;

/* Every intact record in buf, taken as the whole rest of a segment file (the bytes after its
 * header); stats are written, not accumulated. The rules are the Python reader's
 * (ground/archive/scan.py): see src/records.c. */
int gf_scan_records(const uint8_t *buf, size_t len, uint32_t sync, uint32_t max_len, gf_records *out,
                    gf_scan_stats *stats);

/* ---- Bulk decoding (src/gather.c) ---------------------------------------------------------- */
/* out[i] = src[offsets[i] .. +width]; GF_EINVAL (nothing written) if any row leaves src. */
int gf_gather_rows(const uint8_t *src, size_t src_len, const int64_t *offsets, size_t n, size_t width,
                   uint8_t *out);
/* Column c of n rows of row_len octets into out[c] (col_size[c] octets per row), byte-reversed
 * when col_swap[c] (big-endian wire to little-endian host; sizes up to 8). */
int gf_unpack_columns(const uint8_t *rows, size_t n, size_t row_len, size_t ncols, const uint32_t *col_offset,
                      const uint32_t *col_size, const uint8_t *col_swap, uint8_t *const *out);

/* The same, reading each row in place at src + offsets[i] and writing it to row dest_rows[i] of
 * the outputs (which hold out_rows rows): packets straight from a segment file into their place. */
int gf_unpack_at(const uint8_t *src, size_t src_len, const int64_t *offsets, const int64_t *dest_rows, size_t n,
                 size_t row_len, size_t ncols, const uint32_t *col_offset, const uint32_t *col_size,
                 const uint8_t *col_swap, uint8_t *const *out, size_t out_rows);

/* ---- SECDED Hamming(72,64) EDAC for resident memory (src/edac.c) -------------------------- */
/* One check byte per 64-bit word: bits 0..6 the Hamming bits at codeword positions 1, 2, 4, ..,
 * 64, bit 7 the overall parity (the textbook extended Hamming code; layout in src/edac.c). */
typedef struct {
    size_t corrected;            /* words with one flipped bit, repaired in data or check byte */
    size_t uncorrectable;        /* words with two (or more) flipped bits, left untouched */
    int64_t first_uncorrectable; /* index of the first such word, -1 if none */
} gf_edac_stats;

/* check[i] = the check byte of data[i], for nwords words. */
int gf_edac_encode(const uint64_t *data, size_t nwords, uint8_t *check);
/* Verify every word, correct single-bit errors in place; stats are written, not accumulated. */
int gf_edac_scrub(uint64_t *data, uint8_t *check, size_t nwords, gf_edac_stats *st);
/* The same through one path each (the calls above pick the fastest this CPU runs). */
int gf_edac_encode_table(const uint64_t *data, size_t nwords, uint8_t *check);
int gf_edac_scrub_table(uint64_t *data, uint8_t *check, size_t nwords, gf_edac_stats *st);
int gf_edac_encode_gfni(const uint64_t *data, size_t nwords, uint8_t *check); /* AVX-512 VBMI+GFNI */
int gf_edac_scrub_gfni(uint64_t *data, uint8_t *check, size_t nwords, gf_edac_stats *st);
int gf_edac_have_gfni(void);
const char *gf_edac_impl_name(void);
/* ---- Row-block sums for ABFT checks (src/blocksums.c) ------------------------------------- */
/* For each of `rows` rows (ld elements apart) and each block of w of its `cols` columns (the last
 * block shorter when w does not divide cols): sum[i * nb + b] and sumsq[i * nb + b]
 * (nb = ceil(cols / w)), in double. */
int gf_block_sums_f32(const float *x, size_t rows, size_t cols, size_t ld, size_t w, double *sum,
                      double *sumsq);
int gf_block_sums_f64(const double *x, size_t rows, size_t cols, size_t ld, size_t w, double *sum,
                      double *sumsq);
int gf_block_sums_have_avx2(void);

/* ---- TM channel coding (CCSDS 131.0-B-4): src/randomizer.c, src/rs.c --------------------- */
#define GF_RS_MAX_DEPTH 5
/* XOR buf with the TM pseudo-random sequence (§10) from its first octet, FF 48 0E C0 9A ...:
 * the same call randomizes and derandomizes (apply it to everything after the ASM). */
void gf_tm_randomize(uint8_t *buf, size_t len);
/* RS(255,223) E=16 (§4), dual basis, interleaving depth 1..5. `blocks` holds len / block_len
 * codeblocks of block_len = depth * n octets, n in 33..255 (255 - n octets of virtual fill per
 * codeword); codeword j of a block takes octets j, j + depth, ... Encode writes the last
 * 32 * depth octets of each block (the check symbols) from the others. */
int gf_rs_encode(uint8_t *blocks, size_t len, size_t block_len, int depth);
/* Correct every codeblock in place; corrected[b * depth + j] = symbols corrected in codeword j
 * of block b, or -1 if it is uncorrectable (left as received). Returns the number of
 * uncorrectable codewords. */
int64_t gf_rs_decode(uint8_t *blocks, size_t len, size_t block_len, int depth, int8_t *corrected,
                     size_t corrected_len);

#endif
