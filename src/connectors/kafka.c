/*
 * kafka.c - the 'kafka' and 'upsert-kafka' connectors, as in Flink's Kafka
 * SQL connector, on librdkafka (plumbing in kafka_client.c).
 *
 * Reader. A consumer in group 'properties.group.id' (default
 * runnel.<pipeline>.<table>) subscribes to 'topic' (a ';'-separated list)
 * or 'topic-pattern' (a regular expression that must match whole topic
 * names, as in Flink). Messages are taken from the consumer queue in
 * batches; keys, values and (when asked) headers are copied into one
 * reusable buffer with RN_JSON_PADDING bytes after the last one, so the
 * JSON decoder may read ahead, and the messages themselves are kept until
 * the next call so topic names stay valid. Keys are always handed out
 * (dead letters forward them).
 *
 * Offsets. Nothing is committed automatically. The reader tracks, per
 * owned partition, the offset after the last record handed out; commit()
 * commits those. The runtime is synchronous, so when commit() or a
 * rebalance happens every record handed out earlier has been processed.
 * When partitions are revoked the sinks are synced (sync_outputs), dead
 * letters flushed, and the revoked partitions' positions committed before
 * they are given up. Records of a revoked partition that a batch still
 * holds are handed out but never committed: duplicates are possible, loss
 * is not. 'scan.startup.mode' applies the first time this process is
 * assigned a partition, unless another member of the group has committed
 * the partition since this reader started: then the partition was read by
 * a member of the same run (a worker or process that joined the group
 * before this one and gave the partition up in a rebalance), and it
 * resumes from that commit instead of reading the partition again from
 * the startup position. Every commit carries its wall-clock time as
 * metadata ("runnel@<ms>") to tell the two apart (kr_taken_over); a commit
 * without it, or from before this reader started, belongs to an earlier
 * run. When a partition comes back to this reader after a rebalance it
 * resumes from the group's committed offset. For 'latest-offset' and
 * 'timestamp' the resolved start offset is committed like a position, so
 * that a re-assignment does not fall back to the earliest offset.
 *
 * Each assignment and revocation is reported on stderr in one line
 * ("table 'x': assigned user-events[0-3]"): rare, and what an operator
 * watching a group wants to see.
 *
 * Prefetch is bounded (kafka_client.c); on librdkafka before 2.2 the
 * reader wakes the fetchers when the queue runs low (kr_nudge). Watermark
 * alignment pauses and resumes partitions through kr_pause, and learns
 * which are read to their bounded end through kr_at_end.
 *
 * Bounded reading ('scan.bounded.mode' = 'latest-offset') is per process:
 * the reader ends once every partition it owns has reached the high
 * watermark that partition had when this process was first assigned it.
 * Records past that mark are not handed out and the partition is paused.
 * It does not end while other partitions of its topics are left unread,
 * though: a member that died while it waited for the group still gets a
 * share of the next generation, which nobody reads until its session
 * expires. So it also waits until the group has committed the other
 * partitions up to their marks, or until its assignment has been stable
 * longer than a dead member can stay (kr_group_done).
 *
 * Until the group assigns it partitions, the reader says so at once and
 * every 5 s, with the usual cause: a killed member holds them until its
 * session times out.
 *
 * Sink. One producer (acks=all; one request in flight, not idempotent:
 * kafka_client.c says why) per sink table, or the pipeline's transaction
 * under exactly-once; keyed records
 * go where Java clients would put them (murmur2), unless 'sink.partitioner'
 * says 'fixed' (partition 0) or 'round-robin'. A delete of 'upsert-kafka'
 * is a tombstone. Delivery failures stop the pipeline (kafka_client.c).
 *
 * Exchange (open_exchange). The remote transport of an Exchange is a
 * repartition topic, as in Kafka Streams: created when missing with the
 * source topic's partition count and Kafka Streams' topic configs, written
 * by an idempotent producer to explicit partitions, and read back by the
 * reader above (kr_open) in a consumer group named like the topic, which
 * also purges: after a commit, at most every 10 s and at the final one, it
 * deletes (DeleteRecords) the records before the positions the group has
 * confirmed. Both clients take the source table's 'properties.*' except
 * its group settings. The two topics of a join's inputs are read by one
 * consumer (the first input opens no reader, ctx->no_reader; the second's
 * subscribes to both, ctx->also_read), which the runtime splits by topic
 * (op/split_reader.h). docs/kafka.md ("Repartition topics") has the rest.
 */
#include "connectors/connector.h"
#include "connectors/kafka_client.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/env.h"
#include "json/json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KAFKA_NO_OFFSET SIZE_MAX /* kafka_span_t: no such bytes */
#define KAFKA_NOTE_EVERY_MS 5000 /* "waiting for the group" lines */
#define KAFKA_GROUP_CHECK_MS 1000 /* bounded: how often the group's offsets are looked at */
#define KAFKA_PURGE_EVERY_MS 10000 /* repartition topics: least time between two purges */
#define KAFKA_UNSTABLE_WAIT_MS 150000 /* restoring: how long committed positions may stay unstable */

static void kafka_free_topics(char **topics, int n);
static void kr_describe_parts(const rd_kafka_topic_partition_list_t *parts, rn_buf_t *out);

static int64_t kr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wall-clock time in ms: commit times are compared across processes. */
static int64_t kr_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define KAFKA_COMMIT_STAMP "runnel@" /* commit metadata: "runnel@<wall-clock ms>[;ckpt=<file>]" */
#define KAFKA_COMMIT_CKPT ";ckpt="    /* the checkpoint the committed position belongs to */

typedef struct kafka_conf {
    const char *topic;            /* 'topic' (a ';'-separated list for sources) */
    const char *topic_pattern;    /* 'topic-pattern' */
    const char *startup_mode;     /* 'scan.startup.mode' */
    int64_t startup_ts;           /* 'scan.startup.timestamp-millis' */
    const char *bounded_mode;     /* 'scan.bounded.mode' */
    const char *format;           /* 'format' */
    const char *key_format;       /* 'key.format' */
    const char *key_fields;       /* 'key.fields' */
    const char *value_format;     /* 'value.format' */
    const char *json_ts;          /* 'json.timestamp-format.standard' (the value's) */
    const char *key_json_ts;      /* 'key.json.timestamp-format.standard' */
    const char *value_json_ts;    /* 'value.json.timestamp-format.standard' */
    const char *fields_include;   /* 'value.fields-include' */
    const char *dlq_topic;        /* 'dlq.topic' */
    const char *sink_partitioner; /* 'sink.partitioner' */
    const char *delivery;         /* 'sink.delivery-guarantee' */
    const char *txn_prefix;       /* 'sink.transactional-id-prefix' */
} kafka_conf_t;

/* clang-format off */
static const rn_option_spec_t kafka_options[] = {
    {"topic", RN_OPT_STRING, NULL, offsetof(kafka_conf_t, topic), NULL, false, "topic name(s), ';'-separated"},
    {"topic-pattern", RN_OPT_STRING, NULL, offsetof(kafka_conf_t, topic_pattern), NULL, false, "regular expression of topics to read"},
    {"scan.startup.mode", RN_OPT_ENUM, "group-offsets", offsetof(kafka_conf_t, startup_mode),
     "earliest-offset|latest-offset|group-offsets|timestamp", false, "where a new consumer group starts"},
    {"scan.startup.timestamp-millis", RN_OPT_INT, "0", offsetof(kafka_conf_t, startup_ts), NULL, false, "start time for 'timestamp' mode"},
    {"scan.bounded.mode", RN_OPT_ENUM, "unbounded", offsetof(kafka_conf_t, bounded_mode), "unbounded|latest-offset", false,
     "stop at the offsets that were latest when reading started"},
    {"format", RN_OPT_ENUM, "json", offsetof(kafka_conf_t, format), "json", false, "value format"},
    {"key.format", RN_OPT_ENUM, NULL, offsetof(kafka_conf_t, key_format), "json|raw", false, "key format"},
    {"key.fields", RN_OPT_STRING, NULL, offsetof(kafka_conf_t, key_fields), NULL, false, "columns read from the key, ';'-separated"},
    {"value.format", RN_OPT_ENUM, NULL, offsetof(kafka_conf_t, value_format), "json", false, "value format"},
    {"json.timestamp-format.standard", RN_OPT_ENUM, NULL, offsetof(kafka_conf_t, json_ts), "SQL|ISO-8601", false,
     "timestamps in written values as strings (default: epoch ms)"},
    {"key.json.timestamp-format.standard", RN_OPT_ENUM, NULL, offsetof(kafka_conf_t, key_json_ts), "SQL|ISO-8601", false,
     "timestamps in written keys as strings (default: epoch ms)"},
    {"value.json.timestamp-format.standard", RN_OPT_ENUM, NULL, offsetof(kafka_conf_t, value_json_ts), "SQL|ISO-8601",
     false, "as 'json.timestamp-format.standard'"},
    {"value.fields-include", RN_OPT_ENUM, "ALL", offsetof(kafka_conf_t, fields_include), "ALL|EXCEPT_KEY", false, "whether key columns are in the value"},
    {"dlq.topic", RN_OPT_STRING, "dlq", offsetof(kafka_conf_t, dlq_topic), NULL, false, "dead-letter topic for undecodable records"},
    {"sink.partitioner", RN_OPT_ENUM, "default", offsetof(kafka_conf_t, sink_partitioner), "default|fixed|round-robin", false, "how records map to partitions"},
    {"sink.delivery-guarantee", RN_OPT_ENUM, "at-least-once", offsetof(kafka_conf_t, delivery), "at-least-once|exactly-once|none", false,
     "exactly-once: the pipeline's Kafka outputs and positions are committed in one transaction per checkpoint"},
    {"sink.transactional-id-prefix", RN_OPT_STRING, "runnel", offsetof(kafka_conf_t, txn_prefix), NULL, false, "start of the transactional.id (exactly-once)"},
    {NULL},
};

static const rn_metadata_spec_t kafka_metadata[] = {
    {"topic", RN_TYPE_STRING, RN_FROM_TOPIC},
    {"partition", RN_TYPE_INT, RN_FROM_PARTITION},
    {"offset", RN_TYPE_BIGINT, RN_FROM_OFFSET},
    {"timestamp", RN_TYPE_TIMESTAMP_LTZ, RN_FROM_TIMESTAMP},
    {"headers", RN_TYPE_STRING, RN_FROM_HEADERS},
    {NULL},
};
/* clang-format on */

/* ---- reader ------------------------------------------------------------- */

typedef enum kafka_start { START_GROUP, START_EARLIEST, START_LATEST, START_TIMESTAMP } kafka_start;

/* A partition this reader has been assigned at some point. */
typedef struct kafka_part {
    char *topic;                 /* topic name (owned) */
    int32_t partition;           /* partition number */
    const rd_kafka_topic_t *rkt; /* handle last seen for topic (lookup shortcut), or NULL */
    bool assigned;               /* owned now */
    int64_t next;                /* offset after the last record handed out, -1 = none */
    int64_t committed;           /* last position the group confirmed, -1 = unknown */
    int64_t end;                 /* bounded: high watermark when first assigned */
    bool done;                   /* bounded: reached end (the partition is paused) */
    bool seen;                   /* assigned to this process at some point (else only watched) */
    bool marked;                 /* bounded: end holds the mark of a partition never assigned */
    int64_t purged;              /* repartition topic: records before this offset were asked
                                  * to be deleted (0 = none) */
    int64_t resume;              /* revoked by an eager rebalance: where to go on if the
                                  * next assignment gives it back (-1 = from the group) */
    bool aligned;                /* paused by watermark alignment (kr_pause) */
    int64_t start;               /* assigned to start at the group's committed offset: this
                                  * one (kr_group_starts), its position before it hands
                                  * anything out (kr_lag); -1 = unknown */
} kafka_part_t;

/* Where a handed-out record's bytes are in kafka_reader_t.bytes. */
typedef struct kafka_span {
    size_t key, value, headers; /* offsets, or KAFKA_NO_OFFSET */
} kafka_span_t;

typedef struct kafka_reader {
    rn_reader_t base;          /* the interface (first: the reader is cast to it) */
    rn_kafka_t *k;             /* the consumer */
    rd_kafka_queue_t *queue;   /* its consumer queue */
    char *table;               /* table name */
    char *label;               /* "table 'x'" */
    char *where;               /* "kafka topic x" */
    bool pattern;              /* subscribed to 'topic-pattern' */
    kafka_start start;         /* 'scan.startup.mode' */
    int64_t start_ts;          /* 'scan.startup.timestamp-millis' */
    bool bounded;              /* 'scan.bounded.mode' = 'latest-offset' */
    bool want_headers;         /* build the headers JSON */
    bool closing;              /* close(): rebalances only give partitions up */
    bool commit_at_close;      /* the final commit met a rebalance: retry when closing */
    bool assigned;             /* the last rebalance event was an assignment */
    kafka_part_t *parts;       /* every partition assigned so far */
    int nparts, capparts;      /* used / allocated parts */
    int hint;                  /* index of the last part looked up */
    rd_kafka_message_t **msgs; /* messages of the last batch (destroyed by the next call) */
    kafka_span_t *spans;       /* per handed-out record */
    int nmsgs, capmsgs;        /* messages held / room for msgs and spans */
    rn_buf_t bytes;            /* keys, values and headers of the last batch, then padding */
    rn_err_t pending;          /* error raised in a rebalance or a batch: next() and commit() fail */
    char pending_msg[512];     /* its message */
    rn_option_t *props;        /* copies of the 'properties.*' options, for the DLQ producer */
    int nprops;                /* entries of props */
    char *dlq_topic;           /* 'dlq.topic' */
    rn_kafka_t *dlq;           /* dead-letter producer, created on first use */
    rd_kafka_topic_t *dlq_rkt; /* its topic handle */
    uint64_t dead;             /* dead letters sent */
    char **topics;             /* 'topic' split, or NULL for a pattern */
    int ntopics;               /* entries of topics */
    char group[256];           /* the consumer group id, for messages */
    int settle_ms;             /* session.timeout.ms + slack: a member that died before our
                                * assignment has been expelled (and a rebalance begun) by then */
    int64_t unassigned_ms;     /* since when the reader has had no assignment (subscribe(), revocation) */
    int64_t started_wall_ms;   /* wall-clock time the reader subscribed (kr_taken_over) */
    int64_t assigned_ms;       /* when the last assignment arrived, 0 = none yet */
    int64_t wait_noted_ms;     /* when the last "waiting for the group" line was printed */
    int64_t group_checked_ms;  /* bounded: when the group's offsets were last looked at */
    bool marks_taken;          /* bounded: end marks of partitions never assigned are known */
    bool group_done;           /* bounded: kr_group_done said so (it stays so) */
    bool resume_told;          /* rn_reader_t.resumed was called */
    bool purge;                /* a repartition topic (not on the embedded cluster): delete
                                * what the group committed (kr_purge) */
    rd_kafka_queue_t *purge_q; /* results of DeleteRecords requests */
    int purges;                /* requests in flight */
    int64_t purged_ms;         /* when the last request was sent */
    int64_t purge_warned_ms;   /* when a failed purge was last reported */
    int nudge_below;           /* librdkafka < 2.2: wake the fetchers when fewer messages are
                                * queued (kr_nudge); 0 = never */
    int64_t nudge_bytes;       /* ... and fewer bytes than this (estimated) */
    uint64_t seen_msgs, seen_bytes; /* records handed out and their value bytes (the mean size) */
    int64_t nudged_ms;         /* when they were last woken */
    int nudge_every_ms;        /* least time between wakeups: KAFKA_NUDGE_MIN_MS, doubled up
                                * to KAFKA_NUDGE_MAX_MS while none brings records */
    uint64_t nudged_got;       /* records handed out and queued at the last wakeup */
} kafka_reader_t;

