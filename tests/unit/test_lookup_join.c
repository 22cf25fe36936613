/*
 * test_lookup_join.c - unit tests for the lookup join operator
 * (op/lookup_join.h), driven directly: a do-nothing feeder is its input,
 * a fake rn_lookup_t (rows in memory that a test may change, calls
 * counted, failures on demand) its table, and a capturing operator
 * records the output rows as text. Covers batched and deduplicated
 * lookups, NULL keys, INNER and LEFT with and without a residual, the
 * PARTIAL cache (hits, expiry after write and access, LRU eviction,
 * missing keys remembered or not), the FULL cache (loaded by scan,
 * reloaded after the interval), a fan-out of 10,000 rows for one key,
 * RN_ERR_RETRY retried and given up, watermarks passed through, and the
 * file-backed table of `runnel test`.
 */
#include "connectors/connector.h"
#include "core/mem.h"
#include "op/lookup_join.h"
#include "rn_test.h"
#include "rn_test_rows.h"

#include <stdio.h>
#include <unistd.h>

/* ---- the fake table: (k BIGINT, v BIGINT, s STRING) -------------------------- */

#define FAKE_MAX 20000
typedef struct fake {
    rn_lookup_t l;
    int nrows;
    int64_t k[FAKE_MAX], v[FAKE_MAX];
    char s[FAKE_MAX][16];
    int calls;         /* lookup() calls */
    int scans;         /* scan() calls */
    int keys_asked;    /* keys in lookup() calls that completed them */
    int fail_retry;    /* the next calls fail with RN_ERR_RETRY */
    bool partial_rows; /* when out fills: append the part of a key that fits */
    bool closed;
} fake_t;

static fake_t *fake_new(void)
{
    fake_t *f = calloc(1, sizeof *f);
    return f;
}

static void fake_add(fake_t *f, int64_t k, int64_t v, const char *s)
{
    f->k[f->nrows] = k;
    f->v[f->nrows] = v;
    snprintf(f->s[f->nrows], sizeof f->s[0], "%s", s);
    f->nrows++;
}

static void fake_put(fake_t *f, rn_batch_t *out, int i)
{
    int r = out->nrows++;
    out->cols[0][r] = I(f->k[i]);
    out->cols[1][r] = I(f->v[i]);
    out->cols[2][r] = S(f->s[i]);
    out->kinds[r] = RN_ROW_INSERT;
}

static rn_err_t fake_lookup(rn_lookup_t *l, const rn_batch_t *keys, rn_batch_t *out, int *key_of, int *done,
                            rn_arena_t *arena, char *errbuf, size_t errbuf_size)
{
    fake_t *f = (fake_t *)l;
    f->calls++;
    if (f->fail_retry > 0) {
        f->fail_retry--;
        snprintf(errbuf, errbuf_size, "connection refused");
        return RN_ERR_RETRY;
    }
    for (int q = 0; q < keys->nrows; q++) {
        RN_CHECK(!keys->cols[0][q].null);
        int n = 0;
        for (int i = 0; i < f->nrows; i++) n += f->k[i] == keys->cols[0][q].i;
        if (out->nrows + n > out->cap) {
            for (int i = 0; f->partial_rows && i < f->nrows && out->nrows < out->cap; i++)
                if (f->k[i] == keys->cols[0][q].i) {
                    key_of[out->nrows] = q;
                    fake_put(f, out, i);
                }
            *done = q;
            return RN_OK;
        }
        for (int i = 0; i < f->nrows; i++)
            if (f->k[i] == keys->cols[0][q].i) {
                key_of[out->nrows] = q;
                fake_put(f, out, i);
            }
        f->keys_asked++;
    }
    *done = keys->nrows;
    return RN_OK;
}

static rn_err_t fake_scan(rn_lookup_t *l, rn_batch_t *out, int64_t *cursor, bool *done, rn_arena_t *arena,
                          char *errbuf, size_t errbuf_size)
{
    fake_t *f = (fake_t *)l;
    f->scans++;
    if (f->fail_retry > 0) {
        f->fail_retry--;
        snprintf(errbuf, errbuf_size, "connection refused");
        return RN_ERR_RETRY;
    }
    while (*cursor < f->nrows && out->nrows < out->cap) fake_put(f, out, (int)(*cursor)++);
    *done = *cursor >= f->nrows;
    return RN_OK;
}

