/*
 * bind.c - binding expressions: syntax types to runtime types, the common
 * type of mixed operands, implicit casts, aggregate detection, and the
 * binder (an_bind) that resolves an expression's names in a scope and
 * checks its types, calls and operators into an rn_expr_t.
 *
 * Part of the analyzer (analyze_int.h); the checks behind each function's
 * binding rule (rn_func_sig in expr/expr.h) and their messages are here.
 */
#include "plan/analyze_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- types ---------------------------------------------------------- */

/* Resolves a syntax type to a runtime type. ROW types are kept (their
 * fields are flattened by the caller). */
const rn_type_t *an_type(analyzer_t *an, const rn_ast_type_t *t)
{
    if (t->id != RN_TYPE_ROW) return rn_type_scalar(t->id);
    rn_type_t *row = an_alloc(an, sizeof *row);
    if (!row) return NULL;
    row->id = RN_TYPE_ROW;
    row->nfields = t->nfields;
    row->fields = an_alloc(an, sizeof(rn_field_t) * (size_t)(t->nfields ? t->nfields : 1));
    if (!row->fields) return NULL;
    for (int i = 0; i < t->nfields; i++) {
        row->fields[i].name = t->field_names[i];
        row->fields[i].type = an_type(an, t->field_types[i]);
        if (!row->fields[i].type) return NULL;
    }
    return row;
}

static int type_rank(rn_type_id t)
{
    switch (t) {
    case RN_TYPE_INT: return 1;
    case RN_TYPE_BIGINT: return 2;
    case RN_TYPE_DOUBLE: return 3;
    default: return 0;
    }
}

/* The type two operands are brought to, or NULL if they do not mix. */
static const rn_type_t *common_type(const rn_type_t *a, const rn_type_t *b)
{
    if (a->id == RN_TYPE_NULL) return b;
    if (b->id == RN_TYPE_NULL) return a;
    if (a->id == b->id) return a;
    if (rn_type_is_numeric(a->id) && rn_type_is_numeric(b->id))
        return type_rank(a->id) > type_rank(b->id) ? a : b;
    if ((a->id == RN_TYPE_TIMESTAMP || a->id == RN_TYPE_TIMESTAMP_LTZ) &&
        (b->id == RN_TYPE_TIMESTAMP || b->id == RN_TYPE_TIMESTAMP_LTZ))
        return &rn_type_timestamp_ltz;
    return NULL;
}

/* True if a value of type from may be stored in a column of type to
 * without an explicit CAST (widening only). */
bool an_assignable(const rn_type_t *from, const rn_type_t *to)
{
    if (from->id == RN_TYPE_NULL || from->id == to->id) return true;
    if (rn_type_is_numeric(from->id) && rn_type_is_numeric(to->id))
        return type_rank(from->id) <= type_rank(to->id);
    if ((from->id == RN_TYPE_TIMESTAMP || from->id == RN_TYPE_TIMESTAMP_LTZ) &&
        (to->id == RN_TYPE_TIMESTAMP || to->id == RN_TYPE_TIMESTAMP_LTZ))
        return true;
    return false;
}

/* ---- expression nodes ----------------------------------------------- */

static rn_expr_t *mk_func(analyzer_t *an, rn_func_id fn, const rn_type_t *type, int nargs)
{
    rn_expr_t *e = an_alloc(an, sizeof *e);
    if (!e) return NULL;
    e->kind = RN_EXPR_FUNC;
    e->fn = fn;
    e->type = type;
    e->nargs = nargs;
    e->args = an_alloc(an, sizeof(rn_expr_t *) * (size_t)(nargs ? nargs : 1));
    return e->args ? e : NULL;
}

rn_expr_t *an_mk_column(analyzer_t *an, int col, const rn_type_t *type)
{
    rn_expr_t *e = an_alloc(an, sizeof *e);
    if (!e) return NULL;
    e->kind = RN_EXPR_COLUMN;
    e->col = col;
    e->type = type;
    return e;
}

rn_expr_t *an_mk_const(analyzer_t *an, const rn_type_t *type, rn_value_t v)
{
    rn_expr_t *e = an_alloc(an, sizeof *e);
    if (!e) return NULL;
    e->kind = RN_EXPR_CONST;
    e->type = type;
    e->value = v;
    return e;
}

/* Brings e to type to: NULL literals are retyped, other values get a CAST. */
rn_expr_t *an_coerce(analyzer_t *an, rn_expr_t *e, const rn_type_t *to)
{
    if (!e || e->type->id == to->id) return e;
    if (e->kind == RN_EXPR_CONST && e->value.null) return an_mk_const(an, to, RN_VALUE_NULL);
    rn_expr_t *c = mk_func(an, RN_FN_CAST, to, 1);
    if (c) c->args[0] = e;
    return c;
}

/* ---- aggregate detection --------------------------------------------- */

rn_agg_kind an_agg_kind_of(const char *name, bool *is_agg)
{
    static const struct {
        const char *name;
        rn_agg_kind kind;
    } aggs[] = {{"COUNT", RN_AGG_COUNT}, {"SUM", RN_AGG_SUM}, {"MIN", RN_AGG_MIN},
                {"MAX", RN_AGG_MAX},     {"AVG", RN_AGG_AVG}, {"FIRST_VALUE", RN_AGG_FIRST_VALUE},
                {"LAST_VALUE", RN_AGG_LAST_VALUE}, {"MAX_BY", RN_AGG_MAX_BY}, {"MIN_BY", RN_AGG_MIN_BY}};
    for (size_t i = 0; i < sizeof aggs / sizeof *aggs; i++)
        if (!strcasecmp(name, aggs[i].name)) {
            *is_agg = true;
            return aggs[i].kind;
        }
    *is_agg = !strcasecmp(name, "COLLECT") || !strcasecmp(name, "LISTAGG") ||
              !strcasecmp(name, "STDDEV_POP") || !strcasecmp(name, "VAR_POP");
    return RN_AGG_COUNT;
}

