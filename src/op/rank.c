/*
 * rank.c - deduplication and Top-N: ROW_NUMBER() OVER (PARTITION BY k
 * ORDER BY s) with rownum <= n (Flink's Deduplicate and Rank operators in
 * one). The contract is op/rank.h; the SQL and the modes are in docs/sql.md
 * "Deduplication and Top-N".
 *
 * State: one rn_store entry per partition, keyed by the serialized
 * partition key (rn_key_append of input columns 0..nkeys-1, so
 * forget_partitions finds a key's partition as an Exchange does). Its slot
 * holds the partition's rows in rank order: an array of pointers to
 * separately allocated rows, each its arrival sequence number and the
 * rn_key_append bytes of input columns nkeys.. (the ORDER BY values first,
 * so comparing two rows decodes only those). Rows rank by their ORDER BY
 * values (NULL lowest, then ASC or DESC per column), then by arrival:
 * earlier first, or later first with tie_last. Ranking by arrival alone
 * (nsort = 0) is how proctime ordering runs: in `runnel test` that is file
 * order, and PROCTIME() values could not tell rows of one batch apart.
 *
 * Over an insert-only input a row that does not make the top n can never
 * rank later, so it is not kept, and a row pushed out is freed: at most n
 * rows per partition. Over an updating input every row is kept (a
 * retraction of a top row promotes the next one), so the state grows with
 * the input unless a TTL bounds it.
 *
 * Emission is per input row: inserting or removing one row changes ranks
 * from its position down, so only ranks pos..n-1 are compared before and
 * after. Without rownum at most one row leaves and one enters the top n:
 * -U/+U when n = 1 (deduplication), otherwise -D and +I. With rownum each
 * rank whose row changed gets -U(old, r) +U(new, r), +I or -D.
 *
 * Event time (time_key >= 0): the partition key holds a rowtime of an
 * insert-only input, so once the watermark passes it (wm > rowtime: a
 * watermark W promises no more rows earlier than W) no row can join the
 * partition (a window_end column, time_offset -1, is complete once the
 * watermark reaches it). Rows are held without output; the watermark emits each
 * complete partition's top n once, +I, and drops it. A row whose rowtime
 * is below the last watermark seen would join a partition already emitted:
 * it is dropped as late (counted). held_since is the smallest pending
 * rowtime (a lower bound), so the commit cycle does not commit past rows
 * whose results are not out.
 *
 * TTL: the partition store gets rn_store's TTL with ctx->now_ms, swept a
 * bounded number of slots per batch, as GroupAggregate.
 *
 * Snapshot (little-endian, state/snapshot.h):
 *   "RNRK", u32 version (1), u32 nkeys, u32 nsort, u32 ncols (input),
 *   u64 n, u8 flags (bit 0 tie_last, 1 rownum, 2 input updating,
 *   3 event time), u64 time offset, u64 TTL ms, u64 fired watermark, u64 next sequence,
 *   u64 late rows                        (restore checks the spec matches)
 *   u64 npartitions, then per partition: bytes key, u64 last access (only
 *   with a TTL), u32 nrows, then per row u64 seq + bytes columns.
 * With a partition filter (checkpoints, docs/checkpoints.md) only the
 * partitions whose key lies in a marked partition are written (the
 * partition rn_key_partition gives for the key bytes, as in
 * forget_partitions); the operator-wide values (fired watermark, next
 * sequence, late rows) are written whole.
 * Restore adds the snapshot's partitions to those held (a fresh operator,
 * or one holding other partitions' keys) and merges the operator-wide
 * values: the fired watermark is taken only when the operator has none
 * (RN_WM_MIN), the next sequence is the larger of the two (sequence
 * numbers are compared within a partition only), the late-row count is
 * the larger (every partition's section carries the whole count), and
 * the TTL access times stay per partition. Keys and rows are checked to
 * decode as their columns, rows to be in rank order with distinct
 * sequence numbers below the snapshot's next sequence; anything else (a
 * short read, a trailing byte, a partition held already or twice in the
 * snapshot) fails with RN_ERR_DECODE, and the partitions this call added
 * are removed again: a failed restore leaves what the operator held.
 */
#include "op/rank.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/mem.h"
#include "state/snapshot.h"
#include "state/store.h"

typedef struct rank_row {
    uint64_t seq;               /* arrival order */
    uint32_t len;               /* bytes in data */
    unsigned char data[];       /* rn_key_append of input columns nkeys.. */
} rank_row_t;

