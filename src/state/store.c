/*
 * store.c - the keyed state store; see store.h for what it promises.
 *
 * Three layers, lowest first:
 *   1. slabs: entries are carved from chunks that double in size up to
 *      1 MiB, with one free list per entry size (in 8-byte steps) so a
 *      removed entry's bytes go to the next entry of that size. Entries
 *      above SLAB_MAX bytes get their own allocation.
 *   2. the table: SwissTable-style control bytes (EMPTY, DELETED or the top
 *      7 bits of the entry's 32-bit hash) plus entry pointers, probed in
 *      groups of 8 control bytes read as one 64-bit word (portable SWAR, no
 *      SIMD), triangular steps between groups, at most 7/8 full. Deletion
 *      leaves a DELETED mark only where a probe could have passed the slot
 *      full; a rehash drops the marks. Growing reallocates the arrays
 *      and re-places entries in place, so the peak is the new table only.
 *   3. the keyed API, with the optional TTL: a last-access time in the
 *      entry header, checked on access and by the incremental sweep.
 *
 * An entry: uint32 key length, uint32 hash, [int64 last access if TTL],
 * value slot (value_size bytes), key bytes; size rounded up to 8.
 */
#include "state/store.h"
#include "core/assert.h"
#include "core/hash.h"
#include "core/mem.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "store.c reads control-byte groups as little-endian words"
#endif

#define GROUP 8                 /* control bytes probed at once */
#define CTRL_EMPTY 0x80
#define CTRL_DELETED 0xFE
#define LSBS 0x0101010101010101ULL
#define MSBS 0x8080808080808080ULL
#define SLAB_MAX 512            /* larger entries are allocated one by one */
#define CHUNK_MIN 256           /* bytes of the first chunk */
#define CHUNK_MAX (1u << 20)    /* chunks double up to this */

typedef struct entry_hdr {
    uint32_t klen;              /* key length in bytes */
    uint32_t h32;               /* the key's hash, folded to 32 bits */
} entry_hdr_t;

typedef struct slab_chunk {
    struct slab_chunk *next;    /* chunks of the store, newest first */
    size_t size;                /* bytes after the header */
    _Alignas(16) unsigned char data[];
} slab_chunk_t;

struct rn_store {
    char *name;                 /* for metrics */
    size_t value_size;          /* bytes per value slot */
    size_t hdr;                 /* entry header: 8, or 16 with a TTL */
    /* table */
    unsigned char *ctrl;        /* cap + GROUP control bytes (the last GROUP clone the first) */
    entry_hdr_t **ents;         /* cap entry pointers (valid where ctrl is full) */
    size_t cap;                 /* power of two, >= GROUP */
    size_t count;               /* live entries */
    size_t growth_left;         /* EMPTY slots that may still be filled before a rehash */
    size_t sweep_pos;           /* where the next rn_store_sweep starts */
    /* slabs */
    slab_chunk_t *chunks;       /* all chunks, newest first */
    unsigned char *bump;        /* free space in the newest chunk ... */
    unsigned char *bump_end;    /* ... up to here */
    size_t next_chunk;          /* size of the next chunk */
    void **free_lists;          /* per size class (size / 8): removed entries, linked through their first word */
    size_t nclasses;            /* length of free_lists */
    size_t nbig;                /* entries allocated one by one (> SLAB_MAX) */
    size_t bytes;               /* bytes of chunks and big entries */
    /* TTL */
    int64_t ttl_ms;             /* 0: entries never expire */
    int64_t now_ms;             /* current time for accesses */
    rn_store_value_free_fn *value_free; /* may be NULL */
    void *opaque;               /* passed to value_free */
};

/* ---- slabs -------------------------------------------------------------- */

static size_t entry_size(const rn_store_t *st, uint32_t klen)
{
    return (st->hdr + st->value_size + klen + 7) & ~(size_t)7;
}

