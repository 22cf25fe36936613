/*
 * normalize.c - ChangelogNormalize (op/normalize.h): upserts and deletes
 * of an upsert table in, a changelog with retractions out.
 *
 * State: one rn_store entry per primary key, keyed by the key columns
 * serialized with rn_key_append (in primary-key order). Its value slot
 * holds the key's current row, every column serialized with rn_key_append
 * into one rn_malloc'd byte string (so equal SQL values give equal bytes
 * and "the new row equals the current one" is a memcmp); the store's
 * value_free releases it. A row is replaced or removed only after the
 * retraction that names it has been decoded into the output batch, whose
 * strings are copied into the batch arena.
 *
 * Rows are handled one by one in input order, as Flink's ChangelogNormalize
 * without mini-batches: two upserts of one key in one batch give +I then
 * -U/+U. Output batches carry the input rows' watermarks (rowwm); a
 * retraction gets the watermark of the input row that caused it.
 *
 * State TTL (rn_normalize_set_ttl): the store's TTL, with the runtime's
 * processing time (ctx->now_ms) as its clock, swept a bounded number of
 * table slots per batch like GroupAggregate's. An expired key is dropped
 * silently; its next row is +I again.
 *
 * Revoked partitions (forget_partitions): keys whose partition
 * (rn_key_partition of the key bytes) is revoked are dropped silently.
 *
 * Snapshot (normalize_snapshot/normalize_restore), little-endian and
 * length-prefixed (state/snapshot.h), no pointers:
 *   "RNCN", u32 version (1), u32 ncols, ncols x u8 column type id,
 *   u32 npk, npk x u32 key column, u64 state TTL in ms (0: none)
 *                                       (restore checks these match)
 *   u64 nkeys, then per key:
 *     bytes key          the serialized key columns
 *     bytes row          the serialized row (every column)
 *     u64 last access    only with a TTL: processing time (ms, >= 0)
 * With a partition filter (checkpoints, docs/checkpoints.md) only the keys
 * whose partition is marked are written, the partition being what
 * forget_partitions computes (rn_key_partition of the key bytes); nkeys
 * counts those. There are no operator-wide values.
 * Restore adds the snapshot's keys to those held (a fresh operator, or one
 * holding other partitions' keys). It checks that every row decodes as the
 * columns with nothing left and that its key columns serialize to the key;
 * a mismatch, short read, trailing byte or a key held already (or twice in
 * the snapshot) fails with RN_ERR_DECODE, and the keys this call added are
 * removed again, so a failed restore leaves what the operator held before.
 */
#include "op/normalize.h"

#include "core/assert.h"
#include "core/hash.h"
#include "core/mem.h"
#include "state/snapshot.h"
#include "state/store.h"

#include <stdio.h>
#include <string.h>

/* A key's value slot: its current row. */
typedef struct norm_slot {
    unsigned char *row;         /* every column, rn_key_append'ed (owned), NULL while new */
    uint32_t len;               /* bytes of row */
} norm_slot_t;

typedef struct normalize {
    int npk;                    /* key columns */
    int *pk;                    /* their input columns, in primary-key order */
    rn_store_t *rows;           /* key -> norm_slot_t */
    size_t row_bytes;           /* bytes the slots' rows hold */
    rn_buf_t key;               /* scratch: the key of the current row */
    rn_buf_t row;               /* scratch: the current row serialized */
} normalize_t;

static void norm_slot_free(void *value, void *opaque)
{
    norm_slot_t *s = value;
    normalize_t *n = opaque;
    n->row_bytes -= s->len;
    rn_free(s->row);
    s->row = NULL;
    s->len = 0;
}

/* The value of column c in row r of b; NULL for a column the batch does
 * not carry (a source column no query reads). */
static const rn_value_t *norm_value(const rn_batch_t *b, int c, int r)
{
    static const rn_value_t none = {.null = 1};
    return b->cols[c] ? &b->cols[c][r] : &none;
}