typedef struct rank_part {
    rank_row_t **rows;          /* rows in rank order (owned) */
    uint32_t n;                 /* rows in use */
    uint32_t cap;               /* rows allocated */
} rank_part_t;

typedef struct rank {
    rn_rank_spec_t s;           /* the spec */
    const rn_schema_t *in;      /* input schema (the output's first columns) */
    int ncols;                  /* input columns */
    bool input_updating;        /* input carries retractions: keep every row */
    rn_store_t *parts;          /* partition key -> rank_part_t */
    uint64_t next_seq;          /* next arrival sequence number */
    int64_t fired;              /* event time: the last watermark processed (RN_WM_MIN: none) */
    rn_op_t *late_out;          /* where late rows go (not owned), or NULL */
    int64_t min_pending;        /* event time: <= every pending partition's rowtime */
    uint64_t late;              /* rows dropped as late */
    rn_buf_t key;               /* scratch: the partition key */
    rn_buf_t row;               /* scratch: the row's columns */
    rn_batch_t *out;            /* batch being filled while processing */
    int out_cap;                /* rows of the next output batch: about what the input
                                 * batch can produce, at most RN_BATCH_MAX */
} rank_t;

static void rank_part_free(void *value, void *opaque)
{
    (void)opaque;
    rank_part_t *p = value;
    for (uint32_t i = 0; i < p->n; i++) rn_free(p->rows[i]);
    rn_free(p->rows);
    p->rows = NULL;
    p->n = p->cap = 0;
}

/* ---- ordering ------------------------------------------------------------ */

/* <0 when row a ranks before row b, >0 after (never 0 for distinct rows). */
static int rank_cmp(const rank_t *k, const rank_row_t *a, const rank_row_t *b)
{
    uint32_t oa = 0, ob = 0;
    for (int i = 0; i < k->s.nsort; i++) {
        rn_type_id t = k->in->cols[k->s.nkeys + i].type->id;
        rn_value_t va, vb;
        rn_key_read(a->data, a->len, &oa, t, &va);
        rn_key_read(b->data, b->len, &ob, t, &vb);
        int c = va.null ? (vb.null ? 0 : -1) : vb.null ? 1 : rn_value_compare(t, &va, &vb);
        if (c) return k->s.desc[i] ? -c : c;
    }
    if (a->seq == b->seq) return 0;
    int c = a->seq < b->seq ? -1 : 1;
    return k->s.tie_last ? -c : c;
}

