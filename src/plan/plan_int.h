/*
 * plan_int.h - private structures of the analyzer (analyze.c and the files
 * analyze_int.h lists): relations, scopes, the analyzer's state. The
 * compiled pipeline itself is plan/compiled.h.
 */
#ifndef RN_PLAN_INT_H
#define RN_PLAN_INT_H

#include <stdbool.h>

#include "connectors/connector.h"
#include "core/arena.h"
#include "expr/expr.h"
#include "lang/ast.h"
#include "op/op.h"
#include "plan/compiled.h"
#include "plan/pipeline.h"

#define RN_MAX_AGGS 64          /* aggregates in one SELECT */
#define RN_MAX_GROUP 32         /* GROUP BY expressions */
#define RN_MAX_CTES 32          /* WITH queries in scope */

/* One column of a relation in scope. */
typedef struct rel_col {
    const char *qualifier;      /* table alias, or NULL */
    const char *name;
    const rn_type_t *type;
    int src_col;                /* column of its scan it passes through, or -1 */
    rn_op_t *src_scan;          /* that scan when it is not rel->source (a join's
                                 * columns come from two), else NULL */
    bool rowtime;               /* an event-time attribute (WATERMARK FOR, window_time) */
    bool proctime;              /* a processing-time attribute: PROCTIME(), a column computed
                                 * AS PROCTIME(), a processing-time window's window_time */
    int window_col;             /* a window TVF's column: 1 window_start, 2 window_end,
                                 * 3 window_time (not in rel->op's rows); 0 otherwise */
    int window_bound;           /* a windowed relation's real column (window rows, a window
                                 * aggregate's output): 1 window_start, 2 window_end,
                                 * 3 window_time; 0 otherwise */
} rel_col_t;

/* What a window TVF (TUMBLE/HOP/SESSION) asked for. */
typedef struct rel_window {
    rn_window_kind kind;
    const char *fn;             /* "TUMBLE", ... for messages */
    rn_pos_t pos;
    int time_col;               /* rel column named by DESCRIPTOR (RN_WINDOW_GIVEN: window_end) */
    int start_col;              /* RN_WINDOW_GIVEN: the rel column holding window_start */
    int64_t size_ms, slide_ms, offset_ms;
    bool proctime;              /* over a processing-time attribute (TUMBLE, HOP) */
    int npartition;             /* SESSION PARTITION BY columns (rel columns) */
    int partition[RN_MAX_GROUP];
} rel_window_t;

/* What a FROM clause (or a compiled query) yields: an operator and its
 * named columns. */
typedef struct rel {
    rn_op_t *op;
    int ncols;
    rel_col_t *cols;
    rn_op_t *source;            /* source scan that plain columns come from (for pushdown) */
    bool updating;              /* carries retractions */
    rel_window_t *window;       /* the output of a window TVF: its window columns are
                                 * virtual and only usable in a windowed GROUP BY */
} rel_t;

/* Name resolution context of one expression. */
typedef struct scope {
    rel_t *rel;                 /* columns in scope */
    const char *where_clause;   /* "in WHERE" for aggregate errors */
    bool agg_mode;              /* binding over an aggregate's output */
    int ngroup;
    const rn_ast_expr_t *group_asts[RN_MAX_GROUP];
    int group_cols[RN_MAX_GROUP]; /* rel column of a plain-column key, else -1 */
    int naggs;
    const rn_ast_expr_t *agg_calls[RN_MAX_AGGS];
    const rn_schema_t *out_schema; /* the aggregate's output */
    const rn_ast_expr_t *group_window; /* GROUP BY's TUMBLE/HOP/SESSION(ts, ...) call, or NULL */
    int group_window_key[3];    /* its window_start, window_end, window_time: GROUP BY key numbers */
} scope_t;

typedef struct analyzer {
    rn_pipeline_t *p;
    char *errbuf;
    size_t errbuf_size;
    bool failed;
    rn_err_t err;
    bool check_only;            /* compiling an unused view: private scans */
    int nselects;               /* bare SELECTs so far */
    view_def_t ctes[RN_MAX_CTES];
    int nctes;
    /* SET options in force at the current statement (docs/event-time.md) */
    int64_t allow_lateness_ms;  /* 'table.exec.emit.allow-lateness' */
    bool early_fire;            /* 'table.exec.emit.early-fire.enabled' */
    int64_t early_fire_ms;      /* 'table.exec.emit.early-fire.delay' */
    int64_t state_ttl_ms;       /* 'table.exec.state.ttl' (GROUP BY state), 0 = none */
    const char *late_table;     /* 'runnel.late-rows.table', or NULL */
    char agg_phase;             /* 'table.optimizer.agg-phase-strategy' ('A'UTO, 'T'WO_PHASE,
                                 * 'O'NE_PHASE): 'O' combines no window rows before a repartition */
    /* the WHERE conjuncts of the SELECT whose FROM is the join being
     * compiled: a join pushes those over one side into it and marks them */
    const rn_ast_expr_t **where_conj;
    int nwhere_conj;
    bool *where_pushed;
    rn_pos_t late_table_pos;
} analyzer_t;

/* Builds the operator graph of p->script. */
rn_err_t rn_analyze(rn_pipeline_t *p, char *errbuf, size_t errbuf_size);

#endif
