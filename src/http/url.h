/*
 * url.h - the small parsers of the HTTP layer, apart from the server so
 * they can be fuzzed (fuzz/fuzz_http.c) and unit-tested: the --http
 * HOST:PORT argument, the token check, dashboard table names in paths,
 * and a scanner over the JSON text of a published table (to pick one
 * member, or the row of one key for `?key=`).
 *
 * Everything here works on untrusted bytes with explicit lengths, never
 * reads past them and allocates nothing but into the caller's buffers
 * (and the merge's row index).
 */
#ifndef RN_HTTP_URL_H
#define RN_HTTP_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* Splits "HOST:PORT" ("[::1]:8080" for IPv6; ":8080" means 127.0.0.1)
 * into host (NUL-terminated, at most hostsz - 1 bytes) and port (0-65535).
 * Returns false, with a reason in errbuf, when it is not of that form. */
bool rn_http_parse_listen(const char *s, char *host, size_t hostsz, int *port /* out */, char *errbuf,
                          size_t errbuf_size);

/* True when a request carries the token: authorization (the
 * Authorization header, may be NULL) is "Bearer <token>", or query_token
 * (the ?token= argument, may be NULL) equals it. Compares in time that
 * does not depend on where the bytes differ. expected must be non-empty. */
bool rn_http_token_ok(const char *authorization, const char *query_token, const char *expected);

/* Checks a table reference from /api/tables/REF: "NAME" or
 * "PIPELINE.NAME", each of letters, digits, '_', '-' (1 to 128 bytes).
 * Writes the parts (pipeline "" when absent). Returns false otherwise. */
bool rn_http_table_ref(const char *ref, char *pipeline, size_t pipesz, char *name, size_t namesz);

/* ---- JSON scanning ------------------------------------------------------ */

/* Length of the JSON value at s[0..len) (after leading whitespace, which
 * *start skips), or 0 if there is no well-formed value there. Nesting
 * deeper than 64 levels is refused (0). */
size_t rn_http_json_value(const char *s, size_t len, size_t *start /* out */);

/* Finds member name (compared after decoding the member's string
 * escapes) of the JSON object at obj[0..len); sets *off and *vlen to its
 * value's span. Returns false if obj is not an object or has no such
 * member. */
bool rn_http_json_member(const char *obj, size_t len, const char *name, size_t *off /* out */,
                         size_t *vlen /* out */);

/* Calls fn for each member of the JSON object obj[0..len), with its
 * decoded name (NUL-terminated, truncated to 255 bytes) and value span.
 * Returns false if obj is not a well-formed object (fn may have been
 * called for members before the fault). */
bool rn_http_json_members(const char *obj, size_t len,
                          void (*fn)(void *opaque, const char *name, const char *v, size_t vlen),
                          void *opaque);

/* Appends to out the table object table[0..len) (the /api/tables/NAME
 * shape of docs/dashboard.md) with only the rows whose key column holds
 * key: the table must have a one-column "key" naming one of its
 * "columns"; a row's cell matches when it is a string equal to key or a
 * number, boolean or null whose text is key. Returns 1 when written, 0
 * when the table has no one-column key (out unchanged), -1 when the
 * table text is malformed. */
int rn_http_table_filter_key(const char *table, size_t len, const char *key, rn_buf_t *out);

/* Merges the copies of one dashboard table that the workers of a process
 * hold (tables[i][0..lens[i]), i < n: /api/tables/NAME objects of one
 * table, docs/dashboard.md) into one such object, appended to out: name,
 * columns, key, chart, sort and max_rows of the first; "pipeline":
 * pipeline; "workers": n; updated_ms the newest (null when none);
 * total_rows the sum; rows: with a sort, every table's rows in its order
 * (the sort cell, NULLs last, numbers by value, strings by their bytes;
 * ties by the key cells, then by table and position), the first max_rows;
 * without one, the max_rows rows of the highest change numbers, in change
 * order, with their "changes". Returns 1 when written, -1 when a table is
 * malformed or lacks one of those members (out unchanged). Allocates a
 * row index (rn_malloc), freed before it returns. */
int rn_http_table_merge(const char *const *tables, const size_t *lens, int n, const char *pipeline,
                        rn_buf_t *out);

#endif