/* The position a new row takes: after every row that ranks before it. */
static uint32_t rank_position(const rank_t *k, const rank_part_t *p, const rank_row_t *row)
{
    uint32_t lo = 0, hi = p->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (rank_cmp(k, p->rows[mid], row) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* ---- output ----------------------------------------------------------------- */

/* Makes room for one more output row, emitting the full batch first.
 * Returns RN_OK or the error of allocating or of downstream. */
static rn_err_t rank_room(rn_op_t *op, rank_t *k, rn_ctx_t *ctx)
{
    if (k->out && k->out->nrows < k->out->cap) return RN_OK;
    if (k->out) {
        rn_batch_t *full = k->out;
        k->out = NULL;
        rn_err_t err = rn_op_emit(op, full, ctx);
        if (err != RN_OK) return err;
    }
    k->out = rn_batch_new(ctx->arena, op->schema, k->out_cap);
    return k->out ? RN_OK : RN_ERR_NOMEM;
}

/* Decodes the next column of type t from bytes into *v, copying strings
 * into arena. False on OOM or malformed bytes. */
static bool rank_read_col(const void *bytes, uint32_t len, uint32_t *off, rn_type_id t, rn_value_t *v,
                          rn_arena_t *arena)
{
    if (!rn_key_read(bytes, len, off, t, v)) return false;
    if (!v->null && t == RN_TYPE_STRING) {
        char *s = rn_arena_strndup(arena, v->s, v->len);
        if (!s) return false;
        v->s = s;
    }
    return true;
}

/* Appends row (of the partition with key bytes key) with kind and rank
 * (1-based; used with rownum) to the output. */
static rn_err_t rank_put(rn_op_t *op, rank_t *k, const void *key, uint32_t klen, const rank_row_t *row,
                         rn_rowkind_t kind, int64_t rank, rn_ctx_t *ctx)
{
    rn_err_t err = rank_room(op, k, ctx);
    if (err != RN_OK) return err;
    rn_batch_t *out = k->out;
    int r = out->nrows;
    uint32_t off = 0;
    for (int c = 0; c < k->s.nkeys; c++)
        if (!rank_read_col(key, klen, &off, k->in->cols[c].type->id, &out->cols[c][r], ctx->arena))
            return RN_ERR_NOMEM;
    off = 0;
    for (int c = k->s.nkeys; c < k->ncols; c++)
        if (!rank_read_col(row->data, row->len, &off, k->in->cols[c].type->id, &out->cols[c][r], ctx->arena))
            return RN_ERR_NOMEM;
    if (k->s.rownum) out->cols[k->ncols][r] = rn_value_int(rank);
    out->kinds[r] = (uint8_t)kind;
    out->nrows++;
    return RN_OK;
}

/* The rows of a partition before and after one change at position pos:
 * `added` was inserted there, or `removed` taken out of it. */
typedef struct rank_change {
    const rank_part_t *p;       /* the partition after the change */
    uint32_t pos;               /* where the change happened */
    const rank_row_t *removed;  /* the row removed at pos, or NULL (an insert) */
} rank_change_t;

static const rank_row_t *before_at(const rank_change_t *ch, uint64_t r)
{
    const rank_part_t *p = ch->p;
    if (ch->removed) {
        if (r < ch->pos) return p->rows[r];
        if (r == ch->pos) return ch->removed;
        return r - 1 < p->n ? p->rows[r - 1] : NULL;
    }
    if (r < ch->pos) return p->rows[r];
    return r + 1 < p->n ? p->rows[r + 1] : NULL;
}

static const rank_row_t *after_at(const rank_change_t *ch, uint64_t r)
{
    return r < ch->p->n ? ch->p->rows[r] : NULL;
}

/* Emits what one change did to the top n of the partition with key key. */
static rn_err_t rank_emit_change(rn_op_t *op, rank_t *k, const void *key, uint32_t klen,
                                 const rank_change_t *ch, rn_ctx_t *ctx)
{
    int64_t n = k->s.n;
    if ((int64_t)ch->pos >= n) return RN_OK;
    rn_err_t err = RN_OK;
    if (k->s.rownum) {
        for (int64_t r = ch->pos; r < n && err == RN_OK; r++) {
            const rank_row_t *o = before_at(ch, (uint64_t)r), *w = after_at(ch, (uint64_t)r);
            if (!o && !w) break;
            if (o == w) continue;
            if (o && w) {
                err = rank_put(op, k, key, klen, o, RN_ROW_UPDATE_BEFORE, r + 1, ctx);
                if (err == RN_OK) err = rank_put(op, k, key, klen, w, RN_ROW_UPDATE_AFTER, r + 1, ctx);
            } else if (o) {
                err = rank_put(op, k, key, klen, o, RN_ROW_DELETE, r + 1, ctx);
            } else {
                err = rank_put(op, k, key, klen, w, RN_ROW_INSERT, r + 1, ctx);
            }
        }
        return err;
    }
    const rank_row_t *gone, *come;
    if (ch->removed) {
        gone = ch->removed;
        come = after_at(ch, (uint64_t)(n - 1));
    } else {
        come = after_at(ch, ch->pos);
        gone = before_at(ch, (uint64_t)(n - 1));
    }
    if (gone && come && n == 1) {
        err = rank_put(op, k, key, klen, gone, RN_ROW_UPDATE_BEFORE, 1, ctx);
        if (err == RN_OK) err = rank_put(op, k, key, klen, come, RN_ROW_UPDATE_AFTER, 1, ctx);
        return err;
    }
    if (gone) err = rank_put(op, k, key, klen, gone, RN_ROW_DELETE, 0, ctx);
    if (come && err == RN_OK) err = rank_put(op, k, key, klen, come, RN_ROW_INSERT, 0, ctx);
    return err;
}

/* ---- processing ------------------------------------------------------------- */

/* Removes the partition whose slot is p (its key is copied first: it
 * lives in the entry). */
static rn_err_t rank_drop(rank_t *k, rank_part_t *p, rn_arena_t *arena)
{
    uint32_t klen;
    const void *key = rn_store_key_of(k->parts, p, &klen);
    void *copy = rn_arena_alloc(arena, klen ? klen : 1);
    if (!copy) return RN_ERR_NOMEM;
    memcpy(copy, key, klen);
    rn_store_remove(k->parts, copy, klen, rn_hash_bytes(copy, klen, 0));
    return RN_OK;
}

/* Adds row (owned from here on) to partition p, emitting the change. */
static rn_err_t rank_add(rn_op_t *op, rank_t *k, rank_part_t *p, rank_row_t *row, rn_ctx_t *ctx)
{
    uint32_t pos = rank_position(k, p, row);
    bool bounded = !k->input_updating;
    if (bounded && (int64_t)pos >= k->s.n) { /* can never make the top n */
        rn_free(row);
        return RN_OK;
    }
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 2;
        rank_row_t **rows = rn_realloc(p->rows, sizeof *rows * cap);
        if (!rows) {
            rn_free(row);
            return RN_ERR_NOMEM;
        }
        p->rows = rows;
        p->cap = cap;
    }
    memmove(p->rows + pos + 1, p->rows + pos, sizeof *p->rows * (p->n - pos));
    p->rows[pos] = row;
    p->n++;
    rn_err_t err = RN_OK;
    if (k->s.time_key < 0) {
        uint32_t klen;
        const void *key = rn_store_key_of(k->parts, p, &klen);
        rank_change_t ch = {.p = p, .pos = pos};
        err = rank_emit_change(op, k, key, klen, &ch, ctx);
    }
    if (bounded && (int64_t)p->n > k->s.n) rn_free(p->rows[--p->n]); /* pushed out */
    return err;
}

/* Removes the row whose column bytes are data[0..len) (the last such in
 * rank order) from p, emitting the change; nothing if there is none. */
static rn_err_t rank_retract(rn_op_t *op, rank_t *k, rank_part_t *p, const void *data, size_t len, rn_ctx_t *ctx)
{
    uint32_t i = p->n;
    while (i > 0 && !(p->rows[i - 1]->len == len && !memcmp(p->rows[i - 1]->data, data, len))) i--;
    if (i == 0) return RN_OK;
    uint32_t pos = i - 1;
    rank_row_t *gone = p->rows[pos];
    memmove(p->rows + pos, p->rows + pos + 1, sizeof *p->rows * (p->n - pos - 1));
    p->n--;
    uint32_t klen;
    const void *key = rn_store_key_of(k->parts, p, &klen);
    rank_change_t ch = {.p = p, .pos = pos, .removed = gone};
    rn_err_t err = rank_emit_change(op, k, key, klen, &ch, ctx);
    rn_free(gone);
    return err;
}

static rn_err_t rank_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    (void)port;
    rank_t *k = op->priv;
    rn_err_t err = RN_OK;
    if (rn_store_ttl(k->parts) > 0) {
        rn_store_set_now(k->parts, ctx->now_ms);
        rn_store_sweep(k->parts, 2 * (size_t)in->nrows + 64, NULL, NULL);
    }
    k->out = NULL;
    k->out_cap = in->nrows < RN_BATCH_MAX / 2 ? 2 * in->nrows + 2 : RN_BATCH_MAX;
    int *late = NULL, nlate = 0;
    for (int r = 0; r < in->nrows && err == RN_OK; r++) {
        rn_buf_clear(&k->key);
        rn_buf_clear(&k->row);
        for (int c = 0; c < k->s.nkeys; c++) rn_key_append(&k->key, k->in->cols[c].type->id, rn_batch_value_ptr(in, c, r));
        for (int c = k->s.nkeys; c < k->ncols; c++) rn_key_append(&k->row, k->in->cols[c].type->id, rn_batch_value_ptr(in, c, r));
        if (k->key.oom || k->row.oom) return RN_ERR_NOMEM;
        uint32_t klen = (uint32_t)k->key.len;
        const void *key = klen ? (const void *)k->key.data : "";
        uint64_t h = rn_hash_bytes(key, klen, 0);
        if (rn_rowkind_is_retract((rn_rowkind_t)in->kinds[r])) {
            rank_part_t *p = rn_store_find(k->parts, key, klen, h);
            if (!p) continue; /* nothing to retract (expired, or never seen) */
            err = rank_retract(op, k, p, k->row.data, k->row.len, ctx);
            if (err == RN_OK && p->n == 0) err = rank_drop(k, p, ctx->arena);
            continue;
        }
        int64_t rowtime = 0;
        if (k->s.time_key >= 0) {
            const rn_value_t *t = &in->cols[k->s.time_key][r];
            if (t->null || (k->fired != RN_WM_MIN && t->i + k->s.time_offset < k->fired)) {
                k->late++;
                if (k->late_out) {
                    if (!late && !(late = rn_arena_alloc(ctx->arena, sizeof *late * (size_t)in->nrows)))
                        return RN_ERR_NOMEM;
                    late[nlate++] = r;
                }
                continue;
            }
            rowtime = t->i + k->s.time_offset;
        }
        rank_row_t *row = rn_malloc(sizeof *row + k->row.len);
        if (!row) return RN_ERR_NOMEM;
        row->seq = k->next_seq++;
        row->len = (uint32_t)k->row.len;
        memcpy(row->data, k->row.data, k->row.len);
        bool created;
        rank_part_t *p = rn_store_upsert(k->parts, key, klen, h, &created);
        if (!p) {
            rn_free(row);
            return RN_ERR_NOMEM;
        }
        if (created && k->s.time_key >= 0 && rowtime < k->min_pending) k->min_pending = rowtime;
        err = rank_add(op, k, p, row, ctx);
    }
    rn_batch_t *out = k->out;
    k->out = NULL;
    if (err != RN_OK) return err;
    if (out && out->nrows && (err = rn_op_emit(op, out, ctx)) != RN_OK) return err;
    return nlate ? rn_op_route_rows(k->late_out, in, late, nlate, ctx) : RN_OK;
}

