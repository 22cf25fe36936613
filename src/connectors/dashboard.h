/*
 * dashboard.h - dashboard tables: sink tables kept in memory for the live
 * dashboard and /api/tables/NAME (docs/dashboard.md, "Dashboard tables").
 *
 * A table is either the 'dashboard' connector's, or the in-memory twin of
 * any sink table with 'dashboard' = 'true' (the planner gives it a second
 * Sink operator on the same input). With a key (PRIMARY KEY) it is an
 * upsert table: the latest row per key, a retraction removes the key; it
 * holds at most 'dashboard.max-keys' keys. Without, an append table: a
 * ring of the last 'dashboard.max-rows' rows.
 *
 * A table is written and rendered on its pipeline's thread only: there is
 * no lock. Each row is one allocation holding its key text and its
 * rendered JSON array, so rendering copies bytes; the rendered table
 * object is cached until the next change, and sorting happens at most once
 * per change between renders.
 */
#ifndef RN_DASHBOARD_H
#define RN_DASHBOARD_H

#include <stdbool.h>
#include <stdint.h>

#include "connectors/connector.h"

/* The 'dashboard.*' options: the 'dashboard' connector's config struct,
 * and what 'dashboard' = 'true' on another sink table carries. */
typedef struct rn_dash_conf {
    bool enabled;               /* 'dashboard' = 'true' (another connector's table) */
    int64_t max_rows;           /* 'dashboard.max-rows': rows shown (append: kept) */
    int64_t max_keys;           /* 'dashboard.max-keys': keys an upsert table keeps */
    const char *sort;           /* 'dashboard.sort': "col", "col ASC", "col DESC", or NULL */
    const char *chart;          /* 'dashboard.chart': auto | bars | line | none */
    const char *key;            /* 'dashboard.key': "col,col" keying the table, or NULL:
                                 * the table's PRIMARY KEY */
} rn_dash_conf_t;

typedef struct rn_dash_table rn_dash_table_t;

/* True for the keys the generic option handling gives every sink table:
 * 'dashboard' and 'dashboard.*'. */
bool rn_dash_is_option(const char *key);

/* Reads 'dashboard' and 'dashboard.*' from opts into *out (defaults for
 * the others). Returns RN_ERR_CONFIG with a message starting "option
 * 'KEY'" and the offending option's index in *bad (-1 when none) for an
 * unknown 'dashboard.*' key, a bad value, or 'dashboard.*' options without
 * 'dashboard' = 'true' (unless dash_connector: the 'dashboard' connector's
 * own table). */
rn_err_t rn_dash_conf_parse(const rn_option_t *opts, int nopts, bool dash_connector, rn_dash_conf_t *out,
                            int *bad /* out */, char *errbuf, size_t errbuf_size);

/* Checks the options that name columns against a table of schema s with
 * PRIMARY KEY pk[0..npk): the key columns exist, the sort column exists ("option
 * 'dashboard.sort' ..."), an explicit chart can be drawn ("option
 * 'dashboard.chart' ..."). RN_ERR_CONFIG with a message when not. */
rn_err_t rn_dash_check(const rn_dash_conf_t *c, const rn_schema_t *s, int npk, const int *pk, char *errbuf,
                       size_t errbuf_size);

/* The dashboard table's key columns: 'dashboard.key' when set, else
 * pk[0..npk). Writes them to out (room for s->ncols) and returns how many;
 * -1 when 'dashboard.key' names a column s lacks. */
int rn_dash_key(const rn_dash_conf_t *c, const rn_schema_t *s, int npk, const int *pk, int *out /* out */);

/* Creates an empty table named name of pipeline pipeline (both copied)
 * with schema s (referenced) and key pk[0..npk) (copied; npk = 0: an
 * append table). c must have passed rn_dash_check. Returns RN_OK and the
 * table in *out (free with rn_dash_table_free), or RN_ERR_NOMEM. */
rn_err_t rn_dash_table_new(const rn_dash_conf_t *c, const char *pipeline, const char *name,
                           const rn_schema_t *s, int npk, const int *pk, rn_dash_table_t **out /* out */);
void rn_dash_table_free(rn_dash_table_t *t);

/* Applies rows[0..n) of b (schema s) in order: an upsert table replaces
 * the key's row (+I, +U) or removes it (-U, -D); an append table appends
 * (retractions are ignored). now_ms becomes updated_ms. RN_ERR_NOMEM when
 * a row could not be stored (the table stays consistent without it). */
rn_err_t rn_dash_table_apply(rn_dash_table_t *t, const rn_batch_t *b, const int *rows, int n, int64_t now_ms);

/* Rows the table holds. */
int64_t rn_dash_table_size(const rn_dash_table_t *t);
/* The table's name. */
const char *rn_dash_table_name(const rn_dash_table_t *t);

/* True when the table changed since the last rn_dash_table_json with
 * clear_changed set (or since it was created, when it holds rows). */
bool rn_dash_table_changed(const rn_dash_table_t *t);

/* Appends the table object of /api/tables/NAME (docs/dashboard.md): name,
 * pipeline, columns, key, chart, sort ({"column","desc"} or null),
 * max_rows, updated_ms (null before the first row), total_rows, and rows:
 * the first max-rows in sort order; without a sort also changes (each
 * shown row's change number, a counter of the whole process). clear_changed
 * clears the changed flag. RN_ERR_NOMEM when out could not grow. Costs a
 * copy of the cached text when nothing changed since the last call. */
rn_err_t rn_dash_table_json(rn_dash_table_t *t, rn_buf_t *out, bool clear_changed);

/* As rn_dash_table_json with rows holding only the row whose key is key
 * (its text: a string as is, a number or timestamp in digits), or no row
 * when there is none. RN_ERR_CONFIG with a message when the table has no
 * one-column key. Leaves the changed flag alone. */
rn_err_t rn_dash_table_row_json(rn_dash_table_t *t, const char *key, rn_buf_t *out, char *errbuf,
                                size_t errbuf_size);

/* Opens a sink writer that applies its rows to a dashboard table: to
 * shared when not NULL (another INSERT into the same table: the writer
 * does not own it, and must be closed before or with its owner), else to
 * a new table for ctx's table (ctx->schema, ctx->sink_mode, ctx->npk/pk,
 * ctx->pipeline), owned by the writer, which frees it on close. *table is
 * the table written, borrowed. RN_ERR_NOMEM on failure. */
rn_err_t rn_dash_sink_open(const rn_dash_conf_t *c, const rn_open_ctx_t *ctx, rn_dash_table_t *shared,
                           rn_sink_io_t **out /* out */, rn_dash_table_t **table /* out */);

/* Appends "max-rows 1000, sort views DESC, chart auto" for explain. */
void rn_dash_describe(const rn_dash_conf_t *c, rn_buf_t *out);

extern const rn_connector_t rn_connector_dashboard;

#endif
