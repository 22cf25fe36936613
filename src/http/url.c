/*
 * url.c - the HTTP layer's parsers of untrusted text (see url.h): the
 * listen address, the token, table references, and a minimal JSON
 * scanner. The scanner only measures and walks values (no tree, no
 * allocation): published tables are JSON text that the server slices.
 */
#include "http/url.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
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
    if (!strcmp(name, "rows") || !strcmp(name, "changes")) return;
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

/* ---- merging the workers' copies of a table ------------------------------- */

/* One row of the merge: its text, its sort cell, its change number, and
 * where it came from (ties keep the workers' order). */
typedef struct mrow {
    const char *v;              /* the row's array */
    size_t vlen;
    const char *sv;             /* the sort column's cell (NULL: none) */
    size_t svlen;
    uint64_t chg;               /* change number (tables without a sort) */
    int from, pos;              /* table index, position in it */
} mrow_t;

typedef struct merge {
    mrow_t *rows;
    int n, cap;
    int from;                   /* table being read */
    int base;                   /* index in rows of its first row */
    int sort_col;               /* column index, -1 = change order */
    bool desc;
    int key_cols[16];           /* key column indexes, nkey of them */
    int nkey;
    const char *const *want;    /* names looked up by names_cb */
    int *found;
    int nwant;
    int col;                    /* column counter of names_cb */
    char ka[1024], kb[1024];    /* key texts being compared */
    /* cell_at's */
    int cell_want, cell_i;
    const char *cell_v;
    size_t cell_len;
} merge_t;

static bool names_cb(void *opaque, const char *v, size_t vlen)
{
    merge_t *m = opaque;
    size_t off, nlen;
    char name[256];
    if (rn_http_json_member(v, vlen, "name", &off, &nlen)) {
        scan_t c = {v + off, nlen, 0};
        if (scan_string(&c, name, sizeof name))
            for (int i = 0; i < m->nwant; i++)
                if (m->found[i] < 0 && !strcmp(name, m->want[i])) m->found[i] = m->col;
    }
    m->col++;
    return true;
}

static bool cell_cb2(void *opaque, const char *v, size_t vlen)
{
    merge_t *m = opaque;
    if (m->cell_i++ == m->cell_want) {
        m->cell_v = v;
        m->cell_len = vlen;
    }
    return true;
}

/* The span of cell idx of row r (NULL when it has none). */
static const char *cell_at(merge_t *m, const char *r, size_t rlen, int idx, size_t *len)
{
    m->cell_want = idx;
    m->cell_i = 0;
    m->cell_v = NULL;
    m->cell_len = 0;
    if (idx < 0 || !each_element(r, rlen, cell_cb2, m)) return NULL;
    *len = m->cell_len;
    return m->cell_v;
}

static bool merge_row_cb(void *opaque, const char *v, size_t vlen)
{
    merge_t *m = opaque;
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 64;
        mrow_t *nr = rn_realloc(m->rows, (size_t)cap * sizeof *nr);
        if (!nr) return false;
        m->rows = nr;
        m->cap = cap;
    }
    mrow_t *r = &m->rows[m->n];
    memset(r, 0, sizeof *r);
    r->v = v;
    r->vlen = vlen;
    r->from = m->from;
    r->pos = m->col++;
    if (m->sort_col >= 0) r->sv = cell_at(m, v, vlen, m->sort_col, &r->svlen);
    m->n++;
    return true;
}

/* Sets the change numbers of the rows of the current table, in order. */
static bool merge_chg_cb(void *opaque, const char *v, size_t vlen)
{
    merge_t *m = opaque;
    char num[32];
    if (vlen == 0 || vlen >= sizeof num) return false;
    memcpy(num, v, vlen);
    num[vlen] = '\0';
    int i = m->base + m->col++;
    if (i >= m->n || m->rows[i].from != m->from) return false; /* more changes than rows */
    m->rows[i].chg = strtoull(num, NULL, 10);
    return true;
}

/* Rank of a JSON value's kind in a comparison: numbers, strings, booleans, others; null apart. */
static int kind_rank(const char *v, size_t len)
{
    if (!len) return 4;
    if (v[0] == '"') return 1;
    if (v[0] == 't' || v[0] == 'f') return 2;
    if (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) return 0;
    return 3;
}

static bool is_null(const char *v, size_t len)
{
    return !v || (len == 4 && !memcmp(v, "null", 4));
}

/* Order of two non-null cells: numbers by value, strings by their UTF-8
 * bytes, false before true, anything else by its text. */
