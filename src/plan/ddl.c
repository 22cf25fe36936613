/*
 * ddl.c - the statements: CREATE TABLE (columns, ROW flattening, metadata,
 * key fields, computed columns, WATERMARK and the event-time options),
 * CREATE VIEW, INSERT INTO (the cast to the sink's columns and the Sink),
 * a bare SELECT (an implicit 'print' table) and SET.
 *
 * Part of the analyzer (analyze_int.h); rn_analyze (analyze.c) calls the
 * an_*_stmt, an_create_* functions once per statement.
 */
#include "plan/analyze_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include "core/mem.h"
#include "core/timeparse.h"
#include "core/text.h"

/* ---- statements ------------------------------------------------------- */

/* Adds the columns of a (possibly ROW) column to a table being defined,
 * flattening ROW fields into "a.b" leaves with JSON paths. */
static bool table_add_column(analyzer_t *an, table_def_t *t, const char *name, const rn_type_t *type,
                             int depth, char **path)
{
    if (depth >= 16) return false;
    path[depth] = (char *)name;
    if (type->id == RN_TYPE_ROW) {
        for (int i = 0; i < type->nfields; i++)
            if (!table_add_column(an, t, type->fields[i].name, type->fields[i].type, depth + 1, path)) return false;
        return true;
    }
    int c = t->ncols++;
    t->col_names[c] = (char *)an_join_parts(an, depth + 1, path);
    t->col_types[c] = type;
    t->nparts[c] = depth + 1;
    t->parts[c] = an_alloc(an, sizeof(char *) * (size_t)(depth + 1));
    if (!t->col_names[c] || !t->parts[c]) return false;
    memcpy(t->parts[c], path, sizeof(char *) * (size_t)(depth + 1));
    return true;
}

static int count_leaves(const rn_type_t *t)
{
    if (t->id != RN_TYPE_ROW) return 1;
    int n = 0;
    for (int i = 0; i < t->nfields; i++) n += count_leaves(t->fields[i].type);
    return n;
}

/* Binds a METADATA column to what the connector offers, checking its type. */
static bool table_metadata_column(analyzer_t *an, table_def_t *t, const rn_ast_column_def_t *cd)
{
    const char *key = cd->metadata_key ? cd->metadata_key : cd->name;
    const rn_metadata_spec_t *m = t->conn->metadata;
    while (m && m->key && strcmp(m->key, key)) m++;
    if (!m || !m->key) {
        rn_buf_t known;
        rn_buf_init(&known);
        for (m = t->conn->metadata; m && m->key; m++) rn_buf_appendf(&known, "%s'%s'", known.len ? ", " : "", m->key);
        an_error(an, cd->pos, "connector '%s' has no metadata '%s'%s%s", t->conn->name, key,
                 known.len ? "; it offers " : "", known.len ? known.data : "");
        rn_buf_free(&known);
        return false;
    }
    int c = rn_schema_find(t->schema, cd->name);
    if (c < 0) {
        an_error(an, cd->pos, "metadata column '%s' (from '%s') must be %s", cd->name, key, rn_type_name(m->type));
        return false;
    }
    rn_type_id want = m->type, got = t->schema->cols[c].type->id;
    bool ok = got == want || (want == RN_TYPE_TIMESTAMP_LTZ && got == RN_TYPE_TIMESTAMP) ||
              (want == RN_TYPE_INT && got == RN_TYPE_BIGINT);
    if (!ok) {
        an_error(an, cd->pos, "metadata column '%s' (from '%s') must be %s, not %s", cd->name, key,
                 rn_type_name(want), rn_type_name(got));
        return false;
    }
    t->origin[c] = m->origin;
    return true;
}

/* Marks the columns named in the connector's 'key.fields' as read from and
 * written to the record key. */
static bool table_key_fields(analyzer_t *an, table_def_t *t, const rn_ast_stmt_t *st)
{
    const char *list = t->conn->key_fields ? t->conn->key_fields(t->conf) : NULL;
    if (!list) return true;
    rn_pos_t pos = t->pos;
    for (int i = 0; i < st->create_table.noptions; i++)
        if (!strcmp(st->create_table.options[i].key, "key.fields")) pos = st->create_table.options[i].value_pos;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ';') p++;
        const char *end = p;
        while (*end && *end != ';') end++;
        size_t len = (size_t)(end - p);
        while (len && p[len - 1] == ' ') len--;
        if (len) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)len, p);
            int c = rn_schema_find(t->schema, name);
            if (c < 0 || t->origin[c] != RN_FROM_VALUE) {
                an->err = RN_ERR_CONFIG;
                an_error(an, pos, "table '%s': 'key.fields' names '%s', which is not a physical column of the table",
                         t->name, name);
                return false;
            }
            t->origin[c] = RN_FROM_KEY;
            t->key[t->nkey++] = c;
        }
        p = end;
    }
    return true;
}

/* A relation over a table's columns, for binding computed columns and the
 * WATERMARK expression. The computed columns (hidden[c] set) cannot be
 * named when hidden is not NULL. */
