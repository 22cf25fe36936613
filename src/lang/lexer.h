/*
 * lexer.h - tokenizer for runnel's Flink-SQL dialect (after SQLite's
 * tokenize.c).
 *
 * The lexer never allocates: it classifies bytes through a 256-entry class
 * table and hands out tokens that point into the source text (position,
 * byte offset and length). The parser copies and unescapes what it keeps
 * into its arena. Keywords are ordinary identifiers tagged with a keyword
 * id by a case-insensitive lookup in a sorted table; each keyword is marked
 * reserved (never a bare identifier) or not (usable as a column or alias
 * name, e.g. `timestamp`, `key`, `comment`). Quoted identifiers (`x` or
 * "x") are never keywords. Lexing errors come back as an RN_TK_ERROR token
 * with a static message, so the lexer can also be used for look-ahead
 * without side effects: copy the rn_lexer_t and call rn_lexer_next on the
 * copy.
 */
#ifndef RN_LEXER_H
#define RN_LEXER_H

#include <stdbool.h>
#include <stddef.h>

#include "lang/ast.h"

/* Token types. Punctuation is named after its shape. */
typedef enum rn_tok_type {
    RN_TK_EOF = 0,  /* end of input */
    RN_TK_ERROR,    /* lexing error; rn_token_t.err says what */
    RN_TK_IDENT,    /* plain identifier or keyword (see rn_token_t.kw) */
    RN_TK_QIDENT,   /* `quoted` or "quoted" identifier */
    RN_TK_STRING,   /* 'string literal' (quotes included in the span) */
    RN_TK_INTEGER,  /* 123 */
    RN_TK_FLOAT,    /* 1.5  .5  1e3  1.5E-3 */
    RN_TK_PLUS,     /* + */
    RN_TK_MINUS,    /* - */
    RN_TK_STAR,     /* * */
    RN_TK_SLASH,    /* / */
    RN_TK_PERCENT,  /* % */
    RN_TK_CONCAT,   /* || */
    RN_TK_EQ,       /* = */
    RN_TK_NE,       /* <> or != */
    RN_TK_LT,       /* < */
    RN_TK_LE,       /* <= */
    RN_TK_GT,       /* > */
    RN_TK_GE,       /* >= */
    RN_TK_LPAREN,   /* ( */
    RN_TK_RPAREN,   /* ) */
    RN_TK_COMMA,    /* , */
    RN_TK_DOT,      /* . */
    RN_TK_SEMI,     /* ; */
    RN_TK__COUNT
} rn_tok_type;

/* The keyword table: X(name, reserved). MUST stay in ASCII order of name;
 * rn_lexer_keyword binary-searches it (a unit test checks the order). */
