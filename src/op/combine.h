/*
 * combine.h - the partial aggregates of the local pre-aggregation before
 * an Exchange, shared by WindowCombine (op/window_combine.c) and
 * GroupCombine (op/group_combine.c).
 *
 * A combiner turns the rows of one input batch that share a key into one
 * row of partials, which the aggregate after the Exchange merges:
 *   COUNT(*), COUNT(x)   a count, merged by SUM
 *   SUM(x) of integers   a sum (wrapping as the accumulator does), by SUM
 *   MIN(x), MAX(x)       the extreme (the first of equal values), by MIN/MAX
 * Nothing else is combined: a DOUBLE sum would change with the order of
 * its additions, AVG, FIRST_VALUE/LAST_VALUE and MAX_BY/MIN_BY need more
 * than one value. (GroupCombine sends COUNT(DISTINCT) values on their own,
 * see there.)
 */
#ifndef RN_OP_COMBINE_H
#define RN_OP_COMBINE_H

#include <string.h>

#include "op/exchange.h"
#include "op/op.h"

/* Whether aggregate s has partials (the list above). */
static inline bool rn_combine_partial_kind(const rn_agg_spec_t *s)
{
    switch (s->kind) {
    case RN_AGG_COUNT_STAR:
    case RN_AGG_COUNT:
    case RN_AGG_MIN:
    case RN_AGG_MAX: return true;
    case RN_AGG_SUM: return s->result_type == RN_TYPE_BIGINT;
    default: return false;
    }
}

/* The type of s's partial column. */
static inline rn_type_id rn_combine_partial_type(const rn_agg_spec_t *s)
{
    return s->kind == RN_AGG_MIN || s->kind == RN_AGG_MAX ? s->arg_type : RN_TYPE_BIGINT;
}

/* The aggregate after the Exchange that merges s's partials in column col. */
static inline rn_agg_spec_t rn_combine_merge_spec(const rn_agg_spec_t *s, int col)
{
    bool count = s->kind == RN_AGG_COUNT_STAR || s->kind == RN_AGG_COUNT;
    return (rn_agg_spec_t){.kind = count ? RN_AGG_SUM : s->kind, .arg = col, .arg_type = rn_combine_partial_type(s),
                           .result_type = s->result_type};
}

/* s's partial of row r alone. */
static inline rn_value_t rn_combine_partial_of_row(const rn_agg_spec_t *s, const rn_batch_t *in, int r)
{
    switch (s->kind) {
    case RN_AGG_COUNT_STAR: return rn_value_int(1);
    case RN_AGG_COUNT: return rn_value_int(rn_batch_value_ptr(in, s->arg, r)->null ? 0 : 1);
    default: return rn_batch_value(in, s->arg, r);
    }
}

/* A partial that changes nothing when merged: a count of 0, else NULL. */
static inline rn_value_t rn_combine_partial_none(const rn_agg_spec_t *s)
{
    return s->kind == RN_AGG_COUNT_STAR || s->kind == RN_AGG_COUNT ? rn_value_int(0) : RN_VALUE_NULL;
}

/* Adds row r's value of s to partial p (the key's so far). */
static inline void rn_combine_partial_add(const rn_agg_spec_t *s, rn_value_t *p, const rn_batch_t *in, int r)
{
    if (s->kind == RN_AGG_COUNT_STAR) {
        p->i++;
        return;
    }
    const rn_value_t *v = rn_batch_value_ptr(in, s->arg, r);
    if (v->null) return;
    switch (s->kind) {
    case RN_AGG_COUNT: p->i++; return;
    case RN_AGG_SUM:
        if (p->null) *p = *v;
        else p->i = (int64_t)((uint64_t)p->i + (uint64_t)v->i); /* wraps, as the accumulator */
        return;
    case RN_AGG_MIN:
    case RN_AGG_MAX: {
        int c = p->null ? 0 : rn_value_compare(s->arg_type, v, p);
        if (p->null || (s->kind == RN_AGG_MIN ? c < 0 : c > 0)) *p = *v;
        return;
    }
    default: return;
    }
}

/* Whether combiner op feeds a remote Exchange (a repartition topic): only
 * then is there anything to save; else rows pass one by one. */
static inline bool rn_combine_remote(const rn_op_t *op)
{
    return op->noutputs == 1 && rn_is_exchange(op->outputs[0].op) && rn_exchange_is_remote(op->outputs[0].op);
}

