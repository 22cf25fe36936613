/*
 * test_parser.c - unit tests for the SQL front end: lexer, parser and
 * diagnostics.
 *
 * Most checks print the parsed tree as an S-expression (dump_* below) and
 * compare it with the expected text, which keeps precedence and shape
 * tests short; the Flink example is also checked field by field. Error
 * tests assert on the exact formatted diagnostic for a few cases and on
 * line:col plus a message fragment for the rest. The fault-injection test
 * fails every allocation in turn and expects a clean RN_ERR_NOMEM.
 */
#include <stdarg.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/mem.h"
#include "lang/diag.h"
#include "lang/lexer.h"
#include "lang/parser.h"
#include "rn_test.h"

/* ---- tree printer -------------------------------------------------------- */

static void dump_expr(rn_buf_t *b, const rn_ast_expr_t *e);
static void dump_query(rn_buf_t *b, const rn_ast_query_t *q);

static const char *op_name(rn_ast_op op)
{
    static const char *const names[] = {
        [RN_AST_OP_ADD] = "+",  [RN_AST_OP_SUB] = "-",    [RN_AST_OP_MUL] = "*",  [RN_AST_OP_DIV] = "/",
        [RN_AST_OP_MOD] = "%",  [RN_AST_OP_CONCAT] = "||", [RN_AST_OP_EQ] = "=",  [RN_AST_OP_NE] = "<>",
        [RN_AST_OP_LT] = "<",   [RN_AST_OP_LE] = "<=",    [RN_AST_OP_GT] = ">",  [RN_AST_OP_GE] = ">=",
        [RN_AST_OP_AND] = "AND", [RN_AST_OP_OR] = "OR",   [RN_AST_OP_NOT] = "NOT", [RN_AST_OP_NEG] = "-",
        [RN_AST_OP_PLUS] = "+",
    };
    return names[op];
}

static void dump_type(rn_buf_t *b, const rn_ast_type_t *t)
{
    static const char *const names[] = {
        [RN_TYPE_NULL] = "NULL",           [RN_TYPE_BOOLEAN] = "BOOLEAN",
        [RN_TYPE_INT] = "INT",             [RN_TYPE_BIGINT] = "BIGINT",
        [RN_TYPE_DOUBLE] = "DOUBLE",       [RN_TYPE_STRING] = "STRING",
        [RN_TYPE_TIMESTAMP] = "TIMESTAMP", [RN_TYPE_TIMESTAMP_LTZ] = "TIMESTAMP_LTZ",
        [RN_TYPE_ROW] = "ROW",
    };
    rn_buf_appends(b, names[t->id]);
    if (t->precision >= 0 && t->scale >= 0)
        rn_buf_appendf(b, "(%d,%d)", t->precision, t->scale);
    else if (t->precision >= 0)
        rn_buf_appendf(b, "(%d)", t->precision);
    if (t->id == RN_TYPE_ROW) {
        rn_buf_appends(b, "<");
        for (int i = 0; i < t->nfields; i++) {
            rn_buf_appendf(b, "%s%s ", i ? ", " : "", t->field_names[i]);
            dump_type(b, t->field_types[i]);
        }
        rn_buf_appends(b, ">");
    }
    if (t->not_null) rn_buf_appends(b, " NOT NULL");
}

static void dump_list(rn_buf_t *b, int n, rn_ast_expr_t **items)
{
    for (int i = 0; i < n; i++) {
        rn_buf_appends(b, " ");
        dump_expr(b, items[i]);
    }
}

static void dump_expr(rn_buf_t *b, const rn_ast_expr_t *e)
{
    static const char *const is_names[] = {"NULL", "TRUE", "FALSE", "UNKNOWN"};
    static const char *const units[] = {"MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY"};
    switch (e->kind) {
    case RN_AST_LITERAL:
        switch (e->lit.kind) {
        case RN_LIT_NULL: rn_buf_appends(b, "NULL"); break;
        case RN_LIT_BOOL: rn_buf_appends(b, e->lit.b ? "TRUE" : "FALSE"); break;
        case RN_LIT_INT: rn_buf_append_i64(b, e->lit.i); break;
        case RN_LIT_DOUBLE: rn_buf_appendf(b, "%gd", e->lit.d); break;
        case RN_LIT_STRING:
            rn_buf_appends(b, "'");
            rn_buf_append(b, e->lit.s, e->lit.len);
            rn_buf_appends(b, "'");
            break;
        }
        break;
    case RN_AST_COLUMN:
        for (int i = 0; i < e->column.nparts; i++)
            rn_buf_appendf(b, "%s%s", i ? "." : "", e->column.parts[i]);
        break;
    case RN_AST_STAR:
        if (e->star.qualifier) rn_buf_appendf(b, "%s.", e->star.qualifier);
        rn_buf_appends(b, "*");
        break;
    case RN_AST_UNARY:
        rn_buf_appendf(b, "(%s ", op_name(e->unary.op));
        dump_expr(b, e->unary.arg);
        rn_buf_appends(b, ")");
        break;
    case RN_AST_BINARY:
        rn_buf_appendf(b, "(%s ", op_name(e->binary.op));
        dump_expr(b, e->binary.lhs);
        rn_buf_appends(b, " ");
        dump_expr(b, e->binary.rhs);
        rn_buf_appends(b, ")");
        break;
    case RN_AST_BETWEEN:
        rn_buf_appendf(b, "(%sBETWEEN%s ", e->between.negated ? "NOT " : "",
                       e->between.symmetric ? " SYMMETRIC" : "");
        dump_expr(b, e->between.arg);
        rn_buf_appends(b, " ");
        dump_expr(b, e->between.low);
        rn_buf_appends(b, " ");
        dump_expr(b, e->between.high);
        rn_buf_appends(b, ")");
        break;
    case RN_AST_IN:
        rn_buf_appendf(b, "(%sIN ", e->in.negated ? "NOT " : "");
        dump_expr(b, e->in.arg);
        dump_list(b, e->in.nitems, e->in.items);
        rn_buf_appends(b, ")");
        break;
    case RN_AST_LIKE:
        rn_buf_appendf(b, "(%sLIKE ", e->like.negated ? "NOT " : "");
        dump_expr(b, e->like.arg);
        rn_buf_appends(b, " ");
        dump_expr(b, e->like.pattern);
        if (e->like.escape) {
            rn_buf_appends(b, " ESCAPE ");
            dump_expr(b, e->like.escape);
        }
        rn_buf_appends(b, ")");
        break;
    case RN_AST_IS:
        rn_buf_appendf(b, "(IS%s ", e->is.negated ? " NOT" : "");
        dump_expr(b, e->is.arg);
        rn_buf_appendf(b, " %s)", is_names[e->is.what]);
        break;
    case RN_AST_CASE:
        rn_buf_appends(b, "(CASE");
        if (e->case_.operand) {
            rn_buf_appends(b, " ");
            dump_expr(b, e->case_.operand);
        }
        for (int i = 0; i < e->case_.nwhens; i++) {
            rn_buf_appends(b, " (WHEN ");
            dump_expr(b, e->case_.whens[i]);
            rn_buf_appends(b, " ");
            dump_expr(b, e->case_.thens[i]);
            rn_buf_appends(b, ")");
        }
        if (e->case_.else_) {
            rn_buf_appends(b, " (ELSE ");
            dump_expr(b, e->case_.else_);
            rn_buf_appends(b, ")");
        }
        rn_buf_appends(b, ")");
        break;
    case RN_AST_CAST:
        rn_buf_appends(b, e->cast.try_cast ? "(TRY_CAST " : "(CAST ");
        dump_expr(b, e->cast.arg);
        rn_buf_appends(b, " ");
        dump_type(b, e->cast.type);
        rn_buf_appends(b, ")");
        break;
    case RN_AST_CALL:
        rn_buf_appendf(b, "(%s%s%s", e->call.name, e->call.distinct ? " DISTINCT" : "",
                       e->call.star ? " *" : "");
        dump_list(b, e->call.nargs, e->call.args);
        if (e->call.over) {
            const rn_ast_over_t *o = e->call.over;
            rn_buf_appends(b, " (OVER");
            if (o->npartition) {
                rn_buf_appends(b, " (PARTITION BY");
                dump_list(b, o->npartition, o->partition_by);
                rn_buf_appends(b, ")");
            }
            rn_buf_appends(b, " (ORDER BY");
            for (int i = 0; i < o->norder; i++) {
                rn_buf_appends(b, " ");
                dump_expr(b, o->order_by[i].expr);
                if (o->order_by[i].desc) rn_buf_appends(b, " DESC");
            }
            rn_buf_appends(b, "))");
        }
        rn_buf_appends(b, ")");
        break;
    case RN_AST_INTERVAL:
        rn_buf_appendf(b, "(INTERVAL %s %s %lld)", e->interval.text, units[e->interval.unit],
                       (long long)e->interval.ms);
        break;
    case RN_AST_TABLE_ARG:
        rn_buf_appendf(b, "(TABLE %s", e->table_arg.table);
        if (e->table_arg.npartition) {
            rn_buf_appends(b, " (PARTITION BY");
            dump_list(b, e->table_arg.npartition, e->table_arg.partition_by);
            rn_buf_appends(b, ")");
        }
        rn_buf_appends(b, ")");
        break;
    }
}

