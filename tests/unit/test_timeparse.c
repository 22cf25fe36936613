/*
 * test_timeparse.c - unit tests for timestamp parsing, epoch conversion
 * and formatting: every accepted spelling, range rejections, leap years,
 * zone offsets and rounding of fractional epoch seconds.
 */
#include <stdint.h>

#include "core/buf.h"
#include "core/timeparse.h"
#include "rn_test.h"

/* Parses s; returns the epoch ms, or INT64_MIN if rejected. */
static int64_t P(const char *s)
{
    int64_t ms = INT64_MIN;
    if (!rn_time_parse(s, strlen(s), &ms)) return INT64_MIN;
    return ms;
}

static void test_accepted_forms(void)
{
    const int64_t base = 1696161600000LL; /* 2023-10-01T12:00:00Z */
    RN_CHECK(P("2023-10-01T12:00:00Z") == base);
    RN_CHECK(P("2023-10-01T12:00:00z") == base);
    RN_CHECK(P("2023-10-01T12:00:00") == base);
    RN_CHECK(P("2023-10-01 12:00:00") == base);
    RN_CHECK(P("2023-10-01t12:00:00") == base);
    RN_CHECK(P("2023-10-01T12:00") == base);
    RN_CHECK(P("2023-10-01T12:00Z") == base);
    RN_CHECK(P("2023-10-01") == base - 12 * 3600000LL);
    RN_CHECK(P("2023-10-01T12:00:00.5") == base + 500);
    RN_CHECK(P("2023-10-01T12:00:00.05") == base + 50);
    RN_CHECK(P("2023-10-01T12:00:00.123") == base + 123);
    RN_CHECK(P("2023-10-01T12:00:00.123999999Z") == base + 123); /* truncates */
    RN_CHECK(P("2023-10-01 12:00:00.999") == base + 999);
    RN_CHECK(P("1970-01-01T00:00:00Z") == 0);
    RN_CHECK(P("1969-12-31T23:59:59.999Z") == -1);
    RN_CHECK(P("2024-05-01T10:00:00") == 1714557600000LL);
    RN_CHECK(P("2024-05-01 10:00:00") == 1714557600000LL);
}

static void test_zones(void)
{
    const int64_t base = 1696161600000LL;
    RN_CHECK(P("2023-10-01T14:00:00+02:00") == base);
    RN_CHECK(P("2023-10-01T14:00:00+0200") == base);
    RN_CHECK(P("2023-10-01T14:00:00+02") == base);
    RN_CHECK(P("2023-10-01T06:30:00-05:30") == base);
    RN_CHECK(P("2023-10-01T06:30:00.250-0530") == base + 250);
    RN_CHECK(P("2023-10-01 12:00:00+00:00") == base);
    RN_CHECK(P("2023-10-01T12:00:00-00") == base);
    RN_CHECK(P("2023-10-02T00:30:00+12:30") == base);
    RN_CHECK(P("2023-10-01T12:00+01:00") == base - 3600000);
}

static void test_rejections(void)
{
    static const char *bad[] = {
        "", "2023", "2023-10", "2023-1-01", "23-10-01", "2023/10/01", "2023-10-01T",
        "2023-10-01T12", "2023-10-01T12:0", "2023-10-01T1:00:00", "2023-00-10", "2023-13-01",
        "2023-10-00", "2023-10-32", "2023-04-31", "2023-02-29", "1900-02-29", "2023-10-01T24:00:00",
        "2023-10-01T12:60:00", "2023-10-01T12:00:61", "2023-10-01T12:00:00.", "2023-10-01T12:00:00.1234567890",
        "2023-10-01T12:00:00ZZ", "2023-10-01T12:00:00+", "2023-10-01T12:00:00+2",
        "2023-10-01T12:00:00+24:00", "2023-10-01T12:00:00+02:60", "2023-10-01T12:00:00+02:",
        "2023-10-01T12:00:00 ", " 2023-10-01", "2023-10-01X12:00:00", "2023-10-01Z",
        "2023-10-01T12:00:00UTC", "abcd-ef-gh", "1714557600", "2023-10-01T12:00:00,5",
        "-2023-10-01", "+2023-10-01", "２０２３-10-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 12345;
        if (rn_time_parse(bad[i], strlen(bad[i]), &ms)) {
            fprintf(stderr, "accepted '%s'\n", bad[i]);
            RN_CHECK(0);
        }
        RN_CHECK(ms == 12345); /* untouched on failure */
    }
    /* len is honoured: no reading past it, no NUL needed. */
    RN_CHECK(rn_time_parse("2023-10-01T12:00:00Zjunk", 20, &(int64_t){0}));
    RN_CHECK(!rn_time_parse("2023-10-01T12:00:00Z", 15, &(int64_t){0}));
}

