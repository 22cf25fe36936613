/*
 * parser.c - recursive-descent parser for the Flink-SQL dialect; see
 * parser.h and docs/sql.md (the EBNF there mirrors the comments here).
 *
 * Shaped like Lua's lparser.c: one function per grammar rule, each headed
 * by the rule it implements, and a handful of helpers (check, checknext,
 * testnext) that either consume the expected token or report
 * "expected X, found Y" at the offending token. The parser keeps a single
 * current token plus arbitrary look-ahead by lexing from a copy of the
 * lexer state (see lexer.h); look-ahead is needed only in a few places
 * (t.*, WATERMARK FOR, NOT BETWEEN, keyword function names).
 *
 * Errors unwind with longjmp to the entry point, as Lua's luaD_throw: all
 * memory lives in the caller's arena, so there is nothing to clean up on
 * the way out, and a failed arena allocation is just another error
 * (RN_ERR_NOMEM). Nesting depth is bounded by RN_PARSE_MAX_DEPTH so hostile
 * input cannot overflow the C stack, and input length by
 * RN_PARSE_MAX_INPUT. Left-associative chains (a + b + ..., joins, UNIONs)
 * are parsed by loops but build left-deep trees, so later passes that
 * recurse over the tree would still be exposed; RN_PARSE_MAX_OPS bounds
 * such nodes per statement, which bounds the depth of every tree.
 */
#include "lang/parser.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/diag.h"
#include "lang/lexer.h"

/* Most binary operators, predicates, joins and UNIONs in one statement. */
#define RN_PARSE_MAX_OPS 5000

typedef struct parser {
    rn_lexer_t lx;          /* stands just after tok */
    rn_token_t tok;         /* current (look-ahead) token */
    rn_pos_t prev;          /* position of the last consumed token */
    rn_arena_t *arena;      /* every node and string goes here */
    const char *src;        /* the SQL text */
    size_t len;             /* its length */
    const char *filename;   /* for messages; may be NULL */
    char *errbuf;           /* caller's message buffer */
    size_t errbuf_size;     /* its size */
    int depth;              /* current nesting depth */
    int ops;                /* chain nodes in this statement, see RN_PARSE_MAX_OPS */
    rn_err_t err;           /* set before unwinding */
    jmp_buf jb;             /* where errors unwind to */
} parser_t;

/* A growable array carved from the arena (old copies are simply left
 * behind; lists in SQL text are short). */
typedef struct vec {
    void *data;     /* n elements of elsize bytes */
    int n;          /* elements in use */
    int cap;        /* elements allocated */
    size_t elsize;  /* element size */
} vec_t;

/* ---- errors ----------------------------------------------------------- */

static _Noreturn void p_throw(parser_t *p, rn_err_t err)
{
    p->err = err;
    longjmp(p->jb, 1);
}

/* Reports a parse error at pos and unwinds. */
static _Noreturn __attribute__((format(printf, 3, 4))) void p_error_at(parser_t *p, rn_pos_t pos,
                                                                       const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rn_diag_format(p->errbuf, p->errbuf_size, p->filename, p->src, p->len, pos, "%s", msg);
    p_throw(p, RN_ERR_PARSE);
}

static _Noreturn void p_nomem(parser_t *p)
{
    if (p->errbuf && p->errbuf_size)
        snprintf(p->errbuf, p->errbuf_size, "%s: error: out of memory while parsing",
                 p->filename ? p->filename : "<input>");
    p_throw(p, RN_ERR_NOMEM);
}

/* Where an error about the current token should point: the token itself,
 * or just after the previous token when at the end of input. */
static rn_pos_t p_here(parser_t *p)
{
    if (p->tok.type != RN_TK_EOF || p->prev.len == 0) return p->tok.pos;
    rn_pos_t pos = p->prev;
    pos.col += pos.len;
    pos.offset += pos.len;
    pos.len = 1;
    return pos;
}

/* Describes the current token for "found ..." into buf. */
static const char *p_tokdesc(parser_t *p, const rn_token_t *t, char *buf, size_t size)
{
    const char *text = p->src + t->pos.offset;
    int len = t->pos.len;
    switch (t->type) {
    case RN_TK_EOF: return "end of input";
    case RN_TK_STRING:
        if (len > 40)
            snprintf(buf, size, "string %.36s...'", text);
        else
            snprintf(buf, size, "string %.*s", len, text);
        return buf;
    default:
        if (len > 40)
            snprintf(buf, size, "'%.36s...'", text);
        else
            snprintf(buf, size, "'%.*s'", len, text);
        return buf;
    }
}

/* Reports "expected <what>, found <current token>" and unwinds. */
static _Noreturn void p_expected(parser_t *p, const char *what)
{
    char buf[64];
    p_error_at(p, p_here(p), "expected %s, found %s", what, p_tokdesc(p, &p->tok, buf, sizeof buf));
}

/* Reports that the construct starting at the current token is valid SQL
 * that runnel does not accept, and unwinds. */
static _Noreturn void p_unsupported(parser_t *p, const char *what)
{
    p_error_at(p, p->tok.pos, "%s is not supported", what);
}

/* ---- memory ----------------------------------------------------------- */

static void *p_alloc(parser_t *p, size_t size)
{
    void *m = rn_arena_calloc(p->arena, 1, size);
    if (!m) p_nomem(p);
    return m;
}

static char *p_strndup(parser_t *p, const char *s, size_t n)
{
    char *d = rn_arena_strndup(p->arena, s, n);
    if (!d) p_nomem(p);
    return d;
}

static void vec_init(vec_t *v, size_t elsize)
{
    v->data = NULL;
    v->n = v->cap = 0;
    v->elsize = elsize;
}

/* Appends a zeroed element and returns it. */
static void *vec_push(parser_t *p, vec_t *v)
{
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 4;
        void *d = p_alloc(p, (size_t)cap * v->elsize);
        if (v->n) memcpy(d, v->data, (size_t)v->n * v->elsize);
        v->data = d;
        v->cap = cap;
    }
    char *slot = (char *)v->data + (size_t)v->n++ * v->elsize;
    memset(slot, 0, v->elsize);
    return slot;
}

/* ---- tokens ----------------------------------------------------------- */

/* Consumes the current token and scans the next; lexing errors are
 * reported here. */
static void p_next(parser_t *p)
{
    p->prev = p->tok.pos;
    if (rn_lexer_next(&p->lx, &p->tok) == RN_TK_ERROR) {
        const char *err = p->tok.err;
        if (strcmp(err, "unexpected character") == 0) {
            unsigned char c = (unsigned char)p->src[p->tok.pos.offset];
            if (c > 0x20 && c < 0x7f)
                p_error_at(p, p->tok.pos, "unexpected character '%c'", c);
            p_error_at(p, p->tok.pos, "unexpected byte 0x%02x", c);
        }
        p_error_at(p, p->tok.pos, "%s", err);
    }
}

/* Returns the token k >= 1 places after the current one (RN_TK_ERROR and
 * RN_TK_EOF stay put); consumes nothing. */
static rn_token_t p_peek_n(parser_t *p, int k)
{
    rn_lexer_t copy = p->lx;
    rn_token_t t = p->tok;
    for (int i = 0; i < k && t.type != RN_TK_EOF && t.type != RN_TK_ERROR; i++)
        rn_lexer_next(&copy, &t);
    return t;
}

static rn_token_t p_peek(parser_t *p) { return p_peek_n(p, 1); }

static bool p_is(parser_t *p, rn_tok_type t) { return p->tok.type == t; }

static bool p_iskw(parser_t *p, rn_kw kw) { return p->tok.type == RN_TK_IDENT && p->tok.kw == kw; }

static bool tok_iskw(const rn_token_t *t, rn_kw kw) { return t->type == RN_TK_IDENT && t->kw == kw; }

/* True if the current token can be an identifier: quoted, or plain and
 * not a reserved keyword. */
static bool p_is_ident(parser_t *p)
{
    return p->tok.type == RN_TK_QIDENT ||
           (p->tok.type == RN_TK_IDENT && !rn_lexer_kw_reserved(p->tok.kw));
}

/* True if the current token is a plain identifier spelled word (any case). */
static bool p_is_word(parser_t *p, const char *word)
{
    return p->tok.type == RN_TK_IDENT && (size_t)p->tok.pos.len == strlen(word) &&
           strncasecmp(p->src + p->tok.pos.offset, word, strlen(word)) == 0;
}

/* testnext: consumes the current token if it has type t. */
static bool testnext(parser_t *p, rn_tok_type t)
{
    if (!p_is(p, t)) return false;
    p_next(p);
    return true;
}

static bool testnextkw(parser_t *p, rn_kw kw)
{
    if (!p_iskw(p, kw)) return false;
    p_next(p);
    return true;
}

/* check: the current token must have type t ("expected <what>"). */
static void check(parser_t *p, rn_tok_type t, const char *what)
{
    if (!p_is(p, t)) p_expected(p, what);
}

/* checknext: check, then consume. */
static void checknext(parser_t *p, rn_tok_type t, const char *what)
{
    check(p, t, what);
    p_next(p);
}

static void checknextkw(parser_t *p, rn_kw kw, const char *what)
{
    if (!p_iskw(p, kw)) p_expected(p, what);
    p_next(p);
}

/* The span from start to the end of the last consumed token. */
static rn_pos_t p_span(parser_t *p, rn_pos_t start)
{
    rn_pos_t pos = start;
    int end = p->prev.offset + p->prev.len;
    pos.len = end > start.offset ? end - start.offset : 1;
    return pos;
}

static void p_enter(parser_t *p)
{
    if (++p->depth > RN_PARSE_MAX_DEPTH)
        p_error_at(p, p->tok.pos, "nested too deeply (more than %d levels)", RN_PARSE_MAX_DEPTH);
}

static void p_leave(parser_t *p) { p->depth--; }

/* Counts one node of a left-deep chain (operator, join, UNION). */
static void p_count_op(parser_t *p, rn_pos_t pos)
{
    if (++p->ops > RN_PARSE_MAX_OPS)
        p_error_at(p, pos, "statement is too complex (more than %d operators, joins and UNIONs)",
                   RN_PARSE_MAX_OPS);
}

/* ---- names and literals ------------------------------------------------ */

/* ident -> plain_ident | '`' chars '`' | '"' chars '"'
 * Returns the current identifier (quotes removed, doubled quotes undone)
 * and consumes it; what names it in "expected <what>". */
static char *p_ident(parser_t *p, const char *what, rn_pos_t *pos /* out, may be NULL */)
{
    if (!p_is_ident(p)) p_expected(p, what);
    const char *text = p->src + p->tok.pos.offset;
    size_t len = (size_t)p->tok.pos.len;
    char *name;
    if (p->tok.type == RN_TK_QIDENT) {
        char q = text[0];
        name = p_alloc(p, len);
        size_t o = 0;
        for (size_t i = 1; i + 1 < len; i++) {
            name[o++] = text[i];
            if (text[i] == q) i++; /* doubled quote */
        }
        name[o] = '\0';
    } else {
        name = p_strndup(p, text, len);
    }
    if (pos) *pos = p->tok.pos;
    p_next(p);
    return name;
}