void rn_rank_set_late_output(rn_op_t *op, rn_op_t *late)
{
    ((rank_t *)op->priv)->late_out = late;
}

/* The rowtime of partition key key (event time). */
static int64_t rank_key_time(const rank_t *k, const void *key, uint32_t klen)
{
    uint32_t off = 0;
    rn_value_t t = RN_VALUE_NULL;
    for (int c = 0; c <= k->s.time_key; c++) rn_key_read(key, klen, &off, k->in->cols[c].type->id, &t);
    return t.null ? INT64_MIN : t.i + k->s.time_offset;
}

typedef struct rank_fire {
    rank_part_t *p;             /* a complete partition */
    const unsigned char *key;   /* its key (in the store entry) */
    uint32_t klen;
    int64_t time;               /* its rowtime */
} rank_fire_t;

/* Emission order of complete partitions: by rowtime, then key bytes. */
static int rank_fire_cmp(const void *a, const void *b)
{
    const rank_fire_t *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    uint32_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* Event time: emits every partition the watermark completes (rowtime <
 * wm), in rowtime order, then drops them and forwards wm. */
static rn_err_t rank_watermark(rn_op_t *op, int64_t wm, rn_ctx_t *ctx)
{
    rank_t *k = op->priv;
    op->watermark = wm;
    if (k->s.time_key < 0 || wm <= k->fired) return rn_op_watermark(op, wm, ctx);
    k->fired = wm;
    if (k->min_pending >= wm) return rn_op_watermark(op, wm, ctx);
    size_t nparts = rn_store_count(k->parts), nfire = 0;
    rank_fire_t *fire = rn_arena_alloc(ctx->arena, sizeof *fire * (nparts ? nparts : 1));
    if (!fire) return RN_ERR_NOMEM;
    int64_t min = INT64_MAX;
    size_t pos = 0;
    rank_part_t *p;
    while ((p = rn_store_next(k->parts, &pos))) {
        rank_fire_t *f = &fire[nfire];
        f->p = p;
        f->key = rn_store_key_of(k->parts, p, &f->klen);
        f->time = rank_key_time(k, f->key, f->klen);
        if (f->time < wm) nfire++;
        else if (f->time < min) min = f->time;
    }
    qsort(fire, nfire, sizeof *fire, rank_fire_cmp);
    rn_err_t err = RN_OK;
    k->out = NULL;
    k->out_cap = RN_BATCH_MAX;
    for (size_t i = 0; i < nfire && err == RN_OK; i++)
        for (uint32_t r = 0; r < fire[i].p->n && (int64_t)r < k->s.n && err == RN_OK; r++)
            err = rank_put(op, k, fire[i].key, fire[i].klen, fire[i].p->rows[r], RN_ROW_INSERT, (int64_t)r + 1, ctx);
    for (size_t i = 0; i < nfire && err == RN_OK; i++) err = rank_drop(k, fire[i].p, ctx->arena);
    k->min_pending = err == RN_OK ? min : INT64_MIN;
    rn_batch_t *out = k->out;
    k->out = NULL;
    if (err == RN_OK && out && out->nrows) err = rn_op_emit(op, out, ctx);
    return err == RN_OK ? rn_op_watermark(op, wm, ctx) : err;
}

static int64_t rank_held_since(const rn_op_t *op)
{
    const rank_t *k = op->priv;
    if (k->s.time_key < 0 || rn_store_count(k->parts) == 0) return INT64_MAX;
    return k->min_pending;
}

static void rank_explain(const rn_op_t *op, rn_buf_t *out)
{
    const rank_t *k = op->priv;
    rn_buf_appends(out, "partition by [");
    for (int c = 0; c < k->s.nkeys; c++) rn_buf_appendf(out, "%s%s", c ? ", " : "", k->in->cols[c].name);
    rn_buf_appends(out, "], order by [");
    for (int i = 0; i < k->s.nsort; i++)
        rn_buf_appendf(out, "%s%s%s", i ? ", " : "", k->in->cols[k->s.nkeys + i].name, k->s.desc[i] ? " DESC" : "");
    if (!k->s.nsort) rn_buf_appends(out, k->s.tie_last ? "arrival DESC" : "arrival");
    rn_buf_appendf(out, "], rownum <= %lld", (long long)k->s.n);
    if (k->s.rownum) rn_buf_appends(out, ", rownum selected");
    if (k->s.time_key >= 0)
        rn_buf_appendf(out, ", complete when the watermark passes %s", k->in->cols[k->s.time_key].name);
    if (k->input_updating) rn_buf_appends(out, ", consumes retractions");
    if (rn_store_ttl(k->parts) > 0) rn_buf_appendf(out, ", state ttl %lld ms", (long long)rn_store_ttl(k->parts));
}

static void rank_destroy(rn_op_t *op)
{
    rank_t *k = op->priv;
    if (!k) return;
    rn_store_free(k->parts);
    rn_buf_free(&k->key);
    rn_buf_free(&k->row);
    rn_free(k);
}

static size_t rank_state_size(const rn_op_t *op, size_t *keys)
{
    const rank_t *k = op->priv;
    *keys = rn_store_count(k->parts);
    size_t bytes = rn_store_bytes(k->parts);
    size_t pos = 0;
    const rank_part_t *p;
    while ((p = rn_store_next(k->parts, &pos))) {
        bytes += sizeof *p->rows * p->cap;
        for (uint32_t r = 0; r < p->n; r++) bytes += sizeof(rank_row_t) + p->rows[r]->len;
    }
    return bytes;
}

/* Drops, silently, the partitions whose key lies in a revoked partition. */
static rn_err_t rank_forget_partitions(rn_op_t *op, int32_t nparts, const uint8_t *revoked)
{
    rank_t *k = op->priv;
    rn_store_forget_partitions(k->parts, nparts, revoked);
    return RN_OK;
}

/* ---- snapshot and restore (format in the note at the top) ------------------ */

#define RANK_SNAP_MAGIC "RNRK"
#define RANK_SNAP_VERSION 1u

static uint8_t rank_flags(const rank_t *k)
{
    return (uint8_t)((k->s.tie_last ? 1 : 0) | (k->s.rownum ? 2 : 0) | (k->input_updating ? 4 : 0) |
                     (k->s.time_key >= 0 ? 8 : 0));
}

static rn_err_t rank_snapshot(const rn_op_t *op, rn_buf_t *out, const rn_part_filter_t *parts)
{
    const rank_t *k = op->priv;
    int64_t ttl = rn_store_ttl(k->parts);
    rn_buf_append(out, RANK_SNAP_MAGIC, 4);
    rn_snap_put_u32(out, RANK_SNAP_VERSION);
    rn_snap_put_u32(out, (uint32_t)k->s.nkeys);
    rn_snap_put_u32(out, (uint32_t)k->s.nsort);
    rn_snap_put_u32(out, (uint32_t)k->ncols);
    rn_snap_put_u64(out, (uint64_t)k->s.n);
    rn_snap_put_u8(out, rank_flags(k));
    rn_snap_put_u64(out, (uint64_t)k->s.time_offset);
    rn_snap_put_u64(out, (uint64_t)ttl);
    rn_snap_put_u64(out, (uint64_t)k->fired);
    rn_snap_put_u64(out, k->next_seq);
    rn_snap_put_u64(out, k->late);
    size_t count_at = out->len;
    rn_snap_put_u64(out, 0); /* npartitions, patched below */
    uint64_t nkeys = 0;
    size_t pos = 0;
    const rank_part_t *p;
    while ((p = rn_store_next(k->parts, &pos))) {
        uint32_t klen;
        const void *key = rn_store_key_of(k->parts, p, &klen);
        if (parts && !(parts->nparts > 0 && parts->parts[rn_key_partition(key, klen, parts->nparts)]))
            continue; /* a key of a partition not taken */
        nkeys++;
        rn_snap_put_bytes(out, key, klen);
        if (ttl > 0) rn_snap_put_u64(out, (uint64_t)rn_store_access_time(k->parts, p));
        rn_snap_put_u32(out, p->n);
        for (uint32_t r = 0; r < p->n; r++) {
            rn_snap_put_u64(out, p->rows[r]->seq);
            rn_snap_put_bytes(out, p->rows[r]->data, p->rows[r]->len);
        }
    }
    if (!out->oom)
        for (int i = 0; i < 8; i++) out->data[count_at + (size_t)i] = (char)(unsigned char)(nkeys >> (8 * i));
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}

/* Whether bytes decode as input columns [from, to) with nothing left. */
static bool rank_cols_valid(const rank_t *k, const void *bytes, uint32_t len, int from, int to)
{
    uint32_t off = 0;
    rn_value_t v;
    for (int c = from; c < to; c++)
        if (!rn_key_read(bytes, len, &off, k->in->cols[c].type->id, &v)) return false;
    return off == len;
}

/* Reads one partition into parts. *added tells whether it was added to
 * parts (on failure too: then with part of its rows). */
static rn_err_t rank_read_part(rank_t *k, rn_snap_reader_t *r, rn_store_t *parts, uint64_t next_seq,
                               int64_t *min_pending, bool *added /* out */)
{
    *added = false;
    uint32_t klen;
    const void *key = rn_snap_bytes(r, &klen);
    int64_t access = rn_store_ttl(parts) > 0 ? (int64_t)rn_snap_u64(r) : 0;
    uint32_t n = rn_snap_u32(r);
    if (r->bad || access < 0 || n == 0 || !rank_cols_valid(k, key, klen, 0, k->s.nkeys)) return RN_ERR_DECODE;
    if (!k->input_updating && (int64_t)n > k->s.n) return RN_ERR_DECODE;
    if (n > (r->len - r->off) / 12) return RN_ERR_DECODE; /* each row takes 12 bytes at least */
    /* A partition held already is refused without touching it (an upsert
     * would count as an access under a TTL). */
    if (rn_store_peek(parts, key, klen, rn_hash_bytes(key, klen, 0))) return RN_ERR_DECODE;
    bool created;
    rank_part_t *p = rn_store_upsert(parts, key, klen, rn_hash_bytes(key, klen, 0), &created);
    if (!p) return RN_ERR_NOMEM;
    if (!created) return RN_ERR_DECODE; /* held already, or twice in the snapshot */
    *added = true;
    rn_store_set_access_time(parts, p, access);
    p->rows = rn_calloc(n, sizeof *p->rows);
    if (!p->rows) return RN_ERR_NOMEM;
    p->cap = n;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t seq = rn_snap_u64(r);
        uint32_t len;
        const void *data = rn_snap_bytes(r, &len);
        if (r->bad || seq >= next_seq || !rank_cols_valid(k, data, len, k->s.nkeys, k->ncols)) return RN_ERR_DECODE;
        rank_row_t *row = rn_malloc(sizeof *row + len);
        if (!row) return RN_ERR_NOMEM;
        row->seq = seq;
        row->len = len;
        if (len) memcpy(row->data, data, len);
        p->rows[p->n++] = row;
        if (i > 0 && rank_cmp(k, p->rows[i - 1], row) >= 0) return RN_ERR_DECODE;
    }
    if (k->s.time_key >= 0) {
        int64_t t = rank_key_time(k, key, klen);
        if (t == INT64_MIN) return RN_ERR_DECODE;
        if (t < *min_pending) *min_pending = t;
    }
    return RN_OK;
}

