/*
 * join.c - the regular streaming join (Flink's StreamingJoinOperator); the
 * contract is op/join.h.
 *
 * State. Each side keeps one rn_store keyed by its equality-key columns
 * serialized with rn_key_append (so a key's partition is what an Exchange
 * computes). The value slot is a bucket: the distinct live rows of that key
 * in arrival order, each a record {multiplicity, associations, hash, where
 * its bytes are}, and one byte buffer holding the rows encoded (per column
 * u8 null flag, then u32 length + bytes for STRING, else the u64 bits, all
 * little-endian). Rows are equal when their encodings are (DOUBLE compares
 * by bits, as Flink's binary rows do). Growing a bucket reallocates its two
 * arrays geometrically; a new key costs a slab entry of the store: no
 * allocation per row. Removed rows leave dead bytes that are compacted
 * away once they are half of the buffer. `associations` is the number of
 * partner instances on the other side (keys equal, residual TRUE); it
 * decides when an outer row's NULL-padded output is retracted or comes
 * back. Over an insert-only input an arriving row is appended without
 * searching its bucket, so equal rows may have records of their own (they
 * have equal association counts, so a retraction may take any of them);
 * over an updating input it joins an equal record, found by a linear
 * search, as retractions are (cheap for the usual few rows per key, slow
 * for keys with very many distinct live rows). A row with a NULL key is
 * stored only on an outer side (it is
 * emitted padded and its retraction must find it); on an inner side it can
 * never produce anything and is dropped (its retraction too, uncounted).
 *
 * Processing a batch from side S against the other side O (O does not
 * change while S's batch is processed, except its association counts):
 *   1. every row's key is serialized and hashed, and O's bucket for it
 *      looked up;
 *   2. the residual is evaluated vectorized over the candidate pairs
 *      (the row with every row of O's bucket), gathered RN_BATCH_MAX pairs
 *      at a time into a batch of out_schema in a private scratch arena
 *      (reset after each evaluation); the matching partners of each row
 *      are collected in a reused index array. Rows are taken in runs of
 *      at most JOIN_CANDIDATES candidates (or one row) so that scratch
 *      memory stays bounded however large a key's bucket is;
 *   3. rows are applied in order. An accumulate row (+I/+U): each partner
 *      with no association yet (O outer) has its padded row retracted
 *      (-D), its association count grows, the pairs are emitted with the
 *      row's kind, or, with no partner on an outer side, the row padded;
 *      then the row is stored (multiplicity + 1, or a new record with the
 *      partner count). A retract row (-U/-D) removes one instance of an
 *      equal stored row (none: ignored and counted, nothing emitted), then
 *      its pairs are retracted with its kind (or its padded row when it had
 *      no partner), and each partner losing its last association (O outer)
 *      gets its padded row back (+I). A stored row's values are copied out
 *      of the state into ctx->arena when emitted, so output never points
 *      into state that a later row may change.
 * Output goes out in batches of at most RN_BATCH_MAX rows without rowtime
 * or rowwm.
 *
 * State TTL (rn_join_set_ttl) is per key and side: both stores get
 * rn_store's TTL on the runtime's processing time; a key's bucket counts as
 * accessed when a row of its side arrives for it or a row of the other
 * side probes it. Expired buckets go without output, on access or by a
 * bounded sweep per batch and per watermark call.
 *
 * Window-end cleanup (rn_join_set_window_end): each side tracks the
 * smallest window_end it holds; when the watermark reaches it, the side is
 * scanned and every row whose window_end <= watermark dropped silently. A
 * row arriving with window_end <= the join's watermark is late and dropped
 * (counted), as Flink's window join drops late rows.
 *
 * Revoked partitions (forget_partitions): one pass over each store, the
 * buckets whose key bytes fall in a revoked partition removed; nothing
 * emitted or allocated.
 *
 * Snapshot (join_snapshot/join_restore), little-endian (state/snapshot.h):
 *   "RNJN", u32 version (2), u8 join kind, u32 nkeys, u8 has residual,
 *   u64 state TTL in ms (0: none), then per side (left, right):
 *     u32 ncols, ncols x u8 type id, nkeys x u32 key column,
 *     u32 window_end column + 1 (0: none)      (restore checks all these)
 *   u64 ignored retractions, u64 late rows, u64 watermark (op->watermark,
 *   which decides late window rows; RN_WM_MIN: none)   (version 2 added it)
 *   per side (left, right): u64 nbuckets, then per bucket:
 *     bytes key            the serialized key (rn_key_*)
 *     u64 last access      only with a TTL (processing time ms, >= 0)
 *     u32 nrows (> 0), then per distinct row:
 *       u64 multiplicity (> 0), u64 associations (>= 0), bytes row (the
 *       encoding above)
 * With a partition filter (docs/checkpoints.md) only the buckets whose key
 * bytes fall in a marked partition are written (rn_key_partition, as
 * forget_partitions computes it: a key's buckets on both sides go
 * together, so their association counts stay consistent); the counters
 * and the watermark are written whatever the filter.
 * Restore adds the snapshot's buckets to those the operator holds (a fresh
 * operator, or one holding other partitions' keys): a key the side holds
 * already is refused. It keeps the larger of each counter (every section carries the whole count) and takes
 * the watermark only when the operator has none yet. It checks that every
 * key decodes as the key columns, every row as the side's columns, that a
 * row's key is its bucket's, that an inner side holds no NULL key (equal
 * rows in two records are allowed, see above); a short read, a key held
 * already or twice, or a trailing byte fails with RN_ERR_DECODE, and a
 * failed restore (RN_ERR_NOMEM too) removes the buckets it added, leaving
 * the operator as it was.
 */
#include "core/assert.h"
#include "core/hash.h"
#include "core/mem.h"
#include "op/join.h"
#include "state/snapshot.h"
#include "state/store.h"

#include <stdio.h>
#include <string.h>

#define JOIN_CANDIDATES 65536   /* candidate pairs gathered per run of rows */
#define JOIN_ROW_SEED 0x5bd1e995u /* hash seed of encoded rows */

