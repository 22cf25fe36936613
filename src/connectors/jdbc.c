/*
 * jdbc.c - the 'jdbc' sink connector, as in Flink's JDBC connector, for
 * SQLite databases ('url' = 'jdbc:sqlite:path/to/file.db'); a PostgreSQL
 * url is rejected for now with a message saying so.
 *
 * A table without a PRIMARY KEY is an append sink: every row is an
 * INSERT. A table with one is an upsert sink (rn_connector_t.pk_upsert):
 * a row becomes INSERT ... ON CONFLICT (pk) DO UPDATE SET ..., a
 * retraction a DELETE by key, so a replay of the same input leaves the
 * same table (no duplicate rows per key).
 *
 * Rows are written through statements prepared once at open, every value
 * bound as a parameter and every identifier quoted ("name", with "" for a
 * quote inside it): neither data nor options can inject SQL. Writes are
 * batched in one transaction that flush() commits (the transaction
 * boundary of op/io.h); the writer also commits by itself once
 * 'sink.buffer-flush.max-rows' rows are pending or the transaction is
 * older than 'sink.buffer-flush.interval' at the next write (the runtime
 * flushes sinks when it commits and when input is idle).
 *
 * Sinks of one process that write the same database file share one
 * connection and its transaction (jdbc_db_t): two connections would each
 * hold a write transaction open until their flush, and the second would
 * wait for the first forever in a single-threaded pipeline. A flush of
 * either commits both sinks' rows.
 *
 * At open the table must exist and have a column of the same name
 * (compared as SQLite does, ignoring ASCII case) and a compatible type
 * affinity for every declared column; other columns of the table (an id,
 * a column filled later) are left to their defaults. Types are stored as
 * SQLite's: BOOLEAN as 0/1, integers and timestamps (epoch milliseconds,
 * as runnel's JSON writes them) as INTEGER, DOUBLE as REAL, STRING as TEXT.
 *
 * In `runnel test` the table is the file <table-name>.jsonl (runtime/run.c):
 * JSON rows for an append table, {"key":..,"value":..|null} lines for an
 * upsert one, as for upsert-kafka.
 */
#include "connectors/connector.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/timeparse.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

typedef struct jdbc_conf {
    const char *url;            /* 'url': jdbc:sqlite:<file> */
    const char *table;          /* 'table-name' */
    int64_t max_rows;           /* 'sink.buffer-flush.max-rows'; 0 = no limit */
    const char *interval;       /* 'sink.buffer-flush.interval' (a duration); '0' = none */
    rn_lookup_conf_t lookup;    /* 'lookup.*': the cache of a lookup join on the table */
} jdbc_conf_t;

static const rn_option_spec_t jdbc_options[] = {
    {"url", RN_OPT_STRING, NULL, offsetof(jdbc_conf_t, url), NULL, true,
     "database url: 'jdbc:sqlite:<file>'"},
    {"table-name", RN_OPT_STRING, NULL, offsetof(jdbc_conf_t, table), NULL, true,
     "the database table written"},
    {"sink.buffer-flush.max-rows", RN_OPT_INT, "100", offsetof(jdbc_conf_t, max_rows), NULL, false,
     "commit once this many rows are pending (0: no limit)"},
    {"sink.buffer-flush.interval", RN_OPT_STRING, "1 s", offsetof(jdbc_conf_t, interval), NULL, false,
     "commit pending rows at least this often ('0': only when the runtime flushes)"},
    RN_LOOKUP_OPTIONS(jdbc_conf_t, lookup),
    {NULL},
};

#define JDBC_SQLITE "jdbc:sqlite:"
#define JDBC_BUSY_TIMEOUT_MS 5000

/* The database file of a 'jdbc:sqlite:' url, or NULL for another url. */
static const char *jdbc_sqlite_path(const jdbc_conf_t *c)
{
    size_t n = strlen(JDBC_SQLITE);
    return strncmp(c->url, JDBC_SQLITE, n) ? NULL : c->url + n;
}

/* 'sink.buffer-flush.interval' in ms; false if it is not a duration. */
static bool jdbc_interval_ms(const jdbc_conf_t *c, int64_t *ms /* out */)
{
    if (!strcmp(c->interval, "0")) {
        *ms = 0;
        return true;
    }
    return rn_duration_parse(c->interval, ms) && *ms >= 0;
}

