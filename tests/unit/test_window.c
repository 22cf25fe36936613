/*
 * test_window.c - unit tests for the window aggregate (op/window.c) and
 * the FIRST_VALUE/LAST_VALUE aggregates of GroupAggregate.
 *
 * Operators are driven directly, as in test_ops.c: hand-built batches (with
 * per-row watermarks, batch->rowwm) go into the operator under test, whose
 * input is a do-nothing feeder; watermarks are delivered by calling its
 * `watermark` callback; a capturing operator downstream records what it
 * emits (and the watermark forwarded to it). A randomized test feeds a few
 * thousand out-of-order rows in random batches and checks the changelog the
 * operator emits, applied like an upsert sink would, against a brute-force
 * computation of every window from the accepted rows; the same test,
 * snapshotted and restored into a fresh operator part way, must emit the
 * same rows. Damaged snapshots and allocation failures on restore are
 * refused cleanly. forget_partitions is checked the same way: after it,
 * the operator emits exactly what a run that never saw the revoked keys
 * emits. Snapshots taken partition by partition and merged on restore
 * (into one operator, one each, or one holding other partitions) must go
 * on exactly as the original did, each partition's operator holding only
 * its keys; duplicates and damaged snapshots change nothing.
 */
#include "core/mem.h"
#include "op/op.h"
#include "rn_test.h"
#include "rn_test_rows.h"
#include "state/store.h"

#include <stdarg.h>
#include <stdint.h>

/* ---- helpers ------------------------------------------------------------ */

/* Appends one row (+I, watermark in force wm, one value per column) to b. */
static void add_row(rn_batch_t *b, int64_t wm, const rn_value_t *vals)
{
    int r = b->nrows++;
    for (int c = 0; c < b->schema->ncols; c++) b->cols[c][r] = vals[c];
    b->kinds[r] = RN_ROW_INSERT;
    if (b->rowwm) b->rowwm[r] = wm;
}
#define ROW(b, wm, ...) add_row((b), (wm), (rn_value_t[]){__VA_ARGS__})

static rn_err_t feeder_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    return RN_OK;
}
static const rn_op_vtable_t feeder_vt = {.kind = "Feeder", .process = feeder_process};

/* The capture: records each row as text, "+I(0,10,9,a,2)", and, for the
 * randomized test, as (kind, upsert key, value) with the first nkey
 * columns as the key. */
typedef struct cap_row {
    int kind;
    int batch;                  /* the capture's batch count when it came */
    char *key;                  /* first nkey columns, comma-separated */
    char *val;                  /* the others */
} cap_row_t;

typedef struct capture {
    rn_buf_t text;              /* rows separated by spaces, since the last take() */
    int nkey;                   /* key columns of the structured rows */
    cap_row_t *rows;            /* every row received */
    int nrows, cap;
    int batches;
} capture_t;

static void format_value(rn_buf_t *out, rn_type_id t, const rn_value_t *v)
{
    if (v->null) {
        rn_buf_appends(out, "null");
        return;
    }
    switch (t) {
    case RN_TYPE_STRING: rn_buf_append(out, v->s, v->len); break;
    case RN_TYPE_DOUBLE: rn_buf_appendf(out, "%g", v->d); break;
    case RN_TYPE_BOOLEAN: rn_buf_appends(out, v->i ? "true" : "false"); break;
    default: rn_buf_append_i64(out, v->i); break;
    }
}

static rn_err_t capture_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    capture_t *c = op->priv;
    c->batches++;
    for (int r = 0; r < b->nrows; r++) {
        rn_buf_t k, v;
        rn_buf_init(&k);
        rn_buf_init(&v);
        for (int col = 0; col < b->schema->ncols; col++) {
            rn_buf_t *into = col < c->nkey ? &k : &v;
            if (into->len) rn_buf_appendc(into, ',');
            format_value(into, b->schema->cols[col].type->id, &b->cols[col][r]);
        }
        if (c->text.len) rn_buf_appendc(&c->text, ' ');
        rn_buf_appendf(&c->text, "%s(%s%s%s)", rn_rowkind_str((rn_rowkind_t)b->kinds[r]),
                       k.data ? k.data : "", k.len && v.len ? "," : "", v.data ? v.data : "");
        if (c->nrows == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 64;
            c->rows = realloc(c->rows, sizeof *c->rows * (size_t)c->cap);
        }
        c->rows[c->nrows].kind = b->kinds[r];
        c->rows[c->nrows].batch = c->batches;
        c->rows[c->nrows].key = strdup(k.data ? k.data : "");
        c->rows[c->nrows].val = strdup(v.data ? v.data : "");
        c->nrows++;
        rn_buf_free(&k);
        rn_buf_free(&v);
    }
    return RN_OK;
}

static void capture_destroy(rn_op_t *op)
{
    capture_t *c = op->priv;
    rn_buf_free(&c->text);
    for (int i = 0; i < c->nrows; i++) {
        free(c->rows[i].key);
        free(c->rows[i].val);
    }
    free(c->rows);
    free(c);
}
static const rn_op_vtable_t capture_vt = {
    .kind = "Capture", .process = capture_process, .destroy = capture_destroy};
/* A second capture op that records into another's capture_t (not owned). */
static const rn_op_vtable_t capture_alias_vt = {.kind = "Capture", .process = capture_process};

/* A capture of upstream's output (connected), or of nothing (for late rows)
 * when connect is false. */
static rn_op_t *capture_new(rn_op_t *upstream, int nkey, bool connect)
{
    rn_op_t *op = rn_op_new(&capture_vt, upstream->schema, upstream);
    capture_t *c = calloc(1, sizeof *c);
    rn_buf_init(&c->text);
    c->nkey = nkey;
    op->priv = c;
    if (connect) rn_op_connect(upstream, op, 0);
    return op;
}

/* Returns what the capture saw since the last call ("" if nothing) and forgets it. */
static char taken[16384];
static const char *take(rn_op_t *cap)
{
    capture_t *c = cap->priv;
    snprintf(taken, sizeof taken, "%s", c->text.data ? c->text.data : "");
    rn_buf_clear(&c->text);
    return taken;
}

/* Test fixture: feeder + arena + context. */
typedef struct fix {
    rn_arena_t arena;
    rn_ctx_t ctx;
    char errbuf[256];
    rn_schema_t *in;
    rn_op_t *feeder;
} fix_t;

static void fix_init(fix_t *f, rn_schema_t *in)
{
    memset(f, 0, sizeof *f);
    rn_arena_init(&f->arena, 0);
    f->ctx.arena = &f->arena;
    f->ctx.errbuf = f->errbuf;
    f->ctx.errbuf_size = sizeof f->errbuf;
    f->in = in;
    f->feeder = rn_op_new(&feeder_vt, in, NULL);
}

/* A fresh batch (the arena is reset first); with_wm: rows carry rowwm. */
static rn_batch_t *fix_batch(fix_t *f, bool with_wm)
{
    rn_arena_reset(&f->arena);
    rn_batch_t *b = rn_batch_new(&f->arena, f->in, RN_BATCH_MAX);
    if (with_wm) b->rowwm = rn_arena_alloc(&f->arena, sizeof(int64_t) * RN_BATCH_MAX);
    return b;
}

static rn_err_t fix_push(fix_t *f, rn_op_t *op, rn_batch_t *b)
{
    return op->vt->process(op, 0, b, &f->ctx);
}

/* Delivers watermark wm at processing time now. */
static rn_err_t fix_wm(fix_t *f, rn_op_t *op, int64_t wm, int64_t now)
{
    f->ctx.now_ms = now;
    rn_arena_reset(&f->arena);
    return op->vt->watermark(op, wm, &f->ctx);
}

static void fix_free(fix_t *f)
{
    rn_op_free(f->feeder);
    rn_schema_unref(f->in);
    rn_arena_free(&f->arena);
}

static rn_window_spec_t tumble(int64_t size, int time_col)
{
    return (rn_window_spec_t){.kind = RN_WINDOW_TUMBLE, .time_col = time_col, .size_ms = size};
}

static const rn_agg_spec_t COUNT_STAR = {RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT};

/* ---- TUMBLE / HOP / SESSION basics --------------------------------------- */

/* A TUMBLE(ts, 10 ms) of (k STRING, ts, x BIGINT) rows, COUNT(*) and
 * SUM(x) per k, on fixture f (initialised here); *out is its schema. */
static rn_op_t *tumble_count_sum_new(fix_t *f, rn_schema_t **out)
{
    fix_init(f, schema_of(3, "k:STRING", "ts:TS", "x:BIGINT"));
    rn_window_spec_t w = tumble(10, 1);
    rn_agg_spec_t aggs[] = {COUNT_STAR, {RN_AGG_SUM, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    *out = schema_of(6, "window_start:TS", "window_end:TS", "window_time:TS", "k:STRING", "n:BIGINT",
                     "s:BIGINT");
    return rn_window_aggregate_new(f->feeder, &w, 1, 2, aggs, *out, f->errbuf, sizeof f->errbuf);
}

static void test_tumble_counts(void)
{
    fix_t f;
    rn_schema_t *out;
    rn_op_t *op = tumble_count_sum_new(&f, &out);
    RN_REQUIRE(op != NULL);
    RN_CHECK(!op->updating);
    RN_CHECK_EQ_STR(op->vt->kind, "WindowAggregate");
    rn_op_t *cap = capture_new(op, 0, true);

    rn_batch_t *b = fix_batch(&f, true);
    ROW(b, RN_WM_MIN, S("a"), I(1), I(1));
    ROW(b, RN_WM_MIN, S("b"), I(3), I(2));
    ROW(b, RN_WM_MIN, S("a"), I(12), I(3));
    ROW(b, RN_WM_MIN, S("a"), I(5), N); /* out of order, not late; NULL not summed */
    ROW(b, RN_WM_MIN, S("c"), I(-3), I(7)); /* negative time: window [-10, 0) */
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 4);
    RN_CHECK_EQ_INT(op->vt->held_since(op), -10);

    RN_CHECK_EQ_INT(fix_wm(&f, op, 9, 0), RN_OK); /* W = 9 < 10: [0,10) stays open */
    RN_CHECK_EQ_STR(take(cap), "+I(-10,0,-1,c,1,7)");
    RN_CHECK_EQ_INT(op->vt->held_since(op), 0);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 10, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(0,10,9,a,2,1) +I(0,10,9,b,1,2)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 1);
    RN_CHECK_EQ_INT(op->vt->held_since(op), 10);
    RN_CHECK_EQ_INT(cap->watermark, 10); /* forwarded */

    b = fix_batch(&f, true);
    ROW(b, 10, S("a"), I(19), I(4));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 25, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(10,20,19,a,2,7)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 0);
    RN_CHECK_EQ_INT(op->vt->held_since(op), INT64_MAX);
    RN_CHECK_EQ_INT(rn_window_late_rows(op), 0);
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

/* Processing-time TUMBLE: a row's window is that of its PROCTIME() value
 * (the column); no row is late, whatever the watermark; a window fires
 * when processing time reaches its end (at a watermark or a batch), and
 * every open one at the end of input. */
static void test_proctime_tumble(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:STRING", "pt:TS"));
    rn_window_spec_t w = tumble(10, 1);
    w.proctime = true;
    rn_schema_t *out = schema_of(5, "window_start:TS", "window_end:TS", "window_time:TS", "k:STRING", "n:BIGINT");
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op, 0, true);

    f.ctx.now_ms = 3;
    rn_batch_t *b = fix_batch(&f, true);
    ROW(b, 500, S("a"), I(3)); /* far behind the event-time watermark: not late here */
    ROW(b, 500, S("b"), I(3));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(rn_window_late_rows(op), 0);
    RN_CHECK_EQ_INT(op->vt->held_since(op), INT64_MIN); /* holds rows of any event time */
    RN_CHECK_EQ_INT(fix_wm(&f, op, 1000, 9), RN_OK); /* the watermark does not close it, 9 ms does not */
    RN_CHECK_EQ_STR(take(cap), "");
    RN_CHECK_EQ_INT(cap->watermark, 1000); /* forwarded as is */
    f.ctx.now_ms = 9;
    b = fix_batch(&f, true);
    ROW(b, 1000, S("a"), I(9));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 1000, 10), RN_OK); /* processing time reaches 10 */
    RN_CHECK_EQ_STR(take(cap), "+I(0,10,9,a,2) +I(0,10,9,b,1)");
    RN_CHECK_EQ_INT(op->vt->held_since(op), INT64_MAX);

    f.ctx.now_ms = 14;
    b = fix_batch(&f, true);
    ROW(b, 1000, S("a"), I(14));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    f.ctx.now_ms = 25; /* the next batch comes after the window's end: it fires with it */
    b = fix_batch(&f, true);
    ROW(b, 1000, S("b"), I(25));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(10,20,19,a,1)");
    RN_CHECK_EQ_INT(fix_wm(&f, op, RN_WM_MAX, 26), RN_OK); /* end of input */
    RN_CHECK_EQ_STR(take(cap), "+I(20,30,29,b,1)");

    rn_window_spec_t bad = w;
    bad.lateness_ms = 5;
    RN_CHECK(rn_window_aggregate_new(f.feeder, &bad, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf) == NULL);
    rn_buf_t e;
    rn_buf_init(&e);
    op->vt->explain(op, &e);
    RN_CHECK(e.data && strstr(e.data, "TUMBLE(pt, 10 ms, processing time)"));
    rn_buf_free(&e);
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

