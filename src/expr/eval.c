/*
 * eval.c - the vectorized evaluator for bound scalar expressions.
 *
 * Design. Every node is evaluated a whole batch at a time. A child is
 * first turned into a "vector" view (vec_t): a column node views the input
 * column in place, a constant views its one value with stride 0, and a
 * function node is evaluated into a temporary array of in->nrows values
 * carved from the arena. The parent then runs one tight loop per
 * (function, type) pair; binary loops are instantiated for each stride
 * combination (vector/vector, vector/constant, ...) so the compiler sees
 * constant strides. Nothing here calls rn_malloc: temporaries and result
 * strings live in the arena until the caller resets it.
 *
 * This file evaluates children, calls the function's evaluator from its
 * row of rn_funcs (functions.c) and holds the evaluators of arithmetic,
 * comparisons, logic, numbers and conditionals; LIKE and the string
 * functions are in strings.c, CAST in cast.c, the date-time functions in
 * datetime.c (all declared in expr_int.h), explain in explain.c.
 *
 * Semantics (Flink SQL dialect; the analyzer has already inserted CASTs
 * so arguments have the types documented in expr.h):
 *  - NULL in, NULL out, except AND/OR (three-valued), the IS predicates
 *    (never NULL), COALESCE, CASE and IF (a NULL condition is "not true"),
 *    IN (TRUE if some item equals, else NULL if x or an item is NULL, else
 *    FALSE; NOT IN negates), BETWEEN (lo <= x AND x <= hi in 3VL), NULLIF.
 *  - INT arithmetic wraps to 32 bits, BIGINT to 64 bits (Java semantics).
 *    Integer division truncates toward zero; integer / or % by zero gives
 *    NULL; MIN / -1 wraps. % takes the sign of the dividend. DOUBLE follows
 *    IEEE: x / 0.0 is +-Infinity or NaN, MOD uses fmod.
 *  - LIKE: % any sequence, _ one character (UTF-8 code point), optional
 *    ESCAPE of exactly one character (else NULL); an escape at the end of
 *    the pattern makes the result NULL; an escaped character is literal.
 *    Constant patterns are compiled once per eval into exact / prefix /
 *    suffix / contains / general matchers.
 *  - CAST: INT/BIGINT/DOUBLE/BOOLEAN/STRING/TIMESTAMP/TIMESTAMP_LTZ to each
 *    other; a value that does not convert gives NULL:
 *      BIGINT -> INT and TIMESTAMP -> INT wrap to 32 bits (as Java/Flink);
 *      DOUBLE -> INT/BIGINT/TIMESTAMP truncate toward zero, NaN or out of
 *        range -> NULL; DOUBLE -> BOOLEAN: nonzero is TRUE, NaN -> NULL;
 *      INT/BIGINT -> BOOLEAN: nonzero is TRUE; BOOLEAN -> numbers: 1/0;
 *      integers <-> TIMESTAMP(_LTZ): epoch milliseconds;
 *      DOUBLE -> STRING: rn_expr_format_double (shortest round-trip digits
 *        in Python repr layout: 5.0 -> "5.0", 0.1 -> "0.1", 1e20 ->
 *        "1e+20", 1.5e-5 -> "1.5e-05", NaN/Infinity/-Infinity);
 *      BOOLEAN -> STRING: "TRUE"/"FALSE";
 *      TIMESTAMP(_LTZ) -> STRING: "YYYY-MM-DD HH:MM:SS.mmm" (UTC);
 *      STRING -> INT/BIGINT: whitespace-trimmed [+-]digits, out of range
 *        (no wrap) or anything else -> NULL;
 *      STRING -> DOUBLE: trimmed, strtod must consume everything (accepts
 *        "NaN", "Infinity", exponents);
 *      STRING -> BOOLEAN: trimmed, case-insensitive true/t/yes/y/1 and
 *        false/f/no/n/0 (Flink's sets), else NULL;
 *      STRING -> TIMESTAMP(_LTZ): trimmed, rn_time_parse (core/timeparse.h);
 *      BOOLEAN <-> TIMESTAMP is not a conversion: NULL.
 *  - Strings: LOWER/UPPER map ASCII, Latin-1 letters and Cyrillic
 *    U+0400-U+045F (same byte length, so results never grow); CONCAT is
 *    NULL if any argument is; SUBSTRING(s, start[, len]) counts code points
 *    and returns positions [start, start+len) intersected with [1, n]
 *    (SQL standard), a negative len gives NULL; TRIM strips ASCII spaces;
 *    POSITION of the empty string is 1; REPLACE with an empty `from`
 *    returns s unchanged; SPLIT_INDEX(s, sep, i) is the i-th (from 0)
 *    piece of s cut at every sep, NULL if there is none, if i < 0, or if
 *    s or sep is empty (Flink's splitByWholeSeparatorPreserveAllTokens:
 *    empty pieces count); REGEXP_EXTRACT(s, re [, k]) is group k (default
 *    0: the whole match) of re's first match in s, NULL without a match,
 *    when group k did not take part or k is not one of re's groups; re is
 *    a POSIX extended regular expression (not Java's syntax), a literal. Results that equal an input (TRIM, LOWER of
 *    lower-case text, ...) point into that input instead of being copied.
 *  - ROUND(x, d) rounds half away from zero on the shortest decimal form
 *    of x (as Java's BigDecimal.valueOf(x).setScale(d, HALF_UP)), so
 *    ROUND(2.675, 2) = 2.68; integers with d < 0 round to 10^-d.
 *  - Time, always in UTC (there is no session time zone; TIMESTAMP_LTZ
 *    renders in UTC): ts +/- INTERVAL saturates at the int64 range;
 *    TO_TIMESTAMP_LTZ(n, 0|3) rounds DOUBLE seconds to the millisecond
 *    and gives NULL outside years 0001..9999; TO_TIMESTAMP and
 *    UNIX_TIMESTAMP give NULL for a string that does not parse, never an
 *    error. Formats are DateTimeFormatter patterns (y M d H h a m s S E X
 *    Z, quoted text) compiled once per batch when constant; parsing fills
 *    missing fields from 1970-01-01 00:00:00.000, requires the whole string
 *    to match, and validates the date through rn_time_parse. The niladic
 *    clock functions read rn_clock_now_ms() once per batch, so all rows of
 *    a batch see the same instant. EXTRACT follows Calcite: WEEK is the ISO
 *    week, DOW is 1 (Sunday) .. 7 (Saturday).
 */
