/*
 * test_join.c - unit tests for the regular join operator (op/join.h),
 * driven directly: two do-nothing feeders are its left (port 0) and right
 * (port 1) inputs, batches are emitted from them through the edges
 * rn_join_new made, and a capturing operator downstream records the
 * changelog. Covers each join kind on hand-written cases (NULL keys,
 * duplicates, a residual rejecting pairs, NULL-padding coming and going,
 * change kinds), large keys (output split into batches, residual evaluated
 * in chunks), a randomized comparison of the applied changelog against a
 * brute-force join of the live rows after every batch (every kind, with
 * and without a residual, updating inputs with retractions of rows never
 * held), snapshot/restore (a restored join continues exactly as one that
 * never stopped; every truncation and a foreign plan are refused),
 * allocation failures, window-end cleanup, state TTL, forgetting revoked
 * partitions, explain and state size. Snapshots by partition
 * (test_partition_snapshots): a random changelog with watermarks (with
 * and without window_end columns) cut by four snapshots, one per
 * partition; restored all into one fresh join, it emits exactly what the
 * original emits, restored each into its own join fed its partition's
 * rows, they hold only that partition's keys and together emit the same
 * rows; a join holding partitions 0 and 1 live takes 2 and 3 and emits
 * exactly the original's rows too; a key held already, every truncation
 * and allocation failures are refused and leave the join as it was.
 */
#include "core/mem.h"
#include "op/join.h"
#include "rn_test.h"
#include "rn_test_rows.h"
#include "state/store.h"

#include <stdarg.h>
#include <stdint.h>

/* ---- helpers ------------------------------------------------------------ */

static void add_row(rn_batch_t *b, rn_rowkind_t kind, const rn_value_t *vals)
{
    int r = b->nrows++;
    for (int c = 0; c < b->schema->ncols; c++) b->cols[c][r] = vals[c];
    b->kinds[r] = (uint8_t)kind;
}
#define ROW(b, kind, ...) add_row((b), (kind), (rn_value_t[]){__VA_ARGS__})

static rn_err_t feeder_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx) { return RN_OK; }
static const rn_op_vtable_t feeder_vt = {.kind = "Feeder", .process = feeder_process};

/* The capture: each row as text "+I(1,10,a,null,null,null)", and the
 * multiset of rows the changelog amounts to. */
#define MS_MAX 4096
typedef struct capture {
    rn_buf_t text;              /* rows separated by spaces */
    int rows;
    int batches;
    int nset;                   /* multiset entries */
    char *set[MS_MAX];          /* row text without the kind (owned) */
    int count[MS_MAX];          /* its multiplicity */
    int negative;               /* retractions of rows the multiset did not hold */
    bool noset;                 /* keep the text only */
} capture_t;

static void format_row(rn_buf_t *out, const rn_batch_t *b, int r)
{
    rn_buf_appendc(out, '(');
    for (int col = 0; col < b->schema->ncols; col++) {
        if (col) rn_buf_appendc(out, ',');
        const rn_value_t *v = &b->cols[col][r];
        if (v->null) rn_buf_appends(out, "null");
        else if (b->schema->cols[col].type->id == RN_TYPE_STRING) rn_buf_append(out, v->s, v->len);
        else rn_buf_append_i64(out, v->i);
    }
    rn_buf_appendc(out, ')');
}

static int ms_find(capture_t *c, const char *row, bool add)
{
    for (int i = 0; i < c->nset; i++)
        if (!strcmp(c->set[i], row)) return i;
    if (!add || c->nset == MS_MAX) return -1;
    c->set[c->nset] = strdup(row);
    c->count[c->nset] = 0;
    return c->nset++;
}

static rn_err_t capture_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    capture_t *c = op->priv;
    c->batches++;
    RN_CHECK(b->nrows <= RN_BATCH_MAX && b->rowtime == NULL && b->rowwm == NULL);
    rn_buf_t one;
    rn_buf_init(&one);
    for (int r = 0; r < b->nrows; r++) {
        rn_rowkind_t k = (rn_rowkind_t)b->kinds[r];
        if (c->text.len) rn_buf_appendc(&c->text, ' ');
        rn_buf_appends(&c->text, rn_rowkind_str(k));
        format_row(&c->text, b, r);
        c->rows++;
        if (c->noset) continue;
        rn_buf_clear(&one);
        format_row(&one, b, r);
        int i = ms_find(c, one.data, true);
        if (i < 0) continue;
        c->count[i] += rn_rowkind_is_retract(k) ? -1 : 1;
        if (c->count[i] < 0) c->negative++;
        if (c->count[i] == 0) { /* gone: keep the set small */
            free(c->set[i]);
            c->nset--;
            c->set[i] = c->set[c->nset];
            c->count[i] = c->count[c->nset];
        }
    }
    rn_buf_free(&one);
    return RN_OK;
}
static void capture_destroy(rn_op_t *op)
{
    capture_t *c = op->priv;
    rn_buf_free(&c->text);
    for (int i = 0; i < c->nset; i++) free(c->set[i]);
    free(c);
}
static const rn_op_vtable_t capture_vt = {.kind = "Capture", .process = capture_process, .destroy = capture_destroy};

static rn_op_t *capture_new(rn_op_t *upstream)
{
    rn_op_t *op = rn_op_new(&capture_vt, upstream->schema, upstream);
    capture_t *c = calloc(1, sizeof *c);
    rn_buf_init(&c->text);
    op->priv = c;
    rn_op_connect(upstream, op, 0);
    return op;
}

static char taken[1 << 14];
static const char *take(rn_op_t *cap)
{
    capture_t *c = cap->priv;
    snprintf(taken, sizeof taken, "%s", c->text.data ? c->text.data : "");
    rn_buf_clear(&c->text);
    return taken;
}

/* The fixture: left (k INT, v INT, s STRING), right (k INT, w INT, t
 * STRING), joined on k; output k, v, s, rk, w, t. */
static rn_arena_t exprs; /* residual nodes */

typedef struct jfix {
    rn_arena_t arena;
    rn_ctx_t ctx;
    char errbuf[256];
    rn_schema_t *ls, *rs, *out;
    rn_op_t *lf, *rf;           /* feeders */
    rn_op_t *join;
    rn_op_t *cap;               /* NULL when not wanted */
} jfix_t;

static rn_expr_t *col_expr(int col, const rn_type_t *t)
{
    rn_expr_t *e = rn_arena_calloc(&exprs, 1, sizeof *e);
    e->kind = RN_EXPR_COLUMN;
    e->type = t;
    e->col = col;
    return e;
}

/* The residual v <= w over the output row, v and w of type t. */
static const rn_expr_t *residual_v_le_w_typed(const rn_type_t *t)
{
    rn_expr_t *e = rn_arena_calloc(&exprs, 1, sizeof *e);
    e->kind = RN_EXPR_FUNC;
    e->type = &rn_type_boolean;
    e->fn = RN_FN_LE;
    e->nargs = 2;
    e->args = rn_arena_alloc(&exprs, 2 * sizeof(rn_expr_t *));
    e->args[0] = col_expr(1, t);
    e->args[1] = col_expr(4, t);
    return e;
}

static const rn_expr_t *residual_v_le_w(void) { return residual_v_le_w_typed(&rn_type_int); }

/* The fixture with v and w BIGINT (bigv), so that they can be window_end
 * columns, or INT. */
static void jfix_base_typed(jfix_t *f, bool lupd, bool rupd, bool bigv)
{
    memset(f, 0, sizeof *f);
    rn_arena_init(&f->arena, 0);
    f->ctx.arena = &f->arena;
    f->ctx.errbuf = f->errbuf;
    f->ctx.errbuf_size = sizeof f->errbuf;
    f->ls = schema_of(3, "k:INT", bigv ? "v:BIGINT" : "v:INT", "s:STRING");
    f->rs = schema_of(3, "k:INT", bigv ? "w:BIGINT" : "w:INT", "t:STRING");
    f->out = schema_of(6, "k:INT", bigv ? "v:BIGINT" : "v:INT", "s:STRING", "rk:INT", bigv ? "w:BIGINT" : "w:INT",
                       "t:STRING");
    f->lf = rn_op_new(&feeder_vt, f->ls, NULL);
    f->rf = rn_op_new(&feeder_vt, f->rs, NULL);
    f->lf->updating = lupd;
    f->rf->updating = rupd;
}

static void jfix_base(jfix_t *f, bool lupd, bool rupd) { jfix_base_typed(f, lupd, rupd, false); }

