/*
 * test_json.c - unit tests for the JSON layer: the simdjson decoder
 * (projection, conversions, errors, escapes and zero-copy, duplicate keys,
 * allocation failure) and the writer (escaping, number formatting, rows,
 * write-then-decode round trips).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/value.h"
#include "json/json.h"
#include "rn_test.h"

/* Documents are copied into this buffer and followed by padding full of
 * '}' and '"', so a decoder that reads past the end is caught. */
static char docbuf[1 << 17];
static size_t doclen;
static char errbuf[256];
static rn_arena_t arena;
static rn_value_t colmem[8][4];
static rn_value_t *cols[8] = {colmem[0], colmem[1], colmem[2], colmem[3],
                              colmem[4], colmem[5], colmem[6], colmem[7]};

/* A decoder for up to 8 fields given as "path:TYPE" with dotted paths. */
static rn_json_decoder_t *mk(int n, const char *const *paths, const rn_type_id *types)
{
    static const char *parts[8][4];
    static char store[8][64];
    rn_json_field_t f[8];
    for (int i = 0; i < n; i++) {
        snprintf(store[i], sizeof store[i], "%s", paths[i]);
        int np = 0;
        char *s = store[i];
        parts[i][np++] = s;
        for (char *p = s; *p; p++)
            if (*p == '.') {
                *p = '\0';
                parts[i][np++] = p + 1;
            }
        f[i].nparts = np;
        f[i].parts = parts[i];
        f[i].type = types[i];
    }
    return rn_json_decoder_new(f, n, errbuf, sizeof errbuf);
}

static rn_err_t dec(rn_json_decoder_t *d, const char *json)
{
    doclen = strlen(json);
    memcpy(docbuf, json, doclen);
    for (int i = 0; i < RN_JSON_PADDING; i++) docbuf[doclen + i] = (i & 1) ? '}' : '"';
    errbuf[0] = '\0';
    return rn_json_decode(d, docbuf, doclen, cols, 1, &arena, errbuf, sizeof errbuf);
}

static bool str_is(const rn_value_t *v, const char *s)
{
    return !v->null && v->len == strlen(s) && memcmp(v->s, s, v->len) == 0;
}

static bool in_doc(const rn_value_t *v) { return v->s >= docbuf && v->s + v->len <= docbuf + doclen; }

static void test_projection(void)
{
    const char *p[] = {"event_type", "user_id", "page_id", "missing", "nul"};
    rn_type_id t[] = {RN_TYPE_STRING, RN_TYPE_INT, RN_TYPE_BIGINT, RN_TYPE_INT, RN_TYPE_STRING};
    rn_json_decoder_t *d = mk(5, p, t);
    RN_REQUIRE(d != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"event_type\": \"page-view\", \"skip\": {\"a\": [1, {\"b\": 2}]}, "
                           "\"user_id\": 7, \"arr\": [\"x\", null], \"page_id\": 42, "
                           "\"nul\": null, \"timestamp\": 1714557600.123}"),
                    RN_OK);
    RN_CHECK(str_is(&cols[0][1], "page-view"));
    RN_CHECK(in_doc(&cols[0][1]));
    RN_CHECK_EQ_INT(cols[1][1].i, 7);
    RN_CHECK(!cols[1][1].null);
    RN_CHECK_EQ_INT(cols[2][1].i, 42);
    RN_CHECK(cols[3][1].null);
    RN_CHECK(cols[4][1].null);
    /* Every field is reset per record. */
    RN_CHECK_EQ_INT(dec(d, "{}"), RN_OK);
    for (int i = 0; i < 5; i++) RN_CHECK(cols[i][1].null);
    /* Key order does not matter, whitespace is fine. */
    RN_CHECK_EQ_INT(dec(d, " {\n\"page_id\":1 ,\"user_id\" : 2,\t\"event_type\":\"c\"}\n "), RN_OK);
    RN_CHECK_EQ_INT(cols[1][1].i, 2);
    RN_CHECK_EQ_INT(cols[2][1].i, 1);
    RN_CHECK(str_is(&cols[0][1], "c"));
    rn_json_decoder_free(d);
}

static void test_nested_paths(void)
{
    const char *p[] = {"user.name", "user.id", "a.b.c", "user", "x.y"};
    rn_type_id t[] = {RN_TYPE_STRING, RN_TYPE_INT, RN_TYPE_DOUBLE, RN_TYPE_STRING, RN_TYPE_INT};
    rn_json_decoder_t *d = mk(5, p, t);
    RN_REQUIRE(d != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"user\": {\"id\": 5, \"x\": {\"name\": \"no\"}, \"name\": \"ann\"}, "
                           "\"a\": {\"b\": {\"c\": 1.5, \"d\": 0}}, \"x\": 3}"),
                    RN_OK);
    RN_CHECK(str_is(&cols[0][1], "ann"));
    RN_CHECK_EQ_INT(cols[1][1].i, 5);
    RN_CHECK(!cols[2][1].null && cols[2][1].d == 1.5);
    /* "user" as a STRING is its JSON text, while user.* still decode. */
    RN_CHECK(str_is(&cols[3][1], "{\"id\": 5, \"x\": {\"name\": \"no\"}, \"name\": \"ann\"}"));
    RN_CHECK(cols[4][1].null); /* x is not an object */
    /* Parent null or missing or scalar -> children NULL. */
    RN_CHECK_EQ_INT(dec(d, "{\"user\": null, \"a\": {\"b\": 7}}"), RN_OK);
    RN_CHECK(cols[0][1].null && cols[1][1].null && cols[2][1].null && cols[3][1].null);
    RN_CHECK_EQ_INT(dec(d, "{\"user\": {}, \"a\": [1]}"), RN_OK);
    RN_CHECK(cols[0][1].null && cols[2][1].null);
    RN_CHECK(str_is(&cols[3][1], "{}"));
    rn_json_decoder_free(d);
}

static void test_duplicate_keys_last_wins(void)
{
    const char *p[] = {"a", "u.n", "u.m"};
    rn_type_id t[] = {RN_TYPE_INT, RN_TYPE_STRING, RN_TYPE_INT};
    rn_json_decoder_t *d = mk(3, p, t);
    RN_REQUIRE(d != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"a\": 1, \"u\": {\"n\": \"x\"}, \"a\": 2, \"u\": {\"m\": 3}}"), RN_OK);
    RN_CHECK_EQ_INT(cols[0][1].i, 2);
    RN_CHECK(cols[1][1].null); /* the second "u" replaced the first */
    RN_CHECK_EQ_INT(cols[2][1].i, 3);
    RN_CHECK_EQ_INT(dec(d, "{\"a\": 1, \"a\": null}"), RN_OK);
    RN_CHECK(cols[0][1].null);
    rn_json_decoder_free(d);
}

