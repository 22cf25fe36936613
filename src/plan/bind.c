/*
 * analyze.c - from syntax tree to operator graph: name resolution, type
 * checking, implicit casts, aggregate rewriting, changelog checks.
 *
 * Everything a pipeline file can get wrong is found here, before any input
 * is read, and reported with the line:column of the offending text.
 *
 * Shape of a compiled SELECT block (like Flink's physical plan):
 *   FROM            -> a relation: an operator plus named, typed columns
 *   WHERE           -> Calc(where)
 *   GROUP BY / aggs -> Calc(select keys and aggregate arguments)
 *                      -> GroupAggregate -> Calc(where HAVING) -> Calc(select)
 *   otherwise       -> Calc(select)
 *   INSERT          -> Calc(cast to the sink's columns) -> Sink
 * Views and WITH queries are inlined where they are used; source scans are
 * shared. Columns of a source that no query touches are never decoded.
 */
#include "plan/plan_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/timeparse.h"
#include "core/text.h"
#include "lang/diag.h"

/* ---- errors --------------------------------------------------------- */

static void an_error(analyzer_t *an, rn_pos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void an_error(analyzer_t *an, rn_pos_t pos, const char *fmt, ...)
{
    if (an->failed) return; /* keep the first error */
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rn_diag_format(an->errbuf, an->errbuf_size, an->p->filename, an->p->src, an->p->srclen, pos,
                   "%s", msg);
    an->failed = true;
    if (an->err == RN_OK) an->err = RN_ERR_ANALYZE;
}

static void an_oom(analyzer_t *an)
{
    if (an->failed) return;
    snprintf(an->errbuf, an->errbuf_size, "%s: out of memory while compiling", an->p->filename);
    an->failed = true;
    an->err = RN_ERR_NOMEM;
}

static void *an_alloc(analyzer_t *an, size_t size)
{
    void *p = rn_arena_calloc(&an->p->plan_arena, 1, size ? size : 1);
    if (!p) an_oom(an);
    return p;
}

static char *an_strdup(analyzer_t *an, const char *s)
{
    char *p = rn_arena_strndup(&an->p->plan_arena, s, strlen(s));
    if (!p) an_oom(an);
    return p;
}

/* Registers an operator with the pipeline (which frees it). */
static rn_op_t *an_track(analyzer_t *an, rn_op_t *op)
{
    if (!op) {
        an_oom(an);
        return NULL;
    }
    rn_op_t **ops = rn_realloc(an->p->ops, sizeof *ops * (size_t)(an->p->nops + 1));
    if (!ops) {
        rn_op_free(op);
        an_oom(an);
        return NULL;
    }
    ops[an->p->nops++] = op;
    an->p->ops = ops;
    op->id = an->p->nops;
    return op;
}

static bool an_connect(analyzer_t *an, rn_op_t *from, rn_op_t *to)
{
    if (rn_op_connect(from, to, 0) != RN_OK) {
        an_oom(an);
        return false;
    }
    return true;
}

/* ---- types ---------------------------------------------------------- */

/* Resolves a syntax type to a runtime type. ROW types are kept (their
 * fields are flattened by the caller). */
static const rn_type_t *an_type(analyzer_t *an, const rn_ast_type_t *t)
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
static bool assignable(const rn_type_t *from, const rn_type_t *to)
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

static rn_expr_t *mk_column(analyzer_t *an, int col, const rn_type_t *type)
{
    rn_expr_t *e = an_alloc(an, sizeof *e);
    if (!e) return NULL;
    e->kind = RN_EXPR_COLUMN;
    e->col = col;
    e->type = type;
    return e;
}

static rn_expr_t *mk_const(analyzer_t *an, const rn_type_t *type, rn_value_t v)
{
    rn_expr_t *e = an_alloc(an, sizeof *e);
    if (!e) return NULL;
    e->kind = RN_EXPR_CONST;
    e->type = type;
    e->value = v;
    return e;
}

/* Brings e to type to: NULL literals are retyped, other values get a CAST. */
static rn_expr_t *coerce(analyzer_t *an, rn_expr_t *e, const rn_type_t *to)
{
    if (!e || e->type->id == to->id) return e;
    if (e->kind == RN_EXPR_CONST && e->value.null) return mk_const(an, to, RN_VALUE_NULL);
    rn_expr_t *c = mk_func(an, RN_FN_CAST, to, 1);
    if (c) c->args[0] = e;
    return c;
}

/* ---- relations and scopes -------------------------------------------- */

static const char *join_parts(analyzer_t *an, int n, char *const *parts)
{
    if (n == 1) return parts[0];
    rn_buf_t b;
    rn_buf_init(&b);
    for (int i = 0; i < n; i++) {
        if (i) rn_buf_appendc(&b, '.');
        rn_buf_appends(&b, parts[i]);
    }
    const char *s = b.data ? an_strdup(an, b.data) : NULL;
    rn_buf_free(&b);
    if (!s) an_oom(an);
    return s;
}

/* Finds the relation column a reference names. Returns the index, -1 if
 * there is none (error reported), -2 on ambiguity (error reported). */
static int rel_resolve(analyzer_t *an, const rel_t *rel, const rn_ast_expr_t *ref)
{
    int n = ref->column.nparts;
    char *const *parts = ref->column.parts;
    int found = -1;
    /* t.col or t.row.field: a qualifier first */
    if (n >= 2) {
        const char *name = join_parts(an, n - 1, parts + 1);
        if (!name) return -1;
        for (int i = 0; i < rel->ncols; i++)
            if (rel->cols[i].qualifier && !strcmp(rel->cols[i].qualifier, parts[0]) &&
                !strcmp(rel->cols[i].name, name))
                return i;
    }
    const char *name = join_parts(an, n, parts);
    if (!name) return -1;
    for (int i = 0; i < rel->ncols; i++) {
        if (strcmp(rel->cols[i].name, name)) continue;
        if (found >= 0) {
            an_error(an, ref->pos, "column '%s' is ambiguous", name);
            return -2;
        }
        found = i;
    }
    if (found >= 0) return found;
    /* a ROW column named without a field */
    size_t nl = strlen(name);
    for (int i = 0; i < rel->ncols; i++)
        if (!strncmp(rel->cols[i].name, name, nl) && rel->cols[i].name[nl] == '.') {
            an_error(an, ref->pos,
                     "column '%s' is a ROW; select its fields (e.g. '%s') instead of the whole row",
                     name, rel->cols[i].name);
            return -1;
        }
    const char *best = NULL;
    int bestd = 3;
    for (int i = 0; i < rel->ncols; i++) {
        int d = rn_text_distance(name, rel->cols[i].name);
        if (d < bestd) {
            bestd = d;
            best = rel->cols[i].name;
        }
    }
    if (best) an_error(an, ref->pos, "unknown column '%s'; did you mean '%s'?", name, best);
    else an_error(an, ref->pos, "unknown column '%s'", name);
    return -1;
}

/* Marks a column as needed so the source decodes it. */
static void rel_use(rel_t *rel, int col)
{
    if (rel->source && rel->cols[col].src_col >= 0) rn_source_use_column(rel->source, rel->cols[col].src_col);
}

/* True if rel is a source scan itself (not yet filtered or projected). */
static bool rel_is_source(const rel_t *rel) { return rel->source && rel->op == rel->source; }

/* ---- aggregate detection --------------------------------------------- */

static rn_agg_kind agg_kind_of(const char *name, bool *is_agg)
{
    static const struct {
        const char *name;
        rn_agg_kind kind;
    } aggs[] = {{"COUNT", RN_AGG_COUNT}, {"SUM", RN_AGG_SUM}, {"MIN", RN_AGG_MIN},
                {"MAX", RN_AGG_MAX},     {"AVG", RN_AGG_AVG}, {"FIRST_VALUE", RN_AGG_FIRST_VALUE},
                {"LAST_VALUE", RN_AGG_LAST_VALUE}};
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
    if (e->kind == RN_AST_CALL) agg_kind_of(e->call.name, &is_agg);
    return is_agg;
}

/* Structural equality of two expressions (positions ignored). */
static bool ast_equal(const rn_ast_expr_t *a, const rn_ast_expr_t *b)
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
    case RN_AST_UNARY: return a->unary.op == b->unary.op && ast_equal(a->unary.arg, b->unary.arg);
    case RN_AST_BINARY:
        return a->binary.op == b->binary.op && ast_equal(a->binary.lhs, b->binary.lhs) &&
               ast_equal(a->binary.rhs, b->binary.rhs);
    case RN_AST_BETWEEN:
        return a->between.negated == b->between.negated && a->between.symmetric == b->between.symmetric &&
               ast_equal(a->between.arg, b->between.arg) && ast_equal(a->between.low, b->between.low) &&
               ast_equal(a->between.high, b->between.high);
    case RN_AST_IN:
        if (a->in.negated != b->in.negated || a->in.nitems != b->in.nitems ||
            !ast_equal(a->in.arg, b->in.arg))
            return false;
        for (int i = 0; i < a->in.nitems; i++)
            if (!ast_equal(a->in.items[i], b->in.items[i])) return false;
        return true;
    case RN_AST_LIKE:
        return a->like.negated == b->like.negated && ast_equal(a->like.arg, b->like.arg) &&
               ast_equal(a->like.pattern, b->like.pattern) && ast_equal(a->like.escape, b->like.escape);
    case RN_AST_IS:
        return a->is.negated == b->is.negated && a->is.what == b->is.what && ast_equal(a->is.arg, b->is.arg);
    case RN_AST_CASE:
        if (a->case_.nwhens != b->case_.nwhens || !ast_equal(a->case_.operand, b->case_.operand) ||
            !ast_equal(a->case_.else_, b->case_.else_))
            return false;
        for (int i = 0; i < a->case_.nwhens; i++)
            if (!ast_equal(a->case_.whens[i], b->case_.whens[i]) ||
                !ast_equal(a->case_.thens[i], b->case_.thens[i]))
                return false;
        return true;
    case RN_AST_CAST:
        return a->cast.try_cast == b->cast.try_cast && a->cast.type->id == b->cast.type->id &&
               ast_equal(a->cast.arg, b->cast.arg);
    case RN_AST_CALL:
        if (strcasecmp(a->call.name, b->call.name) || a->call.distinct != b->call.distinct ||
            a->call.star != b->call.star || a->call.nargs != b->call.nargs)
            return false;
        for (int i = 0; i < a->call.nargs; i++)
            if (!ast_equal(a->call.args[i], b->call.args[i])) return false;
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

typedef struct agg_collect {
    analyzer_t *an;
    scope_t *sc;
    bool inside;                /* below an aggregate call */
} agg_collect_t;

static void collect_aggs(void *ud, const rn_ast_expr_t *e)
{
    agg_collect_t *c = ud;
    if (c->an->failed) return;
    if (is_agg_call(e)) {
        if (c->inside) {
            an_error(c->an, e->pos, "aggregate function calls cannot be nested");
            return;
        }
        for (int i = 0; i < c->sc->naggs; i++)
            if (ast_equal(c->sc->agg_calls[i], e)) return;
        if (c->sc->naggs == RN_MAX_AGGS) {
            an_error(c->an, e->pos, "too many aggregates in one query (at most %d)", RN_MAX_AGGS);
            return;
        }
        c->sc->agg_calls[c->sc->naggs++] = e;
        c->inside = true;
        ast_children(e, collect_aggs, c);
        c->inside = false;
        return;
    }
    ast_children(e, collect_aggs, c);
}

static bool contains_agg(const rn_ast_expr_t *e);

static void contains_agg_visit(void *ud, const rn_ast_expr_t *e)
{
    if (contains_agg(e)) *(bool *)ud = true;
}

static bool contains_agg(const rn_ast_expr_t *e)
{
    if (is_agg_call(e)) return true;
    bool found = false;
    ast_children(e, contains_agg_visit, &found);
    return found;
}

/* ---- binding expressions --------------------------------------------- */

static rn_expr_t *bind(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e);

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
        out[i] = bind(an, sc, asts[i]);
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
        if (!(out[i] = coerce(an, out[i], t))) return false;
    *type = t;
    return true;
}