/* qualified_name -> ident { '.' ident }
 * Returns the last part; *pos spans the whole name. */
static char *p_qualified_name(parser_t *p, const char *what, rn_pos_t *pos /* out */)
{
    rn_pos_t start = p->tok.pos;
    char *name = p_ident(p, what, NULL);
    while (testnext(p, RN_TK_DOT)) name = p_ident(p, "identifier after '.'", NULL);
    *pos = p_span(p, start);
    return name;
}

/* string -> '\'' { char | '\'\'' } '\''
 * Returns the current string literal unescaped (length in *len) and
 * consumes it. */
static char *p_string(parser_t *p, const char *what, size_t *len /* out, may be NULL */)
{
    check(p, RN_TK_STRING, what);
    const char *text = p->src + p->tok.pos.offset;
    size_t n = (size_t)p->tok.pos.len;
    char *s = p_alloc(p, n);
    size_t o = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        s[o++] = text[i];
        if (text[i] == '\'') i++;
    }
    s[o] = '\0';
    if (len) *len = o;
    p_next(p);
    return s;
}

/* Parses the decimal digits of an integer token; false on overflow of
 * uint64. */
static bool p_parse_u64(const char *s, size_t n, uint64_t *out /* out */)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* A small non-negative integer (type precision, lengths). */
static int p_small_int(parser_t *p, const char *what, int lo, int hi)
{
    check(p, RN_TK_INTEGER, what);
    uint64_t v;
    if (!p_parse_u64(p->src + p->tok.pos.offset, (size_t)p->tok.pos.len, &v) || v < (uint64_t)lo ||
        v > (uint64_t)hi)
        p_error_at(p, p->tok.pos, "%s must be between %d and %d", what, lo, hi);
    p_next(p);
    return (int)v;
}

/* ---- types ------------------------------------------------------------ */

static rn_ast_type_t *type_(parser_t *p);

/* row_fields -> ident type [string] { ',' ident type [string] } */
static void row_fields(parser_t *p, rn_ast_type_t *t)
{
    vec_t names, types;
    vec_init(&names, sizeof(char *));
    vec_init(&types, sizeof(rn_ast_type_t *));
    do {
        *(char **)vec_push(p, &names) = p_ident(p, "ROW field name", NULL);
        *(rn_ast_type_t **)vec_push(p, &types) = type_(p);
        if (p_is(p, RN_TK_STRING)) p_string(p, "field description", NULL);
    } while (testnext(p, RN_TK_COMMA));
    t->nfields = names.n;
    t->field_names = names.data;
    t->field_types = types.data;
}

/* Optional '(' n ')' after a type name; returns -1 when absent. */
static int type_precision(parser_t *p, const char *what, int lo, int hi)
{
    if (!testnext(p, RN_TK_LPAREN)) return -1;
    int v = p_small_int(p, what, lo, hi);
    checknext(p, RN_TK_RPAREN, "')' after the type's precision");
    return v;
}

/* type -> base_type [NOT NULL | NULL]
 * base_type -> BOOLEAN | TINYINT | SMALLINT | INT | INTEGER | BIGINT
 *            | FLOAT | REAL | DOUBLE [PRECISION]
 *            | (DECIMAL | NUMERIC) ['(' int [',' int] ')']
 *            | STRING | (VARCHAR | CHAR) ['(' int ')']
 *            | TIMESTAMP ['(' int ')'] [WITHOUT TIME ZONE | WITH LOCAL TIME ZONE]
 *            | TIMESTAMP_LTZ ['(' int ')']
 *            | ROW '<' row_fields '>' | ROW '(' row_fields ')' */
static rn_ast_type_t *type_(parser_t *p)
{
    rn_pos_t start = p->tok.pos;
    rn_ast_type_t *t = p_alloc(p, sizeof *t);
    t->precision = t->scale = -1;
    t->pos = start;
    if (p->tok.type != RN_TK_IDENT) p_expected(p, "a type");
    p_enter(p);
    rn_kw kw = p->tok.kw;
    switch (kw) {
    case RN_KW_BOOLEAN: t->id = RN_TYPE_BOOLEAN; p_next(p); break;
    case RN_KW_TINYINT:
    case RN_KW_SMALLINT:
    case RN_KW_INT:
    case RN_KW_INTEGER: t->id = RN_TYPE_INT; p_next(p); break;
    case RN_KW_BIGINT: t->id = RN_TYPE_BIGINT; p_next(p); break;
    case RN_KW_FLOAT:
    case RN_KW_REAL: t->id = RN_TYPE_DOUBLE; p_next(p); break;
    case RN_KW_DOUBLE:
        t->id = RN_TYPE_DOUBLE;
        p_next(p);
        testnextkw(p, RN_KW_PRECISION);
        break;
    case RN_KW_DECIMAL:
    case RN_KW_NUMERIC:
        t->id = RN_TYPE_DOUBLE;
        p_next(p);
        if (testnext(p, RN_TK_LPAREN)) {
            t->precision = p_small_int(p, "DECIMAL precision", 1, 38);
            if (testnext(p, RN_TK_COMMA)) {
                t->scale = p_small_int(p, "DECIMAL scale", 0, 38);
                if (t->scale > t->precision)
                    p_error_at(p, p->prev, "DECIMAL scale must not exceed the precision");
            }
            checknext(p, RN_TK_RPAREN, "')' after DECIMAL precision");
        }
        break;
    case RN_KW_STRING: t->id = RN_TYPE_STRING; p_next(p); break;
    case RN_KW_VARCHAR:
    case RN_KW_CHAR:
        t->id = RN_TYPE_STRING;
        p_next(p);
        t->precision = type_precision(p, "string length", 1, 2147483647);
        break;
    case RN_KW_TIMESTAMP:
        t->id = RN_TYPE_TIMESTAMP;
        p_next(p);
        t->precision = type_precision(p, "TIMESTAMP precision", 0, 9);
        if (p_iskw(p, RN_KW_WITHOUT)) {
            p_next(p);
            checknextkw(p, RN_KW_TIME, "TIME after WITHOUT");
            checknextkw(p, RN_KW_ZONE, "ZONE after WITHOUT TIME");
        } else if (p_iskw(p, RN_KW_WITH)) {
            rn_token_t next = p_peek(p);
            if (tok_iskw(&next, RN_KW_LOCAL)) {
                p_next(p);
                p_next(p);
                checknextkw(p, RN_KW_TIME, "TIME after WITH LOCAL");
                checknextkw(p, RN_KW_ZONE, "ZONE after WITH LOCAL TIME");
                t->id = RN_TYPE_TIMESTAMP_LTZ;
            } else if (tok_iskw(&next, RN_KW_TIME)) {
                p_unsupported(p, "TIMESTAMP WITH TIME ZONE");
            }
        }
        break;
    case RN_KW_TIMESTAMP_LTZ:
        t->id = RN_TYPE_TIMESTAMP_LTZ;
        p_next(p);
        t->precision = type_precision(p, "TIMESTAMP_LTZ precision", 0, 9);
        break;
    case RN_KW_ROW: {
        t->id = RN_TYPE_ROW;
        p_next(p);
        if (testnext(p, RN_TK_LT)) {
            row_fields(p, t);
            checknext(p, RN_TK_GT, "'>' after ROW fields");
        } else if (testnext(p, RN_TK_LPAREN)) {
            row_fields(p, t);
            checknext(p, RN_TK_RPAREN, "')' after ROW fields");
        } else {
            p_expected(p, "'<' or '(' after ROW");
        }
        break;
    }
    case RN_KW_ARRAY:
    case RN_KW_MAP:
    case RN_KW_BYTES:
    case RN_KW_DATE:
    case RN_KW_TIME:
        p_error_at(p, p->tok.pos, "type %s is not supported yet", rn_lexer_kw_name(kw));
    default:
        if (p_is_word(p, "BINARY") || p_is_word(p, "VARBINARY") || p_is_word(p, "MULTISET") ||
            p_is_word(p, "RAW") || p_is_word(p, "INTERVAL"))
            p_error_at(p, p->tok.pos, "type %.*s is not supported yet", p->tok.pos.len,
                       p->src + p->tok.pos.offset);
        p_expected(p, "a type");
    }
    if (p_iskw(p, RN_KW_NOT)) {
        p_next(p);
        checknextkw(p, RN_KW_NULL, "NULL after NOT");
        t->not_null = true;
    } else {
        testnextkw(p, RN_KW_NULL);
    }
    t->pos = p_span(p, start);
    p_leave(p);
    return t;
}

/* ---- expressions -------------------------------------------------------- */

static rn_ast_expr_t *expr(parser_t *p);
static rn_ast_expr_t *add_expr(parser_t *p);
static rn_ast_query_t *query(parser_t *p);

static rn_ast_expr_t *new_expr(parser_t *p, rn_ast_expr_kind kind, rn_pos_t pos)
{
    rn_ast_expr_t *e = p_alloc(p, sizeof *e);
    e->kind = kind;
    e->pos = pos;
    return e;
}

static rn_ast_expr_t *new_binary(parser_t *p, rn_ast_op op, rn_ast_expr_t *lhs, rn_ast_expr_t *rhs)
{
    p_count_op(p, p->prev);
    rn_ast_expr_t *e = new_expr(p, RN_AST_BINARY, p_span(p, lhs->pos));
    e->binary.op = op;
    e->binary.lhs = lhs;
    e->binary.rhs = rhs;
    return e;
}

static rn_ast_expr_t *new_string_lit(parser_t *p, char *s, size_t len, rn_pos_t pos)
{
    rn_ast_expr_t *e = new_expr(p, RN_AST_LITERAL, pos);
    e->lit.kind = RN_LIT_STRING;
    e->lit.s = s;
    e->lit.len = len;
    return e;
}

/* Builds a call node from a vector of arguments. */
static rn_ast_expr_t *new_call(parser_t *p, const char *name, rn_pos_t pos, vec_t *args)
{
    rn_ast_expr_t *e = new_expr(p, RN_AST_CALL, pos);
    e->call.name = p_strndup(p, name, strlen(name));
    e->call.nargs = args ? args->n : 0;
    e->call.args = args ? args->data : NULL;
    return e;
}

/* Copies the current token's text, upper-cased, and consumes it. */
static char *p_upper_word(parser_t *p)
{
    char *s = p_strndup(p, p->src + p->tok.pos.offset, (size_t)p->tok.pos.len);
    for (char *c = s; *c; c++)
        if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
    p_next(p);
    return s;
}

