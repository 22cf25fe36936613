/*
 * clock.c - the processing-time clock; see clock.h.
 *
 * The pinned value is an ordinary static variable: set by `runnel test`
 * before its one pipeline runs, only read otherwise.
 */
#include "core/clock.h"

#include <time.h>

#include <stdbool.h>

static bool fixed;       /* pinned to fixed_ms, else the wall clock */
static int64_t fixed_ms;

int64_t rn_clock_wall_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rn_clock_now_ms(void) { return fixed ? fixed_ms : rn_clock_wall_ms(); }

void rn_clock_fix(int64_t ms)
{
    fixed = true;
    fixed_ms = ms;
}

void rn_clock_unfix(void)
{
    if (fixed) fixed = false;
}
