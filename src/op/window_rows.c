/*
 * window_rows.c - WindowRows: a window table function used on its own,
 * without an aggregate (Flink's windowing TVFs queried directly), as
 * specified in docs/event-time.md ("Window rows").
 *
 * Every accepted input row is emitted (+I) with all its columns followed by
 * its window's window_start, window_end and window_time (= window_end - 1,
 * the rowtime of the output):
 *  - TUMBLE: at once, with the one window holding its rowtime;
 *  - HOP: at once, one row per window holding it (size / slide rows), by
 *    window start;
 *  - SESSION: a row's window is known only when its session closes, so
 *    rows are buffered per PARTITION BY key (input columns 0..nkeys-1,
 *    serialized with rn_key_append: the key an Exchange partitions by)
 *    in sessions sorted by start, exactly as WindowAggregate keeps them: a
 *    row extends its session, starts a new one, or merges every session
 *    it bridges. When the watermark W reaches session end + L (L the
 *    allowed lateness; with L = 0 as the aggregate fires), every row of
 *    the session is emitted in arrival order with the session's bounds,
 *    and the session is freed. Sessions close by (end, creation), so the
 *    output is reproducible.
 * Late rows (NULL rowtime, or rowtime < rowwm - L) are counted and, when a
 * late output is set, passed to it as a batch of the input schema, as
 * WindowAggregate does. Output is insert-only.
 *
 * Output time. A row must never be late for what follows (a window
 * aggregate on window_time, a join on the window columns). So the operator
 * forwards W - L (not W) as its watermark, and stamps every emitted row
 * with rowwm = min(last forwarded watermark, window_time): a session closes
 * at the first forwarded watermark >= its end, after the rows it emits
 * (window_time = end - 1 is >= every watermark forwarded before), and an
 * accepted TUMBLE/HOP row has window_time >= rowtime >= rowwm - L. A window
 * aggregate downstream therefore sees each window's rows before the
 * watermark that closes it.
 *
 * Buffered rows are held serialized (a session owns one growing buffer:
 * per row u64 arrival sequence, then each input column rn_key_append'ed,
 * so a DOUBLE -0.0 comes back as 0.0); strings of emitted rows are copied
 * into the batch arena. held_since is the earliest start of a held session.
 * forget_partitions drops the sessions of revoked keys without emitting.
 *
 * Snapshot (little-endian, state/snapshot.h), between batches only:
 *   "RNWR", u32 version (1), u8 kind, u32 time_col, u64 size, slide,
 *   offset, lateness, u32 nkeys, u32 input columns (restore checks these)
 *   u64 watermark (op->watermark), u64 forwarded watermark, u64 seq
 *   (arrival counter), u64 created (session counter), u64 late rows
 *   u64 keys, then per key: bytes key, u32 n (> 0), n sessions by start:
 *     u64 start, end, created, u32 rows, bytes rows (the buffer above)
 * Restore checks that keys decode as the key columns, sessions of a key are
 * ordered and disjoint, creation numbers are below the counter, and each
 * buffer holds exactly its rows, each decoding as the input columns with
 * the key's values, a sequence below the counter and a rowtime in
 * [start, end - gap]; else RN_ERR_DECODE.
 * Partitions (docs/checkpoints.md, "Which keys"). A snapshot given a
 * partition filter writes only the keys in marked partitions (a key's
 * partition is forget_partitions': rn_key_partition of the whole key),
 * the key count saying how many, and the counters whole. Restore is a
 * merge: it adds the snapshot's sessions to those the operator holds (a
 * fresh operator, or one holding other partitions' keys); a key held
 * already is RN_ERR_DECODE. The watermark and the forwarded watermark are
 * taken only by an operator that has none (RN_WM_MIN); the arrival and
 * creation counters take the maximum (rows after the restore come after
 * the buffered ones; equal creation numbers from different snapshots only
 * order equal-ended sessions of different keys); the late-row count is
 * the larger (each partition's snapshot carries the whole count: adding
 * would count it once per partition). The
 * sessions join the heaps, so held_since and closing order cover them (one
 * due under the forwarded watermark closes at the next batch or
 * watermark: restore emits nothing). A
 * restore that fails removes the keys it added and merges nothing: the
 * operator holds what it held.
 */
#include "core/assert.h"
#include "core/hash.h"
#include "core/heap.h"
#include "core/mem.h"
#include "core/timeparse.h"
#include "op/op.h"
#include "state/snapshot.h"
#include "state/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WR_PENDING, WR_BY_START, WR_NHEAPS };

typedef struct wr_key wr_key_t;

typedef struct wr_sess {
    int64_t start;              /* first rowtime */
    int64_t end;                /* last rowtime + gap */
    uint64_t created;           /* creation sequence: breaks ties in closing order */
    size_t hidx[WR_NHEAPS];     /* position in each heap */
    wr_key_t *owner;            /* the key entry listing it */
    uint32_t nrows;             /* rows buffered */
    rn_buf_t rows;              /* the rows, serialized (see the note above) */
} wr_sess_t;

