/*
 * run.h - running a compiled pipeline (plan/pipeline.h), in one of two
 * modes: RUN uses the connectors for real; TEST replays files
 * (deterministic, see docs/testing.md).
 */
#ifndef RN_RUNTIME_RUN_H
#define RN_RUNTIME_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan/pipeline.h"
#include "runnel.h"

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
    int worker;                 /* RUN: > 0 when one of several workers (1-based): Kafka
                                 * static member ids get "-w<worker>" */
    bool from_scratch;          /* RUN: restore no checkpoint (docs/checkpoints.md) */
    rn_dlq_t *dlq;              /* RUN: a dead-letter output shared with other workers (not
                                 * owned; dlq_path is then unused), or NULL */
} rn_run_opts_t;

/* Runs the pipeline until every source is exhausted (or *stop is set),
 * then flushes all pending results. Returns RN_OK or the error that
 * stopped it (described in errbuf). */
rn_err_t rn_pipeline_run(rn_pipeline_t *p, const rn_run_opts_t *opts, char *errbuf,
                         size_t errbuf_size);

#endif
