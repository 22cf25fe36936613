/*
 * err.c - names for rn_err_t values.
 */
#include "runnel.h"

const char *rn_err2str(rn_err_t err)
{
    static const char *names[RN_ERR__COUNT] = {
        [RN_OK] = "ok",
        [RN_ERR_NOMEM] = "out of memory",
        [RN_ERR_IO] = "I/O error",
        [RN_ERR_PARSE] = "SQL syntax error",
        [RN_ERR_ANALYZE] = "invalid pipeline",
        [RN_ERR_UNSUPPORTED] = "unsupported feature",
        [RN_ERR_DECODE] = "undecodable record",
        [RN_ERR_CONFIG] = "configuration error",
        [RN_ERR_RETRY] = "transient failure",
        [RN_ERR_FATAL] = "fatal failure",
        [RN_ERR_EOF] = "end of input",
    };
    if ((unsigned)err >= RN_ERR__COUNT) return "unknown error";
    return names[err];
}
