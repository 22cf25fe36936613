/*
 * lookup_join.c - the lookup join operator (lookup_join.h).
 *
 * Per input batch: the key expressions are evaluated, rows are grouped
 * by key in an arena hash table (each distinct key asked for once), the
 * cache answers what it holds, and the misses go to the table in one
 * lookup() call, repeated from where it stopped while it reports that its
 * output filled up; a call that completes no key at all is repeated with
 * an output twice as large (a key with 10,000 rows). The rows found live
 * in the batch arena until the batch is done.
 *
 * The cache is a chained hash table of entries, one allocation per key
 * holding the key, all its rows and their strings (no allocation per
 * row). PARTIAL keeps its entries on an LRU list (most recent first) and
 * trims it to max_rows after the batch, never during one (so the rows of
 * a hit stay valid while the batch is joined); an entry past its write or
 * access expiry counts as a miss and is dropped. FULL builds a new table
 * from scan() and swaps it in whole.
 *
 * Output: without a residual, rows go straight to the output batches
 * (rn_op_out_t). With one, candidate pairs are gathered in a batch, the
 * residual selects among them, and the survivors (and, for a LEFT join,
 * the NULL-padded row of a left row none of whose candidates survived)
 * are copied out in input order.
 */
#include "op/lookup_join.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"

#define CAND_CAP 1024     /* candidate pairs evaluated together */
#define FIRST_OUT_CAP 256 /* rows asked of lookup() / scan() per call at first */
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 5000

/* One cached key: the key values, its rows (row-major) and their strings,
 * in one allocation. */
typedef struct lk_entry {
    struct lk_entry *next;                /* hash chain */
    struct lk_entry *prev_lru, *next_lru; /* PARTIAL: recency list, most recent first */
    uint64_t hash;
    int64_t written_ms;  /* loaded at */
    int64_t accessed_ms; /* last hit */
    int nrows;
    size_t bytes;     /* size of the allocation */
    rn_value_t *key;  /* nkeys values */
    rn_value_t *rows; /* nrows * ncols values */
} lk_entry_t;

typedef struct lk_cache {
    lk_entry_t **buckets; /* nbuckets chains (owned) */
    size_t nbuckets;      /* a power of two, or 0 */
    size_t count;         /* entries */
    size_t bytes;         /* bytes of entries */
    lk_entry_t lru;       /* sentinel of the recency list */
} lk_cache_t;

typedef struct lookup_join {
    bool left;
    char *table;          /* name (owned) */
    rn_schema_t *tschema; /* table schema (reference) */
    rn_schema_t *kschema; /* the key columns' schema, for keys batches (owned) */
    int nkeys;
    int key_cols[RN_LOOKUP_MAX_KEYS];
    rn_type_id key_types[RN_LOOKUP_MAX_KEYS];
    const rn_expr_t *key_exprs[RN_LOOKUP_MAX_KEYS];
    const rn_expr_t *residual;
    rn_lookup_cache_spec_t cache_spec;
    rn_lookup_t *l; /* the table (owned), NULL until set */
    lk_cache_t cache;
    bool loaded;       /* FULL: cache loaded */
    int64_t loaded_ms; /* FULL: when */
    rn_lookup_join_stats_t st;
} lookup_join_t;

/* ---- the cache ----------------------------------------------------------- */

static uint64_t key_hash(const lookup_join_t *j, const rn_value_t *const *vals, int stride, int row)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int k = 0; k < j->nkeys; k++) h = rn_value_hash(j->key_types[k], &vals[k][row * stride], h);
    return h;
}

static bool key_equal(const lookup_join_t *j, const rn_value_t *a, const rn_value_t *b)
{
    for (int k = 0; k < j->nkeys; k++)
        if (!rn_value_equal(j->key_types[k], &a[k], &b[k])) return false;
    return true;
}

static void lru_unlink(lk_entry_t *e)
{
    e->prev_lru->next_lru = e->next_lru;
    e->next_lru->prev_lru = e->prev_lru;
}

static void lru_push(lk_cache_t *c, lk_entry_t *e)
{
    e->next_lru = c->lru.next_lru;
    e->prev_lru = &c->lru;
    c->lru.next_lru->prev_lru = e;
    c->lru.next_lru = e;
}

static void cache_init(lk_cache_t *c)
{
    memset(c, 0, sizeof *c);
    c->lru.next_lru = c->lru.prev_lru = &c->lru;
}

static void cache_free(lk_cache_t *c)
{
    for (size_t b = 0; b < c->nbuckets; b++)
        for (lk_entry_t *e = c->buckets[b], *n; e; e = n) {
            n = e->next;
            rn_free(e);
        }
    rn_free(c->buckets);
    cache_init(c);
}

/* The entry of key (nkeys values), or NULL. */
static lk_entry_t *cache_find(const lookup_join_t *j, const lk_cache_t *c, uint64_t h, const rn_value_t *key)
{
    if (!c->nbuckets) return NULL;
    for (lk_entry_t *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && key_equal(j, e->key, key)) return e;
    return NULL;
}

