/*
 * hub.c - snapshots of the running pipelines for the HTTP server (see
 * hub.h). The publisher runs on the pipeline thread; everything it reads
 * (operator counters, source partitions, sink counters) belongs to that
 * thread, so it reads without locks, renders text, and only the final
 * pointer swap takes the hub's mutex. Rates are computed against the
 * values of the previous tick, kept per pipeline by its publisher.
 */
#include "http/hub.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "json/json.h"
#include "op/lookup_join.h"
#include "plan/compiled.h"

const rn_metric_info_t rn_metric_families[RN_M_NFAMILIES] = {
    [RN_M_SOURCE_RECORDS] = {"runnel_source_records_total", "counter",
                             "Records read from a source (per partition for a table with a WATERMARK)"},
    [RN_M_SOURCE_LAG] = {"runnel_source_lag_records", "gauge", "Records after the last one read (consumer lag)"},
    [RN_M_SOURCE_WATERMARK] = {"runnel_source_watermark_seconds", "gauge", "Watermark of a source partition"},
    [RN_M_SOURCE_UNDECODABLE] = {"runnel_source_undecodable_total", "counter",
                                 "Records of a source that did not decode (sent to the dead-letter output)"},
    [RN_M_OP_ROWS_IN] = {"runnel_operator_rows_in_total", "counter", "Rows an operator received"},
    [RN_M_OP_ROWS_OUT] = {"runnel_operator_rows_out_total", "counter", "Rows an operator emitted"},
    [RN_M_OP_STATE_BYTES] = {"runnel_operator_state_bytes", "gauge", "Bytes of state an operator holds"},
    [RN_M_OP_STATE_KEYS] = {"runnel_operator_state_keys", "gauge", "Keys or windows an operator holds"},
    [RN_M_OP_LATE_ROWS] = {"runnel_operator_late_rows_total", "counter", "Late rows a window operator dropped or diverted"},
    [RN_M_SINK_RECORDS] = {"runnel_sink_records_total", "counter", "Records a sink wrote"},
    [RN_M_SINK_ERRORS] = {"runnel_sink_errors_total", "counter", "Failed writes and flushes of a sink"},
    [RN_M_SINK_RETRIES] = {"runnel_sink_retries_total", "counter", "Flushes a sink retried after an outage"},
    [RN_M_DLQ_RECORDS] = {"runnel_dlq_records_total", "counter", "Records written to the dead-letter output"},
    [RN_M_CKPT_TOTAL] = {"runnel_checkpoints_total", "counter", "Checkpoints written (docs/checkpoints.md)"},
    [RN_M_CKPT_BYTES] = {"runnel_checkpoint_last_bytes", "gauge", "Size of the last checkpoint file"},
    [RN_M_CKPT_SECONDS] = {"runnel_checkpoint_last_duration_seconds", "gauge",
                           "Time the last checkpoint took, from syncing the outputs to the file's rename"},
    [RN_M_CKPT_TIME] = {"runnel_checkpoint_last_timestamp_seconds", "gauge", "When the last checkpoint was written"},
};

#define MAX_PARTS 1024          /* partitions of one source shown */
#define STATE_EVERY_MS 2000     /* state sizes are measured this often (some walk their state) */

/* The previous tick's counter of one rate, keyed by what it counts. */
typedef struct prev_count {
    int kind;                   /* 0 operator in, 1 operator out, 2 source partition, 3 sink */
    int idx;                    /* operator id, source index or sink index */
    char topic[128];            /* source partition */
    int32_t partition;
    uint64_t value;
} prev_count_t;

typedef struct slot {
    const rn_pipeline_t *p;
    char *name, *file;
    char *group;                /* NULL: not a worker */
    rn_buf_t graph;             /* {"nodes":..,"edges":..} */
    int64_t started_ms;
    char state[16];             /* under the hub mutex */
    char error[512];            /* under the hub mutex */
    rn_http_snap_t *snap;       /* latest, one reference held by the hub; under the mutex */
    /* the publisher's own (pipeline thread) */
    int64_t prev_ms;            /* wall clock of the previous tick, 0 = none */
    prev_count_t *prev;
    int nprev, capprev;
    uint64_t tables_version;
    rn_buf_t last_tables;       /* the previous tick's tables text */
    rn_source_partition_t *parts; /* room for MAX_PARTS partitions of one source */
    size_t *sizes;              /* per operator index: bytes, keys (2 entries) as last measured */
    int nsizes;                 /* operators in sizes */
    int64_t state_ms;           /* wall clock of that measure, 0 = never */
} slot_t;

