/*
 * test_pipeline.c - unit tests for compiled pipelines (plan/pipeline.h) and
 * the file connector (connectors/connector.h): the JSON-lines reader
 * (buffer boundaries, huge lines, CRLF, blank lines, padding), compile-time
 * diagnostics (code, file:line:col and message for each kind of mistake),
 * `runnel test`-mode runs over temporary directories (exact outputs,
 * dead-letter lines, missing inputs) and allocation failure injection over
 * compile + run.
 */
#include "connectors/connector.h"
#include "core/mem.h"
#include "json/json.h"
#include "plan/pipeline.h"
#include "runtime/run.h"
#include "rn_test.h"

#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- temp files ------------------------------------------------------- */

static char tmproot[256];

static void tmp_init(void)
{
    snprintf(tmproot, sizeof tmproot, "/tmp/runnel-test-pipeline-XXXXXX");
    if (!mkdtemp(tmproot)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Returns a path under the temp root (static buffer rotation of 4). */
static const char *tmp_path(const char *fmt, ...)
{
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ % 4];
    int n = snprintf(b, 512, "%s/", tmproot);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b + n, 512 - (size_t)n, fmt, ap);
    va_end(ap);
    return b;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        exit(1);
    }
    if (len) fwrite(data, 1, len, fp);
    fclose(fp);
}

/* Reads a whole file (NUL-terminated, caller frees); NULL if absent. */
static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, fp);
    b[got] = '\0';
    fclose(fp);
    return b;
}

/* ---- file reader -------------------------------------------------------- */

typedef struct readall {
    int n;
    char **lines;               /* copies of the records */
    int64_t *pos;
    bool eof;
    rn_err_t err;
} readall_t;

/* Reads every record of path, checking each has RN_JSON_PADDING readable
 * bytes after it (ASan reports if not). */
static readall_t read_all(const char *path)
{
    readall_t ra = {0};
    char errbuf[256];
    rn_reader_t *r = NULL;
    ra.err = rn_file_reader_open(path, &r, errbuf, sizeof errbuf);
    if (ra.err != RN_OK) return ra;
    int cap = 0;
    static rn_record_t recs[RN_BATCH_MAX];
    volatile unsigned sink = 0;
    for (;;) {
        int n = -1;
        bool eof = false;
        ra.err = r->next(r, recs, RN_BATCH_MAX, &n, &eof, errbuf, sizeof errbuf);
        if (ra.err != RN_OK) break;
        if (eof) {
            ra.eof = true;
            if (n != 0) ra.err = RN_ERR_FATAL; /* eof comes with no records */
            break;
        }
        if (n <= 0) {
            ra.err = RN_ERR_FATAL; /* neither records nor eof */
            break;
        }
        for (int i = 0; i < n; i++) {
            for (size_t k = 0; k < RN_JSON_PADDING; k++) sink += (unsigned char)recs[i].data[recs[i].len + k];
            if (ra.n == cap) {
                cap = cap ? cap * 2 : 1024;
                ra.lines = realloc(ra.lines, sizeof *ra.lines * (size_t)cap);
                ra.pos = realloc(ra.pos, sizeof *ra.pos * (size_t)cap);
            }
            ra.lines[ra.n] = malloc(recs[i].len + 1);
            memcpy(ra.lines[ra.n], recs[i].data, recs[i].len);
            ra.lines[ra.n][recs[i].len] = '\0';
            ra.pos[ra.n] = recs[i].position;
            ra.n++;
        }
    }
    (void)sink;
    r->close(r);
    return ra;
}

static void readall_free(readall_t *ra)
{
    for (int i = 0; i < ra->n; i++) free(ra->lines[i]);
    free(ra->lines);
    free(ra->pos);
}

/* The i-th line of the big file: varying lengths so boundaries fall mid-line. */
static int big_line(int i, char *buf, size_t size)
{
    int pad = (i * 7919) % 301;
    int n = snprintf(buf, size, "{\"i\":%d,\"pad\":\"", i);
    for (int k = 0; k < pad; k++) buf[n++] = (char)('a' + (i + k) % 26);
    n += snprintf(buf + n, size - (size_t)n, "\"}");
    return n;
}