static void dump_from(rn_buf_t *b, const rn_ast_from_t *f)
{
    static const char *const joins[] = {"INNER", "LEFT", "RIGHT", "FULL", "CROSS"};
    switch (f->kind) {
    case RN_AST_FROM_TABLE:
        rn_buf_appends(b, f->table.name);
        if (f->table.system_time) {
            rn_buf_appends(b, " (AS OF ");
            dump_expr(b, f->table.system_time);
            rn_buf_appends(b, ")");
        }
        break;
    case RN_AST_FROM_SUBQUERY: dump_query(b, f->subquery); break;
    case RN_AST_FROM_TVF:
        rn_buf_appends(b, "(TVF ");
        dump_expr(b, f->tvf);
        rn_buf_appends(b, ")");
        break;
    case RN_AST_FROM_JOIN:
        rn_buf_appendf(b, "(%s ", joins[f->join.type]);
        dump_from(b, f->join.left);
        rn_buf_appends(b, " ");
        dump_from(b, f->join.right);
        if (f->join.on) {
            rn_buf_appends(b, " ON ");
            dump_expr(b, f->join.on);
        }
        rn_buf_appends(b, ")");
        break;
    }
    if (f->alias) rn_buf_appendf(b, " AS %s", f->alias);
}

static void dump_query(rn_buf_t *b, const rn_ast_query_t *q)
{
    rn_buf_appends(b, "(");
    if (q->nctes) {
        rn_buf_appends(b, "WITH");
        for (int i = 0; i < q->nctes; i++) {
            rn_buf_appendf(b, " %s=", q->ctes[i].name);
            dump_query(b, q->ctes[i].query);
        }
        rn_buf_appends(b, " ");
    }
    if (q->kind == RN_QUERY_UNION) {
        rn_buf_appends(b, q->set_op.all ? "UNION ALL " : "UNION ");
        dump_query(b, q->set_op.left);
        rn_buf_appends(b, " ");
        dump_query(b, q->set_op.right);
    } else {
        rn_buf_appends(b, q->select.distinct ? "SELECT DISTINCT" : "SELECT");
        for (int i = 0; i < q->select.nitems; i++) {
            rn_buf_appends(b, i ? ", " : " ");
            dump_expr(b, q->select.items[i].expr);
            if (q->select.items[i].alias) rn_buf_appendf(b, " AS %s", q->select.items[i].alias);
        }
        if (q->select.from) {
            rn_buf_appends(b, " FROM ");
            dump_from(b, q->select.from);
        }
        if (q->select.where) {
            rn_buf_appends(b, " WHERE ");
            dump_expr(b, q->select.where);
        }
        if (q->select.ngroup) {
            rn_buf_appends(b, " GROUP BY");
            dump_list(b, q->select.ngroup, q->select.group_by);
        }
        if (q->select.having) {
            rn_buf_appends(b, " HAVING ");
            dump_expr(b, q->select.having);
        }
    }
    if (q->norder) {
        rn_buf_appends(b, " ORDER BY");
        for (int i = 0; i < q->norder; i++) {
            rn_buf_appends(b, " ");
            dump_expr(b, q->order_by[i].expr);
            if (q->order_by[i].desc) rn_buf_appends(b, " DESC");
        }
    }
    if (q->limit) {
        rn_buf_appends(b, " LIMIT ");
        dump_expr(b, q->limit);
    }
    rn_buf_appends(b, ")");
}

static void dump_stmt(rn_buf_t *b, const rn_ast_stmt_t *s)
{
    switch (s->kind) {
    case RN_STMT_CREATE_TABLE: {
        rn_buf_appendf(b, "CREATE%s TABLE%s %s (", s->create_table.temporary ? " TEMPORARY" : "",
                       s->create_table.if_not_exists ? " IF NOT EXISTS" : "",
                       s->create_table.name);
        for (int i = 0; i < s->create_table.ncolumns; i++) {
            const rn_ast_column_def_t *c = &s->create_table.columns[i];
            rn_buf_appendf(b, "%s%s", i ? ", " : "", c->name);
            if (c->computed) {
                rn_buf_appends(b, " AS ");
                dump_expr(b, c->computed);
            } else {
                rn_buf_appends(b, " ");
                dump_type(b, c->type);
            }
            if (c->is_metadata)
                rn_buf_appendf(b, " METADATA FROM %s%s", c->metadata_key ? c->metadata_key : "-",
                               c->is_virtual ? " VIRTUAL" : "");
            if (c->primary_key) rn_buf_appends(b, " PK");
        }
        if (s->create_table.watermark) {
            rn_buf_appendf(b, ", WATERMARK %s ", s->create_table.watermark->column);
            dump_expr(b, s->create_table.watermark->expr);
        }
        if (s->create_table.npk) {
            rn_buf_appends(b, ", PRIMARY KEY");
            for (int i = 0; i < s->create_table.npk; i++)
                rn_buf_appendf(b, " %s", s->create_table.pk[i]);
        }
        rn_buf_appends(b, ")");
        for (int i = 0; i < s->create_table.noptions; i++)
            rn_buf_appendf(b, " %s=%s", s->create_table.options[i].key,
                           s->create_table.options[i].value);
        break;
    }
    case RN_STMT_CREATE_VIEW:
        rn_buf_appendf(b, "CREATE%s VIEW%s %s", s->create_view.temporary ? " TEMPORARY" : "",
                       s->create_view.if_not_exists ? " IF NOT EXISTS" : "", s->create_view.name);
        for (int i = 0; i < s->create_view.ncols; i++)
            rn_buf_appendf(b, "%s%s", i ? "," : " (", s->create_view.cols[i]);
        if (s->create_view.ncols) rn_buf_appends(b, ")");
        rn_buf_appends(b, " ");
        dump_query(b, s->create_view.query);
        break;
    case RN_STMT_INSERT:
        rn_buf_appendf(b, "INSERT %s %s", s->insert.overwrite ? "OVERWRITE" : "INTO",
                       s->insert.table);
        for (int i = 0; i < s->insert.ncols; i++)
            rn_buf_appendf(b, "%s%s", i ? "," : " (", s->insert.cols[i]);
        if (s->insert.ncols) rn_buf_appends(b, ")");
        rn_buf_appends(b, " ");
        dump_query(b, s->insert.query);
        break;
    case RN_STMT_SELECT: dump_query(b, s->select); break;
    case RN_STMT_SET: rn_buf_appendf(b, "SET [%s] = [%s]", s->set.key, s->set.value); break;
    }
}

static char dump_out[16384];

static const char *dump_script(const rn_ast_script_t *sc)
{
    rn_buf_t b;
    rn_buf_init(&b);
    for (int i = 0; i < sc->nstmts; i++) {
        if (i) rn_buf_appends(&b, "\n");
        dump_stmt(&b, sc->stmts[i]);
    }
    snprintf(dump_out, sizeof dump_out, "%s", b.data ? b.data : "");
    rn_buf_free(&b);
    return dump_out;
}

/* ---- helpers ---------------------------------------------------------- */

static char errbuf[2048];

/* Parses sql into a (static) dump of its statements, or the error text. */
static const char *parse_dump(const char *sql)
{
    rn_arena_t a;
    rn_arena_init(&a, 0);
    rn_ast_script_t *sc = NULL;
    rn_err_t err = rn_parse_script(sql, strlen(sql), "t.sql", &a, &sc, errbuf, sizeof errbuf);
    if (err != RN_OK) {
        snprintf(dump_out, sizeof dump_out, "ERROR %s", errbuf);
    } else {
        dump_script(sc);
    }
    rn_arena_free(&a);
    return dump_out;
}