struct rn_http_hub {
    pthread_mutex_t lock;
    rn_http_tables_fn tables;
    slot_t *slots;
    int nslots, capslots;
};

rn_http_hub_t *rn_http_hub_new(rn_http_tables_fn tables)
{
    rn_http_hub_t *h = rn_calloc(1, sizeof *h);
    if (!h) return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->tables = tables;
    return h;
}

static void snap_unref_locked(rn_http_snap_t *s)
{
    if (!s || --s->refs > 0) return;
    rn_buf_free(&s->status);
    for (int i = 0; i < RN_M_NFAMILIES; i++) rn_buf_free(&s->metrics[i]);
    rn_buf_free(&s->tables);
    rn_free(s);
}

void rn_http_hub_free(rn_http_hub_t *h)
{
    if (!h) return;
    for (int i = 0; i < h->nslots; i++) {
        slot_t *s = &h->slots[i];
        rn_free(s->name);
        rn_free(s->group);
        rn_free(s->file);
        rn_buf_free(&s->graph);
        rn_buf_free(&s->last_tables);
        rn_free(s->prev);
        rn_free(s->parts);
        rn_free(s->sizes);
        snap_unref_locked(s->snap);
    }
    rn_free(h->slots);
    pthread_mutex_destroy(&h->lock);
    rn_free(h);
}

static void json_str(rn_buf_t *b, const char *s)
{
    if (s) rn_json_write_string(b, s, strlen(s));
    else rn_buf_appends(b, "null");
}

rn_err_t rn_http_hub_add(rn_http_hub_t *h, const rn_pipeline_t *p, const char *name, const char *group,
                         const char *file)
{
    if (h->nslots == h->capslots) {
        int cap = h->capslots ? h->capslots * 2 : 4;
        slot_t *ns = rn_realloc(h->slots, (size_t)cap * sizeof *ns);
        if (!ns) return RN_ERR_NOMEM;
        h->slots = ns;
        h->capslots = cap;
    }
    slot_t *s = &h->slots[h->nslots];
    memset(s, 0, sizeof *s);
    s->p = p;
    s->name = rn_strdup(name);
    s->file = file ? rn_strdup(file) : NULL;
    s->group = group ? rn_strdup(group) : NULL;
    s->started_ms = rn_clock_wall_ms();
    s->parts = rn_calloc(MAX_PARTS, sizeof *s->parts);
    snprintf(s->state, sizeof s->state, "starting");
    rn_buf_init(&s->graph);
    rn_buf_init(&s->last_tables);
    rn_buf_t label;
    rn_buf_init(&label);
    rn_buf_appends(&s->graph, "{\"nodes\":[");
    for (int i = 0; i < rn_pipeline_nops(p); i++) {
        const rn_op_t *op = rn_pipeline_op(p, i);
        rn_buf_clear(&label);
        if (op->vt->explain) op->vt->explain(op, &label);
        rn_buf_appendf(&s->graph, "%s{\"id\":%d,\"kind\":", i ? "," : "", op->id);
        json_str(&s->graph, op->vt->kind);
        rn_buf_appends(&s->graph, ",\"label\":");
        rn_json_write_string(&s->graph, label.data ? label.data : "", label.len);
        rn_buf_appendc(&s->graph, '}');
    }
    rn_buf_appends(&s->graph, "],\"edges\":[");
    int e = 0;
    for (int i = 0; i < rn_pipeline_nops(p); i++) {
        const rn_op_t *op = rn_pipeline_op(p, i);
        for (int j = 0; j < op->noutputs; j++)
            rn_buf_appendf(&s->graph, "%s[%d,%d]", e++ ? "," : "", op->id, op->outputs[j].op->id);
    }
    rn_buf_appends(&s->graph, "]}");
    bool oom = label.oom || s->graph.oom || !s->name || (file && !s->file) || (group && !s->group) ||
               !s->parts;
    rn_buf_free(&label);
    if (oom) {
        rn_free(s->parts);
        rn_free(s->name);
        rn_free(s->group);
        rn_free(s->file);
        rn_buf_free(&s->graph);
        return RN_ERR_NOMEM;
    }
    h->nslots++;
    return RN_OK;
}

