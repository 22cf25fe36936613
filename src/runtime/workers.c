/*
 * workers.c - one process running a pipeline on several threads
 * (`runnel run --workers N`, SET 'parallelism.default'; docs/scale-out.md).
 *
 * A worker is what a process is in Kafka Streams' model (its
 * num.stream.threads): a whole instance of the pipeline, with its own
 * operators and state, its own consumers in the pipeline's consumer groups
 * and its own producers. The group splits the partitions among workers and
 * processes alike, and Exchanges repartition through Kafka, so N workers
 * in one process behave exactly as N processes: each key's state lives in
 * one worker. Nothing is shared on the hot path; the workers share only
 * the dead-letter output (a lock per undecodable record) and the stop
 * flag. Every table must therefore be shared (Kafka, or a blackhole sink):
 * a file or stdout cannot be split among workers.
 *
 * The first worker that fails stops the others; the run returns its error.
 *
 * The same threads run distinct pipelines side by side (`runnel run a.sql
 * b.sql`, `runnel demo`): each its own thread, its own consumer groups
 * (they are named after the pipeline), one shared dead-letter output and
 * stop flag; the first failure stops all.
 */
#include "runtime/workers.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "plan/compiled.h"

typedef struct worker {
    pthread_t thread;
    rn_pipeline_t *p;
    rn_run_opts_t opts;         /* the caller's, with the shared stop flag */
    rn_err_t err;
    char errbuf[4096];
    volatile int done;          /* the thread finished (read by the watcher) */
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    w->err = rn_pipeline_run(w->p, &w->opts, w->errbuf, sizeof w->errbuf);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

rn_err_t rn_workers_check(rn_pipeline_t *const *ps, int n, char *errbuf, size_t errbuf_size)
{
    if (n <= 1) return RN_OK;
    const rn_pipeline_t *p = ps[0];
    for (int i = 0; i < p->ntables; i++) {
        const table_def_t *t = &p->tables[i];
        if (!t->conn || t->conn->shared) continue;
        bool read = t->source != NULL, written = false;
        for (int j = 0; j < p->nsinks; j++) written |= p->sinks[j].table == t;
        if (!read && !written) continue;
        snprintf(errbuf, errbuf_size,
                 "table '%s' (connector '%s') cannot be split among %d workers: each worker reads its share "
                 "of a Kafka topic; run one worker, or read and write Kafka",
                 t->name, t->conn->name, n);
        return RN_ERR_CONFIG;
    }
    return RN_OK;
}

/* Runs ps[0..n) on n threads sharing one dead-letter output and one stop
 * flag until all end or opts->stop is set; the first failure stops the
 * others and is returned, prefixed with "worker I" (same pipeline) or
 * "pipeline NAME" (distinct pipelines). */
static rn_err_t run_threads(rn_pipeline_t *const *ps, int n, const rn_run_opts_t *opts, bool distinct,
                            char *errbuf, size_t errbuf_size)
{
    rn_err_t err = RN_OK;
    worker_t *w = rn_calloc((size_t)n, sizeof *w);
    rn_dlq_t *dlq = opts->dlq ? opts->dlq : rn_dlq_new(opts->dlq_path ? opts->dlq_path : "dlq.jsonl");
    if (!w || !dlq) {
        rn_free(w);
        if (dlq != opts->dlq) rn_dlq_free(dlq);
        snprintf(errbuf, errbuf_size, "out of memory");
        return RN_ERR_NOMEM;
    }
    volatile sig_atomic_t stop = 0;
    int started = 0;
    for (int i = 0; i < n; i++) {
        w[i].p = ps[i];
        w[i].opts = *opts;
        w[i].opts.stop = &stop;
        w[i].opts.dlq = dlq;
        if (!distinct) w[i].opts.worker = i + 1;
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
            snprintf(errbuf, errbuf_size, "cannot start %s %d of %d", distinct ? "pipeline" : "worker", i + 1, n);
            err = RN_ERR_IO;
            stop = 1;
            break;
        }
        started++;
    }
    /* Watch: the caller's stop request, or the first failure, stops all. */
    for (;;) {
        int finished = 0;
        for (int i = 0; i < started; i++) {
            if (!__atomic_load_n(&w[i].done, __ATOMIC_ACQUIRE)) continue;
            finished++;
            if (w[i].err != RN_OK && err == RN_OK) {
                err = w[i].err;
                if (distinct) {
                    char name[256];
                    rn_pipeline_name(w[i].p, name, sizeof name);
                    snprintf(errbuf, errbuf_size, "pipeline %s: %s", name, w[i].errbuf);
                } else {
                    snprintf(errbuf, errbuf_size, "worker %d: %s", i + 1, w[i].errbuf);
                }
                stop = 1;
            }
        }
        if (finished == started) break;
        if (opts->stop && *opts->stop) stop = 1;
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < started; i++) pthread_join(w[i].thread, NULL);
    rn_free(w);
    if (dlq != opts->dlq) rn_dlq_free(dlq);
    return err;
}

rn_err_t rn_workers_run(rn_pipeline_t *const *ps, int n, const rn_run_opts_t *opts, char *errbuf,
                        size_t errbuf_size)
{
    if (n == 1) return rn_pipeline_run(ps[0], opts, errbuf, errbuf_size);
    rn_err_t err = rn_workers_check(ps, n, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    return run_threads(ps, n, opts, false, errbuf, errbuf_size);
}

rn_err_t rn_pipelines_check(rn_pipeline_t *const *ps, int n, char *errbuf, size_t errbuf_size)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) {
            char a[256], b[256];
            rn_pipeline_name(ps[i], a, sizeof a);
            rn_pipeline_name(ps[j], b, sizeof b);
            if (strcmp(a, b)) continue;
            snprintf(errbuf, errbuf_size,
                     "two pipelines are named '%s' (%s and %s): a pipeline's name, its file name, names its "
                     "Kafka consumer groups, so each must differ",
                     a, ps[j]->filename, ps[i]->filename);
            return RN_ERR_CONFIG;
        }
    return RN_OK;
}

rn_err_t rn_pipelines_run(rn_pipeline_t *const *ps, int n, const rn_run_opts_t *opts, char *errbuf,
                          size_t errbuf_size)
{
    rn_err_t err = rn_pipelines_check(ps, n, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    return run_threads(ps, n, opts, true, errbuf, errbuf_size);
}
