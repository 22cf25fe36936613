/*
 * json_simd.cpp - the JSON record decoder: simdjson On-Demand with
 * projection pushdown. The project's only C++ file; see json.h for the C
 * interface and the conversion rules.
 *
 * A decoder is compiled from the fields the plan needs into a small trie of
 * object keys (node 0 is the root object; {"user","name"} is root ->
 * "user" -> "name"). Decoding a record makes ONE pass over the root
 * object's fields in document order: each raw key is compared against the
 * children of the current trie node, values of unknown keys are skipped by
 * simdjson without being parsed, a key with children descends into the
 * nested object, and a key that ends a path converts its value into the
 * field's column. Nothing is materialized: no DOM, no std::string.
 *
 * Plain records skip simdjson altogether: a strict one-pass scanner
 * ("the plain-record scanner" below) decodes them, and gives up on
 * anything else, which then takes the simdjson path described here.
 *
 * Speed: records of one stream nearly always share a key order, so each
 * trie node remembers which child matched after which (hint_first,
 * hint_next) and tries that child first; a name is compared as one or two
 * masked 8-byte words (name plus closing quote), never with strcmp. A
 * value is converted on a fast path (number -> integer/double/timestamp,
 * unescaped string -> STRING) before the general conversion code.
 *
 * Keys are compared raw (bytes between the quotes) against the requested
 * names; only a key that contains a backslash is unescaped (into a small
 * scratch buffer owned by the decoder) and compared again, so "\u0075ser"
 * still matches "user". Duplicate keys: the last occurrence wins, also for
 * nested objects (re-entering "user" first resets every field below it).
 *
 * Strings are zero-copy: a string without backslashes is returned as a
 * pointer into the caller's document. A string with escapes is unescaped
 * into the caller's arena (\uXXXX with surrogate pairs; a lone surrogate
 * becomes U+FFFD). STRING fields of non-string values get the trimmed JSON
 * text of the value, again pointing into the document.
 *
 * Memory: one simdjson parser per decoder, reused for every record; its
 * buffers grow only when a record is larger than any before. The steady
 * state allocates nothing but arena bytes for escaped strings. simdjson is
 * used through its error-code API; decode entry points still catch every
 * exception (std::bad_alloc from the parser's own buffers) so that none
 * escapes into C.
 *
 * Validation: simdjson checks the whole document's structure and UTF-8;
 * the values of fields that are read are checked strictly. Values of
 * skipped fields are only scanned, so a malformed scalar inside an
 * unrequested field (e.g. "x": tru) may go unnoticed.
 */
#include <simdjson.h>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
extern "C" {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "core/arena.h"
#include "core/mem.h"
#include "core/timeparse.h"
#include "json/json.h"
#include "json/plain.h"
#pragma GCC diagnostic pop
}

static_assert(RN_JSON_PADDING >= simdjson::SIMDJSON_PADDING, "RN_JSON_PADDING too small");

namespace od = simdjson::ondemand;

namespace {

/* A key as the plain-record scanner compares it: '"name":' with its quotes
 * and colon, as three masked words (zero-filled). */
struct ftok {
    uint64_t w[3];    /* the token's bytes */
    uint64_t mask[3]; /* which bytes of w are significant */
    uint32_t len;     /* bytes in the token; 0: none */
};

/* One node of the key trie. */
struct jnode {
    char *name;       /* unescaped key (owned); NULL for the root */
    uint32_t len;     /* bytes in name */
    bool plain;       /* name has no '"', '\\' or control byte: raw compare is exact */
    uint64_t pre;     /* first 8 bytes of name + '"' (zero-filled) for the raw compare */
    uint64_t mask;    /* which bytes of pre are significant */
    uint64_t pre2;    /* the same for name bytes 8..15 (names of 8..15 bytes) */
    uint64_t mask2;   /* which bytes of pre2 are significant */
    int first_child;  /* index of the first child node, -1 if none */
    int next_sibling; /* index of the next child of the same parent, -1 if none */
    int leaf_first;   /* fields ending here: dec->leaf_idx[leaf_first..+nleaf) */
    int nleaf;        /* number of fields ending at this node */
    int desc_first;   /* fields strictly below: dec->desc_idx[desc_first..+ndesc) */
    int ndesc;        /* number of fields strictly below this node */
    int leaf0;        /* the first field ending here (valid when nleaf > 0) */
    rn_type_id type0; /* its type, kept here for the fast path */
    int hint_first;   /* child that matched first last time (learned), -1 */
    int hint_next;    /* sibling that matched after this one last time, -1 */
    ftok tok;         /* the scanner's token of this key (len 0: not printable ASCII, or too long) */
    ftok skip_first;  /* as a parent: the unrequested key its objects start with (learned) */
    ftok skip_next;   /* the unrequested key that follows this one (learned) */
};

/* State of one rn_json_decode call. */
struct jctx {
    rn_json_decoder_t *dec; /* the decoder */
    od::document *doc;      /* the document being decoded (for error offsets) */
    const char *buf;        /* the document's bytes */
    size_t len;             /* the document's length */
    rn_value_t **cols;      /* output columns */
    int row;                /* output row */
    rn_arena_t *arena;      /* for unescaped strings */
    char *errbuf;           /* error message out */
    size_t errbuf_size;     /* bytes in errbuf */
};

} // namespace

struct rn_json_decoder {
    od::parser parser;    /* reused for every document */
    int nfields;          /* requested fields */
    rn_type_id *types;    /* nfields target types */
    char **names;         /* nfields display names, "user.name" (owned) */
    jnode *nodes;         /* the trie; nodes[0] is the root object */
    int nnodes;           /* nodes in use */
    int *leaf_idx;        /* field indices grouped by the node they end at */
    int *desc_idx;        /* field indices grouped by each ancestor node */
    char *scratch;        /* unescaped-key buffer */
    size_t scratch_cap;   /* bytes in scratch: longest name + 8 */
    bool fast;            /* try the plain-record scanner first (rn_json_decoder_set_fast) */
    uint64_t slow;        /* documents decoded by simdjson (rn_json_decoder_slow_count) */
};

/* ---- small helpers ---------------------------------------------------- */

