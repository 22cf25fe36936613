/*
 * window.c - window aggregates over event time: TUMBLE, HOP and SESSION
 * (Flink's WindowAggregate), as specified in docs/event-time.md.
 *
 * State. A TUMBLE or HOP window is one rn_store entry keyed by the
 * serialized (window_start, group key); its slot holds a win_t with one
 * accumulator per aggregate. Sessions are per key: one rn_store entry per
 * serialized PARTITION BY key holds the key's sessions as an array sorted
 * by start (sessions of a key are disjoint, so it is sorted by end too);
 * each session is one allocation. A new window or session costs one
 * allocation; rows for existing ones cost none (amortized scratch buffers
 * only), except where an aggregate itself must grow (a new distinct value,
 * a longer string). The accumulators are op/accum.h's, shared with
 * GroupAggregate, in their mergeable form: COUNT(DISTINCT) keeps its set of
 * values and FIRST_VALUE/LAST_VALUE the arrival sequence of their value, so
 * that sessions merge.
 *
 * Firing order. Windows that have not fired are ordered by (end, creation
 * sequence), so results come out by window_end and then in creation
 * order, never in hash-table order: TUMBLE/HOP/GIVEN windows in buckets,
 * one per distinct end, each a list in creation order (see "pending
 * windows"), sessions in an indexed min-heap. Fired windows
 * kept for late updates (allowed lateness L > 0) sit in a second heap by
 * end until the watermark passes end + L; with L = 0 a window is freed as
 * soon as it fires. Sessions also sit in a heap by (start, creation) while
 * unfired, which answers held_since. The heaps are core/heap.h's indexed
 * heaps: each window keeps its position in every heap (win_t.*_at), so a
 * session whose bounds move is re-sifted in place and a merged-away session
 * is removed at once (no lazy invalidation).
 *
 * Rows. A row is late when batch->rowwm is set and rowtime < rowwm - L (a
 * NULL rowtime, which the source should have sent to the dead-letter
 * output, is treated as late too: counted and routed, never dropped
 * silently). Late rows touch no window; they are counted and, if a late
 * output is set, passed to it as a batch of the input schema. Accepted
 * rows get an arrival sequence number, so FIRST_VALUE/LAST_VALUE keep
 * arrival order across session merges.
 *
 * Emission (output is updating iff L > 0 or early firing is on; an
 * updating window keeps its last emitted result serialized, for -U and for
 * detecting "unchanged"):
 *  - Final firing, when the watermark reaches end: +I, or -U/+U if an early
 *    firing already emitted a different result, or nothing if unchanged.
 *  - Early firing, every early_fire_ms of processing time (measured from
 *    the first call the operator sees): each unfired window changed since
 *    its last emission emits +I the first time, -U/+U afterwards.
 *  - Late updates: a fired window not yet freed that accepts rows emits, at
 *    the end of the input batch, one -U(old)/+U(new) pair if its result
 *    changed. A window first created behind the watermark (an accepted row
 *    with W - L <= rowtime, its window already closed) fires at the end of
 *    that batch with +I.
 *  - Sessions with lateness or early firing. The emitted row of a session
 *    is identified by its (window_start, window_end), the key of an upsert
 *    sink. When a session whose row is out downstream changes its bounds
 *    (a row extends it, or a bridging row merges it with others), that row
 *    is retracted with -D (a merged-away session's -D is emitted when the
 *    merge happens; the surviving session's at the end of the batch) and
 *    the session becomes unfired again: the merged session is emitted with
 *    +I when the watermark reaches its new end, at the end of the batch if
 *    it already has. A row that changes an emitted session's aggregates but
 *    not its bounds gives -U/+U as for other windows. So an upsert sink
 *    keyed by (window_start, window_end, keys) always holds exactly the
 *    current sessions.
 * Given windows (RN_WINDOW_GIVEN): a window aggregate over a relation whose
 * rows already carry their window (window rows, or another window
 * aggregate's output): a row belongs to [start_col, time_col) as it says,
 * its rowtime is window_end - 1 (for lateness and held_since), and windows
 * are kept and fired exactly like TUMBLE windows, keyed by (start, end,
 * group key) since windows of one start may differ in length.
 * Revoked partitions (forget_partitions, docs/scale-out.md): the windows
 * or sessions of keys in partitions the consumer group took away are
 * dropped silently, wherever they are (pending, retained, early-emitted),
 * their heap entries with them; the partitions' new owner rebuilds and
 * emits them. A window's partition is that of its key bytes after the
 * window start, the group key as the Exchange serialized it.
 * Rows are emitted in batches of growing size (16 rows, doubling up to
 * RN_BATCH_MAX) from ctx->arena.
 *
 * Snapshot (window_snapshot/window_restore), little-endian and
 * length-prefixed (state/snapshot.h), no pointers; between batches only:
 *   "RNWA", u32 version (1), u8 kind, u32 time_col, u64 size, slide,
 *   offset, lateness, early-fire delay, u32 nkeys, u32 naggs, naggs x u8
 *   aggregate kind                     (restore checks these match)
 *   u64 watermark (op->watermark), u64 seq (arrival sequence), u64 created
 *   (creation counter), u64 late rows, u8 early firing started, u64 time of
 *   the last early firing
 *   u64 entries, then per entry:
 *     TUMBLE/HOP: bytes key (BIGINT window start, then the group key), a
 *       window record; GIVEN: the same with BIGINT window end after the start
 *     SESSION: bytes key (the PARTITION BY key), u32 n (> 0), n window
 *       records by start
 *   window record: u64 start, end, pstart, pend (bounds of the row out
 *     downstream), u64 created, u8 flags (1 fired, 2 emitted, 4 dirty),
 *     bytes prev (the last emitted result as win_serialize writes it;
 *     empty unless the output is updating), then per aggregate
 *     rn_accum_encode's bytes (op/accum.h, mergeable: COUNT(DISTINCT) with
 *     its values, FIRST/LAST with their sequence)
 * A fired window is retained (for late updates), an unfired one pending;
 * the heaps are rebuilt from that and the creation numbers, so firing order
 * is as before. Restore checks that keys decode as their columns and hold
 * the window's start, that TUMBLE/HOP ends are start + size, that a key's
 * sessions are ordered and disjoint, results and accumulators decode,
 * creation numbers are below the counter, and nothing is duplicated, short
 * or left over; else RN_ERR_DECODE. The touched list and the batch epoch
 * are per batch and not written.
 * Partitions (docs/checkpoints.md, "Which keys"). A snapshot given a
 * partition filter writes only the entries whose key falls in a marked
 * partition, the partition being forget_partitions' (win_entry_partition:
 * the group key after the window start[, end]; a session's whole key), and
 * the entry count says how many; the operator-wide values are written
 * whole. Restore is a merge: it adds the snapshot's windows or sessions to
 * those the operator holds (a fresh operator, or one holding other
 * partitions' keys); an entry whose key the operator already holds is
 * RN_ERR_DECODE (a key lives in one partition, so one task's snapshot).
 * Operator-wide values merge: the watermark is taken only by an operator
 * that has none (RN_WM_MIN); the arrival and creation counters take the
 * maximum, so rows and windows after the restore come after every
 * restored one (FIRST/LAST_VALUE keep arrival order; creation numbers of
 * keys restored from different snapshots may coincide, which orders their
 * equal-ended windows arbitrarily, but never those of one key, which come
 * from one snapshot); the late-row count is the larger of the two (every
 * partition's snapshot carries the operator's whole count: adding would
 * count it once per partition; a metric, not a key's state); the
 * early-firing clock takes the later last firing. The restored windows
 * join the heaps, so held_since and firing order cover them at once (one
 * that is due under the operator's watermark fires at the next batch or
 * watermark: restore emits nothing). A
 * restore that fails removes the entries it added and merges nothing: the
 * operator holds what it held.
 */
#include "core/assert.h"
#include "core/hash.h"
#include "core/heap.h"
#include "core/mem.h"
#include "core/timeparse.h"
#include "op/accum.h"
#include "op/op.h"
#include "state/snapshot.h"
#include "state/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WIN_PENDING, WIN_RETAINED, WIN_BY_START, WIN_NHEAPS };

typedef struct sess_key sess_key_t;

typedef struct win {
    int64_t start;              /* window_start; SESSION: first rowtime */
    int64_t end;                /* window_end; SESSION: last rowtime + gap */
    int64_t pstart, pend;       /* bounds of the row out downstream (while emitted) */
    uint64_t created;           /* creation sequence: breaks ties in firing order */
    uint64_t epoch;             /* input batch in which it was put on the touched list */
    uint64_t hash;              /* TUMBLE/HOP: hash of its store key */
    /* Positions in the heaps (RN_HEAP_NOWHERE when not in one). Only
     * sessions sit in the WIN_PENDING and WIN_BY_START heaps; other
     * windows use those bytes for their end bucket's list. */
    size_t retained_at;         /* in the WIN_RETAINED heap */
    union {
        size_t session_at[2];   /* SESSION: in the WIN_PENDING, WIN_BY_START heaps */
        struct {
            struct win *qprev, *qnext; /* TUMBLE/HOP/GIVEN: neighbours in its end bucket */
        };
    };
    size_t touched_at;          /* index in the touched list while epoch is current */
    sess_key_t *owner;          /* SESSION: the key entry listing it */
    uint8_t fired;              /* final result emitted; only late updates from now on */
    uint8_t emitted;            /* a row for it is out downstream, not retracted */
    uint8_t dirty;              /* accumulators changed since the last emission */
    uint8_t queued;             /* TUMBLE/HOP/GIVEN: in an end bucket (pending) */
    rn_buf_t prev;              /* last emitted result, serialized (updating output only) */
    rn_accum_t acc[];           /* one per aggregate (op/accum.h) */
} win_t;

/* TUMBLE/HOP/GIVEN: the pending windows of one end, by creation. */
typedef struct win_bucket {
    int64_t end;
    win_t *head, *tail;
} win_bucket_t;

struct sess_key {
    win_t **s;                  /* sessions of the key by start (disjoint, so by end too) */
    int n;                      /* sessions held */
    int cap;                    /* room in s */
};

