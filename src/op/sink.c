/*
 * sink.c - the operator at the end of every INSERT: encodes rows as JSON
 * and hands them to the connector's rn_sink_io.
 *
 * Append sinks write each row. Upsert sinks coalesce the changes of one
 * batch per primary key (the last change wins; -U/-D become a delete), in
 * the order keys were first touched, then write one record per key: this
 * is what keeps an upsert topic from seeing a burst of intermediate counts.
 * Changelog sinks (print) write every change with its kind.
 *
 * A writer with write_rows (a database, Redis) gets the same rows as values
 * with their change kinds, one call per batch, instead of JSON records.
 *
 * Outages (the RN_ERR_RETRY contract of op/io.h): when write, write_rows or
 * flush answers RN_ERR_RETRY the writer still holds every row it was
 * given, so the sink calls flush again, waiting 100 ms, doubling up to 5 s,
 * with a warning per try (one each 5 s once the wait is at its longest, one
 * a minute after the first minute), until it succeeds. The sink's caller is blocked meanwhile: the
 * pipeline reads no input (backpressure) and, as commits sync the sinks
 * first, commits nothing past the unwritten rows. 'sink.max-retries'
 * (rn_sink_set_retry; -1 = forever) bounds the tries; the run's stop flag
 * ends the wait, failing the call so that nothing more is committed.
 *
 * Two-phase commit (exactly-once, docs/checkpoints.md; a writer with
 * commit_once, op/io.h). After rn_sink_set_two_phase the sink hands the
 * writer nothing while rows arrive: it appends each row it would write
 * (its change kind and values) to `pending`, in the byte layout below.
 * A checkpoint puts the pending rows into its file (rn_sink_snapshot_pending,
 * "pre-commit"); once the file is durable and the positions committed the
 * runtime calls rn_sink_commit, which decodes them into batches, gives
 * them to write_rows and calls commit_once, and forgets them. A process
 * that restores that checkpoint later calls rn_sink_commit with the
 * file's bytes: the writer's record of committed checkpoints makes the
 * second commit write nothing. Memory: the rows of one checkpoint
 * interval, encoded (below), plus the writer's copy during a commit.
 *
 * Pending rows (all little-endian, state/snapshot.h): per row a u8 change
 * kind, then per column a u8 (0 NULL, 1 a value) and the value: a u64
 * (BOOLEAN, integers, timestamps: the int64; DOUBLE: its bits) or a u32
 * length and the bytes (STRING). The checkpoint section is a u32 version
 * (1), a u32 column count, a u32 row count and the rows as one byte
 * string.
 */
#include "core/clock.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "json/json.h"
#include "op/op.h"
#include "state/snapshot.h"
#include "state/store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define SINK_BACKOFF_MS 100      /* first wait after RN_ERR_RETRY; doubles */
#define SINK_BACKOFF_MAX_MS 5000 /* longest wait between tries */
#define SINK_STOP_POLL_MS 50     /* how often a wait looks at the stop flag */
#define SINK_QUIET_AFTER_MS 60000 /* an outage this long is reported once a minute */

typedef struct sink {
    char *label;                /* "page_views (upsert-kafka topic=page-views)" */
    rn_sink_mode mode;
    int npk;                    /* key columns (upsert key, or 'key.fields') */
    int *pk;
    int nvalue;                 /* columns written to the value, -1 = all */
    int *value_cols;
    rn_json_ts_format key_ts;   /* how timestamps are written in keys and values */
    rn_json_ts_format value_ts; /* ('json.timestamp-format.standard'; default epoch ms) */
    rn_sink_io_t *io;           /* owned */
    rn_buf_t key, value, scratch;
    bool fmt_ready;             /* key_fmt and value_fmt compiled (on the first row written) */
    rn_json_row_fmt_t key_fmt;  /* the key's JSON object (the pk columns) */
    rn_json_row_fmt_t value_fmt; /* the value's JSON object */
    int64_t max_retries;        /* 'sink.max-retries': flushes retried after RN_ERR_RETRY, -1 = forever */
    volatile sig_atomic_t *stop; /* the run's stop request (not owned), or NULL */
    uint64_t errors;            /* failed writes and flushes (rn_sink_errors) */
    uint64_t retries;           /* flushes retried after RN_ERR_RETRY */
    char *commit_name;          /* two-phase: the sink's name in the writer's commit records
                                 * (owned); NULL: rows go to the writer as they come */
    rn_buf_t pending;           /* two-phase: the rows since the last checkpoint (layout above) */
    uint32_t npending;          /* rows in pending */
    uint64_t oldest_record;     /* two-phase: no commit record of the writer below it is left
                                 * (0: none left; 1 at the start: a predecessor's may be) */
    int64_t forget_after_ms;    /* two-phase: no forget_commits before then (after a failed one) */
} sink_t;