static void test_tumble_offset(void)
{
    fix_t f;
    fix_init(&f, schema_of(1, "ts:TS"));
    rn_window_spec_t w = tumble(10, 0);
    w.offset_ms = 3;
    rn_schema_t *out = schema_of(4, "ws:TS", "we:TS", "wt:TS", "n:BIGINT");
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 0, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op, 0, true);
    rn_batch_t *b = fix_batch(&f, false);
    ROW(b, 0, I(2));
    ROW(b, 0, I(3));
    ROW(b, 0, I(12));
    ROW(b, 0, I(13));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(fix_wm(&f, op, RN_WM_MAX, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(-7,3,2,1) +I(3,13,12,2) +I(13,23,22,1)");
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

static void test_hop_counts(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "ts:TS", "x:BIGINT"));
    rn_window_spec_t w = {.kind = RN_WINDOW_HOP, .time_col = 0, .size_ms = 10, .slide_ms = 5};
    rn_agg_spec_t aggs[] = {COUNT_STAR, {RN_AGG_MAX, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(5, "ws:TS", "we:TS", "wt:TS", "n:BIGINT", "mx:BIGINT");
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 0, 2, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op, 0, true);
    rn_batch_t *b = fix_batch(&f, true);
    ROW(b, RN_WM_MIN, I(7), I(70));
    ROW(b, RN_WM_MIN, I(1), I(10)); /* out of order */
    ROW(b, RN_WM_MIN, I(12), I(120));
    ROW(b, RN_WM_MIN, I(10), I(100)); /* on a boundary: [5,15) and [10,20) */
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 4);
    RN_CHECK_EQ_INT(op->vt->held_since(op), -5);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 10, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(-5,5,4,1,10) +I(0,10,9,2,70)");
    RN_CHECK_EQ_INT(fix_wm(&f, op, RN_WM_MAX, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(5,15,14,3,120) +I(10,20,19,2,120)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 0);
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

/* Sessions: chaining, a bridging row merging two sessions (with arrival
 * order kept for FIRST/LAST), touching rows staying apart. */
static void test_session_merge(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "k:STRING", "ts:TS", "s:STRING"));
    rn_window_spec_t w = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 10};
    rn_agg_spec_t aggs[] = {COUNT_STAR, {RN_AGG_FIRST_VALUE, 2, RN_TYPE_STRING, RN_TYPE_STRING},
                            {RN_AGG_LAST_VALUE, 2, RN_TYPE_STRING, RN_TYPE_STRING},
                            {RN_AGG_COUNT_DISTINCT, 2, RN_TYPE_STRING, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(8, "ws:TS", "we:TS", "wt:TS", "k:STRING", "n:BIGINT", "f:STRING",
                                 "l:STRING", "d:BIGINT");
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 1, 4, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op, 0, true);

    rn_batch_t *b = fix_batch(&f, true);
    ROW(b, RN_WM_MIN, S("a"), I(0), S("p"));
    ROW(b, RN_WM_MIN, S("a"), I(15), S("q"));
    ROW(b, RN_WM_MIN, S("b"), I(5), S("r"));
    ROW(b, RN_WM_MIN, S("a"), I(17), S("q"));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 3); /* a:[0,10) a:[15,27) b:[5,15) */
    RN_CHECK_EQ_INT(op->vt->held_since(op), 0);

    b = fix_batch(&f, true);
    ROW(b, RN_WM_MIN, S("a"), I(8), S("z")); /* [8,18) bridges a's sessions */
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 2);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 26, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(5,15,14,b,1,r,r,1)");
    RN_CHECK_EQ_INT(op->vt->held_since(op), 0);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 27, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(0,27,26,a,4,p,z,3)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 0);
    RN_CHECK_EQ_INT(op->vt->held_since(op), INT64_MAX);

    /* Exactly gap apart: two sessions that touch are not one. Then a row
     * before both that reaches only the first. */
    b = fix_batch(&f, true);
    ROW(b, 27, S("a"), I(40), S("x"));
    ROW(b, 27, S("a"), I(50), S("y"));
    ROW(b, 27, S("a"), I(31), S("w"));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 2);
    RN_CHECK_EQ_INT(op->vt->held_since(op), 31);
    RN_CHECK_EQ_INT(fix_wm(&f, op, RN_WM_MAX, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(31,50,49,a,2,x,w,2) +I(50,60,59,a,1,y,y,1)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 0);
    RN_CHECK_EQ_INT(cap->watermark, RN_WM_MAX);
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

/* One merge swallowing several sessions, each with accumulators to keep. */
static void test_session_merge_many(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "ts:TS", "x:BIGINT"));
    rn_window_spec_t w = {.kind = RN_WINDOW_SESSION, .time_col = 0, .size_ms = 10};
    rn_agg_spec_t aggs[] = {COUNT_STAR,
                            {RN_AGG_SUM, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_MIN, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_MAX, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_AVG, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_FIRST_VALUE, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_LAST_VALUE, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(11, "ws:TS", "we:TS", "wt:TS", "n:BIGINT", "s:BIGINT", "mn:BIGINT",
                                 "mx:BIGINT", "av:BIGINT", "cd:BIGINT", "f:BIGINT", "l:BIGINT");
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 0, 8, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op, 0, true);
    rn_batch_t *b = fix_batch(&f, false);
    ROW(b, 0, I(100), I(5));
    ROW(b, 0, I(40), I(1));
    ROW(b, 0, I(60), I(9));
    ROW(b, 0, I(80), I(1));
    ROW(b, 0, I(20), I(3));
    ROW(b, 0, I(0), N);
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 6);
    b = fix_batch(&f, false);
    for (int t = 9; t < 100; t += 9) ROW(b, 0, I(t), N); /* bridges all of them */
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 1);
    RN_CHECK_EQ_INT(fix_wm(&f, op, RN_WM_MAX, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(0,110,109,17,19,1,9,3,4,5,3)");
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

/* ---- late rows, allowed lateness ---------------------------------------- */

static void test_late_rows_routed(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "k:STRING", "ts:TS", "x:BIGINT"));
    rn_window_spec_t w = tumble(10, 1);
    rn_schema_t *out = schema_of(5, "ws:TS", "we:TS", "wt:TS", "k:STRING", "n:BIGINT");
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op, 0, true);
    rn_op_t *late = capture_new(f.feeder, 0, false);
    rn_window_set_late_output(op, late);

    rn_batch_t *b = fix_batch(&f, true);
    ROW(b, RN_WM_MIN, S("a"), I(5), I(1));
    ROW(b, 4, S("a"), I(3), I(2)); /* 3 < 4: late */
    ROW(b, 4, S("a"), I(4), I(3)); /* equal to the watermark: accepted */
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(late), "+I(a,3,2)");
    RN_CHECK_EQ_INT(rn_window_late_rows(op), 1);
    RN_CHECK_EQ_INT(late->rows_in, 1);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 10, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(0,10,9,a,2)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 0);

    /* After the window fired and was freed: its rows are late, counted,
     * routed, and create nothing. */
    b = fix_batch(&f, true);
    ROW(b, 10, S("b"), I(9), I(4));
    ROW(b, 10, S("a"), I(10), I(5));
    ROW(b, 11, S("a"), I(0), I(6));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(late), "+I(b,9,4) +I(a,0,6)");
    RN_CHECK_EQ_INT(rn_window_late_rows(op), 3);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 1);
    RN_CHECK_EQ_STR(take(cap), "");

    /* Without a late output rows are still counted. */
    rn_window_set_late_output(op, NULL);
    b = fix_batch(&f, true);
    ROW(b, 100, S("a"), I(1), I(7));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(rn_window_late_rows(op), 4);
    RN_CHECK_EQ_STR(take(late), "");
    RN_CHECK_EQ_INT(fix_wm(&f, op, RN_WM_MAX, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(10,20,19,a,1)");
    rn_op_free(late);
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

static void test_allowed_lateness_updates(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "ts:TS", "x:BIGINT"));
    rn_window_spec_t w = tumble(10, 0);
    w.lateness_ms = 10;
    rn_agg_spec_t aggs[] = {{RN_AGG_MAX, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(5, "ws:TS", "we:TS", "wt:TS", "mx:BIGINT", "cd:BIGINT");
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 0, 2, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    RN_CHECK(op->updating);
    rn_op_t *cap = capture_new(op, 0, true);
    rn_op_t *late = capture_new(f.feeder, 0, false);
    rn_window_set_late_output(op, late);

    rn_batch_t *b = fix_batch(&f, true);
    ROW(b, RN_WM_MIN, I(1), I(10));
    ROW(b, RN_WM_MIN, I(2), I(20));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 10, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(0,10,9,20,2)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 1); /* kept until W >= 20 */
    RN_CHECK_EQ_INT(op->vt->held_since(op), INT64_MAX); /* fired: holds nothing back */

    /* Two accepted rows in one batch: one -U/+U pair. */
    b = fix_batch(&f, true);
    ROW(b, 10, I(5), I(30));
    ROW(b, 10, I(7), I(40));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(0,10,9,20,2) +U(0,10,9,40,4)");
    /* A row that changes nothing: no output. */
    b = fix_batch(&f, true);
    ROW(b, 12, I(6), I(30));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "");
    RN_CHECK_EQ_INT(fix_wm(&f, op, 15, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 1);

    /* 3 < 15 - 10: late. 9 >= 5: accepted. */
    b = fix_batch(&f, true);
    ROW(b, 15, I(3), I(99));
    ROW(b, 15, I(9), I(50));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(late), "+I(3,99)");
    RN_CHECK_EQ_STR(take(cap), "-U(0,10,9,40,4) +U(0,10,9,50,5)");
    RN_CHECK_EQ_INT(fix_wm(&f, op, 20, 0), RN_OK);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 0); /* freed at 10 + 10 */
    /* A window first seen behind the watermark fires at once. */
    RN_CHECK_EQ_INT(fix_wm(&f, op, 28, 0), RN_OK);
    b = fix_batch(&f, true);
    ROW(b, 28, I(19), I(1));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(10,20,19,1,1)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 1);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 29, 0), RN_OK);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 1);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 30, 0), RN_OK);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 0);
    RN_CHECK_EQ_STR(take(cap), "");
    RN_CHECK_EQ_INT(rn_window_late_rows(op), 1);
    rn_op_free(late);
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

/* Sessions with lateness: bounds that move retract the old row (-D) and
 * emit the new session when it fires; merges retract every merged row. */
static void test_session_lateness(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:STRING", "ts:TS"));
    rn_window_spec_t w = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 10, .lateness_ms = 100};
    rn_schema_t *out = schema_of(5, "ws:TS", "we:TS", "wt:TS", "k:STRING", "n:BIGINT");
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    RN_CHECK(op->updating);
    rn_op_t *cap = capture_new(op, 0, true);

    rn_batch_t *b = fix_batch(&f, true);
    ROW(b, RN_WM_MIN, S("a"), I(0));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 10, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(0,10,9,a,1)");
    RN_CHECK_EQ_INT(op->vt->held_since(op), INT64_MAX);

    /* Extends the fired session past the watermark: -D now, +I when it fires. */
    b = fix_batch(&f, true);
    ROW(b, 10, S("a"), I(5));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-D(0,10,9,a,1)");
    RN_CHECK_EQ_INT(op->vt->held_since(op), 0);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 15, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(0,15,14,a,2)");

    /* Inside the bounds: an update. */
    b = fix_batch(&f, true);
    ROW(b, 15, S("a"), I(3));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(0,15,14,a,2) +U(0,15,14,a,3)");

    b = fix_batch(&f, true);
    ROW(b, 15, S("a"), I(40));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 60, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(40,50,49,a,1)");
    /* A new session behind the watermark fires at once. */
    b = fix_batch(&f, true);
    ROW(b, 60, S("a"), I(24));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(24,34,33,a,1)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 3);
    /* A bridging row merges two fired sessions: both rows retracted, the
     * merged one (already closed) emitted at once. */
    b = fix_batch(&f, true);
    ROW(b, 60, S("a"), I(32));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-D(40,50,49,a,1) -D(24,34,33,a,1) +I(24,50,49,a,3)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 2);
    /* Merges within one batch retract only what was emitted, once. */
    b = fix_batch(&f, true);
    ROW(b, 60, S("a"), I(55)); /* new, [55,65): not fired */
    ROW(b, 60, S("a"), I(49)); /* merges [24,50) and [55,65) */
    ROW(b, 60, S("a"), I(14)); /* extends [0,15) to [0,24): touches [24,65) */
    ROW(b, 60, S("a"), I(20)); /* merges them */
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-D(24,50,49,a,3) -D(0,15,14,a,3)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 1);
    RN_CHECK_EQ_INT(op->vt->held_since(op), 0);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 70, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(0,65,64,a,10)");
    RN_CHECK_EQ_INT(fix_wm(&f, op, 165, 0), RN_OK);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 0);
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

/* ---- early firing ------------------------------------------------------- */

static void test_early_fire(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:STRING", "ts:TS"));
    rn_window_spec_t w = tumble(100, 1);
    w.early_fire_ms = 1000;
    rn_schema_t *out = schema_of(5, "ws:TS", "we:TS", "wt:TS", "k:STRING", "n:BIGINT");
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    RN_CHECK(op->updating);
    rn_op_t *cap = capture_new(op, 0, true);

    f.ctx.now_ms = 5000; /* the first call starts the clock */
    rn_batch_t *b = fix_batch(&f, true);
    ROW(b, RN_WM_MIN, S("a"), I(1));
    ROW(b, RN_WM_MIN, S("b"), I(150));
    ROW(b, RN_WM_MIN, S("c"), I(10));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "");
    f.ctx.now_ms = 5500;
    b = fix_batch(&f, true);
    ROW(b, RN_WM_MIN, S("a"), I(2));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "");
    f.ctx.now_ms = 6000;
    b = fix_batch(&f, true);
    ROW(b, RN_WM_MIN, S("a"), I(3));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(0,100,99,a,3) +I(0,100,99,c,1) +I(100,200,199,b,1)");
    RN_CHECK_EQ_INT(op->vt->held_since(op), 0); /* early results are not final */

    /* Processing time only: nothing changed, nothing emitted. */
    RN_CHECK_EQ_INT(fix_wm(&f, op, 50, 7000), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "");
    b = fix_batch(&f, true);
    ROW(b, 50, S("a"), I(60));
    f.ctx.now_ms = 7100;
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), ""); /* not a delay since the last firing */
    RN_CHECK_EQ_INT(fix_wm(&f, op, 50, 8000), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(0,100,99,a,3) +U(0,100,99,a,4)");

    /* Final firing: -U/+U only if changed since the early result. */
    b = fix_batch(&f, true);
    ROW(b, 50, S("a"), I(70));
    f.ctx.now_ms = 8100;
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 100, 8200), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(0,100,99,a,4) +U(0,100,99,a,5)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 1);
    b = fix_batch(&f, true);
    ROW(b, 100, S("d"), I(110));
    f.ctx.now_ms = 8300;
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(fix_wm(&f, op, RN_WM_MAX, 8400), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(100,200,199,d,1)"); /* b unchanged: nothing */
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 0);
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

/* ---- strings, order, flush ---------------------------------------------- */

/* Strings kept by MIN/MAX/FIRST_VALUE/LAST_VALUE and key strings must
 * survive the batch arena being reset and overwritten. */
