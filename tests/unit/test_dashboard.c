/*
 * test_dashboard.c - dashboard tables (connectors/dashboard.c): upsert,
 * delete, the append ring, sort orders, eviction past max-keys, chart
 * detection, the rendered JSON (exact text), the changed flag, ?key
 * lookups and the option checks.
 */
#include "connectors/dashboard.h"
#include "core/arena.h"
#include "rn_test.h"
#include "rn_test_rows.h"

#include <stdio.h>
#include <string.h>

/* Applies one row (k, v) of a (STRING, BIGINT) schema with kind. */
static rn_err_t put_sv(rn_dash_table_t *t, const rn_schema_t *s, const char *k, int64_t v, rn_rowkind_t kind,
                       int64_t now)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 1024);
    rn_batch_t *b = rn_batch_new(&arena, s, 1);
    b->cols[0][0] = S(k);
    b->cols[1][0] = I(v);
    for (int c = 2; c < s->ncols; c++) b->cols[c][0] = N;
    b->kinds[0] = (uint8_t)kind;
    b->nrows = 1;
    rn_err_t err = rn_dash_table_apply(t, b, NULL, 1, now);
    rn_arena_free(&arena);
    return err;
}

static rn_dash_conf_t conf_of(int64_t max_rows, const char *sort, const char *chart)
{
    return (rn_dash_conf_t){.max_rows = max_rows, .max_keys = 100000, .sort = sort, .chart = chart};
}

/* Whether text j ends in "changes": [..]} with n change numbers, each
 * greater than the one before (a table without a sort). */
static bool changes_increasing(const char *j, int n)
{
    const char *c = strstr(j, "\"changes\": [");
    if (!c) return false;
    c += 12;
    long long prev = -1;
    for (int i = 0; i < n; i++) {
        char *end;
        long long v = strtoll(c, &end, 10);
        if (end == c || v <= prev) return false;
        prev = v;
        c = end;
        if (i + 1 < n) {
            if (strncmp(c, ", ", 2)) return false;
            c += 2;
        }
    }
    return !strcmp(c, "]}");
}

/* Renders t (not clearing the flag) into a static buffer. */
static const char *json_of(rn_dash_table_t *t)
{
    static char text[4096];
    rn_buf_t b;
    rn_buf_init(&b);
    RN_CHECK(rn_dash_table_json(t, &b, false) == RN_OK);
    snprintf(text, sizeof text, "%.*s", (int)b.len, b.data ? b.data : "");
    rn_buf_free(&b);
    return text;
}

#define HEAD_SV                                                                                              \
    "{\"name\": \"top\", \"pipeline\": \"p\", \"columns\": [{\"name\": \"page\", \"type\": \"STRING\"}, "    \
    "{\"name\": \"views\", \"type\": \"BIGINT\"}], \"key\": [\"page\"], "                                    \
    "\"chart\": {\"kind\": \"bars\", \"x\": \"page\", \"y\": \"views\"}, "                      \
    "\"sort\": {\"column\": \"views\", \"desc\": true}, \"max_rows\": 1000, "

