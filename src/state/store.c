/*
 * store.c - open-addressing keyed state store; see store.h.
 *
 * The table holds (hash, entry) pairs with linear probing and backward-shift
 * deletion (no tombstones), kept at most 70% full.
 */
#include "state/store.h"
#include "core/mem.h"

#include <string.h>

typedef struct store_entry {
    uint32_t klen;               /* key length in bytes */
    uint32_t pad;                /* keeps the value slot 16-byte aligned */
    uint64_t pad2;
    _Alignas(16) unsigned char data[]; /* value slot (value_size, rounded), then key */
} store_entry_t;

typedef struct store_slot {
    uint64_t hash;               /* full hash of the key */
    store_entry_t *entry;        /* NULL = empty */
} store_slot_t;

struct rn_store {
    char *name;                  /* for metrics */
    size_t value_size;           /* bytes per value slot, as given */
    size_t value_stride;         /* value_size rounded up to 16 */
    store_slot_t *slots;         /* table, cap entries */
    size_t cap;                  /* power of two */
    size_t count;                /* live entries */
    size_t bytes;                /* bytes allocated for entries */
    rn_store_value_free_fn *value_free; /* may be NULL */
    void *opaque;                /* passed to value_free */
};

rn_store_t *rn_store_new(const char *name, size_t value_size, rn_store_value_free_fn *value_free,
                         void *opaque)
{
    rn_store_t *st = rn_calloc(1, sizeof *st);
    if (!st) return NULL;
    st->name = rn_strdup(name ? name : "state");
    st->cap = 8;
    st->slots = rn_calloc(st->cap, sizeof *st->slots);
    if (!st->name || !st->slots) {
        rn_free(st->name);
        rn_free(st->slots);
        rn_free(st);
        return NULL;
    }
    st->value_size = value_size;
    st->value_stride = (value_size + 15) & ~(size_t)15;
    st->value_free = value_free;
    st->opaque = opaque;
    return st;
}

void rn_store_free(rn_store_t *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->cap; i++) {
        store_entry_t *e = st->slots[i].entry;
        if (!e) continue;
        if (st->value_free) st->value_free(e->data, st->opaque);
        rn_free(e);
    }
    rn_free(st->slots);
    rn_free(st->name);
    rn_free(st);
}

static inline bool store_entry_matches(const rn_store_t *st, const store_slot_t *s, const void *key,
                                       uint32_t klen, uint64_t hash)
{
    /* klen 0 (a global aggregate's key) may come with key NULL: no memcmp then */
    return s->hash == hash && s->entry->klen == klen &&
           (klen == 0 || memcmp(s->entry->data + st->value_stride, key, klen) == 0);
}

void *rn_store_find(rn_store_t *st, const void *key, uint32_t klen, uint64_t hash)
{
    size_t mask = st->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        store_slot_t *s = &st->slots[i];
        if (!s->entry) return NULL;
        if (store_entry_matches(st, s, key, klen, hash)) return s->entry->data;
    }
}

static int store_grow(rn_store_t *st)
{
    size_t ncap = st->cap * 2;
    store_slot_t *ns = rn_calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < st->cap; i++) {
        if (!st->slots[i].entry) continue;
        size_t j = st->slots[i].hash & (ncap - 1);
        while (ns[j].entry) j = (j + 1) & (ncap - 1);
        ns[j] = st->slots[i];
    }
    rn_free(st->slots);
    st->slots = ns;
    st->cap = ncap;
    return 0;
}

void *rn_store_upsert(rn_store_t *st, const void *key, uint32_t klen, uint64_t hash, bool *created)
{
    size_t mask = st->cap - 1;
    size_t i = hash & mask;
    for (;; i = (i + 1) & mask) {
        store_slot_t *s = &st->slots[i];
        if (!s->entry) break;
        if (store_entry_matches(st, s, key, klen, hash)) {
            *created = false;
            return s->entry->data;
        }
    }
    if ((st->count + 1) * 10 > st->cap * 7) {
        if (store_grow(st) != 0) return NULL;
        mask = st->cap - 1;
        i = hash & mask;
        while (st->slots[i].entry) i = (i + 1) & mask;
    }
    size_t size = sizeof(store_entry_t) + st->value_stride + klen;
    store_entry_t *e = rn_malloc(size);
    if (!e) return NULL;
    e->klen = klen;
    memset(e->data, 0, st->value_stride);
    if (klen) memcpy(e->data + st->value_stride, key, klen);
    st->slots[i].hash = hash;
    st->slots[i].entry = e;
    st->count++;
    st->bytes += size;
    *created = true;
    return e->data;
}

void rn_store_remove(rn_store_t *st, const void *key, uint32_t klen, uint64_t hash)
{
    size_t mask = st->cap - 1;
    size_t i = hash & mask;
    for (;; i = (i + 1) & mask) {
        store_slot_t *s = &st->slots[i];
        if (!s->entry) return;
        if (store_entry_matches(st, s, key, klen, hash)) break;
    }
    store_entry_t *e = st->slots[i].entry;
    if (st->value_free) st->value_free(e->data, st->opaque);
    st->bytes -= sizeof(store_entry_t) + st->value_stride + e->klen;
    rn_free(e);
    st->count--;
    /* Backward-shift deletion: pull later entries of the probe run back. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; st->slots[j].entry; j = (j + 1) & mask) {
        size_t home = st->slots[j].hash & mask;
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        bool home_between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_between) {
            st->slots[hole] = st->slots[j];
            hole = j;
        }
    }
    st->slots[hole].entry = NULL;
    st->slots[hole].hash = 0;
}

const void *rn_store_key_of(const rn_store_t *st, const void *v, uint32_t *klen)
{
    const store_entry_t *e =
        (const store_entry_t *)((const unsigned char *)v - offsetof(store_entry_t, data));
    *klen = e->klen;
    return (const unsigned char *)v + st->value_stride;
}

size_t rn_store_count(const rn_store_t *st) { return st->count; }
size_t rn_store_bytes(const rn_store_t *st) { return st->bytes + st->cap * sizeof(store_slot_t); }
const char *rn_store_name(const rn_store_t *st) { return st->name; }

void *rn_store_next(const rn_store_t *st, size_t *pos)
{
    while (*pos < st->cap) {
        store_entry_t *e = st->slots[(*pos)++].entry;
        if (e) return e->data;
    }
    return NULL;
}

void rn_key_append(rn_buf_t *key, rn_type_id t, const rn_value_t *v)
{
    if (v->null) {
        rn_buf_appendc(key, 0);
        return;
    }
    rn_buf_appendc(key, 1);
    if (t == RN_TYPE_STRING) {
        uint32_t len = v->len;
        rn_buf_append(key, &len, 4);
        rn_buf_append(key, v->s, v->len);
    } else if (t == RN_TYPE_DOUBLE) {
        double d = v->d == 0.0 ? 0.0 : v->d;
        rn_buf_append(key, &d, 8);
    } else {
        rn_buf_append(key, &v->i, 8);
    }
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
