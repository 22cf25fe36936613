/*
 * source.c - the source scan operator and the dead-letter output.
 *
 * A source pulls raw records from its reader, decodes the JSON of each
 * straight into the columns of a batch (only the columns the plan uses),
 * computes the computed columns, and emits the batch. A record that does
 * not decode is not dropped: it is written, untouched, to the dead-letter
 * output with the reason, and the batch is compacted so the rows stay
 * dense.
 *
 * Records are +I rows, except for the scan of an upsert table
 * (rn_source_set_upsert): a tombstone (NULL value) there is a -D row with
 * the key columns decoded from the record key and NULL elsewhere, which
 * the ChangelogNormalize behind the scan (op/normalize.h) turns into the
 * delete of the key's row.
 *
 * A table with a WATERMARK also generates event time here (see
 * docs/event-time.md): one watermark per partition ("split"), the table's
 * being the minimum over the active ones; idle partitions stop holding it
 * back, and a quiet table follows the wall clock. Each row is stamped with
 * the watermark in force when it arrived, and the source remembers, per
 * partition, where rows of not yet emitted windows begin so that commits
 * never pass them. Watermark alignment, as Flink's: a partition whose
 * watermark runs more than 'scan.watermark.alignment.max-drift' ahead of
 * the lowest one is paused at the reader until the others catch up
 * (source_align), so a catch-up over a backlog does not open windows far
 * ahead of the watermark.
 */
#include "op/io.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeparse.h"
#include "json/json.h"
#include "op/exchange.h"
#include "op/op.h"
#include "state/snapshot.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---- dead-letter output ------------------------------------------------ */

struct rn_dlq {
    pthread_mutex_t lock;       /* workers of one process share it (runtime/workers.c) */
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
    pthread_mutex_init(&d->lock, NULL);
    return d;
}

static rn_err_t dlq_write_locked(rn_dlq_t *d, const char *table, const char *where, int64_t position,
                                 const char *error, const char *raw, size_t rawlen);

rn_err_t rn_dlq_write(rn_dlq_t *d, const char *table, const char *where, int64_t position,
                      const char *error, const char *raw, size_t rawlen)
{
    pthread_mutex_lock(&d->lock);
    rn_err_t err = dlq_write_locked(d, table, where, position, error, raw, rawlen);
    pthread_mutex_unlock(&d->lock);
    return err;
}