static void test_reader_lines_across_buffer_boundaries(void)
{
    const char *path = tmp_path("big.jsonl");
    FILE *fp = fopen(path, "wb");
    RN_REQUIRE(fp != NULL);
    char line[512];
    int nlines = 0;
    long total = 0;
    int i = 0;
    /* > 9 MiB; every 997th line is blank (counted, not returned) */
    while (total < (9L << 20) + 12345) {
        nlines++;
        if (nlines % 997 == 0) {
            fputs(nlines % 2 ? "\n" : "  \t\n", fp);
            total += nlines % 2 ? 1 : 4;
            continue;
        }
        int n = big_line(i++, line, sizeof line);
        fwrite(line, 1, (size_t)n, fp);
        fputc('\n', fp);
        total += n + 1;
    }
    fclose(fp);
    int nrecords = i;
    readall_t ra = read_all(path);
    RN_CHECK_EQ_INT(ra.err, RN_OK);
    RN_CHECK(ra.eof);
    RN_CHECK_EQ_INT(ra.n, nrecords);
    int bad = 0;
    int64_t lineno = 0;
    for (int k = 0; k < ra.n && k < nrecords; k++) {
        lineno++;
        if (lineno % 997 == 0) lineno++;
        big_line(k, line, sizeof line);
        if (strcmp(ra.lines[k], line) != 0 || ra.pos[k] != lineno) {
            if (bad < 5) fprintf(stderr, "record %d at line %lld: %.60s\n", k, (long long)ra.pos[k], ra.lines[k]);
            bad++;
        }
    }
    RN_CHECK_EQ_INT(bad, 0);
    readall_free(&ra);
    unlink(path);
}

static void test_reader_line_longer_than_buffer(void)
{
    const char *path = tmp_path("huge.jsonl");
    size_t biglen = (5u << 20) + 3;
    size_t total = 2 + biglen + 1 + 10 + 1 + biglen * 2;
    char *data = malloc(total + 1);
    size_t n = 0;
    memcpy(data + n, "{}\n", 3), n += 3;
    data[n++] = '"';
    for (size_t k = 1; k < biglen - 1; k++) data[n++] = (char)('0' + k % 10);
    data[n++] = '"';
    data[n++] = '\n';
    memcpy(data + n, "{\"x\":1}\r\n", 9), n += 9;
    size_t third = n;
    for (size_t k = 0; k < biglen * 2 - 1; k++) data[n++] = 'z'; /* 10 MiB, no newline at the end */
    write_file(path, data, n);
    readall_t ra = read_all(path);
    RN_CHECK_EQ_INT(ra.err, RN_OK);
    RN_REQUIRE(ra.n == 4);
    RN_CHECK_EQ_STR(ra.lines[0], "{}");
    RN_CHECK_EQ_INT(strlen(ra.lines[1]), biglen);
    RN_CHECK(memcmp(ra.lines[1], data + 3, biglen) == 0);
    RN_CHECK_EQ_STR(ra.lines[2], "{\"x\":1}");
    RN_CHECK_EQ_INT(strlen(ra.lines[3]), n - third);
    for (int k = 0; k < 4; k++) RN_CHECK_EQ_INT(ra.pos[k], k + 1);
    readall_free(&ra);
    free(data);
    unlink(path);
}