static bool is_agg_call(const rn_ast_expr_t *e)
{
    bool is_agg = false;
    if (e->kind == RN_AST_CALL) an_agg_kind_of(e->call.name, &is_agg);
    return is_agg;
}

/* Structural equality of two expressions (positions ignored). */
bool an_ast_equal(const rn_ast_expr_t *a, const rn_ast_expr_t *b)
{
    if (!a || !b) return a == b;
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case RN_AST_LITERAL:
        if (a->lit.kind != b->lit.kind) return false;
        switch (a->lit.kind) {
        case RN_LIT_NULL: return true;
        case RN_LIT_BOOL: return a->lit.b == b->lit.b;
        case RN_LIT_INT: return a->lit.i == b->lit.i;
        case RN_LIT_DOUBLE: return a->lit.d == b->lit.d;
        case RN_LIT_STRING: return a->lit.len == b->lit.len && !memcmp(a->lit.s, b->lit.s, a->lit.len);
        }
        return false;
    case RN_AST_COLUMN:
        if (a->column.nparts != b->column.nparts) return false;
        for (int i = 0; i < a->column.nparts; i++)
            if (strcmp(a->column.parts[i], b->column.parts[i])) return false;
        return true;
    case RN_AST_STAR: return false;
    case RN_AST_INTERVAL: return a->interval.ms == b->interval.ms;
    case RN_AST_UNARY: return a->unary.op == b->unary.op && an_ast_equal(a->unary.arg, b->unary.arg);
    case RN_AST_BINARY:
        return a->binary.op == b->binary.op && an_ast_equal(a->binary.lhs, b->binary.lhs) &&
               an_ast_equal(a->binary.rhs, b->binary.rhs);
    case RN_AST_BETWEEN:
        return a->between.negated == b->between.negated && a->between.symmetric == b->between.symmetric &&
               an_ast_equal(a->between.arg, b->between.arg) && an_ast_equal(a->between.low, b->between.low) &&
               an_ast_equal(a->between.high, b->between.high);
    case RN_AST_IN:
        if (a->in.negated != b->in.negated || a->in.nitems != b->in.nitems ||
            !an_ast_equal(a->in.arg, b->in.arg))
            return false;
        for (int i = 0; i < a->in.nitems; i++)
            if (!an_ast_equal(a->in.items[i], b->in.items[i])) return false;
        return true;
    case RN_AST_LIKE:
        return a->like.negated == b->like.negated && an_ast_equal(a->like.arg, b->like.arg) &&
               an_ast_equal(a->like.pattern, b->like.pattern) && an_ast_equal(a->like.escape, b->like.escape);
    case RN_AST_IS:
        return a->is.negated == b->is.negated && a->is.what == b->is.what && an_ast_equal(a->is.arg, b->is.arg);
    case RN_AST_CASE:
        if (a->case_.nwhens != b->case_.nwhens || !an_ast_equal(a->case_.operand, b->case_.operand) ||
            !an_ast_equal(a->case_.else_, b->case_.else_))
            return false;
        for (int i = 0; i < a->case_.nwhens; i++)
            if (!an_ast_equal(a->case_.whens[i], b->case_.whens[i]) ||
                !an_ast_equal(a->case_.thens[i], b->case_.thens[i]))
                return false;
        return true;
    case RN_AST_CAST:
        return a->cast.try_cast == b->cast.try_cast && a->cast.type->id == b->cast.type->id &&
               an_ast_equal(a->cast.arg, b->cast.arg);
    case RN_AST_CALL:
        if (strcasecmp(a->call.name, b->call.name) || a->call.distinct != b->call.distinct ||
            a->call.star != b->call.star || a->call.nargs != b->call.nargs)
            return false;
        for (int i = 0; i < a->call.nargs; i++)
            if (!an_ast_equal(a->call.args[i], b->call.args[i])) return false;
        return true;
    default: return false;
    }
}

/* Calls fn on every direct child expression of e. */
static void ast_children(const rn_ast_expr_t *e, void (*fn)(void *, const rn_ast_expr_t *), void *ud)
{
    switch (e->kind) {
    case RN_AST_UNARY: fn(ud, e->unary.arg); break;
    case RN_AST_BINARY: fn(ud, e->binary.lhs); fn(ud, e->binary.rhs); break;
    case RN_AST_BETWEEN: fn(ud, e->between.arg); fn(ud, e->between.low); fn(ud, e->between.high); break;
    case RN_AST_IN:
        fn(ud, e->in.arg);
        for (int i = 0; i < e->in.nitems; i++) fn(ud, e->in.items[i]);
        break;
    case RN_AST_LIKE:
        fn(ud, e->like.arg);
        fn(ud, e->like.pattern);
        if (e->like.escape) fn(ud, e->like.escape);
        break;
    case RN_AST_IS: fn(ud, e->is.arg); break;
    case RN_AST_CASE:
        if (e->case_.operand) fn(ud, e->case_.operand);
        for (int i = 0; i < e->case_.nwhens; i++) {
            fn(ud, e->case_.whens[i]);
            fn(ud, e->case_.thens[i]);
        }
        if (e->case_.else_) fn(ud, e->case_.else_);
        break;
    case RN_AST_CAST: fn(ud, e->cast.arg); break;
    case RN_AST_CALL:
        for (int i = 0; i < e->call.nargs; i++) fn(ud, e->call.args[i]);
        break;
    default: break;
    }
}

void an_collect_aggs(void *ud, const rn_ast_expr_t *e)
{
    agg_collect_t *c = ud;
    if (c->an->failed) return;
    if (is_agg_call(e)) {
        if (c->inside) {
            an_error(c->an, e->pos, "aggregate function calls cannot be nested");
            return;
        }
        for (int i = 0; i < c->sc->naggs; i++)
            if (an_ast_equal(c->sc->agg_calls[i], e)) return;
        if (c->sc->naggs == RN_MAX_AGGS) {
            an_error(c->an, e->pos, "too many aggregates in one query (at most %d)", RN_MAX_AGGS);
            return;
        }
        c->sc->agg_calls[c->sc->naggs++] = e;
        c->inside = true;
        ast_children(e, an_collect_aggs, c);
        c->inside = false;
        return;
    }
    ast_children(e, an_collect_aggs, c);
}

