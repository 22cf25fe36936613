/*
 * ast.h - the syntax tree of a pipeline file.
 *
 * The parser (parser.c) turns SQL text into these nodes; the analyzer
 * (src/plan/analyze.c and the files beside it, see analyze_int.h) binds
 * names and types and builds the operator graph.
 * Every node and every string lives in the arena passed to the parser, so a
 * whole script is freed by freeing that arena. Strings are NUL-terminated
 * copies; identifiers keep their case (identifiers are case-sensitive, as in
 * Flink), keywords and function names are matched case-insensitively.
 * Constructs of later features (windows, joins, watermarks) are already in
 * the tree so the grammar is whole; the analyzer reports what it does not
 * run yet.
 */
#ifndef RN_AST_H
#define RN_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/value.h"

/* A span of source text: 1-based line and column of its first byte, its
 * byte offset and length. Every node carries one for error messages. */
typedef struct rn_pos {
    int line;          /* 1-based line */
    int col;           /* 1-based column (bytes) */
    int offset;        /* byte offset of the first byte */
    int len;           /* length in bytes (>= 1 for tokens) */
} rn_pos_t;

/* ---- types ---------------------------------------------------------- */

typedef struct rn_ast_type {
    rn_pos_t pos;
    rn_type_id id;            /* scalar id or RN_TYPE_ROW */
    int precision;            /* VARCHAR(n), DECIMAL(p,s), TIMESTAMP(p); -1 if absent */
    int scale;                /* DECIMAL(p,s); -1 if absent */
    bool not_null;            /* NOT NULL was written */
    int nfields;              /* ROW: fields */
    char **field_names;       /* ROW: names */
    struct rn_ast_type **field_types; /* ROW: types */
} rn_ast_type_t;

/* ---- expressions ---------------------------------------------------- */

typedef enum rn_ast_expr_kind {
    RN_AST_LITERAL,    /* 1, 1.5, 'text', TRUE, NULL */
    RN_AST_COLUMN,     /* a, t.a, t.a.b (qualifier or ROW field access) */
    RN_AST_STAR,       /* * or t.* in a select list */
    RN_AST_UNARY,      /* -x, +x, NOT x */
    RN_AST_BINARY,     /* x op y */
    RN_AST_BETWEEN,    /* x [NOT] BETWEEN [SYMMETRIC] lo AND hi */
    RN_AST_IN,         /* x [NOT] IN (a, b, ...) */
    RN_AST_LIKE,       /* x [NOT] LIKE pattern [ESCAPE c] */
    RN_AST_IS,         /* x IS [NOT] NULL|TRUE|FALSE|UNKNOWN */
    RN_AST_CASE,       /* CASE [operand] WHEN .. THEN .. [ELSE ..] END */
    RN_AST_CAST,       /* CAST(x AS type), TRY_CAST(x AS type) */
    RN_AST_CALL,       /* f(args), COUNT(*), COUNT(DISTINCT x), SUBSTRING(s FROM a FOR b) */
    RN_AST_INTERVAL,   /* INTERVAL '5' SECOND */
    RN_AST_TABLE_ARG,  /* TABLE t [PARTITION BY cols], inside a window TVF call */
} rn_ast_expr_kind;

typedef enum rn_ast_op {
    RN_AST_OP_ADD, RN_AST_OP_SUB, RN_AST_OP_MUL, RN_AST_OP_DIV, RN_AST_OP_MOD,
    RN_AST_OP_CONCAT,      /* || */
    RN_AST_OP_EQ, RN_AST_OP_NE, RN_AST_OP_LT, RN_AST_OP_LE, RN_AST_OP_GT, RN_AST_OP_GE,
    RN_AST_OP_AND, RN_AST_OP_OR,
    RN_AST_OP_NOT, RN_AST_OP_NEG, RN_AST_OP_PLUS, /* unary */
} rn_ast_op;

typedef enum rn_ast_lit_kind {
    RN_LIT_NULL, RN_LIT_BOOL, RN_LIT_INT, RN_LIT_DOUBLE, RN_LIT_STRING
} rn_ast_lit_kind;

typedef enum rn_ast_is_what {
    RN_IS_NULL, RN_IS_TRUE, RN_IS_FALSE, RN_IS_UNKNOWN
} rn_ast_is_what;

typedef enum rn_ast_interval_unit {
    RN_UNIT_MILLISECOND, RN_UNIT_SECOND, RN_UNIT_MINUTE, RN_UNIT_HOUR, RN_UNIT_DAY
} rn_ast_interval_unit;

typedef struct rn_ast_expr rn_ast_expr_t;

