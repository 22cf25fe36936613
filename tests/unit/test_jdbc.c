/*
 * test_jdbc.c - the 'jdbc' connector's lookup (rn_lookup_t of op/io.h),
 * whole-table scan and sink contracts (refused rows, RN_ERR_RETRY) against
 * real databases: a SQLite file made here, and, when run as `test_jdbc pg`, the PostgreSQL server of
 * the `postgres` fixture (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE
 * from `scripts/postgres env`; CTest jdbc.postgres.lookup).
 *
 * The table: subscribers (restaurant_id, client_id, score, ts, active) with
 * 10,000 rows for restaurant 'r1' (a fan-out larger than any output
 * batch), 3 for 'r2', one for a key that looks like SQL, none for 'r3'.
 * Lookups are driven both ways a caller may continue after *done: with
 * the keys from *done on, and with the same batch again. On PostgreSQL the
 * server also kills the connections of the lookup and of a sink: the next
 * call answers RN_ERR_RETRY keeping the sink's rows, the one after works,
 * and the table ends up with every row once.
 */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include "connectors/connector.h"
#include "connectors/jdbc_int.h"
#include "core/arena.h"
#include "rn_test.h"
#include "rn_test_rows.h" /* after the libraries' headers: its macros are one letter */

#define FANOUT 10000
#define EVIL "x'); DROP TABLE subscribers; --"

static char url[1024];
static const char *table_name = "subscribers";
static bool pg_mode;
static char pg_schema[64];     /* pg: the schema of this run's tables */

/* Opens a lookup on the table through the connector, as the runtime will. */
static rn_err_t open_lookup(rn_arena_t *arena, const rn_schema_t *schema, const int *keys, int nkeys,
                            rn_lookup_t **out, char *err, size_t errsz)
{
    const rn_connector_t *c = rn_connector_find("jdbc");
    if (!c || !c->open_lookup) return RN_ERR_CONFIG;
    rn_option_t opts[8] = {{"url", url}, {"table-name", table_name}};
    int n = 2;
    if (pg_mode) {
        opts[n++] = (rn_option_t){"username", getenv("PGUSER")};
        opts[n++] = (rn_option_t){"password", getenv("PGPASSWORD")};
    }
    void *conf = rn_arena_calloc(arena, 1, c->conf_size);
    int bad;
    rn_err_t e = rn_options_apply(c, opts, n, conf, arena, &bad, err, errsz);
    if (e == RN_OK && c->validate) e = c->validate(conf, err, errsz);
    if (e != RN_OK) return e;
    rn_open_ctx_t ctx = {.pipeline = "p", .table = "subs", .schema = schema};
    return c->open_lookup(conf, &ctx, keys, nkeys, out, err, errsz);
}

static rn_schema_t *table_schema(void)
{
    return schema_of(5, "restaurant_id:STRING", "client_id:STRING", "score:DOUBLE", "ts:TIMESTAMP",
                     "active:BOOLEAN");
}

/* A batch of one STRING key column: rows keys[from..n). */
static rn_batch_t *key_batch(rn_arena_t *arena, const rn_schema_t *ks, const char *const *keys, int from, int n)
{
    rn_batch_t *b = rn_batch_new(arena, ks, n - from > 0 ? n - from : 1);
    for (int r = from; r < n; r++) b->cols[0][r - from] = keys[r] ? S(keys[r]) : N;
    b->nrows = n - from;
    return b;
}

/* Looks up keys[0..n) until every key is done, as the lookup join calls:
 * an output of 1000 rows, twice as large while a call completes no key;
 * counts[i] gets the rows of key i. rest: continue with the keys from
 * *done on (else the same batch again). Checks that a call hands out
 * whole keys only (the join ignores rows of a key not done), that each
 * row's restaurant_id is its key's and that r1's client ids are distinct. */
