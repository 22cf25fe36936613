/*
 * test_graph.c - unit tests for the operator contract of op/op.h: edges
 * with ports, one watermark per input (the minimum is forwarded once every
 * input has delivered one), finish exactly once after the last input, the
 * explain tree of a two-input node, snapshot/restore of a small state, and
 * the growing output batches of rn_op_out_t.
 * The graph is built by hand around a test-only two-input "Union" that
 * tags each row with the port it arrived on and counts rows per port.
 */
#include "core/mem.h"
#include "op/op.h"
#include "rn_test.h"
#include "state/snapshot.h"

/* ---- the operators -------------------------------------------------------- */

/* A feeder (upstream stand-in) or pass-through, with a name for explain;
 * records how often finish ran. */
typedef struct node {
    const char *name;
    int finishes;
} node_t;

static rn_err_t node_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    return rn_op_emit(op, b, ctx);
}
static rn_err_t node_finish(rn_op_t *op, rn_ctx_t *ctx)
{
    ((node_t *)op->priv)->finishes++;
    return RN_OK;
}
static void node_explain(const rn_op_t *op, rn_buf_t *out) { rn_buf_appends(out, ((node_t *)op->priv)->name); }
static void node_destroy(rn_op_t *op) { free(op->priv); }
static const rn_op_vtable_t node_vt = {.kind = "Node",
                                       .process = node_process,
                                       .finish = node_finish,
                                       .explain = node_explain,
                                       .destroy = node_destroy};

static rn_op_t *node_new(const char *name, rn_schema_t *schema, rn_op_t *input)
{
    rn_op_t *op = rn_op_new(&node_vt, schema, input);
    node_t *n = calloc(1, sizeof *n);
    n->name = name;
    op->priv = n;
    return op;
}
static int finishes(const rn_op_t *op) { return ((node_t *)op->priv)->finishes; }

/* Union: input columns plus "port" (BIGINT); counts rows and finishes. Its
 * snapshot: "RNUT", u32 version 1, u32 nports, then u64 rows per port. */
typedef struct un {
    uint64_t rows[2];           /* rows received per port */
    int finishes;
} un_t;

static rn_err_t union_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    un_t *u = op->priv;
    u->rows[port] += (uint64_t)in->nrows;
    rn_batch_t *out = rn_batch_new(ctx->arena, op->schema, in->nrows);
    if (!out) return RN_ERR_NOMEM;
    int ncols = in->schema->ncols;
    for (int r = 0; r < in->nrows; r++) {
        for (int c = 0; c < ncols; c++) out->cols[c][r] = in->cols[c][r];
        out->cols[ncols][r] = rn_value_int(port);
        out->kinds[r] = in->kinds[r];
    }
    out->nrows = in->nrows;
    return rn_op_emit(op, out, ctx);
}
static rn_err_t union_finish(rn_op_t *op, rn_ctx_t *ctx)
{
    ((un_t *)op->priv)->finishes++;
    return RN_OK;
}
static void union_explain(const rn_op_t *op, rn_buf_t *out) { rn_buf_appendf(out, "%d ports", op->ninputs); }
static void union_destroy(rn_op_t *op) { free(op->priv); }
static rn_err_t union_snapshot(const rn_op_t *op, rn_buf_t *out, const rn_part_filter_t *parts)
{
    const un_t *u = op->priv;
    rn_buf_append(out, "RNUT", 4);
    rn_snap_put_u32(out, 1);
    rn_snap_put_u32(out, 2);
    for (int i = 0; i < 2; i++) rn_snap_put_u64(out, u->rows[i]);
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}
static rn_err_t union_restore(rn_op_t *op, const void *data, size_t len)
{
    un_t *u = op->priv;
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, data, len);
    if (!rn_snap_have(&r, 4) || memcmp(data, "RNUT", 4) != 0) return RN_ERR_DECODE;
    r.off = 4;
    uint64_t rows[2] = {0, 0};
    if (rn_snap_u32(&r) != 1 || rn_snap_u32(&r) != 2) return RN_ERR_DECODE;
    for (int i = 0; i < 2; i++) rows[i] = rn_snap_u64(&r);
    if (!rn_snap_done(&r)) return RN_ERR_DECODE;
    memcpy(u->rows, rows, sizeof rows);
    return RN_OK;
}
static const rn_op_vtable_t union_vt = {.kind = "Union",
                                        .process = union_process,
                                        .finish = union_finish,
                                        .explain = union_explain,
                                        .destroy = union_destroy,
                                        .snapshot = union_snapshot,
                                        .restore = union_restore};