struct wr_key {
    wr_sess_t **s;              /* sessions by start (disjoint) */
    int n;                      /* sessions held */
    int cap;                    /* room in s */
};

typedef struct wr {
    rn_window_spec_t w;         /* kind, sizes, lateness (early_fire_ms is 0) */
    int nkeys;                  /* SESSION key columns: input columns 0..nkeys-1 */
    const rn_schema_t *in_schema;
    int ncols;                  /* input columns */
    rn_op_t *late;              /* where late rows go (not owned), or NULL */
    uint64_t late_rows;         /* late rows seen */
    rn_store_t *keys;           /* SESSION: key -> wr_key_t */
    size_t nsessions;           /* sessions held */
    rn_heap_t heaps[WR_NHEAPS]; /* unclosed sessions by (end, creation), by (start, creation) */
    uint64_t seq;               /* arrival sequence of accepted rows */
    uint64_t created;           /* sessions created so far */
    int64_t fwd;                /* the watermark last forwarded (W - L) */
    rn_buf_t key;               /* scratch: serialized key of the current row */
} wr_t;

/* Output under construction (as window.c's). */
typedef struct wr_out {
    rn_op_t *op;
    rn_ctx_t *ctx;
    rn_batch_t *b;              /* batch being filled, or NULL */
    int next_cap;               /* capacity of the next batch */
} wr_out_t;

/* ---- arithmetic ------------------------------------------------------- */

/* The watermark forwarded for input watermark wm: wm - L (the end stays
 * the end). */
static int64_t wr_forward_of(const wr_t *a, int64_t wm)
{
    return wm == RN_WM_MAX ? RN_WM_MAX : rn_time_sub_sat(wm, a->w.lateness_ms);
}

/* ---- heaps ------------------------------------------------------------- */

static bool sess_less_by_end(const void *x, const void *y)
{
    const wr_sess_t *a = x, *b = y;
    if (a->end != b->end) return a->end < b->end;
    return a->created < b->created;
}

static bool sess_less_by_start(const void *x, const void *y)
{
    const wr_sess_t *a = x, *b = y;
    if (a->start != b->start) return a->start < b->start;
    return a->created < b->created;
}

/* ---- sessions ------------------------------------------------------------ */

/* Frees a session (after it left its key's array). */
static void sess_release(wr_t *a, wr_sess_t *s)
{
    for (int h = 0; h < WR_NHEAPS; h++) rn_heap_remove(&a->heaps[h], s);
    rn_buf_free(&s->rows);
    rn_free(s);
    a->nsessions--;
}

/* Store callback: frees a key's sessions. */
static void wr_key_free(void *value, void *opaque)
{
    wr_t *a = opaque;
    wr_key_t *k = value;
    for (int i = 0; i < k->n; i++) sess_release(a, k->s[i]);
    rn_free(k->s);
}

/* Removes session s from its key (and the key once empty) and frees it. */
static void sess_drop(wr_t *a, wr_sess_t *s)
{
    wr_key_t *k = s->owner;
    int lo = 0, hi = k->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (k->s[mid]->start < s->start) lo = mid + 1;
        else hi = mid;
    }
    if (lo < k->n && k->s[lo] == s) {
        memmove(&k->s[lo], &k->s[lo + 1], sizeof *k->s * (size_t)(k->n - lo - 1));
        k->n--;
    }
    sess_release(a, s);
    if (k->n > 0) return;
    uint32_t klen;
    const void *key = rn_store_key_of(a->keys, k, &klen);
    /* The key lives in the entry being removed: copy it (a->key has held
     * every key, so it has room). */
    rn_buf_clear(&a->key);
    if (klen) rn_buf_append(&a->key, key, klen);
    if (a->key.oom) return; /* keep the empty entry */
    rn_store_remove(a->keys, a->key.data, klen, rn_hash_bytes(a->key.data, klen, 0));
}

/* Appends row r of in (arrival sequence seq) to s's buffer. Returns RN_OK
 * or RN_ERR_NOMEM (s unchanged). */
static rn_err_t sess_append_row(wr_t *a, wr_sess_t *s, const rn_batch_t *in, int r, uint64_t seq)
{
    size_t len = s->rows.len;
    rn_snap_put_u64(&s->rows, seq);
    for (int c = 0; c < a->ncols; c++) rn_key_append(&s->rows, a->in_schema->cols[c].type->id, rn_batch_value_ptr(in, c, r));
    if (s->rows.oom) {
        s->rows.len = len;
        s->rows.oom = 0;
        return RN_ERR_NOMEM;
    }
    s->nrows++;
    return RN_OK;
}

/* Creates session [t, end) at index i of key k. NULL on OOM (nothing
 * changed). */
