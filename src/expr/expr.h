/*
 * expr.h - bound, typed scalar expressions and their vectorized evaluator.
 *
 * The analyzer turns AST expressions into rn_expr_t trees in which every
 * column is an index into the input batch, every function is resolved to
 * an rn_func_id, and every argument already has the type the function
 * expects (the analyzer inserts RN_FN_CAST nodes for implicit widening,
 * e.g. INT + DOUBLE becomes CAST(INT AS DOUBLE) + DOUBLE). The evaluator
 * therefore dispatches on args[i]->type->id and never coerces.
 *
 * Evaluation is a batch at a time: rn_expr_eval computes one column of
 * in->nrows values. Temporaries and result strings come from the arena.
 * SQL semantics: NULL in, NULL out (except AND/OR/IS/COALESCE/CASE, which
 * follow three-valued logic); integer division by zero and failed CASTs
 * yield NULL rather than stopping the pipeline (documented in docs/sql.md).
 *
 * Every function has one row in rn_funcs (expr/functions.c): its SQL name,
 * argument count, binding rule, result type, explain name and evaluator.
 * This layer is run-time code: it includes only core/ and the public
 * runnel.h; the binding (plan/bind.c) and the operators (op/) build on it.
 */
#ifndef RN_EXPR_H
#define RN_EXPR_H

#include <stdbool.h>

#include "core/arena.h"
#include "core/value.h"
#include "runnel.h"

typedef enum rn_expr_kind {
    RN_EXPR_CONST,   /* value (strings owned by the expression) */
    RN_EXPR_COLUMN,  /* input column `col` */
    RN_EXPR_FUNC,    /* fn(args) */
} rn_expr_kind;

typedef enum rn_func_id {
    /* arithmetic; args and result share one numeric type */
    RN_FN_ADD, RN_FN_SUB, RN_FN_MUL, RN_FN_DIV, RN_FN_MOD, RN_FN_NEG,
    /* comparison of two args of the same type; result BOOLEAN */
    RN_FN_EQ, RN_FN_NE, RN_FN_LT, RN_FN_LE, RN_FN_GT, RN_FN_GE,
    /* logic over BOOLEAN, three-valued */
    RN_FN_AND, RN_FN_OR, RN_FN_NOT,
    /* IS predicates: one arg of any type (TRUE/FALSE forms take BOOLEAN) */
    RN_FN_IS_NULL, RN_FN_IS_NOT_NULL, RN_FN_IS_TRUE, RN_FN_IS_NOT_TRUE,
    RN_FN_IS_FALSE, RN_FN_IS_NOT_FALSE,
    /* args[0] BETWEEN args[1] AND args[2]; all one type */
    RN_FN_BETWEEN, RN_FN_NOT_BETWEEN,
    /* args[0] IN (args[1..]); all one type; NULL per SQL rules */
    RN_FN_IN, RN_FN_NOT_IN,
    /* STRING LIKE STRING [ESCAPE STRING]: % and _ wildcards */
    RN_FN_LIKE, RN_FN_NOT_LIKE,
    /* CASE: args = cond1, then1, cond2, then2, ..., [else]; nargs odd if
     * there is an ELSE. Conditions are BOOLEAN, results share the type. */
    RN_FN_CASE,
    /* CAST(args[0] AS type): any scalar to any scalar; failure -> NULL */
    RN_FN_CAST,
    /* first non-NULL argument; all one type */
    RN_FN_COALESCE,
    /* NULLIF(a, b): NULL if a = b else a */
    RN_FN_NULLIF,
    /* IF(cond, a, b) */
    RN_FN_IF,
    /* strings */
    RN_FN_LOWER, RN_FN_UPPER,          /* ASCII and UTF-8 Cyrillic/Latin-1 aware */
    RN_FN_CONCAT,                      /* CONCAT(s, ...) and ||: NULL if any NULL */
    RN_FN_SUBSTRING,                   /* SUBSTRING(s, start [, len]): 1-based, in characters */
    RN_FN_CHAR_LENGTH,                 /* characters (UTF-8 code points) -> INT */
    RN_FN_TRIM,                        /* TRIM(s): spaces both sides */
    RN_FN_POSITION,                    /* POSITION(needle IN s) -> INT, 1-based, 0 if absent */
    RN_FN_REPLACE,                     /* REPLACE(s, from, to) */
    RN_FN_SPLIT_INDEX,                 /* SPLIT_INDEX(s, sep, i): the i-th (0-based) piece */
    RN_FN_REGEXP_EXTRACT,              /* REGEXP_EXTRACT(s, regex [, group]): POSIX ERE */
    /* numbers */
    RN_FN_ABS, RN_FN_FLOOR, RN_FN_CEIL, /* same type as the arg */
    RN_FN_ROUND,                        /* ROUND(x [, digits INT]) */
    RN_FN_POWER, RN_FN_SQRT,            /* DOUBLE */
    /* time (all in UTC; "ts" is TIMESTAMP or TIMESTAMP_LTZ; formats are
     * DateTimeFormatter patterns, see rn_expr_time_pattern_check) */
    RN_FN_TS_ADD_MS, RN_FN_TS_SUB_MS,   /* (ts, BIGINT ms) -> ts's type: ts +/- INTERVAL;
                                         * saturates at the int64 range */
    RN_FN_TO_TIMESTAMP_LTZ,             /* (BIGINT|DOUBLE n, INT precision 0|3) -> TIMESTAMP_LTZ:
                                         * epoch seconds (0) or ms (3); outside years
                                         * 0001..9999 or another precision -> NULL */
    RN_FN_TO_TIMESTAMP,                 /* (STRING s [, STRING format]) -> TIMESTAMP; an
                                         * unparsable s -> NULL */
    RN_FN_UNIX_TIMESTAMP,               /* () -> now, or (STRING s [, STRING format]) -> BIGINT
                                         * epoch seconds (floor) */
    RN_FN_FROM_UNIXTIME,                /* (BIGINT seconds [, STRING format]) -> STRING,
                                         * default format 'yyyy-MM-dd HH:mm:ss' */
    RN_FN_DATE_FORMAT,                  /* (ts, STRING format) -> STRING */
    RN_FN_PROCTIME,                     /* () -> TIMESTAMP_LTZ: rn_clock_now_ms() */
    RN_FN_CURRENT_TIMESTAMP,            /* () -> TIMESTAMP_LTZ (also NOW()) */
    RN_FN_LOCALTIMESTAMP,               /* () -> TIMESTAMP */
    RN_FN_EXTRACT,                      /* (STRING unit, ts) -> BIGINT; units in
                                         * rn_expr_extract_unit_valid */
    RN_FN__COUNT
} rn_func_id;

