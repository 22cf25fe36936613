/*
 * demo.h - what `runnel demo` starts around the five example pipelines:
 * the embedded broker with the scenario topics, the generator thread, S4's
 * SQLite database in a temporary directory (cli/demo.c). The caller runs
 * the pipelines (rn_pipelines_run) between rn_demo_start and rn_demo_free.
 */
#ifndef RN_CLI_DEMO_H
#define RN_CLI_DEMO_H

#include <signal.h>
#include <stdint.h>

#include "plan/pipeline.h"
#include "runnel.h"

typedef struct rn_demo_opts {
    double rate;                /* records/s of all scenarios together */
    uint64_t seed;              /* the generators' (scenario i gets seed + i) */
    volatile sig_atomic_t *stop; /* the run's stop flag, set if the generator fails */
} rn_demo_opts_t;

typedef struct rn_demo rn_demo_t;

/* Sets everything up and starts the generator; the pipelines are compiled
 * but not running. On failure returns the error with errbuf filled, having
 * undone what it did. The caller frees the demo with rn_demo_free. */
rn_err_t rn_demo_start(const rn_demo_opts_t *opts, rn_demo_t **out /* out */, char *errbuf,
                       size_t errbuf_size);
/* The compiled example pipelines (owned by the demo); returns how many. */
int rn_demo_pipelines(rn_demo_t *d, rn_pipeline_t *const **ps /* out */);
/* The embedded cluster's bootstrap list. */
const char *rn_demo_brokers(const rn_demo_t *d);
/* The temporary directory (S4's database, dead letters). */
const char *rn_demo_dir(const rn_demo_t *d);
/* Where S2 and S4 write ("S2 writes blackhole, S4 uses SQLite"). */
const char *rn_demo_setup(const rn_demo_t *d);
/* Records produced so far, all scenarios. */
int64_t rn_demo_generated(const rn_demo_t *d);
/* Stops the generator (after the pipelines have stopped), frees the
 * pipelines, stops the embedded cluster and removes the temporary
 * directory. Returns RN_OK, or the error that stopped the generator
 * (errbuf, may be NULL). NULL is a no-op. */
rn_err_t rn_demo_free(rn_demo_t *d, char *errbuf, size_t errbuf_size);

#endif