static rn_expr_t *bind_boolean(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e, const char *what)
{
    rn_expr_t *x = bind(an, sc, e);
    if (!x) return NULL;
    if (x->type->id == RN_TYPE_NULL) return coerce(an, x, &rn_type_boolean);
    if (x->type->id != RN_TYPE_BOOLEAN) {
        an_error(an, e->pos, "%s must be BOOLEAN, not %s", what, rn_type_name(x->type->id));
        return NULL;
    }
    return x;
}

static rn_expr_t *bind_literal(analyzer_t *an, const rn_ast_expr_t *e)
{
    switch (e->lit.kind) {
    case RN_LIT_NULL: return mk_const(an, &rn_type_null, RN_VALUE_NULL);
    case RN_LIT_BOOL: return mk_const(an, &rn_type_boolean, rn_value_bool(e->lit.b));
    case RN_LIT_INT:
        return mk_const(an, e->lit.i >= INT32_MIN && e->lit.i <= INT32_MAX ? &rn_type_int : &rn_type_bigint,
                        rn_value_int(e->lit.i));
    case RN_LIT_DOUBLE: return mk_const(an, &rn_type_double, rn_value_double(e->lit.d));
    case RN_LIT_STRING: {
        char *s = rn_arena_strndup(&an->p->plan_arena, e->lit.s, e->lit.len);
        if (!s) {
            an_oom(an);
            return NULL;
        }
        return mk_const(an, &rn_type_string, rn_value_str(s, (uint32_t)e->lit.len));
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
        f->args[0] = bind_boolean(an, sc, e->binary.lhs, "an operand of AND/OR");
        f->args[1] = f->args[0] ? bind_boolean(an, sc, e->binary.rhs, "an operand of AND/OR") : NULL;
        return f->args[1] ? f : NULL;
    }
    if (op == RN_AST_OP_CONCAT) {
        rn_expr_t *f = mk_func(an, RN_FN_CONCAT, &rn_type_string, 2);
        if (!f) return NULL;
        const rn_ast_expr_t *sides[2] = {e->binary.lhs, e->binary.rhs};
        for (int i = 0; i < 2; i++) {
            rn_expr_t *x = bind(an, sc, sides[i]);
            if (!x || !(f->args[i] = coerce(an, x, &rn_type_string))) return NULL;
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
        rn_expr_t *ts = bind(an, sc, other);
        if (!ts) return NULL;
        rn_type_id tid = ts->type->id;
        if (tid == RN_TYPE_NULL) {
            ts = coerce(an, ts, &rn_type_timestamp);
        } else if (tid != RN_TYPE_TIMESTAMP && tid != RN_TYPE_TIMESTAMP_LTZ) {
            an_error(an, other->pos,
                     "an INTERVAL can only be added to or subtracted from a timestamp, not %s", rn_type_name(tid));
            return NULL;
        }
        rn_func_id fn = op == RN_AST_OP_ADD ? RN_FN_TS_ADD_MS : RN_FN_TS_SUB_MS;
        rn_expr_t *f = ts ? mk_func(an, fn, ts->type, 2) : NULL;
        if (!f) return NULL;
        f->args[0] = ts;
        f->args[1] = mk_const(an, &rn_type_bigint, rn_value_int(iv->interval.ms));
        return f->args[1] ? f : NULL;
    }
    rn_expr_t *args[2];
    const rn_type_t *t;
    const rn_ast_expr_t *sides[2] = {e->binary.lhs, e->binary.rhs};
    char what[64];
    snprintf(what, sizeof what, "operator '%s'", op_symbol(op));
    args[0] = bind(an, sc, sides[0]);
    args[1] = args[0] ? bind(an, sc, sides[1]) : NULL;
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
    f->args[0] = coerce(an, args[0], t);
    f->args[1] = coerce(an, args[1], t);
    return f->args[0] && f->args[1] ? f : NULL;
}

static rn_expr_t *bind_call(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e)
{
    const char *name = e->call.name;
    if (is_agg_call(e)) {
        if (sc->agg_mode) {
            for (int i = 0; i < sc->naggs; i++)
                if (ast_equal(sc->agg_calls[i], e)) {
                    rn_expr_t *c = mk_column(an, sc->ngroup + i, sc->out_schema->cols[sc->ngroup + i].type);
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
        args[0] = bind_boolean(an, sc, e->call.args[0], "the condition of IF");
        if (!args[0]) return NULL;
        if (!bind_common(an, sc, 2, (const rn_ast_expr_t *const *)e->call.args + 1, args + 1, &t, "IF")) return NULL;
        break;
    }
    default:
        for (int i = 0; i < n; i++)
            if (!(args[i] = bind(an, sc, e->call.args[i]))) return NULL;
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
        if (to_ && !(args[i] = coerce(an, args[i], to_))) return NULL;                           \
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
        if (args[0]->type->id == RN_TYPE_NULL) args[0] = coerce(an, args[0], &rn_type_double);
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
            if (!(args[i] = coerce(an, args[i], c))) return NULL;
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
        args[1] = mk_const(an, &rn_type_int, rn_value_int(p ? p->value.i : 3));
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
                !(args[0] = coerce(an, args[0], &rn_type_timestamp)))
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
            if (!(args[1] = coerce(an, args[1], &rn_type_string))) return NULL;
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
        if (!(x->args[i] = coerce(an, args[i], args[i]->type->id == RN_TYPE_NULL ? result : args[i]->type))) return NULL;
    return x;
}

static rn_expr_t *bind_case(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e)
{
    int nw = e->case_.nwhens;
    bool has_else = e->case_.else_ != NULL;
    rn_expr_t *f = mk_func(an, RN_FN_CASE, &rn_type_null, nw * 2 + (has_else ? 1 : 0));
    if (!f) return NULL;
    rn_expr_t *operand = e->case_.operand ? bind(an, sc, e->case_.operand) : NULL;
    if (e->case_.operand && !operand) return NULL;
    for (int i = 0; i < nw; i++) {
        if (operand) {
            rn_expr_t *w = bind(an, sc, e->case_.whens[i]);
            if (!w) return NULL;
            const rn_type_t *t = common_type(operand->type, w->type);
            if (!t || t->id == RN_TYPE_ROW) {
                an_error(an, e->case_.whens[i]->pos, "CASE: cannot compare %s with %s",
                         rn_type_name(operand->type->id), rn_type_name(w->type->id));
                return NULL;
            }
            rn_expr_t *eq = mk_func(an, RN_FN_EQ, &rn_type_boolean, 2);
            if (!eq) return NULL;
            eq->args[0] = coerce(an, operand, t);
            eq->args[1] = coerce(an, w, t);
            f->args[i * 2] = eq;
        } else {
            f->args[i * 2] = bind_boolean(an, sc, e->case_.whens[i], "a WHEN condition");
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
    for (int i = 0; i < nw; i++) f->args[i * 2 + 1] = coerce(an, bound[i], t);
    if (has_else) f->args[nw * 2] = coerce(an, bound[nw], t);
    f->type = t;
    return f;
}

static rn_expr_t *bind(analyzer_t *an, scope_t *sc, const rn_ast_expr_t *e)
{
    if (an->failed) return NULL;
    /* In an aggregate query, a whole GROUP BY expression becomes a key column. */
    if (sc->agg_mode && e->kind != RN_AST_LITERAL) {
        for (int g = 0; g < sc->ngroup; g++) {
            bool same = ast_equal(sc->group_asts[g], e);
            if (!same && e->kind == RN_AST_COLUMN && sc->group_cols[g] >= 0) {
                int c = rel_resolve(an, sc->rel, e);
                if (c < 0) return NULL;
                same = c == sc->group_cols[g];
            }
            if (same) return mk_column(an, g, sc->out_schema->cols[g].type);
        }
    }
    switch (e->kind) {
    case RN_AST_LITERAL: return bind_literal(an, e);
    case RN_AST_COLUMN: {
        int c = rel_resolve(an, sc->rel, e);
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
        rel_use(sc->rel, c);
        return mk_column(an, c, sc->rel->cols[c].type);
    }
    case RN_AST_STAR:
        an_error(an, e->pos, "'*' is only allowed in a select list or COUNT(*)");
        return NULL;
    case RN_AST_UNARY: {
        if (e->unary.op == RN_AST_OP_NOT) {
            rn_expr_t *f = mk_func(an, RN_FN_NOT, &rn_type_boolean, 1);
            if (!f || !(f->args[0] = bind_boolean(an, sc, e->unary.arg, "the operand of NOT"))) return NULL;
            return f;
        }
        rn_expr_t *x = bind(an, sc, e->unary.arg);
        if (!x) return NULL;
        if (x->type->id == RN_TYPE_NULL) x = coerce(an, x, &rn_type_int);
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
            for (int i = 0; i < 3; i++) a[i] = coerce(an, a[i], &rn_type_int);
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
            rn_expr_t *x = bind(an, sc, parts[i]);
            if (!x) return NULL;
            if (x->type->id != RN_TYPE_STRING && x->type->id != RN_TYPE_NULL) {
                an_error(an, parts[i]->pos, "LIKE needs STRING operands, not %s", rn_type_name(x->type->id));
                return NULL;
            }
            f->args[i] = coerce(an, x, &rn_type_string);
        }
        return f;
    }
    case RN_AST_IS: {
        rn_expr_t *x = bind(an, sc, e->is.arg);
        if (!x) return NULL;
        rn_func_id fn;
        if (e->is.what == RN_IS_NULL || e->is.what == RN_IS_UNKNOWN) {
            if (e->is.what == RN_IS_UNKNOWN && x->type->id != RN_TYPE_BOOLEAN && x->type->id != RN_TYPE_NULL) {
                an_error(an, e->pos, "IS UNKNOWN needs a BOOLEAN operand, not %s", rn_type_name(x->type->id));
                return NULL;
            }
            fn = e->is.negated ? RN_FN_IS_NOT_NULL : RN_FN_IS_NULL;
            if (x->type->id == RN_TYPE_NULL) x = coerce(an, x, &rn_type_boolean);
        } else {
            if (x->type->id != RN_TYPE_BOOLEAN && x->type->id != RN_TYPE_NULL) {
                an_error(an, e->pos, "IS TRUE/FALSE needs a BOOLEAN operand, not %s", rn_type_name(x->type->id));
                return NULL;
            }
            x = coerce(an, x, &rn_type_boolean);
            if (e->is.what == RN_IS_TRUE) fn = e->is.negated ? RN_FN_IS_NOT_TRUE : RN_FN_IS_TRUE;
            else fn = e->is.negated ? RN_FN_IS_NOT_FALSE : RN_FN_IS_FALSE;
        }
        rn_expr_t *f = mk_func(an, fn, &rn_type_boolean, 1);
        if (f) f->args[0] = x;
        return f;
    }
    case RN_AST_CASE: return bind_case(an, sc, e);
    case RN_AST_CAST: {
        rn_expr_t *x = bind(an, sc, e->cast.arg);
        if (!x) return NULL;
        if (e->cast.type->id == RN_TYPE_ROW || x->type->id == RN_TYPE_ROW) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, e->pos, "CAST to or from ROW is not supported");
            return NULL;
        }
        const rn_type_t *to = rn_type_scalar(e->cast.type->id);
        if (x->type->id == to->id) return x;
        if (x->kind == RN_EXPR_CONST && x->value.null) return mk_const(an, to, RN_VALUE_NULL);
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

/* ---- FROM ------------------------------------------------------------- */

static bool compile_query(analyzer_t *an, const rn_ast_query_t *q, rel_t *out);

static table_def_t *find_table(rn_pipeline_t *p, const char *name)
{
    for (int i = 0; i < p->ntables; i++)
        if (!strcmp(p->tables[i].name, name)) return &p->tables[i];
    return NULL;
}

static view_def_t *find_view(analyzer_t *an, const char *name)
{
    for (int i = an->nctes - 1; i >= 0; i--)
        if (!strcmp(an->ctes[i].name, name)) return &an->ctes[i];
    for (int i = 0; i < an->p->nviews; i++)
        if (!strcmp(an->p->views[i].name, name)) return &an->p->views[i];
    return NULL;
}

/* The shared scan of a source table, created on first use. */
static rn_op_t *table_source(analyzer_t *an, table_def_t *t, rn_pos_t pos)
{
    if (t->source && !an->check_only) return t->source;
    if (!(t->conn->roles & RN_ROLE_SOURCE)) {
        an_error(an, pos, "table '%s' uses connector '%s', which can only be written to", t->name, t->conn->name);
        return NULL;
    }
    if (t->conn->sink_mode == RN_SINK_UPSERT) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, pos, "reading upsert table '%s' (connector '%s') is not supported yet", t->name, t->conn->name);
        return NULL;
    }
    rn_buf_t d;
    rn_buf_init(&d);
    rn_buf_appendf(&d, "%s", t->conn->name);
    if (t->conn->describe) {
        rn_buf_appends(&d, " ");
        t->conn->describe(t->conf, &d);
    }
    rn_op_t *op = an_track(an, rn_source_new(t->schema, t->name, d.data ? d.data : ""));
    rn_buf_free(&d);
    if (!op) return NULL;
    for (int c = 0; c < t->schema->ncols; c++)
        if (rn_source_set_path(op, c, t->nparts[c], (const char *const *)t->parts[c]) != RN_OK) {
            an_oom(an);
            return NULL;
        }
    for (int c = 0; t->origin && c < t->schema->ncols; c++) rn_source_set_origin(op, c, t->origin[c]);
    for (int c = 0; t->computed && c < t->schema->ncols; c++)
        if (t->computed[c]) rn_source_set_computed(op, c, t->computed[c]);
    if (t->rowtime >= 0 && t->wm_expr) {
        rn_watermark_spec_t w = {.rowtime_col = t->rowtime, .expr = t->wm_expr,
                                 .idle_timeout_ms = t->idle_timeout_ms, .quiet_timeout_ms = t->quiet_timeout_ms};
        rn_source_set_watermark(op, &w);
    }
    if (an->check_only) return op; /* a private scan that is never fed */
    t->source = op;
    rn_op_t **s = rn_realloc(an->p->sources, sizeof *s * (size_t)(an->p->nsources + 1));
    if (!s) {
        an_oom(an);
        return NULL;
    }
    s[an->p->nsources++] = op;
    an->p->sources = s;
    return op;
}

/* Gives every column of rel the qualifier q. */
static void rel_qualify(rel_t *rel, const char *q)
{
    for (int i = 0; i < rel->ncols; i++) rel->cols[i].qualifier = q;
}

static bool rel_from_schema(analyzer_t *an, rel_t *rel, rn_op_t *op, const char *qualifier)
{
    rel->op = op;
    rel->ncols = op->schema->ncols;
    rel->cols = an_alloc(an, sizeof(rel_col_t) * (size_t)(rel->ncols ? rel->ncols : 1));
    if (!rel->cols) return false;
    for (int i = 0; i < rel->ncols; i++) {
        rel->cols[i].name = op->schema->cols[i].name;
        rel->cols[i].type = op->schema->cols[i].type;
        rel->cols[i].qualifier = qualifier;
        rel->cols[i].src_col = -1;
    }
    rel->source = NULL;
    rel->window = NULL;
    return true;
}

static bool compile_from(analyzer_t *an, const rn_ast_from_t *f, rel_t *out);

/* Appends the virtual window_start, window_end and window_time columns of
 * a window TVF to rel. */
static bool rel_add_window_cols(analyzer_t *an, rel_t *rel, rel_window_t *w)
{
    rel_col_t *cols = an_alloc(an, sizeof *cols * (size_t)(rel->ncols + 3));
    if (!cols) return false;
    memcpy(cols, rel->cols, sizeof *cols * (size_t)rel->ncols);
    static const char *names[] = {"window_start", "window_end", "window_time"};
    const char *q = rel->ncols ? rel->cols[0].qualifier : NULL;
    for (int i = 0; i < 3; i++) {
        rel_col_t *c = &cols[rel->ncols + i];
        memset(c, 0, sizeof *c);
        c->qualifier = q;
        c->name = names[i];
        c->type = &rn_type_timestamp;
        c->src_col = -1;
        c->window_col = i + 1;
        c->rowtime = i == 2;
    }
    rel->cols = cols;
    rel->ncols += 3;
    rel->window = w;
    return true;
}

/* An INTERVAL argument of a window TVF, in ms (> 0 unless zero_ok). */
static bool tvf_interval(analyzer_t *an, const rn_ast_expr_t *fn, int i, bool zero_ok, const char *what, int64_t *ms)
{
    const rn_ast_expr_t *a = fn->call.args[i];
    if (a->kind != RN_AST_INTERVAL) {
        an_error(an, a->pos, "argument %d of %s (the %s) must be an INTERVAL, e.g. INTERVAL '10' SECOND", i + 1,
                 fn->call.name, what);
        return false;
    }
    if (a->interval.ms < 0 || (a->interval.ms == 0 && !zero_ok)) {
        an_error(an, a->pos, "the %s of %s must be positive", what, fn->call.name);
        return false;
    }
    *ms = a->interval.ms;
    return true;
}

/* TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset])), HOP(..., slide,
 * size [, offset]), SESSION(TABLE t [PARTITION BY k], DESCRIPTOR(ts), gap):
 * t's columns plus the virtual window columns (docs/event-time.md). */
static bool compile_window_tvf(analyzer_t *an, const rn_ast_expr_t *fn, rel_t *out)
{
    const char *name = fn->call.name;
    rel_window_t *w = an_alloc(an, sizeof *w);
    if (!w) return false;
    w->pos = fn->pos;
    int min, max;
    if (!strcasecmp(name, "TUMBLE")) w->kind = RN_WINDOW_TUMBLE, w->fn = "TUMBLE", min = 3, max = 4;
    else if (!strcasecmp(name, "HOP")) w->kind = RN_WINDOW_HOP, w->fn = "HOP", min = 4, max = 5;
    else if (!strcasecmp(name, "SESSION")) w->kind = RN_WINDOW_SESSION, w->fn = "SESSION", min = 3, max = 3;
    else {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, fn->pos, "window function %s is not supported (runnel has TUMBLE, HOP and SESSION)", name);
        return false;
    }
    int n = fn->call.nargs;
    if (n < min || n > max) {
        an_error(an, fn->pos, "%s takes %d%s arguments: %s", w->fn, min, max > min ? " or more" : "",
                 w->kind == RN_WINDOW_TUMBLE ? "TABLE t, DESCRIPTOR(time_col), size [, offset]"
                 : w->kind == RN_WINDOW_HOP  ? "TABLE t, DESCRIPTOR(time_col), slide, size [, offset]"
                                             : "TABLE t [PARTITION BY cols], DESCRIPTOR(time_col), gap");
        return false;
    }
    const rn_ast_expr_t *targ = fn->call.args[0];
    if (targ->kind != RN_AST_TABLE_ARG) {
        an_error(an, targ->pos, "the first argument of %s must be TABLE name", w->fn);
        return false;
    }
    if (targ->table_arg.npartition && w->kind != RN_WINDOW_SESSION) {
        an_error(an, targ->pos, "PARTITION BY is only for SESSION windows");
        return false;
    }
    rn_ast_from_t from = {.kind = RN_AST_FROM_TABLE, .pos = targ->pos};
    from.table.name = targ->table_arg.table;
    if (!compile_from(an, &from, out)) return false;
    if (out->updating) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, targ->pos, "%s needs an insert-only input; '%s' carries updates", w->fn, targ->table_arg.table);
        return false;
    }
    const rn_ast_expr_t *d = fn->call.args[1];
    if (d->kind != RN_AST_CALL || strcasecmp(d->call.name, "DESCRIPTOR") || d->call.nargs != 1 ||
        d->call.args[0]->kind != RN_AST_COLUMN) {
        an_error(an, d->pos, "the second argument of %s must be DESCRIPTOR(time_column)", w->fn);
        return false;
    }
    int c = rel_resolve(an, out, d->call.args[0]);
    if (c < 0) return false;
    if (!out->cols[c].rowtime) {
        an_error(an, d->call.args[0]->pos,
                 "column '%s' is not an event-time attribute of '%s'; declare WATERMARK FOR %s AS ... in its table",
                 out->cols[c].name, targ->table_arg.table, out->cols[c].name);
        return false;
    }
    rel_use(out, c);
    w->time_col = c;
    bool ok;
    switch (w->kind) {
    case RN_WINDOW_TUMBLE:
        ok = tvf_interval(an, fn, 2, false, "size", &w->size_ms) &&
             (n < 4 || tvf_interval(an, fn, 3, true, "offset", &w->offset_ms));
        break;
    case RN_WINDOW_HOP:
        ok = tvf_interval(an, fn, 2, false, "slide", &w->slide_ms) &&
             tvf_interval(an, fn, 3, false, "size", &w->size_ms) &&
             (n < 5 || tvf_interval(an, fn, 4, true, "offset", &w->offset_ms));
        if (ok && w->size_ms % w->slide_ms) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, fn->call.args[3]->pos, "the size of HOP must be a multiple of its slide");
            ok = false;
        }
        break;
    default:
        ok = tvf_interval(an, fn, 2, false, "gap", &w->size_ms);
        break;
    }
    if (!ok) return false;
    if (targ->table_arg.npartition > RN_MAX_GROUP) {
        an_error(an, targ->pos, "too many PARTITION BY columns");
        return false;
    }
    for (int i = 0; i < targ->table_arg.npartition; i++) {
        const rn_ast_expr_t *k = targ->table_arg.partition_by[i];
        if (k->kind != RN_AST_COLUMN) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, k->pos, "PARTITION BY takes column names");
            return false;
        }
        int kc = rel_resolve(an, out, k);
        if (kc < 0) return false;
        w->partition[w->npartition++] = kc;
    }
    return rel_add_window_cols(an, out, w);
}

