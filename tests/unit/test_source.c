/*
 * test_source.c - the source's event time: per-partition watermarks, the
 * minimum over active partitions, idle partitions, and assignment changes.
 *
 * A scripted reader hands out records of chosen partitions and reports an
 * assignment; a probe operator downstream records every watermark the
 * source delivers. Idle timeouts run on the wall clock, so the idle cases
 * poll until the source reports what they wait for (with a deadline).
 * Watermark alignment: the decision (rn_align_pause) and the source
 * pausing and resuming the scripted reader's partitions.
 */
#include "connectors/connector.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "json/json.h"
#include "op/op.h"
#include "rn_test.h"

#include <stdio.h>
#include <string.h>

#define T0 1714557600000LL /* 2024-05-01 10:00:00 UTC in ms */
#define TOPIC "events"

/* ---- a scripted reader -------------------------------------------------- */

typedef struct script_reader {
    rn_reader_t base;
    int npending;                      /* records handed out by the next call */
    rn_record_t pending[8];
    char text[8][64 + RN_JSON_PADDING]; /* their values, padded for the decoder */
    int nassigned;                     /* the assignment reported */
    int32_t assigned[8];
    int64_t position;
    bool paused[8];                    /* by watermark alignment (script_pause) */
    int pause_calls;                   /* pause/resume calls */
    bool at_end[8];                    /* partitions read to their end */
} script_reader_t;

static rn_err_t script_next(rn_reader_t *base, rn_record_t *recs, int max, int *n, bool *eof, char *errbuf,
                            size_t errbuf_size)
{
    script_reader_t *r = (script_reader_t *)base;
    (void)errbuf, (void)errbuf_size;
    *eof = false;
    *n = r->npending < max ? r->npending : max;
    memcpy(recs, r->pending, sizeof *recs * (size_t)*n);
    r->npending = 0;
    return RN_OK;
}

static void script_close(rn_reader_t *base) { rn_free(base); }

static int script_assignment(rn_reader_t *base, const char **topics, int32_t *partitions, int max)
{
    script_reader_t *r = (script_reader_t *)base;
    for (int i = 0; i < r->nassigned && i < max; i++) {
        topics[i] = TOPIC;
        partitions[i] = r->assigned[i];
    }
    return r->nassigned;
}

static void script_pause(rn_reader_t *base, const char *topic, int32_t partition, bool pause)
{
    script_reader_t *r = (script_reader_t *)base;
    RN_CHECK(!strcmp(topic, TOPIC));
    RN_CHECK(r->paused[partition] != pause); /* only changes are asked for */
    r->paused[partition] = pause;
    r->pause_calls++;
}

static bool script_at_end(rn_reader_t *base, const char *topic, int32_t partition)
{
    return ((script_reader_t *)base)->at_end[partition];
}

/* Queues a record of partition p with event time T0 + seconds. */
static void script_push(script_reader_t *r, int32_t p, int seconds)
{
    int i = r->npending++;
    memset(r->text[i], 0, sizeof r->text[i]);
    int len = snprintf(r->text[i], 64, "{\"ts\":%lld}", (long long)(T0 / 1000 + seconds));
    rn_record_set(&r->pending[i], r->text[i], (size_t)len, r->position++);
    r->pending[i].topic = TOPIC;
    r->pending[i].partition = p;
}

/* Reports a new assignment (a rebalance). */
static void script_assign(script_reader_t *r, int n, const int32_t *parts)
{
    r->nassigned = n;
    memcpy(r->assigned, parts, sizeof *parts * (size_t)n);
    r->base.assignment_version++;
}

/* ---- a probe recording the watermarks it is given ------------------------ */

static rn_err_t probe_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    (void)op, (void)port, (void)b, (void)ctx;
    return RN_OK;
}

static rn_err_t probe_watermark(rn_op_t *op, int64_t wm, rn_ctx_t *ctx)
{
    (void)ctx;
    op->watermark = wm;
    return RN_OK;
}

