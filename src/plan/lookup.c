/*
 * lookup.c - lookup joins in FROM: `l [INNER|LEFT] JOIN t FOR SYSTEM_TIME
 * AS OF l.proc_time [AS] r ON r.k = <expr over l> [AND ...]`, compiled to
 * a LookupJoin (op/lookup_join.h), as Flink's planner does.
 *
 * The right side must be a table whose connector can be looked up
 * (rn_connector_t.lookup_conf), the AS OF expression a processing-time
 * attribute of the left side (a column computed AS PROCTIME(), or
 * PROCTIME() itself): Flink runs lookup joins in processing time only.
 * Each conjunct `r.col = e` with e over the left side only gives a key
 * column (e cast to r.col's type); everything else in ON, conditions
 * over the table's columns only included, is the residual, applied to
 * each looked-up row (so in a LEFT JOIN a left row whose rows all fail it
 * is NULL-padded, as in Flink). The table is not scanned: the runtime
 * opens an rn_lookup_t for it (connector open_lookup, or in `runnel test`
 * the file <test name>.jsonl) and hands it to the operator. No Exchange:
 * the join is stateless per row and keeps the left side's partitioning.
 * WHERE conjuncts over the left side only become a filter before the
 * join. The output keeps the left side's columns as they were (an event-time
 * attribute stays one) followed by the table's columns.
 *
 * Part of the analyzer (analyze_int.h).
 */
#include "plan/analyze_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/timeparse.h"
#include "op/lookup_join.h"

#define MAX_CONJUNCTS 64

/* Whether any column of e is at or past nleft (the table's). */
static bool reads_right(const rn_expr_t *e, int nleft)
{
    if (e->kind == RN_EXPR_COLUMN) return e->col >= nleft;
    if (e->kind == RN_EXPR_FUNC)
        for (int i = 0; i < e->nargs; i++)
            if (reads_right(e->args[i], nleft)) return true;
    return false;
}

/* Whether the bound x (over rel) is a processing-time attribute:
 * PROCTIME() or a column of a table computed AS PROCTIME(). */
static bool is_proctime(analyzer_t *an, const rel_t *rel, const rn_expr_t *x)
{
    if (x->kind == RN_EXPR_FUNC && x->fn == RN_FN_PROCTIME) return true;
    if (x->kind != RN_EXPR_COLUMN) return false;
    const rel_col_t *c = &rel->cols[x->col];
    const rn_op_t *scan = c->src_scan ? c->src_scan : rel->source;
    if (!scan || c->src_col < 0) return false;
    for (int i = 0; i < an->p->ntables; i++) {
        const table_def_t *t = &an->p->tables[i];
        if (t->source != scan || !t->computed) continue;
        const rn_expr_t *e = t->computed[c->src_col];
        return e && e->kind == RN_EXPR_FUNC && e->fn == RN_FN_PROCTIME;
    }
    return false;
}

/* A duration option of the cache ("" or absent: 0). */
static bool cache_duration(analyzer_t *an, const table_def_t *t, const char *key, const char *v, int64_t *ms)
{
    *ms = 0;
    if (!v || !*v) return true;
    if (!rn_duration_parse(v, ms) || *ms < 0) {
        an->err = RN_ERR_CONFIG;
        an_error(an, t->pos, "table '%s': option '%s' must be a duration such as '10 min', not '%s'", t->name,
                 key, v);
        return false;
    }
    return true;
}

/* The operator's cache settings from the table's 'lookup.*' options. */
static bool cache_spec(analyzer_t *an, const table_def_t *t, const rn_lookup_conf_t *lc,
                       rn_lookup_cache_spec_t *s)
{
    memset(s, 0, sizeof *s);
    const char *kind = lc->cache ? lc->cache : "NONE";
    s->kind = !strcasecmp(kind, "PARTIAL") ? RN_LOOKUP_CACHE_PARTIAL
              : !strcasecmp(kind, "FULL")  ? RN_LOOKUP_CACHE_FULL
                                           : RN_LOOKUP_CACHE_NONE;
    s->max_rows = lc->max_rows;
    s->cache_missing_key = lc->cache_missing_key;
    s->max_retries = lc->max_retries;
    if (lc->max_rows < 0) {
        an->err = RN_ERR_CONFIG;
        an_error(an, t->pos, "table '%s': option 'lookup.partial-cache.max-rows' must be 0 or more", t->name);
        return false;
    }
    if (lc->max_retries < -1) {
        an->err = RN_ERR_CONFIG;
        an_error(an, t->pos, "table '%s': option 'lookup.max-retries' must be -1 (no limit) or more",
                 t->name);
        return false;
    }
    if (!cache_duration(an, t, "lookup.partial-cache.expire-after-write", lc->expire_after_write,
                        &s->expire_after_write_ms) ||
        !cache_duration(an, t, "lookup.partial-cache.expire-after-access", lc->expire_after_access,
                        &s->expire_after_access_ms) ||
        !cache_duration(an, t, "lookup.full-cache.periodic-reload.interval", lc->reload_interval,
                        &s->reload_ms))
        return false;
    if (s->kind == RN_LOOKUP_CACHE_FULL && s->reload_ms <= 0) {
        an->err = RN_ERR_CONFIG;
        an_error(an, t->pos,
                 "table '%s': option 'lookup.full-cache.periodic-reload.interval' must be positive", t->name);
        return false;
    }
    return true;
}