static slot_t *slot_of(rn_http_hub_t *h, const rn_pipeline_t *p)
{
    for (int i = 0; i < h->nslots; i++)
        if (h->slots[i].p == p) return &h->slots[i];
    return NULL;
}

/* The previous value of a counter (0 the first time) and records the new
 * one. */
static uint64_t prev_swap(slot_t *s, int kind, int idx, const char *topic, int32_t partition, uint64_t value)
{
    for (int i = 0; i < s->nprev; i++) {
        prev_count_t *c = &s->prev[i];
        if (c->kind == kind && c->idx == idx && c->partition == partition && !strcmp(c->topic, topic ? topic : "")) {
            uint64_t old = c->value;
            c->value = value;
            return old;
        }
    }
    if (s->nprev == s->capprev) {
        int cap = s->capprev ? s->capprev * 2 : 32;
        prev_count_t *np = rn_realloc(s->prev, (size_t)cap * sizeof *np);
        if (!np) return value; /* a rate of 0 this time */
        s->prev = np;
        s->capprev = cap;
    }
    prev_count_t *c = &s->prev[s->nprev++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->idx = idx;
    c->partition = partition;
    snprintf(c->topic, sizeof c->topic, "%s", topic ? topic : "");
    c->value = value;
    return 0;
}

static void append_rate(rn_buf_t *b, uint64_t now, uint64_t before, double secs)
{
    double r = secs > 0 && now >= before ? (double)(now - before) / secs : 0.0;
    rn_buf_appendf(b, "%.1f", r);
}

static void append_wm(rn_buf_t *b, int64_t wm)
{
    if (wm == RN_WM_MIN || wm == RN_WM_MAX) rn_buf_appends(b, "null");
    else rn_buf_append_i64(b, wm);
}

/* Appends s as a Prometheus label value (quotes added; \, " and newline
 * escaped). */
static void prom_label(rn_buf_t *b, const char *s)
{
    rn_buf_appendc(b, '"');
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"') rn_buf_appendc(b, '\\');
        if (*s == '\n') {
            rn_buf_appends(b, "\\n");
            continue;
        }
        rn_buf_appendc(b, *s);
    }
    rn_buf_appendc(b, '"');
}

static bool is_window(const rn_op_t *op)
{
    return !strcmp(op->vt->kind, "WindowAggregate") || !strcmp(op->vt->kind, "WindowRows");
}

/* Operator i's state size (bytes, and keys in *keys): measured at most
 * every STATE_EVERY_MS (and when measure is set), else the last measure. */
static size_t state_of(slot_t *s, int i, const rn_op_t *op, bool measure, size_t *keys)
{
    *keys = 0;
    if (!op->vt->state_size) return 0;
    if (i >= s->nsizes) {
        int n = rn_pipeline_nops(s->p) > i ? rn_pipeline_nops(s->p) : i + 1;
        size_t *ns = rn_realloc(s->sizes, (size_t)n * 2 * sizeof *ns);
        if (!ns) return op->vt->state_size(op, keys);
        memset(ns + 2 * s->nsizes, 0, (size_t)(n - s->nsizes) * 2 * sizeof *ns);
        s->sizes = ns;
        s->nsizes = n;
        measure = true;
    }
    if (measure) s->sizes[2 * i] = op->vt->state_size(op, &s->sizes[2 * i + 1]);
    *keys = s->sizes[2 * i + 1];
    return s->sizes[2 * i];
}