static bool table_rel(analyzer_t *an, const table_def_t *t, const rn_ast_column_def_t *const *hidden, rel_t *rel)
{
    memset(rel, 0, sizeof *rel);
    rel->ncols = t->ncols;
    rel->cols = an_alloc(an, sizeof(rel_col_t) * (size_t)(t->ncols + 1));
    if (!rel->cols) return false;
    for (int c = 0; c < t->ncols; c++) {
        rel->cols[c].name = hidden && hidden[c] ? "" : t->col_names[c];
        rel->cols[c].type = t->col_types[c];
        rel->cols[c].src_col = -1;
    }
    return true;
}

/* Binds the computed columns (`name AS expr`) over the other columns and
 * gives them the expressions' types. */
static bool table_computed_columns(analyzer_t *an, table_def_t *t, const rn_ast_stmt_t *st)
{
    t->computed = an_alloc(an, sizeof(rn_expr_t *) * (size_t)(t->ncols + 1));
    const rn_ast_column_def_t **def = an_alloc(an, sizeof *def * (size_t)(t->ncols + 1));
    if (!t->computed || !def) return false;
    for (int i = 0; i < st->create_table.ncolumns; i++) {
        const rn_ast_column_def_t *cd = &st->create_table.columns[i];
        for (int k = 0; cd->computed && k < t->ncols; k++)
            if (!strcmp(t->col_names[k], cd->name)) def[k] = cd;
    }
    rel_t rel;
    if (!table_rel(an, t, def, &rel)) return false;
    for (int c = 0; c < t->ncols; c++) {
        const rn_ast_column_def_t *cd = def[c];
        if (!cd) continue;
        scope_t sc = {.rel = &rel, .where_clause = "in a computed column"};
        rn_expr_t *x = an_bind(an, &sc, cd->computed);
        if (!x) return false;
        if (x->type->id == RN_TYPE_NULL) x = an_coerce(an, x, &rn_type_string);
        if (!x) return false;
        if (x->type->id == RN_TYPE_ROW) {
            an_error(an, cd->computed->pos, "computed column '%s' cannot be a ROW", cd->name);
            return false;
        }
        t->computed[c] = x;
        t->col_types[c] = x->type;
    }
    return true;
}

/* WATERMARK FOR col AS expr: col becomes the rowtime attribute. */
static bool table_watermark(analyzer_t *an, table_def_t *t, const rn_ast_stmt_t *st)
{
    t->rowtime = -1;
    const rn_ast_watermark_t *w = st->create_table.watermark;
    if (!w) return true;
    int c = rn_schema_find(t->schema, w->column);
    if (c < 0) {
        an_error(an, w->pos, "WATERMARK FOR '%s': '%s' has no such column", w->column, t->name);
        return false;
    }
    rn_type_id id = t->schema->cols[c].type->id;
    if (id != RN_TYPE_TIMESTAMP && id != RN_TYPE_TIMESTAMP_LTZ) {
        an_error(an, w->pos,
                 "WATERMARK FOR '%s': an event-time column must be TIMESTAMP(3) or TIMESTAMP_LTZ(3), not %s; "
                 "derive one with a computed column, e.g. ts AS TO_TIMESTAMP_LTZ(epoch_ms, 3)",
                 w->column, rn_type_name(id));
        return false;
    }
    rel_t rel;
    if (!table_rel(an, t, NULL, &rel)) return false;
    scope_t sc = {.rel = &rel, .where_clause = "in a WATERMARK"};
    rn_expr_t *x = an_bind(an, &sc, w->expr);
    if (!x) return false;
    if (x->type->id != RN_TYPE_TIMESTAMP && x->type->id != RN_TYPE_TIMESTAMP_LTZ) {
        an_error(an, w->expr->pos, "the WATERMARK expression must be a timestamp (e.g. %s - INTERVAL '5' SECOND), not %s",
                 w->column, rn_type_name(x->type->id));
        return false;
    }
    t->rowtime = c;
    t->wm_expr = x;
    return true;
}

/* Takes the event-time options out of the WITH clause (every connector
 * accepts them) into t, leaving the connector's own in t->options. */
