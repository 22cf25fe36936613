/*
 * heap.h - an indexed binary min-heap of pointers.
 *
 * For timers and firing queues that must also drop or re-order an entry
 * that is not at the top: each element keeps its own position in the heap
 * in a size_t field at a fixed offset (given at init), so rn_heap_remove and
 * rn_heap_fix work in place in O(log n), with no lazy invalidation. One
 * element may sit in several heaps at once if it has one position field per
 * heap. The heap never owns its elements; it owns only its array.
 *
 * Order is a strict-weak "less" callback. Pops come out in that order;
 * among equal elements the order is unspecified, so callers that need a
 * deterministic order break ties in the callback (window.c uses a creation
 * sequence). In RN_ASSERTS builds every operation checks the heap order
 * around the entries it moved, and every RN_HEAP_CHECK_EVERY operations the
 * whole heap is checked (cheap on average, so sanitizer runs stay fast).
 */
#ifndef RN_HEAP_H
#define RN_HEAP_H

#include "runnel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The position an element holds while in no heap. Set it before the first
 * rn_heap_push; rn_heap_remove and rn_heap_pop set it again. */
#define RN_HEAP_NOWHERE SIZE_MAX

/* Full-order check period in RN_ASSERTS builds (operations). */
#define RN_HEAP_CHECK_EVERY 1024u

/* True iff x must come out before y. */
typedef bool (*rn_heap_less_fn)(const void *x, const void *y);

typedef struct rn_heap {
    void **a;                   /* the heap array: a[0] is the least */
    size_t n;                   /* entries */
    size_t cap;                 /* room in a */
    rn_heap_less_fn less;       /* the order */
    size_t pos_off;             /* offset in an element of its size_t position */
    unsigned ops;               /* operations since the last full check (RN_ASSERTS) */
} rn_heap_t;

/* Makes h an empty heap ordered by less, whose elements keep their position
 * in the size_t at byte offset pos_off. Allocates nothing. */
void rn_heap_init(rn_heap_t *h, rn_heap_less_fn less, size_t pos_off);

/* Frees the array (not the elements) and leaves h empty and reusable. */
void rn_heap_free(rn_heap_t *h);

/* Makes room for n more entries, so that the next n pushes cannot fail.
 * Returns RN_OK or RN_ERR_NOMEM (h unchanged). */
rn_err_t rn_heap_reserve(rn_heap_t *h, size_t n);

/* Inserts e, which must be in no position of this heap (RN_HEAP_NOWHERE);
 * room must have been reserved. */
void rn_heap_push(rn_heap_t *h, void *e);

/* Removes and returns the least element, or NULL if h is empty. */
void *rn_heap_pop(rn_heap_t *h);

/* Removes e if it is in h; does nothing if its position is RN_HEAP_NOWHERE. */
void rn_heap_remove(rn_heap_t *h, void *e);

/* Restores the order after e's key changed (either way); does nothing if e
 * is not in h. */
void rn_heap_fix(rn_heap_t *h, void *e);

/* True iff every parent is not greater than its children and every element
 * knows its position. O(n); for tests and the sampled debug check. */
bool rn_heap_valid(const rn_heap_t *h);

/* Entries held. */
static inline size_t rn_heap_len(const rn_heap_t *h)
{
    return h->n;
}

/* The least element, or NULL if h is empty. */
static inline void *rn_heap_top(const rn_heap_t *h)
{
    return h->n ? h->a[0] : NULL;
}

/* The element at array position i < rn_heap_len(h), in no particular
 * order: for scans over all entries. */
static inline void *rn_heap_at(const rn_heap_t *h, size_t i)
{
    return h->a[i];
}

/* The position of e in the heap whose position field is at pos_off, or
 * RN_HEAP_NOWHERE. */
static inline size_t rn_heap_pos(const rn_heap_t *h, const void *e)
{
    return *(const size_t *)((const char *)e + h->pos_off);
}

#endif
