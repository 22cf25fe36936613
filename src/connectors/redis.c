/*
 * redis.c - the 'redis' sink: each row becomes one absolute Redis write,
 * so that a replay after a crash writes the same values again instead of
 * counting twice (docs/redis.md).
 *
 *   'command' = 'SET'   SET key value             (-U/-D: DEL key)
 *   'command' = 'HSET'  HSET key field value      (-U/-D: HDEL key field)
 *   'command' = 'ZADD'  ZADD key score member     (-U/-D: ZREM key member)
 *
 * The key is a template ('views:{user_id}'), the field or member the
 * column 'field.column', the value or score the column 'value.column'
 * (SET without it: the row as a JSON object).
 *
 * The sink takes every change with its kind (a changelog sink) and
 * coalesces them until the next flush: one pending command per target
 * (key, or key and field/member), the last change winning, in the order
 * targets were first touched. So a -U followed by +U of one target sends
 * only the write, and an aggregate's burst of intermediate counts sends
 * one ZADD. A flush (the pipeline's commit, idle time, the end) sends the
 * pending commands pipelined, one round trip, plus one PEXPIRE per written
 * key when 'ttl' is set (SET carries it as PX).
 *
 * Failures: a connection that cannot be made at start is a configuration
 * error naming host:port. A connection lost during a flush is made again
 * once at once; when that fails too the flush answers RN_ERR_RETRY with
 * the commands still pending (resending them is harmless: they are
 * absolute), and the sink operator (op/sink.c) flushes again with backoff
 * until the server is back. An error reply (WRONGTYPE, NOAUTH), a server
 * certificate that fails verification and an unreadable 'tls.*' file are
 * RN_ERR_FATAL. The password is never printed.
 *
 * The connection (plain TCP or TLS with OpenSSL, whatever hiredis
 * version is installed) is connectors/redis_conn.c; hiredis only formats
 * the commands and parses the replies.
 *
 * In `runnel test` nothing connects: each flush appends its commands to
 * OUT/redis.jsonl, one JSON array of strings per command, exactly as they
 * would be sent.
 */
#include "connectors/connector.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/hash.h"
#include "core/timeparse.h"
#include "json/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/redis_conn.h"

#define REDIS_TIMEOUT_S 10        /* connect and reply timeout */

typedef struct redis_conf {
    const char *url;            /* redis://[user[:password]@]host[:port][/db], or NULL */
    const char *host;           /* when no url */
    int64_t port;
    const char *username;       /* ACL user, or NULL */
    const char *password;       /* expanded ${VAR}; never printed */
    int64_t database;
    bool tls;
    const char *tls_ca_file;    /* PEM CA bundle, or NULL (the system's) */
    const char *tls_cert_file;  /* client certificate, or NULL */
    const char *tls_key_file;   /* its key, or NULL (in the cert file) */
    bool tls_insecure;          /* skip certificate verification */
    const char *command;        /* SET | HSET | ZADD */
    const char *key;            /* key template */
    const char *field_column;   /* HSET field / ZADD member column */
    const char *value_column;   /* SET value / HSET value / ZADD score column, or NULL (SET: row JSON) */
    const char *ttl;            /* duration text, or NULL */
} redis_conf_t;

