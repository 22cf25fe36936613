/*
 * group_combine.c - local pre-aggregation of an unbounded GROUP BY before
 * its Exchange (local-global aggregation, as op/window_combine.c does for
 * windows); see op.h and docs/scale-out.md.
 *
 * A GroupAggregate over an insert-only input whose group key is not how
 * the input is partitioned reads its rows through a repartition topic.
 * With a combiner in front of the Exchange, an input batch crosses it as
 *   - one row per group key in the batch, holding the partials of the
 *     batch's rows (op/combine.h: counts, integer sums, MIN, MAX) and NULL
 *     in every COUNT(DISTINCT) column; and
 *   - for each COUNT(DISTINCT x), one row per (group key, x) that this
 *     combiner has not sent before, holding x in that aggregate's column,
 *     NULL in the other distinct columns, and partials that change nothing
 *     (counts 0, the others NULL).
 * The GroupAggregate after the Exchange merges counts and sums by SUM,
 * MIN/MAX by MIN/MAX, and counts the distinct values of the distinct
 * columns: COUNT(DISTINCT) ignores NULL, and a value that arrives twice
 * counts once, so every result is what the aggregate computes from the
 * rows themselves (integer sums wrap alike in any order).
 *
 * What was sent. A distinct value needs to cross only once: over an
 * insert-only input the aggregate's distinct values only grow, and they
 * stay as long as its groups do, which is always without a state TTL (with
 * one, nothing is remembered: rn_group_combine_new's `may_remember`) and
 * across partition moves and restarts when the aggregate's state moves
 * with checkpoints. So the runtime turns remembering on only where it takes
 * checkpoints (rn_group_combine_remember); otherwise each batch sends its
 * distinct values once per batch. The memory is a direct-mapped table of
 * GC_SLOTS entries (the serialized (aggregate, group key, value) up to
 * GC_KEY_MAX bytes, with its hash): a value whose entry was taken by
 * another, or whose key is longer, is sent again, which changes nothing
 * after the Exchange. A process that restarts starts with an empty table,
 * and a batch that fails to leave (an error from downstream) empties it:
 * what it entered as sent may not have been.
 * An aggregate with no partials (only COUNT(DISTINCT)s) needs its group
 * rows only to make the groups exist (a group of NULLs counts 0) and to
 * keep the order below: a group row is sent when the group has new
 * values in the batch or was not sent before (the same table).
 *
 * Order. Group rows leave in order of their first row, then the distinct
 * rows in order of their row, so the aggregate after the Exchange emits
 * the groups of a batch in the order it would have without the combiner.
 * Where the Exchange is local (`runnel test`, one process reading
 * everything) each row becomes its own partial, with its distinct values
 * in their columns, passed without a copy (rn_combine_pass): no hashing,
 * nothing remembered.
 * Late rows do not apply (no window), but each output row keeps the
 * smallest rowwm of the rows it stands for.
 */
#include <string.h>

#include "core/hash.h"
#include "core/mem.h"
#include "op/accum.h"
#include "op/combine.h"
#include "op/op.h"
#include "state/store.h"

#define GC_SLOTS 16384          /* entries of the sent-values table (a power of two) */
#define GC_KEY_MAX 36           /* bytes of key an entry holds */

/* One remembered (aggregate, group key, value): 48 bytes. */
typedef struct gc_sent {
    uint64_t hash;
    uint32_t len;               /* 0: empty */
    uint32_t gen;               /* the batch that sent it, when not remembering */
    uint8_t key[GC_KEY_MAX];
} gc_sent_t;

typedef struct group_combine {
    int nkeys;
    int naggs;
    rn_agg_spec_t *aggs;        /* the aggregates over the input */
    bool has_partials;          /* some aggregate is not COUNT(DISTINCT) */
    bool may_remember;          /* no state TTL after the Exchange */
    bool remember;              /* sent values stay sent (rn_group_combine_remember) */
    gc_sent_t *sent;            /* GC_SLOTS entries, allocated when first combining */
    uint32_t gen;               /* this batch's number (matches gc_sent.gen when not remembering) */
    rn_buf_t key;               /* scratch: one row's group key bytes */
    rn_buf_t vkey;              /* scratch: a (tag, group key, value) key */
    uint64_t rows, out_rows;    /* rows combined, rows sent (while combining) */
    bool always;                /* combine whatever the output (tests) */
} group_combine_t;

