/*
 * accum.c - the aggregate functions' accumulators (see accum.h for what
 * each keeps, the two contexts and the encoding).
 *
 * In order: the context, result types and names, ownership; then the
 * layers bottom up: owned strings, sets and multisets, add / retract /
 * merge per kind, results, and the snapshot codec.
 */
#include "op/accum.h"

#include "core/hash.h"
#include "core/mem.h"
#include "state/store.h"

#define ACCUM_SEED 0x9e3779b9   /* hash seed of set and multiset keys */
#define ACCUM_UNSEEN (-2)       /* a retracted value that was never added */

void rn_accum_ctx_init(rn_accum_ctx_t *cx, bool multiset, bool mergeable)
{
    cx->multiset = multiset;
    cx->mergeable = mergeable;
    rn_buf_init(&cx->scratch);
}

void rn_accum_ctx_free(rn_accum_ctx_t *cx) { rn_buf_free(&cx->scratch); }

rn_type_id rn_accum_result_type(const rn_agg_spec_t *s)
{
    switch (s->kind) {
    case RN_AGG_COUNT_STAR:
    case RN_AGG_COUNT:
    case RN_AGG_COUNT_DISTINCT: return RN_TYPE_BIGINT;
    case RN_AGG_SUM: return s->arg_type == RN_TYPE_DOUBLE ? RN_TYPE_DOUBLE : RN_TYPE_BIGINT;
    case RN_AGG_AVG: return s->arg_type; /* INT, BIGINT or DOUBLE, as in Flink */
    case RN_AGG_MIN:
    case RN_AGG_MAX:
    case RN_AGG_FIRST_VALUE:
    case RN_AGG_LAST_VALUE:
    case RN_AGG_MAX_BY:
    case RN_AGG_MIN_BY: return s->arg_type;
    }
    return s->result_type;
}

void rn_accum_explain(rn_buf_t *out, const rn_agg_spec_t *s, const rn_schema_t *in)
{
    static const char *names[] = {"COUNT", "COUNT", "COUNT",       "SUM",        "MIN",   "MAX",
                                  "AVG",   "FIRST_VALUE", "LAST_VALUE", "MAX_BY", "MIN_BY"};
    if (s->kind == RN_AGG_COUNT_STAR) rn_buf_appends(out, "COUNT(*)");
    else if (s->kind == RN_AGG_MAX_BY || s->kind == RN_AGG_MIN_BY)
        rn_buf_appendf(out, "%s(%s, %s)", names[s->kind], in->cols[s->arg].name, in->cols[s->by].name);
    else if (s->kind == RN_AGG_COUNT_DISTINCT) rn_buf_appendf(out, "COUNT(DISTINCT %s)", in->cols[s->arg].name);
    else if (s->kind == RN_AGG_AVG && s->arg_type != RN_TYPE_DOUBLE) /* an integer average, its type named */
        rn_buf_appendf(out, "AVG(%s %s)", in->cols[s->arg].name, rn_type_name(s->arg_type));
    else
        rn_buf_appendf(out, "%s(%s)", (unsigned)s->kind < sizeof names / sizeof names[0] ? names[s->kind] : "?",
                       in->cols[s->arg].name);
}

static bool is_minmax(const rn_agg_spec_t *s) { return s->kind == RN_AGG_MIN || s->kind == RN_AGG_MAX; }

static bool is_by(const rn_agg_spec_t *s) { return s->kind == RN_AGG_MAX_BY || s->kind == RN_AGG_MIN_BY; }

/* The aux of MAX_BY/MIN_BY: what acc->v (the value held) does not say. */
typedef struct by_state {
    rn_value_t ord;             /* ordering of the row held (a string points into obuf) */
    uint64_t seq;               /* arrival sequence of the row held */
    char *vbuf;                 /* owned copy of a STRING value held, or NULL */
    char *obuf;                 /* owned copy of a STRING ordering held, or NULL */
    uint32_t vcap, ocap;        /* their capacities */
} by_state_t;

