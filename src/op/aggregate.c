/*
 * aggregate.c - unbounded GROUP BY with retraction (Flink's GroupAggregate).
 *
 * State: one rn_store entry per group, keyed by the serialized group key,
 * holding the group's row count and one accumulator per aggregate.
 * COUNT(DISTINCT x) keeps, per group, a store of distinct values with their
 * multiplicity; MIN/MAX over an updating input keep the same multiset so a
 * retracted extreme can be replaced (the multiset is rescanned only when the
 * current extreme's last copy is retracted). FIRST_VALUE/LAST_VALUE keep
 * the first/last non-NULL value in arrival order and are accepted only over
 * an insert-only input (a retraction could not restore the previous one).
 *
 * Emission: a batch is processed in one go. The first time a group is
 * touched in a batch its current result is snapshotted ("before"); after
 * the whole batch, each touched group emits once: +I when new, -U(before)
 * +U(after) when the result changed, nothing when it did not, -D(before)
 * when its row count reached zero (the group is then dropped). This is the
 * per-batch coalescing of updates to one key.
 */
#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "op/op.h"
#include "state/store.h"

#include <stdio.h>
#include <string.h>

typedef struct agg_acc {
    rn_value_t v;               /* SUM/COUNT/AVG running value; MIN/MAX current extreme */
    int64_t n;                  /* non-NULL inputs counted (net of retractions) */
    void *aux;                  /* distinct-value multiset (rn_store_t), or owned string
                                 * (MIN/MAX/FIRST_VALUE/LAST_VALUE) */
} agg_acc_t;

typedef struct agg_group {
    int64_t rows;               /* net row count of the group */
    uint64_t epoch;             /* batch in which the group was last touched */
    int64_t emitted;            /* 1 once a result has been sent downstream */
    int64_t pad;
    agg_acc_t acc[];            /* one per aggregate */
} agg_group_t;

typedef struct agg_touched {
    agg_group_t *group;         /* group touched in this batch */
    rn_value_t *before;         /* its result before the batch (naggs), or NULL if none emitted */
} agg_touched_t;

typedef struct aggregate {
    int nkeys;                  /* group key columns: input columns 0..nkeys-1 */
    int naggs;
    rn_agg_spec_t *aggs;        /* naggs specs */
    bool input_updating;        /* input carries retractions */
    rn_store_t *groups;         /* group key -> agg_group_t */
    uint64_t epoch;             /* current batch number */
    rn_buf_t key;               /* scratch for serializing keys */
    rn_buf_t vkey;              /* scratch for serializing distinct values */
    const rn_schema_t *in_schema;
} aggregate_t;

static bool agg_uses_multiset(const aggregate_t *a, const rn_agg_spec_t *s)
{
    return s->kind == RN_AGG_COUNT_DISTINCT ||
           (a->input_updating && (s->kind == RN_AGG_MIN || s->kind == RN_AGG_MAX));
}

static void agg_group_free(void *value, void *opaque)
{
    aggregate_t *a = opaque;
    agg_group_t *g = value;
    for (int i = 0; i < a->naggs; i++) {
        if (!g->acc[i].aux) continue;
        if (agg_uses_multiset(a, &a->aggs[i])) rn_store_free(g->acc[i].aux);
        else rn_free(g->acc[i].aux);
    }
}

#define AGG_UNSEEN (-2) /* a retracted value that was never added */

/* Adds sign (+1/-1) copies of v to the multiset of acc; returns the
 * value's new multiplicity, AGG_UNSEEN for the retraction of a value not
 * in the multiset (ignored), or -1 on OOM. */
static int64_t agg_multiset_add(aggregate_t *a, agg_acc_t *acc, rn_type_id t, const rn_value_t *v,
                                int sign)
{
    if (!acc->aux) {
        acc->aux = rn_store_new("distinct", sizeof(int64_t), NULL, NULL);
        if (!acc->aux) return -1;
    }
    rn_buf_clear(&a->vkey);
    rn_key_append(&a->vkey, t, v);
    if (a->vkey.oom) return -1;
    uint64_t h = rn_hash_bytes(a->vkey.data, a->vkey.len, 0x9e3779b9);
    if (sign > 0) {
        bool created;
        int64_t *cnt = rn_store_upsert(acc->aux, a->vkey.data, (uint32_t)a->vkey.len, h, &created);
        if (!cnt) return -1;
        return ++*cnt;
    }
    int64_t *cnt = rn_store_find(acc->aux, a->vkey.data, (uint32_t)a->vkey.len, h);
    if (!cnt) return AGG_UNSEEN; /* retraction of a value never seen: ignore */
    if (--*cnt <= 0) {
        rn_store_remove(acc->aux, a->vkey.data, (uint32_t)a->vkey.len, h);
        return 0;
    }
    return *cnt;
}

