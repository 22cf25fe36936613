/*
 * test_reuse.c - sub-plan reuse (plan/reuse.c): a computation a pipeline
 * spells twice is built once, its output feeding both consumers; what
 * differs in anything (window, key, aggregate, expression), an input with
 * two columns of one name, a window with a late-rows table and an Exchange
 * in front of a join are never merged. Checked on compiled pipelines:
 * how many operators of each kind, and who feeds whom. Results of a
 * reused plan are checked against the Nexmark oracle (oracle.nexmark.*,
 * q5 spells its windowed count twice).
 */
#include <string.h>

#include "core/mem.h"
#include "plan/pipeline.h"
#include "rn_test.h"

#define BIDS                                                                        \
    "CREATE TABLE bid (auction BIGINT, price BIGINT, dt TIMESTAMP(3),\n"            \
    "  WATERMARK FOR dt AS dt - INTERVAL '4' SECOND)\n"                             \
    "WITH ('connector' = 'kafka', 'topic' = 'bid', 'format' = 'json');\n"           \
    "CREATE TABLE out_rows (auction BIGINT, num BIGINT) WITH ('connector' = 'blackhole');\n"

/* Nexmark q5's shape: the same HOP count on both sides of a join. */
#define COUNTS(size)                                                                \
    "SELECT auction, COUNT(*) AS num, window_start AS s, window_end AS e\n"         \
    "  FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dt), INTERVAL '2' SECOND, INTERVAL '" size "' SECOND))\n" \
    "  GROUP BY auction, window_start, window_end"
#define Q5(size2)                                                                   \
    BIDS "INSERT INTO out_rows SELECT a.auction, a.num FROM (" COUNTS("10") ") AS a\n" \
    "JOIN (SELECT MAX(num) AS maxn, s, e FROM (" COUNTS(size2) ") AS c GROUP BY s, e) AS m\n" \
    "  ON a.s = m.s AND a.e = m.e AND a.num >= m.maxn;\n"

static rn_pipeline_t *compile(const char *sql)
{
    rn_pipeline_t *p = NULL;
    char err[1024];
    if (rn_pipeline_compile(sql, strlen(sql), "t.sql", &p, err, sizeof err) != RN_OK) {
        fprintf(stderr, "compile failed: %s\n", err);
        return NULL;
    }
    return p;
}

/* The operators of kind `kind`, the first one to *first (may be NULL). */
static int count_kind(const rn_pipeline_t *p, const char *kind, rn_op_t **first)
{
    int n = 0;
    for (int i = 0; i < rn_pipeline_nops(p); i++) {
        rn_op_t *op = rn_pipeline_op(p, i);
        if (strcmp(op->vt->kind, kind)) continue;
        if (!n++ && first) *first = op;
    }
    return n;
}

/* Every operator's id is its position, and every edge is seen from both
 * ends, what rn_op_replace and the renumbering must keep; only the
 * `detached` late-rows ports name an upstream without an edge. */
static void check_graph(const rn_pipeline_t *p, int detached)
{
    int ports = 0;
    for (int i = 0; i < rn_pipeline_nops(p); i++) {
        rn_op_t *op = rn_pipeline_op(p, i);
        RN_CHECK_EQ_INT(op->id, i + 1);
        for (int j = 0; j < op->noutputs; j++) {
            rn_op_t *d = op->outputs[j].op;
            RN_CHECK(d->inputs[op->outputs[j].port].op == op);
        }
        for (int k = 0; k < op->ninputs; k++) {
            rn_op_t *u = op->inputs[k].op;
            if (!u) continue;
            bool seen = false;
            for (int j = 0; j < u->noutputs; j++) seen |= u->outputs[j].op == op && u->outputs[j].port == k;
            bool live = false; /* the upstream named is still in the pipeline */
            for (int j = 0; j < rn_pipeline_nops(p); j++) live |= rn_pipeline_op(p, j) == u;
            RN_CHECK(live);
            ports += !seen;
        }
    }
    RN_CHECK_EQ_INT(ports, detached);
}

/* True if target is op or upstream of it. */
static bool reaches(const rn_op_t *op, const rn_op_t *target)
{
    if (op == target) return true;
    for (int k = 0; k < op->ninputs; k++)
        if (op->inputs[k].op && reaches(op->inputs[k].op, target)) return true;
    return false;
}

/* The window aggregates whose explain line holds `what`; the last to *last. */
static int windows_with(const rn_pipeline_t *p, const char *what, rn_op_t **last)
{
    int n = 0;
    for (int i = 0; i < rn_pipeline_nops(p); i++) {
        rn_op_t *op = rn_pipeline_op(p, i);
        if (strcmp(op->vt->kind, "WindowAggregate")) continue;
        rn_buf_t b;
        rn_buf_init(&b);
        op->vt->explain(op, &b);
        if (b.data && strstr(b.data, what)) {
            n++;
            if (last) *last = op;
        }
        rn_buf_free(&b);
    }
    return n;
}