static void test_reader_small_cases(void)
{
    struct {
        const char *data;
        const char *want; /* records as "line:text|..." */
    } cases[] = {
        {"", ""},
        {"\n\n\n", ""},
        {"a\r\n\r\nb\r\n", "1:a|3:b|"},
        {"x\ny", "1:x|2:y|"},
        {"  \t\n{\"a\":1}\n\t\n", "2:{\"a\":1}|"},
        {"one\n\n", "1:one|"},
        {"  lead\r", "1:  lead|"},
        {"\r\n", ""},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const char *path = tmp_path("small%zu.jsonl", c);
        write_file(path, cases[c].data, strlen(cases[c].data));
        readall_t ra = read_all(path);
        RN_CHECK_EQ_INT(ra.err, RN_OK);
        RN_CHECK(ra.eof);
        char got[256] = "";
        for (int k = 0; k < ra.n; k++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%lld:%s|", (long long)ra.pos[k], ra.lines[k]);
        RN_CHECK_EQ_STR(got, cases[c].want);
        readall_free(&ra);
        unlink(path);
    }
    /* a missing file is an I/O error naming it */
    char errbuf[256] = "";
    rn_reader_t *r = NULL;
    RN_CHECK_EQ_INT(rn_file_reader_open(tmp_path("nope.jsonl"), &r, errbuf, sizeof errbuf), RN_ERR_IO);
    RN_CHECK(strstr(errbuf, "nope.jsonl") != NULL);
}

/* ---- compile diagnostics ------------------------------------------------ */

#define EVENTS                                                                   \
    "CREATE TABLE events (\n"                                                    \
    "    event_type STRING,\n"                                                   \
    "    user_id INT,\n"                                                         \
    "    page_id INT,\n"                                                         \
    "    big BIGINT\n"                                                           \
    ") WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');\n"
#define OUT_KAFKA                                                                \
    "CREATE TABLE out_rows (\n"                                                  \
    "    page_id INT\n"                                                          \
    ") WITH ('connector' = 'kafka', 'topic' = 'out');\n"
#define OUT_UPSERT                                                               \
    "CREATE TABLE counts (\n"                                                    \
    "    page_id INT,\n"                                                         \
    "    n BIGINT,\n"                                                            \
    "    PRIMARY KEY (page_id) NOT ENFORCED\n"                                   \
    ") WITH ('connector' = 'upsert-kafka', 'topic' = 'counts');\n"

/* Compiles sql, where '@' marks the place the error must point at (the
 * marker is removed), and checks the code, the "file:line:col: error:"
 * prefix and that the message contains phrase. */
static void check_diag_at(int line_of_test, const char *marked, rn_err_t want, const char *phrase)
{
    size_t len = strlen(marked);
    char *sql = malloc(len + 1);
    int line = 1, col = 1, mline = -1, mcol = -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (marked[i] == '@') {
            mline = line;
            mcol = col;
            continue;
        }
        sql[n++] = marked[i];
        if (marked[i] == '\n') line++, col = 1;
        else col++;
    }
    sql[n] = '\0';
    char errbuf[2048] = "";
    rn_pipeline_t *p = (rn_pipeline_t *)1;
    rn_err_t err = rn_pipeline_compile(sql, n, "bad.sql", &p, errbuf, sizeof errbuf);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "bad.sql:%d:%d: error:", mline, mcol);
    bool ok = err == want && p == NULL && strncmp(errbuf, prefix, strlen(prefix)) == 0 &&
              strstr(errbuf, phrase) != NULL;
    if (!ok) {
        fprintf(stderr, "%s:%d: diagnostic mismatch: got %s, want %s at %s containing \"%s\":\n%s\n",
                __FILE__, line_of_test, rn_err2str(err), rn_err2str(want), prefix, phrase, errbuf);
        rn_test_failures_in_test++;
    }
    if (err == RN_OK) rn_pipeline_free(p);
    free(sql);
}
#define check_diag(marked, want, phrase) check_diag_at(__LINE__, marked, want, phrase)