/* One distinct live row of a key on one side. */
typedef struct jrec {
    int64_t mult;               /* live instances (> 0) */
    int64_t assoc;              /* partner instances on the other side */
    uint64_t hash;              /* hash of its encoding */
    uint32_t off;               /* its encoding: data[off .. off + len) */
    uint32_t len;
} jrec_t;

/* A store value slot: the live rows of one key of one side. */
typedef struct jbucket {
    jrec_t *recs;               /* nrecs records in arrival order (owned) */
    unsigned char *data;        /* the encodings (owned) */
    uint32_t nrecs;
    uint32_t cap;               /* records allocated */
    uint32_t len;               /* bytes of data in use (dead ones included) */
    uint32_t dcap;              /* bytes of data allocated */
    uint32_t dead;              /* bytes of removed rows not compacted yet */
    int64_t rows;               /* sum of the multiplicities */
} jbucket_t;

/* One input of the join. */
typedef struct jside {
    rn_store_t *st;             /* key bytes -> jbucket_t */
    const rn_schema_t *schema;  /* the input's schema (the upstream's) */
    int ncols;                  /* its columns */
    int *keys;                  /* nkeys key columns (owned) */
    int wend_col;               /* window_end column, or -1 */
    int64_t min_wend;           /* no row held has a smaller window_end (INT64_MAX: none) */
    bool outer;                 /* unmatched rows are emitted NULL-padded */
    bool merge;                 /* the input is updating: an arriving row joins an equal
                                 * record (insert-only: appended, no search) */
    int out_off;                /* its first output column */
    int64_t rows;               /* rows held (multiplicities summed) */
    size_t bytes;               /* bytes owned by its buckets */
} jside_t;

typedef struct join {
    rn_join_kind kind;
    int nkeys;
    const rn_expr_t *residual;  /* over out_schema, or NULL (the plan's) */
    jside_t side[2];            /* [0] left, [1] right */
    int64_t ttl_ms;             /* state TTL, 0: none */
    bool started;               /* a batch or watermark has been seen */
    uint64_t ignored;           /* retractions of rows not held */
    uint64_t late;              /* rows dropped for window_end <= watermark */
    rn_buf_t key;               /* scratch: a serialized key */
    rn_buf_t row;               /* scratch: an encoded row */
    rn_value_t *vals;           /* scratch: one decoded row (widest side) */
    uint32_t *midx;             /* matching partners of a run of rows (reused) */
    size_t midx_cap;
    rn_arena_t scratch;         /* residual evaluation, reset after each */
} join_t;

/* ---- row encoding ---------------------------------------------------------- */

/* Appends the encoding of one row (vals, or column arrays of a batch) to b. */
static void row_encode_vals(rn_buf_t *b, const jside_t *s, const rn_value_t *vals)
{
    rn_buf_clear(b);
    for (int c = 0; c < s->ncols; c++) {
        const rn_value_t *v = &vals[c];
        if (v->null) {
            rn_snap_put_u8(b, 0);
            continue;
        }
        rn_snap_put_u8(b, 1);
        if (s->schema->cols[c].type->id == RN_TYPE_STRING) rn_snap_put_bytes(b, v->s, v->len);
        else rn_snap_put_u64(b, (uint64_t)v->i);
    }
}

/* Row r of in as values (a column the source never decoded reads NULL). */
static void row_values(const jside_t *s, const rn_batch_t *in, int r, rn_value_t *vals)
{
    for (int c = 0; c < s->ncols; c++) vals[c] = in->cols[c] ? in->cols[c][r] : RN_VALUE_NULL;
}

/* Decodes an encoded row into vals (strings point into p). Returns false
 * if p[0..len) is not exactly one row of s's columns. */
static bool row_decode(const jside_t *s, const void *p, uint32_t len, rn_value_t *vals)
{
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, p, len);
    for (int c = 0; c < s->ncols; c++) {
        uint8_t tag = rn_snap_u8(&r);
        if (tag > 1 || r.bad) return false;
        if (!tag) {
            vals[c] = RN_VALUE_NULL;
            continue;
        }
        if (s->schema->cols[c].type->id == RN_TYPE_STRING) {
            uint32_t n;
            const char *str = rn_snap_bytes(&r, &n);
            if (!str && r.bad) return false;
            vals[c] = rn_value_str(str ? str : "", n);
        } else {
            vals[c] = rn_value_int((int64_t)rn_snap_u64(&r));
        }
    }
    return rn_snap_done(&r);
}

/* Serializes the key columns of vals into j->key. Returns false on OOM;
 * *null tells whether a key column is NULL. */
static bool key_of_vals(join_t *j, const jside_t *s, const rn_value_t *vals, bool *null)
{
    rn_buf_clear(&j->key);
    *null = false;
    for (int k = 0; k < j->nkeys; k++) {
        const rn_value_t *v = &vals[s->keys[k]];
        *null |= v->null != 0;
        rn_key_append(&j->key, s->schema->cols[s->keys[k]].type->id, v);
    }
    return !j->key.oom;
}

/* ---- buckets --------------------------------------------------------------- */

static void bucket_free(void *value, void *opaque)
{
    jbucket_t *b = value;
    jside_t *s = opaque;
    s->rows -= b->rows;
    s->bytes -= (size_t)b->cap * sizeof(jrec_t) + b->dcap;
    rn_free(b->recs);
    rn_free(b->data);
}

/* The index of the record encoded as p[0..len) with hash h, or -1. */
static int bucket_find(const jbucket_t *b, const void *p, uint32_t len, uint64_t h)
{
    for (uint32_t i = 0; i < b->nrecs; i++) {
        const jrec_t *r = &b->recs[i];
        if (r->hash == h && r->len == len && !memcmp(b->data + r->off, p, len)) return (int)i;
    }
    return -1;
}

/* Appends a record (multiplicity mult) for the row encoded as p[0..len).
 * Returns false on OOM (the bucket is unchanged). */
