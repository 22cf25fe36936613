/*
 * test_ckpt_sink.c - unit tests of exactly-once database sinks in the
 * checkpoints of a running pipeline (runtime/checkpoint.c with op/sink.c's
 * two-phase commit, docs/checkpoints.md "Delivery guarantees"), with a
 * fake Kafka reader, a fake transaction and a fake database writer: the
 * order of a checkpoint (file durable, then the Kafka transaction, then
 * the database commit, which finds its rows in the file), the refusal
 * without a transaction, and a crash between the Kafka and the database
 * commit: restoring a partition from that file commits its rows, once per
 * file, and a second process restoring the same file writes nothing again;
 * checkpoints without rows delete the records left below the oldest file.
 */
#include "core/mem.h"
#include "plan/pipeline.h"
#include "runtime/checkpoint.h"
#include "runtime/run.h"
#include "state/checkpoint.h"
#include "rn_test.h"

#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static rn_buf_t events;          /* what happened, in order, one line each */

/* ---- a Kafka reader of partitions t[0] and t[1], nothing to read -------- */

static rn_err_t fr_next(rn_reader_t *r, rn_record_t *recs, int max, int *n, bool *eof, char *errbuf,
                        size_t errbuf_size)
{
    *n = 0;
    *eof = false;
    return RN_OK;
}
static void fr_close(rn_reader_t *r) { free(r); }
static int fr_assignment(rn_reader_t *r, const char **topics, int32_t *parts, int max)
{
    for (int i = 0; i < 2 && i < max; i++) {
        topics[i] = "t";
        parts[i] = i;
    }
    return 2;
}
static int64_t fr_position(rn_reader_t *r, const char *topic, int32_t partition) { return 10 + partition; }

/* ---- the transaction ------------------------------------------------------ */

static rn_err_t ft_commit(rn_txn_t *t, rn_reader_t *const *readers, int n, char *errbuf, size_t errbuf_size)
{
    rn_buf_appendf(&events, "txn commit naming %s\n", readers[0]->ckpt_name);
    return RN_OK;
}
static void ft_close(rn_txn_t *t) {}
static rn_txn_t fake_txn = {.commit = ft_commit, .close = ft_close};

/* ---- the database --------------------------------------------------------- */

typedef struct fake_db {
    rn_sink_io_t base;
    int held;                   /* rows given since the last commit */
    int rows;                   /* rows committed */
    char records[8][128];       /* "sink|writer|ckpt" */
    int nrecords;
    rn_err_t fail;              /* the next commit_once answers this (then RN_OK) */
} fake_db_t;

static rn_err_t fd_write_rows(rn_sink_io_t *io, const rn_batch_t *b, const int *rows, int n,
                              const rn_sink_layout_t *layout, char *errbuf, size_t errbuf_size)
{
    ((fake_db_t *)io)->held += n;
    return RN_OK;
}
static rn_err_t fd_flush(rn_sink_io_t *io, char *errbuf, size_t errbuf_size)
{
    rn_buf_appends(&events, "flush (must not happen)\n");
    return RN_OK;
}
static void fd_close(rn_sink_io_t *io) { free(io); }

