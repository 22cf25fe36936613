/*
 * expr.c - the vectorized evaluator for bound scalar expressions.
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
 *    returns s unchanged. Results that equal an input (TRIM, LOWER of
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
#include "expr/expr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/timeparse.h"

/* A read-only view of one argument's values for the current batch. */
typedef struct vec {
    const rn_value_t *v; /* values: nrows of them, or one when step is 0 */
    int step;            /* 1 for a vector, 0 for a broadcast constant */
} vec_t;

/* Result of one scalar conversion. */
typedef enum cast_res {
    CAST_OK,    /* converted (out may still be NULL for a NULL input) */
    CAST_FAIL,  /* not representable: the result is NULL */
    CAST_NOMEM, /* the arena could not hold the result string */
} cast_res;

static rn_err_t eval_func(const rn_expr_t *e, const rn_batch_t *in, rn_arena_t *a,
                          rn_value_t *out);

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static inline int64_t wrap32(uint64_t x) { return (int64_t)(int32_t)(uint32_t)x; }

static inline void mcpy(void *dst, const void *src, size_t n)
{
    if (n) memcpy(dst, src, n);
}

/* Length of the UTF-8 sequence started by lead byte c (1 for stray bytes). */
static inline uint32_t u8len(unsigned char c)
{
    if (c < 0xC0) return 1;
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    return 4;
}

/* Number of code points in s[0..n). */
static uint32_t u8count(const char *s, uint32_t n)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Byte offset of code point k (0-based) in s[0..n); n if k is past the end. */
static uint32_t u8offset(const char *s, uint32_t n, uint64_t k)
{
    uint32_t off = 0;
    while (k > 0 && off < n) {
        uint32_t l = u8len((unsigned char)s[off]);
        off = l > n - off ? n : off + l;
        k--;
    }
    return off;
}

static inline bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Narrows s/len to its content without surrounding whitespace. */
static void trim_ws(const char **s, uint32_t *len)
{
    const char *p = *s;
    uint32_t n = *len;
    while (n && is_ws(*p)) p++, n--;
    while (n && is_ws(p[n - 1])) n--;
    *s = p;
    *len = n;
}

/* Classes of comparison: which member of rn_value_t carries the value. */
enum { CLS_INT, CLS_DBL, CLS_STR };

static int type_class(rn_type_id t)
{
    if (t == RN_TYPE_DOUBLE) return CLS_DBL;
    if (t == RN_TYPE_STRING) return CLS_STR;
    return CLS_INT;
}

static inline bool str_eq(const rn_value_t *x, const rn_value_t *y)
{
    return x->len == y->len && (x->len == 0 || memcmp(x->s, y->s, x->len) == 0);
}

static inline int str_cmp(const rn_value_t *x, const rn_value_t *y)
{
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->s, y->s, n) : 0;
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Expands the loop (which uses the constants sa and sb as strides for two
 * vectors) once per stride combination so every loop has fixed strides. */
#define STRIDE2(A, B, ...)                                                         \
    do {                                                                           \
        if ((A).step && (B).step) {                                                \
            const int sa = 1, sb = 1;                                              \
            __VA_ARGS__;                                                           \
        } else if ((A).step) {                                                     \
            const int sa = 1, sb = 0;                                              \
            __VA_ARGS__;                                                           \
        } else if ((B).step) {                                                     \
            const int sa = 0, sb = 1;                                              \
            __VA_ARGS__;                                                           \
        } else {                                                                   \
            const int sa = 0, sb = 0;                                              \
            __VA_ARGS__;                                                           \
        }                                                                          \
    } while (0)

/* Loop over n rows with x = A[i], y = B[i]; the body sets r (zeroed). */
#define BINLOOP(A, B, ...)                                                         \
    STRIDE2(A, B, for (int i = 0; i < n; i++) {                                    \
        const rn_value_t *x = &(A).v[i * sa], *y = &(B).v[i * sb];                 \
        rn_value_t r = {.i = 0};                                                   \
        __VA_ARGS__;                                                               \
        out[i] = r;                                                                \
    })

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