static int cell_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int ka = kind_rank(a, alen), kb = kind_rank(b, blen);
    if (ka != kb) return ka < kb ? -1 : 1;
    if (ka == 0) {
        char x[64], y[64];
        if (alen < sizeof x && blen < sizeof y) {
            memcpy(x, a, alen), x[alen] = '\0';
            memcpy(y, b, blen), y[blen] = '\0';
            double dx = strtod(x, NULL), dy = strtod(y, NULL);
            if (dx != dy) return dx < dy ? -1 : 1;
            return 0;
        }
    } else if (ka == 1) {
        static _Thread_local char x[1024], y[1024];
        scan_t cx = {a, alen, 0}, cy = {b, blen, 0};
        if (scan_string(&cx, x, sizeof x) && scan_string(&cy, y, sizeof y)) {
            int c = strcmp(x, y);
            return c < 0 ? -1 : c > 0;
        }
    }
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c) return c < 0 ? -1 : 1;
    return alen < blen ? -1 : alen > blen;
}

/* Writes row r's key text ("[" key cells joined by "," "]", the cells'
 * JSON as rendered) to buf; returns its length (cut at size). */
static size_t key_text(merge_t *m, const mrow_t *r, char *buf, size_t size)
{
    size_t o = 0;
    buf[o++] = '[';
    for (int k = 0; k < m->nkey; k++) {
        size_t len = 0;
        const char *c = cell_at(m, r->v, r->vlen, m->key_cols[k], &len);
        if (k && o < size) buf[o++] = ',';
        if (c)
            for (size_t i = 0; i < len && o < size; i++) buf[o++] = c[i];
    }
    if (o < size) buf[o++] = ']';
    return o;
}

static _Thread_local merge_t *merge_ctx; /* qsort's context */

/* The table's order: the sort cell (NULLs last), then the key text (as
 * dashboard.c breaks ties), then the tables' order and each table's own
 * order; change order without a sort. */