static void set_err(jctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(jctx *c, const char *fmt, ...)
{
    if (!c->errbuf || !c->errbuf_size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errbuf, c->errbuf_size, fmt, ap);
    va_end(ap);
}

/* Reports a simdjson error as "invalid JSON: ..."; returns RN_ERR_DECODE
 * (RN_ERR_NOMEM for MEMALLOC). */
/* Where non-blank content starts after the object that opens buf closes
 * (strings and escapes respected), or SIZE_MAX if the object does not close
 * before the end or nothing follows it. Only used to explain an error:
 * simdjson calls "{...} x" a document that "ended early". */
static size_t trailing_after_object(const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r')) i++;
    if (i == len || buf[i] != '{') return SIZE_MAX;
    int depth = 0;
    bool in_string = false;
    for (; i < len; i++) {
        char ch = buf[i];
        if (in_string) {
            if (ch == '\\') i++;
            else if (ch == '"') in_string = false;
            continue;
        }
        if (ch == '"') in_string = true;
        else if (ch == '{' || ch == '[') depth++;
        else if ((ch == '}' || ch == ']') && --depth == 0) break;
    }
    if (i >= len) return SIZE_MAX;
    for (i++; i < len; i++)
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') return i;
    return SIZE_MAX;
}

static rn_err_t json_error(jctx *c, simdjson::error_code err)
{
    if (err == simdjson::MEMALLOC) {
        set_err(c, "out of memory");
        return RN_ERR_NOMEM;
    }
    if (err == simdjson::INCOMPLETE_ARRAY_OR_OBJECT || err == simdjson::TAPE_ERROR) {
        size_t at = trailing_after_object(c->buf, c->len);
        if (at != SIZE_MAX) {
            set_err(c, "invalid JSON: trailing content after the document (at byte %zu)", at);
            return RN_ERR_DECODE;
        }
    }
    const char *loc = nullptr;
    if (c->doc && c->doc->current_location().get(loc) == simdjson::SUCCESS && loc >= c->buf &&
        loc <= c->buf + c->len)
        set_err(c, "invalid JSON: %s (at byte %zu)", simdjson::error_message(err),
                (size_t)(loc - c->buf));
    else
        set_err(c, "invalid JSON: %s", simdjson::error_message(err));
    return RN_ERR_DECODE;
}

static std::string_view trim_ws(std::string_view s)
{
    size_t n = s.size();
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    return s.substr(0, n);
}

static const char *json_type_name(od::json_type t)
{
    switch (t) {
    case od::json_type::array: return "array";
    case od::json_type::object: return "object";
    case od::json_type::number: return "number";
    case od::json_type::string: return "string";
    case od::json_type::boolean: return "boolean";
    case od::json_type::null: return "null";
    }
    return "value";
}

/* Reports that field f's value (JSON type t, text tok) does not convert;
 * why is appended in parentheses when not NULL. Returns RN_ERR_DECODE. */
static rn_err_t conv_error(jctx *c, int f, od::json_type t, std::string_view tok, const char *why)
{
    const char *tn = rn_type_name(c->dec->types[f]);
    const char *fname = c->dec->names[f];
    const char *suffix = why ? " (" : "";
    const char *why_s = why ? why : "";
    const char *close = why ? ")" : "";
    if (t == od::json_type::object || t == od::json_type::array) {
        set_err(c, "field '%s': expected %s, found %s%s%s%s", fname, tn, json_type_name(t), suffix,
                why_s, close);
    } else {
        tok = trim_ws(tok);
        bool cut = tok.size() > 48;
        set_err(c, "field '%s': expected %s, found %s %.*s%s%s%s%s", fname, tn, json_type_name(t),
                (int)(cut ? 48 : tok.size()), tok.data(), cut ? "..." : "", suffix, why_s, close);
    }
    return RN_ERR_DECODE;
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int hex4(const char *p, const char *end)
{
    if (end - p < 4) return -1;
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval((unsigned char)p[k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unescapes the JSON string body s[0..n) into out (room for cap bytes).
 * The output is never longer than the input. Returns the output length,
 * -1 on a malformed escape, -2 if cap is exceeded. */
static long unescape(const char *s, size_t n, char *out, size_t cap)
{
    const char *p = s, *end = s + n;
    size_t o = 0;
    while (p < end) {
        if (*p != '\\') {
            const char *bs = (const char *)memchr(p, '\\', (size_t)(end - p));
            size_t run = (size_t)((bs ? bs : end) - p);
            if (o + run > cap) return -2;
            memcpy(out + o, p, run);
            o += run;
            p += run;
            continue;
        }
        if (end - p < 2) return -1;
        char e = p[1];
        p += 2;
        char ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            int u = hex4(p, end);
            if (u < 0) return -1;
            p += 4;
            uint32_t cp = (uint32_t)u;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                int lo = (end - p >= 6 && p[0] == '\\' && p[1] == 'u') ? hex4(p + 2, end) : -1;
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                    p += 6;
                } else {
                    cp = 0xFFFD; /* lone high surrogate */
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* lone low surrogate */
            }
            if (o + 4 > cap) return -2;
            o += put_utf8(out + o, cp);
            continue;
        }
        default: return -1;
        }
        if (o + 1 > cap) return -2;
        out[o++] = ch;
    }
    return (long)o;
}

/* Returns true if s[0..n) is a JSON number. */
static bool is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    auto digit = [&](size_t k) { return k < n && s[k] >= '0' && s[k] <= '9'; };
    if (i < n && s[i] == '-') i++;
    if (!digit(i)) return false;
    if (s[i] == '0')
        i++;
    else
        while (digit(i)) i++;
    if (i < n && s[i] == '.') {
        i++;
        if (!digit(i)) return false;
        while (digit(i)) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (!digit(i)) return false;
        while (digit(i)) i++;
    }
    return i == n;
}

enum numtext { NUM_BAD, NUM_INT, NUM_FLOAT, NUM_RANGE };

/* Parses text that must be a JSON number: an integer that fits int64 gives
 * NUM_INT (*iv), any other finite number NUM_FLOAT (*dv); NUM_RANGE for a
 * number too large, NUM_BAD for anything that is not a number. */
static numtext parse_numtext(const char *s, size_t n, int64_t *iv, double *dv)
{
    if (!is_json_number(s, n)) return NUM_BAD;
    if (!memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n)) {
        bool neg = s[0] == '-';
        uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (size_t i = neg; i < n; i++) {
            unsigned dgt = (unsigned)(s[i] - '0');
            if (v > (lim - dgt) / 10) return NUM_RANGE;
            v = v * 10 + dgt;
        }
        *iv = neg ? (int64_t)(0 - v) : (int64_t)v;
        return NUM_INT;
    }
    char tmp[128];
    if (n >= sizeof tmp) return NUM_RANGE;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    double d = strtod(tmp, nullptr);
    if (!std::isfinite(d)) return NUM_RANGE;
    *dv = d;
    return NUM_FLOAT;
}

/* ---- value access ------------------------------------------------------ */

/* Gets the contents of string value v: zero-copy when it has no escapes,
 * else unescaped into the arena. Returns RN_OK, RN_ERR_DECODE or
 * RN_ERR_NOMEM (message in errbuf). */
static rn_err_t get_str(jctx *c, od::value &v, const char **s, uint32_t *len)
{
    std::string_view tok = trim_ws(v.raw_json_token());
    if (tok.size() < 2 || tok.front() != '"' || tok.back() != '"')
        return json_error(c, simdjson::STRING_ERROR);
    const char *body = tok.data() + 1;
    size_t n = tok.size() - 2;
    if (n > UINT32_MAX) return json_error(c, simdjson::CAPACITY);
    if (!memchr(body, '\\', n)) {
        *s = body;
        *len = (uint32_t)n;
        return RN_OK;
    }
    char *out = (char *)rn_arena_alloc(c->arena, n);
    if (!out) {
        set_err(c, "out of memory");
        return RN_ERR_NOMEM;
    }
    long m = unescape(body, n, out, n);
    if (m < 0) {
        set_err(c, "invalid JSON: invalid escape in string (at byte %zu)",
                (size_t)(body - c->buf));
        return RN_ERR_DECODE;
    }
    *s = out;
    *len = (uint32_t)m;
    return RN_OK;
}

/* The trimmed JSON text of a scalar value v, validated: a number must be
 * a JSON number, true/false/null must be spelled right. */
static rn_err_t scalar_text(jctx *c, od::value &v, od::json_type t, std::string_view *text)
{
    std::string_view tok = trim_ws(v.raw_json_token());
    if (t == od::json_type::number) {
        if (!is_json_number(tok.data(), tok.size())) return json_error(c, simdjson::NUMBER_ERROR);
    } else if (t == od::json_type::boolean) {
        bool b;
        simdjson::error_code e = v.get_bool().get(b);
        if (e) return json_error(c, e);
    }
    *text = tok;
    return RN_OK;
}

/* Converts a value to an integer for field f: INT is range-checked to 32
 * bits, BIGINT to 64; floats truncate toward zero. */
