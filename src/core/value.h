/*
 * value.h - SQL types, values, schemas and columnar row batches.
 *
 * The unit of execution is a batch: up to RN_BATCH_MAX rows stored column
 * by column (one rn_value_t array per column) plus one change kind per row,
 * as Flink's RowKind. Values are untagged: a column's type lives in the
 * schema, so a value is just a 16-byte payload with a null flag. Strings
 * are (pointer, length) pairs that point into the input buffer when the
 * input needed no unescaping, otherwise into the batch arena; they are not
 * NUL-terminated.
 *
 * Type mapping (documented in docs/sql.md):
 *   BOOLEAN                          -> b
 *   TINYINT, SMALLINT, INT, BIGINT   -> i (int64; INT results wrap to 32 bits)
 *   FLOAT, DOUBLE, DECIMAL(p, s)     -> d
 *   STRING, VARCHAR(n), CHAR(n)      -> s/len
 *   TIMESTAMP(p), TIMESTAMP_LTZ(p)   -> i (epoch milliseconds)
 *   ROW<...>                         -> stored as its leaf fields, one
 *                                        column per leaf ("user.name")
 */
#ifndef RN_VALUE_H
#define RN_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

typedef enum rn_type_id {
    RN_TYPE_NULL = 0,      /* type of a bare NULL literal only */
    RN_TYPE_BOOLEAN,
    RN_TYPE_INT,           /* TINYINT, SMALLINT, INT: 32-bit semantics */
    RN_TYPE_BIGINT,
    RN_TYPE_DOUBLE,        /* FLOAT, DOUBLE, DECIMAL */
    RN_TYPE_STRING,        /* STRING, VARCHAR(n), CHAR(n) */
    RN_TYPE_TIMESTAMP,     /* TIMESTAMP(p): epoch milliseconds, no zone */
    RN_TYPE_TIMESTAMP_LTZ, /* TIMESTAMP_LTZ(p): epoch milliseconds, UTC */
    RN_TYPE_ROW,           /* ROW<...>: a structured type, see rn_type_t */
    RN_TYPE__COUNT
} rn_type_id;

/* A SQL type. Scalars use the static instances below; ROW types are
 * allocated by the analyzer and owned by the schema that names them. */
typedef struct rn_type {
    rn_type_id id;              /* which type */
    int nfields;                /* ROW only: number of fields */
    struct rn_field *fields;    /* ROW only: the fields */
} rn_type_t;

typedef struct rn_field {
    char *name;                 /* field name, owned */
    const rn_type_t *type;      /* field type */
} rn_field_t;

extern const rn_type_t rn_type_null, rn_type_boolean, rn_type_int, rn_type_bigint,
    rn_type_double, rn_type_string, rn_type_timestamp, rn_type_timestamp_ltz;

/* Returns the static type for a scalar id, or NULL for RN_TYPE_ROW. */
const rn_type_t *rn_type_scalar(rn_type_id id);
/* The SQL name of a type id ("INT", "STRING", ...). */
const char *rn_type_name(rn_type_id id);
static inline bool rn_type_is_numeric(rn_type_id t)
{
    return t == RN_TYPE_INT || t == RN_TYPE_BIGINT || t == RN_TYPE_DOUBLE;
}
static inline bool rn_type_is_integer(rn_type_id t)
{
    return t == RN_TYPE_INT || t == RN_TYPE_BIGINT;
}

/* One value. Which member is valid follows from the column type. */
typedef struct rn_value {
    union {
        int64_t i;              /* BOOLEAN (0/1), integers, timestamps */
        double d;               /* DOUBLE */
        const char *s;          /* STRING bytes, not NUL-terminated */
    };
    uint32_t len;               /* STRING length in bytes */
    uint8_t null;               /* 1 for SQL NULL */
} rn_value_t;

#define RN_VALUE_NULL ((rn_value_t){.i = 0, .len = 0, .null = 1})
static inline rn_value_t rn_value_int(int64_t v) { return (rn_value_t){.i = v}; }
static inline rn_value_t rn_value_double(double v) { return (rn_value_t){.d = v}; }
static inline rn_value_t rn_value_bool(bool v) { return (rn_value_t){.i = v ? 1 : 0}; }
static inline rn_value_t rn_value_str(const char *s, uint32_t len)
{
    return (rn_value_t){.s = s, .len = len};
}

