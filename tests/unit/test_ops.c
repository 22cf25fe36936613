/*
 * test_ops.c - unit tests for the operators of op/op.h, driven directly:
 * hand-built schemas and batches go into an operator whose input is a
 * do-nothing "feeder", and a capturing operator downstream records what it
 * emits. Covers GroupAggregate (every aggregate kind, its per-batch
 * changelog, retractions and MIN/MAX/COUNT DISTINCT multisets), Calc
 * (filter keeps row kinds, projection) and Sink (upsert coalescing, append,
 * JSON shapes), and GroupAggregate's snapshot/restore (a restored operator
 * continues exactly as one that never stopped; damaged snapshots are refused;
 * snapshots split by partition merge back into the original's state),
 * and forgetting revoked partitions (GroupAggregate's forget_partitions
 * against a run that never saw the revoked keys, rn_op_forget_partitions'
 * walk of the graph), and GroupCombine (a GROUP BY combined before its
 * Exchange emits what it emits alone).
 */
#include "core/clock.h"
#include "core/mem.h"
#include "op/op.h"
#include "rn_test.h"
#include "rn_test_rows.h"
#include "state/store.h"

#include <stdarg.h>

/* ---- helpers ------------------------------------------------------------ */

/* Appends one row (kind, then one value per schema column) to b. */
static void add_row(rn_batch_t *b, rn_rowkind_t kind, const rn_value_t *vals)
{
    int r = b->nrows++;
    for (int c = 0; c < b->schema->ncols; c++) b->cols[c][r] = vals[c];
    b->kinds[r] = (uint8_t)kind;
}
#define ROW(b, kind, ...) add_row((b), (kind), (rn_value_t[]){__VA_ARGS__})

/* The feeder: an upstream operator that only exists to be an input. */
static rn_err_t feeder_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    return RN_OK;
}
static const rn_op_vtable_t feeder_vt = {.kind = "Feeder", .process = feeder_process};

/* The capture: records each row it receives as text, "+I(a,1,2.5,null)". */
typedef struct capture {
    rn_buf_t text;              /* rows separated by spaces */
    int rows;
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
        if (c->text.len) rn_buf_appendc(&c->text, ' ');
        rn_buf_appends(&c->text, rn_rowkind_str((rn_rowkind_t)b->kinds[r]));
        rn_buf_appendc(&c->text, '(');
        for (int col = 0; col < b->schema->ncols; col++) {
            if (col) rn_buf_appendc(&c->text, ',');
            format_value(&c->text, b->schema->cols[col].type->id, &b->cols[col][r]);
        }
        rn_buf_appendc(&c->text, ')');
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
static const rn_op_vtable_t capture_vt = {
    .kind = "Capture", .process = capture_process, .destroy = capture_destroy};

static rn_op_t *capture_new(rn_op_t *upstream)
{
    rn_op_t *op = rn_op_new(&capture_vt, upstream->schema, upstream);
    capture_t *c = calloc(1, sizeof *c);
    rn_buf_init(&c->text);
    op->priv = c;
    rn_op_connect(upstream, op, 0);
    return op;
}

/* Returns what the capture saw since the last call ("" if nothing) and forgets it. */
static char taken[8192];
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

static void fix_init(fix_t *f, rn_schema_t *in, bool updating)
{
    memset(f, 0, sizeof *f);
    rn_arena_init(&f->arena, 0);
    f->ctx.arena = &f->arena;
    f->ctx.errbuf = f->errbuf;
    f->ctx.errbuf_size = sizeof f->errbuf;
    f->in = in;
    f->feeder = rn_op_new(&feeder_vt, in, NULL);
    f->feeder->updating = updating; /* set before creating the operator under test */
}

static rn_batch_t *fix_batch(fix_t *f)
{
    rn_arena_reset(&f->arena);
    return rn_batch_new(&f->arena, f->in, 64);
}

static rn_err_t fix_push(fix_t *f, rn_op_t *op, rn_batch_t *b)
{
    return op->vt->process(op, 0, b, &f->ctx);
}

static void fix_free(fix_t *f)
{
    rn_op_free(f->feeder);
    rn_schema_unref(f->in);
    rn_arena_free(&f->arena);
}

/* ---- GroupAggregate ----------------------------------------------------- */

static void test_aggregate_all_kinds(void)
{
    fix_t f;
    fix_init(&f, schema_of(4, "k:STRING", "x:BIGINT", "d:DOUBLE", "s:STRING"), false);
    rn_agg_spec_t aggs[] = {
        {RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
        {RN_AGG_COUNT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_SUM, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_SUM, 2, RN_TYPE_DOUBLE, RN_TYPE_DOUBLE},
        {RN_AGG_MIN, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_MAX, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_MIN, 3, RN_TYPE_STRING, RN_TYPE_STRING},
        {RN_AGG_MAX, 3, RN_TYPE_STRING, RN_TYPE_STRING},
        {RN_AGG_AVG, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}, /* truncated, as Flink's */
    };
    rn_schema_t *out = schema_of(11, "k:STRING", "cnt:BIGINT", "cx:BIGINT", "cd:BIGINT", "sx:BIGINT",
                                 "sd:DOUBLE", "mnx:BIGINT", "mxx:BIGINT", "mns:STRING", "mxs:STRING",
                                 "av:BIGINT");
    rn_op_t *agg = rn_aggregate_new(f.feeder, 1, 10, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(agg != NULL);
    RN_CHECK(agg->updating);
    rn_op_t *cap = capture_new(agg);

    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, S("a"), I(1), D(1.5), S("m"));
    ROW(b, RN_ROW_INSERT, S("a"), N, N, N);
    ROW(b, RN_ROW_INSERT, S("b"), N, N, N);
    ROW(b, RN_ROW_INSERT, S("a"), I(3), D(2.5), S("z"));
    ROW(b, RN_ROW_INSERT, S("a"), I(2), D(0.25), S("b"));
    ROW(b, RN_ROW_INSERT, S("a"), I(3), N, S("m"));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(a,5,4,3,9,4.25,1,3,b,z,2) "
                               "+I(b,1,0,0,null,null,null,null,null,null,null)");
    RN_CHECK_EQ_INT(rn_aggregate_groups(agg), 2);

    /* b's first value: -U/+U pair. A string extreme replaced by a longer
     * and a shorter one. */
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, S("b"), I(-7), D(-1), S("q"));
    ROW(b, RN_ROW_INSERT, S("a"), I(0), N, S("zz"));
    ROW(b, RN_ROW_INSERT, S("a"), N, N, S("a"));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(b,1,0,0,null,null,null,null,null,null,null) "
                               "+U(b,2,1,1,-7,-1,-7,-7,q,q,-7) "
                               "-U(a,5,4,3,9,4.25,1,3,b,z,2) "
                               "+U(a,7,5,4,9,4.25,0,3,a,zz,1)");
    rn_op_free(cap);
    rn_op_free(agg);
    rn_schema_unref(out);
    fix_free(&f);
}

/* A batch that leaves a group's result unchanged emits nothing for it. */
static void test_aggregate_unchanged_emits_nothing(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:BIGINT", "x:BIGINT"), false);
    rn_agg_spec_t aggs[] = {{RN_AGG_MAX, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(3, "k:BIGINT", "mx:BIGINT", "cd:BIGINT");
    rn_op_t *agg = rn_aggregate_new(f.feeder, 1, 2, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(agg != NULL);
    rn_op_t *cap = capture_new(agg);
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), I(10));
    ROW(b, RN_ROW_INSERT, I(2), I(20));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(1,10,1) +I(2,20,1)");
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), I(10)); /* same max, same distinct count */
    ROW(b, RN_ROW_INSERT, I(2), N);     /* NULL changes neither */
    ROW(b, RN_ROW_INSERT, I(1), I(10));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "");
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(2), I(5)); /* max unchanged, distinct count +1 */
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(2,20,1) +U(2,20,2)");
    rn_op_free(cap);
    rn_op_free(agg);
    rn_schema_unref(out);
    fix_free(&f);
}

/* One key touched many times within a batch yields exactly one change. */
static void test_aggregate_coalesces_per_batch(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:STRING", "x:BIGINT"), true);
    rn_agg_spec_t aggs[] = {{RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
                            {RN_AGG_SUM, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(3, "k:STRING", "n:BIGINT", "s:BIGINT");
    rn_op_t *agg = rn_aggregate_new(f.feeder, 1, 2, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(agg != NULL);
    rn_op_t *cap = capture_new(agg);
    rn_batch_t *b = fix_batch(&f);
    for (int i = 1; i <= 50; i++) ROW(b, RN_ROW_INSERT, S("k"), I(i));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(k,50,1275)");
    b = fix_batch(&f);
    for (int i = 1; i <= 20; i++) {
        ROW(b, RN_ROW_UPDATE_BEFORE, S("k"), I(i));
        ROW(b, RN_ROW_UPDATE_AFTER, S("k"), I(i * 2));
    }
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(k,50,1275) +U(k,50,1485)");
    /* Insert and retract a new key in one batch: never seen downstream. */
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, S("tmp"), I(1));
    ROW(b, RN_ROW_DELETE, S("tmp"), I(1));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "");
    RN_CHECK_EQ_INT(rn_aggregate_groups(agg), 1);
    /* Retract every row: -D with the last emitted result; group dropped. */
    b = fix_batch(&f);
    for (int i = 1; i <= 50; i++) ROW(b, RN_ROW_DELETE, S("k"), I(i <= 20 ? i * 2 : i));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-D(k,50,1485)");
    RN_CHECK_EQ_INT(rn_aggregate_groups(agg), 0);
    /* The key comes back as a new group. */
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, S("k"), N);
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(k,1,null)");
    rn_op_free(cap);
    rn_op_free(agg);
    rn_schema_unref(out);
    fix_free(&f);
}

/* Retractions as input: MIN/MAX keep a multiset, so retracting the current
 * extreme finds the next one; COUNT DISTINCT drops a value with its last copy. */
static void test_aggregate_retract_extremes(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "g:BIGINT", "x:BIGINT", "s:STRING"), true);
    rn_agg_spec_t aggs[] = {
        {RN_AGG_MIN, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_MAX, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_MIN, 2, RN_TYPE_STRING, RN_TYPE_STRING},
        {RN_AGG_MAX, 2, RN_TYPE_STRING, RN_TYPE_STRING},
        {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_COUNT_DISTINCT, 2, RN_TYPE_STRING, RN_TYPE_BIGINT},
        {RN_AGG_SUM, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
    };
    rn_schema_t *out = schema_of(8, "g:BIGINT", "mn:BIGINT", "mx:BIGINT", "mns:STRING", "mxs:STRING",
                                 "cd:BIGINT", "cds:BIGINT", "sum:BIGINT");
    rn_op_t *agg = rn_aggregate_new(f.feeder, 1, 7, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(agg != NULL);
    rn_op_t *cap = capture_new(agg);
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), I(5), S("mm"));
    ROW(b, RN_ROW_INSERT, I(1), I(1), S("a"));
    ROW(b, RN_ROW_INSERT, I(1), I(9), S("zzz"));
    ROW(b, RN_ROW_INSERT, I(1), I(9), S("zzz"));
    ROW(b, RN_ROW_INSERT, I(1), I(3), S("c"));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(1,1,9,a,zzz,4,4,27)");

    /* one of two copies of the maximum: extremes stay */
    b = fix_batch(&f);
    ROW(b, RN_ROW_UPDATE_BEFORE, I(1), I(9), S("zzz"));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(1,1,9,a,zzz,4,4,27) +U(1,1,9,a,zzz,4,4,18)");

    /* the last copy of the maximum: next maximum, one distinct value fewer */
    b = fix_batch(&f);
    ROW(b, RN_ROW_DELETE, I(1), I(9), S("zzz"));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(1,1,9,a,zzz,4,4,18) +U(1,1,5,a,mm,3,3,9)");

    /* the minimum */
    b = fix_batch(&f);
    ROW(b, RN_ROW_DELETE, I(1), I(1), S("a"));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(1,1,5,a,mm,3,3,9) +U(1,3,5,c,mm,2,2,8)");

    /* a new extreme and its retraction in one batch: unchanged, nothing */
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), I(100), S("~~~~"));
    ROW(b, RN_ROW_INSERT, I(1), I(-100), S(""));
    ROW(b, RN_ROW_DELETE, I(1), I(100), S("~~~~"));
    ROW(b, RN_ROW_DELETE, I(1), I(-100), S(""));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "");

    /* NULL values do not count; retracting the non-NULL ones leaves NULLs */
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), N, N);
    ROW(b, RN_ROW_DELETE, I(1), I(5), S("mm"));
    ROW(b, RN_ROW_DELETE, I(1), I(3), S("c"));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(1,3,5,c,mm,2,2,8) +U(1,null,null,null,null,0,0,null)");
    b = fix_batch(&f);
    ROW(b, RN_ROW_DELETE, I(1), N, N);
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-D(1,null,null,null,null,0,0,null)");
    RN_CHECK_EQ_INT(rn_aggregate_groups(agg), 0);
    rn_op_free(cap);
    rn_op_free(agg);
    rn_schema_unref(out);
    fix_free(&f);
}

/* Random changelog against a brute-force recomputation of MIN/MAX/COUNT
 * DISTINCT over the live rows. */
