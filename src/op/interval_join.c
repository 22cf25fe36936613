/*
 * interval_join.c - the event-time interval join (Flink's rowtime
 * TimeIntervalJoin), as op/join.h specifies it.
 *
 * Matching. Port 0 is the left input, port 1 the right one, both
 * insert-only. A pair (l, r) matches when its equality keys are equal (a
 * NULL key never matches), r.time - l.time lies in [lower, upper] (bounds
 * inclusive) and the residual is TRUE. A row arriving is joined with the
 * rows the other side holds under its key: every (row, stored row) pair
 * whose keys and times match becomes a candidate in an arena batch of the
 * output schema, and the residual is evaluated over up to RN_BATCH_MAX
 * candidates at once (rn_expr_select); the pairs it keeps are emitted as
 * they are, so a batch of matches goes out per chunk of candidates.
 *
 * State. Each side keeps the rows that a future row of the other side can
 * still match. A left row l can be matched while the right watermark
 * rw <= l.time + upper (a right row with r.time >= rw may still come), a
 * right row r while the left watermark lw <= r.time - lower: that bound is
 * the row's `expiry`. A row is stored only if the other side's watermark
 * (the port's, op->inputs[port].wm) has not passed its expiry yet, before
 * it probes the other side (its own side's rows are never its partners);
 * one that can no longer be matched is not stored and, in an outer join
 * on its side, if it found no partner, is emitted NULL-padded at once. So
 * is a row with a NULL key or a NULL time (it can never match). A row
 * late on its own side (time below that side's watermark) is joined and
 * kept all the same, as in Flink; what it produces may then be late
 * downstream, like any late row passing through an operator.
 * Stored rows live in an rn_store per side, keyed by the key
 * columns serialized with rn_key_append (an entry holds the key's rows
 * ordered by time, each slot holding its row's time beside the pointer,
 * so a row probes the other side with a binary search over the slots for
 * the start of its interval and reads only the rows inside it; rows
 * arrive mostly in time order, so insertion mostly appends, and expiry
 * mostly takes the oldest, the front; a row taken from the middle is
 * found by its time, as rows do not record their slots: renumbering the
 * rows behind an insertion cost a cache miss per row of a popular key,
 * a fifth of q7's CPU over Kafka), and per side in (expiry, arrival
 * sequence) order: in up to IJ_RUNS FIFO runs, each a sequence of rows
 * that arrived in that order (patience sorting: rows come in time order
 * per upstream partition, so a few runs hold the interleaved streams
 * behind a repartition topic); a row that extends no run when all are in
 * use goes to an indexed min-heap (core/heap.h). With every row in the
 * heap its pops (each comparison reading two rows out of cache) were a
 * fifth of Nexmark q7's time on files; with one run, still 13% over
 * Kafka. Behind a repartition topic of 8 partitions, each fed by 8
 * upstream tasks, rows come in up to 64 such sequences: with 16 runs most
 * went to the heap (12% of q7's CPU), hence 64. The non-empty runs are
 * kept ordered by their last rows, so the run a row extends is a binary
 * search, O(log runs); each run keeps its head's (expiry, seq), so that
 * finding the least reads no row, O(runs). Expiry on a side that emits
 * nothing (not outer) needs no order: it empties each run's expired head
 * and then the heap's; an outer side takes the least each time, since its
 * NULL-padded rows go out in (expiry, seq) order.
 * Rows come from a pool per side (core/pool.h: they expire about in the
 * order they came), each holding its values, strings copied out of the
 * batch arena behind them. A batch's keys are serialized and hashed
 * first and their store slots prefetched, then the rows stored and
 * probed.
 *
 * Watermarks. The watermark callback reads both port watermarks: left rows
 * whose expiry the right watermark passed are taken (least first) and
 * freed, emitted NULL-padded first if the join is LEFT/FULL and they never
 * matched (exactly once, never before); the same for right rows under the
 * left watermark in RIGHT/FULL. RN_WM_MAX (an ended input) passes every
 * expiry; as op.c calls back when the minimum watermark rises or a
 * watermark (or tick) arrives, the rows an ended input releases go out at
 * the other input's next watermark or tick, or at finish. The cost is
 * O(1) per expired row of the run, O(log n) of the heap, nothing per row
 * kept.
 * The output watermark is min(lw, rw) - max(|lower|, |upper|) (RN_WM_MIN
 * and RN_WM_MAX stay what they are, the rest saturates), never lowered; it
 * is forwarded on every callback (unchanged when only processing time
 * moved, so operators downstream still see every tick). Rows emitted carry
 * rowwm = the output watermark in force when they are emitted, which is
 * the one forwarded before them: rows expired by a callback go out before
 * the callback raises it. No emitted row is late downstream when the input
 * rows are not late on their own side: a match emitted when l arrives has
 * l.time >= lw and r.time >= l.time + lower >= lw - |lower|; a match made
 * when r arrives, symmetric; a stored left row was not expired at the last
 * callback, so rw <= l.time + upper there and the output watermark then
 * was <= l.time + upper - max(|lower|, |upper|) <= l.time. Output rows
 * carry no rowtime array (rowtime NULL, as every batch from a source):
 * the time columns of both sides stay in the row for a later window.
 * finish (all input ended) emits every pending NULL-padded row, frees the
 * state and forwards RN_WM_MAX.
 *
 * held_since is the smallest time among stored rows (the least of each
 * side: within a side expiry is time plus a constant). forget_partitions
 * drops, without emitting, the keys whose partition (rn_key_partition of
 * the key bytes) is revoked.
 *
 * Snapshot (ij_snapshot/ij_restore), little-endian, length-prefixed
 * (state/snapshot.h), between batches only:
 *   "RNIJ", u32 version (2), u8 kind, u32 nkeys, nkeys x (u32 left key,
 *   u32 right key), u32 left time col, u32 right time col, u64 lower,
 *   u64 upper, u32 left ncols, u32 right ncols   (restore checks these)
 *   u64 op->watermark, u64 output watermark, u64 arrival sequence,
 *   u64 left port watermark, u64 right port watermark (RN_WM_MIN: none;
 *   version 2 added these two)
 *   then per side (left, right): u64 key entries, per entry: bytes key,
 *   u32 n (> 0), n rows: u64 arrival sequence, u8 matched (0/1), bytes
 *   values (every column of the side's input with rn_key_append)
 * With a partition filter (docs/checkpoints.md) only the entries whose key
 * bytes fall in a marked partition are written (rn_key_partition, as
 * forget_partitions computes it); the watermarks and the sequence are
 * written whatever the filter.
 * Restore adds the snapshot's entries to those the operator holds (a
 * fresh operator, or one holding other partitions' keys) and pushes their
 * rows into the sides' order (run or heap). It takes each watermark only
 * when the operator has none yet: the port watermarks become floors under what the inputs
 * deliver (port_floor), so rows are stored and expired as they were
 * before the snapshot even before the sources deliver their watermarks
 * again, and never against a watermark that went back; the sequence
 * becomes the larger of the two (rows restored from different operators
 * may then share a sequence number: such ties go to the heap, which
 * breaks them in any order). It checks that values decode as the side's
 * column types, the time is not NULL, the key recomputed from the values equals the entry's
 * key (so no key is NULL), sequences are below the snapshot's counter, no
 * key is held already or twice, and nothing is short or left over; else
 * RN_ERR_DECODE. A failed restore (RN_ERR_NOMEM too) removes the entries
 * it added, leaving the operator as it was.
 */