static rn_err_t to_integer(jctx *c, int f, od::value &v, od::json_type t, int64_t *out)
{
    bool is32 = c->dec->types[f] == RN_TYPE_INT;
    int64_t iv = 0;
    double dv = 0;
    numtext kind;
    std::string_view tok;
    if (t == od::json_type::number) {
        if (v.get_int64().get(iv) == simdjson::SUCCESS) {
            kind = NUM_INT;
        } else {
            tok = trim_ws(v.raw_json_token());
            od::number_type nt;
            if (v.get_number_type().get(nt) || !is_json_number(tok.data(), tok.size()))
                return json_error(c, simdjson::NUMBER_ERROR);
            if (nt == od::number_type::floating_point_number && v.get_double().get(dv) == 0)
                kind = NUM_FLOAT;
            else
                kind = NUM_RANGE;
        }
    } else if (t == od::json_type::string) {
        const char *s;
        uint32_t n;
        rn_err_t rc = get_str(c, v, &s, &n);
        if (rc) return rc;
        kind = parse_numtext(s, n, &iv, &dv);
        if (kind == NUM_BAD) return conv_error(c, f, t, v.raw_json_token(), nullptr);
    } else {
        return conv_error(c, f, t, v.raw_json_token(), nullptr);
    }
    if (kind == NUM_FLOAT) {
        double lo = is32 ? -2147483649.0 : -9223372036854775808.0;
        double hi = is32 ? 2147483648.0 : 9223372036854775808.0;
        if (!(dv > lo && dv < hi) && !(dv == lo && !is32)) {
            kind = NUM_RANGE;
        } else {
            iv = (int64_t)dv;
            kind = NUM_INT;
        }
    }
    if (kind == NUM_INT && is32 && (iv < INT32_MIN || iv > INT32_MAX)) kind = NUM_RANGE;
    if (kind == NUM_RANGE) return conv_error(c, f, t, v.raw_json_token(), "out of range");
    *out = iv;
    return RN_OK;
}

/* Converts a value to epoch milliseconds for a TIMESTAMP field: strings via
 * rn_time_parse (or holding epoch seconds), numbers as epoch seconds. */
static rn_err_t to_timestamp(jctx *c, int f, od::value &v, od::json_type t, int64_t *out)
{
    int64_t iv = 0;
    double dv = 0;
    numtext kind;
    if (t == od::json_type::string) {
        const char *s;
        uint32_t n;
        rn_err_t rc = get_str(c, v, &s, &n);
        if (rc) return rc;
        if (rn_time_parse(s, n, out)) return RN_OK;
        kind = parse_numtext(s, n, &iv, &dv);
        if (kind == NUM_BAD) return conv_error(c, f, t, v.raw_json_token(), nullptr);
    } else if (t == od::json_type::number) {
        /* One parse as a double; integers beyond 2^53 are re-read exactly. */
        if (v.get_double().get(dv) == simdjson::SUCCESS) {
            kind = NUM_FLOAT;
            if (std::fabs(dv) >= 9007199254740992.0 && v.get_int64().get(iv) == simdjson::SUCCESS)
                kind = NUM_INT;
        } else {
            std::string_view tok = trim_ws(v.raw_json_token());
            if (!is_json_number(tok.data(), tok.size())) return json_error(c, simdjson::NUMBER_ERROR);
            kind = NUM_RANGE;
        }
    } else {
        return conv_error(c, f, t, v.raw_json_token(), nullptr);
    }
    /* Epoch seconds whose milliseconds fit comfortably in int64. */
    const double lim = 9.2e15;
    if (kind == NUM_INT) {
        if (iv > (int64_t)lim || iv < -(int64_t)lim) kind = NUM_RANGE;
        else {
            *out = iv * 1000;
            return RN_OK;
        }
    }
    if (kind == NUM_FLOAT && dv < lim && dv > -lim) {
        *out = rn_time_from_epoch_seconds(dv);
        return RN_OK;
    }
    return conv_error(c, f, t, v.raw_json_token(), "out of range");
}

/* Converts value v (JSON type t; ctext is the trimmed text of an object or
 * array value) into field f's column. */
static rn_err_t convert(jctx *c, int f, od::value &v, od::json_type t, std::string_view ctext)
{
    rn_value_t *dst = &c->cols[f][c->row];
    rn_type_id ty = c->dec->types[f];
    rn_err_t rc = RN_OK;
    switch (ty) {
    case RN_TYPE_INT:
    case RN_TYPE_BIGINT: {
        int64_t iv = 0;
        if ((rc = to_integer(c, f, v, t, &iv))) return rc;
        *dst = rn_value_int(iv);
        return RN_OK;
    }
    case RN_TYPE_TIMESTAMP:
    case RN_TYPE_TIMESTAMP_LTZ: {
        int64_t ms = 0;
        if ((rc = to_timestamp(c, f, v, t, &ms))) return rc;
        *dst = rn_value_int(ms);
        return RN_OK;
    }
    case RN_TYPE_DOUBLE: {
        double d;
        if (t == od::json_type::number) {
            simdjson::error_code e = v.get_double().get(d);
            if (e) {
                std::string_view tok = trim_ws(v.raw_json_token());
                if (!is_json_number(tok.data(), tok.size())) return json_error(c, e);
                return conv_error(c, f, t, tok, "out of range");
            }
        } else if (t == od::json_type::string) {
            const char *s;
            uint32_t n;
            int64_t iv;
            if ((rc = get_str(c, v, &s, &n))) return rc;
            numtext k = parse_numtext(s, n, &iv, &d);
            if (k == NUM_INT) d = (double)iv;
            else if (k == NUM_RANGE) return conv_error(c, f, t, v.raw_json_token(), "out of range");
            else if (k == NUM_BAD) return conv_error(c, f, t, v.raw_json_token(), nullptr);
        } else {
            return conv_error(c, f, t, v.raw_json_token(), nullptr);
        }
        *dst = rn_value_double(d);
        return RN_OK;
    }
    case RN_TYPE_BOOLEAN: {
        bool b;
        if (t == od::json_type::boolean) {
            simdjson::error_code e = v.get_bool().get(b);
            if (e) return json_error(c, e);
        } else if (t == od::json_type::string) {
            const char *s;
            uint32_t n;
            if ((rc = get_str(c, v, &s, &n))) return rc;
            if (n == 4 && !memcmp(s, "true", 4)) b = true;
            else if (n == 5 && !memcmp(s, "false", 5)) b = false;
            else return conv_error(c, f, t, v.raw_json_token(), nullptr);
        } else {
            return conv_error(c, f, t, v.raw_json_token(), nullptr);
        }
        *dst = rn_value_bool(b);
        return RN_OK;
    }
    case RN_TYPE_STRING: {
        const char *s;
        uint32_t n;
        if (t == od::json_type::string) {
            if ((rc = get_str(c, v, &s, &n))) return rc;
        } else if (t == od::json_type::object || t == od::json_type::array) {
            s = ctext.data();
            n = (uint32_t)ctext.size();
        } else {
            std::string_view text;
            if ((rc = scalar_text(c, v, t, &text))) return rc;
            s = text.data();
            n = (uint32_t)text.size();
        }
        *dst = rn_value_str(s, n);
        return RN_OK;
    }
    default: return RN_OK; /* RN_TYPE_NULL: always NULL */
    }
}

/* ---- the walk ------------------------------------------------------------ */

/* Returns true if node n's (plain) name equals the raw key; head holds
 * the key's first 8 bytes, avail the bytes left in the document. */
