/*
 * window_combine.c - local pre-aggregation of a TUMBLE or HOP window
 * aggregate before its Exchange (Flink's local-global aggregation, the
 * "two-phase" window aggregate); see op.h and docs/scale-out.md.
 *
 * A window aggregate whose group key is not how its input is partitioned
 * gets its rows through a repartition topic. Without a combiner every row
 * crosses it; with one, each input batch crosses it as one row per
 * (pane, group key) it holds: the pane is the window itself for TUMBLE,
 * the slide for HOP (every row of a pane belongs to the same HOP windows),
 * and the row carries the partial aggregates of the pane's rows
 * (COUNT(*)/COUNT: a count; SUM of integers: a sum; MIN/MAX: the value).
 * The global window aggregate after the Exchange merges them with SUM,
 * SUM, MIN and MAX; integer sums wrap as they always did, so results are
 * the same bit for bit (a DOUBLE sum would change with the order of its
 * additions: not combined, see rn_window_combinable).
 *
 * Time. A combined row's rowtime is the latest of its rows' (in the same
 * pane, so in the same windows) and its watermark (rowwm) the smallest of
 * theirs: if none of the rows was late, neither is it. A late row (as the
 * window would judge it: rowtime < rowwm - lateness) is combined with
 * nothing and crosses alone, with its own time and watermark, so the
 * global operator counts and drops it as before.
 *
 * Order. Groups are emitted in order of their first row, so the global
 * operator creates its windows in the order it would have without the
 * combiner, and equal-ended windows fire in the same order. MIN/MAX keep
 * the first of equal values, as the accumulators do.
 *
 * When the Exchange is local (`runnel test`, one process over files) there
 * is nothing to save: each row becomes its partial alone, in order, with
 * no hashing. Stateless: everything is emitted before process returns.
 */
#include <string.h>

#include "core/hash.h"
#include "core/mem.h"
#include "op/accum.h"
#include "op/exchange.h"
#include "op/op.h"
#include "state/store.h"

typedef struct combine {
    rn_window_spec_t w;
    int nkeys;
    int naggs;
    rn_agg_spec_t *aggs;        /* the window's aggregates over the input */
    int time_out;               /* output column of the rowtime (nkeys + naggs) */
    rn_buf_t key;               /* scratch: one row's pane and key bytes */
    uint64_t rows, groups;      /* rows combined, rows sent (remote only) */
    bool always;                /* combine whatever the output (tests) */
} combine_t;

/* One (pane, key) of a batch. */
typedef struct group {
    const uint8_t *key;         /* in the arena */
    uint32_t klen;
    uint64_t hash;
    int out;                    /* its output row */
} group_t;

bool rn_window_combinable(const rn_window_spec_t *w, int naggs, const rn_agg_spec_t *aggs)
{
    if ((w->kind != RN_WINDOW_TUMBLE && w->kind != RN_WINDOW_HOP) || w->proctime || naggs == 0) return false;
    for (int i = 0; i < naggs; i++) {
        switch (aggs[i].kind) {
        case RN_AGG_COUNT_STAR:
        case RN_AGG_COUNT:
        case RN_AGG_MIN:
        case RN_AGG_MAX: break;
        case RN_AGG_SUM:
            if (aggs[i].result_type != RN_TYPE_BIGINT) return false;
            break;
        default: return false;
        }
    }
    return true;
}

/* Output value of aggregate s for row r alone. */
static rn_value_t partial_of_row(const rn_agg_spec_t *s, const rn_batch_t *in, int r)
{
    switch (s->kind) {
    case RN_AGG_COUNT_STAR: return rn_value_int(1);
    case RN_AGG_COUNT: return rn_value_int(rn_batch_value_ptr(in, s->arg, r)->null ? 0 : 1);
    default: return rn_batch_value(in, s->arg, r);
    }
}

/* Adds row r's value of s to partial p (the group's so far). */
static void partial_add(const rn_agg_spec_t *s, rn_value_t *p, const rn_batch_t *in, int r)
{
    const rn_value_t *v = rn_batch_value_ptr(in, s->arg, r);
    switch (s->kind) {
    case RN_AGG_COUNT_STAR: p->i++; return;
    case RN_AGG_COUNT:
        if (!v->null) p->i++;
        return;
    case RN_AGG_SUM:
        if (v->null) return;
        if (p->null) *p = *v;
        else p->i = (int64_t)((uint64_t)p->i + (uint64_t)v->i); /* wraps, as the accumulator */
        return;
    case RN_AGG_MIN:
    case RN_AGG_MAX: {
        if (v->null) return;
        int c = p->null ? 0 : rn_value_compare(s->arg_type, v, p);
        if (p->null || (s->kind == RN_AGG_MIN ? c < 0 : c > 0)) *p = *v;
        return;
    }
    default: return;
    }
}