static bool bucket_add(jside_t *s, jbucket_t *b, const void *p, uint32_t len, uint64_t h,
                       int64_t mult, int64_t assoc)
{
    if (b->nrecs == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 2;
        if (cap < b->cap) return false;
        jrec_t *recs = rn_realloc(b->recs, sizeof *recs * cap);
        if (!recs) return false;
        s->bytes += (size_t)(cap - b->cap) * sizeof *recs;
        b->recs = recs;
        b->cap = cap;
    }
    if (len > UINT32_MAX - b->len) return false;
    if (b->len + len > b->dcap) {
        uint64_t cap = b->dcap ? (uint64_t)b->dcap * 2 : 64;
        if (cap < (uint64_t)b->len + len) cap = (uint64_t)b->len + len;
        if (cap > UINT32_MAX) cap = UINT32_MAX;
        unsigned char *data = rn_realloc(b->data, (size_t)cap);
        if (!data) return false;
        s->bytes += (size_t)(cap - b->dcap);
        b->data = data;
        b->dcap = (uint32_t)cap;
    }
    if (len) memcpy(b->data + b->len, p, len);
    b->recs[b->nrecs++] = (jrec_t){.mult = mult, .assoc = assoc, .hash = h, .off = b->len, .len = len};
    b->len += len;
    b->rows += mult;
    s->rows += mult;
    return true;
}

/* Removes record i (all its instances), compacting the bytes once half of
 * them are dead. Cannot fail. */
static void bucket_remove(jside_t *s, jbucket_t *b, uint32_t i)
{
    RN_ASSERT(i < b->nrecs && b->recs[i].mult > 0 && b->rows >= b->recs[i].mult);
    b->rows -= b->recs[i].mult;
    s->rows -= b->recs[i].mult;
    b->dead += b->recs[i].len;
    memmove(&b->recs[i], &b->recs[i + 1], sizeof *b->recs * (b->nrecs - i - 1));
    b->nrecs--;
    if (b->dead < 256 || b->dead * 2 < b->len) return;
    uint32_t w = 0; /* records keep their bytes in order: moving down is safe */
    for (uint32_t r = 0; r < b->nrecs; r++) {
        memmove(b->data + w, b->data + b->recs[r].off, b->recs[r].len);
        b->recs[r].off = w;
        w += b->recs[r].len;
    }
    b->len = w;
    b->dead = 0;
}

/* ---- output ---------------------------------------------------------------- */

typedef struct jout {
    rn_op_t *op;
    rn_ctx_t *ctx;
    rn_batch_t *b;              /* batch being filled, or NULL */
} jout_t;

static rn_err_t out_flush(jout_t *o)
{
    rn_batch_t *b = o->b;
    o->b = NULL;
    return b && b->nrows ? rn_op_emit(o->op, b, o->ctx) : RN_OK;
}

/* Starts an output row of kind; returns its index in o->b, or -1 with
 * *err set (the flush failed, or OOM). */
static int out_row(jout_t *o, rn_rowkind_t kind, rn_err_t *err)
{
    if (o->b && o->b->nrows == o->b->cap && (*err = out_flush(o)) != RN_OK) return -1;
    if (!o->b && !(o->b = rn_batch_new(o->ctx->arena, o->op->schema, RN_BATCH_MAX))) {
        *err = RN_ERR_NOMEM;
        return -1;
    }
    int r = o->b->nrows++;
    o->b->kinds[r] = (uint8_t)kind;
    return r;
}

/* Writes side s's part of output row r: vals (strings copied into the
 * arena when copy), or NULLs when vals is NULL. Returns false on OOM. */
static bool out_side(jout_t *o, int r, const jside_t *s, const rn_value_t *vals, bool copy)
{
    for (int c = 0; c < s->ncols; c++) {
        rn_value_t v = vals ? vals[c] : RN_VALUE_NULL;
        if (copy && !v.null && s->schema->cols[c].type->id == RN_TYPE_STRING) {
            char *p = rn_arena_strndup(o->ctx->arena, v.s ? v.s : "", v.len);
            if (!p) return false;
            v.s = p;
        }
        o->b->cols[s->out_off + c][r] = v;
    }
    return true;
}

/* Emits n copies of one output row: side a's values av (from the input
 * batch, or NULL for padding) and side b's bv (decoded from state: copied
 * once into the arena, or NULL for padding). */
static rn_err_t out_emit(jout_t *o, rn_rowkind_t kind, int64_t n, const jside_t *a,
                         const rn_value_t *av, const jside_t *b, const rn_value_t *bv)
{
    rn_err_t err = RN_OK;
    int first = -1;
    rn_batch_t *fb = NULL;
    for (int64_t i = 0; i < n; i++) {
        int r = out_row(o, kind, &err);
        if (r < 0) return err;
        if (first < 0) {
            if (!out_side(o, r, a, av, false) || !out_side(o, r, b, bv, true)) return RN_ERR_NOMEM;
            first = r;
            fb = o->b;
            continue;
        }
        /* A copy of the first: its strings already live in the arena. */
        for (int c = 0; c < o->op->schema->ncols; c++) o->b->cols[c][r] = fb->cols[c][first];
    }
    return RN_OK;
}

/* ---- processing ------------------------------------------------------------ */

/* What phase 1 found for one input row. */
typedef struct jprobe {
    uint64_t hash;              /* of its key */
    uint32_t koff, klen;        /* its key bytes in the batch's key area */
    jbucket_t *other;           /* the other side's bucket for the key, or NULL */
    uint32_t mstart, mcount;    /* its matches in j->midx (with a residual) */
    uint8_t null_key;           /* a key column is NULL */
    uint8_t late;               /* dropped: window_end <= watermark */
} jprobe_t;

/* With a TTL: moves both stores' clock to now and sweeps a bounded number
 * of their slots. */
static void join_expire(join_t *j, int64_t now_ms, int nrows)
{
    if (j->ttl_ms <= 0) return;
    size_t budget = 2 * (size_t)nrows + 64;
    for (int s = 0; s < 2; s++) {
        rn_store_set_now(j->side[s].st, now_ms);
        rn_store_sweep(j->side[s].st, budget, NULL, NULL);
    }
}

static bool join_midx_reserve(join_t *j, size_t n)
{
    if (n <= j->midx_cap) return true;
    size_t cap = j->midx_cap ? j->midx_cap : 1024;
    while (cap < n) cap *= 2;
    uint32_t *m = rn_realloc(j->midx, sizeof *m * cap);
    if (!m) return false;
    j->midx = m;
    j->midx_cap = cap;
    return true;
}