static inline bool raw_equal(const jnode &n, const char *raw, uint64_t head, size_t avail)
{
    if ((head & n.mask) != n.pre) return false;
    if (n.len < 8) return true; /* pre holds the whole name and its closing quote */
    if (n.len >= avail) return false;
    if (n.len < 16) {
        uint64_t h2;
        memcpy(&h2, raw + 8, 8);
        return (h2 & n.mask2) == n.pre2;
    }
    return raw[n.len] == '"' && memcmp(raw + 8, n.name + 8, n.len - 8) == 0;
}

/* Returns the child of node p whose name equals the raw key (the bytes
 * after its opening quote), or -1. */
static int match_key(jctx *c, int p, const char *raw)
{
    rn_json_decoder_t *dec = c->dec;
    size_t avail = (size_t)(c->buf + c->len - raw); /* the key ends before the document does */
    uint64_t head; /* the padding makes these 8 bytes readable */
    memcpy(&head, raw, 8);
    for (int k = dec->nodes[p].first_child; k >= 0; k = dec->nodes[k].next_sibling)
        if (raw_equal(dec->nodes[k], raw, head, avail)) return k;
    /* Slow path, only for keys with escapes. */
    const char *q = raw, *end = c->buf + c->len;
    while (q < end && *q != '"' && *q != '\\') q++;
    if (q >= end || *q == '"') return -1;
    while (q < end && *q != '"') q += (*q == '\\') ? 2 : 1;
    if (q >= end) return -1;
    long m = unescape(raw, (size_t)(q - raw), dec->scratch, dec->scratch_cap);
    if (m < 0) return -1;
    for (int k = dec->nodes[p].first_child; k >= 0; k = dec->nodes[k].next_sibling) {
        const jnode &n = dec->nodes[k];
        if ((long)n.len == m && memcmp(dec->scratch, n.name, n.len) == 0) return k;
    }
    return -1;
}

static rn_err_t walk(jctx *c, od::object &obj, int node);

/* Handles the value of a key that matched trie node k. */
static rn_err_t visit(jctx *c, int k, od::value &v)
{
    rn_json_decoder_t *dec = c->dec;
    const jnode &n = dec->nodes[k];
    if (n.nleaf == 1 && n.first_child < 0) {
        /* Fast paths for the common cases: a number into an integer, a
         * string without escapes into a STRING. Anything else falls
         * through to the general code below. */
        int f = n.leaf0;
        rn_type_id ty = n.type0;
        std::string_view tok = v.raw_json_token();
        unsigned char ch = (unsigned char)tok[0];
        if ((ty == RN_TYPE_INT || ty == RN_TYPE_BIGINT) && (ch == '-' || (ch >= '0' && ch <= '9'))) {
            int64_t iv;
            if (v.get_int64().get(iv) == simdjson::SUCCESS &&
                (ty == RN_TYPE_BIGINT || (iv >= INT32_MIN && iv <= INT32_MAX))) {
                c->cols[f][c->row] = rn_value_int(iv);
                return RN_OK;
            }
        } else if ((ty == RN_TYPE_TIMESTAMP || ty == RN_TYPE_TIMESTAMP_LTZ || ty == RN_TYPE_DOUBLE) &&
                   (ch == '-' || (ch >= '0' && ch <= '9'))) {
            double dv;
            if (v.get_double().get(dv) == simdjson::SUCCESS) {
                if (ty == RN_TYPE_DOUBLE) {
                    c->cols[f][c->row] = rn_value_double(dv);
                    return RN_OK;
                }
                if (dv > -9e12 && dv < 9e12) { /* exact in a double, ms and all */
                    c->cols[f][c->row] = rn_value_int(rn_time_from_epoch_seconds(dv));
                    return RN_OK;
                }
            }
        } else if (ty == RN_TYPE_STRING && ch == '"') {
            tok = trim_ws(tok);
            if (tok.size() >= 2 && tok.back() == '"' && tok.size() - 2 <= UINT32_MAX &&
                !memchr(tok.data() + 1, '\\', tok.size() - 2)) {
                c->cols[f][c->row] = rn_value_str(tok.data() + 1, (uint32_t)(tok.size() - 2));
                return RN_OK;
            }
        }
    }
    for (int i = 0; i < n.ndesc; i++) c->cols[dec->desc_idx[n.desc_first + i]][c->row] = RN_VALUE_NULL;
    od::json_type t;
    simdjson::error_code e = v.type().get(t);
    if (e) return json_error(c, e);
    if (t == od::json_type::null) {
        bool isnull;
        if ((e = v.is_null().get(isnull)) || !isnull) return json_error(c, e ? e : simdjson::N_ATOM_ERROR);
        for (int i = 0; i < n.nleaf; i++) c->cols[dec->leaf_idx[n.leaf_first + i]][c->row] = RN_VALUE_NULL;
        return RN_OK;
    }
    std::string_view ctext;
    od::object obj;
    bool descend = n.first_child >= 0 && t == od::json_type::object;
    if (t == od::json_type::object) {
        if ((e = v.get_object().get(obj))) return json_error(c, e);
        if (n.nleaf) {
            if ((e = obj.raw_json().get(ctext))) return json_error(c, e);
            ctext = trim_ws(ctext);
            if (descend) {
                bool nonempty;
                if ((e = obj.reset().get(nonempty))) return json_error(c, e);
            }
        }
    } else if (t == od::json_type::array && n.nleaf) {
        od::array arr;
        if ((e = v.get_array().get(arr)) || (e = arr.raw_json().get(ctext))) return json_error(c, e);
        ctext = trim_ws(ctext);
    }
    for (int i = 0; i < n.nleaf; i++) {
        rn_err_t rc = convert(c, dec->leaf_idx[n.leaf_first + i], v, t, ctext);
        if (rc) return rc;
    }
    return descend ? walk(c, obj, k) : RN_OK;
}

/* Iterates the fields of obj (matched against the children of trie node
 * p) once, in document order. */
static rn_err_t walk(jctx *c, od::object &obj, int p)
{
    jnode *nodes = c->dec->nodes;
    int prev = -1;                      /* last matched child */
    int guess = nodes[p].hint_first;    /* the child expected next */
    for (auto res : obj) {
        simdjson::error_code e = res.error();
        if (e) return json_error(c, e);
        od::field &fld = res.value_unsafe(); /* a reference: gcc stalls on copies */
        const char *raw = fld.key().raw();
        int k;
        uint64_t head;
        memcpy(&head, raw, 8); /* readable thanks to the padding */
        if (guess >= 0 && raw_equal(nodes[guess], raw, head, (size_t)(c->buf + c->len - raw)))
            k = guess;
        else if ((k = match_key(c, p, raw)) < 0)
            continue; /* simdjson skips the value */
        /* Learn the key order: records of a stream usually share it. */
        if (prev < 0)
            nodes[p].hint_first = k;
        else
            nodes[prev].hint_next = k;
        prev = k;
        guess = nodes[k].hint_next;
        rn_err_t rc = visit(c, k, fld.value());
        if (rc) return rc;
    }
    return RN_OK;
}

/* ---- the plain-record scanner ------------------------------------------ */

/* Most records of a stream are plain: ASCII, keys without escapes, the
 * requested values numbers, unescaped strings, booleans or null. For
 * those, one strict pass over the bytes decodes the record without
 * simdjson's structural index (whose fixed cost per document is several
 * times the cost of scanning an 80-byte record). The scanner is stricter
 * than the simdjson path: it accepts only RFC 8259 JSON and converts only
 * what it converts exactly as the simdjson path does (date-time strings
 * into timestamps through the same rn_time_parse, integers of at most
 * 18 digits, doubles on Clinger's exact path: at most 2^53 with a decimal
 * exponent within +-22). Anything else - bytes over 0x7F, an escaped key
 * or requested string, a number it does not take, a value of another
 * type, nesting deeper than FAST_MAX_DEPTH, malformed JSON - makes it give
 * up, and the record is decoded again from scratch by the simdjson path,
 * which also writes every error message. So both paths accept the same
 * records with the same values (fuzz/fuzz_json.c checks it). */