/* column_ref -> ident { '.' ident } */
static rn_ast_expr_t *column_ref(parser_t *p)
{
    rn_pos_t start = p->tok.pos;
    vec_t parts;
    vec_init(&parts, sizeof(char *));
    *(char **)vec_push(p, &parts) = p_ident(p, "column name", NULL);
    while (p_is(p, RN_TK_DOT)) {
        p_next(p);
        if (p_is(p, RN_TK_STAR))
            p_error_at(p, p->tok.pos, "'.*' is only allowed in a SELECT list");
        char **slot = vec_push(p, &parts);
        if (p->tok.type == RN_TK_IDENT && rn_lexer_kw_reserved(p->tok.kw)) {
            /* After a dot any word is a name: t.from, r.key, e.end. */
            *slot = p_strndup(p, p->src + p->tok.pos.offset, (size_t)p->tok.pos.len);
            p_next(p);
        } else {
            *slot = p_ident(p, "field name after '.'", NULL);
        }
    }
    rn_ast_expr_t *e = new_expr(p, RN_AST_COLUMN, p_span(p, start));
    e->column.nparts = parts.n;
    e->column.parts = parts.data;
    return e;
}

/* call_arg -> TABLE qualified_name [PARTITION BY (expr | '(' expr {',' expr} ')')]
 *           | expr */
static rn_ast_expr_t *call_arg(parser_t *p)
{
    if (!p_iskw(p, RN_KW_TABLE)) return expr(p);
    rn_pos_t start = p->tok.pos, name_pos;
    p_next(p);
    rn_ast_expr_t *e = new_expr(p, RN_AST_TABLE_ARG, start);
    e->table_arg.table = p_qualified_name(p, "table name after TABLE", &name_pos);
    if (testnextkw(p, RN_KW_PARTITION)) {
        checknextkw(p, RN_KW_BY, "BY after PARTITION");
        vec_t cols;
        vec_init(&cols, sizeof(rn_ast_expr_t *));
        if (testnext(p, RN_TK_LPAREN)) {
            do {
                *(rn_ast_expr_t **)vec_push(p, &cols) = expr(p);
            } while (testnext(p, RN_TK_COMMA));
            checknext(p, RN_TK_RPAREN, "')' after PARTITION BY columns");
        } else {
            *(rn_ast_expr_t **)vec_push(p, &cols) = expr(p);
        }
        e->table_arg.npartition = cols.n;
        e->table_arg.partition_by = cols.data;
    }
    e->pos = p_span(p, start);
    return e;
}

/* order_item -> expr [ASC | DESC] */
static void order_item(parser_t *p, rn_ast_order_item_t *it)
{
    it->expr = expr(p);
    if (testnextkw(p, RN_KW_DESC))
        it->desc = true;
    else
        testnextkw(p, RN_KW_ASC);
}

/* over_clause -> OVER '(' [PARTITION BY expr {',' expr}]
 *                         ORDER BY order_item {',' order_item} ')'
 * The current token is OVER. Frames (ROWS/RANGE) are not accepted. */
static rn_ast_over_t *over_clause(parser_t *p)
{
    rn_pos_t start = p->tok.pos;
    p_next(p);
    checknext(p, RN_TK_LPAREN, "'(' after OVER");
    p_enter(p);
    rn_ast_over_t *o = p_alloc(p, sizeof *o);
    if (testnextkw(p, RN_KW_PARTITION)) {
        checknextkw(p, RN_KW_BY, "BY after PARTITION");
        vec_t keys;
        vec_init(&keys, sizeof(rn_ast_expr_t *));
        do {
            *(rn_ast_expr_t **)vec_push(p, &keys) = expr(p);
        } while (testnext(p, RN_TK_COMMA));
        o->npartition = keys.n;
        o->partition_by = keys.data;
    }
    if (!p_iskw(p, RN_KW_ORDER)) p_expected(p, "ORDER BY in the OVER clause of ROW_NUMBER()");
    p_next(p);
    checknextkw(p, RN_KW_BY, "BY after ORDER");
    vec_t items;
    vec_init(&items, sizeof(rn_ast_order_item_t));
    do {
        order_item(p, vec_push(p, &items));
    } while (testnext(p, RN_TK_COMMA));
    o->norder = items.n;
    o->order_by = items.data;
    if (p_is_word(p, "ROWS") || p_is_word(p, "RANGE")) p_unsupported(p, "a window frame in OVER");
    checknext(p, RN_TK_RPAREN, "')' after the OVER clause");
    p_leave(p);
    o->pos = p_span(p, start);
    return o;
}

/* filter_clause -> FILTER '(' WHERE expr ')'
 * after an aggregate call e whose arguments are args (one, or COUNT's *):
 * the aggregate of the rows where the condition is TRUE. Rewritten here as
 * agg(CASE WHEN cond THEN arg END), COUNT(*) as COUNT(CASE WHEN cond THEN
 * 1 END): aggregates skip NULLs, so the two are the same. The current
 * token is FILTER; the next is '('. */
static void filter_clause(parser_t *p, rn_ast_expr_t *e, vec_t *args)
{
    static const char *const aggs[] = {"COUNT", "SUM", "MIN", "MAX", "AVG"};
    rn_pos_t start = p->tok.pos;
    bool ok = e->call.star || args->n == 1;
    bool agg = false;
    for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++) agg |= strcasecmp(e->call.name, aggs[i]) == 0;
    if (!agg || !ok)
        p_error_at(p, start, "FILTER (WHERE ...) is supported after COUNT, SUM, MIN, MAX or AVG of one argument only");
    p_next(p);
    p_next(p); /* '(' */
    checknextkw(p, RN_KW_WHERE, "WHERE in FILTER (WHERE condition)");
    rn_ast_expr_t *c = new_expr(p, RN_AST_CASE, start);
    rn_ast_expr_t **whens = p_alloc(p, sizeof *whens), **thens = p_alloc(p, sizeof *thens);
    whens[0] = expr(p);
    checknext(p, RN_TK_RPAREN, "')' after the FILTER condition");
    if (e->call.star) {
        thens[0] = new_expr(p, RN_AST_LITERAL, start);
        thens[0]->lit.kind = RN_LIT_INT;
        thens[0]->lit.i = 1;
        e->call.star = false;
        *(rn_ast_expr_t **)vec_push(p, args) = c;
    } else {
        thens[0] = ((rn_ast_expr_t **)args->data)[0];
        ((rn_ast_expr_t **)args->data)[0] = c;
    }
    c->case_.nwhens = 1;
    c->case_.whens = whens;
    c->case_.thens = thens;
    c->pos = p_span(p, start);
}

/* call -> name '(' [ '*' | [DISTINCT | ALL] call_arg {',' call_arg} ] ')'
 *         [filter_clause] [over_clause]
 *       | (FLOOR | CEIL) '(' expr TO unit ')'
 * over_clause only after ROW_NUMBER().
 * The current token is the name; the next is '('. */
static rn_ast_expr_t *call(parser_t *p)
{
    rn_pos_t start = p->tok.pos;
    char *name = p_strndup(p, p->src + start.offset, (size_t)start.len);
    p_next(p);
    checknext(p, RN_TK_LPAREN, "'(' after function name");
    rn_ast_expr_t *e = new_expr(p, RN_AST_CALL, start);
    e->call.name = name;
    vec_t args;
    vec_init(&args, sizeof(rn_ast_expr_t *));
    if (p_is(p, RN_TK_STAR)) {
        p_next(p);
        e->call.star = true;
    } else if (!p_is(p, RN_TK_RPAREN)) {
        if (testnextkw(p, RN_KW_DISTINCT))
            e->call.distinct = true;
        else
            testnextkw(p, RN_KW_ALL);
        do {
            *(rn_ast_expr_t **)vec_push(p, &args) = call_arg(p);
        } while (testnext(p, RN_TK_COMMA));
        if (args.n == 1 && p_is_word(p, "TO") &&
            (strcasecmp(name, "FLOOR") == 0 || strcasecmp(name, "CEIL") == 0)) {
            p_next(p);
            if (p->tok.type != RN_TK_IDENT) p_expected(p, "a time unit after TO");
            rn_pos_t upos = p->tok.pos;
            char *unit = p_upper_word(p);
            *(rn_ast_expr_t **)vec_push(p, &args) = new_string_lit(p, unit, strlen(unit), upos);
        }
    }
    checknext(p, RN_TK_RPAREN, "')' after function arguments");
    if (p_is_word(p, "FILTER") && p_peek(p).type == RN_TK_LPAREN) filter_clause(p, e, &args);
    if (p_iskw(p, RN_KW_OVER)) {
        if (strcasecmp(name, "RANK") == 0 || strcasecmp(name, "DENSE_RANK") == 0) {
            char what[64];
            snprintf(what, sizeof what, "%s() OVER (use ROW_NUMBER())", strcasecmp(name, "RANK") ? "DENSE_RANK" : "RANK");
            p_unsupported(p, what);
        }
        if (strcasecmp(name, "ROW_NUMBER") || args.n || e->call.star)
            p_unsupported(p, "OVER (window aggregation)");
        e->call.over = over_clause(p);
    }
    e->call.nargs = args.n;
    e->call.args = args.data;
    e->pos = p_span(p, start);
    return e;
}

/* special_call -> SUBSTRING '(' expr (FROM expr [FOR expr] | {',' expr}) ')'
 *               | POSITION '(' add_expr IN expr ')'
 *               | TRIM '(' [[BOTH | LEADING | TRAILING] FROM] expr ')'
 *               | EXTRACT '(' unit FROM expr ')'
 * The current token is the name; the next is '('. */
static rn_ast_expr_t *special_call(parser_t *p)
{
    rn_pos_t start = p->tok.pos;
    rn_kw kw = p->tok.kw;
    const char *name = rn_lexer_kw_name(kw);
    vec_t args;
    vec_init(&args, sizeof(rn_ast_expr_t *));
    p_next(p);
    p_next(p); /* '(' */
    switch (kw) {
    case RN_KW_SUBSTRING:
        *(rn_ast_expr_t **)vec_push(p, &args) = expr(p);
        if (testnextkw(p, RN_KW_FROM)) {
            *(rn_ast_expr_t **)vec_push(p, &args) = expr(p);
            if (testnextkw(p, RN_KW_FOR)) *(rn_ast_expr_t **)vec_push(p, &args) = expr(p);
        } else {
            while (testnext(p, RN_TK_COMMA)) *(rn_ast_expr_t **)vec_push(p, &args) = expr(p);
        }
        break;
    case RN_KW_POSITION:
        *(rn_ast_expr_t **)vec_push(p, &args) = add_expr(p);
        checknextkw(p, RN_KW_IN, "IN in POSITION(needle IN haystack)");
        *(rn_ast_expr_t **)vec_push(p, &args) = expr(p);
        break;
    case RN_KW_TRIM:
        if (p_iskw(p, RN_KW_BOTH) || p_iskw(p, RN_KW_LEADING) || p_iskw(p, RN_KW_TRAILING)) {
            if (p_iskw(p, RN_KW_LEADING)) name = "LTRIM";
            if (p_iskw(p, RN_KW_TRAILING)) name = "RTRIM";
            p_next(p);
            if (!p_iskw(p, RN_KW_FROM)) p_unsupported(p, "TRIM with explicit characters");
            p_next(p);
        }
        *(rn_ast_expr_t **)vec_push(p, &args) = expr(p);
        if (p_iskw(p, RN_KW_FROM)) p_unsupported(p, "TRIM with explicit characters");
        break;
    default: { /* EXTRACT */
        if (p->tok.type != RN_TK_IDENT) p_expected(p, "a time unit in EXTRACT");
        rn_pos_t upos = p->tok.pos;
        char *unit = p_upper_word(p);
        *(rn_ast_expr_t **)vec_push(p, &args) = new_string_lit(p, unit, strlen(unit), upos);
        checknextkw(p, RN_KW_FROM, "FROM in EXTRACT(unit FROM value)");
        *(rn_ast_expr_t **)vec_push(p, &args) = expr(p);
        break;
    }
    }
    checknext(p, RN_TK_RPAREN, "')' after function arguments");
    return new_call(p, name, p_span(p, start), &args);
}