static void lookup_all(rn_lookup_t *l, const rn_schema_t *schema, const char *const *keys, int n, bool rest,
                       int *counts)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 1 << 16);
    rn_schema_t *ks = schema_of(1, "k:STRING");
    char err[512] = "";
    int base = 0, calls = 0, cap = 1000;
    char *seen = calloc((size_t)n * FANOUT, 1); /* per key: client ids seen */
    for (int i = 0; i < n; i++) counts[i] = 0;
    rn_batch_t *same = key_batch(&arena, ks, keys, 0, n);
    while (base < n && calls++ < 1000) {
        rn_batch_t *kb = rest ? key_batch(&arena, ks, keys, base, n) : same;
        rn_batch_t *out = rn_batch_new(&arena, schema, cap);
        int *key_of = rn_arena_alloc(&arena, sizeof(int) * (size_t)cap), done = -1;
        rn_err_t e = l->lookup(l, kb, out, key_of, &done, &arena, err, sizeof err);
        if (e != RN_OK) fprintf(stderr, "lookup: %s\n", err);
        RN_REQUIRE(e == RN_OK);
        RN_REQUIRE(done >= 0 && done <= kb->nrows);
        int upto = rest ? base + done : done; /* keys completed so far */
        if (upto == base) { /* not one key fits */
            RN_CHECK_EQ_INT(out->nrows, 0);
            cap *= 2;
            continue;
        }
        for (int r = 0; r < out->nrows; r++) {
            int k = key_of[r] + (rest ? base : 0);
            RN_REQUIRE(k >= base && k < upto);
            counts[k]++;
            const rn_value_t *rid = &out->cols[0][r];
            RN_CHECK(!rid->null && rid->len == strlen(keys[k]) && !memcmp(rid->s, keys[k], rid->len));
            if (!strcmp(keys[k], "r1")) {
                int c = atoi(out->cols[1][r].s + 1); /* "c123" */
                RN_CHECK(c >= 0 && c < FANOUT && !seen[(size_t)k * FANOUT + c]);
                if (c >= 0 && c < FANOUT) seen[(size_t)k * FANOUT + c] = 1;
                RN_CHECK(out->cols[3][r].i == 1700000000000LL + c);
                RN_CHECK(out->cols[4][r].i == (c % 2 == 0));
                RN_CHECK(out->cols[2][r].d == c * 0.5);
            }
        }
        base = rest ? base + done : done;
        rn_arena_reset(&arena);
        same = key_batch(&arena, ks, keys, 0, n);
    }
    RN_CHECK(base == n);
    free(seen);
    rn_schema_unref(ks);
    rn_arena_free(&arena);
}

static void test_lookup_fanout(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_schema_t *schema = table_schema();
    int kcols[] = {0};
    rn_lookup_t *l = NULL;
    char err[512] = "";
    rn_err_t e = open_lookup(&arena, schema, kcols, 1, &l, err, sizeof err);
    if (e != RN_OK) fprintf(stderr, "open_lookup: %s\n", err);
    RN_REQUIRE(e == RN_OK);
    RN_CHECK(l->where && strstr(l->where, "subscribers"));
    const char *keys[] = {"r2", "nope", "r1", "r3", EVIL, "r2", NULL, "r1"};
    int want[] = {3, 0, FANOUT, 0, 1, 3, 0, FANOUT};
    int counts[8];
    for (int rest = 0; rest < 2; rest++) {
        lookup_all(l, schema, keys, 8, rest, counts);
        for (int i = 0; i < 8; i++) RN_CHECK_EQ_INT(counts[i], want[i]);
    }
    l->close(l);
    rn_schema_unref(schema);
    rn_arena_free(&arena);
}

