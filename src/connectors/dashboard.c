/*
 * dashboard.c - the 'dashboard' sink connector and the in-memory tables
 * behind it and behind 'dashboard' = 'true' (dashboard.h,
 * docs/dashboard.md).
 *
 * Storage. Each row is one allocation (drow_t): list links, its sort
 * value, and in data[] its key text followed by the row rendered as a
 * JSON array, so a render copies bytes and a stored row costs its text
 * plus a few words. All rows sit on one doubly linked list in the order
 * of their last change (an append table: arrival order). An upsert table
 * also has an open-addressing index (linear probing, backward-shift
 * deletion) from key text to row.
 *
 * Bounds. An append table drops its oldest row past 'dashboard.max-rows'.
 * An upsert table keeps every key up to 'dashboard.max-keys'; without a
 * sort it then drops the least recently changed key, with one it drops
 * the lowest-ranked keys down to max-keys once it holds an eighth more
 * (so eviction costs O(log n) a row amortized, not a sort per row).
 *
 * Rendering. Without a sort the shown rows are the max-rows most recently
 * changed, oldest first (walked back from the tail: O(shown rows)), with
 * their change numbers ("changes": one counter for the process, so that
 * the HTTP server can merge the copies of a table that workers hold). With
 * one, when the table changed since the last render, the first max-rows
 * are selected (quickselect, O(n)) and only they sorted (ties by key
 * text, or arrival): O(n + shown log shown) per changed render. The
 * rendered object is cached until the next change, so a tick of an
 * unchanged table is one copy.
 */
#include "connectors/dashboard.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/mem.h"
#include "json/json.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DASH_DEFAULT_MAX_ROWS "1000"
/* Change numbers: one counter for every table of the process, so the
 * rows of several tables (the workers' copies of one table) can be put in
 * the order they last changed (the "changes" of a table without a sort).
 * Relaxed: it orders batches of different threads only as closely as they
 * ran, which is all a merge for display needs. */
static _Atomic uint64_t dash_changes;
#define DASH_DEFAULT_MAX_KEYS "100000"

typedef enum chart_kind { CHART_NONE, CHART_BARS, CHART_LINE } chart_kind;

typedef struct drow {
    struct drow *prev, *next;   /* change order (append: arrival order) */
    uint64_t hash;              /* of the key text */
    uint64_t seq;               /* arrival number: ties of an append table */
    uint64_t chg;               /* change number (dash_changes) of its last change */
    rn_value_t sortv;           /* the sort column's value; a string points into data */
    uint32_t klen;              /* key text bytes at data */
    uint32_t jlen;              /* row JSON bytes at data + klen */
    char data[];
} drow_t;

struct rn_dash_table {
    char *name;                 /* owned */
    char *pipeline;             /* owned */
    rn_schema_t *schema;        /* referenced */
    int npk;                    /* key columns; 0 = an append table */
    int *pk;                    /* owned */
    int64_t max_rows, max_keys;
    int sort_col;               /* -1 = change order */
    bool sort_desc;
    chart_kind chart;
    int chart_x, chart_y;       /* columns, when chart != CHART_NONE */
    drow_t *head, *tail;        /* change order list */
    int64_t nrows;
    uint64_t seq;               /* rows ever stored */
    drow_t **index;             /* upsert: open addressing, NULL = empty */
    size_t index_cap;           /* power of two, >= 2 * nrows */
    drow_t **sorted;            /* with a sort: while !sort_dirty, the first sorted_n rows in
                                 * order, then the others */
    int64_t sorted_n;
    size_t sorted_cap;
    bool sort_dirty;            /* rows changed since the last sort */
    rn_buf_t cache;             /* the rendered object, valid while cache_ok */
    bool cache_ok;
    bool changed;               /* changed since the last render that cleared it */
    int64_t updated_ms;         /* last change; -1 = none yet */
    rn_buf_t scratch;           /* key text and row JSON being built */
};

/* ---- options ------------------------------------------------------------ */

bool rn_dash_is_option(const char *key)
{
    return !strcmp(key, "dashboard") || !strncmp(key, "dashboard.", 10);
}

static rn_err_t parse_int(const char *key, const char *v, int64_t *out, char *errbuf, size_t errbuf_size)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 1) {
        snprintf(errbuf, errbuf_size, "option '%s' must be an integer >= 1, not '%s'", key, v);
        return RN_ERR_CONFIG;
    }
    *out = n;
    return RN_OK;
}

