/*
 * exchange.c - the Exchange operator and its record format; see
 * exchange.h and docs/scale-out.md.
 *
 * Local, it is a pass-through: rows and watermarks go on unchanged, so
 * `runnel test` and a one-process run over files give exactly what they
 * gave before the planner started inserting Exchanges.
 *
 * Remote, each input batch becomes at most one record per destination
 * partition (rows of one partition keep their order, which the idempotent
 * producer preserves), and the watermark becomes marks: whenever it moved
 * (at most every RN_EXCHANGE_MARK_MS) and at least every
 * RN_EXCHANGE_HEARTBEAT_MS, one mark per partition listing the tasks this
 * process owns. A mark follows the rows sent before it in every partition,
 * so a receiver that has read a task's mark W has read every row that task
 * sent before its watermark reached W. The heartbeat lets a process that
 * takes a partition over learn every task's watermark. When the upstream
 * source reaches the end of a bounded input the marks say so (END), and
 * the receivers finish once every task has ended.
 */
#include "op/exchange.h"

#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "state/snapshot.h"
#include "state/store.h"

#define RN_EXCHANGE_MARK_MS 200       /* marks for a moved watermark: at most this often */
#define RN_EXCHANGE_HEARTBEAT_MS 1000 /* marks even when nothing moved */
#define RN_EXCHANGE_MAX_OWNED 4096    /* tasks listed in one mark */

typedef struct exchange {
    int nkeys;
    int *keys;                  /* input columns of the key */
    int rowtime_col;            /* or -1 */
    rn_exchange_io_t *io;       /* remote transport (owned), NULL: local */
    rn_op_t *upstream;          /* remote: the source whose partitions are our tasks */
    rn_buf_t *parts;            /* remote: per destination partition, the record being built */
    int *nrows;                 /* rows in parts[i] */
    rn_buf_t key;               /* scratch: the key bytes of one row */
    rn_buf_t mark;              /* scratch: a mark record */
    int64_t wm;                 /* last watermark from the input */
    int64_t sent_wm;            /* watermark of the last marks sent (RN_WM_MIN: none) */
    int64_t sent_ms;            /* when they were sent */
    uint64_t sent_version;      /* upstream assignment_version they listed */
    bool ended;                 /* END marks sent */
    uint64_t records;           /* records sent */
} exchange_t;

/* ---- the value codec ------------------------------------------------------ */

/* Writes v as a varint at p; returns the byte after it. */
static inline unsigned char *raw_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static inline uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

/* Appends row r of batch to b as the record format has it (exchange.h:
 * kind, rowwm, and per column a presence byte and the value): one
 * reservation for the whole row, then plain stores, instead of a bounds
 * check per byte. */
static void put_row(rn_buf_t *b, const rn_batch_t *batch, int r)
{
    const rn_schema_t *s = batch->schema;
    size_t need = 1 + 10;
    for (int c = 0; c < s->ncols; c++) {
        const rn_value_t *v = batch->cols[c] ? &batch->cols[c][r] : &RN_VALUE_NULL;
        need += 1 + 10 + (!v->null && s->cols[c].type->id == RN_TYPE_STRING ? v->len : 0);
    }
    if (rn_buf_reserve(b, need) != 0) return; /* (oom set) */
    unsigned char *p = (unsigned char *)b->data + b->len;
    *p++ = batch->kinds[r];
    p = raw_varint(p, zigzag(batch->rowwm ? batch->rowwm[r] : RN_WM_MIN));
    for (int c = 0; c < s->ncols; c++) {
        const rn_value_t *v = batch->cols[c] ? &batch->cols[c][r] : &RN_VALUE_NULL;
        if (v->null) {
            *p++ = 0;
            continue;
        }
        *p++ = 1;
        switch (s->cols[c].type->id) {
        case RN_TYPE_DOUBLE: {
            uint64_t bits;
            memcpy(&bits, &v->d, 8);
            for (int i = 0; i < 8; i++) *p++ = (unsigned char)(bits >> (8 * i));
            break;
        }
        case RN_TYPE_STRING:
            p = raw_varint(p, v->len);
            if (v->len) memcpy(p, v->s, v->len);
            p += v->len;
            break;
        default: /* BOOLEAN, integers, timestamps */
            p = raw_varint(p, zigzag(v->i));
            break;
        }
    }
    b->len = (size_t)(p - (unsigned char *)b->data);
    b->data[b->len] = '\0';
}

/* The readers below work on a state/snapshot.h reader: every read is
 * bounds checked, and a read past the end marks it bad. */