/* Whether column reference ref names exactly one column of rel (the
 * resolution of an_rel_resolve, without reporting anything). */
static bool ref_resolves(const rel_t *rel, const rn_ast_expr_t *ref)
{
    int n = ref->column.nparts;
    char *const *parts = ref->column.parts;
    char name[512];
    size_t len = 0;
    for (int from = n >= 2 ? 1 : 0;; from = 0) {
        /* t.col (a qualifier first), then the whole dotted name */
        len = 0;
        for (int i = from; i < n; i++) {
            size_t l = strlen(parts[i]);
            if (len + l + 2 > sizeof name) return false;
            if (i > from) name[len++] = '.';
            memcpy(name + len, parts[i], l);
            len += l;
        }
        name[len] = 0;
        int found = 0;
        for (int i = 0; i < rel->ncols; i++) {
            if (strcmp(rel->cols[i].name, name)) continue;
            if (from == 1 && (!rel->cols[i].qualifier || strcmp(rel->cols[i].qualifier, parts[0]))) continue;
            found++;
        }
        if (from == 1 && found) return true;
        if (from == 0) return found == 1;
    }
}

typedef struct resolves_visit {
    const rel_t *rel;
    bool ok;
} resolves_visit_t;

static void resolves_visit(void *ud, const rn_ast_expr_t *e)
{
    resolves_visit_t *v = ud;
    if (!v->ok) return;
    if (e->kind == RN_AST_COLUMN) v->ok = ref_resolves(v->rel, e);
    else if (e->kind == RN_AST_STAR || e->kind == RN_AST_TABLE_ARG) v->ok = false;
    else ast_children(e, resolves_visit, v);
}

bool an_ast_resolves(const rel_t *rel, const rn_ast_expr_t *e)
{
    resolves_visit_t v = {.rel = rel, .ok = true};
    resolves_visit(&v, e);
    return v.ok;
}

static void contains_agg_visit(void *ud, const rn_ast_expr_t *e)
{
    if (an_contains_agg(e)) *(bool *)ud = true;
}

bool an_contains_agg(const rn_ast_expr_t *e)
{
    if (is_agg_call(e)) return true;
    bool found = false;
    ast_children(e, contains_agg_visit, &found);
    return found;
}

/* ---- binding expressions --------------------------------------------- */

static const char *op_symbol(rn_ast_op op)
{
    static const char *s[] = {"+", "-", "*", "/", "%", "||", "=", "<>", "<", "<=", ">", ">=",
                              "AND", "OR", "NOT", "-", "+"};
    return s[op];
}

/* Binds args and brings them all to one common type (NULL if none).
 * Returns false on error. */
static bool bind_common(analyzer_t *an, scope_t *sc, int n, const rn_ast_expr_t *const *asts,
                        rn_expr_t **out, const rn_type_t **type, const char *what)
{
    const rn_type_t *t = &rn_type_null;
    for (int i = 0; i < n; i++) {
        out[i] = an_bind(an, sc, asts[i]);
        if (!out[i]) return false;
        const rn_type_t *c = common_type(t, out[i]->type);
        if (!c || out[i]->type->id == RN_TYPE_ROW) {
            an_error(an, asts[i]->pos, "%s: cannot mix %s with %s", what, rn_type_name(t->id),
                     rn_type_name(out[i]->type->id));
            return false;
        }
        t = c;
    }
    for (int i = 0; i < n; i++)
        if (!(out[i] = an_coerce(an, out[i], t))) return false;
    *type = t;
    return true;
}

rn_expr_t *an_bind_boolean(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e, const char *what)
{
    rn_expr_t *x = an_bind(an, sc, e);
    if (!x) return NULL;
    if (x->type->id == RN_TYPE_NULL) return an_coerce(an, x, &rn_type_boolean);
    if (x->type->id != RN_TYPE_BOOLEAN) {
        an_error(an, e->pos, "%s must be BOOLEAN, not %s", what, rn_type_name(x->type->id));
        return NULL;
    }
    return x;
}

static rn_expr_t *bind_literal(analyzer_t *an, const rn_ast_expr_t *e)
{
    switch (e->lit.kind) {
    case RN_LIT_NULL: return an_mk_const(an, &rn_type_null, RN_VALUE_NULL);
    case RN_LIT_BOOL: return an_mk_const(an, &rn_type_boolean, rn_value_bool(e->lit.b));
    case RN_LIT_INT:
        return an_mk_const(an, e->lit.i >= INT32_MIN && e->lit.i <= INT32_MAX ? &rn_type_int : &rn_type_bigint,
                           rn_value_int(e->lit.i));
    case RN_LIT_DOUBLE: return an_mk_const(an, &rn_type_double, rn_value_double(e->lit.d));
    case RN_LIT_STRING: {
        char *s = rn_arena_strndup(&an->p->plan_arena, e->lit.s, e->lit.len);
        if (!s) {
            an_oom(an);
            return NULL;
        }
        return an_mk_const(an, &rn_type_string, rn_value_str(s, (uint32_t)e->lit.len));
    }
    }
    return NULL;
}