/* Equality of two non-NULL values of the same type id (DOUBLE by value,
 * STRING by bytes). */
bool rn_value_equal(rn_type_id t, const rn_value_t *a, const rn_value_t *b);
/* Ordering of two non-NULL values of the same type id: <0, 0, >0.
 * STRING compares bytes (like Flink's binary string order). */
int rn_value_compare(rn_type_id t, const rn_value_t *a, const rn_value_t *b);
/* Hash of a value, NULL included, for keyed state. */
uint64_t rn_value_hash(rn_type_id t, const rn_value_t *v, uint64_t seed);

/* A named, typed column of a schema. */
typedef struct rn_column {
    char *name;                 /* column name as written (owned) */
    const rn_type_t *type;      /* column type */
} rn_column_t;

/* The shape of the rows flowing on an edge of the operator graph. */
typedef struct rn_schema {
    int ncols;                  /* number of columns */
    rn_column_t *cols;          /* ncols columns (owned) */
    int refcount;               /* shared by plans and operators */
} rn_schema_t;

/* Returns a new schema with room for ncols unnamed columns, refcount 1. */
rn_schema_t *rn_schema_new(int ncols);
/* Sets column i; copies name. Returns 0, or -1 on OOM. */
int rn_schema_set(rn_schema_t *s, int i, const char *name, const rn_type_t *type);
rn_schema_t *rn_schema_ref(rn_schema_t *s);
void rn_schema_unref(rn_schema_t *s);
/* Index of the column with exactly this name, or -1. */
int rn_schema_find(const rn_schema_t *s, const char *name);

/* Change kind of a row, as Flink's RowKind. */
typedef enum rn_rowkind {
    RN_ROW_INSERT = 0,          /* +I */
    RN_ROW_UPDATE_BEFORE,       /* -U: retracts a previous row */
    RN_ROW_UPDATE_AFTER,        /* +U: the new version of a row */
    RN_ROW_DELETE               /* -D */
} rn_rowkind_t;

/* "+I", "-U", "+U", "-D". */
const char *rn_rowkind_str(rn_rowkind_t k);
static inline bool rn_rowkind_is_retract(rn_rowkind_t k)
{
    return k == RN_ROW_UPDATE_BEFORE || k == RN_ROW_DELETE;
}

#define RN_BATCH_MAX 1024

/* A batch of rows, columnar. All memory (arrays and strings) comes from
 * the arena the batch was created in and dies with the next reset. */
typedef struct rn_batch {
    const rn_schema_t *schema;  /* shape of the rows (not owned) */
    int nrows;                  /* rows in use */
    int cap;                    /* rows allocated */
    rn_value_t **cols;          /* schema->ncols arrays of cap values */
    uint8_t *kinds;             /* cap row kinds (rn_rowkind_t) */
    int64_t *rowtime;           /* cap event times in ms, or NULL */
    int64_t *rowwm;             /* cap watermarks: the one in force when each row
                                 * arrived (docs/event-time.md), or NULL: no row
                                 * is late */
} rn_batch_t;

/* A NULL value, for a pointer to one (a column a source does not decode
 * has no array: b->cols[c] == NULL). */
extern const rn_value_t rn_value_null;

/* Value of row r in column c of b: NULL where the column has no array
 * (a source leaves columns no query reads undecoded). */
static inline rn_value_t rn_batch_value(const rn_batch_t *b, int c, int r)
{
    return b->cols[c] ? b->cols[c][r] : RN_VALUE_NULL;
}
static inline const rn_value_t *rn_batch_value_ptr(const rn_batch_t *b, int c, int r)
{
    return b->cols[c] ? &b->cols[c][r] : &rn_value_null;
}

/* True if b's row count is within its capacity and every row kind is one
 * of rn_rowkind_t (for RN_ASSERT). */
bool rn_batch_valid(const rn_batch_t *b);

/* Allocates a batch for cap rows of schema in arena; NULL on OOM. */
rn_batch_t *rn_batch_new(rn_arena_t *arena, const rn_schema_t *schema, int cap);

#endif
