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
    char at[512];
    snprintf(at, sizeof at, "%s:%lld", where, (long long)position);
    rn_log_dead_letter(++d->count, at, error, d->path);
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
    rn_col_origin origin;       /* value field, key field or metadata */
    int nparts;                 /* JSON path */
    char **parts;
} source_col_t;

/* The columns one JSON document (value or key) fills. */
typedef struct source_doc {
    rn_json_decoder_t *decoder;
    int n;                      /* used columns decoded from this document */
    int *cols;                  /* their schema indices */
    rn_value_t **dst;           /* per column, the batch array to fill */
} source_doc_t;

typedef struct source {
    char *label;                /* table name */
    char *describe;             /* connector details for explain */
    source_col_t *cols;         /* per schema column */
    rn_reader_t *reader;        /* owned */
    rn_dlq_t *dlq;              /* not owned */
    bool keys_from_value;       /* `runnel test`: files have no keys */
    source_doc_t value, key;
    int nmeta;
    int *meta;                  /* used metadata columns */
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

static void source_doc_free(source_doc_t *d)
{
    rn_json_decoder_free(d->decoder);
    rn_free(d->cols);
    rn_free(d->dst);
}

static void source_destroy(rn_op_t *op)
{
    source_t *s = op->priv;
    for (int c = 0; c < op->schema->ncols; c++) {
        for (int i = 0; i < s->cols[c].nparts; i++) rn_free(s->cols[c].parts[i]);
        rn_free(s->cols[c].parts);
    }
    if (s->reader) s->reader->close(s->reader);
    source_doc_free(&s->value);
    source_doc_free(&s->key);
    rn_free(s->meta);
    rn_free(s->cols);
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

void rn_source_set_origin(rn_op_t *op, int col, rn_col_origin origin)
{
    ((source_t *)op->priv)->cols[col].origin = origin;
}

void rn_source_use_column(rn_op_t *op, int col) { ((source_t *)op->priv)->cols[col].used = true; }
bool rn_source_column_used(const rn_op_t *op, int col) { return ((source_t *)op->priv)->cols[col].used; }
const char *rn_source_label(const rn_op_t *op) { return ((source_t *)op->priv)->label; }
uint64_t rn_source_records(const rn_op_t *op) { return ((source_t *)op->priv)->records; }
uint64_t rn_source_errors(const rn_op_t *op) { return ((source_t *)op->priv)->errors; }
rn_reader_t *rn_source_reader(const rn_op_t *op) { return ((source_t *)op->priv)->reader; }

void rn_source_keys_from_value(rn_op_t *op) { ((source_t *)op->priv)->keys_from_value = true; }

bool rn_source_reads(const rn_op_t *op, rn_col_origin origin)
{
    const source_t *s = op->priv;
    for (int c = 0; c < op->schema->ncols; c++)
        if (s->cols[c].used && s->cols[c].origin == origin) return true;
    return false;
}

/* Compiles the decoder of the used columns of one origin (value or key). */
static rn_err_t source_doc_open(rn_op_t *op, source_doc_t *d, bool key, char *errbuf,
                                size_t errbuf_size)
{
    source_t *s = op->priv;
    int ncols = op->schema->ncols;
    d->cols = rn_calloc((size_t)(ncols ? ncols : 1), sizeof(int));
    d->dst = rn_calloc((size_t)(ncols ? ncols : 1), sizeof(rn_value_t *));
    rn_json_field_t *fields = rn_calloc((size_t)(ncols ? ncols : 1), sizeof *fields);
    if (!d->cols || !d->dst || !fields) goto oom;
    const char *name_parts[1];
    for (int c = 0; c < ncols; c++) {
        source_col_t *sc = &s->cols[c];
        rn_col_origin o = sc->origin == RN_FROM_KEY && s->keys_from_value ? RN_FROM_VALUE : sc->origin;
        if (!sc->used || o != (key ? RN_FROM_KEY : RN_FROM_VALUE)) continue;
        if (!sc->nparts) {
            name_parts[0] = op->schema->cols[c].name;
            if (rn_source_set_path(op, c, 1, name_parts) != RN_OK) goto oom;
        }
        rn_json_field_t *f = &fields[d->n];
        f->nparts = sc->nparts;
        f->parts = (const char *const *)sc->parts;
        f->type = op->schema->cols[c].type->id;
        d->cols[d->n++] = c;
    }
    d->decoder = rn_json_decoder_new(fields, d->n, errbuf, errbuf_size);
    rn_free(fields);
    return d->decoder ? RN_OK : RN_ERR_NOMEM;
oom:
    rn_free(fields);
    snprintf(errbuf, errbuf_size, "out of memory opening source %s", s->label);
    return RN_ERR_NOMEM;
}

rn_err_t rn_source_open(rn_op_t *op, rn_reader_t *reader, rn_dlq_t *dlq, char *errbuf,
                        size_t errbuf_size)
{
    source_t *s = op->priv;
    int ncols = op->schema->ncols;
    s->reader = reader;
    s->dlq = dlq;
    rn_err_t err = source_doc_open(op, &s->value, false, errbuf, errbuf_size);
    if (err == RN_OK && rn_source_reads(op, RN_FROM_KEY) && !s->keys_from_value)
        err = source_doc_open(op, &s->key, true, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    s->meta = rn_calloc((size_t)(ncols ? ncols : 1), sizeof(int));
    if (!s->meta) return RN_ERR_NOMEM;
    for (int c = 0; c < ncols; c++)
        if (s->cols[c].used && s->cols[c].origin > RN_FROM_KEY) s->meta[s->nmeta++] = c;
    return RN_OK;
}

/* Fills the metadata columns of row `row` from the record. Records of
 * files have no topic, partition, timestamp or headers: those are NULL,
 * and the offset is the line number. */
static void source_fill_meta(const source_t *s, rn_batch_t *b, int row,
                             const rn_record_t *r)
{
    for (int j = 0; j < s->nmeta; j++) {
        int c = s->meta[j];
        rn_value_t *v = &b->cols[c][row];
        switch (s->cols[c].origin) {
        case RN_FROM_TOPIC:
            *v = r->topic ? rn_value_str(r->topic, (uint32_t)strlen(r->topic)) : RN_VALUE_NULL;
            break;
        case RN_FROM_PARTITION:
            *v = r->partition >= 0 ? rn_value_int(r->partition) : RN_VALUE_NULL;
            break;
        case RN_FROM_OFFSET:
            *v = rn_value_int(r->position);
            break;
        case RN_FROM_TIMESTAMP:
            *v = r->timestamp_ms != RN_NO_TIMESTAMP ? rn_value_int(r->timestamp_ms) : RN_VALUE_NULL;
            break;
        case RN_FROM_HEADERS:
            *v = r->headers ? rn_value_str(r->headers, (uint32_t)r->hlen) : RN_VALUE_NULL;
            break;
        default:
            break;
        }
    }
}

/* Sends an undecodable record to the reader's dead-letter destination, or
 * the pipeline's dead-letter file. */
static rn_err_t source_dead_letter(source_t *s, const rn_record_t *r, const char *msg,
                                   rn_ctx_t *ctx)
{
    s->errors++;
    if (s->reader->dead_letter)
        return s->reader->dead_letter(s->reader, r, msg, ctx->errbuf, ctx->errbuf_size);
    rn_err_t err = rn_dlq_write(s->dlq, s->label, s->reader->where, r->position, msg, r->data, r->len);
    if (err != RN_OK)
        snprintf(ctx->errbuf, ctx->errbuf_size, "cannot write the dead-letter record for %s:%lld",
                 s->reader->where, (long long)r->position);
    return err;
}

/* Allocates the arrays of the used columns of one document in batch b. */
static rn_err_t source_doc_bind(source_doc_t *d, rn_batch_t *b, int n, rn_arena_t *arena)
{
    for (int j = 0; j < d->n; j++) {
        b->cols[d->cols[j]] = rn_arena_alloc(arena, sizeof(rn_value_t) * (size_t)n);
        if (!b->cols[d->cols[j]]) return RN_ERR_NOMEM;
        d->dst[j] = b->cols[d->cols[j]];
    }
    return RN_OK;
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
    if (source_doc_bind(&s->value, b, n, ctx->arena) != RN_OK ||
        source_doc_bind(&s->key, b, n, ctx->arena) != RN_OK)
        return RN_ERR_NOMEM;
    for (int j = 0; j < s->nmeta; j++)
        if (!(b->cols[s->meta[j]] = rn_arena_alloc(ctx->arena, sizeof(rn_value_t) * (size_t)n)))
            return RN_ERR_NOMEM;
    char msg[512];
    for (int i = 0; i < n; i++) {
        const rn_record_t *r = &s->recs[i];
        if (!r->data) continue; /* a tombstone: nothing to insert into an append table */
        err = rn_json_decode(s->value.decoder, r->data, r->len, s->value.dst, b->nrows, ctx->arena,
                             msg, sizeof msg);
        if (err == RN_OK && s->key.decoder) {
            if (r->key) {
                char kmsg[480];
                err = rn_json_decode(s->key.decoder, r->key, r->klen, s->key.dst, b->nrows, ctx->arena,
                                     kmsg, sizeof kmsg);
                if (err == RN_ERR_DECODE) snprintf(msg, sizeof msg, "record key: %s", kmsg);
            } else {
                for (int j = 0; j < s->key.n; j++) s->key.dst[j][b->nrows] = RN_VALUE_NULL;
            }
        }
        if (err == RN_OK) {
            source_fill_meta(s, b, b->nrows, r);
            b->nrows++;
            continue;
        }
        if (err != RN_ERR_DECODE) return err;
        if ((err = source_dead_letter(s, r, msg, ctx)) != RN_OK) return err;
    }
    s->records += (uint64_t)n;
    return b->nrows ? rn_op_emit(op, b, ctx) : RN_OK;
}
