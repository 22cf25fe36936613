/*
 * accum.h - the accumulators of the aggregate functions, shared by
 * GroupAggregate (op/aggregate.c) and WindowAggregate (op/window.c).
 *
 * One rn_accum_t per aggregate and group (or window) holds the running
 * state of COUNT(*), COUNT, COUNT(DISTINCT), SUM, AVG, MIN, MAX,
 * FIRST_VALUE and LAST_VALUE. This file is the one place that says how
 * each of them adds, retracts and merges input, treats NULL (ignored by
 * all but COUNT(*); an aggregate over no non-NULL input is NULL, a count
 * 0), overflows (an integer SUM wraps around in two's complement, a DOUBLE
 * one follows IEEE; AVG sums as its argument does, and an integer AVG is
 * the integer quotient of that BIGINT sum by the count, truncated toward
 * zero, as Flink's AvgAggFunction) and types its result
 * (rn_accum_result_type). The operators differ in what they need, chosen
 * by an rn_accum_ctx_t per operator:
 *   - multiset: MIN/MAX keep a multiset of their values (an rn_store_t in
 *     aux, value key -> multiplicity) so that retracting the current
 *     extreme finds the next one (GroupAggregate over an updating input).
 *     Otherwise MIN/MAX only add, and retracting them is unsupported.
 *   - mergeable: accumulators can be merged (session windows):
 *     COUNT(DISTINCT) keeps its set of values in aux, FIRST_VALUE and
 *     LAST_VALUE the arrival sequence of the value they hold, and both are
 *     written by rn_accum_encode. Otherwise COUNT(DISTINCT) only holds the
 *     count; the operator keeps the distinct values and reports each
 *     change of multiplicity with rn_accum_count_distinct (GroupAggregate
 *     keeps one store per aggregate for all its groups).
 * FIRST_VALUE/LAST_VALUE keep arrival order and cannot retract.
 * MAX_BY(x, y)/MIN_BY(x, y) (an extension: Spark's names, DuckDB's
 * arg_max/arg_min) hold x of the row with the largest/smallest y: rows
 * whose y is NULL are ignored (x may be NULL and is then the result), a
 * tie keeps the earliest-arrived row (on a merge, the smaller arrival
 * sequence), no row gives NULL. Their input is the pair (x, y), built with
 * rn_accum_input. They keep in aux a by-state (the ordering held, its
 * arrival sequence, owned copies of string value and ordering) in every
 * context, and cannot retract (GroupAggregate refuses them over an
 * updating input, as FIRST_VALUE/LAST_VALUE).
 *
 * Ownership: a string held by MIN/MAX/FIRST/LAST is copied into a buffer
 * the accumulator owns (aux; its capacity is the power of two from 16 up
 * that the longest string held needed, so it is implied by the length and
 * not stored), or, with a multiset, points into the multiset's key. Free
 * with rn_accum_free. A zeroed rn_accum_t is the empty accumulator.
 *
 * Packed form: GroupAggregate keeps a group's accumulators in one value
 * slot, each in rn_accum_packed_size(kind) bytes (COUNT(*): none, it is
 * the group's row count; COUNT, COUNT(DISTINCT): the count; SUM, AVG:
 * value and non-NULL count; the others v, n and aux), unpacked with
 * rn_accum_load and written back with rn_accum_store. seq is not packed.
 *
 * Encoding (rn_accum_encode, little-endian, state/snapshot.h), by kind:
 *   COUNT(*), COUNT       u64 count
 *   COUNT(DISTINCT)       u64 count; mergeable: then count x bytes value
 *                         key (rn_key_*), all distinct
 *   SUM, AVG              u64 value bits (int64 or double), u64 non-NULL count
 *   MIN, MAX, FIRST_VALUE, LAST_VALUE
 *                         u64 n, then the value: u8 null (0/1), then bytes
 *                         for STRING, else u64 bits; multiset MIN/MAX:
 *                         then u64 entries, each bytes value key + u64
 *                         multiplicity (> 0); mergeable FIRST/LAST: then
 *                         u64 seq
 *   MAX_BY, MIN_BY        u64 n (rows with a non-NULL ordering), the value
 *                         and then the ordering as above (u8 null, bytes
 *                         or u64 bits; the ordering is NULL iff n = 0),
 *                         u64 seq of the row held
 * (GroupAggregate does not write COUNT(*), its group's row count.)
 */
#ifndef RN_ACCUM_H
#define RN_ACCUM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "op/op.h"
#include "state/snapshot.h"