static void copy_vec(vec_t v, int n, rn_value_t *out)
{
    if (v.step) {
        memcpy(out, v.v, sizeof(rn_value_t) * (size_t)n);
    } else {
        rn_value_t c = v.v[0];
        for (int i = 0; i < n; i++) out[i] = c;
    }
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
/* LIKE                                                                 */

enum { LIKE_ONE = 256, LIKE_ANY = 257 };
enum { LK_EXACT, LK_PREFIX, LK_SUFFIX, LK_CONTAINS, LK_ALL, LK_GENERAL };

/* A compiled LIKE pattern. */
typedef struct like_pat {
    uint16_t *code;  /* compiled pattern: byte 0..255, LIKE_ONE or LIKE_ANY */
    uint32_t n;      /* entries in code */
    int kind;        /* LK_*: which matcher applies */
    char *lit;       /* literal bytes for the fast matchers */
    uint32_t litlen; /* bytes in lit */
} like_pat_t;

/* Compiles pattern p with optional escape esc (NULL for none) into lp;
 * code must hold plen entries, lit plen bytes. Returns false when the
 * pattern or escape is invalid (the LIKE is then NULL). */
static bool like_compile(const rn_value_t *p, const rn_value_t *esc, uint16_t *code, char *lit,
                         like_pat_t *lp)
{
    const unsigned char *s = (const unsigned char *)p->s;
    uint32_t n = p->len, k = 0, i = 0;
    if (esc && (esc->len == 0 || u8count(esc->s, esc->len) != 1)) return false;
    while (i < n) {
        if (esc && n - i >= esc->len && memcmp(s + i, esc->s, esc->len) == 0) {
            i += esc->len;
            if (i >= n) return false;
            uint32_t l = u8len(s[i]);
            if (l > n - i) l = n - i;
            for (uint32_t j = 0; j < l; j++) code[k++] = s[i + j];
            i += l;
        } else if (s[i] == '%') {
            if (k == 0 || code[k - 1] != LIKE_ANY) code[k++] = LIKE_ANY;
            i++;
        } else if (s[i] == '_') {
            code[k++] = LIKE_ONE;
            i++;
        } else {
            code[k++] = s[i++];
        }
    }
    lp->code = code;
    lp->n = k;
    lp->lit = lit;
    lp->litlen = 0;
    uint32_t nany = 0, none = 0;
    for (uint32_t j = 0; j < k; j++) {
        if (code[j] == LIKE_ANY) nany++;
        else if (code[j] == LIKE_ONE) none++;
        else lit[lp->litlen++] = (char)code[j];
    }
    bool first = k && code[0] == LIKE_ANY, last = k && code[k - 1] == LIKE_ANY;
    lp->kind = LK_GENERAL;
    if (none == 0) {
        if (nany == 0) lp->kind = LK_EXACT;
        else if (k == 1) lp->kind = LK_ALL;
        else if (nany == 1 && last) lp->kind = LK_PREFIX;
        else if (nany == 1 && first) lp->kind = LK_SUFFIX;
        else if (nany == 2 && first && last) lp->kind = LK_CONTAINS;
    }
    return true;
}

/* General matcher: greedy with backtracking to the last %, so it runs in
 * O(len(s) * len(pattern)) at worst without recursion. */
static bool like_general(const unsigned char *s, uint32_t n, const uint16_t *pc, uint32_t pn)
{
    uint32_t si = 0, pi = 0, star_p = UINT32_MAX, star_s = 0;
    while (si < n) {
        if (pi < pn && pc[pi] == LIKE_ONE) {
            uint32_t l = u8len(s[si]);
            si = l > n - si ? n : si + l;
            pi++;
        } else if (pi < pn && pc[pi] == s[si]) {
            si++;
            pi++;
        } else if (pi < pn && pc[pi] == LIKE_ANY) {
            star_p = pi++;
            star_s = si;
        } else if (star_p != UINT32_MAX) {
            pi = star_p + 1;
            uint32_t l = u8len(s[star_s]);
            star_s = l > n - star_s ? n : star_s + l;
            si = star_s;
        } else {
            return false;
        }
    }
    while (pi < pn && pc[pi] == LIKE_ANY) pi++;
    return pi == pn;
}

static bool like_match(const like_pat_t *lp, const rn_value_t *v)
{
    const char *s = v->s;
    uint32_t n = v->len, m = lp->litlen;
    switch (lp->kind) {
    case LK_EXACT: return n == m && (m == 0 || memcmp(s, lp->lit, m) == 0);
    case LK_PREFIX: return n >= m && (m == 0 || memcmp(s, lp->lit, m) == 0);
    case LK_SUFFIX: return n >= m && (m == 0 || memcmp(s + n - m, lp->lit, m) == 0);
    case LK_CONTAINS: return m == 0 || (n >= m && memmem(s, n, lp->lit, m) != NULL);
    case LK_ALL: return true;
    default: return like_general((const unsigned char *)s, n, lp->code, lp->n);
    }
}

static rn_err_t eval_like(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    bool negate = e->fn == RN_FN_NOT_LIKE;
    vec_t S = args[0], P = args[1];
    bool has_esc = e->nargs > 2;
    vec_t E = has_esc ? args[2] : (vec_t){NULL, 0};
    if (P.step == 0 && (!has_esc || E.step == 0)) {
        /* constant pattern: compile once */
        const rn_value_t *pv = &P.v[0], *ev = has_esc ? &E.v[0] : NULL;
        like_pat_t lp;
        bool nul = pv->null || (ev && ev->null);
        if (!nul) {
            uint16_t *code = rn_arena_alloc(a, sizeof(uint16_t) * (pv->len + 1u));
            char *lit = rn_arena_alloc(a, pv->len + 1u);
            if (!code || !lit) return RN_ERR_NOMEM;
            nul = !like_compile(pv, ev, code, lit, &lp);
        }
        if (nul) {
            for (int i = 0; i < n; i++) out[i] = RN_VALUE_NULL;
            return RN_OK;
        }
        if (S.step == 0) {
            rn_value_t r = S.v[0].null ? RN_VALUE_NULL : rn_value_bool(like_match(&lp, &S.v[0]) != negate);
            for (int i = 0; i < n; i++) out[i] = r;
            return RN_OK;
        }
        const rn_value_t *sv = S.v;
        const char *lit = lp.lit;
        uint32_t m = lp.litlen;
        /* The common shapes get their own loops. */
        switch (lp.kind) {
        case LK_PREFIX:
            for (int i = 0; i < n; i++) {
                rn_value_t r = {.null = sv[i].null};
                if (!r.null) r.i = (sv[i].len >= m && (m == 0 || memcmp(sv[i].s, lit, m) == 0)) != negate;
                out[i] = r;
            }
            return RN_OK;
        case LK_CONTAINS:
            for (int i = 0; i < n; i++) {
                rn_value_t r = {.null = sv[i].null};
                if (!r.null)
                    r.i = (m == 0 || (sv[i].len >= m && memmem(sv[i].s, sv[i].len, lit, m))) != negate;
                out[i] = r;
            }
            return RN_OK;
        default:
            for (int i = 0; i < n; i++) {
                rn_value_t r = {.null = sv[i].null};
                if (!r.null) r.i = like_match(&lp, &sv[i]) != negate;
                out[i] = r;
            }
            return RN_OK;
        }
    }
    /* Per-row patterns: one scratch buffer sized for the longest one. */
    uint32_t maxlen = 0;
    for (int i = 0; i < n; i++) {
        const rn_value_t *pv = &P.v[i * P.step];
        if (!pv->null && pv->len > maxlen) maxlen = pv->len;
    }
    uint16_t *code = rn_arena_alloc(a, sizeof(uint16_t) * (maxlen + 1u));
    char *lit = rn_arena_alloc(a, maxlen + 1u);
    if (!code || !lit) return RN_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        const rn_value_t *sv = &S.v[i * S.step], *pv = &P.v[i * P.step];
        const rn_value_t *ev = has_esc ? &E.v[i * E.step] : NULL;
        like_pat_t lp;
        if (sv->null || pv->null || (ev && ev->null) || !like_compile(pv, ev, code, lit, &lp)) {
            out[i] = RN_VALUE_NULL;
            continue;
        }
        out[i] = rn_value_bool(like_match(&lp, sv) != negate);
    }
    return RN_OK;
}

/* ------------------------------------------------------------------ */
/* CAST                                                                 */

/* The shortest decimal digits that read back as d (finite, nonzero):
 * digits[0..*nd) with the decimal point after the first digit, times
 * 10^*exp. digits needs 24 bytes. Returns whether d is negative. */
static bool shortest_digits(double d, char *digits, int *nd, int *exp)
{
    char tmp[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        if (p == 17 || strtod(tmp, NULL) == d) break;
    }
    /* tmp is [-]D[.DDD]e[+-]XX */
    const char *t = tmp;
    bool neg = *t == '-';
    if (neg) t++;
    *nd = 0;
    for (; *t && *t != 'e'; t++)
        if (*t != '.') digits[(*nd)++] = *t;
    *exp = atoi(t + 1);
    return neg;
}

int rn_expr_format_double(double d, char *buf, size_t bufsize)
{
    char digits[24];
    int len;
    if (isnan(d)) return snprintf(buf, bufsize, "NaN");
    if (isinf(d)) return snprintf(buf, bufsize, d < 0 ? "-Infinity" : "Infinity");
    if (d == 0) return snprintf(buf, bufsize, signbit(d) ? "-0.0" : "0.0");
    int nd, exp;
    bool neg = shortest_digits(d, digits, &nd, &exp);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    char out[48];
    int o = 0;
    if (neg) out[o++] = '-';
    if (exp >= -4 && exp < 16) {
        if (exp >= 0) {
            for (int i = 0; i <= exp; i++) out[o++] = i < nd ? digits[i] : '0';
            out[o++] = '.';
            if (nd > exp + 1)
                for (int i = exp + 1; i < nd; i++) out[o++] = digits[i];
            else
                out[o++] = '0';
        } else {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -exp - 1; i++) out[o++] = '0';
            for (int i = 0; i < nd; i++) out[o++] = digits[i];
        }
        out[o] = '\0';
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++) out[o++] = digits[i];
        }
        snprintf(out + o, sizeof out - (size_t)o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    len = snprintf(buf, bufsize, "%s", out);
    return len;
}

