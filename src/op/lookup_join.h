/*
 * lookup_join.h - the lookup join operator (docs/sql.md, "Lookup joins"):
 * Flink's `JOIN t FOR SYSTEM_TIME AS OF l.proc_time AS r ON r.k = l.k`.
 *
 * One input (the left stream); the right side is a table asked for rows
 * by key through an rn_lookup_t (op/io.h) that the runtime opens and
 * hands over with rn_lookup_join_set_table. Each input row is joined with
 * the rows the table holds for its key at the time the row is processed:
 * output rows are the left input's columns followed by the table's
 * columns, one per matching table row (any number: the fan-out is
 * emitted in as many batches as it takes). A row whose key has a NULL
 * never matches. `residual` (the rest of ON, conditions over the table's
 * columns included) is applied to each candidate pair; in a LEFT join a
 * left row with no candidate that passes is emitted once, NULL-padded.
 *
 * Lookups are batched: per input batch the keys are evaluated, deduped,
 * answered from the cache where it can, and every miss is asked for in
 * one lookup() call (repeated while the table says it filled its output).
 * Caches (Flink's 'lookup.cache'): NONE; PARTIAL, keys recently used, at
 * most max_rows keys (least recently used evicted), expiring after write
 * and/or access, keys without rows remembered or not; FULL, the whole
 * table read with scan() at the first batch and again once reload_ms has
 * passed. Times are processing time (ctx->now_ms). A lookup or scan that
 * fails with RN_ERR_RETRY is retried with backoff (100 ms doubling up to
 * 5 s, max_retries times, -1 without end), with a warning per try; any
 * other failure stops the pipeline.
 *
 * Row kinds and watermarks pass through: every output row has its left
 * row's kind and rowwm, so the left rowtime stays usable downstream. An
 * updating input gives an updating output (as in Flink, a retraction is
 * joined with what the table holds when it arrives, which need not be
 * what its insertion was joined with).
 */
#ifndef RN_LOOKUP_JOIN_H
#define RN_LOOKUP_JOIN_H

#include <stdbool.h>
#include <stdint.h>

#include "op/io.h"
#include "op/op.h"

typedef enum rn_lookup_cache_kind {
    RN_LOOKUP_CACHE_NONE,    /* every key is looked up every time */
    RN_LOOKUP_CACHE_PARTIAL, /* recently used keys */
    RN_LOOKUP_CACHE_FULL,    /* the whole table, reloaded periodically */
} rn_lookup_cache_kind;

typedef struct rn_lookup_cache_spec {
    rn_lookup_cache_kind kind;
    int64_t max_rows;               /* PARTIAL: keys kept (0: no limit) */
    int64_t expire_after_write_ms;  /* PARTIAL: 0 = never */
    int64_t expire_after_access_ms; /* PARTIAL: 0 = never */
    bool cache_missing_key;         /* PARTIAL: keys without rows are kept too */
    int64_t reload_ms;              /* FULL: reload interval (> 0) */
    int64_t max_retries;            /* RN_ERR_RETRY retried this often; -1: forever */
} rn_lookup_cache_spec_t;

typedef struct rn_lookup_join_spec {
    bool left;                         /* LEFT JOIN: unmatched rows NULL-padded */
    const char *table;                 /* the looked-up table's name, for explain (copied) */
    const rn_schema_t *table_schema;   /* its columns (a reference is taken) */
    int nkeys;                         /* 1..RN_LOOKUP_MAX_KEYS */
    const int *key_cols;               /* nkeys table columns (copied) */
    const rn_expr_t *const *key_exprs; /* nkeys expressions over input rows, typed as
                                        * their key columns (belong to the plan) */
    const rn_expr_t *residual;         /* over output rows, or NULL (belongs to the plan) */
    rn_lookup_cache_spec_t cache;
} rn_lookup_join_spec_t;

#define RN_LOOKUP_MAX_KEYS 32

/* A lookup join over input (port 0), edge made here. out_schema: input
 * columns then the table's columns (a reference is taken). Returns NULL
 * with a message in errbuf on bad arguments or OOM. */
rn_op_t *rn_lookup_join_new(rn_op_t *input, const rn_lookup_join_spec_t *spec, rn_schema_t *out_schema,
                            char *errbuf, size_t errbuf_size);
/* Gives the operator its table (takes ownership: closed with the
 * operator). Before the first batch. */
void rn_lookup_join_set_table(rn_op_t *op, rn_lookup_t *l);
bool rn_is_lookup_join(const rn_op_t *op);
/* The table's name, and its key columns (table columns) in *key_cols. */
const char *rn_lookup_join_table(const rn_op_t *op, int *nkeys /* out */, const int **key_cols /* out */);

/* Counters, for tests and metrics. */
typedef struct rn_lookup_join_stats {
    uint64_t lookups;        /* lookup() calls */
    uint64_t scans;          /* FULL loads (each a series of scan() calls) */
    uint64_t hits;           /* distinct keys per batch answered by the cache */
    uint64_t misses;         /* distinct keys per batch asked of the table */
    uint64_t rows_looked_up; /* table rows that lookup() or scan() returned */
    uint64_t retries;        /* calls retried after RN_ERR_RETRY */
    size_t cached_keys;      /* keys in the cache now */
} rn_lookup_join_stats_t;
void rn_lookup_join_stats(const rn_op_t *op, rn_lookup_join_stats_t *out /* out */);

#endif