/* Removes the first `added` partitions of the snapshot whose partitions
 * start at r->off (what a failed restore added; the last of them may be
 * cut short). Allocates nothing. */
static void rank_unrestore(rank_t *k, rn_snap_reader_t *r, uint64_t added)
{
    for (uint64_t i = 0; i < added && !r->bad; i++) {
        uint32_t klen, len;
        const void *key = rn_snap_bytes(r, &klen);
        if (r->bad) break;
        rn_store_remove(k->parts, key, klen, rn_hash_bytes(key, klen, 0));
        if (rn_store_ttl(k->parts) > 0) (void)rn_snap_u64(r);
        uint32_t n = rn_snap_u32(r);
        for (uint32_t j = 0; j < n && !r->bad; j++) {
            (void)rn_snap_u64(r);
            (void)rn_snap_bytes(r, &len);
        }
    }
}

/* Adds the snapshot's partitions to those held and merges the
 * operator-wide values (see the note at the top). The partitions go
 * straight into the store; on failure the ones this call added are
 * removed again and the operator-wide values are left alone, so the
 * operator holds what it held before. */
static rn_err_t rank_restore(rn_op_t *op, const void *data, size_t len)
{
    rank_t *k = op->priv;
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, data, len);
    if (!rn_snap_have(&r, 4) || memcmp(r.p, RANK_SNAP_MAGIC, 4) != 0) return RN_ERR_DECODE;
    r.off = 4;
    int64_t ttl = rn_store_ttl(k->parts);
    if (rn_snap_u32(&r) != RANK_SNAP_VERSION || rn_snap_u32(&r) != (uint32_t)k->s.nkeys ||
        rn_snap_u32(&r) != (uint32_t)k->s.nsort || rn_snap_u32(&r) != (uint32_t)k->ncols ||
        rn_snap_u64(&r) != (uint64_t)k->s.n || rn_snap_u8(&r) != rank_flags(k) ||
        rn_snap_u64(&r) != (uint64_t)k->s.time_offset || rn_snap_u64(&r) != (uint64_t)ttl)
        return RN_ERR_DECODE;
    int64_t fired = (int64_t)rn_snap_u64(&r);
    uint64_t next_seq = rn_snap_u64(&r);
    uint64_t late = rn_snap_u64(&r);
    uint64_t nparts = rn_snap_u64(&r);
    if (r.bad || nparts > r.len - r.off) return RN_ERR_DECODE;
    rn_snap_reader_t first = r; /* where the partitions start, for undoing */
    rn_err_t err = RN_OK;
    int64_t min_pending = INT64_MAX;
    uint64_t added = 0;
    for (uint64_t i = 0; i < nparts && err == RN_OK; i++) {
        bool a;
        err = rank_read_part(k, &r, k->parts, next_seq, &min_pending, &a);
        added += a;
    }
    if (err == RN_OK && !rn_snap_done(&r)) err = RN_ERR_DECODE;
    if (err != RN_OK) {
        rank_unrestore(k, &first, added);
        return err;
    }
    if (k->fired == RN_WM_MIN) k->fired = fired;
    if (next_seq > k->next_seq) k->next_seq = next_seq;
    if (late > k->late) k->late = late; /* each section carries the whole count */
    if (min_pending < k->min_pending) k->min_pending = min_pending;
    return RN_OK;
}

