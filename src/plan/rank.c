/*
 * rank.c - deduplication and Top-N in a SELECT (docs/sql.md,
 * "Deduplication and Top-N"): Flink's pattern
 *
 *   SELECT ... FROM (
 *     SELECT ..., ROW_NUMBER() OVER (PARTITION BY k ORDER BY s [DESC]) AS rownum
 *     FROM t [WHERE ...]) [AS alias]
 *   WHERE rownum <= N [AND ...]
 *
 * compiles to
 *   FROM t -> Calc(inner WHERE) -> Calc([k..., s..., inner items...])
 *   [-> Exchange on k] -> Rank -> Calc([inner items..., rownum])
 * and the outer SELECT goes on over that with the other conjuncts of its
 * WHERE. The ORDER BY picks the Rank's mode (op/rank.h):
 *   - a proctime attribute (a computed column AS PROCTIME(), or PROCTIME()
 *     itself): arrival order, ASC keeps the first rows, DESC the last;
 *   - one event-time attribute with N = 1: ties keep the first arrival for
 *     ASC and the last for DESC, as Flink's rowtime deduplication;
 *   - anything else: values, ties in arrival order.
 * When a PARTITION BY item is the input's event-time attribute, or the
 * window_end of a window aggregate, and the input is insert-only, each
 * partition is emitted once when the watermark passes it (insert-only
 * output, like Flink's Window Top-N).
 * The rank column is only computed when the outer query mentions it (or
 * selects *), since keeping it costs an update per rank that moves.
 * ROW_NUMBER() anywhere else is an error (bind.c reports it).
 *
 * Part of the analyzer (analyze_int.h).
 */
#include "op/rank.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "plan/analyze_int.h"

/* The ROW_NUMBER() OVER call that is a whole select item of q, or NULL
 * (*item: its index). */
static const rn_ast_expr_t *row_number_item(const rn_ast_query_t *q, int *item)
{
    if (q->kind != RN_QUERY_SELECT) return NULL;
    for (int i = 0; i < q->select.nitems; i++) {
        const rn_ast_expr_t *e = q->select.items[i].expr;
        if (e->kind == RN_AST_CALL && e->call.over) {
            *item = i;
            return e;
        }
    }
    return NULL;
}

/* The query that holds ROW_NUMBER() in q's FROM: a subquery, or a view (or
 * WITH query) without a column list, as Flink matches the pattern after
 * inlining views; *qualifier gets the name its columns go by. NULL if q's
 * FROM is neither or holds no ROW_NUMBER(). */
static const rn_ast_query_t *rank_inner(analyzer_t *an, const rn_ast_query_t *q, const char **qualifier)
{
    int item;
    if (q->kind != RN_QUERY_SELECT || !q->select.from) return NULL;
    const rn_ast_from_t *from = q->select.from;
    const rn_ast_query_t *iq = NULL;
    if (from->kind == RN_AST_FROM_SUBQUERY) {
        iq = from->subquery;
        *qualifier = from->alias;
    } else if (from->kind == RN_AST_FROM_TABLE && !from->table.system_time) {
        view_def_t *v = an_find_view(an, from->table.name);
        if (!v || v->ncols || v->compiling) return NULL;
        if (row_number_item(v->query, &item)) v->used = true;
        iq = v->query;
        *qualifier = from->alias ? from->alias : from->table.name;
    }
    return iq && row_number_item(iq, &item) ? iq : NULL;
}

bool an_is_rank_query(analyzer_t *an, const rn_ast_query_t *q)
{
    const char *qualifier;
    return rank_inner(an, q, &qualifier) != NULL;
}

/* Whether column reference e names the rank column (alias, optionally
 * qualified by the subquery's alias). */
static bool is_rank_ref(const rn_ast_expr_t *e, const char *alias, const char *qualifier)
{
    if (e->kind != RN_AST_COLUMN) return false;
    int n = e->column.nparts;
    if (n == 1) return !strcmp(e->column.parts[0], alias);
    return n == 2 && qualifier && !strcmp(e->column.parts[0], qualifier) && !strcmp(e->column.parts[1], alias);
}

