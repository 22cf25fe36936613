/*
 * test_accum.c - the MAX_BY/MIN_BY accumulators of op/accum.c against a
 * brute-force answer: random (value, ordering) rows with NULLs and ties,
 * added in arrival order, split in runs that are merged (as sessions
 * merge) in random order, encoded and decoded (every truncation must fail
 * cleanly), and refused retraction. The other aggregates are covered
 * through the operators (test_ops.c, test_window.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "op/accum.h"
#include "rn_test.h"
#include "state/snapshot.h"

#define NROWS 60

typedef struct row {
    rn_value_t val;             /* value (BIGINT or STRING) */
    rn_value_t ord;             /* ordering (BIGINT or STRING) */
    uint64_t seq;               /* arrival */
} row_t;

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static char strpool[NROWS * 2][16];

/* A random value of type t: NULL one time in null_in, few distinct values
 * (ties). */
static rn_value_t random_value(rn_type_id t, int null_in, int slot)
{
    if (rng() % (uint64_t)null_in == 0) return RN_VALUE_NULL;
    int64_t x = (int64_t)(rng() % 8);
    if (t != RN_TYPE_STRING) return rn_value_int(x - 3);
    snprintf(strpool[slot], sizeof strpool[slot], "%c%lld", 'a' + (int)(rng() % 3), (long long)x);
    return rn_value_str(strpool[slot], (uint32_t)strlen(strpool[slot]));
}

/* The brute-force answer over rows[lo..hi): index of the row held, or -1. */
static int brute(const rn_agg_spec_t *s, const row_t *rows, int lo, int hi)
{
    int best = -1;
    for (int i = lo; i < hi; i++) {
        if (rows[i].ord.null) continue;
        if (best < 0) {
            best = i;
            continue;
        }
        int c = rn_value_compare(s->by_type, &rows[i].ord, &rows[best].ord);
        if (s->kind == RN_AGG_MAX_BY ? c > 0 : c < 0) best = i;
    }
    return best;
}

/* Whether acc's result is the value of rows[want] (NULL for want < 0). */
static bool result_is(const rn_agg_spec_t *s, const rn_accum_t *acc, const row_t *rows, int want)
{
    rn_value_t r = rn_accum_result(s, acc);
    if (want < 0 || rows[want].val.null) return r.null;
    return !r.null && rn_value_equal(s->arg_type, &r, &rows[want].val);
}

static rn_err_t add_row(rn_accum_ctx_t *cx, const rn_agg_spec_t *s, rn_accum_t *acc, const row_t *row)
{
    rn_value_t pair[2] = {row->val, row->ord};
    return rn_accum_add(cx, s, acc, pair, row->seq);
}