static bool table_time_options(analyzer_t *an, table_def_t *t, const rn_ast_stmt_t *st)
{
    t->idle_timeout_ms = 5000;
    t->quiet_timeout_ms = 10000;
    t->align_drift_ms = RN_ALIGN_DEFAULT_DRIFT_MS;
    int n = st->create_table.noptions;
    rn_option_t *kept = an_alloc(an, sizeof *kept * (size_t)(n + 1));
    const rn_ast_option_t **asts = an_alloc(an, sizeof *asts * (size_t)(n + 1));
    if (!kept || !asts) return false;
    t->noptions = 0;
    for (int i = 0; i < n; i++) {
        const rn_ast_option_t *o = &st->create_table.options[i];
        int64_t *dst = !strcmp(o->key, "scan.watermark.idle-timeout")    ? &t->idle_timeout_ms
                       : !strcmp(o->key, "scan.watermark.quiet-timeout") ? &t->quiet_timeout_ms
                       : !strcmp(o->key, "scan.watermark.alignment.max-drift") ? &t->align_drift_ms
                                                                         : NULL;
        if (!dst) {
            asts[t->noptions] = o;
            kept[t->noptions++] = (rn_option_t){.key = o->key, .value = o->value};
            continue;
        }
        if (!rn_duration_parse(o->value, dst)) {
            an->err = RN_ERR_CONFIG;
            an_error(an, o->value_pos, "table '%s': '%s' must be a duration such as '5 s' or '500 ms', not '%s'",
                     t->name, o->key, o->value);
            return false;
        }
        if (!st->create_table.watermark) {
            an->err = RN_ERR_CONFIG;
            an_error(an, o->key_pos, "table '%s': '%s' needs a WATERMARK in the table", t->name, o->key);
            return false;
        }
    }
    t->options = kept;
    t->option_asts = asts;
    return true;
}

/* A table shown on the dashboard (the 'dashboard' connector, or
 * 'dashboard' = 'true' on another sink): keeps its dashboard options in
 * t->dash and checks those naming columns. */
static bool table_dashboard(analyzer_t *an, table_def_t *t, const char *name)
{
    char msg[512];
    int bad;
    rn_dash_conf_t dc;
    bool own = t->conn == &rn_connector_dashboard;
    if (own) dc = *(const rn_dash_conf_t *)t->conf;
    else if (rn_dash_conf_parse(t->options, t->noptions, false, &dc, &bad, msg, sizeof msg) != RN_OK) {
        an->err = RN_ERR_CONFIG; /* checked by rn_options_apply already */
        an_error(an, bad >= 0 ? t->option_asts[bad]->key_pos : t->pos, "table '%s': %s", name, msg);
        return false;
    }
    if (!own && !dc.enabled) return true;
    rn_err_t err = rn_dash_check(&dc, t->schema, t->npk, t->pk, msg, sizeof msg);
    if (err == RN_ERR_NOMEM) {
        an_oom(an);
        return false;
    }
    if (err != RN_OK) {
        an->err = RN_ERR_CONFIG;
        rn_pos_t pos = t->pos; /* at the option the message names */
        for (int i = 0; i < t->noptions && !strncmp(msg, "option '", 8); i++) {
            size_t n = strlen(t->options[i].key);
            if (!strncmp(msg + 8, t->options[i].key, n) && msg[8 + n] == '\'') pos = t->option_asts[i]->key_pos;
        }
        an_error(an, pos, "table '%s': %s", name, msg);
        return false;
    }
    if (!(t->dash = an_alloc(an, sizeof *t->dash))) return false;
    *t->dash = dc;
    return true;
}