/* Remembers the first error raised inside a rebalance callback. */
__attribute__((format(printf, 3, 4))) static void kr_set_pending(kafka_reader_t *r, rn_err_t err,
                                                                 const char *fmt, ...)
{
    if (r->pending != RN_OK) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->pending_msg, sizeof r->pending_msg, fmt, ap);
    va_end(ap);
    r->pending = err;
}

/* Finds the part of (topic, partition), adding it when add is set.
 * Returns NULL if absent (or on OOM, then the error is pending). */
static kafka_part_t *kr_find(kafka_reader_t *r, const char *topic, int32_t partition, bool add)
{
    for (int i = 0; i < r->nparts; i++) {
        kafka_part_t *p = &r->parts[(r->hint + i) % r->nparts];
        if (p->partition == partition && !strcmp(p->topic, topic)) {
            r->hint = (int)(p - r->parts);
            return p;
        }
    }
    if (!add) return NULL;
    if (r->nparts == r->capparts) {
        int cap = r->capparts ? r->capparts * 2 : 16;
        kafka_part_t *np = rn_realloc(r->parts, (size_t)cap * sizeof *np);
        if (!np) {
            kr_set_pending(r, RN_ERR_NOMEM, "%s: out of memory", r->label);
            return NULL;
        }
        r->parts = np;
        r->capparts = cap;
    }
    kafka_part_t *p = &r->parts[r->nparts];
    memset(p, 0, sizeof *p);
    if (!(p->topic = rn_strdup(topic))) {
        kr_set_pending(r, RN_ERR_NOMEM, "%s: out of memory", r->label);
        return NULL;
    }
    p->partition = partition;
    p->next = p->committed = p->resume = p->start = -1;
    r->hint = r->nparts++;
    return p;
}

/* The part a consumed message belongs to, or NULL if not tracked. Batches
 * hold long runs of one partition, so the last hit is tried first and
 * topics are compared by handle before by name. */
static kafka_part_t *kr_part_of(kafka_reader_t *r, const rd_kafka_message_t *m)
{
    if (!m->rkt) return NULL; /* an error of the consumer or group, not of a partition */
    if (r->nparts) {
        kafka_part_t *p = &r->parts[r->hint];
        if (p->rkt == m->rkt && p->partition == m->partition) return p;
    }
    kafka_part_t *p = kr_find(r, rd_kafka_topic_name(m->rkt), m->partition, false);
    if (p) p->rkt = m->rkt;
    return p;
}

/* rn_reader_t.lag: the partition's high watermark as the last fetch
 * response told it (librdkafka's cache, no round trip) less the
 * consumer's position: the offset after the last record handed out, or
 * librdkafka's application position where that is further on (it steps
 * over the control records that end transactions, which are never handed
 * out; without it a partition written by a transactional producer would
 * seem to hold one record more forever); before the partition has handed
 * anything out, where it starts: the offset its startup mode found
 * (kr_resolve made it its next) or the group's committed offset. Records
 * of a transaction not committed yet count (the high watermark covers
 * them): they come once it commits. -1 while either is unknown (a
 * partition without a commit starts where 'auto.offset.reset' says, which
 * is not looked up). The source keeps a partition with records left from
 * going idle (source_check_idle). */
static int64_t kr_lag(rn_reader_t *base, const char *topic, int32_t partition)
{
    kafka_reader_t *r = (kafka_reader_t *)base;
    if (!topic) return -1;
    kafka_part_t *p = kr_find(r, topic, partition, false);
    int64_t lo = -1, hi = -1;
    if (!p || rd_kafka_get_watermark_offsets(r->k->rk, topic, partition, &lo, &hi) || hi < 0) return -1;
    int64_t at = p->next;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    if (!rd_kafka_position(r->k->rk, l) && !l->elems[0].err && l->elems[0].offset > at)
        at = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    if (at < 0) at = p->start;
    if (at < 0) return -1;
    return hi > at ? hi - at : 0;
}

