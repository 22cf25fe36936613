/*
 * embedded.h - files compiled into the binary at build time
 * (scripts/embed-files.cmake): the example pipelines `runnel demo` runs,
 * so it works from any directory with `runnel` installed alone.
 */
#ifndef RN_CLI_EMBEDDED_H
#define RN_CLI_EMBEDDED_H

#include <stddef.h>

typedef struct rn_embedded_file {
    const char *name;           /* file name, without directory ("s1_logins.sql") */
    const char *data;           /* its bytes, NUL-terminated */
    size_t len;                 /* bytes, without the NUL */
} rn_embedded_file_t;

/* examples/s*.sql, ended by a {NULL} row. */
extern const rn_embedded_file_t rn_examples[];

/* The embedded example called name, or NULL. */
const rn_embedded_file_t *rn_example_find(const char *name);

#endif