static void test_strings_survive_arena(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "k:STRING", "ts:TS", "s:STRING"));
    rn_window_spec_t w = tumble(100, 1);
    rn_agg_spec_t aggs[] = {{RN_AGG_MIN, 2, RN_TYPE_STRING, RN_TYPE_STRING},
                            {RN_AGG_MAX, 2, RN_TYPE_STRING, RN_TYPE_STRING},
                            {RN_AGG_FIRST_VALUE, 2, RN_TYPE_STRING, RN_TYPE_STRING},
                            {RN_AGG_LAST_VALUE, 2, RN_TYPE_STRING, RN_TYPE_STRING}};
    rn_schema_t *out = schema_of(8, "ws:TS", "we:TS", "wt:TS", "k:STRING", "mn:STRING", "mx:STRING",
                                 "f:STRING", "l:STRING");
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 1, 4, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op, 0, true);
    static const char *vals[] = {"mango", "kiwi", "a-very-long-string-that-needs-a-bigger-buffer",
                                 "apple", "zucchini-and-more"};
    for (int i = 0; i < 6; i++) {
        rn_batch_t *b = fix_batch(&f, false);
        char *k = rn_arena_strndup(&f.arena, "key-in-arena", 12);
        if (i == 5) {
            ROW(b, 0, S(k), I(i), N); /* NULL: ignored by all four */
        } else {
            char *s = rn_arena_strndup(&f.arena, vals[i], strlen(vals[i]));
            ROW(b, 0, S(k), I(i), S(s));
        }
        RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
        /* scribble over everything the batch pointed to */
        memset(k, 'X', 12);
        if (b->cols[2][0].s) memset((char *)b->cols[2][0].s, '#', b->cols[2][0].len);
    }
    RN_CHECK_EQ_INT(fix_wm(&f, op, RN_WM_MAX, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(0,100,99,key-in-arena,a-very-long-string-that-needs-a-bigger-buffer,"
                               "zucchini-and-more,mango,zucchini-and-more)");
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

/* Results come out by window_end, then in the order windows were created,
 * whatever the hash order of their keys. */
static void test_deterministic_order(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:BIGINT", "ts:TS"));
    rn_window_spec_t w = tumble(10, 1);
    rn_schema_t *out = schema_of(5, "ws:TS", "we:TS", "wt:TS", "k:BIGINT", "n:BIGINT");
    for (int kind = 0; kind < 2; kind++) {
        rn_window_spec_t ws = w;
        if (kind == 1) ws = (rn_window_spec_t){.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 5};
        rn_op_t *op =
            rn_window_aggregate_new(f.feeder, &ws, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf);
        RN_REQUIRE(op != NULL);
        rn_op_t *cap = capture_new(op, 0, true);
        rn_batch_t *b = fix_batch(&f, false);
        char want[16384] = "";
        /* keys created in a scrambled order; window [10,20) rows first */
        for (int i = 0; i < 200; i++) ROW(b, 0, I((i * 7919) % 200), I(15));
        for (int i = 0; i < 200; i++) ROW(b, 0, I((i * 104729 + 13) % 200), I(5));
        RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
        RN_CHECK_EQ_INT(fix_wm(&f, op, RN_WM_MAX, 0), RN_OK);
        size_t len = 0;
        for (int i = 0; i < 200; i++)
            len += (size_t)snprintf(want + len, sizeof want - len, "%s+I(%s,%d,1)", len ? " " : "",
                                    kind ? "5,10,9" : "0,10,9", (i * 104729 + 13) % 200);
        for (int i = 0; i < 200; i++)
            len += (size_t)snprintf(want + len, sizeof want - len, " +I(%s,%d,1)",
                                    kind ? "15,20,19" : "10,20,19", (i * 7919) % 200);
        RN_CHECK_EQ_STR(take(cap), want);
        rn_op_free(cap);
        rn_op_free(op);
    }
    rn_schema_unref(out);
    fix_free(&f);
}

/* A merged session was created when its earliest part was: it fires
 * before a session of another key created in between, at the same end. */
static void test_merged_session_order(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:STRING", "ts:TS"));
    rn_window_spec_t w = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 10};
    rn_schema_t *out = schema_of(5, "ws:TS", "we:TS", "wt:TS", "k:STRING", "n:BIGINT");
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op, 0, true);
    rn_batch_t *b = fix_batch(&f, false);
    ROW(b, 0, S("a"), I(20)); /* a:[20,30), created first */
    ROW(b, 0, S("b"), I(12)); /* b:[12,22) */
    ROW(b, 0, S("a"), I(8));  /* a:[8,18), created last */
    ROW(b, 0, S("a"), I(15)); /* a:[8,30) */
    ROW(b, 0, S("b"), I(20)); /* b:[12,30) */
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 30, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(8,30,29,a,3) +I(12,30,29,b,2)");
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

/* RN_WM_MAX fires and frees everything, whatever the lateness. */
static void test_flush_at_end(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:BIGINT", "ts:TS"));
    rn_schema_t *out = schema_of(5, "ws:TS", "we:TS", "wt:TS", "k:BIGINT", "n:BIGINT");
    rn_window_spec_t specs[] = {
        {.kind = RN_WINDOW_TUMBLE, .time_col = 1, .size_ms = 1000, .lateness_ms = INT64_MAX / 2},
        {.kind = RN_WINDOW_HOP, .time_col = 1, .size_ms = 1000, .slide_ms = 250, .lateness_ms = 5000},
        {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 300, .lateness_ms = 7},
    };
    for (int s = 0; s < 3; s++) {
        rn_op_t *op =
            rn_window_aggregate_new(f.feeder, &specs[s], 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf);
        RN_REQUIRE(op != NULL);
        rn_op_t *cap = capture_new(op, 0, true);
        rn_batch_t *b = fix_batch(&f, true);
        for (int i = 0; i < 100; i++) ROW(b, RN_WM_MIN, I(i % 3), I(i * 400 + (i % 5) * 70));
        RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
        RN_CHECK(rn_window_open_windows(op) > 0);
        RN_CHECK_EQ_INT(fix_wm(&f, op, 20000, 0), RN_OK);
        RN_CHECK(rn_window_open_windows(op) > 0);
        RN_CHECK_EQ_INT(fix_wm(&f, op, RN_WM_MAX, 0), RN_OK);
        RN_CHECK_EQ_INT(rn_window_open_windows(op), 0);
        RN_CHECK_EQ_INT(op->vt->held_since(op), INT64_MAX);
        capture_t *c = cap->priv;
        int total = 0;
        for (int i = 0; i < c->nrows; i++) {
            const char *n = strrchr(c->rows[i].val, ',');
            total += atoi(n ? n + 1 : c->rows[i].val);
        }
        RN_CHECK_EQ_INT(total, s == 1 ? 400 : 100); /* HOP: every row in 4 windows */
        RN_CHECK_EQ_INT(cap->watermark, RN_WM_MAX);
        rn_op_free(cap);
        rn_op_free(op);
    }
    rn_schema_unref(out);
    fix_free(&f);
}

/* held_since: the earliest start among unfired windows. */
static void test_held_since(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:BIGINT", "ts:TS"));
    rn_schema_t *out = schema_of(5, "ws:TS", "we:TS", "wt:TS", "k:BIGINT", "n:BIGINT");
    rn_window_spec_t hop = {.kind = RN_WINDOW_HOP, .time_col = 1, .size_ms = 30, .slide_ms = 10};
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &hop, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    RN_CHECK_EQ_INT(op->vt->held_since(op), INT64_MAX);
    RN_CHECK_EQ_INT(rn_op_held_since(op), INT64_MAX);
    rn_batch_t *b = fix_batch(&f, false);
    ROW(b, 0, I(1), I(45));
    ROW(b, 0, I(2), I(52));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(op->vt->held_since(op), 20); /* [20,50) holds row 45 */
    RN_CHECK_EQ_INT(fix_wm(&f, op, 50, 0), RN_OK);
    RN_CHECK_EQ_INT(op->vt->held_since(op), 30);
    RN_CHECK_EQ_INT(rn_op_held_since(f.feeder), INT64_MAX); /* not connected: not downstream */
    rn_op_free(op);

    rn_window_spec_t ses = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 10};
    op = rn_window_aggregate_new(f.feeder, &ses, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    b = fix_batch(&f, false);
    ROW(b, 0, I(1), I(100)); /* [100,110) */
    ROW(b, 0, I(2), I(50));  /* [50,60) */
    ROW(b, 0, I(2), I(58));  /* [50,68) */
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(op->vt->held_since(op), 50);
    b = fix_batch(&f, false);
    ROW(b, 0, I(1), I(45)); /* a new first session start */
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(op->vt->held_since(op), 45);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 67, 0), RN_OK); /* fires [45,55) only */
    RN_CHECK_EQ_INT(op->vt->held_since(op), 50);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 68, 0), RN_OK);
    RN_CHECK_EQ_INT(op->vt->held_since(op), 100);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 110, 0), RN_OK);
    RN_CHECK_EQ_INT(op->vt->held_since(op), INT64_MAX);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

static void test_explain_and_errors(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "user_id:BIGINT", "ts:TS", "x:DOUBLE"));
    rn_schema_t *out = schema_of(5, "window_start:TS", "window_end:TS", "window_time:TS",
                                 "user_id:BIGINT", "n:BIGINT");
    rn_window_spec_t w = tumble(10000, 1);
    rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    rn_buf_t e;
    rn_buf_init(&e);
    op->vt->explain(op, &e);
    RN_CHECK_EQ_STR(e.data, "TUMBLE(ts, 10 s) group by [user_id], aggregates [COUNT(*) AS n], lateness 0 ms");
    rn_op_free(op);

    rn_window_spec_t s = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 1500,
                          .lateness_ms = 120000, .early_fire_ms = 1000};
    rn_agg_spec_t avg = {RN_AGG_AVG, 2, RN_TYPE_DOUBLE, RN_TYPE_DOUBLE};
    op = rn_window_aggregate_new(f.feeder, &s, 1, 1, &avg, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(op != NULL);
    rn_buf_clear(&e);
    op->vt->explain(op, &e);
    RN_CHECK_EQ_STR(e.data, "SESSION(ts, 1500 ms) partition by [user_id], aggregates [AVG(x) AS n], "
                            "lateness 2 min, early fire every 1 s");
    rn_op_free(op);
    rn_buf_free(&e);

    rn_window_spec_t hop = {.kind = RN_WINDOW_HOP, .time_col = 1, .size_ms = 10, .slide_ms = 4};
    RN_CHECK(!rn_window_aggregate_new(f.feeder, &hop, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf));
    RN_CHECK(strstr(f.errbuf, "multiple of the slide") != NULL);
    rn_window_spec_t zero = tumble(0, 1);
    RN_CHECK(!rn_window_aggregate_new(f.feeder, &zero, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf));
    RN_CHECK(!rn_window_aggregate_new(f.feeder, &w, 0, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf));
    RN_CHECK(strstr(f.errbuf, "columns") != NULL);
    f.feeder->updating = true;
    RN_CHECK(!rn_window_aggregate_new(f.feeder, &w, 1, 1, &COUNT_STAR, out, f.errbuf, sizeof f.errbuf));
    RN_CHECK(strstr(f.errbuf, "updating input") != NULL);
    rn_schema_unref(out);
    fix_free(&f);
}

/* Out of memory anywhere in processing or firing: an error, never a crash
 * or a leak (ASan checks the latter). */
static void test_out_of_memory(void)
{
    int failures = 0;
    for (long n = 0; n < 1400; n += 5) {
        fix_t f;
        fix_init(&f, schema_of(3, "k:STRING", "ts:TS", "s:STRING"));
        rn_window_spec_t w = {.kind = n % 2 ? RN_WINDOW_SESSION : RN_WINDOW_HOP, .time_col = 1,
                              .size_ms = 20, .slide_ms = 10, .lateness_ms = 50, .early_fire_ms = 1};
        rn_agg_spec_t aggs[] = {{RN_AGG_COUNT_DISTINCT, 2, RN_TYPE_STRING, RN_TYPE_BIGINT},
                                {RN_AGG_LAST_VALUE, 2, RN_TYPE_STRING, RN_TYPE_STRING},
                                {RN_AGG_MAX, 2, RN_TYPE_STRING, RN_TYPE_STRING}};
        rn_schema_t *out = schema_of(7, "ws:TS", "we:TS", "wt:TS", "k:STRING", "cd:BIGINT", "l:STRING",
                                     "mx:STRING");
        rn_op_t *op = rn_window_aggregate_new(f.feeder, &w, 1, 3, aggs, out, f.errbuf, sizeof f.errbuf);
        rn_op_t *cap = op ? capture_new(op, 0, true) : NULL;
        rn_batch_t *b = fix_batch(&f, true); /* the arena's chunk exists before failures start */
        rn_mem_fail_after(n);
        rn_err_t err = RN_OK;
        for (int round = 0; op && round < 6 && err == RN_OK; round++) {
            b = fix_batch(&f, true);
            static const char *strs[] = {"a", "bb", "a string long enough to need a buffer of its own"};
            for (int i = 0; i < 40; i++)
                ROW(b, round * 40, S(strs[i % 3]), I(round * 40 + (i * 37) % 60), S(strs[(i / 3) % 3]));
            f.ctx.now_ms = round;
            err = fix_push(&f, op, b);
            if (err == RN_OK) err = fix_wm(&f, op, round * 40, round);
            if (err != RN_OK && err != RN_ERR_NOMEM) failures++;
        }
        if (op && err == RN_OK) fix_wm(&f, op, RN_WM_MAX, 99);
        rn_mem_fail_after(-1);
        rn_op_free(cap);
        rn_op_free(op);
        rn_schema_unref(out);
        fix_free(&f);
    }
    RN_CHECK_EQ_INT(failures, 0);
}

/* ---- FIRST_VALUE / LAST_VALUE in GroupAggregate -------------------------- */

static void test_group_first_last(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "k:BIGINT", "x:BIGINT", "s:STRING"));
    rn_agg_spec_t aggs[] = {{RN_AGG_FIRST_VALUE, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_LAST_VALUE, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_FIRST_VALUE, 2, RN_TYPE_STRING, RN_TYPE_STRING},
                            {RN_AGG_LAST_VALUE, 2, RN_TYPE_STRING, RN_TYPE_STRING}};
    rn_schema_t *out = schema_of(5, "k:BIGINT", "fx:BIGINT", "lx:BIGINT", "fs:STRING", "ls:STRING");
    rn_op_t *agg = rn_aggregate_new(f.feeder, 1, 4, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(agg != NULL);
    rn_op_t *cap = capture_new(agg, 0, true);
    rn_batch_t *b = fix_batch(&f, false);
    ROW(b, 0, I(1), N, N);
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(1,null,null,null,null)");
    b = fix_batch(&f, false);
    char *s1 = rn_arena_strndup(&f.arena, "first", 5);
    ROW(b, 0, I(1), I(5), S(s1));
    ROW(b, 0, I(1), I(3), N);
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    memset(s1, 'X', 5);
    RN_CHECK_EQ_STR(take(cap), "-U(1,null,null,null,null) +U(1,5,3,first,first)");
    b = fix_batch(&f, false);
    ROW(b, 0, I(1), N, S("last"));
    ROW(b, 0, I(1), I(9), S("later"));
    ROW(b, 0, I(1), N, N);
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(1,5,3,first,first) +U(1,5,9,first,later)");
    rn_buf_t e;
    rn_buf_init(&e);
    agg->vt->explain(agg, &e);
    RN_CHECK(strstr(e.data, "FIRST_VALUE(x) AS fx, LAST_VALUE(x) AS lx") != NULL);
    rn_buf_free(&e);
    rn_op_free(cap);
    rn_op_free(agg);

    f.feeder->updating = true;
    f.errbuf[0] = '\0';
    RN_CHECK(rn_aggregate_new(f.feeder, 1, 4, aggs, out, f.errbuf, sizeof f.errbuf) == NULL);
    RN_CHECK_EQ_STR(f.errbuf, "FIRST_VALUE/LAST_VALUE over an updating input is not supported");
    rn_schema_unref(out);
    fix_free(&f);
}

