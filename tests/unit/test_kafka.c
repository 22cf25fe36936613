/*
 * test_kafka.c - unit tests for the Kafka connectors (src/connectors/
 * kafka.c, kafka_client.c) and `runnel gen --brokers`, against librdkafka's
 * mock cluster: the embedded broker (rn_kafka_embedded_start) for the
 * data paths, a separate bare mock cluster for the missing-topic error and
 * for closing a reader before its group's first assignment, and what the
 * embedded cluster does for its consumers (a short session, no leaving
 * when the process stops with it).
 * No real Kafka is needed. Waiting is always "poll until a condition holds
 * or a deadline passes", never a sleep. The mock cluster delays a group's
 * first assignment by 3 s, so each reader test takes a few seconds.
 *
 * With KAFKA_BOOTSTRAP set (scripts/kafka env), the repartition-topic test
 * also runs against that real cluster, with unique topic names, and checks
 * what the mock cluster lacks: topic configs and the purge (DeleteRecords).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connectors/connector.h"
#include "connectors/kafka_client.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "cli/cli.h"
#include "gen/gen.h"
#include "json/json.h"
#include "rn_test.h"

extern const rn_connector_t rn_connector_kafka, rn_connector_upsert_kafka;

#define OPT(k, v) {.key = (k), .value = (v)}
#define WAIT_MS 30000 /* deadline of every wait */
/* The mock cluster waits session.timeout.ms - 1 s after a member leaves
 * before a new one can join (real Kafka does not): keep it short, and let
 * members notice rebalances soon. */
#define MOCK_GROUP_TIMING                                                                                    \
    OPT("properties.session.timeout.ms", "4000"), OPT("properties.heartbeat.interval.ms", "300")

static char bs[1024]; /* the embedded cluster's bootstrap list */
static int syncs;     /* sync_outputs calls */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static rn_err_t count_sync(void *opaque, char *errbuf, size_t errbuf_size)
{
    (*(int *)opaque)++;
    return RN_OK;
}