static void cache_remove(lk_cache_t *c, lk_entry_t *e)
{
    lk_entry_t **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp != e) pp = &(*pp)->next;
    *pp = e->next;
    lru_unlink(e);
    c->count--;
    c->bytes -= e->bytes;
    rn_free(e);
}

/* Adds e (not present). Returns false on OOM (e not added, still the caller's). */
static bool cache_add(lk_cache_t *c, lk_entry_t *e)
{
    if (c->count + 1 > c->nbuckets) {
        size_t nb = c->nbuckets ? c->nbuckets * 2 : 64;
        lk_entry_t **b = rn_calloc(nb, sizeof *b);
        if (!b) return false;
        for (size_t i = 0; i < c->nbuckets; i++)
            for (lk_entry_t *x = c->buckets[i], *n; x; x = n) {
                n = x->next;
                x->next = b[x->hash & (nb - 1)];
                b[x->hash & (nb - 1)] = x;
            }
        rn_free(c->buckets);
        c->buckets = b;
        c->nbuckets = nb;
    }
    e->next = c->buckets[e->hash & (c->nbuckets - 1)];
    c->buckets[e->hash & (c->nbuckets - 1)] = e;
    lru_push(c, e);
    c->count++;
    c->bytes += e->bytes;
    return true;
}

static size_t value_str_bytes(rn_type_id t, const rn_value_t *v)
{
    return t == RN_TYPE_STRING && !v->null ? v->len : 0;
}

static void value_copy(rn_type_id t, rn_value_t *dst, const rn_value_t *src, char **strs)
{
    *dst = *src;
    if (t == RN_TYPE_STRING && !src->null && src->len) {
        memcpy(*strs, src->s, src->len);
        dst->s = *strs;
        *strs += src->len;
    }
}

/* A new entry for key with rows[0..nrows) (each ncols values), strings
 * copied in. NULL on OOM. */
static lk_entry_t *entry_new(const lookup_join_t *j, uint64_t h, const rn_value_t *key,
                             const rn_value_t *const *rows, int nrows, int64_t now)
{
    int ncols = j->tschema->ncols;
    size_t strs = 0;
    for (int k = 0; k < j->nkeys; k++) strs += value_str_bytes(j->key_types[k], &key[k]);
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < ncols; c++) strs += value_str_bytes(j->tschema->cols[c].type->id, &rows[r][c]);
    size_t nvals = (size_t)j->nkeys + (size_t)nrows * (size_t)ncols;
    size_t bytes = sizeof(lk_entry_t) + sizeof(rn_value_t) * nvals + strs;
    lk_entry_t *e = rn_malloc(bytes);
    if (!e) return NULL;
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->written_ms = e->accessed_ms = now;
    e->nrows = nrows;
    e->bytes = bytes;
    e->key = (rn_value_t *)(e + 1);
    e->rows = e->key + j->nkeys;
    char *s = (char *)(e->rows + (size_t)nrows * (size_t)ncols);
    for (int k = 0; k < j->nkeys; k++) value_copy(j->key_types[k], &e->key[k], &key[k], &s);
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < ncols; c++)
            value_copy(j->tschema->cols[c].type->id, &e->rows[(size_t)r * (size_t)ncols + (size_t)c],
                       &rows[r][c], &s);
    return e;
}

/* PARTIAL: an entry past its expiry is dropped. */
static bool entry_expired(const lookup_join_t *j, const lk_entry_t *e, int64_t now)
{
    const rn_lookup_cache_spec_t *s = &j->cache_spec;
    if (s->expire_after_write_ms > 0 && now - e->written_ms >= s->expire_after_write_ms) return true;
    if (s->expire_after_access_ms > 0 && now - e->accessed_ms >= s->expire_after_access_ms) return true;
    return false;
}

/* PARTIAL: evicts least recently used entries beyond max_rows. */
static void cache_trim(lookup_join_t *j)
{
    if (j->cache_spec.kind != RN_LOOKUP_CACHE_PARTIAL || j->cache_spec.max_rows <= 0) return;
    while (j->cache.count > (size_t)j->cache_spec.max_rows) cache_remove(&j->cache, j->cache.lru.prev_lru);
}

/* ---- calling the table ------------------------------------------------------ */