static void test_compile_diagnostics(void)
{
    check_diag(EVENTS OUT_KAFKA "INSERT INTO out_rows\nSELECT @pag_id FROM events;\n", RN_ERR_ANALYZE,
               "unknown column 'pag_id'; did you mean 'page_id'?");
    check_diag(EVENTS OUT_KAFKA "INSERT INTO out_rows SELECT page_id FROM @evnts;\n", RN_ERR_ANALYZE,
               "unknown table or view 'evnts'");
    check_diag(EVENTS OUT_KAFKA "INSERT INTO @nowhere SELECT page_id FROM events;\n", RN_ERR_ANALYZE,
               "unknown table 'nowhere'");
    check_diag(EVENTS OUT_KAFKA "INSERT INTO out_rows SELECT page_id FROM events\n"
                                "WHERE @page_id = 'x';\n",
               RN_ERR_ANALYZE, "INT and STRING");
    check_diag(EVENTS OUT_KAFKA "INSERT INTO out_rows SELECT page_id FROM events\n"
                                "WHERE @COUNT(*) > 1;\n",
               RN_ERR_ANALYZE, "not allowed");
    check_diag(EVENTS OUT_UPSERT "INSERT INTO counts\nSELECT page_id, @user_id FROM events GROUP BY page_id;\n",
               RN_ERR_ANALYZE, "must appear in GROUP BY");
    check_diag(EVENTS "CREATE TABLE o (page_id INT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'o');\n"
                      "INSERT INTO o\n@SELECT page_id, COUNT(*) FROM events GROUP BY page_id;\n",
               RN_ERR_ANALYZE, "doesn't support consuming update changes");
    check_diag(EVENTS "CREATE TABLE @counts (page_id INT, n BIGINT)\n"
                      "WITH ('connector' = 'upsert-kafka', 'topic' = 'c');\n"
                      "INSERT INTO counts SELECT page_id, COUNT(*) FROM events GROUP BY page_id;\n",
               RN_ERR_CONFIG, "needs a PRIMARY KEY");
    check_diag(EVENTS "CREATE TABLE o (page_id INT, @PRIMARY KEY (page_id) NOT ENFORCED)\n"
                      "WITH ('connector' = 'kafka', 'topic' = 'o');\n"
                      "INSERT INTO o SELECT page_id FROM events;\n",
               RN_ERR_CONFIG, "does not support PRIMARY KEY");
    check_diag(EVENTS "CREATE TABLE o (page_id INT)\nWITH ('connector' = @'kafak', 'topic' = 'o');\n"
                      "INSERT INTO o SELECT page_id FROM events;\n",
               RN_ERR_CONFIG, "unknown connector 'kafak'");
    check_diag(EVENTS "CREATE TABLE o (page_id INT)\nWITH ('connector' = 'kafka',\n    @'topc' = 'o');\n"
                      "INSERT INTO o SELECT page_id FROM events;\n",
               RN_ERR_CONFIG, "did you mean 'topic'?");
    check_diag(EVENTS "CREATE TABLE @o (page_id INT)\nWITH ('topic' = 'o');\n"
                      "INSERT INTO o SELECT page_id FROM events;\n",
               RN_ERR_CONFIG, "'connector'");
    check_diag(EVENTS OUT_KAFKA "INSERT INTO out_rows SELECT a.page_id\n"
                                "FROM @events a, events b;\n",
               RN_ERR_UNSUPPORTED, "FROM a, b needs an equality between the two sides in WHERE");
    check_diag(EVENTS OUT_KAFKA "INSERT INTO out_rows SELECT a.page_id\n"
                                "FROM @events a CROSS JOIN events b WHERE a.page_id > b.page_id;\n",
               RN_ERR_UNSUPPORTED, "CROSS JOIN needs an equality between the two sides in WHERE");
    check_diag(EVENTS OUT_KAFKA "INSERT INTO out_rows SELECT a.page_id\n"
                                "FROM events a JOIN events b ON @a.page_id > b.page_id;\n",
               RN_ERR_UNSUPPORTED, "needs an equality between the two sides");
    check_diag(EVENTS OUT_KAFKA "INSERT INTO out_rows SELECT page_id\n"
                                "FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(@big), INTERVAL '1' MINUTE));\n",
               RN_ERR_ANALYZE, "neither an event-time attribute");
    check_diag(EVENTS OUT_KAFKA "INSERT INTO out_rows\n@SELECT big FROM events;\n", RN_ERR_ANALYZE,
               "use CAST");
    check_diag(EVENTS OUT_KAFKA "INSERT INTO out_rows SELECT page_id,@, user_id FROM events;\n",
               RN_ERR_PARSE, "error");
}

/* ---- running in test mode ------------------------------------------------ */

static const char *RUN_SQL =
    "CREATE TABLE events (\n"
    "    user_id INT,\n"
    "    page STRING,\n"
    "    n BIGINT\n"
    ") WITH ('connector' = 'filesystem', 'path' = '/nonexistent/events.jsonl');\n"
    "CREATE TABLE big_rows (\n"
    "    user_id INT,\n"
    "    page STRING\n"
    ") WITH ('connector' = 'filesystem', 'path' = '/nonexistent/big.jsonl');\n"
    "CREATE TABLE counts (\n"
    "    page STRING,\n"
    "    cnt BIGINT,\n"
    "    total BIGINT,\n"
    "    PRIMARY KEY (page) NOT ENFORCED\n"
    ") WITH ('connector' = 'upsert-kafka', 'topic' = 'page-counts',\n"
    "        'key.format' = 'json', 'value.format' = 'json');\n"
    "INSERT INTO big_rows SELECT user_id, page FROM events WHERE n > 1;\n"
    "INSERT INTO counts SELECT page, COUNT(*), SUM(n) FROM events GROUP BY page;\n";