static rn_expr_t *bind_binary(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e)
{
    rn_ast_op op = e->binary.op;
    if (op == RN_AST_OP_AND || op == RN_AST_OP_OR) {
        rn_expr_t *f = mk_func(an, op == RN_AST_OP_AND ? RN_FN_AND : RN_FN_OR, &rn_type_boolean, 2);
        if (!f) return NULL;
        f->args[0] = an_bind_boolean(an, sc, e->binary.lhs, "an operand of AND/OR");
        f->args[1] = f->args[0] ? an_bind_boolean(an, sc, e->binary.rhs, "an operand of AND/OR") : NULL;
        return f->args[1] ? f : NULL;
    }
    if (op == RN_AST_OP_CONCAT) {
        rn_expr_t *f = mk_func(an, RN_FN_CONCAT, &rn_type_string, 2);
        if (!f) return NULL;
        const rn_ast_expr_t *sides[2] = {e->binary.lhs, e->binary.rhs};
        for (int i = 0; i < 2; i++) {
            rn_expr_t *x = an_bind(an, sc, sides[i]);
            if (!x || !(f->args[i] = an_coerce(an, x, &rn_type_string))) return NULL;
        }
        return f;
    }
    if ((op == RN_AST_OP_ADD || op == RN_AST_OP_SUB) &&
        (e->binary.lhs->kind == RN_AST_INTERVAL || e->binary.rhs->kind == RN_AST_INTERVAL)) {
        /* ts + INTERVAL, INTERVAL + ts, ts - INTERVAL: the interval becomes
         * a BIGINT millisecond constant, the result has ts's type. */
        bool ileft = e->binary.lhs->kind == RN_AST_INTERVAL;
        const rn_ast_expr_t *iv = ileft ? e->binary.lhs : e->binary.rhs;
        const rn_ast_expr_t *other = ileft ? e->binary.rhs : e->binary.lhs;
        if (other->kind == RN_AST_INTERVAL || (ileft && op == RN_AST_OP_SUB)) {
            an_error(an, e->pos, "an INTERVAL can only be added to or subtracted from a timestamp%s",
                     other->kind == RN_AST_INTERVAL ? ""
                                                    : " (write ts - INTERVAL ..., not INTERVAL ... - ts)");
            return NULL;
        }
        rn_expr_t *ts = an_bind(an, sc, other);
        if (!ts) return NULL;
        rn_type_id tid = ts->type->id;
        if (tid == RN_TYPE_NULL) {
            ts = an_coerce(an, ts, &rn_type_timestamp);
        } else if (tid != RN_TYPE_TIMESTAMP && tid != RN_TYPE_TIMESTAMP_LTZ) {
            an_error(an, other->pos,
                     "an INTERVAL can only be added to or subtracted from a timestamp, not %s", rn_type_name(tid));
            return NULL;
        }
        rn_func_id fn = op == RN_AST_OP_ADD ? RN_FN_TS_ADD_MS : RN_FN_TS_SUB_MS;
        rn_expr_t *f = ts ? mk_func(an, fn, ts->type, 2) : NULL;
        if (!f) return NULL;
        f->args[0] = ts;
        f->args[1] = an_mk_const(an, &rn_type_bigint, rn_value_int(iv->interval.ms));
        return f->args[1] ? f : NULL;
    }
    rn_expr_t *args[2];
    const rn_type_t *t;
    const rn_ast_expr_t *sides[2] = {e->binary.lhs, e->binary.rhs};
    char what[64];
    snprintf(what, sizeof what, "operator '%s'", op_symbol(op));
    args[0] = an_bind(an, sc, sides[0]);
    args[1] = args[0] ? an_bind(an, sc, sides[1]) : NULL;
    if (!args[1]) return NULL;
    t = common_type(args[0]->type, args[1]->type);
    bool arith = op <= RN_AST_OP_MOD;
    if (!t || (arith && t->id != RN_TYPE_NULL && !rn_type_is_numeric(t->id)) || t->id == RN_TYPE_ROW) {
        an_error(an, e->pos, "cannot apply '%s' to %s and %s", op_symbol(op),
                 rn_type_name(args[0]->type->id), rn_type_name(args[1]->type->id));
        return NULL;
    }
    if (t->id == RN_TYPE_NULL) t = arith ? &rn_type_int : &rn_type_boolean;
    static const rn_func_id fns[] = {RN_FN_ADD, RN_FN_SUB, RN_FN_MUL, RN_FN_DIV, RN_FN_MOD, RN_FN_CONCAT,
                                     RN_FN_EQ,  RN_FN_NE,  RN_FN_LT,  RN_FN_LE,  RN_FN_GT,  RN_FN_GE};
    rn_expr_t *f = mk_func(an, fns[op], arith ? t : &rn_type_boolean, 2);
    if (!f) return NULL;
    f->args[0] = an_coerce(an, args[0], t);
    f->args[1] = an_coerce(an, args[1], t);
    return f->args[0] && f->args[1] ? f : NULL;
}

/* Which auxiliary function of a legacy group window call e is:
 * TUMBLE_START/HOP_START/SESSION_START 0, ..._END 1, ..._ROWTIME 2,
 * ..._PROCTIME 3; -1 for any other expression. */
static int group_window_aux(const rn_ast_expr_t *e)
{
    if (e->kind != RN_AST_CALL) return -1;
    static const char *fns[] = {"TUMBLE_", "HOP_", "SESSION_"};
    static const char *parts[] = {"START", "END", "ROWTIME", "PROCTIME"};
    for (size_t f = 0; f < sizeof fns / sizeof *fns; f++) {
        size_t l = strlen(fns[f]);
        if (strncasecmp(e->call.name, fns[f], l)) continue;
        for (int p = 0; p < 4; p++)
            if (!strcasecmp(e->call.name + l, parts[p])) return p;
    }
    return -1;
}

/* TUMBLE_START(ts, size) and the like: the window column of the aggregate
 * grouped by the window call with the same arguments (Flink's legacy
 * group windows; select.c rewrites that GROUP BY). */
static rn_expr_t *bind_group_window_aux(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e, int aux)
{
    const char *name = e->call.name;
    size_t fl = strchr(name, '_') - name; /* the window function's part of the name */
    if (aux == 3) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, e->pos, "%s is not supported: windows are over event time (use %.*s_ROWTIME)", name, (int)fl,
                 name);
        return NULL;
    }
    const rn_ast_expr_t *w = sc->agg_mode ? sc->group_window : NULL;
    bool same = w && strlen(w->call.name) == fl && !strncasecmp(w->call.name, name, fl) &&
                w->call.nargs == e->call.nargs && !e->call.star && !e->call.distinct;
    for (int i = 0; same && i < e->call.nargs; i++) same = an_ast_equal(w->call.args[i], e->call.args[i]);
    if (!same) {
        an_error(an, e->pos, "%s needs GROUP BY %.*s(...) with the same arguments", name, (int)fl, name);
        return NULL;
    }
    int g = sc->group_window_key[aux];
    return an_mk_column(an, g, sc->out_schema->cols[g].type);
}

