/*
 * override.c - table options given outside the pipeline file, as Flink's
 * dynamic table options (/ *+ OPTIONS(...) * / hints) are: `runnel run
 * --set TABLE.OPTION=VALUE` sets (or adds) one option of a CREATE TABLE,
 * `--connector TABLE=NAME` gives a table another connector, so an example
 * runs unchanged except where its tables must point elsewhere (docs/cli.md).
 *
 * They rewrite the parsed WITH clauses before the analyzer sees them, so
 * everything after (${VAR} expansion, option checks, the connector's own
 * validation) treats them as if they had been written in the file. A new
 * connector keeps only the options it declares (and those every table
 * takes); the dropped ones are named in the log. Connector replacements
 * are applied first, then the options in order, so --set can give the new
 * connector its options.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "connectors/dashboard.h"
#include "core/log.h"
#include "plan/compiled.h"

/* True when connector c accepts key: its own options, its passthrough
 * prefix, and what every table takes. */
static bool override_keeps(const rn_connector_t *c, const char *key)
{
    if (!strcmp(key, "connector") || !strcmp(key, "scan.watermark.idle-timeout") ||
        !strcmp(key, "scan.watermark.quiet-timeout") || !strcmp(key, "scan.watermark.alignment.max-drift"))
        return true;
    if (!strcmp(key, "sink.max-retries") && (c->roles & RN_ROLE_SINK)) return true;
    if (rn_dash_is_option(key) && (c->roles & RN_ROLE_SINK) && c != &rn_connector_dashboard) return true;
    if (c->passthrough && !strncmp(key, c->passthrough, strlen(c->passthrough))) return true;
    for (const rn_option_spec_t *o = c->options; o && o->key; o++)
        if (!strcmp(o->key, key)) return true;
    return false;
}

/* Gives CREATE TABLE st the connector c, dropping the options c does not
 * take (logged). Returns RN_OK or RN_ERR_NOMEM. */
static rn_err_t override_connector(rn_pipeline_t *p, rn_ast_stmt_t *st, const rn_connector_t *c)
{
    const char *old = "(none)";
    int n = st->create_table.noptions, kept = 0;
    rn_ast_option_t *opts = st->create_table.options;
    rn_buf_t dropped;
    rn_buf_init(&dropped);
    for (int i = 0; i < n; i++) {
        if (!strcmp(opts[i].key, "connector")) {
            old = opts[i].value;
            opts[i].value = (char *)c->name;
        } else if (!override_keeps(c, opts[i].key)) {
            rn_buf_appendf(&dropped, "%s'%s'", dropped.len ? ", " : "", opts[i].key);
            continue;
        }
        opts[kept++] = opts[i];
    }
    bool has_conn = false;
    for (int i = 0; i < kept; i++) has_conn |= !strcmp(opts[i].key, "connector");
    if (!has_conn) {
        rn_ast_option_t *grown = rn_arena_calloc(&p->ast_arena, (size_t)kept + 1, sizeof *grown);
        if (!grown) {
            rn_buf_free(&dropped);
            return RN_ERR_NOMEM;
        }
        memcpy(grown, opts, sizeof *opts * (size_t)kept);
        grown[kept] = (rn_ast_option_t){.key = "connector", .value = (char *)c->name,
                                        .key_pos = st->create_table.name_pos,
                                        .value_pos = st->create_table.name_pos};
        opts = grown;
        kept++;
    }
    st->create_table.options = opts;
    st->create_table.noptions = kept;
    rn_log_warn("table '%s': connector '%s' replaced by '%s' (--connector)%s%s", st->create_table.name, old,
                c->name, dropped.len ? "; options it does not take dropped: " : "",
                dropped.data ? dropped.data : "");
    bool oom = dropped.oom;
    rn_buf_free(&dropped);
    return oom ? RN_ERR_NOMEM : RN_OK;
}

/* Sets option key of CREATE TABLE st to value, adding it when absent.
 * Returns RN_OK or RN_ERR_NOMEM. */
static rn_err_t override_option(rn_pipeline_t *p, rn_ast_stmt_t *st, const char *key, const char *value)
{
    char *v = rn_arena_strndup(&p->ast_arena, value, strlen(value));
    if (!v) return RN_ERR_NOMEM;
    int n = st->create_table.noptions;
    for (int i = 0; i < n; i++)
        if (!strcmp(st->create_table.options[i].key, key)) {
            st->create_table.options[i].value = v;
            return RN_OK;
        }
    rn_ast_option_t *grown = rn_arena_calloc(&p->ast_arena, (size_t)n + 1, sizeof *grown);
    char *k = rn_arena_strndup(&p->ast_arena, key, strlen(key));
    if (!grown || !k) return RN_ERR_NOMEM;
    if (n) memcpy(grown, st->create_table.options, sizeof *grown * (size_t)n);
    grown[n] = (rn_ast_option_t){.key = k, .value = v, .key_pos = st->create_table.name_pos,
                                 .value_pos = st->create_table.name_pos};
    st->create_table.options = grown;
    st->create_table.noptions = n + 1;
    return RN_OK;
}

rn_err_t rn_pipeline_apply_overrides(rn_pipeline_t *p, const rn_table_override_t *ov, int nov, int *used,
                                     char *errbuf, size_t errbuf_size)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < nov; i++) {
            bool connector = ov[i].key == NULL;
            if (connector != (pass == 0)) continue;
            const rn_connector_t *c = NULL;
            if (connector && !(c = rn_connector_find(ov[i].value))) {
                rn_buf_t known;
                rn_buf_init(&known);
                rn_connector_list(&known);
                snprintf(errbuf, errbuf_size, "--connector %s=%s: unknown connector '%s'; known connectors: %s",
                         ov[i].table, ov[i].value, ov[i].value, known.data ? known.data : "");
                rn_buf_free(&known);
                return RN_ERR_CONFIG;
            }
            for (int s = 0; s < p->script->nstmts; s++) {
                rn_ast_stmt_t *st = p->script->stmts[s];
                if (st->kind != RN_STMT_CREATE_TABLE || strcmp(st->create_table.name, ov[i].table)) continue;
                rn_err_t err = connector ? override_connector(p, st, c)
                                         : override_option(p, st, ov[i].key, ov[i].value);
                if (err != RN_OK) {
                    snprintf(errbuf, errbuf_size, "out of memory");
                    return err;
                }
                if (used) used[i]++;
            }
        }
    return RN_OK;
}