static rn_op_t *jfix_join(jfix_t *f, rn_join_kind kind, const rn_expr_t *residual)
{
    static const int lk[] = {0}, rk[] = {0};
    rn_join_spec_t spec = {.kind = kind, .nkeys = 1, .left_keys = lk, .right_keys = rk, .residual = residual};
    return rn_join_new(f->lf, f->rf, &spec, f->out, f->errbuf, sizeof f->errbuf);
}

static bool jfix_init(jfix_t *f, rn_join_kind kind, const rn_expr_t *residual, bool lupd, bool rupd)
{
    jfix_base(f, lupd, rupd);
    f->join = jfix_join(f, kind, residual);
    if (!f->join) return false;
    f->cap = capture_new(f->join);
    return true;
}

static rn_batch_t *jfix_batch(jfix_t *f, int port, int cap)
{
    rn_arena_reset(&f->arena);
    return rn_batch_new(&f->arena, port ? f->rs : f->ls, cap);
}

/* Emits b from the feeder of port (through the join's edge). */
static rn_err_t jfix_push(jfix_t *f, int port, rn_batch_t *b) { return rn_op_emit(port ? f->rf : f->lf, b, &f->ctx); }

static void jfix_free(jfix_t *f)
{
    rn_op_free(f->cap);
    rn_op_free(f->join);
    rn_op_free(f->lf);
    rn_op_free(f->rf);
    rn_schema_unref(f->ls);
    rn_schema_unref(f->rs);
    rn_schema_unref(f->out);
    rn_arena_free(&f->arena);
}

/* Pushes one row on port and returns what the join emitted. */
static const char *one(jfix_t *f, int port, rn_rowkind_t kind, rn_value_t k, rn_value_t x, const char *s)
{
    rn_batch_t *b = jfix_batch(f, port, 4);
    ROW(b, kind, k, x, s ? S(s) : N);
    RN_CHECK_EQ_INT(jfix_push(f, port, b), RN_OK);
    return take(f->cap);
}

/* ---- hand-written cases --------------------------------------------------- */

static void test_inner_join(void)
{
    jfix_t f;
    RN_REQUIRE(jfix_init(&f, RN_JOIN_KIND_INNER, NULL, false, false));
    RN_CHECK(!f.join->updating);
    RN_CHECK(f.join->inputs[0].op == f.lf && f.join->inputs[1].op == f.rf && f.join->ninputs == 2);
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), I(10), "a"), "");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, N, I(11), "n"), ""); /* NULL key: never matches */
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(1), I(5), "x"), "+I(1,10,a,1,5,x)");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, N, I(6), "y"), "");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(2), I(7), "z"), "");
    /* a duplicate joins once more; both instances are held */
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), I(10), "a"), "+I(1,10,a,1,5,x)");
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 0), 2); /* the NULL-keyed row is not kept on an inner side */
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 1), 2);
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_DELETE, I(1), I(5), "x"), "-D(1,10,a,1,5,x) -D(1,10,a,1,5,x)");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(2), I(3), "b"), "+I(2,3,b,2,7,z)");
    /* a batch of several rows, strings not NUL-terminated and from the arena */
    rn_batch_t *b = jfix_batch(&f, 1, 8);
    char *t = rn_arena_strndup(&f.arena, "q1q2", 4);
    ROW(b, RN_ROW_INSERT, I(1), I(8), rn_value_str(t, 2));
    ROW(b, RN_ROW_INSERT, I(2), I(9), rn_value_str(t + 2, 2));
    RN_CHECK_EQ_INT(jfix_push(&f, 1, b), RN_OK);
    rn_arena_reset(&f.arena); /* the join keeps its own copies */
    RN_CHECK_EQ_STR(take(f.cap), "+I(1,10,a,1,8,q1) +I(1,10,a,1,8,q1) +I(2,3,b,2,9,q2)");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), I(1), "c"), "+I(1,1,c,1,8,q1)");
    RN_CHECK_EQ_INT(rn_join_ignored_retractions(f.join), 0);
    jfix_free(&f);
}

static void test_left_join_padding(void)
{
    jfix_t f;
    RN_REQUIRE(jfix_init(&f, RN_JOIN_KIND_LEFT, NULL, false, true));
    RN_CHECK(f.join->updating);
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), I(10), "a"), "+I(1,10,a,null,null,null)");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(1), I(5), "x"), "-D(1,10,a,null,null,null) +I(1,10,a,1,5,x)");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(1), I(6), "y"), "+I(1,10,a,1,6,y)");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_DELETE, I(1), I(5), "x"), "-D(1,10,a,1,5,x)");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_DELETE, I(1), I(6), "y"), "-D(1,10,a,1,6,y) +I(1,10,a,null,null,null)");
    /* the right side is not outer: an unmatched right row emits nothing */
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(3), I(1), "r"), "");
    /* NULL key on the outer side: padded in, padded out */
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, N, I(1), "n"), "+I(null,1,n,null,null,null)");
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 0), 2);
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_DELETE, N, I(1), "n"), "-D(null,1,n,null,null,null)");
    /* a duplicate left row: each instance padded, both unpadded by one partner */
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), I(10), "a"), "+I(1,10,a,null,null,null)");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(1), I(7), "z"),
                    "-D(1,10,a,null,null,null) -D(1,10,a,null,null,null) +I(1,10,a,1,7,z) +I(1,10,a,1,7,z)");
    /* retracting one left instance retracts its pair only */
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_DELETE, I(1), I(10), "a"), "-D(1,10,a,1,7,z)");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_UPDATE_BEFORE, I(1), I(7), "z"), "-U(1,10,a,1,7,z) +I(1,10,a,null,null,null)");
    /* retraction of a row not held: ignored, counted */
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_DELETE, I(1), I(7), "z"), "");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_DELETE, I(9), I(9), "q"), "");
    RN_CHECK_EQ_INT(rn_join_ignored_retractions(f.join), 2);
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 0), 1);
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 1), 1);
    jfix_free(&f);
}

static void test_right_and_full_join(void)
{
    jfix_t f;
    RN_REQUIRE(jfix_init(&f, RN_JOIN_KIND_RIGHT, NULL, false, false));
    RN_CHECK(f.join->updating);
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), I(10), "a"), "");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(2), I(5), "x"), "+I(null,null,null,2,5,x)");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(1), I(6), "y"), "+I(1,10,a,1,6,y)");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(2), I(3), "b"), "-D(null,null,null,2,5,x) +I(2,3,b,2,5,x)");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_DELETE, I(1), I(10), "a"), "-D(1,10,a,1,6,y) +I(null,null,null,1,6,y)");
    jfix_free(&f);

    RN_REQUIRE(jfix_init(&f, RN_JOIN_KIND_FULL, NULL, false, false));
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), I(10), "a"), "+I(1,10,a,null,null,null)");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, N, I(4), "n"), "+I(null,null,null,null,4,n)");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(1), I(5), "x"), "-D(1,10,a,null,null,null) +I(1,10,a,1,5,x)");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), I(11), "b"), "+I(1,11,b,1,5,x)");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_DELETE, I(1), I(10), "a"), "-D(1,10,a,1,5,x)");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_DELETE, I(1), I(11), "b"), "-D(1,11,b,1,5,x) +I(null,null,null,1,5,x)");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_DELETE, I(1), I(5), "x"), "-D(null,null,null,1,5,x)");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_DELETE, N, I(4), "n"), "-D(null,null,null,null,4,n)");
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 0) + rn_join_rows(f.join, 1), 0);
    size_t keys = 99;
    f.join->vt->state_size(f.join, &keys);
    RN_CHECK_EQ_INT(keys, 0);
    jfix_free(&f);
}

/* A residual decides which same-key pairs match; kinds follow the input. */
static void test_residual_and_kinds(void)
{
    jfix_t f;
    RN_REQUIRE(jfix_init(&f, RN_JOIN_KIND_LEFT, residual_v_le_w(), true, false));
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(1), I(5), "x"), "");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(1), I(20), "y"), "");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), I(10), "a"), "+I(1,10,a,1,20,y)");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), I(30), "b"), "+I(1,30,b,null,null,null)");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), N, "c"), "+I(1,null,c,null,null,null)"); /* NULL residual */
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_UPDATE_BEFORE, I(1), I(10), "a"), "-U(1,10,a,1,20,y)");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_UPDATE_AFTER, I(1), I(3), "a"), "+U(1,3,a,1,5,x) +U(1,3,a,1,20,y)");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_UPDATE_BEFORE, I(1), I(30), "b"), "-U(1,30,b,null,null,null)");
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_UPDATE_AFTER, I(1), I(15), "b"), "+U(1,15,b,1,20,y)");
    rn_buf_t ex;
    rn_buf_init(&ex);
    rn_op_explain(f.join, &ex);
    RN_CHECK_EQ_STR(strtok(ex.data, "\n"), "Join: LEFT [k = rk], residual (v <= w)  [changelog]");
    rn_buf_free(&ex);
    jfix_free(&f);
}