/* Whether aux is a store (multiset or set) rather than a string buffer. */
static bool aux_is_store(const rn_accum_ctx_t *cx, const rn_agg_spec_t *s)
{
    return (cx->multiset && is_minmax(s)) || (cx->mergeable && s->kind == RN_AGG_COUNT_DISTINCT);
}

bool rn_accum_owns(const rn_accum_ctx_t *cx, const rn_agg_spec_t *s)
{
    if (aux_is_store(cx, s) || is_by(s)) return true;
    switch (s->kind) {
    case RN_AGG_MIN:
    case RN_AGG_MAX:
    case RN_AGG_FIRST_VALUE:
    case RN_AGG_LAST_VALUE: return s->arg_type == RN_TYPE_STRING;
    default: return false;
    }
}

void rn_accum_free(const rn_accum_ctx_t *cx, const rn_agg_spec_t *s, rn_accum_t *acc)
{
    if (!acc->aux) return;
    if (aux_is_store(cx, s)) {
        rn_store_free(acc->aux);
    } else if (is_by(s)) {
        by_state_t *b = acc->aux;
        rn_free(b->vbuf);
        rn_free(b->obuf);
        rn_free(b);
    } else {
        rn_free(acc->aux);
    }
    acc->aux = NULL;
}

/* ---- owned strings ---------------------------------------------------------- */

/* The capacity of the string buffer that holds len bytes: 16 doubled until
 * it fits. A buffer is only ever grown to the capacity of what it holds,
 * so the capacity of the current value is always allocated. */
static uint32_t str_cap(uint32_t len)
{
    uint32_t cap = 16;
    while (cap < len) cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
    return cap;
}

/* Makes v (not NULL) the value held; a string is copied into the
 * accumulator's buffer, grown when too small. Returns RN_OK or
 * RN_ERR_NOMEM (acc unchanged). */
static rn_err_t keep_value(rn_type_id t, rn_accum_t *acc, const rn_value_t *v)
{
    if (t != RN_TYPE_STRING) {
        acc->v = *v;
        return RN_OK;
    }
    if (!acc->aux || v->len > str_cap(acc->v.null ? 0 : acc->v.len)) {
        char *p = rn_realloc(acc->aux, str_cap(v->len));
        if (!p) return RN_ERR_NOMEM;
        acc->aux = p;
    }
    if (v->len) memcpy(acc->aux, v->s, v->len);
    acc->v = rn_value_str(acc->aux, v->len);
    return RN_OK;
}

/* ---- sets (mergeable COUNT(DISTINCT)) and multisets (MIN/MAX) -------------- */

/* Serializes v into cx->scratch; false on OOM. */
static bool value_key(rn_accum_ctx_t *cx, rn_type_id t, const rn_value_t *v)
{
    rn_buf_clear(&cx->scratch);
    rn_key_append(&cx->scratch, t, v);
    return !cx->scratch.oom;
}

/* Adds the serialized value key[0..klen) to acc's set (created if
 * needed) and updates the count. Returns RN_OK or RN_ERR_NOMEM. */
static rn_err_t set_add(rn_accum_t *acc, const void *key, uint32_t klen)
{
    if (!acc->aux) {
        acc->aux = rn_store_new("window-distinct", sizeof(int64_t), NULL, NULL);
        if (!acc->aux) return RN_ERR_NOMEM;
    }
    bool created;
    if (!rn_store_upsert(acc->aux, key, klen, rn_hash_bytes(key, klen, ACCUM_SEED), &created))
        return RN_ERR_NOMEM;
    acc->v.i = acc->n = (int64_t)rn_store_count(acc->aux);
    return RN_OK;
}

/* Adds sign (+1/-1) copies of the value in cx->scratch to acc's multiset;
 * returns its new multiplicity, ACCUM_UNSEEN for the retraction of a value
 * not in the multiset (ignored), or -1 on OOM. */