#include "expr/expr_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/dtoa.h"

static rn_err_t eval_func(const rn_expr_t *e, const rn_batch_t *in, rn_arena_t *a,
                          rn_value_t *out);

/* ------------------------------------------------------------------ */
/* evaluation of children                                              */

/* Makes v a view of e's values over in. Function results go to a new
 * arena array. Returns RN_OK or RN_ERR_NOMEM. */
static rn_err_t eval_vec(const rn_expr_t *e, const rn_batch_t *in, rn_arena_t *a, vec_t *v)
{
    switch (e->kind) {
    case RN_EXPR_CONST:
        v->v = &e->value;
        v->step = 0;
        return RN_OK;
    case RN_EXPR_COLUMN:
        v->v = in->cols[e->col];
        v->step = 1;
        return RN_OK;
    case RN_EXPR_FUNC:
    default: {
        rn_value_t *tmp = rn_arena_alloc(a, sizeof(rn_value_t) * (size_t)(in->nrows ? in->nrows : 1));
        if (!tmp) return RN_ERR_NOMEM;
        rn_err_t err = eval_func(e, in, a, tmp);
        v->v = tmp;
        v->step = 1;
        return err;
    }
    }
}

/* Evaluates every argument of e; *args points to an arena array. */
static rn_err_t eval_args(const rn_expr_t *e, const rn_batch_t *in, rn_arena_t *a, vec_t **args)
{
    vec_t *v = rn_arena_alloc(a, sizeof(vec_t) * (size_t)(e->nargs ? e->nargs : 1));
    if (!v) return RN_ERR_NOMEM;
    for (int k = 0; k < e->nargs; k++) {
        rn_err_t err = eval_vec(e->args[k], in, a, &v[k]);
        if (err) return err;
    }
    *args = v;
    return RN_OK;
}