static void *slab_alloc(rn_store_t *st, size_t size)
{
    if (size > SLAB_MAX) {
        void *p = rn_malloc(size);
        if (!p) return NULL;
        st->nbig++;
        st->bytes += size;
        return p;
    }
    size_t cls = size / 8;
    if (cls < st->nclasses && st->free_lists[cls]) {
        void *p = st->free_lists[cls];
        memcpy(&st->free_lists[cls], p, sizeof(void *));
        return p;
    }
    if ((size_t)(st->bump_end - st->bump) < size) {
        size_t csize = st->next_chunk;
        while (csize < size) csize *= 2;
        slab_chunk_t *c = rn_malloc(sizeof *c + csize);
        if (!c) return NULL;
        c->next = st->chunks;
        c->size = csize;
        st->chunks = c;
        st->bump = c->data;
        st->bump_end = c->data + csize;
        st->bytes += sizeof *c + csize;
        if (st->next_chunk < CHUNK_MAX) st->next_chunk *= 2;
    }
    void *p = st->bump;
    st->bump += size;
    return p;
}

/* Gives an entry's bytes back: to its size's free list, or to the heap. */
static void slab_release(rn_store_t *st, void *p, size_t size)
{
    if (size > SLAB_MAX) {
        rn_free(p);
        st->nbig--;
        st->bytes -= size;
        return;
    }
    size_t cls = size / 8;
    if (cls >= st->nclasses) {
        void **nl = rn_realloc(st->free_lists, (cls + 1) * sizeof *nl);
        if (!nl) return; /* out of memory: the bytes stay unused until rn_store_free */
        for (size_t i = st->nclasses; i <= cls; i++) nl[i] = NULL;
        st->free_lists = nl;
        st->nclasses = cls + 1;
    }
    memcpy(p, &st->free_lists[cls], sizeof(void *));
    st->free_lists[cls] = p;
}

/* ---- the table ---------------------------------------------------------- */

static inline uint32_t fold_hash(uint64_t hash) { return (uint32_t)(hash ^ (hash >> 32)); }
static inline unsigned char hash_tag(uint32_t h32) { return (unsigned char)(h32 >> 25); }
static inline uint64_t group_load(const unsigned char *c)
{
    uint64_t g;
    memcpy(&g, c, sizeof g);
    return g;
}
/* Bit 7 of byte i set where byte i may equal tag (false positives possible
 * above a true match; callers compare the entry). */
static inline uint64_t group_match(uint64_t g, unsigned char tag)
{
    uint64_t x = g ^ (LSBS * tag);
    return (x - LSBS) & ~x & MSBS;
}
static inline uint64_t group_empty(uint64_t g) { return g & ~(g << 6) & MSBS; }
static inline uint64_t group_empty_or_deleted(uint64_t g) { return g & ~(g << 7) & MSBS; }
static inline size_t bit_byte(uint64_t m) { return (size_t)__builtin_ctzll(m) >> 3; }
static inline bool ctrl_full(unsigned char c) { return c < 0x80; }
static inline size_t max_load(size_t cap) { return cap - cap / 8; }

static inline void set_ctrl(unsigned char *ctrl, size_t cap, size_t i, unsigned char c)
{
    ctrl[i] = c;
    if (i < GROUP) ctrl[cap + i] = c;
}

static inline unsigned char *entry_value(const rn_store_t *st, entry_hdr_t *e)
{
    return (unsigned char *)e + st->hdr;
}
static inline int64_t *entry_stamp(entry_hdr_t *e) { return (int64_t *)(e + 1); }

/* The first EMPTY or DELETED slot on h32's probe sequence. */
static size_t table_free_slot(const unsigned char *ctrl, size_t cap, uint32_t h32)
{
    size_t mask = cap - 1, pos = h32 & mask, step = 0;
    for (;;) {
        uint64_t m = group_empty_or_deleted(group_load(ctrl + pos));
        if (m) return (pos + bit_byte(m)) & mask;
        step += GROUP;
        pos = (pos + step) & mask;
    }
}

