/*
 * explain.c - renders a bound expression as SQL-like text for `runnel
 * explain` ("(views + 1)", "CAST(x AS BIGINT)"): operators infix with
 * parentheses, identifiers backtick-quoted when needed, INTERVAL
 * constants in their largest whole unit, constants as literals.
 */
#include "expr/expr.h"

#include <stdbool.h>
#include <string.h>

#include "core/buf.h"
#include "core/timeparse.h"

/* ------------------------------------------------------------------ */
/* literals, identifiers, operators                                     */

static void explain_str(rn_buf_t *b, const char *s, size_t len)
{
    rn_buf_appendc(b, '\'');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\'') rn_buf_appendc(b, '\'');
        rn_buf_appendc(b, s[i]);
    }
    rn_buf_appendc(b, '\'');
}

static bool is_reserved(const char *s, size_t len)
{
    static const char *const kw[] = {
        "and", "as", "between", "by", "case", "cast", "date", "else", "end", "false", "from",
        "group", "in", "interval", "is", "like", "not", "null", "or", "order", "select", "table",
        "then", "time", "timestamp", "true", "user", "value", "values", "when", "where", "window",
    };
    char low[16];
    if (len >= sizeof low) return false;
    for (size_t i = 0; i < len; i++) low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    low[len] = '\0';
    for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++)
        if (!strcmp(low, kw[k])) return true;
    return false;
}

/* Appends one identifier part, backtick-quoted unless plain. */
static void explain_ident(rn_buf_t *b, const char *s, size_t len)
{
    bool plain = len > 0 && !(s[0] >= '0' && s[0] <= '9') && !is_reserved(s, len);
    for (size_t i = 0; i < len && plain; i++) {
        char c = s[i];
        plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }
    if (plain) {
        rn_buf_append(b, s, len);
        return;
    }
    rn_buf_appendc(b, '`');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '`') rn_buf_appendc(b, '`');
        rn_buf_appendc(b, s[i]);
    }
    rn_buf_appendc(b, '`');
}

/* Column names of ROW leaves are "a.b": each part is rendered on its own. */
static void explain_column(rn_buf_t *b, const rn_schema_t *sch, int col)
{
    if (!sch || col < 0 || col >= sch->ncols || !sch->cols[col].name) {
        rn_buf_appendf(b, "$%d", col);
        return;
    }
    const char *s = sch->cols[col].name;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        explain_ident(b, s, len);
        if (!dot) break;
        rn_buf_appendc(b, '.');
        s = dot + 1;
    }
}

static void explain_const(rn_buf_t *b, rn_type_id t, const rn_value_t *v)
{
    char tmp[48];
    if (v->null || t == RN_TYPE_NULL) {
        rn_buf_appends(b, "NULL");
        return;
    }
    switch (t) {
    case RN_TYPE_BOOLEAN: rn_buf_appends(b, v->i ? "TRUE" : "FALSE"); break;
    case RN_TYPE_DOUBLE:
        rn_expr_format_double(v->d, tmp, sizeof tmp);
        rn_buf_appends(b, tmp);
        break;
    case RN_TYPE_STRING: explain_str(b, v->s, v->len); break;
    case RN_TYPE_TIMESTAMP:
    case RN_TYPE_TIMESTAMP_LTZ: {
        int len = rn_time_format(v->i, tmp, sizeof tmp);
        rn_buf_appends(b, t == RN_TYPE_TIMESTAMP ? "TIMESTAMP " : "TIMESTAMP_LTZ ");
        explain_str(b, tmp, (size_t)len);
        break;
    }
    default: rn_buf_append_i64(b, v->i); break;
    }
}

/* Operands of postfix/prefix predicates get parentheses when they are
 * themselves such predicates, so the rendering stays unambiguous. */