/* Parses one expression and returns its dump or "ERROR <message>". */
static const char *expr_dump(const char *sql)
{
    rn_arena_t a;
    rn_arena_init(&a, 0);
    rn_ast_expr_t *e = NULL;
    rn_err_t err = rn_parse_expr(sql, strlen(sql), &a, &e, errbuf, sizeof errbuf);
    if (err != RN_OK) {
        snprintf(dump_out, sizeof dump_out, "ERROR %s", errbuf);
    } else {
        rn_buf_t b;
        rn_buf_init(&b);
        dump_expr(&b, e);
        snprintf(dump_out, sizeof dump_out, "%s", b.data);
        rn_buf_free(&b);
    }
    rn_arena_free(&a);
    return dump_out;
}

#define CHECK_EXPR(sql, want) RN_CHECK_EQ_STR(expr_dump(sql), want)
#define CHECK_SQL(sql, want) RN_CHECK_EQ_STR(parse_dump(sql), want)

/* Checks that sql fails to parse with a message containing each of the
 * given fragments (NULL-terminated). */
static int check_error_(const char *sql, ...)
{
    const char *got = parse_dump(sql);
    int ok = strncmp(got, "ERROR ", 6) == 0;
    va_list ap;
    va_start(ap, sql);
    for (const char *frag; ok && (frag = va_arg(ap, const char *));)
        if (!strstr(got, frag)) ok = 0;
    va_end(ap);
    if (!ok) fprintf(stderr, "  for: %s\n  got: %s\n", sql, got);
    return ok;
}
#define CHECK_ERROR(sql, ...) RN_CHECK(check_error_(sql, __VA_ARGS__, (const char *)NULL))

/* ---- lexer -------------------------------------------------------------- */

static void test_keyword_table_sorted(void)
{
    for (int kw = 1; kw < RN_KW__COUNT; kw++) {
        const char *name = rn_lexer_kw_name((rn_kw)kw);
        RN_CHECK_EQ_INT(rn_lexer_keyword(name, strlen(name)), kw);
        char lower[64];
        size_t n = strlen(name);
        for (size_t i = 0; i <= n; i++)
            lower[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
        RN_CHECK_EQ_INT(rn_lexer_keyword(lower, n), kw);
        if (kw > 1) RN_CHECK(strcmp(rn_lexer_kw_name((rn_kw)(kw - 1)), name) < 0);
    }
    RN_CHECK_EQ_INT(rn_lexer_keyword("user_id", 7), RN_KW_NONE);
    RN_CHECK_EQ_INT(rn_lexer_keyword("SELECTX", 7), RN_KW_NONE);
    RN_CHECK_EQ_INT(rn_lexer_keyword("SeLeCt", 6), RN_KW_SELECT);
    RN_CHECK(rn_lexer_kw_reserved(RN_KW_SELECT));
    RN_CHECK(!rn_lexer_kw_reserved(RN_KW_TIMESTAMP));
    RN_CHECK(!rn_lexer_kw_reserved(RN_KW_NONE));
}

static void test_lexer_tokens(void)
{
    const char *sql = "SELECT `a``b`, \"q\" -- comment\n"
                      "  /* multi\nline */ 'it''s' 12 1.5 .5 1e3 1.5E-3\n"
                      "+ - * / % || = <> != < <= > >= ( ) , . ; x1_";
    static const rn_tok_type want[] = {
        RN_TK_IDENT, RN_TK_QIDENT, RN_TK_COMMA, RN_TK_QIDENT, RN_TK_STRING, RN_TK_INTEGER,
        RN_TK_FLOAT, RN_TK_FLOAT, RN_TK_FLOAT, RN_TK_FLOAT, RN_TK_PLUS, RN_TK_MINUS,
        RN_TK_STAR, RN_TK_SLASH, RN_TK_PERCENT, RN_TK_CONCAT, RN_TK_EQ, RN_TK_NE, RN_TK_NE,
        RN_TK_LT, RN_TK_LE, RN_TK_GT, RN_TK_GE, RN_TK_LPAREN, RN_TK_RPAREN, RN_TK_COMMA,
        RN_TK_DOT, RN_TK_SEMI, RN_TK_IDENT, RN_TK_EOF,
    };
    rn_lexer_t lx;
    rn_lexer_init(&lx, sql, strlen(sql));
    rn_token_t t;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        rn_lexer_next(&lx, &t);
        RN_CHECK_EQ_INT(t.type, want[i]);
        if (i == 0) {
            RN_CHECK_EQ_INT(t.kw, RN_KW_SELECT);
            RN_CHECK_EQ_INT(t.pos.line, 1);
            RN_CHECK_EQ_INT(t.pos.col, 1);
            RN_CHECK_EQ_INT(t.pos.len, 6);
        }
        if (i == 1) RN_CHECK_EQ_INT(t.pos.len, 6); /* `a``b` */
        if (i == 4) {                               /* 'it''s' on line 3 */
            RN_CHECK_EQ_INT(t.pos.line, 3);
            RN_CHECK_EQ_INT(t.pos.col, 9);
            RN_CHECK_EQ_INT(t.pos.len, 7);
        }
        if (i == 10) { /* + at the start of line 4 */
            RN_CHECK_EQ_INT(t.pos.line, 4);
            RN_CHECK_EQ_INT(t.pos.col, 1);
        }
        if (i == 28) RN_CHECK_EQ_INT(t.kw, RN_KW_NONE);
    }
    RN_CHECK_EQ_INT(rn_lexer_next(&lx, &t), RN_TK_EOF); /* EOF repeats */
}

/* Lexes sql until an error or EOF; returns the error token. */
static rn_token_t lex_error(const char *sql)
{
    rn_lexer_t lx;
    rn_token_t t;
    rn_lexer_init(&lx, sql, strlen(sql));
    while (rn_lexer_next(&lx, &t) != RN_TK_EOF && t.type != RN_TK_ERROR) {
    }
    return t;
}

static void test_lexer_errors(void)
{
    rn_token_t t = lex_error("SELECT 'abc");
    RN_CHECK_EQ_INT(t.type, RN_TK_ERROR);
    RN_CHECK_EQ_STR(t.err, "unterminated string literal");
    RN_CHECK_EQ_INT(t.pos.col, 8);
    t = lex_error("a\n /* never closed");
    RN_CHECK_EQ_STR(t.err, "unterminated comment");
    RN_CHECK_EQ_INT(t.pos.line, 2);
    RN_CHECK_EQ_INT(t.pos.col, 2);
    t = lex_error("x `abc");
    RN_CHECK_EQ_STR(t.err, "unterminated quoted identifier");
    t = lex_error("x \"abc");
    RN_CHECK_EQ_STR(t.err, "unterminated quoted identifier");
    t = lex_error("a @ b");
    RN_CHECK_EQ_STR(t.err, "unexpected character");
    RN_CHECK_EQ_INT(t.pos.col, 3);
    t = lex_error("1e+");
    RN_CHECK_EQ_STR(t.err, "malformed number");
    t = lex_error("12abc");
    RN_CHECK_EQ_STR(t.err, "malformed number");
    t = lex_error("a | b");
    RN_CHECK_EQ_STR(t.err, "unexpected character");
    t = lex_error("``");
    RN_CHECK_EQ_STR(t.err, "empty quoted identifier");
    /* A string may span lines; the next token's line is right. */
    rn_lexer_t lx;
    rn_lexer_init(&lx, "'a\nb' x", 7);
    rn_lexer_next(&lx, &t);
    RN_CHECK_EQ_INT(t.type, RN_TK_STRING);
    rn_lexer_next(&lx, &t);
    RN_CHECK_EQ_INT(t.pos.line, 2);
    RN_CHECK_EQ_INT(t.pos.col, 4);
}

/* ---- the Flink example ------------------------------------------------------ */

static const char *flink_example =
    "CREATE TABLE user_events (\n"
    "  event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE\n"
    ") WITH ('connector' = 'kafka', 'topic' = 'user-events', 'format' = 'json');\n"
    "CREATE TABLE page_views (\n"
    "  page_id INT, views BIGINT, users BIGINT, PRIMARY KEY (page_id) NOT ENFORCED\n"
    ") WITH ('connector' = 'upsert-kafka', 'topic' = 'page-views', 'key.format' = 'json', "
    "'value.format' = 'json');\n"
    "INSERT INTO page_views\n"
    "SELECT page_id, COUNT(*) AS views, COUNT(DISTINCT user_id) AS users\n"
    "FROM user_events WHERE event_type = 'page-view' GROUP BY page_id;\n";