/* Serializes the key of row r of b into n->key. False on OOM. */
static bool norm_key(normalize_t *n, const rn_batch_t *b, int r)
{
    rn_buf_clear(&n->key);
    for (int k = 0; k < n->npk; k++)
        rn_key_append(&n->key, b->schema->cols[n->pk[k]].type->id, norm_value(b, n->pk[k], r));
    return !n->key.oom;
}

/* Serializes every column of row r of b into n->row. False on OOM. */
static bool norm_row(normalize_t *n, const rn_batch_t *b, int r)
{
    rn_buf_clear(&n->row);
    for (int c = 0; c < b->schema->ncols; c++)
        rn_key_append(&n->row, b->schema->cols[c].type->id, norm_value(b, c, r));
    return !n->row.oom;
}

/* Decodes row[0..len) (all columns of schema) into vals; strings point into
 * row. False when the bytes are not such a row. */
static bool norm_decode(const rn_schema_t *schema, const void *row, uint32_t len, rn_value_t *vals)
{
    uint32_t off = 0;
    for (int c = 0; c < schema->ncols; c++)
        if (!rn_key_read(row, len, &off, schema->cols[c].type->id, &vals[c])) return false;
    return off == len;
}

/* Appends the stored row of slot s to out with kind, its strings copied
 * into arena. */
static rn_err_t norm_emit_stored(rn_op_t *op, const norm_slot_t *s, rn_rowkind_t kind, int64_t wm,
                                 rn_batch_t *out, rn_arena_t *arena)
{
    const rn_schema_t *schema = op->schema;
    int o = out->nrows;
    rn_value_t v;
    uint32_t off = 0;
    for (int c = 0; c < schema->ncols; c++) {
        if (!rn_key_read(s->row, s->len, &off, schema->cols[c].type->id, &v)) return RN_ERR_DECODE;
        if (!v.null && schema->cols[c].type->id == RN_TYPE_STRING && v.len) {
            char *copy = rn_arena_alloc(arena, v.len);
            if (!copy) return RN_ERR_NOMEM;
            memcpy(copy, v.s, v.len);
            v.s = copy;
        }
        out->cols[c][o] = v;
    }
    out->kinds[o] = (uint8_t)kind;
    if (out->rowwm) out->rowwm[o] = wm;
    out->nrows++;
    return RN_OK;
}

/* Appends row r of in to out with kind. */
static void norm_emit_input(const rn_batch_t *in, int r, rn_rowkind_t kind, rn_batch_t *out)
{
    int o = out->nrows++;
    for (int c = 0; c < in->schema->ncols; c++) out->cols[c][o] = *norm_value(in, c, r);
    out->kinds[o] = (uint8_t)kind;
    if (out->rowwm) out->rowwm[o] = in->rowwm[r];
}

static rn_err_t normalize_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    normalize_t *n = op->priv;
    if (rn_store_ttl(n->rows) > 0) {
        rn_store_set_now(n->rows, ctx->now_ms);
        rn_store_sweep(n->rows, 2 * (size_t)in->nrows + 64, NULL, NULL);
    }
    rn_batch_t *out = rn_batch_new(ctx->arena, op->schema, 2 * in->nrows + 1);
    if (!out) return RN_ERR_NOMEM;
    if (in->rowwm && !(out->rowwm = rn_arena_alloc(ctx->arena, sizeof(int64_t) * (size_t)out->cap)))
        return RN_ERR_NOMEM;
    rn_err_t err;
    for (int r = 0; r < in->nrows; r++) {
        rn_rowkind_t kind = (rn_rowkind_t)in->kinds[r];
        if (kind == RN_ROW_UPDATE_BEFORE) continue; /* the +U after it carries the row */
        if (!norm_key(n, in, r)) return RN_ERR_NOMEM;
        uint64_t h = rn_hash_bytes(n->key.data, n->key.len, 0);
        int64_t wm = in->rowwm ? in->rowwm[r] : 0;
        if (kind == RN_ROW_DELETE) {
            norm_slot_t *s = rn_store_find(n->rows, n->key.data, (uint32_t)n->key.len, h);
            if (!s) continue; /* an unknown key: nothing to delete */
            if ((err = norm_emit_stored(op, s, RN_ROW_DELETE, wm, out, ctx->arena)) != RN_OK) return err;
            rn_store_remove(n->rows, n->key.data, (uint32_t)n->key.len, h);
            continue;
        }
        if (!norm_row(n, in, r)) return RN_ERR_NOMEM;
        bool created;
        norm_slot_t *s = rn_store_upsert(n->rows, n->key.data, (uint32_t)n->key.len, h, &created);
        if (!s) return RN_ERR_NOMEM;
        if (!created && s->len == n->row.len && !memcmp(s->row, n->row.data, n->row.len))
            continue; /* the same row again */
        unsigned char *copy = rn_malloc(n->row.len);
        if (!copy) {
            if (created) rn_store_remove(n->rows, n->key.data, (uint32_t)n->key.len, h);
            return RN_ERR_NOMEM;
        }
        memcpy(copy, n->row.data, n->row.len);
        if (!created && (err = norm_emit_stored(op, s, RN_ROW_UPDATE_BEFORE, wm, out, ctx->arena)) != RN_OK) {
            rn_free(copy);
            return err;
        }
        n->row_bytes -= s->len;
        rn_free(s->row);
        s->row = copy;
        s->len = (uint32_t)n->row.len;
        n->row_bytes += s->len;
        norm_emit_input(in, r, created ? RN_ROW_INSERT : RN_ROW_UPDATE_AFTER, out);
    }
    return out->nrows ? rn_op_emit(op, out, ctx) : RN_OK;
}