static void test_integer_conversions(void)
{
    const char *p[] = {"i", "b"};
    rn_type_id t[] = {RN_TYPE_INT, RN_TYPE_BIGINT};
    rn_json_decoder_t *d = mk(2, p, t);
    RN_REQUIRE(d != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"i\": 1.9, \"b\": -1.9}"), RN_OK);
    RN_CHECK_EQ_INT(cols[0][1].i, 1);
    RN_CHECK_EQ_INT(cols[1][1].i, -1);
    RN_CHECK_EQ_INT(dec(d, "{\"i\": \"42\", \"b\": \"-9223372036854775808\"}"), RN_OK);
    RN_CHECK_EQ_INT(cols[0][1].i, 42);
    RN_CHECK(cols[1][1].i == INT64_MIN);
    RN_CHECK_EQ_INT(dec(d, "{\"i\": -2147483648, \"b\": 9223372036854775807}"), RN_OK);
    RN_CHECK_EQ_INT(cols[0][1].i, INT32_MIN);
    RN_CHECK(cols[1][1].i == INT64_MAX);
    RN_CHECK_EQ_INT(dec(d, "{\"i\": 1e2, \"b\": \"2.5e3\"}"), RN_OK);
    RN_CHECK_EQ_INT(cols[0][1].i, 100);
    RN_CHECK_EQ_INT(cols[1][1].i, 2500);
    RN_CHECK_EQ_INT(dec(d, "{\"i\": 2147483647, \"b\": -0}"), RN_OK);
    RN_CHECK_EQ_INT(cols[0][1].i, INT32_MAX);
    RN_CHECK_EQ_INT(cols[1][1].i, 0);
    /* Out of range. */
    RN_CHECK_EQ_INT(dec(d, "{\"i\": 2147483648}"), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(errbuf, "field 'i': expected INT, found number 2147483648 (out of range)");
    RN_CHECK_EQ_INT(dec(d, "{\"i\": -2147483649}"), RN_ERR_DECODE);
    RN_CHECK_EQ_INT(dec(d, "{\"i\": 3e9}"), RN_ERR_DECODE);
    RN_CHECK_EQ_INT(dec(d, "{\"i\": \"99999999999\"}"), RN_ERR_DECODE);
    RN_CHECK_EQ_INT(dec(d, "{\"b\": 9223372036854775808}"), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(errbuf,
                    "field 'b': expected BIGINT, found number 9223372036854775808 (out of range)");
    RN_CHECK_EQ_INT(dec(d, "{\"b\": 18446744073709551616}"), RN_ERR_DECODE);
    RN_CHECK_EQ_INT(dec(d, "{\"b\": -9223372036854775809}"), RN_ERR_DECODE);
    RN_CHECK_EQ_INT(dec(d, "{\"b\": 1e19}"), RN_ERR_DECODE);
    RN_CHECK(strstr(errbuf, "out of range") != NULL);
    /* Not numbers. */
    RN_CHECK_EQ_INT(dec(d, "{\"i\": \"abc\"}"), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(errbuf, "field 'i': expected INT, found string \"abc\"");
    RN_CHECK_EQ_INT(dec(d, "{\"i\": true}"), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(errbuf, "field 'i': expected INT, found boolean true");
    RN_CHECK_EQ_INT(dec(d, "{\"i\": [1]}"), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(errbuf, "field 'i': expected INT, found array");
    RN_CHECK_EQ_INT(dec(d, "{\"b\": {\"x\": 1}}"), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(errbuf, "field 'b': expected BIGINT, found object");
    RN_CHECK_EQ_INT(dec(d, "{\"i\": \" 1\"}"), RN_ERR_DECODE);
    RN_CHECK_EQ_INT(dec(d, "{\"i\": \"\"}"), RN_ERR_DECODE);
    rn_json_decoder_free(d);
}

static void test_nested_conversion_error_names_path(void)
{
    const char *p[] = {"user.id"};
    rn_type_id t[] = {RN_TYPE_INT};
    rn_json_decoder_t *d = mk(1, p, t);
    RN_REQUIRE(d != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"user\": {\"id\": \"abc\"}}"), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(errbuf, "field 'user.id': expected INT, found string \"abc\"");
    rn_json_decoder_free(d);
}

static void test_double_boolean_conversions(void)
{
    const char *p[] = {"d", "b"};
    rn_type_id t[] = {RN_TYPE_DOUBLE, RN_TYPE_BOOLEAN};
    rn_json_decoder_t *d = mk(2, p, t);
    RN_REQUIRE(d != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"d\": 1, \"b\": true}"), RN_OK);
    RN_CHECK(cols[0][1].d == 1.0 && cols[1][1].i == 1);
    RN_CHECK_EQ_INT(dec(d, "{\"d\": \"2.5\", \"b\": \"false\"}"), RN_OK);
    RN_CHECK(cols[0][1].d == 2.5 && cols[1][1].i == 0 && !cols[1][1].null);
    RN_CHECK_EQ_INT(dec(d, "{\"d\": 1.7976931348623157e308, \"b\": false}"), RN_OK);
    RN_CHECK(cols[0][1].d == 1.7976931348623157e308);
    RN_CHECK_EQ_INT(dec(d, "{\"d\": 5e-324}"), RN_OK);
    RN_CHECK(cols[0][1].d == 5e-324);
    RN_CHECK_EQ_INT(dec(d, "{\"d\": 123456789012345678901234567890}"), RN_OK);
    RN_CHECK(cols[0][1].d == 123456789012345678901234567890.0);
    RN_CHECK_EQ_INT(dec(d, "{\"d\": \"9007199254740993\"}"), RN_OK);
    RN_CHECK(cols[0][1].d == 9007199254740992.0);
    RN_CHECK_EQ_INT(dec(d, "{\"d\": 1e999}"), RN_ERR_DECODE);
    RN_CHECK_EQ_INT(dec(d, "{\"d\": \"1e999\"}"), RN_ERR_DECODE);
    RN_CHECK(strstr(errbuf, "out of range") != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"d\": \"NaN\"}"), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(errbuf, "field 'd': expected DOUBLE, found string \"NaN\"");
    RN_CHECK_EQ_INT(dec(d, "{\"b\": 1}"), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(errbuf, "field 'b': expected BOOLEAN, found number 1");
    RN_CHECK_EQ_INT(dec(d, "{\"b\": \"yes\"}"), RN_ERR_DECODE);
    rn_json_decoder_free(d);
}

static void test_string_conversions(void)
{
    const char *p[] = {"s"};
    rn_type_id t[] = {RN_TYPE_STRING};
    rn_json_decoder_t *d = mk(1, p, t);
    RN_REQUIRE(d != NULL);
    static const struct {
        const char *doc, *want;
    } cases[] = {
        {"{\"s\": 17}", "17"},
        {"{\"s\": -0.5e3 }", "-0.5e3"},
        {"{\"s\": true}", "true"},
        {"{\"s\": false\n}", "false"},
        {"{\"s\": {\"a\":1}}", "{\"a\":1}"},
        {"{\"s\": {\"a\": [1, \"}\"]}  , \"t\": 1}", "{\"a\": [1, \"}\"]}"},
        {"{\"s\": [1, 2] }", "[1, 2]"},
        {"{\"s\": \"\"}", ""},
        {"{\"s\": 1e999}", "1e999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        RN_CHECK_EQ_INT(dec(d, cases[i].doc), RN_OK);
        if (!str_is(&cols[0][1], cases[i].want)) {
            fprintf(stderr, "case %zu: got '%.*s'\n", i, (int)cols[0][1].len, cols[0][1].s);
            RN_CHECK(0);
        }
        RN_CHECK(in_doc(&cols[0][1]));
    }
    RN_CHECK_EQ_INT(dec(d, "{\"s\": tru}"), RN_ERR_DECODE);
    RN_CHECK(strncmp(errbuf, "invalid JSON: ", 14) == 0);
    RN_CHECK_EQ_INT(dec(d, "{\"s\": 01}"), RN_ERR_DECODE);
    RN_CHECK(strncmp(errbuf, "invalid JSON: ", 14) == 0);
    rn_json_decoder_free(d);
}

static void test_timestamp_conversions(void)
{
    const char *p[] = {"t", "l"};
    rn_type_id t[] = {RN_TYPE_TIMESTAMP, RN_TYPE_TIMESTAMP_LTZ};
    rn_json_decoder_t *d = mk(2, p, t);
    RN_REQUIRE(d != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"t\": \"2024-05-01T10:00:00Z\", \"l\": \"2024-05-01 10:00:00.5\"}"),
                    RN_OK);
    RN_CHECK(cols[0][1].i == 1714557600000LL);
    RN_CHECK(cols[1][1].i == 1714557600500LL);
    RN_CHECK_EQ_INT(dec(d, "{\"t\": 1714557600, \"l\": 1714557600.123}"), RN_OK);
    RN_CHECK(cols[0][1].i == 1714557600000LL);
    RN_CHECK(cols[1][1].i == 1714557600123LL);
    RN_CHECK_EQ_INT(dec(d, "{\"t\": \"1714557600\", \"l\": -1.5}"), RN_OK);
    RN_CHECK(cols[0][1].i == 1714557600000LL);
    RN_CHECK(cols[1][1].i == -1500);
    RN_CHECK_EQ_INT(dec(d, "{\"t\": \"2023-10-01T12:00:00+02:00\"}"), RN_OK);
    RN_CHECK(cols[0][1].i == 1696154400000LL);
    RN_CHECK_EQ_INT(dec(d, "{\"t\": \"yesterday\"}"), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(errbuf, "field 't': expected TIMESTAMP(3), found string \"yesterday\"");
    RN_CHECK_EQ_INT(dec(d, "{\"t\": \"2023-02-29 00:00:00\"}"), RN_ERR_DECODE);
    RN_CHECK_EQ_INT(dec(d, "{\"t\": 1e300}"), RN_ERR_DECODE);
    RN_CHECK(strstr(errbuf, "out of range") != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"l\": true}"), RN_ERR_DECODE);
    RN_CHECK_EQ_STR(errbuf, "field 'l': expected TIMESTAMP_LTZ(3), found boolean true");
    rn_json_decoder_free(d);
}

static void test_invalid_documents(void)
{
    const char *p[] = {"a", "b.c"};
    rn_type_id t[] = {RN_TYPE_INT, RN_TYPE_STRING};
    rn_json_decoder_t *d = mk(2, p, t);
    RN_REQUIRE(d != NULL);
    static const char *bad[] = {
        "",
        "   ",
        "{\"a\": 1",
        "{\"a\": 1,}",
        "{\"a\": }",
        "{\"a\" 1}",
        "{a: 1}",
        "{\"a\": 1} x",
        "{\"a\": 1}{}",
        "{\"a\": 1}}",
        "{\"b\": {\"c\": \"x\",}}",
        "{\"b\": {\"c\": \"\\q\"}}",
        "{\"a\": 1, \"z\": \"unterminated}",
        "{\"a\": nul}",
        "{\"z\": [1, 2}",
        "{\"a\": 1 \"z\": 2}",
        "nul",
        "\xff",
        "{\"z\": \"\xc3\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rn_err_t rc = dec(d, bad[i]);
        if (rc != RN_ERR_DECODE || strncmp(errbuf, "invalid JSON: ", 14) != 0) {
            fprintf(stderr, "bad[%zu] '%s': rc %d, '%s'\n", i, bad[i], rc, errbuf);
            RN_CHECK(0);
        }
    }
    RN_CHECK_EQ_INT(dec(d, "{\"a\": 1}{}"), RN_ERR_DECODE);
    RN_CHECK(strstr(errbuf, "trailing content") != NULL);
    /* A complete object followed by anything is trailing content, at the
     * byte where it starts, not a document that "ended early". */
    static const struct {
        const char *doc;
        const char *msg;
    } trailing[] = {
        {"{\"a\":1} x", "invalid JSON: trailing content after the document (at byte 8)"},
        {"{\"a\":1}  3", "invalid JSON: trailing content after the document (at byte 9)"},
        {"{\"z\":\"}\"} ]", "invalid JSON: trailing content after the document (at byte 10)"},
        {"{\"a\":[1,{}]} \"s\"", "invalid JSON: trailing content after the document (at byte 13)"},
    };
    for (size_t i = 0; i < sizeof trailing / sizeof trailing[0]; i++) {
        RN_CHECK_EQ_INT(dec(d, trailing[i].doc), RN_ERR_DECODE);
        RN_CHECK_EQ_STR(errbuf, trailing[i].msg);
    }
    static const struct {
        const char *doc, *msg;
    } notobj[] = {
        {"[1, 2]", "expected a JSON object, found array"},
        {"\"str\"", "expected a JSON object, found string"},
        {"42", "expected a JSON object, found number"},
        {"null", "expected a JSON object, found null"},
        {" true ", "expected a JSON object, found boolean"},
    };
    for (size_t i = 0; i < sizeof notobj / sizeof notobj[0]; i++) {
        RN_CHECK_EQ_INT(dec(d, notobj[i].doc), RN_ERR_DECODE);
        RN_CHECK_EQ_STR(errbuf, notobj[i].msg);
    }
    /* The decoder is still usable after errors. */
    RN_CHECK_EQ_INT(dec(d, "{\"a\": 5, \"b\": {\"c\": \"ok\"}}"), RN_OK);
    RN_CHECK_EQ_INT(cols[0][1].i, 5);
    RN_CHECK(str_is(&cols[1][1], "ok"));
    rn_json_decoder_free(d);
}

static void test_escapes_and_zero_copy(void)
{
    const char *p[] = {"s", "k\"q", "user_id", "t\\u"};
    rn_type_id t[] = {RN_TYPE_STRING, RN_TYPE_INT, RN_TYPE_INT, RN_TYPE_INT};
    rn_json_decoder_t *d = mk(4, p, t);
    RN_REQUIRE(d != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"s\": \"plain text\"}"), RN_OK);
    RN_CHECK(str_is(&cols[0][1], "plain text"));
    RN_CHECK(in_doc(&cols[0][1]));
    RN_CHECK_EQ_INT(dec(d, "{\"s\": \"a\\nb\\t\\\"q\\\" \\\\ \\/ \\u00e9 \\u20ac "
                           "\\ud83d\\ude00 \\u0000!\"}"),
                    RN_OK);
    static const char want[] = "a\nb\t\"q\" \\ / \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \0!";
    RN_CHECK_EQ_INT(cols[0][1].len, sizeof want - 1);
    RN_CHECK(memcmp(cols[0][1].s, want, sizeof want - 1) == 0);
    RN_CHECK(!in_doc(&cols[0][1]));
    /* Lone surrogates become U+FFFD. */
    RN_CHECK_EQ_INT(dec(d, "{\"s\": \"x\\ud800y\\udc00\"}"), RN_OK);
    RN_CHECK(str_is(&cols[0][1], "x\xef\xbf\xbdy\xef\xbf\xbd"));
    RN_CHECK_EQ_INT(dec(d, "{\"s\": \"\\u12\"}"), RN_ERR_DECODE);
    RN_CHECK(strncmp(errbuf, "invalid JSON: ", 14) == 0);
    /* Raw UTF-8 is kept as is, zero-copy. */
    RN_CHECK_EQ_INT(dec(d, "{\"s\": \"\xd0\xa1\xd0\xb4\xd0\xb5\xd0\xbb\xd0\xb0\xd0\xb9\"}"), RN_OK);
    RN_CHECK(str_is(&cols[0][1], "\xd0\xa1\xd0\xb4\xd0\xb5\xd0\xbb\xd0\xb0\xd0\xb9"));
    RN_CHECK(in_doc(&cols[0][1]));
    /* Escaped keys match their unescaped names; names with quotes and
     * backslashes match only their escaped spelling. */
    RN_CHECK_EQ_INT(dec(d, "{\"\\u0075ser_id\": 7, \"k\\\"q\": 8, \"t\\\\u\": 9}"), RN_OK);
    RN_CHECK_EQ_INT(cols[2][1].i, 7);
    RN_CHECK_EQ_INT(cols[1][1].i, 8);
    RN_CHECK_EQ_INT(cols[3][1].i, 9);
    RN_CHECK_EQ_INT(dec(d, "{\"user_idx\": 1, \"user_i\": 2, \"t\\u\": 3, \"s\\\"\": \"no\"}"), RN_OK);
    RN_CHECK(cols[2][1].null && cols[3][1].null && cols[0][1].null);
    rn_json_decoder_free(d);
}

static void test_long_keys_and_large_documents(void)
{
    const char *p[] = {"a_rather_long_key_name_over_16", "k8bytes_", "mid.k15_bytes_long_x"};
    rn_type_id t[] = {RN_TYPE_INT, RN_TYPE_INT, RN_TYPE_STRING};
    rn_json_decoder_t *d = mk(3, p, t);
    RN_REQUIRE(d != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"a_rather_long_key_name_over_1\": 0, \"a_rather_long_key_name_over_16\": 1,"
                           "\"k8bytes\": 0, \"k8bytes_\": 2, \"k8bytes__\": 0, "
                           "\"mid\": {\"k15_bytes_long_\": \"n\", \"k15_bytes_long_x\": \"y\"}}"),
                    RN_OK);
    RN_CHECK_EQ_INT(cols[0][1].i, 1);
    RN_CHECK_EQ_INT(cols[1][1].i, 2);
    RN_CHECK(str_is(&cols[2][1], "y"));
    /* A document larger than the parser's initial capacity. */
    static char big[100000];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"pad\": \"");
    while (n < sizeof big - 100) big[n++] = 'x';
    snprintf(big + n, sizeof big - n, "\", \"k8bytes_\": 77}");
    RN_CHECK_EQ_INT(dec(d, big), RN_OK);
    RN_CHECK_EQ_INT(cols[1][1].i, 77);
    rn_json_decoder_free(d);
}

static void test_steady_state_allocates_nothing(void)
{
    const char *p[] = {"s", "n"};
    rn_type_id t[] = {RN_TYPE_STRING, RN_TYPE_INT};
    rn_json_decoder_t *d = mk(2, p, t);
    RN_REQUIRE(d != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"s\": \"a\\u00e9\", \"n\": 1}"), RN_OK);
    size_t used = rn_mem_used();
    size_t before = arena.used;
    for (int i = 0; i < 1000; i++) RN_REQUIRE(dec(d, "{\"s\": \"plain\", \"n\": 2}") == RN_OK);
    RN_CHECK(rn_mem_used() == used);
    RN_CHECK(arena.used == before); /* zero-copy strings use no arena */
    rn_json_decoder_free(d);
}

static void test_fault_injection(void)
{
    const char *p[] = {"s", "u.v", "w"};
    rn_type_id t[] = {RN_TYPE_STRING, RN_TYPE_INT, RN_TYPE_DOUBLE};
    size_t base = rn_mem_used();
    int ok_at = -1;
    for (int n = 0; n < 50 && ok_at < 0; n++) {
        rn_mem_fail_after(n);
        rn_json_decoder_t *d = mk(3, p, t);
        rn_mem_fail_after(-1);
        if (d) {
            ok_at = n;
            rn_json_decoder_free(d);
        } else {
            RN_CHECK_EQ_STR(errbuf, "out of memory");
        }
        RN_CHECK(rn_mem_used() == base); /* nothing leaked on any failure path */
    }
    RN_CHECK(ok_at > 0);
    /* The arena path: an escaped string needs a new chunk that cannot be had. */
    rn_json_decoder_t *d = mk(3, p, t);
    RN_REQUIRE(d != NULL);
    rn_arena_t small;
    rn_arena_init(&small, 64);
    static char doc[600];
    size_t n = (size_t)snprintf(doc, sizeof doc, "{\"s\": \"");
    for (int i = 0; i < 100; i++) n += (size_t)snprintf(doc + n, sizeof doc - n, "\\n");
    snprintf(doc + n, sizeof doc - n, "\", \"w\": 1}");
    size_t dl = strlen(doc);
    memcpy(docbuf, doc, dl);
    rn_mem_fail_after(0);
    rn_err_t rc = rn_json_decode(d, docbuf, dl, cols, 0, &small, errbuf, sizeof errbuf);
    rn_mem_fail_after(-1);
    RN_CHECK_EQ_INT(rc, RN_ERR_NOMEM);
    RN_CHECK_EQ_STR(errbuf, "out of memory");
    rc = rn_json_decode(d, docbuf, dl, cols, 0, &small, errbuf, sizeof errbuf);
    RN_CHECK_EQ_INT(rc, RN_OK);
    RN_CHECK_EQ_INT(cols[0][0].len, 100);
    RN_CHECK(cols[0][0].s[0] == '\n' && cols[0][0].s[99] == '\n');
    rn_arena_free(&small);
    rn_json_decoder_free(d);
}

static void test_decoder_rejects_bad_fields(void)
{
    const char *parts[] = {"r"};
    rn_json_field_t f = {1, parts, RN_TYPE_ROW};
    RN_CHECK(rn_json_decoder_new(&f, 1, errbuf, sizeof errbuf) == NULL);
    RN_CHECK(errbuf[0] != '\0');
    rn_json_field_t g = {0, parts, RN_TYPE_INT};
    RN_CHECK(rn_json_decoder_new(&g, 1, errbuf, sizeof errbuf) == NULL);
    /* Zero fields is fine: the decoder only validates. */
    rn_json_decoder_t *d = rn_json_decoder_new(NULL, 0, errbuf, sizeof errbuf);
    RN_REQUIRE(d != NULL);
    RN_CHECK_EQ_INT(dec(d, "{\"a\": [1, {}]}"), RN_OK);
    RN_CHECK_EQ_INT(dec(d, "[]"), RN_ERR_DECODE);
    rn_json_decoder_free(d);
}

/* ---- writer ---------------------------------------------------------- */

static const char *w_value(rn_buf_t *b, rn_type_id t, rn_value_t v)
{
    rn_buf_clear(b);
    rn_json_write_value(b, t, &v);
    return b->data;
}

/* The plain-record scanner and the simdjson path agree on every document:
 * the same result, message and values; plain records never reach simdjson. */
static void test_fast_path_agrees(void)
{
    const char *p[] = {"s", "i", "b", "d", "t", "l", "u.n", "u.i"};
    rn_type_id t[] = {RN_TYPE_STRING, RN_TYPE_INT,       RN_TYPE_BIGINT, RN_TYPE_DOUBLE,
                      RN_TYPE_TIMESTAMP, RN_TYPE_BOOLEAN, RN_TYPE_STRING, RN_TYPE_INT};
    rn_json_decoder_t *fast = mk(8, p, t), *slow = mk(8, p, t);
    RN_REQUIRE(fast != NULL && slow != NULL);
    rn_json_decoder_set_fast(slow, false);
    static const char *plain[] = {
        "{\"s\":\"page-view\",\"i\":12,\"b\":-62,\"d\":1.5,\"t\":1714557612.671,\"l\":true}",
        " { \"t\" : 1714557612 , \"d\" : -0.001e2 , \"x\" : [1, {\"y\": \"a\\\"b\\u00e9\"}], \"l\": false } ",
        "{\"u\":{\"n\":\"ann\",\"i\":-2147483648,\"z\":null},\"u\":{\"i\":5},\"s\":null,\"i\":null}",
        "{\"u\":7,\"i\":2147483647,\"b\":999999999999999999,\"d\":1234567890123456,\"t\":0.0}",
        "{\"d\":9007199254740992,\"e\":1e400,\"f\":12345678901234567890123,\"d\":1E22,\"t\":-1e-3}",
        "{}",
        "{\"u\":[],\"s\":\"\",\"k\":{},\"q\":\"\\/\"}",
        "{\"s\" :\"a\",\"ss\":\"b\",\"s\": \"c\",\"i\":1,\"ii\":2,\"i\" : 3}",
        "{\"i\":1,\"s\":\"x\"}", /* the learned key order changes */
        "{\"t\":\"2024-05-01 10:00:00.000\",\"s\":\"x\"}", "{\"t\":\"2024-05-01T10:00:00.123Z\"}",
    };
    static const char *other[] = {
        "{\"s\":\"caf\xc3\xa9\"}", "{\"s\":\"a\\nb\"}", "{\"\\u0073\":\"x\"}", "{\"i\":2147483648}",
        "{\"t\":\"1714557612.5\"}", "{\"t\":\"2024-13-01 10:00:00\"}", "{\"t\":\"x\\u0031\"}", "{\"i\":1.0}", "{\"i\":\"12\"}", "{\"b\":1234567890123456789}", "{\"d\":-0}", "{\"d\":1e23}",
        "{\"d\":9007199254740993}", "{\"t\":\"2024-05-01 10:00:00\"}", "{\"t\":9e12}", "{\"l\":\"true\"}",
        "{\"s\":12}", "{\"s\":{\"a\":1}}", "{\"i\":01}", "{\"i\":1.}", "{\"i\":-}", "{\"x\":tru}",
        "{\"x\":[1,]}", "{\"x\":1,}", "{\"x\" 1}", "{\"x\":1} x", "[1]", "", "   ", "{\"x\":\"\x01\"}",
        "{\"x\":\"\\q\"}", "{\"x\":\"\\u12g4\"}", "{\"a\":1", "{\"s\":\"abc", "{\"x\":[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "{\"x\":\xff}", "{\"l\":nul}", "{\"i\":12e0}", "{\"u\":{\"n\":\"a\",\"i\":true}}",
    };
    for (size_t k = 0; k < sizeof plain / sizeof *plain + sizeof other / sizeof *other; k++) {
        bool is_plain = k < sizeof plain / sizeof *plain;
        const char *doc = is_plain ? plain[k] : other[k - sizeof plain / sizeof *plain];
        uint64_t before = rn_json_decoder_slow_count(fast);
        rn_err_t rf = dec(fast, doc);
        char ef[256];
        rn_value_t vf[8];
        snprintf(ef, sizeof ef, "%s", errbuf);
        for (int c = 0; c < 8; c++) vf[c] = cols[c][1];
        rn_err_t rs = dec(slow, doc);
        RN_CHECK_EQ_INT(rf, rs);
        if (is_plain) RN_CHECK_EQ_INT(rn_json_decoder_slow_count(fast), before);
        if (rf != rs || (is_plain && rn_json_decoder_slow_count(fast) != before)) fprintf(stderr, "  document: %s\n", doc);
        if (rf != RN_OK) {
            RN_CHECK_EQ_STR(ef, errbuf);
            continue;
        }
        for (int c = 0; c < 8; c++) {
            bool same = vf[c].null == cols[c][1].null &&
                        (vf[c].null || (t[c] == RN_TYPE_DOUBLE ? memcmp(&vf[c].d, &cols[c][1].d, sizeof(double)) == 0
                                                               : rn_value_equal(t[c], &vf[c], &cols[c][1])));
            RN_CHECK(same);
            if (!same) fprintf(stderr, "  column %s differs in %s\n", p[c], doc);
        }
    }
    rn_json_decoder_free(fast);
    rn_json_decoder_free(slow);
}

/* A small deterministic generator for the randomized tests below. */
static uint64_t rnd_state = 88172645463325252ull;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (uint32_t)(rnd_state >> 11);
}

/* Appends to *o one random piece of a string's body: mostly plain ASCII,
 * sometimes an escape, a control byte, a quote, valid UTF-8 or a stray
 * byte over 0x7F (raw: the pieces a document may hold, valid or not). */
static size_t random_piece(char *o)
{
    static const char *const pieces[] = {"\\\"", "\\\\", "\\n", "\\u00e9", "\x01", "\x1f", "\"",
                                         "\xc3\xa9", "\xf0\x9f\x98\x80", "\xff", "\xc3", "\x7f", "\\"};
    uint32_t r = rnd() % 64;
    if (r >= sizeof pieces / sizeof *pieces) {
        o[0] = (char)(' ' + (r % 90 == '"' - ' ' || r % 90 == '\\' - ' ' ? 0 : r % 90));
        return 1;
    }
    size_t n = strlen(pieces[r]);
    memcpy(o, pieces[r], n);
    return n;
}

/* The scanner's strings agree with simdjson's path wherever the byte that
 * ends a plain run falls, inside or across its 16-byte steps: documents
 * with string values of 0 to 70 random pieces. */
static void test_fast_path_agrees_on_random_strings(void)
{
    const char *p[] = {"s", "i"};
    rn_type_id t[] = {RN_TYPE_STRING, RN_TYPE_INT};
    rn_json_decoder_t *fast = mk(2, p, t), *slow = mk(2, p, t);
    RN_REQUIRE(fast != NULL && slow != NULL);
    rn_json_decoder_set_fast(slow, false);
    char doc[1024], ef[256];
    int plain_ok = 0;
    for (int k = 0; k < 20000; k++) {
        size_t n = 0;
        n += (size_t)snprintf(doc, sizeof doc, "{\"%s\":\"", k % 3 ? "s" : "x");
        int pieces = (int)(rnd() % 71);
        for (int i = 0; i < pieces; i++) n += rnd() % 4 ? (doc[n] = (char)('a' + i % 26), 1) : random_piece(doc + n);
        n += (size_t)snprintf(doc + n, sizeof doc - n, "\",\"i\":%d}", k);
        doc[n] = '\0';
        rn_err_t rf = dec(fast, doc);
        rn_value_t vf = cols[0][1];
        snprintf(ef, sizeof ef, "%s", errbuf);
        rn_err_t rs = dec(slow, doc);
        bool same = rf == rs && (rf != RN_OK ? !strcmp(ef, errbuf)
                                             : vf.null == cols[0][1].null &&
                                                   (vf.null || rn_value_equal(RN_TYPE_STRING, &vf, &cols[0][1])));
        if (!same) fprintf(stderr, "  differs: %s\n", doc);
        RN_REQUIRE(same);
        plain_ok += rf == RN_OK;
    }
    RN_CHECK(plain_ok > 1000 && plain_ok < 19000); /* both outcomes were tried */
    rn_json_decoder_free(fast);
    rn_json_decoder_free(slow);
}

static void test_write_string_escapes(void)
{
    rn_buf_t b;
    rn_buf_init(&b);
    static const char in[] = "a\"b\\c\n\t\r\b\f\x01\x1f\x7f \xd0\xa1 \xf0\x9f\x98\x80 \xff \xc3 \xed\xa0\x80";
    rn_json_write_string(&b, in, sizeof in - 1);
    RN_CHECK_EQ_STR(b.data, "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\x7f \xd0\xa1 \xf0\x9f\x98\x80 "
                            "\\ufffd \\ufffd \\ufffd\\ufffd\\ufffd\"");
    rn_buf_clear(&b);
    rn_json_write_string(&b, "x\0y", 3);
    RN_CHECK_EQ_STR(b.data, "\"x\\u0000y\"");
    rn_buf_clear(&b);
    rn_json_write_string(&b, "", 0);
    RN_CHECK_EQ_STR(b.data, "\"\"");
    RN_CHECK(!b.oom);
    rn_buf_free(&b);
}

/* rn_json_write_string against the rule written out byte by byte: ASCII
 * other than controls, '"' and '\\' as is, well-formed UTF-8 as is, the
 * named escapes, \u00XX for other controls, \ufffd for any other byte;
 * random strings of 0 to 70 pieces, so that each kind of byte falls at
 * every offset of the writer's 16-byte steps. */
static void test_write_string_matches_the_rule(void)
{
    rn_buf_t got, want;
    rn_buf_init(&got);
    rn_buf_init(&want);
    char s[1024];
    for (int k = 0; k < 20000; k++) {
        size_t n = 0;
        int pieces = (int)(rnd() % 71);
        for (int i = 0; i < pieces; i++) n += rnd() % 3 ? (s[n] = (char)('A' + i % 26), 1) : random_piece(s + n);
        rn_buf_clear(&got);
        rn_buf_clear(&want);
        rn_json_write_string(&got, s, n);
        rn_buf_appendc(&want, '"');
        const unsigned char *u = (const unsigned char *)s;
        for (size_t i = 0; i < n;) {
            unsigned char c = u[i];
            size_t seq = c < 0x80                            ? 1
                         : c >= 0xC2 && c <= 0xDF            ? 2
                         : c >= 0xE0 && c <= 0xEF            ? 3
                         : c >= 0xF0 && c <= 0xF4            ? 4
                                                             : 0;
            bool ok = seq > 1 && i + seq <= n;
            for (size_t j = 1; ok && j < seq; j++) ok = (u[i + j] & 0xC0) == 0x80;
            if (ok && ((c == 0xE0 && u[i + 1] < 0xA0) || (c == 0xED && u[i + 1] >= 0xA0) ||
                       (c == 0xF0 && u[i + 1] < 0x90) || (c == 0xF4 && u[i + 1] >= 0x90)))
                ok = false;
            if (ok) {
                rn_buf_append(&want, s + i, seq);
                i += seq;
                continue;
            }
            if (c == '"') rn_buf_appends(&want, "\\\"");
            else if (c == '\\') rn_buf_appends(&want, "\\\\");
            else if (c == '\n') rn_buf_appends(&want, "\\n");
            else if (c == '\t') rn_buf_appends(&want, "\\t");
            else if (c == '\r') rn_buf_appends(&want, "\\r");
            else if (c == '\b') rn_buf_appends(&want, "\\b");
            else if (c == '\f') rn_buf_appends(&want, "\\f");
            else if (c < 0x20) rn_buf_appendf(&want, "\\u%04x", c);
            else if (c >= 0x80) rn_buf_appends(&want, "\\ufffd");
            else rn_buf_appendc(&want, (char)c);
            i++;
        }
        rn_buf_appendc(&want, '"');
        bool same = got.len == want.len && !memcmp(got.data, want.data, got.len);
        if (!same) fprintf(stderr, "  wrote %s\n  want  %s\n", got.data, want.data);
        RN_REQUIRE(same);
    }
    rn_buf_free(&got);
    rn_buf_free(&want);
}

/* The spelling printf gives: the first of "%.15g", "%.16g", "%.17g" that
 * reads back, shorter for subnormals, ".0" after an integral spelling. */
static void printf_double(char *out, size_t size, double d)
{
    static const char *fmts[] = {"%.15g", "%.16g", "%.17g"};
    int n = 0;
    for (int k = 0; k < 3; k++) {
        n = snprintf(out, size, fmts[k], d);
        if (strtod(out, NULL) == d) break;
    }
    if (d != 0 && fabs(d) < DBL_MIN) {
        char t2[40];
        for (int p = 1; p < 15; p++) {
            int m = snprintf(t2, sizeof t2, "%.*g", p, d);
            if (m > 0 && m < n && strtod(t2, NULL) == d) {
                memcpy(out, t2, (size_t)m + 1);
                break;
            }
        }
    }
    if (!strpbrk(out, ".eni")) strcat(out, ".0");
}

/* DOUBLEs are written exactly as printf spells them (the writer computes
 * the digits itself, core/dtoa.h), over random bits and the values
 * events hold: prices times rates, short decimals, powers' neighbours. */
static void test_write_doubles_as_printf(void)
{
    rn_buf_t b;
    rn_buf_init(&b);
    uint64_t rng = 7;
    int mismatches = 0;
    for (int i = 0; i < 300000; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r = rng >> 11 ^ rng << 7;
        double x;
        switch (i % 6) {
        case 0:
            memcpy(&x, &r, sizeof x);
            if (!isfinite(x)) x = -2.5;
            break;
        case 1: x = 0.908 * (double)(r % 100000000); break;
        case 2: x = (double)(r % 1000000000) / pow(10, (double)(r >> 40 & 15)); break;
        case 3: x = nextafter(pow(10, (double)((int)(r % 44) - 10)), (r >> 50 & 1) ? 0 : INFINITY); break;
        case 4: x = -(double)(r % 100000000000000000ull); break;
        default: x = ldexp((double)(r % 1000), (int)(r >> 40 & 127) - 64); break;
        }
        char want[64];
        printf_double(want, sizeof want, x);
        const char *got = w_value(&b, RN_TYPE_DOUBLE, rn_value_double(x));
        if (strcmp(got, want) && mismatches++ < 5) fprintf(stderr, "%.17g: wrote %s, printf %s\n", x, got, want);
    }
    RN_CHECK_EQ_INT(mismatches, 0);
    rn_buf_free(&b);
}

static void test_write_values(void)
{
    rn_buf_t b;
    rn_buf_init(&b);
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(5.0)), "5.0");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(0.1)), "0.1");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(1e20)), "1e+20");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(1e16)), "1e+16");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(123456789.0)), "123456789.0");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(-0.0)), "-0.0");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(1.0 / 3)), "0.3333333333333333");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(0.1 + 0.2)), "0.30000000000000004");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(1e-7)), "1e-07");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(1714557600.123)), "1714557600.123");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(5e-324)), "5e-324");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(NAN)), "null");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_DOUBLE, rn_value_double(-INFINITY)), "null");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_BOOLEAN, rn_value_bool(true)), "true");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_BOOLEAN, rn_value_bool(false)), "false");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_INT, rn_value_int(-17)), "-17");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_BIGINT, rn_value_int(INT64_MIN)), "-9223372036854775808");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_TIMESTAMP_LTZ, rn_value_int(1714557600123LL)),
                    "1714557600123");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_STRING, rn_value_str("hi\"", 3)), "\"hi\\\"\"");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_STRING, RN_VALUE_NULL), "null");
    RN_CHECK_EQ_STR(w_value(&b, RN_TYPE_INT, RN_VALUE_NULL), "null");
    rn_buf_free(&b);
}