/* Recomputes the MIN or MAX of a multiset into acc->v. Strings point into
 * the multiset's keys. */
static void agg_multiset_extreme(agg_acc_t *acc, const rn_agg_spec_t *s)
{
    acc->v = RN_VALUE_NULL;
    if (!acc->aux) return;
    size_t pos = 0;
    void *slot;
    bool have = false;
    while ((slot = rn_store_next(acc->aux, &pos))) {
        uint32_t klen, off = 0;
        const void *k = rn_store_key_of(acc->aux, slot, &klen);
        rn_value_t v;
        if (!rn_key_read(k, klen, &off, s->arg_type, &v) || v.null) continue;
        int c = have ? rn_value_compare(s->arg_type, &v, &acc->v) : 0;
        if (!have || (s->kind == RN_AGG_MIN ? c < 0 : c > 0)) {
            acc->v = v;
            have = true;
        }
    }
}

/* Makes v the accumulator's current value; a string is copied into an
 * owned buffer (acc->aux) that replaces the previous one. Returns RN_OK or
 * RN_ERR_NOMEM (acc unchanged). */
static rn_err_t agg_keep_value(const rn_agg_spec_t *s, agg_acc_t *acc, const rn_value_t *v)
{
    if (s->arg_type != RN_TYPE_STRING) {
        acc->v = *v;
        return RN_OK;
    }
    char *copy = rn_strndup(v->s ? v->s : "", v->len);
    if (!copy) return RN_ERR_NOMEM;
    rn_free(acc->aux);
    acc->aux = copy;
    acc->v = rn_value_str(copy, v->len);
    return RN_OK;
}

/* Applies one input value with sign to an accumulator. Returns RN_OK or
 * RN_ERR_NOMEM. */
static rn_err_t agg_update(aggregate_t *a, const rn_agg_spec_t *s, agg_acc_t *acc,
                           const rn_value_t *v, int sign)
{
    switch (s->kind) {
    case RN_AGG_COUNT_STAR:
        acc->v.i += sign;
        return RN_OK;
    case RN_AGG_COUNT:
        if (!v->null) acc->v.i += sign;
        return RN_OK;
    case RN_AGG_COUNT_DISTINCT: {
        if (v->null) return RN_OK;
        int64_t before_n = acc->n;
        int64_t m = agg_multiset_add(a, acc, s->arg_type, v, sign);
        if (m == AGG_UNSEEN) return RN_OK;
        if (m < 0) return RN_ERR_NOMEM;
        if (sign > 0 && m == 1) acc->n = before_n + 1;
        if (sign < 0 && m == 0) acc->n = before_n - 1;
        acc->v.i = acc->n;
        return RN_OK;
    }
    case RN_AGG_SUM:
    case RN_AGG_AVG:
        if (v->null) return RN_OK;
        acc->n += sign;
        if (s->kind == RN_AGG_AVG || s->arg_type == RN_TYPE_DOUBLE) {
            double x = s->arg_type == RN_TYPE_DOUBLE ? v->d : (double)v->i;
            acc->v.d += sign > 0 ? x : -x;
        } else {
            uint64_t u = (uint64_t)acc->v.i;
            u = sign > 0 ? u + (uint64_t)v->i : u - (uint64_t)v->i;
            acc->v.i = (int64_t)u;
        }
        return RN_OK;
    case RN_AGG_MIN:
    case RN_AGG_MAX: {
        if (v->null) return RN_OK;
        acc->n += sign;
        if (a->input_updating) {
            /* Decide before the multiset changes: acc->v may point into it. */
            bool was_extreme = !acc->v.null && acc->n - sign > 0 &&
                               rn_value_equal(s->arg_type, v, &acc->v);
            int64_t m = agg_multiset_add(a, acc, s->arg_type, v, sign);
            if (m == AGG_UNSEEN) {
                acc->n -= sign;
                return RN_OK;
            }
            if (m < 0) return RN_ERR_NOMEM;
            /* Cheap paths: a new better value, or a retraction that leaves the
             * extreme in place; otherwise rescan. */
            if (sign > 0) {
                bool better = acc->n == 1 || acc->v.null;
                if (!better) {
                    int c = rn_value_compare(s->arg_type, v, &acc->v);
                    better = s->kind == RN_AGG_MIN ? c < 0 : c > 0;
                }
                if (better) {
                    /* Strings must point into the multiset's own copy. */
                    if (s->arg_type == RN_TYPE_STRING) agg_multiset_extreme(acc, s);
                    else acc->v = *v;
                }
            } else if (m == 0 && was_extreme) {
                agg_multiset_extreme(acc, s);
            }
            return RN_OK;
        }
        if (sign < 0) return RN_OK; /* cannot happen on an insert-only input */
        bool better = acc->n == 1;
        if (!better) {
            int c = rn_value_compare(s->arg_type, v, &acc->v);
            better = s->kind == RN_AGG_MIN ? c < 0 : c > 0;
        }
        if (!better) return RN_OK;
        return agg_keep_value(s, acc, v);
    }
    case RN_AGG_FIRST_VALUE:
    case RN_AGG_LAST_VALUE:
        /* Insert-only input (checked by rn_aggregate_new): arrival order. */
        if (v->null || sign < 0) return RN_OK;
        if (s->kind == RN_AGG_FIRST_VALUE && acc->n > 0) return RN_OK;
        if (agg_keep_value(s, acc, v) != RN_OK) return RN_ERR_NOMEM;
        acc->n++;
        return RN_OK;
    }
    return RN_OK;
}

