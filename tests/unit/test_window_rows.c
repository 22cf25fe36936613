/*
 * test_window_rows.c - unit tests for WindowRows (op/window_rows.c), a
 * window TVF without an aggregate.
 *
 * The operator is driven directly, as in test_window.c: hand-built batches
 * with per-row watermarks (batch->rowwm) go into it, watermarks are
 * delivered by calling its `watermark` callback, and a capturing operator
 * downstream records each row as text together with the checks every
 * output row must pass (rowwm <= window_time, the forwarded watermark
 * never past a row's window_end when the row comes). A randomized test
 * sessionizes out-of-order rows in random batches and compares with a
 * brute-force sessionization of the accepted rows; the same run,
 * snapshotted and restored into a fresh operator part way, must emit the
 * same bytes; every truncation of a snapshot is refused cleanly; revoked
 * partitions are forgotten; snapshots taken by partition and merged on
 * restore go on as the original. A window aggregate over the windows the rows
 * carry (RN_WINDOW_GIVEN, snapshotted and restored part way) must give
 * what a session window aggregate over the same input gives.
 */
#include "core/mem.h"
#include "op/op.h"
#include "rn_test.h"
#include "state/store.h"

#include <stdint.h>

static rn_value_t I(int64_t v) { return rn_value_int(v); }
static rn_value_t S(const char *s) { return rn_value_str(s, (uint32_t)strlen(s)); }

/* Input: k BIGINT (the PARTITION BY key), t TIMESTAMP (rowtime), id STRING. */
static rn_schema_t *in_schema(void)
{
    rn_schema_t *s = rn_schema_new(3);
    rn_schema_set(s, 0, "k", &rn_type_bigint);
    rn_schema_set(s, 1, "t", &rn_type_timestamp);
    rn_schema_set(s, 2, "id", &rn_type_string);
    return s;
}

static rn_schema_t *out_schema(void)
{
    rn_schema_t *s = rn_schema_new(6);
    rn_schema_set(s, 0, "k", &rn_type_bigint);
    rn_schema_set(s, 1, "t", &rn_type_timestamp);
    rn_schema_set(s, 2, "id", &rn_type_string);
    rn_schema_set(s, 3, "window_start", &rn_type_timestamp);
    rn_schema_set(s, 4, "window_end", &rn_type_timestamp);
    rn_schema_set(s, 5, "window_time", &rn_type_timestamp);
    return s;
}

static rn_err_t feeder_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    return RN_OK;
}
static const rn_op_vtable_t feeder_vt = {.kind = "Feeder", .process = feeder_process};

/* The capture: "k,t,id,start,end " per row (rows must be +I), and the
 * number of rows that broke the output-time rules. */
typedef struct capture {
    rn_buf_t text;
    int rows;
    int bad;                    /* rows late downstream, or not +I, or with a wrong window_time */
    uint64_t rowwm_sum;         /* sum of the rows' rowwm (wrapping): compares their watermarks */
} capture_t;

static rn_err_t capture_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    capture_t *c = op->priv;
    for (int r = 0; r < b->nrows; r++) {
        const rn_value_t *v = (const rn_value_t[]){b->cols[0][r], b->cols[1][r], b->cols[2][r],
                                                   b->cols[3][r], b->cols[4][r], b->cols[5][r]};
        rn_buf_appendf(&c->text, "%lld,%lld,%.*s,%lld,%lld ", (long long)v[0].i, (long long)v[1].i, (int)v[2].len,
                       v[2].s ? v[2].s : "", (long long)v[3].i, (long long)v[4].i);
        c->rows++;
        if (b->rowwm) c->rowwm_sum += (uint64_t)b->rowwm[r];
        if (b->kinds[r] != RN_ROW_INSERT || v[5].i != v[4].i - 1 || !b->rowwm || b->rowwm[r] > v[5].i ||
            (op->watermark != RN_WM_MIN && op->watermark > v[5].i))
            c->bad++;
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

/* The late-row output: counts rows (in priv, an int). */
static rn_err_t late_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    *(int *)op->priv += b->nrows;
    return RN_OK;
}
static const rn_op_vtable_t late_vt = {.kind = "Late", .process = late_process};

typedef struct fix {
    rn_arena_t arena;
    rn_ctx_t ctx;
    char errbuf[256];
    rn_schema_t *in, *out;
    rn_op_t *feeder;
} fix_t;

static void fix_init(fix_t *f)
{
    memset(f, 0, sizeof *f);
    rn_arena_init(&f->arena, 0);
    f->ctx.arena = &f->arena;
    f->ctx.errbuf = f->errbuf;
    f->ctx.errbuf_size = sizeof f->errbuf;
    f->in = in_schema();
    f->out = out_schema();
    f->feeder = rn_op_new(&feeder_vt, f->in, NULL);
}

static void fix_free(fix_t *f)
{
    rn_op_free(f->feeder);
    rn_schema_unref(f->in);
    rn_schema_unref(f->out);
    rn_arena_free(&f->arena);
}

/* A WindowRows operator over the feeder with a capture connected. */
static rn_op_t *wr_new(fix_t *f, const rn_window_spec_t *w, int nkeys, rn_op_t **cap)
{
    rn_op_t *op = rn_window_rows_new(f->feeder, w, nkeys, f->out, f->errbuf, sizeof f->errbuf);
    if (!op) return NULL;
    *cap = rn_op_new(&capture_vt, f->out, op);
    capture_t *c = calloc(1, sizeof *c);
    rn_buf_init(&c->text);
    (*cap)->priv = c;
    rn_op_connect(op, *cap, 0);
    return op;
}

static void wr_free(rn_op_t *op, rn_op_t *cap)
{
    rn_op_free(cap);
    rn_op_free(op);
}

static capture_t *cap_of(rn_op_t *cap) { return cap->priv; }

static rn_batch_t *fix_batch(fix_t *f)
{
    rn_arena_reset(&f->arena);
    rn_batch_t *b = rn_batch_new(&f->arena, f->in, RN_BATCH_MAX);
    b->rowwm = rn_arena_alloc(&f->arena, sizeof(int64_t) * RN_BATCH_MAX);
    return b;
}

static void add_row(rn_batch_t *b, int64_t wm, int64_t k, int64_t t, const char *id)
{
    int r = b->nrows++;
    b->cols[0][r] = I(k);
    b->cols[1][r] = I(t);
    b->cols[2][r] = S(id);
    b->kinds[r] = RN_ROW_INSERT;
    b->rowwm[r] = wm;
}