#include "core/assert.h"
#include "core/hash.h"
#include "core/heap.h"
#include "core/mem.h"
#include "core/pool.h"
#include "core/timeparse.h"
#include "op/join.h"
#include "op/op.h"
#include "state/snapshot.h"
#include "state/store.h"

#include <stdio.h>
#include <string.h>

typedef struct ij_key ij_key_t;

#define IJ_NO_RUN UINT64_MAX

/* One stored input row. */
typedef struct ij_row {
    int64_t time;               /* its rowtime */
    int64_t expiry;             /* the last other-side watermark under which it can match */
    uint64_t seq;               /* arrival sequence (ties in the heap) */
    size_t hidx;                /* position in its side's heap (RN_HEAP_NOWHERE: not there) */
    uint64_t fpos;              /* position in its run (IJ_NO_RUN: in none) */
    uint8_t run;                /* which of its side's runs */
    ij_key_t *owner;            /* the key entry listing it */
    uint8_t matched;            /* it has been emitted with a partner */
    rn_value_t vals[];          /* one per column of its side; strings point behind them */
} ij_row_t;

/* A store slot: the rows of one key on one side, rows[head .. head + n),
 * ordered by (time, arrival sequence): a probe is a binary search, and
 * expiry (oldest first within a key) drops rows[head]. Each slot keeps its
 * row's time beside the pointer, so that the searches (a probe, where a
 * row goes, a row taken out of the middle) read only the array, not the
 * rows: a popular key holds hundreds of rows, each out of cache. */
#define IJ_INLINE_ROWS 2        /* rows a key holds without an array of its own */

typedef struct ij_slot {
    int64_t time;               /* row->time */
    ij_row_t *row;
} ij_slot_t;

struct ij_key {
    ij_slot_t *rows;            /* cap slots: inline, or an owned array */
    uint32_t head;              /* first live slot */
    uint32_t n;                 /* live rows */
    uint32_t cap;
    uint64_t hash;              /* hash of the key bytes */
    ij_slot_t inline_rows[IJ_INLINE_ROWS]; /* the slots of the first rows (most keys hold
                                 * one or two: one allocation fewer per key) */
};

/* A run: rows that arrived in (expiry, seq) order, a FIFO of slots
 * slot[pos & mask] for pos in [head, tail), a removed row leaving a NULL
 * (never at head). Rows arrive in time order per upstream partition, so
 * behind a repartition topic they come as a few interleaved ordered
 * streams: each row joins the run it extends most closely (patience
 * sorting), and only a row that extends none, with every run in use,
 * goes to the heap. */
#define IJ_RUNS 64

typedef struct ij_run {
    ij_row_t **slot;
    uint64_t head, tail;
    size_t mask;                /* slots - 1 (a power of two), or 0 with none */
    int64_t last_expiry;        /* of the last row put in (while not empty) */
    uint64_t last_seq;
    int64_t head_expiry;        /* of the row at head (while not empty): ij_order_top */
    uint64_t head_seq;          /* compares heads without reading the rows */
} ij_run_t;

typedef struct ij_side {
    rn_schema_t *schema;        /* the input's schema (a reference) */
    int ncols;                  /* its columns */
    int *keys;                  /* nkeys key columns (owned) */
    int time_col;               /* rowtime column */
    bool outer;                 /* unmatched rows are emitted NULL-padded */
    rn_store_t *store;          /* key bytes -> ij_key_t */
    /* The stored rows by (expiry, seq), in up to IJ_RUNS runs and a heap
     * (ij_order_*): the least is a run's head or the heap's top. */
    ij_run_t runs[IJ_RUNS];
    int nruns;                  /* runs in use (some maybe empty) */
    uint8_t order[IJ_RUNS];     /* the non-empty runs by (last_expiry, last_seq), least
                                 * first: where a row goes is a binary search */
    int norder;
    rn_heap_t heap;
    rn_pool_t pool;             /* where its rows live (they expire about in arrival order) */
    size_t nrows;               /* rows stored */
    size_t array_bytes;         /* bytes of the keys' row arrays (the rows: pool.bytes) */
} ij_side_t;

typedef struct ijoin {
    rn_join_kind kind;
    int nkeys;
    int64_t lower, upper;       /* r.time - l.time in [lower, upper] */
    int64_t margin;             /* max(|lower|, |upper|), saturated */
    const rn_expr_t *residual;  /* over the output row, or NULL (the plan's) */
    ij_side_t side[2];          /* left, right */
    int64_t outwm;              /* output watermark in force (RN_WM_MIN: none) */
    int64_t port_floor[2];      /* per port: the watermark a restore brought (RN_WM_MIN:
                                 * none); ij_port_wm never reads less */
    uint64_t seq;               /* rows stored so far */
    rn_buf_t key;               /* scratch: a row's key */
} ijoin_t;

/* ---- arithmetic ------------------------------------------------------- */

static int64_t abs_sat(int64_t a) { return a == INT64_MIN ? INT64_MAX : a < 0 ? -a : a; }

/* Whether right time rt lies within [lt + lower, lt + upper]. */
static bool ij_in_interval(const ijoin_t *j, int64_t lt, int64_t rt)
{
    int64_t d;
    if (__builtin_sub_overflow(rt, lt, &d)) return false; /* |d| beyond any bound */
    return d >= j->lower && d <= j->upper;
}

/* The expiry of a row of side s with time t: left t + upper, right
 * t - lower. */
static int64_t ij_expiry(const ijoin_t *j, int s, int64_t t)
{
    return s == 0 ? rn_time_add_sat(t, j->upper) : rn_time_sub_sat(t, j->lower);
}

/* Whether other-side watermark wm shows no partner of a row with this
 * expiry can still arrive. */
static bool ij_expired(int64_t expiry, int64_t wm)
{
    return wm == RN_WM_MAX || wm > expiry;
}

/* The watermark of input port p: the one it delivered (RN_WM_MIN before
 * any), or the one a restore brought if that is later. */
static int64_t ij_port_wm(const rn_op_t *op, int p)
{
    const ijoin_t *j = op->priv;
    int64_t wm = op->inputs[p].has_wm ? op->inputs[p].wm : RN_WM_MIN;
    return wm > j->port_floor[p] ? wm : j->port_floor[p];
}

/* The output watermark for minimum input watermark m. */
static int64_t ij_out_wm(const ijoin_t *j, int64_t m)
{
    if (m == RN_WM_MIN || m == RN_WM_MAX) return m;
    return rn_time_sub_sat(m, j->margin);
}

/* ---- stored rows -------------------------------------------------------- */

static bool ij_row_less(const void *x, const void *y)
{
    const ij_row_t *a = x, *b = y;
    if (a->expiry != b->expiry) return a->expiry < b->expiry;
    return a->seq < b->seq;
}

/* ---- the stored rows in expiry order (ij_side_t's run and heap) ---- */

/* The run a row of (expiry, seq) goes to: of the runs it extends (their
 * last row before it, or empty), the one whose last row is the latest
 * (an empty one only if no other fits); else a new run while fewer than
 * IJ_RUNS are in use; else -1, the heap. The non-empty runs are kept in
 * order of their last rows (s->order), which adding a row to the latest
 * run it extends never disturbs (its last row moves up, but not past the
 * next run's, which the row does not extend), so the pick is a binary
 * search: O(log runs) per row, not O(runs). */
