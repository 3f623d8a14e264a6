"""cffi API-mode build of the native core (run by setup.py's cffi_modules during pip install).

`python native/build_ffi.py` rebuilds the extension in place for quick local iteration.
"""
import pathlib

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent

# Only the public declarations; the compiler checks them against the real header.
CDEF = """
#define GF_MAX_PACKET_LEN 65542
#define GF_VC_COUNT 8
enum { GF_OK = 0, GF_EINVAL = -1, GF_ECAPACITY = -2 };

uint16_t gf_crc16(const uint8_t *data, size_t len, uint16_t init);
uint16_t gf_crc16_chars(const char *data, size_t len, uint16_t init);
uint16_t gf_crc16_bytewise(const uint8_t *data, size_t len, uint16_t init);
uint16_t gf_crc16_slice16(const uint8_t *data, size_t len, uint16_t init);
uint16_t gf_crc16_clmul(const uint8_t *data, size_t len, uint16_t init);
int gf_crc16_have_clmul(void);
const char *gf_crc16_impl_name(void);

typedef struct {
    int64_t *offset; uint16_t *scid; uint8_t *vcid; uint8_t *mc_count; uint8_t *vc_count;
    uint16_t *fhp; uint8_t *fecf_ok; size_t capacity; size_t count;
} gf_frames;
typedef struct { size_t consumed; size_t resyncs; size_t bytes_skipped; int locked; } gf_deframe_stats;
int gf_deframe_tm(const uint8_t *buf, size_t len, size_t frame_len, int has_fecf, gf_frames *out,
                  gf_deframe_stats *stats);

typedef struct { ...; } gf_extract_state;
typedef struct {
    uint16_t *apid; uint16_t *seq_count; uint8_t *vcid; int64_t *frame_index; int64_t *offset;
    uint32_t *length; uint8_t *crc_ok; uint8_t *spans; size_t capacity; size_t count;
    uint8_t *spill; size_t spill_capacity; size_t spill_used;
    size_t packets_dropped; size_t idle_packets; size_t malformed;
} gf_packets;
void gf_extract_init(gf_extract_state *state);
int gf_extract_packets(const uint8_t *buf, size_t len, const gf_frames *frames, size_t frame_len,
                       int has_ocf, int has_fecf, int has_pec, gf_extract_state *state,
                       gf_packets *out);

int gf_bch_encode(const uint8_t *data, size_t len, uint8_t *out, size_t out_len);
int64_t gf_bch_decode(const uint8_t *blocks, size_t len, uint8_t *out, size_t out_len,
                      size_t *corrected);

uint32_t gf_crc32(uint32_t crc, const uint8_t *data, size_t len);
uint32_t gf_crc32_chars(uint32_t crc, const char *data, size_t len);
uint32_t gf_crc32_slice16(uint32_t crc, const uint8_t *data, size_t len);
uint32_t gf_crc32_clmul(uint32_t crc, const uint8_t *data, size_t len);
int gf_crc32_have_clmul(void);
const char *gf_crc32_impl_name(void);
uint32_t gf_crc32c(uint32_t crc, const uint8_t *data, size_t len);
uint32_t gf_crc32c_chars(uint32_t crc, const char *data, size_t len);
uint32_t gf_crc32c_portable(uint32_t crc, const uint8_t *data, size_t len);
uint32_t gf_crc32c_sse42(uint32_t crc, const uint8_t *data, size_t len);
int gf_crc32c_have_sse42(void);
const char *gf_crc32c_impl_name(void);

typedef struct {
    int64_t *data_offset; uint32_t *data_len; double *t_rx; uint16_t *link; uint16_t *flags;
    size_t capacity; size_t count;
} gf_records;
typedef struct {
    size_t records_ok; size_t records_damaged; size_t bytes_skipped; size_t torn_tail_bytes; size_t consumed;
} gf_scan_stats;
int gf_scan_records(const uint8_t *buf, size_t len, uint32_t sync, uint32_t max_len, gf_records *out,
                    gf_scan_stats *stats);
int gf_gather_rows(const uint8_t *src, size_t src_len, const int64_t *offsets, size_t n, size_t width,
                   uint8_t *out);
int gf_unpack_columns(const uint8_t *rows, size_t n, size_t row_len, size_t ncols, const uint32_t *col_offset,
                      const uint32_t *col_size, const uint8_t *col_swap, uint8_t *const *out);
int gf_unpack_at(const uint8_t *src, size_t src_len, const int64_t *offsets, const int64_t *dest_rows, size_t n,
                 size_t row_len, size_t ncols, const uint32_t *col_offset, const uint32_t *col_size,
                 const uint8_t *col_swap, uint8_t *const *out, size_t out_rows);
typedef struct { size_t corrected; size_t uncorrectable; int64_t first_uncorrectable; } gf_edac_stats;
int gf_edac_encode(const uint64_t *data, size_t nwords, uint8_t *check);
int gf_edac_scrub(uint64_t *data, uint8_t *check, size_t nwords, gf_edac_stats *st);
int gf_edac_encode_table(const uint64_t *data, size_t nwords, uint8_t *check);
int gf_edac_scrub_table(uint64_t *data, uint8_t *check, size_t nwords, gf_edac_stats *st);
int gf_edac_encode_gfni(const uint64_t *data, size_t nwords, uint8_t *check);
int gf_edac_scrub_gfni(uint64_t *data, uint8_t *check, size_t nwords, gf_edac_stats *st);
int gf_edac_have_gfni(void);
const char *gf_edac_impl_name(void);
int gf_block_sums_f32(const float *x, size_t rows, size_t cols, size_t ld, size_t w, double *sum,
                      double *sumsq);
int gf_block_sums_f64(const double *x, size_t rows, size_t cols, size_t ld, size_t w, double *sum,
                      double *sumsq);
int gf_block_sums_have_avx2(void);
#define GF_RS_MAX_DEPTH 5
void gf_tm_randomize(uint8_t *buf, size_t len);
int gf_rs_encode(uint8_t *blocks, size_t len, size_t block_len, int depth);
int64_t gf_rs_decode(uint8_t *blocks, size_t len, size_t block_len, int depth, int8_t *corrected,
                     size_t corrected_len);
"""

SOURCES = sorted(str(p.relative_to(ROOT)) for p in (HERE / "src").glob("*.c"))

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "gridfree.native._core",
    '#include "gridfree.h"',
    sources=SOURCES,
    include_dirs=[str((HERE / "include").relative_to(ROOT))],
    # -g0: GCC 12 has an internal compiler error on some AVX-512 code with debug info on.
    extra_compile_args=["-std=c99", "-O3", "-Wall", "-Wextra", "-Werror", "-g0"],
)

if __name__ == "__main__":
    import os

    os.chdir(ROOT)
    ffibuilder.compile(tmpdir=str(ROOT / "build" / "ffi"), verbose=True)