namespace {

enum { FAST_MAX_DEPTH = 32 };

/* A number as scanned: its value is (neg ? -1 : 1) * w * 10^exp10. */
struct fnum {
    uint64_t w;    /* the digits (exact when !big) */
    int exp10;     /* decimal exponent */
    bool neg;      /* a leading minus */
    bool integer;  /* no fraction and no exponent */
    bool big;      /* more than 18 digits or a large exponent: not converted here */
};

} // namespace

/* The scanner keeps its position in a local pointer that every step takes
 * and returns (NULL: give up), so that it lives in a register; bytes past
 * the document's end are readable (RN_JSON_PADDING) but never decide
 * anything. */

static inline bool fast_ws(unsigned char ch) { return ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r'; }

/* The first byte at or after p that is not JSON whitespace (or end). */
static inline const char *fast_ws_skip(const char *p, const char *end)
{
    if (__builtin_expect((unsigned char)*p > ' ', 1)) return p; /* compact JSON: one compare */
    while (p < end && fast_ws((unsigned char)*p)) p++;
    return p;
}

/* True if the byte at p may follow a number or literal. */
static inline bool fast_terminal(const char *p, const char *end)
{
    if (p >= end) return true;
    unsigned char ch = (unsigned char)*p;
    return ch == ',' || ch == '}' || ch == ']' || fast_ws(ch);
}

/* Sets *t to the token of key name (len bytes), or len 0 when the name is
 * not printable ASCII without '"' and '\\' or does not fit. */
static void ftok_set(ftok *t, const char *name, size_t len)
{
    *t = ftok{};
    if (len + 3 > sizeof t->w) return;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch > 0x7E || ch == '"' || ch == '\\') return;
    }
    unsigned char tb[sizeof t->w] = {0}, tm[sizeof t->w] = {0};
    tb[0] = '"';
    memcpy(tb + 1, name, len);
    tb[len + 1] = '"';
    tb[len + 2] = ':';
    memset(tm, 0xFF, len + 3);
    memcpy(t->w, tb, sizeof t->w);
    memcpy(t->mask, tm, sizeof t->mask);
    t->len = (uint32_t)(len + 3);
}

/* True if the token t is at p (wholly before end). A match is exactly that
 * plain key and its colon. */
static inline bool ftok_at(const ftok &t, const char *p, const char *end)
{
    if (!t.len || (size_t)(end - p) < t.len) return false;
    uint64_t w0, w1, w2;
    memcpy(&w0, p, 8);
    memcpy(&w1, p + 8, 8);
    memcpy(&w2, p + 16, 8);
    return (((w0 & t.mask[0]) ^ t.w[0]) | ((w1 & t.mask[1]) ^ t.w[1]) | ((w2 & t.mask[2]) ^ t.w[2])) == 0;
}

/* The number of leading ASCII digits of the 8 bytes in v (little-endian
 * order: v's lowest byte first), 0..8. A byte's flag is exact up to the
 * first non-digit: the only carry, from a byte of 0xFA or more, goes to
 * later bytes. */
static inline int fast_digit_run(uint64_t v)
{
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ull, zeros = 0x3030303030303030ull;
    uint64_t x = ((v & hi) ^ zeros) | (((v + 0x0606060606060606ull) & hi) ^ zeros);
    return x ? __builtin_ctzll(x) >> 3 : 8;
}

/* The value of 8 ASCII digits in v (little-endian SWAR). */
static inline uint64_t fast_parse_eight_v(uint64_t v)
{
    v -= 0x3030303030303030ull;
    v = v * 10 + (v >> 8);
    return (((v & 0x000000FF000000FFull) * 0x000F424000000064ull) +
            (((v >> 16) & 0x000000FF000000FFull) * 0x0000271000000001ull)) >> 32;
}

/* The value of the first n (1..7) ASCII digits in v: they move to the top
 * and '0's fill in below. */
static inline uint64_t fast_parse_head(uint64_t v, int n)
{
    unsigned s = 8u * (unsigned)(8 - n);
    return fast_parse_eight_v((v << s) | (0x3030303030303030ull >> (64 - s)));
}

/* Adds the digits at p (before end) to *w and *nd; returns the first byte
 * after them. */
static inline const char *fast_digits(const char *p, const char *end, uint64_t *w, int *nd)
{
    static const uint64_t p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
    for (;;) {
        uint64_t v;
        memcpy(&v, p, 8);
        int n = fast_digit_run(v);
        if (n > end - p) n = (int)(end - p); /* digits in the padding are not the document's */
        if (n <= 0) return p;
        if (n < 8) {
            *w = *w * p10[n] + fast_parse_head(v, n);
            *nd += n;
            return p + n;
        }
        *w = *w * 100000000u + fast_parse_eight_v(v);
        *nd += 8;
        p += 8;
    }
}

/* The closing quote of the string whose body starts at p, or NULL if the
 * string is not plain: it has an escape, a control byte or a byte over
 * 0x7F, or does not close before end. Sixteen bytes at a time with SSE2
 * (x86-64's baseline), eight elsewhere; the padding keeps the reads past
 * end inside the buffer. */
static inline const char *fast_plain_string(const char *p, const char *end)
{
#if defined(RN_JSON_PLAIN_SSE2)
    while (p < end) {
        unsigned bits = rn_json_unplain16(p);
        if (bits) {
            const char *at = p + __builtin_ctz(bits);
            return at < end && *at == '"' ? at : nullptr;
        }
        p += 16;
    }
    return nullptr;
#else
    const uint64_t L = 0x0101010101010101ull, H = 0x8080808080808080ull;
    while (p < end) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t q = w ^ (L * '"'), b = w ^ (L * '\\');
        /* the lowest flagged byte is a true match of one of the tests */
        uint64_t m = (w & H) | ((w - L * 0x20) & ~w & H) | ((q - L) & ~q & H) | ((b - L) & ~b & H);
        if (m) {
            const char *at = p + (__builtin_ctzll(m) >> 3);
            return at < end && *at == '"' ? at : nullptr;
        }
        p += 8;
    }
    return nullptr;
#endif
}

/* The closing quote of a string that may hold valid escapes (a skipped
 * value or key), or NULL as fast_plain_string. */
static const char *fast_string(const char *p, const char *end)
{
    for (;;) {
        const char *q = fast_plain_string(p, end);
        if (q) return q;
        /* find what stopped the plain scan: only a valid escape goes on */
        while (p < end && *p != '\\' && *p != '"' && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80) p++;
        if (p >= end || *p != '\\' || end - p < 2) return nullptr;
        char e = p[1];
        if (e == 'u') {
            if (end - p < 6 || hex4(p + 2, end) < 0) return nullptr;
            p += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            p += 2;
        } else {
            return nullptr;
        }
    }
}

/* Scans a JSON number at p (strictly: no leading zeros, digits after '.'
 * and 'e'); returns the byte after it, or NULL if there is none or what
 * follows may not follow a number. */