static rn_expr_t *bind_call(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e)
{
    const char *name = e->call.name;
    if (e->call.over) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, e->pos, "ROW_NUMBER() needs an outer WHERE rownum <= N: write SELECT ... FROM (SELECT ..., "
                 "ROW_NUMBER() OVER (...) AS rownum FROM t) WHERE rownum <= N (see docs/sql.md, Deduplication "
                 "and Top-N)");
        return NULL;
    }
    int aux = group_window_aux(e);
    if (aux >= 0) return bind_group_window_aux(an, sc, e, aux);
    if (is_agg_call(e)) {
        if (sc->agg_mode) {
            for (int i = 0; i < sc->naggs; i++)
                if (an_ast_equal(sc->agg_calls[i], e)) {
                    rn_expr_t *c = an_mk_column(an, sc->ngroup + i, sc->out_schema->cols[sc->ngroup + i].type);
                    return c;
                }
        }
        an_error(an, e->pos, "aggregate function %s is not allowed %s", name,
                 sc->where_clause ? sc->where_clause : "here");
        return NULL;
    }
    const char *fname = NULL; /* the table's spelling of the name */
    const rn_func_def_t *f = rn_func_lookup(name, &fname);
    if (!f) {
        static const char *tvfs[] = {"TUMBLE", "HOP", "SESSION", "CUMULATE"};
        for (size_t i = 0; i < sizeof tvfs / sizeof *tvfs; i++)
            if (!strcasecmp(name, tvfs[i])) {
                if (i < 3)
                    an_error(an, e->pos,
                             "%s is a window function: use it in FROM TABLE(%s(TABLE t, DESCRIPTOR(ts), ...)), or "
                             "as a group window in GROUP BY %s(ts, ...)",
                             tvfs[i], tvfs[i], tvfs[i]);
                else
                    an_error(an, e->pos,
                             "%s is a window table function: use it in FROM TABLE(%s(TABLE t, DESCRIPTOR(ts), ...))",
                             tvfs[i], tvfs[i]);
                return NULL;
            }
        if (!strcasecmp(name, "TIMESTAMPDIFF")) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, e->pos, "function %s is not supported yet", name);
            return NULL;
        }
        an_error(an, e->pos, "unknown function %s", name);
        return NULL;
    }
    if (e->call.distinct || e->call.star) {
        an_error(an, e->pos, "%s is not an aggregate function; DISTINCT and * are not allowed", name);
        return NULL;
    }
    int n = e->call.nargs;
    if (n < f->min_args || n > f->max_args) {
        if (f->min_args == f->max_args) an_error(an, e->pos, "%s takes %d argument%s, not %d", fname, f->min_args, f->min_args == 1 ? "" : "s", n);
        else an_error(an, e->pos, "%s takes %d to %d arguments, not %d", fname, f->min_args, f->max_args, n);
        return NULL;
    }
    rn_expr_t *args[64];
    const rn_type_t *t = NULL;
    switch (f->sig) {
    case RN_SIG_COMMON:
    case RN_SIG_NULLIF:
        if (!bind_common(an, sc, n, (const rn_ast_expr_t *const *)e->call.args, args, &t, fname)) return NULL;
        break;
    case RN_SIG_IF: {
        args[0] = an_bind_boolean(an, sc, e->call.args[0], "the condition of IF");
        if (!args[0]) return NULL;
        if (!bind_common(an, sc, 2, (const rn_ast_expr_t *const *)e->call.args + 1, args + 1, &t, "IF")) return NULL;
        break;
    }
    default:
        for (int i = 0; i < n; i++)
            if (!(args[i] = an_bind(an, sc, e->call.args[i]))) return NULL;
        break;
    }
    /* fixed by the function table, or derived from the arguments below */
    const rn_type_t *result = f->result != RN_TYPE_NULL ? rn_type_scalar(f->result) : NULL;
    /* Checks argument i has a type for which ok(type) holds, then casts it
     * to `to` (or leaves it when to is NULL). */