/* Whether e mentions the rank column anywhere. */
static bool mentions_rank(const rn_ast_expr_t *e, const char *alias, const char *qualifier)
{
    if (!e) return false;
    switch (e->kind) {
    case RN_AST_COLUMN: return is_rank_ref(e, alias, qualifier);
    case RN_AST_STAR: return !e->star.qualifier || (qualifier && !strcmp(e->star.qualifier, qualifier));
    case RN_AST_UNARY: return mentions_rank(e->unary.arg, alias, qualifier);
    case RN_AST_BINARY:
        return mentions_rank(e->binary.lhs, alias, qualifier) || mentions_rank(e->binary.rhs, alias, qualifier);
    case RN_AST_BETWEEN:
        return mentions_rank(e->between.arg, alias, qualifier) || mentions_rank(e->between.low, alias, qualifier) ||
               mentions_rank(e->between.high, alias, qualifier);
    case RN_AST_IN:
        for (int i = 0; i < e->in.nitems; i++)
            if (mentions_rank(e->in.items[i], alias, qualifier)) return true;
        return mentions_rank(e->in.arg, alias, qualifier);
    case RN_AST_LIKE:
        return mentions_rank(e->like.arg, alias, qualifier) || mentions_rank(e->like.pattern, alias, qualifier) ||
               mentions_rank(e->like.escape, alias, qualifier);
    case RN_AST_IS: return mentions_rank(e->is.arg, alias, qualifier);
    case RN_AST_CASE:
        for (int i = 0; i < e->case_.nwhens; i++)
            if (mentions_rank(e->case_.whens[i], alias, qualifier) || mentions_rank(e->case_.thens[i], alias, qualifier))
                return true;
        return mentions_rank(e->case_.operand, alias, qualifier) || mentions_rank(e->case_.else_, alias, qualifier);
    case RN_AST_CAST: return mentions_rank(e->cast.arg, alias, qualifier);
    case RN_AST_CALL:
        for (int i = 0; i < e->call.nargs; i++)
            if (mentions_rank(e->call.args[i], alias, qualifier)) return true;
        return false;
    default: return false;
    }
}

/* If conjunct e is rownum = 1, rownum <= N or rownum < N (either way
 * round), sets *n and returns true. */
static bool rank_filter(const rn_ast_expr_t *e, const char *alias, const char *qualifier, int64_t *n)
{
    if (e->kind != RN_AST_BINARY) return false;
    const rn_ast_expr_t *col = e->binary.lhs, *lit = e->binary.rhs;
    rn_ast_op op = e->binary.op;
    if (!is_rank_ref(col, alias, qualifier)) {
        col = e->binary.rhs;
        lit = e->binary.lhs;
        switch (op) { /* N >= rownum is rownum <= N */
        case RN_AST_OP_GE: op = RN_AST_OP_LE; break;
        case RN_AST_OP_GT: op = RN_AST_OP_LT; break;
        case RN_AST_OP_EQ: break;
        default: return false;
        }
        if (!is_rank_ref(col, alias, qualifier)) return false;
    }
    if (lit->kind != RN_AST_LITERAL || lit->lit.kind != RN_LIT_INT) return false;
    int64_t v = lit->lit.i;
    switch (op) {
    case RN_AST_OP_EQ: if (v != 1) return false; *n = 1; return true;
    case RN_AST_OP_LE: *n = v; return true;
    case RN_AST_OP_LT: *n = v - 1; return true;
    default: return false;
    }
}

/* Splits the AND tree e into conjuncts (at most max; false if more). */
static bool conjuncts(const rn_ast_expr_t *e, const rn_ast_expr_t **out, int *n, int max)
{
    if (e->kind == RN_AST_BINARY && e->binary.op == RN_AST_OP_AND)
        return conjuncts(e->binary.lhs, out, n, max) && conjuncts(e->binary.rhs, out, n, max);
    if (*n == max) return false;
    out[(*n)++] = e;
    return true;
}

/* Whether the bound expression x reads a proctime attribute: PROCTIME()
 * itself, or a column of rel computed AS PROCTIME(). */