/* The fast path for "YYYY-MM-DD HH:MM:SS[.fff]" decides as the general
 * grammar does: every byte of a few such strings replaced by each of the
 * 256 values, and dates around the ranges' edges. */
static void test_common_shape_agrees(void)
{
    static const char *bases[] = {"2024-05-01 10:00:00.000", "2024-02-29T23:59:60.999", "1999-12-31t00:00:00",
                                  "2023-02-28 09:09:09", "0000-01-01 00:00:00.001", "9999-12-31 23:59:59"};
    int fast = 0;
    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        char s[32];
        size_t len = strlen(bases[b]);
        for (size_t at = 0; at <= len; at++)
            for (int ch = 0; ch < 256; ch++) {
                memcpy(s, bases[b], len + 1);
                if (at < len) s[at] = (char)ch;
                int64_t a = 7, g = 7;
                bool ra = rn_time_parse(s, len, &a), rg = rn_time_parse_general(s, len, &g);
                if (ra != rg || a != g) {
                    fprintf(stderr, "'%.*s' (byte %zu = %d): %d %lld, general %d %lld\n", (int)len, s, at, ch, ra,
                            (long long)a, rg, (long long)g);
                    RN_REQUIRE(0);
                }
                fast += ra;
            }
    }
    RN_CHECK(fast > 6 * 10); /* valid ones were among them */
    static const char *edges[] = {"2023-02-29 00:00:00", "2100-02-29 00:00:00", "2000-02-29 00:00:00",
                                  "2023-04-31 00:00:00", "2023-00-01 00:00:00", "2023-13-01 00:00:00",
                                  "2023-01-00 00:00:00", "2023-01-01 24:00:00", "2023-01-01 23:60:00",
                                  "2023-01-01 23:59:61", "2023-01-01 23:59:60.500", "2023-01-01 23:59:59.5000"};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        int64_t a = 7, g = 7;
        size_t len = strlen(edges[i]);
        bool ra = rn_time_parse(edges[i], len, &a), rg = rn_time_parse_general(edges[i], len, &g);
        RN_CHECK(ra == rg && a == g);
    }
}

static void test_leap_years_and_ranges(void)
{
    RN_CHECK(P("2024-02-29") == 1709164800000LL);
    RN_CHECK(P("2000-02-29") == 951782400000LL);
    RN_CHECK(P("1900-02-28") == -2203977600000LL);
    RN_CHECK(P("2100-02-29") == INT64_MIN);
    RN_CHECK(P("2023-12-31T23:59:60Z") == P("2024-01-01T00:00:00Z")); /* leap second */
    RN_CHECK(P("0000-01-01") == -62167219200000LL);
    RN_CHECK(P("0000-02-29") != INT64_MIN); /* year 0 is a leap year */
    RN_CHECK(P("9999-12-31T23:59:59.999Z") == 253402300799999LL);
    RN_CHECK(P("1600-03-01") == -11670912000000LL);
    /* Every day of four years against a running counter. */
    int64_t day = P("2023-01-01") / 86400000LL;
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char s[48];
    for (int y = 2023; y < 2027; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= dim[m - 1] + (m == 2 && y % 4 == 0); d++) {
                snprintf(s, sizeof s, "%04d-%02d-%02d", y, m, d);
                RN_REQUIRE(P(s) == day * 86400000LL);
                day++;
            }
}

static void test_epoch_seconds(void)
{
    RN_CHECK(rn_time_from_epoch_seconds(0) == 0);
    RN_CHECK(rn_time_from_epoch_seconds(1714557600) == 1714557600000LL);
    RN_CHECK(rn_time_from_epoch_seconds(1714557600.123) == 1714557600123LL);
    RN_CHECK(rn_time_from_epoch_seconds(1714557600.1235) == 1714557600124LL);
    RN_CHECK(rn_time_from_epoch_seconds(1714557600.9999) == 1714557601000LL);
    RN_CHECK(rn_time_from_epoch_seconds(0.0004) == 0);
    RN_CHECK(rn_time_from_epoch_seconds(0.0006) == 1);
    RN_CHECK(rn_time_from_epoch_seconds(-1.5) == -1500);
    RN_CHECK(rn_time_from_epoch_seconds(-0.0006) == -1);
    RN_CHECK(rn_time_from_epoch_seconds(-1714557600.123) == -1714557600123LL);
    RN_CHECK(rn_time_from_epoch_seconds(1e300) == INT64_MAX);
    RN_CHECK(rn_time_from_epoch_seconds(-1e300) == INT64_MIN);
}