static const rn_option_spec_t redis_options[] = {
    {"url", RN_OPT_STRING, NULL, offsetof(redis_conf_t, url), NULL, false,
     "redis://[user[:password]@]host[:port][/database] (rediss:// for TLS)"},
    {"host", RN_OPT_STRING, NULL, offsetof(redis_conf_t, host), NULL, false, "server host (without 'url')"},
    {"port", RN_OPT_INT, "6379", offsetof(redis_conf_t, port), NULL, false, "server port"},
    {"username", RN_OPT_STRING, NULL, offsetof(redis_conf_t, username), NULL, false, "ACL user name"},
    {"password", RN_OPT_STRING, NULL, offsetof(redis_conf_t, password), NULL, false,
     "password, e.g. '${REDIS_PASSWORD}'"},
    {"database", RN_OPT_INT, "0", offsetof(redis_conf_t, database), NULL, false, "database number (SELECT)"},
    {"tls", RN_OPT_BOOL, "false", offsetof(redis_conf_t, tls), NULL, false, "connect with TLS"},
    {"tls.ca-file", RN_OPT_STRING, NULL, offsetof(redis_conf_t, tls_ca_file), NULL, false,
     "TLS: PEM file of the CA certificates to trust (default: the system's)"},
    {"tls.cert-file", RN_OPT_STRING, NULL, offsetof(redis_conf_t, tls_cert_file), NULL, false,
     "TLS: client certificate (PEM), for servers with tls-auth-clients"},
    {"tls.key-file", RN_OPT_STRING, NULL, offsetof(redis_conf_t, tls_key_file), NULL, false,
     "TLS: the client certificate's private key (PEM; default: in 'tls.cert-file')"},
    {"tls.insecure-skip-verify", RN_OPT_BOOL, "false", offsetof(redis_conf_t, tls_insecure), NULL, false,
     "TLS: do not verify the server's certificate and name (testing only)"},
    {"command", RN_OPT_ENUM, NULL, offsetof(redis_conf_t, command), "SET|HSET|ZADD", true,
     "the write each row becomes: 'SET', 'HSET' or 'ZADD'"},
    {"key", RN_OPT_STRING, NULL, offsetof(redis_conf_t, key), NULL, true,
     "the Redis key: text with {column} references, e.g. 'views:{user_id}'"},
    {"field.column", RN_OPT_STRING, NULL, offsetof(redis_conf_t, field_column), NULL, false,
     "HSET: the column giving the hash field; ZADD: the column giving the member"},
    {"value.column", RN_OPT_STRING, NULL, offsetof(redis_conf_t, value_column), NULL, false,
     "the column giving the value (SET, HSET) or score (ZADD)"},
    {"ttl", RN_OPT_STRING, NULL, offsetof(redis_conf_t, ttl), NULL, false,
     "expire written keys after this long, e.g. '1 h'"},
    {NULL},
};

typedef enum redis_cmd { CMD_SET, CMD_HSET, CMD_ZADD } redis_cmd;

static redis_cmd conf_cmd(const redis_conf_t *c)
{
    return !strcmp(c->command, "SET") ? CMD_SET : !strcmp(c->command, "HSET") ? CMD_HSET : CMD_ZADD;
}

/* ---- endpoint ---------------------------------------------------------- */

typedef struct redis_endpoint {
    char host[256];
    int port;
    char user[256];             /* "" = none */
    char password[512];         /* "" = none */
    int database;
    bool tls;
} redis_endpoint_t;

/* Fills ep from c ('url' or 'host'/'port'; 'username', 'password',
 * 'database' and 'tls' override the url's parts). Returns RN_ERR_CONFIG
 * with a message (never showing a password) on a malformed url. */
static rn_err_t endpoint_of(const redis_conf_t *c, redis_endpoint_t *ep, char *errbuf, size_t errbuf_size)
{
    memset(ep, 0, sizeof *ep);
    ep->port = (int)c->port;
    ep->database = (int)c->database;
    ep->tls = c->tls;
    if (c->url) {
        const char *u = c->url;
        if (!strncmp(u, "redis://", 8)) u += 8;
        else if (!strncmp(u, "rediss://", 9)) {
            u += 9;
            ep->tls = true;
        } else {
            snprintf(errbuf, errbuf_size, "option 'url' must start with redis:// or rediss://");
            return RN_ERR_CONFIG;
        }
        const char *end = u + strcspn(u, "/");
        const char *at = memchr(u, '@', (size_t)(end - u));
        if (at) {
            const char *colon = memchr(u, ':', (size_t)(at - u));
            size_t ul = (size_t)((colon ? colon : at) - u);
            if (ul >= sizeof ep->user || (colon && (size_t)(at - colon - 1) >= sizeof ep->password)) {
                snprintf(errbuf, errbuf_size, "option 'url': user or password too long");
                return RN_ERR_CONFIG;
            }
            memcpy(ep->user, u, ul);
            if (colon) memcpy(ep->password, colon + 1, (size_t)(at - colon - 1));
            u = at + 1;
        }
        const char *colon = memchr(u, ':', (size_t)(end - u));
        size_t hl = (size_t)((colon ? colon : end) - u);
        if (hl == 0 || hl >= sizeof ep->host) {
            snprintf(errbuf, errbuf_size, "option 'url' needs a host: redis://host[:port][/database]");
            return RN_ERR_CONFIG;
        }
        memcpy(ep->host, u, hl);
        if (colon) {
            char *e;
            long p = strtol(colon + 1, &e, 10);
            if (e != end || p <= 0 || p > 65535) {
                snprintf(errbuf, errbuf_size, "option 'url': bad port");
                return RN_ERR_CONFIG;
            }
            ep->port = (int)p;
        }
        if (*end == '/' && end[1]) {
            char *e;
            long d = strtol(end + 1, &e, 10);
            if (*e || d < 0) {
                snprintf(errbuf, errbuf_size, "option 'url': the path must be a database number");
                return RN_ERR_CONFIG;
            }
            ep->database = (int)d;
        }
    } else {
        if (!c->host) {
            snprintf(errbuf, errbuf_size, "connector 'redis' needs option 'url' or 'host'");
            return RN_ERR_CONFIG;
        }
        if (strlen(c->host) >= sizeof ep->host) {
            snprintf(errbuf, errbuf_size, "option 'host' is too long");
            return RN_ERR_CONFIG;
        }
        strcpy(ep->host, c->host);
    }
    if (c->username) snprintf(ep->user, sizeof ep->user, "%s", c->username);
    if (c->password) snprintf(ep->password, sizeof ep->password, "%s", c->password);
    if (c->database) ep->database = (int)c->database;
    if (ep->port <= 0 || ep->port > 65535) {
        snprintf(errbuf, errbuf_size, "option 'port' must be 1..65535");
        return RN_ERR_CONFIG;
    }
    return RN_OK;
}