#define SINK_FORGET_BACKOFF_MS 30000 /* after a failed forget_commits */

#define SINK_PENDING_VERSION 1  /* of a checkpoint's sink section */

/* Sleeps ms milliseconds in short slices; false when the stop flag was
 * seen set (the wait is then cut short). */
static bool sink_wait(const sink_t *s, int ms)
{
    while (ms > 0) {
        if (s->stop && *s->stop) return false;
        int slice = ms < SINK_STOP_POLL_MS ? ms : SINK_STOP_POLL_MS;
        struct timespec ts = {0, (long)slice * 1000000L};
        nanosleep(&ts, NULL); /* a signal cuts it short: the flag is looked at next */
        ms -= slice;
    }
    return !(s->stop && *s->stop);
}

/* What sink_backoff tries again, and how it speaks of it. */
typedef struct sink_try {
    rn_err_t (*again)(sink_t *s, void *arg, char *errbuf, size_t errbuf_size); /* the call retried */
    void *arg;
    const char *doing;          /* "retrying", "committing checkpoint 7 again" (the log's words) */
    const char *kept;           /* ", writes kept" or "" (after "input paused" in the log) */
    /* Writes the failure into errbuf: stopped, or 'sink.max-retries'
     * reached after tries; why is the writer's last message. */
    void (*give_up)(const sink_t *s, void *arg, bool stopped, int64_t tries, const char *why, char *errbuf,
                    size_t errbuf_size);
} sink_try_t;

/* Called with err, the answer of a writer call that failed (already
 * counted in s->errors): while it is RN_ERR_RETRY, waits with backoff
 * (100 ms doubling to 5 s) and calls t->again. Returns RN_OK once a try
 * succeeds (*tries_out says after how many retries), err unchanged when it
 * was not RN_ERR_RETRY, another error of a try, or RN_ERR_IO when
 * 'sink.max-retries' tries failed or a stop was requested (errbuf says
 * which, and the writer's last message). A warning per try while the
 * waits grow, then one each 5 s, and one a minute once the outage has
 * lasted a minute. */
static rn_err_t sink_backoff(sink_t *s, rn_err_t err, const sink_try_t *t, int64_t *tries_out, char *errbuf,
                             size_t errbuf_size)
{
    int wait_ms = SINK_BACKOFF_MS;
    int64_t tries = 0;
    int64_t last_log = 0; /* wall-clock ms of the last warning */
    int64_t since = rn_clock_wall_ms();
    char why[512];
    while (err == RN_ERR_RETRY) {
        snprintf(why, sizeof why, "%s", errbuf_size ? errbuf : "");
        bool stopped = s->stop && *s->stop;
        if (stopped || (s->max_retries >= 0 && tries >= s->max_retries)) {
            t->give_up(s, t->arg, stopped, tries, why, errbuf, errbuf_size);
            err = RN_ERR_IO;
            break;
        }
        int64_t now = rn_clock_wall_ms();
        int64_t every = now - since >= SINK_QUIET_AFTER_MS ? SINK_QUIET_AFTER_MS : SINK_BACKOFF_MAX_MS;
        if (wait_ms < SINK_BACKOFF_MAX_MS || now - last_log >= every) {
            rn_log_warn("sink %s: %s; %s in %d ms (try %lld, %lld s since the first failure; input paused%s)",
                        s->label, why, t->doing, wait_ms, (long long)tries + 1, (long long)(now - since) / 1000,
                        t->kept);
            last_log = now;
        }
        if (!sink_wait(s, wait_ms)) continue; /* reports the stop above */
        wait_ms = wait_ms * 2 > SINK_BACKOFF_MAX_MS ? SINK_BACKOFF_MAX_MS : wait_ms * 2;
        tries++;
        s->retries++;
        err = t->again(s, t->arg, errbuf, errbuf_size);
        if (err != RN_OK) s->errors++;
    }
    if (tries_out) *tries_out = tries;
    return err;
}

