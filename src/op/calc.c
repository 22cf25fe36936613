/*
 * calc.c - filter and projection in one operator (Flink's "Calc").
 *
 * The predicate is evaluated vectorized into a selection vector; if every
 * row survives and there is no projection the input batch is forwarded as
 * is (zero copy). Otherwise surviving rows are gathered and the projection
 * expressions are evaluated over the gathered batch. Row kinds pass
 * through unchanged, so a filter over a changelog filters each change.
 */
#include "core/mem.h"
#include "op/op.h"

#include <string.h>

typedef struct calc {
    const rn_expr_t *predicate;        /* may be NULL */
    int nexprs;                        /* projection width */
    const rn_expr_t *const *exprs;     /* NULL: pass input columns through */
} calc_t;

/* Copies the selected rows of in into a new batch with the same schema.
 * Columns that the source never decoded (NULL arrays) stay NULL. */
static rn_batch_t *calc_gather(const rn_batch_t *in, const int *sel, int n, rn_arena_t *arena)
{
    rn_batch_t *out = rn_arena_alloc(arena, sizeof *out);
    if (!out) return NULL;
    *out = *in;
    out->nrows = n;
    out->cap = n > 0 ? n : 1;
    int ncols = in->schema->ncols;
    out->cols = rn_arena_alloc(arena, sizeof(rn_value_t *) * (size_t)(ncols ? ncols : 1));
    out->kinds = rn_arena_alloc(arena, (size_t)out->cap);
    if (!out->cols || !out->kinds) return NULL;
    for (int c = 0; c < ncols; c++) {
        if (!in->cols[c]) {
            out->cols[c] = NULL;
            continue;
        }
        rn_value_t *dst = rn_arena_alloc(arena, sizeof(rn_value_t) * (size_t)out->cap);
        if (!dst) return NULL;
        const rn_value_t *src = in->cols[c];
        for (int i = 0; i < n; i++) dst[i] = src[sel[i]];
        out->cols[c] = dst;
    }
    for (int i = 0; i < n; i++) out->kinds[i] = in->kinds[sel[i]];
    if (in->rowtime) {
        out->rowtime = rn_arena_alloc(arena, sizeof(int64_t) * (size_t)out->cap);
        if (!out->rowtime) return NULL;
        for (int i = 0; i < n; i++) out->rowtime[i] = in->rowtime[sel[i]];
    }
    if (in->rowwm) {
        out->rowwm = rn_arena_alloc(arena, sizeof(int64_t) * (size_t)out->cap);
        if (!out->rowwm) return NULL;
        for (int i = 0; i < n; i++) out->rowwm[i] = in->rowwm[sel[i]];
    }
    return out;
}

static rn_err_t calc_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    calc_t *c = op->priv;
    const rn_batch_t *rows = in;
    if (c->predicate) {
        int *sel = rn_arena_alloc(ctx->arena, sizeof(int) * (size_t)(in->nrows ? in->nrows : 1));
        if (!sel) return RN_ERR_NOMEM;
        int n = rn_expr_select(c->predicate, in, ctx->arena, sel);
        if (n < 0) return RN_ERR_NOMEM;
        if (n == 0) return RN_OK;
        if (n < in->nrows) {
            rows = calc_gather(in, sel, n, ctx->arena);
            if (!rows) return RN_ERR_NOMEM;
        }
    }
    if (!c->exprs) return rn_op_emit(op, rows, ctx);

    rn_batch_t *out = rn_arena_alloc(ctx->arena, sizeof *out);
    if (!out) return RN_ERR_NOMEM;
    out->schema = op->schema;
    out->nrows = rows->nrows;
    out->cap = rows->nrows;
    out->kinds = rows->kinds;
    out->rowtime = rows->rowtime;
    out->rowwm = rows->rowwm;
    out->cols = rn_arena_alloc(ctx->arena, sizeof(rn_value_t *) * (size_t)(c->nexprs ? c->nexprs : 1));
    if (!out->cols) return RN_ERR_NOMEM;
    for (int i = 0; i < c->nexprs; i++) {
        const rn_expr_t *e = c->exprs[i];
        if (e->kind == RN_EXPR_COLUMN) { /* plain column reference: share the array */
            out->cols[i] = rows->cols[e->col];
            continue;
        }
        out->cols[i] = rn_arena_alloc(ctx->arena, sizeof(rn_value_t) * (size_t)(rows->nrows ? rows->nrows : 1));
        if (!out->cols[i]) return RN_ERR_NOMEM;
        rn_err_t err = rn_expr_eval(e, rows, ctx->arena, out->cols[i]);
        if (err != RN_OK) return err;
    }
    return rn_op_emit(op, out, ctx);
}

static void calc_explain(const rn_op_t *op, rn_buf_t *out)
{
    const calc_t *c = op->priv;
    const rn_schema_t *in = op->input->schema;
    if (c->predicate) {
        rn_buf_appends(out, "where ");
        rn_expr_explain(c->predicate, in, out);
    }
    if (c->exprs) {
        if (c->predicate) rn_buf_appends(out, ", ");
        rn_buf_appends(out, "select [");
        for (int i = 0; i < c->nexprs; i++) {
            if (i) rn_buf_appends(out, ", ");
            rn_expr_explain(c->exprs[i], in, out);
            const char *name = op->schema->cols[i].name;
            bool same = c->exprs[i]->kind == RN_EXPR_COLUMN &&
                        !strcmp(in->cols[c->exprs[i]->col].name, name);
            if (!same) rn_buf_appendf(out, " AS %s", name);
        }
        rn_buf_appends(out, "]");
    }
}

static void calc_destroy(rn_op_t *op) { rn_free(op->priv); }

static const rn_op_vtable_t calc_vtable = {
    .kind = "Calc",
    .process = calc_process,
    .explain = calc_explain,
    .destroy = calc_destroy,
};

rn_op_t *rn_calc_new(rn_op_t *input, const rn_expr_t *predicate, int nexprs,
                     const rn_expr_t *const *exprs, rn_schema_t *out_schema)
{
    calc_t *c = rn_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->predicate = predicate;
    c->nexprs = nexprs;
    c->exprs = exprs;
    rn_op_t *op = rn_op_new(&calc_vtable, exprs ? out_schema : input->schema, input);
    if (!op) {
        rn_free(c);
        return NULL;
    }
    op->priv = c;
    op->updating = input->updating;
    return op;
}

int rn_calc_passthrough(const rn_op_t *op, int out_col)
{
    const calc_t *c = op->priv;
    if (!c->exprs) return out_col;
    const rn_expr_t *e = c->exprs[out_col];
    return e && e->kind == RN_EXPR_COLUMN ? e->col : -1;
}

bool rn_is_calc(const rn_op_t *op) { return op->vt == &calc_vtable; }
