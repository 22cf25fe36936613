/*
 * exchange.h - the Exchange operator: where rows change hands so that all
 * rows of one key meet in one place (docs/scale-out.md).
 *
 * The planner puts an Exchange in front of every keyed stateful operator
 * whose key is not how its input is partitioned. In one process reading
 * files it passes rows through untouched (local transport). In `runnel
 * run` over Kafka it is the sending half of a repartition: rows are
 * packed, per input batch and destination partition, into records of an
 * internal topic (partition = Kafka's murmur2 of the key as keyed state
 * stores it, rn_key_partition), and the
 * receiving half is a source (rn_source_set_exchange) that every process
 * of the pipeline runs in one consumer group. Watermarks travel in the
 * same topic as marks: per upstream task (a partition of the source
 * topic), the sending process's watermark, sent to every partition; the
 * receiver's watermark for a partition is the minimum over all tasks.
 *
 * Record format (version 1, little-endian, zigzag varints):
 *   rows: 'R' 1, then per row: kind u8, rowwm varint, and per column a
 *         presence byte (0 = NULL) and the value: integers, booleans and
 *         timestamps as varints, DOUBLE as 8 bytes, STRING as varint
 *         length and bytes.
 *   mark: 'W' 1, ntasks u32, wm i64, flags u8 (1 = end of input), n u32,
 *         then n task numbers u32: the tasks the sender owns.
 */
#ifndef RN_EXCHANGE_H
#define RN_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "op/io.h"
#include "op/op.h"

#define RN_EXCHANGE_ROWS 'R'
#define RN_EXCHANGE_MARK 'W'
#define RN_EXCHANGE_MARK_END 1      /* mark flag: the sender's input ended */
#define RN_EXCHANGE_MARK_MAX_TASKS 65536

/* An Exchange partitioning input's rows by the nkeys columns keys (0 keys:
 * every row to one place, for a global aggregate). rowtime_col is the
 * input's event-time column, or -1 when nothing downstream needs event
 * time. Output schema = input schema. Returns NULL on OOM. */
rn_op_t *rn_exchange_new(rn_op_t *input, int nkeys, const int *keys, int rowtime_col);
bool rn_is_exchange(const rn_op_t *op);
int rn_exchange_nkeys(const rn_op_t *op);
const int *rn_exchange_keys(const rn_op_t *op);
int rn_exchange_rowtime_col(const rn_op_t *op);

/* Makes the Exchange send through io instead of
 * passing rows on; upstream is the source whose partitions are this
 * process's tasks (its reader's assignment). Call before the first batch,
 * after moving the Exchange's outputs to the receiving source. Returns
 * RN_OK (io is owned from then on), RN_ERR_NOMEM, or RN_ERR_UNSUPPORTED
 * for a transport without partitions or with too many tasks (io is then
 * still the caller's). */
rn_err_t rn_exchange_set_remote(rn_op_t *op, rn_exchange_io_t *io, rn_op_t *upstream);
bool rn_exchange_is_remote(const rn_op_t *op);
/* Delivers what was sent and waits for the acknowledgements (remote); a
 * local Exchange has nothing to do. */
rn_err_t rn_exchange_sync(rn_op_t *op, char *errbuf, size_t errbuf_size);
/* Records sent so far (remote). */
uint64_t rn_exchange_records(const rn_op_t *op);

/* ---- the record format, for the receiving source ------------------------ */

typedef struct rn_exchange_mark {
    uint32_t ntasks;            /* upstream tasks in all */
    int64_t wm;                 /* the sender's watermark (RN_WM_MAX at end) */
    bool end;                   /* the sender's input ended */
    uint32_t ntask;             /* tasks listed */
    const unsigned char *tasks; /* ntask u32 LE task numbers, inside the record */
} rn_exchange_mark_t;

/* Decodes a mark record. Returns RN_OK or RN_ERR_DECODE (msg says why). */
rn_err_t rn_exchange_decode_mark(const void *data, size_t len, rn_exchange_mark_t *out /* out */,
                                 char *msg, size_t msgsize);
/* Task i of a decoded mark. */
uint32_t rn_exchange_mark_task(const rn_exchange_mark_t *m, uint32_t i);
/* Decodes every row of a rows record into batch b from row b->nrows on
 * (strings point into data), setting kinds and, when rowwm is not NULL,
 * each row's carried watermark. All or nothing: on RN_ERR_DECODE (msg
 * says why) or when b has no room for every row (RN_OK with *full set),
 * b->nrows is left as it was. */
rn_err_t rn_exchange_decode_rows(const void *data, size_t len, rn_batch_t *b, int64_t *rowwm, bool *full /* out */,
                                 char *msg, size_t msgsize);

#endif
