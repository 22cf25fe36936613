/*
 * functions.c - the one table of scalar functions (rn_funcs), as SQLite's
 * FuncDef: per rn_func_id its SQL name and alias (for functions called by
 * name), the argument count, the binding rule that checks the arguments
 * and derives the result type, the result type when it is fixed, the name
 * `runnel explain` prints, and the evaluator. The binder (plan/bind.c)
 * looks calls up here, the evaluator (eval.c) checks node arity against it
 * in debug and sanitizer builds and calls the row's evaluator, and explain
 * (explain.c) takes names from it. Adding a SQL function means a row here,
 * an RN_FN_* id, its evaluator (declared in expr_int.h), and a case in the
 * binder only when its rule is new.
 */
#include "expr/expr_int.h"

#include <limits.h>
#include <strings.h>

#define ANY INT_MAX /* no upper bound on the argument count */

/* OP(id, explain name, min args, max args, result type, evaluator): an
 * operator or syntax form (no SQL name; the analyzer binds it by its own
 * rules, and min/max are what the evaluator expects of a node). FN(id, SQL
 * name, alias, min args, max args, sig, result type, evaluator): a function
 * called by name, explained by its SQL name. RN_FN_<id>, RN_SIG_<sig>,
 * RN_TYPE_<result>, rn_fn_<evaluator>; result NULL: the arguments decide. */
