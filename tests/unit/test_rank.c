/*
 * test_rank.c - the Rank operator (op/rank.h): deduplication and Top-N.
 *
 * The main check is randomized: each mode is fed random batches (inserts,
 * and for an updating input retractions of live rows), the emitted
 * changelog is applied to a materialized table, and after every batch that
 * table must equal the top n per partition recomputed from scratch over
 * every live row. Around it: insert-only output where the mode promises
 * it, event-time partitions emitted once when the watermark passes,
 * snapshot/restore equal to an uninterrupted run, truncated snapshots
 * refused with the operator left as it was, snapshots split by partition
 * that merge back into the original's state, the state TTL, forgotten
 * partitions.
 */
#include "core/mem.h"
#include "op/rank.h"
#include "rn_test.h"
#include "state/store.h"

#include <stdarg.h>

/* ---- fixture ---------------------------------------------------------------- */

/* Input: k BIGINT (partition), s1 BIGINT, s2 STRING (ORDER BY, nullable),
 * id BIGINT (unique per inserted row). */
static rn_schema_t *in_schema(void)
{
    rn_schema_t *s = rn_schema_new(4);
    rn_schema_set(s, 0, "k", &rn_type_bigint);
    rn_schema_set(s, 1, "s1", &rn_type_bigint);
    rn_schema_set(s, 2, "s2", &rn_type_string);
    rn_schema_set(s, 3, "id", &rn_type_bigint);
    return s;
}

static rn_schema_t *out_schema(bool rownum)
{
    rn_schema_t *s = rn_schema_new(rownum ? 5 : 4);
    rn_schema_set(s, 0, "k", &rn_type_bigint);
    rn_schema_set(s, 1, "s1", &rn_type_bigint);
    rn_schema_set(s, 2, "s2", &rn_type_string);
    rn_schema_set(s, 3, "id", &rn_type_bigint);
    if (rownum) rn_schema_set(s, 4, "rownum", &rn_type_bigint);
    return s;
}

static rn_err_t feeder_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    (void)op, (void)port, (void)b, (void)ctx;
    return RN_OK;
}
static const rn_op_vtable_t feeder_vt = {.kind = "Feeder", .process = feeder_process};

/* The materialized output: rows as text, a multiset; plus every change as
 * text (for comparing runs) and counters. */
#define MAT_MAX 4096
typedef struct mat {
    char *rows[MAT_MAX];
    int n;
    rn_buf_t log;               /* every change: "+I(k,s1,s2,id[,rn]) " */
    int bad;                    /* retractions of rows not there */
    int non_insert;             /* changes other than +I */
} mat_t;

static void row_text(const rn_batch_t *b, int r, rn_buf_t *out)
{
    for (int c = 0; c < b->schema->ncols; c++) {
        if (c) rn_buf_appendc(out, ',');
        const rn_value_t *v = &b->cols[c][r];
        if (v->null) rn_buf_appends(out, "null");
        else if (b->schema->cols[c].type->id == RN_TYPE_STRING) rn_buf_append(out, v->s, v->len);
        else rn_buf_append_i64(out, v->i);
    }
}

static rn_err_t mat_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    (void)port, (void)ctx;
    mat_t *m = op->priv;
    for (int r = 0; r < b->nrows; r++) {
        rn_buf_t t;
        rn_buf_init(&t);
        row_text(b, r, &t);
        rn_buf_appendc(&t, '\0');
        rn_rowkind_t kind = (rn_rowkind_t)b->kinds[r];
        rn_buf_appendf(&m->log, "%s(%s) ", rn_rowkind_str(kind), t.data);
        if (kind != RN_ROW_INSERT) m->non_insert++;
        if (rn_rowkind_is_retract(kind)) {
            int i = 0;
            while (i < m->n && strcmp(m->rows[i], t.data)) i++;
            if (i == m->n) {
                m->bad++;
            } else {
                free(m->rows[i]);
                m->rows[i] = m->rows[--m->n];
            }
            rn_buf_free(&t);
        } else if (m->n < MAT_MAX) {
            m->rows[m->n++] = strdup(t.data);
            rn_buf_free(&t);
        } else {
            m->bad++;
            rn_buf_free(&t);
        }
    }
    return RN_OK;
}
static void mat_free(mat_t *m)
{
    for (int i = 0; i < m->n; i++) free(m->rows[i]);
    rn_buf_free(&m->log);
    free(m);
}
/* The operator does not own its mat_t, so a run can move it to another. */
static const rn_op_vtable_t mat_vt = {.kind = "Materialize", .process = mat_process};

