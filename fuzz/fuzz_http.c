/*
 * fuzz_http.c - libFuzzer target for the HTTP layer's parsers of untrusted
 * text (src/http/url.h): the --http HOST:PORT argument, the token check,
 * table references from /api/tables/REF, and the JSON scanner that slices
 * published tables (a member, each member, the rows of one ?key=).
 *
 * The input is split at its first NUL: the part before is the string
 * argument (address, token, reference, key), the part after the JSON text.
 * Checked, else abort(): a parsed address has a host and a port in range;
 * a token never matches a different token; a reference's parts are valid
 * names; a value the scanner measures measures the same when scanned
 * again alone; a filtered table is itself one whole JSON value.
 *
 * Built by CMake with RUNNEL_FUZZ=ON (`make fuzz-smoke`); seeds in
 * tests/fuzz/fuzz_http/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "http/url.h"

static void member_cb(void *opaque, const char *name, const char *v, size_t vlen)
{
    size_t start;
    if (rn_http_json_value(v, vlen, &start) != vlen || start != 0) abort();
    (void)opaque;
    (void)name;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nul = memchr(data, 0, size);
    size_t alen = nul ? (size_t)(nul - (const char *)data) : size;
    char *arg = malloc(alen + 1);
    if (!arg) return 0;
    memcpy(arg, data, alen);
    arg[alen] = '\0';
    const char *json = nul ? nul + 1 : "";
    size_t jlen = nul ? size - alen - 1 : 0;
    /* the JSON in a buffer of its own size, so reads past it are caught */
    char *j = malloc(jlen ? jlen : 1);
    if (!j) {
        free(arg);
        return 0;
    }
    memcpy(j, json, jlen);

    char host[64], err[256];
    int port = -1;
    if (rn_http_parse_listen(arg, host, sizeof host, &port, err, sizeof err)) {
        if (!host[0] || port < 0 || port > 65535) abort();
    }

    if (arg[0]) {
        if (!rn_http_token_ok(NULL, arg, arg)) abort();
        char bearer[300];
        if (alen < 200) {
            memcpy(bearer, "Bearer ", 7);
            memcpy(bearer + 7, arg, alen + 1);
            bool ok = rn_http_token_ok(bearer, NULL, arg);
            bool ws = arg[0] == ' ' || arg[alen - 1] == ' ' || arg[alen - 1] == '\t';
            if (!ok && !ws) abort();
        }
        char other[300];
        if (alen < 200) {
            memcpy(other, arg, alen + 1);
            other[0] ^= 1;
            if (rn_http_token_ok(NULL, other, arg)) abort();
        }
    }

    char pipe[256], name[256];
    if (rn_http_table_ref(arg, pipe, sizeof pipe, name, sizeof name)) {
        if (!name[0] || strchr(name, '.') || strchr(pipe, '.')) abort();
    }

    size_t start;
    size_t vl = rn_http_json_value(j, jlen, &start);
    if (vl) {
        size_t again;
        if (rn_http_json_value(j + start, vl, &again) != vl || again != 0) abort();
    }
    rn_http_json_members(j, jlen, member_cb, NULL);
    size_t off, mlen;
    if (rn_http_json_member(j, jlen, arg, &off, &mlen)) {
        if (off + mlen > jlen) abort();
    }
    rn_buf_t out;
    rn_buf_init(&out);
    int r = rn_http_table_filter_key(j, jlen, arg, &out);
    if (r == 1 && !out.oom) {
        if (rn_http_json_value(out.data, out.len, &start) != out.len) abort();
    } else if (r != 1 && out.len) {
        abort();
    }
    rn_buf_clear(&out);
    /* the merge of two copies of the table (the input twice): well-formed or nothing */
    const char *objs[2] = {j, j};
    size_t lens[2] = {jlen, jlen};
    r = rn_http_table_merge(objs, lens, 2, "p", &out);
    if (r == 1 && !out.oom) {
        if (rn_http_json_value(out.data, out.len, &start) != out.len) abort();
    } else if (r != 1 && out.len) {
        abort();
    }
    rn_buf_free(&out);
    free(j);
    free(arg);
    return 0;
}
