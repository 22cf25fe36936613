/*
 * runnel.h - the public face of the runnel stream-processing engine.
 *
 * runnel runs declarative pipelines written in a Flink-SQL dialect over
 * batches of rows. This header is deliberately narrow: the error codes
 * every layer returns and the version. Everything else lives in the
 * headers of its layer under src/ (docs/architecture.md); the pipeline
 * handle, for example, is src/plan/pipeline.h.
 */
#ifndef RUNNEL_H
#define RUNNEL_H

#include <stddef.h>

#define RN_VERSION_STRING "0.1.0"

/* One error enum for the whole engine. Functions that can fail return
 * rn_err_t; constructors additionally fill a caller-supplied errbuf with a
 * human-readable message naming what failed and where. */
typedef enum rn_err {
    RN_OK = 0,
    RN_ERR_NOMEM,     /* allocation failed (or was failed on purpose) */
    RN_ERR_IO,        /* file or socket error; errno-style detail in errbuf */
    RN_ERR_PARSE,     /* SQL text could not be parsed */
    RN_ERR_ANALYZE,   /* SQL parsed but is invalid: unknown column, type error */
    RN_ERR_UNSUPPORTED, /* valid SQL that runnel does not run (yet) */
    RN_ERR_DECODE,    /* an input record could not be decoded */
    RN_ERR_CONFIG,    /* bad connector option or command-line flag */
    RN_ERR_RETRY,     /* transient failure: the runtime should retry later */
    RN_ERR_FATAL,     /* permanent failure: stop the pipeline */
    RN_ERR_EOF,       /* end of input (not an error for bounded sources) */
    RN_ERR__COUNT
} rn_err_t;

/* Returns a static, human-readable name for err. Never NULL. */
const char *rn_err2str(rn_err_t err);

#endif /* RUNNEL_H */