/* A key with more partners than a batch holds: output split into full
 * batches, the residual evaluated chunk by chunk, runs of rows bounded. */
static void test_large_key(void)
{
    jfix_t f;
    for (int withres = 0; withres < 2; withres++) {
        RN_REQUIRE(jfix_init(&f, RN_JOIN_KIND_INNER, withres ? residual_v_le_w() : NULL, false, false));
        ((capture_t *)f.cap->priv)->noset = true;
        rn_batch_t *b = jfix_batch(&f, 1, 1500);
        for (int i = 0; i < 1500; i++) ROW(b, RN_ROW_INSERT, I(1), I(i), S(i % 2 ? "odd" : "even"));
        RN_CHECK_EQ_INT(jfix_push(&f, 1, b), RN_OK);
        capture_t *c = f.cap->priv;
        RN_CHECK_EQ_INT(c->rows, 0);
        one(&f, 0, RN_ROW_INSERT, I(1), I(750), "a");
        RN_CHECK_EQ_INT(c->rows, withres ? 750 : 1500);
        RN_CHECK_EQ_INT(c->batches, withres ? 1 : 2);
        /* 60 rows x 1500 candidates: more than one run of rows */
        c->rows = c->batches = 0;
        b = jfix_batch(&f, 0, 60);
        for (int i = 0; i < 60; i++) ROW(b, RN_ROW_INSERT, I(1), I(i), S("m"));
        RN_CHECK_EQ_INT(jfix_push(&f, 0, b), RN_OK);
        int want = 0;
        for (int i = 0; i < 60; i++) want += withres ? 1500 - i : 1500;
        RN_CHECK_EQ_INT(c->rows, want);
        RN_CHECK_EQ_INT(c->batches, (want + RN_BATCH_MAX - 1) / RN_BATCH_MAX);
        int ok = 1, seen = 0;
        for (char *tok = strtok(c->text.data, " "); tok; tok = strtok(NULL, " "), seen++) {
            int v, w;
            char s[16], t[16];
            if (sscanf(tok, "+I(1,%d,%15[^,],1,%d,%15[^)])", &v, s, &w, t) != 4) ok = 0;
            else if (strcmp(s, "m") || strcmp(t, w % 2 ? "odd" : "even") || (withres && v > w)) ok = 0;
        }
        RN_CHECK(ok);
        RN_CHECK_EQ_INT(seen, want);
        rn_buf_clear(&c->text);
        jfix_free(&f);
    }
}

/* A key whose rows come and go: removed rows' bytes are compacted away
 * and the survivors keep their values. */
static void test_bucket_compaction(void)
{
    jfix_t f;
    RN_REQUIRE(jfix_init(&f, RN_JOIN_KIND_INNER, NULL, false, true));
    char s[64];
    for (int round = 0; round < 3; round++) {
        rn_batch_t *b = jfix_batch(&f, 1, 64);
        for (int i = 0; i < 50; i++) {
            snprintf(s, sizeof s, "row %d of round %d, long enough to matter", i, round);
            char *c = rn_arena_strndup(&f.arena, s, strlen(s));
            ROW(b, RN_ROW_INSERT, I(1), I(round * 100 + i), rn_value_str(c, (uint32_t)strlen(c)));
        }
        RN_CHECK_EQ_INT(jfix_push(&f, 1, b), RN_OK);
        b = jfix_batch(&f, 1, 64);
        for (int i = 0; i < 50; i++) {
            if (i % 10 == 3) continue; /* five of them stay */
            snprintf(s, sizeof s, "row %d of round %d, long enough to matter", i, round);
            char *c = rn_arena_strndup(&f.arena, s, strlen(s));
            ROW(b, RN_ROW_DELETE, I(1), I(round * 100 + i), rn_value_str(c, (uint32_t)strlen(c)));
        }
        RN_CHECK_EQ_INT(jfix_push(&f, 1, b), RN_OK);
    }
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 1), 15);
    size_t keys;
    size_t bytes = f.join->vt->state_size(f.join, &keys);
    RN_CHECK_EQ_INT(keys, 1);
    RN_CHECK(bytes > 0);
    one(&f, 0, RN_ROW_INSERT, I(1), I(0), "l");
    capture_t *c = f.cap->priv;
    RN_CHECK_EQ_INT(c->rows, 15);
    int found = 0;
    for (int round = 0; round < 3; round++)
        for (int i = 3; i < 50; i += 10) {
            snprintf(s, sizeof s, "(1,0,l,1,%d,row %d of round %d, long enough to matter)", round * 100 + i, i, round);
            int k = ms_find(c, s, false);
            found += k >= 0 && c->count[k] == 1;
        }
    RN_CHECK_EQ_INT(found, 15);
    jfix_free(&f);
}

static void test_constructor_checks(void)
{
    jfix_t f;
    jfix_base(&f, false, false);
    int lk[] = {0}, bad[] = {3}, str[] = {2};
    rn_join_spec_t spec = {.kind = RN_JOIN_KIND_INNER, .nkeys = 1, .left_keys = lk, .right_keys = bad};
    RN_CHECK(rn_join_new(f.lf, f.rf, &spec, f.out, f.errbuf, sizeof f.errbuf) == NULL);
    spec.right_keys = str;
    RN_CHECK(rn_join_new(f.lf, f.rf, &spec, f.out, f.errbuf, sizeof f.errbuf) == NULL);
    RN_CHECK(strstr(f.errbuf, "key types differ") != NULL);
    spec.right_keys = lk;
    RN_CHECK(rn_join_new(f.lf, f.rf, &spec, f.ls, f.errbuf, sizeof f.errbuf) == NULL);
    RN_CHECK_EQ_INT(f.lf->noutputs + f.rf->noutputs, 0); /* no edge left behind */
    /* no keys: every pair is a candidate */
    spec.nkeys = 0;
    f.join = rn_join_new(f.lf, f.rf, &spec, f.out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(f.join != NULL);
    f.cap = capture_new(f.join);
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), I(10), "a"), "");
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, N, I(5), "x"), "+I(1,10,a,null,5,x)");
    /* TTL and window end only before the first batch */
    RN_CHECK(!rn_join_set_ttl(f.join, 1000));
    RN_CHECK(!rn_join_set_window_end(f.join, 0, 0));
    jfix_free(&f);
}

/* ---- randomized comparison with a brute-force join ------------------------ */

typedef struct mrow {
    int k, x, s;                /* key and value (-1: NULL), string index (-1: NULL) */
} mrow_t;

static const char *rstrs[] = {"", "a", "bb", "a somewhat longer string value"};

typedef struct model {
    mrow_t live[2][512];        /* live rows per side (one entry per instance) */
    int n[2];
} model_t;

static unsigned rseed;
static unsigned rnd(unsigned n)
{
    rseed = rseed * 1103515245u + 12345u;
    return (rseed >> 16) % n;
}

static bool mrow_eq(const mrow_t *a, const mrow_t *b) { return a->k == b->k && a->x == b->x && a->s == b->s; }

static mrow_t mrow_random(void)
{
    mrow_t r = {.k = rnd(6) == 0 ? -1 : (int)rnd(4), .x = rnd(8) == 0 ? -1 : (int)rnd(6), .s = (int)rnd(5) - 1};
    return r;
}

/* One generated change. */
typedef struct mchange {
    int port;
    rn_rowkind_t kind;
    mrow_t row;
} mchange_t;

/* Generates a batch of changes for one side and applies it to the model. */
static int gen_batch(model_t *m, mchange_t *out)
{
    int port = (int)rnd(2), nrows = 1 + (int)rnd(4);
    for (int i = 0; i < nrows; i++) {
        mchange_t *c = &out[i];
        c->port = port;
        unsigned what = rnd(100);
        if (what < 55 || m->n[port] == 0) {
            c->kind = rnd(2) ? RN_ROW_INSERT : RN_ROW_UPDATE_AFTER;
            c->row = mrow_random();
            if (m->n[port] < 512) m->live[port][m->n[port]++] = c->row;
            else c->kind = RN_ROW_DELETE, c->row.k = 99; /* full: a retraction of nothing */
            continue;
        }
        c->kind = rnd(2) ? RN_ROW_DELETE : RN_ROW_UPDATE_BEFORE;
        c->row = what < 95 ? m->live[port][rnd((unsigned)m->n[port])] : mrow_random();
        for (int j = 0; j < m->n[port]; j++)
            if (mrow_eq(&m->live[port][j], &c->row)) {
                m->live[port][j] = m->live[port][--m->n[port]];
                break;
            }
    }
    return nrows;
}

