/*
 * jdbc.c - the 'jdbc' connector, as in Flink's JDBC connector: a database
 * table written as a sink, looked up by key (the right side of a lookup
 * join) or read once as a bounded source. Two databases:
 *
 *   'url' = 'jdbc:sqlite:path/to/file.db'                 jdbc_sqlite.c
 *   'url' = 'jdbc:postgresql://host[:port]/db[?sslmode=..]' jdbc_pg.c (libpq)
 *
 * This file holds what both share: the option table, the checks of
 * option combinations, the parsing of a PostgreSQL url, describe() for
 * explain (which never shows 'password') and the dispatch of each opener
 * to the client of the url. jdbc_int.h declares the clients' openers.
 *
 * A table without a PRIMARY KEY is an append sink (INSERT); one with a
 * PRIMARY KEY an upsert sink (rn_connector_t.pk_upsert): the last change
 * per key is written as an upsert, a retraction as a DELETE by key, so a
 * replay leaves the same table. With 'sink.delivery-guarantee' =
 * 'exactly-once' (PostgreSQL) the sink commits each checkpoint's rows
 * once, a two-phase commit (op/io.h commit_once, jdbc_pg.c). Every value is bound as a parameter and
 * every identifier quoted (rn_jdbc_ident): neither data nor options can
 * inject SQL. docs/jdbc.md describes the behaviour a user sees.
 *
 * In `runnel test` the table is the file <table-name>.jsonl (runtime/run.c):
 * JSON rows for an append table, {"key":..,"value":..|null} lines for an
 * upsert one, as for upsert-kafka; as a source or lookup table the file
 * IN/<table-name>.jsonl.
 */
#include "connectors/jdbc_int.h"
#include "core/mem.h"
#include "core/timeparse.h"
#include "json/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const rn_option_spec_t jdbc_options[] = {
    {"url", RN_OPT_STRING, NULL, offsetof(rn_jdbc_conf_t, url), NULL, true,
     "database url: 'jdbc:sqlite:<file>' or 'jdbc:postgresql://host[:port]/db[?sslmode=..]'"},
    {"table-name", RN_OPT_STRING, NULL, offsetof(rn_jdbc_conf_t, table), NULL, true,
     "the database table ('schema.table' for PostgreSQL)"},
    {"username", RN_OPT_STRING, "", offsetof(rn_jdbc_conf_t, username), NULL, false,
     "PostgreSQL: the role to log in as"},
    {"password", RN_OPT_STRING, "", offsetof(rn_jdbc_conf_t, password), NULL, false,
     "PostgreSQL: the role's password (use '${VAR}'; never printed)"},
    {"sslmode", RN_OPT_STRING, "", offsetof(rn_jdbc_conf_t, sslmode), NULL, false,
     "PostgreSQL: libpq's sslmode (disable, prefer, require, verify-ca, verify-full)"},
    {"sslrootcert", RN_OPT_STRING, "", offsetof(rn_jdbc_conf_t, sslrootcert), NULL, false,
     "PostgreSQL: the CA certificate file that verifies the server"},
    {"sink.buffer-flush.max-rows", RN_OPT_INT, "100", offsetof(rn_jdbc_conf_t, max_rows), NULL, false,
     "commit once this many rows are pending (0: no limit)"},
    {"sink.buffer-flush.interval", RN_OPT_STRING, "1 s", offsetof(rn_jdbc_conf_t, interval), NULL, false,
     "commit pending rows at least this often ('0': only when the runtime flushes)"},
    {"sink.delivery-guarantee", RN_OPT_ENUM, "at-least-once", offsetof(rn_jdbc_conf_t, delivery),
     "at-least-once|exactly-once", false,
     "exactly-once: an append or upsert sink commits each checkpoint's rows once (PostgreSQL; needs a Kafka "
     "source and checkpoints)"},
    {"scan.fetch-size", RN_OPT_INT, "1000", offsetof(rn_jdbc_conf_t, fetch_size), NULL, false,
     "source: rows read from the database per round trip"},
    RN_LOOKUP_OPTIONS(rn_jdbc_conf_t, lookup),
    {NULL},
};

static bool jdbc_is_sqlite(const rn_jdbc_conf_t *c)
{
    return !strncmp(c->url, RN_JDBC_SQLITE, strlen(RN_JDBC_SQLITE));
}

static bool jdbc_is_pg(const rn_jdbc_conf_t *c)
{
    return !strncmp(c->url, RN_JDBC_PG, strlen(RN_JDBC_PG));
}

