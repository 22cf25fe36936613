/*
 * fuzz_sql.c - libFuzzer target for the SQL front end (lexer, parser,
 * diagnostics).
 *
 * Each input is parsed twice, as a whole script and as a single
 * expression, each time into a fresh arena that is freed afterwards, so
 * leaks and use-after-free show up under ASan. A successful parse must
 * produce a script whose statement count is sane; a failed one must leave
 * a NUL-terminated message that names the file. Seed corpus:
 * tests/fuzz/fuzz_sql/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "lang/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errbuf[512];
    rn_arena_t arena;
    rn_ast_script_t *script = NULL;

    rn_arena_init(&arena, 4096);
    rn_err_t err = rn_parse_script((const char *)data, size, "fuzz.sql", &arena, &script, errbuf,
                                   sizeof errbuf);
    if (err == RN_OK) {
        if (!script || script->nstmts < 0 || (script->nstmts && !script->stmts)) __builtin_trap();
    } else {
        if (script || memchr(errbuf, '\0', sizeof errbuf) == NULL ||
            strncmp(errbuf, "fuzz.sql:", 9) != 0)
            __builtin_trap();
    }
    rn_arena_free(&arena);

    rn_ast_expr_t *expr = NULL;
    rn_arena_init(&arena, 4096);
    err = rn_parse_expr((const char *)data, size, &arena, &expr, errbuf, sizeof errbuf);
    if ((err == RN_OK) != (expr != NULL)) __builtin_trap();
    rn_arena_free(&arena);
    return 0;
}
