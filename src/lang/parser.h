/*
 * parser.h - recursive-descent parser for runnel's Flink-SQL dialect.
 *
 * The grammar is documented in EBNF in docs/sql.md; each parsing function
 * in parser.c is headed by the rule it implements.
 */
#ifndef RN_PARSER_H
#define RN_PARSER_H

#include <stddef.h>

#include "core/arena.h"
#include "lang/ast.h"
#include "runnel.h"

#define RN_PARSE_MAX_INPUT (16u << 20) /* longest script accepted, bytes */
#define RN_PARSE_MAX_DEPTH 200         /* deepest expression/query nesting */

/* Parses a whole script (statements separated by ';'). On success stores
 * the script, allocated in arena, in *out and returns RN_OK. On failure
 * returns RN_ERR_PARSE (or RN_ERR_NOMEM) and writes a diagnostic (see
 * diag.h) naming filename:line:col into errbuf. src need not be
 * NUL-terminated and must outlive the script. */
rn_err_t rn_parse_script(const char *src, size_t len, const char *filename, rn_arena_t *arena,
                         rn_ast_script_t **out, char *errbuf, size_t errbuf_size);

/* Parses a single expression (used by tests and option values). */
rn_err_t rn_parse_expr(const char *src, size_t len, rn_arena_t *arena, rn_ast_expr_t **out,
                       char *errbuf, size_t errbuf_size);

#endif