/* Renders s's pipeline into snap (final: the last tick). */
static void render(slot_t *s, rn_http_snap_t *snap, double secs, int64_t now, bool final)
{
    const rn_pipeline_t *p = s->p;
    bool measure = final || !s->state_ms || now - s->state_ms >= STATE_EVERY_MS;
    if (measure) s->state_ms = now;
    rn_buf_t *st = &snap->status, *m = snap->metrics;
    rn_buf_t label;
    rn_buf_init(&label);
    /* operators */
    rn_buf_appends(st, "\"operators\":[");
    for (int i = 0; i < rn_pipeline_nops(p); i++) {
        const rn_op_t *op = rn_pipeline_op(p, i);
        size_t keys, bytes = state_of(s, i, op, measure, &keys);
        uint64_t late = is_window(op) ? rn_window_late_rows(op) : 0;
        rn_buf_clear(&label);
        if (op->vt->explain) op->vt->explain(op, &label);
        rn_buf_appendf(st, "%s{\"id\":%d,\"kind\":", i ? "," : "", op->id);
        json_str(st, op->vt->kind);
        rn_buf_appends(st, ",\"label\":");
        rn_json_write_string(st, label.data ? label.data : "", label.len);
        rn_buf_appendf(st, ",\"rows_in\":%llu,\"rows_out\":%llu,\"rows_in_per_s\":", (unsigned long long)op->rows_in,
                       (unsigned long long)op->rows_out);
        append_rate(st, op->rows_in, prev_swap(s, 0, op->id, NULL, 0, op->rows_in), secs);
        rn_buf_appends(st, ",\"rows_out_per_s\":");
        append_rate(st, op->rows_out, prev_swap(s, 1, op->id, NULL, 0, op->rows_out), secs);
        rn_buf_appendf(st, ",\"state_bytes\":%zu,\"state_keys\":%zu,\"late_rows\":%llu,\"watermark_ms\":", bytes, keys,
                       (unsigned long long)late);
        append_wm(st, op->watermark);
        rn_buf_appendc(st, '}');
        char labels[256];
        snprintf(labels, sizeof labels, "operator=\"%d\",kind=\"%s\"}", op->id, op->vt->kind);
        for (int f = RN_M_OP_ROWS_IN; f <= RN_M_OP_LATE_ROWS; f++) {
            rn_buf_appends(&m[f], rn_metric_families[f].name);
            rn_buf_appends(&m[f], "{pipeline=");
            prom_label(&m[f], s->name);
            rn_buf_appendf(&m[f], ",%s ", labels);
            uint64_t v = f == RN_M_OP_ROWS_IN ? op->rows_in : f == RN_M_OP_ROWS_OUT ? op->rows_out
                       : f == RN_M_OP_STATE_BYTES ? bytes : f == RN_M_OP_STATE_KEYS ? keys : late;
            rn_buf_appendf(&m[f], "%llu\n", (unsigned long long)v);
        }
    }
    /* sources: per partition where the source tracks them, else one entry */
    rn_buf_appends(st, "],\"sources\":[");
    rn_source_partition_t *parts = s->parts; /* allocated by rn_http_hub_add */
    int n = 0;
    for (int i = 0; i < rn_pipeline_nsources(p); i++) {
        const rn_op_t *src = rn_pipeline_source(p, i);
        const char *table = rn_source_label(src);
        int np = rn_source_partitions(src, parts, MAX_PARTS);
        if (np > MAX_PARTS) np = MAX_PARTS;
        bool whole = np == 0;
        if (whole) {
            parts[0] = (rn_source_partition_t){.topic = NULL, .partition = -1, .records = rn_source_records(src),
                                               .watermark = rn_source_has_watermark(src) ? rn_source_watermark(src)
                                                                                         : RN_WM_MIN,
                                               .lag = -1};
            np = 1;
        }
        bool quiet = rn_source_quiet(src);
        for (int k = 0; k < np; k++) {
            const rn_source_partition_t *sp = &parts[k];
            rn_buf_appends(st, n++ ? ",{\"table\":" : "{\"table\":");
            json_str(st, table);
            rn_buf_appends(st, ",\"topic\":");
            json_str(st, sp->topic);
            rn_buf_appendf(st, ",\"partition\":%d,\"records\":%llu,\"records_per_s\":", (int)sp->partition,
                           (unsigned long long)sp->records);
            append_rate(st, sp->records, prev_swap(s, 2, i, sp->topic, sp->partition, sp->records), secs);
            rn_buf_appends(st, ",\"lag\":");
            if (sp->lag >= 0) rn_buf_append_i64(st, sp->lag);
            else rn_buf_appends(st, "null");
            rn_buf_appends(st, ",\"watermark_ms\":");
            append_wm(st, sp->watermark);
            rn_buf_appendf(st, ",\"idle\":%s,\"quiet\":%s}", sp->idle ? "true" : "false", quiet ? "true" : "false");
            for (int f = RN_M_SOURCE_RECORDS; f <= RN_M_SOURCE_WATERMARK; f++) {
                if (f == RN_M_SOURCE_LAG && sp->lag < 0) continue;
                if (f == RN_M_SOURCE_WATERMARK && (sp->watermark == RN_WM_MIN || sp->watermark == RN_WM_MAX)) continue;
                rn_buf_appends(&m[f], rn_metric_families[f].name);
                rn_buf_appends(&m[f], "{pipeline=");
                prom_label(&m[f], s->name);
                rn_buf_appends(&m[f], ",table=");
                prom_label(&m[f], table);
                rn_buf_appends(&m[f], ",topic=");
                prom_label(&m[f], sp->topic ? sp->topic : "");
                rn_buf_appendf(&m[f], ",partition=\"%d\"} ", (int)sp->partition);
                if (f == RN_M_SOURCE_RECORDS) rn_buf_appendf(&m[f], "%llu\n", (unsigned long long)sp->records);
                else if (f == RN_M_SOURCE_LAG) rn_buf_appendf(&m[f], "%lld\n", (long long)sp->lag);
                else rn_buf_appendf(&m[f], "%.3f\n", (double)sp->watermark / 1000.0);
            }
        }
        rn_buf_appends(&m[RN_M_SOURCE_UNDECODABLE], "runnel_source_undecodable_total{pipeline=");
        prom_label(&m[RN_M_SOURCE_UNDECODABLE], s->name);
        rn_buf_appends(&m[RN_M_SOURCE_UNDECODABLE], ",table=");
        prom_label(&m[RN_M_SOURCE_UNDECODABLE], table);
        rn_buf_appendf(&m[RN_M_SOURCE_UNDECODABLE], "} %llu\n", (unsigned long long)rn_source_errors(src));
    }
    /* sinks */
    rn_buf_appends(st, "],\"sinks\":[");
    for (int i = 0; i < rn_pipeline_nsinks(p); i++) {
        const rn_op_t *sk = rn_pipeline_sink(p, i);
        const char *table = rn_pipeline_sink_name(p, i);
        /* a 'dashboard' = 'true' twin is its table's in-memory copy: named
         * 'dashboard', so the page and the metrics tell it from the sink
         * (and no two series share their labels) */
        const char *conn = rn_pipeline_sink_is_dashboard_twin(p, i) ? "dashboard"
                           : p->sinks[i].table && p->sinks[i].table->conn ? p->sinks[i].table->conn->name
                                                                          : "";
        uint64_t recs = rn_sink_records(sk), errs = rn_sink_errors(sk), tries = rn_sink_retries(sk);
        rn_buf_appends(st, i ? ",{\"table\":" : "{\"table\":");
        json_str(st, table);
        rn_buf_appends(st, ",\"connector\":");
        json_str(st, conn);
        rn_buf_appendf(st, ",\"records\":%llu,\"records_per_s\":", (unsigned long long)recs);
        append_rate(st, recs, prev_swap(s, 3, i, NULL, 0, recs), secs);
        rn_buf_appendf(st, ",\"errors\":%llu,\"retries\":%llu}", (unsigned long long)errs, (unsigned long long)tries);
        for (int f = RN_M_SINK_RECORDS; f <= RN_M_SINK_RETRIES; f++) {
            rn_buf_appends(&m[f], rn_metric_families[f].name);
            rn_buf_appends(&m[f], "{pipeline=");
            prom_label(&m[f], s->name);
            rn_buf_appends(&m[f], ",table=");
            prom_label(&m[f], table);
            rn_buf_appends(&m[f], ",connector=");
            prom_label(&m[f], conn);
            /* several INSERTs may write one table: the operator keeps the
             * series apart */
            rn_buf_appendf(&m[f], ",operator=\"%d\"", sk->id);
            rn_buf_appendf(&m[f], "} %llu\n",
                           (unsigned long long)(f == RN_M_SINK_RECORDS ? recs : f == RN_M_SINK_ERRORS ? errs : tries));
        }
    }
    uint64_t dlq = rn_pipeline_dlq_count(p);
    rn_buf_appendf(st, "],\"dlq_records\":%llu", (unsigned long long)dlq);
    rn_buf_appends(&m[RN_M_DLQ_RECORDS], "runnel_dlq_records_total{pipeline=");
    prom_label(&m[RN_M_DLQ_RECORDS], s->name);
    rn_buf_appendf(&m[RN_M_DLQ_RECORDS], "} %llu\n", (unsigned long long)dlq);
    const rn_ckpt_stats_t *ck = rn_pipeline_ckpt_stats(p);
    rn_buf_appendf(st, ",\"checkpoints\":{\"count\":%llu,\"last_ms\":%lld,\"last_bytes\":%llu,"
                       "\"last_duration_ms\":%lld,\"restored_partitions\":%llu}",
                   (unsigned long long)ck->count, (long long)ck->last_ms, (unsigned long long)ck->last_bytes,
                   (long long)ck->last_duration_ms, (unsigned long long)ck->restored);
    if (ck->count) {
        for (int f = RN_M_CKPT_TOTAL; f <= RN_M_CKPT_TIME; f++) {
            rn_buf_appendf(&m[f], "%s{pipeline=", rn_metric_families[f].name);
            prom_label(&m[f], s->name);
            rn_buf_appends(&m[f], "} ");
            if (f == RN_M_CKPT_TOTAL) rn_buf_appendf(&m[f], "%llu\n", (unsigned long long)ck->count);
            else if (f == RN_M_CKPT_BYTES) rn_buf_appendf(&m[f], "%llu\n", (unsigned long long)ck->last_bytes);
            else if (f == RN_M_CKPT_SECONDS) rn_buf_appendf(&m[f], "%.3f\n", (double)ck->last_duration_ms / 1000);
            else rn_buf_appendf(&m[f], "%.3f\n", (double)ck->last_ms / 1000);
        }
    }
    snap->time_ms = now;
    rn_buf_free(&label);
}

