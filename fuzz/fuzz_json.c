/*
 * fuzz_json.c - libFuzzer target for the JSON decoder and writer.
 *
 * Each input is decoded (from a padded copy, as the engine does) with a
 * decoder that requests one field of every scalar type plus nested paths
 * and a duplicate path. When decoding succeeds, the row is written back
 * with rn_json_write_row and decoded again with a flat decoder over the
 * column names; that must succeed and give the same values (timestamps
 * come back as their epoch milliseconds), else we abort(). Decode errors
 * must carry a message. Every input is also decoded with the plain-record
 * scanner turned off (simdjson alone): the result, the message and the
 * values must be the same.
 *
 * Build (from the repository root; also built by CMake with RUNNEL_FUZZ=ON):
 *   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -c -Iinclude -Isrc \
 *     src/json/json_simd.cpp -o /tmp/json/simd_f.o && clang -std=c11 -D_GNU_SOURCE -g -O1 \
 *     -fsanitize=fuzzer,address,undefined -fsanitize-link-c++-runtime -Iinclude -Isrc \
 *     src/core/[a-z]*.c src/json/json_write.c fuzz/fuzz_json.c /tmp/json/simd_f.o -o /tmp/json/fuzz_json \
 *     -lsimdjson -lstdc++ -lm
 * (-fsanitize-link-c++-runtime: the clang C driver does not otherwise link
 * UBSan's C++ part that the simdjson code needs.)
 * Run: cp -r tests/fuzz/fuzz_json /tmp/corpus && /tmp/json/fuzz_json -max_total_time=60 /tmp/corpus
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/value.h"
#include "json/json.h"

#define NF 11

static const char *p_s[] = {"s"}, *p_i[] = {"i"}, *p_b[] = {"b"}, *p_d[] = {"d"},
                  *p_t[] = {"t"}, *p_l[] = {"l"}, *p_o[] = {"o"}, *p_un[] = {"user", "name"},
                  *p_ui[] = {"user", "id"}, *p_deep[] = {"a", "b", "c"}, *p_s2[] = {"s"};
static const rn_json_field_t fields[NF] = {
    {1, p_s, RN_TYPE_STRING},         {1, p_i, RN_TYPE_INT},     {1, p_b, RN_TYPE_BIGINT},
    {1, p_d, RN_TYPE_DOUBLE},         {1, p_t, RN_TYPE_TIMESTAMP}, {1, p_l, RN_TYPE_BOOLEAN},
    {1, p_o, RN_TYPE_STRING},         {2, p_un, RN_TYPE_STRING}, {2, p_ui, RN_TYPE_INT},
    {3, p_deep, RN_TYPE_TIMESTAMP_LTZ}, {1, p_s2, RN_TYPE_BIGINT},
};
static const char *colnames[NF] = {"s", "i", "b", "d", "t", "l", "o", "user.name", "user.id",
                                   "a.b.c", "s2"};

static rn_json_decoder_t *dec1, *dec2, *dec_slow;
static rn_schema_t *schema;
static rn_arena_t arena;
static rn_value_t vals1[NF], vals2[NF], vals_slow[NF];
static rn_value_t *cols1[NF], *cols2[NF], *cols_slow[NF];

/* The type a column is read back as from its JSON output. */
static rn_type_id reread_type(rn_type_id t)
{
    return t == RN_TYPE_TIMESTAMP || t == RN_TYPE_TIMESTAMP_LTZ ? RN_TYPE_BIGINT : t;
}

static void setup(void)
{
    char err[256];
    dec1 = rn_json_decoder_new(fields, NF, err, sizeof err);
    dec_slow = rn_json_decoder_new(fields, NF, err, sizeof err);
    if (!dec_slow) abort();
    rn_json_decoder_set_fast(dec_slow, false);
    static const char *parts[NF][1];
    static rn_json_field_t flat[NF];
    schema = rn_schema_new(NF);
    if (!dec1 || !schema) abort();
    for (int i = 0; i < NF; i++) {
        parts[i][0] = colnames[i];
        flat[i] = (rn_json_field_t){1, parts[i], reread_type(fields[i].type)};
        if (rn_schema_set(schema, i, colnames[i], rn_type_scalar(fields[i].type)) != 0) abort();
        cols1[i] = &vals1[i];
        cols2[i] = &vals2[i];
        cols_slow[i] = &vals_slow[i];
    }
    dec2 = rn_json_decoder_new(flat, NF, err, sizeof err);
    if (!dec2) abort();
    rn_arena_init(&arena, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dec1) setup();
    char err[256];
    char *doc = rn_malloc(size + RN_JSON_PADDING);
    if (!doc) abort();
    memcpy(doc, data, size);
    memset(doc + size, '}', RN_JSON_PADDING);
    err[0] = '\0';
    rn_err_t rc = rn_json_decode(dec1, doc, size, cols1, 0, &arena, err, sizeof err);
    char err_slow[256];
    err_slow[0] = '\0';
    rn_err_t rc_slow = rn_json_decode(dec_slow, doc, size, cols_slow, 0, &arena, err_slow, sizeof err_slow);
    if (rc != rc_slow || (rc != RN_OK && strcmp(err, err_slow) != 0)) {
        fprintf(stderr, "scanner and simdjson disagree: %d '%s' vs %d '%s'\n", rc, err, rc_slow, err_slow);
        abort();
    }
    for (int i = 0; rc == RN_OK && i < NF; i++) {
        bool same = vals1[i].null == vals_slow[i].null &&
                    (vals1[i].null || (fields[i].type == RN_TYPE_DOUBLE
                                           ? memcmp(&vals1[i].d, &vals_slow[i].d, sizeof(double)) == 0
                                           : rn_value_equal(fields[i].type, &vals1[i], &vals_slow[i])));
        if (!same) {
            fprintf(stderr, "scanner and simdjson disagree in column %s\n", colnames[i]);
            abort();
        }
    }
    if (rc != RN_OK) {
        if (rc != RN_ERR_DECODE || !err[0]) abort();
        goto out;
    }
    rn_buf_t out;
    rn_buf_init(&out);
    rn_json_write_row(&out, schema, cols1, 0, NULL, 0);
    if (out.oom) abort();
    rn_buf_reserve(&out, RN_JSON_PADDING);
    memset(out.data + out.len, 0, RN_JSON_PADDING);
    rc = rn_json_decode(dec2, out.data, out.len, cols2, 0, &arena, err, sizeof err);
    if (rc != RN_OK) {
        fprintf(stderr, "re-decode failed: %s\n%s\n", err, out.data);
        abort();
    }
    for (int i = 0; i < NF; i++) {
        rn_type_id t = reread_type(fields[i].type);
        if (vals1[i].null != vals2[i].null ||
            (!vals1[i].null && !rn_value_equal(t, &vals1[i], &vals2[i]))) {
            fprintf(stderr, "round trip differs in column %s\n%s\n", colnames[i], out.data);
            abort();
        }
    }
    rn_buf_free(&out);
out:
    rn_free(doc);
    rn_arena_reset(&arena);
    return 0;
}