rn_err_t rn_dash_conf_parse(const rn_option_t *opts, int nopts, bool dash_connector, rn_dash_conf_t *out,
                            int *bad, char *errbuf, size_t errbuf_size)
{
    memset(out, 0, sizeof *out);
    out->max_rows = atoll(DASH_DEFAULT_MAX_ROWS);
    out->max_keys = atoll(DASH_DEFAULT_MAX_KEYS);
    out->chart = "auto";
    out->enabled = dash_connector;
    *bad = -1;
    int first_dot = -1;
    for (int i = 0; i < nopts; i++) {
        const char *k = opts[i].key, *v = opts[i].value;
        if (!rn_dash_is_option(k)) continue;
        *bad = i;
        rn_err_t err = RN_OK;
        if (!strcmp(k, "dashboard")) {
            if (!strcasecmp(v, "true")) out->enabled = true;
            else if (!strcasecmp(v, "false")) out->enabled = dash_connector;
            else {
                snprintf(errbuf, errbuf_size, "option 'dashboard' must be 'true' or 'false', not '%s'", v);
                return RN_ERR_CONFIG;
            }
            continue;
        }
        if (first_dot < 0) first_dot = i;
        if (!strcmp(k, "dashboard.max-rows")) err = parse_int(k, v, &out->max_rows, errbuf, errbuf_size);
        else if (!strcmp(k, "dashboard.max-keys")) err = parse_int(k, v, &out->max_keys, errbuf, errbuf_size);
        else if (!strcmp(k, "dashboard.sort")) out->sort = v;
        else if (!strcmp(k, "dashboard.key")) out->key = v;
        else if (!strcmp(k, "dashboard.chart")) {
            if (strcmp(v, "auto") && strcmp(v, "bars") && strcmp(v, "line") && strcmp(v, "none")) {
                snprintf(errbuf, errbuf_size, "option 'dashboard.chart' must be one of auto|bars|line|none, not '%s'", v);
                return RN_ERR_CONFIG;
            }
            out->chart = v;
        } else {
            snprintf(errbuf, errbuf_size, "option '%s' is unknown; the dashboard options are 'dashboard', "
                     "'dashboard.max-rows', 'dashboard.max-keys', 'dashboard.sort', 'dashboard.chart' and "
                     "'dashboard.key'", k);
            return RN_ERR_CONFIG;
        }
        if (err != RN_OK) return err;
    }
    if (first_dot >= 0 && !out->enabled) {
        *bad = first_dot;
        snprintf(errbuf, errbuf_size, "option '%s' needs 'dashboard' = 'true'", opts[first_dot].key);
        return RN_ERR_CONFIG;
    }
    *bad = -1;
    return RN_OK;
}

/* Splits 'dashboard.sort' into the column (copied to col) and the
 * direction: 1 DESC, 0 ASC, -1 not given. false when malformed. */
static bool sort_split(const char *spec, char *col, size_t colsize, int *dir)
{
    while (*spec == ' ') spec++;
    const char *e = spec;
    while (*e && *e != ' ') e++;
    size_t n = (size_t)(e - spec);
    if (n == 0 || n >= colsize) return false;
    memcpy(col, spec, n);
    col[n] = '\0';
    while (*e == ' ') e++;
    const char *d = e;
    while (*e && *e != ' ') e++;
    size_t dn = (size_t)(e - d);
    while (*e == ' ') e++;
    if (*e) return false;
    if (dn == 0) *dir = -1;
    else if (dn == 3 && !strncasecmp(d, "ASC", 3)) *dir = 0;
    else if (dn == 4 && !strncasecmp(d, "DESC", 4)) *dir = 1;
    else return false;
    return true;
}

int rn_dash_key(const rn_dash_conf_t *c, const rn_schema_t *s, int npk, const int *pk, int *out)
{
    if (!c->key) {
        if (npk > 0) memcpy(out, pk, sizeof(int) * (size_t)npk);
        return npk;
    }
    int n = 0;
    for (const char *p = c->key; *p;) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') e++;
        if (e == p) break;
        char name[256];
        size_t len = (size_t)(e - p);
        if (len >= sizeof name || n >= s->ncols) return -1;
        memcpy(name, p, len);
        name[len] = '\0';
        int col = rn_schema_find(s, name);
        if (col < 0) return -1;
        for (int i = 0; i < n; i++)
            if (out[i] == col) return -1;
        out[n++] = col;
        p = e;
    }
    return n;
}

static bool in_key(int col, int npk, const int *pk)
{
    for (int i = 0; i < npk; i++)
        if (pk[i] == col) return true;
    return false;
}

/* The resolved sort (col -1: change order) and chart of a table; false
 * with a message for options that do not fit the schema. */
