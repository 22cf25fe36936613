/*
 * jdbc_pg.c - the PostgreSQL client of the 'jdbc' connector ('url' =
 * 'jdbc:postgresql://host[:port]/db[?sslmode=..]', libpq): the sink, the
 * lookup of rows by key and the bounded scan source (jdbc.c has the
 * options and parses the url).
 *
 * Connecting. PQconnectdbParams with keyword/value arrays (host, port,
 * dbname, user, password, sslmode, sslrootcert; expand_dbname off), so no
 * option text is ever parsed as a connection string; the session runs
 * with TimeZone UTC (runnel's timestamps are UTC epoch milliseconds). A
 * server that cannot be reached at open is one error line naming
 * host:port and the table (RN_ERR_IO); libpq's messages never hold the
 * password.
 *
 * The table. At open the catalog (pg_attribute, pg_type) must show the
 * table ('table-name', 'schema.table' quoted per part) with a column of
 * every declared name (exact, else the one equal ignoring case) of a type
 * that can hold it: STRING any string-like type (text, varchar, char,
 * uuid, json, enum), BOOLEAN bool, INT/BIGINT an integer or numeric
 * column (a value over an int2/int4 column's range is refused by the
 * server at write: a refused row), DOUBLE float4/float8/numeric, TIMESTAMP
 * timestamp/timestamptz (sent as 'YYYY-MM-DD HH:MM:SS.mmm' UTC) or int8
 * (epoch ms). Every value is sent as a text parameter cast to its
 * column's type (format_type from the catalog), every identifier quoted.
 *
 * Sink. write_rows copies the rows (their values are valid during the
 * call only) into the pending set, as text; an upsert sink keeps the last
 * change per key (a later one replaces an earlier one in place). A flush
 * writes the whole pending set in one transaction: for an upsert sink the
 * deletes (retracted keys) then the upserts, for an append sink the
 * inserts, as multi-row statements of at most PG_CHUNK_ROWS rows. An
 * upsert is INSERT .. ON CONFLICT (key) DO UPDATE when the table has a
 * PRIMARY KEY or a unique, immediate, non-partial index on exactly the key
 * columns; otherwise (a table with only a serial id as its key, as S4's
 * subscribers_feedback) one statement per chunk UPDATEs the rows of the
 * keys that exist and INSERTs the others (a CTE), which is correct as
 * long as this sink is the table's only writer of those keys.
 *
 * Exactly-once ('sink.delivery-guarantee' = 'exactly-once'; op/io.h
 * commit_once, docs/checkpoints.md). The sink operator holds the rows
 * until a checkpoint is committed, then gives them to write_rows (into the
 * pending set; no flush of our own) and calls commit_once: the flush's
 * transaction first inserts (pipeline, sink, writer, checkpoint) into
 * runnel_sink_commits (created at open when missing, in the table's
 * schema) with ON CONFLICT DO NOTHING, writes the rows only when the
 * record was new, and deletes the writer's records below keep_from. Two
 * processes committing one checkpoint at once are ordered by the primary
 * key: the second insert waits for the first transaction and then finds
 * the record. A lost connection answers RN_ERR_RETRY with the rows held;
 * the retry asks the record again, so a commit whose answer was lost is
 * not written twice.
 *
 * Outages. A statement that fails for the connection (libpq reports the
 * connection bad, no SQLSTATE, class 08, 57P01-57P03 shutdowns, or a
 * serialization failure/deadlock) marks the connection broken and answers
 * RN_ERR_RETRY with every pending row still held; the next flush resets
 * the connection and replays the whole pending set in a new transaction
 * (the server rolled the old one back, and upserts are idempotent).
 *
 * Refused rows. A statement refused for its data (SQLSTATE class 22, data
 * exception, or 23, integrity constraint) aborts the transaction: it is
 * rolled back and the flush is redone carefully, a SAVEPOINT per chunk and,
 * in a chunk that fails, per row; each row the server refuses goes to the
 * sink's reject hook (a JSON object of the row, the server's message and
 * SQLSTATE) and is dropped, the rest is committed.
 *
 * Lookup and scan. A lookup() sends one query for all keys of the call: a
 * numbered VALUES list of the keys joined with the table; the answer is
 * held (rn_jdbc_answer_t) until handed out, so a fan-out larger than the
 * output batch spans several calls. scan() and the scan source read the
 * table through a cursor in a REPEATABLE READ transaction, fetch-size
 * rows per round trip; a scan resumed after a reconnect reopens the
 * cursor and skips the rows already read.
 */
#include "connectors/jdbc_int.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/mem.h"
#include "json/json.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PG_CHUNK_ROWS 500       /* rows per multi-row statement */
#define PG_MAX_PARAMS 30000     /* parameters per statement (the protocol allows 65535) */

/* ---- the connection ---------------------------------------------------- */

/* A connection with what messages need to say where it goes. */
typedef struct pg_conn {
    PGconn *conn;               /* owned */
    bool broken;                /* a statement failed for the connection: reset before use */
    char addr[300];             /* "host:port" */
    char *where;                /* "PostgreSQL table 'public.t' at host:port", owned */
    char *qtable;               /* the table quoted per part: "public"."t", owned */
} pg_conn_t;

/* Copies libpq's message into buf as one line (blanks collapsed). */
static void pg_oneline(char *buf, size_t size, const char *msg)
{
    size_t n = 0;
    bool blank = false;
    for (const char *p = msg ? msg : "unknown error"; *p && n + 1 < size; p++) {
        if (*p == '\n' || *p == '\t' || *p == ' ' || *p == '\r') {
            blank = n > 0;
            continue;
        }
        if (blank && n + 2 < size) buf[n++] = ' ';
        blank = false;
        buf[n++] = *p;
    }
    buf[n] = 0;
}

static void pg_conn_close(pg_conn_t *pc)
{
    if (pc->conn) PQfinish(pc->conn);
    rn_free(pc->where);
    rn_free(pc->qtable);
    memset(pc, 0, sizeof *pc);
}

static void pg_quiet(void *arg, const char *msg) {}

/* Connects for table ctx->table. On failure one line in errbuf naming
 * host:port and the table, RN_ERR_IO (unreachable, refused login) or
 * RN_ERR_CONFIG; pc is released. */
static rn_err_t pg_conn_open(pg_conn_t *pc, const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx,
                             char *errbuf, size_t errbuf_size)
{
    memset(pc, 0, sizeof *pc);
    rn_jdbc_pg_url_t u;
    if (!rn_jdbc_pg_url_parse(c->url, &u, errbuf, errbuf_size)) return RN_ERR_CONFIG;
    snprintf(pc->addr, sizeof pc->addr, "%s:%s", u.host, u.port[0] ? u.port : "5432");
    rn_buf_t b;
    rn_buf_init(&b);
    const char *dot = strchr(c->table, '.');
    if (dot) {
        char *schema = rn_strndup(c->table, (size_t)(dot - c->table));
        if (schema) rn_jdbc_ident(&b, schema);
        else b.oom = 1;
        rn_free(schema);
        rn_buf_appends(&b, ".");
        rn_jdbc_ident(&b, dot + 1);
    } else {
        rn_jdbc_ident(&b, c->table);
    }
    rn_buf_appendc(&b, 0);
    size_t wlen = strlen(c->table) + strlen(pc->addr) + 48;
    pc->where = rn_malloc(wlen);
    if (b.oom || !pc->where) {
        rn_buf_free(&b);
        pg_conn_close(pc);
        return RN_ERR_NOMEM;
    }
    pc->qtable = b.data; /* the buffer's memory is the string's now */
    snprintf(pc->where, wlen, "PostgreSQL table '%s' at %s", c->table, pc->addr);
    const char *keys[16], *vals[16];
    int n = 0;
#define PG_KV(k, v) do { if ((v) && *(v)) { keys[n] = (k); vals[n] = (v); n++; } } while (0)
    PG_KV("host", u.host);
    PG_KV("port", u.port);
    PG_KV("dbname", u.db);
    PG_KV("user", c->username);
    PG_KV("password", c->password);
    PG_KV("sslmode", *c->sslmode ? c->sslmode : u.sslmode);
    PG_KV("sslrootcert", *c->sslrootcert ? c->sslrootcert : u.sslrootcert);
    PG_KV("connect_timeout", "10");
    PG_KV("application_name", "runnel");
    PG_KV("client_encoding", "UTF8");
    PG_KV("options", "-c TimeZone=UTC");
#undef PG_KV
    keys[n] = vals[n] = NULL;
    pc->conn = PQconnectdbParams(keys, vals, 0);
    if (!pc->conn) {
        pg_conn_close(pc);
        return RN_ERR_NOMEM;
    }
    if (PQstatus(pc->conn) != CONNECTION_OK) {
        char msg[512];
        pg_oneline(msg, sizeof msg, PQerrorMessage(pc->conn));
        snprintf(errbuf, errbuf_size, "table '%s': cannot connect to PostgreSQL at %s for table '%s': %s",
                 ctx->table, pc->addr, c->table, msg);
        pg_conn_close(pc);
        return RN_ERR_IO;
    }
    PQsetNoticeProcessor(pc->conn, pg_quiet, NULL);
    return RN_OK;
}

