/*
 * analyze.c - from syntax tree to operator graph: name resolution, type
 * checking, implicit casts, aggregate rewriting, changelog checks.
 *
 * Everything a pipeline file can get wrong is found here, before any input
 * is read, and reported with the line:column of the offending text.
 *
 * Shape of a compiled SELECT block (like Flink's physical plan):
 *   FROM            -> a relation: an operator plus named, typed columns
 *   WHERE           -> Calc(where)
 *   GROUP BY / aggs -> Calc(select keys and aggregate arguments)
 *                      -> GroupAggregate -> Calc(where HAVING) -> Calc(select)
 *   otherwise       -> Calc(select)
 *   INSERT          -> Calc(cast to the sink's columns) -> Sink
 * Views and WITH queries are inlined where they are used; source scans are
 * shared. Columns of a source that no query touches are never decoded.
 *
 * This file holds the entry point rn_analyze, error reporting and the
 * helpers every part uses; the rest is split by concern behind
 * analyze_int.h: bind.c (types and expressions), from.c (relations and
 * FROM), select.c (SELECT blocks), ddl.c (the statements).
 */
#include "plan/analyze_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "lang/diag.h"

/* ---- errors --------------------------------------------------------- */

void an_error(analyzer_t *an, rn_pos_t pos, const char *fmt, ...)
{
    if (an->failed) return; /* keep the first error */
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rn_diag_format(an->errbuf, an->errbuf_size, an->p->filename, an->p->src, an->p->srclen, pos,
                   "%s", msg);
    an->failed = true;
    if (an->err == RN_OK) an->err = RN_ERR_ANALYZE;
}

void an_oom(analyzer_t *an)
{
    if (an->failed) return;
    snprintf(an->errbuf, an->errbuf_size, "%s: out of memory while compiling", an->p->filename);
    an->failed = true;
    an->err = RN_ERR_NOMEM;
}

void *an_alloc(analyzer_t *an, size_t size)
{
    void *p = rn_arena_calloc(&an->p->plan_arena, 1, size ? size : 1);
    if (!p) an_oom(an);
    return p;
}

char *an_strdup(analyzer_t *an, const char *s)
{
    char *p = rn_arena_strndup(&an->p->plan_arena, s, strlen(s));
    if (!p) an_oom(an);
    return p;
}

/* Registers an operator with the pipeline (which frees it). */
rn_op_t *an_track(analyzer_t *an, rn_op_t *op)
{
    if (!op) {
        an_oom(an);
        return NULL;
    }
    rn_op_t **ops = rn_realloc(an->p->ops, sizeof *ops * (size_t)(an->p->nops + 1));
    if (!ops) {
        rn_op_free(op);
        an_oom(an);
        return NULL;
    }
    ops[an->p->nops++] = op;
    an->p->ops = ops;
    op->id = an->p->nops;
    return op;
}

bool an_connect(analyzer_t *an, rn_op_t *from, rn_op_t *to)
{
    if (rn_op_connect(from, to, 0) != RN_OK) {
        an_oom(an);
        return false;
    }
    return true;
}

rn_err_t rn_analyze(rn_pipeline_t *p, char *errbuf, size_t errbuf_size)
{
    analyzer_t an = {.p = p, .errbuf = errbuf, .errbuf_size = errbuf_size};
    const rn_ast_script_t *s = p->script;
    int ntables = 0, nviews = 0;
    for (int i = 0; i < s->nstmts; i++) {
        ntables += s->stmts[i]->kind == RN_STMT_CREATE_TABLE || s->stmts[i]->kind == RN_STMT_SELECT;
        nviews += s->stmts[i]->kind == RN_STMT_CREATE_VIEW;
    }
    p->ckpt_interval_ms = -1; /* not set: the runtime's default */
    p->tables = rn_calloc((size_t)(ntables + 1), sizeof *p->tables);
    p->views = rn_calloc((size_t)(nviews + 1), sizeof *p->views);
    if (!p->tables || !p->views) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return RN_ERR_NOMEM;
    }
    int ninserts = 0;
    for (int i = 0; i < s->nstmts && !an.failed; i++) {
        const rn_ast_stmt_t *st = s->stmts[i];
        switch (st->kind) {
        case RN_STMT_CREATE_TABLE: an_create_table(&an, st); break;
        case RN_STMT_CREATE_VIEW: an_create_view(&an, st); break;
        case RN_STMT_INSERT: an_insert_stmt(&an, st); ninserts++; break;
        case RN_STMT_SELECT: an_select_stmt(&an, st); ninserts++; break;
        case RN_STMT_SET: an_set_stmt(&an, st); break;
        }
    }
    if (!an.failed && ninserts == 0) {
        rn_pos_t pos = {1, 1, 0, 1};
        an_error(&an, pos, "the pipeline has no INSERT INTO or SELECT statement, so it would do nothing");
    }
    /* A sink may not write the file a source reads (the 'filesystem'
     * connector): it would be emptied before it is read. `runnel test`
     * checks its own files when it opens them. */
    for (int j = 0; j < p->nsinks && !an.failed; j++) {
        const table_def_t *dst = p->sinks[j].table;
        const char *out = dst->conn->file_path ? dst->conn->file_path(dst->conf) : NULL;
        for (int i = 0; out && i < p->ntables && !an.failed; i++) {
            const table_def_t *src = &p->tables[i];
            const char *in = src->source && src->conn->file_path ? src->conn->file_path(src->conf) : NULL;
            if (!in || !rn_file_same(in, out)) continue;
            an.err = RN_ERR_CONFIG;
            an_error(&an, dst->pos,
                     "table '%s' writes %s, which table '%s' reads: it would be emptied before it is read; "
                     "write to another 'path'",
                     dst->name, out, src->name);
        }
    }
    if (!an.failed) {
        /* Unused views are still checked, compiled over private scans that
         * no source feeds, so their mistakes are reported too. */
        an.check_only = true;
        for (int i = 0; i < p->nviews && !an.failed; i++) {
            if (p->views[i].used) continue;
            rel_t rel;
            p->views[i].compiling = true;
            an_compile_query(&an, p->views[i].query, &rel);
            p->views[i].compiling = false;
        }
    }
    if (!an.failed) an_reuse_subplans(&an);
    return an.failed ? an.err : RN_OK;
}