#define RN_KEYWORDS(X)                                                                  \
    X(ALL, 1) X(AND, 1) X(ARRAY, 0) X(AS, 1) X(ASC, 1) X(ASYMMETRIC, 1) X(BEGIN, 0)      \
    X(BETWEEN, 1) X(BIGINT, 0) X(BOOLEAN, 0) X(BOTH, 1) X(BY, 1) X(BYTES, 0) X(CASE, 1)  \
    X(CAST, 1) X(CHAR, 0) X(COMMENT, 0) X(CONSTRAINT, 1) X(CREATE, 1) X(CROSS, 1)        \
    X(CURRENT_TIMESTAMP, 1) X(DATE, 0) X(DAY, 0) X(DAYS, 0) X(DECIMAL, 0) X(DESC, 1)     \
    X(DISTINCT, 1) X(DOUBLE, 0) X(ELSE, 1) X(END, 1) X(ENFORCED, 0) X(ESCAPE, 1)         \
    X(EXCEPT, 1) X(EXECUTE, 0) X(EXISTS, 1) X(EXTRACT, 0) X(FALSE, 1) X(FLOAT, 0)        \
    X(FOR, 1) X(FROM, 1) X(FULL, 1) X(GROUP, 1) X(HAVING, 1) X(HOUR, 0) X(HOURS, 0)      \
    X(IF, 0) X(IN, 1) X(INNER, 1) X(INSERT, 1) X(INT, 0) X(INTEGER, 0) X(INTERSECT, 1)   \
    X(INTERVAL, 1) X(INTO, 1) X(IS, 1) X(JOIN, 1) X(KEY, 0) X(LATERAL, 1) X(LEADING, 1)  \
    X(LEFT, 1) X(LIKE, 1) X(LIMIT, 1) X(LOCAL, 0) X(LOCALTIMESTAMP, 1) X(MAP, 0)         \
    X(MATCH_RECOGNIZE, 1) X(METADATA, 0) X(MILLISECOND, 0) X(MILLISECONDS, 0)            \
    X(MINUTE, 0) X(MINUTES, 0) X(NATURAL, 1) X(NOT, 1) X(NULL, 1) X(NUMERIC, 0) X(OF, 0) \
    X(ON, 1) X(OR, 1) X(ORDER, 1) X(OUTER, 1) X(OVER, 1) X(OVERWRITE, 0)                 \
    X(PARTITION, 1) X(PARTITIONED, 0) X(POSITION, 0) X(PRECISION, 0) X(PRIMARY, 1)       \
    X(REAL, 0) X(RIGHT, 1) X(ROW, 0) X(SECOND, 0) X(SECONDS, 0) X(SELECT, 1) X(SET, 1)   \
    X(SMALLINT, 0) X(STATEMENT, 0) X(STRING, 0) X(SUBSTRING, 0) X(SYMMETRIC, 1)          \
    X(SYSTEM_TIME, 1) X(TABLE, 1) X(TEMPORARY, 0) X(THEN, 1) X(TIME, 0) X(TIMESTAMP, 0)  \
    X(TIMESTAMP_LTZ, 0) X(TINYINT, 0) X(TRAILING, 1) X(TRIM, 0) X(TRUE, 1)               \
    X(TRY_CAST, 0) X(UNION, 1) X(UNKNOWN, 0) X(USING, 1) X(VALUES, 1) X(VARCHAR, 0)      \
    X(VIEW, 0) X(VIRTUAL, 0) X(WATERMARK, 0) X(WHEN, 1) X(WHERE, 1) X(WINDOW, 1)         \
    X(WITH, 1) X(WITHOUT, 0) X(ZONE, 0)

#define RN_KW_ENUM_(name, reserved) RN_KW_##name,
typedef enum rn_kw {
    RN_KW_NONE = 0, /* not a keyword */
    RN_KEYWORDS(RN_KW_ENUM_) RN_KW__COUNT
} rn_kw;
#undef RN_KW_ENUM_

/* One token. The text is src + pos.offset, pos.len bytes. */
typedef struct rn_token {
    rn_tok_type type; /* what kind of token */
    rn_kw kw;         /* RN_TK_IDENT: keyword id, or RN_KW_NONE */
    rn_pos_t pos;     /* where it is; len >= 1 except at EOF (0) */
    const char *err;  /* RN_TK_ERROR: static message, else NULL */
} rn_token_t;

/* Lexer state: plain data, cheap to copy for look-ahead. */
typedef struct rn_lexer {
    const char *src;  /* the text (not owned, need not be NUL-terminated) */
    size_t len;       /* its length in bytes */
    size_t off;       /* next byte to read */
    int line;         /* 1-based line of src[off] */
    size_t line_off;  /* offset of the first byte of that line */
} rn_lexer_t;

/* Starts lexing src[0..len). Never fails; src must outlive the lexer. */
void rn_lexer_init(rn_lexer_t *lx, const char *src, size_t len);

/* Scans the next token into *tok (out) and returns its type. Skips blanks
 * and comments. At the end returns RN_TK_EOF (repeatedly). On a lexing
 * error returns RN_TK_ERROR with tok->pos at the offending text and
 * tok->err set ("unterminated string literal", "unexpected character",
 * ...); the lexer then stands after the bad text. */
rn_tok_type rn_lexer_next(rn_lexer_t *lx, rn_token_t *tok);

/* Returns the keyword id of the identifier s[0..n) (case-insensitive), or
 * RN_KW_NONE. */
rn_kw rn_lexer_keyword(const char *s, size_t n);
/* Returns the upper-case spelling of kw ("SELECT"), "" for RN_KW_NONE. */
const char *rn_lexer_kw_name(rn_kw kw);
/* True if kw may not be used as a bare identifier. */
bool rn_lexer_kw_reserved(rn_kw kw);
/* A static description of a token type for messages ("')'", "identifier"). */
const char *rn_lexer_tok_name(rn_tok_type t);

#endif