static void normalize_explain(const rn_op_t *op, rn_buf_t *out)
{
    const normalize_t *n = op->priv;
    rn_buf_appends(out, "key [");
    for (int k = 0; k < n->npk; k++) rn_buf_appendf(out, "%s%s", k ? ", " : "", op->schema->cols[n->pk[k]].name);
    rn_buf_appends(out, "]");
    if (rn_store_ttl(n->rows) > 0) rn_buf_appendf(out, ", state ttl %lld ms", (long long)rn_store_ttl(n->rows));
}

static void normalize_destroy(rn_op_t *op)
{
    normalize_t *n = op->priv;
    rn_store_free(n->rows);
    rn_buf_free(&n->key);
    rn_buf_free(&n->row);
    rn_free(n->pk);
    rn_free(n);
}

static size_t normalize_state_size(const rn_op_t *op, size_t *keys)
{
    const normalize_t *n = op->priv;
    *keys = rn_store_count(n->rows);
    return rn_store_bytes(n->rows) + n->row_bytes;
}

static rn_err_t normalize_forget_partitions(rn_op_t *op, int32_t nparts, const uint8_t *revoked)
{
    normalize_t *n = op->priv;
    rn_store_forget_partitions(n->rows, nparts, revoked);
    return RN_OK;
}

/* ---- snapshot and restore (format in the note at the top) ------------------ */

#define NORM_SNAP_MAGIC "RNCN"
#define NORM_SNAP_VERSION 1u

/* Whether the key key[0..klen) is one snapshot takes: every key when parts
 * is NULL, else those whose partition (rn_key_partition of the key bytes,
 * as forget_partitions computes it) is marked. */
static bool norm_key_taken(const rn_part_filter_t *parts, const void *key, uint32_t klen)
{
    return !parts || (parts->nparts > 0 && parts->parts[rn_key_partition(key, klen, parts->nparts)]);
}

/* Overwrites the u64 written at out->data + at (a count known only after
 * the entries were written). */
static void norm_patch_u64(rn_buf_t *out, size_t at, uint64_t v)
{
    if (out->oom) return;
    for (int i = 0; i < 8; i++) out->data[at + (size_t)i] = (char)(unsigned char)(v >> (8 * i));
}

