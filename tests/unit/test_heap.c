/*
 * test_heap.c - unit tests for core/heap.h, the indexed min-heap: random
 * push/pop/remove/fix sequences checked step by step against a brute-force
 * model, one element in two heaps at once, allocation failure, and the
 * debug-build order check catching a key changed without rn_heap_fix.
 */
#include "core/assert.h"
#include "core/heap.h"
#include "core/mem.h"
#include "rn_test.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct item {
    int key;                    /* the order; ties broken by id */
    int id;                     /* unique */
    size_t pos;                 /* position in heap a */
    size_t pos2;                /* position in heap b (two-heap test) */
} item_t;

static bool item_less(const void *x, const void *y)
{
    const item_t *a = x, *b = y;
    if (a->key != b->key) return a->key < b->key;
    return a->id < b->id;
}

static bool item_more(const void *x, const void *y)
{
    return item_less(y, x);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rng(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* The least item the model holds (brute force), or NULL. */
static item_t *model_min(item_t *it, const bool *in, int n)
{
    item_t *m = NULL;
    for (int i = 0; i < n; i++)
        if (in[i] && (!m || item_less(&it[i], m))) m = &it[i];
    return m;
}

#define NITEMS 300

static void test_heap_matches_model(void)
{
    static item_t it[NITEMS];
    static bool in[NITEMS];
    rn_heap_t h;
    rn_heap_init(&h, item_less, offsetof(item_t, pos));
    for (int i = 0; i < NITEMS; i++) {
        it[i] = (item_t){.key = (int)rng(50), .id = i, .pos = RN_HEAP_NOWHERE};
        in[i] = false;
    }
    int held = 0, pops = 0, removes = 0, fixes = 0;
    for (int step = 0; step < 20000; step++) {
        item_t *e = &it[rng(NITEMS)];
        /* 3 of 8 push, 1 pops, 2 remove, 2 fix: the heap settles near
         * 40 % of the items, so every path runs often. */
        switch (rng(8)) {
        case 0:
        case 1:
        case 2: /* push */
            if (in[e->id]) break;
            RN_REQUIRE(rn_heap_reserve(&h, 1) == RN_OK);
            rn_heap_push(&h, e);
            in[e->id] = true;
            held++;
            break;
        case 3: { /* pop */
            item_t *want = model_min(it, in, NITEMS);
            item_t *got = rn_heap_pop(&h);
            RN_CHECK(got == want);
            if (got) {
                RN_CHECK(got->pos == RN_HEAP_NOWHERE);
                in[got->id] = false;
                held--;
                pops++;
            }
            break;
        }
        case 4:
        case 5: /* remove, also of items not in the heap (no-op) */
            rn_heap_remove(&h, e);
            RN_CHECK(e->pos == RN_HEAP_NOWHERE);
            if (in[e->id]) {
                in[e->id] = false;
                held--;
                removes++;
            }
            break;
        default: /* change the key either way, then fix */
            e->key = (int)rng(50);
            rn_heap_fix(&h, e);
            fixes += in[e->id];
            break;
        }
        RN_REQUIRE(rn_heap_valid(&h));
        RN_CHECK(rn_heap_len(&h) == (size_t)held);
        RN_CHECK(rn_heap_top(&h) == model_min(it, in, NITEMS));
        for (size_t i = 0; i < rn_heap_len(&h); i++)
            RN_CHECK(((item_t *)rn_heap_at(&h, i))->pos == i);
    }
    RN_CHECK(pops > 1000 && removes > 1000 && fixes > 1000); /* every path ran */
    /* Draining yields the model's order. */
    while (held > 0) {
        item_t *want = model_min(it, in, NITEMS);
        RN_CHECK(rn_heap_pop(&h) == want);
        in[want->id] = false;
        held--;
    }
    RN_CHECK(rn_heap_pop(&h) == NULL && rn_heap_top(&h) == NULL);
    rn_heap_free(&h);
}

static void test_heap_element_in_two_heaps(void)
{
    item_t it[64];
    rn_heap_t a, b;
    rn_heap_init(&a, item_less, offsetof(item_t, pos));
    rn_heap_init(&b, item_more, offsetof(item_t, pos2));
    RN_REQUIRE(rn_heap_reserve(&a, 64) == RN_OK && rn_heap_reserve(&b, 64) == RN_OK);
    size_t cap = a.cap;
    for (int i = 0; i < 64; i++) {
        it[i] = (item_t){.key = (i * 37) % 64, .id = i, .pos = RN_HEAP_NOWHERE, .pos2 = RN_HEAP_NOWHERE};
        rn_heap_push(&a, &it[i]);
        rn_heap_push(&b, &it[i]);
    }
    RN_CHECK(a.cap == cap); /* reserved room: no growth */
    RN_CHECK(((item_t *)rn_heap_top(&a))->key == 0 && ((item_t *)rn_heap_top(&b))->key == 63);
    /* Moving one element's key re-sifts it in both heaps, each through its own position. */
    item_t *e = rn_heap_top(&a);
    e->key = 100;
    rn_heap_fix(&a, e);
    rn_heap_fix(&b, e);
    RN_CHECK(rn_heap_top(&b) == e && rn_heap_top(&a) != e);
    rn_heap_remove(&a, e);
    RN_CHECK(e->pos == RN_HEAP_NOWHERE && e->pos2 == 0);
    RN_CHECK(rn_heap_valid(&a) && rn_heap_valid(&b));
    RN_CHECK(rn_heap_len(&a) == 63 && rn_heap_len(&b) == 64);
    rn_heap_free(&a);
    rn_heap_free(&b);
    RN_CHECK(rn_heap_len(&a) == 0);
}

static void test_heap_reserve_fails_cleanly(void)
{
    item_t x = {.key = 1, .id = 0, .pos = RN_HEAP_NOWHERE};
    rn_heap_t h;
    rn_heap_init(&h, item_less, offsetof(item_t, pos));
    size_t before = rn_mem_used();
    rn_mem_fail_after(0);
    RN_CHECK(rn_heap_reserve(&h, 1) == RN_ERR_NOMEM);
    rn_mem_fail_after(-1);
    RN_CHECK(h.cap == 0 && h.a == NULL && rn_mem_used() == before);
    RN_REQUIRE(rn_heap_reserve(&h, 1) == RN_OK);
    rn_heap_push(&h, &x);
    RN_CHECK(rn_heap_top(&h) == &x && x.pos == 0);
    rn_heap_free(&h);
    RN_CHECK(rn_mem_used() == before);
}

static void test_heap_debug_check(void)
{
#if defined(RN_ASSERTS) && RN_ASSERTS
    /* A key changed without rn_heap_fix breaks the order; the sampled full
     * check aborts within RN_HEAP_CHECK_EVERY operations even when no
     * operation touches the broken spot. */
    fflush(NULL);
    pid_t pid = fork();
    RN_REQUIRE(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        item_t it[16], big = {.key = 1000, .id = 99, .pos = RN_HEAP_NOWHERE};
        rn_heap_t h;
        rn_heap_init(&h, item_less, offsetof(item_t, pos));
        if (rn_heap_reserve(&h, 17) != RN_OK) _exit(2);
        for (int i = 0; i < 16; i++) {
            it[i] = (item_t){.key = i, .id = i, .pos = RN_HEAP_NOWHERE};
            rn_heap_push(&h, &it[i]);
        }
        it[15].key = -1; /* a leaf now less than its parent */
        for (unsigned i = 0; i < 2 * RN_HEAP_CHECK_EVERY; i++) {
            rn_heap_push(&h, &big);
            rn_heap_remove(&h, &big);
        }
        _exit(0);
    }
    int status = 0;
    RN_REQUIRE(waitpid(pid, &status, 0) == pid);
    RN_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
#endif
    /* rn_heap_valid sees the same breakage in every build. */
    item_t it[3];
    rn_heap_t h;
    rn_heap_init(&h, item_less, offsetof(item_t, pos));
    RN_REQUIRE(rn_heap_reserve(&h, 3) == RN_OK);
    for (int i = 0; i < 3; i++) {
        it[i] = (item_t){.key = i, .id = i, .pos = RN_HEAP_NOWHERE};
        rn_heap_push(&h, &it[i]);
    }
    RN_CHECK(rn_heap_valid(&h));
    it[2].key = -5;
    RN_CHECK(!rn_heap_valid(&h));
    rn_heap_fix(&h, &it[2]);
    RN_CHECK(rn_heap_valid(&h) && rn_heap_top(&h) == &it[2]);
    rn_heap_free(&h);
}

int main(void)
{
    RN_RUN(test_heap_matches_model);
    RN_RUN(test_heap_element_in_two_heaps);
    RN_RUN(test_heap_reserve_fails_cleanly);
    RN_RUN(test_heap_debug_check);
    return rn_test_summary();
}