/* Parses a trimmed decimal integer in [lo, hi]; false if not one. */
static bool parse_int(const char *s, uint32_t len, int64_t lo, int64_t hi, int64_t *out)
{
    trim_ws(&s, &len);
    uint32_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i == len) return false;
    uint64_t limit = neg ? (uint64_t)0 - (uint64_t)lo : (uint64_t)hi, v = 0;
    for (; i < len; i++) {
        unsigned c = (unsigned char)s[i] - '0';
        if (c > 9) return false;
        if (v > (limit - c) / 10) return false;
        v = v * 10 + c;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool parse_double(const char *s, uint32_t len, rn_arena_t *a, double *out, cast_res *res)
{
    trim_ws(&s, &len);
    if (len == 0) return false;
    char small[64], *z = small;
    if (len >= sizeof small) {
        z = rn_arena_alloc(a, (size_t)len + 1);
        if (!z) {
            *res = CAST_NOMEM;
            return false;
        }
    }
    memcpy(z, s, len);
    z[len] = '\0';
    char *end;
    double d = strtod(z, &end);
    if (end != z + len) return false;
    *out = d;
    return true;
}

static bool ieq(const char *s, uint32_t len, const char *word)
{
    size_t wl = strlen(word);
    if (wl != len) return false;
    for (size_t i = 0; i < wl; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (c != word[i]) return false;
    }
    return true;
}

static bool parse_bool(const char *s, uint32_t len, int64_t *out)
{
    static const char *const yes[] = {"true", "t", "yes", "y", "1"};
    static const char *const no[] = {"false", "f", "no", "n", "0"};
    trim_ws(&s, &len);
    for (int k = 0; k < 5; k++) {
        if (ieq(s, len, yes[k])) return (*out = 1), true;
        if (ieq(s, len, no[k])) return (*out = 0), true;
    }
    return false;
}

static bool is_ts(rn_type_id t) { return t == RN_TYPE_TIMESTAMP || t == RN_TYPE_TIMESTAMP_LTZ; }

/* Converts one non-NULL value; see the file comment for the rules. */
static cast_res cast_one(rn_type_id from, rn_type_id to, const rn_value_t *in, rn_arena_t *a,
                         rn_value_t *out)
{
    rn_value_t r = {.i = 0};
    *out = RN_VALUE_NULL;
    if (from == to || (is_ts(from) && is_ts(to))) {
        *out = *in;
        return CAST_OK;
    }
    if (from == RN_TYPE_NULL) return CAST_OK;
    switch (to) {
    case RN_TYPE_BOOLEAN:
        if (from == RN_TYPE_INT || from == RN_TYPE_BIGINT) r.i = in->i != 0;
        else if (from == RN_TYPE_DOUBLE) {
            if (isnan(in->d)) return CAST_FAIL;
            r.i = in->d != 0;
        } else if (from == RN_TYPE_STRING) {
            if (!parse_bool(in->s, in->len, &r.i)) return CAST_FAIL;
        } else return CAST_FAIL;
        break;
    case RN_TYPE_INT:
    case RN_TYPE_BIGINT:
    case RN_TYPE_TIMESTAMP:
    case RN_TYPE_TIMESTAMP_LTZ:
        if (is_ts(to) && from == RN_TYPE_BOOLEAN) return CAST_FAIL;
        if (from == RN_TYPE_DOUBLE) {
            double d = in->d;
            if (to == RN_TYPE_INT) {
                if (!(d > -2147483649.0 && d < 2147483648.0)) return CAST_FAIL;
            } else if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
                return CAST_FAIL;
            }
            r.i = (int64_t)d;
        } else if (from == RN_TYPE_STRING) {
            if (is_ts(to)) {
                const char *s = in->s;
                uint32_t len = in->len;
                trim_ws(&s, &len);
                if (!rn_time_parse(s, len, &r.i)) return CAST_FAIL;
            } else if (to == RN_TYPE_INT) {
                if (!parse_int(in->s, in->len, INT32_MIN, INT32_MAX, &r.i)) return CAST_FAIL;
            } else if (!parse_int(in->s, in->len, INT64_MIN, INT64_MAX, &r.i)) {
                return CAST_FAIL;
            }
        } else if (from == RN_TYPE_ROW) {
            return CAST_FAIL;
        } else {
            r.i = to == RN_TYPE_INT ? wrap32((uint64_t)in->i) : in->i;
        }
        break;
    case RN_TYPE_DOUBLE:
        if (from == RN_TYPE_STRING) {
            cast_res res = CAST_FAIL;
            if (!parse_double(in->s, in->len, a, &r.d, &res)) return res;
        } else if (from == RN_TYPE_ROW) {
            return CAST_FAIL;
        } else {
            r.d = (double)in->i;
        }
        break;
    case RN_TYPE_STRING: {
        char tmp[48];
        int len;
        if (from == RN_TYPE_BOOLEAN) {
            *out = in->i ? rn_value_str("TRUE", 4) : rn_value_str("FALSE", 5);
            return CAST_OK;
        }
        if (from == RN_TYPE_INT || from == RN_TYPE_BIGINT) len = snprintf(tmp, sizeof tmp, "%lld", (long long)in->i);
        else if (from == RN_TYPE_DOUBLE) len = rn_expr_format_double(in->d, tmp, sizeof tmp);
        else if (is_ts(from)) len = rn_time_format(in->i, tmp, sizeof tmp);
        else return CAST_FAIL;
        char *s = rn_arena_strndup(a, tmp, (size_t)len);
        if (!s) return CAST_NOMEM;
        r = rn_value_str(s, (uint32_t)len);
        break;
    }
    default:
        return CAST_FAIL;
    }
    *out = r;
    return CAST_OK;
}

bool rn_value_cast(rn_type_id from, rn_type_id to, const rn_value_t *in, rn_arena_t *arena,
                   rn_value_t *out)
{
    if (in->null) {
        *out = RN_VALUE_NULL;
        return true;
    }
    if (cast_one(from, to, in, arena, out) != CAST_OK) {
        *out = RN_VALUE_NULL;
        return false;
    }
    return true;
}

static rn_err_t eval_cast(rn_type_id from, rn_type_id to, vec_t A, int n, rn_arena_t *a,
                          rn_value_t *out)
{
    const rn_value_t *v = A.v;
    int s = A.step;
    bool ifrom = from == RN_TYPE_INT || from == RN_TYPE_BIGINT || from == RN_TYPE_BOOLEAN || is_ts(from);
    /* Numeric conversions get tight loops; the rest go value by value. */
    if (from == to || (is_ts(from) && is_ts(to)) ||
        (ifrom && (to == RN_TYPE_BIGINT || (is_ts(to) && from != RN_TYPE_BOOLEAN)))) {
        copy_vec(A, n, out);
    } else if (ifrom && to == RN_TYPE_INT) {
        for (int i = 0; i < n; i++) out[i] = (rn_value_t){.i = wrap32((uint64_t)v[i * s].i), .null = v[i * s].null};
    } else if (ifrom && to == RN_TYPE_DOUBLE) {
        for (int i = 0; i < n; i++) out[i] = (rn_value_t){.d = (double)v[i * s].i, .null = v[i * s].null};
    } else if (from == RN_TYPE_DOUBLE && to == RN_TYPE_INT) {
        for (int i = 0; i < n; i++) {
            double d = v[i * s].d;
            bool ok = d > -2147483649.0 && d < 2147483648.0;
            out[i] = (rn_value_t){.i = ok ? (int64_t)d : 0, .null = v[i * s].null | !ok};
        }
    } else if (from == RN_TYPE_DOUBLE && (to == RN_TYPE_BIGINT || is_ts(to))) {
        for (int i = 0; i < n; i++) {
            double d = v[i * s].d;
            bool ok = d >= -9223372036854775808.0 && d < 9223372036854775808.0;
            out[i] = (rn_value_t){.i = ok ? (int64_t)d : 0, .null = v[i * s].null | !ok};
        }
    } else {
        for (int i = 0; i < n; i++) {
            const rn_value_t *x = &v[i * s];
            if (x->null) {
                out[i] = RN_VALUE_NULL;
                continue;
            }
            cast_res r = cast_one(from, to, x, a, &out[i]);
            if (r == CAST_NOMEM) return RN_ERR_NOMEM;
            if (r == CAST_FAIL) out[i] = RN_VALUE_NULL;
        }
    }
    if (from == RN_TYPE_NULL)
        for (int i = 0; i < n; i++) out[i] = RN_VALUE_NULL;
    return RN_OK;
}

/* ------------------------------------------------------------------ */
/* strings                                                              */

/* Byte offset of the first character of s[0..n) that case mapping
 * changes, or n. */
static uint32_t case_first(const unsigned char *s, uint32_t n, bool upper)
{
    for (uint32_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (upper ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z')) return i;
            continue;
        }
        if (i + 1 >= n) break;
        unsigned char c2 = s[i + 1];
        if (upper) {
            if ((c == 0xC3 && c2 >= 0xA0 && c2 <= 0xBE && c2 != 0xB7) || (c == 0xD0 && c2 >= 0xB0 && c2 <= 0xBF) ||
                (c == 0xD1 && c2 >= 0x80 && c2 <= 0x9F))
                return i;
        } else {
            if ((c == 0xC3 && c2 >= 0x80 && c2 <= 0x9E && c2 != 0x97) || (c == 0xD0 && c2 >= 0x80 && c2 <= 0xAF))
                return i;
        }
        i += u8len(c) - 1;
    }
    return n;
}