typedef struct win_agg {
    rn_window_spec_t w;         /* kind, sizes, lateness, early firing */
    int nkeys;                  /* key columns: input columns 0..nkeys-1 */
    int naggs;
    rn_agg_spec_t *aggs;        /* naggs specs (owned copy) */
    const rn_schema_t *in_schema;
    bool updating;              /* output carries -U/+U/-D: keep emitted results */
    rn_op_t *late;              /* where late rows go (not owned), or NULL */
    uint64_t late_rows;         /* late rows seen */
    rn_store_t *windows;        /* TUMBLE/HOP: (start, key) -> win_t */
    rn_store_t *keys;           /* SESSION: key -> sess_key_t */
    size_t nsessions;           /* SESSION: sessions held */
    size_t peak_open;           /* most windows (sessions) held after a batch's rows went in */
    size_t win_size;            /* bytes of a win_t with its accumulators */
    rn_heap_t heaps[WIN_NHEAPS]; /* pending (unfired) sessions by end (other windows: the
                                   * buckets), retained (fired) by end, unfired sessions by
                                   * start */
    win_bucket_t *ring;         /* TUMBLE/HOP pending windows: buckets by end on the grid */
    size_t ring_cap;            /* slots in ring (a power of two), 0: no ring */
    int64_t ring_lo, ring_hi;   /* least and greatest end in the ring (while npending) */
    bool ring_off;              /* TUMBLE/HOP ends too far apart for a ring: the array, for good */
    win_bucket_t *bk;           /* GIVEN pending windows (TUMBLE/HOP when ring_off): buckets by end, ascending */
    size_t bk_first, bk_n;      /* live buckets: bk[bk_first..bk_n), some maybe empty */
    size_t bk_cap;              /* room in bk */
    size_t npending;            /* windows in the buckets */
    uint64_t seq;               /* arrival sequence of accepted rows */
    uint64_t created;           /* windows created so far */
    uint64_t epoch;             /* input batches processed */
    win_t **touched;            /* emitted windows changed in the current batch */
    size_t ntouched;
    size_t touched_cap;
    bool early_started;         /* last_early is set */
    int64_t last_early;         /* processing time of the last early firing */
    rn_buf_t key;               /* scratch: serialized group key of the current row */
    uint64_t key_hash;          /* TUMBLE/HOP/GIVEN: rn_hash_bytes of a->key */
    rn_buf_t wkey;              /* scratch: window store key (win_prefix bytes for the bounds,
                                 * then a->key); copy of a key being removed */
    rn_buf_t res;               /* scratch: serialized result (swapped with win_t.prev) */
    rn_accum_ctx_t acx;         /* accumulators: mergeable, no multisets */
} win_agg_t;

/* ---- arithmetic ------------------------------------------------------- */

/* Whether a fired window ending at end may be freed under watermark wm. */
static bool win_freeable(const win_agg_t *a, int64_t end, int64_t wm)
{
    return wm >= INT64_MIN + a->w.lateness_ms && end <= wm - a->w.lateness_ms;
}

/* ---- window store keys ---------------------------------------------------- */

/* Bytes before the group key in a TUMBLE/HOP window's store key: its start
 * as rn_key_append writes a BIGINT (tag and 8 bytes); GIVEN: then its end. */
static size_t win_prefix(const win_agg_t *a) { return a->w.kind == RN_WINDOW_GIVEN ? 18 : 9; }

/* The store hash of window [start, end) of the group key whose bytes hash
 * to key_hash: the key is hashed once per row, not once per window of a
 * HOP, and its windows' hashes are mixed from it (a 64-bit finalizer, so
 * every bit of the bounds reaches the table's index and tag bits). */
static uint64_t win_hash(uint64_t key_hash, int64_t start, int64_t end)
{
    return rn_hash_u64(key_hash ^ ((uint64_t)start * 0x9E3779B97F4A7C15ull) ^
                       ((uint64_t)end * 0xC2B2AE3D27D4EB4Full));
}

/* The store hash of a TUMBLE/HOP/GIVEN window key as the store holds it
 * (win_get's); false if the key is too short to hold its bounds. */
static bool win_key_hash(const win_agg_t *a, const void *key, uint32_t klen, uint64_t *out)
{
    size_t pre = win_prefix(a);
    if (klen < pre) return false;
    const unsigned char *k = key;
    int64_t start, end;
    memcpy(&start, k + 1, 8);
    if (a->w.kind == RN_WINDOW_GIVEN) memcpy(&end, k + 10, 8);
    else end = rn_time_add_sat(start, a->w.size_ms);
    *out = win_hash(rn_hash_bytes(k + pre, klen - pre, 0), start, end);
    return true;
}

/* ---- firing heaps (core/heap.h) ---------------------------------------- */

/* Pending and retained windows: by (end, creation). */
static bool win_less_by_end(const void *x, const void *y)
{
    const win_t *a = x, *b = y;
    if (a->end != b->end) return a->end < b->end;
    return a->created < b->created;
}

/* Unfired sessions: by (start, creation). */
static bool win_less_by_start(const void *x, const void *y)
{
    const win_t *a = x, *b = y;
    if (a->start != b->start) return a->start < b->start;
    return a->created < b->created;
}

/* ---- pending windows -------------------------------------------------------
 * Unfired sessions sit in the WIN_PENDING heap. TUMBLE/HOP/GIVEN windows
 * share a few ends (one per slide on the grid), so they sit in buckets
 * instead, one per distinct end, each a list in creation order: a new
 * window is created after every window held, so it goes at its bucket's
 * tail; firing takes the first bucket's head. Firing touches only the
 * windows it fires (a heap's sift moved windows all over memory: 15% of
 * Nexmark q5).
 *
 * TUMBLE/HOP ends lie on a grid (offset + k * step, step the size or the
 * slide), so their buckets are a ring indexed by k: O(1) in and out.
 * Ends that the ring cannot hold (more than WIN_RING_MAX steps between the
 * least and the greatest, or off the grid at the time range's edges) and
 * GIVEN windows' ends, which follow no grid, go into a sorted array
 * instead (a binary search, and a memmove to open a new end in the
 * middle: with partitions hours of event time apart, 5% of the tumble
 * query over Kafka before the ring). */

#define WIN_RING_MIN 64
#define WIN_RING_MAX 65536

static bool win_bucketed(const win_agg_t *a) { return a->w.kind != RN_WINDOW_SESSION; }

/* Marks w as in no heap and no bucket. */
static void win_unplaced(const win_agg_t *a, win_t *w)
{
    w->retained_at = RN_HEAP_NOWHERE;
    if (win_bucketed(a)) {
        w->qprev = w->qnext = NULL;
        w->queued = 0;
    } else {
        w->session_at[0] = w->session_at[1] = RN_HEAP_NOWHERE;
    }
}

static int64_t ring_step(const win_agg_t *a)
{
    return a->w.kind == RN_WINDOW_HOP ? a->w.slide_ms : a->w.kind == RN_WINDOW_TUMBLE ? a->w.size_ms : 0;
}

/* k of an end offset + k * step; false if end is not on the grid. */
static bool ring_k(const win_agg_t *a, int64_t end, int64_t *k)
{
    int64_t step = ring_step(a), d;
    if (step <= 0 || __builtin_sub_overflow(end, a->w.offset_ms, &d) || d % step) return false;
    *k = d / step;
    return true;
}

/* The ring's bucket of end (on the grid, within the ring's span). */
static win_bucket_t *ring_at(const win_agg_t *a, int64_t end)
{
    int64_t k = (end - a->w.offset_ms) / ring_step(a);
    return &a->ring[(uint64_t)k & (a->ring_cap - 1)];
}

/* The index of the first live bucket with end >= end (bk_n if none). */
static size_t bk_search(const win_agg_t *a, int64_t end)
{
    size_t lo = a->bk_first, hi = a->bk_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->bk[mid].end < end) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Makes room for n more buckets. Returns RN_OK or RN_ERR_NOMEM. */
static rn_err_t bk_reserve(win_agg_t *a, size_t n)
{
    if (a->bk_first > 0 && a->bk_n + n > a->bk_cap) { /* slide the live ones down first */
        memmove(a->bk, a->bk + a->bk_first, sizeof *a->bk * (a->bk_n - a->bk_first));
        a->bk_n -= a->bk_first;
        a->bk_first = 0;
    }
    if (a->bk_n + n <= a->bk_cap) return RN_OK;
    size_t cap = a->bk_cap ? a->bk_cap : 8;
    while (cap < a->bk_n + n) cap *= 2;
    win_bucket_t *b = rn_realloc(a->bk, sizeof *b * cap);
    if (!b) return RN_ERR_NOMEM;
    a->bk = b;
    a->bk_cap = cap;
    return RN_OK;
}

static rn_err_t pending_rebuild(win_agg_t *a, win_t *const *add, size_t n, const int64_t *also_end);

/* Makes room so that pushing a window of end next cannot fail. */
static rn_err_t pending_reserve(win_agg_t *a, int64_t end)
{
    if (!win_bucketed(a)) return rn_heap_reserve(&a->heaps[WIN_PENDING], 1);
    if (!a->ring && !a->ring_off && ring_step(a) > 0 && !a->npending) {
        if (!(a->ring = rn_calloc(WIN_RING_MIN, sizeof *a->ring))) return RN_ERR_NOMEM;
        a->ring_cap = WIN_RING_MIN;
    }
    if (!a->ring) return bk_reserve(a, 1);
    int64_t k, klo, khi;
    if (ring_k(a, end, &k) && ring_k(a, a->npending ? a->ring_lo : end, &klo) &&
        ring_k(a, a->npending ? a->ring_hi : end, &khi)) {
        if (k < klo) klo = k;
        if (k > khi) khi = k;
        if ((uint64_t)khi - (uint64_t)klo < a->ring_cap) return RN_OK;
    }
    return pending_rebuild(a, NULL, 0, &end); /* a larger ring, or the array */
}

/* Queues unfired window w, created after every window queued with its end
 * (restore: pending_rebuild); room was reserved. */