static void backoff_sleep(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* After a failed call: RN_ERR_RETRY within max_retries waits and returns
 * true (call again); anything else returns false. */
static bool should_retry(lookup_join_t *j, rn_err_t err, int *tries, int64_t *wait_ms, const char *what,
                         const char *msg)
{
    if (err != RN_ERR_RETRY) return false;
    if (j->cache_spec.max_retries >= 0 && *tries >= j->cache_spec.max_retries) return false;
    (*tries)++;
    j->st.retries++;
    rn_log_warn("lookup join on '%s': %s of %s failed (%s); retry %d in %lld ms", j->table, what,
                j->l->where ? j->l->where : j->table, msg, *tries, (long long)*wait_ms);
    backoff_sleep(*wait_ms);
    *wait_ms = *wait_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : *wait_ms * 2;
    return true;
}

static rn_err_t call_failed(lookup_join_t *j, rn_err_t err, const char *what, const char *msg, rn_ctx_t *ctx)
{
    snprintf(ctx->errbuf, ctx->errbuf_size, "lookup join on '%s': %s of %s failed%s: %s", j->table, what,
             j->l->where ? j->l->where : j->table,
             err == RN_ERR_RETRY ? " after 'lookup.max-retries' retries" : "", msg);
    return err == RN_ERR_RETRY ? RN_ERR_IO : err;
}

/* A view of rows [from, nrows) of b. */
static rn_batch_t *batch_tail(const rn_batch_t *b, int from, rn_arena_t *a)
{
    rn_batch_t *v = rn_arena_alloc(a, sizeof *v);
    int ncols = b->schema->ncols;
    rn_value_t **cols = rn_arena_alloc(a, sizeof *cols * (size_t)(ncols ? ncols : 1));
    if (!v || !cols) return NULL;
    *v = *b;
    for (int c = 0; c < ncols; c++) cols[c] = b->cols[c] + from;
    v->cols = cols;
    v->kinds = b->kinds ? b->kinds + from : NULL;
    v->rowtime = NULL;
    v->rowwm = NULL;
    v->nrows = b->nrows - from;
    v->cap = v->nrows;
    return v;
}

/* Copies row r of b as one ncols array in arena. */
static rn_value_t *row_copy(const rn_batch_t *b, int r, rn_arena_t *a)
{
    int ncols = b->schema->ncols;
    rn_value_t *row = rn_arena_alloc(a, sizeof *row * (size_t)(ncols ? ncols : 1));
    if (!row) return NULL;
    for (int c = 0; c < ncols; c++) row[c] = rn_batch_value(b, c, r);
    return row;
}

/* Looks up every key of keys (a batch of kschema): the rows found go to
 * (*rows)[0..*nrows) as arrays of table columns, with the key index of
 * each in (*row_key)[]. Retries RN_ERR_RETRY. */
static rn_err_t do_lookup(lookup_join_t *j, const rn_batch_t *keys, rn_value_t ***rows, int **row_key,
                          int *nrows, rn_ctx_t *ctx)
{
    int cap = FIRST_OUT_CAP, have = 0, n = 0, from = 0, tries = 0;
    int64_t wait = RETRY_FIRST_MS;
    *rows = NULL;
    *row_key = NULL;
    char msg[512];
    while (from < keys->nrows) {
        rn_batch_t *view = batch_tail(keys, from, ctx->arena);
        rn_batch_t *out = rn_batch_new(ctx->arena, j->tschema, cap);
        int *key_of = rn_arena_alloc(ctx->arena, sizeof(int) * (size_t)cap);
        if (!view || !out || !key_of) return RN_ERR_NOMEM;
        int done = view->nrows;
        msg[0] = 0;
        j->st.lookups++;
        rn_err_t err = j->l->lookup(j->l, view, out, key_of, &done, ctx->arena, msg, sizeof msg);
        if (err != RN_OK) {
            if (should_retry(j, err, &tries, &wait, "a lookup", msg)) continue;
            return call_failed(j, err, "a lookup", msg, ctx);
        }
        tries = 0;
        wait = RETRY_FIRST_MS;
        if (done > view->nrows) done = view->nrows;
        if (done <= 0) { /* not one key fits: a larger output */
            if (cap >= (1 << 24)) {
                snprintf(ctx->errbuf, ctx->errbuf_size, "lookup join on '%s': %s completes no key", j->table,
                         j->l->where ? j->l->where : j->table);
                return RN_ERR_FATAL;
            }
            cap *= 2;
            continue;
        }
        for (int r = 0; r < out->nrows; r++) {
            if (key_of[r] < 0 || key_of[r] >= done) continue; /* a key to ask for again */
            if (n == have) {
                int nh = have ? have * 2 : 64;
                rn_value_t **nr = rn_arena_alloc(ctx->arena, sizeof *nr * (size_t)nh);
                int *nk = rn_arena_alloc(ctx->arena, sizeof *nk * (size_t)nh);
                if (!nr || !nk) return RN_ERR_NOMEM;
                if (n) {
                    memcpy(nr, *rows, sizeof *nr * (size_t)n);
                    memcpy(nk, *row_key, sizeof *nk * (size_t)n);
                }
                *rows = nr;
                *row_key = nk;
                have = nh;
            }
            if (!((*rows)[n] = row_copy(out, r, ctx->arena))) return RN_ERR_NOMEM;
            (*row_key)[n++] = from + key_of[r];
        }
        j->st.rows_looked_up += (uint64_t)out->nrows;
        from += done;
    }
    *nrows = n;
    return RN_OK;
}

/* ---- FULL: loading the whole table ------------------------------------------- */

/* Reads the whole table with scan() into a new cache that replaces the
 * old one. */
static rn_err_t full_load(lookup_join_t *j, rn_ctx_t *ctx)
{
    if (!j->l->scan) {
        snprintf(ctx->errbuf, ctx->errbuf_size,
                 "lookup join on '%s': 'lookup.cache' = 'FULL' needs a table that can be read whole, "
                 "and %s cannot",
                 j->table, j->l->where ? j->l->where : j->table);
        return RN_ERR_CONFIG;
    }
    rn_value_t **rows = NULL;
    int n = 0, have = 0, tries = 0;
    int64_t cursor = 0, wait = RETRY_FIRST_MS;
    bool done = false;
    char msg[512];
    j->st.scans++;
    while (!done) {
        rn_batch_t *out = rn_batch_new(ctx->arena, j->tschema, RN_BATCH_MAX);
        if (!out) return RN_ERR_NOMEM;
        msg[0] = 0;
        int64_t at = cursor;
        rn_err_t err = j->l->scan(j->l, out, &cursor, &done, ctx->arena, msg, sizeof msg);
        if (err != RN_OK) {
            cursor = at;
            done = false;
            if (should_retry(j, err, &tries, &wait, "a scan", msg)) continue;
            return call_failed(j, err, "a scan", msg, ctx);
        }
        for (int r = 0; r < out->nrows; r++) {
            if (n == have) {
                int nh = have ? have * 2 : 256;
                rn_value_t **nr = rn_arena_alloc(ctx->arena, sizeof *nr * (size_t)nh);
                if (!nr) return RN_ERR_NOMEM;
                if (n) memcpy(nr, rows, sizeof *nr * (size_t)n);
                rows = nr;
                have = nh;
            }
            if (!(rows[n++] = row_copy(out, r, ctx->arena))) return RN_ERR_NOMEM;
        }
        j->st.rows_looked_up += (uint64_t)out->nrows;
        if (!out->nrows && !done && cursor == at) {
            snprintf(ctx->errbuf, ctx->errbuf_size, "lookup join on '%s': a scan of %s makes no progress",
                     j->table, j->l->where ? j->l->where : j->table);
            return RN_ERR_FATAL;
        }
    }
    /* group rows by key: a chain per distinct key through next[] */
    size_t nb = 64;
    while (nb < (size_t)n * 2) nb *= 2;
    int *head = rn_arena_alloc(ctx->arena, sizeof(int) * nb); /* bucket -> first group row */
    int *gnext = rn_arena_alloc(ctx->arena, sizeof(int) * (size_t)(n ? n : 1)); /* group row -> next group */
    int *rnext =
        rn_arena_alloc(ctx->arena, sizeof(int) * (size_t)(n ? n : 1)); /* row -> next row of its key */
    int *last = rn_arena_alloc(ctx->arena, sizeof(int) * (size_t)(n ? n : 1)); /* group row -> its last row */
    int *count = rn_arena_alloc(ctx->arena, sizeof(int) * (size_t)(n ? n : 1));
    uint64_t *hash = rn_arena_alloc(ctx->arena, sizeof(uint64_t) * (size_t)(n ? n : 1));
    rn_value_t *kv = rn_arena_alloc(ctx->arena, sizeof(rn_value_t) * (size_t)(n ? n : 1) * (size_t)j->nkeys);
    if (!head || !gnext || !rnext || !last || !count || !hash || !kv) return RN_ERR_NOMEM;
    memset(head, -1, sizeof(int) * nb);
    int ngroups = 0;
    int *groups = rn_arena_alloc(ctx->arena, sizeof(int) * (size_t)(n ? n : 1));
    if (!groups) return RN_ERR_NOMEM;
    for (int r = 0; r < n; r++) {
        rn_value_t *k = &kv[(size_t)r * (size_t)j->nkeys];
        bool null = false;
        uint64_t h = 0x9e3779b97f4a7c15ull;
        for (int i = 0; i < j->nkeys; i++) {
            k[i] = rows[r][j->key_cols[i]];
            null |= k[i].null;
            h = rn_value_hash(j->key_types[i], &k[i], h);
        }
        rnext[r] = -1;
        if (null) continue; /* never matches */
        hash[r] = h;
        int g = head[h & (nb - 1)];
        while (g >= 0 && !(hash[g] == h && key_equal(j, &kv[(size_t)g * (size_t)j->nkeys], k))) g = gnext[g];
        if (g < 0) {
            gnext[r] = head[h & (nb - 1)];
            head[h & (nb - 1)] = r;
            last[r] = r;
            count[r] = 1;
            groups[ngroups++] = r;
        } else {
            rnext[last[g]] = r;
            last[g] = r;
            count[g]++;
        }
    }
    lk_cache_t fresh;
    cache_init(&fresh);
    for (int i = 0; i < ngroups; i++) {
        int g = groups[i];
        const rn_value_t **grows = rn_arena_alloc(ctx->arena, sizeof *grows * (size_t)count[g]);
        if (!grows) goto oom;
        int m = 0;
        for (int r = g; r >= 0; r = rnext[r]) grows[m++] = rows[r];
        lk_entry_t *e = entry_new(j, hash[g], &kv[(size_t)g * (size_t)j->nkeys], grows, m, ctx->now_ms);
        if (!e) goto oom;
        if (!cache_add(&fresh, e)) {
            rn_free(e);
            goto oom;
        }
    }
    cache_free(&j->cache);
    j->cache = fresh;
    if (fresh.count) { /* the sentinel moved: relink the list ends to it */
        j->cache.lru.next_lru->prev_lru = &j->cache.lru;
        j->cache.lru.prev_lru->next_lru = &j->cache.lru;
    } else {
        j->cache.lru.next_lru = j->cache.lru.prev_lru = &j->cache.lru;
    }
    j->loaded = true;
    j->loaded_ms = ctx->now_ms;
    return RN_OK;
oom:
    if (fresh.count) {
        fresh.lru.next_lru->prev_lru = &fresh.lru;
        fresh.lru.prev_lru->next_lru = &fresh.lru;
    }
    cache_free(&fresh);
    return RN_ERR_NOMEM;
}

/* ---- joining a batch ------------------------------------------------------------ */

/* Rows found for one distinct key of a batch. */
typedef struct lk_found {
    int rep; /* an input row with this key */
    uint64_t hash;
    int nrows;
    const rn_value_t **rows; /* nrows arrays of table columns */
    int miss;                /* index among the misses, or -1 */
} lk_found_t;

/* Output under construction. */
typedef struct lk_emit {
    lookup_join_t *j;
    rn_op_out_t out;
    const rn_batch_t *in;
    rn_batch_t *cand; /* with a residual: candidate pairs */
    int *cand_in;     /* input row of each candidate */
    int *sel;
    bool *matched; /* per input row: a candidate survived */
} lk_emit_t;

/* Writes input row i joined with table row trow (NULL: NULL-padded) as
 * row r of b. */
static void put_row(const lookup_join_t *j, rn_batch_t *b, int r, const rn_batch_t *in, int i,
                    const rn_value_t *trow)
{
    int nl = in->schema->ncols, nt = j->tschema->ncols;
    for (int c = 0; c < nl; c++) b->cols[c][r] = rn_batch_value(in, c, i);
    for (int c = 0; c < nt; c++) b->cols[nl + c][r] = trow ? trow[c] : RN_VALUE_NULL;
    b->kinds[r] = in->kinds[i];
    if (b->rowwm) b->rowwm[r] = in->rowwm ? in->rowwm[i] : RN_WM_MIN;
}

static rn_err_t emit_out(lk_emit_t *x, int i, const rn_value_t *trow)
{
    int r;
    rn_err_t err = rn_op_out_row(&x->out, &r);
    if (err != RN_OK) return err;
    put_row(x->j, x->out.b, r, x->in, i, trow);
    return RN_OK;
}

/* Evaluates the residual over the gathered candidates and emits the
 * survivors. */
static rn_err_t cand_flush(lk_emit_t *x)
{
    rn_batch_t *c = x->cand;
    if (!c->nrows) return RN_OK;
    int n = rn_expr_select(x->j->residual, c, x->out.ctx->arena, x->sel);
    if (n < 0) return RN_ERR_NOMEM;
    for (int s = 0; s < n; s++) {
        int r;
        rn_err_t err = rn_op_out_row(&x->out, &r);
        if (err != RN_OK) return err;
        rn_batch_t *b = x->out.b;
        for (int col = 0; col < c->schema->ncols; col++) b->cols[col][r] = c->cols[col][x->sel[s]];
        b->kinds[r] = c->kinds[x->sel[s]];
        if (b->rowwm) b->rowwm[r] = c->rowwm[x->sel[s]];
        x->matched[x->cand_in[x->sel[s]]] = true;
    }
    c->nrows = 0;
    return RN_OK;
}

/* Joins input row i with its table rows. */
static rn_err_t join_row(lk_emit_t *x, int i, const lk_found_t *f)
{
    lookup_join_t *j = x->j;
    int nrows = f ? f->nrows : 0;
    if (!j->residual) {
        for (int k = 0; k < nrows; k++) {
            rn_err_t err = emit_out(x, i, f->rows[k]);
            if (err != RN_OK) return err;
        }
        return nrows == 0 && j->left ? emit_out(x, i, NULL) : RN_OK;
    }
    for (int k = 0; k < nrows; k++) {
        if (x->cand->nrows == x->cand->cap) {
            rn_err_t err = cand_flush(x);
            if (err != RN_OK) return err;
        }
        int r = x->cand->nrows++;
        put_row(j, x->cand, r, x->in, i, f->rows[k]);
        x->cand_in[r] = i;
    }
    if (!j->left) return RN_OK;
    rn_err_t err = cand_flush(x); /* decides whether row i matched */
    if (err != RN_OK) return err;
    return x->matched[i] ? RN_OK : emit_out(x, i, NULL);
}

static rn_err_t lookup_join_process(rn_op_t *op, int port, const rn_batch_t *in, rn_ctx_t *ctx)
{
    (void)port;
    lookup_join_t *j = op->priv;
    int n = in->nrows;
    if (!n) return RN_OK;
    if (!j->l) {
        snprintf(ctx->errbuf, ctx->errbuf_size, "lookup join on '%s': the table was not opened", j->table);
        return RN_ERR_FATAL;
    }
    rn_err_t err;
    if (j->cache_spec.kind == RN_LOOKUP_CACHE_FULL &&
        (!j->loaded || ctx->now_ms - j->loaded_ms >= j->cache_spec.reload_ms) &&
        (err = full_load(j, ctx)) != RN_OK)
        return err;

    /* the key of every row */
    const rn_value_t *kvals[RN_LOOKUP_MAX_KEYS];
    for (int k = 0; k < j->nkeys; k++) {
        rn_value_t *v = rn_arena_alloc(ctx->arena, sizeof *v * (size_t)n);
        if (!v) return RN_ERR_NOMEM;
        if ((err = rn_expr_eval(j->key_exprs[k], in, ctx->arena, v)) != RN_OK) return err;
        kvals[k] = v;
    }
    /* distinct keys */
    size_t nb = 16;
    while (nb < (size_t)n * 2) nb *= 2;
    int *slot = rn_arena_alloc(ctx->arena, sizeof(int) * nb);
    int *row_found = rn_arena_alloc(ctx->arena, sizeof(int) * (size_t)n);
    lk_found_t *found = rn_arena_alloc(ctx->arena, sizeof *found * (size_t)n);
    rn_value_t *key = rn_arena_alloc(ctx->arena, sizeof *key * (size_t)j->nkeys * 2);
    if (!slot || !row_found || !found || !key) return RN_ERR_NOMEM;
    memset(slot, -1, sizeof(int) * nb);
    int nfound = 0;
    for (int i = 0; i < n; i++) {
        row_found[i] = -1;
        bool null = false;
        for (int k = 0; k < j->nkeys; k++) null |= kvals[k][i].null;
        if (null) continue;
        uint64_t h = key_hash(j, kvals, 1, i);
        size_t s = h & (nb - 1);
        for (;; s = (s + 1) & (nb - 1)) {
            int f = slot[s];
            if (f < 0) {
                slot[s] = nfound;
                found[nfound] = (lk_found_t){.rep = i, .hash = h, .miss = -1};
                row_found[i] = nfound++;
                break;
            }
            if (found[f].hash != h) continue;
            for (int k = 0; k < j->nkeys; k++)
                key[k] = kvals[k][i], key[j->nkeys + k] = kvals[k][found[f].rep];
            if (key_equal(j, key, key + j->nkeys)) {
                row_found[i] = f;
                break;
            }
        }
    }
    /* the cache, then the table for the misses */
    int nmiss = 0;
    int *misses = rn_arena_alloc(ctx->arena, sizeof(int) * (size_t)(nfound ? nfound : 1));
    if (!misses) return RN_ERR_NOMEM;
    int ncols = j->tschema->ncols;
    for (int f = 0; f < nfound; f++) {
        lk_found_t *fd = &found[f];
        if (j->cache_spec.kind != RN_LOOKUP_CACHE_NONE) {
            for (int k = 0; k < j->nkeys; k++) key[k] = kvals[k][fd->rep];
            lk_entry_t *e = cache_find(j, &j->cache, fd->hash, key);
            if (e && j->cache_spec.kind == RN_LOOKUP_CACHE_PARTIAL && entry_expired(j, e, ctx->now_ms)) {
                cache_remove(&j->cache, e);
                e = NULL;
            }
            if (e || j->cache_spec.kind == RN_LOOKUP_CACHE_FULL) {
                j->st.hits += e != NULL;
                j->st.misses += e == NULL;
                fd->nrows = e ? e->nrows : 0;
                if (fd->nrows) {
                    fd->rows = rn_arena_alloc(ctx->arena, sizeof *fd->rows * (size_t)fd->nrows);
                    if (!fd->rows) return RN_ERR_NOMEM;
                    for (int r = 0; r < fd->nrows; r++) fd->rows[r] = &e->rows[(size_t)r * (size_t)ncols];
                }
                if (e && j->cache_spec.kind == RN_LOOKUP_CACHE_PARTIAL) {
                    e->accessed_ms = ctx->now_ms;
                    lru_unlink(e);
                    lru_push(&j->cache, e);
                }
                continue;
            }
        }
        j->st.misses++;
        fd->miss = nmiss;
        misses[nmiss++] = f;
    }
    if (nmiss) {
        rn_batch_t *keys = rn_batch_new(ctx->arena, j->kschema, nmiss);
        if (!keys) return RN_ERR_NOMEM;
        for (int m = 0; m < nmiss; m++) {
            for (int k = 0; k < j->nkeys; k++) keys->cols[k][m] = kvals[k][found[misses[m]].rep];
            keys->kinds[m] = RN_ROW_INSERT;
        }
        keys->nrows = nmiss;
        rn_value_t **rows;
        int *row_key, nrows;
        if ((err = do_lookup(j, keys, &rows, &row_key, &nrows, ctx)) != RN_OK) return err;
        for (int r = 0; r < nrows; r++) found[misses[row_key[r]]].nrows++;
        for (int m = 0; m < nmiss; m++) {
            lk_found_t *fd = &found[misses[m]];
            if (fd->nrows && !(fd->rows = rn_arena_alloc(ctx->arena, sizeof *fd->rows * (size_t)fd->nrows)))
                return RN_ERR_NOMEM;
            fd->nrows = 0;
        }
        for (int r = 0; r < nrows; r++) {
            lk_found_t *fd = &found[misses[row_key[r]]];
            fd->rows[fd->nrows++] = rows[r];
        }
        if (j->cache_spec.kind == RN_LOOKUP_CACHE_PARTIAL)
            for (int m = 0; m < nmiss; m++) {
                lk_found_t *fd = &found[misses[m]];
                if (!fd->nrows && !j->cache_spec.cache_missing_key) continue;
                rn_value_t kk[RN_LOOKUP_MAX_KEYS];
                for (int k = 0; k < j->nkeys; k++) kk[k] = keys->cols[k][m];
                lk_entry_t *e = entry_new(j, fd->hash, kk, fd->rows, fd->nrows, ctx->now_ms);
                if (!e || !cache_add(&j->cache, e)) {
                    rn_free(e);
                    return RN_ERR_NOMEM;
                }
            }
    }

    /* the output, in input order */
    lk_emit_t x = {.j = j, .out = {.op = op, .ctx = ctx, .rowwm = in->rowwm != NULL}, .in = in};
    if (j->residual) {
        x.cand = rn_batch_new(ctx->arena, op->schema, CAND_CAP);
        x.cand_in = rn_arena_alloc(ctx->arena, sizeof(int) * CAND_CAP);
        x.sel = rn_arena_alloc(ctx->arena, sizeof(int) * CAND_CAP);
        x.matched = rn_arena_calloc(ctx->arena, (size_t)n, sizeof(bool));
        if (!x.cand || !x.cand_in || !x.sel || !x.matched) return RN_ERR_NOMEM;
        if (in->rowwm && !(x.cand->rowwm = rn_arena_alloc(ctx->arena, sizeof(int64_t) * CAND_CAP)))
            return RN_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++)
        if ((err = join_row(&x, i, row_found[i] >= 0 ? &found[row_found[i]] : NULL)) != RN_OK) return err;
    if (j->residual && (err = cand_flush(&x)) != RN_OK) return err;
    err = rn_op_out_flush(&x.out);
    cache_trim(j);
    return err;
}

/* ---- the rest of the operator ------------------------------------------------ */

static void lookup_join_explain(const rn_op_t *op, rn_buf_t *out)
{
    const lookup_join_t *j = op->priv;
    const rn_lookup_cache_spec_t *c = &j->cache_spec;
    rn_buf_appendf(out, "%stable=%s, key=[", j->left ? "LEFT, " : "", j->table);
    for (int k = 0; k < j->nkeys; k++) {
        if (k) rn_buf_appends(out, ", ");
        rn_buf_appendf(out, "%s=", j->tschema->cols[j->key_cols[k]].name);
        rn_expr_explain(j->key_exprs[k], op->input->schema, out);
    }
    rn_buf_appends(out, "]");
    if (j->residual) {
        rn_buf_appends(out, ", where ");
        rn_expr_explain(j->residual, op->schema, out);
    }
    switch (c->kind) {
    case RN_LOOKUP_CACHE_NONE:
        rn_buf_appends(out, ", cache=NONE");
        break;
    case RN_LOOKUP_CACHE_PARTIAL:
        rn_buf_appendf(out, ", cache=PARTIAL max-rows=%lld", (long long)c->max_rows);
        if (c->expire_after_write_ms)
            rn_buf_appendf(out, " expire-after-write=%lldms", (long long)c->expire_after_write_ms);
        if (c->expire_after_access_ms)
            rn_buf_appendf(out, " expire-after-access=%lldms", (long long)c->expire_after_access_ms);
        if (!c->cache_missing_key) rn_buf_appends(out, " cache-missing-key=false");
        break;
    case RN_LOOKUP_CACHE_FULL:
        rn_buf_appendf(out, ", cache=FULL reload=%lldms", (long long)c->reload_ms);
        break;
    }
}

static void lookup_join_destroy(rn_op_t *op)
{
    lookup_join_t *j = op->priv;
    if (!j) return;
    if (j->l) j->l->close(j->l);
    cache_free(&j->cache);
    rn_schema_unref(j->tschema);
    rn_schema_unref(j->kschema);
    rn_free(j->table);
    rn_free(j);
}

static size_t lookup_join_state_size(const rn_op_t *op, size_t *keys)
{
    const lookup_join_t *j = op->priv;
    *keys = j->cache.count;
    return j->cache.bytes + j->cache.nbuckets * sizeof(lk_entry_t *);
}

static const rn_op_vtable_t lookup_join_vtable = {
    .kind = "LookupJoin",
    .process = lookup_join_process,
    .explain = lookup_join_explain,
    .destroy = lookup_join_destroy,
    .state_size = lookup_join_state_size,
};

rn_op_t *rn_lookup_join_new(rn_op_t *input, const rn_lookup_join_spec_t *spec, rn_schema_t *out_schema,
                            char *errbuf, size_t errbuf_size)
{
    const rn_schema_t *ts = spec->table_schema;
    if (spec->nkeys < 1 || spec->nkeys > RN_LOOKUP_MAX_KEYS) {
        snprintf(errbuf, errbuf_size, "a lookup join needs 1 to %d key columns", RN_LOOKUP_MAX_KEYS);
        return NULL;
    }
    if (out_schema->ncols != input->schema->ncols + ts->ncols) {
        snprintf(errbuf, errbuf_size,
                 "lookup join: the output must have the input's and the table's columns");
        return NULL;
    }
    for (int k = 0; k < spec->nkeys; k++)
        if (spec->key_cols[k] < 0 || spec->key_cols[k] >= ts->ncols ||
            (spec->key_exprs[k]->type->id != ts->cols[spec->key_cols[k]].type->id &&
             !(rn_type_is_integer(spec->key_exprs[k]->type->id) &&
               rn_type_is_integer(ts->cols[spec->key_cols[k]].type->id)))) {
            snprintf(errbuf, errbuf_size,
                     "lookup join: key %d is out of range or of another type than its column", k);
            return NULL;
        }
    if (spec->cache.kind == RN_LOOKUP_CACHE_FULL && spec->cache.reload_ms <= 0) {
        snprintf(errbuf, errbuf_size, "lookup join: a FULL cache needs a positive reload interval");
        return NULL;
    }
    lookup_join_t *j = rn_calloc(1, sizeof *j);
    if (!j) return NULL;
    cache_init(&j->cache);
    j->left = spec->left;
    j->nkeys = spec->nkeys;
    j->residual = spec->residual;
    j->cache_spec = spec->cache;
    j->tschema = rn_schema_ref((rn_schema_t *)ts);
    j->table = rn_strdup(spec->table ? spec->table : "?");
    j->kschema = rn_schema_new(spec->nkeys);
    if (!j->table || !j->kschema) goto fail;
    for (int k = 0; k < spec->nkeys; k++) {
        j->key_cols[k] = spec->key_cols[k];
        j->key_exprs[k] = spec->key_exprs[k];
        j->key_types[k] = ts->cols[spec->key_cols[k]].type->id;
        if (rn_schema_set(j->kschema, k, ts->cols[spec->key_cols[k]].name,
                          ts->cols[spec->key_cols[k]].type) != 0)
            goto fail;
    }
    rn_op_t *op = rn_op_new(&lookup_join_vtable, out_schema, input);
    if (!op) goto fail;
    op->priv = j;
    op->updating = input->updating;
    if (rn_op_connect(input, op, 0) != RN_OK) {
        rn_op_free(op);
        return NULL;
    }
    return op;
fail:
    lookup_join_destroy(&(rn_op_t){.priv = j});
    return NULL;
}

void rn_lookup_join_set_table(rn_op_t *op, rn_lookup_t *l)
{
    lookup_join_t *j = op->priv;
    if (j->l) j->l->close(j->l);
    j->l = l;
}

bool rn_is_lookup_join(const rn_op_t *op)
{
    return op->vt == &lookup_join_vtable;
}

const char *rn_lookup_join_table(const rn_op_t *op, int *nkeys, const int **key_cols)
{
    const lookup_join_t *j = op->priv;
    *nkeys = j->nkeys;
    *key_cols = j->key_cols;
    return j->table;
}

void rn_lookup_join_stats(const rn_op_t *op, rn_lookup_join_stats_t *out)
{
    const lookup_join_t *j = op->priv;
    *out = j->st;
    out->cached_keys = j->cache.count;
}