/* The slot of key, or SIZE_MAX. */
static size_t table_find(const rn_store_t *st, const void *key, uint32_t klen, uint32_t h32)
{
    size_t mask = st->cap - 1, pos = h32 & mask, step = 0;
    unsigned char tag = hash_tag(h32);
    for (;;) {
        uint64_t g = group_load(st->ctrl + pos);
        for (uint64_t m = group_match(g, tag); m; m &= m - 1) {
            size_t i = (pos + bit_byte(m)) & mask;
            const entry_hdr_t *e = st->ents[i];
            /* klen 0 (a global aggregate's key) may come with key NULL: no memcmp then */
            if (e->h32 == h32 && e->klen == klen &&
                (klen == 0 ||
                 memcmp((const unsigned char *)e + st->hdr + st->value_size, key, klen) == 0))
                return i;
        }
        if (group_empty(g)) return SIZE_MAX;
        step += GROUP;
        pos = (pos + step) & mask;
    }
}

/* Resizes the table to ncap (>= cap) slots in place and re-places every
 * entry, dropping DELETED marks (abseil's drop_deletes_without_resize,
 * after a realloc that for large tables moves pages instead of copying
 * them, so old and new table never both occupy memory). Returns -1 on OOM
 * (the table is unchanged). */
static int table_resize(rn_store_t *st, size_t ncap)
{
    size_t oc = st->cap;
    if (ncap != oc) {
        entry_hdr_t **ne = rn_realloc(st->ents, ncap * sizeof *ne);
        if (!ne) return -1;
        st->ents = ne;
        unsigned char *nc = rn_realloc(st->ctrl, ncap + GROUP);
        if (!nc) return -1; /* ents is larger than needed; harmless */
        st->ctrl = nc;
    }
    unsigned char *ctrl = st->ctrl;
    /* Full slots become DELETED ("to be placed"), the others EMPTY. */
    for (size_t i = 0; i < oc; i++) ctrl[i] = ctrl_full(ctrl[i]) ? CTRL_DELETED : CTRL_EMPTY;
    memset(ctrl + oc, CTRL_EMPTY, ncap - oc + GROUP);
    for (size_t i = 0; i < GROUP; i++) ctrl[ncap + i] = ctrl[i];
    st->cap = ncap;
    size_t mask = ncap - 1;
    for (size_t i = 0; i < ncap; i++) {
        if (ctrl[i] != CTRL_DELETED) continue;
        entry_hdr_t *e = st->ents[i];
        size_t start = e->h32 & mask;
        size_t target = table_free_slot(ctrl, ncap, e->h32);
        unsigned char tag = hash_tag(e->h32);
        if (((i - start) & mask) / GROUP == ((target - start) & mask) / GROUP) {
            set_ctrl(ctrl, ncap, i, tag); /* already in the right probe group */
        } else if (ctrl[target] == CTRL_EMPTY) {
            set_ctrl(ctrl, ncap, target, tag);
            st->ents[target] = e;
            set_ctrl(ctrl, ncap, i, CTRL_EMPTY);
        } else { /* target holds an entry not placed yet: swap, then place that one */
            set_ctrl(ctrl, ncap, target, tag);
            st->ents[i] = st->ents[target];
            st->ents[target] = e;
            i--;
        }
    }
    RN_ASSERT(st->count <= max_load(ncap));
    st->growth_left = max_load(ncap) - st->count;
    st->sweep_pos = 0;
    return 0;
}

/* Empties slot i (its entry is already released). */
static void table_erase(rn_store_t *st, size_t i)
{
    size_t mask = st->cap - 1;
    uint64_t after = group_empty(group_load(st->ctrl + i));
    uint64_t before = group_empty(group_load(st->ctrl + ((i - GROUP) & mask)));
    /* If an EMPTY lies within GROUP slots on both sides, no probe ever
     * passed this slot while it was full with a full group: EMPTY is safe. */
    bool empty_ok = after && before &&
                    ((size_t)__builtin_ctzll(after) >> 3) + ((size_t)__builtin_clzll(before) >> 3) < GROUP;
    set_ctrl(st->ctrl, st->cap, i, empty_ok ? CTRL_EMPTY : CTRL_DELETED);
    if (empty_ok) st->growth_left++;
    st->count--;
}

