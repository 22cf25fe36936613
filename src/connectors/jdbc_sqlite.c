/*
 * jdbc_sqlite.c - the SQLite client of the 'jdbc' connector ('url' =
 * 'jdbc:sqlite:path/to/file.db', libsqlite3): the sink, the lookup of
 * rows by key and the bounded scan source (jdbc.c has the options).
 *
 * Sink. Rows are written through statements prepared once at open, every
 * value bound as a parameter and every identifier quoted: an append table
 * INSERTs, an upsert table INSERT ... ON CONFLICT (pk) DO UPDATE SET ...,
 * a retraction DELETEs by key. Writes are batched in one transaction that
 * flush() commits (the transaction boundary of op/io.h); the writer also
 * commits by itself once 'sink.buffer-flush.max-rows' rows are pending or
 * the transaction is older than 'sink.buffer-flush.interval' at the next
 * write. A row SQLite refuses for its data (SQLITE_CONSTRAINT: NOT NULL,
 * CHECK, UNIQUE; SQLITE_MISMATCH) is handed to the sink's reject hook (the
 * pipeline's dead-letter output) and dropped: a failed statement undoes
 * only itself, the transaction goes on.
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
 * Lookup. One query per lookup() call for all keys of the batch: the keys
 * are a VALUES list (numbered) joined with the table, in chunks of at most
 * JDBC_SQLITE_KEYS keys, the answer held in an rn_jdbc_answer_t so that a
 * fan-out larger than the output batch is handed out over several calls.
 * scan() reads the whole table by rowid, a chunk per call. The lookup and
 * the scan source open their own read-only connection.
 */
#include "connectors/jdbc_int.h"
#include "core/clock.h"
#include "core/mem.h"
#include "json/json.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define JDBC_BUSY_TIMEOUT_MS 5000
#define JDBC_SQLITE_KEYS 200    /* keys per lookup query (SQLite allows 32766 parameters) */

