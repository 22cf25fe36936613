/*
 * window_combine.c - local pre-aggregation of a TUMBLE or HOP window
 * aggregate before its Exchange (Flink's local-global aggregation, the
 * "two-phase" window aggregate); see op.h and docs/scale-out.md.
 *
 * A window aggregate whose group key is not how its input is partitioned
 * gets its rows through a repartition topic. Without a combiner every row
 * crosses it; with one, each input batch crosses it as one row per
 * (pane, group key) it holds: the pane is the window itself for TUMBLE
 * and for rows that carry their window (RN_WINDOW_GIVEN: keyed by its
 * start and end, as windows of one start may differ in length), the slide
 * for HOP (every row of a pane belongs to the same HOP windows), and the
 * row carries the partial aggregates of the pane's rows
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
 * global operator counts and drops it as before; so does a row whose
 * carried window is not one (a NULL bound, start >= end). A carried
 * window's rowtime is its end - 1, the same for all its rows.
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
#include "op/combine.h"
#include "op/op.h"
#include "state/store.h"

typedef struct combine {
    rn_window_spec_t w;
    int nkeys;
    int naggs;
    rn_agg_spec_t *aggs;        /* the window's aggregates over the input */
    int time_out;               /* output column of the rowtime (nkeys + naggs); GIVEN: the
                                 * window end, its start in the next column */
    rn_buf_t key;               /* scratch: one row's pane and key bytes */
    uint64_t rows, groups;      /* rows combined, rows sent (remote only) */
    bool always;                /* combine whatever the output (tests) */
} combine_t;

bool rn_window_combinable(const rn_window_spec_t *w, int naggs, const rn_agg_spec_t *aggs)
{
    if ((w->kind != RN_WINDOW_TUMBLE && w->kind != RN_WINDOW_HOP && w->kind != RN_WINDOW_GIVEN) || w->proctime ||
        naggs == 0)
        return false;
    for (int i = 0; i < naggs; i++)
        if (!rn_combine_partial_kind(&aggs[i])) return false;
    return true;
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
    int n = in->nrows;
    bool remote = c->always || rn_combine_remote(op);
    if (!remote) { /* each row its own partial */
        int trail[2] = {c->w.time_col, c->w.start_col};
        rn_batch_t *pass = rn_combine_pass(op->schema, in, c->nkeys, c->naggs, c->aggs,
                                           c->w.kind == RN_WINDOW_GIVEN ? 2 : 1, trail, ctx->arena);
        if (!pass) return RN_ERR_NOMEM;
        return n ? rn_op_emit(op, pass, ctx) : RN_OK;
    }
    rn_batch_t *out = rn_combine_batch(op->schema, n, in->rowwm != NULL, ctx->arena);
    if (!out) return RN_ERR_NOMEM;
    rn_combine_group_t *table = NULL;
    uint32_t mask = 0;
    if (remote && n > 1 && !(table = rn_combine_table(n, &mask, ctx->arena))) return RN_ERR_NOMEM;
    int m = 0; /* output rows */
    for (int r = 0; r < n; r++) {
        const rn_value_t *tv = rn_batch_value_ptr(in, c->w.time_col, r), *sv = NULL;
        bool valid = !tv->null;
        int64_t t = valid ? tv->i : 0; /* the rowtime */
        if (c->w.kind == RN_WINDOW_GIVEN) { /* [start, end): rowtime end - 1, as the window judges it */
            sv = rn_batch_value_ptr(in, c->w.start_col, r);
            valid = valid && !sv->null && sv->i < tv->i;
            t = tv->i - 1;
        }
        if (table && valid && !(in->rowwm && rn_window_row_late(t, in->rowwm[r], c->w.lateness_ms))) {
            rn_buf_clear(&c->key);
            rn_value_t pane = rn_value_int(sv ? sv->i : pane_of(c, tv->i));
            rn_key_append(&c->key, RN_TYPE_BIGINT, &pane);
            if (sv) rn_key_append(&c->key, RN_TYPE_BIGINT, tv); /* a given window's end: its length may vary */
            for (int k = 0; k < c->nkeys; k++)
                rn_key_append(&c->key, op->input->schema->cols[k].type->id, rn_batch_value_ptr(in, k, r));
            if (c->key.oom) return RN_ERR_NOMEM;
            uint64_t h = rn_hash_bytes(c->key.data, c->key.len, 0);
            rn_combine_group_t *g = rn_combine_probe(table, mask, h, &c->key);
            if (g->key) { /* combined into the group's row */
                int o = g->out;
                for (int a = 0; a < c->naggs; a++)
                    rn_combine_partial_add(&c->aggs[a], &out->cols[c->nkeys + a][o], in, r);
                if (tv->i > out->cols[c->time_out][o].i) out->cols[c->time_out][o] = *tv;
                if (out->rowwm && in->rowwm[r] < out->rowwm[o]) out->rowwm[o] = in->rowwm[r];
                continue;
            }
            if (!rn_combine_claim(g, h, &c->key, m, ctx->arena)) return RN_ERR_NOMEM;
        }
        /* a new group, a late row, or no combining: a row of its own */
        for (int k = 0; k < c->nkeys; k++) out->cols[k][m] = rn_batch_value(in, k, r);
        for (int a = 0; a < c->naggs; a++)
            out->cols[c->nkeys + a][m] = rn_combine_partial_of_row(&c->aggs[a], in, r);
        out->cols[c->time_out][m] = *tv;
        if (sv) out->cols[c->time_out + 1][m] = *sv;
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
    if (c->w.kind == RN_WINDOW_GIVEN) {
        rn_buf_appendf(out, "WINDOW(%s, %s) windows", in->cols[c->w.start_col].name, in->cols[c->w.time_col].name);
    } else {
        rn_buf_appends(out, c->w.kind == RN_WINDOW_HOP ? "HOP panes of " : "TUMBLE panes of ");
        rn_duration_append(out, c->w.kind == RN_WINDOW_HOP ? c->w.slide_ms : c->w.size_ms);
        if (c->w.offset_ms) {
            rn_buf_appends(out, " offset ");
            rn_duration_append(out, c->w.offset_ms);
        }
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
    bool given = w->kind == RN_WINDOW_GIVEN;
    rn_schema_t *schema = rn_schema_new(nkeys + naggs + 1 + given);
    combine_t *c = rn_calloc(1, sizeof *c);
    rn_agg_spec_t *own = rn_calloc((size_t)naggs, sizeof *own);
    if (!schema || !c || !own) goto fail;
    for (int k = 0; k < nkeys; k++) rn_schema_set(schema, k, in->cols[k].name, in->cols[k].type);
    for (int a = 0; a < naggs; a++) {
        rn_schema_set(schema, nkeys + a, agg_names[a], rn_type_scalar(rn_combine_partial_type(&aggs[a])));
        own[a] = aggs[a];
        global_aggs[a] = rn_combine_merge_spec(&aggs[a], nkeys + a);
    }
    rn_schema_set(schema, nkeys + naggs, in->cols[w->time_col].name, in->cols[w->time_col].type);
    if (given) rn_schema_set(schema, nkeys + naggs + 1, in->cols[w->start_col].name, in->cols[w->start_col].type);
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
    if (given) global_w->start_col = c->time_out + 1;
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