static bool ij_run_extended_by(const ij_run_t *u, int64_t expiry, uint64_t seq)
{
    return u->last_expiry < expiry || (u->last_expiry == expiry && u->last_seq <= seq);
}

static int ij_order_pick(const ij_side_t *s, int64_t expiry, uint64_t seq)
{
    int lo = 0, hi = s->norder; /* the first run in order that the row does not extend */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (ij_run_extended_by(&s->runs[s->order[mid]], expiry, seq)) lo = mid + 1;
        else hi = mid;
    }
    if (lo > 0) return s->order[lo - 1];
    for (int r = 0; r < s->nruns; r++)
        if (s->runs[r].head == s->runs[r].tail) return r;
    return s->nruns < IJ_RUNS ? s->nruns : -1;
}

/* Makes room for one more row in run r (-1: the heap), as ij_order_pick
 * chose. RN_OK or RN_ERR_NOMEM (nothing changed). */
static rn_err_t ij_order_reserve(ij_side_t *s, int r)
{
    if (r < 0) return rn_heap_reserve(&s->heap, 1);
    ij_run_t *u = &s->runs[r];
    size_t cap = u->slot ? u->mask + 1 : 0;
    if (u->tail - u->head < cap) return RN_OK;
    size_t ncap = cap ? cap * 2 : 64;
    ij_row_t **a = rn_malloc(sizeof *a * ncap);
    if (!a) return RN_ERR_NOMEM;
    for (uint64_t pos = u->head; pos < u->tail; pos++) a[pos & (ncap - 1)] = u->slot[pos & u->mask];
    rn_free(u->slot);
    u->slot = a;
    u->mask = ncap - 1;
    return RN_OK;
}

/* Adds row (expiry and seq set) to run r (-1: the heap), ij_order_pick's
 * choice for it, where ij_order_reserve made room; nothing in between
 * changed the runs. */
static void ij_order_push(ij_side_t *s, ij_row_t *row, int r)
{
    if (r < 0) {
        row->fpos = IJ_NO_RUN;
        rn_heap_push(&s->heap, row);
        return;
    }
    if (r == s->nruns) s->nruns++;
    ij_run_t *u = &s->runs[r];
    if (u->head == u->tail) { /* it extends no other run: first in order */
        u->head_expiry = row->expiry;
        u->head_seq = row->seq;
        memmove(s->order + 1, s->order, (size_t)s->norder);
        s->order[0] = (uint8_t)r;
        s->norder++;
    }
    row->run = (uint8_t)r;
    row->fpos = u->tail++;
    u->slot[row->fpos & u->mask] = row;
    u->last_expiry = row->expiry;
    u->last_seq = row->seq;
}

/* The row of least (expiry, seq), or NULL. The runs' heads are compared
 * by the keys the runs keep, without reading the rows. */
static ij_row_t *ij_order_top(const ij_side_t *s)
{
    ij_row_t *top = rn_heap_top(&s->heap);
    bool any = top != NULL;
    int64_t be = top ? top->expiry : 0;
    uint64_t bs = top ? top->seq : 0;
    int best = -1;
    for (int r = 0; r < s->nruns; r++) {
        const ij_run_t *u = &s->runs[r];
        if (u->head == u->tail) continue;
        if (!any || u->head_expiry < be || (u->head_expiry == be && u->head_seq < bs)) {
            any = true;
            be = u->head_expiry;
            bs = u->head_seq;
            best = r;
        }
    }
    return best < 0 ? top : s->runs[best].slot[s->runs[best].head & s->runs[best].mask];
}

/* Takes row out (wherever it is). */
static void ij_order_remove(ij_side_t *s, ij_row_t *row)
{
    if (row->fpos == IJ_NO_RUN) {
        rn_heap_remove(&s->heap, row);
        return;
    }
    ij_run_t *u = &s->runs[row->run];
    u->slot[row->fpos & u->mask] = NULL;
    row->fpos = IJ_NO_RUN;
    uint64_t head = u->head;
    while (u->head < u->tail && !u->slot[u->head & u->mask]) u->head++;
    if (u->head == u->tail) { /* emptied (it held row): out of the order */
        int i = 0;
        while (s->order[i] != row->run) i++;
        memmove(s->order + i, s->order + i + 1, (size_t)(s->norder - i - 1));
        s->norder--;
    }
    if (u->head != head && u->head < u->tail) {
        const ij_row_t *h = u->slot[u->head & u->mask];
        u->head_expiry = h->expiry;
        u->head_seq = h->seq;
    }
}

/* Store callback: frees a key's rows, taking them out of the heap. */
static void ij_key_free(void *value, void *opaque)
{
    ij_side_t *s = opaque;
    ij_key_t *e = value;
    for (uint32_t i = e->head; i < e->head + e->n; i++) {
        ij_row_t *row = e->rows[i].row;
        ij_order_remove(s, row);
        s->nrows--;
        rn_pool_free(&s->pool, row);
    }
    if (e->rows != e->inline_rows) {
        s->array_bytes -= sizeof *e->rows * e->cap;
        rn_free(e->rows);
    }
}

/* Appends the key columns of row r of side s (values vals[col]),
 * serialized, to key. Returns false if a key column is NULL (the row
 * never matches; key is then as it was); true otherwise (key->oom tells
 * of OOM). */
static bool ij_make_key(ijoin_t *j, const ij_side_t *s, const rn_value_t *const *cols, int r, rn_buf_t *key)
{
    size_t start = key->len;
    for (int k = 0; k < j->nkeys; k++) {
        const rn_value_t *v = &cols[s->keys[k]][r];
        if (v->null) {
            key->len = start;
            return false;
        }
        rn_key_append(key, s->schema->cols[s->keys[k]].type->id, v);
    }
    return true;
}

/* Copies the values of one row (vals[c] for each column of side s, strings
 * included) into a new stored row, not stored yet. Returns NULL on OOM. */
static ij_row_t *ij_row_alloc(ij_side_t *s, const rn_value_t *vals)
{
    size_t strbytes = 0;
    for (int c = 0; c < s->ncols; c++) {
        const rn_value_t *v = &vals[c];
        if (!v->null && s->schema->cols[c].type->id == RN_TYPE_STRING) strbytes += v->len;
    }
    size_t bytes = sizeof(ij_row_t) + sizeof(rn_value_t) * (size_t)s->ncols + strbytes;
    ij_row_t *row = rn_pool_alloc(&s->pool, bytes);
    if (!row) return NULL;
    memset(row, 0, sizeof *row);
    row->hidx = RN_HEAP_NOWHERE;
    row->fpos = IJ_NO_RUN;
    char *p = (char *)&row->vals[s->ncols];
    for (int c = 0; c < s->ncols; c++) {
        rn_value_t v = vals[c];
        if (!v.null && s->schema->cols[c].type->id == RN_TYPE_STRING) {
            if (v.len) memcpy(p, v.s, v.len);
            v.s = p;
            p += v.len;
        }
        row->vals[c] = v;
    }
    return row;
}

/* Stores row (time set) under key (klen bytes, h their hash) on side si:
 * into its key's entry and the run or heap. Returns RN_OK or RN_ERR_NOMEM
 * (row freed, nothing changed). */