static void test_upsert_sort_json_changed(void)
{
    rn_schema_t *s = schema_of(2, "page:STRING", "views:BIGINT");
    int pk[] = {0};
    rn_dash_conf_t c = conf_of(1000, NULL, "auto");
    RN_REQUIRE(rn_dash_check(&c, s, 1, pk, NULL, 0) == RN_OK);
    rn_dash_table_t *t;
    RN_REQUIRE(rn_dash_table_new(&c, "p", "top", s, 1, pk, &t) == RN_OK);
    RN_CHECK(!rn_dash_table_changed(t));
    RN_CHECK_EQ_STR(json_of(t), HEAD_SV "\"updated_ms\": null, \"total_rows\": 0, \"rows\": []}");
    put_sv(t, s, "/a", 1, RN_ROW_INSERT, 1000);
    put_sv(t, s, "/b", 5, RN_ROW_INSERT, 1001);
    put_sv(t, s, "/c", 3, RN_ROW_INSERT, 1002);
    put_sv(t, s, "/a", 1, RN_ROW_UPDATE_BEFORE, 1003);
    put_sv(t, s, "/a", 7, RN_ROW_UPDATE_AFTER, 1004);
    put_sv(t, s, "/c", 3, RN_ROW_DELETE, 1005);
    RN_CHECK(rn_dash_table_changed(t));
    /* the one numeric value sorts DESC by default; /c was deleted */
    RN_CHECK_EQ_STR(json_of(t), HEAD_SV "\"updated_ms\": 1005, \"total_rows\": 2, \"rows\": [[\"/a\",7], [\"/b\",5]]}");
    RN_CHECK(rn_dash_table_changed(t)); /* a render without clearing leaves the flag */
    rn_buf_t b;
    rn_buf_init(&b);
    RN_CHECK(rn_dash_table_json(t, &b, true) == RN_OK);
    RN_CHECK(!rn_dash_table_changed(t));
    put_sv(t, s, "/b", 9, RN_ROW_UPDATE_AFTER, 1006);
    RN_CHECK(rn_dash_table_changed(t));
    RN_CHECK_EQ_STR(json_of(t), HEAD_SV "\"updated_ms\": 1006, \"total_rows\": 2, \"rows\": [[\"/b\",9], [\"/a\",7]]}");
    /* ?key= */
    char err[256] = "";
    rn_buf_clear(&b);
    RN_CHECK(rn_dash_table_row_json(t, "/a", &b, err, sizeof err) == RN_OK);
    RN_CHECK(b.len > 0 && strstr(b.data, "\"total_rows\": 2, \"rows\": [[\"/a\",7]]}") != NULL);
    rn_buf_clear(&b);
    RN_CHECK(rn_dash_table_row_json(t, "/zz", &b, err, sizeof err) == RN_OK);
    RN_CHECK(b.len > 0 && strstr(b.data, "\"rows\": []}") != NULL);
    RN_CHECK(rn_dash_table_changed(t)); /* lookups leave the flag alone */
    rn_buf_free(&b);
    rn_dash_table_free(t);
    rn_schema_unref(s);
}

static void test_max_rows_and_explicit_sort(void)
{
    rn_schema_t *s = schema_of(2, "page:STRING", "views:BIGINT");
    int pk[] = {0};
    /* max-rows 2 of 3 keys, by page ASC; NULL values last under a value sort */
    rn_dash_conf_t c = conf_of(2, "page", "none");
    RN_REQUIRE(rn_dash_check(&c, s, 1, pk, NULL, 0) == RN_OK);
    rn_dash_table_t *t;
    RN_REQUIRE(rn_dash_table_new(&c, "p", "top", s, 1, pk, &t) == RN_OK);
    put_sv(t, s, "c", 1, RN_ROW_INSERT, 1);
    put_sv(t, s, "a", 2, RN_ROW_INSERT, 1);
    put_sv(t, s, "b", 3, RN_ROW_INSERT, 1);
    const char *j = json_of(t);
    RN_CHECK(strstr(j, "\"chart\": {\"kind\": \"none\"}") != NULL);
    RN_CHECK(strstr(j, "\"total_rows\": 3, \"rows\": [[\"a\",2], [\"b\",3]]}") != NULL);
    rn_dash_table_free(t);
    c = conf_of(10, "views ASC", "auto");
    RN_REQUIRE(rn_dash_table_new(&c, "p", "top", s, 1, pk, &t) == RN_OK);
    put_sv(t, s, "x", 4, RN_ROW_INSERT, 1);
    put_sv(t, s, "y", 2, RN_ROW_INSERT, 1);
    rn_arena_t arena;
    rn_arena_init(&arena, 1024);
    rn_batch_t *b = rn_batch_new(&arena, s, 1);
    b->cols[0][0] = S("z");
    b->cols[1][0] = N;
    b->kinds[0] = RN_ROW_INSERT;
    b->nrows = 1;
    RN_CHECK(rn_dash_table_apply(t, b, NULL, 1, 2) == RN_OK);
    RN_CHECK(strstr(json_of(t), "\"rows\": [[\"y\",2], [\"x\",4], [\"z\",null]]}") != NULL);
    rn_arena_free(&arena);
    rn_dash_table_free(t);
    rn_schema_unref(s);
}