static rn_err_t sink_flush_again(sink_t *s, void *arg, char *errbuf, size_t errbuf_size)
{
    (void)arg;
    return s->io->flush(s->io, errbuf, errbuf_size);
}

static void sink_flush_give_up(const sink_t *s, void *arg, bool stopped, int64_t tries, const char *why,
                               char *errbuf, size_t errbuf_size)
{
    (void)arg;
    if (stopped)
        snprintf(errbuf, errbuf_size, "sink %s: stopped while its writes were not delivered "
                 "(nothing after them is committed; they are written again on restart): %s", s->label, why);
    else
        snprintf(errbuf, errbuf_size, "sink %s: giving up after %lld retries ('sink.max-retries'): %s",
                 s->label, (long long)tries, why);
}

/* Called with err, the answer of a write, write_rows or flush of the
 * writer: when it is RN_ERR_RETRY, flushes again with backoff until the
 * writer has delivered everything it holds (sink_backoff). Returns RN_OK
 * then; err unchanged when it was not RN_ERR_RETRY; the flush's other
 * error; or RN_ERR_IO when 'sink.max-retries' tries failed or a stop was
 * requested (errbuf says which, and the writer's last message). */
static rn_err_t sink_retry(sink_t *s, rn_err_t err, char *errbuf, size_t errbuf_size)
{
    if (err != RN_OK) s->errors++;
    if (err != RN_ERR_RETRY) return err;
    const sink_try_t t = {sink_flush_again, NULL, "retrying", ", writes kept", sink_flush_give_up};
    int64_t tries = 0;
    err = sink_backoff(s, err, &t, &tries, errbuf, errbuf_size);
    if (err == RN_OK) rn_log_warn("sink %s: delivered again after %lld retries", s->label, (long long)tries);
    return err;
}

typedef struct sink_slot {
    uint64_t hash;
    int first;                  /* row that first touched the key; -1 = empty */
    int last;                   /* row of the last change */
} sink_slot_t;

/* Hands rows[0..n) of in to the writer: typed when it takes rows
 * (write_rows), else one JSON record per row. Upsert sinks pass the last
 * change per key; a retraction there means delete. */
static rn_err_t sink_deliver(rn_op_t *op, sink_t *s, const rn_batch_t *in, const int *rows, int n,
                             rn_ctx_t *ctx);

static rn_err_t sink_write_row(rn_op_t *op, sink_t *s, const rn_batch_t *in, int r, bool with_key,
                               bool as_delete, rn_ctx_t *ctx)
{
    if (!s->fmt_ready) {
        if (rn_json_row_fmt_init(&s->key_fmt, op->schema, s->pk, s->npk, s->key_ts) != RN_OK) return RN_ERR_NOMEM;
        if (rn_json_row_fmt_init(&s->value_fmt, op->schema, s->nvalue >= 0 ? s->value_cols : NULL,
                                 s->nvalue >= 0 ? s->nvalue : op->schema->ncols, s->value_ts) != RN_OK) {
            rn_json_row_fmt_free(&s->key_fmt);
            return RN_ERR_NOMEM;
        }
        s->fmt_ready = true;
    }
    rn_buf_clear(&s->key);
    rn_buf_clear(&s->value);
    if (with_key) rn_json_row_fmt_write(&s->key_fmt, &s->key, in->cols, r);
    if (!as_delete) rn_json_row_fmt_write(&s->value_fmt, &s->value, in->cols, r);
    if (s->key.oom || s->value.oom) return RN_ERR_NOMEM;
    rn_err_t err = s->io->write(s->io, with_key ? s->key.data : NULL, s->key.len,
                                as_delete ? NULL : s->value.data, s->value.len,
                                (rn_rowkind_t)in->kinds[r], ctx->errbuf, ctx->errbuf_size);
    err = sink_retry(s, err, ctx->errbuf, ctx->errbuf_size); /* the row is held by the writer */
    if (err == RN_OK) s->io->records++;
    return err;
}