static rn_err_t ij_store_row(ijoin_t *j, int si, ij_row_t *row, const void *key, uint32_t klen, uint64_t h)
{
    ij_side_t *s = &j->side[si];
    bool created;
    row->expiry = ij_expiry(j, si, row->time);
    int run = ij_order_pick(s, row->expiry, row->seq);
    if (ij_order_reserve(s, run) != RN_OK) {
        rn_pool_free(&s->pool, row);
        return RN_ERR_NOMEM;
    }
    ij_key_t *e = rn_store_upsert(s->store, key, klen, h, &created);
    if (!e) {
        rn_pool_free(&s->pool, row);
        return RN_ERR_NOMEM;
    }
    if (created) e->hash = h;
    if (e->head + e->n == e->cap && e->head > 0) { /* slide the live rows to the front */
        memmove(e->rows, e->rows + e->head, sizeof *e->rows * e->n);
        e->head = 0;
    }
    if (!e->cap) { /* (a new entry) */
        e->rows = e->inline_rows;
        e->cap = IJ_INLINE_ROWS;
    }
    if (e->n == e->cap) {
        uint32_t cap = e->cap * 2;
        bool was_inline = e->rows == e->inline_rows;
        ij_slot_t *rows = was_inline ? rn_malloc(sizeof *rows * cap) : rn_realloc(e->rows, sizeof *rows * cap);
        if (!rows) {
            rn_pool_free(&s->pool, row);
            return RN_ERR_NOMEM;
        }
        if (was_inline) memcpy(rows, e->inline_rows, sizeof *rows * e->cap);
        s->array_bytes += sizeof *rows * (was_inline ? cap : cap - e->cap);
        e->rows = rows;
        e->cap = cap;
    }
    row->owner = e;
    /* after every row of a time <= its own (it is the latest arrival) */
    uint32_t lo = e->head, hi = e->head + e->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (e->rows[mid].time <= row->time) lo = mid + 1;
        else hi = mid;
    }
    uint32_t end = e->head + e->n;
    if (lo < end) memmove(e->rows + lo + 1, e->rows + lo, sizeof *e->rows * (end - lo));
    e->rows[lo] = (ij_slot_t){.time = row->time, .row = row};
    e->n++;
    ij_order_push(s, row, run);
    s->nrows++;
    return RN_OK;
}

/* Frees a row already out of the heap, removing it from its key entry
 * (and the entry once empty). */
static void ij_drop_row(ij_side_t *s, ij_row_t *row)
{
    ij_key_t *e = row->owner;
    if (e->rows[e->head].row == row) { /* the oldest: what expiry mostly drops */
        e->head++;
    } else { /* found by its time: rows do not know their slots, so that
              * adding one never has to renumber the rows behind it */
        uint32_t lo = e->head, hi = e->head + e->n, end = hi;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (e->rows[mid].time < row->time) lo = mid + 1;
            else hi = mid;
        }
        while (lo < end && e->rows[lo].row != row) lo++;
        RN_ASSERT(lo < end); /* among the slots of its time */
        memmove(e->rows + lo, e->rows + lo + 1, sizeof *e->rows * (end - lo - 1));
    }
    if (--e->n == 0) e->head = 0;
    s->nrows--;
    rn_pool_free(&s->pool, row);
    if (e->n > 0) return;
    rn_store_remove_value(s->store, e);
}

/* ---- emission ----------------------------------------------------------- */

/* A new output batch of cap rows with a rowwm array. */
static rn_batch_t *ij_batch_new(rn_op_t *op, rn_ctx_t *ctx, int cap)
{
    rn_batch_t *b = rn_batch_new(ctx->arena, op->schema, cap);
    if (!b) return NULL;
    b->rowwm = rn_arena_alloc(ctx->arena, sizeof(int64_t) * (size_t)cap);
    return b->rowwm ? b : NULL;
}

/* Copies a string value into the arena (stored rows may be freed before
 * the batch is done with). */
static rn_err_t ij_arena_string(rn_arena_t *arena, rn_value_t *v)
{
    char *p = rn_arena_strndup(arena, v->s ? v->s : "", v->len);
    if (!p) return RN_ERR_NOMEM;
    v->s = p;
    return RN_OK;
}

/* Emits one NULL-padded row: the values of side si (vals[c]),
 * NULLs for the other side. copy: the values belong to a stored row and
 * their strings are copied into the arena. */
static rn_err_t ij_emit_padded(ijoin_t *j, rn_op_out_t *o, int si, const rn_value_t *vals, bool copy)
{
    int r;
    rn_err_t err = rn_op_out_row(o, &r);
    if (err != RN_OK) return err;
    rn_batch_t *b = o->b;
    int nl = j->side[0].ncols, nr = j->side[1].ncols;
    int base = si == 0 ? 0 : nl, obase = si == 0 ? nl : 0, on = si == 0 ? nr : nl;
    const ij_side_t *s = &j->side[si];
    for (int c = 0; c < s->ncols; c++) {
        rn_value_t v = vals[c];
        if (copy && !v.null && s->schema->cols[c].type->id == RN_TYPE_STRING &&
            ij_arena_string(o->ctx->arena, &v) != RN_OK)
            return RN_ERR_NOMEM;
        b->cols[base + c][r] = v;
    }
    for (int c = 0; c < on; c++) b->cols[obase + c][r] = RN_VALUE_NULL;
    b->kinds[r] = RN_ROW_INSERT;
    b->rowwm[r] = j->outwm;
    return RN_OK;
}

/* Candidate pairs of one input batch: (input row, stored row) pairs with
 * equal keys and times in the interval, filled into an output batch until
 * it is full, then checked against the residual and emitted. */
typedef struct ij_pairs {
    rn_op_t *op;
    rn_ctx_t *ctx;
    int port;                   /* side of the input rows */
    const rn_batch_t *in;
    uint8_t *matched;           /* per input row: found a partner */
    ij_row_t **mine;            /* per input row: the row it is stored as, or NULL */
    rn_batch_t *b;              /* candidates (stored side's strings not copied yet) */
    int *inrow;                 /* per candidate: its input row */
    ij_row_t **stored;          /* per candidate: its stored row */
    int *sel;                   /* residual selection */
    int next_cap;
} ij_pairs_t;

/* Checks the candidates against the residual, marks who matched, and
 * emits the matching pairs. */
static rn_err_t pairs_flush(ijoin_t *j, ij_pairs_t *p)
{
    rn_batch_t *b = p->b;
    if (!b || b->nrows == 0) return RN_OK;
    p->b = NULL;
    int n = b->nrows;
    const int *sel = NULL;
    if (j->residual) {
        n = rn_expr_select(j->residual, b, p->ctx->arena, p->sel);
        if (n < 0) return RN_ERR_NOMEM;
        sel = p->sel;
    }
    int other = 1 - p->port;
    const ij_side_t *os = &j->side[other];
    int obase = other == 0 ? 0 : j->side[0].ncols;
    int ncols = p->op->schema->ncols;
    for (int i = 0; i < n; i++) {
        int k = sel ? sel[i] : i;
        int r = p->inrow[k];
        p->matched[r] = 1;
        if (p->mine[r]) p->mine[r]->matched = 1;
        p->stored[k]->matched = 1;
        if (k != i)
            for (int c = 0; c < ncols; c++) b->cols[c][i] = b->cols[c][k];
        for (int c = 0; c < os->ncols; c++) {
            rn_value_t *v = &b->cols[obase + c][i];
            if (!v->null && os->schema->cols[c].type->id == RN_TYPE_STRING &&
                ij_arena_string(p->ctx->arena, v) != RN_OK)
                return RN_ERR_NOMEM;
        }
        b->kinds[i] = RN_ROW_INSERT;
        b->rowwm[i] = j->outwm;
    }
    b->nrows = n;
    return rn_op_emit(p->op, b, p->ctx);
}