static rn_err_t jdbc_validate(const void *conf, char *errbuf, size_t errbuf_size)
{
    const jdbc_conf_t *c = conf;
    const char *path = jdbc_sqlite_path(c);
    if (!path) {
        if (!strncmp(c->url, "jdbc:postgresql:", 16))
            snprintf(errbuf, errbuf_size,
                     "option 'url': PostgreSQL is not supported yet; only SQLite "
                     "('jdbc:sqlite:<file>') is");
        else
            snprintf(errbuf, errbuf_size, "option 'url' must be 'jdbc:sqlite:<file>', not '%.300s'",
                     c->url);
        return RN_ERR_CONFIG;
    }
    if (!*path) {
        snprintf(errbuf, errbuf_size, "option 'url': 'jdbc:sqlite:' needs a database file after it");
        return RN_ERR_CONFIG;
    }
    /* The table name also names a file in `runnel test` (<table-name>.jsonl). */
    if (!*c->table || strchr(c->table, '/') || c->table[0] == '.') {
        snprintf(errbuf, errbuf_size,
                 "option 'table-name': '%.300s' is not a table name (empty, or has a '/' or a leading '.')",
                 c->table);
        return RN_ERR_CONFIG;
    }
    if (c->max_rows < 0) {
        snprintf(errbuf, errbuf_size, "option 'sink.buffer-flush.max-rows' must be 0 or more, not %lld",
                 (long long)c->max_rows);
        return RN_ERR_CONFIG;
    }
    int64_t ms;
    if (!jdbc_interval_ms(c, &ms)) {
        snprintf(errbuf, errbuf_size,
                 "option 'sink.buffer-flush.interval' must be a duration such as '1 s' or '500 ms', not '%.300s'",
                 c->interval);
        return RN_ERR_CONFIG;
    }
    return RN_OK;
}

/* ---- the writer ------------------------------------------------------- */

/* One open database file, shared by the sinks of the process writing it. */
typedef struct jdbc_db {
    struct jdbc_db *next;       /* the list of open databases (jdbc_dbs) */
    char *path;                 /* the file as the url names it, owned */
    sqlite3 *db;                /* owned */
    int refs;                   /* sinks using it */
    bool in_txn;                /* a transaction is open */
    int64_t pending;            /* rows written in it, by all its sinks */
    int64_t txn_start_ms;       /* when it began */
} jdbc_db_t;

static pthread_mutex_t jdbc_dbs_lock = PTHREAD_MUTEX_INITIALIZER;
static jdbc_db_t *jdbc_dbs;     /* open databases, guarded by jdbc_dbs_lock */

typedef struct jdbc_sink {
    rn_sink_io_t base;
    jdbc_db_t *conn;            /* shared; one reference is this sink's */
    sqlite3 *db;                /* conn->db */
    char *where;                /* "SQLite table 't' in 'x.db'", owned */
    sqlite3_stmt *put;          /* INSERT (append) or INSERT .. ON CONFLICT .. (upsert) */
    sqlite3_stmt *del;          /* DELETE .. WHERE pk IS ?, upsert only, else NULL */
    const rn_schema_t *schema;  /* the columns written: param i+1 of put is column i */
    int npk;                    /* key columns (params of del), upsert only */
    int *pk;                    /* owned */
    int64_t max_rows;           /* commit at this many pending rows; 0 = no limit */
    int64_t interval_ms;        /* commit a transaction this old; 0 = no limit */
} jdbc_sink_t;

/* Opens path (which must exist), or takes another reference to it when a
 * sink of this process has it open already (the same file under any
 * spelling). Returns NULL with errbuf set on failure; release with
 * jdbc_db_release. */