static rn_err_t run_sql(const char *sql, const char *in, const char *out, char *errbuf, size_t size)
{
    rn_pipeline_t *p = NULL;
    rn_err_t err = rn_pipeline_compile(sql, strlen(sql), "run.sql", &p, errbuf, size);
    if (err != RN_OK) return err;
    rn_run_opts_t o = {.mode = RN_MODE_TEST, .input_dir = in, .output_dir = out, .now_ms = 0};
    err = rn_pipeline_run(p, &o, errbuf, size);
    rn_pipeline_free(p);
    return err;
}

static void test_run_small_pipeline(void)
{
    char in[512], out[512];
    snprintf(in, sizeof in, "%s", tmp_path("run1/in"));
    snprintf(out, sizeof out, "%s", tmp_path("run1/out/nested"));
    mkdir(tmp_path("run1"), 0777);
    mkdir(in, 0777);
    const char *input = "{\"user_id\":1,\"page\":\"a\",\"n\":2}\n"
                        "{\"user_id\":2,\"page\":\"b\",\"n\":1}\n"
                        "not json\n"
                        "{\"user_id\":3,\"page\":\"a\",\"n\":5}\n"
                        "\n"
                        "{\"user_id\":\"x\",\"page\":\"c\",\"n\":1}\n"
                        "{\"user_id\":4,\"page\":\"b\",\"extra\":[1,2]}\r\n"
                        "{\"user_id\":5,\"page\":\"a\\u00e9\",\"n\":7}";
    char path[600];
    snprintf(path, sizeof path, "%s/events.jsonl", in);
    write_file(path, input, strlen(input));
    char errbuf[1024] = "";
    rn_err_t err = run_sql(RUN_SQL, in, out, errbuf, sizeof errbuf);
    RN_REQUIRE(err == RN_OK);
    snprintf(path, sizeof path, "%s/big_rows.jsonl", out);
    char *got = read_file(path);
    RN_CHECK_EQ_STR(got, "{\"user_id\":1,\"page\":\"a\"}\n{\"user_id\":3,\"page\":\"a\"}\n"
                         "{\"user_id\":5,\"page\":\"a\xc3\xa9\"}\n");
    free(got);
    snprintf(path, sizeof path, "%s/page-counts.jsonl", out);
    got = read_file(path);
    RN_CHECK_EQ_STR(got, "{\"key\":{\"page\":\"a\"},\"value\":{\"page\":\"a\",\"cnt\":2,\"total\":7}}\n"
                         "{\"key\":{\"page\":\"b\"},\"value\":{\"page\":\"b\",\"cnt\":2,\"total\":1}}\n"
                         "{\"key\":{\"page\":\"a\xc3\xa9\"},\"value\":{\"page\":\"a\xc3\xa9\",\"cnt\":1,\"total\":7}}\n");
    free(got);
    snprintf(path, sizeof path, "%s/" RN_TEST_DLQ_FILE, out);
    got = read_file(path);
    RN_REQUIRE(got != NULL);
    /* two lines: line 3 (not JSON) and line 6 (user_id not an INT) */
    char *nl1 = strchr(got, '\n');
    RN_REQUIRE(nl1 != NULL);
    char *nl2 = strchr(nl1 + 1, '\n');
    RN_REQUIRE(nl2 != NULL);
    RN_CHECK(nl2[1] == '\0');
    *nl1 = '\0';
    RN_CHECK(strstr(got, "\"source\":\"events\"") != NULL);
    RN_CHECK(strstr(got, "\"line\":3,") != NULL);
    RN_CHECK(strstr(got, "\"value\":\"not json\"}") != NULL);
    RN_CHECK(strstr(nl1 + 1, "\"line\":6,") != NULL);
    RN_CHECK(strstr(nl1 + 1, "user_id") != NULL);
    free(got);

    /* A second run over the same output directory replaces the outputs and
     * removes the stale dead-letter file. */
    snprintf(path, sizeof path, "%s/events.jsonl", in);
    const char *one = "{\"user_id\":9,\"page\":\"z\",\"n\":0}\n";
    write_file(path, one, strlen(one));
    RN_REQUIRE(run_sql(RUN_SQL, in, out, errbuf, sizeof errbuf) == RN_OK);
    snprintf(path, sizeof path, "%s/" RN_TEST_DLQ_FILE, out);
    RN_CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/big_rows.jsonl", out);
    got = read_file(path);
    RN_CHECK_EQ_STR(got, "");
    free(got);
}