/* The rows of in as their own partials, for a combiner that feeds a local
 * Exchange: output columns the keys (input columns 0..nkeys-1), one per
 * aggregate (its partial of the row alone; a COUNT(DISTINCT) its value),
 * then the input columns trail[0..ntrail). Columns that are input columns
 * pass without a copy (the arrays are shared, read-only); counts are
 * filled in. NULL on OOM. */
static inline rn_batch_t *rn_combine_pass(const rn_schema_t *schema, const rn_batch_t *in, int nkeys, int naggs,
                                          const rn_agg_spec_t *aggs, int ntrail, const int *trail,
                                          rn_arena_t *arena)
{
    int n = in->nrows;
    rn_batch_t *out = rn_arena_alloc(arena, sizeof *out);
    if (!out) return NULL;
    *out = *in;
    out->schema = schema;
    out->cols = rn_arena_alloc(arena, sizeof *out->cols * (size_t)(nkeys + naggs + ntrail + 1));
    if (!out->cols) return NULL;
    for (int k = 0; k < nkeys; k++) out->cols[k] = in->cols[k];
    for (int a = 0; a < naggs; a++) {
        const rn_agg_spec_t *s = &aggs[a];
        if (s->kind != RN_AGG_COUNT_STAR && s->kind != RN_AGG_COUNT) {
            out->cols[nkeys + a] = in->cols[s->arg];
            continue;
        }
        rn_value_t *col = rn_arena_alloc(arena, sizeof *col * (size_t)(n ? n : 1));
        if (!col) return NULL;
        for (int r = 0; r < n; r++) col[r] = rn_combine_partial_of_row(s, in, r);
        out->cols[nkeys + a] = col;
    }
    for (int t = 0; t < ntrail; t++) out->cols[nkeys + naggs + t] = in->cols[trail[t]];
    return out;
}

/* A new output batch of schema with room for cap rows (at least 1), all
 * inserts (rn_batch_new), in the arena; rowwm too when with_rowwm. NULL
 * on OOM. */
static inline rn_batch_t *rn_combine_batch(const rn_schema_t *schema, int cap, bool with_rowwm, rn_arena_t *arena)
{
    rn_batch_t *out = rn_batch_new(arena, schema, cap > 0 ? cap : 1);
    if (out && with_rowwm && !(out->rowwm = rn_arena_alloc(arena, sizeof *out->rowwm * (size_t)out->cap)))
        return NULL;
    return out;
}

/* One key of a batch in a combiner's table (open addressing, in the arena). */
typedef struct rn_combine_group {
    const uint8_t *key;         /* a copy of the key bytes; NULL: an empty slot */
    uint32_t klen;
    uint64_t hash;
    int out;                    /* its output row */
} rn_combine_group_t;

/* An empty table for the keys of n rows (*mask set); NULL on OOM. */
static inline rn_combine_group_t *rn_combine_table(int n, uint32_t *mask, rn_arena_t *arena)
{
    uint32_t size = 16;
    while (size < 2u * (uint32_t)n) size <<= 1;
    rn_combine_group_t *t = rn_arena_alloc(arena, sizeof *t * size);
    if (t) memset(t, 0, sizeof *t * size);
    *mask = size - 1;
    return t;
}

/* The slot of key (hash h) in t: its group, or the empty slot it takes. */
static inline rn_combine_group_t *rn_combine_probe(rn_combine_group_t *t, uint32_t mask, uint64_t h,
                                                   const rn_buf_t *key)
{
    uint32_t i = (uint32_t)h & mask;
    while (t[i].key && !(t[i].hash == h && t[i].klen == key->len && !memcmp(t[i].key, key->data, key->len)))
        i = (i + 1) & mask;
    return &t[i];
}

/* Makes empty slot g the group of key (hash h), output row out; false on OOM. */
static inline bool rn_combine_claim(rn_combine_group_t *g, uint64_t h, const rn_buf_t *key, int out,
                                    rn_arena_t *arena)
{
    uint8_t *kb = rn_arena_alloc(arena, key->len ? key->len : 1);
    if (!kb) return false;
    memcpy(kb, key->data, key->len);
    *g = (rn_combine_group_t){.key = kb, .klen = (uint32_t)key->len, .hash = h, .out = out};
    return true;
}

#endif