/* Maps s[from..n) into d[from..n) (same length). */
static void case_map(const unsigned char *s, uint32_t n, uint32_t from, unsigned char *d, bool upper)
{
    uint32_t i = from;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (upper) d[i] = (c >= 'a' && c <= 'z') ? (unsigned char)(c - 32) : c;
            else d[i] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
            i++;
            continue;
        }
        uint32_t l = u8len(c);
        if (l > n - i) l = n - i;
        memcpy(d + i, s + i, l);
        if (l == 2) {
            unsigned char c2 = s[i + 1];
            if (upper) {
                if (c == 0xC3 && c2 >= 0xA0 && c2 <= 0xBE && c2 != 0xB7) d[i + 1] = (unsigned char)(c2 - 0x20);
                else if (c == 0xD0 && c2 >= 0xB0 && c2 <= 0xBF) d[i + 1] = (unsigned char)(c2 - 0x20);
                else if (c == 0xD1 && c2 >= 0x80 && c2 <= 0x8F) d[i] = 0xD0, d[i + 1] = (unsigned char)(c2 + 0x20);
                else if (c == 0xD1 && c2 >= 0x90 && c2 <= 0x9F) d[i] = 0xD0, d[i + 1] = (unsigned char)(c2 - 0x10);
            } else {
                if (c == 0xC3 && c2 >= 0x80 && c2 <= 0x9E && c2 != 0x97) d[i + 1] = (unsigned char)(c2 + 0x20);
                else if (c == 0xD0 && c2 >= 0x90 && c2 <= 0x9F) d[i + 1] = (unsigned char)(c2 + 0x20);
                else if (c == 0xD0 && c2 >= 0xA0 && c2 <= 0xAF) d[i] = 0xD1, d[i + 1] = (unsigned char)(c2 - 0x20);
                else if (c == 0xD0 && c2 >= 0x80 && c2 <= 0x8F) d[i] = 0xD1, d[i + 1] = (unsigned char)(c2 + 0x10);
            }
        }
        i += l;
    }
}

static rn_err_t eval_case_map(vec_t A, bool upper, int n, rn_arena_t *a, rn_value_t *out)
{
    for (int i = 0; i < n; i++) {
        const rn_value_t *x = &A.v[i * A.step];
        if (x->null) {
            out[i] = RN_VALUE_NULL;
            continue;
        }
        const unsigned char *s = (const unsigned char *)x->s;
        uint32_t first = case_first(s, x->len, upper);
        if (first == x->len) {
            out[i] = *x;
            continue;
        }
        unsigned char *d = rn_arena_alloc(a, x->len);
        if (!d) return RN_ERR_NOMEM;
        memcpy(d, s, first);
        case_map(s, x->len, first, d, upper);
        out[i] = rn_value_str((const char *)d, x->len);
    }
    return RN_OK;
}

static rn_err_t eval_concat(vec_t *args, int nargs, int n, rn_arena_t *a, rn_value_t *out)
{
    for (int i = 0; i < n; i++) {
        uint64_t total = 0;
        bool nul = false;
        for (int k = 0; k < nargs; k++) {
            const rn_value_t *x = &args[k].v[i * args[k].step];
            nul |= x->null;
            total += x->len;
        }
        if (nul || total > UINT32_MAX) {
            out[i] = RN_VALUE_NULL;
            continue;
        }
        char *d = rn_arena_alloc(a, (size_t)total);
        if (!d) return RN_ERR_NOMEM;
        uint64_t o = 0;
        for (int k = 0; k < nargs; k++) {
            const rn_value_t *x = &args[k].v[i * args[k].step];
            mcpy(d + o, x->s, x->len);
            o += x->len;
        }
        out[i] = rn_value_str(d, (uint32_t)total);
    }
    return RN_OK;
}

static void eval_substring(vec_t *args, int nargs, int n, rn_value_t *out)
{
    for (int i = 0; i < n; i++) {
        const rn_value_t *s = &args[0].v[i * args[0].step], *st = &args[1].v[i * args[1].step];
        const rn_value_t *ln = nargs > 2 ? &args[2].v[i * args[2].step] : NULL;
        if (s->null || st->null || (ln && (ln->null || ln->i < 0))) {
            out[i] = RN_VALUE_NULL;
            continue;
        }
        /* 1-based positions [from, to) intersected with [1, n] */
        int64_t from = st->i, to = INT64_MAX;
        if (ln && __builtin_add_overflow(from, ln->i, &to)) to = INT64_MAX;
        if (from < 1) from = 1;
        if (to <= from) {
            out[i] = rn_value_str(s->s, 0);
            continue;
        }
        uint32_t b0 = u8offset(s->s, s->len, (uint64_t)(from - 1));
        uint32_t b1 = to == INT64_MAX ? s->len : b0 + u8offset(s->s + b0, s->len - b0, (uint64_t)(to - from));
        out[i] = rn_value_str(s->s + b0, b1 - b0);
    }
}

static void eval_trim(vec_t A, int n, rn_value_t *out)
{
    for (int i = 0; i < n; i++) {
        rn_value_t x = A.v[i * A.step];
        if (!x.null) {
            while (x.len && x.s[0] == ' ') x.s++, x.len--;
            while (x.len && x.s[x.len - 1] == ' ') x.len--;
        }
        out[i] = x;
    }
}

static void eval_position(vec_t N, vec_t S, int n, rn_value_t *out)
{
    BINLOOP(N, S, {
        r.null = x->null | y->null;
        if (!r.null) {
            if (x->len == 0) r.i = 1;
            else if (y->len >= x->len) {
                const char *p = memmem(y->s, y->len, x->s, x->len);
                r.i = p ? (int64_t)u8count(y->s, (uint32_t)(p - y->s)) + 1 : 0;
            }
        }
    });
}