static bool resolve(const rn_dash_conf_t *c, const rn_schema_t *s, int npk, const int *pk, int *sort_col,
                    bool *desc, chart_kind *kind, int *x, int *y, char *errbuf, size_t errbuf_size)
{
    int nnum = 0, num = -1; /* numeric non-key columns */
    for (int i = 0; i < s->ncols; i++)
        if (!in_key(i, npk, pk) && rn_type_is_numeric(s->cols[i].type->id)) {
            if (nnum++ == 0) num = i;
        }
    *sort_col = -1;
    *desc = false;
    if (c->sort) {
        char col[256];
        int dir;
        if (!sort_split(c->sort, col, sizeof col, &dir)) {
            snprintf(errbuf, errbuf_size, "option 'dashboard.sort' must be a column, optionally followed by ASC "
                     "or DESC, not '%s'", c->sort);
            return false;
        }
        *sort_col = rn_schema_find(s, col);
        if (*sort_col < 0) {
            snprintf(errbuf, errbuf_size, "option 'dashboard.sort' names column '%s', which the table does not have",
                     col);
            return false;
        }
        *desc = dir < 0 ? rn_type_is_numeric(s->cols[*sort_col].type->id) : dir == 1;
    } else if (npk > 0 && nnum == 1) {
        *sort_col = num;
        *desc = true;
    }
    int wend = rn_schema_find(s, "window_end"), wstart = rn_schema_find(s, "window_start");
    int tcol = wend >= 0 ? wend : wstart;
    int line_y = -1;
    for (int i = 0; i < s->ncols && line_y < 0; i++)
        if (i != wend && i != wstart && rn_type_is_numeric(s->cols[i].type->id)) line_y = i;
    *kind = CHART_NONE;
    *x = *y = -1;
    const char *ch = c->chart ? c->chart : "auto";
    if (!strcmp(ch, "line") || (!strcmp(ch, "auto") && tcol >= 0 && line_y >= 0)) {
        if (tcol < 0) /* an explicit line: over the first timestamp column */
            for (int i = 0; i < s->ncols && tcol < 0; i++)
                if (s->cols[i].type->id == RN_TYPE_TIMESTAMP || s->cols[i].type->id == RN_TYPE_TIMESTAMP_LTZ) tcol = i;
        if (line_y == tcol) line_y = -1;
        for (int i = 0; i < s->ncols && line_y < 0; i++)
            if (i != tcol && rn_type_is_numeric(s->cols[i].type->id)) line_y = i;
        if (tcol < 0 || line_y < 0) {
            snprintf(errbuf, errbuf_size, "option 'dashboard.chart': a line needs a window_end, window_start or "
                     "TIMESTAMP column and a numeric column");
            return false;
        }
        *kind = CHART_LINE;
        *x = tcol;
        *y = line_y;
    } else if (!strcmp(ch, "bars") || (!strcmp(ch, "auto") && npk == 1 && nnum == 1)) {
        int bx = npk >= 1 ? pk[0] : -1, by = -1;
        for (int i = 0; i < s->ncols && bx < 0; i++)
            if (!rn_type_is_numeric(s->cols[i].type->id)) bx = i;
        if (*sort_col >= 0 && *sort_col != bx && rn_type_is_numeric(s->cols[*sort_col].type->id)) by = *sort_col;
        for (int i = 0; i < s->ncols && by < 0; i++)
            if (i != bx && !in_key(i, npk, pk) && rn_type_is_numeric(s->cols[i].type->id)) by = i;
        if (bx < 0 || by < 0) {
            snprintf(errbuf, errbuf_size, "option 'dashboard.chart': bars need a key (or non-numeric) column "
                     "and a numeric value column");
            return false;
        }
        *kind = CHART_BARS;
        *x = bx;
        *y = by;
    }
    return true;
}

rn_err_t rn_dash_check(const rn_dash_conf_t *c, const rn_schema_t *s, int npk, const int *pk, char *errbuf,
                       size_t errbuf_size)
{
    int *key = rn_malloc(sizeof(int) * (size_t)(s->ncols ? s->ncols : 1));
    if (!key) return RN_ERR_NOMEM;
    int nkey = rn_dash_key(c, s, npk, pk, key);
    rn_err_t err = RN_OK;
    int sc, x, y;
    bool desc;
    chart_kind kind;
    if (nkey < 0) {
        snprintf(errbuf, errbuf_size, "option 'dashboard.key' must list columns of the table, each once, "
                 "separated by commas, not '%s'", c->key);
        err = RN_ERR_CONFIG;
    } else if (!resolve(c, s, nkey, key, &sc, &desc, &kind, &x, &y, errbuf, errbuf_size)) {
        err = RN_ERR_CONFIG;
    }
    rn_free(key);
    return err;
}

void rn_dash_describe(const rn_dash_conf_t *c, rn_buf_t *out)
{
    rn_buf_appendf(out, "max-rows %lld", (long long)c->max_rows);
    if (c->key) rn_buf_appendf(out, ", key %s", c->key);
    if (c->sort) rn_buf_appendf(out, ", sort %s", c->sort);
    rn_buf_appendf(out, ", chart %s", c->chart ? c->chart : "auto");
}

/* ---- the table ---------------------------------------------------------- */