static wr_sess_t *sess_new(wr_t *a, wr_key_t *k, int i, int64_t t, int64_t end)
{
    if (rn_heap_reserve(&a->heaps[WR_PENDING], 1) != RN_OK || rn_heap_reserve(&a->heaps[WR_BY_START], 1) != RN_OK)
        return NULL;
    if (k->n == k->cap) {
        int cap = k->cap ? k->cap * 2 : 2;
        wr_sess_t **s = rn_realloc(k->s, sizeof *s * (size_t)cap);
        if (!s) return NULL;
        k->s = s;
        k->cap = cap;
    }
    wr_sess_t *s = rn_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->start = t;
    s->end = end;
    s->created = a->created++;
    for (int h = 0; h < WR_NHEAPS; h++) s->hidx[h] = RN_HEAP_NOWHERE;
    rn_buf_init(&s->rows);
    s->owner = k;
    memmove(&k->s[i + 1], &k->s[i], sizeof *k->s * (size_t)(k->n - i));
    k->s[i] = s;
    k->n++;
    a->nsessions++;
    rn_heap_push(&a->heaps[WR_PENDING], s);
    rn_heap_push(&a->heaps[WR_BY_START], s);
    return s;
}

/* Buffers row r (rowtime t, key in a->key) in its session: a new one, the
 * one it extends, or the merge of all it bridges. Returns RN_OK or
 * RN_ERR_NOMEM (state unchanged). */
static rn_err_t session_add(wr_t *a, const rn_batch_t *in, int r, int64_t t, uint64_t seq)
{
    uint64_t h = rn_hash_bytes(a->key.data, a->key.len, 0);
    bool created;
    wr_key_t *k = rn_store_upsert(a->keys, a->key.data, (uint32_t)a->key.len, h, &created);
    if (!k) return RN_ERR_NOMEM;
    int64_t lo = t, hi = rn_time_add_sat(t, a->w.size_ms);
    int n = k->n, i = 0, u = n;
    while (i < u) {
        int mid = i + (u - i) / 2;
        if (k->s[mid]->end <= lo) i = mid + 1;
        else u = mid;
    }
    int j = i;
    while (j < n && k->s[j]->start < hi) j++;
    if (i == j) {
        wr_sess_t *s = sess_new(a, k, i, lo, hi);
        if (!s || sess_append_row(a, s, in, r, seq) != RN_OK) {
            if (s) sess_drop(a, s);
            else if (k->n == 0) rn_store_remove(a->keys, a->key.data, (uint32_t)a->key.len, h);
            return RN_ERR_NOMEM;
        }
        return RN_OK;
    }
    wr_sess_t *s = k->s[i];
    int64_t nend = k->s[j - 1]->end > hi ? k->s[j - 1]->end : hi; /* sessions are sorted by end too */
    /* Everything that can fail first: the new row, then room for the
     * bridged sessions' rows (on failure the row is taken back). */
    size_t len = s->rows.len, more = 0;
    rn_err_t err = sess_append_row(a, s, in, r, seq);
    if (err != RN_OK) return err;
    for (int m = i + 1; m < j; m++) more += k->s[m]->rows.len;
    if (more && rn_buf_reserve(&s->rows, more) != 0) {
        s->rows.len = len;
        s->nrows--;
        return RN_ERR_NOMEM;
    }
    for (int m = i + 1; m < j; m++) {
        wr_sess_t *x = k->s[m];
        rn_buf_append(&s->rows, x->rows.data, x->rows.len); /* reserved: cannot fail */
        s->nrows += x->nrows;
        if (x->created < s->created) s->created = x->created;
        sess_release(a, x);
    }
    if (j - i > 1) {
        memmove(&k->s[i + 1], &k->s[j], sizeof *k->s * (size_t)(n - j));
        k->n -= j - i - 1;
    }
    if (lo < s->start) s->start = lo;
    s->end = nend;
    rn_heap_fix(&a->heaps[WR_PENDING], s);
    rn_heap_fix(&a->heaps[WR_BY_START], s);
    return RN_OK;
}

/* ---- emission ----------------------------------------------------------- */

static rn_err_t out_row(wr_out_t *o, int *r /* out */)
{
    if (o->b && o->b->nrows == o->b->cap) {
        rn_err_t err = rn_op_emit(o->op, o->b, o->ctx);
        o->b = NULL;
        if (err != RN_OK) return err;
    }
    if (!o->b) {
        int cap = o->next_cap ? o->next_cap : 16;
        o->b = rn_batch_new(o->ctx->arena, o->op->schema, cap);
        if (!o->b) return RN_ERR_NOMEM;
        o->b->rowwm = rn_arena_alloc(o->ctx->arena, sizeof(int64_t) * (size_t)cap);
        if (!o->b->rowwm) return RN_ERR_NOMEM;
        o->next_cap = cap * 2 > RN_BATCH_MAX ? RN_BATCH_MAX : cap * 2;
    }
    *r = o->b->nrows++;
    return RN_OK;
}