static bool compile_from(analyzer_t *an, const rn_ast_from_t *f, rel_t *out)
{
    memset(out, 0, sizeof *out);
    switch (f->kind) {
    case RN_AST_FROM_TABLE: {
        if (f->table.system_time) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, f->pos, "FOR SYSTEM_TIME AS OF (lookup joins) is not supported yet");
            return false;
        }
        const char *q = f->alias ? f->alias : f->table.name;
        view_def_t *v = find_view(an, f->table.name);
        if (v) {
            if (v->compiling) {
                an_error(an, f->pos, "view '%s' refers to itself", v->name);
                return false;
            }
            v->compiling = true;
            v->used = true;
            bool ok = compile_query(an, v->query, out);
            v->compiling = false;
            if (!ok) return false;
            if (v->ncols) {
                if (v->ncols != out->ncols) {
                    an_error(an, v->pos, "view '%s' lists %d columns but its query has %d", v->name, v->ncols,
                             out->ncols);
                    return false;
                }
                for (int i = 0; i < out->ncols; i++) out->cols[i].name = v->cols[i];
            }
            rel_qualify(out, q);
            return true;
        }
        table_def_t *t = find_table(an->p, f->table.name);
        if (!t) {
            an_error(an, f->pos, "unknown table or view '%s'", f->table.name);
            return false;
        }
        rn_op_t *src = table_source(an, t, f->pos);
        if (!src || !rel_from_schema(an, out, src, q)) return false;
        out->source = src;
        for (int i = 0; i < out->ncols; i++) out->cols[i].src_col = i;
        if (t->rowtime >= 0 && t->wm_expr) out->cols[t->rowtime].rowtime = true;
        out->updating = false;
        return true;
    }
    case RN_AST_FROM_SUBQUERY:
        if (!compile_query(an, f->subquery, out)) return false;
        rel_qualify(out, f->alias);
        return true;
    case RN_AST_FROM_JOIN:
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, f->pos, "joins are not supported yet");
        return false;
    case RN_AST_FROM_TVF:
        if (!compile_window_tvf(an, f->tvf, out)) return false;
        if (f->alias) rel_qualify(out, f->alias);
        return true;
    }
    return false;
}