static rn_err_t fix_wm(fix_t *f, rn_op_t *op, int64_t wm)
{
    rn_arena_reset(&f->arena);
    return op->vt->watermark(op, wm, &f->ctx);
}

/* ---- TUMBLE / HOP ---------------------------------------------------------- */

static void test_tumble_hop_rows(void)
{
    fix_t f;
    fix_init(&f);
    rn_op_t *cap;
    rn_window_spec_t w = {.kind = RN_WINDOW_TUMBLE, .time_col = 1, .size_ms = 10};
    rn_op_t *op = wr_new(&f, &w, 0, &cap);
    RN_REQUIRE(op);
    rn_op_t *late = rn_op_new(&late_vt, f.in, NULL);
    int nlate = 0;
    late->priv = &nlate;
    rn_window_set_late_output(op, late);
    rn_batch_t *b = fix_batch(&f);
    add_row(b, RN_WM_MIN, 1, 3, "a");
    add_row(b, 5, 2, 12, "b");
    add_row(b, 11, 1, 9, "late");
    add_row(b, 11, 1, -1, "neg");
    RN_CHECK(op->vt->process(op, 0, b, &f.ctx) == RN_OK);
    RN_CHECK_EQ_STR(cap_of(cap)->text.data, "1,3,a,0,10 2,12,b,10,20 ");
    RN_CHECK_EQ_INT(rn_window_late_rows(op), 2);
    RN_CHECK_EQ_INT(nlate, 2);
    RN_CHECK_EQ_INT(cap_of(cap)->bad, 0);
    RN_CHECK(op->vt->held_since(op) == INT64_MAX);
    rn_op_free(late);
    wr_free(op, cap);

    /* HOP(slide 5, size 15): three rows per input row, by start. */
    w = (rn_window_spec_t){.kind = RN_WINDOW_HOP, .time_col = 1, .size_ms = 15, .slide_ms = 5, .offset_ms = 1};
    op = wr_new(&f, &w, 0, &cap);
    RN_REQUIRE(op);
    b = fix_batch(&f);
    add_row(b, RN_WM_MIN, 7, 7, "x");
    RN_CHECK(op->vt->process(op, 0, b, &f.ctx) == RN_OK);
    RN_CHECK_EQ_STR(cap_of(cap)->text.data, "7,7,x,-4,11 7,7,x,1,16 7,7,x,6,21 ");
    RN_CHECK_EQ_INT(cap_of(cap)->bad, 0);
    wr_free(op, cap);
    fix_free(&f);
}

/* ---- SESSION --------------------------------------------------------------- */

static void test_session_rows_basic(void)
{
    fix_t f;
    fix_init(&f);
    rn_op_t *cap;
    rn_window_spec_t w = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 10};
    rn_op_t *op = wr_new(&f, &w, 1, &cap);
    RN_REQUIRE(op);
    rn_batch_t *b = fix_batch(&f);
    add_row(b, RN_WM_MIN, 1, 100, "a");
    add_row(b, RN_WM_MIN, 1, 115, "b"); /* a second session */
    add_row(b, RN_WM_MIN, 2, 105, "c");
    add_row(b, RN_WM_MIN, 1, 109, "d"); /* bridges a's and b's */
    RN_CHECK(op->vt->process(op, 0, b, &f.ctx) == RN_OK);
    RN_CHECK_EQ_INT(cap_of(cap)->rows, 0);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 2); /* key 1's merged session, key 2's */
    RN_CHECK_EQ_INT(op->vt->held_since(op), 100);
    size_t keys = 0;
    RN_CHECK(op->vt->state_size(op, &keys) > 0 && keys == 2);
    RN_CHECK(fix_wm(&f, op, 114) == RN_OK); /* key 2's [105, 115) is still open */
    RN_CHECK_EQ_INT(cap_of(cap)->rows, 0);
    RN_CHECK(fix_wm(&f, op, 115) == RN_OK);
    RN_CHECK_EQ_STR(cap_of(cap)->text.data, "2,105,c,105,115 ");
    RN_CHECK_EQ_INT(cap->watermark, 115);
    RN_CHECK(fix_wm(&f, op, RN_WM_MAX) == RN_OK);
    RN_CHECK_EQ_STR(cap_of(cap)->text.data, "2,105,c,105,115 1,100,a,100,125 1,115,b,100,125 1,109,d,100,125 ");
    RN_CHECK_EQ_INT(rn_window_open_windows(op), 0);
    RN_CHECK(op->vt->held_since(op) == INT64_MAX);
    RN_CHECK_EQ_INT(cap_of(cap)->bad, 0);
    rn_buf_t ex;
    rn_buf_init(&ex);
    op->vt->explain(op, &ex);
    RN_CHECK(strstr(ex.data, "SESSION(t, 10 ms) partition by [k]") != NULL);
    rn_buf_free(&ex);
    wr_free(op, cap);

    /* Allowed lateness L: the watermark forwarded is W - L; sessions close
     * when W - L reaches their end, so rows accepted late still join. */
    w.lateness_ms = 20;
    op = wr_new(&f, &w, 1, &cap);
    RN_REQUIRE(op);
    b = fix_batch(&f);
    add_row(b, RN_WM_MIN, 1, 100, "a");
    RN_CHECK(op->vt->process(op, 0, b, &f.ctx) == RN_OK);
    RN_CHECK(fix_wm(&f, op, 125) == RN_OK);
    RN_CHECK_EQ_INT(cap->watermark, 105);
    RN_CHECK_EQ_INT(cap_of(cap)->rows, 0);
    b = fix_batch(&f);
    add_row(b, 125, 1, 108, "b"); /* 108 >= 125 - 20: accepted, extends to 118 */
    add_row(b, 125, 1, 104, "late"); /* 104 < 105 */
    RN_CHECK(op->vt->process(op, 0, b, &f.ctx) == RN_OK);
    RN_CHECK_EQ_INT(rn_window_late_rows(op), 1);
    RN_CHECK(fix_wm(&f, op, 137) == RN_OK);
    RN_CHECK_EQ_INT(cap_of(cap)->rows, 0);
    RN_CHECK(fix_wm(&f, op, 138) == RN_OK);
    RN_CHECK_EQ_STR(cap_of(cap)->text.data, "1,100,a,100,118 1,108,b,100,118 ");
    RN_CHECK_EQ_INT(cap_of(cap)->bad, 0);
    wr_free(op, cap);

    /* Refused specs. */
    RN_CHECK(rn_window_rows_new(f.feeder, &(rn_window_spec_t){.kind = RN_WINDOW_TUMBLE, .time_col = 1, .size_ms = 10},
                                1, f.out, f.errbuf, sizeof f.errbuf) == NULL);
    RN_CHECK(rn_window_rows_new(f.feeder, &(rn_window_spec_t){.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 0},
                                1, f.out, f.errbuf, sizeof f.errbuf) == NULL);
    RN_CHECK(rn_window_rows_new(f.feeder, &w, 1, f.in, f.errbuf, sizeof f.errbuf) == NULL);
    fix_free(&f);
}