/* The file of checkpoint ckpt in dir, if it holds the sink's section. */
static bool file_has_sink_section(uint64_t ckpt)
{
    DIR *d = opendir(dir);
    bool found = false;
    struct dirent *e;
    while (d && (e = readdir(d)) && !found) {
        if (strncmp(e->d_name, "ckpt-", 5) || !strstr(e->d_name, ".rnck") || strstr(e->d_name, ".tmp")) continue;
        char path[600], why[256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        rn_ckpt_t *k = NULL;
        if (rn_ckpt_read(path, &k, why, sizeof why) != RN_OK) continue;
        for (int id = 0; id < 64 && !found && rn_ckpt_id(k) == ckpt; id++) { /* whatever the sink's id */
            char name[32];
            snprintf(name, sizeof name, "sink/%d/0", id);
            found = rn_ckpt_find(k, name) != NULL;
        }
        rn_ckpt_free(k);
    }
    if (d) closedir(d);
    return found;
}

static rn_err_t fd_commit_once(rn_sink_io_t *io, const char *sink, const char *writer, uint64_t ckpt,
                               uint64_t keep_from, char *errbuf, size_t errbuf_size)
{
    fake_db_t *db = (fake_db_t *)io;
    rn_buf_appendf(&events, "db commit %d rows of checkpoint %llu by %s (file durable: %s)\n", db->held,
                   (unsigned long long)ckpt, writer, file_has_sink_section(ckpt) ? "yes" : "no");
    if (db->fail != RN_OK) {
        rn_err_t e = db->fail;
        db->fail = RN_OK;
        db->held = 0;
        snprintf(errbuf, errbuf_size, "killed");
        return e;
    }
    char rec[128];
    snprintf(rec, sizeof rec, "%s|%s|%llu", sink, writer, (unsigned long long)ckpt);
    bool seen = false;
    for (int i = 0; i < db->nrecords; i++) seen = seen || !strcmp(db->records[i], rec);
    if (!seen && db->nrecords < 8) {
        snprintf(db->records[db->nrecords++], sizeof db->records[0], "%s", rec);
        db->rows += db->held;
    }
    db->held = 0;
    return RN_OK;
}

/* forget_commits: deletes the records of (sink, writer) below keep_from
 * and tells the oldest left */
static rn_err_t fd_forget_commits(rn_sink_io_t *io, const char *sink, const char *writer, uint64_t keep_from,
                                  uint64_t *oldest, char *errbuf, size_t errbuf_size)
{
    fake_db_t *db = (fake_db_t *)io;
    rn_buf_appendf(&events, "db forget below %llu\n", (unsigned long long)keep_from);
    if (db->fail != RN_OK) {
        rn_err_t e = db->fail;
        db->fail = RN_OK;
        snprintf(errbuf, errbuf_size, "unreachable");
        return e;
    }
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s|%s|", sink, writer);
    size_t pl = strlen(prefix);
    int kept = 0;
    *oldest = 0;
    for (int i = 0; i < db->nrecords; i++) {
        uint64_t id = strtoull(db->records[i] + pl, NULL, 10);
        bool mine = !strncmp(db->records[i], prefix, pl);
        if (mine && id < keep_from) continue;
        if (mine && (!*oldest || id < *oldest)) *oldest = id;
        memmove(db->records[kept++], db->records[i], sizeof db->records[0]);
    }
    db->nrecords = kept;
    return RN_OK;
}

static fake_db_t *fd_new(void)
{
    fake_db_t *db = calloc(1, sizeof *db);
    db->base.write_rows = fd_write_rows;
    db->base.flush = fd_flush;
    db->base.close = fd_close;
    db->base.commit_once = fd_commit_once;
    db->base.forget_commits = fd_forget_commits;
    return db;
}

/* ---- the pipeline --------------------------------------------------------- */

static rn_pipeline_t *open_pipeline(fake_db_t **db, rn_reader_t **reader)
{
    char sql[1024], errbuf[512];
    snprintf(sql, sizeof sql,
             "SET 'state.checkpoints.dir' = '%s';\n"
             "CREATE TABLE src (id BIGINT, s STRING) WITH ('connector' = 'kafka', 'topic' = 't');\n"
             "CREATE TABLE dst (id BIGINT, s STRING) WITH ('connector' = 'blackhole');\n"
             "INSERT INTO dst SELECT id, s FROM src WHERE id > 0;\n",
             dir);
    rn_pipeline_t *p = NULL;
    if (rn_pipeline_compile(sql, strlen(sql), "eo.sql", &p, errbuf, sizeof errbuf) != RN_OK) {
        fprintf(stderr, "compile: %s\n", errbuf);
        return NULL;
    }
    rn_reader_t *r = calloc(1, sizeof *r);
    r->next = fr_next;
    r->close = fr_close;
    r->assignment = fr_assignment;
    r->position = fr_position;
    r->where = "t";
    if (p->nsources != 1 || p->nsinks != 1 ||
        rn_source_open(p->sources[0], r, NULL, errbuf, sizeof errbuf) != RN_OK) {
        fprintf(stderr, "open: %s\n", errbuf);
        fr_close(r);
        rn_pipeline_free(p);
        return NULL;
    }
    *db = fd_new();
    rn_sink_set_io(p->sinks[0].op, &(*db)->base);
    *reader = r;
    return p;
}

static void push_rows(rn_pipeline_t *p, int n)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    char errbuf[256];
    rn_ctx_t ctx = {.arena = &arena, .errbuf = errbuf, .errbuf_size = sizeof errbuf};
    rn_op_t *sink = p->sinks[0].op;
    rn_batch_t *b = rn_batch_new(&arena, sink->schema, n);
    for (int i = 0; i < n; i++) {
        b->cols[0][i] = rn_value_int(i + 1);
        b->cols[1][i] = rn_value_str("row", 3);
        b->kinds[i] = RN_ROW_INSERT;
    }
    b->nrows = n;
    RN_CHECK_EQ_INT(sink->vt->process(sink, 0, b, &ctx), RN_OK);
    rn_arena_free(&arena);
}

static char taken[4096];
static const char *take_events(void)
{
    snprintf(taken, sizeof taken, "%s", events.data ? events.data : "");
    rn_buf_clear(&events);
    return taken;
}

