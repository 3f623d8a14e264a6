/* Bulk scan of archive segment records: every intact record of a buffer in one call.
 *
 * The record format is the ground archive's (ground/archive/layout.py), all big-endian:
 *
 *     0  u32 sync    4  u32 n    8  f64 t_rx    16  u16 link    18  u16 flags
 *     20 u32 CRC-32 of bytes 0..19    24  n data bytes    24+n  u32 CRC-32 of bytes 0..23+n
 *
 * The sync marker and the largest n are parameters, so this layer does not depend on the ground.
 * The rules are those of the Python reader (ground/archive/scan.py), which the tests hold this
 * scan to on every input, with the buffer taken as the whole rest of the file:
 *
 *  - n is trusted only once the header CRC matches, n <= max_len and t_rx is finite;
 *  - after anything that is not an intact record, the scan looks for the next sync marker from
 *    one octet on (never jumping by a length it has not verified);
 *  - the octets passed over form one damaged stretch, ended by the next intact record; it counts
 *    as the number of complete records in it with a good header but a bad record CRC, and at
 *    least one;
 *  - a stretch that runs to the end of the buffer and holds no such record is a torn tail (what a
 *    crash mid-append leaves), reported in torn_tail_bytes and not counted as damage. A record
 *    whose header is good but which runs past the end is such a tail. */
#include "gridfree.h"

#include <string.h>

#define RECORD_HEADER 24
#define RECORD_OVERHEAD 28

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

enum status { NEED, BAD, OK };

/* Whether an intact record starts at buf[pos] (layout.parse_record). *n is set when the header
 * checks (*header_ok), *t_rx with it. */
static enum status parse(const uint8_t *buf, size_t len, size_t pos, const uint8_t sync[4], uint32_t max_len,
                         uint32_t *n, double *t_rx, int *header_ok)
{
    const uint8_t *p = buf + pos;
    size_t avail = len - pos;
    *header_ok = 0;
    /* parse_record answers NEED or BAD here depending on whether the octets begin like a sync
     * marker; that matters only to a reader that can wait for more, and here both end the same. */
    if (avail < RECORD_HEADER)
        return NEED;
    if (memcmp(p, sync, 4) != 0)
        return BAD;
    uint32_t head_crc = gf_crc32(0, p, 20);
    uint64_t t_bits = be64(p + 8);
    *n = be32(p + 4);
    if (head_crc != be32(p + 20) || *n > max_len || (t_bits >> 52 & 0x7FF) == 0x7FF)
        return BAD;
    *header_ok = 1;
    memcpy(t_rx, &t_bits, sizeof *t_rx);
    if (avail < RECORD_OVERHEAD || avail - RECORD_OVERHEAD < *n)
        return NEED;
    /* CRC of bytes 0..23+n, continued from the header's CRC of bytes 0..19. */
    uint32_t crc = gf_crc32(head_crc, p + 20, 4 + (size_t)*n);
    return crc == be32(p + RECORD_HEADER + *n) ? OK : BAD;
}

/* Start of the next complete sync marker at or after `from`, or len. */
static size_t find_sync(const uint8_t *buf, size_t len, size_t from, const uint8_t sync[4])
{
    while (from + 4 <= len) {
        const uint8_t *hit = memchr(buf + from, sync[0], len - 3 - from);
        if (!hit)
            break;
        from = (size_t)(hit - buf);
        if (memcmp(hit, sync, 4) == 0)
            return from;
        from++;
    }
    return len;
}

int gf_scan_records(const uint8_t *buf, size_t len, uint32_t sync, uint32_t max_len, gf_records *out,
                    gf_scan_stats *st)
{
    if (!out || !st || (!buf && len))
        return GF_EINVAL;
    const uint8_t s[4] = {(uint8_t)(sync >> 24), (uint8_t)(sync >> 16), (uint8_t)(sync >> 8), (uint8_t)sync};
    const size_t none = (size_t)-1;
    size_t pos = 0, count = 0, stretch = none, headers = 0, consumed = 0;
    memset(st, 0, sizeof *st);
    for (;;) {
        uint32_t n = 0;
        double t_rx = 0;
        int header_ok;
        enum status status = parse(buf, len, pos, s, max_len, &n, &t_rx, &header_ok);
        if (status == OK) {
            if (stretch != none) {
                st->records_damaged += headers ? headers : 1;
                st->bytes_skipped += pos - stretch;
                stretch = none;
            }
            if (count >= out->capacity)
                return GF_ECAPACITY;
            const uint8_t *p = buf + pos;
            out->data_offset[count] = (int64_t)(pos + RECORD_HEADER);
            out->data_len[count] = n;
            out->t_rx[count] = t_rx;
            out->link[count] = be16(p + 16);
            out->flags[count] = be16(p + 18);
            out->count = ++count;
            st->records_ok++;
            pos += RECORD_OVERHEAD + (size_t)n;
            consumed = pos;
            continue;
        }
        if (pos >= len)
            break;
        if (stretch == none) {
            stretch = pos;
            headers = 0;
        }
        headers += status == BAD && header_ok;
        pos = find_sync(buf, len, pos + 1, s);
    }
    if (stretch != none && headers) {
        st->records_damaged += headers;
        st->bytes_skipped += len - stretch;
    } else if (stretch != none) {
        st->torn_tail_bytes = len - stretch;
    }
    out->count = count;
    st->consumed = consumed;
    return GF_OK;
}