bool rn_jdbc_interval_ms(const rn_jdbc_conf_t *c, int64_t *ms)
{
    if (!strcmp(c->interval, "0")) {
        *ms = 0;
        return true;
    }
    return rn_duration_parse(c->interval, ms) && *ms >= 0;
}

void rn_jdbc_ident(rn_buf_t *b, const char *name)
{
    rn_buf_appends(b, "\"");
    for (const char *p = name; *p; p++) rn_buf_append(b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
    rn_buf_appends(b, "\"");
}

rn_err_t rn_jdbc_reject_json(rn_sink_io_t *io, const char *json, size_t len, const char *error,
                             const char *where, char *errbuf, size_t errbuf_size)
{
    if (!io->reject) {
        snprintf(errbuf, errbuf_size, "%s refused a row: %s", where, error);
        return RN_ERR_IO;
    }
    rn_err_t err = io->reject(io->reject_opaque, json, len, error);
    if (err != RN_OK) snprintf(errbuf, errbuf_size, "%s: cannot write a refused row to the dead-letter output", where);
    return err;
}

/* ---- values as text ---------------------------------------------------- */

/* Parses an integer text (all of it); false if it is not one. */
static bool text_i64(const char *s, size_t len, int64_t *v)
{
    char tmp[32];
    if (!len || len >= sizeof tmp) return false;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end;
    errno = 0;
    long long x = strtoll(tmp, &end, 10);
    if (errno || *end) return false;
    *v = x;
    return true;
}

bool rn_jdbc_text_value(rn_type_id t, const char *s, size_t len, rn_arena_t *arena, rn_value_t *out)
{
    *out = (rn_value_t){0};
    switch (t) {
    case RN_TYPE_BOOLEAN:
        if ((len == 1 && (*s == 't' || *s == '1')) || (len == 4 && !memcmp(s, "true", 4))) out->i = 1;
        else if ((len == 1 && (*s == 'f' || *s == '0')) || (len == 5 && !memcmp(s, "false", 5))) out->i = 0;
        else return false;
        return true;
    case RN_TYPE_INT:
    case RN_TYPE_BIGINT:
        if (!text_i64(s, len, &out->i)) return false;
        return t == RN_TYPE_BIGINT || (out->i >= INT32_MIN && out->i <= INT32_MAX);
    case RN_TYPE_DOUBLE: {
        char tmp[64];
        if (!len || len >= sizeof tmp) return false;
        memcpy(tmp, s, len);
        tmp[len] = 0;
        char *end;
        out->d = strtod(tmp, &end);
        return !*end;
    }
    case RN_TYPE_TIMESTAMP:
    case RN_TYPE_TIMESTAMP_LTZ:
        return text_i64(s, len, &out->i) || rn_time_parse(s, len, &out->i);
    case RN_TYPE_STRING: {
        char *copy = rn_arena_strndup(arena, s, len);
        if (!copy) return false;
        *out = rn_value_str(copy, (uint32_t)len);
        return true;
    }
    default: return false;
    }
}

void rn_jdbc_text_json(rn_buf_t *b, rn_type_id t, const char *s, size_t len)
{
    if (!s) {
        rn_buf_appends(b, "null");
        return;
    }
    rn_value_t v;
    if (t != RN_TYPE_STRING && t != RN_TYPE_ROW && rn_jdbc_text_value(t, s, len, NULL, &v) &&
        (t != RN_TYPE_DOUBLE || isfinite(v.d))) {
        if (t == RN_TYPE_TIMESTAMP || t == RN_TYPE_TIMESTAMP_LTZ) {
            /* a string: the JSON decoder reads a number as epoch seconds */
            char tmp[64];
            rn_time_format(v.i, tmp, sizeof tmp);
            rn_json_write_string(b, tmp, strlen(tmp));
        } else {
            rn_json_write_value(b, t, &v);
        }
        return;
    }
    rn_json_write_string(b, s, len);
}

bool rn_jdbc_value_text(rn_buf_t *b, rn_type_id t, const rn_value_t *v, bool ts_text)
{
    if (v->null) return false;
    char tmp[64];
    switch (t) {
    case RN_TYPE_BOOLEAN: rn_buf_appends(b, v->i ? "true" : "false"); break;
    case RN_TYPE_DOUBLE:
        if (isnan(v->d)) rn_buf_appends(b, "NaN");
        else if (isinf(v->d)) rn_buf_appends(b, v->d > 0 ? "Infinity" : "-Infinity");
        else rn_buf_appendf(b, "%.17g", v->d);
        break;
    case RN_TYPE_STRING: rn_buf_append(b, v->s, v->len); break;
    case RN_TYPE_TIMESTAMP:
    case RN_TYPE_TIMESTAMP_LTZ:
        if (ts_text) {
            rn_time_format(v->i, tmp, sizeof tmp);
            rn_buf_appends(b, tmp);
            break;
        }
        /* fall through */
    default: rn_buf_append_i64(b, v->i); break;
    }
    rn_buf_appendc(b, 0);
    return true;
}

/* ---- a lookup's answer ---------------------------------------------------- */

static uint64_t key_hash(const rn_batch_t *keys, int r)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (int c = 0; c < keys->schema->ncols; c++)
        h = rn_value_hash(keys->schema->cols[c].type->id, rn_batch_value_ptr(keys, c, r), h);
    return h;
}

