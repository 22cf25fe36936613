/*
 * select.c - a SELECT block to operators: WHERE, the select list, GROUP BY
 * and aggregates (GroupAggregate, or a window aggregate over a window TVF
 * or a legacy group window `GROUP BY TUMBLE(ts, size)`, with late rows sent
 * to a table), HAVING, DISTINCT, and queries with WITH.
 * The shape it builds is drawn at the top of analyze.c.
 *
 * Part of the analyzer (analyze_int.h).
 */
#include "plan/analyze_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- SELECT ------------------------------------------------------------ */

/* Appends a Calc to rel (predicate and/or projection) and makes rel its
 * output. names/types describe the projection (NULL: pass through). */
bool an_rel_calc(analyzer_t *an, rel_t *rel, rn_expr_t *pred, int n, rn_expr_t **exprs,
                 const char **names)
{
    rn_schema_t *schema = NULL;
    if (exprs) {
        schema = rn_schema_new(n);
        if (!schema) {
            an_oom(an);
            return false;
        }
        for (int i = 0; i < n; i++)
            if (rn_schema_set(schema, i, names[i], exprs[i]->type) != 0) {
                rn_schema_unref(schema);
                an_oom(an);
                return false;
            }
    }
    rn_op_t *op = an_track(an, rn_calc_new(rel->op, pred, n, (const rn_expr_t *const *)exprs, schema));
    rn_schema_unref(schema);
    if (!op || !an_connect(an, rel->op, op)) return false;
    bool updating = rel->updating;
    const rel_col_t *old = rel->cols;
    rel_window_t *window = rel->window;
    int oldn = rel->ncols - (window ? 3 : 0); /* window columns are virtual */
    rn_op_t *source = rel->source;
    if (!an_rel_from_schema(an, rel, op, NULL)) return false;
    rel->source = source;
    if (!exprs) { /* a filter keeps qualifiers and the column lineage */
        for (int i = 0; i < oldn; i++) {
            rel->cols[i].qualifier = old[i].qualifier;
            rel->cols[i].src_col = old[i].src_col;
            rel->cols[i].src_scan = old[i].src_scan;
            rel->cols[i].rowtime = old[i].rowtime;
            rel->cols[i].proctime = old[i].proctime;
            rel->cols[i].window_bound = old[i].window_bound;
        }
        if (window && !an_rel_add_window_cols(an, rel, window)) return false;
    } else {
        for (int i = 0; i < n; i++)
            if (exprs[i]->kind == RN_EXPR_COLUMN) {
                rel->cols[i].src_col = old[exprs[i]->col].src_col;
                rel->cols[i].src_scan = old[exprs[i]->col].src_scan;
                rel->cols[i].rowtime = old[exprs[i]->col].rowtime;
                rel->cols[i].proctime = old[exprs[i]->col].proctime;
                rel->cols[i].window_bound = old[exprs[i]->col].window_bound;
            } else if (exprs[i]->kind == RN_EXPR_FUNC && exprs[i]->fn == RN_FN_PROCTIME) {
                rel->cols[i].proctime = true;
            }
    }
    rel->updating = updating;
    return true;
}

/* True if projecting exprs/names over rel would change nothing: each
 * output column is the input column at the same position, same name. */
bool an_is_identity(const rel_t *rel, int n, rn_expr_t *const *exprs, const char *const *names)
{
    if (n != rel->ncols) return false;
    for (int i = 0; i < n; i++)
        if (exprs[i]->kind != RN_EXPR_COLUMN || exprs[i]->col != i || strcmp(names[i], rel->cols[i].name))
            return false;
    return true;
}

/* Output name of a select item: alias, column name, or EXPR$i. */
static const char *item_name(analyzer_t *an, const rn_ast_select_item_t *it, int i)
{
    if (it->alias) return it->alias;
    if (it->expr->kind == RN_AST_COLUMN) return it->expr->column.parts[it->expr->column.nparts - 1];
    char buf[32];
    snprintf(buf, sizeof buf, "EXPR$%d", i);
    return an_strdup(an, buf);
}

/* Expands the select list (stars) into expressions and names. */
static bool select_list(analyzer_t *an, scope_t *sc, const rn_ast_query_t *q, int *n, rn_expr_t ***exprs,
                        const char ***names)
{
    int cap = 0;
    for (int i = 0; i < q->select.nitems; i++)
        cap += q->select.items[i].expr->kind == RN_AST_STAR ? sc->rel->ncols : 1;
    *exprs = an_alloc(an, sizeof(rn_expr_t *) * (size_t)(cap ? cap : 1));
    *names = an_alloc(an, sizeof(char *) * (size_t)(cap ? cap : 1));
    if (!*exprs || !*names) return false;
    *n = 0;
    for (int i = 0; i < q->select.nitems; i++) {
        const rn_ast_select_item_t *it = &q->select.items[i];
        if (it->expr->kind == RN_AST_STAR) {
            if (sc->agg_mode) {
                an_error(an, it->pos, "'*' cannot be used with GROUP BY or aggregates");
                return false;
            }
            const char *qual = it->expr->star.qualifier;
            int matched = 0;
            for (int c = 0; c < sc->rel->ncols; c++) {
                if (qual && (!sc->rel->cols[c].qualifier || strcmp(qual, sc->rel->cols[c].qualifier))) continue;
                an_rel_use(sc->rel, c);
                (*exprs)[*n] = an_mk_column(an, c, sc->rel->cols[c].type);
                (*names)[(*n)++] = sc->rel->cols[c].name;
                matched++;
            }
            if (qual && !matched) {
                an_error(an, it->pos, "unknown table '%s' in '%s.*'", qual, qual);
                return false;
            }
            continue;
        }
        rn_expr_t *x = an_bind(an, sc, it->expr);
        if (!x) return false;
        if (x->type->id == RN_TYPE_NULL) x = an_coerce(an, x, &rn_type_string);
        (*exprs)[*n] = x;
        (*names)[*n] = item_name(an, it, *n);
        (*n)++;
    }
    return !an->failed;
}