static rn_op_t *mat_new(rn_op_t *up, mat_t *m)
{
    rn_op_t *op = rn_op_new(&mat_vt, up->schema, up);
    if (!m) {
        m = calloc(1, sizeof *m);
        rn_buf_init(&m->log);
    }
    op->priv = m;
    rn_op_connect(up, op, 0);
    return op;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* ---- the oracle -------------------------------------------------------------- */

typedef struct orow {
    int64_t k, s1, id;
    int s2;                     /* index into strs, -1: NULL */
    uint64_t seq;               /* arrival */
    bool live;
} orow_t;

static const char *strs[] = {"a", "bb", "b", "zz"};

typedef struct mode {
    const char *name;
    int nsort;                  /* 0: arrival; 1: s1; 2: s1, s2 */
    bool desc1, desc2, tie_last;
    int64_t n;
    bool rownum, updating;
    int time_key;
} rmode_t;

static const rmode_t *cur;

static int ocmp(const orow_t *a, const orow_t *b)
{
    if (cur->nsort >= 1) {
        int c = a->s1 < b->s1 ? -1 : a->s1 > b->s1;
        if (c) return cur->desc1 ? -c : c;
    }
    if (cur->nsort >= 2) {
        int c;
        if (a->s2 < 0 || b->s2 < 0) c = (a->s2 >= 0) - (b->s2 >= 0);
        else c = strcmp(strs[a->s2], strs[b->s2]);
        c = c < 0 ? -1 : c > 0;
        if (c) return cur->desc2 ? -c : c;
    }
    int c = a->seq < b->seq ? -1 : a->seq > b->seq;
    return cur->tie_last ? -c : c;
}

static int ocmp_ptr(const void *a, const void *b) { return ocmp(*(orow_t *const *)a, *(orow_t *const *)b); }

#define OMAX 3000
static orow_t orows[OMAX];
static int norows;

/* The expected materialized table, as sorted text rows, into out (count). */
static int expected(char **out, int keys)
{
    int n = 0;
    orow_t *part[OMAX];
    for (int64_t k = 0; k < keys; k++) {
        int m = 0;
        for (int i = 0; i < norows; i++)
            if (orows[i].live && orows[i].k == k) part[m++] = &orows[i];
        qsort(part, (size_t)m, sizeof *part, ocmp_ptr);
        for (int r = 0; r < m && r < cur->n; r++) {
            char buf[128];
            const orow_t *o = part[r];
            int len = snprintf(buf, sizeof buf, "%lld,%lld,%s,%lld", (long long)o->k, (long long)o->s1,
                               o->s2 < 0 ? "null" : strs[o->s2], (long long)o->id);
            if (cur->rownum) snprintf(buf + len, sizeof buf - (size_t)len, ",%d", r + 1);
            out[n++] = strdup(buf);
        }
    }
    qsort(out, (size_t)n, sizeof *out, cmp_str);
    return n;
}

static unsigned rnd_state;
static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 16) % n;
}

static void put_row(rn_batch_t *b, rn_rowkind_t kind, const orow_t *o)
{
    int r = b->nrows++;
    b->cols[0][r] = rn_value_int(o->k);
    b->cols[1][r] = rn_value_int(o->s1);
    b->cols[2][r] = o->s2 < 0 ? RN_VALUE_NULL : rn_value_str(strs[o->s2], (uint32_t)strlen(strs[o->s2]));
    b->cols[3][r] = rn_value_int(o->id);
    b->kinds[r] = (uint8_t)kind;
}

typedef struct run {
    rn_arena_t arena;
    rn_ctx_t ctx;
    char errbuf[256];
    rn_schema_t *in, *out;
    rn_op_t *feeder, *op, *mat;
} run_t;

static rn_op_t *make_rank(run_t *t)
{
    rn_rank_spec_t s = {.nkeys = 1, .nsort = cur->nsort, .tie_last = cur->tie_last, .n = cur->n,
                        .rownum = cur->rownum, .time_key = cur->time_key};
    s.desc[0] = cur->desc1;
    s.desc[1] = cur->desc2;
    return rn_rank_new(t->feeder, &s, t->out, t->errbuf, sizeof t->errbuf);
}

static void run_init(run_t *t)
{
    memset(t, 0, sizeof *t);
    rn_arena_init(&t->arena, 0);
    t->ctx.arena = &t->arena;
    t->ctx.errbuf = t->errbuf;
    t->ctx.errbuf_size = sizeof t->errbuf;
    t->in = in_schema();
    t->out = out_schema(cur->rownum);
    t->feeder = rn_op_new(&feeder_vt, t->in, NULL);
    t->feeder->updating = cur->updating;
    t->op = make_rank(t);
    if (t->op) {
        rn_op_connect(t->feeder, t->op, 0);
        t->mat = mat_new(t->op, NULL);
    }
}

static void run_free(run_t *t)
{
    if (t->mat) {
        mat_free(t->mat->priv);
        rn_op_free(t->mat);
    }
    if (t->op) rn_op_free(t->op);
    rn_op_free(t->feeder);
    rn_schema_unref(t->in);
    rn_schema_unref(t->out);
    rn_arena_free(&t->arena);
}

