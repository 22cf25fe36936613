/*
 * test_http.c - the dashboard's HTTP layer in-process: the parsers of
 * http/url.h (listen address, token, table references, the JSON scanner
 * and ?key= filter), a hub fed by a real run of a datagen pipeline (state,
 * counters, metrics samples, the tables hook), and the server answering
 * over a loopback socket (routes, errors, token refusal).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "http/http.h"
#include "http/hub.h"
#include "http/url.h"
#include "plan/pipeline.h"
#include "rn_test.h"
#include "runtime/run.h"

static void test_listen(void)
{
    char host[64], err[256];
    int port = -1;
    RN_CHECK(rn_http_parse_listen("127.0.0.1:8080", host, sizeof host, &port, err, sizeof err));
    RN_CHECK_EQ_STR(host, "127.0.0.1");
    RN_CHECK_EQ_INT(port, 8080);
    RN_CHECK(rn_http_parse_listen("[::1]:0", host, sizeof host, &port, err, sizeof err));
    RN_CHECK_EQ_STR(host, "::1");
    RN_CHECK_EQ_INT(port, 0);
    RN_CHECK(rn_http_parse_listen(":9", host, sizeof host, &port, err, sizeof err));
    RN_CHECK_EQ_STR(host, "127.0.0.1");
    const char *bad[] = {"", "localhost", "1.2.3.4:", "1.2.3.4:65536", "::1:80", "[::1]80", "a b:1", "h:-1", "h:1x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        RN_CHECK(!rn_http_parse_listen(bad[i], host, sizeof host, &port, err, sizeof err));
        RN_CHECK(strstr(err, "HOST:PORT") != NULL);
    }
}

static void test_token(void)
{
    RN_CHECK(rn_http_token_ok("Bearer s3cret", NULL, "s3cret"));
    RN_CHECK(rn_http_token_ok("bearer  s3cret ", NULL, "s3cret"));
    RN_CHECK(rn_http_token_ok(NULL, "s3cret", "s3cret"));
    RN_CHECK(rn_http_token_ok("Bearer wrong", "s3cret", "s3cret"));
    RN_CHECK(!rn_http_token_ok("Bearer s3cre", NULL, "s3cret"));
    RN_CHECK(!rn_http_token_ok("Bearer s3cretx", NULL, "s3cret"));
    RN_CHECK(!rn_http_token_ok("Basic s3cret", NULL, "s3cret"));
    RN_CHECK(!rn_http_token_ok(NULL, NULL, "s3cret"));
    RN_CHECK(!rn_http_token_ok(NULL, "", "s3cret"));
}

static void test_table_ref(void)
{
    char p[64], n[64];
    RN_CHECK(rn_http_table_ref("top_pages", p, sizeof p, n, sizeof n));
    RN_CHECK_EQ_STR(p, "");
    RN_CHECK_EQ_STR(n, "top_pages");
    RN_CHECK(rn_http_table_ref("s2-activity.top_pages", p, sizeof p, n, sizeof n));
    RN_CHECK_EQ_STR(p, "s2-activity");
    RN_CHECK_EQ_STR(n, "top_pages");
    const char *bad[] = {"", ".x", "x.", "a.b.c", "a b", "a/b", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) RN_CHECK(!rn_http_table_ref(bad[i], p, sizeof p, n, sizeof n));
}

static const char TABLE[] =
    "{\"name\":\"t\",\"columns\":[{\"name\":\"v\",\"type\":\"BIGINT\"},{\"name\":\"k\",\"type\":\"STRING\"}],"
    "\"key\":[\"k\"],\"rows\":[[1,\"a\"],[2,\"b\\u0041\"],[3,\"a\"]]}";

static void test_json(void)
{
    size_t start, off, len;
    RN_CHECK_EQ_INT(rn_http_json_value("  [1, {\"a\": null}] x", 21, &start), 16);
    RN_CHECK_EQ_INT(start, 2);
    RN_CHECK_EQ_INT(rn_http_json_value("[1,]", 4, &start), 0);
    RN_CHECK_EQ_INT(rn_http_json_value("\"abc", 4, &start), 0);
    RN_CHECK_EQ_INT(rn_http_json_value("-", 1, &start), 0);
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    RN_CHECK_EQ_INT(rn_http_json_value(deep, 200, &start), 0); /* deeper than 64 */
    RN_CHECK(rn_http_json_member(TABLE, strlen(TABLE), "key", &off, &len));
    RN_CHECK(len == 5 && !memcmp(TABLE + off, "[\"k\"]", 5));
    RN_CHECK(!rn_http_json_member(TABLE, strlen(TABLE), "nope", &off, &len));

    rn_buf_t b;
    rn_buf_init(&b);
    RN_CHECK_EQ_INT(rn_http_table_filter_key(TABLE, strlen(TABLE), "a", &b), 1);
    RN_CHECK(b.data && strstr(b.data, "\"rows\":[[1,\"a\"],[3,\"a\"]]}") != NULL);
    RN_CHECK(b.data && strstr(b.data, "\"key\":[\"k\"]") != NULL);
    rn_buf_clear(&b);
    RN_CHECK_EQ_INT(rn_http_table_filter_key(TABLE, strlen(TABLE), "bA", &b), 1);
    RN_CHECK(b.data && strstr(b.data, "\"rows\":[[2,\"b\\u0041\"]]") != NULL);
    rn_buf_clear(&b);
    RN_CHECK_EQ_INT(rn_http_table_filter_key(TABLE, strlen(TABLE), "zz", &b), 1);
    RN_CHECK(b.data && strstr(b.data, "\"rows\":[]") != NULL);
    rn_buf_clear(&b);
    const char nokey[] = "{\"columns\":[{\"name\":\"v\"}],\"key\":[],\"rows\":[[1]]}";
    RN_CHECK_EQ_INT(rn_http_table_filter_key(nokey, strlen(nokey), "1", &b), 0);
    const char numkey[] = "{\"columns\":[{\"name\":\"id\"}],\"key\":[\"id\"],\"rows\":[[42],[7]]}";
    RN_CHECK_EQ_INT(rn_http_table_filter_key(numkey, strlen(numkey), "42", &b), 1);
    RN_CHECK(b.data && strstr(b.data, "\"rows\":[[42]]") != NULL);
    rn_buf_clear(&b);
    RN_CHECK_EQ_INT(rn_http_table_filter_key("{\"rows\":[", 9, "1", &b), -1);
    RN_CHECK_EQ_INT(b.len, 0);
    rn_buf_free(&b);
}