static const rn_op_vtable_t probe_vtable = {
    .kind = "Probe", .process = probe_process, .watermark = probe_watermark};

/* ---- fixture ------------------------------------------------------------- */

typedef struct fixture {
    rn_schema_t *schema;
    rn_expr_t rowtime;                 /* WATERMARK FOR ts AS ts */
    rn_op_t *source, *probe;
    script_reader_t *reader;
    rn_dlq_t *dlq;
    rn_arena_t arena;
    rn_ctx_t ctx;
    char err[512];
} fixture_t;

/* A source over {ts TIMESTAMP(3)} with WATERMARK FOR ts AS ts, the idle
 * timeout idle_ms on the wall clock, and partitions 0..nparts-1 assigned. */
static bool fixture_open_align(fixture_t *f, int64_t idle_ms, int nparts, int64_t drift_ms)
{
    memset(f, 0, sizeof *f);
    f->schema = rn_schema_new(1);
    rn_schema_set(f->schema, 0, "ts", &rn_type_timestamp);
    f->rowtime = (rn_expr_t){.kind = RN_EXPR_COLUMN, .type = &rn_type_timestamp, .col = 0};
    f->source = rn_source_new(f->schema, "events", "script");
    f->probe = rn_op_new(&probe_vtable, f->schema, f->source);
    rn_op_connect(f->source, f->probe, 0);
    rn_watermark_spec_t w = {.rowtime_col = 0, .expr = &f->rowtime, .idle_timeout_ms = idle_ms,
                             .align_drift_ms = drift_ms};
    rn_source_set_watermark(f->source, &w);
    rn_source_use_wall_clock(f->source, true);
    f->reader = rn_calloc(1, sizeof *f->reader);
    f->reader->base.next = script_next;
    f->reader->base.close = script_close;
    f->reader->base.where = "script";
    f->reader->base.assignment = script_assignment;
    f->reader->base.pause = script_pause;
    f->reader->base.at_end = script_at_end;
    int32_t parts[8];
    for (int i = 0; i < nparts; i++) parts[i] = i;
    script_assign(f->reader, nparts, parts);
    f->dlq = rn_dlq_new("/dev/null");
    rn_arena_init(&f->arena, 1 << 16);
    f->ctx = (rn_ctx_t){.arena = &f->arena, .errbuf = f->err, .errbuf_size = sizeof f->err};
    return rn_source_open(f->source, &f->reader->base, f->dlq, f->err, sizeof f->err) == RN_OK;
}

/* Without watermark alignment. */
static bool fixture_open(fixture_t *f, int64_t idle_ms, int nparts)
{
    return fixture_open_align(f, idle_ms, nparts, 0);
}

static void fixture_close(fixture_t *f)
{
    rn_op_free(f->probe);
    rn_op_free(f->source); /* closes the reader */
    rn_schema_unref(f->schema);
    rn_dlq_free(f->dlq);
    rn_arena_free(&f->arena);
}

/* One poll of the source; returns the watermark the probe holds after it. */
static int64_t poll_once(fixture_t *f)
{
    bool eof = false;
    rn_err_t err = rn_source_poll(f->source, &f->ctx, &eof);
    RN_CHECK(err == RN_OK);
    rn_arena_reset(&f->arena);
    return f->probe->watermark;
}

/* Polls until the probe's watermark is want, for at most 5 s. */
static bool poll_until(fixture_t *f, int64_t want)
{
    int64_t deadline = rn_clock_wall_ms() + 5000;
    while (poll_once(f) != want)
        if (rn_clock_wall_ms() > deadline) return false;
    return true;
}

/* ---- tests ---------------------------------------------------------------- */

/* The table's watermark is the minimum over assigned partitions; one that
 * has delivered nothing holds it at "none". */