/* Name of aggregate a's output column: the select item's alias (or
 * EXPR$i) when the item is exactly that call, else agg$a. */
static const char *agg_column_name(analyzer_t *an, const rn_ast_query_t *q, const rn_ast_expr_t *call, int a)
{
    for (int i = 0; i < q->select.nitems; i++)
        if (an_ast_equal(q->select.items[i].expr, call)) return item_name(an, &q->select.items[i], i);
    char buf[32];
    snprintf(buf, sizeof buf, "agg$%d", a);
    return an_strdup(an, buf);
}

bool an_late_output(analyzer_t *an, rn_op_t *wop, void (*set)(rn_op_t *, rn_op_t *), const rel_t *from_rel,
                    int first, int nfrom)
{
    table_def_t *t = an_find_table(an->p, an->late_table);
    if (!t) {
        an_error(an, an->late_table_pos, "'runnel.late-rows.table' names '%s', which is not a table", an->late_table);
        return false;
    }
    if (t->sink_mode == RN_SINK_UPSERT) {
        an_error(an, an->late_table_pos, "late rows go to an append table; '%s' is an upsert table", t->name);
        return false;
    }
    /* A pass-through port fed only by the window operator's late rows. */
    rn_op_t *port = an_track(an, rn_calc_new(wop->input, NULL, 0, NULL, NULL));
    if (!port) return false;
    set(wop, port);
    int n = t->schema->ncols;
    rn_expr_t **exprs = an_alloc(an, sizeof *exprs * (size_t)(n + 1));
    const char **names = an_alloc(an, sizeof *names * (size_t)(n + 1));
    int *target = an_alloc(an, sizeof(int) * (size_t)(n + 1));
    if (!exprs || !names || !target) return false;
    int ntarget = 0;
    for (int c = 0; c < n; c++) {
        if (t->origin && t->origin[c] > RN_FROM_KEY) continue;
        const rn_type_t *to = t->schema->cols[c].type;
        rn_expr_t *x = NULL;
        for (int i = 0; i < nfrom && !x; i++)
            if (!strcmp(from_rel->cols[i].name, t->schema->cols[c].name)) {
                if (!an_assignable(from_rel->cols[i].type, to)) {
                    an_error(an, an->late_table_pos, "late rows: column '%s' (%s) cannot be written to '%s' (%s) of '%s'",
                             from_rel->cols[i].name, rn_type_name(from_rel->cols[i].type->id), t->schema->cols[c].name,
                             rn_type_name(to->id), t->name);
                    return false;
                }
                x = an_coerce(an, an_mk_column(an, first + i, from_rel->cols[i].type), to);
                if (!x) return false;
            }
        exprs[ntarget] = x ? x : an_mk_const(an, to, RN_VALUE_NULL);
        names[ntarget] = t->schema->cols[c].name;
        target[ntarget] = c;
        if (!exprs[ntarget++]) return false;
    }
    rel_t lrel = {0};
    if (!an_rel_from_schema(an, &lrel, port, NULL)) return false;
    if (!an_rel_calc(an, &lrel, NULL, ntarget, exprs, names)) return false;
    return an_insert_into(an, t, target, ntarget, &lrel, an->late_table_pos, an->late_table_pos);
}

/* The windowed GROUP BY of a window TVF: pre-projects [other keys, agg
 * arguments, rowtime (, the FROM columns for late rows)], runs a
 * WindowAggregate, then reorders its [window_start, window_end,
 * window_time, keys, aggregates] into [GROUP BY items, aggregates] so the
 * select list binds as for any aggregate. */