static jdbc_db_t *jdbc_db_acquire(const char *path, char *errbuf, size_t errbuf_size)
{
    pthread_mutex_lock(&jdbc_dbs_lock);
    jdbc_db_t *d = jdbc_dbs;
    while (d && !rn_file_same(d->path, path)) d = d->next;
    if (d) {
        d->refs++;
        pthread_mutex_unlock(&jdbc_dbs_lock);
        return d;
    }
    d = rn_calloc(1, sizeof *d);
    if (!d || !(d->path = rn_strdup(path))) {
        rn_free(d);
        pthread_mutex_unlock(&jdbc_dbs_lock);
        snprintf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(errbuf, errbuf_size, "cannot open SQLite database '%s': %s", path,
                 d->db ? sqlite3_errmsg(d->db) : "out of memory");
        sqlite3_close(d->db);
        rn_free(d->path);
        rn_free(d);
        pthread_mutex_unlock(&jdbc_dbs_lock);
        return NULL;
    }
    sqlite3_busy_timeout(d->db, JDBC_BUSY_TIMEOUT_MS);
    d->refs = 1;
    d->next = jdbc_dbs;
    jdbc_dbs = d;
    pthread_mutex_unlock(&jdbc_dbs_lock);
    return d;
}

/* Drops a reference; the last one rolls back what was not committed
 * (not flushed: not durable) and closes the database. */
static void jdbc_db_release(jdbc_db_t *d)
{
    if (!d) return;
    pthread_mutex_lock(&jdbc_dbs_lock);
    if (--d->refs == 0) {
        jdbc_db_t **pp = &jdbc_dbs;
        while (*pp != d) pp = &(*pp)->next;
        *pp = d->next;
        if (d->in_txn) sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(d->db);
        rn_free(d->path);
        rn_free(d);
    }
    pthread_mutex_unlock(&jdbc_dbs_lock);
}

/* Appends name as a quoted SQL identifier ("a""b"). */
static void sql_ident(rn_buf_t *b, const char *name)
{
    rn_buf_appends(b, "\"");
    for (const char *p = name; *p; p++) rn_buf_append(b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
    rn_buf_appends(b, "\"");
}

/* SQLite's type affinity of a declared column type (its rules 1-5). */
static char sql_affinity(const char *decl)
{
    char up[128];
    size_t n = 0;
    for (; decl && decl[n] && n < sizeof up - 1; n++)
        up[n] = (char)(decl[n] >= 'a' && decl[n] <= 'z' ? decl[n] - 32 : decl[n]);
    up[n] = 0;
    if (strstr(up, "INT")) return 'I';
    if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT")) return 'T';
    if (!n || strstr(up, "BLOB")) return 'B';
    if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB")) return 'R';
    return 'N';
}

/* True if values of type t are stored as they are in a column of affinity
 * aff: text in a TEXT, BLOB or NUMERIC column; numbers anywhere but TEXT. */
static bool type_fits(rn_type_id t, char aff)
{
    if (t == RN_TYPE_STRING) return aff != 'I' && aff != 'R';
    return aff != 'T';
}

static void jdbc_db_error(jdbc_sink_t *s, const char *what, char *errbuf, size_t errbuf_size)
{
    snprintf(errbuf, errbuf_size, "%s: %s: %s", s->where, what, sqlite3_errmsg(s->db));
}

/* Checks that the table exists and has every declared column with a
 * compatible affinity. RN_ERR_CONFIG with a message naming both if not. */
static rn_err_t jdbc_check_table(jdbc_sink_t *s, const char *runnel_table, const char *sqlite_table,
                                 char *errbuf, size_t errbuf_size)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT name, type FROM pragma_table_info(?1)", -1, &st, NULL) !=
        SQLITE_OK) {
        jdbc_db_error(s, "cannot read its columns", errbuf, errbuf_size);
        return RN_ERR_IO;
    }
    sqlite3_bind_text(st, 1, sqlite_table, -1, SQLITE_STATIC);
    int ncols = s->schema->ncols, found_cols = 0;
    char *aff = rn_calloc((size_t)(ncols ? ncols : 1), 1); /* 0 = not found */
    if (!aff) {
        sqlite3_finalize(st);
        return RN_ERR_NOMEM;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        found_cols++;
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (int c = 0; name && c < ncols; c++)
            if (!sqlite3_stricmp(name, s->schema->cols[c].name))
                aff[c] = sql_affinity((const char *)sqlite3_column_text(st, 1));
    }
    rn_err_t err = RN_OK;
    if (rc != SQLITE_DONE) {
        jdbc_db_error(s, "cannot read its columns", errbuf, errbuf_size);
        err = RN_ERR_IO;
    } else if (!found_cols) {
        snprintf(errbuf, errbuf_size, "%s does not exist (table '%s' writes to it)", s->where,
                 runnel_table);
        err = RN_ERR_CONFIG;
    }
    for (int c = 0; err == RN_OK && c < ncols; c++) {
        const rn_column_t *col = &s->schema->cols[c];
        if (!aff[c]) {
            snprintf(errbuf, errbuf_size, "%s has no column '%s' (a column of table '%s')", s->where,
                     col->name, runnel_table);
            err = RN_ERR_CONFIG;
        } else if (col->type->id == RN_TYPE_ROW) {
            snprintf(errbuf, errbuf_size, "table '%s': column '%s' is a ROW, which 'jdbc' cannot write",
                     runnel_table, col->name);
            err = RN_ERR_CONFIG;
        } else if (!type_fits(col->type->id, aff[c])) {
            snprintf(errbuf, errbuf_size,
                     "%s: column '%s' has %s affinity, which cannot hold column '%s' (%s) of table '%s'",
                     s->where, col->name,
                     aff[c] == 'I' ? "INTEGER" : aff[c] == 'R' ? "REAL" : "TEXT", col->name,
                     rn_type_name(col->type->id), runnel_table);
            err = RN_ERR_CONFIG;
        }
    }
    rn_free(aff);
    sqlite3_finalize(st);
    return err;
}