/* Phase 2 for rows [a, e) of in (from side S): evaluates the residual over
 * every candidate pair and fills each row's matches. */
static rn_err_t join_match(join_t *j, const jside_t *S, const jside_t *O, const rn_batch_t *in,
                           int a, int e, jprobe_t *pr, const rn_schema_t *out_schema)
{
    size_t total = 0;
    for (int r = a; r < e; r++) total += pr[r].other ? pr[r].other->nrecs : 0;
    if (!join_midx_reserve(j, total ? total : 1)) return RN_ERR_NOMEM;
    uint32_t nm = 0;
    int r = a;
    uint32_t i = 0; /* next partner of row r */
    rn_err_t err = RN_OK;
    for (int q = a; q < e; q++) pr[q].mcount = 0;
    while (r < e) {
        rn_arena_reset(&j->scratch);
        rn_batch_t *cand = rn_batch_new(&j->scratch, out_schema, RN_BATCH_MAX);
        int *prow = rn_arena_alloc(&j->scratch, sizeof(int) * RN_BATCH_MAX);
        uint32_t *prec = rn_arena_alloc(&j->scratch, sizeof(uint32_t) * RN_BATCH_MAX);
        int *sel = rn_arena_alloc(&j->scratch, sizeof(int) * RN_BATCH_MAX);
        if (!cand || !prow || !prec || !sel) {
            err = RN_ERR_NOMEM;
            break;
        }
        while (r < e && cand->nrows < RN_BATCH_MAX) {
            const jbucket_t *b = pr[r].other;
            if (!b || i >= b->nrecs) {
                r++;
                i = 0;
                continue;
            }
            int p = cand->nrows++;
            for (int c = 0; c < S->ncols; c++)
                cand->cols[S->out_off + c][p] = in->cols[c] ? in->cols[c][r] : RN_VALUE_NULL;
            const jrec_t *rec = &b->recs[i];
            bool valid = row_decode(O, b->data + rec->off, rec->len, j->vals); /* written by us */
            RN_ASSERT(valid);
            (void)valid;
            for (int c = 0; c < O->ncols; c++) cand->cols[O->out_off + c][p] = j->vals[c];
            prow[p] = r;
            prec[p] = i++;
        }
        if (!cand->nrows) break;
        int n = rn_expr_select(j->residual, cand, &j->scratch, sel);
        if (n < 0) {
            err = RN_ERR_NOMEM;
            break;
        }
        for (int s = 0; s < n; s++) {
            j->midx[nm++] = prec[sel[s]];
            pr[prow[sel[s]]].mcount++;
        }
    }
    rn_arena_reset(&j->scratch);
    /* Matches were collected in row order: each row's start follows. */
    uint32_t off = 0;
    for (int q = a; q < e; q++) {
        pr[q].mstart = off;
        off += pr[q].mcount;
    }
    return err;
}

/* The k-th match of a row: an index into its other bucket. */
static inline uint32_t join_match_at(const join_t *j, const jprobe_t *p, uint32_t k)
{
    return j->residual ? j->midx[p->mstart + k] : k;
}

static inline uint32_t join_nmatches(const join_t *j, const jprobe_t *p)
{
    if (!p->other || p->null_key) return 0;
    return j->residual ? p->mcount : p->other->nrecs;
}

/* Phase 3 for one row r of in (from side S); vals is room for its values. */
static rn_err_t join_apply(join_t *j, jout_t *o, jside_t *S, jside_t *O, const rn_batch_t *in,
                           int r, const jprobe_t *p, const unsigned char *keys, rn_value_t *vals)
{
    rn_err_t err;
    rn_rowkind_t kind = (rn_rowkind_t)in->kinds[r];
    bool retract = rn_rowkind_is_retract(kind);
    if (p->late || (p->null_key && !S->outer)) return RN_OK;
    row_values(S, in, r, vals);
    row_encode_vals(&j->row, S, vals);
    if (j->row.oom || j->row.len > UINT32_MAX) return RN_ERR_NOMEM;
    uint32_t rlen = (uint32_t)j->row.len;
    uint64_t rh = rn_hash_bytes(j->row.data, rlen, JOIN_ROW_SEED);
    const unsigned char *key = keys + p->koff;
    jbucket_t *mine = NULL;
    int idx = -1;
    int64_t had = 0; /* a retracted row's associations */
    if (retract) {
        mine = rn_store_find(S->st, key, p->klen, p->hash);
        if (mine) idx = bucket_find(mine, j->row.data, rlen, rh);
        if (idx < 0) {
            j->ignored++;
            return RN_OK;
        }
        had = mine->recs[idx].assoc;
        if (mine->recs[idx].mult == 1) bucket_remove(S, mine, (uint32_t)idx);
        else {
            mine->recs[idx].mult--;
            mine->rows--;
            S->rows--;
        }
        if (mine->nrecs == 0) rn_store_remove(S->st, key, p->klen, p->hash);
    }

    jbucket_t *ob = p->other;
    uint32_t nm = join_nmatches(j, p);
    int64_t partners = 0;
    rn_value_t *ovals = j->vals;
    for (uint32_t k = 0; k < nm; k++) partners += ob->recs[join_match_at(j, p, k)].mult;

    /* Accumulate: the partners' padded rows go first (Flink's order). */
    if (!retract && O->outer) {
        for (uint32_t k = 0; k < nm; k++) {
            jrec_t *rec = &ob->recs[join_match_at(j, p, k)];
            if (rec->assoc++ > 0) continue;
            row_decode(O, ob->data + rec->off, rec->len, ovals);
            if ((err = out_emit(o, RN_ROW_DELETE, rec->mult, O, ovals, S, NULL)) != RN_OK) return err;
        }
    }
    for (uint32_t k = 0; k < nm; k++) {
        const jrec_t *rec = &ob->recs[join_match_at(j, p, k)];
        row_decode(O, ob->data + rec->off, rec->len, ovals);
        if ((err = out_emit(o, kind, rec->mult, S, vals, O, ovals)) != RN_OK) return err;
    }
    /* Its own padded row; a retracted row whose partners all expired (TTL)
     * had it retracted already. */
    if (nm == 0 && S->outer && !(retract && had > 0) &&
        (err = out_emit(o, kind, 1, S, vals, O, NULL)) != RN_OK)
        return err;
    /* Retract: partners losing their last association get their padded row back. */
    if (retract && O->outer) {
        for (uint32_t k = 0; k < nm; k++) {
            jrec_t *rec = &ob->recs[join_match_at(j, p, k)];
            if (rec->assoc <= 0) continue; /* inexact after a TTL: never below zero */
            if (--rec->assoc > 0) continue;
            row_decode(O, ob->data + rec->off, rec->len, ovals);
            if ((err = out_emit(o, RN_ROW_INSERT, rec->mult, O, ovals, S, NULL)) != RN_OK) return err;
        }
    }
    RN_ASSERT(S->rows >= 0 && O->rows >= 0);
    if (retract) return RN_OK;

    bool created;
    mine = rn_store_upsert(S->st, key, p->klen, p->hash, &created);
    if (!mine) return RN_ERR_NOMEM;
    idx = created || !S->merge ? -1 : bucket_find(mine, j->row.data, rlen, rh);
    if (idx >= 0) {
        mine->recs[idx].mult++;
        mine->rows++;
        S->rows++;
    } else if (!bucket_add(S, mine, j->row.data, rlen, rh, 1, partners)) {
        if (mine->nrecs == 0) rn_store_remove(S->st, key, p->klen, p->hash);
        return RN_ERR_NOMEM;
    }
    if (S->wend_col >= 0 && !vals[S->wend_col].null && vals[S->wend_col].i < S->min_wend)
        S->min_wend = vals[S->wend_col].i;
    return RN_OK;
}