/* Adds rows, merges runs of them, round-trips the result, for one spec. */
static void check_spec(const rn_agg_spec_t *s, bool mergeable)
{
    for (int iter = 0; iter < 200; iter++) {
        row_t rows[NROWS];
        int n = 1 + (int)(rng() % NROWS);
        for (int i = 0; i < n; i++) {
            rows[i].val = random_value(s->arg_type, 5, 2 * i);
            rows[i].ord = random_value(s->by_type, 4, 2 * i + 1);
            rows[i].seq = (uint64_t)i;
        }
        rn_accum_ctx_t cx;
        rn_accum_ctx_init(&cx, false, mergeable);

        /* All rows into one accumulator, checked after each. */
        rn_accum_t whole = {0};
        for (int i = 0; i < n; i++) {
            RN_REQUIRE(add_row(&cx, s, &whole, &rows[i]) == RN_OK);
            RN_CHECK(result_is(s, &whole, rows, brute(s, rows, 0, i + 1)));
        }
        int want = brute(s, rows, 0, n);
        RN_CHECK(result_is(s, &whole, rows, want));

        /* Retraction is refused and changes nothing. */
        rn_value_t pair[2] = {rows[0].val, rows[0].ord};
        RN_CHECK(rn_accum_retract(&cx, s, &whole, pair) == RN_ERR_UNSUPPORTED);
        RN_CHECK(result_is(s, &whole, rows, want));

        /* Runs merged in random order (ties: the smaller sequence wins). */
        if (mergeable) {
            int nruns = 1 + (int)(rng() % 4), cut[6] = {0};
            rn_accum_t run[5];
            memset(run, 0, sizeof run);
            for (int k = 1; k < nruns; k++) cut[k] = (int)(rng() % (uint64_t)(n + 1));
            cut[nruns] = n;
            for (int k = 1; k < nruns; k++) /* sort the cuts */
                for (int j = k; j > 1 && cut[j - 1] > cut[j]; j--) {
                    int t = cut[j];
                    cut[j] = cut[j - 1];
                    cut[j - 1] = t;
                }
            for (int k = 0; k < nruns; k++)
                for (int i = cut[k]; i < cut[k + 1]; i++) RN_REQUIRE(add_row(&cx, s, &run[k], &rows[i]) == RN_OK);
            int into = (int)(rng() % (uint64_t)nruns);
            for (int k = 0; k < nruns; k++) {
                if (k == into) continue;
                RN_REQUIRE(rn_accum_merge_sets(&cx, s, &run[into], &run[k]) == RN_OK);
                rn_accum_merge(s, &run[into], &run[k]);
                rn_accum_free(&cx, s, &run[k]);
            }
            RN_CHECK(result_is(s, &run[into], rows, want));
            rn_accum_free(&cx, s, &run[into]);
        }

        /* Encode, decode, re-encode: same bytes, same result, and later
         * rows behave as on the original. */
        rn_buf_t enc, enc2;
        rn_buf_init(&enc);
        rn_buf_init(&enc2);
        rn_accum_encode(&cx, s, &whole, &enc);
        RN_REQUIRE(!enc.oom);
        rn_snap_reader_t r;
        rn_snap_reader_init(&r, enc.data, enc.len);
        rn_accum_t back = {0};
        RN_CHECK(rn_accum_decode(&cx, s, &r, &back) == RN_OK);
        RN_CHECK(rn_snap_done(&r));
        RN_CHECK(result_is(s, &back, rows, want));
        rn_accum_encode(&cx, s, &back, &enc2);
        RN_CHECK(enc.len == enc2.len && !memcmp(enc.data, enc2.data, enc.len));
        row_t extra = {.val = random_value(s->arg_type, 5, 0), .ord = random_value(s->by_type, 4, 1), .seq = 1000};
        RN_CHECK(add_row(&cx, s, &whole, &extra) == RN_OK);
        RN_CHECK(add_row(&cx, s, &back, &extra) == RN_OK);
        RN_CHECK(rn_accum_result(s, &whole).null == rn_accum_result(s, &back).null);
        rn_value_t a = rn_accum_result(s, &whole), b = rn_accum_result(s, &back);
        RN_CHECK(a.null || rn_value_equal(s->arg_type, &a, &b));
        rn_accum_free(&cx, s, &back);

        /* Every truncation fails as RN_ERR_DECODE, leaving nothing behind
         * once freed (ASan checks). */
        for (size_t len = 0; len < enc.len; len++) {
            rn_snap_reader_init(&r, enc.data, len);
            rn_accum_t t = {0};
            rn_err_t err = rn_accum_decode(&cx, s, &r, &t);
            RN_CHECK(err == RN_ERR_DECODE);
            rn_accum_free(&cx, s, &t);
        }
        rn_buf_free(&enc);
        rn_buf_free(&enc2);
        rn_accum_free(&cx, s, &whole);
        rn_accum_ctx_free(&cx);
    }
}