/* Generates one random batch of changes against the oracle. */
static rn_batch_t *gen_batch(run_t *t, int keys, int64_t *next_id, uint64_t *seq)
{
    rn_arena_reset(&t->arena);
    rn_batch_t *b = rn_batch_new(&t->arena, t->in, 64);
    int rows = 1 + (int)rnd(12);
    for (int i = 0; i < rows && norows < OMAX; i++) {
        if (cur->updating && rnd(3) == 0) { /* retract a live row */
            int tries = 0, j;
            do j = (int)rnd((unsigned)(norows ? norows : 1)); while (norows && !orows[j].live && ++tries < 20);
            if (norows && orows[j].live) {
                orows[j].live = false;
                put_row(b, rnd(2) ? RN_ROW_DELETE : RN_ROW_UPDATE_BEFORE, &orows[j]);
                continue;
            }
        }
        orow_t *o = &orows[norows++];
        o->k = rnd((unsigned)keys);
        o->s1 = rnd(5);
        o->s2 = (int)rnd(5) - 1;
        o->id = (*next_id)++;
        o->seq = (*seq)++;
        o->live = true;
        put_row(b, rnd(2) || !cur->updating ? RN_ROW_INSERT : RN_ROW_UPDATE_AFTER, o);
    }
    return b;
}

/* Whether the materialized output equals the oracle. */
static bool mat_matches(rn_op_t *matop, int keys)
{
    mat_t *m = matop->priv;
    static char *want[OMAX];
    int n = expected(want, keys);
    qsort(m->rows, (size_t)m->n, sizeof *m->rows, cmp_str);
    bool ok = n == m->n && !m->bad;
    for (int i = 0; ok && i < n; i++) ok = !strcmp(want[i], m->rows[i]);
    if (!ok) {
        fprintf(stderr, "mode %s: want %d rows, have %d (bad %d)\n", cur->name, n, m->n, m->bad);
        for (int i = 0; i < n && i < 12; i++) fprintf(stderr, "  want %s\n", want[i]);
        for (int i = 0; i < m->n && i < 12; i++) fprintf(stderr, "  have %s\n", m->rows[i]);
    }
    for (int i = 0; i < n; i++) free(want[i]);
    return ok;
}

static const rmode_t modes[] = {
    {"keep-first", 0, false, false, false, 1, false, false, -1},
    {"keep-first-3-rownum", 0, false, false, false, 3, true, false, -1},
    {"keep-last", 0, false, false, true, 1, false, false, -1},
    {"keep-last-2-rownum", 0, false, false, true, 2, true, false, -1},
    {"rowtime-asc", 1, false, false, false, 1, false, false, -1},
    {"rowtime-desc", 1, true, false, true, 1, false, false, -1},
    {"top3", 2, true, false, false, 3, false, false, -1},
    {"top3-rownum", 2, true, false, false, 3, true, false, -1},
    {"top2-desc-desc", 2, true, true, false, 2, false, false, -1},
    {"top1-updating", 2, false, true, false, 1, false, true, -1},
    {"top3-updating", 2, true, false, false, 3, false, true, -1},
    {"top3-updating-rownum", 2, true, false, false, 3, true, true, -1},
    {"keep-last-updating", 0, false, false, true, 2, true, true, -1},
};

static void test_rank_random_against_oracle(void)
{
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        cur = &modes[m];
        for (unsigned seed = 1; seed <= 6; seed++) {
            rnd_state = seed * 7919u + (unsigned)m;
            norows = 0;
            run_t t;
            run_init(&t);
            RN_REQUIRE(t.op);
            int keys = 1 + (int)rnd(4);
            int64_t next_id = 1;
            uint64_t seq = 0;
            bool ok = true;
            for (int round = 0; round < 40 && ok; round++) {
                rn_batch_t *b = gen_batch(&t, keys, &next_id, &seq);
                RN_CHECK_EQ_INT(t.op->vt->process(t.op, 0, b, &t.ctx), RN_OK);
                ok = mat_matches(t.mat, keys);
            }
            RN_CHECK(ok);
            /* keep-first over an insert-only input never takes anything back */
            bool insert_only = cur->nsort == 0 && !cur->tie_last && !cur->updating;
            RN_CHECK_EQ_INT(t.op->updating, !insert_only);
            if (insert_only) RN_CHECK_EQ_INT(((mat_t *)t.mat->priv)->non_insert, 0);
            size_t nkeys;
            size_t bytes = t.op->vt->state_size(t.op, &nkeys);
            RN_CHECK(bytes > 0 && nkeys == rn_rank_partitions(t.op));
            run_free(&t);
        }
    }
}

/* Over an insert-only input at most n rows per partition are kept. */
static void test_rank_insert_only_state_is_bounded(void)
{
    static const rmode_t m = {"top2", 1, true, false, false, 2, false, false, -1};
    cur = &m;
    run_t t;
    run_init(&t);
    RN_REQUIRE(t.op);
    size_t keys, first = 0;
    for (int i = 0; i < 200; i++) {
        rn_arena_reset(&t.arena);
        rn_batch_t *b = rn_batch_new(&t.arena, t.in, 1);
        orow_t o = {.k = 7, .s1 = i % 13, .s2 = 0, .id = i};
        put_row(b, RN_ROW_INSERT, &o);
        RN_CHECK_EQ_INT(t.op->vt->process(t.op, 0, b, &t.ctx), RN_OK);
        if (i == 10) first = t.op->vt->state_size(t.op, &keys);
    }
    RN_CHECK_EQ_INT(t.op->vt->state_size(t.op, &keys), first);
    RN_CHECK_EQ_INT(keys, 1);
    run_free(&t);
}

/* ---- event time --------------------------------------------------------------- */