static inline __attribute__((always_inline)) const char *fast_number(const char *p, const char *end, fnum *n)
{
    n->exp10 = 0;
    n->neg = false;
    n->integer = true;
    n->big = false;
    if (p < end && *p == '-') {
        n->neg = true;
        p++;
    }
    if (p >= end || (unsigned)(*p - '0') > 9) return nullptr;
    int nd = 0;
    uint64_t w = 0;
    if (*p == '0')
        p++;
    else
        p = fast_digits(p, end, &w, &nd);
    if (p < end && *p == '.') {
        p++;
        n->integer = false;
        if (p >= end || (unsigned)(*p - '0') > 9) return nullptr;
        int before = nd;
        p = fast_digits(p, end, &w, &nd);
        n->exp10 = before - nd;
    }
    n->w = w;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        n->integer = false;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p >= end || (unsigned)(*p - '0') > 9) return nullptr;
        int e = 0;
        for (; p < end && (unsigned)(*p - '0') <= 9; p++)
            if (e < 10000) e = e * 10 + (*p - '0');
        n->exp10 += eneg ? -e : e;
    }
    if (nd > 18 || n->exp10 > 9999 || n->exp10 < -9999) n->big = true; /* w may have wrapped */
    return fast_terminal(p, end) ? p : nullptr;
}

/* Scans an integer of at most 18 digits at p into *out: returns the byte
 * after it, or NULL for anything else (a fraction, an exponent, more
 * digits), which the general number path then decides. */
static inline const char *fast_int(const char *p, const char *end, int64_t *out)
{
    bool neg = *p == '-';
    p += neg;
    if (p >= end || (unsigned)(*p - '0') > 9) return nullptr;
    const char *digits = p;
    uint64_t w = 0;
    if (*p == '0')
        p++;
    else
        for (; p < end && (unsigned)(*p - '0') <= 9; p++) w = w * 10 + (unsigned)(*p - '0');
    if (p - digits > 18 || !fast_terminal(p, end)) return nullptr;
    *out = neg ? -(int64_t)w : (int64_t)w;
    return p;
}

/* Skips the digits at p (before end). */
static inline const char *fast_skip_digits(const char *p, const char *end)
{
    for (;;) {
        uint64_t v;
        memcpy(&v, p, 8);
        int n = fast_digit_run(v);
        p += n;
        if (n < 8 || p >= end) return p < end ? p : end;
    }
}

/* Checks and skips a JSON number at p, as fast_number without its value. */
static inline const char *fast_skip_number(const char *p, const char *end)
{
    if (p < end && *p == '-') p++;
    if (p >= end || (unsigned)(*p - '0') > 9) return nullptr;
    p = *p == '0' ? p + 1 : fast_skip_digits(p, end);
    if (p < end && *p == '.') {
        p++;
        if (p >= end || (unsigned)(*p - '0') > 9) return nullptr;
        p = fast_skip_digits(p, end);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || (unsigned)(*p - '0') > 9) return nullptr;
        p = fast_skip_digits(p, end);
    }
    return fast_terminal(p, end) ? p : nullptr;
}

/* The number as a double when that is exact (Clinger's fast path, as
 * simdjson's own for these inputs); false otherwise. */
static inline bool fast_double(const fnum *n, double *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (n->big || n->w > (1ull << 53) || n->exp10 < -22 || n->exp10 > 22) return false;
    if (n->w == 0 && n->neg) return false; /* -0: left to simdjson */
    double d = (double)n->w;
    d = n->exp10 < 0 ? d / p10[-n->exp10] : d * p10[n->exp10];
    *out = n->neg ? -d : d;
    return true;
}

/* Scans the literal word (true, false, null) at p. */
static inline const char *fast_literal(const char *p, const char *end, const char *word, size_t n)
{
    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0) return nullptr;
    p += n;
    return fast_terminal(p, end) ? p : nullptr;
}

/* Skips (and checks) one JSON value at p. */
static const char *fast_skip(const char *p, const char *end, int depth)
{
    if (p >= end) return nullptr;
    switch (*p) {
    case '"': {
        const char *q = fast_string(p + 1, end);
        return q ? q + 1 : nullptr;
    }
    case 't': return fast_literal(p, end, "true", 4);
    case 'f': return fast_literal(p, end, "false", 5);
    case 'n': return fast_literal(p, end, "null", 4);
    case '{':
    case '[': {
        if (depth >= FAST_MAX_DEPTH) return nullptr;
        bool obj = *p == '{';
        char close = obj ? '}' : ']';
        p = fast_ws_skip(p + 1, end);
        if (p < end && *p == close) return p + 1;
        for (;;) {
            if (obj) {
                if (p >= end || *p != '"') return nullptr;
                const char *q = fast_string(p + 1, end);
                if (!q) return nullptr;
                p = fast_ws_skip(q + 1, end);
                if (p >= end || *p != ':') return nullptr;
                p = fast_ws_skip(p + 1, end);
            }
            if (!(p = fast_skip(p, end, depth + 1))) return nullptr;
            p = fast_ws_skip(p, end);
            if (p >= end) return nullptr;
            if (*p == close) return p + 1;
            if (*p != ',') return nullptr;
            p = fast_ws_skip(p + 1, end);
        }
    }
    default: return fast_skip_number(p, end);
    }
}

static const char *fast_object(jctx *c, const char *p, const char *end, int node, int depth);

/* Converts the value at p for trie node k, as visit() would; returns the
 * byte after it. */
static inline const char *fast_visit(jctx *c, const char *p, const char *end, int k, int depth)
{
    rn_json_decoder_t *dec = c->dec;
    const jnode &n = dec->nodes[k];
    if (p >= end) return nullptr;
    unsigned char ch = (unsigned char)*p;
    if (__builtin_expect(n.first_child >= 0, 0)) {
        if (n.nleaf) return nullptr; /* the object's text as well: simdjson's */
        for (int i = 0; i < n.ndesc; i++) c->cols[dec->desc_idx[n.desc_first + i]][c->row] = RN_VALUE_NULL;
        if (ch == '{') return depth < FAST_MAX_DEPTH ? fast_object(c, p, end, k, depth + 1) : nullptr;
        return fast_skip(p, end, depth); /* null or another type: nothing below is set */
    }
    if (n.nleaf != 1) return nullptr;
    rn_value_t *dst = &c->cols[n.leaf0][c->row];
    rn_type_id ty = n.type0;
    switch (ch) {
    case '"': {
        bool ts = ty == RN_TYPE_TIMESTAMP || ty == RN_TYPE_TIMESTAMP_LTZ;
        if (ty != RN_TYPE_STRING && !ts) return nullptr;
        const char *q = fast_plain_string(p + 1, end);
        if (!q) return nullptr;
        if (ts) { /* a date-time text, as to_timestamp reads it first */
            int64_t ms;
            if (!rn_time_parse(p + 1, (size_t)(q - p - 1), &ms)) return nullptr;
            *dst = rn_value_int(ms);
        } else {
            *dst = rn_value_str(p + 1, (uint32_t)(q - p - 1));
        }
        return q + 1;
    }
    case 'n':
        if (!(p = fast_literal(p, end, "null", 4))) return nullptr;
        *dst = RN_VALUE_NULL;
        return p;
    case 't':
    case 'f':
        if (ty != RN_TYPE_BOOLEAN) return nullptr;
        if (!(p = ch == 't' ? fast_literal(p, end, "true", 4) : fast_literal(p, end, "false", 5))) return nullptr;
        *dst = rn_value_bool(ch == 't');
        return p;
    default: {
        if (ty == RN_TYPE_INT || ty == RN_TYPE_BIGINT) {
            int64_t iv;
            if (!(p = fast_int(p, end, &iv))) return nullptr;
            if (ty == RN_TYPE_INT && (iv < INT32_MIN || iv > INT32_MAX)) return nullptr;
            *dst = rn_value_int(iv);
            return p;
        }
        fnum num;
        if (!(p = fast_number(p, end, &num))) return nullptr;
        double d;
        switch (ty) {
        case RN_TYPE_DOUBLE:
            if (!fast_double(&num, &d)) return nullptr;
            *dst = rn_value_double(d);
            return p;
        case RN_TYPE_TIMESTAMP:
        case RN_TYPE_TIMESTAMP_LTZ:
            if (!fast_double(&num, &d) || !(d > -9e12 && d < 9e12)) return nullptr;
            *dst = rn_value_int(rn_time_from_epoch_seconds(d));
            return p;
        default: return nullptr;
        }
    }
    }
}