static void fake_close(rn_lookup_t *l)
{
    ((fake_t *)l)->closed = true;
}

/* ---- the operator between a feeder and a capture ------------------------------- */

static rn_err_t feeder_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    return RN_OK;
}
static const rn_op_vtable_t feeder_vt = {.kind = "Feeder", .process = feeder_process};

typedef struct capture {
    rn_buf_t text; /* "+I(1,10,1,10,a)" rows separated by spaces */
    int rows, batches, max_batch;
    bool wm_ok; /* every row's rowwm was 100 + its left id */
} capture_t;

static rn_err_t capture_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    capture_t *c = op->priv;
    c->batches++;
    if (b->nrows > c->max_batch) c->max_batch = b->nrows;
    for (int r = 0; r < b->nrows; r++) {
        c->rows++;
        if (b->rowwm && b->rowwm[r] != 100 + b->cols[0][r].i) c->wm_ok = false;
        if (c->rows > 50) continue; /* the text of small cases only */
        if (c->text.len) rn_buf_appendc(&c->text, ' ');
        rn_buf_appends(&c->text, rn_rowkind_str((rn_rowkind_t)b->kinds[r]));
        rn_buf_appendc(&c->text, '(');
        for (int col = 0; col < b->schema->ncols; col++) {
            if (col) rn_buf_appendc(&c->text, ',');
            const rn_value_t *v = &b->cols[col][r];
            if (v->null)
                rn_buf_appends(&c->text, "null");
            else if (b->schema->cols[col].type->id == RN_TYPE_STRING)
                rn_buf_append(&c->text, v->s, v->len);
            else
                rn_buf_append_i64(&c->text, v->i);
        }
        rn_buf_appendc(&c->text, ')');
    }
    return RN_OK;
}
static const rn_op_vtable_t capture_vt = {.kind = "Capture", .process = capture_process};

static rn_arena_t exprs;

static rn_expr_t *col_expr(int col, const rn_type_t *t)
{
    rn_expr_t *e = rn_arena_calloc(&exprs, 1, sizeof *e);
    e->kind = RN_EXPR_COLUMN;
    e->type = t;
    e->col = col;
    return e;
}

/* The residual v >= min over the output row (id, k, min, tk, v, s). */
static const rn_expr_t *residual_v_ge_min(void)
{
    rn_expr_t *e = rn_arena_calloc(&exprs, 1, sizeof *e);
    e->kind = RN_EXPR_FUNC;
    e->type = &rn_type_boolean;
    e->fn = RN_FN_GE;
    e->nargs = 2;
    e->args = rn_arena_alloc(&exprs, 2 * sizeof(rn_expr_t *));
    e->args[0] = col_expr(4, &rn_type_bigint);
    e->args[1] = col_expr(2, &rn_type_bigint);
    return e;
}

typedef struct fix {
    rn_arena_t arena;
    rn_ctx_t ctx;
    char errbuf[256];
    rn_schema_t *in, *ts, *out;
    rn_op_t *feeder, *join, *cap;
    fake_t *fake;
    capture_t *c;
} fix_t;

static bool fix_init(fix_t *f, bool left, const rn_expr_t *residual, rn_lookup_cache_spec_t cache)
{
    memset(f, 0, sizeof *f);
    rn_arena_init(&f->arena, 0);
    f->ctx.arena = &f->arena;
    f->ctx.errbuf = f->errbuf;
    f->ctx.errbuf_size = sizeof f->errbuf;
    f->ctx.now_ms = 1000000;
    f->in = schema_of(3, "id:BIGINT", "k:BIGINT", "min:BIGINT");
    f->ts = schema_of(3, "tk:BIGINT", "v:BIGINT", "s:STRING");
    f->out = schema_of(6, "id:BIGINT", "k:BIGINT", "min:BIGINT", "tk:BIGINT", "v:BIGINT", "s:STRING");
    f->feeder = rn_op_new(&feeder_vt, f->in, NULL);
    int key_cols[] = {0};
    const rn_expr_t *key_exprs[] = {col_expr(1, &rn_type_bigint)};
    rn_lookup_join_spec_t spec = {.left = left,
                                  .table = "t",
                                  .table_schema = f->ts,
                                  .nkeys = 1,
                                  .key_cols = key_cols,
                                  .key_exprs = key_exprs,
                                  .residual = residual,
                                  .cache = cache};
    f->join = rn_lookup_join_new(f->feeder, &spec, f->out, f->errbuf, sizeof f->errbuf);
    if (!f->join) return false;
    f->fake = fake_new();
    f->fake->l =
        (rn_lookup_t){.lookup = fake_lookup, .scan = fake_scan, .close = fake_close, .where = "fake"};
    rn_lookup_join_set_table(f->join, &f->fake->l);
    f->cap = rn_op_new(&capture_vt, f->out, f->join);
    f->c = calloc(1, sizeof *f->c);
    rn_buf_init(&f->c->text);
    f->c->wm_ok = true;
    f->cap->priv = f->c;
    rn_op_connect(f->join, f->cap, 0);
    return true;
}