/* The window of ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...), the
 * only OVER the parser accepts (deduplication and Top-N, docs/sql.md). */
typedef struct rn_ast_over {
    rn_pos_t pos;              /* from OVER to ')' */
    int npartition;            /* PARTITION BY expressions (0: one partition) */
    rn_ast_expr_t **partition_by;
    int norder;                /* ORDER BY items (at least one) */
    struct rn_ast_order_item *order_by;
} rn_ast_over_t;

struct rn_ast_expr {
    rn_ast_expr_kind kind;
    rn_pos_t pos;              /* the whole expression's span */
    union {
        struct {
            rn_ast_lit_kind kind;
            bool b;            /* RN_LIT_BOOL */
            int64_t i;         /* RN_LIT_INT (fits int64; larger is a parse error) */
            double d;          /* RN_LIT_DOUBLE (1.5, 1e3) */
            char *s;           /* RN_LIT_STRING, quotes removed, '' unescaped */
            size_t len;        /* RN_LIT_STRING length */
        } lit;
        struct {
            int nparts;        /* 1..n dotted parts */
            char **parts;      /* identifiers, backticks removed */
        } column;
        struct {
            char *qualifier;   /* NULL for a bare * */
        } star;
        struct {
            rn_ast_op op;      /* NOT, NEG, PLUS */
            rn_ast_expr_t *arg;
        } unary;
        struct {
            rn_ast_op op;
            rn_ast_expr_t *lhs, *rhs;
        } binary;
        struct {
            bool negated, symmetric;
            rn_ast_expr_t *arg, *low, *high;
        } between;
        struct {
            bool negated;
            rn_ast_expr_t *arg;
            int nitems;
            rn_ast_expr_t **items;
        } in;
        struct {
            bool negated;
            rn_ast_expr_t *arg, *pattern, *escape; /* escape may be NULL */
        } like;
        struct {
            bool negated;
            rn_ast_is_what what;
            rn_ast_expr_t *arg;
        } is;
        struct {
            rn_ast_expr_t *operand;  /* simple CASE operand, or NULL */
            int nwhens;
            rn_ast_expr_t **whens;   /* nwhens conditions (or values) */
            rn_ast_expr_t **thens;   /* nwhens results */
            rn_ast_expr_t *else_;    /* may be NULL */
        } case_;
        struct {
            bool try_cast;
            rn_ast_expr_t *arg;
            rn_ast_type_t *type;
        } cast;
        struct {
            char *name;        /* as written; compare case-insensitively */
            bool distinct;     /* f(DISTINCT x) */
            bool star;         /* COUNT(*) */
            int nargs;
            rn_ast_expr_t **args;
            rn_ast_over_t *over; /* ROW_NUMBER() OVER (...), else NULL */
        } call;
        struct {
            char *text;        /* the quoted number, e.g. "5" */
            rn_ast_interval_unit unit;
            int64_t ms;        /* the interval in milliseconds */
        } interval;
        struct {
            char *table;       /* TABLE name */
            int npartition;
            rn_ast_expr_t **partition_by; /* PARTITION BY columns */
        } table_arg;
    };
};

/* ---- queries -------------------------------------------------------- */

typedef struct rn_ast_query rn_ast_query_t;

typedef struct rn_ast_select_item {
    rn_ast_expr_t *expr;       /* may be RN_AST_STAR */
    char *alias;               /* AS alias, or NULL */
    rn_pos_t pos;
} rn_ast_select_item_t;

typedef enum rn_ast_from_kind {
    RN_AST_FROM_TABLE,             /* name [AS alias] */
    RN_AST_FROM_SUBQUERY,          /* ( query ) [AS alias] */
    RN_AST_FROM_JOIN,              /* left [INNER|LEFT|RIGHT|FULL] JOIN right ON cond */
    RN_AST_FROM_TVF,               /* TABLE(TUMBLE(...)) [AS alias] */
} rn_ast_from_kind;

typedef enum rn_ast_join_type {
    RN_JOIN_INNER, RN_JOIN_LEFT, RN_JOIN_RIGHT, RN_JOIN_FULL, RN_JOIN_CROSS
} rn_ast_join_type;

typedef struct rn_ast_from rn_ast_from_t;
struct rn_ast_from {
    rn_ast_from_kind kind;
    rn_pos_t pos;
    char *alias;               /* may be NULL */
    union {
        struct {
            char *name;        /* last part of a possibly qualified name */
            rn_ast_expr_t *system_time; /* FOR SYSTEM_TIME AS OF expr, or NULL */
        } table;
        rn_ast_query_t *subquery;
        struct {
            rn_ast_join_type type;
            rn_ast_from_t *left, *right;
            rn_ast_expr_t *on; /* NULL for CROSS JOIN / comma join */
            bool comma;        /* FROM a, b (type RN_JOIN_CROSS) */
        } join;
        rn_ast_expr_t *tvf;    /* an RN_AST_CALL: TUMBLE/HOP/SESSION/CUMULATE */
    };
};

