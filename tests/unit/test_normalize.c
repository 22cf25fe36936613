/*
 * test_normalize.c - unit tests of ChangelogNormalize (op/normalize.h),
 * driven directly as test_ops.c drives the other operators: hand-built
 * batches of upserts (+I) and deletes (-D) go in, a capturing operator
 * records what comes out.
 *
 * The randomized test plays sequences of upserts, repeated rows,
 * tombstones of known and unknown keys and ignored -U rows against a
 * model (key -> current row): the output must be exactly the changelog
 * the model predicts, and applying it to an empty table must give the
 * model's table. Snapshot/restore: an operator restored mid-stream
 * continues exactly as the one that never stopped; damaged snapshots are
 * refused and leave no state. Snapshots split by partition restore, merged
 * or each alone, to exactly the original's keys or one partition's; a
 * failed merge leaves what the operator held. Also: state TTL, forgetting revoked
 * partitions, composite keys in primary-key order, columns a batch does
 * not carry, watermarks, allocation failures.
 */
#include "core/mem.h"
#include "op/normalize.h"
#include "rn_test.h"
#include "rn_test_rows.h"
#include "state/store.h"

#include <stdarg.h>

/* ---- helpers ------------------------------------------------------------ */

static void add_row(rn_batch_t *b, rn_rowkind_t kind, const rn_value_t *vals)
{
    int r = b->nrows++;
    for (int c = 0; c < b->schema->ncols; c++)
        if (b->cols[c]) b->cols[c][r] = vals[c];
    b->kinds[r] = (uint8_t)kind;
}
#define ROW(b, kind, ...) add_row((b), (kind), (rn_value_t[]){__VA_ARGS__})

static rn_err_t feeder_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx) { return RN_OK; }
static const rn_op_vtable_t feeder_vt = {.kind = "Feeder", .process = feeder_process};

/* The capture: each row as text, "+I(1,a,2)", and the watermarks seen. */
typedef struct capture {
    rn_buf_t text;
    int64_t wms[64];            /* rowwm of the first 64 rows, -1 if none */
    int rows;
} capture_t;

static rn_err_t capture_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    capture_t *c = op->priv;
    for (int r = 0; r < b->nrows; r++) {
        if (c->text.len) rn_buf_appendc(&c->text, ' ');
        rn_buf_appends(&c->text, rn_rowkind_str((rn_rowkind_t)b->kinds[r]));
        rn_buf_appendc(&c->text, '(');
        for (int col = 0; col < b->schema->ncols; col++) {
            const rn_value_t *v = &b->cols[col][r];
            if (col) rn_buf_appendc(&c->text, ',');
            if (v->null) rn_buf_appends(&c->text, "null");
            else if (b->schema->cols[col].type->id == RN_TYPE_STRING) rn_buf_append(&c->text, v->s, v->len);
            else if (b->schema->cols[col].type->id == RN_TYPE_DOUBLE) rn_buf_appendf(&c->text, "%g", v->d);
            else rn_buf_append_i64(&c->text, v->i);
        }
        rn_buf_appendc(&c->text, ')');
        if (c->rows < 64) c->wms[c->rows] = b->rowwm ? b->rowwm[r] : -1;
        c->rows++;
    }
    return RN_OK;
}
static void capture_destroy(rn_op_t *op)
{
    capture_t *c = op->priv;
    rn_buf_free(&c->text);
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

/* What the capture saw since the last call, then forgotten (owned by the
 * caller). */
static char *take(rn_op_t *cap)
{
    capture_t *c = cap->priv;
    char *s = strdup(c->text.data ? c->text.data : "");
    rn_buf_clear(&c->text);
    c->rows = 0;
    return s;
}

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
    f->feeder->updating = true; /* an upsert source's scan */
}

static rn_batch_t *fix_batch(fix_t *f, int cap)
{
    rn_arena_reset(&f->arena);
    return rn_batch_new(&f->arena, f->in, cap);
}

static rn_err_t fix_push(fix_t *f, rn_op_t *op, const rn_batch_t *b) { return op->vt->process(op, 0, b, &f->ctx); }

static void fix_free(fix_t *f)
{
    rn_op_free(f->feeder);
    rn_schema_unref(f->in);
    rn_arena_free(&f->arena);
}

static rn_op_t *norm_new(fix_t *f, int npk, const int *pk)
{
    rn_op_t *op = rn_normalize_new(f->feeder, npk, pk, f->errbuf, sizeof f->errbuf);
    if (op) rn_op_connect(f->feeder, op, 0);
    return op;
}

/* ---- the randomized model test ------------------------------------------- */

#define NKEYS 12                /* keys 0..11, and key NKEYS stands for a NULL key */
static const char *const NAMES[] = {"a", "bb", "ccc", NULL};

typedef struct mrow {
    int name;                   /* index into NAMES (3: NULL) */
    int v;                      /* -1: NULL */
} mrow_t;

typedef struct model {
    bool present[NKEYS + 1];
    mrow_t cur[NKEYS + 1];
} model_t;

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33) % n;
}