/* Kafka's Utils.murmur2, as the Java client's default partitioner uses it. */
static uint32_t murmur2(const void *key, size_t len)
{
    const unsigned char *d = key;
    const uint32_t m = 0x5bd1e995;
    uint32_t h = 0x9747b28c ^ (uint32_t)len;
    size_t n4 = len / 4;
    for (size_t i = 0; i < n4; i++) {
        uint32_t k = d[4 * i] | (uint32_t)d[4 * i + 1] << 8 | (uint32_t)d[4 * i + 2] << 16 |
                     (uint32_t)d[4 * i + 3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    const unsigned char *t = d + 4 * n4;
    switch (len % 4) {
    case 3:
        h ^= (uint32_t)t[2] << 16; /* fall through */
    case 2:
        h ^= (uint32_t)t[1] << 8; /* fall through */
    case 1:
        h ^= t[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

static int32_t java_partition(const void *key, size_t len, int n)
{
    return (int32_t)((murmur2(key, len) & 0x7fffffff) % (uint32_t)n);
}

/* Validates opts for connector c and opens a reader (sync_outputs counts
 * into syncs). */
static rn_err_t open_reader(const rn_connector_t *c, rn_option_t *opts, int n, const char *table,
                            bool headers, rn_reader_t **out, char *err, size_t errsz)
{
    void *conf = rn_calloc(1, c->conf_size);
    int bad;
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_err_t e = rn_options_apply(c, opts, n, conf, &arena, &bad, err, errsz);
    if (e == RN_OK) e = c->validate(conf, err, errsz);
    rn_open_ctx_t ctx = {
        .pipeline = "test", .table = table, .options = opts, .noptions = n, .want_headers = headers};
    if (e == RN_OK) e = c->open_reader(conf, &ctx, out, err, errsz);
    rn_arena_free(&arena);
    rn_free(conf);
    if (e == RN_OK) {
        (*out)->sync_outputs = count_sync;
        (*out)->sync_opaque = &syncs;
    }
    return e;
}

static rn_err_t open_sink(const rn_connector_t *c, rn_option_t *opts, int n, const char *table,
                          rn_sink_io_t **out, char *err, size_t errsz)
{
    void *conf = rn_calloc(1, c->conf_size);
    int bad;
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_err_t e = rn_options_apply(c, opts, n, conf, &arena, &bad, err, errsz);
    if (e == RN_OK) e = c->validate(conf, err, errsz);
    rn_open_ctx_t ctx = {.pipeline = "test", .table = table, .options = opts, .noptions = n};
    if (e == RN_OK) e = c->open_sink(conf, &ctx, out, err, errsz);
    rn_arena_free(&arena);
    rn_free(conf);
    return e;
}

/* A producer on the embedded cluster; creates topic with npart partitions. */
static rn_kafka_t *producer_for(const char *topic, int npart)
{
    char err[512];
    rn_kafka_spec_t spec = {.role = RN_KAFKA_PRODUCER, .label = "test", .brokers = bs};
    rn_kafka_t *k = NULL;
    if (rn_kafka_open(&spec, &k, err, sizeof err) != RN_OK) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    const char *topics[] = {topic};
    int32_t got = 0;
    if (rn_kafka_connect(k, topics, 1, npart, &got, err, sizeof err) != RN_OK || got != npart) {
        fprintf(stderr, "%s (partitions %d)\n", err, got);
        rn_kafka_close(k);
        return NULL;
    }
    return k;
}

/* Messages read straight from the cluster, and the consumer they hold
 * references to (librdkafka waits for every message before it lets a
 * consumer go, so both are freed together by raw_free). */
typedef struct raw {
    rd_kafka_t *rk;
    int n;
    rd_kafka_message_t *m[512];
} raw_t;

/* Reads every message of topic's npart partitions from the beginning until
 * want (<= 512) arrived or the deadline passed. */
static void consume_raw(const char *topic, int npart, int want, raw_t *raw)
{
    char why[256];
    memset(raw, 0, sizeof *raw);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bs, why, sizeof why);
    rd_kafka_conf_set(conf, "group.id", "test-raw", why, sizeof why);
    rd_kafka_conf_set(conf, "log_level", "3", why, sizeof why);
    if (!(raw->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why))) return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(npart);
    for (int p = 0; p < npart; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(raw->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    for (int64_t end = now_ms() + WAIT_MS; raw->n < want && now_ms() < end;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(raw->rk, 100);
        if (!m) continue;
        if (m->err)
            rd_kafka_message_destroy(m);
        else
            raw->m[raw->n++] = m;
    }
}

static void raw_free(raw_t *raw)
{
    for (int i = 0; i < raw->n; i++) rd_kafka_message_destroy(raw->m[i]);
    if (!raw->rk) return;
    rd_kafka_consumer_close(raw->rk);
    rd_kafka_destroy(raw->rk);
}

/* ---- sinks -------------------------------------------------------------- */

static void test_sink_keys_and_tombstone(void)
{
    char err[512];
    rn_option_t opts[] = {OPT("topic", "t-sink"), OPT("properties.bootstrap.servers", bs)};
    rn_sink_io_t *io = NULL;
    rn_err_t e = open_sink(&rn_connector_upsert_kafka, opts, 2, "out", &io, err, sizeof err);
    if (e != RN_OK) fprintf(stderr, "%s\n", err);
    RN_REQUIRE(e == RN_OK);
    enum { N = 60 };
    char key[32], value[64];
    for (int i = 0; i < N; i++) {
        int kl = snprintf(key, sizeof key, "{\"id\":%d}", i % 10);
        int vl = snprintf(value, sizeof value, "{\"id\":%d,\"n\":%d}", i % 10, i);
        RN_CHECK(io->write(io, key, (size_t)kl, value, (size_t)vl, RN_ROW_INSERT, err, sizeof err) == RN_OK);
    }
    RN_CHECK(io->write(io, "{\"id\":3}", 8, NULL, 0, RN_ROW_DELETE, err, sizeof err) == RN_OK);
    RN_CHECK(io->write(io, NULL, 0, "{\"nokey\":1}", 11, RN_ROW_INSERT, err, sizeof err) == RN_OK);
    RN_CHECK(io->flush(io, err, sizeof err) == RN_OK);
    RN_CHECK_EQ_INT(io->records, 0); /* the sink operator counts, not the writer */
    io->close(io);

    static raw_t raw;
    consume_raw("t-sink", RN_KAFKA_EMBEDDED_PARTITIONS, N + 2, &raw);
    rd_kafka_message_t **m = raw.m;
    int n = raw.n;
    RN_CHECK_EQ_INT(n, N + 2);
    int last_n[10], tombstones = 0, keyless = 0;
    int32_t part_of[10];
    for (int i = 0; i < 10; i++) last_n[i] = -1, part_of[i] = -1;
    for (int i = 0; i < n; i++) {
        if (!m[i]->key) {
            keyless++;
            RN_CHECK(m[i]->len == 11 && !memcmp(m[i]->payload, "{\"nokey\":1}", 11));
            continue;
        }
        int id = -1, seq = -1;
        if (sscanf(m[i]->key, "{\"id\":%d}", &id) != 1 || id < 0 || id >= 10) {
            RN_CHECK(!"a key written by the test");
            continue;
        }
        /* murmur2 like Java clients, and so one partition per key */
        RN_CHECK_EQ_INT(m[i]->partition,
                        java_partition(m[i]->key, m[i]->key_len, RN_KAFKA_EMBEDDED_PARTITIONS));
        RN_CHECK(part_of[id] < 0 || part_of[id] == m[i]->partition);
        part_of[id] = m[i]->partition;
        if (!m[i]->payload) {
            tombstones++;
            RN_CHECK_EQ_INT(id, 3);
            RN_CHECK_EQ_INT(last_n[3], 53); /* after every record of key 3, in order */
            continue;
        }
        RN_CHECK(sscanf(m[i]->payload, "{\"id\":%*d,\"n\":%d}", &seq) == 1);
        RN_CHECK(seq % 10 == id && seq > last_n[id]); /* per-key order kept */
        last_n[id] = seq;
    }
    RN_CHECK_EQ_INT(tombstones, 1);
    RN_CHECK_EQ_INT(keyless, 1);
    raw_free(&raw);
}

/* Records go to librdkafka in batches (rd_kafka_produce_batch): with a
 * queue of 5 records the batches of 100 meet a full queue every time,
 * and every record still arrives once, in order. */
static void test_sink_batches_wait_out_a_full_queue(void)
{
    char err[512];
    rn_option_t opts[] = {OPT("topic", "t-sink-full"), OPT("properties.bootstrap.servers", bs),
                          OPT("sink.partitioner", "fixed"), OPT("properties.queue.buffering.max.messages", "5")};
    rn_sink_io_t *io = NULL;
    rn_err_t e = open_sink(&rn_connector_kafka, opts, 4, "out", &io, err, sizeof err);
    if (e != RN_OK) fprintf(stderr, "%s\n", err);
    RN_REQUIRE(e == RN_OK);
    RN_REQUIRE(io->write_end != NULL);
    enum { N = 300 };
    char value[32];
    for (int i = 0; i < N; i++) {
        int vl = snprintf(value, sizeof value, "{\"n\":%d}", i);
        RN_CHECK(io->write(io, NULL, 0, value, (size_t)vl, RN_ROW_INSERT, err, sizeof err) == RN_OK);
        if (i % 100 == 99) RN_CHECK(io->write_end(io, err, sizeof err) == RN_OK);
    }
    RN_CHECK(io->flush(io, err, sizeof err) == RN_OK);
    io->close(io);

    static raw_t raw;
    consume_raw("t-sink-full", RN_KAFKA_EMBEDDED_PARTITIONS, N, &raw);
    RN_CHECK_EQ_INT(raw.n, N);
    for (int i = 0; i < raw.n; i++) {
        int seq = -1;
        RN_CHECK_EQ_INT(raw.m[i]->partition, 0);
        RN_CHECK(raw.m[i]->payload && sscanf(raw.m[i]->payload, "{\"n\":%d}", &seq) == 1);
        RN_CHECK_EQ_INT(seq, i);
    }
    raw_free(&raw);
}

/* ---- readers ------------------------------------------------------------- */

#define READ_TOPIC "t-read"
#define READ_N 200
#define READ_PARTS 3
#define READ_TS 1714557600000LL

/* What the record of sequence number i holds: partition i % 3, offset
 * i / 3, key "k<i>" (none for 7), value {"i":<i>} (a tombstone for 5),
 * timestamp READ_TS + i, header h = "v<i>" (record 0 also has a header
 * that is not UTF-8). */
static void test_reader_earliest_bounded(void)
{
    char err[512];
    rn_kafka_t *k = producer_for(READ_TOPIC, READ_PARTS);
    RN_REQUIRE(k != NULL);
    for (int i = 0; i < READ_N; i++) {
        char key[16], value[32], hv[16];
        int kl = snprintf(key, sizeof key, "k%d", i), vl = snprintf(value, sizeof value, "{\"i\":%d}", i);
        snprintf(hv, sizeof hv, "v%d", i);
        rd_kafka_headers_t *h = rd_kafka_headers_new(2);
        rd_kafka_header_add(h, "h", -1, hv, -1);
        if (i == 0) rd_kafka_header_add(h, "bin", -1, "\xff\"x", 3);
        void *kp = i == 7 ? NULL : key, *vp = i == 5 ? NULL : value;
        size_t klen = kp ? (size_t)kl : 0, vlen = vp ? (size_t)vl : 0;
        rd_kafka_resp_err_t pe = rd_kafka_producev(
            k->rk, RD_KAFKA_V_TOPIC(READ_TOPIC), RD_KAFKA_V_PARTITION(i % READ_PARTS),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(kp, klen), RD_KAFKA_V_VALUE(vp, vlen),
            RD_KAFKA_V_TIMESTAMP(READ_TS + i), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        RN_CHECK(pe == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    RN_CHECK(rn_kafka_flush(k, err, sizeof err) == RN_OK);
    rn_kafka_close(k);

    rn_option_t opts[] = {OPT("topic", READ_TOPIC), OPT("properties.bootstrap.servers", bs),
                              OPT("scan.startup.mode", "earliest-offset"),
                              OPT("scan.bounded.mode", "latest-offset"), MOCK_GROUP_TIMING};
    const int nopts = (int)(sizeof opts / sizeof *opts);
    rn_reader_t *r = NULL;
    rn_err_t e = open_reader(&rn_connector_kafka, opts, nopts, "src", true, &r, err, sizeof err);
    if (e != RN_OK) fprintf(stderr, "%s\n", err);
    RN_REQUIRE(e == RN_OK);
    RN_CHECK_EQ_STR(r->where, "kafka topic " READ_TOPIC);
    static bool seen[READ_N];
    memset(seen, 0, sizeof seen);
    rn_record_t recs[64];
    int total = 0;
    bool eof = false;
    rn_buf_t want;
    rn_buf_init(&want);
    for (int64_t end = now_ms() + WAIT_MS; !eof && now_ms() < end;) {
        int n = 0;
        e = r->next(r, recs, 64, &n, &eof, err, sizeof err);
        RN_REQUIRE(e == RN_OK);
        for (int j = 0; j < n; j++) {
            const rn_record_t *rec = &recs[j];
            int i = -1;
            if (rec->data) {
                RN_REQUIRE(sscanf(rec->data, "{\"i\":%d}", &i) == 1 && i >= 0 && i < READ_N);
                volatile char pad = rec->data[rec->len + RN_JSON_PADDING - 1]; /* readable (ASan) */
                (void)pad;
            } else {
                RN_REQUIRE(rec->key && rec->klen == 2 && !memcmp(rec->key, "k5", 2));
                i = 5;
            }
            RN_CHECK(!seen[i]);
            seen[i] = true;
            total++;
            RN_CHECK_EQ_STR(rec->topic, READ_TOPIC);
            RN_CHECK_EQ_INT(rec->partition, i % READ_PARTS);
            RN_CHECK_EQ_INT(rec->position, i / READ_PARTS);
            RN_CHECK_EQ_INT(rec->timestamp_ms, READ_TS + i);
            if (i == 7) {
                RN_CHECK(rec->key == NULL && rec->klen == 0);
            } else {
                char key[16];
                int kl = snprintf(key, sizeof key, "k%d", i);
                RN_CHECK(rec->key && rec->klen == (size_t)kl && !memcmp(rec->key, key, (size_t)kl));
                volatile char pad = rec->key[rec->klen + RN_JSON_PADDING - 1];
                (void)pad;
            }
            rn_buf_clear(&want);
            rn_buf_appendf(&want, "{\"h\":\"v%d\"", i);
            if (i == 0) {
                rn_buf_appends(&want, ",\"bin\":");
                rn_json_write_string(&want, "\xff\"x", 3);
            }
            rn_buf_appendc(&want, '}');
            RN_CHECK(rec->headers && rec->hlen == want.len && !memcmp(rec->headers, want.data, want.len));
        }
    }
    rn_buf_free(&want);
    RN_CHECK(eof);
    RN_CHECK_EQ_INT(total, READ_N);
    int n = -1;
    RN_CHECK(r->next(r, recs, 64, &n, &eof, err, sizeof err) == RN_OK && n == 0 && eof);
    RN_CHECK(r->commit(r, true, err, sizeof err) == RN_OK);
    r->close(r);

    /* The group committed every position, also of records that came with
     * the assignment itself: the group's offsets find nothing left. */
    opts[2].value = "group-offsets";
    RN_REQUIRE(open_reader(&rn_connector_kafka, opts, nopts, "src", false, &r, err, sizeof err) == RN_OK);
    total = 0;
    eof = false;
    for (int64_t end = now_ms() + WAIT_MS; !eof && now_ms() < end;) {
        RN_REQUIRE(r->next(r, recs, 64, &n, &eof, err, sizeof err) == RN_OK);
        total += n;
    }
    RN_CHECK(eof);
    RN_CHECK_EQ_INT(total, 0);
    r->close(r);
}

/* Per-partition bookkeeping of which offsets a test saw. */
#define GRP_PARTS 4
#define GRP_PER_PART 100

typedef struct seen_offsets {
    int count[GRP_PARTS][GRP_PER_PART + 20];
} seen_offsets_t;

/* Calls next once on r and records the offsets handed out. Returns the
 * number of records, or -1 on error. */
static int read_once(rn_reader_t *r, seen_offsets_t *s, bool *eof)
{
    char err[512];
    rn_record_t recs[16];
    int n = 0;
    if (r->next(r, recs, 16, &n, eof, err, sizeof err) != RN_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (int j = 0; j < n; j++)
        if (recs[j].partition >= 0 && recs[j].partition < GRP_PARTS && recs[j].position >= 0 &&
            recs[j].position < GRP_PER_PART + 20)
            s->count[recs[j].partition][recs[j].position]++;
    return n;
}

static void produce_round_robin(rn_kafka_t *k, rd_kafka_topic_t *rkt, int from, int n)
{
    char err[512], value[32];
    for (int i = from; i < from + n; i++) {
        int vl = snprintf(value, sizeof value, "{\"i\":%d}", i);
        RN_CHECK(rn_kafka_produce(k, rkt, i % GRP_PARTS, NULL, 0, value, (size_t)vl, NULL, err, sizeof err) ==
                 RN_OK);
    }
    RN_CHECK(rn_kafka_flush(k, err, sizeof err) == RN_OK);
}

/* Polls a and b (b may be NULL) until every record below upto was handed
 * out by one of them and cond holds, or the deadline passed. Returns
 * whether it got there. */
static bool read_until(rn_reader_t *a, rn_reader_t *b, seen_offsets_t *s, int upto, const int *cond)
{
    bool eof;
    for (int64_t end = now_ms() + WAIT_MS; now_ms() < end;) {
        if (read_once(a, s, &eof) < 0 || (b && read_once(b, s, &eof) < 0)) return false;
        bool all = !cond || *cond;
        for (int i = 0; i < upto && all; i++) all = s->count[i % GRP_PARTS][i / GRP_PARTS] > 0;
        if (all) return true;
    }
    return false;
}

/* Two readers of one group. The second one's arrival revokes partitions
 * of the first one, which syncs the outputs and commits what it handed
 * out; together they read everything without gaps. After both committed,
 * a third reader of the group reads exactly the records produced since. */
static void group_resume(const char *topic, const char *group, const char *strategy)
{
    char err[512];
    enum { N = GRP_PARTS * GRP_PER_PART / 2 };
    rn_kafka_t *k = producer_for(topic, GRP_PARTS);
    RN_REQUIRE(k != NULL);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, topic, NULL);
    produce_round_robin(k, rkt, 0, N);

    rn_option_t opts[] = {OPT("topic", topic),
                              OPT("properties.bootstrap.servers", bs),
                              OPT("properties.group.id", group),
                              OPT("properties.partition.assignment.strategy", strategy),
                              MOCK_GROUP_TIMING,
                              OPT("scan.bounded.mode", "latest-offset")}; /* c only */
    const int nopts = (int)(sizeof opts / sizeof *opts);
    rn_reader_t *a = NULL, *b = NULL, *c = NULL;
    static seen_offsets_t s;
    memset(&s, 0, sizeof s);
    syncs = 0;
    RN_REQUIRE(open_reader(&rn_connector_kafka, opts, nopts - 1, "src", false, &a, err, sizeof err) == RN_OK);
    RN_REQUIRE(read_until(a, NULL, &s, 50, NULL));
    RN_CHECK_EQ_INT(syncs, 0);
    RN_REQUIRE(open_reader(&rn_connector_kafka, opts, nopts - 1, "src", false, &b, err, sizeof err) == RN_OK);
    RN_CHECK(read_until(a, b, &s, N, &syncs)); /* a's revocation synced the outputs */
    produce_round_robin(k, rkt, N, N);
    RN_CHECK(read_until(a, b, &s, 2 * N, NULL)); /* no gaps */
    if (a->commit(a, true, err, sizeof err) != RN_OK) RN_CHECK(!fprintf(stderr, "%s\n", err));
    if (b->commit(b, true, err, sizeof err) != RN_OK) RN_CHECK(!fprintf(stderr, "%s\n", err));
    a->close(a);
    b->close(b);

    produce_round_robin(k, rkt, 2 * N, 10);
    memset(&s, 0, sizeof s);
    RN_REQUIRE(open_reader(&rn_connector_kafka, opts, nopts, "src", false, &c, err, sizeof err) == RN_OK);
    int total = 0;
    bool eof = false;
    for (int64_t end = now_ms() + WAIT_MS; !eof && now_ms() < end;) {
        int n = read_once(c, &s, &eof);
        RN_REQUIRE(n >= 0);
        total += n;
    }
    RN_CHECK(eof);
    RN_CHECK_EQ_INT(total, 10); /* nothing committed is read again */
    for (int i = 2 * N; i < 2 * N + 10; i++) RN_CHECK_EQ_INT(s.count[i % GRP_PARTS][i / GRP_PARTS], 1);
    c->close(c);
    rd_kafka_topic_destroy(rkt);
    rn_kafka_close(k);
}

/* Two readers of one group on the embedded cluster with the session it
 * gives its consumers (no MOCK_GROUP_TIMING): the second joins once the
 * first has its partitions. The mock cluster ends that rebalance only
 * when session.timeout.ms - 1 s has passed: with Kafka's 45 s, neither
 * reader had a partition for 44 s (runnel demo's joins read nothing). Then
 * the process stops with the cluster (rn_kafka_embedded_closing): the
 * first reader closes, the second goes on reading for two of its
 * heartbeats (2.5 s) and closes too, at once: had the first left the group, the
 * second would have heard of the rebalance, sent a JoinGroup that the
 * mock cluster holds, and its leaving would have waited 5 s behind it.
 * Runs last: the cluster is closing afterwards. */
static void test_embedded_late_member_and_closing(void)
{
    char err[512];
    enum { N = GRP_PARTS * GRP_PER_PART / 2 };
    rn_kafka_t *k = producer_for("t-late-member", GRP_PARTS);
    RN_REQUIRE(k != NULL);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, "t-late-member", NULL);
    produce_round_robin(k, rkt, 0, N);
    rn_option_t opts[] = {OPT("topic", "t-late-member"), OPT("properties.bootstrap.servers", bs),
                          OPT("properties.group.id", "g-late-member"),
                          OPT("properties.partition.assignment.strategy", "range")};
    const int nopts = (int)(sizeof opts / sizeof *opts);
    rn_reader_t *a = NULL, *b = NULL;
    static seen_offsets_t s;
    memset(&s, 0, sizeof s);
    RN_REQUIRE(open_reader(&rn_connector_kafka, opts, nopts, "src", false, &a, err, sizeof err) == RN_OK);
    RN_REQUIRE(read_until(a, NULL, &s, 50, NULL));
    RN_REQUIRE(open_reader(&rn_connector_kafka, opts, nopts, "src", false, &b, err, sizeof err) == RN_OK);
    /* b hands out records once the rebalance gave it partitions (nothing
     * was committed: it reads them from the start) */
    int64_t t0 = now_ms();
    int from_b = 0;
    bool eof;
    for (int64_t end = t0 + WAIT_MS; !from_b && now_ms() < end;) {
        RN_REQUIRE(read_once(a, &s, &eof) >= 0);
        RN_REQUIRE((from_b = read_once(b, &s, &eof)) >= 0);
    }
    /* 9 s, or 19 s when a member's JoinGroup misses the election and the
     * sync times out (ASan at load average 25): not 44 s */
    RN_CHECK(from_b > 0);
    if (!from_b) fprintf(stderr, "the late member had no partition after %lld ms\n", (long long)(now_ms() - t0));

    rn_kafka_embedded_closing();
    t0 = now_ms();
    a->close(a);
    int64_t a_ms = now_ms() - t0;
    for (int64_t end = now_ms() + 2500; now_ms() < end;) RN_REQUIRE(read_once(b, &s, &eof) >= 0);
    t0 = now_ms();
    b->close(b);
    int64_t b_ms = now_ms() - t0;
    /* leaving would wait 5 s behind the held JoinGroup; not leaving takes
     * a few ms (up to 1.5 s seen at load average 25) */
    RN_CHECK(a_ms < 4000);
    RN_CHECK(b_ms < 4000);
    if (a_ms >= 4000 || b_ms >= 4000)
        fprintf(stderr, "closing took %lld and %lld ms\n", (long long)a_ms, (long long)b_ms);
    rd_kafka_topic_destroy(rkt);
    rn_kafka_close(k);
}

static rn_err_t failing_sync(void *opaque, char *errbuf, size_t errbuf_size)
{
    (*(int *)opaque)++;
    snprintf(errbuf, errbuf_size, "sink 'out': delivery to topic 'x' failed: boom");
    return RN_ERR_IO;
}

/* When the outputs cannot be synced before partitions are given up, the
 * next call of the reader fails with that error and nothing is committed.
 * (Cooperative rebalancing: the mock cluster accepts commits during it,
 * so a wrong commit would show.) */
static void test_sync_failure_stops(void)
{
    char err[512];
    enum { N = 40 };
    rn_kafka_t *k = producer_for("t-syncfail", GRP_PARTS);
    RN_REQUIRE(k != NULL);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, "t-syncfail", NULL);
    produce_round_robin(k, rkt, 0, N);
    rd_kafka_topic_destroy(rkt);
    rn_kafka_close(k);
    rn_option_t opts[] = {OPT("topic", "t-syncfail"), OPT("properties.bootstrap.servers", bs),
                              OPT("properties.group.id", "g-syncfail"),
                              OPT("properties.partition.assignment.strategy", "cooperative-sticky"),
                              MOCK_GROUP_TIMING};
    const int nopts = (int)(sizeof opts / sizeof *opts);
    rn_reader_t *a = NULL, *b = NULL;
    static seen_offsets_t s;
    memset(&s, 0, sizeof s);
    RN_REQUIRE(open_reader(&rn_connector_kafka, opts, nopts, "src", false, &a, err, sizeof err) == RN_OK);
    int failures = 0;
    a->sync_outputs = failing_sync;
    a->sync_opaque = &failures;
    RN_REQUIRE(read_until(a, NULL, &s, N, NULL));
    RN_REQUIRE(open_reader(&rn_connector_kafka, opts, nopts, "src", false, &b, err, sizeof err) == RN_OK);
    rn_err_t e = RN_OK;
    rn_record_t recs[16];
    for (int64_t end = now_ms() + WAIT_MS; e == RN_OK && now_ms() < end;) {
        int n;
        bool eof;
        e = a->next(a, recs, 16, &n, &eof, err, sizeof err);
        RN_REQUIRE(b->next(b, recs, 16, &n, &eof, err, sizeof err) == RN_OK);
    }
    RN_CHECK(e == RN_ERR_IO);
    RN_CHECK_EQ_STR(err, "sink 'out': delivery to topic 'x' failed: boom");
    RN_CHECK_EQ_INT(failures, 1);
    a->close(a);
    b->close(b);

    /* nothing was committed */
    char why[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bs, why, sizeof why);
    rd_kafka_conf_set(conf, "group.id", "g-syncfail", why, sizeof why);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    RN_REQUIRE(rk != NULL);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(GRP_PARTS);
    for (int p = 0; p < GRP_PARTS; p++) rd_kafka_topic_partition_list_add(l, "t-syncfail", p);
    RN_CHECK(rd_kafka_committed(rk, l, WAIT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int p = 0; p < GRP_PARTS; p++) RN_CHECK_EQ_INT(l->elems[p].offset, RD_KAFKA_OFFSET_INVALID);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* A cooperative-sticky reader closed after it joined its group but before
 * the group's first assignment reached it (here: the coordinator holds the
 * SyncGroup response back). librdkafka before 2.2.1 aborts when it
 * destroys such a consumer (its issue #4312): closing waits for the
 * assignment first, and still ends in bounded time. A bare mock cluster,
 * whose error stacks show when the SyncGroup request arrived. */
static void test_close_before_first_assignment(void)
{
    enum { API_SYNC_GROUP = 14 }; /* the ApiKey of SyncGroup requests (Kafka protocol) */
    char err[512], why[256];
    enum { SYNC_DELAY_MS = 2000 };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", why, sizeof why);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    RN_REQUIRE(rk != NULL);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    RN_REQUIRE(mc != NULL);
    RN_REQUIRE(rd_kafka_mock_topic_create(mc, "t-coop-close", 2, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    /* broker 1, the only one, coordinates the group */
    RN_REQUIRE(rd_kafka_mock_broker_push_request_error_rtts(mc, 1, API_SYNC_GROUP, 1,
                                                            RD_KAFKA_RESP_ERR_NO_ERROR,
                                                            SYNC_DELAY_MS) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rn_option_t opts[] = {OPT("topic", "t-coop-close"),
                          OPT("properties.bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc)),
                          OPT("properties.group.id", "g-coop-close"),
                          OPT("properties.partition.assignment.strategy", "cooperative-sticky"),
                          MOCK_GROUP_TIMING};
    rn_reader_t *r = NULL;
    if (open_reader(&rn_connector_kafka, opts, (int)(sizeof opts / sizeof *opts), "src", false, &r, err,
                    sizeof err) != RN_OK) {
        fprintf(stderr, "%s\n", err);
        RN_CHECK(false);
    } else {
        /* Polls until the SyncGroup request took the delay off the stack:
         * the JoinGroup response has been handled, the assignment not. */
        static seen_offsets_t s;
        size_t left = 1;
        bool eof;
        int64_t end = now_ms() + WAIT_MS;
        while (left && now_ms() < end) {
            RN_CHECK(read_once(r, &s, &eof) == 0); /* the topic is empty */
            RN_CHECK(rd_kafka_mock_broker_error_stack_cnt(mc, 1, API_SYNC_GROUP, &left) ==
                     RD_KAFKA_RESP_ERR_NO_ERROR);
        }
        RN_CHECK_EQ_INT(left, 0);
        int64_t t0 = now_ms();
        r->close(r); /* aborted the process before */
        /* It waited for the assignment, and got it well before it would
         * have given up (after 10 s, leaving the client undestroyed). */
        int64_t took = now_ms() - t0;
        RN_CHECK(took >= SYNC_DELAY_MS - 500);
        RN_CHECK(took < 8000);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
}

static void test_group_eager(void)
{
    group_resume("t-group-eager", "g-eager", "range");
}
static void test_group_cooperative(void)
{
    group_resume("t-group-coop", "g-coop", "cooperative-sticky");
}

static void dlq_check(const raw_t *raw);

static void test_dead_letter(void)
{
    char err[512];
    rn_kafka_t *k = producer_for("t-dlq-src", 1);
    RN_REQUIRE(k != NULL);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, "t-dlq-src", NULL);
    RN_CHECK(rn_kafka_produce(k, rkt, 0, "kk", 2, "{bad", 4, NULL, err, sizeof err) == RN_OK);
    RN_CHECK(rn_kafka_flush(k, err, sizeof err) == RN_OK);
    rd_kafka_topic_destroy(rkt);
    rn_kafka_close(k);

    rn_option_t opts[] = {OPT("topic", "t-dlq-src"), OPT("properties.bootstrap.servers", bs),
                              OPT("scan.startup.mode", "earliest-offset"),
                              OPT("scan.bounded.mode", "latest-offset"), OPT("dlq.topic", "t-dlq")};
    rn_reader_t *r = NULL;
    RN_REQUIRE(open_reader(&rn_connector_kafka, opts, 5, "clicks", false, &r, err, sizeof err) == RN_OK);
    rn_record_t recs[4];
    int n = 0;
    bool eof = false;
    for (int64_t end = now_ms() + WAIT_MS; n == 0 && !eof && now_ms() < end;)
        RN_REQUIRE(r->next(r, recs, 4, &n, &eof, err, sizeof err) == RN_OK);
    RN_REQUIRE(n == 1);
    RN_CHECK(r->dead_letter(r, &recs[0], "invalid JSON: boom", err, sizeof err) == RN_OK);
    RN_CHECK(r->commit(r, true, err, sizeof err) == RN_OK); /* flushes the dead letter */
    r->close(r);

    static raw_t raw;
    consume_raw("t-dlq", RN_KAFKA_EMBEDDED_PARTITIONS, 1, &raw);
    dlq_check(&raw);
    raw_free(&raw);
}

/* The dead letter of test_dead_letter, as read back. */
static void dlq_check(const raw_t *raw)
{
    rd_kafka_message_t *const *m = raw->m;
    RN_REQUIRE(raw->n == 1);
    RN_CHECK(m[0]->len == 4 && !memcmp(m[0]->payload, "{bad", 4));
    RN_CHECK(m[0]->key_len == 2 && !memcmp(m[0]->key, "kk", 2));
    rd_kafka_headers_t *h = NULL;
    RN_REQUIRE(rd_kafka_message_headers(m[0], &h) == RD_KAFKA_RESP_ERR_NO_ERROR);
    static const char *const want[][2] = {{"error", "invalid JSON: boom"},
                                          {"source.topic", "t-dlq-src"},
                                          {"source.partition", "0"},
                                          {"source.offset", "0"},
                                          {"source.table", "clicks"}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const void *v = NULL;
        size_t size = 0;
        RN_CHECK(rd_kafka_header_get_last(h, want[i][0], &v, &size) == RD_KAFKA_RESP_ERR_NO_ERROR);
        RN_CHECK(v && size == strlen(want[i][1]) && !memcmp(v, want[i][1], size));
    }
    RN_CHECK_EQ_INT(rd_kafka_header_cnt(h), 5);
}

/* ---- configuration and errors ------------------------------------------ */

static void test_env_substitution(void)
{
    char err[512], val[128];
    setenv("RN_TEST_ID", "abc", 1);
    unsetenv("RN_TEST_UNSET");
    rn_option_t ok[] = {OPT("properties.client.id", "${RN_TEST_ID}-x$${LIT}")};
    rn_kafka_spec_t spec = {
        .role = RN_KAFKA_PRODUCER, .label = "table 't'", .options = ok, .noptions = 1, .brokers = bs};
    rn_kafka_t *k = NULL;
    RN_REQUIRE(rn_kafka_open(&spec, &k, err, sizeof err) == RN_OK);
    size_t n = sizeof val;
    RN_CHECK(rd_kafka_conf_get(rd_kafka_conf(k->rk), "client.id", val, &n) == RD_KAFKA_CONF_OK);
    RN_CHECK_EQ_STR(val, "abc-x${LIT}");
    rn_kafka_close(k);

    rn_option_t unset[] = {OPT("properties.sasl.password", "${RN_TEST_UNSET}")};
    spec.options = unset;
    RN_CHECK(rn_kafka_open(&spec, &k, err, sizeof err) == RN_ERR_CONFIG && k == NULL);
    RN_CHECK(strstr(err, "'RN_TEST_UNSET'") && strstr(err, "'properties.sasl.password'") &&
             strstr(err, "table 't'"));

    rn_option_t secret[] = {OPT("properties.my.secret", "hunter2")};
    spec.options = secret;
    RN_CHECK(rn_kafka_open(&spec, &k, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "properties.my.secret") && !strstr(err, "hunter2"));

    rn_option_t bad[] = {OPT("properties.acks", "sometimes")};
    spec.options = bad;
    RN_CHECK(rn_kafka_open(&spec, &k, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK(strstr(err, "properties.acks") != NULL);
}

/* The producers' delivery settings (docs/kafka.md, "Sinks"): an
 * at-least-once sink keeps order with one request in flight, not
 * idempotence; a transactional producer and the others (repartition
 * topics, dead letters) are idempotent; a table's properties win. */
static void test_producer_settings(void)
{
    char err[512];
    struct {
        rn_option_t opt[1];
        bool at_least_once;
        const char *defaults[5];
        const char *idempotence, *inflight;
    } cases[] = {
        {{OPT("properties.client.id", "x")}, true, {NULL}, "false", "1"},
        {{OPT("properties.enable.idempotence", "true")}, true, {NULL}, "true", "1"},
        {{OPT("properties.client.id", "x")}, true, {"transactional.id", "rn-test-txn", NULL}, "true", NULL},
        {{OPT("properties.client.id", "x")}, false, {NULL}, "true", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rn_kafka_spec_t spec = {.role = RN_KAFKA_PRODUCER, .label = "table 't'", .options = cases[i].opt,
                                .noptions = 1, .brokers = bs, .at_least_once = cases[i].at_least_once,
                                .defaults = cases[i].defaults[0] ? cases[i].defaults : NULL};
        rn_kafka_t *k = NULL;
        RN_REQUIRE(rn_kafka_open(&spec, &k, err, sizeof err) == RN_OK);
        char val[64];
        size_t n = sizeof val;
        RN_CHECK(rd_kafka_conf_get(rd_kafka_conf(k->rk), "enable.idempotence", val, &n) == RD_KAFKA_CONF_OK);
        RN_CHECK_EQ_STR(val, cases[i].idempotence);
        n = sizeof val;
        RN_CHECK(rd_kafka_conf_get(rd_kafka_conf(k->rk), "acks", val, &n) == RD_KAFKA_CONF_OK);
        RN_CHECK(!strcmp(val, "-1") || !strcmp(val, "all"));
        if (cases[i].inflight) {
            n = sizeof val;
            RN_CHECK(rd_kafka_conf_get(rd_kafka_conf(k->rk), "max.in.flight.requests.per.connection", val, &n) ==
                     RD_KAFKA_CONF_OK);
            RN_CHECK_EQ_STR(val, cases[i].inflight);
        }
        rn_kafka_close(k);
    }
}

static void test_no_brokers(void)
{
    char err[512];
    unsetenv("RUNNEL_BROKERS");
    rn_option_t opts[] = {OPT("topic", "x")};
    rn_reader_t *r = NULL;
    RN_CHECK(open_reader(&rn_connector_kafka, opts, 1, "x", false, &r, err, sizeof err) == RN_ERR_CONFIG);
    RN_CHECK_EQ_STR(err, "table 'x': no Kafka brokers: give --brokers, RUNNEL_BROKERS or "
                         "'properties.bootstrap.servers'");
    /* RUNNEL_BROKERS is the fallback */
    setenv("RUNNEL_BROKERS", bs, 1);
    rn_sink_io_t *io = NULL;
    rn_option_t sopts[] = {OPT("topic", "t-env")};
    RN_CHECK(open_sink(&rn_connector_kafka, sopts, 1, "x", &io, err, sizeof err) == RN_OK);
    if (io) io->close(io);
    unsetenv("RUNNEL_BROKERS");
}

static void test_unreachable(void)
{
    char err[512];
    setenv("RUNNEL_KAFKA_CONNECT_TIMEOUT_MS", "1000", 1);
    rn_option_t opts[] = {OPT("topic", "x"), OPT("properties.bootstrap.servers", "127.0.0.1:1")};
    rn_reader_t *r = NULL;
    int64_t t0 = now_ms();
    RN_CHECK(open_reader(&rn_connector_kafka, opts, 2, "x", false, &r, err, sizeof err) == RN_ERR_IO);
    RN_CHECK(now_ms() - t0 < 8000);
    RN_CHECK(strstr(err, "table 'x': cannot reach Kafka at 127.0.0.1:1 (tried for 1 s: ") == err);
    RN_CHECK(strchr(err, '\n') == NULL);
    rn_sink_io_t *io = NULL;
    RN_CHECK(open_sink(&rn_connector_kafka, opts, 2, "x", &io, err, sizeof err) == RN_ERR_IO);
    RN_CHECK(strstr(err, "cannot reach Kafka at 127.0.0.1:1") != NULL);
    setenv("RUNNEL_KAFKA_CONNECT_TIMEOUT_MS", "10000", 1);
}

/* A bare mock cluster (not the embedded one, which creates topics on
 * demand) has no topic 'absent'. */
static void test_missing_topic(void)
{
    char err[512], why[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", why, sizeof why);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    RN_REQUIRE(rk != NULL);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    RN_REQUIRE(mc != NULL);
    const char *mbs = rd_kafka_mock_cluster_bootstraps(mc);
    rn_option_t opts[] = {OPT("topic", "absent"), OPT("properties.bootstrap.servers", mbs)};
    char want[1200];
    snprintf(want, sizeof want, "table 'x': topic 'absent' does not exist on %s", mbs);
    rn_reader_t *r = NULL;
    RN_CHECK(open_reader(&rn_connector_kafka, opts, 2, "x", false, &r, err, sizeof err) == RN_ERR_IO);
    RN_CHECK_EQ_STR(err, want);
    rn_sink_io_t *io = NULL;
    RN_CHECK(open_sink(&rn_connector_upsert_kafka, opts, 2, "x", &io, err, sizeof err) == RN_ERR_IO);
    RN_CHECK_EQ_STR(err, want);
    rn_option_t list[] = {OPT("topic", "a;b"), OPT("properties.bootstrap.servers", mbs)};
    RN_CHECK(open_sink(&rn_connector_kafka, list, 2, "x", &io, err, sizeof err) == RN_ERR_CONFIG);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
}

/* A reader whose queue runs low wakes the fetchers (kr_nudge, librdkafka
 * before 2.2) without waiting for an answer: with the broker answering
 * only after 3 s (a broker far away or failing) and the cached end
 * offsets still promising records, every next() returns within its wait,
 * where a nudge that waits for its answer held a poll for up to 1 s. Once
 * the broker answers promptly again the reader reads on to the end. On a
 * bare mock cluster: the RTT must not slow the other tests' cluster.
 * (librdkafka 2.2 and later need no nudge: there only the reading is
 * checked.) */
#define NUDGE_N 20000
static void test_nudge_never_blocks(void)
{
    char err[512], why[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", why, sizeof why);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    RN_REQUIRE(rk != NULL);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    RN_REQUIRE(mc != NULL);
    char mbs[256];
    snprintf(mbs, sizeof mbs, "%s", rd_kafka_mock_cluster_bootstraps(mc));
    RN_REQUIRE(rd_kafka_mock_topic_create(mc, "nudge", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rn_kafka_spec_t spec = {.role = RN_KAFKA_PRODUCER, .label = "test", .brokers = mbs};
    rn_kafka_t *k = NULL;
    RN_REQUIRE(rn_kafka_open(&spec, &k, err, sizeof err) == RN_OK);
    for (int i = 0; i < NUDGE_N; i++) {
        char value[32];
        int vl = snprintf(value, sizeof value, "{\"i\":%d}", i);
        rd_kafka_resp_err_t pe =
            rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC("nudge"), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(value, (size_t)vl),
                              RD_KAFKA_V_END);
        RN_CHECK(pe == RD_KAFKA_RESP_ERR_NO_ERROR);
        if (i % 1000 == 999) rd_kafka_poll(k->rk, 0);
    }
    RN_CHECK(rn_kafka_flush(k, err, sizeof err) == RN_OK);
    rn_kafka_close(k);

    /* a prefetch of 200 records: the reader nudges below 100 */
    rn_option_t opts[] = {OPT("topic", "nudge"), OPT("properties.bootstrap.servers", mbs),
                          OPT("scan.startup.mode", "earliest-offset"),
                          OPT("properties.queued.min.messages", "200"),
                          OPT("properties.queued.max.messages.kbytes", "64"), MOCK_GROUP_TIMING};
    rn_reader_t *r = NULL;
    rn_err_t e = open_reader(&rn_connector_kafka, opts, (int)(sizeof opts / sizeof *opts), "nudge", false, &r,
                             err, sizeof err);
    if (e != RN_OK) fprintf(stderr, "%s\n", err);
    RN_REQUIRE(e == RN_OK);
    r->wait_ms = 10;
    rn_record_t recs[64];
    int total = 0, n = 0;
    bool eof = false;
    for (int64_t end = now_ms() + WAIT_MS; total < 1000 && now_ms() < end;) {
        RN_REQUIRE(r->next(r, recs, 64, &n, &eof, err, sizeof err) == RN_OK);
        total += n;
    }
    RN_REQUIRE(total >= 1000);
    RN_CHECK(rd_kafka_mock_broker_set_rtt(mc, 1, 3000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    int64_t worst = 0;
    for (int64_t end = now_ms() + 2500; now_ms() < end;) {
        int64_t t0 = now_ms();
        RN_REQUIRE(r->next(r, recs, 64, &n, &eof, err, sizeof err) == RN_OK);
        total += n;
        if (now_ms() - t0 > worst) worst = now_ms() - t0;
    }
    if (worst >= 300) fprintf(stderr, "a poll took %lld ms while the broker was slow\n", (long long)worst);
    RN_CHECK(worst < 300);
    RN_CHECK(total < NUDGE_N); /* (the slow broker did hold records back) */
    RN_CHECK(rd_kafka_mock_broker_set_rtt(mc, 1, 0) == RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int64_t end = now_ms() + WAIT_MS; total < NUDGE_N && now_ms() < end;) {
        RN_REQUIRE(r->next(r, recs, 64, &n, &eof, err, sizeof err) == RN_OK);
        total += n;
    }
    RN_CHECK_EQ_INT(total, NUDGE_N);
    r->close(r);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
}

/* ---- repartition topics (open_exchange) --------------------------------- */

#define XCH_PARTS 8 /* partitions of the source topic */
#define XCH_PER 25  /* records sent to each partition */

/* Validates opts for connector c and opens the exchange "<group>-<suffix>". */
static rn_err_t open_exchange(const rn_connector_t *c, rn_option_t *opts, int n, const char *table,
                              const char *suffix, rn_exchange_io_t **io, rn_reader_t **r, char *err, size_t errsz)
{
    void *conf = rn_calloc(1, c->conf_size);
    int bad;
    rn_arena_t arena;
    rn_arena_init(&arena, 4096);
    rn_err_t e = rn_options_apply(c, opts, n, conf, &arena, &bad, err, errsz);
    if (e == RN_OK) e = c->validate(conf, err, errsz);
    rn_open_ctx_t ctx = {.pipeline = "test", .table = table, .options = opts, .noptions = n};
    if (e == RN_OK) e = c->open_exchange(conf, &ctx, suffix, io, r, err, errsz);
    rn_arena_free(&arena);
    rn_free(conf);
    if (e == RN_OK) {
        (*r)->sync_outputs = count_sync;
        (*r)->sync_opaque = &syncs;
    }
    return e;
}

/* Makes topic exist on brokers with npart partitions. */
static bool make_topic(const char *brokers, const char *topic, int npart)
{
    char err[512];
    rn_kafka_spec_t spec = {.role = RN_KAFKA_PRODUCER, .label = "test", .brokers = brokers};
    rn_kafka_t *k = NULL;
    const char *topics[] = {topic};
    int32_t got = 0;
    bool ok = rn_kafka_open(&spec, &k, err, sizeof err) == RN_OK &&
              rn_kafka_connect(k, topics, 1, npart, &got, err, sizeof err) == RN_OK && got == npart;
    if (!ok) fprintf(stderr, "%s (partitions %d)\n", err, (int)got);
    rn_kafka_close(k);
    return ok;
}

/* A plain consumer of group on brokers, for looking at offsets. */
static rd_kafka_t *offsets_client(const char *brokers, const char *group)
{
    char why[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, why, sizeof why);
    rd_kafka_conf_set(conf, "group.id", group, why, sizeof why);
    rd_kafka_conf_set(conf, "log_level", "3", why, sizeof why);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) rd_kafka_conf_destroy(conf);
    return rk;
}

/* Sends XCH_PER records to each partition (record i: partition i % 8, key
 * "k<base + i>" except every 50th, which has none, value "v<base + i>"),
 * flushes, and reads them back through r: each where it was sent, at
 * offset first + i / 8. */
static void exchange_round(rn_exchange_io_t *io, rn_reader_t *r, const char *name, int base, int64_t first)
{
    char err[512];
    enum { N = XCH_PARTS * XCH_PER };
    for (int i = 0; i < N; i++) {
        char key[16], value[16];
        int kl = snprintf(key, sizeof key, "k%d", base + i), vl = snprintf(value, sizeof value, "v%d", base + i);
        bool keyless = i % 50 == 0;
        RN_CHECK(io->send(io, i % XCH_PARTS, keyless ? NULL : key, keyless ? 0 : (size_t)kl, value, (size_t)vl,
                          err, sizeof err) == RN_OK);
    }
    RN_CHECK(io->flush(io, err, sizeof err) == RN_OK);
    RN_CHECK(io->send(io, XCH_PARTS, NULL, 0, "x", 1, err, sizeof err) == RN_ERR_FATAL);

    static bool seen[N];
    memset(seen, 0, sizeof seen);
    int got = 0;
    rn_record_t recs[64];
    for (int64_t end = now_ms() + WAIT_MS; got < N && now_ms() < end;) {
        int n = 0;
        bool eof = false;
        rn_err_t e = r->next(r, recs, 64, &n, &eof, err, sizeof err);
        if (e != RN_OK) fprintf(stderr, "%s\n", err);
        RN_REQUIRE(e == RN_OK && !eof);
        for (int j = 0; j < n; j++) {
            const rn_record_t *rec = &recs[j];
            int v = -1;
            char want_key[16];
            RN_REQUIRE(rec->data && sscanf(rec->data, "v%d", &v) == 1 && v >= base && v < base + N);
            int i = v - base;
            RN_CHECK(!seen[i]);
            seen[i] = true;
            got++;
            RN_CHECK_EQ_STR(rec->topic, name);
            RN_CHECK_EQ_INT(rec->partition, i % XCH_PARTS);
            RN_CHECK(rec->position == first + i / XCH_PARTS);
            snprintf(want_key, sizeof want_key, "k%d", v);
            if (i % 50 == 0)
                RN_CHECK(rec->key == NULL);
            else
                RN_CHECK(rec->key && rec->klen == strlen(want_key) && !memcmp(rec->key, want_key, rec->klen));
        }
    }
    RN_CHECK_EQ_INT(got, N);
    const char *topics[16];
    int32_t parts[16];
    RN_CHECK_EQ_INT(r->assignment(r, topics, parts, 16), XCH_PARTS);
}

/* Builds a table's options in out: topic, the bootstrap list client_bs,
 * then the nsec options of sec (security settings). Returns the count. */
static int table_opts(rn_option_t *out, const char *topic_key, const char *topic, const char *client_bs,
                      const rn_option_t *sec, int nsec)
{
    int n = 0;
    out[n++] = (rn_option_t)OPT(topic_key, topic);
    out[n++] = (rn_option_t)OPT("properties.bootstrap.servers", client_bs);
    for (int i = 0; i < nsec; i++) out[n++] = sec[i];
    return n;
}

/* The repartition topic of a source topic of 8 partitions on brokers
 * (real: a real cluster, so also the topic's configs and the purge are
 * checked), for a table that reaches the cluster at client_bs with the
 * nsec options of sec (SASL, TLS; the test's own clients use brokers):
 * created with 8 partitions, records go to the partition asked for and
 * come back through the reader in group `name` (not the table's), which
 * commits, resumes from its commits and (real) deletes what it committed;
 * opening it for a source of another partition count, or for a table of
 * several topics, fails with a message saying why. */
static void exchange_on(const char *brokers, const char *client_bs, const rn_option_t *sec, int nsec, bool real)
{
    char err[1024], src[128], src4[128], name[160], where[200];
    char tag[64] = "";
    if (real) snprintf(tag, sizeof tag, "-%s%d-%lld", nsec ? "s" : "", (int)getpid(), (long long)time(NULL));
    snprintf(src, sizeof src, "xk-src%s", tag);
    snprintf(src4, sizeof src4, "xk-src4%s", tag);
    /* the repartition topic is "<the table's group>-<suffix>" */
    char group[100];
    snprintf(group, sizeof group, "xk-test%s", tag);
    snprintf(name, sizeof name, "%s-3-repartition", group);
    snprintf(where, sizeof where, "repartition topic %s", name);
    RN_REQUIRE(make_topic(brokers, src, XCH_PARTS));
    RN_REQUIRE(make_topic(brokers, src4, 4));

    rn_option_t opts[16];
    int nopts = table_opts(opts, "topic", src, client_bs, sec, nsec);
    opts[nopts++] = (rn_option_t)OPT("properties.group.id", group);
    opts[nopts++] = (rn_option_t)OPT("properties.auto.offset.reset", "latest");
    if (!real) { /* real: Kafka's own timing */
        rn_option_t timing[] = {MOCK_GROUP_TIMING};
        opts[nopts++] = timing[0];
        opts[nopts++] = timing[1];
    }
    for (int round = 0; round < 2; round++) {
        rn_exchange_io_t *io = NULL;
        rn_reader_t *r = NULL;
        rn_err_t e = open_exchange(&rn_connector_kafka, opts, nopts, "views", "3-repartition", &io, &r, err, sizeof err);
        if (e != RN_OK) fprintf(stderr, "%s\n", err);
        RN_REQUIRE(e == RN_OK);
        RN_CHECK_EQ_INT(io->ntasks, XCH_PARTS);
        RN_CHECK_EQ_INT(io->nparts, XCH_PARTS);
        RN_CHECK_EQ_STR(io->where, where);
        RN_CHECK_EQ_STR(r->where, where);
        /* the second round resumes where the first committed, in spite
         * of the table's 'auto.offset.reset' */
        exchange_round(io, r, name, round * 1000, round * XCH_PER);
        RN_CHECK(r->commit(r, false, err, sizeof err) == RN_OK);
        RN_CHECK(r->commit(r, true, err, sizeof err) == RN_OK);
        r->close(r);
        io->close(io);
    }

    /* group `name` committed everything; the table's group nothing */
    rd_kafka_t *rk = offsets_client(brokers, name);
    RN_REQUIRE(rk != NULL);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(XCH_PARTS);
    for (int p = 0; p < XCH_PARTS; p++) rd_kafka_topic_partition_list_add(l, name, p);
    RN_CHECK(rd_kafka_committed(rk, l, WAIT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int p = 0; p < XCH_PARTS; p++) RN_CHECK(l->elems[p].offset == 2 * XCH_PER);
    rd_kafka_topic_partition_list_destroy(l);
    if (real) {
        /* the final commit purged the partitions up to the committed offsets */
        for (int p = 0; p < XCH_PARTS; p++) {
            int64_t lo = -1, hi = -1;
            RN_CHECK(rd_kafka_query_watermark_offsets(rk, name, p, &lo, &hi, WAIT_MS) ==
                     RD_KAFKA_RESP_ERR_NO_ERROR);
            RN_CHECK(lo == 2 * XCH_PER && hi == 2 * XCH_PER);
        }
        /* created as Kafka Streams creates repartition topics */
        rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS);
        RN_REQUIRE(ev && !rd_kafka_event_error(ev));
        size_t nres = 0, nconf = 0;
        const rd_kafka_ConfigResource_t **got =
            rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &nres);
        RN_REQUIRE(nres == 1);
        const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(got[0], &nconf);
        const char *want[] = {"cleanup.policy", "delete", "retention.ms", "-1", "segment.bytes", "52428800",
                              "segment.ms", "600000"};
        int found = 0;
        for (size_t i = 0; i < nconf; i++)
            for (int w = 0; w < 8; w += 2)
                if (!strcmp(rd_kafka_ConfigEntry_name(entries[i]), want[w])) {
                    RN_CHECK_EQ_STR(rd_kafka_ConfigEntry_value(entries[i]), want[w + 1]);
                    found++;
                }
        RN_CHECK_EQ_INT(found, 4);
        rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_ConfigResource_destroy(res);
    }
    rd_kafka_destroy(rk);
    rk = offsets_client(brokers, group);
    RN_REQUIRE(rk != NULL);
    l = rd_kafka_topic_partition_list_new(XCH_PARTS);
    for (int p = 0; p < XCH_PARTS; p++) rd_kafka_topic_partition_list_add(l, name, p);
    RN_CHECK(rd_kafka_committed(rk, l, WAIT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int p = 0; p < XCH_PARTS; p++) RN_CHECK(l->elems[p].offset < 0);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);

    /* the topic exists with 8 partitions, the source now has 4 */
    nopts = table_opts(opts, "topic", src4, client_bs, sec, nsec);
    opts[nopts++] = (rn_option_t)OPT("properties.group.id", group);
    rn_exchange_io_t *io = NULL;
    rn_reader_t *r = NULL;
    char want[2048];
    snprintf(want, sizeof want,
             "table 'views': repartition topic '%s' has 8 partitions but topic '%s' has 4, and they must be "
             "equal (was the topic's partition count changed?): delete the repartition topic while no process "
             "of the pipeline runs (kafka-topics.sh --bootstrap-server %s --delete --topic %s) and start again; "
             "it is created anew with 4 partitions",
             name, src4, client_bs, name);
    RN_CHECK(open_exchange(&rn_connector_kafka, opts, nopts, "views", "3-repartition", &io, &r, err, sizeof err) ==
             RN_ERR_CONFIG);
    RN_CHECK_EQ_STR(err, want);
    RN_CHECK(io == NULL && r == NULL);

    /* sources of several topics */
    char list[300];
    snprintf(list, sizeof list, "%s;%s", src, src4);
    nopts = table_opts(opts, "topic", list, client_bs, sec, nsec);
    RN_CHECK(open_exchange(&rn_connector_upsert_kafka, opts, nopts, "views", "3-repartition", &io, &r, err, sizeof err) ==
             RN_ERR_UNSUPPORTED);
    RN_CHECK_EQ_STR(err, "table 'views' reads several topics: a GROUP BY over it cannot be repartitioned yet");
    nopts = table_opts(opts, "topic-pattern", "xk-src.*", client_bs, sec, nsec);
    RN_CHECK(open_exchange(&rn_connector_kafka, opts, nopts, "views", "3-repartition", &io, &r, err, sizeof err) ==
             RN_ERR_UNSUPPORTED);
    RN_CHECK_EQ_STR(err, "table 'views' reads several topics ('topic-pattern'): a GROUP BY over it cannot be "
                         "repartitioned yet");
    if (real) { /* leave the shared cluster as it was (the test's clients are closed) */
        rk = offsets_client(brokers, "xk-cleanup");
        RN_REQUIRE(rk != NULL);
        const char *made[] = {src, src4, name};
        rd_kafka_DeleteTopic_t *del[3];
        for (int i = 0; i < 3; i++) del[i] = rd_kafka_DeleteTopic_new(made[i]);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_DeleteTopics(rk, del, 3, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS);
        RN_CHECK(ev && !rd_kafka_event_error(ev));
        if (ev) rd_kafka_event_destroy(ev);
        rd_kafka_DeleteTopic_destroy_array(del, 3);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(rk);
    }
}

static void test_exchange(void)
{
    exchange_on(bs, bs, NULL, 0, false);
}

/* Only with KAFKA_BOOTSTRAP: a real cluster; with KAFKA_SASL_BOOTSTRAP
 * too (scripts/kafka start --sasl), also through its SASL_SSL listener. */
static void test_exchange_real(void)
{
    const char *real = getenv("KAFKA_BOOTSTRAP"), *sasl = getenv("KAFKA_SASL_BOOTSTRAP");
    if (!real || !*real) return;
    exchange_on(real, real, NULL, 0, true);
    if (!sasl || !*sasl) return;
    const char *mech = getenv("KAFKA_SASL_MECHANISM"), *user = getenv("KAFKA_SASL_USER"),
               *password = getenv("KAFKA_SASL_PASSWORD"), *ca = getenv("KAFKA_CA");
    RN_REQUIRE(mech && user && password && ca);
    rn_option_t sec[] = {OPT("properties.security.protocol", "SASL_SSL"), OPT("properties.sasl.mechanism", mech),
                         OPT("properties.sasl.username", user), OPT("properties.sasl.password", password),
                         OPT("properties.ssl.ca.location", ca)};
    exchange_on(real, sasl, sec, (int)(sizeof sec / sizeof *sec), true);
}

/* ---- runnel gen --brokers ----------------------------------------------- */

static void test_gen_brokers(void)
{
    char *argv[] = {"gen", "s5", "--count", "300", "--seed", "7", "--brokers", bs, NULL};
    RN_REQUIRE(rn_cli_gen(8, argv) == 0);
    enum { N = 300 };
    static raw_t raw;
    consume_raw("user-events", 8, N, &raw);
    rd_kafka_message_t **m = raw.m;
    int n = raw.n;
    RN_CHECK_EQ_INT(n, N);
    for (int i = 0; i < n; i++) {
        int kid = -1, vid = -2;
        RN_CHECK(m[i]->key && sscanf(m[i]->key, "{\"user_id\":%d}", &kid) == 1);
        const char *u = memmem(m[i]->payload, m[i]->len, "\"user_id\":", 10);
        RN_CHECK(u && sscanf(u, "\"user_id\":%d", &vid) == 1);
        RN_CHECK_EQ_INT(kid, vid);
        if (m[i]->key) RN_CHECK_EQ_INT(m[i]->partition, java_partition(m[i]->key, m[i]->key_len, 8));
    }
    raw_free(&raw);
}

int main(void)
{
    char err[512];
    setenv("RUNNEL_KAFKA_CONNECT_TIMEOUT_MS", "10000", 1);
    unsetenv("RUNNEL_BROKERS");
    rn_log_set_level(RN_LOG_ERROR); /* no partition assignment reports */
    if (rn_kafka_embedded_start(3, bs, sizeof bs, err, sizeof err) != RN_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (!getenv("ONLY_GROUP")) {
        RN_RUN(test_env_substitution);
        RN_RUN(test_producer_settings);
        RN_RUN(test_no_brokers);
        RN_RUN(test_unreachable);
        RN_RUN(test_missing_topic);
        RN_RUN(test_nudge_never_blocks);
        RN_RUN(test_sink_keys_and_tombstone);
        RN_RUN(test_sink_batches_wait_out_a_full_queue);
        RN_RUN(test_reader_earliest_bounded);
        RN_RUN(test_dead_letter);
        RN_RUN(test_exchange);
        RN_RUN(test_exchange_real);
    }
    RN_RUN(test_close_before_first_assignment);
    RN_RUN(test_group_eager);
    RN_RUN(test_group_cooperative);
    RN_RUN(test_sync_failure_stops);
    RN_RUN(test_gen_brokers);
    RN_RUN(test_embedded_late_member_and_closing); /* last: it closes the cluster */
    rn_kafka_embedded_stop();
    return rn_test_summary();
}