typedef struct rn_expr rn_expr_t;
struct rn_expr {
    rn_expr_kind kind;
    const rn_type_t *type;  /* result type (never NULL) */
    rn_func_id fn;          /* FUNC: which function */
    int col;                /* COLUMN: input column index */
    rn_value_t value;       /* CONST: the value */
    int nargs;              /* FUNC: number of args */
    rn_expr_t **args;       /* FUNC: args */
};

/* How the binder checks the arguments of a call by name and derives the
 * result type when rn_func_def_t.result does not fix it. The checks
 * themselves (and their error messages) are in plan/bind.c. */
typedef enum rn_func_sig {
    RN_SIG_NONE,          /* not callable by name: an operator or syntax form */
    RN_SIG_STRING1,       /* (STRING) */
    RN_SIG_CONCAT,        /* (scalar, ...), each cast to STRING */
    RN_SIG_SUBSTRING,     /* (STRING, integer [, integer]) */
    RN_SIG_CHARLEN,       /* (STRING) */
    RN_SIG_POSITION,      /* (STRING, STRING) */
    RN_SIG_REPLACE,       /* (STRING, STRING, STRING) */
    RN_SIG_SPLIT_INDEX,   /* (STRING, STRING, integer) */
    RN_SIG_REGEXP,        /* (STRING, regex literal [, integer]) */
    RN_SIG_COMMON,        /* args cast to their common type, the result type */
    RN_SIG_NULLIF,        /* as RN_SIG_COMMON, two args */
    RN_SIG_IF,            /* (BOOLEAN, a, b): a and b as RN_SIG_COMMON */
    RN_SIG_NUMERIC_SAME,  /* (numeric) -> the same type (DOUBLE for NULL) */
    RN_SIG_ROUND,         /* (numeric as DOUBLE [, integer as INT]) */
    RN_SIG_DOUBLE,        /* (numeric, ...), each cast to DOUBLE */
    RN_SIG_MOD,           /* (numeric, numeric) -> their common type (INT for NULLs) */
    RN_SIG_TO_TS_LTZ,     /* (numeric n [, precision literal 0|3]) */
    RN_SIG_PARSE_TIME,    /* (STRING s [, format literal]) */
    RN_SIG_FROM_UNIXTIME, /* (numeric seconds [, format literal]) */
    RN_SIG_DATE_FORMAT,   /* (ts or STRING, format literal) */
    RN_SIG_NOW,           /* () */
    RN_SIG_EXTRACT,       /* ('UNIT', ts) from EXTRACT(unit FROM ts) */
} rn_func_sig;

/* True if re (len bytes) is a valid POSIX extended regular expression;
 * else false with the reason in why. */
bool rn_expr_regex_check(const char *re, size_t len, char *why, size_t why_size);