static int64_t multiset_add(rn_accum_ctx_t *cx, rn_accum_t *acc, int sign)
{
    if (!acc->aux) {
        acc->aux = rn_store_new("distinct", sizeof(int64_t), NULL, NULL);
        if (!acc->aux) return -1;
    }
    const void *k = cx->scratch.data;
    uint32_t klen = (uint32_t)cx->scratch.len;
    uint64_t h = rn_hash_bytes(k, klen, ACCUM_SEED);
    if (sign > 0) {
        bool created;
        int64_t *cnt = rn_store_upsert(acc->aux, k, klen, h, &created);
        if (!cnt) return -1;
        return ++*cnt;
    }
    int64_t *cnt = rn_store_find(acc->aux, k, klen, h);
    if (!cnt) return ACCUM_UNSEEN;
    if (--*cnt <= 0) {
        rn_store_remove(acc->aux, k, klen, h);
        return 0;
    }
    return *cnt;
}

/* Recomputes the MIN or MAX of a multiset into acc->v. Strings point into
 * the multiset's keys. */
static void multiset_extreme(const rn_agg_spec_t *s, rn_accum_t *acc)
{
    acc->v = RN_VALUE_NULL;
    if (!acc->aux) return;
    size_t pos = 0;
    void *slot;
    bool have = false;
    while ((slot = rn_store_next(acc->aux, &pos))) {
        uint32_t klen, off = 0;
        const void *k = rn_store_key_of(acc->aux, slot, &klen);
        rn_value_t v;
        if (!rn_key_read(k, klen, &off, s->arg_type, &v) || v.null) continue;
        int c = have ? rn_value_compare(s->arg_type, &v, &acc->v) : 0;
        if (!have || (s->kind == RN_AGG_MIN ? c < 0 : c > 0)) {
            acc->v = v;
            have = true;
        }
    }
}

/* Whether v is better than the extreme held by MIN/MAX s. */
static bool better_than(const rn_agg_spec_t *s, const rn_value_t *v, const rn_value_t *held)
{
    int c = rn_value_compare(s->arg_type, v, held);
    return s->kind == RN_AGG_MIN ? c < 0 : c > 0;
}

/* MIN/MAX with a multiset: adds sign copies of v (not NULL). */
static rn_err_t minmax_multiset(rn_accum_ctx_t *cx, const rn_agg_spec_t *s, rn_accum_t *acc,
                                const rn_value_t *v, int sign)
{
    if (!value_key(cx, s->arg_type, v)) return RN_ERR_NOMEM;
    /* Decide before the multiset changes: acc->v may point into it. */
    bool was_extreme = !acc->v.null && acc->n > 0 && rn_value_equal(s->arg_type, v, &acc->v);
    int64_t m = multiset_add(cx, acc, sign);
    if (m == ACCUM_UNSEEN) return RN_OK;
    if (m < 0) return RN_ERR_NOMEM;
    acc->n += sign;
    /* Cheap paths: a new better value, or a retraction that leaves the
     * extreme in place; otherwise rescan. */
    if (sign > 0) {
        if (acc->n == 1 || acc->v.null || better_than(s, v, &acc->v)) {
            /* Strings must point into the multiset's own copy. */
            if (s->arg_type == RN_TYPE_STRING) multiset_extreme(s, acc);
            else acc->v = *v;
        }
    } else if (m == 0 && was_extreme) {
        multiset_extreme(s, acc);
    }
    return RN_OK;
}

/* ---- MAX_BY / MIN_BY ---------------------------------------------------------- */

/* Makes room for a string of len bytes in *buf (capacity *cap, grown to
 * str_cap(len)). Returns false on OOM (buffer unchanged). */
static bool by_room(char **buf, uint32_t *cap, uint32_t len)
{
    if (*buf && len <= *cap) return true;
    uint32_t c = str_cap(len);
    char *p = rn_realloc(*buf, c);
    if (!p) return false;
    *buf = p;
    *cap = c;
    return true;
}