static void test_aggregate_retract_random(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "g:BIGINT", "x:BIGINT", "s:STRING"), true);
    rn_agg_spec_t aggs[] = {
        {RN_AGG_MIN, 2, RN_TYPE_STRING, RN_TYPE_STRING},
        {RN_AGG_MAX, 2, RN_TYPE_STRING, RN_TYPE_STRING},
        {RN_AGG_MIN, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
    };
    rn_schema_t *out = schema_of(5, "g:BIGINT", "mns:STRING", "mxs:STRING", "mn:BIGINT", "cd:BIGINT");
    rn_op_t *agg = rn_aggregate_new(f.feeder, 1, 4, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(agg != NULL);
    rn_op_t *cap = capture_new(agg);
    enum { MAXLIVE = 64 };
    int live[MAXLIVE];
    int nlive = 0;
    static const char *strs[] = {"", "a", "ab", "b", "ba", "bb", "c", "zz"};
    unsigned seed = 7;
    int bad = 0;
    for (int batch = 0; batch < 300; batch++) {
        rn_batch_t *b = fix_batch(&f);
        int nrows = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 5;
        for (int r = 0; r < nrows; r++) {
            seed = seed * 1103515245 + 12345;
            bool ins = nlive == 0 || (nlive < MAXLIVE && ((seed >> 16) & 1));
            if (ins) {
                int v = (int)((seed >> 18) % 8);
                live[nlive++] = v;
                ROW(b, RN_ROW_INSERT, I(7), I(v), S(strs[v]));
            } else {
                int j = (int)((seed >> 18) % (unsigned)nlive);
                int v = live[j];
                live[j] = live[--nlive];
                ROW(b, RN_ROW_DELETE, I(7), I(v), S(strs[v]));
            }
        }
        RN_REQUIRE(fix_push(&f, agg, b) == RN_OK);
        const char *got = take(cap);
        if (nlive == 0) continue;
        int mn = 99, mx = -1, distinct = 0;
        bool seen[8] = {0};
        for (int j = 0; j < nlive; j++) {
            if (live[j] < mn) mn = live[j];
            if (live[j] > mx) mx = live[j];
            if (!seen[live[j]]) distinct++;
            seen[live[j]] = true;
        }
        char want[128];
        snprintf(want, sizeof want, "(7,%s,%s,%d,%d)", strs[mn], strs[mx], mn, distinct);
        /* the last emitted row (if any) must be the current result */
        const char *last = strrchr(got, ' ');
        last = last ? last + 1 : got;
        if (*last && strcmp(last + 2, want) != 0) {
            fprintf(stderr, "batch %d: got %s, want %s\n", batch, last, want);
            bad++;
        }
    }
    RN_CHECK_EQ_INT(bad, 0);
    rn_op_free(cap);
    rn_op_free(agg);
    rn_schema_unref(out);
    fix_free(&f);
}

/* No group keys: one global group (empty key). */
static void test_aggregate_global_group(void)
{
    fix_t f;
    fix_init(&f, schema_of(1, "x:DOUBLE"), true);
    rn_agg_spec_t aggs[] = {{RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
                            {RN_AGG_AVG, 0, RN_TYPE_DOUBLE, RN_TYPE_DOUBLE},
                            {RN_AGG_MAX, 0, RN_TYPE_DOUBLE, RN_TYPE_DOUBLE}};
    rn_schema_t *out = schema_of(3, "n:BIGINT", "av:DOUBLE", "mx:DOUBLE");
    rn_op_t *agg = rn_aggregate_new(f.feeder, 0, 3, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(agg != NULL);
    rn_op_t *cap = capture_new(agg);
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, D(1));
    ROW(b, RN_ROW_INSERT, D(-0.0));
    ROW(b, RN_ROW_INSERT, D(2));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(3,1,2)");
    b = fix_batch(&f);
    ROW(b, RN_ROW_DELETE, D(2));
    ROW(b, RN_ROW_DELETE, D(0.0)); /* retracts the -0.0: the same key */
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(3,1,2) +U(1,1,1)");
    b = fix_batch(&f);
    ROW(b, RN_ROW_DELETE, D(1));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-D(1,1,1)");
    RN_CHECK_EQ_INT(rn_aggregate_groups(agg), 0);
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, N);
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(1,null,null)");
    rn_op_free(cap);
    rn_op_free(agg);
    rn_schema_unref(out);
    fix_free(&f);
}


/* ---- GroupCombine ------------------------------------------------------- */

/* Local-global GROUP BY (op/group_combine.c): the same random insert-only
 * batches through a combiner and the GroupAggregate with the merging
 * aggregates it asks for emit exactly the changelog, batch by batch, that
 * the aggregate alone emits: with every combinable kind (counts, sums,
 * MIN/MAX of strings, two COUNT(DISTINCT)s, one over strings too long to
 * remember) and with COUNT(DISTINCT) alone; combining per batch, combining
 * with sent values remembered, and passing rows through (a local
 * Exchange). Returns the changelog; *rows and *sent are the combiner's
 * counts. */
static char *group_combine_run(int variant, int mode, uint64_t *rows, uint64_t *sent)
{
    fix_t f;
    fix_init(&f, schema_of(3, "k:STRING", "x:BIGINT", "s:STRING"), false);
    rn_agg_spec_t all[] = {
        {RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
        {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_COUNT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_SUM, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_MIN, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
        {RN_AGG_MAX, 2, RN_TYPE_STRING, RN_TYPE_STRING},
        {RN_AGG_COUNT_DISTINCT, 2, RN_TYPE_STRING, RN_TYPE_BIGINT},
    };
    const char *names[] = {"n", "dx", "cx", "sx", "mn", "mxs", "ds"};
    rn_agg_spec_t *aggs = variant == 0 ? all : &all[1];
    int naggs = variant == 0 ? 7 : 1;
    rn_schema_t *out = variant == 0 ? schema_of(8, "k:STRING", "n:BIGINT", "dx:BIGINT", "cx:BIGINT", "sx:BIGINT",
                                                "mn:BIGINT", "mxs:STRING", "ds:BIGINT")
                                    : schema_of(2, "k:STRING", "dx:BIGINT");
    rn_op_t *comb = NULL, *agg;
    if (mode > 0) {
        rn_agg_spec_t gaggs[7];
        comb = rn_group_combine_new(f.feeder, 1, naggs, aggs, variant == 0 ? names : &names[1], true, gaggs);
        RN_CHECK(comb != NULL);
        RN_CHECK(!comb->updating);
        if (mode >= 2) rn_group_combine_always(comb);
        rn_group_combine_remember(comb, mode == 3);
        agg = rn_aggregate_new(comb, 1, naggs, gaggs, out, f.errbuf, sizeof f.errbuf);
        rn_op_connect(comb, agg, 0);
    } else {
        agg = rn_aggregate_new(f.feeder, 1, naggs, aggs, out, f.errbuf, sizeof f.errbuf);
    }
    RN_CHECK(agg != NULL);
    rn_op_t *cap = capture_new(agg);
    static const char *keys[] = {"a", "b", "c", "dd", "e"};
    static const char *strs[] = {"", "m", "z", "q", "a string of more than thirty-six bytes, never remembered"};
    unsigned seed = 11;
    for (int batch = 0; batch < 300; batch++) {
        rn_batch_t *b = fix_batch(&f);
        seed = seed * 1103515245 + 12345;
        int nrows = 1 + (int)((seed >> 16) % 64);
        for (int r = 0; r < nrows; r++) {
            seed = seed * 1103515245 + 12345;
            unsigned v = seed >> 8;
            int x = (int)(v % 300) - 20, si = (int)((v >> 8) % 6);
            ROW(b, RN_ROW_INSERT, S(keys[(v >> 12) % 5]), x < 0 ? N : I(x), si == 5 ? N : S(strs[si]));
        }
        if (batch % 50 == 49) {
            /* a later batch that adds nothing new to some groups */
            b->nrows = 0;
            ROW(b, RN_ROW_INSERT, S("a"), I(3), S("m"));
            ROW(b, RN_ROW_INSERT, S("a"), I(3), S("m"));
        }
        RN_CHECK(fix_push(&f, comb ? comb : agg, b) == RN_OK);
        capture_t *c = cap->priv;
        rn_buf_appends(&c->text, " |"); /* batch by batch */
    }
    *rows = *sent = 0;
    if (comb) rn_group_combine_counts(comb, rows, sent);
    capture_t *c = cap->priv;
    char *text = strdup(c->text.data ? c->text.data : "");
    rn_op_free(cap);
    rn_op_free(agg);
    rn_op_free(comb);
    rn_schema_unref(out);
    fix_free(&f);
    return text;
}

static void test_group_combine_equals_direct(void)
{
    for (int variant = 0; variant < 2; variant++) {
        uint64_t rows, sent, per_batch = 0;
        char *direct = group_combine_run(variant, 0, &rows, &sent);
        RN_CHECK(strlen(direct) > 2000);
        for (int mode = 1; mode <= 3; mode++) {
            char *comb = group_combine_run(variant, mode, &rows, &sent);
            if (strcmp(direct, comb)) {
                const char *a = direct, *b = comb;
                while (*a && *a == *b) a++, b++;
                fprintf(stderr, "  (variant %d, mode %d) differ at: direct ...%.80s\n  combined ...%.80s\n", variant,
                        mode, a, b);
            }
            RN_CHECK(strcmp(direct, comb) == 0);
            free(comb);
            if (mode == 1) RN_CHECK(rows == 0 && sent == 0); /* a local Exchange: nothing combined */
            if (mode >= 2) RN_CHECK(rows > 9000);
            if (mode == 2) per_batch = sent;
            if (mode == 3) RN_CHECK(sent < per_batch * 2 / 3); /* remembered values are sent once */
        }
        RN_CHECK(per_batch > 0);
        free(direct);
    }
    rn_agg_spec_t avg = {RN_AGG_AVG, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT};
    rn_agg_spec_t sum_d = {RN_AGG_SUM, 1, RN_TYPE_DOUBLE, RN_TYPE_DOUBLE};
    rn_agg_spec_t first = {RN_AGG_FIRST_VALUE, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT};
    rn_agg_spec_t cd = {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT};
    RN_CHECK(rn_group_combinable(1, &cd));
    RN_CHECK(!rn_group_combinable(1, &avg));
    RN_CHECK(!rn_group_combinable(1, &sum_d)); /* a DOUBLE sum depends on the order */
    RN_CHECK(!rn_group_combinable(1, &first));
    RN_CHECK(!rn_group_combinable(0, NULL));
}

/* A downstream that fails its first batch (as a repartition topic's
 * writer might), then records as the capture does. */
static int refuse_once_left;
static rn_err_t refuse_once_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    if (refuse_once_left > 0) {
        refuse_once_left--;
        return RN_ERR_IO;
    }
    return capture_process(op, port, b, ctx);
}
static const rn_op_vtable_t refuse_once_vt = {
    .kind = "RefuseOnce", .process = refuse_once_process, .destroy = capture_destroy};

/* A batch whose rows did not leave (its emit failed) is sent whole when
 * it is processed again: the values it entered as sent are forgotten. */
static void test_group_combine_failed_send_forgets(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:BIGINT", "x:BIGINT"), false);
    rn_agg_spec_t aggs[] = {{RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
                            {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    const char *names[] = {"n", "dx"};
    rn_agg_spec_t gaggs[2];
    rn_op_t *comb = rn_group_combine_new(f.feeder, 1, 2, aggs, names, true, gaggs);
    RN_REQUIRE(comb != NULL);
    rn_group_combine_always(comb);
    rn_group_combine_remember(comb, true);
    rn_op_t *cap = rn_op_new(&refuse_once_vt, comb->schema, comb);
    capture_t *cc = calloc(1, sizeof *cc);
    rn_buf_init(&cc->text);
    cap->priv = cc;
    rn_op_connect(comb, cap, 0);
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), I(5));
    ROW(b, RN_ROW_INSERT, I(1), I(6));
    refuse_once_left = 1;
    RN_CHECK_EQ_INT(fix_push(&f, comb, b), RN_ERR_IO);
    RN_CHECK_EQ_INT(fix_push(&f, comb, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(1,2,null) +I(1,0,5) +I(1,0,6)");
    RN_CHECK_EQ_INT(fix_push(&f, comb, b), RN_OK); /* and remembered once they left */
    RN_CHECK_EQ_STR(take(cap), "+I(1,2,null)");
    rn_op_free(cap);
    rn_op_free(comb);
    fix_free(&f);
}

/* Forgotten once sent: with remembering off (no checkpoints, or a state
 * TTL after the Exchange: may_remember false), every batch sends its
 * distinct values again; with it on, a value crosses once. */
static void test_group_combine_remembering(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:BIGINT", "x:BIGINT"), false);
    rn_agg_spec_t aggs[] = {{RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    const char *names[] = {"dx"};
    for (int m = 0; m < 3; m++) {
        rn_agg_spec_t gaggs[1];
        rn_op_t *comb = rn_group_combine_new(f.feeder, 1, 1, aggs, names, m != 2, gaggs);
        RN_REQUIRE(comb != NULL);
        rn_group_combine_always(comb);
        rn_group_combine_remember(comb, m != 0);
        rn_op_t *cap = capture_new(comb);
        for (int batch = 0; batch < 3; batch++) {
            rn_batch_t *b = fix_batch(&f);
            ROW(b, RN_ROW_INSERT, I(1), I(5));
            ROW(b, RN_ROW_INSERT, I(1), I(5));
            ROW(b, RN_ROW_INSERT, I(2), N);
            RN_REQUIRE(fix_push(&f, comb, b) == RN_OK);
        }
        /* the group rows make the groups exist (remembered alike) */
        RN_CHECK_EQ_STR(take(cap), m == 1 ? "+I(1,null) +I(2,null) +I(1,5)"
                                          : "+I(1,null) +I(2,null) +I(1,5) +I(1,null) +I(2,null) +I(1,5) "
                                            "+I(1,null) +I(2,null) +I(1,5)");
        rn_op_free(cap);
        rn_op_free(comb);
    }
    fix_free(&f);
}

/* ---- Calc --------------------------------------------------------------- */

static void test_calc_filter_keeps_kinds(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "a:BIGINT", "s:STRING"), true);
    rn_expr_t col_a = {.kind = RN_EXPR_COLUMN, .type = &rn_type_bigint, .col = 0};
    rn_expr_t two = {.kind = RN_EXPR_CONST, .type = &rn_type_bigint, .value = {.i = 2}};
    rn_expr_t *gt_args[] = {&col_a, &two};
    rn_expr_t gt = {.kind = RN_EXPR_FUNC, .type = &rn_type_boolean, .fn = RN_FN_GT, .nargs = 2,
                    .args = gt_args};
    rn_op_t *calc = rn_calc_new(f.feeder, &gt, 0, NULL, NULL);
    RN_REQUIRE(calc != NULL);
    RN_CHECK(calc->updating);
    RN_CHECK(calc->schema == f.in);
    rn_op_t *cap = capture_new(calc);
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), S("x"));
    ROW(b, RN_ROW_UPDATE_BEFORE, I(3), S("y"));
    ROW(b, RN_ROW_UPDATE_AFTER, I(5), S("z"));
    ROW(b, RN_ROW_DELETE, I(2), S("w"));
    ROW(b, RN_ROW_INSERT, N, S("n"));
    ROW(b, RN_ROW_DELETE, I(4), N);
    RN_CHECK_EQ_INT(fix_push(&f, calc, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(3,y) +U(5,z) -D(4,null)");
    /* nothing passes: nothing emitted */
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(0), S("x"));
    RN_CHECK_EQ_INT(fix_push(&f, calc, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "");
    RN_CHECK_EQ_INT(((capture_t *)cap->priv)->batches, 1);
    /* everything passes */
    b = fix_batch(&f);
    ROW(b, RN_ROW_DELETE, I(10), S("p"));
    ROW(b, RN_ROW_INSERT, I(11), S("q"));
    RN_CHECK_EQ_INT(fix_push(&f, calc, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-D(10,p) +I(11,q)");
    rn_op_free(cap);
    rn_op_free(calc);
    fix_free(&f);
}

static void test_calc_projection(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "a:BIGINT", "s:STRING"), false);
    rn_expr_t col_a = {.kind = RN_EXPR_COLUMN, .type = &rn_type_bigint, .col = 0};
    rn_expr_t col_s = {.kind = RN_EXPR_COLUMN, .type = &rn_type_string, .col = 1};
    rn_expr_t ten = {.kind = RN_EXPR_CONST, .type = &rn_type_bigint, .value = {.i = 10}};
    rn_expr_t *mul_args[] = {&col_a, &ten};
    rn_expr_t mul = {.kind = RN_EXPR_FUNC, .type = &rn_type_bigint, .fn = RN_FN_MUL, .nargs = 2,
                     .args = mul_args};
    rn_expr_t *nn_args[] = {&col_s};
    rn_expr_t notnull = {.kind = RN_EXPR_FUNC, .type = &rn_type_boolean, .fn = RN_FN_IS_NOT_NULL,
                         .nargs = 1, .args = nn_args};
    const rn_expr_t *exprs[] = {&col_s, &mul};
    rn_schema_t *out = schema_of(2, "s:STRING", "a10:BIGINT");
    rn_op_t *calc = rn_calc_new(f.feeder, &notnull, 2, exprs, out);
    RN_REQUIRE(calc != NULL);
    RN_CHECK(!calc->updating);
    rn_op_t *cap = capture_new(calc);
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), S("x"));
    ROW(b, RN_ROW_INSERT, I(2), N);
    ROW(b, RN_ROW_INSERT, N, S("y"));
    ROW(b, RN_ROW_INSERT, I(-3), S("z"));
    RN_CHECK_EQ_INT(fix_push(&f, calc, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(x,10) +I(y,null) +I(z,-30)");
    rn_buf_t ex;
    rn_buf_init(&ex);
    calc->vt->explain(calc, &ex);
    RN_CHECK(ex.data && strstr(ex.data, "AS a10") != NULL);
    rn_buf_free(&ex);
    rn_op_free(cap);
    rn_op_free(calc);
    rn_schema_unref(out);
    fix_free(&f);
}

/* ---- Sink --------------------------------------------------------------- */

typedef struct test_io {
    rn_sink_io_t base;
    rn_buf_t log;               /* "key|value|kind" per write, separated by newlines */
    int flushes;
    int *closed;
} test_io_t;

static rn_err_t tio_write(rn_sink_io_t *io, const char *key, size_t klen, const char *value,
                          size_t vlen, rn_rowkind_t kind, char *errbuf, size_t errbuf_size)
{
    test_io_t *t = (test_io_t *)io;
    if (key) rn_buf_append(&t->log, key, klen);
    else rn_buf_appends(&t->log, "-");
    rn_buf_appendc(&t->log, '|');
    if (value) rn_buf_append(&t->log, value, vlen);
    else rn_buf_appends(&t->log, "NULL");
    rn_buf_appendf(&t->log, "|%s\n", rn_rowkind_str(kind));
    return RN_OK;
}
static rn_err_t tio_flush(rn_sink_io_t *io, char *errbuf, size_t errbuf_size)
{
    ((test_io_t *)io)->flushes++;
    return RN_OK;
}
static void tio_close(rn_sink_io_t *io)
{
    test_io_t *t = (test_io_t *)io;
    (*t->closed)++;
    rn_buf_free(&t->log);
    free(t);
}
static test_io_t *tio_new(int *closed)
{
    test_io_t *t = calloc(1, sizeof *t);
    t->base.write = tio_write;
    t->base.flush = tio_flush;
    t->base.close = tio_close;
    t->closed = closed;
    rn_buf_init(&t->log);
    return t;
}
static char logged[65536];
static const char *tio_take(test_io_t *t)
{
    snprintf(logged, sizeof logged, "%s", t->log.data ? t->log.data : "");
    rn_buf_clear(&t->log);
    return logged;
}

static void test_sink_upsert_coalesces(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "a:BIGINT", "s:STRING", "d:DOUBLE"), true);
    int closed = 0;
    test_io_t *io = tio_new(&closed);
    int pk[] = {1}; /* keyed by s */
    rn_op_t *sink = rn_sink_new(f.feeder, "t", RN_SINK_UPSERT, 1, pk, &io->base);
    RN_REQUIRE(sink != NULL);
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), S("x"), D(0.5));
    ROW(b, RN_ROW_INSERT, I(2), S("y"), N);
    ROW(b, RN_ROW_UPDATE_BEFORE, I(1), S("x"), D(0.5));
    ROW(b, RN_ROW_UPDATE_AFTER, I(3), S("x"), D(2));
    ROW(b, RN_ROW_INSERT, I(4), S("q\"\n"), D(-1e20));
    ROW(b, RN_ROW_DELETE, I(2), S("y"), N);
    ROW(b, RN_ROW_INSERT, I(5), S("z"), D(1));
    ROW(b, RN_ROW_UPDATE_BEFORE, I(5), S("z"), D(1)); /* trailing -U: a delete */
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_OK);
    RN_CHECK_EQ_STR(tio_take(io), "{\"s\":\"x\"}|{\"a\":3,\"s\":\"x\",\"d\":2.0}|+U\n"
                                  "{\"s\":\"y\"}|NULL|-D\n"
                                  "{\"s\":\"q\\\"\\n\"}|{\"a\":4,\"s\":\"q\\\"\\n\",\"d\":-1e+20}|+I\n"
                                  "{\"s\":\"z\"}|NULL|-U\n");
    RN_CHECK_EQ_INT(rn_sink_records(sink), 4);
    RN_CHECK_EQ_INT(io->flushes, 0); /* delivery waits for the runtime's sync */
    char err[128];
    RN_CHECK_EQ_INT(rn_sink_sync(sink, err, sizeof err), RN_OK);
    RN_CHECK_EQ_INT(io->flushes, 1);
    /* NULL keys and many keys per batch (the slot table grows past 16) */
    b = fix_batch(&f);
    for (int i = 0; i < 40; i++) ROW(b, RN_ROW_INSERT, I(i), i % 2 ? S("odd") : N, N);
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_OK);
    RN_CHECK_EQ_STR(tio_take(io), "{\"s\":null}|{\"a\":38,\"s\":null,\"d\":null}|+I\n"
                                  "{\"s\":\"odd\"}|{\"a\":39,\"s\":\"odd\",\"d\":null}|+I\n");
    rn_op_free(sink);
    RN_CHECK_EQ_INT(closed, 1);
    fix_free(&f);
}