static rn_err_t join_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    join_t *j = op->priv;
    if (port != 0 && port != 1) return RN_ERR_UNSUPPORTED;
    j->started = true;
    jside_t *S = &j->side[port], *O = &j->side[1 - port];
    int n = in->nrows;
    if (n == 0) return RN_OK;
    join_expire(j, ctx->now_ms, n);

    /* Phase 1: keys, hashes and the other side's buckets. */
    jprobe_t *pr = rn_arena_calloc(ctx->arena, (size_t)n, sizeof *pr);
    rn_value_t *vals = rn_arena_alloc(ctx->arena, sizeof *vals * (size_t)(S->ncols ? S->ncols : 1));
    rn_buf_t *keys = &j->key; /* reused below: copy every key into one arena area */
    if (!pr || !vals) return RN_ERR_NOMEM;
    size_t kcap = 64 * (size_t)n, kused = 0;
    unsigned char *karea = rn_arena_alloc(ctx->arena, kcap);
    if (!karea) return RN_ERR_NOMEM;
    for (int r = 0; r < n; r++) {
        row_values(S, in, r, vals);
        bool null;
        if (!key_of_vals(j, S, vals, &null)) return RN_ERR_NOMEM;
        if (kused + keys->len > kcap) {
            size_t cap = kcap * 2;
            while (cap < kused + keys->len) cap *= 2;
            unsigned char *k = rn_arena_alloc(ctx->arena, cap);
            if (!k) return RN_ERR_NOMEM;
            if (kused) memcpy(k, karea, kused);
            karea = k;
            kcap = cap;
        }
        if (keys->len) memcpy(karea + kused, keys->data, keys->len);
        jprobe_t *p = &pr[r];
        p->koff = (uint32_t)kused;
        p->klen = (uint32_t)keys->len;
        kused += keys->len;
        p->hash = rn_hash_bytes(karea + p->koff, p->klen, 0);
        p->null_key = null;
        if (S->wend_col >= 0 && op->watermark != RN_WM_MIN && !vals[S->wend_col].null &&
            vals[S->wend_col].i <= op->watermark) {
            p->late = 1;
            j->late++;
            continue;
        }
        if (!null) p->other = rn_store_find(O->st, karea + p->koff, p->klen, p->hash);
    }

    /* Phases 2 and 3, a run of rows at a time. */
    jout_t o = {.op = op, .ctx = ctx};
    rn_err_t err = RN_OK;
    for (int a = 0; a < n && err == RN_OK;) {
        int e = a;
        size_t cand = 0;
        do {
            cand += pr[e].other && !pr[e].null_key && !pr[e].late ? pr[e].other->nrecs : 0;
            e++;
        } while (e < n && cand + (pr[e].other ? pr[e].other->nrecs : 0) <= JOIN_CANDIDATES);
        if (j->residual) err = join_match(j, S, O, in, a, e, pr, op->schema);
        for (int r = a; r < e && err == RN_OK; r++) err = join_apply(j, &o, S, O, in, r, &pr[r], karea, vals);
        a = e;
    }
    if (err == RN_OK) err = out_flush(&o);
    return err;
}

/* ---- window-end cleanup ------------------------------------------------------ */

/* Drops every row of s whose window_end <= wm, then recomputes the
 * smallest window_end held. */
static void join_drop_windows(join_t *j, jside_t *s, int64_t wm)
{
    int64_t min = INT64_MAX;
    size_t pos = 0;
    jbucket_t *b;
    while ((b = rn_store_next(s->st, &pos))) {
        for (uint32_t i = b->nrecs; i-- > 0;) {
            const jrec_t *rec = &b->recs[i];
            if (!row_decode(s, b->data + rec->off, rec->len, j->vals)) continue;
            const rn_value_t *w = &j->vals[s->wend_col];
            if (w->null) continue;
            if (w->i <= wm) bucket_remove(s, b, i);
            else if (w->i < min) min = w->i;
        }
        if (b->nrecs == 0) rn_store_remove_iterated(s->st, pos);
    }
    s->min_wend = min;
}

static rn_err_t join_watermark(rn_op_t *op, int64_t wm, rn_ctx_t *ctx)
{
    join_t *j = op->priv;
    op->watermark = wm;
    join_expire(j, ctx->now_ms, 0);
    for (int s = 0; s < 2; s++) {
        jside_t *side = &j->side[s];
        if (side->wend_col >= 0 && wm != RN_WM_MIN && side->min_wend <= wm) join_drop_windows(j, side, wm);
    }
    return rn_op_watermark(op, wm, ctx);
}

/* ---- explain, size, destroy ---------------------------------------------------- */

