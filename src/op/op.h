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
 *
 * Event time (docs/event-time.md): a source with a WATERMARK stamps each
 * row with the watermark in force when it arrived (batch->rowwm) and,
 * after each batch or idle poll that moves it, delivers its new watermark
 * downstream with rn_op_watermark. An operator that keeps time-based state
 * (windows) implements `watermark` to fire what the watermark closes,
 * emitting results before it forwards the watermark; other operators
 * forward it unchanged. Every operator remembers the last watermark it saw
 * (op->watermark) for the status line.
 *
 * Edges and ports (docs/architecture.md, "The operator contract"): an edge
 * goes from an operator to one input port of another (rn_op_connect); each
 * port has exactly one upstream, op->inputs[port]. Batches arrive in
 * process(op, port, ...). A multi-input operator keeps one watermark per
 * input (inputs[port].wm); without a `watermark` callback it forwards the
 * minimum over its inputs, and only once every input has delivered one (or
 * finished): an input that never delivers a watermark holds the operator's
 * watermark back until that input finishes. An operator is finished (its
 * `finish` called, exactly once) when all its inputs have finished; a
 * finished input no longer holds the watermark back, and when an input
 * finishes while others remain, the operator gets the minimum over the
 * rest at once if that is later than what it had. With one input all of
 * this reduces to what it always was: every watermark is passed on as is.
 *
 * Snapshot/restore: a stateful operator writes its state with `snapshot`
 * as self-contained bytes (no pointers; see each operator for its
 * format), all of it or the keys of some partitions, and `restore` adds
 * such bytes to an operator built with the same plan (checkpoints,
 * runtime/checkpoint.c). Stateless operators leave both NULL.
 */
#ifndef RN_OP_H
#define RN_OP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/timeparse.h"
#include "core/value.h"
#include "expr/expr.h"
#include "json/json.h"
#include "op/io.h"
#include "runnel.h"

typedef struct rn_op rn_op_t;

/* Which keys a snapshot takes (docs/checkpoints.md): those whose
 * partition is marked in parts[0..nparts), a key's partition being what
 * forget_partitions computes (rn_key_partition of its key bytes). */
typedef struct rn_part_filter {
    int32_t nparts;
    const uint8_t *parts;       /* nparts flags: 1 = take this partition's keys */
} rn_part_filter_t;

#define RN_WM_MIN INT64_MIN     /* no watermark yet */
#define RN_WM_MAX INT64_MAX     /* end of input: everything may fire */

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
    /* The input's watermark advanced to wm (or, with ctx->now_ms, only
     * processing time moved: wm is then the unchanged watermark). Fires
     * and emits what wm closes, then forwards with rn_op_watermark. NULL:
     * forward unchanged. Called after every poll of the source. */
    rn_err_t (*watermark)(rn_op_t *op, int64_t wm, rn_ctx_t *ctx);
    /* The smallest rowtime among input rows whose effect the operator
     * holds back (rows of windows not emitted yet), or INT64_MAX when it
     * holds nothing. The commit cycle does not commit past such rows.
     * NULL: holds nothing. */
    int64_t (*held_since)(const rn_op_t *op);
    /* Bytes of state the operator holds (its stores and what their
     * entries own), and in *keys how many keys or windows. NULL: none. */
    size_t (*state_size)(const rn_op_t *op, size_t *keys /* out */);
    /* Appends the operator's state to out as self-contained bytes (no
     * pointers): with parts NULL all of it, else only the keys of the
     * marked partitions (and the operator-wide values, see restore).
     * Returns RN_OK, or RN_ERR_NOMEM (out may then hold part of it).
     * Between batches only. NULL: stateless. */
    rn_err_t (*snapshot)(const rn_op_t *op, rn_buf_t *out, const rn_part_filter_t *parts);
    /* Adds what snapshot wrote to the operator's state (docs/checkpoints.md,
     * "Which keys"): the operator was built as the snapshotted one was and
     * is fresh or holds other partitions' keys; operator-wide values are
     * merged (a watermark taken only when it has none, counters the
     * maximum, operator-wide counts the larger: every partition's section
     * carries the whole count). Does not keep data. Returns RN_OK,
     * RN_ERR_DECODE on truncated, corrupt or foreign bytes or a key it
     * holds already, RN_ERR_NOMEM; on failure the operator holds what it
     * held before. NULL: stateless. */
    rn_err_t (*restore)(rn_op_t *op, const void *data, size_t len);
    /* Drops, without emitting anything, the state of every key whose
     * partition is marked in revoked[0..nparts): a key's partition is
     * rn_key_partition() of its key bytes, the operator's key columns
     * (its first nkeys input columns) serialized with rn_key_append, the
     * way an Exchange partitions rows. Called between batches when the
     * consumer group takes those partitions of a repartition topic away
     * (docs/scale-out.md): their new owner rebuilds that state, and a
     * window kept here would otherwise fire with part of its rows.
     * Returns RN_OK or RN_ERR_NOMEM. NULL: no keyed state. */
    rn_err_t (*forget_partitions)(rn_op_t *op, int32_t nparts, const uint8_t *revoked);
} rn_op_vtable_t;