static rn_err_t sink_process_upsert(rn_op_t *op, sink_t *s, const rn_batch_t *in, rn_ctx_t *ctx)
{
    int n = in->nrows;
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    sink_slot_t *slots = rn_arena_alloc(ctx->arena, sizeof *slots * cap);
    int *order = rn_arena_alloc(ctx->arena, sizeof(int) * (size_t)n);
    /* per-row key bytes so equal keys can be compared */
    uint32_t *koff = rn_arena_alloc(ctx->arena, sizeof(uint32_t) * (size_t)(n + 1));
    if (!slots || !order || !koff) return RN_ERR_NOMEM;
    for (size_t i = 0; i < cap; i++) slots[i].first = -1;
    rn_buf_clear(&s->scratch);
    int norder = 0;
    for (int r = 0; r < n; r++) {
        koff[r] = (uint32_t)s->scratch.len;
        for (int k = 0; k < s->npk; k++)
            rn_key_append(&s->scratch, op->schema->cols[s->pk[k]].type->id, &in->cols[s->pk[k]][r]);
        if (s->scratch.oom) return RN_ERR_NOMEM;
        koff[r + 1] = (uint32_t)s->scratch.len;
        const char *kb = s->scratch.data + koff[r];
        uint32_t kl = koff[r + 1] - koff[r];
        uint64_t h = rn_hash_bytes(kb, kl, 7);
        size_t i = h & (cap - 1);
        for (;; i = (i + 1) & (cap - 1)) {
            sink_slot_t *sl = &slots[i];
            if (sl->first < 0) {
                sl->hash = h;
                sl->first = sl->last = r;
                order[norder++] = (int)i;
                break;
            }
            uint32_t ol = koff[sl->first + 1] - koff[sl->first];
            if (sl->hash == h && ol == kl && !memcmp(s->scratch.data + koff[sl->first], kb, kl)) {
                sl->last = r;
                break;
            }
        }
    }
    for (int j = 0; j < norder; j++) order[j] = slots[order[j]].last;
    return sink_deliver(op, s, in, order, norder, ctx);
}

/* Two-phase: appends rows[0..n) of in (NULL: all in order) to the pending rows. */
static rn_err_t sink_hold(const rn_op_t *op, sink_t *s, const rn_batch_t *in, const int *rows, int n)
{
    const rn_schema_t *sc = op->schema;
    for (int j = 0; j < n; j++) {
        int r = rows ? rows[j] : j;
        rn_snap_put_u8(&s->pending, in->kinds[r]);
        for (int c = 0; c < sc->ncols; c++) {
            const rn_value_t *v = rn_batch_value_ptr(in, c, r);
            rn_snap_put_u8(&s->pending, v->null ? 0 : 1);
            if (v->null) continue;
            if (sc->cols[c].type->id == RN_TYPE_STRING) {
                rn_snap_put_bytes(&s->pending, v->s, v->len);
            } else if (sc->cols[c].type->id == RN_TYPE_DOUBLE) {
                uint64_t bits;
                memcpy(&bits, &v->d, sizeof bits);
                rn_snap_put_u64(&s->pending, bits);
            } else {
                rn_snap_put_u64(&s->pending, (uint64_t)v->i);
            }
        }
    }
    if (s->pending.oom) return RN_ERR_NOMEM;
    s->npending += (uint32_t)n;
    return RN_OK;
}

static rn_err_t sink_deliver(rn_op_t *op, sink_t *s, const rn_batch_t *in, const int *rows, int n,
                             rn_ctx_t *ctx)
{
    if (s->commit_name) return sink_hold(op, s, in, rows, n);
    if (s->io->write_rows) {
        if (!rows) { /* every row in order */
            int *all = rn_arena_alloc(ctx->arena, sizeof(int) * (size_t)(n ? n : 1));
            if (!all) return RN_ERR_NOMEM;
            for (int j = 0; j < n; j++) all[j] = j;
            rows = all;
        }
        rn_sink_layout_t layout = {.schema = op->schema, .mode = s->mode, .npk = s->npk, .pk = s->pk,
                                   .nvalue = s->nvalue >= 0 ? s->nvalue : op->schema->ncols,
                                   .value_cols = s->nvalue >= 0 ? s->value_cols : NULL};
        rn_err_t err = s->io->write_rows(s->io, in, rows, n, &layout, ctx->errbuf, ctx->errbuf_size);
        err = sink_retry(s, err, ctx->errbuf, ctx->errbuf_size); /* the rows are held by the writer */
        if (err == RN_OK) s->io->records += (uint64_t)n;
        return err;
    }
    bool upsert = s->mode == RN_SINK_UPSERT;
    for (int j = 0; j < n; j++) {
        int r = rows ? rows[j] : j;
        bool del = upsert && rn_rowkind_is_retract((rn_rowkind_t)in->kinds[r]);
        rn_err_t err = sink_write_row(op, s, in, r, upsert || s->npk > 0, del, ctx);
        if (err != RN_OK) return err;
    }
    if (!s->io->write_end || !n) return RN_OK;
    return sink_retry(s, s->io->write_end(s->io, ctx->errbuf, ctx->errbuf_size), ctx->errbuf, ctx->errbuf_size);
}