/* Over several batches, each batch writes one upsert record per touched key
 * with the running result. */
static void test_run_upsert_across_batches(void)
{
    char in[512], out[512];
    snprintf(in, sizeof in, "%s", tmp_path("run2"));
    snprintf(out, sizeof out, "%s", tmp_path("run2/out"));
    mkdir(in, 0777);
    enum { NROWS = 2500 };
    rn_buf_t b;
    rn_buf_init(&b);
    for (int i = 0; i < NROWS; i++) rn_buf_appendf(&b, "{\"user_id\":%d,\"page\":\"p%d\",\"n\":%d}\n", i, i % 3, i);
    char path[600];
    snprintf(path, sizeof path, "%s/events.jsonl", in);
    write_file(path, b.data, b.len);
    rn_buf_clear(&b);
    char errbuf[1024] = "";
    RN_REQUIRE(run_sql(RUN_SQL, in, out, errbuf, sizeof errbuf) == RN_OK);
    /* expected: per batch of RN_BATCH_MAX rows, keys in first-touch order */
    int64_t cnt[3] = {0}, total[3] = {0};
    for (int start = 0; start < NROWS; start += RN_BATCH_MAX) {
        int end = start + RN_BATCH_MAX < NROWS ? start + RN_BATCH_MAX : NROWS;
        for (int i = start; i < end; i++) cnt[i % 3]++, total[i % 3] += i;
        for (int k0 = 0; k0 < 3; k0++) {
            int k = (start + k0) % 3; /* first key touched in this batch */
            rn_buf_appendf(&b, "{\"key\":{\"page\":\"p%d\"},\"value\":{\"page\":\"p%d\",\"cnt\":%lld,\"total\":%lld}}\n",
                           k, k, (long long)cnt[k], (long long)total[k]);
        }
    }
    snprintf(path, sizeof path, "%s/page-counts.jsonl", out);
    char *got = read_file(path);
    RN_CHECK_EQ_STR(got, b.data);
    free(got);
    rn_buf_free(&b);
}

/* 'dashboard' = 'true' tables get the rows their sinks get, across
 * batches (an aggregate's deletes included), and render as the API's
 * table objects (rn_pipeline_dashboard_json). */