/* ---- merging the workers' copies of a table ------------------------------- */

#define MHEAD(sort, max)                                                                                 \
    "{\"name\": \"top\", \"pipeline\": \"p\", \"columns\": [{\"name\": \"page\", \"type\": \"STRING\"}, " \
    "{\"name\": \"views\", \"type\": \"BIGINT\"}], \"key\": [\"page\"], "                        \
    "\"chart\": {\"kind\": \"bars\"}, \"sort\": " sort ", \"max_rows\": " max ", "

static void test_merge(void)
{
    /* sorted by views DESC: NULLs last, ties by the key; the first max_rows */
    const char *w1 = MHEAD("{\"column\": \"views\", \"desc\": true}", "4")
        "\"updated_ms\": 100, \"total_rows\": 3, \"rows\": [[\"/a\",9], [\"/c\",5], [\"/n\",null]]}";
    const char *w2 = MHEAD("{\"column\": \"views\", \"desc\": true}", "4")
        "\"updated_ms\": 250, \"total_rows\": 5, "
        "\"rows\": [[\"/b\",10], [\"/\\u0041\",5], [\"/d\",1.5], [\"/m\",null]]}";
    const char *objs[] = {w1, w2};
    size_t lens[] = {strlen(w1), strlen(w2)};
    rn_buf_t b;
    rn_buf_init(&b);
    RN_CHECK_EQ_INT(rn_http_table_merge(objs, lens, 2, "s2", &b), 1);
    RN_CHECK_EQ_STR(b.data ? b.data : "",
                    "{\"name\": \"top\", \"pipeline\": \"s2\", \"workers\": 2, \"columns\": [{\"name\": \"page\", \"type\": "
                    "\"STRING\"}, {\"name\": \"views\", \"type\": \"BIGINT\"}], \"key\": [\"page\"], \"chart\": {\"kind\": "
                    "\"bars\"}, \"sort\": {\"column\": \"views\", \"desc\": true}, \"max_rows\": 4, \"updated_ms\": 250, "
                    "\"total_rows\": 8, \"rows\": [[\"/b\",10], [\"/a\",9], [\"/\\u0041\",5], [\"/c\",5]]}");
    rn_buf_clear(&b);
    /* ascending: 1.5 < 5 < 9 < 10, NULLs still last */
    const char *a1 = MHEAD("{\"column\": \"views\", \"desc\": false}", "10")
        "\"updated_ms\": null, \"total_rows\": 2, \"rows\": [[\"/c\",5], [\"/n\",null]]}";
    const char *a2 = MHEAD("{\"column\": \"views\", \"desc\": false}", "10")
        "\"updated_ms\": 7, \"total_rows\": 2, \"rows\": [[\"/d\",1.5], [\"/b\",10]]}";
    const char *aobjs[] = {a1, a2};
    size_t alens[] = {strlen(a1), strlen(a2)};
    RN_CHECK_EQ_INT(rn_http_table_merge(aobjs, alens, 2, "s2", &b), 1);
    RN_CHECK(b.data && strstr(b.data, "\"updated_ms\": 7, \"total_rows\": 4, "
                                      "\"rows\": [[\"/d\",1.5], [\"/c\",5], [\"/b\",10], [\"/n\",null]]}") != NULL);
    rn_buf_clear(&b);
    /* no sort: change order, the max_rows most recently changed, with their changes */
    const char *c1 = MHEAD("null", "3") "\"updated_ms\": 5, \"total_rows\": 2, "
                                        "\"rows\": [[\"x\",1], [\"y\",2]], \"changes\": [10, 40]}";
    const char *c2 = MHEAD("null", "3") "\"updated_ms\": 6, \"total_rows\": 2, "
                                        "\"rows\": [[\"z\",3], [\"w\",4]], \"changes\": [20, 30]}";
    const char *cobjs[] = {c1, c2};
    size_t clens[] = {strlen(c1), strlen(c2)};
    RN_CHECK_EQ_INT(rn_http_table_merge(cobjs, clens, 2, "s2", &b), 1);
    RN_CHECK(b.data && strstr(b.data, "\"total_rows\": 4, \"rows\": [[\"z\",3], [\"w\",4], [\"y\",2]], "
                                      "\"changes\": [20, 30, 40]}") != NULL);
    rn_buf_clear(&b);
    /* malformed or incomplete copies: nothing written */
    /* no changes */
    const char *bad1 = MHEAD("null", "3") "\"updated_ms\": 5, \"total_rows\": 1, \"rows\": [[\"x\",1]]}";
    const char *bobjs[] = {c1, bad1};
    size_t blens[] = {strlen(c1), strlen(bad1)};
    RN_CHECK_EQ_INT(rn_http_table_merge(bobjs, blens, 2, "s2", &b), -1);
    RN_CHECK_EQ_INT(b.len, 0);
    const char *trunc[] = {w1};
    size_t tlen[] = {strlen(w1) - 3};
    RN_CHECK_EQ_INT(rn_http_table_merge(trunc, tlen, 1, "s2", &b), -1);
    RN_CHECK_EQ_INT(b.len, 0);
    rn_buf_free(&b);
}