static void pending_push(win_agg_t *a, win_t *w)
{
    if (!win_bucketed(a)) {
        rn_heap_push(&a->heaps[WIN_PENDING], w);
        return;
    }
    win_bucket_t *b;
    if (a->ring) {
        b = ring_at(a, w->end);
        if (!b->head) b->end = w->end;
        RN_ASSERT(b->end == w->end);
        if (!a->npending || w->end < a->ring_lo) a->ring_lo = w->end;
        if (!a->npending || w->end > a->ring_hi) a->ring_hi = w->end;
    } else {
        size_t i = bk_search(a, w->end);
        if (i == a->bk_n || a->bk[i].end != w->end) {
            RN_ASSERT(a->bk_n < a->bk_cap);
            memmove(a->bk + i + 1, a->bk + i, sizeof *a->bk * (a->bk_n - i));
            a->bk[i] = (win_bucket_t){.end = w->end};
            a->bk_n++;
        }
        b = &a->bk[i];
    }
    RN_ASSERT(!b->tail || b->tail->created <= w->created);
    w->qprev = b->tail;
    w->qnext = NULL;
    if (b->tail) b->tail->qnext = w;
    else b->head = w;
    b->tail = w;
    w->queued = 1;
    a->npending++;
}

/* Takes w out of the pending windows, if it is there. */
static void pending_remove(win_agg_t *a, win_t *w)
{
    if (!win_bucketed(a)) {
        rn_heap_remove(&a->heaps[WIN_PENDING], w);
        return;
    }
    if (!w->queued) return;
    win_bucket_t *b;
    if (a->ring) {
        b = ring_at(a, w->end);
    } else {
        size_t i = bk_search(a, w->end);
        RN_ASSERT(i < a->bk_n && a->bk[i].end == w->end);
        b = &a->bk[i];
    }
    if (w->qprev) w->qprev->qnext = w->qnext;
    else b->head = w->qnext;
    if (w->qnext) w->qnext->qprev = w->qprev;
    else b->tail = w->qprev;
    w->qprev = w->qnext = NULL;
    w->queued = 0;
    a->npending--;
    if (a->ring) {
        /* The first end moves on to the next bucket that holds windows. */
        if (a->npending && w->end == a->ring_lo && !b->head) {
            int64_t step = ring_step(a);
            do a->ring_lo += step;
            while (!ring_at(a, a->ring_lo)->head);
        }
        return;
    }
    /* Empty buckets in front go; one further in stays until it is in front. */
    while (a->bk_first < a->bk_n && !a->bk[a->bk_first].head) a->bk_first++;
    if (a->bk_first == a->bk_n) a->bk_first = a->bk_n = 0;
}

/* The pending window that fires first: least end, then creation. */
static win_t *pending_top(const win_agg_t *a)
{
    if (!win_bucketed(a)) return rn_heap_top(&a->heaps[WIN_PENDING]);
    if (a->ring) return a->npending ? ring_at(a, a->ring_lo)->head : NULL;
    return a->bk_first < a->bk_n ? a->bk[a->bk_first].head : NULL;
}

/* Puts the pending TUMBLE/HOP/GIVEN windows into out in firing order (end,
 * then creation); out has room for npending. Returns how many. */
static size_t pending_list(const win_agg_t *a, win_t **out)
{
    size_t k = 0;
    if (a->ring) {
        for (int64_t e = a->ring_lo; k < a->npending && e <= a->ring_hi; e += ring_step(a)) {
            const win_bucket_t *b = ring_at(a, e);
            if (b->head && b->end == e)
                for (win_t *w = b->head; w; w = w->qnext) out[k++] = w;
        }
    } else {
        for (size_t i = a->bk_first; i < a->bk_n; i++)
            for (win_t *w = a->bk[i].head; w; w = w->qnext) out[k++] = w;
    }
    return k;
}

static int win_cmp_end(const void *x, const void *y);

/* Queues the pending windows held and the n unfired windows of add
 * together, in (end, creation) order (restore: creation numbers of
 * restored windows interleave with those held), in a ring wide enough
 * for them and *also_end (when not NULL: the end of a window about to be
 * pushed), or in the sorted array when a ring would be wider than
 * WIN_RING_MAX or an end is off the grid (then for good). Returns RN_OK,
 * or RN_ERR_NOMEM with nothing changed. */
static rn_err_t pending_rebuild(win_agg_t *a, win_t *const *add, size_t n, const int64_t *also_end)
{
    size_t total = a->npending + n;
    win_t **all = rn_malloc(sizeof *all * (total ? total : 1));
    if (!all) return RN_ERR_NOMEM;
    size_t k = pending_list(a, all);
    RN_ASSERT(k == a->npending);
    for (size_t i = 0; i < n; i++) all[k++] = add[i];
    qsort(all, total, sizeof *all, win_cmp_end);
    /* The ring: from the least k to the greatest, in slots of a power of two. */
    bool ring = !a->ring_off && ring_step(a) > 0;
    int64_t klo = INT64_MAX, khi = INT64_MIN, kk;
    for (size_t i = 0; ring && i <= total; i++) {
        const int64_t *e = i < total ? &all[i]->end : also_end;
        if (!e) continue;
        if (!ring_k(a, *e, &kk)) {
            ring = false;
            break;
        }
        if (kk < klo) klo = kk;
        if (kk > khi) khi = kk;
    }
    size_t cap = a->ring_cap > WIN_RING_MIN ? a->ring_cap : WIN_RING_MIN;
    if (ring && klo <= khi) {
        uint64_t span = (uint64_t)khi - (uint64_t)klo; /* slots - 1 */
        if (span >= WIN_RING_MAX) ring = false;
        else
            while (cap <= span) cap *= 2;
    }
    win_bucket_t *r = NULL;
    if (ring) {
        if (!(r = rn_calloc(cap, sizeof *r))) {
            rn_free(all);
            return RN_ERR_NOMEM;
        }
    } else {
        /* (The array is empty when the windows are in the ring.) */
        size_t ends = 1;
        for (size_t i = 0; i < total; i++) ends += i == 0 || all[i]->end != all[i - 1]->end;
        if (bk_reserve(a, ends) != RN_OK) { /* (the buckets held are as they were) */
            rn_free(all);
            return RN_ERR_NOMEM;
        }
        a->bk_first = a->bk_n = 0; /* room for ends buckets from 0 */
        a->ring_off = a->ring_off || ring_step(a) > 0;
    }
    rn_free(a->ring);
    a->ring = r;
    a->ring_cap = ring ? cap : 0;
    a->npending = 0;
    for (size_t i = 0; i < total; i++) {
        all[i]->queued = 0;
        all[i]->qprev = all[i]->qnext = NULL;
        pending_push(a, all[i]);
    }
    rn_free(all);
    return RN_OK;
}

/* ---- accumulators (op/accum.h) ------------------------------------------ */

/* Releases the side structures of naggs accumulators. */
static void acc_free(const win_agg_t *a, rn_accum_t *acc)
{
    for (int i = 0; i < a->naggs; i++) rn_accum_free(&a->acx, &a->aggs[i], &acc[i]);
}

/* Serializes w's current result into out. Returns RN_OK or RN_ERR_NOMEM. */
static rn_err_t win_serialize(const win_agg_t *a, const win_t *w, rn_buf_t *out)
{
    rn_buf_clear(out);
    for (int i = 0; i < a->naggs; i++) {
        rn_value_t v = rn_accum_result(&a->aggs[i], &w->acc[i]);
        rn_key_append(out, rn_accum_result_type(&a->aggs[i]), &v);
    }
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}

/* ---- window lifecycle --------------------------------------------------- */

static void win_init(win_agg_t *a, win_t *w, int64_t start, int64_t end)
{
    w->start = start;
    w->end = end;
    w->created = a->created++;
    win_unplaced(a, w);
    rn_buf_init(&w->prev);
}

/* Store callback: releases a TUMBLE/HOP window's side structures. */
static void win_value_free(void *value, void *opaque)
{
    win_agg_t *a = opaque;
    win_t *w = value;
    acc_free(a, w->acc);
    rn_buf_free(&w->prev);
}

static void win_unheap(win_agg_t *a, win_t *w)
{
    if (win_bucketed(a)) pending_remove(a, w);
    for (int h = 0; h < WIN_NHEAPS; h++)
        if (h == WIN_RETAINED || !win_bucketed(a)) rn_heap_remove(&a->heaps[h], w);
}

/* Frees a session (after it left its key's array). */
static void session_release(win_agg_t *a, win_t *w)
{
    win_unheap(a, w);
    acc_free(a, w->acc);
    rn_buf_free(&w->prev);
    rn_free(w);
    a->nsessions--;
}

/* Store callback: frees a key's sessions. */
static void sess_key_free(void *value, void *opaque)
{
    win_agg_t *a = opaque;
    sess_key_t *sk = value;
    for (int i = 0; i < sk->n; i++) session_release(a, sk->s[i]);
    rn_free(sk->s);
}

/* Removes a key entry whose last session has gone. Uses a->key as
 * scratch, so not while a row is being added. */
static void sess_key_drop(win_agg_t *a, sess_key_t *sk)
{
    uint32_t klen;
    const void *key = rn_store_key_of(a->keys, sk, &klen);
    /* The key lives inside the entry being removed: copy it first. a->key
     * has held every session key, so it has room and the copy cannot fail. */
    rn_buf_clear(&a->key);
    if (klen) rn_buf_append(&a->key, key, klen);
    if (a->key.oom) return; /* keep the empty entry */
    rn_store_remove(a->keys, a->key.data, klen, rn_hash_bytes(a->key.data, klen, 0));
}

/* Frees any window, removing it from every structure. */
static void win_drop(win_agg_t *a, win_t *w)
{
    if (a->w.kind == RN_WINDOW_SESSION) {
        sess_key_t *sk = w->owner;
        int lo = 0, hi = sk->n;
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (sk->s[mid]->start < w->start) lo = mid + 1;
            else hi = mid;
        }
        if (lo < sk->n && sk->s[lo] == w) {
            memmove(&sk->s[lo], &sk->s[lo + 1], sizeof *sk->s * (size_t)(sk->n - lo - 1));
            sk->n--;
        }
        session_release(a, w);
        if (sk->n == 0) sess_key_drop(a, sk);
        return;
    }
    win_unheap(a, w);
    rn_store_remove_value(a->windows, w);
}