static bool is_proctime(analyzer_t *an, const rel_t *rel, const rn_expr_t *x)
{
    if (x->kind == RN_EXPR_FUNC && x->fn == RN_FN_PROCTIME) return true;
    if (x->kind != RN_EXPR_COLUMN || !rel->source) return false;
    int src = rel->cols[x->col].src_col;
    if (src < 0) return false;
    for (int i = 0; i < an->p->ntables; i++) {
        const table_def_t *t = &an->p->tables[i];
        if (t->source != rel->source || !t->computed) continue;
        const rn_expr_t *c = t->computed[src];
        return c && c->kind == RN_EXPR_FUNC && c->fn == RN_FN_PROCTIME;
    }
    return false;
}

/* Whether column col of op is, through Calcs that pass it on, the
 * window_end of a WindowAggregate. */
static bool is_window_end(const rn_op_t *op, int col)
{
    while (op && col >= 0 && rn_is_calc(op)) {
        col = rn_calc_passthrough(op, col);
        op = op->input;
    }
    return op && col == 1 && !strcmp(op->vt->kind, "WindowAggregate");
}

/* A name for a pre-projected PARTITION BY or ORDER BY expression. */
static const char *pre_name(analyzer_t *an, const rel_t *rel, const rn_expr_t *x, const char *kind, int i)
{
    if (x->kind == RN_EXPR_COLUMN) return rel->cols[x->col].name;
    char buf[32];
    snprintf(buf, sizeof buf, "%s$%d", kind, i);
    return an_strdup(an, buf);
}