static void test_flink_example(void)
{
    rn_arena_t a;
    rn_arena_init(&a, 0);
    rn_ast_script_t *sc = NULL;
    rn_err_t err = rn_parse_script(flink_example, strlen(flink_example), "ex.sql", &a, &sc, errbuf,
                                   sizeof errbuf);
    if (err) fprintf(stderr, "%s\n", errbuf);
    RN_REQUIRE(err == RN_OK && sc != NULL);
    RN_CHECK_EQ_STR(sc->filename, "ex.sql");
    RN_CHECK(sc->src == flink_example);
    RN_REQUIRE(sc->nstmts == 3);

    rn_ast_stmt_t *s = sc->stmts[0];
    RN_REQUIRE(s->kind == RN_STMT_CREATE_TABLE);
    RN_CHECK_EQ_STR(s->create_table.name, "user_events");
    RN_CHECK_EQ_INT(s->create_table.name_pos.line, 1);
    RN_CHECK_EQ_INT(s->create_table.name_pos.col, 14);
    RN_CHECK_EQ_INT(s->create_table.name_pos.len, 11);
    RN_CHECK(!s->create_table.temporary && !s->create_table.if_not_exists);
    RN_REQUIRE(s->create_table.ncolumns == 4);
    const char *names[] = {"event_type", "user_id", "page_id", "timestamp"};
    rn_type_id types[] = {RN_TYPE_STRING, RN_TYPE_INT, RN_TYPE_INT, RN_TYPE_DOUBLE};
    for (int i = 0; i < 4; i++) {
        RN_CHECK_EQ_STR(s->create_table.columns[i].name, names[i]);
        RN_REQUIRE(s->create_table.columns[i].type != NULL);
        RN_CHECK_EQ_INT(s->create_table.columns[i].type->id, types[i]);
        RN_CHECK(!s->create_table.columns[i].type->not_null);
        RN_CHECK(s->create_table.columns[i].computed == NULL);
        RN_CHECK(!s->create_table.columns[i].primary_key);
    }
    RN_CHECK_EQ_INT(s->create_table.columns[3].pos.line, 2);
    RN_CHECK_EQ_INT(s->create_table.columns[3].pos.col, 48);
    RN_CHECK(s->create_table.watermark == NULL);
    RN_CHECK_EQ_INT(s->create_table.npk, 0);
    RN_REQUIRE(s->create_table.noptions == 3);
    RN_CHECK_EQ_STR(s->create_table.options[0].key, "connector");
    RN_CHECK_EQ_STR(s->create_table.options[0].value, "kafka");
    RN_CHECK_EQ_STR(s->create_table.options[1].key, "topic");
    RN_CHECK_EQ_STR(s->create_table.options[1].value, "user-events");
    RN_CHECK_EQ_STR(s->create_table.options[2].value, "json");
    RN_CHECK_EQ_INT(s->create_table.options[1].value_pos.line, 3);
    RN_CHECK_EQ_INT(s->create_table.options[1].value_pos.col, 42);

    s = sc->stmts[1];
    RN_REQUIRE(s->kind == RN_STMT_CREATE_TABLE);
    RN_CHECK_EQ_STR(s->create_table.name, "page_views");
    RN_CHECK_EQ_INT(s->create_table.ncolumns, 3);
    RN_CHECK_EQ_INT(s->create_table.columns[1].type->id, RN_TYPE_BIGINT);
    RN_REQUIRE(s->create_table.npk == 1);
    RN_CHECK_EQ_STR(s->create_table.pk[0], "page_id");
    RN_CHECK_EQ_INT(s->create_table.pk_pos.line, 5);
    RN_CHECK_EQ_INT(s->create_table.noptions, 4);
    RN_CHECK_EQ_STR(s->create_table.options[3].key, "value.format");

    s = sc->stmts[2];
    RN_REQUIRE(s->kind == RN_STMT_INSERT);
    RN_CHECK_EQ_STR(s->insert.table, "page_views");
    RN_CHECK(!s->insert.overwrite);
    RN_CHECK_EQ_INT(s->insert.ncols, 0);
    RN_CHECK_EQ_INT(s->pos.line, 7);
    rn_ast_query_t *q = s->insert.query;
    RN_REQUIRE(q && q->kind == RN_QUERY_SELECT);
    RN_CHECK(!q->select.distinct);
    RN_REQUIRE(q->select.nitems == 3);
    rn_ast_select_item_t *it = q->select.items;
    RN_CHECK(it[0].expr->kind == RN_AST_COLUMN && it[0].alias == NULL);
    RN_CHECK_EQ_STR(it[0].expr->column.parts[0], "page_id");
    RN_REQUIRE(it[1].expr->kind == RN_AST_CALL);
    RN_CHECK_EQ_STR(it[1].expr->call.name, "COUNT");
    RN_CHECK(it[1].expr->call.star && it[1].expr->call.nargs == 0);
    RN_CHECK_EQ_STR(it[1].alias, "views");
    RN_REQUIRE(it[2].expr->kind == RN_AST_CALL);
    RN_CHECK(it[2].expr->call.distinct && it[2].expr->call.nargs == 1);
    RN_CHECK_EQ_STR(it[2].expr->call.args[0]->column.parts[0], "user_id");
    RN_CHECK_EQ_STR(it[2].alias, "users");
    RN_CHECK_EQ_INT(it[2].expr->pos.line, 8);
    RN_CHECK_EQ_INT(it[2].expr->pos.col, 36);
    RN_CHECK_EQ_INT(it[2].expr->pos.len, (int)strlen("COUNT(DISTINCT user_id)"));
    RN_REQUIRE(q->select.from && q->select.from->kind == RN_AST_FROM_TABLE);
    RN_CHECK_EQ_STR(q->select.from->table.name, "user_events");
    RN_CHECK(q->select.from->alias == NULL);
    rn_ast_expr_t *w = q->select.where;
    RN_REQUIRE(w && w->kind == RN_AST_BINARY && w->binary.op == RN_AST_OP_EQ);
    RN_CHECK(w->binary.rhs->kind == RN_AST_LITERAL && w->binary.rhs->lit.kind == RN_LIT_STRING);
    RN_CHECK_EQ_STR(w->binary.rhs->lit.s, "page-view");
    RN_CHECK_EQ_INT(w->binary.rhs->lit.len, 9);
    RN_REQUIRE(q->select.ngroup == 1);
    RN_CHECK_EQ_STR(q->select.group_by[0]->column.parts[0], "page_id");
    RN_CHECK(q->select.having == NULL && q->norder == 0 && q->limit == NULL);
    rn_arena_free(&a);
}

/* ---- expressions ---------------------------------------------------------- */

static void test_precedence(void)
{
    CHECK_EXPR("a + b * c", "(+ a (* b c))");
    CHECK_EXPR("(a + b) * c", "(* (+ a b) c)");
    CHECK_EXPR("a - b - c", "(- (- a b) c)");
    CHECK_EXPR("a / b % c * d", "(* (% (/ a b) c) d)");
    CHECK_EXPR("NOT a = b", "(NOT (= a b))");
    CHECK_EXPR("a OR b AND c", "(OR a (AND b c))");
    CHECK_EXPR("a AND b OR c AND d", "(OR (AND a b) (AND c d))");
    CHECK_EXPR("NOT a AND b", "(AND (NOT a) b)");
    CHECK_EXPR("NOT NOT a", "(NOT (NOT a))");
    CHECK_EXPR("-a * b", "(* (- a) b)");
    CHECK_EXPR("- - a", "(- (- a))");
    CHECK_EXPR("+a", "(+ a)");
    CHECK_EXPR("a || b + c", "(+ (|| a b) c)");
    CHECK_EXPR("a < b + 1 AND c >= 2", "(AND (< a (+ b 1)) (>= c 2))");
    CHECK_EXPR("a <> b OR a != c", "(OR (<> a b) (<> a c))");
    CHECK_EXPR("a <= b", "(<= a b)");
    CHECK_EXPR("t.a.b = `x y`", "(= t.a.b x y)");
    CHECK_EXPR("\"Col\" = t.`end`", "(= Col t.end)");
    CHECK_EXPR("e.end + t.from", "(+ e.end t.from)");
}