/* Puts w on the list of emitted windows changed in this batch. Returns
 * RN_OK or RN_ERR_NOMEM. */
static rn_err_t win_touch(win_agg_t *a, win_t *w)
{
    if (w->epoch == a->epoch) return RN_OK;
    if (a->ntouched == a->touched_cap) {
        size_t cap = a->touched_cap ? a->touched_cap * 2 : 64;
        win_t **t = rn_realloc(a->touched, cap * sizeof *t);
        if (!t) return RN_ERR_NOMEM;
        a->touched = t;
        a->touched_cap = cap;
    }
    w->epoch = a->epoch;
    w->touched_at = a->ntouched;
    a->touched[a->ntouched++] = w;
    return RN_OK;
}

/* Adds input row r (arrival sequence seq) to w. Returns RN_OK or
 * RN_ERR_NOMEM. */
static rn_err_t win_add_row(win_agg_t *a, win_t *w, const rn_batch_t *in, int r, uint64_t seq)
{
    if (w->emitted && win_touch(a, w) != RN_OK) return RN_ERR_NOMEM;
    w->dirty = 1;
    for (int i = 0; i < a->naggs; i++) {
        const rn_agg_spec_t *s = &a->aggs[i];
        rn_value_t pair[2];
        const rn_value_t *v = rn_accum_input(s, in->cols, r, pair);
        if (rn_accum_add(&a->acx, s, &w->acc[i], v, seq) != RN_OK) return RN_ERR_NOMEM;
    }
    return RN_OK;
}

/* Prepares a->wkey for the windows of the current row's key (a->key):
 * room for the bounds, then the key, which is hashed once. Returns RN_OK
 * or RN_ERR_NOMEM. */
static rn_err_t win_key_prepare(win_agg_t *a)
{
    size_t pre = win_prefix(a);
    rn_buf_clear(&a->wkey);
    if (rn_buf_reserve(&a->wkey, pre + a->key.len) != 0) return RN_ERR_NOMEM;
    memset(a->wkey.data, 1, pre); /* the tags; the values are win_get's */
    a->wkey.len = pre;
    if (a->key.len) rn_buf_append(&a->wkey, a->key.data, a->key.len);
    if (a->wkey.oom) return RN_ERR_NOMEM;
    a->key_hash = rn_hash_bytes(a->key.data, a->key.len, 0);
    return RN_OK;
}

/* The TUMBLE/HOP/GIVEN window [start, end) of the current row's key
 * (a->wkey as win_key_prepare left it), created if new. Returns NULL on
 * OOM. */
static win_t *win_get(win_agg_t *a, int64_t start, int64_t end)
{
    memcpy(a->wkey.data + 1, &start, 8); /* as rn_key_append writes a BIGINT */
    if (a->w.kind == RN_WINDOW_GIVEN) memcpy(a->wkey.data + 10, &end, 8);
    uint64_t h = win_hash(a->key_hash, start, end);
    bool created;
    win_t *w = rn_store_upsert(a->windows, a->wkey.data, (uint32_t)a->wkey.len, h, &created);
    if (!w || !created) return w;
    if (pending_reserve(a, end) != RN_OK) {
        rn_store_remove(a->windows, a->wkey.data, (uint32_t)a->wkey.len, h);
        return NULL;
    }
    win_init(a, w, start, end);
    w->hash = h;
    pending_push(a, w);
    return w;
}

/* Creates a session [t, end) for key entry sk at index i of its array.
 * Returns NULL on OOM (nothing changed). */
static win_t *session_new(win_agg_t *a, sess_key_t *sk, int i, int64_t t, int64_t end)
{
    if (rn_heap_reserve(&a->heaps[WIN_PENDING], 1) != RN_OK ||
        rn_heap_reserve(&a->heaps[WIN_BY_START], 1) != RN_OK)
        return NULL;
    if (sk->n == sk->cap) {
        int cap = sk->cap ? sk->cap * 2 : 2;
        win_t **s = rn_realloc(sk->s, sizeof *s * (size_t)cap);
        if (!s) return NULL;
        sk->s = s;
        sk->cap = cap;
    }
    win_t *w = rn_calloc(1, a->win_size);
    if (!w) return NULL;
    win_init(a, w, t, end);
    w->owner = sk;
    memmove(&sk->s[i + 1], &sk->s[i], sizeof *sk->s * (size_t)(sk->n - i));
    sk->s[i] = w;
    sk->n++;
    a->nsessions++;
    rn_heap_push(&a->heaps[WIN_PENDING], w);
    rn_heap_push(&a->heaps[WIN_BY_START], w);
    return w;
}

static rn_err_t win_emit_delete(win_agg_t *a, rn_op_out_t *o, win_t *w);

/* Adds row r with rowtime t to its session of the current key (a->key):
 * a new session, or the one it extends, or the merge of every session it
 * bridges. Returns RN_OK or RN_ERR_NOMEM. */
static rn_err_t session_add(win_agg_t *a, rn_op_out_t *o, const rn_batch_t *in, int r, int64_t t,
                           uint64_t seq)
{
    uint64_t h = rn_hash_bytes(a->key.data, a->key.len, 0);
    bool created;
    sess_key_t *sk = rn_store_upsert(a->keys, a->key.data, (uint32_t)a->key.len, h, &created);
    if (!sk) return RN_ERR_NOMEM;
    int64_t lo = t, hi = rn_time_add_sat(t, a->w.size_ms);
    /* Sessions overlapping [lo, hi): a run i..j-1 of the array. */
    int n = sk->n, i = 0, u = n;
    while (i < u) {
        int mid = i + (u - i) / 2;
        if (sk->s[mid]->end <= lo) i = mid + 1;
        else u = mid;
    }
    int j = i;
    while (j < n && sk->s[j]->start < hi) j++;

    win_t *w;
    if (i == j) {
        w = session_new(a, sk, i, lo, hi);
        if (!w) {
            if (sk->n == 0) rn_store_remove(a->keys, a->key.data, (uint32_t)a->key.len, h);
            return RN_ERR_NOMEM;
        }
        return win_add_row(a, w, in, r, seq);
    }

    w = sk->s[i];
    int64_t nstart = w->start < lo ? w->start : lo;
    int64_t nend = sk->s[j - 1]->end > hi ? sk->s[j - 1]->end : hi;
    bool moved = nstart != w->start || nend != w->end;
    /* Everything that can fail first. */
    if (moved && w->fired &&
        (rn_heap_reserve(&a->heaps[WIN_PENDING], 1) != RN_OK ||
         rn_heap_reserve(&a->heaps[WIN_BY_START], 1) != RN_OK))
        return RN_ERR_NOMEM;
    if (moved && w->emitted && win_touch(a, w) != RN_OK) return RN_ERR_NOMEM;
    for (int m = i + 1; m < j; m++) {
        win_t *x = sk->s[m];
        if (x->emitted && win_emit_delete(a, o, x) != RN_OK) return RN_ERR_NOMEM;
        for (int k = 0; k < a->naggs; k++)
            if (rn_accum_merge_sets(&a->acx, &a->aggs[k], &w->acc[k], &x->acc[k]) != RN_OK)
                return RN_ERR_NOMEM;
    }
    /* Then the merge proper. */
    for (int m = i + 1; m < j; m++) {
        win_t *x = sk->s[m];
        for (int k = 0; k < a->naggs; k++) rn_accum_merge(&a->aggs[k], &w->acc[k], &x->acc[k]);
        if (x->created < w->created) w->created = x->created;
        w->dirty = 1;
        if (x->epoch == a->epoch) a->touched[x->touched_at] = NULL;
        session_release(a, x);
    }
    if (j - i > 1) {
        memmove(&sk->s[i + 1], &sk->s[j], sizeof *sk->s * (size_t)(n - j));
        sk->n -= j - i - 1;
    }
    if (moved) {
        w->start = nstart;
        w->end = nend;
        if (w->fired) {
            /* Its emitted row is retracted at the end of the batch; the
             * merged session fires anew. */
            rn_heap_remove(&a->heaps[WIN_RETAINED], w);
            w->fired = 0;
            rn_heap_push(&a->heaps[WIN_PENDING], w);
            rn_heap_push(&a->heaps[WIN_BY_START], w);
        }
    }
    rn_heap_fix(&a->heaps[WIN_PENDING], w);
    rn_heap_fix(&a->heaps[WIN_BY_START], w);
    return win_add_row(a, w, in, r, seq);
}

/* ---- emission ----------------------------------------------------------- */

static rn_err_t out_copy_string(rn_op_out_t *o, rn_value_t *v)
{
    char *p = rn_arena_strndup(o->ctx->arena, v->s ? v->s : "", v->len);
    if (!p) return RN_ERR_NOMEM;
    v->s = p;
    return RN_OK;
}

/* Appends one output row for w: its current result and bounds (cur) or
 * the last emitted ones. Strings are copied into the arena. */