/* One input port of an operator. */
typedef struct rn_op_input {
    rn_op_t *op;                /* upstream feeding this port; NULL: port not connected */
    int64_t wm;                 /* last watermark from it (RN_WM_MIN: none; RN_WM_MAX once finished) */
    bool has_wm;                /* it delivered a watermark, or finished */
    bool finished;              /* it has finished */
} rn_op_input_t;

/* One outgoing edge: downstream operator and the port it enters. */
typedef struct rn_op_output {
    rn_op_t *op;                /* downstream operator */
    int port;                   /* its input port */
} rn_op_output_t;

struct rn_op {
    const rn_op_vtable_t *vt;   /* behaviour */
    int id;                     /* position in the pipeline, for explain and metrics */
    rn_schema_t *schema;        /* output schema (owned reference) */
    bool updating;              /* output may carry -U/+U/-D */
    rn_op_t *input;             /* port 0's upstream (== inputs[0].op), NULL for sources */
    rn_op_input_t *inputs;      /* ninputs ports, indexed by port (owned) */
    int ninputs;                /* ports, connected or not (highest port + 1) */
    int nfinished;              /* connected inputs that have finished */
    bool finished;              /* finish has run (it runs once) */
    rn_op_output_t *outputs;    /* outgoing edges (owned) */
    int noutputs;
    uint64_t rows_in;           /* rows received */
    uint64_t rows_out;          /* rows emitted */
    int64_t watermark;          /* last watermark received (RN_WM_MIN: none) */
    void *priv;                 /* operator-specific data */
};

/* Allocates an operator with vtable vt and output schema (a reference is
 * taken). input (may be NULL) becomes port 0's upstream; the edge itself
 * is made by rn_op_connect(input, op, 0). Returns NULL on OOM. */
rn_op_t *rn_op_new(const rn_op_vtable_t *vt, rn_schema_t *schema, rn_op_t *input);
/* Connects op's output to input port `port` (>= 0) of downstream, which
 * gets op as inputs[port].op. Returns RN_OK, RN_ERR_NOMEM, or
 * RN_ERR_UNSUPPORTED if that port already has another upstream (or is
 * negative); the graph is unchanged on failure. */
rn_err_t rn_op_connect(rn_op_t *op, rn_op_t *downstream, int port);
/* Hands every outgoing edge of `from` to `to` (which must have none): the
 * downstream operators get `to` as the upstream of those ports. Used when
 * the runtime cuts the graph at a remote Exchange. Returns RN_OK or
 * RN_ERR_UNSUPPORTED if `to` already has outputs. */
rn_err_t rn_op_move_outputs(rn_op_t *from, rn_op_t *to);
/* Sub-plan reuse (plan/reuse.c): every consumer of dup reads keep
 * instead (keep's outputs grow by dup's, in their order), and dup is
 * detached from its inputs, left unconnected for the caller to free.
 * dup and keep must compute the same rows. Returns RN_OK, or RN_ERR_NOMEM
 * with the graph unchanged. */
rn_err_t rn_op_replace(rn_op_t *dup, rn_op_t *keep);
/* Pushes batch to every output of op, each on its edge's port. */
rn_err_t rn_op_emit(rn_op_t *op, const rn_batch_t *batch, rn_ctx_t *ctx);

/* Output under construction, for operators that emit rows one at a time
 * (fired windows, join results): rows go into batches of op's schema in
 * ctx's arena, of growing size (16 rows, doubling up to RN_BATCH_MAX),
 * each pushed with rn_op_emit once full. Start it as
 * (rn_op_out_t){.op = op, .ctx = ctx}. */