static void explain_operand(const rn_expr_t *e, const rn_schema_t *sch, rn_buf_t *b)
{
    bool wrap = false;
    if (e->kind == RN_EXPR_FUNC) {
        switch (e->fn) {
        case RN_FN_NOT:
        case RN_FN_IS_NULL:
        case RN_FN_IS_NOT_NULL:
        case RN_FN_IS_TRUE:
        case RN_FN_IS_NOT_TRUE:
        case RN_FN_IS_FALSE:
        case RN_FN_IS_NOT_FALSE:
        case RN_FN_BETWEEN:
        case RN_FN_NOT_BETWEEN:
        case RN_FN_IN:
        case RN_FN_NOT_IN:
        case RN_FN_LIKE:
        case RN_FN_NOT_LIKE: wrap = true; break;
        default: break;
        }
    }
    if (wrap) rn_buf_appendc(b, '(');
    rn_expr_explain(e, sch, b);
    if (wrap) rn_buf_appendc(b, ')');
}

/* Appends the function's explain name and "(": the start of a call or
 * of a syntax form such as SUBSTRING(s FROM i). */
static void explain_open(const rn_expr_t *e, rn_buf_t *b)
{
    rn_buf_appends(b, rn_func_name(e->fn));
    rn_buf_appendc(b, '(');
}

static void explain_call(const rn_expr_t *e, const rn_schema_t *sch, rn_buf_t *b, int from)
{
    explain_open(e, b);
    for (int k = from; k < e->nargs; k++) {
        if (k > from) rn_buf_appends(b, ", ");
        rn_expr_explain(e->args[k], sch, b);
    }
    rn_buf_appendc(b, ')');
}

/* Renders the milliseconds of ts +/- INTERVAL as the INTERVAL literal in
 * the largest unit that divides them: 300000 is INTERVAL '5' MINUTE. */
static void explain_interval(const rn_expr_t *e, const rn_schema_t *sch, rn_buf_t *b)
{
    static const struct { int64_t ms; const char *name; } units[] = {
        {86400000, "DAY"}, {3600000, "HOUR"}, {60000, "MINUTE"}, {1000, "SECOND"}, {1, "MILLISECOND"},
    };
    if (e->kind != RN_EXPR_CONST || e->value.null) { /* not from SQL text: show the milliseconds */
        rn_buf_appends(b, "INTERVAL ");
        rn_expr_explain(e, sch, b);
        rn_buf_appends(b, " MILLISECOND");
        return;
    }
    int64_t ms = e->value.i;
    size_t k = ms == 0 ? 3 : 0;
    while (ms % units[k].ms != 0) k++;
    rn_buf_appendf(b, "INTERVAL '%lld' %s", (long long)(ms / units[k].ms), units[k].name);
}