#define ARG_AS(i, okexpr, to, desc)                                                              \
    do {                                                                                         \
        rn_type_id id_ = args[i]->type->id;                                                      \
        if (id_ != RN_TYPE_NULL && !(okexpr)) {                                                  \
            an_error(an, e->call.args[i]->pos, "argument %d of %s must be %s, not %s", (i) + 1,  \
                     fname, desc, rn_type_name(id_));                                            \
            return NULL;                                                                         \
        }                                                                                        \
        const rn_type_t *to_ = (to);                                                             \
        if (to_ && !(args[i] = an_coerce(an, args[i], to_))) return NULL;                        \
    } while (0)
    switch (f->sig) {
    case RN_SIG_STRING1:
        ARG_AS(0, id_ == RN_TYPE_STRING, &rn_type_string, "STRING");
        break;
    case RN_SIG_CONCAT:
        for (int i = 0; i < n; i++) ARG_AS(i, id_ != RN_TYPE_ROW, &rn_type_string, "a scalar");
        break;
    case RN_SIG_SUBSTRING:
        ARG_AS(0, id_ == RN_TYPE_STRING, &rn_type_string, "STRING");
        for (int i = 1; i < n; i++) ARG_AS(i, rn_type_is_integer(id_), &rn_type_int, "an integer");
        break;
    case RN_SIG_CHARLEN:
        ARG_AS(0, id_ == RN_TYPE_STRING, &rn_type_string, "STRING");
        break;
    case RN_SIG_POSITION:
        for (int i = 0; i < 2; i++) ARG_AS(i, id_ == RN_TYPE_STRING, &rn_type_string, "STRING");
        break;
    case RN_SIG_REPLACE:
        for (int i = 0; i < 3; i++) ARG_AS(i, id_ == RN_TYPE_STRING, &rn_type_string, "STRING");
        break;
    case RN_SIG_REGEXP: {
        ARG_AS(0, id_ == RN_TYPE_STRING, &rn_type_string, "STRING");
        /* compiled once per batch, so it must be a literal */
        const rn_expr_t *re = args[1];
        if (!(re->kind == RN_EXPR_CONST && (re->type->id == RN_TYPE_STRING || re->value.null))) {
            an_error(an, e->call.args[1]->pos, "the regular expression of %s must be a string literal", fname);
            return NULL;
        }
        char why[128];
        if (!re->value.null && !rn_expr_regex_check(re->value.s, re->value.len, why, sizeof why)) {
            an_error(an, e->call.args[1]->pos, "invalid regular expression '%.*s' in %s: %s",
                     (int)(re->value.len > 64 ? 64 : re->value.len), re->value.s, fname, why);
            return NULL;
        }
        if (!(args[1] = an_coerce(an, args[1], &rn_type_string))) return NULL;
        if (n > 2) ARG_AS(2, rn_type_is_integer(id_), &rn_type_int, "an integer");
        break;
    }
    case RN_SIG_SPLIT_INDEX:
        for (int i = 0; i < 2; i++) ARG_AS(i, id_ == RN_TYPE_STRING, &rn_type_string, "STRING");
        ARG_AS(2, rn_type_is_integer(id_), &rn_type_int, "an integer");
        break;
    case RN_SIG_COMMON:
        result = t;
        break;
    case RN_SIG_NULLIF:
        result = t;
        break;
    case RN_SIG_IF:
        result = t;
        break;
    case RN_SIG_NUMERIC_SAME:
        ARG_AS(0, rn_type_is_numeric(id_), NULL, "numeric");
        if (args[0]->type->id == RN_TYPE_NULL) args[0] = an_coerce(an, args[0], &rn_type_double);
        result = args[0]->type;
        break;
    case RN_SIG_ROUND:
        ARG_AS(0, rn_type_is_numeric(id_), &rn_type_double, "numeric");
        if (n == 2) ARG_AS(1, rn_type_is_integer(id_), &rn_type_int, "an integer");
        break;
    case RN_SIG_DOUBLE:
        for (int i = 0; i < n; i++) ARG_AS(i, rn_type_is_numeric(id_), &rn_type_double, "numeric");
        break;
    case RN_SIG_MOD: {
        for (int i = 0; i < 2; i++) ARG_AS(i, rn_type_is_numeric(id_), NULL, "numeric");
        const rn_type_t *c = common_type(args[0]->type, args[1]->type);
        if (c->id == RN_TYPE_NULL) c = &rn_type_int;
        for (int i = 0; i < 2; i++)
            if (!(args[i] = an_coerce(an, args[i], c))) return NULL;
        result = c;
        break;
    }
    case RN_SIG_TO_TS_LTZ: {
        const rn_type_t *nt = args[0]->type->id == RN_TYPE_DOUBLE ? &rn_type_double : &rn_type_bigint;
        ARG_AS(0, rn_type_is_numeric(id_), nt, "numeric (epoch seconds or milliseconds)");
        const rn_expr_t *p = n > 1 ? args[1] : NULL;
        if (p && !(p->kind == RN_EXPR_CONST && rn_type_is_integer(p->type->id) && !p->value.null &&
                   (p->value.i == 0 || p->value.i == 3))) {
            an_error(an, e->call.args[1]->pos, "the precision of TO_TIMESTAMP_LTZ must be the literal 0 "
                                               "(epoch seconds) or 3 (epoch milliseconds)");
            return NULL;
        }
        /* TO_TIMESTAMP_LTZ(n) means milliseconds, as in Flink */
        args[1] = an_mk_const(an, &rn_type_int, rn_value_int(p ? p->value.i : 3));
        if (!args[1]) return NULL;
        n = 2;
        break;
    }
    case RN_SIG_PARSE_TIME:
    case RN_SIG_FROM_UNIXTIME:
    case RN_SIG_DATE_FORMAT: {
        if (f->sig == RN_SIG_PARSE_TIME && n > 0) ARG_AS(0, id_ == RN_TYPE_STRING, &rn_type_string, "STRING");
        if (f->sig == RN_SIG_FROM_UNIXTIME)
            ARG_AS(0, rn_type_is_numeric(id_), &rn_type_bigint, "numeric (epoch seconds)");
        if (f->sig == RN_SIG_DATE_FORMAT) {
            /* a STRING is read as CAST(s AS TIMESTAMP) reads it */
            ARG_AS(0, id_ == RN_TYPE_TIMESTAMP || id_ == RN_TYPE_TIMESTAMP_LTZ || id_ == RN_TYPE_STRING, NULL,
                   "a timestamp or STRING");
            rn_type_id t0 = args[0]->type->id;
            if (t0 != RN_TYPE_TIMESTAMP && t0 != RN_TYPE_TIMESTAMP_LTZ &&
                !(args[0] = an_coerce(an, args[0], &rn_type_timestamp)))
                return NULL;
        }
        if (n > 1) {
            /* the format is compiled once per batch, so it must be a literal */
            const rn_expr_t *fmt = args[1];
            bool lit = fmt->kind == RN_EXPR_CONST && (fmt->type->id == RN_TYPE_STRING || fmt->value.null);
            if (!lit) {
                an_error(an, e->call.args[1]->pos, "the format of %s must be a string literal", fname);
                return NULL;
            }
            char why[128];
            bool valid = fmt->value.null || rn_expr_time_pattern_check(fmt->value.s, fmt->value.len, why, sizeof why);
            if (!valid) {
                an_error(an, e->call.args[1]->pos, "invalid %s format '%.*s': %s", fname,
                         (int)(fmt->value.len > 64 ? 64 : fmt->value.len), fmt->value.s, why);
                return NULL;
            }
            if (!(args[1] = an_coerce(an, args[1], &rn_type_string))) return NULL;
        }
        break;
    }
    case RN_SIG_NOW:
    case RN_SIG_NONE: /* operators: rn_func_lookup does not return them */
        break;
    case RN_SIG_EXTRACT: {
        const rn_expr_t *u = args[0];
        if (!(u->kind == RN_EXPR_CONST && u->type->id == RN_TYPE_STRING &&
              rn_expr_extract_unit_valid(u->value.s, u->value.len))) {
            an_error(an, e->call.args[0]->pos, "EXTRACT: unsupported unit (use YEAR, QUARTER, MONTH, WEEK, "
                                               "DAY, HOUR, MINUTE, SECOND, MILLISECOND, DOW or DOY)");
            return NULL;
        }
        ARG_AS(1, id_ == RN_TYPE_TIMESTAMP || id_ == RN_TYPE_TIMESTAMP_LTZ,
               id_ == RN_TYPE_NULL ? &rn_type_timestamp : NULL, "a timestamp");
        break;
    }
    }
