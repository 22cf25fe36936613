/*
 * test_split_reader.c - one reader split into views per topic
 * (op/split_reader.h): records reach the view of their topic, in order,
 * exactly once; only view 0 fetches, and only once every part is handed
 * out; positions and commits account for records not handed out yet; the
 * hooks set on the views reach the shared reader; assignment() is per
 * topic; the shared reader closes with the last view; once view 0's
 * source ended, view 1 fetches and commits.
 */
#include "rn_test.h"

#include "core/mem.h"
#include "op/split_reader.h"

#include <stdio.h>

/* A fake shared reader: hands out a script of (topic, partition, offset)
 * records in batches of at most `per_call`, owns partition 0 and 1 of
 * topics "a" and "b", and counts calls. */
typedef struct fake {
    rn_reader_t base;
    const char *topic[64];
    int32_t part[64];
    int nrec, at, per_call;
    int fetches, commits, closes;
    int64_t next[2][2];         /* [topic a/b][partition]: after the last handed out */
    char data[64][16];
    rn_err_t (*take_seen)(void *, char *, size_t, char *, size_t);
    void *take_opaque_seen;
} fake_t;

static int topic_ix(const char *t) { return t[0] == 'b'; }

static rn_err_t fake_next(rn_reader_t *r, rn_record_t *recs, int max, int *n, bool *eof, char *errbuf,
                          size_t errbuf_size)
{
    (void)errbuf;
    (void)errbuf_size;
    fake_t *f = (fake_t *)r;
    f->fetches++;
    f->take_seen = r->ckpt_take;
    f->take_opaque_seen = r->ckpt_opaque;
    int k = 0;
    while (f->at < f->nrec && k < max && k < f->per_call) {
        int i = f->at++;
        snprintf(f->data[i], sizeof f->data[i], "%s%d@%d", f->topic[i], (int)f->part[i], i);
        rn_record_set(&recs[k], f->data[i], strlen(f->data[i]), i);
        recs[k].topic = f->topic[i];
        recs[k].partition = f->part[i];
        f->next[topic_ix(f->topic[i])][f->part[i]] = i + 1;
        k++;
    }
    *n = k;
    *eof = f->at == f->nrec;
    return RN_OK;
}

static rn_err_t fake_commit(rn_reader_t *r, bool final, char *errbuf, size_t errbuf_size)
{
    (void)final;
    (void)errbuf;
    (void)errbuf_size;
    ((fake_t *)r)->commits++;
    return RN_OK;
}

static void fake_close(rn_reader_t *r) { ((fake_t *)r)->closes++; }

static int fake_assignment(rn_reader_t *r, const char **topics, int32_t *partitions, int max)
{
    (void)r;
    static const char *const t[4] = {"a", "a", "b", "b"};
    static const int32_t p[4] = {0, 1, 0, 1};
    for (int i = 0; i < 4 && i < max; i++) {
        topics[i] = t[i];
        partitions[i] = p[i];
    }
    return 4;
}

static int64_t fake_position(rn_reader_t *r, const char *topic, int32_t partition)
{
    return ((fake_t *)r)->next[topic_ix(topic)][partition];
}

static void fake_init(fake_t *f, const char *script, int per_call)
{
    memset(f, 0, sizeof *f);
    f->base.next = fake_next;
    f->base.commit = fake_commit;
    f->base.close = fake_close;
    f->base.assignment = fake_assignment;
    f->base.position = fake_position;
    f->base.where = "fake";
    f->per_call = per_call;
    /* script: "a0 b1 a1 ..." */
    for (const char *s = script; *s; s++) {
        if (*s == ' ') continue;
        f->topic[f->nrec] = s[0] == 'a' ? "a" : "b";
        f->part[f->nrec++] = s[1] - '0';
        s++;
    }
    for (int t = 0; t < 2; t++)
        for (int p = 0; p < 2; p++) f->next[t][p] = -1;
}

/* Polls view 0 then view 1, round after round as the run loop does,
 * appending the records' positions to seen[view]; returns the rounds. */
static int poll_all(rn_reader_t **v, int64_t seen[2][64], int nseen[2], const int max[2])
{
    bool done[2] = {false, false};
    int rounds = 0;
    while ((!done[0] || !done[1]) && rounds < 100) {
        rounds++;
        for (int i = 0; i < 2; i++) {
            if (done[i]) continue;
            rn_record_t recs[64];
            int n = 0;
            bool eof = false;
            char err[128];
            if (v[i]->next(v[i], recs, max[i], &n, &eof, err, sizeof err) != RN_OK) return -1;
            for (int k = 0; k < n; k++) seen[i][nseen[i]++] = recs[k].position;
            done[i] = eof;
        }
    }
    return rounds;
}