/* Makes a broken connection usable again. RN_ERR_RETRY if the server
 * cannot be reached yet. */
static rn_err_t pg_conn_ready(pg_conn_t *pc, char *errbuf, size_t errbuf_size)
{
    if (!pc->broken && PQstatus(pc->conn) == CONNECTION_OK) return RN_OK;
    PQreset(pc->conn);
    if (PQstatus(pc->conn) != CONNECTION_OK) {
        char msg[512];
        pg_oneline(msg, sizeof msg, PQerrorMessage(pc->conn));
        snprintf(errbuf, errbuf_size, "%s: cannot reconnect: %s", pc->where, msg);
        return RN_ERR_RETRY;
    }
    PQsetNoticeProcessor(pc->conn, pg_quiet, NULL);
    pc->broken = false;
    return RN_OK;
}

typedef enum pg_fail { PG_FAIL_NONE, PG_FAIL_DATA, PG_FAIL_CONN, PG_FAIL_OTHER } pg_fail;

/* Why res (NULL: libpq could not even send) failed, if it did. */
static pg_fail pg_classify(pg_conn_t *pc, const PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return PG_FAIL_NONE;
    if (!res || PQstatus(pc->conn) != CONNECTION_OK) return PG_FAIL_CONN;
    const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!code || !strncmp(code, "08", 2) || !strncmp(code, "57P0", 4) || !strcmp(code, "40001") ||
        !strcmp(code, "40P01"))
        return PG_FAIL_CONN;
    if (!strncmp(code, "22", 2) || !strncmp(code, "23", 2)) return PG_FAIL_DATA;
    return PG_FAIL_OTHER;
}

/* The server's message of a failed res, one line, with its SQLSTATE. */
static void pg_message(pg_conn_t *pc, const PGresult *res, char *buf, size_t size)
{
    char msg[512];
    const char *prim = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    pg_oneline(msg, sizeof msg, prim ? prim : PQerrorMessage(pc->conn));
    if (detail) {
        char d[256];
        pg_oneline(d, sizeof d, detail);
        snprintf(buf, size, "%s (%s) (SQLSTATE %s)", msg, d, code ? code : "none");
    } else {
        snprintf(buf, size, "%s (SQLSTATE %s)", msg, code ? code : "none");
    }
}

/* Runs a command without result rows. RN_OK; RN_ERR_RETRY (connection,
 * marked broken); RN_ERR_IO with errbuf "where: what: message". *fail
 * (may be NULL) says which. */