static rn_err_t out_flush(wr_out_t *o)
{
    rn_batch_t *b = o->b;
    o->b = NULL;
    return b ? rn_op_emit(o->op, b, o->ctx) : RN_OK;
}

/* Sets the window columns, kind and rowwm of output row r. */
static void out_window(const wr_t *a, rn_batch_t *b, int r, int64_t start, int64_t end)
{
    int64_t wt = end - 1;
    b->cols[a->ncols][r] = rn_value_int(start);
    b->cols[a->ncols + 1][r] = rn_value_int(end);
    b->cols[a->ncols + 2][r] = rn_value_int(wt);
    b->kinds[r] = (uint8_t)RN_ROW_INSERT;
    b->rowwm[r] = a->fwd < wt ? a->fwd : wt;
}

/* Emits input row r of in with window [start, end). Strings stay in the
 * input batch's arena, which outlives the output. */
static rn_err_t emit_input_row(wr_t *a, wr_out_t *o, const rn_batch_t *in, int r, int64_t start, int64_t end)
{
    int orow;
    rn_err_t err = out_row(o, &orow);
    if (err != RN_OK) return err;
    for (int c = 0; c < a->ncols; c++) o->b->cols[c][orow] = rn_batch_value(in, c, r);
    out_window(a, o->b, orow, start, end);
    return RN_OK;
}

/* A buffered row: its arrival sequence and where its columns start. */
typedef struct wr_ref {
    uint64_t seq;
    uint32_t off;
} wr_ref_t;

static int ref_cmp(const void *x, const void *y)
{
    const wr_ref_t *a = x, *b = y;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Emits every row of session s, in arrival order, with its bounds. */
static rn_err_t sess_emit(wr_t *a, wr_out_t *o, const wr_sess_t *s)
{
    const unsigned char *p = (const unsigned char *)s->rows.data;
    uint32_t len = (uint32_t)s->rows.len, off = 0;
    wr_ref_t *refs = rn_arena_alloc(o->ctx->arena, sizeof *refs * (size_t)(s->nrows ? s->nrows : 1));
    if (!refs) return RN_ERR_NOMEM;
    for (uint32_t i = 0; i < s->nrows; i++) {
        RN_ASSERT(off + 8 <= len);
        memcpy(&refs[i].seq, p + off, 8); /* little-endian hosts (snapshot.h) */
        off += 8;
        refs[i].off = off;
        for (int c = 0; c < a->ncols; c++) {
            rn_value_t v;
            if (!rn_key_read(p, len, &off, a->in_schema->cols[c].type->id, &v)) return RN_ERR_DECODE;
        }
    }
    qsort(refs, s->nrows, sizeof *refs, ref_cmp);
    for (uint32_t i = 0; i < s->nrows; i++) {
        int r;
        rn_err_t err = out_row(o, &r);
        if (err != RN_OK) return err;
        off = refs[i].off;
        for (int c = 0; c < a->ncols; c++) {
            rn_type_id t = a->in_schema->cols[c].type->id;
            rn_value_t v = RN_VALUE_NULL;
            rn_key_read(p, len, &off, t, &v);
            if (!v.null && t == RN_TYPE_STRING) {
                char *q = rn_arena_strndup(o->ctx->arena, v.s ? v.s : "", v.len);
                if (!q) return RN_ERR_NOMEM;
                v.s = q;
            }
            o->b->cols[c][r] = v;
        }
        out_window(a, o->b, r, s->start, s->end);
    }
    return RN_OK;
}

/* Closes every session with end <= limit, by (end, creation). */
static rn_err_t wr_advance(wr_t *a, wr_out_t *o, int64_t limit)
{
    wr_sess_t *s;
    while ((s = rn_heap_top(&a->heaps[WR_PENDING])) && s->end <= limit) {
        rn_err_t err = sess_emit(a, o, s);
        if (err != RN_OK) return err;
        sess_drop(a, s);
    }
    return RN_OK;
}

/* ---- operator ----------------------------------------------------------- */


static rn_err_t wr_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    (void)port;
    wr_t *a = op->priv;
    wr_out_t o = {.op = op, .ctx = ctx};
    int *late = NULL, nlate = 0;
    rn_err_t err = RN_OK;
    int64_t L = a->w.lateness_ms;
    for (int r = 0; r < in->nrows && err == RN_OK; r++) {
        const rn_value_t *tv = &in->cols[a->w.time_col][r];
        if (tv->null || (in->rowwm && rn_window_row_late(tv->i, in->rowwm[r], L))) {
            if (!late && !(late = rn_arena_alloc(ctx->arena, sizeof *late * (size_t)in->nrows))) return RN_ERR_NOMEM;
            late[nlate++] = r;
            continue;
        }
        int64_t t = tv->i;
        switch (a->w.kind) {
        case RN_WINDOW_TUMBLE: {
            int64_t start = rn_window_grid_start(t, a->w.size_ms, a->w.offset_ms);
            err = emit_input_row(a, &o, in, r, start, rn_time_add_sat(start, a->w.size_ms));
            break;
        }
        case RN_WINDOW_HOP: {
            int64_t last = rn_window_grid_start(t, a->w.slide_ms, a->w.offset_ms);
            int64_t nwin = a->w.size_ms / a->w.slide_ms;
            for (int64_t k = nwin - 1; k >= 0 && err == RN_OK; k--) {
                int64_t start = rn_time_sub_sat(last, k * a->w.slide_ms);
                err = emit_input_row(a, &o, in, r, start, rn_time_add_sat(start, a->w.size_ms));
            }
            break;
        }
        case RN_WINDOW_SESSION:
            rn_buf_clear(&a->key);
            for (int k = 0; k < a->nkeys; k++)
                rn_key_append(&a->key, a->in_schema->cols[k].type->id, rn_batch_value_ptr(in, k, r));
            if (a->key.oom) return RN_ERR_NOMEM;
            err = session_add(a, in, r, t, a->seq);
            break;
        default: break; /* RN_WINDOW_GIVEN: refused by wr_check */
        }
        if (err == RN_OK) a->seq++;
    }
    /* A session opened behind the watermark (after a restore) closes now. */
    if (err == RN_OK) err = wr_advance(a, &o, a->fwd);
    if (err == RN_OK) err = out_flush(&o);
    if (err != RN_OK) return err;
    a->late_rows += (uint64_t)nlate;
    if (nlate && a->late) return rn_op_route_rows(a->late, in, late, nlate, ctx);
    return RN_OK;
}