/* Makes the row (val, ord, seq) the one acc holds, copying strings into
 * the by-state's buffers. Returns RN_OK or RN_ERR_NOMEM (acc unchanged,
 * but for a by-state created or buffers grown). */
static rn_err_t by_take(const rn_agg_spec_t *s, rn_accum_t *acc, const rn_value_t *val,
                        const rn_value_t *ord, uint64_t seq)
{
    if (!acc->aux && !(acc->aux = rn_calloc(1, sizeof(by_state_t)))) return RN_ERR_NOMEM;
    by_state_t *b = acc->aux;
    bool vstr = s->arg_type == RN_TYPE_STRING && !val->null;
    bool ostr = s->by_type == RN_TYPE_STRING && !ord->null;
    if ((vstr && !by_room(&b->vbuf, &b->vcap, val->len)) || (ostr && !by_room(&b->obuf, &b->ocap, ord->len)))
        return RN_ERR_NOMEM;
    acc->v = *val;
    if (vstr) {
        if (val->len) memcpy(b->vbuf, val->s, val->len);
        acc->v = rn_value_str(b->vbuf, val->len);
    }
    b->ord = *ord;
    if (ostr) {
        if (ord->len) memcpy(b->obuf, ord->s, ord->len);
        b->ord = rn_value_str(b->obuf, ord->len);
    }
    b->seq = seq;
    return RN_OK;
}

/* Whether ordering o beats the ordering held h (strictly larger for
 * MAX_BY, smaller for MIN_BY). */
static bool by_better(const rn_agg_spec_t *s, const rn_value_t *o, const rn_value_t *h)
{
    int c = rn_value_compare(s->by_type, o, h);
    return s->kind == RN_AGG_MIN_BY ? c < 0 : c > 0;
}

/* ---- add, retract, merge ------------------------------------------------------- */

rn_err_t rn_accum_add(rn_accum_ctx_t *cx, const rn_agg_spec_t *s, rn_accum_t *acc,
                      const rn_value_t *v, uint64_t seq)
{
    switch (s->kind) {
    case RN_AGG_COUNT_STAR:
        acc->v.i++;
        return RN_OK;
    case RN_AGG_COUNT:
        if (!v->null) acc->v.i++;
        return RN_OK;
    case RN_AGG_COUNT_DISTINCT:
        /* Without a set of its own the operator counts (rn_accum_count_distinct). */
        if (v->null || !cx->mergeable) return RN_OK;
        if (!value_key(cx, s->arg_type, v)) return RN_ERR_NOMEM;
        return set_add(acc, cx->scratch.data, (uint32_t)cx->scratch.len);
    case RN_AGG_SUM:
    case RN_AGG_AVG:
        if (v->null) return RN_OK;
        acc->n++;
        if (s->arg_type == RN_TYPE_DOUBLE) acc->v.d += v->d;
        else acc->v.i = (int64_t)((uint64_t)acc->v.i + (uint64_t)v->i); /* wraps */
        return RN_OK;
    case RN_AGG_MIN:
    case RN_AGG_MAX:
        if (v->null) return RN_OK;
        if (cx->multiset) return minmax_multiset(cx, s, acc, v, 1);
        if ((acc->n == 0 || better_than(s, v, &acc->v)) && keep_value(s->arg_type, acc, v) != RN_OK)
            return RN_ERR_NOMEM;
        acc->n++;
        return RN_OK;
    case RN_AGG_FIRST_VALUE:
    case RN_AGG_LAST_VALUE:
        if (v->null) return RN_OK;
        if (s->kind == RN_AGG_LAST_VALUE || acc->n == 0) {
            if (keep_value(s->arg_type, acc, v) != RN_OK) return RN_ERR_NOMEM;
            acc->seq = seq;
        }
        acc->n++;
        return RN_OK;
    case RN_AGG_MAX_BY:
    case RN_AGG_MIN_BY:
        /* v is (value, ordering); rows arrive in order, so only a strictly
         * better ordering replaces the row held (ties keep the earliest). */
        if (v[1].null) return RN_OK;
        if ((acc->n == 0 || by_better(s, &v[1], &((by_state_t *)acc->aux)->ord)) &&
            by_take(s, acc, &v[0], &v[1], seq) != RN_OK)
            return RN_ERR_NOMEM;
        acc->n++;
        return RN_OK;
    }
    return RN_OK;
}

