/*
 * url.c - the HTTP layer's parsers of untrusted text (see url.h): the
 * listen address, the token, table references, and a minimal JSON
 * scanner. The scanner only measures and walks values (no tree, no
 * allocation): published tables are JSON text that the server slices.
 */
#include "http/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

bool rn_http_parse_listen(const char *s, char *host, size_t hostsz, int *port, char *errbuf, size_t errbuf_size)
{
    const char *colon, *h = s;
    size_t hlen;
    if (!s || !*s) goto bad;
    if (*s == '[') { /* [v6]:port */
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') goto bad;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s))) goto bad; /* bare IPv6 needs brackets */
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0) h = "127.0.0.1", hlen = strlen(h);
    if (hlen >= hostsz) goto bad;
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5) goto bad;
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') goto bad;
        v = v * 10 + (*p - '0');
    }
    if (v > 65535) goto bad;
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)h[i] <= ' ' || h[i] == '/' || h[i] == '[' || h[i] == ']') goto bad;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return true;
bad:
    snprintf(errbuf, errbuf_size, "'%s' is not HOST:PORT (such as 127.0.0.1:8080, [::1]:8080 or 0.0.0.0:0)",
             s ? s : "");
    return false;
}

/* Compares a[0..alen) with b[0..blen) without an early exit. */
static bool equal_consttime(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = (unsigned char)(alen != blen);
    size_t n = alen > blen ? alen : blen;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < alen ? (unsigned char)a[i] : 0, y = i < blen ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

bool rn_http_token_ok(const char *authorization, const char *query_token, const char *expected)
{
    size_t elen = strlen(expected);
    bool ok = false;
    if (authorization && !strncasecmp(authorization, "Bearer ", 7)) {
        const char *t = authorization + 7;
        while (*t == ' ') t++;
        size_t tlen = strlen(t);
        while (tlen && (t[tlen - 1] == ' ' || t[tlen - 1] == '\t')) tlen--;
        ok |= equal_consttime(t, tlen, expected, elen);
    }
    if (query_token) ok |= equal_consttime(query_token, strlen(query_token), expected, elen);
    return ok && elen > 0;
}

static bool name_part(const char *s, size_t n)
{
    if (n == 0 || n > 128) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool rn_http_table_ref(const char *ref, char *pipeline, size_t pipesz, char *name, size_t namesz)
{
    const char *dot = strchr(ref, '.');
    size_t plen = dot ? (size_t)(dot - ref) : 0;
    const char *n = dot ? dot + 1 : ref;
    size_t nlen = strlen(n);
    if ((dot && !name_part(ref, plen)) || !name_part(n, nlen) || plen >= pipesz || nlen >= namesz) return false;
    memcpy(pipeline, ref, plen);
    pipeline[plen] = '\0';
    memcpy(name, n, nlen + 1);
    return true;
}

/* ---- JSON scanning ------------------------------------------------------ */

#define JSON_MAX_DEPTH 64

typedef struct scan {
    const char *s;
    size_t len, i;
} scan_t;

static void skip_ws(scan_t *c)
{
    while (c->i < c->len && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

static int hexval(char h)
{
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
}

/* Scans a string at c->i (the opening quote); with out, decodes it there
 * (NUL-terminated, truncated to outsz - 1 bytes). False if malformed. */
static bool scan_string(scan_t *c, char *out, size_t outsz)
{
    size_t o = 0;
    if (c->i >= c->len || c->s[c->i] != '"') return false;
    c->i++;
    while (c->i < c->len) {
        unsigned char ch = (unsigned char)c->s[c->i++];
        unsigned cp = ch;
        if (ch == '"') {
            if (out && outsz) out[o] = '\0';
            return true;
        }
        if (ch < 0x20) return false;
        if (ch == '\\') {
            if (c->i >= c->len) return false;
            char e = c->s[c->i++];
            switch (e) {
            case '"': case '\\': case '/': cp = (unsigned char)e; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': {
                if (c->len - c->i < 4) return false;
                cp = 0;
                for (int k = 0; k < 4; k++) {
                    int v = hexval(c->s[c->i++]);
                    if (v < 0) return false;
                    cp = cp * 16 + (unsigned)v;
                }
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* halves of pairs are not matched */
                break;
            }
            default: return false;
            }
            if (out) { /* as UTF-8 */
                char u[4];
                size_t ul;
                if (cp < 0x80) u[0] = (char)cp, ul = 1;
                else if (cp < 0x800) u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), ul = 2;
                else u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
                     u[2] = (char)(0x80 | (cp & 0x3F)), ul = 3;
                for (size_t k = 0; k < ul && o + 1 < outsz; k++) out[o++] = u[k];
            }
            continue;
        }
        if (out && o + 1 < outsz) out[o++] = (char)ch;
    }
    return false;
}

static bool scan_value(scan_t *c, int depth);

static bool scan_container(scan_t *c, int depth, char open)
{
    char close = open == '{' ? '}' : ']';
    if (depth >= JSON_MAX_DEPTH) return false;
    c->i++;
    skip_ws(c);
    if (c->i < c->len && c->s[c->i] == close) {
        c->i++;
        return true;
    }
    for (;;) {
        skip_ws(c);
        if (open == '{') {
            if (!scan_string(c, NULL, 0)) return false;
            skip_ws(c);
            if (c->i >= c->len || c->s[c->i] != ':') return false;
            c->i++;
        }
        if (!scan_value(c, depth + 1)) return false;
        skip_ws(c);
        if (c->i >= c->len) return false;
        char ch = c->s[c->i++];
        if (ch == close) return true;
        if (ch != ',') return false;
    }
}

static bool scan_literal(scan_t *c, const char *lit)
{
    size_t n = strlen(lit);
    if (c->len - c->i < n || memcmp(c->s + c->i, lit, n)) return false;
    c->i += n;
    return true;
}

static bool scan_number(scan_t *c)
{
    size_t st = c->i;
    if (c->i < c->len && c->s[c->i] == '-') c->i++;
    size_t digits = c->i;
    while (c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9') c->i++;
    if (c->i == digits) return false;
    if (c->i < c->len && c->s[c->i] == '.') {
        size_t f = ++c->i;
        while (c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9') c->i++;
        if (c->i == f) return false;
    }
    if (c->i < c->len && (c->s[c->i] == 'e' || c->s[c->i] == 'E')) {
        c->i++;
        if (c->i < c->len && (c->s[c->i] == '+' || c->s[c->i] == '-')) c->i++;
        size_t e = c->i;
        while (c->i < c->len && c->s[c->i] >= '0' && c->s[c->i] <= '9') c->i++;
        if (c->i == e) return false;
    }
    return c->i > st;
}

static bool scan_value(scan_t *c, int depth)
{
    skip_ws(c);
    if (c->i >= c->len) return false;
    switch (c->s[c->i]) {
    case '{': case '[': return scan_container(c, depth, c->s[c->i]);
    case '"': return scan_string(c, NULL, 0);
    case 't': return scan_literal(c, "true");
    case 'f': return scan_literal(c, "false");
    case 'n': return scan_literal(c, "null");
    default: return scan_number(c);
    }
}

size_t rn_http_json_value(const char *s, size_t len, size_t *start)
{
    scan_t c = {s, len, 0};
    skip_ws(&c);
    *start = c.i;
    if (!scan_value(&c, 0)) return 0;
    return c.i - *start;
}

bool rn_http_json_members(const char *obj, size_t len,
                          void (*fn)(void *opaque, const char *name, const char *v, size_t vlen), void *opaque)
{
    scan_t c = {obj, len, 0};
    skip_ws(&c);
    if (c.i >= c.len || obj[c.i] != '{') return false;
    c.i++;
    skip_ws(&c);
    if (c.i < c.len && obj[c.i] == '}') return true;
    for (;;) {
        char name[256];
        skip_ws(&c);
        if (!scan_string(&c, name, sizeof name)) return false;
        skip_ws(&c);
        if (c.i >= c.len || obj[c.i] != ':') return false;
        c.i++;
        skip_ws(&c);
        size_t v = c.i;
        if (!scan_value(&c, 1)) return false;
        fn(opaque, name, obj + v, c.i - v);
        skip_ws(&c);
        if (c.i >= c.len) return false;
        char ch = obj[c.i++];
        if (ch == '}') return true;
        if (ch != ',') return false;
    }
}

typedef struct find_member {
    const char *name, *base;
    size_t off, vlen;
    bool found;
} find_member_t;

static void find_member_cb(void *opaque, const char *name, const char *v, size_t vlen)
{
    find_member_t *f = opaque;
    if (f->found || strcmp(name, f->name)) return;
    f->found = true;
    f->off = (size_t)(v - f->base);
    f->vlen = vlen;
}

bool rn_http_json_member(const char *obj, size_t len, const char *name, size_t *off, size_t *vlen)
{
    find_member_t f = {.name = name, .base = obj};
    if (!rn_http_json_members(obj, len, find_member_cb, &f) || !f.found) return false;
    *off = f.off;
    *vlen = f.vlen;
    return true;
}

/* Walks the elements of the array a[0..len): calls fn with each element's
 * span; false if a is not a well-formed array. */
static bool each_element(const char *a, size_t len, bool (*fn)(void *opaque, const char *v, size_t vlen),
                         void *opaque)
{
    scan_t c = {a, len, 0};
    skip_ws(&c);
    if (c.i >= c.len || a[c.i] != '[') return false;
    c.i++;
    skip_ws(&c);
    if (c.i < c.len && a[c.i] == ']') return true;
    for (;;) {
        skip_ws(&c);
        size_t v = c.i;
        if (!scan_value(&c, 1)) return false;
        if (!fn(opaque, a + v, c.i - v)) return false;
        skip_ws(&c);
        if (c.i >= c.len) return false;
        char ch = a[c.i++];
        if (ch == ']') return true;
        if (ch != ',') return false;
    }
}

typedef struct key_scan {
    int n;                      /* elements seen */
    char first[256];            /* the first element, decoded (a string) */
    bool first_ok;
    const char *want;           /* the column name looked for */
    int index;                  /* its position, -1 = not yet */
} key_scan_t;

static bool key_names_cb(void *opaque, const char *v, size_t vlen)
{
    key_scan_t *k = opaque;
    if (k->n++ == 0) {
        scan_t c = {v, vlen, 0};
        k->first_ok = scan_string(&c, k->first, sizeof k->first);
    }
    return true;
}

static bool column_cb(void *opaque, const char *v, size_t vlen)
{
    key_scan_t *k = opaque;
    size_t off, nlen;
    char name[256];
    if (k->index < 0 && rn_http_json_member(v, vlen, "name", &off, &nlen)) {
        scan_t c = {v + off, nlen, 0};
        if (scan_string(&c, name, sizeof name) && !strcmp(name, k->want)) k->index = k->n;
    }
    k->n++;
    return true;
}

typedef struct row_filter {
    int index;                  /* the key column */
    const char *key;
    rn_buf_t *out;
    int written;
    int cell;                   /* cell counter within the current row */
    bool match;
} row_filter_t;

static bool cell_cb(void *opaque, const char *v, size_t vlen)
{
    row_filter_t *f = opaque;
    if (f->cell++ != f->index) return true;
    char text[1024];
    if (vlen && v[0] == '"') {
        scan_t c = {v, vlen, 0};
        f->match = scan_string(&c, text, sizeof text) && strlen(f->key) < sizeof text - 1 && !strcmp(text, f->key);
    } else {
        f->match = vlen == strlen(f->key) && !memcmp(v, f->key, vlen);
    }
    return true;
}

static bool row_cb(void *opaque, const char *v, size_t vlen)
{
    row_filter_t *f = opaque;
    f->cell = 0;
    f->match = false;
    if (!each_element(v, vlen, cell_cb, f)) return false;
    if (f->match) {
        if (f->written++) rn_buf_appendc(f->out, ',');
        rn_buf_append(f->out, v, vlen);
    }
    return true;
}

typedef struct copy_members {
    rn_buf_t *out;
    int n;
} copy_members_t;

static void copy_member_cb(void *opaque, const char *name, const char *v, size_t vlen)
{
    copy_members_t *c = opaque;
    if (!strcmp(name, "rows")) return;
    rn_buf_appends(c->out, c->n++ ? "," : "{");
    rn_json_write_string(c->out, name, strlen(name));
    rn_buf_appendc(c->out, ':');
    rn_buf_append(c->out, v, vlen);
}

int rn_http_table_filter_key(const char *table, size_t len, const char *key, rn_buf_t *out)
{
    size_t off, vlen, roff, rlen, coff, clen;
    if (!rn_http_json_member(table, len, "rows", &roff, &rlen) ||
        !rn_http_json_member(table, len, "columns", &coff, &clen))
        return -1;
    key_scan_t k = {.index = -1};
    if (!rn_http_json_member(table, len, "key", &off, &vlen)) return 0;
    if (!each_element(table + off, vlen, key_names_cb, &k)) return 0; /* null or not an array */
    if (k.n != 1 || !k.first_ok) return 0;
    k.n = 0;
    k.want = k.first;
    if (!each_element(table + coff, clen, column_cb, &k)) return -1;
    if (k.index < 0) return 0;
    size_t start = out->len;
    copy_members_t cm = {out, 0};
    rn_http_json_members(table, len, copy_member_cb, &cm);
    rn_buf_appends(out, cm.n ? ",\"rows\":[" : "{\"rows\":[");
    row_filter_t f = {.index = k.index, .key = key, .out = out};
    if (!each_element(table + roff, rlen, row_cb, &f)) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
        return -1;
    }
    rn_buf_appends(out, "]}");
    return 1;
}