static void test_refused_without_transaction(void)
{
    fake_db_t *db;
    rn_reader_t *r;
    rn_pipeline_t *p = open_pipeline(&db, &r);
    RN_REQUIRE(p != NULL);
    char errbuf[512];
    RN_CHECK_EQ_INT(rn_sink_set_two_phase(p->sinks[0].op, "dst", errbuf, sizeof errbuf), RN_OK);
    rn_ckpt_run_t *ck = (rn_ckpt_run_t *)1;
    RN_CHECK_EQ_INT(rn_ckpt_run_open(p, "eo", 0, false, &ck, errbuf, sizeof errbuf), RN_ERR_CONFIG);
    RN_CHECK(ck == NULL);
    RN_CHECK(strstr(errbuf, "Kafka transaction") != NULL);
    rn_pipeline_free(p);
}

static void test_commit_order_and_restore(void)
{
    fake_db_t *db;
    rn_reader_t *r;
    rn_pipeline_t *p = open_pipeline(&db, &r);
    RN_REQUIRE(p != NULL);
    char errbuf[1024], want[2048];
    RN_CHECK_EQ_INT(rn_sink_set_two_phase(p->sinks[0].op, "dst", errbuf, sizeof errbuf), RN_OK);
    p->txn = &fake_txn;
    rn_ckpt_run_t *ck = NULL;
    RN_REQUIRE(rn_ckpt_run_open(p, "eo", 0, false, &ck, errbuf, sizeof errbuf) == RN_OK && ck);

    /* checkpoint 1: the file, then the Kafka transaction naming it, then
     * the database, which finds the file durable */
    push_rows(p, 3);
    RN_CHECK_EQ_STR(take_events(), "");
    RN_REQUIRE(rn_ckpt_run_take(ck, errbuf, sizeof errbuf) == RN_OK);
    char file1[256], writer[128];
    snprintf(file1, sizeof file1, "%s", r->ckpt_name);
    /* ckpt-<writer>-<20 digits>.rnck */
    size_t fl = strlen(file1);
    RN_REQUIRE(fl > 5 + 21 + 5);
    snprintf(writer, sizeof writer, "%.*s", (int)(fl - 5 - 21 - 5), file1 + 5);
    uint64_t id1 = strtoull(file1 + fl - 25, NULL, 10);
    snprintf(want, sizeof want, "txn commit naming %s\ndb commit 3 rows of checkpoint %llu by %s (file durable: yes)\n",
             file1, (unsigned long long)id1, writer);
    RN_CHECK_EQ_STR(take_events(), want);
    RN_CHECK_EQ_INT(db->rows, 3);
    RN_CHECK_EQ_INT(rn_sink_pending_rows(p->sinks[0].op), 0);

    /* checkpoint 2: the process dies between the Kafka commit and the
     * database commit (the database commit fails: the run stops) */
    push_rows(p, 2);
    db->fail = RN_ERR_IO;
    RN_CHECK_EQ_INT(rn_ckpt_run_take(ck, errbuf, sizeof errbuf), RN_ERR_IO);
    char file2[256];
    snprintf(file2, sizeof file2, "%s", r->ckpt_name);
    RN_CHECK(strcmp(file1, file2) != 0);
    uint64_t id2 = strtoull(file2 + strlen(file2) - 25, NULL, 10);
    snprintf(want, sizeof want, "txn commit naming %s\ndb commit 2 rows of checkpoint %llu by %s (file durable: yes)\n",
             file2, (unsigned long long)id2, writer);
    RN_CHECK_EQ_STR(take_events(), want);
    RN_CHECK_EQ_INT(db->rows, 3);
    rn_ckpt_run_free(ck);

    /* the restart: its partitions' commits name file 2, whose rows are
     * committed at the first restore, under the tag that wrote it */
    ck = NULL;
    RN_REQUIRE(rn_ckpt_run_open(p, "eo", 0, false, &ck, errbuf, sizeof errbuf) == RN_OK && ck);
    int64_t offset = 11;
    RN_CHECK_EQ_INT(r->ckpt_restore(r->ckpt_opaque, r, "t", 1, file2, &offset, errbuf, sizeof errbuf), RN_OK);
    snprintf(want, sizeof want, "db commit 2 rows of checkpoint %llu by %s (file durable: yes)\n",
             (unsigned long long)id2, writer);
    RN_CHECK_EQ_STR(take_events(), want);
    RN_CHECK_EQ_INT(db->rows, 5);
    offset = 10;
    RN_CHECK_EQ_INT(r->ckpt_restore(r->ckpt_opaque, r, "t", 0, file2, &offset, errbuf, sizeof errbuf), RN_OK);
    RN_CHECK_EQ_STR(take_events(), ""); /* once per file */
    rn_ckpt_run_free(ck);

    /* another process restoring file 1 or file 2 writes nothing again */
    ck = NULL;
    RN_REQUIRE(rn_ckpt_run_open(p, "eo", 0, false, &ck, errbuf, sizeof errbuf) == RN_OK && ck);
    RN_CHECK_EQ_INT(r->ckpt_restore(r->ckpt_opaque, r, "t", 0, file2, &offset, errbuf, sizeof errbuf), RN_OK);
    RN_CHECK_EQ_INT(r->ckpt_restore(r->ckpt_opaque, r, "t", 1, file1, &offset, errbuf, sizeof errbuf), RN_OK);
    RN_CHECK_EQ_INT(db->rows, 5);
    RN_CHECK_EQ_INT(db->nrecords, 2);
    rn_ckpt_run_free(ck);
    p->txn = NULL; /* not owned by the pipeline here */
    rn_pipeline_free(p);
}

