/*
 * kafka_client.h - Kafka plumbing shared by the 'kafka' and 'upsert-kafka'
 * connectors (kafka.c) and `runnel gen --brokers` (gen/gen.c), on top of
 * librdkafka.
 *
 * An rn_kafka_t wraps one librdkafka handle with what every user of it
 * needs: the configuration built from a table's 'properties.*' options
 * (passed to librdkafka unchanged, after ${ENV_VAR} substitution by
 * core/env.h), the
 * bootstrap list (option, caller, RUNNEL_BROKERS, or "embedded"), quiet
 * logging (librdkafka's logs are kept as "the last error" of the handle and
 * shown raw only when RUNNEL_KAFKA_DEBUG is set), a bounded connectivity
 * and topic check at open time that fails with one readable line, and for
 * producers, produce-with-backpressure and delivery-failure tracking: a
 * record is never dropped silently, the first failed delivery is reported
 * by the next produce, check or flush.
 *
 * Sensitive values (keys containing "password", "secret", "sasl.jaas",
 * "key.pem" or "ssl.key") never appear in messages.
 *
 * Environment: RUNNEL_BROKERS (bootstrap list when none is configured),
 * RUNNEL_KAFKA_CONNECT_TIMEOUT_MS (open-time wait, default 10000),
 * RUNNEL_KAFKA_DEBUG (show librdkafka's logs; a value other than "1" is
 * also passed as librdkafka's 'debug' contexts, e.g. "broker,fetch").
 *
 * The embedded broker is librdkafka's mock cluster started in this
 * process, for demos and quick tries (and the unit tests). Its limits: it
 * lives in memory and is gone when the process exits; each partition keeps
 * only its most recent ~5 MB (older batches are dropped); topics a runnel
 * table or `runnel gen` needs are created on demand with
 * RN_KAFKA_EMBEDDED_PARTITIONS partitions (a client's own auto-creation,
 * e.g. a foreign producer, gets librdkafka's default of 4); it has no
 * authentication, no transactions spanning restarts, and no lookup of
 * offsets by timestamp ('scan.startup.mode' = 'timestamp' starts at the end).
 */
#ifndef RN_KAFKA_CLIENT_H
#define RN_KAFKA_CLIENT_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connectors/connector.h"
#include "runnel.h"

#define RN_KAFKA_EMBEDDED_BROKERS 3    /* brokers of an embedded cluster started on demand */
#define RN_KAFKA_EMBEDDED_PARTITIONS 8 /* partitions of topics created on it */
#define RN_KAFKA_NO_CREATE 0           /* rn_kafka_connect: a missing topic is an error */
#define RN_KAFKA_BROKER_DEFAULT (-1)   /* rn_kafka_connect: create with the broker's default */

typedef enum rn_kafka_role { RN_KAFKA_PRODUCER, RN_KAFKA_CONSUMER } rn_kafka_role;

/* What to open. Only 'properties.*' keys of options are read. */
typedef struct rn_kafka_spec {
    rn_kafka_role role;                   /* producer or consumer */
    const char *label;                    /* starts open-time messages: "table 'clicks'" */
    const char *runtime_label;            /* starts later messages ("sink 'out'"); NULL = label */
    const rn_option_t *options;           /* a table's WITH clause, or NULL */
    int noptions;                         /* entries of options */
    const char *brokers;                  /* bootstrap list used when no option gives one, or NULL */
    const char *const *defaults;          /* "key", "value", ..., NULL: set before the user's
                                           * properties, which override them; may be NULL */
    void (*setup)(rd_kafka_conf_t *conf); /* adds role-specific callbacks; may be NULL */
    void *owner;                          /* the reader or sink, for those callbacks */
    int worker;                           /* > 0: the worker of the process (runtime/workers.c)
                                           * this client belongs to; a static group.instance.id
                                           * gets "-w<worker>" so workers do not fence each other */
    const char *instance_suffix;          /* appended to a static group.instance.id (after
                                           * "-w<worker>"), or NULL */
    bool at_least_once;                   /* a producer that may write a record twice when a
                                           * request is retried (an at-least-once sink): one
                                           * request in flight instead of idempotence
                                           * (kafka_client.c says why); false: idempotent */
} rn_kafka_spec_t;

/* One librdkafka handle and what is known about it. The configuration's
 * opaque is the rn_kafka_t, so callbacks reach the owner through it. */