/* Removes the entry in slot i: value_free, bytes back to the slab, slot emptied. */
static void store_remove_at(rn_store_t *st, size_t i)
{
    entry_hdr_t *e = st->ents[i];
    if (st->value_free) st->value_free(entry_value(st, e), st->opaque);
    slab_release(st, e, entry_size(st, e->klen));
    table_erase(st, i);
}

static inline bool entry_expired(const rn_store_t *st, entry_hdr_t *e)
{
    return st->ttl_ms > 0 && st->now_ms - *entry_stamp(e) >= st->ttl_ms;
}

/* ---- the keyed API ------------------------------------------------------ */

rn_store_t *rn_store_new(const char *name, size_t value_size, rn_store_value_free_fn *value_free,
                         void *opaque)
{
    rn_store_t *st = rn_calloc(1, sizeof *st);
    if (!st) return NULL;
    st->name = rn_strdup(name ? name : "state");
    if (!st->name) {
        rn_free(st);
        return NULL;
    }
    st->value_size = value_size;
    st->hdr = sizeof(entry_hdr_t);
    st->next_chunk = CHUNK_MIN;
    st->value_free = value_free;
    st->opaque = opaque;
    if (table_resize(st, GROUP) != 0) {
        rn_free(st->ents);
        rn_free(st->name);
        rn_free(st);
        return NULL;
    }
    return st;
}

void rn_store_free(rn_store_t *st)
{
    if (!st) return;
    /* Entry by entry only where something is owned; the slabs go wholesale. */
    if (st->value_free || st->nbig) {
        for (size_t i = 0; i < st->cap; i++) {
            if (!ctrl_full(st->ctrl[i])) continue;
            entry_hdr_t *e = st->ents[i];
            if (st->value_free) st->value_free(entry_value(st, e), st->opaque);
            if (entry_size(st, e->klen) > SLAB_MAX) rn_free(e);
        }
    }
    for (slab_chunk_t *c = st->chunks, *next; c; c = next) {
        next = c->next;
        rn_free(c);
    }
    rn_free(st->free_lists);
    rn_free(st->ctrl);
    rn_free(st->ents);
    rn_free(st->name);
    rn_free(st);
}

void *rn_store_find(rn_store_t *st, const void *key, uint32_t klen, uint64_t hash)
{
    size_t i = table_find(st, key, klen, fold_hash(hash));
    if (i == SIZE_MAX) return NULL;
    entry_hdr_t *e = st->ents[i];
    if (st->ttl_ms > 0) {
        if (entry_expired(st, e)) {
            store_remove_at(st, i);
            return NULL;
        }
        *entry_stamp(e) = st->now_ms;
    }
    return entry_value(st, e);
}

void *rn_store_peek(const rn_store_t *st, const void *key, uint32_t klen, uint64_t hash)
{
    size_t i = table_find(st, key, klen, fold_hash(hash));
    if (i == SIZE_MAX || entry_expired(st, st->ents[i])) return NULL;
    return entry_value(st, st->ents[i]);
}