static rn_schema_t *union_schema(void)
{
    rn_schema_t *s = rn_schema_new(2);
    rn_schema_set(s, 0, "x", &rn_type_bigint);
    rn_schema_set(s, 1, "port", &rn_type_bigint);
    return s;
}

static rn_op_t *union_new(rn_schema_t *out)
{
    rn_op_t *op = rn_op_new(&union_vt, out, NULL);
    op->priv = calloc(1, sizeof(un_t));
    return op;
}

/* Sink: "x@port" per row, the watermarks it was given, and finishes. */
typedef struct cap {
    rn_buf_t rows;
    rn_buf_t wms;
    int finishes;
} cap_t;

static rn_err_t cap_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    cap_t *c = op->priv;
    for (int r = 0; r < b->nrows; r++)
        rn_buf_appendf(&c->rows, "%s%lld@%lld", c->rows.len ? " " : "", (long long)b->cols[0][r].i,
                       (long long)b->cols[1][r].i);
    return RN_OK;
}
static rn_err_t cap_watermark(rn_op_t *op, int64_t wm, rn_ctx_t *ctx)
{
    cap_t *c = op->priv;
    op->watermark = wm;
    if (wm == RN_WM_MAX) rn_buf_appendf(&c->wms, "%smax", c->wms.len ? " " : "");
    else rn_buf_appendf(&c->wms, "%s%lld", c->wms.len ? " " : "", (long long)wm);
    return rn_op_watermark(op, wm, ctx);
}
static rn_err_t cap_finish(rn_op_t *op, rn_ctx_t *ctx)
{
    ((cap_t *)op->priv)->finishes++;
    return RN_OK;
}
static void cap_destroy(rn_op_t *op)
{
    cap_t *c = op->priv;
    rn_buf_free(&c->rows);
    rn_buf_free(&c->wms);
    free(c);
}
static const rn_op_vtable_t cap_vt = {.kind = "Capture",
                                      .process = cap_process,
                                      .watermark = cap_watermark,
                                      .finish = cap_finish,
                                      .destroy = cap_destroy};

static rn_op_t *cap_new(rn_op_t *up)
{
    rn_op_t *op = rn_op_new(&cap_vt, up->schema, up);
    cap_t *c = calloc(1, sizeof *c);
    rn_buf_init(&c->rows);
    rn_buf_init(&c->wms);
    op->priv = c;
    RN_CHECK_EQ_INT(rn_op_connect(up, op, 0), RN_OK);
    return op;
}
static const char *cap_rows(const rn_op_t *op)
{
    const cap_t *c = op->priv;
    return c->rows.data ? c->rows.data : "";
}
static const char *cap_wms(const rn_op_t *op)
{
    const cap_t *c = op->priv;
    return c->wms.data ? c->wms.data : "";
}

/* ---- fixture: a, b -> Union (ports 0, 1) -> Capture ------------------------- */

typedef struct fix {
    rn_arena_t arena;
    rn_ctx_t ctx;
    char errbuf[128];
    rn_schema_t *in, *out;
    rn_op_t *a, *b, *u, *cap;
} fix_t;