bool an_create_table(analyzer_t *an, const rn_ast_stmt_t *st)
{
    rn_pipeline_t *p = an->p;
    const char *name = st->create_table.name;
    if (an_find_table(p, name) || an_find_view(an, name)) {
        if (st->create_table.if_not_exists) return true;
        an_error(an, st->create_table.name_pos, "table or view '%s' is already defined", name);
        return false;
    }
    table_def_t *t = &p->tables[p->ntables];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->pos = st->create_table.name_pos;
    const rn_type_t **types = an_alloc(an, sizeof *types * (size_t)(st->create_table.ncolumns + 1));
    if (!types) return false;
    int nleaves = 0;
    for (int i = 0; i < st->create_table.ncolumns; i++) {
        const rn_ast_column_def_t *cd = &st->create_table.columns[i];
        for (int j = 0; j < i; j++)
            if (!strcmp(st->create_table.columns[j].name, cd->name)) {
                an_error(an, cd->pos, "column '%s' is defined twice", cd->name);
                return false;
            }
        /* a computed column's type comes from its expression, bound below */
        if (!(types[i] = cd->computed ? &rn_type_null : an_type(an, cd->type))) return false;
        nleaves += count_leaves(types[i]);
    }
    t->col_names = an_alloc(an, sizeof(char *) * (size_t)(nleaves + 1));
    t->col_types = an_alloc(an, sizeof(rn_type_t *) * (size_t)(nleaves + 1));
    t->nparts = an_alloc(an, sizeof(int) * (size_t)(nleaves + 1));
    t->parts = an_alloc(an, sizeof(char **) * (size_t)(nleaves + 1));
    if (!t->col_names || !t->col_types || !t->nparts || !t->parts) return false;
    t->not_null = an_alloc(an, sizeof(bool) * (size_t)(nleaves + 1));
    if (!t->not_null) return false;
    memset(t->not_null, 0, sizeof(bool) * (size_t)(nleaves + 1));
    char *path[16];
    for (int i = 0; i < st->create_table.ncolumns; i++) {
        const rn_ast_column_def_t *cd = &st->create_table.columns[i];
        int first = t->ncols;
        if (!table_add_column(an, t, cd->name, types[i], 0, path)) {
            if (!an->failed) an_error(an, cd->pos, "ROW nesting is too deep");
            return false;
        }
        if (!cd->computed && cd->type && cd->type->not_null && types[i]->id != RN_TYPE_ROW && t->ncols == first + 1)
            t->not_null[first] = true;
    }
    if (!table_computed_columns(an, t, st)) return false;
    t->schema = rn_schema_new(t->ncols);
    if (!t->schema) {
        an_oom(an);
        return false;
    }
    p->ntables++; /* from here on the pipeline frees the schema */
    for (int c = 0; c < t->ncols; c++)
        if (rn_schema_set(t->schema, c, t->col_names[c], t->col_types[c]) != 0) {
            an_oom(an);
            return false;
        }
    t->origin = an_alloc(an, sizeof(rn_col_origin) * (size_t)(t->ncols + 1));
    t->key = an_alloc(an, sizeof(int) * (size_t)(t->ncols + 1));
    if (!t->origin || !t->key) return false;
    for (int c = 0; c < t->ncols; c++) t->origin[c] = t->computed[c] ? RN_FROM_COMPUTED : RN_FROM_VALUE;
    if (!table_watermark(an, t, st)) return false;
    /* primary key: table-level list or inline markers */
    int npk = st->create_table.npk;
    for (int i = 0; i < st->create_table.ncolumns; i++) npk += st->create_table.columns[i].primary_key;
    t->pk = an_alloc(an, sizeof(int) * (size_t)(npk + 1));
    if (!t->pk) return false;
    for (int i = 0; i < st->create_table.npk; i++) {
        int c = rn_schema_find(t->schema, st->create_table.pk[i]);
        if (c < 0) {
            an_error(an, st->create_table.pk_pos, "PRIMARY KEY column '%s' is not a column of '%s'",
                     st->create_table.pk[i], name);
            return false;
        }
        t->pk[t->npk++] = c;
    }
    for (int i = 0; i < st->create_table.ncolumns; i++)
        if (st->create_table.columns[i].primary_key) {
            int c = rn_schema_find(t->schema, st->create_table.columns[i].name);
            if (c < 0) {
                an_error(an, st->create_table.columns[i].pos, "a ROW column cannot be a PRIMARY KEY");
                return false;
            }
            t->pk[t->npk++] = c;
        }
    /* connector and options */
    const rn_ast_option_t *conn_opt = NULL;
    for (int i = 0; i < st->create_table.noptions; i++)
        if (!strcmp(st->create_table.options[i].key, "connector")) conn_opt = &st->create_table.options[i];
    if (!conn_opt) {
        an->err = RN_ERR_CONFIG;
        an_error(an, t->pos, "table '%s' needs a WITH ('connector' = '...') option", name);
        return false;
    }
    t->conn = rn_connector_find(conn_opt->value);
    if (!t->conn) {
        rn_buf_t known;
        rn_buf_init(&known);
        rn_connector_list(&known);
        an->err = RN_ERR_CONFIG;
        an_error(an, conn_opt->value_pos, "unknown connector '%s'; known connectors: %s", conn_opt->value,
                 known.data ? known.data : "");
        rn_buf_free(&known);
        return false;
    }
    t->conf = an_alloc(an, t->conn->conf_size);
    if (!t->conf) return false;
    char msg[512];
    int bad;
    if (!table_time_options(an, t, st)) return false;
    if (rn_options_apply(t->conn, t->options, t->noptions, t->conf, &p->plan_arena, &bad, msg,
                         sizeof msg) != RN_OK ||
        (t->conn->validate && t->conn->validate(t->conf, msg, sizeof msg) != RN_OK)) {
        an->err = RN_ERR_CONFIG;
        /* A connector's check that names "option 'key'" points there. */
        if (bad < 0 && !strncmp(msg, "option '", 8))
            for (int i = 0; i < t->noptions; i++) {
                size_t n = strlen(t->options[i].key);
                if (!strncmp(msg + 8, t->options[i].key, n) && msg[8 + n] == '\'') bad = i;
            }
        rn_pos_t pos = bad >= 0 ? t->option_asts[bad]->key_pos : t->pos;
        an_error(an, pos, "table '%s': %s", name, msg);
        return false;
    }
    if (t->conn->needs_pk && t->npk == 0) {
        an->err = RN_ERR_CONFIG;
        an_error(an, t->pos, "table '%s' uses connector '%s', which needs a PRIMARY KEY (col) NOT ENFORCED",
                 name, t->conn->name);
        return false;
    }
    if (t->conn->forbids_pk && t->npk > 0) {
        an->err = RN_ERR_CONFIG;
        an_error(an, st->create_table.npk ? st->create_table.pk_pos : t->pos,
                 "connector '%s' does not support PRIMARY KEY (for an upsert table use 'upsert-kafka')",
                 t->conn->name);
        return false;
    }
    t->sink_mode = t->conn->pk_upsert && t->npk > 0 ? RN_SINK_UPSERT : t->conn->sink_mode;
    for (int i = 0; i < st->create_table.ncolumns; i++)
        if (st->create_table.columns[i].is_metadata && !table_metadata_column(an, t, &st->create_table.columns[i]))
            return false;
    if (t->conn->check_schema && t->conn->check_schema(t->conf, t->schema, msg, sizeof msg) != RN_OK) {
        an->err = RN_ERR_CONFIG;
        rn_pos_t pos = t->pos; /* at the option the message names */
        for (int i = 0; i < t->noptions && !strncmp(msg, "option '", 8); i++) {
            size_t n = strlen(t->options[i].key);
            if (!strncmp(msg + 8, t->options[i].key, n) && msg[8 + n] == '\'') pos = t->option_asts[i]->key_pos;
        }
        an_error(an, pos, "table '%s': %s", name, msg);
        return false;
    }
    if (!table_dashboard(an, t, name)) return false;
    return table_key_fields(an, t, st);
}