static bool window_aggregate(analyzer_t *an, scope_t *sc, const rn_ast_query_t *q, rel_t *rel,
                             const rel_window_t *win, const rel_t *from_rel, rn_expr_t **pre,
                             const char **pre_names, int npre, int nkeys, const rn_agg_spec_t *specs, int ngroup,
                             const int *wcol, const int *key_of, const char **gnames, rn_schema_t **out_schema,
                             rel_t *grel)
{
    /* The relation's real columns (a TVF's window columns are virtual);
     * a given window also pre-projects its window_start. */
    int nfrom = rel->ncols - (rel->window ? 3 : 0);
    bool given = win->kind == RN_WINDOW_GIVEN;
    /* Rows that carry their window were judged late (with the allowed
     * lateness) where the window was assigned: a given window adds no
     * lateness and stays insert-only (window rows are never late here;
     * should another input bring late rows, they are counted and routed
     * like any window's). Unused views run nowhere: no late output. */
    bool late = an->late_table != NULL && !an->check_only;
    int first = npre + 1 + (given ? 1 : 0); /* where the FROM columns for late rows start */
    int total = first + (late ? nfrom : 0);
    rn_expr_t **all = an_alloc(an, sizeof *all * (size_t)total);
    const char **all_names = an_alloc(an, sizeof *all_names * (size_t)total);
    if (!all || !all_names) return false;
    memcpy(all, pre, sizeof *all * (size_t)npre);
    memcpy(all_names, pre_names, sizeof *all_names * (size_t)npre);
    int time_col = npre;
    an_rel_use(rel, win->time_col);
    all[time_col] = an_mk_column(an, win->time_col, rel->cols[win->time_col].type);
    all_names[time_col] = rel->cols[win->time_col].name;
    if (given) {
        an_rel_use(rel, win->start_col);
        all[time_col + 1] = an_mk_column(an, win->start_col, rel->cols[win->start_col].type);
        all_names[time_col + 1] = rel->cols[win->start_col].name;
    }
    for (int i = 0; late && i < nfrom; i++) {
        an_rel_use(rel, i);
        all[first + i] = an_mk_column(an, i, rel->cols[i].type);
        all_names[first + i] = rel->cols[i].name;
    }
    for (int i = 0; i < total; i++)
        if (!all[i]) return false;
    if (!an_rel_calc(an, rel, NULL, total, all, all_names)) return false;

    int naggs = sc->naggs;
    rn_schema_t *wschema = rn_schema_new(3 + nkeys + naggs);
    if (!wschema) {
        an_oom(an);
        return false;
    }
    rn_schema_set(wschema, 0, "window_start", &rn_type_timestamp);
    rn_schema_set(wschema, 1, "window_end", &rn_type_timestamp);
    rn_schema_set(wschema, 2, "window_time", &rn_type_timestamp);
    for (int k = 0; k < nkeys; k++) rn_schema_set(wschema, 3 + k, pre_names[k], pre[k]->type);
    for (int a = 0; a < naggs; a++)
        rn_schema_set(wschema, 3 + nkeys + a, agg_column_name(an, q, sc->agg_calls[a], a),
                      rn_type_scalar(specs[a].result_type));
    rn_window_spec_t w = {.kind = win->kind, .time_col = time_col, .size_ms = win->size_ms,
                          .slide_ms = win->slide_ms, .offset_ms = win->offset_ms,
                          .lateness_ms = given || win->proctime ? 0 : an->allow_lateness_ms,
                          .early_fire_ms = an->early_fire ? an->early_fire_ms : 0,
                          .start_col = given ? time_col + 1 : 0, .proctime = win->proctime};
    /* Rows that cross a repartition topic cross it combined: one row per
     * window pane and key of each batch, merged after it (local-global
     * aggregation, op/window_combine.c; Nexmark q5 10-17% less CPU,
     * docs/scale-out.md). Not with a late-rows table, which wants the
     * late rows' FROM columns. */
    bool combine = an->agg_phase != 'O';
    const rn_agg_spec_t *wspecs = specs;
    rn_op_t *in;
    if (!late && combine && rn_window_combinable(&w, naggs, specs) && an_exchange_needed_for(an, rel->op, nkeys)) {
        const char **pnames = an_alloc(an, sizeof *pnames * (size_t)naggs);
        rn_agg_spec_t *gspecs = an_alloc(an, sizeof *gspecs * (size_t)naggs);
        if (!pnames || !gspecs) {
            rn_schema_unref(wschema);
            return false;
        }
        for (int a = 0; a < naggs; a++) pnames[a] = wschema->cols[3 + nkeys + a].name;
        rn_window_spec_t gw;
        rn_op_t *comb = an_track(an, rn_window_combine_new(rel->op, &w, nkeys, naggs, specs, pnames, &gw, gspecs));
        in = comb && an_connect(an, rel->op, comb) ? an_exchange_for(an, comb, nkeys, gw.time_col) : NULL;
        w = gw;
        wspecs = gspecs;
    } else {
        in = an_exchange_for(an, rel->op, nkeys, time_col);
    }
    rn_op_t *wop = in ? an_track(an, rn_window_aggregate_new(in, &w, nkeys, naggs, wspecs, wschema, an->errbuf,
                                                             an->errbuf_size))
                      : NULL;
    rn_schema_unref(wschema);
    if (!wop || !an_connect(an, in, wop)) return false;
    if (late && !an_late_output(an, wop, rn_window_set_late_output, from_rel, first, nfrom)) return false;

    /* [GROUP BY items..., aggregates...] */
    int nout = ngroup + naggs;
    rn_expr_t **ex = an_alloc(an, sizeof *ex * (size_t)(nout + 1));
    const char **names = an_alloc(an, sizeof *names * (size_t)(nout + 1));
    if (!ex || !names) return false;
    for (int g = 0; g < ngroup; g++) {
        int c = wcol[g] ? wcol[g] - 1 : 3 + key_of[g];
        ex[g] = an_mk_column(an, c, wop->schema->cols[c].type);
        names[g] = gnames[g];
    }
    for (int a = 0; a < naggs; a++) {
        int c = 3 + nkeys + a;
        ex[ngroup + a] = an_mk_column(an, c, wop->schema->cols[c].type);
        names[ngroup + a] = wop->schema->cols[c].name;
    }
    for (int i = 0; i < nout; i++)
        if (!ex[i]) return false;
    if (!an_rel_from_schema(an, grel, wop, NULL)) return false;
    grel->updating = wop->updating;
    if (!an_rel_calc(an, grel, NULL, nout, ex, names)) return false;
    for (int g = 0; g < ngroup; g++) {
        /* a window aggregate can follow an event-time one; a processing-time
         * window's bounds are plain timestamps after it */
        grel->cols[g].rowtime = wcol[g] == 3 && !win->proctime;
        grel->cols[g].proctime = wcol[g] == 3 && win->proctime;
        grel->cols[g].window_bound = win->proctime ? 0 : wcol[g];
    }
    *out_schema = rn_schema_ref(grel->op->schema);
    return true;
}

/* Whether GROUP BY of q, over rel (not a window TVF), names the
 * window_start and window_end of a windowed relation (window rows, a
 * window aggregate's output): then it is a window aggregate over the
 * windows the rows carry (Flink's window aggregation over a windowed
 * relation), set up in *w. False otherwise, or on a resolution error
 * (an->failed set). */
static bool given_window(analyzer_t *an, const rel_t *rel, const rn_ast_query_t *q, rel_window_t *w)
{
    int start = -1, end = -1;
    for (int g = 0; g < q->select.ngroup; g++) {
        const rn_ast_expr_t *e = q->select.group_by[g];
        if (e->kind != RN_AST_COLUMN) continue;
        int c = an_rel_resolve(an, rel, e);
        if (c < 0) return false;
        if (rel->cols[c].window_bound == 1) start = c;
        if (rel->cols[c].window_bound == 2) end = c;
    }
    if (start < 0 || end < 0) return false;
    memset(w, 0, sizeof *w);
    w->kind = RN_WINDOW_GIVEN;
    w->fn = "window";
    w->pos = q->pos;
    w->time_col = end;
    w->start_col = start;
    return true;
}

/* Whether query q aggregates (GROUP BY, DISTINCT or an aggregate call in
 * its select list or HAVING): a window TVF in its FROM is then a window
 * aggregate, otherwise its rows are wanted (window_rows). */
