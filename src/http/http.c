/*
 * http.c - the dashboard's HTTP server (see http.h and docs/dashboard.md).
 *
 * libmicrohttpd runs one thread per connection (at most
 * RN_HTTP_MAX_CONNECTIONS, each closed after RN_HTTP_TIMEOUT_S without
 * progress). Every answer is rendered from the hub's latest snapshots,
 * taken by reference (rn_http_hub_take) and released before the answer is
 * queued; no request ever touches a pipeline. /api/stream is a response
 * whose body a callback produces on its connection's thread: it waits
 * there for the next period, so a client that stops reading blocks only
 * that thread until the timeout closes it.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/clock.h"
#include "core/mem.h"
#include "http/assets.h"
#include "http/url.h"
#include "json/json.h"

#define MAX_VIEWS 4096          /* pipelines shown (workers included) */

struct rn_http {
    struct MHD_Daemon *d;
    rn_http_hub_t *hub;
    char *token;                /* required when non-NULL */
    int64_t started_ms;         /* process_start_time_seconds */
    volatile int stopping;      /* streams end */
};

static const char CSP[] = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                          "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/* Queues an answer with the common headers; takes nothing. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, struct MHD_Response *r)
{
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "Content-Security-Policy", CSP);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (status == MHD_HTTP_UNAUTHORIZED) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_buf(struct MHD_Connection *c, unsigned status, const char *type, rn_buf_t *b)
{
    if (b->oom) {
        rn_buf_free(b);
        return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(b->len, b->data ? b->data : (void *)"",
                                                             MHD_RESPMEM_MUST_COPY);
    rn_buf_free(b);
    return reply(c, status, type, r);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    rn_buf_t b;
    rn_buf_init(&b);
    rn_buf_appends(&b, "{\"error\":");
    rn_json_write_string(&b, msg, strlen(msg));
    rn_buf_appends(&b, "}\n");
    return reply_buf(c, status, "application/json", &b);
}

static void json_str(rn_buf_t *b, const char *s)
{
    if (s) rn_json_write_string(b, s, strlen(s));
    else rn_buf_appends(b, "null");
}

/* ---- rendering from views ---------------------------------------------- */

typedef struct views {
    rn_http_view_t *v;          /* n views (allocated) */
    int n;
} views_t;

/* Takes the hub's pipelines with references to their snapshots. The hub's
 * list is fixed once the server runs. Returns false on OOM. */
static bool take(rn_http_t *h, views_t *vs)
{
    int n = rn_http_hub_take(h->hub, NULL, 0);
    if (n > MAX_VIEWS) n = MAX_VIEWS;
    vs->v = rn_calloc((size_t)(n ? n : 1), sizeof *vs->v);
    if (!vs->v) return false;
    vs->n = rn_http_hub_take(h->hub, vs->v, n);
    if (vs->n > n) vs->n = n;
    return true;
}

/* Releases what take took. */
static void drop(rn_http_t *h, views_t *vs)
{
    rn_http_hub_release(h->hub, vs->v, vs->n);
    rn_free(vs->v);
}

static void render_status(rn_http_t *h, const views_t *vs, rn_buf_t *b)
{
    /* time_ms names the data: the newest snapshot shown, so two answers
     * with one time_ms show the same figures (the page's tests rely on it) */
    int64_t now = rn_clock_wall_ms(), newest = 0;
    for (int i = 0; i < vs->n; i++)
        if (vs->v[i].snap && vs->v[i].snap->time_ms > newest) newest = vs->v[i].snap->time_ms;
    rn_buf_appendf(b, "{\"time_ms\":%lld,\"process\":{\"rss_bytes\":%zu,\"uptime_s\":%.1f},\"pipelines\":[",
                   (long long)(newest ? newest : now), rn_mem_rss(), (double)(now - h->started_ms) / 1000.0);
    for (int i = 0; i < vs->n; i++) {
        const rn_http_view_t *v = &vs->v[i];
        rn_buf_appends(b, i ? ",{\"name\":" : "{\"name\":");
        json_str(b, v->name);
        rn_buf_appends(b, ",\"state\":");
        json_str(b, v->state);
        if (!strcmp(v->state, "failed")) {
            rn_buf_appends(b, ",\"error\":");
            json_str(b, v->error);
        }
        rn_buf_appendc(b, ',');
        if (v->snap && v->snap->status.len) rn_buf_append(b, v->snap->status.data, v->snap->status.len);
        else rn_buf_appends(b, "\"operators\":[],\"sources\":[],\"sinks\":[],\"dlq_records\":0");
        rn_buf_appendc(b, '}');
    }
    rn_buf_appends(b, "]}");
}

/* One dashboard table found in the snapshots: a pipeline's own copy. */
typedef struct table_ref {
    int view;                   /* index in views */
    char name[256];
    const char *json;           /* its object, inside the snapshot */
    size_t len;
} table_ref_t;

/* A table as the API shows it: a pipeline's own, or, for the workers of
 * one process (views with a group), the merge of their copies. */
typedef struct shown_table {
    int view;                   /* the view of its first copy */
    const char *owner;          /* shown under: the view's group, else its name */
    const char *name;           /* points into the first copy's ref */
    const char *json;           /* its object: the first copy's until shown_json merges */
    size_t len;
    bool merged_ok;             /* shown_json ran */
    rn_buf_t merged;            /* owned */
} shown_table_t;

typedef struct tables {
    table_ref_t *t;             /* every copy */
    int n, cap;
    int view;                   /* being collected */
    shown_table_t *s;           /* what the API shows (ns) */
    int ns;
} tables_t;

static void collect_cb(void *opaque, const char *name, const char *v, size_t vlen)
{
    tables_t *ts = opaque;
    if (ts->n == ts->cap) {
        int cap = ts->cap ? ts->cap * 2 : 16;
        table_ref_t *nt = rn_realloc(ts->t, (size_t)cap * sizeof *nt);
        if (!nt) return;
        ts->t = nt;
        ts->cap = cap;
    }
    table_ref_t *t = &ts->t[ts->n++];
    t->view = ts->view;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->json = v;
    t->len = vlen;
}

static const char *owner_of(const views_t *vs, int view)
{
    return vs->v[view].group ? vs->v[view].group : vs->v[view].name;
}

/* Sets st's json: for the table of a group of workers the merge of their
 * copies (docs/dashboard.md), done here, once, for the tables an answer
 * shows; on failure (OOM, a malformed copy) st keeps its first copy. */
static void shown_json(const views_t *vs, const tables_t *ts, shown_table_t *st)
{
    if (st->merged_ok || !vs->v[st->view].group) return;
    st->merged_ok = true;
    int n = 0;
    for (int k = 0; k < ts->n; k++)
        if (!strcmp(ts->t[k].name, st->name) && !strcmp(owner_of(vs, ts->t[k].view), st->owner)) n++;
    const char **objs = rn_calloc((size_t)n, sizeof *objs);
    size_t *lens = rn_calloc((size_t)n, sizeof *lens);
    if (objs && lens) {
        int i = 0;
        for (int k = 0; k < ts->n; k++)
            if (!strcmp(ts->t[k].name, st->name) && !strcmp(owner_of(vs, ts->t[k].view), st->owner)) {
                objs[i] = ts->t[k].json;
                lens[i++] = ts->t[k].len;
            }
        rn_buf_init(&st->merged);
        if (rn_http_table_merge(objs, lens, n, st->owner, &st->merged) == 1 && !st->merged.oom) {
            st->json = st->merged.data;
            st->len = st->merged.len;
        }
    }
    rn_free(objs);
    rn_free(lens);
}

static void collect_tables(const views_t *vs, tables_t *ts)
{
    memset(ts, 0, sizeof *ts);
    for (int i = 0; i < vs->n; i++) {
        if (!vs->v[i].snap) continue;
        ts->view = i;
        rn_http_json_members(vs->v[i].snap->tables.data, vs->v[i].snap->tables.len, collect_cb, ts);
    }
    if (!ts->n || !(ts->s = rn_calloc((size_t)ts->n, sizeof *ts->s))) return;
    for (int k = 0; k < ts->n; k++) {
        const char *owner = owner_of(vs, ts->t[k].view);
        bool seen = false;
        for (int j = 0; j < ts->ns && !seen; j++)
            seen = !strcmp(ts->s[j].name, ts->t[k].name) && !strcmp(ts->s[j].owner, owner);
        if (seen) continue;
        shown_table_t *st = &ts->s[ts->ns++];
        st->view = ts->t[k].view;
        st->owner = owner;
        st->name = ts->t[k].name;
        st->json = ts->t[k].json;
        st->len = ts->t[k].len;
    }
}

static void tables_free(tables_t *ts)
{
    for (int j = 0; j < ts->ns; j++) rn_buf_free(&ts->s[j].merged);
    rn_free(ts->s);
    rn_free(ts->t);
}

/* Whether another shown table has st's name (refs then need OWNER.NAME). */
static bool table_shared(const tables_t *ts, const shown_table_t *st)
{
    for (int j = 0; j < ts->ns; j++)
        if (&ts->s[j] != st && !strcmp(ts->s[j].name, st->name)) return true;
    return false;
}

/* Whether a copy of st changed since the versions a stream last sent. */
static bool table_changed(const views_t *vs, const tables_t *ts, const shown_table_t *st,
                          const uint64_t *versions, int nversions)
{
    for (int k = 0; k < ts->n; k++) {
        int v = ts->t[k].view;
        if (strcmp(ts->t[k].name, st->name) || strcmp(owner_of(vs, v), st->owner)) continue;
        if (v >= nversions || vs->v[v].snap->tables_version != versions[v]) return true;
    }
    return false;
}

static void render_pipelines(const views_t *vs, rn_buf_t *b)
{
    tables_t ts;
    collect_tables(vs, &ts);
    rn_buf_appends(b, "{\"pipelines\":[");
    for (int i = 0; i < vs->n; i++) {
        const rn_http_view_t *v = &vs->v[i];
        rn_buf_appends(b, i ? ",{\"name\":" : "{\"name\":");
        json_str(b, v->name);
        if (v->group) {
            rn_buf_appends(b, ",\"group\":");
            json_str(b, v->group);
        }
        rn_buf_appends(b, ",\"file\":");
        json_str(b, v->file);
        rn_buf_appends(b, ",\"state\":");
        json_str(b, v->state);
        if (!strcmp(v->state, "failed")) {
            rn_buf_appends(b, ",\"error\":");
            json_str(b, v->error);
        }
        rn_buf_appendf(b, ",\"started_ms\":%lld,\"graph\":%s,\"tables\":[", (long long)v->started_ms,
                       v->graph ? v->graph : "null");
        int n = 0;
        for (int k = 0; k < ts.n; k++) {
            if (ts.t[k].view != i) continue;
            if (n++) rn_buf_appendc(b, ',');
            json_str(b, ts.t[k].name);
        }
        rn_buf_appends(b, "]}");
    }
    rn_buf_appends(b, "]}");
    tables_free(&ts);
}

/* ---- /api/stream --------------------------------------------------------- */

typedef struct stream {
    rn_http_t *h;
    rn_buf_t pending;           /* rendered events not yet handed to MHD */
    size_t sent;                /* bytes of pending handed out */
    int64_t next_ms;            /* when the next events are due */
    uint64_t *versions;         /* tables_version last sent per pipeline (0 = none), nversions */
    int nversions;
} stream_t;

static void stream_render(stream_t *s)
{
    views_t views, *vs = &views;
    if (!take(s->h, vs)) {
        s->pending.oom = 1;
        return;
    }
    rn_buf_appends(&s->pending, "event: status\ndata: ");
    render_status(s->h, vs, &s->pending);
    rn_buf_appends(&s->pending, "\n\n");
    tables_t ts;
    collect_tables(vs, &ts);
    rn_buf_appends(&s->pending, "event: tables\ndata: {");
    int n = 0;
    for (int k = 0; k < ts.ns; k++) {
        shown_table_t *t = &ts.s[k];
        if (!table_changed(vs, &ts, t, s->versions, s->nversions)) continue;
        shown_json(vs, &ts, t);
        if (n++) rn_buf_appendc(&s->pending, ',');
        if (table_shared(&ts, t)) {
            char ref[600];
            snprintf(ref, sizeof ref, "%s.%s", t->owner, t->name);
            json_str(&s->pending, ref);
        } else {
            json_str(&s->pending, t->name);
        }
        rn_buf_appendc(&s->pending, ':');
        rn_buf_append(&s->pending, t->json, t->len);
    }
    rn_buf_appends(&s->pending, "}\n\n");
    for (int i = 0; i < vs->n && i < s->nversions; i++)
        if (vs->v[i].snap) s->versions[i] = vs->v[i].snap->tables_version;
    tables_free(&ts);
    drop(s->h, vs);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_t *s = cls;
    while (s->sent >= s->pending.len) {
        if (s->h->stopping) return MHD_CONTENT_READER_END_OF_STREAM;
        int64_t now = rn_clock_wall_ms();
        if (now >= s->next_ms) {
            rn_buf_clear(&s->pending);
            s->sent = 0;
            stream_render(s);
            if (s->pending.oom) return MHD_CONTENT_READER_END_WITH_ERROR;
            s->next_ms = now + RN_HTTP_STREAM_MS;
            break;
        }
        int64_t wait = s->next_ms - now < 50 ? s->next_ms - now : 50;
        struct timespec ts = {0, (long)wait * 1000000L};
        nanosleep(&ts, NULL);
    }
    size_t n = s->pending.len - s->sent < max ? s->pending.len - s->sent : max;
    memcpy(buf, s->pending.data + s->sent, n);
    s->sent += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream_t *s = cls;
    rn_buf_free(&s->pending);
    rn_free(s->versions);
    rn_free(s);
}

static enum MHD_Result serve_stream(rn_http_t *h, struct MHD_Connection *c)
{
    stream_t *s = rn_calloc(1, sizeof *s);
    if (!s) return MHD_NO;
    s->h = h;
    rn_buf_init(&s->pending);
    s->nversions = rn_http_hub_take(h->hub, NULL, 0);
    if (!(s->versions = rn_calloc((size_t)(s->nversions ? s->nversions : 1), sizeof *s->versions))) {
        rn_free(s);
        return MHD_NO;
    }
    rn_buf_appends(&s->pending, "retry: 2000\n\n");
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s, stream_free);
    if (!r) {
        stream_free(s);
        return MHD_NO;
    }
    return reply(c, MHD_HTTP_OK, "text/event-stream; charset=utf-8", r);
}