/* ---- randomized comparison with a brute-force computation ---------------- */

typedef struct rrow {
    int64_t k, t, wm;           /* key, rowtime, watermark in force on arrival */
    int64_t x;                  /* value, or -1 for NULL */
    int s;                      /* index into rstr, or -1 for NULL */
    bool late;
} rrow_t;

static const char *rstr[] = {"", "m", "zz", "apple", "b", "a-rather-long-string-value"};

static uint64_t rnd_state;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rnd_state >> 33);
}

/* The aggregates of the randomized test, formatted like the capture. */
static void brute_aggs(const rrow_t *rows, const int *idx, int n, char *out, size_t outsz)
{
    int64_t cnt = n, cx = 0, sum = 0, mn = 0, first_s = -1, last_x = -1;
    int mx_s = -1;
    bool seen[100] = {0};
    int distinct = 0;
    for (int j = 0; j < n; j++) {
        const rrow_t *r = &rows[idx[j]]; /* idx is in arrival order */
        if (r->x >= 0) {
            if (!cx || r->x < mn) mn = r->x;
            cx++;
            sum += r->x;
            if (!seen[r->x]) distinct++;
            seen[r->x] = true;
            last_x = r->x;
        }
        if (r->s >= 0) {
            if (first_s < 0) first_s = r->s;
            if (mx_s < 0 || strcmp(rstr[r->s], rstr[mx_s]) > 0) mx_s = r->s;
        }
    }
    char avg[32], sums[32], mns[32], lx[32];
    snprintf(sums, sizeof sums, "%lld", (long long)sum);
    snprintf(mns, sizeof mns, "%lld", (long long)mn);
    snprintf(avg, sizeof avg, "%lld", (long long)(cx ? sum / cx : 0)); /* integer AVG truncates */
    snprintf(lx, sizeof lx, "%lld", (long long)last_x);
    snprintf(out, outsz, "%lld,%lld,%d,%s,%s,%s,%s,%s,%s", (long long)cnt, (long long)cx, distinct,
             cx ? sums : "null", cx ? mns : "null", mx_s >= 0 ? rstr[mx_s] : "null", cx ? avg : "null",
             first_s >= 0 ? rstr[first_s] : "null", last_x >= 0 ? lx : "null");
}

typedef struct kv {
    char *key;
    char *val;
} kv_t;

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const kv_t *)a)->key, ((const kv_t *)b)->key);
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && a < 0); }

/* Brute force: every window of the accepted rows, as sorted (key, value). */
static int brute_windows(const rrow_t *rows, int nrows, const rn_window_spec_t *w, kv_t **out)
{
    int cap = 64, n = 0;
    kv_t *res = malloc(sizeof *res * (size_t)cap);
    int *idx = malloc(sizeof *idx * (size_t)nrows);
    /* candidate windows: (key, start, end) */
    int ncand = 0, candcap = 1024;
    int64_t(*cand)[3] = malloc(sizeof *cand * (size_t)candcap);
    for (int i = 0; i < nrows; i++) {
        const rrow_t *r = &rows[i];
        if (r->late) continue;
        if (w->kind == RN_WINDOW_SESSION) continue;
        int64_t step = w->kind == RN_WINDOW_HOP ? w->slide_ms : w->size_ms;
        int64_t last = floor_div(r->t - w->offset_ms, step) * step + w->offset_ms;
        for (int64_t s = last; s > r->t - w->size_ms; s -= step) {
            bool dup = false;
            for (int c = ncand - 1; c >= 0 && !dup; c--)
                dup = cand[c][0] == r->k && cand[c][1] == s;
            if (dup) continue;
            if (ncand == candcap) cand = realloc(cand, sizeof *cand * (size_t)(candcap *= 2));
            cand[ncand][0] = r->k;
            cand[ncand][1] = s;
            cand[ncand][2] = s + w->size_ms;
            ncand++;
        }
    }
    if (w->kind == RN_WINDOW_SESSION) {
        /* per key: sort accepted rowtimes, chain while < gap apart */
        for (int64_t k = 0; k < 8; k++) {
            int m = 0;
            int64_t *ts = malloc(sizeof *ts * (size_t)(nrows + 1));
            for (int i = 0; i < nrows; i++)
                if (!rows[i].late && rows[i].k == k) ts[m++] = rows[i].t;
            for (int a = 1; a < m; a++) /* insertion sort */
                for (int b = a; b > 0 && ts[b - 1] > ts[b]; b--) {
                    int64_t t = ts[b];
                    ts[b] = ts[b - 1];
                    ts[b - 1] = t;
                }
            for (int a = 0; a < m;) {
                int b = a;
                while (b + 1 < m && ts[b + 1] - ts[b] < w->size_ms) b++;
                if (ncand == candcap) cand = realloc(cand, sizeof *cand * (size_t)(candcap *= 2));
                cand[ncand][0] = k;
                cand[ncand][1] = ts[a];
                cand[ncand][2] = ts[b] + w->size_ms;
                ncand++;
                a = b + 1;
            }
            free(ts);
        }
    }
    for (int c = 0; c < ncand; c++) {
        int m = 0;
        for (int i = 0; i < nrows; i++)
            if (!rows[i].late && rows[i].k == cand[c][0] && rows[i].t >= cand[c][1] && rows[i].t < cand[c][2])
                idx[m++] = i;
        char key[128], val[256];
        snprintf(key, sizeof key, "%lld,%lld,%lld,%lld", (long long)cand[c][1], (long long)cand[c][2],
                 (long long)cand[c][2] - 1, (long long)cand[c][0]);
        brute_aggs(rows, idx, m, val, sizeof val);
        if (n == cap) res = realloc(res, sizeof *res * (size_t)(cap *= 2));
        res[n].key = strdup(key);
        res[n].val = strdup(val);
        n++;
    }
    free(cand);
    free(idx);
    qsort(res, (size_t)n, sizeof *res, kv_cmp);
    *out = res;
    return n;
}

/* Feeds random out-of-order rows to one window configuration and checks
 * the changelog (applied as an upsert sink would) against brute force.
 * With cut >= 0, the operator is snapshotted before the first batch at or
 * after row cut, restored into a fresh one (whose output goes to the same
 * capture), and the rest goes to that one. With log, *log receives every
 * row emitted, with the number of the output batch that carried it
 * (malloc'd). Returns the number of mismatches. */
static bool random_none_late; /* a run whose delay leaves no row late is not degenerate */