rn_err_t rn_accum_retract(rn_accum_ctx_t *cx, const rn_agg_spec_t *s, rn_accum_t *acc,
                          const rn_value_t *v)
{
    switch (s->kind) {
    case RN_AGG_COUNT_STAR:
        acc->v.i--;
        return RN_OK;
    case RN_AGG_COUNT:
        if (!v->null) acc->v.i--;
        return RN_OK;
    case RN_AGG_COUNT_DISTINCT:
        return cx->mergeable ? RN_ERR_UNSUPPORTED : RN_OK;
    case RN_AGG_SUM:
    case RN_AGG_AVG:
        if (v->null) return RN_OK;
        acc->n--;
        if (s->arg_type == RN_TYPE_DOUBLE) acc->v.d -= v->d;
        else acc->v.i = (int64_t)((uint64_t)acc->v.i - (uint64_t)v->i); /* wraps */
        return RN_OK;
    case RN_AGG_MIN:
    case RN_AGG_MAX:
        if (!cx->multiset) return RN_ERR_UNSUPPORTED;
        if (v->null) return RN_OK;
        return minmax_multiset(cx, s, acc, v, -1);
    case RN_AGG_FIRST_VALUE:
    case RN_AGG_LAST_VALUE:
    case RN_AGG_MAX_BY:
    case RN_AGG_MIN_BY: return RN_ERR_UNSUPPORTED;
    }
    return RN_OK;
}

void rn_accum_count_distinct(rn_accum_t *acc, int64_t m, int sign)
{
    if (sign > 0 && m == 1) acc->n++;
    if (sign < 0 && m == 0) acc->n--;
    acc->v.i = acc->n;
}

rn_err_t rn_accum_merge_sets(rn_accum_ctx_t *cx, const rn_agg_spec_t *s, rn_accum_t *dst,
                             rn_accum_t *src)
{
    (void)cx;
    if (s->kind != RN_AGG_COUNT_DISTINCT || !src->aux) return RN_OK;
    /* Add the smaller set to the larger one. */
    if (!dst->aux || rn_store_count(src->aux) > rn_store_count(dst->aux)) {
        void *t = dst->aux;
        dst->aux = src->aux;
        src->aux = t;
    }
    if (src->aux) {
        size_t pos = 0;
        void *slot;
        while ((slot = rn_store_next(src->aux, &pos))) {
            uint32_t klen;
            const void *k = rn_store_key_of(src->aux, slot, &klen);
            if (set_add(dst, k, klen) != RN_OK) return RN_ERR_NOMEM;
        }
    }
    dst->v.i = dst->n = (int64_t)rn_store_count(dst->aux);
    return RN_OK;
}

