/*
 * file_lookup.c - a lookup table read whole from a JSON-lines file: what
 * stands for a database table on the right side of a lookup join in
 * `runnel test` (IN/<table-name>.jsonl, runtime/run.c).
 *
 * At open every line is decoded to the table's schema (a column "a.b"
 * is the field b of object a, as a source reads it) and kept in memory
 * with a hash index of the key columns; lookup() answers from the index,
 * scan() hands the rows out in file order. A line that does not decode
 * is an error naming the file and line: a test table should be right.
 */
#include "connectors/connector.h"
#include "core/mem.h"
#include "json/json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct file_lookup {
    rn_lookup_t l;       /* first: the interface */
    rn_schema_t *schema; /* the table's columns (reference) */
    int nkeys;
    int *key_cols;     /* nkeys columns (owned) */
    rn_arena_t arena;  /* rows and strings */
    rn_value_t **rows; /* nrows arrays of ncols values (owned array) */
    int64_t nrows;
    char *where;     /* "file IN/t.jsonl" (owned) */
    int64_t *head;   /* nbuckets: first row of each hash bucket of the key, or -1 (owned) */
    int64_t *next;   /* nrows: next row of the same bucket, or -1 (owned) */
    size_t nbuckets; /* a power of two */
} file_lookup_t;

/* The hash of the key columns of a row, or of row k of a keys batch
 * (row == NULL). */
static uint64_t key_hash(const file_lookup_t *f, const rn_value_t *row, const rn_batch_t *keys, int k)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < f->nkeys; i++) {
        rn_type_id t = f->schema->cols[f->key_cols[i]].type->id;
        h = rn_value_hash(t, row ? &row[f->key_cols[i]] : rn_batch_value_ptr(keys, i, k), h);
    }
    return h;
}

/* Indexes the rows by key. False on OOM. */
static bool file_lookup_index(file_lookup_t *f)
{
    f->nbuckets = 16;
    while (f->nbuckets < (size_t)f->nrows * 2) f->nbuckets *= 2;
    f->head = rn_malloc(sizeof(int64_t) * f->nbuckets);
    f->next = rn_malloc(sizeof(int64_t) * (size_t)(f->nrows ? f->nrows : 1));
    if (!f->head || !f->next) return false;
    memset(f->head, -1, sizeof(int64_t) * f->nbuckets);
    for (int64_t r = f->nrows - 1; r >= 0; r--) { /* chains in file order */
        size_t b = key_hash(f, f->rows[r], NULL, 0) & (f->nbuckets - 1);
        f->next[r] = f->head[b];
        f->head[b] = r;
    }
    return true;
}

static bool row_matches(const file_lookup_t *f, const rn_value_t *row, const rn_batch_t *keys, int k)
{
    for (int i = 0; i < f->nkeys; i++) {
        const rn_value_t *a = &row[f->key_cols[i]], *b = rn_batch_value_ptr(keys, i, k);
        if (a->null || b->null) return false;
        rn_type_id t = f->schema->cols[f->key_cols[i]].type->id;
        if (!rn_value_equal(t, a, b)) return false;
    }
    return true;
}

static void put(const file_lookup_t *f, rn_batch_t *out, const rn_value_t *row)
{
    int r = out->nrows++;
    for (int c = 0; c < f->schema->ncols; c++) out->cols[c][r] = row[c];
    out->kinds[r] = RN_ROW_INSERT;
}

static rn_err_t file_lookup_lookup(rn_lookup_t *l, const rn_batch_t *keys, rn_batch_t *out, int *key_of,
                                   int *done, rn_arena_t *arena, char *errbuf, size_t errbuf_size)
{
    (void)arena, (void)errbuf, (void)errbuf_size;
    file_lookup_t *f = (file_lookup_t *)l;
    for (int k = 0; k < keys->nrows; k++) {
        int64_t n = 0, first = f->head[key_hash(f, NULL, keys, k) & (f->nbuckets - 1)];
        for (int64_t r = first; r >= 0; r = f->next[r]) n += row_matches(f, f->rows[r], keys, k);
        if (out->nrows + n > out->cap) {
            *done = k;
            return RN_OK;
        }
        for (int64_t r = first; r >= 0; r = f->next[r])
            if (row_matches(f, f->rows[r], keys, k)) {
                key_of[out->nrows] = k;
                put(f, out, f->rows[r]);
            }
    }
    *done = keys->nrows;
    return RN_OK;
}

static rn_err_t file_lookup_scan(rn_lookup_t *l, rn_batch_t *out, int64_t *cursor, bool *done,
                                 rn_arena_t *arena, char *errbuf, size_t errbuf_size)
{
    (void)arena, (void)errbuf, (void)errbuf_size;
    file_lookup_t *f = (file_lookup_t *)l;
    while (*cursor < f->nrows && out->nrows < out->cap) put(f, out, f->rows[(*cursor)++]);
    *done = *cursor >= f->nrows;
    return RN_OK;
}

static void file_lookup_close(rn_lookup_t *l)
{
    file_lookup_t *f = (file_lookup_t *)l;
    rn_schema_unref(f->schema);
    rn_free(f->key_cols);
    rn_free(f->rows);
    rn_free(f->where);
    rn_free(f->head);
    rn_free(f->next);
    rn_arena_free(&f->arena);
    rn_free(f);
}