/* Bounded mode: marks p as finished and stops fetching it. */
static void kr_finish(kafka_reader_t *r, kafka_part_t *p)
{
    p->done = true;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    rd_kafka_pause_partitions(r->k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* rn_reader_t.pause: watermark alignment. librdkafka drops what it
 * prefetched for a paused partition and, on resume, fetches from the
 * offset after the last message handed out (its application position),
 * which is next. A partition finished by bounded mode stays paused. */
static void kr_pause(rn_reader_t *base, const char *topic, int32_t partition, bool pause)
{
    kafka_reader_t *r = (kafka_reader_t *)base;
    kafka_part_t *p = kr_find(r, topic, partition, false);
    if (!p || !p->assigned || p->aligned == pause) return;
    p->aligned = pause;
    if (p->done) return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    if (pause)
        rd_kafka_pause_partitions(r->k->rk, l);
    else
        rd_kafka_resume_partitions(r->k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* rn_reader_t.at_end */
static bool kr_at_end(rn_reader_t *base, const char *topic, int32_t partition)
{
    kafka_reader_t *r = (kafka_reader_t *)base;
    kafka_part_t *p = kr_find(r, topic, partition, false);
    return p && p->assigned && p->done;
}

/* Bounded mode: true once the reader owns its assignment and every owned
 * partition is done. */
static bool kr_finished(const kafka_reader_t *r)
{
    if (!r->assigned) return false;
    for (int i = 0; i < r->nparts; i++)
        if (r->parts[i].assigned && !r->parts[i].done) return false;
    return true;
}

/* Looks up, for each partition of l, the offset of the first record at or
 * after timestamp ts (RD_KAFKA_OFFSET_END: the high watermark). Returns a
 * new list with the offsets (-1 where none), or NULL with the error
 * pending. */
static rd_kafka_topic_partition_list_t *kr_offsets_at(kafka_reader_t *r,
                                                      const rd_kafka_topic_partition_list_t *l, int64_t ts)
{
    rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_copy(l);
    for (int i = 0; i < q->cnt; i++) q->elems[i].offset = ts;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(r->k->rk, q, r->k->connect_timeout_ms);
    for (int i = 0; i < q->cnt && !e; i++) e = q->elems[i].err;
    if (!e) return q;
    kr_set_pending(r, RN_ERR_IO, "%s: cannot look up offsets on %s: %s", r->label, r->k->brokers,
                   rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(q);
    return NULL;
}

/* Sets the start offsets in parts (about to be assigned): the group's
 * committed offsets for partitions owned before, the startup mode's for
 * the first-time ones (fresh) not taken over (kr_taken_over set their
 * next); and for bounded mode their end marks. */
static void kr_resolve(kafka_reader_t *r, rd_kafka_topic_partition_list_t *parts,
                       const rd_kafka_topic_partition_list_t *fresh)
{
    rd_kafka_topic_partition_list_t *ends = NULL, *starts = NULL;
    if (r->bounded || r->start == START_LATEST || r->start == START_TIMESTAMP)
        if (!(ends = kr_offsets_at(r, fresh, RD_KAFKA_OFFSET_END))) return;
    if (r->start == START_TIMESTAMP && !(starts = kr_offsets_at(r, fresh, r->start_ts))) goto done;
    /* 'earliest-offset' starts at each partition's first offset, looked up
     * here rather than assigned as the logical BEGINNING: librdkafka looks
     * that up only once the partition has joined its leader's thread, and
     * right after a first assignment it has not, so it retries after a
     * fixed 500 ms: half a second before the first record. */
    if (r->start == START_EARLIEST && !(starts = kr_offsets_at(r, fresh, RD_KAFKA_OFFSET_BEGINNING))) goto done;
    for (int i = 0; i < fresh->cnt; i++) {
        const rd_kafka_topic_partition_t *f = &fresh->elems[i];
        kafka_part_t *p = kr_find(r, f->topic, f->partition, false);
        rd_kafka_topic_partition_t *a = rd_kafka_topic_partition_list_find(parts, f->topic, f->partition);
        int64_t end = ends ? ends->elems[i].offset : -1;
        int64_t at = starts && starts->elems[i].offset >= 0 ? starts->elems[i].offset : end;
        if (p->next >= 0)
            ; /* taken over from a member of this run: a->offset is its commit */
        else if (r->start == START_EARLIEST)
            a->offset = p->next = starts->elems[i].offset >= 0 ? starts->elems[i].offset : 0;
        else if (r->start != START_GROUP)
            a->offset = p->next = at;
        if (r->bounded) {
            p->end = end;
            if (end <= 0 || (p->next >= 0 && p->next >= end)) p->done = true;
        }
    }
done:
    if (ends) rd_kafka_topic_partition_list_destroy(ends);
    if (starts) rd_kafka_topic_partition_list_destroy(starts);
}

/* With 'group-offsets', partitions first assigned here (fresh) start from
 * the group's committed positions where it has some (kr_group_starts
 * looked them up into their start): the first time that happens,
 * rn_reader_t.resumed hears which. A lookup that failed is skipped: the
 * warning is advice, not a condition to stop. */
static void kr_tell_resumed(kafka_reader_t *r, const rd_kafka_topic_partition_list_t *fresh)
{
    if (!r->base.resumed || r->resume_told || r->start != START_GROUP) return;
    rd_kafka_topic_partition_list_t *had = rd_kafka_topic_partition_list_new(fresh->cnt ? fresh->cnt : 1);
    for (int i = 0; i < fresh->cnt; i++) {
        const kafka_part_t *p = kr_find(r, fresh->elems[i].topic, fresh->elems[i].partition, false);
        if (p && p->start >= 0) rd_kafka_topic_partition_list_add(had, fresh->elems[i].topic, fresh->elems[i].partition);
    }
    if (had->cnt) {
        rn_buf_t b;
        rn_buf_init(&b);
        rn_buf_appendf(&b, "group '%s', ", r->group);
        kr_describe_parts(had, &b);
        if (!b.oom) {
            r->resume_told = true;
            r->base.resumed(r->base.resumed_opaque, b.data);
        }
        rn_buf_free(&b);
    }
    rd_kafka_topic_partition_list_destroy(had);
}

/* For a startup mode other than 'group-offsets': the first-time partitions
 * (fresh) that another member of the group committed since this reader
 * started get that commit as their start offset, in parts and in their
 * next, so the startup mode does not read again what that member read in
 * this run. A failed lookup leaves them to the startup mode (duplicates,
 * not a loss). */
static void kr_taken_over(kafka_reader_t *r, rd_kafka_topic_partition_list_t *parts,
                          const rd_kafka_topic_partition_list_t *fresh)
{
    if (r->start == START_GROUP) return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(fresh);
    if (rd_kafka_committed(r->k->rk, l, r->k->connect_timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        size_t plen = strlen(KAFKA_COMMIT_STAMP);
        for (int i = 0; i < l->cnt; i++) {
            const rd_kafka_topic_partition_t *c = &l->elems[i];
            char stamp[320];
            if (c->err || c->offset < 0 || !c->metadata || c->metadata_size <= plen ||
                c->metadata_size >= sizeof stamp || memcmp(c->metadata, KAFKA_COMMIT_STAMP, plen))
                continue;
            memcpy(stamp, (const char *)c->metadata + plen, c->metadata_size - plen);
            stamp[c->metadata_size - plen] = '\0';
            char *end;
            long long at = strtoll(stamp, &end, 10);
            if ((*end && *end != ';') || at < r->started_wall_ms) continue; /* an earlier run's */
            kafka_part_t *p = kr_find(r, c->topic, c->partition, false);
            rd_kafka_topic_partition_t *a = rd_kafka_topic_partition_list_find(parts, c->topic, c->partition);
            if (p && a) a->offset = p->next = c->offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* The checkpoint file named by a commit's metadata, copied to name; false
 * when it names none. */
static bool kr_commit_ckpt(const rd_kafka_topic_partition_t *c, char *name, size_t size)
{
    size_t plen = strlen(KAFKA_COMMIT_STAMP), clen = strlen(KAFKA_COMMIT_CKPT);
    if (c->err || c->offset < 0 || !c->metadata || c->metadata_size <= plen ||
        memcmp(c->metadata, KAFKA_COMMIT_STAMP, plen))
        return false;
    const char *m = c->metadata, *end = m + c->metadata_size;
    for (const char *q = m + plen; q + clen <= end; q++) {
        if (memcmp(q, KAFKA_COMMIT_CKPT, clen)) continue;
        size_t n = (size_t)(end - (q + clen));
        if (!n || n >= size) return false;
        memcpy(name, q + clen, n);
        name[n] = '\0';
        return true;
    }
    return false;
}

/* Checkpoints (docs/checkpoints.md): every partition in need (assigned
 * here, its state not here) starts from the group's committed position
 * when that names a checkpoint, whatever the startup mode (as Flink
 * restores offsets from its checkpoint), and the pipeline restores the
 * partition's state from that file first; a partition whose commit names
 * none gets an empty state and the startup rules. */
static void kr_ckpt_assign(kafka_reader_t *r, rd_kafka_topic_partition_list_t *parts,
                           const rd_kafka_topic_partition_list_t *need)
{
    if (!need->cnt) return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(need);
    /* Under exactly-once the group's positions stay unstable while the
     * transaction of a process that died before committing is open: the
     * broker aborts it when its successor (same transactional.id) starts,
     * or after 'transaction.timeout.ms'. Wait that long, saying so. */
    int64_t t0 = kr_now_ms();
    rd_kafka_resp_err_t e;
    bool told = false;
    while (((e = rd_kafka_committed(r->k->rk, l, r->k->connect_timeout_ms)) == RD_KAFKA_RESP_ERR__TIMED_OUT ||
            e == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE || e == RD_KAFKA_RESP_ERR__TRANSPORT) &&
           kr_now_ms() - t0 < KAFKA_UNSTABLE_WAIT_MS) {
        if (!told)
            rn_log_warn("%s: the committed positions of group '%s' are not readable yet (a transaction of a "
                        "process that stopped may be open until the broker aborts it); waiting up to %d s",
                        r->label, r->group, KAFKA_UNSTABLE_WAIT_MS / 1000);
        told = true;
    }
    if (e) {
        kr_set_pending(r, RN_ERR_IO, "%s: cannot read the committed positions of group '%s' to restore its checkpoint: %s",
                       r->label, r->group, rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
    rn_buf_t empty;
    rn_buf_init(&empty);
    for (int i = 0; i < l->cnt && r->pending == RN_OK; i++) {
        const rd_kafka_topic_partition_t *c = &l->elems[i];
        char name[256], why[512] = "";
        bool named = kr_commit_ckpt(c, name, sizeof name);
        kafka_part_t *p = kr_find(r, c->topic, c->partition, false);
        rd_kafka_topic_partition_t *a = rd_kafka_topic_partition_list_find(parts, c->topic, c->partition);
        if (!named && !c->err && c->offset >= 0)
            rn_buf_appendf(&empty, "%s%s[%d]@%lld", empty.len ? ", " : "", c->topic, (int)c->partition,
                           (long long)c->offset);
        int64_t at = !c->err ? c->offset : -1;
        rn_err_t err = r->base.ckpt_restore(r->base.ckpt_opaque, &r->base, c->topic, c->partition,
                                            named ? name : NULL, &at, why, sizeof why);
        if (err != RN_OK) kr_set_pending(r, err, "%s", why);
        /* restored: start where the checkpoint's state ends, and commit it
         * again at every checkpoint (its metadata must name a file kept) */
        else if (named && p && a && at >= 0) a->offset = p->next = at;
    }
    if (empty.len)
        rn_log_warn("%s: group '%s' committed %s without a checkpoint (an earlier run without checkpoints): "
                    "the state of %s starts empty",
                    r->label, r->group, empty.data, empty.len > 200 ? "these partitions" : "them");
    rn_buf_free(&empty);
    rd_kafka_topic_partition_list_destroy(l);
}

/* The partitions of parts that start from the group's committed offset
 * (nothing above gave them another start) learn that offset as their
 * start: kr_lag's position of a partition before its first record, and
 * what kr_tell_resumed tells. A failed lookup (it waits 2 s at most, or
 * 'connect_timeout' while the resume warning waits for it), or a
 * partition without a commit, leaves it unknown. */
static void kr_group_starts(kafka_reader_t *r, const rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts->cnt ? parts->cnt : 1);
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *a = &parts->elems[i];
        kafka_part_t *p = kr_find(r, a->topic, a->partition, false);
        if (p && a->offset == RD_KAFKA_OFFSET_INVALID && p->next < 0)
            rd_kafka_topic_partition_list_add(l, a->topic, a->partition);
    }
    bool told = !r->base.resumed || r->resume_told || r->start != START_GROUP;
    int wait_ms = told && r->k->connect_timeout_ms > 2000 ? 2000 : r->k->connect_timeout_ms; /* (a hint) */
    if (l->cnt && rd_kafka_committed(r->k->rk, l, wait_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < l->cnt; i++) {
            kafka_part_t *p = kr_find(r, l->elems[i].topic, l->elems[i].partition, false);
            if (p && !l->elems[i].err && l->elems[i].offset >= 0) p->start = l->elems[i].offset;
        }
    rd_kafka_topic_partition_list_destroy(l);
}

static bool kr_take_marks(kafka_reader_t *r);

/* Rebalance: parts are being assigned to this reader. */
static void kr_assign(kafka_reader_t *r, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *need = rd_kafka_topic_partition_list_new(parts->cnt);
    rd_kafka_topic_partition_list_t *fresh = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *a = &parts->elems[i];
        kafka_part_t *p = kr_find(r, a->topic, a->partition, false);
        if (!p && !(p = kr_find(r, a->topic, a->partition, true))) break;
        if (!p->seen) { /* first time here (maybe watched before: see kr_group_done) */
            rd_kafka_topic_partition_list_add(fresh, a->topic, a->partition);
            p->seen = true;
            p->marked = false;
        }
        p->assigned = true;
        p->aligned = false; /* (assigned afresh: fetching; the source decides again) */
        p->next = p->committed = -1;
        p->start = -1;
        a->offset = RD_KAFKA_OFFSET_INVALID; /* the group's committed offset */
        if (p->resume < 0) rd_kafka_topic_partition_list_add(need, a->topic, a->partition);
        if (p->resume >= 0) { /* given back after an eager rebalance: go on where it stopped */
            /* and commit that position even if nothing more arrives: the
             * commit at the revocation may have failed (a group in the
             * middle of a rebalance refuses it) */
            a->offset = p->next = p->resume;
            p->resume = -1;
        }
    }
    for (int i = 0; i < r->nparts; i++) r->parts[i].resume = -1; /* the others went elsewhere */
    r->base.assignment_version++;
    if (r->base.ckpt_restore && r->pending == RN_OK) kr_ckpt_assign(r, parts, need);
    rd_kafka_topic_partition_list_destroy(need);
    if (fresh->cnt && r->pending == RN_OK) kr_taken_over(r, parts, fresh);
    if (fresh->cnt && r->pending == RN_OK) kr_resolve(r, parts, fresh);
    if (r->pending == RN_OK) kr_group_starts(r, parts);
    if (fresh->cnt && r->pending == RN_OK) kr_tell_resumed(r, fresh);
    rd_kafka_topic_partition_list_destroy(fresh);
    /* Bounded: the end marks of the partitions other members read are
     * taken now, while none of this consumer's fetches waits at a broker
     * (at the end of its read one would hold the lookup up to
     * fetch.wait.max.ms); kr_group_done tries again if this fails. */
    if (r->bounded && !r->marks_taken && r->pending == RN_OK) r->marks_taken = kr_take_marks(r);
}

/* True for commit errors that mean "the group is moving on": the
 * positions are lost to this member, and their records will be read again
 * (by whoever owns them next), which is a duplicate, not a loss. */
static bool kr_group_moved(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS || e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
           e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID || e == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID ||
           e == RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST;
}

/* Appends the positions of l as "topic[0]@12,[3]@40, other[1]@7" to out
 * (only the elements with an error when errors_only is set). */
static void kr_describe_positions(const rd_kafka_topic_partition_list_t *l, bool errors_only, rn_buf_t *out)
{
    const char *topic = NULL;
    for (int i = 0; i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &l->elems[i];
        if (errors_only && !e->err) continue;
        bool same = topic && !strcmp(topic, e->topic);
        rn_buf_appendf(out, "%s%s[%d]@%lld", !topic ? "" : same ? "," : ", ", same ? "" : e->topic,
                       (int)e->partition, (long long)e->offset);
        topic = e->topic;
    }
}

/* Warns that the positions in what ("topic[0]@12,...") could not be
 * committed because of e. */
static void kr_warn_uncommitted(kafka_reader_t *r, rd_kafka_resp_err_t e, const char *what)
{
    rn_log_warn("%s: could not commit %s (%s); the records after them will be read again", r->label,
                what && *what ? what : "the last positions", rd_kafka_err2str(e));
}

/* The commit metadata of this reader now: "runnel@<ms>[;ckpt=<file>]";
 * returns its length, or -1 if it does not fit. */
static int kr_stamp(const kafka_reader_t *r, char *stamp, size_t size)
{
    int n = snprintf(stamp, size, KAFKA_COMMIT_STAMP "%lld%s%s", (long long)kr_wall_ms(),
                     r->base.ckpt_name[0] ? KAFKA_COMMIT_CKPT : "", r->base.ckpt_name);
    return n < (int)size ? n : -1;
}

/* The positions of every owned partition that has one, with the commit
 * metadata (for a transaction). NULL on OOM. */
static rd_kafka_topic_partition_list_t *kr_positions(kafka_reader_t *r)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->nparts ? r->nparts : 1);
    char stamp[320];
    int stamp_len = kr_stamp(r, stamp, sizeof stamp);
    for (int i = 0; l && i < r->nparts; i++) {
        kafka_part_t *p = &r->parts[i];
        if (!p->assigned || p->next < 0) continue;
        rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
        e->offset = p->next;
        if (stamp_len > 0 && (e->metadata = malloc((size_t)stamp_len))) { /* freed by librdkafka */
            memcpy(e->metadata, stamp, (size_t)stamp_len);
            e->metadata_size = (size_t)stamp_len;
        }
    }
    return l;
}

/* Commits the tracked positions of owned partitions (only those in filter
 * when it is not NULL), waiting for the result unless async. An
 * asynchronous commit skips positions the group already confirmed; a
 * synchronous one sends them all, so one still in flight cannot hide a
 * position. Returns the librdkafka error; then, for a synchronous commit,
 * appends the positions that were not committed to failed (may be NULL). */
static rd_kafka_resp_err_t kr_commit_parts(kafka_reader_t *r, const rd_kafka_topic_partition_list_t *filter,
                                           bool async, rn_buf_t *failed)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->nparts ? r->nparts : 1);
    char stamp[320]; /* commit metadata: when (kr_taken_over), and the checkpoint (kr_ckpt_assign) */
    int stamp_len = kr_stamp(r, stamp, sizeof stamp);
    for (int i = 0; i < r->nparts; i++) {
        kafka_part_t *p = &r->parts[i];
        if (!p->assigned || p->next < 0) continue;
        if (filter && !rd_kafka_topic_partition_list_find(filter, p->topic, p->partition)) continue;
        int64_t at = p->next;
        if (r->base.commit_limit) { /* not past rows of windows still open */
            int64_t limit = r->base.commit_limit(r->base.limit_opaque, p->topic, p->partition);
            if (limit < at) at = limit;
            if (at <= p->committed) continue;
        }
        if (async && at == p->committed && !r->base.ckpt_name[0]) continue; /* (a new checkpoint: name it) */
        rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
        e->offset = at;
        if (stamp_len > 0 && (e->metadata = malloc((size_t)stamp_len))) { /* freed by librdkafka */
            memcpy(e->metadata, stamp, (size_t)stamp_len);
            e->metadata_size = (size_t)stamp_len;
        }
    }
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (l->cnt) e = rd_kafka_commit(r->k->rk, l, async);
    bool whole = e != RD_KAFKA_RESP_ERR_NO_ERROR; /* the request failed, not single partitions */
    for (int i = 0; i < l->cnt && !e && !async; i++) e = l->elems[i].err;
    if (e && !async && failed) kr_describe_positions(l, !whole, failed);
    for (int i = 0; i < l->cnt && !e && !async; i++) {
        kafka_part_t *p = kr_find(r, l->elems[i].topic, l->elems[i].partition, false);
        p->committed = l->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return e;
}

/* Rebalance: parts are being taken from this reader. Unless the assignment
 * was lost (then committing would fail), what was handed out is delivered
 * and committed. When closing, the outputs were synced by the final
 * commit, whose own commit could not get through if commit_at_close is set. */
static void kr_revoke(kafka_reader_t *r, const rd_kafka_topic_partition_list_t *parts, bool lost, bool coop)
{
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    rn_buf_t failed;
    rn_buf_init(&failed);
    if (lost && r->base.txn && !r->closing) {
        /* Under exactly-once the open transaction holds outputs of these
         * partitions' records since the last checkpoint, and their new
         * owner reads those records again: committing it would write them
         * twice, and aborting it would lose what the other partitions
         * wrote. The run stops; its restart restores the last checkpoint
         * (Kafka Streams closes its tasks dirty the same way). */
        kr_set_pending(r, RN_ERR_IO,
                       "%s: the consumer group took this process's partitions away (its session or poll "
                       "interval expired: 'properties.session.timeout.ms', 'properties.max.poll.interval.ms'); "
                       "under exactly-once the open transaction cannot be committed, so the run stops: restart "
                       "it and it resumes from its last checkpoint",
                       r->label);
    } else if (lost) {
        /* nothing can be committed */
    } else if (r->closing) {
        if (r->commit_at_close) e = kr_commit_parts(r, parts, false, &failed);
    } else if (r->pending == RN_OK) {
        char why[512] = "";
        rn_err_t err = RN_OK;
        char ckpt[256];
        if (r->base.ckpt_take) /* the commit below then names it */
            err = r->base.ckpt_take(r->base.ckpt_opaque, ckpt, sizeof ckpt, why, sizeof why);
        else if (r->base.sync_outputs)
            err = r->base.sync_outputs(r->base.sync_opaque, why, sizeof why);
        if (err == RN_OK && r->dlq) err = rn_kafka_flush(r->dlq, why, sizeof why);
        if (err != RN_OK)
            kr_set_pending(r, err, "%s", why);
        else if (!r->base.txn) /* (in a transaction the checkpoint committed the positions) */
            e = kr_commit_parts(r, parts, false, &failed);
    }
    if (e) kr_warn_uncommitted(r, e, failed.data);
    rn_buf_free(&failed);
    for (int i = 0; i < parts->cnt; i++) {
        kafka_part_t *p = kr_find(r, parts->elems[i].topic, parts->elems[i].partition, false);
        if (!p) continue;
        /* The commit may stop short of what was read (rows that operators
         * here still hold: commit_limit); their state stays here (below),
         * so if the partition comes back, reading again from the commit
         * would count those rows twice. */
        p->resume = !coop && !lost && !r->closing && p->next >= 0 ? p->next : -1;
        /* librdkafka keeps an application's pause across assignments:
         * lift alignment's before the partition goes */
        if (p->aligned) kr_pause(&r->base, p->topic, p->partition, false);
        p->assigned = false;
        p->next = p->committed = -1;
    }
    /* An eager rebalance revokes everything and assigns the new set right
     * after: the source learns of the change with that assignment, so a
     * partition that stays with this process keeps its keyed state
     * downstream (rn_op_forget_partitions only drops what went away). */
    if (coop || lost || r->closing) r->base.assignment_version++;
}

/* rn_reader_t.position */
static int64_t kr_position(rn_reader_t *base, const char *topic, int32_t partition)
{
    kafka_reader_t *r = (kafka_reader_t *)base;
    kafka_part_t *p = kr_find(r, topic, partition, false);
    return p && p->assigned ? p->next : -1;
}

/* rn_reader_t.assignment: the partitions owned now. */
static int kr_assignment(rn_reader_t *base, const char **topics, int32_t *partitions, int max)
{
    kafka_reader_t *r = (kafka_reader_t *)base;
    int n = 0;
    for (int i = 0; i < r->nparts; i++) {
        if (!r->parts[i].assigned) continue;
        if (n < max) {
            topics[n] = r->parts[i].topic;
            partitions[n] = r->parts[i].partition;
        }
        n++;
    }
    return n;
}

/* Appends parts as "topic[0-3,6], other[1]" to out. */
static void kr_describe_parts(const rd_kafka_topic_partition_list_t *parts, rn_buf_t *out)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_topic_partition_list_sort(l, NULL, NULL);
    for (int i = 0; i < l->cnt;) {
        const char *topic = l->elems[i].topic;
        rn_buf_appendf(out, "%s%s[", i ? ", " : "", topic);
        for (bool first = true; i < l->cnt && !strcmp(l->elems[i].topic, topic); first = false) {
            int32_t lo = l->elems[i].partition, hi = lo;
            while (++i < l->cnt && !strcmp(l->elems[i].topic, topic) && l->elems[i].partition == hi + 1) hi++;
            rn_buf_appendf(out, first ? "%d" : ",%d", (int)lo);
            if (hi > lo) rn_buf_appendf(out, "-%d", (int)hi);
        }
        rn_buf_appendc(out, ']');
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Says on stderr which partitions this process took or gave up (not with
 * RUNNEL_LOG=error). */
static void kr_report(const kafka_reader_t *r, const char *what, const rd_kafka_topic_partition_list_t *parts)
{
    if (!parts->cnt || rn_log_get_level() < RN_LOG_WARN) return;
    rn_buf_t b;
    rn_buf_init(&b);
    kr_describe_parts(parts, &b);
    if (!b.oom) fprintf(stderr, "runnel: %s: %s %s\n", r->label, what, b.data);
    rn_buf_free(&b);
}

/* rebalance_cb, served on the application thread inside next() and close(). */
static void kr_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                            void *opaque)
{
    kafka_reader_t *r = ((rn_kafka_t *)opaque)->owner;
    bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; i < r->nparts; i++) r->parts[i].rkt = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (!r->closing) {
            kr_report(r, "assigned", parts);
            kr_assign(r, parts);
        }
        if (coop)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            e = rd_kafka_assign(rk, parts);
        r->assigned = true;
        r->k->group_assigned = true;
        if (!r->closing) r->assigned_ms = kr_now_ms();
        for (int i = 0; i < r->nparts; i++)
            if (r->parts[i].assigned && r->parts[i].done) kr_finish(r, &r->parts[i]);
    } else {
        if (!r->closing) kr_report(r, rd_kafka_assignment_lost(rk) ? "lost" : "revoked", parts);
        kr_revoke(r, parts, rd_kafka_assignment_lost(rk), coop);
        if (coop)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            e = rd_kafka_assign(rk, NULL);
        r->assigned = false;
        r->unassigned_ms = kr_now_ms();
    }
    if (error) {
        e = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
    }
    if (e && !r->closing)
        kr_set_pending(r, RN_ERR_IO, "%s: cannot change the partition assignment: %s", r->label,
                       rd_kafka_err2str(e));
}

/* offset_commit_cb: records what the group confirmed. A failed
 * asynchronous commit is retried by the next commit; it is only worth a
 * (rate-limited) warning. */
static void kr_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                         void *opaque)
{
    rn_kafka_t *k = opaque;
    kafka_reader_t *r = k->owner;
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *o = &offsets->elems[i];
        kafka_part_t *p = kr_find(r, o->topic, o->partition, false);
        if (p && p->assigned && !err && !o->err && o->offset > p->committed) p->committed = o->offset;
    }
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET && err != RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS) {
        char why[256];
        snprintf(why, sizeof why, "offset commit failed: %s", rd_kafka_err2str(err));
        rn_kafka_note_error(k, err, why);
    }
}

static void kr_setup(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_rebalance_cb(conf, kr_rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, kr_commit_cb);
}

/* Destroys the messages of the last batch. */
static void kr_release(kafka_reader_t *r)
{
    for (int i = 0; i < r->nmsgs; i++) rd_kafka_message_destroy(r->msgs[i]);
    r->nmsgs = 0;
}

/* Appends len bytes to the batch buffer; returns their offset, or
 * KAFKA_NO_OFFSET for data NULL. */
static size_t kr_copy(kafka_reader_t *r, const void *data, size_t len)
{
    if (!data) return KAFKA_NO_OFFSET;
    size_t at = r->bytes.len;
    rn_buf_append(&r->bytes, data, len);
    return at;
}

/* Appends m's headers as a JSON object; returns its offset, *len its length. */
static size_t kr_headers(kafka_reader_t *r, rd_kafka_message_t *m, size_t *len)
{
    size_t at = r->bytes.len;
    rd_kafka_headers_t *h;
    rn_buf_appendc(&r->bytes, '{');
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &size); i++) {
            if (i) rn_buf_appendc(&r->bytes, ',');
            rn_json_write_string(&r->bytes, name, strlen(name));
            rn_buf_appendc(&r->bytes, ':');
            if (val)
                rn_json_write_string(&r->bytes, val, size);
            else
                rn_buf_appends(&r->bytes, "null");
        }
    }
    rn_buf_appendc(&r->bytes, '}');
    *len = r->bytes.len - at;
    return at;
}