static rn_err_t win_emit(win_agg_t *a, rn_op_out_t *o, win_t *w, rn_rowkind_t kind, bool cur)
{
    int r;
    rn_err_t err = rn_op_out_row(o, &r);
    if (err != RN_OK) return err;
    rn_batch_t *b = o->b;
    int64_t start = cur ? w->start : w->pstart, end = cur ? w->end : w->pend;
    b->cols[0][r] = rn_value_int(start);
    b->cols[1][r] = rn_value_int(end);
    b->cols[2][r] = rn_value_int(end - 1);
    uint32_t klen, off = 0;
    const void *key;
    if (a->w.kind == RN_WINDOW_SESSION) {
        key = rn_store_key_of(a->keys, w->owner, &klen);
    } else {
        rn_value_t skip;
        key = rn_store_key_of(a->windows, w, &klen);
        rn_key_read(key, klen, &off, RN_TYPE_BIGINT, &skip);
        if (a->w.kind == RN_WINDOW_GIVEN) rn_key_read(key, klen, &off, RN_TYPE_BIGINT, &skip);
    }
    for (int k = 0; k < a->nkeys; k++) {
        rn_type_id t = a->in_schema->cols[k].type->id;
        rn_value_t v = RN_VALUE_NULL;
        rn_key_read(key, klen, &off, t, &v);
        if (!v.null && t == RN_TYPE_STRING && out_copy_string(o, &v) != RN_OK) return RN_ERR_NOMEM;
        b->cols[3 + k][r] = v;
    }
    off = 0;
    for (int i = 0; i < a->naggs; i++) {
        rn_type_id t = rn_accum_result_type(&a->aggs[i]);
        rn_value_t v = RN_VALUE_NULL;
        if (cur) v = rn_accum_result(&a->aggs[i], &w->acc[i]);
        else rn_key_read(w->prev.data, (uint32_t)w->prev.len, &off, t, &v);
        if (!v.null && t == RN_TYPE_STRING && out_copy_string(o, &v) != RN_OK) return RN_ERR_NOMEM;
        b->cols[3 + a->nkeys + i][r] = v;
    }
    b->kinds[r] = (uint8_t)kind;
    return RN_OK;
}

/* First emission of w: +I of its current result. */
static rn_err_t win_emit_insert(win_agg_t *a, rn_op_out_t *o, win_t *w)
{
    rn_err_t err = win_emit(a, o, w, RN_ROW_INSERT, true);
    if (err != RN_OK) return err;
    if (a->updating && win_serialize(a, w, &w->prev) != RN_OK) return RN_ERR_NOMEM;
    w->pstart = w->start;
    w->pend = w->end;
    w->emitted = 1;
    w->dirty = 0;
    return RN_OK;
}

/* -U(last emitted) +U(current) if the result changed; nothing if not. */
static rn_err_t win_emit_update(win_agg_t *a, rn_op_out_t *o, win_t *w)
{
    w->dirty = 0;
    if (win_serialize(a, w, &a->res) != RN_OK) return RN_ERR_NOMEM;
    if (a->res.len == w->prev.len && (a->res.len == 0 || !memcmp(a->res.data, w->prev.data, a->res.len)))
        return RN_OK;
    rn_err_t err = win_emit(a, o, w, RN_ROW_UPDATE_BEFORE, false);
    if (err == RN_OK) err = win_emit(a, o, w, RN_ROW_UPDATE_AFTER, true);
    if (err != RN_OK) return err;
    rn_buf_t t = w->prev; /* keep the new result; reuse the old buffer as scratch */
    w->prev = a->res;
    a->res = t;
    return RN_OK;
}

/* -D of w's emitted row (its bounds are about to change or it merged away). */
static rn_err_t win_emit_delete(win_agg_t *a, rn_op_out_t *o, win_t *w)
{
    rn_err_t err = win_emit(a, o, w, RN_ROW_DELETE, false);
    if (err != RN_OK) return err;
    w->emitted = 0;
    return RN_OK;
}

/* Emits w's current result as the next change of its row. */
static rn_err_t win_emit_current(win_agg_t *a, rn_op_out_t *o, win_t *w)
{
    if (w->emitted && (w->pstart != w->start || w->pend != w->end)) {
        rn_err_t err = win_emit_delete(a, o, w);
        if (err != RN_OK) return err;
    }
    if (!w->emitted) return win_emit_insert(a, o, w);
    if (w->dirty) return win_emit_update(a, o, w);
    return RN_OK;
}

/* Fires every unfired window with end <= wm (by end, then creation) and
 * frees fired windows with end + L <= wm. */
static rn_err_t win_advance(win_agg_t *a, rn_op_out_t *o, int64_t wm)
{
    rn_heap_t *retained = &a->heaps[WIN_RETAINED];
    win_t *w;
    while ((w = pending_top(a)) && w->end <= wm) {
        bool freeable = win_freeable(a, w->end, wm);
        if (!freeable && rn_heap_reserve(retained, 1) != RN_OK) return RN_ERR_NOMEM;
        rn_err_t err = win_emit_current(a, o, w);
        if (err != RN_OK) return err;
        w->fired = 1;
        pending_remove(a, w);
        if (!win_bucketed(a)) rn_heap_remove(&a->heaps[WIN_BY_START], w);
        if (freeable) win_drop(a, w);
        else rn_heap_push(retained, w);
    }
    while ((w = rn_heap_top(retained)) && win_freeable(a, w->end, wm)) win_drop(a, w);
    return RN_OK;
}

static int win_cmp_end(const void *x, const void *y)
{
    const win_t *a = *(win_t *const *)x, *b = *(win_t *const *)y;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    return a->created < b->created ? -1 : a->created > b->created;
}

/* Early firing: when early_fire_ms of processing time have passed since
 * the last one, emits the changed results of unfired windows. */