/* ---- SELECT ------------------------------------------------------------ */

/* Appends a Calc to rel (predicate and/or projection) and makes rel its
 * output. names/types describe the projection (NULL: pass through). */
static bool rel_calc(analyzer_t *an, rel_t *rel, rn_expr_t *pred, int n, rn_expr_t **exprs,
                     const char **names)
{
    rn_schema_t *schema = NULL;
    if (exprs) {
        schema = rn_schema_new(n);
        if (!schema) {
            an_oom(an);
            return false;
        }
        for (int i = 0; i < n; i++)
            if (rn_schema_set(schema, i, names[i], exprs[i]->type) != 0) {
                rn_schema_unref(schema);
                an_oom(an);
                return false;
            }
    }
    rn_op_t *op = an_track(an, rn_calc_new(rel->op, pred, n, (const rn_expr_t *const *)exprs, schema));
    rn_schema_unref(schema);
    if (!op || !an_connect(an, rel->op, op)) return false;
    bool updating = rel->updating;
    const rel_col_t *old = rel->cols;
    rel_window_t *window = rel->window;
    int oldn = rel->ncols - (window ? 3 : 0); /* window columns are virtual */
    rn_op_t *source = rel->source;
    if (!rel_from_schema(an, rel, op, NULL)) return false;
    rel->source = source;
    if (!exprs) { /* a filter keeps qualifiers and the column lineage */
        for (int i = 0; i < oldn; i++) {
            rel->cols[i].qualifier = old[i].qualifier;
            rel->cols[i].src_col = old[i].src_col;
            rel->cols[i].rowtime = old[i].rowtime;
        }
        if (window && !rel_add_window_cols(an, rel, window)) return false;
    } else {
        for (int i = 0; i < n; i++)
            if (exprs[i]->kind == RN_EXPR_COLUMN) {
                rel->cols[i].src_col = old[exprs[i]->col].src_col;
                rel->cols[i].rowtime = old[exprs[i]->col].rowtime;
            }
    }
    rel->updating = updating;
    return true;
}

/* True if projecting exprs/names over rel would change nothing: each
 * output column is the input column at the same position, same name. */
static bool is_identity(const rel_t *rel, int n, rn_expr_t *const *exprs, const char *const *names)
{
    if (n != rel->ncols) return false;
    for (int i = 0; i < n; i++)
        if (exprs[i]->kind != RN_EXPR_COLUMN || exprs[i]->col != i || strcmp(names[i], rel->cols[i].name))
            return false;
    return true;
}

/* Output name of a select item: alias, column name, or EXPR$i. */
static const char *item_name(analyzer_t *an, const rn_ast_select_item_t *it, int i)
{
    if (it->alias) return it->alias;
    if (it->expr->kind == RN_AST_COLUMN) return it->expr->column.parts[it->expr->column.nparts - 1];
    char buf[32];
    snprintf(buf, sizeof buf, "EXPR$%d", i);
    return an_strdup(an, buf);
}

/* Expands the select list (stars) into expressions and names. */
static bool select_list(analyzer_t *an, scope_t *sc, const rn_ast_query_t *q, int *n, rn_expr_t ***exprs,
                        const char ***names)
{
    int cap = 0;
    for (int i = 0; i < q->select.nitems; i++)
        cap += q->select.items[i].expr->kind == RN_AST_STAR ? sc->rel->ncols : 1;
    *exprs = an_alloc(an, sizeof(rn_expr_t *) * (size_t)(cap ? cap : 1));
    *names = an_alloc(an, sizeof(char *) * (size_t)(cap ? cap : 1));
    if (!*exprs || !*names) return false;
    *n = 0;
    for (int i = 0; i < q->select.nitems; i++) {
        const rn_ast_select_item_t *it = &q->select.items[i];
        if (it->expr->kind == RN_AST_STAR) {
            if (sc->agg_mode) {
                an_error(an, it->pos, "'*' cannot be used with GROUP BY or aggregates");
                return false;
            }
            const char *qual = it->expr->star.qualifier;
            int matched = 0;
            for (int c = 0; c < sc->rel->ncols; c++) {
                if (qual && (!sc->rel->cols[c].qualifier || strcmp(qual, sc->rel->cols[c].qualifier))) continue;
                rel_use(sc->rel, c);
                (*exprs)[*n] = mk_column(an, c, sc->rel->cols[c].type);
                (*names)[(*n)++] = sc->rel->cols[c].name;
                matched++;
            }
            if (qual && !matched) {
                an_error(an, it->pos, "unknown table '%s' in '%s.*'", qual, qual);
                return false;
            }
            continue;
        }
        rn_expr_t *x = bind(an, sc, it->expr);
        if (!x) return false;
        if (x->type->id == RN_TYPE_NULL) x = coerce(an, x, &rn_type_string);
        (*exprs)[*n] = x;
        (*names)[*n] = item_name(an, it, *n);
        (*n)++;
    }
    return !an->failed;
}

/* Name of aggregate a's output column: the select item's alias (or
 * EXPR$i) when the item is exactly that call, else agg$a. */
static const char *agg_column_name(analyzer_t *an, const rn_ast_query_t *q, const rn_ast_expr_t *call, int a)
{
    for (int i = 0; i < q->select.nitems; i++)
        if (ast_equal(q->select.items[i].expr, call)) return item_name(an, &q->select.items[i], i);
    char buf[32];
    snprintf(buf, sizeof buf, "agg$%d", a);
    return an_strdup(an, buf);
}

static bool insert_into(analyzer_t *an, table_def_t *t, const int *target_cols, int ntarget, rel_t *rel,
                        rn_pos_t pos, rn_pos_t query_pos);

/* Sends the late rows of window operator wop to the table named by SET
 * 'runnel.late-rows.table': its columns are taken by name from the
 * window's FROM columns, which sit in wop's input from column `first`. */
static bool window_late_output(analyzer_t *an, rn_op_t *wop, const rel_t *from_rel, int first, int nfrom)
{
    table_def_t *t = find_table(an->p, an->late_table);
    if (!t) {
        an_error(an, an->late_table_pos, "'runnel.late-rows.table' names '%s', which is not a table", an->late_table);
        return false;
    }
    if (t->conn->sink_mode == RN_SINK_UPSERT) {
        an_error(an, an->late_table_pos, "late rows go to an append table; '%s' is an upsert table", t->name);
        return false;
    }
    /* A pass-through port fed only by the window operator's late rows. */
    rn_op_t *port = an_track(an, rn_calc_new(wop->input, NULL, 0, NULL, NULL));
    if (!port) return false;
    rn_window_set_late_output(wop, port);
    int n = t->schema->ncols;
    rn_expr_t **exprs = an_alloc(an, sizeof *exprs * (size_t)(n + 1));
    const char **names = an_alloc(an, sizeof *names * (size_t)(n + 1));
    int *target = an_alloc(an, sizeof(int) * (size_t)(n + 1));
    if (!exprs || !names || !target) return false;
    int ntarget = 0;
    for (int c = 0; c < n; c++) {
        if (t->origin && t->origin[c] > RN_FROM_KEY) continue;
        const rn_type_t *to = t->schema->cols[c].type;
        rn_expr_t *x = NULL;
        for (int i = 0; i < nfrom && !x; i++)
            if (!strcmp(from_rel->cols[i].name, t->schema->cols[c].name)) {
                if (!assignable(from_rel->cols[i].type, to)) {
                    an_error(an, an->late_table_pos, "late rows: column '%s' (%s) cannot be written to '%s' (%s) of '%s'",
                             from_rel->cols[i].name, rn_type_name(from_rel->cols[i].type->id), t->schema->cols[c].name,
                             rn_type_name(to->id), t->name);
                    return false;
                }
                x = coerce(an, mk_column(an, first + i, from_rel->cols[i].type), to);
                if (!x) return false;
            }
        exprs[ntarget] = x ? x : mk_const(an, to, RN_VALUE_NULL);
        names[ntarget] = t->schema->cols[c].name;
        target[ntarget] = c;
        if (!exprs[ntarget++]) return false;
    }
    rel_t lrel = {0};
    if (!rel_from_schema(an, &lrel, port, NULL)) return false;
    if (!rel_calc(an, &lrel, NULL, ntarget, exprs, names)) return false;
    return insert_into(an, t, target, ntarget, &lrel, an->late_table_pos, an->late_table_pos);
}

/* The windowed GROUP BY of a window TVF: pre-projects [other keys, agg
 * arguments, rowtime (, the FROM columns for late rows)], runs a
 * WindowAggregate, then reorders its [window_start, window_end,
 * window_time, keys, aggregates] into [GROUP BY items, aggregates] so the
 * select list binds as for any aggregate. */
static bool window_aggregate(analyzer_t *an, scope_t *sc, const rn_ast_query_t *q, rel_t *rel,
                             const rel_t *from_rel, rn_expr_t **pre, const char **pre_names, int npre, int nkeys,
                             const rn_agg_spec_t *specs, int ngroup, const int *wcol, const int *key_of,
                             const char **gnames, rn_schema_t **out_schema, rel_t *grel)
{
    rel_window_t *win = rel->window;
    int nfrom = rel->ncols - 3; /* the TVF's real columns */
    bool late = an->late_table != NULL && !an->check_only; /* unused views run nowhere */
    int total = npre + 1 + (late ? nfrom : 0);
    rn_expr_t **all = an_alloc(an, sizeof *all * (size_t)total);
    const char **all_names = an_alloc(an, sizeof *all_names * (size_t)total);
    if (!all || !all_names) return false;
    memcpy(all, pre, sizeof *all * (size_t)npre);
    memcpy(all_names, pre_names, sizeof *all_names * (size_t)npre);
    int time_col = npre;
    rel_use(rel, win->time_col);
    all[time_col] = mk_column(an, win->time_col, rel->cols[win->time_col].type);
    all_names[time_col] = rel->cols[win->time_col].name;
    for (int i = 0; late && i < nfrom; i++) {
        rel_use(rel, i);
        all[npre + 1 + i] = mk_column(an, i, rel->cols[i].type);
        all_names[npre + 1 + i] = rel->cols[i].name;
    }
    for (int i = 0; i < total; i++)
        if (!all[i]) return false;
    if (!rel_calc(an, rel, NULL, total, all, all_names)) return false;

    int naggs = sc->naggs;
    rn_schema_t *wschema = rn_schema_new(3 + nkeys + naggs);
    if (!wschema) {
        an_oom(an);
        return false;
    }
    rn_schema_set(wschema, 0, "window_start", &rn_type_timestamp);
    rn_schema_set(wschema, 1, "window_end", &rn_type_timestamp);
    rn_schema_set(wschema, 2, "window_time", &rn_type_timestamp);
    for (int k = 0; k < nkeys; k++) rn_schema_set(wschema, 3 + k, pre_names[k], pre[k]->type);
    for (int a = 0; a < naggs; a++)
        rn_schema_set(wschema, 3 + nkeys + a, agg_column_name(an, q, sc->agg_calls[a], a),
                      rn_type_scalar(specs[a].result_type));
    rn_window_spec_t w = {.kind = win->kind, .time_col = time_col, .size_ms = win->size_ms,
                          .slide_ms = win->slide_ms, .offset_ms = win->offset_ms,
                          .lateness_ms = an->allow_lateness_ms,
                          .early_fire_ms = an->early_fire ? an->early_fire_ms : 0};
    rn_op_t *wop = an_track(an, rn_window_aggregate_new(rel->op, &w, nkeys, naggs, specs, wschema, an->errbuf,
                                                        an->errbuf_size));
    rn_schema_unref(wschema);
    if (!wop || !an_connect(an, rel->op, wop)) return false;
    if (late && !window_late_output(an, wop, from_rel, npre + 1, nfrom)) return false;

    /* [GROUP BY items..., aggregates...] */
    int nout = ngroup + naggs;
    rn_expr_t **ex = an_alloc(an, sizeof *ex * (size_t)(nout + 1));
    const char **names = an_alloc(an, sizeof *names * (size_t)(nout + 1));
    if (!ex || !names) return false;
    for (int g = 0; g < ngroup; g++) {
        int c = wcol[g] ? wcol[g] - 1 : 3 + key_of[g];
        ex[g] = mk_column(an, c, wop->schema->cols[c].type);
        names[g] = gnames[g];
    }
    for (int a = 0; a < naggs; a++) {
        int c = 3 + nkeys + a;
        ex[ngroup + a] = mk_column(an, c, wop->schema->cols[c].type);
        names[ngroup + a] = wop->schema->cols[c].name;
    }
    for (int i = 0; i < nout; i++)
        if (!ex[i]) return false;
    if (!rel_from_schema(an, grel, wop, NULL)) return false;
    grel->updating = wop->updating;
    if (!rel_calc(an, grel, NULL, nout, ex, names)) return false;
    for (int g = 0; g < ngroup; g++) grel->cols[g].rowtime = wcol[g] == 3;
    *out_schema = rn_schema_ref(grel->op->schema);
    return true;
}

