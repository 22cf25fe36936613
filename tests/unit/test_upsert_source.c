/*
 * test_upsert_source.c - the scan of an upsert table (rn_source_set_upsert)
 * over the keyed file reader (rn_file_reader_open_keyed): {"key": K,
 * "value": V} lines become records with a key, a null value a tombstone;
 * tombstones become -D rows holding the key columns decoded from the
 * record key; a tombstone without a key and undecodable records are dead
 * letters. Both ways a source reads keys: from the record key only (Kafka),
 * and in `runnel test` (keys from the value, keyed lines from their key).
 * And the keyed reader's split itself on odd and broken lines, which are
 * handed out whole, as plain values.
 */
#include "connectors/connector.h"
#include "core/arena.h"
#include "core/mem.h"
#include "op/op.h"
#include "rn_test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The capture: rows as "+I(1,a,2.5)", separated by spaces. */
static rn_err_t capture_process(rn_op_t *op, int port, const rn_batch_t *b, rn_ctx_t *ctx)
{
    rn_buf_t *t = op->priv;
    for (int r = 0; r < b->nrows; r++) {
        if (t->len) rn_buf_appendc(t, ' ');
        rn_buf_appends(t, rn_rowkind_str((rn_rowkind_t)b->kinds[r]));
        rn_buf_appendc(t, '(');
        for (int c = 0; c < b->schema->ncols; c++) {
            const rn_value_t *v = b->cols[c] ? &b->cols[c][r] : NULL;
            if (c) rn_buf_appendc(t, ',');
            if (!v) rn_buf_appends(t, "-");
            else if (v->null) rn_buf_appends(t, "null");
            else if (b->schema->cols[c].type->id == RN_TYPE_STRING) rn_buf_append(t, v->s, v->len);
            else if (b->schema->cols[c].type->id == RN_TYPE_DOUBLE) rn_buf_appendf(t, "%g", v->d);
            else rn_buf_append_i64(t, v->i);
        }
        rn_buf_appendc(t, ')');
    }
    return RN_OK;
}
static void capture_destroy(rn_op_t *op)
{
    rn_buf_free(op->priv);
    free(op->priv);
}
static const rn_op_vtable_t capture_vt = {.kind = "Capture", .process = capture_process, .destroy = capture_destroy};

static const char *LINES =
    "{\"key\":{\"id\":1},\"value\":{\"id\":1,\"name\":\"a\",\"price\":2.5}}\n"     /* 1 */
    "{\"id\":2,\"name\":\"b\",\"price\":1}\n"                                      /* 2: plain */
    " { \"value\" : {\"name\":\"c\"} , \"key\" : { \"id\" : 3 } } \n"               /* 3: value first */
    "{\"key\":{\"id\":1},\"value\":null}\n"                                        /* 4: tombstone */
    "{\"key\":null,\"value\":null}\n"                                              /* 5: no key */
    "{\"key\":{\"id\":\"x\"},\"value\":null}\n"                                    /* 6: bad key */
    "{\"key\":{\"id\":4},\"value\":{\"price\":\"abc\"}}\n"                         /* 7: bad value */
    "{\"key\":{\"id\":5},\"value\":{\"name\":\"}{\\\"\"},\"extra\":1}\n"           /* 8: not an envelope */
    "{\"key\":{\"id\":6},\"value\":[1]}\n";                                        /* 9: not an envelope */

/* Reads LINES through an upsert scan of (id INT key, name STRING, price
 * DOUBLE); keys_from_value as `runnel test` sets it. Returns the rows
 * (owned) and the dead-letter count. */
static char *read_upsert(bool keys_from_value, uint64_t *dead)
{
    char path[] = "/tmp/runnel-upsert-src-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    if (write(fd, LINES, strlen(LINES)) != (ssize_t)strlen(LINES)) return NULL;
    close(fd);
    char dlq_path[64];
    snprintf(dlq_path, sizeof dlq_path, "%s.dlq", path);
    rn_schema_t *s = rn_schema_new(3);
    rn_schema_set(s, 0, "id", &rn_type_int);
    rn_schema_set(s, 1, "name", &rn_type_string);
    rn_schema_set(s, 2, "price", &rn_type_double);
    rn_op_t *src = rn_source_new(s, "products", "test");
    rn_op_t *cap = rn_op_new(&capture_vt, s, src);
    rn_buf_t *text = calloc(1, sizeof *text);
    rn_buf_init(text);
    cap->priv = text;
    rn_op_connect(src, cap, 0);
    int pk[] = {0};
    rn_source_set_origin(src, 0, RN_FROM_KEY);
    rn_source_set_upsert(src, 1, pk);
    rn_source_use_column(src, 1);
    rn_source_use_column(src, 2);
    if (keys_from_value) rn_source_keys_from_value(src);
    char errbuf[256];
    rn_reader_t *r = NULL;
    rn_dlq_t *dlq = rn_dlq_new(dlq_path);
    char *out = NULL;
    if (rn_file_reader_open_keyed(path, &r, errbuf, sizeof errbuf) == RN_OK &&
        rn_source_open(src, r, dlq, errbuf, sizeof errbuf) == RN_OK) {
        rn_arena_t arena;
        rn_arena_init(&arena, 0);
        rn_ctx_t ctx = {.arena = &arena, .errbuf = errbuf, .errbuf_size = sizeof errbuf};
        bool eof = false;
        while (!eof && rn_source_poll(src, &ctx, &eof) == RN_OK) rn_arena_reset(&arena);
        rn_arena_free(&arena);
        out = strdup(text->data ? text->data : "");
    }
    *dead = rn_dlq_count(dlq);
    RN_CHECK(src->updating);
    rn_dlq_free(dlq);
    rn_op_free(cap);
    rn_op_free(src);
    rn_schema_unref(s);
    unlink(path);
    unlink(dlq_path);
    return out;
}