void rn_accum_merge(const rn_agg_spec_t *s, rn_accum_t *dst, rn_accum_t *src)
{
    bool take; /* MIN/MAX/FIRST/LAST: src holds the value to keep */
    switch (s->kind) {
    case RN_AGG_COUNT_STAR:
    case RN_AGG_COUNT:
        dst->v.i += src->v.i;
        return;
    case RN_AGG_COUNT_DISTINCT: return; /* rn_accum_merge_sets */
    case RN_AGG_SUM:
    case RN_AGG_AVG:
        dst->n += src->n;
        if (s->arg_type == RN_TYPE_DOUBLE) dst->v.d += src->v.d;
        else dst->v.i = (int64_t)((uint64_t)dst->v.i + (uint64_t)src->v.i);
        return;
    case RN_AGG_MIN:
    case RN_AGG_MAX:
        take = src->n > 0 && (dst->n == 0 || better_than(s, &src->v, &dst->v));
        break;
    case RN_AGG_FIRST_VALUE:
        take = src->n > 0 && (dst->n == 0 || src->seq < dst->seq);
        break;
    case RN_AGG_LAST_VALUE:
        take = src->n > 0 && (dst->n == 0 || src->seq > dst->seq);
        break;
    case RN_AGG_MAX_BY:
    case RN_AGG_MIN_BY:
        take = src->n > 0 && dst->n == 0;
        if (src->n > 0 && dst->n > 0) {
            const by_state_t *sb = src->aux, *db = dst->aux;
            take = by_better(s, &sb->ord, &db->ord) ||
                   (rn_value_compare(s->by_type, &sb->ord, &db->ord) == 0 && sb->seq < db->seq);
        }
        break;
    default: return;
    }
    int64_t n = dst->n + src->n;
    if (take) {
        rn_accum_t t = *dst; /* swap, so src's buffer still dies with src */
        *dst = *src;
        *src = t;
    }
    dst->n = n;
}

/* ---- results ------------------------------------------------------------------ */

rn_value_t rn_accum_result(const rn_agg_spec_t *s, const rn_accum_t *acc)
{
    switch (s->kind) {
    case RN_AGG_COUNT_STAR:
    case RN_AGG_COUNT:
    case RN_AGG_COUNT_DISTINCT: return rn_value_int(acc->v.i);
    case RN_AGG_SUM:
        if (acc->n <= 0) return RN_VALUE_NULL;
        return s->arg_type == RN_TYPE_DOUBLE ? rn_value_double(acc->v.d) : rn_value_int(acc->v.i);
    case RN_AGG_AVG:
        if (acc->n <= 0) return RN_VALUE_NULL;
        if (s->arg_type == RN_TYPE_DOUBLE) return rn_value_double(acc->v.d / (double)acc->n);
        /* Flink's integer AVG: the BIGINT sum divided by the count in integer
         * arithmetic (truncated toward zero), cast to the argument's type */
        if (s->arg_type == RN_TYPE_INT) return rn_value_int((int32_t)(acc->v.i / acc->n));
        return rn_value_int(acc->v.i / acc->n);
    case RN_AGG_MIN:
    case RN_AGG_MAX:
    case RN_AGG_FIRST_VALUE:
    case RN_AGG_LAST_VALUE:
    case RN_AGG_MAX_BY:
    case RN_AGG_MIN_BY:
        if (acc->n <= 0 || acc->v.null) return RN_VALUE_NULL;
        return acc->v;
    }
    return RN_VALUE_NULL;
}

/* ---- snapshot codec (format in accum.h) ------------------------------------------ */

static void put_value(rn_buf_t *out, rn_type_id t, const rn_value_t *v)
{
    rn_snap_put_u8(out, v->null ? 1 : 0);
    if (v->null) return;
    if (t == RN_TYPE_STRING) rn_snap_put_bytes(out, v->s, v->len);
    else rn_snap_put_u64(out, (uint64_t)v->i);
}