void rn_http_hub_publish(rn_http_hub_t *h, const rn_pipeline_t *p, bool final)
{
    slot_t *s = slot_of(h, p);
    if (!s) return;
    rn_http_snap_t *snap = rn_calloc(1, sizeof *snap);
    if (!snap) return;
    snap->refs = 1;
    rn_buf_init(&snap->status);
    rn_buf_init(&snap->tables);
    for (int i = 0; i < RN_M_NFAMILIES; i++) rn_buf_init(&snap->metrics[i]);
    int64_t now = rn_clock_wall_ms();
    double secs = s->prev_ms ? (double)(now - s->prev_ms) / 1000.0 : (double)(now - s->started_ms) / 1000.0;
    render(s, snap, secs, now, final);
    s->prev_ms = now;
    if (h->tables) h->tables(p, &snap->tables);
    if (!snap->tables.len) rn_buf_appends(&snap->tables, "{}");
    if (s->last_tables.len != snap->tables.len ||
        (snap->tables.len && memcmp(s->last_tables.data, snap->tables.data, snap->tables.len))) {
        s->tables_version++;
        rn_buf_clear(&s->last_tables);
        rn_buf_append(&s->last_tables, snap->tables.data, snap->tables.len);
    }
    snap->tables_version = s->tables_version;
    bool oom = snap->status.oom || snap->tables.oom;
    for (int i = 0; i < RN_M_NFAMILIES; i++) oom |= snap->metrics[i].oom;
    pthread_mutex_lock(&h->lock);
    if (!oom) {
        rn_http_snap_t *old = s->snap;
        s->snap = snap;
        snap = old;
    }
    if (strcmp(s->state, "failed")) snprintf(s->state, sizeof s->state, "%s", final ? "finished" : "running");
    snap_unref_locked(snap); /* the replaced one, or the new one on OOM */
    pthread_mutex_unlock(&h->lock);
}