static void fix_free(fix_t *f)
{
    rn_op_free(f->cap);
    rn_op_free(f->join); /* closes the fake */
    RN_CHECK(f->fake->closed);
    free(f->fake);
    rn_op_free(f->feeder);
    rn_buf_free(&f->c->text);
    free(f->c);
    rn_schema_unref(f->in);
    rn_schema_unref(f->ts);
    rn_schema_unref(f->out);
    rn_arena_free(&f->arena);
}

/* Pushes rows (id, k, min) with k < 0 meaning NULL; returns the output
 * text of this batch. */
static rn_err_t push(fix_t *f, int n, const int64_t *ids, const int64_t *ks, int64_t min, bool wm)
{
    rn_arena_reset(&f->arena);
    rn_buf_clear(&f->c->text);
    f->c->rows = 0;
    f->c->batches = 0;
    rn_batch_t *b = rn_batch_new(&f->arena, f->in, n);
    if (wm) b->rowwm = rn_arena_alloc(&f->arena, sizeof(int64_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        b->cols[0][i] = I(ids[i]);
        b->cols[1][i] = ks[i] < 0 ? N : I(ks[i]);
        b->cols[2][i] = I(min);
        b->kinds[i] = RN_ROW_INSERT;
        if (wm) b->rowwm[i] = 100 + ids[i];
    }
    b->nrows = n;
    return rn_op_emit(f->feeder, b, &f->ctx);
}
#define PUSH(f, min, ...)                                                                                    \
    push((f), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), ids_of((int64_t[]){__VA_ARGS__}),   \
         (int64_t[]){__VA_ARGS__}, (min), false)

static int64_t ids_buf[64];
static const int64_t *ids_of(const int64_t *ks)
{
    (void)ks;
    for (int i = 0; i < 64; i++) ids_buf[i] = i + 1;
    return ids_buf;
}

static const char *text(fix_t *f)
{
    return f->c->text.data ? f->c->text.data : "";
}

static void table_abc(fake_t *t)
{
    fake_add(t, 1, 10, "a");
    fake_add(t, 2, 20, "c");
    fake_add(t, 1, 11, "b");
}

/* ---- tests ------------------------------------------------------------------------ */

/* One lookup() per batch for the distinct non-NULL keys; INNER drops a
 * missing or NULL key and fans out a key with several rows. */
static void test_inner_batched(void)
{
    fix_t f;
    RN_REQUIRE(fix_init(&f, false, NULL, (rn_lookup_cache_spec_t){.kind = RN_LOOKUP_CACHE_NONE}));
    table_abc(f.fake);
    RN_CHECK_EQ_INT(PUSH(&f, 0, 1, 2, 1, -1, 3), RN_OK);
    RN_CHECK_EQ_STR(text(&f),
                    "+I(1,1,0,1,10,a) +I(1,1,0,1,11,b) +I(2,2,0,2,20,c) +I(3,1,0,1,10,a) +I(3,1,0,1,11,b)");
    RN_CHECK_EQ_INT(f.fake->calls, 1);
    RN_CHECK_EQ_INT(f.fake->keys_asked, 3); /* 1, 2, 3; never NULL */
    RN_CHECK_EQ_INT(PUSH(&f, 0, 2), RN_OK); /* no cache: asked again */
    RN_CHECK_EQ_INT(f.fake->calls, 2);
    rn_lookup_join_stats_t st;
    rn_lookup_join_stats(f.join, &st);
    RN_CHECK_EQ_INT(st.lookups, 2);
    RN_CHECK_EQ_INT(st.misses, 4);
    RN_CHECK_EQ_INT(st.hits, 0);
    RN_CHECK_EQ_INT(st.rows_looked_up, 4);
    rn_buf_t ex;
    rn_buf_init(&ex);
    rn_op_explain(f.join, &ex);
    RN_CHECK(strstr(ex.data, "LookupJoin: table=t, key=[tk=k], cache=NONE") != NULL);
    rn_buf_free(&ex);
    fix_free(&f);
}