static bool compile_select(analyzer_t *an, const rn_ast_query_t *q, rel_t *rel)
{
    if (!q->select.from) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, q->pos, "SELECT without FROM is not supported in a pipeline");
        return false;
    }
    if (!compile_from(an, q->select.from, rel)) return false;
    scope_t sc = {.rel = rel};
    if (q->select.where) {
        sc.where_clause = "in WHERE";
        rn_expr_t *pred = bind_boolean(an, &sc, q->select.where, "the WHERE condition");
        if (!pred || !rel_calc(an, rel, pred, 0, NULL, NULL)) return false;
        sc.where_clause = NULL;
    }

    /* Is this an aggregate query? */
    agg_collect_t col = {.an = an, .sc = &sc};
    for (int i = 0; i < q->select.nitems; i++)
        if (q->select.items[i].expr->kind != RN_AST_STAR) collect_aggs(&col, q->select.items[i].expr);
    if (q->select.having) collect_aggs(&col, q->select.having);
    if (an->failed) return false;
    bool distinct = q->select.distinct;
    bool agg = sc.naggs > 0 || q->select.ngroup > 0 || distinct;
    rel_window_t *win = rel->window;
    if (win && (!agg || distinct)) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, win->pos, "%s without GROUP BY window_start, window_end is not supported yet: "
                 "aggregate the window (see docs/event-time.md)", win->fn);
        return false;
    }

    if (!agg) {
        int n;
        rn_expr_t **exprs;
        const char **names;
        if (!select_list(an, &sc, q, &n, &exprs, &names)) return false;
        /* Skip an identity projection. */
        if (is_identity(rel, n, exprs, names) && !rel_is_source(rel)) return true;
        return rel_calc(an, rel, NULL, n, exprs, names);
    }

    /* GROUP BY: keys (or, for DISTINCT, the select items) */
    const rn_ast_expr_t **group = NULL;
    int ngroup = q->select.ngroup;
    if (distinct) {
        if (ngroup || sc.naggs) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, q->pos, "SELECT DISTINCT with GROUP BY or aggregates is not supported; use GROUP BY");
            return false;
        }
        ngroup = q->select.nitems;
        group = an_alloc(an, sizeof *group * (size_t)(ngroup ? ngroup : 1));
        if (!group) return false;
        for (int i = 0; i < ngroup; i++) {
            if (q->select.items[i].expr->kind == RN_AST_STAR) {
                an->err = RN_ERR_UNSUPPORTED;
                an_error(an, q->select.items[i].pos, "SELECT DISTINCT * is not supported; list the columns");
                return false;
            }
            group[i] = q->select.items[i].expr;
        }
    } else {
        group = (const rn_ast_expr_t **)q->select.group_by;
    }
    if (ngroup > RN_MAX_GROUP) {
        an_error(an, q->pos, "too many GROUP BY expressions (at most %d)", RN_MAX_GROUP);
        return false;
    }
    /* pre-projection: keys then aggregate arguments */
    int npre = ngroup + sc.naggs;
    rn_expr_t **pre = an_alloc(an, sizeof *pre * (size_t)(npre ? npre : 1));
    const char **pre_names = an_alloc(an, sizeof *pre_names * (size_t)(npre ? npre : 1));
    rn_agg_spec_t specs[RN_MAX_AGGS];
    if (!pre || !pre_names) return false;
    int npre_used = 0;
    int wcol[RN_MAX_GROUP];     /* per GROUP BY item: its window column (1..3), or 0 */
    int key_of[RN_MAX_GROUP];   /* per GROUP BY item: its index among the other keys */
    const char *gnames[RN_MAX_GROUP];
    for (int g = 0; g < ngroup; g++) {
        if (contains_agg(group[g])) {
            an_error(an, group[g]->pos, "aggregate functions are not allowed in GROUP BY");
            return false;
        }
        wcol[g] = 0;
        key_of[g] = npre_used;
        if (win && group[g]->kind == RN_AST_COLUMN) {
            int c = rel_resolve(an, rel, group[g]);
            if (c < 0) return false;
            if (rel->cols[c].window_col) {
                wcol[g] = rel->cols[c].window_col;
                gnames[g] = rel->cols[c].name;
                sc.group_asts[g] = group[g];
                sc.group_cols[g] = c;
                continue;
            }
            if (win->kind == RN_WINDOW_SESSION) {
                bool in_partition = false;
                for (int k = 0; k < win->npartition; k++) in_partition |= win->partition[k] == c;
                if (!in_partition) {
                    an->err = RN_ERR_UNSUPPORTED;
                    an_error(an, group[g]->pos, "GROUP BY of a SESSION window takes window_start, window_end and "
                             "exactly its PARTITION BY columns; '%s' is not one of them", rel->cols[c].name);
                    return false;
                }
            }
        } else if (win && win->kind == RN_WINDOW_SESSION) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, group[g]->pos, "GROUP BY of a SESSION window takes window_start, window_end and "
                     "exactly its PARTITION BY columns");
            return false;
        }
        if (group[g]->kind == RN_AST_LITERAL && group[g]->lit.kind == RN_LIT_INT && !distinct) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, group[g]->pos, "GROUP BY by position is not supported; name the column");
            return false;
        }
        rn_expr_t *x = bind(an, &sc, group[g]);
        if (!x) return false;
        if (x->type->id == RN_TYPE_NULL) x = coerce(an, x, &rn_type_string);
        sc.group_asts[g] = group[g];
        sc.group_cols[g] = group[g]->kind == RN_AST_COLUMN ? rel_resolve(an, rel, group[g]) : -1;
        pre[npre_used] = x;
        if (group[g]->kind == RN_AST_COLUMN) pre_names[npre_used] = rel->cols[sc.group_cols[g]].name;
        else if (distinct) pre_names[npre_used] = item_name(an, &q->select.items[g], g);
        else {
            char buf[32];
            snprintf(buf, sizeof buf, "EXPR$%d", g);
            pre_names[npre_used] = an_strdup(an, buf);
        }
        gnames[g] = pre_names[npre_used];
        npre_used++;
    }
    int nkeys = npre_used;
    if (win) {
        bool has_start = false, has_end = false;
        for (int g = 0; g < ngroup; g++) has_start |= wcol[g] == 1, has_end |= wcol[g] == 2;
        if (!has_start || !has_end) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, q->pos, "a %s aggregate must GROUP BY window_start and window_end", win->fn);
            return false;
        }
        if (win->kind == RN_WINDOW_SESSION && nkeys != win->npartition) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, q->pos, "GROUP BY of a SESSION window takes window_start, window_end and exactly its "
                     "PARTITION BY columns (%d of them)", win->npartition);
            return false;
        }
    }
    sc.ngroup = ngroup;
    for (int a = 0; a < sc.naggs; a++) {
        const rn_ast_expr_t *call = sc.agg_calls[a];
        bool is_agg;
        rn_agg_kind kind = agg_kind_of(call->call.name, &is_agg);
        rn_agg_spec_t *s = &specs[a];
        memset(s, 0, sizeof *s);
        if (strcasecmp(call->call.name, "COUNT") && strcasecmp(call->call.name, "SUM") &&
            strcasecmp(call->call.name, "MIN") && strcasecmp(call->call.name, "MAX") &&
            strcasecmp(call->call.name, "AVG") && strcasecmp(call->call.name, "FIRST_VALUE") &&
            strcasecmp(call->call.name, "LAST_VALUE")) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, call->pos, "aggregate function %s is not supported yet", call->call.name);
            return false;
        }
        if (call->call.star) {
            if (kind != RN_AGG_COUNT) {
                an_error(an, call->pos, "only COUNT accepts '*'");
                return false;
            }
            s->kind = RN_AGG_COUNT_STAR;
            s->arg = -1;
            s->result_type = RN_TYPE_BIGINT;
            continue;
        }
        if (call->call.nargs != 1) {
            an_error(an, call->pos, "%s takes exactly one argument", call->call.name);
            return false;
        }
        if (call->call.distinct && kind != RN_AGG_COUNT) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, call->pos, "DISTINCT is supported in COUNT only");
            return false;
        }
        scope_t argsc = {.rel = rel, .where_clause = "inside another aggregate"};
        rn_expr_t *x = bind(an, &argsc, call->call.args[0]);
        if (!x) return false;
        rn_type_id t = x->type->id;
        if (t == RN_TYPE_NULL) {
            x = coerce(an, x, kind == RN_AGG_COUNT ? &rn_type_string : &rn_type_int);
            t = x->type->id;
        }
        if ((kind == RN_AGG_SUM || kind == RN_AGG_AVG) && !rn_type_is_numeric(t)) {
            an_error(an, call->call.args[0]->pos, "%s needs a numeric argument, not %s", call->call.name,
                     rn_type_name(t));
            return false;
        }
        if (t == RN_TYPE_ROW) {
            an_error(an, call->call.args[0]->pos, "%s of a ROW is not supported", call->call.name);
            return false;
        }
        s->kind = call->call.distinct ? RN_AGG_COUNT_DISTINCT : kind;
        s->arg = npre_used;
        s->arg_type = t;
        switch (kind) {
        case RN_AGG_COUNT: s->result_type = RN_TYPE_BIGINT; break;
        case RN_AGG_SUM: s->result_type = t == RN_TYPE_DOUBLE ? RN_TYPE_DOUBLE : RN_TYPE_BIGINT; break;
        case RN_AGG_AVG: s->result_type = RN_TYPE_DOUBLE; break;
        default: s->result_type = t; break;
        }
        pre[npre_used] = x;
        pre_names[npre_used++] = x->kind == RN_EXPR_COLUMN ? rel->cols[x->col].name : agg_column_name(an, q, call, a);
    }
    /* Names and GROUP BY expressions keep resolving against the FROM
     * relation; what they resolve to are the aggregate's output columns. */
    rel_t from_rel = *rel;
    if (an->failed) return false;
    rn_schema_t *aschema = NULL;
    rel_t grel;
    if (win) {
        if (!window_aggregate(an, &sc, q, rel, &from_rel, pre, pre_names, npre_used, nkeys, specs, ngroup, wcol,
                              key_of, gnames, &aschema, &grel))
            return false;
    } else {
        if (!rel_calc(an, rel, NULL, npre_used, pre, pre_names)) return false;
        /* the aggregate */
        aschema = rn_schema_new(ngroup + sc.naggs);
        if (!aschema) {
            an_oom(an);
            return false;
        }
        for (int g = 0; g < ngroup; g++) rn_schema_set(aschema, g, pre_names[g], pre[g]->type);
        for (int a = 0; a < sc.naggs; a++)
            rn_schema_set(aschema, ngroup + a, agg_column_name(an, q, sc.agg_calls[a], a),
                          rn_type_scalar(specs[a].result_type));
        rn_op_t *aop = an_track(an, rn_aggregate_new(rel->op, ngroup, sc.naggs, specs, aschema, an->errbuf, an->errbuf_size));
        if (aop && an->state_ttl_ms > 0) rn_aggregate_set_ttl(aop, an->state_ttl_ms);
        if (!aop || !an_connect(an, rel->op, aop) || !rel_from_schema(an, &grel, aop, NULL)) {
            rn_schema_unref(aschema);
            return false;
        }
        grel.updating = true;
    }
    sc.out_schema = aschema;

    /* HAVING and the select list, over the aggregate's output */
    sc.agg_mode = true;
    sc.where_clause = NULL;
    sc.rel = &from_rel;
    rn_expr_t *having = NULL;
    if (q->select.having) {
        having = bind_boolean(an, &sc, q->select.having, "the HAVING condition");
        if (!having) {
            rn_schema_unref(aschema);
            return false;
        }
    }
    int n;
    rn_expr_t **exprs;
    const char **names;
    bool ok = select_list(an, &sc, q, &n, &exprs, &names);
    rn_schema_unref(aschema);
    if (!ok) return false;
    *rel = grel;
    if (having && !rel_calc(an, rel, having, 0, NULL, NULL)) return false;
    return is_identity(rel, n, exprs, names) || rel_calc(an, rel, NULL, n, exprs, names);
}