static void test_predicates(void)
{
    CHECK_EXPR("a BETWEEN 1 AND 2 AND b", "(AND (BETWEEN a 1 2) b)");
    CHECK_EXPR("a NOT BETWEEN SYMMETRIC b + 1 AND c", "(NOT BETWEEN SYMMETRIC a (+ b 1) c)");
    CHECK_EXPR("a BETWEEN ASYMMETRIC 1 AND 2", "(BETWEEN a 1 2)");
    CHECK_EXPR("a IN (1, 2, 'x')", "(IN a 1 2 'x')");
    CHECK_EXPR("a NOT IN (b)", "(NOT IN a b)");
    CHECK_EXPR("name LIKE 'a%' ESCAPE '!'", "(LIKE name 'a%' ESCAPE '!')");
    CHECK_EXPR("name NOT LIKE '_b' OR x", "(OR (NOT LIKE name '_b') x)");
    CHECK_EXPR("a IS NULL", "(IS a NULL)");
    CHECK_EXPR("a IS NOT NULL AND b IS TRUE", "(AND (IS NOT a NULL) (IS b TRUE))");
    CHECK_EXPR("a = 1 IS FALSE", "(IS (= a 1) FALSE)");
    CHECK_EXPR("a IS NOT UNKNOWN", "(IS NOT a UNKNOWN)");
    CHECK_EXPR("NOT a IN (1)", "(NOT (IN a 1))");
}

static void test_literals(void)
{
    CHECK_EXPR("9223372036854775807", "9223372036854775807");
    CHECK_EXPR("-9223372036854775808", "-9223372036854775808");
    CHECK_EXPR("-5", "(- 5)");
    CHECK_EXPR("1.5", "1.5d");
    CHECK_EXPR(".5", "0.5d");
    CHECK_EXPR("1e3", "1000d");
    CHECK_EXPR("1.5E-3", "0.0015d");
    CHECK_EXPR("'it''s'", "'it's'");
    CHECK_EXPR("''", "''");
    CHECK_EXPR("TRUE OR false", "(OR TRUE FALSE)");
    CHECK_EXPR("NULL", "NULL");
    CHECK_EXPR("TIMESTAMP '2024-01-01 00:00:00'", "(CAST '2024-01-01 00:00:00' TIMESTAMP)");
    RN_CHECK(strstr(expr_dump("9223372036854775808"), "integer literal 9223372036854775808 is "
                                                      "too large"));
    RN_CHECK(strstr(expr_dump("1e999"), "out of range"));
    RN_CHECK(strstr(expr_dump("99999999999999999999999"), "too large"));
    /* Multi-byte characters survive in strings and identifiers. */
    CHECK_EXPR("'Сделайте покупку!' || имя", "(|| 'Сделайте покупку!' имя)");
}

static void test_case_cast_calls(void)
{
    CHECK_EXPR("CASE WHEN a > 1 THEN 'x' WHEN a > 0 THEN 'y' ELSE 'z' END",
               "(CASE (WHEN (> a 1) 'x') (WHEN (> a 0) 'y') (ELSE 'z'))");
    CHECK_EXPR("CASE a WHEN 1 THEN 2 END", "(CASE a (WHEN 1 2))");
    CHECK_EXPR("CAST(a AS BIGINT)", "(CAST a BIGINT)");
    CHECK_EXPR("TRY_CAST(a AS VARCHAR(10) NOT NULL)", "(TRY_CAST a STRING(10) NOT NULL)");
    CHECK_EXPR("CAST(ts AS TIMESTAMP(3))", "(CAST ts TIMESTAMP(3))");
    CHECK_EXPR("SUBSTRING(s FROM 2 FOR 3)", "(SUBSTRING s 2 3)");
    CHECK_EXPR("SUBSTRING(s FROM 2)", "(SUBSTRING s 2)");
    CHECK_EXPR("substring(s, 1, 2)", "(SUBSTRING s 1 2)");
    CHECK_EXPR("POSITION('x' IN s)", "(POSITION 'x' s)");
    CHECK_EXPR("TRIM(s)", "(TRIM s)");
    CHECK_EXPR("TRIM(LEADING FROM s)", "(LTRIM s)");
    CHECK_EXPR("TRIM(BOTH FROM s)", "(TRIM s)");
    CHECK_EXPR("EXTRACT(hour FROM ts)", "(EXTRACT 'HOUR' ts)");
    CHECK_EXPR("FLOOR(ts TO minute)", "(FLOOR ts 'MINUTE')");
    CHECK_EXPR("INTERVAL '5' SECOND", "(INTERVAL 5 SECOND 5000)");
    CHECK_EXPR("INTERVAL '10' MINUTES", "(INTERVAL 10 MINUTE 600000)");
    CHECK_EXPR("INTERVAL '1' HOUR", "(INTERVAL 1 HOUR 3600000)");
    CHECK_EXPR("INTERVAL '2' DAY", "(INTERVAL 2 DAY 172800000)");
    CHECK_EXPR("INTERVAL '250' MILLISECOND", "(INTERVAL 250 MILLISECOND 250)");
    CHECK_EXPR("INTERVAL '-3' SECOND", "(INTERVAL 3 SECOND -3000)");
    CHECK_EXPR("CURRENT_TIMESTAMP", "(CURRENT_TIMESTAMP)");
    CHECK_EXPR("LOCALTIMESTAMP > PROCTIME()", "(> (LOCALTIMESTAMP) (PROCTIME))");
    CHECK_EXPR("COUNT(*)", "(COUNT *)");
    CHECK_EXPR("count(DISTINCT a, b)", "(count DISTINCT a b)");
    CHECK_EXPR("IF(a > 1, LEFT(s, 2), RIGHT(s, 1))", "(IF (> a 1) (LEFT s 2) (RIGHT s 1))");
    CHECK_EXPR("date_format(ts, 'yyyy')", "(date_format ts 'yyyy')");
    CHECK_EXPR("timestamp + 1", "(+ timestamp 1)");
    RN_CHECK(strstr(expr_dump("INTERVAL '1' MONTH"), "interval unit 'MONTH' is not supported"));
    RN_CHECK(strstr(expr_dump("INTERVAL 'x' SECOND"), "invalid interval value"));
    RN_CHECK(strstr(expr_dump("TRIM('x' FROM s)"), "TRIM with explicit characters"));
    RN_CHECK(strstr(expr_dump("CAST(a AS ARRAY<INT>)"), "type ARRAY is not supported yet"));
    RN_CHECK(strstr(expr_dump("CASE a END"), "expected WHEN in CASE, found 'END'"));
    RN_CHECK(strstr(expr_dump("a b"), "expected end of expression, found 'b'"));
    RN_CHECK(strstr(expr_dump("SUM(x) OVER (PARTITION BY y)"), "OVER (window aggregation) is not supported"));
    CHECK_EXPR("ROW_NUMBER() OVER (PARTITION BY a, b + 1 ORDER BY ts DESC, ABS(x - y) ASC, c)",
               "(ROW_NUMBER (OVER (PARTITION BY a (+ b 1)) (ORDER BY ts DESC (ABS (- x y)) c)))");
    CHECK_EXPR("row_number() OVER (ORDER BY pt)", "(row_number (OVER (ORDER BY pt)))");
    RN_CHECK(strstr(expr_dump("RANK() OVER (ORDER BY a)"), "RANK() OVER (use ROW_NUMBER()) is not supported"));
    RN_CHECK(strstr(expr_dump("DENSE_RANK() OVER (ORDER BY a)"), "DENSE_RANK() OVER (use ROW_NUMBER())"));
    RN_CHECK(strstr(expr_dump("ROW_NUMBER(a) OVER (ORDER BY a)"), "OVER (window aggregation) is not supported"));
    RN_CHECK(strstr(expr_dump("ROW_NUMBER() OVER (PARTITION BY a)"),
                    "expected ORDER BY in the OVER clause of ROW_NUMBER(), found ')'"));
    RN_CHECK(strstr(expr_dump("ROW_NUMBER() OVER (ORDER BY a ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"),
                    "a window frame in OVER is not supported"));
    RN_CHECK(strstr(expr_dump("ROW_NUMBER() OVER w"), "expected '(' after OVER"));
    RN_CHECK(strstr(expr_dump("a IN (SELECT 1)"), "IN (subquery) is not supported"));
    RN_CHECK(strstr(expr_dump("(SELECT 1)"), "subquery in an expression is not supported"));
    RN_CHECK(strstr(expr_dump("t.*"), "only allowed in a SELECT list"));
}

/* ---- statements -------------------------------------------------------- */

