/*
 * arena.c - bump allocator; see arena.h.
 *
 * Chunks form a singly-linked list. Reset rewinds to the first chunk and
 * keeps the rest for reuse; an allocation larger than the chunk size gets a
 * chunk of its own, inserted after the current one.
 */
#include "core/arena.h"
#include "core/mem.h"

#include <string.h>

struct rn_arena_chunk {
    rn_arena_chunk_t *next; /* next chunk in the list */
    size_t size;            /* usable bytes in data[] */
    size_t off;             /* bytes already handed out */
    _Alignas(16) unsigned char data[];
};

#define RN_ARENA_DEFAULT (1u << 20)

void rn_arena_init(rn_arena_t *a, size_t chunk_size)
{
    memset(a, 0, sizeof *a);
    a->chunk_size = chunk_size ? chunk_size : RN_ARENA_DEFAULT;
}

static rn_arena_chunk_t *arena_new_chunk(size_t size)
{
    rn_arena_chunk_t *c = rn_malloc(sizeof *c + size);
    if (!c) return NULL;
    c->next = NULL;
    c->size = size;
    c->off = 0;
    return c;
}

void *rn_arena_alloc(rn_arena_t *a, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    if (size == 0) size = 8;
    rn_arena_chunk_t *c = a->head;
    while (c && c->off + size > c->size) {
        /* Move on to a kept chunk if it is free, else grow the list. */
        if (c->next && c->next->off == 0 && c->next->size >= size) {
            c = c->next;
            break;
        }
        if (c->next && c->next->off == 0) {
            c = c->next;
            continue;
        }
        break;
    }
    if (!c || c->off + size > c->size) {
        size_t want = size > a->chunk_size ? size : a->chunk_size;
        rn_arena_chunk_t *n = arena_new_chunk(want);
        if (!n) return NULL;
        if (!a->first) {
            a->first = n;
        } else {
            rn_arena_chunk_t *tail = c ? c : a->head;
            n->next = tail->next;
            tail->next = n;
        }
        c = n;
    }
    a->head = c;
    void *p = c->data + c->off;
    c->off += size;
    a->used += size;
    return p;
}

void *rn_arena_calloc(rn_arena_t *a, size_t n, size_t size)
{
    if (size && n > ((size_t)-1) / size) return NULL;
    void *p = rn_arena_alloc(a, n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

char *rn_arena_strndup(rn_arena_t *a, const char *s, size_t len)
{
    char *p = rn_arena_alloc(a, len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void rn_arena_reset(rn_arena_t *a)
{
    for (rn_arena_chunk_t *c = a->first; c; c = c->next) c->off = 0;
    a->head = a->first;
    a->used = 0;
}

void rn_arena_free(rn_arena_t *a)
{
    rn_arena_chunk_t *c = a->first;
    while (c) {
        rn_arena_chunk_t *next = c->next;
        rn_free(c);
        c = next;
    }
    a->first = a->head = NULL;
    a->used = 0;
}