/* ------------------------------------------------------------------ */
/* arithmetic                                                           */

static void eval_arith(rn_func_id fn, rn_type_id t, vec_t A, vec_t B, int n, rn_value_t *out)
{
    if (t == RN_TYPE_DOUBLE) {
        switch (fn) {
        case RN_FN_ADD: BINLOOP(A, B, r.d = x->d + y->d; r.null = x->null | y->null); break;
        case RN_FN_SUB: BINLOOP(A, B, r.d = x->d - y->d; r.null = x->null | y->null); break;
        case RN_FN_MUL: BINLOOP(A, B, r.d = x->d * y->d; r.null = x->null | y->null); break;
        case RN_FN_DIV: BINLOOP(A, B, r.d = x->d / y->d; r.null = x->null | y->null); break;
        case RN_FN_MOD: BINLOOP(A, B, r.d = fmod(x->d, y->d); r.null = x->null | y->null); break;
        default: break;
        }
    } else if (t == RN_TYPE_INT) {
        switch (fn) {
        case RN_FN_ADD:
            BINLOOP(A, B, r.i = wrap32((uint64_t)x->i + (uint64_t)y->i); r.null = x->null | y->null);
            break;
        case RN_FN_SUB:
            BINLOOP(A, B, r.i = wrap32((uint64_t)x->i - (uint64_t)y->i); r.null = x->null | y->null);
            break;
        case RN_FN_MUL:
            BINLOOP(A, B, r.i = wrap32((uint64_t)x->i * (uint64_t)y->i); r.null = x->null | y->null);
            break;
        case RN_FN_DIV:
            /* Operands are 32-bit; INT_MIN / -1 is the one quotient that
             * overflows, hence the special case. */
            BINLOOP(A, B, {
                int32_t d = (int32_t)y->i;
                r.null = x->null | y->null | (d == 0);
                if (d == -1) r.i = wrap32(0 - (uint64_t)x->i);
                else if (d != 0) r.i = (int32_t)x->i / d;
            });
            break;
        case RN_FN_MOD:
            BINLOOP(A, B, {
                int32_t d = (int32_t)y->i;
                r.null = x->null | y->null | (d == 0);
                if (d != 0 && d != -1) r.i = (int32_t)x->i % d;
            });
            break;
        default: break;
        }
    } else { /* BIGINT and timestamps: 64-bit wrap */
        switch (fn) {
        case RN_FN_ADD:
            BINLOOP(A, B, r.i = (int64_t)((uint64_t)x->i + (uint64_t)y->i); r.null = x->null | y->null);
            break;
        case RN_FN_SUB:
            BINLOOP(A, B, r.i = (int64_t)((uint64_t)x->i - (uint64_t)y->i); r.null = x->null | y->null);
            break;
        case RN_FN_MUL:
            BINLOOP(A, B, r.i = (int64_t)((uint64_t)x->i * (uint64_t)y->i); r.null = x->null | y->null);
            break;
        case RN_FN_DIV:
            BINLOOP(A, B, {
                int64_t d = y->i;
                r.null = x->null | y->null | (d == 0);
                if (d == -1) r.i = (int64_t)(0 - (uint64_t)x->i);
                else if (d != 0) r.i = x->i / d;
            });
            break;
        case RN_FN_MOD:
            BINLOOP(A, B, {
                int64_t d = y->i;
                r.null = x->null | y->null | (d == 0);
                if (d != 0 && d != -1) r.i = x->i % d;
            });
            break;
        default: break;
        }
    }
}

/* ------------------------------------------------------------------ */
/* comparisons                                                          */

#define CMP_ALL(OPNAME, OP)                                                        \
    case OPNAME:                                                                   \
        if (cls == CLS_DBL)                                                        \
            BINLOOP(A, B, r.i = x->d OP y->d; r.null = x->null | y->null);         \
        else if (cls == CLS_INT)                                                   \
            BINLOOP(A, B, r.i = x->i OP y->i; r.null = x->null | y->null);         \
        else                                                                       \
            BINLOOP(A, B, r.null = x->null | y->null;                              \
                    if (!r.null) r.i = str_cmp(x, y) OP 0);                        \
        break;