typedef struct rn_ast_order_item {
    rn_ast_expr_t *expr;
    bool desc;
} rn_ast_order_item_t;

typedef struct rn_ast_cte {
    char *name;
    rn_pos_t pos;
    rn_ast_query_t *query;
} rn_ast_cte_t;

typedef enum rn_ast_query_kind {
    RN_QUERY_SELECT,           /* one SELECT block */
    RN_QUERY_UNION,            /* left UNION [ALL] right */
} rn_ast_query_kind;

struct rn_ast_query {
    rn_ast_query_kind kind;
    rn_pos_t pos;
    int nctes;                 /* WITH name AS (query), ... */
    rn_ast_cte_t *ctes;
    union {
        struct {
            bool distinct;     /* SELECT DISTINCT */
            int nitems;
            rn_ast_select_item_t *items;
            rn_ast_from_t *from;     /* NULL for SELECT without FROM */
            rn_ast_expr_t *where;    /* may be NULL */
            int ngroup;
            rn_ast_expr_t **group_by;
            rn_ast_expr_t *having;   /* may be NULL */
        } select;
        struct {
            bool all;
            rn_ast_query_t *left, *right;
        } set_op;
    };
    int norder;                /* ORDER BY (analyzer decides what runs) */
    rn_ast_order_item_t *order_by;
    rn_ast_expr_t *limit;      /* LIMIT n, or NULL */
};

/* ---- statements ------------------------------------------------------ */

typedef struct rn_ast_column_def {
    char *name;
    rn_pos_t pos;
    rn_ast_type_t *type;       /* NULL for a computed column */
    rn_ast_expr_t *computed;   /* name AS expr, or NULL */
    bool is_metadata;          /* type METADATA [FROM 'key'] [VIRTUAL] */
    char *metadata_key;        /* FROM 'key', or NULL (defaults to name) */
    bool is_virtual;
    bool primary_key;          /* inline PRIMARY KEY NOT ENFORCED */
} rn_ast_column_def_t;

typedef struct rn_ast_option {
    char *key;                 /* quoted key, quotes removed */
    char *value;               /* quoted value, quotes removed */
    rn_pos_t key_pos, value_pos;
} rn_ast_option_t;

typedef struct rn_ast_watermark {
    char *column;              /* WATERMARK FOR column */
    rn_pos_t pos;
    rn_ast_expr_t *expr;       /* AS expr */
} rn_ast_watermark_t;

typedef enum rn_ast_stmt_kind {
    RN_STMT_CREATE_TABLE,
    RN_STMT_CREATE_VIEW,
    RN_STMT_INSERT,
    RN_STMT_SELECT,            /* a bare query: results go to stdout */
    RN_STMT_SET,               /* SET 'key' = 'value' */
} rn_ast_stmt_kind;

typedef struct rn_ast_stmt {
    rn_ast_stmt_kind kind;
    rn_pos_t pos;              /* the statement's first token */
    union {
        struct {
            char *name;
            rn_pos_t name_pos;
            bool temporary, if_not_exists;
            int ncolumns;
            rn_ast_column_def_t *columns;
            rn_ast_watermark_t *watermark; /* NULL if none */
            int npk;
            char **pk;         /* PRIMARY KEY (a, b) NOT ENFORCED */
            rn_pos_t pk_pos;
            int noptions;
            rn_ast_option_t *options;
        } create_table;
        struct {
            char *name;
            rn_pos_t name_pos;
            bool temporary, if_not_exists;
            int ncols;         /* optional column list */
            char **cols;
            rn_ast_query_t *query;
        } create_view;
        struct {
            char *table;
            rn_pos_t table_pos;
            bool overwrite;    /* INSERT OVERWRITE (rejected by the analyzer) */
            int ncols;         /* optional column list */
            char **cols;
            rn_ast_query_t *query;
        } insert;
        rn_ast_query_t *select;
        struct {
            char *key, *value;
        } set;
    };
} rn_ast_stmt_t;

typedef struct rn_ast_script {
    const char *filename;      /* for messages */
    const char *src;           /* the SQL text (not owned) */
    size_t srclen;
    int nstmts;
    rn_ast_stmt_t **stmts;
} rn_ast_script_t;

#endif