/* Whether g is the group of key (hash h). */
static bool group_is(const group_t *g, uint64_t h, const rn_buf_t *key)
{
    return g->hash == h && g->klen == key->len && !memcmp(g->key, key->data, key->len);
}

/* The start of rowtime t's pane: its TUMBLE window, or its HOP slide. */
static int64_t pane_of(const combine_t *c, int64_t t)
{
    return rn_window_grid_start(t, c->w.kind == RN_WINDOW_HOP ? c->w.slide_ms : c->w.size_ms, c->w.offset_ms);
}

static rn_err_t combine_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    (void)port;
    combine_t *c = op->priv;
    int n = in->nrows, ncols = op->schema->ncols;
    rn_batch_t *out = rn_arena_alloc(ctx->arena, sizeof *out);
    if (!out) return RN_ERR_NOMEM;
    memset(out, 0, sizeof *out);
    out->schema = op->schema;
    out->cap = n ? n : 1;
    out->cols = rn_arena_alloc(ctx->arena, sizeof *out->cols * (size_t)ncols);
    out->kinds = rn_arena_alloc(ctx->arena, (size_t)out->cap);
    out->rowwm = in->rowwm ? rn_arena_alloc(ctx->arena, sizeof *out->rowwm * (size_t)out->cap) : NULL;
    if (!out->cols || !out->kinds || (in->rowwm && !out->rowwm)) return RN_ERR_NOMEM;
    for (int k = 0; k < ncols; k++)
        if (!(out->cols[k] = rn_arena_alloc(ctx->arena, sizeof **out->cols * (size_t)out->cap)))
            return RN_ERR_NOMEM;
    memset(out->kinds, RN_ROW_INSERT, (size_t)out->cap);

    bool remote = c->always || (op->noutputs == 1 && rn_is_exchange(op->outputs[0].op) &&
                                rn_exchange_is_remote(op->outputs[0].op));
    group_t *table = NULL;
    uint32_t mask = 0;
    if (remote && n > 1) {
        uint32_t size = 16;
        while (size < 2u * (uint32_t)n) size <<= 1;
        table = rn_arena_alloc(ctx->arena, sizeof *table * size);
        if (!table) return RN_ERR_NOMEM;
        memset(table, 0, sizeof *table * size);
        mask = size - 1;
    }
    int m = 0; /* output rows */
    for (int r = 0; r < n; r++) {
        const rn_value_t *tv = rn_batch_value_ptr(in, c->w.time_col, r);
        if (table && !tv->null &&
            !(in->rowwm && rn_window_row_late(tv->i, in->rowwm[r], c->w.lateness_ms))) {
            rn_buf_clear(&c->key);
            rn_value_t pane = rn_value_int(pane_of(c, tv->i));
            rn_key_append(&c->key, RN_TYPE_BIGINT, &pane);
            for (int k = 0; k < c->nkeys; k++)
                rn_key_append(&c->key, op->input->schema->cols[k].type->id, rn_batch_value_ptr(in, k, r));
            if (c->key.oom) return RN_ERR_NOMEM;
            uint64_t h = rn_hash_bytes(c->key.data, c->key.len, 0);
            uint32_t i = (uint32_t)h & mask;
            while (table[i].key && !group_is(&table[i], h, &c->key)) i = (i + 1) & mask;
            group_t *g = &table[i];
            if (g->key) { /* combined into the group's row */
                int o = g->out;
                for (int a = 0; a < c->naggs; a++)
                    partial_add(&c->aggs[a], &out->cols[c->nkeys + a][o], in, r);
                if (tv->i > out->cols[c->time_out][o].i) out->cols[c->time_out][o] = *tv;
                if (out->rowwm && in->rowwm[r] < out->rowwm[o]) out->rowwm[o] = in->rowwm[r];
                continue;
            }
            uint8_t *kb = rn_arena_alloc(ctx->arena, c->key.len ? c->key.len : 1);
            if (!kb) return RN_ERR_NOMEM;
            memcpy(kb, c->key.data, c->key.len);
            *g = (group_t){.key = kb, .klen = (uint32_t)c->key.len, .hash = h, .out = m};
        }
        /* a new group, a late row, or no combining: a row of its own */
        for (int k = 0; k < c->nkeys; k++) out->cols[k][m] = rn_batch_value(in, k, r);
        for (int a = 0; a < c->naggs; a++) out->cols[c->nkeys + a][m] = partial_of_row(&c->aggs[a], in, r);
        out->cols[c->time_out][m] = *tv;
        if (out->rowwm) out->rowwm[m] = in->rowwm[r];
        m++;
    }
    out->nrows = m;
    if (remote) {
        c->rows += (uint64_t)n;
        c->groups += (uint64_t)m;
    }
    return m ? rn_op_emit(op, out, ctx) : RN_OK;
}