typedef struct rn_op_out {
    rn_op_t *op;                /* the emitting operator */
    rn_ctx_t *ctx;
    bool rowwm;                 /* batches carry a rowwm array (the caller fills it) */
    rn_batch_t *b;              /* batch being filled, or NULL */
    int next_cap;               /* capacity of the next batch */
} rn_op_out_t;

/* Reserves the next output row (its index in o->b to *r; the caller sets
 * its values, kind and, with rowwm, its watermark), emitting the full
 * batch first. Returns RN_OK, RN_ERR_NOMEM, or an error from downstream. */
rn_err_t rn_op_out_row(rn_op_out_t *o, int *r /* out */);
/* Emits the batch being filled, if any. Returns RN_OK or an error from
 * downstream. */
rn_err_t rn_op_out_flush(rn_op_out_t *o);
/* Delivers watermark wm from op to each of its outputs: records it as that
 * input's watermark and, once every connected input of the output has
 * delivered one (or finished), calls the output's `watermark` callback
 * with the minimum over its inputs, or (no callback) records that minimum
 * as its watermark and forwards it. With one input: wm itself, each time. */
rn_err_t rn_op_watermark(rn_op_t *op, int64_t wm, rn_ctx_t *ctx);
/* The minimum watermark over op's connected inputs (RN_WM_MIN if one has
 * delivered none; RN_WM_MIN for an operator without inputs). */
int64_t rn_op_input_watermark(const rn_op_t *op);
/* The minimum held_since over op and everything downstream of it. */
int64_t rn_op_held_since(const rn_op_t *op);
/* Calls forget_partitions(nparts, revoked) (op_vtable above) on every
 * operator downstream of op, not op itself: depth first through outputs,
 * each operator once even where paths meet again (a diamond). The runtime
 * calls it on the source reading a repartition topic when the consumer
 * group revokes some of its partitions, between batches. Stops at the
 * first failure and returns it (RN_ERR_NOMEM, also when the list of
 * visited operators cannot grow): the state downstream is then partly
 * forgotten, and the caller must not go on with it. RN_OK otherwise. */
rn_err_t rn_op_forget_partitions(rn_op_t *op, int32_t nparts, const uint8_t *revoked);
/* Finishes op: calls its finish (if any, and only the first time), then
 * tells each output that this input ended; an output whose connected
 * inputs have all ended is finished in turn, depth first; one that stays
 * open is given the (later) watermark of the inputs it has left. So each
 * operator is finished once, after its last input. Calling it again does
 * nothing. */
rn_err_t rn_op_finish(rn_op_t *op, rn_ctx_t *ctx);
/* Appends op's line for `runnel explain` ("Kind: detail  [changelog]")
 * and under it, indented, the tree of each of its inputs in port order. */
void rn_op_explain(const rn_op_t *op, rn_buf_t *out);
/* Hands rows idx[0..n) of in (as a batch of in's schema, in ctx's arena)
 * to operator `to`, which is not connected as an output: how event-time
 * operators send late rows to the late-rows table. Returns what to's
 * process returns, or RN_ERR_NOMEM. */
rn_err_t rn_op_route_rows(rn_op_t *to, const rn_batch_t *in, const int *idx, int n, rn_ctx_t *ctx);
/* Destroys op (its private data, schema reference, inputs and outputs). */
void rn_op_free(rn_op_t *op);

/* ---- operator constructors ------------------------------------------- */

/* Filter and/or projection, Flink's "Calc": keeps the rows where predicate
 * (may be NULL) is TRUE, then computes nexprs output columns (if exprs is
 * NULL the input columns pass through). Takes ownership of nothing; the
 * expressions must outlive the operator (they belong to the plan). */
rn_op_t *rn_calc_new(rn_op_t *input, const rn_expr_t *predicate, int nexprs,
                     const rn_expr_t *const *exprs, rn_schema_t *out_schema);

/* Whether op is a Calc, and the input column that output column out_col
 * of a Calc passes through unchanged (-1: it is computed). */
bool rn_is_calc(const rn_op_t *op);
int rn_calc_passthrough(const rn_op_t *op, int out_col);

typedef enum rn_agg_kind {
    RN_AGG_COUNT_STAR,          /* COUNT(*) */
    RN_AGG_COUNT,               /* COUNT(x): non-NULL x */
    RN_AGG_COUNT_DISTINCT,      /* COUNT(DISTINCT x) */
    RN_AGG_SUM,                 /* SUM(x); NULL when no non-NULL input */
    RN_AGG_MIN,
    RN_AGG_MAX,
    RN_AGG_AVG,                 /* the argument's type (an integer one truncates) */
    RN_AGG_FIRST_VALUE,         /* first non-NULL value in arrival order */
    RN_AGG_LAST_VALUE,          /* last non-NULL value in arrival order */
    RN_AGG_MAX_BY,              /* MAX_BY(x, y): x of the row with the largest non-NULL y */
    RN_AGG_MIN_BY,              /* MIN_BY(x, y): x of the row with the smallest non-NULL y */
} rn_agg_kind;

