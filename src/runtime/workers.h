/*
 * workers.h - running one pipeline on several threads of one process,
 * each a whole instance of it and a member of its consumer groups, as
 * Kafka Streams' stream threads are (docs/scale-out.md); and several
 * distinct pipelines side by side, one thread each.
 */
#ifndef RN_RUNTIME_WORKERS_H
#define RN_RUNTIME_WORKERS_H

#include <stddef.h>

#include "runtime/run.h"

/* Checks that n instances of a pipeline (ps[0] stands for all) can run
 * side by side: every table it reads or writes must be shared (Kafka, a
 * blackhole). Returns RN_OK or RN_ERR_CONFIG with the reason. */
rn_err_t rn_workers_check(rn_pipeline_t *const *ps, int n, char *errbuf, size_t errbuf_size);

/* Runs ps[0..n) (n instances compiled from the same pipeline) on n
 * threads in `runnel run` mode with opts (progress is reported for each,
 * on its own thread: the callback tells them apart by pipeline), until all end or opts->stop is set; the first failure stops
 * the others and is returned (errbuf says which worker and why). n == 1
 * is rn_pipeline_run. */
rn_err_t rn_workers_run(rn_pipeline_t *const *ps, int n, const rn_run_opts_t *opts, char *errbuf,
                        size_t errbuf_size);

/* Checks that distinct pipelines can run in one process: their names
 * (rn_pipeline_name) must differ, since they name the Kafka consumer
 * groups. Returns RN_OK or RN_ERR_CONFIG with the reason. */
rn_err_t rn_pipelines_check(rn_pipeline_t *const *ps, int n, char *errbuf, size_t errbuf_size);

/* Runs n distinct pipelines ps[0..n) on n threads of this process in
 * `runnel run` mode with opts, until all end or opts->stop is set. Every
 * pipeline reports progress through opts->progress, on its own thread
 * (so the callback must be thread-safe). They share the dead-letter output
 * (opts->dlq, else one opened at opts->dlq_path). The first failure stops
 * the others and is returned, errbuf naming the pipeline ("pipeline NAME:
 * ..."). The pipelines stay the caller's. */
rn_err_t rn_pipelines_run(rn_pipeline_t *const *ps, int n, const rn_run_opts_t *opts, char *errbuf,
                          size_t errbuf_size);

#endif
