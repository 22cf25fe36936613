/*
 * kafka_loop.c - the upper bound of runnel's Kafka reader: a bare
 * librdkafka consume loop that reads a topic to its end and touches every
 * message's payload, with the consumer settings runnel's reader uses.
 *
 * bench/kafka_loop runs it next to `runnel run bench/kafka_loop.sql` over
 * the same topic and prints runnel's rate as a percentage of this one.
 * It does what runnel's reader does at the least: joins a consumer group
 * (subscribe, range assignor, group join included in the time), starts
 * each partition at its earliest offset, stops once every partition has
 * reached the high watermark it had when assigned (runnel's
 * 'scan.bounded.mode' = 'latest-offset'), and takes messages in batches
 * of up to 1024 the way kr_next does (a non-blocking batch, else one
 * blocking poll). Per message it adds the payload's length and its first
 * and last bytes, so the payload is read, and destroys the message. It
 * decodes nothing: runnel's rate below it is the cost of the engine
 * (copying, JSON decoding, the query) over the client's.
 *
 * The consumer settings are runnel's (src/connectors/kafka_client.c,
 * consumer[] and the reader's defaults in kafka.c); `-X key=value`
 * overrides or adds one, as 'properties.key' does for a runnel table.
 *
 * Usage: kafka_loop BOOTSTRAP TOPIC GROUP [-X key=value]...
 * Prints on stdout: "messages N bytes B sum S seconds T rate R peak_rss_kib K"
 * (seconds from before the client is created to the end of the topic).
 * Built by CMake as bench_kafka_loop (build/bench_kafka_loop).
 */
#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOOP_BATCH 1024 /* RN_BATCH_MAX: what runnel's source asks its reader for */
#define LOOP_MAX_PARTS 4096

typedef struct loop_part {
    int32_t partition;
    int64_t end;  /* high watermark when assigned */
    bool done;    /* reached end */
} loop_part_t;

static loop_part_t parts[LOOP_MAX_PARTS];
static int nparts;          /* partitions assigned */
static int ndone;           /* of them done */
static bool assigned;       /* the group assigned us partitions */
static const char *topic;   /* the topic read */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The process's peak resident size in KiB (VmHWM), 0 if unknown. */
static long peak_rss_kib(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp) return 0;
    char line[256];
    long kib = 0;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    fclose(fp);
    return kib;
}

static loop_part_t *find_part(int32_t partition)
{
    for (int i = 0; i < nparts; i++)
        if (parts[i].partition == partition) return &parts[i];
    return NULL;
}

static void finish(rd_kafka_t *rk, loop_part_t *p)
{
    if (p->done) return;
    p->done = true;
    ndone++;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p->partition);
    rd_kafka_pause_partitions(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Eager assignment only (runnel's default range assignor): every partition
 * starts at its beginning; its end is the high watermark of now. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *l, void *opaque)
{
    (void)opaque;
    if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, NULL);
        return;
    }
    nparts = ndone = 0;
    for (int i = 0; i < l->cnt && nparts < LOOP_MAX_PARTS; i++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, l->elems[i].topic, l->elems[i].partition, &lo, &hi, 10000)) {
            fprintf(stderr, "kafka_loop: cannot read the end of %s[%d]\n", l->elems[i].topic,
                    (int)l->elems[i].partition);
            exit(1);
        }
        loop_part_t *p = &parts[nparts++];
        *p = (loop_part_t){.partition = l->elems[i].partition, .end = hi, .done = hi <= 0};
        ndone += p->done;
        l->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, l);
    assigned = true;
    for (int i = 0; i < nparts; i++)
        if (parts[i].done) {
            parts[i].done = false;
            ndone--;
            finish(rk, &parts[i]);
        }
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char why[512];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_loop: %s=%s: %s\n", key, value, why);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: kafka_loop BOOTSTRAP TOPIC GROUP [-X key=value]...\n");
        return 2;
    }
    topic = argv[2];
    double t0 = now_s();
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* runnel's consumer settings (kafka_client.c consumer[], kafka.c kr_open) */
    set(conf, "bootstrap.servers", argv[1]);
    set(conf, "group.id", argv[3]);
    set(conf, "client.id", "runnel");
    set(conf, "log.connection.close", "false");
    set(conf, "log_level", "3");
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.auto.offset.store", "false");
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "max.poll.interval.ms", "86400000");
    set(conf, "enable.partition.eof", "true");
    set(conf, "partition.assignment.strategy", "range");
    /* runnel's prefetch bound (kafka_client.c, consumer[]; fetch.max.bytes
     * follows queued.max.messages.kbytes; docs/kafka.md, "Prefetch") */
    set(conf, "queued.min.messages", "100000");
    set(conf, "queued.max.messages.kbytes", "32768");
    if (rd_kafka_version() >= 0x020200ff) set(conf, "fetch.queue.backoff.ms", "10");
    for (int i = 4; i + 1 < argc; i += 2) {
        char *kv = argv[i + 1], *eq = strchr(kv, '=');
        if (strcmp(argv[i], "-X") || !eq) {
            fprintf(stderr, "kafka_loop: expected -X key=value, got %s %s\n", argv[i], kv);
            return 2;
        }
        *eq = '\0';
        set(conf, kv, eq + 1);
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) {
        fprintf(stderr, "kafka_loop: %s\n", why);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, sub)) {
        fprintf(stderr, "kafka_loop: cannot subscribe to %s\n", topic);
        return 1;
    }
    rd_kafka_topic_partition_list_destroy(sub);

    static rd_kafka_message_t *msgs[LOOP_BATCH];
    uint64_t messages = 0, bytes = 0, sum = 0;
    while (!assigned || ndone < nparts) {
        ssize_t got = rd_kafka_consume_batch_queue(q, 0, msgs, LOOP_BATCH);
        if (got == 0) { /* nothing queued: wait for one, then take what came with it */
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
            if (!m) continue;
            msgs[0] = m;
            ssize_t more = rd_kafka_consume_batch_queue(q, 0, msgs + 1, LOOP_BATCH - 1);
            got = 1 + (more > 0 ? more : 0);
        }
        if (got < 0) {
            fprintf(stderr, "kafka_loop: consume: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
            return 1;
        }
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = msgs[i];
            loop_part_t *p = find_part(m->partition);
            if (m->err) {
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                    if (p && m->offset >= p->end) finish(rk, p);
                } else {
                    fprintf(stderr, "kafka_loop: %s\n", rd_kafka_message_errstr(m));
                }
            } else if (p && !p->done && m->offset < p->end) {
                const unsigned char *d = m->payload;
                messages++;
                bytes += m->len;
                if (m->len) sum += d[0] + d[m->len - 1];
                if (m->offset + 1 >= p->end) finish(rk, p);
            }
            rd_kafka_message_destroy(m);
        }
    }
    double secs = now_s() - t0;
    printf("messages %" PRIu64 " bytes %" PRIu64 " sum %" PRIu64 " seconds %.3f rate %.0f peak_rss_kib %ld\n",
           messages, bytes, sum, secs, messages / secs, peak_rss_kib());
    fflush(stdout);
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}
