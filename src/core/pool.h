/*
 * pool.h - an allocator for objects that die roughly in the order they
 * were made: the rows an interval join holds until a watermark passes
 * them (after the region allocators of Apache's APR and the slabs of
 * memcached, cut down to that one pattern).
 *
 * Objects are carved bump-style from blocks of block_size bytes; each
 * block counts its live objects and goes back (or is kept as the one
 * spare) when its last object is freed. Against a malloc per object: a
 * free is a decrement, objects made together lie together (a pass that
 * expires the oldest walks memory in order), and no allocator metadata
 * sits between them. The price: a block lives as long as its longest-
 * lived object, so objects that outlive their neighbours by far do not
 * belong in a pool. An object larger than a quarter of a block gets a
 * block of its own.
 */
#ifndef RN_POOL_H
#define RN_POOL_H

#include <stddef.h>

typedef struct rn_pool_block rn_pool_block_t;

typedef struct rn_pool {
    rn_pool_block_t *cur;       /* the block being carved, or NULL */
    rn_pool_block_t *spare;     /* an empty block kept for reuse, or NULL */
    size_t block_size;          /* bytes an ordinary block offers */
    size_t bytes;               /* bytes of every block held (cur and spare included) */
} rn_pool_t;

/* An empty pool; block_size 0 picks the default (64 KiB). */
void rn_pool_init(rn_pool_t *p, size_t block_size);
/* size bytes, 8-aligned, or NULL on OOM. */
void *rn_pool_alloc(rn_pool_t *p, size_t size);
/* Frees an object of p (NULL: nothing). */
void rn_pool_free(rn_pool_t *p, void *ptr);
/* Releases the pool's blocks. Every object must have been freed. */
void rn_pool_destroy(rn_pool_t *p);

#endif
