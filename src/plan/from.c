/*
 * from.c - relations and FROM: a relation is an operator plus its named,
 * typed columns. Resolves column references against one, finds tables and
 * views, creates the one shared scan per source table (columns no query
 * touches are never decoded), inlines views and WITH queries, and compiles
 * the window table functions TUMBLE, HOP and SESSION. An upsert table reads
 * as a changelog: its scan is followed by a ChangelogNormalize keyed by
 * the primary key (op/normalize.h), shared like the scan (behind an
 * Exchange on the primary key when the table is Kafka's).
 *
 * Part of the analyzer (analyze_int.h).
 */
#include "plan/analyze_int.h"

#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/text.h"
#include "op/exchange.h"
#include "op/normalize.h"

/* ---- relations and scopes -------------------------------------------- */

const char *an_join_parts(analyzer_t *an, int n, char *const *parts)
{
    if (n == 1) return parts[0];
    rn_buf_t b;
    rn_buf_init(&b);
    for (int i = 0; i < n; i++) {
        if (i) rn_buf_appendc(&b, '.');
        rn_buf_appends(&b, parts[i]);
    }
    const char *s = b.data ? an_strdup(an, b.data) : NULL;
    rn_buf_free(&b);
    if (!s) an_oom(an);
    return s;
}

/* Finds the relation column a reference names. Returns the index, -1 if
 * there is none (error reported), -2 on ambiguity (error reported). */
int an_rel_resolve(analyzer_t *an, const rel_t *rel, const rn_ast_expr_t *ref)
{
    int n = ref->column.nparts;
    char *const *parts = ref->column.parts;
    int found = -1;
    /* t.col or t.row.field: a qualifier first */
    if (n >= 2) {
        const char *name = an_join_parts(an, n - 1, parts + 1);
        if (!name) return -1;
        for (int i = 0; i < rel->ncols; i++)
            if (rel->cols[i].qualifier && !strcmp(rel->cols[i].qualifier, parts[0]) &&
                !strcmp(rel->cols[i].name, name))
                return i;
    }
    const char *name = an_join_parts(an, n, parts);
    if (!name) return -1;
    for (int i = 0; i < rel->ncols; i++) {
        if (strcmp(rel->cols[i].name, name)) continue;
        if (found >= 0) {
            an_error(an, ref->pos, "column '%s' is ambiguous", name);
            return -2;
        }
        found = i;
    }
    if (found >= 0) return found;
    /* a ROW column named without a field */
    size_t nl = strlen(name);
    for (int i = 0; i < rel->ncols; i++)
        if (!strncmp(rel->cols[i].name, name, nl) && rel->cols[i].name[nl] == '.') {
            an_error(an, ref->pos,
                     "column '%s' is a ROW; select its fields (e.g. '%s') instead of the whole row",
                     name, rel->cols[i].name);
            return -1;
        }
    const char *best = NULL;
    int bestd = 3;
    for (int i = 0; i < rel->ncols; i++) {
        int d = rn_text_distance(name, rel->cols[i].name);
        if (d < bestd) {
            bestd = d;
            best = rel->cols[i].name;
        }
    }
    if (best) an_error(an, ref->pos, "unknown column '%s'; did you mean '%s'?", name, best);
    else an_error(an, ref->pos, "unknown column '%s'", name);
    return -1;
}

/* Marks a column as needed so the source decodes it. */
void an_rel_use(rel_t *rel, int col)
{
    rn_op_t *scan = rel->cols[col].src_scan ? rel->cols[col].src_scan : rel->source;
    if (scan && rel->cols[col].src_col >= 0) rn_source_use_column(scan, rel->cols[col].src_col);
}

/* True if rel is a source scan itself (not yet filtered or projected), or
 * the ChangelogNormalize after an upsert table's scan (right after it, or
 * behind its Exchange). */
bool an_rel_is_source(const rel_t *rel)
{
    if (!rel->source) return false;
    if (rel->op == rel->source) return true;
    if (!rn_is_normalize(rel->op)) return false;
    const rn_op_t *in = rel->op->input;
    return in == rel->source || (rn_is_exchange(in) && in->input == rel->source);
}

/* ---- FROM ------------------------------------------------------------- */

