/* Batch deframing of fixed-length TM transfer frames (CCSDS 132.0-B-3) behind the attached sync
 * marker 0x1ACFFC1D (CCSDS 131.0-B-4 §9), and batch extraction of the space packets they carry.
 *
 * Sync rule, shared with the pure-Python reference: while locked, a frame whose ASM sits exactly
 * where the previous frame ended is listed even if its FECF fails (its header fields are then
 * untrusted). Without lock, the ASM is searched for; a candidate is accepted only if its FECF
 * checks, otherwise the search goes on from the next octet. So random data that happens to
 * contain the ASM cannot push the decoder off the real frame boundary, and nothing here ever
 * reads a length field: frames are fixed length, and packet lengths are bounded by 16 bits. */
#include "gridfree.h"

#include <string.h>

static const uint8_t ASM[4] = {0x1A, 0xCF, 0xFC, 0x1D};

static inline int asm_at(const uint8_t *p) { return memcmp(p, ASM, 4) == 0; }

static size_t find_asm(const uint8_t *buf, size_t len, size_t from)
{
    while (from + 4 <= len) {
        const uint8_t *hit = memchr(buf + from, ASM[0], len - 3 - from);
        if (!hit)
            return (size_t)-1;
        size_t at = (size_t)(hit - buf);
        if (asm_at(hit))
            return at;
        from = at + 1;
    }
    return (size_t)-1;
}

static inline int fecf_ok(const uint8_t *f, size_t frame_len)
{
    uint16_t carried = (uint16_t)((f[frame_len - 2] << 8) | f[frame_len - 1]);
    return gf_crc16(f, frame_len - 2, 0xFFFF) == carried;
}

int gf_deframe_tm(const uint8_t *buf, size_t len, size_t frame_len, int has_fecf, gf_frames *out,
                  gf_deframe_stats *st)
{
    if (frame_len < 8 || frame_len > 2048 || !out || !st)
        return GF_EINVAL;
    size_t pos = 0, n = 0;
    int locked = st->locked;
    for (;;) {
        if (pos + 4 > len)
            break;
        size_t at = pos;
        int expected = locked && asm_at(buf + pos);
        if (!expected) {
            at = find_asm(buf, len, pos);
            if (at == (size_t)-1) {
                /* Keep the last 3 octets: they may be the start of an ASM. */
                size_t keep = len - pos < 3 ? len - pos : 3;
                st->bytes_skipped += len - keep - pos;
                pos = len - keep;
                locked = 0;
                break;
            }
        }
        if (at + 4 + frame_len > len) {
            if (at > pos)
                st->bytes_skipped += at - pos;
            pos = at;
            break;
        }
        const uint8_t *f = buf + at + 4;
        int ok = !has_fecf || fecf_ok(f, frame_len);
        if (!expected && !ok) {
            /* A false sync candidate: treat its first octet as noise and keep searching. */
            st->bytes_skipped += at + 1 - pos;
            pos = at + 1;
            locked = 0;
            continue;
        }
        if (!expected && at > pos) {
            /* Sync regained after skipping octets (a clean start at an ASM is no resync). */
            st->resyncs += 1;
            st->bytes_skipped += at - pos;
        }
        if (n >= out->capacity)
            return GF_ECAPACITY;
        out->offset[n] = (int64_t)(at + 4);
        out->scid[n] = (uint16_t)(((f[0] << 8 | f[1]) >> 4) & 0x3FF);
        out->vcid[n] = (uint8_t)((f[1] >> 1) & 7);
        out->mc_count[n] = f[2];
        out->vc_count[n] = f[3];
        out->fhp[n] = (uint16_t)(((f[4] << 8) | f[5]) & 0x7FF);
        out->fecf_ok[n] = (uint8_t)ok;
        n++;
        pos = at + 4 + frame_len;
        locked = 1;
    }
    out->count = n;
    st->consumed = pos;
    st->locked = locked;
    return GF_OK;
}

/* ---- packet extraction ----------------------------------------------------------------- */

void gf_extract_init(gf_extract_state *s)
{
    for (int v = 0; v < GF_VC_COUNT; v++) {
        s->vc[v].have = s->vc[v].need = 0;
        s->vc[v].active = 0;
        s->vc[v].expect_vc = -1;
    }
}

static inline int emit(gf_packets *out, const uint8_t *pkt, uint32_t length, int spans, int64_t offset,
                       uint8_t vc, int64_t frame_index, int has_pec)
{
    uint16_t apid = (uint16_t)(((pkt[0] << 8) | pkt[1]) & 0x7FF);
    if (apid == 0x7FF) {
        out->idle_packets++;
        return GF_OK;
    }
    if (out->count >= out->capacity)
        return GF_ECAPACITY;
    size_t i = out->count++;
    out->apid[i] = apid;
    out->seq_count[i] = (uint16_t)(((pkt[2] << 8) | pkt[3]) & 0x3FFF);
    out->vcid[i] = vc;
    out->frame_index[i] = frame_index;
    out->offset[i] = offset;
    out->length[i] = length;
    out->spans[i] = (uint8_t)spans;
    if (has_pec) {
        uint16_t carried = (uint16_t)((pkt[length - 2] << 8) | pkt[length - 1]);
        out->crc_ok[i] = gf_crc16(pkt, length - 2, 0xFFFF) == carried;
    } else {
        out->crc_ok[i] = 1;
    }
    return GF_OK;
}

