/*
 * pool.c - the FIFO-ish object pool; see pool.h.
 *
 * An object is an 8-byte back pointer to its block followed by the
 * caller's bytes. A block is retired (no longer carved) once it cannot
 * hold the next object; it is freed when its live count reaches zero,
 * except that one empty ordinary block is kept as the spare, so a steady
 * stream of objects made and expired reuses two blocks' worth of memory
 * at the head of the stream instead of asking malloc again.
 */
#include "core/pool.h"

#include <stdalign.h>
#include <stdint.h>

#include "core/assert.h"
#include "core/mem.h"

#define POOL_DEFAULT_BLOCK (64 * 1024)

struct rn_pool_block {
    size_t live;                /* objects not yet freed */
    size_t used;                /* bytes of data carved */
    size_t cap;                 /* bytes of data */
    alignas(8) unsigned char data[];
};

typedef struct pool_hdr {
    rn_pool_block_t *block;
} pool_hdr_t;

void rn_pool_init(rn_pool_t *p, size_t block_size)
{
    p->cur = p->spare = NULL;
    p->block_size = block_size ? block_size : POOL_DEFAULT_BLOCK;
    p->bytes = 0;
}

static rn_pool_block_t *pool_block_new(rn_pool_t *p, size_t cap)
{
    rn_pool_block_t *b = rn_malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->live = b->used = 0;
    b->cap = cap;
    p->bytes += sizeof *b + cap;
    return b;
}

static void pool_block_free(rn_pool_t *p, rn_pool_block_t *b)
{
    p->bytes -= sizeof *b + b->cap;
    rn_free(b);
}

void *rn_pool_alloc(rn_pool_t *p, size_t size)
{
    if (size > SIZE_MAX / 2) return NULL;
    size_t need = sizeof(pool_hdr_t) + ((size + 7) & ~(size_t)7);
    rn_pool_block_t *b;
    if (need > p->block_size / 4) { /* a block of its own, never carved again */
        b = pool_block_new(p, need);
        if (!b) return NULL;
        b->used = need;
    } else {
        if (!p->cur || p->cur->cap - p->cur->used < need) {
            b = p->spare ? p->spare : pool_block_new(p, p->block_size);
            if (!b) return NULL;
            p->spare = NULL;
            /* the old block dies with its last object (an empty one would
             * have had room: its last free rewound it) */
            RN_ASSERT(!p->cur || p->cur->live > 0);
            p->cur = b;
        }
        b = p->cur;
        b->used += need;
    }
    b->live++;
    pool_hdr_t *h = (pool_hdr_t *)(b->data + b->used - need);
    h->block = b;
    return h + 1;
}

void rn_pool_free(rn_pool_t *p, void *ptr)
{
    if (!ptr) return;
    rn_pool_block_t *b = ((pool_hdr_t *)ptr - 1)->block;
    RN_ASSERT(b->live > 0);
    if (--b->live) return;
    if (b == p->cur) { /* empty: carve it again from the start */
        b->used = 0;
        return;
    }
    if (!p->spare && b->cap == p->block_size) {
        b->used = 0;
        p->spare = b;
        return;
    }
    pool_block_free(p, b);
}

void rn_pool_destroy(rn_pool_t *p)
{
    RN_ASSERT(!p->cur || p->cur->live == 0);
    if (p->cur) pool_block_free(p, p->cur);
    if (p->spare) pool_block_free(p, p->spare);
    p->cur = p->spare = NULL;
    RN_ASSERT(p->bytes == 0);
}