void rn_http_hub_progress(const rn_pipeline_t *p, bool final, void *opaque)
{
    rn_http_hub_publish(opaque, p, final);
}

void rn_http_hub_set_failed(rn_http_hub_t *h, const rn_pipeline_t *p, const char *message)
{
    slot_t *s = slot_of(h, p);
    if (!s) return;
    pthread_mutex_lock(&h->lock);
    snprintf(s->state, sizeof s->state, "failed");
    snprintf(s->error, sizeof s->error, "%s", message ? message : "");
    pthread_mutex_unlock(&h->lock);
}

int rn_http_hub_take(rn_http_hub_t *h, rn_http_view_t *views, int max)
{
    pthread_mutex_lock(&h->lock);
    int n = h->nslots;
    for (int i = 0; i < n && i < max; i++) {
        slot_t *s = &h->slots[i];
        rn_http_view_t *v = &views[i];
        v->name = s->name;
        v->group = s->group;
        v->file = s->file;
        v->graph = s->graph.data;
        v->started_ms = s->started_ms;
        memcpy(v->state, s->state, sizeof v->state);
        memcpy(v->error, s->error, sizeof v->error);
        v->snap = s->snap;
        if (v->snap) v->snap->refs++;
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

void rn_http_hub_release(rn_http_hub_t *h, rn_http_view_t *views, int n)
{
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < n; i++) {
        snap_unref_locked(views[i].snap);
        views[i].snap = NULL;
    }
    pthread_mutex_unlock(&h->lock);
}