static void push_changes(jfix_t *f, const mchange_t *ch, int n, rn_err_t *err)
{
    rn_batch_t *b = jfix_batch(f, ch[0].port, n);
    for (int i = 0; i < n; i++) {
        const mrow_t *r = &ch[i].row;
        ROW(b, ch[i].kind, r->k < 0 ? N : I(r->k), r->x < 0 ? N : I(r->x), r->s < 0 ? N : S(rstrs[r->s]));
    }
    *err = jfix_push(f, ch[0].port, b);
}

static void mfmt(char *buf, size_t size, const mrow_t *l, const mrow_t *r)
{
    char parts[6][40];
    const mrow_t *rows[2] = {l, r};
    for (int s = 0; s < 2; s++) {
        const mrow_t *x = rows[s];
        if (!x) {
            for (int c = 0; c < 3; c++) strcpy(parts[s * 3 + c], "null");
            continue;
        }
        if (x->k < 0) strcpy(parts[s * 3], "null");
        else snprintf(parts[s * 3], 40, "%d", x->k);
        if (x->x < 0) strcpy(parts[s * 3 + 1], "null");
        else snprintf(parts[s * 3 + 1], 40, "%d", x->x);
        snprintf(parts[s * 3 + 2], 40, "%s", x->s < 0 ? "null" : rstrs[x->s]);
    }
    snprintf(buf, size, "(%s,%s,%s,%s,%s,%s)", parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]);
}

static bool mmatch(const mrow_t *l, const mrow_t *r, bool residual)
{
    if (l->k < 0 || r->k < 0 || l->k != r->k) return false;
    return !residual || (l->x >= 0 && r->x >= 0 && l->x <= r->x);
}

/* Whether the capture's multiset is exactly the brute-force join of the
 * model's live rows. */
static bool check_against_model(const capture_t *cap, const model_t *m, rn_join_kind kind, bool residual)
{
    capture_t want;
    memset(&want, 0, sizeof want);
    char buf[320];
    bool louter = kind == RN_JOIN_KIND_LEFT || kind == RN_JOIN_KIND_FULL;
    bool router = kind == RN_JOIN_KIND_RIGHT || kind == RN_JOIN_KIND_FULL;
    for (int i = 0; i < m->n[0]; i++) {
        int matches = 0;
        for (int j = 0; j < m->n[1]; j++) {
            if (!mmatch(&m->live[0][i], &m->live[1][j], residual)) continue;
            matches++;
            mfmt(buf, sizeof buf, &m->live[0][i], &m->live[1][j]);
            want.count[ms_find(&want, buf, true)]++;
        }
        if (!matches && louter) {
            mfmt(buf, sizeof buf, &m->live[0][i], NULL);
            want.count[ms_find(&want, buf, true)]++;
        }
    }
    for (int j = 0; router && j < m->n[1]; j++) {
        int matches = 0;
        for (int i = 0; i < m->n[0]; i++) matches += mmatch(&m->live[0][i], &m->live[1][j], residual);
        if (!matches) {
            mfmt(buf, sizeof buf, NULL, &m->live[1][j]);
            want.count[ms_find(&want, buf, true)]++;
        }
    }
    bool ok = cap->negative == 0;
    for (int i = 0; i < cap->nset && ok; i++) {
        int w = ms_find(&want, cap->set[i], false);
        int wc = w >= 0 ? want.count[w] : 0;
        if (wc != cap->count[i]) {
            fprintf(stderr, "row %s: got %d, want %d\n", cap->set[i], cap->count[i], wc);
            ok = false;
        }
    }
    for (int i = 0; i < want.nset && ok; i++) {
        capture_t *c = (capture_t *)cap;
        if (want.count[i] && ms_find(c, want.set[i], false) < 0) {
            fprintf(stderr, "row %s missing (want %d)\n", want.set[i], want.count[i]);
            ok = false;
        }
    }
    for (int i = 0; i < want.nset; i++) free(want.set[i]);
    return ok;
}

static int held_rows(const model_t *m, int port, rn_join_kind kind)
{
    bool outer = kind == RN_JOIN_KIND_FULL || kind == (port ? RN_JOIN_KIND_RIGHT : RN_JOIN_KIND_LEFT);
    int n = 0;
    for (int i = 0; i < m->n[port]; i++) n += outer || m->live[port][i].k >= 0;
    return n;
}

static void test_random_vs_brute_force(void)
{
    int failures = 0, compared = 0;
    for (int kind = RN_JOIN_KIND_INNER; kind <= RN_JOIN_KIND_FULL; kind++) {
        for (int res = 0; res < 2; res++) {
            for (unsigned seed = 1; seed <= 6; seed++) {
                rseed = seed * 7919u + (unsigned)kind * 31u + (unsigned)res;
                jfix_t f;
                /* An input flagged insert-only has its rows appended without
                 * merging equal ones; its retractions must still work. */
                RN_REQUIRE(jfix_init(&f, (rn_join_kind)kind, res ? residual_v_le_w() : NULL, seed % 2, seed % 3 != 0));
                model_t *m = calloc(1, sizeof *m);
                int bad = 0;
                for (int step = 0; step < 250 && !bad; step++) {
                    mchange_t ch[8];
                    int n = gen_batch(m, ch);
                    rn_err_t err;
                    push_changes(&f, ch, n, &err);
                    RN_CHECK_EQ_INT(err, RN_OK);
                    take(f.cap);
                    compared++;
                    if (!check_against_model(f.cap->priv, m, (rn_join_kind)kind, res)) {
                        fprintf(stderr, "kind %d residual %d seed %u step %d differs\n", kind, res, seed, step);
                        bad = 1;
                    }
                    if ((int)rn_join_rows(f.join, 0) != held_rows(m, 0, (rn_join_kind)kind) ||
                        (int)rn_join_rows(f.join, 1) != held_rows(m, 1, (rn_join_kind)kind)) {
                        fprintf(stderr, "kind %d seed %u step %d: rows held differ\n", kind, seed, step);
                        bad = 1;
                    }
                }
                failures += bad;
                free(m);
                jfix_free(&f);
            }
        }
    }
    RN_CHECK_EQ_INT(failures, 0);
    RN_CHECK(compared > 10000);
}

/* ---- snapshot and restore ------------------------------------------------------ */

/* Runs the same random changelog into an uninterrupted join and, from
 * batch `cut` on, into a fresh join restored from the first one's
 * snapshot; returns the batches whose output differed. With ttl, the
 * processing time moves 7 ms per batch. */
static int restore_run(rn_join_kind kind, bool residual, unsigned seed, int cut, int64_t ttl)
{
    jfix_t a, b;
    const rn_expr_t *res = residual ? residual_v_le_w() : NULL;
    bool lupd = seed % 2, rupd = seed % 3 != 0;
    if (!jfix_init(&a, kind, res, lupd, rupd) || !jfix_init(&b, kind, res, lupd, rupd)) return 1;
    if (ttl) {
        RN_CHECK(rn_join_set_ttl(a.join, ttl));
        RN_CHECK(rn_join_set_ttl(b.join, ttl));
    }
    model_t *m = calloc(1, sizeof *m);
    rseed = seed;
    int differ = 0;
    char got[1 << 14];
    for (int batch = 0; batch < 200; batch++) {
        a.ctx.now_ms = b.ctx.now_ms = batch * 7;
        if (batch == cut) {
            rn_buf_t snap;
            rn_buf_init(&snap);
            RN_CHECK_EQ_INT(a.join->vt->snapshot(a.join, &snap, NULL), RN_OK);
            RN_CHECK_EQ_INT(b.join->vt->restore(b.join, snap.data, snap.len), RN_OK);
            /* again: every key is held already; refused, nothing changes */
            RN_CHECK_EQ_INT(b.join->vt->restore(b.join, snap.data, snap.len), RN_ERR_DECODE);
            RN_CHECK_EQ_INT(rn_join_rows(a.join, 0), rn_join_rows(b.join, 0));
            RN_CHECK_EQ_INT(rn_join_rows(a.join, 1), rn_join_rows(b.join, 1));
            rn_buf_t again;
            rn_buf_init(&again);
            RN_CHECK_EQ_INT(b.join->vt->snapshot(b.join, &again, NULL), RN_OK);
            RN_CHECK_EQ_INT(again.len, snap.len);
            rn_buf_free(&again);
            rn_buf_free(&snap);
        }
        mchange_t ch[8];
        int n = gen_batch(m, ch);
        rn_err_t err;
        push_changes(&a, ch, n, &err);
        RN_CHECK_EQ_INT(err, RN_OK);
        snprintf(got, sizeof got, "%s", take(a.cap));
        if (batch < cut) continue;
        push_changes(&b, ch, n, &err);
        RN_CHECK_EQ_INT(err, RN_OK);
        const char *want = take(b.cap);
        if (strcmp(got, want) != 0) {
            if (differ++ < 3) fprintf(stderr, "batch %d:\n  original %s\n  restored %s\n", batch, got, want);
        }
    }
    if (rn_join_rows(a.join, 0) != rn_join_rows(b.join, 0)) differ++;
    if (!ttl && !check_against_model(a.cap->priv, m, kind, residual)) differ++;
    free(m);
    jfix_free(&a);
    jfix_free(&b);
    return differ;
}