/* LEFT pads a missing key, a NULL key, and (with a residual) a key none of
 * whose rows pass; kinds and watermarks follow the left row. */
static void test_left_and_residual(void)
{
    fix_t f;
    RN_REQUIRE(
        fix_init(&f, true, residual_v_ge_min(), (rn_lookup_cache_spec_t){.kind = RN_LOOKUP_CACHE_NONE}));
    table_abc(f.fake);
    RN_CHECK_EQ_INT(PUSH(&f, 11, 1, 2, 3, -1), RN_OK);
    RN_CHECK_EQ_STR(text(&f), "+I(1,1,11,1,11,b) +I(2,2,11,2,20,c) +I(3,3,11,null,null,null) "
                              "+I(4,null,11,null,null,null)");
    RN_CHECK_EQ_INT(PUSH(&f, 21, 1, 2), RN_OK);
    RN_CHECK_EQ_STR(text(&f), "+I(1,1,21,null,null,null) +I(2,2,21,null,null,null)");
    int64_t ids[] = {5, 6}, ks[] = {1, 9};
    RN_CHECK_EQ_INT(push(&f, 2, ids, ks, 0, true), RN_OK);
    RN_CHECK_EQ_INT(f.c->rows, 3);
    RN_CHECK(f.c->wm_ok);
    fix_free(&f);

    /* INNER with the residual drops what fails it */
    RN_REQUIRE(
        fix_init(&f, false, residual_v_ge_min(), (rn_lookup_cache_spec_t){.kind = RN_LOOKUP_CACHE_NONE}));
    table_abc(f.fake);
    RN_CHECK_EQ_INT(PUSH(&f, 11, 1, 2, 3), RN_OK);
    RN_CHECK_EQ_STR(text(&f), "+I(1,1,11,1,11,b) +I(2,2,11,2,20,c)");
    fix_free(&f);
}

/* Change kinds pass through: an updating input gives an updating output. */
static void test_kinds(void)
{
    fix_t f;
    RN_REQUIRE(fix_init(&f, true, NULL, (rn_lookup_cache_spec_t){.kind = RN_LOOKUP_CACHE_NONE}));
    table_abc(f.fake);
    rn_arena_reset(&f.arena);
    rn_buf_clear(&f.c->text);
    rn_batch_t *b = rn_batch_new(&f.arena, f.in, 3);
    const rn_rowkind_t kinds[] = {RN_ROW_UPDATE_BEFORE, RN_ROW_UPDATE_AFTER, RN_ROW_DELETE};
    const int64_t ks[] = {2, 9, 2};
    for (int i = 0; i < 3; i++) {
        b->cols[0][i] = I(i + 1), b->cols[1][i] = I(ks[i]), b->cols[2][i] = I(0);
        b->kinds[i] = (uint8_t)kinds[i];
    }
    b->nrows = 3;
    RN_CHECK(!f.join->updating);
    RN_CHECK_EQ_INT(rn_op_emit(f.feeder, b, &f.ctx), RN_OK);
    RN_CHECK_EQ_STR(text(&f), "-U(1,2,0,2,20,c) +U(2,9,0,null,null,null) -D(3,2,0,2,20,c)");
    fix_free(&f);
}

/* PARTIAL: hits are not asked again; expiry after write and after access;
 * the least recently used key goes when max-rows is passed. */