static void test_rank_event_time_emits_once(void)
{
    static const rmode_t m = {"event-time", 1, true, false, false, 2, true, false, 0};
    cur = &m;
    run_t t;
    run_init(&t);
    RN_REQUIRE(t.op);
    RN_CHECK(!t.op->updating);
    mat_t *mt = t.mat->priv;
    /* partitions are rowtimes 100, 200, 300 (column k) */
    rn_arena_reset(&t.arena);
    rn_batch_t *b = rn_batch_new(&t.arena, t.in, 16);
    orow_t rows[] = {{.k = 200, .s1 = 1, .s2 = 0, .id = 1}, {.k = 100, .s1 = 5, .s2 = 1, .id = 2},
                     {.k = 200, .s1 = 9, .s2 = 2, .id = 3}, {.k = 200, .s1 = 4, .s2 = -1, .id = 4},
                     {.k = 300, .s1 = 1, .s2 = 0, .id = 5}, {.k = 100, .s1 = 5, .s2 = 0, .id = 6}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) put_row(b, RN_ROW_INSERT, &rows[i]);
    RN_CHECK_EQ_INT(t.op->vt->process(t.op, 0, b, &t.ctx), RN_OK);
    RN_CHECK_EQ_INT(mt->n, 0); /* nothing before the watermark */
    RN_CHECK_EQ_INT(rn_op_held_since(t.op), 100);
    RN_CHECK_EQ_INT(rn_op_watermark(t.feeder, 100, &t.ctx), RN_OK); /* 100 is not complete yet */
    RN_CHECK_EQ_INT(mt->n, 0);
    RN_CHECK_EQ_INT(rn_op_watermark(t.feeder, 201, &t.ctx), RN_OK);
    RN_CHECK_EQ_STR(mt->log.data, "+I(100,5,bb,2,1) +I(100,5,a,6,2) +I(200,9,b,3,1) +I(200,4,null,4,2) ");
    RN_CHECK_EQ_INT(rn_rank_partitions(t.op), 1);
    RN_CHECK_EQ_INT(rn_op_held_since(t.op), 300);
    /* a row for an emitted partition is late; one for an open one joins it */
    rn_arena_reset(&t.arena);
    b = rn_batch_new(&t.arena, t.in, 4);
    orow_t late = {.k = 200, .s1 = 99, .s2 = 0, .id = 7}, ok = {.k = 300, .s1 = 8, .s2 = 0, .id = 8};
    put_row(b, RN_ROW_INSERT, &late);
    put_row(b, RN_ROW_INSERT, &ok);
    RN_CHECK_EQ_INT(t.op->vt->process(t.op, 0, b, &t.ctx), RN_OK);
    RN_CHECK_EQ_INT(rn_rank_late_rows(t.op), 1);
    rn_buf_clear(&mt->log);
    RN_CHECK_EQ_INT(rn_op_watermark(t.feeder, RN_WM_MAX, &t.ctx), RN_OK);
    RN_CHECK_EQ_STR(mt->log.data, "+I(300,8,a,8,1) +I(300,1,a,5,2) ");
    RN_CHECK_EQ_INT(rn_rank_partitions(t.op), 0);
    RN_CHECK_EQ_INT(rn_op_held_since(t.op), INT64_MAX);
    RN_CHECK_EQ_INT(mt->non_insert, 0);
    run_free(&t);
}

/* A window_end key (time_offset -1): the partition holds rows up to end - 1
 * and is complete once the watermark reaches end. */
static void test_rank_event_time_offset(void)
{
    static const rmode_t m = {"window-end", 1, true, false, false, 1, false, false, 0};
    cur = &m;
    run_t t;
    run_init(&t); /* then the Rank replaced by one with the offset */
    RN_REQUIRE(t.op);
    mat_t *mt = t.mat->priv;
    rn_op_free(t.mat);
    rn_op_free(t.op);
    rn_op_free(t.feeder);
    t.feeder = rn_op_new(&feeder_vt, t.in, NULL);
    rn_rank_spec_t s = {.nkeys = 1, .nsort = 1, .n = 1, .time_key = 0, .time_offset = -1};
    s.desc[0] = true;
    t.op = rn_rank_new(t.feeder, &s, t.out, t.errbuf, sizeof t.errbuf);
    RN_REQUIRE(t.op);
    rn_op_connect(t.feeder, t.op, 0);
    t.mat = mat_new(t.op, mt);
    rn_arena_reset(&t.arena);
    rn_batch_t *b = rn_batch_new(&t.arena, t.in, 4);
    orow_t r1 = {.k = 200, .s1 = 1, .s2 = 0, .id = 1}, r2 = {.k = 200, .s1 = 3, .s2 = 0, .id = 2};
    put_row(b, RN_ROW_INSERT, &r1);
    put_row(b, RN_ROW_INSERT, &r2);
    RN_CHECK_EQ_INT(t.op->vt->process(t.op, 0, b, &t.ctx), RN_OK);
    RN_CHECK_EQ_INT(rn_op_held_since(t.op), 199);
    RN_CHECK_EQ_INT(rn_op_watermark(t.feeder, 199, &t.ctx), RN_OK);
    RN_CHECK_EQ_INT(mt->n, 0);
    RN_CHECK_EQ_INT(rn_op_watermark(t.feeder, 200, &t.ctx), RN_OK);
    RN_CHECK_EQ_STR(mt->log.data, "+I(200,3,a,2) ");
    RN_CHECK_EQ_INT(rn_rank_partitions(t.op), 0);
    run_free(&t);
}

