/*
 * aggregate.c - unbounded GROUP BY with retraction (Flink's GroupAggregate).
 *
 * State: one rn_store entry per group, keyed by the serialized group key.
 * Its value slot is laid out per operator, sized by the aggregates:
 *   uint64 rt      net row count * 4 + two flags (touched in this batch,
 *                  result emitted); COUNT(*) is the row count itself
 *   accumulators   packed by op/accum.h (rn_accum_packed_size): COUNT,
 *                  COUNT(DISTINCT): 8 bytes; SUM, AVG: 16 (value and
 *                  non-NULL count); MIN/MAX/FIRST_VALUE/LAST_VALUE: 32
 *                  (value, count, and an owned string or multiset)
 *   uint32 gen     with COUNT(DISTINCT): the group's incarnation
 * so `GROUP BY k COUNT(*)` over an INT key costs a 32-byte entry plus its
 * table slot. COUNT(DISTINCT x) keeps ONE store per such aggregate, keyed by
 * (group key, x), holding x's multiplicity in the group and the group's
 * incarnation (as Flink keeps a MapState per key): an entry left behind by
 * an earlier group of the same key (dropped by the TTL, or emptied by
 * retractions that did not match) is recognised by its stale incarnation
 * and counts as absent. MIN/MAX over an updating input keep, per group, a
 * multiset store of their values so a retracted extreme can be replaced
 * (rescanned only when the current extreme's last copy is retracted). The
 * arithmetic of every aggregate (NULLs, overflow, result types) is
 * op/accum.c's, shared with WindowAggregate; COUNT(DISTINCT)'s values are
 * this operator's.
 * FIRST_VALUE/LAST_VALUE keep the first/last non-NULL value in arrival
 * order, MAX_BY/MIN_BY the value of the row with the extreme ordering; all
 * four are accepted only over an insert-only input (a retraction could
 * not restore the previous one). Only aggregates that own strings or
 * multisets give the group store a value_free callback, so freeing the
 * others releases slab chunks wholesale.
 *
 * State TTL ('table.exec.state.ttl', rn_aggregate_set_ttl): the group
 * store gets rn_store's TTL, with the runtime's processing time
 * (ctx->now_ms) as its clock. A group not read or written for the TTL is
 * dropped silently, on access or by a sweep of a bounded number of table
 * slots per batch; a later row for its key starts a new group, emitted as
 * +I, as Flink's GroupAggregate does with state TTL. The same sweep drops
 * distinct-value entries whose group is gone.
 *
 * Revoked partitions (forget_partitions, docs/scale-out.md): when the
 * consumer group takes partitions of the repartition topic feeding this
 * operator away, the groups whose key falls in them (rn_key_partition of
 * the group key bytes, as the Exchange computed it) are dropped silently
 * with their distinct values, whose keys start with the group key: one
 * pass over each store, nothing allocated, nothing emitted.
 *
 * Emission: a batch is processed in one go. The first time a group is
 * touched in a batch its current result is snapshotted ("before"); after
 * the whole batch, each touched group emits once: +I when new, -U(before)
 * +U(after) when the result changed, nothing when it did not, -D(before)
 * when its row count reached zero (the group is then dropped). This is the
 * per-batch coalescing of updates to one key.
 *
 * Snapshot (aggregate_snapshot/aggregate_restore), little-endian and
 * length-prefixed (state/snapshot.h), no pointers:
 *   "RNGA", u32 version (2), u32 nkeys, u32 naggs, naggs x u8 kind,
 *   u8 input_updating, u64 state TTL in ms (0: none)
 *                                       (restore checks these match)
 *   u32 next_gen
 *   u64 ngroups, then per group:
 *     bytes key          the serialized group key (rn_key_*)
 *     u64 rows           net row count (> 0), u8 emitted (0/1)
 *     u64 last access    only with a TTL: the processing time (ms, >= 0)
 *                        the group was last read or written, so it
 *                        expires after restore when it would have
 *     u32 gen            only with COUNT(DISTINCT)
 *     per aggregate but COUNT(*) (the row count), rn_accum_encode's bytes
 *     (op/accum.h; no distinct values, no sequence): COUNT, COUNT(DISTINCT)
 *     u64 count; SUM, AVG u64 value bits + u64 non-NULL count; the others
 *     u64 n + value (u8 null, then bytes for STRING, else u64 bits) and,
 *     for MIN/MAX over a retracting input, the multiset: u64 entries, each
 *     bytes key (the value, rn_key_*) + u64 multiplicity (> 0)
 *   per COUNT(DISTINCT) aggregate: u64 entries, each bytes key (group key
 *     then value) + u64 multiplicity + u32 incarnation
 * With a partition filter (checkpoints, docs/checkpoints.md) only the
 * groups whose key lies in a marked partition are written, the partition
 * being what forget_partitions computes (rn_key_partition of the group key
 * bytes), and the distinct values whose key starts with such a group key;
 * ngroups and the entry counts count those. next_gen is operator-wide and
 * always written.
 * Restore adds the snapshot's groups and distinct values to those held (a
 * fresh aggregate, or one holding other partitions' groups); next_gen
 * becomes the larger of the two (incarnations are compared within one
 * group key only, so the merged groups keep theirs), and with a TTL each
 * group keeps its own access time. Keys are checked to decode as their
 * columns; any mismatch, short read, trailing byte, or a group or
 * distinct value held already (or twice in the snapshot) fails with
 * RN_ERR_DECODE, and the entries this call added are removed again (it
 * records them as it goes), so a failed restore leaves what the aggregate
 * held; a group held already is not touched (its access time stays).
 * This relies on the aggregate holding nothing of the snapshot's
 * partitions, stale distinct values included: forget_partitions drops
 * those with their groups. Version 1 (no TTL, no access times) is no
 * longer read: nothing stored snapshots when it was current.
 */