/* Adds the pair (input row r, stored row s) to the candidates. */
static rn_err_t pairs_add(ijoin_t *j, ij_pairs_t *p, int r, ij_row_t *s)
{
    if (p->b && p->b->nrows == p->b->cap) {
        rn_err_t err = pairs_flush(j, p);
        if (err != RN_OK) return err;
    }
    if (!p->b) {
        int cap = p->next_cap ? p->next_cap : 64;
        rn_arena_t *a = p->ctx->arena;
        p->b = ij_batch_new(p->op, p->ctx, cap);
        p->inrow = rn_arena_alloc(a, sizeof *p->inrow * (size_t)cap);
        p->stored = rn_arena_alloc(a, sizeof *p->stored * (size_t)cap);
        p->sel = rn_arena_alloc(a, sizeof *p->sel * (size_t)cap);
        if (!p->b || !p->inrow || !p->stored || !p->sel) return RN_ERR_NOMEM;
        p->next_cap = cap * 2 > RN_BATCH_MAX ? RN_BATCH_MAX : cap * 2;
    }
    rn_batch_t *b = p->b;
    int i = b->nrows++;
    int nl = j->side[0].ncols;
    const ij_side_t *ms = &j->side[p->port], *os = &j->side[1 - p->port];
    int mbase = p->port == 0 ? 0 : nl, obase = p->port == 0 ? nl : 0;
    for (int c = 0; c < ms->ncols; c++) b->cols[mbase + c][i] = rn_batch_value(p->in, c, r);
    for (int c = 0; c < os->ncols; c++) b->cols[obase + c][i] = s->vals[c];
    b->kinds[i] = RN_ROW_INSERT;
    p->inrow[i] = r;
    p->stored[i] = s;
    return RN_OK;
}

/* ---- operator ----------------------------------------------------------- */

static rn_err_t ij_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    ijoin_t *j = op->priv;
    if (port < 0 || port > 1 || in->nrows == 0) return RN_OK;
    ij_side_t *me = &j->side[port], *other = &j->side[1 - port];
    int64_t other_wm = ij_port_wm(op, 1 - port);
    uint8_t *matched = rn_arena_calloc(ctx->arena, (size_t)in->nrows, 1);
    ij_row_t **mine = rn_arena_calloc(ctx->arena, (size_t)in->nrows, sizeof *mine);
    rn_value_t *vals = rn_arena_alloc(ctx->arena, sizeof *vals * (size_t)me->ncols);
    if (!matched || !mine || !vals) return RN_ERR_NOMEM;
    ij_pairs_t p = {.op = op, .ctx = ctx, .port = port, .in = in, .matched = matched, .mine = mine};
    rn_err_t err;

    /* The key bytes and hashes of the whole batch first, the store slots
     * they lead to prefetched, so that the misses overlap; then store each
     * row a later row of the other side can still match (its own side's
     * rows are never its partners, so before probing is as good as after)
     * and collect its candidates. */
    uint32_t *koff = rn_arena_alloc(ctx->arena, sizeof *koff * (size_t)in->nrows);
    uint32_t *klens = rn_arena_alloc(ctx->arena, sizeof *klens * (size_t)in->nrows);
    uint64_t *hash = rn_arena_alloc(ctx->arena, sizeof *hash * (size_t)in->nrows);
    if (!koff || !klens || !hash) return RN_ERR_NOMEM;
    rn_buf_clear(&j->key);
    for (int r = 0; r < in->nrows; r++) {
        koff[r] = (uint32_t)j->key.len;
        bool keyed = !in->cols[me->time_col][r].null &&
                     ij_make_key(j, me, (const rn_value_t *const *)in->cols, r, &j->key);
        klens[r] = keyed ? (uint32_t)j->key.len - koff[r] : UINT32_MAX;
    }
    if (j->key.oom) return RN_ERR_NOMEM;
    /* (no equality keys: every key is empty, and the buffer may have no bytes at all) */
    const unsigned char *keys = j->key.data ? (const unsigned char *)j->key.data : (const unsigned char *)"";
    for (int r = 0; r < in->nrows; r++) {
        if (klens[r] == UINT32_MAX) continue;
        hash[r] = rn_hash_bytes(keys + koff[r], klens[r], 0);
        rn_store_prefetch(me->store, hash[r]);
        rn_store_prefetch(other->store, hash[r]);
    }
    for (int r = 0; r < in->nrows; r++) {
        if (klens[r] == UINT32_MAX) continue;
        const rn_value_t *tv = &in->cols[me->time_col][r];
        const unsigned char *key = keys + koff[r];
        uint32_t klen = klens[r];
        uint64_t h = hash[r];
        if (!ij_expired(ij_expiry(j, port, tv->i), other_wm)) {
            for (int c = 0; c < me->ncols; c++) vals[c] = rn_batch_value(in, c, r);
            ij_row_t *row = ij_row_alloc(me, vals);
            if (!row) return RN_ERR_NOMEM;
            row->time = tv->i;
            row->seq = j->seq++;
            if ((err = ij_store_row(j, port, row, key, klen, h)) != RN_OK) return err;
            mine[r] = row;
        }
        ij_key_t *e = rn_store_peek(other->store, key, klen, h);
        if (!e || !e->n) continue;
        /* the other side's times that can match: [from, to] */
        int64_t from = port == 0 ? rn_time_add_sat(tv->i, j->lower) : rn_time_sub_sat(tv->i, j->upper);
        int64_t to = port == 0 ? rn_time_add_sat(tv->i, j->upper) : rn_time_sub_sat(tv->i, j->lower);
        uint32_t lo = e->head, hi = e->head + e->n;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (e->rows[mid].time < from) lo = mid + 1;
            else hi = mid;
        }
        for (uint32_t i = lo; i < e->head + e->n && e->rows[i].time <= to; i++) {
            ij_row_t *s = e->rows[i].row;
            bool in_range = port == 0 ? ij_in_interval(j, tv->i, s->time) : ij_in_interval(j, s->time, tv->i);
            if (in_range && (err = pairs_add(j, &p, r, s)) != RN_OK) return err;
        }
    }
    if ((err = pairs_flush(j, &p)) != RN_OK) return err;

    /* A row not stored that found no partner never will: pad it now. */
    if (!me->outer) return RN_OK;
    rn_op_out_t o = {.op = op, .ctx = ctx, .rowwm = true};
    for (int r = 0; r < in->nrows; r++) {
        if (mine[r] || matched[r]) continue;
        for (int c = 0; c < me->ncols; c++) vals[c] = rn_batch_value(in, c, r);
        if ((err = ij_emit_padded(j, &o, port, vals, false)) != RN_OK) return err;
    }
    return rn_op_out_flush(&o);
}

/* Frees the rows of side si whose expiry wm passed, emitting the
 * unmatched ones NULL-padded if the side is outer. */