static void test_partial_cache(void)
{
    fix_t f;
    rn_lookup_cache_spec_t c = {.kind = RN_LOOKUP_CACHE_PARTIAL,
                                .max_rows = 2,
                                .expire_after_write_ms = 10000,
                                .cache_missing_key = true,
                                .max_retries = -1};
    RN_REQUIRE(fix_init(&f, false, NULL, c));
    table_abc(f.fake);
    RN_CHECK_EQ_INT(PUSH(&f, 0, 1, 2), RN_OK);
    RN_CHECK_EQ_INT(f.fake->keys_asked, 2);
    fake_add(f.fake, 1, 12, "new"); /* not seen while cached */
    f.ctx.now_ms += 5000;
    RN_CHECK_EQ_INT(PUSH(&f, 0, 1, 2, 1), RN_OK);
    RN_CHECK_EQ_INT(f.fake->calls, 1);
    RN_CHECK_EQ_INT(f.c->rows, 5);
    /* the last batch used key 1, then key 2: key 1 is the least recently
     * used, and goes when key 3 comes in */
    RN_CHECK_EQ_INT(PUSH(&f, 0, 3), RN_OK); /* missing, remembered */
    RN_CHECK_EQ_INT(f.fake->keys_asked, 3);
    rn_lookup_join_stats_t st;
    rn_lookup_join_stats(f.join, &st);
    RN_CHECK_EQ_INT(st.cached_keys, 2);
    RN_CHECK_EQ_INT(PUSH(&f, 0, 2, 3), RN_OK); /* both cached */
    RN_CHECK_EQ_INT(f.fake->keys_asked, 3);
    RN_CHECK_EQ_INT(PUSH(&f, 0, 1), RN_OK); /* evicted: asked, sees the new row */
    RN_CHECK_EQ_INT(f.fake->keys_asked, 4);
    RN_CHECK_EQ_INT(f.c->rows, 3);
    /* expire after write: key 1 was loaded just now; 10 s later it is asked again */
    f.ctx.now_ms += 9999;
    RN_CHECK_EQ_INT(PUSH(&f, 0, 1), RN_OK);
    RN_CHECK_EQ_INT(f.fake->keys_asked, 4);
    f.ctx.now_ms += 1;
    RN_CHECK_EQ_INT(PUSH(&f, 0, 1), RN_OK);
    RN_CHECK_EQ_INT(f.fake->keys_asked, 5);
    rn_lookup_join_stats(f.join, &st);
    RN_CHECK(st.hits >= 4);
    fix_free(&f);

    /* expire after access, and missing keys not remembered */
    c = (rn_lookup_cache_spec_t){.kind = RN_LOOKUP_CACHE_PARTIAL,
                                 .expire_after_access_ms = 1000,
                                 .cache_missing_key = false,
                                 .max_retries = -1};
    RN_REQUIRE(fix_init(&f, false, NULL, c));
    table_abc(f.fake);
    RN_CHECK_EQ_INT(PUSH(&f, 0, 1, 9), RN_OK);
    RN_CHECK_EQ_INT(f.fake->keys_asked, 2);
    for (int i = 0; i < 3; i++) { /* used every 900 ms: stays */
        f.ctx.now_ms += 900;
        RN_CHECK_EQ_INT(PUSH(&f, 0, 1), RN_OK);
    }
    RN_CHECK_EQ_INT(f.fake->keys_asked, 2);
    RN_CHECK_EQ_INT(PUSH(&f, 0, 9), RN_OK); /* a missing key is asked each time */
    RN_CHECK_EQ_INT(f.fake->keys_asked, 3);
    f.ctx.now_ms += 1000;
    RN_CHECK_EQ_INT(PUSH(&f, 0, 1), RN_OK); /* unused for 1 s: gone */
    RN_CHECK_EQ_INT(f.fake->keys_asked, 4);
    fix_free(&f);
}

/* FULL: the table is read with scan() at the first batch, lookup() is
 * never called, and a new row is seen once the reload interval passed. */
