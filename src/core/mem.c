/*
 * mem.c - counting allocator with fault injection; see mem.h.
 *
 * Each block carries a 16-byte header holding its size so that rn_free can
 * keep the live-byte count exact without malloc_usable_size.
 */
#include "core/mem.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define RN_MEM_HEADER 16

static _Atomic size_t mem_used;
static _Atomic long mem_fail_countdown = -1;

static int mem_should_fail(void)
{
    long n = atomic_load(&mem_fail_countdown);
    if (n < 0) return 0;
    if (n == 0) return 1;
    atomic_fetch_sub(&mem_fail_countdown, 1);
    return 0;
}

/* One atomic operation per call (each is a locked instruction: two per
 * allocation were a measurable part of a join that allocates per row);
 * relaxed, as the count orders nothing else. */
static void mem_account(size_t add, size_t sub)
{
    if (add >= sub) atomic_fetch_add_explicit(&mem_used, add - sub, memory_order_relaxed);
    else atomic_fetch_sub_explicit(&mem_used, sub - add, memory_order_relaxed);
}

void *rn_malloc(size_t size)
{
    if (mem_should_fail()) return NULL;
    unsigned char *p = malloc(size + RN_MEM_HEADER);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    mem_account(size, 0);
    return p + RN_MEM_HEADER;
}

void *rn_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = rn_malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *rn_realloc(void *ptr, size_t size)
{
    if (!ptr) return rn_malloc(size);
    if (mem_should_fail()) return NULL;
    unsigned char *base = (unsigned char *)ptr - RN_MEM_HEADER;
    size_t old;
    memcpy(&old, base, sizeof old);
    unsigned char *p = realloc(base, size + RN_MEM_HEADER);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    mem_account(size, old);
    return p + RN_MEM_HEADER;
}

void rn_free(void *ptr)
{
    if (!ptr) return;
    unsigned char *base = (unsigned char *)ptr - RN_MEM_HEADER;
    size_t old;
    memcpy(&old, base, sizeof old);
    atomic_fetch_sub_explicit(&mem_used, old, memory_order_relaxed);
    free(base);
}

char *rn_strndup(const char *s, size_t len)
{
    char *p = rn_malloc(len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *rn_strdup(const char *s) { return rn_strndup(s, strlen(s)); }

size_t rn_mem_used(void) { return atomic_load(&mem_used); }
void rn_mem_fail_after(long n) { atomic_store(&mem_fail_countdown, n); }

size_t rn_mem_rss(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    if (!fp) return 0;
    unsigned long long size, resident;
    int n = fscanf(fp, "%llu %llu", &size, &resident);
    fclose(fp);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? (size_t)resident * (size_t)page : 0;
}

/* The peak is the kernel's high-water mark of this address space
 * (VmHWM). getrusage's ru_maxrss is not: Linux carries it across execve,
 * so a process started by a large parent through vfork (Python's
 * subprocess, posix_spawn) reports that parent's peak as its own. */
size_t rn_mem_rss_peak(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    if (fp) {
        char line[256];
        unsigned long long kib = 0;
        bool found = false;
        while (!found && fgets(line, sizeof line, fp)) found = sscanf(line, "VmHWM: %llu kB", &kib) == 1;
        fclose(fp);
        if (found) return (size_t)kib * 1024;
    }
    struct rusage ru; /* no /proc: the best the system offers */
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024; /* Linux: KiB */
}