void rn_accum_encode(const rn_accum_ctx_t *cx, const rn_agg_spec_t *s, const rn_accum_t *acc,
                     rn_buf_t *out)
{
    switch (s->kind) {
    case RN_AGG_COUNT_STAR:
    case RN_AGG_COUNT: rn_snap_put_u64(out, (uint64_t)acc->v.i); return;
    case RN_AGG_COUNT_DISTINCT:
        rn_snap_put_u64(out, (uint64_t)acc->v.i);
        if (cx->mergeable && acc->aux) {
            size_t pos = 0;
            void *slot;
            while ((slot = rn_store_next(acc->aux, &pos))) {
                uint32_t klen;
                const void *k = rn_store_key_of(acc->aux, slot, &klen);
                rn_snap_put_bytes(out, k, klen);
            }
        }
        return;
    case RN_AGG_SUM:
    case RN_AGG_AVG:
        rn_snap_put_u64(out, (uint64_t)acc->v.i);
        rn_snap_put_u64(out, (uint64_t)acc->n);
        return;
    case RN_AGG_MAX_BY:
    case RN_AGG_MIN_BY: {
        const by_state_t *b = acc->aux;
        rn_value_t none = RN_VALUE_NULL;
        rn_snap_put_u64(out, (uint64_t)acc->n);
        put_value(out, s->arg_type, acc->n > 0 ? &acc->v : &none);
        put_value(out, s->by_type, acc->n > 0 && b ? &b->ord : &none);
        rn_snap_put_u64(out, acc->n > 0 && b ? b->seq : 0);
        return;
    }
    default: break;
    }
    rn_snap_put_u64(out, (uint64_t)acc->n);
    put_value(out, s->arg_type, &acc->v);
    if (cx->multiset && is_minmax(s)) {
        rn_snap_put_u64(out, acc->aux ? (uint64_t)rn_store_count(acc->aux) : 0);
        size_t pos = 0;
        void *slot;
        while (acc->aux && (slot = rn_store_next(acc->aux, &pos))) {
            uint32_t klen;
            const void *k = rn_store_key_of(acc->aux, slot, &klen);
            int64_t m;
            memcpy(&m, slot, sizeof m);
            rn_snap_put_bytes(out, k, klen);
            rn_snap_put_u64(out, (uint64_t)m);
        }
    }
    if (cx->mergeable && (s->kind == RN_AGG_FIRST_VALUE || s->kind == RN_AGG_LAST_VALUE))
        rn_snap_put_u64(out, acc->seq);
}

/* Whether key[0..klen) is exactly one serialized value of type t. */
static bool key_valid(const void *key, uint32_t klen, rn_type_id t)
{
    uint32_t off = 0;
    rn_value_t v;
    return rn_key_read(key, klen, &off, t, &v) && off == klen;
}

/* Reads the value written by put_value. A string is copied into acc's
 * buffer unless it is only the multiset's extreme (then left NULL for
 * multiset_extreme). */
static rn_err_t read_value(rn_snap_reader_t *r, const rn_agg_spec_t *s, bool multiset,
                           rn_accum_t *acc)
{
    uint8_t null = rn_snap_u8(r);
    if (r->bad || null > 1) return RN_ERR_DECODE;
    acc->v = RN_VALUE_NULL;
    if (null) return RN_OK;
    if (s->arg_type != RN_TYPE_STRING) {
        acc->v = rn_value_int((int64_t)rn_snap_u64(r));
        return r->bad ? RN_ERR_DECODE : RN_OK;
    }
    uint32_t len;
    const char *p = rn_snap_bytes(r, &len);
    if (!p) return RN_ERR_DECODE;
    if (multiset) return RN_OK;
    rn_value_t v = rn_value_str(p, len);
    return keep_value(RN_TYPE_STRING, acc, &v);
}

/* Reads a value written by put_value as type t into *v (a string points
 * into the reader's bytes). Returns false if bad. */
static bool read_raw(rn_snap_reader_t *r, rn_type_id t, rn_value_t *v)
{
    uint8_t null = rn_snap_u8(r);
    if (r->bad || null > 1) return false;
    *v = RN_VALUE_NULL;
    if (null) return true;
    if (t != RN_TYPE_STRING) {
        *v = rn_value_int((int64_t)rn_snap_u64(r));
        return !r->bad;
    }
    uint32_t len;
    const char *p = rn_snap_bytes(r, &len);
    if (!p) return false;
    *v = rn_value_str(p, len);
    return true;
}

