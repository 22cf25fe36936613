/*
 * cast.c - CAST between the scalar types (one value: rn_value_cast; a
 * batch: rn_fn_cast) and the text of a DOUBLE (rn_expr_format_double,
 * which CAST AS STRING and explain's constants both print).
 * The conversion table is in eval.c's head note; a value that does not
 * convert gives NULL, never an error.
 */
#include "expr/expr_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtoa.h"
#include "core/timeparse.h"

/* Result of one scalar conversion. */
typedef enum cast_res {
    CAST_OK,    /* converted (out may still be NULL for a NULL input) */
    CAST_FAIL,  /* not representable: the result is NULL */
    CAST_NOMEM, /* the arena could not hold the result string */
} cast_res;

/* ------------------------------------------------------------------ */
/* CAST                                                                 */

int rn_expr_format_double(double d, char *buf, size_t bufsize)
{
    if (isnan(d)) return snprintf(buf, bufsize, "NaN");
    if (isinf(d)) return snprintf(buf, bufsize, d < 0 ? "-Infinity" : "Infinity");
    if (d == 0) return snprintf(buf, bufsize, signbit(d) ? "-0.0" : "0.0");
    char digits[17], out[RN_DTOA_SPELL_MAX];
    int exp;
    bool neg;
    int nd = rn_dtoa_shortest(d, digits, &exp, &neg);
    int len = rn_dtoa_spell(out, digits, nd, exp, neg, exp >= -4 && exp < 16);
    return snprintf(buf, bufsize, "%.*s", len, out);
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

rn_err_t rn_fn_cast(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    rn_type_id from = e->args[0]->type->id, to = e->type->id;
    vec_t A = args[0];
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