/* ---- a hub over a real run, and the server --------------------------------- */

static const char SQL[] =
    "CREATE TABLE ev (event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE)\n"
    "WITH ('connector' = 'datagen', 'scenario' = 's5', 'topic' = 'user-events', 'seed' = '3',\n"
    "      'number-of-rows' = '500');\n"
    "CREATE TABLE out (page_id INT, n BIGINT, PRIMARY KEY (page_id) NOT ENFORCED) WITH ('connector' = 'blackhole');\n"
    "INSERT INTO out SELECT page_id, COUNT(*) FROM ev GROUP BY page_id;\n";

static int tables_calls;

static void tables_hook(const rn_pipeline_t *p, rn_buf_t *out)
{
    tables_calls++;
    rn_buf_appends(out, "{\"t\":");
    rn_buf_appends(out, TABLE);
    rn_buf_appends(out, "}");
}

/* GET path from the server at port; the whole answer into out. */
static void get(int port, const char *method, const char *path, const char *extra, rn_buf_t *out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rn_buf_clear(out);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return;
    }
    char req[1024];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n", method, path,
                     extra ? extra : "");
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return;
    }
    char buf[4096];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) rn_buf_append(out, buf, (size_t)r);
    close(fd);
}

static void test_hub_and_server(void)
{
    char err[1024] = "";
    rn_pipeline_t *p;
    RN_REQUIRE(rn_pipeline_compile(SQL, strlen(SQL), "hub.sql", &p, err, sizeof err) == RN_OK);
    rn_http_hub_t *hub = rn_http_hub_new(tables_hook);
    RN_REQUIRE(hub && rn_http_hub_add(hub, p, "hub", NULL, "hub.sql") == RN_OK);
    rn_http_view_t v[4];
    RN_CHECK_EQ_INT(rn_http_hub_take(hub, v, 4), 1);
    RN_CHECK_EQ_STR(v[0].state, "starting");
    RN_CHECK(v[0].snap == NULL);
    RN_CHECK(strstr(v[0].graph, "\"kind\":\"GroupAggregate\"") != NULL);
    rn_http_hub_release(hub, v, 1);

    rn_run_opts_t o = {.mode = RN_MODE_RUN, .dlq_path = "/dev/null", .progress = rn_http_hub_progress,
                       .progress_opaque = hub, .progress_ms = 1};
    RN_REQUIRE(rn_pipeline_run(p, &o, err, sizeof err) == RN_OK);
    RN_CHECK(tables_calls >= 1);
    RN_CHECK_EQ_INT(rn_http_hub_take(hub, v, 4), 1);
    RN_CHECK_EQ_STR(v[0].state, "finished");
    RN_REQUIRE(v[0].snap != NULL);
    RN_CHECK(strstr(v[0].snap->status.data, "\"table\":\"ev\",\"topic\":null,\"partition\":-1,\"records\":500,") != NULL);
    RN_CHECK(strstr(v[0].snap->metrics[RN_M_SOURCE_RECORDS].data,
                    "runnel_source_records_total{pipeline=\"hub\",table=\"ev\",topic=\"\",partition=\"-1\"} 500\n") != NULL);
    RN_CHECK(strstr(v[0].snap->metrics[RN_M_SINK_RECORDS].data, "connector=\"blackhole\",operator=\"") != NULL);
    RN_CHECK_EQ_INT(v[0].snap->tables_version, 1); /* the same text every tick */
    rn_http_hub_release(hub, v, 1);

    /* the server */
    rn_http_t *srv = NULL;
    char url[256];
    RN_CHECK_EQ_INT(rn_http_start(hub, "0.0.0.0:0", NULL, &srv, url, sizeof url, err, sizeof err), RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "token") != NULL);
    RN_CHECK_EQ_INT(rn_http_start(hub, "nonsense", NULL, &srv, url, sizeof url, err, sizeof err), RN_ERR_CONFIG);
    RN_REQUIRE(rn_http_start(hub, "127.0.0.1:0", NULL, &srv, url, sizeof url, err, sizeof err) == RN_OK);
    int port = 0;
    RN_REQUIRE(sscanf(url, "http://127.0.0.1:%d/", &port) == 1 && port > 0);
    rn_buf_t b;
    rn_buf_init(&b);
    get(port, "GET", "/api/tables/t?key=a", NULL, &b);
    RN_CHECK(b.data && strstr(b.data, "HTTP/1.1 200") == b.data);
    RN_CHECK(b.data && strstr(b.data, "\"rows\":[[1,\"a\"],[3,\"a\"]]") != NULL);
    get(port, "GET", "/api/tables/hub.t", NULL, &b);
    RN_CHECK(b.data && strstr(b.data, "HTTP/1.1 200") == b.data && strstr(b.data, TABLE));
    get(port, "GET", "/api/tables/other.t", NULL, &b);
    RN_CHECK(b.data && strstr(b.data, "HTTP/1.1 404") == b.data);
    get(port, "GET", "/api/pipelines", NULL, &b);
    RN_CHECK(b.data && strstr(b.data, "\"tables\":[\"t\"]") != NULL);
    get(port, "GET", "/metrics", NULL, &b);
    RN_CHECK(b.data && strstr(b.data, "# TYPE runnel_source_records_total counter\nrunnel_source_records_total{") != NULL);
    get(port, "DELETE", "/api/status", NULL, &b);
    RN_CHECK(b.data && strstr(b.data, "HTTP/1.1 405") == b.data);
    get(port, "GET", "/api/nope", NULL, &b);
    RN_CHECK(b.data && strstr(b.data, "HTTP/1.1 404") == b.data && strstr(b.data, "{\"error\":"));
    rn_http_stop(srv);

    /* with a token */
    RN_REQUIRE(rn_http_start(hub, "127.0.0.1:0", "tok", &srv, url, sizeof url, err, sizeof err) == RN_OK);
    RN_REQUIRE(sscanf(url, "http://127.0.0.1:%d/", &port) == 1);
    get(port, "GET", "/api/status", NULL, &b);
    RN_CHECK(b.data && strstr(b.data, "HTTP/1.1 401") == b.data);
    get(port, "GET", "/api/status", "Authorization: Bearer tok\r\n", &b);
    RN_CHECK(b.data && strstr(b.data, "HTTP/1.1 200") == b.data);
    rn_http_stop(srv);
    rn_buf_free(&b);
    rn_http_hub_free(hub);
    rn_pipeline_free(p);
}

int main(void)
{
    RN_RUN(test_listen);
    RN_RUN(test_token);
    RN_RUN(test_table_ref);
    RN_RUN(test_json);
    RN_RUN(test_merge);
    RN_RUN(test_hub_and_server);
    return rn_test_summary();
}