static void test_snapshot_restore(void)
{
    int differ = 0;
    for (int kind = RN_JOIN_KIND_INNER; kind <= RN_JOIN_KIND_FULL; kind++)
        for (unsigned seed = 1; seed <= 3; seed++) {
            differ += restore_run((rn_join_kind)kind, seed % 2, seed * 104729u + (unsigned)kind, 20 + 40 * (int)seed, 0);
            differ += restore_run((rn_join_kind)kind, seed % 2, seed * 15485863u + (unsigned)kind, 60, 150);
        }
    RN_CHECK_EQ_INT(differ, 0);
}

/* A populated LEFT join with a residual and its snapshot. */
static void populated(jfix_t *f, rn_buf_t *snap, int64_t ttl)
{
    RN_REQUIRE(jfix_init(f, RN_JOIN_KIND_FULL, residual_v_le_w(), true, true));
    if (ttl) RN_CHECK(rn_join_set_ttl(f->join, ttl));
    model_t *m = calloc(1, sizeof *m);
    rseed = 4242;
    for (int batch = 0; batch < 40; batch++) {
        mchange_t ch[8];
        int n = gen_batch(m, ch);
        rn_err_t err;
        push_changes(f, ch, n, &err);
        RN_CHECK_EQ_INT(err, RN_OK);
    }
    take(f->cap);
    free(m);
    rn_buf_init(snap);
    RN_CHECK_EQ_INT(f->join->vt->snapshot(f->join, snap, NULL), RN_OK);
}

/* Every truncation, and damaged or foreign snapshots, fail with
 * RN_ERR_DECODE and leave the join empty and usable. */
static void test_snapshot_rejects_damage(void)
{
    for (int ttl = 0; ttl < 2; ttl++) {
        jfix_t a, b;
        rn_buf_t snap;
        populated(&a, &snap, ttl ? 500 : 0);
        RN_REQUIRE(snap.len > 100);
        RN_REQUIRE(jfix_init(&b, RN_JOIN_KIND_FULL, residual_v_le_w(), true, true));
        if (ttl) RN_CHECK(rn_join_set_ttl(b.join, 500));
        int bad = 0;
        for (size_t len = 0; len < snap.len; len++) {
            unsigned char *copy = malloc(len ? len : 1); /* exactly len bytes: ASan sees overreads */
            memcpy(copy, snap.data, len);
            rn_err_t err = b.join->vt->restore(b.join, copy, len);
            free(copy);
            size_t keys = 1;
            b.join->vt->state_size(b.join, &keys);
            if (err != RN_ERR_DECODE || rn_join_rows(b.join, 0) || rn_join_rows(b.join, 1) || keys) {
                if (bad++ < 3) fprintf(stderr, "length %zu: restore gave %d\n", len, (int)err);
            }
        }
        RN_CHECK_EQ_INT(bad, 0);
        /* a trailing byte */
        rn_buf_t longer;
        rn_buf_init(&longer);
        rn_buf_append(&longer, snap.data, snap.len);
        rn_buf_appendc(&longer, 0);
        RN_CHECK_EQ_INT(b.join->vt->restore(b.join, longer.data, longer.len), RN_ERR_DECODE);
        rn_buf_free(&longer);
        /* flipped bytes fail clean or restore something consistent */
        for (size_t i = 0; i < snap.len; i++) {
            unsigned char *copy = malloc(snap.len);
            memcpy(copy, snap.data, snap.len);
            copy[i] ^= 0x5a;
            jfix_t c;
            RN_REQUIRE(jfix_init(&c, RN_JOIN_KIND_FULL, residual_v_le_w(), true, true));
            if (ttl) rn_join_set_ttl(c.join, 500);
            rn_err_t err = c.join->vt->restore(c.join, copy, snap.len);
            RN_CHECK(err == RN_OK || err == RN_ERR_DECODE);
            if (err != RN_OK) RN_CHECK_EQ_INT(rn_join_rows(c.join, 0) + rn_join_rows(c.join, 1), 0);
            free(copy);
            jfix_free(&c);
        }
        /* a join of another plan refuses it */
        jfix_t other;
        RN_REQUIRE(jfix_init(&other, RN_JOIN_KIND_LEFT, residual_v_le_w(), true, true));
        if (ttl) rn_join_set_ttl(other.join, 500);
        RN_CHECK_EQ_INT(other.join->vt->restore(other.join, snap.data, snap.len), RN_ERR_DECODE);
        jfix_free(&other);
        RN_REQUIRE(jfix_init(&other, RN_JOIN_KIND_FULL, residual_v_le_w(), true, true));
        if (!ttl) rn_join_set_ttl(other.join, 500);
        RN_CHECK_EQ_INT(other.join->vt->restore(other.join, snap.data, snap.len), RN_ERR_DECODE);
        jfix_free(&other);
        /* the intact snapshot still restores, and holds what the original holds */
        RN_CHECK_EQ_INT(b.join->vt->restore(b.join, snap.data, snap.len), RN_OK);
        RN_CHECK_EQ_INT(rn_join_rows(b.join, 0), rn_join_rows(a.join, 0));
        RN_CHECK_EQ_INT(rn_join_rows(b.join, 1), rn_join_rows(a.join, 1));
        RN_CHECK(rn_join_rows(a.join, 0) > 0 && rn_join_rows(a.join, 1) > 0);
        rn_buf_free(&snap);
        jfix_free(&a);
        jfix_free(&b);
    }
}

/* ---- allocation failures ---------------------------------------------------------- */

/* Building and running a join under failing allocations fails with
 * RN_ERR_NOMEM (ASan checks nothing leaks) until enough succeed. */
static void test_allocation_failures(void)
{
    bool completed = false;
    for (long fail = 0; fail < 20000 && !completed; fail++) {
        jfix_t f;
        jfix_base(&f, true, true);
        rseed = 99;
        model_t *m = calloc(1, sizeof *m);
        mchange_t ch[30][8];
        int nch[30];
        for (int i = 0; i < 30; i++) nch[i] = gen_batch(m, ch[i]);
        rn_arena_alloc(&f.arena, 1); /* the arena's chunk exists before failures start */
        rn_mem_fail_after(fail);
        f.join = jfix_join(&f, RN_JOIN_KIND_FULL, residual_v_le_w());
        rn_err_t err = f.join ? RN_OK : RN_ERR_NOMEM;
        if (f.join) RN_CHECK(f.lf->noutputs == 1 && f.rf->noutputs == 1);
        else RN_CHECK(f.lf->noutputs == 0 && f.rf->noutputs == 0);
        for (int i = 0; i < 30 && err == RN_OK; i++) push_changes(&f, ch[i], nch[i], &err);
        rn_buf_t snap;
        rn_buf_init(&snap);
        if (err == RN_OK) err = f.join->vt->snapshot(f.join, &snap, NULL);
        rn_mem_fail_after(-1);
        RN_CHECK(err == RN_OK || err == RN_ERR_NOMEM);
        completed = err == RN_OK;
        if (completed) {
            /* restore under failing allocations: NOMEM and empty, until it works */
            bool restored = false;
            for (long rf = 0; rf < 1000 && !restored; rf++) {
                jfix_t g;
                jfix_base(&g, true, true);
                g.join = jfix_join(&g, RN_JOIN_KIND_FULL, residual_v_le_w());
                RN_REQUIRE(g.join != NULL);
                rn_mem_fail_after(rf);
                rn_err_t e = g.join->vt->restore(g.join, snap.data, snap.len);
                rn_mem_fail_after(-1);
                RN_CHECK(e == RN_OK || e == RN_ERR_NOMEM);
                if (e != RN_OK) RN_CHECK_EQ_INT(rn_join_rows(g.join, 0) + rn_join_rows(g.join, 1), 0);
                restored = e == RN_OK;
                if (restored) RN_CHECK_EQ_INT(rn_join_rows(g.join, 0), rn_join_rows(f.join, 0));
                jfix_free(&g);
            }
            RN_CHECK(restored);
        }
        rn_buf_free(&snap);
        free(m);
        jfix_free(&f);
    }
    RN_CHECK(completed);
}

