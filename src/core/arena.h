/*
 * arena.h - bump allocator for per-batch data (after librdkafka rd_tmpabuf
 * and SQLite lookaside).
 *
 * A batch's column arrays, decoded strings and expression temporaries are
 * carved from one arena that is reset, not freed, after the batch has
 * passed through the operator graph. Chunks are kept across resets, so in
 * the steady state processing a batch performs no heap allocation at all.
 */
#ifndef RN_ARENA_H
#define RN_ARENA_H

#include <stddef.h>

typedef struct rn_arena_chunk rn_arena_chunk_t;

typedef struct rn_arena {
    rn_arena_chunk_t *head;  /* chunk being carved */
    rn_arena_chunk_t *first; /* first chunk; reset rewinds to it */
    size_t chunk_size;       /* default size of a new chunk */
    size_t used;             /* bytes handed out since the last reset */
} rn_arena_t;

/* Initializes an empty arena; chunk_size 0 picks a default (1 MiB). */
void rn_arena_init(rn_arena_t *a, size_t chunk_size);
/* Returns size bytes aligned to 8, or NULL on out-of-memory. The memory
 * lives until the next rn_arena_reset/rn_arena_free. */
void *rn_arena_alloc(rn_arena_t *a, size_t size);
/* Like rn_arena_alloc, zero-filled. */
void *rn_arena_calloc(rn_arena_t *a, size_t n, size_t size);
/* Copies len bytes into the arena (NUL-terminated); NULL on OOM. */
char *rn_arena_strndup(rn_arena_t *a, const char *s, size_t len);
/* Forgets every allocation but keeps the chunks for reuse. */
void rn_arena_reset(rn_arena_t *a);
/* Releases every chunk. The arena may be re-initialized afterwards. */
void rn_arena_free(rn_arena_t *a);

#endif