typedef struct rn_kafka {
    rd_kafka_t *rk;           /* the handle (owned) */
    rn_kafka_role role;       /* producer or consumer */
    char *label;              /* see rn_kafka_spec_t */
    char *runtime_label;      /* see rn_kafka_spec_t */
    char *brokers;            /* bootstrap list, for messages */
    char *auth;               /* "mechanism PLAIN, user 'bob'" when SASL is used, or NULL */
    bool embedded;            /* brokers are this process's embedded cluster */
    bool connected;           /* rn_kafka_connect succeeded: errors now warn */
    bool group_assigned;      /* consumers: the group has handed this member an assignment
                               * (maybe empty) at least once; the owner's rebalance
                               * callback sets it (see rn_kafka_close) */
    int connect_timeout_ms;   /* open-time wait */
    void *owner;              /* rn_kafka_spec_t.owner */
    int64_t warned_ms;        /* when the last runtime warning was printed */
    unsigned unpolled;        /* records produced since callbacks were last served */
    char delivery_error[512]; /* first failed delivery ("delivery to topic ..."), or "" */
    pthread_mutex_t lock;     /* guards the fields below (librdkafka threads log) */
    char last_error[512];     /* last meaningful librdkafka error, cleaned up */
    bool auth_failed;         /* an authentication error was reported */
    rd_kafka_conf_t *probe_conf; /* producers: a copy of the configuration for the
                                  * per-broker checks after creating a topic */
} rn_kafka_t;

/* Builds the configuration from spec and creates the librdkafka handle.
 * Does not contact the brokers (see rn_kafka_connect). On error returns
 * RN_ERR_CONFIG (bad property, unset ${VAR}, no brokers) or another code
 * with a one-line message in errbuf. The caller owns *out and releases it
 * with rn_kafka_close. */
rn_err_t rn_kafka_open(const rn_kafka_spec_t *spec, rn_kafka_t **out /* out */, char *errbuf,
                       size_t errbuf_size);

/* Waits, at most the connect timeout, until the cluster answers, then
 * checks that each of the ntopics topics exists and stores its partition
 * count in partitions[i] (partitions may be NULL). A missing topic is an
 * error ("topic 'x' does not exist on ...") unless create is not
 * RN_KAFKA_NO_CREATE: then it is created with create partitions
 * (RN_KAFKA_BROKER_DEFAULT: the broker's default). On the embedded cluster
 * missing topics are always created. Returns RN_ERR_IO with one line
 * ("cannot reach Kafka at ...", an authentication failure naming the
 * mechanism and user) on failure. */
rn_err_t rn_kafka_connect(rn_kafka_t *k, const char *const *topics, int ntopics, int create,
                          int32_t *partitions /* out */, char *errbuf, size_t errbuf_size);

/* Like rn_kafka_connect for one topic, which, when missing, is created
 * with partitions partitions (> 0), the broker's default replication
 * factor and the topic configs ("key", "value", ..., NULL; may be NULL;
 * not applied on the embedded cluster). Another client creating it at the
 * same time is fine. Returns once every partition has a leader (and every
 * broker lists a topic created here), with *actual set to the partition
 * count the topic has, which differs from partitions when it existed
 * before with another count: the caller decides whether that is an error.
 * Errors as rn_kafka_connect. */
rn_err_t rn_kafka_ensure_topic(rn_kafka_t *k, const char *topic, int partitions, const char *const *configs,
                               int32_t *actual /* out */, char *errbuf, size_t errbuf_size);

/* Producers: enqueues one record (copied) for topic rkt; partition may be
 * RD_KAFKA_PARTITION_UA (the configured partitioner decides). key NULL = no
 * key, value NULL = tombstone. headers (may be NULL) are taken over, also
 * on failure. While librdkafka's queue is full it serves delivery reports and
 * retries: records are never dropped. Returns RN_ERR_IO if a delivery has
 * failed or the producer hit a fatal error. */
rn_err_t rn_kafka_produce(rn_kafka_t *k, rd_kafka_topic_t *rkt, int32_t partition, const void *key,
                          size_t klen, const void *value, size_t vlen, rd_kafka_headers_t *headers,
                          char *errbuf, size_t errbuf_size);