static void test_full_cache(void)
{
    fix_t f;
    rn_lookup_cache_spec_t c = {.kind = RN_LOOKUP_CACHE_FULL, .reload_ms = 60000, .max_retries = -1};
    RN_REQUIRE(fix_init(&f, true, NULL, c));
    table_abc(f.fake);
    RN_CHECK_EQ_INT(PUSH(&f, 0, 1, 4), RN_OK);
    RN_CHECK_EQ_STR(text(&f), "+I(1,1,0,1,10,a) +I(1,1,0,1,11,b) +I(2,4,0,null,null,null)");
    RN_CHECK_EQ_INT(f.fake->calls, 0);
    RN_CHECK(f.fake->scans >= 1);
    fake_add(f.fake, 4, 40, "d");
    f.ctx.now_ms += 59999;
    RN_CHECK_EQ_INT(PUSH(&f, 0, 4), RN_OK);
    RN_CHECK_EQ_STR(text(&f), "+I(1,4,0,null,null,null)");
    f.ctx.now_ms += 1;
    RN_CHECK_EQ_INT(PUSH(&f, 0, 4), RN_OK);
    RN_CHECK_EQ_STR(text(&f), "+I(1,4,0,4,40,d)");
    rn_lookup_join_stats_t st;
    rn_lookup_join_stats(f.join, &st);
    RN_CHECK_EQ_INT(st.scans, 2);
    RN_CHECK_EQ_INT(st.cached_keys, 3);
    RN_CHECK_EQ_INT(f.fake->calls, 0);
    fix_free(&f);
}

/* 10,000 rows for one key: the table's output is too small at first (it
 * completes no key, or hands out part of one), the join asks again with a
 * larger one, and emits the rows in several batches; with a residual the
 * candidates are evaluated in chunks. */
static void test_fanout(void)
{
    for (int mode = 0; mode < 3; mode++) {
        fix_t f;
        RN_REQUIRE(
            fix_init(&f, mode == 2, mode == 2 ? residual_v_ge_min() : NULL,
                     (rn_lookup_cache_spec_t){.kind = mode ? RN_LOOKUP_CACHE_PARTIAL : RN_LOOKUP_CACHE_NONE,
                                              .max_rows = 10,
                                              .cache_missing_key = true,
                                              .max_retries = -1}));
        f.fake->partial_rows = mode == 1;
        for (int i = 0; i < 10000; i++) fake_add(f.fake, 7, i, "x");
        fake_add(f.fake, 8, 1, "y");
        RN_CHECK_EQ_INT(PUSH(&f, 5000, 8, 7, 9), RN_OK);
        RN_CHECK_EQ_INT(f.c->rows, mode == 2 ? 5000 + 2 : 10001);
        RN_CHECK(f.c->batches >= 10);
        RN_CHECK(f.c->max_batch <= RN_BATCH_MAX);
        if (mode == 1) { /* from the cache the second time */
            int calls = f.fake->calls;
            RN_CHECK_EQ_INT(PUSH(&f, 0, 7), RN_OK);
            RN_CHECK_EQ_INT(f.c->rows, 10000);
            RN_CHECK_EQ_INT(f.fake->calls, calls);
        }
        fix_free(&f);
    }
}

/* RN_ERR_RETRY is retried with backoff; past max-retries the batch fails. */
static void test_retry(void)
{
    fix_t f;
    RN_REQUIRE(
        fix_init(&f, false, NULL, (rn_lookup_cache_spec_t){.kind = RN_LOOKUP_CACHE_NONE, .max_retries = -1}));
    table_abc(f.fake);
    f.fake->fail_retry = 2;
    RN_CHECK_EQ_INT(PUSH(&f, 0, 2), RN_OK); /* 100 + 200 ms of backoff */
    RN_CHECK_EQ_STR(text(&f), "+I(1,2,0,2,20,c)");
    rn_lookup_join_stats_t st;
    rn_lookup_join_stats(f.join, &st);
    RN_CHECK_EQ_INT(st.retries, 2);
    RN_CHECK_EQ_INT(f.fake->calls, 3);
    fix_free(&f);

    RN_REQUIRE(
        fix_init(&f, false, NULL, (rn_lookup_cache_spec_t){.kind = RN_LOOKUP_CACHE_NONE, .max_retries = 1}));
    table_abc(f.fake);
    f.fake->fail_retry = 5;
    RN_CHECK(PUSH(&f, 0, 2) != RN_OK);
    RN_CHECK(strstr(f.errbuf, "connection refused") != NULL);
    RN_CHECK(strstr(f.errbuf, "'t'") != NULL);
    RN_CHECK_EQ_INT(f.fake->calls, 2);
    RN_CHECK_EQ_INT(f.c->rows, 0);
    fix_free(&f);

    /* a FULL load retries too */
    RN_REQUIRE(fix_init(
        &f, false, NULL,
        (rn_lookup_cache_spec_t){.kind = RN_LOOKUP_CACHE_FULL, .reload_ms = 1000, .max_retries = 3}));
    table_abc(f.fake);
    f.fake->fail_retry = 1;
    RN_CHECK_EQ_INT(PUSH(&f, 0, 1), RN_OK);
    RN_CHECK_EQ_INT(f.c->rows, 2);
    fix_free(&f);
}