static rn_err_t wr_watermark(rn_op_t *op, int64_t wm, rn_ctx_t *ctx)
{
    wr_t *a = op->priv;
    wr_out_t o = {.op = op, .ctx = ctx};
    op->watermark = wm;
    int64_t fwd = wr_forward_of(a, wm);
    rn_err_t err = wr_advance(a, &o, fwd);
    if (err == RN_OK) err = out_flush(&o);
    if (err != RN_OK) return err;
    if (fwd > a->fwd) a->fwd = fwd;
    return rn_op_watermark(op, a->fwd, ctx);
}

static int64_t wr_held_since(const rn_op_t *op)
{
    const wr_t *a = op->priv;
    const wr_sess_t *s = rn_heap_top(&a->heaps[WR_BY_START]);
    return s ? s->start : INT64_MAX;
}

static void wr_explain(const rn_op_t *op, rn_buf_t *out)
{
    const wr_t *a = op->priv;
    const rn_window_spec_t *w = &a->w;
    static const char *kinds[] = {"TUMBLE", "HOP", "SESSION"};
    rn_buf_appendf(out, "%s(%s, ", kinds[w->kind], a->in_schema->cols[w->time_col].name);
    if (w->kind == RN_WINDOW_HOP) {
        rn_duration_append(out, w->slide_ms);
        rn_buf_appends(out, ", ");
    }
    rn_duration_append(out, w->size_ms);
    if (w->kind != RN_WINDOW_SESSION && w->offset_ms) {
        rn_buf_appends(out, ", offset ");
        rn_duration_append(out, w->offset_ms);
    }
    rn_buf_appends(out, ")");
    if (w->kind == RN_WINDOW_SESSION) {
        rn_buf_appends(out, " partition by [");
        for (int k = 0; k < a->nkeys; k++) rn_buf_appendf(out, "%s%s", k ? ", " : "", a->in_schema->cols[k].name);
        rn_buf_appends(out, "]");
    }
    rn_buf_appends(out, ", every row with its window, lateness ");
    rn_duration_append(out, w->lateness_ms);
}

static void wr_free(wr_t *a)
{
    if (!a) return;
    rn_store_free(a->keys);
    for (int h = 0; h < WR_NHEAPS; h++) rn_heap_free(&a->heaps[h]);
    rn_buf_free(&a->key);
    rn_free(a);
}

static void wr_destroy(rn_op_t *op) { wr_free(op->priv); }

static size_t wr_state_size(const rn_op_t *op, size_t *keys)
{
    const wr_t *a = op->priv;
    *keys = a->keys ? rn_store_count(a->keys) : 0;
    if (!a->keys) return 0;
    size_t bytes = rn_store_bytes(a->keys), pos = 0;
    const wr_key_t *k;
    while ((k = rn_store_next(a->keys, &pos))) {
        bytes += sizeof *k->s * (size_t)k->cap;
        for (int i = 0; i < k->n; i++) bytes += sizeof(wr_sess_t) + k->s[i]->rows.cap;
    }
    return bytes;
}

/* Drops the sessions of keys in revoked partitions, emitting nothing.
 * Allocates nothing; returns RN_OK. */
static rn_err_t wr_forget_partitions(rn_op_t *op, int32_t nparts, const uint8_t *revoked)
{
    wr_t *a = op->priv;
    if (a->keys) rn_store_forget_partitions(a->keys, nparts, revoked);
    return RN_OK;
}

/* ---- snapshot and restore (format in the note at the top) ------------------ */