static void text_row(rn_buf_t *out, const char *kind, int k, mrow_t r)
{
    if (out->len) rn_buf_appendc(out, ' ');
    if (k == NKEYS) rn_buf_appendf(out, "%s(null,", kind);
    else rn_buf_appendf(out, "%s(%d,", kind, k);
    rn_buf_appends(out, NAMES[r.name] ? NAMES[r.name] : "null");
    if (r.v < 0) rn_buf_appends(out, ",null)");
    else rn_buf_appendf(out, ",%d)", r.v);
}

static rn_value_t key_value(int k) { return k == NKEYS ? N : I(k); }

/* Fills b with n random rows and appends to want what the model says the
 * operator emits for them, updating the model. */
static void random_batch(rn_batch_t *b, int n, model_t *m, rn_buf_t *want)
{
    for (int i = 0; i < n; i++) {
        int k = (int)rnd(NKEYS + 1);
        uint32_t what = rnd(10);
        if (what < 2) { /* a tombstone: key only */
            ROW(b, RN_ROW_DELETE, key_value(k), N, N);
            if (m->present[k]) text_row(want, "-D", k, m->cur[k]);
            m->present[k] = false;
            continue;
        }
        if (what == 2) { /* -U rows are ignored */
            ROW(b, RN_ROW_UPDATE_BEFORE, key_value(k), S("zz"), I(99));
            continue;
        }
        mrow_t r = {.name = (int)rnd(4), .v = (int)rnd(4) - 1};
        if (what == 3 && m->present[k]) r = m->cur[k]; /* the same row again */
        ROW(b, what == 4 ? RN_ROW_UPDATE_AFTER : RN_ROW_INSERT, key_value(k),
            NAMES[r.name] ? S(NAMES[r.name]) : N, r.v < 0 ? N : I(r.v));
        if (!m->present[k]) {
            text_row(want, "+I", k, r);
        } else if (m->cur[k].name != r.name || m->cur[k].v != r.v) {
            text_row(want, "-U", k, m->cur[k]);
            text_row(want, "+U", k, r);
        }
        m->present[k] = true;
        m->cur[k] = r;
    }
}

/* Applies the changelog text (rows as capture writes them) to table, the
 * text of each key's current row (NULL: absent); every retraction must
 * name the row held, every insertion an absent key. */
static bool apply_changelog(const char *log, char **table)
{
    char row[128];
    const char *p = log;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len + 1 > sizeof row) return false;
        memcpy(row, p, len);
        row[len] = 0;
        p += len + (end ? 1 : 0);
        int k = !strncmp(row + 3, "null,", 5) ? NKEYS : atoi(row + 3);
        if (k < 0 || k > NKEYS) return false;
        const char *body = row + 2;
        if (row[0] == '+') {
            if (table[k]) return false;
            table[k] = strdup(body);
        } else {
            if (!table[k] || strcmp(table[k], body)) return false;
            free(table[k]);
            table[k] = NULL;
        }
    }
    return true;
}

static void test_normalize_random_against_model(void)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        rng_state = seed;
        fix_t f;
        fix_init(&f, schema_of(3, "id:INT", "name:STRING", "v:BIGINT"));
        int pk[] = {0};
        rn_op_t *op = norm_new(&f, 1, pk);
        RN_REQUIRE(op != NULL);
        RN_CHECK(op->updating);
        rn_op_t *cap = capture_new(op);
        model_t m = {0};
        char *table[NKEYS + 1] = {0};
        rn_buf_t want;
        rn_buf_init(&want);
        for (int batch = 0; batch < 40; batch++) {
            int n = 1 + (int)rnd(40);
            rn_batch_t *b = fix_batch(&f, n);
            rn_buf_clear(&want);
            random_batch(b, n, &m, &want);
            RN_REQUIRE(fix_push(&f, op, b) == RN_OK);
            char *got = take(cap);
            RN_CHECK_EQ_STR(got, want.data ? want.data : "");
            RN_CHECK(apply_changelog(got, table));
            free(got);
        }
        /* the changelog applied to an empty table is the model's table */
        size_t present = 0;
        for (int k = 0; k <= NKEYS; k++) {
            present += m.present[k];
            RN_CHECK(m.present[k] == (table[k] != NULL));
            if (m.present[k] && table[k]) {
                rn_buf_t one;
                rn_buf_init(&one);
                text_row(&one, "+I", k, m.cur[k]);
                RN_CHECK_EQ_STR(table[k], one.data + 2);
                rn_buf_free(&one);
            }
            free(table[k]);
        }
        RN_CHECK_EQ_INT(rn_normalize_keys(op), present);
        size_t keys = 0;
        size_t bytes = op->vt->state_size(op, &keys);
        RN_CHECK_EQ_INT(keys, present);
        RN_CHECK(present == 0 || bytes > 0);
        rn_buf_free(&want);
        rn_op_free(cap);
        rn_op_free(op);
        fix_free(&f);
    }
}

/* ---- hand-written cases --------------------------------------------------- */