/* The current result of one aggregate. Strings are copied into arena so
 * the result survives later changes to the state. */
static rn_err_t agg_result(const rn_agg_spec_t *s, const agg_acc_t *acc, rn_arena_t *arena,
                           rn_value_t *out)
{
    switch (s->kind) {
    case RN_AGG_COUNT_STAR:
    case RN_AGG_COUNT:
    case RN_AGG_COUNT_DISTINCT:
        *out = rn_value_int(acc->v.i);
        return RN_OK;
    case RN_AGG_SUM:
        *out = acc->n > 0 ? acc->v : RN_VALUE_NULL;
        if (acc->n > 0 && s->arg_type == RN_TYPE_DOUBLE) *out = rn_value_double(acc->v.d);
        return RN_OK;
    case RN_AGG_AVG:
        *out = acc->n > 0 ? rn_value_double(acc->v.d / (double)acc->n) : RN_VALUE_NULL;
        return RN_OK;
    case RN_AGG_MIN:
    case RN_AGG_MAX:
    case RN_AGG_FIRST_VALUE:
    case RN_AGG_LAST_VALUE:
        if (acc->n <= 0 || acc->v.null) {
            *out = RN_VALUE_NULL;
            return RN_OK;
        }
        *out = acc->v;
        if (s->arg_type == RN_TYPE_STRING) {
            char *p = rn_arena_strndup(arena, acc->v.s ? acc->v.s : "", acc->v.len);
            if (!p) return RN_ERR_NOMEM;
            out->s = p;
        }
        return RN_OK;
    }
    return RN_OK;
}