void rn_jdbc_answer_init(rn_jdbc_answer_t *a, int ncols)
{
    memset(a, 0, sizeof *a);
    a->ncols = ncols;
    rn_buf_init(&a->text);
}

void rn_jdbc_answer_free(rn_jdbc_answer_t *a)
{
    rn_free(a->key);
    rn_free(a->off);
    rn_free(a->key_hash);
    rn_buf_free(&a->text);
    memset(a, 0, sizeof *a);
}

bool rn_jdbc_answer_begin(rn_jdbc_answer_t *a, const rn_batch_t *keys)
{
    a->nrows = a->next = 0;
    a->nkeys = 0;
    rn_buf_clear(&a->text);
    if (keys->nrows > a->cap_keys) {
        uint64_t *h = rn_realloc(a->key_hash, sizeof *h * (size_t)keys->nrows);
        if (!h) return false;
        a->key_hash = h;
        a->cap_keys = keys->nrows;
    }
    for (int r = 0; r < keys->nrows; r++) a->key_hash[r] = key_hash(keys, r);
    a->nkeys = keys->nrows;
    return true;
}

bool rn_jdbc_answer_add(rn_jdbc_answer_t *a, int key, const char *const *vals, const size_t *lens)
{
    if (a->nrows == a->cap_rows) {
        int cap = a->cap_rows ? a->cap_rows * 2 : 256;
        int *k = rn_realloc(a->key, sizeof *k * (size_t)cap);
        if (!k) return false;
        a->key = k;
        int64_t *o = rn_realloc(a->off, sizeof *o * (size_t)cap * (size_t)(a->ncols ? a->ncols : 1));
        if (!o) return false;
        a->off = o;
        a->cap_rows = cap;
    }
    int64_t *off = a->off + (size_t)a->nrows * (size_t)a->ncols;
    for (int c = 0; c < a->ncols; c++) {
        if (!vals[c]) {
            off[c] = -1;
            continue;
        }
        off[c] = (int64_t)a->text.len;
        rn_buf_append(&a->text, vals[c], lens[c]);
        rn_buf_appendc(&a->text, 0);
    }
    if (a->text.oom) return false;
    a->key[a->nrows++] = key;
    return true;
}

bool rn_jdbc_answer_resumes(const rn_jdbc_answer_t *a, const rn_batch_t *keys, int *base)
{
    if (a->next >= a->nrows || keys->nrows < 1) return false;
    int first = a->key[a->next]; /* the first key not completed */
    int bases[2] = {0, first};
    for (int i = 0; i < 2; i++) {
        int b = bases[i];
        if (keys->nrows != a->nkeys - b) continue;
        bool same = true;
        for (int r = 0; same && r < keys->nrows; r++) same = key_hash(keys, r) == a->key_hash[b + r];
        if (same) {
            *base = b;
            return true;
        }
    }
    return false;
}