static void test_create_table_features(void)
{
    CHECK_SQL("CREATE TEMPORARY TABLE IF NOT EXISTS cat.db.t (\n"
              "  id BIGINT NOT NULL PRIMARY KEY NOT ENFORCED,\n"
              "  ts TIMESTAMP(3),\n"
              "  ltz TIMESTAMP_LTZ(3),\n"
              "  ltz2 TIMESTAMP(6) WITH LOCAL TIME ZONE,\n"
              "  plain TIMESTAMP WITHOUT TIME ZONE NULL,\n"
              "  pt AS PROCTIME(),\n"
              "  off BIGINT METADATA FROM 'offset' VIRTUAL,\n"
              "  part INT METADATA,\n"
              "  u ROW<name STRING, addr ROW(city VARCHAR(20), zip CHAR(5))> COMMENT 'nested',\n"
              "  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND\n"
              ") COMMENT 'table' WITH ('connector' = 'datagen')",
              "CREATE TEMPORARY TABLE IF NOT EXISTS t (id BIGINT NOT NULL PK, ts TIMESTAMP(3), "
              "ltz TIMESTAMP_LTZ(3), ltz2 TIMESTAMP_LTZ(6), plain TIMESTAMP, pt AS (PROCTIME), "
              "off BIGINT METADATA FROM offset VIRTUAL, part INT METADATA FROM -, "
              "u ROW<name STRING, addr ROW<city STRING(20), zip STRING(5)>>, "
              "WATERMARK ts (- ts (INTERVAL 5 SECOND 5000)), PRIMARY KEY id) connector=datagen");
    CHECK_SQL("CREATE TABLE t (a BOOLEAN, b TINYINT, c SMALLINT, d INTEGER, e FLOAT, f REAL, "
              "g DOUBLE PRECISION, h DECIMAL(10, 2), i NUMERIC, j STRING NOT NULL, k VARCHAR, "
              "CONSTRAINT pk PRIMARY KEY (a, b) NOT ENFORCED)",
              "CREATE TABLE t (a BOOLEAN, b INT, c INT, d INT, e DOUBLE, f DOUBLE, g DOUBLE, "
              "h DOUBLE(10,2), i DOUBLE, j STRING NOT NULL, k STRING, PRIMARY KEY a b)");
    /* `timestamp`, key, comment... are fine as plain column names. */
    CHECK_SQL("create table t (timestamp DOUBLE, key STRING, comment STRING, watermark INT)",
              "CREATE TABLE t (timestamp DOUBLE, key STRING, comment STRING, watermark INT)");
    CHECK_ERROR("CREATE TABLE t (a BYTES)", "t.sql:1:19: error: type BYTES is not supported yet");
    CHECK_ERROR("CREATE TABLE t (a DATE)", "type DATE is not supported yet");
    CHECK_ERROR("CREATE TABLE t (a MAP<STRING, INT>)", "type MAP is not supported yet");
    CHECK_ERROR("CREATE TABLE t (a TIME)", "type TIME is not supported yet");
    CHECK_ERROR("CREATE TABLE t (a VARBINARY)", "type VARBINARY is not supported yet");
    CHECK_ERROR("CREATE TABLE t (a INT) PARTITIONED BY (a) WITH ()",
                "PARTITIONED BY is not supported");
    CHECK_ERROR("CREATE TABLE t (a INT, PRIMARY KEY (a))", "PRIMARY KEY must be declared NOT "
                                                           "ENFORCED");
    CHECK_ERROR("CREATE TABLE t (a INT PRIMARY KEY NOT ENFORCED, PRIMARY KEY (a) NOT ENFORCED)",
                "only one PRIMARY KEY");
    CHECK_ERROR("CREATE TABLE t (a INT, WATERMARK FOR a AS a, WATERMARK FOR a AS a)",
                "only one WATERMARK");
    CHECK_ERROR("CREATE TABLE t (a FOO)", "expected a type, found 'FOO'");
    CHECK_ERROR("CREATE TABLE t (a TIMESTAMP(12))", "TIMESTAMP precision must be between 0 and 9");
    CHECK_ERROR("CREATE TABLE t (a INT) WITH (connector = 'x')", "expected an option key in "
                                                                 "quotes, found 'connector'");
    CHECK_ERROR("CREATE TABLE t (a INT) WITH ('a' = 'b',)", "expected an option key");
    CHECK_ERROR("CREATE FUNCTION f AS 'x'", "CREATE FUNCTION is not supported");
    CHECK_ERROR("CREATE TABLE t (a INT) WITH ('x' = 'y') AS SELECT 1", "AS SELECT is not "
                                                                        "supported");
}

static void test_queries(void)
{
    CHECK_SQL("SELECT * FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' MINUTES))",
              "(SELECT * FROM (TVF (TUMBLE (TABLE events) (DESCRIPTOR ts) "
              "(INTERVAL 10 MINUTE 600000))))");
    CHECK_SQL("SELECT window_start, user_id, COUNT(*) FROM TABLE(\n"
              "  SESSION(TABLE events PARTITION BY (user_id, page), DESCRIPTOR(ts), "
              "INTERVAL '20' SECONDS)) w\n"
              "GROUP BY window_start, window_end, user_id",
              "(SELECT window_start, user_id, (COUNT *) FROM (TVF (SESSION (TABLE events "
              "(PARTITION BY user_id page)) (DESCRIPTOR ts) (INTERVAL 20 SECOND 20000))) AS w "
              "GROUP BY window_start window_end user_id)");
    CHECK_SQL("SELECT * FROM TABLE(SESSION(TABLE e PARTITION BY k, DESCRIPTOR(ts), INTERVAL '1' "
              "MINUTE))",
              "(SELECT * FROM (TVF (SESSION (TABLE e (PARTITION BY k)) (DESCRIPTOR ts) "
              "(INTERVAL 1 MINUTE 60000))))");
    CHECK_SQL("SELECT e.*, u.name AS n FROM events AS e LEFT OUTER JOIN users u ON e.uid = u.id "
              "JOIN p ON TRUE, q CROSS JOIN r",
              "(SELECT e.*, u.name AS n FROM (CROSS (CROSS (INNER (LEFT events AS e users AS u "
              "ON (= e.uid u.id)) p ON TRUE) q) r))");
    CHECK_SQL("SELECT * FROM a RIGHT JOIN b ON x FULL JOIN c ON y INNER JOIN d ON z",
              "(SELECT * FROM (INNER (FULL (RIGHT a b ON x) c ON y) d ON z))");
    CHECK_SQL("SELECT o.id, r.rate FROM orders AS o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r "
              "ON o.cur = r.cur",
              "(SELECT o.id, r.rate FROM (INNER orders AS o rates (AS OF o.ts) AS r ON "
              "(= o.cur r.cur)))");
    CHECK_SQL("WITH a AS (SELECT x FROM t), b AS (SELECT x FROM a) SELECT x FROM b",
              "(WITH a=(SELECT x FROM t) b=(SELECT x FROM a) SELECT x FROM b)");
    CHECK_SQL("SELECT a FROM t UNION ALL SELECT a FROM u UNION SELECT a FROM v",
              "(UNION (UNION ALL (SELECT a FROM t) (SELECT a FROM u)) (SELECT a FROM v))");
    CHECK_SQL("SELECT DISTINCT a, b c, 1 AS `one` FROM t WHERE a > 0 GROUP BY a, b "
              "HAVING COUNT(*) > 1 ORDER BY a DESC, b ASC LIMIT 10",
              "(SELECT DISTINCT a, b AS c, 1 AS one FROM t WHERE (> a 0) GROUP BY a b HAVING "
              "(> (COUNT *) 1) ORDER BY a DESC b LIMIT 10)");
    CHECK_SQL("SELECT s.a FROM (SELECT a FROM t) AS s", "(SELECT s.a FROM (SELECT a FROM t) AS s)");
    CHECK_SQL("(SELECT a FROM t LIMIT 1) LIMIT 2",
              "(SELECT * FROM (SELECT a FROM t LIMIT 1) LIMIT 2)");
    CHECK_SQL("SELECT timestamp, `timestamp` AS ts FROM t",
              "(SELECT timestamp, timestamp AS ts FROM t)");
    CHECK_SQL("SELECT 1", "(SELECT 1)");
    CHECK_SQL("SELECT a FROM t /*+ OPTIONS('x'='y') */ WHERE a", "(SELECT a FROM t WHERE a)");
    CHECK_ERROR("SELECT a FROM t MATCH_RECOGNIZE (x)", "MATCH_RECOGNIZE is not supported");
    CHECK_ERROR("SELECT a FROM t EXCEPT SELECT a FROM u", "EXCEPT is not supported");
    CHECK_ERROR("SELECT a FROM t JOIN u", "expected ON after the joined table, found end of input");
    CHECK_ERROR("SELECT a FROM t JOIN u USING (a)", "JOIN ... USING is not supported");
    CHECK_ERROR("SELECT * FROM TABLE(foo)", "expected a table function call");
    CHECK_ERROR("SELECT a FROM LATERAL TABLE(f(a))", "LATERAL is not supported");
    CHECK_ERROR("SELECT a FROM t GROUP a", "expected BY after GROUP, found 'a'");
    CHECK_ERROR("SELECT a, FROM t", "t.sql:1:11: error: expected an expression, found 'FROM'");
}

