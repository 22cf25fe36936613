/*
 * clock.h - the processing-time clock.
 *
 * Everything that asks "what time is it now" (PROCTIME(), NOW(),
 * CURRENT_TIMESTAMP, LOCALTIMESTAMP, UNIX_TIMESTAMP()) reads this clock
 * instead of calling clock_gettime itself, so `runnel test --now` can pin
 * it to one instant and make such queries reproducible. The pinned value
 * is one global for the process, set before a pipeline starts (`runnel
 * test` runs one pipeline; workers, which run several on threads, never
 * pin it).
 */
#ifndef RN_CLOCK_H
#define RN_CLOCK_H

#include <stdint.h>

/* The processing time in epoch milliseconds: the value given to
 * rn_clock_fix if one is in force, else the wall clock (CLOCK_REALTIME). */
int64_t rn_clock_now_ms(void);

/* The wall clock (CLOCK_REALTIME) in epoch milliseconds, pinned or not:
 * for timeouts and intervals of the runtime itself (commit cycle, idle
 * partitions), which follow real time even in a pinned run. */
int64_t rn_clock_wall_ms(void);

/* Pins the clock to ms epoch milliseconds (before 1970 too). */
void rn_clock_fix(int64_t ms);
/* Unpins it: rn_clock_now_ms reads the wall clock again. Writes nothing
 * when it is not pinned, so threads may call it at once. */
void rn_clock_unfix(void);

#endif