/* case_expr -> CASE [expr] WHEN expr THEN expr {WHEN expr THEN expr}
 *              [ELSE expr] END */
static rn_ast_expr_t *case_expr(parser_t *p)
{
    rn_pos_t start = p->tok.pos;
    p_next(p);
    rn_ast_expr_t *e = new_expr(p, RN_AST_CASE, start);
    if (!p_iskw(p, RN_KW_WHEN)) e->case_.operand = expr(p);
    vec_t whens, thens;
    vec_init(&whens, sizeof(rn_ast_expr_t *));
    vec_init(&thens, sizeof(rn_ast_expr_t *));
    if (!p_iskw(p, RN_KW_WHEN)) p_expected(p, "WHEN in CASE");
    while (testnextkw(p, RN_KW_WHEN)) {
        *(rn_ast_expr_t **)vec_push(p, &whens) = expr(p);
        checknextkw(p, RN_KW_THEN, "THEN after WHEN condition");
        *(rn_ast_expr_t **)vec_push(p, &thens) = expr(p);
    }
    if (testnextkw(p, RN_KW_ELSE)) e->case_.else_ = expr(p);
    checknextkw(p, RN_KW_END, "END to close CASE");
    e->case_.nwhens = whens.n;
    e->case_.whens = whens.data;
    e->case_.thens = thens.data;
    e->pos = p_span(p, start);
    return e;
}

/* cast_expr -> (CAST | TRY_CAST) '(' expr AS type ')' */
static rn_ast_expr_t *cast_expr(parser_t *p)
{
    rn_pos_t start = p->tok.pos;
    bool try_cast = p->tok.kw == RN_KW_TRY_CAST;
    p_next(p);
    checknext(p, RN_TK_LPAREN, "'(' after CAST");
    rn_ast_expr_t *e = new_expr(p, RN_AST_CAST, start);
    e->cast.try_cast = try_cast;
    e->cast.arg = expr(p);
    checknextkw(p, RN_KW_AS, "AS in CAST(value AS type)");
    e->cast.type = type_(p);
    checknext(p, RN_TK_RPAREN, "')' after CAST type");
    e->pos = p_span(p, start);
    return e;
}

/* interval -> INTERVAL ['-'] (string | integer) unit
 * unit -> MILLISECOND[S] | SECOND[S] | MINUTE[S] | HOUR[S] | DAY[S] */
static rn_ast_expr_t *interval(parser_t *p)
{
    rn_pos_t start = p->tok.pos;
    p_next(p);
    bool neg = testnext(p, RN_TK_MINUS);
    rn_pos_t vpos = p->tok.pos;
    const char *text;
    size_t len;
    if (p_is(p, RN_TK_STRING)) {
        text = p_string(p, "interval value", &len);
    } else if (p_is(p, RN_TK_INTEGER)) {
        text = p->src + p->tok.pos.offset;
        len = (size_t)p->tok.pos.len;
        p_next(p);
    } else {
        p_expected(p, "a quoted number after INTERVAL");
    }
    /* The value: optional spaces and sign, digits. */
    size_t i = 0, n = len;
    while (i < n && text[i] == ' ') i++;
    while (n > i && text[n - 1] == ' ') n--;
    if (i < n && (text[i] == '-' || text[i] == '+')) {
        if (text[i] == '-') neg = !neg;
        i++;
    }
    uint64_t v = 0;
    size_t d = i;
    while (d < n && text[d] >= '0' && text[d] <= '9') d++;
    if (d == i || d != n || !p_parse_u64(text + i, n - i, &v) || v > (uint64_t)INT64_MAX)
        p_error_at(p, vpos, "invalid interval value: expected a whole number");
    int64_t factor;
    rn_ast_interval_unit unit;
    switch (p->tok.type == RN_TK_IDENT ? p->tok.kw : RN_KW_NONE) {
    case RN_KW_MILLISECOND:
    case RN_KW_MILLISECONDS: unit = RN_UNIT_MILLISECOND; factor = 1; break;
    case RN_KW_SECOND:
    case RN_KW_SECONDS: unit = RN_UNIT_SECOND; factor = 1000; break;
    case RN_KW_MINUTE:
    case RN_KW_MINUTES: unit = RN_UNIT_MINUTE; factor = 60000; break;
    case RN_KW_HOUR:
    case RN_KW_HOURS: unit = RN_UNIT_HOUR; factor = 3600000; break;
    case RN_KW_DAY:
    case RN_KW_DAYS: unit = RN_UNIT_DAY; factor = 86400000; break;
    default:
        if (p->tok.type == RN_TK_IDENT)
            p_error_at(p, p->tok.pos, "interval unit '%.*s' is not supported", p->tok.pos.len,
                       p->src + p->tok.pos.offset);
        p_expected(p, "an interval unit (MILLISECOND, SECOND, MINUTE, HOUR or DAY)");
    }
    p_next(p);
    if (p_is_word(p, "TO")) p_unsupported(p, "a compound interval (unit TO unit)");
    if ((int64_t)v > INT64_MAX / factor) p_error_at(p, vpos, "interval value is too large");
    rn_ast_expr_t *e = new_expr(p, RN_AST_INTERVAL, p_span(p, start));
    e->interval.text = p_strndup(p, text + i, n - i);
    e->interval.unit = unit;
    e->interval.ms = (int64_t)v * factor * (neg ? -1 : 1);
    return e;
}

/* Builds an integer literal from the current token; negative allows
 * 9223372036854775808 (for -9223372036854775808). */
static rn_ast_expr_t *int_literal(parser_t *p, rn_pos_t start, bool negative)
{
    uint64_t v;
    rn_pos_t pos = p->tok.pos;
    if (!p_parse_u64(p->src + pos.offset, (size_t)pos.len, &v) ||
        v > (uint64_t)INT64_MAX + (negative ? 1u : 0u))
        p_error_at(p, pos, "integer literal %.*s is too large (the limit is 9223372036854775807)",
                   pos.len > 40 ? 40 : pos.len, p->src + pos.offset);
    p_next(p);
    rn_ast_expr_t *e = new_expr(p, RN_AST_LITERAL, p_span(p, start));
    e->lit.kind = RN_LIT_INT;
    e->lit.i = negative ? (int64_t)(0 - v) : (int64_t)v;
    return e;
}

/* primary -> integer | number | string | TRUE | FALSE | NULL
 *          | TIMESTAMP string
 *          | '(' expr ')' | case_expr | cast_expr | interval
 *          | CURRENT_TIMESTAMP | LOCALTIMESTAMP
 *          | special_call | call | column_ref */
static rn_ast_expr_t *primary(parser_t *p)
{
    rn_pos_t start = p->tok.pos;
    rn_ast_expr_t *e;
    switch (p->tok.type) {
    case RN_TK_INTEGER: return int_literal(p, start, false);
    case RN_TK_FLOAT: {
        char buf[64];
        const char *text = p->src + start.offset;
        char *num = (size_t)start.len < sizeof buf ? buf : p_alloc(p, (size_t)start.len + 1);
        memcpy(num, text, (size_t)start.len);
        num[start.len] = '\0';
        double d = strtod(num, NULL);
        if (isinf(d)) p_error_at(p, start, "numeric literal is out of range");
        p_next(p);
        e = new_expr(p, RN_AST_LITERAL, start);
        e->lit.kind = RN_LIT_DOUBLE;
        e->lit.d = d;
        return e;
    }
    case RN_TK_STRING: {
        size_t len;
        char *s = p_string(p, "string", &len);
        return new_string_lit(p, s, len, start);
    }
    case RN_TK_LPAREN: {
        rn_token_t next = p_peek(p);
        if (tok_iskw(&next, RN_KW_SELECT) || tok_iskw(&next, RN_KW_WITH))
            p_unsupported(p, "a subquery in an expression");
        p_next(p);
        e = expr(p);
        if (p_is(p, RN_TK_COMMA)) p_unsupported(p, "a row constructor");
        checknext(p, RN_TK_RPAREN, "')' to close '('");
        return e;
    }
    case RN_TK_QIDENT: return column_ref(p);
    case RN_TK_IDENT: break;
    default: p_expected(p, "an expression");
    }

    rn_token_t next = p_peek(p);
    bool paren = next.type == RN_TK_LPAREN;
    switch (p->tok.kw) {
    case RN_KW_TRUE:
    case RN_KW_FALSE:
        e = new_expr(p, RN_AST_LITERAL, start);
        e->lit.kind = RN_LIT_BOOL;
        e->lit.b = p->tok.kw == RN_KW_TRUE;
        p_next(p);
        return e;
    case RN_KW_NULL:
        e = new_expr(p, RN_AST_LITERAL, start);
        e->lit.kind = RN_LIT_NULL;
        p_next(p);
        return e;
    case RN_KW_CASE: return case_expr(p);
    case RN_KW_CAST: return cast_expr(p);
    case RN_KW_TRY_CAST:
        if (paren) return cast_expr(p);
        break;
    case RN_KW_INTERVAL: return interval(p);
    case RN_KW_CURRENT_TIMESTAMP:
    case RN_KW_LOCALTIMESTAMP: {
        const char *name = rn_lexer_kw_name(p->tok.kw);
        p_next(p);
        if (paren) {
            p_next(p);
            checknext(p, RN_TK_RPAREN, "')' after function name");
        }
        return new_call(p, name, p_span(p, start), NULL);
    }
    case RN_KW_SUBSTRING:
    case RN_KW_POSITION:
    case RN_KW_TRIM:
    case RN_KW_EXTRACT:
        if (paren) return special_call(p);
        break;
    case RN_KW_LEFT:
    case RN_KW_RIGHT:
        if (paren) return call(p);
        break;
    case RN_KW_TIMESTAMP:
        if (next.type == RN_TK_STRING) { /* TIMESTAMP '2024-01-01 00:00:00' */
            p_next(p);
            rn_pos_t spos = p->tok.pos;
            size_t len;
            char *s = p_string(p, "timestamp text", &len);
            e = new_expr(p, RN_AST_CAST, p_span(p, start));
            e->cast.arg = new_string_lit(p, s, len, spos);
            e->cast.type = p_alloc(p, sizeof *e->cast.type);
            e->cast.type->pos = start;
            e->cast.type->id = RN_TYPE_TIMESTAMP;
            e->cast.type->precision = e->cast.type->scale = -1;
            return e;
        }
        break;
    case RN_KW_DATE:
    case RN_KW_TIME:
        if (next.type == RN_TK_STRING) p_unsupported(p, "a DATE or TIME literal");
        break;
    case RN_KW_EXISTS: p_unsupported(p, "EXISTS (subquery)");
    default: break;
    }
    if (!p_is_ident(p)) p_expected(p, "an expression");
    if (paren) return call(p);
    return column_ref(p);
}