/* ---- routes -------------------------------------------------------------- */

static enum MHD_Result serve_table(rn_http_t *h, struct MHD_Connection *c, const char *ref)
{
    char pipe[256], name[256];
    if (!rn_http_table_ref(ref, pipe, sizeof pipe, name, sizeof name))
        return reply_error(c, MHD_HTTP_BAD_REQUEST, "a table is named NAME or PIPELINE.NAME (letters, digits, _ and -)");
    const char *key = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key");
    views_t views, *vs = &views;
    if (!take(h, vs)) return MHD_NO;
    tables_t ts;
    collect_tables(vs, &ts);
    /* NAME, OWNER.NAME (a pipeline, or the group of a process's workers:
     * their merged table), or WORKER.NAME (that worker's own copy) */
    const char *found_json = NULL;
    size_t found_len = 0;
    int matches = 0;
    for (int k = 0; k < ts.ns; k++) {
        if (strcmp(ts.s[k].name, name) || (pipe[0] && strcmp(ts.s[k].owner, pipe))) continue;
        shown_json(vs, &ts, &ts.s[k]);
        found_json = ts.s[k].json;
        found_len = ts.s[k].len;
        matches++;
    }
    for (int k = 0; k < ts.n && !matches && pipe[0]; k++) {
        if (strcmp(ts.t[k].name, name) || strcmp(vs->v[ts.t[k].view].name, pipe)) continue;
        found_json = ts.t[k].json;
        found_len = ts.t[k].len;
        matches++;
    }
    enum MHD_Result ret;
    rn_buf_t b;
    rn_buf_init(&b);
    char msg[700];
    if (!found_json) {
        snprintf(msg, sizeof msg, "no dashboard table '%s'", ref);
        ret = reply_error(c, MHD_HTTP_NOT_FOUND, msg);
    } else if (matches > 1) {
        snprintf(msg, sizeof msg, "several pipelines have a table '%s': ask for PIPELINE.%s", name, name);
        ret = reply_error(c, MHD_HTTP_BAD_REQUEST, msg);
    } else if (!key) {
        rn_buf_append(&b, found_json, found_len);
        ret = reply_buf(c, MHD_HTTP_OK, "application/json", &b);
    } else {
        int r = rn_http_table_filter_key(found_json, found_len, key, &b);
        if (r == 1) {
            ret = reply_buf(c, MHD_HTTP_OK, "application/json", &b);
        } else {
            snprintf(msg, sizeof msg, r == 0 ? "table '%s' has no one-column key: ?key= does not apply"
                                             : "table '%s' is not readable now", ref);
            ret = reply_error(c, r == 0 ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
        }
    }
    rn_buf_free(&b);
    tables_free(&ts);
    drop(h, vs);
    return ret;
}

static enum MHD_Result serve_metrics(rn_http_t *h, struct MHD_Connection *c)
{
    views_t views, *vs = &views;
    if (!take(h, vs)) return MHD_NO;
    rn_buf_t b;
    rn_buf_init(&b);
    for (int f = 0; f < RN_M_NFAMILIES; f++) {
        const rn_metric_info_t *m = &rn_metric_families[f];
        rn_buf_appendf(&b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
        for (int i = 0; i < vs->n; i++)
            if (vs->v[i].snap && vs->v[i].snap->metrics[f].len)
                rn_buf_append(&b, vs->v[i].snap->metrics[f].data, vs->v[i].snap->metrics[f].len);
    }
    drop(h, vs);
    rn_buf_appendf(&b,
                   "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                   "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %zu\n"
                   "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
                   "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n",
                   rn_mem_rss(), (double)h->started_ms / 1000.0);
    return reply_buf(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b);
}

static enum MHD_Result serve_asset(struct MHD_Connection *c, const char *path)
{
    int n;
    const rn_http_asset_t *a = rn_http_assets(&n);
    if (!strcmp(path, "/")) path = "/index.html";
    for (int i = 0; i < n; i++) {
        if (strcmp(a[i].path, path)) continue;
        struct MHD_Response *r = MHD_create_response_from_buffer(a[i].len, (void *)a[i].bytes, MHD_RESPMEM_PERSISTENT);
        return reply(c, MHD_HTTP_OK, a[i].content_type, r);
    }
    return reply_error(c, MHD_HTTP_NOT_FOUND, "no such path");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    rn_http_t *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD: the dashboard is read-only");
    if (h->token) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        const char *qt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
        if (!rn_http_token_ok(auth, qt, h->token))
            return reply_error(c, MHD_HTTP_UNAUTHORIZED, "a token is required: Authorization: Bearer TOKEN or ?token=TOKEN");
    }
    if (!strcmp(url, "/api/pipelines") || !strcmp(url, "/api/status")) {
        views_t views, *vs = &views;
        if (!take(h, vs)) return MHD_NO;
        rn_buf_t b;
        rn_buf_init(&b);
        if (url[5] == 'p') render_pipelines(vs, &b);
        else render_status(h, vs, &b);
        drop(h, vs);
        return reply_buf(c, MHD_HTTP_OK, "application/json", &b);
    }
    if (!strncmp(url, "/api/tables/", 12)) return serve_table(h, c, url + 12);
    if (!strcmp(url, "/api/stream")) return serve_stream(h, c);
    if (!strcmp(url, "/metrics")) return serve_metrics(h, c);
    if (!strcmp(url, "/") || !strncmp(url, "/assets/", 8)) return serve_asset(c, url);
    return reply_error(c, MHD_HTTP_NOT_FOUND, "no such path");
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

rn_err_t rn_http_start(rn_http_hub_t *hub, const char *listen, const char *token, rn_http_t **out, char *url,
                       size_t urlsz, char *errbuf, size_t errbuf_size)
{
    char host[256];
    int port;
    if (!rn_http_parse_listen(listen, host, sizeof host, &port, errbuf, errbuf_size)) return RN_ERR_CONFIG;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(errbuf, errbuf_size, "--http %s: cannot resolve '%s': %s", listen, host, gai_strerror(gai));
        return RN_ERR_CONFIG;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    bool v6 = ss.ss_family == AF_INET6;
    if (v6) ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    else ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    if (token && !*token) token = NULL;
    if (!token && !is_loopback((struct sockaddr *)&ss)) {
        snprintf(errbuf, errbuf_size,
                 "--http %s: serving on an address other than loopback needs a token (--http-token or "
                 "RUNNEL_HTTP_TOKEN); every request must then carry it",
                 listen);
        return RN_ERR_CONFIG;
    }
    rn_http_t *h = rn_calloc(1, sizeof *h);
    if (!h || (token && !(h->token = rn_strdup(token)))) {
        rn_free(h);
        snprintf(errbuf, errbuf_size, "out of memory");
        return RN_ERR_NOMEM;
    }
    h->hub = hub;
    h->started_ms = rn_clock_wall_ms();
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | (v6 ? MHD_USE_IPv6 : 0);
    h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)RN_HTTP_MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)RN_HTTP_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
                            MHD_OPTION_END);
    if (!h->d) {
        snprintf(errbuf, errbuf_size, "--http %s: cannot listen there (in use, or not an address of this host)", listen);
        rn_free(h->token);
        rn_free(h);
        return RN_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = info ? info->port : port;
    snprintf(url, urlsz, v6 ? "http://[%s]:%d/" : "http://%s:%d/", host, bound);
    *out = h;
    return RN_OK;
}

void rn_http_stop(rn_http_t *h)
{
    if (!h) return;
    h->stopping = 1;
    MHD_stop_daemon(h->d);
    rn_free(h->token);
    rn_free(h);
}