static void test_min_over_partitions(void)
{
    fixture_t f;
    RN_REQUIRE(fixture_open(&f, 0, 3)); /* no idle timeout */
    script_push(f.reader, 0, 10);
    script_push(f.reader, 1, 5);
    RN_CHECK(poll_once(&f) == RN_WM_MIN); /* partition 2 has nothing yet */
    script_push(f.reader, 2, 7);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 5000);
    script_push(f.reader, 1, 20);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 7000);
    script_push(f.reader, 2, 3); /* behind: the watermark never goes back */
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 7000);
    fixture_close(&f);
}

/* A silent partition stops holding the watermark back once idle, and
 * holds it again when it delivers. */
static void test_idle_partition(void)
{
    fixture_t f;
    RN_REQUIRE(fixture_open(&f, 30, 2));
    script_push(f.reader, 0, 10);
    script_push(f.reader, 1, 5);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 5000);
    script_push(f.reader, 0, 12);
    RN_CHECK(poll_until(&f, T0 + 12000)); /* partition 1 went idle */
    script_push(f.reader, 1, 13);         /* it delivers: it counts again */
    script_push(f.reader, 0, 20);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 13000);
    fixture_close(&f);
}

/* A rebalance that keeps an idle partition does not make it hold the
 * watermark back again: its idle clock runs on. */
static void test_rebalance_keeps_idle(void)
{
    fixture_t f;
    RN_REQUIRE(fixture_open(&f, 30, 2));
    script_push(f.reader, 0, 10);
    script_push(f.reader, 1, 5);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 5000);
    script_push(f.reader, 0, 12);
    RN_CHECK(poll_until(&f, T0 + 12000)); /* partition 1 idle */
    int32_t same[] = {0, 1};
    script_assign(f.reader, 2, same);    /* a rebalance that keeps both */
    script_push(f.reader, 0, 20);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 20000);
    int32_t more[] = {0, 1, 2};
    script_assign(f.reader, 3, more);    /* partition 2 is new: it holds back until idle */
    script_push(f.reader, 0, 25);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 20000);
    RN_CHECK(poll_until(&f, T0 + 25000));
    fixture_close(&f);
}

/* A partition taken away stops counting at once. */
static void test_revoked_partition(void)
{
    fixture_t f;
    RN_REQUIRE(fixture_open(&f, 0, 2));
    script_push(f.reader, 0, 10);
    script_push(f.reader, 1, 5);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 5000);
    int32_t only0[] = {0};
    script_assign(f.reader, 1, only0);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 10000);
    fixture_close(&f);
}

/* True if the source reports partition p idle. */
static bool part_idle(fixture_t *f, int p)
{
    rn_buf_t b;
    rn_buf_init(&b);
    rn_source_describe_partitions(f->source, &b);
    char name[32];
    snprintf(name, sizeof name, TOPIC "[%d] ", p);
    const char *at = b.data ? strstr(b.data, name) : NULL;
    const char *eol = at ? strchr(at, '\n') : NULL;
    bool idle = at && eol && memmem(at, (size_t)(eol - at), "(idle)", 6);
    rn_buf_free(&b);
    return idle;
}

/* The decision: pause beyond the drift, resume within half of it, never
 * without both watermarks, at the end, or with alignment off. */
static void test_align_decision(void)
{
    const int64_t d = 60000, ref = T0;
    RN_CHECK(!rn_align_pause(ref + d, ref, d, false));      /* exactly the drift: allowed */
    RN_CHECK(rn_align_pause(ref + d + 1, ref, d, false));   /* beyond it: paused */
    RN_CHECK(rn_align_pause(ref + d, ref, d, true));        /* paused stays paused ... */
    RN_CHECK(rn_align_pause(ref + d / 2 + 1, ref, d, true));
    RN_CHECK(!rn_align_pause(ref + d / 2, ref, d, true));   /* ... until within half the drift */
    RN_CHECK(!rn_align_pause(ref - 5000, ref, d, false));   /* behind */
    RN_CHECK(!rn_align_pause(ref - 5000, ref, d, true));
    RN_CHECK(!rn_align_pause(ref + 10 * d, ref, 0, false)); /* off */
    RN_CHECK(!rn_align_pause(ref + 10 * d, RN_WM_MIN, d, false)); /* a partition without a watermark */
    RN_CHECK(!rn_align_pause(RN_WM_MIN, ref, d, true));
    RN_CHECK(!rn_align_pause(RN_WM_MAX - 1, RN_WM_MAX, d, true)); /* the end */
    RN_CHECK(rn_align_pause(RN_WM_MAX - 1, RN_WM_MIN + 1, d, false)); /* no overflow */
}