static void fix_init(fix_t *f)
{
    memset(f, 0, sizeof *f);
    rn_arena_init(&f->arena, 0);
    f->ctx.arena = &f->arena;
    f->ctx.errbuf = f->errbuf;
    f->ctx.errbuf_size = sizeof f->errbuf;
    f->in = rn_schema_new(1);
    rn_schema_set(f->in, 0, "x", &rn_type_bigint);
    f->out = union_schema();
    f->a = node_new("a", f->in, NULL);
    f->b = node_new("b", f->in, NULL);
    f->u = union_new(f->out);
    RN_CHECK_EQ_INT(rn_op_connect(f->a, f->u, 0), RN_OK);
    RN_CHECK_EQ_INT(rn_op_connect(f->b, f->u, 1), RN_OK);
    f->cap = cap_new(f->u);
}

static void fix_free(fix_t *f)
{
    rn_op_free(f->cap);
    rn_op_free(f->u);
    rn_op_free(f->a);
    rn_op_free(f->b);
    rn_schema_unref(f->in);
    rn_schema_unref(f->out);
    rn_arena_free(&f->arena);
}

/* Emits one row x from feeder op. */
static rn_err_t send(fix_t *f, rn_op_t *op, int64_t x)
{
    rn_arena_reset(&f->arena);
    rn_batch_t *b = rn_batch_new(&f->arena, f->in, 1);
    b->cols[0][0] = rn_value_int(x);
    b->kinds[0] = RN_ROW_INSERT;
    b->nrows = 1;
    return rn_op_emit(op, b, &f->ctx);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_ports(void)
{
    fix_t f;
    fix_init(&f);
    RN_CHECK_EQ_INT(f.u->ninputs, 2);
    RN_CHECK(f.u->inputs[0].op == f.a && f.u->inputs[1].op == f.b);
    RN_CHECK(f.u->input == f.a);
    RN_CHECK_EQ_INT(f.a->outputs[0].port, 0);
    RN_CHECK_EQ_INT(f.b->outputs[0].port, 1);
    /* A port has one upstream; ports are not negative. */
    RN_CHECK_EQ_INT(rn_op_connect(f.b, f.u, 0), RN_ERR_UNSUPPORTED);
    RN_CHECK_EQ_INT(rn_op_connect(f.a, f.u, -1), RN_ERR_UNSUPPORTED);
    RN_CHECK_EQ_INT(f.b->noutputs, 1);
    RN_CHECK_EQ_INT(send(&f, f.a, 1), RN_OK);
    RN_CHECK_EQ_INT(send(&f, f.b, 2), RN_OK);
    RN_CHECK_EQ_INT(send(&f, f.a, 3), RN_OK);
    RN_CHECK_EQ_STR(cap_rows(f.cap), "1@0 2@1 3@0");
    RN_CHECK_EQ_INT(f.u->rows_in, 3);
    RN_CHECK_EQ_INT(f.cap->rows_in, 3);
    fix_free(&f);
}

static void test_watermark_minimum(void)
{
    fix_t f;
    fix_init(&f);
    /* Nothing passes until both inputs have delivered a watermark. */
    RN_CHECK_EQ_INT(rn_op_watermark(f.a, 10, &f.ctx), RN_OK);
    RN_CHECK_EQ_STR(cap_wms(f.cap), "");
    RN_CHECK_EQ_INT(f.u->watermark, RN_WM_MIN);
    RN_CHECK_EQ_INT(rn_op_input_watermark(f.u), RN_WM_MIN);
    RN_CHECK_EQ_INT(rn_op_watermark(f.b, 5, &f.ctx), RN_OK);
    RN_CHECK_EQ_INT(f.u->watermark, 5);
    RN_CHECK_EQ_INT(rn_op_watermark(f.a, 20, &f.ctx), RN_OK); /* b still at 5 */
    RN_CHECK_EQ_INT(rn_op_watermark(f.b, 30, &f.ctx), RN_OK); /* a now the slowest */
    RN_CHECK_EQ_INT(f.u->inputs[0].wm, 20);
    RN_CHECK_EQ_INT(f.u->inputs[1].wm, 30);
    RN_CHECK_EQ_STR(cap_wms(f.cap), "5 5 20");
    /* A finished input no longer holds the watermark back: finishing a
     * moves the union on to b's 30 at once, without waiting for b's next. */
    RN_CHECK_EQ_INT(rn_op_finish(f.a, &f.ctx), RN_OK);
    RN_CHECK_EQ_STR(cap_wms(f.cap), "5 5 20 30");
    RN_CHECK_EQ_INT(f.u->watermark, 30);
    RN_CHECK_EQ_INT(rn_op_watermark(f.b, 40, &f.ctx), RN_OK);
    RN_CHECK_EQ_STR(cap_wms(f.cap), "5 5 20 30 40");
    RN_CHECK_EQ_INT(f.cap->watermark, 40);
    fix_free(&f);
}

static void test_finish_once_after_all_inputs(void)
{
    fix_t f;
    fix_init(&f);
    un_t *u = f.u->priv;
    cap_t *c = f.cap->priv;
    RN_CHECK_EQ_INT(rn_op_finish(f.a, &f.ctx), RN_OK);
    RN_CHECK_EQ_INT(u->finishes, 0); /* b still open */
    RN_CHECK_EQ_INT(f.u->nfinished, 1);
    RN_CHECK_EQ_INT(rn_op_finish(f.a, &f.ctx), RN_OK); /* again: nothing */
    RN_CHECK_EQ_INT(f.u->nfinished, 1);
    RN_CHECK_EQ_INT(finishes(f.a), 1);
    RN_CHECK_EQ_INT(rn_op_finish(f.b, &f.ctx), RN_OK);
    RN_CHECK_EQ_INT(u->finishes, 1);
    RN_CHECK_EQ_INT(c->finishes, 1);
    RN_CHECK(f.u->finished && f.cap->finished);
    fix_free(&f);
}

/* One source reaching the union on two paths (a diamond): finishing the
 * source finishes every operator once. */
static void test_finish_diamond(void)
{
    fix_t f;
    fix_init(&f);
    rn_op_t *src = node_new("src", f.in, NULL);
    RN_CHECK_EQ_INT(rn_op_connect(src, f.a, 0), RN_OK);
    RN_CHECK_EQ_INT(rn_op_connect(src, f.b, 0), RN_OK);
    RN_CHECK_EQ_INT(send(&f, src, 7), RN_OK);
    RN_CHECK_EQ_STR(cap_rows(f.cap), "7@0 7@1");
    RN_CHECK_EQ_INT(rn_op_finish(src, &f.ctx), RN_OK);
    RN_CHECK_EQ_INT(finishes(src), 1);
    RN_CHECK_EQ_INT(finishes(f.a), 1);
    RN_CHECK_EQ_INT(finishes(f.b), 1);
    RN_CHECK_EQ_INT(((un_t *)f.u->priv)->finishes, 1);
    RN_CHECK_EQ_INT(((cap_t *)f.cap->priv)->finishes, 1);
    /* The explain tree shows both inputs of the union. */
    rn_buf_t out;
    rn_buf_init(&out);
    rn_op_explain(f.cap, &out);
    RN_CHECK_EQ_STR(out.data, "Capture\n"
                              "└─ Union: 2 ports\n"
                              "   ├─ Node: a\n"
                              "   │  └─ Node: src\n"
                              "   └─ Node: b\n"
                              "      └─ Node: src\n");
    rn_buf_free(&out);
    rn_op_free(src);
    fix_free(&f);
}

static void test_union_snapshot_restore(void)
{
    fix_t f;
    fix_init(&f);
    RN_CHECK_EQ_INT(send(&f, f.a, 1), RN_OK);
    RN_CHECK_EQ_INT(send(&f, f.b, 2), RN_OK);
    RN_CHECK_EQ_INT(send(&f, f.b, 3), RN_OK);
    rn_buf_t snap;
    rn_buf_init(&snap);
    RN_CHECK_EQ_INT(f.u->vt->snapshot(f.u, &snap, NULL), RN_OK);
    RN_CHECK_EQ_INT(snap.len, 28);
    rn_op_t *fresh = union_new(f.out);
    int accepted = 0;
    for (size_t len = 0; len < snap.len; len++) accepted += fresh->vt->restore(fresh, snap.data, len) == RN_OK;
    RN_CHECK_EQ_INT(accepted, 0);
    RN_CHECK_EQ_INT(((un_t *)fresh->priv)->rows[1], 0);
    RN_CHECK_EQ_INT(fresh->vt->restore(fresh, snap.data, snap.len), RN_OK);
    RN_CHECK_EQ_INT(((un_t *)fresh->priv)->rows[0], 1);
    RN_CHECK_EQ_INT(((un_t *)fresh->priv)->rows[1], 2);
    rn_buf_free(&snap);
    rn_op_free(fresh);
    fix_free(&f);
}

/* The stateless operators of op.h have no snapshot. */
static void test_stateless_have_no_snapshot(void)
{
    rn_schema_t *s = rn_schema_new(1);
    rn_schema_set(s, 0, "x", &rn_type_bigint);
    rn_op_t *src = node_new("src", s, NULL);
    rn_op_t *calc = rn_calc_new(src, NULL, 0, NULL, NULL);
    RN_REQUIRE(calc != NULL);
    RN_CHECK(calc->vt->snapshot == NULL && calc->vt->restore == NULL);
    rn_op_free(calc);
    rn_op_free(src);
    rn_schema_unref(s);
}

/* Batch sizes (and whether each had a rowwm array) seen by a recorder;
 * rows must come numbered 0, 1, ... */
static long sizes_seen;
static rn_err_t sizes_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    rn_buf_t *out = op->priv;
    rn_buf_appendf(out, "%s%d%s", out->len ? " " : "", b->nrows, b->rowwm ? "w" : "");
    for (int r = 0; r < b->nrows; r++)
        if (b->cols[0][r].i != (int64_t)(sizes_seen++)) rn_buf_appends(out, "!order");
    return RN_OK;
}