/* unary_expr -> ('-' | '+') unary_expr | primary */
static rn_ast_expr_t *unary_expr(parser_t *p)
{
    if (!p_is(p, RN_TK_MINUS) && !p_is(p, RN_TK_PLUS)) return primary(p);
    rn_pos_t start = p->tok.pos;
    rn_ast_op op = p_is(p, RN_TK_MINUS) ? RN_AST_OP_NEG : RN_AST_OP_PLUS;
    p_next(p);
    if (op == RN_AST_OP_NEG && p_is(p, RN_TK_INTEGER)) {
        /* Only INT64_MIN needs folding; other literals stay NEG(lit). */
        uint64_t v;
        if (p_parse_u64(p->src + p->tok.pos.offset, (size_t)p->tok.pos.len, &v) &&
            v == (uint64_t)INT64_MAX + 1u)
            return int_literal(p, start, true);
    }
    p_enter(p);
    rn_ast_expr_t *arg = unary_expr(p);
    p_leave(p);
    rn_ast_expr_t *e = new_expr(p, RN_AST_UNARY, p_span(p, start));
    e->unary.op = op;
    e->unary.arg = arg;
    return e;
}

/* mul_expr -> unary_expr { ('*' | '/' | '%') unary_expr } */
static rn_ast_expr_t *mul_expr(parser_t *p)
{
    rn_ast_expr_t *e = unary_expr(p);
    for (;;) {
        rn_ast_op op;
        if (p_is(p, RN_TK_STAR))
            op = RN_AST_OP_MUL;
        else if (p_is(p, RN_TK_SLASH))
            op = RN_AST_OP_DIV;
        else if (p_is(p, RN_TK_PERCENT))
            op = RN_AST_OP_MOD;
        else
            return e;
        p_next(p);
        e = new_binary(p, op, e, unary_expr(p));
    }
}

/* add_expr -> mul_expr { ('+' | '-' | '||') mul_expr } */
static rn_ast_expr_t *add_expr(parser_t *p)
{
    rn_ast_expr_t *e = mul_expr(p);
    for (;;) {
        rn_ast_op op;
        if (p_is(p, RN_TK_PLUS))
            op = RN_AST_OP_ADD;
        else if (p_is(p, RN_TK_MINUS))
            op = RN_AST_OP_SUB;
        else if (p_is(p, RN_TK_CONCAT))
            op = RN_AST_OP_CONCAT;
        else
            return e;
        p_next(p);
        e = new_binary(p, op, e, mul_expr(p));
    }
}

/* pred_expr -> add_expr { compop add_expr
 *                       | IS [NOT] (NULL | TRUE | FALSE | UNKNOWN)
 *                       | [NOT] BETWEEN [SYMMETRIC | ASYMMETRIC] add_expr AND add_expr
 *                       | [NOT] IN '(' expr {',' expr} ')'
 *                       | [NOT] LIKE add_expr [ESCAPE add_expr] }
 * compop -> '=' | '<>' | '!=' | '<' | '<=' | '>' | '>=' */
static rn_ast_expr_t *pred_expr(parser_t *p)
{
    rn_ast_expr_t *e = add_expr(p);
    for (;;) {
        rn_ast_op op;
        switch (p->tok.type) {
        case RN_TK_EQ: op = RN_AST_OP_EQ; break;
        case RN_TK_NE: op = RN_AST_OP_NE; break;
        case RN_TK_LT: op = RN_AST_OP_LT; break;
        case RN_TK_LE: op = RN_AST_OP_LE; break;
        case RN_TK_GT: op = RN_AST_OP_GT; break;
        case RN_TK_GE: op = RN_AST_OP_GE; break;
        default: op = RN_AST_OP_NOT; break; /* none */
        }
        if (op != RN_AST_OP_NOT) {
            p_next(p);
            e = new_binary(p, op, e, add_expr(p));
            continue;
        }
        if (p_iskw(p, RN_KW_IS)) {
            p_count_op(p, p->tok.pos);
            p_next(p);
            rn_ast_expr_t *is = new_expr(p, RN_AST_IS, e->pos);
            is->is.negated = testnextkw(p, RN_KW_NOT);
            if (p_iskw(p, RN_KW_NULL))
                is->is.what = RN_IS_NULL;
            else if (p_iskw(p, RN_KW_TRUE))
                is->is.what = RN_IS_TRUE;
            else if (p_iskw(p, RN_KW_FALSE))
                is->is.what = RN_IS_FALSE;
            else if (p_iskw(p, RN_KW_UNKNOWN))
                is->is.what = RN_IS_UNKNOWN;
            else if (p_iskw(p, RN_KW_DISTINCT))
                p_unsupported(p, "IS [NOT] DISTINCT FROM");
            else
                p_expected(p, "NULL, TRUE, FALSE or UNKNOWN after IS");
            p_next(p);
            is->is.arg = e;
            is->pos = p_span(p, e->pos);
            e = is;
            continue;
        }
        bool negated = false;
        if (p_iskw(p, RN_KW_NOT)) {
            rn_token_t next = p_peek(p);
            if (!tok_iskw(&next, RN_KW_BETWEEN) && !tok_iskw(&next, RN_KW_IN) &&
                !tok_iskw(&next, RN_KW_LIKE))
                return e;
            p_next(p);
            negated = true;
        }
        if (p_iskw(p, RN_KW_BETWEEN) || p_iskw(p, RN_KW_IN) || p_iskw(p, RN_KW_LIKE))
            p_count_op(p, p->tok.pos);
        if (testnextkw(p, RN_KW_BETWEEN)) {
            rn_ast_expr_t *b = new_expr(p, RN_AST_BETWEEN, e->pos);
            b->between.negated = negated;
            if (testnextkw(p, RN_KW_SYMMETRIC))
                b->between.symmetric = true;
            else
                testnextkw(p, RN_KW_ASYMMETRIC);
            b->between.arg = e;
            b->between.low = add_expr(p);
            checknextkw(p, RN_KW_AND, "AND in BETWEEN");
            b->between.high = add_expr(p);
            b->pos = p_span(p, e->pos);
            e = b;
        } else if (testnextkw(p, RN_KW_IN)) {
            rn_ast_expr_t *in = new_expr(p, RN_AST_IN, e->pos);
            in->in.negated = negated;
            in->in.arg = e;
            checknext(p, RN_TK_LPAREN, "'(' after IN");
            if (p_iskw(p, RN_KW_SELECT) || p_iskw(p, RN_KW_WITH)) p_unsupported(p, "IN (subquery)");
            vec_t items;
            vec_init(&items, sizeof(rn_ast_expr_t *));
            do {
                *(rn_ast_expr_t **)vec_push(p, &items) = expr(p);
            } while (testnext(p, RN_TK_COMMA));
            checknext(p, RN_TK_RPAREN, "')' after IN list");
            in->in.nitems = items.n;
            in->in.items = items.data;
            in->pos = p_span(p, e->pos);
            e = in;
        } else if (testnextkw(p, RN_KW_LIKE)) {
            rn_ast_expr_t *l = new_expr(p, RN_AST_LIKE, e->pos);
            l->like.negated = negated;
            l->like.arg = e;
            l->like.pattern = add_expr(p);
            if (testnextkw(p, RN_KW_ESCAPE)) l->like.escape = add_expr(p);
            l->pos = p_span(p, e->pos);
            e = l;
        } else {
            return e;
        }
    }
}

/* not_expr -> NOT not_expr | pred_expr */
static rn_ast_expr_t *not_expr(parser_t *p)
{
    if (!p_iskw(p, RN_KW_NOT)) return pred_expr(p);
    rn_pos_t start = p->tok.pos;
    p_next(p);
    p_enter(p);
    rn_ast_expr_t *arg = not_expr(p);
    p_leave(p);
    rn_ast_expr_t *e = new_expr(p, RN_AST_UNARY, p_span(p, start));
    e->unary.op = RN_AST_OP_NOT;
    e->unary.arg = arg;
    return e;
}

/* and_expr -> not_expr { AND not_expr } */
static rn_ast_expr_t *and_expr(parser_t *p)
{
    rn_ast_expr_t *e = not_expr(p);
    while (testnextkw(p, RN_KW_AND)) e = new_binary(p, RN_AST_OP_AND, e, not_expr(p));
    return e;
}

/* expr -> and_expr { OR and_expr } */
static rn_ast_expr_t *expr(parser_t *p)
{
    p_enter(p);
    rn_ast_expr_t *e = and_expr(p);
    while (testnextkw(p, RN_KW_OR)) e = new_binary(p, RN_AST_OP_OR, e, and_expr(p));
    p_leave(p);
    return e;
}

/* ---- queries ------------------------------------------------------------ */

/* alias -> AS ident | ident   (an identifier that is not a reserved word)
 * Returns NULL when there is none. */
static char *alias(parser_t *p)
{
    if (testnextkw(p, RN_KW_AS)) return p_ident(p, "an alias after AS", NULL);
    if (p_is_ident(p)) return p_ident(p, "an alias", NULL);
    return NULL;
}

/* Aliases of FROM items may not carry column lists. */
static char *from_alias(parser_t *p)
{
    char *a = alias(p);
    if (a && p_is(p, RN_TK_LPAREN)) p_unsupported(p, "a column list after a table alias");
    return a;
}

/* table_ref -> qualified_name [FOR SYSTEM_TIME AS OF expr] [alias]
 *            | '(' query ')' [alias]
 *            | TABLE '(' call ')' [alias] */