static void test_normalize_basic_changelog(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "id:INT", "name:STRING", "v:BIGINT"));
    int pk[] = {0};
    rn_op_t *op = norm_new(&f, 1, pk);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op);
    rn_batch_t *b = fix_batch(&f, 16);
    ROW(b, RN_ROW_INSERT, I(1), S("a"), I(10));
    ROW(b, RN_ROW_INSERT, I(2), S("b"), I(20));
    ROW(b, RN_ROW_INSERT, I(1), S("a"), I(10));   /* the same row: nothing */
    ROW(b, RN_ROW_DELETE, I(7), N, N);            /* unknown key: nothing */
    ROW(b, RN_ROW_INSERT, I(1), S("a2"), I(11));  /* -U old, +U new */
    RN_REQUIRE(fix_push(&f, op, b) == RN_OK);
    char *got = take(cap);
    RN_CHECK_EQ_STR(got, "+I(1,a,10) +I(2,b,20) -U(1,a,10) +U(1,a2,11)");
    free(got);
    /* the stored row is what a later batch retracts (its strings copied
     * out of the state, which the delete frees) */
    b = fix_batch(&f, 16);
    ROW(b, RN_ROW_DELETE, I(1), N, N);
    ROW(b, RN_ROW_DELETE, I(1), N, N); /* gone already */
    ROW(b, RN_ROW_INSERT, I(1), S("c"), N);
    ROW(b, RN_ROW_INSERT, I(2), S("b"), N); /* NULL differs from 20 */
    RN_REQUIRE(fix_push(&f, op, b) == RN_OK);
    got = take(cap);
    RN_CHECK_EQ_STR(got, "-D(1,a2,11) +I(1,c,null) -U(2,b,20) +U(2,b,null)");
    free(got);
    rn_buf_t ex;
    rn_buf_init(&ex);
    rn_op_explain(op, &ex);
    RN_CHECK(strstr(ex.data, "ChangelogNormalize: key [id]") != NULL);
    rn_buf_free(&ex);
    rn_op_free(cap);
    rn_op_free(op);
    fix_free(&f);
}

/* A composite key is taken in primary-key order, not column order; a
 * column the batch does not carry (a column no query reads) is NULL. */
static void test_normalize_composite_key_and_absent_columns(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "a:INT", "s:STRING", "b:STRING"));
    int pk[] = {2, 0};
    rn_op_t *op = norm_new(&f, 2, pk);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op);
    rn_batch_t *b = fix_batch(&f, 8);
    b->cols[1] = NULL; /* not decoded */
    ROW(b, RN_ROW_INSERT, I(1), N, S("x"));
    ROW(b, RN_ROW_INSERT, I(1), N, S("y"));
    ROW(b, RN_ROW_INSERT, I(2), N, S("x"));
    ROW(b, RN_ROW_INSERT, I(1), N, S("x"));
    ROW(b, RN_ROW_DELETE, I(2), N, S("x"));
    RN_REQUIRE(fix_push(&f, op, b) == RN_OK);
    char *got = take(cap);
    RN_CHECK_EQ_STR(got, "+I(1,null,x) +I(1,null,y) +I(2,null,x) -D(2,null,x)");
    free(got);
    RN_CHECK_EQ_INT(rn_normalize_keys(op), 2);
    rn_buf_t ex;
    rn_buf_init(&ex);
    rn_op_explain(op, &ex);
    RN_CHECK(strstr(ex.data, "key [b, a]") != NULL);
    rn_buf_free(&ex);
    RN_CHECK(rn_normalize_new(f.feeder, 0, pk, f.errbuf, sizeof f.errbuf) == NULL);
    int bad[] = {3};
    RN_CHECK(rn_normalize_new(f.feeder, 1, bad, f.errbuf, sizeof f.errbuf) == NULL);
    rn_op_free(cap);
    rn_op_free(op);
    fix_free(&f);
}

/* Output rows carry the watermark of the input row that caused them. */
static void test_normalize_keeps_row_watermarks(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "id:INT", "v:BIGINT"));
    int pk[] = {0};
    rn_op_t *op = norm_new(&f, 1, pk);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op);
    rn_batch_t *b = fix_batch(&f, 4);
    b->rowwm = rn_arena_alloc(&f.arena, sizeof(int64_t) * 4);
    ROW(b, RN_ROW_INSERT, I(1), I(1));
    b->rowwm[0] = 100;
    ROW(b, RN_ROW_INSERT, I(1), I(2));
    b->rowwm[1] = 200;
    RN_REQUIRE(fix_push(&f, op, b) == RN_OK);
    capture_t *c = cap->priv;
    RN_CHECK_EQ_INT(c->rows, 3);
    RN_CHECK_EQ_INT(c->wms[0], 100);
    RN_CHECK_EQ_INT(c->wms[1], 200);
    RN_CHECK_EQ_INT(c->wms[2], 200);
    free(take(cap));
    rn_op_free(cap);
    rn_op_free(op);
    fix_free(&f);
}

