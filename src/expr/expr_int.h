/*
 * expr_int.h - what the evaluator's files share, and nothing else includes.
 *
 * The evaluator is split by concern (as SQLite's where*.c behind
 * whereInt.h): eval.c evaluates children and calls the function's
 * evaluator from its row of rn_funcs, and holds arithmetic, comparisons,
 * logic, numbers and conditionals; strings.c LIKE and the string
 * functions; cast.c CAST and number formatting; datetime.c the date-time
 * functions and patterns. functions.c (the function table) includes this
 * header for the evaluators' names; explain.c (rendering) needs only
 * expr.h. This header holds the argument view (vec_t), the small inline
 * helpers and stride-specialising loop macros, and the evaluators the
 * table points to.
 */
#ifndef RN_EXPR_INT_H
#define RN_EXPR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "expr/expr.h"

/* A read-only view of one argument's values for the current batch. */
typedef struct vec {
    const rn_value_t *v; /* values: nrows of them, or one when step is 0 */
    int step;            /* 1 for a vector, 0 for a broadcast constant */
} vec_t;

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
static inline uint32_t u8count(const char *s, uint32_t n)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Byte offset of code point k (0-based) in s[0..n); n if k is past the end. */
static inline uint32_t u8offset(const char *s, uint32_t n, uint64_t k)
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
static inline void trim_ws(const char **s, uint32_t *len)
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

static inline int type_class(rn_type_id t)
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

/* Writes the n values of v to out (a constant is repeated). */
static inline void copy_vec(vec_t v, int n, rn_value_t *out)
{
    if (v.step) {
        memcpy(out, v.v, sizeof(rn_value_t) * (size_t)n);
    } else {
        rn_value_t c = v.v[0];
        for (int i = 0; i < n; i++) out[i] = c;
    }
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


/* Integer division rounding toward negative infinity. */
static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ------------------------------------------------------------------ */
/* the evaluators that rows of rn_funcs (functions.c) point to, by the
 * file that defines them; rn_func_eval_t says what each gets and does.
 * One may serve several rows and tell them apart by e->fn. */

/* eval.c */
rn_err_t rn_fn_arith(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_unary_num(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_cmp(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_and(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_or(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_not(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_is(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_between(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_in(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_case(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_coalesce(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_nullif(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_if(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_round(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_power(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);

/* strings.c */
rn_err_t rn_fn_like(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_case_map(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_concat(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_substring(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_char_length(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_trim(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_position(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_replace(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_split_index(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_regexp_extract(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);

/* cast.c */
rn_err_t rn_fn_cast(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);

/* datetime.c */
rn_err_t rn_fn_ts_add(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_to_timestamp_ltz(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_to_timestamp(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_unix_timestamp(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_from_unixtime(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_date_format(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_now(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);
rn_err_t rn_fn_extract(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out);

#endif