static void combine_explain(const rn_op_t *op, rn_buf_t *out)
{
    const combine_t *c = op->priv;
    const rn_schema_t *in = op->input->schema;
    rn_buf_appends(out, c->w.kind == RN_WINDOW_HOP ? "HOP panes of " : "TUMBLE panes of ");
    rn_duration_append(out, c->w.kind == RN_WINDOW_HOP ? c->w.slide_ms : c->w.size_ms);
    if (c->w.offset_ms) {
        rn_buf_appends(out, " offset ");
        rn_duration_append(out, c->w.offset_ms);
    }
    rn_buf_appends(out, " per input batch, group by [");
    for (int k = 0; k < c->nkeys; k++) rn_buf_appendf(out, "%s%s", k ? ", " : "", in->cols[k].name);
    rn_buf_appends(out, "], partials [");
    for (int a = 0; a < c->naggs; a++) {
        if (a) rn_buf_appends(out, ", ");
        rn_accum_explain(out, &c->aggs[a], in);
        rn_buf_appendf(out, " AS %s", op->schema->cols[c->nkeys + a].name);
    }
    rn_buf_appendc(out, ']');
}

static void combine_destroy(rn_op_t *op)
{
    combine_t *c = op->priv;
    if (!c) return;
    rn_buf_free(&c->key);
    rn_free(c->aggs);
    rn_free(c);
}

static const rn_op_vtable_t combine_vtable = {
    .kind = "WindowCombine",
    .process = combine_process,
    .explain = combine_explain,
    .destroy = combine_destroy,
};

rn_op_t *rn_window_combine_new(rn_op_t *input, const rn_window_spec_t *w, int nkeys, int naggs,
                               const rn_agg_spec_t *aggs, const char *const *agg_names,
                               rn_window_spec_t *global_w, rn_agg_spec_t *global_aggs)
{
    if (!rn_window_combinable(w, naggs, aggs)) return NULL;
    const rn_schema_t *in = input->schema;
    rn_schema_t *schema = rn_schema_new(nkeys + naggs + 1);
    combine_t *c = rn_calloc(1, sizeof *c);
    rn_agg_spec_t *own = rn_calloc((size_t)naggs, sizeof *own);
    if (!schema || !c || !own) goto fail;
    for (int k = 0; k < nkeys; k++) rn_schema_set(schema, k, in->cols[k].name, in->cols[k].type);
    for (int a = 0; a < naggs; a++) {
        const rn_agg_spec_t *s = &aggs[a];
        rn_type_id t = s->kind == RN_AGG_MIN || s->kind == RN_AGG_MAX ? s->arg_type : RN_TYPE_BIGINT;
        rn_schema_set(schema, nkeys + a, agg_names[a], rn_type_scalar(t));
        own[a] = *s;
        bool count = s->kind == RN_AGG_COUNT_STAR || s->kind == RN_AGG_COUNT; /* merged by SUM */
        global_aggs[a] = (rn_agg_spec_t){.kind = count ? RN_AGG_SUM : s->kind, .arg = nkeys + a, .arg_type = t,
                                         .result_type = s->result_type};
    }
    rn_schema_set(schema, nkeys + naggs, in->cols[w->time_col].name, in->cols[w->time_col].type);
    rn_op_t *op = rn_op_new(&combine_vtable, schema, input);
    rn_schema_unref(schema);
    schema = NULL;
    if (!op) goto fail;
    c->w = *w;
    c->nkeys = nkeys;
    c->naggs = naggs;
    c->aggs = own;
    c->time_out = nkeys + naggs;
    rn_buf_init(&c->key);
    op->priv = c;
    *global_w = *w;
    global_w->time_col = c->time_out;
    return op;
fail:
    if (schema) rn_schema_unref(schema);
    rn_free(c);
    rn_free(own);
    return NULL;
}

void rn_window_combine_always(rn_op_t *op) { ((combine_t *)op->priv)->always = true; }

void rn_window_combine_counts(const rn_op_t *op, uint64_t *rows, uint64_t *sent)
{
    const combine_t *c = op->priv;
    *rows = c->rows;
    *sent = c->groups;
}