static bool compile_query(analyzer_t *an, const rn_ast_query_t *q, rel_t *out)
{
    int saved = an->nctes;
    for (int i = 0; i < q->nctes; i++) {
        if (an->nctes == RN_MAX_CTES) {
            an_error(an, q->ctes[i].pos, "too many WITH queries");
            return false;
        }
        view_def_t *v = &an->ctes[an->nctes++];
        memset(v, 0, sizeof *v);
        v->name = q->ctes[i].name;
        v->pos = q->ctes[i].pos;
        v->query = q->ctes[i].query;
    }
    bool ok = false;
    if (q->norder || q->limit) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, q->norder ? q->order_by[0].expr->pos : q->limit->pos,
                 "ORDER BY and LIMIT are not supported on unbounded streams");
    } else if (q->kind == RN_QUERY_UNION) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, q->pos, "UNION is not supported yet");
    } else {
        ok = compile_select(an, q, out);
    }
    an->nctes = saved;
    return ok;
}

/* ---- statements ------------------------------------------------------- */

/* Adds the columns of a (possibly ROW) column to a table being defined,
 * flattening ROW fields into "a.b" leaves with JSON paths. */
static bool table_add_column(analyzer_t *an, table_def_t *t, const char *name, const rn_type_t *type,
                             int depth, char **path)
{
    if (depth >= 16) return false;
    path[depth] = (char *)name;
    if (type->id == RN_TYPE_ROW) {
        for (int i = 0; i < type->nfields; i++)
            if (!table_add_column(an, t, type->fields[i].name, type->fields[i].type, depth + 1, path)) return false;
        return true;
    }
    int c = t->ncols++;
    t->col_names[c] = (char *)join_parts(an, depth + 1, path);
    t->col_types[c] = type;
    t->nparts[c] = depth + 1;
    t->parts[c] = an_alloc(an, sizeof(char *) * (size_t)(depth + 1));
    if (!t->col_names[c] || !t->parts[c]) return false;
    memcpy(t->parts[c], path, sizeof(char *) * (size_t)(depth + 1));
    return true;
}

static int count_leaves(const rn_type_t *t)
{
    if (t->id != RN_TYPE_ROW) return 1;
    int n = 0;
    for (int i = 0; i < t->nfields; i++) n += count_leaves(t->fields[i].type);
    return n;
}

/* Binds a METADATA column to what the connector offers, checking its type. */
static bool table_metadata_column(analyzer_t *an, table_def_t *t, const rn_ast_column_def_t *cd)
{
    const char *key = cd->metadata_key ? cd->metadata_key : cd->name;
    const rn_metadata_spec_t *m = t->conn->metadata;
    while (m && m->key && strcmp(m->key, key)) m++;
    if (!m || !m->key) {
        rn_buf_t known;
        rn_buf_init(&known);
        for (m = t->conn->metadata; m && m->key; m++) rn_buf_appendf(&known, "%s'%s'", known.len ? ", " : "", m->key);
        an_error(an, cd->pos, "connector '%s' has no metadata '%s'%s%s", t->conn->name, key,
                 known.len ? "; it offers " : "", known.len ? known.data : "");
        rn_buf_free(&known);
        return false;
    }
    int c = rn_schema_find(t->schema, cd->name);
    if (c < 0) {
        an_error(an, cd->pos, "metadata column '%s' (from '%s') must be %s", cd->name, key, rn_type_name(m->type));
        return false;
    }
    rn_type_id want = m->type, got = t->schema->cols[c].type->id;
    bool ok = got == want || (want == RN_TYPE_TIMESTAMP_LTZ && got == RN_TYPE_TIMESTAMP) ||
              (want == RN_TYPE_INT && got == RN_TYPE_BIGINT);
    if (!ok) {
        an_error(an, cd->pos, "metadata column '%s' (from '%s') must be %s, not %s", cd->name, key,
                 rn_type_name(want), rn_type_name(got));
        return false;
    }
    t->origin[c] = m->origin;
    return true;
}

/* Marks the columns named in the connector's 'key.fields' as read from and
 * written to the record key. */
static bool table_key_fields(analyzer_t *an, table_def_t *t, const rn_ast_stmt_t *st)
{
    const char *list = t->conn->key_fields ? t->conn->key_fields(t->conf) : NULL;
    if (!list) return true;
    rn_pos_t pos = t->pos;
    for (int i = 0; i < st->create_table.noptions; i++)
        if (!strcmp(st->create_table.options[i].key, "key.fields")) pos = st->create_table.options[i].value_pos;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ';') p++;
        const char *end = p;
        while (*end && *end != ';') end++;
        size_t len = (size_t)(end - p);
        while (len && p[len - 1] == ' ') len--;
        if (len) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)len, p);
            int c = rn_schema_find(t->schema, name);
            if (c < 0 || t->origin[c] != RN_FROM_VALUE) {
                an->err = RN_ERR_CONFIG;
                an_error(an, pos, "table '%s': 'key.fields' names '%s', which is not a physical column of the table",
                         t->name, name);
                return false;
            }
            t->origin[c] = RN_FROM_KEY;
            t->key[t->nkey++] = c;
        }
        p = end;
    }
    return true;
}

/* A relation over a table's columns, for binding computed columns and the
 * WATERMARK expression. The computed columns (hidden[c] set) cannot be
 * named when hidden is not NULL. */
static bool table_rel(analyzer_t *an, const table_def_t *t, const rn_ast_column_def_t *const *hidden, rel_t *rel)
{
    memset(rel, 0, sizeof *rel);
    rel->ncols = t->ncols;
    rel->cols = an_alloc(an, sizeof(rel_col_t) * (size_t)(t->ncols + 1));
    if (!rel->cols) return false;
    for (int c = 0; c < t->ncols; c++) {
        rel->cols[c].name = hidden && hidden[c] ? "" : t->col_names[c];
        rel->cols[c].type = t->col_types[c];
        rel->cols[c].src_col = -1;
    }
    return true;
}

/* Binds the computed columns (`name AS expr`) over the other columns and
 * gives them the expressions' types. */
static bool table_computed_columns(analyzer_t *an, table_def_t *t, const rn_ast_stmt_t *st)
{
    t->computed = an_alloc(an, sizeof(rn_expr_t *) * (size_t)(t->ncols + 1));
    const rn_ast_column_def_t **def = an_alloc(an, sizeof *def * (size_t)(t->ncols + 1));
    if (!t->computed || !def) return false;
    for (int i = 0; i < st->create_table.ncolumns; i++) {
        const rn_ast_column_def_t *cd = &st->create_table.columns[i];
        for (int k = 0; cd->computed && k < t->ncols; k++)
            if (!strcmp(t->col_names[k], cd->name)) def[k] = cd;
    }
    rel_t rel;
    if (!table_rel(an, t, def, &rel)) return false;
    for (int c = 0; c < t->ncols; c++) {
        const rn_ast_column_def_t *cd = def[c];
        if (!cd) continue;
        scope_t sc = {.rel = &rel, .where_clause = "in a computed column"};
        rn_expr_t *x = bind(an, &sc, cd->computed);
        if (!x) return false;
        if (x->type->id == RN_TYPE_NULL) x = coerce(an, x, &rn_type_string);
        if (!x) return false;
        if (x->type->id == RN_TYPE_ROW) {
            an_error(an, cd->computed->pos, "computed column '%s' cannot be a ROW", cd->name);
            return false;
        }
        t->computed[c] = x;
        t->col_types[c] = x->type;
    }
    return true;
}

/* WATERMARK FOR col AS expr: col becomes the rowtime attribute. */
static bool table_watermark(analyzer_t *an, table_def_t *t, const rn_ast_stmt_t *st)
{
    t->rowtime = -1;
    const rn_ast_watermark_t *w = st->create_table.watermark;
    if (!w) return true;
    int c = rn_schema_find(t->schema, w->column);
    if (c < 0) {
        an_error(an, w->pos, "WATERMARK FOR '%s': '%s' has no such column", w->column, t->name);
        return false;
    }
    rn_type_id id = t->schema->cols[c].type->id;
    if (id != RN_TYPE_TIMESTAMP && id != RN_TYPE_TIMESTAMP_LTZ) {
        an_error(an, w->pos,
                 "WATERMARK FOR '%s': an event-time column must be TIMESTAMP(3) or TIMESTAMP_LTZ(3), not %s; "
                 "derive one with a computed column, e.g. ts AS TO_TIMESTAMP_LTZ(epoch_ms, 3)",
                 w->column, rn_type_name(id));
        return false;
    }
    rel_t rel;
    if (!table_rel(an, t, NULL, &rel)) return false;
    scope_t sc = {.rel = &rel, .where_clause = "in a WATERMARK"};
    rn_expr_t *x = bind(an, &sc, w->expr);
    if (!x) return false;
    if (x->type->id != RN_TYPE_TIMESTAMP && x->type->id != RN_TYPE_TIMESTAMP_LTZ) {
        an_error(an, w->expr->pos, "the WATERMARK expression must be a timestamp (e.g. %s - INTERVAL '5' SECOND), not %s",
                 w->column, rn_type_name(x->type->id));
        return false;
    }
    t->rowtime = c;
    t->wm_expr = x;
    return true;
}

/* Takes the event-time options out of the WITH clause (every connector
 * accepts them) into t, leaving the connector's own in t->options. */