static const rn_op_vtable_t rank_vtable = {
    .kind = "Rank",
    .process = rank_process,
    .explain = rank_explain,
    .destroy = rank_destroy,
    .watermark = rank_watermark,
    .held_since = rank_held_since,
    .state_size = rank_state_size,
    .snapshot = rank_snapshot,
    .restore = rank_restore,
    .forget_partitions = rank_forget_partitions,
};

rn_op_t *rn_rank_new(rn_op_t *input, const rn_rank_spec_t *spec, rn_schema_t *out_schema, char *errbuf,
                     size_t errbuf_size)
{
    int ncols = input->schema->ncols;
    if (spec->nkeys < 0 || spec->nsort < 0 || spec->nsort > RN_RANK_MAX_SORT || spec->nkeys + spec->nsort > ncols ||
        spec->n < 1 || out_schema->ncols != ncols + (spec->rownum ? 1 : 0) || spec->time_key >= spec->nkeys ||
        (spec->time_key >= 0 && input->updating)) {
        snprintf(errbuf, errbuf_size, "invalid Rank operator specification");
        return NULL;
    }
    rank_t *k = rn_calloc(1, sizeof *k);
    if (!k) goto oom;
    k->s = *spec;
    k->in = input->schema;
    k->ncols = ncols;
    k->input_updating = input->updating;
    k->fired = RN_WM_MIN;
    k->min_pending = INT64_MAX;
    rn_buf_init(&k->key);
    rn_buf_init(&k->row);
    k->parts = rn_store_new("rank", sizeof(rank_part_t), rank_part_free, NULL);
    if (!k->parts) goto oom;
    rn_op_t *op = rn_op_new(&rank_vtable, out_schema, input);
    if (!op) goto oom;
    op->priv = k;
    bool grows_only = spec->nsort == 0 && !spec->tie_last && !input->updating;
    op->updating = spec->time_key < 0 && !grows_only;
    return op;
oom:
    if (k) {
        rn_store_free(k->parts);
        rn_free(k);
    }
    snprintf(errbuf, errbuf_size, "out of memory creating a Rank operator");
    return NULL;
}

bool rn_rank_set_ttl(rn_op_t *op, int64_t ttl_ms)
{
    rank_t *k = op->priv;
    return rn_store_set_ttl(k->parts, ttl_ms);
}

size_t rn_rank_partitions(const rn_op_t *op)
{
    const rank_t *k = op->priv;
    return rn_store_count(k->parts);
}

uint64_t rn_rank_late_rows(const rn_op_t *op)
{
    const rank_t *k = op->priv;
    return k->late;
}