static rn_err_t normalize_snapshot(const rn_op_t *op, rn_buf_t *out, const rn_part_filter_t *parts)
{
    const normalize_t *n = op->priv;
    const rn_schema_t *schema = op->schema;
    rn_buf_append(out, NORM_SNAP_MAGIC, 4);
    rn_snap_put_u32(out, NORM_SNAP_VERSION);
    rn_snap_put_u32(out, (uint32_t)schema->ncols);
    for (int c = 0; c < schema->ncols; c++) rn_snap_put_u8(out, (uint8_t)schema->cols[c].type->id);
    rn_snap_put_u32(out, (uint32_t)n->npk);
    for (int k = 0; k < n->npk; k++) rn_snap_put_u32(out, (uint32_t)n->pk[k]);
    int64_t ttl = rn_store_ttl(n->rows);
    rn_snap_put_u64(out, (uint64_t)ttl);
    size_t count_at = out->len;
    rn_snap_put_u64(out, 0); /* nkeys, patched below */
    uint64_t nkeys = 0;
    size_t pos = 0;
    const norm_slot_t *s;
    while ((s = rn_store_next(n->rows, &pos))) {
        uint32_t klen;
        const void *k = rn_store_key_of(n->rows, s, &klen);
        if (!norm_key_taken(parts, k, klen)) continue;
        rn_snap_put_bytes(out, k, klen);
        rn_snap_put_bytes(out, s->row, s->len);
        if (ttl > 0) rn_snap_put_u64(out, (uint64_t)rn_store_access_time(n->rows, s));
        nkeys++;
    }
    norm_patch_u64(out, count_at, nkeys);
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}

/* Reads one key and its row into rows. On RN_OK the key was added; on
 * failure nothing was. */
static rn_err_t norm_read_key(rn_op_t *op, rn_snap_reader_t *r, rn_store_t *rows, rn_value_t *vals)
{
    normalize_t *n = op->priv;
    uint32_t klen, rlen;
    const void *k = rn_snap_bytes(r, &klen);
    const void *row = rn_snap_bytes(r, &rlen);
    int64_t access = rn_store_ttl(rows) > 0 ? (int64_t)rn_snap_u64(r) : 0;
    if (r->bad || access < 0 || !rlen || !norm_decode(op->schema, row, rlen, vals)) return RN_ERR_DECODE;
    /* the key must be the row's key columns */
    rn_buf_clear(&n->key);
    for (int i = 0; i < n->npk; i++) rn_key_append(&n->key, op->schema->cols[n->pk[i]].type->id, &vals[n->pk[i]]);
    if (n->key.oom) return RN_ERR_NOMEM;
    if (n->key.len != klen || memcmp(n->key.data, k, klen)) return RN_ERR_DECODE;
    /* A key held already is refused without touching it (an upsert would
     * count as an access under a TTL). */
    if (rn_store_peek(rows, k, klen, rn_hash_bytes(k, klen, 0))) return RN_ERR_DECODE;
    bool created;
    norm_slot_t *s = rn_store_upsert(rows, k, klen, rn_hash_bytes(k, klen, 0), &created);
    if (!s) return RN_ERR_NOMEM;
    if (!created) return RN_ERR_DECODE; /* a key held already (or twice in the snapshot) */
    if (!(s->row = rn_malloc(rlen))) {
        rn_store_remove(rows, k, klen, rn_hash_bytes(k, klen, 0));
        return RN_ERR_NOMEM;
    }
    memcpy(s->row, row, rlen);
    s->len = rlen;
    n->row_bytes += rlen;
    rn_store_set_access_time(rows, s, access);
    return RN_OK;
}

/* Removes the first added keys of the snapshot whose keys start at
 * r->off (what a failed restore added). Allocates nothing. */
static void norm_unrestore(normalize_t *n, rn_snap_reader_t *r, uint64_t added)
{
    for (uint64_t i = 0; i < added; i++) {
        uint32_t klen, rlen;
        const void *k = rn_snap_bytes(r, &klen);
        (void)rn_snap_bytes(r, &rlen);
        if (rn_store_ttl(n->rows) > 0) (void)rn_snap_u64(r);
        RN_ASSERT(!r->bad);
        rn_store_remove(n->rows, k, klen, rn_hash_bytes(k, klen, 0));
    }
}

/* Adds the snapshot's keys to those held: they go straight into the
 * store, and on failure the ones added by this call are removed again (by
 * reading their keys a second time), so the operator holds what it held
 * before. */