bool an_create_view(analyzer_t *an, const rn_ast_stmt_t *st)
{
    rn_pipeline_t *p = an->p;
    const char *name = st->create_view.name;
    if (an_find_table(p, name) || an_find_view(an, name)) {
        if (st->create_view.if_not_exists) return true;
        an_error(an, st->create_view.name_pos, "table or view '%s' is already defined", name);
        return false;
    }
    view_def_t *v = &p->views[p->nviews++];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->pos = st->create_view.name_pos;
    v->query = st->create_view.query;
    v->ncols = st->create_view.ncols;
    v->cols = st->create_view.cols;
    /* Check the view now, so errors point at it even if nothing uses it.
     * The operators built here stay unconnected to any sink and are never
     * fed (sources only feed what is connected). */
    return true;
}

/* Leaves metadata columns (and, with 'value.fields-include' = 'EXCEPT_KEY',
 * the key columns) out of the records' values. */
static bool sink_value_columns(analyzer_t *an, const table_def_t *t, rn_op_t *sink, int nkey, const int *key)
{
    if (!t->origin) return true;
    bool except_key = t->conn->value_excludes_key && t->conn->value_excludes_key(t->conf);
    int n = t->schema->ncols, nvalue = 0;
    int *cols = an_alloc(an, sizeof(int) * (size_t)(n ? n : 1));
    if (!cols) return false;
    for (int c = 0; c < n; c++) {
        bool in_key = false;
        for (int k = 0; k < nkey; k++) in_key |= key[k] == c;
        if (t->origin[c] > RN_FROM_KEY || (except_key && in_key)) continue;
        cols[nvalue++] = c;
    }
    if (nvalue == n) return true;
    if (rn_sink_set_value_columns(sink, nvalue, cols) != RN_OK) {
        an_oom(an);
        return false;
    }
    return true;
}

/* 'dashboard' = 'true': a second Sink on the query's output (the rows as
 * the table gets them) writing the in-memory dashboard table, keyed by
 * 'dashboard.key' or the PRIMARY KEY (an upsert table), else an append
 * table, which needs an insert-only input. */
static bool dashboard_twin(analyzer_t *an, table_def_t *t, const rel_t *rel, rn_pos_t query_pos)
{
    int *key = an_alloc(an, sizeof(int) * (size_t)(t->schema->ncols ? t->schema->ncols : 1));
    if (!key) return false;
    int nkey = rn_dash_key(t->dash, t->schema, t->npk, t->pk, key); /* checked: >= 0 */
    if (rel->updating && nkey == 0) {
        an_error(an, query_pos,
                 "table '%s' has 'dashboard' = 'true' but no key, and this query updates its rows; declare a "
                 "PRIMARY KEY or set 'dashboard.key' to the columns the query groups by", t->name);
        return false;
    }
    rn_buf_t label;
    rn_buf_init(&label);
    rn_buf_appendf(&label, "%s (dashboard ", t->name);
    rn_dash_describe(t->dash, &label);
    rn_buf_appends(&label, ")");
    rn_op_t *sink = an_track(an, rn_sink_new(rel->op, label.data ? label.data : t->name,
                                             nkey ? RN_SINK_UPSERT : RN_SINK_APPEND, nkey, key, NULL));
    rn_buf_free(&label);
    if (!sink || !an_connect(an, rel->op, sink)) return false;
    sink_def_t *sd = rn_realloc(an->p->sinks, sizeof *sd * (size_t)(an->p->nsinks + 1));
    if (!sd) {
        an_oom(an);
        return false;
    }
    an->p->sinks = sd;
    sd[an->p->nsinks] = (sink_def_t){.op = sink, .table = t, .dash_twin = true, .npk = nkey, .pk = key};
    an->p->nsinks++;
    return true;
}

/* The Sink for an INSERT (or bare SELECT): casts to the table's columns
 * and attaches the sink operator. */
