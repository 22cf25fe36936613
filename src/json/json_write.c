/*
 * json_write.c - JSON encoding of values and rows; see json.h.
 *
 * Output is compact ({"a":1,"b":"x"}, no spaces) and always valid JSON and
 * valid UTF-8, whatever bytes a STRING holds: control characters are
 * escaped, valid multi-byte UTF-8 is copied as is, and each byte that does
 * not start a well-formed UTF-8 sequence becomes \ufffd. DOUBLE uses the
 * shortest %.15g/%.16g/%.17g spelling that reads back to the same bits
 * (computed by core/dtoa.h, not printf), with ".0" added to integral
 * values so that they stay floats for a reader (Python's repr does the
 * same); NaN and infinities, which JSON
 * cannot express, are written as null. Timestamps are epoch milliseconds.
 * Everything appends to an rn_buf_t, whose oom flag reports allocation
 * failure once for a whole line.
 */
#include "core/mem.h"
#include "json/json.h"
#include "json/plain.h"

#include "core/dtoa.h"
#include "core/timeparse.h"

#include <math.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence starting at s[0] (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF), or 0 if there is none. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

bool rn_json_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, len - i);
        if (!n) return false;
        i += n;
    }
    return true;
}

void rn_json_write_base64(rn_buf_t *out, const void *data, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    rn_buf_appendc(out, '"');
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < len) v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len) v |= p[i + 2];
        char q[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], i + 1 < len ? alphabet[(v >> 6) & 63] : '=',
                     i + 2 < len ? alphabet[v & 63] : '='};
        rn_buf_append(out, q, 4);
    }
    rn_buf_appendc(out, '"');
}

/* The number of leading bytes of p[0..len) that are written as they are
 * without a look at UTF-8: ASCII other than control bytes, '"' and '\\'.
 * Sixteen at a time with SSE2 (x86-64's baseline). */
static size_t plain_ascii_prefix(const unsigned char *p, size_t len)
{
    size_t i = 0;
#if defined(RN_JSON_PLAIN_SSE2)
    for (; i + 16 <= len; i += 16) {
        unsigned bits = rn_json_unplain16(p + i);
        if (bits) return i + (size_t)__builtin_ctz(bits);
    }
#endif
    while (i < len && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\') i++;
    return i;
}

void rn_json_write_string(rn_buf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* s[run..i) is pending plain output */
    rn_buf_appendc(out, '"');
    while (i < len) {
        i += plain_ascii_prefix(p + i, len - i);
        if (i >= len) break;
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t n = utf8_seq_len(p + i, len - i);
            if (n) {
                i += n;
                continue;
            }
        }
        if (i > run) rn_buf_append(out, s + run, i - run);
        switch (c) {
        case '"': rn_buf_append(out, "\\\"", 2); break;
        case '\\': rn_buf_append(out, "\\\\", 2); break;
        case '\n': rn_buf_append(out, "\\n", 2); break;
        case '\t': rn_buf_append(out, "\\t", 2); break;
        case '\r': rn_buf_append(out, "\\r", 2); break;
        case '\b': rn_buf_append(out, "\\b", 2); break;
        case '\f': rn_buf_append(out, "\\f", 2); break;
        default:
            if (c < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                rn_buf_append(out, u, 6);
            } else {
                rn_buf_append(out, "\\ufffd", 6); /* invalid UTF-8 byte */
            }
        }
        i++;
        run = i;
    }
    if (i > run) rn_buf_append(out, s + run, i - run);
    rn_buf_appendc(out, '"');
}

/* Appends a finite d as printf's "%.15g", "%.16g" or "%.17g" writes it,
 * the first of them that reads back to d (that is, its shortest digits,
 * in plain notation for exponents -4 to max(15, digits) - 1), with ".0"
 * added when it would otherwise read as an integer. */
static void write_double(rn_buf_t *out, double d)
{
    char digits[17], tmp[RN_DTOA_SPELL_MAX];
    int exp10;
    bool neg;
    if (d == 0) {
        rn_buf_append(out, signbit(d) ? "-0.0" : "0.0", signbit(d) ? 4 : 3);
        return;
    }
    int nd = rn_dtoa_shortest(d, digits, &exp10, &neg);
    bool plain = exp10 >= -4 && exp10 < (nd > 15 ? nd : 15); /* %.{max(15, nd)}g */
    rn_buf_append(out, tmp, (size_t)rn_dtoa_spell(tmp, digits, nd, exp10, neg, plain));
}

void rn_json_write_value(rn_buf_t *out, rn_type_id t, const rn_value_t *v)
{
    if (v->null) {
        rn_buf_append(out, "null", 4);
        return;
    }
    switch (t) {
    case RN_TYPE_BOOLEAN:
        if (v->i)
            rn_buf_append(out, "true", 4);
        else
            rn_buf_append(out, "false", 5);
        break;
    case RN_TYPE_INT:
    case RN_TYPE_BIGINT:
    case RN_TYPE_TIMESTAMP:
    case RN_TYPE_TIMESTAMP_LTZ: rn_buf_append_i64(out, v->i); break;
    case RN_TYPE_DOUBLE:
        if (isfinite(v->d))
            write_double(out, v->d);
        else
            rn_buf_append(out, "null", 4);
        break;
    case RN_TYPE_STRING: rn_json_write_string(out, v->s, v->len); break;
    default: rn_buf_append(out, "null", 4); break;
    }
}