static void test_write_row_and_round_trip(void)
{
    static const rn_type_id types[] = {RN_TYPE_BOOLEAN, RN_TYPE_INT, RN_TYPE_BIGINT, RN_TYPE_DOUBLE,
                                       RN_TYPE_STRING, RN_TYPE_TIMESTAMP, RN_TYPE_STRING};
    static const char *names[] = {"b", "i", "big", "d", "s", "ts", "na\"me"};
    rn_schema_t *schema = rn_schema_new(7);
    RN_REQUIRE(schema != NULL);
    for (int i = 0; i < 7; i++)
        RN_REQUIRE(rn_schema_set(schema, i, names[i], rn_type_scalar(types[i])) == 0);
    static const char msg[] = "Сделайте покупку!\n\x01\"";
    rn_value_t row[7] = {rn_value_bool(true),
                         rn_value_int(-5),
                         rn_value_int(INT64_MAX),
                         rn_value_double(0.1),
                         rn_value_str(msg, sizeof msg - 1),
                         rn_value_int(1714557600123LL),
                         RN_VALUE_NULL};
    rn_value_t *rc[7];
    for (int i = 0; i < 7; i++) rc[i] = &row[i];
    rn_buf_t b;
    rn_buf_init(&b);
    rn_json_write_row(&b, schema, rc, 0, NULL, 0);
    RN_CHECK_EQ_STR(b.data, "{\"b\":true,\"i\":-5,\"big\":9223372036854775807,\"d\":0.1,"
                            "\"s\":\"Сделайте покупку!\\n\\u0001\\\"\",\"ts\":1714557600123,"
                            "\"na\\\"me\":null}");
    /* The compiled row format writes the same bytes, for all columns and
     * for a subset (none: {}). */
    static const int some[] = {6, 1, 2};
    for (int v = 0; v < 3; v++) {
        rn_json_row_fmt_t f;
        const int *idx = v == 0 ? NULL : some;
        int n = v == 0 ? 0 : v == 1 ? 3 : 0;
        rn_json_ts_format ts = v == 1 ? RN_JSON_TS_ISO8601 : RN_JSON_TS_EPOCH_MS;
        RN_REQUIRE(rn_json_row_fmt_init(&f, schema, idx, n, ts) == RN_OK);
        rn_buf_t want, got;
        rn_buf_init(&want);
        rn_buf_init(&got);
        rn_buf_appends(&got, "x");
        rn_buf_appends(&want, "x");
        rn_json_write_row_fmt(&want, schema, rc, 0, idx, n, ts);
        rn_json_row_fmt_write(&f, &got, rc, 0);
        RN_CHECK_EQ_STR(got.data, want.data);
        rn_buf_free(&want);
        rn_buf_free(&got);
        rn_json_row_fmt_free(&f);
    }
    /* Decode it back: same values (a timestamp comes back as its ms). */
    const char *paths[7];
    rn_type_id dt[7];
    for (int i = 0; i < 7; i++) {
        paths[i] = names[i];
        dt[i] = types[i] == RN_TYPE_TIMESTAMP ? RN_TYPE_BIGINT : types[i];
    }
    rn_json_decoder_t *d = mk(7, paths, dt);
    RN_REQUIRE(d != NULL);
    RN_REQUIRE(dec(d, b.data) == RN_OK);
    for (int i = 0; i < 7; i++) {
        RN_CHECK(cols[i][1].null == row[i].null);
        if (!row[i].null) RN_CHECK(rn_value_equal(dt[i], &cols[i][1], &row[i]));
    }
    /* A subset of columns, in a given order. */
    int idx[] = {3, 1};
    rn_buf_clear(&b);
    rn_json_write_row(&b, schema, rc, 0, idx, 2);
    RN_CHECK_EQ_STR(b.data, "{\"d\":0.1,\"i\":-5}");
    /* Doubles survive the round trip bit for bit. */
    static const double ds[] = {0.1, 1.0 / 3, 1e20, 5e-324, 1.7976931348623157e308, -2.5, 1e-7,
                                123456.789e-3, 0.30000000000000004, 1.0000000000003374e-308,
                                2.2250738585072014e-308, 1e-310};
    const char *dp[] = {"d"};
    rn_type_id dty[] = {RN_TYPE_DOUBLE};
    rn_json_decoder_t *dd = mk(1, dp, dty);
    RN_REQUIRE(dd != NULL);
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        rn_buf_clear(&b);
        rn_buf_appends(&b, "{\"d\":");
        rn_value_t v = rn_value_double(ds[i]);
        rn_json_write_value(&b, RN_TYPE_DOUBLE, &v);
        rn_buf_appendc(&b, '}');
        RN_CHECK_EQ_INT(dec(dd, b.data), RN_OK);
        RN_CHECK(cols[0][1].d == ds[i]);
    }
    rn_json_decoder_free(dd);
    rn_json_decoder_free(d);
    rn_buf_free(&b);
    rn_schema_unref(schema);
}

int main(void)
{
    rn_arena_init(&arena, 0);
    RN_RUN(test_projection);
    RN_RUN(test_nested_paths);
    RN_RUN(test_duplicate_keys_last_wins);
    RN_RUN(test_integer_conversions);
    RN_RUN(test_nested_conversion_error_names_path);
    RN_RUN(test_double_boolean_conversions);
    RN_RUN(test_string_conversions);
    RN_RUN(test_timestamp_conversions);
    RN_RUN(test_invalid_documents);
    RN_RUN(test_escapes_and_zero_copy);
    RN_RUN(test_long_keys_and_large_documents);
    RN_RUN(test_steady_state_allocates_nothing);
    RN_RUN(test_fault_injection);
    RN_RUN(test_decoder_rejects_bad_fields);
    RN_RUN(test_fast_path_agrees);
    RN_RUN(test_write_string_escapes);
    RN_RUN(test_write_string_matches_the_rule);
    RN_RUN(test_fast_path_agrees_on_random_strings);
    RN_RUN(test_write_values);
    RN_RUN(test_write_doubles_as_printf);
    RN_RUN(test_write_row_and_round_trip);
    rn_arena_free(&arena);
    return rn_test_summary();
}
