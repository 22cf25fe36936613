/*
 * functions.c - the one table of scalar functions (rn_funcs), as SQLite's
 * FuncDef: per rn_func_id its SQL name and alias (for functions called by
 * name), the argument count, the binding rule that checks the arguments
 * and derives the result type, the result type when it is fixed, and the
 * name `runnel explain` prints. The binder (plan/bind.c) looks calls up
 * here, the evaluator (eval.c) checks node arity against it in debug and
 * sanitizer builds, and explain (explain.c) takes names from it. Adding a
 * SQL function means a row here, an RN_FN_* id, its evaluator, and a case
 * in the binder only when its rule is new.
 */
#include "expr/expr.h"

#include <limits.h>
#include <strings.h>

#define ANY INT_MAX /* no upper bound on the argument count */

/* OP(id, explain name, min args, max args, result type): an operator or
 * syntax form (no SQL name; the analyzer binds it by its own rules, and
 * min/max are what the evaluator expects of a node). FN(id, SQL name,
 * alias, min args, max args, sig, result type): a function called by
 * name, explained by its SQL name. RN_FN_<id>, RN_SIG_<sig>,
 * RN_TYPE_<result>; result NULL: the arguments decide. */
#define OP(id, explain, min, max, result) \
    [RN_FN_##id] = {RN_FN_##id, NULL, NULL, explain, min, max, RN_SIG_NONE, RN_TYPE_##result}
#define FN(id, sql, alias, min, max, sig, result) \
    [RN_FN_##id] = {RN_FN_##id, sql, alias, sql, min, max, RN_SIG_##sig, RN_TYPE_##result}

/* clang-format off */
const rn_func_def_t rn_funcs[RN_FN__COUNT] = {
    /* operators and syntax forms, bound by the analyzer's own rules */
    OP(ADD,          "+",            2, 2,   NULL),
    OP(SUB,          "-",            2, 2,   NULL),
    OP(MUL,          "*",            2, 2,   NULL),
    OP(DIV,          "/",            2, 2,   NULL),
    OP(NEG,          "-",            1, 1,   NULL),
    OP(EQ,           "=",            2, 2,   BOOLEAN),
    OP(NE,           "<>",           2, 2,   BOOLEAN),
    OP(LT,           "<",            2, 2,   BOOLEAN),
    OP(LE,           "<=",           2, 2,   BOOLEAN),
    OP(GT,           ">",            2, 2,   BOOLEAN),
    OP(GE,           ">=",           2, 2,   BOOLEAN),
    OP(AND,          "AND",          2, 2,   BOOLEAN),
    OP(OR,           "OR",           2, 2,   BOOLEAN),
    OP(NOT,          "NOT",          1, 1,   BOOLEAN),
    OP(IS_NULL,      "IS NULL",      1, 1,   BOOLEAN),
    OP(IS_NOT_NULL,  "IS NOT NULL",  1, 1,   BOOLEAN),
    OP(IS_TRUE,      "IS TRUE",      1, 1,   BOOLEAN),
    OP(IS_NOT_TRUE,  "IS NOT TRUE",  1, 1,   BOOLEAN),
    OP(IS_FALSE,     "IS FALSE",     1, 1,   BOOLEAN),
    OP(IS_NOT_FALSE, "IS NOT FALSE", 1, 1,   BOOLEAN),
    OP(BETWEEN,      "BETWEEN",      3, 3,   BOOLEAN),
    OP(NOT_BETWEEN,  "NOT BETWEEN",  3, 3,   BOOLEAN),
    OP(IN,           "IN",           2, ANY, BOOLEAN),
    OP(NOT_IN,       "NOT IN",       2, ANY, BOOLEAN),
    OP(LIKE,         "LIKE",         2, 3,   BOOLEAN),
    OP(NOT_LIKE,     "NOT LIKE",     2, 3,   BOOLEAN),
    OP(CASE,         "CASE",         2, ANY, NULL),
    OP(CAST,         "CAST",         1, 1,   NULL),
    OP(TS_ADD_MS,    "+",            2, 2,   NULL),
    OP(TS_SUB_MS,    "-",            2, 2,   NULL),
    /* functions called by name; explain prints their SQL name */
    [RN_FN_MOD] = {RN_FN_MOD, "MOD", NULL, "%", 2, 2, RN_SIG_MOD, RN_TYPE_NULL}, /* explained as a % b */
    FN(COALESCE,          "COALESCE",          NULL,               1, 64, COMMON,        NULL),
    FN(NULLIF,            "NULLIF",            NULL,               2, 2,  NULLIF,        NULL),
    FN(IF,                "IF",                NULL,               3, 3,  IF,            NULL),
    FN(LOWER,             "LOWER",             NULL,               1, 1,  STRING1,       STRING),
    FN(UPPER,             "UPPER",             NULL,               1, 1,  STRING1,       STRING),
    FN(CONCAT,            "CONCAT",            NULL,               1, 64, CONCAT,        STRING),
    FN(SUBSTRING,         "SUBSTRING",         "SUBSTR",           2, 3,  SUBSTRING,     STRING),
    FN(CHAR_LENGTH,       "CHAR_LENGTH",       "CHARACTER_LENGTH", 1, 1,  CHARLEN,       INT),
    FN(TRIM,              "TRIM",              NULL,               1, 1,  STRING1,       STRING),
    FN(POSITION,          "POSITION",          NULL,               2, 2,  POSITION,      INT),
    FN(REPLACE,           "REPLACE",           NULL,               3, 3,  REPLACE,       STRING),
    FN(ABS,               "ABS",               NULL,               1, 1,  NUMERIC_SAME,  NULL),
    FN(FLOOR,             "FLOOR",             NULL,               1, 1,  NUMERIC_SAME,  NULL),
    FN(CEIL,              "CEIL",              "CEILING",          1, 1,  NUMERIC_SAME,  NULL),
    FN(ROUND,             "ROUND",             NULL,               1, 2,  ROUND,         DOUBLE),
    FN(POWER,             "POWER",             NULL,               2, 2,  DOUBLE,        DOUBLE),
    FN(SQRT,              "SQRT",              NULL,               1, 1,  DOUBLE,        DOUBLE),
    FN(TO_TIMESTAMP_LTZ,  "TO_TIMESTAMP_LTZ",  NULL,               1, 2,  TO_TS_LTZ,     TIMESTAMP_LTZ),
    FN(TO_TIMESTAMP,      "TO_TIMESTAMP",      NULL,               1, 2,  PARSE_TIME,    TIMESTAMP),
    FN(UNIX_TIMESTAMP,    "UNIX_TIMESTAMP",    NULL,               0, 2,  PARSE_TIME,    BIGINT),
    FN(FROM_UNIXTIME,     "FROM_UNIXTIME",     NULL,               1, 2,  FROM_UNIXTIME, STRING),
    FN(DATE_FORMAT,       "DATE_FORMAT",       NULL,               2, 2,  DATE_FORMAT,   STRING),
    FN(PROCTIME,          "PROCTIME",          NULL,               0, 0,  NOW,           TIMESTAMP_LTZ),
    FN(CURRENT_TIMESTAMP, "CURRENT_TIMESTAMP", "NOW",              0, 0,  NOW,           TIMESTAMP_LTZ),
    FN(LOCALTIMESTAMP,    "LOCALTIMESTAMP",    NULL,               0, 0,  NOW,           TIMESTAMP),
    FN(EXTRACT,           "EXTRACT",           NULL,               2, 2,  EXTRACT,       BIGINT),
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