static bool table_time_options(analyzer_t *an, table_def_t *t, const rn_ast_stmt_t *st)
{
    t->idle_timeout_ms = 5000;
    t->quiet_timeout_ms = 10000;
    int n = st->create_table.noptions;
    rn_option_t *kept = an_alloc(an, sizeof *kept * (size_t)(n + 1));
    const rn_ast_option_t **asts = an_alloc(an, sizeof *asts * (size_t)(n + 1));
    if (!kept || !asts) return false;
    t->noptions = 0;
    for (int i = 0; i < n; i++) {
        const rn_ast_option_t *o = &st->create_table.options[i];
        int64_t *dst = !strcmp(o->key, "scan.watermark.idle-timeout")    ? &t->idle_timeout_ms
                       : !strcmp(o->key, "scan.watermark.quiet-timeout") ? &t->quiet_timeout_ms
                                                                         : NULL;
        if (!dst) {
            asts[t->noptions] = o;
            kept[t->noptions++] = (rn_option_t){.key = o->key, .value = o->value};
            continue;
        }
        if (!rn_duration_parse(o->value, dst)) {
            an->err = RN_ERR_CONFIG;
            an_error(an, o->value_pos, "table '%s': '%s' must be a duration such as '5 s' or '500 ms', not '%s'",
                     t->name, o->key, o->value);
            return false;
        }
        if (!st->create_table.watermark) {
            an->err = RN_ERR_CONFIG;
            an_error(an, o->key_pos, "table '%s': '%s' needs a WATERMARK in the table", t->name, o->key);
            return false;
        }
    }
    t->options = kept;
    t->option_asts = asts;
    return true;
}

static bool create_table(analyzer_t *an, const rn_ast_stmt_t *st)
{
    rn_pipeline_t *p = an->p;
    const char *name = st->create_table.name;
    if (find_table(p, name) || find_view(an, name)) {
        if (st->create_table.if_not_exists) return true;
        an_error(an, st->create_table.name_pos, "table or view '%s' is already defined", name);
        return false;
    }
    table_def_t *t = &p->tables[p->ntables];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->pos = st->create_table.name_pos;
    const rn_type_t **types = an_alloc(an, sizeof *types * (size_t)(st->create_table.ncolumns + 1));
    if (!types) return false;
    int nleaves = 0;
    for (int i = 0; i < st->create_table.ncolumns; i++) {
        const rn_ast_column_def_t *cd = &st->create_table.columns[i];
        for (int j = 0; j < i; j++)
            if (!strcmp(st->create_table.columns[j].name, cd->name)) {
                an_error(an, cd->pos, "column '%s' is defined twice", cd->name);
                return false;
            }
        /* a computed column's type comes from its expression, bound below */
        if (!(types[i] = cd->computed ? &rn_type_null : an_type(an, cd->type))) return false;
        nleaves += count_leaves(types[i]);
    }
    t->col_names = an_alloc(an, sizeof(char *) * (size_t)(nleaves + 1));
    t->col_types = an_alloc(an, sizeof(rn_type_t *) * (size_t)(nleaves + 1));
    t->nparts = an_alloc(an, sizeof(int) * (size_t)(nleaves + 1));
    t->parts = an_alloc(an, sizeof(char **) * (size_t)(nleaves + 1));
    if (!t->col_names || !t->col_types || !t->nparts || !t->parts) return false;
    char *path[16];
    for (int i = 0; i < st->create_table.ncolumns; i++)
        if (!table_add_column(an, t, st->create_table.columns[i].name, types[i], 0, path)) {
            if (!an->failed) an_error(an, st->create_table.columns[i].pos, "ROW nesting is too deep");
            return false;
        }
    if (!table_computed_columns(an, t, st)) return false;
    t->schema = rn_schema_new(t->ncols);
    if (!t->schema) {
        an_oom(an);
        return false;
    }
    p->ntables++; /* from here on the pipeline frees the schema */
    for (int c = 0; c < t->ncols; c++)
        if (rn_schema_set(t->schema, c, t->col_names[c], t->col_types[c]) != 0) {
            an_oom(an);
            return false;
        }
    t->origin = an_alloc(an, sizeof(rn_col_origin) * (size_t)(t->ncols + 1));
    t->key = an_alloc(an, sizeof(int) * (size_t)(t->ncols + 1));
    if (!t->origin || !t->key) return false;
    for (int c = 0; c < t->ncols; c++) t->origin[c] = t->computed[c] ? RN_FROM_COMPUTED : RN_FROM_VALUE;
    if (!table_watermark(an, t, st)) return false;
    /* primary key: table-level list or inline markers */
    int npk = st->create_table.npk;
    for (int i = 0; i < st->create_table.ncolumns; i++) npk += st->create_table.columns[i].primary_key;
    t->pk = an_alloc(an, sizeof(int) * (size_t)(npk + 1));
    if (!t->pk) return false;
    for (int i = 0; i < st->create_table.npk; i++) {
        int c = rn_schema_find(t->schema, st->create_table.pk[i]);
        if (c < 0) {
            an_error(an, st->create_table.pk_pos, "PRIMARY KEY column '%s' is not a column of '%s'",
                     st->create_table.pk[i], name);
            return false;
        }
        t->pk[t->npk++] = c;
    }
    for (int i = 0; i < st->create_table.ncolumns; i++)
        if (st->create_table.columns[i].primary_key) {
            int c = rn_schema_find(t->schema, st->create_table.columns[i].name);
            if (c < 0) {
                an_error(an, st->create_table.columns[i].pos, "a ROW column cannot be a PRIMARY KEY");
                return false;
            }
            t->pk[t->npk++] = c;
        }
    /* connector and options */
    const rn_ast_option_t *conn_opt = NULL;
    for (int i = 0; i < st->create_table.noptions; i++)
        if (!strcmp(st->create_table.options[i].key, "connector")) conn_opt = &st->create_table.options[i];
    if (!conn_opt) {
        an->err = RN_ERR_CONFIG;
        an_error(an, t->pos, "table '%s' needs a WITH ('connector' = '...') option", name);
        return false;
    }
    t->conn = rn_connector_find(conn_opt->value);
    if (!t->conn) {
        rn_buf_t known;
        rn_buf_init(&known);
        rn_connector_list(&known);
        an->err = RN_ERR_CONFIG;
        an_error(an, conn_opt->value_pos, "unknown connector '%s'; known connectors: %s", conn_opt->value,
                 known.data ? known.data : "");
        rn_buf_free(&known);
        return false;
    }
    t->conf = an_alloc(an, t->conn->conf_size);
    if (!t->conf) return false;
    char msg[512];
    int bad;
    if (!table_time_options(an, t, st)) return false;
    if (rn_options_apply(t->conn, t->options, t->noptions, t->conf, &p->plan_arena, &bad, msg,
                         sizeof msg) != RN_OK ||
        (t->conn->validate && t->conn->validate(t->conf, msg, sizeof msg) != RN_OK)) {
        an->err = RN_ERR_CONFIG;
        /* A connector's check that names "option 'key'" points there. */
        if (bad < 0 && !strncmp(msg, "option '", 8))
            for (int i = 0; i < t->noptions; i++) {
                size_t n = strlen(t->options[i].key);
                if (!strncmp(msg + 8, t->options[i].key, n) && msg[8 + n] == '\'') bad = i;
            }
        rn_pos_t pos = bad >= 0 ? t->option_asts[bad]->key_pos : t->pos;
        an_error(an, pos, "table '%s': %s", name, msg);
        return false;
    }
    if (t->conn->needs_pk && t->npk == 0) {
        an->err = RN_ERR_CONFIG;
        an_error(an, t->pos, "table '%s' uses connector '%s', which needs a PRIMARY KEY (col) NOT ENFORCED",
                 name, t->conn->name);
        return false;
    }
    if (t->conn->forbids_pk && t->npk > 0) {
        an->err = RN_ERR_CONFIG;
        an_error(an, st->create_table.npk ? st->create_table.pk_pos : t->pos,
                 "connector '%s' does not support PRIMARY KEY (for an upsert table use 'upsert-kafka')",
                 t->conn->name);
        return false;
    }
    for (int i = 0; i < st->create_table.ncolumns; i++)
        if (st->create_table.columns[i].is_metadata && !table_metadata_column(an, t, &st->create_table.columns[i]))
            return false;
    return table_key_fields(an, t, st);
}

static bool create_view(analyzer_t *an, const rn_ast_stmt_t *st)
{
    rn_pipeline_t *p = an->p;
    const char *name = st->create_view.name;
    if (find_table(p, name) || find_view(an, name)) {
        if (st->create_view.if_not_exists) return true;
        an_error(an, st->create_view.name_pos, "table or view '%s' is already defined", name);
        return false;
    }
    view_def_t *v = &p->views[p->nviews++];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->pos = st->create_view.name_pos;
    v->query = st->create_view.query;
    v->ncols = st->create_view.ncols;
    v->cols = st->create_view.cols;
    /* Check the view now, so errors point at it even if nothing uses it.
     * The operators built here stay unconnected to any sink and are never
     * fed (sources only feed what is connected). */
    return true;
}

/* Leaves metadata columns (and, with 'value.fields-include' = 'EXCEPT_KEY',
 * the key columns) out of the records' values. */
static bool sink_value_columns(analyzer_t *an, const table_def_t *t, rn_op_t *sink, int nkey, const int *key)
{
    if (!t->origin) return true;
    bool except_key = t->conn->value_excludes_key && t->conn->value_excludes_key(t->conf);
    int n = t->schema->ncols, nvalue = 0;
    int *cols = an_alloc(an, sizeof(int) * (size_t)(n ? n : 1));
    if (!cols) return false;
    for (int c = 0; c < n; c++) {
        bool in_key = false;
        for (int k = 0; k < nkey; k++) in_key |= key[k] == c;
        if (t->origin[c] > RN_FROM_KEY || (except_key && in_key)) continue;
        cols[nvalue++] = c;
    }
    if (nvalue == n) return true;
    if (rn_sink_set_value_columns(sink, nvalue, cols) != RN_OK) {
        an_oom(an);
        return false;
    }
    return true;
}

/* The Sink for an INSERT (or bare SELECT): casts to the table's columns
 * and attaches the sink operator. */
static bool insert_into(analyzer_t *an, table_def_t *t, const int *target_cols, int ntarget, rel_t *rel,
                        rn_pos_t pos, rn_pos_t query_pos)
{
    if (!(t->conn->roles & RN_ROLE_SINK)) {
        an_error(an, pos, "table '%s' uses connector '%s', which can only be read from", t->name, t->conn->name);
        return false;
    }
    int n = t->schema->ncols;
    if (ntarget != rel->ncols) {
        an_error(an, query_pos, "INSERT INTO '%s' has %d target column%s but the query produces %d", t->name, ntarget,
                 ntarget == 1 ? "" : "s", rel->ncols);
        return false;
    }
    rn_expr_t **exprs = an_alloc(an, sizeof *exprs * (size_t)(n ? n : 1));
    const char **names = an_alloc(an, sizeof *names * (size_t)(n ? n : 1));
    if (!exprs || !names) return false;
    for (int c = 0; c < n; c++) {
        names[c] = t->schema->cols[c].name;
        exprs[c] = mk_const(an, t->schema->cols[c].type, RN_VALUE_NULL);
        if (!exprs[c]) return false;
    }
    for (int i = 0; i < ntarget; i++) {
        int c = target_cols[i];
        const rn_type_t *to = t->schema->cols[c].type;
        const rn_type_t *from = rel->cols[i].type;
        if (!assignable(from, to)) {
            an_error(an, query_pos,
                     "column %d of the query ('%s', %s) cannot be written to column '%s' (%s) of '%s'; use CAST",
                     i + 1, rel->cols[i].name, rn_type_name(from->id), names[c], rn_type_name(to->id), t->name);
            return false;
        }
        exprs[c] = coerce(an, mk_column(an, i, from), to);
        if (!exprs[c]) return false;
    }
    if (rel->updating && t->conn->sink_mode == RN_SINK_APPEND) {
        an_error(an, query_pos,
                 "table '%s' (connector '%s') is append-only and doesn't support consuming update changes "
                 "produced by this query (an aggregate); write to an 'upsert-kafka' table with a PRIMARY KEY",
                 t->name, t->conn->name);
        return false;
    }
    if (!is_identity(rel, n, exprs, names) || rel_is_source(rel)) {
        if (!rel_calc(an, rel, NULL, n, exprs, names)) return false;
    }
    rn_buf_t label;
    rn_buf_init(&label);
    rn_buf_appendf(&label, "%s (%s", t->name, t->conn->name);
    if (t->conn->describe) {
        rn_buf_appends(&label, " ");
        t->conn->describe(t->conf, &label);
    }
    rn_buf_appends(&label, ")");
    /* the record key: the PRIMARY KEY of an upsert table, else 'key.fields' */
    int nkey = t->conn->sink_mode == RN_SINK_UPSERT ? t->npk : t->nkey;
    const int *key = t->conn->sink_mode == RN_SINK_UPSERT ? t->pk : t->key;
    rn_op_t *sink = an_track(an, rn_sink_new(rel->op, label.data ? label.data : t->name, t->conn->sink_mode,
                                             nkey, key, NULL));
    rn_buf_free(&label);
    if (!sink || !an_connect(an, rel->op, sink)) return false;
    if (!sink_value_columns(an, t, sink, nkey, key)) return false;
    sink_def_t *sd = rn_realloc(an->p->sinks, sizeof *sd * (size_t)(an->p->nsinks + 1));
    if (!sd) {
        an_oom(an);
        return false;
    }
    an->p->sinks = sd;
    sd[an->p->nsinks].op = sink;
    sd[an->p->nsinks].table = t;
    an->p->nsinks++;
    return true;
}