static void test_normalize_state_ttl(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "id:INT", "v:BIGINT"));
    int pk[] = {0};
    rn_op_t *op = norm_new(&f, 1, pk);
    RN_REQUIRE(op != NULL);
    RN_CHECK(rn_normalize_set_ttl(op, 1000));
    rn_op_t *cap = capture_new(op);
    f.ctx.now_ms = 10000;
    rn_batch_t *b = fix_batch(&f, 4);
    ROW(b, RN_ROW_INSERT, I(1), I(1));
    ROW(b, RN_ROW_INSERT, I(2), I(2));
    RN_REQUIRE(fix_push(&f, op, b) == RN_OK);
    free(take(cap));
    RN_CHECK(!rn_normalize_set_ttl(op, 5)); /* not once it holds keys */
    f.ctx.now_ms = 10600; /* key 1 written: alive until 11600 */
    b = fix_batch(&f, 4);
    ROW(b, RN_ROW_INSERT, I(1), I(3));
    RN_REQUIRE(fix_push(&f, op, b) == RN_OK);
    char *got = take(cap);
    RN_CHECK_EQ_STR(got, "-U(1,1) +U(1,3)");
    free(got);
    f.ctx.now_ms = 11000; /* key 2 idle for 1000 ms: expired; its delete emits nothing */
    b = fix_batch(&f, 4);
    ROW(b, RN_ROW_DELETE, I(2), N);
    ROW(b, RN_ROW_INSERT, I(1), I(4));
    RN_REQUIRE(fix_push(&f, op, b) == RN_OK);
    got = take(cap);
    RN_CHECK_EQ_STR(got, "-U(1,3) +U(1,4)");
    free(got);
    f.ctx.now_ms = 12500; /* key 1 expired: a new row is +I again */
    b = fix_batch(&f, 4);
    ROW(b, RN_ROW_INSERT, I(1), I(4));
    RN_REQUIRE(fix_push(&f, op, b) == RN_OK);
    got = take(cap);
    RN_CHECK_EQ_STR(got, "+I(1,4)");
    free(got);
    rn_buf_t ex;
    rn_buf_init(&ex);
    rn_op_explain(op, &ex);
    RN_CHECK(strstr(ex.data, "state ttl 1000 ms") != NULL);
    rn_buf_free(&ex);
    rn_op_free(cap);
    rn_op_free(op);
    fix_free(&f);
}

/* Keys of revoked partitions (rn_key_partition of the key bytes) are
 * dropped silently; the others stay. */
static void test_normalize_forget_partitions(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "id:INT", "v:BIGINT"));
    int pk[] = {0};
    rn_op_t *op = norm_new(&f, 1, pk);
    RN_REQUIRE(op != NULL);
    rn_op_t *cap = capture_new(op);
    rn_batch_t *b = fix_batch(&f, 64);
    for (int k = 0; k < 40; k++) ROW(b, RN_ROW_INSERT, I(k), I(1));
    RN_REQUIRE(fix_push(&f, op, b) == RN_OK);
    free(take(cap));
    enum { NP = 4 };
    uint8_t revoked[NP] = {0, 1, 0, 1};
    RN_CHECK_EQ_INT(op->vt->forget_partitions(op, NP, revoked), RN_OK);
    int part[40], kept = 0;
    for (int k = 0; k < 40; k++) {
        rn_buf_t key;
        rn_buf_init(&key);
        rn_value_t v = I(k);
        rn_key_append(&key, RN_TYPE_INT, &v);
        part[k] = rn_key_partition(key.data, (uint32_t)key.len, NP);
        kept += !revoked[part[k]];
        rn_buf_free(&key);
    }
    RN_CHECK(kept > 0 && kept < 40);
    RN_CHECK_EQ_INT(rn_normalize_keys(op), kept);
    b = fix_batch(&f, 64);
    for (int k = 0; k < 40; k++) ROW(b, RN_ROW_INSERT, I(k), I(2));
    RN_REQUIRE(fix_push(&f, op, b) == RN_OK);
    char *got = take(cap);
    rn_buf_t want;
    rn_buf_init(&want);
    for (int k = 0; k < 40; k++) {
        if (want.len) rn_buf_appendc(&want, ' ');
        if (revoked[part[k]]) rn_buf_appendf(&want, "+I(%d,2)", k);
        else rn_buf_appendf(&want, "-U(%d,1) +U(%d,2)", k, k);
    }
    RN_CHECK_EQ_STR(got, want.data);
    free(got);
    rn_buf_free(&want);
    rn_op_free(cap);
    rn_op_free(op);
    fix_free(&f);
}

/* ---- snapshot / restore ----------------------------------------------------- */

/* Plays random batches into a; at batch `cut` snapshots it into a fresh
 * operator b, then feeds every later batch to both: b must emit exactly
 * what a emits (and what the model says). */
