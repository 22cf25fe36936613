/*
 * mem.h - the one allocation layer (after Redis zmalloc and Lua's
 * Memcontrol).
 *
 * Every heap allocation in runnel goes through rn_malloc & co so that we can
 * count live bytes (shown in metrics and benchmarks) and fail allocations on
 * demand in tests (rn_mem_fail_after). On failure these return NULL; callers
 * report RN_ERR_NOMEM. rn_free(NULL) is a no-op.
 */
#ifndef RN_MEM_H
#define RN_MEM_H

#include <stddef.h>
#include <stdint.h>

void *rn_malloc(size_t size);
void *rn_calloc(size_t n, size_t size);
void *rn_realloc(void *ptr, size_t size);
void rn_free(void *ptr);
/* Returns a heap copy of s (len bytes, NUL added); caller frees. */
char *rn_strndup(const char *s, size_t len);
char *rn_strdup(const char *s);

/* Bytes currently allocated through this layer (the process's peak is
 * rn_mem_rss_peak below). */
size_t rn_mem_used(void);

/* The process's resident memory as the kernel counts it (everything:
 * state, buffers, the Kafka client, the binary): now (/proc/self/statm)
 * and the peak so far (VmHWM of /proc/self/status: this address space's
 * high-water mark, not getrusage's ru_maxrss, which can hold the peak of
 * the process that exec'd this one). 0 if unknown. */
size_t rn_mem_rss(void);
size_t rn_mem_rss_peak(void);

/* Test hook: the next n allocations succeed, every later one fails, until
 * rn_mem_fail_after(-1) turns failure injection off. */
void rn_mem_fail_after(long n);

#endif