static rn_err_t ij_expire(ijoin_t *j, rn_op_out_t *o, int si, int64_t wm)
{
    ij_side_t *s = &j->side[si];
    ij_row_t *row;
    if (!s->outer) { /* nothing to emit, so no order to keep: each run, then the heap */
        for (int r = 0; r < s->nruns; r++) {
            ij_run_t *u = &s->runs[r];
            while (u->head != u->tail && ij_expired(u->head_expiry, wm)) {
                row = u->slot[u->head & u->mask];
                ij_order_remove(s, row);
                ij_drop_row(s, row);
            }
        }
        while ((row = rn_heap_top(&s->heap)) && ij_expired(row->expiry, wm)) {
            ij_order_remove(s, row);
            ij_drop_row(s, row);
        }
        return RN_OK;
    }
    while ((row = ij_order_top(s)) && ij_expired(row->expiry, wm)) {
        if (!row->matched) { /* (an outer side: the others returned above) */
            rn_err_t err = ij_emit_padded(j, o, si, row->vals, true);
            if (err != RN_OK) return err;
        }
        ij_order_remove(s, row);
        ij_drop_row(s, row);
    }
    return RN_OK;
}

static rn_err_t ij_watermark(rn_op_t *op, int64_t wm, rn_ctx_t *ctx)
{
    ijoin_t *j = op->priv;
    op->watermark = wm;
    int64_t lw = ij_port_wm(op, 0), rw = ij_port_wm(op, 1);
    rn_op_out_t o = {.op = op, .ctx = ctx, .rowwm = true};
    rn_err_t err = ij_expire(j, &o, 0, rw);
    if (err == RN_OK) err = ij_expire(j, &o, 1, lw);
    if (err == RN_OK) err = rn_op_out_flush(&o);
    if (err != RN_OK) return err;
    int64_t out = ij_out_wm(j, lw < rw ? lw : rw);
    if (out > j->outwm) j->outwm = out;
    return rn_op_watermark(op, j->outwm, ctx);
}

static rn_err_t ij_finish(rn_op_t *op, rn_ctx_t *ctx)
{
    ijoin_t *j = op->priv;
    rn_op_out_t o = {.op = op, .ctx = ctx, .rowwm = true};
    rn_err_t err = ij_expire(j, &o, 0, RN_WM_MAX);
    if (err == RN_OK) err = ij_expire(j, &o, 1, RN_WM_MAX);
    if (err == RN_OK) err = rn_op_out_flush(&o);
    if (err != RN_OK) return err;
    j->outwm = RN_WM_MAX;
    op->watermark = RN_WM_MAX;
    return rn_op_watermark(op, RN_WM_MAX, ctx);
}

static int64_t ij_held_since(const rn_op_t *op)
{
    const ijoin_t *j = op->priv;
    int64_t held = INT64_MAX;
    for (int s = 0; s < 2; s++) {
        const ij_row_t *row = ij_order_top(&j->side[s]);
        if (row && row->time < held) held = row->time;
    }
    return held;
}

static size_t ij_runs_bytes(const ij_side_t *s)
{
    size_t n = 0;
    for (int r = 0; r < s->nruns; r++) n += s->runs[r].slot ? (s->runs[r].mask + 1) * sizeof(void *) : 0;
    return n;
}

static size_t ij_state_size(const rn_op_t *op, size_t *keys)
{
    const ijoin_t *j = op->priv;
    size_t bytes = 0;
    *keys = 0;
    for (int s = 0; s < 2; s++) {
        const ij_side_t *sd = &j->side[s];
        *keys += rn_store_count(sd->store);
        bytes += rn_store_bytes(sd->store) + sd->array_bytes + sd->pool.bytes + sd->heap.cap * sizeof(void *) +
                 ij_runs_bytes(sd);
    }
    return bytes;
}

/* "lt - 5 s", "lt + 1 ms", "lt". */
static void append_offset(rn_buf_t *out, const char *col, int64_t ms)
{
    rn_buf_appends(out, col);
    if (ms == 0) return;
    rn_buf_appends(out, ms < 0 ? " - " : " + ");
    if (ms == INT64_MIN) rn_buf_appends(out, "9223372036854775808 ms");
    else rn_duration_append(out, ms < 0 ? -ms : ms);
}

/* "IntervalJoin: LEFT [k = k0], rt BETWEEN lt - 5 s AND lt + 5 s, residual (...)"
 * with the output's column names. */
static void ij_explain(const rn_op_t *op, rn_buf_t *out)
{
    const ijoin_t *j = op->priv;
    static const char *kinds[] = {"INNER", "LEFT", "RIGHT", "FULL"};
    const rn_schema_t *sc = op->schema;
    int nl = j->side[0].ncols;
    rn_buf_appendf(out, "%s [", kinds[j->kind]);
    for (int k = 0; k < j->nkeys; k++)
        rn_buf_appendf(out, "%s%s = %s", k ? ", " : "", sc->cols[j->side[0].keys[k]].name,
                       sc->cols[nl + j->side[1].keys[k]].name);
    const char *lt = sc->cols[j->side[0].time_col].name;
    rn_buf_appendf(out, "], %s BETWEEN ", sc->cols[nl + j->side[1].time_col].name);
    append_offset(out, lt, j->lower);
    rn_buf_appends(out, " AND ");
    append_offset(out, lt, j->upper);
    if (j->residual) {
        rn_buf_appends(out, ", residual ");
        rn_expr_explain(j->residual, sc, out);
    }
}

static void ij_free(ijoin_t *j)
{
    if (!j) return;
    for (int s = 0; s < 2; s++) {
        rn_store_free(j->side[s].store); /* takes the rows out of the heap */
        rn_pool_destroy(&j->side[s].pool);
        rn_heap_free(&j->side[s].heap);
        for (int r = 0; r < IJ_RUNS; r++) rn_free(j->side[s].runs[r].slot);
        rn_free(j->side[s].keys);
        if (j->side[s].schema) rn_schema_unref(j->side[s].schema);
    }
    rn_buf_free(&j->key);
    rn_free(j);
}

static void ij_destroy(rn_op_t *op) { ij_free(op->priv); }

/* ---- forgetting revoked partitions (docs/scale-out.md) -------------------- */

/* Drops, without emitting anything (padded rows included), the rows of
 * every key in a revoked partition, on both sides. One pass over the keys
 * plus O(log n) per dropped row; allocates nothing, returns RN_OK. */
static rn_err_t ij_forget_partitions(rn_op_t *op, int32_t nparts, const uint8_t *revoked)
{
    ijoin_t *j = op->priv;
    for (int s = 0; s < 2; s++) rn_store_forget_partitions(j->side[s].store, nparts, revoked);
    return RN_OK;
}

/* ---- snapshot and restore (format in the note at the top) ------------------ */

#define IJ_SNAP_MAGIC "RNIJ"
#define IJ_SNAP_VERSION 2u

/* The plan-fixed header, written and checked alike. */
static void ij_put_header(const ijoin_t *j, rn_buf_t *out)
{
    rn_buf_append(out, IJ_SNAP_MAGIC, 4);
    rn_snap_put_u32(out, IJ_SNAP_VERSION);
    rn_snap_put_u8(out, (uint8_t)j->kind);
    rn_snap_put_u32(out, (uint32_t)j->nkeys);
    for (int k = 0; k < j->nkeys; k++) {
        rn_snap_put_u32(out, (uint32_t)j->side[0].keys[k]);
        rn_snap_put_u32(out, (uint32_t)j->side[1].keys[k]);
    }
    rn_snap_put_u32(out, (uint32_t)j->side[0].time_col);
    rn_snap_put_u32(out, (uint32_t)j->side[1].time_col);
    rn_snap_put_u64(out, (uint64_t)j->lower);
    rn_snap_put_u64(out, (uint64_t)j->upper);
    rn_snap_put_u32(out, (uint32_t)j->side[0].ncols);
    rn_snap_put_u32(out, (uint32_t)j->side[1].ncols);
}