static void join_explain(const rn_op_t *op, rn_buf_t *out)
{
    const join_t *j = op->priv;
    static const char *kinds[] = {"INNER", "LEFT", "RIGHT", "FULL"};
    const rn_schema_t *s = op->schema;
    const jside_t *l = &j->side[0], *r = &j->side[1];
    rn_buf_appendf(out, "%s [", kinds[j->kind]);
    for (int k = 0; k < j->nkeys; k++)
        rn_buf_appendf(out, "%s%s = %s", k ? ", " : "", s->cols[l->out_off + l->keys[k]].name,
                       s->cols[r->out_off + r->keys[k]].name);
    rn_buf_appends(out, "]");
    if (j->residual) {
        rn_buf_appends(out, ", residual ");
        rn_expr_explain(j->residual, s, out);
    }
    if (l->wend_col >= 0)
        rn_buf_appendf(out, ", drops windows [%s, %s] at the watermark", s->cols[l->out_off + l->wend_col].name,
                       s->cols[r->out_off + r->wend_col].name);
    if (j->ttl_ms > 0) rn_buf_appendf(out, ", state ttl %lld ms", (long long)j->ttl_ms);
}

static size_t join_state_size(const rn_op_t *op, size_t *keys)
{
    const join_t *j = op->priv;
    *keys = rn_store_count(j->side[0].st) + rn_store_count(j->side[1].st);
    size_t bytes = 0;
    for (int s = 0; s < 2; s++) bytes += rn_store_bytes(j->side[s].st) + j->side[s].bytes;
    return bytes;
}

static void join_free(join_t *j)
{
    if (!j) return;
    for (int s = 0; s < 2; s++) {
        rn_store_free(j->side[s].st);
        rn_free(j->side[s].keys);
    }
    rn_buf_free(&j->key);
    rn_buf_free(&j->row);
    rn_free(j->vals);
    rn_free(j->midx);
    rn_arena_free(&j->scratch);
    rn_free(j);
}

static void join_destroy(rn_op_t *op) { join_free(op->priv); }

/* ---- forgetting revoked partitions ------------------------------------------------ */

/* Drops, silently, the keys of both sides that fall in revoked
 * partitions. Allocates nothing; returns RN_OK. */
static rn_err_t join_forget_partitions(rn_op_t *op, int32_t nparts, const uint8_t *revoked)
{
    join_t *j = op->priv;
    for (int s = 0; s < 2; s++) rn_store_forget_partitions(j->side[s].st, nparts, revoked);
    return RN_OK;
}

/* ---- snapshot and restore (format in the note at the top) --------------------------- */

#define JOIN_SNAP_MAGIC "RNJN"
#define JOIN_SNAP_VERSION 2u

/* The plan-derived header: what restore checks. */
static void join_put_header(const join_t *j, rn_buf_t *out)
{
    rn_buf_append(out, JOIN_SNAP_MAGIC, 4);
    rn_snap_put_u32(out, JOIN_SNAP_VERSION);
    rn_snap_put_u8(out, (uint8_t)j->kind);
    rn_snap_put_u32(out, (uint32_t)j->nkeys);
    rn_snap_put_u8(out, j->residual ? 1 : 0);
    rn_snap_put_u64(out, (uint64_t)j->ttl_ms);
    for (int s = 0; s < 2; s++) {
        const jside_t *side = &j->side[s];
        rn_snap_put_u32(out, (uint32_t)side->ncols);
        for (int c = 0; c < side->ncols; c++) rn_snap_put_u8(out, (uint8_t)side->schema->cols[c].type->id);
        for (int k = 0; k < j->nkeys; k++) rn_snap_put_u32(out, (uint32_t)side->keys[k]);
        rn_snap_put_u32(out, (uint32_t)(side->wend_col + 1));
    }
}

/* Whether a snapshot filtered by parts (NULL: every key) takes the key
 * k[0..klen): its partition as rn_store_forget_partitions computes it. */
static bool join_takes(const rn_part_filter_t *parts, const void *k, uint32_t klen)
{
    return !parts || (parts->nparts > 0 && parts->parts[rn_key_partition(k, klen, parts->nparts)]);
}

static rn_err_t join_snapshot(const rn_op_t *op, rn_buf_t *out, const rn_part_filter_t *parts)
{
    const join_t *j = op->priv;
    join_put_header(j, out);
    rn_snap_put_u64(out, j->ignored);
    rn_snap_put_u64(out, j->late);
    rn_snap_put_u64(out, (uint64_t)op->watermark);
    for (int s = 0; s < 2; s++) {
        const rn_store_t *st = j->side[s].st;
        size_t at = out->len; /* the bucket count, written once known */
        rn_snap_put_u64(out, 0);
        uint64_t nb = 0;
        size_t pos = 0;
        const jbucket_t *b;
        while ((b = rn_store_next(st, &pos))) {
            uint32_t klen;
            const void *k = rn_store_key_of(st, b, &klen);
            if (!join_takes(parts, k, klen)) continue;
            nb++;
            rn_snap_put_bytes(out, k, klen);
            if (j->ttl_ms > 0) rn_snap_put_u64(out, (uint64_t)rn_store_access_time(st, b));
            rn_snap_put_u32(out, b->nrecs);
            for (uint32_t i = 0; i < b->nrecs; i++) {
                const jrec_t *rec = &b->recs[i];
                rn_snap_put_u64(out, (uint64_t)rec->mult);
                rn_snap_put_u64(out, (uint64_t)rec->assoc);
                rn_snap_put_bytes(out, b->data + rec->off, rec->len);
            }
        }
        if (out->oom) break;
        for (int i = 0; i < 8; i++) out->data[at + (size_t)i] = (char)(unsigned char)(nb >> (8 * i));
    }
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}

/* Whether key[0..klen) decodes as s's key columns with nothing left. */
static bool join_key_valid(const join_t *j, const jside_t *s, const void *key, uint32_t klen)
{
    uint32_t off = 0;
    rn_value_t v;
    for (int k = 0; k < j->nkeys; k++)
        if (!rn_key_read(key, klen, &off, s->schema->cols[s->keys[k]].type->id, &v)) return false;
    return off == klen;
}

/* Reads one bucket of side s into its store; *added is set once the
 * bucket was created (it is then the caller's to remove on failure). A
 * key the side holds already fails with RN_ERR_DECODE, *added false. */