bool an_insert_into(analyzer_t *an, table_def_t *t, const int *target_cols, int ntarget, rel_t *rel,
                    rn_pos_t pos, rn_pos_t query_pos)
{
    if (!(t->conn->roles & RN_ROLE_SINK)) {
        an_error(an, pos, "table '%s' uses connector '%s', which can only be read from", t->name, t->conn->name);
        return false;
    }
    int n = t->schema->ncols;
    if (ntarget != rel->ncols) {
        an_error(an, query_pos, "INSERT INTO '%s' has %d target column%s but the query produces %d", t->name, ntarget,
                 ntarget == 1 ? "" : "s", rel->ncols);
        return false;
    }
    rn_expr_t **exprs = an_alloc(an, sizeof *exprs * (size_t)(n ? n : 1));
    const char **names = an_alloc(an, sizeof *names * (size_t)(n ? n : 1));
    if (!exprs || !names) return false;
    for (int c = 0; c < n; c++) {
        names[c] = t->schema->cols[c].name;
        exprs[c] = an_mk_const(an, t->schema->cols[c].type, RN_VALUE_NULL);
        if (!exprs[c]) return false;
    }
    for (int i = 0; i < ntarget; i++) {
        int c = target_cols[i];
        const rn_type_t *to = t->schema->cols[c].type;
        const rn_type_t *from = rel->cols[i].type;
        if (!an_assignable(from, to)) {
            an_error(an, query_pos,
                     "column %d of the query ('%s', %s) cannot be written to column '%s' (%s) of '%s'; use CAST",
                     i + 1, rel->cols[i].name, rn_type_name(from->id), names[c], rn_type_name(to->id), t->name);
            return false;
        }
        exprs[c] = an_coerce(an, an_mk_column(an, i, from), to);
        if (!exprs[c]) return false;
    }
    if (rel->updating && t->sink_mode == RN_SINK_APPEND) {
        an_error(an, query_pos,
                 "table '%s' (connector '%s') is append-only and doesn't support consuming update changes "
                 "produced by this query (an aggregate, a Top-N, a keep-last deduplication, or an upsert table "
                 "read as a changelog); %s",
                 t->name, t->conn->name,
                 t->conn->pk_upsert ? "declare a PRIMARY KEY on the table to write it as an upsert table"
                                    : "write to an 'upsert-kafka' table with a PRIMARY KEY");
        return false;
    }
    if (!an_is_identity(rel, n, exprs, names) || an_rel_is_source(rel)) {
        if (!an_rel_calc(an, rel, NULL, n, exprs, names)) return false;
    }
    rn_buf_t label;
    rn_buf_init(&label);
    rn_buf_appendf(&label, "%s (%s", t->name, t->conn->name);
    if (t->conn->describe) {
        rn_buf_appends(&label, " ");
        t->conn->describe(t->conf, &label);
    }
    rn_buf_appends(&label, ")");
    /* the record key: the PRIMARY KEY of an upsert table, else 'key.fields' */
    int nkey = t->sink_mode == RN_SINK_UPSERT ? t->npk : t->nkey;
    const int *key = t->sink_mode == RN_SINK_UPSERT ? t->pk : t->key;
    rn_op_t *sink = an_track(an, rn_sink_new(rel->op, label.data ? label.data : t->name, t->sink_mode,
                                             nkey, key, NULL));
    rn_buf_free(&label);
    if (!sink || !an_connect(an, rel->op, sink)) return false;
    if (!sink_value_columns(an, t, sink, nkey, key)) return false;
    if (t->conn->json_timestamps) {
        rn_json_ts_format key_ts = RN_JSON_TS_EPOCH_MS, value_ts = RN_JSON_TS_EPOCH_MS;
        t->conn->json_timestamps(t->conf, &key_ts, &value_ts);
        rn_sink_set_json_timestamps(sink, key_ts, value_ts);
    }
    sink_def_t *sd = rn_realloc(an->p->sinks, sizeof *sd * (size_t)(an->p->nsinks + 1));
    if (!sd) {
        an_oom(an);
        return false;
    }
    an->p->sinks = sd;
    sd[an->p->nsinks] = (sink_def_t){.op = sink, .table = t};
    an->p->nsinks++;
    if (t->dash && t->conn != &rn_connector_dashboard) return dashboard_twin(an, t, rel, query_pos);
    return true;
}