/* ---- snapshot and restore --------------------------------------------------------- */

/* Runs 30 random batches of mode cur (seed), snapshotting after batch cut
 * into a fresh operator that continues; returns the whole changelog. */
static char *snap_run(unsigned seed, int cut, bool *ok)
{
    rnd_state = seed;
    norows = 0;
    run_t t;
    run_init(&t);
    int64_t next_id = 1;
    uint64_t seq = 0;
    *ok = t.op != NULL;
    for (int round = 0; round < 30 && *ok; round++) {
        rn_batch_t *b = gen_batch(&t, 3, &next_id, &seq);
        *ok = t.op->vt->process(t.op, 0, b, &t.ctx) == RN_OK;
        if (cur->time_key >= 0 && *ok) *ok = rn_op_watermark(t.feeder, round * 2, &t.ctx) == RN_OK;
        if (round == cut && *ok) {
            rn_buf_t snap;
            rn_buf_init(&snap);
            *ok = t.op->vt->snapshot(t.op, &snap, NULL) == RN_OK;
            /* a fresh operator (and input) takes over the materialized output */
            rn_op_t *feeder = rn_op_new(&feeder_vt, t.in, NULL);
            feeder->updating = cur->updating;
            rn_op_t *oldf = t.feeder;
            t.feeder = feeder;
            rn_op_t *fresh = make_rank(&t);
            *ok = *ok && fresh && fresh->vt->restore(fresh, snap.data, snap.len) == RN_OK;
            rn_buf_free(&snap);
            mat_t *m = t.mat->priv;
            rn_op_free(t.mat);
            rn_op_free(t.op);
            rn_op_free(oldf);
            t.op = fresh;
            t.mat = NULL;
            if (!fresh) {
                mat_free(m);
                break;
            }
            rn_op_connect(t.feeder, t.op, 0);
            t.mat = mat_new(t.op, m);
        }
    }
    if (!t.mat) {
        run_free(&t);
        return strdup("");
    }
    mat_t *m = t.mat->priv;
    char *log = strdup(m->log.data ? m->log.data : "");
    run_free(&t);
    return log;
}

static void test_rank_snapshot_restore(void)
{
    static const rmode_t ms[] = {
        {"top3-updating-rownum", 2, true, false, false, 3, true, true, -1},
        {"keep-last", 0, false, false, true, 1, false, false, -1},
        {"top2", 2, false, true, false, 2, true, false, -1},
        {"event-time", 1, true, false, false, 2, true, false, 0},
    };
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++) {
        cur = &ms[i];
        bool ok;
        char *whole = snap_run(42 + (unsigned)i, -1, &ok);
        RN_CHECK(ok);
        for (int cut = 0; cut < 30; cut += 7) {
            char *split = snap_run(42 + (unsigned)i, cut, &ok);
            RN_CHECK(ok);
            RN_CHECK_EQ_STR(split, whole);
            free(split);
        }
        free(whole);
    }
}

