/*
 * timeparse.h - parsing and formatting of timestamps.
 *
 * Inputs carry ISO-8601 strings ("2023-10-01T12:00:00Z", with or without
 * zone and fraction), 'yyyy-MM-dd HH:mm:ss[.fff]' strings (UTC unless the
 * string has a zone), or epoch seconds. Internally a timestamp is epoch
 * milliseconds (int64).
 */
#ifndef RN_TIMEPARSE_H
#define RN_TIMEPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses an ISO-8601 / SQL timestamp string into epoch milliseconds.
 * Accepts "YYYY-MM-DD", "YYYY-MM-DD[T ]HH:MM[:SS[.fraction]]" followed by
 * optional "Z" or "+HH[:MM]"/"-HH[:MM]". Returns false if s is not such a
 * string (nothing is written to *ms then). */
bool rn_time_parse(const char *s, size_t len, int64_t *ms /* out */);
/* rn_time_parse without its fast path for the common shape: the general
 * grammar alone, which the fast path must agree with (unit tests). */
bool rn_time_parse_general(const char *s, size_t len, int64_t *ms /* out */);

/* Converts epoch seconds (possibly fractional) to epoch milliseconds,
 * rounding to the nearest millisecond. */
int64_t rn_time_from_epoch_seconds(double seconds);

/* Parses epoch seconds written as an integer or a decimal ("1714550400",
 * "-86400", "1714550400.250"), negative allowed, between the years 1 and
 * 9999, into epoch milliseconds (digits past the millisecond are cut,
 * toward earlier times). The whole string must be the number. Returns
 * false otherwise. */
bool rn_epoch_seconds_parse(const char *s, int64_t *ms /* out */);

/* Writes "YYYY-MM-DD HH:MM:SS.mmm" (UTC) for ms into buf (>= 24 bytes);
 * returns the length written. */
int rn_time_format(int64_t ms, char *buf, size_t bufsize);

/* Parses a duration: a number followed by a unit (ms, milli(s),
 * millisecond(s), s, sec(s), second(s), m, min(s), minute(s), h, hour(s),
 * d, day(s): Flink's TimeUtils.parseDuration units from ms up), blanks
 * allowed between, as in '500 ms', '5 s', '2 min', '1 h'; a bare number is
 * milliseconds. Returns false
 * on anything else or a negative value. */
bool rn_duration_parse(const char *s, int64_t *ms /* out */);

/* Appends a duration the way the docs and explain output write them:
 * "10 s", "2 min", "1 h", "500 ms" (the largest of h, min, s that divides
 * it, else ms; a negative value keeps its sign; 0 is "0 ms"). */
struct rn_buf;
void rn_duration_append(struct rn_buf *out, int64_t ms);

/* t + ms and t - ms, saturated at the int64 range: event-time arithmetic
 * that stays ordered near RN_WM_MIN and RN_WM_MAX. */
static inline int64_t rn_time_add_sat(int64_t t, int64_t ms)
{
    int64_t r;
    if (__builtin_add_overflow(t, ms, &r)) return ms > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static inline int64_t rn_time_sub_sat(int64_t t, int64_t ms)
{
    int64_t r;
    if (__builtin_sub_overflow(t, ms, &r)) return ms > 0 ? INT64_MIN : INT64_MAX;
    return r;
}

#endif
