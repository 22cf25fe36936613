/*
 * expr_eval.c - micro-benchmark of the vectorized expression evaluator.
 *
 * Measures rows/s of rn_expr_select for the filter
 *     (event_type = 'page-view') AND (page_id % 10 < 5)
 * over 1024-row batches (target: > 50M rows/s on one core), plus a few
 * other shapes for comparison. The arena is reset after every batch, as
 * the runtime does, so the steady state performs no heap allocation.
 * Not built by CMake; build and run from the repository root with:
 *
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Isrc src/core/mem.c src/core/arena.c \
 *       src/core/buf.c src/core/value.c src/core/hash.c src/core/err.c \
 *       src/core/clock.c src/core/timeparse.c src/expr/*.c bench/expr_eval.c \
 *       -o /tmp/expr_eval -lm && /tmp/expr_eval [seconds-per-case]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/value.h"
#include "expr/expr.h"

static rn_expr_t nodes[64]; /* expression nodes of the current case */
static rn_expr_t *argv_[64][4];
static int nnodes;

static rn_expr_t *node(rn_expr_kind k, const rn_type_t *t)
{
    rn_expr_t *e = &nodes[nnodes++];
    memset(e, 0, sizeof *e);
    e->kind = k;
    e->type = t;
    return e;
}
static rn_expr_t *col(int c, const rn_type_t *t)
{
    rn_expr_t *e = node(RN_EXPR_COLUMN, t);
    e->col = c;
    return e;
}
static rn_expr_t *cint(int64_t v, const rn_type_t *t)
{
    rn_expr_t *e = node(RN_EXPR_CONST, t);
    e->value = rn_value_int(v);
    return e;
}
static rn_expr_t *cstr(const char *s)
{
    rn_expr_t *e = node(RN_EXPR_CONST, &rn_type_string);
    e->value = rn_value_str(s, (uint32_t)strlen(s));
    return e;
}
static rn_expr_t *fn(rn_func_id f, const rn_type_t *t, rn_expr_t *a, rn_expr_t *b)
{
    rn_expr_t *e = node(RN_EXPR_FUNC, t);
    e->fn = f;
    e->args = argv_[nnodes - 1];
    e->args[0] = a;
    e->args[1] = b;
    e->nargs = b ? 2 : 1;
    return e;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define NBATCH 64
#define ROWS 1024

static rn_batch_t *batches[NBATCH];

/* Runs e over the batches for about `secs` seconds; prints rows/s. */
static void run(const char *name, const rn_expr_t *e, rn_arena_t *scratch, double secs, bool select)
{
    static int sel[ROWS];
    static rn_value_t out[ROWS];
    long rows = 0, hits = 0;
    double t0 = now(), t;
    do {
        for (int r = 0; r < 200; r++) {
            for (int b = 0; b < NBATCH; b++) {
                if (select) {
                    int n = rn_expr_select(e, batches[b], scratch, sel);
                    if (n < 0) abort();
                    hits += n;
                } else if (rn_expr_eval(e, batches[b], scratch, out) != RN_OK) {
                    abort();
                }
                rn_arena_reset(scratch);
                rows += batches[b]->nrows;
            }
        }
        t = now() - t0;
    } while (t < secs);
    rn_buf_t buf;
    rn_buf_init(&buf);
    rn_expr_explain(e, batches[0]->schema, &buf);
    printf("%-34s %8.1f M rows/s  %6.2f ns/row  (%s; selectivity %.2f)\n", name, rows / t / 1e6,
           t * 1e9 / rows, buf.data, select ? (double)hits / rows : 1.0);
    rn_buf_free(&buf);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    static const char *types[] = {"page-view", "click", "scroll", "purchase", "page-leave"};
    rn_schema_t *s = rn_schema_new(4);
    rn_schema_set(s, 0, "event_type", &rn_type_string);
    rn_schema_set(s, 1, "page_id", &rn_type_bigint);
    rn_schema_set(s, 2, "page_id32", &rn_type_int);
    rn_schema_set(s, 3, "url", &rn_type_string);
    rn_arena_t data, scratch;
    rn_arena_init(&data, 0);
    rn_arena_init(&scratch, 0);
    uint64_t x = 88172645463325252ULL;
    for (int b = 0; b < NBATCH; b++) {
        rn_batch_t *bt = rn_batch_new(&data, s, ROWS);
        bt->nrows = ROWS;
        for (int i = 0; i < ROWS; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const char *t = types[x % 5];
            bt->cols[0][i] = rn_value_str(t, (uint32_t)strlen(t));
            bt->cols[1][i] = rn_value_int((int64_t)((x >> 8) % 100000));
            bt->cols[2][i] = rn_value_int((int64_t)((x >> 8) % 100000));
            char *u = rn_arena_alloc(&data, 48);
            int len = snprintf(u, 48, "https://example.com/p/%llu", (unsigned long long)((x >> 20) % 1000));
            bt->cols[3][i] = rn_value_str(u, (uint32_t)len);
        }
        batches[b] = bt;
    }
    const rn_type_t *L = &rn_type_bigint, *I = &rn_type_int, *Bt = &rn_type_boolean;

    nnodes = 0;
    rn_expr_t *e = fn(RN_FN_AND, Bt, fn(RN_FN_EQ, Bt, col(0, &rn_type_string), cstr("page-view")),
                      fn(RN_FN_LT, Bt, fn(RN_FN_MOD, L, col(1, L), cint(10, L)), cint(5, L)));
    run("filter, BIGINT page_id (select)", e, &scratch, secs, true);
    run("filter, BIGINT page_id (eval)", e, &scratch, secs, false);

    nnodes = 0;
    e = fn(RN_FN_AND, Bt, fn(RN_FN_EQ, Bt, col(0, &rn_type_string), cstr("page-view")),
           fn(RN_FN_LT, Bt, fn(RN_FN_MOD, I, col(2, I), cint(10, I)), cint(5, I)));
    run("filter, INT page_id (select)", e, &scratch, secs, true);

    nnodes = 0;
    e = fn(RN_FN_ADD, L, fn(RN_FN_MUL, L, col(1, L), cint(3, L)), cint(1, L));
    run("arith page_id * 3 + 1", e, &scratch, secs, false);

    nnodes = 0;
    e = fn(RN_FN_LIKE, Bt, col(3, &rn_type_string), cstr("%/p/12%"));
    run("LIKE contains", e, &scratch, secs, true);

    nnodes = 0;
    e = fn(RN_FN_UPPER, &rn_type_string, col(0, &rn_type_string), NULL);
    run("UPPER(event_type)", e, &scratch, secs, false);

    nnodes = 0;
    e = fn(RN_FN_CAST, &rn_type_string, col(1, L), NULL);
    run("CAST(page_id AS STRING)", e, &scratch, secs, false);

    rn_arena_free(&scratch);
    rn_arena_free(&data);
    rn_schema_unref(s);
    return 0;
}
