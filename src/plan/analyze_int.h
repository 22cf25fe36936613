/*
 * analyze_int.h - private interface of the analyzer, split by concern as
 * SQLite's where*.c share whereInt.h:
 *   analyze.c  rn_analyze, error reporting, plan allocation, registering operators
 *   bind.c     types, implicit casts, aggregate detection, binding expressions
 *   from.c     relations and scopes, FROM, views, window TVFs
 *   select.c   a SELECT block and queries with WITH
 *   ddl.c      the statements: CREATE TABLE/VIEW, INSERT, bare SELECT, SET
 *   partition.c how streams are partitioned, Exchanges before keyed state
 *   rank.c     deduplication and Top-N (ROW_NUMBER() OVER ... WHERE rownum <= N)
 * Only what one of these files uses from another is declared here; the rest
 * stays static in its file. The structures are in plan_int.h.
 */
#ifndef RN_ANALYZE_INT_H
#define RN_ANALYZE_INT_H

#include "plan/plan_int.h"

/* What an_collect_aggs gathers the aggregate calls of an expression into. */
typedef struct agg_collect {
    analyzer_t *an;
    scope_t *sc;                /* its naggs/agg_calls receive the calls */
    bool inside;                /* below an aggregate call */
} agg_collect_t;

/* analyze.c: errors (the first one is kept) and allocation in the plan arena */
void an_error(analyzer_t *an, rn_pos_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void an_oom(analyzer_t *an);
void *an_alloc(analyzer_t *an, size_t size);
char *an_strdup(analyzer_t *an, const char *s);
rn_op_t *an_track(analyzer_t *an, rn_op_t *op);
bool an_connect(analyzer_t *an, rn_op_t *from, rn_op_t *to);
/* Sub-plan reuse (reuse.c): merges operators that compute the same rows
 * from the same inputs, and renumbers the rest. False on OOM (reported). */
bool an_reuse_subplans(analyzer_t *an);

/* bind.c */
const rn_type_t *an_type(analyzer_t *an, const rn_ast_type_t *t);
bool an_assignable(const rn_type_t *from, const rn_type_t *to);
rn_expr_t *an_mk_column(analyzer_t *an, int col, const rn_type_t *type);
rn_expr_t *an_mk_const(analyzer_t *an, const rn_type_t *type, rn_value_t v);
rn_expr_t *an_coerce(analyzer_t *an, rn_expr_t *e, const rn_type_t *to);
rn_agg_kind an_agg_kind_of(const char *name, bool *is_agg);
bool an_ast_equal(const rn_ast_expr_t *a, const rn_ast_expr_t *b);
void an_collect_aggs(void *ud, const rn_ast_expr_t *e);
bool an_contains_agg(const rn_ast_expr_t *e);
/* Whether every column e refers to resolves, unambiguously, in rel (no
 * error is reported either way). */
bool an_ast_resolves(const rel_t *rel, const rn_ast_expr_t *e);
rn_expr_t *an_bind_boolean(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e, const char *what);
rn_expr_t *an_bind(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e);

/* from.c */
const char *an_join_parts(analyzer_t *an, int n, char *const *parts);
int an_rel_resolve(analyzer_t *an, const rel_t *rel, const rn_ast_expr_t *ref);
void an_rel_use(rel_t *rel, int col);
bool an_rel_is_source(const rel_t *rel);
table_def_t *an_find_table(rn_pipeline_t *p, const char *name);
view_def_t *an_find_view(analyzer_t *an, const char *name);
bool an_rel_from_schema(analyzer_t *an, rel_t *rel, rn_op_t *op, const char *qualifier);
bool an_rel_add_window_cols(analyzer_t *an, rel_t *rel, rel_window_t *w);
bool an_compile_from(analyzer_t *an, const rn_ast_from_t *f, rel_t *out);
/* Argument i of window function call fn, an INTERVAL, in *ms (> 0
 * unless zero_ok; what names it in errors). False on error (reported). */
bool an_tvf_interval(analyzer_t *an, const rn_ast_expr_t *fn, int i, bool zero_ok, const char *what, int64_t *ms);

/* join.c: [INNER|LEFT|RIGHT|FULL] JOIN ... ON, regular or interval */
bool an_compile_join(analyzer_t *an, const rn_ast_from_t *f, rel_t *out);
/* Collects the AND-ed conjuncts of e into out (at most max): false when
 * there are more. */
bool an_split_and(const rn_ast_expr_t *e, const rn_ast_expr_t **out, int *n, int max);
/* ANDs x into *acc (x itself when *acc is NULL). False on OOM. */
bool an_and_into(analyzer_t *an, rn_expr_t **acc, rn_expr_t *x);

/* lookup.c: JOIN t FOR SYSTEM_TIME AS OF l.proc_time ON ... (a lookup join) */
bool an_is_lookup_join(const rn_ast_from_t *f);
bool an_compile_lookup_join(analyzer_t *an, const rn_ast_from_t *f, rel_t *out);

/* select.c */
/* Sends the late rows of event-time operator wop (set: its late-output
 * setter) to the table named by SET 'runnel.late-rows.table': its columns
 * are taken by name from from_rel's first nfrom columns, which sit in
 * wop's input from column `first`. False on failure (reported). */
bool an_late_output(analyzer_t *an, rn_op_t *wop, void (*set)(rn_op_t *, rn_op_t *), const rel_t *from_rel,
                    int first, int nfrom);
bool an_rel_calc(analyzer_t *an, rel_t *rel, rn_expr_t *pred, int n, rn_expr_t **exprs,
                 const char **names);
bool an_is_identity(const rel_t *rel, int n, rn_expr_t *const *exprs, const char *const *names);
bool an_compile_query(analyzer_t *an, const rn_ast_query_t *q, rel_t *out);
/* The AND-ed conjuncts of a WHERE, and which of them a join took. */
#define RN_MAX_WHERE_CONJ 64
typedef struct where_split {
    const rn_ast_expr_t *conj[RN_MAX_WHERE_CONJ];
    bool pushed[RN_MAX_WHERE_CONJ];
    int n;                      /* 0: WHERE is applied whole */
} where_split_t;
/* Compiles FROM f into rel, offering the conjuncts of where (may be NULL)
 * to the join f is (join.c: it pushes conditions over one side before
 * the join, and a comma join takes its keys), recorded in ws. False on
 * error (reported). */
bool an_compile_from_where(analyzer_t *an, const rn_ast_from_t *f, const rn_ast_expr_t *where, where_split_t *ws,
                           rel_t *rel);
/* Applies to rel (a Calc) what the join left of where: ws as
 * an_compile_from_where set it. False on error (reported). */
bool an_where_filter(analyzer_t *an, rel_t *rel, const rn_ast_expr_t *where, const where_split_t *ws);

/* partition.c: the operator to feed a keyed stateful operator whose key
 * is input columns keys[0..nkeys-1], in that order: input itself when one
 * process reads it all or it is already partitioned by exactly those
 * columns in that order, else a new Exchange on input hashing them
 * (rowtime_col: input's event-time column or -1). NULL on failure
 * (an->failed is set). */
rn_op_t *an_exchange_on(analyzer_t *an, rn_op_t *input, int nkeys, const int *keys, int rowtime_col);
/* partition.c: an_exchange_on for an operator whose key is input columns
 * 0..nkeys-1 (nkeys <= RN_MAX_GROUP). */
rn_op_t *an_exchange_for(analyzer_t *an, rn_op_t *input, int nkeys, int rowtime_col);
/* partition.c: whether an_exchange_for would put an Exchange after input. */
bool an_exchange_needed_for(analyzer_t *an, rn_op_t *input, int nkeys);
/* partition.c: the inputs of a join keyed by lkeys/rkeys (n columns each,
 * pairwise of one type): both unchanged when one process reads both
 * whole, else each behind an Exchange on its keys (ltime/rtime: event-time
 * columns or -1). False on failure. */
bool an_exchange_join(analyzer_t *an, rn_op_t **left, const int *lkeys, int ltime, rn_op_t **right,
                      const int *rkeys, int rtime, int n);

/* rank.c: whether q is SELECT ... FROM (SELECT ..., ROW_NUMBER() OVER
 * (...) AS rownum ...) WHERE ... (the inner query as a subquery, or as a
 * view or WITH query without a column list); and compiling its FROM and the rownum
 * filter of its WHERE into rel (a Rank), leaving in *where the rest of
 * the WHERE (NULL: nothing) for the caller to apply. False on error. */
bool an_is_rank_query(analyzer_t *an, const rn_ast_query_t *q);
bool an_compile_rank(analyzer_t *an, const rn_ast_query_t *q, rel_t *rel, const rn_ast_expr_t **where);

/* ddl.c */
bool an_create_table(analyzer_t *an, const rn_ast_stmt_t *st);
bool an_create_view(analyzer_t *an, const rn_ast_stmt_t *st);
bool an_insert_into(analyzer_t *an, table_def_t *t, const int *target_cols, int ntarget, rel_t *rel,
                    rn_pos_t pos, rn_pos_t query_pos);
bool an_insert_stmt(analyzer_t *an, const rn_ast_stmt_t *st);
bool an_select_stmt(analyzer_t *an, const rn_ast_stmt_t *st);
bool an_set_stmt(analyzer_t *an, const rn_ast_stmt_t *st);

#endif