static rn_err_t dlq_write_locked(rn_dlq_t *d, const char *table, const char *where, int64_t position,
                                 const char *error, const char *raw, size_t rawlen)
{
    char at[512];
    snprintf(at, sizeof at, "%s:%lld", where, (long long)position);
    rn_log_dead_letter(++d->count, at, error, d->path);
    if (!d->fp) {
        d->fp = fopen(d->path, "w");
        /* its directory on first use (`runnel test`: OUT/_runnel/) */
        if (!d->fp && errno == ENOENT && rn_mkdir_parent(d->path) == 0) d->fp = fopen(d->path, "w");
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
    /* The record as it was: bytes that are not UTF-8 would not survive a
     * JSON string, so such a record is kept as base64 instead. */
    if (rn_json_utf8_valid(raw, rawlen)) {
        rn_buf_appends(&d->line, ",\"value\":");
        rn_json_write_string(&d->line, raw, rawlen);
    } else {
        rn_buf_appends(&d->line, ",\"value_base64\":");
        rn_json_write_base64(&d->line, raw, rawlen);
    }
    rn_buf_appends(&d->line, "}\n");
    if (d->line.oom) return RN_ERR_NOMEM;
    if (fwrite(d->line.data, 1, d->line.len, d->fp) != d->line.len) return RN_ERR_IO;
    return RN_OK;
}

uint64_t rn_dlq_count(const rn_dlq_t *d)
{
    if (!d) return 0;
    pthread_mutex_lock((pthread_mutex_t *)&d->lock);
    uint64_t n = d->count;
    pthread_mutex_unlock((pthread_mutex_t *)&d->lock);
    return n;
}

void rn_dlq_free(rn_dlq_t *d)
{
    if (!d) return;
    if (d->fp) fclose(d->fp);
    pthread_mutex_destroy(&d->lock);
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
    const rn_expr_t *computed;  /* a computed column's expression, or NULL */
} source_col_t;

/* Where the rows of a partition that a window may still hold begin. A
 * mark is a record whose rowtime is higher than every earlier one of its
 * partition and the first to reach a new second (RN_MARK_GRAIN_MS) of
 * event time: every record before it is earlier than its rowtime. A commit
 * stops at the first record that may belong to a window not yet emitted,
 * found from the marks (rn_source_commit_limit). One mark per second of
 * event time and partition, whatever the rate. */
typedef struct held_mark {
    int64_t position;
    int64_t rowtime;
} held_mark_t;

#define RN_MARK_GRAIN_MS 1000

static int64_t mark_grain(int64_t t)
{
    return t >= 0 ? t / RN_MARK_GRAIN_MS : -((-t + RN_MARK_GRAIN_MS - 1) / RN_MARK_GRAIN_MS);
}

/* Event-time state of one partition (a file is one). */
typedef struct wm_split {
    char *topic;                /* NULL for files */
    int32_t partition;
    bool assigned;              /* owned now (always true without assignment tracking) */
    bool idle;                  /* silent for idle_timeout: not holding the watermark */
    bool paused;                /* paused by watermark alignment (source_align) */
    bool unpaused;              /* resumed and not delivered since: not idle (it has records,
                                 * fetching them again takes a while) */
    bool behind;                /* silent past idle_timeout with records left to read
                                 * (rn_reader_t.lag > 0), so not idle; logged once */
    bool ended;                 /* read to the end of a bounded read (rn_reader_t.at_end):
                                 * nothing more comes, it holds nothing back */
    int64_t wm;                 /* max of the WATERMARK expression so far */
    int64_t last_ms;            /* wall clock of the last record (or of the assignment) */
    held_mark_t *marks;         /* commit marks (see held_mark_t) */
    int nmarks, capmarks;
    int64_t max_rowtime;        /* highest rowtime so far (RN_WM_MIN: none) */
    uint64_t listed;            /* assignment_version that last listed it */
    uint64_t records;           /* rows with a rowtime read from it (rn_source_partitions) */
    /* A repartition topic's partition (rn_source_set_exchange): the
     * watermark each upstream task announced in it, and which ended. */
    uint32_t ntasks;            /* 0 until the first mark */
    int64_t *task_wm;           /* per task, RN_WM_MIN until announced */
    uint8_t *task_end;          /* per task: its input ended */
    uint32_t nended;            /* tasks ended */
} wm_split_t;

#define RN_ALIGN_RUNS 8 /* runs of records whose spans alignment's granularity follows */

typedef struct source_time {
    bool on;                    /* the table has a WATERMARK */
    rn_watermark_spec_t spec;
    bool wall;                  /* idle/quiet timeouts use the wall clock */
    wm_split_t *splits;
    int nsplits, capsplits;
    int hint;                   /* split of the last record */
    uint64_t assignment_version;
    int64_t wm;                 /* the table's watermark */
    int64_t last_any_ms;        /* wall clock of the last record of any split, 0 = none */
    bool quiet;                 /* following the wall clock */
    bool eof;
    uint64_t pauses;            /* partitions paused by watermark alignment so far */
    /* Alignment's granularity: how much event time one run of records of
     * one partition (what one fetch brings) spans, over the last
     * RN_ALIGN_RUNS runs that no pause or resume interrupted;
     * source_align never pauses for less than twice that. */
    int run_split;              /* the split of the last record, plus 1 (0: none yet) */
    int64_t run_from;           /* its watermark after the first record of its run */
    int64_t run_span[RN_ALIGN_RUNS]; /* spans of the last runs (ring) */
    int run_next;               /* next slot of run_span */
} source_time_t;

/* The columns one JSON document (value or key) fills. */
typedef struct source_doc {
    rn_json_decoder_t *decoder;
    int n;                      /* used columns decoded from this document */
    int *cols;                  /* their schema indices */
    rn_value_t **dst;           /* per column, the batch array to fill */
} source_doc_t;

#define RN_SOURCE_MAX_NOT_NULL 1024

typedef struct source {
    char *label;                /* table name */
    char *describe;             /* connector details for explain */
    source_col_t *cols;         /* per schema column */
    rn_reader_t *reader;        /* owned */
    rn_dlq_t *dlq;              /* not owned */
    bool keys_from_value;       /* `runnel test`: files have no keys */
    bool upsert;                /* an upsert table: tombstones are -D rows (rn_source_set_upsert) */
    source_doc_t value, key;
    int nmeta;
    int *meta;                  /* used metadata columns */
    int ncomputed;
    int *computed;              /* used computed columns, in column order */
    source_time_t time;
    bool exchange;              /* reads a repartition topic (op/exchange.h), not JSON */
    int32_t exchange_parts;     /* its partition count */
    bool exhausted;             /* the input ended (not merely stopped) */
    uint64_t not_null[(RN_SOURCE_MAX_NOT_NULL + 63) / 64]; /* columns declared NOT NULL (bits) */
    bool any_not_null;
    rn_record_t recs[RN_BATCH_MAX];
    int rec_of_row[RN_BATCH_MAX]; /* record index of each decoded row */
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
    for (int i = 0; i < s->time.nsplits; i++) {
        rn_free(s->time.splits[i].topic);
        rn_free(s->time.splits[i].marks);
        rn_free(s->time.splits[i].task_wm);
        rn_free(s->time.splits[i].task_end);
    }
    rn_free(s->time.splits);
    rn_free(s->computed);
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

/* Marks the columns e reads as used. */
static void source_use_expr(rn_op_t *op, const rn_expr_t *e)
{
    if (!e) return;
    if (e->kind == RN_EXPR_COLUMN) rn_source_use_column(op, e->col);
    for (int i = 0; e->kind == RN_EXPR_FUNC && i < e->nargs; i++) source_use_expr(op, e->args[i]);
}

void rn_source_use_column(rn_op_t *op, int col)
{
    source_col_t *c = &((source_t *)op->priv)->cols[col];
    if (c->used) return;
    c->used = true;
    source_use_expr(op, c->computed);
}

void rn_source_set_not_null(rn_op_t *op, int col)
{
    source_t *s = op->priv;
    if (col < 0 || col >= RN_SOURCE_MAX_NOT_NULL) return;
    s->not_null[col / 64] |= (uint64_t)1 << (col % 64);
    s->any_not_null = true;
    rn_source_use_column(op, col);
}

void rn_source_set_computed(rn_op_t *op, int col, const rn_expr_t *expr)
{
    ((source_t *)op->priv)->cols[col].computed = expr;
}

void rn_source_set_watermark(rn_op_t *op, const rn_watermark_spec_t *w)
{
    source_t *s = op->priv;
    s->time.on = true;
    s->time.spec = *w;
    s->time.wm = RN_WM_MIN;
    rn_source_use_column(op, w->rowtime_col);
    source_use_expr(op, w->expr);
}

void rn_source_set_exchange(rn_op_t *op, int rowtime_col, int32_t nparts)
{
    source_t *s = op->priv;
    s->exchange = true;
    s->exchange_parts = nparts;
    for (int c = 0; c < op->schema->ncols; c++) s->cols[c].used = true;
    if (rowtime_col < 0) return;
    s->time.on = true;
    s->time.spec = (rn_watermark_spec_t){.rowtime_col = rowtime_col};
    s->time.wm = RN_WM_MIN;
}

bool rn_source_exhausted(const rn_op_t *op) { return ((source_t *)op->priv)->exhausted; }
bool rn_source_has_watermark(const rn_op_t *op) { return ((source_t *)op->priv)->time.on; }
void rn_source_use_wall_clock(rn_op_t *op, bool on) { ((source_t *)op->priv)->time.wall = on; }
int64_t rn_source_watermark(const rn_op_t *op) { return ((source_t *)op->priv)->time.wm; }
bool rn_source_column_used(const rn_op_t *op, int col) { return ((source_t *)op->priv)->cols[col].used; }
const char *rn_source_label(const rn_op_t *op) { return ((source_t *)op->priv)->label; }
uint64_t rn_source_records(const rn_op_t *op) { return ((source_t *)op->priv)->records; }
uint64_t rn_source_errors(const rn_op_t *op) { return ((source_t *)op->priv)->errors; }
rn_reader_t *rn_source_reader(const rn_op_t *op) { return ((source_t *)op->priv)->reader; }

void rn_source_keys_from_value(rn_op_t *op) { ((source_t *)op->priv)->keys_from_value = true; }

void rn_source_set_upsert(rn_op_t *op, int npk, const int *pk)
{
    ((source_t *)op->priv)->upsert = true;
    op->updating = true; /* deletes */
    for (int k = 0; k < npk; k++) rn_source_use_column(op, pk[k]);
}

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
        /* `runnel test` reads key columns from the value; an upsert table's
         * keyed lines also from their key (the key document then fills
         * the same columns after the value did). */
        rn_col_origin o = sc->origin == RN_FROM_KEY && s->keys_from_value && !key ? RN_FROM_VALUE : sc->origin;
        if (!sc->used || sc->computed || o != (key ? RN_FROM_KEY : RN_FROM_VALUE)) continue;
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
    rn_err_t err = s->exchange ? RN_OK : source_doc_open(op, &s->value, false, errbuf, errbuf_size);
    if (err == RN_OK && rn_source_reads(op, RN_FROM_KEY) && (!s->keys_from_value || s->upsert))
        err = source_doc_open(op, &s->key, true, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    s->meta = rn_calloc((size_t)(ncols ? ncols : 1), sizeof(int));
    s->computed = rn_calloc((size_t)(ncols ? ncols : 1), sizeof(int));
    if (!s->meta || !s->computed) return RN_ERR_NOMEM;
    for (int c = 0; c < ncols && !s->exchange; c++) {
        if (!s->cols[c].used) continue;
        if (s->cols[c].computed) s->computed[s->ncomputed++] = c;
        else if (s->cols[c].origin > RN_FROM_KEY) s->meta[s->nmeta++] = c;
    }
    if (s->time.on) {
        reader->commit_limit = rn_source_commit_limit;
        reader->limit_opaque = op;
    }
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

/* Allocates the arrays of the used columns of one document in batch b
 * (a column the other document fills already keeps its array). */
static rn_err_t source_doc_bind(source_doc_t *d, rn_batch_t *b, int n, rn_arena_t *arena)
{
    for (int j = 0; j < d->n; j++) {
        rn_value_t **col = &b->cols[d->cols[j]];
        if (!*col && !(*col = rn_arena_alloc(arena, sizeof(rn_value_t) * (size_t)n))) return RN_ERR_NOMEM;
        d->dst[j] = *col;
    }
    return RN_OK;
}

/* ---- event time ---------------------------------------------------------- */

/* "user-events[3]", or the reader's name for a file. */
static void split_name(const source_t *s, const wm_split_t *sp, char *buf, size_t size)
{
    if (sp->topic) snprintf(buf, size, "%s[%d]", sp->topic, (int)sp->partition);
    else snprintf(buf, size, "%s", s->reader ? s->reader->where : s->label);
}

/* True if sp is partition `partition` of topic (NULL: a file). */
static bool split_is(const wm_split_t *sp, const char *topic, int32_t partition)
{
    return sp->partition == partition &&
           (sp->topic == topic || (sp->topic && topic && !strcmp(sp->topic, topic)));
}

/* The split of (topic, partition), created on first sight. NULL on OOM. */
static wm_split_t *split_find(source_t *s, const char *topic, int32_t partition, int64_t now)
{
    source_time_t *t = &s->time;
    if (t->hint < t->nsplits && split_is(&t->splits[t->hint], topic, partition)) return &t->splits[t->hint];
    for (int i = 0; i < t->nsplits; i++)
        if (split_is(&t->splits[i], topic, partition)) {
            t->hint = i;
            return &t->splits[i];
        }
    if (t->nsplits == t->capsplits) {
        int cap = t->capsplits ? t->capsplits * 2 : 8;
        wm_split_t *n = rn_realloc(t->splits, sizeof *n * (size_t)cap);
        if (!n) return NULL;
        t->splits = n;
        t->capsplits = cap;
    }
    wm_split_t *sp = &t->splits[t->nsplits];
    memset(sp, 0, sizeof *sp);
    if (topic && !(sp->topic = rn_strdup(topic))) return NULL;
    sp->partition = partition;
    sp->assigned = true;
    sp->wm = RN_WM_MIN;
    sp->max_rowtime = RN_WM_MIN;
    sp->last_ms = now;
    t->hint = t->nsplits++;
    return sp;
}

/* Follows the reader's assignment: new partitions are added (holding the
 * watermark back until they deliver or go idle), revoked ones stop
 * counting, and kept ones keep their idle clocks. */
static rn_err_t source_sync_assignment(source_t *s, int64_t now)
{
    rn_reader_t *r = s->reader;
    if (!r->assignment || r->assignment_version == s->time.assignment_version) return RN_OK;
    s->time.assignment_version = r->assignment_version;
    /* the reader resumed what it gave up; the others are decided afresh */
    for (int i = 0; i < s->time.nsplits; i++) {
        wm_split_t *sp = &s->time.splits[i];
        if (!sp->paused) continue;
        if (r->pause) r->pause(r, sp->topic, sp->partition, false);
        sp->paused = false;
        sp->last_ms = now;
    }
    enum { MAXP = 4096 };
    static _Thread_local const char *topics[MAXP]; /* per thread: workers (runtime/workers.c) */
    static _Thread_local int32_t parts[MAXP];
    int n = r->assignment(r, topics, parts, MAXP);
    if (n > MAXP) n = MAXP;
    for (int i = 0; i < n; i++) {
        wm_split_t *sp = split_find(s, topics[i], parts[i], now);
        if (!sp) return RN_ERR_NOMEM;
        if (!sp->assigned) { /* (again) */
            sp->last_ms = now;
            sp->idle = false;
        }
        sp->listed = r->assignment_version;
    }
    for (int i = 0; i < s->time.nsplits; i++)
        s->time.splits[i].assigned = s->time.splits[i].listed == r->assignment_version;
    return RN_OK;
}

/* The minimum watermark over the active splits, and the split holding
 * it; *none when no split is active. */
static int64_t source_min_active(const source_t *s, int *argmin, bool *none)
{
    int64_t m = RN_WM_MAX;
    *none = true;
    *argmin = -1;
    for (int i = 0; i < s->time.nsplits; i++) {
        const wm_split_t *sp = &s->time.splits[i];
        if (!sp->assigned || sp->idle || sp->ended) continue;
        if (*none || sp->wm < m) {
            m = sp->wm;
            *argmin = i;
        }
        *none = false;
    }
    return m;
}

/* Recomputes the table watermark after splits changed (idle, assignment,
 * wall clock). Never moves it backwards. */
static void source_update_wm(source_t *s, int64_t now)
{
    source_time_t *t = &s->time;
    if (t->eof) return;
    int argmin;
    bool none;
    int64_t m = source_min_active(s, &argmin, &none);
    if (none) { /* every partition idle: none holds back, the highest one leads */
        m = RN_WM_MIN;
        for (int i = 0; i < t->nsplits; i++)
            if (t->splits[i].assigned && t->splits[i].wm > m) m = t->splits[i].wm;
    }
    if (m != RN_WM_MIN && m > t->wm) t->wm = m;
    if (t->wall && t->spec.quiet_timeout_ms > 0 && t->last_any_ms && now - t->last_any_ms >= t->spec.quiet_timeout_ms) {
        int64_t top = RN_WM_MIN;
        for (int i = 0; i < t->nsplits; i++)
            if (t->splits[i].wm > top) top = t->splits[i].wm;
        if (top != RN_WM_MIN) {
            if (!t->quiet)
                fprintf(stderr, "runnel: table '%s': no data for %lld ms; event time follows the wall clock\n", s->label,
                            (long long)(now - t->last_any_ms));
            t->quiet = true;
            int64_t w = top + (now - t->last_any_ms);
            if (w > t->wm) t->wm = w;
        }
    }
}

/* Marks the splits a bounded read has finished as ended: like Flink's
 * finished splits they no longer hold the watermark back (and are not
 * aligned), so the windows of the partitions still being read fire as
 * they go instead of at the end of the whole input. */
static void source_check_ended(source_t *s)
{
    rn_reader_t *r = s->reader;
    if (!r || !r->at_end) return;
    for (int i = 0; i < s->time.nsplits; i++) {
        wm_split_t *sp = &s->time.splits[i];
        sp->ended = sp->assigned && r->at_end(r, sp->topic, sp->partition);
    }
}

/* Marks splits silent for the idle timeout as idle (wall clock only).
 * A split whose reader knows it has records left to read (rn_reader_t.lag
 * > 0: Kafka's high watermark beyond the consumer's position) is not idle
 * however long it has been silent: it is slow (a loaded machine, a
 * prefetch taken by other partitions, a transaction not committed yet),
 * and were it idle the others would move the watermark past the records
 * it has still to deliver, which would all be late. */
static void source_check_idle(source_t *s, int64_t now)
{
    source_time_t *t = &s->time;
    if (!t->wall || t->spec.idle_timeout_ms <= 0) return;
    for (int i = 0; i < t->nsplits; i++) {
        wm_split_t *sp = &t->splits[i];
        if (!sp->assigned || sp->idle || sp->paused || now - sp->last_ms < t->spec.idle_timeout_ms) continue;
        /* (a bounded read's records past its end are not left to read) */
        rn_reader_t *r = s->reader;
        int64_t lag = r && r->lag && !sp->ended ? r->lag(r, sp->topic, sp->partition) : -1;
        char name[256];
        if (lag > 0) {
            if (!sp->behind) {
                split_name(s, sp, name, sizeof name);
                rn_log_info("table '%s': %s has delivered nothing for %lld ms but has %lld records left to "
                            "read: not idle, it holds the watermark back",
                            s->label, name, (long long)(now - sp->last_ms), (long long)lag);
            }
            sp->behind = true;
            continue;
        }
        /* resumed by alignment with records left: not idle, only slow to come back */
        if (sp->unpaused && lag != 0) continue;
        sp->idle = true;
        sp->behind = false;
        split_name(s, sp, name, sizeof name);
        fprintf(stderr, "runnel: table '%s': %s has been idle for %lld ms; it no longer holds the watermark back\n", s->label,
                    name, (long long)(now - sp->last_ms));
    }
}

bool rn_align_pause(int64_t wm, int64_t ref, int64_t max_drift, bool paused)
{
    if (max_drift <= 0 || wm == RN_WM_MIN || ref == RN_WM_MIN || ref == RN_WM_MAX || wm <= ref) return false;
    return (uint64_t)wm - (uint64_t)ref > (uint64_t)(paused ? max_drift / 2 : max_drift);
}

/* Watermark alignment: pauses the partitions running too far ahead of
 * the lowest watermark of those that still deliver (assigned, not idle,
 * not at the end of a bounded read, not paused, with a watermark; when
 * none is left, the lowest paused one, which then resumes), resumes those
 * back within reach. A paused partition does not go idle: it holds the
 * table's watermark as before, so pausing changes no result. */
static void source_align(source_t *s, int64_t now)
{
    source_time_t *t = &s->time;
    rn_reader_t *r = s->reader;
    if (t->spec.align_drift_ms <= 0 || !r || !r->pause || t->eof || t->nsplits < 2) return;
    int64_t ref = RN_WM_MAX, low_paused = RN_WM_MAX;
    bool any = false;
    for (int i = 0; i < t->nsplits; i++) {
        const wm_split_t *sp = &t->splits[i];
        /* (a partition without records yet does not hold alignment back:
         * it will start at its own time, and those ahead of the others
         * should not be read meanwhile) */
        if (!sp->assigned || sp->idle || sp->ended || sp->wm == RN_WM_MIN) continue;
        if (sp->paused) {
            if (sp->wm < low_paused) low_paused = sp->wm;
            continue;
        }
        if (!any || sp->wm < ref) ref = sp->wm;
        any = true;
    }
    if (!any) ref = low_paused;
    /* a partition runs ahead by what one fetch of it brings anyway:
     * pausing for that would drop and fetch it again and again */
    int64_t drift = t->spec.align_drift_ms;
    for (int i = 0; i < RN_ALIGN_RUNS; i++)
        if (t->run_span[i] > drift / 2) drift = 2 * t->run_span[i];
    for (int i = 0; i < t->nsplits; i++) {
        wm_split_t *sp = &t->splits[i];
        if (!sp->assigned) continue;
        bool want = !sp->idle && !sp->ended && rn_align_pause(sp->wm, ref, drift, sp->paused);
        if (want == sp->paused) continue;
        r->pause(r, sp->topic, sp->partition, want);
        /* the run going on spans the pause (a partition read alone), not
         * one fetch: it does not count */
        t->run_split = 0;
        sp->paused = want;
        sp->unpaused = !want;
        sp->last_ms = now; /* (idle time counts from the resume) */
        if (want) t->pauses++;
        char name[256];
        split_name(s, sp, name, sizeof name);
        rn_log_debug("table '%s': %s %s after %llu records (its watermark is %lld ms ahead of %lld)", s->label,
                     want ? "pausing" : "resuming", name, (unsigned long long)sp->records,
                     (long long)(sp->wm - ref), (long long)ref);
    }
}

uint64_t rn_source_align_pauses(const rn_op_t *op) { return ((const source_t *)op->priv)->time.pauses; }

/* Notes record (position, rowtime) of split sp for the commit marks. */
static rn_err_t split_mark(wm_split_t *sp, int64_t position, int64_t rowtime)
{
    /* The first record since everything was released starts the marks
     * (and the running maximum) afresh. */
    if (sp->nmarks && rowtime <= sp->max_rowtime) return RN_OK;
    bool new_grain = !sp->nmarks || mark_grain(rowtime) != mark_grain(sp->max_rowtime);
    sp->max_rowtime = rowtime;
    if (!new_grain) return RN_OK;
    if (sp->nmarks == sp->capmarks) {
        int cap = sp->capmarks ? sp->capmarks * 2 : 16;
        held_mark_t *m = rn_realloc(sp->marks, sizeof *m * (size_t)cap);
        if (!m) return RN_ERR_NOMEM;
        sp->marks = m;
        sp->capmarks = cap;
    }
    sp->marks[sp->nmarks++] = (held_mark_t){position, rowtime};
    return RN_OK;
}

int64_t rn_source_commit_limit(void *opaque, const char *topic, int32_t partition)
{
    rn_op_t *op = opaque;
    source_t *s = op->priv;
    int64_t held = rn_op_held_since(op);
    for (int i = 0; i < s->time.nsplits; i++) {
        wm_split_t *sp = &s->time.splits[i];
        if (!split_is(sp, topic, partition)) continue;
        /* The first mark at or past the oldest held rowtime; records
         * before it are earlier, unless the mark before it shares that
         * rowtime's second (its later records were not marked): then that
         * one. */
        int k = 0;
        while (k < sp->nmarks && sp->marks[k].rowtime < held) k++;
        if (k > 0 && held != INT64_MAX && mark_grain(sp->marks[k - 1].rowtime) == mark_grain(held)) k--;
        if (k == sp->nmarks) { /* every record read so far is released */
            sp->nmarks = 0;
            return INT64_MAX;
        }
        if (k) {
            memmove(sp->marks, sp->marks + k, sizeof *sp->marks * (size_t)(sp->nmarks - k));
            sp->nmarks -= k;
        }
        return sp->marks[0].position;
    }
    return INT64_MAX;
}

void rn_source_describe_watermark(const rn_op_t *op, rn_buf_t *out)
{
    const source_t *s = op->priv;
    const source_time_t *t = &s->time;
    char ts[40], name[256];
    if (t->wm == RN_WM_MIN) rn_buf_appends(out, "none");
    else if (t->wm == RN_WM_MAX) rn_buf_appends(out, "end");
    else {
        rn_time_format(t->wm, ts, sizeof ts);
        rn_buf_appends(out, ts);
    }
    int argmin;
    bool none;
    source_min_active(s, &argmin, &none);
    int idle = 0;
    for (int i = 0; i < t->nsplits; i++) idle += t->splits[i].assigned && t->splits[i].idle;
    if (t->eof) rn_buf_appends(out, " (end of input)");
    else if (t->quiet) rn_buf_appends(out, " (quiet, following the wall clock)");
    else if (t->nsplits == 0) rn_buf_appends(out, " (no data yet)");
    else if (none) rn_buf_appends(out, " (all partitions idle: the most advanced one leads)");
    else {
        const wm_split_t *sp = &t->splits[argmin];
        split_name(s, sp, name, sizeof name);
        if (sp->wm == RN_WM_MIN) rn_buf_appendf(out, " (waiting for data on %s", name);
        else rn_buf_appendf(out, " (waiting on %s", name);
        if (idle) rn_buf_appendf(out, "; %d idle", idle);
        rn_buf_appends(out, ")");
    }
}

void rn_source_describe_partitions(const rn_op_t *op, rn_buf_t *out)
{
    const source_t *s = op->priv;
    for (int i = 0; i < s->time.nsplits; i++) {
        const wm_split_t *sp = &s->time.splits[i];
        if (!sp->assigned) continue;
        char name[256], ts[40];
        split_name(s, sp, name, sizeof name);
        if (sp->wm == RN_WM_MIN) snprintf(ts, sizeof ts, "none");
        else rn_time_format(sp->wm, ts, sizeof ts);
        rn_buf_appendf(out, "%s %s%s\n", name, ts, sp->idle ? " (idle)" : sp->paused ? " (paused: ahead)" : "");
    }
}

int rn_source_partitions(const rn_op_t *op, rn_source_partition_t *out, int max)
{
    const source_t *s = op->priv;
    int n = 0;
    for (int i = 0; i < s->time.nsplits; i++) {
        const wm_split_t *sp = &s->time.splits[i];
        if (!sp->assigned) continue;
        if (n < max) {
            int64_t lag = s->reader && s->reader->lag ? s->reader->lag(s->reader, sp->topic, sp->partition) : -1;
            out[n] = (rn_source_partition_t){.topic = sp->topic, .partition = sp->partition,
                                             .records = sp->records, .watermark = sp->wm, .lag = lag,
                                             .idle = sp->idle};
        }
        n++;
    }
    return n;
}

bool rn_source_quiet(const rn_op_t *op) { return ((const source_t *)op->priv)->time.quiet; }

/* Stamps every row of b with the watermark in force when it arrived,
 * advances the split and table watermarks, and records the commit marks;
 * rows with a NULL rowtime have already been removed. */
static rn_err_t source_assign_time(source_t *s, rn_batch_t *b, rn_ctx_t *ctx, int64_t now)
{
    source_time_t *t = &s->time;
    int n = b->nrows;
    b->rowwm = rn_arena_alloc(ctx->arena, sizeof(int64_t) * (size_t)(n ? n : 1));
    rn_value_t *wmv = rn_arena_alloc(ctx->arena, sizeof(rn_value_t) * (size_t)(n ? n : 1));
    if (!b->rowwm || !wmv) return RN_ERR_NOMEM;
    rn_err_t err = rn_expr_eval(t->spec.expr, b, ctx->arena, wmv);
    if (err != RN_OK) return err;
    const rn_value_t *rt = b->cols[t->spec.rowtime_col];
    for (int r = 0; r < n; r++) {
        const rn_record_t *rec = &s->recs[s->rec_of_row[r]];
        wm_split_t *sp = split_find(s, rec->topic, rec->partition, now);
        if (!sp) return RN_ERR_NOMEM;
        b->rowwm[r] = t->wm;
        sp->records++;
        sp->unpaused = false;
        sp->behind = false;
        int idx = (int)(sp - t->splits) + 1;
        if (idx != t->run_split) { /* a run of another partition begins: note the last one's span */
            const wm_split_t *last = t->run_split ? &t->splits[t->run_split - 1] : NULL;
            if (last && t->run_from != RN_WM_MIN && last->wm > t->run_from) {
                t->run_span[t->run_next] = last->wm - t->run_from;
                t->run_next = (t->run_next + 1) % RN_ALIGN_RUNS;
            }
            t->run_split = idx;
            t->run_from = RN_WM_MIN; /* from after this record: a jump to it is no span */
        }
        if (!s->reader->assignment) sp->assigned = true;
        sp->last_ms = now;
        if (sp->idle) {
            sp->idle = false;
            char name[256];
            split_name(s, sp, name, sizeof name);
            if (t->wall) fprintf(stderr, "runnel: table '%s': %s delivers again; it holds the watermark again\n", s->label, name);
        }
        if (!rt[r].null && (err = split_mark(sp, rec->position, rt[r].i)) != RN_OK) return err;
        if (!wmv[r].null && wmv[r].i > sp->wm) {
            bool was_holding = sp->wm <= t->wm;
            sp->wm = wmv[r].i;
            if (was_holding) {
                int argmin;
                bool none;
                int64_t m = source_min_active(s, &argmin, &none);
                if (!none && m > t->wm) t->wm = m;
            }
        }
        if (t->run_from == RN_WM_MIN) t->run_from = sp->wm;
    }
    t->last_any_ms = now;
    t->quiet = false;
    return RN_OK;
}

/* The column that makes row r unusable: the rowtime or a NOT NULL column
 * holding NULL (a delete of an upsert source only needs its key), or -1. */
static int source_null_column(const rn_op_t *op, const source_t *s, const rn_batch_t *b, int r)
{
    if (b->kinds && b->kinds[r] == RN_ROW_DELETE) return -1; /* a delete has only its key */
    if (s->time.on && b->cols[s->time.spec.rowtime_col][r].null) return s->time.spec.rowtime_col;
    if (!s->any_not_null) return -1;
    for (int c = 0; c < op->schema->ncols && c < RN_SOURCE_MAX_NOT_NULL; c++)
        if ((s->not_null[c / 64] >> (c % 64) & 1) && b->cols[c] && b->cols[c][r].null) return c;
    return -1;
}

/* Removes rows whose rowtime or a NOT NULL column is NULL, sending their
 * records to the dead-letter output. */
static rn_err_t source_check_required(rn_op_t *op, source_t *s, rn_batch_t *b, rn_ctx_t *ctx)
{
    int keep = 0;
    for (int r = 0; r < b->nrows; r++) {
        int col = source_null_column(op, s, b, r);
        if (col < 0) {
            if (keep != r) {
                for (int c = 0; c < op->schema->ncols; c++)
                    if (b->cols[c]) b->cols[c][keep] = b->cols[c][r];
                if (b->kinds) b->kinds[keep] = b->kinds[r];
                s->rec_of_row[keep] = s->rec_of_row[r];
            }
            keep++;
            continue;
        }
        char msg[300];
        if (s->time.on && col == s->time.spec.rowtime_col)
            snprintf(msg, sizeof msg, "event time column '%s' is NULL", op->schema->cols[col].name);
        else
            snprintf(msg, sizeof msg, "field '%s' is missing or null (the column is NOT NULL)",
                     op->schema->cols[col].name);
        rn_err_t err = source_dead_letter(s, &s->recs[s->rec_of_row[r]], msg, ctx);
        if (err != RN_OK) return err;
    }
    b->nrows = keep;
    return RN_OK;
}

/* After a poll: follow idle partitions and the wall clock, and deliver the
 * watermark downstream (also when only processing time moved). */
static rn_err_t source_tick(rn_op_t *op, source_t *s, rn_ctx_t *ctx, int64_t now, bool eof)
{
    if (!s->time.on) return RN_OK;
    if (eof) {
        s->time.eof = true;
        s->time.wm = RN_WM_MAX;
    } else {
        source_check_ended(s);
        source_check_idle(s, now);
        source_update_wm(s, now);
        if (!s->exchange) source_align(s, now);
    }
    op->watermark = s->time.wm;
    return rn_op_watermark(op, s->time.wm, ctx);
}

/* ---- reading a repartition topic ------------------------------------------ */

/* Applies a mark of an upstream task set (op/exchange.h) to split sp:
 * each listed task's watermark only rises; the split's watermark is the
 * minimum over all tasks once every task announced one. */
static rn_err_t split_apply_mark(wm_split_t *sp, const rn_exchange_mark_t *m)
{
    if (sp->ntasks != m->ntasks) {
        if (sp->ntasks) return RN_ERR_DECODE; /* senders disagree on the task count */
        sp->task_wm = rn_malloc(sizeof(int64_t) * m->ntasks);
        sp->task_end = rn_calloc(m->ntasks, 1);
        if (!sp->task_wm || !sp->task_end) return RN_ERR_NOMEM;
        for (uint32_t t = 0; t < m->ntasks; t++) sp->task_wm[t] = RN_WM_MIN;
        sp->ntasks = m->ntasks;
    }
    for (uint32_t i = 0; i < m->ntask; i++) {
        uint32_t t = rn_exchange_mark_task(m, i);
        if (m->wm > sp->task_wm[t]) sp->task_wm[t] = m->wm;
        if (m->end && !sp->task_end[t]) {
            sp->task_end[t] = 1;
            sp->nended++;
        }
    }
    int64_t w = RN_WM_MAX;
    for (uint32_t t = 0; t < sp->ntasks; t++)
        if (sp->task_wm[t] < w) w = sp->task_wm[t];
    if (w > sp->wm) sp->wm = w;
    return RN_OK;
}

/* ---- checkpoints (docs/checkpoints.md) -------------------------------- */

int32_t rn_source_exchange_parts(const rn_op_t *op)
{
    const source_t *s = op->priv;
    return s->exchange ? s->exchange_parts : 0;
}

/* A split's event-time state: "RNSP", u32 version (1), u8 idle, u64 wm,
 * u64 max_rowtime, u32 ntasks, then per upstream task u64 watermark and
 * u8 ended. The commit marks are not kept: with checkpoints on, commits
 * follow checkpoints, not held windows. A partition never seen writes
 * the state of a fresh one. */
rn_err_t rn_source_snapshot_split(const rn_op_t *op, const char *topic, int32_t partition, rn_buf_t *out)
{
    const source_t *s = op->priv;
    const wm_split_t *sp = NULL;
    for (int i = 0; i < s->time.nsplits && !sp; i++)
        if (split_is(&s->time.splits[i], topic, partition)) sp = &s->time.splits[i];
    rn_buf_append(out, "RNSP", 4);
    rn_snap_put_u32(out, 1);
    rn_snap_put_u8(out, sp && sp->idle);
    rn_snap_put_u64(out, (uint64_t)(sp ? sp->wm : RN_WM_MIN));
    rn_snap_put_u64(out, (uint64_t)(sp ? sp->max_rowtime : RN_WM_MIN));
    uint32_t ntasks = sp ? sp->ntasks : 0;
    rn_snap_put_u32(out, ntasks);
    for (uint32_t t = 0; t < ntasks; t++) {
        rn_snap_put_u64(out, (uint64_t)sp->task_wm[t]);
        rn_snap_put_u8(out, sp->task_end[t]);
    }
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}

rn_err_t rn_source_restore_split(rn_op_t *op, const char *topic, int32_t partition, const void *data,
                                 size_t len)
{
    source_t *s = op->priv;
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, data, len);
    if (!rn_snap_have(&r, 4) || memcmp(r.p, "RNSP", 4)) return RN_ERR_DECODE;
    r.off += 4;
    if (rn_snap_u32(&r) != 1) return RN_ERR_DECODE;
    bool idle = rn_snap_u8(&r) != 0;
    int64_t wm = (int64_t)rn_snap_u64(&r), max_rowtime = (int64_t)rn_snap_u64(&r);
    uint32_t ntasks = rn_snap_u32(&r);
    if (r.bad || ntasks > (len - r.off) / 9) return RN_ERR_DECODE;
    wm_split_t *sp = split_find(s, topic, partition, rn_clock_wall_ms());
    if (!sp) return RN_ERR_NOMEM;
    int64_t *task_wm = ntasks ? rn_malloc(sizeof(int64_t) * ntasks) : NULL;
    uint8_t *task_end = ntasks ? rn_calloc(ntasks, 1) : NULL;
    if (ntasks && (!task_wm || !task_end)) {
        rn_free(task_wm);
        rn_free(task_end);
        return RN_ERR_NOMEM;
    }
    uint32_t nended = 0;
    for (uint32_t t = 0; t < ntasks; t++) {
        task_wm[t] = (int64_t)rn_snap_u64(&r);
        task_end[t] = rn_snap_u8(&r) ? 1 : 0;
        nended += task_end[t];
    }
    if (r.bad || r.off != len) {
        rn_free(task_wm);
        rn_free(task_end);
        return RN_ERR_DECODE;
    }
    rn_free(sp->task_wm);
    rn_free(sp->task_end);
    sp->task_wm = task_wm;
    sp->task_end = task_end;
    sp->ntasks = ntasks;
    sp->nended = nended;
    if (wm > sp->wm) sp->wm = wm;
    if (max_rowtime > sp->max_rowtime) sp->max_rowtime = max_rowtime;
    sp->idle = idle && sp->wm != RN_WM_MIN;
    sp->nmarks = 0;
    return RN_OK;
}

/* Whether every partition this process reads has heard the end of every
 * upstream task: nothing more can come. */
static bool source_exchange_ended(const source_t *s)
{
    int assigned = 0;
    for (int i = 0; i < s->time.nsplits; i++) {
        const wm_split_t *sp = &s->time.splits[i];
        if (!sp->assigned) continue;
        if (!sp->ntasks || sp->nended < sp->ntasks) return false;
        assigned++;
    }
    return assigned > 0;
}

/* A fresh batch of all columns with room for RN_BATCH_MAX rows, in the
 * arena, with the rows' watermarks when the table has event time. */
static rn_batch_t *source_exchange_batch(rn_op_t *op, const source_t *s, rn_ctx_t *ctx)
{
    rn_batch_t *b = rn_batch_new(ctx->arena, op->schema, RN_BATCH_MAX);
    if (!b || !s->time.on) return b;
    b->rowwm = rn_arena_alloc(ctx->arena, sizeof(int64_t) * RN_BATCH_MAX);
    return b->rowwm ? b : NULL;
}

/* Notes the commit marks of the rows of b (stamped as they were
 * decoded) and emits b. */
static rn_err_t source_exchange_emit(rn_op_t *op, source_t *s, rn_batch_t *b, rn_ctx_t *ctx, int64_t now)
{
    if (!b->nrows) return RN_OK;
    source_time_t *t = &s->time;
    const rn_value_t *rt = t->on ? b->cols[t->spec.rowtime_col] : NULL;
    for (int r = 0; r < b->nrows; r++) {
        const rn_record_t *rec = &s->recs[s->rec_of_row[r]];
        wm_split_t *sp = split_find(s, rec->topic, rec->partition, now);
        if (!sp) return RN_ERR_NOMEM;
        sp->records++;
        rn_err_t err = !rt || rt[r].null ? RN_OK : split_mark(sp, rec->position, rt[r].i);
        if (err != RN_OK) return err;
    }
    if (t->on) t->last_any_ms = now;
    rn_err_t err = rn_op_emit(op, b, ctx);
    b->nrows = 0; /* the batch is reused for the next rows of this poll */
    return err;
}

/* rn_source_poll for a repartition topic: rows records are decoded into
 * batches of at most RN_BATCH_MAX rows, marks move the partitions'
 * watermarks, in record order. */
/* After the reader's assignment changed: the keyed operators downstream
 * forget the keys of partitions this process no longer owns (their new
 * owner rebuilds them from the topic); a window kept here would fire with
 * part of its rows. was[i]: split i was assigned before. */
static rn_err_t source_exchange_revoked(rn_op_t *op, source_t *s, const uint8_t *was, int nwas)
{
    int32_t n = s->exchange_parts;
    if (n <= 0) return RN_OK;
    uint8_t *revoked = rn_calloc((size_t)n, 1);
    if (!revoked) return RN_ERR_NOMEM;
    bool any = false;
    for (int i = 0; i < nwas; i++) {
        const wm_split_t *sp = &s->time.splits[i];
        if (!was[i] || sp->assigned || sp->partition < 0 || sp->partition >= n) continue;
        revoked[sp->partition] = 1;
        any = true;
    }
    rn_err_t err = any ? rn_op_forget_partitions(op, n, revoked) : RN_OK;
    rn_free(revoked);
    return err;
}

static rn_err_t source_poll_exchange(rn_op_t *op, source_t *s, rn_ctx_t *ctx, bool *eof)
{
    int n = 0;
    rn_err_t err = s->reader->next(s->reader, s->recs, RN_BATCH_MAX, &n, eof, ctx->errbuf, ctx->errbuf_size);
    if (err != RN_OK) return err;
    int64_t now = rn_clock_wall_ms();
    if (s->reader->assignment && s->reader->assignment_version != s->time.assignment_version) {
        int nwas = s->time.nsplits;
        uint8_t *was = rn_malloc((size_t)(nwas ? nwas : 1));
        if (!was) return RN_ERR_NOMEM;
        for (int i = 0; i < nwas; i++) was[i] = s->time.splits[i].assigned;
        err = source_sync_assignment(s, now);
        if (err == RN_OK) err = source_exchange_revoked(op, s, was, nwas);
        rn_free(was);
        if (err != RN_OK) return err;
    }
    rn_batch_t *b = NULL;
    char msg[256];
    for (int i = 0; i < n; i++) {
        const rn_record_t *r = &s->recs[i];
        const unsigned char *d = (const unsigned char *)r->data;
        wm_split_t *sp = split_find(s, r->topic, r->partition, now);
        if (!sp) return RN_ERR_NOMEM;
        /* A record of a partition taken away by this very read: its new
         * owner reads it (it was not committed here). */
        if (s->reader->assignment && !sp->assigned) continue;
        if (d && r->len && d[0] == RN_EXCHANGE_MARK) {
            rn_exchange_mark_t m;
            err = rn_exchange_decode_mark(r->data, r->len, &m, msg, sizeof msg);
            if (err == RN_OK && (err = split_apply_mark(sp, &m)) == RN_ERR_DECODE)
                snprintf(msg, sizeof msg, "repartition mark for %u tasks, others said %u", m.ntasks, sp->ntasks);
            if (err == RN_ERR_DECODE) err = source_dead_letter(s, r, msg, ctx);
            if (err != RN_OK) return err;
            if (s->time.on && sp->wm > s->time.wm) {
                int argmin;
                bool none;
                int64_t w = source_min_active(s, &argmin, &none);
                if (!none && w > s->time.wm) s->time.wm = w;
            }
            continue;
        }
        if (!b && !(b = source_exchange_batch(op, s, ctx))) return RN_ERR_NOMEM;
        int first = b->nrows;
        bool full;
        err = rn_exchange_decode_rows(r->data, r->len, b, b->rowwm, &full, msg, sizeof msg);
        if (err == RN_OK && full && first > 0) { /* a record's rows go in one batch: emit, then again */
            if ((err = source_exchange_emit(op, s, b, ctx, now)) != RN_OK) return err;
            first = 0;
            err = rn_exchange_decode_rows(r->data, r->len, b, b->rowwm, &full, msg, sizeof msg);
        }
        if (err == RN_OK && full) {
            err = RN_ERR_DECODE;
            snprintf(msg, sizeof msg, "repartition record of more than %d rows", RN_BATCH_MAX);
        }
        if (err == RN_ERR_DECODE) err = source_dead_letter(s, r, msg, ctx);
        if (err != RN_OK) return err;
        /* Each row keeps the watermark it arrived under upstream, or the
         * one in force here if later: taken now, before a mark later in
         * this poll moves it. */
        for (int k = first; k < b->nrows; k++) {
            s->rec_of_row[k] = i;
            if (b->rowwm && b->rowwm[k] < s->time.wm) b->rowwm[k] = s->time.wm;
        }
    }
    s->records += (uint64_t)n;
    if (b && (err = source_exchange_emit(op, s, b, ctx, now)) != RN_OK) return err;
    if (!*eof && source_exchange_ended(s)) *eof = true;
    if (*eof && !s->exhausted) {
        s->exhausted = true;
        if (s->reader->ended) s->reader->ended(s->reader);
    }
    return source_tick(op, s, ctx, now, *eof);
}

rn_err_t rn_source_poll(rn_op_t *op, rn_ctx_t *ctx, bool *eof)
{
    source_t *s = op->priv;
    if (s->exchange) return source_poll_exchange(op, s, ctx, eof);
    int n = 0;
    rn_err_t err = s->reader->next(s->reader, s->recs, RN_BATCH_MAX, &n, eof, ctx->errbuf,
                                   ctx->errbuf_size);
    if (err != RN_OK) return err;
    if (*eof) s->exhausted = true;
    int64_t now = s->time.on ? rn_clock_wall_ms() : 0;
    /* Partitions assigned by this very read must count before its rows
     * move the watermark. */
    if (s->time.on && (err = source_sync_assignment(s, now)) != RN_OK) return err;
    if (n == 0) return source_tick(op, s, ctx, now, *eof);
    rn_batch_t *b = rn_arena_alloc(ctx->arena, sizeof *b);
    if (!b) return RN_ERR_NOMEM;
    b->schema = op->schema;
    b->nrows = 0;
    b->cap = n;
    b->rowtime = NULL;
    b->rowwm = NULL;
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
        bool del = !r->data; /* a tombstone */
        if (del && !s->upsert) continue; /* nothing to insert into an append table */
        if (!del) {
            err = rn_json_decode(s->value.decoder, r->data, r->len, s->value.dst, b->nrows, ctx->arena,
                                 msg, sizeof msg);
        } else if (r->key && s->key.decoder) { /* an upsert table's delete: the key, NULLs */
            for (int j = 0; j < s->value.n; j++) s->value.dst[j][b->nrows] = RN_VALUE_NULL;
            err = RN_OK;
        } else {
            snprintf(msg, sizeof msg, "a tombstone (null value) without a record key: no row to delete");
            err = RN_ERR_DECODE;
        }
        if (err == RN_OK && s->key.decoder) {
            if (r->key) {
                char kmsg[480];
                err = rn_json_decode(s->key.decoder, r->key, r->klen, s->key.dst, b->nrows, ctx->arena,
                                     kmsg, sizeof kmsg);
                if (err == RN_ERR_DECODE) snprintf(msg, sizeof msg, "record key: %s", kmsg);
            } else if (!s->keys_from_value) {
                for (int j = 0; j < s->key.n; j++) s->key.dst[j][b->nrows] = RN_VALUE_NULL;
            }
        }
        if (err == RN_OK) {
            b->kinds[b->nrows] = del ? RN_ROW_DELETE : RN_ROW_INSERT;
            source_fill_meta(s, b, b->nrows, r);
            s->rec_of_row[b->nrows++] = i;
            continue;
        }
        if (err != RN_ERR_DECODE) return err;
        if ((err = source_dead_letter(s, r, msg, ctx)) != RN_OK) return err;
    }
    s->records += (uint64_t)n;
    for (int j = 0; j < s->ncomputed && b->nrows; j++) {
        int c = s->computed[j];
        b->cols[c] = rn_arena_alloc(ctx->arena, sizeof(rn_value_t) * (size_t)b->nrows);
        if (!b->cols[c]) return RN_ERR_NOMEM;
        if ((err = rn_expr_eval(s->cols[c].computed, b, ctx->arena, b->cols[c])) != RN_OK) return err;
    }
    if ((s->time.on || s->any_not_null) && b->nrows && (err = source_check_required(op, s, b, ctx)) != RN_OK)
        return err;
    if (s->time.on && b->nrows && (err = source_assign_time(s, b, ctx, now)) != RN_OK) return err;
    if (b->nrows && (err = rn_op_emit(op, b, ctx)) != RN_OK) return err;
    return source_tick(op, s, ctx, now, *eof);
}
