/*
 * diag.h - error messages that point at SQL text.
 *
 * Every error found in a pipeline file, by the parser or the analyzer, is
 * formatted the same way, like a compiler diagnostic:
 *
 *   examples/page_views.sql:12:8: error: unknown column 'pag_id'
 *      12 | SELECT pag_id, COUNT(*)
 *         |        ^~~~~~
 */
#ifndef RN_DIAG_H
#define RN_DIAG_H

#include <stddef.h>

#include "lang/ast.h"

/* Formats "file:line:col: error: <fmt...>" followed by the source line and
 * a caret line under pos into errbuf (always NUL-terminated, truncated to
 * errbuf_size). src/srclen is the whole SQL text. */
void rn_diag_format(char *errbuf, size_t errbuf_size, const char *filename, const char *src,
                    size_t srclen, rn_pos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

#endif