static void test_parts_by_topic(void)
{
    fake_t f;
    fake_init(&f, "a0 b0 a1 b1 b0 a0 a0 b1 a1", 4);
    rn_reader_t *v[2];
    const char *topics[2] = {"a", "b"};
    RN_REQUIRE(rn_reader_split(&f.base, topics, 2, v) == RN_OK);
    int64_t seen[2][64];
    int nseen[2] = {0, 0};
    const int max[2] = {64, 64};
    int rounds = poll_all(v, seen, nseen, max);
    RN_CHECK(rounds > 0);
    RN_CHECK_EQ_INT(nseen[0], 5);
    RN_CHECK_EQ_INT(nseen[1], 4);
    const int64_t want_a[5] = {0, 2, 5, 6, 8}, want_b[4] = {1, 3, 4, 7};
    for (int i = 0; i < 5 && i < nseen[0]; i++) RN_CHECK_EQ_INT(seen[0][i], want_a[i]);
    for (int i = 0; i < 4 && i < nseen[1]; i++) RN_CHECK_EQ_INT(seen[1][i], want_b[i]);
    /* 9 records, 4 per fetch: 3 fetches, all by view 0 */
    RN_CHECK_EQ_INT(f.fetches, 3);
    v[0]->close(v[0]);
    RN_CHECK_EQ_INT(f.closes, 0);
    v[1]->close(v[1]);
    RN_CHECK_EQ_INT(f.closes, 1);
}

/* A part larger than its caller's max is handed out over several calls,
 * and nothing is fetched until it is. */
static void test_small_max(void)
{
    fake_t f;
    fake_init(&f, "b0 b0 b0 b0 b0 a1", 6);
    rn_reader_t *v[2];
    const char *topics[2] = {"a", "b"};
    RN_REQUIRE(rn_reader_split(&f.base, topics, 2, v) == RN_OK);
    int64_t seen[2][64];
    int nseen[2] = {0, 0};
    const int max[2] = {8, 2};
    RN_CHECK_EQ_INT(poll_all(v, seen, nseen, max), 3);
    RN_CHECK_EQ_INT(nseen[0], 1);
    RN_CHECK_EQ_INT(nseen[1], 5);
    for (int i = 0; i < 5 && i < nseen[1]; i++) RN_CHECK_EQ_INT(seen[1][i], i);
    RN_CHECK_EQ_INT(f.fetches, 1);
    v[1]->close(v[1]);
    v[0]->close(v[0]);
    RN_CHECK_EQ_INT(f.closes, 1);
}

/* Between view 0's and view 1's call, view 1's records are fetched but
 * not handed out: its position stays before them and no commit goes
 * through; once handed out, both do. */
