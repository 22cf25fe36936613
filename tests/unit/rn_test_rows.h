/*
 * rn_test_rows.h - values and schemas for the operator unit tests, so each
 * test file writes rows as I(1), S("x"), N and schemas as
 * schema_of(2, "k:BIGINT", "v:STRING").
 */
#ifndef RN_TEST_ROWS_H
#define RN_TEST_ROWS_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/value.h"

static inline rn_value_t I(int64_t v) { return rn_value_int(v); }
static inline rn_value_t D(double v) { return rn_value_double(v); }
static inline rn_value_t S(const char *s) { return rn_value_str(s, (uint32_t)strlen(s)); }
#define N RN_VALUE_NULL

/* A schema of ncols "name:TYPE" items, TYPE one of BIGINT INT DOUBLE STRING
 * BOOLEAN TIMESTAMP (or TS). An unknown type aborts the test binary. */
static inline rn_schema_t *schema_of(int ncols, ...)
{
    rn_schema_t *s = rn_schema_new(ncols);
    va_list ap;
    va_start(ap, ncols);
    for (int i = 0; i < ncols; i++) {
        const char *item = va_arg(ap, const char *);
        const char *colon = strchr(item, ':');
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(colon - item), item);
        const char *t = colon + 1;
        const rn_type_t *type = !strcmp(t, "BIGINT")                         ? &rn_type_bigint
                                : !strcmp(t, "INT")                          ? &rn_type_int
                                : !strcmp(t, "DOUBLE")                       ? &rn_type_double
                                : !strcmp(t, "STRING")                       ? &rn_type_string
                                : !strcmp(t, "BOOLEAN")                      ? &rn_type_boolean
                                : !strcmp(t, "TIMESTAMP") || !strcmp(t, "TS") ? &rn_type_timestamp
                                                                              : NULL;
        if (!type) {
            fprintf(stderr, "schema_of: unknown type in '%s'\n", item);
            abort();
        }
        rn_schema_set(s, i, name, type);
    }
    va_end(ap);
    return s;
}

#endif
