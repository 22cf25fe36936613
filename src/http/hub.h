/*
 * hub.h - what the HTTP server shows, published by the pipeline threads.
 *
 * A hub lists the pipelines of the process (one entry per pipeline
 * instance: with --workers N, one per worker). Each pipeline thread, on
 * its progress tick (rn_run_opts_t.progress), calls rn_http_hub_publish:
 * it renders the pipeline's part of /api/status, its /metrics samples and
 * its dashboard tables into a new snapshot, and swaps it in under the
 * hub's mutex. The server takes a reference to the latest snapshots under
 * that mutex (rn_http_hub_take) and renders answers from them without
 * it. The pipeline thread therefore never waits for a client: at most for
 * the few instructions a reader holds the mutex.
 */
#ifndef RN_HTTP_HUB_H
#define RN_HTTP_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "plan/pipeline.h"

/* The metric families of a pipeline's samples, in /metrics order. */
typedef enum rn_metric_family {
    RN_M_SOURCE_RECORDS,
    RN_M_SOURCE_LAG,
    RN_M_SOURCE_WATERMARK,
    RN_M_SOURCE_UNDECODABLE,
    RN_M_OP_ROWS_IN,
    RN_M_OP_ROWS_OUT,
    RN_M_OP_STATE_BYTES,
    RN_M_OP_STATE_KEYS,
    RN_M_OP_LATE_ROWS,
    RN_M_SINK_RECORDS,
    RN_M_SINK_ERRORS,
    RN_M_SINK_RETRIES,
    RN_M_DLQ_RECORDS,
    RN_M_CKPT_TOTAL,
    RN_M_CKPT_BYTES,
    RN_M_CKPT_SECONDS,
    RN_M_CKPT_TIME,
    RN_M_NFAMILIES
} rn_metric_family;

typedef struct rn_metric_info {
    const char *name;           /* "runnel_source_records_total" */
    const char *type;           /* "counter" or "gauge" */
    const char *help;           /* the HELP line */
} rn_metric_info_t;

extern const rn_metric_info_t rn_metric_families[RN_M_NFAMILIES];

/* One published snapshot of a pipeline (read-only once published). */
typedef struct rn_http_snap {
    int refs;                   /* references (hub's + readers'), under the hub mutex */
    int64_t time_ms;            /* wall clock of the tick */
    rn_buf_t status;            /* members of its /api/status entry after "state":
                                 * "operators":[..],"sources":[..],"sinks":[..],"dlq_records":N */
    rn_buf_t metrics[RN_M_NFAMILIES]; /* sample lines per family */
    rn_buf_t tables;            /* JSON object NAME -> /api/tables/NAME object ("{}": none) */
    uint64_t tables_version;    /* bumped by each publish whose tables text changed */
} rn_http_snap_t;

/* The dashboard tables' hook (docs/dashboard.md, "Interfaces"): appends to
 * out a JSON object mapping each dashboard table of p to its
 * /api/tables/NAME object; appends nothing when p has none. Called on p's
 * pipeline thread, between batches. */
typedef void (*rn_http_tables_fn)(const rn_pipeline_t *p, rn_buf_t *out);

typedef struct rn_http_hub rn_http_hub_t;

/* A pipeline as the server sees it: references taken by rn_http_hub_take. */
typedef struct rn_http_view {
    const char *name;           /* as given to rn_http_hub_add */
    const char *group;          /* the process-level pipeline of a worker, or NULL */
    const char *file;
    const char *graph;          /* {"nodes":[..],"edges":[..]} */
    int64_t started_ms;
    char state[16];             /* starting, running, finished, failed */
    char error[512];            /* when failed */
    rn_http_snap_t *snap;       /* latest snapshot (a reference), or NULL before the first */
} rn_http_view_t;

/* Returns a new empty hub, or NULL on OOM. tables may be NULL (no
 * dashboard tables). */
rn_http_hub_t *rn_http_hub_new(rn_http_tables_fn tables);
/* Adds pipeline p, named name (shown, "PIPELINE.NAME" in table refs) and
 * read from file (may be NULL), before any publish and before the server
 * starts; renders its operator graph. group (may be NULL) names the
 * pipeline of which p is one worker ("s2_activity" for "s2_activity-w1"):
 * the server shows the dashboard tables of a group's workers merged,
 * under the group's name. Returns RN_OK or RN_ERR_NOMEM. p must outlive
 * the hub. */
rn_err_t rn_http_hub_add(rn_http_hub_t *hub, const rn_pipeline_t *p, const char *name, const char *group,
                         const char *file);
/* The body of the progress callback: publishes p's snapshot (final: p has
 * finished, or stopped). Called on p's pipeline thread only. On OOM it
 * keeps the previous snapshot. */
void rn_http_hub_publish(rn_http_hub_t *hub, const rn_pipeline_t *p, bool final);
/* An rn_run_opts_t.progress adapter: opaque is the hub. */
void rn_http_hub_progress(const rn_pipeline_t *p, bool final, void *opaque);
/* Marks p failed with message (its run returned an error). */
void rn_http_hub_set_failed(rn_http_hub_t *hub, const rn_pipeline_t *p, const char *message);
/* Copies the hub's pipelines into views (at most max; returns how many the
 * hub has; views may be NULL with max 0 to count), each with a reference
 * to its latest snapshot; release them
 * with rn_http_hub_release. Thread-safe. */
int rn_http_hub_take(rn_http_hub_t *hub, rn_http_view_t *views, int max);
void rn_http_hub_release(rn_http_hub_t *hub, rn_http_view_t *views, int n);
/* Frees the hub (no server may use it any more). */
void rn_http_hub_free(rn_http_hub_t *hub);

#endif