/* The typed path: a writer with write_rows gets values and change kinds,
 * one call per batch, and its JSON write is never used. */
static rn_err_t tio_write_rows(rn_sink_io_t *io, const rn_batch_t *b, const int *rows, int n,
                               const rn_sink_layout_t *layout, char *errbuf, size_t errbuf_size)
{
    test_io_t *t = (test_io_t *)io;
    rn_buf_appendf(&t->log, "call(%d rows, mode %d, key", n, (int)layout->mode);
    for (int k = 0; k < layout->npk; k++) rn_buf_appendf(&t->log, " %s", layout->schema->cols[layout->pk[k]].name);
    rn_buf_appends(&t->log, ")\n");
    for (int j = 0; j < n; j++) {
        int r = rows[j];
        rn_buf_appendf(&t->log, "%s", rn_rowkind_str((rn_rowkind_t)b->kinds[r]));
        for (int c = 0; c < layout->nvalue; c++) {
            int col = layout->value_cols ? layout->value_cols[c] : c;
            const rn_value_t *v = &b->cols[col][r];
            rn_buf_appendc(&t->log, ' ');
            if (v->null) rn_buf_appends(&t->log, "null");
            else if (layout->schema->cols[col].type->id == RN_TYPE_STRING) rn_buf_append(&t->log, v->s, v->len);
            else if (layout->schema->cols[col].type->id == RN_TYPE_DOUBLE) rn_buf_appendf(&t->log, "%g", v->d);
            else rn_buf_appendf(&t->log, "%lld", (long long)v->i);
        }
        rn_buf_appendc(&t->log, '\n');
    }
    return RN_OK;
}
static rn_err_t tio_write_never(rn_sink_io_t *io, const char *key, size_t klen, const char *value,
                                size_t vlen, rn_rowkind_t kind, char *errbuf, size_t errbuf_size)
{
    snprintf(errbuf, errbuf_size, "JSON write used although write_rows is set");
    return RN_ERR_FATAL;
}

static void test_sink_typed_rows(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "a:BIGINT", "s:STRING", "d:DOUBLE"), true);
    int closed = 0;
    test_io_t *io = tio_new(&closed);
    io->base.write = tio_write_never;
    io->base.write_rows = tio_write_rows;
    int pk[] = {1};
    rn_op_t *sink = rn_sink_new(f.feeder, "t", RN_SINK_UPSERT, 1, pk, &io->base);
    RN_REQUIRE(sink != NULL);
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), S("x"), D(0.5));
    ROW(b, RN_ROW_INSERT, I(2), S("y"), N);
    ROW(b, RN_ROW_UPDATE_BEFORE, I(1), S("x"), D(0.5));
    ROW(b, RN_ROW_UPDATE_AFTER, I(3), S("x"), D(2));
    ROW(b, RN_ROW_DELETE, I(2), S("y"), N);
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_OK);
    /* the last change per key, in first-touch order; -D stays a retraction */
    RN_CHECK_EQ_STR(tio_take(io), "call(2 rows, mode 1, key s)\n+U 3 x 2\n-D 2 y null\n");
    RN_CHECK_EQ_INT(rn_sink_records(sink), 2);
    /* value columns chosen by the table (e.g. EXCEPT_KEY) */
    int vcols[] = {0, 2};
    RN_CHECK_EQ_INT(rn_sink_set_value_columns(sink, 2, vcols), RN_OK);
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(7), S("z"), D(1));
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_OK);
    RN_CHECK_EQ_STR(tio_take(io), "call(1 rows, mode 1, key s)\n+I 7 1\n");
    rn_op_free(sink);
    RN_CHECK_EQ_INT(closed, 1);
    fix_free(&f);

    /* append: every row, in order */
    fix_init(&f, schema_of(2, "a:INT", "s:STRING"), false);
    io = tio_new(&closed);
    io->base.write = tio_write_never;
    io->base.write_rows = tio_write_rows;
    sink = rn_sink_new(f.feeder, "t", RN_SINK_APPEND, 0, NULL, &io->base);
    RN_REQUIRE(sink != NULL);
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), S("p"));
    ROW(b, RN_ROW_INSERT, I(1), S("p"));
    ROW(b, RN_ROW_INSERT, N, S("q"));
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_OK);
    RN_CHECK_EQ_STR(tio_take(io), "call(3 rows, mode 0, key)\n+I 1 p\n+I 1 p\n+I null q\n");
    RN_CHECK_EQ_INT(rn_sink_records(sink), 3);
    rn_op_free(sink);
    fix_free(&f);
}

/* RN_ERR_RETRY (op/io.h): a writer that cannot reach its destination
 * keeps the rows; the sink flushes again with backoff until it succeeds,
 * gives up after 'sink.max-retries' tries, and stops waiting when the run
 * is asked to stop. */
typedef struct retry_io {
    test_io_t t;
    int fail_flushes;           /* flushes still to answer RN_ERR_RETRY */
    bool fail_write;            /* the next write_rows answers RN_ERR_RETRY */
    volatile sig_atomic_t *stop_after; /* set by the second failing flush, or NULL */
    int failed;                 /* flushes answered RN_ERR_RETRY so far */
} retry_io_t;

static rn_err_t rio_flush(rn_sink_io_t *io, char *errbuf, size_t errbuf_size)
{
    retry_io_t *r = (retry_io_t *)io;
    r->t.flushes++;
    if (r->fail_flushes > 0) {
        r->fail_flushes--;
        if (++r->failed == 2 && r->stop_after) *r->stop_after = 1;
        snprintf(errbuf, errbuf_size, "server gone");
        return RN_ERR_RETRY;
    }
    return RN_OK;
}
static rn_err_t rio_write_rows(rn_sink_io_t *io, const rn_batch_t *b, const int *rows, int n,
                               const rn_sink_layout_t *layout, char *errbuf, size_t errbuf_size)
{
    retry_io_t *r = (retry_io_t *)io;
    tio_write_rows(io, b, rows, n, layout, errbuf, errbuf_size);
    if (!r->fail_write) return RN_OK;
    r->fail_write = false;
    snprintf(errbuf, errbuf_size, "server gone");
    return RN_ERR_RETRY;
}