#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "op/accum.h"
#include "op/op.h"
#include "state/snapshot.h"
#include "state/store.h"

#include <stdio.h>
#include <string.h>

#define GROUP_TOUCHED 1u        /* rt flag: touched in the current batch */
#define GROUP_EMITTED 2u        /* rt flag: a result has been sent downstream */
#define GROUP_FLAGS 3u

typedef unsigned char agg_group_t; /* a group's value slot; see the layout above */

typedef struct agg_distinct {
    int64_t m;                  /* multiplicity of the value in the group */
    uint32_t gen;               /* the group's incarnation when it was counted */
} agg_distinct_t;

typedef struct agg_touched {
    agg_group_t *group;         /* group touched in this batch */
    rn_value_t *before;         /* its result before the batch (naggs), or NULL if none emitted */
} agg_touched_t;

typedef struct aggregate aggregate_t;

/* A row's serialized key in the batch's key buffer, and its hash. */
typedef struct agg_rowkey {
    uint32_t off;               /* offset in a->key (group key) or a->vkey (distinct key) */
    uint32_t len;               /* bytes */
    uint64_t hash;              /* rn_hash_bytes of the bytes (seed 0 / 0x9e3779b9) */
} agg_rowkey_t;

typedef struct agg_dstore {
    aggregate_t *a;             /* owner (sweep callback) */
    rn_store_t *st;             /* (group key, value) -> agg_distinct_t */
} agg_dstore_t;

struct aggregate {
    int nkeys;                  /* group key columns: input columns 0..nkeys-1 */
    int naggs;
    rn_agg_spec_t *aggs;        /* naggs specs */
    uint32_t *off;              /* naggs offsets of the accumulators in the value slot */
    agg_dstore_t *distinct;     /* naggs; .st set for COUNT(DISTINCT) */
    size_t gen_off;             /* offset of the incarnation (with COUNT(DISTINCT)), else 0 */
    size_t slot_size;           /* bytes of a group's value slot */
    bool owns;                  /* groups may own memory (the store has agg_group_free) */
    uint32_t next_gen;          /* last incarnation handed out */
    bool input_updating;        /* input carries retractions */
    rn_store_t *groups;         /* group key -> value slot */
    rn_buf_t key;               /* the batch's group keys, back to back */
    rn_buf_t vkey;              /* the batch's (group key, distinct value) keys, back to back */
    rn_accum_ctx_t acx;         /* accumulators: multisets over an updating input */
    const agg_rowkey_t *row_keys; /* while processing a row: its group key, then its
                                   * distinct key per aggregate (aggregate i at [i + 1]) */
    const rn_schema_t *in_schema;
};

/* ---- the group's value slot ---------------------------------------------- */

static inline uint64_t group_rt(const agg_group_t *g)
{
    uint64_t w;
    memcpy(&w, g, sizeof w);
    return w;
}
static inline int64_t group_rows(const agg_group_t *g)
{
    return (int64_t)(group_rt(g) & ~(uint64_t)GROUP_FLAGS) / 4;
}
static inline bool group_flag(const agg_group_t *g, unsigned f) { return (group_rt(g) & f) != 0; }
static inline void group_set(agg_group_t *g, int64_t rows, unsigned flags)
{
    uint64_t w = ((uint64_t)rows << 2) | flags;
    memcpy(g, &w, sizeof w);
}
static inline void group_add_rows(agg_group_t *g, int sign)
{
    group_set(g, group_rows(g) + sign, (unsigned)(group_rt(g) & GROUP_FLAGS));
}
static inline void group_set_flag(agg_group_t *g, unsigned f, bool on)
{
    unsigned flags = (unsigned)(group_rt(g) & GROUP_FLAGS);
    group_set(g, group_rows(g), on ? flags | f : flags & ~f);
}
static inline uint32_t group_gen(const aggregate_t *a, const agg_group_t *g)
{
    uint32_t gen = 0;
    if (a->gen_off) memcpy(&gen, g + a->gen_off, sizeof gen);
    return gen;
}

/* The accumulator of aggregate i in g, unpacked into acc (COUNT(*): the
 * group's row count); acc_store writes it back. */
static inline void acc_load(const aggregate_t *a, int i, const agg_group_t *g, rn_accum_t *acc)
{
    rn_accum_load(a->aggs[i].kind, g + a->off[i], acc);
    if (a->aggs[i].kind == RN_AGG_COUNT_STAR) acc->v.i = acc->n = group_rows(g);
}

static inline void acc_store(const aggregate_t *a, int i, agg_group_t *g, const rn_accum_t *acc)
{
    rn_accum_store(a->aggs[i].kind, g + a->off[i], acc);
}

static void agg_group_free(void *value, void *opaque)
{
    aggregate_t *a = opaque;
    agg_group_t *g = value;
    for (int i = 0; i < a->naggs; i++) {
        if (!rn_accum_owns(&a->acx, &a->aggs[i])) continue;
        rn_accum_t acc;
        acc_load(a, i, g, &acc);
        rn_accum_free(&a->acx, &a->aggs[i], &acc);
    }
}

#define AGG_UNSEEN (-2) /* a retracted value that was never added */

/* The bytes at off in b (NULL while b holds nothing: a global aggregate's
 * empty keys). */
static inline const char *agg_bytes(const rn_buf_t *b, uint32_t off) { return b->data ? b->data + off : NULL; }

