/*
 * pipeline.c - loading, freeing and explaining a compiled pipeline. Running
 * it is runtime/run.c.
 */
#include "plan/plan_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "json/json.h"
#include "lang/parser.h"

rn_err_t rn_pipeline_compile(const char *src, size_t len, const char *filename, rn_pipeline_t **out,
                             char *errbuf, size_t errbuf_size)
{
    return rn_pipeline_compile_with(src, len, filename, NULL, 0, NULL, out, errbuf, errbuf_size);
}

rn_err_t rn_pipeline_compile_with(const char *src, size_t len, const char *filename,
                                  const rn_table_override_t *ov, int nov, int *used,
                                  rn_pipeline_t **out, char *errbuf, size_t errbuf_size)
{
    *out = NULL;
    rn_pipeline_t *p = rn_calloc(1, sizeof *p);
    if (!p) goto oom;
    rn_arena_init(&p->ast_arena, 64 << 10);
    rn_arena_init(&p->plan_arena, 64 << 10);
    p->filename = rn_strdup(filename ? filename : "<sql>");
    p->src = rn_strndup(src, len);
    if (!p->filename || !p->src) goto oom;
    p->srclen = len;
    rn_err_t err = rn_parse_script(p->src, len, p->filename, &p->ast_arena, &p->script, errbuf, errbuf_size);
    if (err == RN_OK && nov > 0) err = rn_pipeline_apply_overrides(p, ov, nov, used, errbuf, errbuf_size);
    if (err == RN_OK) err = rn_analyze(p, errbuf, errbuf_size);
    if (err != RN_OK) {
        rn_pipeline_free(p);
        return err;
    }
    *out = p;
    return RN_OK;
oom:
    rn_pipeline_free(p);
    snprintf(errbuf, errbuf_size, "out of memory loading %s", filename ? filename : "pipeline");
    return RN_ERR_NOMEM;
}

rn_err_t rn_pipeline_load(const char *path, rn_pipeline_t **out, char *errbuf, size_t errbuf_size)
{
    return rn_pipeline_load_with(path, NULL, 0, NULL, out, errbuf, errbuf_size);
}

rn_err_t rn_pipeline_load_with(const char *path, const rn_table_override_t *ov, int nov, int *used,
                               rn_pipeline_t **out, char *errbuf, size_t errbuf_size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(errbuf, errbuf_size, "cannot open %s: %s", path, strerror(errno));
        return RN_ERR_IO;
    }
    rn_buf_t b;
    rn_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) rn_buf_append(&b, chunk, n);
    bool failed = ferror(fp) || b.oom;
    fclose(fp);
    if (failed) {
        rn_buf_free(&b);
        snprintf(errbuf, errbuf_size, "cannot read %s", path);
        return RN_ERR_IO;
    }
    rn_err_t err = rn_pipeline_compile_with(b.data ? b.data : "", b.len, path, ov, nov, used, out, errbuf,
                                            errbuf_size);
    rn_buf_free(&b);
    return err;
}

void rn_pipeline_name(const rn_pipeline_t *p, char *buf, size_t size)
{
    const char *base = strrchr(p->filename, '/');
    base = base ? base + 1 : p->filename;
    size_t len = strlen(base);
    if (len > 4 && !strcmp(base + len - 4, ".sql")) len -= 4;
    snprintf(buf, size, "%.*s", (int)len, base);
}

void rn_pipeline_free(rn_pipeline_t *p)
{
    if (!p) return;
    /* Sources first, while the operators after them still exist: closing
     * a Kafka reader leaves its group, and the revocation commits what the
     * operators downstream no longer hold (rn_source_commit_limit). */
    for (int i = 0; i < p->nops; i++)
        if (p->ops[i] && !strcmp(p->ops[i]->vt->kind, "Source")) {
            rn_op_free(p->ops[i]);
            p->ops[i] = NULL;
        }
    for (int i = 0; i < p->nops; i++) rn_op_free(p->ops[i]);
    for (int i = 0; i < p->nretired; i++) rn_op_free(p->retired[i]);
    rn_free(p->retired);
    if (p->txn) p->txn->close(p->txn); /* after the sinks and Exchanges that wrote in it */
    for (int i = 0; i < p->ntables; i++) rn_schema_unref(p->tables[i].schema);
    rn_free(p->ops);
    rn_free(p->sources);
    rn_free(p->sinks);
    rn_free(p->lookups);
    rn_free(p->tables);
    rn_free(p->views);
    if (!p->dlq_shared) rn_dlq_free(p->dlq);
    rn_file_outs_free(p->files); /* after the sinks (ops), which share its files */
    for (int i = 0; p->resume_notes && i < p->nsources; i++) rn_free(p->resume_notes[i].sinks);
    rn_free(p->resume_notes);
    rn_free(p->recv_origins);
    rn_arena_free(&p->ast_arena);
    rn_arena_free(&p->plan_arena);
    rn_free(p->filename);
    rn_free(p->src);
    rn_free(p);
}