static void test_append_ring_line(void)
{
    rn_schema_t *s = schema_of(2, "window_end:TIMESTAMP", "users:BIGINT");
    rn_dash_conf_t c = conf_of(3, NULL, "auto");
    RN_REQUIRE(rn_dash_check(&c, s, 0, NULL, NULL, 0) == RN_OK);
    rn_dash_table_t *t;
    RN_REQUIRE(rn_dash_table_new(&c, "p", "active", s, 0, NULL, &t) == RN_OK);
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_batch_t *b = rn_batch_new(&arena, s, 6);
    for (int r = 0; r < 6; r++) {
        b->cols[0][r] = I(60000 * (r + 1));
        b->cols[1][r] = I(r * 10);
        b->kinds[r] = r == 5 ? RN_ROW_DELETE : RN_ROW_INSERT; /* an append table ignores retractions */
    }
    b->nrows = 6;
    RN_CHECK(rn_dash_table_apply(t, b, NULL, 6, 7) == RN_OK);
    const char *want = "{\"name\": \"active\", \"pipeline\": \"p\", \"columns\": [{\"name\": \"window_end\", \"type\": "
                       "\"TIMESTAMP(3)\"}, {\"name\": \"users\", \"type\": \"BIGINT\"}], \"key\": [], \"chart\": {\"kind\": "
                       "\"line\", \"x\": \"window_end\", \"y\": \"users\"}, \"sort\": null, \"max_rows\": 3, "
                       "\"updated_ms\": 7, \"total_rows\": 3, \"rows\": [[180000,20], [240000,30], [300000,40]], ";
    RN_CHECK(strncmp(json_of(t), want, strlen(want)) == 0);
    RN_CHECK(changes_increasing(json_of(t), 3));
    char err[256] = "";
    rn_buf_t out;
    rn_buf_init(&out);
    RN_CHECK(rn_dash_table_row_json(t, "1", &out, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "no one-column key") != NULL);
    rn_buf_free(&out);
    rn_arena_free(&arena);
    rn_dash_table_free(t);
    rn_schema_unref(s);
}

static void test_eviction(void)
{
    /* two numeric values: no default sort, so the least recently changed key goes */
    rn_schema_t *s = schema_of(3, "k:STRING", "a:BIGINT", "b:BIGINT");
    int pk[] = {0};
    rn_dash_conf_t c = conf_of(10, NULL, "auto");
    c.max_keys = 2;
    rn_dash_table_t *t;
    RN_REQUIRE(rn_dash_table_new(&c, "p", "t", s, 1, pk, &t) == RN_OK);
    put_sv(t, s, "a", 1, RN_ROW_INSERT, 1); /* put_sv fills the first two columns */
    put_sv(t, s, "b", 1, RN_ROW_INSERT, 1);
    put_sv(t, s, "c", 1, RN_ROW_INSERT, 1);
    const char *j = json_of(t);
    RN_CHECK(strstr(j, "\"chart\": {\"kind\": \"none\"}") != NULL);
    RN_CHECK(strstr(j, "\"total_rows\": 2, \"rows\": [[\"b\",1,null], [\"c\",1,null]], \"changes\": [") != NULL);
    RN_CHECK(changes_increasing(j, 2));
    put_sv(t, s, "b", 2, RN_ROW_UPDATE_AFTER, 1);
    put_sv(t, s, "d", 1, RN_ROW_INSERT, 1);
    RN_CHECK(strstr(json_of(t), "\"rows\": [[\"b\",2,null], [\"d\",1,null]], \"changes\": [") != NULL);
    RN_CHECK(changes_increasing(json_of(t), 2));
    rn_dash_table_free(t);
    rn_schema_unref(s);
    /* with a sort: the lowest-ranked go, once the table holds an eighth more */
    s = schema_of(2, "page:STRING", "views:BIGINT");
    c = conf_of(100, NULL, "auto");
    c.max_keys = 8;
    RN_REQUIRE(rn_dash_table_new(&c, "p", "top", s, 1, pk, &t) == RN_OK);
    char key[16];
    for (int i = 1; i <= 9; i++) {
        snprintf(key, sizeof key, "%d", i);
        put_sv(t, s, key, i, RN_ROW_INSERT, 1);
    }
    RN_CHECK_EQ_INT(rn_dash_table_size(t), 9); /* 8 + 8/8: not yet */
    put_sv(t, s, "10", 10, RN_ROW_INSERT, 1);
    RN_CHECK_EQ_INT(rn_dash_table_size(t), 8);
    rn_buf_t b;
    rn_buf_init(&b);
    char err[128];
    RN_CHECK(rn_dash_table_row_json(t, "1", &b, err, sizeof err) == RN_OK && strstr(b.data, "\"rows\": []}"));
    rn_buf_clear(&b);
    RN_CHECK(rn_dash_table_row_json(t, "3", &b, err, sizeof err) == RN_OK && strstr(b.data, "[[\"3\",3]]"));
    rn_buf_free(&b);
    rn_dash_table_free(t);
    rn_schema_unref(s);
}

