/*
 * join.h - the two-input join operators (docs/sql.md, "Joins").
 *
 * Port 0 is the left input, port 1 the right one. Both join operators
 * emit rows of out_schema = the left input's columns followed by the right
 * input's columns; a side that found no partner in an outer join is
 * NULL-padded. Equality keys are given as column lists, pairwise of the
 * same type (the analyzer casts them); a NULL key never matches (SQL
 * equality), so such a row only appears NULL-padded in an outer join.
 * `residual` is the rest of the ON condition, bound over the output row
 * (left columns, then right columns): a pair matches when its keys are
 * equal and the residual is TRUE. The keyed state of both operators is
 * partitioned like an Exchange partitions rows: a key's partition is
 * rn_key_partition() of its key columns serialized with rn_key_append (so
 * forget_partitions drops exactly the keys of revoked partitions).
 *
 * Regular join (rn_join_new): Flink's streaming join. Inputs may be
 * updating. Each side keeps every live row per key, with its multiplicity
 * (and, for the outer side of an outer join, how many partners it has).
 * A row arriving (+I/+U) is stored and joined with the other side's rows
 * of its key; a retraction (-U/-D) removes one instance and retracts what
 * that instance produced. Change kinds follow Flink: an output caused by
 * an input +I, +U, -U or -D has that kind; when a row of the outer side
 * gets its first partner its NULL-padded row is retracted with -D, and
 * when it loses its last partner the NULL-padded row comes back as +I.
 * Output is updating unless both inputs are insert-only and the join is
 * INNER. Output rows carry no rowtime/rowwm (a regular join's output is
 * never late downstream; time attributes do not survive it, as in Flink).
 *
 * Interval join (rn_interval_join_new): both inputs insert-only with
 * event time; right.time within [left.time + lower, left.time + upper]
 * (bounds inclusive; the analyzer turns strict bounds into +-1 ms). The
 * output is insert-only. A stored row is freed once the other side's
 * watermark shows no partner can still arrive; in an outer join an
 * unmatched row is emitted NULL-padded exactly then, once, and never
 * before. The output watermark is held back (min input watermark minus
 * max(|lower|, |upper|)) so that no output row is late downstream, and
 * each output row's rowwm is the output watermark at emission: the
 * rowtime of either side stays usable for a later window.
 */
#ifndef RN_JOIN_H
#define RN_JOIN_H

#include <stdbool.h>
#include <stdint.h>

#include "op/op.h"

typedef enum rn_join_kind {
    RN_JOIN_KIND_INNER,
    RN_JOIN_KIND_LEFT,          /* every left row at least once */
    RN_JOIN_KIND_RIGHT,         /* every right row at least once */
    RN_JOIN_KIND_FULL,          /* both */
} rn_join_kind;

typedef struct rn_join_spec {
    rn_join_kind kind;
    int nkeys;                  /* equality keys (0: every pair is a candidate) */
    const int *left_keys;       /* nkeys left input columns (copied) */
    const int *right_keys;      /* nkeys right input columns, same types pairwise (copied) */
    const rn_expr_t *residual;  /* rest of ON over left ++ right columns, or NULL
                                 * (belongs to the plan, must outlive the operator) */
} rn_join_spec_t;

/* A regular join of left (port 0) and right (port 1); the edges are made
 * here. out_schema has left ncols + right ncols columns (a reference is
 * taken). Returns NULL with a message in errbuf on bad arguments (key
 * types differ, out of range) or OOM. */
rn_op_t *rn_join_new(rn_op_t *left, rn_op_t *right, const rn_join_spec_t *spec,
                     rn_schema_t *out_schema, char *errbuf, size_t errbuf_size);
/* 'table.exec.state.ttl': the rows of a key that no row of either side
 * touched for ttl_ms of processing time (ctx->now_ms) are dropped without
 * emitting anything (exactness traded for memory, as in Flink). Call
 * before the first batch; returns false otherwise. */
bool rn_join_set_ttl(rn_op_t *op, int64_t ttl_ms);
/* A window join: left_col (a column of the left input) and right_col (of
 * the right input), TIMESTAMP epoch ms, are the window_end columns of two
 * windowed inputs, and equal in every match
 * (the analyzer makes them an equality key). Rows whose window_end <= the
 * join's watermark are dropped: both windows have fired, nothing else
 * can match them. Call before the first batch; false otherwise. */
bool rn_join_set_window_end(rn_op_t *op, int left_col, int right_col);
/* Rows held on each side (for tests and metrics). */
size_t rn_join_rows(const rn_op_t *op, int port);
/* Retractions (-U/-D) that found no equal live row on their side and were
 * ignored, emitting nothing (for tests and metrics). */
uint64_t rn_join_ignored_retractions(const rn_op_t *op);

typedef struct rn_interval_join_spec {
    rn_join_kind kind;
    int nkeys;                  /* equality keys (0 allowed) */
    const int *left_keys;       /* copied */
    const int *right_keys;      /* copied */
    int left_time;              /* left rowtime column (TIMESTAMP/_LTZ, ms, never NULL) */
    int right_time;             /* right rowtime column */
    int64_t lower_ms;           /* right.time >= left.time + lower_ms */
    int64_t upper_ms;           /* right.time <= left.time + upper_ms (lower <= upper) */
    const rn_expr_t *residual;  /* as in rn_join_spec_t */
} rn_interval_join_spec_t;

/* An interval join of left (port 0) and right (port 1), edges made here.
 * Returns NULL with a message in errbuf on bad arguments or OOM. */
rn_op_t *rn_interval_join_new(rn_op_t *left, rn_op_t *right, const rn_interval_join_spec_t *spec,
                              rn_schema_t *out_schema, char *errbuf, size_t errbuf_size);
/* Rows held on each side (for tests and metrics). */
size_t rn_interval_join_rows(const rn_op_t *op, int port);

#endif
