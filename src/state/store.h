/*
 * store.h - the keyed state store every stateful operator keeps its state in.
 *
 * A store maps a byte-string key to a fixed-size value slot. Operators
 * serialize their key (rn_key_*) and keep accumulators in the slot. All
 * keyed state goes through this one interface so that a checkpoint can
 * enumerate, snapshot and restore it without knowing the operator: the
 * iteration API yields (key, value) pairs, and a value may reference
 * side structures (e.g. the distinct-value counts of COUNT(DISTINCT)) that
 * the owning operator serializes through its own snapshot hook.
 *
 * Implementation: open addressing with linear probing over (hash, entry)
 * pairs; each entry is one allocation holding the value slot followed by
 * the key bytes, so slot addresses stay stable while the table grows. A new
 * key costs one allocation; lookups and updates of existing keys cost none.
 */
#ifndef RN_STORE_H
#define RN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/value.h"

typedef struct rn_store rn_store_t;

/* Called for each value slot when it is removed or the store is freed,
 * so side structures can be released. */
typedef void rn_store_value_free_fn(void *value, void *opaque);

/* Creates a store for values of value_size bytes (zero-filled on insert).
 * name shows in metrics. Returns NULL on OOM. */
rn_store_t *rn_store_new(const char *name, size_t value_size, rn_store_value_free_fn *value_free,
                         void *opaque);
void rn_store_free(rn_store_t *st);

/* Returns the value slot for key, or NULL if absent. */
void *rn_store_find(rn_store_t *st, const void *key, uint32_t klen, uint64_t hash);
/* Returns the value slot for key, creating a zeroed one if absent
 * (*created tells which). NULL on OOM. */
void *rn_store_upsert(rn_store_t *st, const void *key, uint32_t klen, uint64_t hash,
                      bool *created /* out */);
/* Removes key if present (calling value_free on its slot). */
void rn_store_remove(rn_store_t *st, const void *key, uint32_t klen, uint64_t hash);
/* The key bytes of the entry owning value slot v (valid while the entry lives). */
const void *rn_store_key_of(const rn_store_t *st, const void *v, uint32_t *klen /* out */);

size_t rn_store_count(const rn_store_t *st);
/* Bytes held by entries and the table (not side structures). */
size_t rn_store_bytes(const rn_store_t *st);
const char *rn_store_name(const rn_store_t *st);

/* Iteration: pos starts at 0; returns the next value slot or NULL at the
 * end. The store must not be modified during iteration. */
void *rn_store_next(const rn_store_t *st, size_t *pos);

/* ---- key serialization ----------------------------------------------
 * A composite key is the concatenation of its columns, each a tag byte
 * (0 = NULL, 1 = value) followed by 8 bytes (integers, timestamps,
 * booleans, doubles with -0.0 folded into 0.0) or a 4-byte length and the
 * bytes (strings). Equal SQL values give equal bytes. */
void rn_key_append(rn_buf_t *key, rn_type_id t, const rn_value_t *v);
/* Decodes the next column of type t from key[*off..], advancing *off.
 * Strings point into key. Returns false on a malformed key. */
bool rn_key_read(const void *key, uint32_t klen, uint32_t *off, rn_type_id t,
                 rn_value_t *out /* out */);

#endif