bool rn_jdbc_answer_emit(rn_jdbc_answer_t *a, const rn_schema_t *schema, int base, rn_batch_t *out,
                         int *key_of, int *done, rn_arena_t *arena, const char *where, char *errbuf,
                         size_t errbuf_size)
{
    /* whole keys only: the caller ignores rows of a key it is not told is
     * done and asks for that key again (op/io.h), so a key is handed out
     * only when all its rows fit; a key larger than out completes nothing
     * and the caller asks again with a larger out */
    int key_end = a->next; /* the end of the current key's rows */
    while (a->next < a->nrows) {
        if (a->next == key_end) {
            while (key_end < a->nrows && a->key[key_end] == a->key[a->next]) key_end++;
            if (key_end - a->next > out->cap - out->nrows) break;
        }
        const int64_t *off = a->off + (size_t)a->next * (size_t)a->ncols;
        int r = out->nrows;
        for (int c = 0; c < a->ncols; c++) {
            rn_value_t *v = &out->cols[c][r];
            if (off[c] < 0) {
                *v = RN_VALUE_NULL;
                continue;
            }
            const char *s = a->text.data + off[c];
            rn_type_id t = schema->cols[c].type->id;
            if (!rn_jdbc_text_value(t, s, strlen(s), arena, v)) {
                snprintf(errbuf, errbuf_size, "%s: column '%s': '%.100s' is not a %s", where,
                         schema->cols[c].name, s, rn_type_name(t));
                return false;
            }
        }
        out->kinds[r] = RN_ROW_INSERT;
        if (out->rowtime) out->rowtime[r] = 0;
        if (out->rowwm) out->rowwm[r] = INT64_MIN;
        key_of[r] = a->key[a->next] - base;
        out->nrows++;
        a->next++;
    }
    *done = (a->next < a->nrows ? a->key[a->next] : a->nkeys) - base;
    return true;
}

/* ---- the scan source's reader ------------------------------------------- */

struct rn_jdbc_reader {
    rn_reader_t base;
    void *client;               /* owned */
    rn_jdbc_fill_fn fill;
    void (*close_client)(void *);
    char *where;                /* owned */
    rn_buf_t rows;              /* the objects of the last fill, NUL-separated */
    int nrows;                  /* objects in rows */
    int next;                   /* the next one to hand out */
    size_t pos;                 /* its offset in rows */
    bool eof;                   /* fill said the table ended */
    int64_t position;           /* rows handed out (the next record's position) */
};

static rn_err_t jdbc_reader_next(rn_reader_t *rd, rn_record_t *recs, int max, int *n, bool *eof,
                                 char *errbuf, size_t errbuf_size)
{
    rn_jdbc_reader_t *r = (rn_jdbc_reader_t *)rd;
    *n = 0;
    *eof = false;
    if (r->next >= r->nrows) {
        if (r->eof) {
            *eof = true;
            return RN_OK;
        }
        rn_buf_clear(&r->rows);
        r->nrows = r->next = 0;
        r->pos = 0;
        rn_err_t err = r->fill(r->client, &r->rows, &r->nrows, &r->eof, errbuf, errbuf_size);
        if (err != RN_OK) return err;
        if (rn_buf_reserve(&r->rows, RN_JSON_PADDING) != 0 || r->rows.oom) return RN_ERR_NOMEM;
        memset(r->rows.data + r->rows.len, 0, RN_JSON_PADDING);
        if (!r->nrows) {
            *eof = r->eof;
            return RN_OK;
        }
    }
    while (*n < max && r->next < r->nrows) {
        const char *obj = r->rows.data + r->pos;
        size_t len = strlen(obj);
        rn_record_set(&recs[(*n)++], obj, len, ++r->position);
        r->pos += len + 1;
        r->next++;
    }
    return RN_OK;
}

static void jdbc_reader_close(rn_reader_t *rd)
{
    rn_jdbc_reader_t *r = (rn_jdbc_reader_t *)rd;
    if (!r) return;
    if (r->close_client) r->close_client(r->client);
    rn_buf_free(&r->rows);
    rn_free(r->where);
    rn_free(r);
}

rn_reader_t *rn_jdbc_reader_new(void *client, rn_jdbc_fill_fn fill, void (*close_client)(void *),
                                const char *where)
{
    rn_jdbc_reader_t *r = rn_calloc(1, sizeof *r);
    if (!r || !(r->where = rn_strdup(where))) {
        rn_free(r);
        close_client(client);
        return NULL;
    }
    r->client = client;
    r->fill = fill;
    r->close_client = close_client;
    rn_buf_init(&r->rows);
    r->base.next = jdbc_reader_next;
    r->base.close = jdbc_reader_close;
    r->base.where = r->where;
    return &r->base;
}

/* Copies s[0..n) into dst (size dsize); false if it does not fit. */
static bool url_part(char *dst, size_t dsize, const char *s, size_t n)
{
    if (n >= dsize) return false;
    memcpy(dst, s, n);
    dst[n] = 0;
    return true;
}

