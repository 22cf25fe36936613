/*
 * source.c - the source scan operator and the dead-letter output.
 *
 * A source pulls raw records from its reader, decodes the JSON of each
 * straight into the columns of a batch (only the columns the plan uses),
 * and emits the batch. A record that does not decode is not dropped: it is
 * written, untouched, to the dead-letter output with the reason, and the
 * batch is compacted so the rows stay dense.
 */
#include "connectors/connector.h"
#include "core/log.h"
#include "core/mem.h"
#include "json/json.h"
#include "op/op.h"

#include <stdio.h>
#include <string.h>

/* ---- dead-letter output ------------------------------------------------ */

#define DLQ_STDERR_MAX 20

struct rn_dlq {
    char *path;                 /* file, created on first record */
    FILE *fp;
    uint64_t count;
    rn_buf_t line;
};

rn_dlq_t *rn_dlq_new(const char *path)
{
    rn_dlq_t *d = rn_calloc(1, sizeof *d);
    if (!d) return NULL;
    d->path = rn_strdup(path);
    if (!d->path) {
        rn_free(d);
        return NULL;
    }
    rn_buf_init(&d->line);
    return d;
}

rn_err_t rn_dlq_write(rn_dlq_t *d, const char *table, const char *where, int64_t position,
                      const char *error, const char *raw, size_t rawlen)
{
    d->count++;
    if (d->count <= DLQ_STDERR_MAX)
        rn_log_error("%s:%lld: %s (record sent to %s)", where, (long long)position, error, d->path);
    else if (d->count == DLQ_STDERR_MAX + 1)
        rn_log_error("more undecodable records follow; see %s", d->path);
    if (!d->fp) {
        d->fp = fopen(d->path, "w");
        if (!d->fp) {
            rn_log_error("cannot create dead-letter file %s", d->path);
            return RN_ERR_IO;
        }
    }
    rn_buf_clear(&d->line);
    rn_buf_appends(&d->line, "{\"source\":");
    rn_json_write_string(&d->line, table, strlen(table));
    rn_buf_appends(&d->line, ",\"file\":");
    rn_json_write_string(&d->line, where, strlen(where));
    rn_buf_appends(&d->line, ",\"line\":");
    rn_buf_append_i64(&d->line, position);
    rn_buf_appends(&d->line, ",\"error\":");
    rn_json_write_string(&d->line, error, strlen(error));
    rn_buf_appends(&d->line, ",\"value\":");
    rn_json_write_string(&d->line, raw, rawlen);
    rn_buf_appends(&d->line, "}\n");
    if (d->line.oom) return RN_ERR_NOMEM;
    if (fwrite(d->line.data, 1, d->line.len, d->fp) != d->line.len) return RN_ERR_IO;
    return RN_OK;
}

uint64_t rn_dlq_count(const rn_dlq_t *d) { return d ? d->count : 0; }

void rn_dlq_free(rn_dlq_t *d)
{
    if (!d) return;
    if (d->fp) fclose(d->fp);
    rn_buf_free(&d->line);
    rn_free(d->path);
    rn_free(d);
}

/* ---- source ------------------------------------------------------------- */

typedef struct source_col {
    bool used;                  /* decoded (projection pushdown) */
    int nparts;                 /* JSON path */
    char **parts;
} source_col_t;

typedef struct source {
    char *label;                /* table name */
    char *describe;             /* connector details for explain */
    source_col_t *cols;         /* per schema column */
    rn_reader_t *reader;        /* owned */
    rn_dlq_t *dlq;              /* not owned */
    rn_json_decoder_t *decoder;
    int nused;
    int *used;                  /* indices of used columns */
    rn_value_t **dec_cols;      /* per used column, the batch array to fill */
    rn_record_t recs[RN_BATCH_MAX];
    uint64_t records, errors;
} source_t;

static void source_explain(const rn_op_t *op, rn_buf_t *out)
{
    const source_t *s = op->priv;
    rn_buf_appendf(out, "%s (%s), reads [", s->label, s->describe);
    int n = 0;
    for (int c = 0; c < op->schema->ncols; c++)
        if (s->cols[c].used) rn_buf_appendf(out, "%s%s", n++ ? ", " : "", op->schema->cols[c].name);
    rn_buf_appends(out, "]");
}

static void source_destroy(rn_op_t *op)
{
    source_t *s = op->priv;
    for (int c = 0; c < op->schema->ncols; c++) {
        for (int i = 0; i < s->cols[c].nparts; i++) rn_free(s->cols[c].parts[i]);
        rn_free(s->cols[c].parts);
    }
    if (s->reader) s->reader->close(s->reader);
    rn_json_decoder_free(s->decoder);
    rn_free(s->cols);
    rn_free(s->used);
    rn_free(s->dec_cols);
    rn_free(s->label);
    rn_free(s->describe);
    rn_free(s);
}

static rn_err_t source_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    return RN_OK; /* sources have no inputs */
}

static const rn_op_vtable_t source_vtable = {
    .kind = "Source",
    .process = source_process,
    .explain = source_explain,
    .destroy = source_destroy,
};

