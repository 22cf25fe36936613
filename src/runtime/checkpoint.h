/*
 * checkpoint.h - checkpoints of a running pipeline (docs/checkpoints.md):
 * taking them between batches, restoring a partition's state when the
 * consumer group assigns it here. Private to runtime/: run.c drives it.
 *
 * A checkpoint is one file per process (state/checkpoint.h) with, for
 * every partition this process owns of a source that can restore
 * (a Kafka reader with the ckpt_* hooks), its position and event-time
 * state, and for every stateful operator fed by such sources its keys of
 * each partition, in sections:
 *   "pos/<source id>/<topic>/<partition>"    u64 offset after the last record handed out
 *   "split/<source id>/<topic>/<partition>"  rn_source_snapshot_split
 *   "op/<operator id>/<partition>"           the operator's snapshot filtered to it
 * Operators after a repartition topic split their keys by its partitions;
 * one fed straight by a Kafka table (a single-partition topic, whose
 * Exchange stays local) keeps all its state in partition 0.
 */
#ifndef RN_RUNTIME_CHECKPOINT_H
#define RN_RUNTIME_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "plan/compiled.h"

#define RN_CKPT_DEFAULT_INTERVAL_MS 10000 /* 'execution.checkpointing.interval' */
#define RN_CKPT_DEFAULT_RETAINED 3        /* 'state.checkpoints.num-retained' */

typedef struct rn_ckpt_run rn_ckpt_run_t;

/* Sets checkpoints up for pipeline p (named name; worker > 0 for one of
 * several) when it has them on and reads a source that can restore:
 * hooks every such reader (and turns its commit limit and resume warning
 * off). *out is NULL when there is nothing to checkpoint. from_scratch:
 * restore nothing (state starts empty, positions as without checkpoints).
 * Returns RN_OK, RN_ERR_CONFIG (no state directory can be found),
 * RN_ERR_NOMEM. Call after the readers are opened, before the first poll. */
rn_err_t rn_ckpt_run_open(rn_pipeline_t *p, const char *name, int worker, bool from_scratch,
                          rn_ckpt_run_t **out, char *errbuf, size_t errbuf_size);

/* The interval between checkpoints, in ms. */
int64_t rn_ckpt_run_interval(const rn_ckpt_run_t *c);

/* Takes a checkpoint now: syncs the outputs, writes the file, and makes
 * it the one the readers' next commit names. Between batches only. */
rn_err_t rn_ckpt_run_take(rn_ckpt_run_t *c, char *errbuf, size_t errbuf_size);

void rn_ckpt_run_free(rn_ckpt_run_t *c);

/* run.c: makes every sink, and every Exchange that sends to a repartition
 * topic, deliver and wait for acks (p is the rn_pipeline_t). */
rn_err_t rn_run_sync_outputs(void *p, char *errbuf, size_t errbuf_size);

/* run.c: the static member id ('properties.group.instance.id', maybe with
 * ${VAR}s) of the pipeline's first Kafka source that has one, or NULL. */
const char *rn_run_static_member(const rn_pipeline_t *p);

/* run.c: whether src is op or upstream of it, through any input. */
bool rn_run_op_reads_from(const rn_op_t *op, const rn_op_t *src);

#endif