static void test_sink_retries_until_delivered(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "a:INT", "s:STRING"), false);
    int closed = 0;
    retry_io_t *io = realloc(tio_new(&closed), sizeof *io);
    RN_REQUIRE(io != NULL);
    memset((char *)io + sizeof(test_io_t), 0, sizeof *io - sizeof(test_io_t));
    io->t.base.flush = rio_flush;
    io->t.base.write = tio_write_never;
    io->t.base.write_rows = rio_write_rows;
    rn_op_t *sink = rn_sink_new(f.feeder, "t", RN_SINK_APPEND, 0, NULL, &io->t.base);
    RN_REQUIRE(sink != NULL);
    char err[256];
    /* flush: 3 failures, then delivered (100 + 200 + 400 ms of backoff) */
    io->fail_flushes = 3;
    int64_t t0 = rn_clock_wall_ms();
    RN_CHECK_EQ_INT(rn_sink_sync(sink, err, sizeof err), RN_OK);
    RN_CHECK_EQ_INT(io->t.flushes, 4);
    RN_CHECK(rn_clock_wall_ms() - t0 >= 700);
    /* write_rows answering RN_ERR_RETRY: flushed again until delivered, the
     * batch counted once and not written twice */
    io->fail_write = true;
    io->fail_flushes = 1;
    io->t.flushes = 0;
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), S("p"));
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_OK);
    RN_CHECK_EQ_INT(io->t.flushes, 2);
    RN_CHECK_EQ_STR(tio_take(&io->t), "call(1 rows, mode 0, key)\n+I 1 p\n");
    RN_CHECK_EQ_INT(rn_sink_records(sink), 1);
    /* 'sink.max-retries' = 2: the third failure fails the sync */
    rn_sink_set_retry(sink, 2, NULL);
    io->fail_flushes = 10;
    io->t.flushes = 0;
    RN_CHECK_EQ_INT(rn_sink_sync(sink, err, sizeof err), RN_ERR_IO);
    RN_CHECK_EQ_INT(io->t.flushes, 3);
    RN_CHECK(strstr(err, "giving up after 2 retries") && strstr(err, "server gone"));
    /* retrying forever, until the stop flag is set (by the second failure) */
    volatile sig_atomic_t stop = 0;
    rn_sink_set_retry(sink, -1, &stop);
    io->fail_flushes = 1000;
    io->failed = 0;
    io->stop_after = &stop;
    io->t.flushes = 0;
    RN_CHECK_EQ_INT(rn_sink_sync(sink, err, sizeof err), RN_ERR_IO);
    RN_CHECK_EQ_INT(io->t.flushes, 2);
    RN_CHECK(strstr(err, "stopped while its writes were not delivered") != NULL);
    rn_op_free(sink);
    RN_CHECK_EQ_INT(closed, 1);
    fix_free(&f);
}

/* Two-phase commit (exactly-once, op/io.h commit_once): the sink keeps its
 * rows until a checkpoint commits them, puts them into the checkpoint, and
 * a commit repeated from the checkpoint's bytes (a restore) writes nothing
 * twice, since the writer records each (sink, writer, checkpoint). */
typedef struct tp_io {
    test_io_t t;                /* log: the rows write_rows got since the last commit */
    rn_buf_t db;                /* the committed rows, as tio_write_rows logs them */
    char records[16][64];       /* "sink|writer|ckpt" committed */
    int nrecords;
    int commits;                /* commit_once calls */
    int fail_commits;           /* commit_once calls still to answer RN_ERR_RETRY */
    uint64_t keep_from;         /* the last commit's */
} tp_io_t;

static rn_err_t tpio_commit_once(rn_sink_io_t *io, const char *sink, const char *writer, uint64_t ckpt,
                                 uint64_t keep_from, char *errbuf, size_t errbuf_size)
{
    tp_io_t *t = (tp_io_t *)io;
    t->commits++;
    if (t->fail_commits > 0) { /* the rows stay held */
        t->fail_commits--;
        snprintf(errbuf, errbuf_size, "server gone");
        return RN_ERR_RETRY;
    }
    char rec[64];
    snprintf(rec, sizeof rec, "%s|%s|%llu", sink, writer, (unsigned long long)ckpt);
    bool seen = false;
    for (int i = 0; i < t->nrecords; i++) seen = seen || !strcmp(t->records[i], rec);
    if (!seen && t->nrecords < 16) {
        snprintf(t->records[t->nrecords++], sizeof t->records[0], "%s", rec);
        if (t->t.log.len) rn_buf_append(&t->db, t->t.log.data, t->t.log.len);
    }
    rn_buf_clear(&t->t.log);
    t->keep_from = keep_from;
    return RN_OK;
}
static rn_err_t tpio_flush_never(rn_sink_io_t *io, char *errbuf, size_t errbuf_size)
{
    snprintf(errbuf, errbuf_size, "flush called on a two-phase writer");
    return RN_ERR_FATAL;
}
static void tpio_close(rn_sink_io_t *io)
{
    rn_buf_free(&((tp_io_t *)io)->db);
    tio_close(io);
}
static tp_io_t *tpio_new(int *closed)
{
    tp_io_t *io = realloc(tio_new(closed), sizeof *io);
    if (!io) return NULL;
    memset((char *)io + sizeof(test_io_t), 0, sizeof *io - sizeof(test_io_t));
    rn_buf_init(&io->db);
    io->t.base.write = tio_write_never;
    io->t.base.write_rows = tio_write_rows;
    io->t.base.flush = tpio_flush_never;
    io->t.base.commit_once = tpio_commit_once;
    io->t.base.close = tpio_close;
    return io;
}
static const char *tpio_db(tp_io_t *io)
{
    snprintf(logged, sizeof logged, "%s", io->db.data ? io->db.data : "");
    return logged;
}

static void test_sink_two_phase(void)
{
    fix_t f;
    fix_init(&f, schema_of(4, "a:BIGINT", "s:STRING", "d:DOUBLE", "b:BOOLEAN"), false);
    int closed = 0;
    tp_io_t *io = tpio_new(&closed);
    RN_REQUIRE(io != NULL);
    rn_op_t *sink = rn_sink_new(f.feeder, "t", RN_SINK_APPEND, 0, NULL, &io->t.base);
    RN_REQUIRE(sink != NULL);
    char err[512];
    RN_CHECK(!rn_sink_two_phase(sink));
    RN_CHECK_EQ_INT(rn_sink_set_two_phase(sink, "orders", err, sizeof err), RN_OK);
    RN_CHECK(rn_sink_two_phase(sink));
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), S("x"), D(0.5), I(1));
    ROW(b, RN_ROW_INSERT, N, S(""), N, I(0));
    ROW(b, RN_ROW_INSERT, I(-7), N, D(-1e20), N);
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_OK);
    /* nothing reaches the writer between checkpoints, a sync included */
    RN_CHECK_EQ_INT(io->t.log.len, 0);
    RN_CHECK_EQ_INT(rn_sink_sync(sink, err, sizeof err), RN_OK);
    RN_CHECK_EQ_INT(sink->vt->finish(sink, &f.ctx), RN_OK);
    RN_CHECK_EQ_INT(io->commits, 0);
    RN_CHECK_EQ_INT(rn_sink_pending_rows(sink), 3);
    size_t keys = 0;
    RN_CHECK(sink->vt->state_size(sink, &keys) > 0 && keys == 3);
    /* pre-commit: the checkpoint's section; the rows stay pending */
    rn_buf_t sec;
    rn_buf_init(&sec);
    RN_CHECK_EQ_INT(rn_sink_snapshot_pending(sink, &sec), RN_OK);
    RN_CHECK_EQ_INT(rn_sink_pending_rows(sink), 3);
    /* commit after the checkpoint: the writer fails twice, then commits once */
    io->fail_commits = 2;
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "p1", 100, 40, err, sizeof err), RN_OK);
    RN_CHECK_EQ_INT(io->commits, 3);
    RN_CHECK_EQ_INT(io->keep_from, 40);
    const char *want = "call(3 rows, mode 0, key)\n+I 1 x 0.5 1\n+I null  null 0\n+I -7 null -1e+20 null\n";
    RN_CHECK_EQ_STR(tpio_db(io), want);
    RN_CHECK_EQ_INT(rn_sink_pending_rows(sink), 0);
    RN_CHECK_EQ_INT(rn_sink_records(sink), 3);
    /* the same checkpoint committed again from its bytes (a restore after a
     * crash between the two commits): recorded already, nothing written */
    RN_CHECK_EQ_INT(rn_sink_commit_restored(sink, "p1", 100, sec.data, sec.len, err, sizeof err), RN_OK);
    RN_CHECK_EQ_STR(tpio_db(io), want);
    RN_CHECK_EQ_INT(io->nrecords, 1);
    /* an empty commit records nothing (no round trip) */
    int before = io->commits;
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "p1", 101, 0, err, sizeof err), RN_OK);
    RN_CHECK_EQ_INT(io->commits, before);
    /* the new rows after a checkpoint are kept apart from the restored ones */
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(2), S("y"), D(2), I(1));
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_OK);
    /* another process restoring the same file (a fresh sink, writer "p1")
     * writes nothing either; a checkpoint of another writer is its own */
    tp_io_t *io2 = tpio_new(&closed);
    RN_REQUIRE(io2 != NULL);
    rn_op_t *sink2 = rn_sink_new(f.feeder, "t", RN_SINK_APPEND, 0, NULL, &io2->t.base);
    RN_REQUIRE(sink2 != NULL);
    RN_CHECK_EQ_INT(rn_sink_set_two_phase(sink2, "orders", err, sizeof err), RN_OK);
    snprintf(io2->records[io2->nrecords++], sizeof io2->records[0], "orders|p1|100"); /* the shared database */
    RN_CHECK_EQ_INT(rn_sink_commit_restored(sink2, "p1", 100, sec.data, sec.len, err, sizeof err), RN_OK);
    RN_CHECK_EQ_STR(tpio_db(io2), "");
    RN_CHECK_EQ_INT(rn_sink_commit_restored(sink2, "p2", 100, sec.data, sec.len, err, sizeof err), RN_OK);
    RN_CHECK_EQ_STR(tpio_db(io2), want);
    RN_CHECK_EQ_INT(rn_sink_pending_rows(sink2), 0);
    RN_CHECK_EQ_INT(rn_sink_pending_rows(sink), 1);
    /* bytes that are not this sink's pending rows: every truncation fails */
    for (size_t n = 0; n < sec.len; n++) {
        rn_err_t e = rn_sink_commit_restored(sink2, "p3", 7, sec.data, n, err, sizeof err);
        if (e != RN_ERR_DECODE) {
            fprintf(stderr, "truncated to %zu of %zu: %s\n", n, sec.len, rn_err2str(e));
            RN_CHECK(false);
            break;
        }
    }
    RN_CHECK_EQ_STR(tpio_db(io2), want);
    /* a kind byte out of range */
    sec.data[16] = 9;
    RN_CHECK_EQ_INT(rn_sink_commit_restored(sink2, "p3", 7, sec.data, sec.len, err, sizeof err), RN_ERR_DECODE);
    RN_CHECK(strstr(err, "corrupt") != NULL);
    /* giving up: the rows stay pending and the error says who commits them */
    rn_sink_set_retry(sink, 1, NULL);
    io->fail_commits = 5;
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "p1", 102, 0, err, sizeof err), RN_ERR_IO);
    RN_CHECK(strstr(err, "restores the checkpoint commits it") && strstr(err, "server gone"));
    RN_CHECK_EQ_INT(rn_sink_pending_rows(sink), 1);
    rn_buf_free(&sec);
    rn_op_free(sink);
    rn_op_free(sink2);
    RN_CHECK_EQ_INT(closed, 2);
    fix_free(&f);

    /* upsert: the last change per key of each batch, with its kind, held
     * and committed as the writer would have got it */
    fix_init(&f, schema_of(2, "k:STRING", "v:BIGINT"), true);
    io = tpio_new(&closed);
    RN_REQUIRE(io != NULL);
    int pk[] = {0};
    sink = rn_sink_new(f.feeder, "t", RN_SINK_UPSERT, 1, pk, &io->t.base);
    RN_REQUIRE(sink != NULL);
    RN_CHECK_EQ_INT(rn_sink_set_two_phase(sink, "totals", err, sizeof err), RN_OK);
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, S("a"), I(1));
    ROW(b, RN_ROW_INSERT, S("b"), I(2));
    ROW(b, RN_ROW_UPDATE_BEFORE, S("a"), I(1));
    ROW(b, RN_ROW_UPDATE_AFTER, S("a"), I(3));
    ROW(b, RN_ROW_DELETE, S("b"), I(2));
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_OK);
    RN_CHECK_EQ_INT(io->t.log.len, 0);
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "p1", 5, 0, err, sizeof err), RN_OK);
    RN_CHECK_EQ_STR(tpio_db(io), "call(2 rows, mode 1, key k)\n+U a 3\n-D b 2\n");
    RN_CHECK_EQ_STR(io->records[0], "totals|p1|5");
    rn_op_free(sink);
    RN_CHECK_EQ_INT(closed, 3);
    fix_free(&f);

    /* a writer without commit_once cannot */
    fix_init(&f, schema_of(1, "a:INT"), false);
    test_io_t *plain = tio_new(&closed);
    sink = rn_sink_new(f.feeder, "t", RN_SINK_APPEND, 0, NULL, &plain->base);
    RN_REQUIRE(sink != NULL);
    RN_CHECK_EQ_INT(rn_sink_set_two_phase(sink, "t", err, sizeof err), RN_ERR_UNSUPPORTED);
    RN_CHECK(!rn_sink_two_phase(sink));
    rn_op_free(sink);
    fix_free(&f);
}

static void test_sink_upsert_composite_key_order(void)
{
    fix_t f;
    fix_init(&f, schema_of(3, "a:BIGINT", "b:STRING", "n:BIGINT"), true);
    int closed = 0;
    test_io_t *io = tio_new(&closed);
    int pk[] = {1, 0};
    rn_op_t *sink = rn_sink_new(f.feeder, "t", RN_SINK_UPSERT, 2, pk, &io->base);
    RN_REQUIRE(sink != NULL);
    /* 300 rows over 100 keys; each key's last change is +U with n = 200 + i */
    rn_arena_reset(&f.arena);
    rn_batch_t *b = rn_batch_new(&f.arena, f.in, 300);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 100; i++)
            ROW(b, round ? RN_ROW_UPDATE_AFTER : RN_ROW_INSERT, I(i / 2), S(i % 2 ? "p" : "q"),
                I(round * 100 + i));
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_OK);
    const char *got = tio_take(io);
    rn_buf_t want;
    rn_buf_init(&want);
    for (int i = 0; i < 100; i++)
        rn_buf_appendf(&want, "{\"b\":\"%s\",\"a\":%d}|{\"a\":%d,\"b\":\"%s\",\"n\":%d}|+U\n",
                       i % 2 ? "p" : "q", i / 2, i / 2, i % 2 ? "p" : "q", 200 + i);
    RN_CHECK_EQ_STR(got, want.data);
    rn_buf_free(&want);
    rn_op_free(sink);
    fix_free(&f);
}