static rn_err_t sink_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    sink_t *s = op->priv;
    rn_err_t err;
    if (s->mode == RN_SINK_UPSERT) err = sink_process_upsert(op, s, in, ctx);
    else err = sink_deliver(op, s, in, NULL, in->nrows, ctx); /* every row, in order */
    op->rows_out += (uint64_t)in->nrows;
    return err;
}

static rn_err_t sink_finish(rn_op_t *op, rn_ctx_t *ctx)
{
    sink_t *s = op->priv;
    if (s->commit_name) return RN_OK; /* the final checkpoint commits the pending rows */
    return s->io ? sink_retry(s, s->io->flush(s->io, ctx->errbuf, ctx->errbuf_size), ctx->errbuf, ctx->errbuf_size)
                 : RN_OK;
}

static void sink_explain(const rn_op_t *op, rn_buf_t *out)
{
    const sink_t *s = op->priv;
    rn_buf_appends(out, s->label);
    static const char *modes[] = {"append", "upsert", "changelog"};
    rn_buf_appendf(out, ", %s", modes[s->mode]);
    if (s->npk) {
        rn_buf_appends(out, " key [");
        for (int k = 0; k < s->npk; k++)
            rn_buf_appendf(out, "%s%s", k ? ", " : "", op->schema->cols[s->pk[k]].name);
        rn_buf_appends(out, "]");
    }
}

static void sink_destroy(rn_op_t *op)
{
    sink_t *s = op->priv;
    if (s->io) s->io->close(s->io);
    rn_buf_free(&s->key);
    rn_buf_free(&s->value);
    rn_buf_free(&s->scratch);
    rn_buf_free(&s->pending);
    if (s->fmt_ready) {
        rn_json_row_fmt_free(&s->key_fmt);
        rn_json_row_fmt_free(&s->value_fmt);
    }
    rn_free(s->commit_name);
    rn_free(s->pk);
    rn_free(s->value_cols);
    rn_free(s->label);
    rn_free(s);
}

/* Two-phase: the pending rows are the sink's state (--max-memory names it). */
static size_t sink_state_size(const rn_op_t *op, size_t *keys)
{
    const sink_t *s = op->priv;
    *keys = s->npending;
    return s->pending.cap;
}

static const rn_op_vtable_t sink_vtable = {
    .kind = "Sink",
    .process = sink_process,
    .finish = sink_finish,
    .explain = sink_explain,
    .destroy = sink_destroy,
    .state_size = sink_state_size,
};

rn_op_t *rn_sink_new(rn_op_t *input, const char *label, rn_sink_mode mode, int npk, const int *pk,
                     rn_sink_io_t *io)
{
    sink_t *s = rn_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->label = rn_strdup(label);
    s->pk = rn_calloc((size_t)(npk ? npk : 1), sizeof(int));
    rn_op_t *op = s->label && s->pk ? rn_op_new(&sink_vtable, input->schema, input) : NULL;
    if (!op) {
        rn_free(s->label);
        rn_free(s->pk);
        rn_free(s);
        return NULL;
    }
    if (npk) memcpy(s->pk, pk, sizeof(int) * (size_t)npk);
    s->mode = mode;
    s->npk = npk;
    s->nvalue = -1;
    s->io = io;
    s->max_retries = -1;
    rn_buf_init(&s->key);
    rn_buf_init(&s->value);
    rn_buf_init(&s->scratch);
    rn_buf_init(&s->pending);
    op->priv = s;
    return op;
}

void rn_sink_set_io(rn_op_t *op, rn_sink_io_t *io)
{
    sink_t *s = op->priv;
    if (s->io) s->io->close(s->io);
    s->io = io;
}