static rn_err_t normalize_restore(rn_op_t *op, const void *data, size_t len)
{
    normalize_t *n = op->priv;
    const rn_schema_t *schema = op->schema;
    rn_snap_reader_t r;
    rn_snap_reader_init(&r, data, len);
    rn_err_t err = RN_ERR_DECODE;
    rn_value_t *vals = rn_calloc((size_t)(schema->ncols ? schema->ncols : 1), sizeof *vals);
    if (!vals) return RN_ERR_NOMEM;
    if (!rn_snap_have(&r, 4) || memcmp(r.p, NORM_SNAP_MAGIC, 4) != 0) goto done;
    r.off = 4;
    if (rn_snap_u32(&r) != NORM_SNAP_VERSION || rn_snap_u32(&r) != (uint32_t)schema->ncols) goto done;
    for (int c = 0; c < schema->ncols; c++)
        if (rn_snap_u8(&r) != (uint8_t)schema->cols[c].type->id) goto done;
    if (rn_snap_u32(&r) != (uint32_t)n->npk) goto done;
    for (int k = 0; k < n->npk; k++)
        if (rn_snap_u32(&r) != (uint32_t)n->pk[k]) goto done;
    int64_t ttl = rn_store_ttl(n->rows);
    if (rn_snap_u64(&r) != (uint64_t)ttl) goto done;
    uint64_t nkeys = rn_snap_u64(&r);
    if (r.bad) goto done;
    rn_snap_reader_t first = r; /* where the keys start, for undoing */
    uint64_t added = 0;
    err = RN_OK;
    while (added < nkeys && (err = norm_read_key(op, &r, n->rows, vals)) == RN_OK) added++;
    if (err == RN_OK && !rn_snap_done(&r)) err = RN_ERR_DECODE;
    if (err != RN_OK) norm_unrestore(n, &first, added);
done:
    rn_free(vals);
    return err;
}

static const rn_op_vtable_t normalize_vtable = {
    .kind = "ChangelogNormalize",
    .process = normalize_process,
    .explain = normalize_explain,
    .destroy = normalize_destroy,
    .state_size = normalize_state_size,
    .snapshot = normalize_snapshot,
    .restore = normalize_restore,
    .forget_partitions = normalize_forget_partitions,
};

rn_op_t *rn_normalize_new(rn_op_t *input, int npk, const int *pk, char *errbuf, size_t errbuf_size)
{
    if (npk < 1) {
        snprintf(errbuf, errbuf_size, "ChangelogNormalize needs a key");
        return NULL;
    }
    for (int k = 0; k < npk; k++)
        if (pk[k] < 0 || pk[k] >= input->schema->ncols) {
            snprintf(errbuf, errbuf_size, "ChangelogNormalize: key column %d out of range", pk[k]);
            return NULL;
        }
    normalize_t *n = rn_calloc(1, sizeof *n);
    rn_op_t *op = NULL;
    if (!n || !(n->pk = rn_malloc(sizeof(int) * (size_t)npk))) goto oom;
    memcpy(n->pk, pk, sizeof(int) * (size_t)npk);
    n->npk = npk;
    rn_buf_init(&n->key);
    rn_buf_init(&n->row);
    if (!(n->rows = rn_store_new("changelog-normalize", sizeof(norm_slot_t), norm_slot_free, n))) goto oom;
    if (!(op = rn_op_new(&normalize_vtable, input->schema, input))) goto oom;
    op->priv = n;
    op->updating = true;
    return op;
oom:
    if (n) {
        rn_store_free(n->rows);
        rn_free(n->pk);
        rn_free(n);
    }
    snprintf(errbuf, errbuf_size, "out of memory creating a ChangelogNormalize");
    return NULL;
}

bool rn_is_normalize(const rn_op_t *op) { return op && op->vt == &normalize_vtable; }

bool rn_normalize_set_ttl(rn_op_t *op, int64_t ttl_ms)
{
    normalize_t *n = op->priv;
    return rn_store_set_ttl(n->rows, ttl_ms);
}

size_t rn_normalize_keys(const rn_op_t *op)
{
    const normalize_t *n = op->priv;
    return rn_store_count(n->rows);
}