/* ---- options ----------------------------------------------------------- */

/* Calls fn for each {column} reference of template t (name bytes, length);
 * stops at the first non-OK answer. A '{' without '}' or an empty name is
 * RN_ERR_CONFIG. */
typedef rn_err_t (*tmpl_fn)(void *arg, const char *name, size_t len, char *errbuf, size_t errbuf_size);
static rn_err_t tmpl_refs(const char *t, tmpl_fn fn, void *arg, char *errbuf, size_t errbuf_size)
{
    for (const char *p = strchr(t, '{'); p; p = strchr(p, '{')) {
        const char *e = strchr(p, '}');
        if (!e || e == p + 1) {
            snprintf(errbuf, errbuf_size, "option 'key': '{' must be followed by a column name and '}' in '%s'", t);
            return RN_ERR_CONFIG;
        }
        rn_err_t err = fn(arg, p + 1, (size_t)(e - p - 1), errbuf, errbuf_size);
        if (err != RN_OK) return err;
        p = e + 1;
    }
    return RN_OK;
}

static rn_err_t tmpl_nop(void *arg, const char *name, size_t len, char *errbuf, size_t errbuf_size)
{
    return RN_OK;
}

static rn_err_t redis_validate(const void *conf, char *errbuf, size_t errbuf_size)
{
    const redis_conf_t *c = conf;
    redis_endpoint_t ep;
    rn_err_t err = endpoint_of(c, &ep, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    if (!ep.tls && (c->tls_ca_file || c->tls_cert_file || c->tls_key_file || c->tls_insecure)) {
        snprintf(errbuf, errbuf_size, "options 'tls.*' need 'tls' = 'true' or a rediss:// url");
        return RN_ERR_CONFIG;
    }
    if (c->tls_key_file && !c->tls_cert_file) {
        snprintf(errbuf, errbuf_size, "option 'tls.key-file' needs 'tls.cert-file'");
        return RN_ERR_CONFIG;
    }
    redis_cmd cmd = conf_cmd(c);
    if (cmd != CMD_SET && !c->field_column) {
        snprintf(errbuf, errbuf_size, "connector 'redis' with 'command' = '%s' needs option 'field.column' (the %s)",
                 c->command, cmd == CMD_HSET ? "hash field" : "sorted-set member");
        return RN_ERR_CONFIG;
    }
    if (cmd == CMD_SET && c->field_column) {
        snprintf(errbuf, errbuf_size, "option 'field.column' is for 'HSET' and 'ZADD', not 'SET'");
        return RN_ERR_CONFIG;
    }
    if (cmd != CMD_SET && !c->value_column) {
        snprintf(errbuf, errbuf_size, "connector 'redis' with 'command' = '%s' needs option 'value.column' (the %s)",
                 c->command, cmd == CMD_HSET ? "field's value" : "score");
        return RN_ERR_CONFIG;
    }
    int64_t ms;
    if (c->ttl && (!rn_duration_parse(c->ttl, &ms) || ms <= 0)) {
        snprintf(errbuf, errbuf_size, "option 'ttl' must be a positive duration such as '10 min' or '1 h', not '%s'",
                 c->ttl);
        return RN_ERR_CONFIG;
    }
    return tmpl_refs(c->key, tmpl_nop, NULL, errbuf, errbuf_size);
}

static rn_err_t tmpl_check(void *arg, const char *name, size_t len, char *errbuf, size_t errbuf_size)
{
    const rn_schema_t *s = arg;
    for (int i = 0; i < s->ncols; i++)
        if (strlen(s->cols[i].name) == len && !strncmp(s->cols[i].name, name, len)) return RN_OK;
    snprintf(errbuf, errbuf_size, "option 'key' names column '%.*s', which the table does not have", (int)len, name);
    return RN_ERR_CONFIG;
}

static rn_err_t redis_check_schema(const void *conf, const rn_schema_t *s, char *errbuf, size_t errbuf_size)
{
    const redis_conf_t *c = conf;
    rn_err_t err = tmpl_refs(c->key, tmpl_check, (void *)s, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    if (c->field_column && rn_schema_find(s, c->field_column) < 0) {
        snprintf(errbuf, errbuf_size, "option 'field.column' names column '%s', which the table does not have",
                 c->field_column);
        return RN_ERR_CONFIG;
    }
    if (c->value_column) {
        int v = rn_schema_find(s, c->value_column);
        if (v < 0) {
            snprintf(errbuf, errbuf_size, "option 'value.column' names column '%s', which the table does not have",
                     c->value_column);
            return RN_ERR_CONFIG;
        }
        if (conf_cmd(c) == CMD_ZADD && !rn_type_is_numeric(s->cols[v].type->id)) {
            snprintf(errbuf, errbuf_size, "option 'value.column': a ZADD score must be numeric, and '%s' is %s",
                     c->value_column, rn_type_name(s->cols[v].type->id));
            return RN_ERR_CONFIG;
        }
    }
    return RN_OK;
}

static void redis_describe(const void *conf, rn_buf_t *out)
{
    const redis_conf_t *c = conf;
    redis_endpoint_t ep;
    char why[256];
    if (endpoint_of(c, &ep, why, sizeof why) == RN_OK)
        rn_buf_appendf(out, "%s:%d, ", ep.host, ep.port);
    rn_buf_appendf(out, "%s %s", c->command, c->key);
    if (c->field_column) rn_buf_appendf(out, " {%s}", c->field_column);
    if (c->value_column) rn_buf_appendf(out, " = {%s}", c->value_column);
    if (c->ttl) rn_buf_appendf(out, ", ttl %s", c->ttl);
}

/* ---- the writer -------------------------------------------------------- */

/* One pending command: the last change of its target. */
typedef struct pend {
    uint64_t hash;              /* of target */
    char *target;               /* key, then '\0' and the field/member (HSET, ZADD); owned */
    size_t klen;                /* key length */
    size_t tlen;                /* whole target length */
    char *value;                /* value or score, owned; NULL = delete */
    size_t vlen;
} pend_t;

typedef struct redis_io {
    rn_sink_io_t io;
    redis_cmd cmd;
    const redis_conf_t *conf;   /* the plan's, outlives the writer */
    int64_t ttl_ms;             /* 0 = none */
    const rn_schema_t *cols_of; /* schema the indexes below were resolved for */
    int field_col, value_col;   /* -1 = none */
    pend_t *pend;               /* pending commands in first-touch order */
    int npend, cappend;
    int *index;                 /* open addressing over pend, -1 = empty */
    size_t index_cap;           /* power of two, > 2 * npend */
    rn_buf_t tmp, val;          /* scratch */
    bool warned_null;
    /* `runnel test`: commands go to this file writer as JSON lines */
    rn_sink_io_t *file;
    /* `runnel run` */
    redis_endpoint_t ep;
    rn_redis_conn_t *rc;        /* NULL while disconnected */
    char where[300];            /* "redis localhost:6379" */
} redis_io_t;

static void pend_clear(redis_io_t *w)
{
    for (int i = 0; i < w->npend; i++) {
        rn_free(w->pend[i].target);
        rn_free(w->pend[i].value);
    }
    w->npend = 0;
    for (size_t i = 0; i < w->index_cap; i++) w->index[i] = -1;
}

static bool index_grow(redis_io_t *w)
{
    size_t cap = w->index_cap ? w->index_cap * 2 : 64;
    int *ix = rn_malloc(sizeof(int) * cap);
    if (!ix) return false;
    for (size_t i = 0; i < cap; i++) ix[i] = -1;
    for (int p = 0; p < w->npend; p++) {
        size_t i = w->pend[p].hash & (cap - 1);
        while (ix[i] >= 0) i = (i + 1) & (cap - 1);
        ix[i] = p;
    }
    rn_free(w->index);
    w->index = ix;
    w->index_cap = cap;
    return true;
}

/* Records the change of target (t, tlen; key klen bytes) to value (NULL:
 * delete), replacing a pending change of the same target. Copies the
 * bytes. Returns RN_ERR_NOMEM on allocation failure. */
static rn_err_t pend_put(redis_io_t *w, const char *t, size_t tlen, size_t klen, const char *v, size_t vlen)
{
    if ((size_t)(w->npend + 1) * 2 >= w->index_cap && !index_grow(w)) return RN_ERR_NOMEM;
    char *value = NULL;
    if (v) {
        if (!(value = rn_malloc(vlen ? vlen : 1))) return RN_ERR_NOMEM;
        memcpy(value, v, vlen);
    }
    uint64_t h = rn_hash_bytes(t, tlen, 11);
    size_t i = h & (w->index_cap - 1);
    for (; w->index[i] >= 0; i = (i + 1) & (w->index_cap - 1)) {
        pend_t *p = &w->pend[w->index[i]];
        if (p->hash == h && p->tlen == tlen && !memcmp(p->target, t, tlen)) {
            rn_free(p->value);
            p->value = value;
            p->vlen = vlen;
            return RN_OK;
        }
    }
    if (w->npend == w->cappend) {
        int cap = w->cappend ? w->cappend * 2 : 64;
        pend_t *np = rn_realloc(w->pend, sizeof *np * (size_t)cap);
        if (!np) {
            rn_free(value);
            return RN_ERR_NOMEM;
        }
        w->pend = np;
        w->cappend = cap;
    }
    char *target = rn_malloc(tlen ? tlen : 1);
    if (!target) {
        rn_free(value);
        return RN_ERR_NOMEM;
    }
    memcpy(target, t, tlen);
    w->pend[w->npend] = (pend_t){.hash = h, .target = target, .klen = klen, .tlen = tlen, .value = value, .vlen = vlen};
    w->index[i] = w->npend++;
    return RN_OK;
}

/* Appends value v of type t as Redis sends it: strings as they are,
 * numbers and timestamps as their JSON text without quotes. */
static void append_value(rn_buf_t *out, const rn_type_t *t, const rn_value_t *v)
{
    if (t->id == RN_TYPE_STRING) {
        rn_buf_append(out, v->s, v->len);
        return;
    }
    size_t at = out->len;
    rn_json_write_value(out, t->id, v);
    if (out->len >= at + 2 && out->data[at] == '"' && out->data[out->len - 1] == '"') {
        memmove(out->data + at, out->data + at + 1, out->len - at - 2);
        out->len -= 2;
    }
}

/* Appends the key of row r (the template with its columns filled in) to
 * out; false if a referenced column is NULL. */
static bool render_key(redis_io_t *w, const rn_batch_t *b, int r, rn_buf_t *out)
{
    const rn_schema_t *s = b->schema;
    const char *t = w->conf->key;
    for (const char *p = t; *p;) {
        const char *open = strchr(p, '{');
        if (!open) {
            rn_buf_appends(out, p);
            break;
        }
        rn_buf_append(out, p, (size_t)(open - p));
        const char *close = strchr(open, '}');
        int c = -1;
        for (int i = 0; i < s->ncols && c < 0; i++)
            if (strlen(s->cols[i].name) == (size_t)(close - open - 1) &&
                !strncmp(s->cols[i].name, open + 1, (size_t)(close - open - 1)))
                c = i;
        const rn_value_t *v = rn_batch_value_ptr(b, c, r);
        if (v->null) return false;
        append_value(out, s->cols[c].type, v);
        p = close + 1;
    }
    return true;
}

static rn_err_t redis_write_rows(rn_sink_io_t *io, const rn_batch_t *batch, const int *rows, int n,
                                 const rn_sink_layout_t *layout, char *errbuf, size_t errbuf_size)
{
    redis_io_t *w = (redis_io_t *)io;
    const rn_schema_t *s = batch->schema;
    if (w->cols_of != s) { /* checked at plan time: the columns exist */
        w->field_col = w->conf->field_column ? rn_schema_find(s, w->conf->field_column) : -1;
        w->value_col = w->conf->value_column ? rn_schema_find(s, w->conf->value_column) : -1;
        w->cols_of = s;
    }
    for (int j = 0; j < n; j++) {
        int r = rows[j];
        rn_buf_clear(&w->tmp);
        rn_buf_clear(&w->val);
        bool ok = render_key(w, batch, r, &w->tmp);
        size_t klen = w->tmp.len;
        if (ok && w->field_col >= 0) {
            const rn_value_t *f = rn_batch_value_ptr(batch, w->field_col, r);
            if (f->null) ok = false;
            else {
                rn_buf_append(&w->tmp, "", 1);
                append_value(&w->tmp, s->cols[w->field_col].type, f);
            }
        }
        if (!ok) {
            if (!w->warned_null)
                rn_log_warn("%s: a row with NULL in a column of the key or field/member is skipped "
                            "(reported once)", w->where);
            w->warned_null = true;
            continue;
        }
        bool del = rn_rowkind_is_retract((rn_rowkind_t)batch->kinds[r]);
        if (!del && w->value_col >= 0) {
            const rn_value_t *v = rn_batch_value_ptr(batch, w->value_col, r);
            if (v->null) del = true; /* a NULL value removes the target */
            else append_value(&w->val, s->cols[w->value_col].type, v);
        } else if (!del) {
            rn_json_write_row(&w->val, s, batch->cols, r, layout->value_cols, layout->nvalue);
        }
        if (w->tmp.oom || w->val.oom) return RN_ERR_NOMEM;
        rn_err_t err = pend_put(w, w->tmp.data, w->tmp.len, klen, del ? NULL : (w->val.data ? w->val.data : ""),
                                w->val.len);
        if (err != RN_OK) {
            snprintf(errbuf, errbuf_size, "%s: out of memory", w->where);
            return err;
        }
    }
    return RN_OK;
}

/* Calls fn once per command of the pending changes, in order: the writes
 * and deletes, then (with 'ttl', HSET and ZADD) one expiry per written
 * key. */
typedef rn_err_t (*cmd_fn)(redis_io_t *w, int argc, const char **argv, const size_t *lens, char *errbuf,
                           size_t errbuf_size);
static rn_err_t for_each_cmd(redis_io_t *w, cmd_fn fn, int *ncmds /* out */, char *errbuf, size_t errbuf_size)
{
    char ttl[32];
    bool secs = w->ttl_ms % 1000 == 0;
    snprintf(ttl, sizeof ttl, "%lld", (long long)(secs ? w->ttl_ms / 1000 : w->ttl_ms));
    *ncmds = 0;
    for (int i = 0; i < w->npend; i++) {
        const pend_t *p = &w->pend[i];
        const char *key = p->target, *field = p->target + p->klen + 1;
        size_t flen = p->tlen > p->klen ? p->tlen - p->klen - 1 : 0;
        const char *a[6];
        size_t l[6];
        int n = 0;
#define ARG(s, len) (a[n] = (s), l[n] = (len), n++)
        if (w->cmd == CMD_SET) {
            if (p->value) {
                ARG("SET", 3), ARG(key, p->klen), ARG(p->value, p->vlen);
                if (w->ttl_ms) ARG(secs ? "EX" : "PX", 2), ARG(ttl, strlen(ttl));
            } else {
                ARG("DEL", 3), ARG(key, p->klen);
            }
        } else if (w->cmd == CMD_HSET) {
            if (p->value) ARG("HSET", 4), ARG(key, p->klen), ARG(field, flen), ARG(p->value, p->vlen);
            else ARG("HDEL", 4), ARG(key, p->klen), ARG(field, flen);
        } else {
            if (p->value) ARG("ZADD", 4), ARG(key, p->klen), ARG(p->value, p->vlen), ARG(field, flen);
            else ARG("ZREM", 4), ARG(key, p->klen), ARG(field, flen);
        }
        rn_err_t err = fn(w, n, a, l, errbuf, errbuf_size);
        if (err != RN_OK) return err;
        ++*ncmds;
    }
    if (!w->ttl_ms || w->cmd == CMD_SET) return RN_OK;
    for (int i = 0; i < w->npend; i++) {
        const pend_t *p = &w->pend[i];
        if (!p->value) continue;
        bool seen = false; /* one expiry per key: skip keys written earlier in the list */
        for (int k = 0; k < i && !seen; k++)
            seen = w->pend[k].value && w->pend[k].klen == p->klen && !memcmp(w->pend[k].target, p->target, p->klen);
        if (seen) continue;
        const char *a[3] = {secs ? "EXPIRE" : "PEXPIRE", p->target, ttl};
        size_t l[3] = {strlen(a[0]), p->klen, strlen(ttl)};
        rn_err_t err = fn(w, 3, a, l, errbuf, errbuf_size);
        if (err != RN_OK) return err;
        ++*ncmds;
    }
    return RN_OK;
}

/* ---- `runnel test`: commands as JSON lines ------------------------------ */

static rn_err_t cmd_to_file(redis_io_t *w, int argc, const char **argv, const size_t *lens, char *errbuf,
                            size_t errbuf_size)
{
    rn_buf_clear(&w->val);
    rn_buf_appends(&w->val, "[");
    for (int i = 0; i < argc; i++) {
        if (i) rn_buf_appends(&w->val, ", ");
        rn_json_write_string(&w->val, argv[i], lens[i]);
    }
    rn_buf_appends(&w->val, "]");
    if (w->val.oom) return RN_ERR_NOMEM;
    return w->file->write(w->file, NULL, 0, w->val.data, w->val.len, RN_ROW_INSERT, errbuf, errbuf_size);
}

/* ---- `runnel run`: a connection (redis_conn.c) ------------------------ */

static void disconnect(redis_io_t *w)
{
    rn_redis_conn_close(w->rc);
    w->rc = NULL;
}

/* Sends argv and reads one reply; RN_ERR_FATAL on an error reply,
 * RN_ERR_RETRY on a lost connection. */
static rn_err_t simple_cmd(redis_io_t *w, int argc, const char **argv, const size_t *lens, char *errbuf,
                           size_t errbuf_size)
{
    redisReply *rep = NULL;
    rn_err_t err = rn_redis_conn_append(w->rc, argc, argv, lens);
    if (err == RN_ERR_NOMEM) {
        snprintf(errbuf, errbuf_size, "%s: out of memory", w->where);
        return err;
    }
    if ((err = rn_redis_conn_reply(w->rc, &rep, errbuf, errbuf_size)) != RN_OK) return err;
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(errbuf, errbuf_size, "%s: %s failed: %s", w->where, argv[0], rep->str);
        err = RN_ERR_FATAL;
    }
    freeReplyObject(rep);
    return err;
}

/* Connects (TLS with 'tls'), authenticates and selects the database.
 * RN_ERR_RETRY when the server cannot be reached, RN_ERR_FATAL when it
 * refuses us or its certificate is not trusted. */
static rn_err_t connect_redis(redis_io_t *w, char *errbuf, size_t errbuf_size)
{
    const redis_conf_t *c = w->conf;
    rn_redis_tls_t tls = {.on = w->ep.tls, .ca_file = c->tls_ca_file, .cert_file = c->tls_cert_file,
                          .key_file = c->tls_key_file, .insecure = c->tls_insecure};
    rn_err_t err = rn_redis_conn_open(w->ep.host, w->ep.port, &tls, REDIS_TIMEOUT_S, w->where, &w->rc, errbuf,
                                      errbuf_size);
    if (err != RN_OK) return err;
    if (w->ep.password[0]) {
        const char *a[3] = {"AUTH", w->ep.user[0] ? w->ep.user : w->ep.password, w->ep.password};
        size_t l[3] = {4, strlen(a[1]), strlen(a[2])};
        err = w->ep.user[0] ? simple_cmd(w, 3, a, l, errbuf, errbuf_size) : simple_cmd(w, 2, a, l, errbuf, errbuf_size);
    }
    if (err == RN_OK && w->ep.database) {
        char db[16];
        snprintf(db, sizeof db, "%d", w->ep.database);
        const char *a[2] = {"SELECT", db};
        size_t l[2] = {6, strlen(db)};
        err = simple_cmd(w, 2, a, l, errbuf, errbuf_size);
    }
    if (err != RN_OK) disconnect(w);
    return err;
}

static rn_err_t cmd_append(redis_io_t *w, int argc, const char **argv, const size_t *lens, char *errbuf,
                           size_t errbuf_size)
{
    if (rn_redis_conn_append(w->rc, argc, argv, lens) != RN_OK) {
        snprintf(errbuf, errbuf_size, "%s: out of memory", w->where);
        return RN_ERR_NOMEM;
    }
    return RN_OK;
}

/* One attempt: connect if needed, send every pending command pipelined,
 * read every reply. */
static rn_err_t flush_once(redis_io_t *w, char *errbuf, size_t errbuf_size)
{
    rn_err_t err = RN_OK;
    if (!w->rc && (err = connect_redis(w, errbuf, errbuf_size)) != RN_OK) return err;
    int n;
    if ((err = for_each_cmd(w, cmd_append, &n, errbuf, errbuf_size)) != RN_OK) {
        disconnect(w); /* half a pipeline was queued */
        return err;
    }
    for (int i = 0; i < n; i++) {
        redisReply *rep = NULL;
        rn_err_t rerr = rn_redis_conn_reply(w->rc, &rep, errbuf, errbuf_size);
        if (rerr != RN_OK) {
            disconnect(w);
            return rerr;
        }
        if (rep->type == REDIS_REPLY_ERROR && err == RN_OK) {
            snprintf(errbuf, errbuf_size, "%s: a %s write failed: %s", w->where, w->conf->command, rep->str);
            err = RN_ERR_FATAL; /* read the other replies, keep the connection in step */
        }
        freeReplyObject(rep);
    }
    return err;
}

static rn_err_t redis_flush(rn_sink_io_t *io, char *errbuf, size_t errbuf_size)
{
    redis_io_t *w = (redis_io_t *)io;
    rn_err_t err = RN_OK;
    if (w->file) {
        int n;
        if ((err = for_each_cmd(w, cmd_to_file, &n, errbuf, errbuf_size)) == RN_OK &&
            (err = w->file->flush(w->file, errbuf, errbuf_size)) == RN_OK)
            pend_clear(w);
        return err;
    }
    if (w->npend == 0) return RN_OK;
    /* A connection found dead (the server restarted since the last flush)
     * gets one fresh connection at once; the backoff is the sink
     * operator's (op/sink.c) */
    bool had_connection = w->rc != NULL;
    err = flush_once(w, errbuf, errbuf_size);
    if (err == RN_ERR_RETRY && had_connection) err = flush_once(w, errbuf, errbuf_size);
    if (err == RN_ERR_RETRY) {
        size_t len = strlen(errbuf);
        snprintf(errbuf + len, errbuf_size - len, " (%d pending writes kept)", w->npend);
    }
    if (err == RN_OK) pend_clear(w);
    return err;
}

static void redis_close(rn_sink_io_t *io)
{
    redis_io_t *w = (redis_io_t *)io;
    pend_clear(w);
    rn_free(w->pend);
    rn_free(w->index);
    rn_buf_free(&w->tmp);
    rn_buf_free(&w->val);
    if (w->file) w->file->close(w->file);
    disconnect(w);
    memset(&w->ep, 0, sizeof w->ep); /* the password */
    rn_free(w);
}

static rn_err_t redis_open_sink(const void *conf, const rn_open_ctx_t *ctx, rn_sink_io_t **out, char *errbuf,
                                size_t errbuf_size)
{
    const redis_conf_t *c = conf;
    redis_io_t *w = rn_calloc(1, sizeof *w);
    if (!w) return RN_ERR_NOMEM;
    w->io.write_rows = redis_write_rows;
    w->io.flush = redis_flush;
    w->io.close = redis_close;
    w->conf = c;
    w->cmd = conf_cmd(c);
    if (c->ttl) rn_duration_parse(c->ttl, &w->ttl_ms);
    rn_buf_init(&w->tmp);
    rn_buf_init(&w->val);
    rn_err_t err = endpoint_of(c, &w->ep, errbuf, errbuf_size);
    if (err == RN_OK && !index_grow(w)) err = RN_ERR_NOMEM;
    if (err != RN_OK) goto fail;
    snprintf(w->where, sizeof w->where, "redis %s:%d", w->ep.host, w->ep.port);
    if (ctx->test_path) { /* `runnel test`: no server */
        err = rn_file_sink_open(ctx->files, ctx->test_path, RN_LINES_VALUE, &w->file, errbuf, errbuf_size);
        if (err != RN_OK) goto fail;
    } else if ((err = connect_redis(w, errbuf, errbuf_size)) != RN_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", errbuf);
        snprintf(errbuf, errbuf_size, "table '%s': %s", ctx->table, why);
        err = err == RN_ERR_RETRY ? RN_ERR_IO : err;
        goto fail;
    }
    *out = &w->io;
    return RN_OK;
fail:
    redis_close(&w->io);
    return err;
}

const rn_connector_t rn_connector_redis = {
    .name = "redis",
    .roles = RN_ROLE_SINK,
    .sink_mode = RN_SINK_CHANGELOG,
    .options = redis_options,
    .conf_size = sizeof(redis_conf_t),
    .open_sink = redis_open_sink,
    .describe = redis_describe,
    .validate = redis_validate,
    .check_schema = redis_check_schema,
    .test_sink_file = "redis",
    .shared = true,             /* every worker writes through its own connection */
};