static void snapshot_continues(int64_t ttl_ms)
{
    for (uint64_t seed = 1; seed <= 8; seed++) {
        rng_state = seed * 7919;
        fix_t f;
        fix_init(&f, schema_of(3, "id:INT", "name:STRING", "v:BIGINT"));
        int pk[] = {0};
        rn_op_t *a = norm_new(&f, 1, pk);
        RN_REQUIRE(a != NULL);
        if (ttl_ms) RN_CHECK(rn_normalize_set_ttl(a, ttl_ms));
        rn_op_t *capa = capture_new(a);
        model_t m = {0};
        rn_buf_t want;
        rn_buf_init(&want);
        int cut = 5 + (int)rnd(10);
        rn_op_t *b = NULL, *capb = NULL;
        for (int batch = 0; batch < 30; batch++) {
            /* With a TTL of 1 s nothing expires until batch 25, which
             * comes 1 s after batch 15: keys last used before it expire,
             * the others stay, in the restored operator as in the other. */
            f.ctx.now_ms = 1000 + batch * 10;
            if (ttl_ms && batch == 25) f.ctx.now_ms += ttl_ms - 100;
            if (batch == cut) {
                rn_buf_t snap;
                rn_buf_init(&snap);
                RN_REQUIRE(a->vt->snapshot(a, &snap, NULL) == RN_OK);
                b = norm_new(&f, 1, pk);
                RN_REQUIRE(b != NULL);
                if (ttl_ms) RN_CHECK(rn_normalize_set_ttl(b, ttl_ms));
                RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, snap.len), RN_OK);
                RN_CHECK_EQ_INT(rn_normalize_keys(b), rn_normalize_keys(a));
                size_t ka, kb;
                RN_CHECK_EQ_INT(b->vt->state_size(b, &kb) > 0, a->vt->state_size(a, &ka) > 0);
                /* a restored operator snapshots to the same length */
                rn_buf_t again;
                rn_buf_init(&again);
                RN_CHECK(b->vt->snapshot(b, &again, NULL) == RN_OK);
                RN_CHECK_EQ_INT(again.len, snap.len);
                rn_buf_free(&again);
                rn_buf_free(&snap);
                capb = capture_new(b);
            }
            int n = 1 + (int)rnd(30);
            rn_batch_t *in = fix_batch(&f, n);
            rn_buf_clear(&want);
            random_batch(in, n, &m, &want);
            RN_REQUIRE(fix_push(&f, a, in) == RN_OK);
            if (b) RN_REQUIRE(fix_push(&f, b, in) == RN_OK);
            char *ga = take(capa);
            if (!ttl_ms || batch < 25) RN_CHECK_EQ_STR(ga, want.data ? want.data : "");
            if (b) {
                char *gb = take(capb);
                RN_CHECK_EQ_STR(gb, ga);
                free(gb);
            }
            free(ga);
            if (ttl_ms && batch == 25) break; /* the model knows no TTL */
        }
        rn_buf_free(&want);
        if (capb) rn_op_free(capb);
        if (b) rn_op_free(b);
        rn_op_free(capa);
        rn_op_free(a);
        fix_free(&f);
    }
}

static void test_normalize_snapshot_restore(void) { snapshot_continues(0); }
/* With a TTL the snapshot carries each key's last access: after the
 * restore keys expire exactly when they would have. */
static void test_normalize_snapshot_restore_ttl(void) { snapshot_continues(1000); }

static void test_normalize_snapshot_rejects_corrupt(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "id:INT", "name:STRING", "v:BIGINT"));
    int pk[] = {0};
    rn_op_t *a = norm_new(&f, 1, pk);
    RN_REQUIRE(a != NULL);
    rn_batch_t *in = fix_batch(&f, 4);
    ROW(in, RN_ROW_INSERT, I(1), S("abc"), I(5));
    ROW(in, RN_ROW_INSERT, I(2), N, I(6));
    RN_REQUIRE(fix_push(&f, a, in) == RN_OK);
    rn_buf_t snap;
    rn_buf_init(&snap);
    RN_REQUIRE(a->vt->snapshot(a, &snap, NULL) == RN_OK);
    int bad = 0;
    for (size_t len = 0; len < snap.len; len++) {
        rn_op_t *b = norm_new(&f, 1, pk);
        if (b->vt->restore(b, snap.data, len) != RN_ERR_DECODE || rn_normalize_keys(b) != 0) bad++;
        rn_op_free(b);
    }
    RN_CHECK_EQ_INT(bad, 0);
    unsigned char *copy = malloc(snap.len + 1);
    memcpy(copy, snap.data, snap.len);
    copy[snap.len] = 0;
    rn_op_t *b = norm_new(&f, 1, pk);
    RN_CHECK_EQ_INT(b->vt->restore(b, copy, snap.len + 1), RN_ERR_DECODE); /* a trailing byte */
    rn_op_free(b);
    /* another key, another TTL: refused */
    int pk2[] = {2};
    b = norm_new(&f, 1, pk2);
    RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, snap.len), RN_ERR_DECODE);
    rn_op_free(b);
    b = norm_new(&f, 1, pk);
    rn_normalize_set_ttl(b, 10);
    RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, snap.len), RN_ERR_DECODE);
    rn_op_free(b);
    /* any flipped byte: a valid state or refused with nothing kept */
    int odd = 0;
    for (size_t i = 0; i < snap.len; i++) {
        copy[i] ^= 0xff;
        b = norm_new(&f, 1, pk);
        rn_err_t err = b->vt->restore(b, copy, snap.len);
        if (err != RN_OK && (err != RN_ERR_DECODE || rn_normalize_keys(b) != 0)) odd++;
        size_t keys = 0;
        if (err != RN_OK) b->vt->state_size(b, &keys);
        if (keys != 0) odd++;
        rn_op_free(b);
        copy[i] ^= 0xff;
    }
    RN_CHECK_EQ_INT(odd, 0);
    /* (a flipped key byte gives a key that is not its row's key: refused) */
    b = norm_new(&f, 1, pk);
    RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, snap.len), RN_OK);
    RN_CHECK_EQ_INT(rn_normalize_keys(b), 2);
    /* its keys are held already: refused, and what it holds is kept */
    RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, snap.len), RN_ERR_DECODE);
    RN_CHECK_EQ_INT(rn_normalize_keys(b), 2);
    /* it continues from the restored rows */
    rn_op_t *cap = capture_new(b);
    in = fix_batch(&f, 4);
    ROW(in, RN_ROW_DELETE, I(1), N, N);
    ROW(in, RN_ROW_INSERT, I(2), N, I(6));
    RN_REQUIRE(fix_push(&f, b, in) == RN_OK);
    char *got = take(cap);
    RN_CHECK_EQ_STR(got, "-D(1,abc,5)");
    free(got);
    rn_op_free(cap);
    rn_op_free(b);
    free(copy);
    rn_buf_free(&snap);
    rn_op_free(a);
    fix_free(&f);
}