static rn_err_t win_early_fire(win_agg_t *a, rn_op_out_t *o)
{
    if (a->w.early_fire_ms <= 0) return RN_OK;
    int64_t now = o->ctx->now_ms;
    if (!a->early_started) {
        a->early_started = true;
        a->last_early = now;
        return RN_OK;
    }
    if (now < a->last_early || (uint64_t)now - (uint64_t)a->last_early < (uint64_t)a->w.early_fire_ms)
        return RN_OK;
    a->last_early = now;
    const rn_heap_t *pending = &a->heaps[WIN_PENDING];
    size_t n = 0, len = win_bucketed(a) ? a->npending : rn_heap_len(pending);
    win_t **c = rn_arena_alloc(o->ctx->arena, sizeof *c * (len ? len : 1));
    if (!c) return RN_ERR_NOMEM;
    if (win_bucketed(a)) { /* in firing order already */
        n = pending_list(a, c);
        size_t d = 0;
        for (size_t i = 0; i < n; i++)
            if (c[i]->dirty) c[d++] = c[i];
        n = d;
    } else {
        for (size_t i = 0; i < len; i++) {
            win_t *w = rn_heap_at(pending, i);
            if (w->dirty) c[n++] = w;
        }
        qsort(c, n, sizeof *c, win_cmp_end);
    }
    for (size_t i = 0; i < n; i++) {
        rn_err_t err = win_emit_current(a, o, c[i]);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

/* ---- operator ----------------------------------------------------------- */

/* What closes windows: the watermark wm, or for processing-time windows
 * the processing time (all of them once the input ends). */
static int64_t win_close_time(const win_agg_t *a, int64_t wm, const rn_ctx_t *ctx)
{
    if (!a->w.proctime || wm == RN_WM_MAX) return wm;
    return ctx->now_ms;
}

/* Sends the late rows listed in idx to the late output. */
static rn_err_t win_route_late(win_agg_t *a, const rn_batch_t *in, const int *idx, int n,
                               rn_ctx_t *ctx)
{
    rn_op_t *late = a->late;
    rn_batch_t *b = rn_batch_new(ctx->arena, in->schema, n);
    if (!b) return RN_ERR_NOMEM;
    if (in->rowtime) {
        b->rowtime = rn_arena_alloc(ctx->arena, sizeof(int64_t) * (size_t)n);
        if (!b->rowtime) return RN_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        int r = idx[i];
        for (int c = 0; c < in->schema->ncols; c++) b->cols[c][i] = rn_batch_value(in, c, r);
        b->kinds[i] = in->kinds[r];
        if (in->rowtime) b->rowtime[i] = in->rowtime[r];
    }
    b->nrows = n;
    late->rows_in += (uint64_t)n;
    return late->vt->process(late, 0, b, ctx);
}

/* Adds one accepted row (its key already in a->key) to its windows. */
static rn_err_t win_accept(win_agg_t *a, rn_op_out_t *o, const rn_batch_t *in, int r, int64_t t)
{
    uint64_t seq = a->seq++;
    if (a->w.kind != RN_WINDOW_SESSION && win_key_prepare(a) != RN_OK) return RN_ERR_NOMEM;
    switch (a->w.kind) {
    case RN_WINDOW_TUMBLE: {
        int64_t start = rn_window_grid_start(t, a->w.size_ms, a->w.offset_ms);
        win_t *w = win_get(a, start, rn_time_add_sat(start, a->w.size_ms));
        if (!w) return RN_ERR_NOMEM;
        return win_add_row(a, w, in, r, seq);
    }
    case RN_WINDOW_GIVEN: { /* checked by window_process: start < end = t + 1 */
        win_t *w = win_get(a, in->cols[a->w.start_col][r].i, rn_time_add_sat(t, 1));
        if (!w) return RN_ERR_NOMEM;
        return win_add_row(a, w, in, r, seq);
    }
    case RN_WINDOW_HOP: {
        int64_t last = rn_window_grid_start(t, a->w.slide_ms, a->w.offset_ms);
        int64_t nwin = a->w.size_ms / a->w.slide_ms;
        for (int64_t k = nwin - 1; k >= 0; k--) {
            int64_t start = rn_time_sub_sat(last, k * a->w.slide_ms);
            win_t *w = win_get(a, start, rn_time_add_sat(start, a->w.size_ms));
            if (!w) return RN_ERR_NOMEM;
            rn_err_t err = win_add_row(a, w, in, r, seq);
            if (err != RN_OK) return err;
        }
        return RN_OK;
    }
    case RN_WINDOW_SESSION:
        return session_add(a, o, in, r, t, seq);
    }
    return RN_OK;
}

static rn_err_t window_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    win_agg_t *a = op->priv;
    rn_op_out_t o = {.op = op, .ctx = ctx};
    int *late = NULL, nlate = 0;
    rn_err_t err;
    a->epoch++;
    a->ntouched = 0;

    for (int r = 0; r < in->nrows; r++) {
        const rn_value_t *tv = &in->cols[a->w.time_col][r];
        rn_value_t given; /* GIVEN: the rowtime is window_end - 1; a window that is not one is late */
        if (a->w.kind == RN_WINDOW_GIVEN) {
            const rn_value_t *sv = &in->cols[a->w.start_col][r];
            given = tv->null || sv->null || sv->i >= tv->i ? RN_VALUE_NULL : rn_value_int(tv->i - 1);
            tv = &given;
        }
        if (tv->null ||
            (!a->w.proctime && in->rowwm && rn_window_row_late(tv->i, in->rowwm[r], a->w.lateness_ms))) {
            if (!late) {
                late = rn_arena_alloc(ctx->arena, sizeof *late * (size_t)in->nrows);
                if (!late) return RN_ERR_NOMEM;
            }
            late[nlate++] = r;
            continue;
        }
        rn_buf_clear(&a->key);
        for (int k = 0; k < a->nkeys; k++)
            rn_key_append(&a->key, a->in_schema->cols[k].type->id, &in->cols[k][r]);
        if (a->key.oom) return RN_ERR_NOMEM;
        err = win_accept(a, &o, in, r, tv->i);
        if (err != RN_OK) return err;
    }
    size_t open = a->w.kind == RN_WINDOW_SESSION ? a->nsessions : rn_store_count(a->windows);
    if (open > a->peak_open) a->peak_open = open;

    /* Late updates of emitted windows, coalesced per batch. */
    for (size_t i = 0; i < a->ntouched; i++) {
        win_t *w = a->touched[i];
        if (!w) continue;
        if (w->emitted && (w->pstart != w->start || w->pend != w->end)) err = win_emit_delete(a, &o, w);
        else if (w->fired && w->dirty) err = win_emit_update(a, &o, w);
        else err = RN_OK;
        if (err != RN_OK) return err;
    }
    a->ntouched = 0;
    /* Windows created (or re-opened) behind the watermark fire now; so do
     * processing-time windows whose end has passed. */
    err = win_advance(a, &o, win_close_time(a, op->watermark, ctx));
    if (err == RN_OK) err = win_early_fire(a, &o);
    if (err == RN_OK) err = rn_op_out_flush(&o);
    if (err != RN_OK) return err;

    a->late_rows += (uint64_t)nlate;
    if (nlate && a->late) return win_route_late(a, in, late, nlate, ctx);
    return RN_OK;
}

static rn_err_t window_watermark(rn_op_t *op, int64_t wm, rn_ctx_t *ctx)
{
    win_agg_t *a = op->priv;
    rn_op_out_t o = {.op = op, .ctx = ctx};
    op->watermark = wm;
    rn_err_t err = win_advance(a, &o, win_close_time(a, wm, ctx));
    if (err == RN_OK) err = win_early_fire(a, &o);
    if (err == RN_OK) err = rn_op_out_flush(&o);
    if (err != RN_OK) return err;
    return rn_op_watermark(op, wm, ctx);
}

static int64_t window_held_since(const rn_op_t *op)
{
    const win_agg_t *a = op->priv;
    /* TUMBLE/HOP windows all have one size: the earliest end has the
     * earliest start. */
    const win_t *w = a->w.kind == RN_WINDOW_SESSION ? rn_heap_top(&a->heaps[WIN_BY_START]) : pending_top(a);
    /* processing-time windows hold rows of any event time */
    if (a->w.proctime) return w ? INT64_MIN : INT64_MAX;
    if (w && a->w.kind == RN_WINDOW_GIVEN) return w->end - 1; /* its rows' rowtime */
    return w ? w->start : INT64_MAX;
}

static void window_explain(const rn_op_t *op, rn_buf_t *out)
{
    const win_agg_t *a = op->priv;
    const rn_window_spec_t *w = &a->w;
    static const char *kinds[] = {"TUMBLE", "HOP", "SESSION"};
    if (w->kind == RN_WINDOW_GIVEN) {
        rn_buf_appendf(out, "WINDOW(%s, %s", a->in_schema->cols[w->start_col].name,
                       a->in_schema->cols[w->time_col].name);
    } else {
        rn_buf_appendf(out, "%s(%s, ", kinds[w->kind], a->in_schema->cols[w->time_col].name);
        if (w->kind == RN_WINDOW_HOP) {
            rn_duration_append(out, w->slide_ms);
            rn_buf_appends(out, ", ");
        }
        rn_duration_append(out, w->size_ms);
    }
    if (w->kind != RN_WINDOW_SESSION && w->kind != RN_WINDOW_GIVEN && w->offset_ms) {
        rn_buf_appends(out, ", offset ");
        rn_duration_append(out, w->offset_ms);
    }
    if (w->proctime) rn_buf_appends(out, ", processing time");
    rn_buf_appends(out, w->kind == RN_WINDOW_SESSION ? ") partition by [" : ") group by [");
    for (int k = 0; k < a->nkeys; k++)
        rn_buf_appendf(out, "%s%s", k ? ", " : "", a->in_schema->cols[k].name);
    rn_buf_appends(out, "], aggregates [");
    for (int i = 0; i < a->naggs; i++) {
        const rn_agg_spec_t *s = &a->aggs[i];
        rn_buf_appends(out, i ? ", " : "");
        rn_accum_explain(out, s, a->in_schema);
        rn_buf_appendf(out, " AS %s", op->schema->cols[3 + a->nkeys + i].name);
    }
    rn_buf_appends(out, "], lateness ");
    rn_duration_append(out, w->lateness_ms);
    if (w->early_fire_ms > 0) {
        rn_buf_appends(out, ", early fire every ");
        rn_duration_append(out, w->early_fire_ms);
    }
}

static void win_agg_free(win_agg_t *a)
{
    if (!a) return;
    rn_store_free(a->windows);
    rn_store_free(a->keys);
    for (int h = 0; h < WIN_NHEAPS; h++) rn_heap_free(&a->heaps[h]);
    rn_free(a->bk);
    rn_free(a->ring);
    rn_free(a->touched);
    rn_buf_free(&a->key);
    rn_buf_free(&a->wkey);
    rn_buf_free(&a->res);
    rn_accum_ctx_free(&a->acx);
    rn_free(a->aggs);
    rn_free(a);
}

static void window_destroy(rn_op_t *op) { win_agg_free(op->priv); }

static size_t window_state_size(const rn_op_t *op, size_t *keys)
{
    const win_agg_t *a = op->priv;
    const rn_store_t *st = a->windows ? a->windows : a->keys;
    *keys = st ? rn_store_count(st) : 0;
    return st ? rn_store_bytes(st) : 0;
}

/* ---- partitions of keys (docs/scale-out.md, docs/checkpoints.md) --------- */

/* The partition among nparts (> 0) of a store entry's key: that of its key
 * bytes after the window start (GIVEN: and end), the group key as the
 * Exchange serialized it; for sessions the whole key. -1 for a key that
 * does not decode (never in a store this operator filled). */
static int32_t win_entry_partition(const win_agg_t *a, const void *key, uint32_t klen, int32_t nparts)
{
    uint32_t off = 0;
    rn_value_t skip;
    if (a->w.kind != RN_WINDOW_SESSION && !rn_key_read(key, klen, &off, RN_TYPE_BIGINT, &skip)) return -1;
    if (a->w.kind == RN_WINDOW_GIVEN && !rn_key_read(key, klen, &off, RN_TYPE_BIGINT, &skip)) return -1;
    return rn_key_partition((const unsigned char *)key + off, klen - off, nparts);
}

/* Drops the windows (TUMBLE/HOP) or sessions of every key in a revoked
 * partition: pending ones, fired ones kept for late updates, their heap
 * entries and accumulators, without emitting or retracting anything (the
 * partitions' new owner rebuilds them from the repartition topic and
 * emits their results). held_since and the open-window count then cover
 * the kept windows only. The watermark, the arrival and creation counters
 * and the early-firing clock are the operator's, not a key's: untouched.
 * Between batches only (the touched list is per batch). One pass over
 * the state plus O(log n) per dropped window; allocates nothing and
 * returns RN_OK. */
static rn_err_t window_forget_partitions(rn_op_t *op, int32_t nparts, const uint8_t *revoked)
{
    win_agg_t *a = op->priv;
    int32_t p = 0;
    while (p < nparts && !revoked[p]) p++;
    if (p == nparts) return RN_OK; /* nothing revoked */
    a->ntouched = 0; /* empty between batches, but for one that failed part way */
    bool session = a->w.kind == RN_WINDOW_SESSION;
    rn_store_t *st = session ? a->keys : a->windows;
    size_t pos = 0;
    void *v;
    while ((v = rn_store_next(st, &pos))) {
        uint32_t klen;
        const void *key = rn_store_key_of(st, v, &klen);
        int32_t part = win_entry_partition(a, key, klen, nparts);
        if (part < 0 || !revoked[part]) continue;
        /* A session key entry's value_free releases its sessions (heaps
         * included); a window leaves its heaps here. */
        if (!session) win_unheap(a, v);
        rn_store_remove_iterated(st, pos);
    }
    return RN_OK;
}

/* ---- snapshot and restore (format in the note at the top) ------------------ */

#define WIN_SNAP_MAGIC "RNWA"
#define WIN_SNAP_VERSION 1u

enum { WIN_SNAP_FIRED = 1, WIN_SNAP_EMITTED = 2, WIN_SNAP_DIRTY = 4 };

/* Appends one window or session record. */
static void win_put(const win_agg_t *a, const win_t *w, rn_buf_t *out)
{
    rn_snap_put_u64(out, (uint64_t)w->start);
    rn_snap_put_u64(out, (uint64_t)w->end);
    rn_snap_put_u64(out, (uint64_t)w->pstart);
    rn_snap_put_u64(out, (uint64_t)w->pend);
    rn_snap_put_u64(out, w->created);
    rn_snap_put_u8(out, (uint8_t)((w->fired ? WIN_SNAP_FIRED : 0) | (w->emitted ? WIN_SNAP_EMITTED : 0) |
                                  (w->dirty ? WIN_SNAP_DIRTY : 0)));
    rn_snap_put_bytes(out, w->prev.data, (uint32_t)w->prev.len);
    for (int i = 0; i < a->naggs; i++) rn_accum_encode(&a->acx, &a->aggs[i], &w->acc[i], out);
}

/* Whether a snapshot filtered by parts (NULL: every key) takes the store
 * entry with key[0..klen). */
static bool win_takes(const win_agg_t *a, const rn_part_filter_t *parts, const void *key, uint32_t klen)
{
    if (!parts) return true;
    if (parts->nparts <= 0) return false;
    int32_t p = win_entry_partition(a, key, klen, parts->nparts);
    return p >= 0 && parts->parts[p];
}

/* Overwrites the u64 written at out->data[at] (a count known only later). */
static void snap_patch_u64(rn_buf_t *out, size_t at, uint64_t v)
{
    if (out->oom || at + 8 > out->len) return;
    for (int i = 0; i < 8; i++) out->data[at + (size_t)i] = (char)(unsigned char)(v >> (8 * i));
}

static rn_err_t window_snapshot(const rn_op_t *op, rn_buf_t *out, const rn_part_filter_t *parts)
{
    const win_agg_t *a = op->priv;
    rn_buf_append(out, WIN_SNAP_MAGIC, 4);
    rn_snap_put_u32(out, WIN_SNAP_VERSION);
    rn_snap_put_u8(out, (uint8_t)a->w.kind);
    rn_snap_put_u32(out, (uint32_t)a->w.time_col);
    rn_snap_put_u64(out, (uint64_t)a->w.size_ms);
    rn_snap_put_u64(out, (uint64_t)a->w.slide_ms);
    rn_snap_put_u64(out, (uint64_t)a->w.offset_ms);
    rn_snap_put_u64(out, (uint64_t)a->w.lateness_ms);
    rn_snap_put_u64(out, (uint64_t)a->w.early_fire_ms);
    rn_snap_put_u32(out, (uint32_t)a->nkeys);
    rn_snap_put_u32(out, (uint32_t)a->naggs);
    for (int i = 0; i < a->naggs; i++) rn_snap_put_u8(out, (uint8_t)a->aggs[i].kind);
    rn_snap_put_u64(out, (uint64_t)op->watermark);
    rn_snap_put_u64(out, a->seq);
    rn_snap_put_u64(out, a->created);
    rn_snap_put_u64(out, a->late_rows);
    rn_snap_put_u8(out, a->early_started ? 1 : 0);
    rn_snap_put_u64(out, (uint64_t)a->last_early);
    const rn_store_t *st = a->windows ? a->windows : a->keys;
    size_t count_at = out->len;
    uint64_t n = 0;
    rn_snap_put_u64(out, 0); /* the entry count, set below */
    size_t pos = 0;
    void *v;
    while ((v = rn_store_next(st, &pos))) {
        uint32_t klen;
        const void *k = rn_store_key_of(st, v, &klen);
        if (!win_takes(a, parts, k, klen)) continue;
        n++;
        rn_snap_put_bytes(out, k, klen);
        if (a->windows) {
            win_put(a, v, out);
            continue;
        }
        const sess_key_t *sk = v;
        rn_snap_put_u32(out, (uint32_t)sk->n);
        for (int i = 0; i < sk->n; i++) win_put(a, sk->s[i], out);
    }
    snap_patch_u64(out, count_at, n);
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}

/* Whether key[0..klen) is (with_start) a BIGINT window start equal to
 * start (GIVEN: then the end, equal to end), then the nkeys key columns,
 * with nothing left. */
static bool win_key_valid(const win_agg_t *a, const void *key, uint32_t klen, bool with_start,
                          int64_t start, int64_t end)
{
    uint32_t off = 0;
    rn_value_t v;
    if (with_start && (!rn_key_read(key, klen, &off, RN_TYPE_BIGINT, &v) || v.null || v.i != start))
        return false;
    if (with_start && a->w.kind == RN_WINDOW_GIVEN &&
        (!rn_key_read(key, klen, &off, RN_TYPE_BIGINT, &v) || v.null || v.i != end))
        return false;
    for (int k = 0; k < a->nkeys; k++)
        if (!rn_key_read(key, klen, &off, a->in_schema->cols[k].type->id, &v)) return false;
    return off == klen;
}

/* Whether prev[0..len) is empty or one result per aggregate, as
 * win_serialize writes it (only an updating output keeps results). */
static bool win_prev_valid(const win_agg_t *a, const void *prev, uint32_t len)
{
    if (len == 0) return true;
    if (!a->updating) return false;
    uint32_t off = 0;
    rn_value_t v;
    for (int i = 0; i < a->naggs; i++)
        if (!rn_key_read(prev, len, &off, rn_accum_result_type(&a->aggs[i]), &v)) return false;
    return off == len;
}

/* Reads one window record (win_put) into w, a zeroed window not in any
 * heap. created_max is the creation counter. Returns RN_OK, RN_ERR_DECODE
 * or RN_ERR_NOMEM; on failure w may own memory, freed with it. */
static rn_err_t win_read(win_agg_t *a, rn_snap_reader_t *r, win_t *w, uint64_t created_max)
{
    w->start = (int64_t)rn_snap_u64(r);
    w->end = (int64_t)rn_snap_u64(r);
    w->pstart = (int64_t)rn_snap_u64(r);
    w->pend = (int64_t)rn_snap_u64(r);
    w->created = rn_snap_u64(r);
    uint8_t flags = rn_snap_u8(r);
    uint32_t plen;
    const void *prev = rn_snap_bytes(r, &plen);
    if (r->bad || flags > 7 || w->created >= created_max || !win_prev_valid(a, prev, plen))
        return RN_ERR_DECODE;
    if (a->w.kind == RN_WINDOW_SESSION  ? w->start > w->end
        : a->w.kind == RN_WINDOW_GIVEN ? w->start >= w->end
                                        : w->end != rn_time_add_sat(w->start, a->w.size_ms))
        return RN_ERR_DECODE;
    w->fired = (flags & WIN_SNAP_FIRED) != 0;
    w->emitted = (flags & WIN_SNAP_EMITTED) != 0;
    w->dirty = (flags & WIN_SNAP_DIRTY) != 0;
    if (plen) {
        rn_buf_append(&w->prev, prev, plen);
        if (w->prev.oom) return RN_ERR_NOMEM;
    }
    for (int i = 0; i < a->naggs; i++) {
        rn_err_t err = rn_accum_decode(&a->acx, &a->aggs[i], r, &w->acc[i]);
        if (err != RN_OK) return err;
    }
    return RN_OK;
}

/* Reads the sessions of one key into sk, an entry of st. */
static rn_err_t session_read(win_agg_t *a, rn_snap_reader_t *r, sess_key_t *sk, uint64_t created_max)
{
    uint32_t n = rn_snap_u32(r);
    if (r->bad || n == 0 || n > INT32_MAX || n > r->len - r->off) return RN_ERR_DECODE;
    sk->s = rn_calloc(n, sizeof *sk->s);
    if (!sk->s) return RN_ERR_NOMEM;
    sk->cap = (int)n;
    for (uint32_t i = 0; i < n; i++) {
        win_t *w = rn_calloc(1, a->win_size);
        if (!w) return RN_ERR_NOMEM;
        win_unplaced(a, w);
        w->owner = sk;
        sk->s[sk->n++] = w; /* freed with the key from now on */
        a->nsessions++;
        rn_err_t err = win_read(a, r, w, created_max);
        if (err != RN_OK) return err;
        /* Sorted by start and disjoint. */
        if (i > 0 && sk->s[i - 1]->end > w->start) return RN_ERR_DECODE;
    }
    return RN_OK;
}

/* Puts a window of the (restored) state in its heaps, which have room;
 * unfired TUMBLE/HOP/GIVEN windows are pending_rebuild's. */
static void win_heap_all(win_agg_t *a, win_t *w)
{
    if (w->fired) {
        rn_heap_push(&a->heaps[WIN_RETAINED], w);
        return;
    }
    if (win_bucketed(a)) return;
    rn_heap_push(&a->heaps[WIN_PENDING], w);
    rn_heap_push(&a->heaps[WIN_BY_START], w);
}

/* A store entry added by the restore under way: enough to take it back. */
typedef struct win_added {
    const void *key;            /* its key, in the snapshot bytes */
    uint32_t klen;
    uint64_t hash;
    void *v;                    /* its value slot (a win_t or sess_key_t) */
} win_added_t;

/* Adds the snapshot's windows or sessions to those the operator holds
 * (none, or other keys'): each entry goes straight into the store; once
 * all of the snapshot was read and the heaps have room, the new windows
 * go into the heaps and the operator-wide values are merged. On failure
 * the entries this call added are removed again (none is in a heap yet)
 * and the operator-wide values are untouched, so the operator holds
 * exactly what it held before. */
static rn_err_t window_restore(rn_op_t *op, const void *data, size_t len)
{
    win_agg_t *a = op->priv;
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, data, len);
    if (!rn_snap_have(&r, 4) || memcmp(r.p, WIN_SNAP_MAGIC, 4) != 0) return RN_ERR_DECODE;
    r.off = 4;
    if (rn_snap_u32(&r) != WIN_SNAP_VERSION || rn_snap_u8(&r) != (uint8_t)a->w.kind ||
        rn_snap_u32(&r) != (uint32_t)a->w.time_col || rn_snap_u64(&r) != (uint64_t)a->w.size_ms ||
        rn_snap_u64(&r) != (uint64_t)a->w.slide_ms || rn_snap_u64(&r) != (uint64_t)a->w.offset_ms ||
        rn_snap_u64(&r) != (uint64_t)a->w.lateness_ms ||
        rn_snap_u64(&r) != (uint64_t)a->w.early_fire_ms || rn_snap_u32(&r) != (uint32_t)a->nkeys ||
        rn_snap_u32(&r) != (uint32_t)a->naggs)
        return RN_ERR_DECODE;
    for (int i = 0; i < a->naggs; i++)
        if (rn_snap_u8(&r) != (uint8_t)a->aggs[i].kind) return RN_ERR_DECODE;
    int64_t wm = (int64_t)rn_snap_u64(&r);
    uint64_t seq = rn_snap_u64(&r), created = rn_snap_u64(&r), late_rows = rn_snap_u64(&r);
    uint8_t early_started = rn_snap_u8(&r);
    int64_t last_early = (int64_t)rn_snap_u64(&r);
    uint64_t nentries = rn_snap_u64(&r);
    if (r.bad || early_started > 1) return RN_ERR_DECODE;

    bool session = a->w.kind == RN_WINDOW_SESSION;
    rn_store_t *st = session ? a->keys : a->windows;
    win_added_t *added = NULL;
    size_t nadded = 0, added_cap = 0, nwin = 0;
    rn_err_t err = RN_OK;
    for (uint64_t e = 0; e < nentries && err == RN_OK; e++) {
        uint32_t klen;
        const void *k = rn_snap_bytes(&r, &klen);
        /* A window's key holds its start: checked once the record is read. */
        if (!k || (session && !win_key_valid(a, k, klen, false, 0, 0))) {
            err = RN_ERR_DECODE;
            break;
        }
        uint64_t h = 0;
        if (session) h = rn_hash_bytes(k, klen, 0);
        else if (!win_key_hash(a, k, klen, &h)) {
            err = RN_ERR_DECODE;
            break;
        }
        if (rn_store_peek(st, k, klen, h)) { /* held already, or twice in the snapshot */
            err = RN_ERR_DECODE;
            break;
        }
        if (nadded == added_cap) {
            size_t cap = added_cap ? added_cap * 2 : 64;
            win_added_t *m = rn_realloc(added, cap * sizeof *m);
            if (!m) {
                err = RN_ERR_NOMEM;
                break;
            }
            added = m;
            added_cap = cap;
        }
        bool fresh;
        void *v = rn_store_upsert(st, k, klen, h, &fresh);
        if (!v) {
            err = RN_ERR_NOMEM;
            break;
        }
        added[nadded++] = (win_added_t){k, klen, h, v};
        if (session) {
            sess_key_t *sk = v;
            err = session_read(a, &r, sk, created);
            nwin += (size_t)sk->n;
        } else {
            win_t *w = v;
            win_unplaced(a, w);
            w->hash = h;
            err = win_read(a, &r, w, created);
            if (err == RN_OK && !win_key_valid(a, k, klen, true, w->start, w->end)) err = RN_ERR_DECODE;
            nwin++;
        }
    }
    if (err == RN_OK && !rn_snap_done(&r)) err = RN_ERR_DECODE;
    for (int hh = 0; hh < WIN_NHEAPS && err == RN_OK; hh++) /* (TUMBLE/HOP/GIVEN: retained only) */
        if ((session || hh == WIN_RETAINED) && rn_heap_reserve(&a->heaps[hh], nwin) != RN_OK) err = RN_ERR_NOMEM;
    if (err == RN_OK && !session) { /* the last step that can fail */
        win_t **unfired = rn_malloc(sizeof *unfired * (nadded ? nadded : 1));
        size_t nunfired = 0;
        if (!unfired) err = RN_ERR_NOMEM;
        for (size_t i = 0; unfired && i < nadded; i++)
            if (!((win_t *)added[i].v)->fired) unfired[nunfired++] = added[i].v;
        if (unfired) err = pending_rebuild(a, unfired, nunfired, NULL);
        rn_free(unfired);
    }
    if (err != RN_OK) {
        /* value_free releases each entry's windows, none in a heap (a
         * session's release also takes it off the session count). */
        for (size_t i = nadded; i-- > 0;) rn_store_remove(st, added[i].key, added[i].klen, added[i].hash);
        rn_free(added);
        return err;
    }
    for (size_t i = 0; i < nadded; i++) {
        if (!session) {
            win_heap_all(a, added[i].v);
            continue;
        }
        sess_key_t *sk = added[i].v;
        for (int j = 0; j < sk->n; j++) win_heap_all(a, sk->s[j]);
    }
    rn_free(added);
    if (op->watermark == RN_WM_MIN) op->watermark = wm;
    if (seq > a->seq) a->seq = seq;
    if (created > a->created) a->created = created;
    if (late_rows > a->late_rows) a->late_rows = late_rows; /* each section carries the whole count */
    if (early_started && (!a->early_started || last_early > a->last_early)) a->last_early = last_early;
    a->early_started = a->early_started || early_started;
    return RN_OK;
}