static int random_run_cut(const rn_window_spec_t *w, uint64_t seed, int nrows, int64_t delay, int cut,
                          char **log)
{
    int bad = 0;
    rnd_state = seed;
    fix_t f;
    fix_init(&f, schema_of(5, "k:BIGINT", "ts:TS", "x:BIGINT", "s:STRING", "pad:BOOLEAN"));
    rn_agg_spec_t aggs[] = {COUNT_STAR,
                            {RN_AGG_COUNT, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_COUNT_DISTINCT, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_SUM, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_MIN, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_MAX, 3, RN_TYPE_STRING, RN_TYPE_STRING},
                            {RN_AGG_AVG, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_FIRST_VALUE, 3, RN_TYPE_STRING, RN_TYPE_STRING},
                            {RN_AGG_LAST_VALUE, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(13, "ws:TS", "we:TS", "wt:TS", "k:BIGINT", "n:BIGINT", "cx:BIGINT",
                                 "cd:BIGINT", "sum:BIGINT", "mn:BIGINT", "mxs:STRING", "av:BIGINT",
                                 "fs:STRING", "lx:BIGINT");
    rn_op_t *op = rn_window_aggregate_new(f.feeder, w, 1, 9, aggs, out, f.errbuf, sizeof f.errbuf);
    if (!op) {
        fprintf(stderr, "random_run: %s\n", f.errbuf);
        return 1;
    }
    rn_op_t *cap = capture_new(op, 4, true);
    rn_op_t *late = capture_new(f.feeder, 0, false);
    rn_window_set_late_output(op, late);

    /* rows: bursts with quiet gaps, jittered out of order */
    rrow_t *rows = calloc((size_t)nrows, sizeof *rows);
    int64_t maxt = INT64_MIN, nlate = 0;
    for (int i = 0; i < nrows; i++) {
        rrow_t *r = &rows[i];
        r->k = rnd() % 5;
        r->t = (int64_t)i * 5 + (i / 150) * 700 + (int64_t)(rnd() % 300) - 100;
        r->x = rnd() % 10 == 0 ? -1 : (int64_t)(rnd() % 60);
        r->s = rnd() % 8 == 0 ? -1 : (int)(rnd() % 6);
        r->wm = maxt == INT64_MIN ? RN_WM_MIN : maxt - delay;
        r->late = r->wm != RN_WM_MIN && r->t < r->wm - w->lateness_ms;
        nlate += r->late;
        if (r->t > maxt) maxt = r->t;
    }
    /* feed in random batches; the watermark after each; processing time moves */
    int64_t now = 1000000, maxseen = INT64_MIN, prev_end = INT64_MIN;
    bool monotone = true;
    rn_op_t *old = NULL, *alias = NULL;
    for (int i = 0; i < nrows && !bad;) {
        if (cut >= 0 && i >= cut && !old) {
            rn_buf_t snap;
            rn_buf_init(&snap);
            if (op->vt->snapshot(op, &snap, NULL) != RN_OK) bad++;
            old = op;
            op = rn_window_aggregate_new(f.feeder, w, 1, 9, aggs, out, f.errbuf, sizeof f.errbuf);
            if (!op) {
                fprintf(stderr, "random_run: %s\n", f.errbuf);
                abort();
            }
            alias = rn_op_new(&capture_alias_vt, op->schema, op);
            alias->priv = cap->priv;
            rn_op_connect(op, alias, 0);
            rn_window_set_late_output(op, late);
            rn_err_t err = op->vt->restore(op, snap.data, snap.len);
            if (err != RN_OK || rn_window_open_windows(op) != rn_window_open_windows(old)) {
                fprintf(stderr, "random_run: restore gave %d, %zu windows of %zu\n", (int)err,
                        rn_window_open_windows(op), rn_window_open_windows(old));
                bad++;
            }
            rn_buf_free(&snap);
        }
        int n = 1 + (int)(rnd() % (rnd() % 4 == 0 ? 300 : 40));
        if (n > nrows - i) n = nrows - i;
        rn_batch_t *b = fix_batch(&f, true);
        for (int j = 0; j < n; j++, i++) {
            rrow_t *r = &rows[i];
            rn_value_t s = N;
            if (r->s >= 0) {
                char *p = rn_arena_strndup(&f.arena, rstr[r->s], strlen(rstr[r->s]));
                s = rn_value_str(p, (uint32_t)strlen(p));
            }
            ROW(b, r->wm, I(r->k), I(r->t), r->x >= 0 ? I(r->x) : N, s, I(1));
            if (r->t > maxseen) maxseen = r->t;
        }
        now += rnd() % 400;
        f.ctx.now_ms = now;
        if (fix_push(&f, op, b) != RN_OK) bad++;
        int64_t wm = maxseen - delay; /* what the next row's rowwm will be */
        if (fix_wm(&f, op, wm, now) != RN_OK) bad++;
        if (rnd() % 3 == 0 && fix_wm(&f, op, wm, now += 700) != RN_OK) bad++; /* time only */
    }
    if (fix_wm(&f, op, RN_WM_MAX, now) != RN_OK) bad++;
    if (rn_window_open_windows(op) != 0) {
        fprintf(stderr, "random_run: %zu windows left\n", rn_window_open_windows(op));
        bad++;
    }
    if ((int64_t)rn_window_late_rows(op) != nlate || (int64_t)late->rows_in != nlate) {
        fprintf(stderr, "random_run: late %llu (routed %llu), want %lld\n",
                (unsigned long long)rn_window_late_rows(op), (unsigned long long)late->rows_in,
                (long long)nlate);
        bad++;
    }

    /* apply the changelog as an upsert sink keyed by (start, end, time, k) */
    capture_t *c = cap->priv;
    if (log) {
        rn_buf_t all;
        rn_buf_init(&all);
        for (int i = 0; i < c->nrows; i++)
            rn_buf_appendf(&all, "%d %s(%s,%s)\n", c->rows[i].batch, rn_rowkind_str((rn_rowkind_t)c->rows[i].kind),
                           c->rows[i].key, c->rows[i].val);
        *log = strdup(all.data ? all.data : "");
        rn_buf_free(&all);
    }
    bool updating = w->lateness_ms > 0 || w->early_fire_ms > 0;
    kv_t *sink = calloc((size_t)c->nrows + 1, sizeof *sink);
    int nsink = 0;
    for (int i = 0; i < c->nrows && bad < 10; i++) {
        cap_row_t *r = &c->rows[i];
        int at = -1;
        for (int j = 0; j < nsink; j++)
            if (!strcmp(sink[j].key, r->key)) at = j;
        if (!updating && r->kind != RN_ROW_INSERT) {
            fprintf(stderr, "random_run: %s in an append-only output\n", rn_rowkind_str(r->kind));
            bad++;
        }
        if (!updating) {
            int64_t end = strtoll(strchr(r->key, ',') + 1, NULL, 10);
            if (end < prev_end) monotone = false;
            prev_end = end;
        }
        if (r->kind == RN_ROW_INSERT || r->kind == RN_ROW_UPDATE_AFTER) {
            if (at >= 0) {
                fprintf(stderr, "random_run: %s(%s) over a live row\n", rn_rowkind_str(r->kind), r->key);
                bad++;
                continue;
            }
            sink[nsink].key = r->key;
            sink[nsink].val = r->val;
            nsink++;
        } else {
            if (at < 0 || strcmp(sink[at].val, r->val) != 0) {
                fprintf(stderr, "random_run: %s(%s,%s) retracts %s\n", rn_rowkind_str(r->kind), r->key,
                        r->val, at < 0 ? "nothing" : sink[at].val);
                bad++;
                continue;
            }
            sink[at] = sink[--nsink];
        }
    }
    if (!monotone) {
        fprintf(stderr, "random_run: final results not in window_end order\n");
        bad++;
    }
    qsort(sink, (size_t)nsink, sizeof *sink, kv_cmp);
    kv_t *want;
    int nwant = brute_windows(rows, nrows, w, &want);
    int i = 0, j = 0;
    while ((i < nsink || j < nwant) && bad < 10) {
        int cmp = i >= nsink ? 1 : j >= nwant ? -1 : strcmp(sink[i].key, want[j].key);
        if (cmp == 0 && strcmp(sink[i].val, want[j].val) != 0) {
            fprintf(stderr, "random_run: window %s: got %s, want %s\n", sink[i].key, sink[i].val,
                    want[j].val);
            bad++;
        } else if (cmp < 0) {
            fprintf(stderr, "random_run: unexpected window %s = %s\n", sink[i].key, sink[i].val);
            bad++;
        } else if (cmp > 0) {
            fprintf(stderr, "random_run: missing window %s = %s\n", want[j].key, want[j].val);
            bad++;
        }
        if (cmp <= 0) i++;
        if (cmp >= 0) j++;
    }
    if (nwant < 20 || (nlate == 0 && !random_none_late)) {
        fprintf(stderr, "random_run: degenerate data (%d windows, %lld late)\n", nwant, (long long)nlate);
        bad++;
    }
    for (int k = 0; k < nwant; k++) {
        free(want[k].key);
        free(want[k].val);
    }
    free(want);
    free(sink);
    free(rows);
    rn_op_free(late);
    rn_op_free(alias);
    rn_op_free(cap);
    rn_op_free(old);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
    return bad;
}

static int random_run(const rn_window_spec_t *w, uint64_t seed, int nrows, int64_t delay)
{
    return random_run_cut(w, seed, nrows, delay, -1, NULL);
}

static void test_random_against_brute_force(void)
{
    rn_window_spec_t kinds[] = {
        {.kind = RN_WINDOW_TUMBLE, .time_col = 1, .size_ms = 100, .offset_ms = 30},
        {.kind = RN_WINDOW_HOP, .time_col = 1, .size_ms = 120, .slide_ms = 40},
        {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 30},
    };
    struct {
        int64_t lateness, early;
    } modes[] = {{0, 0}, {80, 0}, {0, 500}, {60, 300}};
    for (int k = 0; k < 3; k++) {
        for (int m = 0; m < 4; m++) {
            for (uint64_t seed = 1; seed <= 2; seed++) {
                rn_window_spec_t w = kinds[k];
                w.lateness_ms = modes[m].lateness;
                w.early_fire_ms = modes[m].early;
                int bad = random_run(&w, seed * 1000 + (uint64_t)(k * 10 + m), 3000, 120);
                if (bad) fprintf(stderr, "  (kind %d, lateness %lld, early %lld, seed %llu)\n", k,
                                 (long long)w.lateness_ms, (long long)w.early_fire_ms,
                                 (unsigned long long)seed);
                RN_CHECK_EQ_INT(bad, 0);
            }
        }
    }
}

/* Local-global aggregation (op/window_combine.c): the same random,
 * out-of-order rows (some late, in random batches) through a combiner and
 * the window aggregate with the merging aggregates it asks for emit
 * exactly the changelog (rows, order, batches aside) and late count that
 * the window aggregate alone emits, for TUMBLE, HOP and given windows
 * (rows carrying windows of two lengths, and some that are not windows),
 * with allowed lateness and early firing; and the combiner sends one row
 * per batch, pane (a given window: the window) and key, late rows alone. Aggregates that cannot be combined are refused. */
static char *combine_run(const rn_window_spec_t *w, uint64_t seed, bool combined, uint64_t *late_rows,
                         uint64_t *sent, uint64_t *groups)
{
    rnd_state = seed;
    fix_t f;
    bool given = w->kind == RN_WINDOW_GIVEN; /* ts is then the window end, st its start */
    fix_init(&f, given ? schema_of(5, "k:BIGINT", "ts:TS", "x:BIGINT", "s:STRING", "st:TS")
                       : schema_of(4, "k:BIGINT", "ts:TS", "x:BIGINT", "s:STRING"));
    rn_agg_spec_t aggs[] = {COUNT_STAR,
                            {RN_AGG_COUNT, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_SUM, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_MIN, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_MAX, 3, RN_TYPE_STRING, RN_TYPE_STRING},
                            {RN_AGG_MIN, 3, RN_TYPE_STRING, RN_TYPE_STRING}};
    const char *names[] = {"n", "cx", "sum", "mn", "mxs", "mns"};
    rn_schema_t *out = schema_of(10, "ws:TS", "we:TS", "wt:TS", "k:BIGINT", "n:BIGINT", "cx:BIGINT", "sum:BIGINT",
                                 "mn:BIGINT", "mxs:STRING", "mns:STRING");
    rn_op_t *comb = NULL, *op;
    if (combined) {
        rn_window_spec_t gw;
        rn_agg_spec_t gaggs[6];
        comb = rn_window_combine_new(f.feeder, w, 1, 6, aggs, names, &gw, gaggs);
        RN_CHECK(comb != NULL);
        rn_window_combine_always(comb);
        op = rn_window_aggregate_new(comb, &gw, 1, 6, gaggs, out, f.errbuf, sizeof f.errbuf);
        rn_op_connect(comb, op, 0);
    } else {
        op = rn_window_aggregate_new(f.feeder, w, 1, 6, aggs, out, f.errbuf, sizeof f.errbuf);
    }
    RN_CHECK(op != NULL);
    rn_op_t *cap = capture_new(op, 4, true);
    int64_t maxt = INT64_MIN, now = 1000000;
    int64_t step = w->kind == RN_WINDOW_HOP ? w->slide_ms : given ? 100 : w->size_ms;
    *groups = 0; /* what the combiner should send: per batch, one row per (pane, key), late rows alone */
    for (int i = 0; i < 3000;) {
        int n = 1 + (int)(rnd() % (rnd() % 4 == 0 ? 300 : 40));
        if (n > 3000 - i) n = 3000 - i;
        rn_batch_t *b = fix_batch(&f, true);
        int64_t seen[300][2];
        int nseen = 0;
        for (int j = 0; j < n; j++, i++) {
            int64_t t = (int64_t)i * 5 + (i / 150) * 700 + (int64_t)(rnd() % 300) - 100;
            int64_t wm = maxt == INT64_MIN ? RN_WM_MIN : maxt - 120;
            int64_t x = rnd() % 10 == 0 ? -1 : (int64_t)(rnd() % 60);
            int si = rnd() % 8 == 0 ? -1 : (int)(rnd() % 6);
            rn_value_t sv = N;
            if (si >= 0) {
                char *p = rn_arena_strndup(&f.arena, rstr[si], strlen(rstr[si]));
                sv = rn_value_str(p, (uint32_t)strlen(p));
            }
            int64_t k = rnd() % 4;
            int64_t start = 0, len = 0; /* given windows: 100 or 200 ms from a 100 ms grid */
            if (given) {
                start = floor_div(t, 100) * 100;
                len = rnd() % 40 == 0 ? 0 : (int64_t)(1 + rnd() % 2) * 100; /* 0: not a window (late) */
                ROW(b, wm, I(k), I(start + len), x >= 0 ? I(x) : N, sv, I(start));
            } else {
                ROW(b, wm, I(k), I(t), x >= 0 ? I(x) : N, sv);
            }
            if (t > maxt) maxt = t;
            int64_t rt = given ? start + len - 1 : t; /* the rowtime, as the window judges it */
            if ((given && len == 0) || (wm != RN_WM_MIN && rt < wm - w->lateness_ms)) {
                (*groups)++;
                continue;
            }
            int64_t pane = given ? start * 4 + len / 100 : floor_div(t - w->offset_ms, step);
            bool dup = false;
            for (int q = 0; q < nseen && !dup; q++) dup = seen[q][0] == pane && seen[q][1] == k;
            if (!dup) {
                seen[nseen][0] = pane;
                seen[nseen++][1] = k;
                (*groups)++;
            }
        }
        f.ctx.now_ms = now += rnd() % 400;
        RN_CHECK(fix_push(&f, comb ? comb : op, b) == RN_OK);
        RN_CHECK(fix_wm(&f, op, maxt - 120, now) == RN_OK);
    }
    RN_CHECK(fix_wm(&f, op, RN_WM_MAX, now) == RN_OK);
    *late_rows = rn_window_late_rows(op);
    uint64_t got = 0;
    *sent = 0;
    if (comb) rn_window_combine_counts(comb, &got, sent);
    capture_t *c = cap->priv;
    rn_buf_t all;
    rn_buf_init(&all);
    for (int i = 0; i < c->nrows; i++)
        rn_buf_appendf(&all, "%s(%s,%s)\n", rn_rowkind_str((rn_rowkind_t)c->rows[i].kind), c->rows[i].key,
                       c->rows[i].val);
    char *text = strdup(all.data ? all.data : "");
    rn_buf_free(&all);
    rn_op_free(cap);
    rn_op_free(op);
    rn_op_free(comb);
    rn_schema_unref(out);
    fix_free(&f);
    return text;
}

static void test_combined_equals_direct(void)
{
    rn_window_spec_t kinds[] = {
        {.kind = RN_WINDOW_TUMBLE, .time_col = 1, .size_ms = 100, .offset_ms = 30},
        {.kind = RN_WINDOW_HOP, .time_col = 1, .size_ms = 120, .slide_ms = 40},
        {.kind = RN_WINDOW_GIVEN, .time_col = 1, .start_col = 4},
    };
    struct {
        int64_t lateness, early;
    } modes[] = {{0, 0}, {80, 0}, {60, 300}};
    for (int k = 0; k < 3; k++) {
        for (int m = 0; m < 3; m++) {
            rn_window_spec_t w = kinds[k];
            w.lateness_ms = modes[m].lateness;
            w.early_fire_ms = modes[m].early;
            uint64_t late_a, late_b, sent_a, sent_b, groups;
            char *direct = combine_run(&w, 77 + (uint64_t)(k * 10 + m), false, &late_a, &sent_a, &groups);
            char *comb = combine_run(&w, 77 + (uint64_t)(k * 10 + m), true, &late_b, &sent_b, &groups);
            RN_CHECK(strlen(direct) > 1000);
            RN_CHECK(late_a > 0);
            if (strcmp(direct, comb)) {
                const char *a = direct, *b = comb;
                while (*a && *a == *b) a++, b++;
                fprintf(stderr, "  (kind %d, mode %d) differ at: direct ...%.80s\n  combined ...%.80s\n", k, m, a,
                        b);
            }
            RN_CHECK(strcmp(direct, comb) == 0);
            RN_CHECK_EQ_INT((int)late_b, (int)late_a);
            RN_CHECK_EQ_INT((int)sent_b, (int)groups);
            RN_CHECK(groups < 3000 * 9 / 10);
            free(direct);
            free(comb);
        }
    }
    /* what cannot be combined */
    rn_window_spec_t t = tumble(10, 1), s = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 10};
    rn_agg_spec_t sum_d = {RN_AGG_SUM, 2, RN_TYPE_DOUBLE, RN_TYPE_DOUBLE}, avg = {RN_AGG_AVG, 2, RN_TYPE_BIGINT,
                                                                                  RN_TYPE_BIGINT};
    rn_agg_spec_t distinct = {RN_AGG_COUNT_DISTINCT, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT};
    RN_CHECK(rn_window_combinable(&t, 1, &COUNT_STAR));
    RN_CHECK(!rn_window_combinable(&s, 1, &COUNT_STAR));
    RN_CHECK(!rn_window_combinable(&t, 1, &sum_d)); /* a DOUBLE sum depends on the order */
    RN_CHECK(!rn_window_combinable(&t, 1, &avg));
    RN_CHECK(!rn_window_combinable(&t, 1, &distinct));
    t.proctime = true;
    RN_CHECK(!rn_window_combinable(&t, 1, &COUNT_STAR));
}

/* The ring of end buckets at its edges: ends exactly one ring apart
 * (64 slots of 10 ms) must not share a slot, so the ring grows; an end
 * before the first one moves the front back; an end off the grid (the
 * saturated end of a window at the end of time) sends the buckets to the
 * sorted array. Windows fire in end order throughout. */
static void test_ring_edges(void)
{
    fix_t f;
    rn_schema_t *out;
    rn_op_t *op = tumble_count_sum_new(&f, &out);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op, 0, true);
    rn_batch_t *b = fix_batch(&f, true);
    ROW(b, RN_WM_MIN, S("a"), I(1000), I(1)); /* end 1010: k 101 */
    ROW(b, RN_WM_MIN, S("a"), I(370), I(2));  /* end 380: 63 slots before, fits 64 */
    ROW(b, RN_WM_MIN, S("a"), I(360), I(3));  /* end 370: 64 before, the ring grows */
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(op->vt->held_since(op), 360);
    b = fix_batch(&f, true);
    ROW(b, RN_WM_MIN, S("b"), I(1001), I(4));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 375, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(360,370,369,a,1,3)");
    b = fix_batch(&f, true);
    ROW(b, 375, S("c"), I(395), I(5));
    ROW(b, 375, S("c"), I(INT64_MAX - 3), I(6)); /* its end saturates: off the grid */
    ROW(b, 375, S("c"), I(385), I(7));
    RN_CHECK_EQ_INT(fix_push(&f, op, b), RN_OK);
    RN_CHECK_EQ_INT(fix_wm(&f, op, 1010, 0), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(370,380,379,a,1,2) +I(380,390,389,c,1,7) +I(390,400,399,c,1,5) "
                               "+I(1000,1010,1009,a,1,1) +I(1000,1010,1009,b,1,4)");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 1);
    rn_op_free(cap);
    rn_op_free(op);
    rn_schema_unref(out);
    fix_free(&f);
}

/* Windows held over a wide span of event time: the ring of end buckets
 * grows (a watermark far behind keeps hundreds of ends pending), and past
 * WIN_RING_MAX ends (1 ms windows over ~115 s) the buckets move to the
 * sorted array mid-run; a snapshot taken part way restores into either.
 * Every run equals the brute force. */
static void test_wide_spread_of_ends(void)
{
    struct {
        rn_window_spec_t w;
        int nrows;
        int64_t delay;
    } runs[] = {
        {{.kind = RN_WINDOW_TUMBLE, .time_col = 1, .size_ms = 100, .offset_ms = 30}, 3000, 1000000000},
        {{.kind = RN_WINDOW_HOP, .time_col = 1, .size_ms = 120, .slide_ms = 40}, 3000, 1000000000},
        {{.kind = RN_WINDOW_TUMBLE, .time_col = 1, .size_ms = 1}, 12000, 50000},
        {{.kind = RN_WINDOW_TUMBLE, .time_col = 1, .size_ms = 1, .early_fire_ms = 300}, 12000, 1000000000},
        {{.kind = RN_WINDOW_HOP, .time_col = 1, .size_ms = 2, .slide_ms = 1}, 12000, 1000000000},
    };
    random_none_late = true;
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        for (int cut = -1; cut <= 0; cut++) {
            int bad = random_run_cut(&runs[i].w, 77 + i, runs[i].nrows, runs[i].delay,
                                     cut < 0 ? -1 : runs[i].nrows / 2, NULL);
            if (bad) fprintf(stderr, "  (run %zu, cut %d)\n", i, cut);
            RN_CHECK_EQ_INT(bad, 0);
        }
    }
    random_none_late = false;
}

/* ---- snapshot / restore --------------------------------------------------- */

/* A run snapshotted and restored into a fresh operator part way emits
 * exactly the rows of an uninterrupted run (which the brute force checks
 * too), for every window kind and emission mode. */