bool an_compile_rank(analyzer_t *an, const rn_ast_query_t *q, rel_t *rel, const rn_ast_expr_t **where)
{
    const char *qualifier = NULL;
    const rn_ast_query_t *iq = rank_inner(an, q, &qualifier);
    int rn_item;
    const rn_ast_expr_t *rn = row_number_item(iq, &rn_item);
    const rn_ast_over_t *over = rn->call.over;
    const char *alias = iq->select.items[rn_item].alias;
    if (!alias) {
        an_error(an, rn->pos, "name ROW_NUMBER() with AS (e.g. AS rownum) and filter it in an outer WHERE rownum <= N");
        return false;
    }
    if (iq->nctes || iq->norder || iq->limit || iq->select.ngroup || iq->select.having || iq->select.distinct) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, iq->pos, "ROW_NUMBER() is supported in a plain SELECT ... FROM ... [WHERE ...] (no GROUP BY, "
                 "DISTINCT, WITH, ORDER BY or LIMIT in the same block); aggregate in a subquery first");
        return false;
    }

    /* The outer WHERE: find rownum <= N, keep the rest. */
    const rn_ast_expr_t *conj[64];
    int nconj = 0;
    int64_t n = 0;
    int filter = -1;
    if (q->select.where && !conjuncts(q->select.where, conj, &nconj, 64)) {
        an_error(an, q->select.where->pos, "too many conditions ANDed in WHERE (at most 64)");
        return false;
    }
    for (int i = 0; i < nconj && filter < 0; i++)
        if (rank_filter(conj[i], alias, qualifier, &n)) filter = i;
    if (filter < 0) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, rn->pos, "ROW_NUMBER() needs an outer WHERE %s <= N (or %s = 1) ANDed to the other conditions: "
                 "an unbounded ranking is not supported", alias, alias);
        return false;
    }
    if (n < 1) {
        an_error(an, conj[filter]->pos, "this condition keeps no rows: %s counts from 1", alias);
        return false;
    }
    const rn_ast_expr_t *rest = NULL;
    for (int i = 0; i < nconj; i++) {
        if (i == filter) continue;
        if (!rest) {
            rest = conj[i];
            continue;
        }
        rn_ast_expr_t *and = an_alloc(an, sizeof *and);
        if (!and) return false;
        and->kind = RN_AST_BINARY;
        and->pos = q->select.where->pos;
        and->binary.op = RN_AST_OP_AND;
        and->binary.lhs = (rn_ast_expr_t *)rest;
        and->binary.rhs = (rn_ast_expr_t *)conj[i];
        rest = and;
    }
    *where = rest;
    bool want_rownum = mentions_rank(rest, alias, qualifier) || mentions_rank(q->select.having, alias, qualifier);
    for (int i = 0; i < q->select.nitems && !want_rownum; i++)
        want_rownum = mentions_rank(q->select.items[i].expr, alias, qualifier);
    for (int i = 0; i < q->select.ngroup && !want_rownum; i++)
        want_rownum = mentions_rank(q->select.group_by[i], alias, qualifier);

    /* The inner FROM and WHERE */
    rel_t irel;
    where_split_t ws;
    if (!an_compile_from_where(an, iq->select.from, iq->select.where, &ws, &irel)) return false;
    if (irel.window) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, irel.window->pos, "ROW_NUMBER() over a window table function is not supported: aggregate the "
                 "window first (GROUP BY window_start, window_end, ...), then rank its rows");
        return false;
    }
    if (iq->select.where && !an_where_filter(an, &irel, iq->select.where, &ws)) return false;
    scope_t sc = {.rel = &irel};

    /* Pre-projection: [PARTITION BY..., ORDER BY..., inner items...] */
    int nkeys = over->npartition, nsort = over->norder;
    if (nkeys > RN_MAX_GROUP || nsort > RN_RANK_MAX_SORT) {
        an_error(an, over->pos, "too many PARTITION BY or ORDER BY items (at most %d and %d)", RN_MAX_GROUP,
                 RN_RANK_MAX_SORT);
        return false;
    }
    int nitems = 0;
    for (int i = 0; i < iq->select.nitems; i++) {
        if (i == rn_item) continue;
        nitems += iq->select.items[i].expr->kind == RN_AST_STAR ? irel.ncols : 1;
    }
    int npre = nkeys + nsort + nitems;
    rn_expr_t **pre = an_alloc(an, sizeof *pre * (size_t)(npre + 1));
    const char **names = an_alloc(an, sizeof *names * (size_t)(npre + 1));
    if (!pre || !names) return false;
    rn_rank_spec_t spec = {.nkeys = nkeys, .nsort = nsort, .n = n, .rownum = want_rownum, .time_key = -1};
    sc.where_clause = "in OVER";
    for (int k = 0; k < nkeys; k++) {
        rn_expr_t *x = an_bind(an, &sc, over->partition_by[k]);
        if (!x) return false;
        if (x->type->id == RN_TYPE_ROW) {
            an_error(an, over->partition_by[k]->pos, "PARTITION BY a ROW is not supported");
            return false;
        }
        if (x->type->id == RN_TYPE_NULL) x = an_coerce(an, x, &rn_type_string);
        if (x->kind == RN_EXPR_COLUMN && !irel.updating && spec.time_key < 0) {
            if (irel.cols[x->col].rowtime) {
                spec.time_key = k;
            } else if (is_window_end(irel.op, x->col)) { /* rows up to window_end - 1 */
                spec.time_key = k;
                spec.time_offset = -1;
            }
        }
        pre[k] = x;
        names[k] = pre_name(an, &irel, x, "partition", k);
    }
    bool proctime = false;
    for (int i = 0; i < nsort; i++) {
        const rn_ast_order_item_t *o = &over->order_by[i];
        rn_expr_t *x = an_bind(an, &sc, o->expr);
        if (!x) return false;
        if (x->type->id == RN_TYPE_ROW) {
            an_error(an, o->expr->pos, "ORDER BY a ROW is not supported");
            return false;
        }
        if (x->type->id == RN_TYPE_NULL) x = an_coerce(an, x, &rn_type_string);
        if (is_proctime(an, &irel, x)) {
            if (nsort != 1) {
                an->err = RN_ERR_UNSUPPORTED;
                an_error(an, o->expr->pos, "a proctime attribute must be the only ORDER BY item of ROW_NUMBER()");
                return false;
            }
            proctime = true;
            spec.tie_last = o->desc;
        } else if (nsort == 1 && n == 1 && x->kind == RN_EXPR_COLUMN && irel.cols[x->col].rowtime) {
            spec.tie_last = o->desc; /* rowtime deduplication: DESC keeps the last of equal times */
        }
        spec.desc[i] = o->desc;
        pre[nkeys + i] = x;
        names[nkeys + i] = pre_name(an, &irel, x, "order", i);
    }
    if (proctime) spec.nsort = 0; /* arrival order: nothing to compare (the items go in its place) */
    sc.where_clause = "here";
    int np = nkeys + spec.nsort;
    for (int i = 0; i < iq->select.nitems; i++) {
        if (i == rn_item) continue;
        const rn_ast_select_item_t *it = &iq->select.items[i];
        if (it->expr->kind == RN_AST_STAR) {
            const char *qual = it->expr->star.qualifier;
            int matched = 0;
            for (int c = 0; c < irel.ncols; c++) {
                if (qual && (!irel.cols[c].qualifier || strcmp(qual, irel.cols[c].qualifier))) continue;
                an_rel_use(&irel, c);
                pre[np] = an_mk_column(an, c, irel.cols[c].type);
                names[np++] = irel.cols[c].name;
                matched++;
            }
            if (qual && !matched) {
                an_error(an, it->pos, "unknown table '%s' in '%s.*'", qual, qual);
                return false;
            }
            continue;
        }
        rn_expr_t *x = an_bind(an, &sc, it->expr);
        if (!x) return false;
        if (x->type->id == RN_TYPE_NULL) x = an_coerce(an, x, &rn_type_string);
        pre[np] = x;
        if (it->alias) names[np] = it->alias;
        else if (it->expr->kind == RN_AST_COLUMN) names[np] = it->expr->column.parts[it->expr->column.nparts - 1];
        else {
            char buf[32];
            snprintf(buf, sizeof buf, "EXPR$%d", i);
            names[np] = an_strdup(an, buf);
        }
        np++;
    }
    for (int i = 0; i < np; i++)
        if (!pre[i] || !names[i]) return false;
    int first_item = nkeys + spec.nsort, nout = np - first_item;
    if (!an_rel_calc(an, &irel, NULL, np, pre, names)) return false;

    /* The Rank */
    rn_schema_t *schema = rn_schema_new(np + (want_rownum ? 1 : 0));
    if (!schema) {
        an_oom(an);
        return false;
    }
    for (int c = 0; c < np; c++) rn_schema_set(schema, c, names[c], pre[c]->type);
    if (want_rownum) rn_schema_set(schema, np, alias, &rn_type_bigint);
    rn_op_t *in = an_exchange_for(an, irel.op, nkeys, spec.time_offset ? -1 : spec.time_key);
    rn_op_t *op = in ? an_track(an, rn_rank_new(in, &spec, schema, an->errbuf, an->errbuf_size)) : NULL;
    rn_schema_unref(schema);
    if (!op || !an_connect(an, in, op)) return false;
    if (an->state_ttl_ms > 0 && spec.time_key < 0) rn_rank_set_ttl(op, an->state_ttl_ms);
    /* rows behind the watermark: to SET 'runnel.late-rows.table', by name */
    if (spec.time_key >= 0 && an->late_table && !an->check_only &&
        !an_late_output(an, op, rn_rank_set_late_output, &irel, 0, np))
        return false;

    /* [inner items..., rownum] as the derived table's columns */
    int ncols = nout + (want_rownum ? 1 : 0);
    rn_expr_t **ex = an_alloc(an, sizeof *ex * (size_t)(ncols + 1));
    const char **xnames = an_alloc(an, sizeof *xnames * (size_t)(ncols + 1));
    if (!ex || !xnames) return false;
    for (int c = 0; c < ncols; c++) {
        int src = c < nout ? first_item + c : np;
        ex[c] = an_mk_column(an, src, op->schema->cols[src].type);
        xnames[c] = op->schema->cols[src].name;
        if (!ex[c]) return false;
    }
    if (!an_rel_from_schema(an, rel, op, NULL)) return false;
    rel->updating = op->updating;
    if (!an_rel_calc(an, rel, NULL, ncols, ex, xnames)) return false;
    for (int c = 0; c < rel->ncols; c++) {
        rel->cols[c].qualifier = qualifier;
        /* partitions complete by event time go out insert-only, in time
         * order, never behind the watermark: their rowtime stays one */
        rel->cols[c].rowtime = spec.time_key >= 0 && !op->updating && c < nout && irel.cols[first_item + c].rowtime;
        rel->cols[c].src_col = -1;
    }
    return true;
}