static void test_sink_append_writes_every_row(void)
{
    fix_t f;
    fix_init(&f, schema_of(4, "a:INT", "s:STRING", "ok:BOOLEAN", "d:DOUBLE"), false);
    int closed = 0;
    test_io_t *io = tio_new(&closed);
    rn_op_t *sink = rn_sink_new(f.feeder, "t", RN_SINK_APPEND, 0, NULL, &io->base);
    RN_REQUIRE(sink != NULL);
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), S("x"), rn_value_bool(true), D(1.5));
    ROW(b, RN_ROW_INSERT, I(1), S("x"), rn_value_bool(true), D(1.5));
    ROW(b, RN_ROW_INSERT, N, N, rn_value_bool(false), D(0.1));
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_OK);
    RN_CHECK_EQ_STR(tio_take(io), "-|{\"a\":1,\"s\":\"x\",\"ok\":true,\"d\":1.5}|+I\n"
                                  "-|{\"a\":1,\"s\":\"x\",\"ok\":true,\"d\":1.5}|+I\n"
                                  "-|{\"a\":null,\"s\":null,\"ok\":false,\"d\":0.1}|+I\n");
    RN_CHECK_EQ_INT(rn_sink_records(sink), 3);
    RN_CHECK_EQ_INT(rn_op_finish(sink, &f.ctx), RN_OK);
    rn_buf_t ex;
    rn_buf_init(&ex);
    sink->vt->explain(sink, &ex);
    RN_CHECK_EQ_STR(ex.data, "t, append");
    rn_buf_free(&ex);
    rn_op_free(sink);
    RN_CHECK_EQ_INT(closed, 1);
    fix_free(&f);
}

/* COUNT(DISTINCT) keeps one store of (group key, value) per aggregate: a
 * value counted for a group that was then dropped (its rows netted to zero
 * through retractions that did not match) does not count for a later group
 * of the same key. */
static void test_aggregate_distinct_outlives_no_group(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:BIGINT", "x:BIGINT"), true);
    rn_agg_spec_t aggs[] = {{RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
                            {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(3, "k:BIGINT", "n:BIGINT", "cd:BIGINT");
    rn_op_t *agg = rn_aggregate_new(f.feeder, 1, 2, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(agg != NULL);
    rn_op_t *cap = capture_new(agg);
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_UPDATE_BEFORE, I(1), I(5)); /* an update of a row this operator never saw */
    ROW(b, RN_ROW_UPDATE_AFTER, I(1), I(7));
    ROW(b, RN_ROW_INSERT, I(2), I(7));
    ROW(b, RN_ROW_INSERT, I(2), I(8));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(2,2,2)");
    RN_CHECK_EQ_INT(rn_aggregate_groups(agg), 1);
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), I(7));
    ROW(b, RN_ROW_INSERT, I(1), I(9));
    ROW(b, RN_ROW_DELETE, I(2), I(7));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(1,2,2) -U(2,2,2) +U(2,1,1)");
    b = fix_batch(&f);
    ROW(b, RN_ROW_DELETE, I(2), I(8)); /* group 2 empties and goes */
    ROW(b, RN_ROW_INSERT, I(1), I(7));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-D(2,1,1) -U(1,2,2) +U(1,3,2)");
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(2), I(8)); /* a new group 2 */
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(2,1,1)");
    rn_op_free(cap);
    rn_op_free(agg);
    rn_schema_unref(out);
    fix_free(&f);
}

/* State TTL with an injected processing time (ctx.now_ms): a group not
 * read or written for the TTL is dropped without a retraction and a later
 * row starts a new group (+I, distinct values counted afresh); access
 * keeps a group alive; the per-batch sweep drops idle groups without input
 * for their keys. */
static void test_aggregate_state_ttl(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:BIGINT", "x:BIGINT"), true);
    rn_agg_spec_t aggs[] = {{RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
                            {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_SUM, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(4, "k:BIGINT", "n:BIGINT", "cd:BIGINT", "s:BIGINT");
    rn_op_t *agg = rn_aggregate_new(f.feeder, 1, 3, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(agg != NULL);
    RN_CHECK(rn_aggregate_set_ttl(agg, 1000));
    rn_op_t *cap = capture_new(agg);

    f.ctx.now_ms = 10000;
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), I(5));
    ROW(b, RN_ROW_INSERT, I(2), I(6));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(1,1,1,5) +I(2,1,1,6)");
    RN_CHECK(!rn_aggregate_set_ttl(agg, 5)); /* not after the first group */

    f.ctx.now_ms = 10600; /* key 1 written: alive until 11600 */
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), I(5));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(1,1,1,5) +U(1,2,1,10)");

    f.ctx.now_ms = 10999; /* key 2 idle for 999 ms: still there */
    b = fix_batch(&f);
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_INT(rn_aggregate_groups(agg), 2);

    f.ctx.now_ms = 11000; /* key 2 idle for 1000 ms: expired, dropped silently */
    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(2), I(6));
    ROW(b, RN_ROW_INSERT, I(1), I(7));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(2,1,1,6) -U(1,2,1,10) +U(1,3,2,17)");

    f.ctx.now_ms = 11999; /* key 1 idle for 999 ms: a retraction for it counts */
    b = fix_batch(&f);
    ROW(b, RN_ROW_DELETE, I(1), I(7));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "-U(1,3,2,17) +U(1,2,1,10)");

    f.ctx.now_ms = 13500; /* both idle past the TTL: a retraction finds nothing to retract */
    b = fix_batch(&f);
    ROW(b, RN_ROW_DELETE, I(1), I(5));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "");

    /* no input for key 2: the sweep of an empty batch drops it */
    b = fix_batch(&f);
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_INT(rn_aggregate_groups(agg), 0);
    RN_CHECK_EQ_STR(take(cap), "");

    b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, I(1), I(5));
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(take(cap), "+I(1,1,1,5)");
    rn_op_free(cap);
    rn_op_free(agg);
    rn_schema_unref(out);
    fix_free(&f);
}

/* The TTL sweep does bounded work per batch: with many idle groups, one
 * small batch drops only some of them, and enough batches drop them all. */