/* Producers: enqueues msgs[0..n) (payload, len, key, key_len and
 * partition set, partition RD_KAFKA_PARTITION_UA for the partitioner;
 * bytes copied) for topic rkt, in order, as one call of
 * rd_kafka_produce_batch: a batch takes the clock and the topic's lock
 * once instead of per record. Same guarantees as rn_kafka_produce (a full
 * queue is waited out, nothing dropped); msgs[i].err is overwritten. */
rn_err_t rn_kafka_produce_batch(rn_kafka_t *k, rd_kafka_topic_t *rkt, rd_kafka_message_t *msgs, int n,
                                char *errbuf, size_t errbuf_size);

/* Producers: waits until every record produced so far is acknowledged
 * (warning every 10 s while it waits), then reports the first failed
 * delivery, if any, as RN_ERR_IO. */
rn_err_t rn_kafka_flush(rn_kafka_t *k, char *errbuf, size_t errbuf_size);

/* Returns RN_ERR_IO with a message if a delivery failed or the handle hit
 * a fatal error; RN_OK otherwise. Serves pending callbacks first for
 * producers. */
rn_err_t rn_kafka_check(rn_kafka_t *k, char *errbuf, size_t errbuf_size);

/* Handles an error librdkafka reported (error callback, consumer error
 * event): remembers it and, once connected, prints a warning at most every
 * 10 s. */
void rn_kafka_note_error(rn_kafka_t *k, rd_kafka_resp_err_t err, const char *reason);

/* Releases k within a bounded time: a producer first waits up to the
 * connect timeout for unacknowledged records (and says how many were lost
 * if any remain); a consumer leaves its group, serving the rebalance
 * callbacks, for at most 10 s. Then the librdkafka handle is destroyed,
 * waiting at most 5 s: librdkafka 2.0 never finishes destroying a consumer
 * after one of its subscribed topics was deleted, and then the handle (and
 * k, which its threads may still call back with) is left behind with a
 * warning, to go with the process. A consumer that joined its group with
 * the cooperative-sticky assignor but has no assignment yet
 * (group_assigned unset) first waits, within the same 10 s, for the
 * assignment: librdkafka before 2.2.1 aborts the process when it destroys
 * such a consumer (its issue #4312); if none comes, the handle is left
 * behind too. Topic handles, queues, messages and events of k must be
 * released before. NULL is a no-op. */
void rn_kafka_close(rn_kafka_t *k);

/* A consumer on librdkafka before 2.2, which looks at a full prefetch
 * queue again only when a broker thread wakes (kafka.c kr_nudge): half
 * its queued.min.messages, and in *bytes half its
 * queued.max.messages.kbytes in bytes. 0 for other clients and later
 * librdkafka versions ('fetch.queue.backoff.ms'). */
int rn_kafka_prefetch_nudge(const rn_kafka_t *k, int64_t *bytes /* out */);

/* Starts an in-process Kafka-protocol cluster (librdkafka's mock cluster)
 * with nbrokers brokers on loopback and writes its bootstrap list to
 * bootstrap. Idempotent: a second call returns the running one's list.
 * Returns RN_ERR_IO with a message if the cluster cannot start. Limits:
 * see the top of this file. */
rn_err_t rn_kafka_embedded_start(int nbrokers, char *bootstrap, size_t size, char *errbuf,
                                 size_t errbuf_size);
/* Says that the process is stopping, with the embedded cluster: consumers
 * of it closed from now on (rn_kafka_close) do not leave their groups,
 * which would only start rebalances for the groups' other members to wait
 * out. No-op if it is not running; rn_kafka_embedded_stop() ends it. */
void rn_kafka_embedded_closing(void);

/* After a run failed: consumers closed from now on leave their groups the
 * way a crashed process does (their session expires; a static member's
 * restart takes its partitions back at once), committing nothing and
 * serving no rebalance. What the process holds is ahead of its last
 * checkpoint, and leaving a group mid-rebalance could hang in librdkafka. */
void rn_kafka_abandon_groups(void);
/* Stops it (no-op if not running). Clients using it should be closed
 * first. */
void rn_kafka_embedded_stop(void);
/* Creates topic on the running embedded cluster (partitions <= 0: the
 * default); an existing topic is fine. Its Admin API cannot create topics
 * for other processes, so `runnel run --brokers embedded` creates the
 * scenario topics up front for `runnel gen --brokers`. */
rn_err_t rn_kafka_embedded_topic(const char *topic, int partitions, char *errbuf, size_t errbuf_size);

#endif