static void eval_cmp(rn_func_id fn, int cls, vec_t A, vec_t B, int n, rn_value_t *out)
{
    switch (fn) {
    case RN_FN_EQ:
        if (cls == CLS_STR) {
            BINLOOP(A, B, r.null = x->null | y->null; if (!r.null) r.i = str_eq(x, y));
            break;
        }
        if (cls == CLS_DBL) BINLOOP(A, B, r.i = x->d == y->d; r.null = x->null | y->null);
        else BINLOOP(A, B, r.i = x->i == y->i; r.null = x->null | y->null);
        break;
    case RN_FN_NE:
        if (cls == CLS_STR) {
            BINLOOP(A, B, r.null = x->null | y->null; if (!r.null) r.i = !str_eq(x, y));
            break;
        }
        if (cls == CLS_DBL) BINLOOP(A, B, r.i = x->d != y->d; r.null = x->null | y->null);
        else BINLOOP(A, B, r.i = x->i != y->i; r.null = x->null | y->null);
        break;
        CMP_ALL(RN_FN_LT, <)
        CMP_ALL(RN_FN_LE, <=)
        CMP_ALL(RN_FN_GT, >)
        CMP_ALL(RN_FN_GE, >=)
    default: break;
    }
}

/* ------------------------------------------------------------------ */
/* three-valued logic                                                   */

static void eval_and(vec_t A, vec_t B, int n, rn_value_t *out)
{
    BINLOOP(A, B, {
        int xf = !x->null & !x->i, yf = !y->null & !y->i;
        int anynull = x->null | y->null;
        r.null = (!(xf | yf)) & anynull;
        r.i = (!(xf | yf)) & !anynull;
    });
}

static void eval_or(vec_t A, vec_t B, int n, rn_value_t *out)
{
    BINLOOP(A, B, {
        int xt = !x->null & (x->i != 0), yt = !y->null & (y->i != 0);
        r.null = (!(xt | yt)) & (x->null | y->null);
        r.i = xt | yt;
    });
}

/* ------------------------------------------------------------------ */
/* numbers                                                              */

/* ROUND(x, d) half away from zero on the shortest decimal form of x. */
static double round_double(double x, int64_t d)
{
    if (!isfinite(x) || x == 0) return x;
    if (d == 0) return round(x);
    if (d > 400) return x;
    if (d < -400) return 0.0;
    char digits[24], buf[64];
    int exp;
    bool neg;
    int nd = rn_dtoa_shortest(x, digits, &exp, &neg);
    /* digit k has weight 10^(exp - k); keep those with weight >= 10^-d */
    int64_t keep = exp + d + 1;
    if (keep >= nd) return x;
    if (keep < 0) return 0.0;
    int m = (int)keep;
    bool up = digits[m] >= '5';
    if (m == 0) {
        if (!up) return 0.0;
        snprintf(buf, sizeof buf, "%s1e%d", neg ? "-" : "", exp + 1);
        return strtod(buf, NULL);
    }
    int lastexp = exp - (m - 1); /* weight of the last kept digit */
    if (up) {
        int k = m - 1;
        while (k >= 0 && digits[k] == '9') digits[k--] = '0';
        if (k >= 0) {
            digits[k]++;
        } else {
            memmove(digits + 1, digits, (size_t)m);
            digits[0] = '1';
            m++;
        }
    }
    digits[m] = '\0';
    snprintf(buf, sizeof buf, "%s%se%d", neg ? "-" : "", digits, lastexp);
    return strtod(buf, NULL);
}