/* q5: one Exchange on auction and one HOP aggregate, whose rows reach
 * both sides of the join. */
static void test_same_window_twice(void)
{
    rn_pipeline_t *p = compile(Q5("10"));
    RN_CHECK(p != NULL);
    if (!p) return;
    rn_op_t *hop = NULL, *join = NULL;
    RN_CHECK_EQ_INT(windows_with(p, "HOP(", &hop), 1);
    RN_CHECK_EQ_INT(count_kind(p, "WindowAggregate", NULL), 2); /* and the MAX per window */
    RN_CHECK_EQ_INT(count_kind(p, "Join", &join), 1);
    RN_CHECK(hop && join && reaches(join->inputs[0].op, hop) && reaches(join->inputs[1].op, hop));
    /* hash [auction] once, single for the MAX, the join's two */
    RN_CHECK_EQ_INT(count_kind(p, "Exchange", NULL), 4);
    check_graph(p, 0);
    rn_pipeline_free(p);
}

/* Different windows are different computations. */
static void test_different_window(void)
{
    rn_pipeline_t *p = compile(Q5("20"));
    RN_CHECK(p != NULL);
    if (!p) return;
    RN_CHECK_EQ_INT(windows_with(p, "HOP(", NULL), 2);
    /* the Calc over the scan and its Exchange on auction are still one */
    RN_CHECK_EQ_INT(count_kind(p, "Exchange", NULL), 4);
    check_graph(p, 0);
    rn_pipeline_free(p);
}

/* A late-rows table gets each window's late rows: such windows stay two. */
static void test_late_rows_table(void)
{
    rn_pipeline_t *p = compile("CREATE TABLE late (auction BIGINT, price BIGINT) WITH ('connector' = 'blackhole');\n"
                               "SET 'runnel.late-rows.table' = 'late';\n" Q5("10"));
    RN_CHECK(p != NULL);
    if (!p) return;
    RN_CHECK_EQ_INT(windows_with(p, "HOP(", NULL), 2);
    check_graph(p, 3); /* each window's late-rows port */
    rn_pipeline_free(p);
}

/* A view used twice, aggregated alike into two sinks: one aggregate. */
static void test_view_twice(void)
{
    rn_pipeline_t *p = compile(BIDS "CREATE TABLE out2 (auction BIGINT, num BIGINT) WITH ('connector' = 'blackhole');\n"
                                    "CREATE VIEW big AS SELECT auction, price FROM bid WHERE price > 100;\n"
                                    "INSERT INTO out_rows SELECT auction, COUNT(*) FROM big GROUP BY auction;\n"
                                    "INSERT INTO out2 SELECT auction, COUNT(*) FROM big GROUP BY auction;\n"
                                    "INSERT INTO out2 SELECT auction, SUM(price) FROM big GROUP BY auction;\n");
    RN_CHECK(p != NULL);
    if (!p) return;
    rn_op_t *g = NULL;
    RN_CHECK_EQ_INT(count_kind(p, "GroupAggregate", &g), 2); /* COUNT once, SUM apart */
    /* the COUNT reaches the first two sinks */
    RN_CHECK(g && reaches(rn_pipeline_sink(p, 0), g) && reaches(rn_pipeline_sink(p, 1), g));
    RN_CHECK(g && !reaches(rn_pipeline_sink(p, 2), g));
    check_graph(p, 0);
    rn_pipeline_free(p);
}

/* Deduplication pre-projects its key twice ([auction, auction, ...]):
 * over that a name does not say which column, so the two Exchanges over
 * the (shared) pre-projection stay apart, and so do their Ranks. */
#define LATEST                                                                      \
    "SELECT auction, price FROM (SELECT auction, price, ROW_NUMBER() OVER (\n"       \
    "  PARTITION BY auction ORDER BY dt DESC) AS rn FROM bid) WHERE rn = 1"
static void test_ambiguous_names(void)
{
    rn_pipeline_t *p = compile(BIDS "CREATE TABLE out2 (auction BIGINT, price BIGINT) WITH ('connector' = 'blackhole');\n"
                                    "INSERT INTO out_rows " LATEST ";\n"
                                    "INSERT INTO out2 " LATEST ";\n");
    RN_CHECK(p != NULL);
    if (!p) return;
    RN_CHECK_EQ_INT(count_kind(p, "Exchange", NULL), 2);
    RN_CHECK_EQ_INT(count_kind(p, "Rank", NULL), 2);
    check_graph(p, 0);
    rn_pipeline_free(p);
}

int main(void)
{
    RN_RUN(test_same_window_twice);
    RN_RUN(test_different_window);
    RN_RUN(test_late_rows_table);
    RN_RUN(test_view_twice);
    RN_RUN(test_ambiguous_names);
    return rn_test_summary();
}