static rn_err_t join_read_bucket(join_t *j, jside_t *s, rn_snap_reader_t *r, bool *added)
{
    *added = false;
    uint32_t klen;
    const void *k = rn_snap_bytes(r, &klen);
    int64_t access = j->ttl_ms > 0 ? (int64_t)rn_snap_u64(r) : 0;
    uint32_t nrecs = rn_snap_u32(r);
    if (r->bad || access < 0 || nrecs == 0 || !join_key_valid(j, s, k, klen)) return RN_ERR_DECODE;
    /* The key bytes point into the snapshot, which j->key below must not clobber. */
    uint64_t kh = rn_hash_bytes(k, klen, 0);
    /* A key held already, or twice in the snapshot (peek: an upsert would
     * count as an access of the held bucket, and an expired one not swept
     * yet is refused too). */
    if (rn_store_peek(s->st, k, klen, kh)) return RN_ERR_DECODE;
    bool created;
    jbucket_t *b = rn_store_upsert(s->st, k, klen, kh, &created);
    if (!b) return RN_ERR_NOMEM;
    RN_ASSERT(created);
    *added = true;
    rn_store_set_access_time(s->st, b, access);
    for (uint32_t i = 0; i < nrecs; i++) {
        int64_t mult = (int64_t)rn_snap_u64(r);
        int64_t assoc = (int64_t)rn_snap_u64(r);
        uint32_t len;
        const void *p = rn_snap_bytes(r, &len);
        if (r->bad || mult <= 0 || assoc < 0 || mult > INT64_MAX - s->rows) return RN_ERR_DECODE;
        if (!row_decode(s, p, len, j->vals)) return RN_ERR_DECODE;
        bool null;
        if (!key_of_vals(j, s, j->vals, &null)) return RN_ERR_NOMEM;
        if (j->key.len != klen || (klen && memcmp(j->key.data, k, klen)) || (null && !s->outer))
            return RN_ERR_DECODE;
        uint64_t h = rn_hash_bytes(p, len, JOIN_ROW_SEED);
        if (!bucket_add(s, b, p, len, h, mult, assoc)) return RN_ERR_NOMEM;
        if (s->wend_col >= 0 && !j->vals[s->wend_col].null && j->vals[s->wend_col].i < s->min_wend)
            s->min_wend = j->vals[s->wend_col].i;
    }
    return RN_OK;
}

/* Undoes a failed restore: reads the buckets again from r (just past the
 * operator-wide values) and removes the first added[s] keys of each side,
 * the ones that restore created. Those bytes were read once already, so
 * this cannot fail. */
static void join_unrestore(join_t *j, rn_snap_reader_t *r, const uint64_t added[2])
{
    for (int s = 0; s < 2; s++) {
        /* side 0 is read through when side 1 has buckets to remove */
        uint64_t upto = s == 0 && added[1] > 0 ? UINT64_MAX : added[s];
        if (upto == 0) break;
        uint64_t nb = rn_snap_u64(r);
        for (uint64_t b = 0; b < nb && b < upto && !r->bad; b++) {
            uint32_t klen, len;
            const void *k = rn_snap_bytes(r, &klen);
            if (b < added[s]) rn_store_remove(j->side[s].st, k, klen, rn_hash_bytes(k, klen, 0));
            if (j->ttl_ms > 0) rn_snap_u64(r);
            uint32_t nrecs = rn_snap_u32(r);
            for (uint32_t i = 0; i < nrecs && !r->bad; i++) {
                rn_snap_u64(r);
                rn_snap_u64(r);
                rn_snap_bytes(r, &len);
            }
        }
    }
}

/* Adds the snapshot's buckets to those the sides hold. On failure the
 * buckets this call created are removed again (join_unrestore), so the
 * operator holds what it held before; a side's smallest window_end may
 * stay lower than needed, which costs one needless scan. */
static rn_err_t join_restore(rn_op_t *op, const void *data, size_t len)
{
    join_t *j = op->priv;
    rn_buf_t hdr;
    rn_buf_init(&hdr);
    join_put_header(j, &hdr);
    if (hdr.oom) {
        rn_buf_free(&hdr);
        return RN_ERR_NOMEM;
    }
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, data, len);
    bool same = rn_snap_have(&r, hdr.len) && !memcmp(r.p, hdr.data, hdr.len);
    r.off += same ? hdr.len : 0;
    rn_buf_free(&hdr);
    if (!same) return RN_ERR_DECODE;
    uint64_t ignored = rn_snap_u64(&r), late = rn_snap_u64(&r);
    int64_t wm = (int64_t)rn_snap_u64(&r);
    if (r.bad) return RN_ERR_DECODE;
    rn_snap_reader_t body = r; /* where join_unrestore reads again */
    uint64_t added[2] = {0, 0};
    rn_err_t err = RN_OK;
    for (int s = 0; s < 2 && err == RN_OK; s++) {
        uint64_t nb = rn_snap_u64(&r);
        if (r.bad) err = RN_ERR_DECODE;
        for (uint64_t b = 0; b < nb && err == RN_OK; b++) {
            bool created;
            err = join_read_bucket(j, &j->side[s], &r, &created);
            added[s] += created;
        }
    }
    if (err == RN_OK && !rn_snap_done(&r)) err = RN_ERR_DECODE;
    if (err != RN_OK) {
        join_unrestore(j, &body, added);
        return err;
    }
    if (ignored > j->ignored) j->ignored = ignored; /* each section carries the whole count */
    if (late > j->late) j->late = late;
    if (op->watermark == RN_WM_MIN) op->watermark = wm;
    return RN_OK;
}

static const rn_op_vtable_t join_vtable = {
    .kind = "Join",
    .process = join_process,
    .explain = join_explain,
    .destroy = join_destroy,
    .watermark = join_watermark,
    .state_size = join_state_size,
    .snapshot = join_snapshot,
    .restore = join_restore,
    .forget_partitions = join_forget_partitions,
};

/* ---- construction and accessors ----------------------------------------------------- */