static int mrow_cmp(const void *pa, const void *pb)
{
    const mrow_t *a = pa, *b = pb;
    merge_t *m = merge_ctx;
    if (m->sort_col < 0) {
        if (a->chg != b->chg) return a->chg < b->chg ? -1 : 1;
    } else {
        bool na = is_null(a->sv, a->svlen), nb = is_null(b->sv, b->svlen);
        if (na != nb) return na ? 1 : -1;
        if (!na) {
            int c = cell_cmp(a->sv, a->svlen, b->sv, b->svlen);
            if (c) return m->desc ? -c : c;
        }
        if (m->nkey > 0) { /* the key text, as one table compares it: "[cell,cell]" */
            size_t la = key_text(m, a, m->ka, sizeof m->ka), lb = key_text(m, b, m->kb, sizeof m->kb);
            int c = memcmp(m->ka, m->kb, la < lb ? la : lb);
            if (c) return c < 0 ? -1 : 1;
            if (la != lb) return la < lb ? -1 : 1;
        }
    }
    if (a->from != b->from) return a->from < b->from ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* The text of member name of t as a NUL-terminated number (buf), or NULL. */
static const char *member_num(const char *t, size_t len, const char *name, char *buf, size_t bufsz)
{
    size_t off, vlen;
    if (!rn_http_json_member(t, len, name, &off, &vlen) || vlen == 0 || vlen >= bufsz) return NULL;
    memcpy(buf, t + off, vlen);
    buf[vlen] = '\0';
    return (buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')) ? buf : NULL;
}

typedef struct key_names {
    const char *names[16];
    char text[16][256];
    int n;
} key_names_t;

static bool key_name_cb(void *opaque, const char *v, size_t vlen)
{
    key_names_t *k = opaque;
    if (k->n >= 16) return true;
    scan_t c = {v, vlen, 0};
    if (scan_string(&c, k->text[k->n], sizeof k->text[k->n])) {
        k->names[k->n] = k->text[k->n];
        k->n++;
    }
    return true;
}

int rn_http_table_merge(const char *const *tables, const size_t *lens, int n, const char *pipeline,
                        rn_buf_t *out)
{
    if (n < 1) return -1;
    size_t start = out->len;
    const char *t0 = tables[0];
    size_t l0 = lens[0];
    size_t off, vlen, coff, clen, soff, slen;
    if (!rn_http_json_member(t0, l0, "columns", &coff, &clen) ||
        !rn_http_json_member(t0, l0, "sort", &soff, &slen))
        return -1;
    merge_t m = {.sort_col = -1};
    int ret = -1;
    /* the sort column and the key columns, by name */
    char sort_name[256] = "";
    if (!(slen == 4 && !memcmp(t0 + soff, "null", 4))) {
        size_t noff, nlen, doff, dlen;
        if (!rn_http_json_member(t0 + soff, slen, "column", &noff, &nlen)) return -1;
        scan_t c = {t0 + soff + noff, nlen, 0};
        if (!scan_string(&c, sort_name, sizeof sort_name)) return -1;
        m.desc = rn_http_json_member(t0 + soff, slen, "desc", &doff, &dlen) && dlen == 4 &&
                 !memcmp(t0 + soff + doff, "true", 4);
    }
    key_names_t *kn = rn_calloc(1, sizeof *kn);
    if (!kn) return -1;
    if (rn_http_json_member(t0, l0, "key", &off, &vlen)) each_element(t0 + off, vlen, key_name_cb, kn);
    const char *want[17];
    int found[17];
    int nwant = 0;
    for (int k = 0; k < kn->n; k++) want[nwant++] = kn->names[k];
    if (sort_name[0]) want[nwant++] = sort_name;
    for (int i = 0; i < nwant; i++) found[i] = -1;
    m.want = want;
    m.found = found;
    m.nwant = nwant;
    if (!each_element(t0 + coff, clen, names_cb, &m)) goto done;
    for (int k = 0; k < kn->n; k++)
        if (found[k] >= 0) m.key_cols[m.nkey++] = found[k];
    if (sort_name[0]) {
        if (found[nwant - 1] < 0) goto done;
        m.sort_col = found[nwant - 1];
    }
    /* every table's rows (and change numbers), the newest update, the total */
    char num[64];
    long long total = 0, max_rows = 0;
    long long updated = -1;
    const char *mr = member_num(t0, l0, "max_rows", num, sizeof num);
    if (!mr || (max_rows = strtoll(mr, NULL, 10)) < 1) goto done;
    for (int i = 0; i < n; i++) {
        size_t roff, rlen;
        if (!rn_http_json_member(tables[i], lens[i], "rows", &roff, &rlen)) goto done;
        m.from = i;
        m.base = m.n;
        m.col = 0;
        if (!each_element(tables[i] + roff, rlen, merge_row_cb, &m)) goto done;
        if (m.sort_col < 0) {
            size_t goff, glen;
            if (!rn_http_json_member(tables[i], lens[i], "changes", &goff, &glen)) goto done;
            m.col = 0;
            if (!each_element(tables[i] + goff, glen, merge_chg_cb, &m)) goto done;
        }
        const char *u = member_num(tables[i], lens[i], "updated_ms", num, sizeof num);
        if (u && strtoll(u, NULL, 10) > updated) updated = strtoll(u, NULL, 10);
        const char *tr = member_num(tables[i], lens[i], "total_rows", num, sizeof num);
        if (tr) total += strtoll(tr, NULL, 10);
    }
    merge_ctx = &m;
    if (m.n > 1) qsort(m.rows, (size_t)m.n, sizeof *m.rows, mrow_cmp);
    merge_ctx = NULL;
    /* with a sort the first max_rows; without, the last max_rows (the most recently changed) */
    int first = 0, last = m.n;
    if (m.n > max_rows) {
        if (m.sort_col >= 0) last = (int)max_rows;
        else first = m.n - (int)max_rows;
    }
    rn_buf_appends(out, "{\"name\": ");
    if (!rn_http_json_member(t0, l0, "name", &off, &vlen)) goto done;
    rn_buf_append(out, t0 + off, vlen);
    rn_buf_appends(out, ", \"pipeline\": ");
    rn_json_write_string(out, pipeline, strlen(pipeline));
    rn_buf_appendf(out, ", \"workers\": %d, \"columns\": ", n);
    rn_buf_append(out, t0 + coff, clen);
    static const char *const copied[] = {"key", "chart", "sort", "max_rows"};
    for (size_t k = 0; k < sizeof copied / sizeof *copied; k++) {
        if (!rn_http_json_member(t0, l0, copied[k], &off, &vlen)) goto done;
        rn_buf_appendf(out, ", \"%s\": ", copied[k]);
        rn_buf_append(out, t0 + off, vlen);
    }
    rn_buf_appends(out, ", \"updated_ms\": ");
    if (updated < 0) rn_buf_appends(out, "null");
    else rn_buf_append_i64(out, updated);
    rn_buf_appends(out, ", \"total_rows\": ");
    rn_buf_append_i64(out, total);
    rn_buf_appends(out, ", \"rows\": [");
    for (int i = first; i < last; i++) {
        if (i > first) rn_buf_appends(out, ", ");
        rn_buf_append(out, m.rows[i].v, m.rows[i].vlen);
    }
    if (m.sort_col < 0) {
        rn_buf_appends(out, "], \"changes\": [");
        for (int i = first; i < last; i++) {
            if (i > first) rn_buf_appends(out, ", ");
            rn_buf_append_i64(out, (int64_t)m.rows[i].chg);
        }
    }
    rn_buf_appends(out, "]}");
    ret = 1;
done:
    if (ret < 0 && out->len > start) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
    }
    rn_free(m.rows);
    rn_free(kn);
    return ret;
}
