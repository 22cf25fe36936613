/*
 * timeparse.c - timestamp strings and epoch conversions; see timeparse.h.
 *
 * Inputs name their instants in a handful of ISO-8601 / SQL spellings. We
 * parse them by hand with a fixed grammar (no strptime, no locale, no
 * timegm: those depend on the process environment) and turn the civil
 * date into a day number with Howard Hinnant's days_from_civil algorithm,
 * which is exact for every proleptic Gregorian date. Ranges are checked
 * strictly, so "2023-02-29" or "24:00" are rejections, not silent
 * normalizations; a leap second ":60" is accepted and lands on the next
 * minute, as epoch arithmetic has no other place for it.
 *
 *   timestamp = date [ ("T" | "t" | " ") time [ zone ] ]
 *   date      = YYYY "-" MM "-" DD                 (year 0000..9999)
 *   time      = HH ":" MM [ ":" SS [ "." 1*9DIGIT ] ]
 *   zone      = "Z" | "z" | ("+" | "-") HH [ [":"] MM ]
 */
#include "core/timeparse.h"
#include "core/buf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MS_PER_DAY 86400000LL

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads exactly n decimal digits at s[*i]; returns -1 if they are not all
 * digits or the string ends first. */
static int digits(const char *s, size_t len, size_t *i, int n)
{
    int v = 0;
    if (*i + (size_t)n > len) return -1;
    for (int k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[*i + k];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)n;
    return v;
}

/* Returns true if s[*i] is c, consuming it. */
static bool accept(const char *s, size_t len, size_t *i, char c)
{
    if (*i < len && s[*i] == c) {
        (*i)++;
        return true;
    }
    return false;
}