typedef struct rn_agg_spec {
    rn_agg_kind kind;
    int arg;                    /* input column of the argument, -1 for COUNT(*) */
    rn_type_id arg_type;        /* type of the argument column */
    rn_type_id result_type;     /* BIGINT for counts; see docs/sql.md */
    int by;                     /* MAX_BY/MIN_BY: input column of the ordering (else unused) */
    rn_type_id by_type;         /* MAX_BY/MIN_BY: type of the ordering column */
} rn_agg_spec_t;

/* Unbounded GROUP BY over the first nkeys input columns with naggs
 * aggregates. Output: key columns then one column per aggregate (out_schema
 * must have nkeys + naggs columns). Consumes retractions; emits, once per
 * input batch and key, -U/+U pairs, +I for a new group and -D when a
 * group's row count drops to zero; nothing when the result is unchanged. */
rn_op_t *rn_aggregate_new(rn_op_t *input, int nkeys, int naggs, const rn_agg_spec_t *aggs,
                          rn_schema_t *out_schema, char *errbuf, size_t errbuf_size);
/* Number of groups held (for metrics and tests; with a TTL, expired groups
 * not dropped yet included). */
size_t rn_aggregate_groups(const rn_op_t *op);
/* State TTL ('table.exec.state.ttl'): a group neither read nor written for
 * ttl_ms of processing time (ctx->now_ms) is dropped without a retraction;
 * a later row for its key starts a new group (+I). Call before the first
 * batch; returns false otherwise. Cleanup is incremental (bounded work per
 * batch) plus removal on access. */
bool rn_aggregate_set_ttl(rn_op_t *op, int64_t ttl_ms);

/* ---- window aggregates (docs/event-time.md) ----------------------------- */

typedef enum rn_window_kind {
    RN_WINDOW_TUMBLE,
    RN_WINDOW_HOP,
    RN_WINDOW_SESSION,
    RN_WINDOW_GIVEN,            /* each row names its window: [start_col, time_col) (a window
                                 * aggregate over a windowed relation, e.g. window rows) */
} rn_window_kind;

typedef struct rn_window_spec {
    rn_window_kind kind;
    int time_col;               /* input column holding the rowtime (epoch ms, never NULL) */
    int64_t size_ms;            /* TUMBLE/HOP: window size; SESSION: the gap */
    int64_t slide_ms;           /* HOP: slide (size is a multiple of it) */
    int64_t offset_ms;          /* TUMBLE/HOP: offset of window starts (usually 0) */
    int64_t lateness_ms;        /* allowed lateness L: rows with rowtime < rowwm - L are
                                 * late; windows stay (for updates) until wm >= end + L */
    int64_t early_fire_ms;      /* > 0: every this many ms of processing time, emit the
                                 * changed results of open windows */
    int start_col;              /* GIVEN: input column of each row's window_start; time_col then
                                 * holds its window_end, and the row's rowtime is window_end - 1 */
    bool proctime;              /* TUMBLE/HOP over processing time (time_col holds PROCTIME()):
                                 * no row is late, a window fires once processing time
                                 * (ctx->now_ms) reaches its end, and every one at the end of
                                 * input; lateness_ms must be 0 */
} rn_window_spec_t;

/* The largest window start <= t on the grid k * step + offset (step > 0),
 * saturating at the ends of time: TUMBLE's window (step = size), HOP's
 * last window and its pane (step = slide). */
static inline int64_t rn_window_grid_start(int64_t t, int64_t step, int64_t offset)
{
    int64_t d = rn_time_sub_sat(t, offset);
    int64_t q = d / step;
    if (d % step != 0 && d < 0) q--;
    int64_t r;
    if (__builtin_mul_overflow(q, step, &r)) return q < 0 ? INT64_MIN : INT64_MAX;
    return rn_time_add_sat(r, offset);
}

/* Whether a row with rowtime t, arriving under watermark rowwm, is late
 * with allowed lateness L (docs/event-time.md): t < rowwm - L. */