/* ROUND(x, d) for integers: d >= 0 keeps x; d < 0 rounds to 10^-d. */
static int64_t round_int(int64_t x, int64_t d, bool is32)
{
    if (d >= 0) return x;
    if (d < -18) return 0;
    int64_t p = 1;
    for (int64_t k = 0; k < -d; k++) p *= 10;
    int64_t rem = x % p;
    uint64_t base = (uint64_t)x - (uint64_t)rem;
    uint64_t arem = rem < 0 ? (uint64_t)0 - (uint64_t)rem : (uint64_t)rem;
    if (arem * 2 >= (uint64_t)p) base += rem < 0 ? (uint64_t)0 - (uint64_t)p : (uint64_t)p;
    return is32 ? wrap32(base) : (int64_t)base;
}

static void eval_unary_num(rn_func_id fn, rn_type_id t, vec_t A, int n, rn_value_t *out)
{
    const rn_value_t *v = A.v;
    int s = A.step;
#define UNLOOP(...)                                                                \
    for (int i = 0; i < n; i++) {                                                  \
        const rn_value_t *x = &v[i * s];                                           \
        rn_value_t r = {.null = x->null};                                          \
        __VA_ARGS__;                                                               \
        out[i] = r;                                                                \
    }
    if (t == RN_TYPE_DOUBLE) {
        switch (fn) {
        case RN_FN_NEG: UNLOOP(r.d = -x->d); break;
        case RN_FN_ABS: UNLOOP(r.d = fabs(x->d)); break;
        case RN_FN_FLOOR: UNLOOP(r.d = floor(x->d)); break;
        case RN_FN_CEIL: UNLOOP(r.d = ceil(x->d)); break;
        case RN_FN_SQRT: UNLOOP(r.d = sqrt(x->d)); break;
        default: break;
        }
    } else if (t == RN_TYPE_INT) {
        switch (fn) {
        case RN_FN_NEG: UNLOOP(r.i = wrap32(0 - (uint64_t)x->i)); break;
        case RN_FN_ABS: UNLOOP(r.i = x->i < 0 ? wrap32(0 - (uint64_t)x->i) : x->i); break;
        default: UNLOOP(r.i = x->i); break;
        }
    } else {
        switch (fn) {
        case RN_FN_NEG: UNLOOP(r.i = (int64_t)(0 - (uint64_t)x->i)); break;
        case RN_FN_ABS: UNLOOP(r.i = x->i < 0 ? (int64_t)(0 - (uint64_t)x->i) : x->i); break;
        default: UNLOOP(r.i = x->i); break;
        }
    }
#undef UNLOOP
}

static void eval_round(rn_type_id t, vec_t *args, int nargs, int n, rn_value_t *out)
{
    static const rn_value_t zero = {.i = 0};
    vec_t X = args[0], D = nargs > 1 ? args[1] : (vec_t){&zero, 0};
    if (t == RN_TYPE_DOUBLE)
        BINLOOP(X, D, r.null = x->null | y->null; if (!r.null) r.d = round_double(x->d, y->i));
    else
        BINLOOP(X, D, r.null = x->null | y->null;
                if (!r.null) r.i = round_int(x->i, y->i, t == RN_TYPE_INT));
}

/* ------------------------------------------------------------------ */
/* conditionals and predicates                                          */

static void eval_in(const rn_expr_t *e, vec_t *args, int n, rn_value_t *out)
{
    int cls = type_class(e->args[0]->type->id);
    bool negate = e->fn == RN_FN_NOT_IN;
    vec_t X = args[0];
    /* out[i].i = found, out[i].null = some NULL seen (until the end) */
    for (int i = 0; i < n; i++) out[i] = (rn_value_t){.i = 0, .null = X.v[i * X.step].null};
    for (int k = 1; k < e->nargs; k++) {
        vec_t Y = args[k];
        const rn_value_t *xv = X.v, *yv = Y.v;
        int xs = X.step, ys = Y.step;
        if (cls == CLS_INT) {
            for (int i = 0; i < n; i++) {
                const rn_value_t *x = &xv[i * xs], *y = &yv[i * ys];
                out[i].null |= y->null;
                out[i].i |= !x->null & !y->null & (x->i == y->i);
            }
        } else if (cls == CLS_DBL) {
            for (int i = 0; i < n; i++) {
                const rn_value_t *x = &xv[i * xs], *y = &yv[i * ys];
                out[i].null |= y->null;
                out[i].i |= !x->null & !y->null & (x->d == y->d);
            }
        } else {
            for (int i = 0; i < n; i++) {
                const rn_value_t *x = &xv[i * xs], *y = &yv[i * ys];
                out[i].null |= y->null;
                if (!x->null && !y->null && !out[i].i) out[i].i = str_eq(x, y);
            }
        }
    }
    for (int i = 0; i < n; i++) {
        bool found = out[i].i != 0;
        out[i].null = (!found) & out[i].null;
        out[i].i = found != negate;
    }
}