/* ---- snapshots split by partition (checkpoints) ------------------------------ */

enum { SPLIT_NP = 4 };

/* The partition of key k (NKEYS: the NULL key), as forget_partitions
 * computes it. */
static int32_t split_part(int k)
{
    rn_buf_t key;
    rn_buf_init(&key);
    rn_value_t v = key_value(k);
    rn_key_append(&key, RN_TYPE_INT, &v);
    int32_t p = rn_key_partition(key.data, (uint32_t)key.len, SPLIT_NP);
    rn_buf_free(&key);
    return p;
}

/* Snapshots op's keys of partition p alone into snap. */
static void split_snapshot(rn_op_t *op, int32_t p, rn_buf_t *snap)
{
    uint8_t mark[SPLIT_NP] = {0};
    mark[p] = 1;
    rn_part_filter_t parts = {.nparts = SPLIT_NP, .parts = mark};
    rn_buf_clear(snap);
    RN_REQUIRE(op->vt->snapshot(op, snap, &parts) == RN_OK);
}

/* A copy of op (restored from its full snapshot) that then forgets every
 * partition but those marked in keep: the oracle of what a split restore
 * must hold. */
static rn_op_t *split_oracle(fix_t *f, rn_op_t *op, const uint8_t *keep)
{
    int pk[] = {0};
    rn_buf_t snap;
    rn_buf_init(&snap);
    if (op->vt->snapshot(op, &snap, NULL) != RN_OK) abort();
    rn_op_t *o = norm_new(f, 1, pk);
    if (!o || o->vt->restore(o, snap.data, snap.len) != RN_OK) abort();
    uint8_t revoked[SPLIT_NP];
    for (int p = 0; p < SPLIT_NP; p++) revoked[p] = !keep[p];
    if (o->vt->forget_partitions(o, SPLIT_NP, revoked) != RN_OK) abort();
    rn_buf_free(&snap);
    return o;
}

/* Random batches into a; then one snapshot per partition. Restored all
 * into one fresh operator, they give a's state; restored each into its own
 * operator, that one holds exactly the keys of its partition. Both are
 * checked by their full snapshot's length and key count and by feeding
 * every operator the same further batches as its oracle (a, or a copy of
 * a that forgot the other partitions): the outputs must be equal. Merging
 * into an operator that got its other partitions by processing rows (a
 * copy of a that forgot one partition) gives a's state too. */