static uint64_t get_varint(rn_snap_reader_t *r)
{
    if (r->len - r->off >= 10 && !r->bad) { /* room for the longest: no check per byte */
        const unsigned char *p = r->p + r->off;
        uint64_t v = 0;
        for (int i = 0; i < 10; i++) {
            v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
            if (!(p[i] & 0x80)) {
                r->off += (size_t)i + 1;
                return v;
            }
        }
        r->bad = true; /* longer than 64 bits */
        return 0;
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && !r->bad; shift += 7) {
        unsigned char c = rn_snap_u8(r);
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return v;
    }
    r->bad = true;
    return 0;
}

static int64_t get_svarint(rn_snap_reader_t *r)
{
    uint64_t u = get_varint(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Reads one value of type t into *v (strings point into the record). */
static void get_value(rn_snap_reader_t *r, rn_type_id t, rn_value_t *v)
{
    unsigned char present = rn_snap_u8(r);
    if (present > 1) r->bad = true;
    if (!present || r->bad) {
        *v = RN_VALUE_NULL;
        return;
    }
    switch (t) {
    case RN_TYPE_DOUBLE: {
        uint64_t bits = rn_snap_u64(r);
        double d;
        memcpy(&d, &bits, 8);
        *v = rn_value_double(d);
        break;
    }
    case RN_TYPE_STRING: {
        uint64_t len = get_varint(r);
        if (r->bad || len > UINT32_MAX || !rn_snap_have(r, (size_t)len)) {
            r->bad = true;
            return;
        }
        *v = rn_value_str((const char *)r->p + r->off, (uint32_t)len);
        r->off += (size_t)len;
        break;
    }
    default:
        *v = rn_value_int(get_svarint(r));
        break;
    }
}

/* Starts reading a record of the given kind: checks its two header bytes. */
static bool header_ok(rn_snap_reader_t *r, const void *data, size_t len, char kind)
{
    rn_snap_reader_init(r, data, len);
    return rn_snap_u8(r) == (unsigned char)kind && rn_snap_u8(r) == 1 && !r->bad;
}

rn_err_t rn_exchange_decode_mark(const void *data, size_t len, rn_exchange_mark_t *m, char *msg,
                                 size_t msgsize)
{
    rn_snap_reader_t r;
    if (!header_ok(&r, data, len, RN_EXCHANGE_MARK)) {
        snprintf(msg, msgsize, "not a version 1 repartition mark");
        return RN_ERR_DECODE;
    }
    m->ntasks = rn_snap_u32(&r);
    m->wm = (int64_t)rn_snap_u64(&r);
    m->end = rn_snap_u8(&r) & RN_EXCHANGE_MARK_END;
    m->ntask = rn_snap_u32(&r);
    m->tasks = r.p + r.off;
    bool ok = !r.bad && m->ntasks > 0 && m->ntasks <= RN_EXCHANGE_MARK_MAX_TASKS &&
              (uint64_t)(r.len - r.off) == (uint64_t)m->ntask * 4;
    for (uint32_t i = 0; ok && i < m->ntask; i++) ok = rn_exchange_mark_task(m, i) < m->ntasks;
    if (!ok) {
        snprintf(msg, msgsize, "corrupt repartition mark");
        return RN_ERR_DECODE;
    }
    return RN_OK;
}

uint32_t rn_exchange_mark_task(const rn_exchange_mark_t *m, uint32_t i)
{
    const unsigned char *p = m->tasks + 4 * (size_t)i;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

rn_err_t rn_exchange_decode_rows(const void *data, size_t len, rn_batch_t *b, int64_t *rowwm, bool *full,
                                 char *msg, size_t msgsize)
{
    rn_snap_reader_t r;
    const rn_schema_t *schema = b->schema;
    int first = b->nrows;
    *full = false;
    if (!header_ok(&r, data, len, RN_EXCHANGE_ROWS)) {
        snprintf(msg, msgsize, "not a version 1 repartition record");
        return RN_ERR_DECODE;
    }
    while (r.off < r.len && !r.bad) {
        if (b->nrows >= b->cap) { /* no room for the rest: none of this record is kept */
            b->nrows = first;
            *full = true;
            return RN_OK;
        }
        int row = b->nrows;
        unsigned kind = rn_snap_u8(&r);
        if (kind > RN_ROW_DELETE) {
            r.bad = true;
            break;
        }
        b->kinds[row] = (uint8_t)kind;
        int64_t wm = get_svarint(&r);
        if (rowwm) rowwm[row] = wm;
        for (int c = 0; c < schema->ncols && !r.bad; c++) get_value(&r, schema->cols[c].type->id, &b->cols[c][row]);
        if (!r.bad) b->nrows++;
    }
    if (r.bad) {
        snprintf(msg, msgsize, "corrupt repartition record (row %d)", b->nrows - first);
        b->nrows = first;
        return RN_ERR_DECODE;
    }
    return RN_OK;
}

/* ---- the operator ---------------------------------------------------------- */

/* Sends the records built in x->parts. */
static rn_err_t exchange_send_parts(exchange_t *x, rn_ctx_t *ctx)
{
    for (int32_t p = 0; p < x->io->nparts; p++) {
        rn_buf_t *b = &x->parts[p];
        if (!x->nrows[p]) continue;
        if (b->oom) return RN_ERR_NOMEM;
        rn_err_t err = x->io->send(x->io, p, NULL, 0, b->data, b->len, ctx->errbuf, ctx->errbuf_size);
        if (err != RN_OK) return err;
        x->records++;
        rn_buf_clear(b);
        x->nrows[p] = 0;
    }
    return RN_OK;
}

static rn_err_t exchange_process(rn_op_t *op, int port, const rn_batch_t *batch, rn_ctx_t *ctx)
{
    exchange_t *x = op->priv;
    if (!x->io) return rn_op_emit(op, batch, ctx);
    const rn_schema_t *s = batch->schema;
    for (int r = 0; r < batch->nrows; r++) {
        /* the key as keyed state stores it (rn_key_append), so an operator
         * can tell which partition each of its keys belongs to */
        rn_buf_clear(&x->key);
        for (int k = 0; k < x->nkeys; k++)
            rn_key_append(&x->key, s->cols[x->keys[k]].type->id,
                          batch->cols[x->keys[k]] ? &batch->cols[x->keys[k]][r] : &RN_VALUE_NULL);
        if (x->key.oom) return RN_ERR_NOMEM;
        int32_t p = rn_key_partition(x->key.data, (uint32_t)x->key.len, x->io->nparts);
        rn_buf_t *b = &x->parts[p];
        if (!x->nrows[p]) {
            unsigned char hdr[2] = {RN_EXCHANGE_ROWS, 1};
            rn_buf_append(b, hdr, 2);
        }
        put_row(b, batch, r);
        x->nrows[p]++;
    }
    return exchange_send_parts(x, ctx);
}

/* Sends one mark to every partition, listing the tasks this process owns
 * now (the upstream reader's assignment). */
static rn_err_t exchange_send_marks(exchange_t *x, int64_t wm, bool end, rn_ctx_t *ctx)
{
    rn_reader_t *r = rn_source_reader(x->upstream);
    static _Thread_local const char *topics[RN_EXCHANGE_MAX_OWNED];
    static _Thread_local int32_t parts[RN_EXCHANGE_MAX_OWNED];
    int n = r && r->assignment ? r->assignment(r, topics, parts, RN_EXCHANGE_MAX_OWNED) : 0;
    if (n > RN_EXCHANGE_MAX_OWNED) n = RN_EXCHANGE_MAX_OWNED;
    rn_buf_clear(&x->mark);
    unsigned char hdr[2] = {RN_EXCHANGE_MARK, 1};
    rn_buf_append(&x->mark, hdr, 2);
    rn_snap_put_u32(&x->mark, (uint32_t)x->io->ntasks);
    rn_snap_put_u64(&x->mark, (uint64_t)wm);
    unsigned char flags = end ? RN_EXCHANGE_MARK_END : 0;
    rn_buf_append(&x->mark, &flags, 1);
    size_t count_at = x->mark.len;
    rn_snap_put_u32(&x->mark, 0);
    uint32_t listed = 0;
    for (int i = 0; i < n; i++) {
        if (parts[i] < 0 || parts[i] >= x->io->ntasks) continue;
        rn_snap_put_u32(&x->mark, (uint32_t)parts[i]);
        listed++;
    }
    if (x->mark.oom) return RN_ERR_NOMEM;
    for (int i = 0; i < 4; i++) ((unsigned char *)x->mark.data)[count_at + (size_t)i] = (unsigned char)(listed >> (8 * i));
    x->sent_wm = wm;
    x->sent_ms = ctx->now_ms;
    x->sent_version = r ? r->assignment_version : 0;
    if (!listed) return RN_OK; /* nothing owned: nothing to say */
    for (int32_t p = 0; p < x->io->nparts; p++) {
        rn_err_t err = x->io->send(x->io, p, NULL, 0, x->mark.data, x->mark.len, ctx->errbuf, ctx->errbuf_size);
        if (err != RN_OK) return err;
        x->records++;
    }
    return RN_OK;
}

static rn_err_t exchange_watermark(rn_op_t *op, int64_t wm, rn_ctx_t *ctx)
{
    exchange_t *x = op->priv;
    if (!x->io) return rn_op_watermark(op, wm, ctx);
    op->watermark = wm;
    x->wm = wm;
    if (wm == RN_WM_MIN || x->ended) return RN_OK;
    rn_reader_t *r = rn_source_reader(x->upstream);
    bool moved = wm != x->sent_wm, reassigned = r && r->assignment_version != x->sent_version;
    int64_t since = ctx->now_ms - x->sent_ms;
    if ((moved && since >= RN_EXCHANGE_MARK_MS) || reassigned || since >= RN_EXCHANGE_HEARTBEAT_MS ||
        wm == RN_WM_MAX || x->sent_wm == RN_WM_MIN)
        return exchange_send_marks(x, wm, false, ctx);
    return RN_OK;
}

static rn_err_t exchange_finish(rn_op_t *op, rn_ctx_t *ctx)
{
    exchange_t *x = op->priv;
    /* Only a real end of input ends the tasks: a process that stops
     * leaves them to the member that takes its partitions over. */
    if (!x->io || x->ended || !rn_source_exhausted(x->upstream)) return RN_OK;
    x->ended = true;
    return exchange_send_marks(x, RN_WM_MAX, true, ctx);
}

static void exchange_explain(const rn_op_t *op, rn_buf_t *out)
{
    const exchange_t *x = op->priv;
    if (!x->nkeys) rn_buf_appends(out, "single (every row to one place)");
    else {
        rn_buf_appends(out, "hash [");
        for (int k = 0; k < x->nkeys; k++)
            rn_buf_appendf(out, "%s%s", k ? ", " : "", op->input->schema->cols[x->keys[k]].name);
        rn_buf_appends(out, "]");
    }
    if (x->io) rn_buf_appendf(out, " through %s", x->io->where);
}

static void exchange_destroy(rn_op_t *op)
{
    exchange_t *x = op->priv;
    if (x->io) {
        for (int32_t p = 0; p < x->io->nparts; p++) rn_buf_free(&x->parts[p]);
        x->io->close(x->io);
    }
    rn_free(x->parts);
    rn_free(x->nrows);
    rn_buf_free(&x->key);
    rn_buf_free(&x->mark);
    rn_free(x->keys);
    rn_free(x);
}

static const rn_op_vtable_t exchange_vtable = {
    .kind = "Exchange",
    .process = exchange_process,
    .finish = exchange_finish,
    .explain = exchange_explain,
    .destroy = exchange_destroy,
    .watermark = exchange_watermark,
};

rn_op_t *rn_exchange_new(rn_op_t *input, int nkeys, const int *keys, int rowtime_col)
{
    exchange_t *x = rn_calloc(1, sizeof *x);
    if (!x) return NULL;
    x->keys = rn_calloc((size_t)(nkeys ? nkeys : 1), sizeof(int));
    rn_op_t *op = x->keys ? rn_op_new(&exchange_vtable, input->schema, input) : NULL;
    if (!op) {
        rn_free(x->keys);
        rn_free(x);
        return NULL;
    }
    x->nkeys = nkeys;
    if (nkeys) memcpy(x->keys, keys, sizeof(int) * (size_t)nkeys);
    x->rowtime_col = rowtime_col;
    x->wm = x->sent_wm = RN_WM_MIN;
    rn_buf_init(&x->key);
    rn_buf_init(&x->mark);
    op->updating = input->updating;
    op->priv = x;
    return op;
}

bool rn_is_exchange(const rn_op_t *op) { return op->vt == &exchange_vtable; }
int rn_exchange_nkeys(const rn_op_t *op) { return ((const exchange_t *)op->priv)->nkeys; }
const int *rn_exchange_keys(const rn_op_t *op) { return ((const exchange_t *)op->priv)->keys; }
int rn_exchange_rowtime_col(const rn_op_t *op) { return ((const exchange_t *)op->priv)->rowtime_col; }
bool rn_exchange_is_remote(const rn_op_t *op) { return ((const exchange_t *)op->priv)->io != NULL; }
uint64_t rn_exchange_records(const rn_op_t *op) { return ((const exchange_t *)op->priv)->records; }

rn_err_t rn_exchange_set_remote(rn_op_t *op, rn_exchange_io_t *io, rn_op_t *upstream)
{
    exchange_t *x = op->priv;
    if (io->nparts <= 0 || io->ntasks <= 0 || io->ntasks > RN_EXCHANGE_MARK_MAX_TASKS) return RN_ERR_UNSUPPORTED;
    x->parts = rn_calloc((size_t)io->nparts, sizeof *x->parts);
    x->nrows = rn_calloc((size_t)io->nparts, sizeof(int));
    if (!x->parts || !x->nrows) {
        rn_free(x->parts);
        rn_free(x->nrows);
        x->parts = NULL;
        x->nrows = NULL;
        return RN_ERR_NOMEM;
    }
    for (int32_t p = 0; p < io->nparts; p++) rn_buf_init(&x->parts[p]);
    x->io = io;
    x->upstream = upstream;
    return RN_OK;
}

rn_err_t rn_exchange_sync(rn_op_t *op, char *errbuf, size_t errbuf_size)
{
    exchange_t *x = op->priv;
    return x->io ? x->io->flush(x->io, errbuf, errbuf_size) : RN_OK;
}