static void test_aggregate_state_ttl_sweep_is_incremental(void)
{
    enum { GROUPS = 20000 };
    fix_t f;
    fix_init(&f, schema_of(2, "k:BIGINT", "x:BIGINT"), false);
    rn_agg_spec_t aggs[] = {{RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
                            {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(3, "k:BIGINT", "n:BIGINT", "cd:BIGINT");
    rn_op_t *agg = rn_aggregate_new(f.feeder, 1, 2, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(agg != NULL);
    RN_CHECK(rn_aggregate_set_ttl(agg, 60000));
    f.ctx.now_ms = 0;
    for (int k = 0; k < GROUPS; k += 64) {
        rn_batch_t *b = fix_batch(&f);
        for (int i = k; i < k + 64 && i < GROUPS; i++) ROW(b, RN_ROW_INSERT, I(i), I(i % 3));
        RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    }
    RN_CHECK_EQ_INT(rn_aggregate_groups(agg), GROUPS);
    f.ctx.now_ms = 60000;
    rn_batch_t *b = fix_batch(&f);
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    size_t left = rn_aggregate_groups(agg);
    RN_CHECK(left < GROUPS && left > GROUPS - 200); /* one empty batch: at most 64 slots examined */
    int batches = 1;
    while (rn_aggregate_groups(agg) > 0 && batches < 100000) {
        b = fix_batch(&f);
        RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
        batches++;
    }
    RN_CHECK_EQ_INT(rn_aggregate_groups(agg), 0);
    RN_CHECK(batches > 100);
    rn_op_free(agg);
    rn_schema_unref(out);
    fix_free(&f);
}

/* Operators fail cleanly (and leak nothing) when allocations fail. */
static void test_aggregate_allocation_failures(void)
{
    bool completed = false;
    for (long fail = 0; fail < 5000 && !completed; fail++) {
        fix_t f;
        fix_init(&f, schema_of(2, "k:STRING", "s:STRING"), true);
        rn_agg_spec_t aggs[] = {{RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_STRING, RN_TYPE_BIGINT},
                                {RN_AGG_MAX, 1, RN_TYPE_STRING, RN_TYPE_STRING}};
        rn_schema_t *out = schema_of(3, "k:STRING", "cd:BIGINT", "mx:STRING");
        rn_mem_fail_after(fail);
        rn_op_t *agg = rn_aggregate_new(f.feeder, 1, 2, aggs, out, f.errbuf, sizeof f.errbuf);
        rn_err_t err = agg ? RN_OK : RN_ERR_NOMEM;
        for (int batch = 0; batch < 3 && err == RN_OK; batch++) {
            rn_batch_t *b = fix_batch(&f);
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
                ROW(b, batch == 2 && i < 10 ? RN_ROW_DELETE : RN_ROW_INSERT,
                    rn_value_str(kc, (uint32_t)strlen(kc)), rn_value_str(sc, (uint32_t)strlen(sc)));
            }
            if (err == RN_OK) err = fix_push(&f, agg, b);
        }
        rn_mem_fail_after(-1);
        RN_CHECK(err == RN_OK || err == RN_ERR_NOMEM);
        completed = err == RN_OK;
        rn_op_free(agg);
        rn_schema_unref(out);
        fix_free(&f);
    }
    RN_CHECK(completed);
}


/* An allocation failure fails one batch, not every later one: scratch
 * buffers recover once memory is back. */
static void test_operators_recover_after_allocation_failure(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:STRING", "x:BIGINT"), false);
    int closed = 0;
    test_io_t *io = tio_new(&closed);
    int pk[] = {0};
    rn_op_t *sink = rn_sink_new(f.feeder, "t", RN_SINK_UPSERT, 1, pk, &io->base);
    rn_agg_spec_t aggs[] = {{RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(2, "k:STRING", "n:BIGINT");
    rn_op_t *agg = rn_aggregate_new(f.feeder, 1, 1, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(sink != NULL && agg != NULL);
    rn_op_t *cap = capture_new(agg);
    rn_batch_t *b = fix_batch(&f);
    ROW(b, RN_ROW_INSERT, S("a-key-long-enough-to-need-a-bigger-buffer-than-the-first-64-bytes"), I(1));
    rn_mem_fail_after(0); /* the batch is in the arena already; the scratch buffers are not */
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_ERR_NOMEM);
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_ERR_NOMEM);
    rn_mem_fail_after(-1);
    RN_CHECK_EQ_INT(fix_push(&f, sink, b), RN_OK);
    RN_CHECK_EQ_INT(fix_push(&f, agg, b), RN_OK);
    RN_CHECK_EQ_STR(tio_take(io), "{\"k\":\"a-key-long-enough-to-need-a-bigger-buffer-than-the-first-64-bytes\"}|"
                                  "{\"k\":\"a-key-long-enough-to-need-a-bigger-buffer-than-the-first-64-bytes\",\"x\":1}|+I\n");
    RN_CHECK_EQ_STR(take(cap), "+I(a-key-long-enough-to-need-a-bigger-buffer-than-the-first-64-bytes,1)");
    rn_op_free(cap);
    rn_op_free(agg);
    rn_op_free(sink);
    rn_schema_unref(out);
    fix_free(&f);
}

/* ---- GroupAggregate snapshot / restore ----------------------------------- */

/* Random rows over (g BIGINT, k STRING, x BIGINT, d DOUBLE, s STRING):
 * inserts, and (when retract) deletes of rows inserted before, so the
 * input is a valid changelog. live holds the rows not deleted yet. */
typedef struct snap_gen {
    unsigned seed;
    int live[256][5];           /* indexes into the value pools, -1 = NULL */
    int nlive;
} snap_gen_t;

static const char *snap_strs[] = {"", "a", "bb", "zz", "m"};
static const double snap_dbls[] = {0.5, -0.0, 2.25, -3.0};

static unsigned snap_rand(snap_gen_t *g, unsigned n)
{
    g->seed = g->seed * 1103515245u + 12345u;
    return (g->seed >> 16) % n;
}

static void snap_row(rn_batch_t *b, rn_rowkind_t kind, const int *v)
{
    ROW(b, kind, v[0] < 0 ? N : I(v[0]), v[1] < 0 ? N : S(snap_strs[v[1]]), v[2] < 0 ? N : I(v[2]),
        v[3] < 0 ? N : D(snap_dbls[v[3]]), v[4] < 0 ? N : S(snap_strs[v[4]]));
}

static void snap_fill(snap_gen_t *g, rn_batch_t *b, bool retract)
{
    int nrows = 1 + (int)snap_rand(g, 6);
    for (int r = 0; r < nrows; r++) {
        if (retract && g->nlive > 0 && (g->nlive == 256 || snap_rand(g, 3) == 0)) {
            int j = (int)snap_rand(g, (unsigned)g->nlive);
            snap_row(b, RN_ROW_DELETE, g->live[j]);
            memcpy(g->live[j], g->live[--g->nlive], sizeof g->live[j]);
            continue;
        }
        int v[5] = {(int)snap_rand(g, 4) - (snap_rand(g, 8) == 0), (int)snap_rand(g, 3),
                    (int)snap_rand(g, 6) - 1, (int)snap_rand(g, 5) - 1, (int)snap_rand(g, 6) - 1};
        snap_row(b, RN_ROW_INSERT, v);
        if (retract && g->nlive < 256) memcpy(g->live[g->nlive++], v, sizeof v);
    }
}

static rn_schema_t *snap_in_schema(void)
{
    return schema_of(5, "g:BIGINT", "k:STRING", "x:BIGINT", "d:DOUBLE", "s:STRING");
}

/* Aggregates over a retracting input (every layout: row count, counts,
 * sums, multisets of strings and integers) and over an insert-only one
 * (owned strings, FIRST/LAST_VALUE). */
static const rn_agg_spec_t snap_aggs_retract[] = {
    {RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
    {RN_AGG_COUNT, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
    {RN_AGG_COUNT_DISTINCT, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
    {RN_AGG_COUNT_DISTINCT, 4, RN_TYPE_STRING, RN_TYPE_BIGINT},
    {RN_AGG_SUM, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
    {RN_AGG_SUM, 3, RN_TYPE_DOUBLE, RN_TYPE_DOUBLE},
    {RN_AGG_AVG, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
    {RN_AGG_MIN, 4, RN_TYPE_STRING, RN_TYPE_STRING},
    {RN_AGG_MAX, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
    {RN_AGG_MIN, 3, RN_TYPE_DOUBLE, RN_TYPE_DOUBLE},
};
static const rn_agg_spec_t snap_aggs_insert[] = {
    {RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
    {RN_AGG_MIN, 4, RN_TYPE_STRING, RN_TYPE_STRING},
    {RN_AGG_MAX, 4, RN_TYPE_STRING, RN_TYPE_STRING},
    {RN_AGG_MIN, 3, RN_TYPE_DOUBLE, RN_TYPE_DOUBLE},
    {RN_AGG_FIRST_VALUE, 4, RN_TYPE_STRING, RN_TYPE_STRING},
    {RN_AGG_LAST_VALUE, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
    {RN_AGG_COUNT_DISTINCT, 4, RN_TYPE_STRING, RN_TYPE_BIGINT},
};

static rn_schema_t *snap_out_schema(const rn_agg_spec_t *aggs, int naggs)
{
    rn_schema_t *s = rn_schema_new(2 + naggs);
    rn_schema_set(s, 0, "g", &rn_type_bigint);
    rn_schema_set(s, 1, "k", &rn_type_string);
    for (int i = 0; i < naggs; i++) {
        char name[16];
        snprintf(name, sizeof name, "a%d", i);
        rn_type_id t = aggs[i].result_type;
        rn_schema_set(s, 2 + i, name,
                      t == RN_TYPE_STRING   ? &rn_type_string
                      : t == RN_TYPE_DOUBLE ? &rn_type_double
                                            : &rn_type_bigint);
    }
    return s;
}

/* Runs random batches into aggregate a; at batch `cut` snapshots it into a
 * fresh aggregate b; from then on both get the same batches and must emit
 * the same rows. Adds the number of batches whose outputs differed to
 * *differ. */
static void snap_run_ttl(const rn_agg_spec_t *aggs, int naggs, bool retract, unsigned seed, int cut,
                         int64_t ttl, int *differ)
{
    fix_t f;
    fix_init(&f, snap_in_schema(), retract);
    rn_schema_t *out = snap_out_schema(aggs, naggs);
    rn_op_t *a = rn_aggregate_new(f.feeder, 2, naggs, aggs, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(a != NULL);
    if (ttl > 0) RN_REQUIRE(rn_aggregate_set_ttl(a, ttl));
    rn_op_t *capa = capture_new(a);
    rn_op_t *b = NULL, *capb = NULL;
    snap_gen_t g = {.seed = seed};
    char want[8192];
    for (int batch = 0; batch < 2 * cut; batch++) {
        if (batch == cut) {
            rn_buf_t snap;
            rn_buf_init(&snap);
            RN_REQUIRE(a->vt->snapshot(a, &snap, NULL) == RN_OK);
            b = rn_aggregate_new(f.feeder, 2, naggs, aggs, out, f.errbuf, sizeof f.errbuf);
            RN_REQUIRE(b != NULL);
            if (ttl > 0) RN_REQUIRE(rn_aggregate_set_ttl(b, ttl));
            capb = capture_new(b);
            RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, snap.len), RN_OK);
            RN_CHECK_EQ_INT(rn_aggregate_groups(b), rn_aggregate_groups(a));
            rn_buf_free(&snap);
        }
        rn_batch_t *in = fix_batch(&f);
        snap_fill(&g, in, retract);
        if (ttl > 0) f.ctx.now_ms += snap_rand(&g, (unsigned)ttl / 3); /* groups idle for the TTL expire */
        RN_REQUIRE(fix_push(&f, a, in) == RN_OK);
        snprintf(want, sizeof want, "%s", take(capa));
        if (!b) continue;
        RN_REQUIRE(fix_push(&f, b, in) == RN_OK);
        const char *got = take(capb);
        if (strcmp(got, want) != 0) {
            if ((*differ)++ < 3) fprintf(stderr, "batch %d:\n  restored %s\n  original %s\n", batch, got, want);
        }
    }
    rn_op_free(capa);
    rn_op_free(a);
    rn_op_free(capb);
    rn_op_free(b);
    rn_schema_unref(out);
    fix_free(&f);
}

static void snap_run(const rn_agg_spec_t *aggs, int naggs, bool retract, unsigned seed, int cut,
                     int *differ)
{
    snap_run_ttl(aggs, naggs, retract, seed, cut, 0, differ);
}

static void test_aggregate_snapshot_restore(void)
{
    int differ = 0;
    for (unsigned seed = 1; seed <= 4; seed++) {
        snap_run(snap_aggs_retract, 10, true, seed, 40 * (int)seed, &differ);
        snap_run(snap_aggs_insert, 7, false, seed, 40 * (int)seed, &differ);
    }
    RN_CHECK_EQ_INT(differ, 0);
}

/* With a state TTL the snapshot carries each group's last access, so the
 * restored aggregate expires groups exactly when the original does. */
static void test_aggregate_snapshot_restore_ttl(void)
{
    int differ = 0;
    for (unsigned seed = 1; seed <= 4; seed++) {
        snap_run_ttl(snap_aggs_retract, 10, true, seed, 40 * (int)seed, 90, &differ);
        snap_run_ttl(snap_aggs_insert, 7, false, seed, 40 * (int)seed, 90, &differ);
    }
    RN_CHECK_EQ_INT(differ, 0);
}

/* The TTL must match, and a damaged access time is refused. */
static void test_aggregate_snapshot_ttl_checked(void)
{
    fix_t f;
    fix_init(&f, snap_in_schema(), false);
    rn_schema_t *out = snap_out_schema(snap_aggs_insert, 7);
    rn_op_t *a = rn_aggregate_new(f.feeder, 2, 7, snap_aggs_insert, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(a != NULL);
    RN_REQUIRE(rn_aggregate_set_ttl(a, 1000));
    f.ctx.now_ms = 5000;
    rn_batch_t *in = fix_batch(&f);
    int r1[5] = {1, 0, 3, 1, 2}, r2[5] = {2, 1, 4, 0, 3};
    snap_row(in, RN_ROW_INSERT, r1);
    snap_row(in, RN_ROW_INSERT, r2);
    RN_REQUIRE(fix_push(&f, a, in) == RN_OK);
    rn_buf_t snap;
    rn_buf_init(&snap);
    RN_REQUIRE(a->vt->snapshot(a, &snap, NULL) == RN_OK);
    int64_t ttls[] = {0, 999, 1000};
    rn_err_t want[] = {RN_ERR_DECODE, RN_ERR_DECODE, RN_OK};
    for (int i = 0; i < 3; i++) {
        rn_op_t *b = rn_aggregate_new(f.feeder, 2, 7, snap_aggs_insert, out, f.errbuf, sizeof f.errbuf);
        RN_REQUIRE(b != NULL);
        if (ttls[i]) RN_REQUIRE(rn_aggregate_set_ttl(b, ttls[i]));
        RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, snap.len), want[i]);
        RN_CHECK_EQ_INT(rn_aggregate_groups(b), want[i] == RN_OK ? 2 : 0);
        if (want[i] == RN_OK) {
            /* Both groups were accessed at 5000: gone at 6000, not before. */
            rn_op_t *cap = capture_new(b);
            f.ctx.now_ms = 5999;
            in = fix_batch(&f);
            snap_row(in, RN_ROW_INSERT, r1);
            RN_REQUIRE(fix_push(&f, b, in) == RN_OK);
            RN_CHECK_EQ_STR(take(cap), "-U(1,,1,bb,bb,-0,bb,3,1) +U(1,,2,bb,bb,-0,bb,3,1)");
            f.ctx.now_ms = 6998; /* group 1 accessed at 5999 (alive), group 2 at 5000 (expired) */
            in = fix_batch(&f);
            snap_row(in, RN_ROW_INSERT, r1);
            snap_row(in, RN_ROW_INSERT, r2);
            RN_REQUIRE(fix_push(&f, b, in) == RN_OK);
            RN_CHECK_EQ_STR(take(cap), "-U(1,,2,bb,bb,-0,bb,3,1) +U(1,,3,bb,bb,-0,bb,3,1) +I(2,a,1,zz,zz,0.5,zz,4,1)");
            rn_op_free(cap);
        }
        rn_op_free(b);
    }
    /* A negative access time is refused. */
    unsigned char stamp[8] = {5000 & 0xff, 5000 >> 8};
    unsigned char *at = memmem(snap.data, snap.len, stamp, sizeof stamp);
    RN_REQUIRE(at != NULL);
    at[7] = 0x80;
    rn_op_t *b = rn_aggregate_new(f.feeder, 2, 7, snap_aggs_insert, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(b != NULL && rn_aggregate_set_ttl(b, 1000));
    RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, snap.len), RN_ERR_DECODE);
    RN_CHECK_EQ_INT(rn_aggregate_groups(b), 0);
    rn_op_free(b);
    rn_buf_free(&snap);
    rn_op_free(a);
    rn_schema_unref(out);
    fix_free(&f);
}

/* A restore that fails must leave the aggregate empty and usable. */
static void snap_check_rejected(fix_t *f, rn_schema_t *out, const void *data, size_t len,
                                int *bad)
{
    rn_op_t *b = rn_aggregate_new(f->feeder, 2, 10, snap_aggs_retract, out, f->errbuf, sizeof f->errbuf);
    RN_REQUIRE(b != NULL);
    rn_err_t err = b->vt->restore(b, data, len);
    if (err != RN_ERR_DECODE || rn_aggregate_groups(b) != 0) {
        if ((*bad)++ < 3) fprintf(stderr, "length %zu: restore gave %d\n", len, (int)err);
    }
    rn_op_free(b);
}

static void test_aggregate_snapshot_rejects_corrupt(void)
{
    fix_t f;
    fix_init(&f, snap_in_schema(), true);
    rn_schema_t *out = snap_out_schema(snap_aggs_retract, 10);
    rn_op_t *a = rn_aggregate_new(f.feeder, 2, 10, snap_aggs_retract, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(a != NULL);
    rn_batch_t *in = fix_batch(&f);
    int r1[5] = {1, 0, 3, 1, 2}, r2[5] = {1, 0, 4, 0, 3}, r3[5] = {-1, 2, -1, -1, -1};
    snap_row(in, RN_ROW_INSERT, r1);
    snap_row(in, RN_ROW_INSERT, r2);
    snap_row(in, RN_ROW_INSERT, r3);
    RN_REQUIRE(fix_push(&f, a, in) == RN_OK);
    rn_buf_t snap;
    rn_buf_init(&snap);
    RN_REQUIRE(a->vt->snapshot(a, &snap, NULL) == RN_OK);
    RN_CHECK(snap.len > 40);

    /* Every truncation is rejected. */
    int bad = 0;
    for (size_t len = 0; len < snap.len; len++) snap_check_rejected(&f, out, snap.data, len, &bad);
    RN_CHECK_EQ_INT(bad, 0);
    /* A trailing byte, a foreign magic, another version. */
    unsigned char *copy = malloc(snap.len + 1);
    memcpy(copy, snap.data, snap.len);
    copy[snap.len] = 0;
    snap_check_rejected(&f, out, copy, snap.len + 1, &bad);
    copy[0] ^= 1;
    snap_check_rejected(&f, out, copy, snap.len, &bad);
    copy[0] ^= 1;
    copy[4] ^= 2;
    snap_check_rejected(&f, out, copy, snap.len, &bad);
    copy[4] ^= 2;
    RN_CHECK_EQ_INT(bad, 0);
    /* An aggregate with other aggregates refuses it. */
    rn_op_t *other = rn_aggregate_new(f.feeder, 2, 9, snap_aggs_retract + 1, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(other != NULL);
    RN_CHECK_EQ_INT(other->vt->restore(other, snap.data, snap.len), RN_ERR_DECODE);
    rn_op_free(other);
    /* Any single flipped byte: either still a valid state or rejected,
     * never a crash (the sanitizer build checks the reads). */
    int odd = 0;
    for (size_t i = 0; i < snap.len; i++) {
        copy[i] ^= 0xff;
        rn_op_t *b = rn_aggregate_new(f.feeder, 2, 10, snap_aggs_retract, out, f.errbuf, sizeof f.errbuf);
        RN_REQUIRE(b != NULL);
        rn_err_t err = b->vt->restore(b, copy, snap.len);
        if (err != RN_OK && err != RN_ERR_DECODE) odd++;
        if (err != RN_OK && rn_aggregate_groups(b) != 0) odd++;
        rn_op_free(b);
        copy[i] ^= 0xff;
    }
    RN_CHECK_EQ_INT(odd, 0);
    /* The intact snapshot still restores. */
    rn_op_t *b = rn_aggregate_new(f.feeder, 2, 10, snap_aggs_retract, out, f.errbuf, sizeof f.errbuf);
    RN_CHECK_EQ_INT(b->vt->restore(b, snap.data, snap.len), RN_OK);
    RN_CHECK_EQ_INT(rn_aggregate_groups(b), 2);
    rn_op_free(b);
    free(copy);
    rn_buf_free(&snap);
    rn_op_free(a);
    rn_schema_unref(out);
    fix_free(&f);
}

static size_t split_snapshot_len(rn_op_t *op);

/* Allocation failures during restore give RN_ERR_NOMEM and leave the
 * aggregate as it was (the sanitizer build checks nothing leaks). */
static void test_aggregate_restore_allocation_failures(void)
{
    fix_t f;
    fix_init(&f, snap_in_schema(), true);
    rn_schema_t *out = snap_out_schema(snap_aggs_retract, 10);
    rn_op_t *a = rn_aggregate_new(f.feeder, 2, 10, snap_aggs_retract, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(a != NULL);
    snap_gen_t g = {.seed = 11};
    for (int batch = 0; batch < 20; batch++) {
        rn_batch_t *in = fix_batch(&f);
        snap_fill(&g, in, true);
        RN_REQUIRE(fix_push(&f, a, in) == RN_OK);
    }
    rn_buf_t snap;
    rn_buf_init(&snap);
    RN_REQUIRE(a->vt->snapshot(a, &snap, NULL) == RN_OK);
    bool completed = false;
    int odd = 0;
    for (long fail = 0; fail < 5000 && !completed; fail++) {
        rn_op_t *b = rn_aggregate_new(f.feeder, 2, 10, snap_aggs_retract, out, f.errbuf, sizeof f.errbuf);
        RN_REQUIRE(b != NULL);
        rn_mem_fail_after(fail);
        rn_err_t err = b->vt->restore(b, snap.data, snap.len);
        rn_mem_fail_after(-1);
        if (err == RN_OK) completed = rn_aggregate_groups(b) == rn_aggregate_groups(a);
        else if (err != RN_ERR_NOMEM || rn_aggregate_groups(b) != 0) odd++;
        rn_op_free(b);
    }
    RN_CHECK(completed);
    RN_CHECK_EQ_INT(odd, 0);
    /* The same merged into an aggregate holding another group: on failure
     * it holds that group alone, with its distinct values and multisets
     * (same snapshot). */
    int other[5] = {9, 1, 2, 1, 2};
    completed = false;
    for (long fail = 0; fail < 5000 && !completed; fail++) {
        rn_op_t *b = rn_aggregate_new(f.feeder, 2, 10, snap_aggs_retract, out, f.errbuf, sizeof f.errbuf);
        RN_REQUIRE(b != NULL);
        rn_batch_t *in = fix_batch(&f);
        snap_row(in, RN_ROW_INSERT, other);
        RN_REQUIRE(fix_push(&f, b, in) == RN_OK);
        size_t before = split_snapshot_len(b);
        rn_mem_fail_after(fail);
        rn_err_t err = b->vt->restore(b, snap.data, snap.len);
        rn_mem_fail_after(-1);
        if (err == RN_OK) completed = rn_aggregate_groups(b) == rn_aggregate_groups(a) + 1;
        else if (err != RN_ERR_NOMEM || rn_aggregate_groups(b) != 1 || split_snapshot_len(b) != before) odd++;
        rn_op_free(b);
    }
    RN_CHECK(completed);
    RN_CHECK_EQ_INT(odd, 0);
    rn_buf_free(&snap);
    rn_op_free(a);
    rn_schema_unref(out);
    fix_free(&f);
}

/* ---- GroupAggregate snapshots split by partition (checkpoints) -------------- */

enum { SPLIT_NP = 4 };

typedef struct split_cfg {
    const rn_agg_spec_t *aggs;
    int naggs;
    bool retract;
    int64_t ttl;
} split_cfg_t;

static rn_op_t *split_new(fix_t *f, const split_cfg_t *c, rn_schema_t *out)
{
    rn_op_t *op = rn_aggregate_new(f->feeder, 2, c->naggs, c->aggs, out, f->errbuf, sizeof f->errbuf);
    if (!op) abort();
    if (c->ttl > 0 && !rn_aggregate_set_ttl(op, c->ttl)) abort();
    return op;
}

/* A fresh aggregate holding what op's snapshot with filter `take` (NULL:
 * all) holds; then, if forget is set, without the partitions not marked in
 * keep (the oracle of a split restore). */
static rn_op_t *split_copy(fix_t *f, const split_cfg_t *c, rn_schema_t *out, rn_op_t *op, const uint8_t *take,
                           const uint8_t *keep)
{
    rn_part_filter_t parts = {.nparts = SPLIT_NP, .parts = take};
    rn_buf_t snap;
    rn_buf_init(&snap);
    rn_op_t *o = split_new(f, c, out);
    if (op->vt->snapshot(op, &snap, take ? &parts : NULL) != RN_OK ||
        o->vt->restore(o, snap.data, snap.len) != RN_OK)
        abort();
    if (keep) {
        uint8_t revoked[SPLIT_NP];
        for (int p = 0; p < SPLIT_NP; p++) revoked[p] = !keep[p];
        if (o->vt->forget_partitions(o, SPLIT_NP, revoked) != RN_OK) abort();
    }
    rn_buf_free(&snap);
    return o;
}

static size_t split_snapshot_len(rn_op_t *op)
{
    rn_buf_t snap;
    rn_buf_init(&snap);
    size_t len = op->vt->snapshot(op, &snap, NULL) == RN_OK ? snap.len : 0;
    rn_buf_free(&snap);
    return len;
}

/* Random batches into aggregate a, then one snapshot per partition (4).
 * ops[0] gets all four merged (oracle: a copy of a); ops[1 + p] partition p
 * alone (oracle: a copy of a that forgot the other partitions); ops[5] a
 * copy of a that forgot one partition, then gets it merged back (oracle: a
 * copy of a). Each must hold as many groups as its oracle, with a full
 * snapshot of the same length (same groups, distinct values, multisets),
 * hold only keys of its partitions (a copy forgetting them is empty), and
 * emit what its oracle emits for the same further batches. Merging a
 * snapshot again fails with RN_ERR_DECODE and keeps what was held.
 * Returns the number of batches whose outputs differed. */
static int split_run(const split_cfg_t *c, unsigned seed)
{
    int differ = 0;
    fix_t f;
    fix_init(&f, snap_in_schema(), c->retract);
    rn_schema_t *out = snap_out_schema(c->aggs, c->naggs);
    rn_op_t *a = split_new(&f, c, out);
    snap_gen_t g = {.seed = seed};
    f.ctx.now_ms = 1000;
    for (int batch = 0; batch < 60; batch++) {
        rn_batch_t *in = fix_batch(&f);
        snap_fill(&g, in, c->retract);
        if (c->ttl > 0) f.ctx.now_ms += snap_rand(&g, (unsigned)c->ttl / 3);
        RN_CHECK_EQ_INT(fix_push(&f, a, in), RN_OK);
    }
    uint8_t keep[SPLIT_NP];
    int32_t missing = (int32_t)snap_rand(&g, SPLIT_NP);
    for (int p = 0; p < SPLIT_NP; p++) keep[p] = p != missing;
    rn_op_t *ops[6], *oracles[6];
    ops[0] = split_new(&f, c, out);
    oracles[0] = split_copy(&f, c, out, a, NULL, NULL);
    ops[5] = split_copy(&f, c, out, a, NULL, keep);
    oracles[5] = split_copy(&f, c, out, a, NULL, NULL);
    size_t inpart[SPLIT_NP], total = rn_aggregate_groups(a);
    for (int32_t p = 0; p < SPLIT_NP; p++) {
        for (int q = 0; q < SPLIT_NP; q++) keep[q] = q == p;
        ops[1 + p] = split_copy(&f, c, out, a, keep, NULL);
        oracles[1 + p] = split_copy(&f, c, out, a, NULL, keep);
        inpart[p] = rn_aggregate_groups(oracles[1 + p]);
        RN_CHECK_EQ_INT(rn_aggregate_groups(ops[1 + p]), inpart[p]);
        rn_part_filter_t parts = {.nparts = SPLIT_NP, .parts = keep};
        rn_buf_t snap;
        rn_buf_init(&snap);
        RN_CHECK_EQ_INT(a->vt->snapshot(a, &snap, &parts), RN_OK);
        RN_CHECK_EQ_INT(ops[0]->vt->restore(ops[0], snap.data, snap.len), RN_OK);
        if (p == missing) RN_CHECK_EQ_INT(ops[5]->vt->restore(ops[5], snap.data, snap.len), RN_OK);
        size_t held = rn_aggregate_groups(ops[0]);
        RN_CHECK_EQ_INT(ops[0]->vt->restore(ops[0], snap.data, snap.len), inpart[p] ? RN_ERR_DECODE : RN_OK);
        RN_CHECK_EQ_INT(rn_aggregate_groups(ops[0]), held);
        rn_buf_free(&snap);
    }
    RN_CHECK(total > 0);
    RN_CHECK_EQ_INT(inpart[0] + inpart[1] + inpart[2] + inpart[3], total);
    for (int i = 0; i < 6; i++) {
        RN_CHECK_EQ_INT(rn_aggregate_groups(ops[i]), rn_aggregate_groups(oracles[i]));
        RN_CHECK_EQ_INT(split_snapshot_len(ops[i]), split_snapshot_len(oracles[i]));
    }
    for (int32_t p = 0; p < SPLIT_NP; p++) {
        uint8_t others[SPLIT_NP] = {1, 1, 1, 1};
        others[p] = 0;
        rn_op_t *o = split_copy(&f, c, out, ops[1 + p], NULL, others); /* keeps all but p */
        RN_CHECK_EQ_INT(rn_aggregate_groups(o), 0);
        rn_op_free(o);
    }
    rn_op_t *caps[6], *ocaps[6];
    for (int i = 0; i < 6; i++) {
        caps[i] = capture_new(ops[i]);
        ocaps[i] = capture_new(oracles[i]);
    }
    char want[8192];
    for (int batch = 0; batch < 60; batch++) {
        rn_batch_t *in = fix_batch(&f);
        snap_fill(&g, in, c->retract);
        if (c->ttl > 0) f.ctx.now_ms += snap_rand(&g, (unsigned)c->ttl / 3);
        for (int i = 0; i < 6; i++) {
            RN_CHECK_EQ_INT(fix_push(&f, ops[i], in), RN_OK);
            RN_CHECK_EQ_INT(fix_push(&f, oracles[i], in), RN_OK);
            snprintf(want, sizeof want, "%s", take(ocaps[i]));
            const char *got = take(caps[i]);
            if (strcmp(got, want) != 0 && differ++ < 3)
                fprintf(stderr, "op %d batch %d:\n  split  %s\n  oracle %s\n", i, batch, got, want);
        }
    }
    for (int i = 0; i < 6; i++) {
        rn_op_free(caps[i]);
        rn_op_free(ocaps[i]);
        rn_op_free(ops[i]);
        rn_op_free(oracles[i]);
    }
    rn_op_free(a);
    rn_schema_unref(out);
    fix_free(&f);
    return differ;
}

static void test_aggregate_snapshot_split_by_partition(void)
{
    const split_cfg_t cfgs[] = {
        {snap_aggs_retract, 10, true, 0},
        {snap_aggs_insert, 7, false, 0},
        {snap_aggs_retract, 10, true, 90},
        {snap_aggs_insert, 7, false, 90},
    };
    int differ = 0;
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++)
        for (unsigned seed = 1; seed <= 3; seed++) {
            int d = split_run(&cfgs[i], seed * 17 + (unsigned)i);
            if (d) fprintf(stderr, "config %zu seed %u: %d batches differ\n", i, seed, d);
            differ += d;
        }
    RN_CHECK_EQ_INT(differ, 0);
}

/* A failed merge into an aggregate holding groups leaves exactly those:
 * truncated snapshots, and one holding a group it has already. */
static void test_aggregate_failed_merge_keeps_state(void)
{
    fix_t f;
    fix_init(&f, snap_in_schema(), true);
    rn_schema_t *out = snap_out_schema(snap_aggs_retract, 10);
    rn_op_t *a = rn_aggregate_new(f.feeder, 2, 10, snap_aggs_retract, out, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(a != NULL);
    rn_batch_t *in = fix_batch(&f);
    int r1[5] = {1, 0, 3, 1, 2}, r2[5] = {2, 0, 4, 0, 3}, r3[5] = {-1, 2, -1, -1, -1};
    int r4[5] = {3, 1, 1, 1, 1};
    snap_row(in, RN_ROW_INSERT, r1);
    snap_row(in, RN_ROW_INSERT, r2);
    snap_row(in, RN_ROW_INSERT, r3);
    RN_REQUIRE(fix_push(&f, a, in) == RN_OK);
    rn_buf_t snap;
    rn_buf_init(&snap);
    RN_REQUIRE(a->vt->snapshot(a, &snap, NULL) == RN_OK);
    const int *held[] = {r4, r1, r2, r3};
    int bad = 0;
    for (int h = 0; h < 4; h++) {
        for (size_t len = 0; len <= snap.len; len++) {
            if (h > 0 && len < snap.len) continue;
            rn_op_t *b = rn_aggregate_new(f.feeder, 2, 10, snap_aggs_retract, out, f.errbuf, sizeof f.errbuf);
            RN_REQUIRE(b != NULL);
            in = fix_batch(&f);
            snap_row(in, RN_ROW_INSERT, held[h]);
            RN_REQUIRE(fix_push(&f, b, in) == RN_OK);
            size_t before = split_snapshot_len(b);
            rn_err_t err = b->vt->restore(b, snap.data, len);
            bool whole = h == 0 && len == snap.len;
            if (err != (whole ? RN_OK : RN_ERR_DECODE)) bad++;
            if (rn_aggregate_groups(b) != (whole ? 4u : 1u)) bad++;
            if (!whole && split_snapshot_len(b) != before) bad++; /* no distinct value left behind */
            rn_op_free(b);
        }
    }
    RN_CHECK_EQ_INT(bad, 0);
    rn_buf_free(&snap);
    rn_op_free(a);
    rn_schema_unref(out);
    fix_free(&f);
}

/* ---- forgetting revoked partitions ----------------------------------------- */

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

/* The partition of a one-STRING-column key. */
static int32_t fg_str_part(const char *str, int32_t nparts)
{
    rn_buf_t b;
    rn_buf_init(&b);
    rn_value_t v = S(str);
    rn_key_append(&b, RN_TYPE_STRING, &v);
    int32_t p = rn_key_partition(b.data, (uint32_t)b.len, nparts);
    rn_buf_free(&b);
    return p;
}

static unsigned fg_seed;
static unsigned fg_rand(unsigned n)
{
    fg_seed = fg_seed * 1103515245u + 12345u;
    return (fg_seed >> 16) % n;
}

/* A row of the changelog: key, x (-1: NULL), s (index into snap_strs, -1: NULL). */
typedef struct fg_row {
    int kid, x, s;
    bool del;
} fg_row_t;

static void fg_add(rn_batch_t *b, const fg_row_t *r)
{
    ROW(b, r->del ? RN_ROW_DELETE : RN_ROW_INSERT, I(fg_k(r->kid)), fg_g(r->kid) ? S(fg_g(r->kid)) : N,
        r->x >= 0 ? I(r->x) : N, r->s >= 0 ? S(snap_strs[r->s]) : N);
}

static size_t fg_snapshot_len(rn_op_t *op)
{
    rn_buf_t snap;
    rn_buf_init(&snap);
    size_t len = op->vt->snapshot(op, &snap, NULL) == RN_OK ? snap.len : 0;
    rn_buf_free(&snap);
    return len;
}

/* One randomized run over a retracting changelog: `all` gets every row
 * until the cut and only the kept keys' rows after it, `kept` only those
 * all along, `gone` only the revoked keys' rows. At the cut `all` forgets
 * the revoked partitions (every allocation failing): it must emit
 * nothing, hold exactly `kept`'s groups, distinct values and multisets
 * (same count, same snapshot size), and emit exactly what `kept` emits
 * from then on. Returns the number of failed checks. */
static int forget_run(unsigned seed, int32_t nparts, int nbatches, size_t *dropped)
{
    int bad = 0;
    fg_seed = seed;
    fix_t f;
    fix_init(&f, schema_of(4, "k:BIGINT", "g:STRING", "x:BIGINT", "s:STRING"), true);
    rn_agg_spec_t aggs[] = {{RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
                            {RN_AGG_COUNT_DISTINCT, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_COUNT_DISTINCT, 3, RN_TYPE_STRING, RN_TYPE_BIGINT},
                            {RN_AGG_SUM, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_MAX, 2, RN_TYPE_BIGINT, RN_TYPE_BIGINT},
                            {RN_AGG_MIN, 3, RN_TYPE_STRING, RN_TYPE_STRING}};
    rn_schema_t *out = schema_of(8, "k:BIGINT", "g:STRING", "n:BIGINT", "cx:BIGINT", "cs:BIGINT",
                                 "sum:BIGINT", "mx:BIGINT", "mn:STRING");
    rn_op_t *all = rn_aggregate_new(f.feeder, 2, 6, aggs, out, f.errbuf, sizeof f.errbuf);
    rn_op_t *kept = rn_aggregate_new(f.feeder, 2, 6, aggs, out, f.errbuf, sizeof f.errbuf);
    rn_op_t *gone = rn_aggregate_new(f.feeder, 2, 6, aggs, out, f.errbuf, sizeof f.errbuf);
    if (!all || !kept || !gone) abort();
    rn_op_connect(f.feeder, all, 0); /* so that rn_op_forget_partitions(feeder) reaches it */
    rn_op_t *cap_all = capture_new(all), *cap_kept = capture_new(kept), *cap_gone = capture_new(gone);

    uint8_t revoked[8];
    bool revoked_key[FG_NKEYS];
    int nrev;
    do {
        nrev = 0;
        for (int p = 0; p < nparts; p++) nrev += revoked[p] = (uint8_t)fg_rand(2);
    } while (nrev == 0 || nrev == nparts);
    for (int kid = 0; kid < FG_NKEYS; kid++) revoked_key[kid] = revoked[fg_part(kid, nparts)] != 0;

    fg_row_t live[512];
    int nlive = 0, cut = nbatches / 4 + (int)fg_rand((unsigned)nbatches / 2);
    char want[8192];
    for (int batch = 0; batch < nbatches && bad < 10; batch++) {
        if (batch == cut) {
            take(cap_all);
            take(cap_kept);
            size_t before = rn_aggregate_groups(all);
            if (before != rn_aggregate_groups(kept) + rn_aggregate_groups(gone)) bad++;
            uint8_t none[8] = {0};
            RN_CHECK_EQ_INT(all->vt->forget_partitions(all, nparts, none), RN_OK);
            if (rn_aggregate_groups(all) != before) bad++;
            int rows_before = ((capture_t *)cap_all->priv)->rows;
            rn_mem_fail_after(0); /* forgetting allocates nothing */
            rn_err_t err = rn_op_forget_partitions(f.feeder, nparts, revoked);
            rn_mem_fail_after(-1);
            RN_CHECK_EQ_INT(err, RN_OK);
            *dropped += before - rn_aggregate_groups(all);
            RN_CHECK_EQ_INT(((capture_t *)cap_all->priv)->rows, rows_before); /* emitted nothing */
            RN_CHECK_EQ_INT(rn_aggregate_groups(all), rn_aggregate_groups(kept));
            /* same groups, distinct values and multisets: same snapshot size */
            RN_CHECK_EQ_INT(fg_snapshot_len(all), fg_snapshot_len(kept));
            RN_CHECK_EQ_INT(all->vt->forget_partitions(all, nparts, revoked), RN_OK); /* again: no-op */
            RN_CHECK_EQ_INT(rn_aggregate_groups(all), rn_aggregate_groups(kept));
            /* the revoked keys' rows live on with their new owner */
            int j = 0;
            for (int i = 0; i < nlive; i++)
                if (!revoked_key[live[i].kid]) live[j++] = live[i];
            nlive = j;
        }
        rn_arena_reset(&f.arena);
        rn_batch_t *ball = rn_batch_new(&f.arena, f.in, 64), *bkept = rn_batch_new(&f.arena, f.in, 64),
                   *bgone = rn_batch_new(&f.arena, f.in, 64);
        int nrows = 1 + (int)fg_rand(40);
        for (int r = 0; r < nrows; r++) {
            fg_row_t row;
            if (nlive > 0 && (nlive == 512 || fg_rand(3) == 0)) {
                int j = (int)fg_rand((unsigned)nlive);
                row = live[j];
                row.del = true;
                live[j] = live[--nlive];
            } else {
                int kid = (int)fg_rand(FG_NKEYS);
                if (batch >= cut && revoked_key[kid]) continue; /* rows for another process */
                row = (fg_row_t){kid, (int)fg_rand(8) - 1, (int)fg_rand(6) - 1, false};
                live[nlive++] = row;
            }
            fg_add(ball, &row);
            fg_add(revoked_key[row.kid] ? bgone : bkept, &row);
        }
        if (fix_push(&f, all, ball) != RN_OK || fix_push(&f, kept, bkept) != RN_OK ||
            fix_push(&f, gone, bgone) != RN_OK)
            bad++;
        snprintf(want, sizeof want, "%s", take(cap_kept));
        const char *got = take(cap_all);
        if (batch >= cut && strcmp(got, want) != 0 && bad++ < 3)
            fprintf(stderr, "forget_run: batch %d after the cut\n  got:  %s\n  want: %s\n", batch, got, want);
    }
    if (((capture_t *)cap_kept->priv)->rows == 0) bad++; /* degenerate */
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

/* GroupAggregate's forget_partitions drops the groups of revoked
 * partitions with their distinct values and multisets, and only those,
 * without a word downstream; the rest continues as if the revoked keys
 * had never been seen. */
static void test_aggregate_forget_partitions(void)
{
    size_t dropped = 0;
    for (unsigned seed = 1; seed <= 12; seed++) {
        int bad = forget_run(seed * 7919u, seed % 2 ? 4 : 8, 60, &dropped);
        if (bad) fprintf(stderr, "  (seed %u)\n", seed);
        RN_CHECK_EQ_INT(bad, 0);
    }
    RN_CHECK(dropped > 0);
}

/* A key whose group was forgotten starts afresh when it comes back (+I,
 * not an update of the dropped result), and a global aggregate (no key
 * columns: the empty key) lives in one partition like any other key. */
static void test_aggregate_forget_then_return(void)
{
    fix_t f;
    fix_init(&f, schema_of(2, "k:STRING", "x:BIGINT"), false);
    rn_agg_spec_t aggs[] = {{RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
                            {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    rn_schema_t *out = schema_of(3, "k:STRING", "n:BIGINT", "d:BIGINT");
    rn_op_t *agg = rn_aggregate_new(f.feeder, 1, 2, aggs, out, f.errbuf, sizeof f.errbuf);
    rn_schema_t *gout = schema_of(2, "n:BIGINT", "d:BIGINT");
    rn_agg_spec_t gaggs[] = {{RN_AGG_COUNT_STAR, -1, RN_TYPE_NULL, RN_TYPE_BIGINT},
                             {RN_AGG_COUNT_DISTINCT, 1, RN_TYPE_BIGINT, RN_TYPE_BIGINT}};
    rn_op_t *global = rn_aggregate_new(f.feeder, 0, 2, gaggs, gout, f.errbuf, sizeof f.errbuf);
    RN_REQUIRE(agg != NULL && global != NULL);
    rn_op_t *cap = capture_new(agg), *gcap = capture_new(global);
    /* "a" and the first of "b".."z" in the other of two partitions */
    static char bname[2] = "b";
    int32_t pa = fg_str_part("a", 2), pb = fg_str_part(bname, 2), pg = rn_key_partition("", 0, 2);
    while (pb == pa && bname[0] < 'z') pb = fg_str_part((++bname[0], bname), 2);
    RN_REQUIRE(pa != pb);
    char want[64];
    rn_batch_t *in = fix_batch(&f);
    ROW(in, RN_ROW_INSERT, S("a"), I(1));
    ROW(in, RN_ROW_INSERT, S("a"), I(2));
    ROW(in, RN_ROW_INSERT, S(bname), I(1));
    RN_REQUIRE(fix_push(&f, agg, in) == RN_OK && fix_push(&f, global, in) == RN_OK);
    snprintf(want, sizeof want, "+I(a,2,2) +I(%s,1,1)", bname);
    RN_CHECK_EQ_STR(take(cap), want);
    RN_CHECK_EQ_STR(take(gcap), "+I(3,2)");
    uint8_t rev[2] = {0};
    rev[pa] = 1;
    RN_CHECK_EQ_INT(agg->vt->forget_partitions(agg, 2, rev), RN_OK);
    RN_CHECK_EQ_INT(global->vt->forget_partitions(global, 2, rev), RN_OK);
    RN_CHECK_EQ_INT(rn_aggregate_groups(agg), 1);
    RN_CHECK_EQ_INT(rn_aggregate_groups(global), pg == pa ? 0 : 1);
    in = fix_batch(&f);
    ROW(in, RN_ROW_INSERT, S("a"), I(2));
    ROW(in, RN_ROW_INSERT, S(bname), I(2));
    RN_REQUIRE(fix_push(&f, agg, in) == RN_OK && fix_push(&f, global, in) == RN_OK);
    snprintf(want, sizeof want, "+I(a,1,1) -U(%s,1,1) +U(%s,2,2)", bname, bname);
    RN_CHECK_EQ_STR(take(cap), want);
    RN_CHECK_EQ_STR(take(gcap), pg == pa ? "+I(2,1)" : "-U(3,2) +U(5,2)");
    rn_op_free(cap);
    rn_op_free(gcap);
    rn_op_free(agg);
    rn_op_free(global);
    rn_schema_unref(out);
    rn_schema_unref(gout);
    fix_free(&f);
}

/* rn_op_forget_partitions reaches every operator downstream once, diamonds
 * included, but not the operator it starts from; it stops at a failure. */
static int probe_calls[64];
static rn_err_t probe_forget(rn_op_t *op, int32_t nparts, const uint8_t *revoked)
{
    probe_calls[op->id]++;
    return op->id == 63 ? RN_ERR_NOMEM : RN_OK;
}
static const rn_op_vtable_t probe_vt = {
    .kind = "Probe", .process = feeder_process, .forget_partitions = probe_forget};

static void test_forget_partitions_walk(void)
{
    rn_schema_t *s = schema_of(1, "k:BIGINT");
    /* 0 -> 1, 0 -> 2, 1 -> 3.0, 2 -> 3.1 (a diamond), 3 -> 4 -> ... -> 43
     * (a chain), 0 -> 44 (no callback) -> 45 */
    rn_op_t *ops[46];
    for (int i = 0; i < 46; i++) {
        ops[i] = rn_op_new(&probe_vt, s, NULL);
        ops[i]->id = i;
    }
    static const rn_op_vtable_t plain_vt = {.kind = "Plain", .process = feeder_process};
    ops[44]->vt = &plain_vt;
    RN_REQUIRE(rn_op_connect(ops[0], ops[1], 0) == RN_OK && rn_op_connect(ops[0], ops[2], 0) == RN_OK &&
               rn_op_connect(ops[1], ops[3], 0) == RN_OK && rn_op_connect(ops[2], ops[3], 1) == RN_OK);
    for (int i = 3; i < 43; i++) RN_REQUIRE(rn_op_connect(ops[i], ops[i + 1], 0) == RN_OK);
    RN_REQUIRE(rn_op_connect(ops[0], ops[44], 0) == RN_OK && rn_op_connect(ops[44], ops[45], 0) == RN_OK);
    uint8_t rev[4] = {1, 0, 0, 0};
    memset(probe_calls, 0, sizeof probe_calls);
    RN_CHECK_EQ_INT(rn_op_forget_partitions(ops[0], 4, rev), RN_OK);
    RN_CHECK_EQ_INT(probe_calls[0], 0);
    for (int i = 1; i < 46; i++)
        if (i != 44) RN_CHECK_EQ_INT(probe_calls[i], 1);
    /* more than the first room for visited operators, with allocation failing */
    memset(probe_calls, 0, sizeof probe_calls);
    rn_mem_fail_after(0);
    RN_CHECK_EQ_INT(rn_op_forget_partitions(ops[0], 4, rev), RN_ERR_NOMEM);
    rn_mem_fail_after(-1);
    RN_CHECK(probe_calls[33] == 0 || probe_calls[43] == 0); /* stopped part way */
    /* a failing operator stops the walk with its error */
    rn_op_t *bad = rn_op_new(&probe_vt, s, NULL);
    bad->id = 63;
    RN_REQUIRE(rn_op_connect(ops[45], bad, 0) == RN_OK);
    RN_CHECK_EQ_INT(rn_op_forget_partitions(ops[44], 4, rev), RN_ERR_NOMEM);
    RN_CHECK_EQ_INT(rn_op_forget_partitions(bad, 4, rev), RN_OK); /* nothing below it */
    rn_op_free(bad);
    for (int i = 0; i < 46; i++) rn_op_free(ops[i]);
    rn_schema_unref(s);
}

int main(void)
{
    RN_RUN(test_aggregate_all_kinds);
    RN_RUN(test_aggregate_unchanged_emits_nothing);
    RN_RUN(test_aggregate_coalesces_per_batch);
    RN_RUN(test_aggregate_retract_extremes);
    RN_RUN(test_aggregate_retract_random);
    RN_RUN(test_aggregate_global_group);
    RN_RUN(test_aggregate_distinct_outlives_no_group);
    RN_RUN(test_aggregate_state_ttl);
    RN_RUN(test_aggregate_state_ttl_sweep_is_incremental);
    RN_RUN(test_group_combine_equals_direct);
    RN_RUN(test_group_combine_remembering);
    RN_RUN(test_group_combine_failed_send_forgets);
    RN_RUN(test_calc_filter_keeps_kinds);
    RN_RUN(test_calc_projection);
    RN_RUN(test_sink_upsert_coalesces);
    RN_RUN(test_sink_typed_rows);
    RN_RUN(test_sink_retries_until_delivered);
    RN_RUN(test_sink_two_phase);
    RN_RUN(test_sink_upsert_composite_key_order);
    RN_RUN(test_sink_append_writes_every_row);
    RN_RUN(test_aggregate_allocation_failures);
    RN_RUN(test_operators_recover_after_allocation_failure);
    RN_RUN(test_aggregate_snapshot_restore);
    RN_RUN(test_aggregate_snapshot_restore_ttl);
    RN_RUN(test_aggregate_snapshot_ttl_checked);
    RN_RUN(test_aggregate_snapshot_rejects_corrupt);
    RN_RUN(test_aggregate_restore_allocation_failures);
    RN_RUN(test_aggregate_snapshot_split_by_partition);
    RN_RUN(test_aggregate_failed_merge_keeps_state);
    RN_RUN(test_aggregate_forget_partitions);
    RN_RUN(test_aggregate_forget_then_return);
    RN_RUN(test_forget_partitions_walk);
    return rn_test_summary();
}