table_def_t *an_find_table(rn_pipeline_t *p, const char *name)
{
    for (int i = 0; i < p->ntables; i++)
        if (!strcmp(p->tables[i].name, name)) return &p->tables[i];
    return NULL;
}

view_def_t *an_find_view(analyzer_t *an, const char *name)
{
    for (int i = an->nctes - 1; i >= 0; i--)
        if (!strcmp(an->ctes[i].name, name)) return &an->ctes[i];
    for (int i = 0; i < an->p->nviews; i++)
        if (!strcmp(an->p->views[i].name, name)) return &an->p->views[i];
    return NULL;
}

/* The shared scan of a source table, created on first use. */
static rn_op_t *table_source(analyzer_t *an, table_def_t *t, rn_pos_t pos)
{
    if (t->source && !an->check_only) return t->source;
    if (!(t->conn->roles & RN_ROLE_SOURCE)) {
        an_error(an, pos, "table '%s' uses connector '%s', which can only be written to", t->name, t->conn->name);
        return NULL;
    }
    rn_buf_t d;
    rn_buf_init(&d);
    rn_buf_appendf(&d, "%s", t->conn->name);
    if (t->conn->describe) {
        rn_buf_appends(&d, " ");
        t->conn->describe(t->conf, &d);
    }
    rn_op_t *op = an_track(an, rn_source_new(t->schema, t->name, d.data ? d.data : ""));
    rn_buf_free(&d);
    if (!op) return NULL;
    for (int c = 0; c < t->schema->ncols; c++)
        if (rn_source_set_path(op, c, t->nparts[c], (const char *const *)t->parts[c]) != RN_OK) {
            an_oom(an);
            return NULL;
        }
    for (int c = 0; t->origin && c < t->schema->ncols; c++) rn_source_set_origin(op, c, t->origin[c]);
    if (t->sink_mode == RN_SINK_UPSERT) { /* the key columns come from the record key */
        for (int k = 0; k < t->npk; k++) rn_source_set_origin(op, t->pk[k], RN_FROM_KEY);
        rn_source_set_upsert(op, t->npk, t->pk);
    }
    for (int c = 0; t->computed && c < t->schema->ncols; c++)
        if (t->computed[c]) rn_source_set_computed(op, c, t->computed[c]);
    for (int c = 0; t->not_null && c < t->schema->ncols; c++)
        if (t->not_null[c]) rn_source_set_not_null(op, c);
    if (t->rowtime >= 0 && t->wm_expr) {
        rn_watermark_spec_t w = {.rowtime_col = t->rowtime, .expr = t->wm_expr,
                                 .idle_timeout_ms = t->idle_timeout_ms, .quiet_timeout_ms = t->quiet_timeout_ms,
                                 .align_drift_ms = t->align_drift_ms};
        rn_source_set_watermark(op, &w);
    }
    if (an->check_only) return op; /* a private scan that is never fed */
    t->source = op;
    rn_op_t **s = rn_realloc(an->p->sources, sizeof *s * (size_t)(an->p->nsources + 1));
    if (!s) {
        an_oom(an);
        return NULL;
    }
    s[an->p->nsources++] = op;
    an->p->sources = s;
    return op;
}

/* The ChangelogNormalize reading scan src, directly or behind the
 * Exchange in front of it; NULL if there is none yet. */
static rn_op_t *scan_normalize(rn_op_t *src)
{
    for (int i = 0; i < src->noutputs; i++) {
        rn_op_t *o = src->outputs[i].op;
        if (rn_is_normalize(o)) return o;
        if (rn_is_exchange(o) && o->noutputs == 1 && rn_is_normalize(o->outputs[0].op)) return o->outputs[0].op;
    }
    return NULL;
}

/* What reading table t yields: its scan src, or for an upsert table the
 * ChangelogNormalize after it, created on first use ('table.exec.state.ttl'
 * as then in force) and shared like the scan. The Normalize is keyed by
 * the primary key: a table several processes share (Kafka) reaches it
 * through an Exchange on the primary key (plan/partition.c), so that the
 * partition of each key it holds is the one its rows arrive in. NULL on
 * failure. */