bool rn_json_ts_format_parse(const char *name, rn_json_ts_format *out)
{
    if (!name) *out = RN_JSON_TS_EPOCH_MS;
    else if (!strcmp(name, "SQL")) *out = RN_JSON_TS_SQL;
    else if (!strcmp(name, "ISO-8601")) *out = RN_JSON_TS_ISO8601;
    else return false;
    return true;
}

/* "YYYY-MM-DD HH:MM:SS[.f]" (SQL) or with a 'T' (ISO-8601), "Z" after an
 * LTZ value: Flink's TimeFormats, whose fractions print no trailing zeros. */
static void write_timestamp_string(rn_buf_t *out, int64_t ms, bool ltz, rn_json_ts_format fmt)
{
    char tmp[48];
    int n = rn_time_format(ms, tmp, sizeof tmp);
    if (n < 4) {
        rn_buf_append(out, "null", 4);
        return;
    }
    while (tmp[n - 1] == '0') n--; /* "...SS.120" -> "...SS.12", "...SS.000" -> "...SS." */
    if (tmp[n - 1] == '.') n--;
    if (fmt == RN_JSON_TS_ISO8601) {
        char *sp = strchr(tmp, ' ');
        if (sp) *sp = 'T';
    }
    rn_buf_appendc(out, '"');
    rn_buf_append(out, tmp, (size_t)n);
    if (ltz) rn_buf_appendc(out, 'Z');
    rn_buf_appendc(out, '"');
}

void rn_json_write_value_fmt(rn_buf_t *out, rn_type_id t, const rn_value_t *v, rn_json_ts_format fmt)
{
    if (fmt != RN_JSON_TS_EPOCH_MS && !v->null && (t == RN_TYPE_TIMESTAMP || t == RN_TYPE_TIMESTAMP_LTZ))
        write_timestamp_string(out, v->i, t == RN_TYPE_TIMESTAMP_LTZ, fmt);
    else
        rn_json_write_value(out, t, v);
}

void rn_json_write_row_fmt(rn_buf_t *out, const rn_schema_t *schema, rn_value_t *const *cols, int row,
                           const int *col_idx, int n, rn_json_ts_format fmt)
{
    if (!col_idx) n = schema->ncols;
    rn_buf_appendc(out, '{');
    for (int k = 0; k < n; k++) {
        int c = col_idx ? col_idx[k] : k;
        const rn_column_t *col = &schema->cols[c];
        if (k) rn_buf_appendc(out, ',');
        rn_json_write_string(out, col->name, strlen(col->name));
        rn_buf_appendc(out, ':');
        rn_json_write_value_fmt(out, col->type->id, &cols[c][row], fmt);
    }
    rn_buf_appendc(out, '}');
}

void rn_json_write_row(rn_buf_t *out, const rn_schema_t *schema, rn_value_t *const *cols, int row,
                       const int *col_idx, int n)
{
    rn_json_write_row_fmt(out, schema, cols, row, col_idx, n, RN_JSON_TS_EPOCH_MS);
}

rn_err_t rn_json_row_fmt_init(rn_json_row_fmt_t *f, const rn_schema_t *schema, const int *col_idx, int n,
                              rn_json_ts_format ts)
{
    memset(f, 0, sizeof *f);
    if (!col_idx) n = schema->ncols;
    f->n = n;
    f->ts = ts;
    f->cols = rn_malloc(sizeof(int) * (size_t)(n ? n : 1));
    f->types = rn_malloc(sizeof(rn_type_id) * (size_t)(n ? n : 1));
    f->pre = rn_malloc(sizeof(uint32_t) * (size_t)(n + 1));
    rn_buf_init(&f->text);
    if (!f->cols || !f->types || !f->pre) goto oom;
    for (int k = 0; k < n; k++) {
        int c = col_idx ? col_idx[k] : k;
        const rn_column_t *col = &schema->cols[c];
        f->cols[k] = c;
        f->types[k] = col->type->id;
        f->pre[k] = (uint32_t)f->text.len;
        rn_buf_appendc(&f->text, k ? ',' : '{');
        rn_json_write_string(&f->text, col->name, strlen(col->name));
        rn_buf_appendc(&f->text, ':');
    }
    f->pre[n] = (uint32_t)f->text.len;
    if (f->text.oom) goto oom;
    return RN_OK;
oom:
    rn_json_row_fmt_free(f);
    return RN_ERR_NOMEM;
}

void rn_json_row_fmt_free(rn_json_row_fmt_t *f)
{
    rn_free(f->cols);
    rn_free(f->types);
    rn_free(f->pre);
    rn_buf_free(&f->text);
    memset(f, 0, sizeof *f);
}

void rn_json_row_fmt_write(const rn_json_row_fmt_t *f, rn_buf_t *out, rn_value_t *const *cols, int row)
{
    if (!f->n) {
        rn_buf_append(out, "{}", 2);
        return;
    }
    for (int k = 0; k < f->n; k++) {
        rn_buf_append(out, f->text.data + f->pre[k], f->pre[k + 1] - f->pre[k]);
        rn_json_write_value_fmt(out, f->types[k], &cols[f->cols[k]][row], f->ts);
    }
    rn_buf_appendc(out, '}');
}