/* Handles a consumer event (a message with err set). Returns an error for
 * what must stop the pipeline. */
static rn_err_t kr_event(kafka_reader_t *r, rd_kafka_message_t *m, kafka_part_t *p, char *errbuf,
                         size_t errbuf_size)
{
    switch (m->err) {
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        if (r->bounded && p && p->assigned && !p->done && m->offset >= p->end) kr_finish(r, p);
        return RN_OK;
    case RD_KAFKA_RESP_ERR__FATAL:
        if (rn_kafka_check(r->k, errbuf, errbuf_size) != RN_OK) return RN_ERR_IO;
        break;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        if (r->pattern) break;
        snprintf(errbuf, errbuf_size, "%s: topic '%s' on %s: %s", r->label,
                 m->rkt ? rd_kafka_topic_name(m->rkt) : "?", r->k->brokers, rd_kafka_message_errstr(m));
        return RN_ERR_IO;
    default:
        break;
    }
    rn_kafka_note_error(r->k, m->err, rd_kafka_message_errstr(m));
    return RN_OK;
}

/* Turns the messages of the batch into records and advances the positions
 * of owned partitions. A position only moves forward: a partition's
 * messages come in order without gaps, so after a rebalance that gave a
 * partition back, messages fetched before it (which librdkafka may still
 * deliver) continue exactly where the handed-out ones stopped, and the
 * re-fetch from the committed offset repeats them (duplicates, no loss). */
static rn_err_t kr_fill(kafka_reader_t *r, rn_record_t *recs, int *n, char *errbuf, size_t errbuf_size)
{
    static const char padding[RN_JSON_PADDING];
    int out = 0;
    rn_buf_clear(&r->bytes);
    for (int i = 0; i < r->nmsgs; i++) {
        rd_kafka_message_t *m = r->msgs[i];
        kafka_part_t *p = kr_part_of(r, m);
        if (m->err) {
            rn_err_t err = kr_event(r, m, p, errbuf, errbuf_size);
            if (err != RN_OK) {
                /* positions moved past records never handed out: no commit */
                kr_set_pending(r, err, "%s", errbuf);
                return err;
            }
            continue;
        }
        if (r->bounded) {
            if (!p || !p->assigned || p->done) continue;
            if (m->offset >= p->end) {
                kr_finish(r, p);
                continue;
            }
        }
        kafka_span_t *s = &r->spans[out];
        rn_record_t *rec = &recs[out++];
        s->key = kr_copy(r, m->key, m->key_len);
        s->value = kr_copy(r, m->payload, m->len);
        s->headers = r->want_headers ? kr_headers(r, m, &rec->hlen) : KAFKA_NO_OFFSET;
        rec->klen = m->key ? m->key_len : 0;
        rec->len = m->payload ? m->len : 0;
        r->seen_bytes += rec->len + rec->klen;
        if (!r->want_headers) rec->hlen = 0;
        rec->topic = rd_kafka_topic_name(m->rkt);
        rec->partition = m->partition;
        rec->position = m->offset;
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        rec->timestamp_ms = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? RN_NO_TIMESTAMP : ts;
        if (p && p->assigned && m->offset + 1 > p->next) p->next = m->offset + 1;
        if (r->bounded && m->offset + 1 >= p->end) kr_finish(r, p);
    }
    rn_buf_append(&r->bytes, padding, sizeof padding);
    if (r->bytes.oom) {
        snprintf(errbuf, errbuf_size, "%s: out of memory", r->label);
        return RN_ERR_NOMEM;
    }
    for (int i = 0; i < out; i++) {
        const kafka_span_t *s = &r->spans[i];
        recs[i].key = s->key == KAFKA_NO_OFFSET ? NULL : r->bytes.data + s->key;
        recs[i].data = s->value == KAFKA_NO_OFFSET ? NULL : r->bytes.data + s->value;
        recs[i].headers = s->headers == KAFKA_NO_OFFSET ? NULL : r->bytes.data + s->headers;
    }
    r->seen_msgs += (uint64_t)out;
    *n = out;
    return RN_OK;
}

/* Prints one line on stderr (not with RUNNEL_LOG=error). */
__attribute__((format(printf, 2, 3))) static void kr_notice(const kafka_reader_t *r, const char *fmt, ...)
{
    if (rn_log_get_level() < RN_LOG_WARN) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "runnel: %s: %s\n", r->label, line);
}

/* True if the reader owns a partition now (a cooperative rebalance may
 * revoke some and keep others). */
static bool kr_owns_any(const kafka_reader_t *r)
{
    for (int i = 0; i < r->nparts; i++)
        if (r->parts[i].assigned) return true;
    return false;
}

/* While the group has not assigned this reader its partitions: says so at
 * once and every KAFKA_NOTE_EVERY_MS, with the usual reason. */
static void kr_note_waiting(kafka_reader_t *r)
{
    int64_t now = kr_now_ms();
    if (r->wait_noted_ms && now - r->wait_noted_ms < KAFKA_NOTE_EVERY_MS) return;
    r->wait_noted_ms = now;
    kr_notice(r,
              "waiting for consumer group '%s' to assign partitions of %s (%lld s so far): a member "
              "that stopped without leaving the group (killed) keeps its partitions until its "
              "session.timeout.ms (45 s by default) expires; 'properties.group.instance.id' lets a "
              "restarted process take them over at once",
              r->group, r->where, (long long)((now - r->unassigned_ms) / 1000));
}

/* Bounded mode: adds every partition of the reader's topics that it was
 * never assigned as a watched part, with the high watermark of now as
 * its end mark (called at the first assignment, and by kr_group_done
 * until it succeeds). Returns false if the cluster could not be asked
 * (the caller tries again later). */