/* Scans the object at p ('{'), matching its keys against the children of
 * trie node `node` (as walk() does, with the same key-order hints), and
 * returns the byte after its '}'.
 *
 * Records of a stream nearly always share a key order, so the keys are
 * expected: after the object's start (or after requested key k) the
 * scanner first tries the token of the requested key that came next last
 * time (hint_first, hint_next), then the token of the unrequested key that
 * came next last time (skip_first, skip_next), whose value it skips; only
 * a key that is neither is scanned and looked up among the children, and
 * the unrequested one learned for its place. */
static const char *fast_object(jctx *c, const char *p, const char *end, int node, int depth)
{
    jnode *nodes = c->dec->nodes;
    p = fast_ws_skip(p + 1, end);
    if (p < end && *p == '}') return p + 1;
    int prev = -1;                      /* the last requested key seen */
    int guess = nodes[node].hint_first; /* the requested key expected next */
    ftok *skip = &nodes[node].skip_first; /* the unrequested key expected next */
    bool skipped = false;               /* an unrequested key was skipped since prev */
    for (;;) {
        int k = -1;
        if (guess >= 0 && ftok_at(nodes[guess].tok, p, end)) {
            k = guess;
            p += nodes[guess].tok.len;
        } else if (!skipped && ftok_at(*skip, p, end)) {
            p += skip->len;
            skipped = true;
        } else {
            if (p >= end || *p != '"') return nullptr;
            const char *raw = p + 1;
            const char *q = fast_plain_string(raw, end);
            if (!q) return nullptr; /* an escaped key: simdjson's path compares it unescaped */
            p = fast_ws_skip(q + 1, end);
            if (p >= end || *p != ':') return nullptr;
            p++;
            uint64_t head;
            memcpy(&head, raw, 8);
            size_t avail = (size_t)(end - raw);
            for (int j = nodes[node].first_child; j >= 0; j = nodes[j].next_sibling)
                if (raw_equal(nodes[j], raw, head, avail)) {
                    k = j;
                    break;
                }
            if (k < 0 && !skipped) {
                ftok_set(skip, raw, (size_t)(q - raw)); /* learn it for this place */
                skipped = true;
            }
        }
        p = fast_ws_skip(p, end);
        if (k < 0) {
            if (!(p = fast_skip(p, end, depth))) return nullptr;
        } else {
            /* Learn the key order: records of a stream usually share it. */
            if (prev < 0)
                nodes[node].hint_first = k;
            else
                nodes[prev].hint_next = k;
            prev = k;
            guess = nodes[k].hint_next;
            skip = &nodes[k].skip_next;
            skipped = false;
            if (!(p = fast_visit(c, p, end, k, depth))) return nullptr;
        }
        p = fast_ws_skip(p, end);
        if (p >= end) return nullptr;
        if (*p == '}') return p + 1;
        if (*p != ',') return nullptr;
        p = fast_ws_skip(p + 1, end);
    }
}

/* Decodes a plain record; false leaves the row to the simdjson path. */
static bool fast_decode(jctx *c)
{
    const char *end = c->buf + c->len;
    const char *p = fast_ws_skip(c->buf, end);
    if (p >= end || *p != '{') return false;
    rn_json_decoder_t *dec = c->dec;
    for (int i = 0; i < dec->nfields; i++) c->cols[i][c->row] = RN_VALUE_NULL;
    if (!(p = fast_object(c, p, end, 0, 1))) return false;
    return fast_ws_skip(p, end) == end;
}

static rn_err_t finish(jctx *c, od::document &doc, od::object &obj);

static rn_err_t decode(jctx *c)
{
    rn_json_decoder_t *dec = c->dec;
    for (int i = 0; i < dec->nfields; i++) c->cols[i][c->row] = RN_VALUE_NULL;
    od::document doc;
    simdjson::error_code e =
        dec->parser.iterate(simdjson::padded_string_view(c->buf, c->len, c->len + RN_JSON_PADDING))
            .get(doc);
    if (e) return json_error(c, e);
    c->doc = &doc;
    size_t i = 0;
    while (i < c->len && (c->buf[i] == ' ' || c->buf[i] == '\t' || c->buf[i] == '\n' || c->buf[i] == '\r'))
        i++;
    if (i < c->len && c->buf[i] == '{') {
        od::object obj;
        if ((e = doc.get_object().get(obj))) return json_error(c, e);
        return finish(c, doc, obj);
    }
    od::json_type t;
    if ((e = doc.type().get(t))) return json_error(c, e);
    {
        /* Make sure it is a well-formed scalar before calling it one. */
        switch (t) {
        case od::json_type::null: {
            bool b;
            e = doc.is_null().get(b);
            if (!e && !b) e = simdjson::N_ATOM_ERROR;
            break;
        }
        case od::json_type::boolean: {
            bool b;
            e = doc.get_bool().get(b);
            break;
        }
        case od::json_type::number: {
            double d;
            e = doc.get_double().get(d);
            break;
        }
        case od::json_type::string: {
            std::string_view s;
            e = doc.get_string().get(s);
            break;
        }
        default: break;
        }
        if (e) return json_error(c, e);
        set_err(c, "expected a JSON object, found %s", json_type_name(t));
        return RN_ERR_DECODE;
    }
}

/* Walks the root object and checks that nothing follows it. */
static rn_err_t finish(jctx *c, od::document &doc, od::object &obj)
{
    rn_err_t rc = walk(c, obj, 0);
    if (rc) return rc;
    const char *loc;
    if (doc.current_location().get(loc) == simdjson::SUCCESS) {
        set_err(c, "invalid JSON: trailing content after the document (at byte %zu)",
                (size_t)(loc - c->buf));
        return RN_ERR_DECODE;
    }
    return RN_OK;
}

extern "C" rn_err_t rn_json_decode(rn_json_decoder_t *dec, const char *doc, size_t len,
                                   rn_value_t **cols, int row, rn_arena_t *arena, char *errbuf,
                                   size_t errbuf_size)
{
    jctx c = {dec, nullptr, doc, len, cols, row, arena, errbuf, errbuf_size};
    if (dec->fast && fast_decode(&c)) return RN_OK;
    dec->slow++;
    try {
        return decode(&c);
    } catch (const std::bad_alloc &) {
        set_err(&c, "out of memory");
        return RN_ERR_NOMEM;
    } catch (...) {
        set_err(&c, "invalid JSON: internal decoder error");
        return RN_ERR_DECODE;
    }
}

/* ---- construction ------------------------------------------------------- */

extern "C" void rn_json_decoder_free(rn_json_decoder_t *dec)
{
    if (!dec) return;
    if (dec->names)
        for (int i = 0; i < dec->nfields; i++) rn_free(dec->names[i]);
    if (dec->nodes)
        for (int i = 0; i < dec->nnodes; i++) rn_free(dec->nodes[i].name);
    rn_free(dec->names);
    rn_free(dec->types);
    rn_free(dec->nodes);
    rn_free(dec->leaf_idx);
    rn_free(dec->desc_idx);
    rn_free(dec->scratch);
    dec->parser.~parser();
    rn_free(dec);
}