static void eval_between(const rn_expr_t *e, vec_t *args, int n, rn_value_t *out, rn_value_t *tmp)
{
    int cls = type_class(e->args[0]->type->id);
    eval_cmp(RN_FN_GE, cls, args[0], args[1], n, tmp);
    eval_cmp(RN_FN_LE, cls, args[0], args[2], n, out);
    eval_and((vec_t){tmp, 1}, (vec_t){out, 1}, n, out);
    if (e->fn == RN_FN_NOT_BETWEEN)
        for (int i = 0; i < n; i++) out[i].i = !out[i].null & !out[i].i;
}

static void eval_case(const rn_expr_t *e, vec_t *args, int n, rn_value_t *out)
{
    int npairs = e->nargs / 2;
    if (e->nargs % 2) copy_vec(args[e->nargs - 1], n, out);
    else
        for (int i = 0; i < n; i++) out[i] = RN_VALUE_NULL;
    /* Later branches first, so the first true condition wins. */
    for (int p = npairs - 1; p >= 0; p--) {
        vec_t C = args[2 * p], T = args[2 * p + 1];
        for (int i = 0; i < n; i++) {
            const rn_value_t *c = &C.v[i * C.step];
            if (!c->null && c->i) out[i] = T.v[i * T.step];
        }
    }
}

static void eval_coalesce(vec_t *args, int nargs, int n, rn_value_t *out)
{
    copy_vec(args[0], n, out);
    for (int k = 1; k < nargs; k++) {
        vec_t Y = args[k];
        for (int i = 0; i < n; i++)
            if (out[i].null) out[i] = Y.v[i * Y.step];
    }
}

static void eval_nullif(rn_type_id t, vec_t A, vec_t B, int n, rn_value_t *out)
{
    int cls = type_class(t);
    BINLOOP(A, B, {
        r = *x;
        if (!x->null && !y->null) {
            bool eq = cls == CLS_STR ? str_eq(x, y) : cls == CLS_DBL ? x->d == y->d : x->i == y->i;
            if (eq) r = RN_VALUE_NULL;
        }
    });
}

static void eval_if(vec_t C, vec_t T, vec_t F, int n, rn_value_t *out)
{
    for (int i = 0; i < n; i++) {
        const rn_value_t *c = &C.v[i * C.step];
        out[i] = (!c->null && c->i) ? T.v[i * T.step] : F.v[i * F.step];
    }
}

static void eval_is(rn_func_id fn, vec_t A, int n, rn_value_t *out)
{
    const rn_value_t *v = A.v;
    int s = A.step;
    for (int i = 0; i < n; i++) {
        const rn_value_t *x = &v[i * s];
        int isnull = x->null, t = !isnull & (x->i != 0), f = !isnull & (x->i == 0);
        int r;
        switch (fn) {
        case RN_FN_IS_NULL: r = isnull; break;
        case RN_FN_IS_NOT_NULL: r = !isnull; break;
        case RN_FN_IS_TRUE: r = t; break;
        case RN_FN_IS_NOT_TRUE: r = !t; break;
        case RN_FN_IS_FALSE: r = f; break;
        default: r = !f; break;
        }
        out[i] = rn_value_bool(r);
    }
}

/* ------------------------------------------------------------------ */
/* the rows of rn_funcs evaluated here (see expr_int.h)                 */

rn_err_t rn_fn_arith(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    eval_arith(e->fn, e->type->id, args[0], args[1], n, out);
    return RN_OK;
}

