/*
 * store.h - the keyed state store every stateful operator keeps its state in.
 *
 * A store maps a byte-string key to a fixed-size value slot. Operators
 * serialize their key (rn_key_*) and keep accumulators in the slot. All
 * keyed state goes through this one interface so that a checkpoint can
 * enumerate, snapshot and restore it without knowing the operator: the
 * iteration API yields value slots and rn_store_key_of their key bytes, and
 * a value may reference side structures (e.g. the value multiset of MIN over
 * a retracting input) that the owning operator serializes through its own
 * snapshot hook.
 *
 * What holds:
 * - A value slot is value_size bytes, zero-filled on insert, 8-byte aligned,
 *   and stays at the same address until its key is removed (or expires):
 *   growing the table never moves entries, so operators may hold slot
 *   pointers across other inserts within a batch.
 * - Entries (an 8-byte header, 16 with a TTL, then the value slot, then the
 *   key bytes, rounded up to 8) are carved from slab chunks, not one malloc
 *   each; removed entries are reused by later entries of the same size, and
 *   rn_store_free releases the chunks wholesale. It visits entries one by
 *   one only if the store has a value_free callback or holds entries too
 *   large for the slabs.
 * - The table is SwissTable-like: one control byte per slot (empty,
 *   deleted, or 7 bits of the key's hash) next to an 8-byte entry pointer,
 *   probed 8 slots at a time, at most 7/8 full. A lookup reads control
 *   bytes and touches an entry only on a 7-bit match.
 * - Optional time-to-live (rn_store_set_ttl): each entry remembers when it
 *   was last found or upserted (the time given by rn_store_set_now); an
 *   entry not accessed for ttl ms is expired: lookups treat it as absent and
 *   remove it, and rn_store_sweep removes expired entries incrementally.
 */
#ifndef RN_STORE_H
#define RN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/value.h"

typedef struct rn_store rn_store_t;

/* Called for each value slot when it is removed (explicitly, expired or
 * swept) or the store is freed, so side structures can be released. */
typedef void rn_store_value_free_fn(void *value, void *opaque);

/* Creates a store for values of value_size bytes (zero-filled on insert).
 * name shows in metrics. value_free may be NULL (then freeing the store
 * does not visit its entries). Returns NULL on OOM. */
rn_store_t *rn_store_new(const char *name, size_t value_size, rn_store_value_free_fn *value_free,
                         void *opaque);
/* Frees the store, calling value_free (if any) on every remaining slot. */
void rn_store_free(rn_store_t *st);

/* Returns the value slot for key, or NULL if absent. With a TTL an expired
 * entry is removed and NULL returned; a live one counts as accessed now. */
void *rn_store_find(rn_store_t *st, const void *key, uint32_t klen, uint64_t hash);
/* As rn_store_find, but never removes and never counts as an access. */
void *rn_store_peek(const rn_store_t *st, const void *key, uint32_t klen, uint64_t hash);
/* Returns the value slot for key, creating a zeroed one if absent or
 * expired (*created tells which). NULL on OOM (the store is unchanged,
 * except that an expired entry for key may have been removed). */
void *rn_store_upsert(rn_store_t *st, const void *key, uint32_t klen, uint64_t hash,
                      bool *created /* out */);
/* A hint that key with this hash is looked up soon: prefetches the table
 * slots where the lookup starts. Issued for a batch of keys before their
 * lookups, it overlaps their cache misses. */
void rn_store_prefetch(const rn_store_t *st, uint64_t hash);
/* Removes key if present (calling value_free on its slot). */
void rn_store_remove(rn_store_t *st, const void *key, uint32_t klen, uint64_t hash);
/* Removes the entry owning value slot v (calling value_free on it), found
 * by its stored hash and address: no key copy, no key compared. */
void rn_store_remove_value(rn_store_t *st, void *v);
/* The key bytes of the entry owning value slot v (valid while the entry lives). */
const void *rn_store_key_of(const rn_store_t *st, const void *v, uint32_t *klen /* out */);

/* Entries held, including expired ones not removed yet. */
size_t rn_store_count(const rn_store_t *st);
/* Bytes held by slab chunks, large entries and the table (not side
 * structures). */
size_t rn_store_bytes(const rn_store_t *st);
const char *rn_store_name(const rn_store_t *st);

/* Iteration: pos starts at 0; returns the next value slot or NULL at the
 * end (expired entries not removed yet included). The store must not be
 * modified during iteration, except that the slot just returned may be
 * removed. */
void *rn_store_next(const rn_store_t *st, size_t *pos);
/* Removes the entry whose value slot rn_store_next(st, &pos) just
 * returned (pos as that call left it), calling value_free on it; the
 * iteration may go on from pos. Needs no key copy and no lookup, and
 * cannot fail. */
void rn_store_remove_iterated(rn_store_t *st, size_t pos);
/* Removes every entry whose key (serialized with rn_key_append) falls in
 * a partition marked in revoked[0..nparts) (rn_key_partition): the
 * forget_partitions of an operator keyed by its whole store key. Cannot
 * fail. */
void rn_store_forget_partitions(rn_store_t *st, int32_t nparts, const uint8_t *revoked);

/* ---- time-to-live ------------------------------------------------------
 * Gives entries a last-access time (8 more bytes each): an entry not found
 * or upserted for ttl_ms (> 0) of the time set with rn_store_set_now is
 * expired, and is dropped without further notice than value_free. Only on
 * an empty store; returns false otherwise. */
bool rn_store_set_ttl(rn_store_t *st, int64_t ttl_ms);
int64_t rn_store_ttl(const rn_store_t *st);
/* Sets the current time (processing time, ms) for accesses and expiry. */
void rn_store_set_now(rn_store_t *st, int64_t now_ms);
/* The last-access time of the entry owning value slot v (for snapshots);
 * 0 in a store without a TTL. */
int64_t rn_store_access_time(const rn_store_t *st, const void *v);
/* Sets it (for restoring a snapshot); does nothing without a TTL. */
void rn_store_set_access_time(rn_store_t *st, void *v, int64_t t);

/* Decides whether a swept entry stays (true) or is removed (false). */
typedef bool rn_store_keep_fn(void *value, void *opaque);
/* Incremental cleanup: examines the next max_slots table slots after
 * where the previous sweep stopped (wrapping around) and removes the
 * entries that are expired or that keep (may be NULL) rejects. Bounded
 * work, so it can run once per batch. Returns the entries removed. */
size_t rn_store_sweep(rn_store_t *st, size_t max_slots, rn_store_keep_fn *keep, void *opaque);

/* ---- key serialization ----------------------------------------------
 * A composite key is the concatenation of its columns, each a tag byte
 * (0 = NULL, 1 = value) followed by 8 bytes (integers, timestamps,
 * booleans, doubles with -0.0 folded into 0.0) or a 4-byte length and the
 * bytes (strings). Equal SQL values give equal bytes. */
void rn_key_append(rn_buf_t *key, rn_type_id t, const rn_value_t *v);
/* Decodes the next column of type t from key[*off..], advancing *off.
 * Strings point into key. Returns false on a malformed key. */
/* The partition among nparts of a key serialized with rn_key_append:
 * (Kafka's murmur2 of the bytes & 0x7fffffff) % nparts, as a Java client
 * computes it for record keys. */
int32_t rn_key_partition(const void *key, uint32_t klen, int32_t nparts);
bool rn_key_read(const void *key, uint32_t klen, uint32_t *off, rn_type_id t,
                 rn_value_t *out /* out */);

#endif