static bool agg_results_equal(const aggregate_t *a, const rn_value_t *x, const rn_value_t *y)
{
    for (int i = 0; i < a->naggs; i++) {
        if (x[i].null != y[i].null) return false;
        if (!x[i].null && !rn_value_equal(a->aggs[i].result_type, &x[i], &y[i])) return false;
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

static rn_err_t aggregate_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    aggregate_t *a = op->priv;
    rn_arena_t *arena = ctx->arena;
    a->epoch++;
    agg_touched_t *touched = rn_arena_alloc(arena, sizeof *touched * (size_t)in->nrows);
    if (!touched) return RN_ERR_NOMEM;
    int ntouched = 0;

    for (int r = 0; r < in->nrows; r++) {
        rn_buf_clear(&a->key);
        for (int k = 0; k < a->nkeys; k++)
            rn_key_append(&a->key, a->in_schema->cols[k].type->id, &in->cols[k][r]);
        if (a->key.oom) return RN_ERR_NOMEM;
        uint64_t h = rn_hash_bytes(a->key.data, a->key.len, 0);
        bool created;
        agg_group_t *g = rn_store_upsert(a->groups, a->key.data, (uint32_t)a->key.len, h, &created);
        if (!g) return RN_ERR_NOMEM;
        if (g->epoch != a->epoch) {
            g->epoch = a->epoch;
            agg_touched_t *t = &touched[ntouched++];
            t->group = g;
            t->before = NULL;
            if (g->emitted) {
                t->before = rn_arena_alloc(arena, sizeof(rn_value_t) * (size_t)(a->naggs ? a->naggs : 1));
                if (!t->before) return RN_ERR_NOMEM;
                for (int i = 0; i < a->naggs; i++) {
                    rn_err_t err = agg_result(&a->aggs[i], &g->acc[i], arena, &t->before[i]);
                    if (err != RN_OK) return err;
                }
            }
        }
        int sign = rn_rowkind_is_retract((rn_rowkind_t)in->kinds[r]) ? -1 : 1;
        g->rows += sign;
        for (int i = 0; i < a->naggs; i++) {
            const rn_agg_spec_t *s = &a->aggs[i];
            const rn_value_t *v = s->arg >= 0 ? &in->cols[s->arg][r] : NULL;
            rn_value_t none = RN_VALUE_NULL;
            rn_err_t err = agg_update(a, s, &g->acc[i], v ? v : &none, sign);
            if (err != RN_OK) return err;
        }
    }

    rn_batch_t *out = rn_batch_new(arena, op->schema, ntouched * 2 + 1);
    if (!out) return RN_ERR_NOMEM;
    rn_value_t *after = rn_arena_alloc(arena, sizeof(rn_value_t) * (size_t)(a->naggs ? a->naggs : 1));
    if (!after) return RN_ERR_NOMEM;
    for (int t = 0; t < ntouched; t++) {
        agg_group_t *g = touched[t].group;
        const rn_value_t *before = touched[t].before;
        rn_err_t err = RN_OK;
        if (g->rows <= 0) {
            if (before) err = agg_emit_row(a, op, g, before, RN_ROW_DELETE, out, arena);
            if (err != RN_OK) return err;
            uint32_t klen;
            const void *key = rn_store_key_of(a->groups, g, &klen);
            /* The key lives inside the entry being removed: copy it first. */
            void *kcopy = rn_arena_alloc(arena, klen ? klen : 1);
            if (!kcopy) return RN_ERR_NOMEM;
            memcpy(kcopy, key, klen);
            rn_store_remove(a->groups, kcopy, klen, rn_hash_bytes(kcopy, klen, 0));
            continue;
        }
        for (int i = 0; i < a->naggs; i++) {
            err = agg_result(&a->aggs[i], &g->acc[i], arena, &after[i]);
            if (err != RN_OK) return err;
        }
        if (!before) {
            err = agg_emit_row(a, op, g, after, RN_ROW_INSERT, out, arena);
            g->emitted = 1;
        } else if (!agg_results_equal(a, before, after)) {
            err = agg_emit_row(a, op, g, before, RN_ROW_UPDATE_BEFORE, out, arena);
            if (err == RN_OK) {
                rn_value_t *copy = rn_arena_alloc(arena, sizeof(rn_value_t) * (size_t)a->naggs);
                if (!copy) return RN_ERR_NOMEM;
                memcpy(copy, after, sizeof(rn_value_t) * (size_t)a->naggs);
                err = agg_emit_row(a, op, g, copy, RN_ROW_UPDATE_AFTER, out, arena);
            }
        }
        if (err != RN_OK) return err;
    }
    return rn_op_emit(op, out, ctx);
}

static const char *agg_kind_name(rn_agg_kind k)
{
    static const char *names[] = {"COUNT(*)", "COUNT", "COUNT DISTINCT", "SUM",       "MIN",
                                  "MAX",      "AVG",   "FIRST_VALUE",    "LAST_VALUE"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
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
        if (s->kind == RN_AGG_COUNT_STAR) rn_buf_appends(out, "COUNT(*)");
        else if (s->kind == RN_AGG_COUNT_DISTINCT)
            rn_buf_appendf(out, "COUNT(DISTINCT %s)", a->in_schema->cols[s->arg].name);
        else rn_buf_appendf(out, "%s(%s)", agg_kind_name(s->kind), a->in_schema->cols[s->arg].name);
        rn_buf_appendf(out, " AS %s", op->schema->cols[a->nkeys + i].name);
    }
    rn_buf_appends(out, "]");
    if (a->input_updating) rn_buf_appends(out, ", consumes retractions");
}

static void aggregate_destroy(rn_op_t *op)
{
    aggregate_t *a = op->priv;
    rn_store_free(a->groups);
    rn_buf_free(&a->key);
    rn_buf_free(&a->vkey);
    rn_free(a->aggs);
    rn_free(a);
}

static size_t aggregate_state_size(const rn_op_t *op, size_t *keys)
{
    const aggregate_t *a = op->priv;
    *keys = rn_store_count(a->groups);
    return rn_store_bytes(a->groups);
}

static const rn_op_vtable_t aggregate_vtable = {
    .kind = "GroupAggregate",
    .process = aggregate_process,
    .explain = aggregate_explain,
    .destroy = aggregate_destroy,
    .state_size = aggregate_state_size,
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
    }
    aggregate_t *a = rn_calloc(1, sizeof *a);
    if (!a) goto oom;
    a->nkeys = nkeys;
    a->naggs = naggs;
    a->input_updating = input->updating;
    a->in_schema = input->schema;
    a->aggs = rn_calloc((size_t)(naggs ? naggs : 1), sizeof *a->aggs);
    if (!a->aggs) goto oom;
    memcpy(a->aggs, aggs, sizeof *aggs * (size_t)naggs);
    a->groups = rn_store_new("group-aggregate",
                             sizeof(agg_group_t) + sizeof(agg_acc_t) * (size_t)naggs, agg_group_free, a);
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
        rn_free(a->aggs);
        rn_free(a);
    }
    snprintf(errbuf, errbuf_size, "out of memory creating an aggregate");
    return NULL;
}

size_t rn_aggregate_groups(const rn_op_t *op)
{
    const aggregate_t *a = op->priv;
    return rn_store_count(a->groups);
}