rn_err_t rn_fn_unary_num(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    eval_unary_num(e->fn, e->type->id, args[0], n, out);
    return RN_OK;
}

rn_err_t rn_fn_cmp(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    eval_cmp(e->fn, type_class(e->args[0]->type->id), args[0], args[1], n, out);
    return RN_OK;
}

rn_err_t rn_fn_and(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    eval_and(args[0], args[1], n, out);
    return RN_OK;
}

rn_err_t rn_fn_or(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    eval_or(args[0], args[1], n, out);
    return RN_OK;
}

rn_err_t rn_fn_not(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    for (int i = 0; i < n; i++) {
        const rn_value_t *x = &args[0].v[i * args[0].step];
        out[i] = (rn_value_t){.i = !x->i, .null = x->null};
    }
    return RN_OK;
}

rn_err_t rn_fn_is(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    eval_is(e->fn, args[0], n, out);
    return RN_OK;
}

rn_err_t rn_fn_between(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    rn_value_t *tmp = rn_arena_alloc(a, sizeof(rn_value_t) * (size_t)(n ? n : 1));
    if (!tmp) return RN_ERR_NOMEM;
    eval_between(e, args, n, out, tmp);
    return RN_OK;
}

rn_err_t rn_fn_in(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    eval_in(e, args, n, out);
    return RN_OK;
}

rn_err_t rn_fn_case(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    eval_case(e, args, n, out);
    return RN_OK;
}

rn_err_t rn_fn_coalesce(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    eval_coalesce(args, e->nargs, n, out);
    return RN_OK;
}

rn_err_t rn_fn_nullif(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    eval_nullif(e->args[0]->type->id, args[0], args[1], n, out);
    return RN_OK;
}

rn_err_t rn_fn_if(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    eval_if(args[0], args[1], args[2], n, out);
    return RN_OK;
}

rn_err_t rn_fn_round(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    eval_round(e->type->id, args, e->nargs, n, out);
    return RN_OK;
}

rn_err_t rn_fn_power(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    BINLOOP(args[0], args[1], r.d = pow(x->d, y->d); r.null = x->null | y->null);
    return RN_OK;
}

/* ------------------------------------------------------------------ */
/* dispatch                                                             */

/* Evaluates the arguments of function node e, then e by its row of
 * rn_funcs. */
static rn_err_t eval_func(const rn_expr_t *e, const rn_batch_t *in, rn_arena_t *a,
                          rn_value_t *out)
{
    RN_ASSERT((unsigned)e->fn < RN_FN__COUNT && e->nargs >= rn_funcs[e->fn].min_args &&
              e->nargs <= rn_funcs[e->fn].max_args);
    int n = in->nrows;
    if ((unsigned)e->fn >= RN_FN__COUNT) { /* not a function: NULLs */
        for (int i = 0; i < n; i++) out[i] = RN_VALUE_NULL;
        return RN_OK;
    }
    vec_t *args;
    rn_err_t err = eval_args(e, in, a, &args);
    if (err) return err;
    return rn_funcs[e->fn].eval(e, args, n, a, out);
}

rn_err_t rn_expr_eval(const rn_expr_t *e, const rn_batch_t *in, rn_arena_t *arena, rn_value_t *out)
{
    if (e->kind == RN_EXPR_FUNC) return eval_func(e, in, arena, out);
    vec_t v;
    rn_err_t err = eval_vec(e, in, arena, &v);
    if (err) return err;
    copy_vec(v, in->nrows, out);
    return RN_OK;
}

int rn_expr_select(const rn_expr_t *e, const rn_batch_t *in, rn_arena_t *arena, int *sel)
{
    vec_t v;
    if (eval_vec(e, in, arena, &v) != RN_OK) return -1;
    int n = in->nrows, k = 0;
    if (v.step == 0) {
        if (v.v[0].null || !v.v[0].i) return 0;
        for (int i = 0; i < n; i++) sel[i] = i;
        return n;
    }
    for (int i = 0; i < n; i++) {
        sel[k] = i;
        k += !v.v[i].null & (v.v[i].i != 0);
    }
    return k;
}