/* ---- randomized against brute force ----------------------------------------- */

#define RNROWS 1500

typedef struct rrow {
    int64_t k, t;
    char id[12];
    int64_t wm;                 /* rowwm */
    int batch;                  /* the batch it goes in */
    bool accepted;
} rrow_t;

static uint64_t rnd_state;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rnd_state >> 33);
}

/* Generates rows for seed: keys 0..nkeys-1, rowtimes drifting up with jitter,
 * batches of random size, rowwm = max rowtime before - delay. */
static void gen_rows(uint64_t seed, rrow_t *rows, int n, int64_t delay, int64_t lateness, int *nbatches,
                     int nkeys)
{
    rnd_state = seed;
    int64_t base = 1000, maxt = INT64_MIN;
    int batch = 0, left = 1 + (int)(rnd() % 40);
    for (int i = 0; i < n; i++) {
        base += rnd() % 7;
        rrow_t *r = &rows[i];
        r->k = rnd() % (uint32_t)nkeys;
        r->t = base - (int64_t)(rnd() % 60);
        snprintf(r->id, sizeof r->id, "r%d", i);
        r->wm = maxt == INT64_MIN ? RN_WM_MIN : maxt - delay;
        r->accepted = r->wm == RN_WM_MIN || r->t >= r->wm - lateness;
        if (r->t > maxt) maxt = r->t;
        if (left-- == 0) {
            batch++;
            left = 1 + (int)(rnd() % 40);
        }
        r->batch = batch;
    }
    *nbatches = batch + 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The brute-force session of every accepted row: rows of a key sorted by
 * rowtime are chained while each is < gap after the previous one. */
static void brute_sessions(const rrow_t *rows, int n, int64_t gap, int64_t *start, int64_t *end)
{
    for (int64_t k = 0; k < 5; k++) {
        int64_t ts[RNROWS];
        int m = 0;
        for (int i = 0; i < n; i++)
            if (rows[i].k == k && rows[i].accepted) ts[m++] = rows[i].t;
        qsort(ts, (size_t)m, sizeof *ts, cmp_i64);
        for (int i = 0; i < n; i++) {
            if (rows[i].k != k || !rows[i].accepted) continue;
            int lo = 0;
            while (ts[lo] != rows[i].t) lo++;
            int a = lo, z = lo;
            while (a > 0 && ts[a] - ts[a - 1] < gap) a--;
            while (z + 1 < m && ts[z + 1] - ts[z] < gap) z++;
            start[i] = ts[a];
            end[i] = ts[z] + gap;
        }
    }
}

/* Feeds the rows' batches [from, to) to op, each followed by the watermark
 * (max rowtime so far - delay). */
static bool feed(fix_t *f, rn_op_t *op, const rrow_t *rows, int n, int from, int to, int64_t delay)
{
    int64_t maxt = INT64_MIN;
    for (int i = 0; i < n && rows[i].batch < to; i++) {
        if (rows[i].t > maxt) maxt = rows[i].t;
        if (rows[i].batch < from) continue;
        if (i > 0 && rows[i - 1].batch == rows[i].batch && rows[i - 1].batch >= from) continue;
        rn_batch_t *b = fix_batch(f);
        int64_t bm = maxt;
        for (int j = i; j < n && rows[j].batch == rows[i].batch; j++) {
            add_row(b, rows[j].wm, rows[j].k, rows[j].t, rows[j].id);
            if (rows[j].t > bm) bm = rows[j].t;
        }
        if (op->vt->process(op, 0, b, &f->ctx) != RN_OK) return false;
        if (fix_wm(f, op, bm - delay) != RN_OK) return false;
    }
    return true;
}

static void test_session_random_against_brute_force(void)
{
    static rrow_t rows[RNROWS];
    static int64_t bs[RNROWS], be[RNROWS];
    for (uint64_t seed = 1; seed <= 12; seed++) {
        int64_t gap = 3 + (int64_t)(seed % 4) * 5, delay = (int64_t)(seed % 3) * 10, lateness = seed % 2 ? 0 : 15;
        int nb;
        gen_rows(seed, rows, RNROWS, delay, lateness, &nb, 5);
        brute_sessions(rows, RNROWS, gap, bs, be);
        fix_t f;
        fix_init(&f);
        rn_op_t *cap;
        rn_window_spec_t w = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = gap, .lateness_ms = lateness};
        rn_op_t *op = wr_new(&f, &w, 1, &cap);
        RN_REQUIRE(op);
        RN_REQUIRE(feed(&f, op, rows, RNROWS, 0, nb, delay));
        RN_REQUIRE(fix_wm(&f, op, RN_WM_MAX) == RN_OK);
        capture_t *c = cap_of(cap);
        RN_CHECK_EQ_INT(c->bad, 0);
        int accepted = 0;
        for (int i = 0; i < RNROWS; i++) accepted += rows[i].accepted;
        RN_CHECK_EQ_INT(c->rows, accepted);
        RN_CHECK_EQ_INT(rn_window_late_rows(op), RNROWS - accepted);
        /* Each accepted row once, with its brute-force session; sessions
         * come out by end, rows of one session in arrival order. */
        const char *p = c->text.data ? c->text.data : "";
        int64_t last_end = INT64_MIN;
        int last_idx = -1, mismatches = 0;
        long long last_k = -1;
        bool reported = false;
        int64_t last_start = INT64_MIN;
        for (int n = 0; n < c->rows; n++) {
            long long k, t, s, e;
            int id;
            if (sscanf(p, "%lld,%lld,r%d,%lld,%lld ", &k, &t, &id, &s, &e) != 5 || id < 0 || id >= RNROWS) {
                mismatches++;
                break;
            }
            p = strchr(p, ' ') + 1;
            const rrow_t *r = &rows[id];
            if (!r->accepted || r->k != k || r->t != t || bs[id] != s || be[id] != e) mismatches++;
            if (e < last_end) mismatches++;
            if (e == last_end && s == last_start && k == last_k && id < last_idx) mismatches++;
            if (mismatches && !reported) {
                fprintf(stderr, "seed %d row %d: %lld,%lld,r%d,%lld,%lld want %lld,%lld after end %lld\n", (int)seed, n,
                        k, t, id, s, e, (long long)bs[id], (long long)be[id], (long long)last_end);
                reported = true;
            }
            last_k = k;
            last_end = e;
            last_start = s;
            last_idx = id;
        }
        RN_CHECK_EQ_INT(mismatches, 0);
        RN_CHECK_EQ_INT(rn_window_open_windows(op), 0);
        wr_free(op, cap);
        fix_free(&f);
    }
}