static void test_upsert_scan_kafka_keys(void)
{
    uint64_t dead = 0;
    char *got = read_upsert(false, &dead);
    RN_REQUIRE(got != NULL);
    /* keys from the record key only: a plain line (no key) has a NULL id;
     * lines 8 and 9 are values that happen to have members key and value */
    RN_CHECK_EQ_STR(got, "+I(1,a,2.5) +I(null,b,1) +I(3,c,null) -D(1,null,null) +I(null,null,null) "
                         "+I(null,null,null)");
    RN_CHECK_EQ_INT(dead, 3); /* lines 5, 6, 7 */
    free(got);
}

static void test_upsert_scan_test_mode(void)
{
    uint64_t dead = 0;
    char *got = read_upsert(true, &dead);
    RN_REQUIRE(got != NULL);
    /* `runnel test`: key columns from the value, then from the key of a
     * keyed line */
    RN_CHECK_EQ_STR(got, "+I(1,a,2.5) +I(2,b,1) +I(3,c,null) -D(1,null,null) +I(null,null,null) "
                         "+I(null,null,null)");
    RN_CHECK_EQ_INT(dead, 3);
    free(got);
}

/* The keyed reader's split of one line: "K|V" (NULL spans as "null",
 * "-" for a line handed out as a plain value). */
static void split_of(const char *line, char *out, size_t size)
{
    char path[] = "/tmp/runnel-keyed-XXXXXX";
    int fd = mkstemp(path);
    snprintf(out, size, "(error)");
    if (fd < 0) return;
    size_t len = strlen(line);
    bool ok = write(fd, line, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    close(fd);
    rn_reader_t *r = NULL;
    char errbuf[256];
    if (ok && rn_file_reader_open_keyed(path, &r, errbuf, sizeof errbuf) == RN_OK) {
        rn_record_t rec[2];
        int n = 0;
        bool eof = false;
        if (r->next(r, rec, 2, &n, &eof, errbuf, sizeof errbuf) == RN_OK && n == 1) {
            if (rec[0].data == line || (rec[0].data && !rec[0].key && rec[0].len == strlen(line)))
                snprintf(out, size, "-");
            else
                snprintf(out, size, "%.*s|%.*s", rec[0].key ? (int)rec[0].klen : 4, rec[0].key ? rec[0].key : "null",
                         rec[0].data ? (int)rec[0].len : 4, rec[0].data ? rec[0].data : "null");
        }
        r->close(r);
    }
    unlink(path);
}

static void test_keyed_reader_split(void)
{
    static const char *const cases[][2] = {
        {"{\"key\":{\"id\":1},\"value\":{\"a\":[1,{\"b\":\"}\"}]}}", "{\"id\":1}|{\"a\":[1,{\"b\":\"}\"}]}"},
        {"{\"value\":null,\"key\":{\"id\":\"x\\\"y\"}}", "{\"id\":\"x\\\"y\"}|null"},
        {"{ \"key\" : null , \"value\" : { } }", "null|{ }"},
        {"{\"key\":{\"id\":1},\"value\":", "-"},                 /* truncated */
        {"{\"key\":{\"id\":1},\"value\":{\"a\":\"\\", "-"},       /* an escape at the end */
        {"{\"key\":{\"id\":1},\"value\":{}} x", "-"},             /* trailing bytes */
        {"{\"key\":{\"id\":1},\"key\":{}}", "-"},                  /* key twice */
        {"{\"key\":1,\"value\":{}}", "-"},                           /* key not an object */
        {"{\"key\":{},\"value\":{},\"x\":1}", "-"},                /* a third member */
        {"{\"id\":1}", "-"},
        {"[{\"key\":{},\"value\":{}}]", "-"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[256];
        split_of(cases[i][0], got, sizeof got);
        if (strcmp(got, cases[i][1])) fprintf(stderr, "line %s\n", cases[i][0]);
        RN_CHECK_EQ_STR(got, cases[i][1]);
    }
}

int main(void)
{
    RN_RUN(test_keyed_reader_split);
    RN_RUN(test_upsert_scan_kafka_keys);
    RN_RUN(test_upsert_scan_test_mode);
    return rn_test_summary();
}