/* A checkpoint without rows records nothing, and deletes the records
 * left below keep_from (the oldest checkpoint file kept) when there are
 * some: a pipeline whose input stopped keeps no more records than files.
 * A new sink asks once (its predecessor may have left some); a failed
 * delete is tried again only after a backoff. */
static void test_idle_checkpoints_forget_records(void)
{
    fake_db_t *db;
    rn_reader_t *r;
    rn_pipeline_t *p = open_pipeline(&db, &r);
    RN_REQUIRE(p != NULL);
    rn_op_t *sink = p->sinks[0].op;
    char errbuf[512];
    RN_CHECK_EQ_INT(rn_sink_set_two_phase(sink, "dst", errbuf, sizeof errbuf), RN_OK);
    take_events(); /* (the test before's) */
    /* a predecessor's records, 5 and 40 */
    snprintf(db->records[db->nrecords++], sizeof db->records[0], "dst|w|5");
    snprintf(db->records[db->nrecords++], sizeof db->records[0], "dst|w|40");
    snprintf(db->records[db->nrecords++], sizeof db->records[0], "dst|other|1");
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "w", 50, 10, errbuf, sizeof errbuf), RN_OK);
    RN_CHECK_EQ_STR(take_events(), "db forget below 10\n");
    RN_CHECK_EQ_INT(db->nrecords, 2); /* 40, and the other writer's */
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "w", 60, 30, errbuf, sizeof errbuf), RN_OK);
    RN_CHECK_EQ_STR(take_events(), ""); /* nothing below 30 is left */
    /* rows at 100: recorded (with keep_from 30 nothing older goes) */
    push_rows(p, 2);
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "w", 100, 30, errbuf, sizeof errbuf), RN_OK);
    RN_CHECK(strstr(take_events(), "db commit 2 rows of checkpoint 100 by w") != NULL);
    RN_CHECK_EQ_INT(db->nrecords, 3);
    /* idle: the oldest file moves past 40, then past 100 */
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "w", 200, 90, errbuf, sizeof errbuf), RN_OK);
    RN_CHECK_EQ_STR(take_events(), "db forget below 90\n");
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "w", 210, 95, errbuf, sizeof errbuf), RN_OK);
    RN_CHECK_EQ_STR(take_events(), ""); /* 100 is the oldest left */
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "w", 300, 150, errbuf, sizeof errbuf), RN_OK);
    RN_CHECK_EQ_STR(take_events(), "db forget below 150\n");
    RN_CHECK_EQ_INT(db->nrecords, 1);
    RN_CHECK_EQ_STR(db->records[0], "dst|other|1");
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "w", 400, 250, errbuf, sizeof errbuf), RN_OK);
    RN_CHECK_EQ_STR(take_events(), ""); /* none left: no more deletes */
    /* a failed delete is logged, not an error, and waits before the next try */
    push_rows(p, 1);
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "w", 500, 250, errbuf, sizeof errbuf), RN_OK);
    take_events();
    db->fail = RN_ERR_RETRY;
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "w", 600, 550, errbuf, sizeof errbuf), RN_OK);
    RN_CHECK_EQ_STR(take_events(), "db forget below 550\n");
    RN_CHECK_EQ_INT(rn_sink_commit(sink, "w", 700, 650, errbuf, sizeof errbuf), RN_OK);
    RN_CHECK_EQ_STR(take_events(), "");
    RN_CHECK_EQ_INT(db->nrecords, 2);
    rn_pipeline_free(p);
}

static void rm_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(dir);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/runnel-test-ckpt-sink-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    rn_buf_init(&events);
    RN_RUN(test_refused_without_transaction);
    RN_RUN(test_commit_order_and_restore);
    RN_RUN(test_idle_checkpoints_forget_records);
    rn_buf_free(&events);
    rm_dir();
    return rn_test_summary();
}
