/*
 * op.h - operators of the dataflow graph and the contract between them.
 *
 * A pipeline is a DAG of operators. Sources push batches downstream with
 * rn_op_emit; every other operator receives them in its process callback,
 * does its work a batch at a time, and emits zero or more batches to its
 * outputs before returning (push model, depth first). Batches and their
 * strings live in the per-batch arena of rn_ctx_t, reset by the runtime once
 * a source batch has flowed through the whole graph, so an operator that
 * keeps anything across batches (keys, accumulators) copies it into state.
 *
 * Rows carry a change kind (+I/-U/+U/-D). `updating` on an operator says
 * whether its output may contain anything but +I; the analyzer uses it to
 * reject append-only sinks for updating queries, as Flink does.
 */
#ifndef RN_OP_H
#define RN_OP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/value.h"
#include "plan/expr.h"
#include "runnel.h"

typedef struct rn_op rn_op_t;

/* What an operator sees of the runtime while it runs. */
typedef struct rn_ctx {
    rn_arena_t *arena;          /* per-batch arena, reset after each source batch */
    int64_t now_ms;             /* processing time (virtual in `runnel test`) */
    char *errbuf;               /* where a failing operator explains itself */
    size_t errbuf_size;
} rn_ctx_t;

typedef struct rn_op_vtable {
    const char *kind;           /* "Filter", "GroupAggregate", ... */
    /* Consumes batch (which it must not modify) and emits results with
     * rn_op_emit. Returns RN_OK or an error described in ctx->errbuf. */
    rn_err_t (*process)(rn_op_t *op, int port, const rn_batch_t *batch, rn_ctx_t *ctx);
    /* End of all input: emit whatever is pending, then return. May be NULL. */
    rn_err_t (*finish)(rn_op_t *op, rn_ctx_t *ctx);
    /* Appends the one-line detail shown by `runnel explain`. May be NULL. */
    void (*explain)(const rn_op_t *op, rn_buf_t *out);
    /* Releases the operator's private data (not the rn_op_t). May be NULL. */
    void (*destroy)(rn_op_t *op);
} rn_op_vtable_t;

struct rn_op {
    const rn_op_vtable_t *vt;   /* behaviour */
    int id;                     /* position in the pipeline, for explain and metrics */
    rn_schema_t *schema;        /* output schema (owned reference) */
    bool updating;              /* output may carry -U/+U/-D */
    rn_op_t *input;             /* main input, NULL for sources */
    rn_op_t **outputs;          /* downstream operators */
    int noutputs;
    uint64_t rows_in;           /* rows received */
    uint64_t rows_out;          /* rows emitted */
    void *priv;                 /* operator-specific data */
};

/* Allocates an operator with vtable vt and output schema (a reference is
 * taken). Returns NULL on OOM. */
rn_op_t *rn_op_new(const rn_op_vtable_t *vt, rn_schema_t *schema, rn_op_t *input);
/* Connects op's output to downstream. Returns RN_OK or RN_ERR_NOMEM. */
rn_err_t rn_op_connect(rn_op_t *op, rn_op_t *downstream);
/* Pushes batch to every output of op. */
rn_err_t rn_op_emit(rn_op_t *op, const rn_batch_t *batch, rn_ctx_t *ctx);
/* Calls finish on op (if any) and then on its outputs, depth first. */
rn_err_t rn_op_finish(rn_op_t *op, rn_ctx_t *ctx);
/* Destroys op (its private data, schema reference and output list). */
void rn_op_free(rn_op_t *op);

/* ---- operator constructors ------------------------------------------- */

/* Filter and/or projection, Flink's "Calc": keeps the rows where predicate
 * (may be NULL) is TRUE, then computes nexprs output columns (if exprs is
 * NULL the input columns pass through). Takes ownership of nothing; the
 * expressions must outlive the operator (they belong to the plan). */
rn_op_t *rn_calc_new(rn_op_t *input, const rn_expr_t *predicate, int nexprs,
                     const rn_expr_t *const *exprs, rn_schema_t *out_schema);

typedef enum rn_agg_kind {
    RN_AGG_COUNT_STAR,          /* COUNT(*) */
    RN_AGG_COUNT,               /* COUNT(x): non-NULL x */
    RN_AGG_COUNT_DISTINCT,      /* COUNT(DISTINCT x) */
    RN_AGG_SUM,                 /* SUM(x); NULL when no non-NULL input */
    RN_AGG_MIN,
    RN_AGG_MAX,
    RN_AGG_AVG,                 /* DOUBLE */
} rn_agg_kind;

typedef struct rn_agg_spec {
    rn_agg_kind kind;
    int arg;                    /* input column of the argument, -1 for COUNT(*) */
    rn_type_id arg_type;        /* type of the argument column */
    rn_type_id result_type;     /* BIGINT for counts; see docs/sql.md */
} rn_agg_spec_t;

/* Unbounded GROUP BY over the first nkeys input columns with naggs
 * aggregates. Output: key columns then one column per aggregate (out_schema
 * must have nkeys + naggs columns). Consumes retractions; emits, once per
 * input batch and key, -U/+U pairs, +I for a new group and -D when a
 * group's row count drops to zero; nothing when the result is unchanged. */
rn_op_t *rn_aggregate_new(rn_op_t *input, int nkeys, int naggs, const rn_agg_spec_t *aggs,
                          rn_schema_t *out_schema, char *errbuf, size_t errbuf_size);
/* Number of groups held (for metrics and tests). */
size_t rn_aggregate_groups(const rn_op_t *op);