/* The value of the two digits at p. */
static inline int two_digits(const unsigned char *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

/* The 8 bytes at p as a little-endian word. */
static inline uint64_t load8(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* True if every byte of w that mask marks (0xFF) is an ASCII digit. A
 * byte of 0xFA or more carries into the next in the second test, but it
 * fails the first test itself, and the unmarked bytes here are separators
 * that the caller checks to be below it. */
static inline bool digits_at(uint64_t w, uint64_t mask)
{
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ull, zeros = 0x3030303030303030ull;
    return ((((w & hi) ^ zeros) | (((w + 0x0606060606060606ull) & hi) ^ zeros)) & mask) == 0;
}

/* The shape nearly every record writes, "YYYY-MM-DD HH:MM:SS" with an
 * optional ".fff" ('T' or 't' for the space), without the general
 * parser's steps: true with *ms when s is exactly that and in range;
 * false leaves s to the general parser below, which decides the same on
 * every input. */
static bool parse_common(const char *s, size_t len, int64_t *ms)
{
    const unsigned char *u = (const unsigned char *)s;
    if (len != 19 && (len != 23 || u[19] != '.')) return false;
    if (u[4] != '-' || u[7] != '-' || (u[10] != ' ' && u[10] != 'T' && u[10] != 't') || u[13] != ':' ||
        u[16] != ':')
        return false;
    /* digits: "YYYY-MM-" "DD HH:MM", then ":SS.fff" from byte 15 or
     * "HH:MM:SS" from byte 11 (no byte past len is read) */
    if (!digits_at(load8(u), 0x00FFFF00FFFFFFFFull) || !digits_at(load8(u + 8), 0xFFFF00FFFF00FFFFull) ||
        !(len == 23 ? digits_at(load8(u + 15), 0xFFFFFF00FFFF00FFull) : digits_at(load8(u + 11), 0xFFFF00FFFF00FFFFull)))
        return false;
    int y = two_digits(u) * 100 + two_digits(u + 2), mo = two_digits(u + 5), d = two_digits(u + 8);
    int hh = two_digits(u + 11), mi = two_digits(u + 14), ss = two_digits(u + 17);
    int frac_ms = len == 23 ? two_digits(u + 20) * 10 + (u[22] - '0') : 0;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || hh > 23 || mi > 59 || ss > 60) return false;
    *ms = days_from_civil(y, (unsigned)mo, (unsigned)d) * MS_PER_DAY + ((int64_t)hh * 3600 + mi * 60 + ss) * 1000 +
          frac_ms;
    return true;
}

bool rn_time_parse(const char *s, size_t len, int64_t *ms)
{
    return parse_common(s, len, ms) || rn_time_parse_general(s, len, ms);
}

bool rn_time_parse_general(const char *s, size_t len, int64_t *ms)
{
    size_t i = 0;
    int hh = 0, mi = 0, ss = 0, frac_ms = 0, off_min = 0;
    int y = digits(s, len, &i, 4);
    if (y < 0 || !accept(s, len, &i, '-')) return false;
    int mo = digits(s, len, &i, 2);
    if (mo < 1 || mo > 12 || !accept(s, len, &i, '-')) return false;
    int d = digits(s, len, &i, 2);
    if (d < 1 || d > days_in_month(y, mo)) return false;
    if (i < len) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return false;
        i++;
        hh = digits(s, len, &i, 2);
        if (hh < 0 || hh > 23 || !accept(s, len, &i, ':')) return false;
        mi = digits(s, len, &i, 2);
        if (mi < 0 || mi > 59) return false;
        if (accept(s, len, &i, ':')) {
            ss = digits(s, len, &i, 2);
            if (ss < 0 || ss > 60) return false;
            if (accept(s, len, &i, '.')) {
                int nd = 0;
                while (i < len && s[i] >= '0' && s[i] <= '9') {
                    if (nd < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
                    nd++;
                    i++;
                }
                if (nd < 1 || nd > 9) return false;
                for (int k = nd; k < 3; k++) frac_ms *= 10;
            }
        }
        if (i < len) {
            char z = s[i++];
            if (z == 'Z' || z == 'z') {
                /* UTC */
            } else if (z == '+' || z == '-') {
                int oh = digits(s, len, &i, 2), om = 0;
                if (oh < 0 || oh > 23) return false;
                if (i < len) {
                    accept(s, len, &i, ':');
                    om = digits(s, len, &i, 2);
                    if (om < 0 || om > 59) return false;
                }
                off_min = (oh * 60 + om) * (z == '-' ? -1 : 1);
            } else {
                return false;
            }
        }
    }
    if (i != len) return false;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = (int64_t)hh * 3600 + mi * 60 + ss - (int64_t)off_min * 60;
    *ms = days * MS_PER_DAY + secs * 1000 + frac_ms;
    return true;
}

int64_t rn_time_from_epoch_seconds(double seconds)
{
    double v = round(seconds * 1000.0);
    if (isnan(v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

int rn_time_format(int64_t ms, char *buf, size_t bufsize)
{
    if (bufsize == 0) return 0;
    int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;
    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    int64_t y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    int n = snprintf(buf, bufsize, "%04lld-%02u-%02u %02d:%02d:%02d.%03d", (long long)y, mo, d,
                     (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                     (int)(rem % 1000));
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)n < bufsize ? n : (int)bufsize - 1;
}

bool rn_duration_parse(const char *s, int64_t *ms)
{
    while (*s == ' ') s++;
    if (*s < '0' || *s > '9') return false;
    double v = 0;
    int frac_digits = -1;
    for (; (*s >= '0' && *s <= '9') || *s == '.'; s++) {
        if (*s == '.') {
            if (frac_digits >= 0) return false;
            frac_digits = 0;
            continue;
        }
        v = v * 10 + (*s - '0');
        if (frac_digits >= 0) frac_digits++;
        if (v > 1e15) return false;
    }
    for (; frac_digits > 0; frac_digits--) v /= 10;
    while (*s == ' ') s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ') n--;
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"", 1},         {"ms", 1},         {"milli", 1},      {"millis", 1},
                 {"millisecond", 1}, {"milliseconds", 1}, {"s", 1000},  {"sec", 1000},
                 {"secs", 1000},  {"second", 1000},  {"seconds", 1000}, {"m", 60000}, {"min", 60000},
                 {"mins", 60000}, {"minute", 60000}, {"minutes", 60000}, {"h", 3600000},
                 {"hour", 3600000}, {"hours", 3600000}, {"d", 86400000}, {"day", 86400000},
                 {"days", 86400000}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strlen(units[i].unit) == n && !strncasecmp(s, units[i].unit, n)) {
            *ms = (int64_t)(v * units[i].ms + 0.5);
            return true;
        }
    return false;
}

bool rn_epoch_seconds_parse(const char *s, int64_t *ms)
{
    /* 0001-01-01 and 9999-12-31T23:59:59 in epoch seconds */
    const int64_t lo = -62135596800LL, hi = 253402300799LL;
    bool neg = *s == '-';
    const char *p = s + neg;
    int64_t secs = 0;
    int ndigits = 0;
    for (; *p >= '0' && *p <= '9'; p++, ndigits++) {
        secs = secs * 10 + (*p - '0');
        if (secs > hi + 1) return false; /* far out of range; also stops overflow */
    }
    if (!ndigits) return false;
    int64_t frac = 0; /* milliseconds */
    bool cut = false; /* non-zero digits past the millisecond */
    if (*p == '.') {
        p++;
        int nfrac = 0;
        for (; *p >= '0' && *p <= '9'; p++, nfrac++) {
            if (nfrac < 3) frac = frac * 10 + (*p - '0');
            else cut |= *p != '0';
        }
        if (!nfrac) return false;
        for (; nfrac < 3; nfrac++) frac *= 10;
    }
    if (*p) return false;
    int64_t v = secs * 1000 + frac;
    if (neg) v = -v - (cut ? 1 : 0);
    if (v < lo * 1000 || v > hi * 1000 + 999) return false;
    *ms = v;
    return true;
}

void rn_duration_append(rn_buf_t *out, int64_t ms)
{
    if (ms != 0 && ms % 3600000 == 0) rn_buf_appendf(out, "%lld h", (long long)(ms / 3600000));
    else if (ms != 0 && ms % 60000 == 0) rn_buf_appendf(out, "%lld min", (long long)(ms / 60000));
    else if (ms != 0 && ms % 1000 == 0) rn_buf_appendf(out, "%lld s", (long long)(ms / 1000));
    else rn_buf_appendf(out, "%lld ms", (long long)ms);
}