/* Prepares the statements. RN_ERR_CONFIG when SQLite refuses them (an
 * upsert table whose key is not a PRIMARY KEY or UNIQUE index there). */
static rn_err_t jdbc_prepare(jdbc_sink_t *s, const char *sqlite_table, char *errbuf,
                             size_t errbuf_size)
{
    const rn_schema_t *sc = s->schema;
    rn_buf_t b;
    rn_buf_init(&b);
    rn_buf_appends(&b, "INSERT INTO ");
    sql_ident(&b, sqlite_table);
    rn_buf_appends(&b, " (");
    for (int c = 0; c < sc->ncols; c++) {
        if (c) rn_buf_appends(&b, ", ");
        sql_ident(&b, sc->cols[c].name);
    }
    rn_buf_appends(&b, ") VALUES (");
    for (int c = 0; c < sc->ncols; c++) rn_buf_appendf(&b, "%s?%d", c ? ", " : "", c + 1);
    rn_buf_appends(&b, ")");
    if (s->npk) {
        rn_buf_appends(&b, " ON CONFLICT (");
        for (int k = 0; k < s->npk; k++) {
            if (k) rn_buf_appends(&b, ", ");
            sql_ident(&b, sc->cols[s->pk[k]].name);
        }
        rn_buf_appends(&b, ") DO ");
        int nset = 0;
        for (int c = 0; c < sc->ncols; c++) {
            bool in_key = false;
            for (int k = 0; k < s->npk; k++) in_key |= s->pk[k] == c;
            if (in_key) continue;
            rn_buf_appends(&b, nset++ ? ", " : "UPDATE SET ");
            sql_ident(&b, sc->cols[c].name);
            rn_buf_appends(&b, " = excluded.");
            sql_ident(&b, sc->cols[c].name);
        }
        if (!nset) rn_buf_appends(&b, "NOTHING");
    }
    rn_err_t err = RN_OK;
    if (b.oom) err = RN_ERR_NOMEM;
    else if (sqlite3_prepare_v2(s->db, b.data, (int)b.len, &s->put, NULL) != SQLITE_OK) {
        if (s->npk)
            snprintf(errbuf, errbuf_size,
                     "%s cannot take upserts: its PRIMARY KEY or a UNIQUE index must be the "
                     "table's PRIMARY KEY columns (%s)",
                     s->where, sqlite3_errmsg(s->db));
        else jdbc_db_error(s, "cannot insert", errbuf, errbuf_size);
        err = RN_ERR_CONFIG;
    }
    if (err == RN_OK && s->npk) {
        rn_buf_clear(&b);
        rn_buf_appends(&b, "DELETE FROM ");
        sql_ident(&b, sqlite_table);
        for (int k = 0; k < s->npk; k++) {
            rn_buf_appends(&b, k ? " AND " : " WHERE ");
            sql_ident(&b, sc->cols[s->pk[k]].name);
            rn_buf_appendf(&b, " IS ?%d", k + 1);
        }
        if (b.oom) err = RN_ERR_NOMEM;
        else if (sqlite3_prepare_v2(s->db, b.data, (int)b.len, &s->del, NULL) != SQLITE_OK) {
            jdbc_db_error(s, "cannot delete", errbuf, errbuf_size);
            err = RN_ERR_CONFIG;
        }
    }
    rn_buf_free(&b);
    return err;
}