static rn_ast_from_t *table_ref(parser_t *p)
{
    rn_pos_t start = p->tok.pos;
    rn_ast_from_t *f = p_alloc(p, sizeof *f);
    f->pos = start;
    if (p_is(p, RN_TK_LPAREN)) {
        p_next(p);
        f->kind = RN_AST_FROM_SUBQUERY;
        f->subquery = query(p);
        checknext(p, RN_TK_RPAREN, "')' after subquery");
    } else if (p_iskw(p, RN_KW_TABLE)) {
        p_next(p);
        f->kind = RN_AST_FROM_TVF;
        checknext(p, RN_TK_LPAREN, "'(' after TABLE");
        rn_token_t next = p_peek(p);
        if (!p_is_ident(p) || next.type != RN_TK_LPAREN)
            p_expected(p, "a table function call such as TUMBLE(...)");
        f->tvf = call(p);
        checknext(p, RN_TK_RPAREN, "')' after the table function call");
    } else if (p_iskw(p, RN_KW_LATERAL)) {
        p_unsupported(p, "LATERAL");
    } else {
        if (p_is_word(p, "UNNEST")) p_unsupported(p, "UNNEST");
        rn_pos_t name_pos;
        f->kind = RN_AST_FROM_TABLE;
        f->table.name = p_qualified_name(p, "a table name", &name_pos);
        if (p_is(p, RN_TK_LPAREN)) p_unsupported(p, "a table function outside TABLE(...)");
        if (testnextkw(p, RN_KW_FOR)) {
            checknextkw(p, RN_KW_SYSTEM_TIME, "SYSTEM_TIME after FOR");
            checknextkw(p, RN_KW_AS, "AS in FOR SYSTEM_TIME AS OF");
            checknextkw(p, RN_KW_OF, "OF in FOR SYSTEM_TIME AS OF");
            f->table.system_time = expr(p);
        }
    }
    f->alias = from_alias(p);
    if (p_iskw(p, RN_KW_MATCH_RECOGNIZE)) p_unsupported(p, "MATCH_RECOGNIZE");
    f->pos = p_span(p, start);
    return f;
}

/* from_clause -> table_ref { ',' table_ref | join_op table_ref [ON expr] }
 * join_op -> [INNER] JOIN | LEFT [OUTER] JOIN | RIGHT [OUTER] JOIN
 *          | FULL [OUTER] JOIN | CROSS JOIN
 * ON is required except for CROSS JOIN and ','. */
static rn_ast_from_t *from_clause(parser_t *p)
{
    rn_ast_from_t *left = table_ref(p);
    for (;;) {
        rn_ast_join_type type;
        bool comma = false;
        if (testnext(p, RN_TK_COMMA)) {
            type = RN_JOIN_CROSS;
            comma = true;
        } else if (p_iskw(p, RN_KW_JOIN) || p_iskw(p, RN_KW_INNER)) {
            type = RN_JOIN_INNER;
            testnextkw(p, RN_KW_INNER);
            checknextkw(p, RN_KW_JOIN, "JOIN after INNER");
        } else if (p_iskw(p, RN_KW_LEFT) || p_iskw(p, RN_KW_RIGHT) || p_iskw(p, RN_KW_FULL)) {
            type = p_iskw(p, RN_KW_LEFT)    ? RN_JOIN_LEFT
                   : p_iskw(p, RN_KW_RIGHT) ? RN_JOIN_RIGHT
                                            : RN_JOIN_FULL;
            p_next(p);
            testnextkw(p, RN_KW_OUTER);
            checknextkw(p, RN_KW_JOIN, "JOIN");
        } else if (p_iskw(p, RN_KW_CROSS)) {
            type = RN_JOIN_CROSS;
            p_next(p);
            checknextkw(p, RN_KW_JOIN, "JOIN after CROSS");
        } else if (p_iskw(p, RN_KW_NATURAL)) {
            p_unsupported(p, "NATURAL JOIN");
        } else {
            return left;
        }
        p_count_op(p, p->prev);
        rn_ast_from_t *j = p_alloc(p, sizeof *j);
        j->kind = RN_AST_FROM_JOIN;
        j->join.type = type;
        j->join.comma = comma;
        j->join.left = left;
        j->join.right = table_ref(p);
        if (type != RN_JOIN_CROSS) {
            if (p_iskw(p, RN_KW_USING)) p_unsupported(p, "JOIN ... USING");
            checknextkw(p, RN_KW_ON, "ON after the joined table");
            j->join.on = expr(p);
        }
        j->pos = p_span(p, left->pos);
        left = j;
    }
}

/* select_item -> '*' | ident '.' '*' | expr [alias] */
static void select_item(parser_t *p, rn_ast_select_item_t *item)
{
    rn_pos_t start = p->tok.pos;
    if (p_is(p, RN_TK_STAR)) {
        p_next(p);
        item->expr = new_expr(p, RN_AST_STAR, start);
    } else if ((p_is(p, RN_TK_IDENT) || p_is(p, RN_TK_QIDENT)) && p_peek(p).type == RN_TK_DOT &&
               p_peek_n(p, 2).type == RN_TK_STAR) {
        char *q = p_ident(p, "table name before '.*'", NULL);
        p_next(p);
        p_next(p);
        item->expr = new_expr(p, RN_AST_STAR, p_span(p, start));
        item->expr->star.qualifier = q;
    } else {
        item->expr = expr(p);
        item->alias = alias(p);
    }
    item->pos = p_span(p, start);
}

static rn_ast_query_t *new_query(parser_t *p, rn_ast_query_kind kind, rn_pos_t pos)
{
    rn_ast_query_t *q = p_alloc(p, sizeof *q);
    q->kind = kind;
    q->pos = pos;
    return q;
}

/* select_block -> SELECT [DISTINCT | ALL] select_item {',' select_item}
 *                 [FROM from_clause] [WHERE expr]
 *                 [GROUP BY expr {',' expr}] [HAVING expr]
 *               | '(' query ')' */
static rn_ast_query_t *select_block(parser_t *p)
{
    rn_pos_t start = p->tok.pos;
    if (testnext(p, RN_TK_LPAREN)) {
        rn_ast_query_t *q = query(p);
        checknext(p, RN_TK_RPAREN, "')' after query");
        return q;
    }
    if (p_iskw(p, RN_KW_VALUES)) p_unsupported(p, "VALUES");
    checknextkw(p, RN_KW_SELECT, "SELECT");
    rn_ast_query_t *q = new_query(p, RN_QUERY_SELECT, start);
    if (testnextkw(p, RN_KW_DISTINCT))
        q->select.distinct = true;
    else
        testnextkw(p, RN_KW_ALL);
    vec_t items;
    vec_init(&items, sizeof(rn_ast_select_item_t));
    do {
        select_item(p, vec_push(p, &items));
    } while (testnext(p, RN_TK_COMMA));
    q->select.nitems = items.n;
    q->select.items = items.data;
    if (testnextkw(p, RN_KW_FROM)) q->select.from = from_clause(p);
    if (testnextkw(p, RN_KW_WHERE)) q->select.where = expr(p);
    if (testnextkw(p, RN_KW_GROUP)) {
        checknextkw(p, RN_KW_BY, "BY after GROUP");
        vec_t keys;
        vec_init(&keys, sizeof(rn_ast_expr_t *));
        do {
            *(rn_ast_expr_t **)vec_push(p, &keys) = expr(p);
        } while (testnext(p, RN_TK_COMMA));
        q->select.ngroup = keys.n;
        q->select.group_by = keys.data;
    }
    if (testnextkw(p, RN_KW_HAVING)) q->select.having = expr(p);
    if (p_iskw(p, RN_KW_WINDOW)) p_unsupported(p, "the WINDOW clause");
    q->pos = p_span(p, start);
    return q;
}

/* Wraps q as SELECT * FROM (q), so that an outer ORDER BY, LIMIT or WITH
 * does not overwrite the one q already has. */
static rn_ast_query_t *wrap_query(parser_t *p, rn_ast_query_t *q)
{
    rn_ast_query_t *w = new_query(p, RN_QUERY_SELECT, q->pos);
    rn_ast_select_item_t *item = p_alloc(p, sizeof *item);
    item->expr = new_expr(p, RN_AST_STAR, q->pos);
    item->pos = q->pos;
    w->select.nitems = 1;
    w->select.items = item;
    w->select.from = p_alloc(p, sizeof *w->select.from);
    w->select.from->kind = RN_AST_FROM_SUBQUERY;
    w->select.from->pos = q->pos;
    w->select.from->subquery = q;
    return w;
}

/* query -> [WITH cte {',' cte}] select_block {UNION [ALL | DISTINCT] select_block}
 *          [ORDER BY order_item {',' order_item}] [LIMIT expr]
 * cte -> ident AS '(' query ')'
 * order_item -> expr [ASC | DESC] */
static rn_ast_query_t *query(parser_t *p)
{
    rn_pos_t start = p->tok.pos;
    p_enter(p);
    vec_t ctes;
    vec_init(&ctes, sizeof(rn_ast_cte_t));
    if (testnextkw(p, RN_KW_WITH)) {
        do {
            rn_ast_cte_t *c = vec_push(p, &ctes);
            c->name = p_ident(p, "a name for the WITH query", &c->pos);
            if (p_is(p, RN_TK_LPAREN)) p_unsupported(p, "a column list in WITH");
            checknextkw(p, RN_KW_AS, "AS after the WITH query name");
            checknext(p, RN_TK_LPAREN, "'(' before the WITH query");
            c->query = query(p);
            checknext(p, RN_TK_RPAREN, "')' after the WITH query");
        } while (testnext(p, RN_TK_COMMA));
    }
    rn_ast_query_t *q = select_block(p);
    for (;;) {
        if (p_iskw(p, RN_KW_EXCEPT) || p_iskw(p, RN_KW_INTERSECT)) {
            p_error_at(p, p->tok.pos, "%.*s is not supported", p->tok.pos.len,
                       p->src + p->tok.pos.offset);
        }
        if (!p_iskw(p, RN_KW_UNION)) break;
        p_count_op(p, p->tok.pos);
        p_next(p);
        rn_ast_query_t *u = new_query(p, RN_QUERY_UNION, start);
        if (testnextkw(p, RN_KW_ALL))
            u->set_op.all = true;
        else
            testnextkw(p, RN_KW_DISTINCT);
        u->set_op.left = q;
        u->set_op.right = select_block(p);
        u->pos = p_span(p, start);
        q = u;
    }
    if (p_iskw(p, RN_KW_ORDER)) {
        p_next(p);
        checknextkw(p, RN_KW_BY, "BY after ORDER");
        if (q->norder || q->limit) q = wrap_query(p, q);
        vec_t items;
        vec_init(&items, sizeof(rn_ast_order_item_t));
        do {
            order_item(p, vec_push(p, &items));
        } while (testnext(p, RN_TK_COMMA));
        q->norder = items.n;
        q->order_by = items.data;
    }
    if (testnextkw(p, RN_KW_LIMIT)) {
        if (q->limit) q = wrap_query(p, q);
        q->limit = expr(p);
    }
    if (ctes.n) {
        if (q->nctes) q = wrap_query(p, q);
        q->nctes = ctes.n;
        q->ctes = ctes.data;
    }
    q->pos = p_span(p, start);
    p_leave(p);
    return q;
}