/* ---- snapshot / restore ------------------------------------------------------ */

/* Runs seed's rows through a session operator, snapshotting after batch
 * cut into a fresh operator that goes on (cut < 0: uninterrupted). Returns
 * the captured text (malloc'ed) or NULL; *snap gets the snapshot. */
static char *run_cut(uint64_t seed, int cut, rn_buf_t *snap)
{
    static rrow_t rows[RNROWS];
    int64_t gap = 9, delay = 12, lateness = seed % 2 ? 5 : 0;
    int nb;
    gen_rows(seed, rows, 600, delay, lateness, &nb, 5);
    fix_t f;
    fix_init(&f);
    rn_op_t *cap;
    rn_window_spec_t w = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = gap, .lateness_ms = lateness};
    rn_op_t *op = wr_new(&f, &w, 1, &cap);
    char *out = NULL;
    if (!op) goto done;
    if (cut >= 0) {
        if (!feed(&f, op, rows, 600, 0, cut, delay)) goto done;
        rn_buf_clear(snap);
        if (op->vt->snapshot(op, snap, NULL) != RN_OK) goto done;
        rn_op_t *cap2;
        rn_op_t *op2 = wr_new(&f, &w, 1, &cap2);
        if (!op2) goto done;
        if (op2->vt->restore(op2, snap->data, snap->len) != RN_OK) {
            wr_free(op2, cap2);
            goto done;
        }
        /* The restored operator's output follows the first one's. */
        rn_buf_t *t = &cap_of(cap2)->text;
        rn_buf_append(t, cap_of(cap)->text.data ? cap_of(cap)->text.data : "", cap_of(cap)->text.len);
        cap2->watermark = cap->watermark;
        wr_free(op, cap);
        op = op2;
        cap = cap2;
        if (!feed(&f, op, rows, 600, cut, nb, delay)) goto done;
    } else if (!feed(&f, op, rows, 600, 0, nb, delay)) {
        goto done;
    }
    if (fix_wm(&f, op, RN_WM_MAX) != RN_OK || cap_of(cap)->bad) goto done;
    out = strdup(cap_of(cap)->text.data ? cap_of(cap)->text.data : "");
done:
    if (op) wr_free(op, cap);
    fix_free(&f);
    return out;
}

static void test_snapshot_restore_matches_uninterrupted(void)
{
    rn_buf_t snap;
    rn_buf_init(&snap);
    for (uint64_t seed = 1; seed <= 4; seed++) {
        char *whole = run_cut(seed, -1, &snap);
        RN_REQUIRE(whole && *whole);
        for (int cut = 0; cut < 20; cut += 3) {
            char *cutrun = run_cut(seed, cut, &snap);
            RN_CHECK(cutrun && !strcmp(cutrun, whole));
            free(cutrun);
        }
        free(whole);
    }
    rn_buf_free(&snap);
}

static void test_snapshot_truncated_and_corrupt(void)
{
    rn_buf_t snap;
    rn_buf_init(&snap);
    char *s = run_cut(3, 9, &snap); /* leaves the snapshot taken after batch 9 */
    RN_REQUIRE(s);
    free(s);
    RN_REQUIRE(snap.len > 100);
    fix_t f;
    fix_init(&f);
    rn_window_spec_t w = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 9, .lateness_ms = 5};
    int refused = 0, tries = 0;
    for (size_t len = 0; len < snap.len; len += 1 + len / 64) {
        rn_op_t *cap, *op = wr_new(&f, &w, 1, &cap);
        RN_REQUIRE(op);
        tries++;
        refused += op->vt->restore(op, snap.data, len) == RN_ERR_DECODE && rn_window_open_windows(op) == 0 &&
                   op->vt->held_since(op) == INT64_MAX;
        /* It still works as a fresh operator. */
        rn_batch_t *b = fix_batch(&f);
        add_row(b, RN_WM_MIN, 1, 5, "z");
        RN_CHECK(op->vt->process(op, 0, b, &f.ctx) == RN_OK);
        wr_free(op, cap);
    }
    RN_CHECK_EQ_INT(refused, tries);
    /* The whole snapshot restores; flipped bytes never crash, and what is
     * accepted keeps the operator consistent enough to finish. */
    rn_op_t *cap, *op = wr_new(&f, &w, 1, &cap);
    RN_REQUIRE(op);
    RN_CHECK(op->vt->restore(op, snap.data, snap.len) == RN_OK);
    RN_CHECK(rn_window_open_windows(op) > 0);
    /* Again into it: every key is held already, so refused, and nothing
     * changes. */
    size_t open = rn_window_open_windows(op);
    uint64_t late = rn_window_late_rows(op);
    RN_CHECK(op->vt->restore(op, snap.data, snap.len) == RN_ERR_DECODE);
    RN_CHECK_EQ_INT(rn_window_open_windows(op), open);
    RN_CHECK_EQ_INT(rn_window_late_rows(op), late);
    wr_free(op, cap);
    for (size_t i = 0; i < snap.len; i += 7) {
        op = wr_new(&f, &w, 1, &cap);
        RN_REQUIRE(op);
        snap.data[i] ^= 0x5a;
        rn_err_t err = op->vt->restore(op, snap.data, snap.len);
        snap.data[i] ^= 0x5a;
        RN_CHECK(err == RN_OK || err == RN_ERR_DECODE);
        RN_CHECK(fix_wm(&f, op, RN_WM_MAX) == RN_OK);
        wr_free(op, cap);
    }
    /* A TUMBLE snapshot does not restore into a SESSION operator. */
    rn_window_spec_t tw = {.kind = RN_WINDOW_TUMBLE, .time_col = 1, .size_ms = 9};
    op = wr_new(&f, &tw, 0, &cap);
    rn_buf_clear(&snap);
    RN_CHECK(op->vt->snapshot(op, &snap, NULL) == RN_OK);
    wr_free(op, cap);
    op = wr_new(&f, &w, 1, &cap);
    RN_CHECK(op->vt->restore(op, snap.data, snap.len) == RN_ERR_DECODE);
    wr_free(op, cap);
    fix_free(&f);
    rn_buf_free(&snap);
}