/* A partition running ahead is paused, stays paused (and does not go
 * idle) while the others catch up, and resumes when they have; a
 * rebalance lifts every pause; the watermark is the one without
 * alignment throughout. */
static void test_align_pauses_and_resumes(void)
{
    fixture_t f;
    RN_REQUIRE(fixture_open_align(&f, 30, 2, 60000));
    script_reader_t *r = f.reader;
    script_push(r, 0, 10);
    script_push(r, 1, 5);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 5000);
    RN_CHECK(!r->paused[0] && !r->paused[1]);
    script_push(r, 0, 200); /* 195 s ahead of partition 1 */
    script_push(r, 1, 6);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 6000);
    RN_CHECK(r->paused[0] && !r->paused[1]);
    /* paused far longer than the idle timeout: not idle (it holds the
     * watermark as before) */
    int64_t until = rn_clock_wall_ms() + 100;
    while (rn_clock_wall_ms() < until) {
        script_push(r, 1, 7);
        RN_CHECK_EQ_INT(poll_once(&f), T0 + 7000);
    }
    RN_CHECK(r->paused[0]);
    RN_CHECK(!part_idle(&f, 0));
    script_push(r, 1, 150); /* 50 s behind: more than half the drift */
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 150000);
    RN_CHECK(r->paused[0]);
    script_push(r, 1, 175); /* 25 s behind: resumed */
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 175000);
    RN_CHECK(!r->paused[0] && !r->paused[1]);
    /* resumed, its records not fetched again yet: still not idle */
    until = rn_clock_wall_ms() + 100;
    while (rn_clock_wall_ms() < until) {
        script_push(r, 1, 175);
        RN_CHECK_EQ_INT(poll_once(&f), T0 + 175000);
    }
    RN_CHECK(!part_idle(&f, 0));
    RN_CHECK(!r->paused[0]);
    script_push(r, 0, 400); /* ahead again */
    script_push(r, 1, 176);
    poll_once(&f);
    RN_CHECK(r->paused[0]);
    int calls = r->pause_calls;
    int32_t both[] = {0, 1};
    script_assign(r, 2, both); /* a rebalance: resumed, and decided again */
    script_push(r, 1, 177);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 177000);
    RN_CHECK(r->paused[0]);
    RN_CHECK_EQ_INT(r->pause_calls, calls + 2);
    /* partition 1 read to its end: nothing holds partition 0 any more */
    r->at_end[1] = true;
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 400000); /* and the watermark is partition 0's */
    RN_CHECK(!r->paused[0]);
    fixture_close(&f);
}

/* Alignment off (max-drift 0): nothing is ever paused. */
static void test_align_off(void)
{
    fixture_t f;
    RN_REQUIRE(fixture_open(&f, 0, 2));
    script_push(f.reader, 0, 10);
    script_push(f.reader, 1, 5);
    poll_once(&f);
    script_push(f.reader, 0, 100000);
    script_push(f.reader, 1, 6);
    RN_CHECK_EQ_INT(poll_once(&f), T0 + 6000);
    RN_CHECK_EQ_INT(f.reader->pause_calls, 0);
    fixture_close(&f);
}

int main(void)
{
    RN_RUN(test_min_over_partitions);
    RN_RUN(test_idle_partition);
    RN_RUN(test_rebalance_keeps_idle);
    RN_RUN(test_revoked_partition);
    RN_RUN(test_align_decision);
    RN_RUN(test_align_pauses_and_resumes);
    RN_RUN(test_align_off);
    return rn_test_summary();
}