/* Checks the arguments of rn_join_new; writes why not to errbuf. */
static bool join_check(const rn_op_t *left, const rn_op_t *right, const rn_join_spec_t *spec,
                       const rn_schema_t *out, char *errbuf, size_t errbuf_size)
{
    if (!left || !right || !spec || !out) {
        snprintf(errbuf, errbuf_size, "join: missing input, spec or schema");
        return false;
    }
    const rn_schema_t *ls = left->schema, *rs = right->schema;
    if (spec->kind < RN_JOIN_KIND_INNER || spec->kind > RN_JOIN_KIND_FULL || spec->nkeys < 0 ||
        (spec->nkeys > 0 && (!spec->left_keys || !spec->right_keys))) {
        snprintf(errbuf, errbuf_size, "join: bad join kind or keys");
        return false;
    }
    if (out->ncols != ls->ncols + rs->ncols) {
        snprintf(errbuf, errbuf_size, "join: output has %d columns, inputs %d + %d", out->ncols,
                 ls->ncols, rs->ncols);
        return false;
    }
    for (int c = 0; c < out->ncols; c++) {
        const rn_type_t *t = c < ls->ncols ? ls->cols[c].type : rs->cols[c - ls->ncols].type;
        if (out->cols[c].type->id != t->id) {
            snprintf(errbuf, errbuf_size, "join: output column %s has another type than its input",
                     out->cols[c].name);
            return false;
        }
    }
    for (int k = 0; k < spec->nkeys; k++) {
        int l = spec->left_keys[k], r = spec->right_keys[k];
        if (l < 0 || l >= ls->ncols || r < 0 || r >= rs->ncols) {
            snprintf(errbuf, errbuf_size, "join: key column out of range");
            return false;
        }
        if (ls->cols[l].type->id != rs->cols[r].type->id) {
            snprintf(errbuf, errbuf_size, "join: key types differ: %s is %s, %s is %s", ls->cols[l].name,
                     rn_type_name(ls->cols[l].type->id), rs->cols[r].name, rn_type_name(rs->cols[r].type->id));
            return false;
        }
    }
    if (spec->residual && spec->residual->type->id != RN_TYPE_BOOLEAN) {
        snprintf(errbuf, errbuf_size, "join: the residual condition is not BOOLEAN");
        return false;
    }
    return true;
}

rn_op_t *rn_join_new(rn_op_t *left, rn_op_t *right, const rn_join_spec_t *spec,
                     rn_schema_t *out_schema, char *errbuf, size_t errbuf_size)
{
    if (!join_check(left, right, spec, out_schema, errbuf, errbuf_size)) return NULL;
    rn_op_t *op = NULL;
    join_t *j = rn_calloc(1, sizeof *j);
    if (!j) goto oom;
    j->kind = spec->kind;
    j->nkeys = spec->nkeys;
    j->residual = spec->residual;
    rn_buf_init(&j->key);
    rn_buf_init(&j->row);
    rn_arena_init(&j->scratch, 0);
    const rn_op_t *in[2] = {left, right};
    const int *keys[2] = {spec->left_keys, spec->right_keys};
    int widest = 1;
    for (int s = 0; s < 2; s++) {
        jside_t *side = &j->side[s];
        side->schema = in[s]->schema;
        side->ncols = in[s]->schema->ncols;
        side->wend_col = -1;
        side->min_wend = INT64_MAX;
        side->out_off = s ? left->schema->ncols : 0;
        side->merge = in[s]->updating;
        side->outer = spec->kind == RN_JOIN_KIND_FULL ||
                      spec->kind == (s ? RN_JOIN_KIND_RIGHT : RN_JOIN_KIND_LEFT);
        side->keys = rn_calloc((size_t)(spec->nkeys ? spec->nkeys : 1), sizeof(int));
        if (!side->keys) goto oom;
        if (spec->nkeys) memcpy(side->keys, keys[s], sizeof(int) * (size_t)spec->nkeys);
        side->st = rn_store_new(s ? "join-right" : "join-left", sizeof(jbucket_t), bucket_free, side);
        if (!side->st) goto oom;
        if (side->ncols > widest) widest = side->ncols;
    }
    j->vals = rn_calloc((size_t)widest, sizeof *j->vals);
    if (!j->vals) goto oom;
    op = rn_op_new(&join_vtable, out_schema, left);
    if (!op) goto oom;
    op->priv = j;
    op->updating = !(spec->kind == RN_JOIN_KIND_INNER && !left->updating && !right->updating);
    if (rn_op_connect(left, op, 0) != RN_OK) goto oom;
    if (rn_op_connect(right, op, 1) != RN_OK) {
        left->noutputs--; /* the edge just made to port 0 (connect appends) */
        goto oom;
    }
    return op;
oom:
    if (op) rn_op_free(op); /* frees j through destroy */
    else join_free(j);
    snprintf(errbuf, errbuf_size, "out of memory creating a join");
    return NULL;
}

bool rn_join_set_ttl(rn_op_t *op, int64_t ttl_ms)
{
    join_t *j = op->priv;
    if (j->started || ttl_ms <= 0) return false;
    for (int s = 0; s < 2; s++)
        if (!rn_store_set_ttl(j->side[s].st, ttl_ms)) return false;
    j->ttl_ms = ttl_ms;
    return true;
}

bool rn_join_set_window_end(rn_op_t *op, int left_col, int right_col)
{
    join_t *j = op->priv;
    if (j->started || left_col < 0 || left_col >= j->side[0].ncols || right_col < 0 ||
        right_col >= j->side[1].ncols)
        return false;
    int cols[2] = {left_col, right_col};
    for (int s = 0; s < 2; s++) {
        rn_type_id t = j->side[s].schema->cols[cols[s]].type->id;
        if (t != RN_TYPE_TIMESTAMP && t != RN_TYPE_TIMESTAMP_LTZ && t != RN_TYPE_BIGINT) return false;
    }
    j->side[0].wend_col = left_col;
    j->side[1].wend_col = right_col;
    return true;
}

size_t rn_join_rows(const rn_op_t *op, int port)
{
    const join_t *j = op->priv;
    return port == 0 || port == 1 ? (size_t)j->side[port].rows : 0;
}

uint64_t rn_join_ignored_retractions(const rn_op_t *op)
{
    const join_t *j = op->priv;
    return j->ignored;
}