#define WR_SNAP_MAGIC "RNWR"
#define WR_SNAP_VERSION 1u

/* Whether a snapshot filtered by parts (NULL: every key) takes the key
 * key[0..klen): its partition is forget_partitions' (rn_key_partition of
 * the whole key). */
static bool wr_takes(const rn_part_filter_t *parts, const void *key, uint32_t klen)
{
    if (!parts) return true;
    return parts->nparts > 0 && parts->parts[rn_key_partition(key, klen, parts->nparts)];
}

static rn_err_t wr_snapshot(const rn_op_t *op, rn_buf_t *out, const rn_part_filter_t *parts)
{
    const wr_t *a = op->priv;
    rn_buf_append(out, WR_SNAP_MAGIC, 4);
    rn_snap_put_u32(out, WR_SNAP_VERSION);
    rn_snap_put_u8(out, (uint8_t)a->w.kind);
    rn_snap_put_u32(out, (uint32_t)a->w.time_col);
    rn_snap_put_u64(out, (uint64_t)a->w.size_ms);
    rn_snap_put_u64(out, (uint64_t)a->w.slide_ms);
    rn_snap_put_u64(out, (uint64_t)a->w.offset_ms);
    rn_snap_put_u64(out, (uint64_t)a->w.lateness_ms);
    rn_snap_put_u32(out, (uint32_t)a->nkeys);
    rn_snap_put_u32(out, (uint32_t)a->ncols);
    rn_snap_put_u64(out, (uint64_t)op->watermark);
    rn_snap_put_u64(out, (uint64_t)a->fwd);
    rn_snap_put_u64(out, a->seq);
    rn_snap_put_u64(out, a->created);
    rn_snap_put_u64(out, a->late_rows);
    size_t count_at = out->len;
    uint64_t nkeys = 0;
    rn_snap_put_u64(out, 0); /* the key count, set below */
    size_t pos = 0;
    const wr_key_t *k;
    while (a->keys && (k = rn_store_next(a->keys, &pos))) {
        uint32_t klen;
        const void *key = rn_store_key_of(a->keys, k, &klen);
        if (!wr_takes(parts, key, klen)) continue;
        nkeys++;
        rn_snap_put_bytes(out, key, klen);
        rn_snap_put_u32(out, (uint32_t)k->n);
        for (int i = 0; i < k->n; i++) {
            const wr_sess_t *s = k->s[i];
            rn_snap_put_u64(out, (uint64_t)s->start);
            rn_snap_put_u64(out, (uint64_t)s->end);
            rn_snap_put_u64(out, s->created);
            rn_snap_put_u32(out, s->nrows);
            rn_snap_put_bytes(out, s->rows.data, (uint32_t)s->rows.len);
        }
    }
    if (!out->oom && count_at + 8 <= out->len)
        for (int i = 0; i < 8; i++) out->data[count_at + (size_t)i] = (char)(unsigned char)(nkeys >> (8 * i));
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}

/* Whether key[0..klen) is exactly the key columns. */
static bool wr_key_valid(const wr_t *a, const void *key, uint32_t klen)
{
    uint32_t off = 0;
    rn_value_t v;
    for (int k = 0; k < a->nkeys; k++)
        if (!rn_key_read(key, klen, &off, a->in_schema->cols[k].type->id, &v)) return false;
    return off == klen;
}

/* Whether rows[0..len) is exactly n rows of session s of key key: each a
 * sequence below seq_max and the input columns, with the key's values and
 * a rowtime in [start, end - gap]. */
static bool wr_rows_valid(const wr_t *a, const unsigned char *rows, uint32_t len, uint32_t n, const wr_sess_t *s,
                          const void *key, uint32_t klen, uint64_t seq_max)
{
    uint32_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < 8) return false;
        uint64_t seq;
        memcpy(&seq, rows + off, 8);
        off += 8;
        if (seq >= seq_max) return false;
        uint32_t kstart = off;
        for (int c = 0; c < a->ncols; c++) {
            rn_value_t v;
            if (!rn_key_read(rows, len, &off, a->in_schema->cols[c].type->id, &v)) return false;
            if (c == a->nkeys - 1 && (off - kstart != klen || memcmp(rows + kstart, key, klen))) return false;
            if (c == a->w.time_col &&
                (v.null || v.i < s->start || rn_time_add_sat(v.i, a->w.size_ms) > s->end))
                return false;
        }
    }
    return off == len;
}

/* A key entry added by the restore under way: enough to take it back. */
typedef struct wr_added {
    const void *key;            /* its key, in the snapshot bytes */
    uint32_t klen;
    uint64_t hash;
    wr_key_t *k;                /* its value slot */
} wr_added_t;

