/*
 * test_partition.c - which plans get an Exchange (plan/partition.c,
 * docs/scale-out.md): a keyed stateful operator over a Kafka table always
 * gets one, even when the table's record key ('key.fields', an upsert
 * table's PRIMARY KEY) is part of the operator's key, since keyed state is
 * split by partition with the engine's own hash of the operator's key; so
 * does the ChangelogNormalize of an upsert table, on the primary key in
 * primary-key order. After an Exchange, an operator keyed by exactly the
 * same columns in the same order (through steps that pass them through)
 * needs none. Tables one process reads whole (files) never need one.
 * Checked on `runnel explain` output of small pipelines.
 */
#include <string.h>

#include "core/mem.h"
#include "op/exchange.h"
#include "op/join.h"
#include "plan/pipeline.h"
#include "rn_test.h"

#define KAFKA_EVENTS(keyopts)                                                       \
    "CREATE TABLE events (event_type STRING, user_id INT, page_id INT,\n"           \
    "  ts AS TO_TIMESTAMP_LTZ(user_id, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)\n" \
    "WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json'" keyopts ");\n"
#define FILE_EVENTS                                                                 \
    "CREATE TABLE events (event_type STRING, user_id INT, page_id INT,\n"           \
    "  ts AS TO_TIMESTAMP_LTZ(user_id, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)\n" \
    "WITH ('connector' = 'filesystem', 'path' = '/nonexistent/events.jsonl', 'format' = 'json');\n"
#define SINK                                                                        \
    "CREATE TABLE out_rows (a INT, b BIGINT) WITH ('connector' = 'blackhole');\n"
#define WSINK                                                                       \
    "CREATE TABLE out_w (s TIMESTAMP(3), a INT, b BIGINT) WITH ('connector' = 'blackhole');\n"

/* Compiles sql and returns its explain text (caller frees), or NULL with
 * the error printed. */