/* ---- forget_partitions ------------------------------------------------------- */

static void test_forget_partitions(void)
{
    fix_t f;
    fix_init(&f);
    rn_op_t *cap;
    rn_window_spec_t w = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 10};
    rn_op_t *op = wr_new(&f, &w, 1, &cap);
    RN_REQUIRE(op);
    const int32_t nparts = 8;
    int32_t part[6];
    for (int k = 0; k < 6; k++) {
        rn_buf_t key;
        rn_buf_init(&key);
        rn_value_t v = I(k);
        rn_key_append(&key, RN_TYPE_BIGINT, &v);
        part[k] = rn_key_partition(key.data, (uint32_t)key.len, nparts);
        rn_buf_free(&key);
    }
    rn_batch_t *b = fix_batch(&f);
    for (int k = 0; k < 6; k++) add_row(b, RN_WM_MIN, k, 100 + k, "x");
    RN_CHECK(op->vt->process(op, 0, b, &f.ctx) == RN_OK);
    uint8_t revoked[8] = {0};
    revoked[part[0]] = 1;
    RN_CHECK(op->vt->forget_partitions(op, nparts, revoked) == RN_OK);
    RN_CHECK(fix_wm(&f, op, RN_WM_MAX) == RN_OK);
    const char *out = cap_of(cap)->text.data ? cap_of(cap)->text.data : "";
    int kept = 0;
    for (int k = 0; k < 6; k++) {
        char want[64];
        snprintf(want, sizeof want, "%d,%d,x,", k, 100 + k);
        bool seen = strstr(out, want) != NULL;
        RN_CHECK(seen == (part[k] != part[0]));
        kept += part[k] != part[0];
    }
    RN_CHECK_EQ_INT(cap_of(cap)->rows, kept);
    wr_free(op, cap);
    fix_free(&f);
}

/* ---- a window aggregate over window rows (RN_WINDOW_GIVEN) ---------------------- */

/* Records any rows as "kind(v,v,...) " text (integers and strings). */
static rn_err_t text_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    rn_buf_t *t = op->priv;
    for (int r = 0; r < b->nrows; r++) {
        rn_buf_appendf(t, "%s(", rn_rowkind_str((rn_rowkind_t)b->kinds[r]));
        for (int c = 0; c < b->schema->ncols; c++) {
            const rn_value_t *v = &b->cols[c][r];
            if (c) rn_buf_appendc(t, ',');
            if (v->null) rn_buf_appends(t, "null");
            else if (b->schema->cols[c].type->id == RN_TYPE_STRING) rn_buf_append(t, v->s, v->len);
            else rn_buf_append_i64(t, v->i);
        }
        rn_buf_appends(t, ") ");
    }
    return RN_OK;
}
static void text_destroy(rn_op_t *op)
{
    rn_buf_free(op->priv);
    free(op->priv);
}
static const rn_op_vtable_t text_vt = {.kind = "Text", .process = text_process, .destroy = text_destroy};

static rn_op_t *text_new(rn_op_t *upstream)
{
    rn_op_t *op = rn_op_new(&text_vt, upstream->schema, upstream);
    rn_buf_t *t = calloc(1, sizeof *t);
    rn_buf_init(t);
    op->priv = t;
    rn_op_connect(upstream, op, 0);
    return op;
}

static const char *text_of(rn_op_t *op) { return ((rn_buf_t *)op->priv)->data ? ((rn_buf_t *)op->priv)->data : ""; }

/* (window_start, window_end, window_time, k, COUNT(*), MAX_BY(id, t)). */
static rn_schema_t *agg_schema(void)
{
    rn_schema_t *s = rn_schema_new(6);
    rn_schema_set(s, 0, "window_start", &rn_type_timestamp);
    rn_schema_set(s, 1, "window_end", &rn_type_timestamp);
    rn_schema_set(s, 2, "window_time", &rn_type_timestamp);
    rn_schema_set(s, 3, "k", &rn_type_bigint);
    rn_schema_set(s, 4, "n", &rn_type_bigint);
    rn_schema_set(s, 5, "last_id", &rn_type_string);
    return s;
}

static const rn_agg_spec_t given_aggs[] = {
    {.kind = RN_AGG_COUNT_STAR, .arg = -1, .result_type = RN_TYPE_BIGINT},
    {.kind = RN_AGG_MAX_BY, .arg = 2, .arg_type = RN_TYPE_STRING, .result_type = RN_TYPE_STRING, .by = 1,
     .by_type = RN_TYPE_TIMESTAMP},
};

static int str_cmp(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

/* Applies a "kind(values) " changelog (+I/+U add a row, -D/-U take one
 * back) and returns the remaining rows sorted, space-separated (malloc'ed). */
static char *replay_sorted(const char *log)
{
    char *copy = strdup(log), *save = NULL;
    char **rows = calloc(strlen(log) / 4 + 1, sizeof *rows);
    int n = 0;
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (tok[0] == '+') {
            rows[n++] = tok + 2;
            continue;
        }
        for (int i = 0; i < n; i++)
            if (!strcmp(rows[i], tok + 2)) {
                rows[i] = rows[--n];
                break;
            }
    }
    qsort(rows, (size_t)n, sizeof *rows, str_cmp);
    rn_buf_t out;
    rn_buf_init(&out);
    for (int i = 0; i < n; i++) rn_buf_appendf(&out, "%s ", rows[i]);
    char *res = strdup(out.data ? out.data : "");
    rn_buf_free(&out);
    free(rows);
    free(copy);
    return res;
}