/* rn_op_out_t: batches of 16, 32, ... up to RN_BATCH_MAX rows, rows in
 * order, a rowwm array when asked for, the partial batch on flush. */
static void test_out_batches(void)
{
    fix_t f;
    fix_init(&f);
    static const rn_op_vtable_t sizes_vt = {.kind = "Sizes", .process = sizes_process};
    rn_op_t *src = node_new("s", f.in, NULL);
    rn_buf_t seen;
    rn_buf_init(&seen);
    rn_op_t *rec = rn_op_new(&sizes_vt, f.in, src);
    rec->priv = &seen;
    RN_CHECK_EQ_INT(rn_op_connect(src, rec, 0), RN_OK);
    for (int with_wm = 0; with_wm < 2; with_wm++) {
        sizes_seen = 0;
        rn_buf_clear(&seen);
        rn_arena_reset(&f.arena);
        rn_op_out_t o = {.op = src, .ctx = &f.ctx, .rowwm = with_wm};
        for (int i = 0; i < 3000; i++) {
            int r;
            RN_REQUIRE(rn_op_out_row(&o, &r) == RN_OK);
            o.b->cols[0][r] = rn_value_int(i);
            o.b->kinds[r] = RN_ROW_INSERT;
            if (with_wm) o.b->rowwm[r] = 0;
        }
        RN_CHECK_EQ_INT(rn_op_out_flush(&o), RN_OK);
        RN_CHECK_EQ_INT(rn_op_out_flush(&o), RN_OK); /* nothing left: emits nothing */
        RN_CHECK_EQ_STR(seen.data, with_wm ? "16w 32w 64w 128w 256w 512w 1024w 968w"
                                           : "16 32 64 128 256 512 1024 968");
    }
    rn_op_free(rec);
    rn_op_free(src);
    rn_buf_free(&seen);
    fix_free(&f);
}

int main(void)
{
    RN_RUN(test_ports);
    RN_RUN(test_watermark_minimum);
    RN_RUN(test_finish_once_after_all_inputs);
    RN_RUN(test_finish_diamond);
    RN_RUN(test_union_snapshot_restore);
    RN_RUN(test_stateless_have_no_snapshot);
    RN_RUN(test_out_batches);
    return rn_test_summary();
}