static void test_rank_snapshot_rejects_truncated(void)
{
    static const rmode_t m = {"top3-updating-rownum", 2, true, false, false, 3, true, true, -1};
    cur = &m;
    rnd_state = 5;
    norows = 0;
    run_t t;
    run_init(&t);
    RN_REQUIRE(t.op);
    int64_t next_id = 1;
    uint64_t seq = 0;
    for (int round = 0; round < 10; round++) {
        rn_batch_t *b = gen_batch(&t, 3, &next_id, &seq);
        RN_CHECK_EQ_INT(t.op->vt->process(t.op, 0, b, &t.ctx), RN_OK);
    }
    rn_buf_t snap;
    rn_buf_init(&snap);
    RN_REQUIRE(t.op->vt->snapshot(t.op, &snap, NULL) == RN_OK);
    rn_op_t *fresh = make_rank(&t);
    RN_REQUIRE(fresh);
    int accepted = 0;
    for (size_t len = 0; len < snap.len; len++) {
        rn_err_t err = fresh->vt->restore(fresh, snap.data, len);
        accepted += err != RN_ERR_DECODE;
        accepted += rn_rank_partitions(fresh) != 0;
    }
    RN_CHECK_EQ_INT(accepted, 0);
    /* merged into an operator holding another key: a truncated snapshot
     * leaves it holding that key alone; one holding a key of the
     * snapshot refuses it, keeping its own */
    for (int64_t held = 0; held <= 3; held++) {
        for (size_t len = 0; len <= snap.len; len++) {
            if (held < 3 && len < snap.len) continue;
            rn_op_t *h = make_rank(&t);
            RN_REQUIRE(h);
            rn_arena_reset(&t.arena);
            rn_batch_t *b = rn_batch_new(&t.arena, t.in, 1);
            orow_t o = {.k = held == 3 ? 1000 : held, .s1 = 99, .s2 = 0, .id = 99};
            put_row(b, RN_ROW_INSERT, &o);
            RN_CHECK_EQ_INT(h->vt->process(h, 0, b, &t.ctx), RN_OK);
            rn_err_t err = h->vt->restore(h, snap.data, len);
            bool whole = held == 3 && len == snap.len;
            accepted += err != (whole ? RN_OK : RN_ERR_DECODE);
            accepted += rn_rank_partitions(h) != (whole ? rn_rank_partitions(t.op) + 1 : 1);
            rn_op_free(h);
        }
    }
    RN_CHECK_EQ_INT(accepted, 0);
    /* a trailing byte, and another spec, are refused too */
    rn_buf_appendc(&snap, 0);
    RN_CHECK_EQ_INT(fresh->vt->restore(fresh, snap.data, snap.len), RN_ERR_DECODE);
    snap.len--;
    static const rmode_t other = {"top2", 2, true, false, false, 2, true, true, -1};
    cur = &other;
    rn_op_t *wrong = make_rank(&t);
    RN_REQUIRE(wrong);
    RN_CHECK_EQ_INT(wrong->vt->restore(wrong, snap.data, snap.len), RN_ERR_DECODE);
    cur = &m;
    RN_CHECK_EQ_INT(fresh->vt->restore(fresh, snap.data, snap.len), RN_OK);
    RN_CHECK_EQ_INT(rn_rank_partitions(fresh), rn_rank_partitions(t.op));
    /* its partitions are held already: refused, keeping what it holds */
    RN_CHECK_EQ_INT(fresh->vt->restore(fresh, snap.data, snap.len), RN_ERR_DECODE);
    RN_CHECK_EQ_INT(rn_rank_partitions(fresh), rn_rank_partitions(t.op));
    rn_buf_t again;
    rn_buf_init(&again);
    RN_CHECK_EQ_INT(fresh->vt->snapshot(fresh, &again, NULL), RN_OK);
    RN_CHECK(again.len == snap.len && !memcmp(again.data, snap.data, snap.len));
    rn_buf_free(&again);
    rn_buf_free(&snap);
    rn_op_free(fresh);
    rn_op_free(wrong);
    run_free(&t);
}

/* ---- snapshots split by partition (checkpoints) ------------------------------------ */

enum { SPLIT_NP = 4 };

/* Snapshots op with the filter keep (NULL: everything) into a fresh
 * operator, which it returns with a Materialize attached; when forget is
 * set, that one then forgets the partitions not in keep (the oracle of a
 * split restore). NULL on failure. */
static rn_op_t *split_copy(run_t *t, rn_op_t *op, const uint8_t *keep, bool forget)
{
    rn_part_filter_t parts = {.nparts = SPLIT_NP, .parts = keep};
    rn_buf_t snap;
    rn_buf_init(&snap);
    rn_op_t *o = make_rank(t);
    bool ok = o && op->vt->snapshot(op, &snap, forget || !keep ? NULL : &parts) == RN_OK &&
              o->vt->restore(o, snap.data, snap.len) == RN_OK;
    if (ok && forget) {
        uint8_t revoked[SPLIT_NP];
        for (int p = 0; p < SPLIT_NP; p++) revoked[p] = !keep[p];
        ok = o->vt->forget_partitions(o, SPLIT_NP, revoked) == RN_OK;
    }
    rn_buf_free(&snap);
    if (!ok) {
        if (o) rn_op_free(o);
        return NULL;
    }
    mat_new(o, NULL);
    return o;
}

static char *split_log(rn_op_t *op)
{
    mat_t *m = op->outputs[0].op->priv;
    char *s = strdup(m->log.data ? m->log.data : "");
    rn_buf_clear(&m->log);
    return s;
}

static void split_free(rn_op_t *op)
{
    rn_op_t *mat = op->outputs[0].op;
    mat_free(mat->priv);
    rn_op_free(mat);
    rn_op_free(op);
}

/* For several modes: random batches into an operator, then one snapshot
 * per partition (nparts 4). Restored all into one fresh operator (merged)
 * they must give the original's partitions; restored each into its own
 * operator, exactly the partitions of its key range (the oracle: a copy
 * of the original that forgot the other partitions). A copy of the
 * original that forgot one partition and gets it merged back must equal
 * the original too. Checked by partition counts and by feeding every
 * operator and its oracle the same further batches (and watermarks):
 * equal changelogs. */