bool an_insert_stmt(analyzer_t *an, const rn_ast_stmt_t *st)
{
    table_def_t *t = an_find_table(an->p, st->insert.table);
    if (!t) {
        if (an_find_view(an, st->insert.table)) an_error(an, st->insert.table_pos, "cannot INSERT INTO view '%s'", st->insert.table);
        else an_error(an, st->insert.table_pos, "unknown table '%s'", st->insert.table);
        return false;
    }
    if (st->insert.overwrite) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, st->pos, "INSERT OVERWRITE is not supported on streams");
        return false;
    }
    int ntarget = st->insert.ncols ? st->insert.ncols : t->schema->ncols;
    int *target = an_alloc(an, sizeof(int) * (size_t)(ntarget ? ntarget : 1));
    if (!target) return false;
    if (!st->insert.ncols) { /* metadata columns are not written */
        ntarget = 0;
        for (int c = 0; c < t->schema->ncols; c++)
            if (!t->origin || t->origin[c] <= RN_FROM_KEY) target[ntarget++] = c;
    }
    for (int i = 0; i < st->insert.ncols; i++) {
        target[i] = rn_schema_find(t->schema, st->insert.cols[i]);
        if (target[i] < 0) {
            an_error(an, st->insert.table_pos, "table '%s' has no column '%s'", t->name, st->insert.cols[i]);
            return false;
        }
        if (t->origin && t->origin[target[i]] == RN_FROM_COMPUTED) {
            an_error(an, st->insert.table_pos, "computed column '%s' of '%s' cannot be written", st->insert.cols[i], t->name);
            return false;
        }
        if (t->origin && t->origin[target[i]] > RN_FROM_KEY) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, st->insert.table_pos, "metadata column '%s' of '%s' cannot be written yet", st->insert.cols[i], t->name);
            return false;
        }
    }
    rel_t rel;
    if (!an_compile_query(an, st->insert.query, &rel)) return false;
    return an_insert_into(an, t, target, ntarget, &rel, st->insert.table_pos, st->insert.query->pos);
}

/* A bare SELECT prints its changelog: an implicit 'print' table. */
bool an_select_stmt(analyzer_t *an, const rn_ast_stmt_t *st)
{
    rel_t rel;
    if (!an_compile_query(an, st->select, &rel)) return false;
    rn_pipeline_t *p = an->p;
    table_def_t *t = &p->tables[p->ntables];
    memset(t, 0, sizeof *t);
    char name[32];
    snprintf(name, sizeof name, "select_%d", ++an->nselects);
    t->name = an_strdup(an, name);
    t->conn = rn_connector_find("print");
    t->conf = an_alloc(an, t->conn->conf_size);
    t->schema = rn_schema_new(rel.ncols);
    if (!t->name || !t->conf || !t->schema) {
        rn_schema_unref(t->schema);
        an_oom(an);
        return false;
    }
    p->ntables++;
    int bad;
    char msg[128];
    rn_options_apply(t->conn, NULL, 0, t->conf, &p->plan_arena, &bad, msg, sizeof msg);
    int *target = an_alloc(an, sizeof(int) * (size_t)(rel.ncols ? rel.ncols : 1));
    if (!target) return false;
    for (int i = 0; i < rel.ncols; i++) {
        rn_schema_set(t->schema, i, rel.cols[i].name, rel.cols[i].type);
        target[i] = i;
    }
    return an_insert_into(an, t, target, rel.ncols, &rel, st->pos, st->select->pos);
}

/* Every SET key runnel implements; anything else is an error, so that a
 * setting that would do nothing is never accepted silently. */
static const char *const set_keys[] = {
    "table.exec.emit.allow-lateness",
    "table.exec.emit.early-fire.enabled",
    "table.exec.emit.early-fire.delay",
    "runnel.late-rows.table",
    "table.exec.state.ttl",
    "execution.runtime-mode",
    "table.local-time-zone",
    "parallelism.default",
    "execution.checkpointing.interval",
    "state.checkpoints.dir",
    "state.checkpoints.num-retained",
    "execution.checkpointing.mode",
    "table.optimizer.agg-phase-strategy",
};

/* SET 'key' = 'value': the settings runnel reads apply to the statements
 * after them (docs/sql.md lists them); an unknown key is an error with a
 * "did you mean". */