void rn_pipeline_explain(const rn_pipeline_t *p, rn_buf_t *out)
{
    for (int i = 0; i < p->nsinks; i++) {
        if (i) rn_buf_appendc(out, '\n');
        rn_op_explain(p->sinks[i].op, out);
    }
    rn_buf_appendf(out, "\n%d source scan%s, %d sink%s, %d operators\n", p->nsources,
                   p->nsources == 1 ? "" : "s", p->nsinks, p->nsinks == 1 ? "" : "s", p->nops);
}

int rn_pipeline_nsources(const rn_pipeline_t *p) { return p->nsources; }
rn_op_t *rn_pipeline_source(const rn_pipeline_t *p, int i) { return p->sources[i]; }
int rn_pipeline_nsinks(const rn_pipeline_t *p) { return p->nsinks; }
rn_op_t *rn_pipeline_sink(const rn_pipeline_t *p, int i) { return p->sinks[i].op; }
const char *rn_pipeline_sink_name(const rn_pipeline_t *p, int i) { return p->sinks[i].table->name; }
bool rn_pipeline_sink_is_dashboard_twin(const rn_pipeline_t *p, int i) { return p->sinks[i].dash_twin; }
int rn_pipeline_nops(const rn_pipeline_t *p) { return p->nops; }
rn_op_t *rn_pipeline_op(const rn_pipeline_t *p, int i) { return p->ops[i]; }
int rn_pipeline_parallelism(const rn_pipeline_t *p) { return p->parallelism; }

void rn_pipeline_no_checkpoints(rn_pipeline_t *p) { p->ckpt_interval_ms = 0; }

const rn_ckpt_stats_t *rn_pipeline_ckpt_stats(const rn_pipeline_t *p) { return &p->ckpt_stats; }
uint64_t rn_pipeline_dlq_count(const rn_pipeline_t *p) { return rn_dlq_count(p->dlq); }

/* True when sink i writes a dashboard table that no earlier sink writes
 * (several INSERTs into one table share it). */
static bool dash_first(const rn_pipeline_t *p, int i)
{
    const sink_def_t *sd = &p->sinks[i];
    if (!sd->dash_twin && sd->table->conn != &rn_connector_dashboard) return false;
    for (int j = 0; j < i; j++)
        if (p->sinks[j].table == sd->table &&
            (p->sinks[j].dash_twin || p->sinks[j].table->conn == &rn_connector_dashboard))
            return false;
    return true;
}

int rn_pipeline_ndashboards(const rn_pipeline_t *p)
{
    int n = 0;
    for (int i = 0; i < p->nsinks; i++) n += dash_first(p, i);
    return n;
}

const char *rn_pipeline_dashboard_name(const rn_pipeline_t *p, int i)
{
    for (int s = 0; s < p->nsinks; s++)
        if (dash_first(p, s) && i-- == 0) return p->sinks[s].table->name;
    return NULL;
}

rn_err_t rn_pipeline_dashboard_json(const rn_pipeline_t *p, rn_buf_t *out, bool changed_only)
{
    rn_buf_appendc(out, '{');
    bool first = true;
    for (int i = 0; i < p->nsinks; i++) {
        rn_dash_table_t *t = p->sinks[i].dash;
        if (!t || !dash_first(p, i) || (changed_only && !rn_dash_table_changed(t))) continue;
        if (!first) rn_buf_appends(out, ", ");
        first = false;
        rn_json_write_string(out, p->sinks[i].table->name, strlen(p->sinks[i].table->name));
        rn_buf_appends(out, ": ");
        rn_err_t err = rn_dash_table_json(t, out, changed_only);
        if (err != RN_OK) return err;
    }
    rn_buf_appendc(out, '}');
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}

void rn_pipeline_dashboard_tables_json(const rn_pipeline_t *p, rn_buf_t *out)
{
    if (rn_pipeline_ndashboards(p) > 0) (void)rn_pipeline_dashboard_json(p, out, false);
}

rn_err_t rn_pipeline_dashboard_table_json(const rn_pipeline_t *p, const char *name, const char *key,
                                          rn_buf_t *out, char *errbuf, size_t errbuf_size)
{
    for (int i = 0; i < p->nsinks; i++) {
        rn_dash_table_t *t = p->sinks[i].dash;
        if (!t || strcmp(p->sinks[i].table->name, name)) continue;
        return key ? rn_dash_table_row_json(t, key, out, errbuf, errbuf_size) : rn_dash_table_json(t, out, false);
    }
    snprintf(errbuf, errbuf_size, "no dashboard table '%s' in pipeline '%s'", name, p->filename);
    return RN_ERR_CONFIG;
}