static void test_snapshot_restore(void)
{
    rn_window_spec_t kinds[] = {
        {.kind = RN_WINDOW_TUMBLE, .time_col = 1, .size_ms = 100, .offset_ms = 30},
        {.kind = RN_WINDOW_HOP, .time_col = 1, .size_ms = 120, .slide_ms = 40},
        {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 30},
    };
    struct {
        int64_t lateness, early;
    } modes[] = {{0, 0}, {80, 0}, {0, 500}, {60, 300}};
    int differ = 0;
    for (int k = 0; k < 3; k++) {
        for (int m = 0; m < 4; m++) {
            rn_window_spec_t w = kinds[k];
            w.lateness_ms = modes[m].lateness;
            w.early_fire_ms = modes[m].early;
            uint64_t seed = 77 + (uint64_t)(k * 10 + m);
            char *want = NULL;
            RN_CHECK_EQ_INT(random_run_cut(&w, seed, 2000, 120, -1, &want), 0);
            for (int cut = 1; cut < 2000; cut += 333 + k * 100 + m * 10) {
                char *got = NULL;
                RN_CHECK_EQ_INT(random_run_cut(&w, seed, 2000, 120, cut, &got), 0);
                if (strcmp(got, want) != 0 && differ++ < 3)
                    fprintf(stderr, "kind %d mode %d cut %d: output differs\n", k, m, cut);
                free(got);
            }
            RN_CHECK(strlen(want) > 1000);
            free(want);
        }
    }
    RN_CHECK_EQ_INT(differ, 0);
}

static const rn_agg_spec_t snap_aggs[] = {
    {RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
    {RN_AGG_COUNT_DISTINCT, 3, RN_TYPE_STRING, RN_TYPE_BIGINT},
    {RN_AGG_FIRST_VALUE, 3, RN_TYPE_STRING, RN_TYPE_STRING},
    {RN_AGG_LAST_VALUE, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
    {RN_AGG_MAX, 3, RN_TYPE_STRING, RN_TYPE_STRING},
    {RN_AGG_AVG, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
};

static rn_schema_t *snap_out(void)
{
    return schema_of(10, "ws:TS", "we:TS", "wt:TS", "k:STRING", "n:BIGINT", "cd:BIGINT", "fs:STRING",
                     "lx:BIGINT", "mx:STRING", "av:BIGINT");
}

/* The window configurations of the damage tests: sessions with lateness
 * and early firing (fired, pending and emitted sessions, several per key)
 * and HOP windows with lateness. */
static rn_window_spec_t snap_spec(int which)
{
    if (which == 0)
        return (rn_window_spec_t){.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 10,
                                  .lateness_ms = 100, .early_fire_ms = 5};
    return (rn_window_spec_t){.kind = RN_WINDOW_HOP, .time_col = 1, .size_ms = 20, .slide_ms = 10,
                              .lateness_ms = 30};
}

/* An operator of configuration which, fed a few batches (state: windows
 * fired and retained, pending, early-emitted; a late row counted). */
static rn_op_t *snap_fed(fix_t *f, int which, rn_schema_t *out, int batches)
{
    rn_window_spec_t w = snap_spec(which);
    rn_op_t *op = rn_window_aggregate_new(f->feeder, &w, 1, 6, snap_aggs, out, f->errbuf, sizeof f->errbuf);
    if (!op) return NULL;
    static const char *keys[] = {"a", "bb", ""};
    static const char *strs[] = {"x", "a longer string value", "m"};
    for (int round = 0; round < batches; round++) {
        rn_batch_t *b = fix_batch(f, true);
        for (int i = 0; i < 12; i++) {
            int64_t t = round * 40 + (i * 29) % 50;
            ROW(b, round * 40 - 20, S(keys[i % 3]), I(i == 5 ? -500 : t), i % 4 ? I(i) : N,
                i % 5 ? S(strs[(i + round) % 3]) : N);
        }
        f->ctx.now_ms = round * 3;
        if (fix_push(f, op, b) != RN_OK || fix_wm(f, op, round * 40, round * 3) != RN_OK) {
            rn_op_free(op);
            return NULL;
        }
    }
    return op;
}

/* A restore that fails must leave the operator empty and usable. */
static void snap_check_rejected(fix_t *f, int which, rn_schema_t *out, const void *data, size_t len,
                                int *bad)
{
    rn_window_spec_t w = snap_spec(which);
    rn_op_t *b = rn_window_aggregate_new(f->feeder, &w, 1, 6, snap_aggs, out, f->errbuf, sizeof f->errbuf);
    RN_REQUIRE(b != NULL);
    rn_err_t err = b->vt->restore(b, data, len);
    if (err != RN_ERR_DECODE || rn_window_open_windows(b) != 0 || rn_window_late_rows(b) != 0 ||
        b->watermark != RN_WM_MIN) {
        if ((*bad)++ < 3) fprintf(stderr, "length %zu: restore gave %d\n", len, (int)err);
    }
    rn_op_free(b);
}

static void test_snapshot_rejects_corrupt(void)
{
    for (int which = 0; which < 2; which++) {
        fix_t f;
        fix_init(&f, schema_of(4, "k:STRING", "ts:TS", "x:BIGINT", "s:STRING"));
        rn_schema_t *out = snap_out();
        rn_op_t *a = snap_fed(&f, which, out, 3);
        RN_REQUIRE(a != NULL);
        RN_CHECK(rn_window_open_windows(a) > 3);
        RN_CHECK(rn_window_late_rows(a) > 0);
        rn_buf_t snap;
        rn_buf_init(&snap);
        RN_REQUIRE(a->vt->snapshot(a, &snap, NULL) == RN_OK);

        /* Every truncation is rejected. */
        int bad = 0;
        for (size_t len = 0; len < snap.len; len++) snap_check_rejected(&f, which, out, snap.data, len, &bad);
        RN_CHECK_EQ_INT(bad, 0);
        /* A trailing byte, a foreign magic, another version, another window size. */
        unsigned char *copy = malloc(snap.len + 1);
        memcpy(copy, snap.data, snap.len);
        copy[snap.len] = 0;
        snap_check_rejected(&f, which, out, copy, snap.len + 1, &bad);
        size_t flips[] = {0, 4, 13};
        for (int i = 0; i < 3; i++) {
            copy[flips[i]] ^= 2;
            snap_check_rejected(&f, which, out, copy, snap.len, &bad);
            copy[flips[i]] ^= 2;
        }
        RN_CHECK_EQ_INT(bad, 0);
        /* Any single flipped byte: either still a valid state or rejected,
         * never a crash, also when the restored state then runs to the end
         * (the sanitizer build checks the memory). */
        int odd = 0, restored = 0;
        for (size_t i = 0; i < snap.len; i++) {
            copy[i] ^= 0xff;
            rn_window_spec_t w = snap_spec(which);
            rn_op_t *b = rn_window_aggregate_new(f.feeder, &w, 1, 6, snap_aggs, out, f.errbuf, sizeof f.errbuf);
            RN_REQUIRE(b != NULL);
            rn_op_t *cap = capture_new(b, 0, true);
            rn_err_t err = b->vt->restore(b, copy, snap.len);
            if (err != RN_OK && err != RN_ERR_DECODE) odd++;
            if (err != RN_OK && rn_window_open_windows(b) != 0) odd++;
            if (err == RN_OK) {
                restored++;
                int64_t wm = b->watermark == RN_WM_MAX ? RN_WM_MAX : b->watermark + 1;
                if (fix_wm(&f, b, wm, 1000) != RN_OK || fix_wm(&f, b, RN_WM_MAX, 2000) != RN_OK) odd++;
            }
            take(cap);
            rn_op_free(cap);
            rn_op_free(b);
            copy[i] ^= 0xff;
        }
        RN_CHECK_EQ_INT(odd, 0);
        RN_CHECK(restored > 0);
        /* The intact snapshot still restores, and the operator then emits
         * what the original does. */
        rn_window_spec_t w = snap_spec(which);
        rn_op_t *b = rn_window_aggregate_new(f.feeder, &w, 1, 6, snap_aggs, out, f.errbuf, sizeof f.errbuf);
        RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, snap.len), RN_OK);
        RN_CHECK_EQ_INT(rn_window_open_windows(b), rn_window_open_windows(a));
        RN_CHECK_EQ_INT(rn_window_late_rows(b), rn_window_late_rows(a));
        /* A second restore into it is refused (it holds every key already)
         * and changes nothing: what follows must still match. */
        RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, snap.len), RN_ERR_DECODE);
        RN_CHECK_EQ_INT(rn_window_open_windows(b), rn_window_open_windows(a));
        RN_CHECK_EQ_INT(rn_window_late_rows(b), rn_window_late_rows(a));
        rn_op_t *capa = capture_new(a, 0, true), *capb = capture_new(b, 0, true);
        /* Late updates, merges and new windows, then the end. */
        for (int side = 0; side < 2; side++) {
            rn_op_t *op = side ? b : a;
            rn_batch_t *in = fix_batch(&f, true);
            ROW(in, 80, S("a"), I(9), I(7), S("late"));
            ROW(in, 80, S("bb"), I(75), I(8), S("zzz"));
            ROW(in, 80, S(""), I(130), N, S("new"));
            f.ctx.now_ms = 100;
            RN_REQUIRE(fix_push(&f, op, in) == RN_OK);
            RN_REQUIRE(fix_wm(&f, op, RN_WM_MAX, 5000) == RN_OK);
        }
        char want[16384];
        snprintf(want, sizeof want, "%s", take(capa));
        RN_CHECK(strlen(want) > 20);
        RN_CHECK_EQ_STR(take(capb), want);
        rn_op_free(capa);
        rn_op_free(capb);
        rn_op_free(b);
        free(copy);
        rn_buf_free(&snap);
        rn_op_free(a);
        rn_schema_unref(out);
        fix_free(&f);
    }
}

/* Allocation failures during restore give RN_ERR_NOMEM and leave the
 * operator empty (the sanitizer build checks that nothing leaks). */
static void test_restore_allocation_failures(void)
{
    for (int which = 0; which < 2; which++) {
        fix_t f;
        fix_init(&f, schema_of(4, "k:STRING", "ts:TS", "x:BIGINT", "s:STRING"));
        rn_schema_t *out = snap_out();
        rn_op_t *a = snap_fed(&f, which, out, 4);
        RN_REQUIRE(a != NULL);
        rn_buf_t snap;
        rn_buf_init(&snap);
        RN_REQUIRE(a->vt->snapshot(a, &snap, NULL) == RN_OK);
        bool completed = false;
        int odd = 0, failed = 0;
        for (long fail = 0; fail < 5000 && !completed; fail++) {
            rn_window_spec_t w = snap_spec(which);
            rn_op_t *b = rn_window_aggregate_new(f.feeder, &w, 1, 6, snap_aggs, out, f.errbuf, sizeof f.errbuf);
            RN_REQUIRE(b != NULL);
            rn_mem_fail_after(fail);
            rn_err_t err = b->vt->restore(b, snap.data, snap.len);
            rn_mem_fail_after(-1);
            if (err == RN_OK) completed = rn_window_open_windows(b) == rn_window_open_windows(a);
            else if (err != RN_ERR_NOMEM || rn_window_open_windows(b) != 0) odd++;
            else failed++;
            rn_op_free(b);
        }
        RN_CHECK(completed);
        RN_CHECK(failed > 5);
        RN_CHECK_EQ_INT(odd, 0);
        rn_buf_free(&snap);
        rn_op_free(a);
        rn_schema_unref(out);
        fix_free(&f);
    }
}

/* ---- forgetting revoked partitions ---------------------------------------- */

/* The forget test's keys: (k BIGINT, g STRING or NULL), 24 of them. */
#define FG_NKEYS 24
static const char *fg_strs[] = {"a", "bb", NULL, "a longer group name"};
static int64_t fg_k(int kid) { return kid % 6; }
static const char *fg_g(int kid) { return fg_strs[kid / 6]; }

/* The repartition partition of key kid, as an Exchange computes it. */
static int32_t fg_part(int kid, int32_t nparts)
{
    rn_buf_t b;
    rn_buf_init(&b);
    rn_value_t k = I(fg_k(kid)), g = fg_g(kid) ? S(fg_g(kid)) : N;
    rn_key_append(&b, RN_TYPE_BIGINT, &k);
    rn_key_append(&b, RN_TYPE_STRING, &g);
    int32_t p = rn_key_partition(b.data, (uint32_t)b.len, nparts);
    rn_buf_free(&b);
    return p;
}

typedef struct fg_row {
    int kid;
    int64_t t, wm, x;           /* rowtime, watermark in force, value (-1: NULL) */
} fg_row_t;

/* A batch of the rows rows[from..to) whose key is kept (want == 0) or
 * revoked (want == 1), or all of them (want < 0); in f's arena, not reset. */
static rn_batch_t *fg_batch(fix_t *f, const fg_row_t *rows, int from, int to, const bool *revoked_key,
                            int want)
{
    rn_batch_t *b = rn_batch_new(&f->arena, f->in, to - from);
    b->rowwm = rn_arena_alloc(&f->arena, sizeof(int64_t) * (size_t)(to - from));
    for (int i = from; i < to; i++) {
        const fg_row_t *r = &rows[i];
        if (want >= 0 && revoked_key[r->kid] != (want == 1)) continue;
        ROW(b, r->wm, I(fg_k(r->kid)), fg_g(r->kid) ? S(fg_g(r->kid)) : N, I(r->t),
            r->x >= 0 ? I(r->x) : N);
    }
    return b;
}

static size_t fg_snapshot_len(rn_op_t *op)
{
    rn_buf_t snap;
    rn_buf_init(&snap);
    size_t len = op->vt->snapshot(op, &snap, NULL) == RN_OK ? snap.len : 0;
    rn_buf_free(&snap);
    return len;
}

/* One randomized run: three operators get the same batches, watermarks
 * and processing times: `all` every row until the cut and only the kept
 * keys' rows after it, `kept` only those all along, `gone` only the rows
 * of revoked keys. At the cut `all` forgets the revoked partitions (with
 * every allocation failing): it must emit nothing, hold exactly what
 * `kept` holds (windows, held_since, snapshot size), and from then on
 * emit exactly what `kept` emits, down to a final watermark at +inf.
 * Returns the number of failed checks; *dropped gets the windows dropped. */