/* Many keys, few shown: the first max-rows are selected, then sorted;
 * checked against the order computed here, after updates too. */
static void test_top_rows_of_many(void)
{
    rn_schema_t *s = schema_of(2, "page:STRING", "views:BIGINT");
    int pk[] = {0};
    rn_dash_conf_t c = conf_of(10, NULL, "auto");
    rn_dash_table_t *t;
    RN_REQUIRE(rn_dash_table_new(&c, "p", "top", s, 1, pk, &t) == RN_OK);
    enum { NKEYS = 2000, P = 2003 };
    static int64_t val[NKEYS];
    char key[16];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < NKEYS; i++) {
            val[i] = (int64_t)i * (round ? 104729 : 7919) % P; /* distinct: P is prime */
            snprintf(key, sizeof key, "k%d", i);
            put_sv(t, s, key, val[i], round ? RN_ROW_UPDATE_AFTER : RN_ROW_INSERT, 1);
        }
        rn_buf_t want;
        rn_buf_init(&want);
        rn_buf_appendf(&want, "\"total_rows\": %d, \"rows\": [", NKEYS);
        int shown = 0;
        for (int64_t v = P - 1; v >= 0 && shown < 10; v--)
            for (int i = 0; i < NKEYS; i++)
                if (val[i] == v) {
                    rn_buf_appendf(&want, "%s[\"k%d\",%lld]", shown++ ? ", " : "", i, (long long)v);
                    break;
                }
        rn_buf_appends(&want, "]}");
        const char *got = json_of(t);
        RN_CHECK(strstr(got, want.data) != NULL);
        if (!strstr(got, want.data)) fprintf(stderr, "  got %s\n  want %s\n", got, want.data);
        rn_buf_free(&want);
    }
    rn_dash_table_free(t);
    rn_schema_unref(s);
}

/* Many keys deleted in an interleaved order: the index's backward-shift
 * deletion keeps every other key findable. */
static void test_index_deletes(void)
{
    rn_schema_t *s = schema_of(2, "id:BIGINT", "v:BIGINT");
    int pk[] = {0};
    rn_dash_conf_t c = conf_of(5000, NULL, "none");
    rn_dash_table_t *t;
    RN_REQUIRE(rn_dash_table_new(&c, "p", "t", s, 1, pk, &t) == RN_OK);
    rn_arena_t arena;
    rn_arena_init(&arena, 1 << 16);
    rn_batch_t *b = rn_batch_new(&arena, s, 1000);
    for (int r = 0; r < 1000; r++) {
        b->cols[0][r] = I(r);
        b->cols[1][r] = I(r * 2);
        b->kinds[r] = RN_ROW_INSERT;
    }
    b->nrows = 1000;
    RN_CHECK(rn_dash_table_apply(t, b, NULL, 1000, 1) == RN_OK);
    for (int r = 0; r < 1000; r++) b->kinds[r] = r % 3 ? RN_ROW_DELETE : RN_ROW_INSERT;
    RN_CHECK(rn_dash_table_apply(t, b, NULL, 1000, 2) == RN_OK);
    RN_CHECK_EQ_INT(rn_dash_table_size(t), 334);
    rn_buf_t out;
    rn_buf_init(&out);
    char key[32], want[64], err[128];
    int bad = 0;
    for (int r = 0; r < 1000; r++) {
        snprintf(key, sizeof key, "%d", r);
        snprintf(want, sizeof want, "\"rows\": [[%d,%d]]}", r, r * 2);
        rn_buf_clear(&out);
        RN_CHECK(rn_dash_table_row_json(t, key, &out, err, sizeof err) == RN_OK);
        bool found = out.len && strstr(out.data, want) != NULL;
        if (found != (r % 3 == 0)) bad++;
    }
    RN_CHECK_EQ_INT(bad, 0);
    rn_buf_free(&out);
    rn_arena_free(&arena);
    rn_dash_table_free(t);
    rn_schema_unref(s);
}