/* Evaluates function node e over a batch of n rows: args[k] views the n
 * values of e->args[k] (struct vec, see expr/expr_int.h); writes n values
 * to out. Temporaries and result strings come from a. Returns RN_OK or
 * RN_ERR_NOMEM. */
struct vec;
typedef rn_err_t rn_func_eval_t(const rn_expr_t *e, struct vec *args, int n, rn_arena_t *a,
                                rn_value_t *out);

/* One scalar function: the row of rn_funcs for its rn_func_id. */
typedef struct rn_func_def {
    rn_func_id fn;          /* its id (the row's index) */
    const char *sql;        /* name a SQL call uses (upper case), NULL if none */
    const char *alias;      /* another SQL name (SUBSTR, NOW, ...), or NULL */
    const char *explain;    /* name in explain output ("+", "LOWER", ...) */
    int min_args, max_args; /* argument count of a call and of a bound node
                             * (INT_MAX: no bound) */
    rn_func_sig sig;        /* argument rule of a call by name */
    rn_type_id result;      /* result type, or RN_TYPE_NULL when the
                             * arguments (sig, or the operator) decide it */
    rn_func_eval_t *eval;   /* its evaluator, called once per batch by
                             * rn_expr_eval and rn_expr_select */
} rn_func_def_t;

/* Every scalar function, indexed by rn_func_id (expr/functions.c). */
extern const rn_func_def_t rn_funcs[RN_FN__COUNT];

/* Finds the function SQL calls name (case-insensitive, by its name or
 * alias). Returns its row and writes the table's spelling of the name that
 * matched to *sqlname (when not NULL), or returns NULL if there is none. */
const rn_func_def_t *rn_func_lookup(const char *name, const char **sqlname /* out */);

/* Name of a function for explain output ("+", "LOWER", ...); "?" for an
 * id outside the table. */
const char *rn_func_name(rn_func_id fn);

/* Evaluates e for every row of in, writing in->nrows values to out.
 * Strings in out may point into the input batch, into e's constants, or
 * into arena. Returns RN_OK, or RN_ERR_NOMEM if the arena is exhausted. */
rn_err_t rn_expr_eval(const rn_expr_t *e, const rn_batch_t *in, rn_arena_t *arena,
                      rn_value_t *out);

/* Evaluates the BOOLEAN predicate e over in and writes the indices of the
 * rows where it is TRUE (not FALSE, not NULL) to sel, in order. Returns the
 * number of such rows, or -1 on out-of-memory. */
int rn_expr_select(const rn_expr_t *e, const rn_batch_t *in, rn_arena_t *arena, int *sel);

/* Casts one value between scalar types; returns false (and NULL in *out)
 * when the value cannot be represented. Strings produced go to arena. */
bool rn_value_cast(rn_type_id from, rn_type_id to, const rn_value_t *in, rn_arena_t *arena,
                   rn_value_t *out);

/* Checks a date-time format for TO_TIMESTAMP, UNIX_TIMESTAMP,
 * FROM_UNIXTIME and DATE_FORMAT: Java DateTimeFormatter letters y/u
 * (year; yy is 2000..2099), M (MM 2 digits, MMM "Jan", MMMM "January"),
 * d, H (0-23), h (1-12) with a (AM/PM), m, s, S..SSSSSSSSS (fraction),
 * E/EEEE (day name, ignored when parsing), X and Z (the zone: output is
 * always UTC, "Z" or "+0000"; parsing applies the offset), text in single
 * quotes ('' is a quote), and any other non-letter as itself. Returns
 * false and writes a message to err when the pattern has another letter,
 * too many repetitions or an unclosed quote. */
bool rn_expr_time_pattern_check(const char *fmt, size_t len, char *err, size_t errsize);

/* True if unit (upper case) is an EXTRACT unit: YEAR, QUARTER, MONTH,
 * WEEK (ISO 8601), DAY, HOUR, MINUTE, SECOND, MILLISECOND, DOW (1 Sunday
 * .. 7 Saturday), DOY (1..366). */
bool rn_expr_extract_unit_valid(const char *unit, size_t len);

/* Writes the text CAST(DOUBLE AS STRING) produces for d: the shortest
 * digits that read back to d, laid out like Python's repr ("5.0", "0.1",
 * "1e+20", "1.5e-05", "-0.0"), with "NaN", "Infinity" and "-Infinity"
 * for the non-finite values. buf must hold at least 32 bytes. Returns the
 * length written (NUL-terminated). */
int rn_expr_format_double(double d, char *buf, size_t bufsize);

/* Appends a readable rendering of e ("(views + 1)") using the input
 * schema's column names. */
struct rn_buf;
void rn_expr_explain(const rn_expr_t *e, const rn_schema_t *input, struct rn_buf *out);

#endif