static int forget_run(const rn_window_spec_t *w, uint64_t seed, int32_t nparts, int nrows,
                      size_t *dropped)
{
    int bad = 0;
    rnd_state = seed;
    fix_t f;
    fix_init(&f, schema_of(4, "k:BIGINT", "g:STRING", "ts:TS", "x:BIGINT"));
    rn_agg_spec_t aggs[] = {COUNT_STAR,
                            {RN_AGG_COUNT_DISTINCT, 3, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_SUM, 3, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_LAST_VALUE, 3, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(9, "ws:TS", "we:TS", "wt:TS", "k:BIGINT", "g:STRING", "n:BIGINT",
                                 "cd:BIGINT", "sum:BIGINT", "lx:BIGINT");
    rn_op_t *all = rn_window_aggregate_new(f.feeder, w, 2, 4, aggs, out, f.errbuf, sizeof f.errbuf);
    rn_op_t *kept = rn_window_aggregate_new(f.feeder, w, 2, 4, aggs, out, f.errbuf, sizeof f.errbuf);
    rn_op_t *gone = rn_window_aggregate_new(f.feeder, w, 2, 4, aggs, out, f.errbuf, sizeof f.errbuf);
    if (!all || !kept || !gone) abort();
    rn_op_connect(f.feeder, all, 0); /* so that rn_op_forget_partitions(feeder) reaches it */
    rn_op_t *cap_all = capture_new(all, 0, true), *cap_kept = capture_new(kept, 0, true);
    rn_op_t *cap_gone = capture_new(gone, 0, true);

    /* revoke a random proper subset of the partitions */
    uint8_t revoked[8];
    bool revoked_key[FG_NKEYS];
    int nrev;
    do {
        nrev = 0;
        for (int p = 0; p < nparts; p++) nrev += revoked[p] = rnd() % 2;
    } while (nrev == 0 || nrev == nparts);
    for (int kid = 0; kid < FG_NKEYS; kid++) revoked_key[kid] = revoked[fg_part(kid, nparts)] != 0;

    fg_row_t *rows = calloc((size_t)nrows, sizeof *rows);
    int64_t maxt = INT64_MIN;
    for (int i = 0; i < nrows; i++) {
        fg_row_t *r = &rows[i];
        r->kid = (int)(rnd() % FG_NKEYS);
        r->t = (int64_t)i * 5 + (i / 150) * 700 + (int64_t)(rnd() % 300) - 100;
        r->x = rnd() % 10 == 0 ? -1 : (int64_t)(rnd() % 20);
        r->wm = maxt == INT64_MIN ? RN_WM_MIN : maxt - 120;
        if (r->t > maxt) maxt = r->t;
    }
    int cut = nrows / 4 + (int)(rnd() % (unsigned)(nrows / 2));
    bool forgot = false;
    int64_t now = 1000000, maxseen = INT64_MIN;
    char want[16384];
    rn_op_t *ops[3] = {all, kept, gone};
    for (int i = 0; i < nrows && bad < 10;) {
        if (i >= cut && !forgot) {
            forgot = true;
            take(cap_all);
            take(cap_kept);
            int rows_before = ((capture_t *)cap_all->priv)->nrows;
            size_t before = rn_window_open_windows(all);
            if (before != rn_window_open_windows(kept) + rn_window_open_windows(gone)) bad++;
            uint8_t none[8] = {0};
            RN_CHECK_EQ_INT(all->vt->forget_partitions(all, nparts, none), RN_OK);
            if (rn_window_open_windows(all) != before) bad++;
            rn_mem_fail_after(0); /* forgetting allocates nothing */
            rn_err_t err = rn_op_forget_partitions(f.feeder, nparts, revoked);
            rn_mem_fail_after(-1);
            RN_CHECK_EQ_INT(err, RN_OK);
            *dropped += before - rn_window_open_windows(all);
            RN_CHECK_EQ_INT(((capture_t *)cap_all->priv)->nrows, rows_before); /* emitted nothing */
            RN_CHECK_EQ_STR(take(cap_all), "");
            RN_CHECK_EQ_INT(rn_window_open_windows(all), rn_window_open_windows(kept));
            RN_CHECK_EQ_INT(all->vt->held_since(all), kept->vt->held_since(kept));
            size_t ka, kk;
            all->vt->state_size(all, &ka);
            kept->vt->state_size(kept, &kk);
            RN_CHECK_EQ_INT(ka, kk);
            /* same windows, accumulators and results: same snapshot size */
            RN_CHECK_EQ_INT(fg_snapshot_len(all), fg_snapshot_len(kept));
            RN_CHECK_EQ_INT(all->vt->forget_partitions(all, nparts, revoked), RN_OK); /* again: no-op */
            RN_CHECK_EQ_INT(rn_window_open_windows(all), rn_window_open_windows(kept));
        }
        int n = 1 + (int)(rnd() % 40);
        if (n > nrows - i) n = nrows - i;
        rn_arena_reset(&f.arena);
        rn_batch_t *ball = fg_batch(&f, rows, i, i + n, revoked_key, forgot ? 0 : -1);
        rn_batch_t *bkept = fg_batch(&f, rows, i, i + n, revoked_key, 0);
        rn_batch_t *bgone = fg_batch(&f, rows, i, i + n, revoked_key, 1);
        for (int j = i; j < i + n; j++)
            if (rows[j].t > maxseen) maxseen = rows[j].t;
        i += n;
        now += rnd() % 400;
        f.ctx.now_ms = now;
        if (fix_push(&f, all, ball) != RN_OK || fix_push(&f, kept, bkept) != RN_OK ||
            fix_push(&f, gone, bgone) != RN_OK)
            bad++;
        for (int o = 0; o < 3; o++)
            if (fix_wm(&f, ops[o], maxseen - 120, now) != RN_OK) bad++;
        if (i == nrows)
            for (int o = 0; o < 3; o++)
                if (fix_wm(&f, ops[o], RN_WM_MAX, now) != RN_OK) bad++;
        snprintf(want, sizeof want, "%s", take(cap_kept));
        const char *got = take(cap_all);
        if (forgot && strcmp(got, want) != 0 && bad++ < 3)
            fprintf(stderr, "forget_run: after the cut\n  got:  %s\n  want: %s\n", got, want);
        if (forgot && (rn_window_open_windows(all) != rn_window_open_windows(kept) ||
                       all->vt->held_since(all) != kept->vt->held_since(kept)))
            bad++;
    }
    if (rn_window_open_windows(all) != 0) bad++;
    if (((capture_t *)cap_kept->priv)->nrows == 0) bad++; /* degenerate */
    free(rows);
    rn_op_free(cap_all);
    rn_op_free(cap_kept);
    rn_op_free(cap_gone);
    rn_op_free(all);
    rn_op_free(kept);
    rn_op_free(gone);
    rn_schema_unref(out);
    fix_free(&f);
    return bad;
}

/* forget_partitions drops the windows and sessions of revoked partitions
 * (pending, fired and retained for lateness, early-emitted), and only
 * those, without a word downstream; the rest continues as if the revoked
 * keys had never been seen. */
static void test_forget_partitions(void)
{
    rn_window_spec_t kinds[] = {
        {.kind = RN_WINDOW_TUMBLE, .time_col = 2, .size_ms = 100, .offset_ms = 30},
        {.kind = RN_WINDOW_HOP, .time_col = 2, .size_ms = 120, .slide_ms = 40},
        {.kind = RN_WINDOW_SESSION, .time_col = 2, .size_ms = 30},
    };
    struct {
        int64_t lateness, early;
    } modes[] = {{0, 0}, {80, 0}, {0, 500}, {60, 300}};
    for (int k = 0; k < 3; k++) {
        for (int m = 0; m < 4; m++) {
            size_t dropped = 0;
            for (uint64_t seed = 1; seed <= 4; seed++) {
                rn_window_spec_t w = kinds[k];
                w.lateness_ms = modes[m].lateness;
                w.early_fire_ms = modes[m].early;
                int bad = forget_run(&w, seed * 7919 + (uint64_t)(k * 10 + m), seed % 2 ? 4 : 8, 1500,
                                     &dropped);
                if (bad) fprintf(stderr, "  (kind %d, lateness %lld, early %lld, seed %llu)\n", k,
                                 (long long)w.lateness_ms, (long long)w.early_fire_ms,
                                 (unsigned long long)seed);
                RN_CHECK_EQ_INT(bad, 0);
            }
            RN_CHECK(dropped > 0); /* the runs dropped something */
        }
    }
}

/* ---- snapshots by partition, merged on restore (docs/checkpoints.md) -------- */

#define MG_NPARTS 4

/* A capture that keeps the text of every row ("+I(v,v,...) ") whole and
 * split by the partition of its group key (output columns 3 and 4, the k
 * and g of the merge test), as an Exchange would place the key. */
typedef struct pcap {
    rn_buf_t all;
    rn_buf_t part[MG_NPARTS];
    int rows;
} pcap_t;

static rn_err_t pcap_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    pcap_t *c = op->priv;
    rn_buf_t row, key;
    rn_buf_init(&row);
    rn_buf_init(&key);
    for (int r = 0; r < b->nrows; r++) {
        rn_buf_clear(&row);
        rn_buf_appendf(&row, "%s(", rn_rowkind_str((rn_rowkind_t)b->kinds[r]));
        for (int col = 0; col < b->schema->ncols; col++) {
            if (col) rn_buf_appendc(&row, ',');
            format_value(&row, b->schema->cols[col].type->id, &b->cols[col][r]);
        }
        rn_buf_appends(&row, ") ");
        rn_buf_clear(&key);
        rn_key_append(&key, RN_TYPE_BIGINT, &b->cols[3][r]);
        rn_key_append(&key, RN_TYPE_STRING, &b->cols[4][r]);
        int32_t p = rn_key_partition(key.data, (uint32_t)key.len, MG_NPARTS);
        rn_buf_append(&c->all, row.data, row.len);
        rn_buf_append(&c->part[p], row.data, row.len);
        c->rows++;
    }
    rn_buf_free(&row);
    rn_buf_free(&key);
    return RN_OK;
}

static void pcap_clear(pcap_t *c)
{
    rn_buf_clear(&c->all);
    for (int p = 0; p < MG_NPARTS; p++) rn_buf_clear(&c->part[p]);
    c->rows = 0;
}

static void pcap_destroy(rn_op_t *op)
{
    pcap_t *c = op->priv;
    rn_buf_free(&c->all);
    for (int p = 0; p < MG_NPARTS; p++) rn_buf_free(&c->part[p]);
    free(c);
}
static const rn_op_vtable_t pcap_vt = {.kind = "Capture", .process = pcap_process, .destroy = pcap_destroy};

static const char *buf_str(const rn_buf_t *b) { return b->data ? b->data : ""; }

/* The merge test's operator: window w over (k BIGINT, g STRING, ts, x,
 * gs, ge) grouped by (k, g), its output captured. */
typedef struct mg_op {
    rn_op_t *op;
    rn_op_t *cap;
} mg_op_t;

static const rn_agg_spec_t mg_aggs[] = {{RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
                                        {RN_AGG_COUNT_DISTINCT, 3, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                                        {RN_AGG_SUM, 3, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                                        {RN_AGG_FIRST_VALUE, 3, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                                        {RN_AGG_LAST_VALUE, 3, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};

static mg_op_t mg_new(fix_t *f, const rn_window_spec_t *w, rn_schema_t *out)
{
    mg_op_t m;
    m.op = rn_window_aggregate_new(f->feeder, w, 2, 5, mg_aggs, out, f->errbuf, sizeof f->errbuf);
    if (!m.op) abort();
    m.cap = rn_op_new(&pcap_vt, out, m.op);
    pcap_t *c = calloc(1, sizeof *c);
    rn_buf_init(&c->all);
    for (int p = 0; p < MG_NPARTS; p++) rn_buf_init(&c->part[p]);
    m.cap->priv = c;
    rn_op_connect(m.op, m.cap, 0);
    return m;
}

static pcap_t *mg_cap(mg_op_t m) { return m.cap->priv; }

static void mg_free(mg_op_t m)
{
    rn_op_free(m.cap);
    rn_op_free(m.op);
}

/* The feeding schedule every operator of a run gets, so that processing
 * times and watermarks are the same for all. */
typedef struct mg_batch {
    int from, to;               /* rows[from..to) */
    int64_t now;                /* processing time of the batch and its watermark */
    int64_t wm;                 /* the watermark after it */
    bool again;                 /* then the same watermark 700 ms later */
} mg_batch_t;

/* Feeds batches [from, to) of the schedule to op, only the rows whose key
 * is in a partition marked in mask (bit p), but every batch (empty or not)
 * and every watermark. At the end of the schedule, a watermark at +inf. */
static int mg_feed(fix_t *f, rn_op_t *op, const rn_window_spec_t *w, const fg_row_t *rows,
                   const mg_batch_t *sched, int nsched, int from, int to, unsigned mask)
{
    int bad = 0;
    for (int s = from; s < to; s++) {
        const mg_batch_t *sb = &sched[s];
        rn_batch_t *b = fix_batch(f, true);
        for (int i = sb->from; i < sb->to; i++) {
            const fg_row_t *r = &rows[i];
            if (!(mask & (1u << fg_part(r->kid, MG_NPARTS)))) continue;
            /* GIVEN windows: by key, 50 or 80 ms long, on a grid of 50 */
            int64_t gs = floor_div(r->t, 50) * 50, ge = gs + 50 + (r->kid % 2) * 30;
            ROW(b, r->wm, I(fg_k(r->kid)), fg_g(r->kid) ? S(fg_g(r->kid)) : N, I(r->t),
                r->x >= 0 ? I(r->x) : N, I(gs), I(ge));
        }
        (void)w;
        f->ctx.now_ms = sb->now;
        if (fix_push(f, op, b) != RN_OK) bad++;
        if (fix_wm(f, op, sb->wm, sb->now) != RN_OK) bad++;
        if (sb->again && fix_wm(f, op, sb->wm, sb->now + 700) != RN_OK) bad++;
    }
    if (to == nsched && fix_wm(f, op, RN_WM_MAX, sched[nsched - 1].now + 1000) != RN_OK) bad++;
    return bad;
}

/* The bytes of op's snapshot (filtered by parts) into out (cleared first). */
static rn_err_t mg_snapshot(rn_op_t *op, rn_buf_t *out, const rn_part_filter_t *parts)
{
    rn_buf_clear(out);
    return op->vt->snapshot(op, out, parts);
}

/* One randomized run of the merge test for window w. `orig` takes the rows
 * up to a cut, then writes one snapshot per partition (MG_NPARTS). Then:
 * `merged`, fresh, restores all of them (in a random order); `per[p]`,
 * fresh, restores partition p's only, and must hold exactly what the
 * oracle `ora[p]` holds (a full restore that then forgets every other
 * partition); `x`, which took the rows of partitions 2 and 3 itself,
 * restores partitions 0 and 1. From the cut on, `merged` and `orig` get
 * the same rows and must emit the same; per[p] and ora[p] get partition
 * p's rows and must emit what orig emits for partition p; x gets every
 * row and must emit what orig emits for partitions 0 and 1 and what `y`
 * (which takes partitions 2 and 3's rows all along) emits for 2 and 3.
 * Also: restoring a partition twice is RN_ERR_DECODE and changes nothing,
 * and so does a truncated snapshot merged into an operator holding another
 * partition; late rows add up, and only an operator without a watermark
 * takes the snapshot's. Returns the number of failed checks. */
static int merge_run(const rn_window_spec_t *w, uint64_t seed, int nrows, bool oom)
{
    int bad = 0;
    rnd_state = seed;
    fix_t f;
    fix_init(&f, schema_of(6, "k:BIGINT", "g:STRING", "ts:TS", "x:BIGINT", "gs:TS", "ge:TS"));
    rn_schema_t *out = schema_of(10, "ws:TS", "we:TS", "wt:TS", "k:BIGINT", "g:STRING", "n:BIGINT",
                                 "cd:BIGINT", "sum:BIGINT", "fx:BIGINT", "lx:BIGINT");
    fg_row_t *rows = calloc((size_t)nrows, sizeof *rows);
    mg_batch_t *sched = calloc((size_t)nrows, sizeof *sched);
    int64_t maxt = INT64_MIN, now = 1000000;
    for (int i = 0; i < nrows; i++) {
        fg_row_t *r = &rows[i];
        r->kid = (int)(rnd() % FG_NKEYS);
        r->t = (int64_t)i * 5 + (i / 150) * 700 + (int64_t)(rnd() % 300) - 100;
        r->x = rnd() % 10 == 0 ? -1 : (int64_t)(rnd() % 20);
        r->wm = maxt == INT64_MIN ? RN_WM_MIN : maxt - 120;
        if (r->t > maxt) maxt = r->t;
    }
    int nsched = 0;
    maxt = INT64_MIN;
    for (int i = 0; i < nrows;) {
        mg_batch_t *sb = &sched[nsched++];
        int n = 1 + (int)(rnd() % 40);
        if (n > nrows - i) n = nrows - i;
        sb->from = i;
        sb->to = i + n;
        for (; i < sb->to; i++)
            if (rows[i].t > maxt) maxt = rows[i].t;
        sb->now = now += rnd() % 400;
        sb->wm = maxt - 120;
        sb->again = rnd() % 3 == 0;
        if (sb->again) now += 700;
    }
    int cut = nsched / 4 + (int)(rnd() % (unsigned)(nsched / 2));

    mg_op_t orig = mg_new(&f, w, out), x = mg_new(&f, w, out), y = mg_new(&f, w, out);
    bad += mg_feed(&f, orig.op, w, rows, sched, nsched, 0, cut, 0xf);
    bad += mg_feed(&f, x.op, w, rows, sched, nsched, 0, cut, 0xc);
    bad += mg_feed(&f, y.op, w, rows, sched, nsched, 0, cut, 0xc);

    /* One snapshot per partition, and the whole. */
    rn_buf_t snaps[MG_NPARTS], whole, after;
    rn_buf_init(&whole);
    rn_buf_init(&after);
    uint8_t marks[MG_NPARTS][MG_NPARTS] = {{0}};
    for (int p = 0; p < MG_NPARTS; p++) {
        rn_buf_init(&snaps[p]);
        marks[p][p] = 1;
        rn_part_filter_t pf = {MG_NPARTS, marks[p]};
        if (mg_snapshot(orig.op, &snaps[p], &pf) != RN_OK) bad++;
    }
    if (mg_snapshot(orig.op, &whole, NULL) != RN_OK) bad++;
    uint8_t nothing[MG_NPARTS] = {0}, every[MG_NPARTS] = {1, 1, 1, 1};
    rn_part_filter_t none_f = {MG_NPARTS, nothing}, every_f = {MG_NPARTS, every};
    /* Every partition marked: the whole snapshot, byte for byte. */
    if (mg_snapshot(orig.op, &after, &every_f) != RN_OK || after.len != whole.len ||
        memcmp(after.data, whole.data, whole.len) != 0)
        bad++;
    /* None marked: the operator-wide values only. */
    if (mg_snapshot(orig.op, &after, &none_f) != RN_OK) bad++;
    {
        mg_op_t e = mg_new(&f, w, out);
        if (e.op->vt->restore(e.op, after.data, after.len) != RN_OK || rn_window_open_windows(e.op) != 0 ||
            e.op->watermark != orig.op->watermark ||
            rn_window_late_rows(e.op) != rn_window_late_rows(orig.op))
            bad++;
        mg_free(e);
    }

    /* All four into one fresh operator, in a random order. */
    mg_op_t merged = mg_new(&f, w, out);
    int order[MG_NPARTS] = {0, 1, 2, 3};
    for (int i = MG_NPARTS - 1; i > 0; i--) {
        int j = (int)(rnd() % (unsigned)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < MG_NPARTS; i++) {
        rn_buf_t *s = &snaps[order[i]];
        if (merged.op->vt->restore(merged.op, s->data, s->len) != RN_OK) bad++;
    }
    if (rn_window_open_windows(merged.op) != rn_window_open_windows(orig.op) ||
        merged.op->vt->held_since(merged.op) != orig.op->vt->held_since(orig.op) ||
        merged.op->watermark != orig.op->watermark ||
        rn_window_late_rows(merged.op) != rn_window_late_rows(orig.op) ||
        fg_snapshot_len(merged.op) != whole.len)
        bad++;

    /* Each partition into its own operator: exactly that partition's keys. */
    mg_op_t per[MG_NPARTS], ora[MG_NPARTS];
    size_t sum = 0, most = 0;
    int busiest = 0;
    for (int p = 0; p < MG_NPARTS; p++) {
        per[p] = mg_new(&f, w, out);
        ora[p] = mg_new(&f, w, out);
        if (per[p].op->vt->restore(per[p].op, snaps[p].data, snaps[p].len) != RN_OK) bad++;
        if (ora[p].op->vt->restore(ora[p].op, whole.data, whole.len) != RN_OK) bad++;
        uint8_t others[MG_NPARTS] = {1, 1, 1, 1};
        others[p] = 0;
        if (ora[p].op->vt->forget_partitions(ora[p].op, MG_NPARTS, others) != RN_OK) bad++;
        size_t n = rn_window_open_windows(per[p].op);
        if (n != rn_window_open_windows(ora[p].op) ||
            per[p].op->vt->held_since(per[p].op) != ora[p].op->vt->held_since(ora[p].op) ||
            fg_snapshot_len(per[p].op) != fg_snapshot_len(ora[p].op))
            bad++;
        sum += n;
        if (n > most) {
            most = n;
            busiest = p;
        }
    }
    if (sum != rn_window_open_windows(orig.op) || most == 0) bad++;

    /* A partition restored twice: refused, nothing changed. */
    size_t nwin = rn_window_open_windows(merged.op);
    uint64_t nlate = rn_window_late_rows(merged.op);
    if (merged.op->vt->restore(merged.op, snaps[busiest].data, snaps[busiest].len) != RN_ERR_DECODE ||
        rn_window_open_windows(merged.op) != nwin || rn_window_late_rows(merged.op) != nlate)
        bad++;

    /* Truncated snapshots of another partition merged into per[q]: refused,
     * and per[q] holds what it held (the same windows and snapshot size;
     * the store may have grown, so the order of entries may differ; what
     * it emits later is checked below). */
    int q = (busiest + 1) % MG_NPARTS;
    size_t qwin = rn_window_open_windows(per[q].op), qlen = fg_snapshot_len(per[q].op);
    int64_t qheld = per[q].op->vt->held_since(per[q].op);
    for (size_t len = 0; len < snaps[busiest].len; len += 1 + len / 16) {
        if (per[q].op->vt->restore(per[q].op, snaps[busiest].data, len) != RN_ERR_DECODE ||
            rn_window_open_windows(per[q].op) != qwin || fg_snapshot_len(per[q].op) != qlen ||
            per[q].op->vt->held_since(per[q].op) != qheld) {
            if (bad++ < 3) fprintf(stderr, "merge_run: truncated at %zu changed the operator\n", len);
        }
    }
    /* And allocation failures part way: RN_ERR_NOMEM, nothing changed. */
    if (oom) {
        mg_op_t t = mg_new(&f, w, out);
        if (t.op->vt->restore(t.op, snaps[q].data, snaps[q].len) != RN_OK) bad++;
        int failed = 0;
        bool done = false;
        for (long fail = 0; fail < 5000 && !done; fail++) {
            rn_mem_fail_after(fail);
            rn_err_t err = t.op->vt->restore(t.op, snaps[busiest].data, snaps[busiest].len);
            rn_mem_fail_after(-1);
            if (err == RN_OK) {
                done = true;
                break;
            }
            failed++;
            if (err != RN_ERR_NOMEM || rn_window_open_windows(t.op) != qwin ||
                fg_snapshot_len(t.op) != qlen || t.op->vt->held_since(t.op) != qheld)
                bad++;
        }
        if (!done || failed < 3 ||
            rn_window_open_windows(t.op) !=
                rn_window_open_windows(per[q].op) + rn_window_open_windows(per[busiest].op))
            bad++;
        mg_free(t);
    }

    /* x holds partitions 2 and 3 of its own and takes 0 and 1 from orig:
     * late rows add, its own watermark stays. */
    uint64_t xlate = rn_window_late_rows(x.op);
    size_t xwin = rn_window_open_windows(x.op);
    for (int p = 0; p < 2; p++)
        if (x.op->vt->restore(x.op, snaps[p].data, snaps[p].len) != RN_OK) bad++;
    if (rn_window_late_rows(x.op) != (xlate > rn_window_late_rows(orig.op) ? xlate : rn_window_late_rows(orig.op)) ||
        rn_window_open_windows(x.op) !=
            xwin + rn_window_open_windows(per[0].op) + rn_window_open_windows(per[1].op))
        bad++;
    {
        mg_op_t z = mg_new(&f, w, out);
        if (fix_wm(&f, z.op, -7, 0) != RN_OK) bad++;
        if (z.op->vt->restore(z.op, snaps[busiest].data, snaps[busiest].len) != RN_OK ||
            z.op->watermark != -7)
            bad++;
        mg_free(z);
    }

    /* The rest of the input. */
    pcap_clear(mg_cap(orig));
    pcap_clear(mg_cap(x));
    pcap_clear(mg_cap(y));
    bad += mg_feed(&f, orig.op, w, rows, sched, nsched, cut, nsched, 0xf);
    bad += mg_feed(&f, merged.op, w, rows, sched, nsched, cut, nsched, 0xf);
    bad += mg_feed(&f, x.op, w, rows, sched, nsched, cut, nsched, 0xf);
    bad += mg_feed(&f, y.op, w, rows, sched, nsched, cut, nsched, 0xc);
    const pcap_t *co = mg_cap(orig);
    if (strcmp(buf_str(&mg_cap(merged)->all), buf_str(&co->all)) != 0 && bad++ < 3)
        fprintf(stderr, "merge_run: merged\n  got:  %.300s\n  want: %.300s\n", buf_str(&mg_cap(merged)->all),
                buf_str(&co->all));
    if (co->rows < 20) bad++; /* degenerate */
    for (int p = 0; p < MG_NPARTS; p++) {
        bad += mg_feed(&f, per[p].op, w, rows, sched, nsched, cut, nsched, 1u << p);
        bad += mg_feed(&f, ora[p].op, w, rows, sched, nsched, cut, nsched, 1u << p);
        if (strcmp(buf_str(&mg_cap(per[p])->all), buf_str(&co->part[p])) != 0 ||
            strcmp(buf_str(&mg_cap(ora[p])->all), buf_str(&co->part[p])) != 0) {
            if (bad++ < 3)
                fprintf(stderr, "merge_run: partition %d\n  got:  %.300s\n  want: %.300s\n", p,
                        buf_str(&mg_cap(per[p])->all), buf_str(&co->part[p]));
        }
        const pcap_t *want = p < 2 ? co : mg_cap(y);
        if (strcmp(buf_str(&mg_cap(x)->part[p]), buf_str(&want->part[p])) != 0 && bad++ < 3)
            fprintf(stderr, "merge_run: x, partition %d\n  got:  %.300s\n  want: %.300s\n", p,
                    buf_str(&mg_cap(x)->part[p]), buf_str(&want->part[p]));
        if (rn_window_open_windows(per[p].op) != 0) bad++;
        mg_free(per[p]);
        mg_free(ora[p]);
    }
    if (rn_window_open_windows(merged.op) != 0 || rn_window_open_windows(x.op) != 0) bad++;

    for (int p = 0; p < MG_NPARTS; p++) rn_buf_free(&snaps[p]);
    rn_buf_free(&whole);
    rn_buf_free(&after);
    mg_free(orig);
    mg_free(merged);
    mg_free(x);
    mg_free(y);
    free(rows);
    free(sched);
    rn_schema_unref(out);
    fix_free(&f);
    return bad;
}

/* Snapshots taken partition by partition and restored into one operator,
 * into one operator each, or into an operator holding other partitions,
 * go on exactly as the original (for every window kind and emission
 * mode). */
static void test_partition_snapshots_merge(void)
{
    rn_window_spec_t kinds[] = {
        {.kind = RN_WINDOW_TUMBLE, .time_col = 2, .size_ms = 100, .offset_ms = 30},
        {.kind = RN_WINDOW_HOP, .time_col = 2, .size_ms = 120, .slide_ms = 40},
        {.kind = RN_WINDOW_SESSION, .time_col = 2, .size_ms = 30},
        {.kind = RN_WINDOW_SESSION, .time_col = 2, .size_ms = 150}, /* sessions merge more */
        {.kind = RN_WINDOW_GIVEN, .time_col = 5, .start_col = 4},
    };
    struct {
        int64_t lateness, early;
    } modes[] = {{0, 0}, {80, 0}, {0, 500}, {60, 300}};
    for (int k = 0; k < 5; k++) {
        for (int m = 0; m < 4; m++) {
            for (uint64_t seed = 1; seed <= 2; seed++) {
                rn_window_spec_t w = kinds[k];
                w.lateness_ms = modes[m].lateness;
                w.early_fire_ms = modes[m].early;
                int bad = merge_run(&w, seed * 4099 + (uint64_t)(k * 10 + m), 1500, seed == 1 && m == 3);
                if (bad) fprintf(stderr, "  (kind %d, lateness %lld, early %lld, seed %llu)\n", k,
                                 (long long)w.lateness_ms, (long long)w.early_fire_ms,
                                 (unsigned long long)seed);
                RN_CHECK_EQ_INT(bad, 0);
            }
        }
    }
}

int main(void)
{
    RN_RUN(test_tumble_counts);
    RN_RUN(test_proctime_tumble);
    RN_RUN(test_tumble_offset);
    RN_RUN(test_hop_counts);
    RN_RUN(test_session_merge);
    RN_RUN(test_session_merge_many);
    RN_RUN(test_late_rows_routed);
    RN_RUN(test_allowed_lateness_updates);
    RN_RUN(test_session_lateness);
    RN_RUN(test_early_fire);
    RN_RUN(test_strings_survive_arena);
    RN_RUN(test_deterministic_order);
    RN_RUN(test_merged_session_order);
    RN_RUN(test_flush_at_end);
    RN_RUN(test_held_since);
    RN_RUN(test_explain_and_errors);
    RN_RUN(test_out_of_memory);
    RN_RUN(test_group_first_last);
    RN_RUN(test_random_against_brute_force);
    RN_RUN(test_combined_equals_direct);
    RN_RUN(test_wide_spread_of_ends);
    RN_RUN(test_ring_edges);
    RN_RUN(test_snapshot_restore);
    RN_RUN(test_snapshot_rejects_corrupt);
    RN_RUN(test_restore_allocation_failures);
    RN_RUN(test_forget_partitions);
    RN_RUN(test_partition_snapshots_merge);
    return rn_test_summary();
}