/* MAX_BY/MIN_BY: reads what rn_accum_encode wrote into a zeroed acc. */
static rn_err_t by_decode(const rn_agg_spec_t *s, rn_snap_reader_t *r, rn_accum_t *acc)
{
    int64_t n = (int64_t)rn_snap_u64(r);
    rn_value_t val, ord;
    if (r->bad || n < 0 || !read_raw(r, s->arg_type, &val) || !read_raw(r, s->by_type, &ord)) return RN_ERR_DECODE;
    uint64_t seq = rn_snap_u64(r);
    if (r->bad || (n > 0) == ord.null || (n == 0 && (!val.null || seq != 0))) return RN_ERR_DECODE;
    if (n > 0 && by_take(s, acc, &val, &ord, seq) != RN_OK) return RN_ERR_NOMEM;
    acc->n = n;
    return RN_OK;
}

rn_err_t rn_accum_decode(rn_accum_ctx_t *cx, const rn_agg_spec_t *s, rn_snap_reader_t *r,
                         rn_accum_t *acc)
{
    if (is_by(s)) return by_decode(s, r, acc);
    switch (s->kind) {
    case RN_AGG_COUNT_STAR:
    case RN_AGG_COUNT:
        acc->v.i = acc->n = (int64_t)rn_snap_u64(r);
        return r->bad ? RN_ERR_DECODE : RN_OK;
    case RN_AGG_COUNT_DISTINCT: {
        uint64_t count = rn_snap_u64(r);
        if (r->bad) return RN_ERR_DECODE;
        acc->v.i = acc->n = (int64_t)count;
        if (!cx->mergeable) return RN_OK;
        for (uint64_t e = 0; e < count; e++) {
            uint32_t klen;
            const void *k = rn_snap_bytes(r, &klen);
            if (!k || !key_valid(k, klen, s->arg_type)) return RN_ERR_DECODE;
            if (set_add(acc, k, klen) != RN_OK) return RN_ERR_NOMEM;
            if ((uint64_t)acc->n != e + 1) return RN_ERR_DECODE; /* duplicate value */
        }
        return RN_OK;
    }
    case RN_AGG_SUM:
    case RN_AGG_AVG:
        acc->v.i = (int64_t)rn_snap_u64(r);
        acc->n = (int64_t)rn_snap_u64(r);
        return r->bad ? RN_ERR_DECODE : RN_OK;
    default: break;
    }
    bool ms = cx->multiset && is_minmax(s);
    acc->n = (int64_t)rn_snap_u64(r);
    if (r->bad) return RN_ERR_DECODE;
    rn_err_t err = read_value(r, s, ms, acc);
    if (err != RN_OK) return err;
    if (ms) {
        uint64_t n = rn_snap_u64(r);
        if (r->bad) return RN_ERR_DECODE;
        acc->aux = rn_store_new("distinct", sizeof(int64_t), NULL, NULL);
        if (!acc->aux) return RN_ERR_NOMEM;
        for (uint64_t e = 0; e < n; e++) {
            uint32_t klen;
            const void *k = rn_snap_bytes(r, &klen);
            int64_t m = (int64_t)rn_snap_u64(r);
            if (r->bad || m <= 0 || !key_valid(k, klen, s->arg_type)) return RN_ERR_DECODE;
            bool created;
            int64_t *cnt = rn_store_upsert(acc->aux, k, klen, rn_hash_bytes(k, klen, ACCUM_SEED), &created);
            if (!cnt) return RN_ERR_NOMEM;
            if (!created) return RN_ERR_DECODE; /* duplicate value */
            *cnt = m;
        }
        /* A string extreme points into the multiset's own copy. */
        if (s->arg_type == RN_TYPE_STRING) multiset_extreme(s, acc);
    }
    if (cx->mergeable && (s->kind == RN_AGG_FIRST_VALUE || s->kind == RN_AGG_LAST_VALUE)) {
        acc->seq = rn_snap_u64(r);
        if (r->bad) return RN_ERR_DECODE;
    }
    return RN_OK;
}
