/*
 * log.h - leveled logging to stderr.
 *
 * One line per message: "runnel: LEVEL: text". The level threshold comes
 * from RUNNEL_LOG (error|warn|info|debug) or rn_log_set_level().
 */
#ifndef RN_LOG_H
#define RN_LOG_H

#include <stdint.h>

typedef enum rn_log_level {
    RN_LOG_ERROR = 0,
    RN_LOG_WARN,
    RN_LOG_INFO,
    RN_LOG_DEBUG
} rn_log_level_t;

void rn_log_set_level(rn_log_level_t level);
rn_log_level_t rn_log_get_level(void);
void rn_log(rn_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Dead letters reported one by one before the log says "more follow". */
#define RN_LOG_DEAD_LETTERS_MAX 20

/* Reports the nth (1-based) undecodable record of one dead-letter output
 * as "at: error (record sent to dest)" (at: "file:line" or
 * "topic[partition]@offset"; dest: a file or "topic dlq"). After
 * RN_LOG_DEAD_LETTERS_MAX of them it says once that more follow in dest,
 * then stays quiet, so bad input cannot flood stderr. */
void rn_log_dead_letter(uint64_t nth, const char *at, const char *error, const char *dest);

#define rn_log_error(...) rn_log(RN_LOG_ERROR, __VA_ARGS__)
#define rn_log_warn(...) rn_log(RN_LOG_WARN, __VA_ARGS__)
#define rn_log_info(...) rn_log(RN_LOG_INFO, __VA_ARGS__)
#define rn_log_debug(...) rn_log(RN_LOG_DEBUG, __VA_ARGS__)

#endif
