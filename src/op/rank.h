/*
 * rank.h - deduplication and Top-N (Flink's Deduplicate and Rank
 * operators): ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...) filtered
 * by rownum <= N, as docs/sql.md "Deduplication and Top-N" describes.
 * The operator is in rank.c; the analyzer (src/plan/rank.c) builds it.
 */
#ifndef RN_OP_RANK_H
#define RN_OP_RANK_H

#include <stdbool.h>
#include <stdint.h>

#include "op/op.h"

#define RN_RANK_MAX_SORT 32     /* ORDER BY columns */

/* How a Rank operator ranks its input. Input columns 0..nkeys-1 are the
 * PARTITION BY key, nkeys..nkeys+nsort-1 the ORDER BY values (already
 * computed), the rest are carried along. */
typedef struct rn_rank_spec {
    int nkeys;                  /* partition key columns (0: one partition) */
    int nsort;                  /* ORDER BY columns (0: arrival order) */
    bool desc[RN_RANK_MAX_SORT]; /* per ORDER BY column: descending; NULL sorts lowest */
    bool tie_last;              /* among rows with equal ORDER BY values the later arrival
                                 * ranks first (keep-last); else the earlier one */
    int64_t n;                  /* rows kept per partition: rownum <= n (n >= 1) */
    bool rownum;                /* output a last BIGINT column: the row's rank (1..n) */
    int time_key;               /* >= 0: the key column (< nkeys) holding the rowtime of an
                                 * insert-only input: a partition is complete once the
                                 * watermark passes it, and is then emitted once (+I) and
                                 * dropped; -1: updating output as rows arrive */
    int64_t time_offset;        /* with time_key: a partition's time is the key column's value
                                 * plus this (-1 for a window_end: rows up to end - 1) */
} rn_rank_spec_t;

/* A Rank over input. out_schema: the input's columns, then (spec->rownum)
 * a BIGINT rank. The input may be updating (except with time_key >= 0):
 * a retraction removes an equal row of its partition (no match: ignored),
 * and every row of a partition is then kept so that the next one can move
 * up; over an insert-only input only the first n rows are kept. Output is
 * insert-only when the top n can only grow (arrival order ascending over
 * an insert-only input: keep-first deduplication) or with time_key >= 0;
 * otherwise updating: a row entering the top n pushes the last one out
 * (-U/+U when n = 1, else -D and +I; with rownum every rank that changes
 * gets -U/+U). Returns NULL (errbuf) on a bad spec or OOM. */
rn_op_t *rn_rank_new(rn_op_t *input, const rn_rank_spec_t *spec, rn_schema_t *out_schema, char *errbuf,
                     size_t errbuf_size);
/* State TTL ('table.exec.state.ttl'), as rn_aggregate_set_ttl: a partition
 * neither read nor written for ttl_ms of processing time is dropped without
 * a retraction. Call before the first batch; false otherwise. */
bool rn_rank_set_ttl(rn_op_t *op, int64_t ttl_ms);
/* Event time (time_key >= 0): sends the rows dropped as late (as batches
 * of the input schema) to late, which is not connected as an output. */
void rn_rank_set_late_output(rn_op_t *op, rn_op_t *late);
/* Partitions held, and input rows dropped as late (time_key >= 0). */
size_t rn_rank_partitions(const rn_op_t *op);
uint64_t rn_rank_late_rows(const rn_op_t *op);

#endif