rn_err_t rn_dash_table_new(const rn_dash_conf_t *c, const char *pipeline, const char *name, const rn_schema_t *s,
                           int npk, const int *pk, rn_dash_table_t **out)
{
    *out = NULL;
    rn_dash_table_t *t = rn_calloc(1, sizeof *t);
    if (!t) return RN_ERR_NOMEM;
    rn_buf_init(&t->cache);
    rn_buf_init(&t->scratch);
    t->updated_ms = -1;
    t->max_rows = c->max_rows;
    t->max_keys = c->max_keys;
    t->name = rn_strdup(name);
    t->pipeline = rn_strdup(pipeline ? pipeline : "");
    t->pk = rn_malloc(sizeof(int) * (size_t)(s->ncols ? s->ncols : 1));
    t->schema = rn_schema_ref((rn_schema_t *)s);
    if (!t->name || !t->pipeline || !t->pk) goto oom;
    if (npk > 0) memcpy(t->pk, pk, sizeof(int) * (size_t)npk);
    t->npk = npk;
    char why[256];
    if (!resolve(c, s, npk, pk, &t->sort_col, &t->sort_desc, &t->chart, &t->chart_x, &t->chart_y, why, sizeof why)) {
        t->sort_col = -1; /* rn_dash_check was skipped: show it plainly */
        t->chart = CHART_NONE;
    }
    if (npk > 0) {
        t->index_cap = 64;
        if (!(t->index = rn_calloc(t->index_cap, sizeof *t->index))) goto oom;
    }
    *out = t;
    return RN_OK;
oom:
    rn_dash_table_free(t);
    return RN_ERR_NOMEM;
}

void rn_dash_table_free(rn_dash_table_t *t)
{
    if (!t) return;
    for (drow_t *r = t->head, *next; r; r = next) {
        next = r->next;
        rn_free(r);
    }
    rn_free(t->index);
    rn_free(t->sorted);
    rn_free(t->pk);
    rn_free(t->name);
    rn_free(t->pipeline);
    if (t->schema) rn_schema_unref(t->schema);
    rn_buf_free(&t->cache);
    rn_buf_free(&t->scratch);
    rn_free(t);
}

int64_t rn_dash_table_size(const rn_dash_table_t *t) { return t->nrows; }
const char *rn_dash_table_name(const rn_dash_table_t *t) { return t->name; }
bool rn_dash_table_changed(const rn_dash_table_t *t) { return t->changed; }

static void list_unlink(rn_dash_table_t *t, drow_t *r)
{
    if (r->prev) r->prev->next = r->next;
    else t->head = r->next;
    if (r->next) r->next->prev = r->prev;
    else t->tail = r->prev;
    r->prev = r->next = NULL;
}

static void list_append(rn_dash_table_t *t, drow_t *r)
{
    r->prev = t->tail;
    r->next = NULL;
    if (t->tail) t->tail->next = r;
    else t->head = r;
    t->tail = r;
}

/* Slot of key text k in the index: its row's, or the empty one where it
 * would go. */
static size_t index_slot(const rn_dash_table_t *t, const char *k, size_t klen, uint64_t h)
{
    size_t mask = t->index_cap - 1, i = h & mask;
    for (;;) {
        const drow_t *r = t->index[i];
        if (!r || (r->hash == h && r->klen == klen && !memcmp(r->data, k, klen))) return i;
        i = (i + 1) & mask;
    }
}

static bool index_grow(rn_dash_table_t *t)
{
    size_t cap = t->index_cap * 2;
    drow_t **ix = rn_calloc(cap, sizeof *ix);
    if (!ix) return false;
    for (drow_t *r = t->head; r; r = r->next) {
        size_t i = r->hash & (cap - 1);
        while (ix[i]) i = (i + 1) & (cap - 1);
        ix[i] = r;
    }
    rn_free(t->index);
    t->index = ix;
    t->index_cap = cap;
    return true;
}

/* Removes slot i from the index, shifting later entries of its probe
 * run back (no tombstones). */
static void index_remove(rn_dash_table_t *t, size_t i)
{
    size_t mask = t->index_cap - 1, j = i;
    t->index[i] = NULL;
    for (;;) {
        j = (j + 1) & mask;
        drow_t *r = t->index[j];
        if (!r) return;
        size_t home = r->hash & mask;
        /* r may move to i when i lies cyclically in [home, j) */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            t->index[i] = r;
            t->index[j] = NULL;
            i = j;
        }
    }
}

/* Unlinks and frees row r (an upsert table's from the index too). */
static void row_drop(rn_dash_table_t *t, drow_t *r)
{
    if (t->npk > 0) index_remove(t, index_slot(t, r->data, r->klen, r->hash));
    list_unlink(t, r);
    rn_free(r);
    t->nrows--;
    t->sort_dirty = true;
}

/* Order of two rows under the table's sort: NULLs last, then ties by key
 * text (upsert) or arrival (append). */