/* ---- window-end cleanup, TTL, forgetting partitions --------------------------------------- */

static void test_window_end_cleanup(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    char errbuf[256];
    rn_ctx_t ctx = {.arena = &arena, .errbuf = errbuf, .errbuf_size = sizeof errbuf};
    rn_schema_t *ls = schema_of(2, "k:BIGINT", "we:TIMESTAMP"), *rs = schema_of(2, "k:BIGINT", "we:TIMESTAMP");
    rn_schema_t *out = schema_of(4, "k:BIGINT", "we:TIMESTAMP", "rk:BIGINT", "rwe:TIMESTAMP");
    rn_op_t *lf = rn_op_new(&feeder_vt, ls, NULL), *rf = rn_op_new(&feeder_vt, rs, NULL);
    int keys[] = {0, 1};
    rn_join_spec_t spec = {.kind = RN_JOIN_KIND_FULL, .nkeys = 2, .left_keys = keys, .right_keys = keys};
    rn_op_t *j = rn_join_new(lf, rf, &spec, out, errbuf, sizeof errbuf);
    RN_REQUIRE(j != NULL);
    RN_CHECK(!rn_join_set_window_end(j, 0, 5));
    RN_CHECK(rn_join_set_window_end(j, 1, 1));
    rn_op_t *cap = capture_new(j);
    rn_batch_t *b = rn_batch_new(&arena, ls, 4);
    ROW(b, RN_ROW_INSERT, I(1), I(1000));
    ROW(b, RN_ROW_INSERT, I(2), I(2000));
    RN_CHECK_EQ_INT(rn_op_emit(lf, b, &ctx), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(1,1000,null,null) +I(2,2000,null,null)");
    b = rn_batch_new(&arena, rs, 4);
    ROW(b, RN_ROW_INSERT, I(2), I(2000));
    RN_CHECK_EQ_INT(rn_op_emit(rf, b, &ctx), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-D(2,2000,null,null) +I(2,2000,2,2000)");
    /* the watermark of one input alone moves nothing */
    RN_CHECK_EQ_INT(rn_op_watermark(lf, 1500, &ctx), RN_OK);
    RN_CHECK_EQ_INT(rn_join_rows(j, 0), 2);
    RN_CHECK_EQ_INT(rn_op_watermark(rf, 1000, &ctx), RN_OK);
    RN_CHECK_EQ_INT(rn_join_rows(j, 0), 1); /* window_end 1000 <= 1000: dropped silently */
    RN_CHECK_EQ_STR(take(cap), "");
    RN_CHECK_EQ_INT(cap->watermark, 1000); /* forwarded */
    /* a late row (window_end <= watermark) is dropped */
    b = rn_batch_new(&arena, rs, 4);
    ROW(b, RN_ROW_INSERT, I(1), I(1000));
    RN_CHECK_EQ_INT(rn_op_emit(rf, b, &ctx), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "");
    RN_CHECK_EQ_INT(rn_join_rows(j, 1), 1);
    RN_CHECK_EQ_INT(rn_op_watermark(rf, 2500, &ctx), RN_OK);
    RN_CHECK_EQ_INT(rn_join_rows(j, 0) + rn_join_rows(j, 1), 2); /* the join's watermark is the left one's, 1500 */
    RN_CHECK_EQ_INT(rn_op_watermark(lf, 2000, &ctx), RN_OK);
    RN_CHECK_EQ_INT(rn_join_rows(j, 0) + rn_join_rows(j, 1), 0);
    size_t nkeys = 1;
    j->vt->state_size(j, &nkeys);
    RN_CHECK_EQ_INT(nkeys, 0);
    RN_CHECK_EQ_STR(take(cap), "");
    rn_buf_t ex;
    rn_buf_init(&ex);
    j->vt->explain(j, &ex);
    RN_CHECK_EQ_STR(ex.data, "FULL [k = rk, we = rwe], drops windows [we, rwe] at the watermark");
    rn_buf_free(&ex);
    rn_op_free(cap);
    rn_op_free(j);
    rn_op_free(lf);
    rn_op_free(rf);
    rn_schema_unref(ls);
    rn_schema_unref(rs);
    rn_schema_unref(out);
    rn_arena_free(&arena);
}

static void test_state_ttl(void)
{
    jfix_t f;
    RN_REQUIRE(jfix_init(&f, RN_JOIN_KIND_INNER, NULL, false, false));
    RN_CHECK(!rn_join_set_ttl(f.join, 0));
    RN_CHECK(rn_join_set_ttl(f.join, 100));
    f.ctx.now_ms = 0;
    RN_CHECK_EQ_STR(one(&f, 0, RN_ROW_INSERT, I(1), I(10), "a"), "");
    f.ctx.now_ms = 50;
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(1), I(5), "x"), "+I(1,10,a,1,5,x)"); /* a probe is an access */
    f.ctx.now_ms = 140;
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(1), I(6), "y"), "+I(1,10,a,1,6,y)");
    f.ctx.now_ms = 300;
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(1), I(7), "z"), ""); /* left key expired silently */
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 0), 0);
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 1), 1); /* the right ones of 50 and 140 were swept, z is new */
    /* many keys expire by the sweep of a later batch, without being looked up */
    rn_batch_t *b = jfix_batch(&f, 0, 40);
    for (int i = 0; i < 40; i++) ROW(b, RN_ROW_INSERT, I(100 + i), I(i), S("k"));
    RN_CHECK_EQ_INT(jfix_push(&f, 0, b), RN_OK);
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 0), 40);
    f.ctx.now_ms = 1000;
    RN_CHECK_EQ_STR(one(&f, 1, RN_ROW_INSERT, I(7), I(7), "u"), "");
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 0), 0);
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 1), 1);
    /* the processing time alone (a watermark call) sweeps too */
    f.ctx.now_ms = 2000;
    RN_CHECK_EQ_INT(rn_op_watermark(f.lf, 5, &f.ctx), RN_OK);
    RN_CHECK_EQ_INT(rn_op_watermark(f.rf, 5, &f.ctx), RN_OK);
    RN_CHECK_EQ_INT(rn_join_rows(f.join, 1), 0);
    rn_buf_t ex;
    rn_buf_init(&ex);
    f.join->vt->explain(f.join, &ex);
    RN_CHECK_EQ_STR(ex.data, "INNER [k = rk], state ttl 100 ms");
    rn_buf_free(&ex);
    jfix_free(&f);
}

static int32_t key_part(const mrow_t *r, int32_t nparts)
{
    rn_buf_t b;
    rn_buf_init(&b);
    rn_value_t k = r->k < 0 ? N : I(r->k);
    rn_key_append(&b, RN_TYPE_INT, &k);
    int32_t p = rn_key_partition(b.data, (uint32_t)b.len, nparts);
    rn_buf_free(&b);
    return p;
}

/* After forgetting revoked partitions a join behaves exactly like one that
 * never saw their keys. */
static void test_forget_partitions(void)
{
    int differ = 0, dropped = 0;
    for (int kind = RN_JOIN_KIND_INNER; kind <= RN_JOIN_KIND_FULL; kind++) {
        for (unsigned seed = 1; seed <= 3; seed++) {
            jfix_t all, kept;
            RN_REQUIRE(jfix_init(&all, (rn_join_kind)kind, residual_v_le_w(), true, true));
            RN_REQUIRE(jfix_init(&kept, (rn_join_kind)kind, residual_v_le_w(), true, true));
            model_t *m = calloc(1, sizeof *m);
            rseed = seed * 31337u + (unsigned)kind;
            int32_t nparts = 4;
            uint8_t revoked[4] = {0, 1, 0, 1}, none[4] = {0};
            for (int batch = 0; batch < 150; batch++) {
                mchange_t ch[8], kc[8];
                int n = gen_batch(m, ch), nk = 0;
                rn_err_t err;
                if (batch == 75) {
                    size_t before = rn_join_rows(all.join, 0) + rn_join_rows(all.join, 1);
                    RN_CHECK_EQ_INT(all.join->vt->forget_partitions(all.join, nparts, none), RN_OK);
                    RN_CHECK_EQ_INT(rn_join_rows(all.join, 0) + rn_join_rows(all.join, 1), before);
                    rn_mem_fail_after(0); /* forgetting allocates nothing */
                    RN_CHECK_EQ_INT(rn_op_forget_partitions(all.lf, nparts, revoked), RN_OK);
                    rn_mem_fail_after(-1);
                    dropped += (int)(before - rn_join_rows(all.join, 0) - rn_join_rows(all.join, 1));
                    RN_CHECK_EQ_INT(rn_join_rows(all.join, 0), rn_join_rows(kept.join, 0));
                    RN_CHECK_EQ_INT(rn_join_rows(all.join, 1), rn_join_rows(kept.join, 1));
                }
                for (int i = 0; i < n; i++)
                    if (batch >= 75 || !revoked[key_part(&ch[i].row, nparts)]) kc[nk++] = ch[i];
                push_changes(&all, ch, n, &err);
                RN_CHECK_EQ_INT(err, RN_OK);
                if (nk) {
                    push_changes(&kept, kc, nk, &err);
                    RN_CHECK_EQ_INT(err, RN_OK);
                }
                char got[1 << 14];
                snprintf(got, sizeof got, "%s", take(all.cap));
                const char *want = take(kept.cap);
                if (batch >= 75 && strcmp(got, want) != 0 && differ++ < 3)
                    fprintf(stderr, "batch %d:\n  got  %s\n  want %s\n", batch, got, want);
            }
            free(m);
            jfix_free(&all);
            jfix_free(&kept);
        }
    }
    RN_CHECK_EQ_INT(differ, 0);
    RN_CHECK(dropped > 0);
}