static rn_err_t pg_run(pg_conn_t *pc, const char *sql, int nparams, const char *const *params,
                       const char *what, pg_fail *fail, PGresult **keep, char *errbuf, size_t errbuf_size)
{
    PGresult *res = PQexecParams(pc->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    pg_fail f = pg_classify(pc, res);
    if (fail) *fail = f;
    rn_err_t err = RN_OK;
    if (f != PG_FAIL_NONE) {
        char msg[800];
        pg_message(pc, res, msg, sizeof msg);
        snprintf(errbuf, errbuf_size, "%s: %s: %s", pc->where, what, msg);
        if (f == PG_FAIL_CONN) {
            pc->broken = true;
            err = RN_ERR_RETRY;
        } else {
            err = RN_ERR_IO;
        }
    }
    if (keep && err == RN_OK) *keep = res;
    else PQclear(res);
    return err;
}

/* ---- the table's columns ------------------------------------------------ */

typedef struct pg_col {
    char *name;                 /* the column's name in PostgreSQL, owned */
    char *type;                 /* format_type(): the cast of its parameters, owned */
    int attnum;
    bool ts_text;               /* a TIMESTAMP sent/read as date-time text, not epoch ms */
} pg_col_t;

static void pg_cols_free(pg_col_t *cols, int n)
{
    for (int i = 0; cols && i < n; i++) {
        rn_free(cols[i].name);
        rn_free(cols[i].type);
    }
    rn_free(cols);
}

/* True if a PostgreSQL column of type typname (category cat) can hold
 * values of type t; *ts_text says how a timestamp goes there. */
static bool pg_type_fits(rn_type_id t, const char *typname, char cat, bool *ts_text)
{
    *ts_text = false;
    switch (t) {
    case RN_TYPE_STRING: return cat == 'S' || cat == 'U' || cat == 'E';
    case RN_TYPE_BOOLEAN: return !strcmp(typname, "bool");
    case RN_TYPE_INT:
    case RN_TYPE_BIGINT:
        return !strcmp(typname, "int2") || !strcmp(typname, "int4") || !strcmp(typname, "int8") ||
               !strcmp(typname, "numeric");
    case RN_TYPE_DOUBLE:
        return !strcmp(typname, "float4") || !strcmp(typname, "float8") || !strcmp(typname, "numeric");
    case RN_TYPE_TIMESTAMP:
    case RN_TYPE_TIMESTAMP_LTZ:
        if (!strcmp(typname, "timestamp") || !strcmp(typname, "timestamptz")) {
            *ts_text = true;
            return true;
        }
        return !strcmp(typname, "int8");
    default: return false;
    }
}

/* Reads the table's columns and matches schema's against them: cols[i]
 * for schema column i. RN_ERR_CONFIG with a message naming both tables
 * and the column when one is missing or cannot hold its values. */
static rn_err_t pg_check_table(pg_conn_t *pc, const rn_schema_t *schema, const char *runnel_table,
                               const char *pg_table, pg_col_t **cols_out, char *errbuf,
                               size_t errbuf_size)
{
    const char *sql = "SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), "
                      "bt.typname, bt.typcategory "
                      "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                      "JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
                      "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
                      "ORDER BY a.attnum";
    const char *params[1] = {pc->qtable};
    PGresult *res = NULL;
    rn_err_t err = pg_run(pc, sql, 1, params, "cannot read its columns", NULL, &res, errbuf, errbuf_size);
    if (err != RN_OK) return err == RN_ERR_RETRY ? RN_ERR_IO : err;
    int nrows = PQntuples(res);
    if (!nrows) {
        snprintf(errbuf, errbuf_size, "%s does not exist (table '%s' uses it)", pc->where, runnel_table);
        PQclear(res);
        return RN_ERR_CONFIG;
    }
    pg_col_t *cols = rn_calloc((size_t)schema->ncols + 1, sizeof *cols);
    if (!cols) {
        PQclear(res);
        return RN_ERR_NOMEM;
    }
    for (int c = 0; c < schema->ncols && err == RN_OK; c++) {
        const rn_column_t *col = &schema->cols[c];
        int found = -1;
        for (int r = 0; r < nrows && found < 0; r++)
            if (!strcmp(PQgetvalue(res, r, 1), col->name)) found = r;
        for (int r = 0; r < nrows && found < 0; r++)
            if (!strcasecmp(PQgetvalue(res, r, 1), col->name)) found = r;
        if (found < 0) {
            snprintf(errbuf, errbuf_size, "%s has no column '%s' (a column of table '%s')", pc->where,
                     col->name, runnel_table);
            err = RN_ERR_CONFIG;
            break;
        }
        const char *type = PQgetvalue(res, found, 2);
        if (!pg_type_fits(col->type->id, PQgetvalue(res, found, 3), PQgetvalue(res, found, 4)[0],
                          &cols[c].ts_text)) {
            snprintf(errbuf, errbuf_size,
                     "%s: column '%s' is %s, which cannot hold column '%s' (%s) of table '%s'", pc->where,
                     PQgetvalue(res, found, 1), type, col->name, rn_type_name(col->type->id), runnel_table);
            err = RN_ERR_CONFIG;
            break;
        }
        cols[c].attnum = atoi(PQgetvalue(res, found, 0));
        if (!(cols[c].name = rn_strdup(PQgetvalue(res, found, 1))) || !(cols[c].type = rn_strdup(type)))
            err = RN_ERR_NOMEM;
    }
    PQclear(res);
    if (err != RN_OK) {
        pg_cols_free(cols, schema->ncols);
        return err;
    }
    *cols_out = cols;
    return RN_OK;
}

/* True if the table has a PRIMARY KEY or a unique, immediate, non-partial
 * index on exactly the attnums of cols[pk[0..npk)] (ON CONFLICT can use
 * it). RN_ERR_* on a failed query. */
static rn_err_t pg_has_key_index(pg_conn_t *pc, const pg_col_t *cols, const int *pk, int npk, bool *has,
                                 char *errbuf, size_t errbuf_size)
{
    const char *sql = "SELECT i.indkey::text FROM pg_index i WHERE i.indrelid = to_regclass($1) "
                      "AND i.indisunique AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL";
    const char *params[1] = {pc->qtable};
    PGresult *res = NULL;
    rn_err_t err = pg_run(pc, sql, 1, params, "cannot read its indexes", NULL, &res, errbuf, errbuf_size);
    if (err != RN_OK) return err == RN_ERR_RETRY ? RN_ERR_IO : err;
    *has = false;
    for (int r = 0; r < PQntuples(res) && !*has; r++) {
        int n = 0;
        bool all = true;
        char *p = PQgetvalue(res, r, 0), *end;
        for (;; p = end) {
            long a = strtol(p, &end, 10);
            if (end == p) break;
            n++;
            bool in = false;
            for (int k = 0; k < npk; k++) in |= cols[pk[k]].attnum == a;
            all &= in;
        }
        *has = all && n == npk;
    }
    PQclear(res);
    return RN_OK;
}

/* ---- the sink ----------------------------------------------------------- */

typedef struct pg_sink {
    rn_sink_io_t base;
    pg_conn_t pc;
    const rn_schema_t *schema;  /* the columns written */
    pg_col_t *cols;             /* schema->ncols, owned */
    int npk;                    /* key columns (upsert), 0 for append */
    int *pk;                    /* owned */
    bool on_conflict;           /* upsert by ON CONFLICT; else UPDATE then INSERT */
    int64_t max_rows;           /* flush at this many pending rows; 0 = no limit */
    int64_t interval_ms;        /* flush pending rows this old; 0 = no limit */
    int64_t first_ms;           /* when the oldest pending row came */
    /* the pending set: rows as text, in arrival order */
    int nrows, cap;
    int64_t *off;               /* nrows * ncols offsets into text, -1 = NULL */
    uint8_t *state;             /* per row: PG_ROW_PUT, PG_ROW_DEL, PG_ROW_DEAD */
    rn_buf_t text;
    int *slots;                 /* upsert: open-addressing map key -> row (-1 empty) */
    int nslots;                 /* a power of two */
    int live;                   /* rows not dead */
    rn_buf_t sql;               /* statement text, reused */
    const char **params;        /* parameter pointers, reused */
    int cap_params;
    char *pipeline;             /* exactly-once: the pipeline's name in the commit records, owned */
    char *qmarks;               /* exactly-once: the commit records' table, quoted, owned */
} pg_sink_t;

/* Exactly-once: the commit record that a flush inserts first, writing the
 * rows only when it was not there yet. */
typedef struct pg_mark {
    const char *sink, *writer;  /* op/io.h commit_once's names */
    uint64_t ckpt;              /* the checkpoint */
    uint64_t keep_from;         /* records of (sink, writer) below it are deleted; 0 = none */
} pg_mark_t;

enum { PG_ROW_PUT = 1, PG_ROW_DEL = 2, PG_ROW_DEAD = 3 };

static const char *pg_val(const pg_sink_t *s, int row, int c)
{
    int64_t o = s->off[(size_t)row * (size_t)s->schema->ncols + (size_t)c];
    return o < 0 ? NULL : s->text.data + o;
}

static uint64_t pg_key_hash(const pg_sink_t *s, int row)
{
    uint64_t h = 0x51ed27;
    for (int k = 0; k < s->npk; k++) {
        const char *v = pg_val(s, row, s->pk[k]);
        h = rn_hash_bytes(v ? v : "", v ? strlen(v) + 1 : 0, h);
    }
    return h;
}

static bool pg_key_equal(const pg_sink_t *s, int a, int b)
{
    for (int k = 0; k < s->npk; k++) {
        const char *x = pg_val(s, a, s->pk[k]), *y = pg_val(s, b, s->pk[k]);
        if (!x != !y || (x && strcmp(x, y))) return false;
    }
    return true;
}

/* Rebuilds the key map for at least need rows. */
static bool pg_slots_grow(pg_sink_t *s, int need)
{
    int n = s->nslots ? s->nslots : 256;
    while (n < need * 2) n *= 2;
    int *slots = rn_malloc(sizeof *slots * (size_t)n);
    if (!slots) return false;
    for (int i = 0; i < n; i++) slots[i] = -1;
    for (int r = 0; r < s->nrows; r++) {
        if (s->state[r] == PG_ROW_DEAD) continue;
        size_t i = pg_key_hash(s, r) & (size_t)(n - 1);
        while (slots[i] >= 0) i = (i + 1) & (size_t)(n - 1);
        slots[i] = r;
    }
    rn_free(s->slots);
    s->slots = slots;
    s->nslots = n;
    return true;
}

/* Forgets the pending set (committed). */
static void pg_pending_clear(pg_sink_t *s)
{
    s->nrows = s->live = 0;
    rn_buf_clear(&s->text);
    for (int i = 0; i < s->nslots; i++) s->slots[i] = -1;
}

/* Copies row r of batch into the pending set; an upsert replaces the
 * pending change of the same key. */
static rn_err_t pg_hold(pg_sink_t *s, const rn_batch_t *batch, int r, bool del)
{
    int ncols = s->schema->ncols;
    if (s->nrows == s->cap) {
        int cap = s->cap ? s->cap * 2 : 256;
        int64_t *off = rn_realloc(s->off, sizeof *off * (size_t)cap * (size_t)(ncols ? ncols : 1));
        if (!off) return RN_ERR_NOMEM;
        s->off = off;
        uint8_t *st = rn_realloc(s->state, (size_t)cap);
        if (!st) return RN_ERR_NOMEM;
        s->state = st;
        s->cap = cap;
    }
    if (s->npk && s->live * 2 + 2 > s->nslots && !pg_slots_grow(s, s->live + 1)) return RN_ERR_NOMEM;
    int row = s->nrows;
    int64_t *off = s->off + (size_t)row * (size_t)ncols;
    for (int c = 0; c < ncols; c++) {
        off[c] = (int64_t)s->text.len;
        if (!rn_jdbc_value_text(&s->text, s->schema->cols[c].type->id, rn_batch_value_ptr(batch, c, r),
                                s->cols[c].ts_text))
            off[c] = -1;
    }
    if (s->text.oom) return RN_ERR_NOMEM;
    s->state[row] = del ? PG_ROW_DEL : PG_ROW_PUT;
    s->nrows++;
    s->live++;
    if (s->npk) {
        size_t i = pg_key_hash(s, row) & (size_t)(s->nslots - 1);
        while (s->slots[i] >= 0 && !pg_key_equal(s, s->slots[i], row)) i = (i + 1) & (size_t)(s->nslots - 1);
        if (s->slots[i] >= 0 && s->state[s->slots[i]] != PG_ROW_DEAD) { /* last change wins */
            s->state[s->slots[i]] = PG_ROW_DEAD;
            s->live--;
        }
        s->slots[i] = row;
    }
    return RN_OK;
}

static bool pg_params_room(pg_sink_t *s, int n)
{
    if (n <= s->cap_params) return true;
    const char **p = rn_realloc(s->params, sizeof *p * (size_t)n);
    if (!p) return false;
    s->params = p;
    s->cap_params = n;
    return true;
}

/* Appends "(x1, x2, ..)" aliases of n columns. */
static void pg_aliases(rn_buf_t *b, int n)
{
    rn_buf_appends(b, "(");
    for (int i = 0; i < n; i++) rn_buf_appendf(b, "%sx%d", i ? ", " : "", i + 1);
    rn_buf_appends(b, ")");
}

/* Appends "VALUES ($1::t1, ..), (..)" for n rows of the columns idx[0..nc)
 * and sets their parameters from rows[]. */
static void pg_values(pg_sink_t *s, rn_buf_t *b, const int *rows, int n, const int *idx, int nc)
{
    int p = 0;
    rn_buf_appends(b, "VALUES ");
    for (int j = 0; j < n; j++) {
        rn_buf_appends(b, j ? ", (" : "(");
        for (int i = 0; i < nc; i++) {
            rn_buf_appendf(b, "%s$%d::%s", i ? ", " : "", p + 1, s->cols[idx[i]].type);
            s->params[p++] = pg_val(s, rows[j], idx[i]);
        }
        rn_buf_appends(b, ")");
    }
}

static bool pg_in_key(const pg_sink_t *s, int c)
{
    for (int k = 0; k < s->npk; k++)
        if (s->pk[k] == c) return true;
    return false;
}

/* Writes rows[0..n) (all PUT or all DEL) in one statement. */
static rn_err_t pg_write_chunk(pg_sink_t *s, const int *rows, int n, bool del, pg_fail *fail, char *errbuf,
                               size_t errbuf_size)
{
    const rn_schema_t *sc = s->schema;
    int ncols = sc->ncols;
    int all[ncols > 0 ? ncols : 1];
    for (int c = 0; c < ncols; c++) all[c] = c;
    rn_buf_t *b = &s->sql;
    rn_buf_clear(b);
    if (!pg_params_room(s, n * ncols)) return RN_ERR_NOMEM;
    if (del) {
        rn_buf_appends(b, "DELETE FROM ");
        rn_buf_appends(b, s->pc.qtable);
        rn_buf_appends(b, " AS t USING (");
        pg_values(s, b, rows, n, s->pk, s->npk);
        rn_buf_appends(b, ") AS v");
        pg_aliases(b, s->npk);
        for (int k = 0; k < s->npk; k++) {
            rn_buf_appends(b, k ? " AND t." : " WHERE t.");
            rn_jdbc_ident(b, s->cols[s->pk[k]].name);
            rn_buf_appendf(b, " = v.x%d", k + 1);
        }
    } else if (!s->npk || s->on_conflict) {
        rn_buf_appends(b, "INSERT INTO ");
        rn_buf_appends(b, s->pc.qtable);
        rn_buf_appends(b, " (");
        for (int c = 0; c < ncols; c++) {
            if (c) rn_buf_appends(b, ", ");
            rn_jdbc_ident(b, s->cols[c].name);
        }
        rn_buf_appends(b, ") ");
        pg_values(s, b, rows, n, all, ncols);
        if (s->npk) {
            rn_buf_appends(b, " ON CONFLICT (");
            for (int k = 0; k < s->npk; k++) {
                if (k) rn_buf_appends(b, ", ");
                rn_jdbc_ident(b, s->cols[s->pk[k]].name);
            }
            rn_buf_appends(b, ") DO ");
            int nset = 0;
            for (int c = 0; c < ncols; c++) {
                if (pg_in_key(s, c)) continue;
                rn_buf_appends(b, nset++ ? ", " : "UPDATE SET ");
                rn_jdbc_ident(b, s->cols[c].name);
                rn_buf_appends(b, " = EXCLUDED.");
                rn_jdbc_ident(b, s->cols[c].name);
            }
            if (!nset) rn_buf_appends(b, "NOTHING");
        }
    } else {
        /* no index on the key: update the keys that exist, insert the others */
        rn_buf_appends(b, "WITH v");
        pg_aliases(b, ncols);
        rn_buf_appends(b, " AS (");
        pg_values(s, b, rows, n, all, ncols);
        rn_buf_appends(b, "), u AS (UPDATE ");
        rn_buf_appends(b, s->pc.qtable);
        rn_buf_appends(b, " AS t SET ");
        int nset = 0;
        bool keys_only = s->npk >= ncols; /* then SET the key to itself */
        for (int c = 0; c < ncols; c++) {
            if (pg_in_key(s, c) && !(keys_only && c == s->pk[0])) continue;
            rn_buf_appends(b, nset++ ? ", " : "");
            rn_jdbc_ident(b, s->cols[c].name);
            rn_buf_appendf(b, " = v.x%d", c + 1);
        }
        rn_buf_appends(b, " FROM v");
        for (int k = 0; k < s->npk; k++) {
            rn_buf_appends(b, k ? " AND t." : " WHERE t.");
            rn_jdbc_ident(b, s->cols[s->pk[k]].name);
            rn_buf_appendf(b, " = v.x%d", s->pk[k] + 1);
        }
        rn_buf_appends(b, " RETURNING ");
        for (int k = 0; k < s->npk; k++) rn_buf_appendf(b, "%sv.x%d", k ? ", " : "", s->pk[k] + 1);
        rn_buf_appends(b, ") INSERT INTO ");
        rn_buf_appends(b, s->pc.qtable);
        rn_buf_appends(b, " (");
        for (int c = 0; c < ncols; c++) {
            if (c) rn_buf_appends(b, ", ");
            rn_jdbc_ident(b, s->cols[c].name);
        }
        rn_buf_appends(b, ") SELECT ");
        for (int c = 0; c < ncols; c++) rn_buf_appendf(b, "%sv.x%d", c ? ", " : "", c + 1);
        rn_buf_appends(b, " FROM v WHERE NOT EXISTS (SELECT 1 FROM u WHERE ");
        for (int k = 0; k < s->npk; k++)
            rn_buf_appendf(b, "%su.x%d = v.x%d", k ? " AND " : "", s->pk[k] + 1, s->pk[k] + 1);
        rn_buf_appends(b, ")");
    }
    rn_buf_appendc(b, 0);
    if (b->oom) return RN_ERR_NOMEM;
    int nparams = n * (del ? s->npk : ncols);
    return pg_run(&s->pc, b->data, nparams, s->params, del ? "delete failed" : "write failed", fail, NULL,
                  errbuf, errbuf_size);
}

/* Gives pending row `row`, refused with msg, to the reject hook. */
static rn_err_t pg_reject(pg_sink_t *s, int row, const char *msg, char *errbuf, size_t errbuf_size)
{
    rn_buf_t b;
    rn_buf_init(&b);
    rn_buf_appendc(&b, '{');
    for (int c = 0; c < s->schema->ncols; c++) {
        const rn_column_t *col = &s->schema->cols[c];
        if (c) rn_buf_appendc(&b, ',');
        rn_json_write_string(&b, col->name, strlen(col->name));
        rn_buf_appendc(&b, ':');
        const char *v = pg_val(s, row, c);
        rn_jdbc_text_json(&b, col->type->id, v, v ? strlen(v) : 0);
    }
    rn_buf_appendc(&b, '}');
    rn_err_t err = b.oom ? RN_ERR_NOMEM
                         : rn_jdbc_reject_json(&s->base, b.data, b.len, msg, s->pc.where, errbuf, errbuf_size);
    rn_buf_free(&b);
    return err;
}

/* Writes rows[0..n) in chunks. careful: a SAVEPOINT per chunk, and a
 * chunk the server refuses for its data is written row by row, each
 * refused row rejected (and marked dead). Not careful: a data failure
 * returns RN_ERR_IO with *fail = PG_FAIL_DATA. */
static rn_err_t pg_write_all(pg_sink_t *s, const int *rows, int n, bool del, bool careful, pg_fail *fail,
                             char *errbuf, size_t errbuf_size)
{
    int per = del ? s->npk : s->schema->ncols;
    int chunk = PG_MAX_PARAMS / (per ? per : 1);
    if (chunk > PG_CHUNK_ROWS) chunk = PG_CHUNK_ROWS;
    if (chunk < 1) chunk = 1;
    for (int from = 0; from < n; from += chunk) {
        int m = n - from < chunk ? n - from : chunk;
        rn_err_t err;
        if (careful && (err = pg_run(&s->pc, "SAVEPOINT rn_chunk", 0, NULL, "savepoint failed", fail, NULL,
                                     errbuf, errbuf_size)) != RN_OK)
            return err;
        err = pg_write_chunk(s, rows + from, m, del, fail, errbuf, errbuf_size);
        if (err == RN_OK && careful) /* savepoints are subtransactions: release each */
            err = pg_run(&s->pc, "RELEASE SAVEPOINT rn_chunk", 0, NULL, "release failed", fail, NULL, errbuf,
                         errbuf_size);
        if (err == RN_OK || *fail != PG_FAIL_DATA || !careful) {
            if (err != RN_OK) return err;
            continue;
        }
        if ((err = pg_run(&s->pc, "ROLLBACK TO SAVEPOINT rn_chunk", 0, NULL, "rollback failed", fail, NULL,
                          errbuf, errbuf_size)) != RN_OK)
            return err;
        for (int j = from; j < from + m; j++) {
            if ((err = pg_run(&s->pc, "SAVEPOINT rn_row", 0, NULL, "savepoint failed", fail, NULL, errbuf,
                              errbuf_size)) != RN_OK)
                return err;
            err = pg_write_chunk(s, rows + j, 1, del, fail, errbuf, errbuf_size);
            if (err == RN_OK) {
                if ((err = pg_run(&s->pc, "RELEASE SAVEPOINT rn_row", 0, NULL, "release failed", fail, NULL,
                                  errbuf, errbuf_size)) != RN_OK)
                    return err;
                continue;
            }
            if (*fail != PG_FAIL_DATA) return err;
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", errbuf);
            const char *server = strstr(msg, "failed: ");
            if ((err = pg_run(&s->pc, "ROLLBACK TO SAVEPOINT rn_row", 0, NULL, "rollback failed", fail, NULL,
                              errbuf, errbuf_size)) != RN_OK)
                return err;
            if ((err = pg_reject(s, rows[j], server ? server + 8 : msg, errbuf, errbuf_size)) != RN_OK) {
                *fail = PG_FAIL_OTHER;
                return err;
            }
            s->state[rows[j]] = PG_ROW_DEAD;
            s->live--;
        }
        if ((err = pg_run(&s->pc, "RELEASE SAVEPOINT rn_chunk", 0, NULL, "release failed", fail, NULL, errbuf,
                          errbuf_size)) != RN_OK)
            return err;
    }
    return RN_OK;
}

/* Deletes the commit records of (pipeline, sink, writer) = params[0..2]
 * below checkpoint params[3]. */
static rn_err_t pg_forget_below(pg_sink_t *s, const char *const params[4], pg_fail *fail, char *errbuf,
                                size_t errbuf_size)
{
    rn_buf_t *b = &s->sql;
    rn_buf_clear(b);
    rn_buf_appendf(b, "DELETE FROM %s WHERE pipeline = $1 AND sink = $2 AND writer = $3 AND checkpoint < $4::bigint",
                   s->qmarks);
    rn_buf_appendc(b, 0);
    if (b->oom) return RN_ERR_NOMEM;
    return pg_run(&s->pc, b->data, 4, params, "cannot forget old commit records", fail, NULL, errbuf, errbuf_size);
}

/* Exactly-once: inserts mark's record in the open transaction; *fresh
 * says whether it was not there yet (the rows are to be written). Then
 * deletes the records of the same sink and writer below keep_from. */
static rn_err_t pg_mark(pg_sink_t *s, const pg_mark_t *mark, bool *fresh, pg_fail *fail, char *errbuf,
                        size_t errbuf_size)
{
    char id[24], nrows[24], keep[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)mark->ckpt);
    snprintf(nrows, sizeof nrows, "%d", s->live);
    snprintf(keep, sizeof keep, "%llu", (unsigned long long)mark->keep_from);
    const char *params[5] = {s->pipeline, mark->sink, mark->writer, id, nrows};
    rn_buf_t *b = &s->sql;
    rn_buf_clear(b);
    rn_buf_appendf(b, "INSERT INTO %s (pipeline, sink, writer, checkpoint, rows) VALUES ($1, $2, $3, $4::bigint, "
                   "$5::bigint) ON CONFLICT DO NOTHING", s->qmarks);
    rn_buf_appendc(b, 0);
    if (b->oom) return RN_ERR_NOMEM;
    PGresult *res = NULL;
    rn_err_t err = pg_run(&s->pc, b->data, 5, params, "cannot record the checkpoint's commit", fail, &res, errbuf,
                          errbuf_size);
    if (err != RN_OK) return err;
    *fresh = !strcmp(PQcmdTuples(res), "1");
    PQclear(res);
    if (!mark->keep_from) return RN_OK;
    params[3] = keep;
    return pg_forget_below(s, params, fail, errbuf, errbuf_size);
}