/* The file-backed table of `runnel test`: lookup() and scan(), a bad
 * line named by its number. */
static void test_file_lookup(void)
{
    char path[] = "/tmp/rn_lookup_XXXXXX";
    int fd = mkstemp(path);
    RN_REQUIRE(fd >= 0);
    const char *lines =
        "{\"tk\":1,\"v\":10,\"s\":\"a\"}\n\n{\"tk\":2,\"v\":20,\"s\":\"c\\\"q\"}\n{\"tk\":1,\"v\":11}\n";
    RN_REQUIRE(write(fd, lines, strlen(lines)) == (ssize_t)strlen(lines));
    close(fd);
    rn_schema_t *ts = schema_of(3, "tk:BIGINT", "v:BIGINT", "s:STRING");
    int key_cols[] = {0};
    rn_lookup_t *l = NULL;
    char err[256];
    RN_REQUIRE(rn_file_lookup_open(path, ts, key_cols, 1, &l, err, sizeof err) == RN_OK);
    rn_arena_t a;
    rn_arena_init(&a, 0);
    rn_schema_t *ks = schema_of(1, "tk:BIGINT");
    rn_batch_t *keys = rn_batch_new(&a, ks, 3);
    keys->cols[0][0] = I(2), keys->cols[0][1] = I(1), keys->cols[0][2] = I(5);
    keys->nrows = 3;
    rn_batch_t *out = rn_batch_new(&a, ts, 2);
    int key_of[8], done = -1;
    RN_CHECK_EQ_INT(l->lookup(l, keys, out, key_of, &done, &a, err, sizeof err), RN_OK);
    RN_CHECK_EQ_INT(done, 1); /* key 1's two rows do not fit after key 2's */
    RN_CHECK_EQ_INT(out->nrows, 1);
    RN_CHECK(out->cols[2][0].len == 3 && !memcmp(out->cols[2][0].s, "c\"q", 3));
    out = rn_batch_new(&a, ts, 8);
    RN_CHECK_EQ_INT(l->lookup(l, keys, out, key_of, &done, &a, err, sizeof err), RN_OK);
    RN_CHECK_EQ_INT(done, 3);
    RN_CHECK_EQ_INT(out->nrows, 3);
    RN_CHECK(key_of[1] == 1 && key_of[2] == 1 && out->cols[2][2].null);
    RN_CHECK(out->cols[1][1].i == 10 && out->cols[1][2].i == 11); /* in file order */
    out = rn_batch_new(&a, ts, 2);
    int64_t cursor = 0;
    bool fin = false;
    RN_CHECK_EQ_INT(l->scan(l, out, &cursor, &fin, &a, err, sizeof err), RN_OK);
    RN_CHECK(!fin && out->nrows == 2);
    out->nrows = 0;
    RN_CHECK_EQ_INT(l->scan(l, out, &cursor, &fin, &a, err, sizeof err), RN_OK);
    RN_CHECK(fin && out->nrows == 1);
    l->close(l);
    FILE *fp = fopen(path, "a");
    fputs("{\"tk\": \"not a number\"}\n", fp);
    fclose(fp);
    RN_CHECK(rn_file_lookup_open(path, ts, key_cols, 1, &l, err, sizeof err) == RN_ERR_DECODE);
    RN_CHECK(strstr(err, ":5:") != NULL);
    unlink(path);
    RN_CHECK(rn_file_lookup_open(path, ts, key_cols, 1, &l, err, sizeof err) == RN_ERR_IO);
    rn_schema_unref(ks);
    rn_schema_unref(ts);
    rn_arena_free(&a);
}

int main(void)
{
    rn_arena_init(&exprs, 0);
    RN_RUN(test_inner_batched);
    RN_RUN(test_left_and_residual);
    RN_RUN(test_kinds);
    RN_RUN(test_partial_cache);
    RN_RUN(test_full_cache);
    RN_RUN(test_fanout);
    RN_RUN(test_retry);
    RN_RUN(test_file_lookup);
    rn_arena_free(&exprs);
    return rn_test_summary();
}
