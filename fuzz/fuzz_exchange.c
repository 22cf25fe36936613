/*
 * fuzz_exchange.c - libFuzzer target for the repartition record decoder
 * (op/exchange.h): the bytes a repartition topic hands back could be
 * anything (another program writing to the topic, a corrupt broker).
 *
 * Each input is decoded as a mark and as a rows record over a schema of
 * every scalar type, from an exact-size heap copy (so ASan catches any
 * read past the end). Invariants, else abort(): a decoded mark lists only
 * tasks below its task count; decoding rows is all or nothing (a failed
 * decode, or one into a batch without room for every row, keeps none) and
 * the same into a small batch as into a big one; decoded strings lie
 * inside the input; every failure explains itself.
 *
 * Built by CMake with RUNNEL_FUZZ=ON (make fuzz-smoke); run:
 *   cp -r tests/fuzz/fuzz_exchange /tmp/corpus && build-fuzz/fuzz_exchange -max_total_time=60 /tmp/corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/value.h"
#include "op/exchange.h"

static rn_schema_t *schema(void)
{
    static rn_schema_t *s;
    if (s) return s;
    s = rn_schema_new(6);
    rn_schema_set(s, 0, "i", &rn_type_int);
    rn_schema_set(s, 1, "b", &rn_type_bigint);
    rn_schema_set(s, 2, "d", &rn_type_double);
    rn_schema_set(s, 3, "s", &rn_type_string);
    rn_schema_set(s, 4, "l", &rn_type_boolean);
    rn_schema_set(s, 5, "t", &rn_type_timestamp);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    char msg[256];
    rn_exchange_mark_t m;
    if (rn_exchange_decode_mark(copy, size, &m, msg, sizeof msg) == RN_OK) {
        for (uint32_t i = 0; i < m.ntask; i++)
            if (rn_exchange_mark_task(&m, i) >= m.ntasks) abort();
    } else if (!msg[0]) {
        abort(); /* every failure explains itself */
    }
    rn_arena_t arena;
    rn_arena_init(&arena, 1 << 16);
    rn_batch_t *b = rn_batch_new(&arena, schema(), RN_BATCH_MAX);
    rn_batch_t *small = rn_batch_new(&arena, schema(), 3);
    int64_t *rowwm = rn_arena_alloc(&arena, sizeof(int64_t) * RN_BATCH_MAX);
    if (b && small && rowwm) {
        msg[0] = '\0';
        bool full, small_full;
        char small_msg[256] = "";
        rn_err_t err = rn_exchange_decode_rows(copy, size, b, rowwm, &full, msg, sizeof msg);
        rn_err_t small_err = rn_exchange_decode_rows(copy, size, small, NULL, &small_full, small_msg, sizeof small_msg);
        if (full && (err != RN_OK || b->nrows != 0)) abort();
        if (small_full) { /* stopped at its 4th row: nothing kept; the big one saw more */
            if (small_err != RN_OK || small->nrows != 0 || (err == RN_OK && !full && b->nrows <= 3)) abort();
        } else if (small_err != err || (err == RN_OK && small->nrows != b->nrows)) {
            abort();
        }
        if (err == RN_OK) {
            for (int r = 0; r < b->nrows; r++) {
                const rn_value_t *v = &b->cols[3][r];
                if (!v->null && v->len && ((const unsigned char *)v->s < copy ||
                                           (const unsigned char *)v->s + v->len > copy + size))
                    abort();
                if (b->kinds[r] > RN_ROW_DELETE) abort();
            }
        } else if (!msg[0] || b->nrows != 0) {
            abort();
        }
    }
    rn_arena_free(&arena);
    free(copy);
    return 0;
}
