/*
 * strings.c - LIKE and the string functions (LOWER, UPPER, CONCAT, CHAR_LENGTH,
 * SUBSTRING, TRIM, POSITION, REPLACE, SPLIT_INDEX, REGEXP_EXTRACT) over UTF-8
 * text, a batch at a time.
 * Their semantics are listed in eval.c's head note; results are carved
 * from the arena or point into an input when they equal it.
 */
#include "expr/expr_int.h"

#include "core/mem.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

rn_err_t rn_fn_like(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
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

rn_err_t rn_fn_case_map(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    vec_t A = args[0];
    bool upper = e->fn == RN_FN_UPPER;
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

rn_err_t rn_fn_concat(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    int nargs = e->nargs;
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

rn_err_t rn_fn_substring(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    int nargs = e->nargs;
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
    return RN_OK;
}

rn_err_t rn_fn_char_length(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    for (int i = 0; i < n; i++) {
        const rn_value_t *x = &args[0].v[i * args[0].step];
        out[i] = (rn_value_t){.i = x->null ? 0 : u8count(x->s, x->len), .null = x->null};
    }
    return RN_OK;
}

rn_err_t rn_fn_trim(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    vec_t A = args[0];
    for (int i = 0; i < n; i++) {
        rn_value_t x = A.v[i * A.step];
        if (!x.null) {
            while (x.len && x.s[0] == ' ') x.s++, x.len--;
            while (x.len && x.s[x.len - 1] == ' ') x.len--;
        }
        out[i] = x;
    }
    return RN_OK;
}

rn_err_t rn_fn_position(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    vec_t N = args[0], S = args[1];
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
    return RN_OK;
}

rn_err_t rn_fn_replace(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
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

rn_err_t rn_fn_split_index(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    (void)e;
    (void)a;
    for (int i = 0; i < n; i++) {
        const rn_value_t *s = &args[0].v[i * args[0].step], *d = &args[1].v[i * args[1].step];
        const rn_value_t *k = &args[2].v[i * args[2].step];
        out[i] = RN_VALUE_NULL;
        if (s->null || d->null || k->null || k->i < 0 || d->len == 0 || s->len == 0) continue;
        /* Skip k separators; the piece runs to the next one or the end. */
        const char *p = s->s, *end = s->s + s->len, *q = NULL;
        int64_t left = k->i;
        for (;;) {
            q = (size_t)(end - p) >= d->len ? memmem(p, (size_t)(end - p), d->s, d->len) : NULL;
            if (!left) break;
            if (!q) break;
            p = q + d->len;
            left--;
        }
        if (left) continue;
        out[i] = rn_value_str(p, (uint32_t)((q ? q : end) - p));
    }
    return RN_OK;
}

/* ------------------------------------------------------------------ */
/* REGEXP_EXTRACT                                                       */

#define RX_GROUPS 10 /* groups 0..9 can be extracted */

/* Compiles re (len bytes, not NUL-terminated) as a POSIX extended regular
 * expression into rx. Returns regcomp's code (0: compiled; the caller then
 * frees rx with regfree), or REG_ESPACE if the copy could not be made. */
static int rx_compile(regex_t *rx, const char *re, size_t len)
{
    char small[256], *z = len < sizeof small ? small : rn_malloc(len + 1);
    if (!z) return REG_ESPACE;
    memcpy(z, re, len);
    z[len] = '\0';
    int rc = regcomp(rx, z, REG_EXTENDED);
    if (z != small) rn_free(z);
    return rc;
}

bool rn_expr_regex_check(const char *re, size_t len, char *why, size_t why_size)
{
    regex_t rx;
    int rc = rx_compile(&rx, re, len);
    if (rc == 0) {
        regfree(&rx);
        return true;
    }
    if (rc == REG_ESPACE) snprintf(why, why_size, "out of memory");
    else regerror(rc, &rx, why, why_size);
    return false;
}

rn_err_t rn_fn_regexp_extract(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    /* The binder made the expression a literal: the same in every row. */
    const rn_value_t *re = &args[1].v[0];
    regex_t rx;
    if (re->null) {
        for (int i = 0; i < n; i++) out[i] = RN_VALUE_NULL;
        return RN_OK;
    }
    int rc = rx_compile(&rx, re->s, re->len);
    if (rc == REG_ESPACE) return RN_ERR_NOMEM;
    if (rc != 0) { /* checked at bind time */
        for (int i = 0; i < n; i++) out[i] = RN_VALUE_NULL;
        return RN_OK;
    }
    rn_err_t err = RN_OK;
    for (int i = 0; i < n; i++) {
        const rn_value_t *s = &args[0].v[i * args[0].step];
        const rn_value_t *g = e->nargs > 2 ? &args[2].v[i * args[2].step] : NULL;
        out[i] = RN_VALUE_NULL;
        if (s->null || (g && (g->null || g->i < 0 || g->i >= RX_GROUPS || (size_t)g->i > rx.re_nsub))) continue;
        char *z = rn_arena_alloc(a, (size_t)s->len + 1);
        if (!z) {
            err = RN_ERR_NOMEM;
            break;
        }
        memcpy(z, s->s, s->len);
        z[s->len] = '\0';
        regmatch_t m[RX_GROUPS];
        int k = g ? (int)g->i : 0; /* Flink's default: the whole match */
        if ((size_t)k > rx.re_nsub || regexec(&rx, z, RX_GROUPS, m, 0) != 0 || m[k].rm_so < 0) continue;
        out[i] = rn_value_str(z + m[k].rm_so, (uint32_t)(m[k].rm_eo - m[k].rm_so));
    }
    regfree(&rx);
    return err;
}