static inline bool rn_window_row_late(int64_t t, int64_t rowwm, int64_t lateness)
{
    return rowwm >= INT64_MIN + lateness && t < rowwm - lateness;
}

/* A window aggregate. Input columns 0..nkeys-1 are the GROUP BY keys other
 * than the window columns (for SESSION: the PARTITION BY columns); aggs
 * read their arguments from other input columns; w->time_col is the
 * rowtime. Input must be insert-only. Output (out_schema, 3 + nkeys +
 * naggs columns): window_start, window_end, window_time (TIMESTAMP, =
 * window_end - 1), the keys, then one column per aggregate. Results are
 * emitted when the watermark reaches window_end (plus early firings and
 * late updates as w asks); output is updating iff lateness_ms > 0 or
 * early_fire_ms > 0. Output batches carry no rowwm (results are never late
 * downstream). */
rn_op_t *rn_window_aggregate_new(rn_op_t *input, const rn_window_spec_t *w, int nkeys, int naggs,
                                 const rn_agg_spec_t *aggs, rn_schema_t *out_schema, char *errbuf,
                                 size_t errbuf_size);
/* Sends late input rows (as batches of the input schema) to late, which
 * is not connected as an output. Also for a WindowRows operator. */
void rn_window_set_late_output(rn_op_t *op, rn_op_t *late);
/* Whether late rows of window aggregate op go to a late-rows table. */
bool rn_window_has_late_output(const rn_op_t *op);
/* Late rows seen so far, and windows (or sessions) currently held. Also
 * for a WindowRows operator (held sessions). */
uint64_t rn_window_late_rows(const rn_op_t *op);
size_t rn_window_open_windows(const rn_op_t *op);
/* The most windows (sessions) a window aggregate held at once, counted
 * after each batch's rows went in (0 for window rows). */
size_t rn_window_peak_windows(const rn_op_t *op);

/* Local pre-aggregation before a window aggregate's Exchange
 * (op/window_combine.c): each input batch leaves as one row per (pane,
 * group key), the pane being the TUMBLE window or the HOP slide, with the
 * partial aggregates of its rows; rows that are late (as the window judges
 * them) leave alone. Only for what rn_window_combinable accepts: TUMBLE or
 * HOP over event time with COUNT(*), COUNT, integer SUM, MIN and MAX.
 * Input is the window aggregate's (keys in columns 0..nkeys-1, aggs' args,
 * w->time_col); output: the keys, one partial per aggregate (named
 * agg_names[i]; BIGINT for counts and sums, the argument's type for
 * MIN/MAX), the rowtime (the latest of the combined rows; their rowwm the
 * smallest). *global_w and global_aggs[0..naggs) are set to what the
 * window aggregate after the Exchange must use over this output (counts
 * merge by SUM). Combines only when its output is a remote Exchange;
 * otherwise each row becomes its partial alone. NULL when not combinable
 * or on OOM. */
bool rn_window_combinable(const rn_window_spec_t *w, int naggs, const rn_agg_spec_t *aggs);
rn_op_t *rn_window_combine_new(rn_op_t *input, const rn_window_spec_t *w, int nkeys, int naggs,
                               const rn_agg_spec_t *aggs, const char *const *agg_names,
                               rn_window_spec_t *global_w, rn_agg_spec_t *global_aggs);
/* Rows a combiner received and rows it sent, while combining. */
void rn_window_combine_counts(const rn_op_t *op, uint64_t *rows, uint64_t *sent);
/* Makes the combiner combine whatever its output is (unit tests). */
void rn_window_combine_always(rn_op_t *op);

/* Local pre-aggregation before a GroupAggregate's Exchange
 * (op/group_combine.c), for an insert-only input: each input batch leaves
 * as one row per group key with the partials of its rows (op/combine.h)
 * and, per COUNT(DISTINCT x), one row per (group key, x) not sent before.
 * Only for what rn_group_combinable accepts: COUNT(*), COUNT, integer SUM,
 * MIN, MAX and COUNT(DISTINCT). Input is the aggregate's (keys in columns
 * 0..nkeys-1, then the aggs' args); output: the keys, then one column per
 * aggregate: a partial named agg_names[i], or a distinct value named as
 * the aggregate's argument.
 * global_aggs[0..naggs) are set to what the GroupAggregate after the
 * Exchange must use over this output. may_remember: values sent may be
 * remembered across batches (no state TTL after the Exchange), which
 * rn_group_combine_remember then turns on. Combines only when its output
 * is a remote Exchange; otherwise each row becomes its partial alone.
 * NULL when not combinable or on OOM. */
