/*
 * buf.c - growable byte buffer; see buf.h.
 */
#include "core/buf.h"

#include "core/dtoa.h"
#include "core/mem.h"

#include <stdio.h>
#include <string.h>

void rn_buf_init(rn_buf_t *b) { memset(b, 0, sizeof *b); }

void rn_buf_free(rn_buf_t *b)
{
    rn_free(b->data);
    memset(b, 0, sizeof *b);
}

void rn_buf_clear(rn_buf_t *b)
{
    b->len = 0;
    b->oom = 0; /* a new sequence of appends: an earlier failure must not stick */
    if (b->data) b->data[0] = '\0';
}

int rn_buf_reserve(rn_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = rn_realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void rn_buf_append_grow(rn_buf_t *b, const void *data, size_t len)
{
    if (rn_buf_reserve(b, len) != 0) return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void rn_buf_appendc_grow(rn_buf_t *b, char c)
{
    if (rn_buf_reserve(b, 1) != 0) return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void rn_buf_appends(rn_buf_t *b, const char *s) { rn_buf_append(b, s, strlen(s)); }

void rn_buf_vappendf(rn_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof small) {
        rn_buf_append(b, small, (size_t)n);
    } else if (rn_buf_reserve(b, (size_t)n) == 0) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void rn_buf_appendf(rn_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rn_buf_vappendf(b, fmt, ap);
    va_end(ap);
}

/* The number of decimal digits of u (1 for 0). */
static inline int decimal_digits(uint64_t u)
{
    int t = (64 - __builtin_clzll(u | 1)) * 1233 >> 12; /* floor(log10(2^bits)): digits - 1, or one less */
    return t + 1 - (t > 0 && u < rn_pow10_u64[t]);
}

void rn_buf_append_i64(rn_buf_t *b, int64_t v)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = (size_t)decimal_digits(u) + (v < 0);
    if (b->len + n + 1 > b->cap && rn_buf_reserve(b, n) != 0) return; /* oom is set */
    char *p = b->data + b->len + n; /* written backwards, in place */
    b->len += n;
    *p = '\0';
    while (u >= 100) { /* two digits per division */
        unsigned d = (unsigned)(u % 100);
        u /= 100;
        p -= 2;
        memcpy(p, pairs + 2 * d, 2);
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, pairs + 2 * u, 2);
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0) *--p = '-';
}