/* Session rows aggregated by the windows they carry give exactly what a
 * session window aggregate over the same input gives, in the same order;
 * a snapshot of the given-window aggregate part way restores to the same
 * output. */
static void test_window_aggregate_over_window_rows(void)
{
    static rrow_t rows[RNROWS];
    for (uint64_t seed = 21; seed <= 26; seed++) {
        int64_t gap = 7 + (int64_t)(seed % 3) * 4, delay = (int64_t)(seed % 2) * 9, lateness = seed % 3 ? 0 : 6;
        int nb;
        gen_rows(seed, rows, 800, delay, lateness, &nb, 5);
        fix_t f;
        fix_init(&f);
        rn_schema_t *as = agg_schema();
        rn_window_spec_t sw = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = gap, .lateness_ms = lateness};
        /* Direct: a session aggregate on the feeder. */
        rn_op_t *direct = rn_window_aggregate_new(f.feeder, &sw, 1, 2, given_aggs, as, f.errbuf, sizeof f.errbuf);
        RN_REQUIRE(direct);
        rn_op_t *dtext = text_new(direct);
        /* Chained: window rows, then an aggregate over their windows. */
        rn_op_t *rows_op = rn_window_rows_new(f.feeder, &sw, 1, f.out, f.errbuf, sizeof f.errbuf);
        RN_REQUIRE(rows_op);
        rn_window_spec_t gw = {.kind = RN_WINDOW_GIVEN, .time_col = 4, .start_col = 3};
        rn_op_t *given = rn_window_aggregate_new(rows_op, &gw, 1, 2, given_aggs, as, f.errbuf, sizeof f.errbuf);
        RN_REQUIRE(given);
        RN_CHECK(!given->updating);
        rn_op_connect(rows_op, given, 0);
        rn_op_t *gtext = text_new(given);
        rn_buf_t ex;
        rn_buf_init(&ex);
        given->vt->explain(given, &ex);
        RN_CHECK(strstr(ex.data, "WINDOW(window_start, window_end) group by [k]") != NULL);
        rn_buf_free(&ex);
        int cut = nb / 2;
        RN_CHECK(feed(&f, direct, rows, 800, 0, nb, delay));
        RN_CHECK(feed(&f, rows_op, rows, 800, 0, cut, delay));
        /* Snapshot the given-window aggregate and go on with a restored one. */
        rn_buf_t snap;
        rn_buf_init(&snap);
        RN_CHECK(given->vt->snapshot(given, &snap, NULL) == RN_OK);
        rn_op_t *given2 = rn_window_aggregate_new(rows_op, &gw, 1, 2, given_aggs, as, f.errbuf, sizeof f.errbuf);
        RN_REQUIRE(given2);
        RN_CHECK(given2->vt->restore(given2, snap.data, snap.len) == RN_OK);
        RN_CHECK_EQ_INT(rn_window_open_windows(given2), rn_window_open_windows(given));
        RN_CHECK_EQ_INT(given2->vt->held_since(given2), given->vt->held_since(given));
        for (size_t len = 0; len < snap.len; len += 1 + len / 32) {
            rn_op_t *g3 = rn_window_aggregate_new(rows_op, &gw, 1, 2, given_aggs, as, f.errbuf, sizeof f.errbuf);
            RN_CHECK(g3->vt->restore(g3, snap.data, len) == RN_ERR_DECODE);
            rn_op_free(g3);
        }
        rn_buf_free(&snap);
        rn_op_t *gtext2 = text_new(given2);
        rn_buf_append(gtext2->priv, text_of(gtext), strlen(text_of(gtext)));
        /* Re-wire: rows_op now feeds the restored aggregate only. */
        rows_op->noutputs = 0;
        rn_op_connect(rows_op, given2, 0);
        RN_CHECK(feed(&f, rows_op, rows, 800, cut, nb, delay));
        RN_CHECK(fix_wm(&f, rows_op, RN_WM_MAX) == RN_OK);
        RN_CHECK(fix_wm(&f, direct, RN_WM_MAX) == RN_OK);
        RN_CHECK(*text_of(dtext) != 0);
        if (lateness == 0) {
            RN_CHECK_EQ_STR(text_of(gtext2), text_of(dtext));
        } else {
            /* The direct aggregate then updates sessions after firing (an
             * updating output); the rows path waits for W - L and emits
             * final results: equal once the changelog is applied. */
            RN_CHECK(!strstr(text_of(gtext2), "-D(") && !strstr(text_of(gtext2), "-U("));
            char *a = replay_sorted(text_of(gtext2)), *b = replay_sorted(text_of(dtext));
            RN_CHECK_EQ_STR(a, b);
            free(a);
            free(b);
        }
        RN_CHECK_EQ_INT(rn_window_late_rows(given2), 0);
        RN_CHECK_EQ_INT(rn_window_open_windows(given2), 0);
        rn_op_free(gtext2);
        rn_op_free(given2);
        rn_op_free(gtext);
        rn_op_free(given);
        rn_op_free(rows_op);
        rn_op_free(dtext);
        rn_op_free(direct);
        rn_schema_unref(as);
        fix_free(&f);
    }
}

/* ---- snapshots by partition, merged on restore (docs/checkpoints.md) -------- */

#define MG_NPARTS 4

/* The partition of key k (the PARTITION BY column serialized as an
 * Exchange does). */
static int32_t k_part(int64_t k)
{
    rn_buf_t key;
    rn_buf_init(&key);
    rn_value_t v = I(k);
    rn_key_append(&key, RN_TYPE_BIGINT, &v);
    int32_t p = rn_key_partition(key.data, (uint32_t)key.len, MG_NPARTS);
    rn_buf_free(&key);
    return p;
}

/* Feeds the rows' batches [from, to) whose key's partition is in mask
 * (bit p) to op: every batch (empty or not), each followed by the
 * watermark of all rows so far (max rowtime - delay). */