/* Whether a snapshot filtered by parts (NULL: every key) takes the key
 * k[0..klen): its partition as rn_store_forget_partitions computes it. */
static bool ij_takes(const rn_part_filter_t *parts, const void *k, uint32_t klen)
{
    return !parts || (parts->nparts > 0 && parts->parts[rn_key_partition(k, klen, parts->nparts)]);
}

static rn_err_t ij_snapshot(const rn_op_t *op, rn_buf_t *out, const rn_part_filter_t *parts)
{
    const ijoin_t *j = op->priv;
    ij_put_header(j, out);
    rn_snap_put_u64(out, (uint64_t)op->watermark);
    rn_snap_put_u64(out, (uint64_t)j->outwm);
    rn_snap_put_u64(out, j->seq);
    rn_snap_put_u64(out, (uint64_t)ij_port_wm(op, 0));
    rn_snap_put_u64(out, (uint64_t)ij_port_wm(op, 1));
    rn_buf_t vals;
    rn_buf_init(&vals);
    for (int s = 0; s < 2 && !vals.oom && !out->oom; s++) {
        const ij_side_t *sd = &j->side[s];
        size_t at = out->len; /* the key count, written once known */
        rn_snap_put_u64(out, 0);
        uint64_t nkeys = 0;
        size_t pos = 0;
        const ij_key_t *e;
        while ((e = rn_store_next(sd->store, &pos))) {
            if (e->n == 0) continue; /* left over by an OOM in ij_drop_row */
            uint32_t klen;
            const void *k = rn_store_key_of(sd->store, e, &klen);
            if (!ij_takes(parts, k, klen)) continue;
            nkeys++;
            rn_snap_put_bytes(out, k, klen);
            rn_snap_put_u32(out, e->n);
            for (uint32_t i = e->head; i < e->head + e->n; i++) {
                const ij_row_t *row = e->rows[i].row;
                rn_snap_put_u64(out, row->seq);
                rn_snap_put_u8(out, row->matched);
                rn_buf_clear(&vals);
                for (int c = 0; c < sd->ncols; c++)
                    rn_key_append(&vals, sd->schema->cols[c].type->id, &row->vals[c]);
                if (vals.oom) break;
                rn_snap_put_bytes(out, vals.data, (uint32_t)vals.len);
            }
        }
        if (vals.oom || out->oom) break;
        for (int i = 0; i < 8; i++) out->data[at + (size_t)i] = (char)(unsigned char)(nkeys >> (8 * i));
    }
    bool oom = vals.oom || out->oom;
    rn_buf_free(&vals);
    return oom ? RN_ERR_NOMEM : RN_OK;
}

/* Reads the rows of one key entry (key bytes k) of side si; *added is set
 * once its entry was created (the caller's to remove on failure). A key
 * the side holds already fails with RN_ERR_DECODE, *added false. */
static rn_err_t ij_read_key(ijoin_t *j, rn_snap_reader_t *r, int si, const void *k, uint32_t klen,
                            uint64_t seq_max, rn_value_t *vals, bool *added)
{
    ij_side_t *s = &j->side[si];
    *added = false;
    uint64_t h = rn_hash_bytes(k, klen, 0);
    uint32_t n = rn_snap_u32(r);
    if (r->bad || n == 0 || n > r->len - r->off) return RN_ERR_DECODE;
    const ij_key_t *held = rn_store_peek(s->store, k, klen, h);
    if (held && held->n) return RN_ERR_DECODE; /* held already, or twice in the snapshot */
    for (uint32_t i = 0; i < n; i++) {
        uint64_t seq = rn_snap_u64(r);
        uint8_t matched = rn_snap_u8(r);
        uint32_t vlen;
        const void *v = rn_snap_bytes(r, &vlen);
        if (r->bad || seq >= seq_max || matched > 1) return RN_ERR_DECODE;
        uint32_t off = 0;
        for (int c = 0; c < s->ncols; c++)
            if (!rn_key_read(v, vlen, &off, s->schema->cols[c].type->id, &vals[c])) return RN_ERR_DECODE;
        if (off != vlen || vals[s->time_col].null) return RN_ERR_DECODE;
        rn_buf_clear(&j->key);
        for (int kk = 0; kk < j->nkeys; kk++) {
            const rn_value_t *kv = &vals[s->keys[kk]];
            if (kv->null) return RN_ERR_DECODE;
            rn_key_append(&j->key, s->schema->cols[s->keys[kk]].type->id, kv);
        }
        if (j->key.oom) return RN_ERR_NOMEM;
        if (j->key.len != klen || (klen && memcmp(j->key.data, k, klen) != 0)) return RN_ERR_DECODE;
        ij_row_t *row = ij_row_alloc(s, vals);
        if (!row) return RN_ERR_NOMEM;
        row->time = vals[s->time_col].i;
        row->seq = seq;
        row->matched = matched;
        rn_err_t err = ij_store_row(j, si, row, j->key.data, (uint32_t)j->key.len, h);
        if (err != RN_OK) return err;
        *added = true;
    }
    return RN_OK;
}

/* Undoes a failed restore: reads the key entries again from r (just past
 * the operator-wide values) and removes the first added[s] of each side,
 * the ones the restore created (their rows leave the heaps with them).
 * Those bytes were read once already, so this cannot fail. */
static void ij_unrestore(ijoin_t *j, rn_snap_reader_t *r, const uint64_t added[2])
{
    for (int s = 0; s < 2; s++) {
        /* side 0 is read through when side 1 has entries to remove */
        uint64_t upto = s == 0 && added[1] > 0 ? UINT64_MAX : added[s];
        if (upto == 0) break;
        uint64_t nkeys = rn_snap_u64(r);
        for (uint64_t e = 0; e < nkeys && e < upto && !r->bad; e++) {
            uint32_t klen, len;
            const void *k = rn_snap_bytes(r, &klen);
            if (e < added[s]) rn_store_remove(j->side[s].store, k, klen, rn_hash_bytes(k, klen, 0));
            uint32_t n = rn_snap_u32(r);
            for (uint32_t i = 0; i < n && !r->bad; i++) {
                rn_snap_u64(r);
                rn_snap_u8(r);
                rn_snap_bytes(r, &len);
            }
        }
    }
}

/* Adds the snapshot's key entries to those the operator holds and merges
 * its operator-wide values; on failure removes the entries it added. */