static void test_statements(void)
{
    CHECK_SQL(";;CREATE VIEW IF NOT EXISTS v (a, b) AS SELECT x, y FROM t;;",
              "CREATE VIEW IF NOT EXISTS v (a,b) (SELECT x, y FROM t)");
    CHECK_SQL("CREATE TEMPORARY VIEW v AS WITH c AS (SELECT 1) SELECT * FROM c",
              "CREATE TEMPORARY VIEW v (WITH c=(SELECT 1) SELECT * FROM c)");
    CHECK_SQL("INSERT INTO db.sink (a, b) SELECT a, b FROM src",
              "INSERT INTO sink (a,b) (SELECT a, b FROM src)");
    CHECK_SQL("INSERT INTO sink (SELECT a FROM src)", "INSERT INTO sink (SELECT a FROM src)");
    CHECK_SQL("INSERT OVERWRITE sink SELECT a FROM src", "INSERT OVERWRITE sink (SELECT a FROM src)");
    CHECK_SQL("SET 'pipeline.name' = 'it''s'; SET table.exec.mini-batch.enabled = true;\n"
              "SET x.y = 10 s\n;SELECT 1",
              "SET [pipeline.name] = [it's]\nSET [table.exec.mini-batch.enabled] = [true]\n"
              "SET [x.y] = [10 s]\n(SELECT 1)");
    CHECK_SQL("SET a.b = 'quoted'", "SET [a.b] = [quoted]");
    CHECK_SQL("EXECUTE STATEMENT SET BEGIN\n"
              "  INSERT INTO a SELECT * FROM t;\n"
              "  INSERT INTO b SELECT * FROM t;\n"
              "END;\n"
              "BEGIN STATEMENT SET;\n"
              "INSERT INTO c SELECT * FROM t;;\n"
              "END",
              "INSERT INTO a (SELECT * FROM t)\nINSERT INTO b (SELECT * FROM t)\n"
              "INSERT INTO c (SELECT * FROM t)");
    CHECK_SQL("EXECUTE INSERT INTO a SELECT 1", "INSERT INTO a (SELECT 1)");
    CHECK_SQL("", "");
    CHECK_SQL("  -- only a comment\n ; ;", "");
    CHECK_ERROR("EXECUTE STATEMENT SET BEGIN SELECT 1; END",
                "only INSERT statements are allowed in a statement set, found 'SELECT'");
    CHECK_ERROR("EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1;",
                "expected END to close the statement set, found end of input");
    CHECK_ERROR("SELECT 1 SELECT 2", "expected ';' or end of input after the statement, found "
                                     "'SELECT'");
    CHECK_ERROR("DROP TABLE t", "t.sql:1:1: error: DROP statements are not supported");
    CHECK_ERROR("INSERT INTO t VALUES (1)", "INSERT ... VALUES is not supported");
    CHECK_ERROR("SET", "SET without a key");
    CHECK_ERROR("SET a.b", "expected 'key' = 'value' after SET");
    CHECK_ERROR("SET 'a' = b", "expected a setting value in quotes, found 'b'");
    CHECK_ERROR("FOO", "expected a statement (CREATE, INSERT, SELECT, SET, ...), found 'FOO'");
}

/* ---- diagnostics ------------------------------------------------------- */

static void test_error_messages_exact(void)
{
    RN_CHECK_EQ_STR(parse_dump("SELECT COUNT(a FROM t"),
                    "ERROR t.sql:1:16: error: expected ')' after function arguments, "
                    "found 'FROM'\n"
                    "    1 | SELECT COUNT(a FROM t\n"
                    "      |                ^~~~");
    RN_CHECK_EQ_STR(parse_dump("CREATE TABLE t (\n  a INT,\n  b ARRAY<INT>\n)"),
                    "ERROR t.sql:3:5: error: type ARRAY is not supported yet\n"
                    "    3 |   b ARRAY<INT>\n"
                    "      |     ^~~~~");
    RN_CHECK_EQ_STR(parse_dump("SELECT a\nFROM t\nWHERE x = 'abc"),
                    "ERROR t.sql:3:11: error: unterminated string literal\n"
                    "    3 | WHERE x = 'abc\n"
                    "      |           ^");
    /* At the end of input the caret points just past the last token. */
    RN_CHECK_EQ_STR(parse_dump("SELECT a FROM t WHERE\n"),
                    "ERROR t.sql:1:22: error: expected an expression, found end of input\n"
                    "    1 | SELECT a FROM t WHERE\n"
                    "      |                      ^");
    RN_CHECK_EQ_STR(parse_dump("SELECT a\tFROM t WHERE a @ 1"),
                    "ERROR t.sql:1:25: error: unexpected character '@'\n"
                    "    1 | SELECT a\tFROM t WHERE a @ 1\n"
                    "      | " "        " "\t" "               " "^");
    RN_CHECK_EQ_STR(parse_dump("SELECT 12345678901234567890123"),
                    "ERROR t.sql:1:8: error: integer literal 12345678901234567890123 is too "
                    "large (the limit is 9223372036854775807)\n"
                    "    1 | SELECT 12345678901234567890123\n"
                    "      |        ^~~~~~~~~~~~~~~~~~~~~~~");
}

static void test_diag_format(void)
{
    char buf[256];
    const char *src = "ab\r\nx = 'é' + bad\nlast";
    rn_pos_t pos = {2, 12, 15, 20}; /* "bad", len clipped to the line */
    rn_diag_format(buf, sizeof buf, "f.sql", src, strlen(src), pos, "unknown column '%s'", "bad");
    RN_CHECK_EQ_STR(buf, "f.sql:2:12: error: unknown column 'bad'\n"
                         "    2 | x = 'é' + bad\n"
                         "      | " "          " "^~~"); /* é takes one column */
    /* CRLF: the \r is not printed. */
    rn_pos_t p1 = {1, 1, 0, 2};
    rn_diag_format(buf, sizeof buf, NULL, src, strlen(src), p1, "x");
    RN_CHECK_EQ_STR(buf, "<input>:1:1: error: x\n    1 | ab\n      | ^~");
    /* Truncation keeps the buffer NUL-terminated. */
    char small[16];
    rn_diag_format(small, sizeof small, "file.sql", src, strlen(src), p1, "long message");
    RN_CHECK_EQ_STR(small, "file.sql:1:1: e");
    /* No source: just the first line. */
    rn_diag_format(buf, sizeof buf, "f", NULL, 0, p1, "m%d", 1);
    RN_CHECK_EQ_STR(buf, "f:1:1: error: m1");
    /* A very long line is shown as a window around the caret. */
    char longsrc[1000];
    memset(longsrc, 'x', sizeof longsrc);
    memcpy(longsrc + 500, " bad ", 5);
    rn_pos_t mid = {1, 502, 501, 3};
    char big[1024];
    rn_diag_format(big, sizeof big, "f", longsrc, sizeof longsrc, mid, "m");
    const char *line2 = strchr(big, '\n');
    RN_REQUIRE(line2 != NULL);
    RN_CHECK(strncmp(line2, "\n    1 | ...xxx", 15) == 0);
    RN_CHECK(strstr(big, "x bad x") != NULL);
    RN_CHECK(strstr(big, "xxx...\n      |    ") != NULL);
    const char *caret = strrchr(big, '\n') + 1;
    RN_CHECK_EQ_INT(strlen(caret), 8 + 3 + 60 + 3); /* prefix, "...", 60 columns, "^~~" */
    RN_CHECK(strlen(big) < 400);
    /* Offsets past the end are clamped. */
    rn_pos_t far = {3, 9, 999, 3};
    rn_diag_format(buf, sizeof buf, "f", src, strlen(src), far, "eof");
    RN_CHECK_EQ_STR(buf, "f:3:9: error: eof\n    3 | last\n      |     ^");
}

/* ---- limits and robustness ----------------------------------------------- */