#undef ARG_AS
    if (result->id == RN_TYPE_NULL) result = &rn_type_string;
    rn_expr_t *x = mk_func(an, f->fn, result, n);
    if (!x) return NULL;
    for (int i = 0; i < n; i++)
        if (!(x->args[i] = an_coerce(an, args[i], args[i]->type->id == RN_TYPE_NULL ? result : args[i]->type))) return NULL;
    return x;
}

static rn_expr_t *bind_case(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e)
{
    int nw = e->case_.nwhens;
    bool has_else = e->case_.else_ != NULL;
    rn_expr_t *f = mk_func(an, RN_FN_CASE, &rn_type_null, nw * 2 + (has_else ? 1 : 0));
    if (!f) return NULL;
    rn_expr_t *operand = e->case_.operand ? an_bind(an, sc, e->case_.operand) : NULL;
    if (e->case_.operand && !operand) return NULL;
    for (int i = 0; i < nw; i++) {
        if (operand) {
            rn_expr_t *w = an_bind(an, sc, e->case_.whens[i]);
            if (!w) return NULL;
            const rn_type_t *t = common_type(operand->type, w->type);
            if (!t || t->id == RN_TYPE_ROW) {
                an_error(an, e->case_.whens[i]->pos, "CASE: cannot compare %s with %s",
                         rn_type_name(operand->type->id), rn_type_name(w->type->id));
                return NULL;
            }
            rn_expr_t *eq = mk_func(an, RN_FN_EQ, &rn_type_boolean, 2);
            if (!eq) return NULL;
            eq->args[0] = an_coerce(an, operand, t);
            eq->args[1] = an_coerce(an, w, t);
            f->args[i * 2] = eq;
        } else {
            f->args[i * 2] = an_bind_boolean(an, sc, e->case_.whens[i], "a WHEN condition");
            if (!f->args[i * 2]) return NULL;
        }
    }
    const rn_ast_expr_t *results[65];
    if (nw + 1 > 65) {
        an_error(an, e->pos, "CASE has too many branches (at most 64)");
        return NULL;
    }
    for (int i = 0; i < nw; i++) results[i] = e->case_.thens[i];
    if (has_else) results[nw] = e->case_.else_;
    rn_expr_t *bound[65];
    const rn_type_t *t;
    if (!bind_common(an, sc, nw + (has_else ? 1 : 0), results, bound, &t, "CASE results")) return NULL;
    if (t->id == RN_TYPE_NULL) t = &rn_type_string;
    for (int i = 0; i < nw; i++) f->args[i * 2 + 1] = an_coerce(an, bound[i], t);
    if (has_else) f->args[nw * 2] = an_coerce(an, bound[nw], t);
    f->type = t;
    return f;
}