static const rn_op_vtable_t window_vtable = {
    .kind = "WindowAggregate",
    .process = window_process,
    .explain = window_explain,
    .destroy = window_destroy,
    .watermark = window_watermark,
    .held_since = window_held_since,
    .state_size = window_state_size,
    .snapshot = window_snapshot,
    .restore = window_restore,
    .forget_partitions = window_forget_partitions,
};

/* Checks the spec; returns an error message or NULL. */
static const char *window_check(const rn_op_t *input, const rn_window_spec_t *w, int nkeys,
                                int naggs, const rn_agg_spec_t *aggs, const rn_schema_t *out)
{
    int ncols = input->schema->ncols;
    if (input->updating) return "a window aggregate over an updating input is not supported";
    if (nkeys < 0 || naggs < 0 || nkeys > ncols) return "bad number of window keys or aggregates";
    if (!out || out->ncols != 3 + nkeys + naggs)
        return "window aggregate output must have 3 + keys + aggregates columns";
    if (w->time_col < 0 || w->time_col >= ncols) return "window time column out of range";
    if ((unsigned)w->kind > RN_WINDOW_GIVEN) return "unknown window kind";
    if (w->kind == RN_WINDOW_GIVEN && (w->start_col < 0 || w->start_col >= ncols || w->start_col == w->time_col))
        return "window start column out of range";
    if (w->size_ms <= 0 && w->kind != RN_WINDOW_GIVEN)
        return w->kind == RN_WINDOW_SESSION ? "session gap must be positive"
                                            : "window size must be positive";
    if (w->kind == RN_WINDOW_HOP && (w->slide_ms <= 0 || w->size_ms % w->slide_ms != 0))
        return "HOP size must be a positive multiple of the slide";
    if (w->lateness_ms < 0) return "allowed lateness must not be negative";
    if (w->early_fire_ms < 0) return "early-fire delay must not be negative";
    if (w->proctime && ((w->kind != RN_WINDOW_TUMBLE && w->kind != RN_WINDOW_HOP) || w->lateness_ms))
        return "processing-time windows are TUMBLE or HOP, without allowed lateness";
    for (int i = 0; i < naggs; i++) {
        if ((unsigned)aggs[i].kind > RN_AGG_MIN_BY) return "unknown aggregate kind";
        if (aggs[i].kind == RN_AGG_COUNT_STAR ? aggs[i].arg != -1
                                              : aggs[i].arg < 0 || aggs[i].arg >= ncols)
            return "aggregate argument column out of range";
        if ((aggs[i].kind == RN_AGG_MAX_BY || aggs[i].kind == RN_AGG_MIN_BY) &&
            (aggs[i].by < 0 || aggs[i].by >= ncols))
            return "aggregate ordering column out of range";
    }
    return NULL;
}

