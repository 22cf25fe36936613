/*
 * pipeline.h - a compiled pipeline: catalog, operator graph and runtime.
 *
 * rn_pipeline_compile parses a pipeline file, checks every name and type
 * (nothing runs if anything is wrong) and builds the operator graph:
 * one source scan per source table, shared by every query that reads it,
 * and per INSERT a chain of Calc / GroupAggregate operators ending in a
 * sink. rn_pipeline_run then drives the sources batch by batch, in one of
 * two modes: RUN uses the connectors for real; TEST replays files
 * (deterministic, see docs/testing.md).
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
void rn_pipeline_free(rn_pipeline_t *p);

/* Appends the operator graph, one tree per sink, for `runnel explain`. */
void rn_pipeline_explain(const rn_pipeline_t *p, rn_buf_t *out);

/* Where `runnel test` writes undecodable records, under its output
 * directory: a subdirectory, so no topic's file can be the same file. */
#define RN_TEST_DLQ_FILE "_runnel/dead-letters.jsonl"

typedef enum rn_run_mode {
    RN_MODE_RUN,                /* connectors for real */
    RN_MODE_TEST,               /* files in input_dir/output_dir, deterministic */
} rn_run_mode;

typedef struct rn_run_opts {
    rn_run_mode mode;
    const char *input_dir;      /* TEST: where <name>.jsonl inputs are */
    const char *output_dir;     /* TEST: where outputs and RN_TEST_DLQ_FILE go (created) */
    const char *dlq_path;       /* RUN: dead-letter file (default "dlq.jsonl") */
    int64_t now_ms;             /* TEST: the fixed processing time (epoch ms, may be < 0) */
    volatile sig_atomic_t *stop; /* set to stop an unbounded run, may be NULL */
    /* Called about every progress_ms of wall-clock time while running, and
     * once at the end. May be NULL. */
    void (*progress)(const rn_pipeline_t *p, bool final, void *opaque);
    void *progress_opaque;
    int64_t progress_ms;
    int64_t commit_ms;          /* RUN: commit interval (0 = default 1000 ms) */
    size_t max_memory;          /* stop with an error naming the largest state when the
                                 * process's memory passes this many bytes; 0 = no limit */
} rn_run_opts_t;

/* Runs the pipeline until every source is exhausted (or *stop is set),
 * then flushes all pending results. Returns RN_OK or the error that
 * stopped it (described in errbuf). */
rn_err_t rn_pipeline_run(rn_pipeline_t *p, const rn_run_opts_t *opts, char *errbuf,
                         size_t errbuf_size);

/* Introspection for the console view, metrics and tests. */
int rn_pipeline_nsources(const rn_pipeline_t *p);
rn_op_t *rn_pipeline_source(const rn_pipeline_t *p, int i);
int rn_pipeline_nsinks(const rn_pipeline_t *p);
rn_op_t *rn_pipeline_sink(const rn_pipeline_t *p, int i);
const char *rn_pipeline_sink_name(const rn_pipeline_t *p, int i);
int rn_pipeline_nops(const rn_pipeline_t *p);
rn_op_t *rn_pipeline_op(const rn_pipeline_t *p, int i);
uint64_t rn_pipeline_dlq_count(const rn_pipeline_t *p);

#endif