static bool feed_parts(fix_t *f, rn_op_t *op, const rrow_t *rows, int n, int from, int to, int64_t delay,
                       unsigned mask)
{
    int64_t maxt = INT64_MIN;
    for (int i = 0; i < n && rows[i].batch < to; i++) {
        if (rows[i].t > maxt) maxt = rows[i].t;
        if (rows[i].batch < from) continue;
        if (i > 0 && rows[i - 1].batch == rows[i].batch && rows[i - 1].batch >= from) continue;
        rn_batch_t *b = fix_batch(f);
        int64_t bm = maxt;
        for (int j = i; j < n && rows[j].batch == rows[i].batch; j++) {
            if (mask & (1u << k_part(rows[j].k))) add_row(b, rows[j].wm, rows[j].k, rows[j].t, rows[j].id);
            if (rows[j].t > bm) bm = rows[j].t;
        }
        if (op->vt->process(op, 0, b, &f->ctx) != RN_OK) return false;
        if (fix_wm(f, op, bm - delay) != RN_OK) return false;
    }
    return true;
}

/* The rows of a capture's text ("k,t,id,start,end ") whose key is in
 * partition p (malloc'ed). */
static char *text_part(const rn_op_t *cap, int32_t p)
{
    const char *s = cap_of((rn_op_t *)cap)->text.data ? cap_of((rn_op_t *)cap)->text.data : "";
    rn_buf_t out;
    rn_buf_init(&out);
    while (*s) {
        const char *e = strchr(s, ' ');
        size_t len = e ? (size_t)(e - s) + 1 : strlen(s);
        if (k_part(strtoll(s, NULL, 10)) == p) rn_buf_append(&out, s, len);
        s += len;
    }
    char *res = strdup(out.data ? out.data : "");
    rn_buf_free(&out);
    return res;
}

static size_t snap_len(rn_op_t *op)
{
    rn_buf_t b;
    rn_buf_init(&b);
    size_t len = op->vt->snapshot(op, &b, NULL) == RN_OK ? b.len : 0;
    rn_buf_free(&b);
    return len;
}

static const char *cap_text(rn_op_t *cap) { return cap_of(cap)->text.data ? cap_of(cap)->text.data : ""; }

/* One randomized run (window w, nkeys key columns, rows of 24 keys): as
 * test_window.c's merge_run. `orig` takes the rows up to a cut and writes
 * a snapshot per partition; `merged` (fresh) restores all of them, `per[p]`
 * (fresh) partition p's, checked against `ora[p]` (a full restore that
 * forgets the other partitions), and `x`, which took partitions 2 and 3's
 * rows itself, restores 0 and 1. Then merged emits what orig emits;
 * per[p] and ora[p], given partition p's rows, what orig emits for them;
 * x what orig emits for partitions 0 and 1 and `y` (2 and 3's rows all
 * along) for 2 and 3. A partition restored twice, and truncated snapshots
 * merged into a holding operator, are refused and change nothing. Returns
 * the number of failed checks. */