bool an_set_stmt(analyzer_t *an, const rn_ast_stmt_t *st)
{
    const char *k = st->set.key, *v = st->set.value;
    if (!strcmp(k, "table.exec.emit.allow-lateness") || !strcmp(k, "table.exec.emit.early-fire.delay") ||
        !strcmp(k, "table.exec.state.ttl")) {
        int64_t ms;
        if (!rn_duration_parse(v, &ms)) {
            an->err = RN_ERR_CONFIG;
            an_error(an, st->pos, "SET '%s': '%s' is not a duration such as '5 s' or '500 ms'", k, v);
            return false;
        }
        if (!strcmp(k, "table.exec.emit.allow-lateness")) an->allow_lateness_ms = ms;
        else if (!strcmp(k, "table.exec.state.ttl")) an->state_ttl_ms = ms;
        else an->early_fire_ms = ms;
    } else if (!strcmp(k, "table.exec.emit.early-fire.enabled")) {
        if (strcasecmp(v, "true") && strcasecmp(v, "false")) {
            an->err = RN_ERR_CONFIG;
            an_error(an, st->pos, "SET '%s': expected 'true' or 'false', not '%s'", k, v);
            return false;
        }
        an->early_fire = !strcasecmp(v, "true");
        if (an->early_fire && an->early_fire_ms <= 0) an->early_fire_ms = 1000;
    } else if (!strcmp(k, "table.optimizer.agg-phase-strategy")) {
        /* Flink's: AUTO and TWO_PHASE pre-aggregate window aggregates
         * before their repartition topic (op/window_combine.c), ONE_PHASE
         * does not. */
        if (strcasecmp(v, "AUTO") && strcasecmp(v, "TWO_PHASE") && strcasecmp(v, "ONE_PHASE")) {
            an->err = RN_ERR_CONFIG;
            an_error(an, st->pos, "SET '%s': expected 'AUTO', 'TWO_PHASE' or 'ONE_PHASE', not '%s'", k, v);
            return false;
        }
        an->agg_phase = (char)toupper((unsigned char)v[0]);
    } else if (!strcmp(k, "runnel.late-rows.table")) {
        an->late_table = *v ? v : NULL;
        an->late_table_pos = st->pos;
    } else if (!strcmp(k, "execution.runtime-mode")) {
        /* Accepted for Flink scripts: runnel always runs as a stream. */
        if (strcasecmp(v, "streaming")) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, st->pos, "SET '%s' = '%s': runnel runs pipelines as streams only ('streaming')",
                     k, v);
            return false;
        }
    } else if (!strcmp(k, "parallelism.default")) {
        /* Workers of `runnel run` (runtime/workers.c); --workers wins. */
        char *end;
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < 1 || n > RN_MAX_WORKERS) {
            an->err = RN_ERR_CONFIG;
            an_error(an, st->pos, "SET '%s': expected a number of workers from 1 to %d, not '%s'", k,
                     RN_MAX_WORKERS, v);
            return false;
        }
        an->p->parallelism = (int)n;
    } else if (!strcmp(k, "execution.checkpointing.interval")) {
        /* Checkpoints of `runnel run` (runtime/checkpoint.c); '0' turns them off. */
        int64_t ms;
        if (!rn_duration_parse(v, &ms) || ms < 0) {
            an->err = RN_ERR_CONFIG;
            an_error(an, st->pos, "SET '%s': '%s' is not a duration such as '10 s' (or '0' for no checkpoints)",
                     k, v);
            return false;
        }
        an->p->ckpt_interval_ms = ms;
    } else if (!strcmp(k, "execution.checkpointing.mode")) {
        /* EXACTLY_ONCE: state exactly once through repartition topics, in
         * a Kafka transaction per checkpoint (docs/checkpoints.md). */
        if (strcasecmp(v, "EXACTLY_ONCE") && strcasecmp(v, "AT_LEAST_ONCE")) {
            an->err = RN_ERR_CONFIG;
            an_error(an, st->pos, "SET '%s': expected 'EXACTLY_ONCE' or 'AT_LEAST_ONCE', not '%s'", k, v);
            return false;
        }
        an->p->ckpt_exactly_once = !strcasecmp(v, "EXACTLY_ONCE");
    } else if (!strcmp(k, "state.checkpoints.dir")) {
        if (!*v) {
            an->err = RN_ERR_CONFIG;
            an_error(an, st->pos, "SET '%s': the directory must not be empty", k);
            return false;
        }
        an->p->ckpt_dir = v;
    } else if (!strcmp(k, "state.checkpoints.num-retained")) {
        char *end;
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < 1 || n > 1000) {
            an->err = RN_ERR_CONFIG;
            an_error(an, st->pos, "SET '%s': expected a number from 1 to 1000, not '%s'", k, v);
            return false;
        }
        an->p->ckpt_retained = (int)n;
    } else if (!strcmp(k, "table.local-time-zone")) {
        /* Accepted for Flink scripts: every time is UTC (docs/event-time.md). */
        if (strcmp(v, "UTC") && strcmp(v, "Z") && strcmp(v, "Etc/UTC") && strcmp(v, "GMT")) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, st->pos, "SET '%s' = '%s': runnel computes every time in UTC ('UTC')", k, v);
            return false;
        }
    } else {
        const char *best = NULL;
        int bestd = 5;
        for (size_t i = 0; i < sizeof set_keys / sizeof *set_keys; i++) {
            int d = rn_text_distance(k, set_keys[i]);
            if (!strncmp(set_keys[i], k, strlen(k)) && strlen(k) >= 8) d = 1; /* a cut-off key */
            if (d < bestd) {
                bestd = d;
                best = set_keys[i];
            }
        }
        an->err = RN_ERR_CONFIG;
        if (best) {
            an_error(an, st->pos, "unknown setting '%s'; did you mean '%s'?", k, best);
        } else {
            char known[512] = "";
            size_t len = 0;
            for (size_t i = 0; i < sizeof set_keys / sizeof *set_keys && len < sizeof known; i++)
                len += (size_t)snprintf(known + len, sizeof known - len, "%s'%s'", i ? ", " : "", set_keys[i]);
            an_error(an, st->pos, "unknown setting '%s' (runnel implements %s)", k, known);
        }
        return false;
    }
    return true;
}