static void test_run_dashboard_tables(void)
{
    char in[512], out[512];
    snprintf(in, sizeof in, "%s", tmp_path("run_dash"));
    snprintf(out, sizeof out, "%s", tmp_path("run_dash/out"));
    mkdir(in, 0777);
    rn_buf_t b;
    rn_buf_init(&b);
    rn_buf_appends(&b, "{\"user_id\":7,\"page\":\"p3\",\"n\":1}\n");
    for (int i = 0; i < 2500; i++) rn_buf_appendf(&b, "{\"user_id\":%d,\"page\":\"p%d\",\"n\":%d}\n", i, i % 3, i);
    char path[600];
    snprintf(path, sizeof path, "%s/events.jsonl", in);
    write_file(path, b.data, b.len);
    rn_buf_clear(&b);
    const char *sql =
        "CREATE TABLE events (user_id INT, page STRING, n INT)\n"
        "WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');\n"
        "CREATE TABLE counts (page STRING, cnt BIGINT, PRIMARY KEY (page) NOT ENFORCED)\n"
        "WITH ('connector' = 'upsert-kafka', 'topic' = 'page-counts', 'key.format' = 'json',\n"
        "      'value.format' = 'json', 'dashboard' = 'true');\n"
        "CREATE TABLE last_rows (user_id INT, n INT)\n"
        "WITH ('connector' = 'print', 'dashboard' = 'true', 'dashboard.max-rows' = '2');\n"
        "CREATE TABLE mem (page STRING, cnt BIGINT, PRIMARY KEY (page) NOT ENFORCED)\n"
        "WITH ('connector' = 'dashboard');\n"
        "INSERT INTO counts SELECT page, COUNT(*) FROM events GROUP BY page HAVING COUNT(*) < 500;\n"
        "INSERT INTO last_rows SELECT user_id, n FROM events WHERE n > 5;\n"
        "INSERT INTO mem SELECT page, COUNT(*) FROM events GROUP BY page;\n";
    char errbuf[1024] = "";
    rn_pipeline_t *p = NULL;
    RN_REQUIRE(rn_pipeline_compile(sql, strlen(sql), "dash.sql", &p, errbuf, sizeof errbuf) == RN_OK);
    RN_CHECK_EQ_INT(rn_pipeline_ndashboards(p), 3);
    RN_CHECK_EQ_STR(rn_pipeline_dashboard_name(p, 0), "counts");
    RN_CHECK_EQ_STR(rn_pipeline_dashboard_name(p, 1), "last_rows");
    RN_CHECK_EQ_STR(rn_pipeline_dashboard_name(p, 2), "mem");
    RN_CHECK(rn_pipeline_dashboard_name(p, 3) == NULL);
    RN_CHECK_EQ_INT(rn_pipeline_nsinks(p), 5); /* counts and its twin, last_rows and its twin, mem */
    RN_CHECK(!rn_pipeline_sink_is_dashboard_twin(p, 0) && rn_pipeline_sink_is_dashboard_twin(p, 1));
    RN_CHECK(rn_pipeline_sink_is_dashboard_twin(p, 3) && !rn_pipeline_sink_is_dashboard_twin(p, 4));
    RN_CHECK(rn_pipeline_dashboard_json(p, &b, false) == RN_OK); /* not running: nothing open */
    RN_CHECK_EQ_STR(b.data, "{}");
    rn_buf_clear(&b);
    rn_run_opts_t o = {.mode = RN_MODE_TEST, .input_dir = in, .output_dir = out, .now_ms = 0};
    RN_REQUIRE(rn_pipeline_run(p, &o, errbuf, sizeof errbuf) == RN_OK);
    /* p0..p2 passed 500 in the second batch and were deleted; 'mem' is
     * written as a file in `runnel test`, so it is not open */
    RN_CHECK(rn_pipeline_dashboard_json(p, &b, true) == RN_OK);
    RN_REQUIRE(b.data != NULL);
    RN_CHECK(strncmp(b.data, "{\"counts\": {\"name\": \"counts\", \"pipeline\": \"", 41) == 0);
    RN_CHECK(strstr(b.data, "\"key\": [\"page\"], \"chart\": {\"kind\": \"bars\", \"x\": \"page\", \"y\": \"cnt\"}") != NULL);
    RN_CHECK(strstr(b.data, "\"total_rows\": 1, \"rows\": [[\"p3\",1]]}, \"last_rows\": {") != NULL);
    RN_CHECK(strstr(b.data, "\"total_rows\": 2, \"rows\": [[2498,2498], [2499,2499]], \"changes\": [") != NULL);
    RN_CHECK(strstr(b.data, "\"mem\"") == NULL);
    rn_buf_clear(&b);
    RN_CHECK(rn_pipeline_dashboard_json(p, &b, true) == RN_OK); /* nothing changed since */
    RN_CHECK_EQ_STR(b.data, "{}");
    rn_buf_clear(&b);
    RN_CHECK(rn_pipeline_dashboard_table_json(p, "counts", "p3", &b, errbuf, sizeof errbuf) == RN_OK);
    RN_CHECK(b.data && strstr(b.data, "\"rows\": [[\"p3\",1]]}") != NULL);
    rn_buf_clear(&b);
    RN_CHECK(rn_pipeline_dashboard_table_json(p, "nope", NULL, &b, errbuf, sizeof errbuf) == RN_ERR_CONFIG);
    RN_CHECK(strstr(errbuf, "no dashboard table 'nope'") != NULL);
    /* the sinks wrote their files as without 'dashboard' */
    snprintf(path, sizeof path, "%s/last_rows.jsonl", out);
    char *got = read_file(path);
    RN_CHECK(got && strstr(got, "{\"user_id\":2499,\"n\":2499}") != NULL);
    free(got);
    rn_buf_free(&b);
    rn_pipeline_free(p);
}