static rn_op_t *table_changelog(analyzer_t *an, table_def_t *t, rn_op_t *src)
{
    if (t->sink_mode != RN_SINK_UPSERT) return src;
    rn_op_t *n = scan_normalize(src);
    if (n) return n;
    rn_op_t *in = an_exchange_on(an, src, t->npk, t->pk, t->rowtime >= 0 && t->wm_expr ? t->rowtime : -1);
    if (!in) return NULL;
    n = an_track(an, rn_normalize_new(in, t->npk, t->pk, an->errbuf, an->errbuf_size));
    if (!n || !an_connect(an, in, n)) return NULL;
    if (an->state_ttl_ms > 0) rn_normalize_set_ttl(n, an->state_ttl_ms);
    return n;
}

/* The SET options a compiled view depends on, folded into one number: a
 * view is compiled again where they differ. */
static uint64_t options_fingerprint(const analyzer_t *an)
{
    uint64_t h = 1469598103934665603ull;
    const int64_t v[] = {an->allow_lateness_ms, an->early_fire, an->early_fire_ms, an->state_ttl_ms};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) h = (h ^ (uint64_t)v[i]) * 1099511628211ull;
    for (const char *s = an->late_table; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Gives every column of rel the qualifier q. */
static void rel_qualify(rel_t *rel, const char *q)
{
    for (int i = 0; i < rel->ncols; i++) rel->cols[i].qualifier = q;
}

bool an_rel_from_schema(analyzer_t *an, rel_t *rel, rn_op_t *op, const char *qualifier)
{
    rel->op = op;
    rel->ncols = op->schema->ncols;
    rel->cols = an_alloc(an, sizeof(rel_col_t) * (size_t)(rel->ncols ? rel->ncols : 1));
    if (!rel->cols) return false;
    for (int i = 0; i < rel->ncols; i++) {
        rel->cols[i].name = op->schema->cols[i].name;
        rel->cols[i].type = op->schema->cols[i].type;
        rel->cols[i].qualifier = qualifier;
        rel->cols[i].src_col = -1;
        rel->cols[i].src_scan = NULL;
    }
    rel->source = NULL;
    rel->window = NULL;
    return true;
}

/* Appends the virtual window_start, window_end and window_time columns of
 * a window TVF to rel. */
bool an_rel_add_window_cols(analyzer_t *an, rel_t *rel, rel_window_t *w)
{
    rel_col_t *cols = an_alloc(an, sizeof *cols * (size_t)(rel->ncols + 3));
    if (!cols) return false;
    memcpy(cols, rel->cols, sizeof *cols * (size_t)rel->ncols);
    static const char *names[] = {"window_start", "window_end", "window_time"};
    const char *q = rel->ncols ? rel->cols[0].qualifier : NULL;
    for (int i = 0; i < 3; i++) {
        rel_col_t *c = &cols[rel->ncols + i];
        memset(c, 0, sizeof *c);
        c->qualifier = q;
        c->name = names[i];
        c->type = &rn_type_timestamp;
        c->src_col = -1;
        c->window_col = i + 1;
        c->rowtime = i == 2 && !w->proctime;
        c->proctime = i == 2 && w->proctime;
    }
    rel->cols = cols;
    rel->ncols += 3;
    rel->window = w;
    return true;
}

/* An INTERVAL argument of a window TVF, in ms (> 0 unless zero_ok). */
bool an_tvf_interval(analyzer_t *an, const rn_ast_expr_t *fn, int i, bool zero_ok, const char *what, int64_t *ms)
{
    const rn_ast_expr_t *a = fn->call.args[i];
    if (a->kind != RN_AST_INTERVAL) {
        an_error(an, a->pos, "argument %d of %s (the %s) must be an INTERVAL, e.g. INTERVAL '10' SECOND", i + 1,
                 fn->call.name, what);
        return false;
    }
    if (a->interval.ms < 0 || (a->interval.ms == 0 && !zero_ok)) {
        an_error(an, a->pos, "the %s of %s must be positive", what, fn->call.name);
        return false;
    }
    *ms = a->interval.ms;
    return true;
}

/* TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset])), HOP(..., slide,
 * size [, offset]), SESSION(TABLE t [PARTITION BY k], DESCRIPTOR(ts), gap):
 * t's columns plus the virtual window columns (docs/event-time.md). */
static bool compile_window_tvf(analyzer_t *an, const rn_ast_expr_t *fn, rel_t *out)
{
    const char *name = fn->call.name;
    rel_window_t *w = an_alloc(an, sizeof *w);
    if (!w) return false;
    w->pos = fn->pos;
    int min, max;
    if (!strcasecmp(name, "TUMBLE")) w->kind = RN_WINDOW_TUMBLE, w->fn = "TUMBLE", min = 3, max = 4;
    else if (!strcasecmp(name, "HOP")) w->kind = RN_WINDOW_HOP, w->fn = "HOP", min = 4, max = 5;
    else if (!strcasecmp(name, "SESSION")) w->kind = RN_WINDOW_SESSION, w->fn = "SESSION", min = 3, max = 3;
    else {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, fn->pos, "window function %s is not supported (runnel has TUMBLE, HOP and SESSION)", name);
        return false;
    }
    int n = fn->call.nargs;
    if (n < min || n > max) {
        an_error(an, fn->pos, "%s takes %d%s arguments: %s", w->fn, min, max > min ? " or more" : "",
                 w->kind == RN_WINDOW_TUMBLE ? "TABLE t, DESCRIPTOR(time_col), size [, offset]"
                 : w->kind == RN_WINDOW_HOP  ? "TABLE t, DESCRIPTOR(time_col), slide, size [, offset]"
                                             : "TABLE t [PARTITION BY cols], DESCRIPTOR(time_col), gap");
        return false;
    }
    const rn_ast_expr_t *targ = fn->call.args[0];
    if (targ->kind != RN_AST_TABLE_ARG) {
        an_error(an, targ->pos, "the first argument of %s must be TABLE name", w->fn);
        return false;
    }
    if (targ->table_arg.npartition && w->kind != RN_WINDOW_SESSION) {
        an_error(an, targ->pos, "PARTITION BY is only for SESSION windows");
        return false;
    }
    rn_ast_from_t from = {.kind = RN_AST_FROM_TABLE, .pos = targ->pos};
    from.table.name = targ->table_arg.table;
    if (!an_compile_from(an, &from, out)) return false;
    if (out->updating) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, targ->pos, "%s needs an insert-only input; '%s' carries updates", w->fn, targ->table_arg.table);
        return false;
    }
    const rn_ast_expr_t *d = fn->call.args[1];
    if (d->kind != RN_AST_CALL || strcasecmp(d->call.name, "DESCRIPTOR") || d->call.nargs != 1 ||
        d->call.args[0]->kind != RN_AST_COLUMN) {
        an_error(an, d->pos, "the second argument of %s must be DESCRIPTOR(time_column)", w->fn);
        return false;
    }
    int c = an_rel_resolve(an, out, d->call.args[0]);
    if (c < 0) return false;
    if (!out->cols[c].rowtime && !out->cols[c].proctime) {
        an_error(an, d->call.args[0]->pos,
                 "column '%s' is neither an event-time attribute of '%s' (declare WATERMARK FOR %s AS ... in its "
                 "table) nor a processing-time one (a column AS PROCTIME())",
                 out->cols[c].name, targ->table_arg.table, out->cols[c].name);
        return false;
    }
    w->proctime = !out->cols[c].rowtime;
    if (w->proctime && w->kind == RN_WINDOW_SESSION) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, d->call.args[0]->pos, "SESSION windows take event time only; '%s' is processing time",
                 out->cols[c].name);
        return false;
    }
    an_rel_use(out, c);
    w->time_col = c;
    bool ok;
    switch (w->kind) {
    case RN_WINDOW_TUMBLE:
        ok = an_tvf_interval(an, fn, 2, false, "size", &w->size_ms) &&
             (n < 4 || an_tvf_interval(an, fn, 3, true, "offset", &w->offset_ms));
        break;
    case RN_WINDOW_HOP:
        ok = an_tvf_interval(an, fn, 2, false, "slide", &w->slide_ms) &&
             an_tvf_interval(an, fn, 3, false, "size", &w->size_ms) &&
             (n < 5 || an_tvf_interval(an, fn, 4, true, "offset", &w->offset_ms));
        if (ok && w->size_ms % w->slide_ms) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, fn->call.args[3]->pos, "the size of HOP must be a multiple of its slide");
            ok = false;
        }
        break;
    default:
        ok = an_tvf_interval(an, fn, 2, false, "gap", &w->size_ms);
        break;
    }
    if (!ok) return false;
    if (targ->table_arg.npartition > RN_MAX_GROUP) {
        an_error(an, targ->pos, "too many PARTITION BY columns");
        return false;
    }
    for (int i = 0; i < targ->table_arg.npartition; i++) {
        const rn_ast_expr_t *k = targ->table_arg.partition_by[i];
        if (k->kind != RN_AST_COLUMN) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, k->pos, "PARTITION BY takes column names");
            return false;
        }
        int kc = an_rel_resolve(an, out, k);
        if (kc < 0) return false;
        w->partition[w->npartition++] = kc;
    }
    return an_rel_add_window_cols(an, out, w);
}