/* Appends (group key of row key rk, v) to a->vkey and fills *out; false on OOM. */
static bool agg_distinct_key(aggregate_t *a, int i, const agg_rowkey_t *rk, const rn_value_t *v,
                             agg_rowkey_t *out)
{
    size_t at = a->vkey.len;
    /* A global aggregate's key is empty (a->key.data may be NULL). */
    if (rk->len && rn_buf_reserve(&a->vkey, rk->len) == 0) {
        memcpy(a->vkey.data + a->vkey.len, a->key.data + rk->off, rk->len);
        a->vkey.len += rk->len;
    }
    rn_key_append(&a->vkey, a->aggs[i].arg_type, v);
    if (a->vkey.oom || a->vkey.len > UINT32_MAX) return false;
    out->off = (uint32_t)at;
    out->len = (uint32_t)(a->vkey.len - at);
    out->hash = rn_hash_bytes(a->vkey.data + at, out->len, 0x9e3779b9);
    return true;
}

/* Adds sign (+1/-1) copies of the current row's value to the distinct
 * values of aggregate i (its key: a->row_keys[i + 1]) for the group whose
 * incarnation is gen; returns the value's new multiplicity, AGG_UNSEEN for
 * the retraction of a value not counted (ignored), or -1 on OOM. */
static int64_t agg_distinct_add(aggregate_t *a, int i, uint32_t gen, int sign)
{
    rn_store_t *ds = a->distinct[i].st;
    const agg_rowkey_t *rk = &a->row_keys[i + 1];
    const char *key = a->vkey.data + rk->off;
    uint32_t klen = rk->len;
    uint64_t h = rk->hash;
    if (sign > 0) {
        bool created;
        agg_distinct_t *d = rn_store_upsert(ds, key, klen, h, &created);
        if (!d) return -1;
        if (d->gen != gen) { /* new, or left by an earlier group of this key */
            d->gen = gen;
            d->m = 0;
        }
        return ++d->m;
    }
    agg_distinct_t *d = rn_store_find(ds, key, klen, h);
    if (!d) return AGG_UNSEEN;
    if (d->gen != gen) {
        rn_store_remove(ds, key, klen, h);
        return AGG_UNSEEN;
    }
    if (--d->m <= 0) {
        rn_store_remove(ds, key, klen, h);
        return 0;
    }
    return d->m;
}

/* Applies one input value with sign to an accumulator. Returns RN_OK or
 * RN_ERR_NOMEM. */
static rn_err_t agg_update(aggregate_t *a, int i, const agg_group_t *g, rn_accum_t *acc,
                           const rn_value_t *v, int sign)
{
    const rn_agg_spec_t *s = &a->aggs[i];
    if (s->kind == RN_AGG_COUNT_DISTINCT) {
        if (v->null) return RN_OK;
        int64_t m = agg_distinct_add(a, i, group_gen(a, g), sign);
        if (m == AGG_UNSEEN) return RN_OK;
        if (m < 0) return RN_ERR_NOMEM;
        rn_accum_count_distinct(acc, m, sign);
        return RN_OK;
    }
    if (sign > 0) return rn_accum_add(&a->acx, s, acc, v, 0);
    rn_err_t err = rn_accum_retract(&a->acx, s, acc, v);
    /* FIRST_VALUE/LAST_VALUE and MIN/MAX without a multiset only see an
     * insert-only input (rn_aggregate_new): nothing to retract. */
    return err == RN_ERR_UNSUPPORTED ? RN_OK : err;
}

/* The current result of one aggregate. Strings are copied into arena so
 * the result survives later changes to the state. */
static rn_err_t agg_result(const rn_agg_spec_t *s, const rn_accum_t *acc, rn_arena_t *arena,
                           rn_value_t *out)
{
    *out = rn_accum_result(s, acc);
    if (!out->null && rn_accum_result_type(s) == RN_TYPE_STRING) {
        char *p = rn_arena_strndup(arena, out->s ? out->s : "", out->len);
        if (!p) return RN_ERR_NOMEM;
        out->s = p;
    }
    return RN_OK;
}

static bool agg_results_equal(const aggregate_t *a, const rn_value_t *x, const rn_value_t *y)
{
    for (int i = 0; i < a->naggs; i++) {
        if (x[i].null != y[i].null) return false;
        if (!x[i].null && !rn_value_equal(rn_accum_result_type(&a->aggs[i]), &x[i], &y[i])) return false;
    }
    return true;
}

/* Appends one output row (key columns decoded from the group key, then
 * the aggregate results) to out. */
static rn_err_t agg_emit_row(aggregate_t *a, rn_op_t *op, agg_group_t *g, const rn_value_t *res,
                             rn_rowkind_t kind, rn_batch_t *out, rn_arena_t *arena)
{
    int r = out->nrows++;
    uint32_t klen, off = 0;
    const unsigned char *key = rn_store_key_of(a->groups, g, &klen);
    for (int k = 0; k < a->nkeys; k++) {
        rn_value_t v;
        rn_key_read(key, klen, &off, op->schema->cols[k].type->id, &v);
        if (!v.null && op->schema->cols[k].type->id == RN_TYPE_STRING) {
            char *p = rn_arena_strndup(arena, v.s, v.len);
            if (!p) return RN_ERR_NOMEM;
            v.s = p;
        }
        out->cols[k][r] = v;
    }
    for (int i = 0; i < a->naggs; i++) out->cols[a->nkeys + i][r] = res[i];
    out->kinds[r] = (uint8_t)kind;
    return RN_OK;
}

/* Appends the group key of row r of in to a->key and fills *out; false on OOM. */
static bool agg_group_key(aggregate_t *a, const rn_batch_t *in, int r, agg_rowkey_t *out)
{
    size_t at = a->key.len;
    for (int k = 0; k < a->nkeys; k++)
        rn_key_append(&a->key, a->in_schema->cols[k].type->id, &in->cols[k][r]);
    if (a->key.oom || a->key.len > UINT32_MAX) return false;
    out->off = (uint32_t)at;
    out->len = (uint32_t)(a->key.len - at);
    out->hash = rn_hash_bytes(agg_bytes(&a->key, out->off), out->len, 0);
    return true;
}