static bool query_aggregates(const rn_ast_query_t *q)
{
    if (q->select.ngroup > 0 || q->select.distinct || (q->select.having && an_contains_agg(q->select.having)))
        return true;
    for (int i = 0; i < q->select.nitems; i++)
        if (q->select.items[i].expr->kind != RN_AST_STAR && an_contains_agg(q->select.items[i].expr)) return true;
    return false;
}

/* A window TVF used without an aggregate: turns rel (the TVF's columns
 * and its virtual window columns) into a WindowRows operator's output, in
 * which window_start, window_end and window_time are real columns (the
 * latter the rowtime attribute; the DESCRIPTOR column is a plain
 * timestamp from here on, as in Flink). Pre-projects [PARTITION BY keys,
 * every TVF column] (the operator's key comes first; an Exchange is put
 * before a SESSION when the input is not partitioned by its keys), runs
 * WindowRows (late rows to the late-rows table, as for window
 * aggregates), and projects the keys away again. */
static bool window_rows(analyzer_t *an, rel_t *rel)
{
    rel_window_t *win = rel->window;
    int nfrom = rel->ncols - 3, nkeys = win->npartition;
    if (win->proctime) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, win->pos, "%s over processing time is only supported with a GROUP BY window_start, "
                 "window_end (a window aggregate)", win->fn);
        return false;
    }
    const rel_t from_rel = *rel;
    bool late = an->late_table != NULL && !an->check_only;
    for (int i = 0; i < nfrom; i++) an_rel_use(rel, i);
    if (nkeys > 0) {
        int n = nkeys + nfrom;
        rn_expr_t **ex = an_alloc(an, sizeof *ex * (size_t)n);
        const char **names = an_alloc(an, sizeof *names * (size_t)n);
        if (!ex || !names) return false;
        for (int i = 0; i < n; i++) {
            int c = i < nkeys ? win->partition[i] : i - nkeys;
            if (!(ex[i] = an_mk_column(an, c, rel->cols[c].type))) return false;
            names[i] = rel->cols[c].name;
        }
        if (!an_rel_calc(an, rel, NULL, n, ex, names)) return false;
    }
    int time_col = nkeys + win->time_col;
    rn_op_t *in = rel->op;
    int nin = in->schema->ncols;
    rn_schema_t *schema = rn_schema_new(nin + 3);
    if (!schema) {
        an_oom(an);
        return false;
    }
    for (int c = 0; c < nin; c++) rn_schema_set(schema, c, in->schema->cols[c].name, in->schema->cols[c].type);
    rn_schema_set(schema, nin, "window_start", &rn_type_timestamp);
    rn_schema_set(schema, nin + 1, "window_end", &rn_type_timestamp);
    rn_schema_set(schema, nin + 2, "window_time", &rn_type_timestamp);
    rn_window_spec_t w = {.kind = win->kind, .time_col = time_col, .size_ms = win->size_ms, .slide_ms = win->slide_ms,
                          .offset_ms = win->offset_ms, .lateness_ms = an->allow_lateness_ms};
    if (win->kind == RN_WINDOW_SESSION) in = an_exchange_for(an, in, nkeys, time_col);
    rn_op_t *wop = in ? an_track(an, rn_window_rows_new(in, &w, nkeys, schema, an->errbuf, an->errbuf_size)) : NULL;
    rn_schema_unref(schema);
    if (!wop || !an_connect(an, in, wop)) return false;
    if (late && !an_late_output(an, wop, rn_window_set_late_output, &from_rel, nkeys, nfrom)) return false;
    rn_op_t *source = rel->source;
    if (!an_rel_from_schema(an, rel, wop, NULL)) return false;
    rel->source = source;
    if (nkeys > 0) {
        int n = nfrom + 3;
        rn_expr_t **ex = an_alloc(an, sizeof *ex * (size_t)n);
        const char **names = an_alloc(an, sizeof *names * (size_t)n);
        if (!ex || !names) return false;
        for (int i = 0; i < n; i++) {
            int c = nkeys + i;
            if (!(ex[i] = an_mk_column(an, c, wop->schema->cols[c].type))) return false;
            names[i] = wop->schema->cols[c].name;
        }
        if (!an_rel_calc(an, rel, NULL, n, ex, names)) return false;
    }
    for (int i = 0; i < rel->ncols; i++) {
        rel->cols[i].qualifier = from_rel.cols[i].qualifier;
        rel->cols[i].src_col = -1;
        rel->cols[i].rowtime = i == nfrom + 2; /* window_time */
        rel->cols[i].window_col = 0;
        rel->cols[i].window_bound = i >= nfrom ? i - nfrom + 1 : 0;
    }
    rel->window = NULL;
    rel->updating = false;
    return true;
}

/* Binds the ordering (second) argument of MAX_BY/MIN_BY call (aggregate
 * number a) over rel into *x and its pre-projection name, and records
 * its column (the next pre-projected one) and type in s. */
static bool agg_ordering(analyzer_t *an, rel_t *rel, const rn_ast_expr_t *call, int a, rn_agg_spec_t *s,
                         rn_expr_t **x, const char **name)
{
    scope_t argsc = {.rel = rel, .where_clause = "inside another aggregate"};
    rn_expr_t *y = an_bind(an, &argsc, call->call.args[1]);
    if (!y) return false;
    if (y->type->id == RN_TYPE_NULL) y = an_coerce(an, y, &rn_type_int);
    if (!y) return false;
    if (y->type->id == RN_TYPE_ROW) {
        an_error(an, call->call.args[1]->pos, "%s cannot order by a ROW", call->call.name);
        return false;
    }
    s->by = s->arg + 1;
    s->by_type = y->type->id;
    *x = y;
    if (y->kind == RN_EXPR_COLUMN) {
        *name = rel->cols[y->col].name;
    } else {
        char buf[32];
        snprintf(buf, sizeof buf, "agg$%d$by", a);
        *name = an_strdup(an, buf);
    }
    return *name != NULL;
}

