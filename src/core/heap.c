/*
 * heap.c - the indexed binary min-heap of core/heap.h.
 *
 * Array layout: the children of a[i] are a[2i+1] and a[2i+2]. Every store
 * into the array goes through heap_put, which also writes the element's
 * position field, so a[i] and its position never disagree between calls.
 */
#include "core/heap.h"

#include "core/assert.h"
#include "core/mem.h"

static inline size_t *heap_posp(const rn_heap_t *h, void *e)
{
    return (size_t *)((char *)e + h->pos_off);
}

static inline void heap_put(rn_heap_t *h, size_t i, void *e)
{
    h->a[i] = e;
    *heap_posp(h, e) = i;
}

/* Moves the element at i towards the root while it is less than its parent. */
static void heap_up(rn_heap_t *h, size_t i)
{
    void *e = h->a[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!h->less(e, h->a[p])) break;
        heap_put(h, i, h->a[p]);
        i = p;
    }
    heap_put(h, i, e);
}

/* Moves the element at i towards the leaves while a child is less than it. */
static void heap_down(rn_heap_t *h, size_t i)
{
    void *e = h->a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->less(h->a[c + 1], h->a[c])) c++;
        if (!h->less(h->a[c], e)) break;
        heap_put(h, i, h->a[c]);
        i = c;
    }
    heap_put(h, i, e);
}

#if defined(RN_ASSERTS) && RN_ASSERTS
/* True iff the element at i is in order with its parent and children and
 * knows its position. */
static bool heap_ok_at(const rn_heap_t *h, size_t i)
{
    if (i >= h->n) return true;
    void *e = h->a[i];
    if (*heap_posp(h, e) != i) return false;
    if (i > 0 && h->less(e, h->a[(i - 1) / 2])) return false;
    for (size_t c = 2 * i + 1; c <= 2 * i + 2 && c < h->n; c++)
        if (h->less(h->a[c], e)) return false;
    return true;
}

/* After an operation that settled element e: e is in order locally and,
 * every RN_HEAP_CHECK_EVERY operations, the whole heap is. */
static void heap_check(rn_heap_t *h, void *e)
{
    if (e && *heap_posp(h, e) != RN_HEAP_NOWHERE) RN_ASSERT(heap_ok_at(h, *heap_posp(h, e)));
    if (++h->ops >= RN_HEAP_CHECK_EVERY) {
        h->ops = 0;
        RN_ASSERT(rn_heap_valid(h));
    }
}
#else
#define heap_check(h, e) ((void)0)
#endif

void rn_heap_init(rn_heap_t *h, rn_heap_less_fn less, size_t pos_off)
{
    h->a = NULL;
    h->n = 0;
    h->cap = 0;
    h->less = less;
    h->pos_off = pos_off;
    h->ops = 0;
}

void rn_heap_free(rn_heap_t *h)
{
    rn_free(h->a);
    h->a = NULL;
    h->n = 0;
    h->cap = 0;
}

rn_err_t rn_heap_reserve(rn_heap_t *h, size_t n)
{
    if (n <= h->cap - h->n) return RN_OK;
    size_t cap = h->cap ? h->cap : 64;
    while (cap - h->n < n) {
        if (cap > SIZE_MAX / 2 / sizeof *h->a) return RN_ERR_NOMEM;
        cap *= 2;
    }
    void **a = rn_realloc(h->a, cap * sizeof *a);
    if (!a) return RN_ERR_NOMEM;
    h->a = a;
    h->cap = cap;
    return RN_OK;
}

void rn_heap_push(rn_heap_t *h, void *e)
{
    RN_ASSERT(h->n < h->cap);
    RN_ASSERT(*heap_posp(h, e) == RN_HEAP_NOWHERE);
    heap_put(h, h->n, e);
    h->n++;
    heap_up(h, h->n - 1);
    heap_check(h, e);
}

void *rn_heap_pop(rn_heap_t *h)
{
    if (h->n == 0) return NULL;
    void *top = h->a[0];
    rn_heap_remove(h, top);
    return top;
}

void rn_heap_remove(rn_heap_t *h, void *e)
{
    size_t i = *heap_posp(h, e);
    if (i == RN_HEAP_NOWHERE) return;
    RN_ASSERT(i < h->n && h->a[i] == e);
    *heap_posp(h, e) = RN_HEAP_NOWHERE;
    h->n--;
    if (i == h->n) {
        heap_check(h, NULL);
        return;
    }
    /* The last entry fills the hole and moves up or down from there. */
    void *m = h->a[h->n];
    heap_put(h, i, m);
    heap_up(h, i);
    heap_down(h, *heap_posp(h, m));
    heap_check(h, m);
}

void rn_heap_fix(rn_heap_t *h, void *e)
{
    size_t i = *heap_posp(h, e);
    if (i == RN_HEAP_NOWHERE) return;
    RN_ASSERT(i < h->n && h->a[i] == e);
    heap_up(h, i);
    heap_down(h, *heap_posp(h, e));
    heap_check(h, e);
}

bool rn_heap_valid(const rn_heap_t *h)
{
    for (size_t i = 0; i < h->n; i++) {
        if (*heap_posp(h, h->a[i]) != i) return false;
        if (i > 0 && h->less(h->a[i], h->a[(i - 1) / 2])) return false;
    }
    return true;
}