/* A global aggregate (no GROUP BY) runs and writes its running result. */
static void test_run_global_aggregate(void)
{
    char in[512], out[512];
    snprintf(in, sizeof in, "%s", tmp_path("run4"));
    snprintf(out, sizeof out, "%s", tmp_path("run4/out"));
    mkdir(in, 0777);
    static const char *sql =
        "CREATE TABLE events (user_id INT, page STRING, n BIGINT)\n"
        "WITH ('connector' = 'filesystem', 'path' = 'x');\n"
        "CREATE TABLE totals (cnt BIGINT, total BIGINT, PRIMARY KEY (cnt) NOT ENFORCED)\n"
        "WITH ('connector' = 'upsert-kafka', 'topic' = 'totals');\n"
        "INSERT INTO totals SELECT COUNT(*), SUM(n) FROM events;\n";
    char path[600];
    snprintf(path, sizeof path, "%s/events.jsonl", in);
    const char *input = "{\"n\":1}\n{\"n\":2}\n{}\n";
    write_file(path, input, strlen(input));
    char errbuf[1024] = "";
    rn_err_t err = run_sql(sql, in, out, errbuf, sizeof errbuf);
    RN_REQUIRE(err == RN_OK);
    snprintf(path, sizeof path, "%s/totals.jsonl", out);
    char *got = read_file(path);
    RN_CHECK_EQ_STR(got, "{\"key\":{\"cnt\":3},\"value\":{\"cnt\":3,\"total\":3}}\n");
    free(got);
}

static void test_run_missing_input(void)
{
    char in[512], out[512];
    snprintf(in, sizeof in, "%s", tmp_path("run3-empty"));
    snprintf(out, sizeof out, "%s", tmp_path("run3-out"));
    mkdir(in, 0777);
    char errbuf[1024] = "";
    rn_err_t err = run_sql(RUN_SQL, in, out, errbuf, sizeof errbuf);
    RN_CHECK_EQ_INT(err, RN_ERR_IO);
    RN_CHECK(strstr(errbuf, "'events'") != NULL);
    char want[700];
    snprintf(want, sizeof want, "%s/events.jsonl", in);
    RN_CHECK(strstr(errbuf, want) != NULL);
}

/* Every allocation of compile + run fails in turn: each attempt reports an
 * error or succeeds, never crashes or leaks (ASan), until one succeeds. */
static void test_allocation_failures(void)
{
    char in[512], out[512];
    snprintf(in, sizeof in, "%s", tmp_path("oom"));
    snprintf(out, sizeof out, "%s", tmp_path("oom/out"));
    mkdir(in, 0777);
    char path[600];
    snprintf(path, sizeof path, "%s/events.jsonl", in);
    const char *input = "{\"user_id\":1,\"page\":\"a\",\"n\":2}\nbad\n{\"user_id\":2,\"page\":\"b\",\"n\":3}\n";
    write_file(path, input, strlen(input));
    bool done = false;
    long n;
    int bad = 0;
    for (n = 0; n < 20000 && !done; n++) {
        char errbuf[1024] = "";
        rn_pipeline_t *p = NULL;
        rn_mem_fail_after(n);
        rn_err_t err = rn_pipeline_compile(RUN_SQL, strlen(RUN_SQL), "oom.sql", &p, errbuf, sizeof errbuf);
        if (err == RN_OK) {
            rn_run_opts_t o = {.mode = RN_MODE_TEST, .input_dir = in, .output_dir = out, .now_ms = 0};
            err = rn_pipeline_run(p, &o, errbuf, sizeof errbuf);
            rn_pipeline_free(p);
        } else if (p != NULL) {
            bad++;
        }
        rn_mem_fail_after(-1);
        if (err != RN_OK && !errbuf[0]) { /* every failure explains itself */
            fprintf(stderr, "fail_after(%ld): %s with an empty message\n", n, rn_err2str(err));
            bad++;
        }
        done = err == RN_OK;
    }
    RN_CHECK(done);
    RN_CHECK_EQ_INT(bad, 0);
    /* the output of the run that succeeded is complete */
    snprintf(path, sizeof path, "%s/big_rows.jsonl", out);
    char *got = read_file(path);
    RN_CHECK_EQ_STR(got, "{\"user_id\":1,\"page\":\"a\"}\n{\"user_id\":2,\"page\":\"b\"}\n");
    free(got);
}

int main(void)
{
    tmp_init();
    RN_RUN(test_reader_lines_across_buffer_boundaries);
    RN_RUN(test_reader_line_longer_than_buffer);
    RN_RUN(test_reader_small_cases);
    RN_RUN(test_compile_diagnostics);
    RN_RUN(test_run_small_pipeline);
    RN_RUN(test_run_upsert_across_batches);
    RN_RUN(test_run_global_aggregate);
    RN_RUN(test_run_dashboard_tables);
    RN_RUN(test_run_missing_input);
    RN_RUN(test_allocation_failures);
    rm_rf(tmproot);
    return rn_test_summary();
}