static rn_err_t ij_restore(rn_op_t *op, const void *data, size_t len)
{
    ijoin_t *j = op->priv;
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, data, len);
    rn_buf_t hdr;
    rn_buf_init(&hdr);
    ij_put_header(j, &hdr);
    if (hdr.oom) {
        rn_buf_free(&hdr);
        return RN_ERR_NOMEM;
    }
    bool same = rn_snap_have(&r, hdr.len) && memcmp(r.p, hdr.data, hdr.len) == 0;
    r.off += same ? hdr.len : 0;
    rn_buf_free(&hdr);
    if (!same) return RN_ERR_DECODE;
    int64_t wm = (int64_t)rn_snap_u64(&r), outwm = (int64_t)rn_snap_u64(&r);
    uint64_t seq = rn_snap_u64(&r);
    int64_t port_wm[2] = {(int64_t)rn_snap_u64(&r), (int64_t)rn_snap_u64(&r)};
    if (r.bad) return RN_ERR_DECODE;
    int maxcols = j->side[0].ncols > j->side[1].ncols ? j->side[0].ncols : j->side[1].ncols;
    rn_value_t *vals = rn_malloc(sizeof *vals * (size_t)(maxcols ? maxcols : 1));
    if (!vals) return RN_ERR_NOMEM;
    rn_snap_reader_t body = r; /* where ij_unrestore reads again */
    uint64_t added[2] = {0, 0};
    rn_err_t err = RN_OK;
    for (int s = 0; s < 2 && err == RN_OK; s++) {
        uint64_t nkeys = rn_snap_u64(&r);
        if (r.bad) err = RN_ERR_DECODE;
        for (uint64_t e = 0; e < nkeys && err == RN_OK; e++) {
            uint32_t klen;
            const void *k = rn_snap_bytes(&r, &klen);
            bool created = false;
            err = r.bad ? RN_ERR_DECODE : ij_read_key(j, &r, s, k, klen, seq, vals, &created);
            added[s] += created;
        }
    }
    rn_free(vals);
    if (err == RN_OK && !rn_snap_done(&r)) err = RN_ERR_DECODE;
    if (err != RN_OK) {
        ij_unrestore(j, &body, added);
        return err;
    }
    if (op->watermark == RN_WM_MIN) op->watermark = wm;
    if (j->outwm == RN_WM_MIN) j->outwm = outwm;
    for (int p = 0; p < 2; p++)
        if (ij_port_wm(op, p) == RN_WM_MIN) j->port_floor[p] = port_wm[p];
    if (seq > j->seq) j->seq = seq;
    return RN_OK;
}

static const rn_op_vtable_t ij_vtable = {
    .kind = "IntervalJoin",
    .process = ij_process,
    .finish = ij_finish,
    .explain = ij_explain,
    .destroy = ij_destroy,
    .watermark = ij_watermark,
    .held_since = ij_held_since,
    .state_size = ij_state_size,
    .snapshot = ij_snapshot,
    .restore = ij_restore,
    .forget_partitions = ij_forget_partitions,
};

/* ---- construction ---------------------------------------------------------- */

/* Checks the spec; returns an error message or NULL. */
static const char *ij_check(const rn_op_t *left, const rn_op_t *right,
                            const rn_interval_join_spec_t *spec, const rn_schema_t *out)
{
    if (!left || !right || !spec) return "interval join needs two inputs and a spec";
    const rn_schema_t *ls = left->schema, *rs = right->schema;
    if (left->updating || right->updating) return "an interval join needs insert-only inputs";
    if ((unsigned)spec->kind > RN_JOIN_KIND_FULL) return "unknown join kind";
    if (spec->nkeys < 0 || (spec->nkeys > 0 && (!spec->left_keys || !spec->right_keys)))
        return "bad join keys";
    for (int k = 0; k < spec->nkeys; k++) {
        int lk = spec->left_keys[k], rk = spec->right_keys[k];
        if (lk < 0 || lk >= ls->ncols || rk < 0 || rk >= rs->ncols) return "join key column out of range";
        if (ls->cols[lk].type->id != rs->cols[rk].type->id) return "join key types differ";
    }
    if (spec->left_time < 0 || spec->left_time >= ls->ncols || spec->right_time < 0 ||
        spec->right_time >= rs->ncols)
        return "interval join time column out of range";
    rn_type_id lt = ls->cols[spec->left_time].type->id, rt = rs->cols[spec->right_time].type->id;
    if ((lt != RN_TYPE_TIMESTAMP && lt != RN_TYPE_TIMESTAMP_LTZ) ||
        (rt != RN_TYPE_TIMESTAMP && rt != RN_TYPE_TIMESTAMP_LTZ))
        return "interval join time columns must be TIMESTAMP or TIMESTAMP_LTZ";
    if (spec->lower_ms > spec->upper_ms) return "interval join lower bound above the upper bound";
    if (!out || out->ncols != ls->ncols + rs->ncols)
        return "interval join output must have the left columns then the right columns";
    for (int c = 0; c < out->ncols; c++) {
        const rn_type_t *want = c < ls->ncols ? ls->cols[c].type : rs->cols[c - ls->ncols].type;
        if (out->cols[c].type->id != want->id)
            return "interval join output column types differ from the inputs'";
    }
    if (spec->residual && spec->residual->type->id != RN_TYPE_BOOLEAN)
        return "join condition must be BOOLEAN";
    return NULL;
}

rn_op_t *rn_interval_join_new(rn_op_t *left, rn_op_t *right, const rn_interval_join_spec_t *spec,
                              rn_schema_t *out_schema, char *errbuf, size_t errbuf_size)
{
    const char *bad = ij_check(left, right, spec, out_schema);
    if (bad) {
        snprintf(errbuf, errbuf_size, "%s", bad);
        return NULL;
    }
    rn_op_t *op = NULL;
    ijoin_t *j = rn_calloc(1, sizeof *j);
    if (!j) goto oom;
    j->kind = spec->kind;
    j->nkeys = spec->nkeys;
    j->lower = spec->lower_ms;
    j->upper = spec->upper_ms;
    int64_t al = abs_sat(spec->lower_ms), au = abs_sat(spec->upper_ms);
    j->margin = al > au ? al : au;
    j->residual = spec->residual;
    j->outwm = RN_WM_MIN;
    j->port_floor[0] = j->port_floor[1] = RN_WM_MIN;
    rn_buf_init(&j->key);
    const rn_op_t *in[2] = {left, right};
    const int *keys[2] = {spec->left_keys, spec->right_keys};
    for (int s = 0; s < 2; s++) {
        ij_side_t *sd = &j->side[s];
        sd->schema = rn_schema_ref(in[s]->schema);
        sd->ncols = in[s]->schema->ncols;
        sd->time_col = s == 0 ? spec->left_time : spec->right_time;
        sd->outer = spec->kind == RN_JOIN_KIND_FULL ||
                    spec->kind == (s == 0 ? RN_JOIN_KIND_LEFT : RN_JOIN_KIND_RIGHT);
        rn_heap_init(&sd->heap, ij_row_less, offsetof(ij_row_t, hidx));
        rn_pool_init(&sd->pool, 0);
        sd->keys = rn_malloc(sizeof *sd->keys * (size_t)(spec->nkeys ? spec->nkeys : 1));
        if (!sd->keys) goto oom;
        if (spec->nkeys) memcpy(sd->keys, keys[s], sizeof *sd->keys * (size_t)spec->nkeys);
        sd->store = rn_store_new(s == 0 ? "interval-join-left" : "interval-join-right",
                                 sizeof(ij_key_t), ij_key_free, sd);
        if (!sd->store) goto oom;
    }
    op = rn_op_new(&ij_vtable, out_schema, NULL);
    if (!op) goto oom;
    op->priv = j;
    if (rn_op_connect(left, op, 0) != RN_OK) goto oom;
    if (rn_op_connect(right, op, 1) != RN_OK) {
        left->noutputs--; /* undo the first edge */
        goto oom;
    }
    return op;
oom:
    if (op) rn_op_free(op); /* frees j */
    else ij_free(j);
    snprintf(errbuf, errbuf_size, "out of memory creating an interval join");
    return NULL;
}

size_t rn_interval_join_rows(const rn_op_t *op, int port)
{
    const ijoin_t *j = op->priv;
    return port == 0 || port == 1 ? j->side[port].nrows : 0;
}