bool an_compile_from_where(analyzer_t *an, const rn_ast_from_t *f, const rn_ast_expr_t *where, where_split_t *ws,
                           rel_t *rel)
{
    ws->n = 0;
    memset(ws->pushed, 0, sizeof ws->pushed);
    /* over a join, WHERE conditions may go into the join (or before it) */
    if (where && f->kind == RN_AST_FROM_JOIN && an_split_and(where, ws->conj, &ws->n, RN_MAX_WHERE_CONJ)) {
        an->where_conj = ws->conj;
        an->nwhere_conj = ws->n;
        an->where_pushed = ws->pushed;
    } else {
        ws->n = 0;
    }
    bool ok = an_compile_from(an, f, rel);
    an->where_conj = NULL;
    an->nwhere_conj = 0;
    an->where_pushed = NULL;
    return ok;
}

bool an_where_filter(analyzer_t *an, rel_t *rel, const rn_ast_expr_t *where, const where_split_t *ws)
{
    scope_t sc = {.rel = rel, .where_clause = "in WHERE"};
    rn_expr_t *pred = NULL;
    if (!ws->n) {
        pred = an_bind_boolean(an, &sc, where, "the WHERE condition");
        if (!pred) return false;
    }
    for (int i = 0; i < ws->n; i++) {
        if (ws->pushed[i]) continue;
        rn_expr_t *x = an_bind_boolean(an, &sc, ws->conj[i], "the WHERE condition");
        if (!x || !an_and_into(an, &pred, x)) return false;
    }
    return !pred || an_rel_calc(an, rel, pred, 0, NULL, NULL);
}

/* The window kind a legacy group window function names (TUMBLE, HOP,
 * SESSION), or -1. */
static int group_window_kind(const rn_ast_expr_t *e)
{
    if (e->kind != RN_AST_CALL || e->call.over) return -1;
    if (!strcasecmp(e->call.name, "TUMBLE")) return RN_WINDOW_TUMBLE;
    if (!strcasecmp(e->call.name, "HOP")) return RN_WINDOW_HOP;
    if (!strcasecmp(e->call.name, "SESSION")) return RN_WINDOW_SESSION;
    return -1;
}

/* A column reference to name, made up for a rewritten GROUP BY. */
static rn_ast_expr_t *made_column(analyzer_t *an, const char *name, rn_pos_t pos)
{
    rn_ast_expr_t *e = an_alloc(an, sizeof *e);
    char **parts = an_alloc(an, sizeof *parts);
    if (!e || !parts) return NULL;
    memset(e, 0, sizeof *e);
    e->kind = RN_AST_COLUMN;
    e->pos = pos;
    parts[0] = (char *)name;
    e->column.nparts = 1;
    e->column.parts = parts;
    return e;
}

/* Flink's legacy group window functions: GROUP BY k, ..., TUMBLE(ts,
 * size) | HOP(ts, slide, size) | SESSION(ts, gap), ts an event-time
 * attribute of rel, with TUMBLE_START(ts, size) etc. in the select list
 * (bind.c). Mapped onto the window aggregate of a window TVF: the window
 * (a SESSION partitioned by the other keys, which must then be columns)
 * becomes rel's window, and the call in GROUP BY its virtual window
 * columns ($window_start, $window_end, $window_time: names no query can
 * clash with). *group and *ngroup get the rewritten GROUP BY, sc the call
 * and its keys; without such a call nothing changes. False on error
 * (reported). */
static bool legacy_group_window(analyzer_t *an, rel_t *rel, const rn_ast_query_t *q, scope_t *sc,
                                const rn_ast_expr_t ***group, int *ngroup)
{
    const rn_ast_expr_t *call = NULL;
    for (int g = 0; g < q->select.ngroup; g++) {
        if (group_window_kind(q->select.group_by[g]) < 0) continue;
        if (call) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, q->select.group_by[g]->pos, "GROUP BY takes one group window function (TUMBLE, HOP or "
                     "SESSION), not two");
            return false;
        }
        call = q->select.group_by[g];
    }
    if (!call) return true;
    const char *fn = call->call.name;
    rn_window_kind kind = (rn_window_kind)group_window_kind(call);
    if (rel->window) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, call->pos, "GROUP BY %s(...) over a window table function: group by its window_start and "
                 "window_end instead", fn);
        return false;
    }
    if (rel->updating) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, call->pos, "GROUP BY %s(...) needs an insert-only input; this one carries updates", fn);
        return false;
    }
    int nargs = kind == RN_WINDOW_HOP ? 3 : 2;
    if (call->call.nargs != nargs || call->call.star || call->call.distinct) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, call->pos, "GROUP BY %s takes %s", fn,
                 kind == RN_WINDOW_TUMBLE ? "(time_attr, size)"
                 : kind == RN_WINDOW_HOP  ? "(time_attr, slide, size)"
                                          : "(time_attr, gap)");
        return false;
    }
    const rn_ast_expr_t *ts = call->call.args[0];
    if (ts->kind != RN_AST_COLUMN) {
        an_error(an, ts->pos, "the first argument of GROUP BY %s must be an event-time column", fn);
        return false;
    }
    int c = an_rel_resolve(an, rel, ts);
    if (c < 0) return false;
    if (!rel->cols[c].rowtime) {
        an_error(an, ts->pos, "column '%s' is not an event-time attribute; declare WATERMARK FOR %s AS ... in its "
                 "table", rel->cols[c].name, rel->cols[c].name);
        return false;
    }
    rel_window_t *w = an_alloc(an, sizeof *w);
    if (!w) return false;
    memset(w, 0, sizeof *w);
    w->kind = kind;
    w->fn = kind == RN_WINDOW_TUMBLE ? "TUMBLE" : kind == RN_WINDOW_HOP ? "HOP" : "SESSION";
    w->pos = call->pos;
    w->time_col = c;
    bool ok = kind == RN_WINDOW_HOP ? an_tvf_interval(an, call, 1, false, "slide", &w->slide_ms) &&
                                          an_tvf_interval(an, call, 2, false, "size", &w->size_ms)
                                    : an_tvf_interval(an, call, 1, false, kind == RN_WINDOW_SESSION ? "gap" : "size",
                                                      &w->size_ms);
    if (!ok) return false;
    if (kind == RN_WINDOW_HOP && w->size_ms % w->slide_ms) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, call->call.args[2]->pos, "the size of HOP must be a multiple of its slide");
        return false;
    }
    int n = q->select.ngroup - 1 + 3;
    const rn_ast_expr_t **keys = an_alloc(an, sizeof *keys * (size_t)n);
    if (!keys) return false;
    int k = 0;
    for (int g = 0; g < q->select.ngroup; g++) {
        const rn_ast_expr_t *e = q->select.group_by[g];
        if (e == call) continue;
        if (kind == RN_WINDOW_SESSION) {
            if (e->kind != RN_AST_COLUMN) {
                an->err = RN_ERR_UNSUPPORTED;
                an_error(an, e->pos, "GROUP BY with SESSION(...) takes column names besides the window");
                return false;
            }
            int kc = an_rel_resolve(an, rel, e);
            if (kc < 0) return false;
            w->partition[w->npartition++] = kc;
        }
        keys[k++] = e;
    }
    an_rel_use(rel, c);
    if (!an_rel_add_window_cols(an, rel, w)) return false;
    static const char *names[] = {"$window_start", "$window_end", "$window_time"};
    for (int i = 0; i < 3; i++) {
        rel->cols[rel->ncols - 3 + i].name = names[i];
        sc->group_window_key[i] = k;
        if (!(keys[k++] = made_column(an, names[i], call->pos))) return false;
    }
    sc->group_window = call;
    *group = keys;
    *ngroup = n;
    return true;
}