void *rn_store_upsert(rn_store_t *st, const void *key, uint32_t klen, uint64_t hash, bool *created)
{
    uint32_t h32 = fold_hash(hash);
    size_t i = table_find(st, key, klen, h32);
    if (i != SIZE_MAX) {
        entry_hdr_t *e = st->ents[i];
        if (st->ttl_ms > 0 && entry_expired(st, e)) {
            store_remove_at(st, i); /* then insert afresh */
        } else {
            if (st->ttl_ms > 0) *entry_stamp(e) = st->now_ms;
            *created = false;
            return entry_value(st, e);
        }
    }
    i = table_free_slot(st->ctrl, st->cap, h32);
    if (st->growth_left == 0 && st->ctrl[i] != CTRL_DELETED) {
        /* Full of entries and DELETED marks: drop the marks in place when
         * they are many, else double. */
        size_t ncap = st->count * 2 < max_load(st->cap) ? st->cap : st->cap * 2;
        if (table_resize(st, ncap) != 0) return NULL;
        i = table_free_slot(st->ctrl, st->cap, h32);
    }
    size_t size = entry_size(st, klen);
    entry_hdr_t *e = slab_alloc(st, size);
    if (!e) return NULL;
    e->klen = klen;
    e->h32 = h32;
    if (st->ttl_ms > 0) *entry_stamp(e) = st->now_ms;
    unsigned char *v = entry_value(st, e);
    memset(v, 0, st->value_size);
    if (klen) memcpy(v + st->value_size, key, klen);
    if (st->ctrl[i] == CTRL_EMPTY) st->growth_left--;
    set_ctrl(st->ctrl, st->cap, i, hash_tag(h32));
    st->ents[i] = e;
    st->count++;
    RN_ASSERT(st->count <= max_load(st->cap) && ((uintptr_t)v & 7) == 0);
    *created = true;
    return v;
}

void rn_store_prefetch(const rn_store_t *st, uint64_t hash)
{
    size_t i = fold_hash(hash) & (st->cap - 1);
    __builtin_prefetch(st->ctrl + i);
    __builtin_prefetch(st->ents + i);
}

void rn_store_remove(rn_store_t *st, const void *key, uint32_t klen, uint64_t hash)
{
    size_t i = table_find(st, key, klen, fold_hash(hash));
    if (i != SIZE_MAX) store_remove_at(st, i);
}

void rn_store_remove_value(rn_store_t *st, void *v)
{
    const entry_hdr_t *e = (const entry_hdr_t *)((const unsigned char *)v - st->hdr);
    /* the probe of table_find, matching the entry itself: no key compared */
    size_t mask = st->cap - 1, pos = e->h32 & mask, step = 0;
    unsigned char tag = hash_tag(e->h32);
    for (;;) {
        uint64_t g = group_load(st->ctrl + pos);
        for (uint64_t m = group_match(g, tag); m; m &= m - 1) {
            size_t i = (pos + bit_byte(m)) & mask;
            if (st->ents[i] == e) {
                store_remove_at(st, i);
                return;
            }
        }
        RN_ASSERT(!group_empty(g)); /* v is a live entry's */
        if (group_empty(g)) return;
        step += GROUP;
        pos = (pos + step) & mask;
    }
}

const void *rn_store_key_of(const rn_store_t *st, const void *v, uint32_t *klen)
{
    const entry_hdr_t *e = (const entry_hdr_t *)((const unsigned char *)v - st->hdr);
    *klen = e->klen;
    return (const unsigned char *)v + st->value_size;
}

size_t rn_store_count(const rn_store_t *st) { return st->count; }
size_t rn_store_bytes(const rn_store_t *st)
{
    return st->bytes + st->cap * (sizeof(entry_hdr_t *) + 1) + GROUP +
           st->nclasses * sizeof(void *);
}
const char *rn_store_name(const rn_store_t *st) { return st->name; }

void *rn_store_next(const rn_store_t *st, size_t *pos)
{
    while (*pos < st->cap) {
        size_t i = (*pos)++;
        if (ctrl_full(st->ctrl[i])) return entry_value(st, st->ents[i]);
    }
    return NULL;
}

void rn_store_remove_iterated(rn_store_t *st, size_t pos)
{
    RN_ASSERT(pos > 0 && pos <= st->cap && ctrl_full(st->ctrl[pos - 1]));
    store_remove_at(st, pos - 1);
}

void rn_store_forget_partitions(rn_store_t *st, int32_t nparts, const uint8_t *revoked)
{
    if (nparts <= 0) return;
    size_t pos = 0;
    void *v;
    while ((v = rn_store_next(st, &pos))) {
        uint32_t klen;
        const void *key = rn_store_key_of(st, v, &klen);
        if (revoked[rn_key_partition(key, klen, nparts)]) rn_store_remove_iterated(st, pos);
    }
}