typedef struct rn_accum {
    rn_value_t v;               /* counts; SUM/AVG running sum; MIN/MAX/FIRST/LAST the value held */
    int64_t n;                  /* non-NULL inputs, net of retractions (COUNT(DISTINCT): distinct values) */
    void *aux;                  /* owned: string buffer, MIN/MAX multiset, or COUNT(DISTINCT) set */
    uint64_t seq;               /* FIRST/LAST: arrival sequence of the value held (mergeable) */
} rn_accum_t;

/* How an operator uses its accumulators (see the note above). */
typedef struct rn_accum_ctx {
    bool multiset;              /* MIN/MAX keep a multiset and can retract */
    bool mergeable;             /* COUNT(DISTINCT) keeps its set, FIRST/LAST their sequence */
    rn_buf_t scratch;           /* serialized values (set and multiset keys) */
} rn_accum_ctx_t;

/* Sets up cx (cannot fail; the scratch buffer grows on use). Free it with
 * rn_accum_ctx_free once no accumulator of it is used any more. */
void rn_accum_ctx_init(rn_accum_ctx_t *cx, bool multiset, bool mergeable);
void rn_accum_ctx_free(rn_accum_ctx_t *cx);

/* The type the result of s is represented (and serialized) as. */
rn_type_id rn_accum_result_type(const rn_agg_spec_t *s);

/* Appends s as explain shows it: "COUNT(*)", "COUNT(DISTINCT x)", "SUM(x)"
 * (x: the argument's column name in the input schema in). */
void rn_accum_explain(rn_buf_t *out, const rn_agg_spec_t *s, const rn_schema_t *in);

/* Whether an accumulator of s may own memory (aux) in context cx. */
bool rn_accum_owns(const rn_accum_ctx_t *cx, const rn_agg_spec_t *s);

/* What rn_accum_add/rn_accum_retract take for row r of a batch's columns
 * cols: the argument's value (a NULL for COUNT(*)), or for MAX_BY/MIN_BY
 * the pair (value, ordering), written to pair. The result points into
 * cols or pair. */
static inline const rn_value_t *rn_accum_input(const rn_agg_spec_t *s, rn_value_t *const *cols, int r,
                                               rn_value_t pair[2])
{
    if (s->kind == RN_AGG_MAX_BY || s->kind == RN_AGG_MIN_BY) {
        pair[0] = cols[s->arg][r];
        pair[1] = cols[s->by][r];
        return pair;
    }
    if (s->arg < 0) {
        pair[0] = RN_VALUE_NULL;
        return pair;
    }
    return &cols[s->arg][r];
}

/* Adds one input value v (ignored for COUNT(*); NULL is skipped by the
 * others; MAX_BY/MIN_BY: v points to the pair (value, ordering) and a NULL
 * ordering is skipped) with arrival sequence seq. Returns RN_OK or RN_ERR_NOMEM (acc
 * is then unchanged, except that a set or multiset may have grown). */
rn_err_t rn_accum_add(rn_accum_ctx_t *cx, const rn_agg_spec_t *s, rn_accum_t *acc,
                      const rn_value_t *v, uint64_t seq);

/* Removes one earlier input value v. MIN/MAX go through their multiset (a
 * value not in it is ignored). Returns RN_OK, RN_ERR_NOMEM, or
 * RN_ERR_UNSUPPORTED (acc unchanged) for FIRST_VALUE/LAST_VALUE,
 * MAX_BY/MIN_BY, MIN/MAX
 * without a multiset and a mergeable COUNT(DISTINCT). */
rn_err_t rn_accum_retract(rn_accum_ctx_t *cx, const rn_agg_spec_t *s, rn_accum_t *acc,
                          const rn_value_t *v);

/* COUNT(DISTINCT) counted by the operator: a value's multiplicity in the
 * group became m after adding (sign +1) or retracting (-1) one copy. */
void rn_accum_count_distinct(rn_accum_t *acc, int64_t m, int sign);

/* Merging src into dst (mergeable context), in two steps so that all that
 * can fail comes first: rn_accum_merge_sets moves COUNT(DISTINCT) values
 * (RN_OK or RN_ERR_NOMEM; dst may then hold part of src's values, src
 * stays valid and is freed as usual), then rn_accum_merge the rest, which
 * cannot fail. src keeps what dst does not take; free it afterwards. */
rn_err_t rn_accum_merge_sets(rn_accum_ctx_t *cx, const rn_agg_spec_t *s, rn_accum_t *dst,
                             rn_accum_t *src);
void rn_accum_merge(const rn_agg_spec_t *s, rn_accum_t *dst, rn_accum_t *src);

/* The current result of s, of type rn_accum_result_type(s). A string
 * points into the accumulator's state: the caller copies it before the
 * state changes. */