bool rn_group_combinable(int naggs, const rn_agg_spec_t *aggs);
rn_op_t *rn_group_combine_new(rn_op_t *input, int nkeys, int naggs, const rn_agg_spec_t *aggs,
                              const char *const *agg_names, bool may_remember, rn_agg_spec_t *global_aggs);
bool rn_is_group_combine(const rn_op_t *op);
/* Remember the distinct values sent across batches (on: the aggregate's
 * state survives partition moves and restarts, i.e. checkpoints are
 * taken; ignored when created with may_remember false). Forgets what it
 * remembered either way. */
void rn_group_combine_remember(rn_op_t *op, bool on);
/* Rows a combiner received and rows it sent, while combining. */
void rn_group_combine_counts(const rn_op_t *op, uint64_t *rows, uint64_t *sent);
/* Makes the combiner combine whatever its output is (unit tests). */
void rn_group_combine_always(rn_op_t *op);

/* A window TVF used without an aggregate (op/window_rows.c): every input
 * row with its window. Input columns 0..nkeys-1 are the SESSION PARTITION
 * BY key (nkeys = 0 for TUMBLE/HOP); w->time_col is the rowtime;
 * w->early_fire_ms must be 0. Input must be insert-only. Output
 * (out_schema, input columns + 3): the input columns, then window_start,
 * window_end, window_time (= window_end - 1), insert-only. TUMBLE/HOP rows
 * are emitted at once (HOP: one per window holding the row); SESSION rows
 * are held per key until the watermark reaches session end + lateness,
 * then emitted in arrival order with the session's bounds. The forwarded
 * watermark is the input's minus the lateness, and each output row's
 * rowwm is at most its window_time, so no output row is late downstream. */
rn_op_t *rn_window_rows_new(rn_op_t *input, const rn_window_spec_t *w, int nkeys, rn_schema_t *out_schema,
                            char *errbuf, size_t errbuf_size);
bool rn_is_window_rows(const rn_op_t *op);
/* The late-row output, late rows seen and sessions held, as for window
 * aggregates (rn_window_set_late_output etc. dispatch here). */
void rn_window_rows_set_late_output(rn_op_t *op, rn_op_t *late);
uint64_t rn_window_rows_late_rows(const rn_op_t *op);
size_t rn_window_rows_open_sessions(const rn_op_t *op);

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
 * stderr as "where:position: error". Threads may share one (a lock guards
 * each write). */
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
    RN_FROM_COMPUTED,           /* a computed column (`name AS expr`) */
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
/* Makes the source the scan of an upsert table whose primary key is the
 * npk columns pk (marked used): a tombstone (a record with a NULL value)
 * becomes a -D row holding the key columns decoded from the record key and
 * NULL elsewhere, or a dead letter when it has no key; other records are
 * +I rows. The source is then `updating`; a ChangelogNormalize
 * (op/normalize.h) turns its rows into a changelog. */
void rn_source_set_upsert(rn_op_t *op, int npk, const int *pk);
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

/* Declares column col NOT NULL: a record in which it is missing or null
 * goes to the dead-letter output ("field 'x' is missing or null"), except
 * a delete of an upsert source. The column is decoded even if no query
 * reads it. Columns past the first 1024 are not checked. */
void rn_source_set_not_null(rn_op_t *op, int col);

/* Makes column col a computed column (`name AS expr`): the source
 * evaluates expr, bound over the table's columns, after decoding a batch.
 * Using col uses the columns expr reads. expr belongs to the plan. */
void rn_source_set_computed(rn_op_t *op, int col, const rn_expr_t *expr);

/* The event-time attribute of a table (docs/event-time.md). */
typedef struct rn_watermark_spec {
    int rowtime_col;            /* WATERMARK FOR column (TIMESTAMP or TIMESTAMP_LTZ) */
    const rn_expr_t *expr;      /* the WATERMARK expression, bound over the table */
    int64_t idle_timeout_ms;    /* a partition silent this long stops holding back; 0 = never */
    int64_t quiet_timeout_ms;   /* no data at all this long: follow the wall clock; 0 = never */
    int64_t align_drift_ms;     /* watermark alignment: a partition this far ahead of the others
                                 * is paused (rn_align_pause); 0 = never */
} rn_watermark_spec_t;