rn_op_t *rn_window_aggregate_new(rn_op_t *input, const rn_window_spec_t *w, int nkeys, int naggs,
                                 const rn_agg_spec_t *aggs, rn_schema_t *out_schema, char *errbuf,
                                 size_t errbuf_size)
{
    const char *bad = window_check(input, w, nkeys, naggs, aggs, out_schema);
    if (bad) {
        snprintf(errbuf, errbuf_size, "%s", bad);
        return NULL;
    }
    win_agg_t *a = rn_calloc(1, sizeof *a);
    if (!a) goto oom;
    a->w = *w;
    a->nkeys = nkeys;
    a->naggs = naggs;
    a->in_schema = input->schema;
    a->updating = w->lateness_ms > 0 || w->early_fire_ms > 0;
    a->win_size = sizeof(win_t) + sizeof(rn_accum_t) * (size_t)naggs;
    a->aggs = rn_calloc((size_t)(naggs ? naggs : 1), sizeof *a->aggs);
    if (!a->aggs) goto oom;
    memcpy(a->aggs, aggs, sizeof *aggs * (size_t)naggs);
    rn_buf_init(&a->key);
    rn_buf_init(&a->wkey);
    rn_buf_init(&a->res);
    rn_accum_ctx_init(&a->acx, false, true);
    for (int h = 0; h < WIN_NHEAPS; h++)
        rn_heap_init(&a->heaps[h], h == WIN_BY_START ? win_less_by_start : win_less_by_end,
                     h == WIN_RETAINED ? offsetof(win_t, retained_at)
                                       : offsetof(win_t, session_at) + (h == WIN_BY_START ? sizeof(size_t) : 0));
    if (w->kind == RN_WINDOW_SESSION)
        a->keys = rn_store_new("session-window", sizeof(sess_key_t), sess_key_free, a);
    else a->windows = rn_store_new("window", a->win_size, win_value_free, a);
    if (!a->keys && !a->windows) goto oom;
    rn_op_t *op = rn_op_new(&window_vtable, out_schema, input);
    if (!op) goto oom;
    op->priv = a;
    op->updating = a->updating;
    return op;
oom:
    win_agg_free(a);
    snprintf(errbuf, errbuf_size, "out of memory creating a window aggregate");
    return NULL;
}

void rn_window_set_late_output(rn_op_t *op, rn_op_t *late)
{
    if (rn_is_window_rows(op)) {
        rn_window_rows_set_late_output(op, late);
        return;
    }
    win_agg_t *a = op->priv;
    a->late = late;
}

bool rn_window_has_late_output(const rn_op_t *op)
{
    if (rn_is_window_rows(op)) return true; /* not asked for: say yes, the careful answer */
    return ((const win_agg_t *)op->priv)->late != NULL;
}

uint64_t rn_window_late_rows(const rn_op_t *op)
{
    if (rn_is_window_rows(op)) return rn_window_rows_late_rows(op);
    const win_agg_t *a = op->priv;
    return a->late_rows;
}

size_t rn_window_peak_windows(const rn_op_t *op)
{
    if (rn_is_window_rows(op)) return 0;
    return ((const win_agg_t *)op->priv)->peak_open;
}

size_t rn_window_open_windows(const rn_op_t *op)
{
    if (rn_is_window_rows(op)) return rn_window_rows_open_sessions(op);
    const win_agg_t *a = op->priv;
    return a->w.kind == RN_WINDOW_SESSION ? a->nsessions : rn_store_count(a->windows);
}