static void test_format(void)
{
    char buf[64];
    RN_CHECK_EQ_INT(rn_time_format(0, buf, sizeof buf), 23);
    RN_CHECK_EQ_STR(buf, "1970-01-01 00:00:00.000");
    rn_time_format(1714557600123LL, buf, sizeof buf);
    RN_CHECK_EQ_STR(buf, "2024-05-01 10:00:00.123");
    rn_time_format(-1, buf, sizeof buf);
    RN_CHECK_EQ_STR(buf, "1969-12-31 23:59:59.999");
    rn_time_format(951782400000LL + 86399999, buf, sizeof buf);
    RN_CHECK_EQ_STR(buf, "2000-02-29 23:59:59.999");
    /* Format then parse is the identity. */
    static const int64_t ms[] = {0, 1, -1, 1696161600000LL, -62167219200000LL, 253402300799999LL,
                                 951782400000LL, -2203977600001LL};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        int n = rn_time_format(ms[i], buf, sizeof buf);
        int64_t back = 0;
        RN_CHECK(rn_time_parse(buf, (size_t)n, &back));
        RN_CHECK(back == ms[i]);
    }
    /* A short buffer is truncated, never overrun. */
    char small[8];
    RN_CHECK_EQ_INT(rn_time_format(0, small, sizeof small), 7);
    RN_CHECK_EQ_STR(small, "1970-01");
}

/* Durations as Flink's TimeUtils.parseDuration writes them (ms and up);
 * a bare number is milliseconds. */
static void test_duration_parse(void)
{
    static const struct {
        const char *s;
        bool ok;
        int64_t ms;
    } cases[] = {
        {"1 h", true, 3600000},      {"3600000 ms", true, 3600000}, {"10 min", true, 600000},
        {"1 d", true, 86400000},     {"3600000", true, 3600000},    {"5 m", true, 300000},
        {"2 hours", true, 7200000},  {"30s", true, 30000},          {"0", true, 0},
        {"1.5 s", true, 1500},       {"", false, 0},                {"h", false, 0},
        {"-1 s", false, 0},          {"1 fortnight", false, 0},     {"1 h 2", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -7;
        bool ok = rn_duration_parse(cases[i].s, &ms);
        RN_CHECK(ok == cases[i].ok);
        if (ok && cases[i].ok) RN_CHECK_EQ_INT(ms, cases[i].ms);
    }
}

/* rn_duration_append writes what rn_duration_parse reads back; the
 * saturating time arithmetic stops at the int64 range. */
static void test_duration_append_and_saturation(void)
{
    static const struct {
        int64_t ms;
        const char *s;
    } cases[] = {{0, "0 ms"},          {500, "500 ms"},  {5000, "5 s"},     {600000, "10 min"},
                 {7200000, "2 h"},     {90000, "90 s"},  {1500, "1500 ms"}, {-5000, "-5 s"},
                 {86400000, "24 h"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rn_buf_t b;
        rn_buf_init(&b);
        rn_duration_append(&b, cases[i].ms);
        RN_CHECK_EQ_STR(b.data, cases[i].s);
        int64_t back = -1;
        if (cases[i].ms >= 0) RN_CHECK(rn_duration_parse(b.data, &back) && back == cases[i].ms);
        rn_buf_free(&b);
    }
    RN_CHECK_EQ_INT(rn_time_add_sat(INT64_MAX - 1, 5), INT64_MAX);
    RN_CHECK_EQ_INT(rn_time_add_sat(INT64_MIN + 1, -5), INT64_MIN);
    RN_CHECK_EQ_INT(rn_time_add_sat(10, -15), -5);
    RN_CHECK_EQ_INT(rn_time_sub_sat(INT64_MIN + 1, 5), INT64_MIN);
    RN_CHECK_EQ_INT(rn_time_sub_sat(INT64_MAX - 1, -5), INT64_MAX);
    RN_CHECK_EQ_INT(rn_time_sub_sat(10, 15), -5);
}

int main(void)
{
    RN_RUN(test_duration_parse);
    RN_RUN(test_duration_append_and_saturation);
    RN_RUN(test_accepted_forms);
    RN_RUN(test_zones);
    RN_RUN(test_rejections);
    RN_RUN(test_leap_years_and_ranges);
    RN_RUN(test_common_shape_agrees);
    RN_RUN(test_epoch_seconds);
    RN_RUN(test_format);
    return rn_test_summary();
}