static void test_max_by_min_by_random(void)
{
    rn_type_id types[] = {RN_TYPE_BIGINT, RN_TYPE_STRING};
    rn_agg_kind kinds[] = {RN_AGG_MAX_BY, RN_AGG_MIN_BY};
    for (int k = 0; k < 2; k++)
        for (int vt = 0; vt < 2; vt++)
            for (int ot = 0; ot < 2; ot++)
                for (int m = 0; m < 2; m++) {
                    rn_agg_spec_t s = {.kind = kinds[k], .arg = 0, .arg_type = types[vt],
                                       .result_type = types[vt], .by = 1, .by_type = types[ot]};
                    check_spec(&s, m == 1);
                }
}

/* The packed form (GroupAggregate's slot) keeps what MAX_BY needs. */
static void test_max_by_packed(void)
{
    rn_agg_spec_t s = {.kind = RN_AGG_MAX_BY, .arg = 0, .arg_type = RN_TYPE_STRING,
                       .result_type = RN_TYPE_STRING, .by = 1, .by_type = RN_TYPE_BIGINT};
    rn_accum_ctx_t cx;
    rn_accum_ctx_init(&cx, false, false);
    RN_CHECK(rn_accum_owns(&cx, &s));
    unsigned char slot[64];
    RN_REQUIRE(rn_accum_packed_size(s.kind) <= sizeof slot);
    rn_accum_t acc = {0};
    rn_accum_store(s.kind, slot, &acc);
    const char *vals[] = {"first", "second", "third", "fourth"};
    int64_t ords[] = {5, 9, 9, 2};
    for (int i = 0; i < 4; i++) {
        rn_accum_load(s.kind, slot, &acc);
        rn_value_t pair[2] = {rn_value_str(vals[i], (uint32_t)strlen(vals[i])), rn_value_int(ords[i])};
        RN_REQUIRE(rn_accum_add(&cx, &s, &acc, pair, 0) == RN_OK);
        rn_accum_store(s.kind, slot, &acc);
    }
    rn_accum_load(s.kind, slot, &acc);
    rn_value_t r = rn_accum_result(&s, &acc);
    RN_CHECK(!r.null && r.len == 6 && !memcmp(r.s, "second", 6)); /* the tie keeps the earlier row */
    rn_accum_free(&cx, &s, &acc);
    rn_accum_ctx_free(&cx);
}

/* Corrupt bytes: an ordering present with n = 0, or missing with n > 0. */
static void test_max_by_decode_rejects_inconsistent(void)
{
    rn_agg_spec_t s = {.kind = RN_AGG_MIN_BY, .arg = 0, .arg_type = RN_TYPE_BIGINT,
                       .result_type = RN_TYPE_BIGINT, .by = 1, .by_type = RN_TYPE_BIGINT};
    rn_accum_ctx_t cx;
    rn_accum_ctx_init(&cx, false, true);
    for (int c = 0; c < 2; c++) {
        rn_buf_t b;
        rn_buf_init(&b);
        rn_snap_put_u64(&b, c == 0 ? 0 : 3); /* n */
        rn_snap_put_u8(&b, 1);               /* value NULL */
        if (c == 0) {
            rn_snap_put_u8(&b, 0); /* an ordering although n = 0 */
            rn_snap_put_u64(&b, 7);
        } else {
            rn_snap_put_u8(&b, 1); /* no ordering although n = 3 */
        }
        rn_snap_put_u64(&b, 0);
        rn_snap_reader_t r;
        rn_snap_reader_init(&r, b.data, b.len);
        rn_accum_t acc = {0};
        RN_CHECK(rn_accum_decode(&cx, &s, &r, &acc) == RN_ERR_DECODE);
        rn_accum_free(&cx, &s, &acc);
        rn_buf_free(&b);
    }
    rn_accum_ctx_free(&cx);
}

int main(void)
{
    RN_RUN(test_max_by_min_by_random);
    RN_RUN(test_max_by_packed);
    RN_RUN(test_max_by_decode_rejects_inconsistent);
    return rn_test_summary();
}