void rn_sink_set_json_timestamps(rn_op_t *op, rn_json_ts_format key, rn_json_ts_format value)
{
    sink_t *s = op->priv;
    s->key_ts = key;
    s->value_ts = value;
    if (s->fmt_ready) { /* compiled again on the next row */
        rn_json_row_fmt_free(&s->key_fmt);
        rn_json_row_fmt_free(&s->value_fmt);
        s->fmt_ready = false;
    }
}

rn_err_t rn_sink_set_value_columns(rn_op_t *op, int n, const int *cols)
{
    sink_t *s = op->priv;
    rn_free(s->value_cols);
    s->value_cols = rn_calloc((size_t)(n ? n : 1), sizeof(int));
    if (!s->value_cols) return RN_ERR_NOMEM;
    if (n) memcpy(s->value_cols, cols, sizeof(int) * (size_t)n);
    s->nvalue = n;
    if (s->fmt_ready) { /* compiled again on the next row */
        rn_json_row_fmt_free(&s->key_fmt);
        rn_json_row_fmt_free(&s->value_fmt);
        s->fmt_ready = false;
    }
    return RN_OK;
}

rn_err_t rn_sink_sync(rn_op_t *op, char *errbuf, size_t errbuf_size)
{
    sink_t *s = op->priv;
    if (s->commit_name) return RN_OK; /* nothing is handed to the writer between checkpoints */
    return s->io ? sink_retry(s, s->io->flush(s->io, errbuf, errbuf_size), errbuf, errbuf_size) : RN_OK;
}

void rn_sink_set_retry(rn_op_t *op, int64_t max_retries, volatile sig_atomic_t *stop)
{
    sink_t *s = op->priv;
    s->max_retries = max_retries;
    s->stop = stop;
}

uint64_t rn_sink_errors(const rn_op_t *op) { return ((const sink_t *)op->priv)->errors; }
uint64_t rn_sink_retries(const rn_op_t *op) { return ((const sink_t *)op->priv)->retries; }

uint64_t rn_sink_records(const rn_op_t *op)
{
    const sink_t *s = op->priv;
    return s->io ? s->io->records : 0;
}

/* ---- two-phase commit ---------------------------------------------------- */

rn_err_t rn_sink_set_two_phase(rn_op_t *op, const char *name, char *errbuf, size_t errbuf_size)
{
    sink_t *s = op->priv;
    if (!s->io || !s->io->commit_once || !s->io->write_rows) {
        snprintf(errbuf, errbuf_size, "sink %s: its writer cannot commit exactly once", s->label);
        return RN_ERR_UNSUPPORTED;
    }
    for (int c = 0; c < op->schema->ncols; c++) {
        if (op->schema->cols[c].type->id != RN_TYPE_ROW) continue;
        snprintf(errbuf, errbuf_size, "sink %s: column '%s': exactly-once cannot hold ROW values", s->label,
                 op->schema->cols[c].name);
        return RN_ERR_UNSUPPORTED;
    }
    char *copy = rn_strdup(name);
    if (!copy) return RN_ERR_NOMEM;
    rn_free(s->commit_name);
    s->commit_name = copy;
    s->oldest_record = 1; /* a process before this one (same writer) may have left records */
    return RN_OK;
}

bool rn_sink_two_phase(const rn_op_t *op) { return ((const sink_t *)op->priv)->commit_name != NULL; }

uint32_t rn_sink_pending_rows(const rn_op_t *op) { return ((const sink_t *)op->priv)->npending; }

rn_err_t rn_sink_snapshot_pending(const rn_op_t *op, rn_buf_t *out)
{
    const sink_t *s = op->priv;
    rn_snap_put_u32(out, SINK_PENDING_VERSION);
    rn_snap_put_u32(out, (uint32_t)op->schema->ncols);
    rn_snap_put_u32(out, s->npending);
    rn_snap_put_bytes(out, s->pending.data, (uint32_t)s->pending.len);
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}

/* Decodes up to b->cap rows from rd into b (values point into the
 * reader's bytes). False when the bytes are not rows of op's schema. */