/* ---- statements ----------------------------------------------------- */

/* ident_list -> '(' ident {',' ident} ')' */
static void ident_list(parser_t *p, const char *what, int *n /* out */, char ***names /* out */)
{
    vec_t v;
    vec_init(&v, sizeof(char *));
    checknext(p, RN_TK_LPAREN, "'('");
    do {
        *(char **)vec_push(p, &v) = p_ident(p, what, NULL);
    } while (testnext(p, RN_TK_COMMA));
    checknext(p, RN_TK_RPAREN, "')' after the column list");
    *n = v.n;
    *names = v.data;
}

/* not_enforced -> NOT ENFORCED */
static void not_enforced(parser_t *p)
{
    rn_token_t next = p_peek(p);
    if (!p_iskw(p, RN_KW_NOT) || !tok_iskw(&next, RN_KW_ENFORCED))
        p_error_at(p, p_here(p), "PRIMARY KEY must be declared NOT ENFORCED");
    p_next(p);
    p_next(p);
}

/* Records the primary key of a CREATE TABLE, once. */
static void set_primary_key(parser_t *p, rn_ast_stmt_t *s, rn_pos_t pos, int n, char **cols)
{
    if (s->create_table.npk) p_error_at(p, pos, "a table can have only one PRIMARY KEY");
    s->create_table.npk = n;
    s->create_table.pk = cols;
    s->create_table.pk_pos = pos;
}

/* table_elem -> WATERMARK FOR ident AS expr
 *             | [CONSTRAINT ident] PRIMARY KEY '(' ident {',' ident} ')' NOT ENFORCED
 *             | ident AS expr [COMMENT string]
 *             | ident type [METADATA [FROM string] [VIRTUAL]]
 *               [[CONSTRAINT ident] PRIMARY KEY NOT ENFORCED] [COMMENT string] */
static void table_elem(parser_t *p, rn_ast_stmt_t *s, vec_t *cols)
{
    rn_pos_t start = p->tok.pos;
    rn_token_t next = p_peek(p);
    if (p_iskw(p, RN_KW_WATERMARK) && tok_iskw(&next, RN_KW_FOR)) {
        if (s->create_table.watermark)
            p_error_at(p, start, "a table can have only one WATERMARK");
        p_next(p);
        p_next(p);
        rn_ast_watermark_t *w = p_alloc(p, sizeof *w);
        w->column = p_ident(p, "a column name after WATERMARK FOR", &w->pos);
        checknextkw(p, RN_KW_AS, "AS after WATERMARK FOR column");
        w->expr = expr(p);
        s->create_table.watermark = w;
        return;
    }
    if (testnextkw(p, RN_KW_CONSTRAINT)) {
        p_ident(p, "a constraint name", NULL);
        if (!p_iskw(p, RN_KW_PRIMARY)) p_expected(p, "PRIMARY KEY after CONSTRAINT name");
    }
    if (testnextkw(p, RN_KW_PRIMARY)) {
        checknextkw(p, RN_KW_KEY, "KEY after PRIMARY");
        int n;
        char **names;
        ident_list(p, "a column name in PRIMARY KEY", &n, &names);
        rn_pos_t pos = p_span(p, start);
        not_enforced(p);
        set_primary_key(p, s, pos, n, names);
        return;
    }
    rn_ast_column_def_t *c = vec_push(p, cols);
    c->name = p_ident(p, "a column name", NULL);
    if (testnextkw(p, RN_KW_AS)) {
        c->computed = expr(p);
    } else {
        c->type = type_(p);
        if (testnextkw(p, RN_KW_METADATA)) {
            c->is_metadata = true;
            if (testnextkw(p, RN_KW_FROM)) c->metadata_key = p_string(p, "a metadata key", NULL);
            c->is_virtual = testnextkw(p, RN_KW_VIRTUAL);
        }
        rn_pos_t pk_start = p->tok.pos;
        if (testnextkw(p, RN_KW_CONSTRAINT)) {
            p_ident(p, "a constraint name", NULL);
            if (!p_iskw(p, RN_KW_PRIMARY)) p_expected(p, "PRIMARY KEY after CONSTRAINT name");
        }
        if (testnextkw(p, RN_KW_PRIMARY)) {
            checknextkw(p, RN_KW_KEY, "KEY after PRIMARY");
            rn_pos_t pos = p_span(p, pk_start);
            not_enforced(p);
            char **names = p_alloc(p, sizeof(char *));
            names[0] = c->name;
            set_primary_key(p, s, pos, 1, names);
            c->primary_key = true;
        }
    }
    if (testnextkw(p, RN_KW_COMMENT)) p_string(p, "a comment string", NULL);
    c->pos = p_span(p, start);
}

/* option_list -> '(' [option {',' option}] ')'
 * option -> string '=' string */
static void option_list(parser_t *p, int *n /* out */, rn_ast_option_t **opts /* out */)
{
    vec_t v;
    vec_init(&v, sizeof(rn_ast_option_t));
    checknext(p, RN_TK_LPAREN, "'(' after WITH");
    if (!p_is(p, RN_TK_RPAREN)) {
        do {
            rn_ast_option_t *o = vec_push(p, &v);
            o->key_pos = p->tok.pos;
            o->key = p_string(p, "an option key in quotes", NULL);
            checknext(p, RN_TK_EQ, "'=' after the option key");
            o->value_pos = p->tok.pos;
            o->value = p_string(p, "an option value in quotes", NULL);
        } while (testnext(p, RN_TK_COMMA));
    }
    checknext(p, RN_TK_RPAREN, "')' after the options");
    *n = v.n;
    *opts = v.data;
}

/* create_table -> CREATE [TEMPORARY] TABLE [IF NOT EXISTS] qualified_name
 *                 '(' table_elem {',' table_elem} ')' [COMMENT string]
 *                 [WITH option_list] */
static void create_table(parser_t *p, rn_ast_stmt_t *s)
{
    s->kind = RN_STMT_CREATE_TABLE;
    p_next(p); /* TABLE */
    if (p_iskw(p, RN_KW_IF)) {
        p_next(p);
        checknextkw(p, RN_KW_NOT, "NOT after IF");
        checknextkw(p, RN_KW_EXISTS, "EXISTS after IF NOT");
        s->create_table.if_not_exists = true;
    }
    s->create_table.name = p_qualified_name(p, "a table name", &s->create_table.name_pos);
    if (p_iskw(p, RN_KW_WITH) || p_iskw(p, RN_KW_AS))
        p_unsupported(p, "CREATE TABLE without a column list");
    if (p_iskw(p, RN_KW_LIKE)) p_unsupported(p, "CREATE TABLE ... LIKE");
    vec_t cols;
    vec_init(&cols, sizeof(rn_ast_column_def_t));
    checknext(p, RN_TK_LPAREN, "'(' after the table name");
    do {
        table_elem(p, s, &cols);
    } while (testnext(p, RN_TK_COMMA));
    checknext(p, RN_TK_RPAREN, "')' after the column definitions");
    s->create_table.ncolumns = cols.n;
    s->create_table.columns = cols.data;
    if (testnextkw(p, RN_KW_COMMENT)) p_string(p, "a comment string", NULL);
    if (p_iskw(p, RN_KW_PARTITIONED)) p_unsupported(p, "PARTITIONED BY");
    if (p_is_word(p, "DISTRIBUTED")) p_unsupported(p, "DISTRIBUTED BY");
    if (testnextkw(p, RN_KW_WITH))
        option_list(p, &s->create_table.noptions, &s->create_table.options);
    if (p_iskw(p, RN_KW_LIKE)) p_unsupported(p, "CREATE TABLE ... LIKE");
    if (p_iskw(p, RN_KW_AS)) p_unsupported(p, "CREATE TABLE ... AS SELECT");
}

/* create_view -> CREATE [TEMPORARY] VIEW [IF NOT EXISTS] qualified_name
 *                [ident_list] AS query */
static void create_view(parser_t *p, rn_ast_stmt_t *s)
{
    s->kind = RN_STMT_CREATE_VIEW;
    p_next(p); /* VIEW */
    if (p_iskw(p, RN_KW_IF)) {
        p_next(p);
        checknextkw(p, RN_KW_NOT, "NOT after IF");
        checknextkw(p, RN_KW_EXISTS, "EXISTS after IF NOT");
        s->create_view.if_not_exists = true;
    }
    s->create_view.name = p_qualified_name(p, "a view name", &s->create_view.name_pos);
    if (p_is(p, RN_TK_LPAREN))
        ident_list(p, "a column name", &s->create_view.ncols, &s->create_view.cols);
    checknextkw(p, RN_KW_AS, "AS before the view's query");
    s->create_view.query = query(p);
}

/* insert -> INSERT (INTO | OVERWRITE) qualified_name [ident_list] query */
static void insert(parser_t *p, rn_ast_stmt_t *s)
{
    s->kind = RN_STMT_INSERT;
    p_next(p); /* INSERT */
    if (p_iskw(p, RN_KW_OVERWRITE)) {
        p_next(p);
        s->insert.overwrite = true;
    } else {
        checknextkw(p, RN_KW_INTO, "INTO after INSERT");
    }
    s->insert.table = p_qualified_name(p, "a table name", &s->insert.table_pos);
    if (p_iskw(p, RN_KW_PARTITION)) p_unsupported(p, "INSERT ... PARTITION");
    if (p_is(p, RN_TK_LPAREN)) {
        rn_token_t next = p_peek(p);
        if (!tok_iskw(&next, RN_KW_SELECT) && !tok_iskw(&next, RN_KW_WITH) &&
            next.type != RN_TK_LPAREN)
            ident_list(p, "a column name", &s->insert.ncols, &s->insert.cols);
    }
    if (p_iskw(p, RN_KW_VALUES)) p_unsupported(p, "INSERT ... VALUES");
    s->insert.query = query(p);
}

/* Skips blanks (not newlines) from offset i; returns the new offset. */
static size_t skip_blanks(parser_t *p, size_t i)
{
    while (i < p->len && (p->src[i] == ' ' || p->src[i] == '\t')) i++;
    return i;
}

/* Moves the lexer to offset off on the current line and scans the next
 * token (the text skipped contained no newline). */
static void p_seek(parser_t *p, size_t off, rn_pos_t prev)
{
    /* The current token starts on the line being scanned: restart there. */
    p->lx.line = p->tok.pos.line;
    p->lx.line_off = (size_t)(p->tok.pos.offset - (p->tok.pos.col - 1));
    p->lx.off = off;
    p->tok.pos = prev;
    p_next(p);
}