rn_op_t *rn_source_new(rn_schema_t *schema, const char *label, const char *describe)
{
    source_t *s = rn_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->label = rn_strdup(label);
    s->describe = rn_strdup(describe ? describe : "");
    s->cols = rn_calloc((size_t)(schema->ncols ? schema->ncols : 1), sizeof *s->cols);
    rn_op_t *op = s->label && s->describe && s->cols ? rn_op_new(&source_vtable, schema, NULL) : NULL;
    if (!op) {
        rn_free(s->label);
        rn_free(s->describe);
        rn_free(s->cols);
        rn_free(s);
        return NULL;
    }
    op->priv = s;
    return op;
}

rn_err_t rn_source_set_path(rn_op_t *op, int col, int nparts, const char *const *parts)
{
    source_t *s = op->priv;
    source_col_t *c = &s->cols[col];
    c->parts = rn_calloc((size_t)nparts, sizeof(char *));
    if (!c->parts) return RN_ERR_NOMEM;
    c->nparts = nparts;
    for (int i = 0; i < nparts; i++)
        if (!(c->parts[i] = rn_strdup(parts[i]))) return RN_ERR_NOMEM;
    return RN_OK;
}

void rn_source_use_column(rn_op_t *op, int col) { ((source_t *)op->priv)->cols[col].used = true; }
bool rn_source_column_used(const rn_op_t *op, int col) { return ((source_t *)op->priv)->cols[col].used; }
const char *rn_source_label(const rn_op_t *op) { return ((source_t *)op->priv)->label; }
uint64_t rn_source_records(const rn_op_t *op) { return ((source_t *)op->priv)->records; }
uint64_t rn_source_errors(const rn_op_t *op) { return ((source_t *)op->priv)->errors; }

rn_err_t rn_source_open(rn_op_t *op, rn_reader_t *reader, rn_dlq_t *dlq, char *errbuf,
                        size_t errbuf_size)
{
    source_t *s = op->priv;
    int ncols = op->schema->ncols;
    s->reader = reader;
    s->dlq = dlq;
    s->used = rn_calloc((size_t)(ncols ? ncols : 1), sizeof(int));
    s->dec_cols = rn_calloc((size_t)(ncols ? ncols : 1), sizeof(rn_value_t *));
    rn_json_field_t *fields = rn_calloc((size_t)(ncols ? ncols : 1), sizeof *fields);
    if (!s->used || !s->dec_cols || !fields) {
        rn_free(fields);
        snprintf(errbuf, errbuf_size, "out of memory opening source %s", s->label);
        return RN_ERR_NOMEM;
    }
    const char *name_parts[1];
    for (int c = 0; c < ncols; c++) {
        if (!s->cols[c].used) continue;
        rn_json_field_t *f = &fields[s->nused];
        if (s->cols[c].nparts) {
            f->nparts = s->cols[c].nparts;
            f->parts = (const char *const *)s->cols[c].parts;
        } else {
            name_parts[0] = op->schema->cols[c].name;
            if (rn_source_set_path(op, c, 1, name_parts) != RN_OK) {
                rn_free(fields);
                return RN_ERR_NOMEM;
            }
            f->nparts = 1;
            f->parts = (const char *const *)s->cols[c].parts;
        }
        f->type = op->schema->cols[c].type->id;
        s->used[s->nused++] = c;
    }
    s->decoder = rn_json_decoder_new(fields, s->nused, errbuf, errbuf_size);
    rn_free(fields);
    return s->decoder ? RN_OK : RN_ERR_NOMEM;
}

rn_err_t rn_source_poll(rn_op_t *op, rn_ctx_t *ctx, bool *eof)
{
    source_t *s = op->priv;
    int n = 0;
    rn_err_t err = s->reader->next(s->reader, s->recs, RN_BATCH_MAX, &n, eof, ctx->errbuf,
                                   ctx->errbuf_size);
    if (err != RN_OK || n == 0) return err;
    rn_batch_t *b = rn_arena_alloc(ctx->arena, sizeof *b);
    if (!b) return RN_ERR_NOMEM;
    b->schema = op->schema;
    b->nrows = 0;
    b->cap = n;
    b->rowtime = NULL;
    b->kinds = rn_arena_calloc(ctx->arena, (size_t)n, 1);
    b->cols = rn_arena_calloc(ctx->arena, (size_t)(op->schema->ncols ? op->schema->ncols : 1),
                              sizeof(rn_value_t *));
    if (!b->kinds || !b->cols) return RN_ERR_NOMEM;
    for (int j = 0; j < s->nused; j++) {
        b->cols[s->used[j]] = rn_arena_alloc(ctx->arena, sizeof(rn_value_t) * (size_t)n);
        if (!b->cols[s->used[j]]) return RN_ERR_NOMEM;
        s->dec_cols[j] = b->cols[s->used[j]];
    }
    char msg[512];
    for (int i = 0; i < n; i++) {
        const rn_record_t *r = &s->recs[i];
        err = rn_json_decode(s->decoder, r->data, r->len, s->dec_cols, b->nrows, ctx->arena, msg,
                             sizeof msg);
        if (err == RN_OK) {
            b->nrows++;
            continue;
        }
        if (err != RN_ERR_DECODE) return err;
        s->errors++;
        err = rn_dlq_write(s->dlq, s->label, s->reader->where, r->position, msg, r->data, r->len);
        if (err != RN_OK) {
            snprintf(ctx->errbuf, ctx->errbuf_size, "cannot write the dead-letter record for %s:%lld",
                     s->reader->where, (long long)r->position);
            return err;
        }
    }
    s->records += (uint64_t)n;
    return rn_op_emit(op, b, ctx);
}