/* The database file of a 'jdbc:sqlite:' url. */
static const char *jdbc_sqlite_path(const rn_jdbc_conf_t *c)
{
    return c->url + strlen(RN_JDBC_SQLITE);
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
        snprintf(errbuf, errbuf_size, "%s does not exist (table '%s' uses it)", s->where,
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
    rn_jdbc_ident(&b, sqlite_table);
    rn_buf_appends(&b, " (");
    for (int c = 0; c < sc->ncols; c++) {
        if (c) rn_buf_appends(&b, ", ");
        rn_jdbc_ident(&b, sc->cols[c].name);
    }
    rn_buf_appends(&b, ") VALUES (");
    for (int c = 0; c < sc->ncols; c++) rn_buf_appendf(&b, "%s?%d", c ? ", " : "", c + 1);
    rn_buf_appends(&b, ")");
    if (s->npk) {
        rn_buf_appends(&b, " ON CONFLICT (");
        for (int k = 0; k < s->npk; k++) {
            if (k) rn_buf_appends(&b, ", ");
            rn_jdbc_ident(&b, sc->cols[s->pk[k]].name);
        }
        rn_buf_appends(&b, ") DO ");
        int nset = 0;
        for (int c = 0; c < sc->ncols; c++) {
            bool in_key = false;
            for (int k = 0; k < s->npk; k++) in_key |= s->pk[k] == c;
            if (in_key) continue;
            rn_buf_appends(&b, nset++ ? ", " : "UPDATE SET ");
            rn_jdbc_ident(&b, sc->cols[c].name);
            rn_buf_appends(&b, " = excluded.");
            rn_jdbc_ident(&b, sc->cols[c].name);
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
        rn_jdbc_ident(&b, sqlite_table);
        for (int k = 0; k < s->npk; k++) {
            rn_buf_appends(&b, k ? " AND " : " WHERE ");
            rn_jdbc_ident(&b, sc->cols[s->pk[k]].name);
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

/* Hands row r of batch, refused by SQLite (its message in the
 * connection), to the reject hook. */
static rn_err_t jdbc_reject(jdbc_sink_t *s, const rn_batch_t *batch, int r, char *errbuf,
                            size_t errbuf_size)
{
    char msg[600];
    snprintf(msg, sizeof msg, "%s (SQLite error %d)", sqlite3_errmsg(s->db),
             sqlite3_extended_errcode(s->db));
    rn_buf_t b;
    rn_buf_init(&b);
    rn_json_write_row(&b, s->schema, batch->cols, r, NULL, s->schema->ncols);
    rn_err_t err = b.oom ? RN_ERR_NOMEM
                         : rn_jdbc_reject_json(&s->base, b.data, b.len, msg, s->where, errbuf, errbuf_size);
    rn_buf_free(&b);
    return err;
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
            int ext = sqlite3_extended_errcode(s->db);
            if ((ext & 0xff) != SQLITE_CONSTRAINT && (ext & 0xff) != SQLITE_MISMATCH) {
                jdbc_db_error(s, del ? "delete failed" : "insert failed", errbuf, errbuf_size);
                return RN_ERR_IO;
            }
            /* refused for its data: the statement undid itself, the
             * transaction goes on without the row */
            rn_err_t err = jdbc_reject(s, batch, r, errbuf, errbuf_size);
            if (err != RN_OK) return err;
            continue;
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
rn_err_t rn_jdbc_sqlite_open_sink(const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx,
                                  rn_sink_io_t **out, char *errbuf, size_t errbuf_size)
{
    const char *path = jdbc_sqlite_path(c);
    jdbc_sink_t *s = rn_calloc(1, sizeof *s);
    if (!s) return RN_ERR_NOMEM;
    s->base.write = jdbc_write;
    s->base.write_rows = jdbc_write_rows;
    s->base.flush = jdbc_flush;
    s->base.close = jdbc_close;
    s->schema = ctx->schema;
    s->max_rows = c->max_rows;
    if (!rn_jdbc_interval_ms(c, &s->interval_ms)) s->interval_ms = 0; /* validated earlier */
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


/* ---- reading: lookup, scan, the scan source ------------------------------ */

/* A read-only connection to a table with its declared columns. */
typedef struct jdbc_reading {
    sqlite3 *db;                /* owned, read-only */
    char *where;                /* "SQLite table 't' in 'x.db'", owned */
    char *table;                /* 'table-name', owned */
    const rn_schema_t *schema;  /* the declared columns (the table definition's) */
    rn_buf_t cols;              /* "t"."c1", "t"."c2", ... for the SELECT lists */
} jdbc_reading_t;

static void jdbc_reading_close(jdbc_reading_t *rd)
{
    sqlite3_close(rd->db);
    rn_free(rd->where);
    rn_free(rd->table);
    rn_buf_free(&rd->cols);
}

/* Opens the database read-only and checks the table as the sink does.
 * On failure everything is released and errbuf says why. */
static rn_err_t jdbc_reading_open(jdbc_reading_t *rd, const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx,
                                  char *errbuf, size_t errbuf_size)
{
    memset(rd, 0, sizeof *rd);
    rn_buf_init(&rd->cols);
    const char *path = jdbc_sqlite_path(c);
    if (!ctx->schema) {
        snprintf(errbuf, errbuf_size, "table '%s': 'jdbc' needs the table's columns to read it", ctx->table);
        return RN_ERR_FATAL;
    }
    rd->schema = ctx->schema;
    size_t wlen = strlen(c->table) + strlen(path) + 32;
    rd->where = rn_malloc(wlen);
    rd->table = rn_strdup(c->table);
    if (!rd->where || !rd->table) {
        jdbc_reading_close(rd);
        return RN_ERR_NOMEM;
    }
    snprintf(rd->where, wlen, "SQLite table '%s' in '%s'", c->table, path);
    if (sqlite3_open_v2(path, &rd->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(errbuf, errbuf_size, "table '%s': cannot open SQLite database '%s': %s", ctx->table, path,
                 rd->db ? sqlite3_errmsg(rd->db) : "out of memory");
        jdbc_reading_close(rd);
        return RN_ERR_IO;
    }
    sqlite3_busy_timeout(rd->db, JDBC_BUSY_TIMEOUT_MS);
    jdbc_sink_t probe = {.db = rd->db, .where = rd->where, .schema = rd->schema};
    rn_err_t err = jdbc_check_table(&probe, ctx->table, c->table, errbuf, errbuf_size);
    if (err != RN_OK) {
        jdbc_reading_close(rd);
        return err;
    }
    for (int i = 0; i < rd->schema->ncols; i++) {
        rn_buf_appends(&rd->cols, i ? ", t." : "t.");
        rn_jdbc_ident(&rd->cols, rd->schema->cols[i].name);
    }
    if (rd->cols.oom) {
        jdbc_reading_close(rd);
        return RN_ERR_NOMEM;
    }
    return RN_OK;
}

/* A failure of db: RN_ERR_RETRY while it is busy or locked by a writer. */
static rn_err_t jdbc_read_error(jdbc_reading_t *rd, const char *what, char *errbuf, size_t errbuf_size)
{
    int rc = sqlite3_errcode(rd->db) & 0xff;
    snprintf(errbuf, errbuf_size, "%s: %s: %s", rd->where, what, sqlite3_errmsg(rd->db));
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? RN_ERR_RETRY : RN_ERR_IO;
}

/* Binds a key value (typed as the sink binds values). */
static int jdbc_bind_key(sqlite3_stmt *st, int i, rn_type_id t, const rn_value_t *v)
{
    return jdbc_bind(st, i, t, v);
}

typedef struct jdbc_lookup {
    rn_lookup_t base;
    jdbc_reading_t rd;
    int nkeys;                  /* key columns */
    int *key_cols;              /* nkeys indexes into rd.schema, owned */
    rn_jdbc_answer_t answer;    /* the rows of the last query not handed out yet */
} jdbc_lookup_t;

/* Queries keys[from..to) and adds their rows to the answer (key index =
 * row in keys). */
static rn_err_t jdbc_lookup_query(jdbc_lookup_t *l, const rn_batch_t *keys, int from, int to,
                                  char *errbuf, size_t errbuf_size)
{
    const rn_schema_t *sc = l->rd.schema;
    rn_buf_t q;
    rn_buf_init(&q);
    rn_buf_appends(&q, "SELECT v.column1, ");
    rn_buf_append(&q, l->rd.cols.data, l->rd.cols.len);
    rn_buf_appends(&q, " FROM (VALUES ");
    int param = 1;
    for (int r = from; r < to; r++) {
        rn_buf_appendf(&q, "%s(%d", r > from ? ", " : "", r);
        for (int k = 0; k < l->nkeys; k++) rn_buf_appendf(&q, ", ?%d", param++);
        rn_buf_appends(&q, ")");
    }
    rn_buf_appends(&q, ") AS v JOIN ");
    rn_jdbc_ident(&q, l->rd.table);
    rn_buf_appends(&q, " AS t ON ");
    for (int k = 0; k < l->nkeys; k++) {
        rn_buf_appends(&q, k ? " AND t." : "t.");
        rn_jdbc_ident(&q, sc->cols[l->key_cols[k]].name);
        rn_buf_appendf(&q, " = v.column%d", k + 2);
    }
    rn_buf_appends(&q, " ORDER BY v.column1");
    if (q.oom) {
        rn_buf_free(&q);
        return RN_ERR_NOMEM;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(l->rd.db, q.data, (int)q.len, &st, NULL);
    rn_buf_free(&q);
    if (rc != SQLITE_OK) return jdbc_read_error(&l->rd, "lookup failed", errbuf, errbuf_size);
    param = 1;
    for (int r = from; r < to && rc == SQLITE_OK; r++)
        for (int k = 0; k < l->nkeys && rc == SQLITE_OK; k++)
            rc = jdbc_bind_key(st, param++, keys->schema->cols[k].type->id, rn_batch_value_ptr(keys, k, r));
    int ncols = sc->ncols;
    const char **vals = rn_calloc((size_t)ncols + 1, sizeof *vals);
    size_t *lens = rn_calloc((size_t)ncols + 1, sizeof *lens);
    rn_err_t err = RN_OK;
    if (!vals || !lens) err = RN_ERR_NOMEM;
    while (err == RN_OK && rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < ncols; c++) {
            vals[c] = (const char *)sqlite3_column_text(st, c + 1);
            lens[c] = (size_t)sqlite3_column_bytes(st, c + 1);
        }
        if (!rn_jdbc_answer_add(&l->answer, sqlite3_column_int(st, 0), vals, lens)) err = RN_ERR_NOMEM;
        rc = SQLITE_OK;
    }
    if (err == RN_OK && rc != SQLITE_DONE) err = jdbc_read_error(&l->rd, "lookup failed", errbuf, errbuf_size);
    rn_free(vals);
    rn_free(lens);
    sqlite3_finalize(st);
    return err;
}

static rn_err_t jdbc_lookup(rn_lookup_t *base, const rn_batch_t *keys, rn_batch_t *out, int *key_of,
                            int *done, rn_arena_t *arena, char *errbuf, size_t errbuf_size)
{
    jdbc_lookup_t *l = (jdbc_lookup_t *)base;
    int kbase = 0;
    if (!rn_jdbc_answer_resumes(&l->answer, keys, &kbase)) {
        kbase = 0;
        if (!rn_jdbc_answer_begin(&l->answer, keys)) return RN_ERR_NOMEM;
        for (int from = 0; from < keys->nrows; from += JDBC_SQLITE_KEYS) {
            int to = from + JDBC_SQLITE_KEYS < keys->nrows ? from + JDBC_SQLITE_KEYS : keys->nrows;
            rn_err_t err = jdbc_lookup_query(l, keys, from, to, errbuf, errbuf_size);
            if (err != RN_OK) {
                l->answer.nrows = l->answer.next = 0;
                return err;
            }
        }
    }
    return rn_jdbc_answer_emit(&l->answer, l->rd.schema, kbase, out, key_of, done, arena, l->rd.where,
                               errbuf, errbuf_size)
               ? RN_OK
               : RN_ERR_IO;
}

/* Reads up to max rows of the table after rowid *cursor into a callback. */
typedef bool (*jdbc_row_fn)(void *opaque, sqlite3_stmt *st, int ncols);

static rn_err_t jdbc_scan_chunk(jdbc_reading_t *rd, int64_t *cursor, int max, bool *done, jdbc_row_fn fn,
                                void *opaque, char *errbuf, size_t errbuf_size)
{
    rn_buf_t q;
    rn_buf_init(&q);
    rn_buf_appends(&q, "SELECT t._rowid_, ");
    rn_buf_append(&q, rd->cols.data, rd->cols.len);
    rn_buf_appends(&q, " FROM ");
    rn_jdbc_ident(&q, rd->table);
    rn_buf_appends(&q, " AS t WHERE t._rowid_ > ?1 ORDER BY t._rowid_ LIMIT ?2");
    if (q.oom) {
        rn_buf_free(&q);
        return RN_ERR_NOMEM;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(rd->db, q.data, (int)q.len, &st, NULL);
    rn_buf_free(&q);
    if (rc != SQLITE_OK) return jdbc_read_error(rd, "cannot read it", errbuf, errbuf_size);
    sqlite3_bind_int64(st, 1, *cursor);
    sqlite3_bind_int(st, 2, max);
    int n = 0;
    rn_err_t err = RN_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *cursor = sqlite3_column_int64(st, 0);
        n++;
        if (!fn(opaque, st, rd->schema->ncols)) {
            err = RN_ERR_NOMEM;
            break;
        }
    }
    if (err == RN_OK && rc != SQLITE_DONE) err = jdbc_read_error(rd, "cannot read it", errbuf, errbuf_size);
    sqlite3_finalize(st);
    *done = err == RN_OK && n < max;
    return err;
}

typedef struct jdbc_scan_out {
    rn_batch_t *out;
    rn_arena_t *arena;
    const rn_schema_t *schema;
    bool bad;                   /* a value was not of its column's type */
    char bad_msg[256];
} jdbc_scan_out_t;

static bool jdbc_scan_row(void *opaque, sqlite3_stmt *st, int ncols)
{
    jdbc_scan_out_t *so = opaque;
    int r = so->out->nrows;
    for (int c = 0; c < ncols; c++) {
        rn_value_t *v = &so->out->cols[c][r];
        const char *s = (const char *)sqlite3_column_text(st, c + 1);
        if (!s) {
            *v = RN_VALUE_NULL;
            continue;
        }
        rn_type_id t = so->schema->cols[c].type->id;
        if (!rn_jdbc_text_value(t, s, (size_t)sqlite3_column_bytes(st, c + 1), so->arena, v)) {
            if (!so->bad)
                snprintf(so->bad_msg, sizeof so->bad_msg, "column '%s': '%.60s' is not a %s",
                         so->schema->cols[c].name, s, rn_type_name(t));
            so->bad = true;
            *v = RN_VALUE_NULL;
        }
    }
    so->out->kinds[r] = RN_ROW_INSERT;
    if (so->out->rowtime) so->out->rowtime[r] = 0;
    if (so->out->rowwm) so->out->rowwm[r] = INT64_MIN;
    so->out->nrows++;
    return true;
}

static rn_err_t jdbc_scan(rn_lookup_t *base, rn_batch_t *out, int64_t *cursor, bool *done,
                          rn_arena_t *arena, char *errbuf, size_t errbuf_size)
{
    jdbc_lookup_t *l = (jdbc_lookup_t *)base;
    jdbc_scan_out_t so = {.out = out, .arena = arena, .schema = l->rd.schema};
    *done = false;
    if (out->nrows >= out->cap) return RN_OK;
    rn_err_t err = jdbc_scan_chunk(&l->rd, cursor, out->cap - out->nrows, done, jdbc_scan_row, &so, errbuf,
                                   errbuf_size);
    if (err == RN_OK && so.bad) {
        snprintf(errbuf, errbuf_size, "%s: %s", l->rd.where, so.bad_msg);
        return RN_ERR_IO;
    }
    return err;
}

static void jdbc_lookup_close(rn_lookup_t *base)
{
    jdbc_lookup_t *l = (jdbc_lookup_t *)base;
    if (!l) return;
    jdbc_reading_close(&l->rd);
    rn_jdbc_answer_free(&l->answer);
    rn_free(l->key_cols);
    rn_free(l);
}

rn_err_t rn_jdbc_sqlite_open_lookup(const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx,
                                    const int *key_cols, int nkeys, rn_lookup_t **out,
                                    char *errbuf, size_t errbuf_size)
{
    jdbc_lookup_t *l = rn_calloc(1, sizeof *l);
    if (!l || !(l->key_cols = rn_malloc(sizeof(int) * (size_t)nkeys))) {
        rn_free(l);
        return RN_ERR_NOMEM;
    }
    rn_err_t err = jdbc_reading_open(&l->rd, c, ctx, errbuf, errbuf_size);
    if (err != RN_OK) {
        rn_free(l->key_cols);
        rn_free(l);
        return err;
    }
    memcpy(l->key_cols, key_cols, sizeof(int) * (size_t)nkeys);
    l->nkeys = nkeys;
    rn_jdbc_answer_init(&l->answer, ctx->schema->ncols);
    l->base.lookup = jdbc_lookup;
    l->base.scan = jdbc_scan;
    l->base.close = jdbc_lookup_close;
    l->base.where = l->rd.where;
    *out = &l->base;
    return RN_OK;
}

/* The scan source: the table read once, by rowid, fetch-size rows a fill. */
typedef struct jdbc_source {
    jdbc_reading_t rd;
    int64_t cursor;             /* the last rowid read */
    int fetch;                  /* rows per fill */
    rn_buf_t *rows;             /* the fill's output, during a fill */
    int nrows;
} jdbc_source_t;

static bool jdbc_source_row(void *opaque, sqlite3_stmt *st, int ncols)
{
    jdbc_source_t *src = opaque;
    rn_buf_t *b = src->rows;
    rn_buf_appendc(b, '{');
    for (int c = 0; c < ncols; c++) {
        const rn_column_t *col = &src->rd.schema->cols[c];
        if (c) rn_buf_appendc(b, ',');
        rn_json_write_string(b, col->name, strlen(col->name));
        rn_buf_appendc(b, ':');
        rn_jdbc_text_json(b, col->type->id, (const char *)sqlite3_column_text(st, c + 1),
                          (size_t)sqlite3_column_bytes(st, c + 1));
    }
    rn_buf_appendc(b, '}');
    rn_buf_appendc(b, 0);
    src->nrows++;
    return !b->oom;
}

static rn_err_t jdbc_source_fill(void *client, rn_buf_t *rows, int *nrows, bool *eof, char *errbuf,
                                 size_t errbuf_size)
{
    jdbc_source_t *src = client;
    src->rows = rows;
    src->nrows = 0;
    rn_err_t err = jdbc_scan_chunk(&src->rd, &src->cursor, src->fetch, eof, jdbc_source_row, src, errbuf,
                                   errbuf_size);
    *nrows = src->nrows;
    return err == RN_ERR_RETRY ? RN_ERR_IO : err;
}

static void jdbc_source_close(void *client)
{
    jdbc_source_t *src = client;
    jdbc_reading_close(&src->rd);
    rn_free(src);
}

rn_err_t rn_jdbc_sqlite_open_reader(const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx,
                                    rn_reader_t **out, char *errbuf, size_t errbuf_size)
{
    jdbc_source_t *src = rn_calloc(1, sizeof *src);
    if (!src) return RN_ERR_NOMEM;
    rn_err_t err = jdbc_reading_open(&src->rd, c, ctx, errbuf, errbuf_size);
    if (err != RN_OK) {
        rn_free(src);
        return err;
    }
    src->fetch = c->fetch_size > 100000 ? 100000 : (int)c->fetch_size;
    src->cursor = INT64_MIN;
    if (!(*out = rn_jdbc_reader_new(src, jdbc_source_fill, jdbc_source_close, src->rd.where)))
        return RN_ERR_NOMEM;
    return RN_OK;
}