/* ---- snapshots by partition and merging restores -------------------------------------- */

#define NPARTS 4

/* jfix_init with v and w BIGINT when wend, and then window_end columns. */
static bool jfix_init_wend(jfix_t *f, rn_join_kind kind, const rn_expr_t *residual, bool lupd, bool rupd, bool wend)
{
    jfix_base_typed(f, lupd, rupd, wend);
    f->join = jfix_join(f, kind, residual);
    if (!f->join || (wend && !rn_join_set_window_end(f->join, 1, 1))) return false;
    f->cap = capture_new(f->join);
    return true;
}

/* The rows of a capture's text ("+I(..) -D(..)"), sorted, one a line
 * (malloc'ed): outputs that may interleave keys otherwise. */
static char *sorted_rows(const char *text)
{
    size_t n = strlen(text), nr = 0;
    const char **rows = malloc(sizeof *rows * (n + 1));
    size_t *lens = malloc(sizeof *lens * (n + 1));
    for (size_t i = 0, start = 0; i <= n; i++) {
        bool end = i == n || (text[i] == ' ' && i + 3 < n && (text[i + 1] == '+' || text[i + 1] == '-') &&
                              strchr("IUD", text[i + 2]) && text[i + 3] == '(');
        if (!end) continue;
        if (i > start) {
            rows[nr] = text + start;
            lens[nr++] = i - start;
        }
        start = i + 1;
    }
    for (size_t i = 1; i < nr; i++) /* insertion sort: a batch's few rows */
        for (size_t k = i; k > 0; k--) {
            size_t l = lens[k - 1] < lens[k] ? lens[k - 1] : lens[k];
            int c = memcmp(rows[k - 1], rows[k], l);
            if (c < 0 || (c == 0 && lens[k - 1] <= lens[k])) break;
            const char *t = rows[k];
            rows[k] = rows[k - 1];
            rows[k - 1] = t;
            size_t tl = lens[k];
            lens[k] = lens[k - 1];
            lens[k - 1] = tl;
        }
    rn_buf_t b;
    rn_buf_init(&b);
    for (size_t i = 0; i < nr; i++) {
        rn_buf_append(&b, rows[i], lens[i]);
        rn_buf_appendc(&b, '\n');
    }
    free(rows);
    free(lens);
    char *out = strdup(b.data ? b.data : "");
    rn_buf_free(&b);
    return out;
}

static size_t join_keys(const rn_op_t *join)
{
    size_t keys = 0;
    join->vt->state_size(join, &keys);
    return keys;
}

static size_t join_all_rows(const rn_op_t *join) { return rn_join_rows(join, 0) + rn_join_rows(join, 1); }

/* Pushes the changes of ch[0..n) whose key falls in a partition marked in
 * take[] (NULL: all of them), if any. */
static void push_some(jfix_t *f, const mchange_t *ch, int n, const uint8_t *take, rn_err_t *err)
{
    mchange_t kc[8];
    int nk = 0;
    for (int i = 0; i < n; i++)
        if (!take || take[key_part(&ch[i].row, NPARTS)]) kc[nk++] = ch[i];
    *err = RN_OK;
    if (nk) push_changes(f, kc, nk, err);
}

static void feed_wm(jfix_t *f, int64_t wm)
{
    RN_CHECK_EQ_INT(rn_op_watermark(f->lf, wm, &f->ctx), RN_OK);
    RN_CHECK_EQ_INT(rn_op_watermark(f->rf, wm, &f->ctx), RN_OK);
}

/* One random changelog with watermarks into: the original a; from batch
 * cut on, m (a fresh join restored from a's four snapshots by partition)
 * and per[p] (each restored from one of them and fed only its
 * partition's rows); x, fed only partitions 0 and 1 from the start, then
 * given the snapshots of 2 and 3 and everything after. m and x must emit
 * exactly what a emits, the per[p] together the same rows. Also: refused
 * restores (a key held already, truncations, allocation failures) leave a
 * join holding other partitions as it was. Returns the failures. */
