/*
 * datetime.c - the date-time functions: ts +/- INTERVAL, TO_TIMESTAMP_LTZ,
 * TO_TIMESTAMP, UNIX_TIMESTAMP, FROM_UNIXTIME, DATE_FORMAT, EXTRACT and the
 * clock (PROCTIME, CURRENT_TIMESTAMP, LOCALTIMESTAMP),
 * with the DateTimeFormatter-style patterns they parse and format
 * (compiled once per batch when constant). Everything is UTC; see eval.c's
 * head note for the NULL rules.
 */
#include "expr/expr_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/timeparse.h"

/* ------------------------------------------------------------------ */
/* time                                                                 */

#define MS_PER_DAY 86400000LL
#define TS_MIN_MS (-62135596800000LL) /* 0001-01-01 00:00:00.000 UTC */
#define TS_MAX_MS 253402300799999LL   /* 9999-12-31 23:59:59.999 UTC */


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

rn_err_t rn_fn_ts_add(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    bool sub = e->fn == RN_FN_TS_SUB_MS;
    vec_t A = args[0], B = args[1];
    BINLOOP(A, B, {
        r.null = x->null | y->null;
        int64_t d = y->i, s;
        if (sub) d = d == INT64_MIN ? INT64_MAX : -d;
        if (__builtin_add_overflow(x->i, d, &s)) s = d > 0 ? INT64_MAX : INT64_MIN;
        r.i = s;
    });
    return RN_OK;
}

rn_err_t rn_fn_to_timestamp_ltz(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    rn_type_id t0 = e->args[0]->type->id;
    vec_t N = args[0], P = args[1]; /* the binder always supplies the precision */
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
    return RN_OK;
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
static rn_err_t eval_format_time(vec_t *args, int nargs, int64_t scale, int n, rn_arena_t *a,
                                 rn_value_t *out)
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

rn_err_t rn_fn_to_timestamp(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    return eval_parse_time(args, e->nargs, false, n, a, out);
}

rn_err_t rn_fn_unix_timestamp(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    if (e->nargs > 0) return eval_parse_time(args, e->nargs, true, n, a, out);
    for (int i = 0; i < n; i++) out[i] = rn_value_int(floor_div(rn_clock_now_ms(), 1000));
    return RN_OK;
}

rn_err_t rn_fn_from_unixtime(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    return eval_format_time(args, e->nargs, 1000, n, a, out);
}

rn_err_t rn_fn_date_format(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    return eval_format_time(args, e->nargs, 1, n, a, out);
}

/* PROCTIME, CURRENT_TIMESTAMP, LOCALTIMESTAMP: one reading per batch, so
 * every row of a batch sees the same time. */
rn_err_t rn_fn_now(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    rn_value_t now = rn_value_int(rn_clock_now_ms());
    for (int i = 0; i < n; i++) out[i] = now;
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

rn_err_t rn_fn_extract(const rn_expr_t *e, vec_t *args, int n, rn_arena_t *a, rn_value_t *out)
{
    vec_t U = args[0], T = args[1];
    int unit = -1;
    for (int i = 0; i < n; i++) {
        const rn_value_t *u = &U.v[i * U.step], *t = &T.v[i * T.step];
        if (i == 0 || U.step) unit = u->null ? -1 : extract_unit(u->s, u->len);
        out[i] = t->null || unit < 0 ? RN_VALUE_NULL : rn_value_int(extract_one(unit, t->i));
    }
    return RN_OK;
}