static void test_depth_limit(void)
{
    size_t n = 100000;
    char *sql = rn_malloc(2 * n + 16);
    RN_REQUIRE(2 * n > 6000 * 16);
    RN_REQUIRE(sql != NULL);
    /* Deeply nested parentheses fail cleanly. */
    memcpy(sql, "SELECT ", 7);
    memset(sql + 7, '(', n);
    sql[7 + n] = '\0';
    RN_CHECK(strstr(parse_dump(sql), "nested too deeply (more than 200 levels)") != NULL);
    /* So do long chains of NOT, unary minus, nested subqueries and ROW types. */
    for (size_t i = 0; i < n / 4; i++) memcpy(sql + 7 + 4 * i, "NOT ", 4);
    RN_CHECK(strstr(parse_dump(sql), "nested too deeply") != NULL);
    for (size_t i = 0; i < n / 2; i++) memcpy(sql + 7 + 2 * i, "- ", 2);
    RN_CHECK(strstr(parse_dump(sql), "nested too deeply") != NULL);
    size_t off = 0;
    for (int i = 0; i < 5000; i++) off += (size_t)sprintf(sql + off, "SELECT * FROM (");
    RN_CHECK(strstr(parse_dump(sql), "nested too deeply") != NULL);
    off = (size_t)sprintf(sql, "CREATE TABLE t (a ");
    for (int i = 0; i < 5000; i++) off += (size_t)sprintf(sql + off, "ROW<a ");
    RN_CHECK(strstr(parse_dump(sql), "nested too deeply") != NULL);
    /* Moderate nesting is fine. */
    off = (size_t)sprintf(sql, "SELECT ");
    for (int i = 0; i < 150; i++) sql[off++] = '(';
    sql[off++] = '1';
    for (int i = 0; i < 150; i++) sql[off++] = ')';
    sql[off] = '\0';
    RN_CHECK_EQ_STR(parse_dump(sql), "(SELECT 1)");
    /* Long chains are not nesting, but they build deep trees: allowed up
     * to a bound per statement, so later passes can recurse safely. */
    off = (size_t)sprintf(sql, "SELECT 1");
    for (int i = 0; i < 4000; i++) off += (size_t)sprintf(sql + off, " + 1");
    RN_CHECK(strncmp(parse_dump(sql), "(SELECT (+ (+", 13) == 0);
    off += (size_t)sprintf(sql + off, "; SELECT 1");
    for (int i = 0; i < 4000; i++) off += (size_t)sprintf(sql + off, " OR 1");
    RN_CHECK(strncmp(parse_dump(sql), "(SELECT (+ (+", 13) == 0); /* the count is per statement */
    for (int i = 0; i < 4000; i++) off += (size_t)sprintf(sql + off, " IS NULL");
    RN_CHECK(strstr(parse_dump(sql), "statement is too complex (more than 5000") != NULL);
    off = (size_t)sprintf(sql, "SELECT * FROM t");
    for (int i = 0; i < 6000; i++) off += (size_t)sprintf(sql + off, ", t");
    RN_CHECK(strstr(parse_dump(sql), "statement is too complex") != NULL);
    off = (size_t)sprintf(sql, "SELECT 1");
    for (int i = 0; i < 6000; i++) off += (size_t)sprintf(sql + off, " UNION SELECT 1");
    RN_CHECK(strstr(parse_dump(sql), "statement is too complex") != NULL);
    rn_free(sql);
}

static void test_input_limit(void)
{
    size_t n = RN_PARSE_MAX_INPUT + 1;
    char *sql = rn_malloc(n);
    RN_REQUIRE(sql != NULL);
    memset(sql, ' ', n);
    rn_arena_t a;
    rn_arena_init(&a, 0);
    rn_ast_script_t *sc = (rn_ast_script_t *)&a; /* must be reset to NULL */
    rn_err_t err = rn_parse_script(sql, n, "big.sql", &a, &sc, errbuf, sizeof errbuf);
    RN_CHECK_EQ_INT(err, RN_ERR_PARSE);
    RN_CHECK(sc == NULL);
    RN_CHECK(strstr(errbuf, "big.sql:1:1: error: input is too long") != NULL);
    rn_ast_expr_t *e;
    RN_CHECK_EQ_INT(rn_parse_expr(sql, n, &a, &e, errbuf, sizeof errbuf), RN_ERR_PARSE);
    rn_arena_free(&a);
    rn_free(sql);
    /* NUL bytes and non-terminated input are handled by length. */
    const char with_nul[] = {'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', '\0', '2'};
    rn_arena_init(&a, 0);
    err = rn_parse_script(with_nul, sizeof with_nul, "n.sql", &a, &sc, errbuf, sizeof errbuf);
    RN_CHECK_EQ_INT(err, RN_ERR_PARSE);
    RN_CHECK(strstr(errbuf, "unexpected byte 0x00") != NULL);
    err = rn_parse_script(with_nul, 8, "n.sql", &a, &sc, errbuf, sizeof errbuf);
    RN_CHECK_EQ_INT(err, RN_OK);
    rn_arena_free(&a);
}

static void test_fault_injection(void)
{
    /* A script touching most rules, parsed with a tiny arena chunk so
     * that many allocations happen. */
    char sql[4096];
    snprintf(sql, sizeof sql,
             "%s\nCREATE VIEW v AS WITH c AS (SELECT a, CASE WHEN a IN (1,2) THEN 'x' END AS k "
             "FROM t) SELECT * FROM TABLE(TUMBLE(TABLE c PARTITION BY k, DESCRIPTOR(ts), "
             "INTERVAL '1' MINUTE)) w LEFT JOIN u ON w.a = u.a UNION ALL SELECT CAST(x AS "
             "ROW<a INT>) FROM z;\nSET a.b = c;\n",
             flink_example);
    rn_arena_t a;
    rn_arena_init(&a, 64);
    rn_ast_script_t *sc;
    RN_REQUIRE(rn_parse_script(sql, strlen(sql), "f.sql", &a, &sc, errbuf, sizeof errbuf) ==
               RN_OK);
    char want[16384];
    snprintf(want, sizeof want, "%s", dump_script(sc));
    rn_arena_free(&a);

    size_t base = rn_mem_used();
    int failures = 0;
    rn_err_t err = RN_ERR_NOMEM;
    for (long n = 0; n < 100000 && err != RN_OK; n++) {
        rn_arena_init(&a, 64);
        errbuf[0] = 'z';
        rn_mem_fail_after(n);
        err = rn_parse_script(sql, strlen(sql), "f.sql", &a, &sc, errbuf, sizeof errbuf);
        rn_mem_fail_after(-1);
        if (err != RN_OK) {
            failures++;
            if (err != RN_ERR_NOMEM || sc != NULL ||
                strcmp(errbuf, "f.sql: error: out of memory while parsing") != 0) {
                RN_CHECK_EQ_INT(err, RN_ERR_NOMEM);
                RN_CHECK_EQ_STR(errbuf, "f.sql: error: out of memory while parsing");
                rn_arena_free(&a);
                break;
            }
        } else {
            RN_CHECK_EQ_STR(dump_script(sc), want);
        }
        rn_arena_free(&a);
        RN_CHECK_EQ_INT(rn_mem_used(), base);
    }
    RN_CHECK_EQ_INT(err, RN_OK);
    RN_CHECK(failures > 20); /* the small chunks really were exercised */

    /* The same for a single expression. */
    err = RN_ERR_NOMEM;
    for (long n = 0; n < 1000 && err != RN_OK; n++) {
        rn_ast_expr_t *e;
        rn_arena_init(&a, 64);
        rn_mem_fail_after(n);
        err = rn_parse_expr("f(a, b) + CASE WHEN x THEN 1 END", 32, &a, &e, errbuf, sizeof errbuf);
        rn_mem_fail_after(-1);
        RN_CHECK(err == RN_OK || err == RN_ERR_NOMEM);
        rn_arena_free(&a);
    }
    RN_CHECK_EQ_INT(err, RN_OK);
}

int main(void)
{
    RN_RUN(test_keyword_table_sorted);
    RN_RUN(test_lexer_tokens);
    RN_RUN(test_lexer_errors);
    RN_RUN(test_flink_example);
    RN_RUN(test_precedence);
    RN_RUN(test_predicates);
    RN_RUN(test_literals);
    RN_RUN(test_case_cast_calls);
    RN_RUN(test_create_table_features);
    RN_RUN(test_queries);
    RN_RUN(test_statements);
    RN_RUN(test_error_messages_exact);
    RN_RUN(test_diag_format);
    RN_RUN(test_depth_limit);
    RN_RUN(test_input_limit);
    RN_RUN(test_fault_injection);
    return rn_test_summary();
}