static void test_normalize_snapshot_split_by_partition(void)
{
    for (uint64_t seed = 1; seed <= 8; seed++) {
        rng_state = seed * 104729;
        fix_t f;
        fix_init(&f, schema_of(3, "id:INT", "name:STRING", "v:BIGINT"));
        int pk[] = {0};
        rn_op_t *a = norm_new(&f, 1, pk);
        RN_REQUIRE(a != NULL);
        model_t m = {0};
        rn_buf_t want;
        rn_buf_init(&want);
        int nbatches = 3 + (int)rnd(10);
        for (int batch = 0; batch < nbatches; batch++) {
            int n = 1 + (int)rnd(30);
            rn_batch_t *in = fix_batch(&f, n);
            random_batch(in, n, &m, &want);
            RN_REQUIRE(fix_push(&f, a, in) == RN_OK);
        }
        rn_buf_t snap, full;
        rn_buf_init(&snap);
        rn_buf_init(&full);
        RN_REQUIRE(a->vt->snapshot(a, &full, NULL) == RN_OK);
        /* ops[0]: all four merged; ops[1 + p]: partition p alone, with its
         * oracle oracles[1 + p] (oracles[0] is a itself); ops[5]: a copy of
         * a without partition `missing`, then that partition merged in. */
        rn_op_t *ops[6], *oracles[6];
        uint8_t keep[SPLIT_NP];
        ops[0] = norm_new(&f, 1, pk);
        oracles[0] = a;
        int32_t missing = (int32_t)rnd(SPLIT_NP);
        for (int p = 0; p < SPLIT_NP; p++) keep[p] = p != missing;
        ops[5] = split_oracle(&f, a, keep);
        oracles[5] = split_oracle(&f, a, (uint8_t[]){1, 1, 1, 1});
        size_t inpart[SPLIT_NP] = {0}, total = 0;
        for (int k = 0; k <= NKEYS; k++)
            if (m.present[k]) inpart[split_part(k)]++, total++;
        RN_CHECK_EQ_INT(rn_normalize_keys(a), total);
        for (int32_t p = 0; p < SPLIT_NP; p++) {
            split_snapshot(a, p, &snap);
            for (int q = 0; q < SPLIT_NP; q++) keep[q] = q == p;
            ops[1 + p] = norm_new(&f, 1, pk);
            oracles[1 + p] = split_oracle(&f, a, keep);
            RN_CHECK_EQ_INT(ops[1 + p]->vt->restore(ops[1 + p], snap.data, snap.len), RN_OK);
            RN_CHECK_EQ_INT(rn_normalize_keys(ops[1 + p]), inpart[p]);
            RN_CHECK_EQ_INT(rn_normalize_keys(oracles[1 + p]), inpart[p]);
            RN_CHECK_EQ_INT(ops[0]->vt->restore(ops[0], snap.data, snap.len), RN_OK);
            if (p == missing) RN_CHECK_EQ_INT(ops[5]->vt->restore(ops[5], snap.data, snap.len), RN_OK);
            /* merged again: every key is held already */
            RN_CHECK_EQ_INT(ops[0]->vt->restore(ops[0], snap.data, snap.len),
                            inpart[p] ? RN_ERR_DECODE : RN_OK);
        }
        RN_CHECK_EQ_INT(rn_normalize_keys(ops[0]), total);
        RN_CHECK_EQ_INT(rn_normalize_keys(ops[5]), total);
        for (int i = 0; i < 6; i++) {
            rn_buf_clear(&snap);
            RN_REQUIRE(ops[i]->vt->snapshot(ops[i], &snap, NULL) == RN_OK);
            rn_buf_t o;
            rn_buf_init(&o);
            RN_REQUIRE(oracles[i]->vt->snapshot(oracles[i], &o, NULL) == RN_OK);
            RN_CHECK_EQ_INT(snap.len, o.len);
            rn_buf_free(&o);
        }
        rn_op_t *caps[6], *ocaps[6];
        for (int i = 0; i < 6; i++) {
            caps[i] = capture_new(ops[i]);
            ocaps[i] = i ? capture_new(oracles[i]) : NULL;
        }
        rn_op_t *capa = capture_new(a);
        ocaps[0] = capa;
        for (int batch = 0; batch < 10; batch++) {
            int n = 1 + (int)rnd(30);
            rn_batch_t *in = fix_batch(&f, n);
            rn_buf_clear(&want);
            random_batch(in, n, &m, &want);
            for (int i = 0; i < 6; i++) {
                RN_REQUIRE(fix_push(&f, ops[i], in) == RN_OK);
                if (i) RN_REQUIRE(fix_push(&f, oracles[i], in) == RN_OK);
            }
            RN_REQUIRE(fix_push(&f, a, in) == RN_OK);
            for (int i = 0; i < 6; i++) {
                char *got = take(caps[i]), *exp = take(ocaps[i]);
                RN_CHECK_EQ_STR(got, exp);
                if (i == 0) RN_CHECK_EQ_STR(exp, want.data ? want.data : "");
                free(got);
                free(exp);
            }
        }
        for (int i = 0; i < 6; i++) {
            rn_op_free(caps[i]);
            rn_op_free(ocaps[i]);
            rn_op_free(ops[i]);
            if (i) rn_op_free(oracles[i]);
        }
        rn_op_free(a);
        rn_buf_free(&snap);
        rn_buf_free(&full);
        rn_buf_free(&want);
        fix_free(&f);
    }
}

/* A failed merge leaves what the operator held: the keys it added before
 * the failure are removed again, those it held stay untouched. */