bool rn_group_combinable(int naggs, const rn_agg_spec_t *aggs)
{
    if (naggs == 0) return false;
    for (int i = 0; i < naggs; i++)
        if (aggs[i].kind != RN_AGG_COUNT_DISTINCT && !rn_combine_partial_kind(&aggs[i])) return false;
    return true;
}

/* Whether key (hash h) was sent: true if it is in the table (as sent in
 * this batch, when not remembering); else it is entered, when it fits. */
static bool gc_was_sent(group_combine_t *c, const rn_buf_t *key, uint64_t h)
{
    gc_sent_t *e = &c->sent[(h >> 32) & (GC_SLOTS - 1)];
    if (e->len == key->len && e->hash == h && (c->remember || e->gen == c->gen) &&
        !memcmp(e->key, key->data, key->len))
        return true;
    if (key->len <= GC_KEY_MAX) {
        e->hash = h;
        e->len = (uint32_t)key->len;
        e->gen = c->gen;
        memcpy(e->key, key->data, key->len);
    }
    return false;
}

/* Puts the (tag, group key) prefix of a remembered key in c->vkey. */
static void gc_sent_key(group_combine_t *c, uint8_t tag, const void *gkey, size_t glen)
{
    rn_buf_clear(&c->vkey);
    rn_buf_appendc(&c->vkey, (char)tag);
    rn_buf_append(&c->vkey, gkey, glen);
}

/* Row r's group key columns into out row m. */
static void gc_put_keys(const group_combine_t *c, rn_batch_t *out, int m, const rn_batch_t *in, int r)
{
    for (int k = 0; k < c->nkeys; k++) out->cols[k][m] = rn_batch_value(in, k, r);
}

