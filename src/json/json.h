/*
 * json.h - the narrow C interface to JSON.
 *
 * Decoding is done by json_simd.cpp, the project's single C++ file, on top
 * of simdjson's On-Demand API. A decoder is compiled once per source from
 * the list of fields the plan needs (projection pushdown): decoding a record
 * touches only those fields and skips everything else without building a
 * DOM. Strings without escapes are returned zero-copy, pointing into the
 * input buffer; strings with escapes are unescaped into the caller's arena.
 *
 * Encoding (json_write.c) appends rows and values to an rn_buf_t.
 *
 * Conversion rules, per requested field type (docs/formats.md):
 *   missing field or JSON null -> NULL
 *   INT/BIGINT   <- integer; float (truncated); string holding an integer
 *   DOUBLE       <- any number; string holding a number
 *   BOOLEAN      <- true/false; "true"/"false"
 *   STRING       <- string; any other JSON value as its JSON text
 *   TIMESTAMP(3)/TIMESTAMP_LTZ(3)
 *                <- ISO-8601 or 'yyyy-MM-dd HH:mm:ss[.fff]' string (UTC when
 *                   no zone); number of epoch seconds (int or float)
 * Anything else (bad JSON, not an object, a value that does not convert)
 * is a decode error; the caller sends the record to the dead-letter output.
 */
#ifndef RN_JSON_H
#define RN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/value.h"
#include "runnel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes that must be readable (any content) after the end of a document
 * passed to rn_json_decode (simdjson reads ahead). */
#define RN_JSON_PADDING 64

/* One field to extract: a path from the root object and a target type. */
typedef struct rn_json_field {
    int nparts;                 /* path length, >= 1 */
    const char *const *parts;   /* object keys from the root: {"user", "name"} */
    rn_type_id type;            /* target scalar type (not ROW) */
} rn_json_field_t;

typedef struct rn_json_decoder rn_json_decoder_t;

/* Compiles a decoder for nfields fields. Copies what it needs from fields.
 * Returns NULL on OOM (errbuf says so). Free with rn_json_decoder_free. */
rn_json_decoder_t *rn_json_decoder_new(const rn_json_field_t *fields, int nfields, char *errbuf,
                                       size_t errbuf_size);
void rn_json_decoder_free(rn_json_decoder_t *dec);

/* Decodes one JSON document doc[0..len) into row `row` of the columns
 * cols[0..nfields) (field i -> cols[i][row]). At least RN_JSON_PADDING
 * readable bytes must follow doc+len. Returns RN_OK, RN_ERR_DECODE with a
 * message in errbuf ("invalid JSON: ..." / "field 'user_id': expected INT,
 * got \"abc\""), or RN_ERR_NOMEM. On error the row's values are
 * unspecified. */
rn_err_t rn_json_decode(rn_json_decoder_t *dec, const char *doc, size_t len, rn_value_t **cols,
                        int row, rn_arena_t *arena, char *errbuf, size_t errbuf_size);

/* Appends s as a JSON string literal (quotes added, escaped as needed;
 * invalid UTF-8 bytes are replaced by U+FFFD). */
void rn_json_write_string(rn_buf_t *out, const char *s, size_t len);
/* True if s[0..len) is well-formed UTF-8 (so rn_json_write_string keeps
 * every byte). */
bool rn_json_utf8_valid(const char *s, size_t len);
/* Appends data as a JSON string holding its standard base64 (RFC 4648,
 * padded): bytes that are not UTF-8 survive a round trip. */
void rn_json_write_base64(rn_buf_t *out, const void *data, size_t len);
/* Appends one value of type t as JSON: NULL as null, BOOLEAN as true/false,
 * integers and timestamps (epoch ms) as integers, DOUBLE in the shortest
 * form that round-trips (NaN/Inf as null). */
void rn_json_write_value(rn_buf_t *out, rn_type_id t, const rn_value_t *v);
/* Appends {"col": value, ...} for row `row` of cols, using the n columns
 * listed in col_idx (all schema columns in order if col_idx is NULL). */
void rn_json_write_row(rn_buf_t *out, const rn_schema_t *schema, rn_value_t *const *cols, int row,
                       const int *col_idx, int n);

/* How TIMESTAMP and TIMESTAMP_LTZ values are written: epoch milliseconds
 * (runnel's default), or the strings of Flink's JSON format option
 * 'json.timestamp-format.standard' = 'SQL' ("2024-05-01 10:00:00.12",
 * LTZ with a trailing "Z") or 'ISO-8601' ("2024-05-01T10:00:00.12", LTZ
 * "...Z"): UTC, the fraction without trailing zeros and left out when 0,
 * as Java's formatters print them. */
typedef enum rn_json_ts_format {
    RN_JSON_TS_EPOCH_MS = 0,
    RN_JSON_TS_SQL,
    RN_JSON_TS_ISO8601,
} rn_json_ts_format;

/* The format named by an option value ("SQL", "ISO-8601"; NULL = epoch
 * ms). Returns false for any other name. */
bool rn_json_ts_format_parse(const char *name, rn_json_ts_format *out);
/* rn_json_write_value with timestamps written as fmt says. */
void rn_json_write_value_fmt(rn_buf_t *out, rn_type_id t, const rn_value_t *v, rn_json_ts_format fmt);
/* rn_json_write_row with timestamps written as fmt says. */
void rn_json_write_row_fmt(rn_buf_t *out, const rn_schema_t *schema, rn_value_t *const *cols, int row,
                           const int *col_idx, int n, rn_json_ts_format fmt);

#ifdef __cplusplus
}
#endif

#endif