/* Finish the packet in progress on a VC: copy it to the spill area and list it. */
static int finish_partial(gf_vc_state *v, gf_packets *out, uint8_t vc, int64_t frame_index, int has_pec)
{
    if (out->spill_used + v->have > out->spill_capacity)
        return GF_ECAPACITY;
    memcpy(out->spill + out->spill_used, v->buf, v->have);
    int rc = emit(out, out->spill + out->spill_used, v->have, 1, (int64_t)out->spill_used, vc,
                  frame_index, has_pec);
    if (((v->buf[0] << 8 | v->buf[1]) & 0x7FF) != 0x7FF)
        out->spill_used += v->have;
    v->active = 0;
    v->have = v->need = 0;
    return rc;
}

static inline uint32_t packet_len_of(const uint8_t *h) { return 7u + (uint32_t)((h[4] << 8) | h[5]); }

int gf_extract_packets(const uint8_t *buf, size_t len, const gf_frames *fr, size_t frame_len,
                       int has_ocf, int has_fecf, int has_pec, gf_extract_state *state,
                       gf_packets *out)
{
    size_t trailer = (has_ocf ? 4u : 0u) + (has_fecf ? 2u : 0u);
    if (frame_len < 6 + trailer + 1 || !state || !out)
        return GF_EINVAL;
    const size_t dlen = frame_len - 6 - trailer;
    const uint32_t min_len = has_pec ? 8u : 7u;
    /* Check the whole batch before touching the per-VC state: a caller's bad VC id or offset
       is refused with nothing written, never an index past state->vc or a read past buf. */
    for (size_t i = 0; i < fr->count; i++) {
        if (!fr->fecf_ok[i])
            continue;
        if (fr->vcid[i] >= GF_VC_COUNT || fr->offset[i] < 0 || (size_t)fr->offset[i] > len ||
            len - (size_t)fr->offset[i] < frame_len)
            return GF_EINVAL;
    }
    for (size_t i = 0; i < fr->count; i++) {
        if (!fr->fecf_ok[i])
            continue; /* untrusted header: the VC counter gap on the next good frame tells */
        const uint8_t *d = buf + fr->offset[i] + 6;
        const int64_t data_off = fr->offset[i] + 6;
        uint8_t vc = fr->vcid[i];
        gf_vc_state *v = &state->vc[vc];
        uint16_t fhp = fr->fhp[i];
        if (v->expect_vc >= 0 && fr->vc_count[i] != v->expect_vc && v->active) {
            out->packets_dropped++;
            v->active = 0;
            v->have = v->need = 0;
        }
        v->expect_vc = (fr->vc_count[i] + 1) & 0xFF;
        if (fhp == 0x7FE)
            continue; /* idle frame: only fill */
        size_t limit = (fhp == 0x7FF) ? dlen : fhp;
        if (limit > dlen) {
            /* An FHP beyond the data field: the frame checked, so the sender is broken. */
            out->malformed++;
            if (v->active) {
                out->packets_dropped++;
                v->active = 0;
                v->have = v->need = 0;
            }
            continue;
        }
        size_t pos = 0;
        if (v->active) {
            /* Continue the packet in progress with the octets before the first header. */
            size_t take = limit;
            if (v->need == 0) {
                size_t want = 6 - v->have;
                size_t t = take < want ? take : want;
                memcpy(v->buf + v->have, d, t);
                v->have += (uint32_t)t;
                pos = t;
                if (v->have == 6) {
                    v->need = packet_len_of(v->buf);
                    if (v->need < min_len || ((v->buf[0] >> 5) != 0)) {
                        out->malformed++;
                        v->active = 0;
                        v->have = v->need = 0;
                    }
                }
            }
            if (v->active && v->need) {
                size_t want = v->need - v->have;
                size_t avail = limit - pos;
                size_t t = avail < want ? avail : want;
                memcpy(v->buf + v->have, d + pos, t);
                v->have += (uint32_t)t;
                pos += t;
                if (v->have == v->need) {
                    int rc = finish_partial(v, out, vc, (int64_t)i, has_pec);
                    if (rc)
                        return rc;
                }
            }
            if (fhp == 0x7FF)
                continue;
            if (v->active || pos != fhp) {
                /* The packet in progress disagrees with where the next header starts. */
                if (v->active) {
                    out->packets_dropped++;
                    v->active = 0;
                    v->have = v->need = 0;
                } else {
                    out->malformed++;
                }
            }
            pos = fhp;
        } else {
            if (fhp == 0x7FF)
                continue; /* mid-packet and we hold no start: wait for the next header */
            pos = fhp;
        }
        /* Packets that start in this frame. */
        while (pos < dlen) {
            size_t room = dlen - pos;
            if (room < 6) {
                memcpy(v->buf, d + pos, room);
                v->have = (uint32_t)room;
                v->need = 0;
                v->active = 1;
                break;
            }
            const uint8_t *h = d + pos;
            uint32_t plen = packet_len_of(h);
            if ((h[0] >> 5) != 0 || plen < min_len) {
                out->malformed++;
                break; /* resume at the next frame's first header pointer */
            }
            if (plen <= room) {
                int rc = emit(out, h, plen, 0, data_off + (int64_t)pos, vc, (int64_t)i, has_pec);
                if (rc)
                    return rc;
                pos += plen;
            } else {
                memcpy(v->buf, h, room);
                v->have = (uint32_t)room;
                v->need = plen;
                v->active = 1;
                break;
            }
        }
    }
    return GF_OK;
}