static void test_position_and_commit_wait(void)
{
    fake_t f;
    fake_init(&f, "a0 b1 b1", 8);
    rn_reader_t *v[2];
    const char *topics[2] = {"a", "b"};
    RN_REQUIRE(rn_reader_split(&f.base, topics, 2, v) == RN_OK);
    rn_record_t recs[8];
    int n = 0;
    bool eof = false;
    char err[128];
    RN_REQUIRE(v[0]->next(v[0], recs, 8, &n, &eof, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(n, 1);
    RN_CHECK(eof); /* the shared reader ended, and view 0 has nothing left */
    RN_CHECK_EQ_INT(v[1]->position(v[1], "b", 1), 1); /* the first not handed out */
    RN_CHECK_EQ_INT(v[0]->position(v[0], "a", 0), 1);
    RN_CHECK(v[0]->commit(v[0], false, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(f.commits, 0);
    RN_REQUIRE(v[1]->next(v[1], recs, 8, &n, &eof, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(n, 2);
    RN_CHECK(eof);
    RN_CHECK_EQ_INT(v[1]->position(v[1], "b", 1), 3);
    RN_CHECK(v[1]->commit(v[1], false, err, sizeof err) == RN_OK); /* only view 0 commits */
    RN_CHECK_EQ_INT(f.commits, 0);
    RN_CHECK(v[0]->commit(v[0], true, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(f.commits, 1);
    v[0]->close(v[0]);
    v[1]->close(v[1]);
}

/* View 0's source reads its end first (a bounded run: every upstream
 * task of its topic ended) and polls no more: view 1 then fetches, gets
 * all of its records, and commits; view 0's later records are dropped.
 * Before the fix, view 1 waited for fetches that never came. */
static void test_first_view_ended(void)
{
    fake_t f;
    fake_init(&f, "a0 b0 a1 b1 b0 a0 b1", 2);
    rn_reader_t *v[2];
    const char *topics[2] = {"a", "b"};
    RN_REQUIRE(rn_reader_split(&f.base, topics, 2, v) == RN_OK);
    rn_record_t recs[8];
    int n = 0;
    bool eof = false;
    char err[128];
    RN_REQUIRE(v[0]->next(v[0], recs, 8, &n, &eof, err, sizeof err) == RN_OK); /* a0 | b0 */
    RN_CHECK_EQ_INT(n, 1);
    RN_REQUIRE(v[1]->next(v[1], recs, 8, &n, &eof, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(n, 1);
    RN_CHECK_EQ_INT(recs[0].position, 1);
    v[0]->ended(v[0]);
    int64_t seen[8];
    int nseen = 0, calls = 0;
    eof = false;
    while (!eof && calls++ < 20) {
        RN_REQUIRE(v[1]->next(v[1], recs, 8, &n, &eof, err, sizeof err) == RN_OK);
        for (int k = 0; k < n; k++) seen[nseen++] = recs[k].position;
    }
    RN_CHECK(eof);
    RN_CHECK_EQ_INT(nseen, 3); /* b1 b0 b1; a1 and a0 dropped */
    const int64_t want[3] = {3, 4, 6};
    for (int i = 0; i < 3 && i < nseen; i++) RN_CHECK_EQ_INT(seen[i], want[i]);
    RN_CHECK(v[0]->commit(v[0], false, err, sizeof err) == RN_OK); /* ended: not the committer */
    RN_CHECK_EQ_INT(f.commits, 0);
    RN_CHECK(v[1]->commit(v[1], true, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(f.commits, 1);
    v[0]->close(v[0]);
    v[1]->close(v[1]);
    RN_CHECK_EQ_INT(f.closes, 1);
}

static rn_err_t take_hook(void *opaque, char *name, size_t size, char *errbuf, size_t errbuf_size)
{
    (void)errbuf;
    (void)errbuf_size;
    (*(int *)opaque)++;
    snprintf(name, size, "ckpt-x");
    return RN_OK;
}

static const char *restored_topic;
static rn_reader_t *restored_via;

static rn_err_t restore_hook(void *opaque, rn_reader_t *r, const char *topic, int32_t partition, const char *ckpt,
                             int64_t *offset, char *errbuf, size_t errbuf_size)
{
    (void)opaque;
    (void)partition;
    (void)ckpt;
    (void)offset;
    (void)errbuf;
    (void)errbuf_size;
    restored_topic = topic;
    restored_via = r;
    return RN_OK;
}

/* The views' hooks reach the shared reader; a restore goes to the view of
 * its topic; assignment() lists one topic. */
static void test_hooks_and_assignment(void)
{
    fake_t f;
    fake_init(&f, "a0", 8);
    rn_reader_t *v[2];
    const char *topics[2] = {"a", "b"};
    RN_REQUIRE(rn_reader_split(&f.base, topics, 2, v) == RN_OK);
    RN_CHECK(v[0]->under == &f.base && v[1]->under == &f.base);
    int takes = 0;
    for (int i = 0; i < 2; i++) {
        v[i]->ckpt_take = take_hook;
        v[i]->ckpt_opaque = &takes;
        v[i]->ckpt_restore = restore_hook;
    }
    rn_record_t recs[8];
    int n = 0;
    bool eof = false;
    char err[128], name[64];
    RN_REQUIRE(v[0]->next(v[0], recs, 8, &n, &eof, err, sizeof err) == RN_OK);
    RN_REQUIRE(f.take_seen != NULL);
    RN_CHECK(f.take_seen(f.take_opaque_seen, name, sizeof name, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(takes, 1);
    RN_REQUIRE(f.base.ckpt_restore != NULL);
    int64_t off = 0;
    RN_CHECK(f.base.ckpt_restore(f.base.ckpt_opaque, &f.base, "b", 1, "ckpt-x", &off, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_STR(restored_topic, "b");
    RN_CHECK(restored_via == v[1]);
    const char *t[8];
    int32_t p[8];
    RN_CHECK_EQ_INT(v[1]->assignment(v[1], t, p, 8), 2);
    RN_CHECK_EQ_STR(t[0], "b");
    RN_CHECK_EQ_STR(t[1], "b");
    RN_CHECK_EQ_INT(p[0] + p[1], 1);
    v[1]->close(v[1]);
    v[0]->close(v[0]);
    RN_CHECK_EQ_INT(f.closes, 1);
}

int main(void)
{
    RN_RUN(test_parts_by_topic);
    RN_RUN(test_small_max);
    RN_RUN(test_position_and_commit_wait);
    RN_RUN(test_hooks_and_assignment);
    RN_RUN(test_first_view_ended);
    return rn_test_summary();
}