bool rn_jdbc_pg_url_parse(const char *url, rn_jdbc_pg_url_t *u, char *errbuf, size_t errbuf_size)
{
    memset(u, 0, sizeof *u);
    const char *p = url + strlen(RN_JDBC_PG);
    if (strncmp(url, RN_JDBC_PG, strlen(RN_JDBC_PG)) || strncmp(p, "//", 2)) {
        snprintf(errbuf, errbuf_size, "option 'url' must be 'jdbc:postgresql://host[:port]/database'");
        return false;
    }
    p += 2;
    if (strchr(url, '@')) { /* user:password@host would put a secret in the url */
        snprintf(errbuf, errbuf_size,
                 "option 'url': give the user and password in 'username' and 'password', not in the url");
        return false;
    }
    const char *slash = strchr(p, '/');
    if (!slash) {
        snprintf(errbuf, errbuf_size, "option 'url': 'jdbc:postgresql://host[:port]/database' has no database");
        return false;
    }
    const char *hostend = slash;
    const char *colon = NULL;
    if (*p == '[') { /* [::1]:5432 */
        const char *rb = memchr(p, ']', (size_t)(slash - p));
        if (!rb) goto bad_host;
        if (!url_part(u->host, sizeof u->host, p + 1, (size_t)(rb - p - 1))) goto bad_host;
        if (rb + 1 < slash) {
            if (rb[1] != ':') goto bad_host;
            colon = rb + 1;
        }
    } else {
        colon = memchr(p, ':', (size_t)(slash - p));
        if (colon) hostend = colon;
        if (!url_part(u->host, sizeof u->host, p, (size_t)(hostend - p))) goto bad_host;
    }
    if (colon) {
        size_t n = (size_t)(slash - colon - 1);
        if (!n || !url_part(u->port, sizeof u->port, colon + 1, n) ||
            strspn(u->port, "0123456789") != n) {
            snprintf(errbuf, errbuf_size, "option 'url': the port must be a number");
            return false;
        }
    }
    if (!u->host[0]) goto bad_host;
    const char *q = strchr(slash + 1, '?');
    size_t dblen = q ? (size_t)(q - slash - 1) : strlen(slash + 1);
    if (!dblen || !url_part(u->db, sizeof u->db, slash + 1, dblen)) {
        snprintf(errbuf, errbuf_size, "option 'url': 'jdbc:postgresql://host[:port]/database' has no database");
        return false;
    }
    while (q && *q) {
        const char *k = q + 1, *amp = strchr(k, '&'), *end = amp ? amp : k + strlen(k);
        const char *eq = memchr(k, '=', (size_t)(end - k));
        size_t klen = eq ? (size_t)(eq - k) : (size_t)(end - k);
        char *dst = NULL;
        size_t dsize = 0;
        if (eq && klen == 7 && !strncmp(k, "sslmode", 7)) dst = u->sslmode, dsize = sizeof u->sslmode;
        else if (eq && klen == 11 && !strncmp(k, "sslrootcert", 11))
            dst = u->sslrootcert, dsize = sizeof u->sslrootcert;
        if (!dst || !url_part(dst, dsize, eq + 1, (size_t)(end - eq - 1))) {
            snprintf(errbuf, errbuf_size,
                     "option 'url': parameter '%.*s' is not supported (only sslmode and sslrootcert; "
                     "'username' and 'password' are options of their own)",
                     (int)(klen > 64 ? 64 : klen), k);
            return false;
        }
        q = amp;
    }
    return true;
bad_host:
    snprintf(errbuf, errbuf_size, "option 'url': 'jdbc:postgresql://host[:port]/database' has no valid host");
    return false;
}