/* Merges the snapshot's operator-wide values into a (see the note above). */
static void wr_merge_counters(rn_op_t *op, wr_t *a, int64_t wm, int64_t fwd, uint64_t seq, uint64_t created,
                              uint64_t late_rows)
{
    if (op->watermark == RN_WM_MIN) {
        op->watermark = wm;
        a->fwd = fwd;
    }
    if (seq > a->seq) a->seq = seq;
    if (created > a->created) a->created = created;
    if (late_rows > a->late_rows) a->late_rows = late_rows; /* each section carries the whole count */
}

/* Adds the snapshot's sessions to those the operator holds: each key goes
 * straight into the store; once all of the snapshot was read and the
 * heaps have room, the new sessions go into the heaps and the counters
 * are merged. On failure the keys this call added are removed again
 * (their sessions are in no heap yet) and nothing is merged. */
static rn_err_t wr_restore(rn_op_t *op, const void *data, size_t len)
{
    wr_t *a = op->priv;
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, data, len);
    if (!rn_snap_have(&r, 4) || memcmp(r.p, WR_SNAP_MAGIC, 4) != 0) return RN_ERR_DECODE;
    r.off = 4;
    if (rn_snap_u32(&r) != WR_SNAP_VERSION || rn_snap_u8(&r) != (uint8_t)a->w.kind ||
        rn_snap_u32(&r) != (uint32_t)a->w.time_col || rn_snap_u64(&r) != (uint64_t)a->w.size_ms ||
        rn_snap_u64(&r) != (uint64_t)a->w.slide_ms || rn_snap_u64(&r) != (uint64_t)a->w.offset_ms ||
        rn_snap_u64(&r) != (uint64_t)a->w.lateness_ms || rn_snap_u32(&r) != (uint32_t)a->nkeys ||
        rn_snap_u32(&r) != (uint32_t)a->ncols)
        return RN_ERR_DECODE;
    int64_t wm = (int64_t)rn_snap_u64(&r), fwd = (int64_t)rn_snap_u64(&r);
    uint64_t seq = rn_snap_u64(&r), created = rn_snap_u64(&r), late_rows = rn_snap_u64(&r);
    uint64_t nkeys = rn_snap_u64(&r);
    if (r.bad || (!a->keys && nkeys != 0)) return RN_ERR_DECODE;
    if (!a->keys) { /* TUMBLE/HOP: counters only */
        if (!rn_snap_done(&r)) return RN_ERR_DECODE;
        wr_merge_counters(op, a, wm, fwd, seq, created, late_rows);
        return RN_OK;
    }
    rn_store_t *st = a->keys;
    wr_added_t *added = NULL;
    size_t nadded = 0, added_cap = 0, nsess = 0;
    rn_err_t err = RN_OK;
    for (uint64_t e = 0; e < nkeys && err == RN_OK; e++) {
        uint32_t klen;
        const void *key = rn_snap_bytes(&r, &klen);
        uint32_t n = rn_snap_u32(&r);
        if (!key || r.bad || !wr_key_valid(a, key, klen) || n == 0 || n > r.len - r.off) {
            err = RN_ERR_DECODE;
            break;
        }
        uint64_t h = rn_hash_bytes(key, klen, 0);
        if (rn_store_peek(st, key, klen, h)) { /* held already, or twice in the snapshot */
            err = RN_ERR_DECODE;
            break;
        }
        if (nadded == added_cap) {
            size_t cap = added_cap ? added_cap * 2 : 64;
            wr_added_t *m = rn_realloc(added, cap * sizeof *m);
            if (!m) {
                err = RN_ERR_NOMEM;
                break;
            }
            added = m;
            added_cap = cap;
        }
        bool fresh;
        wr_key_t *k = rn_store_upsert(st, key, klen, h, &fresh);
        if (!k) {
            err = RN_ERR_NOMEM;
            break;
        }
        /* The key stays valid in the snapshot bytes; the store keeps a copy. */
        added[nadded++] = (wr_added_t){key, klen, h, k};
        if (!(k->s = rn_calloc(n, sizeof *k->s))) err = RN_ERR_NOMEM;
        else k->cap = (int)n;
        for (uint32_t i = 0; i < n && err == RN_OK; i++) {
            wr_sess_t *s = rn_calloc(1, sizeof *s);
            if (!s) {
                err = RN_ERR_NOMEM;
                break;
            }
            for (int hh = 0; hh < WR_NHEAPS; hh++) s->hidx[hh] = RN_HEAP_NOWHERE;
            rn_buf_init(&s->rows);
            s->owner = k;
            k->s[k->n++] = s; /* freed with the key from now on */
            a->nsessions++;
            nsess++;
            s->start = (int64_t)rn_snap_u64(&r);
            s->end = (int64_t)rn_snap_u64(&r);
            s->created = rn_snap_u64(&r);
            s->nrows = rn_snap_u32(&r);
            uint32_t rlen;
            const unsigned char *rows = rn_snap_bytes(&r, &rlen);
            if (!rows || r.bad || s->nrows == 0 || s->created >= created || s->start > s->end ||
                (i > 0 && k->s[i - 1]->end > s->start) ||
                !wr_rows_valid(a, rows, rlen, s->nrows, s, key, klen, seq)) {
                err = RN_ERR_DECODE;
                break;
            }
            rn_buf_append(&s->rows, rows, rlen);
            if (s->rows.oom) err = RN_ERR_NOMEM;
        }
    }
    if (err == RN_OK && !rn_snap_done(&r)) err = RN_ERR_DECODE;
    for (int hh = 0; hh < WR_NHEAPS && err == RN_OK; hh++)
        if (rn_heap_reserve(&a->heaps[hh], nsess) != RN_OK) err = RN_ERR_NOMEM;
    if (err != RN_OK) {
        /* wr_key_free releases each key's sessions (none in a heap) and
         * takes them off the session count. */
        for (size_t i = nadded; i-- > 0;) rn_store_remove(st, added[i].key, added[i].klen, added[i].hash);
        rn_free(added);
        return err;
    }
    for (size_t i = 0; i < nadded; i++) {
        wr_key_t *k = added[i].k;
        for (int j = 0; j < k->n; j++) {
            rn_heap_push(&a->heaps[WR_PENDING], k->s[j]);
            rn_heap_push(&a->heaps[WR_BY_START], k->s[j]);
        }
    }
    rn_free(added);
    wr_merge_counters(op, a, wm, fwd, seq, created, late_rows);
    return RN_OK;
}