static bool insert_stmt(analyzer_t *an, const rn_ast_stmt_t *st)
{
    table_def_t *t = find_table(an->p, st->insert.table);
    if (!t) {
        if (find_view(an, st->insert.table)) an_error(an, st->insert.table_pos, "cannot INSERT INTO view '%s'", st->insert.table);
        else an_error(an, st->insert.table_pos, "unknown table '%s'", st->insert.table);
        return false;
    }
    if (st->insert.overwrite) {
        an->err = RN_ERR_UNSUPPORTED;
        an_error(an, st->pos, "INSERT OVERWRITE is not supported on streams");
        return false;
    }
    int ntarget = st->insert.ncols ? st->insert.ncols : t->schema->ncols;
    int *target = an_alloc(an, sizeof(int) * (size_t)(ntarget ? ntarget : 1));
    if (!target) return false;
    if (!st->insert.ncols) { /* metadata columns are not written */
        ntarget = 0;
        for (int c = 0; c < t->schema->ncols; c++)
            if (!t->origin || t->origin[c] <= RN_FROM_KEY) target[ntarget++] = c;
    }
    for (int i = 0; i < st->insert.ncols; i++) {
        target[i] = rn_schema_find(t->schema, st->insert.cols[i]);
        if (target[i] < 0) {
            an_error(an, st->insert.table_pos, "table '%s' has no column '%s'", t->name, st->insert.cols[i]);
            return false;
        }
        if (t->origin && t->origin[target[i]] == RN_FROM_COMPUTED) {
            an_error(an, st->insert.table_pos, "computed column '%s' of '%s' cannot be written", st->insert.cols[i], t->name);
            return false;
        }
        if (t->origin && t->origin[target[i]] > RN_FROM_KEY) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, st->insert.table_pos, "metadata column '%s' of '%s' cannot be written yet", st->insert.cols[i], t->name);
            return false;
        }
    }
    rel_t rel;
    if (!compile_query(an, st->insert.query, &rel)) return false;
    return insert_into(an, t, target, ntarget, &rel, st->insert.table_pos, st->insert.query->pos);
}

/* A bare SELECT prints its changelog: an implicit 'print' table. */
static bool select_stmt(analyzer_t *an, const rn_ast_stmt_t *st)
{
    rel_t rel;
    if (!compile_query(an, st->select, &rel)) return false;
    rn_pipeline_t *p = an->p;
    table_def_t *t = &p->tables[p->ntables];
    memset(t, 0, sizeof *t);
    char name[32];
    snprintf(name, sizeof name, "select_%d", ++an->nselects);
    t->name = an_strdup(an, name);
    t->conn = rn_connector_find("print");
    t->conf = an_alloc(an, t->conn->conf_size);
    t->schema = rn_schema_new(rel.ncols);
    if (!t->name || !t->conf || !t->schema) {
        rn_schema_unref(t->schema);
        an_oom(an);
        return false;
    }
    p->ntables++;
    int bad;
    char msg[128];
    rn_options_apply(t->conn, NULL, 0, t->conf, &p->plan_arena, &bad, msg, sizeof msg);
    int *target = an_alloc(an, sizeof(int) * (size_t)(rel.ncols ? rel.ncols : 1));
    if (!target) return false;
    for (int i = 0; i < rel.ncols; i++) {
        rn_schema_set(t->schema, i, rel.cols[i].name, rel.cols[i].type);
        target[i] = i;
    }
    return insert_into(an, t, target, rel.ncols, &rel, st->pos, st->select->pos);
}

/* Every SET key runnel implements; anything else is an error, so that a
 * setting that would do nothing is never accepted silently. */
static const char *const set_keys[] = {
    "table.exec.emit.allow-lateness",
    "table.exec.emit.early-fire.enabled",
    "table.exec.emit.early-fire.delay",
    "runnel.late-rows.table",
    "table.exec.state.ttl",
    "execution.runtime-mode",
    "table.local-time-zone",
};

/* SET 'key' = 'value': the settings runnel reads apply to the statements
 * after them (docs/sql.md lists them); an unknown key is an error with a
 * "did you mean". */
static bool set_stmt(analyzer_t *an, const rn_ast_stmt_t *st)
{
    const char *k = st->set.key, *v = st->set.value;
    if (!strcmp(k, "table.exec.emit.allow-lateness") || !strcmp(k, "table.exec.emit.early-fire.delay") ||
        !strcmp(k, "table.exec.state.ttl")) {
        int64_t ms;
        if (!rn_duration_parse(v, &ms)) {
            an->err = RN_ERR_CONFIG;
            an_error(an, st->pos, "SET '%s': '%s' is not a duration such as '5 s' or '500 ms'", k, v);
            return false;
        }
        if (!strcmp(k, "table.exec.emit.allow-lateness")) an->allow_lateness_ms = ms;
        else if (!strcmp(k, "table.exec.state.ttl")) an->state_ttl_ms = ms;
        else an->early_fire_ms = ms;
    } else if (!strcmp(k, "table.exec.emit.early-fire.enabled")) {
        if (strcasecmp(v, "true") && strcasecmp(v, "false")) {
            an->err = RN_ERR_CONFIG;
            an_error(an, st->pos, "SET '%s': expected 'true' or 'false', not '%s'", k, v);
            return false;
        }
        an->early_fire = !strcasecmp(v, "true");
        if (an->early_fire && an->early_fire_ms <= 0) an->early_fire_ms = 1000;
    } else if (!strcmp(k, "runnel.late-rows.table")) {
        an->late_table = *v ? v : NULL;
        an->late_table_pos = st->pos;
    } else if (!strcmp(k, "execution.runtime-mode")) {
        /* Accepted for Flink scripts: runnel always runs as a stream. */
        if (strcasecmp(v, "streaming")) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, st->pos, "SET '%s' = '%s': runnel runs pipelines as streams only ('streaming')",
                     k, v);
            return false;
        }
    } else if (!strcmp(k, "table.local-time-zone")) {
        /* Accepted for Flink scripts: every time is UTC (docs/event-time.md). */
        if (strcmp(v, "UTC") && strcmp(v, "Z") && strcmp(v, "Etc/UTC") && strcmp(v, "GMT")) {
            an->err = RN_ERR_UNSUPPORTED;
            an_error(an, st->pos, "SET '%s' = '%s': runnel computes every time in UTC ('UTC')", k, v);
            return false;
        }
    } else {
        const char *best = NULL;
        int bestd = 5;
        for (size_t i = 0; i < sizeof set_keys / sizeof *set_keys; i++) {
            int d = rn_text_distance(k, set_keys[i]);
            if (!strncmp(set_keys[i], k, strlen(k)) && strlen(k) >= 8) d = 1; /* a cut-off key */
            if (d < bestd) {
                bestd = d;
                best = set_keys[i];
            }
        }
        an->err = RN_ERR_CONFIG;
        if (best) {
            an_error(an, st->pos, "unknown setting '%s'; did you mean '%s'?", k, best);
        } else {
            char known[512] = "";
            size_t len = 0;
            for (size_t i = 0; i < sizeof set_keys / sizeof *set_keys && len < sizeof known; i++)
                len += (size_t)snprintf(known + len, sizeof known - len, "%s'%s'", i ? ", " : "", set_keys[i]);
            an_error(an, st->pos, "unknown setting '%s' (runnel implements %s)", k, known);
        }
        return false;
    }
    return true;
}

rn_err_t rn_analyze(rn_pipeline_t *p, char *errbuf, size_t errbuf_size)
{
    analyzer_t an = {.p = p, .errbuf = errbuf, .errbuf_size = errbuf_size};
    const rn_ast_script_t *s = p->script;
    int ntables = 0, nviews = 0;
    for (int i = 0; i < s->nstmts; i++) {
        ntables += s->stmts[i]->kind == RN_STMT_CREATE_TABLE || s->stmts[i]->kind == RN_STMT_SELECT;
        nviews += s->stmts[i]->kind == RN_STMT_CREATE_VIEW;
    }
    p->tables = rn_calloc((size_t)(ntables + 1), sizeof *p->tables);
    p->views = rn_calloc((size_t)(nviews + 1), sizeof *p->views);
    if (!p->tables || !p->views) {
        snprintf(errbuf, errbuf_size, "out of memory");
        return RN_ERR_NOMEM;
    }
    int ninserts = 0;
    for (int i = 0; i < s->nstmts && !an.failed; i++) {
        const rn_ast_stmt_t *st = s->stmts[i];
        switch (st->kind) {
        case RN_STMT_CREATE_TABLE: create_table(&an, st); break;
        case RN_STMT_CREATE_VIEW: create_view(&an, st); break;
        case RN_STMT_INSERT: insert_stmt(&an, st); ninserts++; break;
        case RN_STMT_SELECT: select_stmt(&an, st); ninserts++; break;
        case RN_STMT_SET: set_stmt(&an, st); break;
        }
    }
    if (!an.failed && ninserts == 0) {
        rn_pos_t pos = {1, 1, 0, 1};
        an_error(&an, pos, "the pipeline has no INSERT INTO or SELECT statement, so it would do nothing");
    }
    /* A sink may not write the file a source reads (the 'filesystem'
     * connector): it would be emptied before it is read. `runnel test`
     * checks its own files when it opens them. */
    for (int j = 0; j < p->nsinks && !an.failed; j++) {
        const table_def_t *dst = p->sinks[j].table;
        const char *out = dst->conn->file_path ? dst->conn->file_path(dst->conf) : NULL;
        for (int i = 0; out && i < p->ntables && !an.failed; i++) {
            const table_def_t *src = &p->tables[i];
            const char *in = src->source && src->conn->file_path ? src->conn->file_path(src->conf) : NULL;
            if (!in || !rn_file_same(in, out)) continue;
            an.err = RN_ERR_CONFIG;
            an_error(&an, dst->pos,
                     "table '%s' writes %s, which table '%s' reads: it would be emptied before it is read; "
                     "write to another 'path'",
                     dst->name, out, src->name);
        }
    }
    if (!an.failed) {
        /* Unused views are still checked, compiled over private scans that
         * no source feeds, so their mistakes are reported too. */
        an.check_only = true;
        for (int i = 0; i < p->nviews && !an.failed; i++) {
            if (p->views[i].used) continue;
            rel_t rel;
            p->views[i].compiling = true;
            compile_query(&an, p->views[i].query, &rel);
            p->views[i].compiling = false;
        }
    }
    return an.failed ? an.err : RN_OK;
}