/* Combines batch in into the rows to send and sends them. */
static rn_err_t gc_combine(rn_op_t *op, group_combine_t *c, const rn_batch_t *in, rn_ctx_t *ctx)
{
    int n = in->nrows, ndistinct = 0;
    for (int a = 0; a < c->naggs; a++) ndistinct += c->aggs[a].kind == RN_AGG_COUNT_DISTINCT;
    rn_batch_t *out = rn_combine_batch(op->schema, n * (1 + ndistinct), in->rowwm != NULL, ctx->arena);
    if (!out) return RN_ERR_NOMEM;
    int m = 0; /* output rows */
    if (!c->sent && !(c->sent = rn_calloc(GC_SLOTS, sizeof *c->sent))) return RN_ERR_NOMEM;
    c->gen++;
    uint32_t mask;
    rn_combine_group_t *table = rn_combine_table(n, &mask, ctx->arena);
    int *pending = ndistinct ? rn_arena_alloc(ctx->arena, sizeof *pending * 2 * (size_t)(n * ndistinct + 1)) : NULL;
    if (!table || (ndistinct && !pending)) return RN_ERR_NOMEM;
    int npending = 0; /* (row, aggregate) pairs of distinct rows to send */
    /* Without partials, whether a group row is needed is known at the
     * end: when the group has new distinct values, or was not sent. */
    int ngroups = 0;
    int *first_row = NULL;
    bool *news = NULL;
    const rn_combine_group_t **groups = NULL; /* their slots, which hold their key bytes */
    if (!c->has_partials && (!(first_row = rn_arena_alloc(ctx->arena, sizeof *first_row * (size_t)n)) ||
                             !(news = rn_arena_alloc(ctx->arena, sizeof *news * (size_t)n)) ||
                             !(groups = rn_arena_alloc(ctx->arena, sizeof *groups * (size_t)n))))
        return RN_ERR_NOMEM;
    for (int r = 0; r < n; r++) {
        rn_buf_clear(&c->key);
        for (int k = 0; k < c->nkeys; k++)
            rn_key_append(&c->key, op->input->schema->cols[k].type->id, rn_batch_value_ptr(in, k, r));
        if (c->key.oom) return RN_ERR_NOMEM;
        uint64_t h = rn_hash_bytes(c->key.data, c->key.len, 0);
        rn_combine_group_t *g = rn_combine_probe(table, mask, h, &c->key);
        if (g->key) { /* combined into the group's row */
            if (c->has_partials) {
                int o = g->out;
                for (int a = 0; a < c->naggs; a++)
                    if (c->aggs[a].kind != RN_AGG_COUNT_DISTINCT)
                        rn_combine_partial_add(&c->aggs[a], &out->cols[c->nkeys + a][o], in, r);
                if (out->rowwm && in->rowwm[r] < out->rowwm[o]) out->rowwm[o] = in->rowwm[r];
            }
        } else if (c->has_partials) { /* the group's row, in order of first rows */
            if (!rn_combine_claim(g, h, &c->key, m, ctx->arena)) return RN_ERR_NOMEM;
            gc_put_keys(c, out, m, in, r);
            for (int a = 0; a < c->naggs; a++) {
                const rn_agg_spec_t *s = &c->aggs[a];
                out->cols[c->nkeys + a][m] =
                    s->kind == RN_AGG_COUNT_DISTINCT ? RN_VALUE_NULL : rn_combine_partial_of_row(s, in, r);
            }
            if (out->rowwm) out->rowwm[m] = in->rowwm[r];
            m++;
        } else {
            if (!rn_combine_claim(g, h, &c->key, ngroups, ctx->arena)) return RN_ERR_NOMEM;
            groups[ngroups] = g;
            first_row[ngroups] = r;
            news[ngroups++] = false;
        }
        for (int a = 0; a < c->naggs; a++) {
            const rn_agg_spec_t *s = &c->aggs[a];
            if (s->kind != RN_AGG_COUNT_DISTINCT) continue;
            const rn_value_t *v = rn_batch_value_ptr(in, s->arg, r);
            if (v->null) continue; /* counts nothing */
            gc_sent_key(c, (uint8_t)(a + 1), c->key.data, c->key.len);
            rn_key_append(&c->vkey, s->arg_type, v);
            if (c->vkey.oom) return RN_ERR_NOMEM;
            if (gc_was_sent(c, &c->vkey, rn_hash_bytes(c->vkey.data, c->vkey.len, 0))) continue;
            pending[2 * npending] = r;
            pending[2 * npending + 1] = a;
            npending++;
            if (news) news[g->out] = true;
        }
    }
    for (int i = 0; i < ngroups; i++) { /* the group rows without partials that are needed */
        int r = first_row[i];
        gc_sent_key(c, 0, groups[i]->key, groups[i]->klen);
        if (c->vkey.oom) return RN_ERR_NOMEM;
        bool sent_before = gc_was_sent(c, &c->vkey, rn_hash_bytes(c->vkey.data, c->vkey.len, 0));
        if (sent_before && !news[i]) continue;
        gc_put_keys(c, out, m, in, r);
        for (int a = 0; a < c->naggs; a++) out->cols[c->nkeys + a][m] = RN_VALUE_NULL;
        if (out->rowwm) out->rowwm[m] = in->rowwm[r];
        m++;
    }
    for (int p = 0; p < npending; p++) {
        int r = pending[2 * p], d = pending[2 * p + 1];
        gc_put_keys(c, out, m, in, r);
        for (int a = 0; a < c->naggs; a++) {
            const rn_agg_spec_t *s = &c->aggs[a];
            out->cols[c->nkeys + a][m] = a == d                              ? rn_batch_value(in, s->arg, r)
                                         : s->kind == RN_AGG_COUNT_DISTINCT ? RN_VALUE_NULL
                                                                            : rn_combine_partial_none(s);
        }
        if (out->rowwm) out->rowwm[m] = in->rowwm[r];
        m++;
    }
    out->nrows = m;
    c->rows += (uint64_t)n;
    c->out_rows += (uint64_t)m;
    return m ? rn_op_emit(op, out, ctx) : RN_OK;
}

static rn_err_t group_combine_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    (void)port;
    group_combine_t *c = op->priv;
    if (!c->always && !rn_combine_remote(op)) { /* each row its own partial, with its distinct values */
        rn_batch_t *pass = rn_combine_pass(op->schema, in, c->nkeys, c->naggs, c->aggs, 0, NULL, ctx->arena);
        if (!pass) return RN_ERR_NOMEM;
        return in->nrows ? rn_op_emit(op, pass, ctx) : RN_OK;
    }
    rn_err_t err = gc_combine(op, c, in, ctx);
    /* Values entered as sent may not have left: forget them all (sending
     * again is harmless), so that a retried batch sends them. */
    if (err != RN_OK && c->sent) memset(c->sent, 0, sizeof *c->sent * GC_SLOTS);
    return err;
}