static int row_cmp(const rn_dash_table_t *t, const drow_t *a, const drow_t *b)
{
    if (t->sort_col >= 0) {
        if (a->sortv.null != b->sortv.null) return a->sortv.null ? 1 : -1;
        if (!a->sortv.null) {
            int c = rn_value_compare(t->schema->cols[t->sort_col].type->id, &a->sortv, &b->sortv);
            if (c) return t->sort_desc ? -c : c;
        }
    }
    if (t->npk > 0) {
        size_t n = a->klen < b->klen ? a->klen : b->klen;
        int c = memcmp(a->data, b->data, n);
        if (c) return c;
        return a->klen < b->klen ? -1 : a->klen > b->klen;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static _Thread_local const rn_dash_table_t *sort_table; /* qsort's context */
static int row_qcmp(const void *a, const void *b)
{
    return row_cmp(sort_table, *(drow_t *const *)a, *(drow_t *const *)b);
}

/* Moves the k first rows in the table's order to a[0..k) (in no order),
 * the others after them: quickselect, O(n) expected. */
static void select_first(const rn_dash_table_t *t, drow_t **a, size_t n, size_t k)
{
    size_t lo = 0, hi = n; /* the k-th row lies in a[lo..hi) */
    while (hi - lo > 1 && k > lo && k < hi) {
        /* median of three as pivot, moved to a[hi - 1] */
        size_t mid = lo + (hi - lo) / 2;
        drow_t *x = a[lo], *y = a[mid], *z = a[hi - 1];
        size_t m = row_cmp(t, x, y) < 0 ? (row_cmp(t, y, z) < 0 ? mid : (row_cmp(t, x, z) < 0 ? hi - 1 : lo))
                                        : (row_cmp(t, x, z) < 0 ? lo : (row_cmp(t, y, z) < 0 ? hi - 1 : mid));
        drow_t *pivot = a[m];
        a[m] = a[hi - 1];
        a[hi - 1] = pivot;
        size_t store = lo;
        for (size_t i = lo; i < hi - 1; i++)
            if (row_cmp(t, a[i], pivot) < 0) {
                drow_t *tmp = a[i];
                a[i] = a[store];
                a[store++] = tmp;
            }
        a[hi - 1] = a[store];
        a[store] = pivot; /* a[lo..store) < pivot <= a[store + 1..hi); rows never tie (key or arrival) */
        if (store == k) return;
        if (store < k) lo = store + 1;
        else hi = store;
    }
}

/* Brings t->sorted up to date (a sorted table only): its first
 * t->sorted_n rows are the table's first min(nrows, keep) rows in order.
 * Sorting only the rows shown costs O(n + shown log shown). */
static rn_err_t sort_rows(rn_dash_table_t *t, int64_t keep)
{
    if (!t->sort_dirty && t->sorted_n >= (keep < t->nrows ? keep : t->nrows)) return RN_OK;
    if ((size_t)t->nrows > t->sorted_cap) {
        size_t cap = (size_t)t->nrows + (size_t)t->nrows / 2 + 16;
        drow_t **s = rn_realloc(t->sorted, cap * sizeof *s);
        if (!s) return RN_ERR_NOMEM;
        t->sorted = s;
        t->sorted_cap = cap;
    }
    size_t n = 0;
    for (drow_t *r = t->head; r; r = r->next) t->sorted[n++] = r;
    size_t k = keep < t->nrows ? (size_t)keep : n;
    if (k < n) select_first(t, t->sorted, n, k);
    sort_table = t;
    qsort(t->sorted, k, sizeof *t->sorted, row_qcmp);
    sort_table = NULL;
    t->sorted_n = (int64_t)k;
    t->sort_dirty = false;
    return RN_OK;
}

/* An upsert table past max-keys: without a sort drops the least recently
 * changed key; with one, once it holds an eighth more, the lowest-ranked
 * down to max-keys. */
static rn_err_t evict(rn_dash_table_t *t)
{
    if (t->nrows <= t->max_keys) return RN_OK;
    if (t->sort_col < 0) {
        while (t->nrows > t->max_keys) row_drop(t, t->head);
        return RN_OK;
    }
    if (t->nrows < t->max_keys + t->max_keys / 8 + 1) return RN_OK;
    t->sort_dirty = true;
    rn_err_t err = sort_rows(t, t->max_keys);
    if (err != RN_OK) return err;
    int64_t n = t->nrows;
    for (int64_t i = t->max_keys; i < n; i++) row_drop(t, t->sorted[i]);
    return RN_OK;
}

/* Appends the key text of row r: one column's value as text (a string's
 * bytes, else its JSON), several as a JSON array. */
static void key_text(const rn_dash_table_t *t, rn_buf_t *b, const rn_batch_t *batch, int r)
{
    if (t->npk == 1) {
        int c = t->pk[0];
        const rn_value_t *v = rn_batch_value_ptr(batch, c, r);
        if (t->schema->cols[c].type->id == RN_TYPE_STRING && !v->null) rn_buf_append(b, v->s, v->len);
        else rn_json_write_value(b, t->schema->cols[c].type->id, v);
        return;
    }
    rn_buf_appendc(b, '[');
    for (int k = 0; k < t->npk; k++) {
        if (k) rn_buf_appendc(b, ',');
        int c = t->pk[k];
        rn_json_write_value(b, t->schema->cols[c].type->id, rn_batch_value_ptr(batch, c, r));
    }
    rn_buf_appendc(b, ']');
}

/* A new row holding the key text key[0..klen) and row r of batch. */
static drow_t *row_make(rn_dash_table_t *t, const char *key, size_t klen, uint64_t h, const rn_batch_t *batch, int r)
{
    rn_buf_t *b = &t->scratch;
    size_t at = b->len;
    rn_buf_appendc(b, '[');
    for (int c = 0; c < t->schema->ncols; c++) {
        if (c) rn_buf_appendc(b, ',');
        rn_json_write_value(b, t->schema->cols[c].type->id, rn_batch_value_ptr(batch, c, r));
    }
    rn_buf_appendc(b, ']');
    if (b->oom) return NULL;
    size_t jlen = b->len - at;
    const rn_value_t *sv = t->sort_col >= 0 ? rn_batch_value_ptr(batch, t->sort_col, r) : &rn_value_null;
    size_t slen = t->sort_col >= 0 && !sv->null && t->schema->cols[t->sort_col].type->id == RN_TYPE_STRING
                      ? sv->len : 0;
    drow_t *row = rn_malloc(sizeof *row + klen + jlen + slen);
    if (!row) return NULL;
    memset(row, 0, sizeof *row);
    row->hash = h;
    row->seq = t->seq++;
    row->klen = (uint32_t)klen;
    row->jlen = (uint32_t)jlen;
    memcpy(row->data, key, klen);
    memcpy(row->data + klen, b->data + at, jlen);
    row->sortv = *sv;
    if (slen) {
        memcpy(row->data + klen + jlen, sv->s, slen);
        row->sortv.s = row->data + klen + jlen;
    }
    return row;
}

rn_err_t rn_dash_table_apply(rn_dash_table_t *t, const rn_batch_t *b, const int *rows, int n, int64_t now_ms)
{
    rn_err_t err = RN_OK;
    uint64_t chg = n > 0 ? atomic_fetch_add_explicit(&dash_changes, (uint64_t)n, memory_order_relaxed) : 0;
    for (int i = 0; i < n && err == RN_OK; i++) {
        int r = rows ? rows[i] : i;
        bool retract = rn_rowkind_is_retract((rn_rowkind_t)b->kinds[r]);
        rn_buf_clear(&t->scratch);
        if (t->npk == 0) {
            if (retract) continue;
            drow_t *row = row_make(t, "", 0, 0, b, r);
            if (!row) {
                err = RN_ERR_NOMEM;
                break;
            }
            row->chg = chg + (uint64_t)i;
            list_append(t, row);
            t->nrows++;
            while (t->nrows > t->max_rows) row_drop(t, t->head);
        } else {
            key_text(t, &t->scratch, b, r);
            if (t->scratch.oom) {
                err = RN_ERR_NOMEM;
                break;
            }
            size_t klen = t->scratch.len;
            uint64_t h = rn_hash_bytes(t->scratch.data, klen, 0x64617368);
            size_t slot = index_slot(t, t->scratch.data, klen, h);
            drow_t *old = t->index[slot];
            if (retract) {
                if (!old) continue;
                row_drop(t, old);
            } else {
                drow_t *row = row_make(t, t->scratch.data, klen, h, b, r);
                if (!row) {
                    err = RN_ERR_NOMEM;
                    break;
                }
                row->chg = chg + (uint64_t)i;
                if (old) { /* keeps its arrival number */
                    row->seq = old->seq;
                    list_unlink(t, old);
                    rn_free(old);
                    t->nrows--;
                }
                t->index[slot] = row;
                list_append(t, row);
                t->nrows++;
                if ((size_t)t->nrows * 2 > t->index_cap && !index_grow(t)) err = RN_ERR_NOMEM;
                if (err == RN_OK) err = evict(t);
            }
        }
        t->sort_dirty = true;
        t->cache_ok = false;
        t->changed = true;
        t->updated_ms = now_ms;
    }
    return err;
}

/* ---- rendering ---------------------------------------------------------- */

static const char *chart_name(chart_kind k)
{
    return k == CHART_BARS ? "bars" : k == CHART_LINE ? "line" : "none";
}

/* Appends the object's members up to "rows": [ (the caller closes it). */
static void render_head(const rn_dash_table_t *t, rn_buf_t *out)
{
    const rn_schema_t *s = t->schema;
    rn_buf_appends(out, "{\"name\": ");
    rn_json_write_string(out, t->name, strlen(t->name));
    rn_buf_appends(out, ", \"pipeline\": ");
    rn_json_write_string(out, t->pipeline, strlen(t->pipeline));
    rn_buf_appends(out, ", \"columns\": [");
    for (int c = 0; c < s->ncols; c++) {
        rn_buf_appends(out, c ? ", {\"name\": " : "{\"name\": ");
        rn_json_write_string(out, s->cols[c].name, strlen(s->cols[c].name));
        rn_buf_appendf(out, ", \"type\": \"%s\"}", rn_type_name(s->cols[c].type->id));
    }
    rn_buf_appends(out, "], \"key\": [");
    for (int k = 0; k < t->npk; k++) {
        if (k) rn_buf_appends(out, ", ");
        const char *n = s->cols[t->pk[k]].name;
        rn_json_write_string(out, n, strlen(n));
    }
    rn_buf_appendf(out, "], \"chart\": {\"kind\": \"%s\"", chart_name(t->chart));
    if (t->chart != CHART_NONE) {
        rn_buf_appends(out, ", \"x\": ");
        rn_json_write_string(out, s->cols[t->chart_x].name, strlen(s->cols[t->chart_x].name));
        rn_buf_appends(out, ", \"y\": ");
        rn_json_write_string(out, s->cols[t->chart_y].name, strlen(s->cols[t->chart_y].name));
    }
    rn_buf_appends(out, "}, \"sort\": ");
    if (t->sort_col >= 0) {
        rn_buf_appends(out, "{\"column\": ");
        rn_json_write_string(out, s->cols[t->sort_col].name, strlen(s->cols[t->sort_col].name));
        rn_buf_appendf(out, ", \"desc\": %s}", t->sort_desc ? "true" : "false");
    } else {
        rn_buf_appends(out, "null");
    }
    rn_buf_appends(out, ", \"max_rows\": ");
    rn_buf_append_i64(out, t->max_rows);
    rn_buf_appends(out, ", \"updated_ms\": ");
    if (t->updated_ms < 0) rn_buf_appends(out, "null");
    else rn_buf_append_i64(out, t->updated_ms);
    rn_buf_appends(out, ", \"total_rows\": ");
    rn_buf_append_i64(out, t->nrows);
    rn_buf_appends(out, ", \"rows\": [");
}

static void render_row(rn_buf_t *out, const drow_t *r, bool first)
{
    if (!first) rn_buf_appends(out, ", ");
    rn_buf_append(out, r->data + r->klen, r->jlen);
}

rn_err_t rn_dash_table_json(rn_dash_table_t *t, rn_buf_t *out, bool clear_changed)
{
    if (!t->cache_ok) {
        rn_buf_clear(&t->cache);
        render_head(t, &t->cache);
        int64_t shown = t->nrows < t->max_rows ? t->nrows : t->max_rows;
        if (t->sort_col >= 0) {
            rn_err_t err = sort_rows(t, t->max_rows);
            if (err != RN_OK) return err;
            for (int64_t i = 0; i < shown; i++) render_row(&t->cache, t->sorted[i], i == 0);
            rn_buf_appends(&t->cache, "]}");
        } else {
            const drow_t *first = t->tail, *r; /* the last `shown`, oldest first */
            for (int64_t i = 1; i < shown; i++) first = first->prev;
            r = first;
            for (int64_t i = 0; i < shown; i++, r = r->next) render_row(&t->cache, r, i == 0);
            rn_buf_appends(&t->cache, "], \"changes\": [");
            r = first;
            for (int64_t i = 0; i < shown; i++, r = r->next) {
                if (i) rn_buf_appends(&t->cache, ", ");
                rn_buf_append_i64(&t->cache, (int64_t)r->chg);
            }
            rn_buf_appends(&t->cache, "]}");
        }
        if (t->cache.oom) return RN_ERR_NOMEM;
        t->cache_ok = true;
    }
    rn_buf_append(out, t->cache.data, t->cache.len);
    if (out->oom) return RN_ERR_NOMEM;
    if (clear_changed) t->changed = false;
    return RN_OK;
}

rn_err_t rn_dash_table_row_json(rn_dash_table_t *t, const char *key, rn_buf_t *out, char *errbuf,
                                size_t errbuf_size)
{
    if (t->npk != 1) {
        snprintf(errbuf, errbuf_size, "table '%s' has no one-column key to look up", t->name);
        return RN_ERR_CONFIG;
    }
    /* the key's text as key_text writes it */
    rn_buf_t *k = &t->scratch;
    rn_buf_clear(k);
    rn_type_id type = t->schema->cols[t->pk[0]].type->id;
    char *end = NULL;
    errno = 0;
    if (rn_type_is_integer(type) || type == RN_TYPE_TIMESTAMP || type == RN_TYPE_TIMESTAMP_LTZ) {
        long long v = strtoll(key, &end, 10);
        if (!errno && end != key && !*end) rn_buf_append_i64(k, v);
    } else if (type == RN_TYPE_DOUBLE) {
        rn_value_t v = rn_value_double(strtod(key, &end));
        if (!errno && end != key && !*end) rn_json_write_value(k, type, &v);
    } else {
        rn_buf_appends(k, key);
    }
    if (k->oom) return RN_ERR_NOMEM;
    drow_t *row = NULL;
    if (k->len) {
        uint64_t h = rn_hash_bytes(k->data, k->len, 0x64617368);
        row = t->index[index_slot(t, k->data, k->len, h)];
    }
    render_head(t, out);
    if (row) render_row(out, row, true);
    if (t->sort_col < 0) {
        rn_buf_appends(out, "], \"changes\": [");
        if (row) rn_buf_append_i64(out, (int64_t)row->chg);
    }
    rn_buf_appends(out, "]}");
    return out->oom ? RN_ERR_NOMEM : RN_OK;
}

/* ---- the sink writer ---------------------------------------------------- */

typedef struct dash_io {
    rn_sink_io_t io;
    rn_dash_table_t *table;     /* owned when owner */
    bool owner;
} dash_io_t;

static rn_err_t dash_write_rows(rn_sink_io_t *io, const rn_batch_t *batch, const int *rows, int n,
                                const rn_sink_layout_t *layout, char *errbuf, size_t errbuf_size)
{
    (void)layout;
    dash_io_t *w = (dash_io_t *)io;
    rn_err_t err = rn_dash_table_apply(w->table, batch, rows, n, rn_clock_wall_ms());
    if (err != RN_OK) snprintf(errbuf, errbuf_size, "dashboard table '%s': out of memory", w->table->name);
    return err; /* the sink operator counts io->records */
}

static rn_err_t dash_write(rn_sink_io_t *io, const char *key, size_t klen, const char *value, size_t vlen,
                           rn_rowkind_t kind, char *errbuf, size_t errbuf_size)
{
    (void)io, (void)key, (void)klen, (void)value, (void)vlen, (void)kind;
    snprintf(errbuf, errbuf_size, "dashboard tables take typed rows only");
    return RN_ERR_FATAL;
}

static rn_err_t dash_flush(rn_sink_io_t *io, char *errbuf, size_t errbuf_size)
{
    (void)io, (void)errbuf, (void)errbuf_size;
    return RN_OK;
}

static void dash_close(rn_sink_io_t *io)
{
    dash_io_t *w = (dash_io_t *)io;
    if (w->owner) rn_dash_table_free(w->table);
    rn_free(w);
}

rn_err_t rn_dash_sink_open(const rn_dash_conf_t *c, const rn_open_ctx_t *ctx, rn_dash_table_t *shared,
                           rn_sink_io_t **out, rn_dash_table_t **table)
{
    *out = NULL;
    *table = NULL;
    dash_io_t *w = rn_calloc(1, sizeof *w);
    if (!w) return RN_ERR_NOMEM;
    int npk = ctx->sink_mode == RN_SINK_UPSERT ? ctx->npk : 0;
    w->table = shared;
    w->owner = !shared;
    rn_err_t err = shared ? RN_OK : rn_dash_table_new(c, ctx->pipeline, ctx->table, ctx->schema, npk, ctx->pk,
                                                      &w->table);
    if (err != RN_OK) {
        rn_free(w);
        return err;
    }
    w->io.write = dash_write;
    w->io.write_rows = dash_write_rows;
    w->io.flush = dash_flush;
    w->io.close = dash_close;
    *out = &w->io;
    *table = w->table;
    return RN_OK;
}

/* ---- the connector ------------------------------------------------------ */

static const rn_option_spec_t dash_options[] = {
    {"dashboard.max-rows", RN_OPT_INT, DASH_DEFAULT_MAX_ROWS, offsetof(rn_dash_conf_t, max_rows), NULL, false,
     "rows shown (an append table keeps the last this many)"},
    {"dashboard.max-keys", RN_OPT_INT, DASH_DEFAULT_MAX_KEYS, offsetof(rn_dash_conf_t, max_keys), NULL, false,
     "keys an upsert table keeps (the lowest-ranked are dropped)"},
    {"dashboard.sort", RN_OPT_STRING, NULL, offsetof(rn_dash_conf_t, sort), NULL, false,
     "the column rows are shown in order of, optionally ASC or DESC"},
    {"dashboard.chart", RN_OPT_ENUM, "auto", offsetof(rn_dash_conf_t, chart), "auto|bars|line|none", false,
     "how the page draws the table"},
    {NULL},
};

static rn_err_t dash_validate(const void *conf, char *errbuf, size_t errbuf_size)
{
    const rn_dash_conf_t *c = conf;
    if (c->max_rows < 1) {
        snprintf(errbuf, errbuf_size, "option 'dashboard.max-rows' must be an integer >= 1, not %lld",
                 (long long)c->max_rows);
        return RN_ERR_CONFIG;
    }
    if (c->max_keys < 1) {
        snprintf(errbuf, errbuf_size, "option 'dashboard.max-keys' must be an integer >= 1, not %lld",
                 (long long)c->max_keys);
        return RN_ERR_CONFIG;
    }
    return RN_OK;
}

static void dash_describe(const void *conf, rn_buf_t *out) { rn_dash_describe(conf, out); }

static rn_err_t dash_open_sink(const void *conf, const rn_open_ctx_t *ctx, rn_sink_io_t **out, char *errbuf,
                               size_t errbuf_size)
{
    rn_dash_table_t *t;
    rn_err_t err = rn_dash_sink_open(conf, ctx, NULL, out, &t);
    if (err != RN_OK) snprintf(errbuf, errbuf_size, "table '%s': out of memory", ctx->table);
    return err;
}

const rn_connector_t rn_connector_dashboard = {
    .name = "dashboard",
    .roles = RN_ROLE_SINK,
    .sink_mode = RN_SINK_APPEND,
    .pk_upsert = true,          /* a PRIMARY KEY makes it an upsert table */
    .options = dash_options,
    .conf_size = sizeof(rn_dash_conf_t),
    .open_sink = dash_open_sink,
    .describe = dash_describe,
    .validate = dash_validate,
};
