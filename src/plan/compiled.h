/*
 * compiled.h - a compiled pipeline as the planner leaves it and the
 * runtime runs it: the catalog (tables with their connectors and options,
 * views), the operator graph with its source scans and sinks, and what the
 * runtime attaches while it runs (dead-letter output, output files).
 * Written by plan/ (analyze.c builds it, pipeline.c frees and explains it),
 * read by runtime/run.c; nothing else includes it.
 */
#ifndef RN_PLAN_COMPILED_H
#define RN_PLAN_COMPILED_H

#include <stdbool.h>

#include "connectors/connector.h"
#include "connectors/dashboard.h"
#include "core/arena.h"
#include "expr/expr.h"
#include "lang/ast.h"
#include "op/op.h"
#include "plan/pipeline.h"

/* A CREATE TABLE. Strings point into the script or plan arena. */
typedef struct table_def {
    const char *name;
    rn_pos_t pos;
    const rn_connector_t *conn;
    rn_sink_mode sink_mode;     /* how the table is written: the connector's mode, or upsert for
                                 * a connector with pk_upsert and a PRIMARY KEY */
    void *conf;                 /* the connector's config struct */
    rn_schema_t *schema;        /* flattened columns (ROW fields as "a.b"), owned */
    int ncols;                  /* while building */
    char **col_names;
    const rn_type_t **col_types;
    int *nparts;                /* JSON path per column */
    char ***parts;
    int npk;                    /* PRIMARY KEY columns */
    int *pk;
    rn_col_origin *origin;      /* per column: value or key field, or metadata */
    int nkey;                   /* columns of the record key ('key.fields') */
    int *key;
    rn_option_t *options;       /* the WITH clause as written, for the connector (without
                                 * the event-time options every table takes) */
    const rn_ast_option_t **option_asts; /* the same options' syntax, for positions */
    int noptions;
    rn_expr_t **computed;       /* per column: the expression of a computed column, or NULL */
    bool *not_null;             /* per column: declared NOT NULL (top-level columns) */
    int rowtime;                /* WATERMARK FOR column, or -1 */
    rn_expr_t *wm_expr;         /* the WATERMARK expression */
    int64_t idle_timeout_ms;    /* 'scan.watermark.idle-timeout' */
    int64_t quiet_timeout_ms;   /* 'scan.watermark.quiet-timeout' */
    int64_t align_drift_ms;     /* 'scan.watermark.alignment.max-drift' (0 = off) */
    rn_op_t *source;            /* the shared scan, once a query reads the table */
    rn_dash_conf_t *dash;       /* shown on the dashboard (the 'dashboard' connector, or
                                 * 'dashboard' = 'true'): its options; else NULL */
} table_def_t;

/* A CREATE VIEW or a WITH query. */
typedef struct view_def {
    const char *name;
    rn_pos_t pos;
    const rn_ast_query_t *query;
    int ncols;                  /* optional column names */
    char **cols;
    bool compiling;             /* guards against self-reference */
    bool used;                  /* some statement reads it */
    struct rel *compiled;       /* its relation, reused by later readers compiled
                                 * under the same SET options (one join, not two) */
    uint64_t compiled_options;  /* fingerprint of those options */
} view_def_t;

typedef struct sink_def {
    rn_op_t *op;                /* the Sink operator */
    table_def_t *table;
    bool dash_twin;             /* the in-memory twin of a 'dashboard' = 'true' table
                                 * (a second Sink on the same input) */
    int npk;                    /* dash_twin: the dashboard table's key columns */
    const int *pk;              /* (plan arena) */
    rn_dash_table_t *dash;      /* while running: the dashboard table this sink writes
                                 * (owned by the sink's writer), or NULL */
} sink_def_t;

/* A lookup join and the table it looks up: the runtime opens the table
 * (rn_connector_t.open_lookup, or a file in `runnel test`) and hands it
 * to the operator (rn_lookup_join_set_table). */
typedef struct lookup_def {
    rn_op_t *op;                /* the LookupJoin operator */
    table_def_t *table;
} lookup_def_t;

/* What rn_reader_t.resumed needs to warn about one source (runtime/run.c). */
struct resume_note {
    const char *table;          /* the source table */
    const char *via;            /* the repartition topic it is read back through, or NULL */
    char *sinks;                /* "sink 'a', sink 'b'": updating sinks fed by it (owned), or NULL */
};

struct rn_pipeline {
    char *filename;             /* for messages */
    char *src;                  /* SQL text, owned */
    size_t srclen;
    rn_arena_t ast_arena;       /* syntax tree */
    rn_arena_t plan_arena;      /* bound expressions, names, configs */
    rn_ast_script_t *script;
    table_def_t *tables;
    int ntables;
    view_def_t *views;
    int nviews;
    rn_op_t **ops;              /* every operator, owned */
    int nops;
    rn_op_t **retired;          /* operators merged away by sub-plan reuse (plan/reuse.c),
                                 * unconnected: owned, and freed last, since the consumers
                                 * they fed may still point at their schemas */
    int nretired;
    rn_op_t **sources;          /* shared scans that are fed at run time */
    int nsources;
    sink_def_t *sinks;
    int nsinks;
    lookup_def_t *lookups;      /* lookup joins (owned array) */
    int nlookups;
    rn_dlq_t *dlq;              /* while running */
    bool dlq_shared;            /* dlq belongs to the caller (workers share one) */
    int parallelism;            /* SET 'parallelism.default': workers, 0 = not set */
    int64_t ckpt_interval_ms;   /* SET 'execution.checkpointing.interval': -1 = not set (default),
                                 * 0 = no checkpoints */
    const char *ckpt_dir;       /* SET 'state.checkpoints.dir', or NULL (plan arena or script) */
    int ckpt_retained;          /* SET 'state.checkpoints.num-retained', 0 = not set */
    bool ckpt_exactly_once;     /* SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE' */
    rn_ckpt_stats_t ckpt_stats; /* written by runtime/checkpoint.c while running */
    rn_txn_t *txn;              /* while running exactly-once: the transaction of its Kafka
                                 * outputs (runtime/run.c), closed last by rn_pipeline_free */
    rn_file_outs_t *files;      /* output files of the run, shared by sinks */
    struct resume_note *resume_notes; /* per source, for rn_reader_t.resumed (owned) */
    struct recv_origin {
        rn_op_t *recv;          /* the scan of a repartition topic (runtime/run.c) */
        table_def_t *table;     /* the table whose rows it carries */
    } *recv_origins;            /* (owned) */
    int nrecv;
};

/* Applies --set/--connector overrides (plan/override.c) to the parsed
 * script of p, before analysis; used[i] (if not NULL) is incremented for
 * each CREATE TABLE override i applied to. Returns RN_OK, RN_ERR_CONFIG
 * (an unknown connector) or RN_ERR_NOMEM, with errbuf filled. */
rn_err_t rn_pipeline_apply_overrides(rn_pipeline_t *p, const rn_table_override_t *ov, int nov, int *used,
                                     char *errbuf, size_t errbuf_size);

#endif
