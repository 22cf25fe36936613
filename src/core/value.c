/*
 * value.c - types, value comparison and hashing, schemas, batches.
 */
#include "core/value.h"
#include "core/hash.h"
#include "core/mem.h"

#include <string.h>

const rn_type_t rn_type_null = {RN_TYPE_NULL, 0, NULL};
const rn_type_t rn_type_boolean = {RN_TYPE_BOOLEAN, 0, NULL};
const rn_type_t rn_type_int = {RN_TYPE_INT, 0, NULL};
const rn_type_t rn_type_bigint = {RN_TYPE_BIGINT, 0, NULL};
const rn_type_t rn_type_double = {RN_TYPE_DOUBLE, 0, NULL};
const rn_type_t rn_type_string = {RN_TYPE_STRING, 0, NULL};
const rn_type_t rn_type_timestamp = {RN_TYPE_TIMESTAMP, 0, NULL};
const rn_type_t rn_type_timestamp_ltz = {RN_TYPE_TIMESTAMP_LTZ, 0, NULL};

const rn_type_t *rn_type_scalar(rn_type_id id)
{
    switch (id) {
    case RN_TYPE_NULL: return &rn_type_null;
    case RN_TYPE_BOOLEAN: return &rn_type_boolean;
    case RN_TYPE_INT: return &rn_type_int;
    case RN_TYPE_BIGINT: return &rn_type_bigint;
    case RN_TYPE_DOUBLE: return &rn_type_double;
    case RN_TYPE_STRING: return &rn_type_string;
    case RN_TYPE_TIMESTAMP: return &rn_type_timestamp;
    case RN_TYPE_TIMESTAMP_LTZ: return &rn_type_timestamp_ltz;
    default: return NULL;
    }
}

const char *rn_type_name(rn_type_id id)
{
    static const char *names[RN_TYPE__COUNT] = {
        "NULL", "BOOLEAN", "INT", "BIGINT", "DOUBLE",
        "STRING", "TIMESTAMP(3)", "TIMESTAMP_LTZ(3)", "ROW",
    };
    return (unsigned)id < RN_TYPE__COUNT ? names[id] : "?";
}

bool rn_value_equal(rn_type_id t, const rn_value_t *a, const rn_value_t *b)
{
    switch (t) {
    case RN_TYPE_DOUBLE: return a->d == b->d;
    case RN_TYPE_STRING: return a->len == b->len && (a->len == 0 || !memcmp(a->s, b->s, a->len));
    default: return a->i == b->i;
    }
}

int rn_value_compare(rn_type_id t, const rn_value_t *a, const rn_value_t *b)
{
    switch (t) {
    case RN_TYPE_DOUBLE: return (a->d > b->d) - (a->d < b->d);
    case RN_TYPE_STRING: {
        uint32_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->s, b->s, n) : 0;
        if (c) return c;
        return (a->len > b->len) - (a->len < b->len);
    }
    default: return (a->i > b->i) - (a->i < b->i);
    }
}

uint64_t rn_value_hash(rn_type_id t, const rn_value_t *v, uint64_t seed)
{
    if (v->null) return rn_hash_u64(seed ^ 0x6e756c6cULL);
    switch (t) {
    case RN_TYPE_STRING: return rn_hash_bytes(v->s, v->len, seed);
    case RN_TYPE_DOUBLE: {
        double d = v->d == 0.0 ? 0.0 : v->d; /* -0.0 == 0.0 */
        uint64_t bits;
        memcpy(&bits, &d, 8);
        return rn_hash_u64(bits ^ seed);
    }
    default: return rn_hash_u64((uint64_t)v->i ^ seed);
    }
}

rn_schema_t *rn_schema_new(int ncols)
{
    rn_schema_t *s = rn_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cols = rn_calloc(ncols > 0 ? (size_t)ncols : 1, sizeof *s->cols);
    if (!s->cols) {
        rn_free(s);
        return NULL;
    }
    s->ncols = ncols;
    s->refcount = 1;
    return s;
}

int rn_schema_set(rn_schema_t *s, int i, const char *name, const rn_type_t *type)
{
    char *n = rn_strdup(name);
    if (!n) return -1;
    rn_free(s->cols[i].name);
    s->cols[i].name = n;
    s->cols[i].type = type;
    return 0;
}

rn_schema_t *rn_schema_ref(rn_schema_t *s)
{
    if (s) s->refcount++;
    return s;
}

void rn_schema_unref(rn_schema_t *s)
{
    if (!s || --s->refcount > 0) return;
    for (int i = 0; i < s->ncols; i++) rn_free(s->cols[i].name);
    rn_free(s->cols);
    rn_free(s);
}

int rn_schema_find(const rn_schema_t *s, const char *name)
{
    for (int i = 0; i < s->ncols; i++)
        if (s->cols[i].name && !strcmp(s->cols[i].name, name)) return i;
    return -1;
}

const char *rn_rowkind_str(rn_rowkind_t k)
{
    static const char *names[] = {"+I", "-U", "+U", "-D"};
    return (unsigned)k < 4 ? names[k] : "?";
}

rn_batch_t *rn_batch_new(rn_arena_t *arena, const rn_schema_t *schema, int cap)
{
    rn_batch_t *b = rn_arena_alloc(arena, sizeof *b);
    if (!b) return NULL;
    b->schema = schema;
    b->nrows = 0;
    b->cap = cap;
    b->rowtime = NULL;
    b->rowwm = NULL;
    b->cols = rn_arena_alloc(arena, sizeof(rn_value_t *) * (size_t)(schema->ncols ? schema->ncols : 1));
    b->kinds = rn_arena_calloc(arena, (size_t)cap, 1);
    if (!b->cols || !b->kinds) return NULL;
    for (int c = 0; c < schema->ncols; c++) {
        b->cols[c] = rn_arena_alloc(arena, sizeof(rn_value_t) * (size_t)cap);
        if (!b->cols[c]) return NULL;
    }
    return b;
}

bool rn_batch_valid(const rn_batch_t *b)
{
    if (b->nrows < 0 || b->nrows > b->cap) return false;
    for (int r = 0; r < b->nrows; r++)
        if (b->kinds[r] > RN_ROW_DELETE) return false;
    return true;
}

const rn_value_t rn_value_null = RN_VALUE_NULL;