/* Binds v (of type t) as parameter i of st; strings stay the caller's
 * until the statement is reset. */
static int jdbc_bind(sqlite3_stmt *st, int i, rn_type_id t, const rn_value_t *v)
{
    if (v->null) return sqlite3_bind_null(st, i);
    switch (t) {
    case RN_TYPE_DOUBLE: return sqlite3_bind_double(st, i, v->d);
    case RN_TYPE_STRING: return sqlite3_bind_text(st, i, v->len ? v->s : "", (int)v->len, SQLITE_STATIC);
    default: return sqlite3_bind_int64(st, i, v->i); /* BOOLEAN, integers, timestamps */
    }
}

/* Commits the open transaction, if any. On failure rolls it back. */
static rn_err_t jdbc_commit(jdbc_sink_t *s, char *errbuf, size_t errbuf_size)
{
    jdbc_db_t *d = s->conn;
    if (!d->in_txn) return RN_OK;
    d->in_txn = false;
    d->pending = 0;
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        jdbc_db_error(s, "commit failed", errbuf, errbuf_size);
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return RN_ERR_IO;
    }
    return RN_OK;
}

static rn_err_t jdbc_write_rows(rn_sink_io_t *io, const rn_batch_t *batch, const int *rows, int n,
                                const rn_sink_layout_t *layout, char *errbuf, size_t errbuf_size)
{
    jdbc_sink_t *s = (jdbc_sink_t *)io;
    const rn_schema_t *sc = s->schema;
    bool upsert = layout->mode == RN_SINK_UPSERT;
    for (int j = 0; j < n; j++) {
        jdbc_db_t *d = s->conn;
        if (!d->in_txn) {
            if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
                jdbc_db_error(s, "cannot begin a transaction", errbuf, errbuf_size);
                return RN_ERR_IO;
            }
            d->in_txn = true;
            d->txn_start_ms = rn_clock_wall_ms();
        }
        int r = rows[j];
        bool del = upsert && rn_rowkind_is_retract((rn_rowkind_t)batch->kinds[r]);
        sqlite3_stmt *st = del ? s->del : s->put;
        int rc = SQLITE_OK;
        if (del)
            for (int k = 0; k < s->npk && rc == SQLITE_OK; k++)
                rc = jdbc_bind(st, k + 1, sc->cols[s->pk[k]].type->id, &batch->cols[s->pk[k]][r]);
        else
            for (int c = 0; c < sc->ncols && rc == SQLITE_OK; c++)
                rc = jdbc_bind(st, c + 1, sc->cols[c].type->id, &batch->cols[c][r]);
        if (rc == SQLITE_OK) rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE) {
            jdbc_db_error(s, del ? "delete failed" : "insert failed", errbuf, errbuf_size);
            return RN_ERR_IO;
        }
        d->pending++;
        if ((s->max_rows && d->pending >= s->max_rows) ||
            (s->interval_ms && rn_clock_wall_ms() - d->txn_start_ms >= s->interval_ms)) {
            rn_err_t err = jdbc_commit(s, errbuf, errbuf_size);
            if (err != RN_OK) return err;
        }
    }
    return RN_OK;
}

/* The JSON path: never used (write_rows is), but rn_sink_io_t wants one. */
static rn_err_t jdbc_write(rn_sink_io_t *io, const char *key, size_t klen, const char *value,
                           size_t vlen, rn_rowkind_t kind, char *errbuf, size_t errbuf_size)
{
    snprintf(errbuf, errbuf_size, "%s: takes typed rows only", ((jdbc_sink_t *)io)->where);
    return RN_ERR_FATAL;
}