void rn_expr_explain(const rn_expr_t *e, const rn_schema_t *input, rn_buf_t *out)
{
    if (e->kind == RN_EXPR_CONST) {
        explain_const(out, e->type->id, &e->value);
        return;
    }
    if (e->kind == RN_EXPR_COLUMN) {
        explain_column(out, input, e->col);
        return;
    }
    rn_expr_t *const *x = e->args;
    switch (e->fn) {
    case RN_FN_ADD:
    case RN_FN_SUB:
    case RN_FN_MUL:
    case RN_FN_DIV:
    case RN_FN_MOD:
    case RN_FN_EQ:
    case RN_FN_NE:
    case RN_FN_LT:
    case RN_FN_LE:
    case RN_FN_GT:
    case RN_FN_GE:
    case RN_FN_AND:
    case RN_FN_OR:
        rn_buf_appendc(out, '(');
        explain_operand(x[0], input, out);
        rn_buf_appendf(out, " %s ", rn_func_name(e->fn));
        explain_operand(x[1], input, out);
        rn_buf_appendc(out, ')');
        break;
    case RN_FN_NEG:
        rn_buf_appends(out, "(-");
        explain_operand(x[0], input, out);
        rn_buf_appendc(out, ')');
        break;
    case RN_FN_NOT:
        rn_buf_appends(out, "NOT ");
        explain_operand(x[0], input, out);
        break;
    case RN_FN_IS_NULL:
    case RN_FN_IS_NOT_NULL:
    case RN_FN_IS_TRUE:
    case RN_FN_IS_NOT_TRUE:
    case RN_FN_IS_FALSE:
    case RN_FN_IS_NOT_FALSE:
        explain_operand(x[0], input, out);
        rn_buf_appendc(out, ' ');
        rn_buf_appends(out, rn_func_name(e->fn));
        break;
    case RN_FN_BETWEEN:
    case RN_FN_NOT_BETWEEN:
        explain_operand(x[0], input, out);
        rn_buf_appendf(out, " %s ", rn_func_name(e->fn));
        explain_operand(x[1], input, out);
        rn_buf_appends(out, " AND ");
        explain_operand(x[2], input, out);
        break;
    case RN_FN_IN:
    case RN_FN_NOT_IN:
        explain_operand(x[0], input, out);
        rn_buf_appendf(out, " %s (", rn_func_name(e->fn));
        for (int k = 1; k < e->nargs; k++) {
            if (k > 1) rn_buf_appends(out, ", ");
            rn_expr_explain(x[k], input, out);
        }
        rn_buf_appendc(out, ')');
        break;
    case RN_FN_LIKE:
    case RN_FN_NOT_LIKE:
        explain_operand(x[0], input, out);
        rn_buf_appendf(out, " %s ", rn_func_name(e->fn));
        explain_operand(x[1], input, out);
        if (e->nargs > 2) {
            rn_buf_appends(out, " ESCAPE ");
            explain_operand(x[2], input, out);
        }
        break;
    case RN_FN_CASE:
        rn_buf_appends(out, "CASE");
        for (int k = 0; k + 1 < e->nargs; k += 2) {
            rn_buf_appends(out, " WHEN ");
            rn_expr_explain(x[k], input, out);
            rn_buf_appends(out, " THEN ");
            rn_expr_explain(x[k + 1], input, out);
        }
        if (e->nargs % 2) {
            rn_buf_appends(out, " ELSE ");
            rn_expr_explain(x[e->nargs - 1], input, out);
        }
        rn_buf_appends(out, " END");
        break;
    case RN_FN_CAST:
        explain_open(e, out);
        rn_expr_explain(x[0], input, out);
        rn_buf_appendf(out, " AS %s)", rn_type_name(e->type->id));
        break;
    case RN_FN_SUBSTRING:
        explain_open(e, out);
        rn_expr_explain(x[0], input, out);
        rn_buf_appends(out, " FROM ");
        rn_expr_explain(x[1], input, out);
        if (e->nargs > 2) {
            rn_buf_appends(out, " FOR ");
            rn_expr_explain(x[2], input, out);
        }
        rn_buf_appendc(out, ')');
        break;
    case RN_FN_POSITION:
        explain_open(e, out);
        rn_expr_explain(x[0], input, out);
        rn_buf_appends(out, " IN ");
        rn_expr_explain(x[1], input, out);
        rn_buf_appendc(out, ')');
        break;
    case RN_FN_TS_ADD_MS:
    case RN_FN_TS_SUB_MS:
        rn_buf_appendc(out, '(');
        explain_operand(x[0], input, out);
        rn_buf_appendf(out, " %s ", rn_func_name(e->fn));
        explain_interval(x[1], input, out);
        rn_buf_appendc(out, ')');
        break;
    case RN_FN_CURRENT_TIMESTAMP:
    case RN_FN_LOCALTIMESTAMP: rn_buf_appends(out, rn_func_name(e->fn)); break;
    case RN_FN_EXTRACT:
        explain_open(e, out);
        if (x[0]->kind == RN_EXPR_CONST && !x[0]->value.null)
            rn_buf_append(out, x[0]->value.s, x[0]->value.len);
        else
            rn_expr_explain(x[0], input, out);
        rn_buf_appends(out, " FROM ");
        rn_expr_explain(x[1], input, out);
        rn_buf_appendc(out, ')');
        break;
    default: explain_call(e, input, out, 0); break;
    }
}