static void group_combine_explain(const rn_op_t *op, rn_buf_t *out)
{
    const group_combine_t *c = op->priv;
    const rn_schema_t *in = op->input->schema;
    rn_buf_appends(out, "per input batch, group by [");
    for (int k = 0; k < c->nkeys; k++) rn_buf_appendf(out, "%s%s", k ? ", " : "", in->cols[k].name);
    rn_buf_appends(out, "], partials [");
    bool first = true;
    for (int a = 0; a < c->naggs; a++) {
        if (c->aggs[a].kind == RN_AGG_COUNT_DISTINCT) continue;
        rn_buf_appends(out, first ? "" : ", ");
        first = false;
        rn_accum_explain(out, &c->aggs[a], in);
        rn_buf_appendf(out, " AS %s", op->schema->cols[c->nkeys + a].name);
    }
    rn_buf_appendc(out, ']');
    first = true;
    for (int a = 0; a < c->naggs; a++) {
        if (c->aggs[a].kind != RN_AGG_COUNT_DISTINCT) continue;
        rn_buf_appends(out, first ? ", distinct values [" : ", ");
        first = false;
        rn_buf_appends(out, in->cols[c->aggs[a].arg].name);
    }
    if (!first) rn_buf_appendc(out, ']');
    if (!first && !c->may_remember) rn_buf_appends(out, " once per batch (state ttl)");
}

static void group_combine_destroy(rn_op_t *op)
{
    group_combine_t *c = op->priv;
    if (!c) return;
    rn_buf_free(&c->key);
    rn_buf_free(&c->vkey);
    rn_free(c->sent);
    rn_free(c->aggs);
    rn_free(c);
}

static const rn_op_vtable_t group_combine_vtable = {
    .kind = "GroupCombine",
    .process = group_combine_process,
    .explain = group_combine_explain,
    .destroy = group_combine_destroy,
};

rn_op_t *rn_group_combine_new(rn_op_t *input, int nkeys, int naggs, const rn_agg_spec_t *aggs,
                              const char *const *agg_names, bool may_remember, rn_agg_spec_t *global_aggs)
{
    if (!rn_group_combinable(naggs, aggs)) return NULL;
    const rn_schema_t *in = input->schema;
    rn_schema_t *schema = rn_schema_new(nkeys + naggs);
    group_combine_t *c = rn_calloc(1, sizeof *c);
    rn_agg_spec_t *own = rn_calloc((size_t)naggs, sizeof *own);
    if (!schema || !c || !own) goto fail;
    for (int k = 0; k < nkeys; k++) rn_schema_set(schema, k, in->cols[k].name, in->cols[k].type);
    for (int a = 0; a < naggs; a++) {
        const rn_agg_spec_t *s = &aggs[a];
        own[a] = *s;
        if (s->kind == RN_AGG_COUNT_DISTINCT) {
            /* named as its argument, so the aggregate after the Exchange
             * explains (and fingerprints, for checkpoints) as without it */
            rn_schema_set(schema, nkeys + a, in->cols[s->arg].name, in->cols[s->arg].type);
            global_aggs[a] = *s;
            global_aggs[a].arg = nkeys + a;
        } else {
            rn_schema_set(schema, nkeys + a, agg_names[a], rn_type_scalar(rn_combine_partial_type(s)));
            global_aggs[a] = rn_combine_merge_spec(s, nkeys + a);
            c->has_partials = true;
        }
    }
    rn_op_t *op = rn_op_new(&group_combine_vtable, schema, input);
    rn_schema_unref(schema);
    schema = NULL;
    if (!op) goto fail;
    c->nkeys = nkeys;
    c->naggs = naggs;
    c->aggs = own;
    c->may_remember = may_remember;
    rn_buf_init(&c->key);
    rn_buf_init(&c->vkey);
    op->priv = c;
    return op;
fail:
    if (schema) rn_schema_unref(schema);
    rn_free(c);
    rn_free(own);
    return NULL;
}

bool rn_is_group_combine(const rn_op_t *op) { return op->vt == &group_combine_vtable; }

void rn_group_combine_remember(rn_op_t *op, bool on)
{
    group_combine_t *c = op->priv;
    c->remember = on && c->may_remember;
    if (c->sent) memset(c->sent, 0, sizeof *c->sent * GC_SLOTS);
}

void rn_group_combine_always(rn_op_t *op) { ((group_combine_t *)op->priv)->always = true; }

void rn_group_combine_counts(const rn_op_t *op, uint64_t *rows, uint64_t *sent)
{
    const group_combine_t *c = op->priv;
    *rows = c->rows;
    *sent = c->out_rows;
}