static void test_rank_snapshot_split_by_partition(void)
{
    static const rmode_t ms[] = {
        {"top3-updating-rownum", 2, true, false, false, 3, true, true, -1},
        {"keep-last", 0, false, false, true, 1, false, false, -1},
        {"top2", 2, false, true, false, 2, true, false, -1},
        {"event-time", 1, true, false, false, 2, true, false, 0},
    };
    for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++) {
        cur = &ms[mi];
        for (unsigned seed = 1; seed <= 3; seed++) {
            rnd_state = seed * 31u + (unsigned)mi;
            norows = 0;
            run_t t;
            run_init(&t);
            RN_REQUIRE(t.op);
            int64_t next_id = 1;
            uint64_t seq = 0;
            int keys = 24, round = 0;
            for (; round < 12; round++) {
                rn_batch_t *b = gen_batch(&t, keys, &next_id, &seq);
                RN_REQUIRE(t.op->vt->process(t.op, 0, b, &t.ctx) == RN_OK);
                if (cur->time_key >= 0) RN_REQUIRE(t.op->vt->watermark(t.op, round, &t.ctx) == RN_OK);
            }
            /* ops[0]: the four snapshots merged, oracle the original;
             * ops[1 + p]: partition p alone; ops[5]: the original without
             * partition `missing`, then that one merged in. */
            rn_op_t *ops[6] = {0}, *oracles[6] = {0};
            uint8_t all[SPLIT_NP] = {1, 1, 1, 1}, keep[SPLIT_NP];
            int32_t missing = (int32_t)rnd(SPLIT_NP);
            for (int p = 0; p < SPLIT_NP; p++) keep[p] = p != missing;
            ops[0] = make_rank(&t);
            RN_REQUIRE(ops[0]);
            mat_new(ops[0], NULL);
            oracles[0] = split_copy(&t, t.op, all, false);
            ops[5] = split_copy(&t, t.op, keep, true);
            oracles[5] = split_copy(&t, t.op, all, false);
            size_t inpart[SPLIT_NP] = {0};
            for (int32_t p = 0; p < SPLIT_NP; p++) {
                for (int q = 0; q < SPLIT_NP; q++) keep[q] = q == p;
                ops[1 + p] = split_copy(&t, t.op, keep, false);
                oracles[1 + p] = split_copy(&t, t.op, keep, true);
                RN_REQUIRE(ops[1 + p] && oracles[1 + p]);
                inpart[p] = rn_rank_partitions(oracles[1 + p]);
                RN_CHECK_EQ_INT(rn_rank_partitions(ops[1 + p]), inpart[p]);
                rn_part_filter_t parts = {.nparts = SPLIT_NP, .parts = keep};
                rn_buf_t snap;
                rn_buf_init(&snap);
                RN_REQUIRE(t.op->vt->snapshot(t.op, &snap, &parts) == RN_OK);
                RN_CHECK_EQ_INT(ops[0]->vt->restore(ops[0], snap.data, snap.len), RN_OK);
                if (p == missing) RN_CHECK_EQ_INT(ops[5]->vt->restore(ops[5], snap.data, snap.len), RN_OK);
                /* again: its partitions are held already */
                RN_CHECK_EQ_INT(ops[0]->vt->restore(ops[0], snap.data, snap.len),
                                inpart[p] ? RN_ERR_DECODE : RN_OK);
                rn_buf_free(&snap);
            }
            RN_REQUIRE(oracles[0] && ops[5] && oracles[5]);
            /* every partition of the original in exactly one split */
            size_t total = rn_rank_partitions(t.op);
            RN_CHECK_EQ_INT(inpart[0] + inpart[1] + inpart[2] + inpart[3], total);
            RN_CHECK_EQ_INT(rn_rank_partitions(ops[0]), total);
            RN_CHECK_EQ_INT(rn_rank_partitions(ops[5]), total);
            /* late rows are operator-wide: each snapshot carries them, a
             * merge keeps the largest (not the sum of the sections) */
            RN_CHECK_EQ_INT(rn_rank_late_rows(ops[1]), rn_rank_late_rows(t.op));
            RN_CHECK_EQ_INT(rn_rank_late_rows(ops[0]), rn_rank_late_rows(t.op));
            /* each split holds only keys of its partition (rn_key_partition
             * of the key bytes): a copy that forgets that partition is empty */
            for (int32_t p = 0; p < SPLIT_NP; p++) {
                uint8_t revoked[SPLIT_NP] = {0};
                revoked[p] = 1;
                rn_op_t *c = split_copy(&t, ops[1 + p], all, false);
                RN_REQUIRE(c);
                RN_CHECK_EQ_INT(c->vt->forget_partitions(c, SPLIT_NP, revoked), RN_OK);
                RN_CHECK_EQ_INT(rn_rank_partitions(c), 0);
                split_free(c);
            }
            for (; round < 24; round++) {
                rn_batch_t *b = gen_batch(&t, keys, &next_id, &seq);
                for (int i = 0; i < 6; i++) {
                    RN_REQUIRE(ops[i]->vt->process(ops[i], 0, b, &t.ctx) == RN_OK);
                    RN_REQUIRE(oracles[i]->vt->process(oracles[i], 0, b, &t.ctx) == RN_OK);
                    if (cur->time_key >= 0) {
                        RN_REQUIRE(ops[i]->vt->watermark(ops[i], round, &t.ctx) == RN_OK);
                        RN_REQUIRE(oracles[i]->vt->watermark(oracles[i], round, &t.ctx) == RN_OK);
                    }
                }
                for (int i = 0; i < 6; i++) {
                    char *got = split_log(ops[i]), *want = split_log(oracles[i]);
                    if (strcmp(got, want)) {
                        fprintf(stderr, "mode %s seed %u op %d round %d:\n  got  %s\n  want %s\n",
                                cur->name, seed, i, round, got, want);
                        RN_CHECK(false);
                    }
                    free(got);
                    free(want);
                }
            }
            for (int i = 0; i < 6; i++) {
                split_free(ops[i]);
                split_free(oracles[i]);
            }
            run_free(&t);
        }
    }
}