rn_expr_t *an_bind(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e)
{
    if (an->failed) return NULL;
    /* In an aggregate query, a whole GROUP BY expression becomes a key column. */
    if (sc->agg_mode && e->kind != RN_AST_LITERAL) {
        for (int g = 0; g < sc->ngroup; g++) {
            bool same = an_ast_equal(sc->group_asts[g], e);
            if (!same && e->kind == RN_AST_COLUMN && sc->group_cols[g] >= 0) {
                int c = an_rel_resolve(an, sc->rel, e);
                if (c < 0) return NULL;
                same = c == sc->group_cols[g];
            }
            if (same) return an_mk_column(an, g, sc->out_schema->cols[g].type);
        }
    }
    switch (e->kind) {
    case RN_AST_LITERAL: return bind_literal(an, e);
    case RN_AST_COLUMN: {
        int c = an_rel_resolve(an, sc->rel, e);
        if (c < 0) return NULL;
        if (sc->rel->cols[c].window_col) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, e->pos, "%s can only be used as a GROUP BY key of a window aggregate "
                     "(GROUP BY window_start, window_end, ...)", sc->rel->cols[c].name);
            return NULL;
        }
        if (sc->agg_mode) {
            an_error(an, e->pos, "column '%s' must appear in GROUP BY or be used in an aggregate function",
                     sc->rel->cols[c].name);
            return NULL;
        }
        an_rel_use(sc->rel, c);
        return an_mk_column(an, c, sc->rel->cols[c].type);
    }
    case RN_AST_STAR:
        an_error(an, e->pos, "'*' is only allowed in a select list or COUNT(*)");
        return NULL;
    case RN_AST_UNARY: {
        if (e->unary.op == RN_AST_OP_NOT) {
            rn_expr_t *f = mk_func(an, RN_FN_NOT, &rn_type_boolean, 1);
            if (!f || !(f->args[0] = an_bind_boolean(an, sc, e->unary.arg, "the operand of NOT"))) return NULL;
            return f;
        }
        rn_expr_t *x = an_bind(an, sc, e->unary.arg);
        if (!x) return NULL;
        if (x->type->id == RN_TYPE_NULL) x = an_coerce(an, x, &rn_type_int);
        if (!rn_type_is_numeric(x->type->id)) {
            an_error(an, e->pos, "cannot apply unary '%s' to %s", op_symbol(e->unary.op), rn_type_name(x->type->id));
            return NULL;
        }
        if (e->unary.op == RN_AST_OP_PLUS) return x;
        rn_expr_t *f = mk_func(an, RN_FN_NEG, x->type, 1);
        if (f) f->args[0] = x;
        return f;
    }
    case RN_AST_BINARY: return bind_binary(an, sc, e);
    case RN_AST_BETWEEN: {
        const rn_ast_expr_t *parts[3] = {e->between.arg, e->between.low, e->between.high};
        rn_expr_t *a[3];
        const rn_type_t *t;
        if (!bind_common(an, sc, 3, parts, a, &t, "BETWEEN")) return NULL;
        if (t->id == RN_TYPE_NULL) {
            for (int i = 0; i < 3; i++) a[i] = an_coerce(an, a[i], &rn_type_int);
        }
        rn_func_id fn = e->between.negated ? RN_FN_NOT_BETWEEN : RN_FN_BETWEEN;
        rn_expr_t *f = mk_func(an, fn, &rn_type_boolean, 3);
        if (!f) return NULL;
        memcpy(f->args, a, sizeof a);
        if (!e->between.symmetric) return f;
        /* SYMMETRIC: either order of the bounds */
        rn_expr_t *g = mk_func(an, fn, &rn_type_boolean, 3);
        rn_expr_t *both = mk_func(an, e->between.negated ? RN_FN_AND : RN_FN_OR, &rn_type_boolean, 2);
        if (!g || !both) return NULL;
        g->args[0] = a[0];
        g->args[1] = a[2];
        g->args[2] = a[1];
        both->args[0] = f;
        both->args[1] = g;
        return both;
    }
    case RN_AST_IN: {
        int n = e->in.nitems + 1;
        const rn_ast_expr_t **parts = an_alloc(an, sizeof *parts * (size_t)n);
        rn_expr_t *f = mk_func(an, e->in.negated ? RN_FN_NOT_IN : RN_FN_IN, &rn_type_boolean, n);
        if (!parts || !f) return NULL;
        parts[0] = e->in.arg;
        for (int i = 0; i < e->in.nitems; i++) parts[i + 1] = e->in.items[i];
        const rn_type_t *t;
        if (!bind_common(an, sc, n, parts, f->args, &t, "IN")) return NULL;
        return f;
    }
    case RN_AST_LIKE: {
        int n = e->like.escape ? 3 : 2;
        rn_expr_t *f = mk_func(an, e->like.negated ? RN_FN_NOT_LIKE : RN_FN_LIKE, &rn_type_boolean, n);
        if (!f) return NULL;
        const rn_ast_expr_t *parts[3] = {e->like.arg, e->like.pattern, e->like.escape};
        for (int i = 0; i < n; i++) {
            rn_expr_t *x = an_bind(an, sc, parts[i]);
            if (!x) return NULL;
            if (x->type->id != RN_TYPE_STRING && x->type->id != RN_TYPE_NULL) {
                an_error(an, parts[i]->pos, "LIKE needs STRING operands, not %s", rn_type_name(x->type->id));
                return NULL;
            }
            f->args[i] = an_coerce(an, x, &rn_type_string);
        }
        return f;
    }
    case RN_AST_IS: {
        rn_expr_t *x = an_bind(an, sc, e->is.arg);
        if (!x) return NULL;
        rn_func_id fn;
        if (e->is.what == RN_IS_NULL || e->is.what == RN_IS_UNKNOWN) {
            if (e->is.what == RN_IS_UNKNOWN && x->type->id != RN_TYPE_BOOLEAN && x->type->id != RN_TYPE_NULL) {
                an_error(an, e->pos, "IS UNKNOWN needs a BOOLEAN operand, not %s", rn_type_name(x->type->id));
                return NULL;
            }
            fn = e->is.negated ? RN_FN_IS_NOT_NULL : RN_FN_IS_NULL;
            if (x->type->id == RN_TYPE_NULL) x = an_coerce(an, x, &rn_type_boolean);
        } else {
            if (x->type->id != RN_TYPE_BOOLEAN && x->type->id != RN_TYPE_NULL) {
                an_error(an, e->pos, "IS TRUE/FALSE needs a BOOLEAN operand, not %s", rn_type_name(x->type->id));
                return NULL;
            }
            x = an_coerce(an, x, &rn_type_boolean);
            if (e->is.what == RN_IS_TRUE) fn = e->is.negated ? RN_FN_IS_NOT_TRUE : RN_FN_IS_TRUE;
            else fn = e->is.negated ? RN_FN_IS_NOT_FALSE : RN_FN_IS_FALSE;
        }
        rn_expr_t *f = mk_func(an, fn, &rn_type_boolean, 1);
        if (f) f->args[0] = x;
        return f;
    }
    case RN_AST_CASE: return bind_case(an, sc, e);
    case RN_AST_CAST: {
        rn_expr_t *x = an_bind(an, sc, e->cast.arg);
        if (!x) return NULL;
        if (e->cast.type->id == RN_TYPE_ROW || x->type->id == RN_TYPE_ROW) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, e->pos, "CAST to or from ROW is not supported");
            return NULL;
        }
        const rn_type_t *to = rn_type_scalar(e->cast.type->id);
        if (x->type->id == to->id) return x;
        if (x->kind == RN_EXPR_CONST && x->value.null) return an_mk_const(an, to, RN_VALUE_NULL);
        rn_expr_t *f = mk_func(an, RN_FN_CAST, to, 1);
        if (f) f->args[0] = x;
        return f;
    }
    case RN_AST_CALL: return bind_call(an, sc, e);
    case RN_AST_INTERVAL: /* ts +/- INTERVAL is bound by bind_binary */
        an_error(an, e->pos, "an INTERVAL can only be added to or subtracted from a timestamp");
        return NULL;
    case RN_AST_TABLE_ARG:
        an_error(an, e->pos, "TABLE arguments are only allowed in window functions");
        return NULL;
    }
    return NULL;
}
