/*
 * pipeline.h - a compiled pipeline: catalog and operator graph.
 *
 * rn_pipeline_compile parses a pipeline file, checks every name and type
 * (nothing runs if anything is wrong) and builds the operator graph:
 * one source scan per source table, shared by every query that reads it,
 * and per INSERT a chain of Calc / GroupAggregate operators ending in a
 * sink. runtime/run.h runs it.
 */
#ifndef RN_PIPELINE_H
#define RN_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "op/op.h"
#include "runnel.h"

typedef struct rn_pipeline rn_pipeline_t;

/* Compiles SQL text. filename is used in messages. On failure returns
 * RN_ERR_PARSE / RN_ERR_ANALYZE / RN_ERR_UNSUPPORTED / RN_ERR_CONFIG with a
 * "file:line:col: error: ..." diagnostic in errbuf. The caller frees the
 * pipeline with rn_pipeline_free. */
rn_err_t rn_pipeline_compile(const char *src, size_t len, const char *filename,
                             rn_pipeline_t **out, char *errbuf, size_t errbuf_size);
/* Reads path and compiles it. */
rn_err_t rn_pipeline_load(const char *path, rn_pipeline_t **out, char *errbuf,
                          size_t errbuf_size);

/* An option of a CREATE TABLE given from outside the file (`runnel run
 * --set TABLE.OPTION=VALUE`, `--connector TABLE=NAME`; docs/cli.md). */
typedef struct rn_table_override {
    const char *table;          /* the CREATE TABLE's name */
    const char *key;            /* the option, or NULL: value is a new connector (the
                                 * options it does not take are dropped, in the log) */
    const char *value;
} rn_table_override_t;

/* rn_pipeline_compile and rn_pipeline_load with overrides ov[0..nov)
 * applied to the tables as if written in the file. An override naming no
 * table of this file is not an error; used[i] (may be NULL) counts the
 * tables override i was applied to, so a caller compiling several files
 * can tell the ones that matched nothing. */
rn_err_t rn_pipeline_compile_with(const char *src, size_t len, const char *filename,
                                  const rn_table_override_t *ov, int nov, int *used,
                                  rn_pipeline_t **out, char *errbuf, size_t errbuf_size);
rn_err_t rn_pipeline_load_with(const char *path, const rn_table_override_t *ov, int nov, int *used,
                               rn_pipeline_t **out, char *errbuf, size_t errbuf_size);
void rn_pipeline_free(rn_pipeline_t *p);
/* Writes the pipeline's name into buf: its file name without directory
 * and ".sql" ("examples/s1_logins.sql" -> "s1_logins"). Connectors derive
 * defaults from it (Kafka consumer groups runnel.<name>.<table>). */
void rn_pipeline_name(const rn_pipeline_t *p, char *buf, size_t size);

/* Appends the operator graph, one tree per sink, for `runnel explain`. */
void rn_pipeline_explain(const rn_pipeline_t *p, rn_buf_t *out);

/* Introspection for the console view, metrics and tests. */
int rn_pipeline_nsources(const rn_pipeline_t *p);
rn_op_t *rn_pipeline_source(const rn_pipeline_t *p, int i);
int rn_pipeline_nsinks(const rn_pipeline_t *p);
rn_op_t *rn_pipeline_sink(const rn_pipeline_t *p, int i);
const char *rn_pipeline_sink_name(const rn_pipeline_t *p, int i);
/* True when sink i is the in-memory twin of a 'dashboard' = 'true' table
 * (its name is the table's; its connector is no table's). */
bool rn_pipeline_sink_is_dashboard_twin(const rn_pipeline_t *p, int i);
int rn_pipeline_nops(const rn_pipeline_t *p);
rn_op_t *rn_pipeline_op(const rn_pipeline_t *p, int i);
uint64_t rn_pipeline_dlq_count(const rn_pipeline_t *p);
/* Turns checkpoints off, whatever the script SETs ('execution.checkpointing.
 * interval' = '0'): `runnel demo`'s embedded broker forgets every offset
 * at exit, so nothing could ever be restored. */
void rn_pipeline_no_checkpoints(rn_pipeline_t *p);

/* Checkpoints taken by the running pipeline (runtime/checkpoint.c),
 * for the dashboard and /metrics; all zero while it takes none. Read on
 * the pipeline's own thread (its progress callback). */
typedef struct rn_ckpt_stats {
    uint64_t count;             /* checkpoints written */
    int64_t last_ms;            /* wall-clock time of the last one */
    uint64_t last_bytes;        /* its file's size */
    int64_t last_duration_ms;   /* from syncing the outputs to the file's rename */
    uint64_t restored;          /* partitions restored from a checkpoint */
} rn_ckpt_stats_t;
const rn_ckpt_stats_t *rn_pipeline_ckpt_stats(const rn_pipeline_t *p);

/* SET 'parallelism.default': how many workers `runnel run` starts when
 * --workers does not say; 0 when not set. */
int rn_pipeline_parallelism(const rn_pipeline_t *p);

/* ---- dashboard tables (docs/dashboard.md, "Interfaces") ---------------
 * The tables of the pipeline shown on the dashboard: 'dashboard'
 * connector tables and tables with 'dashboard' = 'true'. Known once
 * compiled; their contents exist while the pipeline runs (rn_pipeline_run
 * opened them) and until it is freed. Call the functions below on the
 * thread running the pipeline (its progress tick) or once it has
 * returned: nothing is locked. */

/* How many dashboard tables the pipeline has, and the name of the i-th
 * (in the order their tables were first written in the script). */
int rn_pipeline_ndashboards(const rn_pipeline_t *p);
const char *rn_pipeline_dashboard_name(const rn_pipeline_t *p, int i);

/* Appends a JSON object {"NAME": <table object>, ...} with one member per
 * dashboard table that is open, the table object being /api/tables/NAME's
 * (connectors/dashboard.h, rn_dash_table_json). changed_only: only the
 * tables changed since the previous changed_only call, whose changed flags
 * it clears (so one caller, the event stream, should make these calls);
 * else every table, flags untouched. An unchanged table costs a copy of
 * its cached text. RN_ERR_NOMEM when out could not grow. */
rn_err_t rn_pipeline_dashboard_json(const rn_pipeline_t *p, rn_buf_t *out, bool changed_only);

/* The dashboard tables' hook of the HTTP server (http/hub.h,
 * rn_http_tables_fn): rn_pipeline_dashboard_json(p, out, false), or
 * nothing when p has no dashboard tables. Out of memory leaves out
 * truncated (out->oom set). */
void rn_pipeline_dashboard_tables_json(const rn_pipeline_t *p, rn_buf_t *out);

/* Appends the table object of dashboard table name, with every shown row
 * (key NULL) or only the row whose one-column key has the text key (a
 * string as is, numbers and timestamps in digits; "rows": [] when there is
 * none). RN_ERR_CONFIG with a message when the pipeline has no open
 * dashboard table of that name (HTTP 404), or key is given and the table
 * has no one-column key (400). */
rn_err_t rn_pipeline_dashboard_table_json(const rn_pipeline_t *p, const char *name, const char *key,
                                          rn_buf_t *out, char *errbuf, size_t errbuf_size);

#define RN_MAX_WORKERS 256      /* --workers, 'parallelism.default' */

#endif