static bool compile_select(analyzer_t *an, const rn_ast_query_t *q, rel_t *rel)
{
    if (!q->select.from) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, q->pos, "SELECT without FROM is not supported in a pipeline");
        return false;
    }
    const rn_ast_expr_t *where = q->select.where;
    where_split_t ws;
    if (an_is_rank_query(an, q)) {
        ws.n = 0;
        if (!an_compile_rank(an, q, rel, &where)) return false; /* rank.c */
    } else if (!an_compile_from_where(an, q->select.from, where, &ws, rel)) {
        return false;
    }
    /* a window TVF without an aggregate yields its rows (window_rows) */
    if (rel->window && !query_aggregates(q) && !window_rows(an, rel)) return false;
    scope_t sc = {.rel = rel};
    if (where && !an_where_filter(an, rel, where, &ws)) return false;
    /* GROUP BY ..., TUMBLE(ts, size): the window of a window TVF */
    const rn_ast_expr_t **group = (const rn_ast_expr_t **)q->select.group_by;
    int ngroup = q->select.ngroup;
    if (!legacy_group_window(an, rel, q, &sc, &group, &ngroup)) return false;

    /* Is this an aggregate query? */
    agg_collect_t col = {.an = an, .sc = &sc};
    for (int i = 0; i < q->select.nitems; i++)
        if (q->select.items[i].expr->kind != RN_AST_STAR) an_collect_aggs(&col, q->select.items[i].expr);
    if (q->select.having) an_collect_aggs(&col, q->select.having);
    if (an->failed) return false;
    bool distinct = q->select.distinct;
    bool agg = sc.naggs > 0 || q->select.ngroup > 0 || distinct;
    rel_window_t *win = rel->window, given;
    if (!win && !distinct && !rel->updating && given_window(an, rel, q, &given)) win = &given;
    if (an->failed) return false;
    if (win && distinct) { /* without an aggregate, window_rows took the window */
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, win->pos, "SELECT DISTINCT over %s is not supported: GROUP BY window_start, window_end, ... "
                 "instead (see docs/event-time.md)", win->fn);
        return false;
    }

    if (!agg) {
        int n;
        rn_expr_t **exprs;
        const char **names;
        if (!select_list(an, &sc, q, &n, &exprs, &names)) return false;
        /* Skip an identity projection. */
        if (an_is_identity(rel, n, exprs, names) && !an_rel_is_source(rel)) return true;
        return an_rel_calc(an, rel, NULL, n, exprs, names);
    }

    /* GROUP BY: keys (or, for DISTINCT, the select items) */
    if (distinct) {
        if (ngroup || sc.naggs) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, q->pos, "SELECT DISTINCT with GROUP BY or aggregates is not supported; use GROUP BY");
            return false;
        }
        ngroup = q->select.nitems;
        group = an_alloc(an, sizeof *group * (size_t)(ngroup ? ngroup : 1));
        if (!group) return false;
        for (int i = 0; i < ngroup; i++) {
            if (q->select.items[i].expr->kind == RN_AST_STAR) {
                an->err = RN_ERR_UNSUPPORTED;
                an_error(an, q->select.items[i].pos, "SELECT DISTINCT * is not supported; list the columns");
                return false;
            }
            group[i] = q->select.items[i].expr;
        }
    }
    if (ngroup > RN_MAX_GROUP) {
        an_error(an, q->pos, "too many GROUP BY expressions (at most %d)", RN_MAX_GROUP);
        return false;
    }
    /* pre-projection: keys then aggregate arguments */
    int npre = ngroup + 2 * sc.naggs; /* MAX_BY/MIN_BY take two columns */
    rn_expr_t **pre = an_alloc(an, sizeof *pre * (size_t)(npre ? npre : 1));
    const char **pre_names = an_alloc(an, sizeof *pre_names * (size_t)(npre ? npre : 1));
    rn_agg_spec_t specs[RN_MAX_AGGS];
    if (!pre || !pre_names) return false;
    int npre_used = 0;
    int wcol[RN_MAX_GROUP];     /* per GROUP BY item: its window column (1..3), or 0 */
    int key_of[RN_MAX_GROUP];   /* per GROUP BY item: its index among the other keys */
    const char *gnames[RN_MAX_GROUP];
    for (int g = 0; g < ngroup; g++) {
        if (an_contains_agg(group[g])) {
            an_error(an, group[g]->pos, "aggregate functions are not allowed in GROUP BY");
            return false;
        }
        wcol[g] = 0;
        key_of[g] = npre_used;
        if (win && group[g]->kind == RN_AST_COLUMN) {
            int c = an_rel_resolve(an, rel, group[g]);
            if (c < 0) return false;
            int wc = win->kind == RN_WINDOW_GIVEN ? rel->cols[c].window_bound : rel->cols[c].window_col;
            if (wc) {
                wcol[g] = wc;
                gnames[g] = rel->cols[c].name;
                sc.group_asts[g] = group[g];
                sc.group_cols[g] = c;
                continue;
            }
            if (win->kind == RN_WINDOW_SESSION) {
                bool in_partition = false;
                for (int k = 0; k < win->npartition; k++) in_partition |= win->partition[k] == c;
                if (!in_partition) {
                    an->err = RN_ERR_UNSUPPORTED;
                    an_error(an, group[g]->pos, "GROUP BY of a SESSION window takes window_start, window_end and "
                             "exactly its PARTITION BY columns; '%s' is not one of them", rel->cols[c].name);
                    return false;
                }
            }
        } else if (win && win->kind == RN_WINDOW_SESSION) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, group[g]->pos, "GROUP BY of a SESSION window takes window_start, window_end and "
                     "exactly its PARTITION BY columns");
            return false;
        }
        if (group[g]->kind == RN_AST_LITERAL && group[g]->lit.kind == RN_LIT_INT && !distinct) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, group[g]->pos, "GROUP BY by position is not supported; name the column");
            return false;
        }
        rn_expr_t *x = an_bind(an, &sc, group[g]);
        if (!x) return false;
        if (x->type->id == RN_TYPE_NULL) x = an_coerce(an, x, &rn_type_string);
        sc.group_asts[g] = group[g];
        sc.group_cols[g] = group[g]->kind == RN_AST_COLUMN ? an_rel_resolve(an, rel, group[g]) : -1;
        pre[npre_used] = x;
        if (group[g]->kind == RN_AST_COLUMN) pre_names[npre_used] = rel->cols[sc.group_cols[g]].name;
        else if (distinct) pre_names[npre_used] = item_name(an, &q->select.items[g], g);
        else {
            char buf[32];
            snprintf(buf, sizeof buf, "EXPR$%d", g);
            pre_names[npre_used] = an_strdup(an, buf);
        }
        gnames[g] = pre_names[npre_used];
        npre_used++;
    }
    int nkeys = npre_used;
    if (win) {
        bool has_start = false, has_end = false;
        for (int g = 0; g < ngroup; g++) has_start |= wcol[g] == 1, has_end |= wcol[g] == 2;
        if (!has_start || !has_end) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, q->pos, "a %s aggregate must GROUP BY window_start and window_end", win->fn);
            return false;
        }
        if (win->kind == RN_WINDOW_SESSION && nkeys != win->npartition) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, q->pos, "GROUP BY of a SESSION window takes window_start, window_end and exactly its "
                     "PARTITION BY columns (%d of them)", win->npartition);
            return false;
        }
    }
    sc.ngroup = ngroup;
    for (int a = 0; a < sc.naggs; a++) {
        const rn_ast_expr_t *call = sc.agg_calls[a];
        bool is_agg;
        rn_agg_kind kind = an_agg_kind_of(call->call.name, &is_agg);
        rn_agg_spec_t *s = &specs[a];
        memset(s, 0, sizeof *s);
        if (strcasecmp(call->call.name, "COUNT") && strcasecmp(call->call.name, "SUM") &&
            strcasecmp(call->call.name, "MIN") && strcasecmp(call->call.name, "MAX") &&
            strcasecmp(call->call.name, "AVG") && strcasecmp(call->call.name, "FIRST_VALUE") &&
            strcasecmp(call->call.name, "LAST_VALUE") && strcasecmp(call->call.name, "MAX_BY") &&
            strcasecmp(call->call.name, "MIN_BY")) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, call->pos, "aggregate function %s is not supported yet", call->call.name);
            return false;
        }
        if (call->call.star) {
            if (kind != RN_AGG_COUNT) {
                an_error(an, call->pos, "only COUNT accepts '*'");
                return false;
            }
            s->kind = RN_AGG_COUNT_STAR;
            s->arg = -1;
            s->result_type = RN_TYPE_BIGINT;
            continue;
        }
        bool by = kind == RN_AGG_MAX_BY || kind == RN_AGG_MIN_BY;
        if (call->call.nargs != (by ? 2 : 1)) {
            an_error(an, call->pos, by ? "%s takes exactly two arguments: the value and the ordering"
                                       : "%s takes exactly one argument", call->call.name);
            return false;
        }
        if (by && rel->updating) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, call->pos, "%s over an updating input is not supported (it cannot retract a row); "
                     "use a Top-1 (ROW_NUMBER) instead", call->call.name);
            return false;
        }
        if (call->call.distinct && kind != RN_AGG_COUNT) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, call->pos, "DISTINCT is supported in COUNT only");
            return false;
        }
        scope_t argsc = {.rel = rel, .where_clause = "inside another aggregate"};
        rn_expr_t *x = an_bind(an, &argsc, call->call.args[0]);
        if (!x) return false;
        rn_type_id t = x->type->id;
        if (t == RN_TYPE_NULL) {
            x = an_coerce(an, x, kind == RN_AGG_COUNT ? &rn_type_string : &rn_type_int);
            t = x->type->id;
        }
        if ((kind == RN_AGG_SUM || kind == RN_AGG_AVG) && !rn_type_is_numeric(t)) {
            an_error(an, call->call.args[0]->pos, "%s needs a numeric argument, not %s", call->call.name,
                     rn_type_name(t));
            return false;
        }
        if (t == RN_TYPE_ROW) {
            an_error(an, call->call.args[0]->pos, "%s of a ROW is not supported", call->call.name);
            return false;
        }
        s->kind = call->call.distinct ? RN_AGG_COUNT_DISTINCT : kind;
        s->arg = npre_used;
        s->arg_type = t;
        switch (kind) {
        case RN_AGG_COUNT: s->result_type = RN_TYPE_BIGINT; break;
        case RN_AGG_SUM: s->result_type = t == RN_TYPE_DOUBLE ? RN_TYPE_DOUBLE : RN_TYPE_BIGINT; break;
        case RN_AGG_AVG: s->result_type = t; break; /* Flink: an integer average is an integer */
        default: s->result_type = t; break;
        }
        pre[npre_used] = x;
        pre_names[npre_used++] = x->kind == RN_EXPR_COLUMN ? rel->cols[x->col].name : agg_column_name(an, q, call, a);
        if (by && !agg_ordering(an, rel, call, a, s, &pre[npre_used], &pre_names[npre_used])) return false;
        if (by) npre_used++;
    }
    /* Names and GROUP BY expressions keep resolving against the FROM
     * relation; what they resolve to are the aggregate's output columns. */
    rel_t from_rel = *rel;
    if (an->failed) return false;
    rn_schema_t *aschema = NULL;
    rel_t grel;
    if (win) {
        if (!window_aggregate(an, &sc, q, rel, win, &from_rel, pre, pre_names, npre_used, nkeys, specs, ngroup,
                              wcol, key_of, gnames, &aschema, &grel))
            return false;
    } else {
        if (!an_rel_calc(an, rel, NULL, npre_used, pre, pre_names)) return false;
        /* the aggregate */
        aschema = rn_schema_new(ngroup + sc.naggs);
        if (!aschema) {
            an_oom(an);
            return false;
        }
        for (int g = 0; g < ngroup; g++) rn_schema_set(aschema, g, pre_names[g], pre[g]->type);
        for (int a = 0; a < sc.naggs; a++)
            rn_schema_set(aschema, ngroup + a, agg_column_name(an, q, sc.agg_calls[a], a),
                          rn_type_scalar(specs[a].result_type));
        /* Rows that cross a repartition topic cross it combined (as for
         * windows above): per batch one row of partials per group and the
         * distinct values not sent before (op/group_combine.c). Only over
         * an insert-only input, where the aggregate's state only grows. */
        const rn_agg_spec_t *aspecs = specs;
        rn_op_t *in;
        if (an->agg_phase != 'O' && !rel->op->updating && rn_group_combinable(sc.naggs, specs) &&
            an_exchange_needed_for(an, rel->op, ngroup)) {
            const char **pnames = an_alloc(an, sizeof *pnames * (size_t)sc.naggs);
            rn_agg_spec_t *gspecs = an_alloc(an, sizeof *gspecs * (size_t)sc.naggs);
            if (!pnames || !gspecs) {
                rn_schema_unref(aschema);
                return false;
            }
            for (int a = 0; a < sc.naggs; a++) pnames[a] = aschema->cols[ngroup + a].name;
            rn_op_t *comb = an_track(an, rn_group_combine_new(rel->op, ngroup, sc.naggs, specs, pnames,
                                                              an->state_ttl_ms <= 0, gspecs));
            in = comb && an_connect(an, rel->op, comb) ? an_exchange_for(an, comb, ngroup, -1) : NULL;
            aspecs = gspecs;
        } else {
            in = an_exchange_for(an, rel->op, ngroup, -1);
        }
        rn_op_t *aop = in ? an_track(an, rn_aggregate_new(in, ngroup, sc.naggs, aspecs, aschema, an->errbuf,
                                                          an->errbuf_size))
                          : NULL;
        if (aop && an->state_ttl_ms > 0) rn_aggregate_set_ttl(aop, an->state_ttl_ms);
        if (!aop || !an_connect(an, in, aop) || !an_rel_from_schema(an, &grel, aop, NULL)) {
            rn_schema_unref(aschema);
            return false;
        }
        grel.updating = true;
    }
    sc.out_schema = aschema;

    /* HAVING and the select list, over the aggregate's output */
    sc.agg_mode = true;
    sc.where_clause = NULL;
    sc.rel = &from_rel;
    rn_expr_t *having = NULL;
    if (q->select.having) {
        having = an_bind_boolean(an, &sc, q->select.having, "the HAVING condition");
        if (!having) {
            rn_schema_unref(aschema);
            return false;
        }
    }
    int n;
    rn_expr_t **exprs;
    const char **names;
    bool ok = select_list(an, &sc, q, &n, &exprs, &names);
    rn_schema_unref(aschema);
    if (!ok) return false;
    *rel = grel;
    if (having && !an_rel_calc(an, rel, having, 0, NULL, NULL)) return false;
    return an_is_identity(rel, n, exprs, names) || an_rel_calc(an, rel, NULL, n, exprs, names);
}

bool an_compile_query(analyzer_t *an, const rn_ast_query_t *q, rel_t *out)
{
    int saved = an->nctes;
    for (int i = 0; i < q->nctes; i++) {
        if (an->nctes == RN_MAX_CTES) {
            an_error(an, q->ctes[i].pos, "too many WITH queries");
            return false;
        }
        view_def_t *v = &an->ctes[an->nctes++];
        memset(v, 0, sizeof *v);
        v->name = q->ctes[i].name;
        v->pos = q->ctes[i].pos;
        v->query = q->ctes[i].query;
    }
    bool ok = false;
    if (q->norder || q->limit) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, q->norder ? q->order_by[0].expr->pos : q->limit->pos,
                 "ORDER BY and LIMIT are not supported on unbounded streams");
    } else if (q->kind == RN_QUERY_UNION) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, q->pos, "UNION is not supported yet");
    } else {
        ok = compile_select(an, q, out);
    }
    an->nctes = saved;
    return ok;
}