/* 'scan.watermark.alignment.max-drift' when a table does not set it. */
#define RN_ALIGN_DEFAULT_DRIFT_MS 600000

/* Watermark alignment (docs/event-time.md), the decision for one
 * partition: true if a partition whose watermark is wm should be paused
 * (not fetched) while ref is the lowest watermark of the table's
 * partitions that still deliver, given the allowed drift max_drift (ms);
 * paused says whether it is paused now. It is paused when it runs more
 * than max_drift ahead of ref, and resumed once it is within max_drift / 2
 * (each pause drops what was prefetched for it, so it should not flap).
 * Never with max_drift <= 0, and not before both watermarks exist
 * (RN_WM_MIN) or once ref is at the end (RN_WM_MAX). */
bool rn_align_pause(int64_t wm, int64_t ref, int64_t max_drift, bool paused);
/* How many times watermark alignment paused a partition of this source. */
uint64_t rn_source_align_pauses(const rn_op_t *op);

/* Gives the source a rowtime and watermark: rows with a NULL rowtime go
 * to the dead-letter output, every emitted row carries the watermark in
 * force when it arrived (batch->rowwm), and after every poll the source
 * delivers its watermark downstream (rn_op_watermark). */
void rn_source_set_watermark(rn_op_t *op, const rn_watermark_spec_t *w);
bool rn_source_has_watermark(const rn_op_t *op);
/* Makes the source read the records of an Exchange's repartition topic
 * (op/exchange.h) instead of JSON: every column is used, rows carry the
 * watermark they arrived under upstream, and marks give each partition's
 * watermark (the minimum over the upstream tasks). rowtime_col is the
 * event-time column (commit marks for windows downstream), or -1: no
 * event time; nparts the topic's partition count. When the consumer group
 * takes partitions away, the operators downstream forget their keys
 * (rn_op_forget_partitions). Call before rn_source_open. */
void rn_source_set_exchange(rn_op_t *op, int rowtime_col, int32_t nparts);
/* Whether the source's input ended (a bounded input read to its end; for
 * a repartition topic: every upstream task ended), as opposed to a run
 * that was stopped. */
bool rn_source_exhausted(const rn_op_t *op);
/* Whether idle and quiet timeouts may use the wall clock (`runnel run`);
 * off in `runnel test`, whose output must depend on its input only. */
void rn_source_use_wall_clock(rn_op_t *op, bool on);
/* The table's current watermark (RN_WM_MIN before any). */
int64_t rn_source_watermark(const rn_op_t *op);
/* Appends "2024-05-01 10:00:05.000 (waiting on user-events[3])": the
 * watermark and why it is there. */
void rn_source_describe_watermark(const rn_op_t *op, rn_buf_t *out);
/* Appends one line per assigned partition: "user-events[3] 2024-05-01
 * 10:00:05.000 (idle)". */
void rn_source_describe_partitions(const rn_op_t *op, rn_buf_t *out);
/* One partition of a source as the dashboard shows it (rn_source_partitions). */
typedef struct rn_source_partition {
    const char *topic;          /* NULL for files; valid until the next poll */
    int32_t partition;          /* -1 for files */
    uint64_t records;           /* rows read from it so far (with a rowtime, for a WATERMARK) */
    int64_t watermark;          /* its watermark, RN_WM_MIN before any */
    int64_t lag;                /* records behind the end (the reader's lag), -1 unknown */
    bool idle;                  /* not holding the table's watermark */
} rn_source_partition_t;
/* Writes at most max of the source's assigned partitions to out and
 * returns how many there are. Only a table with a WATERMARK and the scan
 * of a repartition topic track their partitions; other sources have none
 * (0). Between polls only. */
int rn_source_partitions(const rn_op_t *op, rn_source_partition_t *out, int max);
/* True while the table follows the wall clock (every partition quiet). */
bool rn_source_quiet(const rn_op_t *op);
/* rn_reader_t.commit_limit for this source's reader (opaque = the op). */
int64_t rn_source_commit_limit(void *op, const char *topic, int32_t partition);
/* Checkpoints (docs/checkpoints.md): a repartition scan's partition
 * count (0 for other sources); the event-time state of one partition
 * (its watermark, idleness, highest rowtime, and for a repartition topic
 * each upstream task's watermark) appended to out, or read back into the
 * partition (created if new). Restore returns RN_ERR_DECODE on bytes
 * that do not fit, RN_ERR_NOMEM. */