/* ---- TTL and revoked partitions ------------------------------------------------------ */

static void test_rank_state_ttl(void)
{
    static const rmode_t m = {"keep-last", 0, false, false, true, 1, false, false, -1};
    cur = &m;
    run_t t;
    run_init(&t);
    RN_REQUIRE(t.op);
    RN_CHECK(rn_rank_set_ttl(t.op, 1000));
    mat_t *mt = t.mat->priv;
    orow_t a = {.k = 1, .s1 = 0, .s2 = 0, .id = 1}, b2 = {.k = 1, .s1 = 0, .s2 = 0, .id = 2},
           c = {.k = 1, .s1 = 0, .s2 = 0, .id = 3};
    t.ctx.now_ms = 0;
    rn_arena_reset(&t.arena);
    rn_batch_t *b = rn_batch_new(&t.arena, t.in, 2);
    put_row(b, RN_ROW_INSERT, &a);
    RN_CHECK_EQ_INT(t.op->vt->process(t.op, 0, b, &t.ctx), RN_OK);
    t.ctx.now_ms = 900; /* within the TTL: replaces */
    rn_arena_reset(&t.arena);
    b = rn_batch_new(&t.arena, t.in, 2);
    put_row(b, RN_ROW_INSERT, &b2);
    RN_CHECK_EQ_INT(t.op->vt->process(t.op, 0, b, &t.ctx), RN_OK);
    t.ctx.now_ms = 2000; /* idle for more than the TTL: a new partition */
    rn_arena_reset(&t.arena);
    b = rn_batch_new(&t.arena, t.in, 2);
    put_row(b, RN_ROW_INSERT, &c);
    RN_CHECK_EQ_INT(t.op->vt->process(t.op, 0, b, &t.ctx), RN_OK);
    RN_CHECK_EQ_STR(mt->log.data, "+I(1,0,a,1) -U(1,0,a,1) +U(1,0,a,2) +I(1,0,a,3) ");
    rn_buf_t out;
    rn_buf_init(&out);
    rn_op_explain(t.op, &out);
    RN_CHECK(strstr(out.data, "state ttl 1000 ms") != NULL);
    rn_buf_free(&out);
    run_free(&t);
}

static void test_rank_forget_partitions(void)
{
    static const rmode_t m = {"top2", 1, false, false, false, 2, false, false, -1};
    cur = &m;
    run_t t;
    run_init(&t);
    RN_REQUIRE(t.op);
    rn_arena_reset(&t.arena);
    rn_batch_t *b = rn_batch_new(&t.arena, t.in, 64);
    for (int i = 0; i < 40; i++) {
        orow_t o = {.k = i, .s1 = i, .s2 = 0, .id = i};
        put_row(b, RN_ROW_INSERT, &o);
    }
    RN_CHECK_EQ_INT(t.op->vt->process(t.op, 0, b, &t.ctx), RN_OK);
    /* revoke partition 0 of 2: the keys left are exactly those in partition 1 */
    uint8_t revoked[2] = {1, 0};
    RN_CHECK_EQ_INT(t.op->vt->forget_partitions(t.op, 2, revoked), RN_OK);
    int want = 0;
    for (int i = 0; i < 40; i++) {
        rn_buf_t key;
        rn_buf_init(&key);
        rn_value_t v = rn_value_int(i);
        rn_key_append(&key, RN_TYPE_BIGINT, &v);
        want += rn_key_partition(key.data, (uint32_t)key.len, 2) == 1;
        rn_buf_free(&key);
    }
    RN_CHECK(want > 0 && want < 40);
    RN_CHECK_EQ_INT(rn_rank_partitions(t.op), want);
    run_free(&t);
}

static void test_rank_rejects_bad_spec(void)
{
    static const rmode_t m = {"bad", 1, false, false, false, 0, false, false, -1};
    cur = &m;
    run_t t;
    run_init(&t);
    RN_CHECK(t.op == NULL); /* n = 0 */
    RN_CHECK(strstr(t.errbuf, "invalid") != NULL);
    run_free(&t);
    static const rmode_t m2 = {"event-time over updating", 1, false, false, false, 1, false, true, 0};
    cur = &m2;
    run_init(&t);
    RN_CHECK(t.op == NULL);
    run_free(&t);
}

int main(void)
{
    RN_RUN(test_rank_random_against_oracle);
    RN_RUN(test_rank_insert_only_state_is_bounded);
    RN_RUN(test_rank_event_time_emits_once);
    RN_RUN(test_rank_event_time_offset);
    RN_RUN(test_rank_snapshot_restore);
    RN_RUN(test_rank_snapshot_rejects_truncated);
    RN_RUN(test_rank_snapshot_split_by_partition);
    RN_RUN(test_rank_state_ttl);
    RN_RUN(test_rank_forget_partitions);
    RN_RUN(test_rank_rejects_bad_spec);
    return rn_test_summary();
}