bool an_compile_from(analyzer_t *an, const rn_ast_from_t *f, rel_t *out)
{
    memset(out, 0, sizeof *out);
    switch (f->kind) {
    case RN_AST_FROM_TABLE: {
        if (f->table.system_time) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, f->pos,
                     "FOR SYSTEM_TIME AS OF is only for the right side of a lookup join: "
                     "FROM s JOIN %s FOR SYSTEM_TIME AS OF s.proc_time AS r ON r.k = s.k",
                     f->table.name);
            return false;
        }
        const char *q = f->alias ? f->alias : f->table.name;
        view_def_t *v = an_find_view(an, f->table.name);
        if (v) {
            if (v->compiling) {
                an_error(an, f->pos, "view '%s' refers to itself", v->name);
                return false;
            }
            uint64_t opts = options_fingerprint(an);
            if (v->compiled && v->compiled_options == opts && !an->check_only) {
                *out = *v->compiled;
                out->cols = an_alloc(an, sizeof(rel_col_t) * (size_t)(out->ncols ? out->ncols : 1));
                if (!out->cols) return false;
                memcpy(out->cols, v->compiled->cols, sizeof(rel_col_t) * (size_t)out->ncols);
                rel_qualify(out, q);
                return true;
            }
            v->compiling = true;
            v->used = true;
            bool ok = an_compile_query(an, v->query, out);
            v->compiling = false;
            if (!ok) return false;
            if (!an->check_only) {
                rel_t *keep = an_alloc(an, sizeof *keep);
                if (!keep) return false;
                *keep = *out;
                keep->cols = an_alloc(an, sizeof(rel_col_t) * (size_t)(out->ncols ? out->ncols : 1));
                if (!keep->cols) return false;
                v->compiled = keep;
                v->compiled_options = opts;
            }
            if (v->ncols) {
                if (v->ncols != out->ncols) {
                    an_error(an, v->pos, "view '%s' lists %d columns but its query has %d", v->name, v->ncols,
                             out->ncols);
                    return false;
                }
                for (int i = 0; i < out->ncols; i++) out->cols[i].name = v->cols[i];
            }
            if (v->compiled && v->compiled->op == out->op)
                memcpy(v->compiled->cols, out->cols, sizeof(rel_col_t) * (size_t)out->ncols);
            rel_qualify(out, q);
            return true;
        }
        table_def_t *t = an_find_table(an->p, f->table.name);
        if (!t) {
            an_error(an, f->pos, "unknown table or view '%s'", f->table.name);
            return false;
        }
        rn_op_t *src = table_source(an, t, f->pos);
        rn_op_t *top = src ? table_changelog(an, t, src) : NULL;
        if (!top || !an_rel_from_schema(an, out, top, q)) return false;
        out->source = src;
        for (int i = 0; i < out->ncols; i++) out->cols[i].src_col = i;
        if (t->rowtime >= 0 && t->wm_expr) out->cols[t->rowtime].rowtime = true;
        for (int i = 0; t->computed && i < out->ncols && i < t->ncols; i++)
            out->cols[i].proctime = t->computed[i] && t->computed[i]->kind == RN_EXPR_FUNC &&
                                    t->computed[i]->fn == RN_FN_PROCTIME;
        out->updating = top->updating;
        return true;
    }
    case RN_AST_FROM_SUBQUERY:
        if (!an_compile_query(an, f->subquery, out)) return false;
        rel_qualify(out, f->alias);
        return true;
    case RN_AST_FROM_JOIN:
        return an_compile_join(an, f, out);
    case RN_AST_FROM_TVF:
        if (!compile_window_tvf(an, f->tvf, out)) return false;
        if (f->alias) rel_qualify(out, f->alias);
        return true;
    }
    return false;
}