static char *explain(const char *sql)
{
    rn_pipeline_t *p = NULL;
    char err[1024];
    if (rn_pipeline_compile(sql, strlen(sql), "t.sql", &p, err, sizeof err) != RN_OK) {
        fprintf(stderr, "compile failed: %s\n", err);
        return NULL;
    }
    rn_buf_t b;
    rn_buf_init(&b);
    rn_pipeline_explain(p, &b);
    rn_pipeline_free(p);
    return b.data;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* Checks that sql plans with `want` Exchanges, and that the text contains
 * `has` (when not NULL). */
static void check_plan(int line, const char *sql, int want, const char *has)
{
    char *e = explain(sql);
    if (!e) {
        fprintf(stderr, "line %d: no plan\n", line);
        RN_CHECK(e != NULL);
        return;
    }
    int got = count(e, "Exchange: ");
    if (got != want || (has && !strstr(e, has))) fprintf(stderr, "line %d: want %d Exchange(s)%s%s, got:\n%s\n", line,
                                                          want, has ? " with " : "", has ? has : "", e);
    RN_CHECK_EQ_INT(got, want);
    RN_CHECK(!has || strstr(e, has));
    rn_free(e);
}

static void test_group_by(void)
{
    /* unkeyed topic: GROUP BY page_id needs an Exchange by page_id */
    check_plan(__LINE__, KAFKA_EVENTS("") SINK
               "INSERT INTO out_rows SELECT page_id, COUNT(*) FROM events GROUP BY page_id;", 1,
               "Exchange: hash [page_id]");
    /* keyed by page_id: one all the same (the producers' partitioning is
     * not the engine's hash of the GROUP BY key) */
    check_plan(__LINE__, KAFKA_EVENTS(", 'key.format' = 'json', 'key.fields' = 'page_id'") SINK
               "INSERT INTO out_rows SELECT page_id, COUNT(*) FROM events GROUP BY page_id;", 1,
               "Exchange: hash [page_id]");
    /* keyed by user_id, grouped by page_id: one */
    check_plan(__LINE__, KAFKA_EVENTS(", 'key.format' = 'json', 'key.fields' = 'user_id'") SINK
               "INSERT INTO out_rows SELECT page_id, COUNT(*) FROM events GROUP BY page_id;", 1,
               "Exchange: hash [page_id]");
    /* keyed by page_id, grouped by a superset of it: one */
    check_plan(__LINE__, KAFKA_EVENTS(", 'key.format' = 'json', 'key.fields' = 'page_id'") SINK
               "INSERT INTO out_rows SELECT page_id, COUNT(*) FROM events GROUP BY page_id, user_id;", 1,
               "Exchange: hash [page_id, user_id]");
    /* the key renamed and filtered through a view: one */
    check_plan(__LINE__, KAFKA_EVENTS(", 'key.format' = 'json', 'key.fields' = 'page_id'") SINK
               "CREATE VIEW v AS SELECT page_id AS p, user_id FROM events WHERE event_type = 'x';\n"
               "INSERT INTO out_rows SELECT p, COUNT(*) FROM v GROUP BY p;", 1, "Exchange: hash [p]");
    /* ... a computed key does not */
    check_plan(__LINE__, KAFKA_EVENTS(", 'key.format' = 'json', 'key.fields' = 'page_id'") SINK
               "INSERT INTO out_rows SELECT page_id + 1, COUNT(*) FROM events GROUP BY page_id + 1;", 1, NULL);
    /* a global aggregate: every row to one place */
    check_plan(__LINE__, KAFKA_EVENTS(", 'key.format' = 'json', 'key.fields' = 'page_id'") SINK
               "INSERT INTO out_rows SELECT 1, COUNT(*) FROM events;", 1, "Exchange: single");
    /* a GROUP BY over a GROUP BY exchanges again */
    check_plan(__LINE__, KAFKA_EVENTS("") SINK
               "CREATE VIEW per_page AS SELECT page_id, COUNT(*) AS n FROM events GROUP BY page_id;\n"
               "INSERT INTO out_rows SELECT CAST(n AS INT), COUNT(*) FROM per_page GROUP BY n;", 2, NULL);
    /* a file is read by one process: never */
    check_plan(__LINE__, FILE_EVENTS SINK
               "INSERT INTO out_rows SELECT page_id, COUNT(*) FROM events GROUP BY page_id;", 0, NULL);
    /* no state, no Exchange */
    check_plan(__LINE__, KAFKA_EVENTS("") SINK
               "INSERT INTO out_rows SELECT page_id, CAST(user_id AS BIGINT) FROM events;", 0, NULL);
}

static void test_windows(void)
{
    check_plan(__LINE__, KAFKA_EVENTS("") WSINK
               "INSERT INTO out_w SELECT window_start, page_id, COUNT(*) FROM TABLE(TUMBLE(TABLE events, "
               "DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, page_id;", 1,
               "Exchange: hash [page_id]");
    /* keyed by page_id: one all the same */
    check_plan(__LINE__, KAFKA_EVENTS(", 'key.format' = 'json', 'key.fields' = 'page_id'") WSINK
               "INSERT INTO out_w SELECT window_start, page_id, COUNT(*) FROM TABLE(TUMBLE(TABLE events, "
               "DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, page_id;", 1,
               "Exchange: hash [page_id]");
    check_plan(__LINE__, KAFKA_EVENTS(", 'key.format' = 'json', 'key.fields' = 'page_id'") WSINK
               "INSERT INTO out_w SELECT window_start, user_id, COUNT(*) FROM TABLE(SESSION(TABLE events "
               "PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '5' SECOND)) GROUP BY window_start, window_end, "
               "user_id;", 1, "Exchange: hash [user_id]");
}

/* Deduplication and Top-N: the Rank is keyed by its PARTITION BY. */
#define RANK_SQL(partition)                                                          \
    "INSERT INTO out_rows SELECT user_id, CAST(page_id AS BIGINT) FROM (\n"         \
    "  SELECT *, ROW_NUMBER() OVER (PARTITION BY " partition " ORDER BY page_id DESC) AS rn\n" \
    "  FROM events) WHERE rn <= 2;"
static void test_rank(void)
{
    check_plan(__LINE__, KAFKA_EVENTS("") SINK RANK_SQL("user_id"), 1, "Exchange: hash [user_id]");
    /* keyed by user_id: one all the same */
    check_plan(__LINE__, KAFKA_EVENTS(", 'key.format' = 'json', 'key.fields' = 'user_id'") SINK RANK_SQL("user_id"),
               1, "Exchange: hash [user_id]");
    check_plan(__LINE__, KAFKA_EVENTS(", 'key.format' = 'json', 'key.fields' = 'user_id'") SINK
               RANK_SQL("user_id, event_type"), 1, "Exchange: hash [user_id, event_type]");
    /* keyed by page_id, partitioned by user_id: one */
    check_plan(__LINE__, KAFKA_EVENTS(", 'key.format' = 'json', 'key.fields' = 'page_id'") SINK RANK_SQL("user_id"),
               1, "Exchange: hash [user_id]");
    /* Window Top-N: partitioned by window_start, window_end of a window aggregate */
    check_plan(__LINE__, KAFKA_EVENTS("") SINK
               "INSERT INTO out_rows SELECT page_id, n FROM (\n"
               "  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC) AS rn\n"
               "  FROM (SELECT window_start, window_end, page_id, COUNT(*) AS n\n"
               "        FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))\n"
               "        GROUP BY window_start, window_end, page_id)) WHERE rn <= 3;",
               2, "complete when the watermark passes window_end");
    /* a file is read whole */
    check_plan(__LINE__, FILE_EVENTS SINK RANK_SQL("user_id"), 0, "Rank: ");
}

/* A lookup join needs no Exchange, and its output is partitioned like
 * its input: the left columns come first, unchanged. */
#define LOOKUP_EVENTS(keyopts)                                                      \
    "CREATE TABLE events (event_type STRING, user_id INT, page_id INT, pt AS PROCTIME())\n" \
    "WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json'" keyopts ");\n" \
    "CREATE TABLE pages (id INT, title STRING) WITH ('connector' = 'jdbc',\n"     \
    "  'url' = 'jdbc:sqlite:pages.db', 'table-name' = 'pages');\n"                 \
    "CREATE VIEW v AS SELECT e.page_id, e.user_id, p.title FROM events AS e\n"      \
    "  JOIN pages FOR SYSTEM_TIME AS OF e.pt AS p ON p.id = e.page_id;\n"
static void test_lookup_join(void)
{
    check_plan(__LINE__, LOOKUP_EVENTS("") SINK "INSERT INTO out_rows SELECT page_id, CAST(user_id AS BIGINT) FROM v;",
               0, "LookupJoin: table=pages, key=[id=page_id]");
    check_plan(__LINE__, LOOKUP_EVENTS(", 'key.format' = 'json', 'key.fields' = 'page_id'") SINK
               "INSERT INTO out_rows SELECT page_id, COUNT(*) FROM v GROUP BY page_id;", 1,
               "Exchange: hash [page_id]");
    check_plan(__LINE__, LOOKUP_EVENTS(", 'key.format' = 'json', 'key.fields' = 'page_id'") SINK
               "INSERT INTO out_rows SELECT user_id, COUNT(*) FROM v GROUP BY user_id;", 1,
               "Exchange: hash [user_id]");
}

/* An upsert table's ChangelogNormalize is keyed by the primary key: it
 * gets an Exchange on it (in primary-key order), and an operator keyed by
 * exactly those columns after it needs no second one. */
#define UPSERT_ITEMS(pk)                                                            \
    "CREATE TABLE items (a INT, b INT, c STRING, PRIMARY KEY (" pk ") NOT ENFORCED)\n" \
    "WITH ('connector' = 'upsert-kafka', 'topic' = 'items', 'key.format' = 'json',\n" \
    "  'value.format' = 'json');\n"
static void test_upsert_source(void)
{
    check_plan(__LINE__, UPSERT_ITEMS("a") SINK "INSERT INTO out_rows SELECT a, CAST(b AS BIGINT) FROM items;", 1,
               "ChangelogNormalize: key [a]");
    check_plan(__LINE__, UPSERT_ITEMS("a") SINK "INSERT INTO out_rows SELECT a, CAST(b AS BIGINT) FROM items;", 1,
               "Exchange: hash [a]  [changelog]\n");
    /* composite keys hash in primary-key order, not the schema's */
    check_plan(__LINE__, UPSERT_ITEMS("b, a") SINK "INSERT INTO out_rows SELECT a, CAST(b AS BIGINT) FROM items;",
               1, "Exchange: hash [b, a]  [changelog]\n");
    /* GROUP BY the primary key: the Normalize's Exchange is enough */
    check_plan(__LINE__, UPSERT_ITEMS("a") SINK "INSERT INTO out_rows SELECT a, COUNT(*) FROM items GROUP BY a;", 1,
               NULL);
    check_plan(__LINE__, UPSERT_ITEMS("b, a") SINK
               "INSERT INTO out_rows SELECT b, COUNT(*) FROM items GROUP BY b, a;", 1, NULL);
    /* another key, a superset, or the same columns in another order: a
     * second Exchange, as the GROUP BY's key bytes differ */
    check_plan(__LINE__, UPSERT_ITEMS("a") SINK "INSERT INTO out_rows SELECT b, COUNT(*) FROM items GROUP BY b;", 2,
               "Exchange: hash [b]");
    check_plan(__LINE__, UPSERT_ITEMS("a") SINK
               "INSERT INTO out_rows SELECT a, COUNT(*) FROM items GROUP BY a, b;", 2, "Exchange: hash [a, b]");
    check_plan(__LINE__, UPSERT_ITEMS("b, a") SINK
               "INSERT INTO out_rows SELECT a, COUNT(*) FROM items GROUP BY a, b;", 2, "Exchange: hash [a, b]");
    /* two readers share the Normalize and its Exchange: shown under each
     * sink, one operator (scan, Exchange, Normalize, 3 + 4 Calcs, 2 sinks) */
    check_plan(__LINE__, UPSERT_ITEMS("a") SINK
               "INSERT INTO out_rows SELECT a, CAST(b AS BIGINT) FROM items;\n"
               "INSERT INTO out_rows SELECT a, CAST(b + 1 AS BIGINT) FROM items WHERE c = 'x';", 2,
               "1 source scan, 2 sinks, 10 operators");
}

/* Both inputs of a join move, keyed tables included; files never. */
#define JOIN_SQL                                                                    \
    "INSERT INTO out_rows SELECT e.page_id, CAST(f.user_id AS BIGINT) FROM events AS e\n" \
    "  JOIN others AS f ON e.user_id = f.user_id;"
static void test_join(void)
{
    check_plan(__LINE__, KAFKA_EVENTS(", 'key.format' = 'json', 'key.fields' = 'user_id'")
               "CREATE TABLE others (user_id INT, page_id INT) WITH ('connector' = 'kafka', 'topic' = 'others',\n"
               "  'format' = 'json', 'key.format' = 'json', 'key.fields' = 'user_id');\n" SINK JOIN_SQL,
               2, "Exchange: hash [user_id]");
    check_plan(__LINE__, FILE_EVENTS
               "CREATE TABLE others (user_id INT, page_id INT) WITH ('connector' = 'filesystem',\n"
               "  'path' = '/nonexistent/others.jsonl', 'format' = 'json');\n" SINK JOIN_SQL,
               0, "Join: INNER [user_id = user_id]");
}

/* A window join on window columns renamed by a projection (Nexmark q5:
 * `window_end AS endtime`, no event-time attribute selected) is found by
 * the columns' lineage, and the Exchanges in front of it carry the window
 * ends as their time column, so that the watermark that drops the
 * windows crosses the repartition topics (without it the join kept every
 * window over Kafka). A column that merely computes a timestamp is not a
 * window end: a regular join then, whose Exchanges carry no time. */
static void test_window_join_by_lineage(void)
{
#define WJ_SIDE(name, agg)                                                                   \
    "(SELECT user_id, " agg " AS n, window_start AS ws, window_end AS we FROM TABLE(\n"      \
    "  TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY user_id, window_start, window_end) " name
    const char *sql = KAFKA_EVENTS("") WSINK
        "INSERT INTO out_w SELECT a.ws, a.user_id, a.n + b.n FROM " WJ_SIDE("a", "COUNT(*)")
        "\nJOIN " WJ_SIDE("b", "SUM(page_id)") " ON a.user_id = b.user_id AND a.ws = b.ws AND a.we = b.we;\n";
    const char *plain = KAFKA_EVENTS("") WSINK
        "INSERT INTO out_w SELECT a.ws, a.user_id, a.n + b.n FROM\n"
        "(SELECT user_id, COUNT(*) AS n, TO_TIMESTAMP_LTZ(MAX(page_id), 3) AS ws FROM events GROUP BY user_id) a\n"
        "JOIN (SELECT user_id, SUM(page_id) AS n, TO_TIMESTAMP_LTZ(MIN(page_id), 3) AS ws FROM events GROUP BY user_id) b\n"
        "ON a.user_id = b.user_id AND a.ws = b.ws;\n";
#undef WJ_SIDE
    for (int v = 0; v < 2; v++) {
        rn_pipeline_t *p = NULL;
        char err[1024];
        const char *q = v == 0 ? sql : plain;
        if (rn_pipeline_compile(q, strlen(q), "t.sql", &p, err, sizeof err) != RN_OK) {
            fprintf(stderr, "compile failed: %s\n", err);
            RN_CHECK(!"compiles");
            continue;
        }
        rn_buf_t b;
        rn_buf_init(&b);
        rn_pipeline_explain(p, &b);
        RN_CHECK((strstr(b.data, "drops windows [we, we] at the watermark") != NULL) == (v == 0));
        int joins = 0, timed = 0, untimed = 0;
        for (int i = 0; i < rn_pipeline_nops(p); i++) {
            rn_op_t *op = rn_pipeline_op(p, i);
            if (strcmp(op->vt->kind, "Join") != 0) continue;
            joins++;
            for (int port = 0; port < 2; port++) {
                rn_op_t *x = op->inputs[port].op;
                RN_REQUIRE(rn_is_exchange(x));
                int col = rn_exchange_rowtime_col(x);
                if (col >= 0) {
                    timed++;
                    RN_CHECK_EQ_STR(x->schema->cols[col].name, "we");
                } else {
                    untimed++;
                }
            }
        }
        RN_CHECK_EQ_INT(joins, 1);
        RN_CHECK_EQ_INT(timed, v == 0 ? 2 : 0);
        RN_CHECK_EQ_INT(untimed, v == 0 ? 0 : 2);
        if (v == 0 && timed != 2) fprintf(stderr, "%s\n", b.data);
        rn_buf_free(&b);
        rn_pipeline_free(p);
    }
}

int main(void)
{
    RN_RUN(test_group_by);
    RN_RUN(test_windows);
    RN_RUN(test_rank);
    RN_RUN(test_lookup_join);
    RN_RUN(test_upsert_source);
    RN_RUN(test_join);
    RN_RUN(test_window_join_by_lineage);
    return rn_test_summary();
}