static void test_lookup_two_keys(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_schema_t *schema = table_schema();
    int kcols[] = {1, 0}; /* client_id, restaurant_id */
    rn_lookup_t *l = NULL;
    char err[512] = "";
    RN_REQUIRE(open_lookup(&arena, schema, kcols, 2, &l, err, sizeof err) == RN_OK);
    rn_schema_t *ks = schema_of(2, "c:STRING", "r:STRING");
    rn_batch_t *kb = rn_batch_new(&arena, ks, 3);
    kb->cols[0][0] = S("c7"), kb->cols[1][0] = S("r1");
    kb->cols[0][1] = S("c7"), kb->cols[1][1] = S("r3");
    kb->cols[0][2] = S("b1"), kb->cols[1][2] = S("r2");
    kb->nrows = 3;
    rn_batch_t *out = rn_batch_new(&arena, schema, 100);
    int key_of[100], done = -1;
    RN_REQUIRE(l->lookup(l, kb, out, key_of, &done, &arena, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(done, 3);
    RN_REQUIRE(out->nrows == 2);
    RN_CHECK_EQ_INT(key_of[0], 0);
    RN_CHECK_EQ_INT(key_of[1], 2);
    RN_CHECK(out->cols[2][0].d == 3.5);
    RN_CHECK(out->cols[3][1].null); /* r2's rows have no ts */
    l->close(l);
    rn_schema_unref(ks);
    rn_schema_unref(schema);
    rn_arena_free(&arena);
}

static void test_scan_whole_table(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 1 << 16);
    rn_schema_t *schema = table_schema();
    int kcols[] = {0};
    rn_lookup_t *l = NULL;
    char err[512] = "";
    RN_REQUIRE(open_lookup(&arena, schema, kcols, 1, &l, err, sizeof err) == RN_OK);
    RN_REQUIRE(l->scan != NULL);
    int64_t cursor = 0;
    bool done = false;
    int total = 0, r1 = 0, calls = 0;
    while (!done && calls++ < 100) {
        rn_batch_t *out = rn_batch_new(&arena, schema, 777);
        rn_err_t e = l->scan(l, out, &cursor, &done, &arena, err, sizeof err);
        if (e != RN_OK) fprintf(stderr, "scan: %s\n", err);
        RN_REQUIRE(e == RN_OK);
        total += out->nrows;
        for (int r = 0; r < out->nrows; r++) r1 += out->cols[0][r].len == 2 && !memcmp(out->cols[0][r].s, "r1", 2);
        rn_arena_reset(&arena);
    }
    RN_CHECK(done);
    RN_CHECK_EQ_INT(total, FANOUT + 4);
    RN_CHECK_EQ_INT(r1, FANOUT);
    l->close(l);
    rn_schema_unref(schema);
    rn_arena_free(&arena);
}

static void test_open_errors(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_schema_t *schema = schema_of(2, "restaurant_id:STRING", "colour:STRING");
    int kcols[] = {0};
    rn_lookup_t *l = NULL;
    char err[512] = "";
    RN_CHECK(open_lookup(&arena, schema, kcols, 1, &l, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "has no column 'colour'") != NULL);
    RN_CHECK(strstr(err, "table 'subs'") != NULL);
    rn_schema_unref(schema);
    rn_arena_free(&arena);
}

/* Opens a sink on table (columns of schema, PRIMARY KEY the first npk). */
static rn_err_t open_sink(rn_arena_t *arena, const char *table, const rn_schema_t *schema, int npk,
                          rn_sink_io_t **out, char *err, size_t errsz)
{
    const rn_connector_t *c = rn_connector_find("jdbc");
    rn_option_t opts[8] = {{"url", url}, {"table-name", table}, {"sink.buffer-flush.max-rows", "0"},
                           {"sink.buffer-flush.interval", "0"}};
    int n = 4;
    if (pg_mode) {
        opts[n++] = (rn_option_t){"username", getenv("PGUSER")};
        opts[n++] = (rn_option_t){"password", getenv("PGPASSWORD")};
    }
    void *conf = rn_arena_calloc(arena, 1, c->conf_size);
    int bad;
    rn_err_t e = rn_options_apply(c, opts, n, conf, arena, &bad, err, errsz);
    if (e == RN_OK && c->validate) e = c->validate(conf, err, errsz);
    if (e != RN_OK) return e;
    static const int pk[] = {0, 1, 2};
    rn_open_ctx_t ctx = {.pipeline = "p", .table = "out", .schema = schema,
                         .sink_mode = npk ? RN_SINK_UPSERT : RN_SINK_APPEND, .npk = npk, .pk = pk};
    return c->open_sink(conf, &ctx, out, err, errsz);
}

/* Rows (k, v) k = from..to-1, v = k * mul, as inserts. */
static rn_batch_t *kv_rows(rn_arena_t *arena, const rn_schema_t *s, int from, int to, int mul)
{
    rn_batch_t *b = rn_batch_new(arena, s, to - from);
    for (int r = 0; r < to - from; r++) {
        b->cols[0][r] = I(from + r);
        b->cols[1][r] = from + r == 13 ? N : I((from + r) * mul); /* v of 13 is NULL */
        b->kinds[r] = RN_ROW_INSERT;
    }
    b->nrows = to - from;
    return b;
}

static int rejected;
static char reject_msg[512], reject_row[256];

static rn_err_t on_reject(void *opaque, const char *row_json, size_t len, const char *error)
{
    rejected++;
    snprintf(reject_msg, sizeof reject_msg, "%s", error);
    snprintf(reject_row, sizeof reject_row, "%.*s", (int)len, row_json);
    return RN_OK;
}

/* Counts rows of kv (all, and those with v = k * mul). */
static long query_long(const char *sql);

static void test_sink_refused_row(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_schema_t *s = schema_of(2, "k:BIGINT", "v:BIGINT");
    rn_sink_io_t *io = NULL;
    char err[512] = "", kv[128];
    snprintf(kv, sizeof kv, "%s%skv", pg_schema, pg_mode ? "." : "");
    rn_err_t e = open_sink(&arena, kv, s, 1, &io, err, sizeof err);
    if (e != RN_OK) fprintf(stderr, "open_sink: %s\n", err);
    RN_REQUIRE(e == RN_OK);
    int rows[40];
    for (int i = 0; i < 40; i++) rows[i] = i;
    rn_sink_layout_t layout = {.schema = s, .mode = RN_SINK_UPSERT, .npk = 1};
    /* without a reject hook, the refused row (v NULL: NOT NULL) fails the
     * write (SQLite) or flush (PostgreSQL); the pipeline stops there and
     * nothing of the transaction is committed */
    e = io->write_rows(io, kv_rows(&arena, s, 0, 20, 1), rows, 20, &layout, err, sizeof err);
    if (e == RN_OK) e = io->flush(io, err, sizeof err); /* PostgreSQL writes at the flush */
    RN_CHECK(e != RN_OK && e != RN_ERR_RETRY);
    RN_CHECK(strstr(err, "refused a row") || strstr(err, "constraint"));
    io->close(io);
    RN_CHECK_EQ_INT(query_long("SELECT count(*) FROM kv"), 0);
    /* with one: the row goes there, the others are committed */
    RN_REQUIRE(open_sink(&arena, kv, s, 1, &io, err, sizeof err) == RN_OK);
    io->reject = on_reject;
    rejected = 0;
    RN_CHECK(io->write_rows(io, kv_rows(&arena, s, 0, 20, 1), rows, 20, &layout, err, sizeof err) == RN_OK);
    RN_CHECK(io->flush(io, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(rejected, 1);
    RN_CHECK(strstr(reject_msg, pg_mode ? "23502" : "NOT NULL") != NULL);
    RN_CHECK_EQ_STR(reject_row, "{\"k\":13,\"v\":null}");
    RN_CHECK_EQ_INT(query_long("SELECT count(*) FROM kv"), 19);
    io->close(io);
    rn_schema_unref(s);
    rn_arena_free(&arena);
}

static void test_pg_url(void)
{
    rn_jdbc_pg_url_t u;
    char err[256];
    RN_REQUIRE(rn_jdbc_pg_url_parse("jdbc:postgresql://db.example:6543/shop?sslmode=verify-full&sslrootcert=/ca.pem",
                                    &u, err, sizeof err));
    RN_CHECK_EQ_STR(u.host, "db.example");
    RN_CHECK_EQ_STR(u.port, "6543");
    RN_CHECK_EQ_STR(u.db, "shop");
    RN_CHECK_EQ_STR(u.sslmode, "verify-full");
    RN_CHECK_EQ_STR(u.sslrootcert, "/ca.pem");
    RN_REQUIRE(rn_jdbc_pg_url_parse("jdbc:postgresql://[::1]/d", &u, err, sizeof err));
    RN_CHECK_EQ_STR(u.host, "::1");
    RN_CHECK_EQ_STR(u.port, "");
    RN_REQUIRE(rn_jdbc_pg_url_parse("jdbc:postgresql://[::1]:5433/d", &u, err, sizeof err));
    RN_CHECK_EQ_STR(u.port, "5433");
    /* what is refused, and the message never repeats a secret */
    const char *bad[] = {"jdbc:postgresql:/x/d", "jdbc:postgresql://h", "jdbc:postgresql://h/",
                         "jdbc:postgresql://h:port/d", "jdbc:postgresql://:5432/d", "jdbc:postgresql://[::1/d",
                         "jdbc:postgresql://u:s3cret@h/d", "jdbc:postgresql://h/d?password=s3cret"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        RN_CHECK(!rn_jdbc_pg_url_parse(bad[i], &u, err, sizeof err));
        RN_CHECK(strstr(err, "option 'url'") != NULL);
        RN_CHECK(strstr(err, "s3cret") == NULL);
    }
}

/* ---- the databases ------------------------------------------------------ */

static const char *row_sql(int i, char *buf, size_t size)
{
    if (i < FANOUT)
        snprintf(buf, size, "('r1', 'c%d', %g, %lld, %s)", i, i * 0.5, 1700000000000LL + i,
                 i % 2 == 0 ? "TRUE" : "FALSE");
    else if (i < FANOUT + 3)
        snprintf(buf, size, "('r2', '%s', 1, NULL, NULL)", i == FANOUT ? "b1" : i == FANOUT + 1 ? "b2" : "b3");
    else
        snprintf(buf, size, "('x''); DROP TABLE subscribers; --', 'e', 0, NULL, TRUE)");
    return buf;
}

static char *fill_sql(const char *ts_type, const char *bool_type)
{
    size_t cap = (size_t)(FANOUT + 10) * 80;
    char *sql = malloc(cap);
    size_t n = (size_t)snprintf(sql, cap,
                                "CREATE TABLE subscribers (id %s, restaurant_id varchar(40) NOT NULL, "
                                "client_id text, score %s, ts %s, active %s);"
                                "INSERT INTO subscribers (restaurant_id, client_id, score, ts, active) VALUES ",
                                pg_mode ? "serial PRIMARY KEY" : "INTEGER PRIMARY KEY", pg_mode ? "numeric" : "REAL",
                                ts_type, bool_type);
    char row[200];
    for (int i = 0; i < FANOUT + 4; i++)
        n += (size_t)snprintf(sql + n, cap - n, "%s%s", i ? ", " : "", row_sql(i, row, sizeof row));
    snprintf(sql + n, cap - n, ";");
    return sql;
}

static bool setup_sqlite(char *dir)
{
    static char path[600];
    if (strlen(dir) > 500) return false;
    snprintf(path, sizeof path, "%s/subs.db", dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) return false;
    char *sql = fill_sql("INTEGER", "BOOLEAN");
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "CREATE TABLE kv (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)", NULL, NULL, NULL);
    free(sql);
    sqlite3_close(db);
    snprintf(url, sizeof url, "jdbc:sqlite:%s", path);
    return rc == SQLITE_OK;
}

static void quiet(void *arg, const char *msg) {}

static PGconn *pg_connect(void)
{
    PGconn *c = PQconnectdb(""); /* PGHOST, PGPORT, ... from the environment */
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to PostgreSQL: %s\n", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

static bool pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) fprintf(stderr, "%s\n", PQerrorMessage(c));
    PQclear(r);
    return ok;
}

static bool setup_pg(void)
{
    PGconn *c = pg_connect();
    if (!c) return false;
    snprintf(pg_schema, sizeof pg_schema, "lookup_%d", (int)getpid());
    char sql[512];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; SET search_path = %s;", pg_schema,
             pg_schema, pg_schema);
    /* ts is loaded as epoch ms, then made a timestamptz */
    char *fill = fill_sql("int8", "bool");
    bool ok = pg_exec(c, sql) && pg_exec(c, "SET TimeZone = 'UTC'") && pg_exec(c, fill) &&
              pg_exec(c, "ALTER TABLE subscribers ALTER ts TYPE timestamptz USING to_timestamp(ts / 1000.0)") &&
              pg_exec(c, "CREATE TABLE kv (k int8 PRIMARY KEY, v int8 NOT NULL);"
                         "CREATE TABLE kv2 (id serial PRIMARY KEY, k int8, v int8)");
    free(fill);
    PQfinish(c);
    static char tn[128];
    snprintf(tn, sizeof tn, "%s.subscribers", pg_schema);
    table_name = tn;
    snprintf(url, sizeof url, "jdbc:postgresql://%s:%s/%s", getenv("PGHOST"), getenv("PGPORT"),
             getenv("PGDATABASE"));
    return ok;
}