/* Decodes the lines of text[0..len) (padded) into f->rows. */
static rn_err_t file_lookup_load(file_lookup_t *f, const char *path, char *text, size_t len, char *errbuf,
                                 size_t errbuf_size)
{
    int ncols = f->schema->ncols;
    rn_json_field_t *fields = rn_calloc((size_t)(ncols ? ncols : 1), sizeof *fields);
    char ***parts = rn_calloc((size_t)(ncols ? ncols : 1), sizeof *parts);
    rn_json_decoder_t *dec = NULL;
    rn_value_t **cols = rn_calloc((size_t)(ncols ? ncols : 1), sizeof *cols);
    rn_err_t err = RN_ERR_NOMEM;
    if (!fields || !parts || !cols) goto out;
    for (int c = 0; c < ncols; c++) { /* "a.b" is field b of object a */
        const char *name = f->schema->cols[c].name;
        int np = 1;
        for (const char *p = name; *p; p++) np += *p == '.';
        if (!(parts[c] = rn_arena_alloc(&f->arena, sizeof(char *) * (size_t)np))) goto out;
        int i = 0;
        for (const char *p = name;;) {
            const char *dot = strchr(p, '.');
            size_t n = dot ? (size_t)(dot - p) : strlen(p);
            if (!(parts[c][i++] = rn_arena_strndup(&f->arena, p, n))) goto out;
            if (!dot) break;
            p = dot + 1;
        }
        fields[c] = (rn_json_field_t){
            .nparts = np, .parts = (const char *const *)parts[c], .type = f->schema->cols[c].type->id};
    }
    if (!(dec = rn_json_decoder_new(fields, ncols, errbuf, errbuf_size))) goto out;
    int64_t have = 0, line = 0;
    for (size_t at = 0; at < len;) {
        char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        line++;
        size_t s = at, e = end;
        while (s < e && (text[s] == ' ' || text[s] == '\t' || text[s] == '\r')) s++;
        at = end + 1;
        if (s == e) continue;
        if (f->nrows == have) {
            int64_t nh = have ? have * 2 : 64;
            rn_value_t **nr = rn_realloc(f->rows, sizeof *nr * (size_t)nh);
            if (!nr) goto out;
            f->rows = nr;
            have = nh;
        }
        rn_value_t *row = rn_arena_alloc(&f->arena, sizeof *row * (size_t)(ncols ? ncols : 1));
        if (!row) goto out;
        for (int c = 0; c < ncols; c++) cols[c] = &row[c];
        char msg[512];
        /* decode in place: the text stays (its strings are returned zero-copy) */
        rn_err_t de = rn_json_decode(dec, text + s, e - s, cols, 0, &f->arena, msg, sizeof msg);
        if (de != RN_OK) {
            if (de == RN_ERR_NOMEM) goto out;
            snprintf(errbuf, errbuf_size, "%s:%lld: %s", path, (long long)line, msg);
            err = RN_ERR_DECODE;
            goto out;
        }
        f->rows[f->nrows++] = row;
    }
    err = RN_OK;
out:
    if (err == RN_ERR_NOMEM) snprintf(errbuf, errbuf_size, "out of memory reading %s", path);
    rn_json_decoder_free(dec);
    rn_free(fields);
    rn_free(parts);
    rn_free(cols);
    return err;
}

rn_err_t rn_file_lookup_open(const char *path, rn_schema_t *schema, const int *key_cols, int nkeys,
                             rn_lookup_t **out, char *errbuf, size_t errbuf_size)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(errbuf, errbuf_size, "cannot open %s: %s", path, strerror(errno));
        return RN_ERR_IO;
    }
    file_lookup_t *f = rn_calloc(1, sizeof *f);
    if (!f) {
        fclose(fp);
        return RN_ERR_NOMEM;
    }
    rn_arena_init(&f->arena, 64 << 10);
    f->schema = rn_schema_ref(schema);
    f->nkeys = nkeys;
    f->key_cols = rn_malloc(sizeof(int) * (size_t)(nkeys ? nkeys : 1));
    size_t wl = strlen(path) + 8;
    f->where = rn_malloc(wl);
    rn_err_t err = RN_ERR_NOMEM;
    if (!f->key_cols || !f->where) goto fail;
    memcpy(f->key_cols, key_cols, sizeof(int) * (size_t)nkeys);
    snprintf(f->where, wl, "file %s", path);
    /* the whole file, padded for the JSON decoder, kept in the arena */
    size_t cap = 1 << 16, len = 0;
    char *text = rn_malloc(cap + RN_JSON_PADDING);
    if (!text) goto fail;
    for (;;) {
        if (cap - len < 4096) {
            char *nt = rn_realloc(text, cap * 2 + RN_JSON_PADDING);
            if (!nt) {
                rn_free(text);
                goto fail;
            }
            text = nt;
            cap *= 2;
        }
        size_t n = fread(text + len, 1, cap - len, fp);
        len += n;
        if (n == 0) break;
    }
    if (ferror(fp)) {
        snprintf(errbuf, errbuf_size, "cannot read %s: %s", path, strerror(errno));
        rn_free(text);
        err = RN_ERR_IO;
        goto fail;
    }
    char *kept = rn_arena_alloc(&f->arena, len + RN_JSON_PADDING);
    if (!kept) {
        rn_free(text);
        goto fail;
    }
    memcpy(kept, text, len);
    memset(kept + len, 0, RN_JSON_PADDING);
    rn_free(text);
    if ((err = file_lookup_load(f, path, kept, len, errbuf, errbuf_size)) != RN_OK) goto fail;
    if (!file_lookup_index(f)) {
        err = RN_ERR_NOMEM;
        goto fail;
    }
    fclose(fp);
    f->l.lookup = file_lookup_lookup;
    f->l.scan = file_lookup_scan;
    f->l.close = file_lookup_close;
    f->l.where = f->where;
    *out = &f->l;
    return RN_OK;
fail:
    fclose(fp);
    if (err == RN_ERR_NOMEM) snprintf(errbuf, errbuf_size, "out of memory reading %s", path);
    file_lookup_close(&f->l);
    return err;
}