static bool sink_unhold(const rn_op_t *op, rn_snap_reader_t *rd, rn_batch_t *b, uint32_t *left)
{
    const rn_schema_t *sc = op->schema;
    b->nrows = 0;
    while (*left && b->nrows < b->cap) {
        int r = b->nrows;
        uint8_t kind = rn_snap_u8(rd);
        if (kind > RN_ROW_DELETE) return false;
        b->kinds[r] = kind;
        for (int c = 0; c < sc->ncols; c++) {
            rn_value_t *v = &b->cols[c][r];
            uint8_t has = rn_snap_u8(rd);
            if (has > 1) return false;
            if (!has) {
                *v = RN_VALUE_NULL;
            } else if (sc->cols[c].type->id == RN_TYPE_STRING) {
                uint32_t len;
                const char *bytes = rn_snap_bytes(rd, &len);
                *v = rn_value_str(bytes ? bytes : "", len);
            } else if (sc->cols[c].type->id == RN_TYPE_DOUBLE) {
                uint64_t bits = rn_snap_u64(rd);
                double d;
                memcpy(&d, &bits, sizeof d);
                *v = rn_value_double(d);
            } else {
                *v = rn_value_int((int64_t)rn_snap_u64(rd));
            }
        }
        if (rd->bad) return false;
        if (b->rowtime) b->rowtime[r] = 0;
        if (b->rowwm) b->rowwm[r] = INT64_MIN;
        b->nrows++;
        (*left)--;
    }
    return true;
}

/* Gives rows[0..n) bytes (pending layout) to the writer and commits them
 * once as checkpoint ckpt of writer; retries RN_ERR_RETRY as sink_retry
 * does, calling commit_once again. */
/* One commit of a two-phase sink's rows (io->commit_once's arguments). */
typedef struct sink_commit {
    const char *writer;
    uint64_t ckpt, keep_from;
} sink_commit_t;

static rn_err_t sink_commit_again(sink_t *s, void *arg, char *errbuf, size_t errbuf_size)
{
    const sink_commit_t *cm = arg;
    return s->io->commit_once(s->io, s->commit_name, cm->writer, cm->ckpt, cm->keep_from, errbuf, errbuf_size);
}

static void sink_commit_give_up(const sink_t *s, void *arg, bool stopped, int64_t tries, const char *why,
                                char *errbuf, size_t errbuf_size)
{
    (void)tries;
    const sink_commit_t *cm = arg;
    snprintf(errbuf, errbuf_size,
             "sink %s: checkpoint %llu is not committed (%s; the process that restores the checkpoint "
             "commits it): %s", s->label, (unsigned long long)cm->ckpt,
             stopped ? "stopped" : "'sink.max-retries' reached", why);
}

static rn_err_t sink_commit_rows(rn_op_t *op, sink_t *s, const char *writer, uint64_t ckpt, uint64_t keep_from,
                                 const void *rows, size_t len, uint32_t n, char *errbuf, size_t errbuf_size)
{
    if (!n) return RN_OK; /* nothing to write, nothing to record */
    rn_arena_t arena;
    rn_arena_init(&arena, 1 << 16);
    rn_batch_t *b = rn_batch_new(&arena, op->schema, RN_BATCH_MAX);
    int *all = rn_arena_alloc(&arena, sizeof(int) * RN_BATCH_MAX);
    if (!b || !all) {
        rn_arena_free(&arena);
        return RN_ERR_NOMEM;
    }
    for (int j = 0; j < RN_BATCH_MAX; j++) all[j] = j;
    rn_sink_layout_t layout = {.schema = op->schema, .mode = s->mode, .npk = s->npk, .pk = s->pk,
                               .nvalue = s->nvalue >= 0 ? s->nvalue : op->schema->ncols,
                               .value_cols = s->nvalue >= 0 ? s->value_cols : NULL};
    rn_snap_reader_t rd;
    rn_snap_reader_init(&rd, rows, len);
    uint32_t left = n;
    rn_err_t err = RN_OK;
    while (left && err == RN_OK) {
        if (!sink_unhold(op, &rd, b, &left)) {
            snprintf(errbuf, errbuf_size, "sink %s: the pending rows of checkpoint %llu are corrupt", s->label,
                     (unsigned long long)ckpt);
            err = RN_ERR_DECODE;
            break;
        }
        err = s->io->write_rows(s->io, b, all, b->nrows, &layout, errbuf, errbuf_size);
        if (err == RN_ERR_RETRY) err = RN_OK; /* the rows are held (op/io.h): commit_once retries */
    }
    if (err == RN_OK && !rn_snap_done(&rd)) {
        snprintf(errbuf, errbuf_size, "sink %s: the pending rows of checkpoint %llu are corrupt", s->label,
                 (unsigned long long)ckpt);
        err = RN_ERR_DECODE;
    }
    rn_arena_free(&arena);
    if (err != RN_OK) {
        s->errors++;
        return err;
    }
    sink_commit_t cm = {writer, ckpt, keep_from};
    char doing[64];
    snprintf(doing, sizeof doing, "committing checkpoint %llu again", (unsigned long long)ckpt);
    const sink_try_t t = {sink_commit_again, &cm, doing, "", sink_commit_give_up};
    err = sink_commit_again(s, &cm, errbuf, errbuf_size);
    if (err != RN_OK) s->errors++;
    return sink_backoff(s, err, &t, NULL, errbuf, errbuf_size);
}