/* The results of all aggregates of g into res (naggs values). */
static rn_err_t agg_results(const aggregate_t *a, agg_group_t *g, rn_arena_t *arena, rn_value_t *res)
{
    for (int i = 0; i < a->naggs; i++) {
        rn_accum_t acc;
        acc_load(a, i, g, &acc);
        rn_err_t err = agg_result(&a->aggs[i], &acc, arena, &res[i]);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

/* Sweep callback for a distinct store: keeps an entry while the group it
 * was counted for lives (same key, same incarnation). */
static bool agg_distinct_keep(void *value, void *opaque)
{
    const agg_dstore_t *d = opaque;
    const aggregate_t *a = d->a;
    uint32_t klen, off = 0;
    const unsigned char *key = rn_store_key_of(d->st, value, &klen);
    for (int k = 0; k < a->nkeys; k++) {
        rn_value_t v;
        if (!rn_key_read(key, klen, &off, a->in_schema->cols[k].type->id, &v)) return false;
    }
    const agg_group_t *g = rn_store_peek(a->groups, key, off, rn_hash_bytes(key, off, 0));
    return g && group_gen(a, g) == ((const agg_distinct_t *)value)->gen;
}

/* With a TTL: moves the clock to now and drops, within a bounded number of
 * table slots, expired groups and distinct values of groups gone. */
static void agg_expire(aggregate_t *a, int64_t now_ms, int nrows)
{
    if (rn_store_ttl(a->groups) <= 0) return;
    rn_store_set_now(a->groups, now_ms);
    size_t budget = 2 * (size_t)nrows + 64;
    rn_store_sweep(a->groups, budget, NULL, NULL);
    for (int i = 0; i < a->naggs; i++)
        if (a->distinct[i].st) rn_store_sweep(a->distinct[i].st, budget, agg_distinct_keep, &a->distinct[i]);
}

static rn_err_t aggregate_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    aggregate_t *a = op->priv;
    rn_arena_t *arena = ctx->arena;
    rn_err_t err = RN_OK;
    int ntouched = 0, t = 0;
    agg_expire(a, ctx->now_ms, in->nrows);
    agg_touched_t *touched = rn_arena_alloc(arena, sizeof *touched * (size_t)(in->nrows ? in->nrows : 1));
    size_t stride = (size_t)a->naggs + 1;
    agg_rowkey_t *keys = rn_arena_alloc(arena, sizeof *keys * stride * (size_t)(in->nrows ? in->nrows : 1));
    if (!touched || !keys) return RN_ERR_NOMEM;

    /* First pass: serialize and hash every key once, and prefetch where its
     * lookups start, so the cache misses of a large state overlap instead
     * of queueing. */
    rn_buf_clear(&a->key);
    rn_buf_clear(&a->vkey);
    for (int r = 0; r < in->nrows; r++) {
        agg_rowkey_t *rk = keys + stride * (size_t)r;
        if (!agg_group_key(a, in, r, rk)) return RN_ERR_NOMEM;
        rn_store_prefetch(a->groups, rk[0].hash);
        for (int i = 0; i < a->naggs; i++) {
            if (!a->distinct[i].st) continue;
            if (!agg_distinct_key(a, i, rk, &in->cols[a->aggs[i].arg][r], &rk[i + 1])) return RN_ERR_NOMEM;
            rn_store_prefetch(a->distinct[i].st, rk[i + 1].hash);
        }
    }

    for (int r = 0; r < in->nrows; r++) {
        a->row_keys = keys + stride * (size_t)r;
        const agg_rowkey_t *rk = a->row_keys;
        bool created;
        agg_group_t *g = rn_store_upsert(a->groups, agg_bytes(&a->key, rk->off), rk->len, rk->hash, &created);
        if (!g) goto nomem;
        if (created && a->gen_off) {
            if (++a->next_gen == 0) a->next_gen = 1; /* 0 marks a fresh distinct entry */
            memcpy(g + a->gen_off, &a->next_gen, sizeof a->next_gen);
        }
        if (!group_flag(g, GROUP_TOUCHED)) {
            group_set_flag(g, GROUP_TOUCHED, true);
            agg_touched_t *tg = &touched[ntouched++];
            tg->group = g;
            tg->before = NULL;
            if (group_flag(g, GROUP_EMITTED)) {
                tg->before = rn_arena_alloc(arena, sizeof(rn_value_t) * (size_t)(a->naggs ? a->naggs : 1));
                if (!tg->before) goto nomem;
                if ((err = agg_results(a, g, arena, tg->before)) != RN_OK) goto fail;
            }
        }
        int sign = rn_rowkind_is_retract((rn_rowkind_t)in->kinds[r]) ? -1 : 1;
        group_add_rows(g, sign);
        for (int i = 0; i < a->naggs; i++) {
            const rn_agg_spec_t *s = &a->aggs[i];
            if (s->kind == RN_AGG_COUNT_STAR) continue; /* the row count */
            if (sign > 0 && rn_accum_add_packed(s, g + a->off[i], rn_batch_value_ptr(in, s->arg, r)))
                continue; /* COUNT, integer SUM: in the slot, unpacked nothing */
            rn_value_t pair[2];
            const rn_value_t *v = rn_accum_input(s, in->cols, r, pair);
            rn_accum_t acc;
            acc_load(a, i, g, &acc);
            err = agg_update(a, i, g, &acc, v, sign);
            acc_store(a, i, g, &acc);
            if (err != RN_OK) goto fail;
        }
    }

    rn_batch_t *out = rn_batch_new(arena, op->schema, ntouched * 2 + 1);
    rn_value_t *after = rn_arena_alloc(arena, sizeof(rn_value_t) * (size_t)(a->naggs ? a->naggs : 1));
    if (!out || !after) goto nomem;
    for (; t < ntouched; t++) {
        agg_group_t *g = touched[t].group;
        const rn_value_t *before = touched[t].before;
        group_set_flag(g, GROUP_TOUCHED, false);
        if (group_rows(g) <= 0) {
            if (before && (err = agg_emit_row(a, op, g, before, RN_ROW_DELETE, out, arena)) != RN_OK) {
                t++;
                goto fail;
            }
            uint32_t klen;
            const void *key = rn_store_key_of(a->groups, g, &klen);
            /* The key lives inside the entry being removed: copy it first. */
            void *kcopy = rn_arena_alloc(arena, klen ? klen : 1);
            if (!kcopy) {
                t++;
                goto nomem;
            }
            memcpy(kcopy, key, klen);
            rn_store_remove(a->groups, kcopy, klen, rn_hash_bytes(kcopy, klen, 0));
            continue;
        }
        if ((err = agg_results(a, g, arena, after)) != RN_OK) {
            t++;
            goto fail;
        }
        if (!before) {
            err = agg_emit_row(a, op, g, after, RN_ROW_INSERT, out, arena);
            group_set_flag(g, GROUP_EMITTED, true);
        } else if (!agg_results_equal(a, before, after)) {
            err = agg_emit_row(a, op, g, before, RN_ROW_UPDATE_BEFORE, out, arena);
            if (err == RN_OK) {
                rn_value_t *copy = rn_arena_alloc(arena, sizeof(rn_value_t) * (size_t)a->naggs);
                if (!copy) err = RN_ERR_NOMEM;
                else {
                    memcpy(copy, after, sizeof(rn_value_t) * (size_t)a->naggs);
                    err = agg_emit_row(a, op, g, copy, RN_ROW_UPDATE_AFTER, out, arena);
                }
            }
        }
        if (err != RN_OK) {
            t++;
            goto fail;
        }
    }
    a->row_keys = NULL;
    return rn_op_emit(op, out, ctx);

nomem:
    err = RN_ERR_NOMEM;
fail:
    a->row_keys = NULL;
    /* Groups not reached by the emission loop keep no touched mark. */
    for (; t < ntouched; t++) group_set_flag(touched[t].group, GROUP_TOUCHED, false);
    return err;
}

static void aggregate_explain(const rn_op_t *op, rn_buf_t *out)
{
    const aggregate_t *a = op->priv;
    rn_buf_appends(out, "group by [");
    for (int k = 0; k < a->nkeys; k++)
        rn_buf_appendf(out, "%s%s", k ? ", " : "", op->schema->cols[k].name);
    rn_buf_appends(out, "], aggregates [");
    for (int i = 0; i < a->naggs; i++) {
        const rn_agg_spec_t *s = &a->aggs[i];
        rn_buf_appendf(out, "%s", i ? ", " : "");
        rn_accum_explain(out, s, a->in_schema);
        rn_buf_appendf(out, " AS %s", op->schema->cols[a->nkeys + i].name);
    }
    rn_buf_appends(out, "]");
    if (a->input_updating) rn_buf_appends(out, ", consumes retractions");
    if (rn_store_ttl(a->groups) > 0)
        rn_buf_appendf(out, ", state ttl %lld ms", (long long)rn_store_ttl(a->groups));
}

static void aggregate_destroy(rn_op_t *op)
{
    aggregate_t *a = op->priv;
    rn_store_free(a->groups);
    for (int i = 0; a->distinct && i < a->naggs; i++) rn_store_free(a->distinct[i].st);
    rn_buf_free(&a->key);
    rn_buf_free(&a->vkey);
    rn_accum_ctx_free(&a->acx);
    rn_free(a->distinct);
    rn_free(a->off);
    rn_free(a->aggs);
    rn_free(a);
}

static size_t aggregate_state_size(const rn_op_t *op, size_t *keys)
{
    const aggregate_t *a = op->priv;
    *keys = rn_store_count(a->groups);
    size_t bytes = rn_store_bytes(a->groups);
    for (int i = 0; i < a->naggs; i++)
        if (a->distinct[i].st) bytes += rn_store_bytes(a->distinct[i].st);
    return bytes;
}

/* ---- forgetting revoked partitions (docs/scale-out.md) -------------------- */

/* Whether the first nkeys columns of key[0..klen) (the group key: all of a
 * group's key, the prefix of a distinct entry's) lie in a revoked
 * partition. A key that does not decode is never ours to judge: kept. */
static bool agg_key_revoked(const aggregate_t *a, const void *key, uint32_t klen, int32_t nparts,
                            const uint8_t *revoked)
{
    uint32_t off = 0;
    rn_value_t v;
    for (int k = 0; k < a->nkeys; k++)
        if (!rn_key_read(key, klen, &off, a->in_schema->cols[k].type->id, &v)) return false;
    return revoked[rn_key_partition(key, off, nparts)] != 0;
}

/* Drops every entry of st whose group key is in a revoked partition. */
static void agg_forget_store(const aggregate_t *a, rn_store_t *st, int32_t nparts,
                             const uint8_t *revoked)
{
    size_t pos = 0;
    void *v;
    while ((v = rn_store_next(st, &pos))) {
        uint32_t klen;
        const void *key = rn_store_key_of(st, v, &klen);
        if (agg_key_revoked(a, key, klen, nparts, revoked)) rn_store_remove_iterated(st, pos);
    }
}

/* Drops the groups of revoked partitions, with their accumulators (and
 * multisets) and their distinct values, without emitting or retracting
 * anything: downstream keeps the last results, which the partitions' new
 * owner updates. A later row for such a key starts a new group (+I).
 * Expired groups not swept yet go the same way; the TTL clock and the
 * incarnation counter are untouched. One pass over the state, no
 * allocation; returns RN_OK. */
static rn_err_t aggregate_forget_partitions(rn_op_t *op, int32_t nparts, const uint8_t *revoked)
{
    aggregate_t *a = op->priv;
    int32_t p = 0;
    while (p < nparts && !revoked[p]) p++;
    if (p == nparts) return RN_OK; /* nothing revoked */
    agg_forget_store(a, a->groups, nparts, revoked);
    for (int i = 0; i < a->naggs; i++)
        if (a->distinct[i].st) agg_forget_store(a, a->distinct[i].st, nparts, revoked);
    return RN_OK;
}

/* ---- snapshot and restore (format in the note at the top) ------------------ */

#define AGG_SNAP_MAGIC "RNGA"
#define AGG_SNAP_VERSION 2u

/* Whether a snapshot with filter parts takes the entry with key key[0..klen)
 * (a group, or a distinct value whose key starts with its group's key):
 * every entry when parts is NULL, else those whose group key lies in a
 * marked partition, as forget_partitions computes it. */
static bool agg_key_taken(const aggregate_t *a, const rn_part_filter_t *parts, const void *key,
                          uint32_t klen)
{
    return !parts || (parts->nparts > 0 && agg_key_revoked(a, key, klen, parts->nparts, parts->parts));
}

/* Overwrites the u64 written at out->data + at (a count known only after
 * the entries were written). */
static void agg_patch_u64(rn_buf_t *out, size_t at, uint64_t v)
{
    if (out->oom) return;
    for (int i = 0; i < 8; i++) out->data[at + (size_t)i] = (char)(unsigned char)(v >> (8 * i));
}

/* Appends the entries of store st that parts takes: u64 count, then per
 * entry its key bytes and what put writes of its value. */
static void agg_put_store(const aggregate_t *a, rn_buf_t *out, const rn_store_t *st,
                          const rn_part_filter_t *parts, void (*put)(rn_buf_t *out, const void *value))
{
    size_t count_at = out->len;
    rn_snap_put_u64(out, 0); /* patched below */
    uint64_t n = 0;
    size_t pos = 0;
    void *v;
    while (st && (v = rn_store_next(st, &pos))) {
        uint32_t klen;
        const void *k = rn_store_key_of(st, v, &klen);
        if (!agg_key_taken(a, parts, k, klen)) continue;
        rn_snap_put_bytes(out, k, klen);
        put(out, v);
        n++;
    }
    agg_patch_u64(out, count_at, n);
}

static void agg_put_distinct_entry(rn_buf_t *out, const void *value)
{
    const agg_distinct_t *d = value;
    rn_snap_put_u64(out, (uint64_t)d->m);
    rn_snap_put_u32(out, d->gen);
}

static rn_err_t aggregate_snapshot(const rn_op_t *op, rn_buf_t *out, const rn_part_filter_t *parts)
{
    const aggregate_t *a = op->priv;
    rn_buf_append(out, AGG_SNAP_MAGIC, 4);
    rn_snap_put_u32(out, AGG_SNAP_VERSION);
    rn_snap_put_u32(out, (uint32_t)a->nkeys);
    rn_snap_put_u32(out, (uint32_t)a->naggs);
    for (int i = 0; i < a->naggs; i++) rn_snap_put_u8(out, (uint8_t)a->aggs[i].kind);
    rn_snap_put_u8(out, a->input_updating ? 1 : 0);
    int64_t ttl = rn_store_ttl(a->groups);
    rn_snap_put_u64(out, (uint64_t)ttl);
    rn_snap_put_u32(out, a->next_gen);
    size_t count_at = out->len;
    rn_snap_put_u64(out, 0); /* ngroups, patched below */
    uint64_t ngroups = 0;
    size_t pos = 0;
    agg_group_t *g;
    while ((g = rn_store_next(a->groups, &pos))) {
        uint32_t klen;
        const void *k = rn_store_key_of(a->groups, g, &klen);
        if (!agg_key_taken(a, parts, k, klen)) continue;
        ngroups++;
        rn_snap_put_bytes(out, k, klen);
        rn_snap_put_u64(out, (uint64_t)group_rows(g));
        rn_snap_put_u8(out, group_flag(g, GROUP_EMITTED) ? 1 : 0);
        if (ttl > 0) rn_snap_put_u64(out, (uint64_t)rn_store_access_time(a->groups, g));
        if (a->gen_off) rn_snap_put_u32(out, group_gen(a, g));
        for (int i = 0; i < a->naggs; i++) {
            if (a->aggs[i].kind == RN_AGG_COUNT_STAR) continue; /* the row count */
            rn_accum_t acc;
            acc_load(a, i, g, &acc);
            rn_accum_encode(&a->acx, &a->aggs[i], &acc, out);
        }
    }
    agg_patch_u64(out, count_at, ngroups);
    for (int i = 0; i < a->naggs; i++)
        if (a->distinct[i].st) agg_put_store(a, out, a->distinct[i].st, parts, agg_put_distinct_entry);
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}

/* Whether key[0..klen) decodes as the n group-key columns followed by
 * (extra != RN_TYPE_NULL) one column of type extra, with nothing left. */
static bool agg_key_valid(const aggregate_t *a, const void *key, uint32_t klen, int nkeys,
                          bool with_extra, rn_type_id extra)
{
    uint32_t off = 0;
    rn_value_t v;
    for (int k = 0; k < nkeys; k++)
        if (!rn_key_read(key, klen, &off, a->in_schema->cols[k].type->id, &v)) return false;
    if (with_extra && !rn_key_read(key, klen, &off, extra, &v)) return false;
    return off == klen;
}

/* The entries a restore added so far (keys pointing into the snapshot),
 * so that a failed restore can remove them again. */
typedef struct agg_undo {
    struct agg_added {
        const void *key;        /* the entry's key bytes, in the snapshot */
        uint32_t klen;
        int store;              /* -1: the group store, else distinct store i */
    } *v;                       /* entries added, in order (owned) */
    size_t n, cap;
} agg_undo_t;

/* Makes room for one more entry in u; false on OOM. */
static bool agg_undo_reserve(agg_undo_t *u)
{
    if (u->n < u->cap) return true;
    size_t cap = u->cap ? 2 * u->cap : 64;
    struct agg_added *v = rn_realloc(u->v, cap * sizeof *v);
    if (!v) return false;
    u->v = v;
    u->cap = cap;
    return true;
}

/* Removes what u recorded, last first, and frees u. */
static void agg_undo(aggregate_t *a, agg_undo_t *u)
{
    while (u->n > 0) {
        const struct agg_added *e = &u->v[--u->n];
        if (e->store < 0)
            rn_store_remove(a->groups, e->key, e->klen, rn_hash_bytes(e->key, e->klen, 0));
        else
            rn_store_remove(a->distinct[e->store].st, e->key, e->klen,
                            rn_hash_bytes(e->key, e->klen, 0x9e3779b9));
    }
}

/* Reads one group and adds it to a->groups, recording it in u. A group
 * held already (or twice in the snapshot) fails with RN_ERR_DECODE. */
static rn_err_t agg_read_group(aggregate_t *a, rn_snap_reader_t *r, agg_undo_t *u)
{
    rn_store_t *groups = a->groups;
    uint32_t klen;
    const void *k = rn_snap_bytes(r, &klen);
    int64_t rows = (int64_t)rn_snap_u64(r);
    uint8_t emitted = rn_snap_u8(r);
    int64_t access = rn_store_ttl(groups) > 0 ? (int64_t)rn_snap_u64(r) : 0;
    uint32_t gen = a->gen_off ? rn_snap_u32(r) : 0;
    if (r->bad || rows <= 0 || rows > INT64_MAX / 4 || emitted > 1 || access < 0 ||
        !agg_key_valid(a, k, klen, a->nkeys, false, RN_TYPE_NULL))
        return RN_ERR_DECODE;
    uint64_t h = rn_hash_bytes(k, klen, 0);
    /* Held already: refused, without touching it (an upsert would count
     * as an access under a TTL). */
    if (rn_store_peek(groups, k, klen, h)) return RN_ERR_DECODE;
    if (!agg_undo_reserve(u)) return RN_ERR_NOMEM;
    bool created;
    agg_group_t *g = rn_store_upsert(groups, k, klen, h, &created);
    if (!g) return RN_ERR_NOMEM;
    if (!created) return RN_ERR_DECODE; /* held already */
    u->v[u->n++] = (struct agg_added){k, klen, -1};
    group_set(g, rows, emitted ? GROUP_EMITTED : 0);
    rn_store_set_access_time(groups, g, access);
    if (a->gen_off) memcpy(g + a->gen_off, &gen, sizeof gen);
    for (int i = 0; i < a->naggs; i++) {
        if (a->aggs[i].kind == RN_AGG_COUNT_STAR) continue; /* the row count */
        rn_accum_t acc = {0};
        rn_err_t err = rn_accum_decode(&a->acx, &a->aggs[i], r, &acc);
        /* Stored even on failure, so that removing the group frees it. */
        acc_store(a, i, g, &acc);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

/* Reads the entries of distinct store i and adds them to it, recording
 * them in u. */
static rn_err_t agg_read_distinct(aggregate_t *a, rn_snap_reader_t *r, int i, agg_undo_t *u)
{
    rn_store_t *st = a->distinct[i].st;
    uint64_t n = rn_snap_u64(r);
    if (r->bad) return RN_ERR_DECODE;
    for (uint64_t e = 0; e < n; e++) {
        uint32_t klen;
        const void *k = rn_snap_bytes(r, &klen);
        int64_t m = (int64_t)rn_snap_u64(r);
        uint32_t gen = rn_snap_u32(r);
        if (r->bad || m <= 0 || !agg_key_valid(a, k, klen, a->nkeys, true, a->aggs[i].arg_type))
            return RN_ERR_DECODE;
        uint64_t h = rn_hash_bytes(k, klen, 0x9e3779b9);
        if (rn_store_peek(st, k, klen, h)) return RN_ERR_DECODE; /* held already */
        if (!agg_undo_reserve(u)) return RN_ERR_NOMEM;
        bool created;
        agg_distinct_t *d = rn_store_upsert(st, k, klen, h, &created);
        if (!d) return RN_ERR_NOMEM;
        if (!created) return RN_ERR_DECODE; /* held already */
        u->v[u->n++] = (struct agg_added){k, klen, i};
        d->m = m;
        d->gen = gen;
    }
    return RN_OK;
}

/* Adds the snapshot's groups and distinct values to those held, straight
 * into the stores, recording each; on failure the recorded ones are
 * removed again, so the operator holds what it held before. */
static rn_err_t aggregate_restore(rn_op_t *op, const void *data, size_t len)
{
    aggregate_t *a = op->priv;
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, data, len);
    rn_err_t err = RN_ERR_DECODE;
    agg_undo_t undo = {0};
    if (!rn_snap_have(&r, 4) || memcmp(r.p, AGG_SNAP_MAGIC, 4) != 0) goto done;
    r.off = 4;
    if (rn_snap_u32(&r) != AGG_SNAP_VERSION || rn_snap_u32(&r) != (uint32_t)a->nkeys ||
        rn_snap_u32(&r) != (uint32_t)a->naggs)
        goto done;
    for (int i = 0; i < a->naggs; i++)
        if (rn_snap_u8(&r) != (uint8_t)a->aggs[i].kind) goto done;
    if (rn_snap_u8(&r) != (a->input_updating ? 1 : 0)) goto done;
    if (rn_snap_u64(&r) != (uint64_t)rn_store_ttl(a->groups)) goto done;
    uint32_t next_gen = rn_snap_u32(&r);
    uint64_t ngroups = rn_snap_u64(&r);
    if (r.bad) goto done;
    err = RN_OK;
    for (uint64_t n = 0; n < ngroups && err == RN_OK; n++) err = agg_read_group(a, &r, &undo);
    for (int i = 0; i < a->naggs && err == RN_OK; i++)
        if (a->distinct[i].st) err = agg_read_distinct(a, &r, i, &undo);
    if (err == RN_OK && !rn_snap_done(&r)) err = RN_ERR_DECODE;
    if (err == RN_OK && next_gen > a->next_gen) a->next_gen = next_gen;
done:
    if (err != RN_OK) agg_undo(a, &undo);
    rn_free(undo.v);
    return err;
}

static const rn_op_vtable_t aggregate_vtable = {
    .kind = "GroupAggregate",
    .process = aggregate_process,
    .explain = aggregate_explain,
    .destroy = aggregate_destroy,
    .state_size = aggregate_state_size,
    .snapshot = aggregate_snapshot,
    .restore = aggregate_restore,
    .forget_partitions = aggregate_forget_partitions,
};

rn_op_t *rn_aggregate_new(rn_op_t *input, int nkeys, int naggs, const rn_agg_spec_t *aggs,
                          rn_schema_t *out_schema, char *errbuf, size_t errbuf_size)
{
    for (int i = 0; i < naggs; i++) {
        if (input->updating &&
            (aggs[i].kind == RN_AGG_FIRST_VALUE || aggs[i].kind == RN_AGG_LAST_VALUE)) {
            snprintf(errbuf, errbuf_size,
                     "FIRST_VALUE/LAST_VALUE over an updating input is not supported");
            return NULL;
        }
        if (input->updating && (aggs[i].kind == RN_AGG_MAX_BY || aggs[i].kind == RN_AGG_MIN_BY)) {
            snprintf(errbuf, errbuf_size,
                     "%s over an updating input is not supported (it cannot retract a row); "
                     "use it over an insert-only input or a window",
                     aggs[i].kind == RN_AGG_MAX_BY ? "MAX_BY" : "MIN_BY");
            return NULL;
        }
    }
    aggregate_t *a = rn_calloc(1, sizeof *a);
    if (!a) goto oom;
    a->nkeys = nkeys;
    a->naggs = naggs;
    a->input_updating = input->updating;
    a->in_schema = input->schema;
    rn_accum_ctx_init(&a->acx, input->updating, false);
    size_t n = (size_t)(naggs ? naggs : 1);
    a->aggs = rn_calloc(n, sizeof *a->aggs);
    a->off = rn_calloc(n, sizeof *a->off);
    a->distinct = rn_calloc(n, sizeof *a->distinct);
    if (!a->aggs || !a->off || !a->distinct) goto oom;
    memcpy(a->aggs, aggs, sizeof *aggs * (size_t)naggs);
    /* The value slot: rt, then accumulators sized by kind (8-byte ones
     * stay 8-byte aligned), then the incarnation if anything is distinct. */
    size_t size = sizeof(uint64_t);
    bool owns = false, distinct = false;
    for (int i = 0; i < naggs; i++) {
        a->off[i] = (uint32_t)size;
        size += rn_accum_packed_size(aggs[i].kind);
        owns |= rn_accum_owns(&a->acx, &aggs[i]);
        if (aggs[i].kind == RN_AGG_COUNT_DISTINCT) {
            distinct = true;
            a->distinct[i].a = a;
            a->distinct[i].st = rn_store_new("distinct", sizeof(agg_distinct_t), NULL, NULL);
            if (!a->distinct[i].st) goto oom;
        }
    }
    if (distinct) {
        a->gen_off = size;
        size += sizeof(uint32_t);
    }
    a->slot_size = size;
    a->owns = owns;
    a->groups = rn_store_new("group-aggregate", size, owns ? agg_group_free : NULL, a);
    if (!a->groups) goto oom;
    rn_buf_init(&a->key);
    rn_buf_init(&a->vkey);
    rn_op_t *op = rn_op_new(&aggregate_vtable, out_schema, input);
    if (!op) goto oom;
    op->priv = a;
    op->updating = true;
    return op;
oom:
    if (a) {
        rn_store_free(a->groups);
        for (int i = 0; a->distinct && i < naggs; i++) rn_store_free(a->distinct[i].st);
        rn_free(a->distinct);
        rn_free(a->off);
        rn_free(a->aggs);
        rn_accum_ctx_free(&a->acx);
        rn_free(a);
    }
    snprintf(errbuf, errbuf_size, "out of memory creating an aggregate");
    return NULL;
}

bool rn_aggregate_set_ttl(rn_op_t *op, int64_t ttl_ms)
{
    aggregate_t *a = op->priv;
    return rn_store_set_ttl(a->groups, ttl_ms);
}

size_t rn_aggregate_groups(const rn_op_t *op)
{
    const aggregate_t *a = op->priv;
    return rn_store_count(a->groups);
}