static rn_err_t eval_replace(vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    for (int i = 0; i < n; i++) {
        const rn_value_t *s = &args[0].v[i * args[0].step], *f = &args[1].v[i * args[1].step];
        const rn_value_t *t = &args[2].v[i * args[2].step];
        if (s->null || f->null || t->null) {
            out[i] = RN_VALUE_NULL;
            continue;
        }
        if (f->len == 0 || s->len < f->len) {
            out[i] = *s;
            continue;
        }
        uint64_t count = 0;
        const char *p = s->s, *end = s->s + s->len;
        while ((size_t)(end - p) >= f->len && (p = memmem(p, (size_t)(end - p), f->s, f->len))) {
            count++;
            p += f->len;
        }
        if (!count) {
            out[i] = *s;
            continue;
        }
        uint64_t total = s->len + count * ((uint64_t)t->len - f->len);
        if (total > UINT32_MAX) {
            out[i] = RN_VALUE_NULL;
            continue;
        }
        char *d = rn_arena_alloc(a, (size_t)total), *o = d;
        if (!d) return RN_ERR_NOMEM;
        p = s->s;
        const char *q;
        while ((size_t)(end - p) >= f->len && (q = memmem(p, (size_t)(end - p), f->s, f->len))) {
            mcpy(o, p, (size_t)(q - p));
            o += q - p;
            mcpy(o, t->s, t->len);
            o += t->len;
            p = q + f->len;
        }
        mcpy(o, p, (size_t)(end - p));
        out[i] = rn_value_str(d, (uint32_t)total);
    }
    return RN_OK;
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
    int nd, exp;
    bool neg = shortest_digits(x, digits, &nd, &exp);
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
/* time                                                                 */

#define MS_PER_DAY 86400000LL
#define TS_MIN_MS (-62135596800000LL) /* 0001-01-01 00:00:00.000 UTC */
#define TS_MAX_MS 253402300799999LL   /* 9999-12-31 23:59:59.999 UTC */

static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static const char *const month_names[12] = {"January", "February", "March",     "April",
                                            "May",     "June",     "July",      "August",
                                            "September", "October", "November", "December"};
static const char *const day_names[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                         "Friday", "Saturday", "Sunday"};

/* The UTC calendar fields of an instant. */
typedef struct tfields {
    int64_t year;           /* proleptic Gregorian year */
    int month, day;         /* 1..12, 1..31 */
    int hour, minute, sec;  /* 0..23, 0..59, 0..59 */
    int ms;                 /* 0..999 */
    int wday;               /* ISO day of week: 1 Monday .. 7 Sunday */
} tfields_t;

/* Splits ms into calendar fields. The calendar arithmetic is the one of
 * core/timeparse.c, reached through rn_time_format so there is only one. */
static void time_fields(int64_t ms, tfields_t *f)
{
    char buf[48];
    int len = rn_time_format(ms, buf, sizeof buf);
    /* buf is "<year>-MM-DD HH:MM:SS.mmm": a fixed 19-byte tail */
    const char *t = buf + len - 19;
#define D2(k) ((t[k] - '0') * 10 + (t[(k) + 1] - '0'))
    f->month = D2(1);
    f->day = D2(4);
    f->hour = D2(7);
    f->minute = D2(10);
    f->sec = D2(13);
    f->ms = D2(16) * 10 + (t[18] - '0');
#undef D2
    const char *y = buf;
    bool neg = *y == '-';
    if (neg) y++;
    int64_t v = 0;
    for (; y < t; y++) v = v * 10 + (*y - '0');
    f->year = neg ? -v : v;
    /* 1970-01-01 was a Thursday (ISO 4) */
    int64_t wd = (floor_div(ms, MS_PER_DAY) + 3) % 7;
    f->wday = (int)(wd < 0 ? wd + 7 : wd) + 1;
}

static bool leap_year(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Day of the year, 1..366. */
static int day_of_year(const tfields_t *f)
{
    static const int cum[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    return cum[f->month - 1] + f->day + (f->month > 2 && leap_year(f->year));
}

/* ISO 8601 week number, 1..53. */
static int iso_week(const tfields_t *f)
{
    /* p(y): weekday-ish of Dec 31 of y; a year has 53 weeks when it
     * starts or (leap) ends on a Thursday. */
#define P_(y) ((((y) + floor_div((y), 4) - floor_div((y), 100) + floor_div((y), 400)) % 7 + 7) % 7)
#define WEEKS_(y) ((P_(y) == 4 || P_((y) - 1) == 3) ? 53 : 52)
    int w = (day_of_year(f) - f->wday + 10) / 7;
    if (w < 1) return WEEKS_(f->year - 1);
    if (w > WEEKS_(f->year)) return 1;
    return w;
#undef WEEKS_
#undef P_
}

/* ---- date-time patterns (DateTimeFormatter letters) ---------------- */

/* One element of a compiled pattern. */
typedef struct tpat_tok {
    char letter;        /* pattern letter, or 0 for literal text */
    uint8_t count;      /* repetitions of the letter */
    uint32_t off, len;  /* literal text: lit[off .. off + len) */
} tpat_tok_t;

/* A compiled pattern. */
typedef struct tpat {
    tpat_tok_t *tok;    /* ntok elements */
    int ntok;           /* elements in tok */
    const char *lit;    /* literal bytes, quotes removed */
    uint32_t maxout;    /* longest text DATE_FORMAT can produce */
} tpat_t;

/* Highest repetition count of each supported letter (0: unsupported). */
static int tpat_max_count(char c)
{
    switch (c) {
    case 'y':
    case 'u':
    case 'M':
    case 'E': return 4;
    case 'd':
    case 'H':
    case 'h':
    case 'm':
    case 's': return 2;
    case 'S': return 9;
    case 'a': return 1;
    case 'X':
    case 'Z': return 3;
    default: return 0;
    }
}

/* Longest output of one letter token. */
static uint32_t tpat_width(char c, int count)
{
    switch (c) {
    case 'y':
    case 'u': return 20;
    case 'M': return count == 4 ? 9 : count == 3 ? 3 : 2;
    case 'E': return count == 4 ? 9 : 3;
    case 'S': return (uint32_t)count;
    case 'X': return 1;
    case 'Z': return 5;
    default: return 2;
    }
}

static inline bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Compiles p[0..len) into pt using tok (len + 1 entries) and lit (len + 1
 * bytes). Returns false, with a message in err when err is not NULL, if
 * the pattern is not supported (see rn_expr_time_pattern_check). */
static bool tpat_compile(const char *p, size_t len, tpat_tok_t *tok, char *lit, tpat_t *pt, char *err,
                         size_t errsize)
{
    size_t i = 0;
    uint32_t nlit = 0, maxout = 0;
    int n = 0;
    bool in_lit = false; /* the last token is literal text we may extend */
    while (i < len) {
        char c = p[i];
        if (is_letter(c)) {
            size_t j = i;
            while (j < len && p[j] == c) j++;
            int max = tpat_max_count(c);
            if (max == 0) {
                if (err) snprintf(err, errsize, "pattern letter '%c' is not supported", c);
                return false;
            }
            if ((int)(j - i) > max) {
                if (err) snprintf(err, errsize, "too many pattern letters '%c' (at most %d)", c, max);
                return false;
            }
            tok[n++] = (tpat_tok_t){.letter = c, .count = (uint8_t)(j - i)};
            maxout += tpat_width(c, (int)(j - i));
            in_lit = false;
            i = j;
            continue;
        }
        /* literal text: a quoted run or one plain character */
        if (!in_lit) {
            tok[n++] = (tpat_tok_t){.letter = 0, .off = nlit};
            in_lit = true;
        }
        if (c == '\'') {
            if (i + 1 < len && p[i + 1] == '\'') { /* '' is a quote */
                lit[nlit++] = '\'';
                i += 2;
            } else {
                i++;
                for (;;) {
                    if (i >= len) {
                        if (err) snprintf(err, errsize, "unclosed quote in pattern");
                        return false;
                    }
                    if (p[i] == '\'') {
                        if (i + 1 < len && p[i + 1] == '\'') {
                            lit[nlit++] = '\'';
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    lit[nlit++] = p[i++];
                }
            }
        } else {
            lit[nlit++] = c;
            i++;
        }
        tok[n - 1].len = nlit - tok[n - 1].off;
    }
    pt->tok = tok;
    pt->ntok = n;
    pt->lit = lit;
    pt->maxout = maxout + nlit;
    return true;
}

bool rn_expr_time_pattern_check(const char *fmt, size_t len, char *err, size_t errsize)
{
    tpat_tok_t small_tok[64];
    char small_lit[64];
    tpat_tok_t *tok = small_tok;
    char *lit = small_lit;
    if (len >= 64) {
        tok = malloc(sizeof *tok * (len + 1));
        lit = malloc(len + 1);
    }
    tpat_t pt;
    bool ok = tok && lit && tpat_compile(fmt, len, tok, lit, &pt, err, errsize);
    if (!(tok && lit) && err) snprintf(err, errsize, "out of memory");
    if (tok != small_tok) free(tok);
    if (lit != small_lit) free(lit);
    return ok;
}

/* Compiles the pattern value f with scratch from the arena. Returns RN_OK
 * with *ok false if the pattern is invalid, RN_ERR_NOMEM on OOM. */
static rn_err_t tpat_from_value(const rn_value_t *f, rn_arena_t *a, tpat_t *pt, bool *ok)
{
    tpat_tok_t *tok = rn_arena_alloc(a, sizeof *tok * ((size_t)f->len + 1));
    char *lit = rn_arena_alloc(a, (size_t)f->len + 1);
    if (!tok || !lit) return RN_ERR_NOMEM;
    *ok = tpat_compile(f->s, f->len, tok, lit, pt, NULL, 0);
    return RN_OK;
}

/* Writes v zero-padded to at least width digits; returns bytes written. */
static int put_num(char *d, int64_t v, int width)
{
    char tmp[24];
    int k = 0, o = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) d[o++] = '-';
    for (int z = k; z < width; z++) d[o++] = '0';
    while (k) d[o++] = tmp[--k];
    return o;
}

static int put_text(char *d, const char *s, int maxlen)
{
    int k = 0;
    while (s[k] && k < maxlen) {
        d[k] = s[k];
        k++;
    }
    return k;
}

/* Formats ms with pt into d (pt->maxout bytes); returns the length. */
static uint32_t tpat_format(const tpat_t *pt, int64_t ms, char *d)
{
    tfields_t f;
    time_fields(ms, &f);
    uint32_t o = 0;
    for (int k = 0; k < pt->ntok; k++) {
        const tpat_tok_t *t = &pt->tok[k];
        int c = t->count;
        switch (t->letter) {
        case 0:
            mcpy(d + o, pt->lit + t->off, t->len);
            o += t->len;
            break;
        case 'y':
        case 'u':
            if (c == 2) o += (uint32_t)put_num(d + o, ((f.year % 100) + 100) % 100, 2);
            else o += (uint32_t)put_num(d + o, f.year, c);
            break;
        case 'M':
            if (c >= 3) o += (uint32_t)put_text(d + o, month_names[f.month - 1], c == 3 ? 3 : 9);
            else o += (uint32_t)put_num(d + o, f.month, c);
            break;
        case 'd': o += (uint32_t)put_num(d + o, f.day, c); break;
        case 'H': o += (uint32_t)put_num(d + o, f.hour, c); break;
        case 'h': o += (uint32_t)put_num(d + o, f.hour % 12 == 0 ? 12 : f.hour % 12, c); break;
        case 'm': o += (uint32_t)put_num(d + o, f.minute, c); break;
        case 's': o += (uint32_t)put_num(d + o, f.sec, c); break;
        case 'S': {
            char frac[9] = {(char)('0' + f.ms / 100), (char)('0' + f.ms / 10 % 10), (char)('0' + f.ms % 10),
                            '0', '0', '0', '0', '0', '0'};
            memcpy(d + o, frac, (size_t)c);
            o += (uint32_t)c;
            break;
        }
        case 'a': o += (uint32_t)put_text(d + o, f.hour < 12 ? "AM" : "PM", 2); break;
        case 'E': o += (uint32_t)put_text(d + o, day_names[f.wday - 1], c == 4 ? 9 : 3); break;
        case 'X': d[o++] = 'Z'; break;
        case 'Z': o += (uint32_t)put_text(d + o, "+0000", 5); break;
        default: break;
        }
    }
    return o;
}

/* Reads between minw and maxw digits at s[*i]; false if fewer. */
static bool read_num(const char *s, uint32_t n, uint32_t *i, int minw, int maxw, int *v)
{
    int k = 0, x = 0;
    while (k < maxw && *i + (uint32_t)k < n && s[*i + k] >= '0' && s[*i + k] <= '9') {
        x = x * 10 + (s[*i + k] - '0');
        k++;
    }
    if (k < minw) return false;
    *i += (uint32_t)k;
    *v = x;
    return true;
}

/* Matches one of names (their first `abbr` bytes when abbr > 0) at s[*i],
 * case-insensitively; returns its index or -1. */
static int read_name(const char *s, uint32_t n, uint32_t *i, const char *const *names, int count, int abbr)
{
    for (int k = 0; k < count; k++) {
        uint32_t l = abbr ? (uint32_t)abbr : (uint32_t)strlen(names[k]);
        if (n - *i < l) continue;
        uint32_t j = 0;
        while (j < l && (s[*i + j] | 0x20) == (names[k][j] | 0x20)) j++;
        if (j == l) {
            *i += l;
            return k;
        }
    }
    return -1;
}

static bool tpat_numeric(const tpat_tok_t *t)
{
    return t->letter && t->letter != 'a' && t->letter != 'E' && t->letter != 'X' && t->letter != 'Z' &&
           !(t->letter == 'M' && t->count >= 3);
}

/* Parses s[0..n) with pt into epoch milliseconds. Fields the pattern
 * lacks default to 1970-01-01 00:00:00.000. Returns false if s does not
 * match the whole pattern or names no valid time. */
static bool tpat_parse(const tpat_t *pt, const char *s, uint32_t n, int64_t *ms)
{
    int year = 1970, month = 1, day = 1, hour = 0, minute = 0, sec = 0, frac = 0, off_min = 0;
    int h12 = -1, pm = -1, v;
    uint32_t i = 0;
    for (int k = 0; k < pt->ntok; k++) {
        const tpat_tok_t *t = &pt->tok[k];
        int c = t->count;
        /* a number directly followed by another number has a fixed width */
        bool adj = k + 1 < pt->ntok && tpat_numeric(&pt->tok[k + 1]);
        switch (t->letter) {
        case 0:
            if (n - i < t->len || memcmp(s + i, pt->lit + t->off, t->len) != 0) return false;
            i += t->len;
            break;
        case 'y':
        case 'u':
            if (c == 2) {
                if (!read_num(s, n, &i, 2, 2, &v)) return false;
                year = 2000 + v;
            } else if (!read_num(s, n, &i, adj || c == 4 ? 4 : c, 4, &year)) {
                return false;
            }
            break;
        case 'M':
            if (c >= 3) {
                int m = read_name(s, n, &i, month_names, 12, c == 3 ? 3 : 0);
                if (m < 0) return false;
                month = m + 1;
            } else if (!read_num(s, n, &i, adj ? 2 : c, 2, &month)) {
                return false;
            }
            break;
        case 'd':
            if (!read_num(s, n, &i, adj ? 2 : c, 2, &day)) return false;
            break;
        case 'H':
            if (!read_num(s, n, &i, adj ? 2 : c, 2, &hour)) return false;
            h12 = -1;
            break;
        case 'h':
            if (!read_num(s, n, &i, adj ? 2 : c, 2, &h12)) return false;
            if (h12 < 1 || h12 > 12) return false;
            break;
        case 'm':
            if (!read_num(s, n, &i, adj ? 2 : c, 2, &minute)) return false;
            break;
        case 's':
            if (!read_num(s, n, &i, adj ? 2 : c, 2, &sec)) return false;
            break;
        case 'S':
            if (!read_num(s, n, &i, c, c, &v)) return false;
            for (int z = c; z > 3; z--) v /= 10;
            for (int z = c; z < 3; z++) v *= 10;
            frac = v;
            break;
        case 'a': {
            static const char *const ampm[2] = {"AM", "PM"};
            if ((pm = read_name(s, n, &i, ampm, 2, 0)) < 0) return false;
            break;
        }
        case 'E':
            if (read_name(s, n, &i, day_names, 7, c == 4 ? 0 : 3) < 0) return false;
            break;
        case 'X':
        case 'Z': {
            if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
                i++;
                off_min = 0;
                break;
            }
            if (i >= n || (s[i] != '+' && s[i] != '-')) return false;
            int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
            if (!read_num(s, n, &i, 2, 2, &oh) || oh > 23) return false;
            bool colon = i < n && s[i] == ':';
            i += colon;
            bool has_min = colon || (i < n && s[i] >= '0' && s[i] <= '9');
            if (has_min && (!read_num(s, n, &i, 2, 2, &om) || om > 59)) return false;
            off_min = sign * (oh * 60 + om);
            break;
        }
        default: return false;
        }
    }
    if (i != n) return false;
    if (h12 > 0) hour = h12 % 12 + (pm == 1 ? 12 : 0);
    if (year > 9999 || month > 12 || day > 31 || hour > 23 || minute > 59 || sec > 59) return false;
    /* rn_time_parse checks the date (2023-02-29 is no day) and converts */
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d", year, month, day, hour, minute,
                       sec, frac);
    int64_t r;
    if (len <= 0 || !rn_time_parse(buf, (size_t)len, &r)) return false;
    *ms = r - (int64_t)off_min * 60000;
    return true;
}

/* ---- evaluation ------------------------------------------------------ */

static void eval_ts_add(bool sub, vec_t A, vec_t B, int n, rn_value_t *out)
{
    BINLOOP(A, B, {
        r.null = x->null | y->null;
        int64_t d = y->i, s;
        if (sub) d = d == INT64_MIN ? INT64_MAX : -d;
        if (__builtin_add_overflow(x->i, d, &s)) s = d > 0 ? INT64_MAX : INT64_MIN;
        r.i = s;
    });
}

static void eval_to_timestamp_ltz(rn_type_id t0, vec_t N, vec_t P, int n, rn_value_t *out)
{
    if (t0 == RN_TYPE_DOUBLE) {
        BINLOOP(N, P, {
            double v = y->i == 0 ? round(x->d * 1000.0) : round(x->d);
            bool ok = !x->null && !y->null && (y->i == 0 || y->i == 3) && v >= (double)TS_MIN_MS &&
                      v <= (double)TS_MAX_MS;
            r.null = !ok;
            r.i = ok ? (int64_t)v : 0;
        });
    } else {
        BINLOOP(N, P, {
            /* in range, the product cannot overflow */
            int64_t lo = y->i == 0 ? TS_MIN_MS / 1000 : TS_MIN_MS;
            int64_t hi = y->i == 0 ? TS_MAX_MS / 1000 : TS_MAX_MS;
            bool ok = !x->null && !y->null && (y->i == 0 || y->i == 3) && x->i >= lo && x->i <= hi;
            r.null = !ok;
            r.i = ok ? (y->i == 0 ? x->i * 1000 : x->i) : 0;
        });
    }
}

/* TO_TIMESTAMP and UNIX_TIMESTAMP of strings: args are s [, format];
 * secs: the result is epoch seconds instead of milliseconds. */
static rn_err_t eval_parse_time(vec_t *args, int nargs, bool secs, int n, rn_arena_t *a, rn_value_t *out)
{
    vec_t S = args[0];
    tpat_t pt;
    bool ok = true, fixed = nargs < 2 || args[1].step == 0;
    if (nargs > 1 && fixed) {
        if (args[1].v[0].null) ok = false;
        else {
            rn_err_t err = tpat_from_value(&args[1].v[0], a, &pt, &ok);
            if (err) return err;
        }
    }
    for (int i = 0; i < n; i++) {
        const rn_value_t *x = &S.v[i * S.step];
        int64_t ms = 0;
        bool good = !x->null && ok;
        if (good && nargs < 2) {
            const char *s = x->s;
            uint32_t len = x->len;
            trim_ws(&s, &len);
            good = rn_time_parse(s, len, &ms);
        } else if (good && fixed) {
            good = tpat_parse(&pt, x->s, x->len, &ms);
        } else if (good) {
            const rn_value_t *f = &args[1].v[i * args[1].step];
            bool pok = false;
            if (!f->null) {
                rn_err_t err = tpat_from_value(f, a, &pt, &pok);
                if (err) return err;
            }
            good = pok && tpat_parse(&pt, x->s, x->len, &ms);
        }
        out[i] = good ? rn_value_int(secs ? floor_div(ms, 1000) : ms) : RN_VALUE_NULL;
    }
    return RN_OK;
}

/* DATE_FORMAT(ts, format) and FROM_UNIXTIME(seconds [, format]): scale
 * turns the first argument into milliseconds. */
static rn_err_t eval_format_time(vec_t *args, int nargs, int64_t scale, int n, rn_arena_t *a, rn_value_t *out)
{
    static const rn_value_t deflt = {.s = "yyyy-MM-dd HH:mm:ss", .len = 19};
    vec_t T = args[0], F = nargs > 1 ? args[1] : (vec_t){&deflt, 0};
    tpat_t pt;
    bool ok = false;
    if (F.step == 0 && !F.v[0].null) {
        rn_err_t err = tpat_from_value(&F.v[0], a, &pt, &ok);
        if (err) return err;
    }
    for (int i = 0; i < n; i++) {
        const rn_value_t *x = &T.v[i * T.step], *f = &F.v[i * F.step];
        int64_t ms;
        if (x->null || f->null || __builtin_mul_overflow(x->i, scale, &ms)) {
            out[i] = RN_VALUE_NULL;
            continue;
        }
        if (F.step) {
            rn_err_t err = tpat_from_value(f, a, &pt, &ok);
            if (err) return err;
        }
        if (!ok) {
            out[i] = RN_VALUE_NULL;
            continue;
        }
        char *d = rn_arena_alloc(a, pt.maxout ? pt.maxout : 1);
        if (!d) return RN_ERR_NOMEM;
        out[i] = rn_value_str(d, tpat_format(&pt, ms, d));
    }
    return RN_OK;
}

enum { XU_YEAR, XU_QUARTER, XU_MONTH, XU_WEEK, XU_DAY, XU_HOUR, XU_MINUTE, XU_SECOND, XU_MILLISECOND,
       XU_DOW, XU_DOY, XU__COUNT };
static const char *const extract_units[XU__COUNT] = {"YEAR",   "QUARTER", "MONTH",       "WEEK",
                                                     "DAY",    "HOUR",    "MINUTE",      "SECOND",
                                                     "MILLISECOND", "DOW", "DOY"};

/* Index of an EXTRACT unit, or -1. */
static int extract_unit(const char *s, size_t len)
{
    for (int k = 0; k < XU__COUNT; k++)
        if (strlen(extract_units[k]) == len && memcmp(extract_units[k], s, len) == 0) return k;
    return -1;
}

bool rn_expr_extract_unit_valid(const char *unit, size_t len) { return extract_unit(unit, len) >= 0; }

static int64_t extract_one(int unit, int64_t ms)
{
    tfields_t f;
    switch (unit) {
    case XU_HOUR: return floor_div(ms, 3600000) - floor_div(ms, MS_PER_DAY) * 24;
    case XU_MINUTE: return floor_div(ms, 60000) - floor_div(ms, 3600000) * 60;
    case XU_SECOND: return floor_div(ms, 1000) - floor_div(ms, 60000) * 60;
    case XU_MILLISECOND: return ms - floor_div(ms, 1000) * 1000;
    default: break;
    }
    time_fields(ms, &f);
    switch (unit) {
    case XU_YEAR: return f.year;
    case XU_QUARTER: return (f.month + 2) / 3;
    case XU_MONTH: return f.month;
    case XU_WEEK: return iso_week(&f);
    case XU_DAY: return f.day;
    case XU_DOW: return f.wday % 7 + 1; /* Sunday 1 .. Saturday 7 */
    default: return day_of_year(&f);
    }
}

static void eval_extract(vec_t U, vec_t T, int n, rn_value_t *out)
{
    int unit = -1;
    for (int i = 0; i < n; i++) {
        const rn_value_t *u = &U.v[i * U.step], *t = &T.v[i * T.step];
        if (i == 0 || U.step) unit = u->null ? -1 : extract_unit(u->s, u->len);
        out[i] = t->null || unit < 0 ? RN_VALUE_NULL : rn_value_int(extract_one(unit, t->i));
    }
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
/* dispatch                                                             */

static rn_err_t eval_func(const rn_expr_t *e, const rn_batch_t *in, rn_arena_t *a,
                          rn_value_t *out)
{
    int n = in->nrows;
    vec_t *args;
    rn_err_t err = eval_args(e, in, a, &args);
    if (err) return err;
    rn_type_id rt = e->type->id;
    rn_type_id t0 = e->nargs > 0 ? e->args[0]->type->id : RN_TYPE_NULL;
    switch (e->fn) {
    case RN_FN_ADD:
    case RN_FN_SUB:
    case RN_FN_MUL:
    case RN_FN_DIV:
    case RN_FN_MOD: eval_arith(e->fn, rt, args[0], args[1], n, out); break;
    case RN_FN_NEG:
    case RN_FN_ABS:
    case RN_FN_FLOOR:
    case RN_FN_CEIL:
    case RN_FN_SQRT: eval_unary_num(e->fn, rt, args[0], n, out); break;
    case RN_FN_EQ:
    case RN_FN_NE:
    case RN_FN_LT:
    case RN_FN_LE:
    case RN_FN_GT:
    case RN_FN_GE: eval_cmp(e->fn, type_class(t0), args[0], args[1], n, out); break;
    case RN_FN_AND: eval_and(args[0], args[1], n, out); break;
    case RN_FN_OR: eval_or(args[0], args[1], n, out); break;
    case RN_FN_NOT:
        for (int i = 0; i < n; i++) {
            const rn_value_t *x = &args[0].v[i * args[0].step];
            out[i] = (rn_value_t){.i = !x->i, .null = x->null};
        }
        break;
    case RN_FN_IS_NULL:
    case RN_FN_IS_NOT_NULL:
    case RN_FN_IS_TRUE:
    case RN_FN_IS_NOT_TRUE:
    case RN_FN_IS_FALSE:
    case RN_FN_IS_NOT_FALSE: eval_is(e->fn, args[0], n, out); break;
    case RN_FN_BETWEEN:
    case RN_FN_NOT_BETWEEN: {
        rn_value_t *tmp = rn_arena_alloc(a, sizeof(rn_value_t) * (size_t)(n ? n : 1));
        if (!tmp) return RN_ERR_NOMEM;
        eval_between(e, args, n, out, tmp);
        break;
    }
    case RN_FN_IN:
    case RN_FN_NOT_IN: eval_in(e, args, n, out); break;
    case RN_FN_LIKE:
    case RN_FN_NOT_LIKE: return eval_like(e, args, n, a, out);
    case RN_FN_CASE: eval_case(e, args, n, out); break;
    case RN_FN_CAST: return eval_cast(t0, rt, args[0], n, a, out);
    case RN_FN_COALESCE: eval_coalesce(args, e->nargs, n, out); break;
    case RN_FN_NULLIF: eval_nullif(t0, args[0], args[1], n, out); break;
    case RN_FN_IF: eval_if(args[0], args[1], args[2], n, out); break;
    case RN_FN_LOWER:
    case RN_FN_UPPER: return eval_case_map(args[0], e->fn == RN_FN_UPPER, n, a, out);
    case RN_FN_CONCAT: return eval_concat(args, e->nargs, n, a, out);
    case RN_FN_SUBSTRING: eval_substring(args, e->nargs, n, out); break;
    case RN_FN_CHAR_LENGTH:
        for (int i = 0; i < n; i++) {
            const rn_value_t *x = &args[0].v[i * args[0].step];
            out[i] = (rn_value_t){.i = x->null ? 0 : u8count(x->s, x->len), .null = x->null};
        }
        break;
    case RN_FN_TRIM: eval_trim(args[0], n, out); break;
    case RN_FN_POSITION: eval_position(args[0], args[1], n, out); break;
    case RN_FN_REPLACE: return eval_replace(args, n, a, out);
    case RN_FN_ROUND: eval_round(rt, args, e->nargs, n, out); break;
    case RN_FN_POWER: BINLOOP(args[0], args[1], r.d = pow(x->d, y->d); r.null = x->null | y->null); break;
    case RN_FN_TS_ADD_MS:
    case RN_FN_TS_SUB_MS: eval_ts_add(e->fn == RN_FN_TS_SUB_MS, args[0], args[1], n, out); break;
    case RN_FN_TO_TIMESTAMP_LTZ: eval_to_timestamp_ltz(t0, args[0], args[1], n, out); break;
    case RN_FN_TO_TIMESTAMP: return eval_parse_time(args, e->nargs, false, n, a, out);
    case RN_FN_UNIX_TIMESTAMP:
        if (e->nargs > 0) return eval_parse_time(args, e->nargs, true, n, a, out);
        for (int i = 0; i < n; i++) out[i] = rn_value_int(floor_div(rn_clock_now_ms(), 1000));
        break;
    case RN_FN_FROM_UNIXTIME: return eval_format_time(args, e->nargs, 1000, n, a, out);
    case RN_FN_DATE_FORMAT: return eval_format_time(args, e->nargs, 1, n, a, out);
    case RN_FN_PROCTIME:
    case RN_FN_CURRENT_TIMESTAMP:
    case RN_FN_LOCALTIMESTAMP: {
        /* one reading per batch: every row of a batch sees the same time */
        rn_value_t now = rn_value_int(rn_clock_now_ms());
        for (int i = 0; i < n; i++) out[i] = now;
        break;
    }
    case RN_FN_EXTRACT: eval_extract(args[0], args[1], n, out); break;
    default:
        for (int i = 0; i < n; i++) out[i] = RN_VALUE_NULL;
        break;
    }
    return RN_OK;
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

/* ------------------------------------------------------------------ */
/* names and explain                                                    */

const char *rn_func_name(rn_func_id fn)
{
    static const char *const names[RN_FN__COUNT] = {
        [RN_FN_ADD] = "+", [RN_FN_SUB] = "-", [RN_FN_MUL] = "*", [RN_FN_DIV] = "/",
        [RN_FN_MOD] = "%", [RN_FN_NEG] = "-", [RN_FN_EQ] = "=", [RN_FN_NE] = "<>",
        [RN_FN_LT] = "<", [RN_FN_LE] = "<=", [RN_FN_GT] = ">", [RN_FN_GE] = ">=",
        [RN_FN_AND] = "AND", [RN_FN_OR] = "OR", [RN_FN_NOT] = "NOT",
        [RN_FN_IS_NULL] = "IS NULL", [RN_FN_IS_NOT_NULL] = "IS NOT NULL",
        [RN_FN_IS_TRUE] = "IS TRUE", [RN_FN_IS_NOT_TRUE] = "IS NOT TRUE",
        [RN_FN_IS_FALSE] = "IS FALSE", [RN_FN_IS_NOT_FALSE] = "IS NOT FALSE",
        [RN_FN_BETWEEN] = "BETWEEN", [RN_FN_NOT_BETWEEN] = "NOT BETWEEN",
        [RN_FN_IN] = "IN", [RN_FN_NOT_IN] = "NOT IN", [RN_FN_LIKE] = "LIKE",
        [RN_FN_NOT_LIKE] = "NOT LIKE", [RN_FN_CASE] = "CASE", [RN_FN_CAST] = "CAST",
        [RN_FN_COALESCE] = "COALESCE", [RN_FN_NULLIF] = "NULLIF", [RN_FN_IF] = "IF",
        [RN_FN_LOWER] = "LOWER", [RN_FN_UPPER] = "UPPER", [RN_FN_CONCAT] = "CONCAT",
        [RN_FN_SUBSTRING] = "SUBSTRING", [RN_FN_CHAR_LENGTH] = "CHAR_LENGTH",
        [RN_FN_TRIM] = "TRIM", [RN_FN_POSITION] = "POSITION", [RN_FN_REPLACE] = "REPLACE",
        [RN_FN_ABS] = "ABS", [RN_FN_FLOOR] = "FLOOR", [RN_FN_CEIL] = "CEIL",
        [RN_FN_ROUND] = "ROUND", [RN_FN_POWER] = "POWER", [RN_FN_SQRT] = "SQRT",
        [RN_FN_TS_ADD_MS] = "+", [RN_FN_TS_SUB_MS] = "-", [RN_FN_TO_TIMESTAMP_LTZ] = "TO_TIMESTAMP_LTZ",
        [RN_FN_TO_TIMESTAMP] = "TO_TIMESTAMP", [RN_FN_UNIX_TIMESTAMP] = "UNIX_TIMESTAMP",
        [RN_FN_FROM_UNIXTIME] = "FROM_UNIXTIME", [RN_FN_DATE_FORMAT] = "DATE_FORMAT",
        [RN_FN_PROCTIME] = "PROCTIME", [RN_FN_CURRENT_TIMESTAMP] = "CURRENT_TIMESTAMP",
        [RN_FN_LOCALTIMESTAMP] = "LOCALTIMESTAMP", [RN_FN_EXTRACT] = "EXTRACT",
    };
    return (unsigned)fn < RN_FN__COUNT && names[fn] ? names[fn] : "?";
}

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

static void explain_call(const rn_expr_t *e, const rn_schema_t *sch, rn_buf_t *b, int from)
{
    rn_buf_appends(b, rn_func_name(e->fn));
    rn_buf_appendc(b, '(');
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
        rn_buf_appends(out, "CAST(");
        rn_expr_explain(x[0], input, out);
        rn_buf_appendf(out, " AS %s)", rn_type_name(e->type->id));
        break;
    case RN_FN_SUBSTRING:
        rn_buf_appends(out, "SUBSTRING(");
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
        rn_buf_appends(out, "POSITION(");
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
        rn_buf_appends(out, "EXTRACT(");
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
