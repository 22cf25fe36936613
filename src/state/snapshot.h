/*
 * snapshot.h - the byte codec operators write their snapshots with.
 *
 * Snapshots are little-endian and length-prefixed throughout, so they do
 * not depend on the host or on pointers: an operator appends fixed-width
 * integers (rn_snap_put_*) and length-prefixed byte strings to an rn_buf_t,
 * and reads them back with an rn_snap_reader_t whose every read is bounds
 * checked. A read past the end (or a length that does not fit) sets `bad`
 * and yields zeros, so a decoder may read a whole record and check `bad`
 * once; it never reads outside data. Header-only (static inline).
 */
#ifndef RN_SNAPSHOT_H
#define RN_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"

static inline void rn_snap_put_u8(rn_buf_t *b, uint8_t v) { rn_buf_append(b, &v, 1); }

static inline void rn_snap_put_u32(rn_buf_t *b, uint32_t v)
{
    unsigned char p[4];
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
    rn_buf_append(b, p, 4);
}

static inline void rn_snap_put_u64(rn_buf_t *b, uint64_t v)
{
    unsigned char p[8];
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
    rn_buf_append(b, p, 8);
}

/* A u32 length, then the bytes. */
static inline void rn_snap_put_bytes(rn_buf_t *b, const void *data, uint32_t len)
{
    rn_snap_put_u32(b, len);
    if (len) rn_buf_append(b, data, len);
}

typedef struct rn_snap_reader {
    const unsigned char *p;     /* the snapshot (not owned) */
    size_t len;                 /* its length */
    size_t off;                 /* next byte to read */
    bool bad;                   /* a read went past the end: the input is truncated or corrupt */
} rn_snap_reader_t;

static inline void rn_snap_reader_init(rn_snap_reader_t *r, const void *data, size_t len)
{
    r->p = data;
    r->len = data ? len : 0;
    r->off = 0;
    r->bad = false;
}

/* Whether n more bytes are there; marks the reader bad otherwise. */
static inline bool rn_snap_have(rn_snap_reader_t *r, size_t n)
{
    if (r->bad || n > r->len - r->off) {
        r->bad = true;
        return false;
    }
    return true;
}

static inline uint8_t rn_snap_u8(rn_snap_reader_t *r)
{
    if (!rn_snap_have(r, 1)) return 0;
    return r->p[r->off++];
}

static inline uint32_t rn_snap_u32(rn_snap_reader_t *r)
{
    if (!rn_snap_have(r, 4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += 4;
    return v;
}

static inline uint64_t rn_snap_u64(rn_snap_reader_t *r)
{
    if (!rn_snap_have(r, 8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += 8;
    return v;
}

/* A length-prefixed byte string: returns a pointer into the snapshot and
 * its length in *len, or NULL (and marks the reader bad) if it does not fit. */
static inline const void *rn_snap_bytes(rn_snap_reader_t *r, uint32_t *len /* out */)
{
    *len = rn_snap_u32(r);
    if (!rn_snap_have(r, *len)) {
        *len = 0;
        return NULL;
    }
    const void *p = r->p + r->off;
    r->off += *len;
    return p;
}

/* Whether every byte was read and no read failed. */
static inline bool rn_snap_done(const rn_snap_reader_t *r) { return !r->bad && r->off == r->len; }

#endif