rn_value_t rn_accum_result(const rn_agg_spec_t *s, const rn_accum_t *acc);

/* Appends acc in the format of the note above. Never fails (an
 * allocation failure shows as out->oom). */
void rn_accum_encode(const rn_accum_ctx_t *cx, const rn_agg_spec_t *s, const rn_accum_t *acc,
                     rn_buf_t *out);

/* Reads into a zeroed acc what rn_accum_encode wrote, validating it
 * (values must decode as the argument's type). Returns RN_OK,
 * RN_ERR_DECODE or RN_ERR_NOMEM; on failure acc may own memory: release
 * it with rn_accum_free. */
rn_err_t rn_accum_decode(rn_accum_ctx_t *cx, const rn_agg_spec_t *s, rn_snap_reader_t *r,
                         rn_accum_t *acc);

/* Releases what acc owns and leaves it without aux. */
void rn_accum_free(const rn_accum_ctx_t *cx, const rn_agg_spec_t *s, rn_accum_t *acc);

/* ---- packed form (GroupAggregate's value slot) ----------------------------- */

/* Bytes of the packed accumulator of kind k (a multiple of 8). */
static inline size_t rn_accum_packed_size(rn_agg_kind k)
{
    switch (k) {
    case RN_AGG_COUNT_STAR: return 0;
    case RN_AGG_COUNT:
    case RN_AGG_COUNT_DISTINCT: return 8;
    case RN_AGG_SUM:
    case RN_AGG_AVG: return 16;
    default: return sizeof(rn_value_t) + sizeof(int64_t) + sizeof(void *);
    }
}

/* Unpacks the accumulator of kind k at slot into acc (COUNT(*): zero; the
 * caller knows the count). */
static inline void rn_accum_load(rn_agg_kind k, const void *slot, rn_accum_t *acc)
{
    const unsigned char *p = slot;
    memset(acc, 0, sizeof *acc);
    switch (k) {
    case RN_AGG_COUNT_STAR: break;
    case RN_AGG_COUNT:
    case RN_AGG_COUNT_DISTINCT:
        memcpy(&acc->v.i, p, 8);
        acc->n = acc->v.i;
        break;
    case RN_AGG_SUM:
    case RN_AGG_AVG:
        memcpy(&acc->v.i, p, 8); /* the bits of an int64 or a double */
        memcpy(&acc->n, p + 8, 8);
        break;
    default:
        memcpy(&acc->v, p, sizeof acc->v);
        memcpy(&acc->n, p + sizeof acc->v, sizeof acc->n);
        memcpy(&acc->aux, p + sizeof acc->v + sizeof acc->n, sizeof acc->aux);
        break;
    }
}

/* Adds v to the packed accumulator of s at slot in place, as rn_accum_add
 * would, when that needs no unpacking: COUNT (its count), SUM of integers
 * (value, wrapping, and non-NULL count). False for the other kinds, which
 * go through rn_accum_load, rn_accum_add and rn_accum_store. */
static inline bool rn_accum_add_packed(const rn_agg_spec_t *s, void *slot, const rn_value_t *v)
{
    bool count = s->kind == RN_AGG_COUNT;
    if (!count && (s->kind != RN_AGG_SUM || s->arg_type == RN_TYPE_DOUBLE)) return false;
    if (v->null) return true;
    unsigned char *p = slot;
    uint64_t w;
    memcpy(&w, p, 8);
    w += count ? 1 : (uint64_t)v->i;
    memcpy(p, &w, 8);
    if (!count) {
        memcpy(&w, p + 8, 8);
        w++;
        memcpy(p + 8, &w, 8);
    }
    return true;
}

/* Packs acc into slot (the inverse of rn_accum_load; seq is dropped). */
static inline void rn_accum_store(rn_agg_kind k, void *slot, const rn_accum_t *acc)
{
    unsigned char *p = slot;
    switch (k) {
    case RN_AGG_COUNT_STAR: break;
    case RN_AGG_COUNT:
    case RN_AGG_COUNT_DISTINCT: memcpy(p, &acc->v.i, 8); break;
    case RN_AGG_SUM:
    case RN_AGG_AVG:
        memcpy(p, &acc->v.i, 8);
        memcpy(p + 8, &acc->n, 8);
        break;
    default:
        memcpy(p, &acc->v, sizeof acc->v);
        memcpy(p + sizeof acc->v, &acc->n, sizeof acc->n);
        memcpy(p + sizeof acc->v + sizeof acc->n, &acc->aux, sizeof acc->aux);
        break;
    }
}

#endif