/* Records the lookup join op on table t for the runtime. */
static bool note_lookup(analyzer_t *an, rn_op_t *op, table_def_t *t)
{
    if (an->check_only) return true;
    lookup_def_t *l = rn_realloc(an->p->lookups, sizeof *l * (size_t)(an->p->nlookups + 1));
    if (!l) {
        an_oom(an);
        return false;
    }
    an->p->lookups = l;
    l[an->p->nlookups++] = (lookup_def_t){.op = op, .table = t};
    return true;
}

bool an_is_lookup_join(const rn_ast_from_t *f)
{
    return f->kind == RN_AST_FROM_JOIN && f->join.right->kind == RN_AST_FROM_TABLE &&
           f->join.right->table.system_time;
}

bool an_compile_lookup_join(analyzer_t *an, const rn_ast_from_t *f, rel_t *out)
{
    const rn_ast_from_t *rf = f->join.right;
    rn_ast_join_type jt = f->join.type;
    if (jt != RN_JOIN_INNER && jt != RN_JOIN_LEFT) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, f->pos, "a lookup join (FOR SYSTEM_TIME AS OF) must be JOIN or LEFT JOIN, not %s",
                 jt == RN_JOIN_RIGHT  ? "RIGHT JOIN"
                 : jt == RN_JOIN_FULL ? "FULL JOIN"
                                      : "a join without ON");
        return false;
    }
    if (!f->join.on) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, f->pos, "a lookup join needs ON with an equality on a column of the looked-up table");
        return false;
    }
    table_def_t *t = an_find_table(an->p, rf->table.name);
    if (!t) {
        if (an_find_view(an, rf->table.name))
            an_error(an, rf->pos, "'%s' is a view: FOR SYSTEM_TIME AS OF looks up a table", rf->table.name);
        else
            an_error(an, rf->pos, "unknown table '%s'", rf->table.name);
        return false;
    }
    if (!t->conn->lookup_conf) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, rf->pos,
                 "table '%s' uses connector '%s', which cannot be looked up; a lookup join (FOR SYSTEM_TIME "
                 "AS OF) needs a table of a connector such as 'jdbc'",
                 t->name, t->conn->name);
        return false;
    }

    /* the left side: the WHERE conjuncts stay with the SELECT */
    const rn_ast_expr_t **where = an->where_conj;
    bool *where_pushed = an->where_pushed;
    int nwhere = an->nwhere_conj;
    an->where_conj = NULL;
    an->where_pushed = NULL;
    an->nwhere_conj = 0;
    rel_t L;
    bool ok = an_compile_from(an, f->join.left, &L);
    an->where_conj = where;
    an->where_pushed = where_pushed;
    an->nwhere_conj = nwhere;
    if (!ok) return false;
    if (L.window) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, f->join.left->pos,
                 "a window TVF cannot be joined directly; aggregate it or select its rows in a view first");
        return false;
    }

    /* AS OF: a processing-time attribute of the left side */
    scope_t sc;
    memset(&sc, 0, sizeof sc);
    sc.rel = &L;
    sc.where_clause = "in FOR SYSTEM_TIME AS OF";
    rn_expr_t *asof = an_bind(an, &sc, rf->table.system_time);
    if (!asof) return false;
    if (!is_proctime(an, &L, asof)) {
        an->err = RN_ERR_UNSUPPORTED;
        bool rowtime = asof->kind == RN_EXPR_COLUMN && L.cols[asof->col].rowtime;
        an_error(an, rf->table.system_time->pos,
                 "a lookup join needs FOR SYSTEM_TIME AS OF a processing-time attribute of the left side "
                 "(Flink looks tables up in processing time only)%s; declare `proc_time AS PROCTIME()` in "
                 "the left table and write FOR SYSTEM_TIME AS OF <alias>.proc_time",
                 rowtime ? ", not an event-time attribute" : "");
        return false;
    }

    /* the table's columns, and both sides for ON */
    const char *q = rf->alias ? rf->alias : t->name;
    int nl = L.ncols, nt = t->schema->ncols;
    rel_t both;
    memset(&both, 0, sizeof both);
    both.ncols = nl + nt;
    both.cols = an_alloc(an, sizeof(rel_col_t) * (size_t)(both.ncols ? both.ncols : 1));
    if (!both.cols) return false;
    for (int c = 0; c < nl; c++) {
        both.cols[c] = L.cols[c];
        if (!both.cols[c].src_scan && both.cols[c].src_col >= 0) both.cols[c].src_scan = L.source;
        if (both.cols[c].src_col < 0) both.cols[c].src_scan = NULL;
        both.cols[c].window_col = 0;
    }
    for (int c = 0; c < nt; c++) {
        rel_col_t *col = &both.cols[nl + c];
        memset(col, 0, sizeof *col);
        col->qualifier = q;
        col->name = t->schema->cols[c].name;
        col->type = t->schema->cols[c].type;
        col->src_col = -1;
    }
    const rn_ast_expr_t *conj[MAX_CONJUNCTS];
    int nconj = 0;
    if (!an_split_and(f->join.on, conj, &nconj, MAX_CONJUNCTS)) {
        an_error(an, f->join.on->pos, "too many conditions in ON (at most %d joined by AND)", MAX_CONJUNCTS);
        return false;
    }
    sc.rel = &both;
    sc.where_clause = "in ON";
    int nkeys = 0;
    int key_cols[RN_LOOKUP_MAX_KEYS];
    const rn_expr_t *key_exprs[RN_LOOKUP_MAX_KEYS];
    rn_expr_t *residual = NULL;
    for (int i = 0; i < nconj; i++) {
        rn_expr_t *e = an_bind_boolean(an, &sc, conj[i], "a join condition");
        if (!e) return false;
        if (e->kind == RN_EXPR_FUNC && e->fn == RN_FN_EQ) {
            for (int s = 0; s < 2; s++) {
                rn_expr_t *r = e->args[s], *l = e->args[1 - s];
                /* the binder may have cast the column to the other side's
                 * type: the key is looked up in the column's own type */
                if (r->kind == RN_EXPR_FUNC && r->fn == RN_FN_CAST && r->args[0]->kind == RN_EXPR_COLUMN)
                    r = r->args[0];
                if (r->kind != RN_EXPR_COLUMN || r->col < nl || reads_right(l, nl)) continue;
                int tc = r->col - nl;
                bool dup = false;
                for (int k = 0; k < nkeys; k++) dup |= key_cols[k] == tc;
                if (dup) break; /* a second equality on one column: a residual */
                if (nkeys == RN_LOOKUP_MAX_KEYS) {
                    an_error(an, conj[i]->pos, "too many lookup keys (at most %d)", RN_LOOKUP_MAX_KEYS);
                    return false;
                }
                const rn_type_t *ct = t->schema->cols[tc].type;
                /* INT and BIGINT keys compare as integers: no cast that
                 * could wrap a BIGINT into a false match */
                rn_expr_t *k =
                    rn_type_is_integer(l->type->id) && rn_type_is_integer(ct->id) ? l : an_coerce(an, l, ct);
                if (!k) {
                    if (!an->failed)
                        an_error(an, conj[i]->pos, "the key of column '%s' cannot be cast to %s",
                                 t->schema->cols[tc].name, rn_type_name(t->schema->cols[tc].type->id));
                    return false;
                }
                key_cols[nkeys] = tc;
                key_exprs[nkeys++] = k;
                e = NULL;
                break;
            }
            if (!e) continue;
        }
        if (!an_and_into(an, &residual, e)) return false;
    }
    if (!nkeys) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, f->join.on->pos,
                 "a lookup join needs an equality between a column of '%s' and the left side in ON "
                 "(%s.col = <expression over the left side>): it looks rows up by key",
                 t->name, q);
        return false;
    }
    rn_lookup_cache_spec_t cache;
    if (!cache_spec(an, t, t->conn->lookup_conf(t->conf), &cache)) return false;

    /* WHERE conditions over the left side only filter before the lookup
     * (fewer keys to look up; the same rows either way) */
    sc.where_clause = "in WHERE";
    rn_expr_t *filter = NULL;
    for (int i = 0; i < nwhere; i++) {
        if (an_contains_agg(where[i])) continue;
        rn_expr_t *e = an_bind_boolean(an, &sc, where[i], "the WHERE condition");
        if (!e) return false;
        if (reads_right(e, nl)) continue;
        if (!an_and_into(an, &filter, e)) return false;
        where_pushed[i] = true;
    }
    if (filter && !an_rel_calc(an, &L, filter, 0, NULL, NULL)) return false;

    /* the operator */
    rn_schema_t *schema = rn_schema_new(nl + nt);
    if (!schema) {
        an_oom(an);
        return false;
    }
    for (int c = 0; c < nl + nt; c++)
        if (rn_schema_set(schema, c, both.cols[c].name, both.cols[c].type) != 0) {
            rn_schema_unref(schema);
            an_oom(an);
            return false;
        }
    rn_lookup_join_spec_t spec = {.left = jt == RN_JOIN_LEFT,
                                  .table = t->name,
                                  .table_schema = t->schema,
                                  .nkeys = nkeys,
                                  .key_cols = key_cols,
                                  .key_exprs = key_exprs,
                                  .residual = residual,
                                  .cache = cache};
    char err[256] = "";
    rn_op_t *op = rn_lookup_join_new(L.op, &spec, schema, err, sizeof err);
    rn_schema_unref(schema);
    if (!op) {
        if (err[0])
            an_error(an, f->pos, "%s", err);
        else
            an_oom(an);
        return false;
    }
    if (!an_track(an, op) || !note_lookup(an, op, t)) return false;

    memset(out, 0, sizeof *out);
    out->op = op;
    out->ncols = both.ncols;
    out->cols = both.cols;
    out->updating = op->updating;
    return true;
}