/* Trims blanks off src[*b..*e). */
static void trim_span(parser_t *p, size_t *b, size_t *e)
{
    while (*b < *e && (p->src[*b] == ' ' || p->src[*b] == '\t' || p->src[*b] == '\r')) (*b)++;
    while (*e > *b && (p->src[*e - 1] == ' ' || p->src[*e - 1] == '\t' || p->src[*e - 1] == '\r'))
        (*e)--;
}

/* set -> SET string '=' string
 *      | SET raw_key '=' (string | raw_value)
 * raw_key and raw_value are the text up to '=' and up to ';' or the end
 * of the line, blanks trimmed (SET table.exec.mini-batch.enabled = true). */
static void set_stmt(parser_t *p, rn_ast_stmt_t *s)
{
    s->kind = RN_STMT_SET;
    p_next(p); /* SET */
    if (p_is(p, RN_TK_STRING)) {
        s->set.key = p_string(p, "a setting key", NULL);
        checknext(p, RN_TK_EQ, "'=' after the setting key");
        s->set.value = p_string(p, "a setting value in quotes", NULL);
        return;
    }
    if (p_is(p, RN_TK_EOF) || p_is(p, RN_TK_SEMI))
        p_unsupported(p, "SET without a key (listing the settings)");
    size_t b = (size_t)p->tok.pos.offset, e = b;
    while (e < p->len && p->src[e] != '=' && p->src[e] != ';' && p->src[e] != '\n') e++;
    if (e >= p->len || p->src[e] != '=') p_expected(p, "'key' = 'value' after SET");
    size_t eq = e;
    trim_span(p, &b, &e);
    s->set.key = p_strndup(p, p->src + b, e - b);
    rn_pos_t eqpos = p->tok.pos;
    eqpos.col += (int)(eq - (size_t)eqpos.offset);
    eqpos.offset = (int)eq;
    eqpos.len = 1;
    b = skip_blanks(p, eq + 1);
    if (b < p->len && p->src[b] == '\'') {
        p_seek(p, eq + 1, eqpos);
        s->set.value = p_string(p, "a setting value", NULL);
        return;
    }
    e = b;
    while (e < p->len && p->src[e] != ';' && p->src[e] != '\n') e++;
    size_t end = e;
    trim_span(p, &b, &e);
    if (b == e) p_error_at(p, eqpos, "expected a value after '=' in SET");
    s->set.value = p_strndup(p, p->src + b, e - b);
    rn_pos_t last = eqpos;
    last.col += (int)(e - eq - 1);
    last.offset = (int)e - 1;
    p_seek(p, end, last);
}

static void stmt(parser_t *p, vec_t *out);

/* statement_set -> EXECUTE STATEMENT SET BEGIN {[insert] ';'} END
 *                | BEGIN STATEMENT SET ';' {[insert] ';'} END
 * The current token is STATEMENT; each INSERT becomes its own statement. */
static void statement_set(parser_t *p, vec_t *out, bool execute)
{
    p_next(p); /* STATEMENT */
    checknextkw(p, RN_KW_SET, "SET after STATEMENT");
    if (execute)
        checknextkw(p, RN_KW_BEGIN, "BEGIN after EXECUTE STATEMENT SET");
    else
        checknext(p, RN_TK_SEMI, "';' after BEGIN STATEMENT SET");
    for (;;) {
        if (testnext(p, RN_TK_SEMI)) continue;
        if (testnextkw(p, RN_KW_END)) return;
        if (p_is(p, RN_TK_EOF)) p_expected(p, "END to close the statement set");
        if (!p_iskw(p, RN_KW_INSERT)) {
            char buf[64];
            p_error_at(p, p->tok.pos,
                       "only INSERT statements are allowed in a statement set, found %s",
                       p_tokdesc(p, &p->tok, buf, sizeof buf));
        }
        stmt(p, out);
        if (!p_is(p, RN_TK_SEMI) && !p_iskw(p, RN_KW_END))
            p_expected(p, "';' after the INSERT statement");
    }
}

/* Statement words we recognize only to say they are not supported. */
static const char *const unsupported_stmts[] = {
    "ALTER", "ANALYZE", "CALL",   "DELETE", "DESCRIBE", "DROP",  "EXPLAIN", "LOAD", "RESET",
    "SHOW",  "TRUNCATE", "UNLOAD", "UPDATE", "USE",     "ADD",   "REMOVE",  NULL,
};

/* stmt -> create_table | create_view | insert | query | set
 *       | statement_set | EXECUTE insert
 * Appends the statement(s) to out. */
static void stmt(parser_t *p, vec_t *out)
{
    rn_pos_t start = p->tok.pos;
    if (p_iskw(p, RN_KW_EXECUTE) || p_iskw(p, RN_KW_BEGIN)) {
        bool execute = p_iskw(p, RN_KW_EXECUTE);
        p_next(p);
        if (p_iskw(p, RN_KW_STATEMENT)) {
            statement_set(p, out, execute);
            return;
        }
        if (!execute || !p_iskw(p, RN_KW_INSERT))
            p_expected(p, execute ? "STATEMENT SET or INSERT after EXECUTE"
                                  : "STATEMENT SET after BEGIN");
        start = p->tok.pos;
    }
    rn_ast_stmt_t *s = p_alloc(p, sizeof *s);
    s->pos = start;
    p->ops = 0;
    if (p_iskw(p, RN_KW_CREATE)) {
        p_next(p);
        bool temporary = testnextkw(p, RN_KW_TEMPORARY);
        if (p_iskw(p, RN_KW_TABLE)) {
            create_table(p, s);
            s->create_table.temporary = temporary;
        } else if (p_iskw(p, RN_KW_VIEW)) {
            create_view(p, s);
            s->create_view.temporary = temporary;
        } else if (p->tok.type == RN_TK_IDENT) {
            p_error_at(p, p->tok.pos, "CREATE %.*s is not supported (only TABLE and VIEW)",
                       p->tok.pos.len, p->src + p->tok.pos.offset);
        } else {
            p_expected(p, "TABLE or VIEW after CREATE");
        }
    } else if (p_iskw(p, RN_KW_INSERT)) {
        insert(p, s);
    } else if (p_iskw(p, RN_KW_SET)) {
        set_stmt(p, s);
    } else if (p_iskw(p, RN_KW_SELECT) || p_iskw(p, RN_KW_WITH) || p_iskw(p, RN_KW_VALUES) ||
               p_is(p, RN_TK_LPAREN)) {
        s->kind = RN_STMT_SELECT;
        s->select = query(p);
    } else {
        for (int i = 0; unsupported_stmts[i]; i++)
            if (p_is_word(p, unsupported_stmts[i]))
                p_error_at(p, p->tok.pos, "%s statements are not supported",
                           unsupported_stmts[i]);
        if (p_iskw(p, RN_KW_DESC)) p_unsupported(p, "DESC");
        p_expected(p, "a statement (CREATE, INSERT, SELECT, SET, ...)");
    }
    *(rn_ast_stmt_t **)vec_push(p, out) = s;
}

/* script -> [stmt] {';' [stmt]} EOF */
static void script(parser_t *p, rn_ast_script_t *sc)
{
    vec_t stmts;
    vec_init(&stmts, sizeof(rn_ast_stmt_t *));
    p_next(p);
    while (!p_is(p, RN_TK_EOF)) {
        if (testnext(p, RN_TK_SEMI)) continue;
        stmt(p, &stmts);
        if (!p_is(p, RN_TK_SEMI) && !p_is(p, RN_TK_EOF))
            p_expected(p, "';' or end of input after the statement");
    }
    sc->nstmts = stmts.n;
    sc->stmts = stmts.data;
}

/* ---- entry points ------------------------------------------------------- */

typedef struct parse_job {
    rn_ast_script_t *script; /* rn_parse_script: the result */
    rn_ast_expr_t *expr;     /* rn_parse_expr: the result */
} parse_job_t;

/* Prepares p over src; nothing is allocated. */
static void p_init(parser_t *p, const char *src, size_t len, const char *filename,
                   rn_arena_t *arena, char *errbuf, size_t errbuf_size)
{
    memset(p, 0, sizeof *p);
    p->src = src ? src : "";
    p->len = src ? len : 0;
    p->filename = filename;
    p->arena = arena;
    p->errbuf = errbuf;
    p->errbuf_size = errbuf_size;
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    rn_lexer_init(&p->lx, p->src, p->len);
    p->tok.type = RN_TK_EOF;
    p->tok.pos.line = 1;
    p->tok.pos.col = 1;
}

/* Runs fn under the error handler; returns RN_OK or the error thrown. */
static rn_err_t p_protected(parser_t *p, void (*fn)(parser_t *, parse_job_t *), parse_job_t *job)
{
    if (setjmp(p->jb)) return p->err;
    fn(p, job);
    return RN_OK;
}

/* Refuses oversized input before any work. */
static bool p_too_long(parser_t *p)
{
    if (p->len <= RN_PARSE_MAX_INPUT) return false;
    rn_pos_t pos = {1, 1, 0, 1};
    rn_diag_format(p->errbuf, p->errbuf_size, p->filename, p->src, p->len, pos,
                   "input is too long (%zu bytes; the limit is %u)", p->len, RN_PARSE_MAX_INPUT);
    return true;
}

static void job_script(parser_t *p, parse_job_t *job)
{
    rn_ast_script_t *sc = p_alloc(p, sizeof *sc);
    sc->filename = p->filename ? p_strndup(p, p->filename, strlen(p->filename)) : NULL;
    sc->src = p->src;
    sc->srclen = p->len;
    script(p, sc);
    job->script = sc;
}

rn_err_t rn_parse_script(const char *src, size_t len, const char *filename, rn_arena_t *arena,
                         rn_ast_script_t **out, char *errbuf, size_t errbuf_size)
{
    parser_t p;
    parse_job_t job = {0};
    if (out) *out = NULL;
    p_init(&p, src, len, filename, arena, errbuf, errbuf_size);
    if (p_too_long(&p)) return RN_ERR_PARSE;
    rn_err_t err = p_protected(&p, job_script, &job);
    if (err == RN_OK && out) *out = job.script;
    return err;
}

static void job_expr(parser_t *p, parse_job_t *job)
{
    p_next(p);
    job->expr = expr(p);
    if (!p_is(p, RN_TK_EOF)) p_expected(p, "end of expression");
}

rn_err_t rn_parse_expr(const char *src, size_t len, rn_arena_t *arena, rn_ast_expr_t **out,
                       char *errbuf, size_t errbuf_size)
{
    parser_t p;
    parse_job_t job = {0};
    if (out) *out = NULL;
    p_init(&p, src, len, NULL, arena, errbuf, errbuf_size);
    if (p_too_long(&p)) return RN_ERR_PARSE;
    rn_err_t err = p_protected(&p, job_expr, &job);
    if (err == RN_OK && out) *out = job.expr;
    return err;
}