static void test_normalize_failed_merge_keeps_state(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "id:INT", "name:STRING", "v:BIGINT"));
    int pk[] = {0};
    rn_op_t *a = norm_new(&f, 1, pk);
    RN_REQUIRE(a != NULL);
    rn_batch_t *in = fix_batch(&f, 16);
    for (int k = 0; k < 12; k++) ROW(in, RN_ROW_INSERT, I(k), S("x"), I(k));
    RN_REQUIRE(fix_push(&f, a, in) == RN_OK);
    rn_buf_t snap;
    rn_buf_init(&snap);
    RN_REQUIRE(a->vt->snapshot(a, &snap, NULL) == RN_OK);
    /* b holds one of the keys with another row: the snapshot's copy of it
     * fails the merge wherever it comes */
    for (int held = 0; held < 12; held++) {
        rn_op_t *b = norm_new(&f, 1, pk);
        RN_REQUIRE(b != NULL);
        in = fix_batch(&f, 1);
        ROW(in, RN_ROW_INSERT, I(held), S("held"), I(100));
        RN_REQUIRE(fix_push(&f, b, in) == RN_OK);
        RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, snap.len), RN_ERR_DECODE);
        RN_CHECK_EQ_INT(rn_normalize_keys(b), 1);
        /* the held key keeps its row; the others are new */
        rn_op_t *cap = capture_new(b);
        in = fix_batch(&f, 2);
        ROW(in, RN_ROW_DELETE, I(held), N, N);
        ROW(in, RN_ROW_DELETE, I((held + 1) % 12), N, N);
        RN_REQUIRE(fix_push(&f, b, in) == RN_OK);
        char *got = take(cap);
        char exp[32];
        snprintf(exp, sizeof exp, "-D(%d,held,100)", held);
        RN_CHECK_EQ_STR(got, exp);
        free(got);
        rn_op_free(cap);
        rn_op_free(b);
    }
    /* truncated: a fresh operator and one holding a key of another
     * partition keep exactly what they held */
    for (size_t len = 0; len < snap.len; len++) {
        rn_op_t *b = norm_new(&f, 1, pk);
        in = fix_batch(&f, 1);
        ROW(in, RN_ROW_INSERT, I(500), S("other"), I(1));
        RN_REQUIRE(fix_push(&f, b, in) == RN_OK);
        RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, len), RN_ERR_DECODE);
        RN_CHECK_EQ_INT(rn_normalize_keys(b), 1);
        rn_op_free(b);
    }
    rn_buf_free(&snap);
    rn_op_free(a);
    fix_free(&f);
}

/* Allocation failures give RN_ERR_NOMEM, never a crash or a leak (the
 * sanitizer build checks), and enough memory completes the run. */
static void test_normalize_allocation_failures(void)
{
    bool completed = false;
    for (long fail = 0; fail < 5000 && !completed; fail++) {
        fix_t f;
        fix_init(&f, schema_of(2, "k:STRING", "s:STRING"));
        int pk[] = {0};
        rn_mem_fail_after(fail);
        rn_op_t *op = rn_normalize_new(f.feeder, 1, pk, f.errbuf, sizeof f.errbuf);
        rn_err_t err = op ? RN_OK : RN_ERR_NOMEM;
        rn_buf_t snap;
        rn_buf_init(&snap);
        for (int batch = 0; batch < 3 && err == RN_OK; batch++) {
            rn_batch_t *b = fix_batch(&f, 20);
            if (!b) {
                err = RN_ERR_NOMEM;
                break;
            }
            char k[8], s[8];
            for (int i = 0; i < 20; i++) {
                snprintf(k, sizeof k, "k%d", i % 7);
                snprintf(s, sizeof s, "v%d", (i * batch) % 5);
                char *kc = rn_arena_strndup(&f.arena, k, strlen(k));
                char *sc = rn_arena_strndup(&f.arena, s, strlen(s));
                if (!kc || !sc) {
                    err = RN_ERR_NOMEM;
                    break;
                }
                ROW(b, batch == 2 && i < 10 ? RN_ROW_DELETE : RN_ROW_INSERT, S(kc), S(sc));
            }
            if (err == RN_OK) err = fix_push(&f, op, b);
        }
        if (err == RN_OK) err = op->vt->snapshot(op, &snap, NULL);
        rn_op_t *r = NULL;
        if (err == RN_OK && (r = rn_normalize_new(f.feeder, 1, pk, f.errbuf, sizeof f.errbuf)))
            err = r->vt->restore(r, snap.data, snap.len);
        else if (err == RN_OK)
            err = RN_ERR_NOMEM;
        if (r && err != RN_OK) RN_CHECK_EQ_INT(rn_normalize_keys(r), 0);
        rn_mem_fail_after(-1);
        RN_CHECK(err == RN_OK || err == RN_ERR_NOMEM);
        completed = err == RN_OK;
        if (completed) RN_CHECK_EQ_INT(rn_normalize_keys(r), rn_normalize_keys(op));
        rn_buf_free(&snap);
        if (r) rn_op_free(r);
        if (op) rn_op_free(op);
        fix_free(&f);
    }
    RN_CHECK(completed);
}

int main(void)
{
    RN_RUN(test_normalize_basic_changelog);
    RN_RUN(test_normalize_random_against_model);
    RN_RUN(test_normalize_composite_key_and_absent_columns);
    RN_RUN(test_normalize_keeps_row_watermarks);
    RN_RUN(test_normalize_state_ttl);
    RN_RUN(test_normalize_forget_partitions);
    RN_RUN(test_normalize_snapshot_restore);
    RN_RUN(test_normalize_snapshot_restore_ttl);
    RN_RUN(test_normalize_snapshot_rejects_corrupt);
    RN_RUN(test_normalize_snapshot_split_by_partition);
    RN_RUN(test_normalize_failed_merge_keeps_state);
    RN_RUN(test_normalize_allocation_failures);
    return rn_test_summary();
}