static long query_long(const char *sql)
{
    long n = -1;
    if (pg_mode) {
        PGconn *c = pg_connect();
        if (!c) return -1;
        char q[512];
        snprintf(q, sizeof q, "SET search_path = %s; %s", pg_schema, sql);
        PGresult *r = PQexec(c, q);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) n = atol(PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
        return n;
    }
    sqlite3 *db;
    if (sqlite3_open(url + strlen("jdbc:sqlite:"), &db) != SQLITE_OK) return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Ends every other connection of runnel's role to the database. */
static void kill_backends(void)
{
    PGconn *c = pg_connect();
    if (!c) return;
    RN_CHECK(pg_exec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = 'runnel' AND pid <> pg_backend_pid()"));
    PQfinish(c);
}

static void test_pg_connection_lost(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_schema_t *s = schema_of(2, "k:BIGINT", "v:BIGINT");
    rn_sink_io_t *io = NULL;
    char err[512] = "";
    char table[128];
    snprintf(table, sizeof table, "%s.kv2", pg_schema); /* no index on k: UPDATE then INSERT */
    RN_REQUIRE(open_sink(&arena, table, s, 1, &io, err, sizeof err) == RN_OK);
    int rows[100];
    for (int i = 0; i < 100; i++) rows[i] = i;
    rn_sink_layout_t layout = {.schema = s, .mode = RN_SINK_UPSERT, .npk = 1};
    RN_CHECK(io->write_rows(io, kv_rows(&arena, s, 20, 60, 1), rows, 40, &layout, err, sizeof err) == RN_OK);
    RN_CHECK(io->flush(io, err, sizeof err) == RN_OK);
    /* the connection dies: the next flush keeps the rows, the one after writes them */
    kill_backends();
    RN_CHECK(io->write_rows(io, kv_rows(&arena, s, 40, 100, 2), rows, 60, &layout, err, sizeof err) == RN_OK);
    rn_err_t e = io->flush(io, err, sizeof err);
    RN_CHECK(e == RN_ERR_RETRY);
    RN_CHECK(strstr(err, "PostgreSQL table") != NULL);
    RN_CHECK(io->flush(io, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(query_long("SELECT count(*) FROM kv2"), 80);
    RN_CHECK_EQ_INT(query_long("SELECT count(*) FROM kv2 WHERE v = k * 2"), 60);
    RN_CHECK_EQ_INT(query_long("SELECT count(DISTINCT k) FROM kv2"), 80);
    io->close(io);
    /* a lookup's connection too */
    rn_schema_t *ts = table_schema();
    int kcols[] = {0};
    rn_lookup_t *l = NULL;
    RN_REQUIRE(open_lookup(&arena, ts, kcols, 1, &l, err, sizeof err) == RN_OK);
    kill_backends();
    rn_schema_t *ks = schema_of(1, "k:STRING");
    const char *keys[] = {"r2"};
    rn_batch_t *kb = key_batch(&arena, ks, keys, 0, 1);
    rn_batch_t *out = rn_batch_new(&arena, ts, 10);
    int key_of[10], done = -1;
    RN_CHECK(l->lookup(l, kb, out, key_of, &done, &arena, err, sizeof err) == RN_ERR_RETRY);
    RN_CHECK_EQ_INT(out->nrows, 0);
    RN_CHECK(l->lookup(l, kb, out, key_of, &done, &arena, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(out->nrows, 3);
    RN_CHECK_EQ_INT(done, 1);
    l->close(l);
    rn_schema_unref(ks);
    rn_schema_unref(ts);
    rn_schema_unref(s);
    rn_arena_free(&arena);
}

static void teardown_pg(void)
{
    PGconn *c = pg_connect();
    if (!c) return;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", pg_schema);
    pg_exec(c, sql);
    PQfinish(c);
}

int main(int argc, char **argv)
{
    pg_mode = argc > 1 && !strcmp(argv[1], "pg");
    char dir[] = "/tmp/runnel-jdbc-lookup-XXXXXX";
    if (pg_mode) {
        if (!getenv("PGHOST") || !setup_pg()) {
            fprintf(stderr, "no PostgreSQL (run under the postgres fixture)\n");
            return 1;
        }
    } else if (!mkdtemp(dir) || !setup_sqlite(dir)) {
        fprintf(stderr, "cannot make the SQLite database\n");
        return 1;
    }
    RN_RUN(test_pg_url);
    RN_RUN(test_lookup_fanout);
    RN_RUN(test_lookup_two_keys);
    RN_RUN(test_scan_whole_table);
    RN_RUN(test_open_errors);
    RN_RUN(test_sink_refused_row);
    if (pg_mode) RN_RUN(test_pg_connection_lost);
    if (pg_mode) teardown_pg();
    else {
        char path[600];
        snprintf(path, sizeof path, "%s/subs.db", dir);
        unlink(path);
        rmdir(dir);
    }
    return rn_test_summary();
}