/* Returns the child of p named name, creating it; -1 on OOM. */
static int trie_child(rn_json_decoder_t *dec, int p, const char *name)
{
    size_t len = strlen(name);
    int last = -1;
    for (int k = dec->nodes[p].first_child; k >= 0; k = dec->nodes[k].next_sibling) {
        if (dec->nodes[k].len == len && !memcmp(dec->nodes[k].name, name, len)) return k;
        last = k;
    }
    int k = dec->nnodes;
    jnode &n = dec->nodes[k];
    n.name = rn_strndup(name, len);
    if (!n.name) return -1;
    dec->nnodes++;
    n.len = (uint32_t)len;
    n.plain = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch == '"' || ch == '\\' || ch < 0x20) n.plain = false;
    }
    n.first_child = n.next_sibling = n.hint_first = n.hint_next = -1;
    /* Raw-compare prefix: the name, then its closing quote if it fits. A
     * name that is not plain never matches raw (mask 0, pre 1). */
    unsigned char pb[16] = {0}, mb[16] = {0};
    for (size_t i = 0; i < 16 && i <= len; i++) {
        pb[i] = i < len ? (unsigned char)name[i] : '"';
        mb[i] = 0xFF;
    }
    memcpy(&n.pre, pb, 8);
    memcpy(&n.mask, mb, 8);
    memcpy(&n.pre2, pb + 8, 8);
    memcpy(&n.mask2, mb + 8, 8);
    if (!n.plain) {
        n.pre = 1;
        n.mask = 0;
    }
    /* The scanner's token: the key with its quotes and colon, for names of
     * printable ASCII (the scanner accepts nothing else in a key). */
    n.tok.len = n.skip_first.len = n.skip_next.len = 0;
    if (n.plain) ftok_set(&n.tok, name, len);
    if (last < 0)
        dec->nodes[p].first_child = k;
    else
        dec->nodes[last].next_sibling = k;
    if (len + 8 > dec->scratch_cap) dec->scratch_cap = len + 8;
    return k;
}

static rn_json_decoder_t *decoder_new(const rn_json_field_t *fields, int nfields, char *errbuf,
                                      size_t errbuf_size)
{
    for (int i = 0; i < nfields; i++) {
        bool ok = fields[i].nparts >= 1 && fields[i].parts && (unsigned)fields[i].type < RN_TYPE__COUNT &&
                  fields[i].type != RN_TYPE_ROW;
        for (int j = 0; ok && j < fields[i].nparts; j++) ok = fields[i].parts[j] != nullptr;
        if (!ok) {
            if (errbuf && errbuf_size)
                snprintf(errbuf, errbuf_size, "JSON field %d: empty path or non-scalar type", i);
            return nullptr;
        }
    }
    void *mem = rn_calloc(1, sizeof(rn_json_decoder_t));
    if (!mem) goto oom_early;
    {
        rn_json_decoder_t *dec = new (mem) rn_json_decoder_t();
        int total = 0, *ids = nullptr;
        for (int i = 0; i < nfields; i++) total += fields[i].nparts;
        dec->nfields = nfields;
        dec->types = (rn_type_id *)rn_calloc((size_t)nfields + 1, sizeof(rn_type_id));
        dec->names = (char **)rn_calloc((size_t)nfields + 1, sizeof(char *));
        dec->nodes = (jnode *)rn_calloc((size_t)total + 1, sizeof(jnode));
        dec->leaf_idx = (int *)rn_calloc((size_t)nfields + 1, sizeof(int));
        dec->desc_idx = (int *)rn_calloc((size_t)total + 1, sizeof(int));
        if (!dec->types || !dec->names || !dec->nodes || !dec->leaf_idx || !dec->desc_idx) goto oom;
        dec->nodes[0].first_child = dec->nodes[0].next_sibling = -1;
        dec->nodes[0].hint_first = dec->nodes[0].hint_next = -1;
        dec->nnodes = 1;
        dec->scratch_cap = 8;
        dec->fast = true;
        /* Build the trie; ids[i*] remembers each field's path of nodes. */
        ids = (int *)rn_calloc((size_t)total + 1, sizeof(int));
        if (!ids) goto oom;
        for (int i = 0, off = 0; i < nfields; i++) {
            const rn_json_field_t *f = &fields[i];
            dec->types[i] = f->type;
            size_t nl = 0;
            for (int j = 0; j < f->nparts; j++) nl += strlen(f->parts[j]) + 1;
            dec->names[i] = (char *)rn_malloc(nl);
            if (!dec->names[i]) goto oom_tmp;
            char *w = dec->names[i];
            int p = 0;
            for (int j = 0; j < f->nparts; j++) {
                size_t l = strlen(f->parts[j]);
                if (j) *w++ = '.';
                memcpy(w, f->parts[j], l);
                w += l;
                if ((p = trie_child(dec, p, f->parts[j])) < 0) goto oom_tmp;
                ids[off + j] = p;
            }
            *w = '\0';
            off += f->nparts;
        }
        /* Leaf lists: counting sort of fields by their end node. */
        for (int i = 0, off = 0; i < nfields; i++) {
            off += fields[i].nparts;
            dec->nodes[ids[off - 1]].nleaf++;
        }
        for (int k = 0, acc = 0; k < dec->nnodes; k++) {
            dec->nodes[k].leaf_first = acc;
            acc += dec->nodes[k].nleaf;
            dec->nodes[k].nleaf = 0;
        }
        for (int i = 0, off = 0; i < nfields; i++) {
            off += fields[i].nparts;
            jnode &n = dec->nodes[ids[off - 1]];
            if (n.nleaf == 0) {
                n.leaf0 = i;
                n.type0 = fields[i].type;
            }
            dec->leaf_idx[n.leaf_first + n.nleaf++] = i;
        }
        /* Descendant lists: field i is below every node on its path but the last. */
        for (int i = 0, off = 0; i < nfields; i++) {
            for (int j = 0; j + 1 < fields[i].nparts; j++) dec->nodes[ids[off + j]].ndesc++;
            off += fields[i].nparts;
        }
        for (int k = 0, acc = 0; k < dec->nnodes; k++) {
            dec->nodes[k].desc_first = acc;
            acc += dec->nodes[k].ndesc;
            dec->nodes[k].ndesc = 0;
        }
        for (int i = 0, off = 0; i < nfields; i++) {
            for (int j = 0; j + 1 < fields[i].nparts; j++) {
                jnode &n = dec->nodes[ids[off + j]];
                dec->desc_idx[n.desc_first + n.ndesc++] = i;
            }
            off += fields[i].nparts;
        }
        rn_free(ids);
        ids = nullptr;
        dec->scratch = (char *)rn_malloc(dec->scratch_cap);
        if (!dec->scratch) goto oom;
        /* Room for typical records up front, so the parser does not grow
         * step by step; larger documents grow it on demand. */
        if (dec->parser.allocate(64 * 1024) != simdjson::SUCCESS) goto oom;
        return dec;
    oom_tmp:
        rn_free(ids);
    oom:
        rn_json_decoder_free(dec);
    }
oom_early:
    if (errbuf && errbuf_size) snprintf(errbuf, errbuf_size, "out of memory");
    return nullptr;
}

extern "C" void rn_json_decoder_set_fast(rn_json_decoder_t *dec, bool on) { dec->fast = on; }
extern "C" uint64_t rn_json_decoder_slow_count(const rn_json_decoder_t *dec) { return dec->slow; }

extern "C" rn_json_decoder_t *rn_json_decoder_new(const rn_json_field_t *fields, int nfields,
                                                  char *errbuf, size_t errbuf_size)
{
    try {
        return decoder_new(fields, nfields, errbuf, errbuf_size);
    } catch (...) {
        if (errbuf && errbuf_size) snprintf(errbuf, errbuf_size, "out of memory");
        return nullptr;
    }
}