/* Where a sink's encoded rows go: a file, stdout, nothing, Kafka later. */
typedef struct rn_sink_io rn_sink_io_t;
struct rn_sink_io {
    /* Writes one record. key is the key JSON (upsert sinks) or NULL; value
     * NULL means a delete (tombstone). kind is the row kind of the change. */
    rn_err_t (*write)(rn_sink_io_t *io, const char *key, size_t klen, const char *value,
                      size_t vlen, rn_rowkind_t kind, char *errbuf, size_t errbuf_size);
    /* Delivers everything written so far and waits until it is
     * acknowledged (a file: written to the OS; Kafka: acked by the
     * brokers). Fails if any record could not be delivered. */
    rn_err_t (*flush)(rn_sink_io_t *io, char *errbuf, size_t errbuf_size);
    void (*close)(rn_sink_io_t *io);
    uint64_t records;           /* records written */
};

typedef enum rn_sink_mode {
    RN_SINK_APPEND,             /* every row is a record; input must be insert-only */
    RN_SINK_UPSERT,             /* keyed by npk columns; deletes become tombstones */
    RN_SINK_CHANGELOG,          /* every change with its kind (print) */
} rn_sink_mode;

/* A sink writing input rows as JSON to io (takes ownership of io). pk lists
 * the npk key columns written as the record key (the PRIMARY KEY of an
 * upsert sink, 'key.fields' of an append one; npk = 0: no key). For
 * RN_SINK_UPSERT, changes to one key within a batch are coalesced to the
 * last one. Writes are not flushed per batch: the runtime calls
 * rn_sink_sync when it commits and when input is idle. label names the
 * sink in explain. */
rn_op_t *rn_sink_new(rn_op_t *input, const char *label, rn_sink_mode mode, int npk,
                     const int *pk, rn_sink_io_t *io);


/* ---- sources and the dead-letter output -------------------------------- */

struct rn_reader;

/* Where undecodable records go: one JSON line per record with the source
 * table, where it came from (file or topic), its position (line or
 * offset), the error and the raw record. The first few are also reported on
 * stderr as "where:position: error". */
typedef struct rn_dlq rn_dlq_t;

/* Opens a dead-letter output writing to path (created on first use).
 * Returns NULL on OOM. */
rn_dlq_t *rn_dlq_new(const char *path);
rn_err_t rn_dlq_write(rn_dlq_t *dlq, const char *table, const char *where, int64_t position,
                      const char *error, const char *raw, size_t rawlen);
uint64_t rn_dlq_count(const rn_dlq_t *dlq);
void rn_dlq_free(rn_dlq_t *dlq);

/* Where a source column's value comes from. */
typedef enum rn_col_origin {
    RN_FROM_VALUE = 0,          /* a field of the value document */
    RN_FROM_KEY,                /* a field of the key document ('key.fields') */
    RN_FROM_TOPIC,              /* metadata: STRING */
    RN_FROM_PARTITION,          /* metadata: INT */
    RN_FROM_OFFSET,             /* metadata: BIGINT */
    RN_FROM_TIMESTAMP,          /* metadata: TIMESTAMP_LTZ(3) */
    RN_FROM_HEADERS,            /* metadata: STRING holding a JSON object */
} rn_col_origin;

/* A source scan of a table with the given (flattened) schema. Columns are
 * decoded only if marked with rn_source_use_column (projection pushdown);
 * the others stay NULL arrays in emitted batches. label names the table. */
rn_op_t *rn_source_new(rn_schema_t *schema, const char *label, const char *describe);
/* Sets the JSON path of column col (default: the column name). parts are
 * copied. */
rn_err_t rn_source_set_path(rn_op_t *op, int col, int nparts, const char *const *parts);
void rn_source_use_column(rn_op_t *op, int col);
/* Sets where column col comes from (default RN_FROM_VALUE). */
void rn_source_set_origin(rn_op_t *op, int col, rn_col_origin origin);
/* True if a used column comes from origin (e.g. the record key). */
bool rn_source_reads(const rn_op_t *op, rn_col_origin origin);
/* `runnel test`: read key columns from the value document (files carry
 * values only). Call before rn_source_open. */
void rn_source_keys_from_value(rn_op_t *op);
/* The attached reader, or NULL before rn_source_open. */
struct rn_reader *rn_source_reader(const rn_op_t *op);
bool rn_source_column_used(const rn_op_t *op, int col);
const char *rn_source_label(const rn_op_t *op);
/* Attaches the reader (owned) and the dead-letter output (not owned) and
 * compiles the JSON decoder for the used columns. */
rn_err_t rn_source_open(rn_op_t *op, struct rn_reader *reader, rn_dlq_t *dlq, char *errbuf,
                        size_t errbuf_size);
/* Reads, decodes and emits one batch. *eof is set when the input is
 * exhausted. Returns an error only for failures that must stop the
 * pipeline; bad records go to the dead-letter output. */
rn_err_t rn_source_poll(rn_op_t *op, rn_ctx_t *ctx, bool *eof /* out */);
/* Records read and records sent to the dead-letter output so far. */
uint64_t rn_source_records(const rn_op_t *op);
uint64_t rn_source_errors(const rn_op_t *op);

/* Attaches the writer of a sink created with io NULL (takes ownership). */
void rn_sink_set_io(rn_op_t *op, rn_sink_io_t *io);
/* Writes only the n listed columns to the value (default: all columns;
 * metadata columns and, with 'value.fields-include' = 'EXCEPT_KEY', key
 * columns are left out). Returns RN_ERR_NOMEM on OOM. */
rn_err_t rn_sink_set_value_columns(rn_op_t *op, int n, const int *cols);
/* Makes the sink's writer deliver everything written so far and wait for
 * the acknowledgement (io->flush). */
rn_err_t rn_sink_sync(rn_op_t *op, char *errbuf, size_t errbuf_size);
/* Records written by a sink so far. */
uint64_t rn_sink_records(const rn_op_t *op);

#endif