static bool kr_take_marks(kafka_reader_t *r)
{
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(r->k->rk, 1, NULL, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (int t = 0; t < md->topic_cnt; t++) {
        const struct rd_kafka_metadata_topic *mt = &md->topics[t];
        bool ours = false;
        for (int i = 0; i < r->ntopics && !ours; i++) ours = !strcmp(r->topics[i], mt->topic);
        for (int i = 0; i < r->nparts && !ours && !r->topics; i++) ours = !strcmp(r->parts[i].topic, mt->topic);
        for (int p = 0; ours && !mt->err && p < mt->partition_cnt; p++)
            if (!kr_find(r, mt->topic, mt->partitions[p].id, false))
                rd_kafka_topic_partition_list_add(l, mt->topic, mt->partitions[p].id)->offset =
                    RD_KAFKA_OFFSET_END;
    }
    rd_kafka_metadata_destroy(md);
    bool ok = true;
    if (l->cnt) {
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(r->k->rk, l, 5000);
        for (int i = 0; i < l->cnt && !e; i++) e = l->elems[i].err;
        ok = !e;
        for (int i = 0; ok && i < l->cnt; i++) {
            kafka_part_t *p = kr_find(r, l->elems[i].topic, l->elems[i].partition, true);
            if (!p) break;
            p->marked = true;
            p->end = l->elems[i].offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return ok && r->pending == RN_OK;
}

/* Bounded mode, once every partition this reader owns is done: true when
 * it may end. That is when every other partition of its topics has been
 * committed by the group up to its end mark, or when the assignment has
 * been stable for settle_ms. Until then a member that died before this
 * process was assigned its share (one killed while it waited for the
 * group, say) may still hold partitions that nobody reads: once its
 * session expires the group rebalances and hands them over here. */
static bool kr_group_done(kafka_reader_t *r)
{
    int64_t now = kr_now_ms();
    if (r->group_done || now - r->assigned_ms >= r->settle_ms) return r->group_done = true;
    if (r->group_checked_ms && now - r->group_checked_ms < KAFKA_GROUP_CHECK_MS) return false;
    r->group_checked_ms = now;
    if (!r->marks_taken && !(r->marks_taken = kr_take_marks(r))) return false;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->nparts ? r->nparts : 1);
    for (int i = 0; i < r->nparts; i++)
        if (!r->parts[i].assigned && r->parts[i].marked && r->parts[i].end > 0)
            rd_kafka_topic_partition_list_add(l, r->parts[i].topic, r->parts[i].partition);
    bool done = true;
    if (l->cnt) {
        rd_kafka_resp_err_t e = rd_kafka_committed(r->k->rk, l, 5000);
        rn_buf_t behind;
        rn_buf_init(&behind);
        for (int i = 0; i < l->cnt; i++) {
            kafka_part_t *p = kr_find(r, l->elems[i].topic, l->elems[i].partition, false);
            if (!e && !l->elems[i].err && p && l->elems[i].offset >= p->end) continue;
            done = false;
            l->elems[i].offset = p ? p->end : -1;
            l->elems[i].err = RD_KAFKA_RESP_ERR__IN_PROGRESS; /* marks it for the description */
        }
        if (!done && (!r->wait_noted_ms || now - r->wait_noted_ms >= KAFKA_NOTE_EVERY_MS)) {
            r->wait_noted_ms = now;
            kr_describe_positions(l, true, &behind);
            kr_notice(r,
                      "read its partitions to the end; waiting (up to %lld s more) until group '%s' has "
                      "read up to %s too, or a member that died holding them expires and they come here",
                      (long long)((r->settle_ms - (now - r->assigned_ms)) / 1000 + 1), r->group,
                      behind.data ? behind.data : "?");
        }
        rn_buf_free(&behind);
    }
    rd_kafka_topic_partition_list_destroy(l);
    return r->group_done = done;
}

/* librdkafka before 2.2 stops fetching while its queue holds
 * queued.min.messages or queued.max.messages.kbytes, and looks again only
 * when a broker thread wakes up: on network activity, or after up to 1 s.
 * With a prefetch bounded to a fraction of a second of reading
 * (kafka_client.c) the queue runs dry long before that. So when the queue
 * is below half its bound while the brokers hold records not fetched yet
 * (their end offsets, as the last fetches told, beyond what is queued),
 * the reader wakes the brokers leading its partitions with a cheap
 * request (their end offsets): each wakeup looks at the queue again and
 * fetches. The request is sent and not waited for (a timeout of 0:
 * librdkafka drops the answer), so a poll never blocks on it, not even
 * when a broker is down or slow. Wakeups come at most every 5 ms, and
 * while one brings no records (an outage: the requests would only pile up
 * on the broker connections) the interval doubles up to 1 s, librdkafka's
 * own wakeup; the first record back resets it. librdkafka 2.2 and later
 * back off for 'fetch.queue.backoff.ms' instead, which runnel sets. */
#define KAFKA_NUDGE_MIN_MS 5
#define KAFKA_NUDGE_MAX_MS 1000
static void kr_nudge(kafka_reader_t *r)
{
    if (!r->nudge_below) return;
    int64_t queued = (int64_t)rd_kafka_queue_length(r->queue);
    if (queued >= r->nudge_below) return;
    if (r->seen_msgs && queued * (int64_t)(r->seen_bytes / r->seen_msgs) >= r->nudge_bytes) return;
    int64_t now = kr_now_ms();
    if (now - r->nudged_ms < r->nudge_every_ms) return;
    int64_t behind = 0;
    for (int i = 0; i < r->nparts; i++) {
        kafka_part_t *p = &r->parts[i];
        int64_t lo, hi;
        if (!p->assigned || p->done || p->aligned || p->next < 0 ||
            rd_kafka_get_watermark_offsets(r->k->rk, p->topic, p->partition, &lo, &hi) || hi <= p->next)
            continue;
        behind += hi - p->next;
    }
    if (behind <= queued) return; /* all fetched: the brokers are not stalled, they wait for news */
    uint64_t got = r->seen_msgs + (uint64_t)queued;
    if (r->nudged_ms && got == r->nudged_got) { /* the last wakeup brought nothing: back off */
        r->nudge_every_ms *= 2;
        if (r->nudge_every_ms > KAFKA_NUDGE_MAX_MS) r->nudge_every_ms = KAFKA_NUDGE_MAX_MS;
    } else {
        r->nudge_every_ms = KAFKA_NUDGE_MIN_MS;
    }
    r->nudged_ms = now;
    r->nudged_got = got;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->nparts ? r->nparts : 1);
    for (int i = 0; i < r->nparts; i++)
        if (r->parts[i].assigned && !r->parts[i].done && !r->parts[i].aligned)
            rd_kafka_topic_partition_list_add(l, r->parts[i].topic, r->parts[i].partition)->offset =
                RD_KAFKA_OFFSET_END;
    /* (sends the requests to the leaders it knows and returns at once,
     * RD_KAFKA_RESP_ERR__TIMED_OUT; their answers are dropped) */
    if (l->cnt) rd_kafka_offsets_for_times(r->k->rk, l, 0);
    rd_kafka_topic_partition_list_destroy(l);
}

static rn_err_t kr_next(rn_reader_t *base, rn_record_t *recs, int max, int *n, bool *eof, char *errbuf,
                        size_t errbuf_size)
{
    kafka_reader_t *r = (kafka_reader_t *)base;
    *n = 0;
    *eof = false;
    kr_release(r);
    if (max > r->capmsgs) {
        rd_kafka_message_t **msgs = rn_realloc(r->msgs, (size_t)max * sizeof *msgs);
        if (msgs) r->msgs = msgs;
        kafka_span_t *spans = rn_realloc(r->spans, (size_t)max * sizeof *spans);
        if (spans) r->spans = spans;
        if (!msgs || !spans) {
            snprintf(errbuf, errbuf_size, "%s: out of memory", r->label);
            return RN_ERR_NOMEM;
        }
        r->capmsgs = max;
    }
    kr_nudge(r);
    ssize_t got = rd_kafka_consume_batch_queue(r->queue, 0, r->msgs, (size_t)max);
    if (got == 0) {
        /* Nothing queued: wait for one message, then take what came with it. */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->k->rk, base->wait_ms);
        if (m) {
            r->msgs[0] = m;
            got = 1;
            ssize_t more =
                max > 1 ? rd_kafka_consume_batch_queue(r->queue, 0, r->msgs + 1, (size_t)max - 1) : 0;
            if (more > 0) got += more;
        }
    }
    if (got < 0) {
        snprintf(errbuf, errbuf_size, "%s: cannot consume from %s: %s", r->label, r->k->brokers,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return RN_ERR_IO;
    }
    r->nmsgs = (int)got;
    if (r->pending != RN_OK) {
        snprintf(errbuf, errbuf_size, "%s", r->pending_msg);
        return r->pending;
    }
    rn_err_t err = kr_fill(r, recs, n, errbuf, errbuf_size);
    if (err == RN_OK && !r->assigned && !kr_owns_any(r)) kr_note_waiting(r);
    if (err == RN_OK && *n == 0 && r->bounded && kr_finished(r)) *eof = kr_group_done(r);
    return err;
}

/* Opens the dead-letter producer and makes sure its topic exists. */
static rn_err_t kr_dlq_open(kafka_reader_t *r, char *errbuf, size_t errbuf_size)
{
    rn_kafka_spec_t spec = {
        .role = RN_KAFKA_PRODUCER, .label = r->label, .options = r->props, .noptions = r->nprops, .owner = r};
    const char *topics[] = {r->dlq_topic};
    rn_err_t err = rn_kafka_open(&spec, &r->dlq, errbuf, errbuf_size);
    if (err == RN_OK)
        err = rn_kafka_connect(r->dlq, topics, 1, RN_KAFKA_BROKER_DEFAULT, NULL, errbuf, errbuf_size);
    if (err == RN_OK && !(r->dlq_rkt = rd_kafka_topic_new(r->dlq->rk, r->dlq_topic, NULL))) {
        snprintf(errbuf, errbuf_size, "%s: dead-letter topic '%s': %s", r->label, r->dlq_topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        err = RN_ERR_IO;
    }
    if (err != RN_OK) {
        rn_kafka_close(r->dlq);
        r->dlq = NULL;
    }
    return err;
}

static rn_err_t kr_dead_letter(rn_reader_t *base, const rn_record_t *rec, const char *error, char *errbuf,
                               size_t errbuf_size)
{
    kafka_reader_t *r = (kafka_reader_t *)base;
    rn_err_t err;
    if (!r->dlq_rkt && (err = kr_dlq_open(r, errbuf, errbuf_size)) != RN_OK) return err;
    char partition[16], offset[32];
    snprintf(partition, sizeof partition, "%d", (int)rec->partition);
    snprintf(offset, sizeof offset, "%lld", (long long)rec->position);
    rd_kafka_headers_t *h = rd_kafka_headers_new(5);
    rd_kafka_header_add(h, "error", -1, error, -1);
    rd_kafka_header_add(h, "source.topic", -1, rec->topic ? rec->topic : "", -1);
    rd_kafka_header_add(h, "source.partition", -1, partition, -1);
    rd_kafka_header_add(h, "source.offset", -1, offset, -1);
    rd_kafka_header_add(h, "source.table", -1, r->table, -1);
    err = rn_kafka_produce(r->dlq, r->dlq_rkt, RD_KAFKA_PARTITION_UA, rec->key, rec->klen, rec->data,
                           rec->len, h, errbuf, errbuf_size);
    if (err != RN_OK) return err;
    char at[512], dest[300];
    snprintf(at, sizeof at, "%s[%d]@%lld", rec->topic ? rec->topic : "?", (int)rec->partition,
             (long long)rec->position);
    snprintf(dest, sizeof dest, "topic %s", r->dlq_topic);
    rn_log_dead_letter(++r->dead, at, error, dest);
    return RN_OK;
}

/* Handles the result of a DeleteRecords request. A failure is only a
 * warning (at most one per KAFKA_PURGE_EVERY_MS): the records stay until
 * a later purge, which deletes up to a newer offset, gets through. */
static void kr_purged(kafka_reader_t *r, rd_kafka_event_t *ev)
{
    r->purges--;
    rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
    const char *why = e ? rd_kafka_event_error_string(ev) : NULL;
    const rd_kafka_DeleteRecords_result_t *res = rd_kafka_event_DeleteRecords_result(ev);
    const rd_kafka_topic_partition_list_t *l = res && !e ? rd_kafka_DeleteRecords_result_offsets(res) : NULL;
    for (int i = 0; l && i < l->cnt && !e; i++)
        if ((e = l->elems[i].err)) why = rd_kafka_err2str(e);
    if (!e) return;
    int64_t now = kr_now_ms();
    if (r->purge_warned_ms && now - r->purge_warned_ms < KAFKA_PURGE_EVERY_MS) return;
    r->purge_warned_ms = now;
    rn_log_warn("%s: could not delete records the group has committed (%s); they stay in the topic "
                "until a later attempt succeeds",
                r->label, why && *why ? why : rd_kafka_err2str(e));
}

/* Repartition topics: deletes (DeleteRecords) the records before the
 * positions the group has confirmed, in owned partitions, at most every
 * KAFKA_PURGE_EVERY_MS and at the final commit, so that the topic does
 * not grow without bound. Requests are asynchronous; their results are
 * served by the next call, which the final one waits for (at most the
 * connect timeout). A failure is a warning, never an error. */
static void kr_purge(kafka_reader_t *r, bool final)
{
    rd_kafka_event_t *ev;
    while (r->purges > 0 && (ev = rd_kafka_queue_poll(r->purge_q, 0))) {
        kr_purged(r, ev);
        rd_kafka_event_destroy(ev);
    }
    int64_t now = kr_now_ms();
    if (!final && r->purged_ms && now - r->purged_ms < KAFKA_PURGE_EVERY_MS) return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->nparts ? r->nparts : 1);
    for (int i = 0; i < r->nparts; i++) {
        kafka_part_t *p = &r->parts[i];
        if (p->assigned && p->committed > p->purged)
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->committed;
    }
    if (l->cnt) {
        char why[256];
        rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(l);
        rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(r->k->rk, RD_KAFKA_ADMIN_OP_DELETERECORDS);
        rd_kafka_AdminOptions_set_request_timeout(opts, r->k->connect_timeout_ms, why, sizeof why);
        rd_kafka_AdminOptions_set_operation_timeout(opts, r->k->connect_timeout_ms, why, sizeof why);
        rd_kafka_DeleteRecords(r->k->rk, &del, 1, opts, r->purge_q);
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_DeleteRecords_destroy(del);
        r->purges++;
        r->purged_ms = now;
        for (int i = 0; i < l->cnt; i++)
            kr_find(r, l->elems[i].topic, l->elems[i].partition, false)->purged = l->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
    int64_t deadline = now + r->k->connect_timeout_ms + 1000;
    while (final && r->purges > 0 && (now = kr_now_ms()) < deadline) {
        if (!(ev = rd_kafka_queue_poll(r->purge_q, (int)(deadline - now)))) break;
        kr_purged(r, ev);
        rd_kafka_event_destroy(ev);
    }
}

static rn_err_t kr_commit(rn_reader_t *base, bool final, char *errbuf, size_t errbuf_size)
{
    kafka_reader_t *r = (kafka_reader_t *)base;
    rn_err_t err;
    if (r->pending != RN_OK) {
        snprintf(errbuf, errbuf_size, "%s", r->pending_msg);
        return r->pending;
    }
    if (r->dlq && (err = rn_kafka_flush(r->dlq, errbuf, errbuf_size)) != RN_OK) return err;
    if (r->base.txn) return RN_OK; /* the pipeline's transaction commits the positions */
    rn_buf_t failed;
    rn_buf_init(&failed);
    rd_kafka_resp_err_t e = kr_commit_parts(r, NULL, !final, &failed);
    if (!e || kr_group_moved(e)) {
        /* Asynchronous commits are retried by the next one; the final one
         * is retried when close() gives the partitions up. */
        r->commit_at_close |= e && final;
        rn_buf_free(&failed);
        if (!e && r->purge) kr_purge(r, final);
        return RN_OK;
    }
    if (failed.data && *failed.data)
        snprintf(errbuf, errbuf_size,
                 "%s: could not commit %s to %s: %s; the records after these positions will be read again",
                 r->label, failed.data, r->k->brokers, rd_kafka_err2str(e));
    else
        snprintf(errbuf, errbuf_size, "%s: cannot commit offsets to %s: %s", r->label, r->k->brokers,
                 rd_kafka_err2str(e));
    rn_buf_free(&failed);
    return RN_ERR_IO;
}

static void kr_close(rn_reader_t *base)
{
    kafka_reader_t *r = (kafka_reader_t *)base;
    r->closing = true;
    kr_release(r);
    if (r->queue) rd_kafka_queue_destroy(r->queue);
    if (r->purge_q) rd_kafka_queue_destroy(r->purge_q); /* results still due are dropped */
    rn_kafka_close(r->k);
    if (r->dlq_rkt) rd_kafka_topic_destroy(r->dlq_rkt);
    rn_kafka_close(r->dlq);
    for (int i = 0; i < r->nparts; i++) rn_free(r->parts[i].topic);
    for (int i = 0; i < r->nprops; i++) {
        rn_free((char *)r->props[i].key);
        rn_free((char *)r->props[i].value);
    }
    rn_free(r->props);
    rn_free(r->parts);
    rn_free(r->msgs);
    rn_free(r->spans);
    rn_buf_free(&r->bytes);
    rn_free(r->table);
    rn_free(r->label);
    rn_free(r->where);
    rn_free(r->dlq_topic);
    kafka_free_topics(r->topics, r->ntopics);
    rn_free(r);
}

/* Splits the ';'-separated list s into *out (trimmed, empty items
 * skipped). Returns the count, or -1 on OOM. The caller frees each item
 * and the array. */
static int kafka_split_topics(const char *s, char ***out)
{
    int n = 0, cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ';';
    char **items = rn_calloc((size_t)cap, sizeof *items);
    if (!items) return -1;
    for (const char *p = s;;) {
        const char *end = strchr(p, ';');
        if (!end) end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (b > a && !(items[n++] = rn_strndup(a, (size_t)(b - a)))) {
            while (n > 0) rn_free(items[--n]);
            rn_free(items);
            return -1;
        }
        if (!*end) break;
        p = end + 1;
    }
    *out = items;
    return n;
}

static void kafka_free_topics(char **topics, int n)
{
    for (int i = 0; i < n; i++) rn_free(topics[i]);
    rn_free(topics);
}

/* Copies the 'properties.*' options of ctx (for producers opened later). */
static bool kr_copy_props(kafka_reader_t *r, const rn_open_ctx_t *ctx)
{
    if (!(r->props = rn_calloc((size_t)(ctx->noptions ? ctx->noptions : 1), sizeof *r->props))) return false;
    for (int i = 0; i < ctx->noptions; i++) {
        if (strncmp(ctx->options[i].key, "properties.", 11)) continue;
        rn_option_t *o = &r->props[r->nprops++];
        o->key = rn_strdup(ctx->options[i].key);
        o->value = rn_strdup(ctx->options[i].value);
        if (!o->key || !o->value) return false;
    }
    return true;
}

/* Subscribes to the topics, or to the pattern as a regular expression
 * matching whole topic names. */
static rn_err_t kr_subscribe(kafka_reader_t *r, char **topics, int ntopics, const char *pattern, char *errbuf,
                             size_t errbuf_size)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(ntopics ? ntopics : 1);
    rn_buf_t re;
    rn_buf_init(&re);
    if (pattern) {
        rn_buf_appendf(&re, "^(%s)$", pattern);
        if (re.oom) {
            rd_kafka_topic_partition_list_destroy(l);
            snprintf(errbuf, errbuf_size, "%s: out of memory", r->label);
            return RN_ERR_NOMEM;
        }
        rd_kafka_topic_partition_list_add(l, re.data, RD_KAFKA_PARTITION_UA);
    }
    for (int i = 0; i < ntopics; i++) rd_kafka_topic_partition_list_add(l, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(r->k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    rn_buf_free(&re);
    if (!e) return RN_OK;
    snprintf(errbuf, errbuf_size, "%s: cannot subscribe (%s): %s", r->label, r->where, rd_kafka_err2str(e));
    return RN_ERR_CONFIG;
}

/* Reads the group id and the timeouts that bound how long a dead member
 * holds partitions from the consumer's configuration. */
static void kr_group_settings(kafka_reader_t *r)
{
    const rd_kafka_conf_t *conf = rd_kafka_conf(r->k->rk);
    char v[64];
    size_t n = sizeof r->group;
    if (rd_kafka_conf_get(conf, "group.id", r->group, &n) != RD_KAFKA_CONF_OK) r->group[0] = '\0';
    long session = 45000, heartbeat = 3000;
    n = sizeof v;
    if (rd_kafka_conf_get(conf, "session.timeout.ms", v, &n) == RD_KAFKA_CONF_OK) session = atol(v);
    n = sizeof v;
    if (rd_kafka_conf_get(conf, "heartbeat.interval.ms", v, &n) == RD_KAFKA_CONF_OK) heartbeat = atol(v);
    /* the coordinator notices the expiry, the others hear of it at their next heartbeat */
    r->settle_ms = (int)(session + 2 * heartbeat + 2000);
}

/* Appends the consumer group a table's reader joins when the table sets no
 * 'properties.group.id': runnel.<pipeline>.<table>. */
static void kafka_default_group(const rn_open_ctx_t *ctx, rn_buf_t *out)
{
    rn_buf_appendf(out, "runnel.%s.%s", ctx->pipeline, ctx->table);
}

/* Opens the reader of table ctx->table or, when repartition (a consumer
 * group) is set, of the repartition topic c->topic in that group, purging
 * what the group committed (see kafka_open_exchange). */
static rn_err_t kr_open(const kafka_conf_t *c, const rn_open_ctx_t *ctx, const char *repartition,
                        rn_reader_t **out, char *errbuf, size_t errbuf_size)
{
    char **topics = NULL;
    int ntopics = 0;
    rn_err_t err = RN_ERR_NOMEM;
    rn_buf_t b;
    rn_buf_init(&b);
    kafka_reader_t *r = rn_calloc(1, sizeof *r);
    if (!r) goto fail;
    rn_buf_init(&r->bytes);
    r->pattern = !c->topic;
    r->start = !strcmp(c->startup_mode, "earliest-offset") ? START_EARLIEST
               : !strcmp(c->startup_mode, "latest-offset") ? START_LATEST
               : !strcmp(c->startup_mode, "timestamp")     ? START_TIMESTAMP
                                                           : START_GROUP;
    r->start_ts = c->startup_ts;
    r->bounded = !strcmp(c->bounded_mode, "latest-offset");
    r->want_headers = ctx->want_headers;
    if (c->topic && (ntopics = kafka_split_topics(c->topic, &topics)) < 0) goto fail;
    if (c->topic && ntopics == 0) {
        snprintf(errbuf, errbuf_size, "table '%s': option 'topic' names no topic", ctx->table);
        err = RN_ERR_CONFIG;
        goto fail;
    }
    if (repartition) {
        rn_buf_appendf(&b, "repartition topic%s ", ntopics > 1 ? "s" : "");
        for (int i = 0; i < ntopics; i++) rn_buf_appendf(&b, "%s%s", i ? ", " : "", topics[i]);
    } else if (c->topic) {
        rn_buf_appendf(&b, "kafka topic%s ", ntopics > 1 ? "s" : "");
        for (int i = 0; i < ntopics; i++) rn_buf_appendf(&b, "%s%s", i ? ", " : "", topics[i]);
    } else {
        rn_buf_appendf(&b, "kafka topic-pattern %s", c->topic_pattern);
    }
    if (b.oom) goto fail;
    r->where = b.data;
    rn_buf_init(&b);
    if (repartition)
        rn_buf_appends(&b, r->where);
    else
        rn_buf_appendf(&b, "table '%s'", ctx->table);
    if (b.oom) goto fail;
    r->label = b.data;
    rn_buf_init(&b);
    if (repartition)
        rn_buf_appends(&b, repartition);
    else
        kafka_default_group(ctx, &b);
    if (b.oom || !(r->table = rn_strdup(ctx->table)) || !(r->dlq_topic = rn_strdup(c->dlq_topic)) ||
        !kr_copy_props(r, ctx))
        goto fail;
    r->base.next = kr_next;
    r->base.lag = kr_lag;
    r->base.wait_ms = RN_IDLE_WAIT_MS;
    r->base.close = kr_close;
    r->base.where = r->where;
    r->base.commit = kr_commit;
    r->base.dead_letter = kr_dead_letter;
    r->base.assignment = kr_assignment;
    r->base.position = kr_position;
    r->base.pause = kr_pause;
    r->base.at_end = kr_at_end;

    /* a join input: members of one process sort together by client.id
     * (the broker's member id starts with it), and the range assignor
     * then gives every topic's partition p to the same process */
    char client_id[64];
    snprintf(client_id, sizeof client_id, "runnel-%s", ctx->member_tag ? ctx->member_tag : "");
    const char *const defaults[] = {"group.id", b.data, "enable.partition.eof", r->bounded ? "true" : "false",
                                    ctx->join_input ? "client.id" : NULL, client_id,
                                    "partition.assignment.strategy", "range", NULL};
    rn_kafka_spec_t spec = {.role = RN_KAFKA_CONSUMER,
                            .label = r->label,
                            .options = ctx->options,
                            .noptions = ctx->noptions,
                            .defaults = defaults,
                            .setup = kr_setup,
                            .owner = r,
                            .worker = ctx->worker,
                            .instance_suffix = ctx->join_input ? ctx->join_side : NULL};
    if ((err = rn_kafka_open(&spec, &r->k, errbuf, errbuf_size)) != RN_OK ||
        (err = rn_kafka_connect(r->k, (const char *const *)topics, ntopics, RN_KAFKA_NO_CREATE, NULL, errbuf,
                                errbuf_size)) != RN_OK)
        goto fail;
    rd_kafka_poll_set_consumer(r->k->rk);
    r->queue = rd_kafka_queue_get_consumer(r->k->rk);
    /* the embedded cluster has no DeleteRecords, and keeps little anyway */
    r->purge = repartition && !r->k->embedded;
    if (r->purge && !(r->purge_q = rd_kafka_queue_new(r->k->rk))) {
        err = RN_ERR_NOMEM;
        goto fail;
    }
    kr_group_settings(r);
    r->nudge_below = rn_kafka_prefetch_nudge(r->k, &r->nudge_bytes);
    r->nudge_every_ms = KAFKA_NUDGE_MIN_MS;
    r->started_wall_ms = kr_wall_ms();
    if ((err = kr_subscribe(r, topics, ntopics, c->topic ? NULL : c->topic_pattern, errbuf, errbuf_size)) !=
        RN_OK)
        goto fail;
    r->unassigned_ms = kr_now_ms();
    kr_note_waiting(r);
    rn_buf_free(&b);
    r->topics = topics;
    r->ntopics = ntopics;
    *out = &r->base;
    return RN_OK;

fail:
    if (err == RN_ERR_NOMEM) snprintf(errbuf, errbuf_size, "table '%s': out of memory", ctx->table);
    rn_buf_free(&b);
    kafka_free_topics(topics, ntopics);
    if (r) kr_close(&r->base);
    return err;
}

static rn_err_t kafka_open_reader(const void *conf, const rn_open_ctx_t *ctx, rn_reader_t **out, char *errbuf,
                                  size_t errbuf_size)
{
    return kr_open(conf, ctx, NULL, out, errbuf, errbuf_size);
}

/* ---- exactly-once: the pipeline's transaction ---------------------------- */

/* One transactional producer per pipeline instance (docs/checkpoints.md,
 * "Exactly-once"), shared by its Kafka sinks and Exchanges, as Kafka
 * Streams shares one per thread. Each checkpoint sends the readers'
 * positions into the transaction (one call per consumer group, with that
 * consumer's group metadata, so a zombie of an older group generation is
 * fenced, KIP-447) and commits it; read_committed consumers (librdkafka's
 * default isolation level, the repartition readers' included) see each
 * checkpoint's outputs at once or never. The transactional.id is
 * '<sink.transactional-id-prefix>-<pipeline>-<process tag>': unique per
 * process, since fencing comes from the group generation. */
typedef struct kafka_txn {
    rn_txn_t base;              /* the interface (first: cast to it) */
    rn_kafka_t *k;              /* the transactional producer */
    bool begun;                 /* a transaction is open */
    int timeout_ms;             /* for init/commit/abort/send_offsets */
} kafka_txn_t;

static rn_kafka_t *kafka_txn_producer(rn_txn_t *t) { return ((kafka_txn_t *)t)->k; }

/* Turns a librdkafka transactional error into an rn_err_t and a message
 * (consumes e); aborts the open transaction when e requires it. */
static rn_err_t ktxn_fail(kafka_txn_t *t, rd_kafka_error_t *e, const char *what, char *errbuf, size_t errbuf_size)
{
    bool fatal = rd_kafka_error_is_fatal(e), abortable = rd_kafka_error_txn_requires_abort(e);
    snprintf(errbuf, errbuf_size,
             "%s: %s failed: %s; %s", t->k->runtime_label, what, rd_kafka_error_string(e),
             fatal ? "the producer is fenced or failed (another process took over its partitions?)"
                   : "the transaction is aborted: the pipeline stops, and a restart resumes from its last "
                     "checkpoint");
    rd_kafka_error_destroy(e);
    if (abortable && t->begun) {
        rd_kafka_error_t *a = rd_kafka_abort_transaction(t->k->rk, t->timeout_ms);
        if (a) rd_kafka_error_destroy(a);
        t->begun = false;
    }
    return fatal ? RN_ERR_FATAL : RN_ERR_IO;
}

static rn_err_t ktxn_begin(kafka_txn_t *t, char *errbuf, size_t errbuf_size)
{
    rd_kafka_error_t *e = rd_kafka_begin_transaction(t->k->rk);
    if (e) return ktxn_fail(t, e, "beginning a transaction", errbuf, errbuf_size);
    t->begun = true;
    return RN_OK;
}

static void kr_purge(kafka_reader_t *r, bool final);
static rd_kafka_topic_partition_list_t *kr_positions(kafka_reader_t *r);
static rn_err_t kr_commit(rn_reader_t *base, bool final, char *errbuf, size_t errbuf_size);

/* The Kafka reader behind readers[i] (a view's shared one), or NULL when
 * it is not one or an earlier entry already stands for it. */
static kafka_reader_t *ktxn_reader(rn_reader_t *const *readers, int i)
{
    rn_reader_t *r = readers[i]->under ? readers[i]->under : readers[i];
    if (r->commit != kr_commit) return NULL; /* not a Kafka reader */
    for (int j = 0; j < i; j++)
        if ((readers[j]->under ? readers[j]->under : readers[j]) == r) return NULL;
    return (kafka_reader_t *)r;
}

/* rn_txn_t.commit */
static rn_err_t ktxn_commit(rn_txn_t *base, rn_reader_t *const *readers, int n, char *errbuf, size_t errbuf_size)
{
    kafka_txn_t *t = (kafka_txn_t *)base;
    rn_err_t err;
    if (!t->begun && (err = ktxn_begin(t, errbuf, errbuf_size)) != RN_OK) return err;
    for (int i = 0; i < n; i++) {
        kafka_reader_t *r = ktxn_reader(readers, i);
        if (!r) continue;
        if (r->pending != RN_OK) {
            snprintf(errbuf, errbuf_size, "%s", r->pending_msg);
            return r->pending;
        }
        rd_kafka_topic_partition_list_t *l = kr_positions(r);
        if (!l) return RN_ERR_NOMEM;
        if (l->cnt) {
            rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(r->k->rk);
            rd_kafka_error_t *e = rd_kafka_send_offsets_to_transaction(t->k->rk, l, md, t->timeout_ms);
            rd_kafka_consumer_group_metadata_destroy(md);
            if (e) {
                rd_kafka_topic_partition_list_destroy(l);
                char what[400];
                snprintf(what, sizeof what, "sending the positions of %s to the transaction", r->label);
                return ktxn_fail(t, e, what, errbuf, errbuf_size);
            }
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
    rd_kafka_error_t *e = rd_kafka_commit_transaction(t->k->rk, t->timeout_ms);
    if (e) return ktxn_fail(t, e, "committing the transaction", errbuf, errbuf_size);
    t->begun = false;
    for (int i = 0; i < n; i++) {
        kafka_reader_t *r = ktxn_reader(readers, i);
        if (!r) continue;
        for (int j = 0; j < r->nparts; j++)
            if (r->parts[j].assigned && r->parts[j].next >= 0) r->parts[j].committed = r->parts[j].next;
        if (r->purge) kr_purge(r, false);
    }
    return ktxn_begin(t, errbuf, errbuf_size);
}

/* rn_txn_t.close */
static void ktxn_close(rn_txn_t *base)
{
    kafka_txn_t *t = (kafka_txn_t *)base;
    if (t->begun) {
        rd_kafka_error_t *e = rd_kafka_abort_transaction(t->k->rk, t->timeout_ms);
        if (e) rd_kafka_error_destroy(e);
    }
    rn_kafka_close(t->k);
    rn_free(t);
}

/* rn_connector_t.open_txn */
static rn_err_t kafka_open_txn(const void *conf, const rn_open_ctx_t *ctx, rn_txn_t **out, char *errbuf,
                               size_t errbuf_size)
{
    const kafka_conf_t *c = conf;
    kafka_txn_t *t = rn_calloc(1, sizeof *t);
    if (!t) return RN_ERR_NOMEM;
    t->base.commit = ktxn_commit;
    t->base.close = ktxn_close;
    t->timeout_ms = 60000;
    char id[512], label[300], runtime_label[600];
    rn_buf_t tag; /* a static member id may hold ${VAR}s */
    rn_buf_init(&tag);
    char why[256];
    if (rn_env_expand(ctx->txn_tag ? ctx->txn_tag : "0", &tag, why, sizeof why) != RN_OK || tag.oom) {
        bool oom = tag.oom;
        snprintf(errbuf, errbuf_size, "table '%s': transactional.id: %s", ctx->table, oom ? "out of memory" : why);
        rn_buf_free(&tag);
        rn_free(t);
        return oom ? RN_ERR_NOMEM : RN_ERR_CONFIG;
    }
    snprintf(id, sizeof id, "%s-%s-%s", c->txn_prefix, ctx->pipeline, tag.data ? tag.data : "");
    rn_buf_free(&tag);
    snprintf(label, sizeof label, "table '%s'", ctx->table);
    snprintf(runtime_label, sizeof runtime_label, "transactional producer '%s'", id);
    /* linger.ms 100 (librdkafka: 5): librdkafka 2.0's idempotent producer
     * busy-polls while a request is in flight and the next batch is due
     * (docs/kafka.md, "Sinks"), and a batch lingering longer is due less
     * often; nothing waits for it, as read_committed consumers see the
     * records at the transaction's commit, which flushes at once
     * (docs/kafka.md has the figures: Nexmark q0 exactly-once). */
    const char *const defaults[] = {"transactional.id", id, "transaction.timeout.ms", "60000", "linger.ms", "100",
                                    NULL};
    rn_kafka_spec_t spec = {.role = RN_KAFKA_PRODUCER,
                            .label = label,
                            .runtime_label = runtime_label,
                            .options = ctx->options,
                            .noptions = ctx->noptions,
                            .defaults = defaults,
                            .owner = t};
    rn_err_t err = rn_kafka_open(&spec, &t->k, errbuf, errbuf_size);
    if (err != RN_OK) {
        rn_free(t);
        return err;
    }
    rd_kafka_error_t *e = rd_kafka_init_transactions(t->k->rk, t->timeout_ms);
    if (e) err = ktxn_fail(t, e, "initializing transactions", errbuf, errbuf_size);
    else err = ktxn_begin(t, errbuf, errbuf_size);
    if (err != RN_OK) {
        rn_kafka_close(t->k);
        rn_free(t);
        return err;
    }
    rn_log_info("pipeline %s: exactly-once, in transactions of transactional.id '%s'", ctx->pipeline, id);
    *out = &t->base;
    return RN_OK;
}

static bool kafka_exactly_once(const void *conf)
{
    const kafka_conf_t *c = conf;
    return !strcmp(c->delivery, "exactly-once");
}

/* ---- sink --------------------------------------------------------------- */

typedef struct kafka_sink {
    rn_sink_io_t base;     /* the interface (first: the sink is cast to it) */
    rn_kafka_t *k;         /* the producer (the pipeline's transactional one when borrowed) */
    bool borrowed;         /* k belongs to the pipeline's transaction (kafka_txn_t) */
    rd_kafka_topic_t *rkt; /* 'topic' */
    bool fixed;            /* 'sink.partitioner' = 'fixed': everything to partition 0 */
    bool round_robin;      /* 'sink.partitioner' = 'round-robin' */
    int32_t npartitions;   /* partitions of the topic (round-robin) */
    uint32_t turn;         /* round-robin: records written */
    /* Records of the current input batch not yet handed to librdkafka:
     * their bytes in staged, their places in msgs (offsets into staged
     * until ks_send_staged makes them pointers; SIZE_MAX: no key, or a
     * tombstone). At most KS_STAGE_RECORDS or KS_STAGE_BYTES. */
    rn_buf_t staged;
    rd_kafka_message_t *msgs;
    int nmsgs;
} kafka_sink_t;

#define KS_STAGE_RECORDS 1024
#define KS_STAGE_BYTES (1u << 20)
#define KS_NONE SIZE_MAX

/* Hands the staged records to librdkafka in one batch. */
static rn_err_t ks_send_staged(kafka_sink_t *s, char *errbuf, size_t errbuf_size)
{
    if (!s->nmsgs) return RN_OK;
    if (s->staged.oom) return RN_ERR_NOMEM;
    for (int i = 0; i < s->nmsgs; i++) {
        rd_kafka_message_t *m = &s->msgs[i];
        size_t koff = (size_t)(uintptr_t)m->key, voff = (size_t)(uintptr_t)m->payload;
        m->key = koff == KS_NONE ? NULL : s->staged.data + koff;
        m->payload = voff == KS_NONE ? NULL : s->staged.data + voff;
    }
    rn_err_t err = rn_kafka_produce_batch(s->k, s->rkt, s->msgs, s->nmsgs, errbuf, errbuf_size);
    s->nmsgs = 0;
    rn_buf_clear(&s->staged);
    return err;
}

static rn_err_t ks_write(rn_sink_io_t *io, const char *key, size_t klen, const char *value, size_t vlen,
                         rn_rowkind_t kind, char *errbuf, size_t errbuf_size)
{
    kafka_sink_t *s = (kafka_sink_t *)io;
    int32_t partition = s->fixed         ? 0
                        : s->round_robin ? (int32_t)(s->turn++ % (uint32_t)s->npartitions)
                                         : RD_KAFKA_PARTITION_UA;
    if (!s->msgs && !(s->msgs = rn_malloc(sizeof *s->msgs * KS_STAGE_RECORDS))) {
        snprintf(errbuf, errbuf_size, "sink: out of memory");
        return RN_ERR_NOMEM;
    }
    rd_kafka_message_t *m = &s->msgs[s->nmsgs++];
    memset(m, 0, sizeof *m);
    m->partition = partition;
    m->key = (void *)(uintptr_t)(key ? s->staged.len : KS_NONE);
    m->key_len = key ? klen : 0;
    if (key) rn_buf_append(&s->staged, key, klen);
    m->payload = (void *)(uintptr_t)(value ? s->staged.len : KS_NONE);
    m->len = value ? vlen : 0;
    if (value) rn_buf_append(&s->staged, value, vlen);
    if (s->nmsgs == KS_STAGE_RECORDS || s->staged.len >= KS_STAGE_BYTES)
        return ks_send_staged(s, errbuf, errbuf_size);
    return RN_OK;
}

static rn_err_t ks_write_end(rn_sink_io_t *io, char *errbuf, size_t errbuf_size)
{
    return ks_send_staged((kafka_sink_t *)io, errbuf, errbuf_size);
}

static rn_err_t ks_flush(rn_sink_io_t *io, char *errbuf, size_t errbuf_size)
{
    kafka_sink_t *s = (kafka_sink_t *)io;
    rn_err_t err = ks_send_staged(s, errbuf, errbuf_size);
    return err != RN_OK ? err : rn_kafka_flush(s->k, errbuf, errbuf_size);
}

static void ks_close(rn_sink_io_t *io)
{
    kafka_sink_t *s = (kafka_sink_t *)io;
    rn_buf_free(&s->staged);
    rn_free(s->msgs);
    if (s->rkt) rd_kafka_topic_destroy(s->rkt);
    if (!s->borrowed) rn_kafka_close(s->k);
    rn_free(s);
}

static rn_err_t kafka_open_sink(const void *conf, const rn_open_ctx_t *ctx, rn_sink_io_t **out, char *errbuf,
                                size_t errbuf_size)
{
    const kafka_conf_t *c = conf;
    if (!c->topic || strchr(c->topic, ';')) {
        snprintf(errbuf, errbuf_size, "table '%s': a Kafka sink writes to one 'topic'%s", ctx->table,
                 c->topic ? ", not a list" : " (not 'topic-pattern')");
        return RN_ERR_CONFIG;
    }
    char label[300], runtime_label[300];
    snprintf(label, sizeof label, "table '%s'", ctx->table);
    snprintf(runtime_label, sizeof runtime_label, "sink '%s'", ctx->table);
    kafka_sink_t *s = rn_calloc(1, sizeof *s);
    if (!s) {
        snprintf(errbuf, errbuf_size, "%s: out of memory", label);
        return RN_ERR_NOMEM;
    }
    s->base.write = ks_write;
    s->base.write_end = ks_write_end;
    s->base.flush = ks_flush;
    s->base.close = ks_close;
    s->fixed = !strcmp(c->sink_partitioner, "fixed");
    s->round_robin = !strcmp(c->sink_partitioner, "round-robin");
    rn_kafka_spec_t spec = {.role = RN_KAFKA_PRODUCER,
                            .label = label,
                            .runtime_label = runtime_label,
                            .options = ctx->options,
                            .noptions = ctx->noptions,
                            .owner = s,
                            .at_least_once = true};
    const char *topics[] = {c->topic};
    rn_err_t err = RN_OK;
    if (ctx->txn) { /* exactly-once: the pipeline's transactional producer */
        s->k = kafka_txn_producer(ctx->txn);
        s->borrowed = true;
    } else {
        err = rn_kafka_open(&spec, &s->k, errbuf, errbuf_size);
    }
    if (err == RN_OK)
        err = rn_kafka_connect(s->k, topics, 1, RN_KAFKA_NO_CREATE, &s->npartitions, errbuf, errbuf_size);
    if (err == RN_OK && !(s->rkt = rd_kafka_topic_new(s->k->rk, c->topic, NULL))) {
        snprintf(errbuf, errbuf_size, "%s: topic '%s': %s", label, c->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        err = RN_ERR_IO;
    }
    if (err != RN_OK) {
        ks_close(&s->base);
        return err;
    }
    *out = &s->base;
    return RN_OK;
}

/* ---- exchange ----------------------------------------------------------- */

typedef struct kafka_exchange {
    rn_exchange_io_t base; /* the interface (first: the exchange is cast to it) */
    rn_kafka_t *k;         /* the producer (the pipeline's transactional one when borrowed) */
    bool borrowed;         /* k belongs to the pipeline's transaction */
    rd_kafka_topic_t *rkt; /* the repartition topic */
    char *where;           /* "repartition topic x" */
    char *topic;           /* "x" */
} kafka_exchange_t;

/* clang-format off */
/* Producer settings of a repartition topic, before the table's
 * 'properties.*': batches that fill up in a few milliseconds, not
 * compressed (as Kafka Streams' repartition topics): lz4 halved the bytes
 * but cost 15-20% of the CPU of a query that repartitions every row
 * (Nexmark q7 over Kafka, bench/peers/README.md); where the network is
 * the bottleneck, 'properties.compression.type' = 'lz4' on the source
 * table turns it back on. */
static const char *const kx_producer[] = {
    "linger.ms", "5",
    "batch.num.messages", "100000",
    "queue.buffering.max.messages", "1000000",
    "compression.type", "none",
    NULL,
};

/* Topic configs of a repartition topic, as Kafka Streams creates them:
 * nothing is compacted or expires (the group's purge deletes what it has
 * committed), and small segments so that deletion frees space soon. */
static const char *const kx_topic_configs[] = {
    "cleanup.policy", "delete",
    "retention.ms", "-1",
    "segment.bytes", "52428800",
    "segment.ms", "600000",
    NULL,
};
/* clang-format on */

static rn_err_t kx_send(rn_exchange_io_t *io, int32_t partition, const void *key, size_t klen, const void *value,
                        size_t vlen, char *errbuf, size_t errbuf_size)
{
    kafka_exchange_t *x = (kafka_exchange_t *)io;
    if (partition < 0 || partition >= io->nparts) {
        snprintf(errbuf, errbuf_size, "%s: no partition %d (the topic has %d)", x->where, (int)partition,
                 (int)io->nparts);
        return RN_ERR_FATAL;
    }
    return rn_kafka_produce(x->k, x->rkt, partition, key, key ? klen : 0, value, value ? vlen : 0, NULL, errbuf,
                            errbuf_size);
}

static rn_err_t kx_flush(rn_exchange_io_t *io, char *errbuf, size_t errbuf_size)
{
    kafka_exchange_t *x = (kafka_exchange_t *)io;
    return rn_kafka_flush(x->k, errbuf, errbuf_size);
}

static void kx_close(rn_exchange_io_t *io)
{
    kafka_exchange_t *x = (kafka_exchange_t *)io;
    if (x->rkt) rd_kafka_topic_destroy(x->rkt);
    if (!x->borrowed) rn_kafka_close(x->k);
    rn_free(x->where);
    rn_free(x->topic);
    rn_free(x);
}

/* True for the table's options that must not reach the clients of a
 * repartition topic: its consumer group and where a new group starts are
 * the topic's own. */
static bool kx_skip_option(const char *key)
{
    return !strcmp(key, "properties.group.id") || !strcmp(key, "properties.auto.offset.reset");
}

/* rn_connector_t.open_exchange. A producer (idempotent, acks=all, explicit
 * partitions) writes to the repartition topic `name`, created when
 * missing with the partitions of the table's one topic; a reader of the
 * table's kind (kr_open) reads it back in consumer group `name`, from the
 * earliest offset where the group has committed nothing, and purges what
 * the group committed. Both use the table's 'properties.*' (brokers,
 * security) except its group settings. */
/* The repartition topic (and group) of an Exchange fed by table ctx->table:
 * "<the table's group id>-<suffix>", the group id standing for the
 * application as Kafka Streams' application.id does. */
static rn_err_t kx_name(const rn_open_ctx_t *ctx, const char *suffix, char *name, size_t size, char *errbuf,
                        size_t errbuf_size)
{
    const char *group = NULL;
    for (int i = 0; i < ctx->noptions; i++)
        if (!strcmp(ctx->options[i].key, "properties.group.id")) group = ctx->options[i].value;
    rn_buf_t g;
    rn_buf_init(&g);
    char why[256];
    rn_err_t err = RN_OK;
    if (group) err = rn_env_expand(group, &g, why, sizeof why);
    else kafka_default_group(ctx, &g);
    if (err == RN_OK && g.oom) err = RN_ERR_NOMEM;
    if (err == RN_ERR_CONFIG) snprintf(errbuf, errbuf_size, "table '%s': option 'properties.group.id': %s", ctx->table, why);
    if (err == RN_OK) snprintf(name, size, "%s-%s", g.data ? g.data : "", suffix);
    rn_buf_free(&g);
    return err;
}

static rn_err_t kafka_open_exchange(const void *conf, const rn_open_ctx_t *ctx, const char *suffix,
                                    rn_exchange_io_t **io, rn_reader_t **reader, char *errbuf,
                                    size_t errbuf_size)
{
    const kafka_conf_t *c = conf;
    *io = NULL;
    *reader = NULL;
    char name[512];
    rn_err_t nerr = kx_name(ctx, suffix, name, sizeof name, errbuf, errbuf_size);
    if (nerr != RN_OK) return nerr;
    char **topics = NULL;
    int ntopics = c->topic ? kafka_split_topics(c->topic, &topics) : 0;
    if (ntopics < 0) {
        snprintf(errbuf, errbuf_size, "table '%s': out of memory", ctx->table);
        return RN_ERR_NOMEM;
    }
    if (ntopics != 1) {
        kafka_free_topics(topics, ntopics);
        snprintf(errbuf, errbuf_size, "table '%s' reads several topics%s: a GROUP BY over it cannot be "
                 "repartitioned yet", ctx->table, c->topic ? "" : " ('topic-pattern')");
        return RN_ERR_UNSUPPORTED;
    }
    const char *why = rn_text_topic_invalid(name, strlen(name));
    if (why) {
        kafka_free_topics(topics, ntopics);
        snprintf(errbuf, errbuf_size, "table '%s': '%.300s' is not a valid name for a repartition topic: %s",
                 ctx->table, name, why);
        return RN_ERR_CONFIG;
    }
    rn_err_t err = RN_ERR_NOMEM;
    char label[300];
    snprintf(label, sizeof label, "table '%s'", ctx->table);
    rn_option_t *opts = rn_calloc((size_t)(ctx->noptions ? ctx->noptions : 1), sizeof *opts);
    kafka_exchange_t *x = rn_calloc(1, sizeof *x);
    rn_buf_t b;
    rn_buf_init(&b);
    rn_buf_appendf(&b, "repartition topic %s", name);
    if (!opts || !x || b.oom) goto fail;
    int nopts = 0;
    for (int i = 0; i < ctx->noptions; i++)
        if (!kx_skip_option(ctx->options[i].key)) opts[nopts++] = ctx->options[i];
    x->where = b.data;
    if (!(x->topic = rn_strdup(name))) goto fail;
    x->base.topic = x->topic;
    rn_buf_init(&b);
    x->base.where = x->where;
    x->base.send = kx_send;
    x->base.flush = kx_flush;
    x->base.close = kx_close;

    rn_kafka_spec_t spec = {.role = RN_KAFKA_PRODUCER,
                            .label = label,
                            .runtime_label = x->where,
                            .options = opts,
                            .noptions = nopts,
                            .defaults = kx_producer,
                            .owner = x};
    const char *const source[] = {topics[0]};
    int32_t ntasks = 0, nparts = 0;
    if (ctx->txn && !ctx->probe_partitions) { /* exactly-once: the pipeline's transactional producer */
        x->k = kafka_txn_producer(ctx->txn);
        x->borrowed = true;
    }
    if ((!x->borrowed && (err = rn_kafka_open(&spec, &x->k, errbuf, errbuf_size)) != RN_OK) ||
        (err = rn_kafka_connect(x->k, source, 1, RN_KAFKA_NO_CREATE, &ntasks, errbuf, errbuf_size)) != RN_OK)
        goto fail;
    if (ctx->probe_partitions) {
        *ctx->probe_partitions = ntasks;
        err = RN_OK;
        goto fail;
    }
    if (ntasks == 1 && !ctx->join_input) { /* one partition: one process reads it all, rows need not move */
        kx_close(&x->base);
        x = NULL;
        rn_buf_free(&b);
        rn_free(opts);
        kafka_free_topics(topics, ntopics);
        return RN_OK;
    }
    int32_t want = ntasks > ctx->min_partitions ? ntasks : ctx->min_partitions;
    if ((err = rn_kafka_ensure_topic(x->k, name, want, kx_topic_configs, &nparts, errbuf, errbuf_size)) != RN_OK)
        goto fail;
    if (nparts != want && ctx->join_input) {
        snprintf(errbuf, errbuf_size,
                 "%s: repartition topic '%s' has %d partitions but the join it feeds needs %d (the partition "
                 "count of its larger input): delete the repartition topic while no process of the pipeline "
                 "runs (kafka-topics.sh --bootstrap-server %s --delete --topic %s) and start again",
                 label, name, (int)nparts, (int)want, x->k->brokers, name);
        err = RN_ERR_CONFIG;
        goto fail;
    }
    if (nparts != want) {
        snprintf(errbuf, errbuf_size,
                 "%s: repartition topic '%s' has %d partitions but topic '%s' has %d, and they must be equal "
                 "(was the topic's partition count changed?): delete the repartition topic while no process "
                 "of the pipeline runs (kafka-topics.sh --bootstrap-server %s --delete --topic %s) and start "
                 "again; it is created anew with %d partitions",
                 label, name, (int)nparts, topics[0], (int)ntasks, x->k->brokers, name, (int)want);
        err = RN_ERR_CONFIG;
        goto fail;
    }
    if (!(x->rkt = rd_kafka_topic_new(x->k->rk, name, NULL))) {
        snprintf(errbuf, errbuf_size, "%s: topic '%s': %s", label, name, rd_kafka_err2str(rd_kafka_last_error()));
        err = RN_ERR_IO;
        goto fail;
    }
    x->base.ntasks = ntasks;
    x->base.nparts = nparts;

    if (ctx->no_reader) { /* the other input's reader reads this topic too */
        rn_free(opts);
        kafka_free_topics(topics, ntopics);
        *io = &x->base;
        return RN_OK;
    }
    char both[1100]; /* "<the other input's topic>;<this one>" */
    if (ctx->also_read) snprintf(both, sizeof both, "%s;%s", ctx->also_read, name);
    kafka_conf_t rc = *c;
    rc.topic = ctx->also_read ? both : name;
    rc.topic_pattern = NULL;
    rc.startup_mode = "group-offsets"; /* auto.offset.reset = earliest without offsets */
    rc.bounded_mode = "unbounded";
    rn_open_ctx_t rctx = *ctx;
    rctx.options = opts;
    rctx.noptions = nopts;
    rctx.want_headers = false;
    if ((err = kr_open(&rc, &rctx, ctx->join_group ? ctx->join_group : name, reader, errbuf, errbuf_size)) != RN_OK)
        goto fail;
    rn_free(opts);
    kafka_free_topics(topics, ntopics);
    *io = &x->base;
    return RN_OK;

fail:
    if (err == RN_ERR_NOMEM) snprintf(errbuf, errbuf_size, "%s: out of memory", label);
    rn_buf_free(&b);
    if (x) kx_close(&x->base);
    rn_free(opts);
    kafka_free_topics(topics, ntopics);
    return err;
}

/* ---- the connectors ----------------------------------------------------- */

static void kafka_describe(const void *conf, rn_buf_t *out)
{
    const kafka_conf_t *c = conf;
    if (c->topic)
        rn_buf_appendf(out, "topic=%s", c->topic);
    else if (c->topic_pattern)
        rn_buf_appendf(out, "topic-pattern=%s", c->topic_pattern);
    rn_buf_appendf(out, ", format=%s", c->value_format ? c->value_format : c->format);
}

static rn_err_t kafka_validate(const void *conf, char *errbuf, size_t errbuf_size)
{
    const kafka_conf_t *c = conf;
    if (!c->topic && !c->topic_pattern) {
        snprintf(errbuf, errbuf_size, "a Kafka table needs option 'topic' (or 'topic-pattern')");
        return RN_ERR_CONFIG;
    }
    if (c->topic && c->topic_pattern) {
        snprintf(errbuf, errbuf_size, "options 'topic' and 'topic-pattern' exclude each other");
        return RN_ERR_CONFIG;
    }
    /* Topic names are checked as Kafka checks them: they also name files
     * in `runnel test`, so nothing like '../x' may get through. */
    if (c->topic) {
        for (const char *t = c->topic;;) {
            const char *end = strchr(t, ';');
            size_t n = end ? (size_t)(end - t) : strlen(t);
            const char *why = rn_text_topic_invalid(t, n);
            if (why) {
                snprintf(errbuf, errbuf_size, "option 'topic': '%.*s' is not a valid topic name: %s",
                         (int)(n > 300 ? 300 : n), t, why);
                return RN_ERR_CONFIG;
            }
            if (!end) break;
            t = end + 1;
        }
    }
    const char *why = rn_text_topic_invalid(c->dlq_topic, strlen(c->dlq_topic));
    if (why) {
        snprintf(errbuf, errbuf_size, "option 'dlq.topic': '%.300s' is not a valid topic name: %s",
                 c->dlq_topic, why);
        return RN_ERR_CONFIG;
    }
    if (!strcmp(c->startup_mode, "timestamp") && c->startup_ts <= 0) {
        snprintf(errbuf, errbuf_size,
                 "'scan.startup.mode' = 'timestamp' needs 'scan.startup.timestamp-millis' (epoch ms)");
        return RN_ERR_CONFIG;
    }
    return RN_OK;
}

static const char *kafka_test_name(const void *conf)
{
    const kafka_conf_t *c = conf;
    return c->topic;
}

static const char *kafka_key_fields(const void *conf)
{
    const kafka_conf_t *c = conf;
    return c->key_fields;
}

static bool kafka_value_excludes_key(const void *conf)
{
    const kafka_conf_t *c = conf;
    return !strcmp(c->fields_include, "EXCEPT_KEY");
}

static void kafka_json_timestamps(const void *conf, rn_json_ts_format *key, rn_json_ts_format *value)
{
    const kafka_conf_t *c = conf;
    /* the option values were checked against the spec's choices */
    if (c->key_json_ts) rn_json_ts_format_parse(c->key_json_ts, key);
    if (c->value_json_ts || c->json_ts) rn_json_ts_format_parse(c->value_json_ts ? c->value_json_ts : c->json_ts, value);
}

const rn_connector_t rn_connector_kafka = {
    .name = "kafka",
    .shared = true,
    .roles = RN_ROLE_SOURCE | RN_ROLE_SINK,
    .sink_mode = RN_SINK_APPEND,
    .forbids_pk = true,
    .passthrough = "properties.",
    .options = kafka_options,
    .conf_size = sizeof(kafka_conf_t),
    .open_reader = kafka_open_reader,
    .open_sink = kafka_open_sink,
    .describe = kafka_describe,
    .validate = kafka_validate,
    .test_name = kafka_test_name,
    .metadata = kafka_metadata,
    .key_fields = kafka_key_fields,
    .value_excludes_key = kafka_value_excludes_key,
    .json_timestamps = kafka_json_timestamps,
    .open_txn = kafka_open_txn,
    .exactly_once = kafka_exactly_once,
    .open_exchange = kafka_open_exchange,
};

const rn_connector_t rn_connector_upsert_kafka = {
    .name = "upsert-kafka",
    .shared = true,
    .roles = RN_ROLE_SOURCE | RN_ROLE_SINK,
    .sink_mode = RN_SINK_UPSERT,
    .needs_pk = true,
    .passthrough = "properties.",
    .options = kafka_options,
    .conf_size = sizeof(kafka_conf_t),
    .open_reader = kafka_open_reader,
    .open_sink = kafka_open_sink,
    .describe = kafka_describe,
    .validate = kafka_validate,
    .test_name = kafka_test_name,
    .metadata = kafka_metadata,
    .key_fields = kafka_key_fields,
    .value_excludes_key = kafka_value_excludes_key,
    .json_timestamps = kafka_json_timestamps,
    .open_txn = kafka_open_txn,
    .exactly_once = kafka_exactly_once,
    .open_exchange = kafka_open_exchange,
};