/* A checkpoint without rows records nothing, so its commit deletes no old
 * records either: where some are left below keep_from (the oldest file
 * kept), this deletes them, and learns which is the oldest left. A
 * failure only delays it (it is housekeeping): it is logged and tried
 * again after SINK_FORGET_BACKOFF_MS. */
static void sink_forget(sink_t *s, const char *writer, uint64_t keep_from)
{
    if (!s->oldest_record || keep_from <= s->oldest_record || !s->io->forget_commits) return;
    int64_t now = rn_clock_wall_ms();
    if (now < s->forget_after_ms) return;
    char why[512] = "";
    uint64_t oldest = s->oldest_record;
    if (s->io->forget_commits(s->io, s->commit_name, writer, keep_from, &oldest, why, sizeof why) != RN_OK) {
        rn_log_warn("sink %s: %s (tried again in %d s)", s->label, why, SINK_FORGET_BACKOFF_MS / 1000);
        s->forget_after_ms = now + SINK_FORGET_BACKOFF_MS;
        return;
    }
    s->oldest_record = oldest;
}

rn_err_t rn_sink_commit(rn_op_t *op, const char *writer, uint64_t ckpt, uint64_t keep_from, char *errbuf,
                        size_t errbuf_size)
{
    sink_t *s = op->priv;
    if (!s->commit_name) return RN_OK;
    if (!s->npending) {
        sink_forget(s, writer, keep_from);
        return RN_OK;
    }
    rn_err_t err = sink_commit_rows(op, s, writer, ckpt, keep_from, s->pending.data, s->pending.len, s->npending,
                                    errbuf, errbuf_size);
    if (err != RN_OK) return err;
    /* the commit recorded ckpt and deleted the records below keep_from */
    s->oldest_record = keep_from ? keep_from : s->oldest_record ? s->oldest_record : ckpt;
    s->io->records += s->npending;
    rn_buf_clear(&s->pending);
    s->npending = 0;
    return RN_OK;
}

rn_err_t rn_sink_commit_restored(rn_op_t *op, const char *writer, uint64_t ckpt, const void *data, size_t len,
                                 char *errbuf, size_t errbuf_size)
{
    sink_t *s = op->priv;
    if (!s->commit_name) return RN_OK;
    rn_snap_reader_t rd;
    rn_snap_reader_init(&rd, data, len);
    uint32_t version = rn_snap_u32(&rd), ncols = rn_snap_u32(&rd), n = rn_snap_u32(&rd), blen;
    const void *rows = rn_snap_bytes(&rd, &blen);
    if (rd.bad || !rn_snap_done(&rd) || version != SINK_PENDING_VERSION || ncols != (uint32_t)op->schema->ncols) {
        snprintf(errbuf, errbuf_size, "sink %s: the pending rows of checkpoint %llu cannot be read (%s)", s->label,
                 (unsigned long long)ckpt, version != SINK_PENDING_VERSION && !rd.bad ? "another format" : "corrupt");
        return RN_ERR_DECODE;
    }
    rn_err_t err = sink_commit_rows(op, s, writer, ckpt, 0, rows, blen, n, errbuf, errbuf_size);
    /* (writer may be this process's predecessor: its records are ours to delete) */
    if (err == RN_OK && n && (!s->oldest_record || ckpt < s->oldest_record)) s->oldest_record = ckpt;
    return err;
}