#define OP(id, explain, min, max, result, eval) \
    [RN_FN_##id] = {RN_FN_##id, NULL, NULL, explain, min, max, RN_SIG_NONE, RN_TYPE_##result, rn_fn_##eval}
#define FN(id, sql, alias, min, max, sig, result, eval) \
    [RN_FN_##id] = {RN_FN_##id, sql, alias, sql, min, max, RN_SIG_##sig, RN_TYPE_##result, rn_fn_##eval}

/* clang-format off */
const rn_func_def_t rn_funcs[RN_FN__COUNT] = {
    /* operators and syntax forms, bound by the analyzer's own rules */
    OP(ADD,          "+",            2, 2,   NULL,    arith),
    OP(SUB,          "-",            2, 2,   NULL,    arith),
    OP(MUL,          "*",            2, 2,   NULL,    arith),
    OP(DIV,          "/",            2, 2,   NULL,    arith),
    OP(NEG,          "-",            1, 1,   NULL,    unary_num),
    OP(EQ,           "=",            2, 2,   BOOLEAN, cmp),
    OP(NE,           "<>",           2, 2,   BOOLEAN, cmp),
    OP(LT,           "<",            2, 2,   BOOLEAN, cmp),
    OP(LE,           "<=",           2, 2,   BOOLEAN, cmp),
    OP(GT,           ">",            2, 2,   BOOLEAN, cmp),
    OP(GE,           ">=",           2, 2,   BOOLEAN, cmp),
    OP(AND,          "AND",          2, 2,   BOOLEAN, and),
    OP(OR,           "OR",           2, 2,   BOOLEAN, or),
    OP(NOT,          "NOT",          1, 1,   BOOLEAN, not),
    OP(IS_NULL,      "IS NULL",      1, 1,   BOOLEAN, is),
    OP(IS_NOT_NULL,  "IS NOT NULL",  1, 1,   BOOLEAN, is),
    OP(IS_TRUE,      "IS TRUE",      1, 1,   BOOLEAN, is),
    OP(IS_NOT_TRUE,  "IS NOT TRUE",  1, 1,   BOOLEAN, is),
    OP(IS_FALSE,     "IS FALSE",     1, 1,   BOOLEAN, is),
    OP(IS_NOT_FALSE, "IS NOT FALSE", 1, 1,   BOOLEAN, is),
    OP(BETWEEN,      "BETWEEN",      3, 3,   BOOLEAN, between),
    OP(NOT_BETWEEN,  "NOT BETWEEN",  3, 3,   BOOLEAN, between),
    OP(IN,           "IN",           2, ANY, BOOLEAN, in),
    OP(NOT_IN,       "NOT IN",       2, ANY, BOOLEAN, in),
    OP(LIKE,         "LIKE",         2, 3,   BOOLEAN, like),
    OP(NOT_LIKE,     "NOT LIKE",     2, 3,   BOOLEAN, like),
    OP(CASE,         "CASE",         2, ANY, NULL,    case),
    OP(CAST,         "CAST",         1, 1,   NULL,    cast),
    OP(TS_ADD_MS,    "+",            2, 2,   NULL,    ts_add),
    OP(TS_SUB_MS,    "-",            2, 2,   NULL,    ts_add),
    /* functions called by name; explain prints their SQL name */
    [RN_FN_MOD] = {RN_FN_MOD, "MOD", NULL, "%", 2, 2, RN_SIG_MOD, RN_TYPE_NULL, rn_fn_arith}, /* explained as a % b */
    FN(COALESCE,          "COALESCE",          NULL,               1, 64, COMMON,        NULL,          coalesce),
    FN(NULLIF,            "NULLIF",            NULL,               2, 2,  NULLIF,        NULL,          nullif),
    FN(IF,                "IF",                NULL,               3, 3,  IF,            NULL,          if),
    FN(LOWER,             "LOWER",             NULL,               1, 1,  STRING1,       STRING,        case_map),
    FN(UPPER,             "UPPER",             NULL,               1, 1,  STRING1,       STRING,        case_map),
    FN(CONCAT,            "CONCAT",            NULL,               1, 64, CONCAT,        STRING,        concat),
    FN(SUBSTRING,         "SUBSTRING",         "SUBSTR",           2, 3,  SUBSTRING,     STRING,        substring),
    FN(CHAR_LENGTH,       "CHAR_LENGTH",       "CHARACTER_LENGTH", 1, 1,  CHARLEN,       INT,           char_length),
    FN(TRIM,              "TRIM",              NULL,               1, 1,  STRING1,       STRING,        trim),
    FN(POSITION,          "POSITION",          NULL,               2, 2,  POSITION,      INT,           position),
    FN(REPLACE,           "REPLACE",           NULL,               3, 3,  REPLACE,       STRING,        replace),
    FN(SPLIT_INDEX,       "SPLIT_INDEX",       NULL,               3, 3,  SPLIT_INDEX,   STRING,        split_index),
    FN(REGEXP_EXTRACT,    "REGEXP_EXTRACT",    NULL,               2, 3,  REGEXP,        STRING,        regexp_extract),
    FN(ABS,               "ABS",               NULL,               1, 1,  NUMERIC_SAME,  NULL,          unary_num),
    FN(FLOOR,             "FLOOR",             NULL,               1, 1,  NUMERIC_SAME,  NULL,          unary_num),
    FN(CEIL,              "CEIL",              "CEILING",          1, 1,  NUMERIC_SAME,  NULL,          unary_num),
    FN(ROUND,             "ROUND",             NULL,               1, 2,  ROUND,         DOUBLE,        round),
    FN(POWER,             "POWER",             NULL,               2, 2,  DOUBLE,        DOUBLE,        power),
    FN(SQRT,              "SQRT",              NULL,               1, 1,  DOUBLE,        DOUBLE,        unary_num),
    FN(TO_TIMESTAMP_LTZ,  "TO_TIMESTAMP_LTZ",  NULL,               1, 2,  TO_TS_LTZ,     TIMESTAMP_LTZ, to_timestamp_ltz),
    FN(TO_TIMESTAMP,      "TO_TIMESTAMP",      NULL,               1, 2,  PARSE_TIME,    TIMESTAMP,     to_timestamp),
    FN(UNIX_TIMESTAMP,    "UNIX_TIMESTAMP",    NULL,               0, 2,  PARSE_TIME,    BIGINT,        unix_timestamp),
    FN(FROM_UNIXTIME,     "FROM_UNIXTIME",     NULL,               1, 2,  FROM_UNIXTIME, STRING,        from_unixtime),
    FN(DATE_FORMAT,       "DATE_FORMAT",       NULL,               2, 2,  DATE_FORMAT,   STRING,        date_format),
    FN(PROCTIME,          "PROCTIME",          NULL,               0, 0,  NOW,           TIMESTAMP_LTZ, now),
    FN(CURRENT_TIMESTAMP, "CURRENT_TIMESTAMP", "NOW",              0, 0,  NOW,           TIMESTAMP_LTZ, now),
    FN(LOCALTIMESTAMP,    "LOCALTIMESTAMP",    NULL,               0, 0,  NOW,           TIMESTAMP,     now),
    FN(EXTRACT,           "EXTRACT",           NULL,               2, 2,  EXTRACT,       BIGINT,        extract),
};
/* clang-format on */

#undef OP
#undef FN

const rn_func_def_t *rn_func_lookup(const char *name, const char **sqlname)
{
    for (int k = 0; k < RN_FN__COUNT; k++) {
        const rn_func_def_t *f = &rn_funcs[k];
        const char *hit = f->sql && !strcasecmp(name, f->sql)       ? f->sql
                          : f->alias && !strcasecmp(name, f->alias) ? f->alias
                                                                    : NULL;
        if (hit) {
            if (sqlname) *sqlname = hit;
            return f;
        }
    }
    return NULL;
}

const char *rn_func_name(rn_func_id fn)
{
    return (unsigned)fn < RN_FN__COUNT && rn_funcs[fn].explain ? rn_funcs[fn].explain : "?";
}