int32_t rn_source_exchange_parts(const rn_op_t *op);
rn_err_t rn_source_snapshot_split(const rn_op_t *op, const char *topic, int32_t partition, rn_buf_t *out);
rn_err_t rn_source_restore_split(rn_op_t *op, const char *topic, int32_t partition, const void *data,
                                 size_t len);

/* Attaches the writer of a sink created with io NULL (takes ownership). */
void rn_sink_set_io(rn_op_t *op, rn_sink_io_t *io);
/* Writes only the n listed columns to the value (default: all columns;
 * metadata columns and, with 'value.fields-include' = 'EXCEPT_KEY', key
 * columns are left out). Returns RN_ERR_NOMEM on OOM. */
rn_err_t rn_sink_set_value_columns(rn_op_t *op, int n, const int *cols);
/* How the JSON records' keys and values write timestamps (default: both
 * epoch milliseconds; 'json.timestamp-format.standard'). */
void rn_sink_set_json_timestamps(rn_op_t *op, rn_json_ts_format key, rn_json_ts_format value);
/* Makes the sink's writer deliver everything written so far and wait for
 * the acknowledgement (io->flush), retrying while it answers RN_ERR_RETRY
 * as rn_sink_set_retry says. */
rn_err_t rn_sink_sync(rn_op_t *op, char *errbuf, size_t errbuf_size);
/* How the sink retries a writer that answers RN_ERR_RETRY (op/io.h):
 * flushes again with backoff (100 ms doubling to 5 s) at most max_retries
 * times (-1, the default: until it succeeds), and gives up early, failing,
 * once *stop is set (the run's stop request; may be NULL; not owned). */
void rn_sink_set_retry(rn_op_t *op, int64_t max_retries, volatile sig_atomic_t *stop);
/* Records written by a sink so far. */
uint64_t rn_sink_records(const rn_op_t *op);
/* Writes and flushes the writer failed so far (RN_ERR_RETRY answers
 * included), and flushes retried after RN_ERR_RETRY. */
uint64_t rn_sink_errors(const rn_op_t *op);
uint64_t rn_sink_retries(const rn_op_t *op);

/* Two-phase commit (exactly-once, docs/checkpoints.md; the writer's
 * commit_once in op/io.h; the layout in op/sink.c's head note). From
 * this call on the sink keeps the rows it would write (its pending rows)
 * instead of handing them to its writer, and rn_sink_sync and finish
 * deliver nothing: only rn_sink_commit does. name is the sink's name in
 * the writer's record of committed checkpoints (copied). Fails with
 * RN_ERR_UNSUPPORTED and a message when the writer has no commit_once (or
 * no write_rows) or a column is a ROW; RN_ERR_NOMEM. */
rn_err_t rn_sink_set_two_phase(rn_op_t *op, const char *name, char *errbuf, size_t errbuf_size);
/* True once rn_sink_set_two_phase succeeded. */
bool rn_sink_two_phase(const rn_op_t *op);
/* Rows pending since the last rn_sink_commit. */
uint32_t rn_sink_pending_rows(const rn_op_t *op);
/* Appends the pending rows to out (a checkpoint's section of the sink);
 * they stay pending. RN_ERR_NOMEM when out ran out of memory. */
rn_err_t rn_sink_snapshot_pending(const rn_op_t *op, rn_buf_t *out);
/* Commits the pending rows as checkpoint ckpt of process tag writer
 * (commit_once, keep_from as there) and forgets them. With none pending
 * nothing is recorded, but the writer's records left below keep_from
 * are deleted (forget_commits; a failure there is logged, not returned). The writer answering RN_ERR_RETRY is retried as
 * rn_sink_set_retry says; when that gives up, or on another error, the
 * rows stay pending, the error is returned (errbuf) and the run must stop:
 * a restart restores the checkpoint and commits them then. */
rn_err_t rn_sink_commit(rn_op_t *op, const char *writer, uint64_t ckpt, uint64_t keep_from, char *errbuf,
                        size_t errbuf_size);
/* Commits the pending rows that rn_sink_snapshot_pending wrote into
 * checkpoint ckpt of writer (data, len: that section of the file), as
 * rn_sink_commit does; the sink's own pending rows are not touched.
 * RN_ERR_DECODE when the bytes are not pending rows of this sink's
 * columns; the rest as rn_sink_commit. */
rn_err_t rn_sink_commit_restored(rn_op_t *op, const char *writer, uint64_t ckpt, const void *data, size_t len,
                                 char *errbuf, size_t errbuf_size);

#endif