static int wr_merge_run(const rn_window_spec_t *w, int nkeys, uint64_t seed)
{
    static rrow_t rows[RNROWS];
    int bad = 0, nb;
    int64_t delay = 12;
    gen_rows(seed, rows, 900, delay, w->lateness_ms, &nb, 24);
    int cut = nb / 4 + (int)(seed % (uint64_t)(nb / 2));
    fix_t f;
    fix_init(&f);
    rn_op_t *ocap, *mcap, *xcap, *ycap, *pcap[MG_NPARTS], *acap[MG_NPARTS];
    rn_op_t *orig = wr_new(&f, w, nkeys, &ocap), *merged = wr_new(&f, w, nkeys, &mcap);
    rn_op_t *x = wr_new(&f, w, nkeys, &xcap), *y = wr_new(&f, w, nkeys, &ycap);
    rn_op_t *per[MG_NPARTS], *ora[MG_NPARTS];
    if (!orig || !merged || !x || !y) abort();
    if (!feed_parts(&f, orig, rows, 900, 0, cut, delay, 0xf) || !feed_parts(&f, x, rows, 900, 0, cut, delay, 0xc) ||
        !feed_parts(&f, y, rows, 900, 0, cut, delay, 0xc))
        bad++;

    rn_buf_t snaps[MG_NPARTS], whole;
    rn_buf_init(&whole);
    uint8_t marks[MG_NPARTS][MG_NPARTS] = {{0}};
    for (int p = 0; p < MG_NPARTS; p++) {
        rn_buf_init(&snaps[p]);
        marks[p][p] = 1;
        rn_part_filter_t pf = {MG_NPARTS, marks[p]};
        if (orig->vt->snapshot(orig, &snaps[p], &pf) != RN_OK) bad++;
    }
    if (orig->vt->snapshot(orig, &whole, NULL) != RN_OK) bad++;

    for (int i = 0; i < MG_NPARTS; i++) {
        rn_buf_t *s = &snaps[(i + (int)seed) % MG_NPARTS];
        if (merged->vt->restore(merged, s->data, s->len) != RN_OK) bad++;
    }
    if (rn_window_open_windows(merged) != rn_window_open_windows(orig) ||
        merged->vt->held_since(merged) != orig->vt->held_since(orig) || merged->watermark != orig->watermark ||
        rn_window_late_rows(merged) != rn_window_late_rows(orig) || snap_len(merged) != whole.len)
        bad++;

    size_t sum = 0, most = 0;
    int busiest = 0;
    for (int p = 0; p < MG_NPARTS; p++) {
        per[p] = wr_new(&f, w, nkeys, &pcap[p]);
        ora[p] = wr_new(&f, w, nkeys, &acap[p]);
        if (per[p]->vt->restore(per[p], snaps[p].data, snaps[p].len) != RN_OK) bad++;
        if (ora[p]->vt->restore(ora[p], whole.data, whole.len) != RN_OK) bad++;
        uint8_t others[MG_NPARTS] = {1, 1, 1, 1};
        others[p] = 0;
        if (ora[p]->vt->forget_partitions(ora[p], MG_NPARTS, others) != RN_OK) bad++;
        size_t n = rn_window_open_windows(per[p]);
        if (n != rn_window_open_windows(ora[p]) || per[p]->vt->held_since(per[p]) != ora[p]->vt->held_since(ora[p]) ||
            snap_len(per[p]) != snap_len(ora[p]) || per[p]->watermark != orig->watermark)
            bad++;
        sum += n;
        if (n >= most) {
            most = n;
            busiest = p;
        }
    }
    if (sum != rn_window_open_windows(orig) || (nkeys > 0 && most == 0)) bad++;

    /* Twice: refused, nothing changed. */
    size_t nopen = rn_window_open_windows(merged);
    if (nkeys > 0 && (merged->vt->restore(merged, snaps[busiest].data, snaps[busiest].len) != RN_ERR_DECODE ||
                      rn_window_open_windows(merged) != nopen))
        bad++;
    /* Truncated: refused, per[q] holds what it held. */
    int q = (busiest + 1) % MG_NPARTS;
    size_t qopen = rn_window_open_windows(per[q]), qlen = snap_len(per[q]);
    int64_t qheld = per[q]->vt->held_since(per[q]);
    uint64_t qlate = rn_window_late_rows(per[q]);
    for (size_t len = 0; len < snaps[busiest].len; len += 1 + len / 16)
        if (per[q]->vt->restore(per[q], snaps[busiest].data, len) != RN_ERR_DECODE ||
            rn_window_open_windows(per[q]) != qopen || snap_len(per[q]) != qlen ||
            per[q]->vt->held_since(per[q]) != qheld || rn_window_late_rows(per[q]) != qlate)
            bad++;

    /* x: its own partitions 2 and 3, then 0 and 1 from orig. */
    uint64_t xlate = rn_window_late_rows(x);
    size_t xopen = rn_window_open_windows(x);
    int64_t xwm = x->watermark;
    for (int p = 0; p < 2; p++)
        if (x->vt->restore(x, snaps[p].data, snaps[p].len) != RN_OK) bad++;
    if (rn_window_late_rows(x) != (xlate > rn_window_late_rows(orig) ? xlate : rn_window_late_rows(orig)) ||
        x->watermark != xwm ||
        rn_window_open_windows(x) != xopen + rn_window_open_windows(per[0]) + rn_window_open_windows(per[1]))
        bad++;

    /* The rest. */
    rn_buf_clear(&cap_of(ocap)->text);
    rn_buf_clear(&cap_of(xcap)->text);
    rn_buf_clear(&cap_of(ycap)->text);
    cap_of(ocap)->rowwm_sum = 0;
    if (!feed_parts(&f, orig, rows, 900, cut, nb, delay, 0xf) ||
        !feed_parts(&f, merged, rows, 900, cut, nb, delay, 0xf) ||
        !feed_parts(&f, x, rows, 900, cut, nb, delay, 0xf) || !feed_parts(&f, y, rows, 900, cut, nb, delay, 0xc))
        bad++;
    rn_op_t *ends[] = {orig, merged, x, y};
    for (int i = 0; i < 4; i++)
        if (fix_wm(&f, ends[i], RN_WM_MAX) != RN_OK || rn_window_open_windows(ends[i]) != 0) bad++;
    if (cap_of(mcap)->rowwm_sum != cap_of(ocap)->rowwm_sum) bad++; /* the same watermarks on the rows */
    if (strcmp(cap_text(mcap), cap_text(ocap)) != 0 && bad++ < 3)
        fprintf(stderr, "wr_merge_run: merged\n  got:  %.300s\n  want: %.300s\n", cap_text(mcap), cap_text(ocap));
    if (cap_of(ocap)->rows < 50) bad++; /* degenerate */
    for (int p = 0; p < MG_NPARTS; p++) {
        if (!feed_parts(&f, per[p], rows, 900, cut, nb, delay, 1u << p) ||
            !feed_parts(&f, ora[p], rows, 900, cut, nb, delay, 1u << p) || fix_wm(&f, per[p], RN_WM_MAX) != RN_OK ||
            fix_wm(&f, ora[p], RN_WM_MAX) != RN_OK)
            bad++;
        char *want = text_part(ocap, p), *xgot = text_part(xcap, p), *xwant = text_part(p < 2 ? ocap : ycap, p);
        if ((strcmp(cap_text(pcap[p]), want) != 0 || strcmp(cap_text(acap[p]), want) != 0) && bad++ < 3)
            fprintf(stderr, "wr_merge_run: partition %d\n  got:  %.300s\n  want: %.300s\n", p, cap_text(pcap[p]), want);
        if (strcmp(xgot, xwant) != 0 && bad++ < 3)
            fprintf(stderr, "wr_merge_run: x, partition %d\n  got:  %.300s\n  want: %.300s\n", p, xgot, xwant);
        free(want);
        free(xgot);
        free(xwant);
        if (cap_of(pcap[p])->bad) bad++;
        wr_free(per[p], pcap[p]);
        wr_free(ora[p], acap[p]);
        rn_buf_free(&snaps[p]);
    }
    if (cap_of(ocap)->bad || cap_of(mcap)->bad || cap_of(xcap)->bad) bad++;
    rn_buf_free(&whole);
    wr_free(orig, ocap);
    wr_free(merged, mcap);
    wr_free(x, xcap);
    wr_free(y, ycap);
    fix_free(&f);
    return bad;
}

/* Snapshots taken partition by partition and merged on restore go on
 * exactly as the original: SESSION (with and without lateness) and
 * TUMBLE, whose snapshot holds only the operator's counters. */
static void test_partition_snapshots_merge(void)
{
    for (uint64_t seed = 1; seed <= 6; seed++) {
        rn_window_spec_t w = {.kind = RN_WINDOW_SESSION, .time_col = 1, .size_ms = 8 + (int64_t)(seed % 3) * 20,
                              .lateness_ms = seed % 2 ? 0 : 10};
        int bad = wr_merge_run(&w, 1, seed);
        if (bad) fprintf(stderr, "  (session, seed %llu)\n", (unsigned long long)seed);
        RN_CHECK_EQ_INT(bad, 0);
    }
    for (uint64_t seed = 1; seed <= 2; seed++) {
        rn_window_spec_t w = {.kind = RN_WINDOW_TUMBLE, .time_col = 1, .size_ms = 25, .lateness_ms = seed % 2 ? 0 : 10};
        int bad = wr_merge_run(&w, 0, seed);
        if (bad) fprintf(stderr, "  (tumble, seed %llu)\n", (unsigned long long)seed);
        RN_CHECK_EQ_INT(bad, 0);
    }
}

int main(void)
{
    RN_RUN(test_tumble_hop_rows);
    RN_RUN(test_session_rows_basic);
    RN_RUN(test_session_random_against_brute_force);
    RN_RUN(test_snapshot_restore_matches_uninterrupted);
    RN_RUN(test_snapshot_truncated_and_corrupt);
    RN_RUN(test_forget_partitions);
    RN_RUN(test_window_aggregate_over_window_rows);
    RN_RUN(test_partition_snapshots_merge);
    return rn_test_summary();
}