static int partition_run(rn_join_kind kind, bool residual, bool wend, unsigned seed, int cut)
{
    const rn_expr_t *res = residual ? residual_v_le_w_typed(wend ? &rn_type_bigint : &rn_type_int) : NULL;
    bool lupd = seed % 2, rupd = seed % 3 != 0;
    jfix_t a, m, x, per[NPARTS];
    bool built = jfix_init_wend(&a, kind, res, lupd, rupd, wend) && jfix_init_wend(&m, kind, res, lupd, rupd, wend) &&
                 jfix_init_wend(&x, kind, res, lupd, rupd, wend);
    for (int p = 0; p < NPARTS; p++) built = built && jfix_init_wend(&per[p], kind, res, lupd, rupd, wend);
    RN_CHECK(built);
    if (!built) return 1; /* (and leaks: the run has failed) */
    static const uint8_t first_two[NPARTS] = {1, 1, 0, 0};
    model_t *mdl = calloc(1, sizeof *mdl);
    rn_buf_t snaps[NPARTS];
    rseed = seed;
    int differ = 0;
    size_t rows3 = 0, keys3 = 0; /* what partition 3's snapshot holds */
    char got[1 << 14];
    for (int batch = 0; batch < 200; batch++) {
        if (batch == cut) {
            uint8_t none[NPARTS] = {0};
            rn_part_filter_t nofilter = {NPARTS, none};
            rn_buf_t empty, fresh;
            rn_buf_init(&empty);
            rn_buf_init(&fresh);
            RN_CHECK_EQ_INT(a.join->vt->snapshot(a.join, &empty, &nofilter), RN_OK);
            RN_CHECK_EQ_INT(m.join->vt->snapshot(m.join, &fresh, NULL), RN_OK);
            RN_CHECK_EQ_INT(empty.len, fresh.len); /* no partition marked: no key */
            rn_buf_free(&empty);
            rn_buf_free(&fresh);
            for (int p = 0; p < NPARTS; p++) {
                uint8_t mark[NPARTS] = {0};
                mark[p] = 1;
                rn_part_filter_t filter = {NPARTS, mark};
                rn_buf_init(&snaps[p]);
                RN_CHECK_EQ_INT(a.join->vt->snapshot(a.join, &snaps[p], &filter), RN_OK);
            }
            static const int order[NPARTS] = {2, 0, 3, 1};
            for (int i = 0; i < NPARTS; i++)
                RN_CHECK_EQ_INT(m.join->vt->restore(m.join, snaps[order[i]].data, snaps[order[i]].len), RN_OK);
            RN_CHECK_EQ_INT(rn_join_rows(m.join, 0), rn_join_rows(a.join, 0));
            RN_CHECK_EQ_INT(rn_join_rows(m.join, 1), rn_join_rows(a.join, 1));
            RN_CHECK_EQ_INT(join_keys(m.join), join_keys(a.join));
            RN_CHECK_EQ_INT(m.join->watermark, a.join->watermark);
            /* each snapshot carries the operator's counts: a merge keeps
             * the largest, not the sum of the sections */
            RN_CHECK_EQ_INT(rn_join_ignored_retractions(m.join), rn_join_ignored_retractions(a.join));
            size_t rows[2] = {0, 0}, keys = 0;
            for (int p = 0; p < NPARTS; p++) {
                RN_CHECK_EQ_INT(per[p].join->vt->restore(per[p].join, snaps[p].data, snaps[p].len), RN_OK);
                rows[0] += rn_join_rows(per[p].join, 0);
                rows[1] += rn_join_rows(per[p].join, 1);
                keys += join_keys(per[p].join);
            }
            RN_CHECK_EQ_INT(rows[0], rn_join_rows(a.join, 0));
            RN_CHECK_EQ_INT(rows[1], rn_join_rows(a.join, 1));
            RN_CHECK_EQ_INT(keys, join_keys(a.join));
            rows3 = join_all_rows(per[3].join);
            keys3 = join_keys(per[3].join);
            /* x holds partitions 0 and 1 live; it takes 2 and 3 */
            for (int p = 2; p < NPARTS; p++)
                RN_CHECK_EQ_INT(x.join->vt->restore(x.join, snaps[p].data, snaps[p].len), RN_OK);
            RN_CHECK_EQ_INT(rn_join_rows(x.join, 0), rn_join_rows(a.join, 0));
            RN_CHECK_EQ_INT(rn_join_rows(x.join, 1), rn_join_rows(a.join, 1));
            /* a key held already: refused, nothing changes; the whole
             * snapshot into per[p] fails at one of p's keys, after others
             * were added, which go again */
            size_t mrows = join_all_rows(m.join), mkeys = join_keys(m.join);
            RN_CHECK_EQ_INT(m.join->vt->restore(m.join, snaps[0].data, snaps[0].len),
                            join_keys(per[0].join) ? RN_ERR_DECODE : RN_OK);
            RN_CHECK_EQ_INT(join_all_rows(m.join), mrows);
            RN_CHECK_EQ_INT(join_keys(m.join), mkeys);
            rn_buf_t full;
            rn_buf_init(&full);
            RN_CHECK_EQ_INT(a.join->vt->snapshot(a.join, &full, NULL), RN_OK);
            for (int p = 0; p < NPARTS; p++) {
                size_t prows = join_all_rows(per[p].join), pkeys = join_keys(per[p].join);
                if (!pkeys) continue;
                RN_CHECK_EQ_INT(per[p].join->vt->restore(per[p].join, full.data, full.len), RN_ERR_DECODE);
                RN_CHECK_EQ_INT(join_all_rows(per[p].join), prows);
                RN_CHECK_EQ_INT(join_keys(per[p].join), pkeys);
            }
            rn_buf_free(&full);
            /* every truncation of partition 3's snapshot into per[0]: refused, unchanged */
            size_t prows = join_all_rows(per[0].join), pkeys = join_keys(per[0].join);
            int bad = 0;
            for (size_t len = 0; len < snaps[3].len; len++) {
                unsigned char *copy = malloc(len ? len : 1); /* exactly len bytes: ASan sees overreads */
                memcpy(copy, snaps[3].data, len);
                rn_err_t err = per[0].join->vt->restore(per[0].join, copy, len);
                free(copy);
                if (err != RN_ERR_DECODE || join_all_rows(per[0].join) != prows || join_keys(per[0].join) != pkeys)
                    if (bad++ < 3) fprintf(stderr, "length %zu: restore gave %d\n", len, (int)err);
            }
            RN_CHECK_EQ_INT(bad, 0);
        }
        if (batch % 10 == 9) {
            int64_t wm = batch / 40;
            feed_wm(&a, wm);
            feed_wm(&x, wm);
            if (batch >= cut) {
                feed_wm(&m, wm);
                for (int p = 0; p < NPARTS; p++) feed_wm(&per[p], wm);
            }
        }
        mchange_t ch[8];
        int n = gen_batch(mdl, ch);
        rn_err_t err;
        push_changes(&a, ch, n, &err);
        RN_CHECK_EQ_INT(err, RN_OK);
        snprintf(got, sizeof got, "%s", take(a.cap));
        push_some(&x, ch, n, batch < cut ? first_two : NULL, &err);
        RN_CHECK_EQ_INT(err, RN_OK);
        const char *xgot = take(x.cap);
        if (batch < cut) continue;
        if (strcmp(got, xgot) != 0 && differ++ < 3)
            fprintf(stderr, "batch %d:\n  original %s\n  x        %s\n", batch, got, xgot);
        push_changes(&m, ch, n, &err);
        RN_CHECK_EQ_INT(err, RN_OK);
        const char *mgot = take(m.cap);
        if (strcmp(got, mgot) != 0 && differ++ < 3)
            fprintf(stderr, "batch %d:\n  original %s\n  merged   %s\n", batch, got, mgot);
        rn_buf_t all;
        rn_buf_init(&all);
        for (int p = 0; p < NPARTS; p++) {
            uint8_t mark[NPARTS] = {0};
            mark[p] = 1;
            push_some(&per[p], ch, n, mark, &err);
            RN_CHECK_EQ_INT(err, RN_OK);
            const char *pgot = take(per[p].cap);
            if (*pgot && all.len) rn_buf_appendc(&all, ' ');
            rn_buf_appends(&all, pgot);
        }
        char *want = sorted_rows(got), *have = sorted_rows(all.data ? all.data : "");
        if (strcmp(want, have) != 0 && differ++ < 3)
            fprintf(stderr, "batch %d:\n  original %s\n  per partition %s\n", batch, want, have);
        free(want);
        free(have);
        rn_buf_free(&all);
    }
    RN_CHECK_EQ_INT(rn_join_rows(m.join, 0), rn_join_rows(a.join, 0));
    RN_CHECK_EQ_INT(rn_join_rows(m.join, 1), rn_join_rows(a.join, 1));
    /* a restore into a join holding other keys under failing allocations:
     * RN_ERR_NOMEM and unchanged, until it works */
    size_t prows = join_all_rows(per[0].join), pkeys = join_keys(per[0].join);
    bool restored = false;
    for (long rf = 0; rf < 1000 && !restored; rf++) {
        rn_mem_fail_after(rf);
        rn_err_t e = per[0].join->vt->restore(per[0].join, snaps[3].data, snaps[3].len);
        rn_mem_fail_after(-1);
        RN_CHECK(e == RN_OK || e == RN_ERR_NOMEM);
        restored = e == RN_OK;
        if (!restored) {
            RN_CHECK_EQ_INT(join_all_rows(per[0].join), prows);
            RN_CHECK_EQ_INT(join_keys(per[0].join), pkeys);
        }
    }
    RN_CHECK(restored);
    RN_CHECK_EQ_INT(join_all_rows(per[0].join), prows + rows3);
    RN_CHECK_EQ_INT(join_keys(per[0].join), pkeys + keys3);
    /* each per-partition join holds only its partition's keys (and per[0]
     * now partition 3's of the cut as well) */
    for (int p = 0; p < NPARTS; p++) {
        uint8_t mark[NPARTS] = {0};
        mark[p] = 1;
        if (p == 0) mark[3] = 1;
        RN_CHECK_EQ_INT(per[p].join->vt->forget_partitions(per[p].join, NPARTS, mark), RN_OK);
        RN_CHECK_EQ_INT(join_all_rows(per[p].join), 0);
        RN_CHECK_EQ_INT(join_keys(per[p].join), 0);
        rn_buf_free(&snaps[p]);
        jfix_free(&per[p]);
    }
    free(mdl);
    jfix_free(&a);
    jfix_free(&m);
    jfix_free(&x);
    return differ;
}

static void test_partition_snapshots(void)
{
    int differ = 0;
    for (int kind = RN_JOIN_KIND_INNER; kind <= RN_JOIN_KIND_FULL; kind++)
        for (unsigned seed = 1; seed <= 4; seed++)
            differ += partition_run((rn_join_kind)kind, seed % 2 == 0, seed > 2, seed * 7001u + (unsigned)kind,
                                    30 + 35 * (int)seed);
    RN_CHECK_EQ_INT(differ, 0);
}

int main(void)
{
    rn_arena_init(&exprs, 0);
    RN_RUN(test_inner_join);
    RN_RUN(test_left_join_padding);
    RN_RUN(test_right_and_full_join);
    RN_RUN(test_residual_and_kinds);
    RN_RUN(test_large_key);
    RN_RUN(test_bucket_compaction);
    RN_RUN(test_constructor_checks);
    RN_RUN(test_random_vs_brute_force);
    RN_RUN(test_snapshot_restore);
    RN_RUN(test_snapshot_rejects_damage);
    RN_RUN(test_allocation_failures);
    RN_RUN(test_window_end_cleanup);
    RN_RUN(test_state_ttl);
    RN_RUN(test_forget_partitions);
    RN_RUN(test_partition_snapshots);
    rn_arena_free(&exprs);
    return rn_test_summary();
}