static const rn_op_vtable_t wr_vtable = {
    .kind = "WindowRows",
    .process = wr_process,
    .explain = wr_explain,
    .destroy = wr_destroy,
    .watermark = wr_watermark,
    .held_since = wr_held_since,
    .state_size = wr_state_size,
    .snapshot = wr_snapshot,
    .restore = wr_restore,
    .forget_partitions = wr_forget_partitions,
};

static const char *wr_check(const rn_op_t *input, const rn_window_spec_t *w, int nkeys, const rn_schema_t *out)
{
    int ncols = input->schema->ncols;
    if (input->updating) return "a window table function over an updating input is not supported";
    if (nkeys < 0 || nkeys > ncols || (nkeys > 0 && w->kind != RN_WINDOW_SESSION))
        return "bad number of window keys";
    if (!out || out->ncols != ncols + 3) return "window rows output must have the input columns + 3";
    if (w->time_col < 0 || w->time_col >= ncols) return "window time column out of range";
    if ((unsigned)w->kind > RN_WINDOW_SESSION) return "unknown window kind";
    if (w->size_ms <= 0)
        return w->kind == RN_WINDOW_SESSION ? "session gap must be positive" : "window size must be positive";
    if (w->kind == RN_WINDOW_HOP && (w->slide_ms <= 0 || w->size_ms % w->slide_ms != 0))
        return "HOP size must be a positive multiple of the slide";
    if (w->lateness_ms < 0) return "allowed lateness must not be negative";
    if (w->early_fire_ms != 0) return "early firing does not apply to window rows";
    return NULL;
}

rn_op_t *rn_window_rows_new(rn_op_t *input, const rn_window_spec_t *w, int nkeys, rn_schema_t *out_schema,
                            char *errbuf, size_t errbuf_size)
{
    const char *bad = wr_check(input, w, nkeys, out_schema);
    if (bad) {
        snprintf(errbuf, errbuf_size, "%s", bad);
        return NULL;
    }
    wr_t *a = rn_calloc(1, sizeof *a);
    if (!a) goto oom;
    a->w = *w;
    a->nkeys = nkeys;
    a->in_schema = input->schema;
    a->ncols = input->schema->ncols;
    a->fwd = RN_WM_MIN;
    rn_buf_init(&a->key);
    rn_heap_init(&a->heaps[WR_PENDING], sess_less_by_end, offsetof(wr_sess_t, hidx));
    rn_heap_init(&a->heaps[WR_BY_START], sess_less_by_start, offsetof(wr_sess_t, hidx) + sizeof(size_t));
    if (w->kind == RN_WINDOW_SESSION && !(a->keys = rn_store_new("window-rows", sizeof(wr_key_t), wr_key_free, a)))
        goto oom;
    rn_op_t *op = rn_op_new(&wr_vtable, out_schema, input);
    if (!op) goto oom;
    op->priv = a;
    op->updating = false;
    return op;
oom:
    wr_free(a);
    snprintf(errbuf, errbuf_size, "out of memory creating a window rows operator");
    return NULL;
}

bool rn_is_window_rows(const rn_op_t *op) { return op && op->vt == &wr_vtable; }

void rn_window_rows_set_late_output(rn_op_t *op, rn_op_t *late)
{
    wr_t *a = op->priv;
    a->late = late;
}

uint64_t rn_window_rows_late_rows(const rn_op_t *op)
{
    const wr_t *a = op->priv;
    return a->late_rows;
}

size_t rn_window_rows_open_sessions(const rn_op_t *op)
{
    const wr_t *a = op->priv;
    return a->nsessions;
}