static rn_err_t jdbc_validate(const void *conf, char *errbuf, size_t errbuf_size)
{
    const rn_jdbc_conf_t *c = conf;
    if (jdbc_is_sqlite(c)) {
        if (!c->url[strlen(RN_JDBC_SQLITE)]) {
            snprintf(errbuf, errbuf_size, "option 'url': 'jdbc:sqlite:' needs a database file after it");
            return RN_ERR_CONFIG;
        }
        if (!strcasecmp(c->delivery, "exactly-once")) {
            snprintf(errbuf, errbuf_size,
                     "option 'sink.delivery-guarantee': 'exactly-once' is for PostgreSQL tables, not for a "
                     "'jdbc:sqlite:' url");
            return RN_ERR_CONFIG;
        }
        if (*c->username || *c->password || *c->sslmode || *c->sslrootcert) {
            snprintf(errbuf, errbuf_size,
                     "options 'username', 'password', 'sslmode' and 'sslrootcert' are for PostgreSQL, "
                     "not for a 'jdbc:sqlite:' url");
            return RN_ERR_CONFIG;
        }
    } else if (jdbc_is_pg(c)) {
        rn_jdbc_pg_url_t u;
        if (!rn_jdbc_pg_url_parse(c->url, &u, errbuf, errbuf_size)) return RN_ERR_CONFIG;
    } else {
        snprintf(errbuf, errbuf_size,
                 "option 'url' must be 'jdbc:sqlite:<file>' or 'jdbc:postgresql://host[:port]/database'");
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
    if (c->fetch_size < 1) {
        snprintf(errbuf, errbuf_size, "option 'scan.fetch-size' must be 1 or more, not %lld",
                 (long long)c->fetch_size);
        return RN_ERR_CONFIG;
    }
    int64_t ms;
    if (!rn_jdbc_interval_ms(c, &ms)) {
        snprintf(errbuf, errbuf_size,
                 "option 'sink.buffer-flush.interval' must be a duration such as '1 s' or '500 ms', not '%.300s'",
                 c->interval);
        return RN_ERR_CONFIG;
    }
    return RN_OK;
}

static rn_err_t jdbc_open_sink(const void *conf, const rn_open_ctx_t *ctx, rn_sink_io_t **out,
                               char *errbuf, size_t errbuf_size)
{
    const rn_jdbc_conf_t *c = conf;
    if (!ctx->schema) {
        snprintf(errbuf, errbuf_size, "table '%s': 'jdbc' needs the table's columns to open", ctx->table);
        return RN_ERR_FATAL;
    }
    return jdbc_is_pg(c) ? rn_jdbc_pg_open_sink(c, ctx, out, errbuf, errbuf_size)
                         : rn_jdbc_sqlite_open_sink(c, ctx, out, errbuf, errbuf_size);
}

static rn_err_t jdbc_open_lookup(const void *conf, const rn_open_ctx_t *ctx, const int *key_cols,
                                 int nkeys, rn_lookup_t **out, char *errbuf, size_t errbuf_size)
{
    const rn_jdbc_conf_t *c = conf;
    if (!ctx->schema || nkeys < 1) {
        snprintf(errbuf, errbuf_size, "table '%s': a 'jdbc' lookup needs the table's columns and a key",
                 ctx->table);
        return RN_ERR_FATAL;
    }
    return jdbc_is_pg(c) ? rn_jdbc_pg_open_lookup(c, ctx, key_cols, nkeys, out, errbuf, errbuf_size)
                         : rn_jdbc_sqlite_open_lookup(c, ctx, key_cols, nkeys, out, errbuf, errbuf_size);
}

static rn_err_t jdbc_open_reader(const void *conf, const rn_open_ctx_t *ctx, rn_reader_t **out,
                                 char *errbuf, size_t errbuf_size)
{
    const rn_jdbc_conf_t *c = conf;
    return jdbc_is_pg(c) ? rn_jdbc_pg_open_reader(c, ctx, out, errbuf, errbuf_size)
                         : rn_jdbc_sqlite_open_reader(c, ctx, out, errbuf, errbuf_size);
}

/* The url and table; never the password (nor the user: it is the
 * credential's other half and the url says where anyway). */
static void jdbc_describe(const void *conf, rn_buf_t *out)
{
    const rn_jdbc_conf_t *c = conf;
    rn_buf_appendf(out, "url=%s, table-name=%s", c->url, c->table);
}

static const char *jdbc_test_name(const void *conf)
{
    return ((const rn_jdbc_conf_t *)conf)->table;
}

static bool jdbc_exactly_once(const void *conf)
{
    return !strcasecmp(((const rn_jdbc_conf_t *)conf)->delivery, "exactly-once");
}

static const rn_lookup_conf_t *jdbc_lookup_conf(const void *conf)
{
    return &((const rn_jdbc_conf_t *)conf)->lookup;
}

const rn_connector_t rn_connector_jdbc = {
    .name = "jdbc",
    .roles = RN_ROLE_SOURCE | RN_ROLE_SINK,
    .sink_mode = RN_SINK_APPEND,
    .pk_upsert = true,
    .options = jdbc_options,
    .conf_size = sizeof(rn_jdbc_conf_t),
    .open_reader = jdbc_open_reader,
    .open_sink = jdbc_open_sink,
    .describe = jdbc_describe,
    .validate = jdbc_validate,
    .test_name = jdbc_test_name,
    .lookup_conf = jdbc_lookup_conf,
    .exactly_once = jdbc_exactly_once,
    .open_lookup = jdbc_open_lookup,
};
