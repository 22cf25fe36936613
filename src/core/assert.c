/*
 * assert.c - the failure path of RN_ASSERT; see assert.h.
 */
#include "core/assert.h"

#include <stdio.h>
#include <stdlib.h>

#if defined(RN_ASSERTS) && RN_ASSERTS
void rn_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}
#endif