static void test_options_and_checks(void)
{
    char err[512];
    int bad;
    rn_dash_conf_t c;
    rn_option_t o1[] = {{"dashboard", "true"}, {"dashboard.max-rows", "0"}};
    RN_CHECK(rn_dash_conf_parse(o1, 2, false, &c, &bad, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "option 'dashboard.max-rows' must be an integer >= 1") != NULL);
    RN_CHECK_EQ_INT(bad, 1);
    rn_option_t o2[] = {{"dashboard.chart", "pie"}, {"dashboard", "true"}};
    RN_CHECK(rn_dash_conf_parse(o2, 2, false, &c, &bad, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "must be one of auto|bars|line|none") != NULL);
    rn_option_t o3[] = {{"dashboard.sort", "views"}};
    RN_CHECK(rn_dash_conf_parse(o3, 1, false, &c, &bad, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "needs 'dashboard' = 'true'") != NULL);
    RN_CHECK(rn_dash_conf_parse(o3, 1, true, &c, &bad, err, sizeof err) == RN_OK);
    rn_option_t o4[] = {{"dashboard", "yes"}};
    RN_CHECK(rn_dash_conf_parse(o4, 1, false, &c, &bad, err, sizeof err) == RN_ERR_CONFIG);
    rn_option_t o5[] = {{"dashboard", "true"}, {"dashboard.colour", "red"}};
    RN_CHECK(rn_dash_conf_parse(o5, 2, false, &c, &bad, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "option 'dashboard.colour' is unknown") != NULL);
    rn_option_t o6[] = {{"dashboard", "true"}, {"dashboard.max-rows", "5"}, {"dashboard.key", "page"}};
    RN_CHECK(rn_dash_conf_parse(o6, 3, false, &c, &bad, err, sizeof err) == RN_OK);
    RN_CHECK(c.enabled && c.max_rows == 5 && !strcmp(c.key, "page") && !strcmp(c.chart, "auto"));

    rn_schema_t *s = schema_of(3, "page:STRING", "views:BIGINT", "window_end:TIMESTAMP");
    int pk[] = {0}, key[3];
    c = conf_of(10, "nope DESC", "auto");
    RN_CHECK(rn_dash_check(&c, s, 1, pk, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "option 'dashboard.sort' names column 'nope'") != NULL);
    c = conf_of(10, "views SIDEWAYS", "auto");
    RN_CHECK(rn_dash_check(&c, s, 1, pk, err, sizeof err) == RN_ERR_CONFIG);
    c.sort = NULL;
    c.key = "page, nope";
    RN_CHECK(rn_dash_check(&c, s, 0, NULL, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "option 'dashboard.key'") != NULL);
    c.key = "page";
    RN_CHECK(rn_dash_check(&c, s, 0, NULL, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(rn_dash_key(&c, s, 0, NULL, key), 1);
    RN_CHECK_EQ_INT(key[0], 0);
    rn_schema_unref(s);
    /* explicit charts that cannot be drawn */
    s = schema_of(2, "a:STRING", "b:STRING");
    c = conf_of(10, NULL, "bars");
    RN_CHECK(rn_dash_check(&c, s, 1, pk, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "option 'dashboard.chart': bars need") != NULL);
    c.chart = "line";
    RN_CHECK(rn_dash_check(&c, s, 1, pk, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "option 'dashboard.chart': a line needs") != NULL);
    rn_schema_unref(s);
    /* auto: a window column and a number make a line even with a key */
    s = schema_of(2, "window_end:TIMESTAMP", "n:DOUBLE");
    c = conf_of(10, NULL, "auto");
    rn_dash_table_t *t;
    RN_REQUIRE(rn_dash_table_new(&c, "p", "w", s, 1, pk, &t) == RN_OK);
    RN_CHECK(strstr(json_of(t), "\"chart\": {\"kind\": \"line\", \"x\": \"window_end\", \"y\": \"n\"}") != NULL);
    rn_dash_table_free(t);
    rn_schema_unref(s);
}

int main(void)
{
    RN_RUN(test_upsert_sort_json_changed);
    RN_RUN(test_max_rows_and_explicit_sort);
    RN_RUN(test_append_ring_line);
    RN_RUN(test_eviction);
    RN_RUN(test_top_rows_of_many);
    RN_RUN(test_index_deletes);
    RN_RUN(test_options_and_checks);
    return rn_test_summary();
}
