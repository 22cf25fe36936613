/*
 * log.c - leveled logging to stderr; see log.h.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int log_level = -1;

static void log_init_level(void)
{
    const char *env = getenv("RUNNEL_LOG");
    log_level = RN_LOG_WARN;
    if (!env) return;
    if (!strcmp(env, "error")) log_level = RN_LOG_ERROR;
    else if (!strcmp(env, "info")) log_level = RN_LOG_INFO;
    else if (!strcmp(env, "debug")) log_level = RN_LOG_DEBUG;
}

void rn_log_set_level(rn_log_level_t level) { log_level = (int)level; }

rn_log_level_t rn_log_get_level(void)
{
    if (log_level < 0) log_init_level();
    return (rn_log_level_t)log_level;
}

void rn_log(rn_log_level_t level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if ((int)level > (int)rn_log_get_level()) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "runnel: %s: %s\n", names[level], line);
}

void rn_log_dead_letter(uint64_t nth, const char *at, const char *error, const char *dest)
{
    if (nth <= RN_LOG_DEAD_LETTERS_MAX)
        rn_log_error("%s: %s (record sent to %s)", at, error, dest);
    else if (nth == RN_LOG_DEAD_LETTERS_MAX + 1)
        rn_log_error("more undecodable records follow; see %s", dest);
}