bool rn_store_set_ttl(rn_store_t *st, int64_t ttl_ms)
{
    if (st->count > 0 || st->chunks || ttl_ms < 0) return false;
    st->ttl_ms = ttl_ms;
    st->hdr = sizeof(entry_hdr_t) + (ttl_ms > 0 ? sizeof(int64_t) : 0);
    return true;
}

int64_t rn_store_ttl(const rn_store_t *st) { return st->ttl_ms; }

int64_t rn_store_access_time(const rn_store_t *st, const void *v)
{
    if (st->ttl_ms <= 0) return 0;
    entry_hdr_t *e = (entry_hdr_t *)((unsigned char *)(uintptr_t)v - st->hdr);
    return *entry_stamp(e);
}

void rn_store_set_access_time(rn_store_t *st, void *v, int64_t t)
{
    if (st->ttl_ms <= 0) return;
    entry_hdr_t *e = (entry_hdr_t *)((unsigned char *)v - st->hdr);
    *entry_stamp(e) = t;
}
void rn_store_set_now(rn_store_t *st, int64_t now_ms) { st->now_ms = now_ms; }

size_t rn_store_sweep(rn_store_t *st, size_t max_slots, rn_store_keep_fn *keep, void *opaque)
{
    size_t removed = 0;
    if (st->ttl_ms <= 0 && !keep) return 0;
    if (max_slots > st->cap) max_slots = st->cap;
    size_t i = st->sweep_pos & (st->cap - 1);
    for (size_t n = 0; n < max_slots; n++, i = (i + 1) & (st->cap - 1)) {
        if (!ctrl_full(st->ctrl[i])) continue;
        entry_hdr_t *e = st->ents[i];
        if (entry_expired(st, e) || (keep && !keep(entry_value(st, e), opaque))) {
            store_remove_at(st, i);
            removed++;
        }
    }
    st->sweep_pos = i;
    return removed;
}

void rn_key_append(rn_buf_t *key, rn_type_id t, const rn_value_t *v)
{
    /* one room check, then the bytes in place: this runs per row and key */
    size_t need = v->null ? 1 : t == RN_TYPE_STRING ? 5 + (size_t)v->len : 9;
    if (key->len + need + 1 > key->cap && rn_buf_reserve(key, need) != 0) return;
    unsigned char *p = (unsigned char *)key->data + key->len;
    if (v->null) {
        p[0] = 0;
    } else if (t == RN_TYPE_STRING) {
        uint32_t len = v->len;
        p[0] = 1;
        memcpy(p + 1, &len, 4);
        if (len) memcpy(p + 5, v->s, len);
    } else if (t == RN_TYPE_DOUBLE) {
        double d = v->d == 0.0 ? 0.0 : v->d;
        p[0] = 1;
        memcpy(p + 1, &d, 8);
    } else {
        p[0] = 1;
        memcpy(p + 1, &v->i, 8);
    }
    key->len += need;
    key->data[key->len] = '\0';
}

int32_t rn_key_partition(const void *key, uint32_t klen, int32_t nparts)
{
    uint32_t h = rn_hash_murmur2(klen ? key : "", klen);
    return nparts > 0 ? (int32_t)((h & 0x7fffffff) % (uint32_t)nparts) : 0;
}

bool rn_key_read(const void *key, uint32_t klen, uint32_t *off, rn_type_id t, rn_value_t *out)
{
    const unsigned char *k = key;
    if (*off >= klen) return false;
    unsigned char tag = k[(*off)++];
    memset(out, 0, sizeof *out);
    if (tag == 0) {
        out->null = 1;
        return true;
    }
    if (t == RN_TYPE_STRING) {
        uint32_t len;
        if (*off + 4 > klen) return false;
        memcpy(&len, k + *off, 4);
        *off += 4;
        if (*off + len > klen) return false;
        out->s = (const char *)k + *off;
        out->len = len;
        *off += len;
        return true;
    }
    if (*off + 8 > klen) return false;
    memcpy(t == RN_TYPE_DOUBLE ? (void *)&out->d : (void *)&out->i, k + *off, 8);
    *off += 8;
    return true;
}