/* Writes the pending set in one transaction and forgets it once committed.
 * With mark (exactly-once) the transaction records the commit first and
 * writes the rows only when it was not recorded before. */
static rn_err_t pg_flush_pending(pg_sink_t *s, const pg_mark_t *mark, char *errbuf, size_t errbuf_size)
{
    if (!s->live && !mark) {
        pg_pending_clear(s);
        return RN_OK;
    }
    rn_err_t err = pg_conn_ready(&s->pc, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    int *dels = rn_malloc(sizeof(int) * (size_t)s->nrows), *puts = rn_malloc(sizeof(int) * (size_t)s->nrows);
    if (!dels || !puts) {
        rn_free(dels);
        rn_free(puts);
        return RN_ERR_NOMEM;
    }
    for (bool careful = false;; careful = true) {
        int nd = 0, np = 0;
        for (int r = 0; r < s->nrows; r++) {
            if (s->state[r] == PG_ROW_DEL) dels[nd++] = r;
            else if (s->state[r] == PG_ROW_PUT) puts[np++] = r;
        }
        pg_fail fail = PG_FAIL_NONE;
        bool fresh = true;
        err = pg_run(&s->pc, "BEGIN", 0, NULL, "cannot begin a transaction", &fail, NULL, errbuf, errbuf_size);
        if (err == RN_OK && mark) err = pg_mark(s, mark, &fresh, &fail, errbuf, errbuf_size);
        if (!fresh) nd = np = 0; /* committed before: the rows are there */
        if (err == RN_OK) err = pg_write_all(s, dels, nd, true, careful, &fail, errbuf, errbuf_size);
        if (err == RN_OK) err = pg_write_all(s, puts, np, false, careful, &fail, errbuf, errbuf_size);
        if (err == RN_OK) err = pg_run(&s->pc, "COMMIT", 0, NULL, "commit failed", &fail, NULL, errbuf, errbuf_size);
        if (err == RN_OK) {
            pg_pending_clear(s);
            break;
        }
        if (!s->pc.broken) {
            char keep[1024];
            snprintf(keep, sizeof keep, "%s", errbuf);
            pg_run(&s->pc, "ROLLBACK", 0, NULL, "rollback failed", NULL, NULL, errbuf, errbuf_size);
            snprintf(errbuf, errbuf_size, "%s", keep);
        }
        if (careful || fail != PG_FAIL_DATA || s->pc.broken) break;
        /* a row refused for its data: redo the flush finding it */
    }
    rn_free(dels);
    rn_free(puts);
    if (s->pc.broken) return RN_ERR_RETRY;
    if (err != RN_OK && mark) pg_pending_clear(s); /* op/io.h: dropped, the pipeline stops */
    return err;
}

static rn_err_t pg_write_rows(rn_sink_io_t *io, const rn_batch_t *batch, const int *rows, int n,
                              const rn_sink_layout_t *layout, char *errbuf, size_t errbuf_size)
{
    pg_sink_t *s = (pg_sink_t *)io;
    bool upsert = s->npk > 0;
    if (n > 0 && !s->live) s->first_ms = rn_clock_wall_ms();
    for (int j = 0; j < n; j++) {
        int r = rows[j];
        bool del = upsert && rn_rowkind_is_retract((rn_rowkind_t)batch->kinds[r]);
        rn_err_t err = pg_hold(s, batch, r, del);
        if (err != RN_OK) return err;
    }
    if ((s->max_rows && s->live >= s->max_rows) ||
        (s->interval_ms && s->live && rn_clock_wall_ms() - s->first_ms >= s->interval_ms))
        return pg_flush_pending(s, NULL, errbuf, errbuf_size);
    return RN_OK;
}

static rn_err_t pg_write(rn_sink_io_t *io, const char *key, size_t klen, const char *value, size_t vlen,
                         rn_rowkind_t kind, char *errbuf, size_t errbuf_size)
{
    snprintf(errbuf, errbuf_size, "%s: takes typed rows only", ((pg_sink_t *)io)->pc.where);
    return RN_ERR_FATAL;
}

static rn_err_t pg_flush(rn_sink_io_t *io, char *errbuf, size_t errbuf_size)
{
    return pg_flush_pending((pg_sink_t *)io, NULL, errbuf, errbuf_size);
}

/* rn_sink_io_t.commit_once */
static rn_err_t pg_commit_once(rn_sink_io_t *io, const char *sink, const char *writer, uint64_t ckpt,
                               uint64_t keep_from, char *errbuf, size_t errbuf_size)
{
    pg_mark_t mark = {.sink = sink, .writer = writer, .ckpt = ckpt, .keep_from = keep_from};
    return pg_flush_pending((pg_sink_t *)io, &mark, errbuf, errbuf_size);
}

/* rn_sink_io_t.forget_commits */
static rn_err_t pg_forget_commits(rn_sink_io_t *io, const char *sink, const char *writer, uint64_t keep_from,
                                  uint64_t *oldest, char *errbuf, size_t errbuf_size)
{
    pg_sink_t *s = (pg_sink_t *)io;
    rn_err_t err = pg_conn_ready(&s->pc, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    char keep[24];
    snprintf(keep, sizeof keep, "%llu", (unsigned long long)keep_from);
    const char *params[4] = {s->pipeline, sink, writer, keep};
    if ((err = pg_forget_below(s, params, NULL, errbuf, errbuf_size)) != RN_OK) return err;
    rn_buf_t *b = &s->sql;
    rn_buf_clear(b);
    rn_buf_appendf(b, "SELECT min(checkpoint) FROM %s WHERE pipeline = $1 AND sink = $2 AND writer = $3", s->qmarks);
    rn_buf_appendc(b, 0);
    if (b->oom) return RN_ERR_NOMEM;
    PGresult *res = NULL;
    if ((err = pg_run(&s->pc, b->data, 3, params, "cannot read the commit records", NULL, &res, errbuf,
                      errbuf_size)) != RN_OK)
        return err;
    *oldest = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return RN_OK;
}

/* Exactly-once: creates the table of commit records when missing, next
 * to the sink's table (in its schema). Two processes creating it at once
 * may collide in the catalog: then it exists, and the second try sees it. */
static rn_err_t pg_marks_open(pg_sink_t *s, const rn_jdbc_conf_t *c, char *errbuf, size_t errbuf_size)
{
    rn_buf_t b;
    rn_buf_init(&b);
    const char *dot = strchr(c->table, '.');
    if (dot) {
        char *schema = rn_strndup(c->table, (size_t)(dot - c->table));
        if (schema) rn_jdbc_ident(&b, schema);
        else b.oom = 1;
        rn_free(schema);
        rn_buf_appends(&b, ".");
    }
    rn_buf_appends(&b, RN_JDBC_COMMITS_TABLE);
    rn_buf_appendc(&b, 0);
    if (b.oom) {
        rn_buf_free(&b);
        return RN_ERR_NOMEM;
    }
    s->qmarks = b.data;
    /* there already: a role that may not create tables can use it */
    PGresult *res = NULL;
    const char *name = s->qmarks;
    rn_err_t err = pg_run(&s->pc, "SELECT to_regclass($1) IS NOT NULL", 1, &name,
                          "cannot look for the table of exactly-once commits", NULL, &res, errbuf, errbuf_size);
    if (err != RN_OK) return err == RN_ERR_RETRY ? RN_ERR_IO : err;
    bool exists = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    if (exists) return RN_OK;
    rn_buf_clear(&s->sql);
    rn_buf_appendf(&s->sql, "CREATE TABLE IF NOT EXISTS %s (pipeline text NOT NULL, sink text NOT NULL, "
                   "writer text NOT NULL, checkpoint bigint NOT NULL, rows bigint NOT NULL, "
                   "committed_at timestamptz NOT NULL DEFAULT now(), "
                   "PRIMARY KEY (pipeline, sink, writer, checkpoint))", s->qmarks);
    rn_buf_appendc(&s->sql, 0);
    if (s->sql.oom) return RN_ERR_NOMEM;
    for (int tries = 0; tries < 3; tries++)
        if ((err = pg_run(&s->pc, s->sql.data, 0, NULL, "cannot create the table of exactly-once commits", NULL,
                          NULL, errbuf, errbuf_size)) == RN_OK)
            break;
    return err == RN_ERR_RETRY ? RN_ERR_IO : err;
}

static void pg_sink_close(rn_sink_io_t *io)
{
    pg_sink_t *s = (pg_sink_t *)io;
    if (!s) return;
    pg_conn_close(&s->pc);
    pg_cols_free(s->cols, s->schema ? s->schema->ncols : 0);
    rn_free(s->pk);
    rn_free(s->off);
    rn_free(s->state);
    rn_free(s->slots);
    rn_free(s->params);
    rn_buf_free(&s->text);
    rn_buf_free(&s->sql);
    rn_free(s->pipeline);
    rn_free(s->qmarks);
    rn_free(s);
}

rn_err_t rn_jdbc_pg_open_sink(const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx, rn_sink_io_t **out,
                              char *errbuf, size_t errbuf_size)
{
    pg_sink_t *s = rn_calloc(1, sizeof *s);
    if (!s) return RN_ERR_NOMEM;
    s->base.write = pg_write;
    s->base.write_rows = pg_write_rows;
    s->base.flush = pg_flush;
    s->base.close = pg_sink_close;
    s->schema = ctx->schema;
    s->max_rows = c->max_rows;
    if (!rn_jdbc_interval_ms(c, &s->interval_ms)) s->interval_ms = 0; /* validated earlier */
    rn_buf_init(&s->text);
    rn_buf_init(&s->sql);
    s->npk = ctx->sink_mode == RN_SINK_UPSERT ? ctx->npk : 0;
    if (!(s->pk = rn_calloc((size_t)(s->npk ? s->npk : 1), sizeof(int)))) {
        rn_free(s);
        return RN_ERR_NOMEM;
    }
    if (s->npk) memcpy(s->pk, ctx->pk, sizeof(int) * (size_t)s->npk);
    rn_err_t err = pg_conn_open(&s->pc, c, ctx, errbuf, errbuf_size);
    if (err == RN_OK) err = pg_check_table(&s->pc, s->schema, ctx->table, c->table, &s->cols, errbuf, errbuf_size);
    if (err == RN_OK && s->npk)
        err = pg_has_key_index(&s->pc, s->cols, s->pk, s->npk, &s->on_conflict, errbuf, errbuf_size);
    if (err == RN_OK && !strcasecmp(c->delivery, "exactly-once")) {
        /* rows are held by the sink operator until a checkpoint commits
         * them (write_rows then commit_once): no flush of our own */
        s->max_rows = s->interval_ms = 0;
        s->base.commit_once = pg_commit_once;
        s->base.forget_commits = pg_forget_commits;
        if (!(s->pipeline = rn_strdup(ctx->pipeline ? ctx->pipeline : ""))) err = RN_ERR_NOMEM;
        else err = pg_marks_open(s, c, errbuf, errbuf_size);
    }
    if (err != RN_OK) {
        pg_sink_close(&s->base);
        return err;
    }
    *out = &s->base;
    return RN_OK;
}

/* ---- reading: lookup, scan, the scan source ------------------------------ */

typedef struct pg_reading {
    pg_conn_t pc;
    const rn_schema_t *schema;  /* the declared columns */
    pg_col_t *cols;             /* their PostgreSQL columns, owned */
    rn_buf_t select;            /* the SELECT list: t."c1", .. (timestamps as epoch ms) */
    bool in_scan;               /* a scan cursor is open (its transaction too) */
    int64_t scan_pos;           /* rows the cursor has returned */
} pg_reading_t;

static void pg_reading_close(pg_reading_t *rd)
{
    if (rd->in_scan && !rd->pc.broken && rd->pc.conn) {
        PGresult *res = PQexec(rd->pc.conn, "ROLLBACK");
        PQclear(res);
    }
    pg_cols_free(rd->cols, rd->schema ? rd->schema->ncols : 0);
    pg_conn_close(&rd->pc);
    rn_buf_free(&rd->select);
}

static rn_err_t pg_reading_open(pg_reading_t *rd, const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx,
                                char *errbuf, size_t errbuf_size)
{
    memset(rd, 0, sizeof *rd);
    rn_buf_init(&rd->select);
    if (!ctx->schema) {
        snprintf(errbuf, errbuf_size, "table '%s': 'jdbc' needs the table's columns to read it", ctx->table);
        return RN_ERR_FATAL;
    }
    rd->schema = ctx->schema;
    rn_err_t err = pg_conn_open(&rd->pc, c, ctx, errbuf, errbuf_size);
    if (err == RN_OK) err = pg_check_table(&rd->pc, rd->schema, ctx->table, c->table, &rd->cols, errbuf, errbuf_size);
    if (err != RN_OK) {
        pg_reading_close(rd);
        return err;
    }
    for (int i = 0; i < rd->schema->ncols; i++) {
        rn_buf_appends(&rd->select, i ? ", " : "");
        bool ts = rd->cols[i].ts_text;
        rn_buf_appends(&rd->select, ts ? "floor(extract(epoch from t." : "t.");
        rn_jdbc_ident(&rd->select, rd->cols[i].name);
        if (ts) rn_buf_appends(&rd->select, ") * 1000)::int8");
    }
    rn_buf_appendc(&rd->select, 0);
    if (rd->select.oom) {
        pg_reading_close(rd);
        return RN_ERR_NOMEM;
    }
    return RN_OK;
}

/* Fetches the next up to max rows of the whole table from *pos on (the
 * cursor is (re)opened and moved there when needed) into *res. *done when
 * the table ended. RN_ERR_RETRY when the server cannot be reached. */
static rn_err_t pg_fetch(pg_reading_t *rd, int64_t pos, int max, PGresult **res, bool *done, char *errbuf,
                         size_t errbuf_size)
{
    rn_err_t err = pg_conn_ready(&rd->pc, errbuf, errbuf_size);
    if (err != RN_OK) {
        rd->in_scan = false;
        return err;
    }
    if (rd->in_scan && rd->scan_pos != pos) {
        pg_run(&rd->pc, "ROLLBACK", 0, NULL, "rollback failed", NULL, NULL, errbuf, errbuf_size);
        rd->in_scan = false;
    }
    char sql[128];
    if (!rd->in_scan) {
        rn_buf_t q;
        rn_buf_init(&q);
        rn_buf_appends(&q, "DECLARE rn_scan NO SCROLL CURSOR FOR SELECT ");
        rn_buf_appends(&q, rd->select.data);
        rn_buf_appends(&q, " FROM ");
        rn_buf_appends(&q, rd->pc.qtable);
        rn_buf_appends(&q, " AS t");
        rn_buf_appendc(&q, 0);
        if (q.oom) {
            rn_buf_free(&q);
            return RN_ERR_NOMEM;
        }
        err = pg_run(&rd->pc, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, "cannot read it", NULL,
                     NULL, errbuf, errbuf_size);
        if (err == RN_OK) err = pg_run(&rd->pc, q.data, 0, NULL, "cannot read it", NULL, NULL, errbuf, errbuf_size);
        rn_buf_free(&q);
        if (err == RN_OK && pos > 0) {
            snprintf(sql, sizeof sql, "MOVE FORWARD %lld FROM rn_scan", (long long)pos);
            err = pg_run(&rd->pc, sql, 0, NULL, "cannot read it", NULL, NULL, errbuf, errbuf_size);
        }
        if (err != RN_OK) {
            if (!rd->pc.broken) pg_run(&rd->pc, "ROLLBACK", 0, NULL, "rollback failed", NULL, NULL, errbuf, 0);
            return err;
        }
        rd->in_scan = true;
        rd->scan_pos = pos;
    }
    snprintf(sql, sizeof sql, "FETCH FORWARD %d FROM rn_scan", max);
    err = pg_run(&rd->pc, sql, 0, NULL, "cannot read it", NULL, res, errbuf, errbuf_size);
    if (err != RN_OK) {
        rd->in_scan = false;
        return err;
    }
    int n = PQntuples(*res);
    rd->scan_pos += n;
    *done = n < max;
    if (*done) {
        pg_run(&rd->pc, "COMMIT", 0, NULL, "commit failed", NULL, NULL, errbuf, errbuf_size);
        rd->in_scan = false;
    }
    return RN_OK;
}

typedef struct pg_lookup {
    rn_lookup_t base;
    pg_reading_t rd;
    int nkeys;
    int *key_cols;              /* nkeys indexes into rd.schema, owned */
    rn_jdbc_answer_t answer;
    rn_buf_t sql;
    const char **params;
    int cap_params;
} pg_lookup_t;

/* One query for keys[from..to): their rows, numbered by key, into the answer. */
static rn_err_t pg_lookup_query(pg_lookup_t *l, const rn_batch_t *keys, int from, int to, char *errbuf,
                                size_t errbuf_size)
{
    int n = to - from, nk = l->nkeys;
    if (n * nk > l->cap_params) {
        const char **p = rn_realloc(l->params, sizeof *p * (size_t)(n * nk));
        if (!p) return RN_ERR_NOMEM;
        l->params = p;
        l->cap_params = n * nk;
    }
    rn_buf_t text; /* the keys' text: NUL-separated, offsets fixed up after */
    rn_buf_init(&text);
    int64_t *off = rn_malloc(sizeof *off * (size_t)(n * nk));
    if (!off) return RN_ERR_NOMEM;
    rn_buf_t *b = &l->sql;
    rn_buf_clear(b);
    rn_buf_appends(b, "SELECT v.i, ");
    rn_buf_appends(b, l->rd.select.data);
    rn_buf_appends(b, " FROM (VALUES ");
    int p = 0;
    for (int r = from; r < to; r++) {
        rn_buf_appendf(b, "%s(%d", r > from ? ", " : "", r);
        for (int k = 0; k < nk; k++) {
            const pg_col_t *col = &l->rd.cols[l->key_cols[k]];
            rn_buf_appendf(b, ", $%d::%s", p + 1, col->type);
            off[p] = (int64_t)text.len;
            if (!rn_jdbc_value_text(&text, keys->schema->cols[k].type->id, rn_batch_value_ptr(keys, k, r),
                                    col->ts_text))
                off[p] = -1;
            p++;
        }
        rn_buf_appends(b, ")");
    }
    rn_buf_appends(b, ") AS v(i");
    for (int k = 0; k < nk; k++) rn_buf_appendf(b, ", x%d", k + 1);
    rn_buf_appends(b, ") JOIN ");
    rn_buf_appends(b, l->rd.pc.qtable);
    rn_buf_appends(b, " AS t ON ");
    for (int k = 0; k < nk; k++) {
        rn_buf_appends(b, k ? " AND t." : "t.");
        rn_jdbc_ident(b, l->rd.cols[l->key_cols[k]].name);
        rn_buf_appendf(b, " = v.x%d", k + 1);
    }
    rn_buf_appends(b, " ORDER BY v.i");
    rn_buf_appendc(b, 0);
    rn_err_t err = RN_OK;
    if (b->oom || text.oom) err = RN_ERR_NOMEM;
    for (int i = 0; err == RN_OK && i < p; i++) l->params[i] = off[i] < 0 ? NULL : text.data + off[i];
    PGresult *res = NULL;
    if (err == RN_OK) err = pg_run(&l->rd.pc, b->data, p, l->params, "lookup failed", NULL, &res, errbuf, errbuf_size);
    rn_free(off);
    rn_buf_free(&text);
    if (err != RN_OK) return err;
    int ncols = l->rd.schema->ncols;
    const char **vals = rn_calloc((size_t)ncols + 1, sizeof *vals);
    size_t *lens = rn_calloc((size_t)ncols + 1, sizeof *lens);
    if (!vals || !lens) err = RN_ERR_NOMEM;
    for (int r = 0; err == RN_OK && r < PQntuples(res); r++) {
        for (int c = 0; c < ncols; c++) {
            vals[c] = PQgetisnull(res, r, c + 1) ? NULL : PQgetvalue(res, r, c + 1);
            lens[c] = (size_t)PQgetlength(res, r, c + 1);
        }
        if (!rn_jdbc_answer_add(&l->answer, atoi(PQgetvalue(res, r, 0)), vals, lens)) err = RN_ERR_NOMEM;
    }
    rn_free(vals);
    rn_free(lens);
    PQclear(res);
    return err;
}

static rn_err_t pg_lookup(rn_lookup_t *base, const rn_batch_t *keys, rn_batch_t *out, int *key_of, int *done,
                          rn_arena_t *arena, char *errbuf, size_t errbuf_size)
{
    pg_lookup_t *l = (pg_lookup_t *)base;
    int kbase = 0;
    if (!rn_jdbc_answer_resumes(&l->answer, keys, &kbase)) {
        kbase = 0;
        if (!rn_jdbc_answer_begin(&l->answer, keys)) return RN_ERR_NOMEM;
        rn_err_t err = pg_conn_ready(&l->rd.pc, errbuf, errbuf_size);
        int per = PG_MAX_PARAMS / l->nkeys;
        for (int from = 0; err == RN_OK && from < keys->nrows; from += per)
            err = pg_lookup_query(l, keys, from, from + per < keys->nrows ? from + per : keys->nrows, errbuf,
                                  errbuf_size);
        if (err != RN_OK) {
            l->answer.nrows = l->answer.next = 0;
            return err;
        }
    }
    return rn_jdbc_answer_emit(&l->answer, l->rd.schema, kbase, out, key_of, done, arena, l->rd.pc.where, errbuf,
                               errbuf_size)
               ? RN_OK
               : RN_ERR_IO;
}

static rn_err_t pg_scan(rn_lookup_t *base, rn_batch_t *out, int64_t *cursor, bool *done, rn_arena_t *arena,
                        char *errbuf, size_t errbuf_size)
{
    pg_lookup_t *l = (pg_lookup_t *)base;
    *done = false;
    int room = out->cap - out->nrows;
    if (room <= 0) return RN_OK;
    PGresult *res = NULL;
    rn_err_t err = pg_fetch(&l->rd, *cursor, room, &res, done, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    const rn_schema_t *sc = l->rd.schema;
    for (int r = 0; r < PQntuples(res); r++) {
        int o = out->nrows;
        for (int c = 0; c < sc->ncols; c++) {
            rn_value_t *v = &out->cols[c][o];
            if (PQgetisnull(res, r, c)) {
                *v = RN_VALUE_NULL;
                continue;
            }
            const char *s = PQgetvalue(res, r, c);
            if (!rn_jdbc_text_value(sc->cols[c].type->id, s, (size_t)PQgetlength(res, r, c), arena, v)) {
                snprintf(errbuf, errbuf_size, "%s: column '%s': '%.60s' is not a %s", l->rd.pc.where,
                         sc->cols[c].name, s, rn_type_name(sc->cols[c].type->id));
                PQclear(res);
                return RN_ERR_IO;
            }
        }
        out->kinds[o] = RN_ROW_INSERT;
        if (out->rowtime) out->rowtime[o] = 0;
        if (out->rowwm) out->rowwm[o] = INT64_MIN;
        out->nrows++;
        (*cursor)++;
    }
    PQclear(res);
    return RN_OK;
}

static void pg_lookup_close(rn_lookup_t *base)
{
    pg_lookup_t *l = (pg_lookup_t *)base;
    if (!l) return;
    pg_reading_close(&l->rd);
    rn_jdbc_answer_free(&l->answer);
    rn_buf_free(&l->sql);
    rn_free(l->params);
    rn_free(l->key_cols);
    rn_free(l);
}

rn_err_t rn_jdbc_pg_open_lookup(const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx, const int *key_cols,
                                int nkeys, rn_lookup_t **out, char *errbuf, size_t errbuf_size)
{
    pg_lookup_t *l = rn_calloc(1, sizeof *l);
    if (!l || !(l->key_cols = rn_malloc(sizeof(int) * (size_t)nkeys))) {
        rn_free(l);
        return RN_ERR_NOMEM;
    }
    rn_buf_init(&l->sql);
    rn_err_t err = pg_reading_open(&l->rd, c, ctx, errbuf, errbuf_size);
    if (err != RN_OK) {
        rn_free(l->key_cols);
        rn_free(l);
        return err;
    }
    memcpy(l->key_cols, key_cols, sizeof(int) * (size_t)nkeys);
    l->nkeys = nkeys;
    rn_jdbc_answer_init(&l->answer, ctx->schema->ncols);
    l->base.lookup = pg_lookup;
    l->base.scan = pg_scan;
    l->base.close = pg_lookup_close;
    l->base.where = l->rd.pc.where;
    *out = &l->base;
    return RN_OK;
}

/* The scan source: the table once through the cursor, as JSON objects. */
typedef struct pg_source {
    pg_reading_t rd;
    int fetch;                  /* rows per round trip */
    int64_t pos;                /* rows read */
} pg_source_t;

static rn_err_t pg_source_fill(void *client, rn_buf_t *rows, int *nrows, bool *eof, char *errbuf,
                               size_t errbuf_size)
{
    pg_source_t *src = client;
    PGresult *res = NULL;
    rn_err_t err = pg_fetch(&src->rd, src->pos, src->fetch, &res, eof, errbuf, errbuf_size);
    if (err != RN_OK) return err == RN_ERR_RETRY ? RN_ERR_IO : err;
    const rn_schema_t *sc = src->rd.schema;
    for (int r = 0; r < PQntuples(res); r++) {
        rn_buf_appendc(rows, '{');
        for (int c = 0; c < sc->ncols; c++) {
            if (c) rn_buf_appendc(rows, ',');
            rn_json_write_string(rows, sc->cols[c].name, strlen(sc->cols[c].name));
            rn_buf_appendc(rows, ':');
            bool null = PQgetisnull(res, r, c);
            rn_jdbc_text_json(rows, sc->cols[c].type->id, null ? NULL : PQgetvalue(res, r, c),
                              (size_t)PQgetlength(res, r, c));
        }
        rn_buf_appendc(rows, '}');
        rn_buf_appendc(rows, 0);
    }
    *nrows = PQntuples(res);
    src->pos += *nrows;
    PQclear(res);
    return rows->oom ? RN_ERR_NOMEM : RN_OK;
}

static void pg_source_close(void *client)
{
    pg_source_t *src = client;
    pg_reading_close(&src->rd);
    rn_free(src);
}

rn_err_t rn_jdbc_pg_open_reader(const rn_jdbc_conf_t *c, const rn_open_ctx_t *ctx, rn_reader_t **out,
                                char *errbuf, size_t errbuf_size)
{
    pg_source_t *src = rn_calloc(1, sizeof *src);
    if (!src) return RN_ERR_NOMEM;
    rn_err_t err = pg_reading_open(&src->rd, c, ctx, errbuf, errbuf_size);
    if (err != RN_OK) {
        rn_free(src);
        return err;
    }
    src->fetch = c->fetch_size > 100000 ? 100000 : (int)c->fetch_size;
    if (!(*out = rn_jdbc_reader_new(src, pg_source_fill, pg_source_close, src->rd.pc.where))) return RN_ERR_NOMEM;
    return RN_OK;
}