static rn_err_t jdbc_flush(rn_sink_io_t *io, char *errbuf, size_t errbuf_size)
{
    return jdbc_commit((jdbc_sink_t *)io, errbuf, errbuf_size);
}

static void jdbc_close(rn_sink_io_t *io)
{
    jdbc_sink_t *s = (jdbc_sink_t *)io;
    if (!s) return;
    sqlite3_finalize(s->put);
    sqlite3_finalize(s->del);
    jdbc_db_release(s->conn);
    rn_free(s->pk);
    rn_free(s->where);
    rn_free(s);
}

/* Opens the writer: the database (which must exist), the table check and
 * the statements. On failure returns an error described in errbuf and
 * leaves *out unset; on success the caller owns *out (close()). */
static rn_err_t jdbc_open_sink(const void *conf, const rn_open_ctx_t *ctx, rn_sink_io_t **out,
                               char *errbuf, size_t errbuf_size)
{
    const jdbc_conf_t *c = conf;
    const char *path = jdbc_sqlite_path(c);
    if (!ctx->schema) {
        snprintf(errbuf, errbuf_size, "table '%s': 'jdbc' needs the table's columns to open", ctx->table);
        return RN_ERR_FATAL;
    }
    jdbc_sink_t *s = rn_calloc(1, sizeof *s);
    if (!s) return RN_ERR_NOMEM;
    s->base.write = jdbc_write;
    s->base.write_rows = jdbc_write_rows;
    s->base.flush = jdbc_flush;
    s->base.close = jdbc_close;
    s->schema = ctx->schema;
    s->max_rows = c->max_rows;
    if (!jdbc_interval_ms(c, &s->interval_ms)) s->interval_ms = 0; /* validated earlier */
    s->npk = ctx->sink_mode == RN_SINK_UPSERT ? ctx->npk : 0;
    s->pk = rn_calloc((size_t)(s->npk ? s->npk : 1), sizeof(int));
    size_t wlen = strlen(c->table) + strlen(path) + 32;
    s->where = rn_malloc(wlen);
    if (!s->pk || !s->where) {
        jdbc_close(&s->base);
        return RN_ERR_NOMEM;
    }
    if (s->npk) memcpy(s->pk, ctx->pk, sizeof(int) * (size_t)s->npk);
    snprintf(s->where, wlen, "SQLite table '%s' in '%s'", c->table, path);
    rn_err_t err = RN_OK;
    char why[512];
    if (!(s->conn = jdbc_db_acquire(path, why, sizeof why))) {
        snprintf(errbuf, errbuf_size, "table '%s': %s", ctx->table, why);
        err = RN_ERR_IO;
    } else {
        s->db = s->conn->db;
    }
    if (err == RN_OK) err = jdbc_check_table(s, ctx->table, c->table, errbuf, errbuf_size);
    if (err == RN_OK) err = jdbc_prepare(s, c->table, errbuf, errbuf_size);
    if (err != RN_OK) {
        jdbc_close(&s->base);
        return err;
    }
    *out = &s->base;
    return RN_OK;
}

static void jdbc_describe(const void *conf, rn_buf_t *out)
{
    const jdbc_conf_t *c = conf;
    rn_buf_appendf(out, "url=%s, table-name=%s", c->url, c->table);
}

static const char *jdbc_test_name(const void *conf)
{
    return ((const jdbc_conf_t *)conf)->table;
}

static const rn_lookup_conf_t *jdbc_lookup_conf(const void *conf)
{
    return &((const jdbc_conf_t *)conf)->lookup;
}

const rn_connector_t rn_connector_jdbc = {
    .name = "jdbc",
    .roles = RN_ROLE_SINK,
    .sink_mode = RN_SINK_APPEND,
    .pk_upsert = true,
    .options = jdbc_options,
    .conf_size = sizeof(jdbc_conf_t),
    .open_sink = jdbc_open_sink,
    .describe = jdbc_describe,
    .validate = jdbc_validate,
    .test_name = jdbc_test_name,
    .lookup_conf = jdbc_lookup_conf,
};
